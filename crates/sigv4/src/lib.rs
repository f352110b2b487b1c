//! AWS Signature Version 4, verified and made: who may call ledge's AWS endpoints when
//! they require signatures (the Lambda API, the API Gateway management API, cache
//! invalidation on a stage, the CloudFront API), and the signing side for ledge's own
//! clients and tests.
//!
//! The canonical request follows AWS's rules for every service but S3:
//! - the path as it arrived (percent-encoded once by the client) is normalised (dot
//!   segments, repeated slashes) and URI-encoded again;
//! - the query is taken in either form a client may have signed: its pairs as sent,
//!   sorted (botocore signs a URL's query so), or decoded, strictly re-encoded and sorted
//!   (the form the SigV4 specification gives). For strictly encoded queries, which is
//!   what SDKs send, the two are the same;
//! - signed headers are trimmed, their inner runs of spaces collapsed, repeated headers
//!   joined with `,`;
//! - the payload hash is `x-amz-content-sha256` when sent, else the body's SHA-256.
//!
//! Tested against AWS's published test-suite vectors and signatures botocore made. Pure:
//! `now` is given. The messages and error codes are AWS's.

use std::collections::HashMap;
use std::time::{Duration, SystemTime};

use chrono::{DateTime, NaiveDateTime, Utc};
use hmac::{Hmac, Mac};
use http::HeaderMap;
use percent_encoding::{percent_decode_str, utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use sha2::{Digest, Sha256};

type HmacSha256 = Hmac<Sha256>;

const ALGORITHM: &str = "AWS4-HMAC-SHA256";
const AMZ_DATE: &str = "%Y%m%dT%H%M%SZ";

/// The access keys ledge accepts as principals: key id → secret.
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

    /// `ID:SECRET` (the secret may itself contain `:`).
    pub fn parse_pair(s: &str) -> Result<(String, String), String> {
        match s.split_once(':') {
            Some((id, secret)) if !id.is_empty() && !secret.is_empty() => {
                Ok((id.to_owned(), secret.to_owned()))
            }
            _ => Err(format!("expected ACCESS_KEY_ID:SECRET, got {s:?}")),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }
}

/// How far `X-Amz-Date` may be from the clock, either way: "In most cases, a request must
/// reach AWS within five minutes of the time stamp in the request" (IAM User Guide, AWS
/// API request signing), and AWS's JSON services answer "Signature expired: … (… - 5 min.)".
pub const MAX_SKEW: Duration = Duration::from_secs(5 * 60);

/// A request as it is signed.
#[derive(Debug, Clone, Copy)]
pub struct SignedRequest<'a> {
    pub method: &'a str,
    /// As received, still percent-encoded.
    pub path: &'a str,
    /// Without `?`, as received.
    pub query: &'a str,
    pub headers: &'a HeaderMap,
    pub body: &'a [u8],
}

impl<'a> SignedRequest<'a> {
    /// A request as an HTTP server holds it: its head, the path as received (still
    /// percent-encoded) and the whole body.
    pub fn new(head: &'a http::request::Parts, path: &'a str, body: &'a [u8]) -> Self {
        SignedRequest {
            method: head.method.as_str(),
            path,
            query: head.uri.query().unwrap_or_default(),
            headers: &head.headers,
            body,
        }
    }
}

/// Why a signature was not accepted. `Display` gives AWS's message, [`SigV4Error::code`]
/// the error code AWS's JSON services (Lambda, API Gateway) answer with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SigV4Error {
    /// No `Authorization` header.
    Missing,
    /// An `Authorization` header of another scheme.
    NotSigV4,
    /// `Credential`, `SignedHeaders` or `Signature` is missing.
    Incomplete,
    /// The credential is not `KEY/DATE/REGION/SERVICE/aws4_request`.
    BadCredential(String),
    /// No `X-Amz-Date`.
    NoDate,
    /// `X-Amz-Date` is not `YYYYMMDDTHHMMSSZ`.
    BadDate(String),
    /// The access key id is not one ledge knows.
    UnknownKey(String),
    /// The credential scope names another service than this one.
    WrongService { expected: &'static str },
    /// `X-Amz-Date` is older than the allowed skew.
    Expired {
        amz_date: String,
        bound: String,
        now: String,
        minutes: u64,
    },
    /// `X-Amz-Date` is further ahead than the allowed skew.
    NotYetCurrent {
        amz_date: String,
        bound: String,
        now: String,
        minutes: u64,
    },
    /// The scope's date is not `X-Amz-Date`'s day.
    ScopeDate { scope: String, amz_date: String },
    /// The signature does not match.
    Mismatch,
}

