//! `HTTP_PROXY` and `HTTP` integrations of REST APIs: the target URL (`{name}`
//! placeholders from `integration.request.path.name`, `${stageVariables.x}`), request
//! parameter mapping (`integration.request.{path|querystring|header}.X` from
//! `method.request.*`, `stageVariables.*`, `context.*` or `'static'`), and the mapping
//! sources shared with the non-proxy integrations (`integration.rs`). Pure.

use crate::common::event::RequestFacts;

/// The value of a mapping source, `None` when the request lacks it.
pub fn source(expr: &str, f: &RequestFacts) -> Option<String> {
    if let Some(s) = expr.strip_prefix('\'').and_then(|s| s.strip_suffix('\'')) {
        return Some(s.to_owned());
    }
    if let Some(n) = expr.strip_prefix("method.request.path.") {
        return f
            .path_params
            .iter()
            .find(|(k, _)| k == n)
            .map(|(_, v)| v.clone());
    }
    if let Some(n) = expr.strip_prefix("method.request.querystring.") {
        return f
            .query_pairs()
            .into_iter()
            .rev()
            .find(|(k, _)| k == n)
            .map(|(_, v)| v);
    }
    if let Some(n) = expr.strip_prefix("method.request.multivaluequerystring.") {
        let v: Vec<String> = f
            .query_pairs()
            .into_iter()
            .filter(|(k, _)| k == n)
            .map(|(_, v)| v)
            .collect();
        return (!v.is_empty()).then(|| v.join(","));
    }
    if let Some(n) = expr
        .strip_prefix("method.request.header.")
        .or_else(|| expr.strip_prefix("method.request.multivalueheader."))
    {
        return f.header(n);
    }
    if let Some(n) = expr.strip_prefix("stageVariables.") {
        return f
            .stage_variables
            .iter()
            .find(|(k, _)| k == n)
            .map(|(_, v)| v.clone());
    }
    if let Some(n) = expr.strip_prefix("context.") {
        return crate::http::lambda_auth::context_value(f, n);
    }
    if expr == "method.request.body" {
        return Some(String::from_utf8_lossy(&f.body).into_owned());
    }
    if let Some(p) = expr.strip_prefix("method.request.body.") {
        let doc: serde_json::Value = serde_json::from_slice(&f.body).ok()?;
        return json_path(&doc, p).map(json_text);
    }
    None
}

/// A parameter-mapping JSONPath without `$.` (`a.b[0].c`) into `doc`.
pub fn json_path<'a>(doc: &'a serde_json::Value, path: &str) -> Option<&'a serde_json::Value> {
    let mut cur = doc;
    for seg in path.split('.').filter(|s| !s.is_empty()) {
        let (name, mut rest) = match seg.find('[') {
            Some(i) => (&seg[..i], &seg[i..]),
            None => (seg, ""),
        };
        if !name.is_empty() {
            cur = cur.get(name)?;
        }
        while let Some(r) = rest.strip_prefix('[') {
            let end = r.find(']')?;
            let key = r[..end].trim_matches(|c| c == '\'' || c == '"');
            cur = match key.parse::<usize>() {
                Ok(i) => cur.get(i)?,
                Err(_) => cur.get(key)?,
            };
            rest = &r[end + 1..];
        }
    }
    Some(cur)
}

/// A mapped value as text: strings bare, anything else as compact JSON.
pub fn json_text(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// `${stageVariables.x}` substituted.
pub fn with_stage_variables(s: &str, f: &RequestFacts) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(at) = rest.find("${stageVariables.") {
        out.push_str(&rest[..at]);
        let after = &rest[at + "${stageVariables.".len()..];
        match after.find('}') {
            Some(end) => {
                let name = &after[..end];
                if let Some((_, v)) = f.stage_variables.iter().find(|(k, _)| k == name) {
                    out.push_str(v);
                }
                rest = &after[end + 1..];
            }
            None => {
                out.push_str(&rest[at..]);
                rest = "";
            }
        }
    }
    out.push_str(rest);
    out
}

/// `pairs` form-encoded onto `url`'s query (none: `url` unchanged).
pub fn append_query(url: &mut String, pairs: &[(String, String)]) {
    if pairs.is_empty() {
        return;
    }
    let q = form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs.iter())
        .finish();
    url.push(if url.contains('?') { '&' } else { '?' });
    url.push_str(&q);
}

