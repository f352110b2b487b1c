//! Token buckets for stage and route throttling (reference §4.6). Pure: callers pass `now`.

use std::time::Instant;

/// AWS's account-level defaults, used for whichever of rate / burst a route leaves unset
/// when it sets the other.
pub const ACCOUNT_RATE: f64 = 10_000.0;
pub const ACCOUNT_BURST: u32 = 5_000;

/// A token bucket: `burst` tokens at most, refilled at `rate` per second.
#[derive(Debug, Clone)]
pub struct TokenBucket {
    rate: f64,
    burst: f64,
    tokens: f64,
    last: Instant,
}

impl TokenBucket {
    /// A full bucket.
    pub fn new(rate: f64, burst: u32, now: Instant) -> Self {
        Self {
            rate: rate.max(0.0),
            burst: f64::from(burst),
            tokens: f64::from(burst),
            last: now,
        }
    }

    /// Takes one token if there is one.
    pub fn try_take(&mut self, now: Instant) -> bool {
        let elapsed = now.saturating_duration_since(self.last).as_secs_f64();
        self.last = now.max(self.last);
        self.tokens = (self.tokens + elapsed * self.rate).min(self.burst);
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

/// The bucket for settings, or `None` (unlimited) when neither limit is set.
pub fn bucket_for(rate: Option<f64>, burst: Option<u32>, now: Instant) -> Option<TokenBucket> {
    match (rate, burst) {
        (None, None) => None,
        (r, b) => Some(TokenBucket::new(
            r.unwrap_or(ACCOUNT_RATE),
            b.unwrap_or(ACCOUNT_BURST),
            now,
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn burst_then_refill_at_rate() {
        let t0 = Instant::now();
        let mut b = TokenBucket::new(2.0, 3, t0);
        assert!((0..3).all(|_| b.try_take(t0)));
        assert!(!b.try_take(t0), "the burst is spent");
        assert!(!b.try_take(t0 + Duration::from_millis(400)));
        assert!(
            b.try_take(t0 + Duration::from_millis(500)),
            "one token per 500 ms"
        );
        // Never more than the burst, however long it rests.
        let later = t0 + Duration::from_secs(100);
        assert_eq!((0..10).filter(|_| b.try_take(later)).count(), 3);
    }

    #[test]
    fn zero_burst_blocks_and_unset_is_unlimited() {
        let t0 = Instant::now();
        let mut b = TokenBucket::new(100.0, 0, t0);
        assert!(!b.try_take(t0 + Duration::from_secs(5)));
        assert!(bucket_for(None, None, t0).is_none());
        let mut only_rate = bucket_for(Some(1.0), None, t0).expect("bucket");
        assert!(
            (0..5000).all(|_| only_rate.try_take(t0)),
            "account burst 5000"
        );
        assert!(!only_rate.try_take(t0));
    }

    #[test]
    fn time_going_backwards_does_not_mint_tokens() {
        let t0 = Instant::now() + Duration::from_secs(10);
        let mut b = TokenBucket::new(1.0, 1, t0);
        assert!(b.try_take(t0));
        assert!(!b.try_take(t0 - Duration::from_secs(5)));
        assert!(!b.try_take(t0));
    }
}