impl SigV4Error {
    /// The error code AWS's JSON services answer with (HTTP status 403).
    pub fn code(&self) -> &'static str {
        match self {
            Self::Missing => "MissingAuthenticationTokenException",
            Self::NotSigV4
            | Self::Incomplete
            | Self::BadCredential(_)
            | Self::NoDate
            | Self::BadDate(_) => "IncompleteSignatureException",
            Self::UnknownKey(_) => "UnrecognizedClientException",
            Self::WrongService { .. }
            | Self::Expired { .. }
            | Self::NotYetCurrent { .. }
            | Self::ScopeDate { .. }
            | Self::Mismatch => "InvalidSignatureException",
        }
    }
}

impl std::fmt::Display for SigV4Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Missing => f.write_str("Missing Authentication Token"),
            Self::NotSigV4 => {
                f.write_str("Authorization header requires the AWS4-HMAC-SHA256 algorithm.")
            }
            Self::Incomplete => f.write_str(
                "Authorization header requires 'Credential', 'SignedHeaders' and 'Signature' parameters.",
            ),
            Self::BadCredential(c) => write!(
                f,
                "Credential should be scoped to a valid region, not '{c}'."
            ),
            Self::NoDate => f.write_str(
                "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header.",
            ),
            Self::BadDate(d) => write!(f, "Date must be in ISO-8601 'basic format'. Got '{d}'."),
            Self::UnknownKey(_) => {
                f.write_str("The security token included in the request is invalid.")
            }
            Self::WrongService { expected } => write!(
                f,
                "Credential should be scoped to correct service: '{expected}'."
            ),
            Self::Expired {
                amz_date,
                bound,
                now,
                minutes,
            } => write!(
                f,
                "Signature expired: {amz_date} is now earlier than {bound} ({now} - {minutes} min.)"
            ),
            Self::NotYetCurrent {
                amz_date,
                bound,
                now,
                minutes,
            } => write!(
                f,
                "Signature not yet current: {amz_date} is still later than {bound} ({now} + {minutes} min.)"
            ),
            Self::ScopeDate { scope, amz_date } => write!(
                f,
                "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '{scope}' != '{}', from '{amz_date}'.",
                amz_date.get(..8).unwrap_or(amz_date)
            ),
            Self::Mismatch => f.write_str(
                "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.",
            ),
        }
    }
}

impl std::error::Error for SigV4Error {}

/// What the `Authorization` header says.
struct Authorization<'a> {
    key_id: &'a str,
    date: &'a str,
    region: &'a str,
    service: &'a str,
    signed_headers: Vec<&'a str>,
    signature: &'a str,
}

