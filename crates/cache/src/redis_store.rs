//! The Redis store: one response cache shared by several ledge nodes.

use std::fmt;
use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use async_trait::async_trait;
use bytes::Bytes;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{Client, Script};

use crate::entry::{storable, CachedResponse};
use crate::error::CacheError;
use crate::key::CacheKey;
use crate::store::{CacheStore, StoreStats};

/// How to reach Redis and how hard to try.
#[derive(Clone, Debug)]
pub struct RedisConfig {
    /// `redis://[user:password@]host:port[/db]`.
    pub url: String,
    /// The cache's name in Redis keys (e.g. the REST API id); stores with the same name and
    /// URL share entries and flushes.
    pub name: String,
    /// The longest a lookup or store may wait for Redis before it counts as a miss.
    pub op_timeout: Duration,
    /// The longest a (re)connection may take.
    pub connect_timeout: Duration,
    /// After a failure, how long requests skip Redis (instant misses) before trying again.
    pub retry_after: Duration,
    /// Failures are logged at most once per this interval.
    pub error_log_interval: Duration,
}

impl RedisConfig {
    /// Defaults for `url` and cache `name`: 100 ms per operation, 250 ms to connect, retry
    /// 250 ms after a failure, log failures at most every 10 s.
    pub fn new(url: impl Into<String>, name: impl Into<String>) -> Self {
        RedisConfig {
            url: url.into(),
            name: name.into(),
            op_timeout: Duration::from_millis(100),
            connect_timeout: Duration::from_millis(250),
            retry_after: Duration::from_millis(250),
            error_log_interval: Duration::from_secs(10),
        }
    }
}

/// How the connection to Redis has fared.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RedisHealth {
    /// Whether the last operation reached Redis (true before the first one).
    pub available: bool,
    /// Operations that failed or timed out (each served as a miss or a dropped store).
    pub errors: u64,
    /// How many of those were logged (at most one per `error_log_interval`).
    pub logged: u64,
}

/// Reads the stage generation and the entry in one round trip. The entry key is built from
/// the generation, inside the stage's hash slot (`{cache:stage}`).
const GET_SCRIPT: &str = r"
local g = redis.call('GET', KEYS[1]) or '0'
return redis.call('GET', ARGV[1] .. g .. ':' .. ARGV[2])
";

/// Stores under the current generation with a TTL in milliseconds.
const PUT_SCRIPT: &str = r"
local g = redis.call('GET', KEYS[1]) or '0'
redis.call('SET', ARGV[1] .. g .. ':' .. ARGV[2], ARGV[3], 'PX', ARGV[4])
return 1
";

/// A [`CacheStore`] in Redis, shared by every ledge node that names the same cache.
///
/// Keys are `ledge:{<cache>:<stage>}:<generation>:<h1>.<h2>.…` where `hN` is the xxh3 of
/// each key part (so whole-part prefixes can be purged with `SCAN MATCH`); the generation
/// lives at `ledge:{<cache>:<stage>}:gen`, and a flush is one `INCR` of it (O(1), seen by
/// every node). Entries carry `PX` TTLs, so Redis reclaims them, flushed ones included.
///
/// If Redis fails or is slow, a lookup is a miss and a store is dropped; failures are logged
/// at most once per interval and requests skip Redis for `retry_after`, then try again, so
/// the store recovers by itself when Redis returns.
pub struct RedisStore {
    conn: ConnectionManager,
    config: RedisConfig,
    get_script: Script,
    put_script: Script,
    health: Health,
}

impl fmt::Debug for RedisStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisStore")
            .field("name", &self.config.name)
            .field("health", &self.health())
            .finish()
    }
}

