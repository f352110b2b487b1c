//! Function records: a few indexed columns and an open JSON document for the rest, so the
//! Lambda API can grow the configuration without a migration per field.

use rusqlite::{params, OptionalExtension, Row};

use crate::error::{db_err, StoreError};
use crate::store::Store;

#[derive(Debug, Clone, PartialEq)]
pub struct FunctionRecord {
    pub name: String,
    /// Base64 SHA-256 of the code zip (AWS's `CodeSha256`).
    pub code_sha256: String,
    pub revision_id: String,
    /// `2018-11-14T23:03:52.894+0000`
    pub last_modified: String,
    /// Everything else (configuration, layers, environment, …), owned by the caller.
    pub data: serde_json::Value,
}

fn raw(r: &Row<'_>) -> rusqlite::Result<(String, String, String, String, String)> {
    Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
}

fn finish(
    (name, code_sha256, revision_id, last_modified, data): (String, String, String, String, String),
) -> Result<FunctionRecord, StoreError> {
    let data = serde_json::from_str(&data).map_err(|e| StoreError::Corrupt {
        what: "function record",
        detail: format!("{name}: {e}"),
    })?;
    Ok(FunctionRecord {
        name,
        code_sha256,
        revision_id,
        last_modified,
        data,
    })
}

const SELECT: &str = "SELECT name, code_sha256, revision_id, last_modified, data FROM functions";

impl Store {
    /// Inserts or replaces the record named `rec.name`.
    pub fn put_function(&self, rec: &FunctionRecord) -> Result<(), StoreError> {
        let data = serde_json::to_string(&rec.data).map_err(|e| StoreError::Corrupt {
            what: "function record",
            detail: format!("{}: {e}", rec.name),
        })?;
        self.conn()
            .execute(
                "INSERT INTO functions (name, code_sha256, revision_id, last_modified, data)
                 VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT (name) DO UPDATE SET code_sha256 = excluded.code_sha256,
                    revision_id = excluded.revision_id, last_modified = excluded.last_modified,
                    data = excluded.data",
                params![
                    rec.name,
                    rec.code_sha256,
                    rec.revision_id,
                    rec.last_modified,
                    data
                ],
            )
            .map_err(db_err("save a function"))?;
        Ok(())
    }

    pub fn function(&self, name: &str) -> Result<Option<FunctionRecord>, StoreError> {
        let row = self
            .conn()
            .query_row(&format!("{SELECT} WHERE name = ?1"), [name], raw)
            .optional()
            .map_err(db_err("read a function"))?;
        row.map(finish).transpose()
    }

    /// Every function, sorted by name.
    pub fn functions(&self) -> Result<Vec<FunctionRecord>, StoreError> {
        let rows: Vec<_> = {
            let conn = self.conn();
            let mut stmt = conn
                .prepare_cached(&format!("{SELECT} ORDER BY name"))
                .map_err(db_err("list functions"))?;
            let rows = stmt
                .query_map([], raw)
                .map_err(db_err("list functions"))?
                .collect::<Result<_, _>>()
                .map_err(db_err("list functions"))?;
            rows
        };
        rows.into_iter().map(finish).collect()
    }

    /// True when a record was deleted.
    pub fn delete_function(&self, name: &str) -> Result<bool, StoreError> {
        let n = self
            .conn()
            .execute("DELETE FROM functions WHERE name = ?1", [name])
            .map_err(db_err("delete a function"))?;
        Ok(n > 0)
    }
}
