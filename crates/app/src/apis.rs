//! The template's APIs, served: HTTP APIs and REST APIs, one loopback listener per API
//! (TCP_NODELAY on every accepted socket, graceful shutdown with the platform's token),
//! their ready-file entries, the registry the API Gateway management calls act on, and
//! redeploys on reload. The behaviour lives in `ledge-gateway`; this file only binds and
//! serves.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use axum::serve::ListenerExt;
use ledge_gateway::http::{self as gw, AccessLogSink, GatewayOptions, HttpApi};
use ledge_gateway::rest::{self, CacheBackend, RestApi, RestOptions, RestRegistry};
use ledge_model::Invoke;
use ledge_template::Template;
use tokio_util::sync::CancellationToken;

use crate::AppError;

/// Signs a call to a ledge's AWS endpoint (SigV4 headers to add), for commands that talk to
/// a ledge started with `--auth`.
pub use ledge_sigv4::signature_headers as sigv4_headers;

/// Where REST stage caches live (`ledge up --cache`, `--cache-memory-mb`).
#[derive(Debug, Clone, Default)]
pub struct CacheOptions {
    /// `redis://host:port[/db]`: one cache shared by every ledge node; `None` keeps each
    /// stage's cache in process.
    pub redis_url: Option<String>,
    /// The most bytes an in-process stage cache holds, whatever its cluster size (default
    /// 512 MiB).
    pub memory_ceiling: Option<u64>,
}

impl CacheOptions {
    fn backend(&self) -> CacheBackend {
        match (&self.redis_url, self.memory_ceiling) {
            (Some(url), _) => CacheBackend::Redis { url: url.clone() },
            (None, Some(ceiling)) => CacheBackend::Memory { ceiling },
            (None, None) => CacheBackend::default(),
        }
    }
}

/// The served APIs: ready-file entries, server tasks, and handles for redeploying.
pub(crate) struct HttpApis {
    /// `{"kind": "http"|"rest", "url": …, "stages": {name: url}}` by logical id.
    pub(crate) entries: BTreeMap<String, serde_json::Value>,
    pub(crate) handles: Vec<tokio::task::JoinHandle<()>>,
    /// By logical id: call [`HttpApis::redeploy`] with a reloaded template.
    pub(crate) apis: BTreeMap<String, Arc<HttpApi>>,
    /// REST APIs by API id, for the management calls on the AWS endpoint.
    pub(crate) registry: Arc<RestRegistry>,
    /// Lines to show at start-up: REST deploy warnings (cached methods whose key leaves out
    /// path parameters, clamped TTLs, generated API keys).
    pub(crate) warnings: Vec<String>,
}

impl HttpApis {
    /// autoDeploy: re-reads every API of `template` and swaps each deployment in. An API
    /// whose new spec fails keeps its last good deployment; the errors are returned as
    /// lines to show, with the new REST deployments' warnings. APIs added to or removed
    /// from the template need a restart (their listeners are bound at start).
    pub(crate) fn redeploy(&self, template: &Template) -> Vec<String> {
        let mut out = Vec::new();
        match gw::from_template(template) {
            Err(e) => out.push(format!("HTTP APIs not redeployed: {e}")),
            Ok(specs) => {
                for spec in specs {
                    let id = spec.logical_id.clone();
                    match self.apis.get(&id) {
                        Some(api) => {
                            if let Err(e) = api.redeploy(spec) {
                                out.push(format!(
                                    "{id}: not redeployed, the last good deployment keeps serving: {e}"
                                ));
                            }
                        }
                        None => out.push(format!("{id}: a new HTTP API is served after a restart")),
                    }
                }
            }
        }
        match rest::from_template(template) {
            Err(e) => out.push(format!("REST APIs not redeployed: {e}")),
            Ok(t) => {
                for spec in t.apis {
                    let id = spec.logical_id.clone();
                    match self.registry.get(&spec.api_id) {
                        Some(api) => match api.redeploy(spec) {
                            Ok(w) => out.extend(w),
                            Err(e) => out.push(format!(
                                "{id}: not redeployed, the last good deployment keeps serving: {e}"
                            )),
                        },
                        None => out.push(format!("{id}: a new REST API is served after a restart")),
                    }
                }
            }
        }
        out
    }
}