/// An outgoing request to an HTTP integration.
#[derive(Debug, Clone, PartialEq)]
pub struct Outgoing {
    pub url: String,
    pub method: String,
    pub headers: Vec<(String, String)>,
}

const HOP_BY_HOP: &[&str] = &[
    "host",
    "connection",
    "content-length",
    "transfer-encoding",
    "keep-alive",
    "te",
    "upgrade",
];

/// Builds the request. `proxy` (HTTP_PROXY) passes the client's query and headers through;
/// `HTTP` sends only what is mapped.
pub fn outgoing(
    uri: &str,
    integration_method: &str,
    mappings: &[(String, String)],
    f: &RequestFacts,
    proxy: bool,
) -> Outgoing {
    let mut path_values: Vec<(String, String)> = Vec::new();
    let mut query: Vec<(String, String)> = if proxy { f.query_pairs() } else { Vec::new() };
    let mut headers: Vec<(String, String)> = if proxy {
        f.headers
            .iter()
            .filter(|(k, _)| !HOP_BY_HOP.contains(&k.as_str()))
            .cloned()
            .collect()
    } else {
        Vec::new()
    };
    for (target, src) in mappings {
        let Some(value) = source(src, f) else {
            continue;
        };
        if let Some(n) = target.strip_prefix("integration.request.path.") {
            path_values.push((n.to_owned(), value));
        } else if let Some(n) = target.strip_prefix("integration.request.querystring.") {
            query.retain(|(k, _)| k != n);
            query.push((n.to_owned(), value));
        } else if let Some(n) = target.strip_prefix("integration.request.header.") {
            let lower = n.to_ascii_lowercase();
            headers.retain(|(k, _)| *k != lower);
            headers.push((lower, value));
        }
    }
    // Placeholders: mapped values, else the method's path parameter of the same name.
    let mut url = with_stage_variables(uri, f);
    while let Some(start) = url.find('{') {
        let Some(len) = url[start..].find('}') else {
            break;
        };
        let name = url[start + 1..start + len].trim_end_matches('+').to_owned();
        let value = path_values
            .iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.clone())
            .or_else(|| {
                f.path_params
                    .iter()
                    .find(|(k, _)| *k == name)
                    .map(|(_, v)| v.clone())
            })
            .unwrap_or_default();
        url.replace_range(start..start + len + 1, &value);
    }
    append_query(&mut url, &query);
    let method = if integration_method.eq_ignore_ascii_case("ANY") {
        f.method.clone()
    } else {
        integration_method.to_ascii_uppercase()
    };
    Outgoing {
        url,
        method,
        headers,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::common::event::tests::sample;

    #[test]
    fn proxy_passes_everything_and_fills_placeholders() {
        let mut f = sample();
        f.path_params = vec![("proxy".into(), "a/b%20c".into())];
        let o = outgoing(
            "http://up.example/${stageVariables.table}/{proxy}",
            "ANY",
            &[],
            &f,
            true,
        );
        assert_eq!(o.url, "http://up.example/items-dev/a/b%20c?x=1&x=2&y=a+b");
        assert_eq!(o.method, "POST");
        assert!(o.headers.iter().any(|(k, _)| k == "x-multi"));
        assert!(!o.headers.iter().any(|(k, _)| k == "host"));
    }

    #[test]
    fn http_sends_only_what_is_mapped() {
        let f = sample();
        let o = outgoing(
            "http://up.example/items/{id}",
            "GET",
            &[
                (
                    "integration.request.path.id".into(),
                    "method.request.path.id".into(),
                ),
                (
                    "integration.request.querystring.q".into(),
                    "method.request.querystring.x".into(),
                ),
                ("integration.request.header.X-Static".into(), "'yes'".into()),
                (
                    "integration.request.header.X-Stage".into(),
                    "context.stage".into(),
                ),
            ],
            &f,
            false,
        );
        assert_eq!(o.url, "http://up.example/items/a%20b?q=2");
        assert_eq!(o.method, "GET");
        assert_eq!(
            o.headers,
            vec![
                ("x-static".to_owned(), "yes".to_owned()),
                ("x-stage".to_owned(), "dev".to_owned())
            ]
        );
    }
}
