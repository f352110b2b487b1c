//! Template → [`RestApiSpec`]s: SAM's `AWS::Serverless::Api` (with `DefinitionBody` /
//! `DefinitionUri` OpenAPI), the implicit `ServerlessRestApi` (stage `Prod`) made by
//! function events of `Type: Api`, and the low-level `AWS::ApiGateway::{RestApi, Resource,
//! Method, Deployment, Stage, Authorizer, ApiKey, UsagePlan, UsagePlanKey, GatewayResponse}`.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::time::Duration;

use ledge_cache::ClusterSize;
use ledge_template::Template;
use serde_json::Value as J;

use super::consts::{limits, ANY, IMPLICIT_API, IMPLICIT_STAGE, WILDCARD};
use super::openapi;
use super::resources;
use super::spec::local_id;
use super::spec::*;
use crate::common::values::{boolean, number, string_map, strings, text, uint};
use crate::http::AccessLogSettings;
use crate::GatewayError;

const SERVERLESS_API: &str = "AWS::Serverless::Api";
const REST_API: &str = "AWS::ApiGateway::RestApi";
const RESOURCE: &str = "AWS::ApiGateway::Resource";
const METHOD: &str = "AWS::ApiGateway::Method";
const DEPLOYMENT: &str = "AWS::ApiGateway::Deployment";
const STAGE: &str = "AWS::ApiGateway::Stage";
const AUTHORIZER: &str = "AWS::ApiGateway::Authorizer";
const API_KEY: &str = "AWS::ApiGateway::ApiKey";
const USAGE_PLAN: &str = "AWS::ApiGateway::UsagePlan";
const USAGE_PLAN_KEY: &str = "AWS::ApiGateway::UsagePlanKey";
const GATEWAY_RESPONSE: &str = "AWS::ApiGateway::GatewayResponse";

/// The REST APIs of a template, and what a user should know about them at deploy time.
#[derive(Debug, Clone, Default)]
pub struct RestTemplate {
    pub apis: Vec<RestApiSpec>,
    /// Lines to show once (settings ledge adjusts or ignores, generated API keys).
    pub notices: Vec<String>,
}

/// What SAM's `Auth` of an API decides for its events.
#[derive(Debug, Clone, Default)]
struct SamDefaults {
    authorizer: Option<String>,
    api_key_required: bool,
}

