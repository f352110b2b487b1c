//! Lambda@Edge through `ledge up`: a template whose distribution associates a Node.js
//! viewer-request function (SPA rewrite of `/app/*`, redirect of `/old`) and a Python
//! origin-response function (security headers), both through `AutoPublishAlias: live` and
//! `!Ref Fn.Version`. What a viewer sees (rewritten pages, the redirect, the headers,
//! `X-Cache`), origin-response once per miss (counted in the function's log), the version
//! and alias published at deploy and kept across a restart, `$LATEST` and aliases refused
//! with CloudFront's message (exit 2), and a code change published as a new version that
//! the association then uses; and `examples/site`'s Node.js security headers.

#![allow(clippy::unwrap_used)] // test code: a panic is the failure report

mod common;

use std::path::{Path, PathBuf};
use std::time::Duration;

use common::*;
use serde_json::Value as J;

const TEMPLATE: &str = r#"Transform: AWS::Serverless-2016-10-31
Resources:
  SiteBucket:
    Type: AWS::S3::Bucket
    Properties:
      BucketName: edge-test-site

  Rewrite:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: rewrite/
      Handler: index.handler
      Runtime: nodejs20.x
      MemorySize: 128
      Timeout: 5
      AutoPublishAlias: live

  Headers:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: headers/
      Handler: app.handler
      Runtime: python3.11
      MemorySize: 128
      Timeout: 5
      AutoPublishAlias: live
      VersionDescription: security headers

  Cdn:
    Type: AWS::CloudFront::Distribution
    Properties:
      DistributionConfig:
        Enabled: true
        DefaultRootObject: index.html
        Origins:
          - Id: site
            DomainName: !GetAtt SiteBucket.RegionalDomainName
            S3OriginConfig: {}
        DefaultCacheBehavior:
          TargetOriginId: site
          ViewerProtocolPolicy: allow-all
          CachePolicyId: 658327ea-f89d-4fab-a63d-7e88639e58f6 # Managed-CachingOptimized
          LambdaFunctionAssociations:
            - EventType: viewer-request
              LambdaFunctionARN: !Ref Rewrite.Version
            - EventType: origin-response
              LambdaFunctionARN: !Ref Headers.Version
"#;

/// The AWS guide's SPA rewrite, plus a redirect generated at viewer-request.
const REWRITE_JS: &str = r#"'use strict';
exports.handler = async (event) => {
  const request = event.Records[0].cf.request;
  if (request.uri === '/old') {
    return {
      status: '301',
      statusDescription: 'Moved Permanently',
      headers: { location: [{ key: 'Location', value: '/new' }] },
    };
  }
  if (request.uri.startsWith('/app/')) {
    request.uri = '/index.html';
  }
  return request;
};
"#;

/// The AWS guide's security headers at origin-response; `REVISION` tells versions apart.
fn headers_py(revision: u32) -> String {
    format!(
        r#"REVISION = "{revision}"


def handler(event, context):
    cf = event["Records"][0]["cf"]
    response = cf["response"]
    print("origin-response " + cf["request"]["uri"] + " " + response["status"])
    h = response["headers"]
    h["strict-transport-security"] = [{{"key": "Strict-Transport-Security", "value": "max-age=63072000; includeSubdomains; preload"}}]
    h["x-content-type-options"] = [{{"key": "X-Content-Type-Options", "value": "nosniff"}}]
    h["x-frame-options"] = [{{"key": "X-Frame-Options", "value": "DENY"}}]
    h["referrer-policy"] = [{{"key": "Referrer-Policy", "value": "same-origin"}}]
    h["x-headers-revision"] = [{{"key": "X-Headers-Revision", "value": REVISION}}]
    return response
"#
    )
}

