//! What the forked child does between `fork` and `exec`.
//!
//! Everything in [`ChildSetup::run`] executes in a child forked from a multi-threaded parent,
//! so it must be async-signal-safe: no allocation, no locks, no `std::io::stderr()`, only raw
//! system calls on data prepared before the fork. The `nix` wrappers used here take `&CStr`
//! and borrowed fds, which reach the system call without allocating, and their errors are plain
//! errno values.

use std::ffi::{CStr, CString};
use std::io;
use std::os::fd::OwnedFd;

use nix::errno::Errno;
use nix::mount::{mount, MsFlags};
use nix::sched::{unshare, CloneFlags};
use nix::sys::prctl::set_pdeathsig;
use nix::sys::resource::{getrlimit, setrlimit, Resource};
use nix::sys::signal::Signal;
use nix::unistd::{chdir, getppid, write, Pid};

/// Prefix of the one diagnostic line a failed step writes to the output pipe; the parent parses
/// it back into [`crate::SandboxError::Confine`].
pub(crate) const DIAG_PREFIX: &str = "ledge-sandbox: confinement step failed: ";

const VAR_TASK: &CStr = c"/var/task";
const OPT: &CStr = c"/opt";
const VAR_RUNTIME: &CStr = c"/var/runtime";
const TMP: &CStr = c"/tmp";
const ROOT: &CStr = c"/";
const TMPFS: &CStr = c"tmpfs";
const EMPTY_TMPFS_OPTS: &CStr = c"size=4k,nr_inodes=16,mode=0755";

/// Mount plan, all paths converted to C strings before the fork.
#[derive(Debug)]
pub(crate) struct MountPlan {
    pub(crate) task: CString,
    pub(crate) opt: Option<CString>,
    pub(crate) runtime: Option<CString>,
    pub(crate) tmp: CString,
    pub(crate) cwd: CString,
}

/// Everything the child needs, prepared by the parent.
#[derive(Debug)]
pub(crate) struct ChildSetup {
    /// `getppid()` must equal this after `PR_SET_PDEATHSIG`, or the parent already died.
    pub(crate) parent_pid: Pid,
    /// Open `cgroup.procs` files of the environment's cgroups (`O_CLOEXEC`).
    pub(crate) cgroup_procs: Vec<OwnedFd>,
    pub(crate) nofile: u64,
    /// `RLIMIT_DATA` fallback when no memory cgroup enforces the limit.
    pub(crate) data_limit: Option<u64>,
    pub(crate) mounts: Option<MountPlan>,
    /// A duplicate of the output pipe's write end, for the diagnostic line.
    pub(crate) diag: OwnedFd,
}

impl ChildSetup {
    /// Runs in the child after `fork`, after std has set up stdio and the process group, and
    /// before `exec`. Async-signal-safe (see the module doc).
    pub(crate) fn run(&self) -> io::Result<()> {
        self.step("die with parent", || {
            set_pdeathsig(Signal::SIGKILL)?;
            // The parent may have died between fork and prctl.
            if getppid() != self.parent_pid {
                return Err(Errno::ESRCH);
            }
            Ok(())
        })?;
        for procs in &self.cgroup_procs {
            // "0" moves the writing process; the child enters its cgroups before user code runs.
            self.step("join cgroup", || write(procs, b"0").map(drop))?;
        }
        // SCHED_BATCH: a function's process, woken by an event, does not preempt the
        // platform's threads (the gateway, the Runtime API) on a busy CPU; it runs when
        // they yield or at the next tick, and at once on an idle CPU. Its CPU share and
        // cgroup quota are unchanged. Best effort: a kernel that refuses it runs the
        // process as it is.
        let param = libc::sched_param { sched_priority: 0 };
        // SAFETY: sched_setscheduler is async-signal-safe; `param` is a valid pointer.
        #[allow(unsafe_code)]
        let _ = unsafe { libc::sched_setscheduler(0, libc::SCHED_BATCH, &param) };
        self.step("rlimit nofile", || {
            lower_rlimit(Resource::RLIMIT_NOFILE, self.nofile)
        })?;
        if let Some(bytes) = self.data_limit {
            self.step("rlimit data", || lower_rlimit(Resource::RLIMIT_DATA, bytes))?;
        }
        if let Some(plan) = &self.mounts {
            self.mount_all(plan)?;
        }
        Ok(())
    }

