//! HTTP API Lambda proxy events: payload format 2.0 (reference §2.3) here, 1.0 (§2.2) and
//! the request facts both are built from in [`crate::common::event`], shared with REST APIs.

use std::borrow::Cow;

use serde::ser::{Serialize, SerializeMap, Serializer};
use serde_json::{json, Value as J};

use crate::common::event::{body_value, domain_prefix_of, stage_variables};
pub use crate::common::event::{
    canonical_header_name, decode_path, is_named_stage, is_text, v1, Authorization, RequestFacts,
};

use super::consts::COOKIE;

/// The payload format 2.0 event.
pub fn v2(f: &RequestFacts) -> J {
    serde_json::to_value(V2(f)).unwrap_or(J::Null)
}

/// The payload format 2.0 event as the JSON bytes the function receives, written straight
/// from the facts: no intermediate `Value`, whose every key is an allocation.
pub fn v2_bytes(f: &RequestFacts) -> Vec<u8> {
    serde_json::to_vec(&V2(f)).unwrap_or_default()
}

/// Serialises the 2.0 event in the order of AWS's own examples.
struct V2<'a>(&'a RequestFacts);

impl Serialize for V2<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let f = self.0;
        // Duplicate headers comma-joined; `cookie` split into `cookies`.
        let mut headers: Vec<(&str, Cow<'_, str>)> = Vec::with_capacity(f.headers.len());
        let mut cookies: Vec<&str> = Vec::new();
        for (k, v) in &f.headers {
            if k == COOKIE {
                cookies.extend(v.split(';').map(str::trim).filter(|c| !c.is_empty()));
                continue;
            }
            join_into(&mut headers, k, v);
        }
        let pairs = f.query_pairs();
        let mut query: Vec<(&str, Cow<'_, str>)> = Vec::with_capacity(pairs.len());
        for (k, v) in &pairs {
            join_into(&mut query, k, v);
        }
        let (body, b64) = body_value(f);
        let mut m = s.serialize_map(None)?;
        m.serialize_entry("version", "2.0")?;
        m.serialize_entry("routeKey", &f.route_key)?;
        m.serialize_entry("rawPath", &f.raw_path)?;
        m.serialize_entry("rawQueryString", &f.raw_query)?;
        if !cookies.is_empty() {
            m.serialize_entry("cookies", &cookies)?;
        }
        m.serialize_entry("headers", &Pairs(&headers))?;
        if !query.is_empty() {
            m.serialize_entry("queryStringParameters", &Pairs(&query))?;
        }
        m.serialize_entry("requestContext", &Context(f))?;
        if let Some(b) = &body {
            m.serialize_entry("body", b)?;
        }
        if !f.path_params.is_empty() {
            let decoded: Vec<(&str, Cow<'_, str>)> = f
                .path_params
                .iter()
                .map(|(k, v)| (k.as_str(), Cow::Owned(decode_path(v))))
                .collect();
            m.serialize_entry("pathParameters", &Pairs(&decoded))?;
        }
        m.serialize_entry("isBase64Encoded", &b64)?;
        if let Some(vars) = stage_variables(f) {
            m.serialize_entry("stageVariables", &vars)?;
        }
        m.end()
    }
}

/// Adds `(k, v)`, or appends `,v` to an earlier value of `k`.
fn join_into<'a>(out: &mut Vec<(&'a str, Cow<'a, str>)>, k: &'a str, v: &'a str) {
    match out.iter_mut().find(|(n, _)| *n == k) {
        Some((_, prev)) => {
            let p = prev.to_mut();
            p.push(',');
            p.push_str(v);
        }
        None => out.push((k, Cow::Borrowed(v))),
    }
}

/// A JSON object of string values, in order.
struct Pairs<'a, 'b>(&'b [(&'a str, Cow<'a, str>)]);

impl Serialize for Pairs<'_, '_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(self.0.len()))?;
        for (k, v) in self.0 {
            m.serialize_entry(k, v.as_ref())?;
        }
        m.end()
    }
}

struct Context<'a>(&'a RequestFacts);

impl Serialize for Context<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let f = self.0;
        let domain = f.domain_name();
        let mut m = s.serialize_map(None)?;
        m.serialize_entry("accountId", &f.account_id)?;
        m.serialize_entry("apiId", &f.api_id)?;
        match &f.authorizer {
            Authorization::None => {}
            Authorization::Jwt { claims, scopes } => m.serialize_entry(
                "authorizer",
                &json!({"jwt": {"claims": claims, "scopes": scopes}}),
            )?,
            Authorization::Lambda { context, .. } => {
                m.serialize_entry("authorizer", &json!({ "lambda": context }))?
            }
        }
        m.serialize_entry("domainName", &domain)?;
        m.serialize_entry("domainPrefix", domain_prefix_of(&domain))?;
        m.serialize_entry(
            "http",
            &Http {
                method: &f.method,
                path: &f.raw_path,
                protocol: "HTTP/1.1",
                source_ip: &f.source_ip,
                user_agent: f.user_agent(),
            },
        )?;
        m.serialize_entry("requestId", &f.request_id)?;
        m.serialize_entry("routeKey", &f.route_key)?;
        m.serialize_entry("stage", &f.stage)?;
        m.serialize_entry("time", &f.clf_time())?;
        m.serialize_entry("timeEpoch", &f.time_epoch_ms)?;
        m.end()
    }
}

#[derive(serde::Serialize)]
#[serde(rename_all = "camelCase")]
struct Http<'a> {
    method: &'a str,
    path: &'a str,
    protocol: &'a str,
    source_ip: &'a str,
    user_agent: String,
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use bytes::Bytes;

    pub(crate) use crate::common::event::tests::sample;

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
}
