//! CloudFront distributions through `ledge up` on `examples/site` (copied to a temp dir):
//! the ready file's distributions and POP URLs, static files from the bucket folder Miss
//! then Hit, `/api/*` through the HTTP API to the Python function, invalidations with the
//! AWS CLI, boto3 and `ledge invalidate` (history kept across a restart), `ledge edge
//! report`, SigV4 with `--auth`, deploy errors (exit 2), and hot reload of a behaviour.

#![allow(clippy::unwrap_used)] // test code: a panic is the failure report

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use common::*;
use serde_json::Value as J;

/// boto3 and awscli, pinned, installed once under `target/test-deps/` (shared with the
/// Lambda API tests).
fn clients() -> PathBuf {
    static ONCE: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    ONCE.get_or_init(|| {
        pip_install(
            "python3",
            "lambda-api-clients-boto3-1.43.11-awscli-1.45.11",
            &["boto3==1.43.11", "awscli==1.45.11"],
            &[],
        )
    })
    .clone()
}

/// A temp dir holding a copy of `examples/site` (template, ledge.toml, static/, api/) in
/// `app/`; the state dir and ledge's standard error stay outside the watched folder.
fn site() -> tempfile::TempDir {
    let src = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../examples/site");
    let dir = tempfile::tempdir().unwrap();
    copy_tree(&src, &dir.path().join("app"));
    dir
}

/// `ledge up ROOT/app --state-dir ROOT/state` with standard output (the banner) collected
/// until it is printed, and standard error appended to `ROOT/stderr.log`.
type Site = AppUp;

fn start(dir: &Path, extra: &[&str]) -> Site {
    up_app(dir, extra, true)
}

impl AppUp {
    fn dist(&self) -> &J {
        &self.up.ready["distributions"]["SiteDistribution"]
    }

    fn pop(&self, code: &str) -> String {
        self.dist()["pops"][code].as_str().unwrap().to_owned()
    }

    fn id(&self) -> String {
        self.dist()["id"].as_str().unwrap().to_owned()
    }

    /// `ledge …` aimed at this ledge's state dir.
    fn ledge(&self, args: &[&str]) -> std::process::Output {
        run(ledge()
            .args(args)
            .arg("--state-dir")
            .arg(self.dir.join("state"))
            .env_remove("AWS_ACCESS_KEY_ID")
            .env_remove("AWS_SECRET_ACCESS_KEY"))
    }
}

struct Got {
    status: u16,
    x_cache: String,
    pop: String,
    content_type: String,
    body: String,
}

fn get(url: &str, headers: &[(&str, &str)]) -> Got {
    let client = reqwest::blocking::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let mut rb = client.get(url);
    for (k, v) in headers {
        rb = rb.header(*k, *v);
    }
    let r = rb.send().unwrap();
    let h = |n: &str| {
        r.headers()
            .get(n)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    };
    let (x_cache, pop, content_type) = (h("x-cache"), h("x-amz-cf-pop"), h("content-type"));
    let status = r.status().as_u16();
    Got {
        status,
        x_cache,
        pop,
        content_type,
        body: r.text().unwrap(),
    }
}

/// Runs the AWS CLI (`python3 -m awscli`) with dummy credentials.
fn aws(args: &[&str]) -> (bool, String, String) {
    let out = Command::new("python3")
        .args(["-m", "awscli"])
        .args(args)
        .args(["--region", "us-east-1", "--output", "json"])
        .env("PYTHONPATH", clients())
        .env("AWS_ACCESS_KEY_ID", "AKIDLOCAL")
        .env("AWS_SECRET_ACCESS_KEY", "local-secret")
        .env("AWS_CONFIG_FILE", "/dev/null")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
        .env_remove("AWS_PROFILE")
        .stdin(Stdio::null())
        .output()
        .expect("python3 -m awscli");
    (out.status.success(), text(&out.stdout), text(&out.stderr))
}

