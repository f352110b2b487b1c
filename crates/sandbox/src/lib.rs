//! Spawning and confining one process: the only crate in ledge that starts processes.
//!
//! [`Sandbox::probe`] finds out, once at start-up, what this host lets ledge enforce (cgroup v2
//! or v1 limits, a mount namespace) and says so in one [`Sandbox::notice`] line. Then
//! [`Sandbox::spawn`] starts a program with exactly the environment it is given, stdin on
//! `/dev/null`, stdout and stderr on one pipe, in its own process group, inside its own
//! cgroups (memory, CPU quota, pids), with `RLIMIT_NOFILE` and, when available, a private mount
//! namespace that presents the code at `/var/task`, layers at `/opt`, the runtime at
//! `/var/runtime` and a private `/tmp`. [`SandboxedProcess`] kills the whole environment
//! (including descendants that called `setsid`) when dropped.
//!
//! This crate knows nothing about Lambda events, the Runtime API or log formats: callers hand
//! it a program, arguments, an environment and limits.
//!
//! Degradation: without writable cgroups, memory is limited by `RLIMIT_DATA` (virtual, not
//! resident memory), CPU quota and pids are not enforced, accounting getters return `None`, and
//! only the process group is killed. Without a mount namespace, [`SpawnSpec::mounts`] is
//! ignored: the caller must then pass host paths for `program` and `cwd` and set `TMPDIR`
//! itself (check [`Capabilities::mount_ns`] before building the spec).
//!
//! Calling contract: [`Sandbox::spawn`] must run inside a tokio runtime, on a thread that
//! outlives the child. `PR_SET_PDEATHSIG` fires when the *thread* that forked exits, so never
//! spawn from `spawn_blocking` (whose threads exit when idle); runtime worker threads and the
//! current-thread runtime's thread are fine.

#![cfg_attr(not(test), warn(clippy::print_stdout, clippy::print_stderr))]

mod cgroup;
mod child;
mod error;
mod process;

use std::ffi::{CString, OsString};
use std::os::fd::OwnedFd;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;

use nix::fcntl::{fcntl, FcntlArg, OFlag};
use nix::unistd::{pipe2, read, Pid};

pub use crate::error::SandboxError;
pub use crate::process::SandboxedProcess;

use crate::cgroup::{Group, Layout};
use crate::child::{ChildSetup, MountPlan, DIAG_PREFIX};

/// Mount points the namespace presents; created on the host at probe when missing.
const MOUNT_POINTS: [&str; 4] = ["/var/task", "/opt", "/var/runtime", "/tmp"];

/// How to set up the sandbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SandboxOptions {
    /// Instance tag naming ledge's parent cgroup, e.g. `format!("ledge-{}", std::process::id())`.
    /// Names of the form `ledge-<pid>` or `ledge-<pid>-<suffix>` are removed by a later probe
    /// once that pid is gone. Keep one live `Sandbox` per name: the last handle of a sandbox
    /// removes everything under its name.
    pub name: String,
    /// Do not use cgroups even where they work.
    pub disable_cgroups: bool,
    /// Do not use a mount namespace even where it works.
    pub disable_mount_ns: bool,
}

impl Default for SandboxOptions {
    fn default() -> Self {
        SandboxOptions {
            name: format!("ledge-{}", std::process::id()),
            disable_cgroups: false,
            disable_mount_ns: false,
        }
    }
}

/// Which cgroup version confines processes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CgroupKind {
    /// The unified hierarchy.
    V2,
    /// Legacy per-controller hierarchies.
    V1,
    /// No usable cgroups.
    None,
}

impl CgroupKind {
    /// `"v2"`, `"v1"` or `"none"`, for logs.
    pub fn as_str(self) -> &'static str {
        match self {
            CgroupKind::V2 => "v2",
            CgroupKind::V1 => "v1",
            CgroupKind::None => "none",
        }
    }
}

