//! What the gateway knows of a request ([`RequestFacts`]) and the payload format 1.0
//! event built from it, in its HTTP API and REST flavours (reference §2.1, §2.2). Pure:
//! the time and ids come in with the facts. The 2.0 event is `http::event::v2`.

use bytes::Bytes;
use serde_json::{json, Map, Value as J};

use crate::http::consts::{DEFAULT_STAGE, TEXT_CONTENT_TYPES};

/// What the gateway knows of one request once its stage and route are chosen.
#[derive(Debug, Clone)]
pub struct RequestFacts {
    pub api_id: String,
    pub account_id: String,
    pub method: String,
    /// The path as received (with the stage prefix for named stages), still encoded.
    pub raw_path: String,
    /// The path inside the stage, still encoded.
    pub stage_path: String,
    /// Without `?`; `""` when absent.
    pub raw_query: String,
    /// Header names lower-case (as HTTP/1 servers see them), in arrival order.
    pub headers: Vec<(String, String)>,
    pub body: Bytes,
    pub source_ip: String,
    pub request_id: String,
    /// Epoch milliseconds.
    pub time_epoch_ms: i64,
    pub stage: String,
    pub stage_variables: Vec<(String, String)>,
    /// `GET /pets/{id}` or `$default`.
    pub route_key: String,
    /// `(name, raw value)`.
    pub path_params: Vec<(String, String)>,
    pub authorizer: Authorization,
}

/// What an authorizer established, as integrations see it.
#[derive(Debug, Clone, PartialEq)]
pub enum Authorization {
    None,
    /// Claims already turned into strings; scopes `None` when the route has none.
    Jwt {
        claims: Map<String, J>,
        scopes: Option<Vec<String>>,
    },
    Lambda {
        context: Map<String, J>,
        principal_id: Option<String>,
    },
}

impl RequestFacts {
    /// All values of a header (name lower-case).
    pub fn header_values<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.headers
            .iter()
            .filter(move |(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// The header's values comma-joined, as 2.0 events and mapping expressions see them.
    pub fn header(&self, name: &str) -> Option<String> {
        let name = name.to_ascii_lowercase();
        let v: Vec<&str> = self.header_values(&name).collect();
        (!v.is_empty()).then(|| v.join(","))
    }

    /// Decoded query pairs in order (form decoding: `+` is a space).
    pub fn query_pairs(&self) -> Vec<(String, String)> {
        form_urlencoded::parse(self.raw_query.as_bytes())
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect()
    }

    pub fn query_joined(&self, name: &str) -> Option<String> {
        let v: Vec<String> = self
            .query_pairs()
            .into_iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v)
            .collect();
        (!v.is_empty()).then(|| v.join(","))
    }

    pub fn path_param(&self, name: &str) -> Option<String> {
        self.path_params
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| decode_path(v))
    }

    /// `Host` without the port: the local stand-in for `{id}.execute-api.{region}.amazonaws.com`.
    pub fn domain_name(&self) -> String {
        let host = self.header("host").unwrap_or_default();
        match host.rsplit_once(':') {
            Some((h, p)) if p.chars().all(|c| c.is_ascii_digit()) && !h.is_empty() => h.to_owned(),
            _ => host,
        }
    }

    pub fn domain_prefix(&self) -> String {
        domain_prefix_of(&self.domain_name()).to_owned()
    }

    /// CLF time: `12/Mar/2020:19:03:58 +0000`.
    pub fn clf_time(&self) -> String {
        clf_time(self.time_epoch_ms)
    }

    pub fn user_agent(&self) -> String {
        self.header("user-agent").unwrap_or_default()
    }

    /// The route's resource path (`/pets/{id}`), or the request path for `$default`.
    pub fn resource_path(&self) -> String {
        match self.route_key.split_once(' ') {
            Some((_, p)) => p.to_owned(),
            None => self.stage_path.clone(),
        }
    }

    fn content_type(&self) -> Option<String> {
        self.header("content-type")
    }
}

/// Epoch milliseconds as CLF time (`12/Mar/2020:19:03:58 +0000`), the form of
/// `$context.requestTime` and the events' `time`. Formatted once per second per thread.
pub fn clf_time(epoch_ms: i64) -> String {
    thread_local! {
        static LAST: std::cell::RefCell<(i64, String)> =
            const { std::cell::RefCell::new((i64::MIN, String::new())) };
    }
    let second = epoch_ms.div_euclid(1000);
    LAST.with(|last| {
        let mut last = last.borrow_mut();
        if last.0 != second {
            let text = chrono::DateTime::from_timestamp(second, 0)
                .unwrap_or_default()
                .format("%d/%b/%Y:%H:%M:%S +0000")
                .to_string();
            *last = (second, text);
        }
        last.1.clone()
    })
}

