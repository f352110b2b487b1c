//! Distributions as CloudFront's API models them (`DistributionConfig`, `CacheBehavior`,
//! `CachePolicyConfig`, `OriginRequestPolicyConfig`, `OriginGroups`,
//! `CustomErrorResponses`), validated and with every policy id resolved to its settings.

use std::collections::BTreeMap;
use std::path::PathBuf;

/// One distribution, ready to serve.
#[derive(Clone, Debug, PartialEq)]
pub struct DistributionSpec {
    /// The template's logical id.
    pub logical_id: String,
    /// CloudFront's distribution id (`E…`); the same value `!GetAtt X.Id` gives.
    pub id: String,
    /// `d….cloudfront.net`; the same value `!GetAtt X.DomainName` gives.
    pub domain_name: String,
    pub enabled: bool,
    pub origins: Vec<OriginSpec>,
    pub origin_groups: Vec<OriginGroupSpec>,
    /// `DefaultCacheBehavior`, path pattern `*`, evaluated last.
    pub default_behavior: BehaviorSpec,
    /// `CacheBehaviors`, in order: the first whose pattern matches wins.
    pub behaviors: Vec<BehaviorSpec>,
    pub custom_error_responses: Vec<CustomErrorResponse>,
    /// `DefaultRootObject`, without a leading `/`.
    pub default_root_object: Option<String>,
}

impl DistributionSpec {
    /// The behavior for a request path: ordered first match, else the default.
    pub fn behavior_for(&self, path: &str) -> &BehaviorSpec {
        self.behaviors
            .iter()
            .find(|b| crate::glob::matches(&b.path_pattern, path))
            .unwrap_or(&self.default_behavior)
    }

    /// An origin by `Id`.
    pub fn origin(&self, id: &str) -> Option<&OriginSpec> {
        self.origins.iter().find(|o| o.id == id)
    }

    /// An origin group by `Id`.
    pub fn origin_group(&self, id: &str) -> Option<&OriginGroupSpec> {
        self.origin_groups.iter().find(|g| g.id == id)
    }
}

/// One entry of `Origins`.
#[derive(Clone, Debug, PartialEq)]
pub struct OriginSpec {
    pub id: String,
    /// `DomainName` as written (after intrinsics).
    pub domain_name: String,
    pub kind: OriginKind,
    /// `OriginPath`, prepended to the request path (no trailing `/`).
    pub origin_path: String,
    /// `OriginCustomHeaders`, added to every origin request.
    pub custom_headers: Vec<(String, String)>,
    /// `OriginShield.OriginShieldRegion` when `OriginShield.Enabled`.
    pub shield_region: Option<String>,
    /// `ConnectionTimeout` (s, default 10).
    pub connection_timeout_s: u64,
    /// `CustomOriginConfig.OriginReadTimeout` (s, default 30).
    pub read_timeout_s: u64,
}

/// Where an origin's bytes come from.
#[derive(Clone, Debug, PartialEq)]
pub enum OriginKind {
    /// An HTTP server: `base_url` is scheme://host[:port] (no path); an API of the same
    /// template resolves to its local listener.
    Http { base_url: String },
    /// An S3 bucket served from a local directory.
    S3 { bucket: String, dir: PathBuf },
}

/// One entry of `OriginGroups`: a primary and a secondary origin.
#[derive(Clone, Debug, PartialEq)]
pub struct OriginGroupSpec {
    pub id: String,
    pub primary: String,
    pub secondary: String,
    /// `FailoverCriteria.StatusCodes`.
    pub failover_status_codes: Vec<u16>,
}

/// `ViewerProtocolPolicy`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ViewerProtocolPolicy {
    AllowAll,
    RedirectToHttps,
    HttpsOnly,
}

impl ViewerProtocolPolicy {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::AllowAll => "allow-all",
            Self::RedirectToHttps => "redirect-to-https",
            Self::HttpsOnly => "https-only",
        }
    }
}

/// One cache behavior (default or ordered).
#[derive(Clone, Debug, PartialEq)]
pub struct BehaviorSpec {
    /// `PathPattern` (`*` for the default behavior).
    pub path_pattern: String,
    /// An origin id or an origin group id.
    pub target_origin_id: String,
    pub viewer_protocol_policy: ViewerProtocolPolicy,
    /// Upper-case method names: one of CloudFront's three fixed sets.
    pub allowed_methods: Vec<String>,
    /// `GET`, `HEAD` and maybe `OPTIONS`.
    pub cached_methods: Vec<String>,
    pub compress: bool,
    /// The cache policy (managed, custom, or synthesised from legacy `ForwardedValues`).
    pub cache_policy: CachePolicy,
    /// Legacy `ForwardedValues` forward headers that are not in the key when `Headers: ['*']`
    /// (forward all = no caching); this holds what legacy settings forward beyond the key.
    pub origin_request_policy: Option<OriginRequestPolicy>,
    pub response_headers_policy: Option<ResponseHeadersPolicy>,
    /// `LambdaFunctionAssociations`, resolved to function versions (see [`crate::lambda_edge`]).
    pub lambda_associations: Vec<LambdaAssociation>,
}

/// A Lambda@Edge association.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LambdaAssociation {
    pub event_type: TriggerPoint,
    /// `LambdaFunctionARN` as written (after intrinsics).
    pub function_arn: String,
    pub include_body: bool,
    /// The function's name, resolved at deploy (empty until then).
    pub function_name: String,
    /// The numbered version the ARN names (empty until resolved).
    pub version: String,
    /// The function's `Timeout`, seconds (0 until resolved).
    pub timeout_s: u32,
}

