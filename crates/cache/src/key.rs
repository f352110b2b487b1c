//! Cache keys: ordered parts, a stable encoding and hash, a readable form.

use std::fmt;
use std::hash::{Hash, Hasher};
use std::sync::Arc;

/// A cache key: the stage (or, for the CDN, the distribution/POP) followed by ordered parts
/// such as the cache namespace, the HTTP method and the values of the key parameters.
///
/// The encoding is stable across processes and versions (each part is length-prefixed, so
/// `["ab", "c"]` and `["a", "bc"]` differ), and so is [`CacheKey::hash64`] (xxh3): Redis keys
/// built from it are shared by every ledge node. Cloning is one reference-count increment.
///
/// A key with fewer parts is also a *prefix*: [`CacheKey::starts_with`] and
/// [`crate::CacheStore::purge`] match whole leading parts.
///
/// ```
/// use ledge_cache::CacheKey;
/// let key = CacheKey::builder("prod").part("res-1").part("GET").part("type=admin").build();
/// assert_eq!(key.stage(), "prod");
/// assert_eq!(key.to_string(), "prod|res-1|GET|type=admin");
/// assert!(key.starts_with(&CacheKey::new("prod", ["res-1"])));
/// assert!(!key.starts_with(&CacheKey::new("prod", ["res-10"])));
/// ```
#[derive(Clone)]
pub struct CacheKey(Arc<Inner>);

struct Inner {
    /// Every part (stage first) as a little-endian u32 length followed by its bytes.
    encoded: Box<[u8]>,
    stage_len: usize,
    hash: u64,
}

fn push_part(buf: &mut Vec<u8>, part: &[u8]) {
    let len = u32::try_from(part.len()).unwrap_or(u32::MAX);
    buf.extend_from_slice(&len.to_le_bytes());
    buf.extend_from_slice(&part[..len as usize]);
}

impl CacheKey {
    /// A key from a stage and its further parts, in order.
    pub fn new<I, P>(stage: &str, parts: I) -> Self
    where
        I: IntoIterator<Item = P>,
        P: AsRef<[u8]>,
    {
        let mut builder = Self::builder(stage);
        for part in parts {
            builder = builder.part(part);
        }
        builder.build()
    }

    /// Starts a key for `stage`; add parts in order, then [`CacheKeyBuilder::build`].
    pub fn builder(stage: &str) -> CacheKeyBuilder {
        let mut buf = Vec::with_capacity(64 + stage.len());
        push_part(&mut buf, stage.as_bytes());
        CacheKeyBuilder { buf }
    }

    /// The first part: the stage whose flush removes this key.
    pub fn stage(&self) -> &str {
        let bytes = &self.0.encoded[4..4 + self.0.stage_len];
        // The stage was pushed from a `&str`, so it is valid UTF-8.
        std::str::from_utf8(bytes).unwrap_or_default()
    }

    /// The parts after the stage, in order.
    pub fn parts(&self) -> Parts<'_> {
        Parts {
            rest: &self.0.encoded[4 + self.0.stage_len..],
        }
    }

    /// The stable encoding (every part, stage first, length-prefixed).
    pub fn as_bytes(&self) -> &[u8] {
        &self.0.encoded
    }

    /// A stable 64-bit hash (xxh3) of [`CacheKey::as_bytes`].
    pub fn hash64(&self) -> u64 {
        self.0.hash
    }

    /// Whether `prefix` (same stage, then whole leading parts) is a prefix of this key.
    pub fn starts_with(&self, prefix: &CacheKey) -> bool {
        self.0.encoded.starts_with(&prefix.0.encoded)
    }

    /// Bytes this key occupies in a store (for the byte weigher).
    pub(crate) fn weight(&self) -> usize {
        self.0.encoded.len() + 32
    }
}

/// Builds a [`CacheKey`] part by part.
#[derive(Debug)]
pub struct CacheKeyBuilder {
    buf: Vec<u8>,
}

