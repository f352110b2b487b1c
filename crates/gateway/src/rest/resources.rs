//! The REST resource tree: paths such as `/pets/{id}` and `/{proxy+}`, compiled once per
//! deployment and matched per request. At every level a literal child beats the variable
//! child, which beats a greedy `{name+}` child, with backtracking when a more specific
//! branch dead-ends. `{name+}` takes one segment or more, so `/` never matches `/{proxy+}`.
//! A level may have one variable child only, as API Gateway requires. Pure.

use std::collections::HashMap;

/// One segment of a resource path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Part {
    Literal(String),
    Var(String),
    Greedy(String),
}

/// Parses a resource path (`/`, `/pets/{id}`, `/files/{path+}`).
pub fn parse_path(path: &str) -> Result<Vec<Part>, String> {
    let rest = path
        .strip_prefix('/')
        .ok_or_else(|| format!("{path}: a resource path starts with /"))?;
    if rest.is_empty() {
        return Ok(Vec::new());
    }
    let segs: Vec<&str> = rest.split('/').collect();
    let mut parts = Vec::with_capacity(segs.len());
    for (i, seg) in segs.iter().enumerate() {
        if seg.is_empty() {
            return Err(format!("{path}: empty path part"));
        }
        let part = match seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
            Some(name) => match name.strip_suffix('+') {
                Some(g) => {
                    if i + 1 != segs.len() {
                        return Err(format!("{path}: a greedy {{{g}+}} must be the last part"));
                    }
                    Part::Greedy(valid_name(path, g)?)
                }
                None => Part::Var(valid_name(path, name)?),
            },
            None if seg.contains(['{', '}']) => {
                return Err(format!("{path}: a variable must be a whole path part"))
            }
            None => Part::Literal((*seg).to_owned()),
        };
        parts.push(part);
    }
    Ok(parts)
}

fn valid_name(path: &str, n: &str) -> Result<String, String> {
    if !n.is_empty()
        && n.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-' || c == '.')
    {
        Ok(n.to_owned())
    } else {
        Err(format!("{path}: {{{n}}} is not a valid parameter name"))
    }
}

#[derive(Debug, Default)]
struct Node {
    resource: Option<usize>,
    literals: HashMap<String, Node>,
    var: Option<(String, Box<Node>)>,
    greedy: Option<(String, usize)>,
}

/// The compiled tree over resource indices.
#[derive(Debug, Default)]
pub struct ResourceTree {
    root: Node,
}

/// A matched resource and its path parameters (`(name, raw value)`, still encoded).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResourceMatch {
    pub resource: usize,
    pub params: Vec<(String, String)>,
}

impl ResourceTree {
    /// Compiles resource paths (index = position). Errors name the offending path.
    pub fn compile<'a>(paths: impl IntoIterator<Item = &'a str>) -> Result<Self, String> {
        let mut root = Node::default();
        for (index, path) in paths.into_iter().enumerate() {
            let parts = parse_path(path)?;
            let mut node = &mut root;
            let n = parts.len();
            for (i, part) in parts.into_iter().enumerate() {
                match part {
                    Part::Literal(l) => node = node.literals.entry(l).or_default(),
                    Part::Var(v) => {
                        if node.greedy.is_some() {
                            return Err(sibling(path));
                        }
                        match &node.var {
                            Some((existing, _)) if *existing != v => return Err(sibling(path)),
                            _ => {}
                        }
                        node = &mut *node.var.get_or_insert_with(|| (v, Box::default())).1;
                    }
                    Part::Greedy(g) => {
                        debug_assert_eq!(i + 1, n);
                        if node.var.is_some() {
                            return Err(sibling(path));
                        }
                        if let Some((existing, _)) = &node.greedy {
                            if *existing != g {
                                return Err(sibling(path));
                            }
                            return Err(format!("{path}: defined twice"));
                        }
                        node.greedy = Some((g, index));
                    }
                }
                if i + 1 == n && node.greedy.as_ref().is_none_or(|(_, ix)| *ix != index) {
                    if node.resource.is_some() {
                        return Err(format!("{path}: defined twice"));
                    }
                    node.resource = Some(index);
                }
            }
            if n == 0 {
                if root.resource.is_some() {
                    return Err(format!("{path}: defined twice"));
                }
                root.resource = Some(index);
            }
        }
        Ok(Self { root })
    }

    /// Matches a stage-relative request path (`/pets/1`, still encoded). A trailing slash
    /// is ignored for matching (and kept in the greedy value's inner slashes).
    pub fn find(&self, path: &str) -> Option<ResourceMatch> {
        let trimmed = path.trim_start_matches('/');
        let trimmed = trimmed.strip_suffix('/').unwrap_or(trimmed);
        let mut params = Vec::new();
        if trimmed.is_empty() {
            return self
                .root
                .resource
                .map(|resource| ResourceMatch { resource, params });
        }
        let resource = walk(&self.root, trimmed, &mut params)?;
        Some(ResourceMatch { resource, params })
    }
}

fn sibling(path: &str) -> String {
    format!("{path}: a sibling of this resource already has a variable path part -- only one is allowed")
}

