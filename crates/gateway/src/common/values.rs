//! Reading template property values as CloudFormation writes them: scalars as text,
//! numbers and booleans from strings, comma-separated lists.

use std::collections::BTreeMap;

use serde_json::Value as J;

use crate::GatewayError;

pub(crate) fn get<'a>(v: &'a J, keys: &[&str]) -> Option<&'a J> {
    keys.iter().find_map(|k| v.get(*k))
}

pub(crate) fn text(v: &J) -> Option<String> {
    match v {
        J::String(s) => Some(s.clone()),
        J::Number(n) => Some(n.to_string()),
        J::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

pub(crate) fn uint(v: &J) -> Option<u64> {
    match v {
        J::Number(n) => n.as_u64(),
        J::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

pub(crate) fn number(v: &J) -> Option<f64> {
    match v {
        J::Number(n) => n.as_f64(),
        J::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

pub(crate) fn boolean(v: &J) -> Option<bool> {
    match v {
        J::Bool(b) => Some(*b),
        J::String(s) => s.parse().ok(),
        _ => None,
    }
}

/// A list of strings, or one comma-separated string.
pub(crate) fn strings(v: Option<&J>) -> Vec<String> {
    match v {
        Some(J::Array(a)) => a.iter().filter_map(text).collect(),
        Some(J::String(s)) => s
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect(),
        _ => Vec::new(),
    }
}

pub(crate) fn pairs(v: Option<&J>) -> Vec<(String, String)> {
    match v {
        Some(J::Object(m)) => m
            .iter()
            .filter_map(|(k, v)| Some((k.clone(), text(v)?)))
            .collect(),
        _ => Vec::new(),
    }
}

pub(crate) fn string_map(
    v: Option<&J>,
    site: &str,
    property: &str,
) -> Result<BTreeMap<String, String>, GatewayError> {
    match v {
        None | Some(J::Null) => Ok(BTreeMap::new()),
        Some(J::Object(m)) => m
            .iter()
            .map(|(k, v)| {
                text(v)
                    .map(|t| (k.clone(), t))
                    .ok_or_else(|| GatewayError::spec(site, property, format!("{k}: must be text")))
            })
            .collect(),
        Some(_) => Err(GatewayError::spec(site, property, "must be a mapping")),
    }
}
