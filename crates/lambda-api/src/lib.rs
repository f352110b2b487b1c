//! The AWS Lambda REST API on ledge's `aws_endpoint`.
//!
//! It owns the wire format boto3 and the AWS CLI speak (`rest-json`, AWS's error headers
//! and bodies, `X-Amz-*` invoke headers, SigV4 when authentication is on), the control
//! plane (functions, versions, aliases, layers, concurrency, event-invoke configs, account
//! settings) as calls on [`ledge_runtime::Runtime`] and [`ledge_store::Store`], and the
//! durable asynchronous-invocation queue. It never starts processes or knows how
//! functions run: invocations go through [`ledge_model::Invoke`].

pub mod auth;
mod errors;
mod functions;
mod input;
mod invoke;
mod layers;
mod protocol;
pub mod queue;
mod settings;
mod shapes;

use std::collections::HashMap;
use std::sync::Arc;

use axum::body::Body as AxumBody;
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::Router;
use ledge_model::{FunctionName, Invoke};
use ledge_runtime::Runtime;

pub use auth::AccessKeys;
pub use errors::ApiError;
pub use queue::{AsyncQueue, QueueConfig};
pub use settings::apply_template_event_config;

/// What the Lambda API needs from the platform.
#[derive(Clone)]
pub struct LambdaApi {
    pub invoker: Arc<dyn Invoke>,
    pub runtime: Arc<Runtime>,
    /// Other names a function answers to (a template's logical ids).
    /// Updated when the platform reloads its template.
    pub aliases: Arc<std::sync::RwLock<HashMap<String, FunctionName>>>,
    pub region: String,
    pub account_id: String,
    /// Where `Event` invocations go.
    pub queue: AsyncQueue,
    /// `Some`: every request must carry a valid SigV4 signature by one of these keys.
    pub auth: Option<Arc<AccessKeys>>,
}

impl LambdaApi {
    /// Resolves `FunctionName` as Lambda accepts it (a name, `name:qualifier`, a full or
    /// partial ARN, or a template logical id) together with a `Qualifier` parameter.
    pub(crate) fn function_ref(
        &self,
        raw: &str,
        query_qualifier: Option<&str>,
    ) -> Result<(FunctionName, Option<String>), ApiError> {
        let (name, derived) = invoke::parse_function_ref(raw).ok_or_else(|| {
            input::constraint(
                raw,
                "functionName",
                &format!(
                    "Member must satisfy regular expression pattern: {}",
                    protocol::FUNCTION_NAME_PATTERN
                ),
            )
        })?;
        let qualifier = match (derived, query_qualifier.filter(|q| !q.is_empty())) {
            (Some(a), Some(b)) if a != b => return Err(ApiError::invalid_parameter(
                "The derived qualifier from the function name does not match the specified qualifier."
                    .into(),
            )),
            (a, b) => a.or(b.map(str::to_owned)),
        };
        if let Some(n) = self.aliases.read().ok().and_then(|a| a.get(&name).cloned()) {
            return Ok((n, qualifier));
        }
        if name.len() > 64 {
            return Err(input::constraint(
                raw,
                "functionName",
                "Member must have length less than or equal to 64",
            ));
        }
        let fname = name.parse::<FunctionName>().map_err(|_| {
            input::constraint(
                raw,
                "functionName",
                &format!(
                    "Member must satisfy regular expression pattern: {}",
                    protocol::FUNCTION_NAME_PATTERN
                ),
            )
        })?;
        Ok((fname, qualifier))
    }

    pub(crate) fn not_found(&self, name: &FunctionName, qualifier: &str) -> ApiError {
        ApiError::not_found(format!(
            "Function not found: arn:aws:lambda:{}:{}:function:{name}:{qualifier}",
            self.region, self.account_id
        ))
    }
}

/// A JSON response with `status`.
pub(crate) fn json_response(status: StatusCode, v: &serde_json::Value) -> Response {
    let mut resp = Response::new(AxumBody::from(v.to_string()));
    *resp.status_mut() = status;
    resp.headers_mut().insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    resp
}

pub(crate) fn no_content() -> Response {
    StatusCode::NO_CONTENT.into_response()
}