impl BehaviorSpec {
    /// The association for one trigger point, if any.
    pub fn association(&self, at: TriggerPoint) -> Option<&LambdaAssociation> {
        self.lambda_associations.iter().find(|a| a.event_type == at)
    }

    /// Whether a response to `method` may be stored: a cached method under a policy that
    /// caches.
    pub(crate) fn caches(&self, method: &str) -> bool {
        self.cached_methods.iter().any(|m| m == method) && !self.cache_policy.caching_disabled()
    }

    /// Whether the cache key carries the normalized `Accept-Encoding`: compression is on or
    /// the cache policy asks for it.
    pub(crate) fn key_has_encoding(&self) -> bool {
        self.compress || self.cache_policy.normalizes_accept_encoding()
    }
}

/// Where in the request flow an edge function runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TriggerPoint {
    ViewerRequest,
    OriginRequest,
    OriginResponse,
    ViewerResponse,
}

impl TriggerPoint {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::ViewerRequest => "viewer-request",
            Self::OriginRequest => "origin-request",
            Self::OriginResponse => "origin-response",
            Self::ViewerResponse => "viewer-response",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "viewer-request" => Self::ViewerRequest,
            "origin-request" => Self::OriginRequest,
            "origin-response" => Self::OriginResponse,
            "viewer-response" => Self::ViewerResponse,
            _ => return None,
        })
    }
}

/// Which values of one kind (query strings, cookies) a policy selects.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Selection {
    None,
    All,
    /// `whitelist`: only these names (case-sensitive).
    Only(Vec<String>),
    /// `allExcept`: all but these names.
    AllExcept(Vec<String>),
}

impl Selection {
    /// Whether a query-string or cookie name is selected.
    pub fn selects(&self, name: &str) -> bool {
        match self {
            Self::None => false,
            Self::All => true,
            Self::Only(names) => names.iter().any(|n| n == name),
            Self::AllExcept(names) => !names.iter().any(|n| n == name),
        }
    }

    pub fn is_none(&self) -> bool {
        matches!(self, Self::None)
    }
}

/// A cache policy (`CachePolicyConfig`): TTLs and what goes into the cache key.
#[derive(Clone, Debug, PartialEq)]
pub struct CachePolicy {
    pub id: String,
    pub name: String,
    pub min_ttl: u64,
    pub default_ttl: u64,
    pub max_ttl: u64,
    /// Header names in the key (lower-case): names are case-insensitive, values are not.
    pub headers: Vec<String>,
    pub cookies: Selection,
    pub query_strings: Selection,
    pub accept_encoding_gzip: bool,
    pub accept_encoding_brotli: bool,
    /// Legacy settings that forward all headers: nothing is cached.
    pub forward_all_headers: bool,
}

impl CachePolicy {
    /// `CachingDisabled`, and any policy with all TTLs 0 from the legacy "forward all
    /// headers": no caching, no collapsing, no error caching.
    pub fn caching_disabled(&self) -> bool {
        self.id == crate::policies::CACHING_DISABLED_ID
            || self.forward_all_headers
            || (self.max_ttl == 0
                && self.default_ttl == 0
                && self.min_ttl == 0
                && self.is_managed())
    }

    fn is_managed(&self) -> bool {
        crate::policies::managed_cache_policy(&self.id).is_some()
    }

    /// Whether the policy puts the normalised `Accept-Encoding` in the key.
    pub fn normalizes_accept_encoding(&self) -> bool {
        self.accept_encoding_gzip || self.accept_encoding_brotli
    }
}

/// Which headers an origin request policy forwards.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HeaderSelection {
    None,
    /// `whitelist` (lower-case names; may include `CloudFront-*` headers).
    Only(Vec<String>),
    /// `allViewer`.
    AllViewer,
    /// `allViewerAndWhitelistCloudFront`: every viewer header plus these CloudFront ones.
    AllViewerAnd(Vec<String>),
    /// `allExcept`.
    AllExcept(Vec<String>),
}

/// An origin request policy: what reaches the origin without being in the key.
#[derive(Clone, Debug, PartialEq)]
pub struct OriginRequestPolicy {
    pub id: String,
    pub name: String,
    pub headers: HeaderSelection,
    pub cookies: Selection,
    pub query_strings: Selection,
}

/// The basics of a response headers policy: headers added (or overriding) toward viewers,
/// headers removed, and `Server-Timing`.
#[derive(Clone, Debug, PartialEq)]
pub struct ResponseHeadersPolicy {
    pub id: String,
    pub name: String,
    /// (name, value, override)
    pub add: Vec<(String, String, bool)>,
    pub remove: Vec<String>,
    pub server_timing: bool,
}

/// One `CustomErrorResponses` entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CustomErrorResponse {
    pub error_code: u16,
    /// `ResponsePagePath` (starts with `/`).
    pub response_page_path: Option<String>,
    /// `ResponseCode` returned to the viewer (defaults to `error_code` when a page is set).
    pub response_code: Option<u16>,
    /// `ErrorCachingMinTTL` (s, default 10).
    pub error_caching_min_ttl: u64,
}

/// A distribution's public facts, for the ready file and `ledge edge`.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct DistributionInfo {
    pub id: String,
    pub logical_id: String,
    pub domain_name: String,
    /// The main listener (POP chosen per viewer).
    pub url: String,
    /// `(POP code, URL)` per edge location listener.
    pub pops: Vec<(String, String)>,
}

/// Custom policies defined in the template, by logical id and by their would-be ids.
#[derive(Clone, Debug, Default)]
pub(crate) struct PolicyBook {
    pub(crate) cache: BTreeMap<String, CachePolicy>,
    pub(crate) origin_request: BTreeMap<String, OriginRequestPolicy>,
    pub(crate) response_headers: BTreeMap<String, ResponseHeadersPolicy>,
}
