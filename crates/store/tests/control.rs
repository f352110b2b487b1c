//! The control plane's records: version numbering, aliases, event-invoke configs, and the
//! durable asynchronous queue, across reopening the store.

mod common;

use common::open;
use ledge_store::FunctionRecord;
use serde_json::json;

fn record(name: &str) -> FunctionRecord {
    FunctionRecord {
        name: name.into(),
        code_sha256: "c".into(),
        revision_id: "r".into(),
        last_modified: "t".into(),
        data: json!({}),
    }
}

#[test]
fn version_numbers_are_never_reused_while_the_function_exists() {
    let t = tempfile::tempdir().expect("tempdir");
    let store = open(t.path());
    store.put_function(&record("f")).expect("put");
    assert_eq!(store.next_function_version("f").expect("n"), 1);
    store
        .put_function_version("f", 1, &json!({"d": 1}))
        .expect("v1");
    assert_eq!(store.next_function_version("f").expect("n"), 2);
    store
        .put_function_version("f", 2, &json!({"d": 2}))
        .expect("v2");
    assert!(store.delete_function_version("f", 2).expect("delete"));
    assert!(!store.delete_function_version("f", 2).expect("again"));
    drop(store);

    let store = open(t.path());
    assert_eq!(
        store.function_versions("f").expect("list"),
        vec![(1, json!({"d": 1}))]
    );
    assert_eq!(
        store.next_function_version("f").expect("n"),
        3,
        "2 is spent"
    );
    // Another function numbers on its own.
    assert_eq!(store.next_function_version("g").expect("n"), 1);

    // Deleting the function forgets everything, numbering included.
    store
        .put_function_alias("f", "live", &json!({"v": "1"}))
        .expect("alias");
    store
        .put_event_invoke_config("f", "$LATEST", &json!({"MaximumRetryAttempts": 0}))
        .expect("config");
    store
        .enqueue_async("f", None, "rid", b"{}", 0)
        .expect("queue");
    assert!(store.delete_function_everything("f").expect("delete"));
    assert!(store.function_versions("f").expect("list").is_empty());
    assert!(store.function_aliases("f").expect("list").is_empty());
    assert!(store.event_invoke_configs("f").expect("list").is_empty());
    assert!(store
        .queued_async_events(Some("f"))
        .expect("list")
        .is_empty());
    assert_eq!(store.next_function_version("f").expect("n"), 1);
}

#[test]
fn aliases_and_event_invoke_configs_round_trip() {
    let t = tempfile::tempdir().expect("tempdir");
    let store = open(t.path());
    store
        .put_function_alias("f", "live", &json!({"FunctionVersion": "1"}))
        .expect("put");
    store
        .put_function_alias("f", "live", &json!({"FunctionVersion": "2"}))
        .expect("update");
    store
        .put_function_alias("f", "beta", &json!({"FunctionVersion": "1"}))
        .expect("put");
    assert_eq!(
        store.function_aliases("f").expect("list"),
        vec![
            ("beta".to_owned(), json!({"FunctionVersion": "1"})),
            ("live".to_owned(), json!({"FunctionVersion": "2"}))
        ]
    );
    assert!(store.delete_function_alias("f", "beta").expect("delete"));
    assert!(!store.delete_function_alias("f", "beta").expect("again"));

    assert_eq!(
        store.event_invoke_config("f", "$LATEST").expect("get"),
        None
    );
    store
        .put_event_invoke_config("f", "$LATEST", &json!({"MaximumRetryAttempts": 1}))
        .expect("put");
    store
        .put_event_invoke_config("f", "live", &json!({"MaximumRetryAttempts": 0}))
        .expect("put");
    assert_eq!(
        store.event_invoke_config("f", "$LATEST").expect("get"),
        Some(json!({"MaximumRetryAttempts": 1}))
    );
    assert_eq!(store.event_invoke_configs("f").expect("list").len(), 2);
    assert!(store
        .delete_event_invoke_config("f", "live")
        .expect("delete"));
    assert_eq!(store.event_invoke_configs("f").expect("list").len(), 1);
}

#[test]
fn queued_events_survive_reopening_and_come_due_in_order() {
    let t = tempfile::tempdir().expect("tempdir");
    let store = open(t.path());
    let a = store
        .enqueue_async("f", None, "a", b"{\"n\":1}", 1_000)
        .expect("a");
    let b = store
        .enqueue_async("f", Some("live"), "b", b"{\"n\":2}", 1_001)
        .expect("b");
    let c = store
        .enqueue_async("g", None, "c", b"{}", 1_002)
        .expect("c");
    drop(store);

    let store = open(t.path());
    let due = store.due_async_events(5_000, 10, &[]).expect("due");
    assert_eq!(due.iter().map(|e| e.id).collect::<Vec<_>>(), vec![a, b, c]);
    assert_eq!(due[1].qualifier.as_deref(), Some("live"));
    assert_eq!(due[1].payload, b"{\"n\":2}");
    // In-flight events are skipped; the limit applies after skipping.
    let due = store.due_async_events(5_000, 1, &[a]).expect("due");
    assert_eq!(due.iter().map(|e| e.id).collect::<Vec<_>>(), vec![b]);

    // A retry pushes the event back; it is not due before its time.
    store.reschedule_async(a, 1, 0, 60_000).expect("reschedule");
    let due = store.due_async_events(5_000, 10, &[]).expect("due");
    assert_eq!(due.iter().map(|e| e.id).collect::<Vec<_>>(), vec![b, c]);
    assert_eq!(
        store.next_async_due_ms(&[b, c]).expect("next"),
        Some(60_000)
    );
    store.delete_async(b).expect("delete");
    store.delete_async(c).expect("delete");
    let later = store.due_async_events(60_000, 10, &[]).expect("due");
    assert_eq!(later.len(), 1);
    assert_eq!((later[0].id, later[0].attempts), (a, 1));
    store.delete_async(a).expect("delete");
    assert_eq!(store.next_async_due_ms(&[]).expect("next"), None);
}

#[test]
fn failures_are_kept_per_function() {
    let t = tempfile::tempdir().expect("tempdir");
    let store = open(t.path());
    store
        .record_async_failure(
            "f",
            "r1",
            "RetriesExhausted",
            &json!({"version": "1.0"}),
            None,
        )
        .expect("record");
    store
        .record_async_failure("f", "r2", "EventAgeExceeded", &json!({}), Some("why"))
        .expect("record");
    drop(store);
    let store = open(t.path());
    let all = store.async_failures("f").expect("list");
    assert_eq!(all.len(), 2);
    assert_eq!(all[0].condition, "RetriesExhausted");
    assert_eq!(all[0].record, json!({"version": "1.0"}));
    assert_eq!(all[1].note.as_deref(), Some("why"));
    assert!(all[0].created.ends_with('Z'));
    assert!(store.async_failures("g").expect("list").is_empty());
}
