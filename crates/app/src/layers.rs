//! Layers as users handle them: publishing from a folder or a zip, listing, deleting, and
//! the layers a template defines (a new version only when their content changed).

use std::collections::HashMap;
use std::path::Path;

use ledge_model::{FunctionSpec, LayerRef, LayerSpec};
use ledge_store::{Artifact, ExtractLimits, LayerMeta, LayerVersion, Store};

use crate::AppError;

fn store_err(e: ledge_store::StoreError) -> AppError {
    AppError::Usage(e.to_string())
}

/// Imports a folder or a .zip into the store.
pub fn import(store: &Store, path: &Path) -> Result<Artifact, AppError> {
    let limits = ExtractLimits::default();
    if path.is_dir() {
        store.import_dir(path, &limits).map_err(store_err)
    } else if path.is_file() {
        store.import_zip_file(path, &limits).map_err(store_err)
    } else {
        Err(AppError::Usage(format!(
            "{} is neither a folder nor a .zip file",
            path.display()
        )))
    }
}

/// Publishes the next version of a layer.
pub fn publish(
    store: &Store,
    name: &str,
    path: &Path,
    meta: &LayerMeta,
) -> Result<LayerVersion, AppError> {
    validate_name(name)?;
    let artifact = import(store, path)?;
    store
        .publish_layer_version(name, &artifact, meta)
        .map_err(store_err)
}

fn validate_name(name: &str) -> Result<(), AppError> {
    let ok = !name.is_empty()
        && name.len() <= 140
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if ok {
        Ok(())
    } else {
        Err(AppError::Usage(format!(
            "layer name {name:?} must be 1-140 characters of [a-zA-Z0-9-_]"
        )))
    }
}

/// Publishes each template layer whose content or metadata differs from its latest
/// version (so an unchanged layer keeps its version across restarts), and returns the
/// version ARN for each logical id, with one line per newly published version.
pub(crate) fn publish_template_layers(
    store: &Store,
    layers: &[LayerSpec],
) -> Result<(HashMap<String, String>, Vec<String>), AppError> {
    let mut arns = HashMap::new();
    let mut lines = Vec::new();
    for l in layers {
        let artifact = import(store, &l.content)
            .map_err(|e| AppError::Usage(format!("layer {}: {e}", l.logical_id)))?;
        let meta = LayerMeta {
            description: l.description.clone(),
            compatible_runtimes: l.compatible_runtimes.clone(),
            compatible_architectures: l.compatible_architectures.clone(),
            license_info: l.license_info.clone(),
        };
        let latest = store.latest_layer_version(&l.name).map_err(store_err)?;
        let version = match latest {
            Some(v) if v.artifact.sha256_hex == artifact.sha256_hex && v.meta == meta => v,
            _ => {
                let v = store
                    .publish_layer_version(&l.name, &artifact, &meta)
                    .map_err(store_err)?;
                lines.push(format!(
                    "layer {} published as version {} ({})",
                    l.logical_id, v.version, v.layer_version_arn
                ));
                v
            }
        };
        arns.insert(l.logical_id.clone(), version.layer_version_arn);
    }
    Ok((arns, lines))
}

/// Replaces references to template layers by their version ARNs.
pub(crate) fn resolve_logical(spec: &mut FunctionSpec, arns: &HashMap<String, String>) {
    for r in &mut spec.layers {
        if let LayerRef::Logical(id) = r {
            if let Some(arn) = arns.get(id) {
                *r = LayerRef::Arn(arn.clone());
            }
        }
    }
}
