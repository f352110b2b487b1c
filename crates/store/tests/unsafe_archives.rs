//! Every unsafe archive is refused with a message a user can act on, and leaves nothing
//! behind: no work directory, no tree, no blob, nothing outside the store.

mod common;

use std::fs;
use std::path::Path;

use common::{assert_nothing_left, open, patch_declared_size, zip_of, Entry};
use ledge_store::{ExtractLimits, StoreError};

/// Imports `zip` both as bytes and as a file; both must fail the same way and leave
/// nothing behind. Returns the error's message.
fn refused(zip: &[u8], limits: &ExtractLimits) -> (StoreError, String) {
    let t = tempfile::tempdir().expect("tempdir");
    let state = t.path().join("state");
    let outside = t.path().join("outside");
    fs::create_dir(&outside).expect("mkdir");
    let store = open(&state);

    let from_bytes = store
        .import_zip_bytes(zip, limits)
        .expect_err("archive must be refused");
    assert_nothing_left(&state);

    let zip_path = t.path().join("in.zip");
    fs::write(&zip_path, zip).expect("write zip");
    let from_file = store
        .import_zip_file(&zip_path, limits)
        .expect_err("archive must be refused");
    assert_nothing_left(&state);
    assert_eq!(from_bytes.to_string(), from_file.to_string());
    assert!(from_bytes.is_client_error(), "{from_bytes}");
    assert_eq!(
        common::listing(&outside),
        Vec::<String>::new(),
        "something was written outside the store"
    );
    assert_eq!(
        common::listing(t.path()),
        {
            let mut v = common::listing(&state)
                .into_iter()
                .map(|p| format!("state/{p}"))
                .collect::<Vec<_>>();
            v.extend(["in.zip".into(), "outside".into(), "state".into()]);
            v.sort();
            v
        },
        "something was written beside the store"
    );
    let msg = from_bytes.to_string();
    (from_bytes, msg)
}

#[test]
fn zip_slip_entry_is_refused() {
    let zip = zip_of(&[
        Entry::File("ok.txt", b"fine", 0o644),
        Entry::File("../../etc/passwd", b"root::0:0::/:/bin/sh\n", 0o644),
    ]);
    let (e, msg) = refused(&zip, &ExtractLimits::default());
    assert!(matches!(e, StoreError::EntryEscapes { .. }));
    assert_eq!(msg, "archive entry ../../etc/passwd escapes the layer");
}

#[test]
fn zip_slip_hidden_in_the_middle_of_a_path_is_refused() {
    let zip = zip_of(&[Entry::File("python/../../../x", b"x", 0o644)]);
    let (_, msg) = refused(&zip, &ExtractLimits::default());
    assert_eq!(msg, "archive entry python/../../../x escapes the layer");
}

#[test]
fn backslash_zip_slip_is_refused() {
    let zip = zip_of(&[Entry::File("..\\..\\evil.txt", b"x", 0o644)]);
    let (e, _) = refused(&zip, &ExtractLimits::default());
    assert!(matches!(e, StoreError::EntryEscapes { .. }));
}

#[test]
fn absolute_path_entry_is_refused() {
    let zip = zip_of(&[Entry::File("/etc/passwd", b"x", 0o644)]);
    let (e, msg) = refused(&zip, &ExtractLimits::default());
    assert!(matches!(e, StoreError::AbsolutePath { .. }));
    assert_eq!(msg, "archive entry /etc/passwd has an absolute path");
}

#[test]
fn symlink_escaping_the_tree_is_refused() {
    let zip = zip_of(&[
        Entry::File("lib/real.so", b"elf", 0o755),
        Entry::Symlink("lib/x", "../../.."),
    ]);
    let (e, msg) = refused(&zip, &ExtractLimits::default());
    assert!(matches!(e, StoreError::SymlinkEscapes { .. }));
    assert_eq!(
        msg,
        "archive entry lib/x is a symlink pointing outside the layer (../../..)"
    );
}

#[test]
fn absolute_symlink_is_refused() {
    let zip = zip_of(&[Entry::Symlink("python/passwd", "/etc/passwd")]);
    let (_, msg) = refused(&zip, &ExtractLimits::default());
    assert_eq!(
        msg,
        "archive entry python/passwd is a symlink pointing outside the layer (/etc/passwd)"
    );
}

#[test]
fn symlink_escaping_through_another_symlink_is_refused() {
    // `up -> .` is harmless, and `a/l -> ../up/..` stays inside when read lexically
    // (a/../up/.. is the root), but the kernel resolves `up` to the root and then climbs
    // out of it.
    let zip = zip_of(&[
        Entry::Dir("a/"),
        Entry::Symlink("up", "."),
        Entry::Symlink("a/l", "../up/.."),
    ]);
    let (e, msg) = refused(&zip, &ExtractLimits::default());
    assert!(matches!(e, StoreError::SymlinkEscapes { .. }));
    assert!(msg.contains("a/l"), "{msg}");
}

#[test]
fn file_written_through_a_symlink_entry_never_lands_outside() {
    // The classic two-step: a link to outside, then a file "inside" the link.
    let zip = zip_of(&[
        Entry::Symlink("link", "../outside"),
        Entry::File("link/pwned", b"gotcha", 0o644),
    ]);
    refused(&zip, &ExtractLimits::default());
}

