//! Lambda@Edge: functions associated with a cache behavior, run at CloudFront's four trigger
//! points with CloudFront's events, return contract, restrictions and cache interaction
//! (reference `cdn-edge.md` §4).
//!
//! - Deploy ([`resolve_associations`], called by `parse_distributions`): each
//!   `LambdaFunctionARN` must name a numbered version of a function of the template (`!Ref
//!   Fn.Version` of an `AutoPublishAlias` function, an `AWS::Lambda::Version`, or a
//!   `…:function:NAME:N` ARN); `$LATEST`, aliases, environment variables, layers, runtimes
//!   other than Node.js and Python, arm64, and memory or timeouts above the trigger's
//!   [`Quotas`] are refused with CloudFront's `InvalidLambdaFunctionAssociation` message.
//! - Run: the engine calls [`viewer_request`] before the cache key is built,
//!   [`origin_request`] / [`origin_response`] only when a tier goes to the origin (so
//!   collapsed viewers cause one call), and [`viewer_response`] on what the viewer gets
//!   unless the origin answered ≥ 400, a custom error page is served or the viewer-request
//!   function generated the response.
//! - Errors follow CloudFront's error pages: invalid output, disallowed or read-only header
//!   changes, oversized or malformed responses → 502; a function error → 500; a timeout,
//!   a throttle or a function that cannot be reached → 503.
//!
//! Functions run where CloudFront runs them — the regional edge cache nearest the POP, or
//! the Origin Shield region for origin triggers — which the latency model charges, and
//! which every invocation's log line names (`pop`, `region`, and the log group AWS would
//! use, `/aws/lambda/us-east-1.<function>` in that region).

mod consts;
mod deploy;
pub(crate) mod event;
pub(crate) mod output;

use std::time::{Duration, Instant};

use bytes::Bytes;
use http::HeaderMap;
use ledge_model::{FunctionName, InvokeError, InvokeOutcome, InvokeRequest};

pub(crate) use deploy::resolve_associations;
pub(crate) use output::{Output, ResponseOut};

use crate::geo::GeoPoint;
use crate::origin::OriginRequest;
use crate::spec::{DistributionSpec, LambdaAssociation, OriginKind, OriginSpec, TriggerPoint};
use crate::EdgeConfig;
use consts::*;

/// Lambda@Edge quotas (§4.6). The classic per-trigger values by default; AWS's current
/// quota page lists memory and timeout as general rows, so all of them are switchable.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Quotas {
    /// Memory of viewer-request / viewer-response functions, MB (128).
    pub viewer_memory_mb: u32,
    /// Timeout of viewer functions, seconds (5).
    pub viewer_timeout_s: u32,
    /// Memory of origin functions, MB (Lambda's 10,240).
    pub origin_memory_mb: u32,
    /// Timeout of origin functions, seconds (30).
    pub origin_timeout_s: u32,
    /// A generated or updated response in viewer events, headers + body (40 KB).
    pub viewer_response_bytes: usize,
    /// The same in origin events (1 MB).
    pub origin_response_bytes: usize,
    /// `IncludeBody`: the body shown to viewer-request functions is cut here (40 KB).
    pub viewer_body_bytes: usize,
    /// … and to origin-request functions (1 MB).
    pub origin_body_bytes: usize,
}

impl Default for Quotas {
    fn default() -> Self {
        Self {
            viewer_memory_mb: 128,
            viewer_timeout_s: 5,
            origin_memory_mb: 10_240,
            origin_timeout_s: 30,
            viewer_response_bytes: 40 * 1024,
            origin_response_bytes: 1024 * 1024,
            viewer_body_bytes: 40 * 1024,
            origin_body_bytes: 1024 * 1024,
        }
    }
}

fn viewer_side(at: TriggerPoint) -> bool {
    matches!(
        at,
        TriggerPoint::ViewerRequest | TriggerPoint::ViewerResponse
    )
}