impl RedisStore {
    /// A store for `config`. It connects lazily, so ledge starts even while Redis is down.
    /// Must be called inside a Tokio runtime.
    pub fn new(config: RedisConfig) -> Result<Self, CacheError> {
        let url_error = |source| CacheError::RedisUrl {
            url: config.url.clone(),
            source,
        };
        let client = Client::open(config.url.as_str()).map_err(url_error)?;
        let manager_config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(config.connect_timeout))
            .set_response_timeout(Some(config.op_timeout))
            .set_number_of_retries(1)
            .set_min_delay(Duration::from_millis(10))
            .set_max_delay(Duration::from_millis(100));
        let conn =
            ConnectionManager::new_lazy_with_config(client, manager_config).map_err(url_error)?;
        Ok(RedisStore {
            conn,
            get_script: Script::new(GET_SCRIPT),
            put_script: Script::new(PUT_SCRIPT),
            health: Health::new(),
            config,
        })
    }

    /// How the connection has fared.
    pub fn health(&self) -> RedisHealth {
        RedisHealth {
            available: !self.health.failing.load(Ordering::Relaxed),
            errors: self.health.errors.load(Ordering::Relaxed),
            logged: self.health.logged.load(Ordering::Relaxed),
        }
    }

    /// `ledge:{<cache>:<stage>}:`
    fn stage_prefix(&self, stage: &str) -> String {
        let mut s = String::with_capacity(16 + self.config.name.len() + stage.len());
        s.push_str("ledge:{");
        escape_into(&mut s, &self.config.name);
        s.push(':');
        escape_into(&mut s, stage);
        s.push_str("}:");
        s
    }

    async fn run<T>(
        &self,
        op: &'static str,
        fut: impl Future<Output = redis::RedisResult<T>>,
    ) -> Result<T, CacheError> {
        match tokio::time::timeout(self.config.op_timeout, fut).await {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(source)) => Err(CacheError::Redis {
                op,
                cache: self.config.name.clone(),
                source,
            }),
            Err(_) => Err(CacheError::RedisTimeout {
                op,
                cache: self.config.name.clone(),
                timeout: self.config.op_timeout,
            }),
        }
    }

    /// Runs an administrative command, recording its outcome in the health counters.
    async fn admin<T>(
        &self,
        op: &'static str,
        fut: impl Future<Output = redis::RedisResult<T>>,
    ) -> Result<T, CacheError> {
        let result = self.run(op, fut).await;
        match &result {
            Ok(_) => self.health.ok(&self.config.name),
            Err(error) => self.health.failed(&self.config, error),
        }
        result
    }

    async fn current_generation(&self, stage_prefix: &str) -> Result<u64, CacheError> {
        let mut conn = self.conn.clone();
        let generation: Option<u64> = self
            .admin(
                "generation",
                redis::cmd("GET")
                    .arg(format!("{stage_prefix}gen"))
                    .query_async(&mut conn),
            )
            .await?;
        Ok(generation.unwrap_or(0))
    }

    /// Deletes every key matching `pattern`, a batch at a time.
    async fn delete_matching(&self, pattern: &str) -> Result<(), CacheError> {
        let mut conn = self.conn.clone();
        let mut cursor: u64 = 0;
        loop {
            let (next, keys): (u64, Vec<Vec<u8>>) = self
                .admin(
                    "purge",
                    redis::cmd("SCAN")
                        .arg(cursor)
                        .arg("MATCH")
                        .arg(pattern)
                        .arg("COUNT")
                        .arg(1000)
                        .query_async(&mut conn),
                )
                .await?;
            if !keys.is_empty() {
                let _: u64 = self
                    .admin(
                        "purge",
                        redis::cmd("UNLINK").arg(&keys).query_async(&mut conn),
                    )
                    .await?;
            }
            if next == 0 {
                return Ok(());
            }
            cursor = next;
        }
    }
}

/// `<h1>.<h2>.…` (each part's xxh3 in hex, each followed by a dot).
fn part_suffix<'a>(parts: impl Iterator<Item = &'a [u8]>) -> String {
    let mut s = String::with_capacity(68);
    for part in parts {
        s.push_str(&format!("{:016x}.", xxhash_rust::xxh3::xxh3_64(part)));
    }
    s
}

