//! The request path of one distribution: behaviour selection, the cache key, the tiers
//! (POP → regional edge cache → Origin Shield → origin, each with its own store and its own
//! request collapsing), revalidation, stale serving, error caching, custom error pages,
//! compression, Range and the viewer-facing headers.

use std::net::IpAddr;
use std::sync::atomic::Ordering;
use std::sync::{Arc, RwLock};
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use futures::future::BoxFuture;
use futures::FutureExt;
use http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode};
use http_body_util::{combinators::BoxBody, BodyExt, Full, StreamBody};
use ledge_cache::{Coalescer, FillRole};

use crate::body::SharedBody;
use crate::compress::{self, Encoding};
use crate::consts::*;
use crate::geo::{self, GeoPoint, LatencyModel};
use crate::headers::{self, ViewerFacts};
use crate::key::{self, EdgeKey, KeyInput};
use crate::lambda_edge::{self, Step};
use crate::origin::{self, OriginFailure, OriginRequest, OriginResponse};
use crate::report::PopCounters;
use crate::spec::*;
use crate::store::{Entry, TierStore};
use crate::ttl::{self, Directives, Freshness, Lifetime, Ttls};
use crate::EdgeConfig;

pub(crate) type Body = BoxBody<Bytes, std::io::Error>;

/// A cache tier: one POP or one regional edge cache (which also acts as Origin Shield).
pub(crate) struct Tier {
    pub(crate) at: GeoPoint,
    pub(crate) store: TierStore,
    coalescer: Coalescer<String, Arc<Upstream>>,
}

impl Tier {
    pub(crate) fn new(at: GeoPoint, capacity: u64) -> Arc<Self> {
        Arc::new(Self {
            at,
            store: TierStore::new(capacity),
            coalescer: Coalescer::new(Duration::from_secs(60)),
        })
    }
}

/// One distribution's running state.
pub(crate) struct Dist {
    pub(crate) spec: RwLock<Arc<DistributionSpec>>,
    pub(crate) pops: Vec<Arc<Tier>>,
    pub(crate) regions: Vec<Arc<Tier>>,
    /// For each POP, the index of its regional edge cache.
    pub(crate) pop_region: Vec<usize>,
    pub(crate) counters: Vec<PopCounters>,
    pub(crate) via: Vec<String>,
    /// For each POP, the viewer-facing `Via` and `X-Amz-Cf-Pop` values, made once.
    pub(crate) pop_headers: Vec<(HeaderValue, HeaderValue)>,
}

impl Dist {
    pub(crate) fn new(spec: DistributionSpec, cfg: &EdgeConfig) -> Arc<Self> {
        let pops = cfg
            .pops
            .iter()
            .map(|p| Tier::new(p.at, cfg.pop_capacity_bytes))
            .collect();
        let regions = cfg
            .regions
            .iter()
            .map(|r| Tier::new(r.at, cfg.regional_capacity_bytes))
            .collect();
        let pop_region = cfg
            .pops
            .iter()
            .map(|p| geo::nearest_region(&cfg.regions, p.at).unwrap_or(0))
            .collect();
        let via: Vec<String> = cfg
            .pops
            .iter()
            .map(|p| headers::via_host(&spec.id, &p.id))
            .collect();
        let pop_headers = cfg
            .pops
            .iter()
            .zip(&via)
            .map(|(p, v)| {
                (
                    HeaderValue::from_str(&format!("1.1 {v} (CloudFront)"))
                        .unwrap_or(HeaderValue::from_static("1.1 cloudfront.net (CloudFront)")),
                    HeaderValue::from_str(&p.id).unwrap_or(HeaderValue::from_static("-")),
                )
            })
            .collect();
        Arc::new(Self {
            counters: cfg.pops.iter().map(|_| PopCounters::default()).collect(),
            spec: RwLock::new(Arc::new(spec)),
            pops,
            regions,
            pop_region,
            via,
            pop_headers,
        })
    }

    pub(crate) fn spec(&self) -> Arc<DistributionSpec> {
        Arc::clone(&self.spec.read().unwrap_or_else(|e| e.into_inner()))
    }

    pub(crate) fn all_tiers(&self) -> impl Iterator<Item = &Arc<Tier>> {
        self.pops.iter().chain(self.regions.iter())
    }
}

/// What one tier hands to the tier below it.
#[derive(Debug)]
pub(crate) struct Upstream {
    entry: Arc<Entry>,
    status: CacheStatus,
    layer: Layer,
    /// Simulated round trips beyond the tier that received this, ms.
    latency_ms: f64,
}

/// Everything about one viewer request, owned so background refreshes can keep it.
pub(crate) struct Ctx {
    pub(crate) cfg: Arc<EdgeConfig>,
    pub(crate) client: reqwest::Client,
    pub(crate) dist: Arc<Dist>,
    pub(crate) spec: Arc<DistributionSpec>,
    behavior: usize,
    pub(crate) pop: usize,
    pub(crate) viewer: ViewerFacts,
    viewer_at: GeoPoint,
    method: Method,
    path: String,
    query: Option<String>,
    headers: HeaderMap,
    body: Bytes,
    request_id: String,
    key: EdgeKey,
    accept_encoding: Option<&'static str>,
}

impl Ctx {
    fn behavior(&self) -> &BehaviorSpec {
        if self.behavior == usize::MAX {
            &self.spec.default_behavior
        } else {
            &self.spec.behaviors[self.behavior]
        }
    }

    fn now(&self) -> SystemTime {
        self.cfg.clock.now()
    }

    fn model(&self) -> &LatencyModel {
        &self.cfg.latency
    }

    fn counters(&self) -> &PopCounters {
        &self.dist.counters[self.pop]
    }
}

fn behavior_index(spec: &DistributionSpec, path: &str) -> usize {
    spec.behaviors
        .iter()
        .position(|b| crate::glob::matches(&b.path_pattern, path))
        .unwrap_or(usize::MAX)
}

async fn hop(model: &LatencyModel, ms: f64) {
    if model.enabled && ms > 0.0 {
        tokio::time::sleep(LatencyModel::duration(ms)).await;
    }
}

/// The viewer's request as the server received it.
pub(crate) struct ViewerRequest {
    pub(crate) method: Method,
    pub(crate) path: String,
    pub(crate) query: Option<String>,
    pub(crate) headers: HeaderMap,
    pub(crate) body: Bytes,
    pub(crate) client_ip: IpAddr,
    pub(crate) client_port: u16,
}

fn full(status: u16, headers: HeaderMap, body: Bytes) -> http::Response<Body> {
    let mut r = http::Response::new(Full::new(body).map_err(|never| match never {}).boxed());
    *r.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_GATEWAY);
    *r.headers_mut() = headers;
    r
}

