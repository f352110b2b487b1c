//! Content-addressed artifacts: deterministic directory imports, read-only trees, modes,
//! merged layer trees.

mod common;

use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::time::{Duration, SystemTime};

use base64::Engine as _;
use common::{assert_read_only, mode, open, write, zip_of, Entry};
use ledge_store::{ExtractLimits, StoreError};
use sha2::{Digest, Sha256};

fn sample_dir(root: &Path) {
    write(&root.join("python/pkg/__init__.py"), b"VALUE = 1\n", 0o644);
    write(
        &root.join("python/pkg/util.py"),
        b"def f():\n    return 2\n",
        0o644,
    );
    write(&root.join("bin/tool"), b"#!/bin/sh\necho tool\n", 0o755);
    fs::create_dir_all(root.join("empty")).expect("mkdir");
}

/// Deterministic incompressible bytes (xorshift).
fn noise(len: usize) -> Vec<u8> {
    let mut x: u64 = 0x2545_F491_4F6C_DD1D;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 32) as u8
        })
        .collect()
}

#[test]
fn import_dir_is_deterministic() {
    let t = tempfile::tempdir().expect("tempdir");
    let src = t.path().join("src");
    sample_dir(&src);
    write(&src.join("lib/noise.bin"), &noise(100_000), 0o644);
    let store = open(&t.path().join("state"));
    let limits = ExtractLimits::default();

    let first = store.import_dir(&src, &limits).expect("import");
    // Incompressible files are stored, text is deflated.
    let mut zip =
        zip::ZipArchive::new(fs::File::open(&first.zip_path).expect("open")).expect("zip");
    assert_eq!(
        zip.by_name("lib/noise.bin").expect("entry").compression(),
        zip::CompressionMethod::Stored
    );
    assert_eq!(
        zip.by_name("python/pkg/util.py")
            .expect("entry")
            .compression(),
        zip::CompressionMethod::Deflated
    );
    assert_eq!(
        zip.by_name("python/pkg/util.py")
            .expect("entry")
            .last_modified(),
        Some(zip::DateTime::DEFAULT)
    );
    let tree_ino = fs::metadata(&first.tree).expect("stat").ino();

    // Same directory again: same artifact, and the tree is not extracted again.
    let again = store.import_dir(&src, &limits).expect("import");
    assert_eq!(again, first);
    assert_eq!(fs::metadata(&again.tree).expect("stat").ino(), tree_ino);

    // Touching mtimes changes nothing.
    let past = SystemTime::now() - Duration::from_secs(86_400 * 30);
    for f in ["python/pkg/util.py", "bin/tool"] {
        fs::File::options()
            .write(true)
            .open(src.join(f))
            .expect("open")
            .set_modified(past)
            .expect("touch");
    }
    let touched = store.import_dir(&src, &limits).expect("import");
    assert_eq!(touched.sha256_hex, first.sha256_hex);

    // A copy of the directory elsewhere, created in another order: same digest.
    let copy = t.path().join("copy");
    write(&copy.join("lib/noise.bin"), &noise(100_000), 0o644);
    write(&copy.join("bin/tool"), b"#!/bin/sh\necho tool\n", 0o755);
    fs::create_dir_all(copy.join("empty")).expect("mkdir");
    write(
        &copy.join("python/pkg/util.py"),
        b"def f():\n    return 2\n",
        0o644,
    );
    write(&copy.join("python/pkg/__init__.py"), b"VALUE = 1\n", 0o644);
    assert_eq!(
        store.import_dir(&copy, &limits).expect("import").sha256_hex,
        first.sha256_hex
    );

    // One byte changed: a new artifact with its own tree; the old one is untouched.
    write(&src.join("python/pkg/__init__.py"), b"VALUE = 2\n", 0o644);
    let changed = store.import_dir(&src, &limits).expect("import");
    assert_ne!(changed.sha256_hex, first.sha256_hex);
    assert_ne!(changed.tree, first.tree);
    assert_eq!(
        fs::read(changed.tree.join("python/pkg/__init__.py")).expect("read"),
        b"VALUE = 2\n"
    );
    assert_eq!(
        fs::read(first.tree.join("python/pkg/__init__.py")).expect("read"),
        b"VALUE = 1\n"
    );

    // A mode change is a content change too (the exec bit matters to Lambda).
    fs::set_permissions(
        src.join("bin/tool"),
        std::os::unix::fs::PermissionsExt::from_mode(0o644),
    )
    .expect("chmod");
    let chmodded = store.import_dir(&src, &limits).expect("import");
    assert_ne!(chmodded.sha256_hex, changed.sha256_hex);
}

