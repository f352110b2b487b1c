//! What the tuner drives: a function it can set to a memory size and invoke. ledge's
//! runtime (one deployment per size, interleaved) and a running ledge's Lambda API
//! (`--endpoint`: UpdateFunctionConfiguration per size, in blocks) implement it.

use std::collections::BTreeMap;
use std::sync::Arc;

use ledge_model::{Architecture, FunctionName, Invoke, MemoryMb};
use serde::{Deserialize, Serialize};

use crate::TuneError;

/// Where one size's invocations go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SizeTarget {
    pub function: FunctionName,
    pub qualifier: Option<String>,
}

/// What the report says about the function and the machine.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TargetInfo {
    /// The function as the user named it.
    pub function: String,
    pub architecture: String,
    /// "template examples/hello/template.yaml" or "endpoint http://…".
    pub source: String,
    /// Whether sizes run interleaved (each size deployed at once) or in blocks.
    pub interleaved: bool,
    /// Whether CPU time and throttling come from the cgroup.
    pub cpu_accounting: bool,
    /// Host fingerprint and sandbox settings: CPU model, kernel, cores, what is enforced.
    pub environment: BTreeMap<String, String>,
    /// The function's memory before tuning (to print the template change against).
    pub original_memory: Option<u32>,
    /// The template's logical id, when the function came from a template.
    pub logical_id: Option<String>,
}

impl TargetInfo {
    pub fn arch(&self) -> Architecture {
        self.architecture.parse().unwrap_or_default()
    }
}

/// A function the tuner can resize and invoke.
#[async_trait::async_trait]
pub trait PowerTarget: Send + Sync {
    fn info(&self) -> TargetInfo;

    /// Invokes go through this.
    fn invoker(&self) -> Arc<dyn Invoke>;

    /// Makes `memory` ready to invoke (deploys or reconfigures). With an interleaving
    /// target, every size stays ready at once; otherwise the last prepared size is live.
    async fn prepare(&self, memory: MemoryMb) -> Result<SizeTarget, TuneError>;

    /// Makes the next invocation at `memory` a cold start.
    async fn recycle(&self, memory: MemoryMb) -> Result<(), TuneError>;

    /// Makes a pre- or post-processor function invocable; returns the name to invoke.
    async fn processor(&self, name: &FunctionName) -> Result<FunctionName, TuneError>;

    /// `autoOptimize`: sets the chosen memory on the function (and the alias, when given).
    /// Returns what was done, for the user.
    async fn apply(&self, memory: MemoryMb, alias: Option<&str>) -> Result<String, TuneError>;

    /// Removes what the run created and restores what it changed.
    async fn finish(&self) -> Result<(), TuneError>;
}
