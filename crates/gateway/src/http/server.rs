//! Serving one HTTP API: the request pipeline (stage → CORS preflight → route → throttle →
//! authorizer → integration → CORS headers → access log) over an atomically swappable
//! deployment.

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use arc_swap::ArcSwap;
use axum::body::Body;
use axum::extract::{ConnectInfo, Request, State};
use axum::response::Response;
use bytes::Bytes;
use http::{HeaderName, HeaderValue, StatusCode};
use ledge_model::{Invoke, InvokeError, InvokeOutcome};
use serde_json::Map;

use super::consts::{self, body, limits};
use super::event::{self, Authorization, RequestFacts};
use super::jwt::{self, JwksCache, JwtFailure};
use super::lambda_auth::{self, ResultCache};
use super::proxy::{self, Sources};
use super::response::{self, ProxyResponse};
use super::routes::RouteTable;
use super::spec::*;
use super::{cors, routes};
use crate::common::lambda::{self, InvokeFailure};
use crate::common::throttle::{self, TokenBucket};
use crate::common::{
    access_log::{self, AccessLogSink},
    ids,
};
use crate::GatewayError;

/// Where the API pretends to live, and where its access log goes.
#[derive(Debug, Clone)]
pub struct GatewayOptions {
    pub region: String,
    pub account_id: String,
    pub access_log: Option<AccessLogSink>,
}

impl Default for GatewayOptions {
    fn default() -> Self {
        Self {
            region: ledge_model::DEFAULT_REGION.to_owned(),
            account_id: ledge_model::DEFAULT_ACCOUNT_ID.to_owned(),
            access_log: None,
        }
    }
}

/// One compiled deployment: immutable, swapped whole.
struct Deployment {
    spec: HttpApiSpec,
    table: RouteTable,
    stages: HashMap<String, Stage>,
}

struct Stage {
    spec: StageSpec,
    /// Per route index; `None` = unlimited.
    buckets: Vec<Option<Mutex<TokenBucket>>>,
    log_format: String,
}

/// A served HTTP API.
pub struct HttpApi {
    current: ArcSwap<Deployment>,
    invoker: Arc<dyn Invoke>,
    jwks: JwksCache,
    auth_cache: Mutex<ResultCache>,
    client: reqwest::Client,
    options: GatewayOptions,
}

impl HttpApi {
    /// Compiles the first deployment.
    pub fn new(
        spec: HttpApiSpec,
        invoker: Arc<dyn Invoke>,
        options: GatewayOptions,
    ) -> Result<Arc<Self>, GatewayError> {
        let d = compile(spec)?;
        Ok(Arc::new(Self {
            current: ArcSwap::from_pointee(d),
            invoker,
            jwks: JwksCache::new(),
            auth_cache: Mutex::new(ResultCache::default()),
            client: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .tcp_nodelay(true)
                .build()
                .unwrap_or_default(),
            options,
        }))
    }

    /// Swaps in a new deployment (autoDeploy). A spec that fails to compile leaves the
    /// last good deployment serving and returns why.
    pub fn redeploy(&self, spec: HttpApiSpec) -> Result<(), GatewayError> {
        let d = compile(spec)?;
        self.current.store(Arc::new(d));
        self.reset_authorizers_cache();
        Ok(())
    }

    /// The spec now serving.
    pub fn spec(&self) -> HttpApiSpec {
        self.current.load().spec.clone()
    }

    /// `ResetAuthorizersCache`.
    pub fn reset_authorizers_cache(&self) {
        if let Ok(mut c) = self.auth_cache.lock() {
            c.clear();
        }
    }
}

