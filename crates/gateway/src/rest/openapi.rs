//! OpenAPI (Swagger 2.0 and OpenAPI 3) definitions with API Gateway's extensions → the
//! methods, authorizers and settings of a [`RestApiSpec`]: `paths` with
//! `x-amazon-apigateway-integration` (`type`, `uri`, `httpMethod`, `timeoutInMillis`,
//! `cacheKeyParameters`, `cacheNamespace`, `requestParameters`, `responses`),
//! `x-amazon-apigateway-any-method`, `parameters`, `security` with
//! `x-amazon-apigateway-authorizer` schemes and API keys, `x-amazon-apigateway-binary-media-types`
//! and `x-amazon-apigateway-api-key-source`.

use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::Value as J;

use super::consts::{limits, ANY};
use super::spec::*;
use crate::common::values::{strings, text, uint};
use crate::GatewayError;

const METHODS: &[&str] = &["get", "post", "put", "patch", "delete", "head", "options"];
const ANY_METHOD: &str = "x-amazon-apigateway-any-method";

/// Reads a definition into `spec` (methods are appended; the API's settings are set).
pub fn read(site: &str, def: &J, spec: &mut RestApiSpec) -> Result<(), GatewayError> {
    if !def.is_object() {
        return Err(GatewayError::spec(
            site,
            "DefinitionBody",
            "must be an OpenAPI document (a mapping)",
        ));
    }
    // Security schemes: Lambda authorizers and the API key scheme.
    let schemes = def
        .get("securityDefinitions")
        .or_else(|| def.get("components").and_then(|c| c.get("securitySchemes")));
    let mut api_key_schemes = Vec::new();
    if let Some(J::Object(m)) = schemes {
        for (name, s) in m {
            if let Some(a) = s.get("x-amazon-apigateway-authorizer") {
                spec.authorizers
                    .insert(name.clone(), authorizer(&format!("{site}.{name}"), a)?);
            } else if s.get("type").and_then(J::as_str) == Some("apiKey")
                && s.get("name")
                    .and_then(J::as_str)
                    .is_some_and(|n| n.eq_ignore_ascii_case("x-api-key"))
            {
                api_key_schemes.push(name.clone());
            }
        }
    }
    let default_security = def.get("security");
    for t in strings(def.get("x-amazon-apigateway-binary-media-types")) {
        let t = t.replace("~1", "/");
        if !spec.binary_media_types.contains(&t) {
            spec.binary_media_types.push(t);
        }
    }
    if let Some(s) = def
        .get("x-amazon-apigateway-api-key-source")
        .and_then(J::as_str)
    {
        spec.api_key_source = match s {
            "AUTHORIZER" => ApiKeySource::Authorizer,
            _ => ApiKeySource::Header,
        };
    }
    if let Some(J::Object(m)) = def.get("x-amazon-apigateway-gateway-responses") {
        for (kind, r) in m {
            let g = gateway_response(
                &format!("{site}.x-amazon-apigateway-gateway-responses.{kind}"),
                kind,
                r,
            )?;
            spec.gateway_responses
                .retain(|x| x.response_type != g.response_type);
            spec.gateway_responses.push(g);
        }
    }
    let Some(J::Object(paths)) = def.get("paths") else {
        return Ok(());
    };
    for (path, item) in paths {
        let Some(item) = item.as_object() else {
            continue;
        };
        let path_params = item.get("parameters");
        for (key, op) in item {
            let method = if key == ANY_METHOD {
                ANY.to_owned()
            } else if METHODS.contains(&key.as_str()) {
                key.to_ascii_uppercase()
            } else {
                continue;
            };
            let msite = format!("{site}.paths.{path}.{key}");
            let Some(integration) = op.get("x-amazon-apigateway-integration") else {
                tracing::warn!(method = %method, path = %path, "no x-amazon-apigateway-integration; the method is not served");
                continue;
            };
            let mut request_parameters = BTreeMap::new();
            for p in [path_params, op.get("parameters")].into_iter().flatten() {
                for param in p.as_array().into_iter().flatten() {
                    let (Some(name), Some(loc)) = (
                        param.get("name").and_then(J::as_str),
                        param.get("in").and_then(J::as_str),
                    ) else {
                        continue;
                    };
                    let loc = match loc {
                        "path" => "path",
                        "query" => "querystring",
                        "header" => "header",
                        _ => continue,
                    };
                    request_parameters.insert(
                        format!("method.request.{loc}.{name}"),
                        param
                            .get("required")
                            .and_then(J::as_bool)
                            .unwrap_or(loc == "path"),
                    );
                }
            }
            let security = op.get("security").or(default_security);
            let mut auth = MethodAuth::None;
            let mut api_key_required = false;
            for req in security.and_then(J::as_array).into_iter().flatten() {
                for name in req.as_object().into_iter().flat_map(|o| o.keys()) {
                    if spec.authorizers.contains_key(name) {
                        auth = MethodAuth::Authorizer(name.clone());
                    } else if api_key_schemes.contains(name) {
                        api_key_required = true;
                    } else if name == "sigv4" || name.eq_ignore_ascii_case("AWS_IAM") {
                        auth = MethodAuth::Iam;
                    }
                }
            }
            if op
                .get("x-amazon-apigateway-auth")
                .and_then(|a| a.get("type"))
                .and_then(J::as_str)
                .is_some_and(|t| t.eq_ignore_ascii_case("aws_iam"))
            {
                auth = MethodAuth::Iam;
            }
            let (mut integration, cache_key_parameters, cache_namespace) =
                read_integration(&msite, integration)?;
            if let RestIntegration::Mapped(m) = &mut integration {
                m.method_responses = openapi_method_responses(def, op.get("responses"));
            }
            spec.methods.push(MethodSpec {
                resource_path: path.clone(),
                http_method: method,
                auth,
                api_key_required,
                request_parameters,
                integration,
                cache_key_parameters,
                cache_namespace,
            });
        }
    }
    Ok(())
}

