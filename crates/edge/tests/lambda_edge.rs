//! Lambda@Edge end to end: the real runtime (`ledge_runtime`, real Node.js and Python
//! processes, cgroups / namespaces when available), real listeners, origins that count
//! their requests, and an invoker wrapper that counts invocations per function and event
//! type — so the tests can show that origin triggers run only on misses.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use ledge_edge::{parse_distributions, start, EdgeConfig, EdgeError};
use ledge_model::{Invoke, InvokeError, InvokeRequest, InvokeResult};
use ledge_runtime::{Runtime, RuntimeConfig};
use tokio_util::sync::CancellationToken;

// ---------------------------------------------------------------------------------------
// The functions: the CloudFront developer guide's examples, in Node.js and in Python.

const NODE_SECURITY: &str = r#"'use strict';
// origin-response: add security headers (CloudFront developer guide example).
exports.handler = (event, context, callback) => {
    const response = event.Records[0].cf.response;
    const headers = response.headers;
    headers['strict-transport-security'] = [{key: 'Strict-Transport-Security', value: 'max-age=63072000; includeSubdomains; preload'}];
    headers['content-security-policy'] = [{key: 'Content-Security-Policy', value: "default-src 'none'; img-src 'self'; script-src 'self'; style-src 'self'; object-src 'none'"}];
    headers['x-content-type-options'] = [{key: 'X-Content-Type-Options', value: 'nosniff'}];
    headers['x-frame-options'] = [{key: 'X-Frame-Options', value: 'DENY'}];
    headers['x-xss-protection'] = [{value: '1; mode=block'}];
    headers['referrer-policy'] = [{key: 'Referrer-Policy', value: 'same-origin'}];
    callback(null, response);
};
"#;

const PY_SECURITY: &str = r#"# origin-response: add security headers (CloudFront developer guide example).
def handler(event, context):
    response = event['Records'][0]['cf']['response']
    headers = response['headers']
    headers['strict-transport-security'] = [{'key': 'Strict-Transport-Security', 'value': 'max-age=63072000; includeSubdomains; preload'}]
    headers['content-security-policy'] = [{'key': 'Content-Security-Policy', 'value': "default-src 'none'; img-src 'self'; script-src 'self'; style-src 'self'; object-src 'none'"}]
    headers['x-content-type-options'] = [{'key': 'X-Content-Type-Options', 'value': 'nosniff'}]
    headers['x-frame-options'] = [{'key': 'X-Frame-Options', 'value': 'DENY'}]
    headers['x-xss-protection'] = [{'value': '1; mode=block'}]
    headers['referrer-policy'] = [{'key': 'Referrer-Policy', 'value': 'same-origin'}]
    return response
"#;

const NODE_COUNTRY: &str = r#"'use strict';
// origin-request: redirect by CloudFront-Viewer-Country (CloudFront developer guide example).
exports.handler = (event, context, callback) => {
    const request = event.Records[0].cf.request;
    const headers = request.headers;
    let url = 'https://example.com/';
    if (headers['cloudfront-viewer-country']) {
        const countryCode = headers['cloudfront-viewer-country'][0].value;
        if (countryCode === 'TW') {
            url = 'https://tw.example.com/';
        } else if (countryCode === 'US') {
            url = 'https://us.example.com/';
        } else if (countryCode === 'DE') {
            url = 'https://de.example.com/';
        }
    }
    const response = {
        status: '302',
        statusDescription: 'Found',
        headers: {
            location: [{key: 'Location', value: url}],
        },
    };
    callback(null, response);
};
"#;

const PY_COUNTRY: &str = r#"# origin-request: redirect by CloudFront-Viewer-Country (CloudFront developer guide example).
def handler(event, context):
    request = event['Records'][0]['cf']['request']
    headers = request['headers']
    url = 'https://example.com/'
    if 'cloudfront-viewer-country' in headers:
        country = headers['cloudfront-viewer-country'][0]['value']
        url = {'TW': 'https://tw.example.com/', 'US': 'https://us.example.com/', 'DE': 'https://de.example.com/'}.get(country, url)
    return {
        'status': '302',
        'statusDescription': 'Found',
        'headers': {'location': [{'key': 'Location', 'value': url}]},
    }
"#;

const NODE_SPA: &str = r#"'use strict';
// viewer-request: single-page app, every /app/* path is /index.html.
exports.handler = async (event) => {
    const request = event.Records[0].cf.request;
    if (request.uri.startsWith('/app/')) {
        request.uri = '/index.html';
    }
    return request;
};
"#;

const PY_SPA: &str = r#"# viewer-request: single-page app, every /app/* path is /index.html.
def handler(event, context):
    request = event['Records'][0]['cf']['request']
    if request['uri'].startswith('/app/'):
        request['uri'] = '/index.html'
    return request
"#;

const NODE_AB: &str = r#"'use strict';
// viewer-request: A/B testing by cookie (CloudFront developer guide example).
exports.handler = (event, context, callback) => {
    const request = event.Records[0].cf.request;
    const headers = request.headers;
    if (request.uri !== '/experiment-pixel.jpg') {
        callback(null, request);
        return;
    }
    const cookieExperimentA = 'X-Experiment-Name=A';
    const cookieExperimentB = 'X-Experiment-Name=B';
    const pathExperimentA = '/experiment-group/control-pixel.jpg';
    const pathExperimentB = '/experiment-group/treatment-pixel.jpg';
    let experimentUri;
    if (headers.cookie) {
        for (let i = 0; i < headers.cookie.length; i++) {
            if (headers.cookie[i].value.indexOf(cookieExperimentA) >= 0) {
                console.log('Experiment A cookie found');
                experimentUri = pathExperimentA;
                break;
            } else if (headers.cookie[i].value.indexOf(cookieExperimentB) >= 0) {
                console.log('Experiment B cookie found');
                experimentUri = pathExperimentB;
                break;
            }
        }
    }
    if (!experimentUri) {
        experimentUri = Math.random() < 0.75 ? pathExperimentA : pathExperimentB;
    }
    request.uri = experimentUri;
    callback(null, request);
};
"#;

const PY_AB: &str = r#"# viewer-request: A/B testing by cookie (CloudFront developer guide example).
import random

def handler(event, context):
    request = event['Records'][0]['cf']['request']
    headers = request['headers']
    if request['uri'] != '/experiment-pixel.jpg':
        return request
    experiment_uri = None
    for cookie in headers.get('cookie', []):
        if 'X-Experiment-Name=A' in cookie['value']:
            print('Experiment A cookie found')
            experiment_uri = '/experiment-group/control-pixel.jpg'
            break
        if 'X-Experiment-Name=B' in cookie['value']:
            print('Experiment B cookie found')
            experiment_uri = '/experiment-group/treatment-pixel.jpg'
            break
    if experiment_uri is None:
        experiment_uri = '/experiment-group/control-pixel.jpg' if random.random() < 0.75 else '/experiment-group/treatment-pixel.jpg'
    request['uri'] = experiment_uri
    return request
