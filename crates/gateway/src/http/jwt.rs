//! JWT authorizers (reference §4.4): real RS256/384/512 signature checks against the
//! issuer's keys (OIDC discovery → `jwks_uri`), cached about an hour with a refetch on an
//! unknown `kid`, and AWS's claim rules. The claim checks are pure and take `now`.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::{Map, Value as J};
use tokio::sync::Mutex;

use super::consts::limits;

/// Why a token was refused. `Forbidden` is the scope failure (403); the rest are 401.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JwtFailure {
    /// No token in the identity source.
    Missing,
    /// The token is refused; the text is the `error_description`.
    Invalid(&'static str),
    /// Valid token without any of the route's scopes.
    InsufficientScope,
}

/// `error_description` texts. Only the audience one is recorded from AWS (reference
/// §4.4); the others follow its wording.
pub mod describe {
    pub const AUDIENCE: &str = "the token does not have a valid audience";
    pub const ISSUER: &str = "the token does not have a valid issuer";
    pub const EXPIRED: &str = "the token has expired";
    pub const NOT_YET_VALID: &str = "the token is not valid yet";
    pub const ISSUED_IN_FUTURE: &str = "the token was issued in the future";
    pub const MALFORMED: &str = "the token is malformed";
    pub const ALGORITHM: &str = "the token's signing algorithm is not supported";
    pub const SIGNATURE: &str = "the token's signature is invalid";
    pub const KID: &str = "the token's kid does not match any key of the issuer";
    pub const KEYS: &str = "the issuer's signing keys could not be retrieved";
}

impl JwtFailure {
    pub fn status(&self) -> u16 {
        match self {
            Self::InsufficientScope => 403,
            _ => 401,
        }
    }

    /// The `www-authenticate` value, if any.
    pub fn www_authenticate(&self) -> Option<String> {
        match self {
            Self::Missing => Some("Bearer".to_owned()),
            Self::Invalid(d) => Some(format!(
                "Bearer scope=\"\" error=\"invalid_token\" error_description=\"{d}\""
            )),
            Self::InsufficientScope => None,
        }
    }
}

/// The token from an identity source value: bare or after `Bearer `.
pub fn token_of(value: &str) -> Option<&str> {
    let v = value.trim();
    if v.eq_ignore_ascii_case("bearer") {
        return None;
    }
    let t = match v.get(..7) {
        Some(p) if p.eq_ignore_ascii_case("bearer ") => v[7..].trim(),
        _ => v,
    };
    (!t.is_empty()).then_some(t)
}

/// AWS's claim rules: exact `iss`; `aud` (when present) else `client_id` must be one of
/// the audiences; `exp` after now, `nbf` and `iat` not after now; at least one route
/// scope in `scope` / `scp`. Returns the token's scopes when the route has scopes.
pub fn check_claims(
    claims: &Map<String, J>,
    issuer: &str,
    audience: &[String],
    route_scopes: &[String],
    now_secs: i64,
) -> Result<Option<Vec<String>>, JwtFailure> {
    if claims.get("iss").and_then(J::as_str) != Some(issuer) {
        return Err(JwtFailure::Invalid(describe::ISSUER));
    }
    let aud_ok = match claims.get("aud") {
        Some(J::String(a)) => audience.iter().any(|x| x == a),
        Some(J::Array(list)) => list
            .iter()
            .filter_map(J::as_str)
            .any(|a| audience.iter().any(|x| x == a)),
        Some(_) => false,
        None => claims
            .get("client_id")
            .and_then(J::as_str)
            .is_some_and(|c| audience.iter().any(|x| x == c)),
    };
    if !aud_ok {
        return Err(JwtFailure::Invalid(describe::AUDIENCE));
    }
    let num = |k: &str| claims.get(k).and_then(J::as_f64);
    match num("exp") {
        Some(exp) if exp > now_secs as f64 => {}
        _ => return Err(JwtFailure::Invalid(describe::EXPIRED)),
    }
    if num("nbf").is_some_and(|nbf| nbf > now_secs as f64) {
        return Err(JwtFailure::Invalid(describe::NOT_YET_VALID));
    }
    if num("iat").is_some_and(|iat| iat > now_secs as f64) {
        return Err(JwtFailure::Invalid(describe::ISSUED_IN_FUTURE));
    }
    if route_scopes.is_empty() {
        return Ok(None);
    }
    let mut have: Vec<String> = Vec::new();
    for key in ["scope", "scp"] {
        match claims.get(key) {
            Some(J::String(s)) => have.extend(s.split_whitespace().map(str::to_owned)),
            Some(J::Array(a)) => have.extend(a.iter().filter_map(J::as_str).map(str::to_owned)),
            _ => {}
        }
    }
    if route_scopes.iter().any(|s| have.contains(s)) {
        Ok(Some(have))
    } else {
        Err(JwtFailure::InsufficientScope)
    }
}

