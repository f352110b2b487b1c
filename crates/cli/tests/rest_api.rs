//! REST APIs end to end through `ledge up`: real Python functions on the ledge runtime,
//! real HTTP clients, addresses from the ready file. The stage cache as a user sees it
//! (invocation counters in the function's answers, headers), SigV4-signed invalidation by
//! botocore, `ledge cache flush|stats`, `aws apigateway flush-stage-cache`, the access log,
//! Redis with `--cache` (a restart mid-traffic, two nodes sharing it), Lambda authorizers,
//! API keys and usage plans, and FastAPI behind Mangum on a REST API. Third-party Python
//! packages come from PyPI once, cached under `target/test-deps/`; the AWS CLI is the one
//! on PATH (or installed there the same way).

#![allow(clippy::unwrap_used)] // test code: a panic is the failure report

mod common;
#[path = "../../cache/tests/common/redis_server.rs"]
#[allow(dead_code, unreachable_pub)]
mod redis_server;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use common::*;
use serde_json::{json, Value as J};

const KEY_ID: &str = "AKIDLEDGEE2E";
const SECRET: &str = "ledge-e2e-secret";

/// `ledge up TEMPLATE --state-dir STATE ARGS…` with stderr kept in `STATE/../stderr.txt`.
fn up_args(template: &Path, state: &Path, args: &[&str]) -> Up {
    let stderr = std::fs::File::create(state.with_extension("stderr")).unwrap();
    let mut child = ledge()
        .arg("up")
        .arg(template)
        .arg("--state-dir")
        .arg(state)
        .arg("--no-watch")
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(stderr)
        .spawn()
        .expect("spawn ledge up");
    let ready = wait_for(&state.join("ready.json"), &mut child);
    Up { child, ready }
}

fn stderr_of(state: &Path) -> String {
    std::fs::read_to_string(state.with_extension("stderr")).unwrap_or_default()
}

impl Got {
    /// The invocation counter the test functions put in their answers.
    fn n(&self) -> u64 {
        self.json()["n"]
            .as_u64()
            .unwrap_or_else(|| panic!("{} {}", self.status, self.text()))
    }
}

fn client() -> reqwest::blocking::Client {
    reqwest::blocking::Client::new()
}

fn rest_url(up: &Up, id: &str) -> String {
    let e = &up.ready["apis"][id];
    assert_eq!(e["kind"], "rest", "{}", up.ready);
    e["url"].as_str().unwrap().to_owned()
}

/// A Python that can import botocore (the AWS CLI's), for signing like a real client.
fn botocore_python() -> (String, Option<PathBuf>) {
    for p in ["python3", PYTHON] {
        let ok = Command::new(p)
            .args(["-c", "import botocore"])
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if ok {
            return (p.to_owned(), None);
        }
    }
    (PYTHON.to_owned(), Some(packages("botocore", &["botocore"])))
}

/// A GET signed by botocore's SigV4Auth (service execute-api) with `Cache-Control:
/// max-age=0`: `(status, headers as JSON, body)`.
fn botocore_refresh(url: &str, key: &str, secret: &str) -> (u16, J, String) {
    let (py, path) = botocore_python();
    let script = r#"
import json, sys, urllib.request
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
url, key, secret = sys.argv[1:4]
req = AWSRequest(method="GET", url=url, headers={"Cache-Control": "max-age=0"})
SigV4Auth(Credentials(key, secret), "execute-api", "us-east-1").add_auth(req)
r = urllib.request.Request(url, headers=dict(req.headers.items()))
try:
    resp = urllib.request.urlopen(r)
    status, headers, body = resp.status, dict(resp.headers.items()), resp.read().decode()
except urllib.error.HTTPError as e:
    status, headers, body = e.code, dict(e.headers.items()), e.read().decode()
print(json.dumps({"status": status, "headers": {k.lower(): v for k, v in headers.items()}, "body": body}))
"#;
    let mut cmd = Command::new(&py);
    cmd.args(["-c", script, url, key, secret]);
    if let Some(p) = path {
        cmd.env("PYTHONPATH", p);
    }
    let out = cmd.output().unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    let v: J = serde_json::from_slice(&out.stdout).unwrap();
    (
        v["status"].as_u64().unwrap() as u16,
        v["headers"].clone(),
        v["body"].as_str().unwrap().to_owned(),
    )
}