/// CloudFront's own error page.
fn generated_error_body(status: u16, reason: &str, request_id: &str) -> String {
    let title = format!(
        "{status} {}",
        StatusCode::from_u16(status)
            .ok()
            .and_then(|s| s.canonical_reason())
            .unwrap_or("ERROR")
    );
    format!(
        "<!DOCTYPE HTML PUBLIC \"-//W3C//DTD HTML 4.01 Transitional//EN\" \"http://www.w3.org/TR/html4/loose.dtd\">\n<HTML><HEAD><META HTTP-EQUIV=\"Content-Type\" CONTENT=\"text/html; charset=iso-8859-1\">\n<TITLE>ERROR: The request could not be satisfied</TITLE>\n</HEAD><BODY>\n<H1>{title} ERROR</H1>\n<H2>The request could not be satisfied.</H2>\n<HR noshade size=\"1px\">\n{reason}\n<BR clear=\"all\">\n<HR noshade size=\"1px\">\n<PRE>\nGenerated by cloudfront (CloudFront)\nRequest ID: {request_id}\n</PRE>\n<ADDRESS>\n</ADDRESS>\n</BODY></HTML>"
    )
}

fn generated_headers(len: usize) -> HeaderMap {
    let mut h = HeaderMap::new();
    h.insert(
        http::header::SERVER,
        HeaderValue::from_static(SERVER_CLOUDFRONT),
    );
    h.insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("text/html"),
    );
    h.insert(http::header::CONTENT_LENGTH, HeaderValue::from(len));
    h
}

/// CloudFront's own error response: its page, `Server: CloudFront`, `text/html`.
fn generated_error(status: u16, reason: &str, request_id: &str) -> (u16, HeaderMap, Bytes) {
    let body = generated_error_body(status, reason, request_id);
    (status, generated_headers(body.len()), body.into())
}

/// A response a Lambda@Edge function generated.
fn lambda_response(r: lambda_edge::ResponseOut) -> (u16, HeaderMap, Bytes) {
    let body = r.body.unwrap_or_default();
    let mut headers = r.headers;
    headers.remove(http::header::TRANSFER_ENCODING);
    headers.insert(http::header::CONTENT_LENGTH, HeaderValue::from(body.len()));
    (r.status, headers, body)
}

/// CloudFront's error page for a Lambda@Edge failure (500 / 502 / 503).
fn lambda_error(f: &lambda_edge::Failure, request_id: &str) -> (u16, HeaderMap, Bytes) {
    generated_error(f.status, &f.page_text(), request_id)
}

/// Where a viewer is, for POP choice and CloudFront-Viewer-* headers.
pub(crate) fn locate(cfg: &EdgeConfig, what: &str) -> Option<(Option<usize>, GeoPoint)> {
    let w = what.trim();
    if let Some(i) = cfg
        .pops
        .iter()
        .position(|p| p.code.eq_ignore_ascii_case(w) || p.id.eq_ignore_ascii_case(w))
    {
        return Some((Some(i), cfg.pops[i].at));
    }
    if let Some(at) = geo::known_place(w).or_else(|| GeoPoint::parse(w)) {
        return Some((None, at));
    }
    None
}

/// Chooses the POP for a request on the main listener.
pub(crate) fn choose_pop(cfg: &EdgeConfig, headers: &HeaderMap, ip: IpAddr) -> (usize, GeoPoint) {
    let from = headers
        .get(X_LEDGE_VIEWER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| locate(cfg, v))
        .or_else(|| cfg.client_locations.get(&ip).and_then(|v| locate(cfg, v)));
    let (pop, at) = match from {
        Some((pop, at)) => (pop, at),
        None => (None, cfg.home),
    };
    let pop = pop.or_else(|| geo::nearest_pop(&cfg.pops, at)).unwrap_or(0);
    (pop, at)
}

thread_local! {
    /// The cache key of the request being looked up on this thread (a hit never owns one).
    static KEY_BUF: std::cell::RefCell<String> = const { std::cell::RefCell::new(String::new()) };
}

/// The POP hit path: a fresh, whole, non-error object at `pop` served straight from the
/// store, with the key built into a reused buffer and looked up by reference. Everything
/// else is `None` and takes [`handle`]'s full path: a behaviour with Lambda@Edge functions,
/// an HTTP viewer under a redirect / HTTPS-only policy, a method the behaviour does not
/// cache, a request body, a conditional or Range request, an object still filling, stale
/// or an error. Returns the response before [`decorate`] and the object's age.
#[allow(clippy::too_many_arguments)]
fn pop_hit(
    dist: &Dist,
    pop: usize,
    spec: &DistributionSpec,
    b: &BehaviorSpec,
    path: &str,
    req: &ViewerRequest,
    https: bool,
    now: SystemTime,
) -> Option<(http::Response<Body>, u64)> {
    let method = req.method.as_str();
    if !b.lambda_associations.is_empty()
        || !(https || b.viewer_protocol_policy == ViewerProtocolPolicy::AllowAll)
        || !matches!(req.method, Method::GET | Method::HEAD)
        || !req.body.is_empty()
        || !b.allowed_methods.iter().any(|m| m == method)
        || !b.caches(method)
        || [
            http::header::IF_NONE_MATCH,
            http::header::IF_MODIFIED_SINCE,
            http::header::RANGE,
        ]
        .iter()
        .any(|h| req.headers.contains_key(h))
    {
        return None;
    }
    let input = KeyInput {
        domain: &spec.domain_name,
        method,
        path,
        query: req.query.as_deref(),
        headers: &req.headers,
        compress: b.key_has_encoding(),
    };
    let entry = KEY_BUF.with(|buf| {
        let mut buf = buf.borrow_mut();
        key::build_into(&mut buf, &input, &b.cache_policy);
        dist.pops[pop].store.get(&buf)
    })?;
    if entry.status >= 400 || entry.life.freshness(now) != Freshness::Fresh {
        return None;
    }
    let body = entry.body.whole()?;
    // Room for the headers `decorate` adds, so the map never grows while they go in.
    let mut headers = HeaderMap::with_capacity(entry.headers.len() + 8);
    for (name, value) in &entry.headers {
        headers.append(name.clone(), value.clone());
    }
    let body = if req.method == Method::HEAD {
        Bytes::new()
    } else {
        headers.insert(http::header::CONTENT_LENGTH, HeaderValue::from(body.len()));
        body.clone()
    };
    Some((
        full(entry.status, headers, body),
        entry.life.age(now).as_secs(),
    ))
}