/// Percent-encodes everything but `[A-Za-z0-9_.~-]`, so names can neither close the hash
/// tag nor act as `SCAN MATCH` wildcards.
fn escape_into(out: &mut String, s: &str) {
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'~' | b'-') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
}

#[async_trait]
impl CacheStore for RedisStore {
    async fn get(&self, key: &CacheKey, now: SystemTime) -> Option<Arc<CachedResponse>> {
        if self.health.skipping() {
            return None;
        }
        let prefix = self.stage_prefix(key.stage());
        let mut conn = self.conn.clone();
        let mut invocation = self.get_script.prepare_invoke();
        invocation
            .key(format!("{prefix}gen"))
            .arg(&prefix)
            .arg(part_suffix(key.parts()));
        let result: Result<Option<Vec<u8>>, _> =
            self.run("get", invocation.invoke_async(&mut conn)).await;
        let bytes = match result {
            Ok(bytes) => {
                self.health.ok(&self.config.name);
                bytes?
            }
            Err(error) => {
                self.health.failed(&self.config, &error);
                return None;
            }
        };
        match CachedResponse::decode(Bytes::from(bytes)) {
            Ok(entry) if entry.is_fresh(now) => Some(Arc::new(entry)),
            Ok(_) => None,
            Err(error) => {
                self.health.failed(&self.config, &error);
                None
            }
        }
    }

    async fn put(&self, key: &CacheKey, entry: CachedResponse) {
        if !storable(&entry) || self.health.skipping() {
            return;
        }
        let ttl_ms = u64::try_from(entry.store_ttl().as_nanos().div_ceil(1_000_000))
            .unwrap_or(u64::MAX)
            .max(1);
        let prefix = self.stage_prefix(key.stage());
        let mut conn = self.conn.clone();
        let mut invocation = self.put_script.prepare_invoke();
        invocation
            .key(format!("{prefix}gen"))
            .arg(&prefix)
            .arg(part_suffix(key.parts()))
            .arg(entry.encode().as_ref())
            .arg(ttl_ms);
        let result: Result<i64, _> = self.run("put", invocation.invoke_async(&mut conn)).await;
        match result {
            Ok(_) => self.health.ok(&self.config.name),
            Err(error) => self.health.failed(&self.config, &error),
        }
    }

    async fn flush(&self, stage: &str) -> Result<(), CacheError> {
        let mut conn = self.conn.clone();
        let gen_key = format!("{}gen", self.stage_prefix(stage));
        let _: u64 = self
            .admin(
                "flush",
                redis::cmd("INCR").arg(gen_key).query_async(&mut conn),
            )
            .await?;
        Ok(())
    }

    async fn purge(&self, prefix: &CacheKey) -> Result<(), CacheError> {
        if prefix.parts().next().is_none() {
            return self.flush(prefix.stage()).await;
        }
        let stage_prefix = self.stage_prefix(prefix.stage());
        let generation = self.current_generation(&stage_prefix).await?;
        let pattern = format!(
            "{stage_prefix}{generation}:{}*",
            part_suffix(prefix.parts())
        );
        self.delete_matching(&pattern).await
    }

    async fn stats(&self) -> Result<StoreStats, CacheError> {
        let mut pattern = String::from("ledge:{");
        escape_into(&mut pattern, &self.config.name);
        pattern.push_str(":*");
        let mut conn = self.conn.clone();
        let mut stats = StoreStats::default();
        let mut cursor: u64 = 0;
        loop {
            let (next, keys): (u64, Vec<String>) = self
                .admin(
                    "stats",
                    redis::cmd("SCAN")
                        .arg(cursor)
                        .arg("MATCH")
                        .arg(&pattern)
                        .arg("COUNT")
                        .arg(1000)
                        .query_async(&mut conn),
                )
                .await?;
            let entries: Vec<&String> = keys.iter().filter(|k| !k.ends_with("}:gen")).collect();
            if !entries.is_empty() {
                let mut pipe = redis::pipe();
                for key in &entries {
                    pipe.cmd("STRLEN").arg(key.as_str());
                }
                let lens: Vec<u64> = self.admin("stats", pipe.query_async(&mut conn)).await?;
                stats.entries += lens.iter().filter(|&&n| n > 0).count() as u64;
                stats.bytes += lens.iter().sum::<u64>();
            }
            if next == 0 {
                return Ok(stats);
            }
            cursor = next;
        }
    }
}