impl Quotas {
    /// `(memory MB, timeout s)` for functions of a trigger.
    pub fn limits(&self, at: TriggerPoint) -> (u32, u32) {
        if viewer_side(at) {
            (self.viewer_memory_mb, self.viewer_timeout_s)
        } else {
            (self.origin_memory_mb, self.origin_timeout_s)
        }
    }

    fn output(&self, at: TriggerPoint) -> output::Limits {
        let (response_bytes, body_text_bytes) = if viewer_side(at) {
            (self.viewer_response_bytes, self.viewer_body_bytes)
        } else {
            (self.origin_response_bytes, self.origin_body_bytes)
        };
        output::Limits {
            response_bytes,
            body_text_bytes,
            // base64 replacement bodies: 53.2 KB / 1.33 MB for 40 KB / 1 MB of text.
            body_base64_bytes: body_text_bytes * 133 / 100,
        }
    }

    fn body(&self, at: TriggerPoint) -> usize {
        if viewer_side(at) {
            self.viewer_body_bytes
        } else {
            self.origin_body_bytes
        }
    }
}

/// Why the viewer gets a CloudFront error page instead: 500, 502 or 503 and the page's text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Failure {
    pub(crate) status: u16,
    pub(crate) reason: String,
}

impl Failure {
    /// The function's output broke the contract (`LambdaValidationError`).
    pub(crate) fn validation(reason: String) -> Self {
        Self {
            status: 502,
            reason,
        }
    }

    /// The function failed (`LambdaExecutionError`).
    fn execution() -> Self {
        Self {
            status: 500,
            reason: REASON_EXECUTION.to_owned(),
        }
    }

    /// Throttled, timed out, or unreachable (`LambdaLimitExceeded`).
    fn limit(reason: &str) -> Self {
        Self {
            status: 503,
            reason: reason.to_owned(),
        }
    }

    /// The text of CloudFront's error page.
    pub(crate) fn page_text(&self) -> String {
        format!("{} {REASON_TAIL}", self.reason)
    }
}

/// Where a request is being served, for events, logs and the latency model.
pub(crate) struct Site<'a> {
    pub(crate) cfg: &'a EdgeConfig,
    pub(crate) distribution_id: &'a str,
    pub(crate) domain: &'a str,
    pub(crate) request_id: &'a str,
    pub(crate) pop: &'a str,
    pub(crate) pop_at: GeoPoint,
    pub(crate) client_ip: &'a str,
}

impl<'a> Site<'a> {
    pub(crate) fn new(
        cfg: &'a EdgeConfig,
        spec: &'a DistributionSpec,
        request_id: &'a str,
        pop: usize,
        client_ip: &'a str,
    ) -> Self {
        Self {
            cfg,
            distribution_id: &spec.id,
            domain: &spec.domain_name,
            request_id,
            pop: &cfg.pops[pop].id,
            pop_at: cfg.pops[pop].at,
            client_ip,
        }
    }

    /// The region that runs a function: the origin's shield region for origin triggers when
    /// it has one, else the regional edge cache nearest the POP.
    fn region(&self, at: TriggerPoint, origin: Option<&OriginSpec>) -> (&'a str, GeoPoint) {
        let regions = &self.cfg.regions;
        let shield = origin
            .filter(|_| !viewer_side(at))
            .and_then(|o| o.shield_region.as_deref())
            .and_then(|name| regions.iter().find(|r| r.name == name));
        let r = shield.or_else(|| {
            crate::geo::nearest_region(regions, self.pop_at).and_then(|i| regions.get(i))
        });
        match r {
            Some(r) => (r.name.as_str(), r.at),
            None => ("us-east-1", self.pop_at),
        }
    }
}

/// What a request trigger decided.
#[derive(Debug)]
pub(crate) enum Step {
    /// Go on (with the request as the function left it).
    Continue,
    /// The function generated a response.
    Respond(ResponseOut),
    /// An error page.
    Fail(Failure),
}

