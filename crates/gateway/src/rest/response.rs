//! A Lambda proxy response → what a REST API client gets (reference §2.4, the AWS-recorded
//! validation table). Pure.
//!
//! REST is stricter than HTTP APIs about keys and laxer about `statusCode`: an unknown key,
//! a non-object, `{}`, a non-numeric `statusCode` or a `multiValueHeaders` value that is not
//! a list is a 502; a missing `statusCode` is a 200. `multiValueHeaders` and `headers` merge
//! into one comma-joined header per name (multi values first, the first spelling wins). A
//! base64 body is decoded only when the request's `Accept` is one of the binary media types.

use base64::Engine;
use bytes::Bytes;
use serde_json::Value as J;

use super::consts::JSON;
use crate::http::response::ProxyResponse;

/// Why a function's answer is not a proxy response; the client gets 502.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Malformed(pub String);

const ALLOWED: &[&str] = &[
    "statusCode",
    "body",
    "headers",
    "multiValueHeaders",
    "isBase64Encoded",
    // SAM CLI found by trial that REST also takes this spelling.
    "base64Encoded",
];

/// Reads a function's payload. `binary_accept`: the request's `Accept` matches the API's
/// binary media types, so a base64 body is decoded to bytes.
pub fn from_lambda(payload: &[u8], binary_accept: bool) -> Result<ProxyResponse, Malformed> {
    let v: J = serde_json::from_slice(payload)
        .map_err(|e| Malformed(format!("the function's response is not JSON: {e}")))?;
    let o = v
        .as_object()
        .ok_or_else(|| Malformed("the response must be a JSON object".into()))?;
    if o.is_empty() {
        return Err(Malformed("the response is an empty object".into()));
    }
    if let Some(k) = o.keys().find(|k| !ALLOWED.contains(&k.as_str())) {
        return Err(Malformed(format!("unknown key {k:?} in the response")));
    }
    let status = match o.get("statusCode") {
        None | Some(J::Null) => 200,
        Some(v) => status_code(v)?,
    };
    let mut merged: Vec<(String, Vec<String>)> = Vec::new();
    let mut add = |name: &str, value: String| match merged
        .iter_mut()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
    {
        Some((_, values)) => values.push(value),
        None => merged.push((name.to_owned(), vec![value])),
    };
    match o.get("multiValueHeaders") {
        None | Some(J::Null) => {}
        Some(J::Object(m)) => {
            for (k, vals) in m {
                let J::Array(vals) = vals else {
                    return Err(Malformed(format!("multiValueHeaders.{k} must be a list")));
                };
                for v in vals {
                    add(k, scalar(v).unwrap_or_default());
                }
            }
        }
        Some(_) => return Err(Malformed("multiValueHeaders must be an object".into())),
    }
    match o.get("headers") {
        None | Some(J::Null) => {}
        Some(J::Object(m)) => {
            for (k, v) in m {
                add(k, scalar(v).unwrap_or_default());
            }
        }
        Some(_) => return Err(Malformed("headers must be an object".into())),
    }
    let mut headers: Vec<(String, String)> =
        merged.into_iter().map(|(k, v)| (k, v.join(", "))).collect();
    if !headers
        .iter()
        .any(|(k, _)| k.eq_ignore_ascii_case("content-type"))
    {
        headers.push(("Content-Type".to_owned(), JSON.to_owned()));
    }
    let b64 = match o.get("base64Encoded").or_else(|| o.get("isBase64Encoded")) {
        None | Some(J::Null) => false,
        Some(J::Bool(b)) => *b,
        Some(J::String(s)) => s.eq_ignore_ascii_case("true"),
        Some(_) => return Err(Malformed("isBase64Encoded must be a boolean".into())),
    };
    let body = match o.get("body") {
        None | Some(J::Null) => Bytes::new(),
        Some(J::String(s)) => {
            if b64 && binary_accept {
                base64::engine::general_purpose::STANDARD
                    .decode(s.trim())
                    .map(Bytes::from)
                    .map_err(|e| Malformed(format!("body is not base64: {e}")))?
            } else {
                Bytes::from(s.clone())
            }
        }
        Some(other) => Bytes::from(other.to_string()),
    };
    Ok(ProxyResponse {
        status,
        headers,
        body,
    })
}

fn status_code(v: &J) -> Result<u16, Malformed> {
    let n = match v {
        J::Number(n) => n.as_u64(),
        J::String(s) => s.trim().parse().ok(),
        _ => None,
    };
    n.and_then(|n| u16::try_from(n).ok())
        .filter(|n| (100..=599).contains(n))
        .ok_or_else(|| Malformed(format!("statusCode {v} is not an HTTP status")))
}

/// Header values: strings as they are, other scalars as their JSON text.
fn scalar(v: &J) -> Option<String> {
    match v {
        J::String(s) => Some(s.clone()),
        J::Null => None,
        other => Some(other.to_string()),
    }
}

