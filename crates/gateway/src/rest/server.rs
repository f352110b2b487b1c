//! Serving one REST API: the request pipeline (stage → resource → method → throttle →
//! Lambda authorizer → API key and usage plan → stage cache → integration) over an
//! atomically swappable deployment, with REST's error bodies and headers.
//!
//! The cache hit path is kept short: the key is computed from the request head without
//! building the Lambda event, the entry's body is shared (`Bytes`), and hit and miss
//! counters are resolved per stage and method at deploy time.

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use arc_swap::ArcSwap;
use axum::body::Body;
use axum::extract::{ConnectInfo, Request, State};
use axum::response::Response;
use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use http_body_util::{BodyExt, Full};
use ledge_cache::{
    get_or_fill, CacheKey, CacheMetrics, CacheOutcome, CacheStore, CachedResponse, Clock,
    ClusterSize, Coalescer, MemoryStore, MethodMetrics, RedisConfig, RedisStore,
    DEFAULT_MEMORY_CEILING_BYTES,
};
use ledge_model::{Invoke, InvokeOutcome};
use serde_json::Value as J;

use super::auth;
use super::aws::AwsSettings;
use super::cache::{self, KeyParam, KeyValues};
use super::consts::{self, errors, limits, GatewayResponse, ANY};
use super::gateway_responses::{GatewayResponses, RequestView};
use super::integration::{self as mapped, CompiledMapping};
use super::proxy as rest_proxy;
use super::resources::ResourceTree;
use super::response as rest_response;
use super::spec::*;
use super::usage::{self, UsageLedger};
use crate::common::access_log::{self, AccessLogSink};
use crate::common::event::{v1_event, Authorization, RequestFacts, RestContext, V1Flavor};
use crate::common::lambda::{self, InvokeFailure};
use crate::common::policy::ResultCache;
use crate::common::throttle::{self, TokenBucket};
use crate::http::response::ProxyResponse;
use crate::GatewayError;
use ledge_sigv4::{AccessKeys, SignedRequest};

/// The default access log format of REST stages: the API Gateway console's JSON format,
/// plus ledge's `cacheStatus` (`hit`, `miss`, `-` when the method is not cached).
pub const DEFAULT_LOG_FORMAT: &str = r#"{"requestId":"$context.requestId","ip":"$context.identity.sourceIp","caller":"$context.identity.caller","user":"$context.identity.user","requestTime":"$context.requestTime","httpMethod":"$context.httpMethod","resourcePath":"$context.resourcePath","status":"$context.status","protocol":"$context.protocol","responseLength":"$context.responseLength","stage":"$context.stage","cacheStatus":"$context.cacheStatus"}"#;

/// Where the stage caches live.
#[derive(Debug, Clone)]
pub enum CacheBackend {
    /// One in-process store per cached stage, sized by its cluster size and bounded by
    /// `ceiling` bytes.
    Memory { ceiling: u64 },
    /// One Redis shared by every ledge node serving the API (`redis://host:port/db`).
    Redis { url: String },
}

impl Default for CacheBackend {
    fn default() -> Self {
        Self::Memory {
            ceiling: DEFAULT_MEMORY_CEILING_BYTES,
        }
    }
}

/// How a REST API is served.
#[derive(Debug, Clone)]
pub struct RestOptions {
    pub region: String,
    pub account_id: String,
    /// Where access log lines go. A stage logs when it has an `AccessLogSetting`, or every
    /// stage when `log_every_stage` is set.
    pub access_log: Option<AccessLogSink>,
    pub log_every_stage: bool,
    /// The clock of cache freshness, quotas and request times (tests move it by hand).
    pub clock: Arc<dyn Clock>,
    pub cache: CacheBackend,
    /// IAM principals: a request signed (SigV4, `execute-api`) by one of these keys may
    /// invalidate cache entries with `Cache-Control: max-age=0`.
    pub access_keys: AccessKeys,
    /// Credentials, region and endpoint overrides of `AWS` service integrations: by
    /// default the standard AWS chain of this process (environment, shared files).
    pub aws: Arc<AwsSettings>,
}

impl Default for RestOptions {
    fn default() -> Self {
        Self {
            region: ledge_model::DEFAULT_REGION.to_owned(),
            account_id: ledge_model::DEFAULT_ACCOUNT_ID.to_owned(),
            access_log: None,
            log_every_stage: false,
            clock: Arc::new(ledge_cache::SystemClock),
            cache: CacheBackend::default(),
            access_keys: AccessKeys::default(),
            aws: Arc::new(AwsSettings::from_env()),
        }
    }
}

/// The cache behaviour of one method for one request method, resolved at deploy time.
struct MethodCache {
    request_method: String,
    policy: CachePolicy,
    metrics: MethodMetrics,
    /// The key of every request, when the method has no key parameters.
    static_key: Option<CacheKey>,
}

/// One method as a stage serves it.
struct StageMethod {
    /// For an `ANY` method, one entry per request method; otherwise one.
    caches: Vec<MethodCache>,
    bucket: Option<Mutex<TokenBucket>>,
}

impl StageMethod {
    fn cache_for(&self, request_method: &str) -> Option<&MethodCache> {
        self.caches
            .iter()
            .find(|c| c.request_method == request_method)
            .filter(|c| c.policy.enabled)
    }
}

struct Stage {
    spec: RestStageSpec,
    /// By method index.
    methods: Vec<StageMethod>,
    store: Option<Arc<dyn CacheStore>>,
    log_format: Option<String>,
    variables: Vec<(String, String)>,
}

/// One compiled deployment: immutable, swapped whole.
struct Deployment {
    spec: RestApiSpec,
    tree: ResourceTree,
    /// By resource index: `(method, method index)`.
    resource_methods: Vec<Vec<(String, usize)>>,
    /// By method index.
    method_resource: Vec<usize>,
    key_params: Vec<Vec<KeyParam>>,
    namespaces: Vec<String>,
    stages: HashMap<String, Stage>,
    validations: HashMap<String, regex::Regex>,
    /// By method index: the compiled templates of non-proxy integrations.
    mapped: Vec<Option<CompiledMapping>>,
    gateway_responses: GatewayResponses,
}

/// A stage's in-process store and the cluster size it was made for.
type SizedStore = (ClusterSize, Arc<dyn CacheStore>);

/// A served REST API.
pub struct RestApi {
    current: ArcSwap<Deployment>,
    invoker: Arc<dyn Invoke>,
    client: reqwest::Client,
    options: RestOptions,
    auth_cache: Mutex<ResultCache<Bytes>>,
    usage: UsageLedger,
    metrics: Arc<CacheMetrics>,
    coalescer: Coalescer,
    /// In-process stores by stage, kept across redeploys while the cluster size stays.
    stores: Mutex<BTreeMap<String, SizedStore>>,
    redis: Option<Arc<RedisStore>>,
    warnings: Mutex<Vec<String>>,
    /// Temporary keys of the roles `AWS` integrations assume.
    roles: super::sts::RoleCache,
}

