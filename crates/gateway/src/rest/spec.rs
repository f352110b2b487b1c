//! What a REST API is, as data: the result of reading a template (SAM or the low-level
//! `AWS::ApiGateway::*` resources, with OpenAPI definitions). A deployment compiles one.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use ledge_cache::ClusterSize;
use serde::Serialize;

use super::consts::{limits, WILDCARD};
use crate::http::AccessLogSettings;

/// One REST API: its resources and methods, stages, authorizers, API keys and usage plans.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RestApiSpec {
    /// The template's logical id (`ServerlessRestApi` for SAM's implicit API).
    pub logical_id: String,
    /// `requestContext.apiId` and the `restapi_id` of management calls: the logical id, as
    /// `!Ref` resolves it.
    pub api_id: String,
    pub name: String,
    /// Resources by path (`/`, `/pets`, `/pets/{id}`, `/{proxy+}`), each with its id.
    pub resources: Vec<ResourceSpec>,
    pub methods: Vec<MethodSpec>,
    pub stages: Vec<RestStageSpec>,
    /// By name (SAM) or logical id (`AWS::ApiGateway::Authorizer`).
    pub authorizers: BTreeMap<String, RestAuthorizerSpec>,
    /// `binaryMediaTypes` (`image/png`, `image/*`, `*/*`), `~1` already unescaped.
    pub binary_media_types: Vec<String>,
    pub api_key_source: ApiKeySource,
    pub usage_plans: Vec<UsagePlanSpec>,
    /// `x-amazon-apigateway-gateway-responses` / `AWS::ApiGateway::GatewayResponse`:
    /// customised gateway responses, by response type (`DEFAULT_4XX`, `THROTTLED`, …).
    pub gateway_responses: Vec<GatewayResponseSpec>,
}

impl RestApiSpec {
    /// An API with no resources, methods or stages yet.
    pub fn new(id: impl Into<String>) -> Self {
        let id = id.into();
        Self {
            logical_id: id.clone(),
            api_id: id.clone(),
            name: id,
            resources: Vec::new(),
            methods: Vec::new(),
            stages: Vec::new(),
            authorizers: BTreeMap::new(),
            binary_media_types: Vec::new(),
            api_key_source: ApiKeySource::Header,
            usage_plans: Vec::new(),
            gateway_responses: Vec::new(),
        }
    }

    /// Adds a resource, with a stable id, for every method path and each of its ancestors
    /// (and `/`) that the list lacks, then sorts the list by path. Trailing slashes of
    /// method paths are dropped.
    pub fn derive_resources(&mut self) {
        let mut known: BTreeSet<String> = self.resources.iter().map(|r| r.path.clone()).collect();
        let mut wanted: BTreeSet<String> = BTreeSet::new();
        wanted.insert("/".into());
        for m in &mut self.methods {
            if m.resource_path.len() > 1 && m.resource_path.ends_with('/') {
                m.resource_path.pop();
            }
            let mut p = m.resource_path.clone();
            loop {
                wanted.insert(p.clone());
                match p.rfind('/') {
                    Some(0) | None => break,
                    Some(i) => p.truncate(i),
                }
            }
        }
        for p in wanted {
            if known.insert(p.clone()) {
                let len = if p == "/" { 10 } else { 6 };
                self.resources.push(ResourceSpec {
                    id: local_id(&format!("{}{p}", self.api_id), len),
                    path: p,
                });
            }
        }
        self.resources.sort_by(|a, b| a.path.cmp(&b.path));
    }
}

/// A stable id of `len` characters in `[a-z0-9]`, like API Gateway's resource ids.
pub(crate) fn local_id(seed: &str, len: usize) -> String {
    const DIGITS: &[u8; 36] = b"0123456789abcdefghijklmnopqrstuvwxyz";
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in seed.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    (0..len)
        .map(|_| {
            let c = DIGITS[(h % 36) as usize] as char;
            h /= 36;
            if h == 0 {
                h = 0x9e37_79b9_7f4a_7c15;
            }
            c
        })
        .collect()
}

/// A resource of the API's tree.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ResourceSpec {
    /// API Gateway's resource id (`requestContext.resourceId`, the default cache namespace).
    pub id: String,
    /// `/pets/{id}`.
    pub path: String,
}