/// The AWS CLI: the one on PATH, else installed from PyPI into test-deps.
fn aws() -> Command {
    let on_path = Command::new("aws")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    let mut cmd = if on_path {
        Command::new("aws")
    } else {
        let deps = packages("awscli", &["awscli"]);
        let mut c = Command::new(PYTHON);
        c.env("PYTHONPATH", deps).args(["-m", "awscli"]);
        c
    };
    cmd.env("AWS_ACCESS_KEY_ID", KEY_ID)
        .env("AWS_SECRET_ACCESS_KEY", SECRET)
        .env("AWS_DEFAULT_REGION", "us-east-1")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env_remove("AWS_PROFILE");
    cmd
}

const COUNTER_APP: &str = r#"
import itertools, json
calls = itertools.count(1)

def handler(event, context):
    return {"statusCode": 200, "headers": {"Content-Type": "application/json", "Cache-Control": "no-store"},
            "body": json.dumps({"n": next(calls), "path": event["path"], "stage": event["requestContext"]["stage"],
                                "query": event["queryStringParameters"], "version": event.get("version", "absent")})}

def limited(event, context):
    return {"statusCode": 429, "body": json.dumps({"n": next(calls)})}
"#;

const CACHE_TEMPLATE: &str = r#"
Transform: AWS::Serverless-2016-10-31
Globals:
  Function: {Runtime: python3.11, CodeUri: src/, Timeout: 10, MemorySize: 128}
  Api:
    CacheClusterEnabled: true
    CacheClusterSize: '0.5'
    AccessLogSetting:
      DestinationArn: arn:aws:logs:us-east-1:123456789012:log-group:rest
      Format: '$context.requestId $context.httpMethod $context.resourcePath $context.status $context.cacheStatus'
Resources:
  Counter:
    Type: AWS::Serverless::Function
    Properties:
      Handler: app.handler
      Events:
        Shared: {Type: Api, Properties: {Path: '/shared/{id}', Method: get}}
        Keyed:
          Type: Api
          Properties:
            Path: '/keyed/{id}'
            Method: get
            RequestParameters:
              - method.request.path.id: {Required: true, Caching: true}
              - method.request.querystring.lang: {Caching: true}
        Post: {Type: Api, Properties: {Path: /items, Method: post}}
  Limited:
    Type: AWS::Serverless::Function
    Properties:
      Handler: app.limited
      Events:
        Get: {Type: Api, Properties: {Path: /limited, Method: get}}
"#;

