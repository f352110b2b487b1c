//! File-system helpers: work directories that vanish on failure, read-only trees, and a
//! chroot-style symlink resolver.

use std::collections::VecDeque;
use std::ffi::OsString;
use std::fs;
use std::io;
use std::os::unix::fs::PermissionsExt;
use std::path::{Component, Path, PathBuf};

use crate::error::{io_err, StoreError};

/// Mode of a directory in a finished tree.
pub(crate) const DIR_MODE: u32 = 0o555;
/// Mode of a directory while a tree is being built.
const BUILD_DIR_MODE: u32 = 0o755;

/// A private work directory under `<artifacts>/tmp/`, named `<pid>.<random>` so that
/// [`clean_stale`] can tell a crashed process's leftovers from a live one's. Removed on drop
/// unless its contents were moved away.
#[derive(Debug)]
pub(crate) struct WorkDir {
    path: PathBuf,
}

impl WorkDir {
    pub(crate) fn new(tmp_root: &Path) -> Result<WorkDir, StoreError> {
        let name = format!("{}.{:016x}", std::process::id(), rand::random::<u64>());
        let path = tmp_root.join(name);
        fs::create_dir(&path).map_err(io_err("create work directory", &path))?;
        Ok(WorkDir { path })
    }

    pub(crate) fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for WorkDir {
    fn drop(&mut self) {
        if let Err(e) = remove_tree(&self.path) {
            tracing::warn!(path = %self.path.display(), error = %e, "cannot remove work directory");
        }
    }
}

/// Removes a directory tree even where earlier steps made its directories read-only.
pub(crate) fn remove_tree(path: &Path) -> io::Result<()> {
    match fs::symlink_metadata(path) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e),
        Ok(m) if !m.is_dir() => return fs::remove_file(path),
        Ok(_) => {}
    }
    match fs::remove_dir_all(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(_) => {
            make_dirs_writable(path)?;
            match fs::remove_dir_all(path) {
                Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
                other => other,
            }
        }
    }
}

fn make_dirs_writable(dir: &Path) -> io::Result<()> {
    fs::set_permissions(dir, fs::Permissions::from_mode(BUILD_DIR_MODE))?;
    for entry in fs::read_dir(dir)? {
        let entry = entry?;
        if entry.file_type()?.is_dir() {
            make_dirs_writable(&entry.path())?;
        }
    }
    Ok(())
}

/// Sets every directory strictly below `root` to [`DIR_MODE`]. The root itself stays
/// writable so that it can still be renamed into place (renaming a directory to another
/// parent needs write access to it); call [`seal_root`] after the rename.
pub(crate) fn seal_below(root: &Path) -> Result<(), StoreError> {
    fn walk(dir: &Path) -> Result<(), StoreError> {
        for entry in fs::read_dir(dir).map_err(io_err("read directory", dir))? {
            let entry = entry.map_err(io_err("read directory", dir))?;
            let path = entry.path();
            let ft = entry.file_type().map_err(io_err("stat", &path))?;
            if ft.is_dir() {
                walk(&path)?;
                fs::set_permissions(&path, fs::Permissions::from_mode(DIR_MODE))
                    .map_err(io_err("make read-only", &path))?;
            }
        }
        Ok(())
    }
    walk(root)
}

/// Makes the root of a finished tree read-only.
pub(crate) fn seal_root(root: &Path) -> Result<(), StoreError> {
    fs::set_permissions(root, fs::Permissions::from_mode(DIR_MODE))
        .map_err(io_err("make read-only", root))
}

/// Renames a finished file or directory to its content-addressed name. Another process (or
/// handle) may have won the race: a destination that already exists counts as success and
/// our copy is discarded, because both are the same content.
pub(crate) fn publish(from: &Path, to: &Path) -> Result<(), StoreError> {
    if fs::symlink_metadata(to).is_ok() {
        return Ok(());
    }
    match fs::rename(from, to) {
        Ok(()) => Ok(()),
        Err(e) if is_already_there(&e) || fs::symlink_metadata(to).is_ok() => Ok(()),
        Err(e) => Err(io_err("move into place", to)(e)),
    }
}

