//! Protocol strings of API Gateway REST APIs: header names, error bodies and their
//! `x-amzn-ErrorType`, limits. Every byte a client can observe that is not computed lives
//! here (reference §3.7, §4.8).

/// The request id on every REST response (a UUID).
pub const X_AMZN_REQUEST_ID: &str = "x-amzn-requestid";
/// `extendedRequestId` on every REST response (`Mc7UVioPPHcEKPA=`).
pub const X_AMZ_APIGW_ID: &str = "x-amz-apigw-id";
/// The error type on gateway-generated errors.
pub const X_AMZN_ERROR_TYPE: &str = "x-amzn-errortype";
pub const X_AMZN_TRACE_ID: &str = "x-amzn-trace-id";
/// Where clients present API keys (`apiKeySource: HEADER`).
pub const X_API_KEY: &str = "x-api-key";
pub const CACHE_CONTROL: &str = "cache-control";
/// The warning added by `SUCCEED_WITH_RESPONSE_HEADER` when a client that may not
/// invalidate the cache sends `Cache-Control: max-age=0`. AWS documents that "a warning
/// header" is added but not its name or text (open question 1 of the reference): this is
/// the HTTP `Warning` header with code 199 (miscellaneous warning).
pub const WARNING: &str = "warning";
pub const UNAUTHORIZED_INVALIDATION_WARNING: &str =
    "199 execute-api \"Unauthorized cache invalidation request ignored: the request is not authorized for execute-api:InvalidateCache\"";

pub const JSON: &str = "application/json";

/// The stage a SAM implicit API is deployed to.
pub const IMPLICIT_STAGE: &str = "Prod";
/// SAM's name for the API its `Api` events create when they name none.
pub const IMPLICIT_API: &str = "ServerlessRestApi";
/// `ANY` matches every method a resource does not define.
pub const ANY: &str = "ANY";
/// The wildcard of method settings keys (`*/*`).
pub const WILDCARD: &str = "*";

/// A gateway-generated error: status, body, and its `x-amzn-ErrorType`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GatewayResponse {
    pub status: u16,
    pub body: &'static str,
    /// `$context.error.responseType`.
    pub response_type: &'static str,
    pub error_type: Option<&'static str>,
}

/// The default gateway responses, byte for byte. Note the two body spellings AWS uses:
/// `{"message":"…"}` from the default template and `{"message": "…"}` (with a space) for
/// integration failures.
pub mod errors {
    use super::GatewayResponse;

