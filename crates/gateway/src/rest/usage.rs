//! API keys and usage plans: which key a request presents, whether a plan covering the
//! stage holds it, and the plan's per-key throttle (429 `Too Many Requests`) and quota
//! (429 `Limit Exceeded`). Time is injected: quota periods follow the caller's clock.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use chrono::{Datelike, TimeZone, Utc};

use super::consts::{errors, GatewayResponse};
use super::spec::{ApiKeySpec, Quota, QuotaPeriod, UsagePlanSpec};
use crate::common::throttle::{self, TokenBucket};

/// The plan covering `stage` that holds an enabled key with this value.
pub fn find_key<'a>(
    plans: &'a [UsagePlanSpec],
    stage: &str,
    value: &str,
) -> Option<(&'a UsagePlanSpec, &'a ApiKeySpec)> {
    plans
        .iter()
        .filter(|p| p.stages.iter().any(|s| s == stage))
        .find_map(|p| {
            p.keys
                .iter()
                .find(|k| k.enabled && k.value == value)
                .map(|k| (p, k))
        })
}

/// The index of the quota period `now` falls in: UTC days; weeks starting Sunday plus
/// `offset` days; months starting on day `offset + 1`.
pub fn period_index(q: &Quota, now: SystemTime) -> i64 {
    let secs = now
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    let day = secs.div_euclid(86_400);
    match q.period {
        QuotaPeriod::Day => day,
        // 1970-01-01 was a Thursday: day 3 was the first Sunday.
        QuotaPeriod::Week => (day - 3 - i64::from(q.offset)).div_euclid(7),
        QuotaPeriod::Month => {
            let t = Utc
                .timestamp_opt(secs - i64::from(q.offset) * 86_400, 0)
                .single()
                .unwrap_or_default();
            i64::from(t.year()) * 12 + i64::from(t.month0())
        }
    }
}

#[derive(Debug)]
struct KeyState {
    bucket: Option<TokenBucket>,
    period: i64,
    used: u64,
}

/// Per plan and key: its token bucket and quota use. Reset by a redeploy.
#[derive(Debug, Default)]
pub struct UsageLedger {
    state: Mutex<HashMap<(String, String), KeyState>>,
}

impl UsageLedger {
    /// Counts one request of `key` under `plan`, or says why it is refused. A throttled
    /// request does not use quota.
    pub fn admit(
        &self,
        plan: &UsagePlanSpec,
        key: &ApiKeySpec,
        now: SystemTime,
        instant: Instant,
    ) -> Result<(), GatewayResponse> {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let entry = state
            .entry((plan.id.clone(), key.id.clone()))
            .or_insert_with(|| KeyState {
                bucket: throttle::bucket_for(plan.throttle_rate, plan.throttle_burst, instant),
                period: plan.quota.map(|q| period_index(&q, now)).unwrap_or(0),
                used: 0,
            });
        if let Some(b) = &mut entry.bucket {
            if !b.try_take(instant) {
                return Err(errors::THROTTLED);
            }
        }
        if let Some(q) = &plan.quota {
            let p = period_index(q, now);
            if p != entry.period {
                entry.period = p;
                entry.used = 0;
            }
            if entry.used >= q.limit {
                return Err(errors::QUOTA_EXCEEDED);
            }
            entry.used += 1;
        }
        Ok(())
    }

    /// Requests left in the current period for `key` (for `ledge`'s own reports and tests).
    pub fn remaining(
        &self,
        plan: &UsagePlanSpec,
        key: &ApiKeySpec,
        now: SystemTime,
    ) -> Option<u64> {
        let q = plan.quota?;
        let state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let used = state
            .get(&(plan.id.clone(), key.id.clone()))
            .filter(|s| s.period == period_index(&q, now))
            .map_or(0, |s| s.used);
        Some(q.limit.saturating_sub(used))
    }

    pub fn clear(&self) {
        self.state.lock().unwrap_or_else(|e| e.into_inner()).clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn plan(quota: Option<Quota>, rate: Option<f64>, burst: Option<u32>) -> UsagePlanSpec {
        UsagePlanSpec {
            id: "Plan".into(),
            stages: vec!["Prod".into()],
            throttle_rate: rate,
            throttle_burst: burst,
            quota,
            keys: vec![
                ApiKeySpec {
                    id: "K1".into(),
                    value: "secret-1".into(),
                    enabled: true,
                },
                ApiKeySpec {
                    id: "K2".into(),
                    value: "secret-2".into(),
                    enabled: false,
                },
            ],
        }
    }

    /// 2027-01-15T12:00:00Z, a Friday.
    fn t0() -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(1_800_014_400)
    }

    #[test]
    fn keys_are_found_per_stage_and_only_when_enabled() {
        let plans = vec![plan(None, None, None)];
        assert_eq!(
            find_key(&plans, "Prod", "secret-1").map(|(_, k)| k.id.as_str()),
            Some("K1")
        );
        assert!(find_key(&plans, "Beta", "secret-1").is_none());
        assert!(find_key(&plans, "Prod", "secret-2").is_none(), "disabled");
        assert!(find_key(&plans, "Prod", "nope").is_none());
    }

    #[test]
    fn quota_per_day_resets_with_the_period() {
        let p = plan(
            Some(Quota {
                limit: 2,
                period: QuotaPeriod::Day,
                offset: 0,
            }),
            None,
            None,
        );
        let k = &p.keys[0];
        let ledger = UsageLedger::default();
        let now = Instant::now();
        assert!(ledger.admit(&p, k, t0(), now).is_ok());
        assert!(ledger.admit(&p, k, t0(), now).is_ok());
        assert_eq!(ledger.admit(&p, k, t0(), now), Err(errors::QUOTA_EXCEEDED));
        assert_eq!(ledger.remaining(&p, k, t0()), Some(0));
        let tomorrow = t0() + Duration::from_secs(12 * 3600);
        assert!(ledger.admit(&p, k, tomorrow, now).is_ok());
        assert_eq!(ledger.remaining(&p, k, tomorrow), Some(1));
    }

    #[test]
    fn throttle_before_quota() {
        let p = plan(
            Some(Quota {
                limit: 10,
                period: QuotaPeriod::Month,
                offset: 0,
            }),
            Some(0.0),
            Some(1),
        );
        let k = &p.keys[0];
        let ledger = UsageLedger::default();
        let now = Instant::now();
        assert!(ledger.admit(&p, k, t0(), now).is_ok());
        assert_eq!(ledger.admit(&p, k, t0(), now), Err(errors::THROTTLED));
        assert_eq!(
            ledger.remaining(&p, k, t0()),
            Some(9),
            "throttled requests use no quota"
        );
    }

    #[test]
    fn week_and_month_periods() {
        let week = Quota {
            limit: 1,
            period: QuotaPeriod::Week,
            offset: 0,
        };
        // Friday and the next Saturday are one week; the Sunday after starts another.
        let fri = t0();
        let sat = fri + Duration::from_secs(86_400);
        let sun = fri + Duration::from_secs(2 * 86_400);
        assert_eq!(period_index(&week, fri), period_index(&week, sat));
        assert_ne!(period_index(&week, sat), period_index(&week, sun));
        let month = Quota {
            limit: 1,
            period: QuotaPeriod::Month,
            offset: 0,
        };
        assert_eq!(period_index(&month, fri), period_index(&month, sun));
        assert_ne!(
            period_index(&month, fri),
            period_index(&month, fri + Duration::from_secs(20 * 86_400))
        );
    }
}
