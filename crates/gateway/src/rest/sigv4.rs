//! AWS Signature Version 4, verified: who may invalidate a stage cache entry with
//! `Cache-Control: max-age=0` (IAM `execute-api:InvalidateCache`, reference §1.5), and who
//! may call the API Gateway management API when ledge requires signatures.
//!
//! The canonical request follows AWS's rules for every service but S3: the path as it
//! arrived (percent-encoded once by the client) is normalised (dot segments, repeated
//! slashes) and URI-encoded again; query parameters are sorted as sent (botocore's form); signed headers are trimmed and their inner runs of spaces collapsed; the payload
//! hash is `x-amz-content-sha256` when sent, else the SHA-256 of the body. Tested against
//! AWS's published test-suite vectors and against botocore's signer. Pure: `now` is given.

use std::collections::HashMap;
use std::time::{Duration, SystemTime};

use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

type HmacSha256 = Hmac<Sha256>;

const ALGORITHM: &str = "AWS4-HMAC-SHA256";
/// How far a signature's `X-Amz-Date` may be from ledge's clock.
pub const MAX_SKEW: Duration = Duration::from_secs(15 * 60);

/// The access keys ledge accepts as IAM principals: key id → secret.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AccessKeys {
    keys: HashMap<String, String>,
}

impl AccessKeys {
    pub fn new(pairs: impl IntoIterator<Item = (String, String)>) -> Self {
        Self {
            keys: pairs.into_iter().collect(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }
}

/// What a request must show to be signed.
#[derive(Debug, Clone, Copy)]
pub struct SignedRequest<'a> {
    pub method: &'a str,
    /// As received, still percent-encoded.
    pub path: &'a str,
    /// Without `?`.
    pub query: &'a str,
    /// Lower-case names as received (repeated names repeated).
    pub headers: &'a [(String, String)],
    pub body: &'a [u8],
}

/// Why a signature was not accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SigV4Error {
    /// No `Authorization: AWS4-HMAC-SHA256 …` header.
    Missing,
    /// The header is there but cannot be read.
    Malformed(&'static str),
    /// The access key id is not one ledge knows.
    UnknownKey(String),
    /// The credential scope names another service.
    WrongService(String),
    /// `X-Amz-Date` is too far from now.
    Expired,
    /// The signature does not match.
    Mismatch,
}

impl std::fmt::Display for SigV4Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Missing => f.write_str("the request is not signed"),
            Self::Malformed(m) => write!(f, "malformed Authorization header: {m}"),
            Self::UnknownKey(k) => write!(f, "unknown access key {k}"),
            Self::WrongService(s) => write!(f, "signed for service {s}"),
            Self::Expired => f.write_str("the signature's date is more than 15 minutes away"),
            Self::Mismatch => f.write_str("the signature does not match"),
        }
    }
}

struct Authorization<'a> {
    key_id: &'a str,
    date: &'a str,
    region: &'a str,
    service: &'a str,
    signed_headers: Vec<&'a str>,
    signature: &'a str,
}

fn parse_authorization(value: &str) -> Result<Authorization<'_>, SigV4Error> {
    let rest = value
        .strip_prefix(ALGORITHM)
        .ok_or(SigV4Error::Missing)?
        .trim_start();
    let mut credential = None;
    let mut signed = None;
    let mut signature = None;
    for part in rest.split(',') {
        let part = part.trim();
        if let Some(v) = part.strip_prefix("Credential=") {
            credential = Some(v);
        } else if let Some(v) = part.strip_prefix("SignedHeaders=") {
            signed = Some(v);
        } else if let Some(v) = part.strip_prefix("Signature=") {
            signature = Some(v);
        }
    }
    let credential = credential.ok_or(SigV4Error::Malformed("no Credential"))?;
    let mut scope = credential.split('/');
    let (Some(key_id), Some(date), Some(region), Some(service), Some("aws4_request"), None) = (
        scope.next(),
        scope.next(),
        scope.next(),
        scope.next(),
        scope.next(),
        scope.next(),
    ) else {
        return Err(SigV4Error::Malformed(
            "Credential must be KEY/DATE/REGION/SERVICE/aws4_request",
        ));
    };
    Ok(Authorization {
        key_id,
        date,
        region,
        service,
        signed_headers: signed
            .ok_or(SigV4Error::Malformed("no SignedHeaders"))?
            .split(';')
            .collect(),
        signature: signature.ok_or(SigV4Error::Malformed("no Signature"))?,
    })
}

fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

/// [`verify`] for a request as an HTTP server holds it: its head, the path as received
/// (still percent-encoded) and the whole body.
pub fn verify_http(
    keys: &AccessKeys,
    service: &str,
    head: &http::request::Parts,
    path: &str,
    body: &[u8],
    now: SystemTime,
) -> Result<String, SigV4Error> {
    let headers = crate::common::event::header_pairs(&head.headers);
    let signed = SignedRequest {
        method: head.method.as_str(),
        path,
        query: head.uri.query().unwrap_or_default(),
        headers: &headers,
        body,
    };
    verify(keys, service, &signed, now)
}

/// Checks `req`'s signature against `keys` for `service` at `now`; returns the key id.
pub fn verify(
    keys: &AccessKeys,
    service: &str,
    req: &SignedRequest<'_>,
    now: SystemTime,
) -> Result<String, SigV4Error> {
    let auth_header = header(req.headers, "authorization").ok_or(SigV4Error::Missing)?;
    let auth = parse_authorization(auth_header)?;
    let secret = keys
        .keys
        .get(auth.key_id)
        .ok_or_else(|| SigV4Error::UnknownKey(auth.key_id.to_owned()))?;
    if auth.service != service {
        return Err(SigV4Error::WrongService(auth.service.to_owned()));
    }
    let amz_date =
        header(req.headers, "x-amz-date").ok_or(SigV4Error::Malformed("no X-Amz-Date"))?;
    let signed_at = chrono::NaiveDateTime::parse_from_str(amz_date, "%Y%m%dT%H%M%SZ")
        .map_err(|_| SigV4Error::Malformed("X-Amz-Date must be YYYYMMDDTHHMMSSZ"))?
        .and_utc();
    let now = chrono::DateTime::<chrono::Utc>::from(now);
    let skew = (now - signed_at).abs();
    if skew.to_std().unwrap_or(Duration::MAX) > MAX_SKEW {
        return Err(SigV4Error::Expired);
    }
    if !amz_date.starts_with(auth.date) {
        return Err(SigV4Error::Malformed("the scope date is not X-Amz-Date's"));
    }
    let expected = signature(
        secret,
        auth.date,
        auth.region,
        auth.service,
        amz_date,
        &canonical_request(req, &auth.signed_headers),
    );
    if constant_time_eq(expected.as_bytes(), auth.signature.as_bytes()) {
        Ok(auth.key_id.to_owned())
    } else {
        Err(SigV4Error::Mismatch)
    }
}

/// Signs `req` (tests and tools): returns the `Authorization` header value for the given
/// headers, which must include `host` and `x-amz-date`.
pub fn sign(
    key_id: &str,
    secret: &str,
    region: &str,
    service: &str,
    req: &SignedRequest<'_>,
) -> String {
    let amz_date = header(req.headers, "x-amz-date").unwrap_or_default();
    let date = amz_date.get(..8).unwrap_or_default();
    let mut names: Vec<&str> = req.headers.iter().map(|(k, _)| k.as_str()).collect();
    names.sort_unstable();
    names.dedup();
    let sig = signature(
        secret,
        date,
        region,
        service,
        amz_date,
        &canonical_request(req, &names),
    );
    format!(
        "{ALGORITHM} Credential={key_id}/{date}/{region}/{service}/aws4_request, SignedHeaders={}, Signature={sig}",
        names.join(";")
    )
}

/// The headers that sign a request at `now` (`x-amz-date`, `authorization`), for clients
/// such as `ledge cache` calling the AWS endpoint of a ledge that requires signatures.
#[allow(clippy::too_many_arguments)]
pub fn signature_headers(
    key_id: &str,
    secret: &str,
    region: &str,
    service: &str,
    method: &str,
    host: &str,
    path: &str,
    query: &str,
    body: &[u8],
    now: SystemTime,
) -> Vec<(String, String)> {
    let date = chrono::DateTime::<chrono::Utc>::from(now)
        .format("%Y%m%dT%H%M%SZ")
        .to_string();
    let headers = vec![
        ("host".to_owned(), host.to_owned()),
        ("x-amz-date".to_owned(), date.clone()),
    ];
    let auth = sign(
        key_id,
        secret,
        region,
        service,
        &SignedRequest {
            method,
            path,
            query,
            headers: &headers,
            body,
        },
    );
    vec![
        ("x-amz-date".to_owned(), date),
        ("authorization".to_owned(), auth),
    ]
}