/// A method of a resource.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MethodSpec {
    /// `/pets/{id}`: one of the API's resources.
    pub resource_path: String,
    /// `GET`, …, or `ANY`.
    pub http_method: String,
    pub auth: MethodAuth,
    pub api_key_required: bool,
    /// `method.request.{path|querystring|header}.X` → required.
    pub request_parameters: BTreeMap<String, bool>,
    pub integration: RestIntegration,
    /// `cacheKeyParameters`: `method.request.{path|querystring|header}.X`, in order.
    pub cache_key_parameters: Vec<String>,
    /// `cacheNamespace`; the resource id when absent.
    pub cache_namespace: Option<String>,
}

/// Who may call a method.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum MethodAuth {
    None,
    /// A Lambda (`CUSTOM`) authorizer of the API.
    Authorizer(String),
    /// `AWS_IAM`: not enforced locally (a deploy warning says so).
    Iam,
}

/// Where a method sends its requests.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub enum RestIntegration {
    /// `AWS_PROXY` to a Lambda function (payload format 1.0). `function` is a name, an ARN
    /// or an `arn:aws:apigateway:…:lambda:path/…/functions/ARN/invocations` URI, and may
    /// hold `${stageVariables.x}`.
    Lambda { function: String, timeout: Duration },
    /// `HTTP_PROXY`: the request goes through, the response comes back as it is.
    HttpProxy {
        uri: String,
        /// `integrationHttpMethod`; `ANY` forwards the request's method.
        method: String,
        timeout: Duration,
        /// `integration.request.{path|querystring|header}.X` → its source.
        request_parameters: Vec<(String, String)>,
    },
    /// `MOCK`: a fixed answer (the OPTIONS methods of SAM's `Cors`).
    Mock {
        status: u16,
        headers: Vec<(String, String)>,
        body: String,
    },
    /// A non-proxy integration with mapping templates: `AWS` (an AWS service action, or a
    /// Lambda "custom" integration), `HTTP` or `MOCK` as templates define them.
    Mapped(Box<MappedIntegration>),
}

impl RestIntegration {
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Lambda { .. } => "AWS_PROXY",
            Self::HttpProxy { .. } => "HTTP_PROXY",
            Self::Mock { .. } => "MOCK",
            Self::Mapped(m) => match m.target {
                MappedTarget::AwsService { .. } | MappedTarget::Lambda { .. } => "AWS",
                MappedTarget::Http { .. } => "HTTP",
                MappedTarget::Mock => "MOCK",
            },
        }
    }
}

/// A non-proxy integration (reference §3.1–§3.4): the request is mapped by parameters and a
/// request template chosen by Content-Type, the backend's answer by the integration
/// response that `selectionPattern` picks and its template chosen by Accept.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MappedIntegration {
    pub target: MappedTarget,
    pub timeout: Duration,
    /// `integration.request.{path|querystring|header}.X` → its source.
    pub request_parameters: Vec<(String, String)>,
    /// `requestTemplates`: content type → template, in definition order.
    pub request_templates: Vec<(String, String)>,
    pub passthrough: Passthrough,
    /// `contentHandling` of the request.
    pub content_handling: Option<ContentHandling>,
    pub responses: Vec<IntegrationResponse>,
    /// The method's declared responses (OpenAPI `responses`, CloudFormation
    /// `MethodResponses`); only non-proxy integrations use them. An integration response
    /// may map headers only to declared `method.response.header.X` (else the deployment
    /// fails, as AWS refuses it), and one whose status is not declared answers 500.
    pub method_responses: Vec<MethodResponse>,
}

/// A declared method response.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Default)]
pub struct MethodResponse {
    pub status_code: u16,
    /// The `X` of each declared `method.response.header.X`.
    pub headers: Vec<String>,
}

/// Where a [`MappedIntegration`] sends the request.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub enum MappedTarget {
    /// `AWS` to a service: `arn:aws:apigateway:{region}:{service}:{path|action}/…`, sent
    /// SigV4-signed with the integration HTTP method. `credentials`: a role ARN is assumed
    /// (STS `AssumeRole` with the standard chain's keys) and its temporary keys sign;
    /// `arn:aws:iam::*:user/*` (the caller) or none: the chain's keys sign.
    AwsService {
        uri: String,
        method: String,
        credentials: Option<String>,
    },
    /// `AWS` to Lambda (a "custom" integration): the rendered request is the event; the
    /// function's result, or its error JSON, is the integration response body.
    Lambda { function: String },
    /// `HTTP`: the rendered request to `uri` (placeholders as for `HTTP_PROXY`).
    Http { uri: String, method: String },
    /// `MOCK`: the rendered request template's `{"statusCode": N}` selects the response.
    Mock,
}

