//! CloudFront's managed policies with their real ids (reference §1.5; the CloudFront
//! Developer Guide's "managed cache / origin request / response headers policies" pages).

use crate::spec::{
    CachePolicy, HeaderSelection, OriginRequestPolicy, ResponseHeadersPolicy, Selection,
};

pub const CACHING_OPTIMIZED_ID: &str = "658327ea-f89d-4fab-a63d-7e88639e58f6";
pub const CACHING_OPTIMIZED_UNCOMPRESSED_ID: &str = "b2884449-e4de-46a7-ac36-70bc7f1ddd6d";
pub const CACHING_DISABLED_ID: &str = "4135ea2d-6df8-44a3-9df3-4b5a84be39ad";
pub const AMPLIFY_ID: &str = "2e54312d-136d-493c-8eb9-b001f22f67d2";
pub const ELEMENTAL_MEDIA_PACKAGE_ID: &str = "08627262-05a9-4f76-9ded-b50ca2e3a84f";
pub const USE_ORIGIN_CACHE_CONTROL_HEADERS_ID: &str = "83da9c7e-98b4-4e11-a168-04f0df8e2c65";
pub const USE_ORIGIN_CACHE_CONTROL_HEADERS_QS_ID: &str = "4cc15a8a-d715-48a4-82b8-cc0b614638fe";

pub const ORP_ALL_VIEWER_ID: &str = "216adef6-5c7f-47e4-b989-5492eafa07d3";
pub const ORP_ALL_VIEWER_AND_CF_ID: &str = "33f36d7e-f396-46d9-90e0-52428a34d9dc";
pub const ORP_ALL_VIEWER_EXCEPT_HOST_ID: &str = "b689b0a8-53d0-40ab-baf2-68738e2966ac";
pub const ORP_CORS_CUSTOM_ORIGIN_ID: &str = "59781a5b-3903-41f3-afcb-af62929ccde1";
pub const ORP_CORS_S3_ORIGIN_ID: &str = "88a5eaf4-2fd4-4709-b370-b4c650ea3fcf";
pub const ORP_MEDIA_TAILOR_ID: &str = "775133bc-15f2-49f9-abea-afb2e0bf67d2";
pub const ORP_USER_AGENT_REFERER_ID: &str = "acba4595-bd28-49b8-b9fe-13317c0390fa";

pub const RHP_SECURITY_HEADERS_ID: &str = "67f7725c-6f97-4210-82d7-5512b31e9d03";
pub const RHP_SIMPLE_CORS_ID: &str = "60669652-455b-4ae9-85a4-c4c02393f86c";
pub const RHP_CORS_AND_SECURITY_ID: &str = "e61eb60c-9c35-4d20-a928-2b84e02af89c";
pub const RHP_CORS_WITH_PREFLIGHT_ID: &str = "5cc3b908-e619-4b99-88e5-2cf7f45965bd";
pub const RHP_CORS_PREFLIGHT_SECURITY_ID: &str = "eaab4381-ed33-4a86-88ca-d9558dc6cd63";

fn cache(
    id: &str,
    name: &str,
    (min, default, max): (u64, u64, u64),
    headers: &[&str],
    cookies: Selection,
    query_strings: Selection,
    compressed: bool,
) -> CachePolicy {
    CachePolicy {
        id: id.to_owned(),
        name: name.to_owned(),
        min_ttl: min,
        default_ttl: default,
        max_ttl: max,
        headers: headers.iter().map(|h| h.to_ascii_lowercase()).collect(),
        cookies,
        query_strings,
        accept_encoding_gzip: compressed,
        accept_encoding_brotli: compressed,
        forward_all_headers: false,
    }
}