#[test]
fn imported_dir_tree_matches_the_source() {
    let t = tempfile::tempdir().expect("tempdir");
    let src = t.path().join("src");
    sample_dir(&src);
    std::os::unix::fs::symlink("pkg/util.py", src.join("python/alias.py")).expect("symlink");
    let store = open(&t.path().join("state"));
    let a = store
        .import_dir(&src, &ExtractLimits::default())
        .expect("import");
    assert_eq!(
        common::listing(&a.tree),
        [
            "bin",
            "bin/tool",
            "empty",
            "python",
            "python/alias.py",
            "python/pkg",
            "python/pkg/__init__.py",
            "python/pkg/util.py"
        ]
    );
    assert_eq!(
        fs::read_link(a.tree.join("python/alias.py")).expect("readlink"),
        Path::new("pkg/util.py")
    );
    assert_eq!(
        fs::read(a.tree.join("python/alias.py")).expect("read through link"),
        b"def f():\n    return 2\n"
    );
    let expected_size = (10 + 22 + 20) as u64;
    assert_eq!(a.unzipped_size, expected_size);
    assert_eq!(a.zip_size, fs::metadata(&a.zip_path).expect("stat").len());
}

#[test]
fn trees_are_read_only_and_keep_exec_bits() {
    let t = tempfile::tempdir().expect("tempdir");
    let src = t.path().join("src");
    write(
        &src.join("bootstrap"),
        b"#!/bin/sh\nexec ./handler\n",
        0o755,
    );
    write(&src.join("bin/jq"), b"\x7fELF", 0o750);
    write(&src.join("lib/data.txt"), b"data", 0o664);
    let store = open(&t.path().join("state"));
    let a = store
        .import_dir(&src, &ExtractLimits::default())
        .expect("import");
    assert_eq!(mode(&a.tree.join("bootstrap")), 0o555);
    assert_eq!(mode(&a.tree.join("bin/jq")), 0o554);
    assert_eq!(mode(&a.tree.join("lib/data.txt")), 0o444);
    assert_eq!(mode(&a.tree.join("bin")), 0o555);
    assert_read_only(&a.tree);
    assert_eq!(mode(&a.zip_path) & 0o222, 0);
}

#[test]
fn zip_import_keeps_bootstrap_exec_bit() {
    let t = tempfile::tempdir().expect("tempdir");
    let store = open(t.path());
    let zip = zip_of(&[
        Entry::File("bootstrap", b"#!/bin/sh\n", 0o755),
        Entry::File("README", b"read me", 0o644),
    ]);
    let a = store
        .import_zip_bytes(&zip, &ExtractLimits::default())
        .expect("import");
    assert_eq!(mode(&a.tree.join("bootstrap")), 0o555);
    assert_eq!(mode(&a.tree.join("README")), 0o444);
}

