//! ledge-edge: Amazon CloudFront, served locally.
//!
//! This crate owns distributions (`AWS::CloudFront::Distribution`, `CachePolicy`,
//! `OriginRequestPolicy`, `ResponseHeadersPolicy`), the edge network (edge locations with
//! real codes and coordinates, regional edge caches, Origin Shield — each tier its own
//! byte-bounded cache with its own request collapsing, miss path POP → REC → shield →
//! origin), CloudFront's caching rules (ordered first-match behaviours with CloudFront's
//! globs, the TTL table with MinTTL overriding `no-cache`/`no-store`/`private`, cache keys
//! from cache policies without normalisation where CloudFront does none, Vary filtering,
//! stale-while-revalidate / stale-if-error, error caching, 304 revalidation, Range,
//! gzip/br compression), the headers CloudFront adds on both sides, invalidations, and a
//! latency model of the network.
//!
//! It never spawns processes and never reaches functions: origins are HTTP servers (an API
//! of the same template is reached through the URL the app resolves for it) or local
//! directories standing in for S3 buckets. Lambda@Edge functions run at the four
//! [`TriggerPoint`]s through [`EdgeConfig::invoker`] (a `dyn ledge_model::Invoke`; the app
//! passes the runtime), with CloudFront's events, restrictions and cache interaction
//! ([`lambda_edge`]).
//!
//! # Using it from the app
//!
//! ```no_run
//! # async fn demo(template: &ledge_template::Template) -> Result<(), ledge_edge::EdgeError> {
//! use ledge_edge::{EdgeConfig, parse_distributions, start};
//! // logical id of an API (or any origin domain) → its local base URL
//! let resolve = |logical_id: &str| -> Option<String> { None };
//! let config = EdgeConfig::default();
//! let specs = parse_distributions(template, &resolve, &config)?;
//! let cancel = tokio_util::sync::CancellationToken::new();
//! let edge = start(specs, config, cancel.clone()).await?;
//! for d in edge.distributions() {
//!     println!("{} {} {:?}", d.logical_id, d.url, d.pops);
//! }
//! let inv = edge.invalidate(&edge.distributions()[0].id, &["/images/*".to_owned()], None)?;
//! println!("{} {}", inv.id, inv.status.as_str());
//! # Ok(()) }
//! ```
//!
//! - [`parse_distributions`] reads every distribution of a template; deploy errors name the
//!   resource and the property.
//! - [`start`] binds one listener per distribution (the POP is chosen per viewer: the
//!   `x-ledge-viewer` header with a POP / city code or `lat,lon`, else the client-address
//!   map, else the POP nearest [`EdgeConfig::home`]) and one per (distribution, POP), all on
//!   [`EdgeConfig::bind`] port 0, and serves until `cancel` fires.
//! - [`Edge`] answers [`Edge::distributions`], [`Edge::invalidate`],
//!   [`Edge::get_invalidation`], [`Edge::list_invalidations`], [`Edge::report`] and
//!   [`Edge::redeploy`] (keeps listeners, swaps behaviours, clears caches of changed
//!   distributions).
//! - [`management_router`] serves CloudFront's CreateInvalidation / GetInvalidation /
//!   ListInvalidations (REST-XML, `2020-05-31`) for the app's AWS endpoint.

mod body;
mod compress;
mod consts;
mod engine;
mod error;
pub mod geo;
pub mod glob;
mod headers;
mod invalidation;
pub mod key;
pub mod lambda_edge;
mod management;

mod origin;
pub mod policies;
mod report;
mod server;
pub mod spec;
mod store;
mod template;
pub mod ttl;

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr};
use std::path::PathBuf;
use std::sync::Arc;

pub use consts::CacheStatus;
pub use error::EdgeError;
pub use geo::{default_pops, default_regions, GeoPoint, LatencyModel, Pop, Region};
pub use invalidation::{
    Invalidation, InvalidationStatus, InvalidationStore, MemoryInvalidationStore,
};
pub use ledge_cache::{Clock, ManualClock, SystemClock};
pub use management::management_router;

pub use report::{EdgeReport, PopReport};
pub use server::{start, Edge};
pub use spec::{
    BehaviorSpec, CachePolicy, CustomErrorResponse, DistributionInfo, DistributionSpec,
    LambdaAssociation, OriginGroupSpec, OriginKind, OriginSpec, TriggerPoint,
};
pub use template::parse_distributions;