/// A managed cache policy by id.
pub fn managed_cache_policy(id: &str) -> Option<CachePolicy> {
    use Selection::{All, None as No};
    let year = 31_536_000;
    Some(match id {
        CACHING_OPTIMIZED_ID => cache(
            id,
            "Managed-CachingOptimized",
            (1, 86_400, year),
            &[],
            No,
            No,
            true,
        ),
        CACHING_OPTIMIZED_UNCOMPRESSED_ID => cache(
            id,
            "Managed-CachingOptimizedForUncompressedObjects",
            (1, 86_400, year),
            &[],
            No,
            No,
            false,
        ),
        CACHING_DISABLED_ID => cache(id, "Managed-CachingDisabled", (0, 0, 0), &[], No, No, false),
        AMPLIFY_ID => cache(
            id,
            "Managed-Amplify",
            (2, 2, 600),
            &["Authorization", "CloudFront-Viewer-Country", "Host"],
            All,
            All,
            true,
        ),
        ELEMENTAL_MEDIA_PACKAGE_ID => cache(
            id,
            "Managed-Elemental-MediaPackage",
            (0, 86_400, year),
            &["Origin"],
            No,
            Selection::Only(
                ["aws.manifestfilter", "start", "end", "m"]
                    .map(String::from)
                    .to_vec(),
            ),
            true,
        ),
        USE_ORIGIN_CACHE_CONTROL_HEADERS_ID => cache(
            id,
            "Managed-UseOriginCacheControlHeaders",
            (0, 0, year),
            &[
                "Host",
                "Origin",
                "X-HTTP-Method-Override",
                "X-HTTP-Method",
                "X-Method-Override",
            ],
            All,
            No,
            true,
        ),
        USE_ORIGIN_CACHE_CONTROL_HEADERS_QS_ID => cache(
            id,
            "Managed-UseOriginCacheControlHeaders-QueryStrings",
            (0, 0, year),
            &[
                "Host",
                "Origin",
                "X-HTTP-Method-Override",
                "X-HTTP-Method",
                "X-Method-Override",
            ],
            All,
            All,
            true,
        ),
        _ => return None,
    })
}

fn orp(
    id: &str,
    name: &str,
    headers: HeaderSelection,
    cookies: Selection,
    qs: Selection,
) -> OriginRequestPolicy {
    OriginRequestPolicy {
        id: id.to_owned(),
        name: name.to_owned(),
        headers,
        cookies,
        query_strings: qs,
    }
}

fn names(list: &[&str]) -> Vec<String> {
    list.iter().map(|h| h.to_ascii_lowercase()).collect()
}

/// A managed origin request policy by id.
pub fn managed_origin_request_policy(id: &str) -> Option<OriginRequestPolicy> {
    use HeaderSelection as H;
    use Selection::{All, None as No};
    Some(match id {
        ORP_ALL_VIEWER_ID => orp(id, "Managed-AllViewer", H::AllViewer, All, All),
        ORP_ALL_VIEWER_AND_CF_ID => orp(
            id,
            "Managed-AllViewerAndCloudFrontHeaders-2022-06",
            H::AllViewerAnd(names(&[
                "CloudFront-Viewer-Address",
                "CloudFront-Viewer-Country",
                "CloudFront-Viewer-City",
                "CloudFront-Viewer-Latitude",
                "CloudFront-Viewer-Longitude",
                "CloudFront-Viewer-Http-Version",
                "CloudFront-Forwarded-Proto",
                "CloudFront-Is-Desktop-Viewer",
                "CloudFront-Is-Mobile-Viewer",
                "CloudFront-Is-Tablet-Viewer",
                "CloudFront-Viewer-Header-Order",
                "CloudFront-Viewer-Header-Count",
            ])),
            All,
            All,
        ),
        ORP_ALL_VIEWER_EXCEPT_HOST_ID => orp(
            id,
            "Managed-AllViewerExceptHostHeader",
            H::AllExcept(names(&["Host"])),
            All,
            All,
        ),
        ORP_CORS_CUSTOM_ORIGIN_ID => orp(
            id,
            "Managed-CORS-CustomOrigin",
            H::Only(names(&["Origin"])),
            No,
            No,
        ),
        ORP_CORS_S3_ORIGIN_ID => orp(
            id,
            "Managed-CORS-S3Origin",
            H::Only(names(&[
                "Origin",
                "Access-Control-Request-Headers",
                "Access-Control-Request-Method",
            ])),
            No,
            No,
        ),
        ORP_MEDIA_TAILOR_ID => orp(
            id,
            "Managed-Elemental-MediaTailor-PersonalizedManifests",
            H::Only(names(&[
                "Origin",
                "Access-Control-Request-Headers",
                "Access-Control-Request-Method",
                "User-Agent",
                "X-Forwarded-For",
            ])),
            No,
            All,
        ),
        ORP_USER_AGENT_REFERER_ID => orp(
            id,
            "Managed-UserAgentRefererHeaders",
            H::Only(names(&["User-Agent", "Referer"])),
            No,
            All,
        ),
        _ => return None,
    })
}