/// `passthroughBehavior` (reference §3.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Default)]
pub enum Passthrough {
    /// An unmatched Content-Type passes through untransformed (the default).
    #[default]
    WhenNoMatch,
    /// Passes through only when no template is defined; otherwise 415.
    WhenNoTemplates,
    /// No matching template is 415.
    Never,
}

impl Passthrough {
    pub fn parse(s: &str) -> Option<Self> {
        match s.to_ascii_uppercase().as_str() {
            "WHEN_NO_MATCH" => Some(Self::WhenNoMatch),
            "WHEN_NO_TEMPLATES" => Some(Self::WhenNoTemplates),
            "NEVER" => Some(Self::Never),
            _ => None,
        }
    }
}

/// `contentHandling`: how a payload crosses between text and binary.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum ContentHandling {
    /// Base64-decode the (text) payload into binary.
    ConvertToBinary,
    /// Base64-encode the (binary) payload into text.
    ConvertToText,
}

impl ContentHandling {
    pub fn parse(s: &str) -> Option<Self> {
        match s.to_ascii_uppercase().as_str() {
            "CONVERT_TO_BINARY" => Some(Self::ConvertToBinary),
            "CONVERT_TO_TEXT" => Some(Self::ConvertToText),
            _ => None,
        }
    }
}

/// One integration response of an `HTTP`, `AWS` or `MOCK` integration.
#[derive(Debug, Clone, PartialEq, Serialize, Default)]
pub struct IntegrationResponse {
    /// A Java regex matched against the whole status code (or, for Lambda custom
    /// integrations, the function's `errorMessage`); `None` is the default.
    pub selection_pattern: Option<String>,
    pub status_code: u16,
    /// `method.response.header.X` → `integration.response.header.Y`,
    /// `integration.response.body[.path]`, `stageVariables.V`, `context.V` or `'static'`.
    pub response_parameters: Vec<(String, String)>,
    /// `responseTemplates`: content type → template, in definition order.
    pub response_templates: Vec<(String, String)>,
    pub content_handling: Option<ContentHandling>,
}

/// A customised gateway response (reference §3.7).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GatewayResponseSpec {
    /// `DEFAULT_4XX`, `DEFAULT_5XX`, `MISSING_AUTHENTICATION_TOKEN`, …
    pub response_type: String,
    /// Replaces the default status when set.
    pub status_code: Option<u16>,
    /// `gatewayresponse.header.X` → `'static'`, `method.request.{header|querystring|path}.Y`,
    /// `stageVariables.V` or `context.V`.
    pub response_parameters: Vec<(String, String)>,
    /// Content type → template; none keeps the default `{"message":$context.error.messageString}`.
    pub response_templates: Vec<(String, String)>,
}

/// `apiKeySource`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Default)]
pub enum ApiKeySource {
    /// The `x-api-key` header.
    #[default]
    Header,
    /// `usageIdentifierKey` of the Lambda authorizer's answer.
    Authorizer,
}

/// A Lambda authorizer of a REST API.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RestAuthorizerSpec {
    pub kind: AuthorizerKind,
    /// Same grammar as [`RestIntegration::Lambda::function`].
    pub function: String,
    /// `method.request.header.Authorization`, `method.request.querystring.x`,
    /// `stageVariables.x`, `context.x`. TOKEN authorizers have exactly one header.
    pub identity_source: Vec<String>,
    /// TOKEN only: the token must match this regex, or 401 without invoking.
    pub validation_expression: Option<String>,
    /// 0 = no cache.
    pub result_ttl: Duration,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum AuthorizerKind {
    Token,
    Request,
}

/// A usage plan: which stages it covers, its throttle and quota, its API keys.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct UsagePlanSpec {
    pub id: String,
    /// Stage names of this API the plan covers.
    pub stages: Vec<String>,
    pub throttle_rate: Option<f64>,
    pub throttle_burst: Option<u32>,
    pub quota: Option<Quota>,
    pub keys: Vec<ApiKeySpec>,
}

