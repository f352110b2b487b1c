//! cgroup discovery, per-environment cgroups, limits, accounting and kill-by-membership.
//!
//! Layout: for each hierarchy used, `<own>/<instance name>/<environment id>`, where `<own>` is
//! the cgroup ledge itself runs in (from `/proc/self/cgroup` and `/proc/self/mountinfo`).
//! Nothing is ever written outside `<own>/<instance name>`, except removing stale
//! `ledge-<pid>` siblings whose process is gone.

use std::fs;
use std::io;
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

use crate::{CgroupKind, Limits, SandboxError};

/// CFS period used for every CPU quota, in microseconds.
pub(crate) const CPU_PERIOD_US: u64 = 100_000;
/// The kernel rejects quotas below 1 ms.
pub(crate) const CPU_MIN_QUOTA_US: u64 = 1_000;
/// How long kill and removal keep trying before giving up with a warning.
const KILL_TIMEOUT: Duration = Duration::from_secs(2);

/// Which jobs one hierarchy directory does for us.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Roles {
    pub(crate) memory: bool,
    pub(crate) cpu: bool,
    pub(crate) cpuacct: bool,
    pub(crate) pids: bool,
}

impl Roles {
    fn merge(self, o: Roles) -> Roles {
        Roles {
            memory: self.memory || o.memory,
            cpu: self.cpu || o.cpu,
            cpuacct: self.cpuacct || o.cpuacct,
            pids: self.pids || o.pids,
        }
    }
}

/// One hierarchy (v1) or the unified hierarchy (v2) with ledge's parent cgroup in it.
#[derive(Debug, Clone)]
pub(crate) struct Hierarchy {
    /// `<own>/<instance name>`.
    pub(crate) base: PathBuf,
    pub(crate) roles: Roles,
}

/// What the probe found usable.
#[derive(Debug, Clone)]
pub(crate) struct Layout {
    pub(crate) kind: CgroupKind,
    pub(crate) hierarchies: Vec<Hierarchy>,
}

impl Layout {
    pub(crate) fn roles(&self) -> Roles {
        self.hierarchies
            .iter()
            .fold(Roles::default(), |acc, h| acc.merge(h.roles))
    }

    /// Kills everything below every base and removes the bases (shutdown).
    pub(crate) fn cleanup(&self) {
        for h in &self.hierarchies {
            if h.base.exists() {
                if let Err(e) = remove_tree(&h.base, self.kind) {
                    tracing::warn!(path = %h.base.display(), error = %e, "could not remove ledge cgroup");
                }
            }
        }
    }

    /// Recreates a base removed by an earlier `cleanup` (and re-enables v2 controllers).
    fn ensure_base(&self, h: &Hierarchy) -> Result<(), SandboxError> {
        if h.base.is_dir() {
            return Ok(());
        }
        mkdir(&h.base)?;
        if self.kind == CgroupKind::V2 {
            let wanted = v2_controller_list(h.roles);
            let path = h.base.join("cgroup.subtree_control");
            if !wanted.is_empty() {
                fs::write(&path, wanted).map_err(|source| SandboxError::Cgroup { path, source })?;
            }
        }
        Ok(())
    }
}

/// A limit value for `memory.max` / `pids.max` (v1 `pids.max` too): 0 means unlimited.
fn v2_limit(n: u64) -> String {
    if n == 0 {
        "max".to_owned()
    } else {
        n.to_string()
    }
}

fn v2_controller_list(roles: Roles) -> String {
    let mut parts = Vec::new();
    if roles.memory {
        parts.push("+memory");
    }
    if roles.cpu {
        parts.push("+cpu");
    }
    if roles.pids {
        parts.push("+pids");
    }
    parts.join(" ")
}

// ---------------------------------------------------------------------------------------------
// Discovery (pure parsing, unit-tested)

/// One line of `/proc/self/mountinfo`, the fields we need.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct MountEntry {
    pub(crate) root: String,
    pub(crate) mount_point: PathBuf,
    pub(crate) fstype: String,
    pub(crate) super_opts: String,
}