impl RestApi {
    /// Compiles the first deployment. Must run inside a Tokio runtime (the Redis store
    /// connects lazily from it).
    pub fn new(
        spec: RestApiSpec,
        invoker: Arc<dyn Invoke>,
        options: RestOptions,
    ) -> Result<Arc<Self>, GatewayError> {
        let redis = match &options.cache {
            CacheBackend::Redis { url } => Some(Arc::new(
                RedisStore::new(RedisConfig::new(url.clone(), spec.api_id.clone()))
                    .map_err(|e| GatewayError::spec(&spec.logical_id, "cache", e.to_string()))?,
            )),
            CacheBackend::Memory { .. } => None,
        };
        let api = Self {
            current: ArcSwap::from_pointee(Deployment::empty()),
            invoker,
            client: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .tcp_nodelay(true)
                .build()
                .unwrap_or_default(),
            options,
            auth_cache: Mutex::new(ResultCache::default()),
            usage: UsageLedger::default(),
            metrics: Arc::new(CacheMetrics::default()),
            coalescer: Coalescer::default(),
            stores: Mutex::new(BTreeMap::new()),
            redis,
            warnings: Mutex::new(Vec::new()),
            roles: Default::default(),
        };
        let (d, warnings) = api.compile(spec)?;
        api.current.store(Arc::new(d));
        *api.warnings.lock().unwrap_or_else(|e| e.into_inner()) = warnings;
        Ok(Arc::new(api))
    }

    /// Swaps in a new deployment. A spec that fails to compile leaves the last good one
    /// serving. A stage whose cache cluster is turned off or resized loses its entries, as
    /// on AWS. Returns the new deployment's warnings.
    pub fn redeploy(&self, spec: RestApiSpec) -> Result<Vec<String>, GatewayError> {
        let (d, warnings) = self.compile(spec)?;
        self.current.store(Arc::new(d));
        self.flush_authorizers_cache();
        self.usage.clear();
        *self.warnings.lock().unwrap_or_else(|e| e.into_inner()) = warnings.clone();
        Ok(warnings)
    }

    /// The spec now serving.
    pub fn spec(&self) -> RestApiSpec {
        self.current.load().spec.clone()
    }