/// The first label of a domain name: `abc` of `abc.execute-api.us-east-1.amazonaws.com`.
pub(crate) fn domain_prefix_of(domain: &str) -> &str {
    domain.split('.').next().unwrap_or_default()
}

/// Percent-decodes a path value (`+` stays `+`).
pub fn decode_path(v: &str) -> String {
    percent_encoding::percent_decode_str(v)
        .decode_utf8_lossy()
        .into_owned()
}

/// Whether a 2.0 body travels as text: `text/*` and the JSON / XML / JavaScript types.
pub fn is_text(content_type: Option<&str>) -> bool {
    let Some(ct) = content_type else {
        return false;
    };
    let mime = media_type(ct);
    mime.starts_with("text/") || TEXT_CONTENT_TYPES.contains(&mime.as_str())
}

/// The media type of a `Content-Type` or `Accept` entry, lower-cased, without parameters.
pub(crate) fn media_type(v: &str) -> String {
    v.split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase()
}

/// `(body, isBase64Encoded)`: text bodies as UTF-8, everything else base64.
pub(crate) fn body_value(f: &RequestFacts) -> (Option<String>, bool) {
    use base64::Engine;
    if f.body.is_empty() {
        return (None, false);
    }
    match std::str::from_utf8(&f.body) {
        Ok(s) if is_text(f.content_type().as_deref()) => (Some(s.to_owned()), false),
        _ => (
            Some(base64::engine::general_purpose::STANDARD.encode(&f.body)),
            true,
        ),
    }
}

pub(crate) fn stage_variables(f: &RequestFacts) -> Option<J> {
    (!f.stage_variables.is_empty()).then(|| {
        J::Object(
            f.stage_variables
                .iter()
                .map(|(k, v)| (k.clone(), J::String(v.clone())))
                .collect(),
        )
    })
}

/// A header map as `(name, value)` pairs, in order; values that are not UTF-8 lossily.
pub fn header_pairs(headers: &http::HeaderMap) -> Vec<(String, String)> {
    headers.iter().map(pair).collect()
}

fn pair((k, v): (&http::HeaderName, &http::HeaderValue)) -> (String, String) {
    (
        k.as_str().to_owned(),
        String::from_utf8_lossy(v.as_bytes()).into_owned(),
    )
}

/// An upstream response's headers as pairs, without the hop-by-hop ones and the length
/// (the gateway frames its own response).
pub fn end_to_end_pairs(headers: &http::HeaderMap) -> Vec<(String, String)> {
    headers
        .iter()
        .filter(|(k, _)| {
            !matches!(
                k.as_str(),
                "connection" | "keep-alive" | "transfer-encoding" | "content-length"
            )
        })
        .map(pair)
        .collect()
}

/// `content-type` → `Content-Type`: HTTP/1 servers hand ledge lower-case names, and 1.0
/// events carry the client's spelling, which is nearly always this one.
pub fn canonical_header_name(name: &str) -> String {
    name.split('-')
        .map(|part| {
            let mut c = part.chars();
            match c.next() {
                Some(first) => first.to_ascii_uppercase().to_string() + c.as_str(),
                None => String::new(),
            }
        })
        .collect::<Vec<_>>()
        .join("-")
}

/// Which API a payload format 1.0 event is for: the two differ in a handful of keys
/// (reference §2.1 against §2.2).
#[derive(Debug, Clone, Copy)]
pub enum V1Flavor<'a> {
    /// HTTP API 1.0: `version: "1.0"`, `path` with the stage, the first value of a repeated
    /// query key, decoded path values, `authorizer` always present, text-or-base64 bodies.
    Http,
    /// REST (`AWS_PROXY`): no `version`, `path` without the stage and
    /// `requestContext.path` with it, the last value of a repeated query key, path values
    /// as sent, `authorizer` only with an authorizer, base64 only for binary media types.
    Rest(&'a RestContext),
}

