//! ledge's engine for API Gateway mapping templates: the Velocity Template Language (VTL)
//! subset that REST APIs use, rendered the way AWS renders it.
//!
//! This crate owns parsing ([`Template::compile`], once per deployment, with line and column
//! in errors), rendering ([`Template::render`]) and API Gateway's variables: `$input`
//! (`body`, `json(path)`, `path(path)`, `params()`, `params(name)`), `$util`
//! (`escapeJavaScript`, `parseJson`, `urlEncode`, `urlDecode`, `base64Encode`,
//! `base64Decode`), `$context` (a map the caller fills, plus `requestOverride` and
//! `responseOverride`, read back in [`Rendered::overrides`]) and `$stageVariables`.
//! It never does I/O, never spawns, never logs: a pure function from template and
//! [`Context`] to text.
//!
//! # Velocity 1.7, as API Gateway runs it
//! - References: `$a`, `$!a`, `${a}`, `$!{a}`, `.prop`, `.method(args)`, `[index]`.
//!   Identifiers may contain `-` (`$elem.partition-key`), as in Velocity 1.7.
//! - Directives: `#set`, `#if/#elseif/#else/#end`, `#foreach` (`$foreach.index/count/
//!   hasNext/first/last/parent`, `$velocityCount`), `#break`, `#stop`, `#define`, `#macro`
//!   (arguments are evaluated once, at the call), `##` and `#* *#` comments,
//!   `#[[unparsed]]#`, `\$` and `\#` escapes.
//! - Whitespace: see [Whitespace](#whitespace) below.
//! - `#set` with a null right side leaves the target unchanged (Velocity 1.7 default).
//! - Truthiness: only null and `false` are false; an empty string is true.
//! - Literals: `'single'` is verbatim, `"double"` interpolates; a doubled quote stands for
//!   one, `\uXXXX` is decoded and other backslashes stay as written. Integers are `i64`
//!   with Java's truncating `/` and `%`; overflow widens to a double; `/ 0` is null.
//!
//! # API Gateway's differences from stock Velocity
//! - An undefined or null reference renders as the empty string (quiet or not).
//! - Maps print as Java's `{k=v, k2=v2}`; lists parsed from JSON print as compact JSON
//!   (also inside maps: `{foo=[{"nested":"bar"}]}`); lists built in the template print as
//!   Java's `[a, b]`.
//! - `#foreach` stops after 1000 iterations ([`Limits::max_foreach_iterations`]).
//! - An empty body is `{}` for `$input.body`, `json` and `path`; `$input.json('$.missing')`
//!   is `""` (a quoted empty string); a missing `$input.path` is null, and `== ""` holds.
//! - `urlEncode` is form encoding (space → `+`); `escapeJavaScript` is commons-lang's
//!   (`'` → `\'`, `/` → `\/`, non-ASCII → `\uXXXX`).
//!
//! # Whitespace
//! Velocity 1.7's lexer rules: `#set(…)` eats the spaces and tabs before it; `#set(…)`,
//! every other directive with a `(…)` argument list, `#else` and `#end` eat trailing blanks
//! plus one line end; `##` comments eat their line end; the indentation before `#if`,
//! `#foreach`, `#end` is kept. So an indented directive line leaves its indentation.
//!
//! # Safety
//! Parsing and rendering never panic and always terminate: nesting is limited at compile
//! time; rendering has a step budget, an output cap (10 MB, API Gateway's payload limit),
//! a macro/`#define` depth limit, and depth limits for printing and comparing values that
//! contain themselves. All of them end in a [`RenderError`].
//!
//! # Known gaps and inferences
//! Not supported: `#parse`, `#include`, `#evaluate`, `#@blockmacro`, JSONPath filters and
//! functions, Java regex lookaround/backreferences/possessive quantifiers (see
//! [`JavaRegex`]). Simplified: map keys are strings; integers beyond `i64` become doubles;
//! macro arguments are passed by value (Velocity passes by name); `\$undefined` prints
//! `$undefined` (Velocity 1.7 keeps the backslash when the reference is undefined);
//! `split` returns a list (Java an array); `$input`/`$util` print as empty.
//! Inferred, not AWS-verified: `escapeJavaScript` escaping `/` and non-ASCII (reference §7
//! question 5), `$input.json` output being compact JSON with `/` unescaped, header names in
//! `$input.params(name)` matching case-insensitively, a string status override (`"404"`)
//! being accepted, "overrides are final" being enforced for `#set` only (not `.put`).

mod ast;
mod error;
mod java_regex;
mod json;
mod methods;
mod parser;
mod render;
mod value;
mod vmap;

pub use error::{RenderError, SyntaxError, VtlError};
pub use java_regex::JavaRegex;
pub use value::Value;

use indexmap::IndexMap;
use std::collections::HashMap;