fn parse_authorization(value: &str) -> Result<Authorization<'_>, SigV4Error> {
    let rest = value.strip_prefix(ALGORITHM).ok_or(SigV4Error::NotSigV4)?;
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
    let (Some(credential), Some(signed), Some(signature)) = (credential, signed, signature) else {
        return Err(SigV4Error::Incomplete);
    };
    let scope: Vec<&str> = credential.split('/').collect();
    let [key_id, date, region, service, "aws4_request"] = scope[..] else {
        return Err(SigV4Error::BadCredential(credential.to_owned()));
    };
    Ok(Authorization {
        key_id,
        date,
        region,
        service,
        signed_headers: signed.split(';').collect(),
        signature,
    })
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// Checks `req`'s signature against `keys`, for `service` (the name its credential scope
/// must give: `lambda`, `execute-api`, …) at `now`; returns the key id.
pub fn verify(
    keys: &AccessKeys,
    service: &'static str,
    req: &SignedRequest<'_>,
    now: SystemTime,
) -> Result<String, SigV4Error> {
    let value = req
        .headers
        .get(http::header::AUTHORIZATION)
        .ok_or(SigV4Error::Missing)?;
    let auth = parse_authorization(value.to_str().map_err(|_| SigV4Error::NotSigV4)?)?;
    let secret = keys
        .keys
        .get(auth.key_id)
        .ok_or_else(|| SigV4Error::UnknownKey(auth.key_id.to_owned()))?;
    if auth.service != service {
        return Err(SigV4Error::WrongService { expected: service });
    }
    let amz_date = header(req.headers, "x-amz-date").ok_or(SigV4Error::NoDate)?;
    let signed_at = NaiveDateTime::parse_from_str(amz_date, AMZ_DATE)
        .map_err(|_| SigV4Error::BadDate(amz_date.to_owned()))?
        .and_utc();
    check_skew(amz_date, signed_at, DateTime::<Utc>::from(now))?;
    if !amz_date.starts_with(auth.date) {
        return Err(SigV4Error::ScopeDate {
            scope: auth.date.to_owned(),
            amz_date: amz_date.to_owned(),
        });
    }
    let key = signing_key(secret, auth.date, auth.region, auth.service);
    let matches = |query: &str| {
        let canonical = canonical_request(req, query, &auth.signed_headers);
        let expected = signature(&key, amz_date, &auth, &canonical);
        constant_time_eq(expected.as_bytes(), auth.signature.as_bytes())
    };
    let as_sent = sorted_query(req.query);
    if matches(&as_sent) {
        return Ok(auth.key_id.to_owned());
    }
    let strict = strict_query(req.query);
    if strict != as_sent && matches(&strict) {
        return Ok(auth.key_id.to_owned());
    }
    Err(SigV4Error::Mismatch)
}

