//! HTTP API Lambda proxy events: payload format 2.0 (reference §2.3) here, 1.0 (§2.2) and
//! the request facts both are built from in [`crate::common::event`], shared with REST APIs.

use serde_json::{json, Map, Value as J};

use crate::common::event::{body_value, stage_variables};
pub use crate::common::event::{
    canonical_header_name, decode_path, is_named_stage, is_text, v1, Authorization, RequestFacts,
};

use super::consts::COOKIE;

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
