//! Versions and aliases: immutable snapshots with their own environments, weighted alias
//! routing, reserved concurrency shared by all versions, and restoring API-created
//! functions with their versions and aliases after a restart.

mod common;

use std::collections::BTreeMap;
use std::time::Duration;

use common::{harness_with, json, name, python};
use ledge_model::{InvokeError, InvokeOutcome, InvokeRequest, MemoryMb, ThrottleReason};
use ledge_runtime::{ControlError, DeployOptions, Origin, Runtime, RuntimeConfig};

fn qualified(function: &str, qualifier: &str) -> InvokeRequest {
    let mut r = InvokeRequest::new(name(function), b"{}".to_vec());
    r.qualifier = Some(qualifier.to_owned());
    r
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn published_versions_are_immutable_snapshots_with_their_own_environments() {
    let h = harness_with(|_| {});
    let spec = python("Ver", "context", "app.handler");
    h.rt.deploy_with(spec.clone(), DeployOptions::api())
        .await
        .expect("create");
    let v1 =
        h.rt.publish_version(&name("Ver"), Some("first".into()), None, None)
            .await
            .expect("publish");
    assert_eq!(v1.version, "1");
    assert_eq!(v1.spec.description, "first");
    // Nothing changed: no new version.
    let again =
        h.rt.publish_version(&name("Ver"), None, None, None)
            .await
            .expect("publish");
    assert_eq!(again.version, "1");

    let mut bigger = spec.clone();
    bigger.memory = MemoryMb::new(512).expect("memory");
    h.rt.deploy_with(bigger, DeployOptions::api())
        .await
        .expect("update");
    let v2 =
        h.rt.publish_version(&name("Ver"), None, None, None)
            .await
            .expect("publish");
    assert_eq!(v2.version, "2");

    let r1 = h.invoke_req(qualified("Ver", "1")).await;
    assert_eq!(r1.executed_version, "1");
    let p1 = json(&r1);
    assert_eq!(p1["function_version"], "1");
    assert_eq!(p1["memory_limit_in_mb"], "256", "version 1 kept its memory");
    assert_eq!(p1["environ"]["AWS_LAMBDA_FUNCTION_VERSION"], "1");
    assert!(
        p1["environ"]["AWS_LAMBDA_LOG_STREAM_NAME"]
            .as_str()
            .is_some_and(|s| s.contains("/[1]")),
        "{p1}"
    );
    assert!(p1["invoked_function_arn"]
        .as_str()
        .is_some_and(|a| a.ends_with(":function:Ver:1")));
    let r2 = h.invoke_req(qualified("Ver", "2")).await;
    assert_eq!(json(&r2)["memory_limit_in_mb"], "512");
    let latest = h.invoke("Ver", "{}").await;
    assert_eq!(latest.executed_version, "$LATEST");
    assert!(h
        .log("Ver")
        .contains(&format!("START RequestId: {} Version: 1", r1.request_id)));

    // Each version keeps its own warm environment.
    assert_eq!(
        h.rt.version_stats(&name("Ver"), 1).await.expect("v1").idle,
        1
    );
    assert_eq!(
        h.rt.version_stats(&name("Ver"), 2).await.expect("v2").idle,
        1
    );
    assert_eq!(h.rt.stats(&name("Ver")).await.expect("latest").idle, 1);

    // A missing version is not found, with AWS's ARN.
    let err = ledge_model::Invoke::invoke(&*h.rt, qualified("Ver", "9"))
        .await
        .expect_err("no version 9");
    assert!(
        matches!(&err, InvokeError::FunctionNotFound { arn } if arn.ends_with(":function:Ver:9")),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aliases_route_by_weight_and_protect_their_versions() {
    let h = harness_with(|_| {});
    let spec = python("Al", "context", "app.handler");
    h.rt.deploy_with(spec.clone(), DeployOptions::api())
        .await
        .expect("create");
    h.rt.publish_version(&name("Al"), None, None, None)
        .await
        .expect("v1");
    let mut changed = spec;
    changed.description = "second".into();
    changed.timeout = ledge_model::TimeoutSecs::new(11).expect("timeout");
    h.rt.deploy_with(changed, DeployOptions::api())
        .await
        .expect("update");
    h.rt.publish_version(&name("Al"), None, None, None)
        .await
        .expect("v2");

    let weights: BTreeMap<String, f64> = [("2".to_owned(), 0.5)].into();
    let alias =
        h.rt.create_alias(&name("Al"), "live", "1", "", weights)
            .await
            .expect("alias");
    let dup =
        h.rt.create_alias(&name("Al"), "live", "1", "", BTreeMap::new())
            .await
            .expect_err("exists");
    assert!(
        matches!(dup, ControlError::Conflict(m) if m.starts_with("Alias already exists: arn:aws:lambda:"))
    );
    let bad =
        h.rt.create_alias(&name("Al"), "beta", "7", "", BTreeMap::new())
            .await
            .expect_err("no version 7");
    assert!(matches!(bad, ControlError::NotFound(_)));

    let mut seen = std::collections::BTreeSet::new();
    for _ in 0..40 {
        let r = h.invoke_req(qualified("Al", "live")).await;
        assert!(json(&r)["invoked_function_arn"]
            .as_str()
            .is_some_and(|a| a.ends_with(":function:Al:live")));
        seen.insert(r.executed_version.clone());
    }
    assert_eq!(
        seen.into_iter().collect::<Vec<_>>(),
        ["1", "2"],
        "a 50% weight reaches both versions in 40 calls"
    );

    let conflict =
        h.rt.delete_function(&name("Al"), Some("2"))
            .await
            .expect_err("version 2 is routed to");
    assert!(matches!(conflict, ControlError::Conflict(_)));
    let stale =
        h.rt.update_alias(
            &name("Al"),
            "live",
            None,
            None,
            Some(BTreeMap::new()),
            Some("stale".into()),
        )
        .await
        .expect_err("revision");
    assert!(matches!(stale, ControlError::Precondition(_)));
    h.rt.update_alias(
        &name("Al"),
        "live",
        None,
        None,
        Some(BTreeMap::new()),
        Some(alias.revision_id),
    )
    .await
    .expect("drop the weight");
    h.rt.delete_function(&name("Al"), Some("2"))
        .await
        .expect("now deletable");
    let latest =
        h.rt.delete_function(&name("Al"), Some("$LATEST"))
            .await
            .expect_err("latest");
    assert_eq!(
        latest.message(),
        "$LATEST version cannot be deleted without deleting the function."
    );
    assert_eq!(
        h.invoke_req(qualified("Al", "live")).await.executed_version,
        "1"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reserved_concurrency_is_shared_by_all_versions_and_changes_at_run_time() {
    let h = harness_with(|_| {});
    h.rt.deploy_with(python("Slow", "sleep", "app.handler"), DeployOptions::api())
        .await
        .expect("create");
    h.rt.publish_version(&name("Slow"), None, None, None)
        .await
        .expect("v1");
    h.rt.set_reserved_concurrency(&name("Slow"), Some(1))
        .await
        .expect("reserve");
    let rt = h.rt.clone();
    let running = tokio::spawn(async move {
        let mut r = InvokeRequest::new(name("Slow"), br#"{"seconds":1.5}"#.to_vec());
        r.qualifier = Some("1".into());
        ledge_model::Invoke::invoke(&*rt, r).await
    });
    for _ in 0..300 {
        if h.rt.version_stats(&name("Slow"), 1).await.expect("v1").busy == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let mut other = InvokeRequest::new(name("Slow"), br#"{"seconds":0}"#.to_vec());
    other.qualifier = Some("$LATEST".into());
    let refused = h.invoke_req(other.clone()).await;
    assert_eq!(
        refused.outcome,
        InvokeOutcome::Throttled {
            reason: ThrottleReason::ReservedFunctionConcurrentInvocationLimitExceeded
        },
        "$LATEST shares version 1's single slot"
    );
    h.rt.set_reserved_concurrency(&name("Slow"), None)
        .await
        .expect("lift");
    let ran = h.invoke_req(other).await;
    assert!(matches!(ran.outcome, InvokeOutcome::Success { .. }));
    running.await.expect("join").expect("invoke");
    assert_eq!(
        h.rt.function_info(&name("Slow"))
            .expect("info")
            .reserved_concurrency,
        None
    );
    let too_much =
        h.rt.set_reserved_concurrency(&name("Slow"), Some(950))
            .await
            .expect_err("keeps 100 unreserved");
    assert!(too_much
        .message()
        .contains("below its minimum value of [100]"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_functions_come_back_after_a_restart_with_versions_and_aliases() {
    let dir = tempfile::tempdir().expect("tempdir");
    let spec = python("Kept", "context", "app.handler");
    let (revision, alias_revision) = {
        let rt = Runtime::new(RuntimeConfig::new(dir.path())).expect("runtime");
        rt.deploy_with(
            spec,
            DeployOptions {
                extra: Some(serde_json::json!({"Role": "arn:aws:iam::123456789012:role/r"})),
                ..DeployOptions::api()
            },
        )
        .await
        .expect("create");
        rt.publish_version(&name("Kept"), None, None, None)
            .await
            .expect("v1");
        rt.set_reserved_concurrency(&name("Kept"), Some(3))
            .await
            .expect("reserve");
        let a = rt
            .create_alias(&name("Kept"), "live", "1", "prod", BTreeMap::new())
            .await
            .expect("alias");
        let info = rt.function_info(&name("Kept")).expect("info");
        rt.shutdown().await;
        (info.latest.revision_id, a.revision_id)
    };
    let rt = Runtime::new(RuntimeConfig::new(dir.path())).expect("runtime");
    assert!(rt.function_info(&name("Kept")).is_none());
    assert_eq!(rt.restore().await, Vec::<String>::new());
    let info = rt.function_info(&name("Kept")).expect("restored");
    assert_eq!(info.latest.origin, Origin::Api);
    assert_eq!(
        info.latest.revision_id, revision,
        "a restart is not a change"
    );
    assert_eq!(
        info.latest.extra["Role"],
        "arn:aws:iam::123456789012:role/r"
    );
    assert_eq!(info.reserved_concurrency, Some(3));
    assert_eq!(info.versions.len(), 1);
    assert_eq!(info.aliases.len(), 1);
    assert_eq!(info.aliases[0].revision_id, alias_revision);
    let mut r = InvokeRequest::new(name("Kept"), b"{}".to_vec());
    r.qualifier = Some("live".into());
    let out = ledge_model::Invoke::invoke(&rt, r).await.expect("invoke");
    assert_eq!(out.executed_version, "1");
    // Numbering goes on where it stopped.
    let mut changed = python("Kept", "context", "app.handler");
    changed.timeout = ledge_model::TimeoutSecs::new(12).expect("timeout");
    rt.deploy_with(changed, DeployOptions::api())
        .await
        .expect("update");
    let v = rt
        .publish_version(&name("Kept"), None, None, None)
        .await
        .expect("v2");
    assert_eq!(v.version, "2");
    rt.delete_function(&name("Kept"), None)
        .await
        .expect("delete");
    rt.shutdown().await;
    let rt = Runtime::new(RuntimeConfig::new(dir.path())).expect("runtime");
    rt.restore().await;
    assert!(
        rt.function_info(&name("Kept")).is_none(),
        "deleted for good"
    );
}
