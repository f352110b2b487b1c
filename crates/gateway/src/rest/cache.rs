//! The stage cache's policy (reference §1): which parameters make up a method's key, the
//! key itself, `Cache-Control: max-age=0`, and the deploy-time warning about path
//! parameters left out of a key. Storage, coalescing and counters are `ledge-cache`'s. Pure.
//!
//! The key is `[stage, cacheNamespace (the resource id by default), METHOD, "name=value"…]`
//! with exactly the listed `cacheKeyParameters`, in their listed order, and nothing else:
//! two paths of one `{id}` resource without `method.request.path.id` in the key share an
//! entry, as they do on AWS. The body and `Authorization` are never part of it unless
//! listed (`Authorization` as a header parameter).

use ledge_cache::CacheKey;

use super::spec::MethodSpec;

/// Where a key parameter's value comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeySource {
    Path(String),
    /// `querystring` and `multivaluequerystring`: every value, comma-joined.
    Query(String),
    /// `header` and `multivalueheader` (name lower-case): every value, comma-joined.
    Header(String),
}

/// One parsed `cacheKeyParameters` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyParam {
    /// As written (`method.request.querystring.type`): the label in the key.
    pub label: String,
    pub source: KeySource,
}

/// Parses `method.request.{path|querystring|multivaluequerystring|header|multivalueheader}.X`.
pub fn parse_key_param(p: &str) -> Option<KeyParam> {
    let rest = p.strip_prefix("method.request.")?;
    let (kind, name) = rest.split_once('.')?;
    if name.is_empty() {
        return None;
    }
    let source = match kind {
        "path" => KeySource::Path(name.to_owned()),
        "querystring" | "multivaluequerystring" => KeySource::Query(name.to_owned()),
        "header" | "multivalueheader" => KeySource::Header(name.to_ascii_lowercase()),
        _ => return None,
    };
    Some(KeyParam {
        label: p.to_owned(),
        source,
    })
}

/// What a request offers to a key, without building the whole event.
pub trait KeyValues {
    fn path_param(&self, name: &str) -> Option<&str>;
    /// Every value of a query parameter (form-decoded), in order.
    fn query_values(&self, name: &str) -> Vec<String>;
    /// Every value of a header (name lower-case), in order.
    fn header_values(&self, name: &str) -> Vec<String>;
}

/// The cache key of one request.
pub fn key(
    stage: &str,
    namespace: &str,
    method: &str,
    params: &[KeyParam],
    values: &dyn KeyValues,
) -> CacheKey {
    let mut b = CacheKey::builder(stage).part(namespace).part(method);
    for p in params {
        let value = match &p.source {
            KeySource::Path(n) => values.path_param(n).map(str::to_owned),
            KeySource::Query(n) => {
                let v = values.query_values(n);
                (!v.is_empty()).then(|| v.join(","))
            }
            KeySource::Header(n) => {
                let v = values.header_values(n);
                (!v.is_empty()).then(|| v.join(","))
            }
        };
        // An absent parameter and an empty one are different keys.
        b = match value {
            Some(v) => b.part(format!("{}={v}", p.label)),
            None => b.part(&p.label),
        };
    }
    b.build()
}

/// Whether a `Cache-Control` request header asks to refresh the entry (`max-age=0`).
pub fn wants_refresh<'a>(cache_control: impl IntoIterator<Item = &'a str>) -> bool {
    cache_control.into_iter().any(|v| {
        v.split(',').any(|d| {
            let d = d.trim();
            d.split_once('=').is_some_and(|(k, v)| {
                k.trim().eq_ignore_ascii_case("max-age") && v.trim().trim_matches('"') == "0"
            })
        })
    })
}

/// The path parameters of `method`'s resource that its cache key leaves out.
pub fn unkeyed_path_params(method: &MethodSpec) -> Vec<String> {
    let Ok(parts) = super::resources::parse_path(&method.resource_path) else {
        return Vec::new();
    };
    parts
        .into_iter()
        .filter_map(|p| match p {
            super::resources::Part::Var(n) | super::resources::Part::Greedy(n) => Some(n),
            super::resources::Part::Literal(_) => None,
        })
        .filter(|n| {
            !method
                .cache_key_parameters
                .iter()
                .any(|k| k == &format!("method.request.path.{n}"))
        })
        .collect()
}

