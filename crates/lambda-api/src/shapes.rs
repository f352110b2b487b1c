//! Response shapes as botocore's Lambda model defines them, built from the runtime's view
//! of functions and the store's layers.

use ledge_runtime::{AliasInfo, VersionInfo};
use ledge_store::LayerVersion;
use serde_json::{json, Map, Value};

/// Which operation a function configuration answers, since AWS varies a few fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ConfigView {
    /// GetFunction, GetFunctionConfiguration, PublishVersion: settled state.
    Settled,
    /// CreateFunction: the function is still being created.
    Creating,
    /// UpdateFunctionCode / UpdateFunctionConfiguration: the update is in progress.
    Updating,
    /// ListFunctions, ListVersionsByFunction: no state fields.
    Listed,
}

/// The role AWS would require; ledge reports the one given, else this stand-in.
pub(crate) fn default_role(account: &str) -> String {
    format!("arn:aws:iam::{account}:role/ledge-function-role")
}

/// `FunctionConfiguration`. `arn_qualifier` qualifies `FunctionArn` (a version, an alias,
/// or `$LATEST` in version listings).
pub(crate) fn function_configuration(
    info: &VersionInfo,
    arn_qualifier: Option<&str>,
    view: ConfigView,
    account: &str,
) -> Value {
    let spec = &info.spec;
    let name = spec.name.as_str();
    let extra = &info.extra;
    let arn = match arn_qualifier {
        Some(q) => format!("{}:{q}", info.function_arn),
        None => info.function_arn.clone(),
    };
    let mut m = Map::new();
    m.insert("FunctionName".into(), json!(name));
    m.insert("FunctionArn".into(), json!(arn));
    m.insert("Runtime".into(), json!(spec.runtime.to_string()));
    m.insert(
        "Role".into(),
        extra
            .get("Role")
            .cloned()
            .unwrap_or_else(|| json!(default_role(account))),
    );
    m.insert("Handler".into(), json!(spec.handler));
    m.insert("CodeSize".into(), json!(info.code_size));
    m.insert("Description".into(), json!(spec.description));
    m.insert("Timeout".into(), json!(spec.timeout.get()));
    m.insert("MemorySize".into(), json!(spec.memory.get()));
    m.insert("LastModified".into(), json!(info.last_modified));
    m.insert("CodeSha256".into(), json!(info.code_sha256));
    m.insert("Version".into(), json!(info.version));
    if !spec.environment.is_empty() {
        m.insert(
            "Environment".into(),
            json!({ "Variables": spec.environment }),
        );
    }
    let mode = extra
        .pointer("/TracingConfig/Mode")
        .cloned()
        .unwrap_or_else(|| json!("PassThrough"));
    m.insert("TracingConfig".into(), json!({ "Mode": mode }));
    m.insert("RevisionId".into(), json!(info.revision_id));
    if let Some(dlq) = extra.get("DeadLetterConfig") {
        m.insert("DeadLetterConfig".into(), dlq.clone());
    }
    if let Some(k) = extra.get("KMSKeyArn") {
        m.insert("KMSKeyArn".into(), k.clone());
    }
    if !info.layers.is_empty() {
        m.insert(
            "Layers".into(),
            Value::Array(
                info.layers
                    .iter()
                    .map(|l| json!({"Arn": l.arn, "CodeSize": l.code_size}))
                    .collect(),
            ),
        );
    }
    match view {
        ConfigView::Settled => {
            m.insert("State".into(), json!("Active"));
            m.insert("LastUpdateStatus".into(), json!("Successful"));
        }
        ConfigView::Creating => {
            m.insert("State".into(), json!("Pending"));
            m.insert(
                "StateReason".into(),
                json!("The function is being created."),
            );
            m.insert("StateReasonCode".into(), json!("Creating"));
        }
        ConfigView::Updating => {
            m.insert("State".into(), json!("Active"));
            m.insert("LastUpdateStatus".into(), json!("InProgress"));
            m.insert(
                "LastUpdateStatusReason".into(),
                json!("The function is being created."),
            );
            m.insert("LastUpdateStatusReasonCode".into(), json!("Creating"));
        }
        ConfigView::Listed => {}
    }
    m.insert("PackageType".into(), json!("Zip"));
    m.insert("Architectures".into(), json!([spec.architecture.as_str()]));
    m.insert(
        "EphemeralStorage".into(),
        json!({ "Size": spec.ephemeral_storage_mb }),
    );
    m.insert(
        "SnapStart".into(),
        json!({"ApplyOn": "None", "OptimizationStatus": "Off"}),
    );
    if view != ConfigView::Listed {
        m.insert(
            "RuntimeVersionConfig".into(),
            json!({ "RuntimeVersionArn": info.runtime_version_arn }),
        );
    }
    let logging = extra
        .get("LoggingConfig")
        .cloned()
        .unwrap_or_else(|| json!({"LogFormat": "Text", "LogGroup": format!("/aws/lambda/{name}")}));
    m.insert("LoggingConfig".into(), logging);
    Value::Object(m)
}

