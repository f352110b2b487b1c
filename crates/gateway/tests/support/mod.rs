//! Helpers for the REST component tests: a scripted fake `Invoke` that counts calls, spec
//! builders, and one-shot requests through a router.
#![allow(dead_code, unreachable_pub)] // each test binary uses a different subset

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Body;
use bytes::Bytes;
use http::Request;
use ledge_gateway::rest::*;
use ledge_model::{Invoke, InvokeError, InvokeOutcome, InvokeRequest, InvokeResult, RequestId};
use serde_json::{json, Value as J};
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
            log_tail: None,
            report: None,
        })
    }
}

pub fn ok(v: J) -> InvokeOutcome {
    InvokeOutcome::Success {
        payload: Bytes::from(v.to_string()),
    }
}

/// A proxy response with `body` and a counter-free JSON content type.
pub fn reply(status: u16, body: &str) -> InvokeOutcome {
    ok(json!({"statusCode": status, "headers": {"Content-Type": "application/json"}, "body": body}))
}

pub fn function_error(message: &str) -> InvokeOutcome {
    InvokeOutcome::FunctionError {
        payload: Bytes::from(json!({"errorMessage": message, "errorType": "Error"}).to_string()),
        error_type: "Unhandled".into(),
    }
}

pub fn lambda(function: &str) -> RestIntegration {
    RestIntegration::Lambda {
        function: function.into(),
        timeout: Duration::from_secs(29),
    }
}

pub fn method(http_method: &str, path: &str, integration: RestIntegration) -> MethodSpec {
    MethodSpec {
        resource_path: path.into(),
        http_method: http_method.into(),
        auth: MethodAuth::None,
        api_key_required: false,
        request_parameters: BTreeMap::new(),
        integration,
        cache_key_parameters: Vec::new(),
        cache_namespace: None,
    }
}

/// An API with `methods` and one stage.
pub fn api(id: &str, stage: RestStageSpec, methods: Vec<MethodSpec>) -> RestApiSpec {
    let mut s = RestApiSpec::new(id);
    s.methods = methods;
    s.stages = vec![stage];
    s.derive_resources();
    s
}

/// A stage with a cache cluster and the given method settings.
pub fn cached_stage(name: &str, settings: Vec<MethodSetting>) -> RestStageSpec {
    RestStageSpec {
        cache_cluster_enabled: true,
        method_settings: settings,
        ..RestStageSpec::new(name)
    }
}

pub fn setting(path: &str, m: &str, f: impl FnOnce(&mut MethodSetting)) -> MethodSetting {
    let mut s = MethodSetting::new(path, m);
    f(&mut s);
    s
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

pub fn get(uri: &str) -> Request<Body> {
    Request::get(uri)
        .header("host", "127.0.0.1:3000")
        .body(Body::empty())
        .unwrap()
}

pub fn req(method: &str, uri: &str, headers: &[(&str, &str)], body: &str) -> Request<Body> {
    let mut b = Request::builder()
        .method(method)
        .uri(uri)
        .header("host", "127.0.0.1:3000");
    for (k, v) in headers {
        b = b.header(*k, *v);
    }
    b.body(Body::from(body.to_owned())).unwrap()
}
