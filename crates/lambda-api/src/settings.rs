//! Function-level settings: reserved concurrency, asynchronous-invocation configs
//! (`EventInvokeConfig`, also from templates), and the account's settings.

use std::collections::HashMap;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use ledge_model::FunctionName;
use ledge_store::Store;
use serde_json::{json, Map, Value};

use crate::errors::ApiError;
use crate::input::{in_range, Body};
use crate::{json_response, no_content, respond, LambdaApi};

type Api = State<Arc<LambdaApi>>;
type Params = Query<HashMap<String, String>>;

/// Lambda's defaults for asynchronous invocation.
pub(crate) const DEFAULT_RETRIES: u32 = 2;
pub(crate) const DEFAULT_MAX_AGE_SECS: u64 = 21_600;

/// `PUT /2017-10-31/functions/{FunctionName}/concurrency`
pub(crate) async fn put_concurrency(
    State(api): Api,
    Path(f): Path<String>,
    body: Bytes,
) -> Response {
    respond(
        async {
            let b = Body::parse(&body, &["ReservedConcurrentExecutions"])?;
            let (name, _) = api.function_ref(&f, None)?;
            let n = b.int("ReservedConcurrentExecutions")?.ok_or_else(|| {
                ApiError::invalid_parameter("ReservedConcurrentExecutions is required".into())
            })?;
            in_range(n, "reservedConcurrentExecutions", 0, i64::from(u32::MAX))?;
            api.runtime
                .set_reserved_concurrency(&name, Some(n as u32))
                .await?;
            Ok(json_response(
                StatusCode::OK,
                &json!({ "ReservedConcurrentExecutions": n }),
            ))
        }
        .await,
    )
}

/// `GET /2019-09-30/functions/{FunctionName}/concurrency`
pub(crate) async fn get_concurrency(State(api): Api, Path(f): Path<String>) -> Response {
    respond((|| {
        let (name, _) = api.function_ref(&f, None)?;
        let info = api
            .runtime
            .function_info(&name)
            .ok_or_else(|| api.not_found(&name, "$LATEST"))?;
        let body = match info.reserved_concurrency {
            Some(n) => json!({ "ReservedConcurrentExecutions": n }),
            None => json!({}),
        };
        Ok(json_response(StatusCode::OK, &body))
    })())
}

/// `DELETE /2017-10-31/functions/{FunctionName}/concurrency`
pub(crate) async fn delete_concurrency(State(api): Api, Path(f): Path<String>) -> Response {
    respond(
        async {
            let (name, _) = api.function_ref(&f, None)?;
            api.runtime.set_reserved_concurrency(&name, None).await?;
            Ok(no_content())
        }
        .await,
    )
}

/// `GET /2016-08-19/account-settings`
pub(crate) async fn account(State(api): Api) -> Response {
    let infos = api.runtime.function_infos();
    let total: u64 = infos
        .iter()
        .map(|f| f.latest.code_size + f.versions.iter().map(|v| v.code_size).sum::<u64>())
        .sum();
    let limit = api.runtime.account_concurrency();
    let unreserved = limit.saturating_sub(api.runtime.reserved_concurrency_total());
    json_response(
        StatusCode::OK,
        &json!({
            "AccountLimit": {
                "TotalCodeSize": 80_530_636_800u64,
                "CodeSizeUnzipped": ledge_store::AWS_MAX_UNZIPPED_BYTES,
                "CodeSizeZipped": crate::protocol::MAX_ZIPPED,
                "ConcurrentExecutions": limit,
                "UnreservedConcurrentExecutions": unreserved,
            },
            "AccountUsage": {"TotalCodeSize": total, "FunctionCount": infos.len()},
        }),
    )
}

// ------------------------------------------------------ event-invoke configs

/// A function's asynchronous-invocation settings, with Lambda's defaults.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct EventConfig {
    pub(crate) max_retries: u32,
    pub(crate) max_age_secs: u64,
    pub(crate) on_success: Option<String>,
    pub(crate) on_failure: Option<String>,
}

impl EventConfig {
    pub(crate) fn from_stored(v: Option<&Value>) -> Self {
        let get = |p: &str| v.and_then(|v| v.pointer(p));
        Self {
            max_retries: get("/MaximumRetryAttempts")
                .and_then(Value::as_u64)
                .map_or(DEFAULT_RETRIES, |n| n.min(2) as u32),
            max_age_secs: get("/MaximumEventAgeInSeconds")
                .and_then(Value::as_u64)
                .unwrap_or(DEFAULT_MAX_AGE_SECS),
            on_success: get("/DestinationConfig/OnSuccess/Destination")
                .and_then(Value::as_str)
                .map(str::to_owned),
            on_failure: get("/DestinationConfig/OnFailure/Destination")
                .and_then(Value::as_str)
                .map(str::to_owned),
        }
    }
}

