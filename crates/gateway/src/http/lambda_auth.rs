//! Lambda (REQUEST) authorizers for HTTP APIs (reference §4.5): identity sources, the
//! request event in both payload formats, simple and IAM-policy responses, and the result
//! cache keyed by identity-source values. Pure apart from the invocation in the server.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use serde_json::{json, Map, Value as J};

use super::event::{self, RequestFacts};
use super::spec::PayloadFormat;

/// What an authorizer decided.
#[derive(Debug, Clone, PartialEq)]
pub struct Decision {
    pub allow: bool,
    pub context: Map<String, J>,
    pub principal_id: Option<String>,
}

/// The value of one identity source, `None` when the request lacks it.
pub fn identity_value(f: &RequestFacts, source: &str) -> Option<String> {
    let v = if let Some(h) = source.strip_prefix("$request.header.") {
        f.header(h)
    } else if let Some(q) = source.strip_prefix("$request.querystring.") {
        f.query_joined(q)
    } else if let Some(c) = source.strip_prefix("$context.") {
        context_value(f, c)
    } else if let Some(s) = source.strip_prefix("$stageVariables.") {
        f.stage_variables
            .iter()
            .find(|(k, _)| k == s)
            .map(|(_, v)| v.clone())
    } else {
        None
    };
    v.filter(|v| !v.is_empty())
}

/// `$context.X` values that requests carry.
pub fn context_value(f: &RequestFacts, name: &str) -> Option<String> {
    Some(match name {
        "requestId" | "extendedRequestId" => f.request_id.clone(),
        "apiId" => f.api_id.clone(),
        "accountId" => f.account_id.clone(),
        "stage" => f.stage.clone(),
        "routeKey" => f.route_key.clone(),
        "httpMethod" => f.method.clone(),
        "path" => f.raw_path.clone(),
        "protocol" => "HTTP/1.1".to_owned(),
        "domainName" => f.domain_name(),
        "domainPrefix" => f.domain_prefix(),
        "requestTime" => f.clf_time(),
        "requestTimeEpoch" => f.time_epoch_ms.to_string(),
        "identity.sourceIp" => f.source_ip.clone(),
        "identity.userAgent" => f.user_agent(),
        _ => return None,
    })
}

/// `arn:aws:execute-api:{region}:{account}:{api}/{stage}/{METHOD}/{path}`.
pub fn route_arn(f: &RequestFacts, region: &str) -> String {
    format!(
        "arn:aws:execute-api:{region}:{}:{}/{}/{}{}",
        f.account_id, f.api_id, f.stage, f.method, f.stage_path
    )
}

/// The event the authorizer function receives.
pub fn request_event(
    f: &RequestFacts,
    format: PayloadFormat,
    identity: &[String],
    region: &str,
) -> J {
    let arn = route_arn(f, region);
    match format {
        PayloadFormat::V2 => {
            let mut e = event::v2(f);
            e["type"] = json!("REQUEST");
            e["routeArn"] = json!(arn);
            e["identitySource"] = json!(identity);
            if let Some(o) = e.get_mut("requestContext").and_then(J::as_object_mut) {
                o.remove("authorizer");
            }
            e
        }
        PayloadFormat::V1 => {
            let mut e = event::v1(f);
            e["type"] = json!("REQUEST");
            e["methodArn"] = json!(arn);
            e["identitySource"] = json!(identity.join(","));
            e["authorizationToken"] = json!(f.header("authorization"));
            e
        }
    }
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
                context,
                principal_id: None,
            });
        }
    }
    let policy = o.get("policyDocument").ok_or(if simple {
        "neither isAuthorized nor policyDocument"
    } else {
        "no policyDocument"
    })?;
    let principal_id = o.get("principalId").and_then(J::as_str).map(str::to_owned);
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
                        context,
                        principal_id,
                    })
                }
                "Allow" => allowed = true,
                _ => return Err(format!("Effect {effect:?}")),
            }
        }
    }
    Ok(Decision {
        allow: allowed,
        context,
        principal_id,
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

/// Cached decisions by authorizer and identity-source values, each with its expiry.
#[derive(Debug, Default)]
pub struct ResultCache {
    entries: HashMap<(String, Vec<String>), (Decision, Instant)>,
}

impl ResultCache {
    pub fn get(&self, authorizer: &str, identity: &[String], now: Instant) -> Option<Decision> {
        self.entries
            .get(&(authorizer.to_owned(), identity.to_vec()))
            .filter(|(_, until)| now < *until)
            .map(|(d, _)| d.clone())
    }

    pub fn put(
        &mut self,
        authorizer: &str,
        identity: Vec<String>,
        d: Decision,
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
    use crate::http::event::tests::sample;

    const ARN: &str = "arn:aws:execute-api:us-east-1:123456789012:MyApi/dev/POST/items/a%20b";

    #[test]
    fn identity_sources() {
        let f = sample();
        assert_eq!(
            identity_value(&f, "$request.header.X-Multi").as_deref(),
            Some("one,two")
        );
        assert_eq!(
            identity_value(&f, "$request.querystring.y").as_deref(),
            Some("a b")
        );
        assert_eq!(
            identity_value(&f, "$request.querystring.Y"),
            None,
            "query names are case-sensitive"
        );
        assert_eq!(
            identity_value(&f, "$context.routeKey").as_deref(),
            Some("POST /items/{id}")
        );
        assert_eq!(
            identity_value(&f, "$stageVariables.table").as_deref(),
            Some("items-dev")
        );
        assert_eq!(identity_value(&f, "$request.header.authorization"), None);
        assert_eq!(route_arn(&f, "us-east-1"), ARN);
    }

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
            context: Map::new(),
            principal_id: None,
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