/// Every REST API the template defines, in logical-id order.
pub fn from_template(t: &Template) -> Result<RestTemplate, GatewayError> {
    let base = t.path.parent().unwrap_or(Path::new("."));
    let mut out = RestTemplate::default();
    let mut apis: BTreeMap<String, RestApiSpec> = BTreeMap::new();
    let mut defaults: BTreeMap<String, SamDefaults> = BTreeMap::new();
    let mut usage: Vec<(String, J)> = Vec::new();
    for r in t.resources.values().filter(|r| r.kind == SERVERLESS_API) {
        let (spec, d) = sam_api(&r.logical_id, &r.properties, base, None, &mut out.notices)?;
        if let Some(u) = r.properties.get("Auth").and_then(|a| a.get("UsagePlan")) {
            usage.push((r.logical_id.clone(), u.clone()));
        }
        defaults.insert(r.logical_id.clone(), d);
        apis.insert(r.logical_id.clone(), spec);
    }
    // Function events of `Type: Api`.
    let mut seen: BTreeSet<(String, String, String)> = BTreeSet::new();
    for f in &t.functions {
        for e in f.events.iter().filter(|e| e.kind == "Api") {
            let p = &e.properties;
            let site = format!(
                "{}.Events.{}",
                f.logical_id.clone().unwrap_or_else(|| f.name.to_string()),
                e.name
            );
            let api_id = match p.get("RestApiId") {
                Some(v) => text(v).ok_or_else(|| {
                    GatewayError::spec(&site, "RestApiId", "must name an AWS::Serverless::Api")
                })?,
                None => IMPLICIT_API.to_owned(),
            };
            if !apis.contains_key(&api_id) {
                if api_id != IMPLICIT_API {
                    return Err(GatewayError::spec(
                        &site,
                        "RestApiId",
                        format!("{api_id} is not an AWS::Serverless::Api of this template"),
                    ));
                }
                let globals = t.globals.get("Api").cloned().unwrap_or(J::Null);
                let (spec, d) = sam_api(
                    IMPLICIT_API,
                    &globals,
                    base,
                    Some(IMPLICIT_STAGE),
                    &mut out.notices,
                )?;
                if let Some(u) = globals.get("Auth").and_then(|a| a.get("UsagePlan")) {
                    usage.push((IMPLICIT_API.to_owned(), u.clone()));
                }
                defaults.insert(api_id.clone(), d);
                apis.insert(api_id.clone(), spec);
            }
            let path = p
                .get("Path")
                .and_then(text)
                .ok_or_else(|| GatewayError::spec(&site, "Path", "is required"))?;
            let method = p
                .get("Method")
                .and_then(text)
                .ok_or_else(|| GatewayError::spec(&site, "Method", "is required"))?
                .to_ascii_uppercase();
            let method = if method == "ANY" || method == "X-AMAZON-APIGATEWAY-ANY-METHOD" {
                ANY.to_owned()
            } else {
                method
            };
            if !seen.insert((api_id.clone(), path.clone(), method.clone())) {
                return Err(GatewayError::spec(
                    &site,
                    "Path",
                    format!("{method} {path} is defined twice on {api_id}"),
                ));
            }
            let d = defaults.get(&api_id).cloned().unwrap_or_default();
            let auth_prop = p.get("Auth");
            let auth = match auth_prop
                .and_then(|a| a.get("Authorizer"))
                .and_then(text)
                .or(d.authorizer.clone())
            {
                None => MethodAuth::None,
                Some(n) if n == "NONE" => MethodAuth::None,
                Some(n) if n == "AWS_IAM" => MethodAuth::Iam,
                Some(n) => MethodAuth::Authorizer(n),
            };
            let api_key_required = auth_prop
                .and_then(|a| a.get("ApiKeyRequired"))
                .and_then(boolean)
                .unwrap_or(d.api_key_required);
            let (request_parameters, cache_key_parameters) =
                sam_request_parameters(&site, p.get("RequestParameters"))?;
            let timeout = match p.get("TimeoutInMillis") {
                None => limits::MAX_INTEGRATION_TIMEOUT,
                Some(v) => Duration::from_millis(
                    uint(v)
                        .filter(|ms| (limits::MIN_INTEGRATION_TIMEOUT_MS..=29_000).contains(ms))
                        .ok_or_else(|| {
                            GatewayError::spec(
                                &site,
                                "TimeoutInMillis",
                                "Timeout should be between 50 ms and 29000 ms",
                            )
                        })?,
                ),
            };
            let api = apis.get_mut(&api_id).expect("invariant: inserted above");
            api.methods.retain(|m| {
                !(m.resource_path == path && m.http_method.eq_ignore_ascii_case(&method))
            });
            api.methods.push(MethodSpec {
                resource_path: path,
                http_method: method,
                auth,
                api_key_required,
                request_parameters,
                integration: RestIntegration::Lambda {
                    function: f.name.to_string(),
                    timeout,
                },
                cache_key_parameters,
                cache_namespace: None,
            });
        }
    }
    // SAM's Cors: an OPTIONS mock on every path (after the events added theirs).
    for r in t.resources.values().filter(|r| r.kind == SERVERLESS_API) {
        if let (Some(c), Some(api)) = (r.properties.get("Cors"), apis.get_mut(&r.logical_id)) {
            add_cors(&r.logical_id, c, api)?;
        }
    }
    if let (Some(c), Some(api)) = (
        t.globals.get("Api").and_then(|g| g.get("Cors")),
        apis.get_mut(IMPLICIT_API),
    ) {
        add_cors(IMPLICIT_API, c, api)?;
    }
    // SAM usage plans (after every API exists, for SHARED).
    let mut shared: Option<UsagePlanSpec> = None;
    for (api_id, u) in usage {
        let Some(api) = apis.get_mut(&api_id) else {
            continue;
        };
        let site = format!("{api_id}.Auth.UsagePlan");
        let create = u
            .get("CreateUsagePlan")
            .and_then(text)
            .ok_or_else(|| GatewayError::spec(&site, "CreateUsagePlan", "is required"))?;
        let stages: Vec<String> = api.stages.iter().map(|s| s.name.clone()).collect();
        let plan = match create.as_str() {
            "NONE" => continue,
            "PER_API" => {
                let key_id = format!("{api_id}ApiKey");
                let value = generated_key(&key_id);
                out.notices.push(format!(
                    "{api_id}: usage plan {api_id}UsagePlan, API key {key_id} = {value} (send it as x-api-key)"
                ));
                plan_from(
                    &site,
                    &format!("{api_id}UsagePlan"),
                    &u,
                    stages,
                    vec![ApiKeySpec {
                        id: key_id,
                        value,
                        enabled: true,
                    }],
                )?
            }
            "SHARED" => {
                let plan = match &shared {
                    Some(p) => p.clone(),
                    None => {
                        let value = generated_key("ServerlessApiKey");
                        out.notices.push(format!(
                            "usage plan ServerlessUsagePlan, API key ServerlessApiKey = {value} (send it as x-api-key)"
                        ));
                        let p = plan_from(
                            &site,
                            "ServerlessUsagePlan",
                            &u,
                            vec![],
                            vec![ApiKeySpec {
                                id: "ServerlessApiKey".into(),
                                value,
                                enabled: true,
                            }],
                        )?;
                        shared = Some(p.clone());
                        p
                    }
                };
                UsagePlanSpec { stages, ..plan }
            }
            other => {
                return Err(GatewayError::spec(
                    &site,
                    "CreateUsagePlan",
                    format!("{other:?}: expected PER_API, SHARED or NONE"),
                ))
            }
        };
        api.usage_plans.push(plan);
    }
    // The low-level resources.
    for r in t.resources.values().filter(|r| r.kind == REST_API) {
        let spec = low_level_api(t, &r.logical_id, &r.properties, base, &mut out.notices)?;
        apis.insert(r.logical_id.clone(), spec);
    }
    for api in apis.values_mut() {
        finish(api, &mut out.notices)?;
    }
    out.apis = apis.into_values().collect();
    Ok(out)
}

/// SAM's `RequestParameters`: strings, or `{name: {Required, Caching}}`.
fn sam_request_parameters(
    site: &str,
    v: Option<&J>,
) -> Result<(BTreeMap<String, bool>, Vec<String>), GatewayError> {
    let mut params = BTreeMap::new();
    let mut cache = Vec::new();
    for item in v.and_then(J::as_array).into_iter().flatten() {
        match item {
            J::String(name) => {
                params.insert(name.clone(), false);
            }
            J::Object(m) => {
                for (name, opts) in m {
                    params.insert(
                        name.clone(),
                        opts.get("Required").and_then(boolean).unwrap_or(false),
                    );
                    if opts.get("Caching").and_then(boolean).unwrap_or(false) {
                        cache.push(name.clone());
                    }
                }
            }
            _ => {
                return Err(GatewayError::spec(
                    site,
                    "RequestParameters",
                    "items must be parameter names or {name: {Required, Caching}}",
                ))
            }
        }
    }
    for name in params.keys() {
        if !name.starts_with("method.request.header.")
            && !name.starts_with("method.request.querystring.")
            && !name.starts_with("method.request.path.")
        {
            return Err(GatewayError::spec(
                site,
                "RequestParameters",
                format!("{name}: must be method.request.{{header|querystring|path}}.NAME"),
            ));
        }
    }
    Ok((params, cache))
}

