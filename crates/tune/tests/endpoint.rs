//! The `--endpoint` path against a stand-in Lambda API speaking botocore's shapes:
//! GetFunctionConfiguration, UpdateFunctionConfiguration with the `LastUpdateStatus`
//! waiter, Invoke with `X-Amz-Log-Type: Tail`, PublishVersion, Create/UpdateAlias.

use std::sync::{Arc, Mutex};

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::routing::{get, post, put};
use axum::{Json, Router};
use base64::Engine;
use ledge_pricing::PriceBook;
use ledge_tune::remote::EndpointTarget;
use ledge_tune::TuneInput;
use serde_json::{json, Value};

#[derive(Default)]
struct Fn {
    memory: u64,
    description: String,
    pending_polls: u32,
    fresh: bool,
    invoked: Vec<u64>,
    updates: Vec<Value>,
    aliases: Vec<(String, String)>,
    versions: u32,
    tail_requested: bool,
    /// Undo every MemorySize change, as a template reload would.
    revert: bool,
}

type S = Arc<Mutex<Fn>>;

fn config(f: &Fn, status: &str) -> Value {
    json!({
        "FunctionName": "Primes", "MemorySize": f.memory, "Description": f.description,
        "Architectures": ["x86_64"], "State": "Active", "LastUpdateStatus": status,
        "Runtime": "python3.11", "Handler": "app.handler"
    })
}

async fn get_config(State(s): State<S>) -> Json<Value> {
    let mut f = s.lock().expect("lock");
    let status = if f.pending_polls > 0 {
        f.pending_polls -= 1;
        "InProgress"
    } else {
        "Successful"
    };
    Json(config(&f, status))
}

async fn put_config(State(s): State<S>, Json(body): Json<Value>) -> Json<Value> {
    let mut f = s.lock().expect("lock");
    if let Some(m) = body["MemorySize"].as_u64().filter(|_| !f.revert) {
        f.memory = m;
    }
    if let Some(d) = body["Description"].as_str() {
        f.description = d.to_owned();
    }
    f.updates.push(body);
    f.pending_polls = 2;
    f.fresh = true;
    Json(config(&f, "InProgress"))
}

