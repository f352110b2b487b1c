//! CloudFront's TTL rules (reference §1.3, §1.4, §1.7) as pure functions of the origin's
//! headers, the behaviour's Min/Default/MaxTTL and `now`. Not RFC 9111: `s-maxage` wins
//! over `max-age` over `Expires`, MaxTTL caps only origin-given lifetimes, DefaultTTL
//! applies only when the origin gave none, and MinTTL > 0 overrides `no-cache`,
//! `no-store` and `private`.

use std::time::{Duration, SystemTime};

/// The `Cache-Control` directives CloudFront acts on.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Directives {
    pub s_maxage: Option<u64>,
    pub max_age: Option<u64>,
    pub no_cache: bool,
    pub no_store: bool,
    pub private: bool,
    pub stale_while_revalidate: Option<u64>,
    pub stale_if_error: Option<u64>,
}

/// 100 years: the largest `max-age` CloudFront honours.
const MAX_AGE_CAP: u64 = 100 * 365 * 86_400;

impl Directives {
    /// Parses every `Cache-Control` value (comma-separated, case-insensitive names).
    pub fn parse<'a>(values: impl IntoIterator<Item = &'a str>) -> Self {
        let mut d = Self::default();
        for value in values {
            for part in value.split(',') {
                let part = part.trim();
                let (name, arg) = match part.split_once('=') {
                    Some((n, a)) => (n.trim(), Some(a.trim().trim_matches('"'))),
                    None => (part, None),
                };
                let secs = || {
                    arg.and_then(|a| a.parse::<u64>().ok())
                        .map(|s| s.min(MAX_AGE_CAP))
                };
                match name.to_ascii_lowercase().as_str() {
                    "s-maxage" => d.s_maxage = d.s_maxage.or(secs()),
                    "max-age" => d.max_age = d.max_age.or(secs()),
                    // `no-cache="Set-Cookie"` names fields; CloudFront treats it as no-cache.
                    "no-cache" => d.no_cache = true,
                    "no-store" => d.no_store = true,
                    "private" => d.private = true,
                    "stale-while-revalidate" => d.stale_while_revalidate = secs(),
                    "stale-if-error" => d.stale_if_error = secs(),
                    _ => {}
                }
            }
        }
        d
    }

    /// `no-cache`, `no-store` or `private`.
    pub fn uncacheable(&self) -> bool {
        self.no_cache || self.no_store || self.private
    }
}

/// A behaviour's Min/Default/MaxTTL, seconds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ttls {
    pub min: u64,
    pub default: u64,
    pub max: u64,
}

/// How long the origin said to keep the object: `s-maxage`, else `max-age`, else
/// `Expires − now` (only when neither directive is present).
pub fn origin_lifetime(
    d: &Directives,
    expires: Option<SystemTime>,
    now: SystemTime,
) -> Option<u64> {
    d.s_maxage
        .or(d.max_age)
        .or_else(|| expires.map(|t| t.duration_since(now).map(|x| x.as_secs()).unwrap_or(0)))
}

/// The object's TTL at the edge (the table of §1.3).
pub fn object_ttl(d: &Directives, expires: Option<SystemTime>, now: SystemTime, t: Ttls) -> u64 {
    if d.uncacheable() {
        return t.min;
    }
    match origin_lifetime(d, expires, now) {
        Some(s) if t.min == 0 => s.min(t.max),
        Some(s) => s.max(t.min).min(t.max.max(t.min)),
        None => t.default.max(t.min),
    }
}

/// Whether the object is stored at all. `no-store` / `private` with MinTTL 0 are not
/// stored; `no-cache` with MinTTL 0 is stored and revalidated on every request (like all
/// TTLs 0: "CloudFront always verifies").
pub fn storable(d: &Directives, t: Ttls) -> bool {
    t.min > 0 || !(d.no_store || d.private)
}

/// Whether concurrent requests for the key may share this response (§1.11): not when
/// MinTTL is 0 and the origin said `private`, `no-store`, `no-cache`, `max-age=0` or
/// `s-maxage=0`.
pub fn collapsible(d: &Directives, t: Ttls) -> bool {
    t.min > 0 || !(d.uncacheable() || d.max_age == Some(0) || d.s_maxage == Some(0))
}

/// Codes always cached (for ErrorCachingMinTTL, default 10 s).
pub const ALWAYS_CACHED_ERRORS: [u16; 7] = [404, 414, 500, 501, 502, 503, 504];
/// Codes cached only when the origin sent `max-age` / `s-maxage`.
pub const CACHED_WITH_MAX_AGE: [u16; 5] = [400, 403, 405, 412, 415];
/// ErrorCachingMinTTL when no custom error response sets one.
pub const DEFAULT_ERROR_CACHING_MIN_TTL: u64 = 10;

