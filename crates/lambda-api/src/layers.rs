//! Layer operations (`/2018-10-31/layers`), over the same store the template's layers and
//! `ledge layer` use, and the download URL handed out for code and layer zips.

use std::collections::HashMap;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use ledge_store::{LayerMeta, LayerVersion};
use serde_json::{json, Value};

use crate::errors::ApiError;
use crate::input::{in_range, Body};
use crate::protocol::{MAX_PAGE, RUNTIMES};
use crate::shapes;
use crate::{base_url, json_response, no_content, respond, LambdaApi};

type Api = State<Arc<LambdaApi>>;
type Params = Query<HashMap<String, String>>;

const MSG_NO_RESOURCE: &str = "The resource you requested does not exist.";

/// A layer name, or the name inside a layer ARN.
fn layer_name(raw: &str) -> Result<String, ApiError> {
    let name = match raw.split_once(":layer:") {
        Some((_, rest)) => rest.split(':').next().unwrap_or_default(),
        None => raw,
    };
    let ok = !name.is_empty()
        && name.len() <= 140
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if ok {
        Ok(name.to_owned())
    } else {
        Err(ApiError::validation(format!(
            "1 validation error detected: Value '{raw}' at 'layerName' failed to satisfy constraint: Member must satisfy regular expression pattern: (arn:[a-zA-Z0-9-]+:lambda:[a-zA-Z0-9-]+:\\d{{12}}:layer:[a-zA-Z0-9-_]+)|[a-zA-Z0-9-_]+"
        )))
    }
}

fn version_number(raw: &str) -> Result<u32, ApiError> {
    let n: i64 = raw.parse().map_err(|_| {
        ApiError::invalid_parameter(format!("Value '{raw}' is not a valid layer version number"))
    })?;
    if n < 1 {
        return Err(ApiError::invalid_parameter(
            "Layer Version Cannot be less than 1".into(),
        ));
    }
    u32::try_from(n).map_err(|_| ApiError::not_found(MSG_NO_RESOURCE.into()))
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, ledge_store::StoreError> + Send + 'static,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| ApiError::service(e.to_string()))?
        .map_err(ApiError::from)
}

/// `POST /2018-10-31/layers/{LayerName}/versions`
pub(crate) async fn publish(
    State(api): Api,
    Path(layer): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    respond(
        async {
            let b = Body::parse(
                &body,
                &[
                    "Description",
                    "Content",
                    "CompatibleRuntimes",
                    "LicenseInfo",
                    "CompatibleArchitectures",
                ],
            )?;
            let name = layer_name(&layer)?;
            let runtimes = b.strings("CompatibleRuntimes")?.unwrap_or_default();
            let archs = b.strings("CompatibleArchitectures")?.unwrap_or_default();
            let mut errors = Vec::new();
            if runtimes.len() > 15 || runtimes.iter().any(|r| !RUNTIMES.contains(&r.as_str())) {
                errors.push(format!(
                    "Value '[{}]' at 'compatibleRuntimes' failed to satisfy constraint: Member must satisfy enum value set: [{}]",
                    runtimes.join(", "),
                    RUNTIMES.join(", ")
                ));
            }
            if archs.len() > 2 || archs.iter().any(|a| a != "x86_64" && a != "arm64") {
                errors.push(format!(
                    "Value '[{}]' at 'compatibleArchitectures' failed to satisfy constraint: Member must satisfy constraint: [Member must satisfy enum value set: [x86_64, arm64]]",
                    archs.join(", ")
                ));
            }
            if !errors.is_empty() {
                let n = errors.len();
                return Err(ApiError::validation(format!(
                    "{n} validation error{} detected: {}",
                    if n == 1 { "" } else { "s" },
                    errors.join("; ")
                )));
            }
            let content = b
                .structure("Content", &["S3Bucket", "S3Key", "S3ObjectVersion", "ZipFile"])?
                .ok_or_else(|| ApiError::invalid_parameter("Content is required".into()))?;
            let artifact = crate::functions::import_layer_zip(&api, &content).await?;
            let meta = LayerMeta {
                description: b.string("Description")?.unwrap_or_default(),
                compatible_runtimes: runtimes,
                compatible_architectures: archs,
                license_info: b.string("LicenseInfo")?,
            };
            let store = api.runtime.store().clone();
            let v = blocking(move || store.publish_layer_version(&name, &artifact, &meta)).await?;
            Ok(json_response(
                StatusCode::CREATED,
                &shapes::layer_version(&base_url(&headers), &v),
            ))
        }
        .await,
    )
}