"#;

const NODE_STATIC: &str = r#"'use strict';
// origin-request: serve static content (generated response; CloudFront developer guide example).
const content = `
<\!DOCTYPE html>
<html lang="en">
  <head><meta charset="utf-8"><title>Simple Lambda@Edge Static Content Response</title></head>
  <body><p>Hello from Lambda@Edge!</p></body>
</html>
`;
exports.handler = (event, context, callback) => {
    const response = {
        status: '200',
        statusDescription: 'OK',
        headers: {
            'cache-control': [{key: 'Cache-Control', value: 'max-age=100'}],
            'content-type': [{key: 'Content-Type', value: 'text/html'}],
        },
        body: content,
    };
    callback(null, response);
};
"#;

const PY_STATIC: &str = r#"# origin-request: serve static content (generated response; CloudFront developer guide example).
CONTENT = """
<\\!DOCTYPE html>
<html lang="en">
  <head><meta charset="utf-8"><title>Simple Lambda@Edge Static Content Response</title></head>
  <body><p>Hello from Lambda@Edge!</p></body>
</html>
"""

def handler(event, context):
    return {
        'status': '200',
        'statusDescription': 'OK',
        'headers': {
            'cache-control': [{'key': 'Cache-Control', 'value': 'max-age=100'}],
            'content-type': [{'key': 'Content-Type', 'value': 'text/html'}],
        },
        'body': CONTENT,
    }
"#;

/// Echoes what it was shown (as a generated response at viewer-request, as a header at
/// the other triggers) so tests can check the event.
const NODE_ECHO: &str = r#"'use strict';
exports.handler = async (event) => {
    const cf = event.Records[0].cf;
    const summary = {
        records: event.Records.length,
        config: cf.config,
        clientIp: cf.request.clientIp,
        method: cf.request.method,
        uri: cf.request.uri,
        querystring: cf.request.querystring,
        headers: cf.request.headers,
        origin: cf.request.origin,
        body: cf.request.body && {
            inputTruncated: cf.request.body.inputTruncated,
            action: cf.request.body.action,
            encoding: cf.request.body.encoding,
            length: Buffer.from(cf.request.body.data, 'base64').length,
        },
        response: cf.response && {status: cf.response.status, statusDescription: cf.response.statusDescription, headers: cf.response.headers},
        keys: Object.keys(cf.request),
    };
    if (cf.config.eventType === 'viewer-request' && cf.request.uri === '/echo') {
        return {status: '200', headers: {'content-type': [{value: 'application/json'}]}, body: JSON.stringify(summary)};
    }
    const b64 = Buffer.from(JSON.stringify(summary)).toString('base64');
    const name = 'x-echo-' + cf.config.eventType;
    if (cf.response) {
        cf.response.headers[name] = [{value: b64}];
        return cf.response;
    }
    cf.request.headers[name] = [{value: b64}];
    return cf.request;
};
"#;

/// Misbehaves on request: `/r/<action>/<trigger>/<arg>`, at `<trigger>` only.
const NODE_RESTRICT: &str = r#"'use strict';
exports.handler = async (event) => {
    const cf = event.Records[0].cf;
    const at = cf.config.eventType;
    const parts = cf.request.uri.split('/');
    const action = parts[2], trigger = parts[3], arg = decodeURIComponent(parts[4] || '');
    const pass = cf.response ? cf.response : cf.request;
    if (trigger !== at) {
        return pass;
    }
    switch (action) {
        case 'add':
            pass.headers[arg.toLowerCase()] = [{key: arg, value: 'changed'}];
            return pass;
        case 'del':
            delete pass.headers[arg.toLowerCase()];
            return pass;
        case 'gen':
            if (cf.response) {
                cf.response.body = 'x'.repeat(Number(arg));
                return cf.response;
            }
            return {status: '200', body: 'x'.repeat(Number(arg))};
        case 'status':
            return {status: arg, body: 'nope'};
        case 'throw':
            throw new Error('boom at ' + at);
        case 'sleep':
            await new Promise((r) => setTimeout(r, Number(arg)));
            return pass;
        case 'garbage':
            return 'not an object';
    }
    return pass;
};
"#;

// ---------------------------------------------------------------------------------------
// Harness.

/// Counts invocations by (function, eventType) on their way to the real runtime.
struct Counting {
    rt: Arc<Runtime>,
    calls: Mutex<BTreeMap<(String, String), usize>>,
}

#[async_trait::async_trait]
impl Invoke for Counting {
    async fn invoke(&self, req: InvokeRequest) -> Result<InvokeResult, InvokeError> {
        let et = serde_json::from_slice::<serde_json::Value>(&req.payload)
            .ok()
            .and_then(|v| {
                v["Records"][0]["cf"]["config"]["eventType"]
                    .as_str()
                    .map(str::to_owned)
            })
            .unwrap_or_default();
        *self
            .calls
            .lock()
            .expect("lock")
            .entry((req.function.as_str().to_owned(), et))
            .or_default() += 1;
        self.rt.invoke(req).await
    }
}

impl Counting {
    fn count(&self, function: &str, event_type: &str) -> usize {
        self.calls
            .lock()
            .expect("lock")
            .get(&(function.to_owned(), event_type.to_owned()))
            .copied()
            .unwrap_or(0)
    }
}

/// An origin that counts requests and remembers the last path and headers.
struct Origin {
    url: String,
    hits: Arc<AtomicU64>,
    last: Arc<Mutex<Option<http::request::Parts>>>,
}

impl Origin {
    /// Answers 200, except `/gone*` → 404 and `/lost*` → 410.
    async fn start(delay_ms: u64) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr: SocketAddr = listener.local_addr().expect("addr");
        let hits = Arc::new(AtomicU64::new(0));
        let last = Arc::new(Mutex::new(None));
        let (h, l) = (hits.clone(), last.clone());
        tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                let (h, l) = (h.clone(), l.clone());
                tokio::spawn(async move {
                    let svc = service_fn(move |req: http::Request<hyper::body::Incoming>| {
                        let (h, l) = (h.clone(), l.clone());
                        async move {
                            h.fetch_add(1, Ordering::SeqCst);
                            if delay_ms > 0 {
                                tokio::time::sleep(Duration::from_millis(delay_ms)).await;
                            }
                            let (parts, _) = req.into_parts();
                            let body = format!("origin saw {}", parts.uri);
                            let status = if parts.uri.path().starts_with("/gone") {
                                404
                            } else if parts.uri.path().starts_with("/lost") {
                                410
                            } else {
                                200
                            };
                            *l.lock().expect("lock") = Some(parts);
                            Ok::<_, std::convert::Infallible>(
                                http::Response::builder()
                                    .status(status)
                                    .header("cache-control", "max-age=300")
                                    .header("content-type", "text/plain")
                                    .body(Full::new(Bytes::from(body)))
                                    .expect("response"),
                            )
                        }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), svc)
                        .await;
                });
            }
        });
        Origin {
            url: format!("http://{addr}"),
            hits,
            last,
        }
    }

    fn count(&self) -> u64 {
        self.hits.load(Ordering::SeqCst)
    }

    fn last_uri(&self) -> String {
        self.last
            .lock()
            .expect("lock")
            .as_ref()
            .map(|p| p.uri.to_string())
            .unwrap_or_default()
    }

    fn last_header(&self, name: &str) -> Option<String> {
        self.last.lock().expect("lock").as_ref().and_then(|p| {
            p.headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        })
    }
}

