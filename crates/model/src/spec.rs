//! Resolved specifications: what the template loader (or the Lambda API) hands the runtime.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::{Architecture, FunctionName, MemoryMb, Runtime, TimeoutSecs};

/// A function as ledge runs it: every intrinsic resolved, every default applied.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FunctionSpec {
    /// The function's name (the template's `FunctionName`, else the logical id).
    pub name: FunctionName,
    /// The template's logical id, when the function came from a template.
    pub logical_id: Option<String>,
    /// Directory holding the unpacked code (what Lambda shows at `/var/task`).
    pub code_dir: PathBuf,
    /// `module.function` for managed runtimes; informational for `provided`.
    pub handler: String,
    pub runtime: Runtime,
    pub memory: MemoryMb,
    pub timeout: TimeoutSecs,
    /// Customer environment variables (`Environment.Variables`), in order.
    pub environment: BTreeMap<String, String>,
    pub architecture: Architecture,
    /// `ReservedConcurrentExecutions`; `None` = draw on the account pool.
    pub reserved_concurrency: Option<u32>,
    /// `EphemeralStorage.Size` in MB (512..=10240).
    pub ephemeral_storage_mb: u32,
    /// Layers in the order listed (a later layer's file wins).
    pub layers: Vec<LayerRef>,
    /// Event sources, kept for the gateway and scheduler issues.
    pub events: Vec<EventSource>,
    pub description: String,
}

impl FunctionSpec {
    /// A spec with Lambda's defaults, for tests and the control plane.
    pub fn with_defaults(
        name: FunctionName,
        code_dir: PathBuf,
        handler: impl Into<String>,
        runtime: Runtime,
    ) -> Self {
        Self {
            name,
            logical_id: None,
            code_dir,
            handler: handler.into(),
            runtime,
            memory: MemoryMb::DEFAULT,
            timeout: TimeoutSecs::DEFAULT,
            environment: BTreeMap::new(),
            architecture: Architecture::X86_64,
            reserved_concurrency: None,
            ephemeral_storage_mb: 512,
            layers: Vec::new(),
            events: Vec::new(),
            description: String::new(),
        }
    }
}

/// A reference to a layer version, as a function lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum LayerRef {
    /// A layer defined in the same template, by logical id.
    Logical(String),
    /// A layer version ARN `arn:aws:lambda:REGION:ACCOUNT:layer:NAME:N`.
    Arn(String),
}

/// One entry of a function's `Events`, with its properties kept as JSON for later consumers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EventSource {
    /// The event's logical name inside `Events`.
    pub name: String,
    /// `Api`, `HttpApi`, `Schedule`, …
    pub kind: String,
    /// The resolved `Properties`.
    pub properties: serde_json::Value,
}

/// A layer version defined in a template (`AWS::Serverless::LayerVersion`,
/// `AWS::Lambda::LayerVersion`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LayerSpec {
    pub logical_id: String,
    /// `LayerName`, else the logical id.
    pub name: String,
    /// `ContentUri` / `Content`: a directory or a `.zip`, resolved against the template's folder.
    pub content: PathBuf,
    pub compatible_runtimes: Vec<String>,
    pub compatible_architectures: Vec<String>,
    pub description: String,
    pub license_info: Option<String>,
    /// `Retain` or `Delete`; accepted and kept.
    pub retention_policy: Option<String>,
}
