//! The `credentials` of an `AWS` integration: API Gateway assumes the role it names
//! (STS `AssumeRole`) and signs the integration request with the temporary keys;
//! `arn:aws:iam::*:user/*` means the caller's own credentials, which locally are the
//! standard chain's keys (there is no signed caller to pass through).
//!
//! `AssumeRole` is the STS query API: a form POST signed with SigV4 by the chain's keys, to
//! `AWS_ENDPOINT_URL_STS`, else `AWS_ENDPOINT_URL` (else the configuration's endpoints),
//! else the global `https://sts.amazonaws.com`; the XML answer carries the keys and their
//! expiry. Keys are cached per role until [`REFRESH_BEFORE`] ahead of their expiry.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, SystemTime};

use bytes::Bytes;

use super::aws::{self, AwsCredentials, AwsSettings};

/// The real STS endpoint (global; it signs as `us-east-1`).
pub const GLOBAL_ENDPOINT: &str = "https://sts.amazonaws.com";
/// The session name API Gateway's assumed-role sessions carry here.
pub const SESSION_NAME: &str = "ledge-apigateway";
/// Cached keys are renewed this long before they expire (the AWS SDKs' margin).
pub const REFRESH_BEFORE: Duration = Duration::from_secs(5 * 60);

/// Which keys sign an integration request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeySource<'a> {
    /// The standard chain's keys: no `credentials`, or `arn:aws:iam::*:user/*` (the
    /// caller's identity).
    Chain,
    /// The temporary keys of this role, from STS `AssumeRole`.
    Role(&'a str),
}