/// What [`Sandbox::probe`] found enforceable on this host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Capabilities {
    /// The cgroup version in use.
    pub cgroup: CgroupKind,
    /// Memory limit by cgroup (otherwise `RLIMIT_DATA`).
    pub memory_limit: bool,
    /// CPU quota by cgroup (otherwise none).
    pub cpu_quota: bool,
    /// Process count limit by cgroup (otherwise none).
    pub pids_limit: bool,
    /// CPU time accounting by cgroup ([`SandboxedProcess::cpu_usage`]).
    pub cpu_accounting: bool,
    /// [`SpawnSpec::mounts`] is honoured.
    pub mount_ns: bool,
}

/// Everything needed to start one process.
#[derive(Debug, Clone)]
pub struct SpawnSpec {
    /// Environment id; names its cgroup. No `/`, not `.` or `..`.
    pub id: String,
    /// The program, as seen by the child (inside the mount namespace when mounts are used).
    pub program: PathBuf,
    /// Arguments after the program name.
    pub args: Vec<OsString>,
    /// The COMPLETE environment: the child gets only this.
    pub env: Vec<(OsString, OsString)>,
    /// Working directory as seen by the child (inside the mount namespace when mounts are used).
    pub cwd: PathBuf,
    /// Resource limits.
    pub limits: Limits,
    /// Filesystem view; only honoured when [`Capabilities::mount_ns`]. Without it the caller
    /// passes host paths in `program`/`cwd` and puts `TMPDIR=<host tmp dir>` into `env`.
    pub mounts: Option<Mounts>,
}

/// Resource limits of one environment.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Limits {
    /// Memory limit (cgroup; `RLIMIT_DATA` fallback). 0 means unlimited.
    pub memory_bytes: u64,
    /// CPU quota in cores, e.g. `128.0 / 1769.0`; quota = cores × 100 ms per 100 ms period,
    /// at least 1 ms. Non-positive means unlimited.
    pub cpu_cores: f64,
    /// Maximum number of processes/threads in the environment. 0 means unlimited.
    pub pids: u32,
    /// `RLIMIT_NOFILE` (soft and hard).
    pub nofile: u64,
}

impl Limits {
    /// Lambda's resource model for a memory size (reference §2.6): memory as configured, CPU
    /// `memory / 1769` cores, 1024 processes, 1024 file descriptors.
    pub fn lambda(memory_mb: u32) -> Limits {
        Limits {
            memory_bytes: u64::from(memory_mb) * 1024 * 1024,
            cpu_cores: f64::from(memory_mb) / 1769.0,
            pids: 1024,
            nofile: 1024,
        }
    }
}

/// Host directories presented inside the mount namespace. All host paths must be absolute and
/// exist; they may live under the host's `/tmp`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mounts {
    /// Host dir shown read-only at `/var/task`.
    pub task: PathBuf,
    /// Host dir shown read-only at `/opt`; `None` shows an empty read-only `/opt`.
    pub opt: Option<PathBuf>,
    /// Host dir shown read-only at `/var/runtime`; `None` shows an empty read-only dir.
    pub runtime: Option<PathBuf>,
    /// Host dir shown read-write at `/tmp`.
    pub tmp: PathBuf,
}

/// Shared state behind every [`Sandbox`] handle and every live [`SandboxedProcess`].
#[derive(Debug)]
pub(crate) struct Inner {
    caps: Capabilities,
    notice: String,
    diagnostics: Vec<String>,
    layout: Option<Layout>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        if let Some(layout) = &self.layout {
            layout.cleanup();
        }
    }
}

/// Handle to the probed sandbox; cheap to clone. The last handle (including those held by live
/// processes) to go away runs [`Sandbox::cleanup`].
#[derive(Debug, Clone)]
pub struct Sandbox {
    inner: Arc<Inner>,
}