struct Stack {
    inv: Arc<Counting>,
    /// The distribution's id and domain name.
    id: (String, String),
    pops: BTreeMap<String, String>,
    origin: Origin,
    _cancel: CancellationToken,
    _dir: tempfile::TempDir,
}

fn write_code(dir: &Path) {
    let node = dir.join("node");
    let py = dir.join("py");
    std::fs::create_dir_all(&node).expect("mkdir");
    std::fs::create_dir_all(&py).expect("mkdir");
    for (f, src) in [
        ("security.js", NODE_SECURITY),
        ("country.js", NODE_COUNTRY),
        ("spa.js", NODE_SPA),
        ("ab.js", NODE_AB),
        ("static.js", NODE_STATIC),
        ("echo.js", NODE_ECHO),
        ("restrict.js", NODE_RESTRICT),
    ] {
        std::fs::write(node.join(f), src).expect("write");
    }
    for (f, src) in [
        ("security.py", PY_SECURITY),
        ("country.py", PY_COUNTRY),
        ("spa.py", PY_SPA),
        ("ab.py", PY_AB),
        ("static.py", PY_STATIC),
    ] {
        std::fs::write(py.join(f), src).expect("write");
    }
}

/// A function resource: `lang` is `node` or `py`, `module` the file's stem.
fn function(id: &str, lang: &str, module: &str, extra: &str) -> String {
    let runtime = if lang == "node" {
        "nodejs20.x"
    } else {
        "python3.11"
    };
    format!(
        r#"
  {id}:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: {lang}/
      Handler: {module}.handler
      Runtime: {runtime}
      MemorySize: 128
      Timeout: 5
      AutoPublishAlias: live
{extra}"#
    )
}

/// A distribution with one origin (`origin-a`) whose default behaviour carries
/// `associations` (YAML list items) and uses `cache_policy`.
fn distribution(cache_policy: &str, associations: &str, extra_behaviors: &str) -> String {
    format!(
        r#"
  Cdn:
    Type: AWS::CloudFront::Distribution
    Properties:
      DistributionConfig:
        Enabled: true
        Origins:
          - Id: a
            DomainName: origin-a
            CustomOriginConfig: {{OriginProtocolPolicy: http-only}}
        DefaultCacheBehavior:
          TargetOriginId: a
          ViewerProtocolPolicy: allow-all
          AllowedMethods: [GET, HEAD, OPTIONS, PUT, PATCH, POST, DELETE]
          CachePolicyId: {cache_policy}
          LambdaFunctionAssociations:
{associations}
{extra_behaviors}
"#
    )
}

const OPTIMIZED: &str = "658327ea-f89d-4fab-a63d-7e88639e58f6";
const DISABLED: &str = "4135ea2d-6df8-44a3-9df3-4b5a84be39ad";

fn assoc(event_type: &str, function: &str) -> String {
    format!(
        "            - EventType: {event_type}\n              LambdaFunctionARN: !Ref {function}.Version\n"
    )
}

async fn stack_with(
    resources: &str,
    origin_delay_ms: u64,
    tweak_rt: impl FnOnce(&mut RuntimeConfig),
) -> Stack {
    let dir = tempfile::tempdir().expect("tempdir");
    write_code(dir.path());
    let yaml = format!("Transform: AWS::Serverless-2016-10-31\nResources:{resources}");
    let template = ledge_template::load_str(
        &yaml,
        dir.path(),
        "template.yaml",
        &ledge_template::LoadOptions::default(),
    )
    .expect("template loads");
    let mut rc = RuntimeConfig::new(dir.path().join("state"));
    tweak_rt(&mut rc);
    let rt = Arc::new(Runtime::new(rc).expect("runtime"));
    for f in &template.functions {
        rt.deploy(f.clone()).await.expect("deploy");
        // What SAM's AutoPublishAlias does: publish version 1 (`!Ref Fn.Version`).
        rt.publish_version(&f.name, None, None, None)
            .await
            .expect("publish");
    }
    let inv = Arc::new(Counting {
        rt,
        calls: Mutex::new(BTreeMap::new()),
    });
    let origin = Origin::start(origin_delay_ms).await;
    let url = origin.url.clone();
    let resolve = move |name: &str| (name == "origin-a").then(|| url.clone());
    let cfg = EdgeConfig {
        invoker: Some(inv.clone() as Arc<dyn Invoke>),
        ..EdgeConfig::default()
    };
    let specs = parse_distributions(&template, &resolve, &cfg).expect("distributions parse");
    let cancel = CancellationToken::new();
    let edge = start(specs, cfg, cancel.clone())
        .await
        .expect("edge starts");
    let info = edge.distributions().remove(0);
    Stack {
        inv,
        id: (info.id.clone(), info.domain_name.clone()),
        pops: info.pops.iter().cloned().collect(),
        origin,
        _cancel: cancel,
        _dir: dir,
    }
}

async fn stack(resources: &str) -> Stack {
    stack_with(resources, 0, |_| {}).await
}

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client")
}

struct Got {
    status: u16,
    headers: reqwest::header::HeaderMap,
    body: String,
}

impl Got {
    fn h(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }

    fn x_cache(&self) -> &str {
        self.h("x-cache")
    }
}

async fn get(url: &str, headers: &[(&str, &str)]) -> Got {
    let mut r = client().get(url);
    for (n, v) in headers {
        r = r.header(*n, *v);
    }
    let resp = r.send().await.expect("request");
    Got {
        status: resp.status().as_u16(),
        headers: resp.headers().clone(),
        body: resp.text().await.expect("body"),
    }
}

const LANGS: [&str; 2] = ["node", "py"];

