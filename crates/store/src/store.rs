//! The [`Store`] handle, and content-addressed artifacts.

use std::fmt;
use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::os::unix::fs::{symlink, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use base64::Engine as _;
use rusqlite::{params, Connection, OptionalExtension};
use sha2::{Digest, Sha256};

use crate::archive::{self, ExtractLimits};
use crate::error::{db_err, io_err, StoreError};
use crate::fsutil::{self, Resolution, WorkDir};

/// A zip and its extracted tree, named by the zip's SHA-256.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Artifact {
    /// Lower-case hex SHA-256 of the zip: the artifact's name on disk.
    pub sha256_hex: String,
    /// Base64 of the same digest, as AWS reports `CodeSha256`.
    pub code_sha256: String,
    pub zip_path: PathBuf,
    pub zip_size: u64,
    /// The extracted tree. Files carry the archive's read and execute bits, no write bits;
    /// directories are `r-xr-xr-x`.
    pub tree: PathBuf,
    pub unzipped_size: u64,
}

/// Handle to one state directory. Cheap to clone; all clones share one connection.
#[derive(Clone)]
pub struct Store {
    inner: Arc<Inner>,
}

struct Inner {
    conn: Mutex<Connection>,
    state_dir: PathBuf,
    dirs: Dirs,
    region: String,
    account_id: String,
    schema_version: u32,
}

#[derive(Debug)]
struct Dirs {
    artifacts: PathBuf,
    blobs: PathBuf,
    trees: PathBuf,
    merged: PathBuf,
    tmp: PathBuf,
}

impl fmt::Debug for Store {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Store")
            .field("state_dir", &self.inner.state_dir)
            .field("region", &self.inner.region)
            .field("account_id", &self.inner.account_id)
            .field("schema_version", &self.inner.schema_version)
            .finish()
    }
}

/// File name of the database inside the state directory.
pub const DB_FILE: &str = "ledge.db";