/// What a REST event carries beyond [`RequestFacts`].
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RestContext {
    pub resource_id: String,
    /// `/pets/{id}`.
    pub resource_path: String,
    /// `Mc7UVioPPHcEKPA=`-style; `requestId` is a UUID in REST APIs.
    pub extended_request_id: String,
    pub deployment_id: String,
    /// `(value, id)` of the API key the request presented, when the method requires one.
    pub api_key: Option<(String, String)>,
    /// The request's `Content-Type` matches the API's `binaryMediaTypes`.
    pub binary_body: bool,
}

/// The payload format 1.0 event, in the given flavour.
pub fn v1_event(f: &RequestFacts, flavor: V1Flavor<'_>) -> J {
    let rest = match flavor {
        V1Flavor::Rest(r) => Some(r),
        V1Flavor::Http => None,
    };
    let mut headers = Map::new();
    let mut multi_headers: Map<String, J> = Map::new();
    for (k, v) in &f.headers {
        let name = canonical_header_name(k);
        headers.insert(name.clone(), J::String(v.clone()));
        match multi_headers.get_mut(&name) {
            Some(J::Array(a)) => a.push(J::String(v.clone())),
            _ => {
                multi_headers.insert(name, json!([v]));
            }
        }
    }
    let mut query = Map::new();
    let mut multi_query: Map<String, J> = Map::new();
    for (k, v) in f.query_pairs() {
        if rest.is_some() {
            // REST: the last value of a repeated key wins (AWS-verified, §2.1).
            query.insert(k.clone(), J::String(v.clone()));
        } else {
            // AWS's documented HTTP API 1.0 example keeps the first value.
            query
                .entry(k.clone())
                .or_insert_with(|| J::String(v.clone()));
        }
        match multi_query.get_mut(&k) {
            Some(J::Array(a)) => a.push(J::String(v)),
            _ => {
                multi_query.insert(k, json!([v]));
            }
        }
    }
    let authorizer = match (&f.authorizer, rest) {
        (Authorization::None, Some(_)) => None,
        (Authorization::None, None) => Some(json!({"claims": null, "scopes": null})),
        (Authorization::Jwt { claims, scopes }, _) => {
            Some(json!({"claims": claims, "scopes": scopes}))
        }
        (
            Authorization::Lambda {
                context,
                principal_id,
            },
            _,
        ) => {
            let mut m = Map::new();
            if let Some(p) = principal_id {
                m.insert("principalId".into(), J::String(p.clone()));
            }
            for (k, v) in context {
                // REST hands context values on as strings (`$context.authorizer.key`).
                let v = match (v, rest) {
                    (J::Number(_) | J::Bool(_), Some(_)) => J::String(v.to_string()),
                    _ => v.clone(),
                };
                m.insert(k.clone(), v);
            }
            m.insert("integrationLatency".into(), json!(0));
            Some(J::Object(m))
        }
    };
    let (body, b64) = match rest {
        Some(r) => rest_body_value(f, r.binary_body),
        None => body_value(f),
    };
    let nullable = |m: Map<String, J>| if m.is_empty() { J::Null } else { J::Object(m) };
    let mut identity = json!({
        "accessKey": null, "accountId": null, "caller": null,
        "cognitoAuthenticationProvider": null, "cognitoAuthenticationType": null,
        "cognitoIdentityId": null, "cognitoIdentityPoolId": null,
        "principalOrgId": null, "sourceIp": f.source_ip, "user": null,
        "userAgent": f.user_agent(), "userArn": null,
    });
    let mut rc = json!({
        "accountId": f.account_id,
        "apiId": f.api_id,
        "domainName": f.domain_name(),
        "domainPrefix": f.domain_prefix(),
        "extendedRequestId": f.request_id,
        "httpMethod": f.method,
        "path": f.raw_path,
        "protocol": "HTTP/1.1",
        "requestId": f.request_id,
        "requestTime": f.clf_time(),
        "requestTimeEpoch": f.time_epoch_ms,
        "resourceId": f.route_key,
        "resourcePath": f.resource_path(),
        "stage": f.stage,
    });
    if let Some(r) = rest {
        rc["extendedRequestId"] = json!(r.extended_request_id);
        rc["resourceId"] = json!(r.resource_id);
        rc["resourcePath"] = json!(r.resource_path);
        rc["deploymentId"] = json!(r.deployment_id);
        if let Some((key, id)) = &r.api_key {
            identity["apiKey"] = json!(key);
            identity["apiKeyId"] = json!(id);
        }
    }
    rc["identity"] = identity;
    if let Some(a) = authorizer {
        rc["authorizer"] = a;
    }
    let path_params = if f.path_params.is_empty() {
        J::Null
    } else {
        J::Object(
            f.path_params
                .iter()
                .map(|(k, v)| {
                    // REST passes path values as sent; HTTP APIs decode them.
                    let v = if rest.is_some() {
                        v.clone()
                    } else {
                        decode_path(v)
                    };
                    (k.clone(), J::String(v))
                })
                .collect(),
        )
    };
    let mut e = json!({
        "resource": rest.map(|r| r.resource_path.clone()).unwrap_or_else(|| f.resource_path()),
        "path": if rest.is_some() { &f.stage_path } else { &f.raw_path },
        "httpMethod": f.method,
        "headers": headers,
        "multiValueHeaders": multi_headers,
        "queryStringParameters": nullable(query),
        "multiValueQueryStringParameters": nullable(multi_query),
        "requestContext": rc,
        "pathParameters": path_params,
        "stageVariables": stage_variables(f).unwrap_or(J::Null),
        "body": body.map(J::String).unwrap_or(J::Null),
        "isBase64Encoded": b64,
    });
    if rest.is_none() {
        e["version"] = json!("1.0");
    }
    e
}

