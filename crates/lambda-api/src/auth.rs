//! AWS Signature Version 4, verified: with authentication on, a request must be signed
//! by a configured access key, or it is refused with 403 and changes nothing.
//!
//! The canonical request follows AWS's rules for every service but S3: the path as it
//! arrived (percent-encoded once by the client) is URI-encoded again; query parameters
//! are decoded, re-encoded strictly and sorted; signed headers are trimmed, their inner
//! runs of spaces collapsed. Tested against AWS's published test-suite vectors.

use std::collections::HashMap;

use axum::body::Body;
use axum::extract::Request;
use axum::http::HeaderMap;
use chrono::{DateTime, NaiveDateTime, TimeDelta, Utc};
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

use crate::errors::ApiError;

type HmacSha256 = Hmac<Sha256>;

const ALGORITHM: &str = "AWS4-HMAC-SHA256";
/// How far a request's `X-Amz-Date` may be from ledge's clock.
const MAX_SKEW_MINUTES: i64 = 5;
const MSG_BAD_SIGNATURE: &str = "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.";
const MSG_UNKNOWN_KEY: &str = "The security token included in the request is invalid.";

/// The access keys ledge accepts: key id → secret.
#[derive(Debug, Clone, Default)]
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

fn incomplete(message: &str) -> ApiError {
    ApiError::forbidden("IncompleteSignatureException", message.to_owned())
}

fn bad_signature() -> ApiError {
    ApiError::forbidden("InvalidSignatureException", MSG_BAD_SIGNATURE.to_owned())
}

/// URI-encodes every byte but the unreserved ones (and `/` when `keep_slash`).
fn uri_encode(s: &str, keep_slash: bool) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) || (keep_slash && b == b'/') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).ok();
            if let Some(v) = hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                out.push(v);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn canonical_query(raw: &str) -> String {
    let mut pairs: Vec<(String, String)> = raw
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (
                uri_encode(&percent_decode(k), false),
                uri_encode(&percent_decode(v), false),
            )
        })
        .collect();
    pairs.sort();
    pairs
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("&")
}

fn header_value(headers: &HeaderMap, name: &str) -> String {
    headers
        .get_all(name)
        .iter()
        .map(|v| {
            String::from_utf8_lossy(v.as_bytes())
                .split_whitespace()
                .collect::<Vec<_>>()
                .join(" ")
        })
        .collect::<Vec<_>>()
        .join(",")
}

fn hmac(key: &[u8], data: &str) -> Vec<u8> {
    // HMAC accepts keys of any length.
    let mut mac = HmacSha256::new_from_slice(key).unwrap_or_else(|_| {
        HmacSha256::new_from_slice(&[0u8; 32]).expect("invariant: HMAC takes 32-byte keys")
    });
    mac.update(data.as_bytes());
    mac.finalize().into_bytes().to_vec()
}

/// What the `Authorization` header says.
struct Authorization<'a> {
    key_id: &'a str,
    date: &'a str,
    region: &'a str,
    service: &'a str,
    signed_headers: Vec<&'a str>,
    signature: &'a str,
}

fn parse_authorization(value: &str) -> Result<Authorization<'_>, ApiError> {
    let rest = value.strip_prefix(ALGORITHM).ok_or_else(|| {
        incomplete("Authorization header requires the AWS4-HMAC-SHA256 algorithm.")
    })?;
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
        return Err(incomplete(
            "Authorization header requires 'Credential', 'SignedHeaders' and 'Signature' parameters.",
        ));
    };
    let scope: Vec<&str> = credential.split('/').collect();
    let [key_id, date, region, service, "aws4_request"] = scope[..] else {
        return Err(incomplete(&format!(
            "Credential should be scoped to a valid region, not '{credential}'."
        )));
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

/// Checks one request's signature. `path` and `query` are as they arrived (still
/// percent-encoded).
pub fn verify(
    keys: &AccessKeys,
    method: &str,
    path: &str,
    query: &str,
    headers: &HeaderMap,
    body: &[u8],
    now: DateTime<Utc>,
) -> Result<(), ApiError> {
    let Some(value) = headers.get(http::header::AUTHORIZATION) else {
        return Err(ApiError::forbidden(
            "MissingAuthenticationTokenException",
            "Missing Authentication Token".into(),
        ));
    };
    let value = value.to_str().map_err(|_| bad_signature())?;
    let auth = parse_authorization(value)?;
    let Some(secret) = keys.keys.get(auth.key_id) else {
        return Err(ApiError::forbidden(
            "UnrecognizedClientException",
            MSG_UNKNOWN_KEY.into(),
        ));
    };
    let amz_date = headers
        .get("x-amz-date")
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| incomplete("Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header."))?;
    let when = NaiveDateTime::parse_from_str(amz_date, "%Y%m%dT%H%M%SZ")
        .map_err(|_| {
            incomplete(&format!(
                "Date must be in ISO-8601 'basic format'. Got '{amz_date}'."
            ))
        })?
        .and_utc();
    let skew = TimeDelta::minutes(MAX_SKEW_MINUTES);
    let fmt = |t: DateTime<Utc>| t.format("%Y%m%dT%H%M%SZ").to_string();
    if when < now - skew {
        return Err(ApiError::forbidden(
            "InvalidSignatureException",
            format!(
                "Signature expired: {amz_date} is now earlier than {} ({} - 5 min.)",
                fmt(now - skew),
                fmt(now)
            ),
        ));
    }
    if when > now + skew {
        return Err(ApiError::forbidden(
            "InvalidSignatureException",
            format!(
                "Signature not yet current: {amz_date} is still later than {} ({} + 5 min.)",
                fmt(now + skew),
                fmt(now)
            ),
        ));
    }
    if !amz_date.starts_with(auth.date) {
        return Err(bad_signature());
    }
    let mut canonical_headers = String::new();
    for name in &auth.signed_headers {
        canonical_headers.push_str(&format!("{name}:{}\n", header_value(headers, name)));
    }
    let payload_hash = match headers
        .get("x-amz-content-sha256")
        .and_then(|v| v.to_str().ok())
    {
        Some(h) => h.to_owned(),
        None => hex::encode(Sha256::digest(body)),
    };
    let canonical = format!(
        "{method}\n{}\n{}\n{canonical_headers}\n{}\n{payload_hash}",
        uri_encode(path, true),
        canonical_query(query),
        auth.signed_headers.join(";")
    );
    let scope = format!(
        "{}/{}/{}/aws4_request",
        auth.date, auth.region, auth.service
    );
    let to_sign = format!(
        "{ALGORITHM}\n{amz_date}\n{scope}\n{}",
        hex::encode(Sha256::digest(canonical.as_bytes()))
    );
    let k_date = hmac(format!("AWS4{secret}").as_bytes(), auth.date);
    let k_region = hmac(&k_date, auth.region);
    let k_service = hmac(&k_region, auth.service);
    let k_signing = hmac(&k_service, "aws4_request");
    let expected = hex::encode(hmac(&k_signing, &to_sign));
    // Constant-time comparison: the signature is a secret-derived value.
    let given = auth.signature.as_bytes();
    let same = given.len() == expected.len()
        && given
            .iter()
            .zip(expected.as_bytes())
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0;
    if same {
        Ok(())
    } else {
        Err(bad_signature())
    }
}

