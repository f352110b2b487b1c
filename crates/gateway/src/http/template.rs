//! Template → [`HttpApiSpec`]s: SAM's implicit `ServerlessHttpApi`, explicit
//! `AWS::Serverless::HttpApi` resources, function events of `Type: HttpApi`, and the
//! low-level `AWS::ApiGatewayV2::{Api, Route, Integration, Stage, Authorizer}`.

use std::collections::BTreeMap;
use std::time::Duration;

use ledge_template::Template;
use serde_json::Value as J;

use super::consts::{limits, DEFAULT_ROUTE, DEFAULT_STAGE};
use super::spec::*;
use crate::common::values::{boolean, get, number, pairs, string_map, strings, text, uint};
use crate::GatewayError;

const SERVERLESS_HTTP_API: &str = "AWS::Serverless::HttpApi";
const V2_API: &str = "AWS::ApiGatewayV2::Api";
const V2_ROUTE: &str = "AWS::ApiGatewayV2::Route";
const V2_INTEGRATION: &str = "AWS::ApiGatewayV2::Integration";
const V2_STAGE: &str = "AWS::ApiGatewayV2::Stage";
const V2_AUTHORIZER: &str = "AWS::ApiGatewayV2::Authorizer";
/// SAM's name for the API its `HttpApi` events create when they name none.
pub const IMPLICIT_API: &str = "ServerlessHttpApi";
const DEFAULT_IDENTITY: &str = "$request.header.Authorization";

/// Every HTTP API the template defines, in logical-id order.
pub fn from_template(t: &Template) -> Result<Vec<HttpApiSpec>, GatewayError> {
    let mut apis: BTreeMap<String, HttpApiSpec> = BTreeMap::new();
    // SAM: explicit HttpApi resources (Globals.HttpApi already merged in).
    for r in t
        .resources
        .values()
        .filter(|r| r.kind == SERVERLESS_HTTP_API)
    {
        apis.insert(r.logical_id.clone(), sam_api(&r.logical_id, &r.properties)?);
    }
    let mut sam_defaults: BTreeMap<String, Option<String>> = BTreeMap::new();
    for (id, r) in t
        .resources
        .iter()
        .filter(|(_, r)| r.kind == SERVERLESS_HTTP_API)
    {
        sam_defaults.insert(id.clone(), default_authorizer(&r.properties));
    }
    // SAM: function events.
    for f in &t.functions {
        for e in f.events.iter().filter(|e| e.kind == "HttpApi") {
            let p = &e.properties;
            let api_id = match p.get("ApiId") {
                Some(v) => text(v).ok_or_else(|| {
                    GatewayError::spec(event_site(f, &e.name), "ApiId", "must name an HttpApi")
                })?,
                None => IMPLICIT_API.to_owned(),
            };
            if !apis.contains_key(&api_id) {
                if api_id != IMPLICIT_API {
                    return Err(GatewayError::spec(
                        event_site(f, &e.name),
                        "ApiId",
                        format!("{api_id} is not an AWS::Serverless::HttpApi of this template"),
                    ));
                }
                let globals = t.globals.get("HttpApi").cloned().unwrap_or(J::Null);
                sam_defaults.insert(api_id.clone(), default_authorizer(&globals));
                apis.insert(api_id.clone(), sam_api(&api_id, &globals)?);
            }
            let site = event_site(f, &e.name);
            let key = match (p.get("Path").and_then(text), p.get("Method").and_then(text)) {
                (None, None) => DEFAULT_ROUTE.to_owned(),
                (path, method) => format!(
                    "{} {}",
                    method.unwrap_or_else(|| "ANY".to_owned()).to_uppercase(),
                    path.unwrap_or_else(|| "/".to_owned())
                ),
            };
            let payload_format = match p.get("PayloadFormatVersion") {
                None => PayloadFormat::V2,
                Some(v) => payload_format(v, &site)?,
            };
            let timeout = timeout_ms(p.get("TimeoutInMillis"), &site)?;
            let auth = p.get("Auth");
            let named = auth.and_then(|a| a.get("Authorizer")).and_then(text);
            let scopes = strings(auth.and_then(|a| a.get("AuthorizationScopes")));
            let default = sam_defaults.get(&api_id).cloned().flatten();
            let auth = match named.or(default) {
                Some(n) if n == "NONE" => RouteAuth::None,
                Some(n) if n == "AWS_IAM" => {
                    tracing::warn!(route = %key, "AWS_IAM authorization is not enforced locally");
                    RouteAuth::None
                }
                Some(name) => RouteAuth::Authorizer { name, scopes },
                None => RouteAuth::None,
            };
            let api = apis.get_mut(&api_id).expect("invariant: inserted above");
            if let Some(settings) = p.get("RouteSettings") {
                let s = route_settings(settings, &site)?;
                for stage in &mut api.stages {
                    stage.route_settings.insert(key.clone(), s);
                }
            }
            api.routes.push(RouteSpec {
                key,
                integration: IntegrationSpec::Lambda {
                    function: f.name.to_string(),
                    payload_format,
                    timeout,
                },
                auth,
            });
        }
    }
    // The low-level resources.
    for r in t.resources.values().filter(|r| r.kind == V2_API) {
        let spec = v2_api(t, &r.logical_id, &r.properties)?;
        if let Some(spec) = spec {
            apis.insert(r.logical_id.clone(), spec);
        }
    }
    for api in apis.values() {
        check(api)?;
    }
    Ok(apis.into_values().collect())
}

