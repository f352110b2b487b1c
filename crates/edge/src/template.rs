//! Template → [`DistributionSpec`]s: `AWS::CloudFront::Distribution` with its
//! `DistributionConfig`, and the custom `CachePolicy`, `OriginRequestPolicy` and
//! `ResponseHeadersPolicy` resources they reference. Deploy errors name the resource and
//! the property, as CloudFormation would.

use ledge_template::Template;
use serde_json::Value as J;

use crate::policies;
use crate::spec::*;
use crate::{EdgeConfig, EdgeError};

pub(crate) const DISTRIBUTION: &str = "AWS::CloudFront::Distribution";
const CACHE_POLICY: &str = "AWS::CloudFront::CachePolicy";
const ORIGIN_REQUEST_POLICY: &str = "AWS::CloudFront::OriginRequestPolicy";
const RESPONSE_HEADERS_POLICY: &str = "AWS::CloudFront::ResponseHeadersPolicy";
const UNRESOLVED: &str = "ledge:unresolved:";

/// Every distribution of the template, in logical-id order.
///
/// `resolve_origin` maps a logical id (an API of the same template, named by `!Ref`,
/// `!GetAtt` or `!Sub` in an origin's `DomainName`) or a whole origin domain to a local base
/// URL (`http://127.0.0.1:PORT`; any path it carries is ignored — `OriginPath` supplies
/// the stage). S3 origins (`<bucket>.s3[.<region>].amazonaws.com`) are served from
/// [`EdgeConfig::bucket_dir`].
pub fn parse_distributions(
    template: &Template,
    resolve_origin: &dyn Fn(&str) -> Option<String>,
    config: &EdgeConfig,
) -> Result<Vec<DistributionSpec>, EdgeError> {
    let mut book = PolicyBook::default();
    for r in template.resources.values() {
        match r.kind.as_str() {
            CACHE_POLICY => {
                let cfg = get(&r.properties, "CachePolicyConfig").ok_or_else(|| {
                    EdgeError::spec(&r.logical_id, "CachePolicyConfig", "is required")
                })?;
                book.cache
                    .insert(r.logical_id.clone(), cache_policy(&r.logical_id, cfg)?);
            }
            ORIGIN_REQUEST_POLICY => {
                let cfg = get(&r.properties, "OriginRequestPolicyConfig").ok_or_else(|| {
                    EdgeError::spec(&r.logical_id, "OriginRequestPolicyConfig", "is required")
                })?;
                book.origin_request.insert(
                    r.logical_id.clone(),
                    origin_request_policy(&r.logical_id, cfg)?,
                );
            }
            RESPONSE_HEADERS_POLICY => {
                let cfg = get(&r.properties, "ResponseHeadersPolicyConfig").ok_or_else(|| {
                    EdgeError::spec(&r.logical_id, "ResponseHeadersPolicyConfig", "is required")
                })?;
                book.response_headers.insert(
                    r.logical_id.clone(),
                    response_headers_policy(&r.logical_id, cfg),
                );
            }
            _ => {}
        }
    }
    template
        .resources
        .values()
        .filter(|r| r.kind == DISTRIBUTION)
        .map(|r| {
            let mut d = distribution(&r.logical_id, &r.properties, &book, resolve_origin, config)?;
            crate::lambda_edge::resolve_associations(template, &mut d, config)?;
            Ok(d)
        })
        .collect()
}

/// `E` + the template's local id for `!GetAtt X.Id`, and its domain name.
pub(crate) fn ids(logical_id: &str) -> (String, String) {
    let local = local_id(logical_id);
    (local.to_uppercase(), format!("{local}.cloudfront.net"))
}

/// The same derivation `ledge-template` uses for `!GetAtt Distribution.Id / DomainName`.
fn local_id(seed: &str) -> String {
    const DIGITS: &[u8; 36] = b"0123456789abcdefghijklmnopqrstuvwxyz";
    let mut h = seed.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    });
    (0..10)
        .map(|_| {
            let c = DIGITS[(h % 36) as usize] as char;
            h /= 36;
            c
        })
        .collect()
}

fn get<'a>(v: &'a J, key: &str) -> Option<&'a J> {
    v.get(key).filter(|v| !v.is_null())
}