// ---------------------------------------------------------------------------------------
// The guide's examples.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn security_headers_on_origin_response_are_cached_and_run_once_per_miss() {
    for lang in LANGS {
        let s = stack(
            &(function("Sec", lang, "security", "")
                + &distribution(OPTIMIZED, &assoc("origin-response", "Sec"), "")),
        )
        .await;
        let url = format!("{}/page", s.pops["FRA"]);
        let r1 = get(&url, &[]).await;
        assert_eq!(r1.status, 200, "{lang}: {}", r1.body);
        assert_eq!(r1.x_cache(), "Miss from cloudfront", "{lang}");
        assert_eq!(
            r1.h("strict-transport-security"),
            "max-age=63072000; includeSubdomains; preload",
            "{lang}"
        );
        assert_eq!(r1.h("x-frame-options"), "DENY");
        assert_eq!(r1.h("x-xss-protection"), "1; mode=block", "key omitted");
        assert_eq!(r1.body, "origin saw /page");
        let r2 = get(&url, &[]).await;
        assert_eq!(r2.x_cache(), "Hit from cloudfront", "{lang}");
        assert_eq!(r2.h("x-content-type-options"), "nosniff", "{lang}: cached");
        assert_eq!(s.origin.count(), 1);
        assert_eq!(
            s.inv.count("Sec", "origin-response"),
            1,
            "{lang}: origin-response runs on the miss only"
        );
        // Another POP: a miss there may be a regional-cache hit; either way the trigger
        // runs exactly once per origin fetch.
        let r3 = get(&format!("{}/page", s.pops["NRT"]), &[]).await;
        assert_eq!(r3.h("referrer-policy"), "same-origin");
        assert_eq!(
            s.inv.count("Sec", "origin-response") as u64,
            s.origin.count(),
            "{lang}: one origin-response per origin fetch"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redirect_by_viewer_country_at_origin_request_is_cached_per_country() {
    for lang in LANGS {
        let policy = r#"
  CountryPolicy:
    Type: AWS::CloudFront::CachePolicy
    Properties:
      CachePolicyConfig:
        Name: by-country
        MinTTL: 0
        DefaultTTL: 300
        MaxTTL: 3600
        ParametersInCacheKeyAndForwardedToOrigin:
          EnableAcceptEncodingGzip: false
          HeadersConfig: {HeaderBehavior: whitelist, Headers: [CloudFront-Viewer-Country]}
          CookiesConfig: {CookieBehavior: none}
          QueryStringsConfig: {QueryStringBehavior: none}
"#;
        let s = stack(
            &(function("Geo", lang, "country", "")
                + policy
                + &distribution("!Ref CountryPolicy", &assoc("origin-request", "Geo"), "")),
        )
        .await;
        let us = get(&format!("{}/", s.pops["IAD"]), &[]).await;
        assert_eq!(us.status, 302, "{lang}: {}", us.body);
        assert_eq!(us.h("location"), "https://us.example.com/");
        assert_eq!(us.x_cache(), "LambdaGeneratedResponse from cloudfront");
        let de = get(&format!("{}/", s.pops["FRA"]), &[]).await;
        assert_eq!(de.h("location"), "https://de.example.com/", "{lang}");
        let jp = get(&format!("{}/", s.pops["NRT"]), &[]).await;
        assert_eq!(jp.h("location"), "https://example.com/", "{lang}");
        assert_eq!(s.inv.count("Geo", "origin-request"), 3);
        // Cached under the country key: no second invocation.
        let us2 = get(&format!("{}/", s.pops["IAD"]), &[]).await;
        assert_eq!(us2.h("location"), "https://us.example.com/");
        assert_eq!(us2.x_cache(), "Hit from cloudfront", "{lang}");
        assert_eq!(s.inv.count("Geo", "origin-request"), 3, "{lang}");
        assert_eq!(s.origin.count(), 0, "{lang}: the origin is never asked");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spa_rewrite_at_viewer_request_changes_the_cache_key() {
    for lang in LANGS {
        let s = stack(
            &(function("Spa", lang, "spa", "")
                + &distribution(OPTIMIZED, &assoc("viewer-request", "Spa"), "")),
        )
        .await;
        let a = get(&format!("{}/app/settings", s.pops["FRA"]), &[]).await;
        assert_eq!(a.status, 200, "{lang}: {}", a.body);
        assert_eq!(a.body, "origin saw /index.html", "{lang}");
        assert_eq!(a.x_cache(), "Miss from cloudfront");
        let b = get(&format!("{}/app/profile/42", s.pops["FRA"]), &[]).await;
        assert_eq!(b.body, "origin saw /index.html");
        assert_eq!(
            b.x_cache(),
            "Hit from cloudfront",
            "{lang}: the rewritten URI is the key"
        );
        let other = get(&format!("{}/assets/app.js", s.pops["FRA"]), &[]).await;
        assert_eq!(other.body, "origin saw /assets/app.js");
        assert_eq!(s.origin.last_uri(), "/assets/app.js");
        assert_eq!(s.origin.count(), 2);
        assert_eq!(
            s.inv.count("Spa", "viewer-request"),
            3,
            "{lang}: viewer-request runs on hits too"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ab_test_by_cookie_at_viewer_request() {
    let forward_cookie = r#"
  CookiePolicy:
    Type: AWS::CloudFront::CachePolicy
    Properties:
      CachePolicyConfig:
        Name: exp-cookie
        MinTTL: 0
        DefaultTTL: 300
        MaxTTL: 3600
        ParametersInCacheKeyAndForwardedToOrigin:
          EnableAcceptEncodingGzip: false
          HeadersConfig: {HeaderBehavior: none}
          CookiesConfig: {CookieBehavior: whitelist, Cookies: [X-Experiment-Name]}
          QueryStringsConfig: {QueryStringBehavior: none}
"#;
    for lang in LANGS {
        let s = stack(
            &(function("Ab", lang, "ab", "")
                + forward_cookie
                + &distribution("!Ref CookiePolicy", &assoc("viewer-request", "Ab"), "")),
        )
        .await;
        let url = format!("{}/experiment-pixel.jpg", s.pops["LHR"]);
        let a = get(&url, &[("cookie", "session=1; X-Experiment-Name=A")]).await;
        assert_eq!(
            a.body, "origin saw /experiment-group/control-pixel.jpg",
            "{lang}"
        );
        let b = get(&url, &[("cookie", "X-Experiment-Name=B")]).await;
        assert_eq!(
            b.body, "origin saw /experiment-group/treatment-pixel.jpg",
            "{lang}"
        );
        let a2 = get(&url, &[("cookie", "X-Experiment-Name=A")]).await;
        assert_eq!(a2.x_cache(), "Hit from cloudfront", "{lang}");
        assert_eq!(s.origin.count(), 2);
        let none = get(&url, &[]).await;
        assert!(
            none.body.contains("/experiment-group/"),
            "{lang}: dice thrown: {}",
            none.body
        );
        let plain = get(&format!("{}/other", s.pops["LHR"]), &[]).await;
        assert_eq!(plain.body, "origin saw /other");
        assert_eq!(s.inv.count("Ab", "viewer-request"), 5);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn response_generated_at_origin_request_is_served_from_cache_without_a_second_invocation() {
    for lang in LANGS {
        let s = stack(
            &(function("Static", lang, "static", "")
                + function("Sec", lang, "security", "").as_str()
                + &distribution(
                    OPTIMIZED,
                    &(assoc("origin-request", "Static") + &assoc("origin-response", "Sec")),
                    "",
                )),
        )
        .await;
        let url = format!("{}/hello", s.pops["SYD"]);
        let r1 = get(&url, &[]).await;
        assert_eq!(r1.status, 200, "{lang}: {}", r1.body);
        assert_eq!(r1.x_cache(), "LambdaGeneratedResponse from cloudfront");
        assert!(r1.body.contains("Hello from Lambda@Edge!"), "{lang}");
        assert_eq!(r1.h("content-type"), "text/html");
        assert_eq!(
            r1.h("strict-transport-security"),
            "",
            "{lang}: origin-response does not run on a generated response"
        );
        let r2 = get(&url, &[]).await;
        assert_eq!(r2.x_cache(), "Hit from cloudfront", "{lang}");
        assert_eq!(r2.body, r1.body);
        assert!(!r2.h("age").is_empty(), "{lang}: Age on the hit");
        assert_eq!(s.inv.count("Static", "origin-request"), 1, "{lang}");
        assert_eq!(s.inv.count("Sec", "origin-response"), 0, "{lang}");
        assert_eq!(s.origin.count(), 0);
    }
}

// ---------------------------------------------------------------------------------------
// Cache interaction.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn collapsed_viewers_cause_one_origin_trigger_and_one_viewer_trigger_each() {
    let s = stack_with(
        &(function("Echo", "node", "echo", "")
            + &distribution(
                OPTIMIZED,
                &(assoc("viewer-request", "Echo")
                    + &assoc("origin-request", "Echo")
                    + &assoc("origin-response", "Echo")
                    + &assoc("viewer-response", "Echo")),
                "",
            )),
        400,
        |_| {},
    )
    .await;
    // Warm the function so the collapsing window is not a cold start.
    let warm = get(&format!("{}/warm", s.pops["FRA"]), &[]).await;
    assert_eq!(warm.status, 200, "{}", warm.body);
    let url = format!("{}/cold", s.pops["FRA"]);
    let mut tasks = Vec::new();
    for _ in 0..10 {
        let url = url.clone();
        tasks.push(tokio::spawn(async move { get(&url, &[]).await }));
    }
    let mut misses = 0;
    for t in tasks {
        let r = t.await.expect("task");
        assert_eq!(r.status, 200, "{}", r.body);
        if r.x_cache() == "Miss from cloudfront" {
            misses += 1;
        }
    }
    assert_eq!(misses, 1, "one Miss, the rest collapsed (Hit)");
    assert_eq!(s.origin.count(), 2, "warm + one for ten viewers");
    assert_eq!(s.inv.count("Echo", "origin-request"), 2);
    assert_eq!(s.inv.count("Echo", "origin-response"), 2);
    assert_eq!(s.inv.count("Echo", "viewer-request"), 11);
    assert_eq!(s.inv.count("Echo", "viewer-response"), 11);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn viewer_generated_responses_are_never_cached_and_skip_viewer_response() {
    let s = stack(
        &(function("Echo", "node", "echo", "")
            + &distribution(
                OPTIMIZED,
                &(assoc("viewer-request", "Echo") + &assoc("viewer-response", "Echo")),
                "",
            )),
    )
    .await;
    let url = format!("{}/echo", s.pops["FRA"]);
    for _ in 0..2 {
        let r = get(&url, &[]).await;
        assert_eq!(r.status, 200, "{}", r.body);
        assert_eq!(r.x_cache(), "LambdaGeneratedResponse from cloudfront");
        assert_eq!(r.h("x-echo-viewer-response"), "");
    }
    assert_eq!(s.inv.count("Echo", "viewer-request"), 2, "never cached");
    assert_eq!(s.inv.count("Echo", "viewer-response"), 0);
    assert_eq!(s.origin.count(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn viewer_response_runs_on_hits_and_misses_but_not_on_origin_errors_or_error_pages() {
    let resources = function("Echo", "node", "echo", "")
        + &distribution(OPTIMIZED, &assoc("viewer-response", "Echo"), "");
    let s = stack(&resources).await;
    let url = format!("{}/x", s.pops["FRA"]);
    let r1 = get(&url, &[]).await;
    let r2 = get(&url, &[]).await;
    assert_eq!(r2.x_cache(), "Hit from cloudfront");
    for r in [&r1, &r2] {
        assert!(!r.h("x-echo-viewer-response").is_empty(), "hit and miss");
    }
    assert_eq!(s.inv.count("Echo", "viewer-response"), 2);
    // The Age header is part of the viewer-response event on the hit.
    let shown: serde_json::Value =
        serde_json::from_slice(&base64_decode(r2.h("x-echo-viewer-response"))).expect("json");
    assert_eq!(shown["response"]["status"], "200");
    assert_eq!(shown["response"]["statusDescription"], "OK");
    assert!(shown["response"]["headers"]["age"][0]["value"].is_string());
    assert_eq!(shown["response"]["headers"]["age"][0]["key"], "Age");
    assert!(shown["origin"].is_null(), "viewer events carry no origin");
}

fn base64_decode(s: &str) -> Vec<u8> {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD
        .decode(s)
        .expect("base64")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn viewer_response_is_skipped_for_origin_errors_and_custom_error_pages() {
    // `/gone` → 404 with a custom error page (`/page`, served as 200); `/lost` → 410.
    let resources = function("Echo", "node", "echo", "")
        + &distribution(OPTIMIZED, &assoc("viewer-response", "Echo"), "")
        + r#"
        CustomErrorResponses:
          - ErrorCode: 404
            ResponsePagePath: /page
            ResponseCode: 200
"#;
    let s = stack(&resources).await;
    let lost = get(&format!("{}/lost", s.pops["FRA"]), &[]).await;
    assert_eq!(lost.status, 410);
    assert_eq!(lost.x_cache(), ERROR);
    assert_eq!(lost.h("x-echo-viewer-response"), "");
    let gone = get(&format!("{}/gone", s.pops["FRA"]), &[]).await;
    assert_eq!(gone.status, 200, "{}", gone.body);
    assert_eq!(gone.body, "origin saw /page", "the custom error page");
    assert_eq!(gone.x_cache(), ERROR);
    assert_eq!(gone.h("x-echo-viewer-response"), "");
    assert_eq!(s.inv.count("Echo", "viewer-response"), 0);
    let ok = get(&format!("{}/fine", s.pops["FRA"]), &[]).await;
    assert!(!ok.h("x-echo-viewer-response").is_empty());
    assert_eq!(s.inv.count("Echo", "viewer-response"), 1);
}

// ---------------------------------------------------------------------------------------
// The event.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_carry_config_request_origin_and_truncated_body() {
    let mut resources = function("Echo", "node", "echo", "")
        + &distribution(
            DISABLED,
            &(assoc("viewer-request", "Echo")
                + &assoc("origin-request", "Echo")
                + &assoc("origin-response", "Echo")),
            "",
        );
    resources = resources.replace(
        "LambdaFunctionARN: !Ref Echo.Version\n",
        "LambdaFunctionARN: !Ref Echo.Version\n              IncludeBody: true\n",
    );
    // Forward every viewer header, so what viewer-request added reaches the origin.
    resources = resources.replace(
        &format!("CachePolicyId: {DISABLED}"),
        &format!("CachePolicyId: {DISABLED}\n          OriginRequestPolicyId: 216adef6-5c7f-47e4-b989-5492eafa07d3"),
    );
    // IncludeBody only on request events.
    resources = resources.replacen(
        "            - EventType: origin-response\n              LambdaFunctionARN: !Ref Echo.Version\n              IncludeBody: true\n",
        "            - EventType: origin-response\n              LambdaFunctionARN: !Ref Echo.Version\n",
        1,
    );
    let s = stack(&resources).await;
    // The viewer-request echo comes back as the generated response.
    let body = vec![b'z'; 50 * 1024];
    let r = client()
        .post(format!("{}/echo?a=1&b=2", s.pops["FRA"]))
        .header("user-agent", "curl/7.66.0")
        .body(body.clone())
        .send()
        .await
        .expect("post");
    let cf_id = r
        .headers()
        .get("x-amz-cf-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    assert_eq!(r.status(), 200);
    let e: serde_json::Value = r.json().await.expect("json");
    assert_eq!(e["records"], 1);
    assert_eq!(e["config"]["eventType"], "viewer-request");
    assert_eq!(e["config"]["requestId"], cf_id.as_str());
    assert_eq!(e["config"]["distributionId"], s.id.0.as_str());
    assert_eq!(e["config"]["distributionDomainName"], s.id.1.as_str());
    assert!(s.id.1.ends_with(".cloudfront.net"));
    assert_eq!(e["clientIp"], "127.0.0.1");
    assert_eq!(e["method"], "POST");
    assert_eq!(e["uri"], "/echo");
    assert_eq!(e["querystring"], "a=1&b=2");
    assert_eq!(
        e["headers"]["user-agent"],
        serde_json::json!([{"key": "User-Agent", "value": "curl/7.66.0"}])
    );
    assert!(
        e["headers"].get("connection").is_none(),
        "disallowed: hidden"
    );
    assert!(e["headers"].get("x-ledge-viewer").is_none());
    assert_eq!(e["body"]["inputTruncated"], true);
    assert_eq!(e["body"]["action"], "read-only");
    assert_eq!(e["body"]["encoding"], "base64");
    assert_eq!(e["body"]["length"], 40 * 1024, "cut at 40 KB");
    assert_eq!(
        e["keys"],
        serde_json::json!([
            "body",
            "clientIp",
            "headers",
            "method",
            "querystring",
            "uri"
        ])
    );

    // Origin events: shown as headers the origin receives.
    let r = client()
        .post(format!("{}/thing?q=1", s.pops["FRA"]))
        .header("user-agent", "curl/8.5.0")
        .body(vec![b'y'; 100])
        .send()
        .await
        .expect("post");
    assert_eq!(r.status(), 200);
    let or: serde_json::Value = serde_json::from_slice(&base64_decode(
        &s.origin
            .last_header("x-echo-origin-request")
            .expect("origin-request ran"),
    ))
    .expect("json");
    assert_eq!(or["config"]["eventType"], "origin-request");
    assert_eq!(or["uri"], "/thing");
    assert_eq!(or["body"]["inputTruncated"], false);
    assert_eq!(or["body"]["length"], 100);
    let custom = &or["origin"]["custom"];
    assert_eq!(custom["domainName"], "origin-a");
    assert_eq!(custom["path"], "");
    assert_eq!(custom["protocol"], "http");
    assert_eq!(custom["keepaliveTimeout"], 5);
    assert_eq!(custom["readTimeout"], 30);
    assert!(custom["customHeaders"].is_object());
    assert_eq!(
        or["headers"]["user-agent"][0],
        serde_json::json!({"key": "User-Agent", "value": "curl/8.5.0"}),
        "AllViewer forwards the viewer's User-Agent"
    );
    assert!(or["headers"]["via"][0]["value"]
        .as_str()
        .is_some_and(|v| v.ends_with(".cloudfront.net (CloudFront)")));
    assert!(
        or["headers"].get("x-amz-cf-id").is_none(),
        "X-Amz-Cf-* is not shown"
    );
    assert!(
        s.origin.last_header("x-amz-cf-id").is_some(),
        "but still sent"
    );
    // The viewer-request function's header travelled on (keys it omitted: Title-Case).
    assert_eq!(
        or["headers"]["x-echo-viewer-request"][0]["key"],
        "X-Echo-Viewer-Request"
    );
    let got = get(&format!("{}/thing2", s.pops["FRA"]), &[]).await;
    let resp: serde_json::Value =
        serde_json::from_slice(&base64_decode(got.h("x-echo-origin-response"))).expect("json");
    assert_eq!(resp["config"]["eventType"], "origin-response");
    assert_eq!(resp["response"]["status"], "200", "status is a string");
    assert_eq!(resp["response"]["statusDescription"], "OK");
    assert_eq!(
        resp["response"]["headers"]["content-type"][0],
        serde_json::json!({"key": "Content-Type", "value": "text/plain"})
    );
}

// ---------------------------------------------------------------------------------------
// Restrictions: what a viewer sees.

async fn restrict_stack() -> Stack {
    stack(
        &(function("Bad", "node", "restrict", "      Timeout: 1\n")
            .replace("      Timeout: 5\n", "")
            + &distribution(
                DISABLED,
                &(assoc("viewer-request", "Bad")
                    + &assoc("origin-request", "Bad")
                    + &assoc("origin-response", "Bad")
                    + &assoc("viewer-response", "Bad")),
                "",
            )),
    )
    .await
}

const ERROR: &str = "Error from cloudfront";

async fn expect(s: &Stack, path: &str, status: u16, x_cache: &str) -> Got {
    let r = get(&format!("{}{path}", s.pops["FRA"]), &[]).await;
    assert_eq!(r.status, status, "{path}: {}", r.body);
    assert_eq!(r.x_cache(), x_cache, "{path}");
    if status >= 500 {
        assert!(
            r.body.contains("The request could not be satisfied"),
            "{path}: CloudFront's error page: {}",
            r.body
        );
        assert_eq!(r.h("server"), "CloudFront");
        assert!(
            r.body.contains(r.h("x-amz-cf-id")),
            "request id on the page"
        );
    }
    r
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restrictions_disallowed_headers_are_502_at_every_trigger() {
    let s = restrict_stack().await;
    expect(&s, "/r/none/none/x", 200, "Miss from cloudfront").await;
    let families = [
        "Connection",
        "Expect",
        "Keep-Alive",
        "Proxy-Authenticate",
        "Proxy-Authorization",
        "Proxy-Connection",
        "Trailer",
        "Upgrade",
        "X-Accel-Buffering",
        "X-Accel-Charset",
        "X-Accel-Limit-Rate",
        "X-Accel-Redirect",
        "X-Amz-Cf-Anything",
        "X-Amzn-Auth",
        "X-Amzn-Cf-Billing",
        "X-Amzn-Cf-Id",
        "X-Amzn-Cf-Xff",
        "X-Amzn-ErrorType",
        "X-Amzn-Fle-Profile",
        "X-Amzn-Header-Count",
        "X-Amzn-Header-Order",
        "X-Amzn-Lambda-Integration-Tag",
        "X-Amzn-RequestId",
        "X-Cache",
        "X-Edge-Location",
        "X-Forwarded-Proto",
        "X-Real-IP",
    ];
    for name in families {
        for t in [
            "viewer-request",
            "origin-request",
            "origin-response",
            "viewer-response",
        ] {
            let r = expect(&s, &format!("/r/add/{t}/{name}"), 502, ERROR).await;
            assert!(
                r.body.contains("failed validation"),
                "{t} {name}: {}",
                r.body
            );
        }
    }
    // A viewer-request function may not add the CloudFront-Viewer-* headers.
    expect(
        &s,
        "/r/add/viewer-request/CloudFront-Viewer-Country",
        502,
        ERROR,
    )
    .await;
    // … but an origin-request function may.
    expect(
        &s,
        "/r/add/origin-request/CloudFront-Viewer-Country",
        200,
        "Miss from cloudfront",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restrictions_read_only_headers_are_502_per_trigger() {
    let s = restrict_stack().await;
    let cases: &[(&str, &[&str])] = &[
        (
            "viewer-request",
            &["Content-Length", "Host", "Transfer-Encoding", "Via"],
        ),
        (
            "origin-request",
            &[
                "Accept-Encoding",
                "Content-Length",
                "If-Modified-Since",
                "If-None-Match",
                "If-Range",
                "If-Unmodified-Since",
                "Transfer-Encoding",
                "Via",
            ],
        ),
        ("origin-response", &["Transfer-Encoding", "Via"]),
        ("viewer-response", &["Warning", "Via"]),
    ];
    for (t, names) in cases {
        for name in *names {
            let r = expect(&s, &format!("/r/add/{t}/{name}"), 502, ERROR).await;
            assert!(
                r.body.contains("read-only header"),
                "{t} {name}: {}",
                r.body
            );
        }
    }
    // Deleting counts too.
    expect(&s, "/r/del/viewer-request/Host", 502, ERROR).await;
    expect(&s, "/r/del/origin-request/Via", 502, ERROR).await;
    // Not read-only elsewhere: Host at origin-request, Warning at origin-response.
    expect(
        &s,
        "/r/add/origin-request/X-Anything",
        200,
        "Miss from cloudfront",
    )
    .await;
    expect(
        &s,
        "/r/add/origin-response/Warning",
        200,
        "Miss from cloudfront",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restrictions_sizes_statuses_exceptions_and_timeouts() {
    let s = restrict_stack().await;
    // Generated responses: 40 KB in viewer events, 1 MB in origin events.
    let ok = expect(
        &s,
        "/r/gen/viewer-request/30000",
        200,
        "LambdaGeneratedResponse from cloudfront",
    )
    .await;
    assert_eq!(ok.body.len(), 30000);
    expect(&s, "/r/gen/viewer-request/41000", 502, ERROR).await;
    expect(
        &s,
        "/r/gen/origin-request/900000",
        200,
        "LambdaGeneratedResponse from cloudfront",
    )
    .await;
    expect(&s, "/r/gen/origin-request/1100000", 502, ERROR).await;
    expect(
        &s,
        "/r/gen/origin-response/900000",
        200,
        "Miss from cloudfront",
    )
    .await;
    expect(&s, "/r/gen/origin-response/1100000", 502, ERROR).await;
    expect(&s, "/r/gen/viewer-response/41000", 502, ERROR).await;
    // Status codes outside 200–599, or not a number.
    for st in ["99", "600", "abc", "1000"] {
        expect(&s, &format!("/r/status/viewer-request/{st}"), 502, ERROR).await;
        expect(&s, &format!("/r/status/origin-request/{st}"), 502, ERROR).await;
    }
    expect(&s, "/r/status/origin-response/700", 502, ERROR).await;
    // Not an object.
    expect(&s, "/r/garbage/viewer-request/x", 502, ERROR).await;
    // An exception: 500 at every trigger.
    for t in [
        "viewer-request",
        "origin-request",
        "origin-response",
        "viewer-response",
    ] {
        let r = expect(&s, &format!("/r/throw/{t}/x"), 500, ERROR).await;
        assert!(r.body.contains("execution error"), "{t}: {}", r.body);
    }
    // A timeout (the function's 1 s): 503.
    let r = expect(&s, "/r/sleep/viewer-request/3000", 503, ERROR).await;
    assert!(r.body.contains("timed out"), "{}", r.body);
    expect(&s, "/r/sleep/origin-response/3000", 503, ERROR).await;
    // And it keeps serving.
    expect(&s, "/r/none/none/y", 200, "Miss from cloudfront").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restrictions_throttled_invocations_are_503() {
    let s = stack_with(
        &(function("Bad", "node", "restrict", "")
            + &distribution(DISABLED, &assoc("viewer-request", "Bad"), "")),
        0,
        |rc| rc.account_concurrency = 1,
    )
    .await;
    expect(&s, "/r/none/none/warm", 200, "Miss from cloudfront").await;
    let url = format!("{}/r/sleep/viewer-request/1500", s.pops["FRA"]);
    let (a, b) = tokio::join!(get(&url, &[]), async {
        tokio::time::sleep(Duration::from_millis(300)).await;
        get(&url, &[]).await
    });
    let mut statuses = [a.status, b.status];
    statuses.sort();
    assert_eq!(statuses, [200, 503], "{} / {}", a.body, b.body);
    let throttled = if a.status == 503 { &a } else { &b };
    assert_eq!(throttled.x_cache(), ERROR);
    assert!(throttled.body.contains("throttled"), "{}", throttled.body);
}

// ---------------------------------------------------------------------------------------
// Deploy-time refusals.

struct NeverCalled;

#[async_trait::async_trait]
impl Invoke for NeverCalled {
    async fn invoke(&self, _: InvokeRequest) -> Result<InvokeResult, InvokeError> {
        Err(InvokeError::ShuttingDown)
    }
}

fn deploy(resources: &str, with_invoker: bool) -> Result<(), String> {
    let dir = tempfile::tempdir().expect("tempdir");
    write_code(dir.path());
    std::fs::create_dir_all(dir.path().join("provided")).expect("mkdir");
    let yaml = format!("Transform: AWS::Serverless-2016-10-31\nResources:{resources}");
    let template = ledge_template::load_str(
        &yaml,
        dir.path(),
        "template.yaml",
        &ledge_template::LoadOptions::default(),
    )
    .map_err(|e| format!("template: {e}"))?;
    let cfg = EdgeConfig {
        invoker: with_invoker.then(|| Arc::new(NeverCalled) as Arc<dyn Invoke>),
        ..EdgeConfig::default()
    };
    let resolve = |_: &str| Some("http://127.0.0.1:9".to_owned());
    parse_distributions(&template, &resolve, &cfg)
        .map(|_| ())
        .map_err(|e: EdgeError| e.to_string())
}

#[test]
fn deploy_refuses_what_cloudfront_refuses() {
    let refused = |resources: String, needle: &str| {
        let e = deploy(&resources, true).expect_err(needle);
        assert!(e.contains(needle), "{needle:?} not in {e:?}");
        assert!(
            e.starts_with(
                "Cdn: DistributionConfig.DefaultCacheBehavior.LambdaFunctionAssociations[0]."
            ),
            "{e}"
        );
    };
    let with_arn = |arn: &str| {
        function("Fn", "node", "spa", "")
            + &distribution(
                OPTIMIZED,
                &format!("            - EventType: viewer-request\n              LambdaFunctionARN: {arn}\n"),
                "",
            )
    };
    // Good: the version SAM publishes.
    deploy(&with_arn("!Ref Fn.Version"), true).expect("numbered version accepted");
    deploy(
        &with_arn("arn:aws:lambda:us-east-1:123456789012:function:Fn:7"),
        true,
    )
    .expect("a version ARN");
    let v = "The function ARN must reference a specific function version. (The ARN must end with the version number.) ARN: ";
    refused(
        with_arn("arn:aws:lambda:us-east-1:123456789012:function:Fn:$LATEST"),
        &format!("InvalidLambdaFunctionAssociation: {v}arn:aws:lambda:us-east-1:123456789012:function:Fn:$LATEST"),
    );
    refused(with_arn("!Ref Fn.Alias"), v);
    refused(with_arn("!GetAtt Fn.Arn"), v);
    refused(
        with_arn("arn:aws:lambda:eu-west-1:123456789012:function:Fn:1"),
        "us-east-1",
    );
    refused(
        with_arn("arn:aws:lambda:us-east-1:123456789012:function:Nope:1"),
        "does not exist",
    );
    let fn_with = |extra: &str, runtime_dir: &str| {
        function("Fn", runtime_dir, "spa", extra)
            + &distribution(OPTIMIZED, &assoc("viewer-request", "Fn"), "")
    };
    refused(
        fn_with("      Environment: {Variables: {GREETING: hi}}\n", "node"),
        "The function cannot have environment variables. Function: arn:aws:lambda:us-east-1:123456789012:function:Fn:1",
    );
    refused(
        fn_with(
            "      Layers: [arn:aws:lambda:us-east-1:123456789012:layer:l:1]\n",
            "node",
        ),
        "cannot have layers",
    );
    refused(
        fn_with("      Architectures: [arm64]\n", "node"),
        "architecture arm64",
    );
    refused(
        fn_with("      ReservedConcurrentExecutions: 2\n", "node"),
        "reserved concurrency",
    );
    refused(
        function("Fn", "node", "spa", "")
            .replace("MemorySize: 128", "MemorySize: 256")
            + &distribution(OPTIMIZED, &assoc("viewer-request", "Fn"), ""),
        "The function memory size is larger than the maximum allowed for functions that are triggered by a CloudFront event: 256 Max allowed: 128",
    );
    refused(
        function("Fn", "node", "spa", "").replace("Timeout: 5", "Timeout: 10")
            + &distribution(OPTIMIZED, &assoc("viewer-response", "Fn"), ""),
        "The function timeout is larger than the maximum allowed for functions that are triggered by a CloudFront event: 10 Max allowed: 5",
    );
    // Origin triggers: 30 s, Lambda's memory.
    deploy(
        &(function("Fn", "node", "spa", "")
            .replace("Timeout: 5", "Timeout: 30")
            .replace("MemorySize: 128", "MemorySize: 2048")
            + &distribution(OPTIMIZED, &assoc("origin-request", "Fn"), "")),
        true,
    )
    .expect("origin trigger: 30 s, 2 GB");
    refused(
        function("Fn", "node", "spa", "").replace("Timeout: 5", "Timeout: 31")
            + &distribution(OPTIMIZED, &assoc("origin-response", "Fn"), ""),
        "31 Max allowed: 30",
    );
    refused(
        function("Fn", "node", "spa", "")
            .replace("Runtime: nodejs20.x", "Runtime: provided.al2023")
            + &distribution(OPTIMIZED, &assoc("viewer-request", "Fn"), ""),
        "runtime provided.al2023 is not supported",
    );
    refused(
        function("Fn", "node", "spa", "")
            + &distribution(
                OPTIMIZED,
                &(assoc("origin-response", "Fn") + "              IncludeBody: true\n"),
                "",
            ),
        "IncludeBody",
    );
    // No function runtime given to the edge.
    let e = deploy(&with_arn("!Ref Fn.Version"), false).expect_err("no invoker");
    assert!(e.contains("EdgeConfig::invoker"), "{e}");
    // An AWS::Lambda::Version resource.
    let with_version = function("Fn", "node", "spa", "")
        + r#"
  FnVersion:
    Type: AWS::Lambda::Version
    Properties:
      FunctionName: !Ref Fn
"#
        + &distribution(
            OPTIMIZED,
            "            - EventType: viewer-request\n              LambdaFunctionARN: !Ref FnVersion\n",
            "",
        );
    deploy(&with_version, true).expect("AWS::Lambda::Version accepted");
}