/// Serves one viewer request at `pop`.
pub(crate) async fn handle(
    cfg: &Arc<EdgeConfig>,
    client: &reqwest::Client,
    dist: &Arc<Dist>,
    pop: usize,
    viewer_at: GeoPoint,
    req: ViewerRequest,
) -> http::Response<Body> {
    let spec = dist.spec();
    let request_id = headers::request_id();
    let model = cfg.latency;
    let viewer_rtt = model.viewer_rtt_ms(viewer_at, cfg.pops[pop].at);
    let direct_rtt = model.viewer_rtt_ms(viewer_at, cfg.origin_location);
    let counters = &dist.counters[pop];
    counters.requests.fetch_add(1, Ordering::Relaxed);
    hop(&model, viewer_rtt).await;

    let https = !req
        .headers
        .get(X_LEDGE_VIEWER_PROTO)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("http"));
    // DefaultRootObject applies to the root only.
    // Borrowed until something rewrites it, so a hit does not copy the path.
    let mut path = std::borrow::Cow::Borrowed(req.path.as_str());
    if path == "/" {
        if let Some(root) = &spec.default_root_object {
            path = format!("/{root}").into();
        }
    }
    let behavior = behavior_index(&spec, &path);
    let b = if behavior == usize::MAX {
        &spec.default_behavior
    } else {
        &spec.behaviors[behavior]
    };
    let pop_id = cfg.pops[pop].id.as_str();
    let finish = |resp: http::Response<Body>,
                  status: CacheStatus,
                  layer: Option<Layer>,
                  up_ms: f64,
                  age: Option<u64>| {
        let total = viewer_rtt + up_ms;
        counters
            .latency_us
            .fetch_add((total * 1000.0) as u64, Ordering::Relaxed);
        counters
            .latency_direct_us
            .fetch_add((direct_rtt * 1000.0) as u64, Ordering::Relaxed);
        decorate(
            resp,
            cfg,
            dist,
            pop,
            pop_id,
            &request_id,
            status,
            layer,
            up_ms,
            total,
            age,
            b,
            &req.headers,
        )
    };

    // A fresh, whole object at this POP answers without the miss path's context.
    if let Some((resp, age)) = pop_hit(dist, pop, &spec, b, &path, &req, https, cfg.clock.now()) {
        counters.edge_hits.fetch_add(1, Ordering::Relaxed);
        return finish(resp, CacheStatus::Hit, Some(Layer::Edge), 0.0, Some(age));
    }
    // Viewer protocol policy (local listeners stand for HTTPS unless told otherwise).
    if !https {
        match b.viewer_protocol_policy {
            ViewerProtocolPolicy::AllowAll => {}
            ViewerProtocolPolicy::HttpsOnly => {
                let (st, h, body) = generated_error(403, "This distribution is not configured to allow the HTTP request method that was used for this request.", &request_id);
                return finish(full(st, h, body), CacheStatus::Error, None, 0.0, None);
            }
            ViewerProtocolPolicy::RedirectToHttps => {
                let host = req
                    .headers
                    .get(http::header::HOST)
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or(&spec.domain_name);
                let q = req
                    .query
                    .as_deref()
                    .map(|q| format!("?{q}"))
                    .unwrap_or_default();
                let location = format!("https://{host}{}{q}", req.path);
                let status = if matches!(req.method, Method::GET | Method::HEAD) {
                    301
                } else {
                    307
                };
                let body = "<html>\r\n<head><title>301 Moved Permanently</title></head>\r\n<body>\r\n<center><h1>301 Moved Permanently</h1></center>\r\n<hr><center>CloudFront</center>\r\n</body>\r\n</html>\r\n";
                let mut h = generated_headers(body.len());
                if let Ok(v) = HeaderValue::from_str(&location) {
                    h.insert(http::header::LOCATION, v);
                }
                return finish(
                    full(status, h, Bytes::from_static(body.as_bytes())),
                    CacheStatus::Redirect,
                    None,
                    0.0,
                    None,
                );
            }
        }
    }
    if !b.allowed_methods.iter().any(|m| m == req.method.as_str()) {
        let (st, h, body) = generated_error(403, "This distribution is not configured to allow the HTTP request method that was used for this request. The distribution supports only cachable requests.", &request_id);
        return finish(full(st, h, body), CacheStatus::Error, None, 0.0, None);
    }
    if req.method == Method::GET && !req.body.is_empty() {
        let (st, h, body) = generated_error(
            403,
            "Bad request. We can't connect to the server for this app or website at this time.",
            &request_id,
        );
        return finish(full(st, h, body), CacheStatus::Error, None, 0.0, None);
    }
    // Lambda@Edge viewer-request: every request, before the cache key is computed.
    let edited = match b.association(TriggerPoint::ViewerRequest) {
        None => None,
        Some(a) => {
            let ip = req.client_ip.to_string();
            let site = lambda_edge::Site::new(cfg, &spec, &request_id, pop, &ip);
            let mut v = lambda_edge::ViewerRequestView {
                method: req.method.clone(),
                uri: path.to_string(),
                query: req.query.clone(),
                headers: req.headers.clone(),
                body: req.body.clone(),
            };
            match lambda_edge::viewer_request(&site, a, &mut v).await {
                Step::Continue => {
                    path = v.uri.clone().into();
                    Some(v)
                }
                // Never cached; no viewer-response trigger.
                Step::Respond(r) => {
                    let (st, h, body) = lambda_response(r);
                    return finish(
                        full(st, h, body),
                        CacheStatus::LambdaGeneratedResponse,
                        None,
                        0.0,
                        None,
                    );
                }
                Step::Fail(f) => {
                    let (st, h, body) = lambda_error(&f, &request_id);
                    return finish(full(st, h, body), CacheStatus::Error, None, 0.0, None);
                }
            }
        }
    };
    let (v_query, v_headers, v_body) = match &edited {
        Some(v) => (&v.query, &v.headers, &v.body),
        None => (&req.query, &req.headers, &req.body),
    };
    let accept_encoding = match key::encodings(&b.cache_policy, b.compress) {
        (false, false) => None,
        (gz, br) => key::normalized_accept_encoding(v_headers, gz, br),
    };
    let edge_key = key::build(
        &KeyInput {
            domain: &spec.domain_name,
            method: req.method.as_str(),
            path: &path,
            query: v_query.as_deref(),
            headers: v_headers,
            compress: b.key_has_encoding(),
        },
        &b.cache_policy,
    );
    let cacheable = b.caches(req.method.as_str());
    // Built only past the hit path, which never reads it.
    let viewer = ViewerFacts {
        ip: req.client_ip,
        port: req.client_port,
        country: cfg.pops[pop].country.clone(),
        lat: viewer_at.lat,
        lon: viewer_at.lon,
        https,
    };
    let ctx = Arc::new(Ctx {
        cfg: Arc::clone(cfg),
        client: client.clone(),
        dist: Arc::clone(dist),
        spec: Arc::clone(&spec),
        behavior,
        pop,
        viewer,
        viewer_at,
        method: req.method.clone(),
        path: path.into_owned(),
        query: v_query.clone(),
        headers: v_headers.clone(),
        body: v_body.clone(),
        request_id: request_id.clone(),
        key: edge_key,
        accept_encoding,
    });
    let chain = chain_for(&ctx);
    let up = if cacheable {
        get(Arc::clone(&ctx), Arc::clone(&chain), 0).await
    } else {
        // Proxy methods and uncacheable requests go from the POP straight to the origin
        // (through the shield when the origin has one).
        let shield_ms = chain
            .get(1)
            .filter(|_| chain.len() > 2)
            .map_or(0.0, |s| model.rtt_ms(chain[0].at, s.at));
        let last = if chain.len() > 2 {
            chain[chain.len() - 1].at
        } else {
            chain[0].at
        };
        let ms = shield_ms + model.rtt_ms(last, cfg.origin_location);
        hop(&model, ms).await;
        let mut u = from_origin(&ctx, None, false).await;
        u.latency_ms += ms;
        Arc::new(u)
    };
    match up.layer {
        Layer::Edge => counters.edge_hits.fetch_add(1, Ordering::Relaxed),
        Layer::Regional | Layer::Shield => counters.regional_hits.fetch_add(1, Ordering::Relaxed),
        Layer::Origin => 0,
    };
    let mut entry = Arc::clone(&up.entry);
    let mut status = up.status;
    let layer = up.layer;
    // Custom error responses.
    let mut override_status = None;
    if entry.status >= 400 {
        if let Some(cer) = spec
            .custom_error_responses
            .iter()
            .find(|c| c.error_code == entry.status)
        {
            if let Some(page) = &cer.response_page_path {
                if page != &ctx.path {
                    if let Some(page_entry) = fetch_page(&ctx, page).await {
                        entry = page_entry;
                        override_status = Some(cer.response_code.unwrap_or(cer.error_code));
                    }
                }
            }
        }
    }
    let served_status = override_status.unwrap_or(entry.status);
    if served_status >= 400 || override_status.is_some() {
        status = CacheStatus::Error;
    }
    let age = matches!(status, CacheStatus::Hit | CacheStatus::RefreshHit)
        .then(|| entry.life.age(cfg.clock.now()).as_secs());
    let mut resp = respond(&ctx, &entry, served_status, override_status.is_none()).await;
    // Lambda@Edge viewer-response: not for origin errors ≥ 400 nor custom error pages.
    if let Some(a) = b
        .association(TriggerPoint::ViewerResponse)
        .filter(|_| override_status.is_none() && entry.status < 400)
    {
        resp = match viewer_response_trigger(&ctx, a, resp, age).await {
            Ok(r) => r,
            Err(f) => {
                let (st, h, body) = lambda_error(&f, &request_id);
                return finish(
                    full(st, h, body),
                    CacheStatus::Error,
                    None,
                    up.latency_ms,
                    None,
                );
            }
        };
    }
    finish(resp, status, Some(layer), up.latency_ms, age)
}

