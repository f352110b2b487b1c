//! Real processes under real confinement. Where the host lacks a capability the test says why
//! and returns; on a host with cgroups and mount permission every test exercises the real thing.

mod common;

use std::ffi::OsString;
use std::os::unix::process::ExitStatusExt;
use std::path::PathBuf;
use std::time::Duration;

use common::{alive, eventually, sandbox, session_of, sh, Output};
use ledge_sandbox::{CgroupKind, Limits, Mounts, Sandbox, SandboxError, SandboxOptions, SpawnSpec};

#[tokio::test]
async fn notice_states_what_is_enforced() {
    let sb = sandbox("notice");
    let caps = sb.capabilities().clone();
    let notice = sb.notice();
    eprintln!("{notice}");
    for d in sb.diagnostics() {
        eprintln!("  {d}");
    }
    assert!(notice.starts_with("sandbox: "));
    assert!(!notice.contains('\n'));
    match caps.cgroup {
        CgroupKind::None => assert!(notice.contains("no writable cgroups")),
        kind => assert!(
            notice.contains(&format!("cgroup {}", kind.as_str())),
            "{notice}"
        ),
    }
    assert_eq!(caps.memory_limit, notice.contains("enforces memory"));
    assert_eq!(
        caps.pids_limit,
        notice.contains("pids") && !notice.contains("pids NOT")
    );
    assert_eq!(
        caps.mount_ns,
        notice.contains("mount namespace presents /var/task")
    );
}

#[tokio::test]
async fn memory_limit_oom_kills_and_is_reported() {
    let sb = sandbox("oom");
    require!(
        sb.capabilities().memory_limit,
        "no memory cgroup on this host"
    );
    let mut spec = sh("oom", "exec dd if=/dev/zero of=/dev/null bs=300M count=1");
    spec.limits.memory_bytes = 128 << 20;
    let mut p = sb.spawn(spec).expect("spawn");
    let out = Output::new(p.take_output().expect("output"));
    let status = p.wait().await.expect("wait");
    let text = out.read_to_end().await;
    assert_eq!(
        status.signal(),
        Some(9),
        "dd must be SIGKILLed, got {status:?}: {text}"
    );
    assert!(p.oom_killed(), "oom_killed() after an OOM kill");
    let peak = p.memory_peak_bytes().expect("peak with memory cgroup");
    assert!(peak <= 128 << 20, "peak {peak} within the limit");
}

#[tokio::test]
async fn memory_under_limit_runs_and_peak_is_measured() {
    let sb = sandbox("mem-ok");
    require!(
        sb.capabilities().memory_limit,
        "no memory cgroup on this host"
    );
    let mut spec = sh("mem-ok", "exec dd if=/dev/zero of=/dev/null bs=40M count=1");
    spec.limits.memory_bytes = 64 << 20;
    let mut p = sb.spawn(spec).expect("spawn");
    let out = Output::new(p.take_output().expect("output"));
    let status = p.wait().await.expect("wait");
    let text = out.read_to_end().await;
    assert!(status.success(), "{status:?}: {text}");
    assert!(!p.oom_killed());
    let peak = p.memory_peak_bytes().expect("peak with memory cgroup");
    eprintln!("peak {} MiB for a 40 MiB buffer", peak >> 20);
    assert!(peak >= 40 << 20, "peak {peak} covers the 40 MiB dd touched");
    assert!(p.memory_current_bytes().is_some());
}

#[tokio::test]
async fn cpu_quota_caps_a_busy_loop() {
    let sb = sandbox("cpu");
    let caps = sb.capabilities().clone();
    require!(
        caps.cpu_quota && caps.cpu_accounting,
        "no cpu quota/accounting cgroup on this host"
    );
    let mut spec = sh("cpu", "exec timeout 1 sh -c 'while :; do :; done'");
    spec.limits.cpu_cores = 0.1;
    let mut p = sb.spawn(spec).expect("spawn");
    let status = p.wait().await.expect("wait");
    assert_eq!(status.code(), Some(124), "timeout ends the loop");
    let used = p.cpu_usage().expect("cpu usage");
    let throttled = p.cpu_throttled().expect("throttled time");
    eprintln!("0.1 cores for 1 s wall: cpu {used:?}, throttled {throttled:?}");
    assert!(
        used >= Duration::from_millis(50) && used <= Duration::from_millis(200),
        "cpu {used:?} at 0.1 cores for 1 s"
    );
    assert!(throttled > Duration::ZERO);
}

