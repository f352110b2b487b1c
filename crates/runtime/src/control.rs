//! Functions as the Lambda control plane sees them: the mutable `$LATEST`, immutable
//! published versions (each with its own warm environments), aliases with weighted
//! routing, reserved concurrency shared by all versions, and their records in the store so
//! that functions created through the API come back after a restart.
//!
//! Template functions and API functions are one model: both are deployed here, both are
//! recorded in the store, both can be versioned and aliased.

use std::collections::BTreeMap;
use std::sync::Arc;

use ledge_model::{FunctionName, FunctionSpec, InvokeError, LayerRef};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::artifacts;
use crate::function::FunctionConfig;
use crate::pool::{Concurrency, PoolHandle};
use crate::{DeployError, DeployReport, Deployed, Runtime};

/// AWS's answer to a `RevisionId` that is not the current one.
pub const REVISION_MISMATCH: &str = "The Revision Id provided does not match the latest Revision Id. Call the GetFunction/GetAlias API to retrieve the latest Revision Id";

/// Where a function was defined.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Origin {
    /// The template: deployed again from it at every start.
    #[default]
    Template,
    /// The Lambda API: restored from the store at start.
    Api,
}

/// Control-plane facts about one version, kept beside its runtime configuration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct Meta {
    pub(crate) revision_id: String,
    pub(crate) last_modified: String,
    /// API-only configuration (Role, TracingConfig, Tags, …), owned by the Lambda API.
    #[serde(default)]
    pub(crate) extra: Value,
    #[serde(default)]
    pub(crate) origin: Origin,
}

impl Meta {
    fn fresh(extra: Value, origin: Origin) -> Self {
        Self {
            revision_id: uuid::Uuid::new_v4().to_string(),
            last_modified: ledge_store::now_aws(),
            extra,
            origin,
        }
    }
}

/// A published version: its own configuration and its own environments.
pub(crate) struct Published {
    pub(crate) config: Arc<FunctionConfig>,
    pub(crate) pool: PoolHandle,
    pub(crate) meta: Meta,
}

/// A layer as a function configuration lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LayerInfo {
    pub arn: String,
    pub code_size: u64,
}

/// One version of a function as the control plane reports it.
#[derive(Debug, Clone, PartialEq)]
pub struct VersionInfo {
    pub spec: FunctionSpec,
    /// `$LATEST` or the version number.
    pub version: String,
    /// The unqualified function ARN.
    pub function_arn: String,
    /// Base64 SHA-256 of the code zip.
    pub code_sha256: String,
    pub code_sha256_hex: String,
    pub code_size: u64,
    pub layers: Vec<LayerInfo>,
    pub revision_id: String,
    pub last_modified: String,
    pub extra: Value,
    pub origin: Origin,
    pub runtime_version_arn: String,
}

/// An alias: a name for a version, optionally routing a share of invocations to a second.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AliasInfo {
    pub name: String,
    pub function_version: String,
    #[serde(default)]
    pub description: String,
    /// `AdditionalVersionWeights`: version → share of invocations (0.0–1.0).
    #[serde(default)]
    pub weights: BTreeMap<String, f64>,
    pub revision_id: String,
}

/// A function with its versions and aliases.
#[derive(Debug, Clone, PartialEq)]
pub struct FunctionInfo {
    pub latest: VersionInfo,
    /// Published versions, oldest first.
    pub versions: Vec<VersionInfo>,
    /// By name.
    pub aliases: Vec<AliasInfo>,
    pub reserved_concurrency: Option<u32>,
}

/// Why a control-plane request was refused. Messages are AWS's where AWS has one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ControlError {
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    Invalid(String),
    #[error("{0}")]
    Precondition(String),
    #[error("{0}")]
    Platform(String),
}

impl ControlError {
    pub fn message(&self) -> &str {
        match self {
            Self::NotFound(m)
            | Self::Conflict(m)
            | Self::Invalid(m)
            | Self::Precondition(m)
            | Self::Platform(m) => m,
        }
    }
}

impl From<DeployError> for ControlError {
    fn from(e: DeployError) -> Self {
        match e {
            DeployError::Invalid { message, .. } => Self::Invalid(message),
        }
    }
}

/// How a deploy is asked for.
#[derive(Debug, Clone, Default)]
pub struct DeployOptions {
    pub origin: Origin,
    /// API-only configuration to keep with `$LATEST`; `None` keeps what it has.
    pub extra: Option<Value>,
    /// Refuse unless `$LATEST` has this revision (412).
    pub if_revision: Option<String>,
    /// Refuse if the function exists (409).
    pub create_only: bool,
    /// Refuse if the function does not exist (404).
    pub must_exist: bool,
    /// Validate everything, change nothing.
    pub dry_run: bool,
}

