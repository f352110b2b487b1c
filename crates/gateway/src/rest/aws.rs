//! `AWS` service integrations: the integration URI grammar
//! (`arn:aws:apigateway:{region}:{subdomain.service|service}:{path|action}/…`), where the
//! request goes (real AWS, or an endpoint named the way the AWS SDKs name it:
//! `AWS_ENDPOINT_URL_<SERVICE>`, then `AWS_ENDPOINT_URL`), the credentials it is signed with
//! (the standard chain: environment, then the shared credentials and config files), and
//! SigV4 signing with `aws-sigv4`.
//!
//! Reading the environment and the two files happens once, in [`AwsSettings::from_env`];
//! everything else here is pure.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::SystemTime;

/// A parsed integration URI.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceUri {
    pub region: String,
    /// `s3`, `sqs`, `dynamodb`, `lambda`, …
    pub service: String,
    /// The `{subdomain}` of `{subdomain}.{service}` (an S3 bucket, virtual-hosted).
    pub subdomain: Option<String>,
    pub kind: UriKind,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UriKind {
    /// `path/{service_api}`: the path (with `{name}` placeholders) on the service host.
    Path(String),
    /// `action/{Name}[&k=v…]`: an API action; extra parameters go in the query.
    Action {
        name: String,
        params: Vec<(String, String)>,
    },
}

impl ServiceUri {
    /// Parses `arn:aws:apigateway:{region}:{service}:{path|action}/{rest}`.
    pub fn parse(uri: &str) -> Result<ServiceUri, String> {
        let bad = |why: &str| {
            format!("{uri:?}: {why} (expected arn:aws:apigateway:{{region}}:{{service}}:path/… or …:action/…)")
        };
        let rest = uri
            .strip_prefix("arn:aws:apigateway:")
            .or_else(|| uri.strip_prefix("arn:aws-cn:apigateway:"))
            .or_else(|| uri.strip_prefix("arn:aws-us-gov:apigateway:"))
            .ok_or_else(|| bad("not an API Gateway integration ARN"))?;
        let mut parts = rest.splitn(3, ':');
        let region = parts.next().unwrap_or_default().to_owned();
        let host = parts.next().unwrap_or_default();
        let api = parts.next().ok_or_else(|| bad("no service API"))?;
        if host.is_empty() {
            return Err(bad("no service"));
        }
        let (subdomain, service) = match host.rsplit_once('.') {
            Some((sub, svc)) if !sub.is_empty() => (Some(sub.to_owned()), svc.to_owned()),
            _ => (None, host.to_owned()),
        };
        let kind = if let Some(p) = api.strip_prefix("path/") {
            UriKind::Path(p.to_owned())
        } else if let Some(a) = api.strip_prefix("action/") {
            let mut it = a.split('&');
            let name = it.next().unwrap_or_default().to_owned();
            if name.is_empty() {
                return Err(bad("no action name"));
            }
            let params = it
                .filter(|p| !p.is_empty())
                .map(|p| match p.split_once('=') {
                    Some((k, v)) => (k.to_owned(), v.to_owned()),
                    None => (p.to_owned(), String::new()),
                })
                .collect();
            UriKind::Action { name, params }
        } else {
            return Err(bad("the service API starts with path/ or action/"));
        };
        Ok(ServiceUri {
            region,
            service: service.to_ascii_lowercase(),
            subdomain,
            kind,
        })
    }

    /// A Lambda invocation URI (`…:lambda:path/2015-03-31/functions/ARN/invocations`).
    pub fn is_lambda(&self) -> bool {
        self.service == "lambda"
            && matches!(&self.kind, UriKind::Path(p) if p.contains("/functions/") && p.ends_with("/invocations"))
    }
}

