//! Customised gateway responses (reference §3.7): `x-amazon-apigateway-gateway-responses`,
//! SAM's `GatewayResponses` and `AWS::ApiGateway::GatewayResponse`. A gateway-generated
//! error of one response type (or of `DEFAULT_4XX` / `DEFAULT_5XX` by its status class)
//! takes the customisation's status, headers (`gatewayresponse.header.X`) and body
//! template; without a template the default body stays
//! (`{"message":$context.error.messageString}`).

use std::collections::HashMap;

use ledge_vtl::Value;

use super::consts::GatewayResponse;
use super::integration::{self, Compiled};
use super::spec::GatewayResponseSpec;
use crate::GatewayError;

/// One customisation, its templates compiled.
#[derive(Debug)]
pub(crate) struct Custom {
    spec: GatewayResponseSpec,
    templates: Vec<Compiled>,
}

/// The API's customisations by response type.
#[derive(Debug, Default)]
pub(crate) struct GatewayResponses {
    by_type: HashMap<String, Custom>,
}

/// What a customisation may read from the request.
pub(crate) struct RequestView<'a> {
    pub headers: &'a http::HeaderMap,
    pub query: &'a str,
    pub stage_variables: &'a [(String, String)],
    pub context: Vec<(&'static str, String)>,
}

impl GatewayResponses {
    pub(crate) fn compile(api: &str, specs: &[GatewayResponseSpec]) -> Result<Self, GatewayError> {
        let mut by_type = HashMap::new();
        for g in specs {
            let site = format!("{api}.GatewayResponses.{}", g.response_type);
            let templates =
                integration::compile_templates(&site, "responseTemplates", &g.response_templates)?;
            by_type.insert(
                g.response_type.clone(),
                Custom {
                    spec: g.clone(),
                    templates,
                },
            );
        }
        Ok(Self { by_type })
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.by_type.is_empty()
    }

    fn find(&self, e: &GatewayResponse) -> Option<&Custom> {
        self.by_type.get(e.response_type).or_else(|| {
            let class = match e.status {
                400..=499 => "DEFAULT_4XX",
                500..=599 => "DEFAULT_5XX",
                _ => return None,
            };
            self.by_type.get(class)
        })
    }

    /// Applies the customisation of `e`, if any, to `resp` (the default response).
    pub(crate) fn apply<B: From<bytes::Bytes>>(
        &self,
        e: &GatewayResponse,
        req: &RequestView<'_>,
        resp: &mut http::Response<B>,
    ) {
        let Some(c) = self.find(e) else {
            return;
        };
        if let Some(s) = c
            .spec
            .status_code
            .and_then(|s| http::StatusCode::from_u16(s).ok())
        {
            *resp.status_mut() = s;
        }
        let message = serde_json::from_str::<serde_json::Value>(e.body)
            .ok()
            .and_then(|v| {
                v.get("message")
                    .or_else(|| v.get("Message"))
                    .and_then(|m| m.as_str().map(str::to_owned))
            })
            .unwrap_or_default();
        for (target, src) in &c.spec.response_parameters {
            let Some(name) = target.strip_prefix("gatewayresponse.header.") else {
                continue;
            };
            let Some(v) = source(src, req) else {
                continue;
            };
            if let (Ok(k), Ok(v)) = (
                http::HeaderName::from_bytes(name.as_bytes()),
                http::HeaderValue::from_str(&v),
            ) {
                resp.headers_mut().insert(k, v);
            }
        }
        let accept = req
            .headers
            .get(http::header::ACCEPT)
            .and_then(|v| v.to_str().ok());
        let chosen = integration::response_template(&c.templates, accept);
        let Some((ct, t)) = chosen else {
            return;
        };
        let body = match t {
            None => String::new(),
            Some(t) => {
                let mut error = indexmap::IndexMap::new();
                error.insert("message".to_owned(), Value::String(message.clone()));
                error.insert(
                    "messageString".to_owned(),
                    Value::String(serde_json::Value::String(message).to_string()),
                );
                error.insert(
                    "responseType".to_owned(),
                    Value::String(e.response_type.to_owned()),
                );
                let mut context = indexmap::IndexMap::new();
                for (k, v) in &req.context {
                    context.insert((*k).to_owned(), Value::String(v.clone()));
                }
                context.insert("error".to_owned(), Value::Map(error));
                let ctx = ledge_vtl::Context {
                    context: Value::Map(context),
                    stage_variables: req.stage_variables.iter().cloned().collect(),
                    ..ledge_vtl::Context::default()
                };
                match t.render(&ctx) {
                    Ok(b) => b,
                    Err(err) => {
                        tracing::warn!(response_type = e.response_type, error = %err, "the gateway response template failed; the default body is sent");
                        return;
                    }
                }
            }
        };
        if let Ok(v) = http::HeaderValue::from_str(ct) {
            resp.headers_mut().insert(http::header::CONTENT_TYPE, v);
        }
        *resp.body_mut() = B::from(bytes::Bytes::from(body));
    }
}

fn source(src: &str, req: &RequestView<'_>) -> Option<String> {
    if let Some(s) = src.strip_prefix('\'').and_then(|s| s.strip_suffix('\'')) {
        return Some(s.to_owned());
    }
    if let Some(h) = src.strip_prefix("method.request.header.") {
        return req
            .headers
            .get(h)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
    }
    if let Some(q) = src.strip_prefix("method.request.querystring.") {
        return form_urlencoded::parse(req.query.as_bytes())
            .filter(|(k, _)| k == q)
            .last()
            .map(|(_, v)| v.into_owned());
    }
    if let Some(n) = src.strip_prefix("stageVariables.") {
        return req
            .stage_variables
            .iter()
            .find(|(k, _)| k == n)
            .map(|(_, v)| v.clone());
    }
    if let Some(n) = src.strip_prefix("context.") {
        return req
            .context
            .iter()
            .find(|(k, _)| *k == n)
            .map(|(_, v)| v.clone());
    }
    None
}