/// Invokes the function behind `a` with `event`; the function's answer or the error page.
async fn run(
    site: &Site<'_>,
    a: &LambdaAssociation,
    origin: Option<&OriginSpec>,
    event: String,
) -> Result<Bytes, Failure> {
    let (region, region_at) = site.region(a.event_type, origin);
    let Some(invoker) = site.cfg.invoker.as_ref() else {
        return Err(Failure::limit(REASON_INVALID_FUNCTION));
    };
    let Ok(function) = a.function_name.parse::<FunctionName>() else {
        return Err(Failure::limit(REASON_INVALID_FUNCTION));
    };
    // Viewer functions run in the regional edge cache, one POP↔REC round trip away.
    let model = site.cfg.latency;
    if viewer_side(a.event_type) && model.enabled {
        let ms = model.rtt_ms(site.pop_at, region_at);
        if ms > 0.0 {
            tokio::time::sleep(crate::geo::LatencyModel::duration(ms)).await;
        }
    }
    let mut req = InvokeRequest::new(function, event);
    req.qualifier = Some(a.version.clone());
    // The invocation's log lines also go to the region that ran it (below).
    req.capture_log = site.cfg.state_dir.is_some();
    let (_, quota) = site.cfg.lambda_edge.limits(a.event_type);
    let fn_timeout = if a.timeout_s == 0 {
        quota
    } else {
        a.timeout_s.min(quota)
    };
    // The runtime enforces the function's own timeout; this guard only catches an invoker
    // that never answers.
    let guard = Duration::from_secs(u64::from(fn_timeout) + 2);
    let started = Instant::now();
    let answer = tokio::time::timeout(guard, invoker.invoke(req)).await;
    let outcome = match &answer {
        Ok(Ok(r)) => r.outcome.as_str(),
        Ok(Err(_)) => "unreachable",
        Err(_) => "timeout",
    };
    tracing::debug!(
        function = %a.function_name,
        version = %a.version,
        request_id = site.request_id,
        pop = site.pop,
        region,
        log_group = %format!("/aws/lambda/us-east-1.{}", a.function_name),
        trigger = a.event_type.as_str(),
        outcome,
        duration_ms = started.elapsed().as_secs_f64() * 1000.0,
        "Lambda@Edge invocation"
    );
    if let (Some(dir), Ok(Ok(r))) = (&site.cfg.state_dir, &answer) {
        if let Some(log) = &r.log {
            regional_log(dir, region, &a.function_name, log);
        }
    }
    match answer {
        Ok(Ok(r)) => match r.outcome {
            InvokeOutcome::Success { payload } => Ok(payload),
            InvokeOutcome::FunctionError { .. } | InvokeOutcome::Crashed { .. } => {
                Err(Failure::execution())
            }
            InvokeOutcome::Timeout { .. } => Err(Failure::limit(REASON_TIMEOUT)),
            InvokeOutcome::Throttled { .. } => Err(Failure::limit(REASON_THROTTLED)),
        },
        Ok(Err(InvokeError::FunctionNotFound { arn })) => {
            tracing::warn!(function = %a.function_name, version = %a.version, arn, "Lambda@Edge function version not found (is the version published?)");
            Err(Failure::limit(REASON_INVALID_FUNCTION))
        }
        Ok(Err(e)) => {
            tracing::warn!(function = %a.function_name, error = %e, "Lambda@Edge invocation failed");
            Err(Failure::limit(REASON_INVALID_FUNCTION))
        }
        Err(_) => Err(Failure::limit(REASON_TIMEOUT)),
    }
}

/// Appends an edge invocation's log lines (`START` to `REPORT`) to
/// `<state>/logs/lambda-edge/<region>/us-east-1.<function>.log`: on AWS a Lambda@Edge
/// function logs to the log group `/aws/lambda/us-east-1.<function>` in the region whose
/// edge cache ran it. The function's own log has them too.
fn regional_log(state_dir: &std::path::Path, region: &str, function: &str, lines: &str) {
    use std::io::Write;
    let dir = state_dir.join("logs").join("lambda-edge").join(region);
    let written = std::fs::create_dir_all(&dir).and_then(|()| {
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(dir.join(format!("us-east-1.{function}.log")))?
            .write_all(lines.as_bytes())
    });
    if let Err(e) = written {
        tracing::warn!(function, region, error = %e, "cannot write the Lambda@Edge regional log");
    }
}

