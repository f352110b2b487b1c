//! API Gateway management calls on ledge's AWS endpoint, as botocore and the AWS CLI send
//! them (`aws apigateway … --endpoint-url`): FlushStageCache
//! (`DELETE /restapis/{id}/stages/{stage}/cache/data` → 202), FlushStageAuthorizersCache,
//! GetRestApis, GetStages, GetStage and UpdateStage (method settings patch paths with
//! `~1` escaping), plus ledge's own `GET /_ledge/cache/stats`. Routed by path; merged into
//! the AWS endpoint's router by `ledge-app`.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, Query, Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get};
use axum::Router;
use http::{HeaderValue, StatusCode};
use serde_json::{json, Value as J};

use super::server::{RestApi, RestRegistry};
use super::spec::{MethodSetting, RestStageSpec, UnauthorizedStrategy};
use crate::common::ids;
use ledge_sigv4::{AccessKeys, SignedRequest};

/// What the management router acts on.
#[derive(Clone, Debug)]
pub struct Management {
    pub registry: Arc<RestRegistry>,
    /// When set, every call must be SigV4-signed (service `apigateway`) by one of these.
    pub auth: Option<AccessKeys>,
    pub account_id: String,
}

/// The management routes; `ledge-app` merges them into the AWS endpoint's router.
pub fn management_router(m: Management) -> Router {
    let m = Arc::new(m);
    Router::new()
        .route("/restapis", get(get_rest_apis))
        .route("/restapis/{api}/stages", get(get_stages))
        .route(
            "/restapis/{api}/stages/{stage}",
            get(get_stage).patch(update_stage),
        )
        .route(
            "/restapis/{api}/stages/{stage}/cache/data",
            delete(flush_stage_cache),
        )
        .route(
            "/restapis/{api}/stages/{stage}/cache/authorizers",
            delete(flush_authorizers_cache),
        )
        .route("/_ledge/cache/stats", get(cache_stats))
        .layer(axum::middleware::from_fn_with_state(m.clone(), guard))
        .with_state(m)
}

fn error(status: StatusCode, kind: &'static str, message: impl Into<String>) -> Response {
    let mut r = (
        status,
        [(http::header::CONTENT_TYPE, "application/json")],
        json!({ "message": message.into() }).to_string(),
    )
        .into_response();
    r.headers_mut()
        .insert("x-amzn-errortype", HeaderValue::from_static(kind));
    r
}

fn ok_json(status: StatusCode, v: J) -> Response {
    (
        status,
        [(http::header::CONTENT_TYPE, "application/json")],
        v.to_string(),
    )
        .into_response()
}

/// SigV4 when required, and `x-amzn-RequestId` on every answer.
async fn guard(State(m): State<Arc<Management>>, req: Request, next: Next) -> Response {
    let req = match &m.auth {
        None => req,
        Some(keys) => {
            let (parts, body) = req.into_parts();
            let Ok(bytes) = axum::body::to_bytes(body, 1 << 20).await else {
                return error(
                    StatusCode::BAD_REQUEST,
                    "BadRequestException",
                    "request body too large",
                );
            };
            let now = std::time::SystemTime::now();
            let signed = SignedRequest::new(&parts, parts.uri.path(), &bytes);
            if let Err(e) = ledge_sigv4::verify(keys, "apigateway", &signed, now) {
                return error(StatusCode::FORBIDDEN, e.code(), e.to_string());
            }
            Request::from_parts(parts, axum::body::Body::from(bytes))
        }
    };
    let mut r = next.run(req).await;
    if let Ok(v) = HeaderValue::from_str(&ids::uuid_request_id()) {
        r.headers_mut().insert("x-amzn-requestid", v);
    }
    r
}

fn find(m: &Management, api: &str) -> Result<Arc<RestApi>, Box<Response>> {
    m.registry.get(api).ok_or_else(|| {
        Box::new(error(
            StatusCode::NOT_FOUND,
            "NotFoundException",
            format!("Invalid API identifier specified {}:{api}", m.account_id),
        ))
    })
}

fn no_stage() -> Response {
    error(
        StatusCode::NOT_FOUND,
        "NotFoundException",
        "Invalid Stage identifier specified",
    )
}

async fn get_rest_apis(State(m): State<Arc<Management>>) -> Response {
    let items: Vec<J> = m
        .registry
        .all()
        .iter()
        .map(|a| {
            let s = a.spec();
            json!({"id": s.api_id, "name": s.name, "binaryMediaTypes": s.binary_media_types,
                   "apiKeySource": match s.api_key_source { super::spec::ApiKeySource::Header => "HEADER", super::spec::ApiKeySource::Authorizer => "AUTHORIZER" }})
        })
        .collect();
    ok_json(StatusCode::OK, json!({ "item": items }))
}

