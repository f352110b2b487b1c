//! Non-proxy integrations (`AWS` service actions, Lambda "custom", `HTTP`, `MOCK`) and
//! their data mapping (reference §3.1–§3.5): the request template chosen by Content-Type
//! and the passthrough behaviour, parameter mappings and `$context.requestOverride`, the
//! backend call, the integration response chosen by `selectionPattern` (Java regex, whole
//! string) on the Lambda `errorMessage` or the backend status, its template chosen by
//! Accept, `responseParameters` and `$context.responseOverride`.
//!
//! Templates and selection patterns are compiled once per deployment ([`compile`]); a
//! template that does not parse fails the deployment with its line and column.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use ledge_model::{Invoke, InvokeOutcome};
use ledge_vtl::{JavaRegex, Limits, Overrides, RenderError, Template, Value};
use serde_json::Value as J;

use super::aws::{self, AwsSettings, ServiceUri, UriKind};
use super::consts::{errors, GatewayResponse, JSON};
use super::proxy as rest_proxy;
use super::spec::*;
use super::sts::{KeySource, RoleCache};
use crate::common::event::{
    canonical_header_name, header_pairs, media_type, Authorization, RequestFacts, RestContext,
};
use crate::common::lambda::{self, InvokeFailure};
use crate::http::response::ProxyResponse;
use crate::GatewayError;

/// A template compiled at deploy time; `None` stands for an empty template.
pub(crate) type Compiled = (String, Option<Arc<Template>>);

/// One method's non-proxy integration, compiled.
#[derive(Debug)]
pub(crate) struct CompiledMapping {
    request: Vec<Compiled>,
    responses: Vec<CompiledResponse>,
    uri: Option<ServiceUri>,
}

#[derive(Debug)]
struct CompiledResponse {
    pattern: Option<JavaRegex>,
    templates: Vec<Compiled>,
}

/// Compiles one template; the error names the site, the template and the line and column.
pub(crate) fn compile_template(
    site: &str,
    what: &str,
    src: &str,
) -> Result<Option<Arc<Template>>, GatewayError> {
    if src.trim().is_empty() {
        return Ok(None);
    }
    Template::compile(src)
        .map(|t| Some(Arc::new(t)))
        .map_err(|e| GatewayError::spec(site, what, format!("the template does not parse: {e}")))
}

/// Compiles templates by content type (`what[content/type]` in errors).
pub(crate) fn compile_templates(
    site: &str,
    what: &str,
    templates: &[(String, String)],
) -> Result<Vec<Compiled>, GatewayError> {
    let mut out = Vec::with_capacity(templates.len());
    for (ct, src) in templates {
        out.push((
            ct.clone(),
            compile_template(site, &format!("{what}[{ct}]"), src)?,
        ));
    }
    Ok(out)
}

/// Compiles a method's templates and selection patterns.
pub(crate) fn compile(site: &str, m: &MappedIntegration) -> Result<CompiledMapping, GatewayError> {
    let mut request = Vec::with_capacity(m.request_templates.len());
    for (ct, src) in &m.request_templates {
        let t = compile_template(site, &format!("requestTemplates[{ct}]"), src)?;
        // An empty request template renders an empty body (it is not a passthrough).
        request.push((
            ct.clone(),
            Some(t.unwrap_or_else(|| {
                Arc::new(Template::compile("").expect("invariant: empty parses"))
            })),
        ));
    }
    check_method_responses(site, m)?;
    let mut responses = Vec::with_capacity(m.responses.len());
    for r in &m.responses {
        let pattern = match &r.selection_pattern {
            Some(p) => Some(JavaRegex::new(p).map_err(|e| {
                GatewayError::spec(site, "responses.selectionPattern", format!("{p:?}: {e}"))
            })?),
            None => None,
        };
        let templates = compile_templates(
            site,
            &format!("responses[{}].responseTemplates", r.status_code),
            &r.response_templates,
        )?;
        responses.push(CompiledResponse { pattern, templates });
    }
    let uri = match &m.target {
        MappedTarget::AwsService { uri, .. } => {
            Some(ServiceUri::parse(uri).map_err(|e| GatewayError::spec(site, "uri", e))?)
        }
        _ => None,
    };
    Ok(CompiledMapping {
        request,
        responses,
        uri,
    })
}