fn is_sha256_hex(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

impl Store {
    /// Opens (creating if needed) the state in `state_dir`: the database in WAL mode with
    /// every pending migration applied, the artifact directories, and removes work
    /// directories left by crashed processes.
    pub fn open(state_dir: &Path, region: &str, account_id: &str) -> Result<Store, StoreError> {
        let artifacts = state_dir.join("artifacts");
        let dirs = Dirs {
            blobs: artifacts.join("blobs"),
            trees: artifacts.join("trees"),
            merged: artifacts.join("merged"),
            tmp: artifacts.join("tmp"),
            artifacts,
        };
        for d in [&dirs.blobs, &dirs.trees, &dirs.merged, &dirs.tmp] {
            fs::create_dir_all(d).map_err(io_err("create directory", d))?;
        }
        fsutil::clean_stale(&dirs.tmp)?;
        let (conn, schema_version) = crate::db::open(&state_dir.join(DB_FILE))?;
        Ok(Store {
            inner: Arc::new(Inner {
                conn: Mutex::new(conn),
                state_dir: state_dir.to_path_buf(),
                dirs,
                region: region.to_owned(),
                account_id: account_id.to_owned(),
                schema_version,
            }),
        })
    }

    /// The schema version of the database (the highest migration applied).
    pub fn schema_version(&self) -> u32 {
        self.inner.schema_version
    }

    pub fn state_dir(&self) -> &Path {
        &self.inner.state_dir
    }

    /// `<state_dir>/artifacts`.
    pub fn artifacts_dir(&self) -> &Path {
        &self.inner.dirs.artifacts
    }

    pub fn region(&self) -> &str {
        &self.inner.region
    }

    pub fn account_id(&self) -> &str {
        &self.inner.account_id
    }

    pub(crate) fn conn(&self) -> MutexGuard<'_, Connection> {
        // A panic while holding the lock cannot leave the connection half-used: every
        // multi-statement change runs in a transaction that rolls back on drop.
        self.inner
            .conn
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    // ---------------------------------------------------------------- artifacts

    /// Imports a directory: zips it deterministically (sorted entries, fixed timestamps,
    /// unix modes kept, symlinks kept when they stay inside), then stores it like a zip.
    /// An unchanged directory gives the same artifact and is not extracted again.
    pub fn import_dir(&self, dir: &Path, limits: &ExtractLimits) -> Result<Artifact, StoreError> {
        let work = WorkDir::new(&self.inner.dirs.tmp)?;
        let blob = work.path().join("blob.zip");
        archive::zip_dir(dir, &blob)?;
        let (digest, size) = hash_file(&blob)?;
        self.import_blob(&work, &blob, digest, size, limits)
    }

    /// Imports a zip file as it is: its SHA-256 is the one AWS reports as `CodeSha256`.
    pub fn import_zip_file(
        &self,
        zip: &Path,
        limits: &ExtractLimits,
    ) -> Result<Artifact, StoreError> {
        let (digest, _) = hash_file(zip)?;
        if let Some(a) = self.existing(&hex::encode(digest), limits)? {
            return Ok(a);
        }
        let work = WorkDir::new(&self.inner.dirs.tmp)?;
        let blob = work.path().join("blob.zip");
        // Hash the copy, not the original: the original may change under us.
        let (digest, size) = copy_hashing(zip, &blob)?;
        self.import_blob(&work, &blob, digest, size, limits)
    }

    /// Imports a zip held in memory (a Lambda API `ZipFile`).
    pub fn import_zip_bytes(
        &self,
        bytes: &[u8],
        limits: &ExtractLimits,
    ) -> Result<Artifact, StoreError> {
        let digest: [u8; 32] = Sha256::digest(bytes).into();
        if let Some(a) = self.existing(&hex::encode(digest), limits)? {
            return Ok(a);
        }
        let work = WorkDir::new(&self.inner.dirs.tmp)?;
        let blob = work.path().join("blob.zip");
        let mut f = File::create(&blob).map_err(io_err("create", &blob))?;
        f.write_all(bytes).map_err(io_err("write", &blob))?;
        self.import_blob(&work, &blob, digest, bytes.len() as u64, limits)
    }

    /// The artifact with this digest, if it was imported. A tree that went missing is
    /// extracted again from its blob (with default limits).
    pub fn artifact(&self, sha256_hex: &str) -> Result<Option<Artifact>, StoreError> {
        if !is_sha256_hex(sha256_hex) {
            return Ok(None);
        }
        let Some(a) = self.artifact_row(sha256_hex)? else {
            return Ok(None);
        };
        if !a.zip_path.is_file() {
            return Ok(None);
        }
        self.ensure_tree(&a)?;
        Ok(Some(a))
    }

    pub(crate) fn artifact_row(&self, sha256_hex: &str) -> Result<Option<Artifact>, StoreError> {
        self.conn()
            .query_row(
                "SELECT sha256, code_sha256, zip_size, unzipped_size FROM artifacts WHERE sha256 = ?1",
                [sha256_hex],
                |r| {
                    Ok((
                        r.get::<_, String>(0)?,
                        r.get::<_, String>(1)?,
                        r.get::<_, i64>(2)?,
                        r.get::<_, i64>(3)?,
                    ))
                },
            )
            .optional()
            .map_err(db_err("read an artifact"))
            .map(|row| row.map(|(sha, code, zip, unzipped)| self.artifact_at(sha, code, zip, unzipped)))
    }

    pub(crate) fn artifact_at(
        &self,
        sha: String,
        code: String,
        zip_size: i64,
        unzipped: i64,
    ) -> Artifact {
        Artifact {
            zip_path: self.inner.dirs.blobs.join(format!("{sha}.zip")),
            tree: self.inner.dirs.trees.join(&sha),
            sha256_hex: sha,
            code_sha256: code,
            zip_size: zip_size.max(0) as u64,
            unzipped_size: unzipped.max(0) as u64,
        }
    }

    /// A complete artifact already on disk and in the database, checked against `limits`.
    fn existing(&self, hex: &str, limits: &ExtractLimits) -> Result<Option<Artifact>, StoreError> {
        let Some(a) = self.artifact_row(hex)? else {
            return Ok(None);
        };
        if !(a.zip_path.is_file() && a.tree.is_dir()) {
            return Ok(None);
        }
        if a.unzipped_size > limits.max_unzipped_bytes {
            return Err(StoreError::TooLarge {
                limit: limits.max_unzipped_bytes,
            });
        }
        Ok(Some(a))
    }

    fn import_blob(
        &self,
        work: &WorkDir,
        blob: &Path,
        digest: [u8; 32],
        zip_size: u64,
        limits: &ExtractLimits,
    ) -> Result<Artifact, StoreError> {
        let hex = hex::encode(digest);
        if let Some(a) = self.existing(&hex, limits)? {
            return Ok(a);
        }
        let code = base64::engine::general_purpose::STANDARD.encode(digest);
        let tree_tmp = work.path().join("tree");
        let unzipped = archive::extract(blob, &tree_tmp, limits)?;
        fsutil::seal_below(&tree_tmp)?;
        // The blob is the source of truth (a lost tree is re-extracted from it): make it
        // durable before it gets its name. Trees are not synced file by file.
        File::open(blob)
            .and_then(|f| f.sync_all())
            .map_err(io_err("sync", blob))?;
        fs::set_permissions(blob, fs::Permissions::from_mode(0o444))
            .map_err(io_err("make read-only", blob))?;
        let a = self.artifact_at(hex, code, zip_size as i64, unzipped as i64);
        // Blob first, tree second, row last: whoever sees the row finds both.
        fsutil::publish(blob, &a.zip_path)?;
        fsutil::publish(&tree_tmp, &a.tree)?;
        fsutil::seal_root(&a.tree)?;
        self.conn()
            .execute(
                "INSERT OR IGNORE INTO artifacts (sha256, code_sha256, zip_size, unzipped_size, created_at)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
                params![a.sha256_hex, a.code_sha256, a.zip_size as i64, a.unzipped_size as i64, crate::now_aws()],
            )
            .map_err(db_err("record an artifact"))?;
        tracing::debug!(sha256 = %a.sha256_hex, unzipped_size = a.unzipped_size, "imported artifact");
        Ok(a)
    }

    /// Re-extracts a tree that was removed from disk while its blob remained.
    fn ensure_tree(&self, a: &Artifact) -> Result<(), StoreError> {
        if a.tree.is_dir() {
            return Ok(());
        }
        let work = WorkDir::new(&self.inner.dirs.tmp)?;
        let tree_tmp = work.path().join("tree");
        let limits = ExtractLimits {
            max_unzipped_bytes: a
                .unzipped_size
                .max(ExtractLimits::default().max_unzipped_bytes),
            ..ExtractLimits::default()
        };
        archive::extract(&a.zip_path, &tree_tmp, &limits)?;
        fsutil::seal_below(&tree_tmp)?;
        fsutil::publish(&tree_tmp, &a.tree)?;
        fsutil::seal_root(&a.tree)
    }

    /// The `/opt` tree for these layers: merged in order (a later layer's file wins over an
    /// earlier one's), read-only, cached by the ordered list of digests. Files are hard
    /// links into the layers' trees where the file system allows, copies otherwise.
    pub fn merged_tree(&self, layers: &[Artifact]) -> Result<PathBuf, StoreError> {
        let mut key = Sha256::new();
        for l in layers {
            key.update(l.sha256_hex.as_bytes());
            key.update(b"\n");
        }
        let dest = self.inner.dirs.merged.join(hex::encode(key.finalize()));
        if dest.is_dir() {
            return Ok(dest);
        }
        for l in layers {
            self.ensure_tree(l)?;
        }
        let work = WorkDir::new(&self.inner.dirs.tmp)?;
        let build = work.path().join("merged");
        fs::create_dir(&build).map_err(io_err("create directory", &build))?;
        for l in layers {
            merge_into(&l.tree, &build)?;
        }
        // Each layer's links stay inside that layer, but a later layer can replace a
        // directory an earlier link walks through: check the result as a whole.
        for link in fsutil::symlinks_below(&build)? {
            let at = build.join(&link);
            let res =
                fsutil::resolve_symlink(&build, &link).map_err(io_err("resolve symlink", &at))?;
            if res != Resolution::Inside {
                let target = fs::read_link(&at).map_err(io_err("read symlink", &at))?;
                return Err(StoreError::MergedSymlinkEscapes {
                    entry: link.display().to_string(),
                    target: target.display().to_string(),
                });
            }
        }
        fsutil::seal_below(&build)?;
        fsutil::publish(&build, &dest)?;
        fsutil::seal_root(&dest)?;
        Ok(dest)
    }
}

/// Overlays `src` onto `dst` without following links on either side.
fn merge_into(src: &Path, dst: &Path) -> Result<(), StoreError> {
    let mut entries: Vec<_> = fs::read_dir(src)
        .map_err(io_err("read directory", src))?
        .collect::<Result<_, _>>()
        .map_err(io_err("read directory", src))?;
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        let from = entry.path();
        let to = dst.join(entry.file_name());
        let ft = entry.file_type().map_err(io_err("stat", &from))?;
        let existing = fs::symlink_metadata(&to).ok().map(|m| m.file_type());
        if ft.is_dir() {
            match existing {
                Some(t) if t.is_dir() => {}
                Some(_) => {
                    fs::remove_file(&to).map_err(io_err("replace", &to))?;
                    fs::create_dir(&to).map_err(io_err("create directory", &to))?;
                }
                None => fs::create_dir(&to).map_err(io_err("create directory", &to))?,
            }
            merge_into(&from, &to)?;
            continue;
        }
        if existing.is_some() {
            fsutil::remove_tree(&to).map_err(io_err("replace", &to))?;
        }
        if ft.is_symlink() {
            let target = fs::read_link(&from).map_err(io_err("read symlink", &from))?;
            symlink(&target, &to).map_err(io_err("create symlink", &to))?;
        } else if fs::hard_link(&from, &to).is_err() {
            // Another file system, or links not permitted: copy, keeping the mode.
            fs::copy(&from, &to).map_err(io_err("copy", &from))?;
            let mode = entry
                .metadata()
                .map_err(io_err("stat", &from))?
                .permissions()
                .mode();
            fs::set_permissions(&to, fs::Permissions::from_mode(mode & 0o555))
                .map_err(io_err("set mode of", &to))?;
        }
    }
    Ok(())
}

fn hash_file(path: &Path) -> Result<([u8; 32], u64), StoreError> {
    let mut f = File::open(path).map_err(io_err("open", path))?;
    let mut h = Sha256::new();
    let n = io::copy(&mut f, &mut h).map_err(io_err("read", path))?;
    Ok((h.finalize().into(), n))
}

fn copy_hashing(from: &Path, to: &Path) -> Result<([u8; 32], u64), StoreError> {
    let mut src = File::open(from).map_err(io_err("open", from))?;
    let mut dst = File::create(to).map_err(io_err("create", to))?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 256 * 1024];
    let mut total = 0u64;
    loop {
        let n = src.read(&mut buf).map_err(io_err("read", from))?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
        dst.write_all(&buf[..n]).map_err(io_err("write", to))?;
        total += n as u64;
    }
    Ok((h.finalize().into(), total))
}
