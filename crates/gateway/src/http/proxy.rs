//! `HTTP_PROXY` integrations and HTTP API parameter mapping (reference §4.7): the target
//! URL (`{proxy}`, path variables, `${stageVariables.x}`), request mapping
//! (`append|overwrite|remove:header.X`, `…:querystring.X`, `overwrite:path`) and response
//! mapping per status (`…:header.X`, `overwrite:statuscode`).

use serde_json::Value as J;

use super::consts::limits;
use super::event::RequestFacts;
use super::lambda_auth::context_value;

/// Headers a mapping may not touch.
pub fn is_reserved(header: &str) -> bool {
    let h = header.to_ascii_lowercase();
    h.starts_with("access-control-")
        || h.starts_with("apigw-")
        || h.starts_with("x-amz-")
        || h.starts_with("x-amzn-")
        || matches!(
            h.as_str(),
            "authorization"
                | "connection"
                | "content-encoding"
                | "content-length"
                | "content-location"
                | "forwarded"
                | "keep-alive"
                | "origin"
                | "proxy-authenticate"
                | "proxy-authorization"
                | "te"
                | "trailers"
                | "transfer-encoding"
                | "upgrade"
                | "x-forwarded-for"
                | "x-forwarded-host"
                | "x-forwarded-proto"
                | "via"
        )
}

/// One mapping key, parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mapping {
    Header(Action, String),
    Query(Action, String),
    Path,
    StatusCode,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Append,
    Overwrite,
    Remove,
}

/// Parses `append:header.X`, `overwrite:querystring.X`, `overwrite:path`,
/// `overwrite:statuscode`.
pub fn parse_key(key: &str) -> Result<Mapping, String> {
    let (action, target) = key
        .split_once(':')
        .ok_or_else(|| format!("{key}: expected action:target"))?;
    let action = match action.to_ascii_lowercase().as_str() {
        "append" => Action::Append,
        "overwrite" => Action::Overwrite,
        "remove" => Action::Remove,
        other => return Err(format!("{key}: unknown action {other}")),
    };
    let lower = target.to_ascii_lowercase();
    if lower == "path" && action == Action::Overwrite {
        return Ok(Mapping::Path);
    }
    if lower == "statuscode" && action == Action::Overwrite {
        return Ok(Mapping::StatusCode);
    }
    if let Some(h) = target.strip_prefix("header.") {
        if is_reserved(h) {
            return Err(format!("{key}: header {h} is reserved"));
        }
        return Ok(Mapping::Header(action, h.to_owned()));
    }
    if let Some(q) = target.strip_prefix("querystring.") {
        return Ok(Mapping::Query(action, q.to_owned()));
    }
    Err(format!("{key}: unknown target {target}"))
}

/// An integration response as mappings see it: headers and body.
pub type ResponseView<'a> = (&'a [(String, String)], &'a [u8]);

/// What a mapping value can refer to.
pub struct Sources<'a> {
    pub request: &'a RequestFacts,
    /// Set on the response side.
    pub response: Option<ResponseView<'a>>,
}

/// Evaluates a mapping value: a `$…` reference, static text, or text with `${…}` parts.
/// Unresolvable references evaluate to an empty string.
pub fn evaluate(value: &str, s: &Sources<'_>) -> String {
    if value.contains("${") {
        let mut out = String::new();
        let mut rest = value;
        while let Some(at) = rest.find("${") {
            out.push_str(&rest[..at]);
            let after = &rest[at + 2..];
            match after.find('}') {
                Some(end) => {
                    out.push_str(&reference(&after[..end], s).unwrap_or_default());
                    rest = &after[end + 1..];
                }
                None => {
                    out.push_str(&rest[at..]);
                    rest = "";
                }
            }
        }
        out.push_str(rest);
        return out;
    }
    match value.strip_prefix('$') {
        Some(r) => reference(r, s).unwrap_or_default(),
        None => value.to_owned(),
    }
}

