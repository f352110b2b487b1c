//! Cached responses: freshness, the storable rule, and the binary encoding Redis holds.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::{Buf, BufMut, Bytes, BytesMut};

use crate::error::CacheError;

/// API Gateway's largest cacheable response body: 1,048,576 bytes. Larger responses are
/// served but not stored.
pub const MAX_ENTRY_BYTES: usize = 1_048_576;

/// One cached response, as stored and as returned on a hit.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CachedResponse {
    /// HTTP status code (non-2xx responses are cached too, as API Gateway does).
    pub status: u16,
    /// Header names and values in the order they are to be sent.
    pub headers: Vec<(String, Bytes)>,
    /// The body.
    pub body: Bytes,
    /// When the response was stored (the caller's `now`).
    pub stored_at: SystemTime,
    /// How long it stays fresh after `stored_at`. Zero means "do not store".
    pub ttl: Duration,
}

/// Why a response was served but not stored.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NotStoredReason {
    /// The body is over [`MAX_ENTRY_BYTES`].
    TooLarge,
    /// The TTL is zero (API Gateway: TTL 0 disables caching).
    ZeroTtl,
}

impl NotStoredReason {
    /// The reason's name in logs and metrics.
    pub fn as_str(self) -> &'static str {
        match self {
            NotStoredReason::TooLarge => "too_large",
            NotStoredReason::ZeroTtl => "zero_ttl",
        }
    }
}

/// Why `entry` would not be stored, if it would not be.
pub fn not_storable_reason(entry: &CachedResponse) -> Option<NotStoredReason> {
    if entry.body.len() > MAX_ENTRY_BYTES {
        Some(NotStoredReason::TooLarge)
    } else if entry.ttl.is_zero() {
        Some(NotStoredReason::ZeroTtl)
    } else {
        None
    }
}

/// Whether a store keeps `entry`: a body of at most [`MAX_ENTRY_BYTES`] and a TTL above zero.
///
/// ```
/// use std::time::{Duration, SystemTime};
/// use ledge_cache::{storable, CachedResponse, MAX_ENTRY_BYTES};
/// let mut r = CachedResponse::new(200, vec![], vec![b'x'; MAX_ENTRY_BYTES], SystemTime::now(), Duration::from_secs(300));
/// assert!(storable(&r));
/// r.body = vec![b'x'; MAX_ENTRY_BYTES + 1].into();
/// assert!(!storable(&r));
/// ```
pub fn storable(entry: &CachedResponse) -> bool {
    not_storable_reason(entry).is_none()
}

const MAGIC: &[u8; 3] = b"LC1";

/// The longest a store keeps an entry, whatever its TTL: a year (CloudFront's default
/// maximum TTL; API Gateway's is 3600 s). Keeps timer arithmetic in moka and Redis sane.
pub const MAX_STORE_TTL: Duration = Duration::from_secs(365 * 24 * 3600);

impl CachedResponse {
    /// A response stored at `stored_at`, fresh for `ttl`.
    pub fn new(
        status: u16,
        headers: Vec<(String, Bytes)>,
        body: impl Into<Bytes>,
        stored_at: SystemTime,
        ttl: Duration,
    ) -> Self {
        CachedResponse {
            status,
            headers,
            body: body.into(),
            stored_at,
            ttl,
        }
    }

    /// When the response stops being fresh (`None`: beyond what `SystemTime` can hold,
    /// i.e. never).
    pub fn expires_at(&self) -> Option<SystemTime> {
        self.stored_at.checked_add(self.ttl)
    }

    /// Whether the response may be served at `now`: `now < stored_at + ttl` (a clock that
    /// went backwards still serves it).
    pub fn is_fresh(&self, now: SystemTime) -> bool {
        self.expires_at().is_none_or(|expires| now < expires)
    }

    /// Time since it was stored (zero if `now` is earlier).
    pub fn age(&self, now: SystemTime) -> Duration {
        now.duration_since(self.stored_at).unwrap_or_default()
    }

    /// How much TTL is left at `now` (zero once stale).
    pub fn remaining_ttl(&self, now: SystemTime) -> Duration {
        match self.expires_at() {
            Some(expires) => expires.duration_since(now).unwrap_or_default(),
            None => Duration::MAX,
        }
    }

    /// The TTL a store applies to its own copy: the entry's, at most [`MAX_STORE_TTL`].
    pub(crate) fn store_ttl(&self) -> Duration {
        self.ttl.min(MAX_STORE_TTL)
    }

    /// Approximate bytes the response occupies in memory (for the byte-weighted store).
    pub fn weight(&self) -> usize {
        let headers: usize = self
            .headers
            .iter()
            .map(|(n, v)| n.len() + v.len() + 48)
            .sum();
        self.body.len() + headers + 96
    }