fn check_destination(arn: &str) -> Result<(), ApiError> {
    let parts: Vec<&str> = arn.split(':').collect();
    let ok = parts.len() >= 6
        && parts[0] == "arn"
        && ["sqs", "sns", "lambda", "events", "s3"].contains(&parts[2]);
    if ok {
        Ok(())
    } else {
        Err(ApiError::invalid_parameter(format!(
            "The destination ARN {arn} is invalid."
        )))
    }
}

/// Validates a request's members and merges them into `into` (Put starts from `{}`).
fn merge_config(b: &Body, into: &mut Map<String, Value>) -> Result<(), ApiError> {
    if let Some(n) = b.int("MaximumRetryAttempts")? {
        in_range(n, "maximumRetryAttempts", 0, 2)?;
        into.insert("MaximumRetryAttempts".into(), json!(n));
    }
    if let Some(n) = b.int("MaximumEventAgeInSeconds")? {
        in_range(n, "maximumEventAgeInSeconds", 60, 21_600)?;
        into.insert("MaximumEventAgeInSeconds".into(), json!(n));
    }
    if let Some(d) = b.structure("DestinationConfig", &["OnSuccess", "OnFailure"])? {
        let mut dest = Map::new();
        for k in ["OnSuccess", "OnFailure"] {
            if let Some(s) = d.structure(k, &["Destination"])? {
                if let Some(arn) = s.string("Destination")? {
                    check_destination(&arn)?;
                    dest.insert(k.into(), json!({ "Destination": arn }));
                }
            }
        }
        into.insert("DestinationConfig".into(), Value::Object(dest));
    }
    let now = chrono::Utc::now().timestamp_millis() as f64 / 1000.0;
    into.insert("LastModified".into(), json!(now));
    Ok(())
}

fn config_response(api: &LambdaApi, name: &FunctionName, qualifier: &str, stored: &Value) -> Value {
    let mut m = stored.as_object().cloned().unwrap_or_default();
    m.insert(
        "FunctionArn".into(),
        json!(format!("{}:{qualifier}", api.runtime.function_arn(name))),
    );
    m.entry("DestinationConfig").or_insert_with(|| json!({}));
    Value::Object(m)
}

/// The qualifier a config applies to; it must name something that exists.
fn config_target(
    api: &LambdaApi,
    f: &str,
    q: &HashMap<String, String>,
) -> Result<(FunctionName, String), ApiError> {
    let (name, qualifier) = api.function_ref(f, q.get("Qualifier").map(String::as_str))?;
    let qualifier = qualifier.unwrap_or_else(|| "$LATEST".into());
    api.runtime.version_info(&name, Some(&qualifier))?;
    Ok((name, qualifier))
}

async fn put_or_update(
    api: &LambdaApi,
    f: &str,
    q: &HashMap<String, String>,
    body: &[u8],
    replace: bool,
) -> Result<Response, ApiError> {
    let b = Body::parse(
        body,
        &[
            "MaximumRetryAttempts",
            "MaximumEventAgeInSeconds",
            "DestinationConfig",
        ],
    )?;
    let (name, qualifier) = config_target(api, f, q)?;
    let store = api.runtime.store().clone();
    let (n, qq) = (name.to_string(), qualifier.clone());
    let existing = tokio::task::spawn_blocking(move || store.event_invoke_config(&n, &qq))
        .await
        .map_err(|e| ApiError::service(e.to_string()))??;
    if !replace && existing.is_none() {
        return Err(no_config(api, &name, &qualifier));
    }
    let mut m = if replace {
        Map::new()
    } else {
        existing
            .and_then(|v| v.as_object().cloned())
            .unwrap_or_default()
    };
    merge_config(&b, &mut m)?;
    let stored = Value::Object(m);
    let store = api.runtime.store().clone();
    let (n, qq, data) = (name.to_string(), qualifier.clone(), stored.clone());
    tokio::task::spawn_blocking(move || store.put_event_invoke_config(&n, &qq, &data))
        .await
        .map_err(|e| ApiError::service(e.to_string()))??;
    Ok(json_response(
        StatusCode::OK,
        &config_response(api, &name, &qualifier, &stored),
    ))
}

fn no_config(api: &LambdaApi, name: &FunctionName, qualifier: &str) -> ApiError {
    ApiError::not_found(format!(
        "The function {}:{qualifier} doesn't have an EventInvokeConfig",
        api.runtime.function_arn(name)
    ))
}

