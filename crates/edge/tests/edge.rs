//! End-to-end: real listeners on 127.0.0.1:0, origins that count their requests, a manual
//! clock for every TTL decision (no test sleeps).

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, UNIX_EPOCH};

use bytes::Bytes;
use http_body_util::Full;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use ledge_edge::{parse_distributions, start, Edge, EdgeConfig, ManualClock};
use tokio_util::sync::CancellationToken;

type Handler = Arc<dyn Fn(&http::request::Parts) -> http::Response<Full<Bytes>> + Send + Sync>;

/// A tiny origin: counts requests, remembers the last request's headers.
struct Origin {
    url: String,
    hits: Arc<AtomicU64>,
    last: Arc<Mutex<Option<http::request::Parts>>>,
    cancel: CancellationToken,
}

impl Origin {
    async fn start(delay_ms: u64, handler: Handler) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr: SocketAddr = listener.local_addr().expect("addr");
        let hits = Arc::new(AtomicU64::new(0));
        let last = Arc::new(Mutex::new(None));
        let cancel = CancellationToken::new();
        let (h, l, c) = (hits.clone(), last.clone(), cancel.clone());
        tokio::spawn(async move {
            loop {
                let (stream, _) = tokio::select! {
                    _ = c.cancelled() => break,
                    a = listener.accept() => match a { Ok(a) => a, Err(_) => continue },
                };
                let (h, l, handler, c2) = (h.clone(), l.clone(), handler.clone(), c.clone());
                tokio::spawn(async move {
                    let svc = service_fn(move |req: http::Request<hyper::body::Incoming>| {
                        let (h, l, handler) = (h.clone(), l.clone(), handler.clone());
                        async move {
                            h.fetch_add(1, Ordering::SeqCst);
                            if delay_ms > 0 {
                                tokio::time::sleep(Duration::from_millis(delay_ms)).await;
                            }
                            let (parts, _) = req.into_parts();
                            let resp = handler(&parts);
                            *l.lock().expect("lock") = Some(parts);
                            Ok::<_, std::convert::Infallible>(resp)
                        }
                    });
                    let conn = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), svc);
                    tokio::select! { _ = conn => {}, _ = c2.cancelled() => {} }
                });
            }
        });
        Origin {
            url: format!("http://{addr}"),
            hits,
            last,
            cancel,
        }
    }

    fn count(&self) -> u64 {
        self.hits.load(Ordering::SeqCst)
    }

    fn last_header(&self, name: &str) -> Option<String> {
        self.last.lock().expect("lock").as_ref().and_then(|p| {
            p.headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        })
    }

    fn last_uri(&self) -> String {
        self.last
            .lock()
            .expect("lock")
            .as_ref()
            .map(|p| p.uri.to_string())
            .unwrap_or_default()
    }
}

fn resp(status: u16, headers: &[(&str, &str)], body: &str) -> http::Response<Full<Bytes>> {
    let mut b = http::Response::builder().status(status);
    for (n, v) in headers {
        b = b.header(*n, *v);
    }
    b.body(Full::new(Bytes::from(body.to_owned())))
        .expect("response")
}

fn fixed(
    status: u16,
    headers: &'static [(&'static str, &'static str)],
    body: &'static str,
) -> Handler {
    Arc::new(move |_| resp(status, headers, body))
}

struct Setup {
    edge: Edge,
    clock: Arc<ManualClock>,
    url: String,
    pops: BTreeMap<String, String>,
    id: String,
    _cancel: CancellationToken,
}

/// The default distribution (`OPTIMIZED`, one origin `origin-a` at `url`) and config.
async fn one_origin(url: &str) -> Setup {
    setup(&dist("", "a", OPTIMIZED, ""), &[("origin-a", url)], |_| {}).await
}

async fn setup(yaml: &str, origins: &[(&str, &str)], tweak: impl FnOnce(&mut EdgeConfig)) -> Setup {
    let dir = tempfile::tempdir().expect("tempdir");
    let template = ledge_template::load_str(
        yaml,
        dir.path(),
        "template.yaml",
        &ledge_template::LoadOptions::default(),
    )
    .expect("template loads");
    let map: BTreeMap<String, String> = origins
        .iter()
        .map(|(a, b)| ((*a).to_owned(), (*b).to_owned()))
        .collect();
    let resolve = move |name: &str| map.get(name).cloned();
    let clock = Arc::new(ManualClock::new(
        UNIX_EPOCH + Duration::from_secs(1_700_000_000),
    ));
    let mut cfg = EdgeConfig {
        clock: clock.clone(),
        ..EdgeConfig::default()
    };
    tweak(&mut cfg);
    let specs = parse_distributions(&template, &resolve, &cfg).expect("distributions parse");
    let cancel = CancellationToken::new();
    let edge = start(specs, cfg, cancel.clone())
        .await
        .expect("edge starts");
    let info = edge.distributions().remove(0);
    Setup {
        url: info.url.clone(),
        pops: info.pops.iter().cloned().collect(),
        id: info.id.clone(),
        edge,
        clock,
        _cancel: cancel,
    }
}

fn dist(behaviors: &str, default_target: &str, cache_policy: &str, extra: &str) -> String {
    format!(
        r#"
Resources:
  Cdn:
    Type: AWS::CloudFront::Distribution
    Properties:
      DistributionConfig:
        Enabled: true
        Origins:
          - Id: a
            DomainName: origin-a
            CustomOriginConfig: {{OriginProtocolPolicy: http-only}}
          - Id: b
            DomainName: origin-b
            CustomOriginConfig: {{OriginProtocolPolicy: http-only}}
          - Id: c
            DomainName: origin-c
            CustomOriginConfig: {{OriginProtocolPolicy: http-only}}
{extra}
        DefaultCacheBehavior:
          TargetOriginId: {default_target}
          ViewerProtocolPolicy: redirect-to-https
          CachePolicyId: {cache_policy}
{behaviors}
"#
    )
}

