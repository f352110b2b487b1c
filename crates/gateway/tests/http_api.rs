//! Component tests: the HTTP API router driven with `tower::ServiceExt::oneshot`, functions
//! replaced by a scripted fake `Invoke`, upstreams by real loopback servers. Event payloads
//! and every error body are compared with the golden files in `tests/golden/`
//! (`UPDATE_GOLDEN=1` rewrites them).

#![allow(clippy::unwrap_used)] // test code: a panic is the failure report

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use bytes::Bytes;
use http::{Request, StatusCode};
use ledge_gateway::http::*;
use ledge_model::{InvokeOutcome, ThrottleReason};
use serde_json::{json, Value as J};
#[path = "support/fake.rs"]
mod fake;
use fake::*;

fn lambda(function: &str, format: PayloadFormat) -> IntegrationSpec {
    IntegrationSpec::Lambda {
        function: function.into(),
        payload_format: format,
        timeout: Duration::from_secs(30),
    }
}

fn route(key: &str, integration: IntegrationSpec) -> RouteSpec {
    RouteSpec {
        key: key.into(),
        integration,
        auth: RouteAuth::None,
    }
}

fn api(stages: &[&str], routes: Vec<RouteSpec>) -> HttpApiSpec {
    HttpApiSpec {
        logical_id: "MyApi".into(),
        api_id: "MyApi".into(),
        name: "MyApi".into(),
        stages: stages.iter().map(|s| StageSpec::new(*s)).collect(),
        routes,
        cors: None,
        authorizers: BTreeMap::new(),
    }
}

fn serve(spec: HttpApiSpec, fake: &Arc<Fake>) -> (axum::Router, Arc<HttpApi>) {
    let api = HttpApi::new(spec, fake.clone(), GatewayOptions::default()).expect("compiles");
    (router(api.clone()), api)
}

fn get(uri: &str) -> Request<Body> {
    Request::get(uri)
        .header("host", "127.0.0.1:3000")
        .body(Body::empty())
        .expect("request")
}

fn golden_path(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/golden")
        .join(name)
}

/// Compares with (or, with UPDATE_GOLDEN=1, writes) a golden JSON file.
fn golden(name: &str, actual: &J) {
    let path = golden_path(name);
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::write(&path, serde_json::to_string_pretty(actual).unwrap() + "\n").unwrap();
        return;
    }
    let want: J = serde_json::from_str(
        &std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display())),
    )
    .expect("golden JSON");
    assert_eq!(
        actual,
        &want,
        "{name} differs; actual:\n{}",
        serde_json::to_string_pretty(actual).unwrap()
    );
}

/// Replaces the values that change per request with placeholders.
fn redact(mut e: J) -> J {
    for p in [
        "/requestContext/requestId",
        "/requestContext/extendedRequestId",
        "/requestContext/time",
        "/requestContext/requestTime",
        "/headers/x-amzn-trace-id",
        "/headers/X-Amzn-Trace-Id",
        "/multiValueHeaders/X-Amzn-Trace-Id/0",
    ] {
        if let Some(v) = e.pointer_mut(p) {
            *v = json!("<redacted>");
        }
    }
    for p in [
        "/requestContext/timeEpoch",
        "/requestContext/requestTimeEpoch",
    ] {
        if let Some(v) = e.pointer_mut(p) {
            *v = json!(0);
        }
    }
    e
}

