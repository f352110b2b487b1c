//! What a function runs: its code snapshot and its layers, resolved through the store and
//! checked against Lambda's limits with Lambda's messages.

use std::path::PathBuf;

use ledge_model::{FunctionSpec, LayerRef};
use ledge_store::{Artifact, ExtractLimits, LayerVersion, Store};

use crate::DeployError;

pub use ledge_model::limits::{MAX_LAYERS, MAX_UNZIPPED_BYTES};

/// A function's code and layers, ready to present at `/var/task` and `/opt`.
#[derive(Debug, Clone)]
pub(crate) struct Resolved {
    pub(crate) code: Artifact,
    pub(crate) layers: Vec<LayerVersion>,
    /// The merged layer tree, when there are layers.
    pub(crate) opt: Option<PathBuf>,
}

impl Resolved {
    pub(crate) fn layer_arns(&self) -> Vec<String> {
        self.layers
            .iter()
            .map(|l| l.layer_version_arn.clone())
            .collect()
    }
}

fn invalid(spec: &FunctionSpec, message: impl Into<String>) -> DeployError {
    DeployError::Invalid {
        function: spec.name.to_string(),
        message: message.into(),
    }
}

/// Snapshots the code, looks up the layers and merges them. `kept` lists layer version
/// ARNs the function already uses: those stay usable after their version is deleted.
pub(crate) fn resolve(
    store: &Store,
    spec: &FunctionSpec,
    kept: &[String],
) -> Result<Resolved, DeployError> {
    if spec.layers.len() > MAX_LAYERS {
        return Err(invalid(spec, "Cannot reference more than 5 layers."));
    }
    let mut layers: Vec<LayerVersion> = Vec::with_capacity(spec.layers.len());
    for r in &spec.layers {
        let arn = match r {
            LayerRef::Arn(a) => a.clone(),
            LayerRef::Logical(id) => {
                return Err(invalid(
                    spec,
                    format!("layer {id} is not a layer version defined in the template"),
                ))
            }
        };
        let (name, version) = store
            .parse_layer_version_arn(&arn)
            .map_err(|e| invalid(spec, e.to_string()))?;
        let found = if kept.contains(&arn) {
            store.layer_version_any(&name, version)
        } else {
            store.layer_version(&name, version)
        }
        .map_err(|e| invalid(spec, e.to_string()))?;
        let Some(layer) = found else {
            return Err(invalid(
                spec,
                format!("Layer version {arn} does not exist."),
            ));
        };
        if let Some(other) = layers.iter().find(|l| l.name == layer.name) {
            return Err(invalid(
                spec,
                if other.version == layer.version {
                    format!("Layer version {arn} is listed more than once.")
                } else {
                    format!(
                        "Two different versions of the same layer are not allowed to be referenced in the same function. {} and {arn}",
                        other.layer_version_arn
                    )
                },
            ));
        }
        let runtime = spec.runtime.to_string();
        let compatible = &layer.meta.compatible_runtimes;
        if !compatible.is_empty() && !compatible.contains(&runtime) {
            return Err(invalid(
                spec,
                format!(
                    "Layer version {arn} is not compatible with runtime {runtime} (its compatible runtimes: {})",
                    compatible.join(", ")
                ),
            ));
        }
        let arch = spec.architecture.as_str().to_owned();
        let archs = &layer.meta.compatible_architectures;
        if !archs.is_empty() && !archs.contains(&arch) {
            return Err(invalid(
                spec,
                format!(
                    "Layer version {arn} is not compatible with architecture {arch} (its compatible architectures: {})",
                    archs.join(", ")
                ),
            ));
        }
        layers.push(layer);
    }
    let limits = ExtractLimits::default();
    let code = if spec.code_dir.is_file() {
        store.import_zip_file(&spec.code_dir, &limits)
    } else if spec.code_dir.is_dir() {
        store.import_dir(&spec.code_dir, &limits)
    } else {
        return Err(invalid(
            spec,
            format!(
                "CodeUri {} is neither a directory nor a .zip file",
                spec.code_dir.display()
            ),
        ));
    }
    .map_err(|e| invalid(spec, format!("code at {}: {e}", spec.code_dir.display())))?;
    let total: u64 =
        code.unzipped_size + layers.iter().map(|l| l.artifact.unzipped_size).sum::<u64>();
    if total > MAX_UNZIPPED_BYTES {
        return Err(invalid(
            spec,
            format!("Unzipped size must be smaller than {MAX_UNZIPPED_BYTES} bytes (code and layers add up to {total})"),
        ));
    }
    let opt = if layers.is_empty() {
        None
    } else {
        let artifacts: Vec<Artifact> = layers.iter().map(|l| l.artifact.clone()).collect();
        Some(
            store
                .merged_tree(&artifacts)
                .map_err(|e| invalid(spec, format!("cannot merge layers: {e}")))?,
        )
    };
    Ok(Resolved { code, layers, opt })
}
