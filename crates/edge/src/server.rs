//! Listeners and the [`Edge`] handle: one loopback listener per distribution (POP chosen per
//! viewer) and one per (distribution, POP); invalidations, reports and redeploys.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http_body_util::BodyExt;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::engine::{self, Dist, ViewerRequest};
use crate::geo::GeoPoint;
use crate::invalidation::{self, Invalidation, InvalidationStatus};
use crate::report::EdgeReport;
use crate::spec::{DistributionInfo, DistributionSpec};
use crate::{EdgeConfig, EdgeError};

struct Running {
    dist: Arc<Dist>,
    info: DistributionInfo,
    cancel: CancellationToken,
}

struct Inner {
    cfg: Arc<EdgeConfig>,
    client: reqwest::Client,
    running: Mutex<Vec<Running>>,
    invalidations: Mutex<BTreeMap<String, Vec<Invalidation>>>,
    cancel: CancellationToken,
}

/// The running edge. Cheap to clone.
#[derive(Clone)]
pub struct Edge {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Edge {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Edge")
            .field("distributions", &self.distributions())
            .finish()
    }
}

/// Binds every listener and serves until `cancel` fires.
pub async fn start(
    specs: Vec<DistributionSpec>,
    config: EdgeConfig,
    cancel: CancellationToken,
) -> Result<Edge, EdgeError> {
    if config.pops.is_empty() {
        return Err(EdgeError::Config(
            "at least one edge location is required".into(),
        ));
    }
    if config.regions.is_empty() {
        return Err(EdgeError::Config(
            "at least one regional edge cache is required".into(),
        ));
    }
    let edge = Edge {
        inner: Arc::new(Inner {
            cfg: Arc::new(config),
            client: crate::origin::client(),
            running: Mutex::new(Vec::new()),
            invalidations: Mutex::new(BTreeMap::new()),
            cancel,
        }),
    };
    for spec in specs {
        let r = edge.launch(spec).await?;
        edge.lock().push(r);
    }
    Ok(edge)
}

async fn bind(cfg: &EdgeConfig, what: &str) -> Result<TcpListener, EdgeError> {
    TcpListener::bind(SocketAddr::new(cfg.bind, 0))
        .await
        .map_err(|source| EdgeError::Bind {
            what: what.to_owned(),
            source,
        })
}

/// Which POP a listener serves: a fixed one, or chosen per viewer.
#[derive(Clone, Copy)]
enum Entrance {
    Main,
    Pop(usize),
}

