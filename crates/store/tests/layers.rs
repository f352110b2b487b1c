//! Layer versions: numbering, deletion, persistence across reopen, ARNs.

mod common;

use common::{open, zip_of, Entry, ACCOUNT, REGION};
use ledge_store::{Artifact, ExtractLimits, LayerArnError, LayerMeta, Store, StoreError};

fn artifact(store: &Store, content: &[u8]) -> Artifact {
    store
        .import_zip_bytes(
            &zip_of(&[Entry::File("python/m.py", content, 0o644)]),
            &ExtractLimits::default(),
        )
        .expect("import")
}

fn meta(description: &str) -> LayerMeta {
    LayerMeta {
        description: description.into(),
        compatible_runtimes: vec!["python3.12".into(), "python3.13".into()],
        compatible_architectures: vec!["x86_64".into()],
        license_info: Some("MIT".into()),
    }
}

#[test]
fn versions_are_numbered_from_one_and_never_reused() {
    let t = tempfile::tempdir().expect("tempdir");
    let store = open(t.path());
    let a = artifact(&store, b"A = 1\n");
    let versions: Vec<u32> = (0..3)
        .map(|i| {
            store
                .publish_layer_version("deps", &a, &meta(&format!("v{i}")))
                .expect("publish")
                .version
        })
        .collect();
    assert_eq!(versions, [1, 2, 3]);

    assert!(store.delete_layer_version("deps", 3).expect("delete"));
    let next = store
        .publish_layer_version("deps", &a, &meta("after delete"))
        .expect("publish");
    assert_eq!(next.version, 4, "a deleted number is never reused");

    // Numbering is per name.
    let other = store
        .publish_layer_version("other", &a, &LayerMeta::default())
        .expect("publish");
    assert_eq!(other.version, 1);
}

#[test]
fn published_version_has_aws_shapes() {
    let t = tempfile::tempdir().expect("tempdir");
    let store = open(t.path());
    let a = artifact(&store, b"A = 1\n");
    let v = store
        .publish_layer_version("my-layer", &a, &meta("numpy"))
        .expect("publish");
    assert_eq!(
        v.layer_arn,
        format!("arn:aws:lambda:{REGION}:{ACCOUNT}:layer:my-layer")
    );
    assert_eq!(
        v.layer_version_arn,
        format!("arn:aws:lambda:{REGION}:{ACCOUNT}:layer:my-layer:1")
    );
    assert_eq!(v.artifact, a);
    assert!(!v.deleted);
    // 2018-11-14T23:03:52.894+0000
    let d = v.created_date.as_bytes();
    assert_eq!(d.len(), 28, "{}", v.created_date);
    assert_eq!(&v.created_date[10..11], "T");
    assert_eq!(&v.created_date[19..20], ".");
    assert!(v.created_date.ends_with("+0000"));
    assert_eq!(
        store.layer_version("my-layer", 1).expect("get"),
        Some(v.clone())
    );
}

#[test]
fn deleted_versions_are_hidden_but_still_resolvable() {
    let t = tempfile::tempdir().expect("tempdir");
    let store = open(t.path());
    let a = artifact(&store, b"A = 1\n");
    for _ in 0..3 {
        store
            .publish_layer_version("deps", &a, &meta("d"))
            .expect("publish");
    }
    assert!(store.delete_layer_version("deps", 2).expect("delete"));
    assert!(
        !store.delete_layer_version("deps", 2).expect("delete"),
        "idempotent"
    );
    assert!(
        !store.delete_layer_version("deps", 99).expect("delete"),
        "unknown is fine"
    );
    assert!(!store.delete_layer_version("nope", 1).expect("delete"));

    assert_eq!(store.layer_version("deps", 2).expect("get"), None);
    let any = store
        .layer_version_any("deps", 2)
        .expect("get")
        .expect("still there");
    assert!(any.deleted);
    assert_eq!(any.artifact, a);
    assert!(any.artifact.tree.is_dir());

    let listed: Vec<u32> = store
        .list_layer_versions("deps")
        .expect("list")
        .iter()
        .map(|v| v.version)
        .collect();
    assert_eq!(listed, [3, 1], "newest first, live only");

    assert!(store.delete_layer_version("deps", 3).expect("delete"));
    assert_eq!(
        store
            .latest_layer_version("deps")
            .expect("latest")
            .map(|v| v.version),
        Some(1)
    );
    assert!(store.delete_layer_version("deps", 1).expect("delete"));
    assert_eq!(store.latest_layer_version("deps").expect("latest"), None);
    assert!(store.list_layers().expect("list").is_empty());
    assert!(store
        .list_layer_versions("unknown")
        .expect("list")
        .is_empty());
}