fn compile(spec: HttpApiSpec) -> Result<Deployment, GatewayError> {
    let api = spec.logical_id.clone();
    for r in &spec.routes {
        routes::RouteKey::parse(&r.key).map_err(|message| GatewayError::RouteKey {
            api: api.clone(),
            key: r.key.clone(),
            message,
        })?;
        if let RouteAuth::Authorizer { name, .. } = &r.auth {
            if !spec.authorizers.contains_key(name) {
                return Err(GatewayError::UnknownAuthorizer {
                    api: api.clone(),
                    route: r.key.clone(),
                    authorizer: name.clone(),
                });
            }
        }
        if let IntegrationSpec::Http {
            request_parameters,
            response_parameters,
            ..
        } = &r.integration
        {
            for (k, _) in request_parameters
                .iter()
                .chain(response_parameters.values().flatten())
            {
                proxy::parse_key(k)
                    .map_err(|m| GatewayError::spec(&api, "RequestParameters", m))?;
            }
        }
    }
    for (name, a) in &spec.authorizers {
        if let AuthorizerSpec::Jwt { issuer, .. } = a {
            if !jwt::issuer_allowed(issuer) {
                return Err(GatewayError::spec(
                    format!("{api}.{name}"),
                    "JwtConfiguration.issuer",
                    format!(
                        "{issuer}: the issuer must be https:// (or http:// on a loopback address)"
                    ),
                ));
            }
        }
    }
    let table = RouteTable::compile(spec.routes.iter().map(|r| r.key.as_str()));
    let now = Instant::now();
    let stages = spec
        .stages
        .iter()
        .map(|s| {
            let buckets = spec
                .routes
                .iter()
                .map(|r| {
                    let o = s.route_settings.get(&r.key).copied().unwrap_or_default();
                    let d = s.default_route_settings;
                    throttle::bucket_for(
                        o.throttling_rate_limit.or(d.throttling_rate_limit),
                        o.throttling_burst_limit.or(d.throttling_burst_limit),
                        now,
                    )
                    .map(Mutex::new)
                })
                .collect();
            let log_format = s
                .access_log
                .as_ref()
                .and_then(|a| a.format.clone())
                .unwrap_or_else(|| access_log::DEFAULT_FORMAT.to_owned());
            (
                s.name.clone(),
                Stage {
                    spec: s.clone(),
                    buckets,
                    log_format,
                },
            )
        })
        .collect();
    Ok(Deployment {
        spec,
        table,
        stages,
    })
}

/// The API's router: every path and method goes through [`handle`].
pub fn router(api: Arc<HttpApi>) -> axum::Router {
    axum::Router::new().fallback(handle).with_state(api)
}

/// What the access log learns while a request is served.
#[derive(Default)]
struct LogNotes {
    stage: Option<String>,
    route_key: Option<String>,
    integration_latency: Option<u128>,
    integration_status: Option<String>,
    error_message: Option<&'static str>,
    error_type: Option<&'static str>,
    authorizer_error: Option<String>,
}

fn json_response(status: u16, body_text: &'static str) -> Response {
    let mut r = Response::new(Body::from(body_text));
    *r.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    r.headers_mut().insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static(consts::JSON),
    );
    r
}

/// The error answers and their `$context.error.responseType`.
fn gateway_error(
    notes: &mut LogNotes,
    status: u16,
    body_text: &'static str,
    kind: &'static str,
) -> Response {
    notes.error_message = Some(body_text);
    notes.error_type = Some(kind);
    json_response(status, body_text)
}

async fn handle(State(api): State<Arc<HttpApi>>, req: Request) -> Response {
    let started = Instant::now();
    let wall = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    let id = ids::short_request_id();
    let source_ip = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip().to_string())
        .unwrap_or_else(|| "127.0.0.1".to_owned());
    let deployment = api.current.load_full();
    let mut notes = LogNotes::default();
    let (mut response, facts) =
        serve(&api, &deployment, req, &id, &source_ip, wall, &mut notes).await;
    if let Ok(v) = HeaderValue::from_str(&id) {
        response
            .headers_mut()
            .insert(HeaderName::from_static(consts::APIGW_REQUEST_ID), v);
    }
    if let Some(sink) = &api.options.access_log {
        let stage = notes
            .stage
            .as_deref()
            .and_then(|s| deployment.stages.get(s));
        let format = stage
            .map(|s| s.log_format.as_str())
            .unwrap_or(access_log::DEFAULT_FORMAT);
        let ctx = log_context(
            &api,
            &id,
            &source_ip,
            wall,
            facts.as_ref(),
            &notes,
            &response,
            started,
        );
        sink.write(access_log::render(format, &ctx));
    }
    response
}