/// The viewer's request as a viewer-request function sees and changes it.
pub(crate) struct ViewerRequestView {
    pub(crate) method: http::Method,
    pub(crate) uri: String,
    pub(crate) query: Option<String>,
    pub(crate) headers: HeaderMap,
    pub(crate) body: Bytes,
}

/// viewer-request: runs on every request, before the cache key is computed.
pub(crate) async fn viewer_request(
    site: &Site<'_>,
    a: &LambdaAssociation,
    req: &mut ViewerRequestView,
) -> Step {
    let at = TriggerPoint::ViewerRequest;
    let event = event::write(
        &config(site, at),
        &event::RequestIn {
            client_ip: site.client_ip,
            headers: &req.headers,
            method: req.method.as_str(),
            origin: None,
            querystring: req.query.as_deref().unwrap_or(""),
            uri: &req.uri,
            body: a.include_body.then(|| event::BodyIn {
                data: &req.body,
                limit: site.cfg.lambda_edge.body(at),
            }),
        },
        None,
    );
    let payload = match run(site, a, None, event).await {
        Ok(p) => p,
        Err(f) => return Step::Fail(f),
    };
    match output::parse(
        at,
        &payload,
        &req.headers,
        None,
        site.cfg.lambda_edge.output(at),
    ) {
        Ok(Output::Request(r)) => {
            req.uri = r.uri;
            req.query = (!r.querystring.is_empty()).then_some(r.querystring);
            req.headers = r.headers;
            if let Some(b) = r.body.filter(|_| a.include_body) {
                req.body = b;
            }
            Step::Continue
        }
        Ok(Output::Response(r)) => Step::Respond(r),
        Err(f) => Step::Fail(f),
    }
}

fn config<'a>(site: &Site<'a>, at: TriggerPoint) -> event::Config<'a> {
    event::Config {
        distribution_domain_name: site.domain,
        distribution_id: site.distribution_id,
        event_type: at,
        request_id: site.request_id,
    }
}

/// `{"name":[{"key":…,"value":…}]}` of an origin's custom headers.
fn custom_headers(out: &mut String, headers: &[(String, String)]) {
    let mut map = HeaderMap::new();
    for (n, v) in headers {
        if let (Ok(n), Ok(v)) = (
            http::HeaderName::from_bytes(n.as_bytes()),
            http::HeaderValue::from_str(v),
        ) {
            map.append(n, v);
        }
    }
    event::headers(out, &map, &[]);
}

/// `request.origin` for an origin.
fn origin_json(o: &OriginSpec) -> String {
    let mut out = String::from("{");
    match &o.kind {
        OriginKind::Http { base_url } => {
            let (scheme, rest) = base_url.split_once("://").unwrap_or(("http", base_url));
            let port = rest
                .rsplit_once(':')
                .and_then(|(_, p)| p.parse::<u16>().ok())
                .unwrap_or(if scheme == "https" { 443 } else { 80 });
            out.push_str("\"custom\":{\"customHeaders\":");
            custom_headers(&mut out, &o.custom_headers);
            out.push_str(&format!(
                ",\"domainName\":{},\"keepaliveTimeout\":5,\"path\":{},\"port\":{port},\"protocol\":{},\"readTimeout\":{},\"sslProtocols\":[\"TLSv1.2\"]}}",
                json_str(&o.domain_name),
                json_str(&o.origin_path),
                json_str(scheme),
                o.read_timeout_s
            ));
        }
        OriginKind::S3 { .. } => {
            let region = o
                .domain_name
                .split('.')
                .skip_while(|p| *p != "s3")
                .nth(1)
                .filter(|r| *r != "amazonaws")
                .unwrap_or("us-east-1");
            out.push_str("\"s3\":{\"authMethod\":\"none\",\"customHeaders\":");
            custom_headers(&mut out, &o.custom_headers);
            out.push_str(&format!(
                ",\"domainName\":{},\"path\":{},\"region\":{}}}",
                json_str(&o.domain_name),
                json_str(&o.origin_path),
                json_str(region)
            ));
        }
    }
    out.push('}');
    out
}

