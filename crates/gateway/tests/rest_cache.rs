//! The REST stage cache (reference §1) as a user observes it: integration invocation
//! counts, bodies and headers, through the router (`oneshot`), with a scripted fake
//! function host and time injected by a `ManualClock` (never slept). Every rule runs twice:
//! against the in-process store (`memory::…`) and against a real redis-server on a free
//! port (`redis::…`). Redis-only: two ledge nodes share one cache, and a Redis restart in
//! the middle of traffic loses no request.

#![allow(clippy::unwrap_used)] // test code: a panic is the failure report

#[path = "../../cache/tests/common/redis_server.rs"]
#[allow(dead_code, unreachable_pub)]
mod redis_server;
mod support;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::body::Body;
use http::Request;
use ledge_cache::{Clock, ManualClock};
use ledge_gateway::rest::*;
use ledge_sigv4::{self as sigv4, AccessKeys, SignedRequest};
use serde_json::json;
use support::*;

const KEY_ID: &str = "AKIDLEDGETEST";
const SECRET: &str = "ledge-test-secret";

/// Where the stage caches live in one test, and its clock.
struct Env {
    backend: CacheBackend,
    clock: Arc<ManualClock>,
}

static NEXT_API: AtomicUsize = AtomicUsize::new(0);

impl Env {
    fn memory() -> Self {
        Self {
            backend: CacheBackend::Memory {
                ceiling: 64 * 1024 * 1024,
            },
            clock: Arc::new(ManualClock::new(
                UNIX_EPOCH + Duration::from_secs(1_800_000_000),
            )),
        }
    }

    fn redis(server: &redis_server::RedisServer) -> Self {
        Self {
            backend: CacheBackend::Redis { url: server.url() },
            // Redis keeps entries for their TTL of real time; freshness follows this clock.
            clock: Arc::new(ManualClock::new(SystemTime::now())),
        }
    }

    fn options(&self) -> RestOptions {
        RestOptions {
            clock: self.clock.clone(),
            cache: self.backend.clone(),
            access_keys: AccessKeys::new([(KEY_ID.to_owned(), SECRET.to_owned())]),
            ..RestOptions::default()
        }
    }

    /// A fresh API id per API, so tests sharing a Redis never share entries.
    fn unique(&self, spec: &mut RestApiSpec) {
        let n = NEXT_API.fetch_add(1, Ordering::SeqCst);
        spec.api_id = format!("{}-{n}-{}", spec.api_id, std::process::id());
    }

    fn serve(&self, mut spec: RestApiSpec, fake: &Arc<Fake>) -> (axum::Router, Arc<RestApi>) {
        self.unique(&mut spec);
        let api = RestApi::new(spec, fake.clone(), self.options()).expect("compiles");
        (router(api.clone()), api)
    }

    fn advance(&self, secs: u64) {
        self.clock.advance(Duration::from_secs(secs));
    }
}

/// `Fn` answers `{"n": <call number>, "path": …}` with status 200.
fn counting(fake: &Arc<Fake>) {
    let n = AtomicUsize::new(0);
    fake.on("Fn", move |e| {
        let i = n.fetch_add(1, Ordering::SeqCst) + 1;
        reply(200, &json!({"n": i, "path": e["path"]}).to_string())
    });
}

fn n(r: &Resp) -> u64 {
    r.json()["n"]
        .as_u64()
        .unwrap_or_else(|| panic!("{}", r.text()))
}

fn items_api(settings: Vec<MethodSetting>) -> RestApiSpec {
    api(
        "Api",
        cached_stage("Prod", settings),
        vec![
            method("GET", "/items", lambda("Fn")),
            method("POST", "/items", lambda("Fn")),
        ],
    )
}

async fn default_ttl_is_300_seconds(env: &Env) {
    let fake = Fake::new();
    counting(&fake);
    let (r, _) = env.serve(items_api(vec![]), &fake);
    let first = call(&r, get("/Prod/items")).await;
    assert_eq!((first.status, n(&first)), (200, 1));
    let hit = call(&r, get("/Prod/items")).await;
    assert_eq!(hit.body, first.body, "served from the cache");
    assert_eq!(fake.count("Fn"), 1);
    assert!(hit.header("age").is_none(), "no Age header");
    assert_ne!(
        hit.header("x-amzn-requestid"),
        first.header("x-amzn-requestid"),
        "each response has its own request id"
    );
    assert!(hit.header("x-amz-apigw-id").is_some());
    env.advance(299);
    assert_eq!(n(&call(&r, get("/Prod/items")).await), 1, "fresh at 299 s");
    env.advance(1);
    assert_eq!(n(&call(&r, get("/Prod/items")).await), 2, "stale at 300 s");
    assert_eq!(fake.count("Fn"), 2);
}