/// `PUT /2019-09-25/functions/{FunctionName}/event-invoke-config`
pub(crate) async fn put_event_config(
    State(api): Api,
    Path(f): Path<String>,
    Query(q): Params,
    body: Bytes,
) -> Response {
    respond(put_or_update(&api, &f, &q, &body, true).await)
}

/// `POST /2019-09-25/functions/{FunctionName}/event-invoke-config`
pub(crate) async fn update_event_config(
    State(api): Api,
    Path(f): Path<String>,
    Query(q): Params,
    body: Bytes,
) -> Response {
    respond(put_or_update(&api, &f, &q, &body, false).await)
}

/// `GET /2019-09-25/functions/{FunctionName}/event-invoke-config`
pub(crate) async fn get_event_config(
    State(api): Api,
    Path(f): Path<String>,
    Query(q): Params,
) -> Response {
    respond(
        async {
            let (name, qualifier) = config_target(&api, &f, &q)?;
            let store = api.runtime.store().clone();
            let (n, qq) = (name.to_string(), qualifier.clone());
            let found = tokio::task::spawn_blocking(move || store.event_invoke_config(&n, &qq))
                .await
                .map_err(|e| ApiError::service(e.to_string()))??
                .ok_or_else(|| no_config(&api, &name, &qualifier))?;
            Ok(json_response(
                StatusCode::OK,
                &config_response(&api, &name, &qualifier, &found),
            ))
        }
        .await,
    )
}

/// `DELETE /2019-09-25/functions/{FunctionName}/event-invoke-config`
pub(crate) async fn delete_event_config(
    State(api): Api,
    Path(f): Path<String>,
    Query(q): Params,
) -> Response {
    respond(
        async {
            let (name, qualifier) = config_target(&api, &f, &q)?;
            let store = api.runtime.store().clone();
            let (n, qq) = (name.to_string(), qualifier.clone());
            let deleted =
                tokio::task::spawn_blocking(move || store.delete_event_invoke_config(&n, &qq))
                    .await
                    .map_err(|e| ApiError::service(e.to_string()))??;
            if !deleted {
                return Err(no_config(&api, &name, &qualifier));
            }
            Ok(no_content())
        }
        .await,
    )
}

/// `GET /2019-09-25/functions/{FunctionName}/event-invoke-config/list`
pub(crate) async fn list_event_configs(State(api): Api, Path(f): Path<String>) -> Response {
    respond(
        async {
            let (name, _) = api.function_ref(&f, None)?;
            api.runtime.version_info(&name, None)?;
            let store = api.runtime.store().clone();
            let n = name.to_string();
            let all = tokio::task::spawn_blocking(move || store.event_invoke_configs(&n))
                .await
                .map_err(|e| ApiError::service(e.to_string()))??;
            let items: Vec<Value> = all
                .iter()
                .map(|(q, v)| config_response(&api, &name, q, v))
                .collect();
            Ok(json_response(
                StatusCode::OK,
                &json!({ "FunctionEventInvokeConfigs": items }),
            ))
        }
        .await,
    )
}

/// Applies a template's `EventInvokeConfig` (SAM function property, or the properties of
/// an `AWS::Lambda::EventInvokeConfig`) to `function:qualifier`.
pub fn apply_template_event_config(
    store: &Store,
    function: &str,
    qualifier: &str,
    props: &Value,
) -> Result<(), String> {
    let mut m = Map::new();
    if let Some(n) = props.get("MaximumRetryAttempts").and_then(Value::as_i64) {
        if !(0..=2).contains(&n) {
            return Err(format!(
                "{function}: MaximumRetryAttempts must be 0, 1 or 2"
            ));
        }
        m.insert("MaximumRetryAttempts".into(), json!(n));
    }
    if let Some(n) = props
        .get("MaximumEventAgeInSeconds")
        .and_then(Value::as_i64)
    {
        if !(60..=21_600).contains(&n) {
            return Err(format!(
                "{function}: MaximumEventAgeInSeconds must be between 60 and 21600"
            ));
        }
        m.insert("MaximumEventAgeInSeconds".into(), json!(n));
    }
    let mut dest = Map::new();
    for k in ["OnSuccess", "OnFailure"] {
        if let Some(arn) = props
            .pointer(&format!("/DestinationConfig/{k}/Destination"))
            .and_then(Value::as_str)
        {
            dest.insert(k.into(), json!({ "Destination": arn }));
        }
    }
    if !dest.is_empty() {
        m.insert("DestinationConfig".into(), Value::Object(dest));
    }
    let now = chrono::Utc::now().timestamp_millis() as f64 / 1000.0;
    m.insert("LastModified".into(), json!(now));
    store
        .put_event_invoke_config(function, qualifier, &Value::Object(m))
        .map_err(|e| format!("{function}: {e}"))
}