const OPTIMIZED: &str = "658327ea-f89d-4fab-a63d-7e88639e58f6";

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .build()
        .expect("client")
}

async fn get(url: &str, headers: &[(&str, &str)]) -> reqwest::Response {
    let mut r = client().get(url);
    for (n, v) in headers {
        r = r.header(*n, *v);
    }
    r.send().await.expect("request")
}

fn h(r: &reqwest::Response, name: &str) -> String {
    r.headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned()
}

#[tokio::test]
async fn miss_then_hit_with_cloudfront_headers() {
    let o = Origin::start(
        0,
        fixed(
            200,
            &[
                ("cache-control", "max-age=60"),
                ("content-type", "text/plain"),
            ],
            "hello",
        ),
    )
    .await;
    let s = one_origin(&o.url).await;
    let fra = &s.pops["FRA"];
    let r1 = get(&format!("{fra}/x"), &[]).await;
    assert_eq!(r1.status(), 200);
    assert_eq!(h(&r1, "x-cache"), "Miss from cloudfront");
    assert_eq!(h(&r1, "x-amz-cf-pop"), "FRA56-P1");
    assert_eq!(h(&r1, "x-amz-cf-id").len(), 56);
    let via = h(&r1, "via");
    assert!(
        via.starts_with("1.1 ") && via.ends_with(".cloudfront.net (CloudFront)"),
        "{via}"
    );
    assert_eq!(
        via.len(),
        "1.1 ".len() + 32 + ".cloudfront.net (CloudFront)".len()
    );
    assert_eq!(h(&r1, "age"), "");
    assert_eq!(r1.text().await.expect("body"), "hello");
    s.clock.advance(Duration::from_secs(7));
    let r2 = get(&format!("{fra}/x"), &[]).await;
    assert_eq!(h(&r2, "x-cache"), "Hit from cloudfront");
    assert_eq!(h(&r2, "age"), "7");
    assert_eq!(o.count(), 1);
    // Origin-facing headers.
    assert_eq!(
        o.last_header("user-agent").as_deref(),
        Some("Amazon CloudFront")
    );
    assert_eq!(
        o.last_header("x-forwarded-for").as_deref(),
        Some("127.0.0.1")
    );
    assert_eq!(o.last_header("x-amz-cf-id").map(|v| v.len()), Some(56));
    assert!(o
        .last_header("via")
        .is_some_and(|v| v.ends_with("(CloudFront)")));
    // Server-Timing on request, naming the hit layer.
    let r3 = get(&format!("{fra}/x"), &[("pragma", "server-timing")]).await;
    let st = h(&r3, "server-timing");
    assert!(
        st.contains("cdn-cache-hit")
            && st.contains("cdn-hit-layer;desc=\"EDGE\"")
            && st.contains("cdn-pop;desc=\"FRA56-P1\""),
        "{st}"
    );
}

#[tokio::test]
async fn hundred_concurrent_cold_requests_make_one_origin_request() {
    let o = Origin::start(
        300,
        fixed(200, &[("cache-control", "max-age=60")], "payload"),
    )
    .await;
    let s = one_origin(&o.url).await;
    let url = format!("{}/cold", s.pops["IAD"]);
    let tasks: Vec<_> = (0..100)
        .map(|_| {
            let url = url.clone();
            tokio::spawn(async move {
                let r = get(&url, &[]).await;
                let x = h(&r, "x-cache");
                (x, r.text().await.expect("body"))
            })
        })
        .collect();
    let mut misses = 0;
    for t in tasks {
        let (x, body) = t.await.expect("task");
        assert_eq!(body, "payload");
        if x == "Miss from cloudfront" {
            misses += 1;
        } else {
            assert_eq!(x, "Hit from cloudfront");
        }
    }
    assert_eq!(o.count(), 1, "exactly one origin request");
    assert_eq!(misses, 1);
}