/// The HTTP API payload format 1.0 event.
pub fn v1(f: &RequestFacts) -> J {
    v1_event(f, V1Flavor::Http)
}

/// REST bodies: base64 only when the content type is one of the API's binary media types,
/// otherwise the bytes as (lossy) UTF-8 text.
fn rest_body_value(f: &RequestFacts, binary: bool) -> (Option<String>, bool) {
    use base64::Engine;
    if f.body.is_empty() {
        return (None, false);
    }
    if binary {
        (
            Some(base64::engine::general_purpose::STANDARD.encode(&f.body)),
            true,
        )
    } else {
        (Some(String::from_utf8_lossy(&f.body).into_owned()), false)
    }
}

/// Whether the stage is served under a path prefix.
pub fn is_named_stage(stage: &str) -> bool {
    stage != DEFAULT_STAGE
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    #[test]
    fn clf_time_per_second_and_across_seconds() {
        assert_eq!(clf_time(1_583_348_638_390), "04/Mar/2020:19:03:58 +0000");
        assert_eq!(clf_time(1_583_348_638_999), "04/Mar/2020:19:03:58 +0000");
        assert_eq!(clf_time(1_583_348_639_000), "04/Mar/2020:19:03:59 +0000");
        assert_eq!(clf_time(0), "01/Jan/1970:00:00:00 +0000");
    }

    /// The facts behind the golden events: `POST /dev/items/a%20b?x=1&x=2&y=a+b` with
    /// cookies, a duplicate header and a JSON body.
    pub(crate) fn sample() -> RequestFacts {
        RequestFacts {
            api_id: "MyApi".into(),
            account_id: "123456789012".into(),
            method: "POST".into(),
            raw_path: "/dev/items/a%20b".into(),
            stage_path: "/items/a%20b".into(),
            raw_query: "x=1&x=2&y=a+b".into(),
            headers: vec![
                ("host".into(), "127.0.0.1:3000".into()),
                ("user-agent".into(), "curl/8.0".into()),
                ("content-type".into(), "application/json".into()),
                ("cookie".into(), "a=1; b=2".into()),
                ("x-multi".into(), "one".into()),
                ("x-multi".into(), "two".into()),
                ("x-forwarded-for".into(), "127.0.0.1".into()),
                ("x-forwarded-port".into(), "3000".into()),
                ("x-forwarded-proto".into(), "http".into()),
            ],
            body: Bytes::from_static(br#"{"hello":"world"}"#),
            source_ip: "127.0.0.1".into(),
            request_id: "Mc7UVioPPHcEKPA=".into(),
            time_epoch_ms: 1_583_348_638_390,
            stage: "dev".into(),
            stage_variables: vec![("table".into(), "items-dev".into())],
            route_key: "POST /items/{id}".into(),
            path_params: vec![("id".into(), "a%20b".into())],
            authorizer: Authorization::None,
        }
    }

    #[test]
    fn canonical_names() {
        assert_eq!(canonical_header_name("content-type"), "Content-Type");
        assert_eq!(canonical_header_name("x-amzn-trace-id"), "X-Amzn-Trace-Id");
    }
}
