//! Runtime API protocol strings (version `2018-06-01`), in one place.

pub(crate) const PATH_NEXT: &str = "/2018-06-01/runtime/invocation/next";
pub(crate) const PATH_RESPONSE: &str = "/2018-06-01/runtime/invocation/{id}/response";
pub(crate) const PATH_ERROR: &str = "/2018-06-01/runtime/invocation/{id}/error";
pub(crate) const PATH_INIT_ERROR: &str = "/2018-06-01/runtime/init/error";
pub(crate) const PATH_PING: &str = "/ping";

pub(crate) const HDR_REQUEST_ID: &str = "lambda-runtime-aws-request-id";
pub(crate) const HDR_DEADLINE_MS: &str = "lambda-runtime-deadline-ms";
pub(crate) const HDR_FUNCTION_ARN: &str = "lambda-runtime-invoked-function-arn";
pub(crate) const HDR_TRACE_ID: &str = "lambda-runtime-trace-id";
pub(crate) const HDR_CLIENT_CONTEXT: &str = "lambda-runtime-client-context";
pub(crate) const HDR_COGNITO_IDENTITY: &str = "lambda-runtime-cognito-identity";
pub(crate) const HDR_ERROR_TYPE: &str = "lambda-runtime-function-error-type";
pub(crate) const HDR_RESPONSE_MODE: &str = "lambda-runtime-function-response-mode";
/// ledge's own bootstraps send this on a result or error post when a `GET /next` follows
/// it on the same connection (HTTP/1.1 pipelining). See `api::hold_for_next`.
pub(crate) const HDR_NEXT_PIPELINED: &str = "ledge-next-pipelined";

/// Largest response or error body a runtime may post: 6 MiB + 100 bytes.
pub const MAX_RESPONSE_BYTES: usize = 6 * 1024 * 1024 + 100;
/// Largest synchronous request payload Lambda accepts (strictly below).
pub const MAX_SYNC_PAYLOAD_BYTES: usize = 6 * 1024 * 1024;
pub use ledge_model::LOG_TAIL_BYTES;
/// The longest an environment may take to initialise before Lambda gives up on it.
pub const INIT_LIMIT: std::time::Duration = std::time::Duration::from_secs(10);

pub(crate) const BODY_ACCEPTED: &str = r#"{"status":"OK"}"#;
pub(crate) const BODY_INVALID_REQUEST_ID: &str =
    r#"{"errorMessage":"Invalid request ID","errorType":"InvalidRequestID"}"#;
pub(crate) const BODY_TOO_LARGE: &str = r#"{"errorMessage":"Exceeded maximum allowed payload size (6291556 bytes).","errorType":"RequestEntityTooLarge"}"#;
pub(crate) const BODY_INTERNAL: &str =
    r#"{"errorMessage":"Internal Server Error","errorType":"InternalServerError"}"#;
pub(crate) const BODY_BAD_RESPONSE_MODE: &str = r#"{"errorMessage":"Invalid function response mode","errorType":"InvalidFunctionResponseMode"}"#;

/// The 403 body for a call made in the wrong state, worded as rapid words it.
pub(crate) fn invalid_state_transition(from: &str, to: &str) -> String {
    let message = format!(
        "State transition from {from} to {to} failed for runtime. Error: State transition is not allowed"
    );
    serde_json::json!({"errorMessage": message, "errorType": "InvalidStateTransition"}).to_string()
}