fn authorizer(site: &str, a: &J) -> Result<RestAuthorizerSpec, GatewayError> {
    let kind = match a
        .get("type")
        .and_then(J::as_str)
        .unwrap_or("token")
        .to_ascii_lowercase()
        .as_str()
    {
        "token" => AuthorizerKind::Token,
        "request" => AuthorizerKind::Request,
        other => {
            return Err(GatewayError::spec(
                site,
                "x-amazon-apigateway-authorizer.type",
                format!("{other:?}: ledge serves Lambda TOKEN and REQUEST authorizers"),
            ))
        }
    };
    let function = a
        .get("authorizerUri")
        .and_then(text)
        .ok_or_else(|| GatewayError::spec(site, "authorizerUri", "is required"))?;
    let identity_source = strings(a.get("identitySource"));
    let ttl = a
        .get("authorizerResultTtlInSeconds")
        .map(|v| {
            uint(v)
                .filter(|n| *n <= limits::MAX_AUTHORIZER_TTL_SECS)
                .ok_or_else(|| {
                    GatewayError::spec(site, "authorizerResultTtlInSeconds", "must be 0..=3600")
                })
        })
        .transpose()?
        .unwrap_or(limits::DEFAULT_AUTHORIZER_TTL_SECS);
    Ok(RestAuthorizerSpec {
        kind,
        function,
        identity_source: if identity_source.is_empty() && kind == AuthorizerKind::Token {
            vec!["method.request.header.Authorization".into()]
        } else {
            identity_source
        },
        validation_expression: a
            .get("identityValidationExpression")
            .and_then(text)
            .filter(|s| !s.is_empty()),
        result_ttl: Duration::from_secs(ttl),
    })
}