fn signature(
    secret: &str,
    date: &str,
    region: &str,
    service: &str,
    amz_date: &str,
    canonical: &str,
) -> String {
    let scope = format!("{date}/{region}/{service}/aws4_request");
    let to_sign = format!(
        "{ALGORITHM}\n{amz_date}\n{scope}\n{}",
        hex::encode(Sha256::digest(canonical.as_bytes()))
    );
    let k_date = hmac(format!("AWS4{secret}").as_bytes(), date.as_bytes());
    let k_region = hmac(&k_date, region.as_bytes());
    let k_service = hmac(&k_region, service.as_bytes());
    let k_signing = hmac(&k_service, b"aws4_request");
    hex::encode(hmac(&k_signing, to_sign.as_bytes()))
}

fn hmac(key: &[u8], data: &[u8]) -> Vec<u8> {
    let mut mac = HmacSha256::new_from_slice(key).expect("invariant: HMAC takes any key length");
    mac.update(data);
    mac.finalize().into_bytes().to_vec()
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn canonical_request(req: &SignedRequest<'_>, signed_headers: &[&str]) -> String {
    let mut out = String::with_capacity(256);
    out.push_str(req.method);
    out.push('\n');
    out.push_str(&uri_encode(&normalize_path(req.path), true));
    out.push('\n');
    out.push_str(&canonical_query(req.query));
    out.push('\n');
    for name in signed_headers {
        let values: Vec<String> = req
            .headers
            .iter()
            .filter(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.split_whitespace().collect::<Vec<_>>().join(" "))
            .collect();
        out.push_str(&name.to_ascii_lowercase());
        out.push(':');
        out.push_str(&values.join(","));
        out.push('\n');
    }
    out.push('\n');
    out.push_str(&signed_headers.join(";"));
    out.push('\n');
    match header(req.headers, "x-amz-content-sha256") {
        Some(h) => out.push_str(h),
        None => out.push_str(&hex::encode(Sha256::digest(req.body))),
    }
    out
}

/// Removes `.` and `..` segments and repeated slashes, keeping a trailing slash.
fn normalize_path(path: &str) -> String {
    if path.is_empty() {
        return "/".to_owned();
    }
    let mut segs: Vec<&str> = Vec::new();
    for s in path.split('/') {
        match s {
            "" | "." => {}
            ".." => {
                segs.pop();
            }
            s => segs.push(s),
        }
    }
    let mut out = format!("/{}", segs.join("/"));
    if path.ends_with('/') && out != "/" {
        out.push('/');
    }
    out
}

/// Encodes every byte but `A-Za-z0-9-_.~` (and `/` when `keep_slash`).
fn uri_encode(s: &str, keep_slash: bool) -> String {
    let mut out = String::with_capacity(s.len() + 8);
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) || (keep_slash && b == b'/') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The query's `name=value` pairs as sent, sorted by name then value (botocore's form;
/// clients send the query they signed, already encoded).
fn canonical_query(query: &str) -> String {
    let mut pairs: Vec<(&str, &str)> = query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| p.split_once('=').unwrap_or((p, "")))
        .collect();
    pairs.sort_unstable();
    pairs
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("&")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::UNIX_EPOCH;

    const KEY: &str = "AKIDEXAMPLE";
    const SECRET: &str = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";

    fn keys() -> AccessKeys {
        AccessKeys::new([(KEY.to_owned(), SECRET.to_owned())])
    }

    /// 2015-08-30T12:36:00Z, the test suite's time.
    fn suite_now() -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(1_440_938_160)
    }

    fn headers(host: &str, auth: &str) -> Vec<(String, String)> {
        vec![
            ("host".into(), host.into()),
            ("x-amz-date".into(), "20150830T123600Z".into()),
            ("authorization".into(), auth.into()),
        ]
    }

    fn check(
        service: &str,
        method: &str,
        host: &str,
        path: &str,
        query: &str,
        body: &[u8],
        sig: &str,
    ) -> Result<String, SigV4Error> {
        let auth = format!("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/{service}/aws4_request, SignedHeaders=host;x-amz-date, Signature={sig}");
        let h = headers(host, &auth);
        verify(
            &keys(),
            service,
            &SignedRequest {
                method,
                path,
                query,
                headers: &h,
                body,
            },
            suite_now(),
        )
    }

    /// AWS's SigV4 test suite: get-vanilla, get-vanilla-query-order-key-case, post-vanilla.
    #[test]
    fn aws_test_suite_vectors() {
        let host = "example.amazonaws.com";
        assert_eq!(
            check(
                "service",
                "GET",
                host,
                "/",
                "",
                b"",
                "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"
            ),
            Ok(KEY.to_owned())
        );
        assert!(check(
            "service",
            "GET",
            host,
            "/",
            "Param2=value2&Param1=value1",
            b"",
            "b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500"
        )
        .is_ok());
        assert!(check(
            "service",
            "POST",
            host,
            "/",
            "",
            b"",
            "5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b"
        )
        .is_ok());
    }

    /// Signatures botocore's `SigV4Auth(…, "execute-api", "us-east-1")` made for requests
    /// with an encoded path, a form-encoded query with a repeated key, and a body.
    #[test]
    fn botocore_execute_api_vectors() {
        let host = "127.0.0.1:8080";
        assert!(check(
            "execute-api",
            "GET",
            host,
            "/Prod/items/a%20b",
            "x=1&y=a+b&x=0",
            b"",
            "7c182b4f91bcb9dea29ea93a139245900ce250eaaef0fa0d1094d3128654591a"
        )
        .is_ok());
        assert!(check(
            "execute-api",
            "POST",
            host,
            "/Prod/p",
            "",
            br#"{"a":1}"#,
            "d9967894c2baa222bfca1b164f1af5629fe014e4b447968651e4e1af21131167"
        )
        .is_ok());
    }

    #[test]
    fn refusals() {
        let host = "example.amazonaws.com";
        let good = "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31";
        assert_eq!(
            check("service", "GET", host, "/x", "", b"", good),
            Err(SigV4Error::Mismatch)
        );
        assert_eq!(
            check(
                "service",
                "GET",
                host,
                "/",
                "",
                b"",
                &good.replace('5', "6")
            ),
            Err(SigV4Error::Mismatch)
        );
        let h = headers(host, "AWS4-HMAC-SHA256 Credential=AKIDOTHER/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=00");
        let req = SignedRequest {
            method: "GET",
            path: "/",
            query: "",
            headers: &h,
            body: b"",
        };
        assert_eq!(
            verify(&keys(), "service", &req, suite_now()),
            Err(SigV4Error::UnknownKey("AKIDOTHER".into()))
        );
        let h = headers(host, &format!("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature={good}"));
        let req = SignedRequest {
            method: "GET",
            path: "/",
            query: "",
            headers: &h,
            body: b"",
        };
        assert_eq!(
            verify(&keys(), "execute-api", &req, suite_now()),
            Err(SigV4Error::WrongService("service".into()))
        );
        assert_eq!(
            verify(
                &keys(),
                "service",
                &req,
                suite_now() + Duration::from_secs(16 * 60)
            ),
            Err(SigV4Error::Expired)
        );
        assert!(verify(
            &keys(),
            "service",
            &req,
            suite_now() + Duration::from_secs(14 * 60)
        )
        .is_ok());
        let none: Vec<(String, String)> = vec![("host".into(), host.into())];
        let req = SignedRequest {
            headers: &none,
            ..req
        };
        assert_eq!(
            verify(&keys(), "service", &req, suite_now()),
            Err(SigV4Error::Missing)
        );
    }

    #[test]
    fn sign_and_verify_round_trip() {
        let mut h = vec![
            ("host".to_owned(), "localhost:3000".to_owned()),
            ("x-amz-date".to_owned(), "20150830T123600Z".to_owned()),
            ("cache-control".to_owned(), "max-age=0".to_owned()),
        ];
        let auth = sign(
            KEY,
            SECRET,
            "us-east-1",
            "execute-api",
            &SignedRequest {
                method: "GET",
                path: "/Prod/a//b/./c",
                query: "b=2&a=%7E",
                headers: &h,
                body: b"",
            },
        );
        h.push(("authorization".into(), auth));
        let req = SignedRequest {
            method: "GET",
            path: "/Prod/a//b/./c",
            query: "b=2&a=%7E",
            headers: &h,
            body: b"",
        };
        assert_eq!(
            verify(&keys(), "execute-api", &req, suite_now()),
            Ok(KEY.into())
        );
        assert_eq!(normalize_path("/a//b/./c/../d/"), "/a/b/d/");
    }
}
