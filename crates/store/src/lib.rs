//! ledge's persistent state.
//!
//! This crate owns what survives a restart of `ledge up`: the SQLite database
//! `<state_dir>/ledge.db` (functions with their versions, aliases and asynchronous-invocation
//! settings, the durable `Event` queue, layers and their versions, CloudFront invalidation
//! history; later APIs, deployments, distributions, metrics) and the content-addressed artifacts under
//! `<state_dir>/artifacts/`:
//!
//! ```text
//! artifacts/blobs/<sha256>.zip   the zip as imported (or as built from a directory)
//! artifacts/trees/<sha256>/      its extracted, read-only tree (a function's /var/task, a layer)
//! artifacts/merged/<sha256>/     layers merged in order: a function's /opt
//! artifacts/tmp/<pid>.<random>/  work directories; never visible under a digest name
//! ```
//!
//! Archives are extracted safely (no `..`, no absolute paths, no escaping symlinks, zip
//! bombs refused while streaming) and atomically (built in `tmp/`, renamed into place).
//! Several processes or handles may import at once; the loser of a rename race adopts the
//! winner's identical copy.
//!
//! The API is blocking; async callers wrap calls in `spawn_blocking`. It never speaks
//! HTTP, never spawns processes, and does not decide AWS semantics beyond what the data
//! needs (version numbering, ARNs); validation against AWS's enums stays with the caller.

mod archive;
mod control;
mod db;
mod error;
mod fsutil;
mod functions;
mod invalidations;
mod layers;
mod store;

pub use archive::{ExtractLimits, AWS_MAX_UNZIPPED_BYTES, RATIO_CHECK_MIN_BYTES};
pub use control::{AsyncEvent, AsyncFailure};
pub use db::SCHEMA_VERSION;
pub use error::StoreError;
pub use functions::FunctionRecord;
pub use invalidations::InvalidationRecord;
pub use layers::{LayerArnError, LayerMeta, LayerVersion};
pub use store::{Artifact, Store, DB_FILE};

/// The time now, formatted as AWS formats `CreatedDate` / `LastModified`:
/// `2018-11-14T23:03:52.894+0000`.
pub fn now_aws() -> String {
    chrono::Utc::now()
        .format("%Y-%m-%dT%H:%M:%S%.3f+0000")
        .to_string()
}