/// Runs a boto3 snippet (`ENDPOINT` and `DIST` are set) and returns its standard output.
fn boto3(endpoint: &str, dist: &str, code: &str) -> String {
    let script = format!(
        "import boto3, json\nENDPOINT = {endpoint:?}\nDIST = {dist:?}\ncf = boto3.client('cloudfront', endpoint_url=ENDPOINT, region_name='us-east-1')\n{code}\n"
    );
    let out = Command::new("python3")
        .args(["-c", &script])
        .env("PYTHONPATH", clients())
        .env("AWS_ACCESS_KEY_ID", "AKIDLOCAL")
        .env("AWS_SECRET_ACCESS_KEY", "local-secret")
        .env("AWS_CONFIG_FILE", "/dev/null")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
        .env_remove("AWS_PROFILE")
        .stdin(Stdio::null())
        .output()
        .expect("python3");
    assert!(out.status.success(), "boto3 failed:\n{}", text(&out.stderr));
    text(&out.stdout)
}

#[test]
fn ready_file_pops_static_miss_then_hit_and_api_through_the_function() {
    let dir = site();
    let s = start(dir.path(), &["--no-watch"]);
    let d = s.dist();
    assert_eq!(d["id"].as_str().unwrap().len(), 10, "{d}");
    assert!(d["domain_name"]
        .as_str()
        .unwrap()
        .ends_with(".cloudfront.net"));
    assert!(d["url"].as_str().unwrap().starts_with("http://127.0.0.1:"));
    let pops = d["pops"].as_object().unwrap();
    assert_eq!(pops.len(), 8, "the default edge locations: {d}");
    for code in ["IAD", "SFO", "GRU", "LHR", "FRA", "JNB", "NRT", "SYD"] {
        assert!(pops[code]
            .as_str()
            .unwrap()
            .starts_with("http://127.0.0.1:"));
    }
    assert!(
        s.banner.contains("Distributions (CloudFront):"),
        "{}",
        s.banner
    );
    assert!(
        s.banner.contains(d["url"].as_str().unwrap()),
        "{}",
        s.banner
    );
    assert!(s.banner.contains(&s.pop("NRT")), "{}", s.banner);

    // The bucket (static/ by ledge.toml) with DefaultRootObject.
    let fra = s.pop("FRA");
    let first = get(&format!("{fra}/"), &[]);
    assert_eq!(first.status, 200);
    assert_eq!(first.x_cache, "Miss from cloudfront");
    assert_eq!(first.pop, "FRA56-P1");
    assert!(first.body.contains("Served from the edge"));
    let second = get(&format!("{fra}/"), &[]);
    assert_eq!(second.x_cache, "Hit from cloudfront");
    assert_eq!(second.pop, "FRA56-P1");
    assert_eq!(second.body, first.body);
    let css = get(&format!("{fra}/site.css"), &[]);
    assert_eq!((css.status, css.content_type.as_str()), (200, "text/css"));
    let png = get(&format!("{fra}/img/logo.png"), &[]);
    assert_eq!((png.status, png.content_type.as_str()), (200, "image/png"));
    assert_eq!(
        get(&format!("{fra}/img/logo.png"), &[]).x_cache,
        "Hit from cloudfront"
    );
    // Another POP has its own cache.
    let nrt = get(&format!("{}/site.css", s.pop("NRT")), &[]);
    assert_eq!(
        (nrt.x_cache.as_str(), nrt.pop.as_str()),
        ("Miss from cloudfront", "NRT57-P2")
    );
    // The main listener: home (FRA, ledge.toml) unless the viewer says otherwise.
    let main = d["url"].as_str().unwrap();
    assert_eq!(get(&format!("{main}/site.css"), &[]).pop, "FRA56-P1");
    assert_eq!(
        get(&format!("{main}/site.css"), &[("x-ledge-viewer", "SYD")]).pop,
        "SYD1-C1"
    );

    // /api/* reaches the Python function through the HTTP API; its Cache-Control decides.
    let hello = get(&format!("{fra}/api/hello?name=edge"), &[]);
    assert_eq!(hello.status, 200, "{}", hello.body);
    let v: J = serde_json::from_str(&hello.body).unwrap();
    assert_eq!(v["message"], "Hello, edge!");
    assert_eq!(v["served_by"], "ApiFunction");
    assert_eq!(hello.x_cache, "Miss from cloudfront");
    assert_eq!(
        get(&format!("{fra}/api/hello?name=edge"), &[]).x_cache,
        "Hit from cloudfront"
    );
    assert_eq!(
        get(&format!("{fra}/api/hello?name=other"), &[]).x_cache,
        "Miss from cloudfront",
        "the query string is in the key"
    );
    for _ in 0..2 {
        let t = get(&format!("{fra}/api/time"), &[]);
        assert_eq!(
            (t.status, t.x_cache.as_str()),
            (200, "Miss from cloudfront")
        );
    }
    s.stop();
}

