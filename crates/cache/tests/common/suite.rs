//! The behavioural suite every `CacheStore` must pass, written once and run against the
//! in-process store and the Redis store (see `store_suite!`).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use ledge_cache::{
    get_or_fill, CacheKey, CacheOutcome, CacheStore, CachedResponse, Coalescer, FillRole,
    NotStoredReason, MAX_ENTRY_BYTES,
};

use super::{response, t0};

fn key(stage: &str, parts: &[&str]) -> CacheKey {
    CacheKey::new(stage, parts)
}

pub async fn miss_then_hit_returns_what_was_stored(store: Arc<dyn CacheStore>) {
    let k = key("prod", &["res-1", "GET"]);
    assert!(store.get(&k, t0()).await.is_none(), "cold key must miss");
    let mut stored = response("{\"pets\":[1,2]}", t0(), 300);
    stored.status = 429; // non-2xx responses are cached as they are
    stored
        .headers
        .push(("set-cookie".into(), Bytes::from_static(b"a=1")));
    stored
        .headers
        .push(("set-cookie".into(), Bytes::from_static(b"b=2")));
    store.put(&k, stored.clone()).await;
    let hit = store.get(&k, t0()).await.expect("hit after put");
    assert_eq!(*hit, stored);
}

pub async fn entries_expire_at_their_ttl(store: Arc<dyn CacheStore>) {
    let k = key("prod", &["res-1", "GET"]);
    store.put(&k, response("a", t0(), 300)).await;
    let at = |secs: u64| t0() + Duration::from_secs(secs);
    assert!(store.get(&k, at(0)).await.is_some());
    assert!(store.get(&k, at(299)).await.is_some());
    assert!(
        store
            .get(&k, at(300) - Duration::from_millis(1))
            .await
            .is_some(),
        "fresh until the last millisecond"
    );
    assert!(
        store.get(&k, at(300)).await.is_none(),
        "stale at stored_at + ttl"
    );
    assert!(store.get(&k, at(3600)).await.is_none());
    // A clock that stepped back still serves it.
    assert!(store.get(&k, t0() - Duration::from_secs(5)).await.is_some());
}

pub async fn ttl_zero_is_not_stored(store: Arc<dyn CacheStore>) {
    let k = key("prod", &["res-1", "GET"]);
    store.put(&k, response("a", t0(), 0)).await;
    assert!(store.get(&k, t0()).await.is_none());
}

pub async fn a_newer_store_replaces_the_entry(store: Arc<dyn CacheStore>) {
    let k = key("prod", &["res-1", "GET"]);
    store.put(&k, response("old", t0(), 300)).await;
    let later = t0() + Duration::from_secs(200);
    store.put(&k, response("new", later, 300)).await;
    let hit = store.get(&k, later).await.expect("hit");
    assert_eq!(hit.body, "new");
    // The new entry's TTL counts from its own stored_at.
    assert!(store
        .get(&k, t0() + Duration::from_secs(400))
        .await
        .is_some());
}

pub async fn keys_differ_by_every_part(store: Arc<dyn CacheStore>) {
    let keys = [
        key("prod", &["res-1", "GET", "type=a"]),
        key("prod", &["res-1", "GET", "type=b"]),
        key("prod", &["res-1", "POST", "type=a"]),
        key("prod", &["res-2", "GET", "type=a"]),
        key("beta", &["res-1", "GET", "type=a"]),
        key("prod", &["res-1", "GETtype=a"]),
    ];
    for (i, k) in keys.iter().enumerate() {
        store
            .put(k, response(&format!("body-{i}"), t0(), 300))
            .await;
    }
    for (i, k) in keys.iter().enumerate() {
        let hit = store.get(k, t0()).await.expect("hit");
        assert_eq!(hit.body, format!("body-{i}"), "key {k}");
    }
}