/// AWS refuses (PutIntegrationResponse, an OpenAPI import, CloudFormation) an integration
/// response that maps a header its method response does not declare, or that maps headers
/// for a status with no method response; ledge fails the deployment the same way.
fn check_method_responses(site: &str, m: &MappedIntegration) -> Result<(), GatewayError> {
    let invalid = |status: u16, error: String| {
        GatewayError::spec(
            site,
            format!("responses[{status}].responseParameters"),
            format!(
                "Invalid mapping expression specified: Validation Result: warnings : [], errors : [{error}]"
            ),
        )
    };
    for r in &m.responses {
        let declared = m
            .method_responses
            .iter()
            .find(|d| d.status_code == r.status_code);
        for (target, _) in &r.response_parameters {
            let Some(declared) = declared else {
                return Err(invalid(
                    r.status_code,
                    "No method response exists for method.".to_owned(),
                ));
            };
            let known = target
                .strip_prefix("method.response.header.")
                .is_some_and(|h| declared.headers.iter().any(|d| d.eq_ignore_ascii_case(h)));
            if !known {
                return Err(invalid(
                    r.status_code,
                    format!("Invalid mapping expression parameter specified: {target}"),
                ));
            }
        }
    }
    Ok(())
}

/// What a mapped integration needs from the API that serves it.
pub(crate) struct Env<'a> {
    pub invoker: &'a Arc<dyn Invoke>,
    pub client: &'a reqwest::Client,
    pub aws: &'a AwsSettings,
    /// Keys of the roles named by `credentials`.
    pub roles: &'a RoleCache,
    /// The region of URIs that leave it empty, when the environment names none.
    pub region: &'a str,
    pub binary_media_types: &'a [String],
    pub now: SystemTime,
}

/// The backend's answer before response mapping.
struct Backend {
    /// For selection: the status code, or the Lambda `errorMessage` (`None`: success).
    key: Option<String>,
    headers: Vec<(String, String)>,
    body: Bytes,
}

/// The request template for `content_type` (`None`: no match).
fn request_template<'c>(c: &'c CompiledMapping, content_type: &str) -> Option<&'c Compiled> {
    c.request.iter().find(|(k, _)| *k == content_type)
}

/// Response template by Accept (reference §3.3): the first Accept entry with a template,
/// a missing Accept counting as `application/json`; else `application/json`; else the
/// first template. `None` when there are no templates (passthrough).
pub(crate) fn response_template<'c>(
    templates: &'c [Compiled],
    accept: Option<&str>,
) -> Option<&'c Compiled> {
    let accept = accept.unwrap_or(JSON);
    accept
        .split(',')
        .map(media_type)
        .find_map(|a| templates.iter().find(|(k, _)| *k == a))
        .or_else(|| templates.iter().find(|(k, _)| k == JSON))
        .or_else(|| templates.first())
}

/// The integration response for a selection key: the first whose pattern matches the whole
/// key, else the default (no pattern). A Lambda success (`None`) takes the default, or a
/// pattern that matches the empty string (`.*`).
fn select(c: &CompiledMapping, key: Option<&str>) -> Option<usize> {
    let by_pattern = |k: &str| {
        c.responses
            .iter()
            .position(|r| r.pattern.as_ref().is_some_and(|p| p.is_full_match(k)))
    };
    let default = c.responses.iter().position(|r| r.pattern.is_none());
    match key {
        Some(k) => by_pattern(k).or(default),
        None => default.or_else(|| by_pattern("")),
    }
}

