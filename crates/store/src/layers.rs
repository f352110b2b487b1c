//! Layer versions: immutable, numbered per name from 1, numbers never reused.

use rusqlite::{params, Row, TransactionBehavior};
use serde::{Deserialize, Serialize};

use crate::error::{db_err, StoreError};
use crate::store::{Artifact, Store};

/// What a publisher says about a layer version. Informational, as on AWS; validating the
/// runtime and architecture enums is the caller's job.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LayerMeta {
    pub description: String,
    pub compatible_runtimes: Vec<String>,
    pub compatible_architectures: Vec<String>,
    pub license_info: Option<String>,
}

/// One published version of a layer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LayerVersion {
    pub name: String,
    pub version: u32,
    /// `arn:aws:lambda:REGION:ACCOUNT:layer:NAME`
    pub layer_arn: String,
    /// `arn:aws:lambda:REGION:ACCOUNT:layer:NAME:VERSION`
    pub layer_version_arn: String,
    pub meta: LayerMeta,
    /// `2018-11-14T23:03:52.894+0000`
    pub created_date: String,
    pub artifact: Artifact,
    /// Deleted versions stay usable by functions that already reference them.
    pub deleted: bool,
}

/// Why a string is not a usable layer version ARN. Display texts are AWS's where AWS has
/// one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LayerArnError {
    #[error("{arn} is not a layer version ARN (arn:aws:lambda:REGION:ACCOUNT:layer:NAME:VERSION)")]
    Malformed { arn: String },
    #[error("Layers are not in the same region as the function.")]
    OtherRegion { arn: String, region: String },
    #[error("Layer version {arn} does not exist.")]
    OtherAccount { arn: String, account_id: String },
}

/// `[a-zA-Z0-9-_]+`, at most 140 characters.
pub(crate) fn valid_layer_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 140
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

const SELECT: &str = "SELECT lv.name, lv.version, lv.description, lv.compatible_runtimes,
        lv.compatible_architectures, lv.license_info, lv.created_date, lv.deleted,
        a.sha256, a.code_sha256, a.zip_size, a.unzipped_size
    FROM layer_versions lv JOIN artifacts a ON a.sha256 = lv.artifact_sha256";

struct RawLayerVersion {
    name: String,
    version: u32,
    description: String,
    runtimes: String,
    architectures: String,
    license_info: Option<String>,
    created_date: String,
    deleted: bool,
    sha: String,
    code: String,
    zip_size: i64,
    unzipped_size: i64,
}

fn raw(r: &Row<'_>) -> rusqlite::Result<RawLayerVersion> {
    Ok(RawLayerVersion {
        name: r.get(0)?,
        version: r.get(1)?,
        description: r.get(2)?,
        runtimes: r.get(3)?,
        architectures: r.get(4)?,
        license_info: r.get(5)?,
        created_date: r.get(6)?,
        deleted: r.get(7)?,
        sha: r.get(8)?,
        code: r.get(9)?,
        zip_size: r.get(10)?,
        unzipped_size: r.get(11)?,
    })
}

fn json_list(s: &str) -> Result<Vec<String>, StoreError> {
    serde_json::from_str(s).map_err(|e| StoreError::Corrupt {
        what: "layer compatibility list",
        detail: e.to_string(),
    })
}

impl Store {
    /// `arn:aws:lambda:REGION:ACCOUNT:layer:NAME`
    pub fn layer_arn(&self, name: &str) -> String {
        format!(
            "arn:aws:lambda:{}:{}:layer:{name}",
            self.region(),
            self.account_id()
        )
    }

    /// `arn:aws:lambda:REGION:ACCOUNT:layer:NAME:VERSION`
    pub fn layer_version_arn(&self, name: &str, version: u32) -> String {
        format!("{}:{version}", self.layer_arn(name))
    }

