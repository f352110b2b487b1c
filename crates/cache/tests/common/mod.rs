//! Helpers shared by the cache tests: fixtures, a real redis-server, the store suite.
#![allow(dead_code, unreachable_pub)] // each test binary uses a different subset

pub mod redis_server;
pub mod suite;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use ledge_cache::CachedResponse;

/// A fixed "now" for tests: time is injected, never slept.
pub fn t0() -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(1_800_000_000)
}

/// A 200 JSON response with `body`, stored at `stored_at` for `ttl_secs`.
pub fn response(body: &str, stored_at: SystemTime, ttl_secs: u64) -> CachedResponse {
    CachedResponse::new(
        200,
        vec![
            (
                "content-type".into(),
                Bytes::from_static(b"application/json"),
            ),
            ("x-amzn-requestid".into(), Bytes::from(body.to_owned())),
        ],
        Bytes::from(body.to_owned()),
        stored_at,
        Duration::from_secs(ttl_secs),
    )
}

/// Waits (bounded) until `cond` holds, polling; returns whether it did.
pub async fn eventually(limit: Duration, mut cond: impl AsyncFnMut() -> bool) -> bool {
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        if cond().await {
            return true;
        }
        if tokio::time::Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}
