//! Zip in and out: safe streaming extraction, and deterministic zips of directories.

use std::fs::{self, File, OpenOptions};
use std::io::{self, BufReader, BufWriter, Read, Write};
use std::os::unix::fs::{symlink, PermissionsExt};
use std::path::{Path, PathBuf};

use zip::write::SimpleFileOptions;
use zip::{CompressionMethod, DateTime, ZipArchive, ZipWriter};

use crate::error::{io_err, StoreError};
use crate::fsutil::{resolve_symlink, Resolution};

/// Limits applied while extracting an archive. Every check runs while streaming: nothing
/// is buffered whole.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExtractLimits {
    /// Sum of the unzipped sizes of all entries (declared and actual). AWS: 262,144,000.
    pub max_unzipped_bytes: u64,
    /// Largest allowed uncompressed/compressed ratio of one entry, checked for entries
    /// larger than [`RATIO_CHECK_MIN_BYTES`].
    pub max_ratio: u64,
    /// Largest number of entries (files, directories, symlinks).
    pub max_entries: u32,
}

/// AWS's limit on function code plus layers, unzipped.
pub const AWS_MAX_UNZIPPED_BYTES: u64 = 262_144_000;

/// Entries up to this size are never refused for their compression ratio: small files of
/// zeros or repeated text legitimately compress very well.
pub const RATIO_CHECK_MIN_BYTES: u64 = 1 << 20;

impl Default for ExtractLimits {
    fn default() -> Self {
        ExtractLimits {
            max_unzipped_bytes: AWS_MAX_UNZIPPED_BYTES,
            // Deflate tops out near 1032:1; only archives close to that are refused,
            // so legitimate, very compressible data files still import.
            max_ratio: 1000,
            max_entries: 100_000,
        }
    }
}

const S_IFMT: u32 = 0o170_000;
const S_IFREG: u32 = 0o100_000;
const S_IFDIR: u32 = 0o040_000;
const S_IFLNK: u32 = 0o120_000;

/// Longest symlink target we accept (Linux PATH_MAX).
const MAX_LINK_TARGET: u64 = 4096;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Dir,
    File,
    Symlink,
}

#[derive(Debug)]
struct Planned {
    index: usize,
    name: String,
    rel: PathBuf,
    kind: Kind,
    mode: Option<u32>,
    size: u64,
}

/// Mode of an extracted file: the archive's read and execute bits for each class, always
/// readable, never writable.
fn file_mode(mode: Option<u32>) -> u32 {
    (mode.unwrap_or(0o444) & 0o555) | 0o444
}

/// Turns an entry name into a relative path made only of normal components, or refuses it.
/// `None` means the entry names the root itself (`./`), which is skipped.
fn sanitize(name: &str) -> Result<Option<PathBuf>, StoreError> {
    if name.contains('\0') {
        return Err(StoreError::UnsupportedEntry {
            entry: name.escape_debug().to_string(),
            reason: "has a NUL byte in its name".into(),
        });
    }
    // Zips made on Windows sometimes use backslashes; unzip treats them as separators, and
    // so do we (a backslash can otherwise smuggle `..\..\` past a check on `/`).
    let unified = name.replace('\\', "/");
    let bytes = unified.as_bytes();
    let drive = bytes.len() >= 2 && bytes[0].is_ascii_alphabetic() && bytes[1] == b':';
    if unified.starts_with('/') || drive {
        return Err(StoreError::AbsolutePath { entry: name.into() });
    }
    let mut rel = PathBuf::new();
    for part in unified.split('/') {
        match part {
            "" | "." => {}
            ".." => return Err(StoreError::EntryEscapes { entry: name.into() }),
            p => rel.push(p),
        }
    }
    Ok((!rel.as_os_str().is_empty()).then_some(rel))
}

fn not_a_zip(e: zip::result::ZipError) -> StoreError {
    StoreError::NotAZip {
        detail: e.to_string(),
    }
}