    fn finish(&self, r: RawLayerVersion) -> Result<LayerVersion, StoreError> {
        Ok(LayerVersion {
            layer_arn: self.layer_arn(&r.name),
            layer_version_arn: self.layer_version_arn(&r.name, r.version),
            meta: LayerMeta {
                description: r.description,
                compatible_runtimes: json_list(&r.runtimes)?,
                compatible_architectures: json_list(&r.architectures)?,
                license_info: r.license_info,
            },
            created_date: r.created_date,
            artifact: self.artifact_at(r.sha, r.code, r.zip_size, r.unzipped_size),
            deleted: r.deleted,
            name: r.name,
            version: r.version,
        })
    }

    fn query_versions(
        &self,
        filter: &str,
        params: impl rusqlite::Params,
        action: &'static str,
    ) -> Result<Vec<LayerVersion>, StoreError> {
        let rows: Vec<RawLayerVersion> = {
            let conn = self.conn();
            let mut stmt = conn
                .prepare_cached(&format!("{SELECT} {filter}"))
                .map_err(db_err(action))?;
            let rows = stmt
                .query_map(params, raw)
                .map_err(db_err(action))?
                .collect::<Result<_, _>>()
                .map_err(db_err(action))?;
            rows
        };
        rows.into_iter().map(|r| self.finish(r)).collect()
    }