/// `(integration, cacheKeyParameters, cacheNamespace)` from an
/// `x-amazon-apigateway-integration` object (or CloudFormation's `Integration`, whose
/// keys are capitalised).
pub fn read_integration(
    site: &str,
    i: &J,
) -> Result<(RestIntegration, Vec<String>, Option<String>), GatewayError> {
    let get = |k: &str| {
        let cap = format!("{}{}", k[..1].to_ascii_uppercase(), &k[1..]);
        i.get(k).or_else(|| i.get(&cap))
    };
    let kind = get("type")
        .and_then(text)
        .unwrap_or_default()
        .to_ascii_uppercase();
    let timeout = match get("timeoutInMillis") {
        None => limits::MAX_INTEGRATION_TIMEOUT,
        Some(v) => match uint(v) {
            Some(ms) if (limits::MIN_INTEGRATION_TIMEOUT_MS..=29_000).contains(&ms) => {
                Duration::from_millis(ms)
            }
            _ => {
                return Err(GatewayError::spec(
                    site,
                    "timeoutInMillis",
                    "Timeout should be between 50 ms and 29000 ms",
                ))
            }
        },
    };
    let uri = get("uri").and_then(text);
    let method = get("httpMethod")
        .or_else(|| i.get("IntegrationHttpMethod"))
        .and_then(text)
        .unwrap_or_else(|| ANY.to_owned())
        .to_ascii_uppercase();
    let request_parameters = params(get("requestParameters"));
    let need_uri = || {
        uri.clone()
            .ok_or_else(|| GatewayError::spec(site, "uri", "is required"))
    };
    let integration = match kind.as_str() {
        "AWS_PROXY" => RestIntegration::Lambda {
            function: need_uri()?,
            timeout,
        },
        "HTTP_PROXY" => RestIntegration::HttpProxy {
            uri: need_uri()?,
            method,
            timeout,
            request_parameters,
        },
        "HTTP" | "MOCK" | "AWS" => {
            let responses = integration_responses(
                site,
                get("responses").or_else(|| i.get("IntegrationResponses")),
            )?;
            let request_templates = templates(get("requestTemplates"));
            let passthrough = match get("passthroughBehavior").and_then(text) {
                None => Passthrough::default(),
                Some(p) => Passthrough::parse(&p).ok_or_else(|| {
                    GatewayError::spec(
                        site,
                        "passthroughBehavior",
                        format!("{p:?}: expected WHEN_NO_MATCH, WHEN_NO_TEMPLATES or NEVER"),
                    )
                })?,
            };
            let content_handling = content_handling(site, get("contentHandling"))?;
            let target = match kind.as_str() {
                "HTTP" => MappedTarget::Http {
                    uri: need_uri()?,
                    method,
                },
                "MOCK" => MappedTarget::Mock,
                _ => {
                    let uri = need_uri()?;
                    let parsed = super::aws::ServiceUri::parse(&uri)
                        .map_err(|m| GatewayError::spec(site, "uri", m))?;
                    if parsed.is_lambda() {
                        MappedTarget::Lambda { function: uri }
                    } else {
                        MappedTarget::AwsService {
                            uri,
                            method,
                            credentials: get("credentials").and_then(text),
                        }
                    }
                }
            };
            RestIntegration::Mapped(Box::new(MappedIntegration {
                target,
                timeout,
                request_parameters,
                request_templates,
                passthrough,
                content_handling,
                responses,
                method_responses: Vec::new(),
            }))
        }
        other => {
            return Err(GatewayError::spec(
                site,
                "type",
                format!("{other:?}: expected AWS, AWS_PROXY, HTTP, HTTP_PROXY or MOCK"),
            ))
        }
    };
    let cache_key_parameters = strings(get("cacheKeyParameters"));
    let cache_namespace = get("cacheNamespace")
        .and_then(text)
        .filter(|s| !s.is_empty());
    Ok((integration, cache_key_parameters, cache_namespace))
}