/// A compiled mapping template; compile once per deployment, render per request. `Send` and
/// `Sync`: share it behind an `Arc`.
#[derive(Debug)]
pub struct Template {
    nodes: ast::Block,
    macros: HashMap<Box<str>, ast::MacroDef>,
    defines: Vec<ast::Block>,
    slots: HashMap<Box<str>, u32>,
    slot_names: Vec<Box<str>>,
    special: Specials,
    src_len: usize,
    keys: render::FixedKeys,
}

/// Slots of the variables the renderer provides, when the template uses them.
#[derive(Debug, Default)]
struct Specials {
    input: Option<u32>,
    util: Option<u32>,
    context: Option<u32>,
    stage_variables: Option<u32>,
    foreach: Option<u32>,
    velocity_count: Option<u32>,
}

impl Template {
    /// Parses a template. Errors carry the 1-based line and column.
    pub fn compile(src: &str) -> Result<Template, VtlError> {
        let mut shared = parser::Shared::default();
        let nodes = parser::Parser::new(src, &mut shared, ast::Pos { line: 1, col: 1 }, 0)
            .parse_template()?;
        let slot = |name: &str| shared.slots.get(name).copied();
        let special = Specials {
            input: slot("input"),
            util: slot("util"),
            context: slot("context"),
            stage_variables: slot("stageVariables"),
            foreach: slot("foreach"),
            velocity_count: slot("velocityCount"),
        };
        Ok(Template {
            nodes,
            macros: shared.macros,
            defines: shared.defines,
            slots: shared.slots,
            slot_names: shared.slot_names,
            special,
            src_len: src.len(),
            keys: render::FixedKeys::default(),
        })
    }

    /// Renders with the default [`Limits`] and returns the text.
    pub fn render(&self, ctx: &Context) -> Result<String, RenderError> {
        self.render_full(ctx, &Limits::default()).map(|r| r.body)
    }

    /// Renders and also returns what the template set in `$context.requestOverride` and
    /// `$context.responseOverride`.
    pub fn render_full(&self, ctx: &Context, limits: &Limits) -> Result<Rendered, RenderError> {
        render::Renderer::new(self, ctx, limits).run()
    }
}

/// The request (or integration response) a template renders against.
#[derive(Debug, Clone, Default)]
pub struct Context {
    /// The raw payload: `$input.body`, and the document of `$input.json`/`$input.path`.
    pub body: String,
    /// `$input.params()`.
    pub params: Params,
    /// `$context`: normally a [`Value::Map`] (`requestId`, `identity`, `authorizer`, …).
    /// `requestOverride` and `responseOverride` are added empty by the renderer.
    pub context: Value,
    /// `$stageVariables`.
    pub stage_variables: IndexMap<String, String>,
    /// Further top-level variables (`$name`), for gateway responses and tests.
    pub vars: IndexMap<String, Value>,
}

impl Context {
    /// A context with this body and nothing else.
    pub fn with_body(body: impl Into<String>) -> Context {
        Context {
            body: body.into(),
            ..Context::default()
        }
    }
}

/// Method request parameters, as `$input.params()` shows them. `$input.params(name)` looks
/// in `path`, then `querystring`, then `header` (headers also case-insensitively).
#[derive(Debug, Clone, Default)]
pub struct Params {
    pub path: IndexMap<String, String>,
    pub querystring: IndexMap<String, String>,
    pub header: IndexMap<String, String>,
}

/// Bounds on one render. The defaults are API Gateway's where it has one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Longest output (and longest string built on the way): 10 MB, API Gateway's payload
    /// limit.
    pub max_output_bytes: usize,
    /// Iterations per `#foreach`, after which the loop silently ends: 1000 on AWS.
    pub max_foreach_iterations: usize,
    /// Nested macro calls and `#define` expansions: 20, Velocity's `velocimacro.max.depth`.
    pub max_call_depth: u32,
    /// Total work (directives, expressions, loop iterations, bytes scanned / 256).
    pub max_steps: u64,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            max_output_bytes: 10 * 1024 * 1024,
            max_foreach_iterations: 1000,
            max_call_depth: 20,
            max_steps: 5_000_000,
        }
    }
}

/// A rendered template.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Rendered {
    pub body: String,
    pub overrides: Overrides,
}

/// What the template set under `$context.requestOverride` / `$context.responseOverride`.
/// The caller applies them after rendering (they are not available for proxy integrations).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Overrides {
    pub request: RequestOverride,
    pub response: ResponseOverride,
}

/// `$context.requestOverride.{header,path,querystring}.NAME`; a list value gives several
/// values (multi-value header or query parameter).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RequestOverride {
    pub header: IndexMap<String, Vec<String>>,
    pub path: IndexMap<String, Vec<String>>,
    pub querystring: IndexMap<String, Vec<String>>,
}

/// `$context.responseOverride.header.NAME` and `.status`. A status that is not an integer
/// in 100–599 is ignored, as AWS ignores it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ResponseOverride {
    pub header: IndexMap<String, String>,
    pub status: Option<u16>,
}

#[cfg(test)]
mod tests;