/// A method setting as `GetStage` shows it: every field, AWS's defaults filled in.
fn setting_json(s: &MethodSetting) -> J {
    json!({
        "metricsEnabled": s.metrics_enabled.unwrap_or(false),
        "loggingLevel": "OFF",
        "dataTraceEnabled": false,
        "throttlingBurstLimit": s.throttling_burst_limit.unwrap_or(5000),
        "throttlingRateLimit": s.throttling_rate_limit.unwrap_or(10000.0),
        "cachingEnabled": s.caching_enabled.unwrap_or(false),
        "cacheTtlInSeconds": s.cache_ttl_seconds.unwrap_or(300),
        "cacheDataEncrypted": s.cache_data_encrypted.unwrap_or(false),
        "requireAuthorizationForCacheControl": s.require_authorization_for_cache_control.unwrap_or(true),
        "unauthorizedCacheControlHeaderStrategy": s.unauthorized_cache_control_header_strategy.unwrap_or_default().as_str(),
    })
}

fn stage_json(s: &RestStageSpec) -> J {
    let mut settings = serde_json::Map::new();
    for ms in &s.method_settings {
        settings.insert(ms.key(), setting_json(ms));
    }
    let mut v = json!({
        "deploymentId": s.deployment_id,
        "stageName": s.name,
        "cacheClusterEnabled": s.cache_cluster_enabled,
        "cacheClusterStatus": if s.cache_cluster_enabled { "AVAILABLE" } else { "NOT_AVAILABLE" },
        "methodSettings": settings,
        "variables": s.variables,
        "tracingEnabled": false,
    });
    if s.cache_cluster_enabled {
        v["cacheClusterSize"] = json!(s.cache_cluster_size.as_str());
    }
    v
}

async fn get_stages(State(m): State<Arc<Management>>, Path(api): Path<String>) -> Response {
    let a = match find(&m, &api) {
        Ok(a) => a,
        Err(r) => return *r,
    };
    let items: Vec<J> = a.spec().stages.iter().map(stage_json).collect();
    ok_json(StatusCode::OK, json!({ "item": items }))
}

async fn get_stage(
    State(m): State<Arc<Management>>,
    Path((api, stage)): Path<(String, String)>,
) -> Response {
    let a = match find(&m, &api) {
        Ok(a) => a,
        Err(r) => return *r,
    };
    match a.stage(&stage) {
        Some(s) => ok_json(StatusCode::OK, stage_json(&s)),
        None => no_stage(),
    }
}

async fn flush_stage_cache(
    State(m): State<Arc<Management>>,
    Path((api, stage)): Path<(String, String)>,
) -> Response {
    let a = match find(&m, &api) {
        Ok(a) => a,
        Err(r) => return *r,
    };
    match a.flush_stage_cache(&stage).await {
        Ok(true) => StatusCode::ACCEPTED.into_response(),
        Ok(false) => no_stage(),
        Err(e) => error(
            StatusCode::SERVICE_UNAVAILABLE,
            "ServiceUnavailableException",
            e.to_string(),
        ),
    }
}

async fn flush_authorizers_cache(
    State(m): State<Arc<Management>>,
    Path((api, stage)): Path<(String, String)>,
) -> Response {
    let a = match find(&m, &api) {
        Ok(a) => a,
        Err(r) => return *r,
    };
    if a.stage(&stage).is_none() {
        return no_stage();
    }
    a.flush_authorizers_cache();
    StatusCode::ACCEPTED.into_response()
}

const SETTING_PATHS: &str = "[/deploymentId, /description, /cacheClusterEnabled, /cacheClusterSize, /clientCertificateId, /accessLogSettings, /accessLogSettings/destinationArn, /accessLogSettings/format, /{resourcePath}/{httpMethod}/metrics/enabled, /{resourcePath}/{httpMethod}/logging/dataTrace, /{resourcePath}/{httpMethod}/logging/loglevel, /{resourcePath}/{httpMethod}/throttling/burstLimit/{resourcePath}/{httpMethod}/throttling/rateLimit/{resourcePath}/{httpMethod}/caching/ttlInSeconds, /{resourcePath}/{httpMethod}/caching/enabled, /{resourcePath}/{httpMethod}/caching/dataEncrypted, /{resourcePath}/{httpMethod}/caching/requireAuthorizationForCacheControl, /{resourcePath}/{httpMethod}/caching/unauthorizedCacheControlHeaderStrategy, /*/*/metrics/enabled, /*/*/logging/dataTrace, /*/*/logging/loglevel, /*/*/throttling/burstLimit /*/*/throttling/rateLimit /*/*/caching/ttlInSeconds, /*/*/caching/enabled, /*/*/caching/dataEncrypted, /*/*/caching/requireAuthorizationForCacheControl, /*/*/caching/unauthorizedCacheControlHeaderStrategy, /variables/{variable_name}, /tracingEnabled]";