/// The method responses of an OpenAPI operation: its `responses` keyed by status code
/// (`default` and ranges such as `2XX` are not API Gateway method responses), each with its
/// `headers`; `$ref`s to `#/responses/…` or `#/components/responses/…` are followed.
fn openapi_method_responses(def: &J, v: Option<&J>) -> Vec<MethodResponse> {
    let Some(J::Object(m)) = v else {
        return Vec::new();
    };
    let resolve = |r: &'_ J| -> Option<J> {
        let mut r = r.clone();
        for _ in 0..8 {
            let Some(to) = r.get("$ref").and_then(J::as_str) else {
                return Some(r);
            };
            let to = to.strip_prefix('#')?;
            r = def.pointer(to)?.clone();
        }
        None
    };
    m.iter()
        .filter_map(|(code, r)| {
            let status_code = code.parse::<u16>().ok()?;
            let r = resolve(r)?;
            let headers = r
                .get("headers")
                .and_then(J::as_object)
                .map(|h| h.keys().cloned().collect())
                .unwrap_or_default();
            Some(MethodResponse {
                status_code,
                headers,
            })
        })
        .collect()
}

/// CloudFormation's `MethodResponses`: `[{StatusCode, ResponseParameters:
/// {method.response.header.X: bool}}]`.
pub(crate) fn cfn_method_responses(v: Option<&J>) -> Vec<MethodResponse> {
    v.and_then(J::as_array)
        .into_iter()
        .flatten()
        .filter_map(|r| {
            let status_code = r
                .get("StatusCode")
                .and_then(uint)
                .and_then(|n| u16::try_from(n).ok())?;
            let headers = r
                .get("ResponseParameters")
                .and_then(J::as_object)
                .into_iter()
                .flat_map(|o| o.keys())
                .filter_map(|k| k.strip_prefix("method.response.header."))
                .map(str::to_owned)
                .collect();
            Some(MethodResponse {
                status_code,
                headers,
            })
        })
        .collect()
}

/// `responses` (OpenAPI: an object keyed by selection pattern, `default` for none) or
/// `IntegrationResponses` (CloudFormation: a list with `SelectionPattern`).
fn integration_responses(
    site: &str,
    v: Option<&J>,
) -> Result<Vec<IntegrationResponse>, GatewayError> {
    let mut responses = Vec::new();
    match v {
        Some(J::Object(m)) => {
            for (pattern, r) in m {
                responses.push(integration_response(
                    site,
                    (pattern != "default" && !pattern.is_empty()).then(|| pattern.clone()),
                    r,
                )?);
            }
        }
        Some(J::Array(a)) => {
            for r in a {
                let pattern = r
                    .get("SelectionPattern")
                    .or_else(|| r.get("selectionPattern"))
                    .and_then(text)
                    .filter(|p| !p.is_empty());
                responses.push(integration_response(site, pattern, r)?);
            }
        }
        _ => {}
    }
    for r in &responses {
        if let Some(p) = &r.selection_pattern {
            ledge_vtl::JavaRegex::new(p).map_err(|e| {
                GatewayError::spec(site, "responses.selectionPattern", format!("{p:?}: {e}"))
            })?;
        }
    }
    Ok(responses)
}

fn integration_response(
    site: &str,
    pattern: Option<String>,
    r: &J,
) -> Result<IntegrationResponse, GatewayError> {
    let status = r
        .get("statusCode")
        .or_else(|| r.get("StatusCode"))
        .and_then(uint)
        .and_then(|n| u16::try_from(n).ok())
        .filter(|n| (100..=599).contains(n))
        .ok_or_else(|| {
            GatewayError::spec(site, "responses.statusCode", "must be an HTTP status")
        })?;
    Ok(IntegrationResponse {
        selection_pattern: pattern,
        status_code: status,
        response_parameters: params(
            r.get("responseParameters")
                .or_else(|| r.get("ResponseParameters")),
        ),
        response_templates: templates(
            r.get("responseTemplates")
                .or_else(|| r.get("ResponseTemplates")),
        ),
        content_handling: content_handling(
            site,
            r.get("contentHandling")
                .or_else(|| r.get("ContentHandling")),
        )?,
    })
}

