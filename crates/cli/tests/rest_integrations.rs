//! Non-proxy `AWS` service integrations end to end (reference §3.6): `ledge up` on a REST
//! API whose methods proxy SQS, DynamoDB and S3 through VTL mapping templates, signed with
//! SigV4 and sent to moto's server (`moto[server]` from PyPI, started on a free loopback
//! port by the test) through `AWS_ENDPOINT_URL`, with dummy credentials from the
//! environment. boto3 (a moto dependency) creates the resources and reads them back. The
//! `credentials` roles are assumed through moto's STS. The same API has Lambda custom
//! (non-proxy) integrations to Python functions run by ledge's runtime: a request template
//! builds the event, `errorMessage` selects the error response, and `X-Amz-Invocation-Type:
//! 'Event'` invokes detached.

#![allow(clippy::unwrap_used)] // test code: a panic is the failure report

mod common;

use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::*;
use serde_json::Value as J;

const MOTO: &str = "moto[server]==5.2.5";

/// moto's server on a free loopback port, killed on drop.
struct Moto {
    child: Child,
    url: String,
    deps: PathBuf,
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn moto(log: &Path) -> Moto {
    let deps = packages("moto-server-5.2.5", &[MOTO]);
    let port = free_port();
    let child = Command::new(PYTHON)
        .args([
            "-m",
            "moto.server",
            "-H",
            "127.0.0.1",
            "-p",
            &port.to_string(),
        ])
        .env("PYTHONPATH", &deps)
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(log).unwrap())
        .stderr(std::fs::File::create(log.with_extension("err")).unwrap())
        .spawn()
        .expect("start moto.server");
    let mut m = Moto {
        child,
        url: format!("http://127.0.0.1:{port}"),
        deps,
    };
    let start = Instant::now();
    loop {
        if TcpStream::connect(("127.0.0.1", port)).is_ok()
            && reqwest::blocking::get(format!("{}/moto-api/", m.url))
                .is_ok_and(|r| r.status().is_success())
        {
            return m;
        }
        if let Ok(Some(s)) = m.child.try_wait() {
            panic!(
                "moto.server exited: {s}\n{}",
                std::fs::read_to_string(log.with_extension("err")).unwrap_or_default()
            );
        }
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "moto.server did not start"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

const CREDENTIALS: &[(&str, &str)] = &[
    ("AWS_ACCESS_KEY_ID", "testing"),
    ("AWS_SECRET_ACCESS_KEY", "testing"),
    ("AWS_REGION", "us-east-1"),
    ("AWS_DEFAULT_REGION", "us-east-1"),
];

/// Runs `script` with boto3 against moto; its stdout is JSON.
fn boto3(m: &Moto, home: &Path, script: &str) -> J {
    let out = Command::new(PYTHON)
        .args(["-c", script])
        .env("PYTHONPATH", &m.deps)
        .env("HOME", home)
        .env("AWS_ENDPOINT_URL", &m.url)
        .envs(CREDENTIALS.iter().copied())
        .output()
        .unwrap();
    assert!(out.status.success(), "boto3: {}", text(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", text(&out.stdout)))
}

fn up(template: &Path, state: &Path, m: &Moto, home: &Path) -> Up {
    let stderr = std::fs::File::create(state.with_extension("stderr")).unwrap();
    let mut child = ledge()
        .arg("up")
        .arg(template)
        .arg("--state-dir")
        .arg(state)
        .arg("--no-watch")
        .env("HOME", home)
        .env("AWS_ENDPOINT_URL", &m.url)
        .envs(CREDENTIALS.iter().copied())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(stderr)
        .spawn()
        .expect("spawn ledge up");
    let ready = wait_for(&state.join("ready.json"), &mut child);
    Up { child, ready }
}

/// A loopback listener that hands over the body of each POST it gets.
fn callback_listener() -> (String, std::sync::mpsc::Receiver<String>) {
    use std::io::{BufRead, BufReader, Read, Write};
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/done", l.local_addr().unwrap());
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for conn in l.incoming() {
            let Ok(mut conn) = conn else { continue };
            let mut r = BufReader::new(conn.try_clone().unwrap());
            let mut len = 0;
            loop {
                let mut line = String::new();
                if r.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                    break;
                }
                if let Some((k, v)) = line.split_once(':') {
                    if k.eq_ignore_ascii_case("content-length") {
                        len = v.trim().parse().unwrap_or(0);
                    }
                }
            }
            let mut body = vec![0; len];
            let _ = r.read_exact(&mut body);
            let _ = conn
                .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: close\r\n\r\n");
            if tx
                .send(String::from_utf8_lossy(&body).into_owned())
                .is_err()
            {
                return;
            }
        }
    });
    (url, rx)
}

#[test]
fn sqs_dynamodb_and_s3_through_aws_integrations_against_moto() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("home");
    std::fs::create_dir_all(&home).unwrap();
    let m = moto(&dir.path().join("moto.log"));
    let made = boto3(
        &m,
        &home,
        r#"
import boto3, json
sqs = boto3.client("sqs")
q = sqs.create_queue(QueueName="ledge-queue")["QueueUrl"]
ddb = boto3.client("dynamodb")
ddb.create_table(TableName="ledge-items", KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
                 AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
                 BillingMode="PAY_PER_REQUEST")
boto3.client("s3").create_bucket(Bucket="ledge-bucket")
print(json.dumps({"queue": q}))
"#,
    );
    let queue = made["queue"].as_str().unwrap().to_owned();

