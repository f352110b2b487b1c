//! What a function hands back (§4.4) and CloudFront's checks on it (§4.5): a request to
//! continue with, or a response (generated in a request event, updated in a response
//! event). Every failed check is a 502 with the reason CloudFront's error page gives.

use base64::Engine;
use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue};
use serde_json::Value as J;

use super::consts::*;
use super::event::exposed;
use super::Failure;
use crate::spec::TriggerPoint;

/// A request to continue with.
#[derive(Debug)]
pub(crate) struct RequestOut {
    pub(crate) headers: HeaderMap,
    pub(crate) querystring: String,
    pub(crate) uri: String,
    /// The new body when `body.action` is `replace`.
    pub(crate) body: Option<Bytes>,
    /// `request.origin` as returned (origin-request only).
    pub(crate) origin: Option<J>,
}

/// A response: generated (request events) or updated (response events).
#[derive(Debug)]
pub(crate) struct ResponseOut {
    pub(crate) status: u16,
    pub(crate) headers: HeaderMap,
    /// `None`: the function left the body alone (response events pass the origin's on).
    pub(crate) body: Option<Bytes>,
}

#[derive(Debug)]
pub(crate) enum Output {
    Request(RequestOut),
    Response(ResponseOut),
}

/// Limits on what a function may return.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Limits {
    /// Generated or updated response, headers + body.
    pub(crate) response_bytes: usize,
    /// A replacement request body, `text` / `base64`.
    pub(crate) body_text_bytes: usize,
    pub(crate) body_base64_bytes: usize,
}

fn validation(detail: &str) -> Failure {
    Failure::validation(format!("{REASON_VALIDATION}: {detail}"))
}

const TOO_BIG: &str = "The body is not a string, is not an object, or exceeds the maximum size.";

/// Parses and checks a function's answer. `input` is the header map the function was shown
/// (before filtering); `status` the response status it was shown (response events).
pub(crate) fn parse(
    at: TriggerPoint,
    payload: &[u8],
    input: &HeaderMap,
    status: Option<u16>,
    limits: Limits,
) -> Result<Output, Failure> {
    let v: J = serde_json::from_slice(payload)
        .map_err(|_| Failure::validation(REASON_INVALID_JSON.to_owned()))?;
    let J::Object(obj) = &v else {
        return Err(Failure::validation(REASON_INVALID_JSON.to_owned()));
    };
    let request_event = matches!(
        at,
        TriggerPoint::ViewerRequest | TriggerPoint::OriginRequest
    );
    if request_event && !obj.contains_key("status") {
        return request(at, obj, input, limits).map(Output::Request);
    }
    // A generated response owes nothing to the request's headers.
    let none = HeaderMap::new();
    let input = if request_event { &none } else { input };
    response(at, obj, input, status, limits).map(Output::Response)
}

fn request(
    at: TriggerPoint,
    obj: &serde_json::Map<String, J>,
    input: &HeaderMap,
    limits: Limits,
) -> Result<RequestOut, Failure> {
    let uri = match obj.get("uri") {
        Some(J::String(u)) if u.starts_with('/') => u.clone(),
        _ => {
            return Err(validation(
                "The URI must be a string that starts with \"/\".",
            ))
        }
    };
    let querystring = match obj.get("querystring") {
        None | Some(J::Null) => String::new(),
        Some(J::String(q)) => q.clone(),
        Some(_) => return Err(validation("The query string must be a string.")),
    };
    if querystring
        .chars()
        .any(|c| c == ' ' || c == '#' || c.is_control())
    {
        return Err(validation(
            "The query string contains a space, a control character or \"#\".",
        ));
    }
    if uri.len() + querystring.len() >= 8192 {
        return Err(validation(
            "The URI and query string are longer than 8,192 characters.",
        ));
    }
    let headers = headers(at, obj.get("headers"), input)?;
    let body = match obj.get("body") {
        Some(J::Object(b)) if b.get("action").and_then(J::as_str) == Some("replace") => {
            let data = b.get("data").and_then(J::as_str).unwrap_or("");
            let encoding = b.get("encoding").and_then(J::as_str).unwrap_or("base64");
            Some(match encoding {
                "text" => {
                    if data.len() > limits.body_text_bytes {
                        return Err(validation(TOO_BIG));
                    }
                    Bytes::copy_from_slice(data.as_bytes())
                }
                "base64" => {
                    if data.len() > limits.body_base64_bytes {
                        return Err(validation(TOO_BIG));
                    }
                    Bytes::from(
                        base64::engine::general_purpose::STANDARD
                            .decode(data)
                            .map_err(|_| validation("The body is not valid base64."))?,
                    )
                }
                _ => return Err(validation("The body encoding must be text or base64.")),
            })
        }
        _ => None,
    };
    let origin = match at {
        TriggerPoint::OriginRequest => obj.get("origin").cloned(),
        _ => None,
    };
    Ok(RequestOut {
        headers,
        querystring,
        uri,
        body,
        origin,
    })
}

