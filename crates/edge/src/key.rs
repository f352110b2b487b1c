//! Cache keys (reference §1.5): distribution domain + path, `OPTIONS` for OPTIONS requests,
//! and what the cache policy selects — header values (names case-insensitive, values
//! case-sensitive), cookies (names and values case-sensitive, order irrelevant), query
//! strings (order and case significant, `&` the only separator) and the normalised
//! `Accept-Encoding`. Pure: no I/O, no clock.

use http::HeaderMap;

use crate::spec::{CachePolicy, Selection};

/// A built key and the path invalidations match it by.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct EdgeKey {
    /// The full key (readable; `\u{1f}` separates parts).
    pub key: String,
    /// The request path, plus `?query` when query strings are part of the key.
    pub invalidation_path: String,
}

/// What goes into a key.
#[derive(Clone, Copy, Debug)]
pub struct KeyInput<'a> {
    pub domain: &'a str,
    pub method: &'a str,
    pub path: &'a str,
    pub query: Option<&'a str>,
    pub headers: &'a HeaderMap,
    /// The behaviour's `Compress`: objects compressed at the edge are keyed by encoding too.
    pub compress: bool,
}

/// The query string with only the selected parameters, in the viewer's order and spelling.
pub fn select_query(query: Option<&str>, sel: &Selection) -> String {
    let Some(q) = query.filter(|q| !q.is_empty()) else {
        return String::new();
    };
    match sel {
        Selection::None => String::new(),
        Selection::All => q.to_owned(),
        _ => q
            .split('&')
            .filter(|pair| {
                let name = pair.split_once('=').map_or(*pair, |(n, _)| n);
                sel.selects(name)
            })
            .collect::<Vec<_>>()
            .join("&"),
    }
}

/// Every viewer cookie as (name, value), in order.
pub fn cookies(headers: &HeaderMap) -> Vec<(String, String)> {
    headers
        .get_all(http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|c| {
            let c = c.trim();
            if c.is_empty() {
                return None;
            }
            Some(match c.split_once('=') {
                Some((n, v)) => (n.trim().to_owned(), v.trim().to_owned()),
                None => (c.to_owned(), String::new()),
            })
        })
        .collect()
}

/// The selected cookies sorted by name (CloudFront's order toward origins), as a
/// `Cookie` header value.
pub fn select_cookies(headers: &HeaderMap, sel: &Selection) -> String {
    if sel.is_none() {
        return String::new();
    }
    let mut chosen: Vec<(String, String)> = cookies(headers)
        .into_iter()
        .filter(|(n, _)| sel.selects(n))
        .collect();
    chosen.sort();
    chosen
        .iter()
        .map(|(n, v)| format!("{n}={v}"))
        .collect::<Vec<_>>()
        .join("; ")
}

/// The normalised `Accept-Encoding`: `br,gzip`, `gzip`, `br` or `None` (§1.5). Tokens with
/// `q=0` are refused encodings.
pub fn normalized_accept_encoding(
    headers: &HeaderMap,
    gzip: bool,
    br: bool,
) -> Option<&'static str> {
    let mut has_gzip = false;
    let mut has_br = false;
    for v in headers
        .get_all(http::header::ACCEPT_ENCODING)
        .iter()
        .filter_map(|v| v.to_str().ok())
    {
        for token in v.split(',') {
            let mut parts = token.split(';');
            let name = parts.next().unwrap_or("").trim();
            let refused = parts.any(|p| {
                p.trim()
                    .strip_prefix("q=")
                    .and_then(|q| q.trim().parse::<f32>().ok())
                    .is_some_and(|q| q <= 0.0)
            });
            if refused {
                continue;
            }
            if name.eq_ignore_ascii_case("gzip") {
                has_gzip = true;
            } else if name.eq_ignore_ascii_case("br") {
                has_br = true;
            } else if name == "*" {
                has_gzip = true;
                has_br = true;
            }
        }
    }
    match (has_br && br, has_gzip && gzip) {
        (true, true) => Some("br,gzip"),
        (false, true) => Some("gzip"),
        (true, false) => Some("br"),
        (false, false) => None,
    }
}

