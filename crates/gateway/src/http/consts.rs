//! Protocol strings of API Gateway HTTP APIs: header names, error bodies, event values.
//! Every byte a client or a function can observe that is not computed lives here.

/// The request id header on every HTTP API response (`Mc7UVioPPHcEKPA=`).
pub const APIGW_REQUEST_ID: &str = "apigw-requestid";
/// `WWW-Authenticate`, lower-case as HTTP APIs send it.
pub const WWW_AUTHENTICATE: &str = "www-authenticate";
pub const CONTENT_TYPE: &str = "content-type";
pub const SET_COOKIE: &str = "set-cookie";
pub const COOKIE: &str = "cookie";
pub const HOST: &str = "host";
pub const USER_AGENT: &str = "user-agent";
pub const ORIGIN: &str = "origin";
pub const X_FORWARDED_FOR: &str = "x-forwarded-for";
pub const X_FORWARDED_PORT: &str = "x-forwarded-port";
pub const X_FORWARDED_PROTO: &str = "x-forwarded-proto";
pub const X_AMZN_TRACE_ID: &str = "x-amzn-trace-id";

pub const ACCESS_CONTROL_REQUEST_METHOD: &str = "access-control-request-method";
pub const ACCESS_CONTROL_REQUEST_HEADERS: &str = "access-control-request-headers";
pub const ACCESS_CONTROL_ALLOW_ORIGIN: &str = "access-control-allow-origin";
pub const ACCESS_CONTROL_ALLOW_METHODS: &str = "access-control-allow-methods";
pub const ACCESS_CONTROL_ALLOW_HEADERS: &str = "access-control-allow-headers";
pub const ACCESS_CONTROL_ALLOW_CREDENTIALS: &str = "access-control-allow-credentials";
pub const ACCESS_CONTROL_EXPOSE_HEADERS: &str = "access-control-expose-headers";
pub const ACCESS_CONTROL_MAX_AGE: &str = "access-control-max-age";
pub const VARY: &str = "vary";

pub const JSON: &str = "application/json";

/// The stage served at the API's root.
pub const DEFAULT_STAGE: &str = "$default";
/// The route that catches what no other route matches.
pub const DEFAULT_ROUTE: &str = "$default";
/// The method that matches every method a resource does not define.
pub const ANY: &str = "ANY";

/// Error bodies exactly as HTTP APIs send them (reference §4.8). Note `Server Error`
/// with a capital S: REST APIs say `Internal server error`.
pub mod body {
    pub const NOT_FOUND: &str = r#"{"message":"Not Found"}"#;
    pub const INTERNAL_SERVER_ERROR: &str = r#"{"message":"Internal Server Error"}"#;
    pub const SERVICE_UNAVAILABLE: &str = r#"{"message":"Service Unavailable"}"#;
    pub const TOO_MANY_REQUESTS: &str = r#"{"message":"Too Many Requests"}"#;
    pub const UNAUTHORIZED: &str = r#"{"message":"Unauthorized"}"#;
    pub const FORBIDDEN: &str = r#"{"message":"Forbidden"}"#;
    /// The front end's answer to a body over 10 MB: plain text, not JSON (recorded from
    /// AWS: koki-develop/lgtm-generator#10).
    pub const PAYLOAD_TOO_LARGE: &str = "HTTP content length exceeded 10485760 bytes.";
    pub const PAYLOAD_TOO_LARGE_TYPE: &str = "text; charset=utf-8";
}

/// Limits of HTTP APIs (reference §4.8).
pub mod limits {
    use std::time::Duration;
    /// Request payload, bytes.
    pub const MAX_PAYLOAD: usize = 10 * 1024 * 1024;
    /// The integration timeout cap (and default).
    pub const MAX_INTEGRATION_TIMEOUT: Duration = Duration::from_secs(30);
    /// Lambda authorizers get this long.
    pub const AUTHORIZER_TIMEOUT: Duration = Duration::from_secs(10);
    /// Each OIDC discovery and JWKS fetch.
    pub const JWKS_FETCH_TIMEOUT: Duration = Duration::from_millis(1500);
    /// Largest JWKS document accepted.
    pub const MAX_JWKS_BYTES: usize = 150_000;
    /// How long fetched keys are trusted ("up to 1 hour, best effort").
    pub const JWKS_TTL: Duration = Duration::from_secs(3600);
    /// Body bytes parameter mapping may look at.
    pub const MAPPING_BODY_BYTES: usize = 100 * 1024;
}

/// Content types whose bodies reach a 2.0 event as text; everything else is base64
/// (checked against AWS by ministack PR 766).
pub const TEXT_CONTENT_TYPES: &[&str] = &[
    "application/json",
    "application/xml",
    "application/javascript",
];