/// `$input.params()` and `$context` for the templates.
fn vtl_context(f: &RequestFacts, rest: &RestContext, body: String) -> ledge_vtl::Context {
    let mut params = ledge_vtl::Params::default();
    for (k, v) in &f.path_params {
        params.path.insert(k.clone(), v.clone());
    }
    for (k, v) in f.query_pairs() {
        params.querystring.insert(k, v);
    }
    for (k, v) in &f.headers {
        params.header.insert(canonical_header_name(k), v.clone());
    }
    let s = |v: &str| Value::String(v.to_owned());
    let identity: Value = [
        ("sourceIp", s(&f.source_ip)),
        ("userAgent", s(&f.user_agent())),
        (
            "apiKey",
            rest.api_key
                .as_ref()
                .map(|(k, _)| s(k))
                .unwrap_or(Value::Null),
        ),
        (
            "apiKeyId",
            rest.api_key
                .as_ref()
                .map(|(_, id)| s(id))
                .unwrap_or(Value::Null),
        ),
    ]
    .into_iter()
    .collect();
    let authorizer = match &f.authorizer {
        Authorization::Lambda {
            context,
            principal_id,
        } => {
            let mut m = indexmap::IndexMap::new();
            if let Some(p) = principal_id {
                m.insert("principalId".to_owned(), s(p));
            }
            for (k, v) in context {
                // REST hands authorizer context values on as strings.
                let v = match v {
                    J::String(t) => t.clone(),
                    other => other.to_string(),
                };
                m.insert(k.clone(), Value::String(v));
            }
            Value::Map(m)
        }
        Authorization::Jwt { claims, .. } => [("claims", Value::from(J::Object(claims.clone())))]
            .into_iter()
            .collect(),
        Authorization::None => Value::map(),
    };
    let context: Value = [
        ("accountId", s(&f.account_id)),
        ("apiId", s(&f.api_id)),
        ("authorizer", authorizer),
        ("deploymentId", s(&rest.deployment_id)),
        ("domainName", s(&f.domain_name())),
        ("domainPrefix", s(&f.domain_prefix())),
        ("extendedRequestId", s(&rest.extended_request_id)),
        ("httpMethod", s(&f.method)),
        ("identity", identity),
        ("path", s(&f.raw_path)),
        ("protocol", s("HTTP/1.1")),
        ("requestId", s(&f.request_id)),
        ("requestTime", s(&f.clf_time())),
        ("requestTimeEpoch", Value::Int(f.time_epoch_ms)),
        ("resourceId", s(&rest.resource_id)),
        ("resourcePath", s(&rest.resource_path)),
        ("stage", s(&f.stage)),
    ]
    .into_iter()
    .collect();
    ledge_vtl::Context {
        body,
        params,
        context,
        stage_variables: f.stage_variables.iter().cloned().collect(),
        vars: indexmap::IndexMap::new(),
    }
}

fn render(
    t: &Template,
    ctx: &ledge_vtl::Context,
    f: &RequestFacts,
    what: &str,
) -> Result<ledge_vtl::Rendered, GatewayResponse> {
    t.render_full(ctx, &Limits::default()).map_err(|e| {
        tracing::warn!(stage = %f.stage, route = %f.route_key, error = %e, "the {what} mapping template failed");
        match e {
            RenderError::InvalidJsonBody { .. } => errors::BAD_REQUEST_BODY,
            _ => errors::API_CONFIGURATION_ERROR,
        }
    })
}

fn base64_decode(b: &[u8]) -> Option<Bytes> {
    use base64::Engine;
    let t: Vec<u8> = b
        .iter()
        .copied()
        .filter(|c| !c.is_ascii_whitespace())
        .collect();
    base64::engine::general_purpose::STANDARD
        .decode(t)
        .ok()
        .map(Bytes::from)
}

fn base64_encode(b: &[u8]) -> Bytes {
    use base64::Engine;
    Bytes::from(base64::engine::general_purpose::STANDARD.encode(b))
}

