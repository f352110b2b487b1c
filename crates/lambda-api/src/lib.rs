//! The AWS Lambda REST API on ledge's `aws_endpoint`.
//!
//! It owns the wire format boto3 and the AWS CLI speak (`rest-json`, AWS's error headers
//! and bodies, `X-Amz-*` invoke headers) and turns requests into calls on
//! [`ledge_model::Invoke`]. It never starts processes or knows how functions run.
//!
//! Today it serves `Invoke`; the control plane (create, update, versions, aliases,
//! layers) joins it with the Lambda API issue.

mod errors;
mod invoke;

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::DefaultBodyLimit;
use axum::routing::post;
use axum::Router;
use ledge_model::{FunctionName, Invoke};

pub use errors::ApiError;

/// What the Lambda API needs from the platform.
#[derive(Clone)]
pub struct LambdaApi {
    pub invoker: Arc<dyn Invoke>,
    /// Other names a function answers to (a template's logical ids).
    /// Updated when the platform reloads its template.
    pub aliases: Arc<std::sync::RwLock<HashMap<String, FunctionName>>>,
    pub region: String,
    pub account_id: String,
}

/// The Lambda API routes, ready to merge into the AWS endpoint.
pub fn router(api: LambdaApi) -> Router {
    Router::new()
        .route(
            "/2015-03-31/functions/{function}/invocations",
            post(invoke::invoke),
        )
        // Bodies are limited by the operations themselves, with AWS's messages.
        .layer(DefaultBodyLimit::max(64 * 1024 * 1024))
        .with_state(Arc::new(api))
}
