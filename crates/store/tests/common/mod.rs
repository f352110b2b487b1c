//! Helpers shared by the integration tests: real stores in temp dirs, zips built byte by
//! byte where a test needs an archive that lies.
#![allow(dead_code, unreachable_pub)]

use std::fs;
use std::io::{Cursor, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use ledge_store::Store;
use zip::write::SimpleFileOptions;
use zip::{CompressionMethod, ZipWriter};

pub const REGION: &str = "us-east-1";
pub const ACCOUNT: &str = "123456789012";

pub fn open(dir: &Path) -> Store {
    Store::open(dir, REGION, ACCOUNT).expect("open store")
}

pub enum Entry<'a> {
    File(&'a str, &'a [u8], u32),
    Dir(&'a str),
    Symlink(&'a str, &'a str),
}

/// A zip of these entries, in this order, deflated.
pub fn zip_of(entries: &[Entry<'_>]) -> Vec<u8> {
    let mut zw = ZipWriter::new(Cursor::new(Vec::new()));
    let base = SimpleFileOptions::default().compression_method(CompressionMethod::Deflated);
    for e in entries {
        match e {
            Entry::File(name, data, mode) => {
                zw.start_file(*name, base.unix_permissions(*mode))
                    .expect("start file");
                zw.write_all(data).expect("write");
            }
            Entry::Dir(name) => zw
                .add_directory(*name, base.unix_permissions(0o755))
                .expect("dir"),
            Entry::Symlink(name, target) => zw.add_symlink(*name, *target, base).expect("symlink"),
        }
    }
    zw.finish().expect("finish").into_inner()
}

/// Rewrites the uncompressed size that the local and central headers of entry `name`
/// declare: an archive that lies about its sizes.
pub fn patch_declared_size(zip: &mut [u8], name: &str, size: u32) {
    let mut patched = 0;
    let mut i = 0;
    while i + 4 <= zip.len() {
        let sig = &zip[i..i + 4];
        let (size_at, name_len_at, name_at) = if sig == b"PK\x03\x04" {
            (22, 26, 30)
        } else if sig == b"PK\x01\x02" {
            (24, 28, 46)
        } else {
            i += 1;
            continue;
        };
        let len = u16::from_le_bytes([zip[i + name_len_at], zip[i + name_len_at + 1]]) as usize;
        if zip.get(i + name_at..i + name_at + len) == Some(name.as_bytes()) {
            zip[i + size_at..i + size_at + 4].copy_from_slice(&size.to_le_bytes());
            patched += 1;
        }
        i += 4;
    }
    assert_eq!(patched, 2, "local and central header of {name}");
}

/// Every path under `dir`, relative, sorted.
pub fn listing(dir: &Path) -> Vec<String> {
    fn walk(root: &Path, dir: &Path, out: &mut Vec<String>) {
        for e in fs::read_dir(dir).expect("read_dir") {
            let e = e.expect("entry");
            let p = e.path();
            out.push(
                p.strip_prefix(root)
                    .expect("prefix")
                    .to_string_lossy()
                    .into_owned(),
            );
            if e.file_type().expect("type").is_dir() {
                walk(root, &p, out);
            }
        }
    }
    let mut out = Vec::new();
    if dir.exists() {
        walk(dir, dir, &mut out);
    }
    out.sort();
    out
}

/// The store left nothing behind: no work directory, no tree, no blob.
pub fn assert_nothing_left(state: &Path) {
    for sub in ["tmp", "trees", "blobs", "merged"] {
        let d = state.join("artifacts").join(sub);
        assert_eq!(
            listing(&d),
            Vec::<String>::new(),
            "{} is not empty",
            d.display()
        );
    }
}

pub fn write(path: &Path, data: &[u8], mode: u32) {
    if let Some(parent) = path.parent() {
        fs::create_dir_all(parent).expect("mkdir");
    }
    fs::write(path, data).expect("write");
    fs::set_permissions(path, fs::Permissions::from_mode(mode)).expect("chmod");
}

pub fn mode(path: &Path) -> u32 {
    fs::symlink_metadata(path)
        .expect("stat")
        .permissions()
        .mode()
        & 0o7777
}

/// Asserts no file or directory below `root` (root included) has a write bit.
pub fn assert_read_only(root: &Path) {
    let mut paths = vec![PathBuf::from(root)];
    paths.extend(listing(root).into_iter().map(|p| root.join(p)));
    for p in paths {
        let meta = fs::symlink_metadata(&p).expect("stat");
        if meta.file_type().is_symlink() {
            continue;
        }
        assert_eq!(
            meta.permissions().mode() & 0o222,
            0,
            "{} is writable ({:o})",
            p.display(),
            meta.permissions().mode()
        );
    }
}
