//! The managed Node.js runtime end to end: the installed `node` under the real sandbox,
//! checked against the bytes AWS's Node.js runtime interface client produces.

mod common;

use common::*;
use ledge_model::{FunctionSpec, InvokeOutcome, InvokeRequest, LayerRef, MemoryMb, TimeoutSecs};

/// A `nodejs20.x` function from `tests/fixtures/node/<dir>`.
fn node(fn_name: &str, dir: &str, handler: &str) -> FunctionSpec {
    let mut s = FunctionSpec::with_defaults(
        name(fn_name),
        fixture(&format!("node/{dir}")),
        handler,
        "nodejs20.x".parse().expect("runtime"),
    );
    s.timeout = TimeoutSecs::new(10).expect("timeout");
    s.memory = MemoryMb::new(256).expect("memory");
    s
}

fn error_json(r: &ledge_model::InvokeResult) -> serde_json::Value {
    assert!(
        r.outcome.is_function_error(),
        "expected a function error, got {:?}",
        r.outcome
    );
    json(r)
}

fn trace(v: &serde_json::Value) -> Vec<String> {
    v["trace"]
        .as_array()
        .expect("trace is an array")
        .iter()
        .map(|s| s.as_str().expect("trace line").to_owned())
        .collect()
}

/// The function's log lines between its START and END for one request.
fn invocation_lines(log: &str, request_id: &str) -> Vec<String> {
    let start = format!("START RequestId: {request_id}");
    let end = format!("END RequestId: {request_id}");
    log.lines()
        .skip_while(|l| !l.starts_with(&start))
        .skip(1)
        .take_while(|l| !l.starts_with(&end))
        .map(str::to_owned)
        .collect()
}