/// Runs a mapped integration. `status` receives the integration status (for the access
/// log). `Err` is a gateway response.
pub(crate) async fn run(
    env: &Env<'_>,
    m: &MappedIntegration,
    c: &CompiledMapping,
    f: &RequestFacts,
    rest: &RestContext,
    status: &mut Option<u16>,
) -> Result<ProxyResponse, GatewayResponse> {
    // The request body, after contentHandling.
    let request_ct = f.header("content-type").map(|v| media_type(&v));
    let mut body = f.body.clone();
    match m.content_handling {
        Some(ContentHandling::ConvertToBinary) => {
            body = base64_decode(&body).ok_or(errors::BAD_REQUEST_BODY)?;
        }
        Some(ContentHandling::ConvertToText)
            if super::response::matches_media_type(
                env.binary_media_types,
                request_ct.as_deref(),
            ) =>
        {
            body = base64_encode(&body);
        }
        _ => {}
    }
    // Template selection and passthrough (§3.3).
    let key_ct = request_ct.clone().unwrap_or_else(|| JSON.to_owned());
    let ctx = vtl_context(f, rest, String::from_utf8_lossy(&body).into_owned());
    let (payload, overrides, sent_ct) = match request_template(c, &key_ct) {
        Some((ct, Some(t))) => {
            let r = render(t, &ctx, f, "request")?;
            (Bytes::from(r.body), r.overrides, Some(ct.clone()))
        }
        Some((ct, None)) => (Bytes::new(), Overrides::default(), Some(ct.clone())),
        None => {
            let pass = match m.passthrough {
                Passthrough::WhenNoMatch => true,
                Passthrough::WhenNoTemplates => c.request.is_empty(),
                Passthrough::Never => false,
            };
            if !pass {
                return Err(errors::UNSUPPORTED_MEDIA_TYPE);
            }
            (body, Overrides::default(), request_ct.clone())
        }
    };
    // Parameter mappings, then the template's request overrides (which are final).
    let mut mappings = m.request_parameters.clone();
    for (kind, values) in [
        ("path", &overrides.request.path),
        ("querystring", &overrides.request.querystring),
        ("header", &overrides.request.header),
    ] {
        for (name, v) in values {
            let target = format!("integration.request.{kind}.{name}");
            mappings.retain(|(t, _)| !t.eq_ignore_ascii_case(&target));
            mappings.push((target, format!("'{}'", v.join(","))));
        }
    }
    let backend = match &m.target {
        MappedTarget::Mock => {
            *status = None;
            mock(&payload)?
        }
        MappedTarget::Lambda { function } => {
            let invocation_type = rest_proxy::outgoing("", "POST", &mappings, f, false)
                .headers
                .into_iter()
                .find(|(k, _)| k == X_AMZ_INVOCATION_TYPE)
                .map(|(_, v)| v);
            if invocation_type.is_some_and(|t| t.trim().eq_ignore_ascii_case("Event")) {
                lambda_event(env, function, payload, f, status)
            } else {
                lambda_call(env, function, payload, m.timeout, f, status).await?
            }
        }
        MappedTarget::Http { uri, method } => {
            let mut out = rest_proxy::outgoing(uri, method, &mappings, f, false);
            default_header(
                &mut out.headers,
                "content-type",
                sent_ct.as_deref().unwrap_or(JSON),
            );
            let req = build(&out.method, &out.url, &out.headers, payload)?;
            http_call(env, req, m.timeout, status).await?
        }
        MappedTarget::AwsService {
            method,
            credentials,
            ..
        } => {
            let uri = c.uri.as_ref().ok_or(errors::API_CONFIGURATION_ERROR)?;
            let req = aws_request(env, uri, method, &mappings, f, payload, sent_ct.as_deref())?;
            let region = region_of(env, uri);
            let keys = env
                .roles
                .credentials(
                    env.client,
                    env.aws,
                    KeySource::of(credentials.as_deref()),
                    m.timeout,
                    env.now,
                )
                .await
                .map_err(|e| {
                    tracing::warn!(stage = %f.stage, route = %f.route_key, error = %e, "no keys to sign the AWS integration's request");
                    errors::API_CONFIGURATION_ERROR
                })?;
            let mut req = req;
            aws::sign(&mut req, &keys, &region, &uri.service, env.now).map_err(|e| {
                tracing::warn!(stage = %f.stage, route = %f.route_key, error = %e, "could not sign the AWS integration's request");
                errors::API_CONFIGURATION_ERROR
            })?;
            http_call(env, req, m.timeout, status).await?
        }
    };
    respond(m, c, f, rest, backend)
}

fn region_of(env: &Env<'_>, uri: &ServiceUri) -> String {
    if !uri.region.is_empty() {
        return uri.region.clone();
    }
    env.aws
        .region
        .clone()
        .unwrap_or_else(|| env.region.to_owned())
}

fn default_header(headers: &mut Vec<(String, String)>, name: &str, value: &str) {
    if !headers.iter().any(|(k, _)| k.eq_ignore_ascii_case(name)) {
        headers.push((name.to_owned(), value.to_owned()));
    }
}