/// How long an error response is cached, or `None` when it is not (§1.7): the larger of
/// ErrorCachingMinTTL and the origin's lifetime (capped by MaxTTL).
pub fn error_ttl(
    status: u16,
    d: &Directives,
    expires: Option<SystemTime>,
    now: SystemTime,
    t: Ttls,
    error_caching_min_ttl: Option<u64>,
) -> Option<u64> {
    let min = error_caching_min_ttl.unwrap_or(DEFAULT_ERROR_CACHING_MIN_TTL);
    let origin = origin_lifetime(d, expires, now).map(|s| s.min(t.max));
    let with_max_age = d.max_age.is_some() || d.s_maxage.is_some();
    let cached = ALWAYS_CACHED_ERRORS.contains(&status)
        || (CACHED_WITH_MAX_AGE.contains(&status) && with_max_age);
    cached.then(|| min.max(origin.unwrap_or(0)))
}

/// What a cached object is good for at `now`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Freshness {
    Fresh,
    /// Expired but inside `stale-while-revalidate`: serve it and refresh in the background.
    StaleWhileRevalidate,
    Expired,
}

/// The lifetimes recorded with a cached object.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Lifetime {
    /// When the object left the origin (or was last revalidated).
    pub fetched_at: SystemTime,
    pub ttl: Duration,
    pub stale_while_revalidate: Option<Duration>,
    pub stale_if_error: Option<Duration>,
    /// The behaviour's MaxTTL: stale windows end there.
    pub max_ttl: Duration,
}

impl Lifetime {
    pub fn age(&self, now: SystemTime) -> Duration {
        now.duration_since(self.fetched_at).unwrap_or_default()
    }

    /// Where stale windows end: MaxTTL (or the TTL itself when that is longer).
    fn stale_cap(&self) -> Duration {
        self.max_ttl.max(self.ttl)
    }

    pub fn freshness(&self, now: SystemTime) -> Freshness {
        let age = self.age(now);
        if age < self.ttl {
            return Freshness::Fresh;
        }
        match self.stale_while_revalidate {
            Some(w) if age < (self.ttl + w).min(self.stale_cap()) => {
                Freshness::StaleWhileRevalidate
            }
            _ => Freshness::Expired,
        }
    }

