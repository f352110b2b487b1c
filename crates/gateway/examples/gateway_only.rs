//! A load target for the gateway alone: one HTTP API (`GET /hello`, payload 2.0, an access
//! log as `ledge up` keeps) whose "function" answers at once in-process, so wrk measures
//! the gateway's own cost per request (event build, response rules, headers, log line)
//! without the runtime hop or Python. Used by `bench/http_api.sh`.
//!
//! `cargo run --release -p ledge-gateway --example gateway_only -- PORT_FILE`

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::serve::ListenerExt;
use bytes::Bytes;
use ledge_gateway::http::*;
use ledge_model::{Invoke, InvokeError, InvokeOutcome, InvokeRequest, InvokeResult, RequestId};

struct Instant;

#[async_trait::async_trait]
impl Invoke for Instant {
    async fn invoke(&self, _r: InvokeRequest) -> Result<InvokeResult, InvokeError> {
        Ok(InvokeResult {
            request_id: RequestId::new_random(),
            outcome: InvokeOutcome::Success {
                payload: Bytes::from_static(br#"{"statusCode": 200, "body": "{\"ok\":true}"}"#),
            },
            executed_version: "$LATEST".into(),
            log: None,
            report: None,
        })
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let port_file = std::env::args()
        .nth(1)
        .ok_or("usage: gateway_only PORT_FILE")?;
    let spec = HttpApiSpec {
        logical_id: "Api".into(),
        api_id: "Api".into(),
        name: "Api".into(),
        stages: vec![StageSpec::new("$default")],
        routes: vec![RouteSpec {
            key: "GET /hello".into(),
            integration: IntegrationSpec::Lambda {
                function: "Hello".into(),
                payload_format: PayloadFormat::V2,
                timeout: Duration::from_secs(30),
            },
            auth: RouteAuth::None,
        }],
        cors: None,
        authorizers: BTreeMap::new(),
    };
    let log = std::env::temp_dir().join(format!("ledge-gateway-only-{}.log", std::process::id()));
    let options = GatewayOptions {
        access_log: Some(AccessLogSink::open(&log, false)?),
        ..GatewayOptions::default()
    };
    let api = HttpApi::new(spec, Arc::new(Instant), options)?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    std::fs::write(&port_file, listener.local_addr()?.port().to_string())?;
    let listener = listener.tap_io(|tcp| {
        let _ = tcp.set_nodelay(true);
    });
    let app = router(api).into_make_service_with_connect_info::<SocketAddr>();
    axum::serve(listener, app)
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await?;
    let _ = std::fs::remove_file(log);
    Ok(())
}
