//! The Lambda control plane's records: published function versions (numbered per function
//! from 1, numbers never reused while the function exists), aliases, asynchronous-invocation
//! settings, the durable `Event` queue and the failures it records.
//!
//! Configuration travels as JSON documents owned by the caller, as for function records.

use rusqlite::{params, OptionalExtension, TransactionBehavior};

use crate::error::{db_err, StoreError};
use crate::store::Store;

fn to_text(what: &'static str, v: &serde_json::Value) -> Result<String, StoreError> {
    serde_json::to_string(v).map_err(|e| StoreError::Corrupt {
        what,
        detail: e.to_string(),
    })
}

fn from_text(what: &'static str, s: &str) -> Result<serde_json::Value, StoreError> {
    serde_json::from_str(s).map_err(|e| StoreError::Corrupt {
        what,
        detail: e.to_string(),
    })
}

/// An event waiting in the asynchronous queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AsyncEvent {
    pub id: i64,
    pub function: String,
    /// `None` = `$LATEST`.
    pub qualifier: Option<String>,
    pub request_id: String,
    pub payload: Vec<u8>,
    /// Invocations that ran and failed so far.
    pub attempts: u32,
    /// Times the event was turned back for lack of capacity.
    pub throttles: u32,
    /// Milliseconds since the Unix epoch.
    pub enqueued_ms: i64,
    pub next_attempt_ms: i64,
}

/// An asynchronous invocation that failed for good (or a record that could not be
/// delivered to its destination).
#[derive(Debug, Clone, PartialEq)]
pub struct AsyncFailure {
    pub id: i64,
    pub function: String,
    pub request_id: String,
    /// `RetriesExhausted`, `EventAgeExceeded`, `Success` (an undeliverable success record).
    pub condition: String,
    /// `2019-11-14T18:16:05.568Z`
    pub created: String,
    /// The invocation record, as Lambda sends it to destinations.
    pub record: serde_json::Value,
    pub note: Option<String>,
}

/// `async_failures` as read: id, function, request id, condition, created, record, note.
type FailureRow = (i64, String, String, String, String, String, Option<String>);

const EVENT_COLUMNS: &str = "id, function, qualifier, request_id, payload, attempts, throttles, enqueued_ms, next_attempt_ms";

fn event_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<AsyncEvent> {
    Ok(AsyncEvent {
        id: r.get(0)?,
        function: r.get(1)?,
        qualifier: r.get(2)?,
        request_id: r.get(3)?,
        payload: r.get(4)?,
        attempts: r.get(5)?,
        throttles: r.get(6)?,
        enqueued_ms: r.get(7)?,
        next_attempt_ms: r.get(8)?,
    })
}

impl Store {
    // ------------------------------------------------------------ versions

    /// The next version number of `function` (1, 2, …), reserved: a number is never
    /// handed out twice while the function exists, even if its version is deleted.
    pub fn next_function_version(&self, function: &str) -> Result<u32, StoreError> {
        let mut conn = self.conn();
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(db_err("number a function version"))?;
        tx.execute(
            "INSERT INTO function_version_counters (function, last_version) VALUES (?1, 0)
             ON CONFLICT (function) DO NOTHING",
            [function],
        )
        .map_err(db_err("number a function version"))?;
        let v: u32 = tx
            .query_row(
                "UPDATE function_version_counters SET last_version = last_version + 1
                 WHERE function = ?1 RETURNING last_version",
                [function],
                |r| r.get(0),
            )
            .map_err(db_err("number a function version"))?;
        tx.commit().map_err(db_err("number a function version"))?;
        Ok(v)
    }

    /// Saves a published version's document.
    pub fn put_function_version(
        &self,
        function: &str,
        version: u32,
        data: &serde_json::Value,
    ) -> Result<(), StoreError> {
        let text = to_text("function version", data)?;
        self.conn()
            .execute(
                "INSERT INTO function_versions (function, version, data) VALUES (?1, ?2, ?3)
                 ON CONFLICT (function, version) DO UPDATE SET data = excluded.data",
                params![function, version, text],
            )
            .map_err(db_err("save a function version"))?;
        Ok(())
    }

