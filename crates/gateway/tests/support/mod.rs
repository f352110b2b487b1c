//! Helpers for the REST component tests: a scripted fake `Invoke` that counts calls, spec
//! builders, and one-shot requests through a router.
#![allow(dead_code, unreachable_pub)] // each test binary uses a different subset

use std::collections::BTreeMap;
use std::time::Duration;

use axum::body::Body;
use bytes::Bytes;
use http::Request;
use ledge_gateway::rest::*;
use ledge_model::InvokeOutcome;
use serde_json::json;

mod fake;
pub use fake::*;

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