#[test]
fn the_stage_cache_through_ledge_up() {
    let dir = tempfile::tempdir().unwrap();
    write_tree(
        dir.path(),
        &[
            ("src/app.py", COUNTER_APP),
            ("template.yaml", CACHE_TEMPLATE),
        ],
    );
    let state = dir.path().join("state");
    let key = format!("{KEY_ID}:{SECRET}");
    let up = up_args(
        &dir.path().join("template.yaml"),
        &state,
        &["--access-key", &key],
    );
    let base = rest_url(&up, "ServerlessRestApi");
    assert!(base.ends_with("/Prod"), "{base}");
    assert_eq!(
        up.ready["apis"]["ServerlessRestApi"]["id"],
        "ServerlessRestApi"
    );
    let warnings = stderr_of(&state);
    assert!(
        warnings.contains("GET /shared/{id} is cached (stage Prod) but its cache key leaves out path parameter {id}"),
        "{warnings}"
    );
    assert!(!warnings.contains("/keyed/{id} is cached"), "{warnings}");
    let c = client();

    // Hits, the shared entry, keys, REST's event.
    let first = send(c.get(format!("{base}/shared/1")));
    assert_eq!(first.status, 200, "{}", first.text());
    let e = first.json();
    assert_eq!(
        (
            e["path"].as_str(),
            e["stage"].as_str(),
            e["version"].as_str()
        ),
        (Some("/shared/1"), Some("Prod"), Some("absent"))
    );
    assert!(first.header("x-amzn-requestid").is_some() && first.header("x-amz-apigw-id").is_some());
    let hit = send(c.get(format!("{base}/shared/1")));
    assert_eq!(hit.body, first.body, "a hit: the function did not run");
    assert!(hit.header("age").is_none());
    assert_eq!(
        hit.header("cache-control"),
        Some("no-store"),
        "the backend's Cache-Control is replayed, not obeyed"
    );
    let two = send(c.get(format!("{base}/shared/2")));
    assert_eq!(
        two.json()["path"],
        "/shared/1",
        "/shared/2 shares /shared/1's entry, as on AWS"
    );
    let k1 = send(c.get(format!("{base}/keyed/1?lang=fr"))).n();
    assert_eq!(send(c.get(format!("{base}/keyed/1?lang=fr"))).n(), k1);
    assert!(send(c.get(format!("{base}/keyed/2?lang=fr"))).n() > k1);
    assert!(send(c.get(format!("{base}/keyed/1?lang=de"))).n() > k1);
    let p1 = send(c.post(format!("{base}/items")).body("{}")).n();
    assert!(
        send(c.post(format!("{base}/items")).body("{}")).n() > p1,
        "POST is not cached"
    );
    let l1 = send(c.get(format!("{base}/limited")));
    let l2 = send(c.get(format!("{base}/limited")));
    assert_eq!((l1.status, l2.status), (429, 429));
    assert_eq!(l1.body, l2.body, "the backend's 429 is cached");
    let missing = send(c.get(format!("{base}/nope")));
    assert_eq!(
        (missing.status, missing.text().as_str()),
        (403, r#"{"message":"Missing Authentication Token"}"#)
    );

    // max-age=0: unsigned gets the cached entry and a warning; botocore-signed refreshes.
    let cached_n = send(c.get(format!("{base}/shared/1"))).n();
    let unsigned = send(
        c.get(format!("{base}/shared/1"))
            .header("cache-control", "max-age=0"),
    );
    assert_eq!(unsigned.n(), cached_n);
    assert!(unsigned
        .header("warning")
        .is_some_and(|w| w.starts_with("199 ")));
    let (status, headers, body) = botocore_refresh(&format!("{base}/shared/1"), KEY_ID, SECRET);
    assert_eq!(status, 200, "{body}");
    assert!(headers.get("warning").is_none(), "{headers}");
    let refreshed: J = serde_json::from_str(&body).unwrap();
    assert!(
        refreshed["n"].as_u64().unwrap() > cached_n,
        "refreshed by a signed request"
    );
    assert_eq!(
        send(c.get(format!("{base}/shared/1"))).json(),
        refreshed,
        "the refresh replaced the entry"
    );
    let (_, headers, body) = botocore_refresh(&format!("{base}/shared/1"), "AKIDSOMEONEELSE", "x");
    assert_eq!(
        serde_json::from_str::<J>(&body).unwrap(),
        refreshed,
        "an unknown key does not refresh"
    );
    assert!(headers.get("warning").is_some());

    // ledge cache stats.
    let out = run(ledge()
        .args([
            "cache",
            "stats",
            "ServerlessRestApi",
            "Prod",
            "--json",
            "--state-dir",
        ])
        .arg(&state));
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stats: J = serde_json::from_slice(&out.stdout).unwrap();
    let prod = &stats["apis"]["ServerlessRestApi"]["stages"]["Prod"];
    let m = &prod["methods"]["GET /shared/{id}"];
    assert_eq!(
        (m["CacheHitCount"].as_u64(), m["CacheMissCount"].as_u64()),
        (Some(6), Some(2)),
        "{prod}"
    );
    assert!(prod["CacheHitCount"].as_u64().unwrap() >= 7, "{prod}");
    let out = run(ledge().args(["cache", "stats", "--state-dir"]).arg(&state));
    let table = text(&out.stdout);
    assert!(
        table.contains("GET /keyed/{id}") && table.contains("CacheHitCount"),
        "{table}"
    );

    // Flush with ledge, then with the AWS CLI.
    let before = send(c.get(format!("{base}/shared/1"))).n();
    let out = run(ledge()
        .args(["cache", "flush", "ServerlessRestApi", "Prod", "--state-dir"])
        .arg(&state));
    assert!(out.status.success(), "{}", text(&out.stderr));
    let after = send(c.get(format!("{base}/shared/1"))).n();
    assert!(after > before, "flushed: the next request ran the function");
    assert_eq!(send(c.get(format!("{base}/shared/1"))).n(), after);
    let endpoint = up.ready["aws_endpoint"].as_str().unwrap();
    let out = aws()
        .args([
            "apigateway",
            "flush-stage-cache",
            "--rest-api-id",
            "ServerlessRestApi",
            "--stage-name",
            "Prod",
            "--endpoint-url",
            endpoint,
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "aws: {}{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    assert!(
        send(c.get(format!("{base}/shared/1"))).n() > after,
        "flushed by FlushStageCache"
    );
    let out = aws()
        .args([
            "apigateway",
            "get-stage",
            "--rest-api-id",
            "ServerlessRestApi",
            "--stage-name",
            "Prod",
            "--endpoint-url",
            endpoint,
        ])
        .output()
        .unwrap();
    let stage: J =
        serde_json::from_slice(&out.stdout).unwrap_or_else(|_| panic!("{}", text(&out.stderr)));
    assert_eq!(
        (
            stage["cacheClusterEnabled"].as_bool(),
            stage["cacheClusterStatus"].as_str()
        ),
        (Some(true), Some("AVAILABLE"))
    );
    let out = run(ledge()
        .args(["cache", "flush", "ServerlessRestApi", "Nope", "--state-dir"])
        .arg(&state));
    assert_eq!(
        out.status.code(),
        Some(2),
        "an unknown stage is the user's error"
    );
    assert!(
        text(&out.stderr).contains("Invalid Stage identifier specified"),
        "{}",
        text(&out.stderr)
    );

    // The access log carries the cache status of every request.
    let log = state.join("logs/apis/ServerlessRestApi.log");
    eventually(10, "access log lines", || {
        std::fs::read_to_string(&log).is_ok_and(|l| l.contains(" hit") && l.contains(" miss"))
    });
    let lines = std::fs::read_to_string(&log).unwrap();
    assert!(
        lines
            .lines()
            .any(|l| l.ends_with("GET /shared/{id} 200 hit")),
        "{lines}"
    );
    assert!(
        lines.lines().any(|l| l.ends_with("POST /items 200 -")),
        "{lines}"
    );
}

/// A redis-server on a free port, with `ledge up --cache redis://…`: two nodes share the
/// stage cache, and a Redis restart in the middle of traffic loses no request.
#[test]
fn the_stage_cache_in_redis_through_ledge_up() {
    let mut redis = redis_server::RedisServer::start();
    let dir = tempfile::tempdir().unwrap();
    write_tree(
        dir.path(),
        &[
            ("src/app.py", COUNTER_APP),
            ("template.yaml", CACHE_TEMPLATE),
        ],
    );
    let template = dir.path().join("template.yaml");
    let url = redis.url();
    let a = up_args(&template, &dir.path().join("a"), &["--cache", &url]);
    let b = up_args(&template, &dir.path().join("b"), &["--cache", &url]);
    let (base_a, base_b) = (
        rest_url(&a, "ServerlessRestApi"),
        rest_url(&b, "ServerlessRestApi"),
    );
    let c = client();
    let first = send(c.get(format!("{base_a}/keyed/7")));
    assert_eq!(first.status, 200, "{}", first.text());
    let from_b = send(c.get(format!("{base_b}/keyed/7")));
    assert_eq!(
        from_b.body, first.body,
        "node b served node a's entry from Redis"
    );
    let out = run(ledge()
        .args(["cache", "stats", "--json", "--state-dir"])
        .arg(dir.path().join("b")));
    let stats: J = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        stats["apis"]["ServerlessRestApi"]["stages"]["Prod"]["store"],
        "redis"
    );
    assert_eq!(
        stats["apis"]["ServerlessRestApi"]["stages"]["Prod"]["CacheHitCount"],
        1
    );

    redis.stop();
    for i in 0..20 {
        let got = send(c.get(format!("{base_a}/keyed/{}", i % 3)));
        assert_eq!(
            got.status,
            200,
            "served while Redis is down: {}",
            got.text()
        );
    }
    redis.restart();
    // Caching resumes by itself: wait for a hit (the same body twice), never a fixed sleep.
    eventually(15, "caching to resume after the Redis restart", || {
        let x = send(c.get(format!("{base_a}/keyed/9")));
        let y = send(c.get(format!("{base_a}/keyed/9")));
        assert_eq!((x.status, y.status), (200, 200));
        x.body == y.body
    });
    let out = run(ledge()
        .args([
            "cache",
            "stats",
            "ServerlessRestApi",
            "--json",
            "--state-dir",
        ])
        .arg(dir.path().join("a")));
    let stats: J = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        stats["apis"]["ServerlessRestApi"]["redis"]["available"], true,
        "{stats}"
    );
    assert!(
        stats["apis"]["ServerlessRestApi"]["redis"]["errors"]
            .as_u64()
            .unwrap()
            > 0
    );
}