/// Services of the query protocol (`Action=…` form parameters, XML answers unless asked
/// for JSON).
const QUERY_PROTOCOL: &[&str] = &[
    "sqs",
    "sns",
    "sts",
    "iam",
    "email",
    "ses",
    "monitoring",
    "cloudformation",
    "ec2",
    "autoscaling",
    "elasticache",
    "rds",
];

/// The request to an AWS service, before signing.
fn aws_request(
    env: &Env<'_>,
    uri: &ServiceUri,
    method: &str,
    mappings: &[(String, String)],
    f: &RequestFacts,
    mut payload: Bytes,
    sent_ct: Option<&str>,
) -> Result<http::Request<Bytes>, GatewayResponse> {
    let region = region_of(env, uri);
    let (path, action) = match &uri.kind {
        UriKind::Path(p) => (p.clone(), None),
        UriKind::Action { name, params } => (String::new(), Some((name, params))),
    };
    let (base, path) = aws::endpoint(env.aws, uri, &region, &path);
    let mut out = rest_proxy::outgoing(&format!("{base}{path}"), method, mappings, f, false);
    let mut extra_query: Vec<(String, String)> = Vec::new();
    match (action, aws::json_protocol(&uri.service)) {
        (Some((name, _)), Some((prefix, version))) => {
            default_header(
                &mut out.headers,
                "x-amz-target",
                &format!("{prefix}.{name}"),
            );
            default_header(
                &mut out.headers,
                "content-type",
                &format!("application/x-amz-json-{version}"),
            );
        }
        (Some((name, params)), None) => {
            extra_query.push(("Action".to_owned(), name.clone()));
            extra_query.extend(params.iter().cloned());
        }
        (None, _) => {}
    }
    default_header(&mut out.headers, "content-type", sent_ct.unwrap_or(JSON));
    // API Gateway asks AWS services for JSON (query-protocol services answer XML
    // otherwise; map `integration.request.header.Accept` to change it).
    default_header(&mut out.headers, "accept", JSON);
    // Emulators (moto) answer the query protocol in JSON only for `ContentType=JSON`; real
    // AWS honours Accept. Only for an overridden endpoint.
    let accept_json = out
        .headers
        .iter()
        .any(|(k, v)| k.eq_ignore_ascii_case("accept") && media_type(v) == JSON);
    if accept_json
        && QUERY_PROTOCOL.contains(&uri.service.as_str())
        && env.aws.endpoint_override(&uri.service).is_some()
    {
        let form = out.headers.iter().any(|(k, v)| {
            k.eq_ignore_ascii_case("content-type")
                && media_type(v) == "application/x-www-form-urlencoded"
        });
        if form && !payload.is_empty() {
            let mut b = payload.to_vec();
            b.extend_from_slice(b"&ContentType=JSON");
            payload = Bytes::from(b);
        } else {
            extra_query.push(("ContentType".to_owned(), "JSON".to_owned()));
        }
    }
    let mut url = out.url;
    rest_proxy::append_query(&mut url, &extra_query);
    build(&out.method, &url, &out.headers, payload)
}

fn build(
    method: &str,
    url: &str,
    headers: &[(String, String)],
    body: Bytes,
) -> Result<http::Request<Bytes>, GatewayResponse> {
    let mut b = http::Request::builder().method(method).uri(url);
    for (k, v) in headers {
        b = b.header(k.as_str(), v.as_str());
    }
    b.body(body).map_err(|e| {
        tracing::warn!(url = %url, error = %e, "the integration request is not valid HTTP");
        errors::API_CONFIGURATION_ERROR
    })
}

async fn http_call(
    env: &Env<'_>,
    req: http::Request<Bytes>,
    timeout: Duration,
    status: &mut Option<u16>,
) -> Result<Backend, GatewayResponse> {
    let url = req.uri().to_string();
    let mut req = reqwest::Request::try_from(req).map_err(|e| {
        tracing::warn!(url = %url, error = %e, "the integration URI is not a URL");
        errors::API_CONFIGURATION_ERROR
    })?;
    *req.timeout_mut() = Some(timeout);
    let resp = match env.client.execute(req).await {
        Ok(r) => r,
        Err(e) if e.is_timeout() => {
            *status = Some(504);
            return Err(errors::INTEGRATION_TIMEOUT);
        }
        Err(e) => {
            tracing::warn!(url = %url, error = %e, "integration request failed");
            return Err(errors::INTEGRATION_FAILURE);
        }
    };
    let code = resp.status().as_u16();
    *status = Some(code);
    let headers = header_pairs(resp.headers());
    let body = match resp.bytes().await {
        Ok(b) => b,
        Err(e) if e.is_timeout() => return Err(errors::INTEGRATION_TIMEOUT),
        Err(_) => return Err(errors::INTEGRATION_FAILURE),
    };
    Ok(Backend {
        key: Some(code.to_string()),
        headers,
        body,
    })
}

