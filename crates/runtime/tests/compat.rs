//! Independent, unmodified Runtime API clients against ledge: the official Rust
//! `lambda_runtime` crate (`tests/fixtures/rust-fn`) and AWS's Python runtime interface
//! client `awslambdaric`, each as a `provided.al2023` function.
//!
//! The tests set themselves up, once per test binary and cached under the target dir:
//! the Rust fixture is built into `target/fixtures`, awslambdaric is installed with pip
//! into `target/test-deps/awslambdaric-<version>-<cache tag>`. A missing tool fails the
//! test with the reason; nothing is skipped.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::{SystemTime, UNIX_EPOCH};

use common::*;
use ledge_model::{InvokeOutcome, InvokeResult};

/// The awslambdaric release these tests were checked against.
const AWSLAMBDARIC_VERSION: &str = "4.2.2";
/// The fixture's package name, hence its binary's.
const RUST_FN_BIN: &str = "ledge-compat-rust-fn";
/// `provided()` gives every function a 10 s timeout.
const TIMEOUT_MS: u64 = 10_000;

// ---------------------------------------------------------------------------------------
// Set-up
// ---------------------------------------------------------------------------------------

/// The target dir this test binary was built into (`<target>/debug/deps/compat-…`).
fn target_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("invariant: the test binary has a path");
    exe.ancestors()
        .nth(3)
        .expect("invariant: the test binary lives in <target>/<profile>/deps")
        .to_owned()
}