fn event_site(f: &ledge_template::FunctionSpec, event: &str) -> String {
    format!(
        "{}.Events.{event}",
        f.logical_id.clone().unwrap_or_else(|| f.name.to_string())
    )
}

/// Route keys parse, authorizers exist, no key twice.
fn check(api: &HttpApiSpec) -> Result<(), GatewayError> {
    let mut seen = std::collections::BTreeSet::new();
    for r in &api.routes {
        super::routes::RouteKey::parse(&r.key).map_err(|message| GatewayError::RouteKey {
            api: api.logical_id.clone(),
            key: r.key.clone(),
            message,
        })?;
        if !seen.insert(r.key.clone()) {
            return Err(GatewayError::DuplicateRoute {
                api: api.logical_id.clone(),
                key: r.key.clone(),
            });
        }
        if let RouteAuth::Authorizer { name, .. } = &r.auth {
            if !api.authorizers.contains_key(name) {
                return Err(GatewayError::UnknownAuthorizer {
                    api: api.logical_id.clone(),
                    route: r.key.clone(),
                    authorizer: name.clone(),
                });
            }
        }
    }
    Ok(())
}

fn default_authorizer(props: &J) -> Option<String> {
    props
        .get("Auth")
        .and_then(|a| a.get("DefaultAuthorizer"))
        .and_then(text)
}

