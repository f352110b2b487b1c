//! Finding the Python interpreter that serves a `python3.X` function.
//!
//! Lambda runs each function on the exact minor version it names. ledge uses the same
//! minor version when it is installed, and otherwise the newest `python3` it can find,
//! with one warning per function. It launches interpreter binaries directly, never a
//! shim: a pyenv shim costs ~100 ms per start.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;

/// An interpreter ledge has probed.
#[derive(Debug, Clone, PartialEq)]
pub struct Interpreter {
    pub path: PathBuf,
    pub minor: u32,
    /// `3.11.2`
    pub version: String,
    /// The interpreter's own site-packages (ledge starts it with `-S`).
    pub site_dirs: Vec<String>,
}

/// Interpreter lookup with a cache per requested minor version.
#[derive(Debug, Default)]
pub struct Pythons {
    override_path: Option<PathBuf>,
    cache: Mutex<HashMap<u32, Result<Interpreter, String>>>,
}

impl Pythons {
    /// `override_path` forces one interpreter for every Python function.
    pub fn new(override_path: Option<PathBuf>) -> Self {
        Self {
            override_path,
            cache: Mutex::new(HashMap::new()),
        }
    }

    /// The interpreter for `python3.<minor>`; the flag is true when it is a stand-in.
    pub fn find(&self, minor: u32) -> Result<(Interpreter, bool), String> {
        if let Ok(cache) = self.cache.lock() {
            if let Some(hit) = cache.get(&minor) {
                return hit.clone().map(|i| {
                    let stand_in = i.minor != minor;
                    (i, stand_in)
                });
            }
        }
        let found = self.lookup(minor);
        if let Ok(mut cache) = self.cache.lock() {
            cache.insert(minor, found.clone());
        }
        found.map(|i| {
            let stand_in = i.minor != minor;
            (i, stand_in)
        })
    }

    fn lookup(&self, minor: u32) -> Result<Interpreter, String> {
        if let Some(p) = &self.override_path {
            return probe(p);
        }
        let exact = format!("python3.{minor}");
        for dir in crate::installed::search_dirs(".pyenv/versions", &format!("3.{minor}.")) {
            let candidate = dir.join(&exact);
            if crate::installed::is_executable(&candidate) {
                if let Ok(i) = probe(&candidate) {
                    return Ok(i);
                }
            }
        }
        let mut best: Option<Interpreter> = None;
        for dir in crate::installed::search_dirs(".pyenv/versions", &format!("3.{minor}.")) {
            let candidate = dir.join("python3");
            if crate::installed::is_executable(&candidate) {
                if let Ok(i) = probe(&candidate) {
                    if best.as_ref().is_none_or(|b| i.minor > b.minor) {
                        best = Some(i);
                    }
                }
            }
        }
        best.ok_or_else(|| format!("no Python interpreter found for python3.{minor} (looked for python3.{minor} and python3 on PATH, /usr/bin, /usr/local/bin and ~/.pyenv/versions)"))
    }
}

const PROBE: &str = "import sys, site\nprint(sys.version_info[1])\nprint(sys.version.split()[0])\nfor d in site.getsitepackages(): print(d)\n";

fn probe(path: &Path) -> Result<Interpreter, String> {
    let out = Command::new(path)
        .args(["-S", "-c", PROBE])
        .output()
        .map_err(|e| format!("cannot run {}: {e}", path.display()))?;
    if !out.status.success() {
        return Err(format!("{} failed its probe", path.display()));
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let mut lines = text.lines();
    let minor = lines
        .next()
        .and_then(|l| l.trim().parse().ok())
        .ok_or_else(|| format!("{} printed no version", path.display()))?;
    let version = lines.next().unwrap_or_default().trim().to_owned();
    let site_dirs = lines.map(str::to_owned).collect();
    Ok(Interpreter {
        path: path.to_owned(),
        minor,
        version,
        site_dirs,
    })
}