/// Binds a loopback listener for one API.
async fn bind(kind: &str, id: &str) -> Result<(tokio::net::TcpListener, String), AppError> {
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0))
        .await
        .map_err(|source| AppError::Io {
            what: format!("cannot bind a listener for the {kind} {id}"),
            source,
        })?;
    let addr = listener.local_addr().map_err(|source| AppError::Io {
        what: "cannot read the listener's address".into(),
        source,
    })?;
    Ok((listener, format!("http://{addr}")))
}

/// Serves `router` on `listener` until `cancel`, with TCP_NODELAY on every connection so a
/// keep-alive response never waits for a delayed ACK. The server runs on `home`, the
/// function thread, where the invocations its requests make run too.
fn serve(
    home: &tokio::runtime::Handle,
    listener: tokio::net::TcpListener,
    router: axum::Router,
    id: String,
    cancel: &CancellationToken,
) -> tokio::task::JoinHandle<()> {
    let app = router.into_make_service_with_connect_info::<SocketAddr>();
    let shutdown = cancel.clone();
    home.spawn(async move {
        let listener = listener.tap_io(|tcp| {
            let _ = tcp.set_nodelay(true);
        });
        if let Err(e) = axum::serve(listener, app)
            .with_graceful_shutdown(shutdown.cancelled_owned())
            .await
        {
            tracing::error!(api = %id, error = %e, "API listener stopped");
        }
    })
}

/// Serves a REST API on `listener` until `cancel`, with hyper directly (no router in the
/// way of the cache hit path): TCP_NODELAY on every connection, HTTP/1.1 keep-alive, head
/// and body written together; on shutdown each connection finishes its request first.
fn serve_rest(
    listener: tokio::net::TcpListener,
    api: Arc<RestApi>,
    id: String,
    cancel: &CancellationToken,
) -> tokio::task::JoinHandle<()> {
    let cancel = cancel.clone();
    tokio::spawn(async move {
        let connections = tokio_util::task::TaskTracker::new();
        loop {
            let (tcp, remote) = tokio::select! {
                _ = cancel.cancelled() => break,
                accepted = listener.accept() => match accepted {
                    Ok(a) => a,
                    Err(e) => {
                        tracing::warn!(api = %id, error = %e, "accept failed");
                        continue;
                    }
                },
            };
            let _ = tcp.set_nodelay(true);
            // Each connection clones its own handle per request, so requests on different
            // cores never contend for one reference count.
            let api = Arc::new(api.clone());
            let cancel = cancel.clone();
            connections.spawn(async move {
                let service = hyper::service::service_fn(move |req| {
                    let api = api.clone();
                    async move {
                        Ok::<_, std::convert::Infallible>(
                            rest::handle(&api, req, Some(remote)).await,
                        )
                    }
                });
                let conn = hyper::server::conn::http1::Builder::new()
                    .serve_connection(hyper_util::rt::TokioIo::new(tcp), service);
                tokio::pin!(conn);
                tokio::select! {
                    _ = conn.as_mut() => {}
                    _ = cancel.cancelled() => {
                        conn.as_mut().graceful_shutdown();
                        let _ = conn.await;
                    }
                }
            });
        }
        connections.close();
        connections.wait().await;
    })
}

fn access_log(state_dir: &Path, id: &str, echo: bool) -> Result<AccessLogSink, AppError> {
    let log_path = state_dir
        .join("logs")
        .join("apis")
        .join(format!("{id}.log"));
    AccessLogSink::open(&log_path, echo).map_err(|e| AppError::Usage(e.to_string()))
}

/// How REST APIs are served: their stage caches, the access keys of IAM-authorized
/// methods, and where their AWS integrations send requests.
pub(crate) struct RestServing<'a> {
    pub(crate) cache: &'a CacheOptions,
    pub(crate) access_keys: &'a [(String, String)],
    pub(crate) aws: Arc<rest::aws::AwsSettings>,
}