/// An `AWS::Serverless::HttpApi` (or the implicit one, from `Globals.HttpApi`).
fn sam_api(id: &str, p: &J) -> Result<HttpApiSpec, GatewayError> {
    let mut stage = StageSpec::new(
        p.get("StageName")
            .and_then(text)
            .unwrap_or_else(|| DEFAULT_STAGE.to_owned()),
    );
    check_stage_name(id, &stage.name)?;
    stage.variables = string_map(p.get("StageVariables"), id, "StageVariables")?;
    if let Some(s) = p.get("DefaultRouteSettings") {
        stage.default_route_settings = route_settings(s, id)?;
    }
    if let Some(J::Object(m)) = p.get("RouteSettings") {
        for (k, v) in m {
            stage
                .route_settings
                .insert(k.clone(), route_settings(v, id)?);
        }
    }
    stage.access_log = access_log(p.get("AccessLogSettings"));
    let cors = match p.get("CorsConfiguration") {
        None | Some(J::Bool(false)) | Some(J::Null) => None,
        Some(J::Bool(true)) => Some(CorsConfig {
            allow_origins: vec!["*".into()],
            allow_headers: vec!["*".into()],
            allow_methods: vec!["*".into()],
            ..CorsConfig::default()
        }),
        Some(v) => Some(cors(v, id)?),
    };
    let mut authorizers = BTreeMap::new();
    if let Some(J::Object(m)) = p.get("Auth").and_then(|a| a.get("Authorizers")) {
        for (name, a) in m {
            let site = format!("{id}.Auth.Authorizers.{name}");
            let spec = if let Some(jwt) = a.get("JwtConfiguration") {
                AuthorizerSpec::Jwt {
                    identity_source: match a.get("IdentitySource") {
                        Some(v) => strings(Some(v)),
                        None => vec![DEFAULT_IDENTITY.to_owned()],
                    },
                    issuer: get(jwt, &["issuer", "Issuer"])
                        .and_then(text)
                        .ok_or_else(|| {
                            GatewayError::spec(&site, "JwtConfiguration.issuer", "is required")
                        })?,
                    audience: strings(get(jwt, &["audience", "Audience"])),
                }
            } else if let Some(arn) = a.get("FunctionArn").and_then(text) {
                let identity = a.get("Identity");
                let mut sources = Vec::new();
                for (key, prefix) in [
                    ("Headers", "$request.header."),
                    ("QueryStrings", "$request.querystring."),
                    ("Context", "$context."),
                    ("StageVariables", "$stageVariables."),
                ] {
                    for s in strings(identity.and_then(|i| i.get(key))) {
                        sources.push(format!("{prefix}{s}"));
                    }
                }
                let ttl = match identity.and_then(|i| i.get("ReauthorizeEvery")) {
                    Some(v) => uint(v).ok_or_else(|| {
                        GatewayError::spec(&site, "Identity.ReauthorizeEvery", "must be 0..=3600")
                    })?,
                    None if sources.is_empty() => 0,
                    None => 300,
                };
                let payload_format = match a.get("AuthorizerPayloadFormatVersion") {
                    Some(v) => payload_format(v, &site)?,
                    None => {
                        return Err(GatewayError::spec(
                            &site,
                            "AuthorizerPayloadFormatVersion",
                            "is required (1.0 or 2.0)",
                        ))
                    }
                };
                lambda_authorizer(
                    &site,
                    arn,
                    payload_format,
                    a.get("EnableSimpleResponses")
                        .and_then(boolean)
                        .unwrap_or(false),
                    ttl,
                    sources,
                )?
            } else {
                return Err(GatewayError::spec(
                    &site,
                    "JwtConfiguration",
                    "an authorizer needs JwtConfiguration or FunctionArn",
                ));
            };
            authorizers.insert(name.clone(), spec);
        }
    }
    if p.get("DefinitionBody").is_some() || p.get("DefinitionUri").is_some() {
        tracing::warn!(api = %id, "DefinitionBody/DefinitionUri (OpenAPI) are not read; routes come from function events");
    }
    Ok(HttpApiSpec {
        logical_id: id.to_owned(),
        api_id: id.to_owned(),
        name: p
            .get("Name")
            .and_then(text)
            .unwrap_or_else(|| id.to_owned()),
        stages: vec![stage],
        routes: Vec::new(),
        cors,
        authorizers,
    })
}

fn lambda_authorizer(
    site: &str,
    function: String,
    payload_format: PayloadFormat,
    simple_responses: bool,
    ttl: u64,
    identity_source: Vec<String>,
) -> Result<AuthorizerSpec, GatewayError> {
    if ttl > 3600 {
        return Err(GatewayError::spec(
            site,
            "ResultTtl",
            "must be 0..=3600 seconds",
        ));
    }
    if simple_responses && payload_format == PayloadFormat::V1 {
        return Err(GatewayError::spec(
            site,
            "EnableSimpleResponses",
            "simple responses need payload format 2.0",
        ));
    }
    if ttl > 0 && identity_source.is_empty() {
        return Err(GatewayError::spec(
            site,
            "IdentitySource",
            "caching authorizer results needs at least one identity source",
        ));
    }
    Ok(AuthorizerSpec::Lambda {
        function,
        payload_format,
        simple_responses,
        result_ttl: Duration::from_secs(ttl),
        identity_source,
    })
}