    fn mount_all(&self, plan: &MountPlan) -> io::Result<()> {
        self.step("unshare mount namespace", || {
            unshare(CloneFlags::CLONE_NEWNS)
        })?;
        self.step("make / private", || {
            mount(
                None::<&CStr>,
                ROOT,
                None::<&CStr>,
                MsFlags::MS_REC | MsFlags::MS_PRIVATE,
                None::<&CStr>,
            )
        })?;
        self.step("bind /var/task", || bind(&plan.task, VAR_TASK))?;
        match &plan.opt {
            Some(src) => self.step("bind /opt", || bind(src, OPT))?,
            None => self.step("empty /opt", || empty_read_only(OPT))?,
        }
        match &plan.runtime {
            Some(src) => self.step("bind /var/runtime", || bind(src, VAR_RUNTIME))?,
            None => self.step("empty /var/runtime", || empty_read_only(VAR_RUNTIME))?,
        }
        // Last: the other sources may live under the host's /tmp.
        self.step("bind /tmp", || bind(&plan.tmp, TMP))?;
        self.step("read-only /var/task", || remount_read_only(VAR_TASK))?;
        if plan.opt.is_some() {
            self.step("read-only /opt", || remount_read_only(OPT))?;
        }
        if plan.runtime.is_some() {
            self.step("read-only /var/runtime", || remount_read_only(VAR_RUNTIME))?;
        }
        self.step("chdir", || chdir(plan.cwd.as_c_str()))
    }

    /// Runs one step; on failure writes `DIAG_PREFIX <name>\n` to the output pipe and returns
    /// the errno (no allocation: `io::Error::from(Errno)` is the `Os` representation).
    fn step(&self, name: &'static str, f: impl FnOnce() -> nix::Result<()>) -> io::Result<()> {
        f().map_err(|errno| {
            let _ = write(&self.diag, DIAG_PREFIX.as_bytes());
            let _ = write(&self.diag, name.as_bytes());
            let _ = write(&self.diag, b"\n");
            io::Error::from(errno)
        })
    }
}

/// Sets soft and hard limit to `value`; without `CAP_SYS_RESOURCE` a value above the current
/// hard limit is clamped to it.
fn lower_rlimit(resource: Resource, value: u64) -> nix::Result<()> {
    match setrlimit(resource, value, value) {
        Err(Errno::EPERM) => {
            let (_, hard) = getrlimit(resource)?;
            let v = value.min(hard);
            setrlimit(resource, v, v)
        }
        other => other,
    }
}

fn bind(source: &CStr, target: &CStr) -> nix::Result<()> {
    mount(
        Some(source),
        target,
        None::<&CStr>,
        MsFlags::MS_BIND,
        None::<&CStr>,
    )
}

fn remount_read_only(target: &CStr) -> nix::Result<()> {
    mount(
        None::<&CStr>,
        target,
        None::<&CStr>,
        MsFlags::MS_BIND
            | MsFlags::MS_REMOUNT
            | MsFlags::MS_RDONLY
            | MsFlags::MS_NOSUID
            | MsFlags::MS_NODEV,
        None::<&CStr>,
    )
}

/// An empty, read-only tmpfs: "nothing here" without needing an empty host directory.
fn empty_read_only(target: &CStr) -> nix::Result<()> {
    mount(
        Some(TMPFS),
        target,
        Some(TMPFS),
        MsFlags::MS_RDONLY | MsFlags::MS_NOSUID | MsFlags::MS_NODEV,
        Some(EMPTY_TMPFS_OPTS),
    )
}

/// Probes, on a throw-away thread, whether this process may create a mount namespace and bind
/// mount in it. `unshare(CLONE_NEWNS)` affects only the calling thread, and the namespace dies
/// with the thread, so nothing leaks into ledge or the host.
pub(crate) fn probe_mount_namespace() -> Result<(), String> {
    let handle = std::thread::Builder::new()
        .name("ledge-sandbox-probe".into())
        .spawn(|| -> Result<(), String> {
            unshare(CloneFlags::CLONE_NEWNS).map_err(|e| format!("unshare(CLONE_NEWNS): {e}"))?;
            mount(
                None::<&CStr>,
                ROOT,
                None::<&CStr>,
                MsFlags::MS_REC | MsFlags::MS_PRIVATE,
                None::<&CStr>,
            )
            .map_err(|e| format!("making / private: {e}"))?;
            bind(TMP, TMP).map_err(|e| format!("bind mount: {e}"))?;
            remount_read_only(TMP).map_err(|e| format!("read-only remount: {e}"))?;
            empty_read_only(TMP).map_err(|e| format!("tmpfs mount: {e}"))?;
            Ok(())
        })
        .map_err(|e| format!("probe thread: {e}"))?;
    handle
        .join()
        .unwrap_or_else(|_| Err("probe thread panicked".to_owned()))
}
