//! Shared helpers for the sandbox integration tests (real processes, real cgroups).
#![allow(dead_code, unreachable_pub)]

use std::ffi::OsString;
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};
use std::time::Duration;

use ledge_sandbox::{Limits, Sandbox, SandboxOptions, SpawnSpec};
use tokio::net::unix::pipe;

/// Returns early from a test, saying why, when the host lacks a capability.
#[macro_export]
macro_rules! require {
    ($cond:expr, $why:expr) => {
        if !$cond {
            eprintln!("SKIPPED: {}", $why);
            return;
        }
    };
}

/// A sandbox with a per-test instance name, so parallel tests never share parent cgroups.
pub fn sandbox(tag: &str) -> Sandbox {
    Sandbox::probe(SandboxOptions {
        name: format!("ledge-{}-{tag}", std::process::id()),
        disable_cgroups: false,
        disable_mount_ns: false,
    })
}

pub fn sh(id: &str, script: &str) -> SpawnSpec {
    SpawnSpec {
        id: id.to_owned(),
        program: "/bin/sh".into(),
        args: vec!["-c".into(), script.into()],
        env: vec![(OsString::from("PATH"), OsString::from("/usr/bin:/bin"))],
        cwd: "/".into(),
        limits: Limits {
            memory_bytes: 256 << 20,
            cpu_cores: 2.0,
            pids: 256,
            nofile: 1024,
        },
        mounts: None,
    }
}

/// Drains the output pipe as the runtime would: readiness + raw non-blocking reads, through
/// tokio's safe pipe wrapper (`AsyncFd::new` is deprecated since tokio 1.54 and its
/// replacement `AsyncFd::register` is `unsafe`).
pub struct Output {
    fd: pipe::Receiver,
    pub text: String,
    eof: bool,
}

impl Output {
    pub fn new(fd: OwnedFd) -> Output {
        Output {
            fd: pipe::Receiver::from_owned_fd(fd).expect("register pipe with tokio"),
            text: String::new(),
            eof: false,
        }
    }

    async fn read_some(&mut self) {
        self.fd.readable().await.expect("pipe readiness");
        let mut buf = [0u8; 4096];
        match self.fd.try_read(&mut buf) {
            Ok(0) => self.eof = true,
            Ok(n) => self.text.push_str(&String::from_utf8_lossy(&buf[..n])),
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
            Err(e) => panic!("read output: {e}"),
        }
    }

    /// Reads until EOF (every writer gone), failing the test after 20 s.
    pub async fn read_to_end(mut self) -> String {
        tokio::time::timeout(Duration::from_secs(20), async {
            while !self.eof {
                self.read_some().await;
            }
        })
        .await
        .expect("output reaches EOF");
        self.text
    }

    /// Reads until the accumulated text contains `needle`.
    pub async fn until(&mut self, needle: &str) {
        tokio::time::timeout(Duration::from_secs(20), async {
            while !self.text.contains(needle) && !self.eof {
                self.read_some().await;
            }
        })
        .await
        .expect("output arrives");
        assert!(
            self.text.contains(needle),
            "no {needle:?} in {:?}",
            self.text
        );
    }
}

/// Polls `cond` every 10 ms until it holds or `timeout` passes.
pub async fn eventually(timeout: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        if cond() {
            return true;
        }
        if tokio::time::Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Whether `pid` is a live (non-zombie) process.
pub fn alive(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        // state is the first field after the parenthesised comm
        Ok(stat) => stat
            .rsplit_once(") ")
            .is_some_and(|(_, rest)| !rest.starts_with('Z') && !rest.starts_with('X')),
        Err(_) => false,
    }
}

/// Session id of `pid` (field 6 of /proc/<pid>/stat).
pub fn session_of(pid: u32) -> Option<u32> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let (_, rest) = stat.rsplit_once(") ")?;
    rest.split(' ').nth(3)?.parse().ok()
}

pub fn exists(p: &Path) -> bool {
    p.exists()
}

pub fn dirs_exist(dirs: &[PathBuf]) -> bool {
    dirs.iter().any(|d| d.exists())
}
