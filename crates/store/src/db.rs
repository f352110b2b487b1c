//! The SQLite side: connection settings and versioned migrations.

use std::path::Path;
use std::time::Duration;

use rusqlite::{Connection, OptionalExtension, TransactionBehavior};

use crate::error::{db_err, StoreError};

/// How long a writer waits for another connection's lock before giving up.
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// The schema, as an append-only list: migration N is applied once, in its own
/// transaction, and recorded in `schema_version`. Never edit a shipped entry; add one.
pub(crate) const MIGRATIONS: &[(u32, &str)] = &[
    (
        1,
        "CREATE TABLE artifacts (
            sha256        TEXT PRIMARY KEY,
            code_sha256   TEXT NOT NULL,
            zip_size      INTEGER NOT NULL,
            unzipped_size INTEGER NOT NULL,
            created_at    TEXT NOT NULL
        );
        CREATE TABLE layers (
            name         TEXT PRIMARY KEY,
            last_version INTEGER NOT NULL
        );
        CREATE TABLE layer_versions (
            name                     TEXT NOT NULL REFERENCES layers(name),
            version                  INTEGER NOT NULL,
            description              TEXT NOT NULL,
            compatible_runtimes      TEXT NOT NULL,
            compatible_architectures TEXT NOT NULL,
            license_info             TEXT,
            created_date             TEXT NOT NULL,
            artifact_sha256          TEXT NOT NULL REFERENCES artifacts(sha256),
            deleted                  INTEGER NOT NULL DEFAULT 0,
            PRIMARY KEY (name, version)
        );",
    ),
    (
        2,
        "CREATE TABLE functions (
            name          TEXT PRIMARY KEY,
            code_sha256   TEXT NOT NULL,
            revision_id   TEXT NOT NULL,
            last_modified TEXT NOT NULL,
            data          TEXT NOT NULL
        );",
    ),
    (
        3,
        // The Lambda control plane: published versions and aliases of functions, their
        // asynchronous-invocation settings, the durable Event queue and its failures.
        "CREATE TABLE function_versions (
            function TEXT NOT NULL,
            version  INTEGER NOT NULL,
            data     TEXT NOT NULL,
            PRIMARY KEY (function, version)
        );
        CREATE TABLE function_version_counters (
            function     TEXT PRIMARY KEY,
            last_version INTEGER NOT NULL
        );
        CREATE TABLE function_aliases (
            function TEXT NOT NULL,
            name     TEXT NOT NULL,
            data     TEXT NOT NULL,
            PRIMARY KEY (function, name)
        );
        CREATE TABLE event_invoke_configs (
            function  TEXT NOT NULL,
            qualifier TEXT NOT NULL,
            data      TEXT NOT NULL,
            PRIMARY KEY (function, qualifier)
        );
        CREATE TABLE async_events (
            id              INTEGER PRIMARY KEY AUTOINCREMENT,
            function        TEXT NOT NULL,
            qualifier       TEXT,
            request_id      TEXT NOT NULL,
            payload         BLOB NOT NULL,
            attempts        INTEGER NOT NULL DEFAULT 0,
            throttles       INTEGER NOT NULL DEFAULT 0,
            enqueued_ms     INTEGER NOT NULL,
            next_attempt_ms INTEGER NOT NULL
        );
        CREATE INDEX async_events_due ON async_events (next_attempt_ms);
        CREATE TABLE async_failures (
            id         INTEGER PRIMARY KEY AUTOINCREMENT,
            function   TEXT NOT NULL,
            request_id TEXT NOT NULL,
            condition  TEXT NOT NULL,
            created    TEXT NOT NULL,
            record     TEXT NOT NULL,
            note       TEXT
        );
        CREATE INDEX async_failures_function ON async_failures (function, id);",
    ),
    (
        4,
        // CloudFront invalidation history (CreateInvalidation batches and their status).
        "CREATE TABLE invalidations (
            distribution_id  TEXT NOT NULL,
            id               TEXT NOT NULL,
            status           TEXT NOT NULL,
            create_time_ms   INTEGER NOT NULL,
            paths            TEXT NOT NULL,
            caller_reference TEXT NOT NULL,
            objects_removed  INTEGER NOT NULL DEFAULT 0,
            PRIMARY KEY (distribution_id, id)
        );",
    ),
];

/// The schema version this build writes.
pub const SCHEMA_VERSION: u32 = 4;

pub(crate) fn open(path: &Path) -> Result<(Connection, u32), StoreError> {
    let mut conn = Connection::open(path).map_err(db_err("open the database"))?;
    conn.busy_timeout(BUSY_TIMEOUT)
        .map_err(db_err("set busy_timeout"))?;
    let mode: String = conn
        .query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))
        .map_err(db_err("switch to WAL mode"))?;
    if !mode.eq_ignore_ascii_case("wal") {
        tracing::warn!(journal_mode = %mode, "state database is not in WAL mode");
    }
    conn.pragma_update(None, "synchronous", "NORMAL")
        .map_err(db_err("set synchronous"))?;
    conn.pragma_update(None, "foreign_keys", "ON")
        .map_err(db_err("enable foreign keys"))?;
    let version = migrate(&mut conn)?;
    Ok((conn, version))
}

fn current_version(conn: &Connection) -> Result<u32, rusqlite::Error> {
    let v: Option<u32> = conn
        .query_row("SELECT MAX(version) FROM schema_version", [], |r| r.get(0))
        .optional()?
        .flatten();
    Ok(v.unwrap_or(0))
}

/// Applies every pending migration. Each runs in an IMMEDIATE transaction that re-reads
/// the version first, so two processes opening one database at once apply each step once.
fn migrate(conn: &mut Connection) -> Result<u32, StoreError> {
    conn.execute_batch(
        "CREATE TABLE IF NOT EXISTS schema_version (
            version    INTEGER PRIMARY KEY,
            applied_at TEXT NOT NULL
        );",
    )
    .map_err(db_err("create schema_version"))?;
    for &(version, sql) in MIGRATIONS {
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(|source| StoreError::Migration { version, source })?;
        let current = current_version(&tx).map_err(db_err("read the schema version"))?;
        if current > SCHEMA_VERSION {
            return Err(StoreError::SchemaTooNew {
                found: current,
                supported: SCHEMA_VERSION,
            });
        }
        if current >= version {
            continue;
        }
        let apply = tx.execute_batch(sql).and_then(|()| {
            tx.execute(
                "INSERT INTO schema_version (version, applied_at) VALUES (?1, ?2)",
                rusqlite::params![version, crate::now_aws()],
            )
        });
        apply.map_err(|source| StoreError::Migration { version, source })?;
        tx.commit()
            .map_err(|source| StoreError::Migration { version, source })?;
        tracing::info!(version, "applied state database migration");
    }
    let version = current_version(conn).map_err(db_err("read the schema version"))?;
    if version > SCHEMA_VERSION {
        return Err(StoreError::SchemaTooNew {
            found: version,
            supported: SCHEMA_VERSION,
        });
    }
    Ok(version)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn migrations_are_numbered_one_to_latest() {
        let numbers: Vec<u32> = MIGRATIONS.iter().map(|(v, _)| *v).collect();
        let expected: Vec<u32> = (1..=SCHEMA_VERSION).collect();
        assert_eq!(numbers, expected);
    }
}