fn security_headers() -> Vec<(String, String, bool)> {
    [
        ("Strict-Transport-Security", "max-age=31536000"),
        ("Referrer-Policy", "strict-origin-when-cross-origin"),
        ("X-Content-Type-Options", "nosniff"),
        ("X-Frame-Options", "SAMEORIGIN"),
        ("X-XSS-Protection", "1; mode=block"),
    ]
    .into_iter()
    .map(|(n, v)| (n.to_owned(), v.to_owned(), false))
    .collect()
}

fn simple_cors() -> Vec<(String, String, bool)> {
    vec![(
        "Access-Control-Allow-Origin".to_owned(),
        "*".to_owned(),
        false,
    )]
}

/// A managed response headers policy by id (the headers it adds toward viewers; the
/// preflight variants also answer OPTIONS with these headers).
pub fn managed_response_headers_policy(id: &str) -> Option<ResponseHeadersPolicy> {
    let (name, add) = match id {
        RHP_SECURITY_HEADERS_ID => ("Managed-SecurityHeadersPolicy", security_headers()),
        RHP_SIMPLE_CORS_ID => ("Managed-SimpleCORS", simple_cors()),
        RHP_CORS_AND_SECURITY_ID => (
            "Managed-CORS-and-SecurityHeadersPolicy",
            [simple_cors(), security_headers()].concat(),
        ),
        RHP_CORS_WITH_PREFLIGHT_ID => ("Managed-CORS-With-Preflight", simple_cors()),
        RHP_CORS_PREFLIGHT_SECURITY_ID => (
            "Managed-CORS-with-preflight-and-SecurityHeadersPolicy",
            [simple_cors(), security_headers()].concat(),
        ),
        _ => return None,
    };
    Some(ResponseHeadersPolicy {
        id: id.to_owned(),
        name: name.to_owned(),
        add,
        remove: Vec::new(),
        server_timing: false,
    })
}

/// Legacy `ForwardedValues` + TTLs → an equivalent cache policy (and what it forwards).
pub(crate) fn legacy_policy(
    min: u64,
    default: u64,
    max: u64,
    headers: Vec<String>,
    cookies: Selection,
    query_strings: Selection,
) -> CachePolicy {
    let forward_all_headers = headers.iter().any(|h| h == "*");
    CachePolicy {
        id: String::new(),
        name: "legacy ForwardedValues".to_owned(),
        min_ttl: min,
        default_ttl: default,
        max_ttl: max,
        headers: headers
            .into_iter()
            .filter(|h| h != "*")
            .map(|h| h.to_ascii_lowercase())
            .collect(),
        cookies,
        query_strings,
        // Legacy settings do not normalise Accept-Encoding into the key; CloudFront still
        // compresses when `Compress` is on (and then keys on gzip/br).
        accept_encoding_gzip: false,
        accept_encoding_brotli: false,
        forward_all_headers,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn managed_ids_resolve() {
        let p = managed_cache_policy(CACHING_OPTIMIZED_ID).expect("managed");
        assert_eq!(
            (p.min_ttl, p.default_ttl, p.max_ttl),
            (1, 86_400, 31_536_000)
        );
        assert!(p.accept_encoding_gzip && p.accept_encoding_brotli);
        let d = managed_cache_policy(CACHING_DISABLED_ID).expect("managed");
        assert!(d.caching_disabled());
        assert!(!p.caching_disabled());
        assert!(managed_origin_request_policy(ORP_ALL_VIEWER_ID).is_some());
        assert!(managed_response_headers_policy(RHP_SECURITY_HEADERS_ID).is_some());
        assert!(managed_cache_policy("nope").is_none());
    }
}
