//! Headers CloudFront adds and rewrites: toward the origin (§1.13, §2.2) and toward the
//! viewer (§2.1), plus the ids it mints.

use std::net::IpAddr;

use base64::Engine;
use http::{HeaderMap, HeaderName, HeaderValue};

use crate::consts::{ALWAYS_FORWARDED, REMOVED_TOWARD_ORIGIN, USER_AGENT_CLOUDFRONT};
use crate::key;
use crate::spec::{BehaviorSpec, HeaderSelection, Selection};

/// `X-Amz-Cf-Id`: 56 characters, URL-safe base64 of 40 random bytes.
pub(crate) fn request_id() -> String {
    use rand::RngCore;
    // One fill of the thread's generator (sampling `[u8; 40]` asks it 40 times).
    let mut bytes = [0u8; 40];
    rand::rng().fill_bytes(&mut bytes);
    base64::engine::general_purpose::URL_SAFE.encode(bytes)
}

/// `Age` for `secs`: the first hour from a table of static values made once (no allocation
/// and no shared reference count per hit), later ages formatted.
pub(crate) fn age_value(secs: u64) -> HeaderValue {
    const TABLE: usize = 3600;
    static AGES: std::sync::OnceLock<Vec<HeaderValue>> = std::sync::OnceLock::new();
    let table = AGES.get_or_init(|| {
        let text: String = (0..TABLE).map(|n| n.to_string()).collect();
        let text: &'static str = Box::leak(text.into_boxed_str());
        let mut at = 0;
        (0..TABLE)
            .map(|n| {
                let len = if n == 0 { 1 } else { n.ilog10() as usize + 1 };
                let v = HeaderValue::from_static(&text[at..at + len]);
                at += len;
                v
            })
            .collect()
    });
    match usize::try_from(secs).ok().and_then(|i| table.get(i)) {
        Some(v) => v.clone(),
        None => HeaderValue::from(secs),
    }
}

/// `Date` for `now`, formatted once per second per thread.
pub(crate) fn date_value(now: std::time::SystemTime) -> Option<HeaderValue> {
    thread_local! {
        static LAST: std::cell::RefCell<Option<(u64, HeaderValue)>> =
            const { std::cell::RefCell::new(None) };
    }
    let secs = now
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    LAST.with(|last| {
        let mut last = last.borrow_mut();
        if let Some((s, v)) = last.as_ref() {
            if *s == secs {
                return Some(v.clone());
            }
        }
        let v = HeaderValue::from_str(&httpdate::fmt_http_date(now)).ok()?;
        *last = Some((secs, v.clone()));
        Some(v)
    })
}

/// The 32-hex host part of `Via` for one POP of one distribution.
pub(crate) fn via_host(distribution_id: &str, pop_id: &str) -> String {
    use md5::Digest;
    let digest = md5::Md5::digest(format!("{distribution_id}/{pop_id}").as_bytes());
    format!("{}.cloudfront.net", hex::encode(digest))
}

/// What the viewer looks like to CloudFront-* headers.
#[derive(Clone, Debug)]
pub(crate) struct ViewerFacts {
    pub(crate) ip: IpAddr,
    pub(crate) port: u16,
    pub(crate) country: String,
    pub(crate) lat: f64,
    pub(crate) lon: f64,
    pub(crate) https: bool,
}