/// Parses `/proc/<pid>/mountinfo`: `id parent maj:min root mountpoint opts [optional...] -
/// fstype source superopts`.
pub(crate) fn parse_mountinfo(text: &str) -> Vec<MountEntry> {
    text.lines()
        .filter_map(|line| {
            let (left, right) = line.split_once(" - ")?;
            let left: Vec<&str> = left.split(' ').collect();
            let mut right = right.split(' ');
            let root = unescape_octal(left.get(3)?);
            let mount_point = PathBuf::from(unescape_octal(left.get(4)?));
            let fstype = right.next()?.to_owned();
            let _source = right.next()?;
            let super_opts = right.next().unwrap_or("").to_owned();
            Some(MountEntry {
                root,
                mount_point,
                fstype,
                super_opts,
            })
        })
        .collect()
}

/// mountinfo escapes space, tab, newline and backslash as `\ooo`.
fn unescape_octal(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\' {
            if let Some(oct) = b.get(i + 1..i + 4) {
                if oct.iter().all(|c| (b'0'..=b'7').contains(c)) {
                    let v = oct
                        .iter()
                        .fold(0u16, |acc, c| acc * 8 + u16::from(c - b'0'));
                    if let Ok(v) = u8::try_from(v) {
                        out.push(v);
                        i += 4;
                        continue;
                    }
                }
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// One line of `/proc/self/cgroup`: `hierarchy-id:controllers:path`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct CgroupLine {
    pub(crate) id: String,
    pub(crate) controllers: Vec<String>,
    pub(crate) path: String,
}

pub(crate) fn parse_proc_cgroup(text: &str) -> Vec<CgroupLine> {
    text.lines()
        .filter_map(|line| {
            let mut it = line.splitn(3, ':');
            let id = it.next()?.to_owned();
            let controllers = it
                .next()?
                .split(',')
                .filter(|c| !c.is_empty())
                .map(str::to_owned)
                .collect();
            let path = it.next()?.to_owned();
            Some(CgroupLine {
                id,
                controllers,
                path,
            })
        })
        .collect()
}

/// Maps a cgroup path (as in `/proc/self/cgroup`) to a directory through a mount of its
/// hierarchy, honouring the mount's root (bind-mounted or namespaced cgroupfs).
pub(crate) fn resolve(mount: &MountEntry, cgroup_path: &str) -> Option<PathBuf> {
    let root = mount.root.trim_end_matches('/');
    let rel = if root.is_empty() {
        cgroup_path
    } else if cgroup_path == root {
        ""
    } else {
        let rest = cgroup_path.strip_prefix(root)?;
        if !rest.starts_with('/') {
            return None;
        }
        rest
    };
    let rel = rel.trim_start_matches('/');
    if rel.split('/').any(|c| c == "..") {
        return None;
    }
    Some(if rel.is_empty() {
        mount.mount_point.clone()
    } else {
        mount.mount_point.join(rel)
    })
}

/// Own cgroup directory of a v1 controller, if its hierarchy is mounted.
pub(crate) fn v1_own_dir(
    mounts: &[MountEntry],
    lines: &[CgroupLine],
    controller: &str,
) -> Option<PathBuf> {
    let line = lines
        .iter()
        .find(|l| l.id != "0" && l.controllers.iter().any(|c| c == controller))?;
    mounts
        .iter()
        .filter(|m| m.fstype == "cgroup" && m.super_opts.split(',').any(|o| o == controller))
        .find_map(|m| resolve(m, &line.path))
}

/// Own cgroup directory in the unified (v2) hierarchy, if mounted.
pub(crate) fn v2_own_dir(mounts: &[MountEntry], lines: &[CgroupLine]) -> Option<PathBuf> {
    let line = lines
        .iter()
        .find(|l| l.id == "0" && l.controllers.is_empty())?;
    mounts
        .iter()
        .filter(|m| m.fstype == "cgroup2")
        .find_map(|m| resolve(m, &line.path))
}

/// `ledge-<pid>` or `ledge-<pid>-<suffix>` → pid.
pub(crate) fn instance_pid(name: &str) -> Option<i32> {
    let rest = name.strip_prefix("ledge-")?;
    let digits = rest.split('-').next()?;
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

/// CFS quota in µs for a fractional core count; `None` means unlimited.
pub(crate) fn cpu_quota_us(cores: f64) -> Option<u64> {
    if !cores.is_finite() || cores <= 0.0 {
        return None;
    }
    // Bounded: cores is finite and positive; the cast saturates for absurd values.
    let quota = (cores * CPU_PERIOD_US as f64).round() as u64;
    Some(quota.max(CPU_MIN_QUOTA_US))
}

/// Value of `key` in a flat-keyed file such as `cpu.stat` or `memory.events`.
pub(crate) fn keyed_value(text: &str, key: &str) -> Option<u64> {
    text.lines().find_map(|l| {
        let mut it = l.split_whitespace();
        if it.next()? == key {
            it.next()?.parse().ok()
        } else {
            None
        }
    })
}

// ---------------------------------------------------------------------------------------------
// Probe (touches the system)

/// Result of probing cgroups.
#[derive(Debug)]
pub(crate) struct CgroupProbe {
    pub(crate) layout: Option<Layout>,
    /// Human-readable reasons something is not used, for logs.
    pub(crate) problems: Vec<String>,
}

const V1_CONTROLLERS: [&str; 4] = ["memory", "cpu", "cpuacct", "pids"];

pub(crate) fn probe(name: &str) -> CgroupProbe {
    let mut problems = Vec::new();
    if name.is_empty() || name.contains('/') || name == "." || name == ".." || name.contains('\0') {
        problems.push(format!("invalid instance name {name:?}"));
        return CgroupProbe {
            layout: None,
            problems,
        };
    }
    let (mountinfo, proc_cgroup) = match (
        fs::read_to_string("/proc/self/mountinfo"),
        fs::read_to_string("/proc/self/cgroup"),
    ) {
        (Ok(m), Ok(c)) => (m, c),
        (Err(e), _) | (_, Err(e)) => {
            problems.push(format!("cannot read /proc/self: {e}"));
            return CgroupProbe {
                layout: None,
                problems,
            };
        }
    };
    let mounts = parse_mountinfo(&mountinfo);
    let lines = parse_proc_cgroup(&proc_cgroup);

    let v1: Vec<(&str, PathBuf)> = V1_CONTROLLERS
        .iter()
        .filter_map(|c| v1_own_dir(&mounts, &lines, c).map(|d| (*c, d)))
        .collect();
    let v2 = v2_own_dir(&mounts, &lines);

    if let Some(own) = &v2 {
        let offered = read_words(&own.join("cgroup.controllers"));
        let useful = ["memory", "cpu", "pids"]
            .iter()
            .any(|c| offered.iter().any(|o| o == c));
        // Hybrid hosts mount an empty cgroup2 next to v1: prefer v1 there.
        if useful || v1.is_empty() {
            match probe_v2(own, name, &mut problems) {
                Some(layout) => {
                    return CgroupProbe {
                        layout: Some(layout),
                        problems,
                    }
                }
                None if v1.is_empty() => {
                    return CgroupProbe {
                        layout: None,
                        problems,
                    }
                }
                None => {}
            }
        }
    }
    if v1.is_empty() {
        problems.push("no cgroup hierarchy with memory, cpu or pids is mounted".to_owned());
        return CgroupProbe {
            layout: None,
            problems,
        };
    }
    let layout = probe_v1(&v1, name, &mut problems);
    CgroupProbe { layout, problems }
}

pub(crate) fn probe_v2(own: &Path, name: &str, problems: &mut Vec<String>) -> Option<Layout> {
    remove_stale(own, CgroupKind::V2);
    let base = own.join(name);
    if let Err(e) = mkdir(&base) {
        problems.push(format!("cgroup v2: {e} ({})", source_text(&e)));
        return None;
    }
    let delegated = read_words(&base.join("cgroup.controllers"));
    let mut roles = Roles {
        cpuacct: true, // cpu.stat usage_usec exists in every v2 cgroup
        ..Roles::default()
    };
    for c in ["memory", "cpu", "pids"] {
        if !delegated.iter().any(|d| d == c) {
            problems.push(format!(
                "cgroup v2: controller {c} is not delegated to {} (enable it in that cgroup's cgroup.subtree_control)",
                own.display()
            ));
            continue;
        }
        let path = base.join("cgroup.subtree_control");
        match fs::write(&path, format!("+{c}")) {
            Ok(()) => match c {
                "memory" => roles.memory = true,
                "cpu" => roles.cpu = true,
                _ => roles.pids = true,
            },
            Err(e) => problems.push(format!(
                "cgroup v2: enabling {c} in {}: {e}",
                path.display()
            )),
        }
    }
    let test = base.join(format!("probe-{}", std::process::id()));
    let ok = match mkdir(&test) {
        Ok(()) => {
            let files_ok = (!roles.memory || test.join("memory.max").exists())
                && (!roles.cpu || test.join("cpu.max").exists())
                && (!roles.pids || test.join("pids.max").exists())
                && test.join("cgroup.procs").exists();
            let _ = fs::remove_dir(&test);
            if !files_ok {
                problems.push(format!(
                    "cgroup v2: {} lacks the expected control files",
                    test.display()
                ));
            }
            files_ok
        }
        Err(e) => {
            problems.push(format!("cgroup v2: {e} ({})", source_text(&e)));
            false
        }
    };
    if !ok {
        let _ = fs::remove_dir(&base);
        return None;
    }
    Some(Layout {
        kind: CgroupKind::V2,
        hierarchies: vec![Hierarchy { base, roles }],
    })
}

fn probe_v1(v1: &[(&str, PathBuf)], name: &str, problems: &mut Vec<String>) -> Option<Layout> {
    // Group controllers by directory: `cpu,cpuacct` is one hierarchy on many hosts.
    let mut dirs: Vec<(PathBuf, Roles)> = Vec::new();
    for (c, own) in v1 {
        let role = Roles {
            memory: *c == "memory",
            cpu: *c == "cpu",
            cpuacct: *c == "cpuacct",
            pids: *c == "pids",
        };
        match dirs.iter_mut().find(|(d, _)| d == own) {
            Some((_, r)) => *r = r.merge(role),
            None => dirs.push((own.clone(), role)),
        }
    }
    let mut hierarchies = Vec::new();
    for (own, mut roles) in dirs {
        remove_stale(&own, CgroupKind::V1);
        let base = own.join(name);
        if let Err(e) = mkdir(&base) {
            problems.push(format!("cgroup v1: {e} ({})", source_text(&e)));
            continue;
        }
        let test = base.join(format!("probe-{}", std::process::id()));
        if let Err(e) = mkdir(&test) {
            problems.push(format!("cgroup v1: {e} ({})", source_text(&e)));
            let _ = fs::remove_dir(&base);
            continue;
        }
        for (enabled, file, what) in [
            (&mut roles.memory, "memory.limit_in_bytes", "memory"),
            (&mut roles.cpu, "cpu.cfs_quota_us", "cpu"),
            (&mut roles.cpuacct, "cpuacct.usage", "cpuacct"),
            (&mut roles.pids, "pids.max", "pids"),
        ] {
            if *enabled && !test.join(file).exists() {
                problems.push(format!("cgroup v1: {what}: {} is missing", file));
                *enabled = false;
            }
        }
        let _ = fs::remove_dir(&test);
        if roles == Roles::default() {
            let _ = fs::remove_dir(&base);
            continue;
        }
        hierarchies.push(Hierarchy { base, roles });
    }
    if hierarchies.is_empty() {
        return None;
    }
    Some(Layout {
        kind: CgroupKind::V1,
        hierarchies,
    })
}

/// Removes `ledge-<pid>[-…]` siblings in `own` whose process no longer exists.
fn remove_stale(own: &Path, kind: CgroupKind) {
    let Ok(entries) = fs::read_dir(own) else {
        return;
    };
    let me = i32::try_from(std::process::id()).unwrap_or(i32::MAX);
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(pid) = name.to_str().and_then(instance_pid) else {
            continue;
        };
        if pid == me || Path::new(&format!("/proc/{pid}")).exists() {
            continue;
        }
        let path = entry.path();
        if !path.is_dir() {
            continue;
        }
        match remove_tree(&path, kind) {
            Ok(()) => tracing::info!(path = %path.display(), "removed stale ledge cgroup"),
            Err(e) => {
                tracing::warn!(path = %path.display(), error = %e, "could not remove stale ledge cgroup");
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Per-environment group

/// The cgroup directories of one environment; dropping it kills their processes and removes
/// them.
#[derive(Debug)]
pub(crate) struct Group {
    kind: CgroupKind,
    dirs: Vec<(PathBuf, Roles)>,
    /// The statistics files read after every invocation, opened once: re-reading an open
    /// cgroup file at offset 0 yields fresh values, and saves an open, a stat and a close
    /// per file per invocation.
    stats: StatFiles,
}

#[derive(Debug, Default)]
struct StatFiles {
    memory_peak: std::sync::OnceLock<Option<fs::File>>,
    cpu_usage: std::sync::OnceLock<Option<fs::File>>,
    cpu_stat: std::sync::OnceLock<Option<fs::File>>,
}

/// Reads a small statistics file from its start into `buf`; `None` when it cannot.
fn read_stat<'a>(
    cell: &std::sync::OnceLock<Option<fs::File>>,
    path: impl FnOnce() -> Option<PathBuf>,
    buf: &'a mut [u8; 1024],
) -> Option<&'a str> {
    use std::os::unix::fs::FileExt;
    let file = cell
        .get_or_init(|| path().and_then(|p| fs::File::open(p).ok()))
        .as_ref()?;
    let n = file.read_at(buf, 0).ok()?;
    std::str::from_utf8(&buf[..n]).ok()
}

impl Group {
    /// Creates `<base>/<id>` in every hierarchy and writes the limits.
    pub(crate) fn create(
        layout: &Layout,
        id: &str,
        limits: &Limits,
    ) -> Result<Group, SandboxError> {
        let mut group = Group {
            kind: layout.kind,
            dirs: Vec::new(),
            stats: StatFiles::default(),
        };
        for h in &layout.hierarchies {
            layout.ensure_base(h)?;
            let dir = h.base.join(id);
            if dir.exists() {
                // Left over from an earlier environment with the same id: start clean.
                remove_tree(&dir, layout.kind).map_err(|source| SandboxError::Cgroup {
                    path: dir.clone(),
                    source,
                })?;
            }
            mkdir(&dir)?;
            group.dirs.push((dir.clone(), h.roles));
            group.write_limits(&dir, h.roles, limits)?;
        }
        Ok(group)
    }

    fn write_limits(&self, dir: &Path, roles: Roles, limits: &Limits) -> Result<(), SandboxError> {
        let quota = cpu_quota_us(limits.cpu_cores);
        match self.kind {
            CgroupKind::V2 => {
                if roles.memory {
                    write_file(dir, "memory.max", &v2_limit(limits.memory_bytes))?;
                    write_optional(dir, "memory.swap.max", "0")?;
                    // Lambda loses the whole environment on OOM, not one process of it.
                    write_optional(dir, "memory.oom.group", "1")?;
                }
                if roles.cpu {
                    let q = quota.map_or_else(|| "max".to_owned(), |q| q.to_string());
                    write_file(dir, "cpu.max", &format!("{q} {CPU_PERIOD_US}"))?;
                }
                if roles.pids {
                    write_file(dir, "pids.max", &v2_limit(u64::from(limits.pids)))?;
                }
            }
            CgroupKind::V1 | CgroupKind::None => {
                if roles.memory {
                    let bytes = match limits.memory_bytes {
                        0 => "-1".to_owned(),
                        n => n.to_string(),
                    };
                    write_file(dir, "memory.limit_in_bytes", &bytes)?;
                    // Same value: no swapping past the limit (present with swap accounting).
                    write_optional(dir, "memory.memsw.limit_in_bytes", &bytes)?;
                    let _ = fs::write(dir.join("memory.swappiness"), "0");
                }
                if roles.cpu {
                    write_file(dir, "cpu.cfs_period_us", &CPU_PERIOD_US.to_string())?;
                    let q = quota.map_or_else(|| "-1".to_owned(), |q| q.to_string());
                    write_file(dir, "cpu.cfs_quota_us", &q)?;
                }
                if roles.pids {
                    write_file(dir, "pids.max", &v2_limit(u64::from(limits.pids)))?;
                }
            }
        }
        Ok(())
    }

    /// Opens, in every hierarchy, the file the child writes "0" into after fork to move
    /// itself in (`O_CLOEXEC`). In v1 that is `tasks`: the forked child is a single
    /// thread, and moving one thread skips the whole-process lock (`cgroup.procs` takes
    /// `cgroup_threadgroup_rwsem` for writing, which waits for an RCU grace period: ~8 ms
    /// on the first cold start after a quiet spell). Threads it starts later follow it.
    pub(crate) fn open_procs(&self) -> Result<Vec<OwnedFd>, SandboxError> {
        let file = match self.kind {
            CgroupKind::V2 => "cgroup.procs",
            CgroupKind::V1 | CgroupKind::None => "tasks",
        };
        self.dirs
            .iter()
            .map(|(dir, _)| {
                let path = dir.join(file);
                // std opens with O_CLOEXEC.
                fs::OpenOptions::new()
                    .write(true)
                    .open(&path)
                    .map(OwnedFd::from)
                    .map_err(|source| SandboxError::Cgroup { path, source })
            })
            .collect()
    }

    pub(crate) fn dirs(&self) -> impl Iterator<Item = &Path> {
        self.dirs.iter().map(|(d, _)| d.as_path())
    }

    fn dir_for(&self, pick: impl Fn(Roles) -> bool) -> Option<&Path> {
        self.dirs
            .iter()
            .find(|(_, r)| pick(*r))
            .map(|(d, _)| d.as_path())
    }

    /// Sends SIGKILL to every process in the group once; returns how many were listed.
    pub(crate) fn kill_once(&self) -> usize {
        self.dirs
            .iter()
            .map(|(dir, _)| kill_dir_once(dir, self.kind))
            .sum()
    }

    pub(crate) fn memory_peak_bytes(&self) -> Option<u64> {
        let file = match self.kind {
            CgroupKind::V2 => "memory.peak",
            _ => "memory.max_usage_in_bytes",
        };
        let mut buf = [0u8; 1024];
        read_stat(
            &self.stats.memory_peak,
            || Some(self.dir_for(|r| r.memory)?.join(file)),
            &mut buf,
        )?
        .trim()
        .parse()
        .ok()
    }

    pub(crate) fn memory_current_bytes(&self) -> Option<u64> {
        let dir = self.dir_for(|r| r.memory)?;
        match self.kind {
            CgroupKind::V2 => read_u64(&dir.join("memory.current")),
            _ => read_u64(&dir.join("memory.usage_in_bytes")),
        }
    }

    pub(crate) fn oom_killed(&self) -> bool {
        let Some(dir) = self.dir_for(|r| r.memory) else {
            return false;
        };
        match self.kind {
            CgroupKind::V2 => fs::read_to_string(dir.join("memory.events"))
                .ok()
                .and_then(|t| keyed_value(&t, "oom_kill"))
                .is_some_and(|n| n > 0),
            _ => match fs::read_to_string(dir.join("memory.oom_control"))
                .ok()
                .and_then(|t| keyed_value(&t, "oom_kill"))
            {
                Some(n) => n > 0,
                // Kernels before 4.13 lack the counter: the limit was hit at least once.
                None => read_u64(&dir.join("memory.failcnt")).is_some_and(|n| n > 0),
            },
        }
    }

    pub(crate) fn cpu_usage(&self) -> Option<Duration> {
        let mut buf = [0u8; 1024];
        match self.kind {
            CgroupKind::V2 => {
                // cpu.stat is the cpu controller's and cpuacct's file at once in v2.
                let t = read_stat(
                    &self.stats.cpu_stat,
                    || Some(self.dir_for(|r| r.cpuacct)?.join("cpu.stat")),
                    &mut buf,
                )?;
                keyed_value(t, "usage_usec").map(Duration::from_micros)
            }
            _ => read_stat(
                &self.stats.cpu_usage,
                || Some(self.dir_for(|r| r.cpuacct)?.join("cpuacct.usage")),
                &mut buf,
            )?
            .trim()
            .parse()
            .ok()
            .map(Duration::from_nanos),
        }
    }

    pub(crate) fn cpu_throttled(&self) -> Option<Duration> {
        let mut buf = [0u8; 1024];
        let t = read_stat(
            &self.stats.cpu_stat,
            || Some(self.dir_for(|r| r.cpu)?.join("cpu.stat")),
            &mut buf,
        )?;
        match self.kind {
            CgroupKind::V2 => keyed_value(t, "throttled_usec").map(Duration::from_micros),
            _ => keyed_value(t, "throttled_time").map(Duration::from_nanos),
        }
    }
}

impl Drop for Group {
    fn drop(&mut self) {
        // Close the statistics files before the directories go.
        self.stats = StatFiles::default();
        for (dir, _) in &self.dirs {
            if let Err(e) = remove_tree(dir, self.kind) {
                tracing::warn!(path = %dir.display(), error = %e, "could not remove environment cgroup");
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Helpers

fn mkdir(path: &Path) -> Result<(), SandboxError> {
    match fs::create_dir(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Ok(()),
        Err(source) => Err(SandboxError::Cgroup {
            path: path.to_owned(),
            source,
        }),
    }
}

fn write_file(dir: &Path, file: &str, value: &str) -> Result<(), SandboxError> {
    let path = dir.join(file);
    fs::write(&path, value).map_err(|source| SandboxError::Cgroup { path, source })
}

/// Writes a control file that only some kernels or configurations have.
fn write_optional(dir: &Path, file: &str, value: &str) -> Result<(), SandboxError> {
    let path = dir.join(file);
    if !path.exists() {
        return Ok(());
    }
    fs::write(&path, value).map_err(|source| SandboxError::Cgroup { path, source })
}

fn read_u64(path: &Path) -> Option<u64> {
    fs::read_to_string(path).ok()?.trim().parse().ok()
}

fn read_words(path: &Path) -> Vec<String> {
    fs::read_to_string(path)
        .map(|t| t.split_whitespace().map(str::to_owned).collect())
        .unwrap_or_default()
}

fn source_text(e: &SandboxError) -> String {
    std::error::Error::source(e).map_or_else(String::new, ToString::to_string)
}

fn read_pids(dir: &Path) -> Vec<i32> {
    fs::read_to_string(dir.join("cgroup.procs"))
        .map(|t| t.lines().filter_map(|l| l.trim().parse().ok()).collect())
        .unwrap_or_default()
}

/// One round of SIGKILL to the processes directly in `dir`; returns how many were listed.
fn kill_dir_once(dir: &Path, kind: CgroupKind) -> usize {
    if kind == CgroupKind::V2 {
        // cgroup.kill (Linux 5.14) kills the whole subtree, racing forks correctly.
        let kill_file = dir.join("cgroup.kill");
        if kill_file.exists() {
            let _ = fs::write(&kill_file, "1");
        }
    }
    let pids = read_pids(dir);
    for pid in &pids {
        if *pid > 0 {
            let _ = kill(Pid::from_raw(*pid), Signal::SIGKILL);
        }
    }
    pids.len()
}

fn subdirs(dir: &Path) -> Vec<PathBuf> {
    fs::read_dir(dir)
        .map(|it| {
            it.flatten()
                .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
                .map(|e| e.path())
                .collect()
        })
        .unwrap_or_default()
}

/// Kills every process in `dir` and below, then removes the directories bottom-up, retrying
/// (bounded) while the kernel still reports the cgroup busy.
pub(crate) fn remove_tree(dir: &Path, kind: CgroupKind) -> io::Result<()> {
    for sub in subdirs(dir) {
        remove_tree(&sub, kind)?;
    }
    let deadline = Instant::now() + KILL_TIMEOUT;
    let mut pause = Duration::from_millis(1);
    loop {
        kill_dir_once(dir, kind);
        match fs::remove_dir(dir) {
            Ok(()) => return Ok(()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
            Err(e) if Instant::now() >= deadline => return Err(e),
            Err(_) => {
                // Sync by necessity (called from Drop); bounded by KILL_TIMEOUT.
                std::thread::sleep(pause);
                pause = (pause * 2).min(Duration::from_millis(50));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MOUNTINFO: &str = "\
31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
33 31 0:30 / /sys/fs/cgroup/cpuacct rw,relatime - cgroup cgroup rw,cpuacct
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
39 31 0:36 / /sys/fs/cgroup/pids rw,relatime shared:5 - cgroup cgroup rw,pids
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
50 23 0:40 /docker/abc /mnt/my\\040cg rw - cgroup2 cgroup2 rw
";

    const PROC_CGROUP: &str = "\
8:pids:/
4:memory:/process_api/f635
2:cpuacct:/
1:cpu:/
0::/
";

    #[test]
    fn mountinfo_fields_and_escapes() {
        let m = parse_mountinfo(MOUNTINFO);
        assert_eq!(m.len(), 7);
        assert_eq!(m[1].fstype, "cgroup");
        assert_eq!(m[1].super_opts, "rw,cpu");
        assert_eq!(m[4].mount_point, PathBuf::from("/sys/fs/cgroup/pids"));
        assert_eq!(m[6].mount_point, PathBuf::from("/mnt/my cg"));
        assert_eq!(m[6].root, "/docker/abc");
    }

    #[test]
    fn v1_dirs_follow_each_controller_path() {
        let m = parse_mountinfo(MOUNTINFO);
        let l = parse_proc_cgroup(PROC_CGROUP);
        assert_eq!(
            v1_own_dir(&m, &l, "memory"),
            Some(PathBuf::from("/sys/fs/cgroup/memory/process_api/f635"))
        );
        assert_eq!(
            v1_own_dir(&m, &l, "cpu"),
            Some(PathBuf::from("/sys/fs/cgroup/cpu"))
        );
        assert_eq!(v1_own_dir(&m, &l, "blkio"), None);
    }

    #[test]
    fn combined_cpu_cpuacct_hierarchy() {
        let m = parse_mountinfo(
            "32 31 0:29 / /sys/fs/cgroup/cpu,cpuacct rw - cgroup cgroup rw,cpu,cpuacct\n",
        );
        let l = parse_proc_cgroup("3:cpu,cpuacct:/user.slice\n");
        let want = Some(PathBuf::from("/sys/fs/cgroup/cpu,cpuacct/user.slice"));
        assert_eq!(v1_own_dir(&m, &l, "cpu"), want);
        assert_eq!(v1_own_dir(&m, &l, "cpuacct"), want);
    }

    #[test]
    fn v2_dir_honours_mount_root() {
        let m = parse_mountinfo(MOUNTINFO);
        let l = parse_proc_cgroup("0::/docker/abc/sub\n");
        // The first cgroup2 mount (root "/") resolves first.
        assert_eq!(
            v2_own_dir(&m, &l),
            Some(PathBuf::from("/sys/fs/cgroup/unified/docker/abc/sub"))
        );
        let bound = &m[6];
        assert_eq!(
            resolve(bound, "/docker/abc/sub"),
            Some(PathBuf::from("/mnt/my cg/sub"))
        );
        assert_eq!(
            resolve(bound, "/docker/abc"),
            Some(PathBuf::from("/mnt/my cg"))
        );
        assert_eq!(resolve(bound, "/docker/abcdef"), None);
        assert_eq!(resolve(bound, "/other"), None);
    }

    #[test]
    fn pure_v2_has_no_v1_dirs() {
        let m = parse_mountinfo("30 23 0:26 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n");
        let l = parse_proc_cgroup("0::/user.slice/user-1000.slice/session-2.scope\n");
        assert_eq!(v1_own_dir(&m, &l, "memory"), None);
        assert_eq!(
            v2_own_dir(&m, &l),
            Some(PathBuf::from(
                "/sys/fs/cgroup/user.slice/user-1000.slice/session-2.scope"
            ))
        );
    }

    #[test]
    fn stale_instance_names() {
        assert_eq!(instance_pid("ledge-123"), Some(123));
        assert_eq!(instance_pid("ledge-123-tests"), Some(123));
        assert_eq!(instance_pid("ledge-"), None);
        assert_eq!(instance_pid("ledge-abc"), None);
        assert_eq!(instance_pid("other-123"), None);
        assert_eq!(instance_pid("ledge-12x"), None);
    }

    #[test]
    fn cpu_quota_from_cores() {
        assert_eq!(cpu_quota_us(1.0), Some(100_000));
        assert_eq!(cpu_quota_us(128.0 / 1769.0), Some(7_236));
        assert_eq!(cpu_quota_us(0.001), Some(CPU_MIN_QUOTA_US));
        assert_eq!(cpu_quota_us(6.0), Some(600_000));
        assert_eq!(cpu_quota_us(0.0), None);
        assert_eq!(cpu_quota_us(f64::NAN), None);
    }

    #[test]
    fn keyed_files() {
        let stat = "usage_usec 1234\nuser_usec 1000\nthrottled_usec 55\n";
        assert_eq!(keyed_value(stat, "usage_usec"), Some(1234));
        assert_eq!(keyed_value(stat, "throttled_usec"), Some(55));
        assert_eq!(keyed_value(stat, "nr_periods"), None);
        let oom = "oom_kill_disable 0\nunder_oom 0\noom_kill 2\n";
        assert_eq!(keyed_value(oom, "oom_kill"), Some(2));
    }
}
