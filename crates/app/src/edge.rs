//! The template's CloudFront distributions, served by `ledge-edge`: origins that are APIs of
//! the template resolve to the API listeners bound just before, invalidation history goes
//! to the state store, CloudFront's invalidation calls (and ledge's edge report) join the AWS
//! endpoint, and a reloaded template redeploys the distributions. The behaviour lives in
//! `ledge-edge`; this file only wires it.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::extract::{Query, Request, State};
use axum::http::{HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use ledge_edge::{
    DistributionInfo, DistributionSpec, Edge, EdgeConfig, EdgeError, Invalidation,
    InvalidationStatus, InvalidationStore,
};
use ledge_sigv4::{AccessKeys, SigV4Error, SignedRequest};
use ledge_store::{InvalidationRecord, Store};
use ledge_template::Template;
use tokio_util::sync::CancellationToken;

use crate::AppError;

/// The SigV4 service name CloudFront calls are signed for.
pub const CLOUDFRONT_SERVICE: &str = "cloudfront";
/// ledge's own per-POP report of a distribution (`ledge edge report`), JSON.
pub const REPORT_PATH: &str = "/_ledge/edge/report";

/// What `ledge up` is asked about the edge besides `ledge.toml`.
#[derive(Debug, Clone, Default)]
pub struct EdgeOptions {
    /// `--bucket NAME=DIR`: S3 buckets served from local folders (win over `ledge.toml`).
    pub buckets: BTreeMap<String, PathBuf>,
    /// `--edge-latency`: turn the latency model on (`ledge.toml` may also).
    pub latency: bool,
}

/// Invalidation history in the state database (`invalidations` table).
pub(crate) struct StoreInvalidations {
    store: Store,
}

impl StoreInvalidations {
    pub(crate) fn new(store: Store) -> Self {
        Self { store }
    }
}

fn millis(t: SystemTime) -> i64 {
    t.duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

impl InvalidationStore for StoreInvalidations {
    // The trait is synchronous and called from request handlers: one small upsert in WAL
    // mode, done in place so InProgress is never written after Completed.
    fn save(&self, i: &Invalidation) {
        let record = InvalidationRecord {
            distribution_id: i.distribution_id.clone(),
            id: i.id.clone(),
            status: i.status.as_str().to_owned(),
            create_time_ms: millis(i.create_time),
            paths: i.paths.clone(),
            caller_reference: i.caller_reference.clone(),
            objects_removed: i.objects_removed,
        };
        if let Err(e) = self.store.put_invalidation(&record) {
            tracing::error!(invalidation = %i.id, error = %e, "cannot save an invalidation");
        }
    }

    fn load(&self, distribution_id: &str) -> Vec<Invalidation> {
        match self.store.invalidations(distribution_id) {
            Ok(rows) => rows
                .into_iter()
                .map(|r| Invalidation {
                    id: r.id,
                    distribution_id: r.distribution_id,
                    status: if r.status == InvalidationStatus::InProgress.as_str() {
                        InvalidationStatus::InProgress
                    } else {
                        InvalidationStatus::Completed
                    },
                    create_time: UNIX_EPOCH + Duration::from_millis(r.create_time_ms.max(0) as u64),
                    paths: r.paths,
                    caller_reference: r.caller_reference,
                    objects_removed: r.objects_removed,
                })
                .collect(),
            Err(e) => {
                tracing::error!(distribution = %distribution_id, error = %e, "cannot read invalidation history");
                Vec::new()
            }
        }
    }
}

/// Logical id (and REST API id) → the API's local base URL.
pub(crate) type Origins = BTreeMap<String, String>;

/// The origins the template's APIs offer, from their ready-file entries.
pub(crate) fn api_origins(entries: &BTreeMap<String, serde_json::Value>) -> Origins {
    let mut out = Origins::new();
    for (id, e) in entries {
        if let Some(url) = e["url"].as_str() {
            out.insert(id.clone(), url.to_owned());
            if let Some(api_id) = e["id"].as_str() {
                out.insert(api_id.to_owned(), url.to_owned());
            }
        }
    }
    out
}

fn parse(
    template: &Template,
    origins: &Origins,
    cfg: &EdgeConfig,
) -> Result<Vec<DistributionSpec>, EdgeError> {
    let resolve = |name: &str| -> Option<String> { origins.get(name).cloned() };
    ledge_edge::parse_distributions(template, &resolve, cfg)
}

/// A distribution the template gets wrong is the user's fault (exit 2), naming the file,
/// the resource and the property; a listener that cannot bind is the platform's.
fn edge_error(template: Option<&Path>, e: EdgeError) -> AppError {
    match (e, template) {
        (e @ EdgeError::Spec { .. }, Some(t)) => AppError::Usage(format!("{}: {e}", t.display())),
        (EdgeError::Bind { what, source }, _) => AppError::Io {
            what: format!("cannot bind a listener for {what}"),
            source,
        },
        (e, _) => AppError::Usage(e.to_string()),
    }
}

/// The running distributions and what redeploying them needs.
pub(crate) struct Distributions {
    pub(crate) edge: Edge,
    origins: Origins,
    cfg: EdgeConfig,
    /// As last deployed, to tell what a reload changed.
    deployed: Mutex<Vec<DistributionSpec>>,
    ready_path: Mutex<Option<PathBuf>>,
}

/// The ready-file entry of a distribution.
pub(crate) fn entry(d: &DistributionInfo) -> serde_json::Value {
    let pops: serde_json::Map<String, serde_json::Value> = d
        .pops
        .iter()
        .map(|(code, url)| (code.clone(), serde_json::Value::String(url.clone())))
        .collect();
    serde_json::json!({
        "id": d.id,
        "domain_name": d.domain_name,
        "url": d.url,
        "pops": pops,
    })
}

impl Distributions {
    /// Ready-file entries by logical id.
    pub(crate) fn entries(&self) -> BTreeMap<String, serde_json::Value> {
        self.edge
            .distributions()
            .iter()
            .map(|d| (d.logical_id.clone(), entry(d)))
            .collect()
    }

    /// Where to rewrite `distributions` after a reload adds or removes one.
    pub(crate) fn set_ready_path(&self, path: PathBuf) {
        if let Ok(mut p) = self.ready_path.lock() {
            *p = Some(path);
        }
    }

    /// Re-reads the template's distributions and applies them; a template whose
    /// distributions do not parse leaves the running ones as they are.
    pub(crate) async fn redeploy(&self, template: &Template) -> Vec<String> {
        let specs = match parse(template, &self.origins, &self.cfg) {
            Ok(s) => s,
            Err(e) => {
                return vec![format!(
                    "distributions not redeployed, the last good deployment keeps serving: {e}"
                )]
            }
        };
        let before = self.deployed.lock().map(|d| d.clone()).unwrap_or_default();
        let mut lines = Vec::new();
        for s in &specs {
            match before.iter().find(|b| b.logical_id == s.logical_id) {
                None => lines.push(format!("{}: distribution added", s.logical_id)),
                Some(b) if b != s => lines.push(format!(
                    "{}: distribution redeployed; its cached objects are dropped",
                    s.logical_id
                )),
                Some(_) => {}
            }
        }
        for b in &before {
            if !specs.iter().any(|s| s.logical_id == b.logical_id) {
                lines.push(format!("{}: distribution removed", b.logical_id));
            }
        }
        if lines.is_empty() {
            return lines;
        }
        if let Err(e) = self.edge.redeploy(specs.clone()).await {
            return vec![format!("distributions not redeployed: {e}")];
        }
        if let Ok(mut d) = self.deployed.lock() {
            *d = specs;
        }
        let path = self.ready_path.lock().ok().and_then(|p| p.clone());
        if let Some(path) = path {
            if let Ok(mut ready) = crate::ReadyFile::read(&path) {
                ready.distributions = self.entries();
                if let Err(e) = ready.write(&path) {
                    lines.push(format!("cannot update the ready file: {e}"));
                }
            }
        }
        lines
    }
}

/// Parses the template's distributions and serves them.
pub(crate) async fn start(
    template: Option<&Template>,
    template_path: Option<&Path>,
    origins: Origins,
    cfg: EdgeConfig,
    cancel: &CancellationToken,
) -> Result<Distributions, AppError> {
    for (name, dir) in &cfg.buckets {
        if !dir.is_dir() {
            return Err(AppError::Usage(format!(
                "bucket {name}: {} is not a folder",
                dir.display()
            )));
        }
    }
    let specs = match template {
        Some(t) => parse(t, &origins, &cfg).map_err(|e| edge_error(template_path, e))?,
        None => Vec::new(),
    };
    let edge = ledge_edge::start(specs.clone(), cfg.clone(), cancel.child_token())
        .await
        .map_err(|e| edge_error(template_path, e))?;
    Ok(Distributions {
        edge,
        origins,
        cfg,
        deployed: Mutex::new(specs),
        ready_path: Mutex::new(None),
    })
}

/// CloudFront's invalidation calls and ledge's edge report, for the AWS endpoint; with
/// `auth`, every call must be SigV4-signed for `cloudfront` by one of the keys.
pub(crate) fn management_router(edge: Edge, auth: Option<AccessKeys>) -> Router {
    let report = Router::new()
        .route(REPORT_PATH, get(report))
        .with_state(edge.clone());
    ledge_edge::management_router(edge)
        .merge(report)
        .layer(axum::middleware::from_fn_with_state(Arc::new(auth), guard))
}

#[derive(serde::Deserialize)]
struct ReportQuery {
    distribution: String,
}

async fn report(State(edge): State<Edge>, Query(q): Query<ReportQuery>) -> Response {
    match edge.report(&q.distribution) {
        Ok(r) => (
            StatusCode::OK,
            [(axum::http::header::CONTENT_TYPE, "application/json")],
            serde_json::to_string(&r).unwrap_or_default(),
        )
            .into_response(),
        Err(e) => (
            StatusCode::NOT_FOUND,
            [(axum::http::header::CONTENT_TYPE, "application/json")],
            serde_json::json!({"message": e.to_string()}).to_string(),
        )
            .into_response(),
    }
}

/// CloudFront's error document.
fn denied(code: &str, message: &str) -> Response {
    let body = format!(
        "<?xml version=\"1.0\"?>\n<ErrorResponse xmlns=\"http://cloudfront.amazonaws.com/doc/2020-05-31/\"><Error><Type>Sender</Type><Code>{code}</Code><Message>{}</Message></Error><RequestId>{}</RequestId></ErrorResponse>",
        message
            .replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;"),
        uuid_like()
    );
    let mut r = (
        StatusCode::FORBIDDEN,
        [(axum::http::header::CONTENT_TYPE, "text/xml")],
        body,
    )
        .into_response();
    if let Ok(v) = HeaderValue::from_str(code) {
        r.headers_mut().insert("x-amzn-errortype", v);
    }
    r
}

fn uuid_like() -> String {
    let n = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    format!("{:032x}", n)
}

/// SigV4 for `cloudfront`, as the API Gateway management calls check it for `apigateway`.
async fn guard(State(auth): State<Arc<Option<AccessKeys>>>, req: Request, next: Next) -> Response {
    let Some(keys) = auth.as_ref() else {
        return next.run(req).await;
    };
    let (parts, body) = req.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, 1 << 20).await else {
        return denied("InvalidArgument", "request body too large");
    };
    let signed = SignedRequest::new(&parts, parts.uri.path(), &bytes);
    let refusal = match ledge_sigv4::verify(keys, CLOUDFRONT_SERVICE, &signed, SystemTime::now()) {
        Ok(_) => {
            return next
                .run(Request::from_parts(parts, axum::body::Body::from(bytes)))
                .await
        }
        Err(e) => e,
    };
    // CloudFront's own error codes (REST-XML); the messages are SigV4's but for the
    // missing token, which XML services word their own way.
    if refusal == SigV4Error::Missing {
        return denied(
            "MissingAuthenticationToken",
            "Request is missing Authentication Token",
        );
    }
    let code = match refusal {
        SigV4Error::UnknownKey(_) => "InvalidClientTokenId",
        SigV4Error::NotSigV4
        | SigV4Error::Incomplete
        | SigV4Error::BadCredential(_)
        | SigV4Error::NoDate
        | SigV4Error::BadDate(_) => "IncompleteSignature",
        _ => "SignatureDoesNotMatch",
    };
    denied(code, &refusal.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn history_round_trips_through_the_store() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Store::open(dir.path(), "us-east-1", "123456789012").expect("store");
        let s = StoreInvalidations::new(store);
        let t = UNIX_EPOCH + Duration::from_millis(1_700_000_000_123);
        let mut inv = Invalidation {
            id: "IABC".into(),
            distribution_id: "E1".into(),
            status: InvalidationStatus::InProgress,
            create_time: t,
            paths: vec!["/a".into()],
            caller_reference: "c".into(),
            objects_removed: 0,
        };
        s.save(&inv);
        inv.status = InvalidationStatus::Completed;
        inv.objects_removed = 2;
        s.save(&inv);
        assert_eq!(s.load("E1"), vec![inv]);
    }

    #[test]
    fn origins_by_logical_id_and_rest_api_id() {
        let entries = BTreeMap::from([
            (
                "Http".to_owned(),
                serde_json::json!({"kind": "http", "url": "http://127.0.0.1:1"}),
            ),
            (
                "Rest".to_owned(),
                serde_json::json!({"kind": "rest", "id": "abc123", "url": "http://127.0.0.1:2/prod"}),
            ),
        ]);
        let o = api_origins(&entries);
        assert_eq!(o["Http"], "http://127.0.0.1:1");
        assert_eq!(o["Rest"], "http://127.0.0.1:2/prod");
        assert_eq!(o["abc123"], "http://127.0.0.1:2/prod");
    }
}