fn is_already_there(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::AlreadyExists | io::ErrorKind::DirectoryNotEmpty
    )
}

/// Removes work directories left behind by processes that no longer run.
pub(crate) fn clean_stale(tmp_root: &Path) -> Result<usize, StoreError> {
    let mut removed = 0;
    let entries = match fs::read_dir(tmp_root) {
        Ok(entries) => entries,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(0),
        Err(e) => return Err(io_err("read directory", tmp_root)(e)),
    };
    for entry in entries {
        let entry = entry.map_err(io_err("read directory", tmp_root))?;
        let name = entry.file_name();
        let owner_alive = name
            .to_str()
            .and_then(|n| n.split('.').next())
            .and_then(|pid| pid.parse::<u32>().ok())
            .is_some_and(process_alive);
        if owner_alive {
            continue;
        }
        let path = entry.path();
        remove_tree(&path).map_err(io_err("remove leftover", &path))?;
        tracing::info!(path = %path.display(), "removed leftover of an interrupted extraction");
        removed += 1;
    }
    Ok(removed)
}

fn process_alive(pid: u32) -> bool {
    // Linux only, like the rest of ledge's sandboxing. A leftover whose pid was reused by
    // another live process stays until that process is gone: harmless, just late.
    Path::new("/proc").join(pid.to_string()).exists()
}

/// Where a symlink leads, resolved the way the kernel would if `root` were `/`.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Resolution {
    Inside,
    /// Absolute, or climbs above `root` at some step.
    Outside,
    /// More than 40 links followed.
    Loop,
}

/// Resolves the symlink at `root/link` (relative path) through every other symlink of the
/// tree. Components that do not exist are taken lexically, which can only refuse more.
pub(crate) fn resolve_symlink(root: &Path, link: &Path) -> io::Result<Resolution> {
    let mut stack: Vec<OsString> = normal_components(link.parent().unwrap_or(Path::new("")));
    let target = fs::read_link(root.join(link))?;
    let mut pending: VecDeque<OsString> = VecDeque::new();
    if !push_target(&mut pending, &target) {
        return Ok(Resolution::Outside);
    }
    let mut hops = 0;
    while let Some(c) = pending.pop_front() {
        if c == ".." {
            if stack.pop().is_none() {
                return Ok(Resolution::Outside);
            }
            continue;
        }
        stack.push(c);
        let here: PathBuf = stack.iter().fold(root.to_path_buf(), |p, c| p.join(c));
        match fs::symlink_metadata(&here) {
            Ok(m) if m.file_type().is_symlink() => {
                hops += 1;
                if hops > 40 {
                    return Ok(Resolution::Loop);
                }
                let next = fs::read_link(&here)?;
                stack.pop();
                if !push_target(&mut pending, &next) {
                    return Ok(Resolution::Outside);
                }
            }
            _ => {}
        }
    }
    Ok(Resolution::Inside)
}

/// Prepends a link target's components to `pending`; false when the target is absolute.
fn push_target(pending: &mut VecDeque<OsString>, target: &Path) -> bool {
    let mut comps = Vec::new();
    for c in target.components() {
        match c {
            Component::Normal(n) => comps.push(n.to_os_string()),
            Component::ParentDir => comps.push(OsString::from("..")),
            Component::CurDir => {}
            Component::RootDir | Component::Prefix(_) => return false,
        }
    }
    for c in comps.into_iter().rev() {
        pending.push_front(c);
    }
    true
}

fn normal_components(p: &Path) -> Vec<OsString> {
    p.components()
        .filter_map(|c| match c {
            Component::Normal(n) => Some(n.to_os_string()),
            _ => None,
        })
        .collect()
}