impl DeployOptions {
    pub fn template() -> Self {
        Self::default()
    }

    pub fn api() -> Self {
        Self {
            origin: Origin::Api,
            ..Self::default()
        }
    }
}

fn platform(e: impl std::fmt::Display) -> ControlError {
    ControlError::Platform(e.to_string())
}

fn info_of(config: &FunctionConfig, meta: &Meta) -> VersionInfo {
    VersionInfo {
        spec: config.spec.clone(),
        version: config.version.clone(),
        function_arn: config.arn.clone(),
        code_sha256: config.resolved.code.code_sha256.clone(),
        code_sha256_hex: config.resolved.code.sha256_hex.clone(),
        code_size: config.resolved.code.zip_size,
        layers: config
            .resolved
            .layers
            .iter()
            .map(|l| LayerInfo {
                arn: l.layer_version_arn.clone(),
                code_size: l.artifact.zip_size,
            })
            .collect(),
        revision_id: meta.revision_id.clone(),
        last_modified: meta.last_modified.clone(),
        extra: meta.extra.clone(),
        origin: meta.origin,
        runtime_version_arn: config.runtime_version_arn.clone(),
    }
}

/// A spec with what does not make a version different blanked out: where the code came
/// from (its digest is compared instead), template bookkeeping, and function-level
/// settings.
fn comparable(spec: &FunctionSpec) -> FunctionSpec {
    let mut s = spec.clone();
    s.code_dir = Default::default();
    s.logical_id = None;
    s.events = Vec::new();
    s.description = String::new();
    s.reserved_concurrency = None;
    s.layers = Vec::new();
    s
}

/// A version's own, immutable copy of a spec: code pinned to its zip, layers by ARN.
fn pinned(config: &FunctionConfig) -> FunctionSpec {
    let mut spec = config.spec.clone();
    spec.code_dir = config.resolved.code.zip_path.clone();
    spec.layers = config
        .resolved
        .layer_arns()
        .into_iter()
        .map(LayerRef::Arn)
        .collect();
    spec
}

fn is_version_number(q: &str) -> bool {
    !q.is_empty() && q.len() <= 10 && q.bytes().all(|b| b.is_ascii_digit())
}

/// `(?!^[0-9]+$)([a-zA-Z0-9-_]+)`, 1–128 characters.
pub fn valid_alias_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 128
        && !name.bytes().all(|b| b.is_ascii_digit())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// Picks the version an alias routes this invocation to; `roll` is uniform in [0, 1).
pub(crate) fn pick_version(alias: &AliasInfo, roll: f64) -> String {
    let mut r = roll;
    for (version, weight) in &alias.weights {
        if r < *weight {
            return version.clone();
        }
        r -= weight;
    }
    alias.function_version.clone()
}

pub(crate) async fn shutdown_all(d: &Deployed) {
    let mut pools = vec![d.pool.clone()];
    pools.extend(d.versions.values().map(|v| v.pool.clone()));
    futures::future::join_all(pools.iter().map(|p| p.shutdown())).await;
}

fn record_of(d: &Deployed) -> ledge_store::FunctionRecord {
    ledge_store::FunctionRecord {
        name: d.config.spec.name.to_string(),
        code_sha256: d.config.resolved.code.code_sha256.clone(),
        revision_id: d.meta.revision_id.clone(),
        last_modified: d.meta.last_modified.clone(),
        data: json!({
            "spec": &d.config.spec,
            "layers": d.config.resolved.layer_arns(),
            "code_sha256_hex": &d.config.resolved.code.sha256_hex,
            "origin": d.meta.origin,
            "extra": &d.meta.extra,
            "reserved_concurrency": d.concurrency.limit(),
        }),
    }
}

impl Runtime {
    fn not_found(&self, name: &FunctionName, qualifier: &str) -> ControlError {
        ControlError::NotFound(format!(
            "Function not found: {}:{qualifier}",
            self.function_arn(name)
        ))
    }

    async fn save_record(&self, name: &FunctionName) {
        let Some(rec) = self.with_function(name, record_of) else {
            return;
        };
        let store = self.shared.store.clone();
        let saved = tokio::task::spawn_blocking(move || store.put_function(&rec)).await;
        if !matches!(saved, Ok(Ok(()))) {
            tracing::warn!(function = %name, "could not record the function in the state store");
        }
    }

    /// Creates or updates `$LATEST` (see [`DeployOptions`]).
    pub async fn deploy_with(
        &self,
        spec: FunctionSpec,
        opts: DeployOptions,
    ) -> Result<DeployReport, ControlError> {
        let _guard = self.control.lock().await;
        self.deploy_locked(spec, opts, None).await
    }

