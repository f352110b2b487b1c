//! The REST stage cache's hit path through `rest::handle` (no sockets): a GET whose 1 KiB
//! response is in the in-process store, with and without cache key parameters, and a
//! method without caching answered by a MOCK integration for comparison.
//!
//! Run with `cargo bench -p ledge-gateway --bench rest_hit`. Numbers from a shared 2-core
//! machine are noisy: compare runs, never gate CI on them. The end-to-end figure (wrk
//! against nginx proxy_cache) is `bench/rest_cache.sh`.

use std::collections::BTreeMap;
use std::hint::black_box;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use criterion::{criterion_group, criterion_main, Criterion};
use http_body_util::Full;
use ledge_gateway::rest::*;
use ledge_model::{Invoke, InvokeError, InvokeOutcome, InvokeRequest, InvokeResult, RequestId};

/// A function that answers a 1 KiB JSON body.
struct OneK;

#[async_trait::async_trait]
impl Invoke for OneK {
    async fn invoke(&self, _: InvokeRequest) -> Result<InvokeResult, InvokeError> {
        let body = format!("{{\"data\":\"{}\"}}", "x".repeat(1013));
        let payload = serde_json::json!({"statusCode": 200, "headers": {"Content-Type": "application/json"}, "body": body});
        Ok(InvokeResult {
            request_id: RequestId::new_random(),
            outcome: InvokeOutcome::Success {
                payload: Bytes::from(payload.to_string()),
            },
            executed_version: "$LATEST".into(),
            log: None,
            report: None,
        })
    }
}

fn method(m: &str, path: &str, integration: RestIntegration, keys: &[&str]) -> MethodSpec {
    MethodSpec {
        resource_path: path.into(),
        http_method: m.into(),
        auth: MethodAuth::None,
        api_key_required: false,
        request_parameters: keys
            .iter()
            .map(|k| ((*k).to_owned(), false))
            .collect::<BTreeMap<_, _>>(),
        integration,
        cache_key_parameters: keys.iter().map(|k| (*k).to_owned()).collect(),
        cache_namespace: None,
    }
}

fn hit(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let lambda = || RestIntegration::Lambda {
        function: "Fn".into(),
        timeout: Duration::from_secs(29),
    };
    let mut spec = RestApiSpec::new("Bench");
    spec.methods = vec![
        method("GET", "/1k.json", lambda(), &[]),
        method(
            "GET",
            "/items/{id}",
            lambda(),
            &["method.request.path.id", "method.request.querystring.lang"],
        ),
        method(
            "GET",
            "/mock",
            RestIntegration::Mock {
                status: 200,
                headers: vec![],
                body: "x".repeat(1024),
            },
            &[],
        ),
    ];
    spec.stages = vec![RestStageSpec {
        cache_cluster_enabled: true,
        method_settings: vec![{
            let mut s = MethodSetting::new("/mock", "GET");
            s.caching_enabled = Some(false);
            s
        }],
        ..RestStageSpec::new("bench")
    }];
    spec.derive_resources();
    let api = rt.block_on(async {
        RestApi::new(spec, Arc::new(OneK), RestOptions::default()).expect("compiles")
    });
    let remote: SocketAddr = "127.0.0.1:40000".parse().expect("addr");
    let req = |uri: &str| {
        http::Request::get(uri)
            .header("host", "127.0.0.1:8080")
            .header("user-agent", "wrk")
            .body(Full::new(Bytes::new()))
            .expect("request")
    };
    // Fill the entries once.
    rt.block_on(async {
        for uri in ["/bench/1k.json", "/bench/items/42?lang=fr"] {
            let r = handle(&api, req(uri), Some(remote)).await;
            assert_eq!(r.status(), 200);
        }
    });
    let mut g = c.benchmark_group("rest");
    g.bench_function("hit, no key parameters", |b| {
        b.iter(|| {
            rt.block_on(async {
                black_box(handle(&api, req("/bench/1k.json"), Some(remote)).await)
            })
        })
    });
    g.bench_function("hit, path + query key", |b| {
        b.iter(|| {
            rt.block_on(async {
                black_box(handle(&api, req("/bench/items/42?lang=fr"), Some(remote)).await)
            })
        })
    });
    g.bench_function("uncached MOCK", |b| {
        b.iter(|| {
            rt.block_on(async { black_box(handle(&api, req("/bench/mock"), Some(remote)).await) })
        })
    });
    g.finish();
    let snap = api.metrics().snapshot();
    let s = snap.stage("bench").expect("counted");
    assert!(s.hits > 0 && s.misses == 2, "{s:?}");
}

criterion_group!(benches, hit);
criterion_main!(benches);
