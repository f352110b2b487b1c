//! Lambda@Edge benchmark: what a warm viewer-request trigger adds to a cache hit.
//!
//! One distribution, one origin, three behaviours: `/plain/*` (no function), `/node/*`
//! (a Node.js viewer-request function that returns the request) and `/py/*` (the same in
//! Python). Every measured request is a POP cache hit; the requests alternate between the
//! behaviours so that machine noise hits all alike. Real runtime, real processes (cgroups
//! and the mount namespace when run as root), real HTTP over loopback with keep-alive.
//!
//! Run with `cargo bench -p ledge-edge --bench lambda_edge`. `BENCH_N` sets the number of
//! requests per behaviour (default 3000), `BENCH_MEMORY` the functions' memory (default
//! 128, the viewer-trigger quota). Results print as a Markdown table.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use http_body_util::Full;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use ledge_edge::{parse_distributions, start, EdgeConfig};
use ledge_model::Invoke;
use ledge_runtime::{Runtime, RuntimeConfig};
use tokio_util::sync::CancellationToken;

fn pct(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let idx = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[idx]
}

fn env_count(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

async fn origin() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr: SocketAddr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            tokio::spawn(async move {
                let svc = service_fn(|_req: http::Request<hyper::body::Incoming>| async {
                    Ok::<_, std::convert::Infallible>(
                        http::Response::builder()
                            .header("cache-control", "max-age=3600")
                            .header("content-type", "text/plain")
                            .body(Full::new(Bytes::from_static(b"hello from the origin")))
                            .expect("response"),
                    )
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), svc)
                    .await;
            });
        }
    });
    format!("http://{addr}")
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let n = env_count("BENCH_N", 3000);
    let memory = env_count("BENCH_MEMORY", 128);
    let dir = tempfile::tempdir().expect("tempdir");
    let node = dir.path().join("node");
    let py = dir.path().join("py");
    std::fs::create_dir_all(&node).expect("mkdir");
    std::fs::create_dir_all(&py).expect("mkdir");
    std::fs::write(
        node.join("index.js"),
        "exports.handler = async (event) => event.Records[0].cf.request;\n",
    )
    .expect("write");
    std::fs::write(
        py.join("app.py"),
        "def handler(event, context):\n    return event['Records'][0]['cf']['request']\n",
    )
    .expect("write");
    let yaml = format!(
        r#"Transform: AWS::Serverless-2016-10-31
Resources:
  NodeFn:
    Type: AWS::Serverless::Function
    Properties: {{CodeUri: node/, Handler: index.handler, Runtime: nodejs20.x, MemorySize: {memory}, Timeout: 5, AutoPublishAlias: live}}
  PyFn:
    Type: AWS::Serverless::Function
    Properties: {{CodeUri: py/, Handler: app.handler, Runtime: python3.11, MemorySize: {memory}, Timeout: 5, AutoPublishAlias: live}}
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
          CachePolicyId: 658327ea-f89d-4fab-a63d-7e88639e58f6
        CacheBehaviors:
          - PathPattern: /node/*
            TargetOriginId: a
            ViewerProtocolPolicy: allow-all
            CachePolicyId: 658327ea-f89d-4fab-a63d-7e88639e58f6
            LambdaFunctionAssociations:
              - {{EventType: viewer-request, LambdaFunctionARN: !Ref NodeFn.Version}}
          - PathPattern: /py/*
            TargetOriginId: a
            ViewerProtocolPolicy: allow-all
            CachePolicyId: 658327ea-f89d-4fab-a63d-7e88639e58f6
            LambdaFunctionAssociations:
              - {{EventType: viewer-request, LambdaFunctionARN: !Ref PyFn.Version}}
"#
    );
    let template = ledge_template::load_str(
        &yaml,
        dir.path(),
        "template.yaml",
        &ledge_template::LoadOptions::default(),
    )
    .expect("template");
    let rt = Arc::new(Runtime::new(RuntimeConfig::new(dir.path().join("state"))).expect("rt"));
    println!("# ledge Lambda@Edge benchmark\n\n{}\n", rt.sandbox_notice());
    for f in &template.functions {
        rt.deploy(f.clone()).await.expect("deploy");
        rt.publish_version(&f.name, None, None, None)
            .await
            .expect("publish");
    }
    let url = origin().await;
    let resolve = move |name: &str| (name == "origin-a").then(|| url.clone());
    let mut cfg = EdgeConfig {
        invoker: Some(rt.clone() as Arc<dyn Invoke>),
        ..EdgeConfig::default()
    };
    // Above 128 MB the viewer quota must be raised (it is configuration, §4.6).
    cfg.lambda_edge.viewer_memory_mb = cfg.lambda_edge.viewer_memory_mb.max(memory as u32);
    let specs = parse_distributions(&template, &resolve, &cfg).expect("parse");
    let cancel = CancellationToken::new();
    let edge = start(specs, cfg, cancel.clone()).await.expect("start");
    let pops: BTreeMap<String, String> = edge.distributions()[0].pops.iter().cloned().collect();
    let base = pops["FRA"].clone();
    let client = reqwest::Client::builder()
        .no_proxy()
        .build()
        .expect("client");
    let kinds = ["plain", "node", "py"];
    // Fill the cache and warm the functions.
    for _ in 0..300 {
        for k in kinds {
            let r = client
                .get(format!("{base}/{k}/x"))
                .send()
                .await
                .expect("get");
            assert_eq!(r.status(), 200);
            r.bytes().await.expect("body");
        }
    }
    let mut times: BTreeMap<&str, Vec<f64>> = kinds.iter().map(|k| (*k, Vec::new())).collect();
    for _ in 0..n {
        for k in kinds {
            let t = Instant::now();
            let r = client
                .get(format!("{base}/{k}/x"))
                .send()
                .await
                .expect("get");
            let hit = r
                .headers()
                .get("x-cache")
                .is_some_and(|v| v == "Hit from cloudfront");
            r.bytes().await.expect("body");
            let us = t.elapsed().as_secs_f64() * 1e6;
            assert!(hit, "{k}: every measured request is a hit");
            times.get_mut(k).expect("kind").push(us);
        }
    }
    for v in times.values_mut() {
        v.sort_by(|a, b| a.partial_cmp(b).expect("no NaN"));
    }
    let plain = &times["plain"];
    println!(
        "## Cache hit at a POP, {n} sequential requests per behaviour, functions at {memory} MB\n"
    );
    println!("| behaviour | p50 | p99 | p50 above no trigger | p99 above no trigger |");
    println!("|---|---|---|---|---|");
    for (k, label) in [
        ("plain", "no trigger"),
        ("node", "viewer-request, Node.js 20"),
        ("py", "viewer-request, Python 3.11"),
    ] {
        let v = &times[k];
        println!(
            "| {label} | {:.0} µs | {:.0} µs | {:+.0} µs | {:+.0} µs |",
            pct(v, 0.5),
            pct(v, 0.99),
            pct(v, 0.5) - pct(plain, 0.5),
            pct(v, 0.99) - pct(plain, 0.99),
        );
    }
    cancel.cancel();
    rt.shutdown().await;
}