    async fn deploy_locked(
        &self,
        spec: FunctionSpec,
        opts: DeployOptions,
        restore: Option<Meta>,
    ) -> Result<DeployReport, ControlError> {
        let name = spec.name.clone();
        let existing = self.with_function(&name, |d| {
            (
                d.config.clone(),
                d.meta.clone(),
                d.pool.clone(),
                d.concurrency.clone(),
            )
        });
        if opts.create_only && existing.is_some() {
            return Err(ControlError::Conflict(format!(
                "Function already exist: {name}"
            )));
        }
        if opts.must_exist && existing.is_none() {
            return Err(self.not_found(&name, "$LATEST"));
        }
        if let (Some(want), Some((_, meta, _, _))) = (&opts.if_revision, &existing) {
            if *want != meta.revision_id {
                return Err(ControlError::Precondition(REVISION_MISMATCH.into()));
            }
        }
        let kept = existing
            .as_ref()
            .map(|(c, ..)| c.resolved.layer_arns())
            .unwrap_or_default();
        let shared = self.shared.clone();
        let candidate = spec.clone();
        let resolved = tokio::task::spawn_blocking(move || {
            artifacts::resolve(&shared.store, &candidate, &kept)
        })
        .await
        .map_err(platform)??;
        let mut changes = Vec::new();
        if let Some((old, ..)) = &existing {
            if old.resolved.code.sha256_hex != resolved.code.sha256_hex {
                changes.push("code".to_owned());
            }
            if old.resolved.layer_arns() != resolved.layer_arns() {
                changes.push("layers".to_owned());
            }
            let mut same = old.spec.clone();
            same.layers = spec.layers.clone();
            same.reserved_concurrency = spec.reserved_concurrency;
            same.code_dir = spec.code_dir.clone();
            if same != spec {
                changes.push("configuration".to_owned());
            }
        }
        let extra_changed = match (&opts.extra, &existing) {
            (Some(e), Some((_, meta, ..))) => *e != meta.extra,
            _ => false,
        };
        if let Some((old, _, _, concurrency)) = &existing {
            if changes.is_empty() {
                if opts.dry_run {
                    return Ok(DeployReport::default());
                }
                let mut touched = false;
                if opts.origin == Origin::Template
                    && old.spec.reserved_concurrency != spec.reserved_concurrency
                {
                    concurrency.set_limit(spec.reserved_concurrency);
                    touched = true;
                }
                if opts.origin == Origin::Api || extra_changed {
                    if let Ok(mut map) = self.functions.write() {
                        if let Some(d) = map.get_mut(&name) {
                            let extra = opts.extra.clone().unwrap_or_else(|| d.meta.extra.clone());
                            d.meta = Meta::fresh(extra, d.meta.origin);
                        }
                    }
                    touched = true;
                }
                if touched {
                    self.save_record(&name).await;
                }
                return Ok(DeployReport::default());
            }
        }
        let shared = self.shared.clone();
        let (config, warnings) = tokio::task::spawn_blocking(move || {
            FunctionConfig::build(spec, resolved, "$LATEST", &shared)
        })
        .await
        .map_err(platform)??;
        if opts.dry_run {
            return Ok(DeployReport {
                warnings,
                changed: false,
                created: existing.is_none(),
                changes,
            });
        }
        let config = Arc::new(config);
        let meta = match (restore, &existing) {
            (Some(m), _) => m,
            (None, Some((_, old, ..))) => Meta::fresh(
                opts.extra.clone().unwrap_or_else(|| old.extra.clone()),
                old.origin,
            ),
            (None, None) => Meta::fresh(opts.extra.clone().unwrap_or(json!({})), opts.origin),
        };
        let created = match existing {
            Some((old, _, pool, concurrency)) => {
                if opts.origin == Origin::Template
                    && old.spec.reserved_concurrency != config.spec.reserved_concurrency
                {
                    concurrency.set_limit(config.spec.reserved_concurrency);
                }
                pool.update(config.clone()).await;
                if let Ok(mut map) = self.functions.write() {
                    if let Some(d) = map.get_mut(&name) {
                        d.config = config;
                        d.meta = meta;
                    }
                }
                false
            }
            None => {
                let concurrency = Arc::new(Concurrency::new(config.spec.reserved_concurrency));
                let pool =
                    PoolHandle::spawn(config.clone(), self.shared.clone(), concurrency.clone());
                if let Ok(mut map) = self.functions.write() {
                    map.insert(
                        name.clone(),
                        Deployed {
                            config,
                            pool,
                            meta,
                            versions: BTreeMap::new(),
                            aliases: BTreeMap::new(),
                            concurrency,
                        },
                    );
                }
                true
            }
        };
        self.save_record(&name).await;
        if created {
            self.load_published(&name).await;
        }
        Ok(DeployReport {
            warnings,
            changed: true,
            created,
            changes,
        })
    }