fn json_str(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_else(|_| "\"\"".to_owned())
}

/// What an origin-request function decided besides [`Step`].
pub(crate) struct OriginRequestOutcome<'s> {
    pub(crate) step: Step,
    /// The origin to use instead (the function chose another origin of the distribution).
    pub(crate) origin: Option<&'s OriginSpec>,
}

/// origin-request: runs when a tier goes to the origin, after CloudFront built the origin
/// request (`req`, whose path carries `origin.origin_path`). `uri` / `query` are the
/// viewer-side path and forwarded query string.
pub(crate) async fn origin_request<'s>(
    site: &Site<'_>,
    a: &LambdaAssociation,
    spec: &'s DistributionSpec,
    origin: &OriginSpec,
    uri: &str,
    query: &str,
    req: &mut OriginRequest,
) -> OriginRequestOutcome<'s> {
    let at = TriggerPoint::OriginRequest;
    let origin_in = origin_json(origin);
    let event = event::write(
        &config(site, at),
        &event::RequestIn {
            client_ip: site.client_ip,
            headers: &req.headers,
            method: req.method.as_str(),
            origin: Some(&origin_in),
            querystring: query,
            uri,
            body: a.include_body.then(|| event::BodyIn {
                data: &req.body,
                limit: site.cfg.lambda_edge.body(at),
            }),
        },
        None,
    );
    let fail = |f| OriginRequestOutcome {
        step: Step::Fail(f),
        origin: None,
    };
    let payload = match run(site, a, Some(origin), event).await {
        Ok(p) => p,
        Err(f) => return fail(f),
    };
    let r = match output::parse(
        at,
        &payload,
        &req.headers,
        None,
        site.cfg.lambda_edge.output(at),
    ) {
        Ok(Output::Request(r)) => r,
        Ok(Output::Response(r)) => {
            return OriginRequestOutcome {
                step: Step::Respond(r),
                origin: None,
            }
        }
        Err(f) => return fail(f),
    };
    // The origin the function returned: another origin of this distribution (by domain
    // name), or this one with another path / custom headers.
    let mut switched = None;
    let mut path = origin.origin_path.clone();
    let mut headers = r.headers;
    if let Some(o) = r.origin.as_ref().and_then(|o| o.as_object()) {
        let (kind, inner) = match (o.get("custom"), o.get("s3")) {
            (Some(c), _) => ("custom", c),
            (None, Some(s)) => ("s3", s),
            _ => {
                return fail(Failure::validation(format!(
                    "{REASON_VALIDATION}: The origin must have exactly one of custom or s3."
                )))
            }
        };
        let domain = inner
            .get("domainName")
            .and_then(|d| d.as_str())
            .unwrap_or("");
        if domain != origin.domain_name {
            match spec.origins.iter().find(|x| {
                x.domain_name == domain && matches!(x.kind, OriginKind::S3 { .. }) == (kind == "s3")
            }) {
                Some(x) => switched = Some(x),
                None => {
                    return fail(Failure::validation(format!(
                        "{REASON_VALIDATION}: ledge can only reach origins of this distribution; {domain:?} is not one."
                    )))
                }
            }
        }
        if let Some(p) = inner.get("path").and_then(|p| p.as_str()) {
            if !p.is_empty() && (!p.starts_with('/') || p.ends_with('/')) {
                return fail(Failure::validation(format!(
                    "{REASON_VALIDATION}: The origin path must start with \"/\" and must not end with \"/\"."
                )));
            }
            path = p.to_owned();
        }
        if let Some(custom) = inner.get("customHeaders").and_then(|c| c.as_object()) {
            for (name, entries) in custom {
                let lower = name.to_ascii_lowercase();
                if disallowed(&lower) || headers.contains_key(lower.as_str()) {
                    return fail(Failure::validation(format!(
                        "{REASON_VALIDATION}: The origin custom header {name:?} is not allowed."
                    )));
                }
                for e in entries.as_array().into_iter().flatten() {
                    if let (Ok(n), Some(Ok(v))) = (
                        http::HeaderName::from_bytes(lower.as_bytes()),
                        e.get("value")
                            .and_then(|v| v.as_str())
                            .map(http::HeaderValue::from_str),
                    ) {
                        headers.append(n, v);
                    }
                }
            }
        }
    }
    let qs = if r.querystring.is_empty() {
        String::new()
    } else {
        format!("?{}", r.querystring)
    };
    req.path_and_query = format!("{path}{}{qs}", r.uri);
    req.headers = headers;
    if let Some(b) = r.body.filter(|_| a.include_body) {
        req.body = b;
    }
    OriginRequestOutcome {
        step: Step::Continue,
        origin: switched,
    }
}