/// Every symlink under `root`, as paths relative to it, in a stable order.
pub(crate) fn symlinks_below(root: &Path) -> Result<Vec<PathBuf>, StoreError> {
    let mut out = Vec::new();
    let mut dirs = vec![PathBuf::new()];
    while let Some(rel) = dirs.pop() {
        let dir = root.join(&rel);
        let mut entries: Vec<_> = fs::read_dir(&dir)
            .map_err(io_err("read directory", &dir))?
            .collect::<Result<_, _>>()
            .map_err(io_err("read directory", &dir))?;
        entries.sort_by_key(|e| e.file_name());
        for entry in entries {
            let ft = entry.file_type().map_err(io_err("stat", entry.path()))?;
            let child = rel.join(entry.file_name());
            if ft.is_symlink() {
                out.push(child);
            } else if ft.is_dir() {
                dirs.push(child);
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    fn tree() -> tempfile::TempDir {
        let t = tempfile::tempdir().expect("tempdir");
        fs::create_dir_all(t.path().join("a/b")).expect("mkdir");
        fs::write(t.path().join("a/b/f"), "x").expect("write");
        t
    }

    #[test]
    fn relative_links_inside_resolve_inside() {
        let t = tree();
        symlink("b/f", t.path().join("a/l")).expect("symlink");
        symlink("../a/b/../b/f", t.path().join("a/m")).expect("symlink");
        symlink("missing/..", t.path().join("a/n")).expect("symlink");
        for l in ["a/l", "a/m", "a/n"] {
            assert_eq!(
                resolve_symlink(t.path(), Path::new(l)).expect("resolve"),
                Resolution::Inside,
                "{l}"
            );
        }
    }

    #[test]
    fn climbing_above_the_root_is_outside() {
        let t = tree();
        symlink("../../x", t.path().join("a/l")).expect("symlink");
        symlink("/etc/passwd", t.path().join("a/abs")).expect("symlink");
        assert_eq!(
            resolve_symlink(t.path(), Path::new("a/l")).expect("resolve"),
            Resolution::Outside
        );
        assert_eq!(
            resolve_symlink(t.path(), Path::new("a/abs")).expect("resolve"),
            Resolution::Outside
        );
    }

    #[test]
    fn escape_through_another_link_is_seen() {
        // `up -> .` is harmless alone, and `a/l -> ../up/..` looks harmless lexically
        // (a/../up/.. = root), but the kernel resolves up to the root and then climbs out.
        let t = tree();
        symlink(".", t.path().join("up")).expect("symlink");
        symlink("../up/..", t.path().join("a/l")).expect("symlink");
        assert_eq!(
            resolve_symlink(t.path(), Path::new("up")).expect("resolve"),
            Resolution::Inside
        );
        assert_eq!(
            resolve_symlink(t.path(), Path::new("a/l")).expect("resolve"),
            Resolution::Outside
        );
    }

    #[test]
    fn loops_are_reported() {
        let t = tree();
        symlink("q", t.path().join("p")).expect("symlink");
        symlink("p", t.path().join("q")).expect("symlink");
        assert_eq!(
            resolve_symlink(t.path(), Path::new("p")).expect("resolve"),
            Resolution::Loop
        );
    }

    #[test]
    fn stale_work_dirs_go_live_ones_stay() {
        let t = tempfile::tempdir().expect("tempdir");
        let live = WorkDir::new(t.path()).expect("workdir");
        fs::create_dir_all(t.path().join("999999999.dead/sub")).expect("mkdir");
        fs::set_permissions(
            t.path().join("999999999.dead/sub"),
            fs::Permissions::from_mode(0o555),
        )
        .expect("chmod");
        fs::create_dir(t.path().join("garbage")).expect("mkdir");
        assert_eq!(clean_stale(t.path()).expect("clean"), 2);
        assert!(live.path().exists());
        drop(live);
        assert_eq!(fs::read_dir(t.path()).expect("read").count(), 0);
    }
}
