//! REST APIs through the router (`oneshot`) with a scripted fake function host: the
//! payload format 1.0 event with REST's quirks (golden file), proxy response validation,
//! REST's error bodies and headers, the 29 s timeout, HTTP / HTTP_PROXY integrations
//! against a loopback upstream, Lambda TOKEN and REQUEST authorizers, API keys and usage
//! plans. `UPDATE_GOLDEN=1` rewrites the golden files.

#![allow(clippy::unwrap_used)] // test code: a panic is the failure report

mod support;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, UNIX_EPOCH};

use axum::body::Body;
use http::Request;
use ledge_cache::ManualClock;
use ledge_gateway::rest::*;
use ledge_sigv4 as sigv4;
use serde_json::{json, Value as J};
use support::*;

fn serve(spec: RestApiSpec, fake: &Arc<Fake>) -> (axum::Router, Arc<RestApi>) {
    serve_at(
        spec,
        fake,
        Arc::new(ManualClock::new(
            UNIX_EPOCH + Duration::from_secs(1_583_348_638),
        )),
    )
}

fn serve_at(
    spec: RestApiSpec,
    fake: &Arc<Fake>,
    clock: Arc<ManualClock>,
) -> (axum::Router, Arc<RestApi>) {
    let api = RestApi::new(
        spec,
        fake.clone(),
        RestOptions {
            clock,
            ..RestOptions::default()
        },
    )
    .expect("compiles");
    (router(api.clone()), api)
}

fn plain_stage(name: &str) -> RestStageSpec {
    RestStageSpec::new(name)
}

fn golden(name: &str, actual: &J) {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/golden")
        .join(name);
    let text = serde_json::to_string_pretty(actual).unwrap() + "\n";
    if std::env::var_os("UPDATE_GOLDEN").is_some() || !path.exists() {
        std::fs::write(&path, &text).unwrap();
    }
    let expected: J = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    assert_eq!(
        actual,
        &expected,
        "{} differs (UPDATE_GOLDEN=1 rewrites it)",
        path.display()
    );
}

/// The volatile values of an event replaced by placeholders.
fn redact(mut e: J) -> J {
    let rc = &mut e["requestContext"];
    for k in ["requestId", "extendedRequestId"] {
        assert!(rc[k].as_str().is_some_and(|s| !s.is_empty()), "{k}");
        rc[k] = json!(format!("<{k}>"));
    }
    let h = "X-Amzn-Trace-Id";
    assert!(e["headers"][h].as_str().unwrap().starts_with("Root=1-"));
    e["headers"][h] = json!("<trace>");
    e["multiValueHeaders"][h] = json!(["<trace>"]);
    e
}

#[tokio::test]
async fn the_rest_event_has_aws_quirks() {
    let fake = Fake::new();
    fake.on("Fn", |_| reply(200, "{}"));
    let mut spec = api(
        "MyApi",
        RestStageSpec {
            variables: [("table".to_owned(), "items-dev".to_owned())].into(),
            ..plain_stage("dev")
        },
        vec![method("ANY", "/{proxy+}", lambda("Fn"))],
    );
    spec.api_id = "abc123".into();
    let (r, _) = serve(spec, &fake);
    let got = call(
        &r,
        req(
            "POST",
            "/dev/user/test%2Balias@gmail.com/plus/test+alias@gmail.com?category=electronics&category=books&plus=test+alias%40gmail.com&enc=%2B1",
            &[("content-type", "application/json;charset=utf-8"), ("x-multi", "a"), ("user-agent", "python-requests/testing")],
            r#"{"message": "hello world"}"#,
        ),
    )
    .await;
    assert_eq!(got.status, 200);
    let e = fake.calls("Fn").pop().unwrap();
    assert!(e.get("version").is_none(), "no version key in REST events");
    assert_eq!(e["resource"], "/{proxy+}");
    assert_eq!(
        e["path"], "/user/test%2Balias@gmail.com/plus/test+alias@gmail.com",
        "without the stage, not decoded"
    );
    assert_eq!(
        e["requestContext"]["path"],
        "/dev/user/test%2Balias@gmail.com/plus/test+alias@gmail.com"
    );
    assert_eq!(
        e["pathParameters"]["proxy"],
        "user/test%2Balias@gmail.com/plus/test+alias@gmail.com"
    );
    assert_eq!(
        e["queryStringParameters"]["category"], "books",
        "the last value wins"
    );
    assert_eq!(
        e["multiValueQueryStringParameters"]["category"],
        json!(["electronics", "books"])
    );
    assert_eq!(
        e["queryStringParameters"]["plus"], "test alias@gmail.com",
        "query values are form-decoded"
    );
    assert_eq!(e["queryStringParameters"]["enc"], "+1");
    assert_eq!(e["isBase64Encoded"], false);
    assert!(e["requestContext"].get("authorizer").is_none());
    let uuid = e["requestContext"]["requestId"].as_str().unwrap();
    assert_eq!(
        (uuid.len(), uuid.matches('-').count()),
        (36, 4),
        "REST request ids are UUIDs"
    );
    assert_eq!(got.header("x-amzn-requestid"), Some(uuid));
    assert_eq!(
        got.header("x-amz-apigw-id"),
        e["requestContext"]["extendedRequestId"].as_str()
    );
    golden("rest_event.json", &redact(e));
    // Absent things are null, not missing.
    call(&r, get("/dev/x")).await;
    let e = fake.calls("Fn").pop().unwrap();
    for k in [
        "queryStringParameters",
        "multiValueQueryStringParameters",
        "body",
    ] {
        assert_eq!(e[k], J::Null, "{k}");
    }
}

