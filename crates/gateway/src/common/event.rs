//! Lambda proxy events, payload formats 2.0 and 1.0 (reference §2.2, §2.3), built from
//! one [`RequestFacts`]. Pure: the time and ids come in with the facts.

use bytes::Bytes;
use serde_json::{json, Map, Value as J};

use super::consts::{COOKIE, DEFAULT_STAGE, TEXT_CONTENT_TYPES};

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
        let d = self.domain_name();
        d.split('.').next().unwrap_or_default().to_owned()
    }

    /// CLF time: `12/Mar/2020:19:03:58 +0000`.
    pub fn clf_time(&self) -> String {
        chrono::DateTime::from_timestamp_millis(self.time_epoch_ms)
            .unwrap_or_default()
            .format("%d/%b/%Y:%H:%M:%S +0000")
            .to_string()
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
    let mime = ct
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    mime.starts_with("text/") || TEXT_CONTENT_TYPES.contains(&mime.as_str())
}

/// `(body, isBase64Encoded)`: text bodies as UTF-8, everything else base64.
fn body_value(f: &RequestFacts) -> (Option<String>, bool) {
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

fn stage_variables(f: &RequestFacts) -> Option<J> {
    (!f.stage_variables.is_empty()).then(|| {
        J::Object(
            f.stage_variables
                .iter()
                .map(|(k, v)| (k.clone(), J::String(v.clone())))
                .collect(),
        )
    })
}

/// The payload format 2.0 event.
pub fn v2(f: &RequestFacts) -> J {
    let mut headers = Map::new();
    let mut cookies: Vec<J> = Vec::new();
    for (k, v) in &f.headers {
        if k == COOKIE {
            cookies.extend(
                v.split(';')
                    .map(str::trim)
                    .filter(|c| !c.is_empty())
                    .map(|c| J::String(c.to_owned())),
            );
            continue;
        }
        match headers.get_mut(k) {
            Some(J::String(prev)) => {
                prev.push(',');
                prev.push_str(v);
            }
            _ => {
                headers.insert(k.clone(), J::String(v.clone()));
            }
        }
    }
    let mut query = Map::new();
    for (k, v) in f.query_pairs() {
        match query.get_mut(&k) {
            Some(J::String(prev)) => {
                prev.push(',');
                prev.push_str(&v);
            }
            _ => {
                query.insert(k, J::String(v));
            }
        }
    }
    let mut rc = json!({
        "accountId": f.account_id,
        "apiId": f.api_id,
        "domainName": f.domain_name(),
        "domainPrefix": f.domain_prefix(),
        "http": {
            "method": f.method,
            "path": f.raw_path,
            "protocol": "HTTP/1.1",
            "sourceIp": f.source_ip,
            "userAgent": f.user_agent(),
        },
        "requestId": f.request_id,
        "routeKey": f.route_key,
        "stage": f.stage,
        "time": f.clf_time(),
        "timeEpoch": f.time_epoch_ms,
    });
    match &f.authorizer {
        Authorization::None => {}
        Authorization::Jwt { claims, scopes } => {
            rc["authorizer"] = json!({"jwt": {"claims": claims, "scopes": scopes}});
        }
        Authorization::Lambda { context, .. } => {
            rc["authorizer"] = json!({ "lambda": context });
        }
    }
    let (body, b64) = body_value(f);
    let mut e = json!({
        "version": "2.0",
        "routeKey": f.route_key,
        "rawPath": f.raw_path,
        "rawQueryString": f.raw_query,
        "headers": headers,
        "requestContext": rc,
        "isBase64Encoded": b64,
    });
    if !cookies.is_empty() {
        e["cookies"] = J::Array(cookies);
    }
    if !query.is_empty() {
        e["queryStringParameters"] = J::Object(query);
    }
    if !f.path_params.is_empty() {
        e["pathParameters"] = J::Object(
            f.path_params
                .iter()
                .map(|(k, v)| (k.clone(), J::String(decode_path(v))))
                .collect(),
        );
    }
    if let Some(sv) = stage_variables(f) {
        e["stageVariables"] = sv;
    }
    if let Some(b) = body {
        e["body"] = J::String(b);
    }
    e
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

/// The payload format 1.0 event (HTTP API flavour: `version`, `path` with the stage).
pub fn v1(f: &RequestFacts) -> J {
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
        // AWS's documented 1.0 example keeps the first value of a repeated key.
        query
            .entry(k.clone())
            .or_insert_with(|| J::String(v.clone()));
        match multi_query.get_mut(&k) {
            Some(J::Array(a)) => a.push(J::String(v)),
            _ => {
                multi_query.insert(k, json!([v]));
            }
        }
    }
    let authorizer = match &f.authorizer {
        Authorization::None => json!({"claims": null, "scopes": null}),
        Authorization::Jwt { claims, scopes } => json!({"claims": claims, "scopes": scopes}),
        Authorization::Lambda {
            context,
            principal_id,
        } => {
            let mut m = context.clone();
            if let Some(p) = principal_id {
                m.insert("principalId".into(), J::String(p.clone()));
            }
            m.insert("integrationLatency".into(), json!(0));
            J::Object(m)
        }
    };
    let (body, b64) = body_value(f);
    let nullable = |m: Map<String, J>| if m.is_empty() { J::Null } else { J::Object(m) };
    json!({
        "version": "1.0",
        "resource": f.resource_path(),
        "path": f.raw_path,
        "httpMethod": f.method,
        "headers": headers,
        "multiValueHeaders": multi_headers,
        "queryStringParameters": nullable(query),
        "multiValueQueryStringParameters": nullable(multi_query),
        "requestContext": {
            "accountId": f.account_id,
            "apiId": f.api_id,
            "authorizer": authorizer,
            "domainName": f.domain_name(),
            "domainPrefix": f.domain_prefix(),
            "extendedRequestId": f.request_id,
            "httpMethod": f.method,
            "identity": {
                "accessKey": null, "accountId": null, "caller": null,
                "cognitoAuthenticationProvider": null, "cognitoAuthenticationType": null,
                "cognitoIdentityId": null, "cognitoIdentityPoolId": null,
                "principalOrgId": null, "sourceIp": f.source_ip, "user": null,
                "userAgent": f.user_agent(), "userArn": null,
            },
            "path": f.raw_path,
            "protocol": "HTTP/1.1",
            "requestId": f.request_id,
            "requestTime": f.clf_time(),
            "requestTimeEpoch": f.time_epoch_ms,
            "resourceId": f.route_key,
            "resourcePath": f.resource_path(),
            "stage": f.stage,
        },
        "pathParameters": if f.path_params.is_empty() { J::Null } else {
            J::Object(f.path_params.iter().map(|(k, v)| (k.clone(), J::String(decode_path(v)))).collect())
        },
        "stageVariables": stage_variables(f).unwrap_or(J::Null),
        "body": body.map(J::String).unwrap_or(J::Null),
        "isBase64Encoded": b64,
    })
}

/// Whether the stage is served under a path prefix.
pub fn is_named_stage(stage: &str) -> bool {
    stage != DEFAULT_STAGE
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

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
    fn text_or_base64_by_content_type() {
        for t in [
            "text/plain",
            "application/json; charset=utf-8",
            "application/xml",
            "TEXT/HTML",
        ] {
            assert!(is_text(Some(t)), "{t}");
        }
        for t in [
            "application/octet-stream",
            "application/x-www-form-urlencoded",
            "image/png",
        ] {
            assert!(!is_text(Some(t)), "{t}");
        }
        assert!(!is_text(None), "a missing content type is binary");
        let mut f = sample();
        f.headers.retain(|(k, _)| k != "content-type");
        let e = v2(&f);
        assert_eq!(e["isBase64Encoded"], true);
        assert_eq!(e["body"], "eyJoZWxsbyI6IndvcmxkIn0=");
    }

    #[test]
    fn v2_omits_what_is_empty_and_keeps_the_mandatory_keys() {
        let mut f = sample();
        f.raw_query.clear();
        f.headers.retain(|(k, _)| k != "cookie");
        f.body = Bytes::new();
        f.stage_variables.clear();
        f.path_params.clear();
        let e = v2(&f);
        for absent in [
            "queryStringParameters",
            "cookies",
            "body",
            "pathParameters",
            "stageVariables",
        ] {
            assert!(e.get(absent).is_none(), "{absent}");
        }
        assert_eq!(e["rawQueryString"], "");
        assert_eq!(e["isBase64Encoded"], false);
        assert!(e["requestContext"].get("authorizer").is_none());
    }

    #[test]
    fn canonical_names() {
        assert_eq!(canonical_header_name("content-type"), "Content-Type");
        assert_eq!(canonical_header_name("x-amzn-trace-id"), "X-Amzn-Trace-Id");
    }
}
