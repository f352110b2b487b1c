//! Lambda's error responses: `x-amzn-ErrorType` plus the JSON body AWS sends.

use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

pub(crate) const HDR_ERROR_TYPE: &str = "x-amzn-errortype";
pub(crate) const HDR_REQUEST_ID: &str = "x-amzn-requestid";

/// An error as the Lambda API reports it.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    /// `Reason` for throttles.
    pub reason: Option<&'static str>,
}

impl ApiError {
    pub fn not_found(message: String) -> Self {
        Self {
            status: StatusCode::NOT_FOUND,
            code: "ResourceNotFoundException",
            message,
            reason: None,
        }
    }

    pub fn too_many_requests(reason: &'static str) -> Self {
        Self {
            status: StatusCode::TOO_MANY_REQUESTS,
            code: "TooManyRequestsException",
            message: "Rate Exceeded.".into(),
            reason: Some(reason),
        }
    }

    pub fn too_large(message: String) -> Self {
        Self {
            status: StatusCode::PAYLOAD_TOO_LARGE,
            code: "RequestEntityTooLargeException",
            message,
            reason: None,
        }
    }

    pub fn invalid_content(message: String) -> Self {
        Self {
            status: StatusCode::BAD_REQUEST,
            code: "InvalidRequestContentException",
            message,
            reason: None,
        }
    }

    pub fn invalid_parameter(message: String) -> Self {
        Self {
            status: StatusCode::BAD_REQUEST,
            code: "InvalidParameterValueException",
            message,
            reason: None,
        }
    }

    pub fn conflict(message: String) -> Self {
        Self {
            status: StatusCode::CONFLICT,
            code: "ResourceConflictException",
            message,
            reason: None,
        }
    }

    pub fn precondition(message: String) -> Self {
        Self {
            status: StatusCode::PRECONDITION_FAILED,
            code: "PreconditionFailedException",
            message,
            reason: None,
        }
    }

    /// Smithy-level validation failures AWS reports outside the operation's own errors
    /// (e.g. a layer's compatible runtime outside the enum).
    pub fn validation(message: String) -> Self {
        Self {
            status: StatusCode::BAD_REQUEST,
            code: "ValidationException",
            message,
            reason: None,
        }
    }

    /// SigV4 failures: `UnrecognizedClientException`, `InvalidSignatureException`, …
    pub fn forbidden(code: &'static str, message: String) -> Self {
        Self {
            status: StatusCode::FORBIDDEN,
            code,
            message,
            reason: None,
        }
    }

    pub fn unknown_operation(method: &str, path: &str) -> Self {
        Self {
            status: StatusCode::NOT_FOUND,
            code: "UnknownOperationException",
            message: format!("ledge's Lambda API has no operation for {method} {path}"),
            reason: None,
        }
    }

    pub fn service(message: String) -> Self {
        Self {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            code: "ServiceException",
            message,
            reason: None,
        }
    }

    /// The JSON body: `Type` and `Message` as Lambda writes them, plus lower-case
    /// `message` (some exceptions use it; botocore reads either).
    pub fn body(&self) -> String {
        let mut v = serde_json::Map::new();
        if let Some(r) = self.reason {
            v.insert("Reason".into(), r.into());
        }
        v.insert("Type".into(), "User".into());
        v.insert("Message".into(), self.message.clone().into());
        v.insert("message".into(), self.message.clone().into());
        serde_json::Value::Object(v).to_string()
    }
}

impl From<ledge_runtime::ControlError> for ApiError {
    fn from(e: ledge_runtime::ControlError) -> Self {
        use ledge_runtime::ControlError as C;
        match e {
            C::NotFound(m) => Self::not_found(m),
            C::Conflict(m) => Self::conflict(m),
            C::Invalid(m) => Self::invalid_parameter(m),
            C::Precondition(m) => Self::precondition(m),
            C::Platform(m) => Self::service(m),
        }
    }
}

impl From<ledge_store::StoreError> for ApiError {
    fn from(e: ledge_store::StoreError) -> Self {
        if e.is_client_error() {
            Self::invalid_parameter(e.to_string())
        } else {
            Self::service(e.to_string())
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut resp = Response::new(self.body().into());
        *resp.status_mut() = self.status;
        let h = resp.headers_mut();
        h.insert(
            http::header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        h.insert(HDR_ERROR_TYPE, HeaderValue::from_static(self.code));
        if self.status == StatusCode::TOO_MANY_REQUESTS {
            h.insert("retry-after", HeaderValue::from_static("1"));
        }
        resp
    }
}
