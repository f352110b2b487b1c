//! Errors: [`VtlError`] when a template does not compile, [`RenderError`] when rendering
//! stops. Positions are 1-based; columns count characters, not bytes.

use thiserror::Error;

/// A template that does not parse. API Gateway refuses such a deployment; the caller shows
/// `line` and `column` to the user and keeps serving the previous deployment.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("line {line}, column {column}: {kind}")]
pub struct VtlError {
    pub line: u32,
    pub column: u32,
    pub kind: SyntaxError,
}

/// What is wrong at a [`VtlError`]'s position.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum SyntaxError {
    #[error("expected {expected}, found {found}")]
    Expected {
        expected: &'static str,
        found: String,
    },
    #[error("{directive} is never closed with #end")]
    Unclosed { directive: &'static str },
    #[error("{directive} without a matching {opener}")]
    Unmatched {
        directive: &'static str,
        opener: &'static str,
    },
    #[error("unterminated {what}")]
    Unterminated { what: &'static str },
    #[error("#{directive} is not supported in API Gateway mapping templates")]
    Unsupported { directive: String },
    #[error("the left side of #set must be a reference without a method call")]
    InvalidSetTarget,
    #[error("nesting deeper than {limit} levels")]
    TooDeep { limit: u32 },
}

/// Why rendering stopped. API Gateway answers 500 for all of these except
/// [`RenderError::InvalidJsonBody`], which it reports as a bad request body (400) when the
/// template reads a client body that is not JSON.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum RenderError {
    /// A Java method threw (index out of range, null argument, bad regex, …).
    #[error("line {line}, column {column}: {method}: {message}")]
    Method {
        method: String,
        message: String,
        line: u32,
        column: u32,
    },
    /// `$input.json`/`$input.path` on a body that is not JSON.
    #[error("could not parse request body into json: {message}")]
    InvalidJsonBody { message: String },
    /// A JSONPath expression outside the supported subset or malformed.
    #[error("line {line}, column {column}: invalid JSONPath {path:?}: {message}")]
    JsonPath {
        path: String,
        message: String,
        line: u32,
        column: u32,
    },
    /// The output (or a string built while rendering) grew past the limit.
    #[error("output exceeds {limit} bytes")]
    OutputTooLarge { limit: usize },
    /// Macro or `#define` recursion deeper than the limit.
    #[error("line {line}, column {column}: calls nested deeper than {limit} (recursive #macro or #define?)")]
    RecursionLimit { limit: u32, line: u32, column: u32 },
    /// A value nested too deeply (or containing itself) to print or compare.
    #[error("value nested deeper than {limit} levels (a list or map containing itself?)")]
    ValueTooDeep { limit: u32 },
    /// The template did more work than the step budget allows.
    #[error("template evaluation exceeds {limit} steps")]
    StepLimit { limit: u64 },
    /// `#set($context.requestOverride…)` twice on the same parameter: overrides are final.
    #[error("{parameter} is overridden twice; overrides are final")]
    OverrideSetTwice { parameter: String },
}
