//! The SQLite side and crash/concurrency behaviour: WAL, migrations, leftovers of
//! interrupted extractions, function records, simultaneous imports.

mod common;

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::{Arc, Barrier};

use common::{listing, open, zip_of, Entry, ACCOUNT, REGION};
use ledge_store::{ExtractLimits, FunctionRecord, Store, StoreError, DB_FILE, SCHEMA_VERSION};
use rusqlite::Connection;

fn applied_versions(state: &Path) -> Vec<u32> {
    let conn = Connection::open(state.join(DB_FILE)).expect("open db");
    let mut stmt = conn
        .prepare("SELECT version FROM schema_version ORDER BY version")
        .expect("prepare");
    stmt.query_map([], |r| r.get(0))
        .expect("query")
        .collect::<Result<_, _>>()
        .expect("rows")
}

#[test]
fn database_is_in_wal_mode() {
    let t = tempfile::tempdir().expect("tempdir");
    let _store = open(t.path());
    let conn = Connection::open(t.path().join(DB_FILE)).expect("open db");
    let mode: String = conn
        .query_row("PRAGMA journal_mode", [], |r| r.get(0))
        .expect("pragma");
    assert_eq!(mode, "wal");
}

#[test]
fn fresh_database_applies_every_migration_once() {
    let t = tempfile::tempdir().expect("tempdir");
    let store = open(t.path());
    assert_eq!(store.schema_version(), SCHEMA_VERSION);
    drop(store);
    let again = open(t.path());
    assert_eq!(again.schema_version(), SCHEMA_VERSION);
    assert_eq!(
        applied_versions(t.path()),
        (1..=SCHEMA_VERSION).collect::<Vec<_>>()
    );
}

/// The schema as the first release wrote it (migration 1), with one published layer.
const V1_SCHEMA: &str = "
    CREATE TABLE schema_version (version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL);
    INSERT INTO schema_version VALUES (1, '2025-01-01T00:00:00.000+0000');
    CREATE TABLE artifacts (
        sha256 TEXT PRIMARY KEY, code_sha256 TEXT NOT NULL, zip_size INTEGER NOT NULL,
        unzipped_size INTEGER NOT NULL, created_at TEXT NOT NULL);
    CREATE TABLE layers (name TEXT PRIMARY KEY, last_version INTEGER NOT NULL);
    CREATE TABLE layer_versions (
        name TEXT NOT NULL REFERENCES layers(name), version INTEGER NOT NULL,
        description TEXT NOT NULL, compatible_runtimes TEXT NOT NULL,
        compatible_architectures TEXT NOT NULL, license_info TEXT, created_date TEXT NOT NULL,
        artifact_sha256 TEXT NOT NULL REFERENCES artifacts(sha256),
        deleted INTEGER NOT NULL DEFAULT 0, PRIMARY KEY (name, version));
    INSERT INTO artifacts VALUES ('aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa',
        'qqqq', 10, 20, '2025-01-01T00:00:00.000+0000');
    INSERT INTO layers VALUES ('old', 7);
    INSERT INTO layer_versions VALUES ('old', 7, 'from v1', '[\"python3.12\"]', '[]', NULL,
        '2025-01-01T00:00:00.000+0000',
        'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa', 0);
";

#[test]
fn v1_database_is_upgraded_once_and_keeps_its_data() {
    let t = tempfile::tempdir().expect("tempdir");
    Connection::open(t.path().join(DB_FILE))
        .expect("create v1 db")
        .execute_batch(V1_SCHEMA)
        .expect("v1 schema");
    assert_eq!(applied_versions(t.path()), [1]);

    let store = open(t.path());
    assert_eq!(store.schema_version(), SCHEMA_VERSION);
    assert_eq!(
        applied_versions(t.path()),
        (1..=SCHEMA_VERSION).collect::<Vec<_>>()
    );
    // v1 data survives, and v2's table works.
    let old = store.layer_version("old", 7).expect("get").expect("kept");
    assert_eq!(old.meta.description, "from v1");
    assert_eq!(old.meta.compatible_runtimes, ["python3.12"]);
    store
        .put_function(&FunctionRecord {
            name: "f".into(),
            code_sha256: "x".into(),
            revision_id: "r".into(),
            last_modified: "now".into(),
            data: serde_json::json!({}),
        })
        .expect("functions table exists");
    drop(store);

    // Opening again applies nothing.
    let store = open(t.path());
    assert_eq!(store.schema_version(), SCHEMA_VERSION);
    assert_eq!(
        applied_versions(t.path()),
        (1..=SCHEMA_VERSION).collect::<Vec<_>>()
    );
    // The counter carried over from v1.
    let a = store
        .import_zip_bytes(
            &zip_of(&[Entry::File("x", b"x", 0o644)]),
            &ExtractLimits::default(),
        )
        .expect("import");
    let next = store
        .publish_layer_version("old", &a, &Default::default())
        .expect("publish");
    assert_eq!(next.version, 8);
}