/// Reads the central directory and checks everything that can be checked before a byte
/// is written: names, entry count, declared total size, per-entry ratio, entry types.
fn plan(
    archive: &ZipArchive<BufReader<File>>,
    limits: &ExtractLimits,
) -> Result<Vec<Planned>, StoreError> {
    let count = archive.len() as u64;
    if count > u64::from(limits.max_entries) {
        return Err(StoreError::TooManyEntries {
            count,
            limit: limits.max_entries,
        });
    }
    let mut planned = Vec::with_capacity(archive.len());
    let mut declared_total: u64 = 0;
    for index in 0..archive.len() {
        let entry = archive.by_index_data(index).map_err(not_a_zip)?;
        let name = entry.name().map_err(not_a_zip)?.into_owned();
        let Some(rel) = sanitize(&name)? else {
            continue;
        };
        let mode = entry.unix_mode();
        let kind = match mode.map(|m| m & S_IFMT) {
            Some(S_IFLNK) => Kind::Symlink,
            Some(S_IFDIR) => Kind::Dir,
            _ if entry.is_dir() => Kind::Dir,
            Some(0) | Some(S_IFREG) | None => Kind::File,
            Some(_) => {
                return Err(StoreError::UnsupportedEntry {
                    entry: name,
                    reason: "is a special file (device, fifo or socket)".into(),
                })
            }
        };
        if entry.encrypted() {
            return Err(StoreError::UnsupportedEntry {
                entry: name,
                reason: "is encrypted".into(),
            });
        }
        let method = entry.compression();
        if kind != Kind::Dir
            && !matches!(
                method,
                CompressionMethod::Stored | CompressionMethod::Deflated
            )
        {
            return Err(StoreError::UnsupportedEntry {
                entry: name,
                reason: format!(
                    "uses compression method {method}; only stored and deflated entries are read"
                ),
            });
        }
        let size = entry.size();
        if kind != Kind::Dir {
            declared_total = declared_total.saturating_add(size);
            if declared_total > limits.max_unzipped_bytes {
                return Err(StoreError::TooLarge {
                    limit: limits.max_unzipped_bytes,
                });
            }
        }
        if kind == Kind::Symlink && size > MAX_LINK_TARGET {
            return Err(StoreError::UnsupportedEntry {
                entry: name,
                reason: format!("is a symlink with a target longer than {MAX_LINK_TARGET} bytes"),
            });
        }
        planned.push(Planned {
            index,
            name,
            rel,
            kind,
            mode,
            size,
        });
    }
    // Ratios after the total, so a bomb over the limit gets the limit's (AWS's) message.
    for p in &planned {
        if p.kind == Kind::File && p.size > RATIO_CHECK_MIN_BYTES {
            let compressed = archive
                .by_index_data(p.index)
                .map_err(not_a_zip)?
                .compressed_size()
                .max(1);
            let ratio = p.size / compressed;
            if ratio > limits.max_ratio {
                return Err(StoreError::CompressionRatio {
                    entry: p.name.clone(),
                    ratio,
                });
            }
        }
    }
    Ok(planned)
}

