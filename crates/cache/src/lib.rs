//! The response cache behind API Gateway REST stage caching and, later, the CDN.
//!
//! This crate owns:
//! - [`CacheKey`]: ordered parts (stage first, then e.g. namespace, method, key parameters)
//!   encoded into a stable byte string and hash, with a readable form for logs and metrics;
//! - [`CachedResponse`]: status, headers, body, when it was stored and for how long, with a
//!   compact binary encoding (used by Redis) and the 1 MiB [`storable`] rule;
//! - [`CacheStore`]: the storage trait, with time injected (`now` is an argument), and its two
//!   implementations: [`MemoryStore`] (moka, byte-weighted, per-entry TTL, lock-free hits) and
//!   [`RedisStore`] (shared by several ledge nodes; a Redis failure is a miss, never an error
//!   for the request);
//! - [`Coalescer`] and [`get_or_fill`]: one fill per cold key however many requests wait;
//! - purge and whole-stage flush (a generation counter per stage, so a flush is O(1));
//! - [`CacheMetrics`]: hit and miss counters per stage and per method.
//!
//! It never knows routes, method settings or HTTP frameworks: which requests are cacheable,
//! which parameters go into a key and which TTL applies are the caller's policy (`gateway`,
//! `edge`). It depends on neither axum nor `runtime`.
#![warn(missing_docs)]
#![cfg_attr(not(test), warn(clippy::print_stdout, clippy::print_stderr))]

mod capacity;
mod clock;
mod coalesce;
mod entry;
mod error;
mod fill;
mod key;
mod memory;
mod metrics;
mod redis_store;
mod store;

pub use capacity::{ClusterSize, DEFAULT_MEMORY_CEILING_BYTES};
pub use clock::{Clock, ManualClock, SystemClock};
pub use coalesce::{Coalesced, Coalescer, CoalescerStats, FillRole, DEFAULT_COALESCE_WAIT};
pub use entry::{
    not_storable_reason, storable, CachedResponse, NotStoredReason, MAX_ENTRY_BYTES, MAX_STORE_TTL,
};
pub use error::CacheError;
pub use fill::{get_or_fill, Lookup};
pub use key::{CacheKey, CacheKeyBuilder};
pub use memory::MemoryStore;
pub use metrics::{
    CacheMetrics, CacheOutcome, MethodMetrics, MethodSnapshot, MetricsSnapshot, StageSnapshot,
};
pub use redis_store::{RedisConfig, RedisHealth, RedisStore};
pub use store::{CacheStore, StoreStats};