#[test]
fn zip_file_and_bytes_give_the_same_artifact_with_aws_code_sha256() {
    let t = tempfile::tempdir().expect("tempdir");
    let store = open(&t.path().join("state"));
    let zip = zip_of(&[
        Entry::Dir("python/"),
        Entry::File("python/m.py", b"X = 1\n", 0o644),
    ]);
    let path = t.path().join("layer.zip");
    fs::write(&path, &zip).expect("write");
    let limits = ExtractLimits::default();
    let from_file = store.import_zip_file(&path, &limits).expect("import file");
    let from_bytes = store.import_zip_bytes(&zip, &limits).expect("import bytes");
    assert_eq!(from_file, from_bytes);

    let digest = Sha256::digest(&zip);
    assert_eq!(from_file.sha256_hex, hex::encode(digest));
    assert_eq!(
        from_file.code_sha256,
        base64::engine::general_purpose::STANDARD.encode(digest)
    );
    assert_eq!(from_file.zip_size, zip.len() as u64);
    assert_eq!(fs::read(&from_file.zip_path).expect("blob"), zip);
    assert_eq!(from_file.unzipped_size, 6);
}

#[test]
fn artifact_lookup_and_repair() {
    let t = tempfile::tempdir().expect("tempdir");
    let store = open(t.path());
    let zip = zip_of(&[Entry::File("a.txt", b"hello", 0o644)]);
    let a = store
        .import_zip_bytes(&zip, &ExtractLimits::default())
        .expect("import");
    assert_eq!(
        store.artifact(&a.sha256_hex).expect("lookup"),
        Some(a.clone())
    );
    assert_eq!(store.artifact(&"0".repeat(64)).expect("lookup"), None);
    assert_eq!(store.artifact("../../etc").expect("lookup"), None);

    // Someone removed the tree: the next lookup extracts it again from the blob.
    std::process::Command::new("chmod")
        .args(["-R", "u+w"])
        .arg(&a.tree)
        .status()
        .expect("chmod");
    fs::remove_dir_all(&a.tree).expect("rm");
    let back = store
        .artifact(&a.sha256_hex)
        .expect("lookup")
        .expect("some");
    assert_eq!(fs::read(back.tree.join("a.txt")).expect("read"), b"hello");
    assert_read_only(&back.tree);
}

#[test]
fn existing_artifact_is_still_checked_against_the_size_limit() {
    let t = tempfile::tempdir().expect("tempdir");
    let store = open(t.path());
    let zip = zip_of(&[Entry::File("a.bin", &[1u8; 5000], 0o644)]);
    store
        .import_zip_bytes(&zip, &ExtractLimits::default())
        .expect("import");
    let tight = ExtractLimits {
        max_unzipped_bytes: 4000,
        ..ExtractLimits::default()
    };
    let e = store
        .import_zip_bytes(&zip, &tight)
        .expect_err("over limit");
    assert!(matches!(e, StoreError::TooLarge { limit: 4000 }));
}

#[test]
fn merged_tree_applies_layers_in_order() {
    let t = tempfile::tempdir().expect("tempdir");
    let store = open(&t.path().join("state"));
    let limits = ExtractLimits::default();
    let a_dir = t.path().join("a");
    write(&a_dir.join("python/common.py"), b"WHO = 'a'\n", 0o644);
    write(&a_dir.join("python/only_a.py"), b"A = 1\n", 0o644);
    write(&a_dir.join("bin/tool-a"), b"#!/bin/sh\n", 0o755);
    let b_dir = t.path().join("b");
    write(&b_dir.join("python/common.py"), b"WHO = 'b'\n", 0o644);
    write(&b_dir.join("python/only_b.py"), b"B = 1\n", 0o644);
    write(&b_dir.join("bootstrap"), b"#!/bin/sh\n", 0o755);
    let a = store.import_dir(&a_dir, &limits).expect("import a");
    let b = store.import_dir(&b_dir, &limits).expect("import b");

    let ab = store.merged_tree(&[a.clone(), b.clone()]).expect("merge");
    assert_eq!(
        fs::read(ab.join("python/common.py")).expect("read"),
        b"WHO = 'b'\n"
    );
    assert!(ab.join("python/only_a.py").is_file());
    assert!(ab.join("python/only_b.py").is_file());
    assert!(ab.join("bin/tool-a").is_file());
    assert_eq!(mode(&ab.join("bootstrap")), 0o555);
    assert_eq!(mode(&ab.join("bin/tool-a")), 0o555);
    assert_read_only(&ab);

    let ba = store.merged_tree(&[b.clone(), a.clone()]).expect("merge");
    assert_ne!(ab, ba);
    assert_eq!(
        fs::read(ba.join("python/common.py")).expect("read"),
        b"WHO = 'a'\n"
    );

    // Cached per ordered list: the same list gives the same directory, untouched.
    let ino = fs::metadata(&ab).expect("stat").ino();
    let again = store.merged_tree(&[a.clone(), b.clone()]).expect("merge");
    assert_eq!(again, ab);
    assert_eq!(fs::metadata(&again).expect("stat").ino(), ino);

    // The layers' own trees are unchanged by merging.
    assert_eq!(
        fs::read(a.tree.join("python/common.py")).expect("read"),
        b"WHO = 'a'\n"
    );
    assert!(common::listing(&store.artifacts_dir().join("tmp")).is_empty());
}