/// Claims as integrations see them: every value a string, arrays as `[a b c]`.
pub fn stringify_claims(claims: &Map<String, J>) -> Map<String, J> {
    fn text(v: &J) -> String {
        match v {
            J::String(s) => s.clone(),
            J::Array(a) => format!("[{}]", a.iter().map(text).collect::<Vec<_>>().join(" ")),
            J::Null => String::new(),
            other => other.to_string(),
        }
    }
    claims
        .iter()
        .map(|(k, v)| (k.clone(), J::String(text(v))))
        .collect()
}

/// Issuers must be `https://`; `http://` is accepted on loopback so users can run their
/// own identity provider.
pub fn issuer_allowed(issuer: &str) -> bool {
    if issuer.starts_with("https://") {
        return true;
    }
    let Some(rest) = issuer.strip_prefix("http://") else {
        return false;
    };
    let host_port = rest.split('/').next().unwrap_or_default();
    let host = if host_port.starts_with('[') {
        host_port
            .split(']')
            .next()
            .map(|h| format!("{h}]"))
            .unwrap_or_default()
    } else {
        host_port.split(':').next().unwrap_or_default().to_owned()
    };
    matches!(host.as_str(), "127.0.0.1" | "localhost" | "[::1]") || host.starts_with("127.")
}

struct Keys {
    by_kid: HashMap<String, (Algorithm, DecodingKey)>,
    fetched: Instant,
}

/// Signing keys per issuer, fetched on demand. Lookups never wait for a fetch; fetches
/// are one at a time, so a burst of tokens with a new `kid` fetches once.
pub struct JwksCache {
    client: reqwest::Client,
    issuers: std::sync::Mutex<HashMap<String, Arc<Keys>>>,
    fetching: Mutex<()>,
    /// Tokens whose signature a key set verified. A signature check is a pure function of
    /// the token and the key, so a client sending the same token again skips the RSA work
    /// while that key set stands; the claim rules (`exp`, `nbf`, scopes, ...) still run
    /// on every request.
    verified: std::sync::Mutex<HashMap<String, Verified>>,
}

/// A verified token's issuer, the fetch time of the key set that verified it, and its
/// claims.
type Verified = (String, Instant, Map<String, J>);

/// At most this many verified tokens are remembered (then the memory starts afresh).
const VERIFIED_TOKENS: usize = 4096;

impl Default for JwksCache {
    fn default() -> Self {
        Self::new()
    }
}

impl JwksCache {
    pub fn new() -> Self {
        Self {
            client: reqwest::Client::builder()
                .timeout(limits::JWKS_FETCH_TIMEOUT)
                .connect_timeout(limits::JWKS_FETCH_TIMEOUT)
                .redirect(reqwest::redirect::Policy::limited(3))
                .build()
                .unwrap_or_default(),
            issuers: std::sync::Mutex::new(HashMap::new()),
            fetching: Mutex::new(()),
            verified: std::sync::Mutex::new(HashMap::new()),
        }
    }

