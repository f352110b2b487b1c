//! Reaching a function: the references integrations and authorizers use, and an invocation
//! with the integration's deadline.

use std::time::Duration;

use ledge_model::{FunctionName, Invoke, InvokeError, InvokeOutcome, InvokeRequest};

/// `name`, `name:qualifier`, a function ARN, or an API Gateway Lambda invocation URI.
pub fn function_ref(s: &str) -> Option<(FunctionName, Option<String>)> {
    let inner = match s.split_once("/functions/") {
        Some((_, rest)) => rest.strip_suffix("/invocations").unwrap_or(rest),
        None => s,
    };
    let (name, qualifier) = match inner.strip_prefix("arn:") {
        Some(_) => {
            let parts: Vec<&str> = inner.split(':').collect();
            let at = parts.iter().position(|p| *p == "function")?;
            (
                parts.get(at + 1)?.to_string(),
                parts.get(at + 2).map(|q| (*q).to_owned()),
            )
        }
        None => match inner.split_once(':') {
            Some((n, q)) => (n.to_owned(), Some(q.to_owned())),
            None => (inner.to_owned(), None),
        },
    };
    Some((name.parse().ok()?, qualifier))
}

/// Why an invocation gave no outcome.
#[derive(Debug)]
pub enum InvokeFailure {
    /// The deadline passed first.
    Timeout,
    /// The platform could not run it (unknown function, …).
    Platform(InvokeError),
}

/// Invokes `function` (already resolved: no `${stageVariables.x}` left) with `payload`,
/// giving up after `timeout`.
pub async fn invoke(
    invoker: &dyn Invoke,
    function: &str,
    payload: Vec<u8>,
    trace_id: Option<String>,
    timeout: Duration,
) -> Result<InvokeOutcome, InvokeFailure> {
    let Some((name, qualifier)) = function_ref(function) else {
        return Err(InvokeFailure::Platform(InvokeError::FunctionNotFound {
            arn: function.to_owned(),
        }));
    };
    let mut req = InvokeRequest::new(name, payload);
    req.qualifier = qualifier;
    req.trace_id = trace_id;
    match tokio::time::timeout(timeout, invoker.invoke(req)).await {
        Ok(Ok(r)) => Ok(r.outcome),
        Ok(Err(e)) => Err(InvokeFailure::Platform(e)),
        Err(_) => Err(InvokeFailure::Timeout),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn function_references() {
        let n = |s: &str| function_ref(s).map(|(n, q)| (n.to_string(), q));
        assert_eq!(n("Hello"), Some(("Hello".into(), None)));
        assert_eq!(n("Hello:live"), Some(("Hello".into(), Some("live".into()))));
        assert_eq!(
            n("arn:aws:lambda:us-east-1:123456789012:function:Hello"),
            Some(("Hello".into(), None))
        );
        assert_eq!(
            n("arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/arn:aws:lambda:us-east-1:123456789012:function:Hello:3/invocations"),
            Some(("Hello".into(), Some("3".into())))
        );
        assert_eq!(n("arn:aws:s3:::bucket"), None);
    }
}