    /// Publishes the next version of `name` (1, 2, …; a number is never reused, even after
    /// its version is deleted).
    pub fn publish_layer_version(
        &self,
        name: &str,
        artifact: &Artifact,
        meta: &LayerMeta,
    ) -> Result<LayerVersion, StoreError> {
        if !valid_layer_name(name) {
            return Err(StoreError::InvalidLayerName { name: name.into() });
        }
        let runtimes =
            serde_json::to_string(&meta.compatible_runtimes).map_err(|e| StoreError::Corrupt {
                what: "layer compatibility list",
                detail: e.to_string(),
            })?;
        let architectures = serde_json::to_string(&meta.compatible_architectures).map_err(|e| {
            StoreError::Corrupt {
                what: "layer compatibility list",
                detail: e.to_string(),
            }
        })?;
        let created = crate::now_aws();
        let version: u32 = {
            let mut conn = self.conn();
            let tx = conn
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(db_err("start publishing a layer version"))?;
            tx.execute(
                "INSERT OR IGNORE INTO artifacts (sha256, code_sha256, zip_size, unzipped_size, created_at)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
                params![
                    artifact.sha256_hex,
                    artifact.code_sha256,
                    artifact.zip_size as i64,
                    artifact.unzipped_size as i64,
                    created
                ],
            )
            .map_err(db_err("record an artifact"))?;
            tx.execute(
                "INSERT INTO layers (name, last_version) VALUES (?1, 0) ON CONFLICT (name) DO NOTHING",
                [name],
            )
            .map_err(db_err("record a layer"))?;
            let version: u32 = tx
                .query_row(
                    "UPDATE layers SET last_version = last_version + 1 WHERE name = ?1
                     RETURNING last_version",
                    [name],
                    |r| r.get(0),
                )
                .map_err(db_err("number a layer version"))?;
            tx.execute(
                "INSERT INTO layer_versions (name, version, description, compatible_runtimes,
                    compatible_architectures, license_info, created_date, artifact_sha256, deleted)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, 0)",
                params![
                    name,
                    version,
                    meta.description,
                    runtimes,
                    architectures,
                    meta.license_info,
                    created,
                    artifact.sha256_hex
                ],
            )
            .map_err(db_err("insert a layer version"))?;
            tx.commit().map_err(db_err("commit a layer version"))?;
            version
        };
        tracing::info!(layer = name, version, sha256 = %artifact.sha256_hex, "published layer version");
        Ok(LayerVersion {
            name: name.to_owned(),
            version,
            layer_arn: self.layer_arn(name),
            layer_version_arn: self.layer_version_arn(name, version),
            meta: meta.clone(),
            created_date: created,
            artifact: artifact.clone(),
            deleted: false,
        })
    }

    /// A live (not deleted) version.
    pub fn layer_version(
        &self,
        name: &str,
        version: u32,
    ) -> Result<Option<LayerVersion>, StoreError> {
        Ok(self
            .query_versions(
                "WHERE lv.name = ?1 AND lv.version = ?2 AND lv.deleted = 0",
                params![name, version],
                "read a layer version",
            )?
            .pop())
    }

    /// A version whether deleted or not: functions that already use a deleted version keep
    /// working, as on AWS.
    pub fn layer_version_any(
        &self,
        name: &str,
        version: u32,
    ) -> Result<Option<LayerVersion>, StoreError> {
        Ok(self
            .query_versions(
                "WHERE lv.name = ?1 AND lv.version = ?2",
                params![name, version],
                "read a layer version",
            )?
            .pop())
    }

    /// The highest live version of `name`.
    pub fn latest_layer_version(&self, name: &str) -> Result<Option<LayerVersion>, StoreError> {
        Ok(self
            .query_versions(
                "WHERE lv.name = ?1 AND lv.deleted = 0 ORDER BY lv.version DESC LIMIT 1",
                [name],
                "read the latest layer version",
            )?
            .pop())
    }

    /// The latest live version of every layer that has one, sorted by name.
    pub fn list_layers(&self) -> Result<Vec<LayerVersion>, StoreError> {
        self.query_versions(
            "WHERE lv.deleted = 0 AND lv.version = (
                 SELECT MAX(v.version) FROM layer_versions v WHERE v.name = lv.name AND v.deleted = 0)
             ORDER BY lv.name",
            [],
            "list layers",
        )
    }

    /// Live versions of `name`, newest first (empty for an unknown layer, as on AWS).
    pub fn list_layer_versions(&self, name: &str) -> Result<Vec<LayerVersion>, StoreError> {
        self.query_versions(
            "WHERE lv.name = ?1 AND lv.deleted = 0 ORDER BY lv.version DESC",
            [name],
            "list layer versions",
        )
    }

    /// Hides a version from new uses. Idempotent: true only when this call deleted it.
    pub fn delete_layer_version(&self, name: &str, version: u32) -> Result<bool, StoreError> {
        let n = self
            .conn()
            .execute(
                "UPDATE layer_versions SET deleted = 1 WHERE name = ?1 AND version = ?2 AND deleted = 0",
                params![name, version],
            )
            .map_err(db_err("delete a layer version"))?;
        Ok(n > 0)
    }

    /// `arn:aws:lambda:REGION:ACCOUNT:layer:NAME:N` → `(NAME, N)` when the ARN names a
    /// layer version of this store's region and account; `None` otherwise (use
    /// [`Store::parse_layer_version_arn`] to tell why).
    pub fn parse_layer_arn(&self, arn: &str) -> Option<(String, u32)> {
        self.parse_layer_version_arn(arn).ok()
    }

    /// Like [`Store::parse_layer_arn`], saying why an ARN is refused. A different region
    /// gives AWS's "Layers are not in the same region as the function."
    pub fn parse_layer_version_arn(&self, arn: &str) -> Result<(String, u32), LayerArnError> {
        let malformed = || LayerArnError::Malformed { arn: arn.into() };
        let parts: Vec<&str> = arn.split(':').collect();
        let [prefix, partition, service, region, account, kind, name, version] = parts[..] else {
            return Err(malformed());
        };
        if prefix != "arn"
            || !partition.starts_with("aws")
            || service != "lambda"
            || kind != "layer"
            || !valid_layer_name(name)
        {
            return Err(malformed());
        }
        let version: u32 = match version.parse() {
            Ok(v) if v >= 1 && !version.starts_with('+') => v,
            _ => return Err(malformed()),
        };
        if region != self.region() {
            return Err(LayerArnError::OtherRegion {
                arn: arn.into(),
                region: region.into(),
            });
        }
        if account != self.account_id() {
            return Err(LayerArnError::OtherAccount {
                arn: arn.into(),
                account_id: account.into(),
            });
        }
        Ok((name.to_owned(), version))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layer_names() {
        assert!(valid_layer_name("my-layer_2"));
        assert!(valid_layer_name(&"a".repeat(140)));
        assert!(!valid_layer_name(&"a".repeat(141)));
        assert!(!valid_layer_name(""));
        assert!(!valid_layer_name("a:b"));
        assert!(!valid_layer_name("a/b"));
        assert!(!valid_layer_name("a.b"));
    }
}