/// `ROOT/app` holds the template, `ledge.toml`, the bucket folder and the functions; the
/// state dir and ledge's standard error stay outside it.
fn app(template: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let headers = headers_py(1);
    write_tree(
        &dir.path().join("app"),
        &[
            ("template.yaml", template),
            (
                "ledge.toml",
                "[edge]\nhome = \"FRA\"\n[edge.buckets]\nedge-test-site = \"static\"\n",
            ),
            ("static/index.html", "<h1>the app</h1>\n"),
            ("static/page.html", "<p>a page</p>\n"),
            ("rewrite/index.js", REWRITE_JS),
            ("headers/app.py", &headers),
        ],
    );
    dir
}

type Ledge = AppUp;

fn start(dir: &Path, extra: &[&str]) -> Ledge {
    up_app(dir, extra, false)
}

impl AppUp {
    fn pop(&self, code: &str) -> String {
        self.up.ready["distributions"]["Cdn"]["pops"][code]
            .as_str()
            .unwrap()
            .to_owned()
    }

    /// A Lambda API GET, as JSON.
    fn lambda(&self, path: &str) -> J {
        let r = reqwest::blocking::get(format!("{}/2015-03-31/functions/{path}", self.endpoint()))
            .unwrap();
        assert_eq!(r.status().as_u16(), 200, "GET {path}");
        r.json().unwrap()
    }

    /// The version the alias `live` of `function` points to.
    fn live(&self, function: &str) -> String {
        self.lambda(&format!("{function}/aliases/live"))["FunctionVersion"]
            .as_str()
            .unwrap()
            .to_owned()
    }

    /// Published versions of `function` (numbers, without `$LATEST`).
    fn versions(&self, function: &str) -> Vec<String> {
        self.lambda(&format!("{function}/versions"))["Versions"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v["Version"].as_str().unwrap().to_owned())
            .filter(|v| v != "$LATEST")
            .collect()
    }

    /// Lines of `function`'s log (`logs/<function>.log` in the state dir) containing `needle`.
    fn log_count(&self, function: &str, needle: &str) -> usize {
        std::fs::read_to_string(self.dir.join(format!("state/logs/{function}.log")))
            .unwrap_or_default()
            .lines()
            .filter(|l| l.contains(needle))
            .count()
    }
}

struct Got {
    status: u16,
    x_cache: String,
    headers: reqwest::header::HeaderMap,
    body: String,
}

impl Got {
    fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
    }
}

fn get(url: &str) -> Got {
    let client = reqwest::blocking::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap();
    let r = client.get(url).send().unwrap();
    let headers = r.headers().clone();
    let x_cache = headers
        .get("x-cache")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    Got {
        status: r.status().as_u16(),
        x_cache,
        headers,
        body: r.text().unwrap(),
    }
}

fn assert_security_headers(g: &Got) {
    assert_eq!(
        g.header("strict-transport-security"),
        "max-age=63072000; includeSubdomains; preload"
    );
    assert_eq!(g.header("x-content-type-options"), "nosniff");
    assert_eq!(g.header("x-frame-options"), "DENY");
    assert_eq!(g.header("referrer-policy"), "same-origin");
}

