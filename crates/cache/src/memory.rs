//! The in-process store: moka, byte-weighted, per-entry TTL, lock-free hits.

use std::collections::HashMap;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use arc_swap::ArcSwap;
use async_trait::async_trait;
use moka::future::Cache;
use moka::policy::EvictionPolicy;
use moka::Expiry;

use crate::capacity::ClusterSize;
use crate::entry::{storable, CachedResponse};
use crate::error::CacheError;
use crate::key::CacheKey;
use crate::store::{CacheStore, StoreStats};

/// A value in moka: the response and the generation of its stage when it was stored.
#[derive(Clone)]
struct Stored {
    response: Arc<CachedResponse>,
    generation: u64,
}

/// Per-stage generation counters. Reads are lock-free (an `ArcSwap` load and a map lookup);
/// a stage's first flush copies the map under a writer-only mutex.
#[derive(Default)]
pub(crate) struct Generations {
    map: ArcSwap<HashMap<Box<str>, Arc<AtomicU64>>>,
    writer: Mutex<()>,
}

impl Generations {
    pub(crate) fn current(&self, stage: &str) -> u64 {
        self.map
            .load()
            .get(stage)
            .map_or(0, |g| g.load(Ordering::Acquire))
    }

    /// Moves `stage` to its next generation and returns it.
    pub(crate) fn bump(&self, stage: &str) -> u64 {
        if let Some(g) = self.map.load().get(stage) {
            return g.fetch_add(1, Ordering::AcqRel) + 1;
        }
        let _writer = self.writer.lock().unwrap_or_else(|e| e.into_inner());
        let map = self.map.load_full();
        if let Some(g) = map.get(stage) {
            return g.fetch_add(1, Ordering::AcqRel) + 1;
        }
        let mut next = HashMap::clone(&map);
        next.insert(stage.into(), Arc::new(AtomicU64::new(1)));
        self.map.store(Arc::new(next));
        1
    }
}

/// Expires each entry after its own TTL (moka reclaims it; freshness is decided by `now`).
struct TtlExpiry;

impl Expiry<CacheKey, Stored> for TtlExpiry {
    fn expire_after_create(&self, _: &CacheKey, value: &Stored, _: Instant) -> Option<Duration> {
        Some(value.response.store_ttl())
    }

    fn expire_after_update(
        &self,
        _: &CacheKey,
        value: &Stored,
        _: Instant,
        _: Option<Duration>,
    ) -> Option<Duration> {
        Some(value.response.store_ttl())
    }
}

/// The in-process store: a moka cache weighed in bytes, with each entry's own TTL and LRU
/// eviction once the capacity is reached. One store per stage cache cluster mirrors API
/// Gateway (each stage has its own cluster); several stages may also share one.
///
/// Hits take no lock: moka's concurrent map, one `ArcSwap` load for the stage generation,
/// one `Arc` clone for the response.
///
/// Freshness follows the injected `now`; moka separately reclaims memory after each entry's
/// TTL of real time, so a store driven by a fake clock never serves an entry its clock calls
/// stale, and never keeps memory longer than the TTL.
pub struct MemoryStore {
    cache: Cache<CacheKey, Stored>,
    generations: Generations,
    capacity: u64,
}

impl fmt::Debug for MemoryStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MemoryStore")
            .field("capacity", &self.capacity)
            .field("entries", &self.cache.entry_count())
            .field("bytes", &self.cache.weighted_size())
            .finish()
    }
}

impl MemoryStore {
    /// A store holding at most `capacity_bytes` (as [`CachedResponse::weight`] plus the key
    /// counts them).
    pub fn new(capacity_bytes: u64) -> Self {
        let cache = Cache::builder()
            .max_capacity(capacity_bytes)
            .weigher(|key: &CacheKey, value: &Stored| {
                u32::try_from(key.weight() + value.response.weight()).unwrap_or(u32::MAX)
            })
            .expire_after(TtlExpiry)
            // API Gateway keeps what was stored last; TinyLFU admission could refuse a fresh
            // put when the cache is full.
            .eviction_policy(EvictionPolicy::lru())
            .support_invalidation_closures()
            .build();
        MemoryStore {
            cache,
            generations: Generations::default(),
            capacity: capacity_bytes,
        }
    }

    /// A store sized like an API Gateway cache cluster, bounded by `ceiling` bytes.
    pub fn for_cluster(size: ClusterSize, ceiling: u64) -> Self {
        Self::new(size.capacity(ceiling))
    }

    /// The capacity in bytes.
    pub fn capacity(&self) -> u64 {
        self.capacity
    }

    /// The hit path without the trait object (what the benchmark measures).
    pub async fn lookup(&self, key: &CacheKey, now: SystemTime) -> Option<Arc<CachedResponse>> {
        let stored = self.cache.get(key).await?;
        if stored.generation != self.generations.current(key.stage()) {
            return None;
        }
        if !stored.response.is_fresh(now) {
            return None;
        }
        Some(stored.response)
    }

    /// Runs moka's pending maintenance (evictions, expirations, flush reclamation) now
    /// instead of on later operations.
    pub async fn run_pending_tasks(&self) {
        self.cache.run_pending_tasks().await;
    }
}

#[async_trait]
impl CacheStore for MemoryStore {
    async fn get(&self, key: &CacheKey, now: SystemTime) -> Option<Arc<CachedResponse>> {
        self.lookup(key, now).await
    }

    async fn put(&self, key: &CacheKey, entry: CachedResponse) {
        if !storable(&entry) {
            return;
        }
        let generation = self.generations.current(key.stage());
        let stored = Stored {
            response: Arc::new(entry),
            generation,
        };
        self.cache.insert(key.clone(), stored).await;
    }

    async fn flush(&self, stage: &str) -> Result<(), CacheError> {
        let generation = self.generations.bump(stage);
        let stage: Box<str> = stage.into();
        // Entries of older generations are already invisible; this lets moka reclaim them
        // in the background.
        self.cache
            .invalidate_entries_if(move |key, value| {
                value.generation < generation && key.stage() == &*stage
            })
            .expect("invariant: the cache is built with support_invalidation_closures");
        Ok(())
    }

    async fn purge(&self, prefix: &CacheKey) -> Result<(), CacheError> {
        if prefix.parts().next().is_none() {
            return self.flush(prefix.stage()).await;
        }
        let prefix = prefix.clone();
        self.cache
            .invalidate_entries_if(move |key, _| key.starts_with(&prefix))
            .expect("invariant: the cache is built with support_invalidation_closures");
        Ok(())
    }

    async fn stats(&self) -> Result<StoreStats, CacheError> {
        self.cache.run_pending_tasks().await;
        Ok(StoreStats {
            entries: self.cache.entry_count(),
            bytes: self.cache.weighted_size(),
        })
    }
}