    /// The compact binary form stored in Redis:
    /// `"LC1" status:u16 stored_at_ns:u64 ttl_ns:u64 headers:u32 (len:u32 name len:u32 value)* body`
    /// (big-endian; the body runs to the end).
    pub fn encode(&self) -> Bytes {
        let mut buf = BytesMut::with_capacity(self.weight());
        buf.put_slice(MAGIC);
        buf.put_u16(self.status);
        buf.put_u64(nanos_since_epoch(self.stored_at));
        buf.put_u64(u64::try_from(self.ttl.as_nanos()).unwrap_or(u64::MAX));
        buf.put_u32(len32(self.headers.len()));
        for (name, value) in &self.headers {
            buf.put_u32(len32(name.len()));
            buf.put_slice(name.as_bytes());
            buf.put_u32(len32(value.len()));
            buf.put_slice(value);
        }
        buf.put_slice(&self.body);
        buf.freeze()
    }

    /// Decodes [`CachedResponse::encode`]'s output; header values and the body share `bytes`.
    pub fn decode(mut bytes: Bytes) -> Result<Self, CacheError> {
        fn need(bytes: &Bytes, n: usize, what: &'static str) -> Result<(), CacheError> {
            if bytes.remaining() < n {
                Err(CacheError::Decode { reason: what })
            } else {
                Ok(())
            }
        }
        need(&bytes, 3 + 2 + 8 + 8 + 4, "truncated header")?;
        if &bytes[..3] != MAGIC {
            return Err(CacheError::Decode {
                reason: "unknown format",
            });
        }
        bytes.advance(3);
        let status = bytes.get_u16();
        let stored_at = UNIX_EPOCH + Duration::from_nanos(bytes.get_u64());
        let ttl = Duration::from_nanos(bytes.get_u64());
        let count = bytes.get_u32() as usize;
        let mut headers = Vec::with_capacity(count.min(256));
        for _ in 0..count {
            need(&bytes, 4, "truncated header name")?;
            let n = bytes.get_u32() as usize;
            need(&bytes, n, "truncated header name")?;
            let name =
                String::from_utf8(bytes.split_to(n).to_vec()).map_err(|_| CacheError::Decode {
                    reason: "header name is not UTF-8",
                })?;
            need(&bytes, 4, "truncated header value")?;
            let v = bytes.get_u32() as usize;
            need(&bytes, v, "truncated header value")?;
            headers.push((name, bytes.split_to(v)));
        }
        Ok(CachedResponse {
            status,
            headers,
            body: bytes,
            stored_at,
            ttl,
        })
    }
}

fn len32(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

fn nanos_since_epoch(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // test code: a panic is the failure report
mod tests {
    use super::*;

    fn sample() -> CachedResponse {
        CachedResponse::new(
            429,
            vec![
                (
                    "content-type".into(),
                    Bytes::from_static(b"application/json"),
                ),
                ("x-empty".into(), Bytes::new()),
                ("set-cookie".into(), Bytes::from_static(b"a=1")),
                ("set-cookie".into(), Bytes::from_static(b"b=\xff")),
            ],
            Bytes::from_static(b"{\"message\":\"Too Many Requests\"}"),
            UNIX_EPOCH + Duration::new(1_765_000_000, 123_456_789),
            Duration::from_millis(300_001),
        )
    }

    #[test]
    fn encoding_round_trips_exactly() {
        let r = sample();
        assert_eq!(CachedResponse::decode(r.encode()).unwrap(), r);
        let empty = CachedResponse::new(204, vec![], Bytes::new(), UNIX_EPOCH, Duration::ZERO);
        assert_eq!(CachedResponse::decode(empty.encode()).unwrap(), empty);
    }

    #[test]
    fn truncated_or_foreign_bytes_are_decode_errors() {
        let enc = sample().encode();
        for cut in [0, 2, 10, 26, 27, 40] {
            assert!(
                CachedResponse::decode(enc.slice(..cut)).is_err(),
                "cut at {cut}"
            );
        }
        assert!(
            CachedResponse::decode(Bytes::from_static(b"{\"json\":true, \"x\": 12345678901}"))
                .is_err()
        );
    }

    #[test]
    fn freshness_is_half_open() {
        let r = sample();
        assert!(r.is_fresh(r.stored_at));
        assert!(r.is_fresh(r.stored_at + r.ttl - Duration::from_nanos(1)));
        assert!(!r.is_fresh(r.stored_at + r.ttl));
        assert_eq!(r.age(r.stored_at - Duration::from_secs(5)), Duration::ZERO);
        assert_eq!(r.remaining_ttl(r.stored_at + r.ttl * 2), Duration::ZERO);
        let forever = CachedResponse::new(200, vec![], Bytes::new(), r.stored_at, Duration::MAX);
        assert!(forever.is_fresh(r.stored_at + Duration::from_secs(1 << 40)));
        assert_eq!(forever.store_ttl(), MAX_STORE_TTL);
    }

    #[test]
    fn the_limit_is_on_the_body_and_inclusive() {
        let mut r = sample();
        r.body = Bytes::from(vec![0u8; MAX_ENTRY_BYTES]);
        assert_eq!(not_storable_reason(&r), None);
        r.body = Bytes::from(vec![0u8; MAX_ENTRY_BYTES + 1]);
        assert_eq!(not_storable_reason(&r), Some(NotStoredReason::TooLarge));
        r.body = Bytes::new();
        r.ttl = Duration::ZERO;
        assert_eq!(not_storable_reason(&r), Some(NotStoredReason::ZeroTtl));
    }
}