#[test]
fn viewer_request_rewrites_and_redirects_origin_response_adds_headers_once_per_miss() {
    let dir = app(TEMPLATE);
    let s = start(dir.path(), &["--no-watch"]);
    let fra = s.pop("FRA");

    // Deploy published version 1 of each function and pointed `live` at it.
    for f in ["Rewrite", "Headers"] {
        assert_eq!(s.versions(f), ["1"], "{f}");
        assert_eq!(s.live(f), "1", "{f}");
    }
    assert_eq!(
        s.lambda("Headers/versions")["Versions"][1]["Description"],
        "security headers"
    );

    // SPA rewrite: every /app/* path is /index.html, one cache entry, one origin fetch.
    let g = get(&format!("{fra}/app/dashboard"));
    assert_eq!(
        (g.status, g.x_cache.as_str(), g.body.as_str()),
        (200, "Miss from cloudfront", "<h1>the app</h1>\n")
    );
    assert_security_headers(&g);
    assert_eq!(g.header("x-headers-revision"), "1");
    let g = get(&format!("{fra}/app/settings/profile"));
    assert_eq!(
        (g.status, g.x_cache.as_str(), g.body.as_str()),
        (200, "Hit from cloudfront", "<h1>the app</h1>\n")
    );
    assert_security_headers(&g); // origin-response's changes were cached

    // A redirect generated at viewer-request: never cached, no origin trigger.
    for _ in 0..2 {
        let g = get(&format!("{fra}/old"));
        assert_eq!(
            (g.status, g.x_cache.as_str(), g.header("location")),
            (301, "LambdaGeneratedResponse from cloudfront", "/new")
        );
        assert_eq!(g.header("strict-transport-security"), "");
    }

    // A plain page: Miss then Hit twice.
    let page = format!("{fra}/page.html");
    let g = get(&page);
    assert_eq!(
        (g.status, g.x_cache.as_str()),
        (200, "Miss from cloudfront")
    );
    assert_security_headers(&g);
    for _ in 0..2 {
        let g = get(&page);
        assert_eq!((g.status, g.x_cache.as_str()), (200, "Hit from cloudfront"));
        assert_security_headers(&g);
    }

    // origin-response ran once per miss: /index.html once, /page.html once, /old never.
    eventually(30, "the origin-response log lines", || {
        s.log_count("Headers", "origin-response /page.html 200") >= 1
    });
    assert_eq!(s.log_count("Headers", "origin-response /index.html 200"), 1);
    assert_eq!(s.log_count("Headers", "origin-response /page.html 200"), 1);
    assert_eq!(s.log_count("Headers", "origin-response /old"), 0);
    // viewer-request ran on every request: 2 + 2 + 3.
    eventually(30, "the viewer-request REPORT lines", || {
        s.log_count("Rewrite", "REPORT RequestId") == 7
    });
    // The same lines in the log group of the region that ran each invocation, named as
    // AWS names it: logs/lambda-edge/<region>/us-east-1.<function>.log.
    let regional = |function: &str, needle: &str| -> (usize, Vec<String>) {
        let root = s.dir.join("state/logs/lambda-edge");
        let mut regions = Vec::new();
        let mut n = 0;
        for e in std::fs::read_dir(&root).unwrap().flatten() {
            let file = e.path().join(format!("us-east-1.{function}.log"));
            if let Ok(text) = std::fs::read_to_string(&file) {
                regions.push(e.file_name().to_string_lossy().into_owned());
                n += text.lines().filter(|l| l.contains(needle)).count();
            }
        }
        (n, regions)
    };
    let (n, regions) = regional("Rewrite", "REPORT RequestId");
    assert_eq!(n, 7, "viewer-request REPORT lines in {regions:?}");
    assert!(
        regions.iter().all(|r| r.contains('-')),
        "region names: {regions:?}"
    );
    assert_eq!(regional("Headers", "origin-response /page.html 200").0, 1);
    s.stop();

    // A restart with nothing changed publishes nothing new: still version 1.
    let s = start(dir.path(), &["--no-watch"]);
    for f in ["Rewrite", "Headers"] {
        assert_eq!(s.versions(f), ["1"], "{f} after a restart");
        assert_eq!(s.live(f), "1", "{f} after a restart");
    }
    let g = get(&format!("{}/app/x", s.pop("IAD")));
    assert_eq!(
        (g.status, g.x_cache.as_str(), g.body.as_str()),
        (200, "Miss from cloudfront", "<h1>the app</h1>\n")
    );
    assert_security_headers(&g);
    s.stop();
}

