//! Route keys and route matching, exactly per reference §4.1: full matches (static over
//! `{var}`, position by position, then method over `ANY`), then greedy `{name+}` matches
//! (longest literal prefix, then method over `ANY`), then `$default`. Pure: compiled once
//! per deployment, matched per request without allocation beyond the captured values.

use super::consts::{ANY, DEFAULT_ROUTE};

const METHODS: &[&str] = &[
    "GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS", ANY,
];

/// One segment of a route path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Segment {
    Static(String),
    Var(String),
    /// `{name+}`: the rest of the path, one segment or more. Always last.
    Greedy(String),
}

/// A parsed route key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RouteKey {
    Default,
    Route {
        method: String,
        /// The path as written (`/pets/{id}`), for `resource` / `resourcePath`.
        path: String,
        segments: Vec<Segment>,
    },
}

impl RouteKey {
    /// Parses `METHOD /path` or `$default`.
    pub fn parse(key: &str) -> Result<Self, String> {
        if key == DEFAULT_ROUTE {
            return Ok(Self::Default);
        }
        let (method, path) = key
            .split_once(' ')
            .ok_or("expected \"METHOD /path\" or \"$default\"")?;
        if !METHODS.contains(&method) {
            return Err(format!(
                "{method}: the method must be one of {}",
                METHODS.join(", ")
            ));
        }
        let rest = path.strip_prefix('/').ok_or("the path must start with /")?;
        let mut segments = Vec::new();
        if !rest.is_empty() {
            let parts: Vec<&str> = rest.split('/').collect();
            for (i, part) in parts.iter().enumerate() {
                let seg = match part.strip_prefix('{').and_then(|p| p.strip_suffix('}')) {
                    Some(name) => match name.strip_suffix('+') {
                        Some(g) => {
                            if i + 1 != parts.len() {
                                return Err("a greedy {name+} must be the last segment".into());
                            }
                            Segment::Greedy(valid_name(g)?)
                        }
                        None => Segment::Var(valid_name(name)?),
                    },
                    None if part.contains(['{', '}']) => {
                        return Err(format!("{part}: a variable must be a whole segment"))
                    }
                    None => Segment::Static((*part).to_owned()),
                };
                segments.push(seg);
            }
        }
        Ok(Self::Route {
            method: method.to_owned(),
            path: path.to_owned(),
            segments,
        })
    }
}

fn valid_name(n: &str) -> Result<String, String> {
    if !n.is_empty()
        && n.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    {
        Ok(n.to_owned())
    } else {
        Err(format!("{{{n}}}: invalid variable name"))
    }
}

/// A compiled route table over route indices. `T` is whatever the caller attaches.
#[derive(Debug, Clone)]
pub struct RouteTable {
    /// Non-`$default` routes, most specific first.
    ordered: Vec<(usize, String, Vec<Segment>)>,
    default: Option<usize>,
}

/// The result of matching a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteMatch {
    /// Index into the list given to [`RouteTable::compile`].
    pub index: usize,
    /// `(name, raw value)` in path order; values are still percent-encoded.
    pub params: Vec<(String, String)>,
}

impl RouteTable {
    /// Compiles route keys (already checked by [`RouteKey::parse`]). Unparseable keys are
    /// left out.
    pub fn compile<'a>(keys: impl IntoIterator<Item = &'a str>) -> Self {
        let mut ordered = Vec::new();
        let mut default = None;
        for (i, k) in keys.into_iter().enumerate() {
            match RouteKey::parse(k) {
                Ok(RouteKey::Default) => default = default.or(Some(i)),
                Ok(RouteKey::Route {
                    method, segments, ..
                }) => ordered.push((i, method, segments)),
                Err(_) => {}
            }
        }
        ordered.sort_by(|a, b| rank(&a.1, &a.2).cmp(&rank(&b.1, &b.2)).then(a.0.cmp(&b.0)));
        Self { ordered, default }
    }

    /// The route for `method` and `path` (the path inside the stage, raw, starting with `/`).
    pub fn find(&self, method: &str, path: &str) -> Option<RouteMatch> {
        let rest = path.strip_prefix('/').unwrap_or(path);
        let parts: Vec<&str> = if rest.is_empty() {
            Vec::new()
        } else {
            rest.split('/').collect()
        };
        for (index, m, segments) in &self.ordered {
            if m != ANY && m != method {
                continue;
            }
            if let Some(params) = matches(segments, &parts) {
                return Some(RouteMatch {
                    index: *index,
                    params,
                });
            }
        }
        self.default.map(|index| RouteMatch {
            index,
            params: Vec::new(),
        })
    }
}

/// Sort key: full routes before greedy ones; among full routes static before `{var}` at
/// the first differing position; among greedy ones the longer literal prefix first; then
/// a method before `ANY`.
fn rank(method: &str, segments: &[Segment]) -> (u8, usize, Vec<u8>, bool) {
    let greedy = matches!(segments.last(), Some(Segment::Greedy(_)));
    let kinds: Vec<u8> = segments
        .iter()
        .map(|s| match s {
            Segment::Static(_) => 0,
            Segment::Var(_) => 1,
            Segment::Greedy(_) => 2,
        })
        .collect();
    let prefix = if greedy {
        usize::MAX - segments.len()
    } else {
        0
    };
    (u8::from(greedy), prefix, kinds, method == ANY)
}