impl Sandbox {
    /// Detects what can be enforced; never fails. Creates ledge's parent cgroups (and, with
    /// mount permission, missing mount points such as `/var/task`), and removes stale parent
    /// cgroups of dead ledge processes.
    pub fn probe(opts: SandboxOptions) -> Sandbox {
        let mut diagnostics = Vec::new();
        let layout = if opts.disable_cgroups {
            None
        } else {
            let probed = cgroup::probe(&opts.name);
            diagnostics.extend(probed.problems);
            probed.layout
        };
        let roles = layout.as_ref().map(Layout::roles).unwrap_or_default();
        let (mount_ns, created) = if opts.disable_mount_ns {
            (false, Vec::new())
        } else {
            match probe_mounts() {
                Ok(created) => (true, created),
                Err(problem) => {
                    diagnostics.push(problem);
                    (false, Vec::new())
                }
            }
        };
        let caps = Capabilities {
            cgroup: layout.as_ref().map_or(CgroupKind::None, |l| l.kind),
            memory_limit: roles.memory,
            cpu_quota: roles.cpu,
            pids_limit: roles.pids,
            cpu_accounting: roles.cpuacct,
            mount_ns,
        };
        let notice = render_notice(&caps, &opts, &created);
        for d in &diagnostics {
            tracing::info!(detail = %d, "sandbox probe");
        }
        tracing::debug!(?caps, "sandbox probed");
        Sandbox {
            inner: Arc::new(Inner {
                caps,
                notice,
                diagnostics,
                layout,
            }),
        }
    }

    /// What is enforced.
    pub fn capabilities(&self) -> &Capabilities {
        &self.inner.caps
    }

    /// One line for start-up output saying what is and is not enforced.
    pub fn notice(&self) -> String {
        self.inner.notice.clone()
    }

    /// Why something is not enforced (one entry per problem found by the probe), for logs.
    pub fn diagnostics(&self) -> &[String] {
        &self.inner.diagnostics
    }