    /// Warnings of the deployment now serving (one per cached method whose key leaves out
    /// path parameters, …).
    pub fn warnings(&self) -> Vec<String> {
        self.warnings
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// `FlushStageCache`. `Ok(false)` when the stage does not exist; a stage without a
    /// cache cluster has nothing to flush.
    pub async fn flush_stage_cache(&self, stage: &str) -> Result<bool, ledge_cache::CacheError> {
        let store = {
            let d = self.current.load();
            match d.stages.get(stage) {
                None => return Ok(false),
                Some(s) => s.store.clone(),
            }
        };
        if let Some(store) = store {
            store.flush(stage).await?;
            tracing::info!(api = %self.current.load().spec.api_id, stage = %stage, "stage cache flushed");
        }
        Ok(true)
    }

    /// `FlushStageAuthorizersCache`.
    pub fn flush_authorizers_cache(&self) {
        if let Ok(mut c) = self.auth_cache.lock() {
            c.clear();
        }
    }

    /// CacheHitCount / CacheMissCount per stage and method, with each store's size.
    pub async fn cache_stats(&self) -> J {
        let d = self.current.load_full();
        let snap = self.metrics.snapshot();
        let mut stages = serde_json::Map::new();
        let mut names: Vec<&String> = d.stages.keys().collect();
        names.sort();
        for name in names {
            let s = &d.stages[name];
            let counts = snap.stage(name);
            let store = match &s.store {
                Some(store) => store.stats().await.ok(),
                None => None,
            };
            let mut methods = serde_json::Map::new();
            // Methods that were never served from or for the cache are left out.
            for m in counts
                .map(|c| c.methods.as_slice())
                .unwrap_or_default()
                .iter()
                .filter(|m| m.hits + m.misses > 0)
            {
                methods.insert(
                    m.method.clone(),
                    serde_json::json!({"CacheHitCount": m.hits, "CacheMissCount": m.misses}),
                );
            }
            stages.insert(
                name.clone(),
                serde_json::json!({
                    "cacheClusterEnabled": s.spec.cache_cluster_enabled,
                    "cacheClusterSize": s.spec.cache_cluster_size.as_str(),
                    "cacheClusterStatus": if s.spec.cache_cluster_enabled { "AVAILABLE" } else { "NOT_AVAILABLE" },
                    "store": match (&s.store, &self.redis) {
                        (None, _) => J::Null,
                        (Some(_), Some(_)) => J::from("redis"),
                        (Some(_), None) => J::from("memory"),
                    },
                    "capacityBytes": match (&s.store, &self.options.cache) {
                        (Some(_), CacheBackend::Memory { ceiling }) => J::from(s.spec.cache_cluster_size.capacity(*ceiling)),
                        _ => J::Null,
                    },
                    "entries": store.map(|s| s.entries),
                    "bytes": store.map(|s| s.bytes),
                    "CacheHitCount": counts.map_or(0, |c| c.hits),
                    "CacheMissCount": counts.map_or(0, |c| c.misses),
                    "methods": methods,
                }),
            );
        }
        serde_json::json!({"apiId": d.spec.api_id, "name": d.spec.name, "stages": stages})
    }

    /// The cache counters (for tests and embedders).
    pub fn metrics(&self) -> &CacheMetrics {
        &self.metrics
    }

    /// Redis health, when the stage caches live in Redis.
    pub fn redis_health(&self) -> Option<ledge_cache::RedisHealth> {
        self.redis.as_ref().map(|r| r.health())
    }

    /// The stage's settings as `GetStage` shows them.
    pub fn stage(&self, name: &str) -> Option<RestStageSpec> {
        self.current.load().stages.get(name).map(|s| s.spec.clone())
    }

    fn store_for(&self, stage: &RestStageSpec) -> Option<Arc<dyn CacheStore>> {
        let mut stores = self.stores.lock().unwrap_or_else(|e| e.into_inner());
        if !stage.cache_cluster_enabled {
            stores.remove(&stage.name);
            return None;
        }
        if let Some(r) = &self.redis {
            return Some(r.clone() as Arc<dyn CacheStore>);
        }
        if let Some((size, store)) = stores.get(&stage.name) {
            if *size == stage.cache_cluster_size {
                return Some(store.clone());
            }
        }
        let ceiling = match self.options.cache {
            CacheBackend::Memory { ceiling } => ceiling,
            CacheBackend::Redis { .. } => DEFAULT_MEMORY_CEILING_BYTES,
        };
        let store: Arc<dyn CacheStore> =
            Arc::new(MemoryStore::for_cluster(stage.cache_cluster_size, ceiling));
        stores.insert(
            stage.name.clone(),
            (stage.cache_cluster_size, store.clone()),
        );
        Some(store)
    }

    fn compile(&self, spec: RestApiSpec) -> Result<(Deployment, Vec<String>), GatewayError> {
        let api = spec.logical_id.clone();
        let tree = ResourceTree::compile(spec.resources.iter().map(|r| r.path.as_str()))
            .map_err(|m| GatewayError::spec(&api, "Resources", m))?;
        let by_path: HashMap<&str, usize> = spec
            .resources
            .iter()
            .enumerate()
            .map(|(i, r)| (r.path.as_str(), i))
            .collect();
        let mut resource_methods = vec![Vec::new(); spec.resources.len()];
        let mut method_resource = Vec::with_capacity(spec.methods.len());
        let mut key_params = Vec::with_capacity(spec.methods.len());
        let mut namespaces = Vec::with_capacity(spec.methods.len());
        for (i, m) in spec.methods.iter().enumerate() {
            let site = format!("{api}: {} {}", m.http_method, m.resource_path);
            let r = *by_path
                .get(m.resource_path.as_str())
                .ok_or_else(|| GatewayError::spec(&site, "ResourcePath", "no such resource"))?;
            resource_methods[r].push((m.http_method.clone(), i));
            method_resource.push(r);
            let mut params = Vec::new();
            for k in &m.cache_key_parameters {
                params.push(cache::parse_key_param(k).ok_or_else(|| {
                    GatewayError::spec(
                        &site,
                        "cacheKeyParameters",
                        format!("Invalid cache key parameter specified: {k}"),
                    )
                })?);
            }
            key_params.push(params);
            namespaces.push(
                m.cache_namespace
                    .clone()
                    .unwrap_or_else(|| spec.resources[r].id.clone()),
            );
            if let MethodAuth::Authorizer(a) = &m.auth {
                if !spec.authorizers.contains_key(a) {
                    return Err(GatewayError::UnknownAuthorizer {
                        api: api.clone(),
                        route: format!("{} {}", m.http_method, m.resource_path),
                        authorizer: a.clone(),
                    });
                }
            }
        }
        // Mapping templates compile once per deployment; one that does not parse fails it.
        let mut compiled_mapped = Vec::with_capacity(spec.methods.len());
        for m in &spec.methods {
            compiled_mapped.push(match &m.integration {
                RestIntegration::Mapped(mi) => Some(mapped::compile(
                    &format!("{api}: {} {}", m.http_method, m.resource_path),
                    mi,
                )?),
                _ => None,
            });
        }
        let gateway_responses = GatewayResponses::compile(&api, &spec.gateway_responses)?;
        let mut validations = HashMap::new();
        for (name, a) in &spec.authorizers {
            if let Some(expr) = &a.validation_expression {
                let re = regex::Regex::new(&format!("^(?:{expr})$")).map_err(|e| {
                    GatewayError::spec(
                        format!("{api}.{name}"),
                        "IdentityValidationExpression",
                        e.to_string(),
                    )
                })?;
                validations.insert(name.clone(), re);
            }
        }
        let now = Instant::now();
        let mut stages = HashMap::new();
        let mut cached_in: Vec<Vec<String>> = vec![Vec::new(); spec.methods.len()];
        for s in &spec.stages {
            let mut methods = Vec::with_capacity(spec.methods.len());
            for (i, m) in spec.methods.iter().enumerate() {
                let request_methods: Vec<&str> = if m.http_method == ANY {
                    vec!["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"]
                } else {
                    vec![m.http_method.as_str()]
                };
                let mut caches = Vec::with_capacity(request_methods.len());
                let mut throttle_setting = Throttle::default();
                for rm in request_methods {
                    let (policy, t) = resolve(s, &m.resource_path, &m.http_method, rm);
                    throttle_setting = t;
                    if policy.enabled && !cached_in[i].contains(&s.name) {
                        cached_in[i].push(s.name.clone());
                    }
                    caches.push(MethodCache {
                        request_method: rm.to_owned(),
                        static_key: key_params[i]
                            .is_empty()
                            .then(|| CacheKey::new(&s.name, [namespaces[i].as_str(), rm])),
                        policy,
                        metrics: self
                            .metrics
                            .method(&s.name, &format!("{rm} {}", m.resource_path)),
                    });
                }
                methods.push(StageMethod {
                    caches,
                    bucket: throttle::bucket_for(
                        throttle_setting.rate,
                        throttle_setting.burst,
                        now,
                    )
                    .map(Mutex::new),
                });
            }
            let log_format = match (&s.access_log, self.options.log_every_stage) {
                (Some(a), _) => Some(
                    a.format
                        .clone()
                        .unwrap_or_else(|| DEFAULT_LOG_FORMAT.to_owned()),
                ),
                (None, true) => Some(DEFAULT_LOG_FORMAT.to_owned()),
                (None, false) => None,
            };
            let mut stage_spec = s.clone();
            if stage_spec.deployment_id.is_empty() {
                stage_spec.deployment_id =
                    super::spec::local_id(&format!("{}/{}/deployment", spec.api_id, s.name), 6);
            }
            stages.insert(
                s.name.clone(),
                Stage {
                    store: self.store_for(s),
                    spec: stage_spec,
                    methods,
                    log_format,
                    variables: s
                        .variables
                        .iter()
                        .map(|(k, v)| (k.clone(), v.clone()))
                        .collect(),
                },
            );
        }
        {
            let names: Vec<&String> = spec.stages.iter().map(|s| &s.name).collect();
            self.stores
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .retain(|k, _| names.contains(&k));
        }
        let mut warnings = Vec::new();
        for (i, m) in spec.methods.iter().enumerate() {
            if !cached_in[i].is_empty() {
                if let Some(w) = cache::unkeyed_warning(&api, &cached_in[i], m) {
                    warnings.push(w);
                }
            }
        }
        Ok((
            Deployment {
                spec,
                tree,
                resource_methods,
                method_resource,
                key_params,
                namespaces,
                stages,
                validations,
                mapped: compiled_mapped,
                gateway_responses,
            },
            warnings,
        ))
    }
}

impl Deployment {
    fn empty() -> Self {
        Self {
            spec: RestApiSpec {
                logical_id: String::new(),
                api_id: String::new(),
                name: String::new(),
                resources: Vec::new(),
                methods: Vec::new(),
                stages: Vec::new(),
                authorizers: BTreeMap::new(),
                binary_media_types: Vec::new(),
                api_key_source: ApiKeySource::Header,
                usage_plans: Vec::new(),
                gateway_responses: Vec::new(),
            },
            tree: ResourceTree::default(),
            resource_methods: Vec::new(),
            method_resource: Vec::new(),
            key_params: Vec::new(),
            namespaces: Vec::new(),
            stages: HashMap::new(),
            validations: HashMap::new(),
            mapped: Vec::new(),
            gateway_responses: GatewayResponses::default(),
        }
    }
}

/// The response body of REST APIs: the bytes, whole, so hyper writes the head and the
/// body together.
pub type RestBody = Full<Bytes>;
type Resp = http::Response<RestBody>;

/// The API's router: every path and method goes through [`handle`].
pub fn router(api: Arc<RestApi>) -> axum::Router {
    axum::Router::new().fallback(axum_handle).with_state(api)
}

async fn axum_handle(State(api): State<Arc<RestApi>>, req: Request) -> Response {
    let remote = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0);
    handle(&api, req, remote).await.map(Body::new)
}