    /// Whether the stale object may stand in for an origin error (5xx, unreachable): inside
    /// `stale-if-error` when given (`stale-if-error=0` forbids it), else CloudFront's
    /// implicit rule (serve stale for the error caching TTL), always within MaxTTL.
    pub fn serves_stale_on_error(&self, now: SystemTime) -> bool {
        let age = self.age(now);
        match self.stale_if_error {
            Some(w) => age < (self.ttl + w).min(self.stale_cap()),
            None => age < self.stale_cap(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::UNIX_EPOCH;

    const NOW: u64 = 1_700_000_000;
    fn now() -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(NOW)
    }
    fn cc(s: &str) -> Directives {
        Directives::parse([s])
    }
    const ZERO_MIN: Ttls = Ttls {
        min: 0,
        default: 86_400,
        max: 31_536_000,
    };
    const MIN_60: Ttls = Ttls {
        min: 60,
        default: 86_400,
        max: 3_600,
    };

    #[test]
    fn max_age_row() {
        assert_eq!(object_ttl(&cc("max-age=300"), None, now(), ZERO_MIN), 300);
        // MinTTL 0: only capped by MaxTTL.
        assert_eq!(
            object_ttl(&cc("max-age=5"), None, now(), Ttls { max: 3, ..ZERO_MIN }),
            3
        );
        // MinTTL > 0: clamped both ways.
        assert_eq!(object_ttl(&cc("max-age=5"), None, now(), MIN_60), 60);
        assert_eq!(object_ttl(&cc("max-age=7200"), None, now(), MIN_60), 3_600);
        assert_eq!(object_ttl(&cc("max-age=600"), None, now(), MIN_60), 600);
    }

    #[test]
    fn s_maxage_row_wins_over_max_age() {
        assert_eq!(
            object_ttl(&cc("max-age=10, s-maxage=900"), None, now(), ZERO_MIN),
            900
        );
        assert_eq!(
            object_ttl(&cc("s-maxage=900, max-age=10"), None, now(), ZERO_MIN),
            900
        );
        assert_eq!(
            object_ttl(&cc("s-maxage=1, max-age=10"), None, now(), MIN_60),
            60
        );
        assert_eq!(
            object_ttl(&cc("s-maxage=99999"), None, now(), MIN_60),
            3_600
        );
    }

    #[test]
    fn expires_row() {
        let in_500 = Some(now() + Duration::from_secs(500));
        assert_eq!(
            object_ttl(&Directives::default(), in_500, now(), ZERO_MIN),
            500
        );
        assert_eq!(
            object_ttl(
                &Directives::default(),
                in_500,
                now(),
                Ttls {
                    max: 100,
                    ..ZERO_MIN
                }
            ),
            100
        );
        let in_5 = Some(now() + Duration::from_secs(5));
        assert_eq!(object_ttl(&Directives::default(), in_5, now(), MIN_60), 60);
        let past = Some(now() - Duration::from_secs(5));
        assert_eq!(object_ttl(&Directives::default(), past, now(), ZERO_MIN), 0);
        // max-age and Expires: only max-age counts.
        assert_eq!(object_ttl(&cc("max-age=20"), in_500, now(), ZERO_MIN), 20);
    }

    #[test]
    fn no_header_row_uses_default_ttl() {
        assert_eq!(
            object_ttl(&Directives::default(), None, now(), ZERO_MIN),
            86_400
        );
        // max(MinTTL, DefaultTTL)
        let t = Ttls {
            min: 100,
            default: 50,
            max: 1000,
        };
        assert_eq!(object_ttl(&Directives::default(), None, now(), t), 100);
        // MaxTTL does not cap DefaultTTL.
        let t = Ttls {
            min: 0,
            default: 500,
            max: 100,
        };
        assert_eq!(object_ttl(&Directives::default(), None, now(), t), 500);
    }

    #[test]
    fn no_cache_no_store_private_row() {
        for v in [
            "no-cache",
            "no-store",
            "private",
            "private, max-age=600",
            "no-store, s-maxage=60",
        ] {
            // MinTTL 0: respected (TTL 0; no-store/private not even stored).
            assert_eq!(object_ttl(&cc(v), None, now(), ZERO_MIN), 0, "{v}");
            // MinTTL > 0: cached for MinTTL.
            assert_eq!(object_ttl(&cc(v), None, now(), MIN_60), 60, "{v}");
            assert!(storable(&cc(v), MIN_60), "{v}");
            assert!(!collapsible(&cc(v), ZERO_MIN), "{v}");
            assert!(collapsible(&cc(v), MIN_60), "{v}");
        }
        assert!(storable(&cc("no-cache"), ZERO_MIN));
        assert!(!storable(&cc("no-store"), ZERO_MIN));
        assert!(!storable(&cc("private"), ZERO_MIN));
        assert!(!collapsible(&cc("max-age=0"), ZERO_MIN));
        assert!(!collapsible(&cc("s-maxage=0"), ZERO_MIN));
        assert!(collapsible(&cc("max-age=1"), ZERO_MIN));
    }

    #[test]
    fn parse_is_case_insensitive_and_tolerant() {
        let d = Directives::parse([
            "Public, MAX-AGE=60",
            "stale-while-revalidate=30,stale-if-error=\"90\"",
        ]);
        assert_eq!(d.max_age, Some(60));
        assert_eq!(d.stale_while_revalidate, Some(30));
        assert_eq!(d.stale_if_error, Some(90));
        assert_eq!(cc("max-age=abc").max_age, None);
    }

    #[test]
    fn error_caching() {
        let none = Directives::default();
        for code in ALWAYS_CACHED_ERRORS {
            assert_eq!(
                error_ttl(code, &none, None, now(), ZERO_MIN, None),
                Some(10),
                "{code}"
            );
        }
        for code in CACHED_WITH_MAX_AGE {
            assert_eq!(
                error_ttl(code, &none, None, now(), ZERO_MIN, None),
                None,
                "{code}"
            );
            assert_eq!(
                error_ttl(code, &cc("max-age=30"), None, now(), ZERO_MIN, None),
                Some(30)
            );
        }
        assert_eq!(
            error_ttl(416, &cc("max-age=30"), None, now(), ZERO_MIN, None),
            None
        );
        assert_eq!(
            error_ttl(404, &none, None, now(), ZERO_MIN, Some(300)),
            Some(300)
        );
        assert_eq!(
            error_ttl(404, &cc("max-age=5"), None, now(), ZERO_MIN, Some(0)),
            Some(5)
        );
        // Origin value capped by MaxTTL, then the larger of the two.
        assert_eq!(
            error_ttl(503, &cc("max-age=9000"), None, now(), MIN_60, None),
            Some(3_600)
        );
        assert_eq!(
            error_ttl(409, &cc("max-age=30"), None, now(), ZERO_MIN, None),
            None
        );
    }

    #[test]
    fn stale_windows() {
        let l = Lifetime {
            fetched_at: now(),
            ttl: Duration::from_secs(60),
            stale_while_revalidate: Some(Duration::from_secs(30)),
            stale_if_error: Some(Duration::from_secs(100)),
            max_ttl: Duration::from_secs(31_536_000),
        };
        let at = |s| now() + Duration::from_secs(s);
        assert_eq!(l.freshness(at(59)), Freshness::Fresh);
        assert_eq!(l.freshness(at(60)), Freshness::StaleWhileRevalidate);
        assert_eq!(l.freshness(at(89)), Freshness::StaleWhileRevalidate);
        assert_eq!(l.freshness(at(90)), Freshness::Expired);
        assert!(l.serves_stale_on_error(at(159)));
        assert!(!l.serves_stale_on_error(at(160)));
        // MaxTTL caps both windows.
        let capped = Lifetime {
            max_ttl: Duration::from_secs(70),
            ..l
        };
        assert_eq!(capped.freshness(at(75)), Freshness::Expired);
        assert!(!capped.serves_stale_on_error(at(75)));
        // stale-if-error=0 forbids stale on error; absent means the implicit rule.
        let zero = Lifetime {
            stale_if_error: Some(Duration::ZERO),
            ..l
        };
        assert!(!zero.serves_stale_on_error(at(61)));
        let implicit = Lifetime {
            stale_if_error: None,
            ..l
        };
        assert!(implicit.serves_stale_on_error(at(10_000)));
    }
}