/// `(gzip, br)`: the encodings the cache key and the origin's `Accept-Encoding` tell apart —
/// the policy's when it normalizes `Accept-Encoding`, both when only compression is on.
pub(crate) fn encodings(policy: &CachePolicy, compress: bool) -> (bool, bool) {
    if policy.normalizes_accept_encoding() {
        (policy.accept_encoding_gzip, policy.accept_encoding_brotli)
    } else if compress {
        (true, true)
    } else {
        (false, false)
    }
}

/// Appends the query string with only the selected parameters (viewer's order and
/// spelling) to `out`; what [`select_query`] returns, without a new string.
fn push_selected_query(out: &mut String, query: Option<&str>, sel: &Selection) {
    let Some(q) = query.filter(|q| !q.is_empty()) else {
        return;
    };
    match sel {
        Selection::None => {}
        Selection::All => out.push_str(q),
        _ => {
            let mut first = true;
            for pair in q.split('&') {
                let name = pair.split_once('=').map_or(pair, |(n, _)| n);
                if sel.selects(name) {
                    if !first {
                        out.push('&');
                    }
                    out.push_str(pair);
                    first = false;
                }
            }
        }
    }
}

/// Writes the key for a request under `policy` into `key` (cleared first): the same text
/// as [`build`]'s `key`, so the hit path can look a key up from a reused buffer and only a
/// miss needs an owned [`EdgeKey`]. Returns the byte range of the selected query in `key`.
pub fn build_into(key: &mut String, input: &KeyInput<'_>, policy: &CachePolicy) -> (usize, usize) {
    const SEP: char = '\u{1f}';
    key.clear();
    key.push_str(input.domain);
    key.push(SEP);
    key.push_str(input.path);
    if input.method.eq_ignore_ascii_case("OPTIONS") {
        key.push(SEP);
        key.push_str("OPTIONS");
    }
    key.push(SEP);
    key.push('?');
    let q_start = key.len();
    push_selected_query(key, input.query, &policy.query_strings);
    let q_end = key.len();
    for name in &policy.headers {
        key.push(SEP);
        key.push_str(name);
        key.push(':');
        let mut first = true;
        for v in input
            .headers
            .get_all(name.as_str())
            .iter()
            .filter_map(|v| v.to_str().ok())
        {
            if !first {
                key.push(',');
            }
            key.push_str(v);
            first = false;
        }
    }
    if !policy.cookies.is_none() {
        key.push(SEP);
        key.push_str("cookie:");
        key.push_str(&select_cookies(input.headers, &policy.cookies));
    }
    let (gz, br) = encodings(policy, input.compress);
    if gz || br {
        key.push(SEP);
        key.push_str("ae:");
        key.push_str(normalized_accept_encoding(input.headers, gz, br).unwrap_or(""));
    }
    (q_start, q_end)
}