    /// Published versions of `function`, oldest first.
    pub fn function_versions(
        &self,
        function: &str,
    ) -> Result<Vec<(u32, serde_json::Value)>, StoreError> {
        let rows: Vec<(u32, String)> = {
            let conn = self.conn();
            let mut stmt = conn
                .prepare_cached(
                    "SELECT version, data FROM function_versions WHERE function = ?1 ORDER BY version",
                )
                .map_err(db_err("list function versions"))?;
            let rows = stmt
                .query_map([function], |r| Ok((r.get(0)?, r.get(1)?)))
                .map_err(db_err("list function versions"))?
                .collect::<Result<_, _>>()
                .map_err(db_err("list function versions"))?;
            rows
        };
        rows.into_iter()
            .map(|(v, d)| Ok((v, from_text("function version", &d)?)))
            .collect()
    }

    /// True when the version existed.
    pub fn delete_function_version(
        &self,
        function: &str,
        version: u32,
    ) -> Result<bool, StoreError> {
        let n = self
            .conn()
            .execute(
                "DELETE FROM function_versions WHERE function = ?1 AND version = ?2",
                params![function, version],
            )
            .map_err(db_err("delete a function version"))?;
        Ok(n > 0)
    }

    // ------------------------------------------------------------- aliases

    pub fn put_function_alias(
        &self,
        function: &str,
        name: &str,
        data: &serde_json::Value,
    ) -> Result<(), StoreError> {
        let text = to_text("function alias", data)?;
        self.conn()
            .execute(
                "INSERT INTO function_aliases (function, name, data) VALUES (?1, ?2, ?3)
                 ON CONFLICT (function, name) DO UPDATE SET data = excluded.data",
                params![function, name, text],
            )
            .map_err(db_err("save an alias"))?;
        Ok(())
    }

    /// Aliases of `function`, by name.
    pub fn function_aliases(
        &self,
        function: &str,
    ) -> Result<Vec<(String, serde_json::Value)>, StoreError> {
        let rows: Vec<(String, String)> = {
            let conn = self.conn();
            let mut stmt = conn
                .prepare_cached(
                    "SELECT name, data FROM function_aliases WHERE function = ?1 ORDER BY name",
                )
                .map_err(db_err("list aliases"))?;
            let rows = stmt
                .query_map([function], |r| Ok((r.get(0)?, r.get(1)?)))
                .map_err(db_err("list aliases"))?
                .collect::<Result<_, _>>()
                .map_err(db_err("list aliases"))?;
            rows
        };
        rows.into_iter()
            .map(|(n, d)| Ok((n, from_text("function alias", &d)?)))
            .collect()
    }

    pub fn delete_function_alias(&self, function: &str, name: &str) -> Result<bool, StoreError> {
        let n = self
            .conn()
            .execute(
                "DELETE FROM function_aliases WHERE function = ?1 AND name = ?2",
                params![function, name],
            )
            .map_err(db_err("delete an alias"))?;
        Ok(n > 0)
    }

    /// Deletes a function with everything that hangs off it (record, versions, their
    /// numbering, aliases, event-invoke configs, queued events), in one transaction.
    /// Recorded failures stay readable. True when the function record existed.
    pub fn delete_function_everything(&self, function: &str) -> Result<bool, StoreError> {
        let mut conn = self.conn();
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(db_err("delete a function"))?;
        let n = tx
            .execute("DELETE FROM functions WHERE name = ?1", [function])
            .map_err(db_err("delete a function"))?;
        for sql in [
            "DELETE FROM function_versions WHERE function = ?1",
            "DELETE FROM function_version_counters WHERE function = ?1",
            "DELETE FROM function_aliases WHERE function = ?1",
            "DELETE FROM event_invoke_configs WHERE function = ?1",
            "DELETE FROM async_events WHERE function = ?1",
        ] {
            tx.execute(sql, [function])
                .map_err(db_err("delete a function"))?;
        }
        tx.commit().map_err(db_err("delete a function"))?;
        Ok(n > 0)
    }

    // ------------------------------------------------ event-invoke configs