/// `request.header.n`, `request.querystring.n`, `request.body.a.b`, `request.path`,
/// `request.path.n`, `context.v`, `stageVariables.v`, `response.header.n`,
/// `response.body.a.b` (the leading `$` already removed).
fn reference(r: &str, s: &Sources<'_>) -> Option<String> {
    let f = s.request;
    if let Some(h) = r.strip_prefix("request.header.") {
        return f.header(h);
    }
    if let Some(q) = r.strip_prefix("request.querystring.") {
        return f.query_joined(q);
    }
    if r == "request.path" {
        return Some(f.stage_path.clone());
    }
    if let Some(p) = r.strip_prefix("request.path.") {
        return f.path_param(p);
    }
    if let Some(path) = r.strip_prefix("request.body") {
        let body = &f.body[..f.body.len().min(limits::MAPPING_BODY_BYTES)];
        return json_path(body, path);
    }
    if let Some(c) = r.strip_prefix("context.") {
        return context_value(f, c);
    }
    if let Some(v) = r.strip_prefix("stageVariables.") {
        return f
            .stage_variables
            .iter()
            .find(|(k, _)| k == v)
            .map(|(_, v)| v.clone());
    }
    let (headers, body) = s.response?;
    if let Some(h) = r.strip_prefix("response.header.") {
        let v: Vec<&str> = headers
            .iter()
            .filter(|(k, _)| k.eq_ignore_ascii_case(h))
            .map(|(_, v)| v.as_str())
            .collect();
        return (!v.is_empty()).then(|| v.join(","));
    }
    if let Some(path) = r.strip_prefix("response.body") {
        return json_path(body, path);
    }
    None
}

/// `.a.b[0]` (JSONPath without `$`, no `..`, no filters) over a JSON body.
fn json_path(body: &[u8], path: &str) -> Option<String> {
    let v: J = serde_json::from_slice(body).ok()?;
    let mut cur = &v;
    let path = path.strip_prefix('.').unwrap_or(path);
    if !path.is_empty() {
        for part in path.split('.') {
            let (name, index) = match part.split_once('[') {
                Some((n, i)) => (n, i.strip_suffix(']').and_then(|i| i.parse::<usize>().ok())),
                None => (part, None),
            };
            if !name.is_empty() {
                cur = cur.get(name)?;
            }
            if let Some(i) = index {
                cur = cur.get(i)?;
            }
        }
    }
    Some(match cur {
        J::String(s) => s.clone(),
        other => other.to_string(),
    })
}

/// Applies header / querystring / path mappings to an outgoing request.
pub fn apply_request(
    mappings: &[(String, String)],
    s: &Sources<'_>,
    headers: &mut Vec<(String, String)>,
    query: &mut Vec<(String, String)>,
    path: &mut String,
) {
    for (key, value) in mappings {
        let Ok(m) = parse_key(key) else { continue };
        let v = evaluate(value, s);
        match m {
            Mapping::Header(a, name) => apply(headers, a, &name, v, true),
            Mapping::Query(a, name) => apply(query, a, &name, v, false),
            Mapping::Path => *path = v,
            Mapping::StatusCode => {}
        }
    }
}

/// Applies response mappings; returns the new status if overwritten.
pub fn apply_response(
    mappings: &[(String, String)],
    s: &Sources<'_>,
    headers: &mut Vec<(String, String)>,
) -> Option<u16> {
    let mut status = None;
    for (key, value) in mappings {
        let Ok(m) = parse_key(key) else { continue };
        let v = evaluate(value, s);
        match m {
            Mapping::Header(a, name) => apply(headers, a, &name, v, true),
            Mapping::StatusCode => {
                status = v.trim().parse().ok().filter(|c| (100..=599).contains(c))
            }
            _ => {}
        }
    }
    status
}

fn apply(list: &mut Vec<(String, String)>, a: Action, name: &str, v: String, ci: bool) {
    let same = |k: &str| {
        if ci {
            k.eq_ignore_ascii_case(name)
        } else {
            k == name
        }
    };
    match a {
        Action::Remove => list.retain(|(k, _)| !same(k)),
        Action::Overwrite => {
            list.retain(|(k, _)| !same(k));
            list.push((name.to_owned(), v));
        }
        Action::Append => match list.iter_mut().rev().find(|(k, _)| same(k)) {
            Some((_, prev)) if ci => {
                prev.push(',');
                prev.push_str(&v);
            }
            _ => list.push((name.to_owned(), v)),
        },
    }
}