/// The ids of one request, made once as header values: `x-amzn-RequestId` (a UUID, also
/// `requestContext.requestId`) and `x-amz-apigw-id` (`extendedRequestId`).
struct Ids {
    request_id: HeaderValue,
    extended: HeaderValue,
}

impl Ids {
    fn new() -> Self {
        use base64::Engine;
        use rand::RngCore;
        let mut r = [0u8; 27];
        rand::rng().fill_bytes(&mut r);
        let mut uuid = [0u8; 36];
        let mut u = [0u8; 16];
        u.copy_from_slice(&r[..16]);
        uuid::Builder::from_random_bytes(u)
            .into_uuid()
            .hyphenated()
            .encode_lower(&mut uuid);
        let mut ext = [0u8; 16];
        let n = base64::engine::general_purpose::STANDARD
            .encode_slice(&r[16..], &mut ext)
            .unwrap_or(0);
        Self {
            request_id: HeaderValue::from_bytes(&uuid).unwrap_or(HeaderValue::from_static("-")),
            extended: HeaderValue::from_bytes(&ext[..n]).unwrap_or(HeaderValue::from_static("-")),
        }
    }
    fn request_id(&self) -> &str {
        self.request_id.to_str().unwrap_or_default()
    }
    fn extended(&self) -> &str {
        self.extended.to_str().unwrap_or_default()
    }
}

/// A fresh X-Ray trace header: `Root=1-{epoch seconds, 8 hex}-{24 hex}`.
fn trace_value(wall: SystemTime) -> HeaderValue {
    use rand::RngCore;
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let secs = wall
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs() as u32;
    let mut r = [0u8; 12];
    rand::rng().fill_bytes(&mut r);
    let mut out = *b"Root=1-00000000-000000000000000000000000";
    for i in 0..8 {
        out[7 + i] = HEX[((secs >> (28 - 4 * i)) & 0xf) as usize];
    }
    for (i, b) in r.iter().enumerate() {
        out[16 + 2 * i] = HEX[(b >> 4) as usize];
        out[17 + 2 * i] = HEX[(b & 0xf) as usize];
    }
    HeaderValue::from_bytes(&out).unwrap_or(HeaderValue::from_static("Root=1-0-0"))
}

/// What the access log learns while a request is served.
#[derive(Default)]
struct Notes<'d> {
    stage: Option<&'d Stage>,
    resource: Option<&'d ResourceSpec>,
    cache: Option<CacheOutcome>,
    integration_latency: Option<u128>,
    integration_status: Option<u16>,
    error: Option<GatewayResponse>,
    authorizer_error: Option<String>,
    api_key_id: Option<String>,
}

fn gateway_response(notes: &mut Notes<'_>, e: GatewayResponse) -> Resp {
    notes.error = Some(e);
    let mut r = Resp::new(Full::new(Bytes::from_static(e.body.as_bytes())));
    *r.status_mut() = StatusCode::from_u16(e.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let h = r.headers_mut();
    h.insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static(consts::JSON),
    );
    if let Some(t) = e.error_type {
        h.insert(
            HeaderName::from_static(consts::X_AMZN_ERROR_TYPE),
            HeaderValue::from_static(t),
        );
    }
    r
}

/// Serves one request: what [`router`] does, for servers that call it without axum.
/// `remote` is the client's address (`sourceIp`, `X-Forwarded-For`).
pub async fn handle<B>(api: &RestApi, req: http::Request<B>, remote: Option<SocketAddr>) -> Resp
where
    B: http_body::Body<Data = Bytes> + Send,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let wall = api.options.clock.now();
    let started = api.options.access_log.as_ref().map(|_| Instant::now());
    let ids = Ids::new();
    // A guard, not a clone: no shared reference count to bump on the hit path.
    let d = api.current.load();
    let (parts, body) = req.into_parts();
    let mut notes = Notes::default();
    let mut response = serve(api, &d, &parts, body, &ids, remote, wall, &mut notes).await;
    if let (Some(e), false) = (notes.error, d.gateway_responses.is_empty()) {
        let view = RequestView {
            headers: &parts.headers,
            query: parts.uri.query().unwrap_or_default(),
            stage_variables: notes
                .stage
                .map(|s| s.variables.as_slice())
                .unwrap_or_default(),
            context: vec![
                ("requestId", ids.request_id().to_owned()),
                ("extendedRequestId", ids.extended().to_owned()),
                ("apiId", d.spec.api_id.clone()),
                ("accountId", api.options.account_id.clone()),
                ("httpMethod", parts.method.as_str().to_owned()),
                ("path", parts.uri.path().to_owned()),
                (
                    "stage",
                    notes.stage.map(|s| s.spec.name.clone()).unwrap_or_default(),
                ),
                (
                    "resourcePath",
                    notes.resource.map(|r| r.path.clone()).unwrap_or_default(),
                ),
                ("identity.sourceIp", source_ip(remote)),
            ],
        };
        d.gateway_responses.apply(&e, &view, &mut response);
    }
    if let (Some(sink), Some(format)) = (
        &api.options.access_log,
        notes.stage.and_then(|s| s.log_format.as_deref()),
    ) {
        let started = started.unwrap_or_else(Instant::now);
        let ctx = log_context(
            api, &d, &ids, remote, wall, &parts, &notes, &response, started,
        );
        sink.write(access_log::render(format, &ctx));
    }
    let h = response.headers_mut();
    h.insert(
        HeaderName::from_static(consts::X_AMZN_REQUEST_ID),
        ids.request_id,
    );
    h.insert(
        HeaderName::from_static(consts::X_AMZ_APIGW_ID),
        ids.extended,
    );
    response
}

fn source_ip(remote: Option<SocketAddr>) -> String {
    remote
        .map(|r| r.ip().to_string())
        .unwrap_or_else(|| "127.0.0.1".to_owned())
}

