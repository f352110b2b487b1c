//! CORS decisions for HTTP APIs (reference §4.3). Pure: header lists in, header lists out.

use super::consts::*;
use super::spec::CorsConfig;

/// Whether a request is a CORS preflight API Gateway answers itself: `OPTIONS` with both
/// `Origin` and `Access-Control-Request-Method`. Anything less is routed like any request.
pub fn is_preflight(method: &str, origin: Option<&str>, request_method: Option<&str>) -> bool {
    method == "OPTIONS" && origin.is_some() && request_method.is_some()
}

/// The `Access-Control-Allow-Origin` value for `origin`, or `None` when not allowed.
/// `*` allows all (and answers `*`); `https://*` or `https://*.example.com` allow by
/// pattern and echo the origin; anything else must match exactly (case-insensitively).
pub fn allowed_origin(cfg: &CorsConfig, origin: &str) -> Option<String> {
    for allowed in &cfg.allow_origins {
        if allowed == "*" {
            return Some("*".to_owned());
        }
        if let Some((scheme, host_pattern)) = allowed.split_once("://") {
            if let Some(suffix) = host_pattern.strip_prefix('*') {
                if let Some((o_scheme, o_host)) = origin.split_once("://") {
                    if o_scheme.eq_ignore_ascii_case(scheme)
                        && !o_host.is_empty()
                        && o_host
                            .to_ascii_lowercase()
                            .ends_with(&suffix.to_ascii_lowercase())
                        && o_host.len() > suffix.len()
                    {
                        return Some(origin.to_owned());
                    }
                }
                continue;
            }
        }
        if allowed.eq_ignore_ascii_case(origin) {
            return Some(origin.to_owned());
        }
    }
    None
}

/// The automatic answer to a preflight: status 204 and these headers. An origin that is not
/// allowed gets 204 without CORS headers, so the browser refuses the real request.
pub fn preflight_headers(
    cfg: &CorsConfig,
    origin: &str,
    request_headers: Option<&str>,
) -> Vec<(&'static str, String)> {
    let Some(allow_origin) = allowed_origin(cfg, origin) else {
        return Vec::new();
    };
    let mut out = vec![(ACCESS_CONTROL_ALLOW_ORIGIN, allow_origin)];
    if cfg.allow_credentials {
        out.push((ACCESS_CONTROL_ALLOW_CREDENTIALS, "true".to_owned()));
    }
    if !cfg.allow_methods.is_empty() {
        out.push((ACCESS_CONTROL_ALLOW_METHODS, cfg.allow_methods.join(",")));
    }
    if !cfg.allow_headers.is_empty() {
        let v = if cfg.allow_headers.iter().any(|h| h == "*") {
            // Echo what the browser asks for, so `*` also works with credentials.
            request_headers
                .map(str::to_owned)
                .unwrap_or_else(|| "*".to_owned())
        } else {
            cfg.allow_headers.join(",")
        };
        out.push((ACCESS_CONTROL_ALLOW_HEADERS, v));
    }
    if let Some(age) = cfg.max_age {
        out.push((ACCESS_CONTROL_MAX_AGE, age.to_string()));
    }
    out
}

/// Headers to put on an actual (non-preflight) response for a request with `origin`.
pub fn response_headers(cfg: &CorsConfig, origin: &str) -> Vec<(&'static str, String)> {
    let Some(allow_origin) = allowed_origin(cfg, origin) else {
        return Vec::new();
    };
    let mut out = vec![(ACCESS_CONTROL_ALLOW_ORIGIN, allow_origin)];
    if cfg.allow_credentials {
        out.push((ACCESS_CONTROL_ALLOW_CREDENTIALS, "true".to_owned()));
    }
    if !cfg.expose_headers.is_empty() {
        out.push((ACCESS_CONTROL_EXPOSE_HEADERS, cfg.expose_headers.join(",")));
    }
    out
}

/// Backend CORS headers are ignored when the API has a CORS configuration.
pub fn is_cors_header(name: &str) -> bool {
    name.len() > 15 && name[..15].eq_ignore_ascii_case("access-control-")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(origins: &[&str]) -> CorsConfig {
        CorsConfig {
            allow_origins: origins.iter().map(|s| (*s).to_owned()).collect(),
            allow_methods: vec!["GET".into(), "POST".into()],
            allow_headers: vec!["authorization".into(), "content-type".into()],
            expose_headers: vec!["x-total".into()],
            max_age: Some(600),
            allow_credentials: false,
        }
    }

    #[test]
    fn preflight_needs_origin_and_request_method() {
        assert!(is_preflight("OPTIONS", Some("https://a"), Some("GET")));
        assert!(!is_preflight("OPTIONS", Some("https://a"), None));
        assert!(!is_preflight("OPTIONS", None, Some("GET")));
        assert!(!is_preflight("GET", Some("https://a"), Some("GET")));
    }

    #[test]
    fn origins_exact_star_and_scheme_wildcards() {
        let c = cfg(&["https://www.example.com"]);
        assert_eq!(
            allowed_origin(&c, "https://www.example.com").as_deref(),
            Some("https://www.example.com")
        );
        assert_eq!(allowed_origin(&c, "https://evil.com"), None);
        assert_eq!(
            allowed_origin(&cfg(&["*"]), "http://x").as_deref(),
            Some("*")
        );
        let w = cfg(&["https://*"]);
        assert_eq!(
            allowed_origin(&w, "https://any.site").as_deref(),
            Some("https://any.site")
        );
        assert_eq!(allowed_origin(&w, "http://any.site"), None);
        let sub = cfg(&["https://*.example.com"]);
        assert!(allowed_origin(&sub, "https://app.example.com").is_some());
        assert!(allowed_origin(&sub, "https://example.com.evil").is_none());
    }

    #[test]
    fn preflight_and_response_headers() {
        let c = cfg(&["https://a.com"]);
        let h = preflight_headers(&c, "https://a.com", Some("content-type"));
        assert_eq!(
            h,
            vec![
                (ACCESS_CONTROL_ALLOW_ORIGIN, "https://a.com".to_owned()),
                (ACCESS_CONTROL_ALLOW_METHODS, "GET,POST".to_owned()),
                (
                    ACCESS_CONTROL_ALLOW_HEADERS,
                    "authorization,content-type".to_owned()
                ),
                (ACCESS_CONTROL_MAX_AGE, "600".to_owned()),
            ]
        );
        assert!(preflight_headers(&c, "https://b.com", None).is_empty());
        let r = response_headers(&c, "https://a.com");
        assert_eq!(r[1], (ACCESS_CONTROL_EXPOSE_HEADERS, "x-total".to_owned()));
        assert!(is_cors_header("Access-Control-Allow-Origin"));
        assert!(!is_cors_header("content-type"));
    }
}