/// An `AWS::Serverless::Api` (or the implicit one, from `Globals.Api`).
fn sam_api(
    id: &str,
    p: &J,
    base: &Path,
    stage_name: Option<&str>,
    notices: &mut Vec<String>,
) -> Result<(RestApiSpec, SamDefaults), GatewayError> {
    let name = match stage_name {
        Some(s) => s.to_owned(),
        None => p
            .get("StageName")
            .and_then(text)
            .ok_or_else(|| GatewayError::spec(id, "StageName", "is required"))?,
    };
    let mut stage = stage_from(id, &name, p, notices)?;
    stage.deployment_id = local_id(&format!("{id}/deployment"), 6);
    let mut spec = RestApiSpec {
        logical_id: id.to_owned(),
        api_id: id.to_owned(),
        name: p
            .get("Name")
            .and_then(text)
            .unwrap_or_else(|| id.to_owned()),
        resources: Vec::new(),
        methods: Vec::new(),
        stages: vec![stage],
        authorizers: BTreeMap::new(),
        binary_media_types: strings(p.get("BinaryMediaTypes"))
            .into_iter()
            .map(|t| t.replace("~1", "/"))
            .collect(),
        api_key_source: ApiKeySource::Header,
        usage_plans: Vec::new(),
        gateway_responses: Vec::new(),
    };
    let mut defaults = SamDefaults::default();
    if let Some(auth) = p.get("Auth") {
        defaults.authorizer = auth.get("DefaultAuthorizer").and_then(text);
        defaults.api_key_required = auth
            .get("ApiKeyRequired")
            .and_then(boolean)
            .unwrap_or(false);
        if let Some(J::Object(m)) = auth.get("Authorizers") {
            for (name, a) in m {
                let site = format!("{id}.Auth.Authorizers.{name}");
                if a.get("UserPoolArn").is_some() {
                    notices.push(format!(
                        "warning: {site}: Cognito user pool authorizers are not served; methods using {name} are not authorized locally"
                    ));
                    continue;
                }
                spec.authorizers
                    .insert(name.clone(), sam_authorizer(&site, a)?);
            }
        }
    }
    let definition = match (p.get("DefinitionBody"), p.get("DefinitionUri")) {
        (Some(b), _) => Some(b.clone()),
        (None, Some(J::String(uri))) => Some(read_definition(id, &base.join(uri))?),
        (None, Some(_)) => {
            return Err(GatewayError::spec(
                id,
                "DefinitionUri",
                "only a local file is served (not an S3 location)",
            ))
        }
        (None, None) => None,
    };
    if let Some(def) = definition {
        openapi::read(id, &def, &mut spec)?;
    }
    // SAM's GatewayResponses: `ResponseParameters` grouped as Headers / Paths / QueryStrings.
    if let Some(J::Object(m)) = p.get("GatewayResponses") {
        for (kind, r) in m {
            let site = format!("{id}.GatewayResponses.{kind}");
            let mut g = openapi::gateway_response(&site, kind, &J::Null)?;
            g.status_code = openapi::gateway_response(&site, kind, r)?.status_code;
            g.response_templates = openapi::templates(r.get("ResponseTemplates"));
            if let Some(rp) = r.get("ResponseParameters") {
                for (group, prefix) in [
                    ("Headers", "header"),
                    ("Paths", "path"),
                    ("QueryStrings", "querystring"),
                ] {
                    if let Some(J::Object(vals)) = rp.get(group) {
                        for (k, v) in vals {
                            if let Some(v) = text(v) {
                                g.response_parameters
                                    .push((format!("gatewayresponse.{prefix}.{k}"), v));
                            }
                        }
                    }
                }
            }
            spec.gateway_responses
                .retain(|x| x.response_type != g.response_type);
            spec.gateway_responses.push(g);
        }
    }
    Ok((spec, defaults))
}

fn read_definition(id: &str, path: &Path) -> Result<J, GatewayError> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        GatewayError::spec(
            id,
            "DefinitionUri",
            format!("cannot read {}: {e}", path.display()),
        )
    })?;
    if let Ok(v) = serde_json::from_str(&text) {
        return Ok(v);
    }
    let docs = yaml_rust2::YamlLoader::load_from_str(&text).map_err(|e| {
        GatewayError::spec(
            id,
            "DefinitionUri",
            format!("{} is neither JSON nor YAML: {e}", path.display()),
        )
    })?;
    Ok(docs.first().map(yaml_to_json).unwrap_or(J::Null))
}

fn yaml_to_json(y: &yaml_rust2::Yaml) -> J {
    use yaml_rust2::Yaml;
    match y {
        Yaml::Real(s) => s
            .parse::<f64>()
            .ok()
            .and_then(serde_json::Number::from_f64)
            .map(J::Number)
            .unwrap_or_else(|| J::String(s.clone())),
        Yaml::Integer(i) => J::from(*i),
        Yaml::String(s) => J::String(s.clone()),
        Yaml::Boolean(b) => J::Bool(*b),
        Yaml::Array(a) => J::Array(a.iter().map(yaml_to_json).collect()),
        Yaml::Hash(h) => J::Object(
            h.iter()
                .filter_map(|(k, v)| {
                    let k = match k {
                        Yaml::String(s) | Yaml::Real(s) => s.clone(),
                        Yaml::Integer(i) => i.to_string(),
                        Yaml::Boolean(b) => b.to_string(),
                        _ => return None,
                    };
                    Some((k, yaml_to_json(v)))
                })
                .collect(),
        ),
        _ => J::Null,
    }
}