/// How a JSON-protocol service names an action: `X-Amz-Target: {prefix}.{Action}` and the
/// content type `application/x-amz-json-{version}`. Services not listed speak the query
/// protocol (`Action=Name` in the query), or are reached by `path/` URIs.
pub fn json_protocol(service: &str) -> Option<(&'static str, &'static str)> {
    Some(match service {
        "dynamodb" => ("DynamoDB_20120810", "1.0"),
        "kinesis" => ("Kinesis_20131202", "1.1"),
        "firehose" => ("Firehose_20150804", "1.1"),
        "events" => ("AWSEvents", "1.1"),
        "logs" => ("Logs_20140328", "1.1"),
        "states" => ("AWSStepFunctions", "1.0"),
        "ssm" => ("AmazonSSM", "1.1"),
        "secretsmanager" => ("secretsmanager", "1.1"),
        "kms" => ("TrentService", "1.1"),
        "cognito-idp" => ("AWSCognitoIdentityProviderService", "1.1"),
        _ => return None,
    })
}

/// The SDKs' service id for `AWS_ENDPOINT_URL_<ID>` (uppercase, `_` for spaces and `-`).
pub fn endpoint_env_id(service: &str) -> String {
    match service {
        "events" => "EVENTBRIDGE".to_owned(),
        "states" => "SFN".to_owned(),
        "logs" => "CLOUDWATCH_LOGS".to_owned(),
        "monitoring" => "CLOUDWATCH".to_owned(),
        "secretsmanager" => "SECRETS_MANAGER".to_owned(),
        "cognito-idp" => "COGNITO_IDENTITY_PROVIDER".to_owned(),
        "execute-api" => "API_GATEWAY".to_owned(),
        other => other.to_ascii_uppercase().replace(['-', ' '], "_"),
    }
}

/// Signing credentials.
#[derive(Clone, PartialEq, Eq)]
pub struct AwsCredentials {
    pub access_key_id: String,
    pub secret_access_key: String,
    pub session_token: Option<String>,
}

impl std::fmt::Debug for AwsCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AwsCredentials")
            .field("access_key_id", &self.access_key_id)
            .finish_non_exhaustive()
    }
}

/// What AWS integrations need from the environment: credentials, the default region, and
/// endpoint overrides. Resolved once, like an SDK client's configuration.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AwsSettings {
    pub credentials: Option<AwsCredentials>,
    /// `AWS_REGION`, `AWS_DEFAULT_REGION`, or the profile's `region`: used when an
    /// integration URI leaves the region empty.
    pub region: Option<String>,
    /// `AWS_ENDPOINT_URL_<SERVICE>` by service id (`DYNAMODB`, `SQS`, `S3`, …).
    pub service_endpoints: BTreeMap<String, String>,
    /// `AWS_ENDPOINT_URL`.
    pub endpoint: Option<String>,
    /// Endpoints from a configuration file (ledge.toml's `[aws.endpoints]`, like the
    /// shared config's `services` section) by service id: below every environment variable.
    pub config_service_endpoints: BTreeMap<String, String>,
    /// The configuration file's `default` endpoint: the last resort before real AWS.
    pub config_endpoint: Option<String>,
}

impl AwsSettings {
    /// The standard chain, from this process's environment and files.
    pub fn from_env() -> AwsSettings {
        let vars: BTreeMap<String, String> = std::env::vars()
            .filter(|(k, _)| k.starts_with("AWS_") || k == "HOME")
            .collect();
        Self::from_vars(&vars, |p| std::fs::read_to_string(p).ok())
    }