#[allow(clippy::too_many_arguments)]
fn log_context(
    api: &HttpApi,
    id: &str,
    source_ip: &str,
    wall: Duration,
    facts: Option<&RequestFacts>,
    notes: &LogNotes,
    response: &Response,
    started: Instant,
) -> BTreeMap<&'static str, String> {
    let mut c: BTreeMap<&'static str, String> = BTreeMap::new();
    c.insert("requestId", id.to_owned());
    c.insert("extendedRequestId", id.to_owned());
    c.insert("accountId", api.options.account_id.clone());
    c.insert("apiId", api.current.load().spec.api_id.clone());
    c.insert("identity.sourceIp", source_ip.to_owned());
    c.insert("protocol", "HTTP/1.1".to_owned());
    c.insert("requestTimeEpoch", wall.as_millis().to_string());
    c.insert(
        "requestTime",
        crate::common::event::clf_time(wall.as_millis() as i64),
    );
    if let Some(f) = facts {
        c.insert("httpMethod", f.method.clone());
        c.insert("path", f.raw_path.clone());
        c.insert("identity.userAgent", f.user_agent());
        c.insert("domainName", f.domain_name());
        c.insert("domainPrefix", f.domain_prefix());
    }
    if let Some(s) = &notes.stage {
        c.insert("stage", s.clone());
    }
    if let Some(r) = &notes.route_key {
        c.insert("routeKey", r.clone());
    }
    c.insert("status", response.status().as_u16().to_string());
    let len = response
        .headers()
        .get(http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
        .unwrap_or_else(|| {
            use http_body::Body as _;
            response
                .body()
                .size_hint()
                .exact()
                .map(|n| n.to_string())
                .unwrap_or_default()
        });
    c.insert("responseLength", len);
    c.insert("responseLatency", started.elapsed().as_millis().to_string());
    if let Some(l) = notes.integration_latency {
        c.insert("integrationLatency", l.to_string());
        c.insert("integration.latency", l.to_string());
    }
    if let Some(s) = &notes.integration_status {
        c.insert("integrationStatus", s.clone());
        c.insert("integration.status", s.clone());
    }
    if let Some(m) = notes.error_message {
        c.insert("error.message", m.to_owned());
        c.insert("error.messageString", format!("\"{m}\""));
    }
    if let Some(t) = notes.error_type {
        c.insert("error.responseType", t.to_owned());
    }
    if let Some(e) = &notes.authorizer_error {
        c.insert("authorizer.error", e.clone());
    }
    c
}

