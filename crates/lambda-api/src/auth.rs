//! With authentication on, a request must carry an AWS Signature Version 4 by a
//! configured access key ([`ledge_sigv4`]), or it is refused with 403 in the Lambda API's
//! error format and changes nothing.

use std::time::SystemTime;

use axum::body::Body;
use axum::extract::Request;
use ledge_sigv4::SignedRequest;

pub use ledge_sigv4::AccessKeys;

use crate::errors::ApiError;

/// Reads the body, checks the signature, and gives the request back whole.
pub(crate) async fn verify_request(
    keys: &AccessKeys,
    req: Request,
    now: SystemTime,
) -> Result<Request, ApiError> {
    let (parts, body) = req.into_parts();
    let bytes = axum::body::to_bytes(body, 128 * 1024 * 1024)
        .await
        .map_err(|e| ApiError::too_large(e.to_string()))?;
    ledge_sigv4::verify(
        keys,
        "lambda",
        &SignedRequest::new(&parts, parts.uri.path(), &bytes),
        now,
    )
    .map_err(|e| ApiError::forbidden(e.code(), e.to_string()))?;
    Ok(Request::from_parts(parts, Body::from(bytes)))
}
