//! The one error type of this crate.

use std::io;
use std::path::PathBuf;

/// What went wrong in the store.
///
/// Archive variants describe a problem with what the user gave us (their Display reads well
/// on its own); [`StoreError::is_client_error`] tells callers which status to answer with.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A file-system operation failed.
    #[error("cannot {action} {}: {source}", path.display())]
    Io {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: io::Error,
    },

    /// A query against the state database failed.
    #[error("state database: cannot {action}: {source}")]
    Db {
        action: &'static str,
        #[source]
        source: rusqlite::Error,
    },

    /// A schema migration failed; nothing of it was applied.
    #[error("state database: migration {version} failed: {source}")]
    Migration {
        version: u32,
        #[source]
        source: rusqlite::Error,
    },

    /// The database was written by a newer ledge.
    #[error(
        "state database is at schema version {found}, newer than this ledge understands \
         ({supported}); upgrade ledge or use another state directory"
    )]
    SchemaTooNew { found: u32, supported: u32 },

    /// A row holds something this version cannot read.
    #[error("state database holds an invalid {what}: {detail}")]
    Corrupt { what: &'static str, detail: String },

    /// The input is not a readable zip archive.
    #[error("not a zip file: {detail}")]
    NotAZip { detail: String },

    /// An entry could not be read (truncated data, bad checksum, …).
    #[error("cannot read archive entry {entry}: {detail}")]
    ArchiveRead { entry: String, detail: String },

    /// Zip slip: an entry with a `..` component.
    #[error("archive entry {entry} escapes the layer")]
    EntryEscapes { entry: String },

    /// An entry named by an absolute path.
    #[error("archive entry {entry} has an absolute path")]
    AbsolutePath { entry: String },

    /// A symlink whose target resolves outside the extracted tree (or is absolute).
    #[error("archive entry {entry} is a symlink pointing outside the layer ({target})")]
    SymlinkEscapes { entry: String, target: String },

    /// An entry the store will not extract (encrypted, special file, unknown method, …).
    #[error("archive entry {entry} {reason}")]
    UnsupportedEntry { entry: String, reason: String },

    /// Declared or actual unzipped size over the limit.
    #[error(
        "archive expands beyond {limit} bytes (Unzipped size must be smaller than {limit} bytes)"
    )]
    TooLarge { limit: u64 },

    /// An entry produced more bytes than its header declares: the archive lies.
    #[error("archive entry {entry} expands beyond the {declared} bytes it declares (zip bomb?)")]
    EntryLargerThanDeclared { entry: String, declared: u64 },

    /// An entry with an extreme compression ratio.
    #[error("archive entry {entry} has a compression ratio of {ratio}:1 (zip bomb?)")]
    CompressionRatio { entry: String, ratio: u64 },

    /// More entries than allowed.
    #[error("archive has {count} entries, more than the {limit} allowed")]
    TooManyEntries { count: u64, limit: u32 },

    /// `import_dir`: a symlink in the source directory that points outside it.
    #[error("{} is a symlink pointing outside the directory ({target})", path.display())]
    SourceSymlinkEscapes { path: PathBuf, target: String },

    /// `import_dir`: a path that cannot be stored in a zip (not UTF-8).
    #[error("{} cannot be stored in a zip: {reason}", path.display())]
    SourceUnsupported { path: PathBuf, reason: &'static str },

    /// A layer name outside `[a-zA-Z0-9-_]{1,140}`.
    #[error(
        "invalid layer name {name:?}: must match [a-zA-Z0-9-_]+ and be at most 140 characters"
    )]
    InvalidLayerName { name: String },

    /// Merging layers produced a symlink that leaves the merged tree.
    #[error("merged layers: {entry} is a symlink pointing outside /opt ({target})")]
    MergedSymlinkEscapes { entry: String, target: String },
}

impl StoreError {
    /// True when the fault lies in what the caller supplied (a bad archive, a bad name),
    /// false for platform faults (disk, database).
    pub fn is_client_error(&self) -> bool {
        !matches!(
            self,
            StoreError::Io { .. }
                | StoreError::Db { .. }
                | StoreError::Migration { .. }
                | StoreError::SchemaTooNew { .. }
                | StoreError::Corrupt { .. }
        )
    }

    /// True for the size-limit error, which AWS reports as
    /// `InvalidParameterValueException: Unzipped size must be smaller than 262144000 bytes`.
    pub fn is_too_large(&self) -> bool {
        matches!(self, StoreError::TooLarge { .. })
    }
}

/// `map_err(io_err("read", &path))`
pub(crate) fn io_err(
    action: &'static str,
    path: impl Into<PathBuf>,
) -> impl FnOnce(io::Error) -> StoreError {
    let path = path.into();
    move |source| StoreError::Io {
        action,
        path,
        source,
    }
}

/// `map_err(db_err("insert a layer version"))`
pub(crate) fn db_err(action: &'static str) -> impl FnOnce(rusqlite::Error) -> StoreError {
    move |source| StoreError::Db { action, source }
}
