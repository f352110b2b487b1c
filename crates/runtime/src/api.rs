//! The Runtime API (`2018-06-01`) that one environment's runtime talks to.
//!
//! Every environment gets its own listener on loopback, so the address in
//! `AWS_LAMBDA_RUNTIME_API` leads to that environment's events and no other.

use std::sync::{Arc, Mutex};

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::Response;
use axum::routing::{get, post};
use axum::Router;
use bytes::Bytes;
use http_body_util::BodyExt;
use tokio::sync::{mpsc, oneshot, watch};

use crate::protocol::*;

/// An event handed to the runtime on its next `GET …/next`.
pub(crate) struct Delivery {
    pub(crate) request_id: String,
    pub(crate) payload: Bytes,
    pub(crate) deadline_ms: u64,
    pub(crate) function_arn: String,
    pub(crate) trace_id: String,
    pub(crate) client_context: Option<String>,
    pub(crate) cognito_identity: Option<String>,
    pub(crate) reply: oneshot::Sender<RuntimeReply>,
}

/// What the runtime answered for an invocation.
#[derive(Debug)]
pub(crate) enum RuntimeReply {
    Response(Bytes),
    Error { body: Bytes, error_type: String },
    TooLarge,
    BadResponseMode,
}

/// How initialisation went, as the invoker waiting on a cold start sees it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum InitSignal {
    Pending,
    /// The runtime asked for its first event.
    Ready,
    /// The runtime reported an init error (`POST /runtime/init/error`).
    Failed {
        body: Bytes,
        error_type: String,
    },
}

struct InFlight {
    request_id: String,
    reply: Option<oneshot::Sender<RuntimeReply>>,
}

/// State shared between one environment's Runtime API server and its invoker.
pub(crate) struct ApiState {
    deliveries: tokio::sync::Mutex<mpsc::Receiver<Delivery>>,
    /// A delivery taken by a held result post (see [`hold_for_next`]) for the pipelined
    /// `GET /next` behind it.
    taken: Mutex<Option<Delivery>>,
    inflight: Mutex<Option<InFlight>>,
    init: watch::Sender<InitSignal>,
    /// True while the runtime waits in `GET …/next`: the environment is ready for an
    /// event, as Lambda counts it. [`ApiState::ready`] wakes the invoker waiting for it.
    waiting: std::sync::atomic::AtomicBool,
    ready: tokio::sync::Notify,
}

impl ApiState {
    /// Waits until the runtime asks for its next event (at once when it already has).
    pub(crate) async fn wait_ready(&self) {
        let notified = self.ready.notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        if self.waiting.load(std::sync::atomic::Ordering::SeqCst) {
            return;
        }
        notified.await;
    }

    pub(crate) fn new() -> (
        Arc<Self>,
        mpsc::Sender<Delivery>,
        watch::Receiver<InitSignal>,
    ) {
        let (tx, rx) = mpsc::channel(1);
        let (init_tx, init_rx) = watch::channel(InitSignal::Pending);
        let state = Arc::new(Self {
            deliveries: tokio::sync::Mutex::new(rx),
            taken: Mutex::new(None),
            inflight: Mutex::new(None),
            init: init_tx,
            waiting: std::sync::atomic::AtomicBool::new(false),
            ready: tokio::sync::Notify::new(),
        });
        (state, tx, init_rx)
    }
}

pub(crate) fn router(state: Arc<ApiState>) -> Router {
    Router::new()
        .route(PATH_NEXT, get(next))
        .route(PATH_RESPONSE, post(response))
        .route(PATH_ERROR, post(error))
        .route(PATH_INIT_ERROR, post(init_error))
        .route(PATH_PING, get(|| async { "pong" }))
        .with_state(state)
}

fn json(status: StatusCode, body: impl Into<Body>) -> Response {
    let mut resp = Response::new(body.into());
    *resp.status_mut() = status;
    resp.headers_mut().insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    resp
}