fn response(
    at: TriggerPoint,
    obj: &serde_json::Map<String, J>,
    input: &HeaderMap,
    shown_status: Option<u16>,
    limits: Limits,
) -> Result<ResponseOut, Failure> {
    let parsed = match obj.get("status") {
        Some(J::String(s)) => s.trim().parse::<u16>().ok(),
        Some(J::Number(n)) => n.as_u64().and_then(|n| u16::try_from(n).ok()),
        None | Some(J::Null) => shown_status,
        Some(_) => None,
    };
    let status = match (at, shown_status) {
        // A viewer-response function cannot change the status code.
        (TriggerPoint::ViewerResponse, Some(s)) => s,
        _ => parsed
            .filter(|s| (200..=599).contains(s))
            .ok_or_else(|| validation("The status code is not valid (200-599)."))?,
    };
    let headers = headers(at, obj.get("headers"), input)?;
    let body = match obj.get("body") {
        None | Some(J::Null) => None,
        Some(J::String(s)) => {
            match obj
                .get("bodyEncoding")
                .and_then(J::as_str)
                .unwrap_or("text")
            {
                "text" => Some(Bytes::copy_from_slice(s.as_bytes())),
                "base64" => Some(Bytes::from(
                    base64::engine::general_purpose::STANDARD
                        .decode(s)
                        .map_err(|_| validation("The body is not valid base64."))?,
                )),
                _ => return Err(validation("The body encoding must be text or base64.")),
            }
        }
        Some(_) => return Err(validation(TOO_BIG)),
    };
    if at == TriggerPoint::ViewerRequest
        && status == 204
        && body.as_ref().is_some_and(|b| !b.is_empty())
    {
        return Err(validation("A 204 response cannot have a body."));
    }
    let raw_body = obj.get("body").and_then(J::as_str).map_or(0, str::len);
    let header_bytes: usize = headers
        .iter()
        .map(|(n, v)| n.as_str().len() + v.len() + 4)
        .sum();
    if raw_body + header_bytes > limits.response_bytes {
        return Err(validation(TOO_BIG));
    }
    Ok(ResponseOut {
        status,
        headers,
        body,
    })
}