    /// Brings back the published versions and aliases the store holds for a function
    /// that was just deployed (after a restart, or a template function seen again).
    async fn load_published(&self, name: &FunctionName) {
        let store = self.shared.store.clone();
        let n = name.to_string();
        let loaded = tokio::task::spawn_blocking(move || {
            Ok::<_, ledge_store::StoreError>((
                store.function_versions(&n)?,
                store.function_aliases(&n)?,
            ))
        })
        .await;
        let Ok(Ok((versions, aliases))) = loaded else {
            tracing::warn!(function = %name, "could not read the function's versions from the state store");
            return;
        };
        let Some(concurrency) = self.with_function(name, |d| d.concurrency.clone()) else {
            return;
        };
        for (number, data) in versions {
            match self.build_published(number, &data, &concurrency).await {
                Ok(p) => {
                    if let Ok(mut map) = self.functions.write() {
                        if let Some(d) = map.get_mut(name) {
                            d.versions.insert(number, p);
                        }
                    }
                }
                Err(e) => {
                    tracing::warn!(function = %name, version = number, error = %e, "cannot restore a published version")
                }
            }
        }
        for (alias, data) in aliases {
            match serde_json::from_value::<AliasInfo>(data) {
                Ok(a) => {
                    if let Ok(mut map) = self.functions.write() {
                        if let Some(d) = map.get_mut(name) {
                            d.aliases.insert(alias, a);
                        }
                    }
                }
                Err(e) => {
                    tracing::warn!(function = %name, alias = %alias, error = %e, "cannot restore an alias")
                }
            }
        }
    }

    async fn build_published(
        &self,
        number: u32,
        data: &Value,
        concurrency: &Arc<Concurrency>,
    ) -> Result<Published, ControlError> {
        let spec: FunctionSpec = serde_json::from_value(data["spec"].clone()).map_err(platform)?;
        let meta: Meta = serde_json::from_value(data["meta"].clone()).map_err(platform)?;
        let kept: Vec<String> = serde_json::from_value(data["layers"].clone()).unwrap_or_default();
        let shared = self.shared.clone();
        let (config, _) = tokio::task::spawn_blocking(move || {
            let resolved = artifacts::resolve(&shared.store, &spec, &kept)?;
            FunctionConfig::build(spec, resolved, &number.to_string(), &shared)
        })
        .await
        .map_err(platform)??;
        let config = Arc::new(config);
        let pool = PoolHandle::spawn(config.clone(), self.shared.clone(), concurrency.clone());
        Ok(Published { config, pool, meta })
    }

    /// Deploys every function created through the API that the store remembers, with its
    /// versions and aliases. Returns one line per function that could not come back.
    pub async fn restore(&self) -> Vec<String> {
        let store = self.shared.store.clone();
        let records = match tokio::task::spawn_blocking(move || store.functions()).await {
            Ok(Ok(r)) => r,
            _ => return vec!["cannot read functions from the state store".into()],
        };
        let mut lines = Vec::new();
        let _guard = self.control.lock().await;
        for rec in records {
            if rec.data["origin"] != json!("api") {
                continue;
            }
            let spec = serde_json::from_value::<FunctionSpec>(rec.data["spec"].clone());
            let Ok(mut spec) = spec else {
                lines.push(format!("{}: its stored record cannot be read", rec.name));
                continue;
            };
            spec.reserved_concurrency =
                serde_json::from_value(rec.data["reserved_concurrency"].clone()).unwrap_or(None);
            let meta = Meta {
                revision_id: rec.revision_id.clone(),
                last_modified: rec.last_modified.clone(),
                extra: rec.data["extra"].clone(),
                origin: Origin::Api,
            };
            let opts = DeployOptions {
                extra: Some(meta.extra.clone()),
                ..DeployOptions::api()
            };
            if let Err(e) = self.deploy_locked(spec, opts, Some(meta)).await {
                lines.push(format!("{}: cannot be restored: {e}", rec.name));
            }
        }
        lines
    }