const AUTH_APP: &str = r#"
import json

def handler(event, context):
    return {"statusCode": 200, "body": json.dumps({"authorizer": event["requestContext"].get("authorizer"),
                                                   "identity": event["requestContext"]["identity"]})}

def token_auth(event, context):
    token = event["authorizationToken"]
    if token == "deny":
        effect = "Deny"
    elif token.startswith("allow"):
        effect = "Allow"
    else:
        raise Exception("Unauthorized")
    return {"principalId": "user-" + token, "context": {"tier": "gold", "n": 7},
            "policyDocument": {"Version": "2012-10-17", "Statement": [
                {"Action": "execute-api:Invoke", "Effect": effect, "Resource": event["methodArn"]}]}}

def request_auth(event, context):
    ok = event["headers"].get("X-Team") == "core" and event["queryStringParameters"].get("v") == "1"
    return {"principalId": "team", "policyDocument": {"Version": "2012-10-17", "Statement": [
        {"Action": "execute-api:Invoke", "Effect": "Allow" if ok else "Deny", "Resource": "*"}]}}
"#;

const AUTH_TEMPLATE: &str = r#"
Transform: AWS::Serverless-2016-10-31
Globals:
  Function: {Runtime: python3.11, CodeUri: src/, Timeout: 10, MemorySize: 128}