/// Mapping templates by content type, in definition order; a null template is an empty one.
pub(crate) fn templates(v: Option<&J>) -> Vec<(String, String)> {
    match v {
        Some(J::Object(m)) => m
            .iter()
            .map(|(k, v)| {
                (
                    k.replace("~1", "/").to_ascii_lowercase(),
                    text(v).unwrap_or_default(),
                )
            })
            .collect(),
        _ => Vec::new(),
    }
}

fn content_handling(site: &str, v: Option<&J>) -> Result<Option<ContentHandling>, GatewayError> {
    match v.and_then(text) {
        None => Ok(None),
        Some(s) if s.is_empty() => Ok(None),
        Some(s) => ContentHandling::parse(&s).map(Some).ok_or_else(|| {
            GatewayError::spec(
                site,
                "contentHandling",
                format!("{s:?}: expected CONVERT_TO_BINARY or CONVERT_TO_TEXT"),
            )
        }),
    }
}

/// `x-amazon-apigateway-gateway-responses` (or a `GatewayResponse` resource's properties,
/// capitalised) for one response type.
pub(crate) fn gateway_response(
    site: &str,
    response_type: &str,
    r: &J,
) -> Result<GatewayResponseSpec, GatewayError> {
    let status_code = match r.get("statusCode").or_else(|| r.get("StatusCode")) {
        None => None,
        Some(v) => Some(
            uint(v)
                .and_then(|n| u16::try_from(n).ok())
                .filter(|n| (100..=599).contains(n))
                .ok_or_else(|| GatewayError::spec(site, "statusCode", "must be an HTTP status"))?,
        ),
    };
    Ok(GatewayResponseSpec {
        response_type: response_type.to_ascii_uppercase(),
        status_code,
        response_parameters: params(
            r.get("responseParameters")
                .or_else(|| r.get("ResponseParameters")),
        ),
        response_templates: templates(
            r.get("responseTemplates")
                .or_else(|| r.get("ResponseTemplates")),
        ),
    })
}

