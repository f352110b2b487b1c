//! The managed Python runtime end to end: real interpreters under the real sandbox,
//! checked against the bytes AWS's Python runtime produces.

mod common;

use std::time::Duration;

use common::*;
use ledge_model::{InvokeOutcome, InvokeRequest, MemoryMb, TimeoutSecs};

fn error_json(r: &ledge_model::InvokeResult) -> serde_json::Value {
    assert!(
        r.outcome.is_function_error(),
        "expected a function error, got {:?}",
        r.outcome
    );
    json(r)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn success_and_warm_reuse() {
    let h = harness();
    h.deploy(python("Ok", "ok", "app.handler")).await;
    let r = h.invoke("Ok", r#"{"name":"ledge"}"#).await;
    assert_eq!(
        r.outcome,
        InvokeOutcome::Success {
            payload: r#"{"hello": "ledge"}"#.into()
        }
    );
    assert!(r.report.expect("report").init_duration.is_some());
    let r2 = h.invoke("Ok", r#"{"name":"again"}"#).await;
    assert_eq!(r2.outcome.payload(), br#"{"hello": "again"}"#);
    assert!(r2.report.expect("report").init_duration.is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn handler_in_a_package() {
    let h = harness();
    h.deploy(python("Pkg", "pkg", "mypkg.sub.mod.handler"))
        .await;
    assert_eq!(
        json(&h.invoke("Pkg", "{}").await)["module"],
        "mypkg.sub.mod"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn context_object_and_environment() {
    let h = harness();
    h.deploy(python("Ctx", "context", "app.handler")).await;
    let mut req = InvokeRequest::new(name("Ctx"), b"{}".to_vec());
    req.client_context = Some(
        r#"{"client":{"installation_id":"i","app_title":"t","app_version_name":"n","app_version_code":"c","app_package_name":"p"},"custom":{"k":"v"},"env":{"e":"1"}}"#.into(),
    );
    req.cognito_identity =
        Some(r#"{"cognitoIdentityId":"cid","cognitoIdentityPoolId":"pool"}"#.into());
    let r = h.invoke_req(req).await;
    let v = json(&r);
    assert_eq!(v["aws_request_id"], r.request_id.as_str());
    assert_eq!(v["function_name"], "Ctx");
    assert_eq!(v["function_version"], "$LATEST");
    assert_eq!(
        v["invoked_function_arn"],
        "arn:aws:lambda:us-east-1:123456789012:function:Ctx"
    );
    assert_eq!(
        v["memory_limit_in_mb"], "256",
        "a string, as in AWS's runtime"
    );
    assert_eq!(v["log_group_name"], "/aws/lambda/Ctx");
    let stream = v["log_stream_name"].as_str().expect("stream");
    assert!(
        stream.len() == "2024/01/01/[$LATEST]".len() + 32 && stream.contains("/[$LATEST]"),
        "{stream}"
    );
    let remaining = v["remaining_time_in_millis"].as_i64().expect("remaining");
    assert!((8_000..=10_000).contains(&remaining), "{remaining}");
    assert_eq!(v["identity"]["cognito_identity_id"], "cid");
    assert_eq!(v["identity"]["cognito_identity_pool_id"], "pool");
    assert_eq!(v["client_context"]["custom"]["k"], "v");
    assert_eq!(v["client_context"]["env"]["e"], "1");
    assert_eq!(v["client_context"]["client"]["app_title"], "t");
    let env = &v["environ"];
    assert_eq!(env["_HANDLER"], "app.handler");
    assert_eq!(env["AWS_REGION"], "us-east-1");
    assert_eq!(env["AWS_EXECUTION_ENV"], "AWS_Lambda_python3.11");
    assert_eq!(env["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"], "256");
    assert_eq!(env["TZ"], ":UTC");
    assert_eq!(env["LANG"], "en_US.UTF-8");
    assert!(env["_X_AMZN_TRACE_ID"]
        .as_str()
        .expect("trace")
        .starts_with("Root=1-"));
    assert!(
        env["_LEDGE_SITE_DIRS"].is_null()
            && env["_LEDGE_OPT_DIR"].is_null()
            && env["_LEDGE_RUNTIME_SOCKET"].is_null(),
        "private variables are removed"
    );
    let task_root = env["LAMBDA_TASK_ROOT"].as_str().expect("task root");
    assert_eq!(v["cwd"], task_root);
    let path: Vec<&str> = v["sys_path"]
        .as_array()
        .expect("path")
        .iter()
        .filter_map(|p| p.as_str())
        .collect();
    assert_eq!(path[0], task_root, "the code comes first on sys.path");
    assert!(
        path[1].ends_with("/python/lib/python3.11/site-packages") && path[2].ends_with("/python"),
        "{path:?}"
    );
    if h.rt.capabilities().mount_ns {
        assert_eq!(task_root, "/var/task");
        assert_eq!(path[1], "/opt/python/lib/python3.11/site-packages");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn handler_exception_has_awss_shape_and_log_line() {
    let h = harness();
    h.deploy(python("Raises", "raises", "app.handler")).await;
    let r = h.invoke("Raises", "{}").await;
    let v = error_json(&r);
    let keys: Vec<&String> = v.as_object().expect("object").keys().collect();
    assert_eq!(
        keys,
        ["errorMessage", "errorType", "requestId", "stackTrace"]
    );
    assert_eq!(v["errorMessage"], "boom");
    assert_eq!(v["errorType"], "ValueError");
    assert_eq!(v["requestId"], r.request_id.as_str());
    let trace: Vec<&str> = v["stackTrace"]
        .as_array()
        .expect("trace")
        .iter()
        .filter_map(|s| s.as_str())
        .collect();
    assert!(
        trace
            .iter()
            .any(|l| l.contains("app.py\", line 2, in fail")),
        "{trace:?}"
    );
    assert!(
        !trace.iter().any(|l| l.contains("bootstrap.py")),
        "bootstrap frames are stripped: {trace:?}"
    );
    let log = h.wait_log("Raises", "[ERROR] ValueError: boom").await;
    let line = log
        .lines()
        .find(|l| l.starts_with("[ERROR] ValueError: boom"))
        .expect("line");
    assert!(
        line.contains("\rTraceback (most recent call last):\r"),
        "one log event joined by \\r: {line:?}"
    );
    // The environment survives a handled exception.
    let again = h.invoke("Raises", "{}").await;
    assert!(again.report.expect("report").init_duration.is_none());
}

async fn init_failure(dir: &str, handler: &str) -> serde_json::Value {
    let h = harness();
    h.deploy(python("Init", dir, handler)).await;
    let r = h.invoke("Init", "{}").await;
    let v = error_json(&r);
    assert_eq!(v["requestId"], "", "init errors carry an empty requestId");
    assert_eq!(h.rt.stats(&name("Init")).await.expect("stats").idle, 0);
    v
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn init_error_types() {
    let v = init_failure("import_error", "app.handler").await;
    assert_eq!(v["errorType"], "Runtime.ImportModuleError");
    assert_eq!(
        v["errorMessage"],
        "Unable to import module 'app': No module named 'this_module_does_not_exist'"
    );

    let v = init_failure("syntax_error", "app.handler").await;
    assert_eq!(v["errorType"], "Runtime.UserCodeSyntaxError");
    assert!(
        v["errorMessage"]
            .as_str()
            .expect("msg")
            .starts_with("Syntax error in module 'app'"),
        "{v}"
    );

    let v = init_failure("no_handler", "app.handler").await;
    assert_eq!(v["errorType"], "Runtime.HandlerNotFound");
    assert_eq!(
        v["errorMessage"],
        "Handler 'handler' missing on module 'app'"
    );

    let v = init_failure("init_raises", "app.handler").await;
    assert_eq!(v["errorType"], "RuntimeError");
    assert_eq!(v["errorMessage"], "init failed");

    let v = init_failure("ok", "app").await;
    assert_eq!(v["errorType"], "Runtime.MalformedHandlerName");

    let v = init_failure("ok", "sys.handler").await;
    assert_eq!(v["errorType"], "Runtime.BuiltInModuleConflict");
    assert_eq!(
        v["errorMessage"],
        "Cannot use built-in module sys as a handler module"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn marshal_error() {
    let h = harness();
    h.deploy(python("Marshal", "marshal_error", "app.handler"))
        .await;
    let v = error_json(&h.invoke("Marshal", "{}").await);
    assert_eq!(v["errorType"], "Runtime.MarshalError");
    assert_eq!(
        v["errorMessage"],
        "Unable to marshal response: Object of type set is not JSON serializable"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_logging_and_print_order() {
    let h = harness();
    h.deploy(python("Logs", "logs", "app.handler")).await;
    let r = h.invoke("Logs", "{}").await;
    let id = r.request_id.to_string();
    let log = h.log("Logs");
    let lines: Vec<&str> = log.lines().collect();
    let pos = |p: &str| {
        lines
            .iter()
            .position(|l| l.contains(p))
            .unwrap_or_else(|| panic!("no {p:?} in\n{log}"))
    };
    assert!(pos("START RequestId") < pos("first line"));
    assert!(pos("first line") < pos("info message") && pos("info message") < pos("second line"));
    assert!(pos("second line") < pos("a warning") && pos("a warning") < pos("last line"));
    assert!(pos("last line") < pos("END RequestId"));
    let info = lines[pos("info message")];
    let parts: Vec<&str> = info.split('\t').collect();
    assert_eq!(parts[0], "[INFO]");
    assert!(
        parts[1].len() == 24 && parts[1].ends_with('Z'),
        "timestamp like 2024-01-01T00:00:00.000Z: {info:?}"
    );
    assert_eq!(parts[2], id);
    assert_eq!(parts[3], "info message");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tmp_is_private_and_survives_warm_invokes() {
    let h = harness();
    h.deploy(python("TmpA", "tmp", "app.handler")).await;
    h.deploy(python("TmpB", "tmp", "app.handler")).await;
    assert_eq!(json(&h.invoke("TmpA", "{}").await)["count"], 1);
    assert_eq!(json(&h.invoke("TmpA", "{}").await)["count"], 2);
    assert_eq!(
        json(&h.invoke("TmpB", "{}").await)["count"],
        1,
        "another function has its own /tmp"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_timeout() {
    let h = harness();
    let mut spec = python("Sleep", "sleep", "app.handler");
    spec.timeout = TimeoutSecs::new(1).expect("timeout");
    h.deploy(spec).await;
    let r = h.invoke("Sleep", r#"{"seconds":5}"#).await;
    assert!(matches!(r.outcome, InvokeOutcome::Timeout { .. }));
    assert_eq!(json(&r)["errorType"], "Sandbox.Timedout");
    let ok = h.invoke("Sleep", r#"{"seconds":0}"#).await;
    assert_eq!(ok.outcome.payload(), br#"{"slept": 0}"#);
    assert!(ok.report.expect("report").init_duration.is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_crash_is_exit_error() {
    let h = harness();
    h.deploy(python("Crash", "crash", "app.handler")).await;
    let r = h.invoke("Crash", r#"{"code":3}"#).await;
    let id = r.request_id.to_string();
    assert_eq!(
        r.outcome.payload(),
        format!(r#"{{"errorType":"Runtime.ExitError","errorMessage":"RequestId: {id} Error: Runtime exited with error: exit status 3"}}"#).as_bytes()
    );
    assert_eq!(
        h.invoke("Crash", r#"{"crash":false}"#)
            .await
            .outcome
            .payload(),
        br#""alive""#
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_python_response() {
    let h = harness();
    h.deploy(python("Big", "big", "app.handler")).await;
    let ok = h.invoke("Big", r#"{"bytes":6291556}"#).await;
    assert_eq!(ok.outcome.payload().len(), 6_291_556);
    let too_big = h.invoke("Big", r#"{"bytes":6291557}"#).await;
    assert_eq!(json(&too_big)["errorType"], "Function.ResponseSizeTooLarge");
    assert!(too_big.outcome.is_function_error());
    // The runtime exits after a refused response; the next caller gets a fresh environment.
    let next = h.invoke("Big", r#"{"bytes":12}"#).await;
    assert_eq!(next.outcome.payload(), br#""xxxxxxxxxx""#);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn memory_limit_oom_and_max_memory_used() {
    let h = harness();
    if !h.rt.capabilities().memory_limit {
        eprintln!("SKIP: no memory cgroup here: {}", h.rt.sandbox_notice());
        return;
    }
    let mut spec = python("Mem", "memory", "app.handler");
    spec.memory = MemoryMb::new(128).expect("mem");
    h.deploy(spec).await;
    let fits = h.invoke("Mem", r#"{"mb":60}"#).await;
    assert!(
        matches!(fits.outcome, InvokeOutcome::Success { .. }),
        "{:?}",
        fits.outcome
    );
    let used = fits.report.expect("report").max_memory_used_mb;
    assert!(
        (60..=128).contains(&used),
        "Max Memory Used {used} MB reflects the 60 MB the handler touched"
    );
    let r = h.invoke("Mem", r#"{"mb":300}"#).await;
    let id = r.request_id.to_string();
    assert_eq!(
        r.outcome,
        InvokeOutcome::Crashed {
            payload: format!(r#"{{"errorType":"Runtime.OutOfMemory","errorMessage":"RequestId: {id} Error: Runtime exited with error: signal: killed"}}"#).into(),
            error_type: "Runtime.OutOfMemory".into()
        }
    );
    assert_eq!(r.report.expect("report").max_memory_used_mb, 128);
    assert!(matches!(
        h.invoke("Mem", r#"{"mb":10}"#).await.outcome,
        InvokeOutcome::Success { .. }
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cpu_quota_follows_memory() {
    let h = harness();
    if !h.rt.capabilities().cpu_quota {
        eprintln!("SKIP: no cpu cgroup here: {}", h.rt.sandbox_notice());
        return;
    }
    let mut small = python("Cpu128", "cpu", "app.handler");
    small.memory = MemoryMb::new(128).expect("mem");
    let mut big = python("Cpu1769", "cpu", "app.handler");
    big.memory = MemoryMb::new(1769).expect("mem");
    h.deploy(small).await;
    h.deploy(big).await;
    // Warm both, then run the same 60 ms of CPU work at each size. The checks are about
    // the quota, not the machine: another load can only lower a function's CPU share.
    h.invoke("Cpu128", r#"{"ms":1}"#).await;
    h.invoke("Cpu1769", r#"{"ms":1}"#).await;
    // CPU statistics are read only when an invocation asks (power tuning does).
    let measured = |f: &str| {
        let mut req = InvokeRequest::new(name(f), br#"{"ms":60}"#.to_vec());
        req.measure_cpu = true;
        req
    };
    let unmeasured = h
        .invoke("Cpu128", r#"{"ms":1}"#)
        .await
        .report
        .expect("report");
    assert_eq!(unmeasured.cpu_time, None, "CPU read without being asked");
    let slow = h
        .invoke_req(measured("Cpu128"))
        .await
        .report
        .expect("report");
    let fast = h
        .invoke_req(measured("Cpu1769"))
        .await
        .report
        .expect("report");
    let share = |r: &ledge_model::InvokeReport| {
        r.cpu_time.expect("cpu time measured").as_secs_f64() / r.duration.as_secs_f64()
    };
    // 128 MB gets 128/1769 = 7.2 % of a core (CFS periods allow a little more over a
    // short run); 60 ms of CPU therefore takes several hundred milliseconds.
    assert!(
        share(&slow) < 0.2,
        "128 MB used {:.3} of a core",
        share(&slow)
    );
    assert!(
        slow.duration > Duration::from_millis(300),
        "128 MB took {:?}",
        slow.duration
    );
    let throttled = slow.cpu_throttled.expect("throttled time measured");
    assert!(
        throttled > Duration::from_millis(100),
        "128 MB was throttled for {throttled:?}"
    );
    // 1769 MB has a whole core: a single thread is never held back by its quota.
    let fast_throttled = fast.cpu_throttled.expect("throttled time measured");
    assert!(
        fast_throttled < Duration::from_millis(20),
        "1769 MB was throttled for {fast_throttled:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_python_version_falls_back_with_a_warning() {
    let h = harness();
    let mut spec = python("Future", "ok", "app.handler");
    spec.runtime = "python3.99".parse().expect("runtime");
    let report = h.rt.deploy(spec).await.expect("deploy");
    assert_eq!(report.warnings.len(), 1, "{:?}", report.warnings);
    assert!(
        report.warnings[0].contains("python3.99 is not installed"),
        "{:?}",
        report.warnings
    );
    assert_eq!(
        h.invoke("Future", r#"{"name":"x"}"#)
            .await
            .outcome
            .payload(),
        br#"{"hello": "x"}"#
    );
}
