//! Invalidations: validation of a batch, the path matcher (exact paths and a trailing `*`,
//! case-sensitive), ids, and history kept in memory with a pluggable persistence hook.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::SystemTime;

use crate::EdgeError;

/// `InProgress` → `Completed`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub enum InvalidationStatus {
    InProgress,
    Completed,
}

impl InvalidationStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::InProgress => "InProgress",
            Self::Completed => "Completed",
        }
    }
}

/// One CreateInvalidation.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Invalidation {
    /// `I…` (14 upper-case letters and digits, like CloudFront's).
    pub id: String,
    pub distribution_id: String,
    pub status: InvalidationStatus,
    pub create_time: SystemTime,
    pub paths: Vec<String>,
    pub caller_reference: String,
    /// Cached objects removed, over every tier.
    pub objects_removed: u64,
}

/// Persistence for invalidation history (the app backs it with `ledge-store`).
pub trait InvalidationStore: Send + Sync {
    /// Called on create and on every status change.
    fn save(&self, invalidation: &Invalidation);
    /// Every saved invalidation of a distribution (any order), loaded at start.
    fn load(&self, distribution_id: &str) -> Vec<Invalidation>;
}

/// History in memory only.
#[derive(Debug, Default)]
pub struct MemoryInvalidationStore {
    items: Mutex<BTreeMap<String, Vec<Invalidation>>>,
}

impl InvalidationStore for MemoryInvalidationStore {
    fn save(&self, inv: &Invalidation) {
        let mut items = self.items.lock().unwrap_or_else(|e| e.into_inner());
        let list = items.entry(inv.distribution_id.clone()).or_default();
        match list.iter_mut().find(|i| i.id == inv.id) {
            Some(existing) => *existing = inv.clone(),
            None => list.push(inv.clone()),
        }
    }

    fn load(&self, distribution_id: &str) -> Vec<Invalidation> {
        let items = self.items.lock().unwrap_or_else(|e| e.into_inner());
        items.get(distribution_id).cloned().unwrap_or_default()
    }
}

/// One path of a batch, compiled.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum PathMatcher {
    Exact(String),
    Prefix(String),
}

impl PathMatcher {
    /// `path` is an object's invalidation path: its request path, plus `?query` when the
    /// query string is part of the cache key.
    pub(crate) fn matches(&self, path: &str) -> bool {
        match self {
            Self::Exact(p) => p == path,
            Self::Prefix(p) => path.starts_with(p.as_str()),
        }
    }
}

/// Validates a batch as CloudFront does and compiles it.
pub(crate) fn compile(paths: &[String]) -> Result<Vec<PathMatcher>, EdgeError> {
    if paths.is_empty() {
        return Err(EdgeError::InvalidArgument(
            "the batch must name at least one path".into(),
        ));
    }
    paths
        .iter()
        .map(|p| {
            if p.len() > 4000 {
                return Err(EdgeError::InvalidArgument(format!(
                    "path {p:?} is longer than 4000 characters"
                )));
            }
            // CloudFront accepts paths without a leading `/` and adds it.
            let p = if p.starts_with('/') {
                p.clone()
            } else {
                format!("/{p}")
            };
            match p.find('*') {
                None => Ok(PathMatcher::Exact(p)),
                Some(i) if i == p.len() - 1 => Ok(PathMatcher::Prefix(p[..i].to_owned())),
                Some(_) => Err(EdgeError::InvalidArgument(format!(
                    "path {p:?}: `*` is allowed only as the last character"
                ))),
            }
        })
        .collect()
}

/// A CloudFront-shaped id: a letter then 13 upper-case letters and digits.
pub(crate) fn new_id(prefix: char) -> String {
    use rand::Rng;
    const CHARS: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    let mut rng = rand::rng();
    std::iter::once(prefix)
        .chain((0..13).map(|_| CHARS[rng.random_range(0..CHARS.len())] as char))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exact_and_wildcard_paths_are_case_sensitive() {
        let m = compile(&["/images/a.jpg".into(), "/css*".into(), "js/*".into()]).expect("valid");
        assert!(m[0].matches("/images/a.jpg"));
        assert!(!m[0].matches("/images/A.jpg"));
        assert!(
            !m[0].matches("/images/a.jpg?v=1"),
            "query must be named or wildcarded"
        );
        assert!(m[1].matches("/css/site.css"));
        assert!(m[1].matches("/css-old.css"));
        assert!(!m[1].matches("/CSS/site.css"));
        assert!(m[2].matches("/js/app.js"));
        assert!(!m[2].matches("/js"));
        let all = compile(&["/*".into()]).expect("valid");
        assert!(all[0].matches("/anything?x=1"));
    }

    #[test]
    fn star_only_last() {
        assert!(compile(&["/a*/b".into()]).is_err());
        assert!(compile(&[]).is_err());
    }

    #[test]
    fn ids_look_like_cloudfront() {
        let id = new_id('I');
        assert_eq!(id.len(), 14);
        assert!(id.starts_with('I'));
        assert!(id
            .chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit()));
    }
}
