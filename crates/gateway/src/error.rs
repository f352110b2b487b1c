//! The gateway's one error type. Request-time failures are HTTP answers, not errors: this
//! enum covers turning a template into APIs and compiling a deployment.

/// Why an HTTP API spec could not be built or deployed.
#[derive(Debug, thiserror::Error)]
pub enum GatewayError {
    /// A property of an API resource is wrong; the user's template is at fault.
    #[error("{resource}: {property}: {message}")]
    Spec {
        resource: String,
        property: String,
        message: String,
    },
    /// A route key cannot be parsed (`GET /pets/{id}`, `ANY /{proxy+}`, `$default`).
    #[error("{api}: invalid route key {key:?}: {message}")]
    RouteKey {
        api: String,
        key: String,
        message: String,
    },
    /// Two routes of one API have the same key.
    #[error("{api}: route {key:?} is defined twice")]
    DuplicateRoute { api: String, key: String },
    /// A route names an authorizer the API does not define.
    #[error(
        "{api}: route {route:?} uses authorizer {authorizer:?}, which the API does not define"
    )]
    UnknownAuthorizer {
        api: String,
        route: String,
        authorizer: String,
    },
    /// The access log file cannot be opened.
    #[error("cannot open the access log {path}: {source}")]
    AccessLog {
        path: String,
        source: std::io::Error,
    },
}

impl GatewayError {
    pub(crate) fn spec(
        resource: impl Into<String>,
        property: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        Self::Spec {
            resource: resource.into(),
            property: property.into(),
            message: message.into(),
        }
    }
}