/// MOCK: the rendered request's `statusCode` (200 when the body is empty or names none).
fn mock(payload: &[u8]) -> Result<Backend, GatewayResponse> {
    let code = if payload.iter().all(u8::is_ascii_whitespace) {
        200
    } else {
        let v: J = serde_json::from_slice(payload).map_err(|e| {
            tracing::warn!(error = %e, "the MOCK integration's request is not JSON");
            errors::API_CONFIGURATION_ERROR
        })?;
        match v.get("statusCode") {
            None => 200,
            Some(J::Number(n)) => n.as_u64().unwrap_or(200),
            Some(J::String(s)) => s.trim().parse().unwrap_or(200),
            Some(_) => 200,
        }
    };
    Ok(Backend {
        key: Some(code.to_string()),
        headers: Vec::new(),
        body: Bytes::new(),
    })
}

/// The header a Lambda custom integration maps to choose the invocation type
/// (`integration.request.header.X-Amz-Invocation-Type`), lowercased as mapped.
const X_AMZ_INVOCATION_TYPE: &str = "x-amz-invocation-type";
/// How long a detached (`Event`) invocation may take: Lambda's longest timeout; the
/// function's own timeout ends it first.
const EVENT_DEADLINE: Duration = Duration::from_secs(900);

/// `X-Amz-Invocation-Type: Event`: the function runs detached and the integration answers
/// at once as Lambda's Invoke does (202, empty body), which selects the default response.
/// Unlike Lambda's event queue, a failed run is logged, not retried.
fn lambda_event(
    env: &Env<'_>,
    function: &str,
    payload: Bytes,
    f: &RequestFacts,
    status: &mut Option<u16>,
) -> Backend {
    let function = rest_proxy::with_stage_variables(function, f);
    let invoker = env.invoker.clone();
    let trace = f.header(super::consts::X_AMZN_TRACE_ID);
    let (stage, route) = (f.stage.clone(), f.route_key.clone());
    tokio::spawn(async move {
        let outcome = lambda::invoke(
            invoker.as_ref(),
            &function,
            payload.to_vec(),
            trace,
            EVENT_DEADLINE,
        )
        .await;
        match outcome {
            Ok(InvokeOutcome::Success { .. }) => {}
            Ok(other) => {
                tracing::warn!(stage = %stage, route = %route, function = %function, outcome = other.as_str(), "the asynchronously invoked function failed");
            }
            Err(InvokeFailure::Timeout) => {
                tracing::warn!(stage = %stage, route = %route, function = %function, "the asynchronously invoked function timed out");
            }
            Err(InvokeFailure::Platform(e)) => {
                tracing::warn!(stage = %stage, route = %route, function = %function, error = %e, "could not invoke the function asynchronously");
            }
        }
    });
    *status = Some(202);
    Backend {
        key: None,
        headers: Vec::new(),
        body: Bytes::new(),
    }
}