    /// The standard chain over `vars` (environment variables) and `read` (the shared files):
    /// credentials from `AWS_ACCESS_KEY_ID`/`AWS_SECRET_ACCESS_KEY`/`AWS_SESSION_TOKEN`,
    /// else the profile (`AWS_PROFILE`, else `default`) of `AWS_SHARED_CREDENTIALS_FILE`
    /// (`~/.aws/credentials`), then of `AWS_CONFIG_FILE` (`~/.aws/config`, sections
    /// `[profile NAME]` or `[default]`); the region from `AWS_REGION`,
    /// `AWS_DEFAULT_REGION`, then the profile's `region`.
    pub fn from_vars(
        vars: &BTreeMap<String, String>,
        read: impl Fn(&std::path::Path) -> Option<String>,
    ) -> AwsSettings {
        let var = |k: &str| vars.get(k).filter(|v| !v.is_empty()).cloned();
        let home = var("HOME").map(PathBuf::from);
        let file = |env: &str, default: &str| {
            var(env)
                .map(PathBuf::from)
                .or_else(|| home.as_ref().map(|h| h.join(".aws").join(default)))
        };
        let profile = var("AWS_PROFILE").unwrap_or_else(|| "default".to_owned());
        let creds_file = file("AWS_SHARED_CREDENTIALS_FILE", "credentials")
            .and_then(|p| read(&p))
            .map(|t| ini_section(&t, &profile, false))
            .unwrap_or_default();
        let config_file = file("AWS_CONFIG_FILE", "config")
            .and_then(|p| read(&p))
            .map(|t| ini_section(&t, &profile, true))
            .unwrap_or_default();
        let from = |m: &BTreeMap<String, String>| {
            Some(AwsCredentials {
                access_key_id: m.get("aws_access_key_id")?.clone(),
                secret_access_key: m.get("aws_secret_access_key")?.clone(),
                session_token: m.get("aws_session_token").cloned(),
            })
        };
        let credentials = match (var("AWS_ACCESS_KEY_ID"), var("AWS_SECRET_ACCESS_KEY")) {
            (Some(access_key_id), Some(secret_access_key)) => Some(AwsCredentials {
                access_key_id,
                secret_access_key,
                session_token: var("AWS_SESSION_TOKEN"),
            }),
            _ => from(&creds_file).or_else(|| from(&config_file)),
        };
        let region = var("AWS_REGION")
            .or_else(|| var("AWS_DEFAULT_REGION"))
            .or_else(|| config_file.get("region").cloned());
        let service_endpoints = vars
            .iter()
            .filter(|(_, v)| !v.is_empty())
            .filter_map(|(k, v)| {
                Some((
                    k.strip_prefix("AWS_ENDPOINT_URL_")?.to_owned(),
                    v.trim_end_matches('/').to_owned(),
                ))
            })
            .collect();
        AwsSettings {
            credentials,
            region,
            service_endpoints,
            endpoint: var("AWS_ENDPOINT_URL").map(|v| v.trim_end_matches('/').to_owned()),
            config_service_endpoints: BTreeMap::new(),
            config_endpoint: None,
        }
    }

    /// Adds endpoints from a configuration file: `services` keyed by service name or id
    /// (`dynamodb`, `sqs`, `events`, `cloudwatch_logs`, …) and a `default`. As in the SDKs,
    /// the environment wins: `AWS_ENDPOINT_URL_<SERVICE>`, then `AWS_ENDPOINT_URL`, then the
    /// file's service entry, then its default.
    pub fn with_config_endpoints(
        mut self,
        services: &BTreeMap<String, String>,
        default: Option<&str>,
    ) -> AwsSettings {
        for (k, v) in services {
            let id = endpoint_env_id(&k.to_ascii_lowercase());
            self.config_service_endpoints
                .insert(id, v.trim_end_matches('/').to_owned());
        }
        if let Some(d) = default {
            self.config_endpoint = Some(d.trim_end_matches('/').to_owned());
        }
        self
    }

    /// The configured endpoint for `service`, when one overrides real AWS.
    pub fn endpoint_override(&self, service: &str) -> Option<&str> {
        let id = endpoint_env_id(service);
        self.service_endpoints
            .get(&id)
            .or(self.endpoint.as_ref())
            .or_else(|| self.config_service_endpoints.get(&id))
            .or(self.config_endpoint.as_ref())
            .map(String::as_str)
    }
}

/// The `key = value` pairs of one profile. In the config file the section is
/// `[profile NAME]` (`[default]` for the default profile); in the credentials file `[NAME]`.
fn ini_section(text: &str, profile: &str, config: bool) -> BTreeMap<String, String> {
    let wanted: Vec<String> = if config && profile != "default" {
        vec![format!("profile {profile}")]
    } else if config {
        vec!["default".to_owned(), "profile default".to_owned()]
    } else {
        vec![profile.to_owned()]
    };
    let mut out = BTreeMap::new();
    let mut inside = false;
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            let name = name.split_whitespace().collect::<Vec<_>>().join(" ");
            inside = wanted.contains(&name);
            continue;
        }
        if inside {
            if let Some((k, v)) = line.split_once('=') {
                out.insert(k.trim().to_ascii_lowercase(), v.trim().to_owned());
            }
        }
    }
    out
}

