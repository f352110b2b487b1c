//! The read-through path: look up, and on a miss fill once per key and store.

use std::future::Future;
use std::sync::Arc;
use std::time::SystemTime;

use crate::coalesce::{Coalescer, FillRole};
use crate::entry::{not_storable_reason, CachedResponse, NotStoredReason};
use crate::key::CacheKey;
use crate::metrics::CacheOutcome;
use crate::store::CacheStore;

/// What [`get_or_fill`] served.
#[derive(Clone, Debug)]
pub struct Lookup {
    /// The response to send.
    pub response: Arc<CachedResponse>,
    /// `Hit` when it came from the store, `Miss` when from a fill (this caller's or the
    /// leader's).
    pub outcome: CacheOutcome,
    /// On a miss: whether this caller filled, followed another's fill, or timed out waiting.
    pub role: Option<FillRole>,
    /// On a miss: why the filled response was not stored, if it was not.
    pub not_stored: Option<NotStoredReason>,
}

/// Serves `key` from `store` at `now`, or on a miss runs `fill` — once for all concurrent
/// misses of the key, through `coalescer` — and stores its response when it is storable
/// (over 1 MiB or TTL 0: served but not stored). The leader looks in the store again before
/// filling, so a request that missed just before another's store completes does not fill.
///
/// `fill` returns the response with its `stored_at` and `ttl` set by the caller's policy.
pub async fn get_or_fill<F, Fut, E>(
    store: &dyn CacheStore,
    coalescer: &Coalescer,
    key: &CacheKey,
    now: SystemTime,
    fill: F,
) -> Result<Lookup, E>
where
    F: FnOnce() -> Fut,
    Fut: Future<Output = Result<CachedResponse, E>>,
{
    if let Some(response) = store.get(key, now).await {
        return Ok(Lookup {
            response,
            outcome: CacheOutcome::Hit,
            role: None,
            not_stored: None,
        });
    }
    let mut found_on_recheck = None;
    let coalesced = coalescer
        .run(key, || async {
            if let Some(response) = store.get(key, now).await {
                found_on_recheck = Some(());
                return Ok(response);
            }
            let response = fill().await?;
            if not_storable_reason(&response).is_none() {
                store.put(key, response.clone()).await;
            }
            Ok(Arc::new(response))
        })
        .await?;
    if found_on_recheck.is_some() {
        return Ok(Lookup {
            response: coalesced.value,
            outcome: CacheOutcome::Hit,
            role: None,
            not_stored: None,
        });
    }
    let not_stored = not_storable_reason(&coalesced.value);
    Ok(Lookup {
        response: coalesced.value,
        outcome: CacheOutcome::Miss,
        role: Some(coalesced.role),
        not_stored,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assert_send<T: Send>(_: &T) {}

    /// Gateway handlers run on a multi-threaded runtime: the read-through future must be Send.
    #[test]
    fn the_read_through_future_is_send() {
        let store = crate::MemoryStore::new(1024);
        let coalescer = Coalescer::default();
        let key = CacheKey::new("prod", ["r"]);
        let fut = get_or_fill(&store, &coalescer, &key, SystemTime::now(), || async {
            Err::<CachedResponse, ()>(())
        });
        assert_send(&fut);
    }
}