async fn ttl_above_3600_is_clamped(env: &Env) {
    let fake = Fake::new();
    counting(&fake);
    let spec = items_api(vec![setting("*", "*", |s| {
        s.cache_ttl_seconds = Some(86_400)
    })]);
    let (r, _) = env.serve(spec, &fake);
    call(&r, get("/Prod/items")).await;
    env.advance(3599);
    assert_eq!(n(&call(&r, get("/Prod/items")).await), 1);
    env.advance(1);
    assert_eq!(n(&call(&r, get("/Prod/items")).await), 2, "3600 s at most");
}

async fn ttl_zero_disables_caching(env: &Env) {
    let fake = Fake::new();
    counting(&fake);
    let spec = items_api(vec![setting("*", "*", |s| s.cache_ttl_seconds = Some(0))]);
    let (r, api) = env.serve(spec, &fake);
    for i in 1..=3 {
        assert_eq!(n(&call(&r, get("/Prod/items")).await), i);
    }
    let snap = api.metrics().snapshot();
    let counted = snap.stage("Prod").map_or(0, |s| s.hits + s.misses);
    assert_eq!(
        counted, 0,
        "a method that is not cached counts neither hits nor misses"
    );
}

async fn only_get_is_cached_by_default(env: &Env) {
    let fake = Fake::new();
    counting(&fake);
    let (r, _) = env.serve(items_api(vec![]), &fake);
    call(&r, req("POST", "/Prod/items", &[], "{}")).await;
    call(&r, req("POST", "/Prod/items", &[], "{}")).await;
    assert_eq!(fake.count("Fn"), 2, "POST is not cached");
    // A stage without a cache cluster caches nothing, whatever the method settings say.
    let fake = Fake::new();
    counting(&fake);
    let mut spec = items_api(vec![setting("*", "*", |s| s.caching_enabled = Some(true))]);
    spec.stages[0].cache_cluster_enabled = false;
    let (r, _) = env.serve(spec, &fake);
    call(&r, get("/Prod/items")).await;
    call(&r, get("/Prod/items")).await;
    assert_eq!(fake.count("Fn"), 2);
}