/// Extracts the zip at `zip_path` into `dest` (which must not exist yet; the caller owns
/// its parent work directory and removes it on failure). Returns the unzipped size.
///
/// Directories and files are written first, symlinks last, so no file is ever written
/// through a link; then every link is resolved against the finished tree.
pub(crate) fn extract(
    zip_path: &Path,
    dest: &Path,
    limits: &ExtractLimits,
) -> Result<u64, StoreError> {
    let file = File::open(zip_path).map_err(io_err("open", zip_path))?;
    let mut archive = ZipArchive::new(BufReader::new(file)).map_err(not_a_zip)?;
    let planned = plan(&archive, limits)?;

    fs::create_dir(dest).map_err(io_err("create directory", dest))?;
    let mut written: u64 = 0;
    let mut links: Vec<(&Planned, String)> = Vec::new();
    let mut buf = vec![0u8; 128 * 1024];

    for p in &planned {
        let out = dest.join(&p.rel);
        match p.kind {
            Kind::Dir => {
                fs::create_dir_all(&out).map_err(|e| conflict_or_io(p, &out, e))?;
            }
            Kind::File => {
                if let Some(parent) = out.parent() {
                    fs::create_dir_all(parent).map_err(|e| conflict_or_io(p, parent, e))?;
                }
                let mut entry = archive.by_index(p.index).map_err(|e| read_err(p, e))?;
                let mut f = OpenOptions::new()
                    .write(true)
                    .create(true)
                    .truncate(true)
                    .open(&out)
                    .map_err(|e| conflict_or_io(p, &out, e))?;
                // Never trust the header: count what comes out, one byte past the
                // declared size is enough to know it lies.
                let mut limited = (&mut entry).take(p.size.saturating_add(1));
                let mut this: u64 = 0;
                loop {
                    let n = limited.read(&mut buf).map_err(|e| {
                        // The zip crate counts too and may notice first; keep our message.
                        if e.kind() == io::ErrorKind::InvalidData
                            && e.to_string().contains("larger than its declared")
                        {
                            StoreError::EntryLargerThanDeclared {
                                entry: p.name.clone(),
                                declared: p.size,
                            }
                        } else {
                            read_io_err(p, e)
                        }
                    })?;
                    if n == 0 {
                        break;
                    }
                    this += n as u64;
                    written += n as u64;
                    if this > p.size {
                        return Err(StoreError::EntryLargerThanDeclared {
                            entry: p.name.clone(),
                            declared: p.size,
                        });
                    }
                    if written > limits.max_unzipped_bytes {
                        return Err(StoreError::TooLarge {
                            limit: limits.max_unzipped_bytes,
                        });
                    }
                    f.write_all(&buf[..n]).map_err(io_err("write", &out))?;
                }
                f.set_permissions(fs::Permissions::from_mode(file_mode(p.mode)))
                    .map_err(io_err("set mode of", &out))?;
            }
            Kind::Symlink => {
                let mut entry = archive.by_index(p.index).map_err(|e| read_err(p, e))?;
                let mut target = String::new();
                (&mut entry)
                    .take(MAX_LINK_TARGET)
                    .read_to_string(&mut target)
                    .map_err(|e| read_io_err(p, e))?;
                links.push((p, target));
            }
        }
    }

    for (p, target) in &links {
        if target.is_empty() || target.contains('\0') {
            return Err(StoreError::UnsupportedEntry {
                entry: p.name.clone(),
                reason: "is a symlink with an empty or invalid target".into(),
            });
        }
        if target.starts_with('/') {
            return Err(StoreError::SymlinkEscapes {
                entry: p.name.clone(),
                target: target.clone(),
            });
        }
        // The link's parent directories must be real directories of the tree.
        let mut ancestor = dest.to_path_buf();
        if let Some(parent) = p.rel.parent() {
            for c in parent.components() {
                ancestor.push(c);
                if fs::symlink_metadata(&ancestor).is_ok_and(|m| m.file_type().is_symlink()) {
                    return Err(StoreError::UnsupportedEntry {
                        entry: p.name.clone(),
                        reason: "lies below another symlink of the archive".into(),
                    });
                }
            }
            let parent = dest.join(parent);
            fs::create_dir_all(&parent).map_err(|e| conflict_or_io(p, &parent, e))?;
        }
        let out = dest.join(&p.rel);
        symlink(target, &out).map_err(|e| conflict_or_io(p, &out, e))?;
    }
    for (p, target) in &links {
        match resolve_symlink(dest, &p.rel).map_err(io_err("resolve symlink", dest.join(&p.rel)))? {
            Resolution::Inside => {}
            Resolution::Outside => {
                return Err(StoreError::SymlinkEscapes {
                    entry: p.name.clone(),
                    target: target.clone(),
                })
            }
            Resolution::Loop => {
                return Err(StoreError::UnsupportedEntry {
                    entry: p.name.clone(),
                    reason: "is part of a symlink loop".into(),
                })
            }
        }
    }
    Ok(written)
}

fn read_err(p: &Planned, e: zip::result::ZipError) -> StoreError {
    StoreError::ArchiveRead {
        entry: p.name.clone(),
        detail: e.to_string(),
    }
}