#[test]
fn declared_size_over_the_limit_is_refused_before_writing() {
    let mut zip = zip_of(&[
        Entry::File("a.bin", b"0123456789", 0o644),
        Entry::File("b.bin", b"0123456789", 0o644),
        Entry::File("c.bin", b"0123456789", 0o644),
    ]);
    for name in ["a.bin", "b.bin", "c.bin"] {
        patch_declared_size(&mut zip, name, 100_000_000);
    }
    let (e, msg) = refused(&zip, &ExtractLimits::default());
    assert!(e.is_too_large());
    assert_eq!(
        msg,
        "archive expands beyond 262144000 bytes (Unzipped size must be smaller than 262144000 bytes)"
    );
}

#[test]
fn honest_archive_over_a_custom_limit_is_refused() {
    let data = vec![7u8; 600_000];
    let zip = zip_of(&[
        Entry::File("a.bin", &data, 0o644),
        Entry::File("b.bin", &data, 0o644),
    ]);
    let limits = ExtractLimits {
        max_unzipped_bytes: 1_000_000,
        ..ExtractLimits::default()
    };
    let (e, msg) = refused(&zip, &limits);
    assert!(e.is_too_large());
    assert!(
        msg.contains("Unzipped size must be smaller than 1000000 bytes"),
        "{msg}"
    );
}

#[test]
fn entry_that_lies_about_its_size_is_stopped_while_streaming() {
    // 20 MiB of zeros deflate to ~20 KiB; the headers claim 1000 bytes, so neither the
    // declared total nor the declared ratio gives it away. Counting the output does.
    let zeros = vec![0u8; 20 << 20];
    let mut zip = zip_of(&[Entry::File("liar.bin", &zeros, 0o644)]);
    patch_declared_size(&mut zip, "liar.bin", 1000);
    let (e, msg) = refused(&zip, &ExtractLimits::default());
    assert!(
        matches!(
            e,
            StoreError::EntryLargerThanDeclared { declared: 1000, .. }
        ),
        "{msg}"
    );
    assert_eq!(
        msg,
        "archive entry liar.bin expands beyond the 1000 bytes it declares (zip bomb?)"
    );
}

#[test]
fn extreme_compression_ratio_is_refused() {
    let zeros = vec![0u8; 10 << 20];
    let zip = zip_of(&[Entry::File("big.bin", &zeros, 0o644)]);
    let (e, msg) = refused(&zip, &ExtractLimits::default());
    let StoreError::CompressionRatio { ratio, .. } = e else {
        panic!("expected a ratio error, got {msg}");
    };
    assert!(ratio > 200, "{ratio}");
    assert_eq!(
        msg,
        format!("archive entry big.bin has a compression ratio of {ratio}:1 (zip bomb?)")
    );
}

#[test]
fn small_files_that_compress_well_are_fine() {
    // Under 1 MiB the ratio is not checked: a 512 KiB file of zeros is not a bomb.
    let t = tempfile::tempdir().expect("tempdir");
    let store = open(t.path());
    let zeros = vec![0u8; 512 << 10];
    let zip = zip_of(&[Entry::File("zeros.bin", &zeros, 0o644)]);
    let a = store
        .import_zip_bytes(&zip, &ExtractLimits::default())
        .expect("import");
    assert_eq!(a.unzipped_size, 512 << 10);
}

#[test]
fn too_many_entries_is_refused() {
    let names: Vec<String> = (0..11).map(|i| format!("f{i}.txt")).collect();
    let entries: Vec<Entry<'_>> = names.iter().map(|n| Entry::File(n, b"x", 0o644)).collect();
    let zip = zip_of(&entries);
    let limits = ExtractLimits {
        max_entries: 10,
        ..ExtractLimits::default()
    };
    let (e, msg) = refused(&zip, &limits);
    assert!(matches!(
        e,
        StoreError::TooManyEntries {
            count: 11,
            limit: 10
        }
    ));
    assert_eq!(msg, "archive has 11 entries, more than the 10 allowed");
}

#[test]
fn not_a_zip_is_refused() {
    let (e, msg) = refused(b"this is not a zip file at all", &ExtractLimits::default());
    assert!(matches!(e, StoreError::NotAZip { .. }));
    assert!(msg.starts_with("not a zip file: "), "{msg}");
}

#[test]
fn truncated_zip_is_refused() {
    let zip = zip_of(&[Entry::File("a.txt", b"hello world", 0o644)]);
    let (e, _) = refused(&zip[..zip.len() / 2], &ExtractLimits::default());
    assert!(matches!(e, StoreError::NotAZip { .. }));
}

#[test]
fn unsafe_directory_symlink_is_refused_by_import_dir() {
    let t = tempfile::tempdir().expect("tempdir");
    let src = t.path().join("layer");
    common::write(&src.join("python/mod.py"), b"x = 1\n", 0o644);
    std::os::unix::fs::symlink("../../..", src.join("python/escape")).expect("symlink");
    let state = t.path().join("state");
    let store = open(&state);
    let e = store
        .import_dir(&src, &ExtractLimits::default())
        .expect_err("escaping symlink must be refused");
    assert!(matches!(e, StoreError::SourceSymlinkEscapes { .. }), "{e}");
    assert!(e
        .to_string()
        .ends_with("is a symlink pointing outside the directory (../../..)"));
    assert_nothing_left(&state);
    assert!(Path::new(&src.join("python/mod.py")).exists());
}