/// True while a live process runs with `AWS_LAMBDA_FUNCTION_NAME=<fn_name>`.
fn running(fn_name: &str) -> bool {
    let needle = format!("\0AWS_LAMBDA_FUNCTION_NAME={fn_name}\0");
    std::fs::read_dir("/proc")
        .expect("/proc")
        .flatten()
        .filter(|e| {
            e.file_name()
                .to_string_lossy()
                .bytes()
                .all(|b| b.is_ascii_digit())
        })
        .any(|e| {
            let mut env = vec![0u8];
            env.extend(std::fs::read(e.path().join("environ")).unwrap_or_default());
            let stat = std::fs::read_to_string(e.path().join("stat")).unwrap_or_default();
            let zombie = stat
                .rsplit(')')
                .next()
                .is_some_and(|r| r.trim_start().starts_with('Z'));
            !zombie && String::from_utf8_lossy(&env).contains(&needle)
        })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn async_handler_and_warm_reuse() {
    let h = harness();
    h.deploy(node("Ok", "ok", "index.handler")).await;
    let r = h.invoke("Ok", r#"{"name":"ledge"}"#).await;
    assert_eq!(
        r.outcome,
        InvokeOutcome::Success {
            payload: r#"{"hello":"ledge"}"#.into()
        },
        "JSON.stringify's bytes"
    );
    assert!(r.report.expect("report").init_duration.is_some());
    let r2 = h.invoke("Ok", r#"{"name":"again"}"#).await;
    assert_eq!(r2.outcome.payload(), br#"{"hello":"again"}"#);
    assert!(
        r2.report.expect("report").init_duration.is_none(),
        "the second invocation is warm"
    );
    let log = h.log("Ok");
    assert!(
        log.contains("INIT_START Runtime Version: nodejs:20.v1\t"),
        "{log}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn undefined_result_is_null() {
    let h = harness();
    h.deploy(node("Undef", "ok", "index.handler")).await;
    // `{hello: undefined}` stringifies to `{}`.
    assert_eq!(h.invoke("Undef", "{}").await.outcome.payload(), b"{}");
    h.deploy(node("Never", "callback", "index.handler")).await;
    let r = h.invoke("Never", r#"{"never":true}"#).await;
    assert_eq!(
        r.outcome,
        InvokeOutcome::Success {
            payload: "null".into()
        },
        "a callback handler that never calls back answers null when the loop is empty"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn callback_handler_waits_for_the_event_loop() {
    let h = harness();
    h.deploy(node("Cb", "callback", "index.handler")).await;

    let r = h.invoke("Cb", r#"{"timerMs":150}"#).await;
    assert_eq!(r.outcome.payload(), br#"{"via":"callback","waits":true}"#);
    let log = h
        .wait_log("Cb", &format!("END RequestId: {}", r.request_id))
        .await;
    let lines = invocation_lines(&log, r.request_id.as_str());
    assert!(
        lines
            .iter()
            .any(|l| l.ends_with("\tINFO\ttimer fired after 150 ms")),
        "the response waited for the pending timer: {lines:?}"
    );

    let r = h.invoke("Cb", r#"{"timerMs":300,"noWait":true}"#).await;
    assert_eq!(r.outcome.payload(), br#"{"via":"callback","waits":false}"#);
    let id = r.request_id.to_string();
    let log = h.wait_log("Cb", "timer fired after 300 ms").await;
    let end = log.find(&format!("END RequestId: {id}")).expect("END");
    let fired = log.find("timer fired after 300 ms").expect("timer line");
    assert!(
        fired > end,
        "callbackWaitsForEmptyEventLoop = false answers before the timer runs:\n{log}"
    );

    assert_eq!(
        h.invoke("Cb", r#"{"succeed":true}"#)
            .await
            .outcome
            .payload(),
        br#"{"via":"succeed"}"#
    );
    let v = error_json(&h.invoke("Cb", r#"{"fail":true}"#).await);
    assert_eq!(v["errorType"], "Error");
    assert_eq!(v["errorMessage"], "callback failed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn es_modules_and_module_kinds() {
    let h = harness();
    h.deploy(node("Esm", "esm", "src/app.handler")).await;
    let v = json(&h.invoke("Esm", r#"{"name":"n"}"#).await);
    assert_eq!(v["esm"], true);
    assert_eq!(v["file"], "app.mjs");
    assert_eq!(v["name"], "n");
    let loaded = v["loadedAt"].clone();
    assert_eq!(
        json(&h.invoke("Esm", "{}").await)["loadedAt"],
        loaded,
        "the module is loaded once per environment"
    );

    h.deploy(node("Pkg", "esm_pkg", "index.handler")).await;
    assert_eq!(
        json(&h.invoke("Pkg", "{}").await)["esm"],
        true,
        "a .js file under a package.json with type=module is an ES module"
    );

    h.deploy(node("Cjs", "cjs", "app.nested.handler")).await;
    let v = json(&h.invoke("Cjs", "{}").await);
    assert_eq!(v["cjs"], true);
    assert_eq!(v["dirname"], "string");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn context_object_and_environment() {
    let h = harness();
    h.deploy(node("Ctx", "context", "index.handler")).await;
    let mut req = InvokeRequest::new(name("Ctx"), b"{}".to_vec());
    req.client_context =
        Some(r#"{"client":{"app_title":"t"},"custom":{"k":"v"},"env":{"e":"1"}}"#.into());
    req.cognito_identity =
        Some(r#"{"cognitoIdentityId":"cid","cognitoIdentityPoolId":"pool"}"#.into());
    let r = h.invoke_req(req).await;
    let v = json(&r);
    assert_eq!(v["awsRequestId"], r.request_id.as_str());
    assert_eq!(v["functionName"], "Ctx");
    assert_eq!(v["functionVersion"], "$LATEST");
    assert_eq!(
        v["invokedFunctionArn"],
        "arn:aws:lambda:us-east-1:123456789012:function:Ctx"
    );
    assert_eq!(v["memoryLimitInMB"], "256", "a string, as in AWS's runtime");
    assert_eq!(v["logGroupName"], "/aws/lambda/Ctx");
    let stream = v["logStreamName"].as_str().expect("stream");
    assert!(
        stream.len() == "2024/01/01/[$LATEST]".len() + 32 && stream.contains("/[$LATEST]"),
        "{stream}"
    );
    let remaining = v["remaining"].as_i64().expect("remaining");
    assert!((8_000..=10_000).contains(&remaining), "{remaining}");
    assert_eq!(v["waits"], true);
    assert_eq!(v["identity"]["cognitoIdentityId"], "cid");
    assert_eq!(v["identity"]["cognitoIdentityPoolId"], "pool");
    assert_eq!(v["clientContext"]["custom"]["k"], "v");
    assert_eq!(v["clientContext"]["client"]["app_title"], "t");

    let env = &v["env"];
    assert_eq!(env["_HANDLER"], "index.handler");
    assert_eq!(env["AWS_EXECUTION_ENV"], "AWS_Lambda_nodejs20.x");
    assert_eq!(env["AWS_REGION"], "us-east-1");
    assert_eq!(env["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"], "256");
    assert_eq!(env["TZ"], ":UTC");
    assert_eq!(env["LANG"], "en_US.UTF-8");
    assert!(env["_X_AMZN_TRACE_ID"]
        .as_str()
        .expect("trace id set per invoke")
        .starts_with("Root=1-"));
    let task = env["LAMBDA_TASK_ROOT"].as_str().expect("task root");
    let rt = env["LAMBDA_RUNTIME_DIR"].as_str().expect("runtime dir");
    assert_eq!(v["cwd"], task);
    let opt = if h.rt.capabilities().mount_ns {
        assert_eq!(task, "/var/task");
        assert_eq!(rt, "/var/runtime");
        "/opt".to_owned()
    } else {
        h.dir.path().join("runtime/empty-opt").display().to_string()
    };
    assert_eq!(
        env["NODE_PATH"],
        format!("{opt}/nodejs/node20/node_modules:{opt}/nodejs/node_modules:{rt}/node_modules:{rt}:{task}")
    );
    let args: Vec<&str> = v["execArgv"]
        .as_array()
        .expect("execArgv")
        .iter()
        .filter_map(|a| a.as_str())
        .collect();
    assert_eq!(
        args,
        [
            "--expose-gc",
            "--max-http-header-size",
            "81920",
            "--max-semi-space-size=12",
            "--max-old-space-size=231"
        ],
        "heap sizes follow the memory as in AWS's bootstrap"
    );

    // A new trace id on every invocation.
    let again = json(&h.invoke("Ctx", "{}").await);
    assert_ne!(again["env"]["_X_AMZN_TRACE_ID"], env["_X_AMZN_TRACE_ID"]);
    assert!(again["identity"].is_null() && again["clientContext"].is_null());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn thrown_errors_have_awss_shape_and_log_line() {
    let h = harness();
    h.deploy(node("Raises", "raises", "index.handler")).await;
    let r = h.invoke("Raises", "{}").await;
    assert!(
        matches!(
            &r.outcome,
            InvokeOutcome::FunctionError { error_type, .. } if error_type == "Error"
        ),
        "the Lambda-Runtime-Function-Error-Type header carries the type: {:?}",
        r.outcome
    );
    assert!(
        r.outcome.payload().starts_with(
            br#"{"errorType":"Error","errorMessage":"boom","trace":["Error: boom","    at fail ("#
        ),
        "AWS's keys in AWS's order: {}",
        String::from_utf8_lossy(r.outcome.payload())
    );
    let v = error_json(&r);
    assert_eq!(v.as_object().expect("object").len(), 3);
    assert_eq!(v["errorType"], "Error");
    assert_eq!(v["errorMessage"], "boom");
    let t = trace(&v);
    assert_eq!(t[0], "Error: boom");
    assert!(
        t[1].starts_with("    at fail (") && t[1].contains("index.js:19:"),
        "{t:?}"
    );
    let log = h.wait_log("Raises", "\tERROR\tInvoke Error \t").await;
    let line = log
        .lines()
        .find(|l| l.contains("\tERROR\tInvoke Error \t"))
        .expect("line");
    let parts: Vec<&str> = line.splitn(4, '\t').collect();
    assert!(parts[0].len() == 24 && parts[0].ends_with('Z'), "{line}");
    assert_eq!(parts[1], r.request_id.as_str());
    let logged: serde_json::Value =
        serde_json::from_str(line.split_once(" \t").expect("tab").1).expect("JSON after the tab");
    assert_eq!(logged["errorType"], "Error");
    assert_eq!(logged["errorMessage"], "boom");
    assert_eq!(logged["stack"][0], "Error: boom");

    let v = error_json(&h.invoke("Raises", r#"{"kind":"custom"}"#).await);
    assert_eq!(v["errorType"], "CustomError", "err.name");
    assert_eq!(v["errorMessage"], "custom boom");
    let log = h.wait_log("Raises", "\"code\":\"E_CUSTOM\"").await;
    assert!(log.contains(r#"{"errorType":"CustomError","errorMessage":"custom boom","code":"E_CUSTOM","name":"CustomError","stack":["CustomError: custom boom""#), "{log}");

    let v = error_json(&h.invoke("Raises", r#"{"kind":"string"}"#).await);
    assert_eq!(
        v,
        serde_json::json!({"errorType": "string", "errorMessage": "plain string", "trace": []}),
        "a thrown non-Error"
    );

    // The environment survives handled errors.
    let again = h.invoke("Raises", "{}").await;
    assert!(again.report.expect("report").init_duration.is_none());

    h.deploy(node("Sync", "raises", "index.syncHandler")).await;
    let v = error_json(&h.invoke("Sync", "{}").await);
    assert_eq!(v["errorType"], "TypeError");
    assert_eq!(v["errorMessage"], "sync boom");
}

async fn init_failure(dir: &str, handler: &str) -> serde_json::Value {
    let h = harness();
    h.deploy(node("Init", dir, handler)).await;
    let r = h.invoke("Init", "{}").await;
    let v = error_json(&r);
    let InvokeOutcome::FunctionError { error_type, .. } = &r.outcome else {
        unreachable!()
    };
    assert_eq!(Some(error_type.as_str()), v["errorType"].as_str());
    assert_eq!(h.rt.stats(&name("Init")).await.expect("stats").idle, 0);
    let log = h
        .wait_log("Init", "\tundefined\tERROR\tUncaught Exception \t")
        .await;
    assert!(
        log.contains(&format!("\"errorType\":{}", v["errorType"])),
        "{log}"
    );
    v
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn init_error_types() {
    let v = init_failure("no_handler", "index.handler").await;
    assert_eq!(v["errorType"], "Runtime.HandlerNotFound");
    assert_eq!(
        v["errorMessage"],
        "index.handler is undefined or not exported"
    );
    assert_eq!(
        trace(&v)[0],
        "Runtime.HandlerNotFound: index.handler is undefined or not exported"
    );

    let v = init_failure("no_handler", "index.notAFunction").await;
    assert_eq!(v["errorType"], "Runtime.HandlerNotFound");
    assert_eq!(v["errorMessage"], "index.notAFunction is not a function");

    let v = init_failure("import_error", "index.handler").await;
    assert_eq!(v["errorType"], "Runtime.ImportModuleError");
    let msg = v["errorMessage"].as_str().expect("message");
    assert!(
        msg.starts_with(
            "Error: Cannot find module 'this-module-does-not-exist'\nRequire stack:\n- "
        ) && msg.contains("/index.js\n- ")
            && msg.ends_with("/index.mjs"),
        "AWS's message, ending at the runtime's index.mjs: {msg:?}"
    );

    let v = init_failure("ok", "missing.handler").await;
    assert_eq!(v["errorType"], "Runtime.ImportModuleError");
    assert!(
        v["errorMessage"]
            .as_str()
            .expect("message")
            .starts_with("Error: Cannot find module 'missing'\nRequire stack:\n- "),
        "{v}"
    );

    // As on Lambda, an ES module's missing import is not wrapped.
    let v = init_failure("import_error", "esm.handler").await;
    assert_eq!(v["errorType"], "Error");
    assert!(
        v["errorMessage"]
            .as_str()
            .expect("message")
            .starts_with("Cannot find package 'this-package-does-not-exist' imported from "),
        "{v}"
    );

    let v = init_failure("syntax_error", "index.handler").await;
    assert_eq!(v["errorType"], "Runtime.UserCodeSyntaxError");
    assert_eq!(v["errorMessage"], "SyntaxError: Unexpected end of input");

    let v = init_failure("ok", "index").await;
    assert_eq!(v["errorType"], "Runtime.MalformedHandlerName");
    assert_eq!(v["errorMessage"], "Bad handler");

    let v = init_failure("ok", "../ok/index.handler").await;
    assert_eq!(v["errorType"], "Runtime.MalformedHandlerName");
    assert_eq!(v["errorMessage"], "'../ok/index.handler' is not a valid handler name. Use absolute paths when specifying root directories in handler names.");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn never_settling_promise_is_nodejs_exit() {
    let h = harness();
    h.deploy(node("Hang", "never_settles", "index.handler"))
        .await;
    let v = error_json(&h.invoke("Hang", "{}").await);
    assert_eq!(v["errorType"], "Runtime.NodeJsExit");
    assert!(
        v["errorMessage"]
            .as_str()
            .expect("message")
            .starts_with("The Lambda runtime client detected an unexpected Node.js exit code."),
        "{v}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn timeout_and_fresh_environment() {
    let h = harness();
    let mut spec = node("Sleep", "sleep", "index.handler");
    spec.timeout = TimeoutSecs::new(1).expect("timeout");
    h.deploy(spec).await;
    let r = h.invoke("Sleep", r#"{"ms":5000}"#).await;
    assert!(
        matches!(r.outcome, InvokeOutcome::Timeout { .. }),
        "{:?}",
        r.outcome
    );
    assert_eq!(json(&r)["errorType"], "Sandbox.Timedout");
    let ok = h.invoke("Sleep", r#"{"ms":0}"#).await;
    assert_eq!(ok.outcome.payload(), br#"{"slept":0}"#);
    assert!(ok.report.expect("report").init_duration.is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn uncaught_exception_and_exit() {
    let h = harness();
    h.deploy(node("NodeCrash", "crash", "index.handler")).await;
    assert_eq!(
        h.invoke("NodeCrash", "{}").await.outcome.payload(),
        br#""alive""#
    );
    assert!(running("NodeCrash"));
    let r = h.invoke("NodeCrash", r#"{"uncaught":true}"#).await;
    let v = error_json(&r);
    assert_eq!(v["errorType"], "RangeError");
    assert_eq!(v["errorMessage"], "thrown outside the handler");
    h.wait_log(
        "NodeCrash",
        "\tERROR\tUncaught Exception \t{\"errorType\":\"RangeError\"",
    )
    .await;
    // As on Lambda, the runtime exits (129) after reporting an uncaught exception, and
    // the next call goes to a fresh environment: an environment takes an event only once
    // its runtime asks for one, so the call right behind never meets the dying runtime.
    let next = h.invoke("NodeCrash", "{}").await;
    assert_eq!(next.outcome.payload(), br#""alive""#);
    assert!(
        next.report.expect("report").init_duration.is_some(),
        "a cold start"
    );

    let r = h.invoke("NodeCrash", r#"{"exit":3}"#).await;
    let id = r.request_id.to_string();
    assert_eq!(
        r.outcome.payload(),
        format!(r#"{{"errorType":"Runtime.ExitError","errorMessage":"RequestId: {id} Error: Runtime exited with error: exit status 3"}}"#).as_bytes()
    );
    assert_eq!(
        h.invoke("NodeCrash", "{}").await.outcome.payload(),
        br#""alive""#
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn console_log_lines() {
    let h = harness();
    h.deploy(node("Logs", "logs", "index.handler")).await;
    let r = h.invoke("Logs", "{}").await;
    assert_eq!(r.outcome.payload(), br#""logged""#);
    let id = r.request_id.to_string();
    let log = h.wait_log("Logs", &format!("END RequestId: {id}")).await;
    let lines = invocation_lines(&log, &id);
    assert_eq!(lines[0], "raw stdout line", "process.stdout is not patched");
    let records: Vec<(&str, &str)> = lines[1..]
        .iter()
        .map(|l| {
            let parts: Vec<&str> = l.splitn(4, '\t').collect();
            assert_eq!(parts.len(), 4, "{l:?}");
            assert!(
                parts[0].len() == 24 && parts[0].ends_with('Z') && parts[0].as_bytes()[10] == b'T',
                "ISO timestamp: {l:?}"
            );
            assert_eq!(parts[1], id, "{l:?}");
            (parts[2], parts[3])
        })
        .collect();
    assert_eq!(
        &records[..8],
        [
            ("INFO", "info message { a: 1 }"),
            ("INFO", "formatted x=42"),
            ("WARN", "a warning"),
            ("ERROR", "an error"),
            ("DEBUG", "a debug"),
            ("TRACE", "a trace"),
            ("INFO", "first\rsecond\rthird"),
            ("ERROR", records[7].1),
        ],
        "levels, util.format, and a multi-line message kept as one record"
    );
    assert!(
        records[7].1.starts_with("Error: logged error\r    at "),
        "{:?}",
        records[7]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_log_format_and_level() {
    let h = harness();
    let mut spec = node("Json", "logs", "index.handler");
    spec.environment
        .insert("AWS_LAMBDA_LOG_FORMAT".into(), "JSON".into());
    spec.environment
        .insert("AWS_LAMBDA_LOG_LEVEL".into(), "WARN".into());
    h.deploy(spec).await;
    let r = h.invoke("Json", "{}").await;
    let id = r.request_id.to_string();
    let log = h.wait_log("Json", &format!("END RequestId: {id}")).await;
    let lines = invocation_lines(&log, &id);
    let records: Vec<serde_json::Value> = lines[1..]
        .iter()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    let levels: Vec<&str> = records
        .iter()
        .map(|r| r["level"].as_str().expect("level"))
        .collect();
    assert_eq!(levels, ["WARN", "ERROR", "ERROR"], "below WARN is dropped");
    assert_eq!(records[0]["message"], "a warning");
    assert_eq!(records[0]["requestId"], id.as_str());
    assert_eq!(records[2]["message"]["errorType"], "Error");
    assert_eq!(records[2]["message"]["errorMessage"], "logged error");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn layers_node_modules_resolve() {
    let h = harness();
    let store = h.rt.store();
    let art = store
        .import_dir(&fixture("node/layer"), &Default::default())
        .expect("import layer");
    let layer = store
        .publish_layer_version("greeting", &art, &Default::default())
        .expect("publish");
    let mut spec = node("Layered", "layer_user", "index.handler");
    spec.layers = vec![LayerRef::Arn(layer.layer_version_arn)];
    h.deploy(spec).await;
    let v = json(&h.invoke("Layered", r#"{"name":"ledge"}"#).await);
    assert_eq!(
        v["greeting"], "hello ledge from a layer",
        "/opt/nodejs/node_modules"
    );
    assert_eq!(v["versioned"], "node20", "/opt/nodejs/node20/node_modules");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn other_majors_run_on_the_installed_node() {
    let h = harness();
    for (fn_name, runtime) in [("N18", "nodejs18.x"), ("N22", "nodejs22.x")] {
        let mut spec = node(fn_name, "ok", "index.handler");
        spec.runtime = runtime.parse().expect("runtime");
        let report = h.rt.deploy(spec).await.expect("deploy");
        let wanted: u32 = runtime[6..8].parse().expect("major");
        let (_, stand_in) = ledge_runtime::node::find(wanted).expect("a node");
        if !stand_in {
            assert!(report.warnings.is_empty(), "{:?}", report.warnings);
        } else {
            assert_eq!(report.warnings.len(), 1, "{:?}", report.warnings);
            assert!(
                report.warnings[0]
                    .contains(&format!("{runtime} is not installed here; running it on ")),
                "{:?}",
                report.warnings
            );
        }
        assert_eq!(
            h.invoke(fn_name, r#"{"name":"x"}"#).await.outcome.payload(),
            br#"{"hello":"x"}"#
        );
        let log = h.log(fn_name);
        assert!(
            log.contains(&format!("INIT_START Runtime Version: nodejs:{wanted}.v1\t")),
            "{log}"
        );
    }
}