#[tokio::test]
async fn behaviour_precedence_is_first_match() {
    let a = Origin::start(0, fixed(200, &[], "A")).await;
    let b = Origin::start(0, fixed(200, &[], "B")).await;
    let c = Origin::start(0, fixed(200, &[], "C")).await;
    let behaviors = format!(
        r#"        CacheBehaviors:
          - PathPattern: images/*.jpg
            TargetOriginId: a
            ViewerProtocolPolicy: allow-all
            CachePolicyId: {OPTIMIZED}
          - PathPattern: images/*
            TargetOriginId: b
            ViewerProtocolPolicy: allow-all
            CachePolicyId: {OPTIMIZED}
          - PathPattern: "*.gif"
            TargetOriginId: c
            ViewerProtocolPolicy: allow-all
            CachePolicyId: {OPTIMIZED}"#
    );
    let s = setup(
        &dist(&behaviors, "a", OPTIMIZED, ""),
        &[
            ("origin-a", &a.url),
            ("origin-b", &b.url),
            ("origin-c", &c.url),
        ],
        |_| {},
    )
    .await;
    let body = |p: &'static str| {
        let url = format!("{}{p}", s.url);
        async move { get(&url, &[]).await.text().await.expect("body") }
    };
    assert_eq!(
        body("/images/sample.gif").await,
        "B",
        "the 2nd behaviour wins over *.gif"
    );
    assert_eq!(body("/images/p/x.jpg").await, "A");
    assert_eq!(body("/images/LOGO.JPG").await, "B", "case-sensitive");
    assert_eq!(body("/other.gif").await, "C");
    assert_eq!(body("/index.html").await, "A");
}

#[tokio::test]
async fn expired_object_revalidates_with_304_refresh_hit() {
    let handler: Handler = Arc::new(|p| {
        if p.headers
            .get("if-none-match")
            .is_some_and(|v| v == "\"v1\"")
        {
            resp(
                304,
                &[("etag", "\"v1\""), ("cache-control", "max-age=10")],
                "",
            )
        } else {
            resp(
                200,
                &[("etag", "\"v1\""), ("cache-control", "max-age=10")],
                "body-v1",
            )
        }
    });
    let o = Origin::start(0, handler).await;
    let s = one_origin(&o.url).await;
    let url = format!("{}/r", s.pops["LHR"]);
    assert_eq!(h(&get(&url, &[]).await, "x-cache"), "Miss from cloudfront");
    s.clock.advance(Duration::from_secs(5));
    assert_eq!(h(&get(&url, &[]).await, "x-cache"), "Hit from cloudfront");
    s.clock.advance(Duration::from_secs(6));
    let r = get(&url, &[]).await;
    assert_eq!(h(&r, "x-cache"), "RefreshHit from cloudfront");
    assert_eq!(r.text().await.expect("body"), "body-v1");
    assert_eq!(o.count(), 2);
    assert_eq!(o.last_header("if-none-match").as_deref(), Some("\"v1\""));
    // Fresh again after the refresh.
    assert_eq!(h(&get(&url, &[]).await, "x-cache"), "Hit from cloudfront");
    assert_eq!(o.count(), 2);
    // The viewer's own validator is answered at the edge.
    let r = get(&url, &[("if-none-match", "\"v1\"")]).await;
    assert_eq!(r.status(), 304);
}

#[tokio::test]
async fn stale_if_error_when_origin_goes_down() {
    let down = Arc::new(AtomicUsize::new(0));
    let d = down.clone();
    let handler: Handler = Arc::new(move |_| {
        if d.load(Ordering::SeqCst) == 1 {
            resp(503, &[], "down")
        } else {
            resp(
                200,
                &[("cache-control", "max-age=10, stale-if-error=60")],
                "good",
            )
        }
    });
    let o = Origin::start(0, handler).await;
    let s = one_origin(&o.url).await;
    let url = format!("{}/s", s.pops["NRT"]);
    assert_eq!(get(&url, &[]).await.text().await.expect("body"), "good");
    down.store(1, Ordering::SeqCst);
    s.clock.advance(Duration::from_secs(30));
    let r = get(&url, &[]).await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.text().await.expect("body"), "good");
    // Past max-age + stale-if-error: the error reaches the viewer.
    s.clock.advance(Duration::from_secs(100));
    let r = get(&url, &[]).await;
    assert_eq!(r.status(), 503);
    assert_eq!(h(&r, "x-cache"), "Error from cloudfront");
    // And the origin being unreachable counts the same.
    o.cancel.cancel();
}

#[tokio::test]
async fn errors_are_cached_for_error_caching_min_ttl() {
    let o = Origin::start(0, fixed(404, &[("content-type", "text/plain")], "nope")).await;
    let extra = "        CustomErrorResponses:\n          - ErrorCode: 404\n            ErrorCachingMinTTL: 30";
    let s = setup(
        &dist("", "a", OPTIMIZED, extra),
        &[("origin-a", &o.url)],
        |_| {},
    )
    .await;
    let url = format!("{}/missing", s.pops["SYD"]);
    let r = get(&url, &[]).await;
    assert_eq!(r.status(), 404);
    assert_eq!(h(&r, "x-cache"), "Error from cloudfront");
    s.clock.advance(Duration::from_secs(29));
    assert_eq!(get(&url, &[]).await.status(), 404);
    assert_eq!(o.count(), 1, "cached for ErrorCachingMinTTL");
    s.clock.advance(Duration::from_secs(2));
    get(&url, &[]).await;
    assert_eq!(o.count(), 2);
}

#[tokio::test]
async fn default_error_caching_is_ten_seconds_and_403_needs_max_age() {
    let o = Origin::start(0, fixed(500, &[], "boom")).await;
    let s = one_origin(&o.url).await;
    let url = format!("{}/e", s.pops["GRU"]);
    get(&url, &[]).await;
    s.clock.advance(Duration::from_secs(9));
    get(&url, &[]).await;
    assert_eq!(o.count(), 1);
    s.clock.advance(Duration::from_secs(2));
    get(&url, &[]).await;
    assert_eq!(o.count(), 2);
    let f = Origin::start(0, fixed(403, &[], "forbidden")).await;
    let s = one_origin(&f.url).await;
    let url = format!("{}/f", s.pops["GRU"]);
    get(&url, &[]).await;
    get(&url, &[]).await;
    assert_eq!(f.count(), 2, "403 without max-age is not cached");
}

#[tokio::test]
async fn range_requests_are_served_from_the_cached_object() {
    let o = Origin::start(
        0,
        fixed(200, &[("cache-control", "max-age=60")], "0123456789abcdef"),
    )
    .await;
    let s = one_origin(&o.url).await;
    let url = format!("{}/range", s.pops["FRA"]);
    let r = get(&url, &[("range", "bytes=2-5")]).await;
    assert_eq!(r.status(), 206);
    assert_eq!(h(&r, "content-range"), "bytes 2-5/16");
    assert_eq!(r.text().await.expect("body"), "2345");
    assert_eq!(o.last_header("range"), None, "the whole object is fetched");
    let r = get(&url, &[("range", "bytes=-3")]).await;
    assert_eq!(r.text().await.expect("body"), "def");
    let r = get(&url, &[("range", "bytes=99-")]).await;
    assert_eq!(r.status(), 416);
    assert_eq!(h(&r, "content-range"), "bytes */16");
    let r = get(&url, &[("range", "bytes=5-2")]).await;
    assert_eq!(r.status(), 200, "invalid range: whole object");
    assert_eq!(o.count(), 1);
}

#[tokio::test]
async fn invalidation_with_wildcards_across_every_tier() {
    let o = Origin::start(0, fixed(200, &[("cache-control", "max-age=3600")], "v")).await;
    let s = one_origin(&o.url).await;
    for pop in ["FRA", "LHR"] {
        for p in ["/img/a.png", "/img/b.png", "/css/site.css"] {
            get(&format!("{}{p}", s.pops[pop]), &[]).await;
        }
    }
    // FRA and LHR use different regional caches: 3 objects × 2 RECs.
    assert_eq!(o.count(), 6);
    let inv = s
        .edge
        .invalidate(&s.id, &["/img/*".to_owned()], None)
        .expect("invalidate");
    assert_eq!(inv.status.as_str(), "InProgress");
    assert_eq!(
        s.edge
            .get_invalidation(&s.id, &inv.id)
            .expect("get")
            .status
            .as_str(),
        "Completed"
    );
    let r = get(&format!("{}/img/a.png", s.pops["FRA"]), &[]).await;
    assert_eq!(h(&r, "x-cache"), "Miss from cloudfront");
    assert_eq!(o.count(), 7, "the regional cache was invalidated too");
    let r = get(&format!("{}/css/site.css", s.pops["FRA"]), &[]).await;
    assert_eq!(h(&r, "x-cache"), "Hit from cloudfront");
    // Case-sensitive exact path.
    s.edge
        .invalidate(&s.id, &["/IMG/b.png".to_owned()], None)
        .expect("invalidate");
    assert_eq!(
        h(
            &get(&format!("{}/img/b.png", s.pops["LHR"]), &[]).await,
            "x-cache"
        ),
        "Miss from cloudfront"
    );
    s.edge
        .invalidate(&s.id, &["/img/b.png".to_owned()], None)
        .expect("invalidate");
    get(&format!("{}/img/b.png", s.pops["LHR"]), &[]).await;
    assert_eq!(s.edge.list_invalidations(&s.id).expect("list").len(), 3);
}

/// Two POPs that share the eu-central-1 regional edge cache.
fn frankfurt_and_munich(c: &mut EdgeConfig) {
    c.pops = vec![
        ledge_edge::Pop::new("FRA", "FRA56-P1", "Frankfurt", "DE", 50.03, 8.57),
        ledge_edge::Pop::new("MUC", "MUC50-C1", "Munich", "DE", 48.35, 11.79),
    ];
}

#[tokio::test]
async fn regional_cache_serves_a_second_pop() {
    let o = Origin::start(0, fixed(200, &[("cache-control", "max-age=60")], "x")).await;
    let s = setup(
        &dist("", "a", OPTIMIZED, ""),
        &[("origin-a", &o.url)],
        frankfurt_and_munich,
    )
    .await;
    get(&format!("{}/o", s.pops["FRA"]), &[]).await;
    let r = get(
        &format!("{}/o", s.pops["MUC"]),
        &[("pragma", "server-timing")],
    )
    .await;
    assert_eq!(h(&r, "x-cache"), "Hit from cloudfront");
    assert!(h(&r, "server-timing").contains("cdn-hit-layer;desc=\"REC\""));
    assert_eq!(o.count(), 1);
    let report = s.edge.report(&s.id).expect("report");
    assert_eq!(report.pops[1].regional_hits, 1);
    assert_eq!(report.pops[0].origin_fetches, 1);
}

#[tokio::test]
async fn origin_group_fails_over_on_listed_status() {
    let primary = Origin::start(0, fixed(503, &[], "primary down")).await;
    let secondary = Origin::start(
        0,
        fixed(200, &[("cache-control", "max-age=60")], "secondary"),
    )
    .await;
    let extra = "        OriginGroups:\n          Quantity: 1\n          Items:\n            - Id: g\n              FailoverCriteria: {StatusCodes: {Quantity: 2, Items: [500, 503]}}\n              Members: {Quantity: 2, Items: [{OriginId: a}, {OriginId: b}]}";
    let s = setup(
        &dist("", "g", OPTIMIZED, extra),
        &[("origin-a", &primary.url), ("origin-b", &secondary.url)],
        |_| {},
    )
    .await;
    let r = get(&format!("{}/f", s.url), &[]).await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.text().await.expect("body"), "secondary");
    assert_eq!((primary.count(), secondary.count()), (1, 1));
}

