//! HTTP APIs of the template, served: one loopback listener per API (TCP_NODELAY on every
//! accepted socket, graceful shutdown with the platform's token), and their ready-file
//! entries. The behaviour lives in `ledge-gateway`; this file only binds and serves.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use axum::serve::ListenerExt;
use ledge_gateway::http::{self as gw, AccessLogSink, GatewayOptions, HttpApi};
use ledge_model::Invoke;
use ledge_template::Template;
use tokio_util::sync::CancellationToken;

use crate::AppError;

/// The served APIs: ready-file entries, server tasks, and handles for redeploying.
pub(crate) struct HttpApis {
    /// `{"kind": "http", "url": …, "stages": {name: url}}` by logical id.
    pub(crate) entries: BTreeMap<String, serde_json::Value>,
    pub(crate) handles: Vec<tokio::task::JoinHandle<()>>,
    /// By logical id: call [`HttpApis::redeploy`] with a reloaded template.
    pub(crate) apis: BTreeMap<String, Arc<HttpApi>>,
}

impl HttpApis {
    /// autoDeploy: re-reads every API of `template` and swaps each deployment in. An API
    /// whose new spec fails keeps its last good deployment; the errors are returned as
    /// lines to show. APIs added to or removed from the template need a restart (their
    /// listeners are bound at start).
    pub(crate) fn redeploy(&self, template: &Template) -> Vec<String> {
        let specs = match gw::from_template(template) {
            Ok(s) => s,
            Err(e) => return vec![format!("HTTP APIs not redeployed: {e}")],
        };
        let mut out = Vec::new();
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
        out
    }
}

/// Binds and serves every HTTP API of the template.
pub(crate) async fn start(
    template: Option<&Template>,
    invoker: Arc<dyn Invoke>,
    state_dir: &Path,
    access_log_stdout: bool,
    cancel: &CancellationToken,
) -> Result<HttpApis, AppError> {
    let mut out = HttpApis {
        entries: BTreeMap::new(),
        handles: Vec::new(),
        apis: BTreeMap::new(),
    };
    let Some(template) = template else {
        return Ok(out);
    };
    let specs = gw::from_template(template).map_err(|e| AppError::Usage(e.to_string()))?;
    for spec in specs {
        let id = spec.logical_id.clone();
        let log_path = state_dir
            .join("logs")
            .join("apis")
            .join(format!("{id}.log"));
        let sink = AccessLogSink::open(&log_path, access_log_stdout)
            .map_err(|e| AppError::Usage(e.to_string()))?;
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
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0))
            .await
            .map_err(|source| AppError::Io {
                what: format!("cannot bind a listener for the HTTP API {id}"),
                source,
            })?;
        let addr = listener.local_addr().map_err(|source| AppError::Io {
            what: "cannot read the listener's address".into(),
            source,
        })?;
        let base = format!("http://{addr}");
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
        let app = gw::router(api.clone()).into_make_service_with_connect_info::<SocketAddr>();
        let shutdown = cancel.clone();
        out.handles.push(tokio::spawn(async move {
            let listener = listener.tap_io(|tcp| {
                let _ = tcp.set_nodelay(true);
            });
            if let Err(e) = axum::serve(listener, app)
                .with_graceful_shutdown(shutdown.cancelled_owned())
                .await
            {
                tracing::error!(api = %id, error = %e, "HTTP API listener stopped");
            }
        }));
        out.apis.insert(api.spec().logical_id, api);
    }
    Ok(out)
}