/// origin-response: runs on every origin answer (any status) before it is cached, unless
/// the origin-request function generated the response. `sent` is the origin request.
#[allow(clippy::too_many_arguments)]
pub(crate) async fn origin_response(
    site: &Site<'_>,
    a: &LambdaAssociation,
    origin: &OriginSpec,
    uri: &str,
    query: &str,
    sent: &OriginRequest,
    status: u16,
    headers: &HeaderMap,
) -> Result<ResponseOut, Failure> {
    let at = TriggerPoint::OriginResponse;
    let origin_in = origin_json(origin);
    let description = status_text(status);
    let event = event::write(
        &config(site, at),
        &event::RequestIn {
            client_ip: site.client_ip,
            headers: &sent.headers,
            method: sent.method.as_str(),
            origin: Some(&origin_in),
            querystring: query,
            uri,
            body: None,
        },
        Some(&event::ResponseIn {
            headers,
            status,
            status_description: description,
            extra: &[],
        }),
    );
    let payload = run(site, a, Some(origin), event).await?;
    match output::parse(
        at,
        &payload,
        headers,
        Some(status),
        site.cfg.lambda_edge.output(at),
    )? {
        Output::Response(r) => Ok(r),
        Output::Request(_) => Err(Failure::validation(REASON_INVALID_JSON.to_owned())),
    }
}

/// viewer-response: runs on what the viewer is about to get.
#[allow(clippy::too_many_arguments)]
pub(crate) async fn viewer_response(
    site: &Site<'_>,
    a: &LambdaAssociation,
    method: &http::Method,
    uri: &str,
    query: Option<&str>,
    request_headers: &HeaderMap,
    status: u16,
    headers: &HeaderMap,
    age: Option<u64>,
) -> Result<ResponseOut, Failure> {
    let at = TriggerPoint::ViewerResponse;
    let extra: Vec<(&str, String)> = age.map(|a| ("age", a.to_string())).into_iter().collect();
    let event = event::write(
        &config(site, at),
        &event::RequestIn {
            client_ip: site.client_ip,
            headers: request_headers,
            method: method.as_str(),
            origin: None,
            querystring: query.unwrap_or(""),
            uri,
            body: None,
        },
        Some(&event::ResponseIn {
            headers,
            status,
            status_description: status_text(status),
            extra: &extra,
        }),
    );
    let payload = run(site, a, None, event).await?;
    let mut shown = headers.clone();
    if let Some(age) = age {
        shown.insert(http::header::AGE, http::HeaderValue::from(age));
    }
    match output::parse(
        at,
        &payload,
        &shown,
        Some(status),
        site.cfg.lambda_edge.output(at),
    )? {
        Output::Response(r) => Ok(r),
        Output::Request(_) => Err(Failure::validation(REASON_INVALID_JSON.to_owned())),
    }
}

fn status_text(status: u16) -> &'static str {
    http::StatusCode::from_u16(status)
        .ok()
        .and_then(|s| s.canonical_reason())
        .unwrap_or("")
}