#[allow(clippy::too_many_arguments)]
fn log_context(
    api: &RestApi,
    d: &Deployment,
    ids: &Ids,
    remote: Option<SocketAddr>,
    wall: SystemTime,
    parts: &http::request::Parts,
    notes: &Notes<'_>,
    response: &Resp,
    started: Instant,
) -> BTreeMap<&'static str, String> {
    let ms = wall
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_millis();
    let mut c: BTreeMap<&'static str, String> = BTreeMap::new();
    c.insert("requestId", ids.request_id().to_owned());
    c.insert("extendedRequestId", ids.extended().to_owned());
    c.insert("accountId", api.options.account_id.clone());
    c.insert("apiId", d.spec.api_id.clone());
    c.insert("identity.sourceIp", source_ip(remote));
    c.insert("protocol", "HTTP/1.1".to_owned());
    c.insert("httpMethod", parts.method.as_str().to_owned());
    c.insert("path", parts.uri.path().to_owned());
    if let Some(ua) = parts
        .headers
        .get(http::header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
    {
        c.insert("identity.userAgent", ua.to_owned());
    }
    c.insert("requestTimeEpoch", ms.to_string());
    c.insert("requestTime", crate::common::event::clf_time(ms as i64));
    if let Some(s) = notes.stage {
        c.insert("stage", s.spec.name.clone());
    }
    if let Some(r) = notes.resource {
        c.insert("resourcePath", r.path.clone());
        c.insert("resourceId", r.id.clone());
    }
    c.insert("status", response.status().as_u16().to_string());
    use http_body::Body as _;
    c.insert(
        "responseLength",
        response
            .body()
            .size_hint()
            .exact()
            .map(|n| n.to_string())
            .unwrap_or_default(),
    );
    c.insert("responseLatency", started.elapsed().as_millis().to_string());
    if let Some(o) = notes.cache {
        c.insert("cacheStatus", o.as_str().to_owned());
    }
    if let Some(l) = notes.integration_latency {
        c.insert("integrationLatency", l.to_string());
        c.insert("integration.latency", l.to_string());
    }
    if let Some(s) = notes.integration_status {
        c.insert("integrationStatus", s.to_string());
        c.insert("integration.status", s.to_string());
    }
    if let Some(e) = notes.error {
        let message = serde_json::from_str::<J>(e.body)
            .ok()
            .and_then(|v| {
                v.get("message")
                    .or_else(|| v.get("Message"))
                    .and_then(J::as_str)
                    .map(str::to_owned)
            })
            .unwrap_or_default();
        c.insert("error.messageString", format!("\"{message}\""));
        c.insert("error.message", message);
        c.insert("error.responseType", e.response_type.to_owned());
    }
    if let Some(e) = &notes.authorizer_error {
        c.insert("authorizer.error", e.clone());
    }
    if let Some(k) = &notes.api_key_id {
        c.insert("identity.apiKeyId", k.clone());
    }
    c
}

/// The request head's values for cache keys.
struct HeadValues<'a> {
    headers: &'a HeaderMap,
    query: &'a str,
    path_params: &'a [(String, String)],
}

impl KeyValues for HeadValues<'_> {
    fn path_param(&self, name: &str) -> Option<&str> {
        self.path_params
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
    fn query_values(&self, name: &str) -> Vec<String> {
        form_urlencoded::parse(self.query.as_bytes())
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.into_owned())
            .collect()
    }
    fn header_values(&self, name: &str) -> Vec<String> {
        self.headers
            .get_all(name)
            .iter()
            .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
            .collect()
    }
}

/// What the integration and the authorizer need beyond the request: made on demand, so a
/// cache hit never builds them.
struct Lazy<'a> {
    api: &'a RestApi,
    d: &'a Deployment,
    parts: &'a http::request::Parts,
    body: &'a Bytes,
    stage: &'a Stage,
    stage_path: &'a str,
    method: &'a MethodSpec,
    resource: &'a ResourceSpec,
    params: &'a [(String, String)],
    ids: &'a Ids,
    remote: Option<SocketAddr>,
    wall: SystemTime,
}

impl Lazy<'_> {
    fn facts(&self, authorizer: Authorization) -> RequestFacts {
        facts_of(
            self.api,
            self.d,
            self.parts,
            self.body.clone(),
            self.stage,
            self.stage_path,
            self.method,
            self.params,
            self.ids.request_id(),
            &source_ip(self.remote),
            self.wall,
            authorizer,
        )
    }

    fn rest(&self) -> RestContext {
        RestContext {
            resource_id: self.resource.id.clone(),
            resource_path: self.resource.path.clone(),
            extended_request_id: self.ids.extended().to_owned(),
            deployment_id: self.stage.spec.deployment_id.clone(),
            api_key: None,
            binary_body: false,
        }
    }
}