/// Runs a viewer-response function on the response the viewer is about to get.
async fn viewer_response_trigger(
    ctx: &Ctx,
    a: &LambdaAssociation,
    resp: http::Response<Body>,
    age: Option<u64>,
) -> Result<http::Response<Body>, lambda_edge::Failure> {
    let ip = ctx.viewer.ip.to_string();
    let site = lambda_edge::Site::new(&ctx.cfg, &ctx.spec, &ctx.request_id, ctx.pop, &ip);
    let (mut parts, body) = resp.into_parts();
    let out = lambda_edge::viewer_response(
        &site,
        a,
        &ctx.method,
        &ctx.path,
        ctx.query.as_deref(),
        &ctx.headers,
        parts.status.as_u16(),
        &parts.headers,
        age,
    )
    .await?;
    parts.headers = out.headers;
    Ok(match out.body {
        Some(b) => {
            parts.headers.remove(http::header::TRANSFER_ENCODING);
            parts
                .headers
                .insert(http::header::CONTENT_LENGTH, HeaderValue::from(b.len()));
            let b = if ctx.method == Method::HEAD {
                Bytes::new()
            } else {
                b
            };
            http::Response::from_parts(parts, Full::new(b).map_err(|never| match never {}).boxed())
        }
        None => http::Response::from_parts(parts, body),
    })
}

/// The tiers a request walks: its POP, the POP's regional edge cache, and the origin's
/// shield when it is a different region.
fn chain_for(ctx: &Ctx) -> Arc<[Arc<Tier>]> {
    let dist = &ctx.dist;
    let rec = dist.pop_region[ctx.pop];
    let mut chain = vec![
        Arc::clone(&dist.pops[ctx.pop]),
        Arc::clone(&dist.regions[rec]),
    ];
    let target = &ctx.behavior().target_origin_id;
    let origin_id = ctx
        .spec
        .origin_group(target)
        .map_or(target.as_str(), |g| g.primary.as_str());
    if let Some(region) = ctx
        .spec
        .origin(origin_id)
        .and_then(|o| o.shield_region.as_ref())
    {
        if let Some(i) = ctx.cfg.regions.iter().position(|r| &r.name == region) {
            if i != rec {
                chain.push(Arc::clone(&dist.regions[i]));
            }
        }
    }
    chain.into()
}

fn layer_of(chain: &[Arc<Tier>], i: usize) -> Layer {
    match i {
        0 => Layer::Edge,
        1 => Layer::Regional,
        _ if i == chain.len() - 1 => Layer::Shield,
        _ => Layer::Regional,
    }
}

/// Looks `ctx.key` up at tier `i`, filling it from below on a miss.
fn get(ctx: Arc<Ctx>, chain: Arc<[Arc<Tier>]>, i: usize) -> BoxFuture<'static, Arc<Upstream>> {
    async move {
        let tier = Arc::clone(&chain[i]);
        let now = ctx.now();
        let mut stale = None;
        if let Some(e) = tier.store.get(&ctx.key.key) {
            match e.life.freshness(now) {
                Freshness::Fresh if e.body.state().is_none_or(|ok| ok) => {
                    return Arc::new(Upstream {
                        entry: e,
                        status: CacheStatus::Hit,
                        layer: layer_of(&chain, i),
                        latency_ms: 0.0,
                    });
                }
                Freshness::StaleWhileRevalidate => {
                    let (c, ch, t) = (Arc::clone(&ctx), Arc::clone(&chain), Arc::clone(&tier));
                    let stale_entry = Arc::clone(&e);
                    tokio::spawn(async move {
                        let key = c.key.key.clone();
                        let _ = t
                            .coalescer
                            .run(&key, || async {
                                Ok::<_, ()>(
                                    fill(Arc::clone(&c), Arc::clone(&ch), i, Some(stale_entry))
                                        .await,
                                )
                            })
                            .await;
                    });
                    return Arc::new(Upstream {
                        entry: e,
                        status: CacheStatus::Hit,
                        layer: layer_of(&chain, i),
                        latency_ms: 0.0,
                    });
                }
                _ => stale = Some(e),
            }
        }
        let key = ctx.key.key.clone();
        let res = tier
            .coalescer
            .run(&key, || async {
                Ok::<_, ()>(fill(Arc::clone(&ctx), Arc::clone(&chain), i, stale.clone()).await)
            })
            .await;
        match res {
            Ok(c) if c.role == FillRole::Follower => {
                if c.value.entry.collapsible {
                    // Collapsed requests log as Hit.
                    Arc::new(Upstream {
                        entry: Arc::clone(&c.value.entry),
                        status: CacheStatus::Hit,
                        layer: layer_of(&chain, i),
                        latency_ms: c.value.latency_ms,
                    })
                } else {
                    // Released to the origin individually (§1.11).
                    fill(ctx, chain, i, stale).await
                }
            }
            Ok(c) => c.value,
            Err(()) => fill(ctx, chain, i, stale).await,
        }
    }
    .boxed()
}