    /// Verifies the token's signature and claims. `now` drives the key cache's age;
    /// `now_secs` the claim checks.
    pub async fn verify(
        &self,
        token: &str,
        issuer: &str,
        audience: &[String],
        route_scopes: &[String],
        now: Instant,
        now_secs: i64,
    ) -> Result<(Map<String, J>, Option<Vec<String>>), JwtFailure> {
        let header = jsonwebtoken::decode_header(token)
            .map_err(|_| JwtFailure::Invalid(describe::MALFORMED))?;
        if !matches!(
            header.alg,
            Algorithm::RS256 | Algorithm::RS384 | Algorithm::RS512
        ) {
            return Err(JwtFailure::Invalid(describe::ALGORITHM));
        }
        let kid = header.kid.ok_or(JwtFailure::Invalid(describe::KID))?;
        let (key, keys_at) = self.key(issuer, &kid, now).await?;
        // A token the same key set verified before needs no new check.
        let known = self.verified.lock().ok().and_then(|verified| {
            verified
                .get(token)
                .filter(|(iss, at, _)| iss == issuer && *at == keys_at)
                .map(|(_, _, claims)| claims.clone())
        });
        if let Some(claims) = known {
            let scopes = check_claims(&claims, issuer, audience, route_scopes, now_secs)?;
            return Ok((claims, scopes));
        }
        let mut v = Validation::new(header.alg);
        v.validate_exp = false;
        v.validate_nbf = false;
        v.validate_aud = false;
        v.required_spec_claims.clear();
        let data = jsonwebtoken::decode::<Map<String, J>>(token, &key, &v).map_err(|e| match e
            .kind()
        {
            jsonwebtoken::errors::ErrorKind::InvalidSignature => {
                JwtFailure::Invalid(describe::SIGNATURE)
            }
            _ => JwtFailure::Invalid(describe::MALFORMED),
        })?;
        if let Ok(mut verified) = self.verified.lock() {
            if verified.len() >= VERIFIED_TOKENS {
                verified.clear();
            }
            let entry = (issuer.to_owned(), keys_at, data.claims.clone());
            verified.insert(token.to_owned(), entry);
        }
        let scopes = check_claims(&data.claims, issuer, audience, route_scopes, now_secs)?;
        Ok((data.claims, scopes))
    }

    fn cached(&self, issuer: &str) -> Option<Arc<Keys>> {
        self.issuers.lock().ok()?.get(issuer).cloned()
    }

    /// The key `kid` of the issuer and when its key set was fetched.
    async fn key(
        &self,
        issuer: &str,
        kid: &str,
        now: Instant,
    ) -> Result<(DecodingKey, Instant), JwtFailure> {
        let key_of = |keys: &Keys| keys.by_kid.get(kid).map(|(_, k)| (k.clone(), keys.fetched));
        let fresh = |keys: &Keys| now.saturating_duration_since(keys.fetched) < limits::JWKS_TTL;
        if let Some(k) = self
            .cached(issuer)
            .as_deref()
            .filter(|k| fresh(k))
            .and_then(key_of)
        {
            return Ok(k);
        }
        let _one_fetch = self.fetching.lock().await;
        // Another request fetched while this one waited: its answer stands, so a burst of
        // tokens with the same unknown kid fetches once.
        if let Some(keys) = self.cached(issuer).filter(|k| k.fetched >= now) {
            return key_of(&keys).ok_or(JwtFailure::Invalid(describe::KID));
        }
        match self.fetch(issuer).await {
            Ok(by_kid) => {
                let keys = Arc::new(Keys {
                    by_kid,
                    fetched: Instant::now().max(now),
                });
                if let Ok(mut m) = self.issuers.lock() {
                    m.insert(issuer.to_owned(), keys.clone());
                }
                key_of(&keys).ok_or(JwtFailure::Invalid(describe::KID))
            }
            Err(e) => {
                tracing::warn!(issuer = %issuer, error = %e, "JWT authorizer: cannot fetch the issuer's keys");
                // Keys we already had stay usable for kids they hold.
                self.cached(issuer)
                    .as_deref()
                    .and_then(key_of)
                    .ok_or(JwtFailure::Invalid(describe::KEYS))
            }
        }
    }

    async fn get_json(&self, url: &str) -> Result<J, String> {
        let resp = self
            .client
            .get(url)
            .send()
            .await
            .map_err(|e| format!("GET {url}: {e}"))?;
        if !resp.status().is_success() {
            return Err(format!("GET {url}: status {}", resp.status()));
        }
        let body = resp.bytes().await.map_err(|e| format!("GET {url}: {e}"))?;
        if body.len() > limits::MAX_JWKS_BYTES {
            return Err(format!(
                "GET {url}: {} bytes, more than {}",
                body.len(),
                limits::MAX_JWKS_BYTES
            ));
        }
        serde_json::from_slice(&body).map_err(|e| format!("GET {url}: not JSON: {e}"))
    }