#[tokio::test]
async fn s3_origin_with_default_root_object() {
    let bucket = tempfile::tempdir().expect("tempdir");
    std::fs::write(bucket.path().join("index.html"), "<h1>home</h1>").expect("write");
    let yaml = format!(
        r#"
Resources:
  Site:
    Type: AWS::S3::Bucket
  Cdn:
    Type: AWS::CloudFront::Distribution
    Properties:
      DistributionConfig:
        DefaultRootObject: index.html
        Origins:
          - Id: s3
            DomainName: !GetAtt Site.RegionalDomainName
            S3OriginConfig: {{}}
        DefaultCacheBehavior:
          TargetOriginId: s3
          ViewerProtocolPolicy: redirect-to-https
          CachePolicyId: {OPTIMIZED}
"#
    );
    let dir = bucket.path().to_owned();
    let s = setup(&yaml, &[], move |c| {
        c.buckets.insert("Site".into(), dir);
    })
    .await;
    let r = get(&format!("{}/", s.url), &[]).await;
    assert_eq!(r.status(), 200);
    assert_eq!(h(&r, "content-type"), "text/html");
    assert_eq!(
        h(&r, "etag"),
        "\"e8b4a4a9d6ab35d1a2fcb5a7a1e4b2a3\"".replace(
            "e8b4a4a9d6ab35d1a2fcb5a7a1e4b2a3",
            &md5_hex(b"<h1>home</h1>")
        )
    );
    assert!(!h(&r, "last-modified").is_empty());
    assert_eq!(r.text().await.expect("body"), "<h1>home</h1>");
    let r = get(&format!("{}/nope.html", s.url), &[]).await;
    assert_eq!(r.status(), 403, "S3 without ListBucket answers 403");
    assert!(r
        .text()
        .await
        .expect("body")
        .contains("<Code>AccessDenied</Code>"));
}

fn md5_hex(data: &[u8]) -> String {
    use md5::Digest;
    hex::encode(md5::Md5::digest(data))
}

