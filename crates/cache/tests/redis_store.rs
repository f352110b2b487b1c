//! The Redis store against a real redis-server: the shared behavioural suite, then
//! sharing across nodes, TTLs in Redis, and surviving a Redis restart.
#![allow(clippy::unwrap_used)] // test code: a panic is the failure report

mod common;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use ledge_cache::{
    get_or_fill, CacheError, CacheKey, CacheOutcome, CacheStore, Coalescer, RedisConfig, RedisStore,
};

use common::redis_server::RedisServer;
use common::{eventually, response, t0};

static NEXT: AtomicU64 = AtomicU64::new(0);

fn config(server: &RedisServer) -> RedisConfig {
    let mut config = RedisConfig::new(
        server.url(),
        format!("test-{}", NEXT.fetch_add(1, Ordering::Relaxed)),
    );
    // The suite stores 1 MiB bodies on a shared 2-core machine: be patient.
    config.op_timeout = Duration::from_secs(2);
    config
}

async fn redis() -> (Arc<dyn CacheStore>, RedisServer) {
    let server = RedisServer::start();
    let store = RedisStore::new(config(&server)).unwrap();
    (Arc::new(store), server)
}

store_suite!(redis());

#[tokio::test]
async fn two_nodes_share_entries_and_flushes() {
    let server = RedisServer::start();
    let cfg = config(&server);
    let node_a = RedisStore::new(cfg.clone()).unwrap();
    let node_b = RedisStore::new(cfg).unwrap();
    let k = CacheKey::new("prod", ["res-1", "GET"]);
    node_a.put(&k, response("from a", t0(), 300)).await;
    assert_eq!(node_b.get(&k, t0()).await.unwrap().body, "from a");
    node_b.flush("prod").await.unwrap();
    assert!(
        node_a.get(&k, t0()).await.is_none(),
        "a flush is seen by every node"
    );
    // Another cache name on the same server is another cache.
    let other = RedisStore::new(config(&server)).unwrap();
    node_a.put(&k, response("again", t0(), 300)).await;
    assert!(other.get(&k, t0()).await.is_none());
}

#[tokio::test]
async fn entries_carry_their_ttl_in_redis() {
    let server = RedisServer::start();
    let store = RedisStore::new(config(&server)).unwrap();
    store
        .put(&CacheKey::new("prod", ["long"]), response("x", t0(), 300))
        .await;
    let keys = server.raw(&["KEYS", "ledge:*"]);
    let entry = keys
        .lines()
        .find(|l| l.starts_with("ledge:"))
        .unwrap_or_else(|| panic!("no entry key in {keys:?}"));
    assert!(entry.contains(":0:"), "generation 0 in {entry}");
    let pttl: i64 = server
        .raw(&["PTTL", entry])
        .trim_start_matches(':')
        .trim()
        .parse()
        .unwrap();
    assert!((299_000..=300_000).contains(&pttl), "PTTL {pttl}");

    let mut short = response("y", t0(), 0);
    short.ttl = Duration::from_millis(50);
    let k = CacheKey::new("prod", ["short"]);
    store.put(&k, short).await;
    assert!(
        eventually(Duration::from_secs(5), async || {
            server.raw(&["DBSIZE"]).trim() == ":1" // only the long entry is left
        })
        .await,
        "Redis expires entries by their TTL"
    );
}

#[tokio::test]
async fn a_bad_url_is_a_configuration_error() {
    let err = RedisStore::new(RedisConfig::new("http://127.0.0.1:1/", "x")).unwrap_err();
    assert!(matches!(err, CacheError::RedisUrl { .. }), "{err}");
}

#[tokio::test]
async fn admin_operations_report_an_unreachable_redis() {
    let nothing = RedisServer::reserve();
    let store = RedisStore::new(config(&nothing)).unwrap();
    let err = store.flush("prod").await.unwrap_err();
    assert!(
        matches!(
            err,
            CacheError::Redis { op: "flush", .. } | CacheError::RedisTimeout { .. }
        ),
        "{err}"
    );
}

/// Redis goes away mid-test: every request still succeeds (as a miss, from the fill), the
/// failure is logged once, and hits come back by themselves once Redis is restarted. The
/// store is created before its server exists, so starting without Redis works too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redis_restart_loses_no_request() {
    let mut server = RedisServer::reserve();
    let mut cfg = config(&server);
    cfg.op_timeout = Duration::from_millis(200);
    cfg.retry_after = Duration::from_millis(50);
    let store = RedisStore::new(cfg).unwrap();
    let coalescer = Coalescer::default();
    let k = CacheKey::new("prod", ["res-1", "GET"]);
    let fills = AtomicU64::new(0);
    let request = async || {
        get_or_fill(&store, &coalescer, &k, t0(), || async {
            fills.fetch_add(1, Ordering::SeqCst);
            Ok::<_, std::convert::Infallible>(response("origin", t0(), 300))
        })
        .await
        .unwrap()
    };

    // Before Redis exists: misses, served.
    for _ in 0..5 {
        assert_eq!(request().await.response.body, "origin");
    }
    assert_eq!(fills.load(Ordering::SeqCst), 5);
    assert!(!store.health().available);

    server.restart();
    assert!(
        eventually(Duration::from_secs(10), async || {
            request().await.outcome == CacheOutcome::Hit
        })
        .await,
        "hits once Redis is up: {:?}",
        store.health()
    );

    // Redis dies mid-test: requests keep being served, as misses, until several failures
    // (one per `retry_after` window) have been counted.
    server.stop();
    let errors_before = store.health().errors;
    let fills_before = fills.load(Ordering::SeqCst);
    let mut served = 0;
    while store.health().errors < errors_before + 5 {
        assert!(
            served < 10_000,
            "failures are not being counted: {:?}",
            store.health()
        );
        let lookup = request().await;
        assert_eq!(lookup.response.body, "origin");
        assert_eq!(lookup.outcome, CacheOutcome::Miss);
        served += 1;
        tokio::time::sleep(Duration::from_millis(5)).await; // pace the requests
    }
    assert_eq!(
        fills.load(Ordering::SeqCst) - fills_before,
        served,
        "every request filled"
    );
    let health = store.health();
    assert!(!health.available);
    // Both outages fall within one 10 s interval: one log line in all.
    assert_eq!(
        health.logged, 1,
        "logged at most once per interval: {health:?}"
    );

    // Redis returns (empty): the store reconnects by itself and hits come back.
    server.restart();
    assert!(
        eventually(Duration::from_secs(10), async || {
            request().await.outcome == CacheOutcome::Hit
        })
        .await,
        "hits come back after the restart: {:?}",
        store.health()
    );
    assert!(store.health().available);
}