#[allow(clippy::too_many_arguments)]
async fn serve<'d, B>(
    api: &RestApi,
    d: &'d Deployment,
    parts: &http::request::Parts,
    body: B,
    ids: &Ids,
    remote: Option<SocketAddr>,
    wall: SystemTime,
    notes: &mut Notes<'d>,
) -> Resp
where
    B: http_body::Body<Data = Bytes> + Send,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let raw_path = parts.uri.path();
    // Stage: always the first path segment of a REST API.
    let after = raw_path.strip_prefix('/').unwrap_or(raw_path);
    let (first, rest) = match after.find('/') {
        Some(i) => (&after[..i], &after[i..]),
        None => (after, ""),
    };
    let Some(stage) = d.stages.get(first) else {
        return gateway_response(notes, errors::MISSING_AUTHENTICATION_TOKEN);
    };
    notes.stage = Some(stage);
    let stage_path = if rest.is_empty() { "/" } else { rest };
    let Some(found) = d.tree.find(stage_path) else {
        return gateway_response(notes, errors::MISSING_AUTHENTICATION_TOKEN);
    };
    let method = parts.method.as_str();
    let methods = &d.resource_methods[found.resource];
    let Some(&(_, mi)) = methods
        .iter()
        .find(|(m, _)| m == method)
        .or_else(|| methods.iter().find(|(m, _)| m == ANY))
    else {
        return gateway_response(notes, errors::MISSING_AUTHENTICATION_TOKEN);
    };
    let m = &d.spec.methods[mi];
    let resource = &d.spec.resources[d.method_resource[mi]];
    notes.resource = Some(resource);
    let sm = &stage.methods[mi];

    // Request size, before anything else is read.
    let declared = parts
        .headers
        .get(http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|n| n > limits::MAX_PAYLOAD) {
        return gateway_response(notes, errors::REQUEST_TOO_LARGE);
    }
    let body = if declared == Some(0) || body.is_end_stream() {
        Bytes::new()
    } else {
        match Box::pin(http_body_util::Limited::new(body, limits::MAX_PAYLOAD).collect()).await {
            Ok(b) => b.to_bytes(),
            Err(_) => return gateway_response(notes, errors::REQUEST_TOO_LARGE),
        }
    };

    // Throttling of the stage and method, before the authorizer.
    if let Some(bucket) = &sm.bucket {
        let ok = bucket
            .lock()
            .map(|mut b| b.try_take(Instant::now()))
            .unwrap_or(true);
        if !ok {
            return gateway_response(notes, errors::THROTTLED);
        }
    }

    let lazy = Lazy {
        api,
        d,
        parts,
        body: &body,
        stage,
        stage_path,
        method: m,
        resource,
        params: &found.params,
        ids,
        remote,
        wall,
    };
    let mut rest_ctx: Option<RestContext> = None;
    let mut facts: Option<RequestFacts> = None;

    // Lambda authorizer.
    let mut usage_key: Option<String> = None;
    if let MethodAuth::Authorizer(name) = &m.auth {
        let mut f = lazy.facts(Authorization::None);
        let ctx = lazy.rest();
        let a = &d.spec.authorizers[name];
        match Box::pin(authorize(api, d, name, a, &f, &ctx, notes)).await {
            Ok((authorization, key)) => {
                usage_key = key;
                f.authorizer = authorization;
                facts = Some(f);
                rest_ctx = Some(ctx);
            }
            Err(e) => return gateway_response(notes, e),
        }
    }

    // API key and usage plan.
    if m.api_key_required {
        let presented = match d.spec.api_key_source {
            ApiKeySource::Header => parts
                .headers
                .get(consts::X_API_KEY)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned),
            ApiKeySource::Authorizer => usage_key,
        };
        let Some((plan, key)) = presented
            .as_deref()
            .and_then(|v| usage::find_key(&d.spec.usage_plans, &stage.spec.name, v))
        else {
            return gateway_response(notes, errors::INVALID_API_KEY);
        };
        if let Err(e) = api.usage.admit(plan, key, wall, Instant::now()) {
            return gateway_response(notes, e);
        }
        notes.api_key_id = Some(key.id.clone());
        rest_ctx.get_or_insert_with(|| lazy.rest()).api_key =
            Some((key.value.clone(), key.id.clone()));
    }

    // The stage cache.
    let cached = match (sm.cache_for(method), &stage.store) {
        (Some(c), Some(store)) => Some((c, store)),
        _ => None,
    };
    let Some((mc, store)) = cached else {
        let f = facts.unwrap_or_else(|| lazy.facts(Authorization::None));
        let ctx = rest_ctx.unwrap_or_else(|| lazy.rest());
        return match Box::pin(integrate(api, d, m, &f, &ctx, notes)).await {
            Ok(p) => respond_proxy(p, trace_header(m, &f)),
            Err(e) => gateway_response(notes, e),
        };
    };
    let key = match &mc.static_key {
        Some(k) => k.clone(),
        None => cache::key(
            &stage.spec.name,
            &d.namespaces[mi],
            method,
            &d.key_params[mi],
            &HeadValues {
                headers: &parts.headers,
                query: parts.uri.query().unwrap_or_default(),
                path_params: &found.params,
            },
        ),
    };
    let refresh = cache::wants_refresh(
        parts
            .headers
            .get_all(http::header::CACHE_CONTROL)
            .iter()
            .filter_map(|v| v.to_str().ok()),
    );
    let mut warning = false;
    let mut bypass = false;
    if refresh {
        let authorized = !mc.policy.require_authorization
            || {
                let keys = &api.options.access_keys;
                let signed = SignedRequest::new(parts, raw_path, &body);
                match ledge_sigv4::verify(keys, "execute-api", &signed, wall) {
                    Ok(_) => true,
                    Err(e) => {
                        tracing::debug!(stage = %stage.spec.name, error = %e, "cache invalidation not authorized");
                        false
                    }
                }
            };
        if authorized {
            bypass = true;
        } else {
            match mc.policy.unauthorized_strategy {
                UnauthorizedStrategy::FailWith403 => {
                    return gateway_response(notes, errors::CACHE_INVALIDATION_DENIED)
                }
                UnauthorizedStrategy::SucceedWithResponseHeader => warning = true,
                UnauthorizedStrategy::SucceedWithoutResponseHeader => {}
            }
        }
    }
    // The hit path stays in this (small) future; a miss or a refresh runs in its own,
    // boxed, so its state never weighs on hits.
    let (response, outcome) = match (bypass, store.get(&key, wall).await) {
        (false, Some(hit)) => (
            respond_cached(&hit, Some(echo_trace(&parts.headers, wall))),
            CacheOutcome::Hit,
        ),
        _ => {
            let ctx = MissContext {
                api,
                d,
                m,
                lazy: &lazy,
                store: store.as_ref(),
                key: &key,
                ttl: mc.policy.ttl,
                bypass,
            };
            match Box::pin(miss(ctx, facts, rest_ctx, notes)).await {
                Ok(r) => r,
                Err(e) => return gateway_response(notes, e),
            }
        }
    };
    mc.metrics.record(outcome);
    notes.cache = Some(outcome);
    let mut response = response;
    if warning {
        response.headers_mut().insert(
            HeaderName::from_static(consts::WARNING),
            HeaderValue::from_static(consts::UNAUTHORIZED_INVALIDATION_WARNING),
        );
    }
    response
}

/// What a cache miss (or an authorized refresh) needs.
struct MissContext<'a> {
    api: &'a RestApi,
    d: &'a Deployment,
    m: &'a MethodSpec,
    lazy: &'a Lazy<'a>,
    store: &'a dyn CacheStore,
    key: &'a CacheKey,
    ttl: Duration,
    /// An authorized `max-age=0`: skip the lookup, fill, and replace the entry.
    bypass: bool,
}

/// A miss: the integration fills the entry (once for concurrent misses of one key). `Err`
/// is a gateway response, never cached.
async fn miss(
    c: MissContext<'_>,
    facts: Option<RequestFacts>,
    rest_ctx: Option<RestContext>,
    notes: &mut Notes<'_>,
) -> Result<(Resp, CacheOutcome), GatewayResponse> {
    let MissContext {
        api,
        d,
        m,
        lazy,
        store,
        key,
        ttl,
        bypass,
    } = c;
    let wall = lazy.wall;
    let fill = || async {
        let f = facts.unwrap_or_else(|| lazy.facts(Authorization::None));
        let ctx = rest_ctx.unwrap_or_else(|| lazy.rest());
        let p = integrate(api, d, m, &f, &ctx, notes).await?;
        let trace = trace_header(m, &f);
        Ok::<_, GatewayResponse>((p, trace))
    };
    if bypass {
        let (p, trace) = fill().await?;
        store.put(key, entry_of(&p, wall, ttl)).await;
        return Ok((respond_proxy(p, trace), CacheOutcome::Miss));
    }
    // The fill's trace header, to answer the request that filled with it.
    let mut produced: Option<Option<HeaderValue>> = None;
    let l = get_or_fill(store, &api.coalescer, key, wall, || async {
        let (p, trace) = fill().await?;
        produced = Some(trace);
        Ok::<_, GatewayResponse>(entry_of(&p, wall, ttl))
    })
    .await?;
    let trace = match (l.outcome, produced) {
        (CacheOutcome::Miss, Some(t)) => t,
        _ => Some(echo_trace(&lazy.parts.headers, wall)),
    };
    Ok((respond_cached(&l.response, trace), l.outcome))
}

/// The trace header on a cache hit: the client's, else a fresh one.
fn echo_trace(headers: &HeaderMap, wall: SystemTime) -> HeaderValue {
    match headers.get(consts::X_AMZN_TRACE_ID) {
        Some(v) => v.clone(),
        None => trace_value(wall),
    }
}