    let template =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/rest_integrations/template.yaml");
    let state = dir.path().join("state");
    let ledge = up(&template, &state, &m, &home);
    let stderr = || std::fs::read_to_string(state.with_extension("stderr")).unwrap_or_default();
    let base = ledge.ready["apis"]["Api"]["url"]
        .as_str()
        .unwrap()
        .to_owned();
    let c = reqwest::blocking::Client::new();

    // SQS SendMessage: a form-encoded action from a JSON request; the response template
    // reads the service's JSON answer.
    let got = send(
        c.post(format!("{base}/sqs"))
            .header("content-type", "application/json")
            .body(r#"{"foo": "bar"}"#),
    );
    assert_eq!(got.status, 200, "{}\n{}", got.text(), stderr());
    let sent = got.json();
    let message_id = sent["messageId"].as_str().unwrap().to_owned();
    assert!(!message_id.is_empty(), "{sent}");
    assert!(!sent["requestId"].as_str().unwrap().is_empty(), "{sent}");
    let read = boto3(
        &m,
        &home,
        &format!(
            r#"
import boto3, json
r = boto3.client("sqs").receive_message(QueueUrl="{queue}", WaitTimeSeconds=1)
print(json.dumps(r.get("Messages", [])))
"#
        ),
    );
    assert_eq!(read[0]["Body"], r#"{"foo": "bar"}"#, "{read}");
    assert_eq!(read[0]["MessageId"], message_id.as_str());

    // Passthrough NEVER: a Content-Type without a template is refused before any call.
    let got = send(
        c.post(format!("{base}/sqs"))
            .header("content-type", "text/plain")
            .body("x"),
    );
    assert_eq!(got.status, 415);
    assert_eq!(got.text(), r#"{"message":"Unsupported Media Type"}"#);

    // DynamoDB PutItem then Query.
    for (id, note) in [("a1", "first"), ("b2", "it's \"quoted\"")] {
        let got = send(
            c.put(format!("{base}/items/{id}"))
                .header("content-type", "application/json")
                .body(serde_json::json!({ "note": note }).to_string()),
        );
        assert_eq!(got.status, 200, "{}\n{}", got.text(), stderr());
        assert_eq!(got.json(), serde_json::json!({"stored": id}));
    }
    let got = send(c.get(format!("{base}/items/a1")));
    assert_eq!(got.status, 200, "{}", got.text());
    assert_eq!(
        got.json(),
        serde_json::json!({"count": 1, "items": [{"id": "a1", "note": "first"}]})
    );
    let stored = boto3(
        &m,
        &home,
        r#"
import boto3, json
print(json.dumps(boto3.client("dynamodb").get_item(TableName="ledge-items", Key={"id": {"S": "b2"}})["Item"]))
"#,
    );
    assert_eq!(
        stored["note"]["S"], "it's \"quoted\"",
        "escapeJavaScript with the documented replaceAll of \\' makes valid JSON"
    );
    let got = send(c.get(format!("{base}/items/zz")));
    assert_eq!(got.json(), serde_json::json!({"count": 0, "items": []}));

    // S3 PutObject then GetObject; a missing object's 404 selects the `4\d{2}` response.
    let got = send(
        c.put(format!("{base}/files/docs/hello.txt"))
            .header("content-type", "text/plain")
            .body("hello from ledge"),
    );
    assert_eq!(got.status, 200, "{}\n{}", got.text(), stderr());
    let got = send(c.get(format!("{base}/files/docs/hello.txt")));
    assert_eq!(got.status, 200, "{}", got.text());
    assert_eq!(got.text(), "hello from ledge");
    assert_eq!(
        got.headers
            .get("content-type")
            .and_then(|v| v.to_str().ok()),
        Some("text/plain"),
        "method.response.header.Content-Type from the integration response"
    );
    let object = boto3(
        &m,
        &home,
        r#"
import boto3, json
o = boto3.client("s3").get_object(Bucket="ledge-bucket", Key="docs/hello.txt")
print(json.dumps({"body": o["Body"].read().decode(), "type": o["ContentType"]}))
"#,
    );
    assert_eq!(object["body"], "hello from ledge");
    assert_eq!(object["type"], "text/plain");
    let got = send(c.get(format!("{base}/files/docs/missing.txt")));
    assert_eq!(got.status, 400, "{}", got.text());
    assert!(
        got.text().contains("NoSuchKey"),
        "S3's error passes through: {}",
        got.text()
    );

    // Lambda custom integration: the request template builds the event; success takes the
    // default response and its template.
    let got = send(
        c.post(format!("{base}/calc/add?x=1&note=it%27s"))
            .header("content-type", "application/json")
            .header("x-who", "ada")
            .body(r#"{"a": 2, "b": 40}"#),
    );
    assert_eq!(got.status, 200, "{}\n{}", got.text(), stderr());
    assert_eq!(
        got.json(),
        serde_json::json!({"sum": 42, "who": "ada", "query": {"x": "1", "note": "it's"}})
    );
    // A raised ValueError("Bad: …"): its errorMessage matches `Bad: .*` → 400, with the
    // message from $input.path('$.errorMessage') and a header from the error body.
    let got = send(
        c.post(format!("{base}/calc/bad"))
            .header("content-type", "application/json")
            .body(r#"{"why": "negative amount"}"#),
    );
    assert_eq!(got.status, 400, "{}\n{}", got.text(), stderr());
    assert_eq!(
        got.json(),
        serde_json::json!({"error": "Bad: negative amount"})
    );
    assert_eq!(
        got.headers
            .get("x-error-type")
            .and_then(|v| v.to_str().ok()),
        Some("ValueError")
    );
    // Any other error matches no pattern: the default response (200) renders over the
    // error JSON, as on AWS.
    let got = send(
        c.post(format!("{base}/calc/other"))
            .header("content-type", "application/json")
            .body("{}"),
    );
    assert_eq!(got.status, 200, "{}", got.text());
    assert_eq!(
        got.json(),
        serde_json::json!({"sum": "", "who": "", "query": ""})
    );

    // X-Amz-Invocation-Type: 'Event': the API answers at once; the function runs detached
    // and reports to the listener about two seconds later.
    let (callback, done) = callback_listener();
    let got = send(
        c.post(format!("{base}/jobs"))
            .header("content-type", "application/json")
            .body(serde_json::json!({"callback": callback, "n": 1}).to_string()),
    );
    assert_eq!(got.status, 200, "{}\n{}", got.text(), stderr());
    assert_eq!(got.json(), serde_json::json!({"accepted": true}));
    let request_id = got
        .headers
        .get("x-amzn-requestid")
        .and_then(|v| v.to_str().ok())
        .unwrap()
        .to_owned();
    assert!(
        done.try_recv().is_err(),
        "the API answered before the function finished"
    );
    let event: J = serde_json::from_str(
        &done
            .recv_timeout(Duration::from_secs(60))
            .unwrap_or_else(|e| panic!("the worker never reported ({e}):\n{}", stderr())),
    )
    .unwrap();
    assert_eq!(event["job"]["n"], 1);
    assert_eq!(event["requestId"], request_id.as_str());
}