fn text(v: &J) -> Option<String> {
    match v {
        J::String(s) => Some(s.clone()),
        J::Number(n) => Some(n.to_string()),
        J::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

fn uint(res: &str, prop: &str, v: Option<&J>) -> Result<Option<u64>, EdgeError> {
    match v {
        None => Ok(None),
        Some(J::Number(n)) => n
            .as_u64()
            .map(Some)
            .ok_or_else(|| EdgeError::spec(res, prop, "must be a non-negative integer")),
        Some(J::String(s)) => s.trim().parse().map(Some).map_err(|_| {
            EdgeError::spec(res, prop, format!("{s:?} is not a non-negative integer"))
        }),
        Some(_) => Err(EdgeError::spec(res, prop, "must be a non-negative integer")),
    }
}

fn boolean(v: Option<&J>) -> Option<bool> {
    match v? {
        J::Bool(b) => Some(*b),
        J::String(s) => match s.as_str() {
            "true" | "True" => Some(true),
            "false" | "False" => Some(false),
            _ => None,
        },
        _ => None,
    }
}

/// A list given either as a YAML list or as CloudFront's `{Quantity, Items}`.
fn list(v: Option<&J>) -> Vec<J> {
    match v {
        Some(J::Array(a)) => a.clone(),
        Some(o @ J::Object(_)) => match o.get("Items") {
            Some(J::Array(a)) => a.clone(),
            _ => Vec::new(),
        },
        _ => Vec::new(),
    }
}

fn strings(v: Option<&J>) -> Vec<String> {
    list(v).iter().filter_map(text).collect()
}

/// `!Ref Policy` gives the logical id; `!GetAtt Policy.Id` a placeholder naming it.
fn policy_ref(v: &J) -> Option<String> {
    let s = text(v)?;
    Some(match s.strip_prefix(UNRESOLVED) {
        Some(rest) => rest.split('.').next().unwrap_or(rest).to_owned(),
        None => s,
    })
}

fn selection(
    res: &str,
    prop: &str,
    behavior: Option<&J>,
    names: Vec<String>,
) -> Result<Selection, EdgeError> {
    let b = behavior.and_then(text).unwrap_or_else(|| "none".to_owned());
    Ok(match b.as_str() {
        "none" => Selection::None,
        "all" => Selection::All,
        "whitelist" => Selection::Only(names),
        "allExcept" => Selection::AllExcept(names),
        other => {
            return Err(EdgeError::spec(
                res,
                prop,
                format!("{other:?} is not one of none, whitelist, allExcept, all"),
            ))
        }
    })
}

fn cache_policy(id: &str, cfg: &J) -> Result<CachePolicy, EdgeError> {
    let p = "CachePolicyConfig";
    let min = uint(id, &format!("{p}.MinTTL"), get(cfg, "MinTTL"))?
        .ok_or_else(|| EdgeError::spec(id, format!("{p}.MinTTL"), "is required"))?;
    let default =
        uint(id, &format!("{p}.DefaultTTL"), get(cfg, "DefaultTTL"))?.unwrap_or(86_400.max(min));
    let max =
        uint(id, &format!("{p}.MaxTTL"), get(cfg, "MaxTTL"))?.unwrap_or(31_536_000.max(default));
    check_ttls(id, p, min, default, max)?;
    let keys = get(cfg, "ParametersInCacheKeyAndForwardedToOrigin").ok_or_else(|| {
        EdgeError::spec(
            id,
            format!("{p}.ParametersInCacheKeyAndForwardedToOrigin"),
            "is required",
        )
    })?;
    let headers_cfg = get(keys, "HeadersConfig");
    let header_behavior = headers_cfg
        .and_then(|h| get(h, "HeaderBehavior"))
        .and_then(text)
        .unwrap_or_else(|| "none".into());
    let headers = match header_behavior.as_str() {
        "none" => Vec::new(),
        "whitelist" => strings(headers_cfg.and_then(|h| get(h, "Headers"))),
        other => {
            return Err(EdgeError::spec(
                id,
                format!("{p}.ParametersInCacheKeyAndForwardedToOrigin.HeadersConfig.HeaderBehavior"),
                format!("{other:?} is not one of none, whitelist (a cache policy cannot key on all headers)"),
            ))
        }
    };
    if headers.len() > 10 {
        return Err(EdgeError::spec(
            id,
            "HeadersConfig.Headers",
            "at most 10 headers",
        ));
    }
    let cookies_cfg = get(keys, "CookiesConfig");
    let cookies = selection(
        id,
        "CookiesConfig.CookieBehavior",
        cookies_cfg.and_then(|c| get(c, "CookieBehavior")),
        strings(cookies_cfg.and_then(|c| get(c, "Cookies"))),
    )?;
    let qs_cfg = get(keys, "QueryStringsConfig");
    let query_strings = selection(
        id,
        "QueryStringsConfig.QueryStringBehavior",
        qs_cfg.and_then(|c| get(c, "QueryStringBehavior")),
        strings(qs_cfg.and_then(|c| get(c, "QueryStrings"))),
    )?;
    let gzip = boolean(get(keys, "EnableAcceptEncodingGzip")).unwrap_or(false);
    let brotli = boolean(get(keys, "EnableAcceptEncodingBrotli")).unwrap_or(false);
    if (gzip || brotli)
        && headers
            .iter()
            .any(|h| h.eq_ignore_ascii_case("accept-encoding"))
    {
        return Err(EdgeError::spec(
            id,
            "HeadersConfig.Headers",
            "Accept-Encoding cannot be listed when EnableAcceptEncodingGzip or EnableAcceptEncodingBrotli is on",
        ));
    }
    Ok(CachePolicy {
        id: id.to_owned(),
        name: get(cfg, "Name")
            .and_then(text)
            .unwrap_or_else(|| id.to_owned()),
        min_ttl: min,
        default_ttl: default,
        max_ttl: max,
        headers: headers.iter().map(|h| h.to_ascii_lowercase()).collect(),
        cookies,
        query_strings,
        accept_encoding_gzip: gzip,
        accept_encoding_brotli: brotli,
        forward_all_headers: false,
    })
}

fn check_ttls(res: &str, prop: &str, min: u64, default: u64, max: u64) -> Result<(), EdgeError> {
    if min > default {
        return Err(EdgeError::spec(
            res,
            format!("{prop}.MinTTL"),
            format!("MinTTL {min} is greater than DefaultTTL {default}"),
        ));
    }
    if default > max {
        return Err(EdgeError::spec(
            res,
            format!("{prop}.DefaultTTL"),
            format!("DefaultTTL {default} is greater than MaxTTL {max}"),
        ));
    }
    Ok(())
}

fn origin_request_policy(id: &str, cfg: &J) -> Result<OriginRequestPolicy, EdgeError> {
    let h = get(cfg, "HeadersConfig");
    let names: Vec<String> = strings(h.and_then(|h| get(h, "Headers")))
        .into_iter()
        .map(|s| s.to_ascii_lowercase())
        .collect();
    let headers = match h.and_then(|h| get(h, "HeaderBehavior")).and_then(text).as_deref().unwrap_or("none") {
        "none" => HeaderSelection::None,
        "whitelist" => HeaderSelection::Only(names),
        "allViewer" => HeaderSelection::AllViewer,
        "allViewerAndWhitelistCloudFront" => HeaderSelection::AllViewerAnd(names),
        "allExcept" => HeaderSelection::AllExcept(names),
        other => {
            return Err(EdgeError::spec(
                id,
                "OriginRequestPolicyConfig.HeadersConfig.HeaderBehavior",
                format!("{other:?} is not one of none, whitelist, allViewer, allViewerAndWhitelistCloudFront, allExcept"),
            ))
        }
    };
    let c = get(cfg, "CookiesConfig");
    let q = get(cfg, "QueryStringsConfig");
    Ok(OriginRequestPolicy {
        id: id.to_owned(),
        name: get(cfg, "Name")
            .and_then(text)
            .unwrap_or_else(|| id.to_owned()),
        headers,
        cookies: selection(
            id,
            "CookiesConfig.CookieBehavior",
            c.and_then(|c| get(c, "CookieBehavior")),
            strings(c.and_then(|c| get(c, "Cookies"))),
        )?,
        query_strings: selection(
            id,
            "QueryStringsConfig.QueryStringBehavior",
            q.and_then(|c| get(c, "QueryStringBehavior")),
            strings(q.and_then(|c| get(c, "QueryStrings"))),
        )?,
    })
}

fn response_headers_policy(id: &str, cfg: &J) -> ResponseHeadersPolicy {
    let add = list(get(cfg, "CustomHeadersConfig").and_then(|c| get(c, "Items")))
        .iter()
        .filter_map(|i| {
            Some((
                get(i, "Header").and_then(text)?,
                get(i, "Value").and_then(text)?,
                boolean(get(i, "Override")).unwrap_or(false),
            ))
        })
        .collect();
    let remove = list(get(cfg, "RemoveHeadersConfig").and_then(|c| get(c, "Items")))
        .iter()
        .filter_map(|i| get(i, "Header").and_then(text))
        .collect();
    let server_timing = get(cfg, "ServerTimingHeadersConfig")
        .and_then(|s| boolean(get(s, "Enabled")))
        .unwrap_or(false);
    ResponseHeadersPolicy {
        id: id.to_owned(),
        name: get(cfg, "Name")
            .and_then(text)
            .unwrap_or_else(|| id.to_owned()),
        add,
        remove,
        server_timing,
    }
}

fn distribution(
    logical_id: &str,
    props: &J,
    book: &PolicyBook,
    resolve: &dyn Fn(&str) -> Option<String>,
    config: &EdgeConfig,
) -> Result<DistributionSpec, EdgeError> {
    let res = logical_id;
    let cfg = get(props, "DistributionConfig")
        .ok_or_else(|| EdgeError::spec(res, "DistributionConfig", "is required"))?;
    let p = "DistributionConfig";
    let origins_json = list(get(cfg, "Origins"));
    if origins_json.is_empty() {
        return Err(EdgeError::spec(
            res,
            format!("{p}.Origins"),
            "at least one origin is required",
        ));
    }
    let mut origins = Vec::new();
    for (i, o) in origins_json.iter().enumerate() {
        let o = origin(res, &format!("{p}.Origins[{i}]"), o, resolve, config)?;
        if origins.iter().any(|x: &OriginSpec| x.id == o.id) {
            return Err(EdgeError::spec(
                res,
                format!("{p}.Origins[{i}].Id"),
                format!("origin id {:?} is used twice", o.id),
            ));
        }
        origins.push(o);
    }
    let mut origin_groups = Vec::new();
    for (i, g) in list(get(cfg, "OriginGroups")).iter().enumerate() {
        let site = format!("{p}.OriginGroups.Items[{i}]");
        let id = get(g, "Id")
            .and_then(text)
            .ok_or_else(|| EdgeError::spec(res, format!("{site}.Id"), "is required"))?;
        let members: Vec<String> = list(get(g, "Members"))
            .iter()
            .filter_map(|m| get(m, "OriginId").and_then(text))
            .collect();
        if members.len() != 2 {
            return Err(EdgeError::spec(
                res,
                format!("{site}.Members"),
                "an origin group has exactly two members",
            ));
        }
        for m in &members {
            if !origins.iter().any(|o| &o.id == m) {
                return Err(EdgeError::spec(
                    res,
                    format!("{site}.Members"),
                    format!("{m:?} is not an origin of this distribution"),
                ));
            }
        }
        let codes_json = get(g, "FailoverCriteria").and_then(|f| get(f, "StatusCodes"));
        let mut codes = Vec::new();
        for c in list(codes_json) {
            let c = uint(
                res,
                &format!("{site}.FailoverCriteria.StatusCodes"),
                Some(&c),
            )?
            .unwrap_or(0) as u16;
            if ![400, 403, 404, 416, 500, 502, 503, 504].contains(&c) {
                return Err(EdgeError::spec(
                    res,
                    format!("{site}.FailoverCriteria.StatusCodes"),
                    format!("{c} is not one of 400, 403, 404, 416, 500, 502, 503, 504"),
                ));
            }
            codes.push(c);
        }
        if codes.is_empty() {
            return Err(EdgeError::spec(
                res,
                format!("{site}.FailoverCriteria.StatusCodes"),
                "at least one status code is required",
            ));
        }
        origin_groups.push(OriginGroupSpec {
            id,
            primary: members[0].clone(),
            secondary: members[1].clone(),
            failover_status_codes: codes,
        });
    }
    let targets: Vec<&str> = origins
        .iter()
        .map(|o| o.id.as_str())
        .chain(origin_groups.iter().map(|g| g.id.as_str()))
        .collect();
    let dcb = get(cfg, "DefaultCacheBehavior")
        .ok_or_else(|| EdgeError::spec(res, format!("{p}.DefaultCacheBehavior"), "is required"))?;
    let default_behavior = behavior(
        res,
        &format!("{p}.DefaultCacheBehavior"),
        dcb,
        true,
        book,
        &targets,
    )?;
    let mut behaviors = Vec::new();
    for (i, b) in list(get(cfg, "CacheBehaviors")).iter().enumerate() {
        behaviors.push(behavior(
            res,
            &format!("{p}.CacheBehaviors[{i}]"),
            b,
            false,
            book,
            &targets,
        )?);
    }
    let mut custom_error_responses = Vec::new();
    for (i, e) in list(get(cfg, "CustomErrorResponses")).iter().enumerate() {
        let site = format!("{p}.CustomErrorResponses[{i}]");
        let code = uint(res, &format!("{site}.ErrorCode"), get(e, "ErrorCode"))?
            .ok_or_else(|| EdgeError::spec(res, format!("{site}.ErrorCode"), "is required"))?
            as u16;
        if !(400..600).contains(&code) || code == 412 || code == 415 {
            return Err(EdgeError::spec(
                res,
                format!("{site}.ErrorCode"),
                format!("{code} cannot have a custom error response"),
            ));
        }
        let page = get(e, "ResponsePagePath").and_then(text);
        let response_code =
            uint(res, &format!("{site}.ResponseCode"), get(e, "ResponseCode"))?.map(|c| c as u16);
        if let Some(rc) = response_code {
            if ![200, 400, 403, 404, 405, 414, 416, 500, 501, 502, 503, 504].contains(&rc) {
                return Err(EdgeError::spec(
                    res,
                    format!("{site}.ResponseCode"),
                    format!("{rc} is not an allowed response code"),
                ));
            }
            if page.is_none() {
                return Err(EdgeError::spec(
                    res,
                    format!("{site}.ResponsePagePath"),
                    "is required with ResponseCode",
                ));
            }
        }
        if let Some(pp) = &page {
            if !pp.starts_with('/') {
                return Err(EdgeError::spec(
                    res,
                    format!("{site}.ResponsePagePath"),
                    "must begin with /",
                ));
            }
        }
        custom_error_responses.push(CustomErrorResponse {
            error_code: code,
            response_page_path: page,
            response_code,
            error_caching_min_ttl: uint(
                res,
                &format!("{site}.ErrorCachingMinTTL"),
                get(e, "ErrorCachingMinTTL"),
            )?
            .unwrap_or(crate::ttl::DEFAULT_ERROR_CACHING_MIN_TTL),
        });
    }
    let (id, domain_name) = ids(logical_id);
    Ok(DistributionSpec {
        logical_id: logical_id.to_owned(),
        id,
        domain_name,
        enabled: boolean(get(cfg, "Enabled")).unwrap_or(true),
        origins,
        origin_groups,
        default_behavior,
        behaviors,
        custom_error_responses,
        default_root_object: get(cfg, "DefaultRootObject")
            .and_then(text)
            .map(|s| s.trim_start_matches('/').to_owned())
            .filter(|s| !s.is_empty()),
    })
}

/// `bucket.s3.amazonaws.com`, `bucket.s3.region.amazonaws.com`, `bucket.s3-region.amazonaws.com`,
/// `bucket.s3-website[-.]region.amazonaws.com`.
fn s3_bucket(domain: &str) -> Option<String> {
    let domain = domain
        .trim_end_matches('/')
        .trim_start_matches("https://")
        .trim_start_matches("http://");
    let idx = domain.find(".s3.").or_else(|| domain.find(".s3-"))?;
    domain
        .ends_with(".amazonaws.com")
        .then(|| domain[..idx].to_owned())
}

fn authority(url: &str) -> String {
    match url.split_once("://") {
        Some((scheme, rest)) => format!("{scheme}://{}", rest.split('/').next().unwrap_or(rest)),
        None => format!("http://{}", url.split('/').next().unwrap_or(url)),
    }
}

fn origin(
    res: &str,
    site: &str,
    o: &J,
    resolve: &dyn Fn(&str) -> Option<String>,
    config: &EdgeConfig,
) -> Result<OriginSpec, EdgeError> {
    let id = get(o, "Id")
        .and_then(text)
        .ok_or_else(|| EdgeError::spec(res, format!("{site}.Id"), "is required"))?;
    let domain = get(o, "DomainName")
        .and_then(text)
        .ok_or_else(|| EdgeError::spec(res, format!("{site}.DomainName"), "is required"))?;
    let custom = get(o, "CustomOriginConfig");
    let kind = if let Some(rest) = domain.strip_prefix(UNRESOLVED) {
        let target = rest.split('.').next().unwrap_or(rest);
        let url = resolve(target).ok_or_else(|| {
            EdgeError::spec(
                res,
                format!("{site}.DomainName"),
                format!("{target} has no local URL to serve as an origin"),
            )
        })?;
        OriginKind::Http {
            base_url: authority(&url),
        }
    } else if let Some(api) = domain
        .trim_start_matches("https://")
        .split_once(".execute-api.")
        .map(|(id, _)| id.to_owned())
    {
        let url = resolve(&api).ok_or_else(|| {
            EdgeError::spec(
                res,
                format!("{site}.DomainName"),
                format!("{domain}: {api} is not an API of this template"),
            )
        })?;
        OriginKind::Http {
            base_url: authority(&url),
        }
    } else if let Some(bucket) = s3_bucket(&domain) {
        let dir = config.bucket_dir(&bucket).ok_or_else(|| {
            EdgeError::spec(
                res,
                format!("{site}.DomainName"),
                format!("bucket {bucket} has no local directory: pass --bucket {bucket}=DIR"),
            )
        })?;
        OriginKind::S3 { bucket, dir }
    } else if let Some(url) = resolve(&domain) {
        OriginKind::Http {
            base_url: authority(&url),
        }
    } else {
        let policy = custom
            .and_then(|c| get(c, "OriginProtocolPolicy"))
            .and_then(text)
            .unwrap_or_else(|| "https-only".into());
        let (scheme, port_prop, default_port) = match policy.as_str() {
            "http-only" => ("http", "HTTPPort", 80),
            "https-only" | "match-viewer" => ("https", "HTTPSPort", 443),
            other => {
                return Err(EdgeError::spec(
                    res,
                    format!("{site}.CustomOriginConfig.OriginProtocolPolicy"),
                    format!("{other:?} is not one of http-only, https-only, match-viewer"),
                ))
            }
        };
        let port = uint(
            res,
            &format!("{site}.CustomOriginConfig.{port_prop}"),
            custom.and_then(|c| get(c, port_prop)),
        )?
        .unwrap_or(default_port);
        let host = domain
            .trim_start_matches("https://")
            .trim_start_matches("http://")
            .trim_end_matches('/');
        let base_url = if port == default_port {
            format!("{scheme}://{host}")
        } else {
            format!("{scheme}://{host}:{port}")
        };
        OriginKind::Http { base_url }
    };
    let origin_path = get(o, "OriginPath").and_then(text).unwrap_or_default();
    if !origin_path.is_empty() && (!origin_path.starts_with('/') || origin_path.ends_with('/')) {
        return Err(EdgeError::spec(
            res,
            format!("{site}.OriginPath"),
            "must begin with / and not end with /",
        ));
    }
    let mut custom_headers = Vec::new();
    for h in list(get(o, "OriginCustomHeaders")) {
        let name = get(&h, "HeaderName").and_then(text).unwrap_or_default();
        let lower = name.to_ascii_lowercase();
        if crate::consts::FORBIDDEN_CUSTOM_ORIGIN_HEADERS.contains(&lower.as_str())
            || lower.starts_with("x-amz-")
            || lower.starts_with("x-edge-")
        {
            return Err(EdgeError::spec(
                res,
                format!("{site}.OriginCustomHeaders"),
                format!("{name} cannot be a custom origin header"),
            ));
        }
        custom_headers.push((
            name,
            get(&h, "HeaderValue").and_then(text).unwrap_or_default(),
        ));
    }
    let shield = get(o, "OriginShield");
    let shield_region = if shield
        .and_then(|s| boolean(get(s, "Enabled")))
        .unwrap_or(false)
    {
        let region = shield
            .and_then(|s| get(s, "OriginShieldRegion"))
            .and_then(text)
            .ok_or_else(|| {
                EdgeError::spec(
                    res,
                    format!("{site}.OriginShield.OriginShieldRegion"),
                    "is required when Origin Shield is enabled",
                )
            })?;
        if !config.regions.iter().any(|r| r.name == region) {
            return Err(EdgeError::spec(
                res,
                format!("{site}.OriginShield.OriginShieldRegion"),
                format!("{region} has no regional edge cache"),
            ));
        }
        Some(region)
    } else {
        None
    };
    let connection_timeout_s = uint(
        res,
        &format!("{site}.ConnectionTimeout"),
        get(o, "ConnectionTimeout"),
    )?
    .unwrap_or(10);
    if !(1..=10).contains(&connection_timeout_s) {
        return Err(EdgeError::spec(
            res,
            format!("{site}.ConnectionTimeout"),
            "must be 1-10 seconds",
        ));
    }
    let read_timeout_s = uint(
        res,
        &format!("{site}.CustomOriginConfig.OriginReadTimeout"),
        custom.and_then(|c| get(c, "OriginReadTimeout")),
    )?
    .unwrap_or(30);
    if !(1..=120).contains(&read_timeout_s) {
        return Err(EdgeError::spec(
            res,
            format!("{site}.CustomOriginConfig.OriginReadTimeout"),
            "must be 1-120 seconds",
        ));
    }
    Ok(OriginSpec {
        id,
        domain_name: domain,
        kind,
        origin_path,
        custom_headers,
        shield_region,
        connection_timeout_s,
        read_timeout_s,
    })
}

const METHOD_SETS: [&[&str]; 3] = [
    &["GET", "HEAD"],
    &["GET", "HEAD", "OPTIONS"],
    &["GET", "HEAD", "OPTIONS", "PUT", "POST", "PATCH", "DELETE"],
];

fn method_set(
    res: &str,
    prop: &str,
    v: Option<&J>,
    sets: &[&[&str]],
) -> Result<Vec<String>, EdgeError> {
    let mut given: Vec<String> = strings(v)
        .into_iter()
        .map(|m| m.to_ascii_uppercase())
        .collect();
    if given.is_empty() {
        return Ok(vec!["GET".into(), "HEAD".into()]);
    }
    given.sort();
    given.dedup();
    for set in sets {
        let mut s: Vec<String> = set.iter().map(|m| (*m).to_owned()).collect();
        s.sort();
        if s == given {
            return Ok(set.iter().map(|m| (*m).to_owned()).collect());
        }
    }
    Err(EdgeError::spec(
        res,
        prop,
        format!("{given:?} is not one of CloudFront's method sets"),
    ))
}

fn behavior(
    res: &str,
    site: &str,
    b: &J,
    is_default: bool,
    book: &PolicyBook,
    targets: &[&str],
) -> Result<BehaviorSpec, EdgeError> {
    let path_pattern = if is_default {
        "*".to_owned()
    } else {
        let p = get(b, "PathPattern")
            .and_then(text)
            .ok_or_else(|| EdgeError::spec(res, format!("{site}.PathPattern"), "is required"))?;
        crate::glob::valid_pattern(&p)
            .map_err(|m| EdgeError::spec(res, format!("{site}.PathPattern"), m))?;
        p
    };
    let target_origin_id = get(b, "TargetOriginId")
        .and_then(text)
        .ok_or_else(|| EdgeError::spec(res, format!("{site}.TargetOriginId"), "is required"))?;
    if !targets.contains(&target_origin_id.as_str()) {
        return Err(EdgeError::spec(
            res,
            format!("{site}.TargetOriginId"),
            format!("{target_origin_id:?} is not an origin or origin group of this distribution"),
        ));
    }
    let viewer_protocol_policy = match get(b, "ViewerProtocolPolicy").and_then(text).as_deref() {
        Some("allow-all") => ViewerProtocolPolicy::AllowAll,
        Some("redirect-to-https") => ViewerProtocolPolicy::RedirectToHttps,
        Some("https-only") => ViewerProtocolPolicy::HttpsOnly,
        Some(other) => {
            return Err(EdgeError::spec(
                res,
                format!("{site}.ViewerProtocolPolicy"),
                format!("{other:?} is not one of allow-all, redirect-to-https, https-only"),
            ))
        }
        None => {
            return Err(EdgeError::spec(
                res,
                format!("{site}.ViewerProtocolPolicy"),
                "is required",
            ))
        }
    };
    let allowed_methods = method_set(
        res,
        &format!("{site}.AllowedMethods"),
        get(b, "AllowedMethods"),
        &METHOD_SETS,
    )?;
    let cached_methods = method_set(
        res,
        &format!("{site}.CachedMethods"),
        get(b, "CachedMethods"),
        &METHOD_SETS[..2],
    )?;
    if cached_methods.iter().any(|m| !allowed_methods.contains(m)) {
        return Err(EdgeError::spec(
            res,
            format!("{site}.CachedMethods"),
            "must be a subset of AllowedMethods",
        ));
    }
    let compress = boolean(get(b, "Compress")).unwrap_or(false);
    let cache_policy_id = get(b, "CachePolicyId").and_then(policy_ref);
    let forwarded = get(b, "ForwardedValues");
    let ttl_props = ["MinTTL", "DefaultTTL", "MaxTTL"]
        .iter()
        .any(|k| get(b, k).is_some());
    let cache_policy = match (cache_policy_id, forwarded) {
        (Some(_), Some(_)) => {
            return Err(EdgeError::spec(
                res,
                format!("{site}.ForwardedValues"),
                "cannot be used together with CachePolicyId",
            ))
        }
        (Some(id), None) => {
            if ttl_props {
                return Err(EdgeError::spec(
                    res,
                    format!("{site}.MinTTL"),
                    "TTLs come from the cache policy when CachePolicyId is set",
                ));
            }
            policies::managed_cache_policy(&id)
                .or_else(|| book.cache.get(&id).cloned())
                .ok_or_else(|| EdgeError::spec(res, format!("{site}.CachePolicyId"), format!("{id:?} is neither a managed cache policy nor an AWS::CloudFront::CachePolicy of this template")))?
        }
        (None, Some(fv)) => {
            let min = uint(res, &format!("{site}.MinTTL"), get(b, "MinTTL"))?.unwrap_or(0);
            let default = uint(res, &format!("{site}.DefaultTTL"), get(b, "DefaultTTL"))?
                .unwrap_or(if min > 86_400 { min } else { 86_400 });
            let max = uint(res, &format!("{site}.MaxTTL"), get(b, "MaxTTL"))?.unwrap_or(
                if min.max(default) > 31_536_000 {
                    default.max(min)
                } else {
                    31_536_000
                },
            );
            check_ttls(res, site, min, default, max)?;
            let qs = boolean(get(fv, "QueryString")).ok_or_else(|| {
                EdgeError::spec(
                    res,
                    format!("{site}.ForwardedValues.QueryString"),
                    "is required",
                )
            })?;
            let qs_keys = strings(get(fv, "QueryStringCacheKeys"));
            let query_strings = match (qs, qs_keys.is_empty()) {
                (false, _) => Selection::None,
                (true, true) => Selection::All,
                (true, false) => Selection::Only(qs_keys),
            };
            let c = get(fv, "Cookies");
            let cookies = match c
                .and_then(|c| get(c, "Forward"))
                .and_then(text)
                .as_deref()
                .unwrap_or("none")
            {
                "none" => Selection::None,
                "all" => Selection::All,
                "whitelist" => Selection::Only(strings(c.and_then(|c| get(c, "WhitelistedNames")))),
                other => {
                    return Err(EdgeError::spec(
                        res,
                        format!("{site}.ForwardedValues.Cookies.Forward"),
                        format!("{other:?} is not one of none, whitelist, all"),
                    ))
                }
            };
            policies::legacy_policy(
                min,
                default,
                max,
                strings(get(fv, "Headers")),
                cookies,
                query_strings,
            )
        }
        (None, None) => {
            return Err(EdgeError::spec(
                res,
                format!("{site}.CachePolicyId"),
                "one of CachePolicyId or ForwardedValues is required",
            ))
        }
    };
    let origin_request_policy = match get(b, "OriginRequestPolicyId").and_then(policy_ref) {
        None => None,
        Some(id) => Some(
            policies::managed_origin_request_policy(&id)
                .or_else(|| book.origin_request.get(&id).cloned())
                .ok_or_else(|| EdgeError::spec(res, format!("{site}.OriginRequestPolicyId"), format!("{id:?} is neither a managed origin request policy nor an AWS::CloudFront::OriginRequestPolicy of this template")))?,
        ),
    };
    let response_headers_policy = match get(b, "ResponseHeadersPolicyId").and_then(policy_ref) {
        None => None,
        Some(id) => Some(
            policies::managed_response_headers_policy(&id)
                .or_else(|| book.response_headers.get(&id).cloned())
                .ok_or_else(|| EdgeError::spec(res, format!("{site}.ResponseHeadersPolicyId"), format!("{id:?} is neither a managed response headers policy nor an AWS::CloudFront::ResponseHeadersPolicy of this template")))?,
        ),
    };
    let mut lambda_associations = Vec::new();
    for (i, a) in list(get(b, "LambdaFunctionAssociations"))
        .iter()
        .enumerate()
    {
        let et = get(a, "EventType").and_then(text).unwrap_or_default();
        let event_type = TriggerPoint::parse(&et).ok_or_else(|| {
            EdgeError::spec(res, format!("{site}.LambdaFunctionAssociations[{i}].EventType"), format!("{et:?} is not one of viewer-request, origin-request, origin-response, viewer-response"))
        })?;
        if lambda_associations
            .iter()
            .any(|x: &LambdaAssociation| x.event_type == event_type)
        {
            return Err(EdgeError::spec(
                res,
                format!("{site}.LambdaFunctionAssociations[{i}].EventType"),
                format!("only one function per event type ({et})"),
            ));
        }
        lambda_associations.push(LambdaAssociation {
            event_type,
            function_arn: get(a, "LambdaFunctionARN")
                .and_then(text)
                .unwrap_or_default(),
            include_body: boolean(get(a, "IncludeBody")).unwrap_or(false),
            function_name: String::new(),
            version: String::new(),
            timeout_s: 0,
        });
    }
    Ok(BehaviorSpec {
        path_pattern,
        target_origin_id,
        viewer_protocol_policy,
        allowed_methods,
        cached_methods,
        compress,
        cache_policy,
        origin_request_policy,
        response_headers_policy,
        lambda_associations,
    })
}
