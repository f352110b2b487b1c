//! One tier's storage: a moka cache bounded by bytes (TinyLFU admission, LRU eviction),
//! holding entries whose bodies may still be filling.

use std::sync::Arc;

use http::HeaderMap;

use crate::body::SharedBody;
use crate::invalidation::PathMatcher;
use crate::ttl::Lifetime;

/// A cached response.
#[derive(Debug)]
pub(crate) struct Entry {
    pub(crate) status: u16,
    pub(crate) headers: HeaderMap,
    pub(crate) body: Arc<SharedBody>,
    pub(crate) life: Lifetime,
    pub(crate) invalidation_path: String,
    /// Whether waiting requests may share this response (§1.11).
    pub(crate) collapsible: bool,
    /// Whether tiers keep it.
    pub(crate) storable: bool,
}

impl Entry {
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    fn weight(&self) -> u32 {
        let headers: usize = self
            .headers
            .iter()
            .map(|(n, v)| n.as_str().len() + v.len() + 4)
            .sum();
        u32::try_from(self.body.len() + headers + self.invalidation_path.len() + 128)
            .unwrap_or(u32::MAX)
    }
}

/// One tier's cache.
#[derive(Clone)]
pub(crate) struct TierStore {
    cache: moka::sync::Cache<String, Arc<Entry>>,
}

impl std::fmt::Debug for TierStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TierStore")
            .field("entries", &self.cache.entry_count())
            .finish()
    }
}

impl TierStore {
    pub(crate) fn new(capacity_bytes: u64) -> Self {
        Self {
            cache: moka::sync::Cache::builder()
                .max_capacity(capacity_bytes)
                .weigher(|_k: &String, e: &Arc<Entry>| e.weight())
                .support_invalidation_closures()
                .build(),
        }
    }

    pub(crate) fn get(&self, key: &str) -> Option<Arc<Entry>> {
        self.cache.get(key)
    }

    /// Stores `entry`; while its body fills it is stored at its current weight, then again
    /// at its full weight — or removed if the body is cut short.
    pub(crate) fn insert(&self, key: String, entry: Arc<Entry>) {
        // A body that already failed is never stored (one still filling is removed by the
        // task below if it fails).
        if !entry.storable || entry.body.state() == Some(false) {
            return;
        }
        self.cache.insert(key.clone(), Arc::clone(&entry));
        if entry.body.state().is_none() {
            let cache = self.cache.clone();
            tokio::spawn(async move {
                let ok = entry.body.finished().await;
                let current = cache.get(&key);
                if current.as_ref().is_some_and(|c| Arc::ptr_eq(c, &entry)) {
                    if ok {
                        cache.insert(key, entry);
                    } else {
                        cache.invalidate(&key);
                    }
                }
            });
        }
    }

    /// Removes every entry an invalidation batch names; returns how many there were.
    pub(crate) fn invalidate(&self, matchers: &[PathMatcher]) -> u64 {
        let matchers: Vec<PathMatcher> = matchers.to_vec();
        let count = self
            .cache
            .iter()
            .filter(|(_, e)| matchers.iter().any(|m| m.matches(&e.invalidation_path)))
            .count() as u64;
        // Entries present now are never returned again, however lazily moka drops them.
        let _ = self.cache.invalidate_entries_if(move |_, e| {
            matchers.iter().any(|m| m.matches(&e.invalidation_path))
        });
        count
    }

    pub(crate) fn clear(&self) {
        self.cache.invalidate_all();
    }
}
