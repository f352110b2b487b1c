//! Lifecycle scenarios with real processes: warm reuse, scale-out and throttling,
//! timeouts, crashes, retirement on change, eviction, orphans, logs.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::time::Duration;

use common::*;
use ledge_model::{InvokeOutcome, InvokeRequest, ThrottleReason, TimeoutSecs};

/// Writes a `bootstrap` shell script into a fresh code dir. `MARK` in the script is
/// replaced by a unique marker, so tests can find their own processes.
fn script_fn(h: &Harness, body: &str) -> (PathBuf, String) {
    let mark = format!("mark{}", uuid_like());
    let dir = h.dir.path().join(format!("code-{mark}"));
    std::fs::create_dir_all(&dir).expect("mkdir");
    let path = dir.join("bootstrap");
    std::fs::write(&path, format!("#!/bin/sh\n{}", body.replace("MARK", &mark))).expect("write");
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    (dir, mark)
}

fn uuid_like() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    format!(
        "{}x{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

/// A shell runtime that answers each event with `{"pid":<its pid>,"event":<event>}`
/// after sleeping for the event's `sleep` seconds (if any).
const ECHO_RUNTIME: &str = r#"
API="http://${AWS_LAMBDA_RUNTIME_API}/2018-06-01"
while true; do
  H="$(mktemp)"
  EVENT=$(curl -sS -D "$H" "$API/runtime/invocation/next")
  ID=$(grep -Fi Lambda-Runtime-Aws-Request-Id "$H" | tr -d '[:space:]' | cut -d: -f2)
  rm -f "$H"
  S=$(echo "$EVENT" | sed -n 's/.*"sleep": *\([0-9.]*\).*/\1/p')
  [ -n "$S" ] && sh -c "sleep $S; : MARK"
  echo "answering $ID"
  curl -sS -X POST "$API/runtime/invocation/$ID/response" -d "{\"pid\":$$,\"event\":$EVENT}" >/dev/null
done
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn curl_custom_runtime_cold_then_warm() {
    let h = harness();
    h.deploy(provided("Curl", fixture("provided/curl"))).await;
    let r1 = h.invoke("Curl", r#"{"a":1}"#).await;
    let v1 = json(&r1);
    assert_eq!(v1["echo"], serde_json::json!({"a":1}));
    assert_eq!(v1["handler"], "handler.ignored");
    assert!(r1.report.expect("report").init_duration.is_some());
    let r2 = h.invoke("Curl", r#"{"a":2}"#).await;
    assert_eq!(json(&r2)["echo"], serde_json::json!({"a":2}));
    assert!(
        r2.report.expect("report").init_duration.is_none(),
        "second call is warm"
    );
    let failed = h.invoke("Curl", r#"{"fail":true}"#).await;
    assert_eq!(
        failed.outcome,
        InvokeOutcome::FunctionError {
            payload: r#"{"errorMessage":"asked to fail","errorType":"ShellError"}"#.into(),
            error_type: "Runtime.ShellError".into()
        }
    );
    let stats = h.rt.stats(&name("Curl")).await.expect("stats");
    assert_eq!(stats.started, 1, "one environment served all three calls");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn warm_reuse_keeps_the_process() {
    let h = harness();
    let (dir, _) = script_fn(&h, ECHO_RUNTIME);
    h.deploy(provided("Echo", dir)).await;
    let a = json(&h.invoke("Echo", "{}").await)["pid"].clone();
    let b = json(&h.invoke("Echo", "{}").await)["pid"].clone();
    assert_eq!(a, b, "the second call reuses the process");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scale_out_to_reserved_concurrency_then_throttle() {
    let h = harness();
    let (dir, _) = script_fn(&h, ECHO_RUNTIME);
    let mut spec = provided("Busy", dir);
    spec.reserved_concurrency = Some(2);
    h.deploy(spec).await;
    let mut calls = Vec::new();
    for _ in 0..2 {
        let rt = h.rt.clone();
        calls.push(tokio::spawn(async move {
            ledge_model::Invoke::invoke(
                &*rt,
                InvokeRequest::new(name("Busy"), br#"{"sleep":1.5}"#.to_vec()),
            )
            .await
        }));
    }
    // Wait until both are running, then a third is refused at once.
    for _ in 0..200 {
        if h.rt.stats(&name("Busy")).await.expect("stats").busy == 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let third = h.invoke("Busy", "{}").await;
    assert_eq!(
        third.outcome,
        InvokeOutcome::Throttled {
            reason: ThrottleReason::ReservedFunctionConcurrentInvocationLimitExceeded
        }
    );
    let mut pids = Vec::new();
    for c in calls {
        let r = c.await.expect("join").expect("invoke");
        pids.push(json(&r)["pid"].clone());
    }
    assert_ne!(
        pids[0], pids[1],
        "two environments served the two concurrent calls"
    );
    assert_eq!(h.rt.stats(&name("Busy")).await.expect("stats").idle, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn account_concurrency_limit_throttles_across_functions() {
    let h = harness_with(|c| c.account_concurrency = 1);
    let (dir, _) = script_fn(&h, ECHO_RUNTIME);
    h.deploy(provided("One", dir.clone())).await;
    h.deploy(provided("Two", dir)).await;
    let rt = h.rt.clone();
    let slow = tokio::spawn(async move {
        ledge_model::Invoke::invoke(
            &*rt,
            InvokeRequest::new(name("One"), br#"{"sleep":1}"#.to_vec()),
        )
        .await
    });
    for _ in 0..200 {
        if h.rt.stats(&name("One")).await.expect("stats").busy == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let r = h.invoke("Two", "{}").await;
    assert_eq!(
        r.outcome,
        InvokeOutcome::Throttled {
            reason: ThrottleReason::ConcurrentInvocationLimitExceeded
        }
    );
    assert!(matches!(
        slow.await.expect("join").expect("invoke").outcome,
        InvokeOutcome::Success { .. }
    ));
    assert!(matches!(
        h.invoke("Two", "{}").await.outcome,
        InvokeOutcome::Success { .. }
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn timeout_kills_the_environment_and_the_next_call_is_cold() {
    let h = harness();
    let (dir, mark) = script_fn(&h, ECHO_RUNTIME);
    let mut spec = provided("Slow", dir);
    spec.timeout = TimeoutSecs::new(1).expect("timeout");
    h.deploy(spec).await;
    let r = h.invoke("Slow", r#"{"sleep":30}"#).await;
    let id = r.request_id.to_string();
    assert_eq!(
        r.outcome,
        InvokeOutcome::Timeout {
            payload: format!(
                r#"{{"errorType":"Sandbox.Timedout","errorMessage":"RequestId: {id} Error: Task timed out after 1.00 seconds"}}"#
            )
            .into()
        }
    );
    let report = r.report.expect("report");
    assert!(report.duration >= Duration::from_secs(1));
    // The environment and its children are gone.
    for _ in 0..100 {
        if pids_with(&mark).is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(
        pids_with(&mark).is_empty(),
        "the timed-out environment's processes were killed"
    );
    let log = h.log("Slow");
    assert!(
        log.contains(&format!("{id} Task timed out after 1.00 seconds")),
        "timeout line in the log:\n{log}"
    );
    let next = h.invoke("Slow", "{}").await;
    assert!(matches!(next.outcome, InvokeOutcome::Success { .. }));
    assert!(
        next.report.expect("report").init_duration.is_some(),
        "the call after a timeout is cold"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_runtime_that_exits_gives_runtime_exit_error() {
    let h = harness();
    h.deploy(provided("Exits", fixture("provided/exit_code")))
        .await;
    let r = h.invoke("Exits", "{}").await;
    let id = r.request_id.to_string();
    assert_eq!(
        r.outcome,
        InvokeOutcome::Crashed {
            payload: format!(
                r#"{{"errorType":"Runtime.ExitError","errorMessage":"RequestId: {id} Error: Runtime exited with error: exit status 127"}}"#
            )
            .into(),
            error_type: "Runtime.ExitError".into()
        }
    );
    assert!(h.log("Exits").contains("exiting with 127"));
    // ledge keeps serving: the next call starts a new environment and fails the same way.
    assert!(h.invoke("Exits", "{}").await.outcome.is_function_error());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crash_mid_invoke_is_an_exit_error_and_ledge_keeps_serving() {
    let h = harness();
    let (dir, _) = script_fn(
        &h,
        r#"
API="http://${AWS_LAMBDA_RUNTIME_API}/2018-06-01"
curl -sS "$API/runtime/invocation/next" >/dev/null
kill -SEGV $$
"#,
    );
    h.deploy(provided("Segv", dir)).await;
    let r = h.invoke("Segv", "{}").await;
    let id = r.request_id.to_string();
    assert_eq!(
        r.outcome.payload(),
        format!(r#"{{"errorType":"Runtime.ExitError","errorMessage":"RequestId: {id} Error: Runtime exited with error: signal: segmentation fault"}}"#).as_bytes()
    );
    assert!(h.invoke("Segv", "{}").await.outcome.is_function_error());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_bootstrap_is_invalid_entrypoint() {
    let h = harness();
    let dir = h.dir.path().join("empty-code");
    std::fs::create_dir_all(&dir).expect("mkdir");
    h.deploy(provided("NoBoot", dir)).await;
    let r = h.invoke("NoBoot", "{}").await;
    let id = r.request_id.to_string();
    assert_eq!(
        r.outcome.payload(),
        format!(r#"{{"errorType":"Runtime.InvalidEntrypoint","errorMessage":"RequestId: {id} Error: Couldn't find valid bootstrap(s): [/var/task/bootstrap /opt/bootstrap]"}}"#).as_bytes()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_config_change_retires_old_environments_after_their_invocation() {
    let h = harness();
    let (dir, mark) = script_fn(&h, ECHO_RUNTIME);
    let spec = provided("Change", dir);
    h.deploy(spec.clone()).await;
    let rt = h.rt.clone();
    let inflight = tokio::spawn(async move {
        ledge_model::Invoke::invoke(
            &*rt,
            InvokeRequest::new(name("Change"), br#"{"sleep":1}"#.to_vec()),
        )
        .await
    });
    for _ in 0..200 {
        if h.rt.stats(&name("Change")).await.expect("stats").busy == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let mut changed = spec.clone();
    changed.environment.insert("NEW".into(), "1".into());
    let report = h.rt.deploy(changed.clone()).await.expect("deploy");
    assert!(report.changed);
    // The in-flight invocation finishes on the old environment.
    let old = inflight.await.expect("join").expect("invoke");
    assert!(matches!(old.outcome, InvokeOutcome::Success { .. }));
    let old_pid = json(&old)["pid"].clone();
    // …which is then retired: the next call is cold, in a new process.
    let new = h.invoke("Change", "{}").await;
    assert!(new.report.expect("report").init_duration.is_some());
    assert_ne!(json(&new)["pid"], old_pid);
    // Deploying the same spec again changes nothing and keeps the warm environment.
    assert!(!h.rt.deploy(changed).await.expect("deploy").changed);
    let again = h.invoke("Change", "{}").await;
    assert!(again.report.expect("report").init_duration.is_none());
    assert_eq!(pids_with(&mark).len(), 0, "no stray children");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_environments_are_evicted_after_keep_alive() {
    let h = harness_with(|c| c.keep_alive = Duration::from_millis(300));
    let (dir, _) = script_fn(&h, ECHO_RUNTIME);
    h.deploy(provided("Idle", dir)).await;
    h.invoke("Idle", "{}").await;
    assert_eq!(h.rt.stats(&name("Idle")).await.expect("stats").idle, 1);
    let mut evicted = false;
    for _ in 0..200 {
        if h.rt.stats(&name("Idle")).await.expect("stats").idle == 0 {
            evicted = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(evicted, "the idle environment was evicted");
    let r = h.invoke("Idle", "{}").await;
    assert!(
        r.report.expect("report").init_duration.is_some(),
        "cold after eviction"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_leaves_no_process_behind_even_setsid_children() {
    let h = harness();
    let (dir, mark) = script_fn(
        &h,
        &format!(
            "setsid sh -c 'sleep 300; : MARK' &\nsh -c 'sleep 300; : MARK' &\n{}",
            ECHO_RUNTIME
        ),
    );
    h.deploy(provided("Orphans", dir)).await;
    assert!(matches!(
        h.invoke("Orphans", "{}").await.outcome,
        InvokeOutcome::Success { .. }
    ));
    assert!(
        pids_with(&mark).len() >= 2,
        "the background children are running"
    );
    h.rt.shutdown().await;
    for _ in 0..100 {
        if pids_with(&mark).is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(
        pids_with(&mark),
        Vec::<u32>::new(),
        "no process outlives the runtime"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logs_have_lambdas_platform_lines_around_the_output() {
    let h = harness();
    h.deploy(provided("Logs", fixture("provided/curl"))).await;
    let mut req = InvokeRequest::new(name("Logs"), b"{}".to_vec());
    req.capture_log = true;
    let r = h.invoke_req(req).await;
    let id = r.request_id.to_string();
    let log = h.log("Logs");
    let lines: Vec<&str> = log.lines().collect();
    let pos = |p: &str| {
        lines
            .iter()
            .position(|l| l.starts_with(p))
            .unwrap_or_else(|| panic!("no {p:?} in\n{log}"))
    };
    assert!(pos("INIT_START Runtime Version: provided:al2023") < pos("curl runtime ready"));
    assert!(pos("curl runtime ready") < pos(&format!("START RequestId: {id} Version: $LATEST")));
    assert!(pos(&format!("START RequestId: {id}")) < pos(&format!("handling {id}")));
    assert!(pos(&format!("handling {id}")) < pos(&format!("END RequestId: {id}")));
    let report = lines[pos(&format!("REPORT RequestId: {id}"))];
    let fields: Vec<&str> = report.split('\t').collect();
    assert!(
        fields[1].starts_with("Duration: ") && fields[1].ends_with(" ms"),
        "{report}"
    );
    assert!(fields[2].starts_with("Billed Duration: "), "{report}");
    assert_eq!(fields[3], "Memory Size: 128 MB");
    assert!(fields[4].starts_with("Max Memory Used: "), "{report}");
    assert!(fields[5].starts_with("Init Duration: "), "{report}");
    assert_eq!(*fields.last().expect("last"), "", "REPORT ends with a tab");
    let captured = r.log.as_deref().expect("log requested");
    // Every line of the invocation (on a cold start, the init output before START too),
    // as the function's log has them.
    assert!(
        captured.contains(&format!("START RequestId: {id}")) && log.ends_with(captured),
        "{captured}"
    );
    let tail = r.log_tail().expect("tail requested");
    assert!(
        tail.contains(&format!("START RequestId: {id}"))
            && tail.contains(&format!("REPORT RequestId: {id}"))
    );
    assert!(tail.len() <= 4096);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn functions_and_their_code_digests_persist_in_the_store() {
    let h = harness();
    h.deploy(provided("Rec", fixture("provided/curl"))).await;
    let rec =
        h.rt.store()
            .function("Rec")
            .expect("store")
            .expect("recorded");
    assert_eq!(
        rec.code_sha256.len(),
        44,
        "base64 of a SHA-256, as CodeSha256"
    );
    let reopened =
        ledge_runtime::Store::open(h.dir.path(), "us-east-1", "123456789012").expect("open");
    assert_eq!(
        reopened
            .function("Rec")
            .expect("store")
            .expect("still there")
            .code_sha256,
        rec.code_sha256
    );
    assert!(h.rt.remove(&name("Rec")).await);
    assert!(reopened.function("Rec").expect("store").is_none());
}
