//! The cache's hot paths: a 1 KiB hit from the in-process store (inherent and through the
//! trait object), key building, and what coalescing adds to a miss.
//!
//! Run with `cargo bench -p ledge-cache --bench hit_path`. Numbers from a shared 2-core
//! machine are noisy: compare runs, never gate CI on them.

use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use bytes::Bytes;
use criterion::{criterion_group, criterion_main, Criterion};
use ledge_cache::{get_or_fill, CacheKey, CacheStore, CachedResponse, Coalescer, MemoryStore};

fn entry(now: SystemTime) -> CachedResponse {
    CachedResponse::new(
        200,
        vec![
            (
                "content-type".into(),
                Bytes::from_static(b"application/json"),
            ),
            ("x-custom".into(), Bytes::from_static(b"value")),
        ],
        Bytes::from(vec![b'x'; 1024]),
        now,
        Duration::from_secs(300),
    )
}

fn key() -> CacheKey {
    CacheKey::builder("prod")
        .part("a1b2c3")
        .part("GET")
        .part("method.request.path.id=42")
        .build()
}

fn hit_path(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let now = SystemTime::now();
    let store = Arc::new(MemoryStore::new(64 * 1024 * 1024));
    // A realistic population: the hit is for one key among 10,000.
    rt.block_on(async {
        for i in 0..10_000 {
            let k = CacheKey::new("prod", ["a1b2c3", "GET", &format!("id={i}")]);
            store.put(&k, entry(now)).await;
        }
        store.put(&key(), entry(now)).await;
        store.run_pending_tasks().await;
    });
    let k = key();
    let dyn_store: Arc<dyn CacheStore> = store.clone();
    let coalescer: Coalescer = Coalescer::default();
    let filled = Arc::new(entry(now));

    let mut g = c.benchmark_group("cache");
    g.bench_function("memory_get_hit_1KiB", |b| {
        b.to_async(&rt).iter_custom(|iters| {
            let (store, k) = (store.clone(), k.clone());
            async move {
                let start = Instant::now();
                for _ in 0..iters {
                    black_box(store.lookup(black_box(&k), now).await);
                }
                start.elapsed()
            }
        })
    });
    g.bench_function("memory_get_hit_1KiB_dyn", |b| {
        b.to_async(&rt).iter_custom(|iters| {
            let (store, k) = (dyn_store.clone(), k.clone());
            async move {
                let start = Instant::now();
                for _ in 0..iters {
                    black_box(store.get(black_box(&k), now).await);
                }
                start.elapsed()
            }
        })
    });
    g.bench_function("key_build_4_parts", |b| b.iter(|| black_box(key())));
    g.bench_function("key_build_and_hit", |b| {
        b.to_async(&rt).iter_custom(|iters| {
            let store = store.clone();
            async move {
                let start = Instant::now();
                for _ in 0..iters {
                    black_box(store.lookup(&key(), now).await);
                }
                start.elapsed()
            }
        })
    });
    g.bench_function("get_or_fill_hit", |b| {
        b.to_async(&rt).iter_custom(|iters| {
            let (store, k) = (dyn_store.clone(), k.clone());
            let coalescer = &coalescer;
            async move {
                let start = Instant::now();
                for _ in 0..iters {
                    let lookup = get_or_fill(&*store, coalescer, &k, now, || async {
                        Err::<CachedResponse, ()>(())
                    })
                    .await;
                    black_box(lookup.ok());
                }
                start.elapsed()
            }
        })
    });
    // Coalescer overhead: an uncontended run around a fill that returns at once, against
    // calling the fill directly.
    g.bench_function("fill_direct", |b| {
        b.to_async(&rt).iter_custom(|iters| {
            let filled = filled.clone();
            async move {
                let start = Instant::now();
                for _ in 0..iters {
                    let fill = || async { Ok::<_, ()>(filled.clone()) };
                    black_box(fill().await.ok());
                }
                start.elapsed()
            }
        })
    });
    g.bench_function("fill_through_coalescer", |b| {
        b.to_async(&rt).iter_custom(|iters| {
            let (filled, k) = (filled.clone(), k.clone());
            let coalescer = &coalescer;
            async move {
                let start = Instant::now();
                for _ in 0..iters {
                    let got = coalescer
                        .run(&k, || async { Ok::<_, ()>(filled.clone()) })
                        .await;
                    black_box(got.ok());
                }
                start.elapsed()
            }
        })
    });
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    targets = hit_path
}
criterion_main!(benches);