fn params(v: Option<&J>) -> Vec<(String, String)> {
    match v {
        Some(J::Object(m)) => m
            .iter()
            .filter_map(|(k, v)| Some((k.clone(), text(v)?)))
            .collect(),
        _ => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn empty() -> RestApiSpec {
        RestApiSpec {
            logical_id: "Api".into(),
            api_id: "Api".into(),
            name: "Api".into(),
            resources: vec![],
            methods: vec![],
            stages: vec![],
            authorizers: BTreeMap::new(),
            binary_media_types: vec![],
            api_key_source: ApiKeySource::Header,
            usage_plans: vec![],
            gateway_responses: vec![],
        }
    }

    #[test]
    fn swagger_with_integrations_cache_keys_authorizers_and_api_keys() {
        let def = json!({
            "swagger": "2.0",
            "x-amazon-apigateway-binary-media-types": ["image~1png"],
            "securityDefinitions": {
                "TokenAuth": {"type": "apiKey", "name": "Authorization", "in": "header",
                    "x-amazon-apigateway-authtype": "custom",
                    "x-amazon-apigateway-authorizer": {"type": "token",
                        "authorizerUri": "arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/arn:aws:lambda:us-east-1:123456789012:function:Auth/invocations",
                        "authorizerResultTtlInSeconds": 60, "identityValidationExpression": "^Bearer .+$"}},
                "api_key": {"type": "apiKey", "name": "x-api-key", "in": "header"}
            },
            "paths": {
                "/users/{id}": {
                    "get": {
                        "parameters": [{"name": "id", "in": "path", "required": true},
                                       {"name": "type", "in": "query"}],
                        "security": [{"TokenAuth": []}, {"api_key": []}],
                        "x-amazon-apigateway-integration": {
                            "type": "aws_proxy", "httpMethod": "POST",
                            "uri": "arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/arn:aws:lambda:us-east-1:123456789012:function:Users/invocations",
                            "cacheKeyParameters": ["method.request.path.id", "method.request.querystring.type"],
                            "cacheNamespace": "users", "timeoutInMillis": 5000
                        }
                    }
                },
                "/{proxy+}": {
                    "x-amazon-apigateway-any-method": {
                        "x-amazon-apigateway-integration": {
                            "type": "http_proxy", "httpMethod": "ANY", "uri": "http://127.0.0.1:1/{proxy}",
                            "requestParameters": {"integration.request.path.proxy": "method.request.path.proxy"}
                        }
                    }
                }
            }
        });
        let mut spec = empty();
        read("Api", &def, &mut spec).expect("reads");
        assert_eq!(spec.binary_media_types, ["image/png"]);
        let a = &spec.authorizers["TokenAuth"];
        assert_eq!(a.kind, AuthorizerKind::Token);
        assert_eq!(a.result_ttl, Duration::from_secs(60));
        assert_eq!(a.identity_source, ["method.request.header.Authorization"]);
        let get = &spec.methods[0];
        assert_eq!(
            (get.resource_path.as_str(), get.http_method.as_str()),
            ("/users/{id}", "GET")
        );
        assert_eq!(get.auth, MethodAuth::Authorizer("TokenAuth".into()));
        assert!(get.api_key_required);
        assert_eq!(
            get.cache_key_parameters,
            ["method.request.path.id", "method.request.querystring.type"]
        );
        assert_eq!(get.cache_namespace.as_deref(), Some("users"));
        assert!(!get.request_parameters["method.request.querystring.type"]);
        assert!(
            matches!(get.integration, RestIntegration::Lambda { timeout, .. } if timeout == Duration::from_secs(5))
        );
        let any = &spec.methods[1];
        assert_eq!(any.http_method, "ANY");
        assert!(
            matches!(&any.integration, RestIntegration::HttpProxy { request_parameters, .. } if request_parameters.len() == 1)
        );
    }

    #[test]
    fn bad_integrations() {
        for i in [
            json!({"type": "aws_proxy"}),
            json!({"type": "aws", "uri": "x"}),
            json!({"type": "aws", "uri": "arn:aws:apigateway:us-east-1:sqs:queue/x"}),
            json!({"type": "http", "uri": "http://x", "passthroughBehavior": "sometimes"}),
            json!({"type": "mock", "responses": {"(": {"statusCode": 200}}}),
            json!({"type": "aws_proxy", "uri": "f", "timeoutInMillis": 30000}),
            json!({"type": "nope", "uri": "x"}),
        ] {
            assert!(read_integration("s", &i).is_err(), "{i}");
        }
    }

    #[test]
    fn method_responses_from_operations_refs_and_cloudformation() {
        let def = json!({
            "components": {"responses": {"Cors": {"description": "", "headers": {
                "Access-Control-Allow-Origin": {"schema": {"type": "string"}}}}}},
            "responses": {"Swagger": {"$ref": "#/components/responses/Cors"}}
        });
        let ops = json!({
            "200": {"description": "ok", "headers": {"X-Id": {"type": "string"}}},
            "404": {"$ref": "#/responses/Swagger"},
            "default": {"description": "not a method response"},
            "5XX": {"description": "nor is this"}
        });
        let got = openapi_method_responses(&def, Some(&ops));
        assert_eq!(
            got,
            vec![
                MethodResponse {
                    status_code: 200,
                    headers: vec!["X-Id".into()]
                },
                MethodResponse {
                    status_code: 404,
                    headers: vec!["Access-Control-Allow-Origin".into()]
                },
            ]
        );
        let cfn = json!([
            {"StatusCode": "200", "ResponseParameters": {"method.response.header.X-Id": true}},
            {"StatusCode": 400}
        ]);
        assert_eq!(
            cfn_method_responses(Some(&cfn)),
            vec![
                MethodResponse {
                    status_code: 200,
                    headers: vec!["X-Id".into()]
                },
                MethodResponse {
                    status_code: 400,
                    headers: vec![]
                },
            ]
        );
    }
}