/// A stale entry kept on for `extra` more (stale served on an origin error).
fn extend(e: &Arc<Entry>, now: SystemTime, extra: u64) -> Arc<Entry> {
    let age = e.life.age(now);
    Arc::new(Entry {
        status: e.status,
        headers: e.headers.clone(),
        body: Arc::clone(&e.body),
        life: Lifetime {
            ttl: age + Duration::from_secs(extra),
            ..e.life
        },
        invalidation_path: e.invalidation_path.clone(),
        collapsible: e.collapsible,
        storable: true,
    })
}

fn error_min_ttl(spec: &DistributionSpec, status: u16) -> Option<u64> {
    spec.custom_error_responses
        .iter()
        .find(|c| c.error_code == status)
        .map(|c| c.error_caching_min_ttl)
}

async fn fill(
    ctx: Arc<Ctx>,
    chain: Arc<[Arc<Tier>]>,
    i: usize,
    stale: Option<Arc<Entry>>,
) -> Arc<Upstream> {
    let tier = Arc::clone(&chain[i]);
    let model = *ctx.model();
    let next_at = chain.get(i + 1).map_or(ctx.cfg.origin_location, |t| t.at);
    let rtt = model.rtt_ms(tier.at, next_at);
    hop(&model, rtt).await;
    let up = if i + 1 < chain.len() {
        get(Arc::clone(&ctx), Arc::clone(&chain), i + 1).await
    } else {
        Arc::new(from_origin(&ctx, stale.as_ref(), true).await)
    };
    let now = ctx.now();
    // An origin error (5xx or unreachable) with a stale object: serve the stale object.
    if up.entry.status >= 500 {
        if let Some(s) = stale
            .as_ref()
            .filter(|s| s.life.serves_stale_on_error(now) && s.status < 500)
        {
            let keep = error_min_ttl(&ctx.spec, up.entry.status)
                .unwrap_or(ttl::DEFAULT_ERROR_CACHING_MIN_TTL);
            let extended = extend(s, now, keep);
            tier.store
                .insert(ctx.key.key.clone(), Arc::clone(&extended));
            return Arc::new(Upstream {
                entry: extended,
                status: CacheStatus::Hit,
                layer: layer_of(&chain, i),
                latency_ms: up.latency_ms + rtt,
            });
        }
    }
    let mut entry = Arc::clone(&up.entry);
    if i == 0 {
        entry = maybe_compress(&ctx, entry).await;
    }
    tier.store.insert(ctx.key.key.clone(), Arc::clone(&entry));
    Arc::new(Upstream {
        entry,
        status: up.status,
        layer: up.layer,
        latency_ms: up.latency_ms + rtt,
    })
}

/// Compresses at the edge when the behaviour asks and the object qualifies.
async fn maybe_compress(ctx: &Ctx, entry: Arc<Entry>) -> Arc<Entry> {
    let b = ctx.behavior();
    let Some(enc) = Encoding::choose(ctx.accept_encoding).filter(|_| b.compress) else {
        return entry;
    };
    let declared: Option<usize> = entry.header("content-length").and_then(|v| v.parse().ok());
    let Some(len) = declared else { return entry };
    if !compress::eligible(
        entry.status,
        entry.header("content-encoding"),
        entry.header("content-type"),
        len,
    ) {
        return entry;
    }
    let Some(data) = entry.body.collect().await else {
        return entry;
    };
    let Ok(Ok(packed)) = tokio::task::spawn_blocking(move || compress::compress(enc, &data)).await
    else {
        return entry;
    };
    let mut headers = entry.headers.clone();
    headers.insert(
        http::header::CONTENT_ENCODING,
        HeaderValue::from_static(enc.as_str()),
    );
    headers.insert(
        http::header::CONTENT_LENGTH,
        HeaderValue::from(packed.len()),
    );
    headers.insert(
        http::header::VARY,
        HeaderValue::from_static("Accept-Encoding"),
    );
    if let Some(etag) = entry.header("etag").filter(|e| !e.starts_with("W/")) {
        if let Ok(v) = HeaderValue::from_str(&format!("W/{etag}")) {
            headers.insert(http::header::ETAG, v);
        }
    }
    Arc::new(Entry {
        status: entry.status,
        headers,
        body: SharedBody::complete(packed),
        life: entry.life,
        invalidation_path: entry.invalidation_path.clone(),
        collapsible: entry.collapsible,
        storable: entry.storable,
    })
}

fn origin_host(o: &OriginSpec) -> String {
    match &o.kind {
        OriginKind::Http { base_url } => base_url
            .split_once("://")
            .map_or(base_url.as_str(), |(_, r)| r)
            .to_owned(),
        OriginKind::S3 { .. } => o.domain_name.clone(),
    }
}