fn device(ua: &str) -> [(&'static str, bool); 6] {
    let ua_l = ua.to_ascii_lowercase();
    let android = ua_l.contains("android");
    let ios = ua_l.contains("iphone") || ua_l.contains("ipad") || ua_l.contains("ipod");
    let tablet =
        ua_l.contains("ipad") || ua_l.contains("tablet") || (android && !ua_l.contains("mobile"));
    let mobile = !tablet && (ua_l.contains("mobile") || ua_l.contains("iphone") || android);
    let smarttv =
        ua_l.contains("smart-tv") || ua_l.contains("smarttv") || ua_l.contains("googletv");
    let desktop = !mobile && !tablet && !smarttv;
    [
        ("cloudfront-is-android-viewer", android),
        ("cloudfront-is-desktop-viewer", desktop),
        ("cloudfront-is-ios-viewer", ios),
        ("cloudfront-is-mobile-viewer", mobile),
        ("cloudfront-is-smarttv-viewer", smarttv),
        ("cloudfront-is-tablet-viewer", tablet),
    ]
}

/// Every CloudFront-* header ledge can compute for a viewer.
pub(crate) fn cloudfront_headers(
    viewer: &ViewerFacts,
    headers: &HeaderMap,
) -> Vec<(&'static str, String)> {
    let ua = headers
        .get(http::header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let mut out: Vec<(&'static str, String)> = device(ua)
        .iter()
        .map(|(n, b)| (*n, b.to_string()))
        .collect();
    let addr = match viewer.ip {
        IpAddr::V4(ip) => format!("{ip}:{}", viewer.port),
        IpAddr::V6(ip) => format!("{ip}:{}", viewer.port),
    };
    out.extend([
        ("cloudfront-viewer-address", addr),
        ("cloudfront-viewer-country", viewer.country.clone()),
        ("cloudfront-viewer-latitude", format!("{:.5}", viewer.lat)),
        ("cloudfront-viewer-longitude", format!("{:.5}", viewer.lon)),
        (
            "cloudfront-forwarded-proto",
            if viewer.https { "https" } else { "http" }.to_owned(),
        ),
        ("cloudfront-viewer-http-version", "1.1".to_owned()),
        (
            "cloudfront-viewer-header-order",
            headers
                .keys()
                .map(|k| k.as_str())
                .collect::<Vec<_>>()
                .join(":"),
        ),
        ("cloudfront-viewer-header-count", headers.len().to_string()),
    ]);
    out
}

/// Whether the behaviour sends header `name` (lower-case) to the origin.
fn header_selected(b: &BehaviorSpec, name: &str) -> bool {
    if b.cache_policy.headers.iter().any(|h| h == name) {
        return true;
    }
    match b.origin_request_policy.as_ref().map(|p| &p.headers) {
        None | Some(HeaderSelection::None) => false,
        Some(HeaderSelection::Only(list)) => list.iter().any(|h| h == name),
        Some(HeaderSelection::AllViewer) => !name.starts_with("cloudfront-"),
        Some(HeaderSelection::AllViewerAnd(list)) => {
            !name.starts_with("cloudfront-") || list.iter().any(|h| h == name)
        }
        Some(HeaderSelection::AllExcept(list)) => {
            !name.starts_with("cloudfront-") && !list.iter().any(|h| h == name)
        }
    }
}

/// Union of the cache policy's and the origin request policy's selections.
fn union(a: &Selection, b: Option<&Selection>) -> Selection {
    match (a, b) {
        (Selection::All, _) | (_, Some(Selection::All)) => Selection::All,
        (x, None) | (x, Some(Selection::None)) => x.clone(),
        (Selection::None, Some(y)) => y.clone(),
        (Selection::Only(x), Some(Selection::Only(y))) => {
            Selection::Only([x.clone(), y.clone()].concat())
        }
        // An allow-list on one side overrides the other's block-list for its names.
        (Selection::AllExcept(x), Some(Selection::Only(y)))
        | (Selection::Only(y), Some(Selection::AllExcept(x))) => {
            Selection::AllExcept(x.iter().filter(|n| !y.contains(n)).cloned().collect())
        }
        (Selection::AllExcept(x), Some(Selection::AllExcept(y))) => {
            Selection::AllExcept(x.iter().filter(|n| y.contains(n)).cloned().collect())
        }
    }
}

pub(crate) fn forwarded_query(b: &BehaviorSpec) -> Selection {
    union(
        &b.cache_policy.query_strings,
        b.origin_request_policy.as_ref().map(|p| &p.query_strings),
    )
}

pub(crate) fn forwarded_cookies(b: &BehaviorSpec) -> Selection {
    union(
        &b.cache_policy.cookies,
        b.origin_request_policy.as_ref().map(|p| &p.cookies),
    )
}

/// Builds the origin request's headers from the viewer's (§1.13, §2.2).
#[allow(clippy::too_many_arguments)]
pub(crate) fn origin_headers(
    b: &BehaviorSpec,
    viewer_headers: &HeaderMap,
    viewer: &ViewerFacts,
    origin_host: &str,
    request_id: &str,
    via: &str,
    custom: &[(String, String)],
    accept_encoding: Option<&str>,
) -> HeaderMap {
    let mut out = HeaderMap::new();
    for (name, value) in viewer_headers {
        let n = name.as_str();
        let keep = header_selected(b, n)
            || (ALWAYS_FORWARDED.contains(&n)
                || (!REMOVED_TOWARD_ORIGIN.contains(&n)
                    && !n.starts_with("x-edge-")
                    && !n.starts_with("cloudfront-")
                    && n != "authorization"
                    && n != "x-forwarded-for"
                    && n != "via"
                    && b.origin_request_policy.is_none()
                    && b.cache_policy.id.is_empty()));
        // Authorization: removed for GET/HEAD/OPTIONS unless selected (handled by caller
        // passing a map without it); otherwise kept.
        if keep
            && !matches!(
                n,
                "cookie" | "accept-encoding" | "host" | "x-forwarded-for" | "via"
            )
        {
            out.append(name.clone(), value.clone());
        }
    }
    if !header_selected(b, "user-agent") {
        out.insert(
            http::header::USER_AGENT,
            HeaderValue::from_static(USER_AGENT_CLOUDFRONT),
        );
    }
    let host = if header_selected(b, "host") {
        viewer_headers.get(http::header::HOST).cloned()
    } else {
        None
    };
    match host {
        Some(h) => {
            out.insert(http::header::HOST, h);
        }
        None => {
            if let Ok(v) = HeaderValue::from_str(origin_host) {
                out.insert(http::header::HOST, v);
            }
        }
    }
    let cookies = key::select_cookies(viewer_headers, &forwarded_cookies(b));
    if !cookies.is_empty() {
        if let Ok(v) = HeaderValue::from_str(&cookies) {
            out.insert(http::header::COOKIE, v);
        }
    }
    match accept_encoding {
        Some(ae) => {
            if let Ok(v) = HeaderValue::from_str(ae) {
                out.insert(http::header::ACCEPT_ENCODING, v);
            }
        }
        None if header_selected(b, "accept-encoding") => {
            if let Some(v) = viewer_headers.get(http::header::ACCEPT_ENCODING) {
                out.insert(http::header::ACCEPT_ENCODING, v.clone());
            }
        }
        None => {}
    }
    let ip = viewer.ip.to_string();
    let xff = match viewer_headers
        .get("x-forwarded-for")
        .and_then(|v| v.to_str().ok())
    {
        Some(prev) if !prev.trim().is_empty() => format!("{prev}, {ip}"),
        _ => ip,
    };
    if let Ok(v) = HeaderValue::from_str(&xff) {
        out.insert(HeaderName::from_static("x-forwarded-for"), v);
    }
    if let Ok(v) = HeaderValue::from_str(request_id) {
        out.insert(HeaderName::from_static("x-amz-cf-id"), v);
    }
    if let Ok(v) = HeaderValue::from_str(&format!("1.1 {via} (CloudFront)")) {
        out.insert(http::header::VIA, v);
    }
    for (n, v) in cloudfront_headers(viewer, viewer_headers) {
        if header_selected(b, n) {
            if let Ok(v) = HeaderValue::from_str(&v) {
                out.insert(HeaderName::from_static(n), v);
            }
        }
    }
    for (n, v) in custom {
        if let (Ok(n), Ok(v)) = (
            HeaderName::from_bytes(n.as_bytes()),
            HeaderValue::from_str(v),
        ) {
            out.insert(n, v);
        }
    }
    out
}

/// The `Vary` CloudFront passes to viewers (§1.9): only names it keys or forwards on,
/// `Accept-Encoding`, and `Cookie` when cookies are forwarded.
pub(crate) fn filter_vary(b: &BehaviorSpec, vary: &str) -> Option<String> {
    let cookies = !forwarded_cookies(b).is_none();
    let kept: Vec<&str> = vary
        .split(',')
        .map(str::trim)
        .filter(|n| {
            let l = n.to_ascii_lowercase();
            l == "accept-encoding" || (l == "cookie" && cookies) || header_selected(b, &l)
        })
        .collect();
    (!kept.is_empty()).then(|| kept.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, UNIX_EPOCH};

    #[test]
    fn request_ids_are_56_url_safe_characters_and_differ() {
        let (a, b) = (request_id(), request_id());
        assert_eq!(a.len(), 56);
        assert!(a
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'=')));
        assert_ne!(a, b);
    }

    #[test]
    fn ages_from_the_table_and_beyond_it() {
        for n in [
            0u64,
            1,
            9,
            10,
            99,
            100,
            999,
            1000,
            3599,
            3600,
            86_400,
            u64::MAX,
        ] {
            assert_eq!(age_value(n), HeaderValue::from(n), "{n}");
        }
    }

    #[test]
    fn date_is_cached_within_a_second_only() {
        let t = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        assert_eq!(
            date_value(t).expect("date"),
            "Tue, 14 Nov 2023 22:13:20 GMT"
        );
        assert_eq!(
            date_value(t + Duration::from_millis(999)).expect("date"),
            "Tue, 14 Nov 2023 22:13:20 GMT"
        );
        assert_eq!(
            date_value(t + Duration::from_secs(1)).expect("date"),
            "Tue, 14 Nov 2023 22:13:21 GMT"
        );
    }
}