/// Whether `content_type` matches one of `types` (`image/png`, `image/*`, `*/*`).
pub fn matches_media_type(types: &[String], content_type: Option<&str>) -> bool {
    let Some(ct) = content_type else {
        return false;
    };
    let mime = crate::common::event::media_type(ct);
    let (ty, sub) = mime.split_once('/').unwrap_or((&mime, ""));
    types.iter().any(|t| {
        let t = t.trim().to_ascii_lowercase();
        let (tt, ts) = t.split_once('/').unwrap_or((&t, ""));
        (tt == "*" || tt == ty) && (ts == "*" || ts == sub)
    })
}

/// Whether any media range of an `Accept` header matches the binary media types.
pub fn accept_matches(types: &[String], accept: Option<&str>) -> bool {
    accept.is_some_and(|a| {
        a.split(',')
            .any(|range| matches_media_type(types, Some(range)))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(s: &str) -> Result<ProxyResponse, Malformed> {
        from_lambda(s.as_bytes(), false)
    }
    fn header<'a>(r: &'a ProxyResponse, name: &str) -> Vec<(&'a str, &'a str)> {
        r.headers
            .iter()
            .filter(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect()
    }

    /// The AWS-recorded table of reference §2.4, row by row.
    #[test]
    fn the_recorded_validation_table() {
        let ok = r(r#"{"statusCode":200}"#).expect("ok");
        assert_eq!((ok.status, ok.body.len()), (200, 0));
        assert_eq!(
            header(&ok, "content-type"),
            [("Content-Type", "application/json")]
        );
        let ok = r(r#"{"statusCode":200,"headers":{"test-header":"value","header-bool":true}}"#)
            .expect("ok");
        assert_eq!(header(&ok, "header-bool"), [("header-bool", "true")]);
        assert!(r(r#"{"statusCode":200,"headers":null}"#).is_ok());
        for bad in [
            r#"{"statusCode":200,"wrongValue":"value"}"#,
            "{}",
            r#""justAString""#,
            r#"{"statusCode":"test"}"#,
            r#"{"statusCode":200,"multiValueHeaders":{"test-multi":"value1"}}"#,
            "not json",
        ] {
            assert!(r(bad).is_err(), "{bad}");
        }
        assert_eq!(r(r#"{"statusCode":"201"}"#).expect("ok").status, 201);
        assert_eq!(
            r(r#"{"headers":{"test-header":"value"}}"#)
                .expect("ok")
                .status,
            200
        );
        let ok = r(r#"{"statusCode":200,"multiValueHeaders":{"test-multi":["value1","value2"]}}"#)
            .expect("ok");
        assert_eq!(
            header(&ok, "test-multi"),
            [("test-multi", "value1, value2")]
        );
        let ok = r(r#"{"statusCode":200,"multiValueHeaders":{"test-multi":["value-multi"]},"headers":{"test-multi":"value-solo"}}"#).expect("ok");
        assert_eq!(
            header(&ok, "test-multi"),
            [("test-multi", "value-multi, value-solo")]
        );
        let ok = r(r#"{"statusCode":200,"multiValueHeaders":{"tesT-Multi":["value-multi"]},"headers":{"test-multi":"value-solo"}}"#).expect("ok");
        assert_eq!(
            header(&ok, "test-multi"),
            [("tesT-Multi", "value-multi, value-solo")]
        );
        let ok = r(r#"{"statusCode":200,"body":"aGk=","isBase64Encoded":true}"#).expect("ok");
        assert_eq!(
            &ok.body[..],
            b"aGk=",
            "base64 text as is without binary Accept"
        );
    }

    #[test]
    fn base64_decoded_for_binary_accept_and_the_sam_spelling() {
        let ok = from_lambda(
            br#"{"statusCode":200,"body":"aGk=","isBase64Encoded":true}"#,
            true,
        )
        .expect("ok");
        assert_eq!(&ok.body[..], b"hi");
        let ok = from_lambda(br#"{"body":"aGk=","base64Encoded":true}"#, true).expect("ok");
        assert_eq!(&ok.body[..], b"hi");
        assert!(
            from_lambda(br#"{"body":"!!","isBase64Encoded":true}"#, true).is_err(),
            "bad base64"
        );
    }

    #[test]
    fn media_types() {
        let types = vec!["image/*".to_owned(), "application/octet-stream".to_owned()];
        assert!(matches_media_type(&types, Some("image/png")));
        assert!(matches_media_type(
            &types,
            Some("application/octet-stream; x=1")
        ));
        assert!(!matches_media_type(&types, Some("application/json")));
        assert!(!matches_media_type(&types, None));
        assert!(matches_media_type(&["*/*".to_owned()], Some("text/plain")));
        assert!(accept_matches(&types, Some("text/html, image/webp;q=0.8")));
        assert!(!accept_matches(&types, Some("text/html")));
    }
}
