//! ledge's shared vocabulary.
//!
//! This crate owns the identifiers and units every other crate speaks in (function names,
//! memory sizes, request ids, ARNs), the resolved specification of a function as the
//! template loader produces it, and the [`Invoke`] trait through which gateways and CLIs
//! reach functions without knowing how they run.
//!
//! It never does I/O.

mod ids;
mod invoke;
pub mod limits;
mod spec;

pub use ids::{
    function_name_of, Architecture, Arn, FunctionName, InvalidValue, MemoryMb, ProvidedFlavor,
    RequestId, Runtime, TimeoutSecs, DEFAULT_ACCOUNT_ID, DEFAULT_REGION,
};
pub use invoke::{
    Invoke, InvokeError, InvokeOutcome, InvokeReport, InvokeRequest, InvokeResult, ThrottleReason,
    LOG_TAIL_BYTES,
};
pub use spec::{EventSource, FunctionSpec, LayerRef, LayerSpec};