/// Builds the key for a request under `policy`.
pub fn build(input: &KeyInput<'_>, policy: &CachePolicy) -> EdgeKey {
    let mut key = String::with_capacity(input.domain.len() + input.path.len() + 32);
    let (q_start, q_end) = build_into(&mut key, input, policy);
    let query = &key[q_start..q_end];
    let invalidation_path = if query.is_empty() {
        input.path.to_owned()
    } else {
        format!("{}?{query}", input.path)
    };
    EdgeKey {
        key,
        invalidation_path,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policies::{managed_cache_policy, CACHING_OPTIMIZED_ID};
    use http::HeaderValue;

    fn policy(qs: Selection, headers: &[&str], cookies: Selection) -> CachePolicy {
        CachePolicy {
            query_strings: qs,
            headers: headers.iter().map(|h| h.to_ascii_lowercase()).collect(),
            cookies,
            accept_encoding_gzip: false,
            accept_encoding_brotli: false,
            ..managed_cache_policy(CACHING_OPTIMIZED_ID).expect("managed")
        }
    }

    fn key(p: &CachePolicy, path: &str, query: Option<&str>, headers: &[(&str, &str)]) -> EdgeKey {
        let mut map = HeaderMap::new();
        for (n, v) in headers {
            map.append(
                http::HeaderName::from_bytes(n.as_bytes()).expect("name"),
                HeaderValue::from_str(v).expect("value"),
            );
        }
        build(
            &KeyInput {
                domain: "d1.cloudfront.net",
                method: "GET",
                path,
                query,
                headers: &map,
                compress: false,
            },
            p,
        )
    }

    #[test]
    fn default_key_is_path_only() {
        let p = policy(Selection::None, &[], Selection::None);
        let a = key(&p, "/a", Some("x=1"), &[("cookie", "s=1"), ("x-h", "1")]);
        let b = key(&p, "/a", Some("x=2"), &[]);
        assert_eq!(a, b);
        assert_ne!(
            key(&p, "/a", None, &[]),
            key(&p, "/A", None, &[]),
            "paths are case-sensitive"
        );
    }

    #[test]
    fn query_order_and_case_matter() {
        let p = policy(Selection::All, &[], Selection::None);
        assert_ne!(
            key(&p, "/a", Some("a=1&b=2"), &[]),
            key(&p, "/a", Some("b=2&a=1"), &[])
        );
        assert_ne!(
            key(&p, "/a", Some("a=1"), &[]),
            key(&p, "/a", Some("A=1"), &[])
        );
        assert_ne!(
            key(&p, "/a", Some("a=x"), &[]),
            key(&p, "/a", Some("a=X"), &[])
        );
        assert_eq!(
            key(&p, "/a", Some("a=1&b=2"), &[]).invalidation_path,
            "/a?a=1&b=2"
        );
    }

    #[test]
    fn query_allow_and_deny_lists() {
        let only = policy(Selection::Only(vec!["v".into()]), &[], Selection::None);
        assert_eq!(
            key(&only, "/a", Some("v=1&utm=x"), &[]),
            key(&only, "/a", Some("utm=y&v=1"), &[])
        );
        assert_ne!(
            key(&only, "/a", Some("v=1"), &[]),
            key(&only, "/a", Some("V=1"), &[])
        );
        let except = policy(
            Selection::AllExcept(vec!["utm".into()]),
            &[],
            Selection::None,
        );
        assert_eq!(
            key(&except, "/a", Some("v=1&utm=x"), &[]),
            key(&except, "/a", Some("v=1&utm=y"), &[])
        );
        assert_ne!(
            key(&except, "/a", Some("v=1"), &[]),
            key(&except, "/a", Some("v=2"), &[])
        );
    }

    #[test]
    fn header_names_case_insensitive_values_case_sensitive() {
        let p = policy(Selection::None, &["X-Tenant"], Selection::None);
        assert_eq!(
            key(&p, "/a", None, &[("x-tenant", "a")]),
            key(&p, "/a", None, &[("X-TENANT", "a")])
        );
        assert_ne!(
            key(&p, "/a", None, &[("x-tenant", "a")]),
            key(&p, "/a", None, &[("x-tenant", "A")])
        );
        assert_eq!(
            key(&p, "/a", None, &[("x-tenant", "a"), ("x-other", "1")]),
            key(&p, "/a", None, &[("x-other", "2"), ("x-tenant", "a")])
        );
    }

    #[test]
    fn cookies_by_name_order_irrelevant() {
        let p = policy(
            Selection::None,
            &[],
            Selection::Only(vec!["session".into(), "lang".into()]),
        );
        assert_eq!(
            key(&p, "/a", None, &[("cookie", "session=1; lang=en; ad=9")]),
            key(&p, "/a", None, &[("cookie", "lang=en; session=1")])
        );
        assert_ne!(
            key(&p, "/a", None, &[("cookie", "lang=en")]),
            key(&p, "/a", None, &[("cookie", "lang=EN")])
        );
        assert_ne!(
            key(&p, "/a", None, &[("cookie", "lang=en")]),
            key(&p, "/a", None, &[("cookie", "LANG=en")])
        );
    }

    #[test]
    fn accept_encoding_normalized() {
        let mut h = HeaderMap::new();
        h.insert(
            "accept-encoding",
            HeaderValue::from_static("deflate, gzip;q=0.8, br"),
        );
        assert_eq!(normalized_accept_encoding(&h, true, true), Some("br,gzip"));
        assert_eq!(normalized_accept_encoding(&h, true, false), Some("gzip"));
        h.insert(
            "accept-encoding",
            HeaderValue::from_static("gzip;q=0, deflate"),
        );
        assert_eq!(normalized_accept_encoding(&h, true, true), None);
        let p = managed_cache_policy(CACHING_OPTIMIZED_ID).expect("managed");
        assert_eq!(
            key(&p, "/a", None, &[("accept-encoding", "gzip, br")]),
            key(&p, "/a", None, &[("accept-encoding", "br,gzip,deflate")])
        );
        assert_ne!(
            key(&p, "/a", None, &[("accept-encoding", "gzip")]),
            key(&p, "/a", None, &[])
        );
    }

    #[test]
    fn build_into_reuses_a_buffer_and_matches_build() {
        let policies = [
            policy(Selection::None, &[], Selection::None),
            policy(Selection::All, &["x-tenant", "x-b"], Selection::All),
            policy(
                Selection::Only(vec!["v".into(), "w".into()]),
                &[],
                Selection::Only(vec!["lang".into()]),
            ),
            policy(
                Selection::AllExcept(vec!["utm".into()]),
                &[],
                Selection::None,
            ),
            managed_cache_policy(CACHING_OPTIMIZED_ID).expect("managed"),
        ];
        let queries = [
            None,
            Some(""),
            Some("v=1&utm=x&w"),
            Some("utm=1"),
            Some("a=1&&b"),
        ];
        let mut h = HeaderMap::new();
        h.append("x-tenant", HeaderValue::from_static("a"));
        h.append("x-tenant", HeaderValue::from_static("B"));
        h.append("cookie", HeaderValue::from_static("lang=en; z=1"));
        h.append("accept-encoding", HeaderValue::from_static("gzip, br"));
        let mut buf = String::from("left over from an earlier request");
        for p in &policies {
            for q in queries {
                for method in ["GET", "OPTIONS"] {
                    let input = KeyInput {
                        domain: "d1.cloudfront.net",
                        method,
                        path: "/p",
                        query: q,
                        headers: &h,
                        compress: true,
                    };
                    let (a, b) = build_into(&mut buf, &input, p);
                    let built = build(&input, p);
                    assert_eq!(buf, built.key);
                    let sel = select_query(q, &p.query_strings);
                    assert_eq!(&buf[a..b], sel);
                    let expected = if sel.is_empty() {
                        "/p".to_owned()
                    } else {
                        format!("/p?{sel}")
                    };
                    assert_eq!(built.invalidation_path, expected);
                }
            }
        }
    }

    #[test]
    fn options_is_keyed_apart() {
        let p = policy(Selection::None, &[], Selection::None);
        let mut h = HeaderMap::new();
        h.insert("x", HeaderValue::from_static("1"));
        let get = build(
            &KeyInput {
                domain: "d",
                method: "GET",
                path: "/a",
                query: None,
                headers: &h,
                compress: false,
            },
            &p,
        );
        let opt = build(
            &KeyInput {
                domain: "d",
                method: "OPTIONS",
                path: "/a",
                query: None,
                headers: &h,
                compress: false,
            },
            &p,
        );
        let head = build(
            &KeyInput {
                domain: "d",
                method: "HEAD",
                path: "/a",
                query: None,
                headers: &h,
                compress: false,
            },
            &p,
        );
        assert_ne!(get, opt);
        assert_eq!(get, head);
    }
}
