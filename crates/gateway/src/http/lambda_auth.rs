//! Lambda (REQUEST) authorizers for HTTP APIs (reference §4.5): identity sources, the
//! request event in both payload formats, simple and IAM-policy responses, and the result
//! cache keyed by identity-source values. Pure apart from the invocation in the server.

use serde_json::{json, Value as J};

pub use crate::common::policy::{glob, parse_response, Decision, ResultCache};

use super::event::{self, RequestFacts};
use super::spec::PayloadFormat;

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
}