#[test]
fn list_layers_gives_latest_live_version_per_name_sorted() {
    let t = tempfile::tempdir().expect("tempdir");
    let store = open(t.path());
    let a = artifact(&store, b"A = 1\n");
    let b = artifact(&store, b"B = 1\n");
    for name in ["zeta", "alpha", "mid"] {
        store
            .publish_layer_version(name, &a, &meta(name))
            .expect("publish");
    }
    store
        .publish_layer_version("alpha", &b, &meta("alpha 2"))
        .expect("publish");
    store
        .publish_layer_version("mid", &b, &meta("mid 2"))
        .expect("publish");
    store.delete_layer_version("mid", 2).expect("delete");

    let listed: Vec<(String, u32, String)> = store
        .list_layers()
        .expect("list")
        .into_iter()
        .map(|v| (v.name, v.version, v.meta.description))
        .collect();
    assert_eq!(
        listed,
        [
            ("alpha".into(), 2, "alpha 2".into()),
            ("mid".into(), 1, "mid".into()),
            ("zeta".into(), 1, "zeta".into()),
        ]
    );
}

#[test]
fn reopening_keeps_versions_and_numbering() {
    let t = tempfile::tempdir().expect("tempdir");
    let a;
    {
        let store = open(t.path());
        a = artifact(&store, b"A = 1\n");
        store
            .publish_layer_version("deps", &a, &meta("one"))
            .expect("publish");
        store
            .publish_layer_version("deps", &a, &meta("two"))
            .expect("publish");
        store.delete_layer_version("deps", 2).expect("delete");
    }
    let store = open(t.path());
    let one = store.layer_version("deps", 1).expect("get").expect("kept");
    assert_eq!(one.meta, meta("one"));
    assert_eq!(one.artifact, a);
    assert!(
        store
            .layer_version_any("deps", 2)
            .expect("get")
            .expect("kept")
            .deleted
    );
    let three = store
        .publish_layer_version("deps", &a, &meta("three"))
        .expect("publish");
    assert_eq!(three.version, 3);
}

#[test]
fn invalid_layer_names_are_refused() {
    let t = tempfile::tempdir().expect("tempdir");
    let store = open(t.path());
    let a = artifact(&store, b"A = 1\n");
    for bad in ["", "has space", "a:b", "x/y", &"n".repeat(141)] {
        let e = store
            .publish_layer_version(bad, &a, &LayerMeta::default())
            .expect_err("invalid name");
        assert!(matches!(e, StoreError::InvalidLayerName { .. }), "{bad}");
    }
}

#[test]
fn layer_arns_parse_only_for_this_region_and_account() {
    let t = tempfile::tempdir().expect("tempdir");
    let store = open(t.path());
    let arn = |region: &str, account: &str, rest: &str| {
        format!("arn:aws:lambda:{region}:{account}:layer:{rest}")
    };
    assert_eq!(
        store.parse_layer_arn(&arn(REGION, ACCOUNT, "my-layer:3")),
        Some(("my-layer".into(), 3))
    );
    assert_eq!(
        store.parse_layer_arn(&store.layer_version_arn("x_y", 12)),
        Some(("x_y".into(), 12))
    );
    for bad in [
        arn(REGION, ACCOUNT, "my-layer"),
        arn(REGION, ACCOUNT, "my-layer:0"),
        arn(REGION, ACCOUNT, "my-layer:-1"),
        arn(REGION, ACCOUNT, "my-layer:x"),
        arn(REGION, ACCOUNT, "my-layer:1:extra"),
        format!("arn:aws:lambda:{REGION}:{ACCOUNT}:function:f:1"),
        "my-layer:1".into(),
    ] {
        assert_eq!(store.parse_layer_arn(&bad), None, "{bad}");
        assert!(matches!(
            store.parse_layer_version_arn(&bad),
            Err(LayerArnError::Malformed { .. })
        ));
    }
    let other_region = arn("eu-west-1", ACCOUNT, "my-layer:1");
    assert_eq!(store.parse_layer_arn(&other_region), None);
    let e = store
        .parse_layer_version_arn(&other_region)
        .expect_err("other region");
    assert_eq!(
        e.to_string(),
        "Layers are not in the same region as the function."
    );
    let other_account = arn(REGION, "999999999999", "my-layer:1");
    assert_eq!(store.parse_layer_arn(&other_account), None);
    assert!(matches!(
        store.parse_layer_version_arn(&other_account),
        Err(LayerArnError::OtherAccount { .. })
    ));
}
