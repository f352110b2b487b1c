//! A Lambda proxy response → the HTTP response a client gets (reference §2.4). Pure.

use base64::Engine;
use bytes::Bytes;
use serde_json::Value as J;

use super::consts::{CONTENT_TYPE, JSON, SET_COOKIE};
use super::spec::PayloadFormat;

/// What the client gets, before gateway headers (`apigw-requestid`, CORS) are added.
#[derive(Debug, Clone, PartialEq)]
pub struct ProxyResponse {
    pub status: u16,
    /// Names as the function wrote them; repeated names are repeated lines.
    pub headers: Vec<(String, String)>,
    pub body: Bytes,
}

/// Why a function's answer is not a response; the client gets 500.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Malformed(pub String);

/// Reads the function's payload per the integration's payload format.
pub fn from_lambda(format: PayloadFormat, payload: &[u8]) -> Result<ProxyResponse, Malformed> {
    let v: J = serde_json::from_slice(payload)
        .map_err(|e| Malformed(format!("the function's response is not JSON: {e}")))?;
    match format {
        PayloadFormat::V2 => v2(v, payload),
        PayloadFormat::V1 => v1(v),
    }
}

fn v2(v: J, raw: &[u8]) -> Result<ProxyResponse, Malformed> {
    let is_envelope = v.as_object().is_some_and(|o| o.contains_key("statusCode"));
    if !is_envelope {
        // Inference: any JSON without statusCode is the body itself, status 200, JSON.
        let body = match v {
            J::String(s) => Bytes::from(s),
            _ => Bytes::copy_from_slice(raw.trim_ascii()),
        };
        return Ok(ProxyResponse {
            status: 200,
            headers: vec![(CONTENT_TYPE.to_owned(), JSON.to_owned())],
            body,
        });
    }
    let o = v.as_object().expect("invariant: checked above");
    let status = status_code(o.get("statusCode"))?;
    let mut headers = headers_of(o.get("headers"))?;
    if let Some(mv) = o.get("multiValueHeaders") {
        headers.extend(multi_headers_of(mv)?);
    }
    match o.get("cookies") {
        None | Some(J::Null) => {}
        Some(J::Array(items)) => {
            for c in items {
                let c = c
                    .as_str()
                    .ok_or_else(|| Malformed("cookies must be strings".into()))?;
                headers.push((SET_COOKIE.to_owned(), c.to_owned()));
            }
        }
        Some(_) => return Err(Malformed("cookies must be a list".into())),
    }
    let body = body_of(o.get("body"), base64_flag(o.get("isBase64Encoded"))?)?;
    if !headers
        .iter()
        .any(|(k, _)| k.eq_ignore_ascii_case(CONTENT_TYPE))
    {
        headers.push((CONTENT_TYPE.to_owned(), JSON.to_owned()));
    }
    Ok(ProxyResponse {
        status,
        headers,
        body,
    })
}

fn v1(v: J) -> Result<ProxyResponse, Malformed> {
    let o = v
        .as_object()
        .ok_or_else(|| Malformed("a 1.0 response must be an object".into()))?;
    if !o.contains_key("statusCode") {
        return Err(Malformed("a 1.0 response must have statusCode".into()));
    }
    let status = status_code(o.get("statusCode"))?;
    let mut headers = Vec::new();
    if let Some(mv) = o.get("multiValueHeaders") {
        headers.extend(multi_headers_of(mv)?);
    }
    for (k, v) in headers_of(o.get("headers"))? {
        if !headers
            .iter()
            .any(|(hk, hv)| hk.eq_ignore_ascii_case(&k) && *hv == v)
        {
            headers.push((k, v));
        }
    }
    let body = body_of(o.get("body"), base64_flag(o.get("isBase64Encoded"))?)?;
    if !headers
        .iter()
        .any(|(k, _)| k.eq_ignore_ascii_case(CONTENT_TYPE))
    {
        headers.push((CONTENT_TYPE.to_owned(), JSON.to_owned()));
    }
    Ok(ProxyResponse {
        status,
        headers,
        body,
    })
}

fn status_code(v: Option<&J>) -> Result<u16, Malformed> {
    let n = match v {
        Some(J::Number(n)) => n.as_u64(),
        Some(J::String(s)) => s.trim().parse().ok(),
        _ => None,
    };
    n.and_then(|n| u16::try_from(n).ok())
        .filter(|n| (100..=599).contains(n))
        .ok_or_else(|| Malformed(format!("statusCode {v:?} is not an HTTP status")))
}