    /// Forgets stored template functions that are not deployed (the template no longer
    /// has them). API functions are kept even when they could not be restored, so a
    /// passing problem (a missing interpreter) never deletes them. Returns their names.
    pub async fn forget_undeployed(&self) -> Vec<String> {
        let store = self.shared.store.clone();
        let Ok(Ok(records)) = tokio::task::spawn_blocking(move || store.functions()).await else {
            return Vec::new();
        };
        let mut gone = Vec::new();
        for rec in records {
            if rec.data["origin"] == json!("api") {
                continue;
            }
            let deployed = rec
                .name
                .parse::<FunctionName>()
                .ok()
                .and_then(|n| self.with_function(&n, |_| ()))
                .is_some();
            if !deployed {
                let store = self.shared.store.clone();
                let name = rec.name.clone();
                let _ =
                    tokio::task::spawn_blocking(move || store.delete_function_everything(&name))
                        .await;
                gone.push(rec.name);
            }
        }
        gone
    }

    /// Which pool serves `name:qualifier`, and the ARN the invocation was made with.
    pub(crate) fn route(
        &self,
        name: &FunctionName,
        qualifier: Option<&str>,
    ) -> Result<(PoolHandle, String), InvokeError> {
        let not_found = |q: &str| InvokeError::FunctionNotFound {
            arn: format!("{}:{q}", self.function_arn(name)),
        };
        let map = self
            .functions
            .read()
            .map_err(|_| not_found(qualifier.unwrap_or("$LATEST")))?;
        let Some(d) = map.get(name) else {
            return Err(not_found(qualifier.unwrap_or("$LATEST")));
        };
        let arn = d.config.arn.clone();
        let Some(q) = qualifier else {
            return Ok((d.pool.clone(), arn));
        };
        let version = if q == "$LATEST" || is_version_number(q) {
            q.to_owned()
        } else {
            let alias = d.aliases.get(q).ok_or_else(|| not_found(q))?;
            pick_version(alias, rand::random::<f64>())
        };
        let pool = if version == "$LATEST" {
            d.pool.clone()
        } else {
            version
                .parse::<u32>()
                .ok()
                .and_then(|n| d.versions.get(&n))
                .map(|v| v.pool.clone())
                .ok_or_else(|| not_found(q))?
        };
        Ok((pool, format!("{arn}:{q}")))
    }

    /// A function with its versions and aliases.
    pub fn function_info(&self, name: &FunctionName) -> Option<FunctionInfo> {
        self.with_function(name, |d| FunctionInfo {
            latest: info_of(&d.config, &d.meta),
            versions: d
                .versions
                .values()
                .map(|v| info_of(&v.config, &v.meta))
                .collect(),
            aliases: d.aliases.values().cloned().collect(),
            reserved_concurrency: d.concurrency.limit(),
        })
    }

    /// Every function, sorted by name.
    pub fn function_infos(&self) -> Vec<FunctionInfo> {
        let mut names: Vec<FunctionName> = self
            .functions
            .read()
            .map(|m| m.keys().cloned().collect())
            .unwrap_or_default();
        names.sort();
        names.iter().filter_map(|n| self.function_info(n)).collect()
    }

    /// The version `qualifier` names: `$LATEST` (also for `None`), a number, or an alias
    /// (its primary version).
    pub fn version_info(
        &self,
        name: &FunctionName,
        qualifier: Option<&str>,
    ) -> Result<VersionInfo, ControlError> {
        let q = qualifier.unwrap_or("$LATEST");
        let found = self.with_function(name, |d| {
            let version = if q == "$LATEST" || is_version_number(q) {
                q.to_owned()
            } else {
                d.aliases.get(q)?.function_version.clone()
            };
            if version == "$LATEST" {
                return Some(info_of(&d.config, &d.meta));
            }
            let v = d.versions.get(&version.parse::<u32>().ok()?)?;
            Some(info_of(&v.config, &v.meta))
        });
        found.flatten().ok_or_else(|| self.not_found(name, q))
    }