/// `headers` → a header map, checked against the disallowed and read-only lists; headers
/// the function was never shown are kept from `input`.
fn headers(at: TriggerPoint, v: Option<&J>, input: &HeaderMap) -> Result<HeaderMap, Failure> {
    let mut out = HeaderMap::new();
    let obj = match v {
        None | Some(J::Null) => None,
        Some(J::Object(o)) => Some(o),
        Some(_) => {
            return Err(Failure::validation(format!(
                "{REASON_VALIDATION}: The headers must be an object."
            )))
        }
    };
    for (name, entries) in obj.into_iter().flatten() {
        let lower = name.to_ascii_lowercase();
        let J::Array(entries) = entries else {
            return Err(Failure::validation(REASON_HEADERS_ARRAY.to_owned()));
        };
        let hn = HeaderName::from_bytes(lower.as_bytes())
            .map_err(|_| validation(&format!("The header name {name:?} is not valid.")))?;
        if disallowed(&lower) {
            return Err(validation(&format!(
                "The function tried to add, delete, or change a disallowed header ({}).",
                super::event::title_case(&lower)
            )));
        }
        if at == TriggerPoint::ViewerRequest
            && added_after_viewer_request(&lower)
            && !input.contains_key(&hn)
        {
            return Err(validation(&format!(
                "The function tried to add a header that CloudFront adds after the viewer request ({}).",
                super::event::title_case(&lower)
            )));
        }
        for e in entries {
            let value = e.get("value").and_then(J::as_str).ok_or_else(|| {
                Failure::validation(
                    "The Lambda function returned an invalid entry in the headers object: Each header entry must have a value field of type string.".to_owned(),
                )
            })?;
            if let Some(key) = e.get("key") {
                let ok = key.as_str().is_some_and(|k| k.eq_ignore_ascii_case(name));
                if !ok {
                    return Err(Failure::validation(format!("The Lambda function returned an invalid entry in the headers object: The header key {key} does not match the header name {name:?}.")));
                }
            }
            let hv = HeaderValue::from_str(value).map_err(|_| {
                validation(&format!("The value of the header {name:?} is not valid."))
            })?;
            out.append(hn.clone(), hv);
        }
    }
    for name in read_only(at) {
        let before: Vec<&[u8]> = input.get_all(*name).iter().map(|v| v.as_bytes()).collect();
        let after: Vec<&[u8]> = out.get_all(*name).iter().map(|v| v.as_bytes()).collect();
        if before != after {
            return Err(validation(&format!(
                "The function tried to add, delete, or change a read-only header ({}).",
                super::event::title_case(name)
            )));
        }
    }
    for (name, value) in input {
        if !exposed(name.as_str()) {
            out.append(name.clone(), value.clone());
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const L: Limits = Limits {
        response_bytes: 40 * 1024,
        body_text_bytes: 40 * 1024,
        body_base64_bytes: 53_200,
    };

    fn input() -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert("host", HeaderValue::from_static("d.cloudfront.net"));
        h.insert("connection", HeaderValue::from_static("keep-alive"));
        h
    }

    fn vr(json: &str) -> Result<Output, Failure> {
        parse(
            TriggerPoint::ViewerRequest,
            json.as_bytes(),
            &input(),
            None,
            L,
        )
    }

    #[test]
    fn a_request_continues_with_hidden_headers_kept_and_missing_keys_allowed() {
        let out = vr(r#"{"uri":"/index.html","querystring":"a=1","method":"GET","headers":{"host":[{"key":"Host","value":"d.cloudfront.net"}],"x-new":[{"value":"1"}]}}"#).expect("ok");
        let Output::Request(r) = out else {
            panic!("request expected")
        };
        assert_eq!(r.uri, "/index.html");
        assert_eq!(r.querystring, "a=1");
        assert_eq!(r.headers["x-new"], "1");
        assert_eq!(r.headers["connection"], "keep-alive");
    }

    #[test]
    fn a_status_makes_it_a_generated_response() {
        let Output::Response(r) = vr(r#"{"status":"302","statusDescription":"Found","headers":{"location":[{"key":"Location","value":"https://example.com/"}]}}"#).expect("ok") else {
            panic!("response expected")
        };
        assert_eq!(r.status, 302);
        assert_eq!(r.headers["location"], "https://example.com/");
        assert!(r.body.is_none());
    }

    #[test]
    fn each_check_is_a_502() {
        for bad in [
            "not json",
            "[1]",
            r#"{"uri":"nope"}"#,
            r#"{"uri":"/","querystring":"a b"}"#,
            r#"{"uri":"/","headers":{"x-cache":[{"value":"x"}]}}"#,
            r#"{"uri":"/","headers":{"x-amz-cf-pop":[{"value":"x"}]}}"#,
            r#"{"uri":"/","headers":{"x-edge-location":[{"value":"x"}]}}"#,
            r#"{"uri":"/","headers":{"host":[{"value":"other"}]}}"#,
            r#"{"uri":"/","headers":{}}"#,
            r#"{"uri":"/","headers":{"host":[{"value":"d.cloudfront.net"}],"cloudfront-viewer-country":[{"value":"US"}]}}"#,
            r#"{"uri":"/","headers":{"host":{"key":"Host","value":"d.cloudfront.net"}}}"#,
            r#"{"uri":"/","headers":{"host":[{"key":"Hast","value":"d.cloudfront.net"}]}}"#,
            r#"{"status":"99"}"#,
            r#"{"status":"600"}"#,
            r#"{"status":"abc"}"#,
            r#"{"status":"204","body":"x"}"#,
            r#"{"status":"200","body":{"a":1}}"#,
            r#"{"status":"200","body":"%%%","bodyEncoding":"base64"}"#,
        ] {
            let e = vr(bad).expect_err(bad);
            assert_eq!(e.status, 502, "{bad}");
        }
    }

    #[test]
    fn size_limit_counts_headers_and_body() {
        let body = "x".repeat(40 * 1024 - 10);
        let ok = format!(r#"{{"status":"200","body":"{body}"}}"#);
        assert!(vr(&ok).is_ok());
        let big = format!(
            r#"{{"status":"200","headers":{{"x-a":[{{"value":"0123456789"}}]}},"body":"{body}"}}"#
        );
        assert_eq!(vr(&big).expect_err("too big").status, 502);
    }

    #[test]
    fn viewer_response_cannot_change_the_status() {
        let Output::Response(r) = parse(
            TriggerPoint::ViewerResponse,
            br#"{"status":"404","headers":{}}"#,
            &HeaderMap::new(),
            Some(200),
            L,
        )
        .expect("ok") else {
            panic!("response expected")
        };
        assert_eq!(r.status, 200);
    }

    #[test]
    fn read_only_headers_per_trigger() {
        let mut h = HeaderMap::new();
        h.insert("via", HeaderValue::from_static("1.1 x"));
        h.insert("warning", HeaderValue::from_static("199 x"));
        let vresp = parse(
            TriggerPoint::ViewerResponse,
            br#"{"status":"200","headers":{"via":[{"value":"1.1 x"}]}}"#,
            &h,
            Some(200),
            L,
        );
        assert_eq!(vresp.expect_err("warning removed").status, 502);
        let oresp = parse(
            TriggerPoint::OriginResponse,
            br#"{"status":"200","headers":{"via":[{"value":"1.1 x"}]}}"#,
            &h,
            Some(200),
            L,
        );
        assert!(oresp.is_ok(), "warning may go at origin-response");
    }
}