/// Binds and serves every HTTP API and REST API of the template. HTTP APIs are served on
/// `home`, the runtime's function thread: every request they take invokes a function or
/// proxies, so the whole round trip stays on one thread. REST APIs stay on the caller's
/// runtime, whose workers share the load of their cache hits.
pub(crate) async fn start(
    template: Option<&Template>,
    invoker: Arc<dyn Invoke>,
    home: &tokio::runtime::Handle,
    state_dir: &Path,
    access_log_stdout: bool,
    serving: RestServing<'_>,
    cancel: &CancellationToken,
) -> Result<HttpApis, AppError> {
    let RestServing {
        cache,
        access_keys,
        aws,
    } = serving;
    let mut out = HttpApis {
        entries: BTreeMap::new(),
        handles: Vec::new(),
        apis: BTreeMap::new(),
        registry: Arc::new(RestRegistry::default()),
        warnings: Vec::new(),
    };
    let Some(template) = template else {
        return Ok(out);
    };
    let specs = gw::from_template(template).map_err(|e| AppError::Usage(e.to_string()))?;
    for spec in specs {
        let id = spec.logical_id.clone();
        let sink = access_log(state_dir, &id, access_log_stdout)?;
        let stages: Vec<String> = spec.stages.iter().map(|s| s.name.clone()).collect();
        let api = HttpApi::new(
            spec,
            invoker.clone(),
            GatewayOptions {
                access_log: Some(sink),
                ..GatewayOptions::default()
            },
        )
        .map_err(|e| AppError::Usage(e.to_string()))?;
        let (listener, base) = bind("HTTP API", &id).await?;
        let stage_urls: BTreeMap<String, String> = stages
            .iter()
            .map(|s| {
                let url = if s == gw::consts::DEFAULT_STAGE {
                    base.clone()
                } else {
                    format!("{base}/{s}")
                };
                (s.clone(), url)
            })
            .collect();
        let url = stage_urls
            .get(gw::consts::DEFAULT_STAGE)
            .or_else(|| stage_urls.values().next())
            .cloned()
            .unwrap_or_else(|| base.clone());
        out.entries.insert(
            id.clone(),
            serde_json::json!({"kind": "http", "url": url, "stages": stage_urls}),
        );
        out.handles
            .push(serve(home, listener, gw::router(api.clone()), id, cancel));
        out.apis.insert(api.spec().logical_id, api);
    }

    // REST APIs: every stage under its own path on the API's listener.
    let rest_template =
        rest::from_template(template).map_err(|e| AppError::Usage(e.to_string()))?;
    out.warnings.extend(rest_template.notices);
    let keys = ledge_sigv4::AccessKeys::new(access_keys.iter().cloned());
    for spec in rest_template.apis {
        let id = spec.logical_id.clone();
        if spec.stages.is_empty() {
            continue;
        }
        let stages: Vec<String> = spec.stages.iter().map(|s| s.name.clone()).collect();
        let api_keys: BTreeMap<String, String> = spec
            .usage_plans
            .iter()
            .flat_map(|p| p.keys.iter())
            .map(|k| (k.id.clone(), k.value.clone()))
            .collect();
        let api_id = spec.api_id.clone();
        let api = RestApi::new(
            spec,
            invoker.clone(),
            RestOptions {
                access_log: Some(access_log(state_dir, &id, access_log_stdout)?),
                log_every_stage: access_log_stdout,
                cache: cache.backend(),
                access_keys: keys.clone(),
                aws: aws.clone(),
                ..RestOptions::default()
            },
        )
        .map_err(|e| AppError::Usage(e.to_string()))?;
        out.warnings.extend(api.warnings());
        let (listener, base) = bind("REST API", &id).await?;
        let stage_urls: BTreeMap<String, String> = stages
            .iter()
            .map(|s| (s.clone(), format!("{base}/{s}")))
            .collect();
        let url = stage_urls
            .get(&stages[0])
            .cloned()
            .unwrap_or_else(|| base.clone());
        out.entries.insert(
            id.clone(),
            serde_json::json!({"kind": "rest", "id": api_id, "url": url, "stages": stage_urls, "api_keys": api_keys}),
        );
        out.handles
            .push(serve_rest(listener, api.clone(), id, cancel));
        out.registry.insert(api);
    }
    Ok(out)
}