impl<'a> KeySource<'a> {
    pub fn of(credentials: Option<&'a str>) -> KeySource<'a> {
        match credentials.map(str::trim) {
            Some(arn) if arn.starts_with("arn:") && arn.contains(":role/") => KeySource::Role(arn),
            _ => KeySource::Chain,
        }
    }
}

/// Why no keys could be had.
#[derive(Debug, thiserror::Error)]
pub enum StsError {
    #[error("no AWS credentials (environment, ~/.aws/credentials, ~/.aws/config) to sign with")]
    NoChainCredentials,
    #[error("AssumeRole {role}: {why}")]
    AssumeRole { role: String, why: String },
}

/// Temporary keys of assumed roles, by role ARN.
#[derive(Debug, Default)]
pub struct RoleCache {
    entries: Mutex<HashMap<String, (AwsCredentials, SystemTime)>>,
}

/// Cached keys that expire at `expires` may still sign at `now`.
pub fn fresh(expires: SystemTime, now: SystemTime) -> bool {
    now + REFRESH_BEFORE < expires
}

impl RoleCache {
    /// The keys that sign for `source` at `now`: the chain's, or the role's (cached, else
    /// assumed with the chain's keys through `client`).
    pub async fn credentials(
        &self,
        client: &reqwest::Client,
        settings: &AwsSettings,
        source: KeySource<'_>,
        timeout: Duration,
        now: SystemTime,
    ) -> Result<AwsCredentials, StsError> {
        let chain = settings
            .credentials
            .as_ref()
            .ok_or(StsError::NoChainCredentials)?;
        let role = match source {
            KeySource::Chain => return Ok(chain.clone()),
            KeySource::Role(role) => role,
        };
        if let Some((c, _)) = self
            .lock()
            .get(role)
            .filter(|(_, expires)| fresh(*expires, now))
        {
            return Ok(c.clone());
        }
        let fail = |why: String| StsError::AssumeRole {
            role: role.to_owned(),
            why,
        };
        let (c, expires) = assume_role(client, settings, chain, role, timeout, now)
            .await
            .map_err(fail)?;
        tracing::debug!(role = %role, access_key_id = %c.access_key_id, "assumed the integration's role");
        self.lock().insert(role.to_owned(), (c.clone(), expires));
        Ok(c)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, (AwsCredentials, SystemTime)>> {
        // A panic while holding the lock leaves a plain map behind: still usable.
        self.entries.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// The signed `AssumeRole` request.
pub fn assume_role_request(
    settings: &AwsSettings,
    chain: &AwsCredentials,
    role: &str,
    now: SystemTime,
) -> Result<http::Request<Bytes>, String> {
    let (base, region) = match settings.endpoint_override("sts") {
        Some(base) => (
            base.to_owned(),
            settings
                .region
                .clone()
                .unwrap_or_else(|| "us-east-1".to_owned()),
        ),
        None => (GLOBAL_ENDPOINT.to_owned(), "us-east-1".to_owned()),
    };
    let body = form_urlencoded::Serializer::new(String::new())
        .append_pair("Action", "AssumeRole")
        .append_pair("Version", "2011-06-15")
        .append_pair("RoleArn", role)
        .append_pair("RoleSessionName", SESSION_NAME)
        .finish();
    let mut req = http::Request::builder()
        .method("POST")
        .uri(format!("{base}/"))
        .header(
            "content-type",
            "application/x-www-form-urlencoded; charset=utf-8",
        )
        .body(Bytes::from(body))
        .map_err(|e| format!("{base}: {e}"))?;
    aws::sign(&mut req, chain, &region, "sts", now)?;
    Ok(req)
}

async fn assume_role(
    client: &reqwest::Client,
    settings: &AwsSettings,
    chain: &AwsCredentials,
    role: &str,
    timeout: Duration,
    now: SystemTime,
) -> Result<(AwsCredentials, SystemTime), String> {
    let req = assume_role_request(settings, chain, role, now)?;
    let url = req.uri().to_string();
    let mut req = reqwest::Request::try_from(req).map_err(|e| format!("{url}: {e}"))?;
    *req.timeout_mut() = Some(timeout);
    let resp = client
        .execute(req)
        .await
        .map_err(|e| format!("{url}: {e}"))?;
    let status = resp.status();
    let body = resp.text().await.map_err(|e| format!("{url}: {e}"))?;
    if !status.is_success() {
        let code = xml_text(&body, "Code").unwrap_or_default();
        let message = xml_text(&body, "Message").unwrap_or_default();
        return Err(format!("{url} answered {status}: {code} {message}"));
    }
    parse_assume_role(&body)
}

/// The keys and their expiry from an `AssumeRoleResponse`.
pub fn parse_assume_role(xml: &str) -> Result<(AwsCredentials, SystemTime), String> {
    let creds = xml_text(xml, "Credentials").ok_or("no Credentials in the answer")?;
    let field = |name: &str| xml_text(&creds, name).ok_or(format!("no {name} in the answer"));
    let expiration = field("Expiration")?;
    let expires = chrono::DateTime::parse_from_rfc3339(expiration.trim())
        .map_err(|e| format!("Expiration {expiration:?}: {e}"))?;
    let expires = SystemTime::UNIX_EPOCH
        + Duration::from_millis(u64::try_from(expires.timestamp_millis()).unwrap_or(0));
    Ok((
        AwsCredentials {
            access_key_id: field("AccessKeyId")?.trim().to_owned(),
            secret_access_key: field("SecretAccessKey")?.trim().to_owned(),
            session_token: Some(field("SessionToken")?.trim().to_owned()),
        },
        expires,
    ))
}

/// The text inside the first `<name>…</name>` of `xml`, entities decoded.
fn xml_text(xml: &str, name: &str) -> Option<String> {
    let open = format!("<{name}>");
    let close = format!("</{name}>");
    let start = xml.find(&open)? + open.len();
    let end = start + xml[start..].find(&close)?;
    Some(
        xml[start..end]
            .replace("&lt;", "<")
            .replace("&gt;", ">")
            .replace("&quot;", "\"")
            .replace("&apos;", "'")
            .replace("&amp;", "&"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const ANSWER: &str = r#"<AssumeRoleResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">
  <AssumeRoleResult>
    <AssumedRoleUser>
      <AssumedRoleId>AROA3XFRBF535PLBIFPI4:ledge-apigateway</AssumedRoleId>
      <Arn>arn:aws:sts::123456789012:assumed-role/apigw/ledge-apigateway</Arn>
    </AssumedRoleUser>
    <Credentials>
      <AccessKeyId>ASIAIOSFODNN7EXAMPLE</AccessKeyId>
      <SecretAccessKey>wJalrXUtnFEMI/K7MDENG/bPxRfiCYzEXAMPLEKEY</SecretAccessKey>
      <SessionToken>AQoDYXdzEPT//////////wEXAMPLE&amp;x</SessionToken>
      <Expiration>2019-11-09T13:34:41Z</Expiration>
    </Credentials>
  </AssumeRoleResult>
</AssumeRoleResponse>"#;

    #[test]
    fn parses_the_assume_role_answer() {
        let (c, expires) = parse_assume_role(ANSWER).expect("parses");
        assert_eq!(c.access_key_id, "ASIAIOSFODNN7EXAMPLE");
        assert_eq!(
            c.secret_access_key,
            "wJalrXUtnFEMI/K7MDENG/bPxRfiCYzEXAMPLEKEY"
        );
        assert_eq!(
            c.session_token.as_deref(),
            Some("AQoDYXdzEPT//////////wEXAMPLE&x")
        );
        assert_eq!(
            expires,
            SystemTime::UNIX_EPOCH + Duration::from_secs(1_573_306_481)
        );
        assert!(parse_assume_role("<Error><Code>AccessDenied</Code></Error>").is_err());
    }

    #[test]
    fn keys_are_renewed_five_minutes_before_they_expire() {
        let t = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000);
        let expires = t + Duration::from_secs(3600);
        assert!(fresh(expires, t));
        assert!(fresh(expires, t + Duration::from_secs(3600 - 301)));
        assert!(!fresh(expires, t + Duration::from_secs(3600 - 300)));
        assert!(!fresh(expires, expires + Duration::from_secs(1)));
    }

    #[test]
    fn roles_are_assumed_users_are_the_caller() {
        assert_eq!(
            KeySource::of(Some("arn:aws:iam::123456789012:role/apigw")),
            KeySource::Role("arn:aws:iam::123456789012:role/apigw")
        );
        assert_eq!(
            KeySource::of(Some("arn:aws:iam::*:user/*")),
            KeySource::Chain
        );
        assert_eq!(KeySource::of(None), KeySource::Chain);
    }

    #[test]
    fn the_request_is_a_signed_form_post_to_the_configured_endpoint() {
        let chain = AwsCredentials {
            access_key_id: "AKIDCHAIN".into(),
            secret_access_key: "s".into(),
            session_token: None,
        };
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let real = assume_role_request(
            &AwsSettings::default(),
            &chain,
            "arn:aws:iam::1:role/r",
            now,
        )
        .expect("builds");
        assert_eq!(real.uri().to_string(), "https://sts.amazonaws.com/");
        assert_eq!(
            real.body().as_ref(),
            b"Action=AssumeRole&Version=2011-06-15&RoleArn=arn%3Aaws%3Aiam%3A%3A1%3Arole%2Fr&RoleSessionName=ledge-apigateway"
        );
        let auth = real.headers()["authorization"].to_str().expect("ascii");
        assert!(
            auth.starts_with(
                "AWS4-HMAC-SHA256 Credential=AKIDCHAIN/20231114/us-east-1/sts/aws4_request"
            ),
            "{auth}"
        );
        let vars = [
            (
                "AWS_ENDPOINT_URL".to_owned(),
                "http://127.0.0.1:5000".to_owned(),
            ),
            (
                "AWS_ENDPOINT_URL_STS".to_owned(),
                "http://127.0.0.1:7000/".to_owned(),
            ),
            ("AWS_REGION".to_owned(), "eu-west-1".to_owned()),
        ]
        .into_iter()
        .collect();
        let s = AwsSettings::from_vars(&vars, |_| None);
        let local = assume_role_request(&s, &chain, "arn:aws:iam::1:role/r", now).expect("builds");
        assert_eq!(local.uri().to_string(), "http://127.0.0.1:7000/");
        let auth = local.headers()["authorization"].to_str().expect("ascii");
        assert!(auth.contains("/eu-west-1/sts/aws4_request"), "{auth}");
    }
}