fn sam_authorizer(site: &str, a: &J) -> Result<RestAuthorizerSpec, GatewayError> {
    let function = a
        .get("FunctionArn")
        .and_then(text)
        .ok_or_else(|| GatewayError::spec(site, "FunctionArn", "is required"))?;
    let kind = match a
        .get("FunctionPayloadType")
        .and_then(text)
        .unwrap_or_else(|| "TOKEN".into())
        .as_str()
    {
        "TOKEN" => AuthorizerKind::Token,
        "REQUEST" => AuthorizerKind::Request,
        other => {
            return Err(GatewayError::spec(
                site,
                "FunctionPayloadType",
                format!("{other:?}: expected TOKEN or REQUEST"),
            ))
        }
    };
    let identity = a.get("Identity");
    let mut sources = Vec::new();
    match kind {
        AuthorizerKind::Token => sources.push(format!(
            "method.request.header.{}",
            identity
                .and_then(|i| i.get("Header"))
                .and_then(text)
                .unwrap_or_else(|| "Authorization".into())
        )),
        AuthorizerKind::Request => {
            for (key, prefix) in [
                ("Headers", "method.request.header."),
                ("QueryStrings", "method.request.querystring."),
                ("StageVariables", "stageVariables."),
                ("Context", "context."),
            ] {
                for s in strings(identity.and_then(|i| i.get(key))) {
                    sources.push(format!("{prefix}{s}"));
                }
            }
        }
    }
    let ttl = match identity.and_then(|i| i.get("ReauthorizeEvery")) {
        Some(v) => uint(v)
            .filter(|n| *n <= limits::MAX_AUTHORIZER_TTL_SECS)
            .ok_or_else(|| {
                GatewayError::spec(site, "Identity.ReauthorizeEvery", "must be 0..=3600")
            })?,
        None => limits::DEFAULT_AUTHORIZER_TTL_SECS,
    };
    if kind == AuthorizerKind::Request && ttl > 0 && sources.is_empty() {
        return Err(GatewayError::spec(
            site,
            "Identity",
            "a REQUEST authorizer with caching (ReauthorizeEvery > 0) needs at least one identity source",
        ));
    }
    Ok(RestAuthorizerSpec {
        kind,
        function,
        identity_source: sources,
        validation_expression: identity
            .and_then(|i| i.get("ValidationExpression"))
            .and_then(text),
        result_ttl: Duration::from_secs(ttl),
    })
}

/// A stage from SAM's Api properties, a `AWS::ApiGateway::Stage` or a Deployment's
/// `StageDescription` (same property names).
fn stage_from(
    site: &str,
    name: &str,
    p: &J,
    notices: &mut Vec<String>,
) -> Result<RestStageSpec, GatewayError> {
    check_stage_name(site, name)?;
    let mut stage = RestStageSpec::new(name);
    stage.variables = string_map(
        p.get("Variables").or_else(|| p.get("StageVariables")),
        site,
        "Variables",
    )?;
    stage.cache_cluster_enabled = p
        .get("CacheClusterEnabled")
        .and_then(boolean)
        .unwrap_or(false);
    if let Some(v) = p.get("CacheClusterSize") {
        let s = text(v).unwrap_or_default();
        stage.cache_cluster_size = s
            .parse::<ClusterSize>()
            .map_err(|e| GatewayError::spec(site, "CacheClusterSize", e.to_string()))?;
    }
    // A Deployment's StageDescription puts the `*/*` settings at its top level.
    let mut top = MethodSetting::new(WILDCARD, WILDCARD);
    let mut any_top = false;
    if let Some(v) = p.get("CachingEnabled").and_then(boolean) {
        top.caching_enabled = Some(v);
        any_top = true;
    }
    if let Some(v) = p.get("CacheTtlInSeconds").and_then(uint) {
        top.cache_ttl_seconds = Some(v);
        any_top = true;
    }
    if let Some(v) = p.get("ThrottlingRateLimit").and_then(number) {
        top.throttling_rate_limit = Some(v);
        any_top = true;
    }
    if let Some(v) = p.get("ThrottlingBurstLimit").and_then(uint) {
        top.throttling_burst_limit = Some(u32::try_from(v).unwrap_or(u32::MAX));
        any_top = true;
    }
    if any_top {
        stage.method_settings.push(top);
    }
    for (i, s) in p
        .get("MethodSettings")
        .and_then(J::as_array)
        .into_iter()
        .flatten()
        .enumerate()
    {
        stage
            .method_settings
            .push(method_setting(&format!("{site}.MethodSettings[{i}]"), s)?);
    }
    for s in &stage.method_settings {
        if let Some(ttl) = s.cache_ttl_seconds {
            if ttl > limits::MAX_CACHE_TTL_SECS {
                notices.push(format!(
                    "warning: {site}: stage {name}: CacheTtlInSeconds {ttl} for {} is above API Gateway's maximum; using 3600",
                    s.key()
                ));
            }
        }
    }
    if let Some(a) = p.get("AccessLogSetting") {
        stage.access_log = Some(AccessLogSettings {
            destination_arn: a.get("DestinationArn").and_then(text),
            format: a.get("Format").and_then(text),
        });
    }
    Ok(stage)
}

