//! Lambda@Edge's protocol strings and restriction lists, as data (reference §4.5, §4.6).

use crate::spec::TriggerPoint;

/// Headers a function never sees and may not add (§4.5 "Disallowed"); `*` families are
/// the prefixes below.
pub(crate) const DISALLOWED: &[&str] = &[
    "connection",
    "expect",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "proxy-connection",
    "trailer",
    "upgrade",
    "x-accel-buffering",
    "x-accel-charset",
    "x-accel-limit-rate",
    "x-accel-redirect",
    "x-amzn-auth",
    "x-amzn-cf-billing",
    "x-amzn-cf-id",
    "x-amzn-cf-xff",
    "x-amzn-errortype",
    "x-amzn-fle-profile",
    "x-amzn-header-count",
    "x-amzn-header-order",
    "x-amzn-lambda-integration-tag",
    "x-amzn-requestid",
    "x-cache",
    "x-forwarded-proto",
    "x-real-ip",
];

/// Disallowed families: `X-Amz-Cf-*`, `X-Edge-*`.
pub(crate) const DISALLOWED_PREFIXES: &[&str] = &["x-amz-cf-", "x-edge-"];

/// ledge's own request headers (`x-ledge-viewer`, …): never shown to functions, kept.
pub(crate) const LEDGE_PREFIX: &str = "x-ledge-";

/// Headers a function of this trigger may read but not add, remove or change.
pub(crate) fn read_only(at: TriggerPoint) -> &'static [&'static str] {
    match at {
        TriggerPoint::ViewerRequest => &["content-length", "host", "transfer-encoding", "via"],
        TriggerPoint::OriginRequest => &[
            "accept-encoding",
            "content-length",
            "if-modified-since",
            "if-none-match",
            "if-range",
            "if-unmodified-since",
            "transfer-encoding",
            "via",
        ],
        TriggerPoint::OriginResponse => &["transfer-encoding", "via"],
        TriggerPoint::ViewerResponse => &["warning", "via"],
    }
}

/// Whether a header (lower-case) is on the disallowed list.
pub(crate) fn disallowed(name: &str) -> bool {
    DISALLOWED.contains(&name) || DISALLOWED_PREFIXES.iter().any(|p| name.starts_with(p))
}

/// Headers CloudFront adds after the viewer-request event: a viewer-request function may
/// not add them (§2.2).
pub(crate) fn added_after_viewer_request(name: &str) -> bool {
    name.starts_with("cloudfront-viewer-")
        || name.starts_with("cloudfront-is-")
        || name == "cloudfront-forwarded-proto"
}

/// `InvalidLambdaFunctionAssociation`: CloudFront's error code for a refused association.
pub(crate) const INVALID_ASSOCIATION: &str = "InvalidLambdaFunctionAssociation";

/// Error page reasons. The first words of the 502 ones are what CloudFront shows ("The
/// Lambda function result failed validation: …", "The Lambda function returned invalid
/// JSON: …"); the details after the colon are ledge's where CloudFront's wording is not
/// recorded.
pub(crate) const REASON_INVALID_JSON: &str =
    "The Lambda function returned invalid JSON: The JSON output is not parsable.";
pub(crate) const REASON_VALIDATION: &str = "The Lambda function result failed validation";
pub(crate) const REASON_HEADERS_ARRAY: &str = "The Lambda function returned an invalid entry in the headers object: Each header entry in the headers object must be an array.";
pub(crate) const REASON_EXECUTION: &str =
    "The Lambda function associated with the CloudFront distribution returned an execution error.";
pub(crate) const REASON_THROTTLED: &str =
    "The Lambda function associated with the CloudFront distribution was throttled.";
pub(crate) const REASON_TIMEOUT: &str =
    "The Lambda function associated with the CloudFront distribution timed out.";
pub(crate) const REASON_INVALID_FUNCTION: &str = "The Lambda function associated with the CloudFront distribution is invalid or doesn't have the required permissions.";
/// Appended to every Lambda error page, as CloudFront does.
pub(crate) const REASON_TAIL: &str = "We can't connect to the server for this app or website at this time. There might be too much traffic or a configuration error. Try again later, or contact the app or website owner.";
