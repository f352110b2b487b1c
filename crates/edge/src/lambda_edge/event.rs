//! The event a Lambda@Edge function receives (§4.2, §4.3), written by hand so that key
//! order is CloudFront's: `{"Records":[{"cf":{"config":{…},"request":{…},"response":{…}}}]}`,
//! object keys in the order CloudFront's own payloads use (alphabetical), headers in the
//! order they arrived, each `[{"key": …, "value": …}]`.

use std::fmt::Write as _;

use base64::Engine;
use http::HeaderMap;

use super::consts::{disallowed, LEDGE_PREFIX};
use crate::spec::TriggerPoint;

/// `Records[0].cf.config`.
pub(crate) struct Config<'a> {
    pub(crate) distribution_domain_name: &'a str,
    pub(crate) distribution_id: &'a str,
    pub(crate) event_type: TriggerPoint,
    pub(crate) request_id: &'a str,
}

/// `request.body` when the association includes it.
pub(crate) struct BodyIn<'a> {
    pub(crate) data: &'a [u8],
    /// Truncation limit (40 KB viewer, 1 MB origin).
    pub(crate) limit: usize,
}

/// `request` as the function sees it.
pub(crate) struct RequestIn<'a> {
    pub(crate) client_ip: &'a str,
    pub(crate) headers: &'a HeaderMap,
    pub(crate) method: &'a str,
    /// `request.origin` (origin events only), already JSON.
    pub(crate) origin: Option<&'a str>,
    pub(crate) querystring: &'a str,
    pub(crate) uri: &'a str,
    pub(crate) body: Option<BodyIn<'a>>,
}

/// `response` (response events only).
pub(crate) struct ResponseIn<'a> {
    pub(crate) headers: &'a HeaderMap,
    pub(crate) status: u16,
    pub(crate) status_description: &'a str,
    /// Extra headers shown after the others (`age` on viewer-response).
    pub(crate) extra: &'a [(&'a str, String)],
}

/// Whether a header is shown to functions: disallowed headers and ledge's own are not.
pub(crate) fn exposed(name: &str) -> bool {
    !disallowed(name) && !name.starts_with(LEDGE_PREFIX)
}

/// `user-agent` → `User-Agent`: what Lambda@Edge generates for a header whose `key` a
/// function leaves out, and what ledge shows (HTTP/1 header names arrive lower-cased).
pub(crate) fn title_case(name: &str) -> String {
    match name {
        "etag" => return "ETag".to_owned(),
        "www-authenticate" => return "WWW-Authenticate".to_owned(),
        "content-md5" => return "Content-MD5".to_owned(),
        "te" => return "TE".to_owned(),
        "dnt" => return "DNT".to_owned(),
        _ => {}
    }
    let mut out = String::with_capacity(name.len());
    for (i, part) in name.split('-').enumerate() {
        if i > 0 {
            out.push('-');
        }
        if i == 0 && part == "cloudfront" {
            out.push_str("CloudFront");
            continue;
        }
        let mut chars = part.chars();
        if let Some(c) = chars.next() {
            out.extend(c.to_uppercase());
            out.extend(chars.flat_map(char::to_lowercase));
        }
    }
    out
}

fn string(out: &mut String, s: &str) {
    // serde_json escapes exactly as JSON requires; writing into a String cannot fail.
    out.push_str(&serde_json::to_string(s).unwrap_or_else(|_| "\"\"".to_owned()));
}

/// Writes `{"name":[{"key":…,"value":…}],…}`, shown headers only, in arrival order.
pub(crate) fn headers(out: &mut String, map: &HeaderMap, extra: &[(&str, String)]) {
    out.push('{');
    let mut first = true;
    for name in map.keys() {
        let n = name.as_str();
        if !exposed(n) {
            continue;
        }
        if !first {
            out.push(',');
        }
        first = false;
        string(out, n);
        out.push_str(":[");
        let key = title_case(n);
        for (i, v) in map.get_all(name).iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            out.push_str("{\"key\":");
            string(out, &key);
            out.push_str(",\"value\":");
            string(out, &String::from_utf8_lossy(v.as_bytes()));
            out.push('}');
        }
        out.push(']');
    }
    for (n, v) in extra {
        if !first {
            out.push(',');
        }
        first = false;
        string(out, n);
        out.push_str(":[{\"key\":");
        string(out, &title_case(n));
        out.push_str(",\"value\":");
        string(out, v);
        out.push_str("}]");
    }
    out.push('}');
}