    /// `PublishVersion`: snapshots `$LATEST` into the next numbered version, unless
    /// nothing changed since the last one (then that one is returned).
    pub async fn publish_version(
        &self,
        name: &FunctionName,
        description: Option<String>,
        if_code_sha256: Option<String>,
        if_revision: Option<String>,
    ) -> Result<VersionInfo, ControlError> {
        let _guard = self.control.lock().await;
        let (latest, meta, last, concurrency) = self
            .with_function(name, |d| {
                (
                    d.config.clone(),
                    d.meta.clone(),
                    d.versions
                        .values()
                        .next_back()
                        .map(|v| (v.config.clone(), v.meta.clone())),
                    d.concurrency.clone(),
                )
            })
            .ok_or_else(|| self.not_found(name, "$LATEST"))?;
        if let Some(want) = if_code_sha256 {
            if want != latest.resolved.code.code_sha256 {
                return Err(ControlError::Precondition(format!(
                    "CodeSHA256 ({want}) is different from current CodeSHA256 in $LATEST ({}). Please try again with the current CodeSHA256.",
                    latest.resolved.code.code_sha256
                )));
            }
        }
        if let Some(want) = if_revision {
            if want != meta.revision_id {
                return Err(ControlError::Precondition(REVISION_MISMATCH.into()));
            }
        }
        if let Some((config, vmeta)) = &last {
            let same = config.resolved.code.sha256_hex == latest.resolved.code.sha256_hex
                && config.resolved.layer_arns() == latest.resolved.layer_arns()
                && comparable(&config.spec) == comparable(&latest.spec)
                && vmeta.extra == meta.extra;
            if same {
                return Ok(info_of(config, vmeta));
            }
        }
        let store = self.shared.store.clone();
        let n = name.to_string();
        let number = tokio::task::spawn_blocking(move || store.next_function_version(&n))
            .await
            .map_err(platform)?
            .map_err(platform)?;
        let mut spec = pinned(&latest);
        if let Some(d) = description {
            spec.description = d;
        }
        let shared = self.shared.clone();
        let resolved = latest.resolved.clone();
        let (config, _) = tokio::task::spawn_blocking(move || {
            FunctionConfig::build(spec, resolved, &number.to_string(), &shared)
        })
        .await
        .map_err(platform)??;
        let vmeta = Meta::fresh(meta.extra.clone(), meta.origin);
        let data = json!({
            "spec": &config.spec,
            "layers": config.resolved.layer_arns(),
            "meta": &vmeta,
        });
        let store = self.shared.store.clone();
        let n = name.to_string();
        tokio::task::spawn_blocking(move || store.put_function_version(&n, number, &data))
            .await
            .map_err(platform)?
            .map_err(platform)?;
        let config = Arc::new(config);
        let pool = PoolHandle::spawn(config.clone(), self.shared.clone(), concurrency);
        let info = info_of(&config, &vmeta);
        if let Ok(mut map) = self.functions.write() {
            if let Some(d) = map.get_mut(name) {
                d.versions.insert(
                    number,
                    Published {
                        config,
                        pool,
                        meta: vmeta,
                    },
                );
            }
        }
        Ok(info)
    }

    /// `DeleteFunction`: the whole function without a qualifier, else one version.
    pub async fn delete_function(
        &self,
        name: &FunctionName,
        qualifier: Option<&str>,
    ) -> Result<(), ControlError> {
        let _guard = self.control.lock().await;
        if self.with_function(name, |_| ()).is_none() {
            return Err(self.not_found(name, qualifier.unwrap_or("$LATEST")));
        }
        match qualifier {
            None => {
                let removed = self.functions.write().ok().and_then(|mut m| m.remove(name));
                if let Some(d) = removed {
                    shutdown_all(&d).await;
                }
                let store = self.shared.store.clone();
                let n = name.to_string();
                tokio::task::spawn_blocking(move || store.delete_function_everything(&n))
                    .await
                    .map_err(platform)?
                    .map_err(platform)?;
                Ok(())
            }
            Some("$LATEST") => Err(ControlError::Invalid(
                "$LATEST version cannot be deleted without deleting the function.".into(),
            )),
            Some(q) if is_version_number(q) => {
                let number: u32 = q.parse().map_err(platform)?;
                let users: Vec<String> = self
                    .with_function(name, |d| {
                        d.aliases
                            .values()
                            .filter(|a| a.function_version == q || a.weights.contains_key(q))
                            .map(|a| a.name.clone())
                            .collect()
                    })
                    .unwrap_or_default();
                if !users.is_empty() {
                    return Err(ControlError::Conflict(format!(
                        "Unable to delete version because the following aliases reference it: [{}]",
                        users.join(", ")
                    )));
                }
                let removed = self
                    .functions
                    .write()
                    .ok()
                    .and_then(|mut m| m.get_mut(name).and_then(|d| d.versions.remove(&number)));
                let Some(p) = removed else {
                    return Err(self.not_found(name, q));
                };
                p.pool.shutdown().await;
                let store = self.shared.store.clone();
                let n = name.to_string();
                tokio::task::spawn_blocking(move || store.delete_function_version(&n, number))
                    .await
                    .map_err(platform)?
                    .map_err(platform)?;
                Ok(())
            }
            Some(_) => Err(ControlError::Invalid(
                "Deleting an alias through DeleteFunction is not supported; use DeleteAlias."
                    .into(),
            )),
        }
    }