    /// Saves the asynchronous-invocation settings of `function:qualifier`.
    pub fn put_event_invoke_config(
        &self,
        function: &str,
        qualifier: &str,
        data: &serde_json::Value,
    ) -> Result<(), StoreError> {
        let text = to_text("event invoke config", data)?;
        self.conn()
            .execute(
                "INSERT INTO event_invoke_configs (function, qualifier, data) VALUES (?1, ?2, ?3)
                 ON CONFLICT (function, qualifier) DO UPDATE SET data = excluded.data",
                params![function, qualifier, text],
            )
            .map_err(db_err("save an event invoke config"))?;
        Ok(())
    }

    pub fn event_invoke_config(
        &self,
        function: &str,
        qualifier: &str,
    ) -> Result<Option<serde_json::Value>, StoreError> {
        let text: Option<String> = self
            .conn()
            .query_row(
                "SELECT data FROM event_invoke_configs WHERE function = ?1 AND qualifier = ?2",
                params![function, qualifier],
                |r| r.get(0),
            )
            .optional()
            .map_err(db_err("read an event invoke config"))?;
        text.map(|t| from_text("event invoke config", &t))
            .transpose()
    }

    /// Every config of `function`, by qualifier.
    pub fn event_invoke_configs(
        &self,
        function: &str,
    ) -> Result<Vec<(String, serde_json::Value)>, StoreError> {
        let rows: Vec<(String, String)> = {
            let conn = self.conn();
            let mut stmt = conn
                .prepare_cached(
                    "SELECT qualifier, data FROM event_invoke_configs WHERE function = ?1 ORDER BY qualifier",
                )
                .map_err(db_err("list event invoke configs"))?;
            let rows = stmt
                .query_map([function], |r| Ok((r.get(0)?, r.get(1)?)))
                .map_err(db_err("list event invoke configs"))?
                .collect::<Result<_, _>>()
                .map_err(db_err("list event invoke configs"))?;
            rows
        };
        rows.into_iter()
            .map(|(q, d)| Ok((q, from_text("event invoke config", &d)?)))
            .collect()
    }

    pub fn delete_event_invoke_config(
        &self,
        function: &str,
        qualifier: &str,
    ) -> Result<bool, StoreError> {
        let n = self
            .conn()
            .execute(
                "DELETE FROM event_invoke_configs WHERE function = ?1 AND qualifier = ?2",
                params![function, qualifier],
            )
            .map_err(db_err("delete an event invoke config"))?;
        Ok(n > 0)
    }

    // --------------------------------------------------------- async queue