/// `Quota`: `limit` requests per `period`, the period starting `offset` days (or hours,
/// for DAY) in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Quota {
    pub limit: u64,
    pub period: QuotaPeriod,
    pub offset: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum QuotaPeriod {
    Day,
    Week,
    Month,
}

/// An API key: its id and the value clients send.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ApiKeySpec {
    pub id: String,
    pub value: String,
    pub enabled: bool,
}

/// A stage: its variables, its cache cluster and method settings, its access log.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RestStageSpec {
    pub name: String,
    pub variables: BTreeMap<String, String>,
    pub deployment_id: String,
    pub cache_cluster_enabled: bool,
    #[serde(serialize_with = "cluster_size")]
    pub cache_cluster_size: ClusterSize,
    pub method_settings: Vec<MethodSetting>,
    pub access_log: Option<AccessLogSettings>,
}

fn cluster_size<S: serde::Serializer>(s: &ClusterSize, ser: S) -> Result<S::Ok, S::Error> {
    ser.serialize_str(s.as_str())
}

impl RestStageSpec {
    pub fn new(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            variables: BTreeMap::new(),
            deployment_id: String::new(),
            cache_cluster_enabled: false,
            cache_cluster_size: ClusterSize::Gb0_5,
            method_settings: Vec::new(),
            access_log: None,
        }
    }
}

/// What to do with `Cache-Control: max-age=0` from a client that may not invalidate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Default)]
pub enum UnauthorizedStrategy {
    FailWith403,
    /// The default: serve as usual and add a warning header.
    #[default]
    SucceedWithResponseHeader,
    SucceedWithoutResponseHeader,
}

impl UnauthorizedStrategy {
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "FAIL_WITH_403" => Some(Self::FailWith403),
            "SUCCEED_WITH_RESPONSE_HEADER" => Some(Self::SucceedWithResponseHeader),
            "SUCCEED_WITHOUT_RESPONSE_HEADER" => Some(Self::SucceedWithoutResponseHeader),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::FailWith403 => "FAIL_WITH_403",
            Self::SucceedWithResponseHeader => "SUCCEED_WITH_RESPONSE_HEADER",
            Self::SucceedWithoutResponseHeader => "SUCCEED_WITHOUT_RESPONSE_HEADER",
        }
    }
}

/// One entry of `methodSettings`, keyed `{resourcePath}/{httpMethod}` with `*` wildcards.
/// Unset fields fall back to the `*/*` entry, then to AWS's defaults.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MethodSetting {
    /// `/pets/{id}` or `*`.
    pub resource_path: String,
    /// `GET` or `*`.
    pub http_method: String,
    pub caching_enabled: Option<bool>,
    pub cache_ttl_seconds: Option<u64>,
    pub cache_data_encrypted: Option<bool>,
    pub require_authorization_for_cache_control: Option<bool>,
    pub unauthorized_cache_control_header_strategy: Option<UnauthorizedStrategy>,
    pub throttling_burst_limit: Option<u32>,
    pub throttling_rate_limit: Option<f64>,
    pub metrics_enabled: Option<bool>,
}

impl MethodSetting {
    pub fn new(resource_path: impl Into<String>, http_method: impl Into<String>) -> Self {
        Self {
            resource_path: resource_path.into(),
            http_method: http_method.into(),
            caching_enabled: None,
            cache_ttl_seconds: None,
            cache_data_encrypted: None,
            require_authorization_for_cache_control: None,
            unauthorized_cache_control_header_strategy: None,
            throttling_burst_limit: None,
            throttling_rate_limit: None,
            metrics_enabled: None,
        }
    }

    /// The key AWS shows in `GetStage`: `~1pets~1{id}/GET`, `*/*`.
    pub fn key(&self) -> String {
        let path = if self.resource_path == WILDCARD {
            WILDCARD.to_owned()
        } else {
            self.resource_path.replace('/', "~1")
        };
        format!("{path}/{}", self.http_method)
    }

    /// Parses a `methodSettings` key (`~1pets~1{id}/GET`, `*/*`, `/pets/{id}/GET`).
    pub fn parse_key(key: &str) -> Option<(String, String)> {
        let (path, method) = key.rsplit_once('/')?;
        let path = if path == WILDCARD {
            WILDCARD.to_owned()
        } else {
            let p = path.replace("~1", "/");
            if p.starts_with('/') {
                p
            } else {
                format!("/{p}")
            }
        };
        (!method.is_empty()).then(|| (path, method.to_ascii_uppercase()))
    }
}