/// Where an AWS service request goes: `(base URL, path)`. Real AWS is
/// `https://{service}.{region}.amazonaws.com` (S3 buckets of `{bucket}.s3` URIs
/// virtual-hosted); an overridden endpoint gets the path style (`/{bucket}/…`), as SDKs
/// configured for emulators do.
pub fn endpoint(
    settings: &AwsSettings,
    uri: &ServiceUri,
    region: &str,
    path: &str,
) -> (String, String) {
    let path = if path.starts_with('/') {
        path.to_owned()
    } else {
        format!("/{path}")
    };
    match (settings.endpoint_override(&uri.service), &uri.subdomain) {
        (Some(base), Some(sub)) if uri.service == "s3" => {
            (base.to_owned(), format!("/{sub}{}", path_or_empty(&path)))
        }
        (Some(base), _) => (base.to_owned(), path),
        (None, Some(sub)) => (
            format!("https://{sub}.{}.{region}.amazonaws.com", uri.service),
            path,
        ),
        (None, None) => (
            format!("https://{}.{region}.amazonaws.com", uri.service),
            path,
        ),
    }
}

fn path_or_empty(p: &str) -> &str {
    if p == "/" {
        ""
    } else {
        p
    }
}

/// The SigV4 signing name of a service as it appears in integration URIs.
pub fn signing_name(service: &str) -> &str {
    match service {
        "email" => "ses",
        other => other,
    }
}