pub async fn flush_empties_one_stage_only(store: Arc<dyn CacheStore>) {
    let prod = [key("prod", &["a", "GET"]), key("prod", &["b", "GET"])];
    let beta = key("beta", &["a", "GET"]);
    for k in prod.iter().chain([&beta]) {
        store.put(k, response("x", t0(), 300)).await;
    }
    store.flush("prod").await.expect("flush");
    for k in &prod {
        assert!(store.get(k, t0()).await.is_none(), "{k} must be flushed");
    }
    assert!(
        store.get(&beta, t0()).await.is_some(),
        "beta is another stage"
    );
    // The cache builds up again after a flush.
    store.put(&prod[0], response("y", t0(), 300)).await;
    assert_eq!(store.get(&prod[0], t0()).await.expect("refilled").body, "y");
    // Flushing twice, or a stage that never stored anything, is fine.
    store.flush("prod").await.expect("flush again");
    store.flush("never-used").await.expect("flush unused stage");
    assert!(store.get(&prod[0], t0()).await.is_none());
}

pub async fn purge_removes_keys_under_a_prefix(store: Arc<dyn CacheStore>) {
    let a1 = key("prod", &["ns-a", "GET", "id=1"]);
    let a2 = key("prod", &["ns-a", "POST", "id=1"]);
    let b1 = key("prod", &["ns-b", "GET", "id=1"]);
    let other_stage = key("beta", &["ns-a", "GET", "id=1"]);
    for k in [&a1, &a2, &b1, &other_stage] {
        store.put(k, response("x", t0(), 300)).await;
    }
    store.purge(&key("prod", &["ns-a"])).await.expect("purge");
    assert!(store.get(&a1, t0()).await.is_none());
    assert!(store.get(&a2, t0()).await.is_none());
    assert!(store.get(&b1, t0()).await.is_some());
    assert!(store.get(&other_stage, t0()).await.is_some());
    // An entry stored after the purge is kept.
    store.put(&a1, response("y", t0(), 300)).await;
    assert!(store.get(&a1, t0()).await.is_some());
    // A prefix of the stage alone purges the whole stage.
    store.purge(&key("prod", &[])).await.expect("purge stage");
    assert!(store.get(&a1, t0()).await.is_none());
    assert!(store.get(&b1, t0()).await.is_none());
    assert!(store.get(&other_stage, t0()).await.is_some());
}

pub async fn over_one_mib_is_served_but_not_stored(store: Arc<dyn CacheStore>) {
    let coalescer = Coalescer::default();
    let fills = AtomicUsize::new(0);
    for (name, size, stored) in [
        ("exactly-1MiB", MAX_ENTRY_BYTES, true),
        ("1MiB-plus-1", MAX_ENTRY_BYTES + 1, false),
    ] {
        let k = key("prod", &[name, "GET"]);
        fills.store(0, Ordering::SeqCst);
        for _ in 0..2 {
            let lookup = get_or_fill(&*store, &coalescer, &k, t0(), || async {
                fills.fetch_add(1, Ordering::SeqCst);
                let mut r = response("", t0(), 300);
                r.body = Bytes::from(vec![b'x'; size]);
                Ok::<_, std::convert::Infallible>(r)
            })
            .await
            .expect("infallible");
            assert_eq!(lookup.response.body.len(), size, "{name} is always served");
        }
        let expected_fills = if stored { 1 } else { 2 };
        assert_eq!(fills.load(Ordering::SeqCst), expected_fills, "{name}");
        let again = get_or_fill(&*store, &coalescer, &k, t0(), || async {
            let mut r = response("", t0(), 300);
            r.body = Bytes::from(vec![b'x'; size]);
            Ok::<_, std::convert::Infallible>(r)
        })
        .await
        .expect("infallible");
        if stored {
            assert_eq!(again.outcome, CacheOutcome::Hit);
        } else {
            assert_eq!(again.outcome, CacheOutcome::Miss);
            assert_eq!(again.not_stored, Some(NotStoredReason::TooLarge));
        }
    }
}

