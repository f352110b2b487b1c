//! Lambda authorizer answers shared by HTTP and REST APIs: simple responses and IAM
//! policies (`execute-api:Invoke` on the method ARN, `*` / `?` wildcards), and the result
//! cache keyed by identity-source values. Pure: callers pass `now`.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use serde_json::{Map, Value as J};

/// What an authorizer decided.
#[derive(Debug, Clone, PartialEq)]
pub struct Decision {
    pub allow: bool,
    /// A statement matching the method denies it (REST answers this with its own body).
    pub explicit_deny: bool,
    pub context: Map<String, J>,
    pub principal_id: Option<String>,
    /// `usageIdentifierKey`: the API key of a REST API whose key source is AUTHORIZER.
    pub usage_identifier_key: Option<String>,
}

/// Reads the authorizer's answer. Simple responses (`isAuthorized`) only when enabled;
/// IAM policies always. `Err` is a malformed answer (500).
pub fn parse_response(payload: &[u8], simple: bool, route_arn: &str) -> Result<Decision, String> {
    let v: J = serde_json::from_slice(payload).map_err(|e| format!("not JSON: {e}"))?;
    let o = v.as_object().ok_or("not an object")?;
    let context = match o.get("context") {
        None | Some(J::Null) => Map::new(),
        Some(J::Object(m)) => {
            if m.contains_key("claims") {
                return Err("context.claims is reserved".into());
            }
            m.clone()
        }
        Some(_) => return Err("context must be an object".into()),
    };
    if simple {
        if let Some(b) = o.get("isAuthorized") {
            let allow = b.as_bool().ok_or("isAuthorized must be a boolean")?;
            return Ok(Decision {
                allow,
                explicit_deny: false,
                context,
                principal_id: None,
                usage_identifier_key: None,
            });
        }
    }
    let policy = o.get("policyDocument").ok_or(if simple {
        "neither isAuthorized nor policyDocument"
    } else {
        "no policyDocument"
    })?;
    let principal_id = o.get("principalId").and_then(J::as_str).map(str::to_owned);
    let usage_identifier_key = o
        .get("usageIdentifierKey")
        .and_then(J::as_str)
        .map(str::to_owned);
    if principal_id.is_none() {
        return Err("an IAM policy response needs principalId".into());
    }
    let statements = match policy.get("Statement") {
        Some(J::Array(a)) => a.clone(),
        Some(s @ J::Object(_)) => vec![s.clone()],
        _ => return Err("policyDocument.Statement missing".into()),
    };
    let mut allowed = false;
    for s in &statements {
        let effect = s
            .get("Effect")
            .and_then(J::as_str)
            .ok_or("Statement.Effect missing")?;
        let actions = list(s.get("Action"));
        let resources = list(s.get("Resource"));
        let action_ok = actions
            .iter()
            .any(|a| glob(a, "execute-api:Invoke") || a == "*");
        let resource_ok = resources.iter().any(|r| glob(r, route_arn));
        if action_ok && resource_ok {
            match effect {
                "Deny" => {
                    return Ok(Decision {
                        allow: false,
                        explicit_deny: true,
                        context,
                        principal_id,
                        usage_identifier_key,
                    })
                }
                "Allow" => allowed = true,
                _ => return Err(format!("Effect {effect:?}")),
            }
        }
    }
    Ok(Decision {
        allow: allowed,
        explicit_deny: false,
        context,
        principal_id,
        usage_identifier_key,
    })
}

fn list(v: Option<&J>) -> Vec<String> {
    match v {
        Some(J::String(s)) => vec![s.clone()],
        Some(J::Array(a)) => a.iter().filter_map(J::as_str).map(str::to_owned).collect(),
        _ => Vec::new(),
    }
}

/// IAM-style wildcard match: `*` any run, `?` one character.
pub fn glob(pattern: &str, text: &str) -> bool {
    let (p, t): (Vec<char>, Vec<char>) = (pattern.chars().collect(), text.chars().collect());
    let (mut pi, mut ti, mut star, mut mark) = (0, 0, None, 0);
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some(pi);
            mark = ti;
            pi += 1;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            ti = mark;
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|c| *c == '*')
}