fn check_skew(
    amz_date: &str,
    signed_at: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<(), SigV4Error> {
    let skew = chrono::TimeDelta::from_std(MAX_SKEW).unwrap_or(chrono::TimeDelta::MAX);
    let fmt = |t: DateTime<Utc>| t.format(AMZ_DATE).to_string();
    let minutes = MAX_SKEW.as_secs() / 60;
    if signed_at < now - skew {
        return Err(SigV4Error::Expired {
            amz_date: amz_date.to_owned(),
            bound: fmt(now - skew),
            now: fmt(now),
            minutes,
        });
    }
    if signed_at > now + skew {
        return Err(SigV4Error::NotYetCurrent {
            amz_date: amz_date.to_owned(),
            bound: fmt(now + skew),
            now: fmt(now),
            minutes,
        });
    }
    Ok(())
}

/// Signs `req` (tools and tests): the `Authorization` value that signs every header it
/// carries, which must include `host` and `x-amz-date`.
pub fn sign(
    key_id: &str,
    secret: &str,
    region: &str,
    service: &str,
    req: &SignedRequest<'_>,
) -> String {
    let amz_date = header(req.headers, "x-amz-date").unwrap_or_default();
    let date = amz_date.get(..8).unwrap_or_default();
    let mut names: Vec<&str> = req.headers.keys().map(|k| k.as_str()).collect();
    names.sort_unstable();
    names.dedup();
    let auth = Authorization {
        key_id,
        date,
        region,
        service,
        signed_headers: names,
        signature: "",
    };
    let canonical = canonical_request(req, &sorted_query(req.query), &auth.signed_headers);
    let sig = signature(
        &signing_key(secret, date, region, service),
        amz_date,
        &auth,
        &canonical,
    );
    format!(
        "{ALGORITHM} Credential={key_id}/{date}/{region}/{service}/aws4_request, SignedHeaders={}, Signature={sig}",
        auth.signed_headers.join(";")
    )
}

/// The headers that sign a request at `now` (`x-amz-date`, `authorization`), for clients
/// such as `ledge cache` calling an endpoint of a ledge that requires signatures.
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
    let date = DateTime::<Utc>::from(now).format(AMZ_DATE).to_string();
    let mut headers = HeaderMap::new();
    for (name, value) in [("host", host), ("x-amz-date", &date)] {
        if let Ok(v) = http::HeaderValue::from_str(value) {
            headers.insert(name, v);
        }
    }
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

fn signing_key(secret: &str, date: &str, region: &str, service: &str) -> Vec<u8> {
    let k_date = hmac(format!("AWS4{secret}").as_bytes(), date.as_bytes());
    let k_region = hmac(&k_date, region.as_bytes());
    let k_service = hmac(&k_region, service.as_bytes());
    hmac(&k_service, b"aws4_request")
}

fn signature(key: &[u8], amz_date: &str, auth: &Authorization<'_>, canonical: &str) -> String {
    let to_sign = format!(
        "{ALGORITHM}\n{amz_date}\n{}/{}/{}/aws4_request\n{}",
        auth.date,
        auth.region,
        auth.service,
        hex::encode(Sha256::digest(canonical.as_bytes()))
    );
    hex::encode(hmac(key, to_sign.as_bytes()))
}

fn hmac(key: &[u8], data: &[u8]) -> Vec<u8> {
    let mut mac = HmacSha256::new_from_slice(key).expect("invariant: HMAC takes any key length");
    mac.update(data);
    mac.finalize().into_bytes().to_vec()
}

/// The signature is secret-derived: compare without an early exit.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn canonical_request(req: &SignedRequest<'_>, query: &str, signed_headers: &[&str]) -> String {
    let mut out = String::with_capacity(256);
    out.push_str(req.method);
    out.push('\n');
    out.push_str(&uri_encode(&normalize_path(req.path), true));
    out.push('\n');
    out.push_str(query);
    out.push('\n');
    for name in signed_headers {
        let values: Vec<String> = req
            .headers
            .get_all(*name)
            .iter()
            .map(|v| {
                String::from_utf8_lossy(v.as_bytes())
                    .split_whitespace()
                    .collect::<Vec<_>>()
                    .join(" ")
            })
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

/// Every byte but `A-Za-z0-9-_.~` is encoded…
const STRICT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');
/// …and in a path, `/` is kept.
const PATH: &AsciiSet = &STRICT.remove(b'/');

fn uri_encode(s: &str, keep_slash: bool) -> String {
    utf8_percent_encode(s, if keep_slash { PATH } else { STRICT }).to_string()
}

fn percent_decode(s: &str) -> String {
    percent_decode_str(s).decode_utf8_lossy().into_owned()
}

fn query_pairs(query: &str) -> impl Iterator<Item = (&str, &str)> {
    query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| p.split_once('=').unwrap_or((p, "")))
}

fn joined(mut pairs: Vec<(String, String)>) -> String {
    pairs.sort_unstable();
    pairs
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("&")
}

/// The query's `name=value` pairs as sent, sorted by name then value.
fn sorted_query(query: &str) -> String {
    joined(
        query_pairs(query)
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect(),
    )
}

/// The query's pairs decoded, strictly re-encoded, then sorted.
fn strict_query(query: &str) -> String {
    joined(
        query_pairs(query)
            .map(|(k, v)| {
                (
                    uri_encode(&percent_decode(k), false),
                    uri_encode(&percent_decode(v), false),
                )
            })
            .collect(),
    )
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

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(*k, http::HeaderValue::from_str(v).expect("value"));
        }
        h
    }

    fn suite_headers(host: &str, service: &str, sig: &str) -> HeaderMap {
        let auth = format!("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/{service}/aws4_request, SignedHeaders=host;x-amz-date, Signature={sig}");
        headers(&[
            ("host", host),
            ("x-amz-date", "20150830T123600Z"),
            ("authorization", &auth),
        ])
    }

    fn request<'a>(
        method: &'a str,
        path: &'a str,
        query: &'a str,
        h: &'a HeaderMap,
        body: &'a [u8],
    ) -> SignedRequest<'a> {
        SignedRequest {
            method,
            path,
            query,
            headers: h,
            body,
        }
    }

    /// `GET /` with these headers, verified for `service` at `now`.
    fn get_root(
        h: &HeaderMap,
        service: &'static str,
        now: SystemTime,
    ) -> Result<String, SigV4Error> {
        verify(&keys(), service, &request("GET", "/", "", h, b""), now)
    }

    #[allow(clippy::too_many_arguments)]
    fn check(
        service: &'static str,
        method: &str,
        host: &str,
        path: &str,
        query: &str,
        body: &[u8],
        sig: &str,
    ) -> Result<String, SigV4Error> {
        let h = suite_headers(host, service, sig);
        verify(
            &keys(),
            service,
            &request(method, path, query, &h, body),
            suite_now(),
        )
    }

    const GET_VANILLA: &str = "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31";

    /// AWS's SigV4 test suite: get-vanilla, get-vanilla-query-order-key-case, post-vanilla.
    #[test]
    fn aws_test_suite_vectors() {
        let host = "example.amazonaws.com";
        assert_eq!(
            check("service", "GET", host, "/", "", b"", GET_VANILLA),
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
    /// with an encoded path, a form-encoded query with a repeated key (`+` signed as
    /// sent), and a body.
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
    fn a_query_is_also_accepted_in_its_strict_form() {
        // Signed over `a=x%20y&b=~` (the specification's form: `~` is never encoded), sent
        // as `b=%7E&a=x%20y`: the query as sent does not match, its strict form does.
        let signed = headers(&[("host", "h"), ("x-amz-date", "20150830T123600Z")]);
        let auth = sign(
            KEY,
            SECRET,
            "us-east-1",
            "lambda",
            &request("GET", "/", "a=x%20y&b=~", &signed, b""),
        );
        let sent = headers(&[
            ("host", "h"),
            ("x-amz-date", "20150830T123600Z"),
            ("authorization", &auth),
        ]);
        assert_eq!(
            verify(
                &keys(),
                "lambda",
                &request("GET", "/", "b=%7E&a=x%20y", &sent, b""),
                suite_now()
            ),
            Ok(KEY.to_owned())
        );
        assert_eq!(
            verify(
                &keys(),
                "lambda",
                &request("GET", "/", "b=%7F&a=x%20y", &sent, b""),
                suite_now()
            ),
            Err(SigV4Error::Mismatch)
        );
    }

    #[test]
    fn refusals_carry_aws_codes_and_messages() {
        let host = "example.amazonaws.com";
        let refused = |e: SigV4Error| (e.code(), e.to_string());
        // Another path, another signature, another body: the signature does not match.
        for e in [
            check("service", "GET", host, "/x", "", b"", GET_VANILLA),
            check(
                "service",
                "GET",
                host,
                "/",
                "",
                b"",
                &GET_VANILLA.replace('5', "6"),
            ),
            check("service", "GET", host, "/", "", b"x", GET_VANILLA),
        ] {
            assert_eq!(e, Err(SigV4Error::Mismatch));
        }
        assert_eq!(
            refused(SigV4Error::Mismatch),
            ("InvalidSignatureException", "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.".to_owned())
        );
        let h = headers(&[("host", host), ("x-amz-date", "20150830T123600Z"), ("authorization", "AWS4-HMAC-SHA256 Credential=AKIDOTHER/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=00")]);
        let e = get_root(&h, "service", suite_now()).expect_err("unknown");
        assert_eq!(e, SigV4Error::UnknownKey("AKIDOTHER".into()));
        assert_eq!(
            refused(e),
            (
                "UnrecognizedClientException",
                "The security token included in the request is invalid.".to_owned()
            )
        );

        let h = suite_headers(host, "service", GET_VANILLA);
        let e = get_root(&h, "execute-api", suite_now()).expect_err("service");
        assert_eq!(
            refused(e),
            (
                "InvalidSignatureException",
                "Credential should be scoped to correct service: 'execute-api'.".to_owned()
            )
        );
        let e =
            get_root(&h, "service", suite_now() + Duration::from_secs(6 * 60)).expect_err("stale");
        assert_eq!(
            refused(e),
            ("InvalidSignatureException", "Signature expired: 20150830T123600Z is now earlier than 20150830T123700Z (20150830T124200Z - 5 min.)".to_owned())
        );
        let e =
            get_root(&h, "service", suite_now() - Duration::from_secs(6 * 60)).expect_err("early");
        assert_eq!(
            e.to_string(),
            "Signature not yet current: 20150830T123600Z is still later than 20150830T123500Z (20150830T123000Z + 5 min.)"
        );
        assert!(get_root(&h, "service", suite_now() + Duration::from_secs(4 * 60)).is_ok());

        let none = headers(&[("host", host)]);
        let e = get_root(&none, "service", suite_now()).expect_err("none");
        assert_eq!(
            refused(e),
            (
                "MissingAuthenticationTokenException",
                "Missing Authentication Token".to_owned()
            )
        );
        for (auth, date, expected) in [
            ("Bearer abc", "20150830T123600Z", SigV4Error::NotSigV4),
            ("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request", "20150830T123600Z", SigV4Error::Incomplete),
            ("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/us-east-1, SignedHeaders=host, Signature=00", "20150830T123600Z", SigV4Error::BadCredential("AKIDEXAMPLE/us-east-1".into())),
            ("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host, Signature=00", "2015-08-30", SigV4Error::BadDate("2015-08-30".into())),
            ("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150831/us-east-1/service/aws4_request, SignedHeaders=host, Signature=00", "20150830T123600Z", SigV4Error::ScopeDate { scope: "20150831".into(), amz_date: "20150830T123600Z".into() }),
        ] {
            let h = headers(&[("host", host), ("x-amz-date", date), ("authorization", auth)]);
            let e = get_root(&h, "service", suite_now()).expect_err(auth);
            assert_eq!(e, expected);
        }
        assert_eq!(SigV4Error::NotSigV4.code(), "IncompleteSignatureException");
        assert_eq!(
            SigV4Error::ScopeDate { scope: "20150831".into(), amz_date: "20150830T123600Z".into() }.to_string(),
            "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '20150831' != '20150830', from '20150830T123600Z'."
        );
        let h = headers(&[("host", host), ("authorization", "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host, Signature=00")]);
        let e = get_root(&h, "service", suite_now()).expect_err("no date");
        assert_eq!(refused(e).0, "IncompleteSignatureException");
    }

    #[test]
    fn sign_and_verify_round_trip() {
        let mut h = headers(&[
            ("host", "localhost:3000"),
            ("x-amz-date", "20150830T123600Z"),
            ("cache-control", "max-age=0"),
        ]);
        let auth = sign(
            KEY,
            SECRET,
            "us-east-1",
            "execute-api",
            &request("GET", "/Prod/a//b/./c", "b=2&a=%7E", &h, b""),
        );
        h.insert(http::header::AUTHORIZATION, auth.parse().expect("value"));
        assert_eq!(
            verify(
                &keys(),
                "execute-api",
                &request("GET", "/Prod/a//b/./c", "b=2&a=%7E", &h, b""),
                suite_now()
            ),
            Ok(KEY.into())
        );
        let signed = signature_headers(
            KEY,
            SECRET,
            "us-east-1",
            "lambda",
            "POST",
            "h:1",
            "/f",
            "",
            b"{}",
            suite_now(),
        );
        let mut h = headers(&[("host", "h:1")]);
        for (k, v) in &signed {
            h.insert(
                http::HeaderName::from_bytes(k.as_bytes()).expect("name"),
                v.parse().expect("value"),
            );
        }
        assert!(verify(
            &keys(),
            "lambda",
            &request("POST", "/f", "", &h, b"{}"),
            suite_now()
        )
        .is_ok());
    }

    #[test]
    fn paths_are_normalised_and_encoded_again_and_queries_sorted() {
        assert_eq!(normalize_path("/a//b/./c/../d/"), "/a/b/d/");
        assert_eq!(normalize_path(""), "/");
        assert_eq!(
            uri_encode("/2015-03-31/functions/arn%3Aaws%3Alambda/invocations", true),
            "/2015-03-31/functions/arn%253Aaws%253Alambda/invocations"
        );
        assert_eq!(
            strict_query("b=2&a=x%20y&a=1&c=%7e+"),
            "a=1&a=x%20y&b=2&c=~%2B"
        );
        assert_eq!(sorted_query("b=2&a=x%20y&a=1&c"), "a=1&a=x%20y&b=2&c=");
        assert_eq!(percent_decode("%41%4g%"), "A%4g%");
        assert_eq!(
            AccessKeys::parse_pair("AK:se:cret"),
            Ok(("AK".into(), "se:cret".into()))
        );
        assert!(AccessKeys::parse_pair("nocolon").is_err());
    }
}