#[test]
fn latest_and_aliases_are_refused_at_ledge_up_with_cloudfronts_message() {
    let arn = "arn:aws:lambda:us-east-1:123456789012:function:Rewrite";
    for (given, shown) in [
        (format!("{arn}:$LATEST"), format!("{arn}:$LATEST")),
        ("!Ref RewriteAliaslive".to_owned(), format!("{arn}:live")),
        ("!GetAtt Rewrite.Arn".to_owned(), arn.to_owned()),
    ] {
        let dir = app(&TEMPLATE.replace("!Ref Rewrite.Version", &given));
        let out = run(ledge()
            .arg("up")
            .arg(dir.path().join("app"))
            .arg("--state-dir")
            .arg(dir.path().join("state"))
            .args(["--no-watch", "--quiet"]));
        let err = text(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{given}: {err}");
        assert!(
            err.contains(&format!(
                "Cdn: DistributionConfig.DefaultCacheBehavior.LambdaFunctionAssociations[0].LambdaFunctionARN: InvalidLambdaFunctionAssociation: The function ARN must reference a specific function version. (The ARN must end with the version number.) ARN: {shown}\n"
            )),
            "{given}: {err}"
        );
    }
}

#[test]
fn a_code_change_publishes_a_new_version_and_the_association_uses_it() {
    let dir = app(TEMPLATE);
    let s = start(dir.path(), &[]);
    let page = format!("{}/page.html", s.pop("FRA"));
    let g = get(&page);
    assert_eq!(g.x_cache, "Miss from cloudfront");
    assert_eq!(g.header("x-headers-revision"), "1");
    assert_eq!(get(&page).x_cache, "Hit from cloudfront");

    std::fs::write(dir.path().join("app/headers/app.py"), headers_py(2)).unwrap();
    eventually(
        60,
        "version 2 of Headers and the redeployed distribution",
        || {
            let e = s.stderr();
            e.contains("Headers: published version 2, alias live points to it")
                && e.contains("Cdn: distribution redeployed")
        },
    );
    assert_eq!(s.versions("Headers"), ["1", "2"]);
    assert_eq!(s.live("Headers"), "2");
    assert_eq!(
        s.versions("Rewrite"),
        ["1"],
        "unchanged code, no new version"
    );
    assert_eq!(s.live("Rewrite"), "1");
    assert!(
        !s.stderr().contains("Rewrite: published version"),
        "{}",
        s.stderr()
    );

    // The association now names version 2: the new headers, fetched again.
    let g = get(&page);
    assert_eq!(
        (g.status, g.x_cache.as_str()),
        (200, "Miss from cloudfront")
    );
    assert_eq!(g.header("x-headers-revision"), "2");
    assert_security_headers(&g);
    let g = get(&page);
    assert_eq!(g.x_cache, "Hit from cloudfront");
    assert_eq!(g.header("x-headers-revision"), "2");

    s.stop();
}

#[test]
fn the_site_example_adds_security_headers_at_origin_response() {
    let dir = tempfile::tempdir().unwrap();
    let example = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../examples/site");
    copy_tree(&example, &dir.path().join("app"));
    let s = start(dir.path(), &["--no-watch"]);
    assert_eq!(s.live("SecurityHeaders"), "1");
    let fra = s.up.ready["distributions"]["SiteDistribution"]["pops"]["FRA"]
        .as_str()
        .unwrap()
        .to_owned();
    for (i, want) in ["Miss from cloudfront", "Hit from cloudfront"]
        .into_iter()
        .enumerate()
    {
        let g = get(&format!("{fra}/site.css"));
        assert_eq!((g.status, g.x_cache.as_str()), (200, want), "request {i}");
        assert_security_headers(&g);
        assert!(
            g.header("content-security-policy")
                .starts_with("default-src 'self'"),
            "{:?}",
            g.headers
        );
    }
    // The API behaviour has no association: its responses are the function's own.
    let g = get(&format!("{fra}/api/hello?name=edge"));
    assert_eq!(g.status, 200, "{}", g.body);
    assert_eq!(g.header("strict-transport-security"), "");
    eventually(30, "the function's REPORT line", || {
        s.log_count("SecurityHeaders", "REPORT RequestId") >= 1
    });
    assert_eq!(s.log_count("SecurityHeaders", "REPORT RequestId"), 1);
    s.stop();
}