fn bad(message: impl Into<String>) -> Response {
    error(StatusCode::BAD_REQUEST, "BadRequestException", message)
}

/// Applies one patch operation to a stage (UpdateStage).
pub fn apply_patch(
    stage: &mut RestStageSpec,
    op: &str,
    path: &str,
    value: Option<&str>,
) -> Result<(), String> {
    let invalid =
        || format!("Invalid method setting path: {path}. Must be one of: {SETTING_PATHS}");
    let need = || value.ok_or_else(|| format!("Patch operation {op} on {path} needs a value"));
    match path {
        "/cacheClusterEnabled" => {
            stage.cache_cluster_enabled = need()?
                .parse()
                .map_err(|_| "cacheClusterEnabled must be true or false".to_owned())?;
            return Ok(());
        }
        "/cacheClusterSize" => {
            stage.cache_cluster_size = need()?
                .parse()
                .map_err(|e: ledge_cache::CacheError| e.to_string())?;
            return Ok(());
        }
        "/deploymentId" | "/description" | "/tracingEnabled" | "/clientCertificateId" => {
            return Ok(())
        }
        _ => {}
    }
    if let Some(name) = path.strip_prefix("/variables/") {
        match op {
            "remove" => {
                stage.variables.remove(name);
            }
            _ => {
                stage.variables.insert(name.to_owned(), need()?.to_owned());
            }
        }
        return Ok(());
    }
    let segs: Vec<&str> = path.split('/').collect();
    let [_, resource, method, group, field] = segs.as_slice() else {
        return Err(invalid());
    };
    let resource_path = if *resource == "*" {
        "*".to_owned()
    } else {
        let p = resource.replace("~1", "/");
        if p.starts_with('/') {
            p
        } else {
            format!("/{p}")
        }
    };
    let method = if *method == "*" {
        "*".to_owned()
    } else {
        method.to_ascii_uppercase()
    };
    let idx = match stage
        .method_settings
        .iter()
        .position(|s| s.resource_path == resource_path && s.http_method == method)
    {
        Some(i) => i,
        None => {
            stage
                .method_settings
                .push(MethodSetting::new(resource_path, method));
            stage.method_settings.len() - 1
        }
    };
    let s = &mut stage.method_settings[idx];
    let b = |v: &str| {
        v.parse::<bool>()
            .map_err(|_| format!("{path}: expected true or false"))
    };
    match (*group, *field) {
        ("caching", "enabled") => s.caching_enabled = Some(b(need()?)?),
        ("caching", "ttlInSeconds") => {
            let ttl: u64 = need()?
                .parse()
                .map_err(|_| format!("{path}: expected seconds"))?;
            if ttl > 3600 {
                return Err("Cache TTL must be between 0 and 3600 seconds".into());
            }
            s.cache_ttl_seconds = Some(ttl);
        }
        ("caching", "dataEncrypted") => s.cache_data_encrypted = Some(b(need()?)?),
        ("caching", "requireAuthorizationForCacheControl") => {
            s.require_authorization_for_cache_control = Some(b(need()?)?)
        }
        ("caching", "unauthorizedCacheControlHeaderStrategy") => {
            let v = need()?;
            s.unauthorized_cache_control_header_strategy = Some(
                UnauthorizedStrategy::parse(v)
                    .ok_or_else(|| format!("{v}: expected FAIL_WITH_403, SUCCEED_WITH_RESPONSE_HEADER or SUCCEED_WITHOUT_RESPONSE_HEADER"))?,
            );
        }
        ("throttling", "burstLimit") => {
            s.throttling_burst_limit = Some(
                need()?
                    .parse()
                    .map_err(|_| format!("{path}: expected a whole number"))?,
            )
        }
        ("throttling", "rateLimit") => {
            s.throttling_rate_limit = Some(
                need()?
                    .parse()
                    .map_err(|_| format!("{path}: expected a number"))?,
            )
        }
        ("metrics", "enabled") => s.metrics_enabled = Some(b(need()?)?),
        ("logging", "dataTrace" | "loglevel") => {}
        _ => return Err(invalid()),
    }
    Ok(())
}