/// The deploy-time warning for a cached method whose key leaves out path parameters.
pub fn unkeyed_warning(api: &str, stages: &[String], method: &MethodSpec) -> Option<String> {
    let missing = unkeyed_path_params(method);
    if missing.is_empty() {
        return None;
    }
    let list = missing
        .iter()
        .map(|n| format!("{{{n}}}"))
        .collect::<Vec<_>>()
        .join(", ");
    let add = missing
        .iter()
        .map(|n| format!("method.request.path.{n}"))
        .collect::<Vec<_>>()
        .join(", ");
    Some(format!(
        "warning: {api}: {} {} is cached (stage {}) but its cache key leaves out path parameter{} {list}: every request to it shares one cache entry, as on AWS. Add {add} to the integration's cacheKeyParameters (SAM: RequestParameters with Caching: true).",
        method.http_method,
        method.resource_path,
        stages.join(", "),
        if missing.len() > 1 { "s" } else { "" },
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    use crate::rest::spec::{MethodAuth, RestIntegration};

    struct V {
        path: Vec<(&'static str, &'static str)>,
        query: Vec<(&'static str, &'static str)>,
        headers: Vec<(&'static str, &'static str)>,
    }

    impl KeyValues for V {
        fn path_param(&self, name: &str) -> Option<&str> {
            self.path.iter().find(|(k, _)| *k == name).map(|(_, v)| *v)
        }
        fn query_values(&self, name: &str) -> Vec<String> {
            self.query
                .iter()
                .filter(|(k, _)| *k == name)
                .map(|(_, v)| (*v).to_owned())
                .collect()
        }
        fn header_values(&self, name: &str) -> Vec<String> {
            self.headers
                .iter()
                .filter(|(k, _)| *k == name)
                .map(|(_, v)| (*v).to_owned())
                .collect()
        }
    }

    fn params(list: &[&str]) -> Vec<KeyParam> {
        list.iter()
            .map(|p| parse_key_param(p).expect("valid"))
            .collect()
    }

    #[test]
    fn keys_hold_only_the_listed_parameters_in_order() {
        let v = V {
            path: vec![("id", "one")],
            query: vec![("type", "admin"), ("department", "A")],
            headers: vec![("accept-language", "fr"), ("authorization", "Bearer x")],
        };
        let k = key(
            "Prod",
            "res1",
            "GET",
            &params(&[
                "method.request.querystring.type",
                "method.request.header.Accept-Language",
            ]),
            &v,
        );
        assert_eq!(
            k.to_string(),
            "Prod|res1|GET|method.request.querystring.type=admin|method.request.header.Accept-Language=fr"
        );
        // No key parameters: the path and query do not matter.
        let a = key("Prod", "res1", "GET", &[], &v);
        let other = V {
            path: vec![("id", "two")],
            query: vec![],
            headers: vec![],
        };
        assert_eq!(a, key("Prod", "res1", "GET", &[], &other));
        // Absent and empty differ; methods and stages differ.
        let absent = key(
            "Prod",
            "r",
            "GET",
            &params(&["method.request.querystring.q"]),
            &other,
        );
        let empty = V {
            path: vec![],
            query: vec![("q", "")],
            headers: vec![],
        };
        assert_ne!(
            absent,
            key(
                "Prod",
                "r",
                "GET",
                &params(&["method.request.querystring.q"]),
                &empty
            )
        );
        assert_ne!(a, key("Prod", "res1", "POST", &[], &v));
        assert_ne!(a, key("Beta", "res1", "GET", &[], &v));
    }

    #[test]
    fn key_parameter_grammar() {
        assert_eq!(
            parse_key_param("method.request.header.X-Tenant").map(|p| p.source),
            Some(KeySource::Header("x-tenant".into()))
        );
        assert_eq!(
            parse_key_param("method.request.multivaluequerystring.t").map(|p| p.source),
            Some(KeySource::Query("t".into()))
        );
        for bad in [
            "method.input.params.query",
            "method.request.body",
            "method.request.path.",
        ] {
            assert!(parse_key_param(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn max_age_zero_only() {
        assert!(wants_refresh(["max-age=0"]));
        assert!(wants_refresh(["no-store, Max-Age = 0"]));
        assert!(wants_refresh(["max-age=\"0\""]));
        assert!(!wants_refresh(["max-age=10"]));
        assert!(!wants_refresh(["no-cache"]));
        assert!(!wants_refresh(Vec::<&str>::new()));
    }

    #[test]
    fn the_shared_entry_warning() {
        let mut m = MethodSpec {
            resource_path: "/yubl/{id}".into(),
            http_method: "GET".into(),
            auth: MethodAuth::None,
            api_key_required: false,
            request_parameters: BTreeMap::new(),
            integration: RestIntegration::Mock {
                status: 200,
                headers: vec![],
                body: String::new(),
            },
            cache_key_parameters: vec![],
            cache_namespace: None,
        };
        let w = unkeyed_warning("Api", &["Prod".into()], &m).expect("warns");
        assert!(
            w.contains("GET /yubl/{id}") && w.contains("method.request.path.id"),
            "{w}"
        );
        m.cache_key_parameters = vec!["method.request.path.id".into()];
        assert_eq!(unkeyed_warning("Api", &["Prod".into()], &m), None);
        m.resource_path = "/static".into();
        m.cache_key_parameters.clear();
        assert_eq!(unkeyed_warning("Api", &["Prod".into()], &m), None);
    }
}