#[tokio::test]
async fn pids_limit_caps_a_fork_bomb() {
    let sb = sandbox("pids");
    require!(sb.capabilities().pids_limit, "no pids cgroup on this host");
    let mut spec = sh(
        "pids",
        "i=0; while [ $i -lt 100 ]; do sleep 30 & i=$((i+1)); done; echo started $i",
    );
    spec.limits.pids = 16;
    let mut p = sb.spawn(spec).expect("spawn");
    let out = Output::new(p.take_output().expect("output"));
    let status = p.wait().await.expect("wait");
    let procs: Vec<PathBuf> = p
        .cgroup_dirs()
        .into_iter()
        .map(|d| d.join("cgroup.procs"))
        .filter(|f| f.exists())
        .collect();
    let in_group = procs
        .iter()
        .map(|f| std::fs::read_to_string(f).expect("procs").lines().count())
        .max()
        .unwrap_or(0);
    p.kill();
    let text = out.read_to_end().await;
    eprintln!("fork bomb: {status:?}, {in_group} processes left, output {text:?}");
    assert!(
        !text.contains("started 100"),
        "all 100 forks succeeded: {text}"
    );
    assert!(
        text.to_lowercase().contains("fork"),
        "fork failure reported: {text}"
    );
    assert!(in_group <= 16);
}

#[tokio::test]
async fn nofile_is_1024() {
    let sb = sandbox("nofile");
    let mut p = sb
        .spawn(sh("nofile", "ulimit -n; ulimit -Hn"))
        .expect("spawn");
    let out = Output::new(p.take_output().expect("output"));
    assert!(p.wait().await.expect("wait").success());
    assert_eq!(out.read_to_end().await, "1024\n1024\n");
}

#[tokio::test]
async fn environment_is_exactly_the_given_one() {
    let sb = sandbox("env");
    let mut spec = sh("env", "");
    spec.program = "/usr/bin/env".into();
    spec.args = vec![];
    spec.env = vec![
        ("PATH".into(), "/usr/bin:/bin".into()),
        ("AWS_LAMBDA_FUNCTION_NAME".into(), "hello".into()),
        ("WITH_SPACE".into(), "a b  c".into()),
    ];
    let mut p = sb.spawn(spec).expect("spawn");
    let out = Output::new(p.take_output().expect("output"));
    assert!(p.wait().await.expect("wait").success());
    let text = out.read_to_end().await;
    let mut lines: Vec<&str> = text.lines().collect();
    lines.sort_unstable();
    assert_eq!(
        lines,
        [
            "AWS_LAMBDA_FUNCTION_NAME=hello",
            "PATH=/usr/bin:/bin",
            "WITH_SPACE=a b  c"
        ]
    );
}

#[tokio::test]
async fn stdout_and_stderr_share_the_output_fd() {
    let sb = sandbox("output");
    let mut p = sb
        .spawn(sh(
            "output",
            "echo to-stdout; echo to-stderr >&2; cat; echo stdin-was-empty",
        ))
        .expect("spawn");
    let out = Output::new(p.take_output().expect("output"));
    assert!(p.take_output().is_none(), "output is handed out once");
    assert!(p.wait().await.expect("wait").success());
    assert_eq!(
        out.read_to_end().await,
        "to-stdout\nto-stderr\nstdin-was-empty\n"
    );
}

