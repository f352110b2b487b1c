//! Injected time: stores take `now` as an argument; callers get it from a [`Clock`].

use std::fmt::Debug;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The source of `now` for cache freshness. Production uses [`SystemClock`]; tests use
/// [`ManualClock`] and never sleep.
pub trait Clock: Send + Sync + Debug {
    /// The current time.
    fn now(&self) -> SystemTime;
}

/// The wall clock.
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> SystemTime {
        SystemTime::now()
    }
}

/// A clock that moves only when told to.
///
/// ```
/// use std::time::{Duration, UNIX_EPOCH};
/// use ledge_cache::{Clock, ManualClock};
/// let clock = ManualClock::new(UNIX_EPOCH + Duration::from_secs(100));
/// clock.advance(Duration::from_secs(300));
/// assert_eq!(clock.now(), UNIX_EPOCH + Duration::from_secs(400));
/// ```
#[derive(Debug)]
pub struct ManualClock {
    nanos: AtomicU64,
}

impl ManualClock {
    /// A clock showing `start` (times before the epoch show the epoch).
    pub fn new(start: SystemTime) -> Self {
        let nanos = start
            .duration_since(UNIX_EPOCH)
            .map(|d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
            .unwrap_or(0);
        ManualClock {
            nanos: AtomicU64::new(nanos),
        }
    }

    /// Moves the clock forward by `by`.
    pub fn advance(&self, by: Duration) {
        let by = u64::try_from(by.as_nanos()).unwrap_or(u64::MAX);
        self.nanos.fetch_add(by, Ordering::SeqCst);
    }

    /// Sets the clock to `to`.
    pub fn set(&self, to: SystemTime) {
        let nanos = to
            .duration_since(UNIX_EPOCH)
            .map(|d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
            .unwrap_or(0);
        self.nanos.store(nanos, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> SystemTime {
        UNIX_EPOCH + Duration::from_nanos(self.nanos.load(Ordering::SeqCst))
    }
}
