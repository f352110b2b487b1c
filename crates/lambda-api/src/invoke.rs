//! `POST /2015-03-31/functions/{FunctionName}/invocations`.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use ledge_model::{InvokeError, InvokeOutcome, InvokeRequest};
use serde::Deserialize;

use crate::errors::{ApiError, HDR_REQUEST_ID};
use crate::protocol::{
    HDR_CLIENT_CONTEXT, HDR_EXECUTED_VERSION, HDR_FUNCTION_ERROR, HDR_INVOCATION_TYPE,
    HDR_LOG_RESULT, HDR_LOG_TYPE, MAX_ASYNC, MAX_SYNC,
};
use crate::LambdaApi;

#[derive(Debug, Deserialize)]
pub(crate) struct InvokeQuery {
    #[serde(rename = "Qualifier")]
    qualifier: Option<String>,
}

/// Splits `name`, `name:qualifier`, or a full or partial function ARN.
pub(crate) fn parse_function_ref(raw: &str) -> Option<(String, Option<String>)> {
    let parts: Vec<&str> = raw.split(':').collect();
    match parts.as_slice() {
        [name] => Some(((*name).to_owned(), None)),
        [name, q] => Some(((*name).to_owned(), Some((*q).to_owned()))),
        [_acct, "function", name] => Some(((*name).to_owned(), None)),
        [_acct, "function", name, q] => Some(((*name).to_owned(), Some((*q).to_owned()))),
        ["arn", _, "lambda", _, _, "function", name] => Some(((*name).to_owned(), None)),
        ["arn", _, "lambda", _, _, "function", name, q] => {
            Some(((*name).to_owned(), Some((*q).to_owned())))
        }
        _ => None,
    }
}

pub(crate) async fn invoke(
    State(api): State<Arc<LambdaApi>>,
    Path(function): Path<String>,
    Query(query): Query<InvokeQuery>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    match run(&api, &function, query, &headers, body).await {
        Ok(r) => r,
        Err(e) => e.into_response(),
    }
}

async fn run(
    api: &LambdaApi,
    function: &str,
    query: InvokeQuery,
    headers: &HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let (fname, qualifier) = api.function_ref(function, query.qualifier.as_deref())?;
    let invocation_type = headers
        .get(HDR_INVOCATION_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("RequestResponse");
    let limit_ok = match invocation_type {
        "Event" => body.len() <= MAX_ASYNC,
        _ => body.len() < MAX_SYNC,
    };
    if !limit_ok {
        return Err(if invocation_type == "Event" {
            ApiError::too_large(format!(
                "{} byte payload is too large for the Event invocation type (limit {MAX_ASYNC} bytes)",
                body.len()
            ))
        } else {
            ApiError::too_large(format!(
                "Request must be smaller than {MAX_SYNC} bytes for the InvokeFunction operation"
            ))
        });
    }
    let payload = if body.is_empty() {
        Bytes::from_static(b"{}")
    } else {
        if let Err(e) = serde_json::from_slice::<serde::de::IgnoredAny>(&body) {
            return Err(ApiError::invalid_content(format!(
                "Could not parse request body into json: Could not parse payload into json: {e}"
            )));
        }
        body
    };
    let client_context = match headers.get(HDR_CLIENT_CONTEXT).map(|v| v.as_bytes()) {
        Some(raw) => {
            let decoded = base64::engine::general_purpose::STANDARD
                .decode(raw)
                .ok()
                .and_then(|b| String::from_utf8(b).ok())
                .ok_or_else(|| {
                    ApiError::invalid_parameter(
                        "Client context must be a valid Base64-encoded JSON object.".into(),
                    )
                })?;
            Some(decoded)
        }
        None => None,
    };
    let mut req = InvokeRequest::new(fname, payload);
    req.qualifier = qualifier.clone();
    req.client_context = client_context;
    req.capture_log = headers
        .get(HDR_LOG_TYPE)
        .is_some_and(|v| v.as_bytes() == b"Tail");

    match invocation_type {
        "RequestResponse" => {}
        "DryRun" => {
            api.runtime
                .version_info(&req.function, qualifier.as_deref())
                .map_err(ApiError::from)?;
            return Ok(StatusCode::NO_CONTENT.into_response());
        }
        "Event" => {
            // Durable before it is acknowledged: the queue runs it, retries it, and
            // records it if it fails for good.
            api.runtime
                .version_info(&req.function, qualifier.as_deref())
                .map_err(ApiError::from)?;
            let request_id = ledge_model::RequestId::new_random().to_string();
            api.queue
                .enqueue(&req.function, qualifier.as_deref(), &request_id, &req.payload)
                .await?;
            let mut resp = StatusCode::ACCEPTED.into_response();
            let h = resp.headers_mut();
            h.insert(http::header::CONTENT_LENGTH, HeaderValue::from_static("0"));
            if let Ok(v) = HeaderValue::from_str(&request_id) {
                h.insert(HDR_REQUEST_ID, v);
            }
            return Ok(resp);
        }
        other => {
            return Err(ApiError::invalid_parameter(format!(
                "1 validation error detected: Value '{other}' at 'invocationType' failed to satisfy constraint: Member must satisfy enum value set: [Event, RequestResponse, DryRun]"
            )))
        }
    }

    let result = match api.invoker.invoke(req).await {
        Ok(r) => r,
        Err(InvokeError::FunctionNotFound { arn }) => {
            return Err(ApiError::not_found(format!("Function not found: {arn}")))
        }
        Err(e) => return Err(ApiError::service(e.to_string())),
    };
    if let InvokeOutcome::Throttled { reason } = result.outcome {
        return Err(ApiError::too_many_requests(reason.as_str()));
    }
    let function_error = result.outcome.is_function_error();
    let payload = Bytes::copy_from_slice(result.outcome.payload());
    let mut resp = Response::new(payload.into());
    let h = resp.headers_mut();
    h.insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    if let Ok(v) = HeaderValue::from_str(result.request_id.as_str()) {
        h.insert(HDR_REQUEST_ID, v);
    }
    if let Ok(v) = HeaderValue::from_str(&result.executed_version) {
        h.insert(HDR_EXECUTED_VERSION, v);
    }
    if function_error {
        h.insert(HDR_FUNCTION_ERROR, HeaderValue::from_static("Unhandled"));
    }
    if let Some(tail) = result.log_tail() {
        let enc = base64::engine::general_purpose::STANDARD.encode(tail.as_bytes());
        if let Ok(v) = HeaderValue::from_str(&enc) {
            h.insert(HDR_LOG_RESULT, v);
        }
    }
    Ok(resp)
}

#[cfg(test)]
mod tests {
    use super::parse_function_ref;

    #[test]
    fn function_references() {
        assert_eq!(parse_function_ref("f"), Some(("f".into(), None)));
        assert_eq!(
            parse_function_ref("f:3"),
            Some(("f".into(), Some("3".into())))
        );
        assert_eq!(
            parse_function_ref("arn:aws:lambda:us-east-1:123456789012:function:f:live"),
            Some(("f".into(), Some("live".into())))
        );
        assert_eq!(
            parse_function_ref("123456789012:function:f"),
            Some(("f".into(), None))
        );
        assert_eq!(parse_function_ref("a:b:c:d:e"), None);
    }
}