/// How S3 answers a GET for a key that does not exist.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum S3MissingKey {
    /// `403 AccessDenied`: the caller may not `s3:ListBucket` (CloudFront with OAC/OAI, the
    /// usual setup; why SPAs map 403 to `/index.html`).
    AccessDenied,
    /// `404 NoSuchKey`: the caller may list the bucket.
    NoSuchKey,
}

/// Everything the edge needs besides the distributions.
#[derive(Clone)]
pub struct EdgeConfig {
    /// Edge locations; default [`default_pops`].
    pub pops: Vec<Pop>,
    /// Regional edge caches / Origin Shield regions; default [`default_regions`].
    pub regions: Vec<Region>,
    /// Where the developer sits: viewers with no other location use the POP nearest to it.
    pub home: GeoPoint,
    /// Where the origins are (for the latency model); default us-east-1.
    pub origin_location: GeoPoint,
    pub latency: LatencyModel,
    /// `--bucket NAME=DIR`: S3 buckets served from local directories. Buckets not listed
    /// here live in `<state_dir>/buckets/<name>`.
    pub buckets: BTreeMap<String, PathBuf>,
    pub state_dir: Option<PathBuf>,
    /// Client address → viewer location (a POP / city code or `lat,lon`).
    pub client_locations: BTreeMap<IpAddr, String>,
    /// Capacity of each POP's cache, bytes (default 256 MiB).
    pub pop_capacity_bytes: u64,
    /// Capacity of each regional edge cache / shield, bytes (default 1 GiB).
    pub regional_capacity_bytes: u64,
    /// Listener address (default 127.0.0.1; ports are always 0).
    pub bind: IpAddr,
    /// Add `Server-Timing` to every response (else only with `Pragma: server-timing` or a
    /// response headers policy that enables it).
    pub server_timing: bool,
    pub s3_missing_key: S3MissingKey,
    /// The source of `now` for every TTL decision.
    pub clock: Arc<dyn Clock>,
    /// Where invalidation history goes besides memory (the app wires the store).
    pub invalidation_store: Option<Arc<dyn InvalidationStore>>,
    /// Runs Lambda@Edge functions (the app passes the runtime). `None`: a distribution with
    /// `LambdaFunctionAssociations` is refused at deploy.
    pub invoker: Option<Arc<dyn ledge_model::Invoke>>,
    /// Lambda@Edge quotas (memory, timeouts, sizes); CloudFront's classic values by default.
    pub lambda_edge: lambda_edge::Quotas,
}

impl std::fmt::Debug for EdgeConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EdgeConfig")
            .field(
                "pops",
                &self.pops.iter().map(|p| &p.code).collect::<Vec<_>>(),
            )
            .field("home", &self.home)
            .field("latency", &self.latency)
            .field("buckets", &self.buckets)
            .field("state_dir", &self.state_dir)
            .field("bind", &self.bind)
            .finish_non_exhaustive()
    }
}

impl Default for EdgeConfig {
    fn default() -> Self {
        Self {
            pops: default_pops(),
            regions: default_regions(),
            home: GeoPoint::new(50.03, 8.57),
            origin_location: GeoPoint::new(38.94, -77.46),
            latency: LatencyModel::default(),
            buckets: BTreeMap::new(),
            state_dir: None,
            client_locations: BTreeMap::new(),
            pop_capacity_bytes: 256 << 20,
            regional_capacity_bytes: 1 << 30,
            bind: IpAddr::V4(Ipv4Addr::LOCALHOST),
            server_timing: false,
            s3_missing_key: S3MissingKey::AccessDenied,
            clock: Arc::new(SystemClock),
            invalidation_store: None,
            invoker: None,
            lambda_edge: lambda_edge::Quotas::default(),
        }
    }
}

impl EdgeConfig {
    /// The directory serving bucket `name`: `--bucket` first, else the state dir.
    pub fn bucket_dir(&self, name: &str) -> Option<PathBuf> {
        self.buckets.get(name).cloned().or_else(|| {
            self.state_dir
                .as_ref()
                .map(|d| d.join("buckets").join(name))
        })
    }

    /// Parses `NAME=DIR` (the `--bucket` flag).
    pub fn parse_bucket_flag(s: &str) -> Result<(String, PathBuf), EdgeError> {
        match s.split_once('=') {
            Some((n, d)) if !n.is_empty() && !d.is_empty() => Ok((n.to_owned(), PathBuf::from(d))),
            _ => Err(EdgeError::Config(format!(
                "--bucket {s:?}: expected NAME=DIR"
            ))),
        }
    }
}