    fn check_alias(&self, d: &Deployed, alias: &AliasInfo) -> Result<(), ControlError> {
        let name = &d.config.spec.name;
        let exists = |v: &str| {
            v == "$LATEST"
                || v.parse::<u32>()
                    .ok()
                    .is_some_and(|n| d.versions.contains_key(&n))
        };
        if !exists(&alias.function_version) {
            return Err(self.not_found(name, &alias.function_version));
        }
        if alias.weights.len() > 1 {
            return Err(ControlError::Invalid(
                "Number of items in AdditionalVersionWeights must be less than or equal to 1"
                    .into(),
            ));
        }
        for (v, w) in &alias.weights {
            if !(0.0..=1.0).contains(w) || w.is_nan() {
                return Err(ControlError::Invalid(format!(
                    "1 validation error detected: Value '{w}' at 'routingConfig.additionalVersionWeights' failed to satisfy constraint: Map value must satisfy constraint: [Member must have value less than or equal to 1.0, Member must have value greater than or equal to 0.0]"
                )));
            }
            if !is_version_number(v) {
                return Err(ControlError::Invalid(format!(
                    "Invalid function version {v}. Function version {v} is not a valid version number."
                )));
            }
            if !exists(v) {
                return Err(self.not_found(name, v));
            }
            if *v == alias.function_version {
                return Err(ControlError::Invalid(format!(
                    "Invalid function version {v}. The alias's primary version and additional version must be different."
                )));
            }
            if alias.function_version == "$LATEST" {
                return Err(ControlError::Invalid(
                    "$LATEST is not supported for an alias pointing to more than 1 version".into(),
                ));
            }
        }
        Ok(())
    }

    async fn save_alias(&self, name: &FunctionName, alias: &AliasInfo) -> Result<(), ControlError> {
        let store = self.shared.store.clone();
        let n = name.to_string();
        let a = alias.name.clone();
        let data = serde_json::to_value(alias).map_err(platform)?;
        tokio::task::spawn_blocking(move || store.put_function_alias(&n, &a, &data))
            .await
            .map_err(platform)?
            .map_err(platform)
    }

    fn alias_arn(&self, name: &FunctionName, alias: &str) -> String {
        format!("{}:{alias}", self.function_arn(name))
    }

    /// `CreateAlias`.
    pub async fn create_alias(
        &self,
        name: &FunctionName,
        alias_name: &str,
        function_version: &str,
        description: &str,
        weights: BTreeMap<String, f64>,
    ) -> Result<AliasInfo, ControlError> {
        if !valid_alias_name(alias_name) {
            return Err(ControlError::Invalid(format!(
                "1 validation error detected: Value '{alias_name}' at 'name' failed to satisfy constraint: Member must satisfy regular expression pattern: (?!^[0-9]+$)([a-zA-Z0-9-_]+)"
            )));
        }
        let _guard = self.control.lock().await;
        let alias = AliasInfo {
            name: alias_name.to_owned(),
            function_version: function_version.to_owned(),
            description: description.to_owned(),
            weights,
            revision_id: uuid::Uuid::new_v4().to_string(),
        };
        self.with_function(name, |d| {
            if d.aliases.contains_key(alias_name) {
                return Err(ControlError::Conflict(format!(
                    "Alias already exists: {}",
                    self.alias_arn(name, alias_name)
                )));
            }
            self.check_alias(d, &alias)
        })
        .ok_or_else(|| self.not_found(name, "$LATEST"))??;
        self.save_alias(name, &alias).await?;
        if let Ok(mut map) = self.functions.write() {
            if let Some(d) = map.get_mut(name) {
                d.aliases.insert(alias.name.clone(), alias.clone());
            }
        }
        Ok(alias)
    }

    /// `UpdateAlias`: fields given replace the alias's.
    pub async fn update_alias(
        &self,
        name: &FunctionName,
        alias_name: &str,
        function_version: Option<String>,
        description: Option<String>,
        weights: Option<BTreeMap<String, f64>>,
        if_revision: Option<String>,
    ) -> Result<AliasInfo, ControlError> {
        let _guard = self.control.lock().await;
        let alias = self
            .with_function(name, |d| {
                let Some(old) = d.aliases.get(alias_name) else {
                    return Err(ControlError::NotFound(format!(
                        "Cannot find alias arn: {}",
                        self.alias_arn(name, alias_name)
                    )));
                };
                if let Some(want) = &if_revision {
                    if *want != old.revision_id {
                        return Err(ControlError::Precondition(REVISION_MISMATCH.into()));
                    }
                }
                let mut next = old.clone();
                if let Some(v) = function_version {
                    next.function_version = v;
                }
                if let Some(desc) = description {
                    next.description = desc;
                }
                if let Some(w) = weights {
                    next.weights = w;
                }
                next.revision_id = uuid::Uuid::new_v4().to_string();
                self.check_alias(d, &next)?;
                Ok(next)
            })
            .ok_or_else(|| self.not_found(name, "$LATEST"))??;
        self.save_alias(name, &alias).await?;
        if let Ok(mut map) = self.functions.write() {
            if let Some(d) = map.get_mut(name) {
                d.aliases.insert(alias.name.clone(), alias.clone());
            }
        }
        Ok(alias)
    }

