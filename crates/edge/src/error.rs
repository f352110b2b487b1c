//! The edge's one error type. Request-time failures are HTTP answers (`Error from
//! cloudfront`), not errors: this enum covers deploying distributions and binding listeners.

/// Why distributions could not be parsed, started or changed.
#[derive(Debug, thiserror::Error)]
pub enum EdgeError {
    /// A property of a CloudFront resource is wrong; the user's template is at fault.
    #[error("{resource}: {property}: {message}")]
    Spec {
        resource: String,
        property: String,
        message: String,
    },
    /// A listener could not be bound.
    #[error("cannot bind a listener for {what}: {source}")]
    Bind {
        what: String,
        source: std::io::Error,
    },
    /// No distribution has this id (or logical id).
    #[error("no distribution {0}")]
    NoSuchDistribution(String),
    /// No invalidation has this id.
    #[error("no invalidation {invalidation} on distribution {distribution}")]
    NoSuchInvalidation {
        distribution: String,
        invalidation: String,
    },
    /// An invalidation batch is malformed (CloudFront's `InvalidArgument`).
    #[error("invalid invalidation batch: {0}")]
    InvalidArgument(String),
    /// The configuration given by the app is wrong (`--bucket`, POP list, viewer map).
    #[error("edge configuration: {0}")]
    Config(String),
}

impl EdgeError {
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