/// `X-Amzn-Trace-Id` goes back to the client except for HTTP_PROXY and MOCK integrations.
fn trace_header(m: &MethodSpec, f: &RequestFacts) -> Option<HeaderValue> {
    match &m.integration {
        RestIntegration::HttpProxy { .. } | RestIntegration::Mock { .. } => None,
        RestIntegration::Mapped(mi) if mi.target == MappedTarget::Mock => None,
        _ => f
            .header(consts::X_AMZN_TRACE_ID)
            .and_then(|v| HeaderValue::from_str(&v).ok()),
    }
}

fn entry_of(p: &ProxyResponse, wall: SystemTime, ttl: Duration) -> CachedResponse {
    CachedResponse::new(
        p.status,
        p.headers
            .iter()
            .filter(|(k, _)| !skip_header(k))
            .map(|(k, v)| (k.to_ascii_lowercase(), Bytes::copy_from_slice(v.as_bytes())))
            .collect(),
        p.body.clone(),
        wall,
        ttl,
    )
}

fn skip_header(name: &str) -> bool {
    name.eq_ignore_ascii_case("content-length") || name.eq_ignore_ascii_case("transfer-encoding")
}

fn respond_proxy(p: ProxyResponse, trace: Option<HeaderValue>) -> Resp {
    let mut r = Resp::new(Full::new(p.body));
    *r.status_mut() = StatusCode::from_u16(p.status).unwrap_or(StatusCode::BAD_GATEWAY);
    let h = r.headers_mut();
    for (k, v) in p.headers {
        if skip_header(&k) {
            continue;
        }
        if let (Ok(k), Ok(v)) = (
            HeaderName::from_bytes(k.as_bytes()),
            HeaderValue::from_str(&v),
        ) {
            h.append(k, v);
        }
    }
    if let Some(t) = trace {
        h.insert(HeaderName::from_static(consts::X_AMZN_TRACE_ID), t);
    }
    r
}

fn respond_cached(c: &CachedResponse, trace: Option<HeaderValue>) -> Resp {
    let mut r = Resp::new(Full::new(c.body.clone()));
    *r.status_mut() = StatusCode::from_u16(c.status).unwrap_or(StatusCode::BAD_GATEWAY);
    let h = r.headers_mut();
    h.reserve(c.headers.len() + 3);
    for (k, v) in &c.headers {
        if let (Ok(k), Ok(v)) = (
            HeaderName::from_bytes(k.as_bytes()),
            HeaderValue::from_maybe_shared(v.clone()),
        ) {
            h.append(k, v);
        }
    }
    if let Some(t) = trace {
        h.insert(HeaderName::from_static(consts::X_AMZN_TRACE_ID), t);
    }
    r
}

#[allow(clippy::too_many_arguments)]
fn facts_of(
    api: &RestApi,
    d: &Deployment,
    parts: &http::request::Parts,
    body: Bytes,
    stage: &Stage,
    stage_path: &str,
    m: &MethodSpec,
    params: &[(String, String)],
    request_id: &str,
    source_ip: &str,
    wall: SystemTime,
    authorizer: Authorization,
) -> RequestFacts {
    let since = wall.duration_since(UNIX_EPOCH).unwrap_or_default();
    let mut headers = crate::common::event::header_pairs(&parts.headers);
    let port = parts
        .headers
        .get(http::header::HOST)
        .and_then(|h| h.to_str().ok())
        .and_then(|h| h.rsplit_once(':'))
        .map(|(_, p)| p.to_owned())
        .unwrap_or_else(|| "80".to_owned());
    match headers.iter_mut().find(|(k, _)| k == "x-forwarded-for") {
        Some((_, v)) => {
            v.push_str(", ");
            v.push_str(source_ip);
        }
        None => headers.push(("x-forwarded-for".to_owned(), source_ip.to_owned())),
    }
    headers.retain(|(k, _)| k != "x-forwarded-port" && k != "x-forwarded-proto");
    headers.push(("x-forwarded-port".to_owned(), port));
    headers.push(("x-forwarded-proto".to_owned(), "http".to_owned()));
    if !headers.iter().any(|(k, _)| k == consts::X_AMZN_TRACE_ID) {
        headers.push((
            consts::X_AMZN_TRACE_ID.to_owned(),
            crate::common::ids::trace_id(since.as_secs()),
        ));
    }
    RequestFacts {
        api_id: d.spec.api_id.clone(),
        account_id: api.options.account_id.clone(),
        method: parts.method.as_str().to_owned(),
        raw_path: parts.uri.path().to_owned(),
        stage_path: stage_path.to_owned(),
        raw_query: parts.uri.query().unwrap_or_default().to_owned(),
        headers,
        body,
        source_ip: source_ip.to_owned(),
        request_id: request_id.to_owned(),
        time_epoch_ms: since.as_millis() as i64,
        stage: stage.spec.name.clone(),
        stage_variables: stage.variables.clone(),
        route_key: format!("{} {}", m.http_method, m.resource_path),
        path_params: params.to_vec(),
        authorizer,
    }
}

async fn authorize(
    api: &RestApi,
    d: &Deployment,
    name: &str,
    a: &RestAuthorizerSpec,
    f: &RequestFacts,
    rest: &RestContext,
    notes: &mut Notes<'_>,
) -> Result<(Authorization, Option<String>), GatewayResponse> {
    let identity = auth::identity(a, d.validations.get(name), f).inspect_err(|_| {
        notes.authorizer_error = Some("identity source missing or invalid".into());
    })?;
    let arn = auth::method_arn(f, &api.options.region);
    let now = Instant::now();
    let cached = api
        .auth_cache
        .lock()
        .ok()
        .and_then(|c| c.get(name, &identity, now));
    let payload = match cached {
        Some(p) => p,
        None => {
            let ev = auth::event(a, f, rest, &identity, &arn);
            let payload = serde_json::to_vec(&ev).unwrap_or_default();
            let function = rest_proxy::with_stage_variables(&a.function, f);
            let outcome = lambda::invoke(
                api.invoker.as_ref(),
                &function,
                payload,
                f.header(consts::X_AMZN_TRACE_ID),
                limits::AUTHORIZER_TIMEOUT,
            )
            .await;
            match outcome {
                Ok(InvokeOutcome::Success { payload }) => {
                    // Only answers that are policies are cached.
                    if auth::decide(&payload, &arn).is_ok() {
                        if let Ok(mut c) = api.auth_cache.lock() {
                            c.put(name, identity.clone(), payload.clone(), a.result_ttl, now);
                        }
                    }
                    payload
                }
                Ok(InvokeOutcome::FunctionError { payload, .. })
                    if auth::is_unauthorized_error(&payload) =>
                {
                    notes.authorizer_error = Some("Unauthorized".into());
                    return Err(errors::UNAUTHORIZED);
                }
                Ok(other) => {
                    tracing::warn!(authorizer = %name, outcome = other.as_str(), "the Lambda authorizer failed");
                    notes.authorizer_error =
                        Some(format!("the authorizer failed: {}", other.as_str()));
                    return Err(errors::AUTHORIZER_FAILURE);
                }
                Err(e) => {
                    tracing::warn!(authorizer = %name, error = ?e, "the Lambda authorizer could not run");
                    notes.authorizer_error = Some(format!("{e:?}"));
                    return Err(errors::AUTHORIZER_FAILURE);
                }
            }
        }
    };
    let decision = auth::decide(&payload, &arn)?;
    auth::enforce(&decision)?;
    Ok((
        Authorization::Lambda {
            context: decision.context,
            principal_id: decision.principal_id,
        },
        decision.usage_identifier_key,
    ))
}