/// The whole event.
pub(crate) fn write(
    config: &Config<'_>,
    req: &RequestIn<'_>,
    resp: Option<&ResponseIn<'_>>,
) -> String {
    let mut out = String::with_capacity(512 + req.headers.len() * 64);
    out.push_str("{\"Records\":[{\"cf\":{\"config\":{\"distributionDomainName\":");
    string(&mut out, config.distribution_domain_name);
    out.push_str(",\"distributionId\":");
    string(&mut out, config.distribution_id);
    out.push_str(",\"eventType\":");
    string(&mut out, config.event_type.as_str());
    out.push_str(",\"requestId\":");
    string(&mut out, config.request_id);
    out.push_str("},\"request\":{");
    if let Some(b) = &req.body {
        let truncated = b.data.len() > b.limit;
        let data = &b.data[..b.data.len().min(b.limit)];
        let _ = write!(
            out,
            "\"body\":{{\"action\":\"read-only\",\"data\":\"{}\",\"encoding\":\"base64\",\"inputTruncated\":{truncated}}},",
            base64::engine::general_purpose::STANDARD.encode(data)
        );
    }
    out.push_str("\"clientIp\":");
    string(&mut out, req.client_ip);
    out.push_str(",\"headers\":");
    headers(&mut out, req.headers, &[]);
    out.push_str(",\"method\":");
    string(&mut out, req.method);
    if let Some(origin) = req.origin {
        out.push_str(",\"origin\":");
        out.push_str(origin);
    }
    out.push_str(",\"querystring\":");
    string(&mut out, req.querystring);
    out.push_str(",\"uri\":");
    string(&mut out, req.uri);
    out.push('}');
    if let Some(r) = resp {
        out.push_str(",\"response\":{\"headers\":");
        headers(&mut out, r.headers, r.extra);
        let _ = write!(out, ",\"status\":\"{}\",\"statusDescription\":", r.status);
        string(&mut out, r.status_description);
        out.push('}');
    }
    out.push_str("}}]}");
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    #[test]
    fn title_case_as_lambda_edge_generates_it() {
        assert_eq!(title_case("user-agent"), "User-Agent");
        assert_eq!(title_case("x-amz-cf-id"), "X-Amz-Cf-Id");
        assert_eq!(
            title_case("cloudfront-viewer-country"),
            "CloudFront-Viewer-Country"
        );
        assert_eq!(title_case("etag"), "ETag");
        assert_eq!(title_case("host"), "Host");
    }

    #[test]
    fn viewer_request_event_matches_the_guide_byte_for_byte() {
        let mut h = HeaderMap::new();
        h.insert(
            "host",
            HeaderValue::from_static("d111111abcdef8.cloudfront.net"),
        );
        h.insert("user-agent", HeaderValue::from_static("curl/7.66.0"));
        h.insert("accept", HeaderValue::from_static("*/*"));
        // Not shown to functions.
        h.insert("connection", HeaderValue::from_static("keep-alive"));
        h.insert("x-ledge-viewer", HeaderValue::from_static("FRA"));
        let e = write(
            &Config {
                distribution_domain_name: "d111111abcdef8.cloudfront.net",
                distribution_id: "EDFDVBD6EXAMPLE",
                event_type: TriggerPoint::ViewerRequest,
                request_id: "4TyzHTaYWb1GX1qTfsHhEqV6HUDd_BzoBZnwfnvQc_1oF26ClkoUSEQ==",
            },
            &RequestIn {
                client_ip: "203.0.113.178",
                headers: &h,
                method: "GET",
                origin: None,
                querystring: "",
                uri: "/",
                body: None,
            },
            None,
        );
        // The guide's example, except `accept`'s key, which the guide shows as the viewer
        // typed it and ledge shows Title-Case (HTTP/1 names arrive lower-cased).
        let want = r#"{"Records":[{"cf":{"config":{"distributionDomainName":"d111111abcdef8.cloudfront.net","distributionId":"EDFDVBD6EXAMPLE","eventType":"viewer-request","requestId":"4TyzHTaYWb1GX1qTfsHhEqV6HUDd_BzoBZnwfnvQc_1oF26ClkoUSEQ=="},"request":{"clientIp":"203.0.113.178","headers":{"host":[{"key":"Host","value":"d111111abcdef8.cloudfront.net"}],"user-agent":[{"key":"User-Agent","value":"curl/7.66.0"}],"accept":[{"key":"Accept","value":"*/*"}]},"method":"GET","querystring":"","uri":"/"}}}]}"#;
        assert_eq!(e, want);
    }

    #[test]
    fn body_is_base64_and_truncated_at_the_limit() {
        let h = HeaderMap::new();
        let data = vec![b'a'; 10];
        let e = write(
            &Config {
                distribution_domain_name: "d.cloudfront.net",
                distribution_id: "E1",
                event_type: TriggerPoint::ViewerRequest,
                request_id: "r",
            },
            &RequestIn {
                client_ip: "127.0.0.1",
                headers: &h,
                method: "POST",
                origin: None,
                querystring: "a=1",
                uri: "/x",
                body: Some(BodyIn {
                    data: &data,
                    limit: 4,
                }),
            },
            None,
        );
        let v: serde_json::Value = serde_json::from_str(&e).expect("json");
        let body = &v["Records"][0]["cf"]["request"]["body"];
        assert_eq!(body["inputTruncated"], true);
        assert_eq!(body["action"], "read-only");
        assert_eq!(body["encoding"], "base64");
        assert_eq!(body["data"], "YWFhYQ==");
    }

    #[test]
    fn response_status_is_a_string() {
        let mut h = HeaderMap::new();
        h.append("set-cookie", HeaderValue::from_static("a=1"));
        h.append("set-cookie", HeaderValue::from_static("b=2"));
        let rq = HeaderMap::new();
        let e = write(
            &Config {
                distribution_domain_name: "d.cloudfront.net",
                distribution_id: "E1",
                event_type: TriggerPoint::ViewerResponse,
                request_id: "r",
            },
            &RequestIn {
                client_ip: "127.0.0.1",
                headers: &rq,
                method: "GET",
                origin: None,
                querystring: "",
                uri: "/",
                body: None,
            },
            Some(&ResponseIn {
                headers: &h,
                status: 200,
                status_description: "OK",
                extra: &[("age", "2402".to_owned())],
            }),
        );
        assert!(e.ends_with(r#""response":{"headers":{"set-cookie":[{"key":"Set-Cookie","value":"a=1"},{"key":"Set-Cookie","value":"b=2"}],"age":[{"key":"Age","value":"2402"}]},"status":"200","statusDescription":"OK"}}}]}"#), "{e}");
    }
}