/// Asks the origin (or the origin group), conditionally when a stale object has validators.
async fn from_origin(ctx: &Ctx, stale: Option<&Arc<Entry>>, cacheable: bool) -> Upstream {
    let b = ctx.behavior();
    let spec = &ctx.spec;
    let (candidates, failover): (Vec<&str>, &[u16]) = match spec.origin_group(&b.target_origin_id) {
        Some(g) if matches!(ctx.method, Method::GET | Method::HEAD | Method::OPTIONS) => (
            vec![g.primary.as_str(), g.secondary.as_str()],
            &g.failover_status_codes,
        ),
        Some(g) => (vec![g.primary.as_str()], &[]),
        None => (vec![b.target_origin_id.as_str()], &[]),
    };
    let mut result: Option<Result<OriginResponse, OriginFailure>> = None;
    let mut conditional = false;
    // Lambda@Edge: what origin-response is shown, and whether origin-request answered.
    let mut sent: Option<(OriginRequest, &OriginSpec, String)> = None;
    let (mut generated, mut lambda_failed) = (false, false);
    for (n, origin_id) in candidates.iter().enumerate() {
        let Some(origin) = spec.origin(origin_id) else {
            continue;
        };
        let last = n + 1 == candidates.len();
        let mut headers = headers::origin_headers(
            b,
            &ctx.headers,
            &ctx.viewer,
            &origin_host(origin),
            &ctx.request_id,
            &ctx.dist.via[ctx.pop],
            &origin.custom_headers,
            if b.cache_policy.normalizes_accept_encoding() {
                Some(ctx.accept_encoding.unwrap_or("identity"))
            } else {
                None
            },
        );
        if cacheable {
            // Ranges are served from whole cached objects; the origin sends the whole object.
            headers.remove(http::header::RANGE);
            headers.remove(http::header::IF_RANGE);
            // Viewer validators are the edge's to answer; only ours go to the origin.
            for h in [
                http::header::IF_NONE_MATCH,
                http::header::IF_MODIFIED_SINCE,
                http::header::IF_MATCH,
                http::header::IF_UNMODIFIED_SINCE,
            ] {
                headers.remove(h);
            }
            conditional = false;
            if let Some(s) = stale.filter(|s| s.status == 200) {
                if let Some(etag) = s.headers.get(http::header::ETAG) {
                    headers.insert(http::header::IF_NONE_MATCH, etag.clone());
                    conditional = true;
                }
                if let Some(lm) = s.headers.get(http::header::LAST_MODIFIED) {
                    headers.insert(http::header::IF_MODIFIED_SINCE, lm.clone());
                    conditional = true;
                }
            }
        }
        let query = key::select_query(ctx.query.as_deref(), &headers::forwarded_query(b));
        let path_and_query = format!(
            "{}{}{}",
            origin.origin_path,
            ctx.path,
            if query.is_empty() {
                String::new()
            } else {
                format!("?{query}")
            }
        );
        let mut req = OriginRequest {
            method: ctx.method.clone(),
            path_and_query,
            headers,
            body: ctx.body.clone(),
        };
        let mut origin = origin;
        // Lambda@Edge origin-request: only here, where a tier goes to the origin.
        if let Some(a) = b.association(TriggerPoint::OriginRequest) {
            let ip = ctx.viewer.ip.to_string();
            let site = lambda_edge::Site::new(&ctx.cfg, spec, &ctx.request_id, ctx.pop, &ip);
            let o =
                lambda_edge::origin_request(&site, a, spec, origin, &ctx.path, &query, &mut req)
                    .await;
            match o.step {
                Step::Continue => {
                    if let Some(x) = o.origin {
                        if let Ok(v) = HeaderValue::from_str(&origin_host(x)) {
                            req.headers.insert(http::header::HOST, v);
                        }
                        origin = x;
                    }
                }
                // Cached like an origin response; origin-response does not run.
                Step::Respond(r) => {
                    let (status, headers, body) = lambda_response(r);
                    generated = true;
                    result = Some(Ok(OriginResponse {
                        status,
                        headers,
                        body: SharedBody::complete(body),
                    }));
                    break;
                }
                Step::Fail(f) => {
                    let (status, headers, body) = lambda_error(&f, &ctx.request_id);
                    lambda_failed = true;
                    result = Some(Ok(OriginResponse {
                        status,
                        headers,
                        body: SharedBody::complete(body),
                    }));
                    break;
                }
            }
        }
        if b.association(TriggerPoint::OriginResponse).is_some() {
            sent = Some((req.clone(), origin, query.clone()));
        }
        ctx.counters()
            .origin_fetches
            .fetch_add(1, Ordering::Relaxed);
        let r = match &origin.kind {
            OriginKind::Http { base_url } => {
                origin::fetch_http(
                    &ctx.client,
                    base_url,
                    req,
                    Duration::from_secs(origin.connection_timeout_s),
                    Duration::from_secs(origin.read_timeout_s),
                )
                .await
            }
            OriginKind::S3 { bucket, dir } => {
                Ok(origin::fetch_s3(bucket, dir, &req, ctx.cfg.s3_missing_key).await)
            }
        };
        let fail_over = match &r {
            Ok(resp) => failover.contains(&resp.status),
            Err(_) => !failover.is_empty(),
        };
        result = Some(r);
        if !fail_over || last {
            break;
        }
    }
    let now = ctx.now();
    let result_ok = matches!(result, Some(Ok(_)));
    let resp = match result {
        Some(Ok(r)) => r,
        Some(Err(e)) => {
            let status = if matches!(e, OriginFailure::Timeout) {
                504
            } else {
                502
            };
            tracing::debug!(pop = %ctx.cfg.pops[ctx.pop].id, error = %e, "origin unreachable");
            let (status, headers, body) = generated_error(status, "We can't connect to the server for this app or website at this time. There might be too much traffic or a configuration error. Try again later, or contact the app or website owner.", &ctx.request_id);
            OriginResponse {
                status,
                headers,
                body: SharedBody::complete(body),
            }
        }
        None => {
            let (status, headers, body) = generated_error(
                502,
                "The origin of this cache behavior does not exist.",
                &ctx.request_id,
            );
            OriginResponse {
                status,
                headers,
                body: SharedBody::complete(body),
            }
        }
    };
    // Lambda@Edge origin-response: on every answer the origin gave, before it is cached.
    let mut resp = resp;
    if let (Some(a), Some((sent, origin, query))) = (
        b.association(TriggerPoint::OriginResponse)
            .filter(|_| result_ok && !generated && !lambda_failed),
        sent.as_ref(),
    ) {
        let ip = ctx.viewer.ip.to_string();
        let site = lambda_edge::Site::new(&ctx.cfg, spec, &ctx.request_id, ctx.pop, &ip);
        match lambda_edge::origin_response(
            &site,
            a,
            origin,
            &ctx.path,
            query,
            sent,
            resp.status,
            &resp.headers,
        )
        .await
        {
            Ok(out) => {
                resp.status = out.status;
                resp.headers = out.headers;
                if let Some(body) = out.body {
                    resp.headers.remove(http::header::TRANSFER_ENCODING);
                    resp.headers
                        .insert(http::header::CONTENT_LENGTH, HeaderValue::from(body.len()));
                    resp.body = SharedBody::complete(body);
                }
            }
            Err(f) => {
                let (status, headers, body) = lambda_error(&f, &ctx.request_id);
                lambda_failed = true;
                resp = OriginResponse {
                    status,
                    headers,
                    body: SharedBody::complete(body),
                };
            }
        }
    }
    // 304 to our conditional request: the stale object is fresh again.
    if resp.status == 304 && conditional && !lambda_failed {
        if let Some(s) = stale {
            let mut headers = s.headers.clone();
            for name in ["cache-control", "expires", "date", "etag", "last-modified"] {
                if let Some(v) = resp.headers.get(name) {
                    headers.insert(HeaderName::from_static(name), v.clone());
                }
            }
            let mut e = make_entry(ctx, 200, headers, Arc::clone(&s.body), now, cacheable);
            e.invalidation_path = s.invalidation_path.clone();
            return Upstream {
                entry: Arc::new(e),
                status: CacheStatus::RefreshHit,
                layer: Layer::Origin,
                latency_ms: 0.0,
            };
        }
    }
    // Lambda@Edge error pages are never cached; generated responses are.
    let e = make_entry(
        ctx,
        resp.status,
        resp.headers,
        resp.body,
        now,
        cacheable && !lambda_failed,
    );
    Upstream {
        entry: Arc::new(e),
        status: if generated {
            CacheStatus::LambdaGeneratedResponse
        } else {
            CacheStatus::Miss
        },
        layer: Layer::Origin,
        latency_ms: 0.0,
    }
}