fn check_stage_name(site: &str, name: &str) -> Result<(), GatewayError> {
    let ok = !name.is_empty()
        && name.len() <= 128
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if ok {
        Ok(())
    } else {
        Err(GatewayError::spec(
            site,
            "StageName",
            format!("{name:?}: Stage name only allows a-zA-Z0-9_-"),
        ))
    }
}

fn method_setting(site: &str, s: &J) -> Result<MethodSetting, GatewayError> {
    let raw_path = s
        .get("ResourcePath")
        .and_then(text)
        .unwrap_or_else(|| "/*".into());
    let path = match raw_path.as_str() {
        "/*" | "*" => WILDCARD.to_owned(),
        "/" => "/".to_owned(),
        p => {
            // CloudFormation writes `/~1pets~1{id}`; plain `/pets/{id}` is taken too.
            let unescaped = p.strip_prefix('/').unwrap_or(p).replace("~1", "/");
            if unescaped.starts_with('/') {
                unescaped
            } else {
                format!("/{unescaped}")
            }
        }
    };
    let method = s
        .get("HttpMethod")
        .and_then(text)
        .unwrap_or_else(|| WILDCARD.into())
        .to_ascii_uppercase();
    let mut m = MethodSetting::new(path, method);
    m.caching_enabled = s.get("CachingEnabled").and_then(boolean);
    m.cache_ttl_seconds = match s.get("CacheTtlInSeconds") {
        None => None,
        Some(v) => Some(uint(v).ok_or_else(|| {
            GatewayError::spec(
                site,
                "CacheTtlInSeconds",
                "must be a whole number of seconds",
            )
        })?),
    };
    m.cache_data_encrypted = s.get("CacheDataEncrypted").and_then(boolean);
    m.metrics_enabled = s.get("MetricsEnabled").and_then(boolean);
    m.throttling_burst_limit = s
        .get("ThrottlingBurstLimit")
        .and_then(uint)
        .map(|n| u32::try_from(n).unwrap_or(u32::MAX));
    m.throttling_rate_limit = s.get("ThrottlingRateLimit").and_then(number);
    // Not CloudFormation properties (UpdateStage patch paths only); ledge reads them here
    // so templates can set them.
    m.require_authorization_for_cache_control = s
        .get("RequireAuthorizationForCacheControl")
        .and_then(boolean);
    m.unauthorized_cache_control_header_strategy =
        match s.get("UnauthorizedCacheControlHeaderStrategy").and_then(text) {
            None => None,
            Some(v) => Some(UnauthorizedStrategy::parse(&v).ok_or_else(|| {
                GatewayError::spec(
                    site,
                    "UnauthorizedCacheControlHeaderStrategy",
                    format!("{v:?}: expected FAIL_WITH_403, SUCCEED_WITH_RESPONSE_HEADER or SUCCEED_WITHOUT_RESPONSE_HEADER"),
                )
            })?),
        };
    Ok(m)
}

/// SAM `Cors`: a string (the allowed origin) or `{AllowOrigin, AllowMethods, AllowHeaders,
/// MaxAge, AllowCredentials}` (values quoted as `"'*'"`). Adds an OPTIONS mock per path.
fn add_cors(site: &str, c: &J, api: &mut RestApiSpec) -> Result<(), GatewayError> {
    let unquote = |s: String| s.trim_matches('\'').to_owned();
    let (origin, methods, headers, max_age, credentials) = match c {
        J::String(s) => (unquote(s.clone()), None, None, None, false),
        J::Object(_) => (
            c.get("AllowOrigin")
                .and_then(text)
                .map(unquote)
                .ok_or_else(|| GatewayError::spec(site, "Cors.AllowOrigin", "is required"))?,
            c.get("AllowMethods").and_then(text).map(unquote),
            c.get("AllowHeaders").and_then(text).map(unquote),
            c.get("MaxAge").and_then(text).map(unquote),
            c.get("AllowCredentials").and_then(boolean).unwrap_or(false),
        ),
        _ => {
            return Err(GatewayError::spec(
                site,
                "Cors",
                "must be a string or a mapping",
            ))
        }
    };
    let mut by_path: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for m in &api.methods {
        by_path
            .entry(m.resource_path.clone())
            .or_default()
            .insert(m.http_method.clone());
    }
    for (path, ms) in by_path {
        if ms.contains("OPTIONS") {
            continue;
        }
        let allow_methods = methods.clone().unwrap_or_else(|| {
            if ms.contains(ANY) {
                "DELETE,GET,HEAD,OPTIONS,PATCH,POST,PUT".to_owned()
            } else {
                let mut all: Vec<String> = ms.iter().cloned().collect();
                all.push("OPTIONS".into());
                all.sort();
                all.join(",")
            }
        });
        let mut h = vec![
            ("Access-Control-Allow-Origin".to_owned(), origin.clone()),
            ("Access-Control-Allow-Methods".to_owned(), allow_methods),
        ];
        if let Some(v) = &headers {
            h.push(("Access-Control-Allow-Headers".into(), v.clone()));
        }
        if let Some(v) = &max_age {
            h.push(("Access-Control-Max-Age".into(), v.clone()));
        }
        if credentials {
            h.push(("Access-Control-Allow-Credentials".into(), "true".into()));
        }
        api.methods.push(MethodSpec {
            resource_path: path,
            http_method: "OPTIONS".into(),
            auth: MethodAuth::None,
            api_key_required: false,
            request_parameters: BTreeMap::new(),
            integration: RestIntegration::Mock {
                status: 200,
                headers: h,
                body: String::new(),
            },
            cache_key_parameters: Vec::new(),
            cache_namespace: None,
        });
    }
    Ok(())
}

