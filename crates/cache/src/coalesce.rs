//! Request coalescing: one fill per cold key, however many requests wait for it.

use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::hash::Hash;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::watch;
use tokio::time::Instant;

use crate::entry::CachedResponse;
use crate::key::CacheKey;

/// How long a request waits for another request's fill before it fills on its own: 10 s
/// (a function's 29 s API Gateway timeout would hold every waiter far too long).
pub const DEFAULT_COALESCE_WAIT: Duration = Duration::from_secs(10);

/// What a caller of [`Coalescer::run`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FillRole {
    /// It ran the fill and shared the result.
    Leader,
    /// It received the leader's result without filling.
    Follower,
    /// It waited past the timeout and filled on its own.
    TimedOut,
}

impl FillRole {
    /// The role's name in logs and metrics.
    pub fn as_str(self) -> &'static str {
        match self {
            FillRole::Leader => "leader",
            FillRole::Follower => "follower",
            FillRole::TimedOut => "timed_out",
        }
    }
}

/// A value and how the caller came by it.
#[derive(Clone, Debug)]
pub struct Coalesced<V> {
    /// The filled value.
    pub value: V,
    /// Whether this caller filled it, received it, or filled after waiting too long.
    pub role: FillRole,
}

/// Counts of what callers did, since the coalescer was made.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CoalescerStats {
    /// Fills started by leaders (successful or not).
    pub fills: u64,
    /// Fills that returned an error.
    pub failed_fills: u64,
    /// Callers served by another caller's fill.
    pub followers: u64,
    /// Callers that gave up waiting and filled on their own.
    pub timeouts: u64,
}

struct Slot<V> {
    rx: watch::Receiver<Option<V>>,
    waiting: AtomicUsize,
}

/// Lets N concurrent misses for one key run the fill once: the first caller leads, the
/// others wait for its value (up to a timeout, after which each fills on its own). If the
/// leader's fill fails, or the leader is cancelled, the waiters wake and one of them leads
/// the next attempt; each caller runs its own fill at most once.
///
/// The map of in-flight keys is touched only on misses; hits never see the coalescer.
pub struct Coalescer<K = CacheKey, V = Arc<CachedResponse>> {
    inflight: Mutex<HashMap<K, Arc<Slot<V>>>>,
    wait: Duration,
    fills: AtomicU64,
    failed_fills: AtomicU64,
    followers: AtomicU64,
    timeouts: AtomicU64,
}

impl<K, V> fmt::Debug for Coalescer<K, V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Coalescer")
            .field("wait", &self.wait)
            .finish()
    }
}

impl<K, V> Default for Coalescer<K, V>
where
    K: Hash + Eq + Clone,
    V: Clone,
{
    fn default() -> Self {
        Self::new(DEFAULT_COALESCE_WAIT)
    }
}

/// Removes the leader's slot when the leader finishes or is dropped; dropping the sender
/// without a value wakes the waiters to try again.
struct LeaderGuard<'a, K: Hash + Eq, V> {
    map: &'a Mutex<HashMap<K, Arc<Slot<V>>>>,
    key: K,
    slot: Arc<Slot<V>>,
    tx: watch::Sender<Option<V>>,
}

impl<K: Hash + Eq, V> Drop for LeaderGuard<'_, K, V> {
    fn drop(&mut self) {
        let mut map = self.map.lock().unwrap_or_else(|e| e.into_inner());
        if map
            .get(&self.key)
            .is_some_and(|slot| Arc::ptr_eq(slot, &self.slot))
        {
            map.remove(&self.key);
        }
    }
}

enum Turn<'a, K: Hash + Eq, V> {
    Lead(LeaderGuard<'a, K, V>),
    Wait(Arc<Slot<V>>),
}