fn accepted() -> Response {
    json(StatusCode::ACCEPTED, BODY_ACCEPTED)
}

async fn next(State(st): State<Arc<ApiState>>) -> Response {
    if st.init.borrow().clone() == InitSignal::Pending {
        st.init.send_replace(InitSignal::Ready);
    }
    if st.inflight.lock().map(|g| g.is_some()).unwrap_or(false) {
        return json(
            StatusCode::FORBIDDEN,
            invalid_state_transition("InvocationNext", "InvocationNext"),
        );
    }
    let taken = st.taken.lock().ok().and_then(|mut t| t.take());
    let delivery = match taken {
        Some(d) => Some(d),
        None => take_delivery(&st).await,
    };
    let Some(d) = delivery else {
        // The environment is being torn down: tell the runtime to exit.
        return json(StatusCode::INTERNAL_SERVER_ERROR, BODY_INTERNAL);
    };
    if let Ok(mut g) = st.inflight.lock() {
        *g = Some(InFlight {
            request_id: d.request_id.clone(),
            reply: Some(d.reply),
        });
    }
    let mut resp = Response::new(Body::from(d.payload));
    let h = resp.headers_mut();
    h.insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    let mut put = |name: &'static str, value: &str| {
        if let Ok(v) = HeaderValue::from_str(value) {
            h.insert(name, v);
        }
    };
    put(HDR_REQUEST_ID, &d.request_id);
    put(HDR_DEADLINE_MS, &d.deadline_ms.to_string());
    put(HDR_FUNCTION_ARN, &d.function_arn);
    put(HDR_TRACE_ID, &d.trace_id);
    if let Some(cc) = d.client_context.as_deref() {
        put(HDR_CLIENT_CONTEXT, cc);
    }
    if let Some(ci) = d.cognito_identity.as_deref() {
        put(HDR_COGNITO_IDENTITY, ci);
    }
    resp
}

/// Waits for the next event, counting the environment ready meanwhile (Lambda's
/// readiness is a runtime waiting in `next`).
async fn take_delivery(st: &ApiState) -> Option<Delivery> {
    let mut rx = st.deliveries.lock().await;
    st.waiting.store(true, std::sync::atomic::Ordering::SeqCst);
    st.ready.notify_waiters();
    let d = rx.recv().await;
    st.waiting.store(false, std::sync::atomic::Ordering::SeqCst);
    d
}

/// A result or error post that says a `GET /next` follows it on the connection
/// ([`HDR_NEXT_PIPELINED`], sent by ledge's Python bootstrap) is answered once the next
/// event is here: the environment counts as waiting in `next` from now on, the event is
/// set aside for that `GET /next`, and the two answers leave in one write (hyper's
/// pipeline flush). The runtime, asleep until then either way, wakes once per invocation
/// instead of twice. The invocation itself completed when the post arrived.
async fn hold_for_next(st: &ApiState, headers: &HeaderMap) {
    if !headers.contains_key(HDR_NEXT_PIPELINED) {
        return;
    }
    if let Some(d) = take_delivery(st).await {
        if let Ok(mut t) = st.taken.lock() {
            *t = Some(d);
        }
    }
}

/// A refused runtime call: status and body.
type Refusal = (StatusCode, String);

/// Takes the in-flight invocation if `id` names it; otherwise the response to send back.
fn claim(st: &ApiState, id: &str, to: &str) -> Result<oneshot::Sender<RuntimeReply>, Refusal> {
    let Ok(mut g) = st.inflight.lock() else {
        return Err((StatusCode::INTERNAL_SERVER_ERROR, BODY_INTERNAL.into()));
    };
    match g.as_mut() {
        None => Err((
            StatusCode::FORBIDDEN,
            invalid_state_transition("InvocationNext", to),
        )),
        Some(f) if f.request_id != id => {
            Err((StatusCode::BAD_REQUEST, BODY_INVALID_REQUEST_ID.into()))
        }
        Some(_) => match g.take().and_then(|f| f.reply) {
            Some(reply) => Ok(reply),
            None => Err((StatusCode::BAD_REQUEST, BODY_INVALID_REQUEST_ID.into())),
        },
    }
}

