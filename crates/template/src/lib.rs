//! ledge-template: SAM / CloudFormation templates → ledge's model.
//!
//! This crate owns reading a template: the YAML itself (with `line:col` kept on every node),
//! `Parameters` with their constraints and overrides, `Mappings`, `Conditions`, SAM's
//! `Globals`, the intrinsic functions in both spellings (`!Ref X` and `Ref: X`), and turning
//! `AWS::Serverless::Function` / `AWS::Lambda::Function` and the two layer types into
//! [`FunctionSpec`]s and [`LayerSpec`]s with Lambda's defaults and limits applied. Every
//! other resource is kept, resolved, in [`Template::resources`] for the crates that serve
//! APIs and distributions.
//!
//! It never starts anything: no processes, no network. The only I/O is reading the template
//! file and checking that code paths exist.
//!
//! ```no_run
//! let template = ledge_template::load_file(
//!     std::path::Path::new("template.yaml"),
//!     &ledge_template::LoadOptions::default(),
//! )?;
//! for warning in &template.warnings {
//!     eprintln!("warning: {warning}");
//! }
//! # Ok::<(), ledge_template::TemplateError>(())
//! ```

mod build;
mod error;
mod eval;
mod globals;
mod load;
mod params;
mod yaml;

#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

pub use error::{Location, TemplateError};
pub use ledge_model::{EventSource, FunctionSpec, LayerRef, LayerSpec};

/// How to load a template: parameter values and the account the stack pretends to live in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadOptions {
    /// `--parameter-overrides`: each must name a parameter of the template.
    pub parameter_overrides: BTreeMap<String, String>,
    /// `AWS::Region`; default `us-east-1`.
    pub region: String,
    /// `AWS::AccountId`; default `123456789012`.
    pub account_id: String,
    /// `AWS::StackName`. Empty (the default) means the template folder's name, else `ledge`.
    pub stack_name: String,
    /// Version numbers the platform published, by logical id: a SAM function with
    /// `AutoPublishAlias` (for `!Ref Fn.Version`, `!GetAtt Fn.Version.Version` /
    /// `.FunctionArn`) or an `AWS::Lambda::Version` (its `Ref`, `Version`, `FunctionArn`).
    /// One not listed resolves to version 1, what a first deployment publishes.
    pub versions: BTreeMap<String, u32>,
}

impl Default for LoadOptions {
    fn default() -> Self {
        Self {
            parameter_overrides: BTreeMap::new(),
            region: ledge_model::DEFAULT_REGION.to_owned(),
            account_id: ledge_model::DEFAULT_ACCOUNT_ID.to_owned(),
            stack_name: String::new(),
            versions: BTreeMap::new(),
        }
    }
}

/// A loaded template: every intrinsic resolved, every default applied.
#[derive(Debug, Clone, PartialEq)]
pub struct Template {
    /// The template file (absolute).
    pub path: PathBuf,
    /// Runnable functions, in document order.
    pub functions: Vec<FunctionSpec>,
    /// Layers defined in the template with local content, in document order.
    pub layers: Vec<LayerSpec>,
    /// Every resource whose condition holds, supported or not, with its properties resolved
    /// (SAM resources with their `Globals` merged in).
    pub resources: BTreeMap<String, Resource>,
    /// Final parameter values (lists as the comma-separated text they were given as).
    pub parameters: BTreeMap<String, String>,
    /// The resolved `Globals` section (`{}` when absent), for implicit APIs.
    pub globals: serde_json::Value,
    /// Resolved `Outputs` whose condition holds; an output that cannot be resolved locally is
    /// warned about and left out.
    pub outputs: BTreeMap<String, String>,
    /// The stack name used for `AWS::StackName`.
    pub stack_name: String,
    /// Human-readable, one line each, prefixed with `file:line:col`.
    pub warnings: Vec<String>,
}

/// One resource as written, with intrinsics resolved.
#[derive(Debug, Clone, PartialEq)]
pub struct Resource {
    pub logical_id: String,
    /// The `Type`, e.g. `AWS::Serverless::Api`.
    pub kind: String,
    /// Resolved `Properties` (`{}` when absent). Resources of a type ledge does not know
    /// whose properties cannot be resolved keep them as written.
    pub properties: serde_json::Value,
    /// Resolved `Metadata` (`null` when absent), e.g. SAM's `BuildMethod`.
    pub metadata: serde_json::Value,
    /// 1-based line of the resource's logical id.
    pub line: usize,
}

impl Template {
    /// A function by its name, else by its logical id.
    pub fn function(&self, name_or_logical_id: &str) -> Option<&FunctionSpec> {
        self.functions
            .iter()
            .find(|f| f.name.as_str() == name_or_logical_id)
            .or_else(|| {
                self.functions
                    .iter()
                    .find(|f| f.logical_id.as_deref() == Some(name_or_logical_id))
            })
    }

    /// A layer by its logical id.
    pub fn layer(&self, logical_id: &str) -> Option<&LayerSpec> {
        self.layers.iter().find(|l| l.logical_id == logical_id)
    }
}

/// Read and load a template file. Relative code paths resolve against its folder.
pub fn load_file(path: &Path, opts: &LoadOptions) -> Result<Template, TemplateError> {
    let text = std::fs::read_to_string(path).map_err(|source| TemplateError::Read {
        path: path.to_owned(),
        source,
    })?;
    let base_dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let label = path.display().to_string();
    let file_name = path.file_name().map(PathBuf::from).unwrap_or_default();
    load::load(&text, base_dir, &label, &file_name, opts)
}

/// Load template text. `base_dir` is the folder relative code paths resolve against;
/// `file_label` names the template in errors and warnings.
pub fn load_str(
    text: &str,
    base_dir: &Path,
    file_label: &str,
    opts: &LoadOptions,
) -> Result<Template, TemplateError> {
    let file_name = Path::new(file_label)
        .file_name()
        .map(PathBuf::from)
        .unwrap_or_default();
    load::load(text, base_dir, file_label, &file_name, opts)
}