/// `GET /2018-10-31/layers/{LayerName}/versions/{VersionNumber}`
pub(crate) async fn get(
    State(api): Api,
    Path((layer, version)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    respond(
        async {
            let name = layer_name(&layer)?;
            let n = version_number(&version)?;
            let store = api.runtime.store().clone();
            let v = blocking(move || store.layer_version(&name, n))
                .await?
                .ok_or_else(|| ApiError::not_found(MSG_NO_RESOURCE.into()))?;
            Ok(json_response(
                StatusCode::OK,
                &shapes::layer_version(&base_url(&headers), &v),
            ))
        }
        .await,
    )
}

/// `DELETE /2018-10-31/layers/{LayerName}/versions/{VersionNumber}`: idempotent.
pub(crate) async fn delete(
    State(api): Api,
    Path((layer, version)): Path<(String, String)>,
) -> Response {
    respond(
        async {
            let name = layer_name(&layer)?;
            let n = version_number(&version)?;
            let store = api.runtime.store().clone();
            blocking(move || store.delete_layer_version(&name, n)).await?;
            Ok(no_content())
        }
        .await,
    )
}

fn matches(v: &LayerVersion, q: &HashMap<String, String>) -> bool {
    let rt = q
        .get("CompatibleRuntime")
        .is_none_or(|r| v.meta.compatible_runtimes.contains(r));
    let arch = q
        .get("CompatibleArchitecture")
        .is_none_or(|a| v.meta.compatible_architectures.contains(a));
    rt && arch
}

fn max_items(q: &HashMap<String, String>) -> Result<usize, ApiError> {
    match q.get("MaxItems") {
        None => Ok(MAX_PAGE),
        Some(s) => {
            let n: i64 = s.parse().map_err(|_| {
                ApiError::invalid_parameter(format!("Value '{s}' for MaxItems is not a number"))
            })?;
            in_range(n, "maxItems", 1, 50)?;
            Ok(n as usize)
        }
    }
}

fn listing(key: &str, items: Vec<Value>, next: Option<String>) -> Value {
    let mut m = serde_json::Map::new();
    if let Some(n) = next {
        m.insert("NextMarker".into(), json!(n));
    }
    m.insert(key.into(), Value::Array(items));
    Value::Object(m)
}

/// `GET /2018-10-31/layers/{LayerName}/versions`
pub(crate) async fn list_versions(
    State(api): Api,
    Path(layer): Path<String>,
    Query(q): Params,
) -> Response {
    respond(
        async {
            let name = layer_name(&layer)?;
            let max = max_items(&q)?;
            let store = api.runtime.store().clone();
            let all = blocking(move || store.list_layer_versions(&name)).await?;
            let items: Vec<(String, Value)> = all
                .iter()
                .filter(|v| matches(v, &q))
                // Newest first: key by the complement of the number.
                .map(|v| {
                    (
                        format!("{:0>10}", u32::MAX - v.version),
                        shapes::layer_version_item(v),
                    )
                })
                .collect();
            let (page, next) = shapes::page(items, q.get("Marker").map(String::as_str), max);
            Ok(json_response(
                StatusCode::OK,
                &listing("LayerVersions", page, next),
            ))
        }
        .await,
    )
}

/// `GET /2018-10-31/layers` (ListLayers), or with `find=LayerVersion&Arn=…`
/// (GetLayerVersionByArn).
pub(crate) async fn list_layers(State(api): Api, Query(q): Params, headers: HeaderMap) -> Response {
    respond(
        async {
            let store = api.runtime.store().clone();
            if q.get("find").map(String::as_str) == Some("LayerVersion") {
                let arn = q.get("Arn").cloned().unwrap_or_default();
                let (name, n) = store
                    .parse_layer_version_arn(&arn)
                    .map_err(|e| match e {
                        ledge_store::LayerArnError::Malformed { .. } => ApiError::validation(format!(
                            "1 validation error detected: Value '{arn}' at 'arn' failed to satisfy constraint: Member must satisfy regular expression pattern: (arn:(aws[a-zA-Z-]*)?:lambda:[a-z]{{2}}((-gov)|(-iso([a-z]?)))?-[a-z]+-\\d{{1}}:\\d{{12}}:layer:[a-zA-Z0-9-_]+:[0-9]+)|(arn:[a-zA-Z0-9-]+:lambda:::awslayer:[a-zA-Z0-9-_]+)"
                        )),
                        _ => ApiError::not_found(MSG_NO_RESOURCE.into()),
                    })?;
                let v = blocking(move || store.layer_version(&name, n))
                    .await?
                    .ok_or_else(|| ApiError::not_found(MSG_NO_RESOURCE.into()))?;
                return Ok(json_response(
                    StatusCode::OK,
                    &shapes::layer_version(&base_url(&headers), &v),
                ));
            }
            let max = max_items(&q)?;
            let q2 = q.clone();
            let found = blocking(move || {
                let mut out = Vec::new();
                for latest in store.list_layers()? {
                    let versions = store.list_layer_versions(&latest.name)?;
                    if let Some(v) = versions.into_iter().find(|v| matches(v, &q2)) {
                        out.push(v);
                    }
                }
                Ok(out)
            })
            .await?;
            let items: Vec<(String, Value)> = found
                .iter()
                .map(|v| {
                    (
                        v.name.clone(),
                        json!({
                            "LayerName": v.name,
                            "LayerArn": v.layer_arn,
                            "LatestMatchingVersion": shapes::layer_version_item(v),
                        }),
                    )
                })
                .collect();
            let (page, next) = shapes::page(items, q.get("Marker").map(String::as_str), max);
            Ok(json_response(StatusCode::OK, &listing("Layers", page, next)))
        }
        .await,
    )
}

/// `GET /ledge/artifacts/{sha256}.zip`: the code or layer zip behind a `Location`.
pub(crate) async fn artifact(State(api): Api, Path(file): Path<String>) -> Response {
    let hex = file.strip_suffix(".zip").unwrap_or(&file).to_owned();
    let store = api.runtime.store().clone();
    let found = tokio::task::spawn_blocking(move || {
        store
            .artifact(&hex)
            .ok()
            .flatten()
            .and_then(|a| std::fs::read(&a.zip_path).ok())
    })
    .await
    .ok()
    .flatten();
    match found {
        Some(bytes) => {
            let mut resp = Response::new(axum::body::Body::from(bytes));
            resp.headers_mut().insert(
                http::header::CONTENT_TYPE,
                HeaderValue::from_static("application/zip"),
            );
            resp
        }
        None => ApiError::not_found(MSG_NO_RESOURCE.into()).into_response(),
    }
}