async fn invoke(State(s): State<S>, headers: HeaderMap) -> impl IntoResponse {
    let mut f = s.lock().expect("lock");
    f.tail_requested |= headers.get("x-amz-log-type").is_some_and(|v| v == "Tail");
    let mem = f.memory;
    f.invoked.push(mem);
    let cold = std::mem::take(&mut f.fresh);
    let dur = 20.0 * (1769.0 / mem as f64).max(1.0);
    let init = if cold {
        "Init Duration: 150.25 ms\t"
    } else {
        ""
    };
    let billed = (dur + if cold { 150.25 } else { 0.0 }).ceil();
    let log = format!("START RequestId: r Version: $LATEST\nEND RequestId: r\nREPORT RequestId: r\tDuration: {dur:.2} ms\tBilled Duration: {billed} ms\tMemory Size: {mem} MB\tMax Memory Used: 50 MB\t{init}\n");
    let mut h = HeaderMap::new();
    h.insert(
        "x-amz-log-result",
        base64::engine::general_purpose::STANDARD
            .encode(log)
            .parse()
            .expect("hv"),
    );
    h.insert("x-amz-executed-version", "$LATEST".parse().expect("hv"));
    if mem < 256 {
        h.insert("x-amz-function-error", "Unhandled".parse().expect("hv"));
        return (StatusCode::OK, h, r#"{"errorType":"Runtime.OutOfMemory","errorMessage":"Runtime exited with error: signal: killed"}"#.to_owned());
    }
    (StatusCode::OK, h, "{\"ok\":true}".to_owned())
}

async fn publish(State(s): State<S>) -> (StatusCode, Json<Value>) {
    let mut f = s.lock().expect("lock");
    f.versions += 1;
    (
        StatusCode::CREATED,
        Json(json!({"Version": f.versions.to_string(), "MemorySize": f.memory})),
    )
}

async fn update_alias(
    State(s): State<S>,
    Path((_, name)): Path<(String, String)>,
    Json(b): Json<Value>,
) -> (StatusCode, Json<Value>) {
    let mut f = s.lock().expect("lock");
    if let Some(a) = f.aliases.iter_mut().find(|a| a.0 == name) {
        a.1 = b["FunctionVersion"].as_str().unwrap_or_default().to_owned();
        return (StatusCode::OK, Json(json!({"Name": name})));
    }
    (
        StatusCode::NOT_FOUND,
        Json(json!({"Type": "User", "message": "Alias not found"})),
    )
}

async fn create_alias(State(s): State<S>, Json(b): Json<Value>) -> (StatusCode, Json<Value>) {
    let mut f = s.lock().expect("lock");
    let name = b["Name"].as_str().unwrap_or_default().to_owned();
    f.aliases.push((
        name.clone(),
        b["FunctionVersion"].as_str().unwrap_or_default().to_owned(),
    ));
    (StatusCode::CREATED, Json(json!({"Name": name})))
}

async fn serve() -> (String, S) {
    let s: S = Arc::new(Mutex::new(Fn {
        memory: 1769,
        description: "orig".into(),
        ..Fn::default()
    }));
    let app = Router::new()
        .route(
            "/2015-03-31/functions/{f}/configuration",
            get(get_config).put(put_config),
        )
        .route("/2015-03-31/functions/{f}/invocations", post(invoke))
        .route("/2015-03-31/functions/{f}/versions", post(publish))
        .route("/2015-03-31/functions/{f}/aliases", post(create_alias))
        .route("/2015-03-31/functions/{f}/aliases/{a}", put(update_alias))
        .with_state(s.clone());
    let l = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let url = format!("http://{}", l.local_addr().expect("addr"));
    tokio::spawn(async move {
        let _ = axum::serve(l, app).await;
    });
    (url, s)
}

async fn tune(url: &str, input: Value) -> ledge_tune::TuneOutput {
    let target = EndpointTarget::connect(url, "Primes".parse().expect("name"))
        .await
        .expect("connect");
    let plan = TuneInput::from_json(&input.to_string())
        .expect("input")
        .plan(|_| Ok(vec![]))
        .expect("plan");
    ledge_tune::tune(&target, &plan, &ledge_tune::Silent, PriceBook::builtin())
        .await
        .expect("tune")
        .1
        .expect("output")
}

#[tokio::test]
async fn sizes_run_in_blocks_through_update_function_configuration_and_the_original_comes_back() {
    let (url, s) = serve().await;
    let out = tune(
        &url,
        json!({"num": 5, "powerValues": [128, 512, 1024], "coldStarts": 2}),
    )
    .await;
    let f = s.lock().expect("lock");
    assert!(f.tail_requested, "Invoke asks for the log tail");
    // Blocks: each size's invocations are contiguous.
    let mut seen = Vec::new();
    for m in &f.invoked {
        if seen.last() != Some(m) {
            assert!(
                !seen.contains(m),
                "size {m} ran in two blocks: {:?}",
                f.invoked
            );
            seen.push(*m);
        }
    }
    // The OOM size is not viable; the others are tuned from REPORT lines.
    let s128 = out
        .ledge
        .sizes
        .iter()
        .find(|s| s.memory == 128)
        .expect("128");
    assert!(
        !s128.viable
            && s128
                .reason
                .as_deref()
                .unwrap_or("")
                .contains("out of memory")
    );
    let s512 = out
        .ledge
        .sizes
        .iter()
        .find(|s| s.memory == 512)
        .expect("512");
    let d = s512.duration.as_ref().expect("d").mean.value;
    assert!((d - 20.0 * 1769.0 / 512.0).abs() < 0.01, "{d}");
    assert_eq!(
        s512.cold.as_ref().expect("cold").samples,
        2,
        "a changed Description forced the second cold start"
    );
    assert!((s512.cold.as_ref().expect("cold").init_ms.value - 150.25).abs() < 1e-6);
    assert!(!out.ledge.target.interleaved);
    // Restored: memory and description as before.
    assert_eq!((f.memory, f.description.as_str()), (1769, "orig"));
    assert!(f.updates.iter().any(|u| u["Description"]
        .as_str()
        .is_some_and(|d| d.contains("cold start"))));
}

#[tokio::test]
async fn auto_optimize_sets_the_memory_and_points_an_alias_at_a_new_version() {
    let (url, s) = serve().await;
    let out = tune(&url, json!({"num": 5, "powerValues": [512, 1024], "strategy": "speed", "autoOptimize": true, "autoOptimizeAlias": "live"})).await;
    assert_eq!(out.power, 1024);
    let f = s.lock().expect("lock");
    assert_eq!(f.memory, 1024, "the chosen size stays");
    assert_eq!(f.aliases, vec![("live".to_owned(), "1".to_owned())]);
    assert!(
        out.ledge
            .applied
            .as_deref()
            .unwrap_or("")
            .contains("alias live → 1"),
        "{:?}",
        out.ledge.applied
    );
}

#[tokio::test]
async fn a_missing_control_plane_is_a_clear_error() {
    let app = Router::new();
    let l = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let url = format!("http://{}", l.local_addr().expect("addr"));
    tokio::spawn(async move {
        let _ = axum::serve(l, app).await;
    });
    let e = EndpointTarget::connect(&url, "Primes".parse().expect("name"))
        .await
        .err()
        .expect("error");
    assert!(e.to_string().contains("GetFunctionConfiguration"), "{e}");
}

#[tokio::test]
async fn a_size_that_does_not_stick_is_not_measured_as_that_size() {
    let (url, s) = serve().await;
    s.lock().expect("lock").revert = true;
    let out = tune(&url, json!({"num": 5, "powerValues": [512, 1024]})).await;
    for size in &out.ledge.sizes {
        assert!(!size.viable, "{} MB", size.memory);
        let why = size.reason.as_deref().unwrap_or("");
        assert!(
            why.contains("MemorySize is 1769 after UpdateFunctionConfiguration"),
            "{why}"
        );
    }
    assert!(
        s.lock().expect("lock").invoked.is_empty(),
        "nothing ran at the wrong size"
    );
}