fn scalar(v: &J) -> Option<String> {
    match v {
        J::String(s) => Some(s.clone()),
        J::Number(n) => Some(n.to_string()),
        J::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

fn headers_of(v: Option<&J>) -> Result<Vec<(String, String)>, Malformed> {
    match v {
        None | Some(J::Null) => Ok(Vec::new()),
        Some(J::Object(m)) => m
            .iter()
            .map(|(k, v)| {
                scalar(v)
                    .map(|s| (k.clone(), s))
                    .ok_or_else(|| Malformed(format!("header {k} is not text")))
            })
            .collect(),
        Some(_) => Err(Malformed("headers must be an object".into())),
    }
}

fn multi_headers_of(v: &J) -> Result<Vec<(String, String)>, Malformed> {
    match v {
        J::Null => Ok(Vec::new()),
        J::Object(m) => {
            let mut out = Vec::new();
            for (k, vals) in m {
                let J::Array(vals) = vals else {
                    return Err(Malformed(format!("multiValueHeaders.{k} must be a list")));
                };
                for v in vals {
                    out.push((
                        k.clone(),
                        scalar(v).ok_or_else(|| Malformed(format!("header {k} is not text")))?,
                    ));
                }
            }
            Ok(out)
        }
        _ => Err(Malformed("multiValueHeaders must be an object".into())),
    }
}

fn base64_flag(v: Option<&J>) -> Result<bool, Malformed> {
    match v {
        None | Some(J::Null) => Ok(false),
        Some(J::Bool(b)) => Ok(*b),
        Some(_) => Err(Malformed("isBase64Encoded must be a boolean".into())),
    }
}

fn body_of(v: Option<&J>, b64: bool) -> Result<Bytes, Malformed> {
    let text = match v {
        None | Some(J::Null) => return Ok(Bytes::new()),
        Some(J::String(s)) => s.clone(),
        // A non-string body is sent as its JSON text.
        Some(other) => other.to_string(),
    };
    if b64 {
        base64::engine::general_purpose::STANDARD
            .decode(text.trim())
            .map(Bytes::from)
            .map_err(|e| Malformed(format!("body is not base64: {e}")))
    } else {
        Ok(Bytes::from(text))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v2r(s: &str) -> Result<ProxyResponse, Malformed> {
        from_lambda(PayloadFormat::V2, s.as_bytes())
    }
    fn v1r(s: &str) -> Result<ProxyResponse, Malformed> {
        from_lambda(PayloadFormat::V1, s.as_bytes())
    }
    fn header<'a>(r: &'a ProxyResponse, name: &str) -> Vec<&'a str> {
        r.headers
            .iter()
            .filter(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
            .collect()
    }

    #[test]
    fn v2_infers_a_200_json_body_without_status_code() {
        let r = v2r(r#""Hello from Lambda!""#).expect("ok");
        assert_eq!((r.status, &r.body[..]), (200, &b"Hello from Lambda!"[..]));
        assert_eq!(header(&r, "content-type"), ["application/json"]);
        let r = v2r(r#"{"message": "Hello from Lambda!"}"#).expect("ok");
        assert_eq!(&r.body[..], br#"{"message": "Hello from Lambda!"}"#);
        // headers/body without statusCode are content, not an envelope.
        let r = v2r(r#"{"headers": {"x": "1"}, "body": "b"}"#).expect("ok");
        assert_eq!(&r.body[..], br#"{"headers": {"x": "1"}, "body": "b"}"#);
        assert!(header(&r, "x").is_empty());
        let r = v2r("[1, 2]").expect("ok");
        assert_eq!(&r.body[..], b"[1, 2]");
    }

    #[test]
    fn v2_envelope_cookies_base64_and_headers() {
        let r = v2r(
            r#"{"statusCode": 201, "headers": {"content-type": "text/plain", "x-n": 5, "x-b": true},
                "cookies": ["a=1; Path=/", "b=2"], "body": "aGk=", "isBase64Encoded": true}"#,
        )
        .expect("ok");
        assert_eq!(r.status, 201);
        assert_eq!(&r.body[..], b"hi");
        assert_eq!(header(&r, "set-cookie"), ["a=1; Path=/", "b=2"]);
        assert_eq!(header(&r, "x-n"), ["5"]);
        assert_eq!(header(&r, "x-b"), ["true"]);
        assert_eq!(header(&r, "content-type"), ["text/plain"]);
        let r = v2r(r#"{"statusCode": "204"}"#).expect("numeric strings are accepted");
        assert_eq!((r.status, r.body.len()), (204, 0));
    }

    #[test]
    fn malformed_responses() {
        for bad in [
            "not json",
            r#"{"statusCode": "abc"}"#,
            r#"{"statusCode": 99}"#,
            r#"{"statusCode": 200, "headers": []}"#,
            r#"{"statusCode": 200, "headers": {"a": {"b": 1}}}"#,
            r#"{"statusCode": 200, "cookies": "a=1"}"#,
            r#"{"statusCode": 200, "body": "!!", "isBase64Encoded": true}"#,
            r#"{"statusCode": 200, "isBase64Encoded": "yes"}"#,
        ] {
            assert!(v2r(bad).is_err(), "{bad}");
        }
        for bad in [
            r#""justAString""#,
            r#"{}"#,
            r#"{"headers": {"a": "b"}}"#,
            r#"{"statusCode": 200, "multiValueHeaders": {"x": "v"}}"#,
        ] {
            assert!(v1r(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn v1_merges_multi_value_headers_first() {
        let r = v1r(
            r#"{"statusCode": 200, "headers": {"x": "solo", "set-cookie": "c=3"},
                "multiValueHeaders": {"x": ["m1", "m2"], "set-cookie": ["c=1", "c=2"]}, "body": "ok"}"#,
        )
        .expect("ok");
        assert_eq!(header(&r, "x"), ["m1", "m2", "solo"]);
        assert_eq!(header(&r, "set-cookie"), ["c=1", "c=2", "c=3"]);
        assert_eq!(header(&r, "content-type"), ["application/json"]);
        let r = v1r(r#"{"statusCode": 200, "headers": null}"#).expect("null headers are fine");
        assert_eq!(r.status, 200);
    }
}