/// An `AWS::ApiGatewayV2::Api` with its routes, integrations, stages and authorizers.
fn v2_api(t: &Template, id: &str, p: &J) -> Result<Option<HttpApiSpec>, GatewayError> {
    let protocol = p.get("ProtocolType").and_then(text).unwrap_or_default();
    if protocol != "HTTP" {
        tracing::warn!(api = %id, protocol = %protocol, "only HTTP APIs are served; skipped");
        return Ok(None);
    }
    if p.get("Body").is_some() || p.get("BodyS3Location").is_some() {
        tracing::warn!(api = %id, "Body (OpenAPI) is not read; routes come from Route resources");
    }
    let of_api = |kind: &str| {
        t.resources
            .values()
            .filter(move |r| r.kind == kind)
            .filter(move |r| r.properties.get("ApiId").and_then(text).as_deref() == Some(id))
            .collect::<Vec<_>>()
    };
    let mut authorizers = BTreeMap::new();
    for a in of_api(V2_AUTHORIZER) {
        let ap = &a.properties;
        let site = &a.logical_id;
        let identity_source = strings(ap.get("IdentitySource"));
        let spec = match ap.get("AuthorizerType").and_then(text).as_deref() {
            Some("JWT") => {
                let jwt = ap.get("JwtConfiguration").unwrap_or(&J::Null);
                AuthorizerSpec::Jwt {
                    identity_source: if identity_source.is_empty() {
                        vec![DEFAULT_IDENTITY.to_owned()]
                    } else {
                        identity_source
                    },
                    issuer: get(jwt, &["Issuer", "issuer"])
                        .and_then(text)
                        .ok_or_else(|| {
                            GatewayError::spec(site, "JwtConfiguration.Issuer", "is required")
                        })?,
                    audience: strings(get(jwt, &["Audience", "audience"])),
                }
            }
            Some("REQUEST") => {
                let uri = ap.get("AuthorizerUri").and_then(text).ok_or_else(|| {
                    GatewayError::spec(site, "AuthorizerUri", "is required for REQUEST")
                })?;
                let payload_format = match ap.get("AuthorizerPayloadFormatVersion") {
                    Some(v) => payload_format(v, site)?,
                    None => {
                        return Err(GatewayError::spec(
                            site,
                            "AuthorizerPayloadFormatVersion",
                            "is required (1.0 or 2.0)",
                        ))
                    }
                };
                let ttl = match ap.get("AuthorizerResultTtlInSeconds") {
                    Some(v) => uint(v).ok_or_else(|| {
                        GatewayError::spec(site, "AuthorizerResultTtlInSeconds", "must be 0..=3600")
                    })?,
                    None => 0,
                };
                lambda_authorizer(
                    site,
                    uri,
                    payload_format,
                    ap.get("EnableSimpleResponses")
                        .and_then(boolean)
                        .unwrap_or(false),
                    ttl,
                    identity_source,
                )?
            }
            other => {
                return Err(GatewayError::spec(
                    site,
                    "AuthorizerType",
                    format!("{other:?}: HTTP APIs have JWT and REQUEST authorizers"),
                ))
            }
        };
        authorizers.insert(a.logical_id.clone(), spec);
    }
    let integrations: BTreeMap<String, IntegrationSpec> = of_api(V2_INTEGRATION)
        .into_iter()
        .map(|i| {
            Ok((
                i.logical_id.clone(),
                v2_integration(&i.logical_id, &i.properties)?,
            ))
        })
        .collect::<Result<_, GatewayError>>()?;
    let mut routes = Vec::new();
    for r in of_api(V2_ROUTE) {
        let rp = &r.properties;
        let key = rp
            .get("RouteKey")
            .and_then(text)
            .ok_or_else(|| GatewayError::spec(&r.logical_id, "RouteKey", "is required"))?;
        let Some(target) = rp.get("Target").and_then(text) else {
            tracing::warn!(route = %key, "route has no Target; skipped");
            continue;
        };
        let target_id = target.strip_prefix("integrations/").unwrap_or(&target);
        let integration = integrations.get(target_id).cloned().ok_or_else(|| {
            GatewayError::spec(
                &r.logical_id,
                "Target",
                format!("{target}: no AWS::ApiGatewayV2::Integration {target_id} on this API"),
            )
        })?;
        let auth = match rp.get("AuthorizationType").and_then(text).as_deref() {
            None | Some("NONE") => RouteAuth::None,
            Some("JWT" | "CUSTOM") => RouteAuth::Authorizer {
                name: rp.get("AuthorizerId").and_then(text).ok_or_else(|| {
                    GatewayError::spec(
                        &r.logical_id,
                        "AuthorizerId",
                        "is required with JWT or CUSTOM",
                    )
                })?,
                scopes: strings(rp.get("AuthorizationScopes")),
            },
            Some("AWS_IAM") => {
                tracing::warn!(route = %key, "AWS_IAM authorization is not enforced locally");
                RouteAuth::None
            }
            Some(other) => {
                return Err(GatewayError::spec(
                    &r.logical_id,
                    "AuthorizationType",
                    format!("{other}: expected NONE, JWT, CUSTOM or AWS_IAM"),
                ))
            }
        };
        routes.push(RouteSpec {
            key,
            integration,
            auth,
        });
    }
    let mut stages = Vec::new();
    for s in of_api(V2_STAGE) {
        let sp = &s.properties;
        let mut stage = StageSpec::new(
            sp.get("StageName")
                .and_then(text)
                .ok_or_else(|| GatewayError::spec(&s.logical_id, "StageName", "is required"))?,
        );
        check_stage_name(&s.logical_id, &stage.name)?;
        stage.auto_deploy = sp.get("AutoDeploy").and_then(boolean).unwrap_or(false);
        stage.variables = string_map(sp.get("StageVariables"), &s.logical_id, "StageVariables")?;
        if let Some(v) = sp.get("DefaultRouteSettings") {
            stage.default_route_settings = route_settings(v, &s.logical_id)?;
        }
        if let Some(J::Object(m)) = sp.get("RouteSettings") {
            for (k, v) in m {
                stage
                    .route_settings
                    .insert(k.clone(), route_settings(v, &s.logical_id)?);
            }
        }
        stage.access_log = access_log(sp.get("AccessLogSettings"));
        stages.push(stage);
    }
    // Quick create: `Target` on the Api makes a route, an integration and `$default`.
    if let Some(target) = p.get("Target").and_then(text) {
        let integration = if target.starts_with("http://") || target.starts_with("https://") {
            IntegrationSpec::Http {
                uri: target,
                method: None,
                timeout: limits::MAX_INTEGRATION_TIMEOUT,
                request_parameters: Vec::new(),
                response_parameters: BTreeMap::new(),
            }
        } else {
            IntegrationSpec::Lambda {
                function: target,
                payload_format: PayloadFormat::V2,
                timeout: limits::MAX_INTEGRATION_TIMEOUT,
            }
        };
        routes.push(RouteSpec {
            key: p
                .get("RouteKey")
                .and_then(text)
                .unwrap_or_else(|| DEFAULT_ROUTE.to_owned()),
            integration,
            auth: RouteAuth::None,
        });
        if !stages.iter().any(|s| s.name == DEFAULT_STAGE) {
            stages.push(StageSpec::new(DEFAULT_STAGE));
        }
    }
    if stages.is_empty() {
        tracing::warn!(api = %id, "the API has no stage; every request gets 404 Not Found");
    }
    Ok(Some(HttpApiSpec {
        logical_id: id.to_owned(),
        api_id: id.to_owned(),
        name: p
            .get("Name")
            .and_then(text)
            .unwrap_or_else(|| id.to_owned()),
        stages,
        routes,
        cors: match p.get("CorsConfiguration") {
            None | Some(J::Null) => None,
            Some(v) => Some(cors(v, id)?),
        },
        authorizers,
    }))
}