fn plan_from(
    site: &str,
    id: &str,
    u: &J,
    stages: Vec<String>,
    keys: Vec<ApiKeySpec>,
) -> Result<UsagePlanSpec, GatewayError> {
    let throttle = u.get("Throttle");
    Ok(UsagePlanSpec {
        id: id.to_owned(),
        stages,
        throttle_rate: throttle.and_then(|t| t.get("RateLimit")).and_then(number),
        throttle_burst: throttle
            .and_then(|t| t.get("BurstLimit"))
            .and_then(uint)
            .map(|n| u32::try_from(n).unwrap_or(u32::MAX)),
        quota: match u.get("Quota") {
            None => None,
            Some(q) => Some(quota(site, q)?),
        },
        keys,
    })
}

fn quota(site: &str, q: &J) -> Result<Quota, GatewayError> {
    let limit = q
        .get("Limit")
        .and_then(uint)
        .ok_or_else(|| GatewayError::spec(site, "Quota.Limit", "is required"))?;
    let period = match q.get("Period").and_then(text).as_deref() {
        Some("DAY") => QuotaPeriod::Day,
        Some("WEEK") => QuotaPeriod::Week,
        Some("MONTH") => QuotaPeriod::Month,
        other => {
            return Err(GatewayError::spec(
                site,
                "Quota.Period",
                format!("{other:?}: expected DAY, WEEK or MONTH"),
            ))
        }
    };
    let offset = q
        .get("Offset")
        .and_then(uint)
        .map(|n| u32::try_from(n).unwrap_or(0))
        .unwrap_or(0);
    Ok(Quota {
        limit,
        period,
        offset,
    })
}

/// A local stand-in for an API key value AWS would generate: stable per key id, so it
/// survives restarts, 40 characters like AWS's.
fn generated_key(key_id: &str) -> String {
    use sha2::Digest;
    let h = sha2::Sha256::digest(format!("ledge-api-key:{key_id}").as_bytes());
    hex::encode(h)[..40].to_owned()
}