    /// Unknown stage, resource or method: 403, not 404.
    pub const MISSING_AUTHENTICATION_TOKEN: GatewayResponse = GatewayResponse {
        status: 403,
        body: r#"{"message":"Missing Authentication Token"}"#,
        response_type: "MISSING_AUTHENTICATION_TOKEN",
        error_type: Some("MissingAuthenticationTokenException"),
    };
    /// A function error or a malformed proxy response.
    pub const INTERNAL_SERVER_ERROR: GatewayResponse = GatewayResponse {
        status: 502,
        body: r#"{"message": "Internal server error"}"#,
        response_type: "DEFAULT_5XX",
        error_type: Some("InternalServerErrorException"),
    };
    /// No integration response matched, an unreachable function, a bad integration URI.
    pub const API_CONFIGURATION_ERROR: GatewayResponse = GatewayResponse {
        status: 500,
        body: r#"{"message": "Internal server error"}"#,
        response_type: "API_CONFIGURATION_ERROR",
        error_type: Some("InternalServerErrorException"),
    };
    /// The integration ran past its timeout (29 s by default).
    pub const INTEGRATION_TIMEOUT: GatewayResponse = GatewayResponse {
        status: 504,
        body: r#"{"message": "Endpoint request timed out"}"#,
        response_type: "INTEGRATION_TIMEOUT",
        error_type: None,
    };
    /// An HTTP integration could not be reached.
    pub const INTEGRATION_FAILURE: GatewayResponse = GatewayResponse {
        status: 504,
        body: r#"{"message": "Network error communicating with endpoint"}"#,
        response_type: "INTEGRATION_FAILURE",
        error_type: None,
    };
    pub const THROTTLED: GatewayResponse = GatewayResponse {
        status: 429,
        body: r#"{"message":"Too Many Requests"}"#,
        response_type: "THROTTLED",
        error_type: Some("TooManyRequestsException"),
    };
    /// A usage plan's quota is used up.
    pub const QUOTA_EXCEEDED: GatewayResponse = GatewayResponse {
        status: 429,
        body: r#"{"message":"Limit Exceeded"}"#,
        response_type: "QUOTA_EXCEEDED",
        error_type: Some("LimitExceededException"),
    };
    /// A missing or unknown API key.
    pub const INVALID_API_KEY: GatewayResponse = GatewayResponse {
        status: 403,
        body: r#"{"message":"Forbidden"}"#,
        response_type: "INVALID_API_KEY",
        error_type: Some("ForbiddenException"),
    };
    /// A Lambda authorizer's identity source is missing, or it answered `Unauthorized`.
    pub const UNAUTHORIZED: GatewayResponse = GatewayResponse {
        status: 401,
        body: r#"{"message":"Unauthorized"}"#,
        response_type: "UNAUTHORIZED",
        error_type: Some("UnauthorizedException"),
    };
    /// A Lambda authorizer's policy denies the method explicitly (capital `M`).
    pub const EXPLICIT_DENY: GatewayResponse = GatewayResponse {
        status: 403,
        body: r#"{"Message":"User is not authorized to access this resource with an explicit deny"}"#,
        response_type: "ACCESS_DENIED",
        error_type: Some("AccessDeniedException"),
    };
    /// A Lambda authorizer's policy does not allow the method.
    pub const NOT_ALLOWED: GatewayResponse = GatewayResponse {
        status: 403,
        body: r#"{"Message":"User is not authorized to access this resource"}"#,
        response_type: "ACCESS_DENIED",
        error_type: Some("AccessDeniedException"),
    };
    /// A Lambda authorizer failed or answered something that is not a policy.
    pub const AUTHORIZER_FAILURE: GatewayResponse = GatewayResponse {
        status: 500,
        body: r#"{"message": null}"#,
        response_type: "AUTHORIZER_CONFIGURATION_ERROR",
        error_type: Some("AuthorizerConfigurationException"),
    };
    /// `FAIL_WITH_403`: `Cache-Control: max-age=0` from a client that may not invalidate
    /// the cache. AWS documents "a 403 Unauthorized response" without the body; this is
    /// the IAM refusal API Gateway sends for other `execute-api` actions (inference).
    pub const CACHE_INVALIDATION_DENIED: GatewayResponse = GatewayResponse {
        status: 403,
        body: r#"{"message":"User is not authorized to perform: execute-api:InvalidateCache"}"#,
        response_type: "ACCESS_DENIED",
        error_type: Some("AccessDeniedException"),
    };
    /// No request template matches the Content-Type and the passthrough behaviour forbids
    /// passing the body through (reference §3.3).
    pub const UNSUPPORTED_MEDIA_TYPE: GatewayResponse = GatewayResponse {
        status: 415,
        body: r#"{"message":"Unsupported Media Type"}"#,
        response_type: "UNSUPPORTED_MEDIA_TYPE",
        error_type: Some("UnsupportedMediaTypeException"),
    };
    /// A request template read a body that is not JSON (`$input.json`, `$input.path`).
    /// AWS appends the JSON parser's message; this body stops before it.
    pub const BAD_REQUEST_BODY: GatewayResponse = GatewayResponse {
        status: 400,
        body: r#"{"message": "Could not parse request body into json"}"#,
        response_type: "BAD_REQUEST_BODY",
        error_type: Some("BadRequestException"),
    };
    /// Over 10 MB.
    pub const REQUEST_TOO_LARGE: GatewayResponse = GatewayResponse {
        status: 413,
        body: r#"{"message":"Request Too Long"}"#,
        response_type: "REQUEST_TOO_LARGE",
        error_type: None,
    };
}

/// Limits of REST APIs (reference §1, §3.1, §4.8).
pub mod limits {
    use std::time::Duration;
    /// Request payload, bytes.
    pub const MAX_PAYLOAD: usize = 10 * 1024 * 1024;
    /// The integration timeout default and cap (50 ms to 29 s).
    pub const MAX_INTEGRATION_TIMEOUT: Duration = Duration::from_secs(29);
    pub const MIN_INTEGRATION_TIMEOUT_MS: u64 = 50;
    /// Lambda authorizers get this long.
    pub const AUTHORIZER_TIMEOUT: Duration = Duration::from_secs(10);
    /// Stage cache TTL default, and its ceiling (which cannot be raised).
    pub const DEFAULT_CACHE_TTL_SECS: u64 = 300;
    pub const MAX_CACHE_TTL_SECS: u64 = 3600;
    /// Lambda authorizer result TTL default (SAM `ReauthorizeEvery`) and ceiling.
    pub const DEFAULT_AUTHORIZER_TTL_SECS: u64 = 300;
    pub const MAX_AUTHORIZER_TTL_SECS: u64 = 3600;
}