async fn lambda_call(
    env: &Env<'_>,
    function: &str,
    payload: Bytes,
    timeout: Duration,
    f: &RequestFacts,
    status: &mut Option<u16>,
) -> Result<Backend, GatewayResponse> {
    let function = rest_proxy::with_stage_variables(function, f);
    let outcome = lambda::invoke(
        env.invoker.as_ref(),
        &function,
        payload.to_vec(),
        f.header(super::consts::X_AMZN_TRACE_ID),
        timeout,
    )
    .await;
    let (key, body) = match outcome {
        Err(InvokeFailure::Timeout) => {
            tracing::warn!(stage = %f.stage, route = %f.route_key, function = %function, "integration timed out");
            *status = Some(504);
            return Err(errors::INTEGRATION_TIMEOUT);
        }
        Err(InvokeFailure::Platform(e)) => {
            tracing::warn!(stage = %f.stage, route = %f.route_key, error = %e, "Lambda integration failed");
            return Err(errors::API_CONFIGURATION_ERROR);
        }
        Ok(InvokeOutcome::Success { payload }) => (None, payload),
        Ok(InvokeOutcome::Throttled { .. }) => {
            tracing::warn!(stage = %f.stage, route = %f.route_key, function = %function, "the function was throttled");
            return Err(errors::API_CONFIGURATION_ERROR);
        }
        Ok(
            InvokeOutcome::FunctionError { payload, .. }
            | InvokeOutcome::Timeout { payload }
            | InvokeOutcome::Crashed { payload, .. },
        ) => {
            let message = serde_json::from_slice::<J>(&payload)
                .ok()
                .and_then(|v| v.get("errorMessage").map(rest_proxy::json_text))
                .unwrap_or_default();
            (Some(message), payload)
        }
    };
    *status = Some(200);
    Ok(Backend {
        key,
        headers: Vec::new(),
        body,
    })
}

