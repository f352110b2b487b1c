//! The ready file: where tests and tools find ledge's addresses.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::AppError;

/// A function as the ready file lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FunctionEntry {
    pub name: String,
    pub arn: String,
    /// `POST` here to invoke (the Lambda Invoke API).
    pub invoke_url: String,
}

/// The ready file of DESIGN.md. Keys may be added; these stay.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReadyFile {
    pub aws_endpoint: String,
    /// By logical id.
    pub functions: BTreeMap<String, FunctionEntry>,
    pub apis: BTreeMap<String, serde_json::Value>,
    pub distributions: BTreeMap<String, serde_json::Value>,
    pub state_dir: String,
    pub pid: u32,
}

impl ReadyFile {
    pub(crate) fn new(
        aws_endpoint: &str,
        state_dir: &Path,
        functions: BTreeMap<String, FunctionEntry>,
    ) -> Self {
        Self {
            aws_endpoint: aws_endpoint.to_owned(),
            functions,
            apis: BTreeMap::new(),
            distributions: BTreeMap::new(),
            state_dir: state_dir.display().to_string(),
            pid: std::process::id(),
        }
    }

    /// Writes atomically (temp file + rename), so a reader never sees half a file.
    pub fn write(&self, path: &Path) -> Result<(), AppError> {
        let io = |what: &str, source| AppError::Io {
            what: format!("{what} {}", path.display()),
            source,
        };
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| io("cannot create the folder of", e))?;
        }
        let tmp = path.with_extension("json.tmp");
        let text = serde_json::to_string_pretty(self).unwrap_or_default();
        std::fs::write(&tmp, text).map_err(|e| io("cannot write", e))?;
        std::fs::rename(&tmp, path).map_err(|e| io("cannot write", e))
    }

    /// Reads a ready file.
    pub fn read(path: &Path) -> Result<Self, AppError> {
        let text = std::fs::read_to_string(path).map_err(|source| AppError::Io {
            what: format!("cannot read {}", path.display()),
            source,
        })?;
        serde_json::from_str(&text).map_err(|e| {
            AppError::Usage(format!("{} is not a ledge ready file: {e}", path.display()))
        })
    }
}
