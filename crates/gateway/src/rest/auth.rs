//! Lambda authorizers of REST APIs: TOKEN (one header, optionally checked against a
//! validation expression before any invocation) and REQUEST (headers, query strings, stage
//! variables, context). A missing identity source is a 401 without invoking; the answer is
//! an IAM policy evaluated against the method ARN (cached answers are re-evaluated against
//! each request's ARN, as on AWS); the error `Unauthorized` is a 401, an explicit deny a
//! 403 with AWS's capital-M body, any other failure a 500 `{"message": null}`.

use serde_json::{json, Value as J};

use super::consts::{errors, GatewayResponse};
use super::spec::{AuthorizerKind, RestAuthorizerSpec};
use crate::common::event::{v1_event, RequestFacts, RestContext, V1Flavor};
use crate::common::policy::{self, Decision};

/// The value of one identity source (`method.request.header.X`,
/// `method.request.querystring.X`, `stageVariables.X`, `context.X`), `None` when absent
/// or empty.
pub fn identity_value(f: &RequestFacts, source: &str) -> Option<String> {
    let v = if let Some(h) = source.strip_prefix("method.request.header.") {
        f.header(h)
    } else if let Some(q) = source.strip_prefix("method.request.querystring.") {
        f.query_pairs()
            .into_iter()
            .rev()
            .find(|(k, _)| k == q)
            .map(|(_, v)| v)
    } else if let Some(s) = source.strip_prefix("stageVariables.") {
        f.stage_variables
            .iter()
            .find(|(k, _)| k == s)
            .map(|(_, v)| v.clone())
    } else if let Some(c) = source.strip_prefix("context.") {
        crate::http::lambda_auth::context_value(f, c)
    } else {
        None
    };
    v.filter(|v| !v.is_empty())
}

/// `arn:aws:execute-api:{region}:{account}:{api}/{stage}/{METHOD}/{path}`.
pub fn method_arn(f: &RequestFacts, region: &str) -> String {
    crate::http::lambda_auth::route_arn(f, region)
}

/// The identity values an authorizer is invoked with (and cached by), or the 401 when one
/// is missing or a TOKEN fails its validation expression.
pub fn identity(
    a: &RestAuthorizerSpec,
    validation: Option<&regex::Regex>,
    f: &RequestFacts,
) -> Result<Vec<String>, GatewayResponse> {
    let mut values = Vec::with_capacity(a.identity_source.len());
    for s in &a.identity_source {
        match identity_value(f, s) {
            Some(v) => values.push(v),
            None => return Err(errors::UNAUTHORIZED),
        }
    }
    if a.kind == AuthorizerKind::Token {
        if let (Some(re), Some(token)) = (validation, values.first()) {
            if !re.is_match(token) {
                return Err(errors::UNAUTHORIZED);
            }
        }
    }
    Ok(values)
}

/// The event the authorizer function receives.
pub fn event(
    a: &RestAuthorizerSpec,
    f: &RequestFacts,
    rest: &RestContext,
    identity: &[String],
    arn: &str,
) -> J {
    match a.kind {
        AuthorizerKind::Token => json!({
            "type": "TOKEN",
            "authorizationToken": identity.first(),
            "methodArn": arn,
        }),
        AuthorizerKind::Request => {
            let mut e = v1_event(f, V1Flavor::Rest(rest));
            if let Some(o) = e.as_object_mut() {
                o.remove("body");
                o.remove("isBase64Encoded");
                if let Some(rc) = o.get_mut("requestContext").and_then(J::as_object_mut) {
                    rc.remove("authorizer");
                }
                o.insert("type".into(), json!("REQUEST"));
                o.insert("methodArn".into(), json!(arn));
            }
            e
        }
    }
}

/// What the function said, read against this request's method ARN.
pub fn decide(payload: &[u8], arn: &str) -> Result<Decision, GatewayResponse> {
    policy::parse_response(payload, false, arn).map_err(|e| {
        tracing::warn!(error = %e, "the Lambda authorizer's answer is not a policy");
        errors::AUTHORIZER_FAILURE
    })
}

/// An answer that refuses: `Err` with the response to send.
pub fn enforce(d: &Decision) -> Result<(), GatewayResponse> {
    match (d.allow, d.explicit_deny) {
        (true, _) => Ok(()),
        (false, true) => Err(errors::EXPLICIT_DENY),
        (false, false) => Err(errors::NOT_ALLOWED),
    }
}