    /// Queues an event; it is durable when this returns. Returns its id.
    pub fn enqueue_async(
        &self,
        function: &str,
        qualifier: Option<&str>,
        request_id: &str,
        payload: &[u8],
        now_ms: i64,
    ) -> Result<i64, StoreError> {
        let conn = self.conn();
        conn.execute(
            "INSERT INTO async_events (function, qualifier, request_id, payload, attempts, throttles,
                enqueued_ms, next_attempt_ms) VALUES (?1, ?2, ?3, ?4, 0, 0, ?5, ?5)",
            params![function, qualifier, request_id, payload, now_ms],
        )
        .map_err(db_err("queue an event"))?;
        Ok(conn.last_insert_rowid())
    }

    /// Events due at `now_ms`, oldest due first, at most `limit`, skipping `exclude`
    /// (events already being processed).
    pub fn due_async_events(
        &self,
        now_ms: i64,
        limit: usize,
        exclude: &[i64],
    ) -> Result<Vec<AsyncEvent>, StoreError> {
        let conn = self.conn();
        let mut stmt = conn
            .prepare_cached(&format!(
                "SELECT {EVENT_COLUMNS} FROM async_events WHERE next_attempt_ms <= ?1
                 ORDER BY next_attempt_ms, id LIMIT ?2"
            ))
            .map_err(db_err("read due events"))?;
        let fetch = (limit + exclude.len()) as i64;
        let rows: Vec<AsyncEvent> = stmt
            .query_map(params![now_ms, fetch], event_row)
            .map_err(db_err("read due events"))?
            .collect::<Result<_, _>>()
            .map_err(db_err("read due events"))?;
        Ok(rows
            .into_iter()
            .filter(|e| !exclude.contains(&e.id))
            .take(limit)
            .collect())
    }

    /// When the earliest queued event is due, skipping `exclude`.
    pub fn next_async_due_ms(&self, exclude: &[i64]) -> Result<Option<i64>, StoreError> {
        let conn = self.conn();
        let mut stmt = conn
            .prepare_cached("SELECT id, next_attempt_ms FROM async_events ORDER BY next_attempt_ms, id LIMIT ?1")
            .map_err(db_err("read the queue"))?;
        let rows: Vec<(i64, i64)> = stmt
            .query_map([(exclude.len() + 1) as i64], |r| Ok((r.get(0)?, r.get(1)?)))
            .map_err(db_err("read the queue"))?
            .collect::<Result<_, _>>()
            .map_err(db_err("read the queue"))?;
        Ok(rows
            .into_iter()
            .find(|(id, _)| !exclude.contains(id))
            .map(|(_, due)| due))
    }

    /// Puts an event back for a later attempt.
    pub fn reschedule_async(
        &self,
        id: i64,
        attempts: u32,
        throttles: u32,
        next_attempt_ms: i64,
    ) -> Result<(), StoreError> {
        self.conn()
            .execute(
                "UPDATE async_events SET attempts = ?2, throttles = ?3, next_attempt_ms = ?4 WHERE id = ?1",
                params![id, attempts, throttles, next_attempt_ms],
            )
            .map_err(db_err("reschedule an event"))?;
        Ok(())
    }

    /// Removes a processed event.
    pub fn delete_async(&self, id: i64) -> Result<(), StoreError> {
        self.conn()
            .execute("DELETE FROM async_events WHERE id = ?1", [id])
            .map_err(db_err("remove an event"))?;
        Ok(())
    }

    /// Events still queued for `function` (all functions with `None`).
    pub fn queued_async_events(
        &self,
        function: Option<&str>,
    ) -> Result<Vec<AsyncEvent>, StoreError> {
        let conn = self.conn();
        let mut stmt = conn
            .prepare_cached(&format!(
                "SELECT {EVENT_COLUMNS} FROM async_events WHERE ?1 IS NULL OR function = ?1 ORDER BY id"
            ))
            .map_err(db_err("list queued events"))?;
        let rows = stmt
            .query_map([function], event_row)
            .map_err(db_err("list queued events"))?
            .collect::<Result<_, _>>()
            .map_err(db_err("list queued events"))?;
        Ok(rows)
    }

    /// Records an invocation that failed for good.
    pub fn record_async_failure(
        &self,
        function: &str,
        request_id: &str,
        condition: &str,
        record: &serde_json::Value,
        note: Option<&str>,
    ) -> Result<i64, StoreError> {
        let text = to_text("async failure", record)?;
        let created = chrono::Utc::now()
            .format("%Y-%m-%dT%H:%M:%S%.3fZ")
            .to_string();
        let conn = self.conn();
        conn.execute(
            "INSERT INTO async_failures (function, request_id, condition, created, record, note)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![function, request_id, condition, created, text, note],
        )
        .map_err(db_err("record a failed event"))?;
        Ok(conn.last_insert_rowid())
    }

    /// Recorded failures of `function`, oldest first.
    pub fn async_failures(&self, function: &str) -> Result<Vec<AsyncFailure>, StoreError> {
        let rows: Vec<FailureRow> = {
            let conn = self.conn();
            let mut stmt = conn
                .prepare_cached(
                    "SELECT id, function, request_id, condition, created, record, note
                     FROM async_failures WHERE function = ?1 ORDER BY id",
                )
                .map_err(db_err("list failed events"))?;
            let rows = stmt
                .query_map([function], |r| {
                    Ok((
                        r.get(0)?,
                        r.get(1)?,
                        r.get(2)?,
                        r.get(3)?,
                        r.get(4)?,
                        r.get(5)?,
                        r.get(6)?,
                    ))
                })
                .map_err(db_err("list failed events"))?
                .collect::<Result<_, _>>()
                .map_err(db_err("list failed events"))?;
            rows
        };
        rows.into_iter()
            .map(
                |(id, function, request_id, condition, created, record, note)| {
                    Ok(AsyncFailure {
                        id,
                        function,
                        request_id,
                        condition,
                        created,
                        record: from_text("async failure", &record)?,
                        note,
                    })
                },
            )
            .collect()
    }
}