#[tokio::test]
async fn binary_media_types_decide_base64_both_ways() {
    let fake = Fake::new();
    fake.on("Fn", |e| {
        ok(
            json!({"statusCode": 200, "headers": {"Content-Type": "image/png"},
                  "body": e["body"], "isBase64Encoded": true}),
        )
    });
    let mut spec = api(
        "Api",
        plain_stage("s"),
        vec![method("POST", "/img", lambda("Fn"))],
    );
    spec.binary_media_types = vec!["image/*".into()];
    let (r, _) = serve(spec, &fake);
    let bytes: Vec<u8> = (0u8..=255).collect();
    let got = call(
        &r,
        Request::post("/s/img")
            .header("content-type", "image/png")
            .header("accept", "image/png")
            .body(Body::from(bytes.clone()))
            .unwrap(),
    )
    .await;
    let e = fake.calls("Fn").pop().unwrap();
    assert_eq!(e["isBase64Encoded"], true);
    assert_eq!(&got.body[..], &bytes[..], "decoded for a binary Accept");
    let text = call(
        &r,
        req("POST", "/s/img", &[("content-type", "text/plain")], "aGk="),
    )
    .await;
    assert_eq!(fake.calls("Fn").pop().unwrap()["isBase64Encoded"], false);
    assert_eq!(
        text.text(),
        "aGk=",
        "base64 text as is without a binary Accept"
    );
}