fn serve(
    listener: TcpListener,
    inner: Arc<Inner>,
    dist: Arc<Dist>,
    entrance: Entrance,
    cancel: CancellationToken,
) {
    tokio::spawn(async move {
        loop {
            let (stream, peer) = tokio::select! {
                _ = cancel.cancelled() => break,
                accepted = listener.accept() => match accepted {
                    Ok(a) => a,
                    Err(_) => continue,
                },
            };
            let _ = stream.set_nodelay(true);
            // One handle per connection: each request clones this connection's own
            // reference count, never the one every connection on both cores shares.
            let handle = Arc::new(ConnHandle {
                inner: Arc::clone(&inner),
                dist: Arc::clone(&dist),
            });
            let cancel = cancel.clone();
            tokio::spawn(async move {
                let svc = service_fn(move |req: http::Request<hyper::body::Incoming>| {
                    let handle = Arc::clone(&handle);
                    async move {
                        Ok::<_, std::convert::Infallible>(
                            on_request(&handle, entrance, peer, req).await,
                        )
                    }
                });
                // Keep-alive; the head and a whole cached body leave in one writev without
                // copying the body (hyper's queue strategy, its default on TCP). Not
                // `pipeline_flush`: it switches hyper to copying every body into its
                // buffer (a 100 KiB hit became one 100 KiB memcpy and `send`).
                let conn = hyper::server::conn::http1::Builder::new()
                    .keep_alive(true)
                    .serve_connection(TokioIo::new(stream), svc);
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
    });
}

/// What a connection's requests need, cloned once per connection.
struct ConnHandle {
    inner: Arc<Inner>,
    dist: Arc<Dist>,
}

async fn on_request(
    handle: &ConnHandle,
    entrance: Entrance,
    peer: SocketAddr,
    req: http::Request<hyper::body::Incoming>,
) -> http::Response<engine::Body> {
    let (inner, dist) = (&handle.inner, &handle.dist);
    let (parts, body) = req.into_parts();
    let body: Bytes = if hyper::body::Body::is_end_stream(&body) {
        Bytes::new()
    } else {
        body.collect()
            .await
            .map(|c| c.to_bytes())
            .unwrap_or_default()
    };
    let cfg = &inner.cfg;
    let (pop, at): (usize, GeoPoint) = match entrance {
        Entrance::Pop(i) => {
            // A viewer at a POP's own listener sits at that POP unless it says otherwise.
            let at = parts
                .headers
                .get(crate::consts::X_LEDGE_VIEWER)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| engine::locate(cfg, v))
                .map_or(cfg.pops[i].at, |(_, at)| at);
            (i, at)
        }
        Entrance::Main => engine::choose_pop(cfg, &parts.headers, peer.ip()),
    };
    let viewer = ViewerRequest {
        method: parts.method,
        path: parts.uri.path().to_owned(),
        query: parts.uri.query().map(str::to_owned),
        headers: parts.headers,
        body,
        client_ip: peer.ip(),
        client_port: peer.port(),
    };
    engine::handle(cfg, &inner.client, dist, pop, at, viewer).await
}

impl Edge {
    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Running>> {
        self.inner.running.lock().unwrap_or_else(|e| e.into_inner())
    }

    async fn launch(&self, spec: DistributionSpec) -> Result<Running, EdgeError> {
        let cfg = &self.inner.cfg;
        let cancel = self.inner.cancel.child_token();
        let main = bind(cfg, &spec.logical_id).await?;
        let url = format!(
            "http://{}",
            main.local_addr().map_err(|source| EdgeError::Bind {
                what: spec.logical_id.clone(),
                source
            })?
        );
        let mut pops = Vec::new();
        let mut listeners = Vec::new();
        for (i, p) in cfg.pops.iter().enumerate() {
            let l = bind(cfg, &format!("{} at {}", spec.logical_id, p.code)).await?;
            let addr = l.local_addr().map_err(|source| EdgeError::Bind {
                what: p.code.clone(),
                source,
            })?;
            pops.push((p.code.clone(), format!("http://{addr}")));
            listeners.push((i, l));
        }
        let info = DistributionInfo {
            id: spec.id.clone(),
            logical_id: spec.logical_id.clone(),
            domain_name: spec.domain_name.clone(),
            url,
            pops,
        };
        if let Some(store) = &cfg.invalidation_store {
            let history = store.load(&spec.id);
            if !history.is_empty() {
                self.inner
                    .invalidations
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .insert(spec.id.clone(), history);
            }
        }
        let dist = Dist::new(spec, cfg);
        serve(
            main,
            Arc::clone(&self.inner),
            Arc::clone(&dist),
            Entrance::Main,
            cancel.clone(),
        );
        for (i, l) in listeners {
            serve(
                l,
                Arc::clone(&self.inner),
                Arc::clone(&dist),
                Entrance::Pop(i),
                cancel.clone(),
            );
        }
        tracing::info!(distribution = %info.logical_id, url = %info.url, "distribution serving");
        Ok(Running { dist, info, cancel })
    }

    /// Every distribution with its listeners.
    pub fn distributions(&self) -> Vec<DistributionInfo> {
        self.lock().iter().map(|r| r.info.clone()).collect()
    }

    fn find(&self, id: &str) -> Result<(Arc<Dist>, DistributionInfo), EdgeError> {
        self.lock()
            .iter()
            .find(|r| r.info.id == id || r.info.logical_id == id)
            .map(|r| (Arc::clone(&r.dist), r.info.clone()))
            .ok_or_else(|| EdgeError::NoSuchDistribution(id.to_owned()))
    }

    /// CreateInvalidation: removes every cached object the paths name from every tier, at
    /// once, and records the batch (`InProgress`, then `Completed`). `dist` is the
    /// distribution id or its logical id. Returns the record as CreateInvalidation answers it.
    pub fn invalidate(
        &self,
        dist: &str,
        paths: &[String],
        caller_reference: Option<String>,
    ) -> Result<Invalidation, EdgeError> {
        let (d, info) = self.find(dist)?;
        let matchers = invalidation::compile(paths)?;
        let mut inv = Invalidation {
            id: invalidation::new_id('I'),
            distribution_id: info.id.clone(),
            status: InvalidationStatus::InProgress,
            create_time: self.inner.cfg.clock.now(),
            paths: paths.to_vec(),
            caller_reference: caller_reference
                .unwrap_or_else(|| format!("ledge-{}", invalidation::new_id('C'))),
            objects_removed: 0,
        };
        if let Some(existing) = self
            .list_invalidations(&info.id)?
            .into_iter()
            .find(|i| i.caller_reference == inv.caller_reference)
        {
            // CloudFront: the same caller reference returns the earlier batch.
            return Ok(existing);
        }
        let store = self.inner.cfg.invalidation_store.clone();
        if let Some(s) = &store {
            s.save(&inv);
        }
        let created = inv.clone();
        inv.objects_removed = d.all_tiers().map(|t| t.store.invalidate(&matchers)).sum();
        inv.status = InvalidationStatus::Completed;
        if let Some(s) = &store {
            s.save(&inv);
        }
        tracing::info!(distribution = %info.logical_id, invalidation = %inv.id, removed = inv.objects_removed, "invalidation completed");
        self.inner
            .invalidations
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(info.id)
            .or_default()
            .push(inv);
        Ok(Invalidation {
            objects_removed: 0,
            ..created
        })
    }

    /// GetInvalidation.
    pub fn get_invalidation(&self, dist: &str, id: &str) -> Result<Invalidation, EdgeError> {
        let (_, info) = self.find(dist)?;
        self.list_invalidations(&info.id)?
            .into_iter()
            .find(|i| i.id == id)
            .ok_or_else(|| EdgeError::NoSuchInvalidation {
                distribution: info.id,
                invalidation: id.to_owned(),
            })
    }

    /// ListInvalidations, newest first.
    pub fn list_invalidations(&self, dist: &str) -> Result<Vec<Invalidation>, EdgeError> {
        let (_, info) = self.find(dist)?;
        let mut list = self
            .inner
            .invalidations
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&info.id)
            .cloned()
            .unwrap_or_default();
        list.sort_by_key(|i| std::cmp::Reverse(i.create_time));
        Ok(list)
    }

    /// Per-POP figures for `ledge edge report`.
    pub fn report(&self, dist: &str) -> Result<EdgeReport, EdgeError> {
        let (d, info) = self.find(dist)?;
        let cfg = &self.inner.cfg;
        Ok(EdgeReport {
            distribution_id: info.id,
            logical_id: info.logical_id,
            latency_model_enabled: cfg.latency.enabled,
            pops: cfg
                .pops
                .iter()
                .zip(&d.counters)
                .map(|(p, c)| c.snapshot(&p.id))
                .collect(),
        })
    }

    /// Applies a new set of distributions: changed ones keep their listeners and lose their
    /// cached objects, new ones get listeners, missing ones stop.
    pub async fn redeploy(&self, specs: Vec<DistributionSpec>) -> Result<(), EdgeError> {
        let mut fresh = Vec::new();
        {
            let mut running = self.lock();
            running.retain(|r| {
                let keep = specs.iter().any(|s| s.logical_id == r.info.logical_id);
                if !keep {
                    r.cancel.cancel();
                }
                keep
            });
            for spec in specs {
                match running
                    .iter()
                    .find(|r| r.info.logical_id == spec.logical_id)
                {
                    Some(r) => {
                        if *r.dist.spec() != spec {
                            *r.dist.spec.write().unwrap_or_else(|e| e.into_inner()) =
                                Arc::new(spec);
                            for t in r.dist.all_tiers() {
                                t.store.clear();
                            }
                        }
                    }
                    None => fresh.push(spec),
                }
            }
        }
        for spec in fresh {
            let r = self.launch(spec).await?;
            self.lock().push(r);
        }
        Ok(())
    }
}