#[test]
fn later_layer_file_replaces_an_earlier_directory_and_back() {
    let t = tempfile::tempdir().expect("tempdir");
    let store = open(t.path());
    let limits = ExtractLimits::default();
    let dir_layer = store
        .import_zip_bytes(
            &zip_of(&[Entry::File("thing/inner.txt", b"in", 0o644)]),
            &limits,
        )
        .expect("import");
    let file_layer = store
        .import_zip_bytes(&zip_of(&[Entry::File("thing", b"file", 0o644)]), &limits)
        .expect("import");
    let m = store
        .merged_tree(&[dir_layer.clone(), file_layer.clone()])
        .expect("merge");
    assert_eq!(fs::read(m.join("thing")).expect("read"), b"file");
    let m = store.merged_tree(&[file_layer, dir_layer]).expect("merge");
    assert_eq!(fs::read(m.join("thing/inner.txt")).expect("read"), b"in");
}

#[test]
fn merged_symlinks_are_kept_and_checked() {
    let t = tempfile::tempdir().expect("tempdir");
    let store = open(t.path());
    let limits = ExtractLimits::default();
    let libs = store
        .import_zip_bytes(
            &zip_of(&[
                Entry::File("lib/libfoo.so.1", b"\x7fELF", 0o755),
                Entry::Symlink("lib/libfoo.so", "libfoo.so.1"),
            ]),
            &limits,
        )
        .expect("import");
    let m = store.merged_tree(&[libs]).expect("merge");
    assert_eq!(
        fs::read_link(m.join("lib/libfoo.so")).expect("readlink"),
        Path::new("libfoo.so.1")
    );
    assert_eq!(fs::read(m.join("lib/libfoo.so")).expect("read"), b"\x7fELF");

    // Each layer alone is safe, together they climb out: in layer one `a/l -> ../up/..`
    // is the root (no `up` there, read lexically); layer two adds `up -> .`, after which
    // the kernel would resolve a/l to the root's parent.
    let one = store
        .import_zip_bytes(
            &zip_of(&[Entry::Dir("a/"), Entry::Symlink("a/l", "../up/..")]),
            &limits,
        )
        .expect("layer one alone is safe");
    let two = store
        .import_zip_bytes(&zip_of(&[Entry::Symlink("up", ".")]), &limits)
        .expect("layer two alone is safe");
    let e = store.merged_tree(&[one, two]).expect_err("merged escape");
    assert!(matches!(e, StoreError::MergedSymlinkEscapes { .. }), "{e}");
    assert_eq!(
        e.to_string(),
        "merged layers: a/l is a symlink pointing outside /opt (../up/..)"
    );
    assert!(common::listing(&store.artifacts_dir().join("tmp")).is_empty());
}

#[test]
fn empty_layer_list_gives_an_empty_directory() {
    let t = tempfile::tempdir().expect("tempdir");
    let store = open(t.path());
    let m = store.merged_tree(&[]).expect("merge");
    assert!(m.is_dir());
    assert_eq!(fs::read_dir(&m).expect("read").count(), 0);
    assert_eq!(store.merged_tree(&[]).expect("merge"), m);
}