/// 100 concurrent requests for a cold key: exactly one fill, everyone gets its response,
/// and the next request is a hit.
pub async fn hundred_concurrent_misses_fill_once(store: Arc<dyn CacheStore>) {
    let coalescer = Arc::new(Coalescer::default());
    let k = key("prod", &["res-1", "GET"]);
    let fills = Arc::new(AtomicUsize::new(0));
    let mut tasks = Vec::new();
    for _ in 0..100 {
        let (store, coalescer, k, fills) = (
            Arc::clone(&store),
            Arc::clone(&coalescer),
            k.clone(),
            Arc::clone(&fills),
        );
        tasks.push(tokio::spawn(async move {
            let waiter_view = Arc::clone(&coalescer);
            let watched = k.clone();
            get_or_fill(&*store, &coalescer, &k, t0(), || async move {
                fills.fetch_add(1, Ordering::SeqCst);
                // Hold the fill until the 99 others are waiting for it (bounded).
                let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
                while waiter_view.waiting(&watched) < 99 && tokio::time::Instant::now() < deadline {
                    tokio::time::sleep(Duration::from_millis(1)).await;
                }
                Ok::<_, std::convert::Infallible>(response("filled once", t0(), 300))
            })
            .await
            .expect("infallible")
        }));
    }
    let mut leaders = 0;
    let mut followers = 0;
    for task in tasks {
        let lookup = task.await.expect("task");
        assert_eq!(lookup.response.body, "filled once");
        assert_eq!(lookup.outcome, CacheOutcome::Miss);
        match lookup.role {
            Some(FillRole::Leader) => leaders += 1,
            Some(FillRole::Follower) => followers += 1,
            other => panic!("unexpected role {other:?}"),
        }
    }
    assert_eq!(fills.load(Ordering::SeqCst), 1, "exactly one fill");
    assert_eq!((leaders, followers), (1, 99));
    let stats = coalescer.stats();
    assert_eq!((stats.fills, stats.followers, stats.timeouts), (1, 99, 0));
    assert_eq!(coalescer.in_flight(), 0);
    let next = get_or_fill(&*store, &coalescer, &k, t0(), || async {
        Err::<CachedResponse, _>("must not fill")
    })
    .await
    .expect("hit without filling");
    assert_eq!(next.outcome, CacheOutcome::Hit);
}

pub async fn stats_count_entries_and_bytes(store: Arc<dyn CacheStore>) {
    let before = store.stats().await.expect("stats");
    assert_eq!(before.entries, 0);
    for i in 0..3 {
        let mut r = response("", t0(), 300);
        r.body = Bytes::from(vec![b'x'; 1000]);
        store.put(&key("prod", &[&format!("r{i}")]), r).await;
    }
    let after = store.stats().await.expect("stats");
    assert_eq!(after.entries, 3);
    assert!(after.bytes >= 3000, "{after:?}");
    assert!(after.bytes < 3 * 2000, "{after:?}");
}

/// Instantiates the suite for a store. `$make` is an async expression returning
/// `(Arc<dyn CacheStore>, guard)`; the guard (e.g. a redis-server) lives for the test.
#[macro_export]
macro_rules! store_suite {
    ($make:expr) => {
        $crate::store_suite!(@tests $make;
            miss_then_hit_returns_what_was_stored,
            entries_expire_at_their_ttl,
            ttl_zero_is_not_stored,
            a_newer_store_replaces_the_entry,
            keys_differ_by_every_part,
            flush_empties_one_stage_only,
            purge_removes_keys_under_a_prefix,
            over_one_mib_is_served_but_not_stored,
            hundred_concurrent_misses_fill_once,
            stats_count_entries_and_bytes,
        );
    };
    (@tests $make:expr; $($name:ident,)*) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() {
                let (store, _guard) = $make.await;
                common::suite::$name(store).await;
            }
        )*
    };
}
