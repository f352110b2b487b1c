//! A running confined process and everything it left behind.

use std::os::fd::OwnedFd;
use std::path::PathBuf;
use std::process::ExitStatus;
use std::sync::Arc;
use std::time::{Duration, Instant};

use nix::sys::signal::{killpg, Signal};
use nix::unistd::Pid;

use crate::cgroup::Group;
use crate::Inner;

/// How long `kill` keeps sweeping the cgroup before giving up with a warning.
const KILL_TIMEOUT: Duration = Duration::from_secs(2);

/// One child started by [`crate::Sandbox::spawn`], with its process group and cgroups.
///
/// Dropping it kills every process of the environment (process group and cgroup members, even
/// ones that called `setsid`) and removes its cgroup directories. Drop blocks for as long as
/// the kernel needs to tear the processes down (bounded, normally a few milliseconds).
#[derive(Debug)]
pub struct SandboxedProcess {
    pub(crate) child: tokio::process::Child,
    pub(crate) pid: u32,
    pub(crate) output: Option<OwnedFd>,
    pub(crate) group: Option<Group>,
    /// Keeps the sandbox (and its parent cgroups) alive while this process exists.
    pub(crate) _sandbox: Arc<Inner>,
}

impl SandboxedProcess {
    /// The child's pid (also its process group id), in ledge's pid namespace.
    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// The read end of the one pipe that receives both stdout and stderr of the child (and of
    /// everything it starts), `O_NONBLOCK | O_CLOEXEC`. Wrap it in `tokio::io::unix::AsyncFd`
    /// and drain it with raw reads; EOF arrives when the last process holding the write end
    /// exits. Returns `None` after the first call.
    pub fn take_output(&mut self) -> Option<OwnedFd> {
        self.output.take()
    }

    /// Waits for the child itself (not its descendants) to exit. Cancel-safe.
    pub async fn wait(&mut self) -> std::io::Result<ExitStatus> {
        self.child.wait().await
    }

    /// The child's exit status if it has exited, without blocking.
    pub fn try_wait(&mut self) -> std::io::Result<Option<ExitStatus>> {
        self.child.try_wait()
    }

    /// SIGKILLs the child's process group and every process in its cgroups, sweeping the
    /// cgroups until they are empty (bounded). Idempotent. Without cgroups, a descendant that
    /// left the process group (`setsid`) survives: only the cgroup sees it.
    pub fn kill(&mut self) {
        let main_alive = matches!(self.child.try_wait(), Ok(None));
        // Once the child is reaped, its pid (= pgid) could in principle be reused; the cgroup
        // is the reliable handle then, so signal the group only while it is certainly ours or
        // when there is nothing better.
        if main_alive || self.group.is_none() {
            if let Ok(pgid) = i32::try_from(self.pid) {
                let _ = killpg(Pid::from_raw(pgid), Signal::SIGKILL);
            }
        }
        let _ = self.child.start_kill();
        if let Some(group) = &self.group {
            let deadline = Instant::now() + KILL_TIMEOUT;
            let mut pause = Duration::from_millis(1);
            loop {
                // Reap our direct child so it does not linger as a zombie member.
                let _ = self.child.try_wait();
                if group.kill_once() == 0 {
                    break;
                }
                if Instant::now() >= deadline {
                    tracing::warn!(
                        pid = self.pid,
                        "processes survive in the environment cgroup after SIGKILL"
                    );
                    break;
                }
                // Sync by necessity (kill is called from Drop); bounded by KILL_TIMEOUT.
                std::thread::sleep(pause);
                pause = (pause * 2).min(Duration::from_millis(20));
            }
        }
        let _ = self.child.try_wait();
    }

    /// Peak memory of the environment's cgroup (v2 `memory.peak`, v1
    /// `memory.max_usage_in_bytes`), over its whole life. `None` without a memory cgroup.
    pub fn memory_peak_bytes(&self) -> Option<u64> {
        self.group.as_ref()?.memory_peak_bytes()
    }

    /// Current memory charge of the environment's cgroup. `None` without a memory cgroup.
    pub fn memory_current_bytes(&self) -> Option<u64> {
        self.group.as_ref()?.memory_current_bytes()
    }

    /// Whether the kernel OOM-killed a process in the environment (v2 `memory.events`
    /// `oom_kill`, v1 `memory.oom_control` `oom_kill`, or `memory.failcnt` on old kernels).
    /// Always `false` without a memory cgroup: under `RLIMIT_DATA` allocation fails instead.
    pub fn oom_killed(&self) -> bool {
        self.group.as_ref().is_some_and(Group::oom_killed)
    }

    /// CPU time consumed by all processes of the environment (v2 `cpu.stat` `usage_usec`,
    /// v1 `cpuacct.usage`).
    pub fn cpu_usage(&self) -> Option<Duration> {
        self.group.as_ref()?.cpu_usage()
    }

    /// Time the environment was throttled by its CPU quota (v2 `cpu.stat` `throttled_usec`,
    /// v1 `cpu.stat` `throttled_time`).
    pub fn cpu_throttled(&self) -> Option<Duration> {
        self.group.as_ref()?.cpu_throttled()
    }

    /// The environment's cgroup directories (empty without cgroups), for diagnostics.
    pub fn cgroup_dirs(&self) -> Vec<PathBuf> {
        self.group
            .as_ref()
            .map(|g| g.dirs().map(PathBuf::from).collect())
            .unwrap_or_default()
    }
}

impl Drop for SandboxedProcess {
    fn drop(&mut self) {
        self.kill();
        // `group` is dropped after this: it removes the (now empty) cgroup directories.
    }
}