#[allow(clippy::too_many_arguments)]
async fn serve(
    api: &HttpApi,
    d: &Deployment,
    req: Request,
    id: &str,
    source_ip: &str,
    wall: Duration,
    notes: &mut LogNotes,
) -> (Response, Option<RequestFacts>) {
    let (parts, body) = req.into_parts();
    let method = parts.method.as_str().to_owned();
    let raw_path = parts.uri.path().to_owned();
    let raw_query = parts.uri.query().unwrap_or_default().to_owned();
    let mut headers = crate::common::event::header_pairs(&parts.headers);

    // 10 MB, before anything else.
    let declared = parts
        .headers
        .get(http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    let too_large = || {
        let mut r = Response::new(Body::from(body::PAYLOAD_TOO_LARGE));
        *r.status_mut() = StatusCode::PAYLOAD_TOO_LARGE;
        r.headers_mut().insert(
            http::header::CONTENT_TYPE,
            HeaderValue::from_static(body::PAYLOAD_TOO_LARGE_TYPE),
        );
        r
    };
    if declared.is_some_and(|n| n > limits::MAX_PAYLOAD) {
        notes.error_type = Some("REQUEST_TOO_LARGE");
        return (too_large(), None);
    }
    let body = match axum::body::to_bytes(body, limits::MAX_PAYLOAD).await {
        Ok(b) => b,
        Err(_) => {
            notes.error_type = Some("REQUEST_TOO_LARGE");
            return (too_large(), None);
        }
    };

    // Stage: a named stage by the first segment, else `$default`.
    let first = raw_path
        .strip_prefix('/')
        .unwrap_or(&raw_path)
        .split('/')
        .next()
        .unwrap_or_default();
    let (stage, stage_path) = match d
        .stages
        .get(first)
        .filter(|_| first != consts::DEFAULT_STAGE)
    {
        Some(s) => {
            let rest = &raw_path[1 + first.len()..];
            (
                s,
                if rest.is_empty() {
                    "/".to_owned()
                } else {
                    rest.to_owned()
                },
            )
        }
        None => match d.stages.get(consts::DEFAULT_STAGE) {
            Some(s) => (s, raw_path.clone()),
            None => {
                return (
                    gateway_error(notes, 404, body::NOT_FOUND, "RESOURCE_NOT_FOUND"),
                    None,
                )
            }
        },
    };
    notes.stage = Some(stage.spec.name.clone());

    // The headers AWS adds.
    let port = parts
        .headers
        .get(http::header::HOST)
        .and_then(|h| h.to_str().ok())
        .and_then(|h| h.rsplit_once(':'))
        .map(|(_, p)| p.to_owned())
        .unwrap_or_else(|| "80".to_owned());
    match headers
        .iter_mut()
        .find(|(k, _)| k == consts::X_FORWARDED_FOR)
    {
        Some((_, v)) => {
            v.push_str(", ");
            v.push_str(source_ip);
        }
        None => headers.push((consts::X_FORWARDED_FOR.to_owned(), source_ip.to_owned())),
    }
    headers.retain(|(k, _)| k != consts::X_FORWARDED_PORT && k != consts::X_FORWARDED_PROTO);
    headers.push((consts::X_FORWARDED_PORT.to_owned(), port));
    headers.push((consts::X_FORWARDED_PROTO.to_owned(), "http".to_owned()));
    if !headers.iter().any(|(k, _)| k == consts::X_AMZN_TRACE_ID) {
        headers.push((
            consts::X_AMZN_TRACE_ID.to_owned(),
            ids::trace_id(wall.as_secs()),
        ));
    }

    let mut facts = RequestFacts {
        api_id: d.spec.api_id.clone(),
        account_id: api.options.account_id.clone(),
        method: method.clone(),
        raw_path,
        stage_path,
        raw_query,
        headers,
        body,
        source_ip: source_ip.to_owned(),
        request_id: id.to_owned(),
        time_epoch_ms: wall.as_millis() as i64,
        stage: stage.spec.name.clone(),
        stage_variables: stage
            .spec
            .variables
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
        route_key: String::new(),
        path_params: Vec::new(),
        authorizer: Authorization::None,
    };
    let origin = facts.header(consts::ORIGIN);

    // Route; a CORS preflight is answered here unless an explicit OPTIONS route or the
    // `$default` route catches it (the `$default` exception of §4.3).
    let found = d.table.find(&method, &facts.stage_path);
    if let Some(cfg) = &d.spec.cors {
        let acrm = facts.header(consts::ACCESS_CONTROL_REQUEST_METHOD);
        if cors::is_preflight(&method, origin.as_deref(), acrm.as_deref()) {
            let caught = found.as_ref().is_some_and(|m| {
                let key = &d.spec.routes[m.index].key;
                key == consts::DEFAULT_ROUTE || key.starts_with("OPTIONS ")
            });
            if !caught {
                let mut r = Response::new(Body::empty());
                *r.status_mut() = StatusCode::NO_CONTENT;
                let acrh = facts.header(consts::ACCESS_CONTROL_REQUEST_HEADERS);
                for (k, v) in cors::preflight_headers(
                    cfg,
                    origin.as_deref().unwrap_or_default(),
                    acrh.as_deref(),
                ) {
                    if let Ok(v) = HeaderValue::from_str(&v) {
                        r.headers_mut().insert(HeaderName::from_static(k), v);
                    }
                }
                return (r, Some(facts));
            }
        }
    }
    let Some(m) = found else {
        return (
            with_cors(
                d,
                origin.as_deref(),
                gateway_error(notes, 404, body::NOT_FOUND, "RESOURCE_NOT_FOUND"),
            ),
            Some(facts),
        );
    };
    let route = &d.spec.routes[m.index];
    facts.route_key = route.key.clone();
    facts.path_params = m.params;
    notes.route_key = Some(route.key.clone());

    // Throttling, before the authorizer.
    if let Some(Some(bucket)) = stage.buckets.get(m.index) {
        let ok = bucket
            .lock()
            .map(|mut b| b.try_take(Instant::now()))
            .unwrap_or(true);
        if !ok {
            return (
                with_cors(
                    d,
                    origin.as_deref(),
                    gateway_error(notes, 429, body::TOO_MANY_REQUESTS, "THROTTLED"),
                ),
                Some(facts),
            );
        }
    }

    // Authorization.
    if let RouteAuth::Authorizer { name, scopes } = &route.auth {
        let authorizer = d
            .spec
            .authorizers
            .get(name)
            .expect("invariant: checked at compile");
        match authorize(api, name, authorizer, scopes, &facts, wall, notes).await {
            Ok(a) => facts.authorizer = a,
            Err(r) => return (with_cors(d, origin.as_deref(), r), Some(facts)),
        }
    }

    // Integration.
    let t0 = Instant::now();
    let result = match &route.integration {
        IntegrationSpec::Lambda {
            function,
            payload_format,
            timeout,
        } => lambda_integration(api, &facts, function, *payload_format, *timeout, notes).await,
        IntegrationSpec::Http {
            uri,
            method: m,
            timeout,
            request_parameters,
            response_parameters,
        } => {
            http_integration(
                api,
                &facts,
                uri,
                m.as_deref(),
                *timeout,
                request_parameters,
                response_parameters,
                notes,
            )
            .await
        }
    };
    notes.integration_latency = Some(t0.elapsed().as_millis());
    let response = match result {
        Ok(p) => build(p, d.spec.cors.is_some()),
        Err(r) => r,
    };
    (with_cors(d, origin.as_deref(), response), Some(facts))
}

/// Adds the configured CORS headers to a response for a request with an `Origin`.
fn with_cors(d: &Deployment, origin: Option<&str>, mut r: Response) -> Response {
    let (Some(cfg), Some(origin)) = (&d.spec.cors, origin) else {
        return r;
    };
    for (k, v) in cors::response_headers(cfg, origin) {
        if let Ok(v) = HeaderValue::from_str(&v) {
            r.headers_mut().insert(HeaderName::from_static(k), v);
        }
    }
    r
}

/// A function's or upstream's response as the client gets it. With a CORS configuration,
/// backend CORS headers are dropped.
fn build(p: ProxyResponse, strip_cors: bool) -> Response {
    let mut r = Response::new(Body::from(p.body));
    *r.status_mut() = StatusCode::from_u16(p.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    for (k, v) in p.headers {
        if strip_cors && cors::is_cors_header(&k) {
            continue;
        }
        if k.eq_ignore_ascii_case("content-length") || k.eq_ignore_ascii_case("transfer-encoding") {
            continue;
        }
        if let (Ok(k), Ok(v)) = (
            HeaderName::from_bytes(k.as_bytes()),
            HeaderValue::from_str(&v),
        ) {
            r.headers_mut().append(k, v);
        }
    }
    r
}

async fn invoke(
    api: &HttpApi,
    facts: &RequestFacts,
    function: &str,
    payload: Vec<u8>,
    timeout: Duration,
) -> Result<Result<InvokeOutcome, InvokeError>, ()> {
    let resolved = proxy::evaluate(
        function,
        &Sources {
            request: facts,
            response: None,
        },
    );
    let trace = facts.header(consts::X_AMZN_TRACE_ID);
    match lambda::invoke(api.invoker.as_ref(), &resolved, payload, trace, timeout).await {
        Ok(o) => Ok(Ok(o)),
        Err(InvokeFailure::Platform(e)) => Ok(Err(e)),
        Err(InvokeFailure::Timeout) => Err(()),
    }
}

async fn lambda_integration(
    api: &HttpApi,
    facts: &RequestFacts,
    function: &str,
    format: PayloadFormat,
    timeout: Duration,
    notes: &mut LogNotes,
) -> Result<ProxyResponse, Response> {
    let payload = match format {
        PayloadFormat::V2 => event::v2_bytes(facts),
        PayloadFormat::V1 => serde_json::to_vec(&event::v1(facts)).unwrap_or_default(),
    };
    let outcome = match invoke(api, facts, function, payload, timeout).await {
        Err(()) => {
            tracing::warn!(route = %facts.route_key, stage = %facts.stage, function = %function, "integration timed out");
            notes.integration_status = Some("504".into());
            return Err(gateway_error(
                notes,
                503,
                body::SERVICE_UNAVAILABLE,
                "INTEGRATION_TIMEOUT",
            ));
        }
        Ok(Err(e)) => {
            tracing::warn!(route = %facts.route_key, error = %e, "Lambda integration failed");
            return Err(gateway_error(
                notes,
                500,
                body::INTERNAL_SERVER_ERROR,
                "INTEGRATION_FAILURE",
            ));
        }
        Ok(Ok(o)) => o,
    };
    match outcome {
        InvokeOutcome::Success { payload } => {
            notes.integration_status = Some("200".into());
            response::from_lambda(format, &payload).map_err(|e| {
                tracing::warn!(route = %facts.route_key, error = %e.0, "malformed Lambda proxy response");
                gateway_error(notes, 500, body::INTERNAL_SERVER_ERROR, "INTEGRATION_FAILURE")
            })
        }
        other => {
            notes.integration_status = Some("200".into());
            tracing::warn!(route = %facts.route_key, outcome = other.as_str(), "the function failed");
            Err(gateway_error(
                notes,
                500,
                body::INTERNAL_SERVER_ERROR,
                "INTEGRATION_FAILURE",
            ))
        }
    }
}

#[allow(clippy::too_many_arguments)]
async fn http_integration(
    api: &HttpApi,
    facts: &RequestFacts,
    uri: &str,
    method: Option<&str>,
    timeout: Duration,
    request_parameters: &[(String, String)],
    response_parameters: &BTreeMap<String, Vec<(String, String)>>,
    notes: &mut LogNotes,
) -> Result<ProxyResponse, Response> {
    let url = proxy::target_url(uri, facts);
    let Ok(mut parsed) = reqwest::Url::parse(&url) else {
        tracing::warn!(url = %url, "HTTP integration URI is not a URL");
        return Err(gateway_error(
            notes,
            500,
            body::INTERNAL_SERVER_ERROR,
            "INTEGRATION_FAILURE",
        ));
    };
    let mut query: Vec<(String, String)> = parsed
        .query_pairs()
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    query.extend(facts.query_pairs());
    let mut headers: Vec<(String, String)> = facts
        .headers
        .iter()
        .filter(|(k, _)| {
            !matches!(
                k.as_str(),
                "host"
                    | "connection"
                    | "content-length"
                    | "transfer-encoding"
                    | "keep-alive"
                    | "te"
                    | "upgrade"
            )
        })
        .cloned()
        .collect();
    let mut path = parsed.path().to_owned();
    let sources = Sources {
        request: facts,
        response: None,
    };
    proxy::apply_request(
        request_parameters,
        &sources,
        &mut headers,
        &mut query,
        &mut path,
    );
    parsed.set_path(&path);
    if query.is_empty() {
        parsed.set_query(None);
    } else {
        parsed.query_pairs_mut().clear().extend_pairs(query.iter());
    }
    let method = match method {
        None | Some("ANY") => facts.method.as_str(),
        Some(m) => m,
    };
    let Ok(method) = reqwest::Method::from_bytes(method.as_bytes()) else {
        return Err(gateway_error(
            notes,
            500,
            body::INTERNAL_SERVER_ERROR,
            "INTEGRATION_FAILURE",
        ));
    };
    let mut rb = api.client.request(method, parsed).timeout(timeout);
    for (k, v) in &headers {
        rb = rb.header(k, v);
    }
    let resp = match rb.body(facts.body.clone()).send().await {
        Ok(r) => r,
        Err(e) if e.is_timeout() => {
            notes.integration_status = Some("504".into());
            return Err(gateway_error(
                notes,
                503,
                body::SERVICE_UNAVAILABLE,
                "INTEGRATION_TIMEOUT",
            ));
        }
        Err(e) => {
            tracing::warn!(url = %url, error = %e, "HTTP integration failed");
            return Err(gateway_error(
                notes,
                500,
                body::INTERNAL_SERVER_ERROR,
                "INTEGRATION_NETWORK_FAILURE",
            ));
        }
    };
    let status = resp.status().as_u16();
    notes.integration_status = Some(status.to_string());
    let mut out_headers: Vec<(String, String)> =
        crate::common::event::end_to_end_pairs(resp.headers());
    let body: Bytes = match resp.bytes().await {
        Ok(b) => b,
        Err(_) => {
            return Err(gateway_error(
                notes,
                500,
                body::INTERNAL_SERVER_ERROR,
                "INTEGRATION_NETWORK_FAILURE",
            ))
        }
    };
    let mut final_status = status;
    if let Some(mappings) = response_parameters.get(&status.to_string()) {
        let orig = out_headers.clone();
        let rs = Sources {
            request: facts,
            response: Some((&orig, &body)),
        };
        if let Some(s) = proxy::apply_response(mappings, &rs, &mut out_headers) {
            final_status = s;
        }
    }
    Ok(ProxyResponse {
        status: final_status,
        headers: out_headers,
        body,
    })
}

async fn authorize(
    api: &HttpApi,
    name: &str,
    authorizer: &AuthorizerSpec,
    route_scopes: &[String],
    facts: &RequestFacts,
    wall: Duration,
    notes: &mut LogNotes,
) -> Result<Authorization, Response> {
    match authorizer {
        AuthorizerSpec::Jwt {
            identity_source,
            issuer,
            audience,
        } => {
            let raw = identity_source
                .first()
                .and_then(|s| lambda_auth::identity_value(facts, s));
            let token = raw.as_deref().and_then(jwt::token_of);
            let result = match token {
                None => Err(JwtFailure::Missing),
                Some(t) => {
                    api.jwks
                        .verify(
                            t,
                            issuer,
                            audience,
                            route_scopes,
                            Instant::now(),
                            wall.as_secs() as i64,
                        )
                        .await
                }
            };
            match result {
                Ok((claims, scopes)) => Ok(Authorization::Jwt {
                    claims: jwt::stringify_claims(&claims),
                    scopes,
                }),
                Err(f) => {
                    notes.authorizer_error = Some(format!("{f:?}"));
                    let mut r = if f.status() == 403 {
                        gateway_error(notes, 403, body::FORBIDDEN, "ACCESS_DENIED")
                    } else {
                        gateway_error(notes, 401, body::UNAUTHORIZED, "UNAUTHORIZED")
                    };
                    if let Some(v) = f
                        .www_authenticate()
                        .and_then(|v| HeaderValue::from_str(&v).ok())
                    {
                        r.headers_mut()
                            .insert(HeaderName::from_static(consts::WWW_AUTHENTICATE), v);
                    }
                    Err(r)
                }
            }
        }
        AuthorizerSpec::Lambda {
            function,
            payload_format,
            simple_responses,
            result_ttl,
            identity_source,
        } => {
            let mut identity = Vec::with_capacity(identity_source.len());
            for s in identity_source {
                match lambda_auth::identity_value(facts, s) {
                    Some(v) => identity.push(v),
                    None => {
                        notes.authorizer_error = Some(format!("identity source {s} missing"));
                        return Err(gateway_error(
                            notes,
                            401,
                            body::UNAUTHORIZED,
                            "UNAUTHORIZED",
                        ));
                    }
                }
            }
            let now = Instant::now();
            let cached = api
                .auth_cache
                .lock()
                .ok()
                .and_then(|c| c.get(name, &identity, now));
            let decision = match cached {
                Some(d) => d,
                None => {
                    let ev = lambda_auth::request_event(
                        facts,
                        *payload_format,
                        &identity,
                        &api.options.region,
                    );
                    let payload = serde_json::to_vec(&ev).unwrap_or_default();
                    let timeout = limits::AUTHORIZER_TIMEOUT;
                    let arn = lambda_auth::route_arn(facts, &api.options.region);
                    let decision = match invoke(api, facts, function, payload, timeout).await {
                        Ok(Ok(InvokeOutcome::Success { payload })) => {
                            lambda_auth::parse_response(&payload, *simple_responses, &arn)
                        }
                        Ok(Ok(other)) => Err(format!("the authorizer failed: {}", other.as_str())),
                        Ok(Err(e)) => Err(e.to_string()),
                        Err(()) => Err("the authorizer timed out".to_owned()),
                    };
                    match decision {
                        Ok(d) => {
                            if let Ok(mut c) = api.auth_cache.lock() {
                                c.put(name, identity, d.clone(), *result_ttl, now);
                            }
                            d
                        }
                        Err(e) => {
                            tracing::warn!(route = %facts.route_key, authorizer = %name, error = %e, "Lambda authorizer error");
                            notes.authorizer_error = Some(e);
                            return Err(gateway_error(
                                notes,
                                500,
                                body::INTERNAL_SERVER_ERROR,
                                "AUTHORIZER_FAILURE",
                            ));
                        }
                    }
                }
            };
            if decision.allow {
                Ok(Authorization::Lambda {
                    context: decision.context,
                    principal_id: decision.principal_id,
                })
            } else {
                Err(gateway_error(notes, 403, body::FORBIDDEN, "ACCESS_DENIED"))
            }
        }
    }
}

// Keep `Map` in scope for doc links of `Authorization`.
#[allow(dead_code)]
type Context = Map<String, serde_json::Value>;