/// An origin response as the edge keeps it: lifetime by CloudFront's rules, Vary filtered,
/// `Set-Cookie` dropped unless cookies are forwarded.
fn make_entry(
    ctx: &Ctx,
    status: u16,
    mut headers: HeaderMap,
    body: Arc<SharedBody>,
    now: SystemTime,
    cacheable: bool,
) -> Entry {
    let b = ctx.behavior();
    let p = &b.cache_policy;
    let t = Ttls {
        min: p.min_ttl,
        default: p.default_ttl,
        max: p.max_ttl,
    };
    let d = Directives::parse(
        headers
            .get_all(http::header::CACHE_CONTROL)
            .iter()
            .filter_map(|v| v.to_str().ok()),
    );
    let expires = headers
        .get(http::header::EXPIRES)
        .and_then(|v| v.to_str().ok())
        .map(|v| httpdate::parse_http_date(v).unwrap_or(std::time::UNIX_EPOCH));
    let vary_star = headers
        .get_all(http::header::VARY)
        .iter()
        .any(|v| v.to_str().is_ok_and(|v| v.trim() == "*"));
    let (ttl, storable, collapsible) = if !cacheable {
        (0, false, false)
    } else if status >= 400 {
        match ttl::error_ttl(
            status,
            &d,
            expires,
            now,
            t,
            error_min_ttl(&ctx.spec, status),
        ) {
            Some(ttl) => (ttl, true, true),
            None => (0, false, true),
        }
    } else if status == 206 {
        (0, false, true)
    } else {
        let storable = ttl::storable(&d, t) && !(vary_star && t.min == 0);
        (
            ttl::object_ttl(&d, expires, now, t),
            storable,
            ttl::collapsible(&d, t),
        )
    };
    // Vary toward viewers.
    let vary: Vec<String> = headers
        .get_all(http::header::VARY)
        .iter()
        .filter_map(|v| v.to_str().ok().map(str::to_owned))
        .collect();
    headers.remove(http::header::VARY);
    if let Some(v) = headers::filter_vary(b, &vary.join(", ")) {
        if let Ok(v) = HeaderValue::from_str(&v) {
            headers.insert(http::header::VARY, v);
        }
    }
    if headers::forwarded_cookies(b).is_none() {
        headers.remove(http::header::SET_COOKIE);
    }
    Entry {
        status,
        headers,
        body,
        life: Lifetime {
            fetched_at: now,
            ttl: Duration::from_secs(ttl),
            stale_while_revalidate: d.stale_while_revalidate.map(Duration::from_secs),
            stale_if_error: d.stale_if_error.map(Duration::from_secs),
            max_ttl: Duration::from_secs(t.max),
        },
        invalidation_path: ctx.key.invalidation_path.clone(),
        collapsible: collapsible && !p.caching_disabled(),
        storable,
    }
}

/// A custom error page: fetched (and cached) through the behaviour its path matches.
async fn fetch_page(ctx: &Arc<Ctx>, page: &str) -> Option<Arc<Entry>> {
    let spec = &ctx.spec;
    let behavior = behavior_index(spec, page);
    let b = if behavior == usize::MAX {
        &spec.default_behavior
    } else {
        &spec.behaviors[behavior]
    };
    let empty = HeaderMap::new();
    let key = key::build(
        &KeyInput {
            domain: &spec.domain_name,
            method: "GET",
            path: page,
            query: None,
            headers: &empty,
            compress: false,
        },
        &b.cache_policy,
    );
    let page_ctx = Arc::new(Ctx {
        cfg: Arc::clone(&ctx.cfg),
        client: ctx.client.clone(),
        dist: Arc::clone(&ctx.dist),
        spec: Arc::clone(spec),
        behavior,
        pop: ctx.pop,
        viewer: ctx.viewer.clone(),
        viewer_at: ctx.viewer_at,
        method: Method::GET,
        path: page.to_owned(),
        query: None,
        headers: HeaderMap::new(),
        body: Bytes::new(),
        request_id: ctx.request_id.clone(),
        key,
        accept_encoding: None,
    });
    let chain = chain_for(&page_ctx);
    let up = get(page_ctx, chain, 0).await;
    (up.entry.status < 400).then(|| Arc::clone(&up.entry))
}

/// A single `bytes=` range of a `len`-byte object: `Ok(None)` = serve the whole object
/// (no, invalid or multiple ranges), `Err(())` = unsatisfiable.
pub(crate) fn parse_range(header: &str, len: u64) -> Result<Option<(u64, u64)>, ()> {
    let Some(spec) = header.trim().strip_prefix("bytes=") else {
        return Ok(None);
    };
    if spec.contains(',') {
        return Ok(None);
    }
    let Some((a, b)) = spec.trim().split_once('-') else {
        return Ok(None);
    };
    let (a, b) = (a.trim(), b.trim());
    let range = match (a.is_empty(), b.is_empty()) {
        (true, true) => return Ok(None),
        (true, false) => {
            let Ok(n) = b.parse::<u64>() else {
                return Ok(None);
            };
            if n == 0 {
                return Err(());
            }
            (len.saturating_sub(n), len.saturating_sub(1))
        }
        (false, _) => {
            let Ok(start) = a.parse::<u64>() else {
                return Ok(None);
            };
            let end = if b.is_empty() {
                len.saturating_sub(1)
            } else {
                let Ok(end) = b.parse::<u64>() else {
                    return Ok(None);
                };
                if end < start {
                    return Ok(None);
                }
                end.min(len.saturating_sub(1))
            };
            if start >= len {
                return Err(());
            }
            (start, end)
        }
    };
    if len == 0 {
        return Err(());
    }
    Ok(Some(range))
}