impl CacheKeyBuilder {
    /// Appends one part (a namespace, a method, `name=value` of a key parameter, …).
    #[must_use]
    pub fn part(mut self, part: impl AsRef<[u8]>) -> Self {
        push_part(&mut self.buf, part.as_ref());
        self
    }

    /// The finished key.
    pub fn build(self) -> CacheKey {
        let stage_len = u32::from_le_bytes([self.buf[0], self.buf[1], self.buf[2], self.buf[3]]);
        let hash = xxhash_rust::xxh3::xxh3_64(&self.buf);
        CacheKey(Arc::new(Inner {
            encoded: self.buf.into_boxed_slice(),
            stage_len: stage_len as usize,
            hash,
        }))
    }
}

/// The parts of a key after the stage (see [`CacheKey::parts`]).
#[derive(Debug, Clone)]
pub struct Parts<'a> {
    rest: &'a [u8],
}

impl<'a> Iterator for Parts<'a> {
    type Item = &'a [u8];

    fn next(&mut self) -> Option<&'a [u8]> {
        if self.rest.len() < 4 {
            return None;
        }
        let len = u32::from_le_bytes([self.rest[0], self.rest[1], self.rest[2], self.rest[3]]);
        let (part, rest) = self.rest[4..].split_at(len as usize);
        self.rest = rest;
        Some(part)
    }
}

impl PartialEq for CacheKey {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
            || (self.0.hash == other.0.hash && self.0.encoded == other.0.encoded)
    }
}

impl Eq for CacheKey {}

impl Hash for CacheKey {
    fn hash<H: Hasher>(&self, state: &mut H) {
        state.write_u64(self.0.hash);
    }
}

/// The readable form, `stage|part|part…`, for logs and metrics (non-UTF-8 bytes are
/// replaced). Not unique: use [`CacheKey::as_bytes`] to tell keys apart.
impl fmt::Display for CacheKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.stage())?;
        for part in self.parts() {
            write!(f, "|{}", String::from_utf8_lossy(part))?;
        }
        Ok(())
    }
}

impl fmt::Debug for CacheKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CacheKey({self})")
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // test code: a panic is the failure report
mod tests {
    use super::*;

    #[test]
    fn parts_are_length_prefixed_so_boundaries_matter() {
        let a = CacheKey::new("s", ["ab", "c"]);
        let b = CacheKey::new("s", ["a", "bc"]);
        assert_ne!(a, b);
        assert_ne!(a.hash64(), b.hash64());
        assert_eq!(a.to_string(), "s|ab|c");
        assert_eq!(a.parts().collect::<Vec<_>>(), vec![&b"ab"[..], b"c"]);
    }

    #[test]
    fn equal_parts_give_equal_keys_and_a_stable_hash() {
        let a = CacheKey::new("prod", ["ns", "GET"]);
        let b = CacheKey::builder("prod").part("ns").part("GET").build();
        assert_eq!(a, b);
        // Stable across builds and machines: Redis keys depend on it.
        assert_eq!(a.hash64(), xxhash_rust::xxh3::xxh3_64(a.as_bytes()));
        assert_eq!(
            a.as_bytes(),
            b"\x04\0\0\0prod\x02\0\0\0ns\x03\0\0\0GET".as_slice()
        );
    }

    #[test]
    fn the_stage_is_not_a_part() {
        let a = CacheKey::new("prod", Vec::<&str>::new());
        assert_eq!(a.stage(), "prod");
        assert_eq!(a.parts().count(), 0);
        assert!(CacheKey::new("prod", ["x"]).starts_with(&a));
        assert!(!CacheKey::new("prod2", ["x"]).starts_with(&a));
        assert!(!CacheKey::new("pro", ["x"]).starts_with(&a));
    }

    #[test]
    fn empty_parts_are_parts() {
        let a = CacheKey::new("s", ["", "x"]);
        let b = CacheKey::new("s", ["x"]);
        assert_ne!(a, b);
        assert_eq!(a.parts().count(), 2);
    }
}