/// A function error whose message is `Unauthorized` is AWS's way to say 401.
pub fn is_unauthorized_error(payload: &[u8]) -> bool {
    serde_json::from_slice::<J>(payload)
        .ok()
        .and_then(|v| v.get("errorMessage").and_then(J::as_str).map(str::to_owned))
        .is_some_and(|m| m == "Unauthorized")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::common::event::tests::sample;
    use std::time::Duration;

    fn token(expr: Option<&str>) -> RestAuthorizerSpec {
        RestAuthorizerSpec {
            kind: AuthorizerKind::Token,
            function: "Auth".into(),
            identity_source: vec!["method.request.header.Authorization".into()],
            validation_expression: expr.map(str::to_owned),
            result_ttl: Duration::from_secs(300),
        }
    }

    #[test]
    fn token_sources_and_validation() {
        let mut f = sample();
        let a = token(Some("^Bearer [a-z]+$"));
        let re = regex::Regex::new(a.validation_expression.as_deref().expect("set")).expect("re");
        assert_eq!(
            identity(&a, Some(&re), &f),
            Err(errors::UNAUTHORIZED),
            "missing"
        );
        f.headers
            .push(("authorization".into(), "Bearer abc".into()));
        assert_eq!(
            identity(&a, Some(&re), &f),
            Ok(vec!["Bearer abc".to_owned()])
        );
        f.headers.retain(|(k, _)| k != "authorization");
        f.headers.push(("authorization".into(), "Basic x".into()));
        assert_eq!(
            identity(&a, Some(&re), &f),
            Err(errors::UNAUTHORIZED),
            "fails the expression"
        );
        let ev = event(
            &a,
            &f,
            &RestContext::default(),
            &["Basic x".into()],
            "arn:x",
        );
        assert_eq!(
            ev,
            json!({"type": "TOKEN", "authorizationToken": "Basic x", "methodArn": "arn:x"})
        );
    }

    #[test]
    fn request_sources_and_event() {
        let f = sample();
        let a = RestAuthorizerSpec {
            kind: AuthorizerKind::Request,
            identity_source: vec![
                "method.request.header.X-Multi".into(),
                "method.request.querystring.x".into(),
                "stageVariables.table".into(),
                "context.httpMethod".into(),
            ],
            ..token(None)
        };
        let ids = identity(&a, None, &f).expect("all present");
        assert_eq!(ids, ["one,two", "2", "items-dev", "POST"]);
        let ev = event(&a, &f, &RestContext::default(), &ids, "arn:y");
        assert_eq!(ev["type"], "REQUEST");
        assert_eq!(ev["methodArn"], "arn:y");
        assert!(ev.get("body").is_none() && ev.get("version").is_none());
        assert_eq!(ev["queryStringParameters"]["x"], "2", "last value wins");
    }

    #[test]
    fn policies_and_errors() {
        let arn = "arn:aws:execute-api:us-east-1:123456789012:Api/Prod/GET/pets";
        let allow = br#"{"principalId": "u", "policyDocument": {"Version": "2012-10-17", "Statement": [{"Action": "execute-api:Invoke", "Effect": "Allow", "Resource": "arn:aws:execute-api:us-east-1:123456789012:Api/Prod/GET/*"}]}, "context": {"n": 1}, "usageIdentifierKey": "k"}"#;
        let d = decide(allow, arn).expect("policy");
        assert_eq!(enforce(&d), Ok(()));
        assert_eq!(d.usage_identifier_key.as_deref(), Some("k"));
        let other = decide(
            allow,
            "arn:aws:execute-api:us-east-1:123456789012:Api/Prod/POST/pets",
        )
        .expect("policy");
        assert_eq!(enforce(&other), Err(errors::NOT_ALLOWED));
        let deny = String::from_utf8_lossy(allow).replace("Allow", "Deny");
        assert_eq!(
            enforce(&decide(deny.as_bytes(), arn).expect("policy")),
            Err(errors::EXPLICIT_DENY)
        );
        assert_eq!(
            decide(b"{}", arn).map(|_| ()),
            Err(errors::AUTHORIZER_FAILURE)
        );
        assert!(is_unauthorized_error(
            br#"{"errorMessage": "Unauthorized", "errorType": "Error"}"#
        ));
        assert!(!is_unauthorized_error(br#"{"errorMessage": "boom"}"#));
    }
}