/// The effective caching behaviour of one method in one stage.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct CachePolicy {
    pub enabled: bool,
    /// Already clamped to 3600 s; zero disables caching.
    pub ttl: Duration,
    pub require_authorization: bool,
    pub unauthorized_strategy: UnauthorizedStrategy,
    pub encrypted: bool,
}

/// The effective throttle of one method in one stage (`None` = unlimited locally).
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize)]
pub struct Throttle {
    pub rate: Option<f64>,
    pub burst: Option<u32>,
}

/// Resolves a stage's method settings for one method (reference §1.2): per field, the
/// `{resourcePath}/{httpMethod}` entry, then `{resourcePath}/*`, `*/{httpMethod}`, `*/*`,
/// then AWS's defaults. Caching needs the stage's cache cluster; with it, GET is cached
/// unless a setting turns caching off, and every other method only when a setting naming
/// that method (not `*`) turns it on. TTLs above 3600 s are clamped to 3600; 0 disables.
/// `http_method` is the method resource's (`ANY` included); `request_method` the
/// request's, which decides the GET-only default of an `ANY` method.
pub fn resolve(
    stage: &RestStageSpec,
    resource_path: &str,
    http_method: &str,
    request_method: &str,
) -> (CachePolicy, Throttle) {
    let rank = |s: &MethodSetting| -> Option<u8> {
        let path = s.resource_path == resource_path;
        let method = s.http_method.eq_ignore_ascii_case(http_method);
        match (
            path,
            s.resource_path == WILDCARD,
            method,
            s.http_method == WILDCARD,
        ) {
            (true, _, true, _) => Some(0),
            (true, _, _, true) => Some(1),
            (_, true, true, _) => Some(2),
            (_, true, _, true) => Some(3),
            _ => None,
        }
    };
    let mut matching: Vec<(u8, &MethodSetting)> = stage
        .method_settings
        .iter()
        .filter_map(|s| rank(s).map(|r| (r, s)))
        .collect();
    matching.sort_by_key(|(r, _)| *r);
    fn first<T: Copy>(
        m: &[(u8, &MethodSetting)],
        f: impl Fn(&MethodSetting) -> Option<T>,
    ) -> Option<(u8, T)> {
        m.iter().find_map(|(r, s)| f(s).map(|v| (*r, v)))
    }
    let is_get = request_method.eq_ignore_ascii_case("GET");
    let enabled = match first(&matching, |s| s.caching_enabled) {
        // A setting that names this method decides for any method.
        Some((0 | 2, v)) => v,
        // A wildcard-method setting decides for GET only.
        Some((_, v)) => v && is_get,
        None => is_get,
    };
    let ttl = first(&matching, |s| s.cache_ttl_seconds)
        .map(|(_, v)| v)
        .unwrap_or(limits::DEFAULT_CACHE_TTL_SECS)
        .min(limits::MAX_CACHE_TTL_SECS);
    let policy = CachePolicy {
        enabled: stage.cache_cluster_enabled && enabled && ttl > 0,
        ttl: Duration::from_secs(ttl),
        require_authorization: first(&matching, |s| s.require_authorization_for_cache_control)
            .map(|(_, v)| v)
            .unwrap_or(true),
        unauthorized_strategy: first(&matching, |s| s.unauthorized_cache_control_header_strategy)
            .map(|(_, v)| v)
            .unwrap_or_default(),
        encrypted: first(&matching, |s| s.cache_data_encrypted)
            .map(|(_, v)| v)
            .unwrap_or(false),
    };
    let throttle = Throttle {
        rate: first(&matching, |s| s.throttling_rate_limit).map(|(_, v)| v),
        burst: first(&matching, |s| s.throttling_burst_limit).map(|(_, v)| v),
    };
    (policy, throttle)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stage(settings: Vec<MethodSetting>) -> RestStageSpec {
        RestStageSpec {
            cache_cluster_enabled: true,
            method_settings: settings,
            ..RestStageSpec::new("Prod")
        }
    }

    fn setting(path: &str, method: &str, f: impl FnOnce(&mut MethodSetting)) -> MethodSetting {
        let mut s = MethodSetting::new(path, method);
        f(&mut s);
        s
    }

    #[test]
    fn keys_round_trip_with_tilde_one() {
        let s = MethodSetting::new("/pets/{id}", "GET");
        assert_eq!(s.key(), "~1pets~1{id}/GET");
        assert_eq!(MethodSetting::new("*", "*").key(), "*/*");
        assert_eq!(MethodSetting::new("/", "GET").key(), "~1/GET");
        assert_eq!(
            MethodSetting::parse_key("~1pets~1{id}/GET"),
            Some(("/pets/{id}".into(), "GET".into()))
        );
        assert_eq!(
            MethodSetting::parse_key("~1/GET"),
            Some(("/".into(), "GET".into()))
        );
        assert_eq!(
            MethodSetting::parse_key("*/*"),
            Some(("*".into(), "*".into()))
        );
        assert_eq!(
            MethodSetting::parse_key("/pets/post"),
            Some(("/pets".into(), "POST".into()))
        );
    }

    #[test]
    fn only_get_is_cached_by_default_and_only_with_a_cluster() {
        let s = stage(vec![]);
        assert!(resolve(&s, "/pets", "GET", "GET").0.enabled);
        assert!(!resolve(&s, "/pets", "POST", "POST").0.enabled);
        assert!(!resolve(&s, "/pets", "HEAD", "HEAD").0.enabled);
        let no_cluster = RestStageSpec {
            cache_cluster_enabled: false,
            ..s.clone()
        };
        assert!(!resolve(&no_cluster, "/pets", "GET", "GET").0.enabled);
        // */* caching enabled still means GET only.
        let s = stage(vec![setting("*", "*", |s| s.caching_enabled = Some(true))]);
        assert!(resolve(&s, "/pets", "GET", "GET").0.enabled);
        assert!(!resolve(&s, "/pets", "POST", "POST").0.enabled);
        // A setting naming POST turns POST on.
        let s = stage(vec![setting("/pets", "POST", |s| {
            s.caching_enabled = Some(true)
        })]);
        assert!(resolve(&s, "/pets", "POST", "POST").0.enabled);
        assert!(!resolve(&s, "/other", "POST", "POST").0.enabled);
        // */* off turns GET off; a specific entry beats */*.
        let s = stage(vec![
            setting("*", "*", |s| s.caching_enabled = Some(false)),
            setting("/pets", "GET", |s| s.caching_enabled = Some(true)),
        ]);
        assert!(!resolve(&s, "/other", "GET", "GET").0.enabled);
        assert!(resolve(&s, "/pets", "GET", "GET").0.enabled);
    }

    #[test]
    fn ttl_defaults_clamps_and_zero_disables() {
        let s = stage(vec![]);
        let (p, _) = resolve(&s, "/", "GET", "GET");
        assert_eq!(p.ttl, Duration::from_secs(300));
        assert!(p.require_authorization);
        assert_eq!(
            p.unauthorized_strategy,
            UnauthorizedStrategy::SucceedWithResponseHeader
        );
        let s = stage(vec![setting("*", "*", |s| {
            s.cache_ttl_seconds = Some(86_400)
        })]);
        assert_eq!(
            resolve(&s, "/", "GET", "GET").0.ttl,
            Duration::from_secs(3600)
        );
        let s = stage(vec![
            setting("*", "*", |s| s.cache_ttl_seconds = Some(60)),
            setting("/a", "GET", |s| s.cache_ttl_seconds = Some(0)),
        ]);
        assert!(!resolve(&s, "/a", "GET", "GET").0.enabled, "TTL 0 disables");
        assert_eq!(
            resolve(&s, "/b", "GET", "GET").0.ttl,
            Duration::from_secs(60)
        );
    }

    #[test]
    fn fields_fall_back_one_by_one() {
        let s = stage(vec![
            setting("*", "*", |s| {
                s.throttling_rate_limit = Some(5.0);
                s.throttling_burst_limit = Some(2);
                s.unauthorized_cache_control_header_strategy =
                    Some(UnauthorizedStrategy::FailWith403);
            }),
            setting("/a", "GET", |s| s.throttling_burst_limit = Some(9)),
        ]);
        let (p, t) = resolve(&s, "/a", "GET", "GET");
        assert_eq!((t.rate, t.burst), (Some(5.0), Some(9)));
        assert_eq!(p.unauthorized_strategy, UnauthorizedStrategy::FailWith403);
    }
}