    /// Discovery (`/.well-known/openid-configuration` → `jwks_uri`), then the JWKS.
    async fn fetch(
        &self,
        issuer: &str,
    ) -> Result<HashMap<String, (Algorithm, DecodingKey)>, String> {
        let base = issuer.trim_end_matches('/');
        let discovery = self
            .get_json(&format!("{base}/.well-known/openid-configuration"))
            .await?;
        let jwks_uri = discovery
            .get("jwks_uri")
            .and_then(J::as_str)
            .ok_or("the discovery document has no jwks_uri")?
            .to_owned();
        let jwks = self.get_json(&jwks_uri).await?;
        let mut out = HashMap::new();
        for k in jwks
            .get("keys")
            .and_then(J::as_array)
            .ok_or("the JWKS has no keys")?
        {
            if k.get("kty").and_then(J::as_str) != Some("RSA") {
                continue;
            }
            if k.get("use").and_then(J::as_str).is_some_and(|u| u != "sig") {
                continue;
            }
            let (Some(kid), Some(n), Some(e)) = (
                k.get("kid").and_then(J::as_str),
                k.get("n").and_then(J::as_str),
                k.get("e").and_then(J::as_str),
            ) else {
                continue;
            };
            let alg = match k.get("alg").and_then(J::as_str) {
                Some("RS384") => Algorithm::RS384,
                Some("RS512") => Algorithm::RS512,
                _ => Algorithm::RS256,
            };
            if let Ok(key) = DecodingKey::from_rsa_components(n, e) {
                out.insert(kid.to_owned(), (alg, key));
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const NOW: i64 = 1_700_000_000;

    fn claims(v: J) -> Map<String, J> {
        v.as_object().expect("object").clone()
    }

    fn base() -> J {
        json!({"iss": "https://issuer.example", "aud": "api", "exp": NOW + 60, "iat": NOW - 5,
               "scope": "read write"})
    }

    fn check(v: J, scopes: &[&str]) -> Result<Option<Vec<String>>, JwtFailure> {
        let scopes: Vec<String> = scopes.iter().map(|s| (*s).to_owned()).collect();
        check_claims(
            &claims(v),
            "https://issuer.example",
            &["api".to_owned()],
            &scopes,
            NOW,
        )
    }

    #[test]
    fn valid_and_each_claim_rule() {
        assert_eq!(check(base(), &[]), Ok(None));
        let mut v = base();
        v["iss"] = json!("https://issuer.example/");
        assert_eq!(
            check(v, &[]),
            Err(JwtFailure::Invalid(describe::ISSUER)),
            "exact iss"
        );
        let mut v = base();
        v["aud"] = json!("other");
        v["client_id"] = json!("api");
        assert_eq!(
            check(v, &[]),
            Err(JwtFailure::Invalid(describe::AUDIENCE)),
            "aud before client_id"
        );
        let mut v = base();
        v.as_object_mut().expect("o").remove("aud");
        v["client_id"] = json!("api");
        assert_eq!(check(v, &[]), Ok(None), "client_id when no aud");
        let mut v = base();
        v["aud"] = json!(["x", "api"]);
        assert_eq!(check(v, &[]), Ok(None));
        let mut v = base();
        v["exp"] = json!(NOW);
        assert_eq!(check(v, &[]), Err(JwtFailure::Invalid(describe::EXPIRED)));
        let mut v = base();
        v["nbf"] = json!(NOW + 1);
        assert_eq!(
            check(v, &[]),
            Err(JwtFailure::Invalid(describe::NOT_YET_VALID))
        );
        let mut v = base();
        v["iat"] = json!(NOW + 1);
        assert_eq!(
            check(v, &[]),
            Err(JwtFailure::Invalid(describe::ISSUED_IN_FUTURE))
        );
    }

    #[test]
    fn scopes_any_of_in_scope_or_scp() {
        assert_eq!(
            check(base(), &["admin", "write"]),
            Ok(Some(vec!["read".to_owned(), "write".to_owned()]))
        );
        assert_eq!(
            check(base(), &["admin"]),
            Err(JwtFailure::InsufficientScope)
        );
        let mut v = base();
        v.as_object_mut().expect("o").remove("scope");
        v["scp"] = json!(["admin"]);
        assert!(check(v, &["admin"]).is_ok());
        assert_eq!(JwtFailure::InsufficientScope.status(), 403);
        assert_eq!(
            JwtFailure::Invalid(describe::AUDIENCE).www_authenticate().as_deref(),
            Some("Bearer scope=\"\" error=\"invalid_token\" error_description=\"the token does not have a valid audience\"")
        );
    }

    #[test]
    fn claims_become_strings() {
        let s = stringify_claims(&claims(
            json!({"exp": 1787996002, "groups": ["a", "b"], "ok": true, "s": "x"}),
        ));
        assert_eq!(
            J::Object(s),
            json!({"exp": "1787996002", "groups": "[a b]", "ok": "true", "s": "x"})
        );
    }

    /// A loopback issuer (discovery + JWKS) for one RSA test key, counting JWKS fetches.
    async fn loopback_issuer() -> (String, Arc<std::sync::atomic::AtomicUsize>) {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let iss = format!("http://{}", listener.local_addr().expect("addr"));
        let fetches = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let (base, count) = (iss.clone(), fetches.clone());
        tokio::spawn(async move {
            loop {
                let Ok((mut s, _)) = listener.accept().await else {
                    return;
                };
                let mut buf = vec![0u8; 4096];
                let n = s.read(&mut buf).await.unwrap_or(0);
                let req = String::from_utf8_lossy(&buf[..n]).into_owned();
                let body = if req.starts_with("GET /jwks") {
                    count.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                    json!({"keys": [{"kty": "RSA", "kid": "k", "alg": "RS256", "use": "sig",
                        "n": include_str!("testdata/rsa2048.n").trim(), "e": "AQAB"}]})
                } else {
                    json!({"issuer": base, "jwks_uri": format!("{base}/jwks")})
                }
                .to_string();
                let head = format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
                    body.len()
                );
                let _ = s.write_all((head + &body).as_bytes()).await;
            }
        });
        (iss, fetches)
    }

    fn sign(claims: &J) -> String {
        use base64::Engine as _;
        let der = base64::engine::general_purpose::STANDARD
            .decode(include_str!("testdata/rsa2048.der.b64").trim())
            .expect("base64");
        let mut header = jsonwebtoken::Header::new(Algorithm::RS256);
        header.kid = Some("k".into());
        jsonwebtoken::encode(
            &header,
            claims,
            &jsonwebtoken::EncodingKey::from_rsa_der(&der),
        )
        .expect("sign")
    }

    /// A token verified once is not verified again, but its claims are checked on every
    /// request: the same token is refused once it has expired, and a token with the same
    /// claims and a broken signature is refused.
    #[tokio::test]
    async fn a_verified_token_still_meets_the_claim_rules_each_time() {
        let (iss, fetches) = loopback_issuer().await;
        let token = sign(&json!({"iss": iss, "aud": "api", "exp": NOW + 60, "scope": "read"}));
        let cache = JwksCache::new();
        let aud = ["api".to_owned()];
        let verify = |token: String, now_secs: i64| {
            let (cache, iss, aud) = (&cache, iss.clone(), aud.clone());
            async move {
                cache
                    .verify(&token, &iss, &aud, &[], Instant::now(), now_secs)
                    .await
            }
        };
        for _ in 0..3 {
            let (claims, _) = verify(token.clone(), NOW).await.expect("valid");
            assert_eq!(claims["aud"], "api");
        }
        assert_eq!(
            fetches.load(std::sync::atomic::Ordering::SeqCst),
            1,
            "keys fetched once"
        );
        assert_eq!(
            verify(token.clone(), NOW + 61).await,
            Err(JwtFailure::Invalid(describe::EXPIRED))
        );
        let (head, _) = token.rsplit_once('.').expect("three parts");
        let forged = format!("{head}.{}", "A".repeat(342));
        assert_eq!(
            verify(forged, NOW).await,
            Err(JwtFailure::Invalid(describe::SIGNATURE))
        );
    }

    #[tokio::test]
    async fn https_issuers_are_fetched_over_tls() {
        // Port 9 on loopback refuses: the request must get as far as connecting, which a
        // client built without TLS never does for an https URL.
        let err = JwksCache::new()
            .get_json("https://127.0.0.1:9/.well-known/openid-configuration")
            .await
            .expect_err("nothing listens there");
        assert!(!err.contains("scheme"), "{err}");
        assert!(
            err.contains("connect") || err.contains("error sending request"),
            "{err}"
        );
    }

    #[test]
    fn tokens_and_issuers() {
        assert_eq!(token_of("Bearer abc"), Some("abc"));
        assert_eq!(token_of("bearer abc"), Some("abc"));
        assert_eq!(token_of("abc"), Some("abc"));
        assert_eq!(token_of("Bearer "), None);
        assert!(issuer_allowed(
            "https://cognito-idp.us-east-1.amazonaws.com/x"
        ));
        assert!(issuer_allowed("http://127.0.0.1:8080/realm"));
        assert!(issuer_allowed("http://localhost:9000"));
        assert!(!issuer_allowed("http://idp.example.com"));
    }
}