#[test]
fn database_from_a_newer_ledge_is_refused() {
    let t = tempfile::tempdir().expect("tempdir");
    open(t.path());
    Connection::open(t.path().join(DB_FILE))
        .expect("open db")
        .execute(
            "INSERT INTO schema_version VALUES (99, '2030-01-01T00:00:00.000+0000')",
            [],
        )
        .expect("insert");
    let e = Store::open(t.path(), REGION, ACCOUNT).expect_err("too new");
    assert!(
        matches!(e, StoreError::SchemaTooNew { found: 99, supported } if supported == SCHEMA_VERSION)
    );
    assert!(e.to_string().contains("newer than this ledge understands"));
}

#[test]
fn open_removes_leftovers_of_an_interrupted_extraction() {
    let t = tempfile::tempdir().expect("tempdir");
    let store = open(t.path());
    let a = store
        .import_zip_bytes(
            &zip_of(&[Entry::File("kept.txt", b"kept", 0o644)]),
            &ExtractLimits::default(),
        )
        .expect("import");
    drop(store);

    // What a crash mid-extract leaves: a work dir of a dead process with a half tree
    // (read-only directories included) and a half blob.
    let tmp = t.path().join("artifacts/tmp");
    let leftover = tmp.join("4000000000.0123456789abcdef");
    fs::create_dir_all(leftover.join("tree/python/pkg")).expect("mkdir");
    fs::write(leftover.join("tree/python/pkg/half.py"), b"x = ").expect("write");
    fs::write(leftover.join("blob.zip"), b"PK\x03\x04 trunc").expect("write");
    fs::set_permissions(
        leftover.join("tree/python"),
        fs::Permissions::from_mode(0o555),
    )
    .expect("chmod");
    fs::create_dir(tmp.join("not-even-ours")).expect("mkdir");

    let store = open(t.path());
    assert_eq!(listing(&tmp), Vec::<String>::new());
    // Finished artifacts are untouched.
    assert_eq!(store.artifact(&a.sha256_hex).expect("lookup"), Some(a));
}

#[test]
fn function_records_round_trip() {
    let t = tempfile::tempdir().expect("tempdir");
    let store = open(t.path());
    let rec = |name: &str, rev: &str| FunctionRecord {
        name: name.into(),
        code_sha256: "Q2h1bms=".into(),
        revision_id: rev.into(),
        last_modified: "2024-05-01T10:00:00.000+0000".into(),
        data: serde_json::json!({"Runtime": "python3.12", "Layers": [{"Arn": "arn:x", "CodeSize": 169}]}),
    };
    store.put_function(&rec("b", "1")).expect("put");
    store.put_function(&rec("a", "1")).expect("put");
    store.put_function(&rec("b", "2")).expect("replace");
    assert_eq!(store.function("b").expect("get"), Some(rec("b", "2")));
    assert_eq!(store.function("missing").expect("get"), None);
    let names: Vec<String> = store
        .functions()
        .expect("list")
        .into_iter()
        .map(|f| f.name)
        .collect();
    assert_eq!(names, ["a", "b"]);
    assert!(store.delete_function("a").expect("delete"));
    assert!(!store.delete_function("a").expect("delete"));
    drop(store);
    let store = open(t.path());
    assert_eq!(store.functions().expect("list"), [rec("b", "2")]);
}

