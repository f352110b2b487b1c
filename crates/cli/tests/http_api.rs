//! HTTP APIs end to end: `ledge up` on a SAM template, real Python functions on the ledge
//! runtime, real HTTP clients, addresses from the ready file. The third-party packages
//! (FastAPI + Mangum, aws-lambda-powertools, PyJWT + cryptography) are installed from PyPI
//! once, cached under `target/test-deps/`; a missing tool fails the test.

#![allow(clippy::unwrap_used)] // test code: a panic is the failure report

mod common;

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::process::Command;
use std::sync::{Arc, Mutex};

use common::*;
use serde_json::{json, Value as J};

// ---------------------------------------------------------------------------------------
// Set-up
// ---------------------------------------------------------------------------------------

fn client() -> reqwest::blocking::Client {
    reqwest::blocking::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

fn api_url(up: &Up, id: &str) -> String {
    let e = &up.ready["apis"][id];
    assert_eq!(e["kind"], "http", "{}", up.ready);
    e["url"].as_str().unwrap().to_owned()
}

// ---------------------------------------------------------------------------------------
// Plain handlers: events, response rules, errors, stages, access log
// ---------------------------------------------------------------------------------------

const PLAIN_APP: &str = r#"
import json

def echo(event, context):
    return {
        "statusCode": 201,
        "headers": {"content-type": "application/json", "x-from": "echo"},
        "cookies": ["s=1; Path=/", "t=2"],
        "body": json.dumps(event),
    }

def echo_v1(event, context):
    return {"statusCode": 200, "multiValueHeaders": {"x-m": ["1", "2"]}, "body": json.dumps(event)}

def inferred(event, context):
    return {"message": "no statusCode"}

def broken(event, context):
    return {"statusCode": "not a number"}

def raises(event, context):
    raise ValueError("boom")

def binary(event, context):
    import base64
    return {"statusCode": 200, "headers": {"content-type": "image/png"},
            "body": base64.b64encode(b"\x89PNG\x00\xff").decode(), "isBase64Encoded": True}
"#;

const PLAIN_TEMPLATE: &str = r#"
Transform: AWS::Serverless-2016-10-31
Globals:
  Function: {Runtime: python3.11, CodeUri: src/, Timeout: 10, MemorySize: 128}
Resources:
  Staged:
    Type: AWS::Serverless::HttpApi
    Properties:
      StageName: dev
      StageVariables: {table: items-dev}
  Echo:
    Type: AWS::Serverless::Function
    Properties:
      Handler: app.echo
      Events:
        Post: {Type: HttpApi, Properties: {Path: '/echo/{id}', Method: POST}}
        Staged: {Type: HttpApi, Properties: {ApiId: !Ref Staged, Path: /hello, Method: GET}}
  EchoV1:
    Type: AWS::Serverless::Function
    Properties:
      Handler: app.echo_v1
      Events:
        Any: {Type: HttpApi, Properties: {Path: '/v1/{proxy+}', Method: ANY, PayloadFormatVersion: '1.0'}}
  Inferred:
    Type: AWS::Serverless::Function
    Properties: {Handler: app.inferred, Events: {Get: {Type: HttpApi, Properties: {Path: /inferred, Method: GET}}}}
  Broken:
    Type: AWS::Serverless::Function
    Properties: {Handler: app.broken, Events: {Get: {Type: HttpApi, Properties: {Path: /broken, Method: GET}}}}
  Raises:
    Type: AWS::Serverless::Function
    Properties: {Handler: app.raises, Events: {Get: {Type: HttpApi, Properties: {Path: /raises, Method: GET}}}}
  Binary:
    Type: AWS::Serverless::Function
    Properties: {Handler: app.binary, Events: {Get: {Type: HttpApi, Properties: {Path: /binary, Method: GET}}}}
"#;

#[test]
fn ledge_up_serves_http_apis_with_aws_events_and_errors() {
    let dir = tempfile::tempdir().unwrap();
    write_tree(
        dir.path(),
        &[("src/app.py", PLAIN_APP), ("template.yaml", PLAIN_TEMPLATE)],
    );
    let state = dir.path().join("state");
    let up = up(&dir.path().join("template.yaml"), &state);
    let base = api_url(&up, "ServerlessHttpApi");
    assert!(base.starts_with("http://127.0.0.1:"), "{base}");
    let staged = api_url(&up, "Staged");
    assert!(
        staged.ends_with("/dev"),
        "named stages are path prefixes: {staged}"
    );
    let c = client();

    // Payload 2.0.
    let r = send(
        c.post(format!("{base}/echo/a%20b?x=1&x=2&y=a+b"))
            .header("cookie", "c1=v1; c2=v2")
            .header("content-type", "application/json")
            .header("X-Custom", "Mixed")
            .body(r#"{"k": 1}"#),
    );
    assert_eq!(r.status, 201, "{}", r.text());
    assert_eq!(r.all("set-cookie"), ["s=1; Path=/", "t=2"]);
    assert_eq!(r.header("x-from"), Some("echo"));
    let e = r.json();
    assert_eq!(e["version"], "2.0");
    assert_eq!(e["routeKey"], "POST /echo/{id}");
    assert_eq!(e["rawPath"], "/echo/a%20b");
    assert_eq!(e["rawQueryString"], "x=1&x=2&y=a+b");
    assert_eq!(e["pathParameters"], json!({"id": "a b"}));
    assert_eq!(e["queryStringParameters"], json!({"x": "1,2", "y": "a b"}));
    assert_eq!(e["cookies"], json!(["c1=v1", "c2=v2"]));
    assert!(
        e["headers"].get("cookie").is_none(),
        "the cookie header moves to cookies"
    );
    assert_eq!(e["headers"]["x-custom"], "Mixed");
    assert_eq!(e["headers"]["content-length"], "8");
    assert_eq!(e["headers"]["x-forwarded-proto"], "http");
    assert_eq!(e["body"], r#"{"k": 1}"#);
    assert_eq!(e["isBase64Encoded"], false);
    assert_eq!(e["requestContext"]["http"]["sourceIp"], "127.0.0.1");
    assert_eq!(e["requestContext"]["stage"], "$default");
    assert_eq!(
        e["requestContext"]["requestId"].as_str(),
        r.header("apigw-requestid")
    );
    assert!(e.get("stageVariables").is_none());

    // Payload 1.0 behind a greedy route.
    let r = send(c.get(format!("{base}/v1/deep/path?a=1&a=2")));
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.all("x-m"), ["1", "2"]);
    let e = r.json();
    assert_eq!(e["version"], "1.0");
    assert_eq!(e["resource"], "/v1/{proxy+}");
    assert_eq!(e["path"], "/v1/deep/path");
    assert_eq!(e["httpMethod"], "GET");
    assert_eq!(e["pathParameters"], json!({"proxy": "deep/path"}));
    assert_eq!(
        e["multiValueQueryStringParameters"],
        json!({"a": ["1", "2"]})
    );
    assert_eq!(e["requestContext"]["identity"]["sourceIp"], "127.0.0.1");
    assert_eq!(e["body"], J::Null);

    // Inferred response, binary response, errors.
    let r = send(c.get(format!("{base}/inferred")));
    assert_eq!(
        (r.status, r.header("content-type")),
        (200, Some("application/json"))
    );
    assert_eq!(r.json(), json!({"message": "no statusCode"}));
    let r = send(c.get(format!("{base}/binary")));
    assert_eq!(r.body, b"\x89PNG\x00\xff");
    for (path, status, body) in [
        ("/broken", 500, r#"{"message":"Internal Server Error"}"#),
        ("/raises", 500, r#"{"message":"Internal Server Error"}"#),
        ("/nope", 404, r#"{"message":"Not Found"}"#),
    ] {
        let r = send(c.get(format!("{base}{path}")));
        assert_eq!((r.status, r.text().as_str()), (status, body), "{path}");
        assert!(r.header("apigw-requestid").is_some(), "{path}");
    }

    // A named stage: rawPath keeps the stage, stage variables arrive.
    let r = send(c.get(format!("{staged}/hello")));
    assert_eq!(r.status, 201, "{}", r.text());
    let e = r.json();
    assert_eq!(e["rawPath"], "/dev/hello");
    assert_eq!(e["requestContext"]["stage"], "dev");
    assert_eq!(e["stageVariables"], json!({"table": "items-dev"}));
    assert_eq!(send(c.get(format!("{base}/hello"))).status, 404);

    // One access log line per request, in the state dir.
    let log = state.join("logs/apis/ServerlessHttpApi.log");
    eventually(10, "access log lines", || {
        std::fs::read_to_string(&log)
            .unwrap_or_default()
            .lines()
            .count()
            >= 8
    });
    let text = std::fs::read_to_string(&log).unwrap();
    let first: J = serde_json::from_str(text.lines().next().unwrap()).unwrap();
    assert_eq!(first["routeKey"], "POST /echo/{id}");
    assert_eq!(first["status"], "201");
    assert_eq!(first["ip"], "127.0.0.1");
}

// ---------------------------------------------------------------------------------------
// JWT authorizer against a JWKS served on loopback
// ---------------------------------------------------------------------------------------

/// Generates two RSA keys and signs the test's tokens with PyJWT.
const MINT: &str = r#"
import json, sys, time, jwt
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

iss, aud = sys.argv[1], sys.argv[2]
keys = {k: rsa.generate_private_key(public_exponent=65537, key_size=2048) for k in ("a", "b")}
def jwk(kid):
    d = json.loads(RSAAlgorithm.to_jwk(keys[kid].public_key()))
    d.update(kid=kid, use="sig", alg="RS256")
    return d
now = int(time.time())
base = {"iss": iss, "aud": aud, "sub": "user-1", "iat": now - 5, "exp": now + 600,
        "scope": "read write", "groups": ["x", "y"], "n": 5}
def tok(kid="a", alg="RS256", **changes):
    c = dict(base)
    for k, v in changes.items():
        if v is None:
            c.pop(k, None)
        else:
            c[k] = v
    return jwt.encode(c, keys[kid], algorithm=alg, headers={"kid": kid})
valid = tok()
tokens = {
    "valid": valid,
    "rs512": tok(alg="RS512"),
    "expired": tok(exp=now - 10),
    "not_yet": tok(nbf=now + 600),
    "wrong_iss": tok(iss=iss + "/"),
    "wrong_aud": tok(aud="other"),
    "client_id": tok(aud=None, client_id=aud),
    "aud_wins_over_client_id": tok(aud="other", client_id=aud),
    "only_read": tok(scope="read"),
    "rotated": tok(kid="b"),
    "bad_signature": valid[:-4] + ("AAAA" if not valid.endswith("AAAA") else "BBBB"),
    "hs256": jwt.encode(base, "secret", algorithm="HS256", headers={"kid": "a"}),
}
print(json.dumps({"jwks_a": {"keys": [jwk("a")]}, "jwks_ab": {"keys": [jwk("a"), jwk("b")]},
                  "tokens": tokens}))
"#;

/// A loopback OIDC issuer: discovery and a JWKS that the test can rotate.
struct Issuer {
    url: String,
    jwks: Arc<Mutex<String>>,
    jwks_fetches: Arc<Mutex<u32>>,
}

fn issuer() -> Issuer {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let jwks = Arc::new(Mutex::new(String::from(r#"{"keys":[]}"#)));
    let fetches = Arc::new(Mutex::new(0));
    let (u, j, f) = (url.clone(), jwks.clone(), fetches.clone());
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut line = String::new();
            let _ = reader.read_line(&mut line);
            loop {
                let mut h = String::new();
                if reader.read_line(&mut h).unwrap_or(0) == 0 || h == "\r\n" {
                    break;
                }
            }
            let path = line
                .split_whitespace()
                .nth(1)
                .unwrap_or_default()
                .to_owned();
            let (status, body) = match path.as_str() {
                "/.well-known/openid-configuration" => (
                    "200 OK",
                    json!({"issuer": u, "jwks_uri": format!("{u}/keys")}).to_string(),
                ),
                "/keys" => {
                    *f.lock().unwrap() += 1;
                    ("200 OK", j.lock().unwrap().clone())
                }
                _ => ("404 Not Found", "{}".to_owned()),
            };
            let _ = write!(
                stream,
                "HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    Issuer {
        url,
        jwks,
        jwks_fetches: fetches,
    }
}

const WHO_APP: &str = r#"
import json

def who(event, context):
    return {"statusCode": 200, "body": json.dumps(event["requestContext"].get("authorizer"))}
"#;

#[test]
fn jwt_authorizer_verifies_real_tokens_against_a_loopback_jwks() {
    let pyjwt = packages("pyjwt-2.10.1", &["PyJWT[crypto]==2.10.1"]);
    let idp = issuer();
    // An issuer that accepts connections and never answers.
    let hang = TcpListener::bind("127.0.0.1:0").unwrap();
    let hang_url = format!("http://{}", hang.local_addr().unwrap());
    let audience = "api-aud";
    let out = Command::new(PYTHON)
        .args(["-c", MINT, &idp.url, audience])
        .env("PYTHONPATH", &pyjwt)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    let minted: J = serde_json::from_slice(&out.stdout).unwrap();
    *idp.jwks.lock().unwrap() = minted["jwks_a"].to_string();
    let tok = |n: &str| minted["tokens"][n].as_str().unwrap().to_owned();

    let dir = tempfile::tempdir().unwrap();
    let template = format!(
        r#"
Transform: AWS::Serverless-2016-10-31
Resources:
  Api:
    Type: AWS::Serverless::HttpApi
    Properties:
      Auth:
        DefaultAuthorizer: Jwt
        Authorizers:
          Jwt:
            IdentitySource: $request.header.Authorization
            JwtConfiguration: {{issuer: '{iss}', audience: [{audience}]}}
          Hang:
            JwtConfiguration: {{issuer: '{hang_url}', audience: [{audience}]}}
  Who:
    Type: AWS::Serverless::Function
    Properties:
      Runtime: python3.11
      CodeUri: src/
      Handler: app.who
      Events:
        Open: {{Type: HttpApi, Properties: {{ApiId: !Ref Api, Path: /open, Method: GET, Auth: {{Authorizer: NONE}}}}}}
        Secure: {{Type: HttpApi, Properties: {{ApiId: !Ref Api, Path: /secure, Method: GET}}}}
        Scoped: {{Type: HttpApi, Properties: {{ApiId: !Ref Api, Path: /scoped, Method: GET, Auth: {{AuthorizationScopes: [admin, write]}}}}}}
        Hang: {{Type: HttpApi, Properties: {{ApiId: !Ref Api, Path: /hang, Method: GET, Auth: {{Authorizer: Hang}}}}}}
"#,
        iss = idp.url
    );
    write_tree(
        dir.path(),
        &[("src/app.py", WHO_APP), ("template.yaml", &template)],
    );
    let up = up(&dir.path().join("template.yaml"), &dir.path().join("state"));
    let base = api_url(&up, "Api");
    let c = client();
    let get = |path: &str, token: Option<&str>| {
        let mut rb = c.get(format!("{base}{path}"));
        if let Some(t) = token {
            rb = rb.header("authorization", format!("Bearer {t}"));
        }
        send(rb)
    };

    assert_eq!(get("/open", None).status, 200);
    let r = get("/secure", None);
    assert_eq!(
        (r.status, r.text().as_str()),
        (401, r#"{"message":"Unauthorized"}"#)
    );

    // A valid token: claims reach the function as strings.
    let r = get("/secure", Some(&tok("valid")));
    assert_eq!(r.status, 200, "{}", r.text());
    let a = r.json();
    let claims = &a["jwt"]["claims"];
    assert_eq!(claims["sub"], "user-1");
    assert_eq!(claims["groups"], "[x y]");
    assert_eq!(claims["n"], "5");
    assert!(claims["exp"].is_string());
    assert_eq!(a["jwt"]["scopes"], J::Null, "no route scopes: null");
    // A bare token (no "Bearer ") works too, and so does RS512.
    let r = send(
        c.get(format!("{base}/secure"))
            .header("authorization", tok("valid")),
    );
    assert_eq!(r.status, 200);
    assert_eq!(get("/secure", Some(&tok("rs512"))).status, 200);
    assert_eq!(
        get("/secure", Some(&tok("client_id"))).status,
        200,
        "client_id when no aud"
    );

    for (name, description) in [
        ("expired", "the token has expired"),
        ("not_yet", "the token is not valid yet"),
        ("wrong_iss", "the token does not have a valid issuer"),
        ("wrong_aud", "the token does not have a valid audience"),
        (
            "aud_wins_over_client_id",
            "the token does not have a valid audience",
        ),
        ("bad_signature", "the token's signature is invalid"),
        ("hs256", "the token's signing algorithm is not supported"),
    ] {
        let r = get("/secure", Some(&tok(name)));
        assert_eq!(
            (r.status, r.text().as_str()),
            (401, r#"{"message":"Unauthorized"}"#),
            "{name}"
        );
        assert_eq!(
            r.header("www-authenticate"),
            Some(
                format!(
                    r#"Bearer scope="" error="invalid_token" error_description="{description}""#
                )
                .as_str()
            ),
            "{name}"
        );
    }

    // Scopes: any one of the route's; none of them is 403.
    let r = get("/scoped", Some(&tok("valid")));
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["jwt"]["scopes"], json!(["read", "write"]));
    let r = get("/scoped", Some(&tok("only_read")));
    assert_eq!(
        (r.status, r.text().as_str()),
        (403, r#"{"message":"Forbidden"}"#)
    );

    // Key rotation: an unknown kid refetches the JWKS.
    let fetches = *idp.jwks_fetches.lock().unwrap();
    let r = get("/secure", Some(&tok("rotated")));
    assert_eq!(r.status, 401, "kid b is not published yet");
    assert_eq!(
        *idp.jwks_fetches.lock().unwrap(),
        fetches + 1,
        "an unknown kid refetches"
    );
    *idp.jwks.lock().unwrap() = minted["jwks_ab"].to_string();
    assert_eq!(
        get("/secure", Some(&tok("rotated"))).status,
        200,
        "after rotation"
    );
    let fetches = *idp.jwks_fetches.lock().unwrap();
    assert_eq!(get("/secure", Some(&tok("valid"))).status, 200);
    assert_eq!(
        *idp.jwks_fetches.lock().unwrap(),
        fetches,
        "known kids come from the cache"
    );

    // An issuer that never answers: 401 after the 1.5 s fetch timeout, never a hang.
    let t0 = std::time::Instant::now();
    let r = get("/hang", Some(&tok("valid")));
    assert_eq!(r.status, 401);
    assert!(
        t0.elapsed() < std::time::Duration::from_secs(5),
        "{:?}",
        t0.elapsed()
    );
    drop(hang);
}

// ---------------------------------------------------------------------------------------
// Real frameworks, unchanged: FastAPI behind Mangum, aws-lambda-powertools
// ---------------------------------------------------------------------------------------

const FASTAPI_APP: &str = r#"
from typing import Optional

from fastapi import Cookie, FastAPI, Header, HTTPException, Request, Response
from fastapi.responses import JSONResponse
from mangum import Mangum

app = FastAPI()

@app.get("/items/{item_id}")
def read_item(item_id: str, q: Optional[str] = None, x_token: Optional[str] = Header(default=None),
              session: Optional[str] = Cookie(default=None)):
    return {"item_id": item_id, "q": q, "x_token": x_token, "session": session}

@app.post("/items")
async def create(request: Request):
    body = await request.json()
    resp = JSONResponse({"received": body, "path": request.url.path}, status_code=201)
    resp.set_cookie("a", "1")
    resp.set_cookie("b", "2")
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

fn framework_template(handler: &str, events: &str, extra: &str) -> String {
    format!(
        r#"
Transform: AWS::Serverless-2016-10-31
Resources:{extra}
  App:
    Type: AWS::Serverless::Function
    Properties:
      Runtime: python3.11
      CodeUri: src/
      Handler: {handler}
      Timeout: 20
      MemorySize: 512
      Events:{events}
"#
    )
}

#[test]
fn fastapi_behind_mangum_runs_unchanged() {
    let deps = packages("fastapi-mangum", &["mangum==0.19.0", "fastapi==0.115.12"]);
    let dir = tempfile::tempdir().unwrap();
    copy_tree(&deps, &dir.path().join("src"));
    let template = framework_template(
        "app.handler",
        "\n        Proxy: {Type: HttpApi, Properties: {Path: '/{proxy+}', Method: ANY}}",
        "",
    );
    write_tree(
        dir.path(),
        &[("src/app.py", FASTAPI_APP), ("template.yaml", &template)],
    );
    let up = up(&dir.path().join("template.yaml"), &dir.path().join("state"));
    let base = api_url(&up, "ServerlessHttpApi");
    let c = client();

    let r = send(
        c.get(format!("{base}/items/a%20c?q=hello+world"))
            .header("x-token", "tok")
            .header("cookie", "session=s1; other=o"),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(
        r.json(),
        json!({"item_id": "a c", "q": "hello world", "x_token": "tok", "session": "s1"})
    );
    let r = send(
        c.post(format!("{base}/items"))
            .json(&json!({"name": "n", "tags": [1, 2]})),
    );
    assert_eq!(r.status, 201, "{}", r.text());
    assert_eq!(
        r.json(),
        json!({"received": {"name": "n", "tags": [1, 2]}, "path": "/items"})
    );
    let cookies = r.all("set-cookie");
    assert_eq!(cookies.len(), 2, "{cookies:?}");
    assert!(
        cookies[0].starts_with("a=1") && cookies[1].starts_with("b=2"),
        "{cookies:?}"
    );
    let bytes: Vec<u8> = (0u8..=255).collect();
    let r = send(
        c.post(format!("{base}/upload"))
            .header("content-type", "application/octet-stream")
            .body(bytes.clone()),
    );
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-type"), Some("application/octet-stream"));
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
    let r = send(c.get(format!("{base}/not-a-route")));
    assert_eq!((r.status, r.json()), (404, json!({"detail": "Not Found"})));
}

const POWERTOOLS_APP: &str = r#"
from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response
from aws_lambda_powertools.shared.cookies import Cookie

app = APIGatewayHttpResolver()

@app.get("/hello/<name>")
def hello(name):
    e = app.current_event
    return {"name": name, "q": e.get_query_string_value("q"),
            "ua": e.get_header_value("user-agent"), "cookies": e.cookies, "path": e.path,
            "stage": e.request_context.stage}

@app.post("/echo")
def echo():
    e = app.current_event
    return Response(status_code=202, content_type="application/json", body=e.body,
                    cookies=[Cookie(name="k", value="v", path="/")], headers={"x-route": e.route_key})

def handler(event, context):
    return app.resolve(event, context)
"#;

#[test]
fn powertools_http_resolver_runs_unchanged_on_a_named_stage() {
    let deps = packages("powertools", &["aws-lambda-powertools==3.4.0"]);
    let dir = tempfile::tempdir().unwrap();
    copy_tree(&deps, &dir.path().join("src"));
    let template = framework_template(
        "app.handler",
        "\n        Proxy: {Type: HttpApi, Properties: {ApiId: !Ref Api, Path: '/{proxy+}', Method: ANY}}",
        "\n  Api:\n    Type: AWS::Serverless::HttpApi\n    Properties: {StageName: prod}",
    );
    write_tree(
        dir.path(),
        &[("src/app.py", POWERTOOLS_APP), ("template.yaml", &template)],
    );
    let up = up(&dir.path().join("template.yaml"), &dir.path().join("state"));
    let url = api_url(&up, "Api");
    assert!(url.ends_with("/prod"), "{url}");
    let c = client();

    let r = send(
        c.get(format!("{url}/hello/ann?q=x"))
            .header("user-agent", "ua/1")
            .header("cookie", "a=1; b=2"),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(
        r.json(),
        json!({"name": "ann", "q": "x", "ua": "ua/1", "cookies": ["a=1", "b=2"],
               "path": "/hello/ann", "stage": "prod"})
    );
    let r = send(
        c.post(format!("{url}/echo"))
            .body(r#"{"v": 1}"#)
            .header("content-type", "application/json"),
    );
    assert_eq!(r.status, 202, "{}", r.text());
    assert_eq!(r.json(), json!({"v": 1}));
    assert_eq!(r.header("x-route"), Some("ANY /{proxy+}"));
    assert_eq!(r.all("set-cookie"), ["k=v; Path=/; Secure"]);
    let r = send(c.get(format!("{url}/nowhere")));
    assert_eq!(r.status, 404);
    assert_eq!(r.json()["message"], "Not found");
}

// ---------------------------------------------------------------------------------------
// Lambda authorizer, CORS and throttling through real listeners
// ---------------------------------------------------------------------------------------

const AUTH_APP: &str = r#"
import json

def authorize(event, context):
    token = event["identitySource"][0]
    print("authorizing", token)
    return {"isAuthorized": token == "let-me-in", "context": {"user": "u-" + token[:3], "level": 3}}

def who(event, context):
    return {"statusCode": 200, "headers": {"access-control-allow-origin": "https://backend.example"},
            "body": json.dumps(event["requestContext"].get("authorizer"))}
"#;

const AUTH_TEMPLATE: &str = r#"
Transform: AWS::Serverless-2016-10-31
Globals:
  Function: {Runtime: python3.11, CodeUri: src/, Timeout: 10}
Resources:
  Api:
    Type: AWS::Serverless::HttpApi
    Properties:
      CorsConfiguration:
        AllowOrigins: ['https://*']
        AllowMethods: [GET, POST]
        AllowHeaders: [x-token]
        MaxAge: 600
      RouteSettings:
        'GET /limited': {ThrottlingBurstLimit: 2, ThrottlingRateLimit: 0.01}
      Auth:
        DefaultAuthorizer: Fn
        Authorizers:
          Fn:
            FunctionArn: !GetAtt Authorizer.Arn
            AuthorizerPayloadFormatVersion: '2.0'
            EnableSimpleResponses: true
            Identity: {Headers: [X-Token], ReauthorizeEvery: 300}
  Authorizer:
    Type: AWS::Serverless::Function
    Properties: {Handler: app.authorize}
  Who:
    Type: AWS::Serverless::Function
    Properties:
      Handler: app.who
      Events:
        Secure: {Type: HttpApi, Properties: {ApiId: !Ref Api, Path: /secure, Method: GET}}
        Limited: {Type: HttpApi, Properties: {ApiId: !Ref Api, Path: /limited, Method: GET, Auth: {Authorizer: NONE}}}
"#;

#[test]
fn lambda_authorizer_cors_and_throttling_through_ledge_up() {
    let dir = tempfile::tempdir().unwrap();
    write_tree(
        dir.path(),
        &[("src/app.py", AUTH_APP), ("template.yaml", AUTH_TEMPLATE)],
    );
    let state = dir.path().join("state");
    let up = up(&dir.path().join("template.yaml"), &state);
    let base = api_url(&up, "Api");
    let c = client();
    let get = |path: &str, token: Option<&str>| {
        let mut rb = c
            .get(format!("{base}{path}"))
            .header("origin", "https://app.example");
        if let Some(t) = token {
            rb = rb.header("x-token", t);
        }
        send(rb)
    };

    let r = get("/secure", None);
    assert_eq!(
        (r.status, r.text().as_str()),
        (401, r#"{"message":"Unauthorized"}"#)
    );
    let r = get("/secure", Some("let-me-in"));
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json(), json!({"lambda": {"user": "u-let", "level": 3}}));
    // The configured CORS headers replace the function's.
    assert_eq!(
        r.all("access-control-allow-origin"),
        ["https://app.example"]
    );
    let r = get("/secure", Some("nope"));
    assert_eq!(
        (r.status, r.text().as_str()),
        (403, r#"{"message":"Forbidden"}"#)
    );
    // Cached by identity source: one more allowed call does not invoke the authorizer.
    assert_eq!(get("/secure", Some("let-me-in")).status, 200);
    let log_path = state.join("logs/Authorizer.log");
    eventually(10, "the authorizer's log", || {
        std::fs::read_to_string(&log_path).is_ok_and(|l| l.contains("authorizing let-me-in"))
    });
    let log = std::fs::read_to_string(&log_path).unwrap();
    assert_eq!(log.matches("authorizing let-me-in").count(), 1, "{log}");

    // Preflight answered by the gateway, no authorizer involved.
    let r = send(
        c.request(reqwest::Method::OPTIONS, format!("{base}/secure"))
            .header("origin", "https://app.example")
            .header("access-control-request-method", "GET")
            .header("access-control-request-headers", "x-token"),
    );
    assert_eq!(r.status, 204);
    assert_eq!(
        r.header("access-control-allow-origin"),
        Some("https://app.example")
    );
    assert_eq!(r.header("access-control-allow-methods"), Some("GET,POST"));
    assert_eq!(r.header("access-control-allow-headers"), Some("x-token"));
    assert_eq!(r.header("access-control-max-age"), Some("600"));

    // Route throttling: burst 2, then 429.
    let statuses: Vec<u16> = (0..4).map(|_| get("/limited", None).status).collect();
    assert_eq!(statuses, [200, 200, 429, 429]);
    let r = get("/limited", None);
    assert_eq!(r.text(), r#"{"message":"Too Many Requests"}"#);
}

// ---------------------------------------------------------------------------------------
// autoDeploy: template changes redeploy while serving; a bad change keeps the last good
// ---------------------------------------------------------------------------------------

fn route_template(path: &str) -> String {
    format!(
        "Transform: AWS::Serverless-2016-10-31\nResources:\n  Fn:\n    Type: AWS::Serverless::Function\n    Properties:\n      Runtime: python3.11\n      CodeUri: src/\n      Handler: app.handler\n      Events:\n        Get: {{Type: HttpApi, Properties: {{Path: '{path}', Method: GET}}}}\n"
    )
}

#[test]
fn template_changes_redeploy_the_api_while_serving() {
    let dir = tempfile::tempdir().unwrap();
    write_tree(
        dir.path(),
        &[
            (
                "src/app.py",
                "def handler(event, context):\n    return event['routeKey']\n",
            ),
            ("template.yaml", &route_template("/one")),
        ],
    );
    let stderr_path = dir.path().join("stderr.txt");
    let stderr = std::fs::File::create(&stderr_path).unwrap();
    let up = up_with(
        &dir.path().join("template.yaml"),
        &dir.path().join("state"),
        stderr,
    );
    let base = api_url(&up, "ServerlessHttpApi");
    let c = client();
    let status = |path: &str| send(c.get(format!("{base}{path}"))).status;
    assert_eq!(status("/one"), 200);

    std::fs::write(dir.path().join("template.yaml"), route_template("/two")).unwrap();
    eventually(30, "the new route", || status("/two") == 200);
    assert_eq!(
        status("/one"),
        404,
        "the old route is gone with the old deployment"
    );

    // A route key AWS would refuse: the API keeps serving its last good deployment.
    std::fs::write(dir.path().join("template.yaml"), route_template("no-slash")).unwrap();
    eventually(30, "the refusal to be reported", || {
        std::fs::read_to_string(&stderr_path).is_ok_and(|s| s.contains("not redeployed"))
    });
    assert_eq!(send(c.get(format!("{base}/two"))).text(), "GET /two");

    std::fs::write(dir.path().join("template.yaml"), route_template("/three")).unwrap();
    eventually(30, "recovery", || status("/three") == 200);
}