/// Runs the method's integration. `Err` is a gateway response (never cached).
async fn integrate(
    api: &RestApi,
    d: &Deployment,
    m: &MethodSpec,
    f: &RequestFacts,
    rest: &RestContext,
    notes: &mut Notes<'_>,
) -> Result<ProxyResponse, GatewayResponse> {
    let t0 = Instant::now();
    let result = match &m.integration {
        RestIntegration::Lambda { function, timeout } => {
            let mut rest = rest.clone();
            rest.binary_body = !f.body.is_empty()
                && rest_response::matches_media_type(
                    &d.spec.binary_media_types,
                    f.header("content-type").as_deref(),
                );
            let ev = v1_event(f, V1Flavor::Rest(&rest));
            let payload = serde_json::to_vec(&ev).unwrap_or_default();
            let function = rest_proxy::with_stage_variables(function, f);
            match lambda::invoke(
                api.invoker.as_ref(),
                &function,
                payload,
                f.header(consts::X_AMZN_TRACE_ID),
                *timeout,
            )
            .await
            {
                Err(InvokeFailure::Timeout) => {
                    tracing::warn!(stage = %f.stage, route = %f.route_key, function = %function, "integration timed out");
                    notes.integration_status = Some(504);
                    Err(errors::INTEGRATION_TIMEOUT)
                }
                Err(InvokeFailure::Platform(e)) => {
                    tracing::warn!(stage = %f.stage, route = %f.route_key, error = %e, "Lambda integration failed");
                    Err(errors::API_CONFIGURATION_ERROR)
                }
                Ok(InvokeOutcome::Success { payload }) => {
                    notes.integration_status = Some(200);
                    let binary_accept = rest_response::accept_matches(
                        &d.spec.binary_media_types,
                        f.header("accept").as_deref(),
                    );
                    rest_response::from_lambda(&payload, binary_accept).map_err(|e| {
                        tracing::warn!(stage = %f.stage, route = %f.route_key, error = %e.0, "malformed Lambda proxy response");
                        errors::INTERNAL_SERVER_ERROR
                    })
                }
                Ok(other) => {
                    notes.integration_status = Some(200);
                    tracing::warn!(stage = %f.stage, route = %f.route_key, outcome = other.as_str(), "the function failed");
                    Err(errors::INTERNAL_SERVER_ERROR)
                }
            }
        }
        RestIntegration::HttpProxy {
            uri,
            method,
            timeout,
            request_parameters,
        } => {
            let out = rest_proxy::outgoing(uri, method, request_parameters, f, true);
            http_call(api, out, f.body.clone(), *timeout, notes).await
        }
        RestIntegration::Mapped(mi) => {
            let compiled = d
                .spec
                .methods
                .iter()
                .position(|x| std::ptr::eq(x, m))
                .and_then(|i| d.mapped.get(i))
                .and_then(Option::as_ref);
            let Some(compiled) = compiled else {
                return Err(errors::API_CONFIGURATION_ERROR);
            };
            let env = mapped::Env {
                invoker: &api.invoker,
                client: &api.client,
                aws: &api.options.aws,
                roles: &api.roles,
                region: &api.options.region,
                binary_media_types: &d.spec.binary_media_types,
                now: SystemTime::now(),
            };
            let mut status = None;
            let r = mapped::run(&env, mi, compiled, f, rest, &mut status).await;
            notes.integration_status = status;
            r
        }
        RestIntegration::Mock {
            status,
            headers,
            body,
        } => Ok(ProxyResponse {
            status: *status,
            headers: {
                let mut h = headers.clone();
                h.push(("Content-Type".into(), consts::JSON.into()));
                h
            },
            body: Bytes::from(body.clone()),
        }),
    };
    notes.integration_latency = Some(t0.elapsed().as_millis());
    result
}

async fn http_call(
    api: &RestApi,
    out: rest_proxy::Outgoing,
    body: Bytes,
    timeout: Duration,
    notes: &mut Notes<'_>,
) -> Result<ProxyResponse, GatewayResponse> {
    let Ok(method) = reqwest::Method::from_bytes(out.method.as_bytes()) else {
        return Err(errors::API_CONFIGURATION_ERROR);
    };
    let Ok(url) = reqwest::Url::parse(&out.url) else {
        tracing::warn!(url = %out.url, "the HTTP integration URI is not a URL");
        return Err(errors::API_CONFIGURATION_ERROR);
    };
    let mut rb = api.client.request(method, url).timeout(timeout);
    for (k, v) in &out.headers {
        rb = rb.header(k, v);
    }
    let resp = match rb.body(body).send().await {
        Ok(r) => r,
        Err(e) if e.is_timeout() => {
            notes.integration_status = Some(504);
            return Err(errors::INTEGRATION_TIMEOUT);
        }
        Err(e) => {
            tracing::warn!(url = %out.url, error = %e, "HTTP integration failed");
            return Err(errors::INTEGRATION_FAILURE);
        }
    };
    let status = resp.status().as_u16();
    notes.integration_status = Some(status);
    let headers: Vec<(String, String)> = crate::common::event::end_to_end_pairs(resp.headers());
    let body = match resp.bytes().await {
        Ok(b) => b,
        Err(e) if e.is_timeout() => return Err(errors::INTEGRATION_TIMEOUT),
        Err(_) => return Err(errors::INTEGRATION_FAILURE),
    };
    Ok(ProxyResponse {
        status,
        headers,
        body,
    })
}

/// All REST APIs of one ledge, by API id: what the management API acts on.
#[derive(Default)]
pub struct RestRegistry {
    apis: std::sync::RwLock<BTreeMap<String, Arc<RestApi>>>,
}

impl RestRegistry {
    pub fn insert(&self, api: Arc<RestApi>) {
        let id = api.current.load().spec.api_id.clone();
        self.apis
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .insert(id, api);
    }

    pub fn get(&self, id: &str) -> Option<Arc<RestApi>> {
        self.apis
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(id)
            .cloned()
    }

    pub fn all(&self) -> Vec<Arc<RestApi>> {
        self.apis
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .values()
            .cloned()
            .collect()
    }
}

impl std::fmt::Debug for RestRegistry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let ids: Vec<String> = self
            .apis
            .read()
            .map(|m| m.keys().cloned().collect())
            .unwrap_or_default();
        f.debug_struct("RestRegistry").field("apis", &ids).finish()
    }
}