/// `AliasConfiguration`.
pub(crate) fn alias(function_arn: &str, a: &AliasInfo) -> Value {
    let mut m = Map::new();
    m.insert(
        "AliasArn".into(),
        json!(format!("{function_arn}:{}", a.name)),
    );
    m.insert("Name".into(), json!(a.name));
    m.insert("FunctionVersion".into(), json!(a.function_version));
    m.insert("Description".into(), json!(a.description));
    if !a.weights.is_empty() {
        m.insert(
            "RoutingConfig".into(),
            json!({ "AdditionalVersionWeights": a.weights }),
        );
    }
    m.insert("RevisionId".into(), json!(a.revision_id));
    Value::Object(m)
}

/// Where a client downloads a zip ledge holds (AWS hands out a presigned S3 URL).
pub(crate) fn code_location(base: &str, sha256_hex: &str) -> String {
    format!("{base}/ledge/artifacts/{sha256_hex}.zip")
}

fn layer_common(m: &mut Map<String, Value>, v: &LayerVersion) {
    m.insert("Description".into(), json!(v.meta.description));
    m.insert("CreatedDate".into(), json!(v.created_date));
    m.insert("Version".into(), json!(v.version));
    if !v.meta.compatible_runtimes.is_empty() {
        m.insert(
            "CompatibleRuntimes".into(),
            json!(v.meta.compatible_runtimes),
        );
    }
    if !v.meta.compatible_architectures.is_empty() {
        m.insert(
            "CompatibleArchitectures".into(),
            json!(v.meta.compatible_architectures),
        );
    }
    if let Some(l) = &v.meta.license_info {
        m.insert("LicenseInfo".into(), json!(l));
    }
}

/// `PublishLayerVersionResponse` / `GetLayerVersionResponse`.
pub(crate) fn layer_version(base: &str, v: &LayerVersion) -> Value {
    let mut m = Map::new();
    m.insert(
        "Content".into(),
        json!({
            "Location": code_location(base, &v.artifact.sha256_hex),
            "CodeSha256": v.artifact.code_sha256,
            "CodeSize": v.artifact.zip_size,
        }),
    );
    m.insert("LayerArn".into(), json!(v.layer_arn));
    m.insert("LayerVersionArn".into(), json!(v.layer_version_arn));
    layer_common(&mut m, v);
    Value::Object(m)
}

/// `LayerVersionsListItem`.
pub(crate) fn layer_version_item(v: &LayerVersion) -> Value {
    let mut m = Map::new();
    m.insert("LayerVersionArn".into(), json!(v.layer_version_arn));
    layer_common(&mut m, v);
    Value::Object(m)
}

/// One page of a listing sorted by key: items after `marker`, at most `max`, and the
/// marker of the next page.
pub(crate) fn page<T>(
    items: Vec<(String, T)>,
    marker: Option<&str>,
    max: usize,
) -> (Vec<T>, Option<String>) {
    use base64::Engine;
    let after = marker.and_then(|m| {
        base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(m)
            .ok()
            .and_then(|b| String::from_utf8(b).ok())
    });
    let mut rest: Vec<(String, T)> = items
        .into_iter()
        .filter(|(k, _)| after.as_ref().is_none_or(|a| k > a))
        .collect();
    let more = rest.len() > max;
    rest.truncate(max);
    let next = if more {
        rest.last()
            .map(|(k, _)| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(k))
    } else {
        None
    };
    (rest.into_iter().map(|(_, v)| v).collect(), next)
}

#[cfg(test)]
mod tests {
    use super::page;

    #[test]
    fn pages_follow_markers_to_the_end() {
        let items: Vec<(String, u32)> = (0..7).map(|i| (format!("f{i:02}"), i)).collect();
        let (first, m1) = page(items.clone(), None, 3);
        assert_eq!(first, [0, 1, 2]);
        let (second, m2) = page(items.clone(), m1.as_deref(), 3);
        assert_eq!(second, [3, 4, 5]);
        let (third, m3) = page(items.clone(), m2.as_deref(), 3);
        assert_eq!(third, [6]);
        assert_eq!(m3, None);
        let (all, none) = page(items, None, 50);
        assert_eq!((all.len(), none), (7, None));
    }
}
