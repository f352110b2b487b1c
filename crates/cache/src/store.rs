//! The storage trait both stores implement.

use std::sync::Arc;
use std::time::SystemTime;

use async_trait::async_trait;

use crate::entry::CachedResponse;
use crate::error::CacheError;
use crate::key::CacheKey;

/// What a store holds right now.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct StoreStats {
    /// Entries held (flushed or expired entries count until the store reclaims them).
    pub entries: u64,
    /// Bytes held, as the store weighs them (memory: body + headers + key + overhead;
    /// Redis: the encoded values).
    pub bytes: u64,
}

/// A response store. Time is injected: `now` decides freshness, so tests never sleep.
///
/// Lookups and stores are infallible by design: a store that cannot answer reports a miss
/// and drops the write (logging at most once per interval), so a broken cache never fails a
/// request. Administrative operations (flush, purge, stats) report errors to their caller.
#[async_trait]
pub trait CacheStore: Send + Sync + std::fmt::Debug {
    /// The entry for `key` if one is stored, was stored after the last flush of its stage,
    /// and is fresh at `now`.
    async fn get(&self, key: &CacheKey, now: SystemTime) -> Option<Arc<CachedResponse>>;

    /// Stores `entry` under `key` for `entry.ttl` (replacing any entry there). Entries that
    /// are not [`crate::storable`] (over 1 MiB, or TTL zero) are not stored.
    async fn put(&self, key: &CacheKey, entry: CachedResponse);

    /// Makes every entry of `stage` invisible at once (O(1): the stage's generation moves on)
    /// and lets the store reclaim their space.
    async fn flush(&self, stage: &str) -> Result<(), CacheError>;

    /// Removes every entry whose key starts with `prefix` (its stage, then whole leading
    /// parts). A prefix with no parts is a [`CacheStore::flush`] of its stage.
    async fn purge(&self, prefix: &CacheKey) -> Result<(), CacheError>;

    /// Entries and bytes held.
    async fn stats(&self) -> Result<StoreStats, CacheError>;
}