async fn update_stage(
    State(m): State<Arc<Management>>,
    Path((api, stage)): Path<(String, String)>,
    body: Bytes,
) -> Response {
    let a = match find(&m, &api) {
        Ok(a) => a,
        Err(r) => return *r,
    };
    let mut spec = a.spec();
    let Some(st) = spec.stages.iter_mut().find(|s| s.name == stage) else {
        return no_stage();
    };
    let v: J = match serde_json::from_slice(&body) {
        Ok(v) => v,
        Err(e) => return bad(format!("the request body is not JSON: {e}")),
    };
    for op in v
        .get("patchOperations")
        .and_then(J::as_array)
        .into_iter()
        .flatten()
    {
        let (Some(o), Some(p)) = (
            op.get("op").and_then(J::as_str),
            op.get("path").and_then(J::as_str),
        ) else {
            return bad("each patch operation needs op and path");
        };
        if let Err(e) = apply_patch(st, o, p, op.get("value").and_then(J::as_str)) {
            return bad(e);
        }
    }
    let updated = st.clone();
    match a.redeploy(spec) {
        Ok(_) => ok_json(StatusCode::OK, stage_json(&updated)),
        Err(e) => bad(e.to_string()),
    }
}

#[derive(serde::Deserialize)]
struct StatsQuery {
    api: Option<String>,
    stage: Option<String>,
}

async fn cache_stats(State(m): State<Arc<Management>>, Query(q): Query<StatsQuery>) -> Response {
    let mut apis = serde_json::Map::new();
    for a in m.registry.all() {
        let spec = a.spec();
        if q.api
            .as_deref()
            .is_some_and(|x| x != spec.api_id && x != spec.logical_id)
        {
            continue;
        }
        let mut s = a.cache_stats().await;
        if let (Some(stage), Some(J::Object(stages))) = (&q.stage, s.get_mut("stages")) {
            stages.retain(|k, _| k == stage);
        }
        if let Some(h) = a.redis_health() {
            s["redis"] = json!({"available": h.available, "errors": h.errors});
        }
        apis.insert(spec.logical_id.clone(), s);
    }
    if let Some(api) = &q.api {
        if apis.is_empty() {
            return error(
                StatusCode::NOT_FOUND,
                "NotFoundException",
                format!("Invalid API identifier specified {}:{api}", m.account_id),
            );
        }
    }
    ok_json(StatusCode::OK, json!({ "apis": apis }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patch_paths() {
        let mut s = RestStageSpec::new("Prod");
        apply_patch(
            &mut s,
            "replace",
            "/~1pets~1{id}/GET/caching/ttlInSeconds",
            Some("60"),
        )
        .expect("ok");
        apply_patch(
            &mut s,
            "replace",
            "/*/*/caching/requireAuthorizationForCacheControl",
            Some("false"),
        )
        .expect("ok");
        apply_patch(
            &mut s,
            "replace",
            "/*/*/caching/unauthorizedCacheControlHeaderStrategy",
            Some("FAIL_WITH_403"),
        )
        .expect("ok");
        apply_patch(&mut s, "replace", "/cacheClusterEnabled", Some("true")).expect("ok");
        apply_patch(&mut s, "replace", "/cacheClusterSize", Some("1.6")).expect("ok");
        apply_patch(&mut s, "replace", "/variables/table", Some("t")).expect("ok");
        assert!(s.cache_cluster_enabled);
        assert_eq!(s.cache_cluster_size.as_str(), "1.6");
        assert_eq!(s.method_settings[0].key(), "~1pets~1{id}/GET");
        assert_eq!(s.method_settings[0].cache_ttl_seconds, Some(60));
        assert_eq!(s.method_settings[1].key(), "*/*");
        assert_eq!(
            s.method_settings[1].require_authorization_for_cache_control,
            Some(false)
        );
        let e = apply_patch(&mut s, "replace", "/canarySettings", Some("x")).expect_err("invalid");
        assert!(
            e.starts_with(
                "Invalid method setting path: /canarySettings. Must be one of: [/deploymentId"
            ),
            "{e}"
        );
        assert!(apply_patch(&mut s, "replace", "/*/*/caching/ttlInSeconds", Some("3601")).is_err());
        assert!(apply_patch(&mut s, "replace", "/cacheClusterSize", Some("2")).is_err());
    }
}
