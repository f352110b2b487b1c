//! The in-process store: the shared behavioural suite, then what only moka does
//! (byte capacity, reclaiming flushed and expired entries).
#![allow(clippy::unwrap_used)] // test code: a panic is the failure report

mod common;

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use ledge_cache::{CacheKey, CacheStore, ClusterSize, MemoryStore, DEFAULT_MEMORY_CEILING_BYTES};

use common::{eventually, response, t0};

async fn memory() -> (Arc<dyn CacheStore>, ()) {
    (Arc::new(MemoryStore::new(64 * 1024 * 1024)), ())
}

store_suite!(memory());

fn body_of(size: usize) -> Bytes {
    Bytes::from(vec![b'x'; size])
}

#[tokio::test]
async fn byte_capacity_evicts_the_least_recently_used() {
    let store = MemoryStore::new(64 * 1024);
    let keys: Vec<CacheKey> = (0..64)
        .map(|i| CacheKey::new("prod", [format!("r{i}")]))
        .collect();
    for k in &keys {
        let mut r = response("", t0(), 300);
        r.body = body_of(4096);
        store.put(k, r).await;
        // Keep the first entry recently used: LRU must spare it.
        assert!(store.get(&keys[0], t0()).await.is_some());
        store.run_pending_tasks().await;
    }
    let stats = store.stats().await.unwrap();
    assert!(stats.bytes <= 64 * 1024, "over capacity: {stats:?}");
    assert!(stats.entries < 64 && stats.entries >= 10, "{stats:?}");
    assert!(store.get(&keys[63], t0()).await.is_some(), "newest kept");
    assert!(
        store.get(&keys[0], t0()).await.is_some(),
        "recently used kept"
    );
    assert!(
        store.get(&keys[1], t0()).await.is_none(),
        "least recently used evicted"
    );
}

#[tokio::test]
async fn cluster_sizes_set_the_capacity_up_to_the_ceiling() {
    assert_eq!(
        MemoryStore::for_cluster(ClusterSize::Gb0_5, u64::MAX).capacity(),
        500_000_000
    );
    assert_eq!(
        MemoryStore::for_cluster(ClusterSize::Gb237, DEFAULT_MEMORY_CEILING_BYTES).capacity(),
        512 * 1024 * 1024
    );
    let tiny = MemoryStore::for_cluster(ClusterSize::Gb6_1, 16 * 1024);
    for i in 0..16 {
        let mut r = response("", t0(), 300);
        r.body = body_of(4096);
        tiny.put(&CacheKey::new("prod", [format!("r{i}")]), r).await;
    }
    assert!(tiny.stats().await.unwrap().bytes <= 16 * 1024);
}

#[tokio::test]
async fn a_flush_frees_the_stage_memory() {
    let store = MemoryStore::new(64 * 1024 * 1024);
    for i in 0..50 {
        let k = CacheKey::new("prod", [format!("r{i}")]);
        store.put(&k, response("x", t0(), 300)).await;
    }
    let beta = CacheKey::new("beta", ["r0"]);
    store.put(&beta, response("x", t0(), 300)).await;
    assert_eq!(store.stats().await.unwrap().entries, 51);
    store.flush("prod").await.unwrap();
    assert!(
        eventually(Duration::from_secs(5), async || {
            store.stats().await.unwrap().entries == 1
        })
        .await,
        "flushed entries are reclaimed: {:?}",
        store.stats().await
    );
    assert!(store.get(&beta, t0()).await.is_some());
}

#[tokio::test]
async fn expired_entries_are_reclaimed_in_real_time() {
    // Freshness follows the injected clock; memory follows the real one.
    let store = MemoryStore::new(1024 * 1024);
    let mut r = response("x", SystemTime::now(), 0);
    r.ttl = Duration::from_millis(30);
    store.put(&CacheKey::new("prod", ["r"]), r).await;
    assert_eq!(store.stats().await.unwrap().entries, 1);
    assert!(
        eventually(Duration::from_secs(5), async || {
            store.stats().await.unwrap().entries == 0
        })
        .await
    );
}

#[tokio::test]
async fn a_hit_shares_the_stored_bytes() {
    let store = MemoryStore::new(1024 * 1024);
    let k = CacheKey::new("prod", ["r"]);
    store.put(&k, response("shared", t0(), 300)).await;
    let a = store.get(&k, t0()).await.unwrap();
    let b = store.get(&k, t0()).await.unwrap();
    assert!(Arc::ptr_eq(&a, &b), "hits are Arc clones, not copies");
}