#[tokio::test]
async fn query_strings_keyed_by_order_and_case() {
    let o = Origin::start(0, fixed(200, &[("cache-control", "max-age=60")], "q")).await;
    let yaml = dist("", "a", "!Ref Policy", "")
        + r#"
  Policy:
    Type: AWS::CloudFront::CachePolicy
    Properties:
      CachePolicyConfig:
        Name: qs
        MinTTL: 0
        DefaultTTL: 60
        MaxTTL: 600
        ParametersInCacheKeyAndForwardedToOrigin:
          EnableAcceptEncodingGzip: false
          HeadersConfig: {HeaderBehavior: whitelist, Headers: [X-Tenant]}
          CookiesConfig: {CookieBehavior: none}
          QueryStringsConfig: {QueryStringBehavior: all}
"#;
    let s = setup(&yaml, &[("origin-a", &o.url)], |_| {}).await;
    let base = &s.pops["FRA"];
    get(&format!("{base}/p?a=1&b=2"), &[]).await;
    get(&format!("{base}/p?a=1&b=2"), &[]).await;
    assert_eq!(o.count(), 1);
    assert_eq!(o.last_uri(), "/p?a=1&b=2");
    get(&format!("{base}/p?b=2&a=1"), &[]).await;
    assert_eq!(o.count(), 2, "order matters");
    get(&format!("{base}/p?A=1&b=2"), &[]).await;
    assert_eq!(o.count(), 3, "case matters");
    get(&format!("{base}/h"), &[("x-tenant", "one")]).await;
    get(&format!("{base}/h"), &[("X-TENANT", "one")]).await;
    assert_eq!(o.count(), 4, "header names are case-insensitive");
    get(&format!("{base}/h"), &[("x-tenant", "ONE")]).await;
    assert_eq!(o.count(), 5, "header values are case-sensitive");
    assert_eq!(o.last_header("x-tenant").as_deref(), Some("ONE"));
}

#[tokio::test]
async fn min_ttl_overrides_no_store_and_no_cache_is_respected_at_zero() {
    let o = Origin::start(0, fixed(200, &[("cache-control", "no-store")], "n")).await;
    // CachingOptimized has MinTTL 1: no-store is cached for 1 s.
    let s = one_origin(&o.url).await;
    let url = format!("{}/n", s.pops["FRA"]);
    get(&url, &[]).await;
    assert_eq!(h(&get(&url, &[]).await, "x-cache"), "Hit from cloudfront");
    s.clock.advance(Duration::from_secs(1));
    assert_eq!(h(&get(&url, &[]).await, "x-cache"), "Miss from cloudfront");
    assert_eq!(o.count(), 2);
    // CachingDisabled: every request reaches the origin.
    let s = setup(
        &dist("", "a", "4135ea2d-6df8-44a3-9df3-4b5a84be39ad", ""),
        &[("origin-a", &o.url)],
        |_| {},
    )
    .await;
    let url = format!("{}/n", s.pops["FRA"]);
    get(&url, &[]).await;
    get(&url, &[]).await;
    assert_eq!(o.count(), 4);
}

#[tokio::test]
async fn compresses_when_compress_is_on() {
    let body: &'static str = Box::leak("<p>compress me</p>".repeat(100).into_boxed_str());
    let o = Origin::start(
        0,
        Arc::new(move |_| {
            resp(
                200,
                &[
                    ("cache-control", "max-age=60"),
                    ("content-type", "text/html"),
                ],
                body,
            )
        }),
    )
    .await;
    let yaml = dist("", "a", OPTIMIZED, "")
        .replace("CachePolicyId:", "Compress: true\n          CachePolicyId:");
    let s = setup(&yaml, &[("origin-a", &o.url)], |_| {}).await;
    let url = format!("{}/c", s.pops["FRA"]);
    let r = get(&url, &[("accept-encoding", "gzip")]).await;
    assert_eq!(h(&r, "content-encoding"), "gzip");
    let packed = r.bytes().await.expect("body");
    assert!(packed.len() < body.len());
    let r = get(&url, &[("accept-encoding", "gzip, br")]).await;
    assert_eq!(h(&r, "content-encoding"), "br");
    let r = get(&url, &[]).await;
    assert_eq!(h(&r, "content-encoding"), "");
    assert_eq!(r.text().await.expect("body"), body);
    assert_eq!(
        o.last_header("accept-encoding").as_deref(),
        Some("identity")
    );
}

#[tokio::test]
async fn viewer_location_picks_the_pop() {
    let o = Origin::start(0, fixed(200, &[], "x")).await;
    let s = one_origin(&o.url).await;
    let pop = |v: &'static str| {
        let url = format!("{}/v", s.url);
        async move { h(&get(&url, &[("x-ledge-viewer", v)]).await, "x-amz-cf-pop") }
    };
    assert_eq!(pop("CDG").await, "LHR50-C1");
    assert_eq!(pop("-33.9,151.2").await, "SYD1-C1");
    assert_eq!(pop("nrt").await, "NRT57-P2");
    // Default: nearest to home (Frankfurt).
    assert_eq!(
        h(&get(&format!("{}/v", s.url), &[]).await, "x-amz-cf-pop"),
        "FRA56-P1"
    );
}

#[tokio::test]
async fn deploy_errors_name_resource_and_property() {
    let yaml = dist("", "nowhere", OPTIMIZED, "");
    let dir = tempfile::tempdir().expect("tempdir");
    let t = ledge_template::load_str(
        &yaml,
        dir.path(),
        "t.yaml",
        &ledge_template::LoadOptions::default(),
    )
    .expect("loads");
    let resolve = |_: &str| Some("http://127.0.0.1:1".to_owned());
    let err = parse_distributions(&t, &resolve, &EdgeConfig::default()).expect_err("bad target");
    let msg = err.to_string();
    assert!(
        msg.starts_with("Cdn: DistributionConfig.DefaultCacheBehavior.TargetOriginId:"),
        "{msg}"
    );
    let yaml = dist("", "a", "not-a-policy", "");
    let t = ledge_template::load_str(
        &yaml,
        dir.path(),
        "t.yaml",
        &ledge_template::LoadOptions::default(),
    )
    .expect("loads");
    let msg = parse_distributions(&t, &resolve, &EdgeConfig::default())
        .expect_err("bad policy")
        .to_string();
    assert!(msg.contains("CachePolicyId"), "{msg}");
}