fn v2_integration(id: &str, p: &J) -> Result<IntegrationSpec, GatewayError> {
    let kind = p.get("IntegrationType").and_then(text).unwrap_or_default();
    let uri = p
        .get("IntegrationUri")
        .and_then(text)
        .ok_or_else(|| GatewayError::spec(id, "IntegrationUri", "is required"))?;
    let timeout = timeout_ms(p.get("TimeoutInMillis"), id)?;
    match kind.as_str() {
        "AWS_PROXY" => Ok(IntegrationSpec::Lambda {
            function: uri,
            payload_format: match p.get("PayloadFormatVersion") {
                Some(v) => payload_format(v, id)?,
                None => PayloadFormat::V1,
            },
            timeout,
        }),
        "HTTP_PROXY" => {
            let mut response_parameters = BTreeMap::new();
            if let Some(J::Object(m)) = p.get("ResponseParameters") {
                for (status, v) in m {
                    // Either {"overwrite:statuscode": "204"} or CloudFormation's
                    // {"ResponseParameters": [{"Destination": …, "Source": …}]}.
                    let list = match v.get("ResponseParameters") {
                        Some(J::Array(items)) => items
                            .iter()
                            .filter_map(|i| {
                                Some((
                                    i.get("Destination").and_then(text)?,
                                    i.get("Source").and_then(text)?,
                                ))
                            })
                            .collect(),
                        _ => pairs(Some(v)),
                    };
                    response_parameters.insert(status.clone(), list);
                }
            }
            Ok(IntegrationSpec::Http {
                uri,
                method: p.get("IntegrationMethod").and_then(text),
                timeout,
                request_parameters: pairs(p.get("RequestParameters")),
                response_parameters,
            })
        }
        other => Err(GatewayError::spec(
            id,
            "IntegrationType",
            format!("{other:?}: HTTP APIs served by ledge take AWS_PROXY or HTTP_PROXY"),
        )),
    }
}