/// Reads the body, checks the signature, and gives the request back whole.
pub(crate) async fn verify_request(
    keys: &AccessKeys,
    req: Request,
    now: DateTime<Utc>,
) -> Result<Request, ApiError> {
    let (parts, body) = req.into_parts();
    let bytes = axum::body::to_bytes(body, 128 * 1024 * 1024)
        .await
        .map_err(|e| ApiError::too_large(e.to_string()))?;
    verify(
        keys,
        parts.method.as_str(),
        parts.uri.path(),
        parts.uri.query().unwrap_or(""),
        &parts.headers,
        &bytes,
        now,
    )?;
    Ok(Request::from_parts(parts, Body::from(bytes)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    const SECRET: &str = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";

    fn keys() -> AccessKeys {
        AccessKeys::new([("AKIDEXAMPLE".to_owned(), SECRET.to_owned())])
    }

    fn at() -> DateTime<Utc> {
        NaiveDateTime::parse_from_str("20150830T123600Z", "%Y%m%dT%H%M%SZ")
            .expect("date")
            .and_utc()
    }

    fn suite_headers(signature: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert("host", HeaderValue::from_static("example.amazonaws.com"));
        h.insert("x-amz-date", HeaderValue::from_static("20150830T123600Z"));
        let auth = format!("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature={signature}");
        h.insert(
            http::header::AUTHORIZATION,
            HeaderValue::from_str(&auth).expect("header"),
        );
        h
    }

    /// AWS's `get-vanilla` test-suite vector.
    #[test]
    fn accepts_the_get_vanilla_vector() {
        let h = suite_headers("5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31");
        verify(&keys(), "GET", "/", "", &h, b"", at()).expect("valid");
    }

    /// AWS's `get-vanilla-query-order-key-case` vector: parameters are sorted.
    #[test]
    fn accepts_the_query_order_vector() {
        let h = suite_headers("b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500");
        verify(
            &keys(),
            "GET",
            "/",
            "Param2=value2&Param1=value1",
            &h,
            b"",
            at(),
        )
        .expect("valid");
    }

    #[test]
    fn refuses_a_wrong_signature_an_unknown_key_and_a_stale_date() {
        let h = suite_headers("5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf30");
        let e = verify(&keys(), "GET", "/", "", &h, b"", at()).expect_err("bad");
        assert_eq!(
            (e.status.as_u16(), e.code),
            (403, "InvalidSignatureException")
        );
        // Same signature, different body: the payload is signed.
        let h = suite_headers("5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31");
        let e = verify(&keys(), "GET", "/", "", &h, b"x", at()).expect_err("body");
        assert_eq!(e.code, "InvalidSignatureException");
        let other = AccessKeys::new([("OTHER".to_owned(), SECRET.to_owned())]);
        let e = verify(&other, "GET", "/", "", &h, b"", at()).expect_err("unknown");
        assert_eq!(e.code, "UnrecognizedClientException");
        let e = verify(
            &keys(),
            "GET",
            "/",
            "",
            &h,
            b"",
            at() + TimeDelta::minutes(6),
        )
        .expect_err("stale");
        assert!(e.message.starts_with("Signature expired: 20150830T123600Z"));
        let e = verify(&keys(), "GET", "/", "", &HeaderMap::new(), b"", at()).expect_err("none");
        assert_eq!(e.code, "MissingAuthenticationTokenException");
    }

    #[test]
    fn paths_are_encoded_again_and_queries_strictly() {
        assert_eq!(
            uri_encode("/2015-03-31/functions/arn%3Aaws%3Alambda/invocations", true),
            "/2015-03-31/functions/arn%253Aaws%253Alambda/invocations"
        );
        assert_eq!(canonical_query("b=2&a=x%20y&a=1"), "a=1&a=x%20y&b=2");
        assert_eq!(
            AccessKeys::parse_pair("AK:se:cret"),
            Ok(("AK".into(), "se:cret".into()))
        );
        assert!(AccessKeys::parse_pair("nocolon").is_err());
    }
}