#[test]
fn invalidations_by_aws_cli_boto3_and_ledge_invalidate_survive_a_restart() {
    let dir = site();
    let s = start(dir.path(), &["--no-watch"]);
    let (fra, endpoint, id) = (s.pop("FRA"), s.endpoint(), s.id());
    get(&format!("{fra}/site.css"), &[]);
    assert_eq!(
        get(&format!("{fra}/site.css"), &[]).x_cache,
        "Hit from cloudfront"
    );

    // The AWS CLI: create-invalidation then get-invalidation.
    let (ok, out, err) = aws(&[
        "cloudfront",
        "create-invalidation",
        "--endpoint-url",
        &endpoint,
        "--distribution-id",
        &id,
        "--paths",
        "/site.css",
    ]);
    assert!(ok, "{err}");
    let created: J = serde_json::from_str(&out).unwrap();
    let first = created["Invalidation"]["Id"].as_str().unwrap().to_owned();
    assert!(first.starts_with('I') && first.len() == 14, "{out}");
    assert_eq!(created["Invalidation"]["Status"], "InProgress");
    let (ok, out, err) = aws(&[
        "cloudfront",
        "get-invalidation",
        "--endpoint-url",
        &endpoint,
        "--distribution-id",
        &id,
        "--id",
        &first,
    ]);
    assert!(ok, "{err}");
    let got: J = serde_json::from_str(&out).unwrap();
    assert_eq!(got["Invalidation"]["Status"], "Completed");
    assert_eq!(
        got["Invalidation"]["InvalidationBatch"]["Paths"]["Items"][0],
        "/site.css"
    );
    assert_eq!(
        get(&format!("{fra}/site.css"), &[]).x_cache,
        "Miss from cloudfront"
    );

    // boto3, by distribution id.
    get(&format!("{fra}/index.html"), &[]);
    let out = boto3(
        &endpoint,
        &id,
        "r = cf.create_invalidation(DistributionId=DIST, InvalidationBatch={'Paths': {'Quantity': 1, 'Items': ['/index.html']}, 'CallerReference': 'boto3-1'})\nprint(r['Invalidation']['Id'])",
    );
    let second = out.trim().to_owned();
    assert_eq!(get(&format!("{fra}/"), &[]).x_cache, "Miss from cloudfront");

    // ledge invalidate, by logical id, with a wildcard.
    get(&format!("{fra}/img/logo.png"), &[]);
    assert_eq!(
        get(&format!("{fra}/img/logo.png"), &[]).x_cache,
        "Hit from cloudfront"
    );
    let out = s.ledge(&["invalidate", "SiteDistribution", "/img/*"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let line = text(&out.stdout);
    let (third, status) = line.trim().split_once(' ').unwrap();
    assert!(third.starts_with('I') && third.len() == 14, "{line}");
    assert_eq!(status, "InProgress");
    assert_eq!(
        get(&format!("{fra}/img/logo.png"), &[]).x_cache,
        "Miss from cloudfront"
    );

    // Bad input: exit 2 and a message naming the problem.
    let out = s.ledge(&["invalidate", "SiteDistribution", "/a*b"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("`*` is allowed only as the last character"));
    let out = s.ledge(&["invalidate", "NoSuchDist", "/x"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("NoSuchDistribution"),
        "{}",
        text(&out.stderr)
    );
    let out = s.ledge(&["invalidate", "SiteDistribution"]);
    assert_eq!(out.status.code(), Some(2), "a path is required");

    // History survives a restart.
    s.stop();
    let s = start(dir.path(), &["--no-watch"]);
    assert_eq!(s.id(), id, "the distribution id is stable");
    let out = boto3(
        &s.endpoint(),
        &id,
        "l = cf.list_invalidations(DistributionId=DIST)['InvalidationList']\nprint(json.dumps([[i['Id'], i['Status']] for i in l['Items']]))",
    );
    let list: Vec<(String, String)> = serde_json::from_str(out.trim()).unwrap();
    let ids: Vec<&str> = list.iter().map(|(i, _)| i.as_str()).collect();
    for want in [first.as_str(), second.as_str(), third] {
        assert!(ids.contains(&want), "{want} missing from {list:?}");
    }
    assert!(list.iter().all(|(_, st)| st == "Completed"), "{list:?}");
    s.stop();
}

#[test]
fn edge_report_shows_each_pop_with_the_latency_model() {
    let dir = site();
    let s = start(dir.path(), &["--no-watch", "--edge-latency"]);
    let (fra, nrt) = (s.pop("FRA"), s.pop("NRT"));
    for _ in 0..4 {
        get(&format!("{fra}/site.css"), &[]);
    }
    get(&format!("{nrt}/site.css"), &[]);
    let out = s.ledge(&["edge", "report", "SiteDistribution"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let table = text(&out.stdout);
    assert!(table.contains("latency model on"), "{table}");
    let fra_line = table.lines().find(|l| l.contains("FRA56-P1")).unwrap();
    let cols: Vec<&str> = fra_line.split_whitespace().collect();
    assert_eq!(
        &cols[..6],
        ["FRA56-P1", "4", "3", "0", "75.0%", "1"],
        "{table}"
    );
    let out = s.ledge(&["edge", "report", &s.id(), "--json"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let v: J = serde_json::from_str(&text(&out.stdout)).unwrap();
    let pops = v["pops"].as_array().unwrap();
    let nrt = pops.iter().find(|p| p["pop"] == "NRT57-P2").unwrap();
    assert_eq!(nrt["requests"], 1);
    assert_eq!(nrt["origin_fetches"], 1);
    let fra = pops.iter().find(|p| p["pop"] == "FRA56-P1").unwrap();
    let (with, without) = (
        fra["mean_latency_ms"].as_f64().unwrap(),
        fra["mean_latency_without_edge_ms"].as_f64().unwrap(),
    );
    assert!(with > 0.0 && with < without, "{fra}");
    let out = s.ledge(&["edge", "report", "Nope"]);
    assert_eq!(out.status.code(), Some(2));
    s.stop();
}

#[test]
fn with_auth_cloudfront_calls_must_be_signed() {
    let dir = site();
    let s = start(
        dir.path(),
        &[
            "--no-watch",
            "--auth",
            "--access-key",
            "AKIDLOCAL:local-secret",
        ],
    );
    let url = format!(
        "{}/2020-05-31/distribution/{}/invalidation",
        s.endpoint(),
        s.id()
    );
    let r = reqwest::blocking::get(&url).unwrap();
    assert_eq!(r.status().as_u16(), 403);
    let body = r.text().unwrap();
    assert!(
        body.contains("<Code>MissingAuthenticationToken</Code><Message>Request is missing Authentication Token</Message>"),
        "{body}"
    );
    let out = s.ledge(&["invalidate", "SiteDistribution", "/x"]);
    assert_eq!(out.status.code(), Some(2), "unsigned: refused");
    let out = run(ledge()
        .args(["invalidate", "SiteDistribution", "/x", "--state-dir"])
        .arg(s.dir.join("state"))
        .env("AWS_ACCESS_KEY_ID", "AKIDLOCAL")
        .env("AWS_SECRET_ACCESS_KEY", "local-secret"));
    assert!(out.status.success(), "{}", text(&out.stderr));
    let out = boto3(
        &s.endpoint(),
        &s.id(),
        "print(cf.list_invalidations(DistributionId=DIST)['InvalidationList']['Quantity'])",
    );
    assert_eq!(out.trim(), "1");
    s.stop();
}

#[test]
fn bad_distributions_and_config_exit_2_naming_what_is_wrong() {
    let dir = site();
    let t = dir.path().join("app/template.yaml");
    let good = std::fs::read_to_string(&t).unwrap();
    std::fs::write(
        &t,
        good.replace("TargetOriginId: site", "TargetOriginId: nowhere"),
    )
    .unwrap();
    let out = run(ledge()
        .arg("up")
        .arg(dir.path().join("app"))
        .arg("--state-dir")
        .arg(dir.path().join("state"))
        .arg("--no-watch"));
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    let err = text(&out.stderr);
    assert!(
        err.contains("SiteDistribution")
            && err.contains("DistributionConfig.DefaultCacheBehavior.TargetOriginId"),
        "{err}"
    );
    std::fs::write(&t, &good).unwrap();

    let toml = dir.path().join("app/ledge.toml");
    std::fs::write(&toml, "[edge]\nhome = \"FRA\"\npopz = [\"FRA\"]\n").unwrap();
    let out = run(ledge()
        .arg("up")
        .arg(dir.path().join("app"))
        .arg("--state-dir")
        .arg(dir.path().join("state"))
        .arg("--no-watch"));
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("popz"), "{}", text(&out.stderr));

    // Without ledge.toml the bucket has no folder until --bucket names one.
    std::fs::remove_file(&toml).unwrap();
    let out = run(ledge()
        .arg("up")
        .arg(dir.path().join("app"))
        .arg("--state-dir")
        .arg(dir.path().join("state"))
        .args([
            "--no-watch",
            "--bucket",
            "ledge-example-site=/does/not/exist",
        ]));
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("/does/not/exist"),
        "{}",
        text(&out.stderr)
    );
    let static_dir = dir.path().join("app/static");
    let s = start(
        dir.path(),
        &[
            "--no-watch",
            "--bucket",
            &format!("ledge-example-site={}", static_dir.display()),
        ],
    );
    assert_eq!(get(&format!("{}/site.css", s.pop("LHR")), &[]).status, 200);
    s.stop();
}

#[test]
fn hot_reload_applies_a_changed_behaviour_and_keeps_the_last_good_one() {
    let dir = site();
    let s = start(dir.path(), &[]);
    let fra = s.pop("FRA");
    let hello = format!("{fra}/api/hello?name=reload");
    assert_eq!(get(&hello, &[]).x_cache, "Miss from cloudfront");
    assert_eq!(get(&hello, &[]).x_cache, "Hit from cloudfront");

    // /api/* switches to Managed-CachingDisabled: the function's max-age no longer counts.
    let t = dir.path().join("app/template.yaml");
    let good = std::fs::read_to_string(&t).unwrap();
    let disabled = good.replace(
        "CachePolicyId: !Ref ApiCachePolicy",
        "CachePolicyId: 4135ea2d-6df8-44a3-9df3-4b5a84be39ad",
    );
    assert_ne!(disabled, good);
    std::fs::write(&t, &disabled).unwrap();
    eventually(30, "the distribution to be redeployed", || {
        s.stderr()
            .contains("SiteDistribution: distribution redeployed")
    });
    for _ in 0..2 {
        let g = get(&hello, &[]);
        assert_eq!(
            (g.status, g.x_cache.as_str()),
            (200, "Miss from cloudfront")
        );
    }

    // A broken behaviour is refused; the last good deployment keeps serving.
    std::fs::write(
        &t,
        disabled.replace("TargetOriginId: api", "TargetOriginId: nowhere"),
    )
    .unwrap();
    eventually(30, "the refusal", || {
        s.stderr()
            .contains("distributions not redeployed, the last good deployment keeps serving")
    });
    assert!(s.stderr().contains("TargetOriginId"), "{}", s.stderr());
    let g = get(&hello, &[]);
    assert_eq!(
        (g.status, g.x_cache.as_str()),
        (200, "Miss from cloudfront")
    );
    assert_eq!(get(&format!("{fra}/site.css"), &[]).status, 200);
    s.stop();
}

/// An HTTP server on a free loopback port that answers every request `200 {}` and records
/// each request line.
struct Recorder {
    url: String,
    seen: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
}

fn recorder() -> Recorder {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let log = seen.clone();
    std::thread::spawn(move || {
        for mut stream in listener.incoming().map_while(Result::ok) {
            let mut buf = Vec::new();
            let mut chunk = [0u8; 4096];
            // The head, then as much body as Content-Length says.
            let head_end = loop {
                let n = stream.read(&mut chunk).unwrap_or(0);
                if n == 0 {
                    break None;
                }
                buf.extend_from_slice(&chunk[..n]);
                if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                    break Some(i + 4);
                }
            };
            let Some(head_end) = head_end else { continue };
            let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
            let len = head
                .lines()
                .find_map(|l| {
                    let (k, v) = l.split_once(':')?;
                    k.eq_ignore_ascii_case("content-length")
                        .then(|| v.trim().parse::<usize>().ok())?
                })
                .unwrap_or(0);
            while buf.len() < head_end + len {
                let n = stream.read(&mut chunk).unwrap_or(0);
                if n == 0 {
                    break;
                }
                buf.extend_from_slice(&chunk[..n]);
            }
            log.lock()
                .unwrap()
                .push(head.lines().next().unwrap_or_default().to_owned());
            let _ = stream.write_all(
                b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}",
            );
        }
    });
    Recorder { url, seen }
}

const SQS_PROXY: &str = r#"
Resources:
  Api:
    Type: AWS::ApiGateway::RestApi
    Properties:
      Name: sqs-proxy
      Body:
        openapi: "3.0.1"
        info: {title: sqs-proxy, version: "1"}
        paths:
          /send:
            post:
              responses:
                "200": {description: sent}
              x-amazon-apigateway-integration:
                type: aws
                httpMethod: POST
                uri: arn:aws:apigateway:us-east-1:sqs:path/123456789012/ledge-queue
                requestParameters:
                  integration.request.header.Content-Type: "'application/x-www-form-urlencoded'"
                requestTemplates:
                  application/json: "Action=SendMessage&MessageBody=$input.body"
                passthroughBehavior: never
                responses:
                  default:
                    statusCode: 200
  Deployment:
    Type: AWS::ApiGateway::Deployment
    Properties:
      RestApiId: !Ref Api
      StageName: test
"#;

/// `[aws.endpoints]` in ledge.toml sends a REST API's AWS integration to the configured
/// endpoint; `AWS_ENDPOINT_URL_SQS` in the environment wins over it.
#[test]
fn aws_endpoints_from_ledge_toml_below_the_environment() {
    let dir = tempfile::tempdir().unwrap();
    let app = dir.path().join("app");
    std::fs::create_dir_all(&app).unwrap();
    std::fs::write(app.join("template.yaml"), SQS_PROXY).unwrap();
    let (from_file, from_env) = (recorder(), recorder());
    std::fs::write(
        app.join("ledge.toml"),
        format!("[aws.endpoints]\nsqs = \"{}\"\n", from_file.url),
    )
    .unwrap();
    let send = |env: &[(&str, &str)]| {
        let state = dir.path().join("state");
        let _ = std::fs::remove_file(state.join("ready.json"));
        let mut child = ledge()
            .arg("up")
            .arg(&app)
            .arg("--state-dir")
            .arg(&state)
            .args(["--no-watch", "--quiet"])
            .env_remove("AWS_ENDPOINT_URL")
            .env_remove("AWS_ENDPOINT_URL_SQS")
            .env("AWS_ACCESS_KEY_ID", "AKIDLOCAL")
            .env("AWS_SECRET_ACCESS_KEY", "local-secret")
            .env("AWS_CONFIG_FILE", "/dev/null")
            .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let ready = wait_for(&state.join("ready.json"), &mut child);
        let up = Up { child, ready };
        let url = format!("{}/send", up.ready["apis"]["Api"]["url"].as_str().unwrap());
        let (status, body, _) = post(&url, "{\"hello\":1}");
        assert_eq!(status, 200, "{body}");
        sigterm(&up.child);
    };
    send(&[]);
    assert_eq!(
        *from_file.seen.lock().unwrap(),
        ["POST /123456789012/ledge-queue HTTP/1.1"]
    );
    send(&[("AWS_ENDPOINT_URL_SQS", from_env.url.as_str())]);
    assert_eq!(
        from_file.seen.lock().unwrap().len(),
        1,
        "the environment wins"
    );
    assert_eq!(from_env.seen.lock().unwrap().len(), 1);
}
