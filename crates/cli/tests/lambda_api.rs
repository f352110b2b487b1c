//! The AWS Lambda API through the real clients users have: boto3 and the AWS CLI,
//! installed from PyPI, against a running `ledge up` (addresses from its ready file).
//! The scenarios themselves are in `lambda_api/scenario.py`; each step asserts what a
//! user would see and exits non-zero otherwise.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use common::{ledge, pip_install, text, wait_for, Up};

/// boto3 and awscli with their dependencies, installed once per test run under
/// `target/test-deps/` (the versions are pinned so botocore's model is the one tested).
fn clients() -> PathBuf {
    static ONCE: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    ONCE.get_or_init(install_clients).clone()
}

fn install_clients() -> PathBuf {
    pip_install(
        "python3",
        "lambda-api-clients-boto3-1.43.11-awscli-1.45.11",
        &["boto3==1.43.11", "awscli==1.45.11"],
        &[],
    )
}

/// `ledge up` on `state` (no template unless given), with a fast async retry base.
fn up(state: &Path, template: Option<&Path>, extra: &[&str]) -> Up {
    let ready_path = state.join("ready.json");
    let _ = std::fs::remove_file(&ready_path);
    let mut cmd = ledge();
    cmd.arg("up");
    if let Some(t) = template {
        cmd.arg(t);
    }
    let mut child = cmd
        .arg("--state-dir")
        .arg(state)
        .args(["--quiet", "--no-watch", "--async-retry-base-ms", "300"])
        .args(extra)
        .env_remove("LEDGE_ACCESS_KEYS")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn ledge up");
    let ready = wait_for(&ready_path, &mut child);
    Up { child, ready }
}

/// Runs one step of the scenario script against `up`; returns its standard output.
fn step(up: &Up, state: &Path, name: &str, args: &[&str]) -> String {
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/lambda_api/scenario.py");
    let out = Command::new("python3")
        .arg(&script)
        .arg(name)
        .args(args)
        .env("PYTHONPATH", clients())
        .env(
            "LEDGE_ENDPOINT",
            up.ready["aws_endpoint"].as_str().expect("endpoint"),
        )
        .env("LEDGE_STATE_DIR", state)
        .env("LEDGE_BIN", env!("CARGO_BIN_EXE_ledge"))
        .env_remove("AWS_PROFILE")
        .env("AWS_CONFIG_FILE", "/dev/null")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
        .stdin(Stdio::null())
        .output()
        .expect("python3");
    assert!(
        out.status.success(),
        "scenario step {name} failed:\n{}\n{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    text(&out.stdout)
}

#[test]
fn boto3_create_invoke_update_publish_alias_layer_list_delete() {
    let t = tempfile::tempdir().expect("tempdir");
    let ledge = up(t.path(), None, &[]);
    assert!(step(&ledge, t.path(), "lifecycle", &[]).contains("lifecycle: ok"));
}

#[test]
fn bad_input_gets_aws_errors_and_creates_nothing() {
    let t = tempfile::tempdir().expect("tempdir");
    let ledge = up(t.path(), None, &[]);
    assert!(step(&ledge, t.path(), "bad-input", &[]).contains("bad input: ok"));
}

#[test]
fn async_invocations_run_retry_and_reach_their_destinations() {
    let t = tempfile::tempdir().expect("tempdir");
    let ledge = up(t.path(), None, &[]);
    assert!(step(&ledge, t.path(), "async", &[]).contains("async: ok"));
}

#[test]
fn aws_cli_waits_for_function_active_and_invokes() {
    let t = tempfile::tempdir().expect("tempdir");
    let ledge = up(t.path(), None, &[]);
    assert!(step(&ledge, t.path(), "cli", &[]).contains("cli: ok"));
}

#[test]
fn sigv4_is_enforced_with_auth() {
    let t = tempfile::tempdir().expect("tempdir");
    let ledge = up(
        t.path(),
        None,
        &["--auth", "--access-key", "AKIDLEDGE:s3cret"],
    );
    assert!(step(&ledge, t.path(), "auth", &[]).contains("auth: ok"));
}

#[test]
fn queued_events_and_api_functions_survive_sigkill() {
    let t = tempfile::tempdir().expect("tempdir");
    let mut first = up(t.path(), None, &[]);
    let ids = step(&first, t.path(), "restart-setup", &[]);
    let ids = ids.trim().to_owned();
    // SIGKILL: no graceful shutdown, no draining.
    first.child.kill().expect("kill");
    first.child.wait().expect("wait");
    let queued = Command::new("python3")
        .args([
            "-c",
            "import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute('select count(*) from async_events').fetchone()[0])",
        ])
        .arg(t.path().join("ledge.db"))
        .output()
        .expect("python3");
    let queued: u32 = text(&queued.stdout).trim().parse().expect("count");
    assert!(queued > 0, "events were still queued when ledge was killed");
    let second = up(t.path(), None, &[]);
    assert!(step(&second, t.path(), "restart-check", &[&ids]).contains("restart: ok"));
}

#[test]
fn template_functions_layers_and_event_invoke_configs_are_in_the_api() {
    let t = tempfile::tempdir().expect("tempdir");
    let app = t.path().join("app");
    common::write_tree(
        &app,
        &[
            (
                "fail/app.py",
                "def handler(event, context):\n    raise ValueError('nope')\n",
            ),
            (
                "sink/app.py",
                "def handler(event, context):\n    print('SINK', event['requestContext']['condition'])\n",
            ),
            ("layer/python/shared.py", "X = 1\n"),
            (
                "template.yaml",
                "Transform: AWS::Serverless-2016-10-31
Resources:
  Shared:
    Type: AWS::Serverless::LayerVersion
    Properties:
      LayerName: tpl-layer
      ContentUri: layer/
  Fail:
    Type: AWS::Serverless::Function
    Properties:
      FunctionName: tpl-fail
      CodeUri: fail/
      Handler: app.handler
      Runtime: python3.11
      Layers: [!Ref Shared]
      EventInvokeConfig:
        MaximumRetryAttempts: 0
        DestinationConfig:
          OnFailure:
            Type: Lambda
            Destination: !GetAtt Sink.Arn
  Sink:
    Type: AWS::Serverless::Function
    Properties:
      FunctionName: tpl-sink
      CodeUri: sink/
      Handler: app.handler
      Runtime: python3.11
",
            ),
        ],
    );
    let state = t.path().join("state");
    std::fs::create_dir_all(&state).expect("mkdir");
    let ledge = up(&state, Some(&app.join("template.yaml")), &[]);
    assert!(step(&ledge, &state, "template", &[]).contains("template: ok"));
}
