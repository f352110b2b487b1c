//! Hit and miss counts per stage and per method, as a user reads them after traffic.
#![allow(clippy::unwrap_used)] // test code: a panic is the failure report

mod common;

use std::sync::Arc;
use std::time::Duration;

use ledge_cache::{get_or_fill, CacheKey, CacheMetrics, CacheOutcome, Coalescer, MemoryStore};

use common::{response, t0};

#[tokio::test]
async fn hits_and_misses_are_counted_per_stage_and_method() {
    let store = MemoryStore::new(1024 * 1024);
    let coalescer = Coalescer::default();
    let metrics = CacheMetrics::default();
    let get_pets = metrics.method("prod", "/pets/GET");
    let get_pet = metrics.method("prod", "/pets/{id}/GET");
    let beta_pets = metrics.method("beta", "/pets/GET");

    let serve = async |stage: &str, path: &str, m: &ledge_cache::MethodMetrics, secs: u64| {
        let key = CacheKey::new(stage, [path, "GET"]);
        let now = t0() + Duration::from_secs(secs);
        let lookup = get_or_fill(&store, &coalescer, &key, now, || async {
            Ok::<_, ()>(response("x", now, 300))
        })
        .await
        .unwrap();
        m.record(lookup.outcome);
        lookup.outcome
    };
    assert_eq!(
        serve("prod", "/pets", &get_pets, 0).await,
        CacheOutcome::Miss
    );
    assert_eq!(
        serve("prod", "/pets", &get_pets, 1).await,
        CacheOutcome::Hit
    );
    assert_eq!(
        serve("prod", "/pets", &get_pets, 2).await,
        CacheOutcome::Hit
    );
    assert_eq!(
        serve("prod", "/pets", &get_pets, 301).await,
        CacheOutcome::Miss
    ); // expired
    assert_eq!(
        serve("prod", "/pets/1", &get_pet, 0).await,
        CacheOutcome::Miss
    );
    assert_eq!(
        serve("beta", "/pets", &beta_pets, 0).await,
        CacheOutcome::Miss
    );
    metrics.record("beta", "/pets/GET", CacheOutcome::Hit); // by name

    let snap = metrics.snapshot();
    let prod = snap.stage("prod").unwrap();
    assert_eq!((prod.hits, prod.misses), (2, 3));
    let pets = prod.method("/pets/GET").unwrap();
    assert_eq!((pets.hits, pets.misses), (2, 2));
    let pet = prod.method("/pets/{id}/GET").unwrap();
    assert_eq!((pet.hits, pet.misses), (0, 1));
    let beta = snap.stage("beta").unwrap();
    assert_eq!((beta.hits, beta.misses), (1, 1));
    assert_eq!(
        snap.stages
            .iter()
            .map(|s| s.stage.as_str())
            .collect::<Vec<_>>(),
        ["beta", "prod"]
    );
}

#[test]
fn concurrent_counting_loses_nothing() {
    let metrics = Arc::new(CacheMetrics::default());
    let threads: Vec<_> = (0..4)
        .map(|i| {
            let m = metrics.method("prod", if i % 2 == 0 { "/a/GET" } else { "/b/GET" });
            std::thread::spawn(move || {
                for n in 0..10_000 {
                    m.record(if n % 4 == 0 {
                        CacheOutcome::Miss
                    } else {
                        CacheOutcome::Hit
                    });
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    let snap = metrics.snapshot();
    let prod = snap.stage("prod").unwrap();
    assert_eq!((prod.hits, prod.misses), (30_000, 10_000));
    assert_eq!(prod.method("/a/GET").unwrap().hits, 15_000);
    assert_eq!(prod.method("/b/GET").unwrap().misses, 5_000);
}