fn check_stage_name(site: &str, name: &str) -> Result<(), GatewayError> {
    let ok = name == DEFAULT_STAGE
        || (!name.is_empty()
            && name.len() <= 128
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'));
    if ok {
        Ok(())
    } else {
        Err(GatewayError::spec(
            site,
            "StageName",
            format!("{name:?}: letters, digits, - and _ only (at most 128), or $default"),
        ))
    }
}

fn cors(v: &J, site: &str) -> Result<CorsConfig, GatewayError> {
    if !v.is_object() {
        return Err(GatewayError::spec(
            site,
            "CorsConfiguration",
            "must be a mapping or true",
        ));
    }
    Ok(CorsConfig {
        allow_origins: strings(get(v, &["AllowOrigins", "allowOrigins"])),
        allow_credentials: get(v, &["AllowCredentials", "allowCredentials"])
            .and_then(boolean)
            .unwrap_or(false),
        expose_headers: strings(get(v, &["ExposeHeaders", "exposeHeaders"])),
        max_age: get(v, &["MaxAge", "maxAge"])
            .and_then(uint)
            .map(|n| n as u32),
        allow_methods: strings(get(v, &["AllowMethods", "allowMethods"])),
        allow_headers: strings(get(v, &["AllowHeaders", "allowHeaders"])),
    })
}

fn route_settings(v: &J, site: &str) -> Result<RouteSettings, GatewayError> {
    let burst = match v.get("ThrottlingBurstLimit") {
        None => None,
        Some(b) => Some(
            uint(b)
                .filter(|n| *n <= u64::from(u32::MAX))
                .ok_or_else(|| {
                    GatewayError::spec(site, "ThrottlingBurstLimit", "must be a whole number ≥ 0")
                })? as u32,
        ),
    };
    let rate = match v.get("ThrottlingRateLimit") {
        None => None,
        Some(r) => Some(number(r).filter(|n| *n >= 0.0).ok_or_else(|| {
            GatewayError::spec(site, "ThrottlingRateLimit", "must be a number ≥ 0")
        })?),
    };
    Ok(RouteSettings {
        throttling_burst_limit: burst,
        throttling_rate_limit: rate,
    })
}

fn access_log(v: Option<&J>) -> Option<AccessLogSettings> {
    let v = v?;
    Some(AccessLogSettings {
        destination_arn: v.get("DestinationArn").and_then(text),
        format: v.get("Format").and_then(text),
    })
}

fn payload_format(v: &J, site: &str) -> Result<PayloadFormat, GatewayError> {
    let s = match v {
        J::Number(n) => format!("{:.1}", n.as_f64().unwrap_or_default()),
        other => text(other).unwrap_or_default(),
    };
    PayloadFormat::parse(&s).ok_or_else(|| {
        GatewayError::spec(
            site,
            "PayloadFormatVersion",
            format!("{s:?}: expected 1.0 or 2.0"),
        )
    })
}

fn timeout_ms(v: Option<&J>, site: &str) -> Result<Duration, GatewayError> {
    match v {
        None => Ok(limits::MAX_INTEGRATION_TIMEOUT),
        Some(v) => match uint(v) {
            Some(ms @ 50..=30_000) => Ok(Duration::from_millis(ms)),
            _ => Err(GatewayError::spec(
                site,
                "TimeoutInMillis",
                "must be between 50 and 30000 milliseconds",
            )),
        },
    }
}

#[cfg(test)]
mod tests;