fn read_io_err(p: &Planned, e: io::Error) -> StoreError {
    StoreError::ArchiveRead {
        entry: p.name.clone(),
        detail: e.to_string(),
    }
}

/// Two entries claiming one path as different kinds is the archive's fault; anything else
/// is ours.
fn conflict_or_io(p: &Planned, path: &Path, e: io::Error) -> StoreError {
    match e.kind() {
        io::ErrorKind::AlreadyExists
        | io::ErrorKind::NotADirectory
        | io::ErrorKind::IsADirectory => StoreError::UnsupportedEntry {
            entry: p.name.clone(),
            reason: "conflicts with another entry of the archive".into(),
        },
        _ => io_err("write", path)(e),
    }
}

/// Writes a deterministic zip of `src` to `out`: entries in sorted order, every timestamp
/// 1980-01-01 00:00, unix modes as on disk, symlinks stored as symlinks (refused when they
/// lead outside `src`). The same tree always gives the same bytes, whatever its mtimes.
pub(crate) fn zip_dir(src: &Path, out: &Path) -> Result<(), StoreError> {
    let meta = fs::metadata(src).map_err(io_err("read", src))?;
    if !meta.is_dir() {
        return Err(io_err("import directory", src)(io::Error::new(
            io::ErrorKind::NotADirectory,
            "not a directory",
        )));
    }
    let file = File::create(out).map_err(io_err("create", out))?;
    let mut zw = ZipWriter::new(BufWriter::with_capacity(256 * 1024, file));
    let base = SimpleFileOptions::default()
        .last_modified_time(DateTime::DEFAULT)
        .system(zip::System::Unix);
    add_dir(&mut zw, src, Path::new(""), base, out)?;
    let inner = zw.finish().map_err(|e| zip_write_err(out, e))?;
    inner
        .into_inner()
        .map_err(|e| io_err("write", out)(e.into_error()))?;
    Ok(())
}

fn zip_write_err(out: &Path, e: zip::result::ZipError) -> StoreError {
    let source = match e {
        zip::result::ZipError::Io(io) => io,
        other => io::Error::other(other.to_string()),
    };
    io_err("write zip", out)(source)
}

/// How much of a file [`looks_incompressible`] looks at.
const SAMPLE_BYTES: usize = 64 * 1024;

/// True for data that deflate would not shrink (already compressed, encrypted, random):
/// such files are stored, because deflating them costs ~10 ms per MB for nothing. Judged
/// by the byte entropy of the file's head, so the choice, like the zip, depends only on
/// content.
fn looks_incompressible(head: &[u8]) -> bool {
    if head.len() < 4096 {
        return false;
    }
    let mut counts = [0u32; 256];
    for &b in head {
        counts[usize::from(b)] += 1;
    }
    let n = head.len() as f64;
    let bits: f64 = counts
        .iter()
        .filter(|&&c| c > 0)
        .map(|&c| {
            let p = f64::from(c) / n;
            -p * p.log2()
        })
        .sum();
    bits > 7.5
}