Resources:
  Api:
    Type: AWS::Serverless::Api
    Properties:
      StageName: v1
      Auth:
        DefaultAuthorizer: Tok
        Authorizers:
          Tok:
            FunctionArn: !GetAtt TokenAuth.Arn
            Identity: {Header: Authorization, ReauthorizeEvery: 0}
          Req:
            FunctionPayloadType: REQUEST
            FunctionArn: !GetAtt RequestAuth.Arn
            Identity: {Headers: [X-Team], QueryStrings: [v], ReauthorizeEvery: 0}
        UsagePlan:
          CreateUsagePlan: PER_API
          Quota: {Limit: 3, Period: DAY}
  TokenAuth:
    Type: AWS::Serverless::Function
    Properties: {Handler: app.token_auth}
  RequestAuth:
    Type: AWS::Serverless::Function
    Properties: {Handler: app.request_auth}
  App:
    Type: AWS::Serverless::Function
    Properties:
      Handler: app.handler
      Events:
        Token: {Type: Api, Properties: {RestApiId: !Ref Api, Path: /token, Method: get}}
        Request: {Type: Api, Properties: {RestApiId: !Ref Api, Path: /request, Method: get, Auth: {Authorizer: Req}}}
        Keyed: {Type: Api, Properties: {RestApiId: !Ref Api, Path: /keyed, Method: get, Auth: {Authorizer: NONE, ApiKeyRequired: true}}}
"#;