/// Signs a request in place with SigV4 (`aws-sigv4`): adds `authorization`, `x-amz-date`,
/// `x-amz-security-token` and, for S3, `x-amz-content-sha256`.
pub fn sign(
    req: &mut http::Request<bytes::Bytes>,
    credentials: &AwsCredentials,
    region: &str,
    service: &str,
    now: SystemTime,
) -> Result<(), String> {
    use aws_sigv4::http_request::{
        sign as sigv4_sign, PayloadChecksumKind, PercentEncodingMode, SignableBody,
        SignableRequest, SigningSettings, UriPathNormalizationMode,
    };
    let creds = aws_credential_types::Credentials::new(
        &credentials.access_key_id,
        &credentials.secret_access_key,
        credentials.session_token.clone(),
        None,
        "ledge",
    );
    let identity = creds.into();
    let mut settings = SigningSettings::default();
    if service == "s3" {
        settings.percent_encoding_mode = PercentEncodingMode::Single;
        settings.payload_checksum_kind = PayloadChecksumKind::XAmzSha256;
        settings.uri_path_normalization_mode = UriPathNormalizationMode::Disabled;
    }
    let params = aws_sigv4::sign::v4::SigningParams::builder()
        .identity(&identity)
        .region(region)
        .name(signing_name(service))
        .time(now)
        .settings(settings)
        .build()
        .map_err(|e| e.to_string())?
        .into();
    let headers: Vec<(&str, &str)> = req
        .headers()
        .iter()
        .filter_map(|(k, v)| Some((k.as_str(), v.to_str().ok()?)))
        .collect();
    let uri = req.uri().to_string();
    let signable = SignableRequest::new(
        req.method().as_str(),
        &uri,
        headers.into_iter(),
        SignableBody::Bytes(req.body()),
    )
    .map_err(|e| e.to_string())?;
    let (instructions, _) = sigv4_sign(signable, &params)
        .map_err(|e| e.to_string())?
        .into_parts();
    instructions.apply_to_request_http1x(req);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uri_grammar() {
        let u = ServiceUri::parse("arn:aws:apigateway:us-east-1:sqs:path/123456789012/q1")
            .expect("parses");
        assert_eq!(u.region, "us-east-1");
        assert_eq!(u.service, "sqs");
        assert_eq!(u.kind, UriKind::Path("123456789012/q1".into()));
        let u = ServiceUri::parse("arn:aws:apigateway:eu-west-1:dynamodb:action/PutItem")
            .expect("parses");
        assert_eq!(
            u.kind,
            UriKind::Action {
                name: "PutItem".into(),
                params: vec![]
            }
        );
        let u = ServiceUri::parse("arn:aws:apigateway:us-east-1:sns:action/Publish&TopicArn=t")
            .expect("parses");
        assert_eq!(
            u.kind,
            UriKind::Action {
                name: "Publish".into(),
                params: vec![("TopicArn".into(), "t".into())]
            }
        );
        let u = ServiceUri::parse("arn:aws:apigateway:us-east-1:my-bucket.s3:path/{key}")
            .expect("parses");
        assert_eq!(
            (u.subdomain.as_deref(), u.service.as_str()),
            (Some("my-bucket"), "s3")
        );
        assert!(ServiceUri::parse("arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/arn:aws:lambda:us-east-1:1:function:F/invocations").expect("parses").is_lambda());
        for bad in [
            "arn:aws:lambda:us-east-1:1:function:F",
            "arn:aws:apigateway:us-east-1:sqs",
            "arn:aws:apigateway:us-east-1:sqs:queue/x",
            "arn:aws:apigateway:us-east-1::path/x",
            "arn:aws:apigateway:us-east-1:dynamodb:action/",
        ] {
            assert!(ServiceUri::parse(bad).is_err(), "{bad}");
        }
    }

    fn vars(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn credentials_chain_env_then_files() {
        let files = |p: &std::path::Path| -> Option<String> {
            match p.to_str()? {
                "/home/u/.aws/credentials" => Some(
                    "[default]\naws_access_key_id = FILEKEY\naws_secret_access_key = filesecret\n\n[dev]\naws_access_key_id=DEVKEY\naws_secret_access_key=devsecret\naws_session_token=tok\n".into(),
                ),
                "/home/u/.aws/config" => Some(
                    "[default]\nregion = eu-west-3\n[profile dev]\nregion=ap-south-1\n[profile cfg]\naws_access_key_id=CFGKEY\naws_secret_access_key=cfgsecret\n".into(),
                ),
                "/elsewhere/creds" => Some("[default]\naws_access_key_id=OTHER\naws_secret_access_key=o\n".into()),
                _ => None,
            }
        };
        let s = AwsSettings::from_vars(
            &vars(&[
                ("HOME", "/home/u"),
                ("AWS_ACCESS_KEY_ID", "ENVKEY"),
                ("AWS_SECRET_ACCESS_KEY", "envsecret"),
                ("AWS_REGION", "us-west-2"),
            ]),
            files,
        );
        let c = s.credentials.expect("env credentials");
        assert_eq!(
            (c.access_key_id.as_str(), c.session_token),
            ("ENVKEY", None)
        );
        assert_eq!(s.region.as_deref(), Some("us-west-2"));

        let s = AwsSettings::from_vars(&vars(&[("HOME", "/home/u")]), files);
        assert_eq!(s.credentials.expect("file").access_key_id, "FILEKEY");
        assert_eq!(s.region.as_deref(), Some("eu-west-3"));

        let s =
            AwsSettings::from_vars(&vars(&[("HOME", "/home/u"), ("AWS_PROFILE", "dev")]), files);
        let c = s.credentials.expect("dev profile");
        assert_eq!(
            (c.access_key_id.as_str(), c.session_token.as_deref()),
            ("DEVKEY", Some("tok"))
        );
        assert_eq!(s.region.as_deref(), Some("ap-south-1"));

        let s =
            AwsSettings::from_vars(&vars(&[("HOME", "/home/u"), ("AWS_PROFILE", "cfg")]), files);
        assert_eq!(
            s.credentials.expect("config file keys").access_key_id,
            "CFGKEY"
        );

        let s = AwsSettings::from_vars(
            &vars(&[
                ("HOME", "/home/u"),
                ("AWS_SHARED_CREDENTIALS_FILE", "/elsewhere/creds"),
                ("AWS_DEFAULT_REGION", "ca-central-1"),
            ]),
            files,
        );
        assert_eq!(s.credentials.expect("other file").access_key_id, "OTHER");
        assert_eq!(s.region.as_deref(), Some("ca-central-1"));

        assert_eq!(AwsSettings::from_vars(&vars(&[]), files).credentials, None);
    }

    #[test]
    fn endpoints_real_aws_or_as_sdks_override() {
        let sqs = ServiceUri::parse("arn:aws:apigateway:us-east-1:sqs:path/1/q").expect("p");
        let bucket = ServiceUri::parse("arn:aws:apigateway:us-east-1:b1.s3:path/{key}").expect("p");
        let s3 = ServiceUri::parse("arn:aws:apigateway:us-east-1:s3:path/b1/{key}").expect("p");
        let none = AwsSettings::default();
        assert_eq!(
            endpoint(&none, &sqs, "us-east-1", "1/q"),
            ("https://sqs.us-east-1.amazonaws.com".into(), "/1/q".into())
        );
        assert_eq!(
            endpoint(&none, &bucket, "us-east-1", "k"),
            ("https://b1.s3.us-east-1.amazonaws.com".into(), "/k".into())
        );
        assert_eq!(
            endpoint(&none, &s3, "us-east-1", "b1/k"),
            ("https://s3.us-east-1.amazonaws.com".into(), "/b1/k".into())
        );
        let s = AwsSettings::from_vars(
            &vars(&[
                ("AWS_ENDPOINT_URL", "http://127.0.0.1:5000/"),
                ("AWS_ENDPOINT_URL_SQS", "http://127.0.0.1:9324"),
            ]),
            |_| None,
        );
        assert_eq!(
            endpoint(&s, &sqs, "us-east-1", "1/q").0,
            "http://127.0.0.1:9324"
        );
        assert_eq!(
            endpoint(&s, &bucket, "us-east-1", "k"),
            ("http://127.0.0.1:5000".into(), "/b1/k".into()),
            "path style on an emulator"
        );
        assert_eq!(endpoint_env_id("dynamodb"), "DYNAMODB");
        let config = BTreeMap::from([
            ("dynamodb".to_owned(), "http://127.0.0.1:8000/".to_owned()),
            ("EVENTS".to_owned(), "http://127.0.0.1:4010".to_owned()),
        ]);
        let file_only = AwsSettings::default().with_config_endpoints(&config, Some("http://d:1"));
        assert_eq!(
            file_only.endpoint_override("dynamodb"),
            Some("http://127.0.0.1:8000")
        );
        assert_eq!(
            file_only.endpoint_override("events"),
            Some("http://127.0.0.1:4010")
        );
        assert_eq!(file_only.endpoint_override("sqs"), Some("http://d:1"));
        let env_wins = s.clone().with_config_endpoints(&config, Some("http://d:1"));
        assert_eq!(
            env_wins.endpoint_override("sqs"),
            Some("http://127.0.0.1:9324")
        );
        assert_eq!(
            env_wins.endpoint_override("dynamodb"),
            Some("http://127.0.0.1:5000"),
            "AWS_ENDPOINT_URL beats the file's service entry, as in the SDKs"
        );
        assert_eq!(endpoint_env_id("events"), "EVENTBRIDGE");
    }

    #[test]
    fn signs_with_sigv4() {
        let mut req = http::Request::builder()
            .method("POST")
            .uri("https://dynamodb.us-east-1.amazonaws.com/")
            .header("content-type", "application/x-amz-json-1.0")
            .header("x-amz-target", "DynamoDB_20120810.PutItem")
            .body(bytes::Bytes::from_static(b"{}"))
            .expect("request");
        let creds = AwsCredentials {
            access_key_id: "AKIDEXAMPLE".into(),
            secret_access_key: "secret".into(),
            session_token: Some("token".into()),
        };
        sign(
            &mut req,
            &creds,
            "us-east-1",
            "dynamodb",
            SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1_700_000_000),
        )
        .expect("signs");
        let auth = req.headers()["authorization"].to_str().expect("ascii");
        assert!(
            auth.starts_with(
                "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20231114/us-east-1/dynamodb/aws4_request"
            ),
            "{auth}"
        );
        assert!(auth.contains("x-amz-target"), "{auth}");
        assert_eq!(req.headers()["x-amz-date"], "20231114T221320Z");
        assert_eq!(req.headers()["x-amz-security-token"], "token");
    }
}