#[tokio::test]
async fn mounts_present_task_opt_runtime_and_private_tmp() {
    let sb = sandbox("mounts");
    require!(
        sb.capabilities().mount_ns,
        "no mount namespace on this host"
    );
    let task = tempfile::tempdir().expect("task dir");
    let tmp = tempfile::tempdir().expect("tmp dir");
    std::fs::write(task.path().join("handler.sh"), "echo hi").expect("write task file");
    let marker = format!("marker-{}", std::process::id());
    let script = format!(
        "pwd; ls /var/task; echo opt-entries=$(ls -A /opt | wc -l); \
         echo runtime-entries=$(ls -A /var/runtime | wc -l); \
         if (echo x > /var/task/new) 2>/dev/null; then echo task-writable; else echo task-read-only; fi; \
         if touch /opt/x 2>/dev/null; then echo opt-writable; else echo opt-read-only; fi; \
         echo hello > /tmp/{marker} && echo tmp-writable; \
         grep ' /var/task ' /proc/self/mountinfo | cut -d' ' -f6"
    );
    let mut spec = sh("mounts", &script);
    spec.cwd = "/var/task".into();
    spec.mounts = Some(Mounts {
        task: task.path().to_owned(),
        opt: None,
        runtime: None,
        tmp: tmp.path().to_owned(),
    });
    let mut p = sb.spawn(spec).expect("spawn");
    let out = Output::new(p.take_output().expect("output"));
    let status = p.wait().await.expect("wait");
    let text = out.read_to_end().await;
    eprintln!("{text}");
    assert!(status.success(), "{status:?}");
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        &lines[..8],
        [
            "/var/task",
            "handler.sh",
            "opt-entries=0",
            "runtime-entries=0",
            "task-read-only",
            "opt-read-only",
            "tmp-writable",
            lines[7],
        ]
    );
    assert!(
        lines[7].split(',').any(|o| o == "ro"),
        "/var/task mount options {}",
        lines[7]
    );
    assert!(!task.path().join("new").exists());
    assert_eq!(
        std::fs::read_to_string(tmp.path().join(&marker)).expect("marker in the host tmp dir"),
        "hello\n"
    );
    assert!(
        !PathBuf::from("/tmp").join(&marker).exists(),
        "host /tmp untouched"
    );
}

#[tokio::test]
async fn layer_and_runtime_dirs_are_shown_read_only() {
    let sb = sandbox("layers");
    require!(
        sb.capabilities().mount_ns,
        "no mount namespace on this host"
    );
    let [task, opt, runtime, tmp] = std::array::from_fn(|_| tempfile::tempdir().expect("temp dir"));
    std::fs::write(opt.path().join("layer.txt"), "").expect("write");
    std::fs::write(runtime.path().join("bootstrap"), "").expect("write");
    let mut spec = sh(
        "layers",
        "ls /opt /var/runtime; touch /var/runtime/x 2>/dev/null || echo runtime-read-only",
    );
    spec.mounts = Some(Mounts {
        task: task.path().to_owned(),
        opt: Some(opt.path().to_owned()),
        runtime: Some(runtime.path().to_owned()),
        tmp: tmp.path().to_owned(),
    });
    let mut p = sb.spawn(spec).expect("spawn");
    let out = Output::new(p.take_output().expect("output"));
    assert!(p.wait().await.expect("wait").success());
    assert_eq!(
        out.read_to_end().await,
        "/opt:\nlayer.txt\n\n/var/runtime:\nbootstrap\nruntime-read-only\n"
    );
}

#[tokio::test]
async fn failed_confinement_step_is_named() {
    let sb = sandbox("confine-err");
    require!(
        sb.capabilities().mount_ns,
        "no mount namespace on this host"
    );
    let tmp = tempfile::tempdir().expect("tmp dir");
    let mut spec = sh("confine-err", "true");
    spec.mounts = Some(Mounts {
        task: tmp.path().join("missing"),
        opt: None,
        runtime: None,
        tmp: tmp.path().to_owned(),
    });
    match sb.spawn(spec) {
        Err(SandboxError::Confine { step, source, .. }) => {
            assert_eq!(step, "bind /var/task");
            assert_eq!(source.raw_os_error(), Some(libc::ENOENT));
        }
        other => panic!("expected Confine, got {other:?}"),
    }
}

#[tokio::test]
async fn missing_program_is_a_spawn_error() {
    let sb = sandbox("noprog");
    let mut spec = sh("noprog", "");
    spec.program = "/nonexistent/bootstrap".into();
    match sb.spawn(spec) {
        Err(SandboxError::Spawn { program, source }) => {
            assert_eq!(program, PathBuf::from("/nonexistent/bootstrap"));
            assert_eq!(source.kind(), std::io::ErrorKind::NotFound);
        }
        other => panic!("expected Spawn, got {other:?}"),
    }
}

/// Starts `sh` that launches a `setsid` grandchild and prints its pid, then waits.
async fn spawn_with_escaped_grandchild(
    sb: &Sandbox,
    id: &str,
) -> (ledge_sandbox::SandboxedProcess, u32) {
    let mut p = sb
        .spawn(sh(
            id,
            "setsid sleep 300 </dev/null >/dev/null 2>&1 & echo gc=$!; exec sleep 300",
        ))
        .expect("spawn");
    let mut out = Output::new(p.take_output().expect("output"));
    out.until("\n").await;
    let gc: u32 = out
        .text
        .trim()
        .strip_prefix("gc=")
        .and_then(|s| s.parse().ok())
        .expect("grandchild pid");
    // setsid(1) execs sleep in place once it has its own session.
    assert!(
        eventually(Duration::from_secs(5), || session_of(gc) == Some(gc)).await,
        "grandchild left the session"
    );
    assert_ne!(session_of(gc), session_of(p.pid()));
    (p, gc)
}

