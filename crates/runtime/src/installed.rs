//! Finding installed interpreters (Python, Node.js) the way a shell would, without shims.

use std::path::{Path, PathBuf};

pub(crate) fn is_executable(p: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(p)
        .map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        .unwrap_or(false)
}

/// PATH without shim directories (pyenv's and nvm's shims add ~100 ms per start), then the
/// system locations, then the `bin` folders of a version manager's installs under
/// `~/<versions>` whose names start with `prefix` (`3.12.` in `.pyenv/versions`, `v20.`
/// in `.nvm/versions/node`), newest first.
pub(crate) fn search_dirs(versions: &str, prefix: &str) -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).collect())
        .unwrap_or_default();
    dirs.retain(|d| !d.to_string_lossy().contains("shims"));
    for d in ["/usr/local/bin", "/usr/bin", "/bin"] {
        let d = PathBuf::from(d);
        if !dirs.contains(&d) {
            dirs.push(d);
        }
    }
    if let Some(home) = std::env::var_os("HOME") {
        if let Ok(rd) = std::fs::read_dir(Path::new(&home).join(versions)) {
            let mut found: Vec<PathBuf> = rd
                .filter_map(|e| e.ok())
                .map(|e| e.path())
                .filter(|p| {
                    p.file_name()
                        .and_then(|n| n.to_str())
                        .is_some_and(|n| n.starts_with(prefix))
                })
                .map(|p| p.join("bin"))
                .collect();
            found.sort();
            found.reverse();
            dirs.extend(found);
        }
    }
    dirs
}