    /// `GetAlias`.
    pub fn alias(&self, name: &FunctionName, alias_name: &str) -> Result<AliasInfo, ControlError> {
        self.with_function(name, |d| d.aliases.get(alias_name).cloned())
            .ok_or_else(|| self.not_found(name, "$LATEST"))?
            .ok_or_else(|| {
                ControlError::NotFound(format!(
                    "Cannot find alias arn: {}",
                    self.alias_arn(name, alias_name)
                ))
            })
    }

    /// `DeleteAlias`: idempotent, as on AWS.
    pub async fn delete_alias(
        &self,
        name: &FunctionName,
        alias_name: &str,
    ) -> Result<(), ControlError> {
        let _guard = self.control.lock().await;
        if self.with_function(name, |_| ()).is_none() {
            return Err(self.not_found(name, "$LATEST"));
        }
        if let Ok(mut map) = self.functions.write() {
            if let Some(d) = map.get_mut(name) {
                d.aliases.remove(alias_name);
            }
        }
        let store = self.shared.store.clone();
        let n = name.to_string();
        let a = alias_name.to_owned();
        tokio::task::spawn_blocking(move || store.delete_function_alias(&n, &a))
            .await
            .map_err(platform)?
            .map_err(platform)?;
        Ok(())
    }

    /// Lambda's account concurrency limit as configured.
    pub fn account_concurrency(&self) -> u32 {
        self.account_concurrency
    }

    /// Concurrency reserved by all functions together.
    pub fn reserved_concurrency_total(&self) -> u32 {
        self.functions
            .read()
            .map(|m| m.values().filter_map(|d| d.concurrency.limit()).sum())
            .unwrap_or(0)
    }

    /// `PutFunctionConcurrency` / `DeleteFunctionConcurrency`: takes effect at once for
    /// every version, without touching environments.
    pub async fn set_reserved_concurrency(
        &self,
        name: &FunctionName,
        limit: Option<u32>,
    ) -> Result<(), ControlError> {
        let _guard = self.control.lock().await;
        let others: u32 = self
            .functions
            .read()
            .map(|m| {
                m.iter()
                    .filter(|(n, _)| *n != name)
                    .filter_map(|(_, d)| d.concurrency.limit())
                    .sum()
            })
            .unwrap_or(0);
        let concurrency = self
            .with_function(name, |d| d.concurrency.clone())
            .ok_or_else(|| self.not_found(name, "$LATEST"))?;
        if let Some(n) = limit {
            let unreserved = i64::from(self.account_concurrency) - i64::from(others) - i64::from(n);
            if unreserved < 100 {
                return Err(ControlError::Invalid("Specified ReservedConcurrentExecutions for function decreases account's UnreservedConcurrentExecution below its minimum value of [100].".into()));
            }
        }
        concurrency.set_limit(limit);
        self.save_record(name).await;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn alias(weights: &[(&str, f64)]) -> AliasInfo {
        AliasInfo {
            name: "live".into(),
            function_version: "1".into(),
            description: String::new(),
            weights: weights.iter().map(|(v, w)| ((*v).to_owned(), *w)).collect(),
            revision_id: "r".into(),
        }
    }

    #[test]
    fn weighted_aliases_route_by_share() {
        let a = alias(&[("2", 0.25)]);
        assert_eq!(pick_version(&a, 0.0), "2");
        assert_eq!(pick_version(&a, 0.2499), "2");
        assert_eq!(pick_version(&a, 0.25), "1");
        assert_eq!(pick_version(&a, 0.99), "1");
        assert_eq!(pick_version(&alias(&[]), 0.1), "1");
        let n = (0..1000)
            .filter(|i| pick_version(&a, f64::from(*i) / 1000.0) == "2")
            .count();
        assert_eq!(n, 250);
    }

    #[test]
    fn alias_names_follow_lambda_rules() {
        assert!(valid_alias_name("live"));
        assert!(valid_alias_name("v2-beta_1"));
        assert!(!valid_alias_name("12"));
        assert!(!valid_alias_name("$LATEST"));
        assert!(!valid_alias_name(""));
        assert!(!valid_alias_name(&"a".repeat(129)));
    }
}