#[tokio::test]
async fn kill_takes_down_a_setsid_grandchild() {
    let sb = sandbox("kill");
    require!(
        sb.capabilities().cgroup != CgroupKind::None,
        "no cgroups: setsid escapes the process group"
    );
    let (mut p, gc) = spawn_with_escaped_grandchild(&sb, "kill").await;
    assert!(alive(gc));
    p.kill();
    p.kill(); // idempotent
    assert_eq!(p.wait().await.expect("wait").signal(), Some(9));
    assert!(
        eventually(Duration::from_secs(5), || !alive(gc)).await,
        "grandchild {gc} survived kill()"
    );
}

#[tokio::test]
async fn drop_kills_everything_and_removes_cgroup_dirs() {
    let sb = sandbox("drop");
    require!(
        sb.capabilities().cgroup != CgroupKind::None,
        "no cgroups on this host"
    );
    let (p, gc) = spawn_with_escaped_grandchild(&sb, "drop").await;
    let pid = p.pid();
    let dirs = p.cgroup_dirs();
    assert!(!dirs.is_empty() && dirs.iter().all(|d| d.is_dir()));
    drop(p);
    for d in &dirs {
        assert!(!d.exists(), "{} survived drop", d.display());
    }
    assert!(eventually(Duration::from_secs(5), || !alive(gc) && !alive(pid)).await);
}

#[tokio::test]
async fn disabled_probe_falls_back_and_still_spawns() {
    let sb = Sandbox::probe(SandboxOptions {
        name: format!("ledge-{}-fallback", std::process::id()),
        disable_cgroups: true,
        disable_mount_ns: true,
    });
    let notice = sb.notice();
    eprintln!("{notice}");
    assert_eq!(
        notice,
        "sandbox: cgroups disabled by option (memory via RLIMIT_DATA only, CPU quota and pids NOT \
         enforced); mount namespace disabled by option (code at its host path, /tmp shared, \
         TMPDIR set per environment)"
    );
    assert_eq!(sb.capabilities().cgroup, CgroupKind::None);
    let tmp = tempfile::tempdir().expect("tmp");
    let mut spec: SpawnSpec = sh("fallback", "pwd; ulimit -d; ulimit -n");
    spec.cwd = tmp.path().to_owned();
    spec.limits = Limits::lambda(128);
    // Ignored without a mount namespace.
    spec.mounts = Some(Mounts {
        task: "/nonexistent".into(),
        opt: None,
        runtime: None,
        tmp: "/nonexistent".into(),
    });
    spec.env.push((OsString::from("TMPDIR"), tmp.path().into()));
    let mut p = sb.spawn(spec).expect("spawn");
    let out = Output::new(p.take_output().expect("output"));
    assert!(p.wait().await.expect("wait").success());
    assert_eq!(
        out.read_to_end().await,
        format!("{}\n131072\n1024\n", tmp.path().display()),
        "cwd set, RLIMIT_DATA = 128 MiB in KiB, nofile"
    );
    assert_eq!(p.cpu_usage(), None);
    assert_eq!(p.memory_peak_bytes(), None);
    assert!(p.cgroup_dirs().is_empty());
}

#[tokio::test]
async fn fallback_kill_takes_down_the_process_group() {
    let sb = Sandbox::probe(SandboxOptions {
        name: format!("ledge-{}-fallback-kill", std::process::id()),
        disable_cgroups: true,
        disable_mount_ns: true,
    });
    let mut p = sb
        .spawn(sh("fallback-kill", "sleep 300 & echo gc=$!; wait"))
        .expect("spawn");
    let mut out = Output::new(p.take_output().expect("output"));
    out.until("\n").await;
    let gc: u32 = out
        .text
        .trim()
        .trim_start_matches("gc=")
        .parse()
        .expect("pid");
    assert!(alive(gc));
    drop(p);
    assert!(
        eventually(Duration::from_secs(5), || !alive(gc)).await,
        "group member {gc} survived"
    );
}
