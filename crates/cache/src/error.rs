//! The crate's error type.

use std::time::Duration;

/// What went wrong in a cache operation that reports errors (flush, purge, stats, setup).
/// Lookups and stores never fail a request: a broken store is a miss.
#[derive(Debug, thiserror::Error)]
pub enum CacheError {
    /// A cache cluster size API Gateway does not offer.
    #[error("invalid cache cluster size {value:?}: must be one of 0.5, 1.6, 6.1, 13.5, 28.4, 58.2, 118, 237")]
    InvalidClusterSize {
        /// The value given.
        value: String,
    },
    /// The Redis URL could not be used.
    #[error("invalid Redis URL {url:?}: {source}")]
    RedisUrl {
        /// The URL given (with any password left as given).
        url: String,
        /// Why the client rejected it.
        #[source]
        source: redis::RedisError,
    },
    /// A Redis command failed.
    #[error("Redis {op} for cache {cache:?} failed: {source}")]
    Redis {
        /// The operation (`get`, `put`, `flush`, `purge`, `stats`).
        op: &'static str,
        /// The cache name.
        cache: String,
        /// The client's error.
        #[source]
        source: redis::RedisError,
    },
    /// A Redis command took longer than the configured operation timeout.
    #[error("Redis {op} for cache {cache:?} timed out after {timeout:?}")]
    RedisTimeout {
        /// The operation.
        op: &'static str,
        /// The cache name.
        cache: String,
        /// The timeout that elapsed.
        timeout: Duration,
    },
    /// Stored bytes that are not a [`crate::CachedResponse`] encoding.
    #[error("cache entry cannot be decoded: {reason}")]
    Decode {
        /// What was wrong.
        reason: &'static str,
    },
}