fn matches(segments: &[Segment], parts: &[&str]) -> Option<Vec<(String, String)>> {
    let mut params = Vec::new();
    for (i, seg) in segments.iter().enumerate() {
        match seg {
            Segment::Static(s) => {
                if parts.get(i) != Some(&s.as_str()) {
                    return None;
                }
            }
            Segment::Var(name) => {
                let p = parts.get(i).filter(|p| !p.is_empty())?;
                params.push((name.clone(), (*p).to_owned()));
            }
            Segment::Greedy(name) => {
                let rest = parts.get(i..).map(|r| r.join("/")).unwrap_or_default();
                if rest.is_empty() {
                    return None;
                }
                params.push((name.clone(), rest));
                return Some(params);
            }
        }
    }
    (segments.len() == parts.len()).then_some(params)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn table(keys: &[&str]) -> RouteTable {
        RouteTable::compile(keys.iter().copied())
    }

    fn route<'a>(t: &RouteTable, keys: &[&'a str], method: &str, path: &str) -> Option<&'a str> {
        t.find(method, path).map(|m| keys[m.index])
    }

    #[test]
    fn the_aws_example_table_of_4_1() {
        let keys = [
            "GET /pets/dog/1",
            "GET /pets/dog/{id}",
            "GET /pets/{proxy+}",
            "ANY /{proxy+}",
            "$default",
        ];
        let t = table(&keys);
        assert_eq!(
            route(&t, &keys, "GET", "/pets/dog/1"),
            Some("GET /pets/dog/1")
        );
        assert_eq!(
            route(&t, &keys, "GET", "/pets/dog/2"),
            Some("GET /pets/dog/{id}")
        );
        assert_eq!(
            route(&t, &keys, "GET", "/pets/cat/1"),
            Some("GET /pets/{proxy+}")
        );
        assert_eq!(route(&t, &keys, "POST", "/test/5"), Some("ANY /{proxy+}"));
        // `ANY /{proxy+}` needs one segment; the root falls to $default.
        assert_eq!(route(&t, &keys, "GET", "/"), Some("$default"));
    }

    #[test]
    fn method_beats_any_and_no_match_without_default_is_none() {
        let keys = ["ANY /items", "GET /items", "POST /items/{id}"];
        let t = table(&keys);
        assert_eq!(route(&t, &keys, "GET", "/items"), Some("GET /items"));
        assert_eq!(route(&t, &keys, "DELETE", "/items"), Some("ANY /items"));
        assert_eq!(route(&t, &keys, "GET", "/items/1"), None);
        assert_eq!(
            route(&t, &keys, "POST", "/items/"),
            None,
            "a variable needs a value"
        );
        let m = t.find("POST", "/items/a%20b").expect("match");
        assert_eq!(m.params, vec![("id".to_owned(), "a%20b".to_owned())]);
    }

    #[test]
    fn static_beats_variable_position_by_position() {
        let keys = ["GET /{a}/b", "GET /a/{b}"];
        let t = table(&keys);
        assert_eq!(route(&t, &keys, "GET", "/a/b"), Some("GET /a/{b}"));
        assert_eq!(route(&t, &keys, "GET", "/x/b"), Some("GET /{a}/b"));
    }

    #[test]
    fn greedy_captures_the_rest_with_slashes() {
        let keys = ["ANY /files/{path+}"];
        let t = table(&keys);
        let m = t.find("GET", "/files/a/b//c/").expect("match");
        assert_eq!(m.params, vec![("path".to_owned(), "a/b//c/".to_owned())]);
        assert!(t.find("GET", "/files").is_none());
        assert!(t.find("GET", "/files/").is_none());
    }

    #[test]
    fn root_routes_and_trailing_slashes() {
        let keys = ["GET /", "GET /a"];
        let t = table(&keys);
        assert_eq!(route(&t, &keys, "GET", "/"), Some("GET /"));
        assert_eq!(route(&t, &keys, "GET", "/a"), Some("GET /a"));
        assert_eq!(route(&t, &keys, "GET", "/a/"), None);
    }

    #[test]
    fn keys_that_do_not_parse() {
        for bad in [
            "GET",
            "get /x",
            "GET x",
            "GET /{a+}/b",
            "GET /a{b}",
            "FETCH /",
            "GET /{}",
        ] {
            assert!(RouteKey::parse(bad).is_err(), "{bad}");
        }
        assert_eq!(RouteKey::parse("$default"), Ok(RouteKey::Default));
    }

    proptest! {
        #[test]
        fn matching_is_deterministic_and_never_panics(
            path in "(/[a-z0-9%{}+.]{0,4}){0,6}",
            method in prop::sample::select(vec!["GET", "POST", "HEAD", "OPTIONS", "DELETE"]),
            order in prop::collection::vec(0usize..8, 8),
        ) {
            let keys = [
                "GET /pets/dog/1", "GET /pets/dog/{id}", "GET /pets/{proxy+}", "ANY /{proxy+}",
                "POST /{a}/{b}", "ANY /a", "GET /", "$default",
            ];
            let t = table(&keys);
            let first = t.find(method, &path).map(|m| keys[m.index]);
            prop_assert_eq!(first, t.find(method, &path).map(|m| keys[m.index]));
            // The answer does not depend on the order routes were defined in.
            let mut shuffled: Vec<&str> = keys.to_vec();
            for (i, j) in order.iter().enumerate() {
                shuffled.swap(i, *j);
            }
            let t2 = RouteTable::compile(shuffled.iter().copied());
            prop_assert_eq!(first, t2.find(method, &path).map(|m| shuffled[m.index]));
            prop_assert!(first.is_some(), "$default catches everything");
        }

        #[test]
        fn arbitrary_keys_and_paths_never_panic(key in ".{0,24}", path in ".{0,40}") {
            let t = RouteTable::compile([key.as_str()]);
            let _ = t.find("GET", &path);
        }
    }
}