async fn a_post_override_caches_post_and_the_body_is_not_in_the_key(env: &Env) {
    let fake = Fake::new();
    counting(&fake);
    let spec = items_api(vec![setting("/items", "POST", |s| {
        s.caching_enabled = Some(true)
    })]);
    let (r, _) = env.serve(spec, &fake);
    let a = call(&r, req("POST", "/Prod/items", &[], r#"{"a":1}"#)).await;
    let b = call(&r, req("POST", "/Prod/items", &[], r#"{"b":2}"#)).await;
    assert_eq!((n(&a), n(&b)), (1, 1), "one entry whatever the body");
    let g = call(&r, get("/Prod/items")).await;
    assert_eq!(n(&g), 2, "GET and POST have their own entries");
}

async fn key_parameters_path_query_and_header(env: &Env) {
    let fake = Fake::new();
    counting(&fake);
    let mut m = method("GET", "/users/{id}", lambda("Fn"));
    for p in [
        "method.request.path.id",
        "method.request.querystring.type",
        "method.request.header.Accept-Language",
    ] {
        m.request_parameters.insert(p.into(), false);
        m.cache_key_parameters.push(p.into());
    }
    m.request_parameters
        .insert("method.request.querystring.department".into(), false);
    let (r, api) = env.serve(api("Api", cached_stage("Prod", vec![]), vec![m]), &fake);
    assert!(api.warnings().is_empty(), "{:?}", api.warnings());
    let lang = |l: &'static str, uri: &str| req("GET", uri, &[("accept-language", l)], "");
    assert_eq!(
        n(&call(&r, lang("fr", "/Prod/users/1?type=admin")).await),
        1
    );
    assert_eq!(
        n(&call(&r, lang("fr", "/Prod/users/1?type=admin")).await),
        1
    );
    assert_eq!(
        n(&call(&r, lang("fr", "/Prod/users/2?type=admin")).await),
        2,
        "path"
    );
    assert_eq!(
        n(&call(&r, lang("fr", "/Prod/users/1?type=user")).await),
        3,
        "query"
    );
    assert_eq!(
        n(&call(&r, lang("de", "/Prod/users/1?type=admin")).await),
        4,
        "header"
    );
    assert_eq!(
        n(&call(&r, lang("fr", "/Prod/users/1?type=admin&department=B")).await),
        1,
        "a parameter outside the key shares the entry (AWS's type/department example)"
    );
    assert_eq!(
        n(&call(&r, get("/Prod/users/1?type=admin")).await),
        5,
        "no Accept-Language is a key of its own"
    );
}

async fn without_key_parameters_paths_share_an_entry(env: &Env) {
    let fake = Fake::new();
    counting(&fake);
    let (r, api) = env.serve(
        api(
            "Api",
            cached_stage("Prod", vec![]),
            vec![method("GET", "/yubl/{id}", lambda("Fn"))],
        ),
        &fake,
    );
    let w = api.warnings();
    assert_eq!(w.len(), 1, "{w:?}");
    assert!(
        w[0].contains("GET /yubl/{id}") && w[0].contains("method.request.path.id"),
        "{}",
        w[0]
    );
    let one = call(&r, get("/Prod/yubl/one")).await;
    let two = call(&r, get("/Prod/yubl/two?x=1")).await;
    assert_eq!(one.json()["path"], "/yubl/one");
    assert_eq!(
        two.json()["path"],
        "/yubl/one",
        "/yubl/two got /yubl/one's cached response, as on AWS"
    );
    assert_eq!(fake.count("Fn"), 1);
}

async fn responses_over_one_mib_are_served_but_not_stored(env: &Env) {
    let fake = Fake::new();
    let calls = Arc::new(AtomicUsize::new(0));
    let c = calls.clone();
    fake.on("Fn", move |e| {
        c.fetch_add(1, Ordering::SeqCst);
        let size: usize = e["queryStringParameters"]["size"]
            .as_str()
            .unwrap()
            .parse()
            .unwrap();
        reply(200, &"x".repeat(size))
    });
    let mut m = method("GET", "/blob", lambda("Fn"));
    m.request_parameters
        .insert("method.request.querystring.size".into(), false);
    m.cache_key_parameters
        .push("method.request.querystring.size".into());
    let (r, _) = env.serve(api("Api", cached_stage("Prod", vec![]), vec![m]), &fake);
    let big = "/Prod/blob?size=1048577";
    assert_eq!(call(&r, get(big)).await.body.len(), 1_048_577);
    assert_eq!(call(&r, get(big)).await.body.len(), 1_048_577);
    assert_eq!(
        calls.load(Ordering::SeqCst),
        2,
        "over 1 MiB: served, not stored"
    );
    let max = "/Prod/blob?size=1048576";
    assert_eq!(call(&r, get(max)).await.body.len(), 1_048_576);
    assert_eq!(call(&r, get(max)).await.body.len(), 1_048_576);
    assert_eq!(calls.load(Ordering::SeqCst), 3, "exactly 1 MiB is stored");
}

/// A GET with `Cache-Control: max-age=0`, SigV4-signed (service `execute-api`) by
/// `key_id`/`secret` at the env's clock.
fn signed_refresh(env: &Env, uri: &str, key_id: &str, secret: &str) -> Request<Body> {
    let date = chrono::DateTime::<chrono::Utc>::from(env.clock.now())
        .format("%Y%m%dT%H%M%SZ")
        .to_string();
    let (path, query) = uri.split_once('?').unwrap_or((uri, ""));
    let mut request = Request::get(uri)
        .header("host", "127.0.0.1:3000")
        .header("cache-control", "max-age=0")
        .header("x-amz-date", date)
        .body(Body::empty())
        .unwrap();
    let auth = sigv4::sign(
        key_id,
        secret,
        "us-east-1",
        "execute-api",
        &SignedRequest {
            method: "GET",
            path,
            query,
            headers: request.headers(),
            body: b"",
        },
    );
    request
        .headers_mut()
        .insert("authorization", auth.parse().unwrap());
    request
}

fn refresh(uri: &str) -> Request<Body> {
    req("GET", uri, &[("cache-control", "max-age=0")], "")
}

async fn max_age_zero_refreshes_for_anyone_without_required_authorization(env: &Env) {
    let fake = Fake::new();
    counting(&fake);
    let spec = items_api(vec![setting("*", "*", |s| {
        s.require_authorization_for_cache_control = Some(false)
    })]);
    let (r, _) = env.serve(spec, &fake);
    assert_eq!(n(&call(&r, get("/Prod/items")).await), 1);
    let refreshed = call(&r, refresh("/Prod/items")).await;
    assert_eq!(n(&refreshed), 2, "straight to the integration");
    assert!(refreshed.header("warning").is_none());
    assert_eq!(
        n(&call(&r, get("/Prod/items")).await),
        2,
        "the refreshed response replaced the entry"
    );
}

async fn max_age_zero_signed_by_a_configured_key_refreshes(env: &Env) {
    let fake = Fake::new();
    counting(&fake);
    let (r, _) = env.serve(items_api(vec![]), &fake);
    assert_eq!(n(&call(&r, get("/Prod/items")).await), 1);
    let signed = call(&r, signed_refresh(env, "/Prod/items", KEY_ID, SECRET)).await;
    assert_eq!(
        (signed.status, n(&signed)),
        (200, 2),
        "authorized: refreshed"
    );
    assert_eq!(n(&call(&r, get("/Prod/items")).await), 2);
    // The default strategy, SUCCEED_WITH_RESPONSE_HEADER: unsigned, or signed by a key
    // ledge does not know, is served from the cache with a warning.
    for req in [
        refresh("/Prod/items"),
        signed_refresh(env, "/Prod/items", "AKIDSTRANGER", "other"),
        signed_refresh(env, "/Prod/items", KEY_ID, "wrong-secret"),
    ] {
        let r = call(&r, req).await;
        assert_eq!(n(&r), 2, "not refreshed");
        let w = r.header("warning").expect("a warning header");
        assert!(w.starts_with("199 "), "{w}");
    }
    assert_eq!(fake.count("Fn"), 2);
}

async fn max_age_zero_unauthorized_fails_with_403(env: &Env) {
    let fake = Fake::new();
    counting(&fake);
    let spec = items_api(vec![setting("*", "*", |s| {
        s.unauthorized_cache_control_header_strategy = Some(UnauthorizedStrategy::FailWith403)
    })]);
    let (r, _) = env.serve(spec, &fake);
    call(&r, get("/Prod/items")).await;
    let denied = call(&r, refresh("/Prod/items")).await;
    assert_eq!(denied.status, 403);
    assert_eq!(
        denied.text(),
        r#"{"message":"User is not authorized to perform: execute-api:InvalidateCache"}"#
    );
    assert_eq!(fake.count("Fn"), 1, "nothing invoked");
    let ok = call(&r, signed_refresh(env, "/Prod/items", KEY_ID, SECRET)).await;
    assert_eq!(n(&ok), 2);
}

async fn max_age_zero_unauthorized_succeeds_without_a_header(env: &Env) {
    let fake = Fake::new();
    counting(&fake);
    let spec = items_api(vec![setting("/items", "GET", |s| {
        s.unauthorized_cache_control_header_strategy =
            Some(UnauthorizedStrategy::SucceedWithoutResponseHeader)
    })]);
    let (r, _) = env.serve(spec, &fake);
    call(&r, get("/Prod/items")).await;
    let quiet = call(&r, refresh("/Prod/items")).await;
    assert_eq!(n(&quiet), 1, "served from the cache");
    assert!(quiet.header("warning").is_none());
}

async fn flush_empties_one_stage(env: &Env) {
    let fake = Fake::new();
    counting(&fake);
    let mut spec = items_api(vec![]);
    spec.stages.push(cached_stage("Beta", vec![]));
    let (r, api) = env.serve(spec, &fake);
    call(&r, get("/Prod/items")).await;
    call(&r, get("/Beta/items")).await;
    assert_eq!(fake.count("Fn"), 2);
    let registry = Arc::new(RestRegistry::default());
    registry.insert(api.clone());
    let mgmt = management_router(Management {
        registry,
        auth: None,
        account_id: "123456789012".into(),
    });
    let id = api.spec().api_id;
    let flushed = call(
        &mgmt,
        req(
            "DELETE",
            &format!("/restapis/{id}/stages/Prod/cache/data"),
            &[],
            "",
        ),
    )
    .await;
    assert_eq!(flushed.status, 202, "{}", flushed.text());
    assert!(flushed.body.is_empty());
    assert_eq!(
        n(&call(&r, get("/Prod/items")).await),
        3,
        "Prod was flushed"
    );
    let beta = call(&r, get("/Beta/items")).await;
    assert_eq!(n(&beta), 2, "Beta kept its entry");
    let missing = call(
        &mgmt,
        req(
            "DELETE",
            &format!("/restapis/{id}/stages/Nope/cache/data"),
            &[],
            "",
        ),
    )
    .await;
    assert_eq!(missing.status, 404);
    assert_eq!(
        missing.header("x-amzn-errortype"),
        Some("NotFoundException")
    );
}

async fn hit_and_miss_counts_per_stage_and_method(env: &Env) {
    let fake = Fake::new();
    counting(&fake);
    let mut spec = items_api(vec![setting("/items", "POST", |s| {
        s.caching_enabled = Some(true)
    })]);
    spec.methods.push(method("GET", "/other", lambda("Fn")));
    spec.derive_resources();
    let (r, api) = env.serve(spec, &fake);
    for _ in 0..3 {
        call(&r, get("/Prod/items")).await;
    }
    call(&r, req("POST", "/Prod/items", &[], "")).await;
    call(&r, get("/Prod/other")).await;
    call(&r, get("/Prod/other")).await;
    let snap = api.metrics().snapshot();
    let prod = snap.stage("Prod").expect("counted");
    assert_eq!((prod.hits, prod.misses), (3, 3));
    let items = prod.method("GET /items").expect("GET /items");
    assert_eq!((items.hits, items.misses), (2, 1));
    let post = prod.method("POST /items").expect("POST /items");
    assert_eq!((post.hits, post.misses), (0, 1));
    let stats = api.cache_stats().await;
    let s = &stats["stages"]["Prod"];
    assert_eq!(
        (s["CacheHitCount"].as_u64(), s["CacheMissCount"].as_u64()),
        (Some(3), Some(3))
    );
    assert_eq!(s["methods"]["GET /other"]["CacheHitCount"], 1);
    assert_eq!(s["cacheClusterStatus"], "AVAILABLE");
    assert!(s["entries"].as_u64().unwrap() >= 3, "{s}");
}

async fn non_2xx_responses_are_cached_gateway_errors_are_not(env: &Env) {
    let fake = Fake::new();
    let n429 = Arc::new(AtomicUsize::new(0));
    let c = n429.clone();
    fake.on("Limited", move |_| {
        c.fetch_add(1, Ordering::SeqCst);
        reply(429, r#"{"error":"slow down"}"#)
    });
    fake.on("Broken", |_| ok(json!({"statusCode": 200, "oops": true})));
    let spec = api(
        "Api",
        cached_stage("Prod", vec![]),
        vec![
            method("GET", "/limited", lambda("Limited")),
            method("GET", "/broken", lambda("Broken")),
        ],
    );
    let (r, _) = env.serve(spec, &fake);
    for _ in 0..2 {
        let got = call(&r, get("/Prod/limited")).await;
        assert_eq!(
            (got.status, got.text().as_str()),
            (429, r#"{"error":"slow down"}"#)
        );
    }
    assert_eq!(
        n429.load(Ordering::SeqCst),
        1,
        "the backend's 429 was cached"
    );
    for _ in 0..2 {
        let got = call(&r, get("/Prod/broken")).await;
        assert_eq!(got.status, 502);
        assert_eq!(got.text(), r#"{"message": "Internal server error"}"#);
    }
    assert_eq!(fake.count("Broken"), 2, "a gateway 502 is not cached");
}

async fn backend_cache_control_is_ignored(env: &Env) {
    let fake = Fake::new();
    let n = AtomicUsize::new(0);
    fake.on("Fn", move |_| {
        let i = n.fetch_add(1, Ordering::SeqCst) + 1;
        ok(json!({"statusCode": 200, "headers": {"Cache-Control": "no-store, max-age=0", "X-Call": i.to_string()}, "body": "b"}))
    });
    let (r, _) = env.serve(items_api(vec![]), &fake);
    let a = call(&r, get("/Prod/items")).await;
    env.advance(120);
    let b = call(&r, get("/Prod/items")).await;
    assert_eq!(a.header("x-call"), Some("1"));
    assert_eq!(b.header("x-call"), Some("1"), "cached despite no-store");
    assert_eq!(
        b.header("cache-control"),
        Some("no-store, max-age=0"),
        "the stored headers are replayed"
    );
}

async fn entries_expire_one_by_one(env: &Env) {
    let fake = Fake::new();
    counting(&fake);
    let mut m = method("GET", "/p/{id}", lambda("Fn"));
    m.cache_key_parameters.push("method.request.path.id".into());
    let (r, _) = env.serve(api("Api", cached_stage("Prod", vec![]), vec![m]), &fake);
    assert_eq!(n(&call(&r, get("/Prod/p/a")).await), 1);
    env.advance(100);
    assert_eq!(n(&call(&r, get("/Prod/p/b")).await), 2);
    env.advance(200);
    assert_eq!(
        n(&call(&r, get("/Prod/p/a")).await),
        3,
        "a expired at 300 s"
    );
    assert_eq!(n(&call(&r, get("/Prod/p/b")).await), 2, "b has 100 s left");
}

async fn authorizer_runs_on_hits_and_users_share_entries(env: &Env) {
    let fake = Fake::new();
    counting(&fake);
    fake.on("Auth", |e| {
        ok(json!({"principalId": e["authorizationToken"], "policyDocument": {"Version": "2012-10-17",
            "Statement": [{"Action": "execute-api:Invoke", "Effect": "Allow", "Resource": "*"}]}}))
    });
    let mut spec = items_api(vec![]);
    spec.authorizers.insert(
        "Tok".into(),
        RestAuthorizerSpec {
            kind: AuthorizerKind::Token,
            function: "Auth".into(),
            identity_source: vec!["method.request.header.Authorization".into()],
            validation_expression: None,
            result_ttl: Duration::ZERO,
        },
    );
    spec.methods[0].auth = MethodAuth::Authorizer("Tok".into());
    let mut keyed = method("GET", "/mine", lambda("Fn"));
    keyed.auth = MethodAuth::Authorizer("Tok".into());
    keyed
        .request_parameters
        .insert("method.request.header.Authorization".into(), true);
    keyed
        .cache_key_parameters
        .push("method.request.header.Authorization".into());
    spec.methods.push(keyed);
    spec.derive_resources();
    let (r, _) = env.serve(spec, &fake);
    let as_user = |u: &'static str, uri: &str| req("GET", uri, &[("authorization", u)], "");
    let alice = call(&r, as_user("alice", "/Prod/items")).await;
    let bob = call(&r, as_user("bob", "/Prod/items")).await;
    assert_eq!(n(&alice), 1);
    assert_eq!(
        n(&bob),
        1,
        "bob got alice's cached response (Authorization is not in the key)"
    );
    assert_eq!(fake.count("Auth"), 2, "the authorizer ran for both");
    let unauth = call(&r, get("/Prod/items")).await;
    assert_eq!(unauth.status, 401, "a cache hit still needs authorization");
    assert_eq!(n(&call(&r, as_user("alice", "/Prod/mine")).await), 2);
    assert_eq!(
        n(&call(&r, as_user("bob", "/Prod/mine")).await),
        3,
        "keyed by Authorization"
    );
    assert_eq!(n(&call(&r, as_user("alice", "/Prod/mine")).await), 2);
}

async fn cluster_size_sets_the_capacity_up_to_the_ceiling(env: &Env) {
    let fake = Fake::new();
    counting(&fake);
    let mut spec = items_api(vec![]);
    spec.stages[0].cache_cluster_size = "237".parse().unwrap();
    let (r, api) = env.serve(spec, &fake);
    call(&r, get("/Prod/items")).await;
    let stats = api.cache_stats().await;
    let s = &stats["stages"]["Prod"];
    assert_eq!(s["cacheClusterSize"], "237");
    match env.backend {
        CacheBackend::Memory { ceiling } => {
            assert_eq!(s["store"], "memory");
            assert_eq!(s["capacityBytes"], ceiling, "bounded by the local ceiling");
        }
        CacheBackend::Redis { .. } => assert_eq!(s["store"], "redis"),
    }
}

macro_rules! suite {
    ($($name:ident),* $(,)?) => {
        mod memory {
            $(
                #[tokio::test]
                async fn $name() {
                    super::$name(&super::Env::memory()).await;
                }
            )*
        }
        mod redis {
            $(
                #[tokio::test]
                async fn $name() {
                    let server = super::redis_server::RedisServer::start();
                    super::$name(&super::Env::redis(&server)).await;
                }
            )*
        }
    };
}

suite!(
    default_ttl_is_300_seconds,
    ttl_above_3600_is_clamped,
    ttl_zero_disables_caching,
    only_get_is_cached_by_default,
    a_post_override_caches_post_and_the_body_is_not_in_the_key,
    key_parameters_path_query_and_header,
    without_key_parameters_paths_share_an_entry,
    responses_over_one_mib_are_served_but_not_stored,
    max_age_zero_refreshes_for_anyone_without_required_authorization,
    max_age_zero_signed_by_a_configured_key_refreshes,
    max_age_zero_unauthorized_fails_with_403,
    max_age_zero_unauthorized_succeeds_without_a_header,
    flush_empties_one_stage,
    hit_and_miss_counts_per_stage_and_method,
    non_2xx_responses_are_cached_gateway_errors_are_not,
    backend_cache_control_is_ignored,
    entries_expire_one_by_one,
    authorizer_runs_on_hits_and_users_share_entries,
    cluster_size_sets_the_capacity_up_to_the_ceiling,
);

/// Two ledge nodes with the same Redis serve one cache: a fill on one is a hit on the
/// other, and a flush on one empties both.
#[tokio::test]
async fn redis_nodes_share_entries_and_flushes() {
    let server = redis_server::RedisServer::start();
    let env = Env::redis(&server);
    let fake = Fake::new();
    counting(&fake);
    let mut spec = items_api(vec![]);
    env.unique(&mut spec);
    let a = RestApi::new(spec.clone(), fake.clone(), env.options()).unwrap();
    let b = RestApi::new(spec, fake.clone(), env.options()).unwrap();
    let (ra, rb) = (router(a.clone()), router(b.clone()));
    assert_eq!(n(&call(&ra, get("/Prod/items")).await), 1);
    assert_eq!(
        n(&call(&rb, get("/Prod/items")).await),
        1,
        "node b hits node a's entry"
    );
    a.flush_stage_cache("Prod").await.unwrap();
    assert_eq!(
        n(&call(&rb, get("/Prod/items")).await),
        2,
        "flushed for every node"
    );
    assert_eq!(fake.count("Fn"), 2);
}

/// Redis goes away in the middle of traffic and comes back: every request is answered
/// (from the integration while Redis is down), and caching resumes by itself.
#[tokio::test]
async fn a_redis_restart_mid_traffic_loses_no_request() {
    let mut server = redis_server::RedisServer::start();
    let env = Env::redis(&server);
    let fake = Fake::new();
    counting(&fake);
    let (r, api) = env.serve(items_api(vec![]), &fake);
    assert_eq!(n(&call(&r, get("/Prod/items")).await), 1);
    assert_eq!(n(&call(&r, get("/Prod/items")).await), 1);
    server.stop();
    for _ in 0..20 {
        let got = call(&r, get("/Prod/items")).await;
        assert_eq!(
            got.status,
            200,
            "served while Redis is down: {}",
            got.text()
        );
    }
    let during = fake.count("Fn");
    assert!(during > 1, "misses went to the integration");
    assert!(api.redis_health().unwrap().errors > 0);
    server.restart();
    // The store skips Redis for a short while after a failure; wait for the condition
    // (a request served from Redis), never a fixed sleep.
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    let mut sent = 0;
    loop {
        let before = fake.count("Fn");
        let got = call(&r, get("/Prod/items")).await;
        sent += 1;
        assert_eq!(got.status, 200);
        if fake.count("Fn") == before {
            break; // a hit: Redis is back and holds an entry
        }
        assert!(
            std::time::Instant::now() < deadline,
            "caching did not resume after {sent} requests"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(api.redis_health().unwrap().available);
}

/// GetStage and UpdateStage through the management router, as the AWS CLI sends them.
#[tokio::test]
async fn update_stage_patches_method_settings() {
    let env = Env::memory();
    let fake = Fake::new();
    counting(&fake);
    let (r, api) = env.serve(items_api(vec![]), &fake);
    let registry = Arc::new(RestRegistry::default());
    registry.insert(api.clone());
    let mgmt = management_router(Management {
        registry,
        auth: None,
        account_id: "123456789012".into(),
    });
    let id = api.spec().api_id;
    let patch = json!({"patchOperations": [
        {"op": "replace", "path": "/~1items/GET/caching/ttlInSeconds", "value": "10"},
        {"op": "replace", "path": "/*/*/caching/unauthorizedCacheControlHeaderStrategy", "value": "FAIL_WITH_403"}
    ]});
    let updated = call(
        &mgmt,
        req(
            "PATCH",
            &format!("/restapis/{id}/stages/Prod"),
            &[("content-type", "application/json")],
            &patch.to_string(),
        ),
    )
    .await;
    assert_eq!(updated.status, 200, "{}", updated.text());
    let s = updated.json();
    assert_eq!(s["methodSettings"]["~1items/GET"]["cacheTtlInSeconds"], 10);
    assert_eq!(s["methodSettings"]["~1items/GET"]["cachingEnabled"], false);
    assert_eq!(
        s["methodSettings"]["*/*"]["unauthorizedCacheControlHeaderStrategy"],
        "FAIL_WITH_403"
    );
    assert_eq!(s["cacheClusterStatus"], "AVAILABLE");
    call(&r, get("/Prod/items")).await;
    env.advance(10);
    assert_eq!(
        n(&call(&r, get("/Prod/items")).await),
        2,
        "the new TTL applies"
    );
    assert_eq!(call(&r, refresh("/Prod/items")).await.status, 403);
    let bad = call(
        &mgmt,
        req(
            "PATCH",
            &format!("/restapis/{id}/stages/Prod"),
            &[],
            r#"{"patchOperations":[{"op":"replace","path":"/canarySettings","value":"x"}]}"#,
        ),
    )
    .await;
    assert_eq!(bad.status, 400);
    assert!(bad.json()["message"]
        .as_str()
        .unwrap()
        .starts_with("Invalid method setting path: /canarySettings. Must be one of: ["));
    let got = call(&mgmt, get(&format!("/restapis/{id}/stages/Prod"))).await;
    assert_eq!(got.json()["stageName"], "Prod");
}

/// A redeploy (hot reload, UpdateStage) keeps a stage's entries while its cache cluster
/// stays as it was; resizing or disabling the cluster loses them, as on AWS; a spec that
/// does not compile leaves the last good deployment serving.
#[tokio::test]
async fn redeploys_keep_entries_unless_the_cluster_changes() {
    let env = Env::memory();
    let fake = Fake::new();
    counting(&fake);
    let (r, api) = env.serve(items_api(vec![]), &fake);
    assert_eq!(n(&call(&r, get("/Prod/items")).await), 1);
    let mut spec = api.spec();
    spec.stages[0]
        .method_settings
        .push(setting("*", "*", |s| s.cache_ttl_seconds = Some(60)));
    api.redeploy(spec.clone()).unwrap();
    assert_eq!(n(&call(&r, get("/Prod/items")).await), 1, "kept");
    spec.stages[0].cache_cluster_size = "1.6".parse().unwrap();
    api.redeploy(spec.clone()).unwrap();
    assert_eq!(
        n(&call(&r, get("/Prod/items")).await),
        2,
        "resized: emptied"
    );
    env.advance(60);
    assert_eq!(n(&call(&r, get("/Prod/items")).await), 3, "the new TTL");
    let mut bad = spec.clone();
    bad.methods[0].auth = MethodAuth::Authorizer("Nope".into());
    assert!(api.redeploy(bad).is_err());
    assert_eq!(
        n(&call(&r, get("/Prod/items")).await),
        3,
        "the last good deployment serves"
    );
    spec.stages[0].cache_cluster_enabled = false;
    api.redeploy(spec).unwrap();
    assert_eq!(n(&call(&r, get("/Prod/items")).await), 4);
    assert_eq!(
        n(&call(&r, get("/Prod/items")).await),
        5,
        "no cluster, no cache"
    );
}
