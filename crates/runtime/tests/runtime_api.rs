//! Conformance of the Runtime API (`2018-06-01`): a test plays the runtime's part over
//! real HTTP against a real environment and checks every status, header and body.

mod common;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use common::*;
use ledge_model::{InvokeOutcome, InvokeRequest};

/// Starts an invocation of the `conformance` fixture and returns the Runtime API address
/// once the environment's bootstrap has printed it.
async fn api_of(h: &Harness, fn_name: &str) -> String {
    let log = h.wait_log(fn_name, "RUNTIME_API=").await;
    let line = log
        .lines()
        .rev()
        .find(|l| l.starts_with("RUNTIME_API="))
        .expect("address line");
    let addr = line.trim_start_matches("RUNTIME_API=").to_owned();
    assert!(
        !addr.contains("://") && addr.contains(':'),
        "AWS_LAMBDA_RUNTIME_API must be plain host:port, got {addr}"
    );
    format!("http://{addr}/2018-06-01")
}

/// Starts an invocation of `fn_name` with `payload`, answered when the test plays the
/// runtime's part.
fn spawn_invoke(
    h: &Harness,
    fn_name: &str,
    payload: &[u8],
) -> tokio::task::JoinHandle<Result<ledge_model::InvokeResult, ledge_model::InvokeError>> {
    let (rt, req) = (
        h.rt.clone(),
        InvokeRequest::new(name(fn_name), payload.to_vec()),
    );
    tokio::spawn(async move { ledge_model::Invoke::invoke(&*rt, req).await })
}

/// `GET …/runtime/invocation/next`, answered.
async fn next_event(http: &reqwest::Client, api: &str) -> reqwest::Response {
    http.get(format!("{api}/runtime/invocation/next"))
        .send()
        .await
        .expect("next")
}