/// Failure bookkeeping: counts, throttled logging, and the retry-after window.
struct Health {
    epoch: Instant,
    errors: AtomicU64,
    logged: AtomicU64,
    /// Milliseconds since `epoch` of the last log line, `u64::MAX` before the first.
    last_log_ms: AtomicU64,
    /// Milliseconds since `epoch` before which requests skip Redis.
    skip_until_ms: AtomicU64,
    failing: AtomicBool,
}

impl Health {
    fn new() -> Self {
        Health {
            epoch: Instant::now(),
            errors: AtomicU64::new(0),
            logged: AtomicU64::new(0),
            last_log_ms: AtomicU64::new(u64::MAX),
            skip_until_ms: AtomicU64::new(0),
            failing: AtomicBool::new(false),
        }
    }

    fn now_ms(&self) -> u64 {
        u64::try_from(self.epoch.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    fn skipping(&self) -> bool {
        self.failing.load(Ordering::Relaxed)
            && self.now_ms() < self.skip_until_ms.load(Ordering::Relaxed)
    }

    fn ok(&self, cache: &str) {
        if self.failing.load(Ordering::Relaxed) && self.failing.swap(false, Ordering::Relaxed) {
            tracing::info!(cache, "redis cache reachable again");
        }
    }

    fn failed(&self, config: &RedisConfig, error: &CacheError) {
        let errors = self.errors.fetch_add(1, Ordering::Relaxed) + 1;
        self.failing.store(true, Ordering::Relaxed);
        let now = self.now_ms();
        let retry_ms = u64::try_from(config.retry_after.as_millis()).unwrap_or(u64::MAX);
        self.skip_until_ms
            .store(now.saturating_add(retry_ms), Ordering::Relaxed);
        let interval = u64::try_from(config.error_log_interval.as_millis()).unwrap_or(u64::MAX);
        let last = self.last_log_ms.load(Ordering::Relaxed);
        let due = last == u64::MAX || now.saturating_sub(last) >= interval;
        if due
            && self
                .last_log_ms
                .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
        {
            self.logged.fetch_add(1, Ordering::Relaxed);
            tracing::warn!(
                cache = %config.name,
                errors,
                %error,
                "redis cache unavailable: serving misses, dropping stores"
            );
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // test code: a panic is the failure report
mod tests {
    use super::*;

    #[test]
    fn names_cannot_escape_the_hash_tag_or_glob() {
        let mut s = String::new();
        escape_into(&mut s, "a}b*c?[d]:e f%\\");
        assert_eq!(s, "a%7Db%2Ac%3F%5Bd%5D%3Ae%20f%25%5C");
        let mut plain = String::new();
        escape_into(&mut plain, "Prod_v2.1-x~");
        assert_eq!(plain, "Prod_v2.1-x~");
    }

    #[test]
    fn a_prefix_suffix_is_a_string_prefix_of_the_key_suffix() {
        let key = CacheKey::new("prod", ["ns", "GET", "q=1"]);
        let prefix = CacheKey::new("prod", ["ns", "GET"]);
        let other = CacheKey::new("prod", ["ns", "GETX"]);
        let k = part_suffix(key.parts());
        assert!(k.starts_with(&part_suffix(prefix.parts())));
        assert!(!part_suffix(other.parts()).starts_with(&part_suffix(prefix.parts())));
        assert_eq!(k.len(), 3 * 17);
    }
}
