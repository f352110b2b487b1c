//! The one way to reach a function: the [`Invoke`] trait and its request and result types.

use std::time::Duration;

use bytes::Bytes;

use crate::{FunctionName, RequestId};

/// One synchronous invocation.
#[derive(Debug, Clone)]
pub struct InvokeRequest {
    pub function: FunctionName,
    /// `$LATEST`, a version number or an alias; `None` = `$LATEST`.
    pub qualifier: Option<String>,
    pub payload: Bytes,
    /// Decoded client context JSON (`X-Amz-Client-Context`, base64-decoded).
    pub client_context: Option<String>,
    /// Cognito identity JSON.
    pub cognito_identity: Option<String>,
    /// X-Ray trace header; generated when absent.
    pub trace_id: Option<String>,
    /// Keep this invocation's log lines for the caller ([`InvokeResult::log`]).
    pub capture_log: bool,
    /// Measure the environment's CPU time and quota throttling during this invocation
    /// (`InvokeReport::cpu_time` / `cpu_throttled`, for power tuning). Off, the warm path
    /// reads no CPU statistics.
    pub measure_cpu: bool,
    /// Use this request id instead of a fresh one (async retries keep theirs).
    pub request_id: Option<RequestId>,
}

impl InvokeRequest {
    pub fn new(function: FunctionName, payload: impl Into<Bytes>) -> Self {
        Self {
            function,
            qualifier: None,
            payload: payload.into(),
            client_context: None,
            cognito_identity: None,
            trace_id: None,
            capture_log: false,
            measure_cpu: false,
            request_id: None,
        }
    }
}

/// Why an invocation was refused for lack of capacity (AWS's `Reason` values).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ThrottleReason {
    /// The account (ledge-wide) concurrency limit was reached.
    ConcurrentInvocationLimitExceeded,
    /// The function's reserved concurrency was reached.
    ReservedFunctionConcurrentInvocationLimitExceeded,
}

impl ThrottleReason {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::ConcurrentInvocationLimitExceeded => "ConcurrentInvocationLimitExceeded",
            Self::ReservedFunctionConcurrentInvocationLimitExceeded => {
                "ReservedFunctionConcurrentInvocationLimitExceeded"
            }
        }
    }
}

/// What became of an invocation. A function's failure is data, never a Rust error.
#[derive(Debug, Clone, PartialEq)]
pub enum InvokeOutcome {
    /// The handler returned; `payload` is the response body.
    Success { payload: Bytes },
    /// The handler (or its initialisation) reported an error; `payload` is the error JSON.
    FunctionError { payload: Bytes, error_type: String },
    /// The function ran past its timeout and its environment was killed.
    Timeout { payload: Bytes },
    /// The runtime process died without answering (`Runtime.ExitError`, `Runtime.OutOfMemory`).
    Crashed { payload: Bytes, error_type: String },
    /// No capacity: nothing ran.
    Throttled { reason: ThrottleReason },
}

impl InvokeOutcome {
    /// The payload a Lambda caller receives (empty for throttles).
    pub fn payload(&self) -> &[u8] {
        match self {
            Self::Success { payload }
            | Self::FunctionError { payload, .. }
            | Self::Timeout { payload }
            | Self::Crashed { payload, .. } => payload,
            Self::Throttled { .. } => &[],
        }
    }

    /// Whether Lambda would set `X-Amz-Function-Error: Unhandled`.
    pub fn is_function_error(&self) -> bool {
        matches!(
            self,
            Self::FunctionError { .. } | Self::Timeout { .. } | Self::Crashed { .. }
        )
    }

    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Success { .. } => "success",
            Self::FunctionError { .. } => "error",
            Self::Timeout { .. } => "timeout",
            Self::Crashed { .. } => "crashed",
            Self::Throttled { .. } => "throttled",
        }
    }
}

/// The figures of the REPORT line.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct InvokeReport {
    pub duration: Duration,
    pub billed_ms: u64,
    pub memory_mb: u32,
    pub max_memory_used_mb: u32,
    /// Present on cold starts.
    pub init_duration: Option<Duration>,
    /// CPU time the environment used during this invocation, when measurable.
    pub cpu_time: Option<Duration>,
    /// Time the environment spent throttled by its CPU quota during this invocation.
    pub cpu_throttled: Option<Duration>,
}

/// The full answer to an invocation.
#[derive(Debug, Clone)]
pub struct InvokeResult {
    pub request_id: RequestId,
    pub outcome: InvokeOutcome,
    /// `$LATEST` or the version number that ran.
    pub executed_version: String,
    /// The invocation's log lines, when asked for (`capture_log`): every line, `START`
    /// to `REPORT`, for an invocation ledge ran; for one a remote service ran, what it
    /// returned (AWS: the last 4 KB).
    pub log: Option<String>,
    /// Absent for throttles.
    pub report: Option<InvokeReport>,
}

/// How much of an invocation's log `X-Amz-Log-Type: Tail` returns.
pub const LOG_TAIL_BYTES: usize = 4096;

impl InvokeResult {
    /// The last [`LOG_TAIL_BYTES`] of the captured log, cut at a character boundary: what
    /// Invoke's `LogResult` carries.
    pub fn log_tail(&self) -> Option<&str> {
        let log = self.log.as_deref()?;
        let mut start = log.len().saturating_sub(LOG_TAIL_BYTES);
        while !log.is_char_boundary(start) {
            start += 1;
        }
        Some(&log[start..])
    }
}

/// A platform fault: ledge could not run the invocation. Function failures are outcomes.
#[derive(Debug, thiserror::Error)]
pub enum InvokeError {
    #[error("Function not found: {arn}")]
    FunctionNotFound { arn: String },
    #[error("platform fault running {function}: {message}")]
    Platform {
        function: FunctionName,
        message: String,
    },
    #[error("ledge is shutting down")]
    ShuttingDown,
}

/// How gateways, edges and CLIs reach functions.
#[async_trait::async_trait]
pub trait Invoke: Send + Sync {
    async fn invoke(&self, request: InvokeRequest) -> Result<InvokeResult, InvokeError>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_log_tail_keeps_the_last_4k_on_a_char_boundary() {
        let result = |log: Option<String>| InvokeResult {
            request_id: RequestId::new_random(),
            outcome: InvokeOutcome::Success {
                payload: Bytes::new(),
            },
            executed_version: "$LATEST".into(),
            log,
            report: None,
        };
        let s = "é".repeat(3000);
        let r = result(Some(s.clone()));
        let t = r.log_tail().expect("tail");
        assert!(t.len() <= LOG_TAIL_BYTES && t.len() >= LOG_TAIL_BYTES - 1);
        assert!(s.ends_with(t));
        assert_eq!(result(Some("short".into())).log_tail(), Some("short"));
        assert_eq!(result(None).log_tail(), None);
    }
}
