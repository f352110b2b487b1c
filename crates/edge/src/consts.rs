//! CloudFront's protocol strings, in one place.

pub(crate) const X_CACHE: &str = "x-cache";
pub(crate) const X_AMZ_CF_POP: &str = "x-amz-cf-pop";
pub(crate) const X_AMZ_CF_ID: &str = "x-amz-cf-id";
pub(crate) const SERVER_TIMING: &str = "server-timing";
/// ledge's own: where the viewer is (`FRA`, `Paris`-less IATA codes, or `lat,lon`).
pub(crate) const X_LEDGE_VIEWER: &str = "x-ledge-viewer";
/// ledge's own: the scheme the viewer used (`http` tests the viewer protocol policy; local
/// listeners stand for CloudFront's HTTPS endpoint otherwise).
pub(crate) const X_LEDGE_VIEWER_PROTO: &str = "x-ledge-viewer-proto";
pub(crate) const SERVER_CLOUDFRONT: &str = "CloudFront";
pub(crate) const USER_AGENT_CLOUDFRONT: &str = "Amazon CloudFront";

/// `X-Cache` values and log result types.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CacheStatus {
    Hit,
    Miss,
    RefreshHit,
    Error,
    Redirect,
    LambdaGeneratedResponse,
}

impl CacheStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Hit => "Hit from cloudfront",
            Self::Miss => "Miss from cloudfront",
            Self::RefreshHit => "RefreshHit from cloudfront",
            Self::Error => "Error from cloudfront",
            Self::Redirect => "Redirect from cloudfront",
            Self::LambdaGeneratedResponse => "LambdaGeneratedResponse from cloudfront",
        }
    }

    /// `Server-Timing`'s cache metric.
    pub(crate) fn timing_metric(self) -> &'static str {
        match self {
            Self::Hit => "cdn-cache-hit",
            Self::RefreshHit => "cdn-cache-refresh",
            _ => "cdn-cache-miss",
        }
    }
}

/// Which tier answered (`Server-Timing: cdn-hit-layer`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Layer {
    Edge,
    Regional,
    Shield,
    Origin,
}

impl Layer {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::Edge => "EDGE",
            Self::Regional => "REC",
            Self::Shield => "Origin Shield",
            Self::Origin => "Origin",
        }
    }
}

/// Viewer headers CloudFront removes before the origin unless a policy selects them (§1.13).
pub(crate) const REMOVED_TOWARD_ORIGIN: &[&str] = &[
    "accept",
    "accept-charset",
    "accept-language",
    "expect",
    "proxy-authenticate",
    "proxy-authorization",
    "proxy-connection",
    "referer",
    "te",
    "trailer",
    "upgrade",
    "x-forwarded-proto",
    "x-http-method-override",
    "x-real-ip",
    "cookie",
    "connection",
    "keep-alive",
    "host",
    "user-agent",
    "accept-encoding",
    "x-ledge-viewer",
    "x-ledge-viewer-proto",
];

/// Viewer headers always forwarded (§1.13 "Forwarded").
pub(crate) const ALWAYS_FORWARDED: &[&str] = &[
    "cache-control",
    "content-length",
    "content-md5",
    "content-type",
    "date",
    "from",
    "if-match",
    "if-modified-since",
    "if-none-match",
    "if-range",
    "if-unmodified-since",
    "max-forwards",
    "origin",
    "pragma",
    "range",
    "request-range",
    "warning",
];

/// Headers a custom origin header may not set (§1.13).
pub(crate) const FORBIDDEN_CUSTOM_ORIGIN_HEADERS: &[&str] = &[
    "cache-control",
    "connection",
    "content-length",
    "cookie",
    "host",
    "if-match",
    "if-modified-since",
    "if-none-match",
    "if-range",
    "if-unmodified-since",
    "max-forwards",
    "pragma",
    "proxy-authorization",
    "proxy-connection",
    "range",
    "request-range",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "via",
    "x-real-ip",
];

/// Hop-by-hop response headers never stored or relayed.
pub(crate) const HOP_BY_HOP: &[&str] = &[
    "connection",
    "keep-alive",
    "transfer-encoding",
    "trailer",
    "upgrade",
    "proxy-authenticate",
];

/// Content types CloudFront compresses (the guide's list, by prefix / exact match).
pub(crate) const COMPRESSIBLE: &[&str] = &[
    "application/dash+xml",
    "application/eot",
    "application/font",
    "application/font-sfnt",
    "application/javascript",
    "application/json",
    "application/opentype",
    "application/otf",
    "application/pdf",
    "application/pkcs7-mime",
    "application/protobuf",
    "application/rss+xml",
    "application/truetype",
    "application/ttf",
    "application/vnd.apple.mpegurl",
    "application/vnd.mapbox-vector-tile",
    "application/vnd.ms-fontobject",
    "application/wasm",
    "application/xhtml+xml",
    "application/xml",
    "application/x-font-opentype",
    "application/x-font-truetype",
    "application/x-font-ttf",
    "application/x-httpd-cgi",
    "application/x-javascript",
    "application/x-mpegurl",
    "application/x-opentype",
    "application/x-otf",
    "application/x-perl",
    "application/x-ttf",
    "font/eot",
    "font/opentype",
    "font/otf",
    "font/ttf",
    "image/svg+xml",
    "text/css",
    "text/csv",
    "text/html",
    "text/javascript",
    "text/js",
    "text/plain",
    "text/richtext",
    "text/tab-separated-values",
    "text/xml",
    "text/x-component",
    "text/x-java-source",
    "text/x-script",
    "vnd.apple.mpegurl",
];