/// The request id a `next` answer carries.
fn request_id(next: &reqwest::Response) -> String {
    next.headers()["lambda-runtime-aws-request-id"]
        .to_str()
        .expect("id")
        .to_owned()
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock")
        .as_millis() as u64
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn runtime_api_conformance_table() {
    let h = harness();
    h.deploy(provided("Conf", fixture("provided/conformance")))
        .await;
    let http = reqwest::Client::new();

    // --- 1. next: blocking, every header, the payload as sent ---------------------------
    let rt = h.rt.clone();
    let mut req = InvokeRequest::new(name("Conf"), br#"{"n":1}"#.to_vec());
    req.client_context = Some(r#"{"custom":{"k":"v"}}"#.to_owned());
    req.cognito_identity =
        Some(r#"{"cognitoIdentityId":"id","cognitoIdentityPoolId":"pool"}"#.to_owned());
    let first = tokio::spawn(async move { ledge_model::Invoke::invoke(&*rt, req).await });
    let api = api_of(&h, "Conf").await;
    let before = now_ms();
    let next = next_event(&http, &api).await;
    assert_eq!(next.status(), 200);
    let hd = next.headers().clone();
    let get = |k: &str| hd.get(k).map(|v| v.to_str().expect("ascii").to_owned());
    assert_eq!(get("content-type").as_deref(), Some("application/json"));
    let rid = get("lambda-runtime-aws-request-id").expect("request id header");
    assert_eq!(rid.len(), 36, "request id is a UUID: {rid}");
    let deadline: u64 = get("lambda-runtime-deadline-ms")
        .expect("deadline")
        .parse()
        .expect("epoch ms");
    assert!(
        deadline >= before + 9_000 && deadline <= now_ms() + 10_000,
        "deadline {deadline} is epoch ms + 10 s timeout"
    );
    assert_eq!(
        get("lambda-runtime-invoked-function-arn").as_deref(),
        Some("arn:aws:lambda:us-east-1:123456789012:function:Conf")
    );
    let trace = get("lambda-runtime-trace-id").expect("trace id");
    assert!(
        trace.starts_with("Root=1-") && trace.contains(";Parent=") && trace.ends_with(";Sampled=0"),
        "{trace}"
    );
    assert_eq!(
        get("lambda-runtime-client-context").as_deref(),
        Some(r#"{"custom":{"k":"v"}}"#)
    );
    assert_eq!(
        get("lambda-runtime-cognito-identity").as_deref(),
        Some(r#"{"cognitoIdentityId":"id","cognitoIdentityPoolId":"pool"}"#)
    );
    assert_eq!(next.text().await.expect("body"), r#"{"n":1}"#);

    // --- 2. a second next while an invocation is in flight: 403 -------------------------
    let r = next_event(&http, &api).await;
    assert_eq!(r.status(), 403);
    let body: serde_json::Value = r.json().await.expect("json");
    assert_eq!(body["errorType"], "InvalidStateTransition");

    // --- 3. wrong request id: 400 InvalidRequestID, for response and error --------------
    for path in ["response", "error"] {
        let r = http
            .post(format!("{api}/runtime/invocation/not-the-id/{path}"))
            .body("{}")
            .send()
            .await
            .expect("post");
        assert_eq!(r.status(), 400, "{path}");
        assert_eq!(
            r.text().await.expect("body"),
            r#"{"errorMessage":"Invalid request ID","errorType":"InvalidRequestID"}"#
        );
    }

    // --- 4. init/error after init: 403 ---------------------------------------------------
    let r = http
        .post(format!("{api}/runtime/init/error"))
        .body("{}")
        .send()
        .await
        .expect("post");
    assert_eq!(r.status(), 403);
    let body: serde_json::Value = r.json().await.expect("json");
    assert_eq!(body["errorType"], "InvalidStateTransition");

    // --- 5. response: 202 {"status":"OK"}, the caller gets the bytes ---------------------
    let r = http
        .post(format!("{api}/runtime/invocation/{rid}/response"))
        .body(r#"{"answer":42}"#)
        .send()
        .await
        .expect("post");
    assert_eq!(r.status(), 202);
    assert_eq!(r.text().await.expect("body"), r#"{"status":"OK"}"#);
    let result = first.await.expect("join").expect("invoke");
    assert_eq!(result.request_id.as_str(), rid);
    assert_eq!(
        result.outcome,
        InvokeOutcome::Success {
            payload: r#"{"answer":42}"#.into()
        }
    );
    assert!(
        result.report.expect("report").init_duration.is_some(),
        "first invoke is cold"
    );

    // --- 6. responding twice: 403 (no invocation in flight) ------------------------------
    let r = http
        .post(format!("{api}/runtime/invocation/{rid}/response"))
        .body("{}")
        .send()
        .await
        .expect("post");
    assert_eq!(r.status(), 403);

    // --- 7. next blocks while nothing is queued (no server timeout) ----------------------
    let pending = http.get(format!("{api}/runtime/invocation/next")).send();
    tokio::pin!(pending);
    assert!(
        tokio::time::timeout(Duration::from_millis(300), &mut pending)
            .await
            .is_err(),
        "next must wait for an event, not answer"
    );
    // --- 8. error: 202, caller gets the body as a function error -------------------------
    let second = spawn_invoke(&h, "Conf", b"{}");
    let next = pending.await.expect("next answered once an event came");
    let rid2 = request_id(&next);
    assert_ne!(rid2, rid);
    let r = http
        .post(format!("{api}/runtime/invocation/{rid2}/error"))
        .header("Lambda-Runtime-Function-Error-Type", "Runtime.Custom")
        .body(r#"{"errorMessage":"bad","errorType":"Custom"}"#)
        .send()
        .await
        .expect("post");
    assert_eq!(r.status(), 202);
    let result = second.await.expect("join").expect("invoke");
    assert_eq!(
        result.outcome,
        InvokeOutcome::FunctionError {
            payload: r#"{"errorMessage":"bad","errorType":"Custom"}"#.into(),
            error_type: "Runtime.Custom".into()
        }
    );
    assert!(
        result.report.expect("report").init_duration.is_none(),
        "second invoke is warm"
    );

    // --- 9. a response of exactly 6291556 bytes is accepted; one byte more is 413 --------
    for (size, ok) in [(6_291_556usize, true), (6_291_557, false)] {
        let call = spawn_invoke(&h, "Conf", b"{}");
        let next = next_event(&http, &api).await;
        let id = request_id(&next);
        let r = http
            .post(format!("{api}/runtime/invocation/{id}/response"))
            .body(vec![b'x'; size])
            .send()
            .await
            .expect("post");
        let result = call.await.expect("join").expect("invoke");
        if ok {
            assert_eq!(r.status(), 202);
            assert_eq!(result.outcome.payload().len(), size);
        } else {
            assert_eq!(r.status(), 413);
            assert_eq!(
                r.text().await.expect("body"),
                r#"{"errorMessage":"Exceeded maximum allowed payload size (6291556 bytes).","errorType":"RequestEntityTooLarge"}"#
            );
            assert_eq!(
                result.outcome.payload(),
                br#"{"errorMessage":"Response payload size exceeded maximum allowed payload size (6291556 bytes).","errorType":"Function.ResponseSizeTooLarge"}"#
            );
            assert!(result.outcome.is_function_error());
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn init_error_reaches_the_caller_and_the_next_invoke_is_cold() {
    let h = harness();
    h.deploy(provided("InitErr", fixture("provided/conformance")))
        .await;
    let http = reqwest::Client::new();
    let call = spawn_invoke(&h, "InitErr", b"{}");
    let api = api_of(&h, "InitErr").await;
    let body = r#"{"errorMessage":"no config","errorType":"Runtime.ConfigError","requestId":"","stackTrace":[]}"#;
    let r = http
        .post(format!("{api}/runtime/init/error"))
        .header("Lambda-Runtime-Function-Error-Type", "Runtime.ConfigError")
        .body(body)
        .send()
        .await
        .expect("post");
    assert_eq!(r.status(), 202);
    assert_eq!(r.text().await.expect("body"), r#"{"status":"OK"}"#);
    let result = call.await.expect("join").expect("invoke");
    assert_eq!(result.outcome.payload(), body.as_bytes());
    assert!(result.outcome.is_function_error());
    let stats = h.rt.stats(&name("InitErr")).await.expect("stats");
    assert_eq!(stats.idle, 0, "a failed environment is not kept");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_environment_has_its_own_runtime_api() {
    let h = harness();
    h.deploy(provided("IsoA", fixture("provided/conformance")))
        .await;
    h.deploy(provided("IsoB", fixture("provided/conformance")))
        .await;
    let http = reqwest::Client::new();
    let a = spawn_invoke(&h, "IsoA", br#""for A""#);
    let b = spawn_invoke(&h, "IsoB", br#""for B""#);
    let api_a = api_of(&h, "IsoA").await;
    let api_b = api_of(&h, "IsoB").await;
    assert_ne!(api_a, api_b);
    let na = next_event(&http, &api_a).await;
    let id_a = request_id(&na);
    assert_eq!(na.text().await.expect("body"), r#""for A""#);
    let nb = next_event(&http, &api_b).await;
    let id_b = request_id(&nb);
    assert_eq!(nb.text().await.expect("body"), r#""for B""#);
    // B's API cannot answer A's invocation.
    let r = http
        .post(format!("{api_b}/runtime/invocation/{id_a}/response"))
        .body("\"hijacked\"")
        .send()
        .await
        .expect("post");
    assert_eq!(r.status(), 400);
    for (api, id, body) in [(&api_a, &id_a, "\"A ok\""), (&api_b, &id_b, "\"B ok\"")] {
        let r = http
            .post(format!("{api}/runtime/invocation/{id}/response"))
            .body(body)
            .send()
            .await
            .expect("post");
        assert_eq!(r.status(), 202);
    }
    assert_eq!(
        a.await.expect("join").expect("invoke").outcome.payload(),
        b"\"A ok\""
    );
    assert_eq!(
        b.await.expect("join").expect("invoke").outcome.payload(),
        b"\"B ok\""
    );
}

/// ledge's Python bootstrap pipelines `GET /next` behind each result and says so with
/// `Ledge-Next-Pipelined`; ledge then answers the post together with the next event.
/// The invocation completes when the post arrives, not when the 202 leaves.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pipelined_result_is_acknowledged_with_the_next_event() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    let h = harness();
    h.deploy(provided("Pipe", fixture("provided/conformance")))
        .await;
    let first = spawn_invoke(&h, "Pipe", b"1");
    let api = api_of(&h, "Pipe").await;
    let rid = request_id(&next_event(&reqwest::Client::new(), &api).await);

    // The result and the next poll in one write, on a connection of our own.
    let host = api
        .trim_start_matches("http://")
        .trim_end_matches("/2018-06-01");
    let mut tcp = tokio::net::TcpStream::connect(host).await.expect("connect");
    let wire = format!(
        "POST /2018-06-01/runtime/invocation/{rid}/response HTTP/1.1\r\nHost: {host}\r\n\
         Ledge-Next-Pipelined: 1\r\nContent-Length: 4\r\n\r\n\"ok\"\
         GET /2018-06-01/runtime/invocation/next HTTP/1.1\r\nHost: {host}\r\n\r\n"
    );
    tcp.write_all(wire.as_bytes()).await.expect("send");

    let done = tokio::time::timeout(Duration::from_secs(5), first)
        .await
        .expect("the invocation completes while its 202 is held")
        .expect("join")
        .expect("invoke");
    match done.outcome {
        InvokeOutcome::Success { payload } => assert_eq!(&payload[..], b"\"ok\""),
        other => panic!("{other:?}"),
    }
    let mut buf = vec![0u8; 64 * 1024];
    let early = tokio::time::timeout(Duration::from_millis(300), tcp.read(&mut buf)).await;
    assert!(early.is_err(), "the 202 waits for the next event");

    let second = spawn_invoke(&h, "Pipe", b"2");
    let mut got = Vec::new();
    while !String::from_utf8_lossy(&got).ends_with("\r\n\r\n2") {
        let n = tokio::time::timeout(Duration::from_secs(5), tcp.read(&mut buf))
            .await
            .expect("202 and the event arrive")
            .expect("read");
        assert!(
            n > 0,
            "connection closed: {}",
            String::from_utf8_lossy(&got)
        );
        got.extend_from_slice(&buf[..n]);
    }
    let text = String::from_utf8_lossy(&got).into_owned();
    assert!(text.starts_with("HTTP/1.1 202 Accepted\r\n"), "{text}");
    assert!(
        text.contains("{\"status\":\"OK\"}HTTP/1.1 200 OK\r\n"),
        "{text}"
    );
    let rid2 = text
        .lines()
        .find_map(|l| l.strip_prefix("lambda-runtime-aws-request-id: "))
        .expect("the next event's request id");
    assert_ne!(rid2, rid);
    // Answer it the plain way, so the second caller gets its result too.
    let r = reqwest::Client::new()
        .post(format!("{api}/runtime/invocation/{rid2}/response"))
        .body("\"two\"")
        .send()
        .await
        .expect("post");
    assert_eq!(r.status(), 202);
    let second = second.await.expect("join").expect("invoke");
    assert!(matches!(second.outcome, InvokeOutcome::Success { .. }));
}