fn add_dir(
    zw: &mut ZipWriter<BufWriter<File>>,
    root: &Path,
    rel: &Path,
    base: SimpleFileOptions,
    out: &Path,
) -> Result<(), StoreError> {
    let dir = root.join(rel);
    let mut entries: Vec<_> = fs::read_dir(&dir)
        .map_err(io_err("read directory", &dir))?
        .collect::<Result<_, _>>()
        .map_err(io_err("read directory", &dir))?;
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        let path = entry.path();
        let child_rel = rel.join(entry.file_name());
        let Some(name) = child_rel.to_str().map(str::to_owned) else {
            return Err(StoreError::SourceUnsupported {
                path,
                reason: "its name is not UTF-8",
            });
        };
        let meta = fs::symlink_metadata(&path).map_err(io_err("stat", &path))?;
        let mode = meta.permissions().mode() & 0o7777;
        let ft = meta.file_type();
        if ft.is_symlink() {
            let target = fs::read_link(&path).map_err(io_err("read symlink", &path))?;
            let outside = target.is_absolute()
                || resolve_symlink(root, &child_rel).map_err(io_err("resolve symlink", &path))?
                    != Resolution::Inside;
            let Some(target_str) = target.to_str() else {
                return Err(StoreError::SourceUnsupported {
                    path,
                    reason: "its symlink target is not UTF-8",
                });
            };
            if outside {
                return Err(StoreError::SourceSymlinkEscapes {
                    path,
                    target: target_str.to_owned(),
                });
            }
            zw.add_symlink(name, target_str, base.unix_permissions(0o777))
                .map_err(|e| zip_write_err(out, e))?;
        } else if ft.is_dir() {
            zw.add_directory(format!("{name}/"), base.unix_permissions(mode))
                .map_err(|e| zip_write_err(out, e))?;
            add_dir(zw, root, &child_rel, base, out)?;
        } else if ft.is_file() {
            let len = meta.len();
            let mut f = File::open(&path).map_err(io_err("open", &path))?;
            let mut head = Vec::with_capacity(SAMPLE_BYTES);
            (&mut f)
                .take(SAMPLE_BYTES as u64)
                .read_to_end(&mut head)
                .map_err(io_err("read", &path))?;
            let method = if looks_incompressible(&head) {
                CompressionMethod::Stored
            } else {
                CompressionMethod::Deflated
            };
            let opts = base
                .compression_method(method)
                .compression_level((method == CompressionMethod::Deflated).then_some(1))
                .unix_permissions(mode)
                .large_file(len >= u64::from(u32::MAX));
            zw.start_file(name, opts)
                .map_err(|e| zip_write_err(out, e))?;
            zw.write_all(&head).map_err(io_err("write zip", out))?;
            io::copy(&mut f, zw).map_err(io_err("read", &path))?;
        } else {
            tracing::warn!(path = %path.display(), "skipping a special file (fifo, socket or device)");
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sanitize_keeps_normal_names() {
        assert_eq!(
            sanitize("python/lib/x.py").expect("ok"),
            Some(PathBuf::from("python/lib/x.py"))
        );
        assert_eq!(sanitize("./bin/").expect("ok"), Some(PathBuf::from("bin")));
        assert_eq!(sanitize("./").expect("ok"), None);
        assert_eq!(sanitize("a//b").expect("ok"), Some(PathBuf::from("a/b")));
    }

    #[test]
    fn sanitize_refuses_escapes_and_absolute_paths() {
        for bad in ["../x", "a/../../x", "a\\..\\..\\x", ".."] {
            assert!(
                matches!(sanitize(bad), Err(StoreError::EntryEscapes { .. })),
                "{bad}"
            );
        }
        for bad in ["/etc/passwd", "\\windows", "C:/x", "c:x"] {
            assert!(
                matches!(sanitize(bad), Err(StoreError::AbsolutePath { .. })),
                "{bad}"
            );
        }
        assert!(matches!(
            sanitize("a\0b"),
            Err(StoreError::UnsupportedEntry { .. })
        ));
    }

    #[test]
    fn incompressible_data_is_recognised() {
        let text = "def handler(event, context):\n    return {'ok': True}\n".repeat(2000);
        assert!(!looks_incompressible(text.as_bytes()));
        assert!(!looks_incompressible(&[0u8; 65536]));
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
        let noise: Vec<u8> = (0..65536)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                (x >> 24) as u8
            })
            .collect();
        assert!(looks_incompressible(&noise));
        assert!(
            !looks_incompressible(&noise[..1000]),
            "small files are always deflated"
        );
    }

    #[test]
    fn file_modes_drop_write_keep_exec() {
        assert_eq!(file_mode(Some(0o100755)), 0o555);
        assert_eq!(file_mode(Some(0o100644)), 0o444);
        assert_eq!(file_mode(Some(0o100700)), 0o544);
        assert_eq!(file_mode(Some(0o000)), 0o444);
        assert_eq!(file_mode(None), 0o444);
    }
}