/// Response mapping: selection, template by Accept, response parameters and overrides.
fn respond(
    m: &MappedIntegration,
    c: &CompiledMapping,
    f: &RequestFacts,
    rest: &RestContext,
    backend: Backend,
) -> Result<ProxyResponse, GatewayResponse> {
    let Some(i) = select(c, backend.key.as_deref()) else {
        tracing::warn!(stage = %f.stage, route = %f.route_key, key = ?backend.key, "No match for output mapping and no default output mapping configured");
        return Err(errors::API_CONFIGURATION_ERROR);
    };
    let spec = &m.responses[i];
    let compiled = &c.responses[i];
    if !m
        .method_responses
        .iter()
        .any(|r| r.status_code == spec.status_code)
    {
        tracing::warn!(stage = %f.stage, route = %f.route_key, "Execution failed due to configuration error: Output mapping refers to an invalid method response: {}", spec.status_code);
        return Err(errors::API_CONFIGURATION_ERROR);
    }
    let mut status = spec.status_code;
    let mut body = backend.body.clone();
    let mut content_type = JSON.to_owned();
    let mut response_override = Default::default();
    if let Some((ct, t)) = response_template(&compiled.templates, f.header("accept").as_deref()) {
        content_type = ct.clone();
        if let Some(t) = t {
            let ctx = vtl_context(f, rest, String::from_utf8_lossy(&backend.body).into_owned());
            let r = render(t, &ctx, f, "response")?;
            body = Bytes::from(r.body);
            response_override = r.overrides.response;
        }
    }
    match spec.content_handling {
        Some(ContentHandling::ConvertToText) if std::str::from_utf8(&body).is_err() => {
            body = base64_encode(&body);
        }
        Some(ContentHandling::ConvertToBinary) => {
            body = base64_decode(&body).ok_or_else(|| {
                tracing::warn!(stage = %f.stage, route = %f.route_key, "CONVERT_TO_BINARY: the integration response is not base64");
                errors::API_CONFIGURATION_ERROR
            })?;
        }
        _ => {}
    }
    let backend_json = || serde_json::from_slice::<J>(&backend.body).ok();
    let mut headers: Vec<(String, String)> = Vec::new();
    for (target, src) in &spec.response_parameters {
        let Some(name) = target.strip_prefix("method.response.header.") else {
            continue;
        };
        let value = if let Some(h) = src
            .strip_prefix("integration.response.header.")
            .or_else(|| src.strip_prefix("integration.response.multivalueheader."))
        {
            let v: Vec<&str> = backend
                .headers
                .iter()
                .filter(|(k, _)| k.eq_ignore_ascii_case(h))
                .map(|(_, v)| v.as_str())
                .collect();
            (!v.is_empty()).then(|| v.join(","))
        } else if src == "integration.response.body" {
            Some(String::from_utf8_lossy(&backend.body).into_owned())
        } else if let Some(p) = src.strip_prefix("integration.response.body.") {
            backend_json().and_then(|d| rest_proxy::json_path(&d, p).map(rest_proxy::json_text))
        } else {
            rest_proxy::source(src, f)
        };
        if let Some(v) = value {
            headers.retain(|(k, _)| !k.eq_ignore_ascii_case(name));
            headers.push((name.to_owned(), v));
        }
    }
    default_header(&mut headers, "Content-Type", &content_type);
    if let Some(s) = response_override.status {
        status = s;
    }
    for (k, v) in response_override.header {
        headers.retain(|(h, _)| !h.eq_ignore_ascii_case(&k));
        headers.push((k, v));
    }
    Ok(ProxyResponse {
        status,
        headers,
        body,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn compiled(m: &MappedIntegration) -> CompiledMapping {
        compile("t", m).expect("compiles")
    }

    fn mapped(responses: Vec<IntegrationResponse>) -> MappedIntegration {
        MappedIntegration {
            target: MappedTarget::Mock,
            timeout: Duration::from_secs(1),
            request_parameters: vec![],
            request_templates: vec![("application/json".into(), "{}".into())],
            passthrough: Passthrough::WhenNoMatch,
            content_handling: None,
            method_responses: responses
                .iter()
                .map(|r| MethodResponse {
                    status_code: r.status_code,
                    headers: vec![],
                })
                .collect(),
            responses,
        }
    }

    fn resp(p: Option<&str>, s: u16) -> IntegrationResponse {
        IntegrationResponse {
            selection_pattern: p.map(str::to_owned),
            status_code: s,
            ..IntegrationResponse::default()
        }
    }

    #[test]
    fn selection_is_a_whole_java_match_and_dot_stops_at_newlines() {
        let m = mapped(vec![
            resp(None, 200),
            resp(Some(".*\\[400\\].*"), 400),
            resp(Some("(\\n|.)*\\[500\\](\\n|.)*"), 500),
            resp(Some("4\\d{2}"), 404),
        ]);
        let c = compiled(&m);
        let s = |k: Option<&str>| select(&c, k).map(|i| m.responses[i].status_code);
        assert_eq!(s(Some("bad [400] input")), Some(400));
        assert_eq!(
            s(Some("line one\nbad [400] input")),
            Some(200),
            "`.` stops at \\n"
        );
        assert_eq!(s(Some("line one\nfailed [500]\nmore")), Some(500));
        assert_eq!(s(Some("404")), Some(404));
        assert_eq!(s(Some("4040")), Some(200), "whole string only");
        assert_eq!(s(None), Some(200), "success takes the default");
        let only = mapped(vec![resp(Some(".*"), 201)]);
        let c = compiled(&only);
        assert_eq!(select(&c, None), Some(0), "`.*` also matches a success");
        let none = mapped(vec![resp(Some("5\\d\\d"), 500)]);
        assert_eq!(select(&compiled(&none), Some("200")), None);
    }

    #[test]
    fn response_templates_by_accept() {
        let t = |k: &str| (k.to_owned(), None);
        let list = vec![t("application/xml"), t("application/json"), t("text/html")];
        let pick = |a: Option<&str>| response_template(&list, a).map(|(k, _)| k.as_str());
        assert_eq!(pick(None), Some("application/json"));
        assert_eq!(pick(Some("text/html")), Some("text/html"));
        assert_eq!(pick(Some("text/plain, text/html;q=0.9")), Some("text/html"));
        assert_eq!(pick(Some("image/png")), Some("application/json"));
        let no_json = vec![t("application/xml"), t("text/html")];
        assert_eq!(
            response_template(&no_json, Some("*/*")).map(|(k, _)| k.as_str()),
            Some("application/xml"),
            "the first template"
        );
        assert!(response_template(&[], None).is_none());
    }

    #[test]
    fn a_template_that_does_not_parse_names_line_and_column() {
        let mut m = mapped(vec![resp(None, 200)]);
        m.request_templates = vec![(
            "application/json".into(),
            "{\n  #if($x)\n  \"a\": 1\n".into(),
        )];
        let e = compile("Api: POST /x", &m).expect_err("fails").to_string();
        assert!(e.contains("requestTemplates[application/json]"), "{e}");
        assert!(e.contains("line 2, column 3"), "{e}");
    }

    #[test]
    fn mock_status_from_the_rendered_request() {
        assert_eq!(mock(b"").expect("ok").key.as_deref(), Some("200"));
        assert_eq!(
            mock(b"{\"statusCode\": 404}").expect("ok").key.as_deref(),
            Some("404")
        );
        assert!(mock(b"statusCode=1").is_err());
    }
}