fn race_zip(round: usize) -> Vec<u8> {
    let body: Vec<u8> = (0..200_000u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8 ^ round as u8)
        .collect();
    let names: Vec<String> = (0..50).map(|i| format!("python/pkg/m{i}.py")).collect();
    let mut entries: Vec<Entry<'_>> = names
        .iter()
        .map(|n| Entry::File(n, b"X = 1\n", 0o644))
        .collect();
    entries.push(Entry::File("data.bin", &body, 0o644));
    zip_of(&entries)
}

#[test]
fn two_handles_importing_the_same_artifact_both_succeed_with_one_copy() {
    let t = tempfile::tempdir().expect("tempdir");
    for round in 0..8 {
        let zip = Arc::new(race_zip(round));
        let barrier = Arc::new(Barrier::new(2));
        let handles: Vec<_> = (0..2)
            .map(|_| {
                // Separate `open`s: two connections, as two processes would have.
                let store = open(t.path());
                let zip = Arc::clone(&zip);
                let barrier = Arc::clone(&barrier);
                std::thread::spawn(move || {
                    barrier.wait();
                    store.import_zip_bytes(&zip, &ExtractLimits::default())
                })
            })
            .collect();
        let results: Vec<_> = handles
            .into_iter()
            .map(|h| h.join().expect("thread").expect("import"))
            .collect();
        assert_eq!(results[0], results[1]);
        assert!(results[0].tree.join("data.bin").is_file());
    }
    let store = open(t.path());
    assert_eq!(
        fs::read_dir(t.path().join("artifacts/trees"))
            .expect("ls")
            .count(),
        8
    );
    assert_eq!(
        fs::read_dir(t.path().join("artifacts/blobs"))
            .expect("ls")
            .count(),
        8
    );
    assert_eq!(
        listing(&t.path().join("artifacts/tmp")),
        Vec::<String>::new()
    );
    drop(store);
}

/// Run in child processes by the test below; does nothing when run on its own.
#[test]
#[ignore = "helper: run as a child process by two_processes_importing_the_same_dir_both_succeed"]
fn child_import_dir() {
    let (Ok(state), Ok(src)) = (
        std::env::var("LEDGE_TEST_STATE"),
        std::env::var("LEDGE_TEST_SRC"),
    ) else {
        return;
    };
    let store = Store::open(Path::new(&state), REGION, ACCOUNT).expect("open");
    for _ in 0..5 {
        let a = store
            .import_dir(Path::new(&src), &ExtractLimits::default())
            .expect("import in child");
        let layer = store
            .publish_layer_version("shared", &a, &Default::default())
            .expect("publish in child");
        assert!(layer.version >= 1);
    }
}

#[test]
fn two_processes_importing_the_same_dir_both_succeed() {
    let t = tempfile::tempdir().expect("tempdir");
    let state = t.path().join("state");
    let src = t.path().join("src");
    for i in 0..200 {
        common::write(
            &src.join(format!("python/pkg/m{i:03}.py")),
            format!("X = {i}\n").as_bytes(),
            0o644,
        );
    }
    open(&state);
    let exe = std::env::current_exe().expect("test binary");
    let children: Vec<_> = (0..2)
        .map(|_| {
            Command::new(&exe)
                .args(["--ignored", "--exact", "child_import_dir", "--nocapture"])
                .env("LEDGE_TEST_STATE", &state)
                .env("LEDGE_TEST_SRC", &src)
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .expect("spawn child")
        })
        .collect();
    for c in children {
        let out = c.wait_with_output().expect("wait");
        assert!(
            out.status.success(),
            "a child import failed:\n{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let store = open(&state);
    assert_eq!(
        fs::read_dir(state.join("artifacts/trees"))
            .expect("ls")
            .count(),
        1
    );
    assert_eq!(listing(&state.join("artifacts/tmp")), Vec::<String>::new());
    // Ten publishes from two processes: ten distinct numbers.
    let versions: Vec<u32> = store
        .list_layer_versions("shared")
        .expect("list")
        .iter()
        .map(|v| v.version)
        .collect();
    assert_eq!(versions, (1..=10).rev().collect::<Vec<_>>());
}