/// `rest` is the unmatched remainder (no leading slash, non-empty).
fn walk(node: &Node, rest: &str, params: &mut Vec<(String, String)>) -> Option<usize> {
    let (seg, tail) = match rest.split_once('/') {
        Some((s, t)) => (s, Some(t)),
        None => (rest, None),
    };
    let descend = |child: &Node, params: &mut Vec<(String, String)>| match tail {
        None | Some("") => child.resource,
        Some(t) => walk(child, t, params),
    };
    if let Some(child) = node.literals.get(seg) {
        let mark = params.len();
        if let Some(r) = descend(child, params) {
            return Some(r);
        }
        params.truncate(mark);
    }
    if let Some((name, child)) = &node.var {
        if !seg.is_empty() {
            let mark = params.len();
            params.push((name.clone(), seg.to_owned()));
            if let Some(r) = descend(child, params) {
                return Some(r);
            }
            params.truncate(mark);
        }
    }
    if let Some((name, index)) = &node.greedy {
        params.push((name.clone(), rest.to_owned()));
        return Some(*index);
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn tree(paths: &[&str]) -> ResourceTree {
        ResourceTree::compile(paths.iter().copied()).expect("compiles")
    }

    fn m(t: &ResourceTree, p: &str) -> Option<(usize, Vec<(String, String)>)> {
        t.find(p).map(|m| (m.resource, m.params))
    }

    fn p(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(a, b)| ((*a).to_owned(), (*b).to_owned()))
            .collect()
    }

    #[test]
    fn literals_beat_variables_beat_greedy() {
        let t = tree(&["/", "/pets", "/pets/{id}", "/pets/dog", "/{proxy+}"]);
        assert_eq!(m(&t, "/"), Some((0, vec![])));
        assert_eq!(m(&t, "/pets"), Some((1, vec![])));
        assert_eq!(m(&t, "/pets/"), Some((1, vec![])), "trailing slash");
        assert_eq!(m(&t, "/pets/dog"), Some((3, vec![])));
        assert_eq!(m(&t, "/pets/cat"), Some((2, p(&[("id", "cat")]))));
        assert_eq!(
            m(&t, "/pets/cat/toys"),
            Some((4, p(&[("proxy", "pets/cat/toys")]))),
            "backtracks to the greedy resource"
        );
        assert_eq!(m(&t, "/a%20b"), Some((4, p(&[("proxy", "a%20b")]))));
        assert_eq!(
            m(&t, "/x//y"),
            Some((4, p(&[("proxy", "x//y")]))),
            "double slashes kept"
        );
    }

    #[test]
    fn root_is_not_greedy_and_unknown_paths_do_not_match() {
        let t = tree(&["/{proxy+}"]);
        assert_eq!(m(&t, "/"), None);
        let t = tree(&["/pets/{id}"]);
        assert_eq!(m(&t, "/pets"), None, "/pets is not a resource");
        assert_eq!(m(&t, "/pets/1/2"), None);
        assert_eq!(m(&t, "/other"), None);
    }

    #[test]
    fn nested_variables_and_greedy_under_a_prefix() {
        let t = tree(&["/users/{user}/posts/{post}", "/files/{path+}"]);
        assert_eq!(
            m(&t, "/users/u1/posts/p%2F2"),
            Some((0, p(&[("user", "u1"), ("post", "p%2F2")])))
        );
        assert_eq!(
            m(&t, "/files/a/b/c.txt"),
            Some((1, p(&[("path", "a/b/c.txt")])))
        );
        assert_eq!(m(&t, "/files"), None);
    }

    #[test]
    fn invalid_trees() {
        for bad in [
            vec!["/pets/{id}", "/pets/{name}"],
            vec!["/{a}", "/{proxy+}"],
            vec!["pets"],
            vec!["/a/{p+}/b"],
            vec!["/a{b}"],
            vec!["/pets", "/pets"],
            vec!["/a//b"],
        ] {
            assert!(
                ResourceTree::compile(bad.iter().copied()).is_err(),
                "{bad:?}"
            );
        }
        // The same variable name under one parent is one child.
        tree(&["/pets/{id}", "/pets/{id}/toys"]);
    }

    proptest! {
        /// Any path under a greedy root resource matches, and its value is the path.
        #[test]
        fn greedy_takes_the_rest(segs in proptest::collection::vec("[a-z0-9%]{1,6}", 1..6)) {
            let t = tree(&["/{proxy+}"]);
            let path = format!("/{}", segs.join("/"));
            let got = t.find(&path).expect("matches");
            prop_assert_eq!(got.params, p(&[("proxy", &segs.join("/"))]));
        }

        /// Literal paths always find themselves.
        #[test]
        fn literals_find_themselves(segs in proptest::collection::vec("[a-z]{1,5}", 0..5)) {
            let path = format!("/{}", segs.join("/"));
            let t = tree(&[path.as_str(), "/{proxy+}"]);
            prop_assert_eq!(t.find(&path).map(|m| m.resource), Some(0));
        }
    }
}