    /// Starts `spec.program` confined as described in the crate doc. Must be called inside a
    /// tokio runtime, on a thread that outlives the child (see the crate doc).
    pub fn spawn(&self, spec: SpawnSpec) -> Result<SandboxedProcess, SandboxError> {
        validate(&spec)?;
        let caps = &self.inner.caps;
        let mounts = match (&spec.mounts, caps.mount_ns) {
            (Some(m), true) => Some(mount_plan(&spec.id, m, &spec.cwd)?),
            (Some(_), false) => {
                tracing::debug!(environment = %spec.id, "mount namespace unavailable: mounts ignored");
                None
            }
            (None, _) => None,
        };
        let group = match &self.inner.layout {
            Some(layout) => Some(Group::create(layout, &spec.id, &spec.limits)?),
            None => None,
        };
        let cgroup_procs = match &group {
            Some(g) => g.open_procs()?,
            None => Vec::new(),
        };

        let pipe_err = |source: std::io::Error| SandboxError::Pipe {
            program: spec.program.clone(),
            source,
        };
        let (output, write_end) = pipe2(OFlag::O_CLOEXEC).map_err(|e| pipe_err(e.into()))?;
        fcntl(&output, FcntlArg::F_SETFL(OFlag::O_NONBLOCK)).map_err(|e| pipe_err(e.into()))?;
        let diag = write_end.try_clone().map_err(pipe_err)?;
        let stdout = write_end.try_clone().map_err(pipe_err)?;

        let setup = ChildSetup {
            parent_pid: Pid::this(),
            cgroup_procs,
            nofile: spec.limits.nofile,
            data_limit: (!caps.memory_limit && spec.limits.memory_bytes > 0)
                .then_some(spec.limits.memory_bytes),
            mounts,
            diag,
        };
        let uses_mounts = setup.mounts.is_some();

        let mut cmd = tokio::process::Command::new(&spec.program);
        cmd.args(&spec.args)
            .env_clear()
            .envs(spec.env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(Stdio::from(stdout))
            .stderr(Stdio::from(write_end))
            .kill_on_drop(true)
            .process_group(0);
        if !uses_mounts {
            // With mounts the child changes directory itself, after mounting.
            cmd.current_dir(&spec.cwd);
        }
        // SAFETY: `ChildSetup::run` is async-signal-safe: it only makes raw system calls
        // (prctl, getppid, write, setrlimit/getrlimit, unshare, mount, chdir) on file
        // descriptors and C strings prepared before the fork, allocates nothing, takes no locks
        // and touches no state shared with other threads of the parent.
        #[allow(unsafe_code)]
        unsafe {
            cmd.pre_exec(move || setup.run());
        }
        let spawned = cmd.spawn();
        // Close the parent's copies of the write end and of the cgroup.procs files now, so that
        // EOF on `output` means every process of the environment has gone.
        drop(cmd);
        let child = spawned.map_err(|source| spawn_error(&spec.program, &output, source))?;
        let pid = child.id().unwrap_or_default();
        tracing::debug!(environment = %spec.id, pid, program = %spec.program.display(), "spawned");
        Ok(SandboxedProcess {
            child,
            pid,
            output: Some(output),
            group,
            _sandbox: Arc::clone(&self.inner),
        })
    }

    /// Kills everything left in ledge's cgroups and removes them. Call at shutdown; also run
    /// when the last handle is dropped. A later `spawn` recreates the parent cgroups.
    pub fn cleanup(&self) {
        if let Some(layout) = &self.inner.layout {
            layout.cleanup();
        }
    }
}

#[cfg(test)]
impl Sandbox {
    /// A sandbox over a given cgroup layout, without mounts (tests of the v2 path on hosts
    /// where probe prefers v1).
    fn with_layout(layout: Layout) -> Sandbox {
        let roles = layout.roles();
        let caps = Capabilities {
            cgroup: layout.kind,
            memory_limit: roles.memory,
            cpu_quota: roles.cpu,
            pids_limit: roles.pids,
            cpu_accounting: roles.cpuacct,
            mount_ns: false,
        };
        let notice = render_notice(&caps, &SandboxOptions::default(), &[]);
        Sandbox {
            inner: Arc::new(Inner {
                caps,
                notice,
                diagnostics: Vec::new(),
                layout: Some(layout),
            }),
        }
    }
}

fn validate(spec: &SpawnSpec) -> Result<(), SandboxError> {
    let invalid = |reason: &str| SandboxError::InvalidSpec {
        id: spec.id.clone(),
        reason: reason.to_owned(),
    };
    let id = &spec.id;
    if id.is_empty() || id == "." || id == ".." || id.contains('/') || id.contains('\0') {
        return Err(invalid("id must be a non-empty name without '/'"));
    }
    if id.starts_with("probe-") || id.starts_with("cgroup.") {
        return Err(invalid("id must not start with 'probe-' or 'cgroup.'"));
    }
    if spec.limits.nofile == 0 {
        return Err(invalid("nofile must be at least 1"));
    }
    Ok(())
}

fn c_path(id: &str, what: &str, path: &Path) -> Result<CString, SandboxError> {
    let invalid = |reason: String| SandboxError::InvalidSpec {
        id: id.to_owned(),
        reason,
    };
    if !path.is_absolute() {
        return Err(invalid(format!(
            "{what} {} is not absolute",
            path.display()
        )));
    }
    CString::new(path.as_os_str().as_bytes())
        .map_err(|_| invalid(format!("{what} {} contains NUL", path.display())))
}

fn mount_plan(id: &str, m: &Mounts, cwd: &Path) -> Result<MountPlan, SandboxError> {
    Ok(MountPlan {
        task: c_path(id, "mounts.task", &m.task)?,
        opt: m
            .opt
            .as_deref()
            .map(|p| c_path(id, "mounts.opt", p))
            .transpose()?,
        runtime: m
            .runtime
            .as_deref()
            .map(|p| c_path(id, "mounts.runtime", p))
            .transpose()?,
        tmp: c_path(id, "mounts.tmp", &m.tmp)?,
        cwd: c_path(id, "cwd", cwd)?,
    })
}

/// Turns a failed spawn into `Confine` when the child reported a failed step on the pipe.
fn spawn_error(program: &Path, output: &OwnedFd, source: std::io::Error) -> SandboxError {
    let mut buf = [0u8; 512];
    let n = read(output, &mut buf).unwrap_or(0);
    let text = String::from_utf8_lossy(&buf[..n]);
    match text.lines().find_map(|l| l.strip_prefix(DIAG_PREFIX)) {
        Some(step) => SandboxError::Confine {
            program: program.to_owned(),
            step: step.to_owned(),
            source,
        },
        None => SandboxError::Spawn {
            program: program.to_owned(),
            source,
        },
    }
}

/// Checks mount-namespace permission and creates missing mount points; returns those created.
fn probe_mounts() -> Result<Vec<&'static str>, String> {
    child::probe_mount_namespace().map_err(|e| format!("mount namespace: {e}"))?;
    let mut created = Vec::new();
    for p in MOUNT_POINTS {
        if Path::new(p).is_dir() {
            continue;
        }
        std::fs::create_dir_all(p).map_err(|e| format!("mount namespace: creating {p}: {e}"))?;
        tracing::info!(path = p, "created mount point on the host");
        created.push(p);
    }
    Ok(created)
}