#[test]
fn lambda_authorizers_and_api_keys_through_ledge_up() {
    let dir = tempfile::tempdir().unwrap();
    write_tree(
        dir.path(),
        &[("src/app.py", AUTH_APP), ("template.yaml", AUTH_TEMPLATE)],
    );
    let state = dir.path().join("state");
    let up = up_args(&dir.path().join("template.yaml"), &state, &[]);
    let base = rest_url(&up, "Api");
    let api_key = up.ready["apis"]["Api"]["api_keys"]["ApiApiKey"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        stderr_of(&state).contains(&api_key),
        "the generated key is shown at start"
    );
    let c = client();
    let with = |t: &str| send(c.get(format!("{base}/token")).header("authorization", t));
    let ok = with("allow-1");
    assert_eq!(ok.status, 200, "{}", ok.text());
    let authorizer = &ok.json()["authorizer"];
    assert_eq!(authorizer["principalId"], "user-allow-1");
    assert_eq!(
        (authorizer["tier"].as_str(), authorizer["n"].as_str()),
        (Some("gold"), Some("7"))
    );
    let deny = with("deny");
    assert_eq!(
        (deny.status, deny.text().as_str()),
        (
            403,
            r#"{"Message":"User is not authorized to access this resource with an explicit deny"}"#
        )
    );
    let nope = with("who");
    assert_eq!(
        (nope.status, nope.text().as_str()),
        (401, r#"{"message":"Unauthorized"}"#)
    );
    assert_eq!(send(c.get(format!("{base}/token"))).status, 401, "no token");
    let req =
        |team: &str, q: &str| send(c.get(format!("{base}/request?{q}")).header("x-team", team));
    assert_eq!(req("core", "v=1").status, 200);
    assert_eq!(req("ops", "v=1").status, 403);
    assert_eq!(req("core", "x=1").status, 401, "a missing identity source");

    assert_eq!(send(c.get(format!("{base}/keyed"))).status, 403);
    let keyed = || send(c.get(format!("{base}/keyed")).header("x-api-key", &api_key));
    let first = keyed();
    assert_eq!(first.status, 200, "{}", first.text());
    assert_eq!(first.json()["identity"]["apiKey"], api_key.as_str());
    assert_eq!(first.json()["identity"]["apiKeyId"], "ApiApiKey");
    assert_eq!(keyed().status, 200);
    assert_eq!(keyed().status, 200);
    let over = keyed();
    assert_eq!(
        (over.status, over.text().as_str()),
        (429, r#"{"message":"Limit Exceeded"}"#)
    );
}

const FASTAPI_APP: &str = r#"
from typing import Optional

from fastapi import FastAPI, Header, HTTPException, Request, Response
from fastapi.responses import JSONResponse
from mangum import Mangum

app = FastAPI()

@app.get("/")
def root():
    return {"root": True}

@app.get("/items/{item_id}")
def read_item(item_id: str, q: Optional[str] = None, x_token: Optional[str] = Header(default=None)):
    return {"item_id": item_id, "q": q, "x_token": x_token}

@app.post("/items")
async def create(request: Request):
    body = await request.json()
    resp = JSONResponse({"received": body, "path": request.url.path}, status_code=201)
    resp.set_cookie("a", "1")
    return resp

@app.post("/upload")
async def upload(request: Request):
    data = await request.body()
    return Response(content=data[::-1], media_type="application/octet-stream")

@app.get("/teapot")
def teapot():
    raise HTTPException(status_code=418, detail="short and stout")

handler = Mangum(app, lifespan="off")
"#;

#[test]
fn fastapi_behind_mangum_on_a_rest_api() {
    let deps = packages("fastapi-mangum", &["mangum==0.19.0", "fastapi==0.115.12"]);
    let dir = tempfile::tempdir().unwrap();
    copy_tree(&deps, &dir.path().join("src"));
    let template = r#"
Transform: AWS::Serverless-2016-10-31
Resources:
  Api:
    Type: AWS::Serverless::Api
    Properties:
      StageName: dev
      BinaryMediaTypes: ['application~1octet-stream']
  App:
    Type: AWS::Serverless::Function
    Properties:
      Runtime: python3.11
      CodeUri: src/
      Handler: app.handler
      Timeout: 20
      MemorySize: 512
      Events:
        Root: {Type: Api, Properties: {RestApiId: !Ref Api, Path: /, Method: ANY}}
        Proxy: {Type: Api, Properties: {RestApiId: !Ref Api, Path: '/{proxy+}', Method: ANY}}
"#;
    write_tree(
        dir.path(),
        &[("src/app.py", FASTAPI_APP), ("template.yaml", template)],
    );
    let state = dir.path().join("state");
    let up = up_args(&dir.path().join("template.yaml"), &state, &[]);
    let base = rest_url(&up, "Api");
    assert!(base.ends_with("/dev"));
    let c = client();
    let r = send(c.get(format!("{base}/")));
    assert_eq!(
        (r.status, r.json()),
        (200, json!({"root": true})),
        "{}",
        r.text()
    );
    let r = send(
        c.get(format!("{base}/items/a%20c?q=hello+world"))
            .header("x-token", "tok"),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(
        r.json(),
        json!({"item_id": "a c", "q": "hello world", "x_token": "tok"})
    );
    let r = send(c.post(format!("{base}/items")).json(&json!({"name": "n"})));
    assert_eq!(r.status, 201, "{}", r.text());
    assert_eq!(
        r.json(),
        json!({"received": {"name": "n"}, "path": "/items"}),
        "the path is without the stage"
    );
    assert!(r.header("set-cookie").is_some_and(|c| c.starts_with("a=1")));
    let bytes: Vec<u8> = (0u8..=255).collect();
    let r = send(
        c.post(format!("{base}/upload"))
            .header("content-type", "application/octet-stream")
            .header("accept", "application/octet-stream")
            .body(bytes.clone()),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(
        r.body,
        bytes.iter().rev().copied().collect::<Vec<u8>>(),
        "binary both ways"
    );
    let r = send(c.get(format!("{base}/teapot")));
    assert_eq!(
        (r.status, r.json()),
        (418, json!({"detail": "short and stout"}))
    );
    let r = send(c.get(format!("{base}/nope")));
    assert_eq!(
        (r.status, r.json()),
        (404, json!({"detail": "Not Found"})),
        "FastAPI's own 404 through {{proxy+}}"
    );
}