/// An `AWS::ApiGateway::RestApi` with its resources, methods, stages, authorizers and
/// usage plans.
fn low_level_api(
    t: &Template,
    id: &str,
    p: &J,
    base: &Path,
    notices: &mut Vec<String>,
) -> Result<RestApiSpec, GatewayError> {
    let of_api = |kind: &'static str| {
        t.resources
            .values()
            .filter(move |r| r.kind == kind)
            .filter(move |r| r.properties.get("RestApiId").and_then(text).as_deref() == Some(id))
            .collect::<Vec<_>>()
    };
    let mut spec = RestApiSpec {
        logical_id: id.to_owned(),
        api_id: id.to_owned(),
        name: p
            .get("Name")
            .and_then(text)
            .unwrap_or_else(|| id.to_owned()),
        resources: Vec::new(),
        methods: Vec::new(),
        stages: Vec::new(),
        authorizers: BTreeMap::new(),
        binary_media_types: strings(p.get("BinaryMediaTypes"))
            .into_iter()
            .map(|t| t.replace("~1", "/"))
            .collect(),
        api_key_source: match p.get("ApiKeySourceType").and_then(text).as_deref() {
            Some("AUTHORIZER") => ApiKeySource::Authorizer,
            _ => ApiKeySource::Header,
        },
        usage_plans: Vec::new(),
        gateway_responses: Vec::new(),
    };
    let body = match (p.get("Body"), p.get("BodyS3Location")) {
        (Some(b), _) => Some(b.clone()),
        (None, Some(J::String(path))) => Some(read_definition(id, &base.join(path))?),
        (None, Some(_)) => {
            return Err(GatewayError::spec(
                id,
                "BodyS3Location",
                "only a local file is served (not an S3 location)",
            ))
        }
        (None, None) => None,
    };
    if let Some(b) = body {
        openapi::read(id, &b, &mut spec)?;
    }
    // Resources: paths by following ParentId; anything that is not a Resource of this API
    // is the root (`!GetAtt Api.RootResourceId`).
    let res = of_api(RESOURCE);
    let parts: BTreeMap<&str, (String, String)> = res
        .iter()
        .map(|r| {
            let parent = r
                .properties
                .get("ParentId")
                .and_then(text)
                .unwrap_or_default();
            let part = r
                .properties
                .get("PathPart")
                .and_then(text)
                .unwrap_or_default();
            (r.logical_id.as_str(), (parent, part))
        })
        .collect();
    let mut root_id = local_id(&format!("{id}/"), 10);
    let mut paths: BTreeMap<String, String> = BTreeMap::new();
    for r in &res {
        let mut segs = Vec::new();
        let mut cur = r.logical_id.as_str();
        let mut guard = 0;
        while let Some((parent, part)) = parts.get(cur) {
            if part.is_empty() {
                return Err(GatewayError::spec(cur, "PathPart", "is required"));
            }
            segs.push(part.clone());
            guard += 1;
            if guard > 64 {
                return Err(GatewayError::spec(
                    cur,
                    "ParentId",
                    "resources form a cycle",
                ));
            }
            if !parts.contains_key(parent.as_str()) {
                root_id = parent.clone();
            }
            cur = parent.as_str();
        }
        segs.reverse();
        paths.insert(r.logical_id.clone(), format!("/{}", segs.join("/")));
    }
    for (rid, path) in &paths {
        spec.resources.push(ResourceSpec {
            id: rid.clone(),
            path: path.clone(),
        });
    }
    spec.resources.push(ResourceSpec {
        id: root_id.clone(),
        path: "/".into(),
    });
    for a in of_api(AUTHORIZER) {
        let ap = &a.properties;
        let site = &a.logical_id;
        let kind = match ap.get("Type").and_then(text).as_deref() {
            Some("TOKEN") => AuthorizerKind::Token,
            Some("REQUEST") => AuthorizerKind::Request,
            Some("COGNITO_USER_POOLS") => {
                notices.push(format!(
                    "warning: {site}: Cognito user pool authorizers are not served; its methods are not authorized locally"
                ));
                continue;
            }
            other => {
                return Err(GatewayError::spec(
                    site,
                    "Type",
                    format!("{other:?}: expected TOKEN, REQUEST or COGNITO_USER_POOLS"),
                ))
            }
        };
        let ttl = match ap.get("AuthorizerResultTtlInSeconds") {
            Some(v) => uint(v)
                .filter(|n| *n <= limits::MAX_AUTHORIZER_TTL_SECS)
                .ok_or_else(|| {
                    GatewayError::spec(site, "AuthorizerResultTtlInSeconds", "must be 0..=3600")
                })?,
            None => limits::DEFAULT_AUTHORIZER_TTL_SECS,
        };
        let sources = strings(ap.get("IdentitySource"));
        spec.authorizers.insert(
            a.logical_id.clone(),
            RestAuthorizerSpec {
                kind,
                function: ap
                    .get("AuthorizerUri")
                    .and_then(text)
                    .ok_or_else(|| GatewayError::spec(site, "AuthorizerUri", "is required"))?,
                identity_source: if sources.is_empty() && kind == AuthorizerKind::Token {
                    vec!["method.request.header.Authorization".into()]
                } else {
                    sources
                },
                validation_expression: ap.get("IdentityValidationExpression").and_then(text),
                result_ttl: Duration::from_secs(ttl),
            },
        );
    }
    for m in of_api(METHOD) {
        let mp = &m.properties;
        let site = &m.logical_id;
        let rid = mp.get("ResourceId").and_then(text).unwrap_or_default();
        let resource_path = paths
            .get(&rid)
            .cloned()
            .or_else(|| (rid == root_id).then(|| "/".to_owned()))
            .ok_or_else(|| {
                GatewayError::spec(site, "ResourceId", format!("{rid}: not a resource of {id}"))
            })?;
        let http_method = mp
            .get("HttpMethod")
            .and_then(text)
            .ok_or_else(|| GatewayError::spec(site, "HttpMethod", "is required"))?
            .to_ascii_uppercase();
        let auth = match mp.get("AuthorizationType").and_then(text).as_deref() {
            None | Some("NONE") => MethodAuth::None,
            Some("CUSTOM") => {
                MethodAuth::Authorizer(mp.get("AuthorizerId").and_then(text).ok_or_else(|| {
                    GatewayError::spec(site, "AuthorizerId", "is required with CUSTOM")
                })?)
            }
            Some("AWS_IAM") => MethodAuth::Iam,
            Some("COGNITO_USER_POOLS") => MethodAuth::None,
            Some(other) => {
                return Err(GatewayError::spec(
                    site,
                    "AuthorizationType",
                    format!("{other}: expected NONE, CUSTOM, AWS_IAM or COGNITO_USER_POOLS"),
                ))
            }
        };
        let request_parameters: BTreeMap<String, bool> = match mp.get("RequestParameters") {
            Some(J::Object(o)) => o
                .iter()
                .map(|(k, v)| (k.clone(), boolean(v).unwrap_or(false)))
                .collect(),
            _ => BTreeMap::new(),
        };
        let integration = mp
            .get("Integration")
            .ok_or_else(|| GatewayError::spec(site, "Integration", "is required"))?;
        let (mut integration, cache_key_parameters, cache_namespace) =
            openapi::read_integration(site, integration)?;
        if let RestIntegration::Mapped(m) = &mut integration {
            m.method_responses = openapi::cfn_method_responses(mp.get("MethodResponses"));
        }
        spec.methods.push(MethodSpec {
            resource_path,
            http_method,
            auth,
            api_key_required: mp.get("ApiKeyRequired").and_then(boolean).unwrap_or(false),
            request_parameters,
            integration,
            cache_key_parameters,
            cache_namespace,
        });
    }
    for g in of_api(GATEWAY_RESPONSE) {
        let kind = g
            .properties
            .get("ResponseType")
            .and_then(text)
            .ok_or_else(|| GatewayError::spec(&g.logical_id, "ResponseType", "is required"))?;
        let g = openapi::gateway_response(&g.logical_id, &kind, &g.properties)?;
        spec.gateway_responses
            .retain(|x| x.response_type != g.response_type);
        spec.gateway_responses.push(g);
    }
    // Stages: AWS::ApiGateway::Stage, and a Deployment's StageName + StageDescription.
    for s in of_api(STAGE) {
        let sp = &s.properties;
        let name = sp
            .get("StageName")
            .and_then(text)
            .ok_or_else(|| GatewayError::spec(&s.logical_id, "StageName", "is required"))?;
        let mut stage = stage_from(&s.logical_id, &name, sp, notices)?;
        stage.deployment_id = sp
            .get("DeploymentId")
            .and_then(text)
            .unwrap_or_else(|| local_id(&format!("{id}/deployment"), 6));
        spec.stages.push(stage);
    }
    for d in of_api(DEPLOYMENT) {
        let dp = &d.properties;
        let Some(name) = dp.get("StageName").and_then(text) else {
            continue;
        };
        if spec.stages.iter().any(|s| s.name == name) {
            continue;
        }
        let desc = dp.get("StageDescription").cloned().unwrap_or(J::Null);
        let mut stage = stage_from(&d.logical_id, &name, &desc, notices)?;
        stage.deployment_id = d.logical_id.clone();
        spec.stages.push(stage);
    }
    if spec.stages.is_empty() {
        notices.push(format!(
            "warning: {id}: the REST API has no stage (no AWS::ApiGateway::Stage or Deployment with StageName); it is not served"
        ));
    }
    // Usage plans and their keys.
    let keys: BTreeMap<&str, ApiKeySpec> = t
        .resources
        .values()
        .filter(|r| r.kind == API_KEY)
        .map(|r| {
            let value = r.properties.get("Value").and_then(text).unwrap_or_else(|| {
                let v = generated_key(&r.logical_id);
                notices.push(format!(
                    "API key {} = {v} (send it as x-api-key)",
                    r.logical_id
                ));
                v
            });
            (
                r.logical_id.as_str(),
                ApiKeySpec {
                    id: r.logical_id.clone(),
                    value,
                    enabled: r
                        .properties
                        .get("Enabled")
                        .and_then(boolean)
                        .unwrap_or(true),
                },
            )
        })
        .collect();
    for plan in t.resources.values().filter(|r| r.kind == USAGE_PLAN) {
        let pp = &plan.properties;
        let stages: Vec<String> = pp
            .get("ApiStages")
            .and_then(J::as_array)
            .into_iter()
            .flatten()
            .filter(|s| s.get("ApiId").and_then(text).as_deref() == Some(id))
            .filter_map(|s| s.get("Stage").and_then(text))
            .collect();
        if stages.is_empty() {
            continue;
        }
        let plan_keys: Vec<ApiKeySpec> = t
            .resources
            .values()
            .filter(|r| r.kind == USAGE_PLAN_KEY)
            .filter(|r| {
                r.properties.get("UsagePlanId").and_then(text).as_deref()
                    == Some(plan.logical_id.as_str())
            })
            .filter_map(|r| r.properties.get("KeyId").and_then(text))
            .filter_map(|k| keys.get(k.as_str()).cloned())
            .collect();
        spec.usage_plans.push(plan_from(
            &plan.logical_id,
            &plan.logical_id,
            pp,
            stages,
            plan_keys,
        )?);
    }
    Ok(spec)
}

