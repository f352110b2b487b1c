//! The managed Node.js runtime: finding the `node` that serves a `nodejsNN.x` function and
//! launching ledge's bootstrap (`node/bootstrap.cjs`, shipped inside the binary) the way
//! AWS's `/var/runtime/bootstrap` launches its own.
//!
//! Lambda runs each function on the major version it names. ledge uses that major when a
//! `node` of it is installed, and otherwise the newest `node` it can find, with one warning
//! per function (as for Python).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Mutex, OnceLock};

/// The managed Node.js runtime, shipped inside the binary.
pub const NODE_BOOTSTRAP: &str = include_str!("../node/bootstrap.cjs");

/// Where the bootstrap lives under the runtime dir (`/var/runtime`).
const BOOTSTRAP_PATH: &str = "node/bootstrap.cjs";

/// A `node` binary ledge has probed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeBinary {
    pub path: PathBuf,
    pub major: u32,
    /// `v20.20.2`
    pub version: String,
}

/// The `node` for `nodejs<major>.x`; the flag is true when it is a stand-in of another
/// major. Lookups are cached for the life of the process.
pub fn find(major: u32) -> Result<(NodeBinary, bool), String> {
    static CACHE: OnceLock<Mutex<HashMap<u32, Result<NodeBinary, String>>>> = OnceLock::new();
    let cache = CACHE.get_or_init(|| Mutex::new(HashMap::new()));
    let cached = cache.lock().ok().and_then(|c| c.get(&major).cloned());
    let found = match cached {
        Some(hit) => hit,
        None => {
            let found = lookup(major);
            if let Ok(mut c) = cache.lock() {
                c.insert(major, found.clone());
            }
            found
        }
    };
    found.map(|n| {
        let stand_in = n.major != major;
        (n, stand_in)
    })
}

/// The one line a function running on another major gets at deploy.
pub(crate) fn stand_in_warning(function: &str, major: u32, node: &NodeBinary) -> String {
    format!(
        "{function}: nodejs{major}.x is not installed here; running it on {} (Node.js {})",
        node.path.display(),
        node.version
    )
}

fn lookup(major: u32) -> Result<NodeBinary, String> {
    let mut seen: Vec<PathBuf> = Vec::new();
    let mut found: Vec<NodeBinary> = Vec::new();
    for dir in crate::installed::search_dirs(".nvm/versions/node", &format!("v{major}.")) {
        for name in ["node", "nodejs"] {
            let candidate = dir.join(name);
            if !crate::installed::is_executable(&candidate) {
                continue;
            }
            let real = std::fs::canonicalize(&candidate).unwrap_or_else(|_| candidate.clone());
            if seen.contains(&real) {
                continue;
            }
            seen.push(real);
            if let Ok(n) = probe(&candidate) {
                if n.major == major {
                    return Ok(n);
                }
                found.push(n);
            }
        }
    }
    found
        .into_iter()
        .reduce(|best, n| if n.major > best.major { n } else { best })
        .ok_or_else(|| format!("no Node.js found for nodejs{major}.x (looked for node on PATH, /usr/local/bin, /usr/bin and ~/.nvm/versions/node)"))
}

fn probe(path: &Path) -> Result<NodeBinary, String> {
    let out = Command::new(path)
        .arg("--version")
        .output()
        .map_err(|e| format!("cannot run {}: {e}", path.display()))?;
    if !out.status.success() {
        return Err(format!("{} failed its probe", path.display()));
    }
    let version = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    let major = parse_major(&version)
        .ok_or_else(|| format!("{} printed no version: {version:?}", path.display()))?;
    Ok(NodeBinary {
        path: path.to_owned(),
        major,
        version,
    })
}

/// `v20.20.2` → 20.
fn parse_major(version: &str) -> Option<u32> {
    version.strip_prefix('v')?.split('.').next()?.parse().ok()
}

/// Writes the bootstrap under the runtime dir when it is missing or stale.
pub(crate) fn install(runtime_dir: &Path) -> std::io::Result<()> {
    let path = runtime_dir.join(BOOTSTRAP_PATH);
    if std::fs::read_to_string(&path).ok().as_deref() == Some(NODE_BOOTSTRAP) {
        return Ok(());
    }
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    std::fs::write(&path, NODE_BOOTSTRAP)
}

/// `node`'s arguments, as AWS's bootstrap passes them: V8 heap sizes from the function's
/// memory (a tenth for the young generation), then the runtime's entry point.
pub(crate) fn args(memory_mb: u32, runtime_dir: &str) -> Vec<String> {
    let new_space = memory_mb / 10;
    vec![
        "--expose-gc".to_owned(),
        "--max-http-header-size".to_owned(),
        "81920".to_owned(),
        format!("--max-semi-space-size={}", new_space / 2),
        format!("--max-old-space-size={}", memory_mb - new_space),
        format!("{runtime_dir}/{BOOTSTRAP_PATH}"),
    ]
}

/// `NODE_PATH` as AWS's bootstrap sets it: the layers' version-specific and generic
/// `node_modules`, the runtime's, then the runtime and task roots.
pub(crate) fn node_path(major: u32, opt: &str, runtime_dir: &str, task: &str) -> String {
    format!(
        "{opt}/nodejs/node{major}/node_modules:{opt}/nodejs/node_modules:{runtime_dir}/node_modules:{runtime_dir}:{task}"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn majors() {
        assert_eq!(parse_major("v20.20.2"), Some(20));
        assert_eq!(parse_major("v8.1.0"), Some(8));
        assert_eq!(parse_major("20.1.0"), None);
        assert_eq!(parse_major("vx"), None);
    }

    #[test]
    fn launch_like_aws() {
        assert_eq!(
            args(128, "/var/runtime"),
            [
                "--expose-gc",
                "--max-http-header-size",
                "81920",
                "--max-semi-space-size=6",
                "--max-old-space-size=116",
                "/var/runtime/node/bootstrap.cjs"
            ]
        );
        assert_eq!(
            node_path(20, "/opt", "/var/runtime", "/var/task"),
            "/opt/nodejs/node20/node_modules:/opt/nodejs/node_modules:/var/runtime/node_modules:/var/runtime:/var/task"
        );
    }
}