fn sample_request(path: &str) -> Request<Body> {
    Request::post(path)
        .header("host", "127.0.0.1:3000")
        .header("user-agent", "curl/8.0")
        .header("content-type", "application/json")
        .header("cookie", "a=1; b=2")
        .header("x-multi", "one")
        .header("x-multi", "two")
        .body(Body::from(r#"{"hello":"world"}"#))
        .expect("request")
}

#[tokio::test]
async fn payload_2_0_event_matches_the_golden_file() {
    let fake = Arc::new(Fake::default());
    fake.on("fn", |_| ok(json!({"statusCode": 200, "body": "ok"})));
    let mut spec = api(
        &["dev"],
        vec![route("POST /items/{id}", lambda("fn", PayloadFormat::V2))],
    );
    spec.stages[0]
        .variables
        .insert("table".into(), "items-dev".into());
    let (r, _) = serve(spec, &fake);
    let resp = call(&r, sample_request("/dev/items/a%20b?x=1&x=2&y=a+b")).await;
    assert_eq!((resp.status, resp.text().as_str()), (200, "ok"));
    let e = fake.calls("fn").remove(0);
    assert_eq!(
        e["requestContext"]["requestId"].as_str(),
        resp.header("apigw-requestid")
    );
    golden("event-v2.json", &redact(e));
}

#[tokio::test]
async fn payload_1_0_event_matches_the_golden_file() {
    let fake = Arc::new(Fake::default());
    fake.on("fn", |_| ok(json!({"statusCode": 200, "body": "ok"})));
    let mut spec = api(
        &["dev"],
        vec![route("POST /items/{id}", lambda("fn", PayloadFormat::V1))],
    );
    spec.stages[0]
        .variables
        .insert("table".into(), "items-dev".into());
    let (r, _) = serve(spec, &fake);
    let resp = call(&r, sample_request("/dev/items/a%20b?x=1&x=2&y=a+b")).await;
    assert_eq!(resp.status, 200);
    golden("event-v1.json", &redact(fake.calls("fn").remove(0)));
}

#[tokio::test]
async fn default_stage_has_no_prefix_and_binary_bodies_are_base64() {
    let fake = Arc::new(Fake::default());
    fake.on("fn", |_| ok(json!({"statusCode": 200, "body": "aGk=", "isBase64Encoded": true,
        "cookies": ["s=1; Path=/", "t=2"], "headers": {"content-type": "application/octet-stream"}})));
    let (r, _) = serve(
        api(
            &["$default"],
            vec![route("ANY /{proxy+}", lambda("fn", PayloadFormat::V2))],
        ),
        &fake,
    );
    let req = Request::put("/a/b?q")
        .header("host", "127.0.0.1:3000")
        .header("content-type", "application/octet-stream")
        .body(Body::from(vec![0u8, 159, 146, 150]))
        .unwrap();
    let resp = call(&r, req).await;
    assert_eq!(resp.status, 200);
    assert_eq!(&resp.body[..], b"hi");
    let cookies: Vec<_> = resp.headers.get_all("set-cookie").iter().collect();
    assert_eq!(cookies, ["s=1; Path=/", "t=2"]);
    let e = fake.calls("fn").remove(0);
    assert_eq!(e["rawPath"], "/a/b");
    assert_eq!(e["rawQueryString"], "q");
    assert_eq!(e["queryStringParameters"], json!({"q": ""}));
    assert_eq!(e["routeKey"], "ANY /{proxy+}");
    assert_eq!(e["pathParameters"], json!({"proxy": "a/b"}));
    assert_eq!(e["requestContext"]["stage"], "$default");
    assert_eq!(e["isBase64Encoded"], true);
    assert_eq!(e["body"], "AJ+Slg==");
}

/// Every error body an HTTP API sends, with its status and content type.
#[tokio::test]
async fn error_bodies_match_the_golden_file() {
    let fake = Arc::new(Fake::default());
    fake.on("raises", |_| InvokeOutcome::FunctionError {
        payload: Bytes::from_static(br#"{"errorMessage":"boom","errorType":"Exception"}"#),
        error_type: "Unhandled".into(),
    });
    fake.on("malformed", |_| ok(json!({"statusCode": "abc"})));
    fake.on("v1-without-status", |_| ok(json!({"body": "x"})));
    fake.on("throttled", |_| InvokeOutcome::Throttled {
        reason: ThrottleReason::ConcurrentInvocationLimitExceeded,
    });
    fake.on_slow("slow", Duration::from_millis(500), |_| ok(json!("late")));
    fake.on("deny", |_| ok(json!({"isAuthorized": false})));
    fake.on("fn", |_| ok(json!("fine")));
    let mut spec = api(
        &["$default"],
        vec![
            route("GET /raises", lambda("raises", PayloadFormat::V2)),
            route("GET /malformed", lambda("malformed", PayloadFormat::V2)),
            route("GET /v1", lambda("v1-without-status", PayloadFormat::V1)),
            route("GET /throttled", lambda("throttled", PayloadFormat::V2)),
            route(
                "GET /missing",
                lambda("no-such-function", PayloadFormat::V2),
            ),
            route(
                "GET /slow",
                IntegrationSpec::Lambda {
                    function: "slow".into(),
                    payload_format: PayloadFormat::V2,
                    timeout: Duration::from_millis(50),
                },
            ),
            RouteSpec {
                key: "GET /jwt".into(),
                integration: lambda("fn", PayloadFormat::V2),
                auth: RouteAuth::Authorizer {
                    name: "jwt".into(),
                    scopes: vec![],
                },
            },
            RouteSpec {
                key: "GET /denied".into(),
                integration: lambda("fn", PayloadFormat::V2),
                auth: RouteAuth::Authorizer {
                    name: "deny".into(),
                    scopes: vec![],
                },
            },
        ],
    );
    spec.stages[0].route_settings.insert(
        "GET /raises".into(),
        RouteSettings {
            throttling_burst_limit: Some(1),
            throttling_rate_limit: Some(0.001),
        },
    );
    spec.authorizers.insert(
        "jwt".into(),
        AuthorizerSpec::Jwt {
            identity_source: vec!["$request.header.Authorization".into()],
            issuer: "https://idp.example".into(),
            audience: vec!["a".into()],
        },
    );
    spec.authorizers.insert(
        "deny".into(),
        AuthorizerSpec::Lambda {
            function: "deny".into(),
            payload_format: PayloadFormat::V2,
            simple_responses: true,
            result_ttl: Duration::ZERO,
            identity_source: vec![],
        },
    );
    let (r, _) = serve(spec, &fake);
    let mut cases = serde_json::Map::new();
    let big = Request::post("/raises")
        .header("host", "127.0.0.1:3000")
        .body(Body::from(vec![b'x'; 10 * 1024 * 1024 + 1]))
        .unwrap();
    let requests: Vec<(&str, Request<Body>)> = vec![
        ("not_found", get("/nope")),
        ("function_error", get("/raises")),
        ("throttled", get("/raises")),
        ("malformed_response", get("/malformed")),
        ("v1_response_without_status_code", get("/v1")),
        ("lambda_throttled", get("/throttled")),
        ("function_not_found", get("/missing")),
        ("integration_timeout", get("/slow")),
        ("jwt_missing_token", get("/jwt")),
        ("lambda_authorizer_denied", get("/denied")),
        ("payload_too_large", big),
    ];
    for (name, req) in requests {
        let resp = call(&r, req).await;
        let id = resp.header("apigw-requestid").unwrap_or_default();
        assert_eq!(id.len(), 16, "{name}: apigw-requestid on every response");
        let mut entry = json!({
            "status": resp.status,
            "content-type": resp.header("content-type"),
            "body": resp.text(),
        });
        if let Some(w) = resp.header("www-authenticate") {
            entry["www-authenticate"] = json!(w);
        }
        cases.insert(name.into(), entry);
    }
    golden("errors.json", &J::Object(cases));
}

#[tokio::test]
async fn stages_select_before_routes_and_no_default_stage_is_404() {
    let fake = Arc::new(Fake::default());
    fake.on("fn", |e| {
        ok(json!({"path": e["rawPath"], "stage": e["requestContext"]["stage"]}))
    });
    let (r, _) = serve(
        api(
            &["dev", "$default"],
            vec![route("ANY /{proxy+}", lambda("fn", PayloadFormat::V2))],
        ),
        &fake,
    );
    let resp = call(&r, get("/dev/x")).await;
    assert_eq!(
        serde_json::from_slice::<J>(&resp.body).unwrap(),
        json!({"path": "/dev/x", "stage": "dev"})
    );
    let resp = call(&r, get("/prod/x")).await;
    assert_eq!(
        serde_json::from_slice::<J>(&resp.body).unwrap(),
        json!({"path": "/prod/x", "stage": "$default"})
    );
    let (r, _) = serve(
        api(
            &["dev"],
            vec![route("ANY /{proxy+}", lambda("fn", PayloadFormat::V2))],
        ),
        &fake,
    );
    let resp = call(&r, get("/x/y")).await;
    assert_eq!(
        (resp.status, resp.text().as_str()),
        (404, r#"{"message":"Not Found"}"#)
    );
    let resp = call(&r, get("/dev")).await;
    assert_eq!(
        resp.status, 404,
        "/dev is the stage root; {{proxy+}} needs a segment"
    );
}

#[tokio::test]
async fn cors_preflight_response_headers_and_the_default_route_exception() {
    let fake = Arc::new(Fake::default());
    fake.on("fn", |_| ok(json!({"statusCode": 200, "headers": {"access-control-allow-origin": "https://backend", "x-a": "1"}, "body": "x"})));
    fake.on("default", |_| {
        ok(json!({"statusCode": 200, "body": "from default"}))
    });
    let mut spec = api(
        &["$default"],
        vec![route("GET /items", lambda("fn", PayloadFormat::V2))],
    );
    spec.cors = Some(CorsConfig {
        allow_origins: vec!["https://*".into()],
        allow_methods: vec!["GET".into(), "POST".into()],
        allow_headers: vec!["authorization".into()],
        expose_headers: vec!["x-a".into()],
        max_age: Some(300),
        allow_credentials: true,
    });
    let (r, api_handle) = serve(spec.clone(), &fake);
    let preflight = || {
        Request::options("/items")
            .header("host", "h")
            .header("origin", "https://app.example")
            .header("access-control-request-method", "GET")
            .body(Body::empty())
            .unwrap()
    };
    let resp = call(&r, preflight()).await;
    assert_eq!(resp.status, 204);
    assert_eq!(
        resp.header("access-control-allow-origin"),
        Some("https://app.example")
    );
    assert_eq!(
        resp.header("access-control-allow-methods"),
        Some("GET,POST")
    );
    assert_eq!(
        resp.header("access-control-allow-headers"),
        Some("authorization")
    );
    assert_eq!(resp.header("access-control-max-age"), Some("300"));
    assert_eq!(
        resp.header("access-control-allow-credentials"),
        Some("true")
    );
    assert!(
        fake.calls("fn").is_empty(),
        "no integration for a preflight"
    );
    // OPTIONS without Access-Control-Request-Method is an ordinary request: no route.
    let plain = Request::options("/items")
        .header("origin", "https://app.example")
        .body(Body::empty())
        .unwrap();
    assert_eq!(call(&r, plain).await.status, 404);
    // Actual request: configured headers replace the backend's.
    let req = Request::get("/items")
        .header("origin", "https://app.example")
        .body(Body::empty())
        .unwrap();
    let resp = call(&r, req).await;
    assert_eq!(
        resp.header("access-control-allow-origin"),
        Some("https://app.example")
    );
    assert_eq!(resp.header("access-control-expose-headers"), Some("x-a"));
    assert_eq!(
        resp.headers
            .get_all("access-control-allow-origin")
            .iter()
            .count(),
        1
    );
    // A non-matching origin gets no CORS headers.
    let req = Request::get("/items")
        .header("origin", "http://plain")
        .body(Body::empty())
        .unwrap();
    assert!(call(&r, req)
        .await
        .header("access-control-allow-origin")
        .is_none());
    // With a `$default` route, preflights go to it (and to its authorizer).
    spec.routes
        .push(route("$default", lambda("default", PayloadFormat::V2)));
    api_handle.redeploy(spec).expect("redeploy");
    let resp = call(&r, preflight()).await;
    assert_eq!((resp.status, resp.text().as_str()), (200, "from default"));
    assert_eq!(
        resp.header("access-control-allow-origin"),
        Some("https://app.example")
    );
}

#[tokio::test]
async fn throttling_comes_before_the_authorizer() {
    let fake = Arc::new(Fake::default());
    fake.on("auth", |_| ok(json!({"isAuthorized": true})));
    fake.on("fn", |_| ok(json!("ok")));
    let mut spec = api(
        &["$default"],
        vec![RouteSpec {
            key: "GET /t".into(),
            integration: lambda("fn", PayloadFormat::V2),
            auth: RouteAuth::Authorizer {
                name: "auth".into(),
                scopes: vec![],
            },
        }],
    );
    spec.stages[0].default_route_settings = RouteSettings {
        throttling_burst_limit: Some(2),
        throttling_rate_limit: Some(0.01),
    };
    spec.authorizers.insert(
        "auth".into(),
        AuthorizerSpec::Lambda {
            function: "auth".into(),
            payload_format: PayloadFormat::V2,
            simple_responses: true,
            result_ttl: Duration::ZERO,
            identity_source: vec![],
        },
    );
    let (r, _) = serve(spec, &fake);
    let statuses: Vec<u16> = futures_lite(&r, 4).await;
    assert_eq!(statuses, [200, 200, 429, 429]);
    assert_eq!(
        fake.calls("auth").len(),
        2,
        "throttled requests never reach the authorizer"
    );
}

async fn futures_lite(r: &axum::Router, n: usize) -> Vec<u16> {
    let mut out = Vec::new();
    for _ in 0..n {
        out.push(call(r, get("/t")).await.status);
    }
    out
}

#[tokio::test]
async fn lambda_authorizer_events_context_cache_and_missing_identity() {
    let fake = Arc::new(Fake::default());
    fake.on("auth", |e| {
        let token = e["identitySource"][0]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        ok(json!({"isAuthorized": token == "good", "context": {"user": "u-1", "n": 7}}))
    });
    fake.on("policy", |e| {
        ok(
            json!({"principalId": "p-1", "policyDocument": {"Version": "2012-10-17", "Statement": [
            {"Action": "execute-api:Invoke", "Effect": "Allow", "Resource": e["methodArn"]}]},
            "context": {"role": "admin"}}),
        )
    });
    fake.on("fn", |e| {
        ok(json!({"authorizer": e["requestContext"]["authorizer"]}))
    });
    fake.on("fn1", |e| {
        ok(json!({"statusCode": 200, "body": e["requestContext"]["authorizer"].to_string()}))
    });
    let mut spec = api(
        &["$default"],
        vec![
            RouteSpec {
                key: "GET /simple".into(),
                integration: lambda("fn", PayloadFormat::V2),
                auth: RouteAuth::Authorizer {
                    name: "simple".into(),
                    scopes: vec![],
                },
            },
            RouteSpec {
                key: "GET /policy".into(),
                integration: lambda("fn1", PayloadFormat::V1),
                auth: RouteAuth::Authorizer {
                    name: "policy".into(),
                    scopes: vec![],
                },
            },
        ],
    );
    spec.authorizers.insert(
        "simple".into(),
        AuthorizerSpec::Lambda {
            function: "auth".into(),
            payload_format: PayloadFormat::V2,
            simple_responses: true,
            result_ttl: Duration::from_secs(300),
            identity_source: vec!["$request.header.X-Token".into()],
        },
    );
    spec.authorizers.insert(
        "policy".into(),
        AuthorizerSpec::Lambda {
            function: "arn:aws:lambda:us-east-1:123456789012:function:policy".into(),
            payload_format: PayloadFormat::V1,
            simple_responses: false,
            result_ttl: Duration::ZERO,
            identity_source: vec!["$request.querystring.key".into()],
        },
    );
    let (r, _) = serve(spec, &fake);
    let with = |path: &str, token: Option<&str>| {
        let mut b = Request::get(path).header("host", "h");
        if let Some(t) = token {
            b = b.header("x-token", t);
        }
        b.body(Body::empty()).unwrap()
    };
    let resp = call(&r, with("/simple", None)).await;
    assert_eq!(
        (resp.status, resp.text().as_str()),
        (401, r#"{"message":"Unauthorized"}"#)
    );
    assert!(
        fake.calls("auth").is_empty(),
        "a missing identity source never invokes"
    );
    let resp = call(&r, with("/simple", Some("good"))).await;
    assert_eq!(resp.status, 200);
    assert_eq!(
        serde_json::from_slice::<J>(&resp.body).unwrap(),
        json!({"authorizer": {"lambda": {"user": "u-1", "n": 7}}})
    );
    let ev = fake.calls("auth").remove(0);
    assert_eq!(ev["type"], "REQUEST");
    assert_eq!(ev["version"], "2.0");
    assert_eq!(
        ev["routeArn"],
        "arn:aws:execute-api:us-east-1:123456789012:MyApi/$default/GET/simple"
    );
    assert_eq!(ev["identitySource"], json!(["good"]));
    // Cached by identity: the second call does not invoke; another token does.
    assert_eq!(call(&r, with("/simple", Some("good"))).await.status, 200);
    assert_eq!(fake.calls("auth").len(), 1);
    let resp = call(&r, with("/simple", Some("bad"))).await;
    assert_eq!(
        (resp.status, resp.text().as_str()),
        (403, r#"{"message":"Forbidden"}"#)
    );
    assert_eq!(fake.calls("auth").len(), 2);
    // Payload 1.0 authorizer with an IAM policy; context reaches a 1.0 integration.
    let resp = call(&r, get("/policy?key=k1")).await;
    assert_eq!(resp.status, 200, "{}", resp.text());
    let a: J = serde_json::from_str(&resp.text()).unwrap();
    assert_eq!(a["role"], "admin");
    assert_eq!(a["principalId"], "p-1");
    let ev = fake.calls("policy").remove(0);
    assert_eq!(
        ev["methodArn"],
        "arn:aws:execute-api:us-east-1:123456789012:MyApi/$default/GET/policy"
    );
    assert_eq!(ev["identitySource"], "k1");
}

#[tokio::test]
async fn redeploy_swaps_atomically_and_keeps_the_last_good_deployment() {
    let fake = Arc::new(Fake::default());
    fake.on("a", |_| ok(json!("a")));
    fake.on("b", |_| ok(json!("b")));
    let (r, handle) = serve(
        api(
            &["$default"],
            vec![route("GET /x", lambda("a", PayloadFormat::V2))],
        ),
        &fake,
    );
    assert_eq!(call(&r, get("/x")).await.text(), "a");
    handle
        .redeploy(api(
            &["$default"],
            vec![route("GET /x", lambda("b", PayloadFormat::V2))],
        ))
        .expect("good spec");
    assert_eq!(call(&r, get("/x")).await.text(), "b");
    let bad = api(
        &["$default"],
        vec![route("GET x", lambda("a", PayloadFormat::V2))],
    );
    assert!(handle.redeploy(bad).is_err());
    assert_eq!(
        call(&r, get("/x")).await.text(),
        "b",
        "the last good deployment keeps serving"
    );
}

/// A loopback upstream that echoes what it received.
async fn echo_upstream() -> String {
    async fn echo(req: axum::extract::Request) -> axum::response::Response {
        let method = req.method().to_string();
        let uri = req.uri().to_string();
        let headers: BTreeMap<String, String> = req
            .headers()
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_str().unwrap_or_default().to_owned()))
            .collect();
        let body = axum::body::to_bytes(req.into_body(), usize::MAX)
            .await
            .unwrap();
        let status = if uri.contains("missing") { 404 } else { 200 };
        axum::response::Response::builder()
            .status(status)
            .header("content-type", "application/json")
            .header("x-upstream", "yes")
            .body(Body::from(
                json!({"method": method, "uri": uri, "headers": headers, "body": String::from_utf8_lossy(&body)})
                    .to_string(),
            ))
            .unwrap()
    }
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        axum::serve(listener, axum::Router::new().fallback(echo))
            .await
            .unwrap();
    });
    format!("http://{addr}")
}

#[tokio::test]
async fn http_proxy_forwards_and_maps_parameters() {
    let up = echo_upstream().await;
    let fake = Arc::new(Fake::default());
    let mut spec = api(
        &["prod"],
        vec![
            route(
                "ANY /svc/{proxy+}",
                IntegrationSpec::Http {
                    uri: format!("{up}/${{stageVariables.base}}/{{proxy}}"),
                    method: None,
                    timeout: Duration::from_secs(5),
                    request_parameters: vec![
                        (
                            "append:header.x-from".into(),
                            "ledge-${context.stage}".into(),
                        ),
                        ("remove:header.x-secret".into(), "''".into()),
                        (
                            "overwrite:querystring.who".into(),
                            "$request.header.x-user".into(),
                        ),
                    ],
                    response_parameters: [(
                        "404".to_owned(),
                        vec![
                            ("overwrite:statuscode".to_owned(), "200".to_owned()),
                            (
                                "append:header.x-mapped".to_owned(),
                                "$response.header.x-upstream".to_owned(),
                            ),
                        ],
                    )]
                    .into(),
                },
            ),
            route(
                "POST /rewrite/{id}",
                IntegrationSpec::Http {
                    uri: format!("{up}/ignored"),
                    method: Some("PUT".into()),
                    timeout: Duration::from_secs(5),
                    request_parameters: vec![(
                        "overwrite:path".into(),
                        "/items/${request.path.id}".into(),
                    )],
                    response_parameters: BTreeMap::new(),
                },
            ),
        ],
    );
    spec.stages[0].variables.insert("base".into(), "v1".into());
    let (r, _) = serve(spec, &fake);
    let req = Request::get("/prod/svc/a/b?x=1")
        .header("host", "127.0.0.1:3000")
        .header("x-user", "ann")
        .header("x-secret", "s")
        .body(Body::empty())
        .unwrap();
    let resp = call(&r, req).await;
    assert_eq!(resp.status, 200);
    let v: J = serde_json::from_slice(&resp.body).unwrap();
    assert_eq!(v["method"], "GET");
    assert_eq!(v["uri"], "/v1/a/b?x=1&who=ann");
    assert_eq!(v["headers"]["x-from"], "ledge-prod");
    assert!(v["headers"].get("x-secret").is_none());
    assert_eq!(v["headers"]["x-forwarded-for"], "127.0.0.1");
    assert!(resp.header("apigw-requestid").is_some());
    // Response mapping for status 404: overwrite the status, copy a header.
    let resp = call(&r, get("/prod/svc/missing")).await;
    assert_eq!(resp.status, 200);
    assert_eq!(resp.header("x-mapped"), Some("yes"));
    // Method override and path overwrite.
    let req = Request::post("/prod/rewrite/42")
        .header("host", "h")
        .body(Body::from("payload"))
        .unwrap();
    let v: J = serde_json::from_slice(&call(&r, req).await.body).unwrap();
    assert_eq!(
        (v["method"].as_str(), v["uri"].as_str(), v["body"].as_str()),
        (Some("PUT"), Some("/items/42"), Some("payload"))
    );
}

#[tokio::test]
async fn unreachable_upstream_is_a_500() {
    let fake = Arc::new(Fake::default());
    let spec = api(
        &["$default"],
        vec![route(
            "$default",
            IntegrationSpec::Http {
                uri: "http://127.0.0.1:1".into(),
                method: None,
                timeout: Duration::from_secs(2),
                request_parameters: vec![],
                response_parameters: BTreeMap::new(),
            },
        )],
    );
    let (r, _) = serve(spec, &fake);
    let resp = call(&r, get("/anything")).await;
    assert_eq!(
        (resp.status, resp.text().as_str()),
        (500, r#"{"message":"Internal Server Error"}"#)
    );
}

#[tokio::test]
async fn access_log_lines_use_the_stage_format() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("logs/MyApi.log");
    let fake = Arc::new(Fake::default());
    fake.on("fn", |_| ok(json!("hi")));
    let mut spec = api(
        &["$default", "custom"],
        vec![route("GET /x", lambda("fn", PayloadFormat::V2))],
    );
    spec.stages[1].access_log = Some(AccessLogSettings {
        destination_arn: None,
        format: Some(
            "$context.stage $context.routeKey $context.status $context.error.message".into(),
        ),
    });
    let opts = GatewayOptions {
        access_log: Some(AccessLogSink::open(&log, false).unwrap()),
        ..Default::default()
    };
    let handle = HttpApi::new(spec, fake.clone(), opts).unwrap();
    let r = router(handle);
    let resp = call(&r, get("/x")).await;
    let id = resp.header("apigw-requestid").unwrap().to_owned();
    call(&r, get("/custom/nope")).await;
    let mut text = String::new();
    for _ in 0..200 {
        text = std::fs::read_to_string(&log).unwrap_or_default();
        if text.lines().count() >= 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let lines: Vec<&str> = text.lines().collect();
    let first: J = serde_json::from_str(lines[0]).expect("the default format is JSON");
    assert_eq!(first["requestId"], id.as_str());
    assert_eq!(first["routeKey"], "GET /x");
    assert_eq!(first["status"], "200");
    assert_eq!(first["httpMethod"], "GET");
    assert_eq!(first["responseLength"], "2");
    assert_eq!(lines[1], "custom - 404 {\\\"message\\\":\\\"Not Found\\\"}");
    let _ = StatusCode::OK;
}