/// The integration URL: `{name}` path variables (raw), `${stageVariables.x}`; for
/// `$default`-style catch-alls with a bare host URI the request path is appended.
pub fn target_url(uri: &str, f: &RequestFacts) -> String {
    let mut url = evaluate(
        uri,
        &Sources {
            request: f,
            response: None,
        },
    );
    for (name, value) in &f.path_params {
        url = url.replace(&format!("{{{name}+}}"), value);
        url = url.replace(&format!("{{{name}}}"), value);
    }
    let after_scheme = url.split_once("://").map(|(_, r)| r).unwrap_or(&url);
    let has_path = after_scheme
        .find('/')
        .is_some_and(|i| after_scheme.len() > i + 1);
    if !has_path && f.route_key == super::consts::DEFAULT_ROUTE {
        url = format!("{}{}", url.trim_end_matches('/'), f.stage_path);
    }
    url
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::event::tests::sample;

    fn src(f: &RequestFacts) -> Sources<'_> {
        Sources {
            request: f,
            response: None,
        }
    }

    #[test]
    fn keys_parse_and_reserved_headers_are_refused() {
        assert_eq!(
            parse_key("append:header.x-a"),
            Ok(Mapping::Header(Action::Append, "x-a".into()))
        );
        assert_eq!(
            parse_key("remove:querystring.q"),
            Ok(Mapping::Query(Action::Remove, "q".into()))
        );
        assert_eq!(parse_key("overwrite:path"), Ok(Mapping::Path));
        assert_eq!(parse_key("overwrite:statuscode"), Ok(Mapping::StatusCode));
        assert!(parse_key("overwrite:header.Authorization").is_err());
        assert!(parse_key("overwrite:header.x-amzn-foo").is_err());
        assert!(parse_key("delete:header.a").is_err());
    }

    #[test]
    fn values_references_and_concatenation() {
        let f = sample();
        let s = src(&f);
        assert_eq!(evaluate("$request.header.x-multi", &s), "one,two");
        assert_eq!(evaluate("$request.querystring.y", &s), "a b");
        assert_eq!(evaluate("$request.path", &s), "/items/a%20b");
        assert_eq!(evaluate("$request.path.id", &s), "a b");
        assert_eq!(evaluate("$request.body.hello", &s), "world");
        assert_eq!(evaluate("$stageVariables.table", &s), "items-dev");
        assert_eq!(evaluate("$context.stage", &s), "dev");
        assert_eq!(evaluate("static", &s), "static");
        assert_eq!(
            evaluate("id=${request.path.id};t=${stageVariables.table}", &s),
            "id=a b;t=items-dev"
        );
        assert_eq!(evaluate("$request.header.none", &s), "");
    }

    #[test]
    fn request_and_response_mapping() {
        let f = sample();
        let s = src(&f);
        let mut headers = vec![
            ("x-a".to_owned(), "1".to_owned()),
            ("x-gone".to_owned(), "z".to_owned()),
        ];
        let mut query = vec![("q".to_owned(), "1".to_owned())];
        let mut path = "/items/a%20b".to_owned();
        let m: Vec<(String, String)> = [
            ("append:header.x-a", "2"),
            ("remove:header.X-Gone", ""),
            ("overwrite:header.x-stage", "$context.stage"),
            ("append:querystring.q", "2"),
            ("overwrite:querystring.r", "$request.path.id"),
            ("overwrite:path", "/v2${request.path}"),
        ]
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
        apply_request(&m, &s, &mut headers, &mut query, &mut path);
        assert_eq!(
            headers,
            vec![
                ("x-a".into(), "1,2".into()),
                ("x-stage".into(), "dev".into())
            ]
        );
        assert_eq!(
            query,
            vec![
                ("q".into(), "1".into()),
                ("q".into(), "2".into()),
                ("r".into(), "a b".into())
            ]
        );
        assert_eq!(path, "/v2/items/a%20b");

        let resp_headers = vec![("x-upstream".to_owned(), "u".to_owned())];
        let body = br#"{"n": {"m": [5, 6]}}"#;
        let rs = Sources {
            request: &f,
            response: Some((&resp_headers, body)),
        };
        let mut out = resp_headers.clone();
        let rm: Vec<(String, String)> = vec![
            ("overwrite:statuscode".into(), "204".into()),
            (
                "append:header.x-copied".into(),
                "$response.header.x-upstream".into(),
            ),
            (
                "overwrite:header.x-body".into(),
                "$response.body.n.m[1]".into(),
            ),
        ];
        assert_eq!(apply_response(&rm, &rs, &mut out), Some(204));
        assert_eq!(out[1], ("x-copied".into(), "u".into()));
        assert_eq!(out[2], ("x-body".into(), "6".into()));
    }

    #[test]
    fn target_urls() {
        let mut f = sample();
        assert_eq!(
            target_url("http://h/${stageVariables.table}/{id}", &f),
            "http://h/items-dev/a%20b"
        );
        f.route_key = "$default".into();
        f.path_params.clear();
        assert_eq!(target_url("http://h:1", &f), "http://h:1/items/a%20b");
        assert_eq!(target_url("http://h:1/fixed", &f), "http://h:1/fixed");
    }
}
