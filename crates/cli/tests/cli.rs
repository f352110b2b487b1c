//! The `ledge` binary as a user runs it: real processes, real HTTP, addresses from the
//! ready file.

mod common;

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::*;

#[test]
fn invoke_from_the_template_prints_the_body_and_the_logs() {
    let out = run(ledge()
        .args(["invoke", "HelloFunction", "-t"])
        .arg(example())
        .args(["--payload", r#"{"name":"x"}"#]));
    assert!(out.status.success(), "stderr: {}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "{\"message\": \"Hello, x!\"}\n");
    let err = text(&out.stderr);
    assert!(err.contains("greeting x"), "{err}");
    assert!(
        err.contains("START RequestId: ") && err.contains("END RequestId: "),
        "{err}"
    );
    assert!(
        err.contains("REPORT RequestId: ") && err.contains("Init Duration: "),
        "{err}"
    );
}

#[test]
fn invoke_reads_the_payload_from_a_file_and_from_stdin() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("event.json");
    std::fs::write(&file, r#"{"name":"file"}"#).expect("write");
    let out = run(ledge()
        .args(["invoke", "HelloFunction", "-t"])
        .arg(example())
        .arg("--payload")
        .arg(format!("@{}", file.display())));
    assert_eq!(text(&out.stdout), "{\"message\": \"Hello, file!\"}\n");

    let mut child = ledge()
        .args(["invoke", "HelloFunction", "--log-type", "Tail", "-t"])
        .arg(example())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(br#"{"name":"stdin"}"#)
        .expect("write");
    let out = child.wait_with_output().expect("wait");
    assert_eq!(text(&out.stdout), "{\"message\": \"Hello, stdin!\"}\n");
    assert!(text(&out.stderr).contains("REPORT RequestId: "));
}

#[test]
fn a_function_error_exits_1_and_still_prints_the_body() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::create_dir_all(dir.path().join("src")).expect("mkdir");
    std::fs::write(
        dir.path().join("src/app.py"),
        "def handler(event, context):\n    raise KeyError('action')\n",
    )
    .expect("write");
    std::fs::write(
        dir.path().join("template.yaml"),
        "Transform: AWS::Serverless-2016-10-31\nResources:\n  Fails:\n    Type: AWS::Serverless::Function\n    Properties:\n      CodeUri: src/\n      Handler: app.handler\n      Runtime: python3.11\n",
    )
    .expect("write");
    let out = run(ledge()
        .args(["invoke", "Fails", "-t"])
        .arg(dir.path().join("template.yaml")));
    assert_eq!(out.status.code(), Some(1));
    let body: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json body");
    assert_eq!(body["errorType"], "KeyError");
    assert_eq!(body["errorMessage"], "'action'");
}

#[test]
fn bad_input_exits_2_with_a_clear_message() {
    let dir = tempfile::tempdir().expect("tempdir");
    let t = dir.path().join("template.yaml");
    std::fs::write(
        &t,
        "Resources:\n  Fn:\n    Type: AWS::Serverless::Function\n   Properties: [\n",
    )
    .expect("write");
    let out = run(ledge().args(["invoke", "Fn", "-t"]).arg(&t));
    assert_eq!(out.status.code(), Some(2));
    let err = text(&out.stderr);
    assert!(
        err.contains("template.yaml:"),
        "the file and line are named: {err}"
    );

    let out = run(ledge().args(["invoke", "Nope", "-t"]).arg(example()));
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("no function named Nope"),
        "{}",
        text(&out.stderr)
    );

    let out = run(ledge()
        .args(["invoke", "HelloFunction", "--payload", "{not json", "-t"])
        .arg(example()));
    assert_eq!(out.status.code(), Some(2));

    let out = run(ledge().args(["up", "/does/not/exist.yaml"]));
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("does not exist"));
}

#[test]
fn every_command_has_help() {
    for cmd in [
        vec!["--help"],
        vec!["up", "--help"],
        vec!["invoke", "--help"],
        vec!["logs", "--help"],
    ] {
        let out = run(ledge().args(&cmd));
        assert!(out.status.success(), "{cmd:?}");
        assert!(text(&out.stdout).contains("Usage:"), "{cmd:?}");
    }
}

#[test]
fn up_serves_the_example_warm_and_shuts_down_cleanly() {
    let state = tempfile::tempdir().expect("tempdir");
    let mut running = up(&example(), state.path());
    let ready = running.ready.clone();
    let endpoint = ready["aws_endpoint"].as_str().expect("aws_endpoint");
    assert!(endpoint.starts_with("http://127.0.0.1:"));
    assert!(ready["apis"].is_object() && ready["distributions"].is_object());
    let url = ready["functions"]["HelloFunction"]["invoke_url"]
        .as_str()
        .expect("invoke_url");

    let (status, body, headers) = post(url, r#"{"name":"up"}"#);
    assert_eq!(status, 200);
    assert_eq!(body, r#"{"message": "Hello, up!"}"#);
    assert_eq!(headers["x-amz-executed-version"], "$LATEST");
    assert!(!headers.contains_key("x-amz-function-error"));
    let (_, body, _) = post(url, r#"{"name":"again"}"#);
    assert_eq!(body, r#"{"message": "Hello, again!"}"#);

    // The example's HTTP API route reaches the same function.
    let api = ready["apis"]["ServerlessHttpApi"]["url"]
        .as_str()
        .expect("api url");
    let r = reqwest::blocking::get(format!("{api}/hello?name=api")).expect("get");
    assert_eq!(r.status().as_u16(), 200);
    assert_eq!(r.text().expect("body"), r#"{"message": "Hello, api!"}"#);
    // And the same greeter on the managed Node.js runtime.
    let r = reqwest::blocking::get(format!("{api}/node?name=node")).expect("get");
    assert_eq!(r.status().as_u16(), 200);
    assert_eq!(
        r.text().expect("body"),
        r#"{"message":"Hello, node!","runtime":"AWS_Lambda_nodejs20.x"}"#
    );

    // The context function sees what the template resolved.
    let ctx_url = ready["functions"]["ContextFunction"]["invoke_url"]
        .as_str()
        .expect("url");
    let (_, body, _) = post(ctx_url, "{}");
    let v: serde_json::Value = serde_json::from_str(&body).expect("json");
    assert_eq!(v["memory_limit_in_mb"], "256");
    assert_eq!(
        v["env"]["FUNCTION_ARN"],
        "arn:aws:lambda:us-east-1:123456789012:function:ContextFunction"
    );
    assert_eq!(v["env"]["STAGE"], "local");

    // Logs: one cold start, then warm.
    let out = run(ledge()
        .args(["logs", "HelloFunction", "--state-dir"])
        .arg(state.path()));
    let log = text(&out.stdout);
    assert_eq!(
        log.matches("REPORT RequestId: ").count(),
        3,
        "two direct calls and one through the API:\n{log}"
    );
    assert_eq!(
        log.matches("Init Duration: ").count(),
        1,
        "only the first call was cold:\n{log}"
    );

    // ledge invoke --state-dir goes through the running platform.
    let out = run(ledge()
        .args([
            "invoke",
            "HelloFunction",
            "--payload",
            r#"{"name":"cli"}"#,
            "--state-dir",
        ])
        .arg(state.path()));
    assert_eq!(text(&out.stdout), "{\"message\": \"Hello, cli!\"}\n");

    // A second ledge on the same state dir refuses.
    let out = run(ledge()
        .arg("up")
        .arg(example())
        .arg("--state-dir")
        .arg(state.path()));
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("already running"),
        "{}",
        text(&out.stderr)
    );

    let pid = running.child.id();
    sigterm(&running.child);
    let status = running.child.wait().expect("wait");
    assert!(status.success(), "graceful exit: {status}");
    assert!(
        !state.path().join("ready.json").exists(),
        "the ready file is removed"
    );
    assert_eq!(leftovers(pid, "\u{1}none"), Vec::<String>::new());
}

#[test]
fn sigterm_and_ctrl_c_leave_no_process_behind() {
    for signal in ["-TERM", "-INT"] {
        let dir = tempfile::tempdir().expect("tempdir");
        let mark = format!("orphan-mark-{}-{}", std::process::id(), &signal[1..]);
        std::fs::create_dir_all(dir.path().join("src")).expect("mkdir");
        std::fs::write(
            dir.path().join("src/app.py"),
            format!(
                "import subprocess\n\ndef handler(event, context):\n    subprocess.Popen(['sh', '-c', 'sleep 300; : {mark}'], start_new_session=True)\n    subprocess.Popen(['sh', '-c', 'sleep 300; : {mark}'])\n    return 'spawned'\n"
            ),
        )
        .expect("write");
        let t = dir.path().join("template.yaml");
        std::fs::write(
            &t,
            "Resources:\n  Spawner:\n    Type: AWS::Serverless::Function\n    Properties:\n      CodeUri: src/\n      Handler: app.handler\n      Runtime: python3.11\n",
        )
        .expect("write");
        let state = dir.path().join("state");
        let mut running = up(&t, &state);
        let url = running.ready["functions"]["Spawner"]["invoke_url"]
            .as_str()
            .expect("url")
            .to_owned();
        let (status, body, _) = post(&url, "{}");
        assert_eq!((status, body.as_str()), (200, "\"spawned\""));
        let pid = running.child.id();
        assert!(leftovers(pid, &mark).len() >= 2, "the children run");
        let _ = Command::new("kill")
            .args([signal, &pid.to_string()])
            .status();
        let status = running.child.wait().expect("wait");
        assert!(status.success(), "{signal}: {status}");
        let start = Instant::now();
        while !leftovers(pid, &mark).is_empty() && start.elapsed() < Duration::from_secs(5) {
            std::thread::sleep(Duration::from_millis(20));
        }
        assert_eq!(
            leftovers(pid, &mark),
            Vec::<String>::new(),
            "{signal} left processes behind"
        );
    }
}

#[test]
fn logs_follow_streams_new_lines_and_port_base_picks_the_port() {
    let state = tempfile::tempdir().expect("tempdir");
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        l.local_addr().expect("addr").port()
    };
    let ready_path = state.path().join("ready.json");
    let mut child = ledge()
        .arg("up")
        .arg(example())
        .arg("--state-dir")
        .arg(state.path())
        .args(["--port-base", &port.to_string(), "--quiet"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn");
    let ready = wait_for(&ready_path, &mut child);
    let running = Up { child, ready };
    assert_eq!(
        running.ready["aws_endpoint"],
        format!("http://127.0.0.1:{port}")
    );

    let mut follow = ledge()
        .args(["logs", "HelloFunction", "--follow", "--state-dir"])
        .arg(state.path())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn logs");
    let url = running.ready["functions"]["HelloFunction"]["invoke_url"]
        .as_str()
        .expect("url")
        .to_owned();
    assert_eq!(post(&url, r#"{"name":"followed"}"#).0, 200);
    let stdout = follow.stdout.take().expect("stdout");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        use std::io::BufRead;
        for line in std::io::BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
        {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let start = Instant::now();
    let mut seen = Vec::new();
    while start.elapsed() < Duration::from_secs(20) {
        if let Ok(line) = rx.recv_timeout(Duration::from_millis(100)) {
            let done = line.starts_with("REPORT RequestId: ");
            seen.push(line);
            if done {
                break;
            }
        }
    }
    let _ = follow.kill();
    let _ = follow.wait();
    assert!(seen.iter().any(|l| l == "greeting followed"), "{seen:?}");
    assert!(
        seen.iter().any(|l| l.starts_with("REPORT RequestId: ")),
        "{seen:?}"
    );
    let _ = Command::new("true").status();
}