/// Cached answers (decisions for HTTP APIs, raw policies for REST APIs, which evaluate a
/// cached policy against each request's method ARN) by authorizer and identity-source
/// values, each with its expiry.
#[derive(Debug)]
pub struct ResultCache<V = Decision> {
    entries: HashMap<(String, Vec<String>), (V, Instant)>,
}

impl<V> Default for ResultCache<V> {
    fn default() -> Self {
        Self {
            entries: HashMap::new(),
        }
    }
}

impl<V: Clone> ResultCache<V> {
    pub fn get(&self, authorizer: &str, identity: &[String], now: Instant) -> Option<V> {
        self.entries
            .get(&(authorizer.to_owned(), identity.to_vec()))
            .filter(|(_, until)| now < *until)
            .map(|(d, _)| d.clone())
    }

    pub fn put(
        &mut self,
        authorizer: &str,
        identity: Vec<String>,
        d: V,
        ttl: Duration,
        now: Instant,
    ) {
        if ttl.is_zero() {
            return;
        }
        if self.entries.len() > 10_000 {
            self.entries.retain(|_, (_, until)| now < *until);
        }
        self.entries
            .insert((authorizer.to_owned(), identity), (d, now + ttl));
    }

    /// `ResetAuthorizersCache`.
    pub fn clear(&mut self) {
        self.entries.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ARN: &str = "arn:aws:execute-api:us-east-1:123456789012:MyApi/dev/POST/items/a%20b";

    #[test]
    fn simple_and_policy_responses() {
        let d = parse_response(
            br#"{"isAuthorized": true, "context": {"user": "u1", "n": 3}}"#,
            true,
            ARN,
        )
        .expect("ok");
        assert!(d.allow);
        assert_eq!(d.context["n"], 3);
        assert!(
            parse_response(br#"{"isAuthorized": true}"#, false, ARN).is_err(),
            "simple needs enabling"
        );
        assert!(parse_response(br#"{"isAuthorized": "yes"}"#, true, ARN).is_err());
        assert!(parse_response(b"null", true, ARN).is_err());
        assert!(parse_response(
            br#"{"isAuthorized": true, "context": {"claims": 1}}"#,
            true,
            ARN
        )
        .is_err());
        let allow = r#"{"principalId": "p", "policyDocument": {"Version": "2012-10-17", "Statement": [
                {"Action": "execute-api:Invoke", "Effect": "Allow", "Resource": "arn:aws:execute-api:us-east-1:123456789012:MyApi/*/POST/*"}]},
                "context": {"k": "v"}}"#;
        let d = parse_response(allow.as_bytes(), false, ARN).expect("ok");
        assert!(d.allow);
        assert_eq!(d.principal_id.as_deref(), Some("p"));
        let deny = allow.replace("Allow", "Deny");
        assert!(
            !parse_response(deny.as_bytes(), false, ARN)
                .expect("ok")
                .allow
        );
        let other = allow.replace("/POST/", "/GET/");
        assert!(
            !parse_response(other.as_bytes(), false, ARN)
                .expect("ok")
                .allow,
            "no matching resource"
        );
    }

    #[test]
    fn cache_by_identity_with_ttl() {
        let t0 = Instant::now();
        let mut c = ResultCache::default();
        let d = Decision {
            allow: true,
            explicit_deny: false,
            context: Map::new(),
            principal_id: None,
            usage_identifier_key: None,
        };
        c.put(
            "a",
            vec!["tok".into()],
            d.clone(),
            Duration::from_secs(5),
            t0,
        );
        assert_eq!(
            c.get("a", &["tok".into()], t0 + Duration::from_secs(4)),
            Some(d)
        );
        assert_eq!(
            c.get("a", &["tok".into()], t0 + Duration::from_secs(5)),
            None
        );
        assert_eq!(c.get("a", &["other".into()], t0), None);
        assert_eq!(c.get("b", &["tok".into()], t0), None);
    }

    #[test]
    fn globbing() {
        assert!(glob("arn:*/dev/*", "arn:x/dev/GET/a"));
        assert!(glob("*", ""));
        assert!(!glob("arn:*/prod/*", "arn:x/dev/GET/a"));
        assert!(glob("a?c", "abc"));
    }
}
