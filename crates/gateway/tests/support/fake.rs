//! The protocol-neutral part of the gateway's component tests: a scripted fake `Invoke`
//! that records every call, and one-shot requests through a router.
#![allow(dead_code, unreachable_pub)] // each test binary uses a different subset

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Body;
use bytes::Bytes;
use http::Request;
use ledge_model::{Invoke, InvokeError, InvokeOutcome, InvokeRequest, InvokeResult, RequestId};
use serde_json::Value as J;
use tower::ServiceExt;

type Script = Box<dyn Fn(&J) -> InvokeOutcome + Send + Sync>;

/// A fake function host: per function, a script from event to outcome; every call recorded.
#[derive(Default)]
pub struct Fake {
    scripts: Mutex<BTreeMap<String, (Script, Duration)>>,
    calls: Mutex<Vec<(String, J)>>,
}

impl Fake {
    pub fn new() -> Arc<Self> {
        Arc::new(Self::default())
    }
    pub fn on(&self, name: &str, f: impl Fn(&J) -> InvokeOutcome + Send + Sync + 'static) {
        self.on_slow(name, Duration::ZERO, f);
    }
    pub fn on_slow(
        &self,
        name: &str,
        d: Duration,
        f: impl Fn(&J) -> InvokeOutcome + Send + Sync + 'static,
    ) {
        self.scripts
            .lock()
            .unwrap()
            .insert(name.into(), (Box::new(f), d));
    }
    pub fn calls(&self, name: &str) -> Vec<J> {
        self.calls
            .lock()
            .unwrap()
            .iter()
            .filter(|(n, _)| n == name)
            .map(|(_, e)| e.clone())
            .collect()
    }
    pub fn count(&self, name: &str) -> usize {
        self.calls(name).len()
    }
}

#[async_trait::async_trait]
impl Invoke for Fake {
    async fn invoke(&self, r: InvokeRequest) -> Result<InvokeResult, InvokeError> {
        let name = r.function.to_string();
        let event: J = serde_json::from_slice(&r.payload).expect("events are JSON");
        self.calls
            .lock()
            .unwrap()
            .push((name.clone(), event.clone()));
        let (outcome, delay) = {
            let scripts = self.scripts.lock().unwrap();
            let Some((f, d)) = scripts.get(&name) else {
                return Err(InvokeError::FunctionNotFound { arn: name });
            };
            (f(&event), *d)
        };
        tokio::time::sleep(delay).await;
        Ok(InvokeResult {
            request_id: RequestId::new_random(),
            outcome,
            executed_version: "$LATEST".into(),
            log: None,
            report: None,
        })
    }
}

pub fn ok(v: J) -> InvokeOutcome {
    InvokeOutcome::Success {
        payload: Bytes::from(v.to_string()),
    }
}

pub struct Resp {
    pub status: u16,
    pub headers: http::HeaderMap,
    pub body: Bytes,
}

impl Resp {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
    pub fn json(&self) -> J {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| panic!("{e}: {}", self.text()))
    }
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

pub async fn call(router: &axum::Router, req: Request<Body>) -> Resp {
    let r = router.clone().oneshot(req).await.expect("infallible");
    let status = r.status().as_u16();
    let headers = r.headers().clone();
    let body = axum::body::to_bytes(r.into_body(), usize::MAX)
        .await
        .expect("body");
    Resp {
        status,
        headers,
        body,
    }
}
