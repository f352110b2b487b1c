//! The Lambda API router driven with `oneshot`, over a real runtime and store in a temp
//! dir: wire details a client relies on (statuses, error headers and bodies, request ids,
//! SigV4 refusal) without starting a server.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::{Duration, SystemTime};

use axum::body::Body;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt;
use ledge_lambda_api::{router, AccessKeys, AsyncQueue, LambdaApi, QueueConfig};
use ledge_runtime::{Runtime, RuntimeConfig};
use tower::ServiceExt;

fn api(dir: &std::path::Path, auth: Option<AccessKeys>) -> axum::Router {
    let runtime = Arc::new(Runtime::new(RuntimeConfig::new(dir)).expect("runtime"));
    let queue = AsyncQueue::new(runtime.clone(), runtime.clone(), QueueConfig::default());
    router(LambdaApi {
        invoker: runtime.clone(),
        runtime,
        aliases: Arc::new(RwLock::new(HashMap::new())),
        region: "us-east-1".into(),
        account_id: "123456789012".into(),
        queue,
        auth: auth.map(Arc::new),
    })
}

async fn send(
    app: &axum::Router,
    req: Request<Body>,
) -> (StatusCode, HashMap<String, String>, serde_json::Value) {
    let resp = app.clone().oneshot(req).await.expect("response");
    let status = resp.status();
    let headers = resp
        .headers()
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_str().unwrap_or_default().to_owned()))
        .collect();
    let bytes = resp.into_body().collect().await.expect("body").to_bytes();
    let body = serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::Null);
    (status, headers, body)
}

#[tokio::test]
async fn errors_carry_the_aws_error_type_header_and_body() {
    let t = tempfile::tempdir().expect("tempdir");
    let app = api(t.path(), None);
    let (status, h, body) = send(
        &app,
        Request::post("/2015-03-31/functions")
            .body(Body::from("{not json"))
            .expect("req"),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(h["x-amzn-errortype"], "InvalidRequestContentException");
    assert!(h.contains_key("x-amzn-requestid"));
    assert_eq!(body["Type"], "User");
    assert!(body["message"]
        .as_str()
        .is_some_and(|m| m.starts_with("Could not parse request body into json")));

    let (status, h, body) = send(
        &app,
        Request::get("/2015-03-31/functions/nope")
            .body(Body::empty())
            .expect("req"),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(h["x-amzn-errortype"], "ResourceNotFoundException");
    assert_eq!(
        body["Message"],
        "Function not found: arn:aws:lambda:us-east-1:123456789012:function:nope:$LATEST"
    );

    let (status, h, _) = send(
        &app,
        Request::get("/2015-03-31/functions/f:1?Qualifier=2")
            .body(Body::empty())
            .expect("req"),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(h["x-amzn-errortype"], "InvalidParameterValueException");

    let (status, h, _) = send(
        &app,
        Request::get("/2099-01-01/nothing")
            .body(Body::empty())
            .expect("req"),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(h["x-amzn-errortype"], "UnknownOperationException");
}

#[tokio::test]
async fn listings_and_account_settings_have_botocore_shapes() {
    let t = tempfile::tempdir().expect("tempdir");
    let app = api(t.path(), None);
    let (status, _, body) = send(
        &app,
        Request::get("/2015-03-31/functions/")
            .body(Body::empty())
            .expect("req"),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body, serde_json::json!({"Functions": []}));
    let (_, _, body) = send(
        &app,
        Request::get("/2016-08-19/account-settings/")
            .body(Body::empty())
            .expect("req"),
    )
    .await;
    assert_eq!(body["AccountLimit"]["ConcurrentExecutions"], 1000);
    assert_eq!(body["AccountLimit"]["UnreservedConcurrentExecutions"], 1000);
    assert_eq!(body["AccountLimit"]["CodeSizeZipped"], 52_428_800);
    assert_eq!(body["AccountUsage"]["FunctionCount"], 0);
    let (status, h, _) = send(
        &app,
        Request::delete("/2018-10-31/layers/none/versions/3")
            .body(Body::empty())
            .expect("req"),
    )
    .await;
    assert_eq!(
        status,
        StatusCode::NO_CONTENT,
        "DeleteLayerVersion is idempotent"
    );
    assert!(h.contains_key("x-amzn-requestid"));
    let (status, _, body) = send(
        &app,
        Request::get("/2018-10-31/layers/none/versions/0")
            .body(Body::empty())
            .expect("req"),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["message"], "Layer Version Cannot be less than 1");
}

#[tokio::test]
async fn with_auth_unsigned_requests_are_refused_before_anything_runs() {
    let t = tempfile::tempdir().expect("tempdir");
    let keys = AccessKeys::new([("AKID".to_owned(), "secret".to_owned())]);
    let app = api(t.path(), Some(keys));
    let (status, h, _) = send(
        &app,
        Request::post("/2015-03-31/functions")
            .body(Body::from("{}"))
            .expect("req"),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(h["x-amzn-errortype"], "MissingAuthenticationTokenException");
    let (status, h, _) = send(
        &app,
        Request::get("/2015-03-31/functions")
            // Only the key id matters for this refusal.
            .header("x-amz-date", "20260101T000000Z")
            .header(
                "authorization",
                "AWS4-HMAC-SHA256 Credential=NOBODY/20260101/us-east-1/lambda/aws4_request, SignedHeaders=host;x-amz-date, Signature=00",
            )
            .body(Body::empty())
            .expect("req"),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(h["x-amzn-errortype"], "UnrecognizedClientException");

    // A known key, but Lambda's rules: signed for `lambda`, within 5 minutes.
    let signed = |service: &str, age: Duration| {
        let mut b = Request::get("/2015-03-31/functions").header("host", "localhost");
        for (k, v) in ledge_sigv4::signature_headers(
            "AKID",
            "secret",
            "us-east-1",
            service,
            "GET",
            "localhost",
            "/2015-03-31/functions",
            "",
            b"",
            SystemTime::now() - age,
        ) {
            b = b.header(k, v);
        }
        b.body(Body::empty()).expect("req")
    };
    let (status, _, body) = send(&app, signed("lambda", Duration::ZERO)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, h, body) = send(&app, signed("s3", Duration::ZERO)).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(h["x-amzn-errortype"], "InvalidSignatureException");
    assert_eq!(
        body["message"],
        "Credential should be scoped to correct service: 'lambda'."
    );
    let (status, h, body) = send(&app, signed("lambda", Duration::from_secs(6 * 60))).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(h["x-amzn-errortype"], "InvalidSignatureException");
    let message = body["message"].as_str().expect("message");
    assert!(
        message.starts_with("Signature expired: ") && message.ends_with(" - 5 min.)"),
        "{message}"
    );
}