#[tokio::test]
async fn create_get_list_invalidation_rest_xml() {
    let o = Origin::start(0, fixed(200, &[("cache-control", "max-age=600")], "v")).await;
    let s = one_origin(&o.url).await;
    get(&format!("{}/doc/a", s.pops["FRA"]), &[]).await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let app = ledge_edge::management_router(s.edge.clone());
    tokio::spawn(async move { axum::serve(listener, app).await });
    let base = format!(
        "http://{addr}/2020-05-31/distribution/{}/invalidation",
        s.id
    );
    let batch = r#"<?xml version="1.0" encoding="UTF-8"?>
<InvalidationBatch xmlns="http://cloudfront.amazonaws.com/doc/2020-05-31/"><Paths><Quantity>1</Quantity><Items><Path>/doc/*</Path></Items></Paths><CallerReference>ref-1</CallerReference></InvalidationBatch>"#;
    let r = client().post(&base).body(batch).send().await.expect("post");
    assert_eq!(r.status(), 201);
    let location = h(&r, "location");
    let text = r.text().await.expect("body");
    assert!(
        text.contains("<Status>InProgress</Status>") && text.contains("<Path>/doc/*</Path>"),
        "{text}"
    );
    let id = text
        .split("<Id>")
        .nth(1)
        .and_then(|t| t.split("</Id>").next())
        .expect("id")
        .to_owned();
    assert!(
        location.ends_with(&format!("/invalidation/{id}")),
        "{location}"
    );
    let r = client()
        .get(format!("{base}/{id}"))
        .send()
        .await
        .expect("get");
    assert!(r
        .text()
        .await
        .expect("body")
        .contains("<Status>Completed</Status>"));
    let r = client().get(&base).send().await.expect("list");
    let text = r.text().await.expect("body");
    assert!(
        text.contains("<Quantity>1</Quantity>") && text.contains(&id),
        "{text}"
    );
    assert_eq!(
        h(
            &get(&format!("{}/doc/a", s.pops["FRA"]), &[]).await,
            "x-cache"
        ),
        "Miss from cloudfront"
    );
    let r = client()
        .get(format!(
            "http://{addr}/2020-05-31/distribution/NOPE/invalidation"
        ))
        .send()
        .await
        .expect("get");
    assert_eq!(r.status(), 404);
    assert!(r
        .text()
        .await
        .expect("body")
        .contains("<Code>NoSuchDistribution</Code>"));
}

/// The POP hit path (served straight from the store) leaves every other rule to the full
/// path: HEAD, viewer validators, Range, the viewer protocol policy and disallowed methods
/// answer exactly as before, and a large body filled in many chunks is served whole.
#[tokio::test]
async fn pop_hits_keep_validators_ranges_head_protocol_and_methods() {
    let big = "0123456789abcdef".repeat(16 * 1024);
    let big_len = big.len().to_string();
    let body: &'static str = Box::leak(big.into_boxed_str());
    let o = Origin::start(
        0,
        Arc::new(move |p: &http::request::Parts| {
            let body = if p.uri.path() == "/big" {
                body
            } else {
                "hello world"
            };
            resp(
                200,
                &[
                    ("cache-control", "max-age=60"),
                    ("content-type", "text/plain"),
                    ("etag", "\"v1\""),
                ],
                body,
            )
        }),
    )
    .await;
    let s = one_origin(&o.url).await;
    let url = format!("{}/x", s.pops["FRA"]);
    assert_eq!(h(&get(&url, &[]).await, "x-cache"), "Miss from cloudfront");
    s.clock.advance(Duration::from_secs(3));
    let hit = get(&url, &[]).await;
    assert_eq!(h(&hit, "x-cache"), "Hit from cloudfront");
    assert_eq!(h(&hit, "age"), "3");
    assert_eq!(h(&hit, "content-length"), "11");
    assert_eq!(h(&hit, "etag"), "\"v1\"");
    assert_eq!(h(&hit, "x-amz-cf-pop"), "FRA56-P1");
    assert_eq!(hit.text().await.expect("body"), "hello world");

    let head = client().head(&url).send().await.expect("head");
    assert_eq!(head.status(), 200);
    assert_eq!(h(&head, "x-cache"), "Hit from cloudfront");
    assert_eq!(h(&head, "content-length"), "11");
    assert_eq!(head.text().await.expect("body"), "");

    let not_modified = get(&url, &[("if-none-match", "\"v1\"")]).await;
    assert_eq!(not_modified.status(), 304);
    assert_eq!(h(&not_modified, "x-cache"), "Hit from cloudfront");

    let part = get(&url, &[("range", "bytes=0-4")]).await;
    assert_eq!(part.status(), 206);
    assert_eq!(h(&part, "content-range"), "bytes 0-4/11");
    assert_eq!(part.text().await.expect("body"), "hello");

    let http_viewer = reqwest::Client::builder()
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client")
        .get(&url)
        .header("x-ledge-viewer-proto", "http")
        .send()
        .await
        .expect("request");
    assert_eq!(http_viewer.status(), 301);
    assert_eq!(h(&http_viewer, "x-cache"), "Redirect from cloudfront");

    let post = client().post(&url).body("x").send().await.expect("post");
    assert_eq!(post.status(), 403);
    assert_eq!(h(&post, "x-cache"), "Error from cloudfront");

    let big_url = format!("{}/big", s.pops["FRA"]);
    let miss = get(&big_url, &[]).await;
    assert_eq!(miss.text().await.expect("body"), body);
    let hit = get(&big_url, &[]).await;
    assert_eq!(h(&hit, "x-cache"), "Hit from cloudfront");
    assert_eq!(h(&hit, "content-length"), big_len);
    assert_eq!(hit.text().await.expect("body"), body);
    assert_eq!(
        o.count(),
        2,
        "every answer after the two misses came from the POP"
    );
}

/// An origin speaking raw HTTP/1.1, one request per connection: while `truncate` is set it
/// promises `Content-Length: 100000` and closes after 4 KiB; otherwise it sends all of it.
struct RawOrigin {
    url: String,
    hits: Arc<AtomicU64>,
    truncate: Arc<std::sync::atomic::AtomicBool>,
}

const RAW_LEN: usize = 100_000;

impl RawOrigin {
    async fn start() -> Self {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        let hits = Arc::new(AtomicU64::new(0));
        let truncate = Arc::new(std::sync::atomic::AtomicBool::new(true));
        let (h, t) = (hits.clone(), truncate.clone());
        tokio::spawn(async move {
            while let Ok((mut stream, _)) = listener.accept().await {
                let (h, t) = (h.clone(), t.clone());
                tokio::spawn(async move {
                    let mut req = Vec::new();
                    let mut buf = [0u8; 4096];
                    while !req.windows(4).any(|w| w == b"\r\n\r\n") {
                        match stream.read(&mut buf).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => req.extend_from_slice(&buf[..n]),
                        }
                    }
                    h.fetch_add(1, Ordering::SeqCst);
                    let head = format!(
                        "HTTP/1.1 200 OK\r\ncontent-type: application/octet-stream\r\ncache-control: max-age=300\r\ncontent-length: {RAW_LEN}\r\nconnection: close\r\n\r\n"
                    );
                    let sent = if t.load(Ordering::SeqCst) {
                        4096
                    } else {
                        RAW_LEN
                    };
                    let _ = stream.write_all(head.as_bytes()).await;
                    let _ = stream.write_all(&vec![b'z'; sent]).await;
                    let _ = stream.flush().await;
                    // Dropping the stream closes the connection, short of the promised length.
                });
            }
        });
        RawOrigin {
            url: format!("http://{addr}"),
            hits,
            truncate,
        }
    }

    fn count(&self) -> u64 {
        self.hits.load(Ordering::SeqCst)
    }
}

/// Reads a viewer's body to the end: the bytes received, and whether it ended cleanly.
async fn drain(mut r: reqwest::Response) -> (usize, bool) {
    let mut n = 0;
    loop {
        match r.chunk().await {
            Ok(Some(c)) => n += c.len(),
            Ok(None) => return (n, true),
            Err(_) => return (n, false),
        }
    }
}

#[tokio::test]
async fn a_truncated_origin_response_is_never_cached() {
    let o = RawOrigin::start().await;
    let s = setup(
        &dist("", "a", OPTIMIZED, ""),
        &[("origin-a", &o.url)],
        frankfurt_and_munich,
    )
    .await;
    let url = format!("{}/big.bin", s.pops["FRA"]);
    // The viewer gets the origin's status and headers, then the connection drops short.
    let r = get(&url, &[]).await;
    assert_eq!(r.status(), 200);
    assert_eq!(h(&r, "x-cache"), "Miss from cloudfront");
    let (got, clean) = drain(r).await;
    assert!(!clean, "a cut body must not end cleanly for the viewer");
    assert!(got < RAW_LEN, "{got} bytes");
    // Nothing was kept: not at the POP, not at the regional edge cache.
    let r = get(&url, &[]).await;
    assert_eq!(h(&r, "x-cache"), "Miss from cloudfront");
    assert_eq!(drain(r).await, (4096, false));
    assert_eq!(o.count(), 2);
    let r = get(&format!("{}/big.bin", s.pops["MUC"]), &[]).await;
    assert_eq!(h(&r, "x-cache"), "Miss from cloudfront");
    drain(r).await;
    assert_eq!(o.count(), 3, "the regional cache kept nothing either");
    // A whole response is cached as usual.
    o.truncate.store(false, Ordering::SeqCst);
    let r = get(&url, &[]).await;
    assert_eq!(h(&r, "x-cache"), "Miss from cloudfront");
    assert_eq!(drain(r).await, (RAW_LEN, true));
    assert_eq!(o.count(), 4);
    let r = get(&url, &[]).await;
    assert_eq!(h(&r, "x-cache"), "Hit from cloudfront");
    assert_eq!(h(&r, "content-length"), RAW_LEN.to_string());
    assert_eq!(drain(r).await, (RAW_LEN, true));
    let r = get(
        &format!("{}/big.bin", s.pops["MUC"]),
        &[("pragma", "server-timing")],
    )
    .await;
    assert_eq!(h(&r, "x-cache"), "Hit from cloudfront");
    assert!(h(&r, "server-timing").contains("cdn-hit-layer;desc=\"REC\""));
    assert_eq!(drain(r).await, (RAW_LEN, true));
    assert_eq!(o.count(), 4);
}

#[tokio::test]
async fn origin_shield_serves_other_regions_and_invalidation_clears_it() {
    let o = Origin::start(0, fixed(200, &[("cache-control", "max-age=600")], "s")).await;
    let yaml = dist("", "a", OPTIMIZED, "").replacen(
        "DomainName: origin-a\n",
        "DomainName: origin-a\n            OriginShield: {Enabled: true, OriginShieldRegion: us-east-1}\n",
        1,
    );
    let s = setup(&yaml, &[("origin-a", &o.url)], |_| {}).await;
    let layer = |pop: &'static str| {
        let url = format!("{}/shielded.txt", s.pops[pop]);
        async move {
            let r = get(&url, &[("pragma", "server-timing")]).await;
            let st = h(&r, "server-timing");
            let x = h(&r, "x-cache");
            assert_eq!(r.text().await.expect("body"), "s");
            let layer = st
                .split("cdn-hit-layer;desc=\"")
                .nth(1)
                .and_then(|t| t.split('"').next())
                .unwrap_or("")
                .to_owned();
            (x, layer)
        }
    };
    // FRA → eu-central-1 → shield us-east-1 → origin.
    assert_eq!(layer("FRA").await.0, "Miss from cloudfront");
    assert_eq!(o.count(), 1);
    // NRT → ap-northeast-1 (miss) → the shield answers.
    assert_eq!(
        layer("NRT").await,
        ("Hit from cloudfront".to_owned(), "Origin Shield".to_owned())
    );
    // IAD's own regional cache is the shield region: a REC hit.
    assert_eq!(
        layer("IAD").await,
        ("Hit from cloudfront".to_owned(), "REC".to_owned())
    );
    assert_eq!(
        layer("NRT").await,
        ("Hit from cloudfront".to_owned(), "EDGE".to_owned())
    );
    assert_eq!(o.count(), 1);
    let report = s.edge.report(&s.id).expect("report");
    let pop = |id: &str| {
        report
            .pops
            .iter()
            .find(|p| p.pop == id)
            .cloned()
            .expect("pop")
    };
    assert_eq!(pop("FRA56-P1").origin_fetches, 1);
    assert_eq!(
        (pop("NRT57-P2").regional_hits, pop("NRT57-P2").edge_hits),
        (1, 1)
    );
    assert_eq!(pop("NRT57-P2").origin_fetches, 0);
    assert_eq!(pop("IAD89-C1").regional_hits, 1);

    s.edge
        .invalidate(&s.id, &["/shielded.txt".to_owned()], None)
        .expect("invalidate");
    // Every tier was cleared: NRT's POP and REC and the shield miss.
    assert_eq!(layer("NRT").await.0, "Miss from cloudfront");
    assert_eq!(o.count(), 2);
    // FRA's POP and REC were cleared too: the shield (refilled by NRT) answers.
    assert_eq!(
        layer("FRA").await,
        ("Hit from cloudfront".to_owned(), "Origin Shield".to_owned())
    );
    assert_eq!(o.count(), 2);
}

#[tokio::test]
async fn stale_while_revalidate_serves_stale_then_refreshes_in_the_background() {
    let version = Arc::new(AtomicUsize::new(1));
    let v = version.clone();
    let handler: Handler = Arc::new(move |_| {
        let body = if v.load(Ordering::SeqCst) == 1 {
            "v1"
        } else {
            "v2"
        };
        resp(
            200,
            &[("cache-control", "max-age=10, stale-while-revalidate=60")],
            body,
        )
    });
    let o = Origin::start(0, handler).await;
    let s = one_origin(&o.url).await;
    let url = format!("{}/swr", s.pops["FRA"]);
    assert_eq!(get(&url, &[]).await.text().await.expect("body"), "v1");
    assert_eq!(o.count(), 1);
    version.store(2, Ordering::SeqCst);
    // Expired, inside the stale-while-revalidate window: the stale copy at once, and one
    // refresh at the origin behind it.
    s.clock.advance(Duration::from_secs(20));
    let r = get(&url, &[]).await;
    assert_eq!(h(&r, "x-cache"), "Hit from cloudfront");
    assert_eq!(r.text().await.expect("body"), "v1");
    for _ in 0..200 {
        if o.count() == 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(o.count(), 2, "one background refresh");
    // The POP refreshed from its regional cache, which itself served stale and refreshed
    // from the origin; the POP's copy keeps the stale copy's age, so the next requests
    // (still inside the window, the clock unmoved) bring the refreshed body through
    // without another origin request.
    let mut body = String::new();
    for _ in 0..10 {
        let r = get(&url, &[]).await;
        assert_eq!(h(&r, "x-cache"), "Hit from cloudfront");
        body = r.text().await.expect("body");
        if body == "v2" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(body, "v2", "the refreshed object reaches the viewer");
    assert_eq!(o.count(), 2);
    // Past the window: a plain miss.
    s.clock.advance(Duration::from_secs(100));
    assert_eq!(h(&get(&url, &[]).await, "x-cache"), "Miss from cloudfront");
    assert_eq!(o.count(), 3);
}

#[tokio::test]
async fn latency_model_makes_each_hop_wait_and_the_edge_saves_it() {
    let o = Origin::start(0, fixed(200, &[("cache-control", "max-age=300")], "far")).await;
    let s = setup(
        &dist("", "a", OPTIMIZED, ""),
        &[("origin-a", &o.url)],
        |c| c.latency.enabled = true,
    )
    .await;
    let cfg = EdgeConfig::default();
    let nrt = cfg.pops.iter().find(|p| p.code == "NRT").expect("NRT");
    // The least a miss from Tokyo can cost: the POP → origin round trip (us-east-1) alone.
    let floor_ms = cfg.latency.rtt_ms(nrt.at, cfg.origin_location);
    assert!(floor_ms > 50.0, "{floor_ms}");
    let url = format!("{}/far", s.pops["NRT"]);
    let t = std::time::Instant::now();
    let r = get(&url, &[("pragma", "server-timing")]).await;
    let miss_ms = t.elapsed().as_secs_f64() * 1e3;
    assert_eq!(h(&r, "x-cache"), "Miss from cloudfront");
    assert!(
        miss_ms >= floor_ms,
        "a miss waits its simulated hops: {miss_ms:.1} ms < {floor_ms:.1} ms"
    );
    let t = std::time::Instant::now();
    let r = get(&url, &[("pragma", "server-timing")]).await;
    let hit_ms = t.elapsed().as_secs_f64() * 1e3;
    assert_eq!(h(&r, "x-cache"), "Hit from cloudfront");
    assert!(
        hit_ms < floor_ms,
        "a hit does not travel to the origin: {hit_ms:.1} ms"
    );
    let report = s.edge.report(&s.id).expect("report");
    let pop = report
        .pops
        .iter()
        .find(|p| p.pop.starts_with("NRT"))
        .expect("NRT in the report");
    assert_eq!(pop.origin_fetches, 1);
    assert!(pop.mean_latency_ms < pop.mean_latency_without_edge_ms);
}