impl<K, V> Coalescer<K, V>
where
    K: Hash + Eq + Clone,
    V: Clone,
{
    /// A coalescer whose waiters fill on their own after `wait`.
    pub fn new(wait: Duration) -> Self {
        Coalescer {
            inflight: Mutex::new(HashMap::new()),
            wait,
            fills: AtomicU64::new(0),
            failed_fills: AtomicU64::new(0),
            followers: AtomicU64::new(0),
            timeouts: AtomicU64::new(0),
        }
    }

    /// Returns `fill()`'s value for `key`, running `fill` only if no other caller is filling
    /// the same key (see the type's docs). An error is returned only to the caller whose own
    /// fill failed.
    pub async fn run<F, Fut, E>(&self, key: &K, fill: F) -> Result<Coalesced<V>, E>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<V, E>>,
    {
        let deadline = Instant::now() + self.wait;
        loop {
            match self.turn(key) {
                Turn::Lead(guard) => {
                    self.fills.fetch_add(1, Ordering::Relaxed);
                    return match fill().await {
                        Ok(value) => {
                            guard.tx.send_replace(Some(value.clone()));
                            drop(guard);
                            Ok(Coalesced {
                                value,
                                role: FillRole::Leader,
                            })
                        }
                        Err(error) => {
                            self.failed_fills.fetch_add(1, Ordering::Relaxed);
                            drop(guard);
                            Err(error)
                        }
                    };
                }
                Turn::Wait(slot) => {
                    let mut rx = slot.rx.clone();
                    slot.waiting.fetch_add(1, Ordering::Relaxed);
                    // Take the value out at once: the channel's read guard must not live
                    // across an await (the future would not be Send).
                    let waited = tokio::time::timeout_at(deadline, rx.wait_for(Option::is_some))
                        .await
                        .map(|woken| woken.ok().and_then(|value| value.clone()));
                    slot.waiting.fetch_sub(1, Ordering::Relaxed);
                    match waited {
                        Ok(Some(value)) => {
                            self.followers.fetch_add(1, Ordering::Relaxed);
                            return Ok(Coalesced {
                                value,
                                role: FillRole::Follower,
                            });
                        }
                        // The leader failed or was dropped: try to lead the next attempt.
                        Ok(None) => {}
                        Err(_elapsed) => {
                            self.timeouts.fetch_add(1, Ordering::Relaxed);
                            let value = fill().await?;
                            return Ok(Coalesced {
                                value,
                                role: FillRole::TimedOut,
                            });
                        }
                    }
                }
            }
        }
    }

    fn turn(&self, key: &K) -> Turn<'_, K, V> {
        let mut map = self.inflight.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(slot) = map.get(key) {
            // A slot whose sender is gone belongs to a leader that is finishing; take over.
            if slot.rx.has_changed().is_ok() {
                return Turn::Wait(Arc::clone(slot));
            }
        }
        let (tx, rx) = watch::channel(None);
        let slot = Arc::new(Slot {
            rx,
            waiting: AtomicUsize::new(0),
        });
        map.insert(key.clone(), Arc::clone(&slot));
        Turn::Lead(LeaderGuard {
            map: &self.inflight,
            key: key.clone(),
            slot,
            tx,
        })
    }

    /// How many callers are waiting for `key`'s fill right now.
    pub fn waiting(&self, key: &K) -> usize {
        let map = self.inflight.lock().unwrap_or_else(|e| e.into_inner());
        map.get(key)
            .map_or(0, |slot| slot.waiting.load(Ordering::Relaxed))
    }

    /// How many keys are being filled right now.
    pub fn in_flight(&self) -> usize {
        self.inflight
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .len()
    }

    /// What callers have done so far.
    pub fn stats(&self) -> CoalescerStats {
        CoalescerStats {
            fills: self.fills.load(Ordering::Relaxed),
            failed_fills: self.failed_fills.load(Ordering::Relaxed),
            followers: self.followers.load(Ordering::Relaxed),
            timeouts: self.timeouts.load(Ordering::Relaxed),
        }
    }
}