/// Reads a runtime's body up to the response limit; `None` when it is larger.
async fn read_limited(headers: &HeaderMap, body: Body) -> Result<Option<Bytes>, Response> {
    let declared = headers
        .get(http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > MAX_RESPONSE_BYTES as u64) {
        // Read and drop the body so that the runtime sees the 413 rather than a reset.
        let mut body = body;
        while let Some(frame) = body.frame().await {
            if frame.is_err() {
                break;
            }
        }
        return Ok(None);
    }
    match http_body_util::Limited::new(body, MAX_RESPONSE_BYTES)
        .collect()
        .await
    {
        Ok(c) => Ok(Some(c.to_bytes())),
        Err(e) if e.is::<http_body_util::LengthLimitError>() => Ok(None),
        Err(_) => Err(json(
            StatusCode::BAD_REQUEST,
            r#"{"errorMessage":"Truncated HTTP request","errorType":"TruncatedHTTPRequest"}"#,
        )),
    }
}

async fn response(
    State(st): State<Arc<ApiState>>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let reply = match claim(&st, &id, "InvocationResponse") {
        Ok(r) => r,
        Err((status, body)) => return json(status, body),
    };
    if let Some(mode) = headers.get(HDR_RESPONSE_MODE) {
        if mode.as_bytes() != b"streaming" && mode.as_bytes() != b"buffered" {
            let _ = reply.send(RuntimeReply::BadResponseMode);
            return json(StatusCode::BAD_REQUEST, BODY_BAD_RESPONSE_MODE);
        }
    }
    match read_limited(&headers, body).await {
        Ok(Some(bytes)) => {
            let _ = reply.send(RuntimeReply::Response(bytes));
            hold_for_next(&st, &headers).await;
            accepted()
        }
        Ok(None) => {
            let _ = reply.send(RuntimeReply::TooLarge);
            json(StatusCode::PAYLOAD_TOO_LARGE, BODY_TOO_LARGE)
        }
        Err(resp) => {
            let _ = reply.send(RuntimeReply::TooLarge);
            resp
        }
    }
}

fn error_type(headers: &HeaderMap) -> String {
    headers
        .get(HDR_ERROR_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("Unhandled")
        .to_owned()
}

async fn error(
    State(st): State<Arc<ApiState>>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let reply = match claim(&st, &id, "InvocationErrorResponse") {
        Ok(r) => r,
        Err((status, body)) => return json(status, body),
    };
    match read_limited(&headers, body).await {
        Ok(Some(body)) => {
            let _ = reply.send(RuntimeReply::Error {
                body,
                error_type: error_type(&headers),
            });
            hold_for_next(&st, &headers).await;
            accepted()
        }
        Ok(None) => {
            let _ = reply.send(RuntimeReply::TooLarge);
            json(StatusCode::PAYLOAD_TOO_LARGE, BODY_TOO_LARGE)
        }
        Err(resp) => resp,
    }
}

async fn init_error(State(st): State<Arc<ApiState>>, headers: HeaderMap, body: Body) -> Response {
    if st.init.borrow().clone() != InitSignal::Pending {
        return json(
            StatusCode::FORBIDDEN,
            invalid_state_transition("InvocationNext", "InitError"),
        );
    }
    let body = match read_limited(&headers, body).await {
        Ok(Some(b)) => b,
        Ok(None) => return json(StatusCode::PAYLOAD_TOO_LARGE, BODY_TOO_LARGE),
        Err(resp) => return resp,
    };
    st.init.send_replace(InitSignal::Failed {
        body,
        error_type: error_type(&headers),
    });
    accepted()
}