fn not_modified(viewer: &HeaderMap, entry: &Entry) -> bool {
    if let Some(inm) = viewer
        .get(http::header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
    {
        let Some(etag) = entry.header("etag") else {
            return false;
        };
        let bare = |t: &str| t.trim().trim_start_matches("W/").to_owned();
        return inm
            .split(',')
            .any(|t| t.trim() == "*" || bare(t) == bare(etag));
    }
    if let Some(ims) = viewer
        .get(http::header::IF_MODIFIED_SINCE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| httpdate::parse_http_date(v).ok())
    {
        if let Some(lm) = entry
            .header("last-modified")
            .and_then(|v| httpdate::parse_http_date(v).ok())
        {
            return lm <= ims;
        }
    }
    false
}

/// The viewer's response from an entry: conditional 304, Range 206 / 416, HEAD, streaming.
async fn respond(
    ctx: &Ctx,
    entry: &Arc<Entry>,
    status: u16,
    may_range: bool,
) -> http::Response<Body> {
    let mut headers = entry.headers.clone();
    if status == 200 && may_range && not_modified(&ctx.headers, entry) {
        headers.remove(http::header::CONTENT_LENGTH);
        headers.remove(http::header::CONTENT_TYPE);
        return full(304, headers, Bytes::new());
    }
    let range = ctx
        .headers
        .get(http::header::RANGE)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    if let (Some(range), true, true) =
        (range, status == 200 && may_range, ctx.method == Method::GET)
    {
        if let Some(data) = entry.body.collect().await {
            let len = data.len() as u64;
            match parse_range(&range, len) {
                Ok(Some((start, end))) => {
                    let part = data.slice(start as usize..=end as usize);
                    headers.insert(http::header::CONTENT_LENGTH, HeaderValue::from(part.len()));
                    if let Ok(v) = HeaderValue::from_str(&format!("bytes {start}-{end}/{len}")) {
                        headers.insert(http::header::CONTENT_RANGE, v);
                    }
                    return full(206, headers, part);
                }
                Err(()) => {
                    headers.insert(http::header::CONTENT_LENGTH, HeaderValue::from(0));
                    if let Ok(v) = HeaderValue::from_str(&format!("bytes */{len}")) {
                        headers.insert(http::header::CONTENT_RANGE, v);
                    }
                    return full(416, headers, Bytes::new());
                }
                Ok(None) => {}
            }
        }
    }
    if ctx.method == Method::HEAD {
        return full(status, headers, Bytes::new());
    }
    if let Some(whole) = entry.body.whole() {
        headers.insert(http::header::CONTENT_LENGTH, HeaderValue::from(whole.len()));
        return full(status, headers, whole.clone());
    }
    let stream = StreamBody::new(futures::StreamExt::map(entry.body.stream(), |r| {
        r.map(hyper::body::Frame::data)
    }));
    let mut r = http::Response::new(BodyExt::boxed(stream));
    *r.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_GATEWAY);
    *r.headers_mut() = headers;
    r
}

/// Adds the viewer-facing CloudFront headers.
#[allow(clippy::too_many_arguments)]
fn decorate(
    mut resp: http::Response<Body>,
    cfg: &EdgeConfig,
    dist: &Dist,
    pop: usize,
    pop_id: &str,
    request_id: &str,
    status: CacheStatus,
    layer: Option<Layer>,
    upstream_ms: f64,
    total_ms: f64,
    age: Option<u64>,
    b: &BehaviorSpec,
    viewer_headers: &HeaderMap,
) -> http::Response<Body> {
    let h = resp.headers_mut();
    if let Some(rhp) = &b.response_headers_policy {
        for name in &rhp.remove {
            if let Ok(n) = HeaderName::from_bytes(name.as_bytes()) {
                h.remove(n);
            }
        }
        for (name, value, overrides) in &rhp.add {
            if let (Ok(n), Ok(v)) = (
                HeaderName::from_bytes(name.as_bytes()),
                HeaderValue::from_str(value),
            ) {
                if *overrides || !h.contains_key(&n) {
                    h.insert(n, v);
                }
            }
        }
    }
    h.reserve(6);
    if let Some(age) = age {
        h.insert(http::header::AGE, headers::age_value(age));
    }
    if !h.contains_key(http::header::DATE) {
        if let Some(v) = headers::date_value(cfg.clock.now()) {
            h.insert(http::header::DATE, v);
        }
    }
    h.insert(
        HeaderName::from_static(X_CACHE),
        HeaderValue::from_static(status.as_str()),
    );
    let (via, pop_value) = &dist.pop_headers[pop];
    h.insert(http::header::VIA, via.clone());
    h.insert(HeaderName::from_static(X_AMZ_CF_POP), pop_value.clone());
    if let Ok(v) = HeaderValue::from_str(request_id) {
        h.insert(HeaderName::from_static(X_AMZ_CF_ID), v);
    }
    let asked = viewer_headers
        .get_all(http::header::PRAGMA)
        .iter()
        .any(|v| {
            v.to_str()
                .is_ok_and(|v| v.to_ascii_lowercase().contains("server-timing"))
        });
    let by_policy = b
        .response_headers_policy
        .as_ref()
        .is_some_and(|p| p.server_timing);
    if cfg.server_timing || asked || by_policy {
        let mut st = vec![status.timing_metric().to_owned()];
        st.push(format!("cdn-pop;desc=\"{pop_id}\""));
        st.push(format!("cdn-rid;desc=\"{request_id}\""));
        match (status, layer) {
            (CacheStatus::Hit, Some(l)) => {
                st.push(format!("cdn-hit-layer;desc=\"{}\"", l.as_str()))
            }
            (_, Some(l)) if l != Layer::Edge => {
                st.push("cdn-upstream-layer;desc=\"EDGE\"".to_owned());
                st.push(format!(
                    "cdn-upstream-fbl;dur={}",
                    upstream_ms.round() as u64
                ));
            }
            _ => {}
        }
        st.push(format!(
            "cdn-downstream-fbl;dur={}",
            total_ms.round() as u64
        ));
        if let Ok(v) = HeaderValue::from_str(&st.join(",")) {
            h.insert(HeaderName::from_static(SERVER_TIMING), v);
        }
    }
    resp
}

#[cfg(test)]
mod tests {
    use super::parse_range;

    #[test]
    fn ranges() {
        assert_eq!(parse_range("bytes=0-9", 100), Ok(Some((0, 9))));
        assert_eq!(parse_range("bytes=90-", 100), Ok(Some((90, 99))));
        assert_eq!(parse_range("bytes=-10", 100), Ok(Some((90, 99))));
        assert_eq!(parse_range("bytes=50-500", 100), Ok(Some((50, 99))));
        assert_eq!(parse_range("bytes=100-", 100), Err(()));
        assert_eq!(
            parse_range("bytes=9-0", 100),
            Ok(None),
            "descending = whole object"
        );
        assert_eq!(parse_range("bytes=0-1,5-6", 100), Ok(None));
        assert_eq!(parse_range("items=0-1", 100), Ok(None));
    }
}