fn render_notice(caps: &Capabilities, opts: &SandboxOptions, created: &[&str]) -> String {
    const ALL_FALLBACK: &str = "memory via RLIMIT_DATA only, CPU quota and pids NOT enforced";
    let cgroups = if caps.cgroup == CgroupKind::None {
        if opts.disable_cgroups {
            format!("cgroups disabled by option ({ALL_FALLBACK})")
        } else {
            format!("no writable cgroups ({ALL_FALLBACK})")
        }
    } else {
        let v = caps.cgroup.as_str();
        let mut enforced = Vec::new();
        let mut missing = Vec::new();
        if caps.memory_limit {
            enforced.push("memory");
        } else {
            missing.push("memory via RLIMIT_DATA only");
        }
        if caps.cpu_quota {
            enforced.push("cpu quota");
        } else {
            missing.push("CPU quota NOT enforced");
        }
        if caps.pids_limit {
            enforced.push("pids");
        } else {
            missing.push("pids NOT enforced");
        }
        let mut s = if enforced.is_empty() {
            format!("cgroup {v} contains processes but enforces no limit")
        } else {
            format!("cgroup {v} enforces {}", enforced.join(", "))
        };
        if !missing.is_empty() {
            s.push_str(&format!(" ({})", missing.join(", ")));
        }
        s
    };
    let mounts = if caps.mount_ns {
        let mut s =
            "mount namespace presents /var/task, /opt, /var/runtime, private /tmp".to_owned();
        if !created.is_empty() {
            s.push_str(&format!(" (created {} on the host)", created.join(", ")));
        }
        s
    } else {
        let why = if opts.disable_mount_ns {
            "mount namespace disabled by option"
        } else {
            "no mount namespace"
        };
        format!("{why} (code at its host path, /tmp shared, TMPDIR set per environment)")
    };
    format!("sandbox: {cgroups}; {mounts}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn caps(cgroup: CgroupKind, on: bool, mount_ns: bool) -> Capabilities {
        Capabilities {
            cgroup,
            memory_limit: on,
            cpu_quota: on,
            pids_limit: on,
            cpu_accounting: on,
            mount_ns,
        }
    }

    #[test]
    fn notice_full() {
        let n = render_notice(
            &caps(CgroupKind::V1, true, true),
            &SandboxOptions::default(),
            &["/var/task", "/var/runtime"],
        );
        assert_eq!(
            n,
            "sandbox: cgroup v1 enforces memory, cpu quota, pids; mount namespace presents \
             /var/task, /opt, /var/runtime, private /tmp (created /var/task, /var/runtime on the host)"
        );
    }

    #[test]
    fn notice_fallback() {
        let n = render_notice(
            &caps(CgroupKind::None, false, false),
            &SandboxOptions::default(),
            &[],
        );
        assert_eq!(
            n,
            "sandbox: no writable cgroups (memory via RLIMIT_DATA only, CPU quota and pids NOT \
             enforced); no mount namespace (code at its host path, /tmp shared, TMPDIR set per \
             environment)"
        );
    }

    #[test]
    fn notice_partial_and_disabled() {
        let mut c = caps(CgroupKind::V2, true, false);
        c.cpu_quota = false;
        let opts = SandboxOptions {
            disable_mount_ns: true,
            ..SandboxOptions::default()
        };
        let n = render_notice(&c, &opts, &[]);
        assert!(n.starts_with("sandbox: cgroup v2 enforces memory, pids (CPU quota NOT enforced); mount namespace disabled by option"), "{n}");
    }

    #[test]
    fn lambda_limits() {
        let l = Limits::lambda(128);
        assert_eq!(l.memory_bytes, 134_217_728);
        assert!((l.cpu_cores - 0.07236).abs() < 1e-4);
        assert_eq!((l.pids, l.nofile), (1024, 1024));
    }

    /// The v2 code path (containment, join before exec, cgroup.kill, cpu.stat, removal) on
    /// whatever cgroup2 mount this host has: on hybrid hosts the unified hierarchy has no
    /// controllers, which still exercises everything but the limits.
    #[tokio::test]
    async fn v2_unified_hierarchy_contains_kills_and_accounts() {
        use std::time::Duration;
        use tokio::io::AsyncReadExt;

        let (Ok(mi), Ok(pc)) = (
            std::fs::read_to_string("/proc/self/mountinfo"),
            std::fs::read_to_string("/proc/self/cgroup"),
        ) else {
            eprintln!("SKIPPED: no /proc");
            return;
        };
        let mounts = cgroup::parse_mountinfo(&mi);
        let lines = cgroup::parse_proc_cgroup(&pc);
        let Some(own) = cgroup::v2_own_dir(&mounts, &lines) else {
            eprintln!("SKIPPED: no cgroup2 mount");
            return;
        };
        let name = format!("ledge-{}-v2unit", std::process::id());
        let mut problems = Vec::new();
        let Some(layout) = cgroup::probe_v2(&own, &name, &mut problems) else {
            eprintln!("SKIPPED: cgroup v2 unusable: {problems:?}");
            return;
        };
        let base = layout.hierarchies[0].base.clone();
        let sb = Sandbox::with_layout(layout);
        eprintln!("{}", sb.notice());
        let spec = SpawnSpec {
            id: "v2".into(),
            program: "/bin/sh".into(),
            args: vec![
                "-c".into(),
                "setsid sleep 300 </dev/null >/dev/null 2>&1 & echo $!; \
                 i=0; while [ $i -lt 20000 ]; do i=$((i+1)); done; exec sleep 300"
                    .into(),
            ],
            env: vec![("PATH".into(), "/usr/bin:/bin".into())],
            cwd: "/".into(),
            limits: Limits::lambda(256),
            mounts: None,
        };
        let mut p = sb.spawn(spec).expect("spawn under v2");
        let mut out =
            tokio::net::unix::pipe::Receiver::from_owned_fd(p.take_output().expect("output"))
                .expect("pipe");
        let mut buf = [0u8; 64];
        let n = tokio::time::timeout(Duration::from_secs(10), out.read(&mut buf))
            .await
            .expect("grandchild pid in time")
            .expect("read");
        let gc: u32 = String::from_utf8_lossy(&buf[..n])
            .trim()
            .parse()
            .expect("grandchild pid");
        let dir = p.cgroup_dirs().pop().expect("v2 group dir");
        let members = std::fs::read_to_string(dir.join("cgroup.procs")).expect("procs");
        assert!(
            members.lines().any(|l| l == gc.to_string()),
            "grandchild in the group"
        );
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        while p.cpu_usage().unwrap_or_default() < Duration::from_millis(5) {
            assert!(
                tokio::time::Instant::now() < deadline,
                "cpu.stat never grew"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        p.kill();
        let gone = |pid: u32| {
            std::fs::read_to_string(format!("/proc/{pid}/stat"))
                .map(|s| s.rsplit_once(") ").is_some_and(|(_, r)| r.starts_with('Z')))
                .unwrap_or(true)
        };
        let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
        while !gone(gc) {
            assert!(
                tokio::time::Instant::now() < deadline,
                "setsid grandchild survived"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        drop(p);
        assert!(!dir.exists(), "group removed on drop");
        sb.cleanup();
        assert!(!base.exists(), "parent removed by cleanup");
    }

    #[test]
    fn spec_ids_are_validated() {
        let mut spec = SpawnSpec {
            id: "fn-1".into(),
            program: "/bin/true".into(),
            args: vec![],
            env: vec![],
            cwd: "/".into(),
            limits: Limits::lambda(128),
            mounts: None,
        };
        assert!(validate(&spec).is_ok());
        for bad in ["", "..", "a/b", "probe-1", "cgroup.procs"] {
            spec.id = bad.into();
            assert!(validate(&spec).is_err(), "{bad:?}");
        }
    }
}