pub(crate) fn respond(r: Result<Response, ApiError>) -> Response {
    r.unwrap_or_else(IntoResponse::into_response)
}

/// `http://host:port` as the client addressed us, for URLs handed back (code locations).
pub(crate) fn base_url(headers: &HeaderMap) -> String {
    let host = headers
        .get(http::header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("127.0.0.1");
    format!("http://{host}")
}

/// Gives every response an `x-amzn-RequestId` (botocore reports it as `RequestId`).
async fn request_id(req: Request, next: Next) -> Response {
    let mut resp = next.run(req).await;
    if !resp.headers().contains_key(errors::HDR_REQUEST_ID) {
        if let Ok(v) = HeaderValue::from_str(&uuid::Uuid::new_v4().to_string()) {
            resp.headers_mut().insert(errors::HDR_REQUEST_ID, v);
        }
    }
    resp
}

async fn fallback(req: Request) -> Response {
    ApiError::unknown_operation(req.method().as_str(), req.uri().path()).into_response()
}

/// The Lambda API routes, ready to merge into the AWS endpoint.
pub fn router(api: LambdaApi) -> Router {
    let api = Arc::new(api);
    let fns = "/2015-03-31/functions";
    Router::new()
        .route(fns, post(functions::create).get(functions::list))
        .route(&format!("{fns}/"), get(functions::list))
        .route(
            &format!("{fns}/{{function}}"),
            get(functions::get).delete(functions::delete),
        )
        .route(
            &format!("{fns}/{{function}}/configuration"),
            get(functions::get_configuration).put(functions::update_configuration),
        )
        .route(
            &format!("{fns}/{{function}}/code"),
            put(functions::update_code),
        )
        .route(
            &format!("{fns}/{{function}}/versions"),
            post(functions::publish_version).get(functions::list_versions),
        )
        .route(
            &format!("{fns}/{{function}}/aliases"),
            post(functions::create_alias).get(functions::list_aliases),
        )
        .route(
            &format!("{fns}/{{function}}/aliases/{{alias}}"),
            get(functions::get_alias)
                .put(functions::update_alias)
                .delete(functions::delete_alias),
        )
        .route(
            &format!("{fns}/{{function}}/invocations"),
            post(invoke::invoke),
        )
        .route(
            "/2017-10-31/functions/{function}/concurrency",
            put(settings::put_concurrency).delete(settings::delete_concurrency),
        )
        .route(
            "/2019-09-30/functions/{function}/concurrency",
            get(settings::get_concurrency),
        )
        .route(
            "/2019-09-25/functions/{function}/event-invoke-config",
            put(settings::put_event_config)
                .post(settings::update_event_config)
                .get(settings::get_event_config)
                .delete(settings::delete_event_config),
        )
        .route(
            "/2019-09-25/functions/{function}/event-invoke-config/list",
            get(settings::list_event_configs),
        )
        .route("/2016-08-19/account-settings", get(settings::account))
        .route("/2016-08-19/account-settings/", get(settings::account))
        .route("/2018-10-31/layers", get(layers::list_layers))
        .route("/2018-10-31/layers/", get(layers::list_layers))
        .route(
            "/2018-10-31/layers/{layer}/versions",
            post(layers::publish).get(layers::list_versions),
        )
        .route(
            "/2018-10-31/layers/{layer}/versions/{version}",
            get(layers::get).delete(layers::delete),
        )
        .route("/ledge/artifacts/{file}", get(layers::artifact))
        .fallback(fallback)
        // Bodies are limited by the operations themselves, with AWS's messages.
        .layer(DefaultBodyLimit::max(128 * 1024 * 1024))
        .layer(axum::middleware::from_fn_with_state(
            api.clone(),
            auth_layer,
        ))
        .layer(axum::middleware::from_fn(request_id))
        .with_state(api)
}

async fn auth_layer(State(api): State<Arc<LambdaApi>>, req: Request, next: Next) -> Response {
    let Some(keys) = api.auth.clone() else {
        return next.run(req).await;
    };
    match auth::verify_request(&keys, req, std::time::SystemTime::now()).await {
        Ok(req) => next.run(req).await,
        Err(e) => e.into_response(),
    }
}