#[tokio::test]
async fn proxy_responses_are_validated_like_aws() {
    let fake = Fake::new();
    fake.on("Fn", |e| {
        let v: J = serde_json::from_str(e["body"].as_str().unwrap()).unwrap();
        ok(v)
    });
    let (r, _) = serve(
        api(
            "Api",
            plain_stage("s"),
            vec![method("POST", "/r", lambda("Fn"))],
        ),
        &fake,
    );
    let send = |v: J| {
        let r = r.clone();
        async move { call(&r, req("POST", "/s/r", &[], &v.to_string())).await }
    };
    let got = send(json!({"statusCode": 200, "wrongValue": "value"})).await;
    assert_eq!(
        (got.status, got.text().as_str()),
        (502, r#"{"message": "Internal server error"}"#)
    );
    assert_eq!(
        got.header("x-amzn-errortype"),
        Some("InternalServerErrorException")
    );
    assert!(got.header("x-amzn-requestid").is_some());
    assert_eq!(send(json!({})).await.status, 502);
    assert_eq!(send(json!({"statusCode": "test"})).await.status, 502);
    assert_eq!(
        send(json!({"statusCode": 200, "multiValueHeaders": {"a": "b"}}))
            .await
            .status,
        502
    );
    assert_eq!(send(json!({"statusCode": "201"})).await.status, 201);
    let got = send(json!({"headers": {"x": "y"}})).await;
    assert_eq!(
        (got.status, got.header("content-type")),
        (200, Some("application/json"))
    );
    let got = send(
        json!({"statusCode": 200, "multiValueHeaders": {"tesT-Multi": ["value-multi"]},
                          "headers": {"test-multi": "value-solo", "header-bool": true}}),
    )
    .await;
    assert_eq!(got.header("test-multi"), Some("value-multi, value-solo"));
    assert_eq!(got.header("header-bool"), Some("true"));
}

#[tokio::test]
async fn errors_as_rest_sends_them() {
    let fake = Fake::new();
    fake.on("Fn", |_| reply(200, "{}"));
    fake.on("Fails", |_| function_error("boom"));
    let (r, _) = serve(
        api(
            "Api",
            plain_stage("Prod"),
            vec![
                method("GET", "/items", lambda("Fn")),
                method("GET", "/fails", lambda("Fails")),
                method("GET", "/gone", lambda("Missing")),
            ],
        ),
        &fake,
    );
    let mut bodies = serde_json::Map::new();
    for (name, uri, m) in [
        ("unknown stage", "/Beta/items", "GET"),
        ("no stage", "/", "GET"),
        ("unknown resource", "/Prod/nope", "GET"),
        ("unknown method", "/Prod/items", "DELETE"),
    ] {
        let got = call(&r, req(m, uri, &[], "")).await;
        assert_eq!(got.status, 403, "{name}");
        assert_eq!(
            got.header("x-amzn-errortype"),
            Some("MissingAuthenticationTokenException")
        );
        bodies.insert(
            name.into(),
            json!({"status": got.status, "body": got.text()}),
        );
    }
    let got = call(&r, get("/Prod/fails")).await;
    bodies.insert(
        "function error".into(),
        json!({"status": got.status, "body": got.text()}),
    );
    let got = call(&r, get("/Prod/gone")).await;
    bodies.insert(
        "unknown function".into(),
        json!({"status": got.status, "body": got.text()}),
    );
    golden("rest_errors.json", &J::Object(bodies));
}

#[tokio::test(start_paused = true)]
async fn the_integration_times_out_after_29_seconds() {
    let fake = Fake::new();
    fake.on_slow("Slow", Duration::from_secs(30), |_| reply(200, "{}"));
    fake.on_slow("Quick", Duration::from_millis(28_900), |_| reply(200, "{}"));
    let (r, _) = serve(
        api(
            "Api",
            plain_stage("Prod"),
            vec![
                method("GET", "/slow", lambda("Slow")),
                method("GET", "/quick", lambda("Quick")),
            ],
        ),
        &fake,
    );
    let started = tokio::time::Instant::now();
    let got = call(&r, get("/Prod/slow")).await;
    assert_eq!(
        (got.status, got.text().as_str()),
        (504, r#"{"message": "Endpoint request timed out"}"#)
    );
    assert_eq!(started.elapsed(), Duration::from_secs(29));
    assert_eq!(call(&r, get("/Prod/quick")).await.status, 200);
}

#[tokio::test]
async fn method_throttling_answers_429() {
    let fake = Fake::new();
    fake.on("Fn", |_| reply(200, "{}"));
    let stage = RestStageSpec {
        method_settings: vec![setting("/items", "GET", |s| {
            s.throttling_rate_limit = Some(0.001);
            s.throttling_burst_limit = Some(2);
        })],
        ..plain_stage("Prod")
    };
    let (r, _) = serve(
        api("Api", stage, vec![method("GET", "/items", lambda("Fn"))]),
        &fake,
    );
    assert_eq!(call(&r, get("/Prod/items")).await.status, 200);
    assert_eq!(call(&r, get("/Prod/items")).await.status, 200);
    let got = call(&r, get("/Prod/items")).await;
    assert_eq!(
        (got.status, got.text().as_str()),
        (429, r#"{"message":"Too Many Requests"}"#)
    );
    assert_eq!(fake.count("Fn"), 2);
}

/// A loopback HTTP server that echoes what it received.
async fn upstream() -> String {
    use axum::extract::Request as R;
    let app = axum::Router::new().fallback(|req: R| async move {
        let (parts, body) = req.into_parts();
        let body = axum::body::to_bytes(body, 1 << 20).await.unwrap();
        let headers: serde_json::Map<String, J> = parts
            .headers
            .iter()
            .map(|(k, v)| (k.to_string(), json!(v.to_str().unwrap_or_default())))
            .collect();
        let status = if parts.uri.path().ends_with("/missing") {
            404
        } else {
            200
        };
        (
            http::StatusCode::from_u16(status).unwrap(),
            [("x-upstream", "yes"), ("content-type", "application/json")],
            json!({"method": parts.method.as_str(), "uri": parts.uri.to_string(),
                   "headers": headers, "body": String::from_utf8_lossy(&body)})
            .to_string(),
        )
    });
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(l, app).await.unwrap() });
    format!("http://{addr}")
}

#[tokio::test]
async fn http_proxy_and_http_integrations() {
    let base = upstream().await;
    let fake = Fake::new();
    let proxy = method(
        "ANY",
        "/p/{proxy+}",
        RestIntegration::HttpProxy {
            uri: format!("{base}/up/{{proxy}}"),
            method: "ANY".into(),
            timeout: Duration::from_secs(5),
            request_parameters: vec![(
                "integration.request.path.proxy".into(),
                "method.request.path.proxy".into(),
            )],
        },
    );
    let http = method(
        "GET",
        "/h/{id}",
        RestIntegration::Mapped(Box::new(MappedIntegration {
            target: MappedTarget::Http {
                uri: format!("{base}/items/{{id}}"),
                method: "GET".into(),
            },
            timeout: Duration::from_secs(5),
            request_parameters: vec![
                (
                    "integration.request.path.id".into(),
                    "method.request.path.id".into(),
                ),
                (
                    "integration.request.header.X-Stage".into(),
                    "context.stage".into(),
                ),
            ],
            request_templates: vec![],
            passthrough: Passthrough::WhenNoMatch,
            content_handling: None,
            responses: vec![
                IntegrationResponse {
                    selection_pattern: None,
                    status_code: 200,
                    response_parameters: vec![(
                        "method.response.header.X-From".into(),
                        "integration.response.header.x-upstream".into(),
                    )],
                    ..IntegrationResponse::default()
                },
                IntegrationResponse {
                    selection_pattern: Some("4\\d{2}".into()),
                    status_code: 400,
                    response_parameters: vec![],
                    ..IntegrationResponse::default()
                },
            ],
            method_responses: vec![
                MethodResponse {
                    status_code: 200,
                    headers: vec!["X-From".into()],
                },
                MethodResponse {
                    status_code: 400,
                    headers: vec![],
                },
            ],
        })),
    );
    let (r, _) = serve(api("Api", plain_stage("Prod"), vec![proxy, http]), &fake);
    let got = call(
        &r,
        req("PUT", "/Prod/p/a/b?q=1", &[("x-custom", "c")], "payload"),
    )
    .await;
    assert_eq!(got.status, 200, "{}", got.text());
    let echo = got.json();
    assert_eq!(echo["method"], "PUT");
    assert_eq!(echo["uri"], "/up/a/b?q=1");
    assert_eq!(echo["headers"]["x-custom"], "c");
    assert_eq!(echo["body"], "payload");
    assert_eq!(
        got.header("x-upstream"),
        Some("yes"),
        "HTTP_PROXY passes response headers"
    );
    assert!(
        got.header("x-amzn-trace-id").is_none(),
        "no trace header for HTTP_PROXY"
    );
    let got = call(
        &r,
        req("GET", "/Prod/h/7?dropped=1", &[("x-custom", "c")], ""),
    )
    .await;
    let echo = got.json();
    assert_eq!(echo["uri"], "/items/7", "HTTP sends only mapped parameters");
    assert_eq!(echo["headers"]["x-stage"], "Prod");
    assert!(echo["headers"].get("x-custom").is_none());
    assert_eq!(got.header("x-from"), Some("yes"));
    assert!(
        got.header("x-upstream").is_none(),
        "only mapped response headers"
    );
    let got = call(&r, get("/Prod/h/missing")).await;
    assert_eq!(
        got.status, 400,
        "selectionPattern 4\\d{{2}} chose the 400 response"
    );
}

fn policy(effect: &str, resource: &str, context: J) -> J {
    json!({"principalId": "user-1", "policyDocument": {"Version": "2012-10-17", "Statement": [
        {"Action": "execute-api:Invoke", "Effect": effect, "Resource": resource}]},
        "context": context, "usageIdentifierKey": "k-from-authorizer"})
}

#[tokio::test]
async fn token_authorizer() {
    let fake = Fake::new();
    fake.on("Fn", |_| reply(200, "{}"));
    fake.on("Auth", |e| {
        match e["authorizationToken"].as_str().unwrap() {
            "allow" => ok(policy(
                "Allow",
                "arn:aws:execute-api:us-east-1:123456789012:Api/Prod/GET/*",
                json!({"n": 1, "b": true, "s": "x"}),
            )),
            "deny" => ok(policy("Deny", "*", json!({}))),
            "other" => ok(policy(
                "Allow",
                "arn:aws:execute-api:us-east-1:123456789012:Api/Prod/POST/*",
                json!({}),
            )),
            "garbage" => ok(json!({"nope": 1})),
            _ => function_error("Unauthorized"),
        }
    });
    let mut spec = api(
        "Api",
        plain_stage("Prod"),
        vec![
            method("GET", "/items", lambda("Fn")),
            method("GET", "/more", lambda("Fn")),
        ],
    );
    spec.authorizers.insert(
        "Tok".into(),
        RestAuthorizerSpec {
            kind: AuthorizerKind::Token,
            function: "Auth".into(),
            identity_source: vec!["method.request.header.Authorization".into()],
            validation_expression: Some("[a-z]+".into()),
            result_ttl: Duration::from_secs(300),
        },
    );
    for m in &mut spec.methods {
        m.auth = MethodAuth::Authorizer("Tok".into());
    }
    let (r, _) = serve(spec, &fake);
    let with = |t: &'static str, uri: &'static str| req("GET", uri, &[("authorization", t)], "");
    let got = call(&r, with("allow", "/Prod/items")).await;
    assert_eq!(got.status, 200);
    let e = fake.calls("Fn").pop().unwrap();
    assert_eq!(
        e["requestContext"]["authorizer"],
        json!({"principalId": "user-1", "integrationLatency": 0, "n": "1", "b": "true", "s": "x"})
    );
    let ev = &fake.calls("Auth")[0];
    assert_eq!(
        ev,
        &json!({"type": "TOKEN", "authorizationToken": "allow",
        "methodArn": "arn:aws:execute-api:us-east-1:123456789012:Api/Prod/GET/items"})
    );
    call(&r, with("allow", "/Prod/more")).await;
    assert_eq!(fake.count("Auth"), 1, "the policy is cached for 300 s");
    let cases = [
        (
            with("deny", "/Prod/items"),
            403,
            r#"{"Message":"User is not authorized to access this resource with an explicit deny"}"#,
        ),
        (
            with("other", "/Prod/items"),
            403,
            r#"{"Message":"User is not authorized to access this resource"}"#,
        ),
        (
            with("nobody", "/Prod/items"),
            401,
            r#"{"message":"Unauthorized"}"#,
        ),
        (with("garbage", "/Prod/items"), 500, r#"{"message": null}"#),
        (
            with("NOT-VALID", "/Prod/items"),
            401,
            r#"{"message":"Unauthorized"}"#,
        ),
        (get("/Prod/items"), 401, r#"{"message":"Unauthorized"}"#),
    ];
    let before = fake.count("Auth");
    for (request, status, body) in cases {
        let got = call(&r, request).await;
        assert_eq!((got.status, got.text().as_str()), (status, body));
    }
    assert_eq!(
        fake.count("Auth"),
        before + 4,
        "no invocation for a missing or invalid token"
    );
    assert_eq!(fake.count("Fn"), 2);
}

#[tokio::test]
async fn request_authorizer_cached_by_identity_sources() {
    let fake = Fake::new();
    fake.on("Fn", |_| reply(200, "{}"));
    fake.on("Auth", |e| {
        let user = e["headers"]["X-User"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        ok(policy("Allow", "*", json!({"user": user})))
    });
    let mut spec = api(
        "Api",
        plain_stage("Prod"),
        vec![method("GET", "/items/{id}", lambda("Fn"))],
    );
    spec.authorizers.insert(
        "Req".into(),
        RestAuthorizerSpec {
            kind: AuthorizerKind::Request,
            function: "Auth".into(),
            identity_source: vec![
                "method.request.header.X-User".into(),
                "method.request.querystring.t".into(),
            ],
            validation_expression: None,
            result_ttl: Duration::from_secs(60),
        },
    );
    spec.methods[0].auth = MethodAuth::Authorizer("Req".into());
    let (r, _) = serve(spec, &fake);
    let got = call(
        &r,
        req("GET", "/Prod/items/1?t=a", &[("x-user", "ann")], ""),
    )
    .await;
    assert_eq!(got.status, 200);
    let ev = &fake.calls("Auth")[0];
    assert_eq!(ev["type"], "REQUEST");
    assert_eq!(
        ev["methodArn"],
        "arn:aws:execute-api:us-east-1:123456789012:Api/Prod/GET/items/1"
    );
    assert_eq!(ev["pathParameters"]["id"], "1");
    assert_eq!(ev["resource"], "/items/{id}");
    assert_eq!(
        fake.calls("Fn")[0]["requestContext"]["authorizer"]["user"],
        "ann"
    );
    call(
        &r,
        req("GET", "/Prod/items/2?t=a", &[("x-user", "ann")], ""),
    )
    .await;
    assert_eq!(fake.count("Auth"), 1, "same identity: cached");
    call(
        &r,
        req("GET", "/Prod/items/2?t=b", &[("x-user", "ann")], ""),
    )
    .await;
    assert_eq!(fake.count("Auth"), 2, "another query value: invoked");
    let got = call(&r, req("GET", "/Prod/items/2", &[("x-user", "ann")], "")).await;
    assert_eq!(got.status, 401, "a missing identity source");
    assert_eq!(fake.count("Auth"), 2);
}

fn keyed_api(quota: Option<Quota>, rate: Option<f64>, burst: Option<u32>) -> RestApiSpec {
    let mut m = method("GET", "/items", lambda("Fn"));
    m.api_key_required = true;
    let mut spec = api(
        "Api",
        plain_stage("Prod"),
        vec![m, method("GET", "/open", lambda("Fn"))],
    );
    spec.usage_plans.push(UsagePlanSpec {
        id: "Plan".into(),
        stages: vec!["Prod".into()],
        throttle_rate: rate,
        throttle_burst: burst,
        quota,
        keys: vec![ApiKeySpec {
            id: "key1".into(),
            value: "secret-value-1".into(),
            enabled: true,
        }],
    });
    spec
}

#[tokio::test]
async fn api_keys_and_usage_plan_quotas() {
    let fake = Fake::new();
    fake.on("Fn", |_| reply(200, "{}"));
    let clock = Arc::new(ManualClock::new(
        UNIX_EPOCH + Duration::from_secs(1_800_014_400),
    ));
    let spec = keyed_api(
        Some(Quota {
            limit: 2,
            period: QuotaPeriod::Day,
            offset: 0,
        }),
        None,
        None,
    );
    let (r, _) = serve_at(spec, &fake, clock.clone());
    let keyed = || req("GET", "/Prod/items", &[("x-api-key", "secret-value-1")], "");
    let got = call(&r, get("/Prod/items")).await;
    assert_eq!(
        (got.status, got.text().as_str()),
        (403, r#"{"message":"Forbidden"}"#)
    );
    let got = call(&r, req("GET", "/Prod/items", &[("x-api-key", "wrong")], "")).await;
    assert_eq!(got.status, 403);
    assert_eq!(
        call(&r, get("/Prod/open")).await.status,
        200,
        "no key needed"
    );
    assert_eq!(call(&r, keyed()).await.status, 200);
    let identity = &fake.calls("Fn").pop().unwrap()["requestContext"]["identity"];
    assert_eq!(
        (identity["apiKey"].as_str(), identity["apiKeyId"].as_str()),
        (Some("secret-value-1"), Some("key1"))
    );
    assert_eq!(call(&r, keyed()).await.status, 200);
    let got = call(&r, keyed()).await;
    assert_eq!(
        (got.status, got.text().as_str()),
        (429, r#"{"message":"Limit Exceeded"}"#)
    );
    clock.advance(Duration::from_secs(12 * 3600));
    assert_eq!(
        call(&r, keyed()).await.status,
        200,
        "a new day, a new quota"
    );
}

#[tokio::test]
async fn usage_plan_throttle() {
    let fake = Fake::new();
    fake.on("Fn", |_| reply(200, "{}"));
    let (r, _) = serve(keyed_api(None, Some(0.001), Some(1)), &fake);
    let keyed = || req("GET", "/Prod/items", &[("x-api-key", "secret-value-1")], "");
    assert_eq!(call(&r, keyed()).await.status, 200);
    let got = call(&r, keyed()).await;
    assert_eq!(
        (got.status, got.text().as_str()),
        (429, r#"{"message":"Too Many Requests"}"#)
    );
}

#[tokio::test]
async fn api_keys_from_the_authorizer() {
    let fake = Fake::new();
    fake.on("Fn", |_| reply(200, "{}"));
    fake.on("Auth", |e| {
        let mut p = policy("Allow", "*", json!({}));
        p["usageIdentifierKey"] = e["authorizationToken"].clone();
        ok(p)
    });
    let mut spec = keyed_api(None, None, None);
    spec.api_key_source = ApiKeySource::Authorizer;
    spec.authorizers.insert(
        "Tok".into(),
        RestAuthorizerSpec {
            kind: AuthorizerKind::Token,
            function: "Auth".into(),
            identity_source: vec!["method.request.header.Authorization".into()],
            validation_expression: None,
            result_ttl: Duration::ZERO,
        },
    );
    spec.methods[0].auth = MethodAuth::Authorizer("Tok".into());
    let (r, _) = serve(spec, &fake);
    let as_ = |t: &'static str| req("GET", "/Prod/items", &[("authorization", t)], "");
    assert_eq!(call(&r, as_("secret-value-1")).await.status, 200);
    assert_eq!(call(&r, as_("not-a-key")).await.status, 403);
}

#[tokio::test]
async fn sam_cors_preflight_mock() {
    let fake = Fake::new();
    let mut spec = api(
        "Api",
        plain_stage("Prod"),
        vec![method("GET", "/items", lambda("Fn"))],
    );
    spec.methods.push(method(
        "OPTIONS",
        "/items",
        RestIntegration::Mock {
            status: 200,
            headers: vec![("Access-Control-Allow-Origin".into(), "*".into())],
            body: String::new(),
        },
    ));
    let (r, _) = serve(spec, &fake);
    let got = call(
        &r,
        req(
            "OPTIONS",
            "/Prod/items",
            &[("origin", "https://a.example")],
            "",
        ),
    )
    .await;
    assert_eq!(got.status, 200);
    assert_eq!(got.header("access-control-allow-origin"), Some("*"));
    assert!(got.header("x-amzn-trace-id").is_none());
    assert_eq!(fake.count("Fn"), 0);
}

/// With signatures required (`ledge up --auth`), management calls must be SigV4-signed for
/// `apigateway` by a configured key.
#[tokio::test]
async fn management_calls_can_require_signatures() {
    let fake = Fake::new();
    let (_, api) = serve(
        api(
            "Api",
            plain_stage("Prod"),
            vec![method("GET", "/items", lambda("Fn"))],
        ),
        &fake,
    );
    let registry = Arc::new(RestRegistry::default());
    registry.insert(api);
    let mgmt = management_router(Management {
        registry,
        auth: Some(sigv4::AccessKeys::new([(
            "AKID".to_owned(),
            "s3cret".to_owned(),
        )])),
        account_id: "123456789012".into(),
    });
    let unsigned = call(&mgmt, get("/restapis/Api/stages/Prod")).await;
    assert_eq!(unsigned.status, 403);
    assert_eq!(
        unsigned.header("x-amzn-errortype"),
        Some("MissingAuthenticationTokenException")
    );
    let signed = |key: &str, secret: &str| {
        let headers = sigv4::signature_headers(
            key,
            secret,
            "us-east-1",
            "apigateway",
            "GET",
            "127.0.0.1:3000",
            "/restapis/Api/stages/Prod",
            "",
            b"",
            std::time::SystemTime::now(),
        );
        let mut b = Request::get("/restapis/Api/stages/Prod").header("host", "127.0.0.1:3000");
        for (k, v) in headers {
            b = b.header(k, v);
        }
        b.body(Body::empty()).unwrap()
    };
    let ok = call(&mgmt, signed("AKID", "s3cret")).await;
    assert_eq!(ok.status, 200, "{}", ok.text());
    assert_eq!(ok.json()["stageName"], "Prod");
    let wrong = call(&mgmt, signed("AKID", "nope")).await;
    assert_eq!(wrong.status, 403);
    assert_eq!(
        wrong.header("x-amzn-errortype"),
        Some("InvalidSignatureException")
    );
}