fn run(cmd: &mut Command, what: &str) -> Result<String, String> {
    let out = cmd
        .output()
        .map_err(|e| format!("{what}: cannot run {cmd:?}: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "{what}: {cmd:?} failed ({}):\n{}{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Unwraps a cached set-up result, failing the test with its message.
fn ready<T>(
    cell: &'static OnceLock<Result<T, String>>,
    init: impl FnOnce() -> Result<T, String>,
) -> &'static T {
    match cell.get_or_init(init) {
        Ok(v) => v,
        Err(e) => panic!("compat set-up failed: {e}"),
    }
}

/// The `lambda_runtime` fixture's binary. Cargo's own fingerprints make a rebuild a no-op.
fn rust_fn_binary() -> &'static Path {
    static BIN: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    ready(&BIN, || {
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        let target = target_dir().join("fixtures");
        run(
            Command::new(cargo)
                .args(["build", "--locked", "--quiet", "--manifest-path"])
                .arg(fixture("rust-fn/Cargo.toml"))
                .arg("--target-dir")
                .arg(&target),
            "building the lambda_runtime fixture",
        )?;
        let bin = target.join("debug").join(RUST_FN_BIN);
        if !bin.is_file() {
            return Err(format!("cargo built no {}", bin.display()));
        }
        Ok(bin)
    })
    .as_path()
}

/// The interpreter awslambdaric runs on, and the dir holding awslambdaric installed for it.
struct Ric {
    python: PathBuf,
    packages: PathBuf,
}

/// `python3` from PATH, resolved to the real interpreter (never a pyenv shim, which needs
/// variables the sandbox clears), with awslambdaric installed for it by its own pip.
fn awslambdaric() -> &'static Ric {
    static RIC: OnceLock<Result<Ric, String>> = OnceLock::new();
    ready(&RIC, || {
        let probe = run(
            Command::new("python3").args([
                "-c",
                "import sys; print(sys.executable); print(sys.implementation.cache_tag)",
            ]),
            "the awslambdaric tests need python3 on PATH",
        )?;
        let mut lines = probe.lines();
        let (Some(python), Some(tag)) = (lines.next(), lines.next()) else {
            return Err(format!(
                "python3 printed no executable and cache tag: {probe:?}"
            ));
        };
        if python.contains('\'') {
            return Err(format!("{python}: a quote in the interpreter's path"));
        }
        let python = PathBuf::from(python);
        let deps = target_dir().join("test-deps");
        let packages = deps.join(format!("awslambdaric-{AWSLAMBDARIC_VERSION}-{tag}"));
        if !packages.join("awslambdaric/__main__.py").is_file() {
            install_awslambdaric(&python, &deps, &packages)?;
        }
        Ok(Ric { python, packages })
    })
}

/// pip-installs into a private dir, then renames it into place: the final dir exists only
/// complete, and a process that loses the race drops its copy.
fn install_awslambdaric(python: &Path, deps: &Path, packages: &Path) -> Result<(), String> {
    std::fs::create_dir_all(deps).map_err(|e| format!("mkdir {}: {e}", deps.display()))?;
    let staging = deps.join(format!(".staging-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&staging);
    run(
        Command::new(python)
            .args([
                "-m",
                "pip",
                "install",
                "--quiet",
                "--no-input",
                "--disable-pip-version-check",
                "--target",
            ])
            .arg(&staging)
            .arg(format!("awslambdaric=={AWSLAMBDARIC_VERSION}")),
        &format!("installing awslambdaric with {}'s pip", python.display()),
    )?;
    if let Err(e) = std::fs::rename(&staging, packages) {
        let _ = std::fs::remove_dir_all(&staging);
        if !packages.join("awslambdaric/__main__.py").is_file() {
            return Err(format!(
                "cannot move awslambdaric into {}: {e}",
                packages.display()
            ));
        }
    }
    Ok(())
}

fn write_executable(path: &Path, contents: &[u8]) {
    std::fs::write(path, contents).expect("write");
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).expect("chmod");
}

fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for entry in std::fs::read_dir(from).expect("read_dir") {
        let entry = entry.expect("dir entry");
        let dest = to.join(entry.file_name());
        if entry.file_type().expect("file type").is_dir() {
            copy_tree(&entry.path(), &dest);
        } else {
            std::fs::copy(entry.path(), &dest).expect("copy");
        }
    }
}

/// A code dir whose `bootstrap` is the `lambda_runtime` fixture.
fn rust_code_dir(h: &Harness, fn_name: &str) -> PathBuf {
    let dir = h.dir.path().join(format!("code-{fn_name}"));
    std::fs::create_dir_all(&dir).expect("mkdir");
    let bin = std::fs::read(rust_fn_binary()).expect("read the fixture binary");
    write_executable(&dir.join("bootstrap"), &bin);
    dir
}

/// A code dir holding `app.py`, a copy of awslambdaric (so that it is inside `/var/task`
/// with or without a mount namespace) and a `bootstrap` that starts it on `app.handler`.
fn ric_code_dir(h: &Harness, fn_name: &str, app: &str) -> PathBuf {
    let ric = awslambdaric();
    let dir = h.dir.path().join(format!("code-{fn_name}"));
    copy_tree(&ric.packages, &dir);
    std::fs::write(dir.join("app.py"), app).expect("write app.py");
    let bootstrap = format!(
        "#!/bin/sh\nexec '{}' -m awslambdaric app.handler\n",
        ric.python.display()
    );
    write_executable(&dir.join("bootstrap"), bootstrap.as_bytes());
    dir
}

// ---------------------------------------------------------------------------------------
// Assertions
// ---------------------------------------------------------------------------------------

fn now_ms() -> u64 {
    let since = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("invariant: the clock is after 1970");
    u64::try_from(since.as_millis()).expect("invariant: ms since 1970 fit in u64")
}

fn is_cold(r: &InvokeResult) -> bool {
    r.report
        .expect("a report for a call that ran")
        .init_duration
        .is_some()
}

fn success_json(r: &InvokeResult) -> serde_json::Value {
    assert!(
        matches!(r.outcome, InvokeOutcome::Success { .. }),
        "expected success, got {:?}",
        r.outcome
    );
    json(r)
}

fn error_json(r: &InvokeResult) -> serde_json::Value {
    assert!(
        r.outcome.is_function_error(),
        "expected a function error, got {:?}",
        r.outcome
    );
    json(r)
}

// ---------------------------------------------------------------------------------------
// The official Rust runtime: lambda_runtime
// ---------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lambda_runtime_cold_then_warm_with_its_context() {
    let h = harness();
    h.deploy(provided("RustFn", rust_code_dir(&h, "RustFn")))
        .await;

    let before = now_ms();
    let r1 = h
        .invoke("RustFn", r#"{"a":1,"nested":{"b":[true,null]}}"#)
        .await;
    let v1 = success_json(&r1);
    assert!(is_cold(&r1), "the first call is cold");
    assert_eq!(
        v1["echo"],
        serde_json::json!({"a":1,"nested":{"b":[true,null]}})
    );
    assert_eq!(v1["request_id"], r1.request_id.as_str());
    let deadline = v1["deadline"].as_u64().expect("deadline is epoch ms");
    assert!(
        deadline > now_ms() && deadline <= before + TIMEOUT_MS + 1_000,
        "deadline {deadline} is in the future and within the timeout of {before}"
    );
    assert_eq!(
        v1["arn"],
        "arn:aws:lambda:us-east-1:123456789012:function:RustFn"
    );
    assert_eq!(v1["memory"], "128");

    let r2 = h.invoke("RustFn", r#"{"a":2}"#).await;
    let v2 = success_json(&r2);
    assert!(!is_cold(&r2), "the second call is warm");
    assert_eq!(v2["echo"], serde_json::json!({"a":2}));
    assert_eq!(v2["request_id"], r2.request_id.as_str());
    assert_ne!(r1.request_id, r2.request_id);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lambda_runtime_handler_error_is_a_function_error_and_the_environment_survives() {
    let h = harness();
    h.deploy(provided("RustFail", rust_code_dir(&h, "RustFail")))
        .await;

    let failed = h.invoke("RustFail", r#"{"fail":true}"#).await;
    assert!(is_cold(&failed));
    let v = error_json(&failed);
    assert!(
        matches!(failed.outcome, InvokeOutcome::FunctionError { .. }),
        "the handler's Err is a function error, not a crash: {:?}",
        failed.outcome
    );
    assert_eq!(v["errorMessage"], "asked to fail");
    assert!(
        v["errorType"].as_str().is_some_and(|t| !t.is_empty()),
        "errorType is a non-empty string: {v}"
    );

    let next = h.invoke("RustFail", r#"{"fail":false}"#).await;
    assert_eq!(
        success_json(&next)["echo"],
        serde_json::json!({"fail":false})
    );
    assert!(!is_cold(&next), "the environment survives a handler error");
    let stats = h.rt.stats(&name("RustFail")).await.expect("stats");
    assert_eq!(stats.started, 1, "one environment served both calls");
}

// ---------------------------------------------------------------------------------------
// AWS's Python runtime interface client: awslambdaric
// ---------------------------------------------------------------------------------------

const RIC_APP: &str = r#"
def handler(event, context):
    if event.get("raise"):
        raise ValueError("boom from awslambdaric")
    if event.get("context"):
        return {
            "function_name": context.function_name,
            "memory_limit_in_mb": context.memory_limit_in_mb,
            "aws_request_id": context.aws_request_id,
            "invoked_function_arn": context.invoked_function_arn,
            "remaining_ms": context.get_remaining_time_in_millis(),
        }
    return {"echo": event}
"#;

const RIC_IMPORT_ERROR_APP: &str =
    "import this_module_does_not_exist\n\n\ndef handler(event, context):\n    return 1\n";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn awslambdaric_cold_then_warm_returns_the_handlers_bytes() {
    let h = harness();
    h.deploy(provided("Ric", ric_code_dir(&h, "Ric", RIC_APP)))
        .await;

    let r1 = h.invoke("Ric", r#"{"a":1}"#).await;
    assert_eq!(
        r1.outcome,
        InvokeOutcome::Success {
            payload: r#"{"echo": {"a": 1}}"#.into()
        },
        "awslambdaric's simplejson bytes, passed through untouched"
    );
    assert!(is_cold(&r1), "the first call is cold");

    let r2 = h.invoke("Ric", r#"{"b":[1,2]}"#).await;
    assert_eq!(r2.outcome.payload(), br#"{"echo": {"b": [1, 2]}}"#);
    assert!(!is_cold(&r2), "the second call is warm");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn awslambdaric_context_reaches_the_handler() {
    let h = harness();
    h.deploy(provided("RicCtx", ric_code_dir(&h, "RicCtx", RIC_APP)))
        .await;

    let r = h.invoke("RicCtx", r#"{"context":true}"#).await;
    let v = success_json(&r);
    assert_eq!(v["function_name"], "RicCtx");
    assert_eq!(v["memory_limit_in_mb"], "128");
    assert_eq!(v["aws_request_id"], r.request_id.as_str());
    assert_eq!(
        v["invoked_function_arn"],
        "arn:aws:lambda:us-east-1:123456789012:function:RicCtx"
    );
    let remaining = v["remaining_ms"]
        .as_i64()
        .expect("remaining time is an integer");
    assert!(
        remaining > 0 && remaining <= i64::try_from(TIMEOUT_MS).expect("small"),
        "get_remaining_time_in_millis() = {remaining}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn awslambdaric_handler_exception_is_its_error_json() {
    let h = harness();
    h.deploy(provided("RicRaise", ric_code_dir(&h, "RicRaise", RIC_APP)))
        .await;

    let r = h.invoke("RicRaise", r#"{"raise":true}"#).await;
    let v = error_json(&r);
    let keys: Vec<&String> = v.as_object().expect("an object").keys().collect();
    assert_eq!(
        keys,
        ["errorMessage", "errorType", "requestId", "stackTrace"]
    );
    assert_eq!(v["errorMessage"], "boom from awslambdaric");
    assert_eq!(v["errorType"], "ValueError");
    assert_eq!(v["requestId"], r.request_id.as_str());
    let trace = v["stackTrace"].as_array().expect("stackTrace is a list");
    assert!(
        trace
            .iter()
            .any(|l| l.as_str().is_some_and(|l| l.contains("app.py"))),
        "the stack trace names the handler's file: {v}"
    );
    // awslambdaric 4.2.2 posts invocation errors through its C client without a
    // `Lambda-Runtime-Function-Error-Type` header (only `/init/error` carries one), so the
    // outcome's error type is ledge's default; the caller sees the body, which is checked above.
    assert!(
        matches!(r.outcome, InvokeOutcome::FunctionError { .. }),
        "a posted error, not a crash: {:?}",
        r.outcome
    );

    let next = h.invoke("RicRaise", r#"{"a":1}"#).await;
    assert_eq!(next.outcome.payload(), br#"{"echo": {"a": 1}}"#);
    assert!(
        !is_cold(&next),
        "the environment survives a handler exception"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn awslambdaric_import_error_is_an_init_error() {
    let h = harness();
    h.deploy(provided(
        "RicImport",
        ric_code_dir(&h, "RicImport", RIC_IMPORT_ERROR_APP),
    ))
    .await;

    let r = h.invoke("RicImport", "{}").await;
    let v = error_json(&r);
    assert_eq!(v["errorType"], "Runtime.ImportModuleError");
    assert_eq!(
        v["errorMessage"],
        "Unable to import module 'app': No module named 'this_module_does_not_exist'"
    );
    assert_eq!(
        v["requestId"], "",
        "awslambdaric's init errors carry an empty requestId"
    );
    match &r.outcome {
        InvokeOutcome::FunctionError { error_type, .. } => {
            assert_eq!(error_type, "Runtime.ImportModuleError")
        }
        other => panic!("expected a function error from /init/error, got {other:?}"),
    }
    h.wait_log(
        "RicImport",
        "[ERROR] Runtime.ImportModuleError: Unable to import module 'app'",
    )
    .await;
    assert_eq!(
        h.rt.stats(&name("RicImport")).await.expect("stats").idle,
        0,
        "no environment is kept"
    );
}

/// The code dirs above hold everything their clients need, so they run the same whether
/// the code dir is bind-mounted at `/var/task` or used in place.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn both_clients_run_without_the_mount_namespace() {
    let h = harness_with(|c| c.disable_mount_ns = true);
    assert!(!h.rt.capabilities().mount_ns);
    h.deploy(provided("RustBare", rust_code_dir(&h, "RustBare")))
        .await;
    h.deploy(provided("RicBare", ric_code_dir(&h, "RicBare", RIC_APP)))
        .await;

    let r = h.invoke("RustBare", r#"{"a":1}"#).await;
    let v = success_json(&r);
    assert_eq!(v["echo"], serde_json::json!({"a":1}));
    assert_eq!(v["request_id"], r.request_id.as_str());

    let r = h.invoke("RicBare", r#"{"a":1}"#).await;
    assert_eq!(r.outcome.payload(), br#"{"echo": {"a": 1}}"#);
}
