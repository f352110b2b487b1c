//! CloudFront invalidation history: one row per CreateInvalidation batch, keyed by
//! distribution id and invalidation id, rewritten on every status change. The edge owns
//! what the fields mean; this file only keeps them.

use rusqlite::params;

use crate::error::{db_err, StoreError};
use crate::store::Store;

/// One invalidation batch as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvalidationRecord {
    pub distribution_id: String,
    /// `I…`, CloudFront's shape.
    pub id: String,
    /// `InProgress` or `Completed`.
    pub status: String,
    /// Milliseconds since the Unix epoch.
    pub create_time_ms: i64,
    pub paths: Vec<String>,
    pub caller_reference: String,
    pub objects_removed: u64,
}

impl Store {
    /// Saves a batch, replacing an earlier record of the same id.
    pub fn put_invalidation(&self, r: &InvalidationRecord) -> Result<(), StoreError> {
        let paths = serde_json::to_string(&r.paths).map_err(|e| StoreError::Corrupt {
            what: "invalidation paths",
            detail: e.to_string(),
        })?;
        self.conn()
            .execute(
                "INSERT INTO invalidations
                   (distribution_id, id, status, create_time_ms, paths, caller_reference, objects_removed)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
                 ON CONFLICT (distribution_id, id) DO UPDATE SET
                   status = excluded.status, objects_removed = excluded.objects_removed",
                params![
                    r.distribution_id,
                    r.id,
                    r.status,
                    r.create_time_ms,
                    paths,
                    r.caller_reference,
                    r.objects_removed as i64
                ],
            )
            .map_err(db_err("save an invalidation"))?;
        Ok(())
    }

    /// Every batch of a distribution, oldest first.
    pub fn invalidations(
        &self,
        distribution_id: &str,
    ) -> Result<Vec<InvalidationRecord>, StoreError> {
        type Row = (String, String, String, i64, String, String, i64);
        let rows: Vec<Row> = {
            let conn = self.conn();
            let mut stmt = conn
                .prepare_cached(
                    "SELECT distribution_id, id, status, create_time_ms, paths, caller_reference,
                            objects_removed
                     FROM invalidations WHERE distribution_id = ?1
                     ORDER BY create_time_ms, id",
                )
                .map_err(db_err("list invalidations"))?;
            let rows = stmt
                .query_map([distribution_id], |r| {
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
                .map_err(db_err("list invalidations"))?
                .collect::<Result<_, _>>()
                .map_err(db_err("list invalidations"))?;
            rows
        };
        rows.into_iter()
            .map(|(d, id, status, t, paths, caller, removed)| {
                Ok(InvalidationRecord {
                    distribution_id: d,
                    id,
                    status,
                    create_time_ms: t,
                    paths: serde_json::from_str(&paths).map_err(|e| StoreError::Corrupt {
                        what: "invalidation paths",
                        detail: e.to_string(),
                    })?,
                    caller_reference: caller,
                    objects_removed: removed.max(0) as u64,
                })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(id: &str, status: &str, t: i64) -> InvalidationRecord {
        InvalidationRecord {
            distribution_id: "E1ABC".into(),
            id: id.into(),
            status: status.into(),
            create_time_ms: t,
            paths: vec!["/index.html".into(), "/img/*".into()],
            caller_reference: format!("ref-{id}"),
            objects_removed: 0,
        }
    }

    #[test]
    fn history_survives_reopening_and_status_updates_in_place() {
        let dir = tempfile::tempdir().expect("tempdir");
        {
            let store = Store::open(dir.path(), "us-east-1", "123456789012").expect("open");
            store
                .put_invalidation(&record("I2", "InProgress", 20))
                .expect("put");
            store
                .put_invalidation(&record("I1", "InProgress", 10))
                .expect("put");
            store
                .put_invalidation(&InvalidationRecord {
                    objects_removed: 3,
                    ..record("I1", "Completed", 10)
                })
                .expect("update");
        }
        let store = Store::open(dir.path(), "us-east-1", "123456789012").expect("reopen");
        let got = store.invalidations("E1ABC").expect("list");
        assert_eq!(got.len(), 2);
        assert_eq!(got[0].id, "I1");
        assert_eq!(got[0].status, "Completed");
        assert_eq!(got[0].objects_removed, 3);
        assert_eq!(got[0].paths, vec!["/index.html", "/img/*"]);
        assert_eq!(got[1].status, "InProgress");
        assert!(store.invalidations("OTHER").expect("list").is_empty());
    }
}