/// Derives the resource list from the methods (every path and its ancestors), checks the
/// tree, the methods, authorizers and cache key parameters, and fills in what AWS infers.
fn finish(api: &mut RestApiSpec, notices: &mut Vec<String>) -> Result<(), GatewayError> {
    let site = api.logical_id.clone();
    for m in &api.methods {
        if !m.resource_path.starts_with('/') {
            return Err(GatewayError::spec(
                &site,
                "Path",
                format!("{}: a resource path starts with /", m.resource_path),
            ));
        }
    }
    api.derive_resources();
    resources::ResourceTree::compile(api.resources.iter().map(|r| r.path.as_str()))
        .map_err(|m| GatewayError::spec(&site, "Resources", m))?;
    let mut seen = BTreeSet::new();
    for m in &mut api.methods {
        if m.resource_path.len() > 1 && m.resource_path.ends_with('/') {
            m.resource_path.pop();
        }
        let msite = format!("{site}: {} {}", m.http_method, m.resource_path);
        if !seen.insert((m.resource_path.clone(), m.http_method.clone())) {
            return Err(GatewayError::spec(&msite, "HttpMethod", "defined twice"));
        }
        if !matches!(
            m.http_method.as_str(),
            "GET" | "POST" | "PUT" | "PATCH" | "DELETE" | "HEAD" | "OPTIONS" | "ANY"
        ) {
            return Err(GatewayError::spec(
                &msite,
                "HttpMethod",
                "must be GET, POST, PUT, PATCH, DELETE, HEAD, OPTIONS or ANY",
            ));
        }
        match &m.auth {
            MethodAuth::Authorizer(a) if !api.authorizers.contains_key(a) => {
                return Err(GatewayError::UnknownAuthorizer {
                    api: site.clone(),
                    route: format!("{} {}", m.http_method, m.resource_path),
                    authorizer: a.clone(),
                })
            }
            MethodAuth::Iam => notices.push(format!(
                "warning: {msite}: AWS_IAM authorization is not enforced locally"
            )),
            _ => {}
        }
        // Path parameters are always declared (API Gateway's import does it too).
        if let Ok(parts) = resources::parse_path(&m.resource_path) {
            for part in parts {
                if let resources::Part::Var(n) | resources::Part::Greedy(n) = part {
                    m.request_parameters
                        .entry(format!("method.request.path.{n}"))
                        .or_insert(true);
                }
            }
        }
        for k in &m.cache_key_parameters {
            let valid = [
                "path.",
                "querystring.",
                "multivaluequerystring.",
                "header.",
                "multivalueheader.",
            ]
            .iter()
            .any(|p| {
                k.strip_prefix("method.request.")
                    .is_some_and(|r| r.starts_with(p))
            });
            if !valid {
                return Err(GatewayError::spec(
                    &msite,
                    "cacheKeyParameters",
                    format!("Invalid cache key parameter specified: {k}"),
                ));
            }
            let declared = m.request_parameters.contains_key(k)
                || m.request_parameters
                    .contains_key(&k.replace(".multivaluequerystring.", ".querystring."))
                || m.request_parameters
                    .contains_key(&k.replace(".multivalueheader.", ".header."));
            if !declared {
                return Err(GatewayError::spec(
                    &msite,
                    "cacheKeyParameters",
                    format!("{k}: a cache key parameter must also be a method request parameter (add it to RequestParameters)"),
                ));
            }
        }
    }
    for plan in &api.usage_plans {
        for s in &plan.stages {
            if !api.stages.iter().any(|st| &st.name == s) {
                notices.push(format!(
                    "warning: {site}: usage plan {} names stage {s}, which the API does not have",
                    plan.id
                ));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests;
