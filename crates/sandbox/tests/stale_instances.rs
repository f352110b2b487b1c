//! Shutdown cleanup and removal of stale instances left by dead ledge processes. A separate
//! test binary: every probe scans for stale instances, so parallel probes would race this test.

mod common;

use std::path::PathBuf;
use std::time::Duration;

use common::{alive, eventually, sandbox, sh};
use ledge_sandbox::CgroupKind;

#[tokio::test]
async fn cleanup_removes_parents_and_probe_removes_stale_instances() {
    let sb = sandbox("cleanup");
    require!(
        sb.capabilities().cgroup != CgroupKind::None,
        "no cgroups on this host"
    );
    let p = sb.spawn(sh("cleanup", "exec sleep 300")).expect("spawn");
    let pid = p.pid();
    let dirs = p.cgroup_dirs();
    let parents: Vec<PathBuf> = dirs
        .iter()
        .map(|d| d.parent().expect("parent").to_owned())
        .collect();
    let owns: Vec<PathBuf> = parents
        .iter()
        .map(|d| d.parent().expect("own").to_owned())
        .collect();
    sb.cleanup();
    assert!(
        parents.iter().all(|d| !d.exists()),
        "parents removed by cleanup()"
    );
    assert!(
        eventually(Duration::from_secs(5), || !alive(pid)).await,
        "cleanup() kills"
    );
    drop(p); // finds its cgroups gone: no panic

    // A stale instance of a pid that cannot exist (above the kernel's pid limit, 2^22), with
    // an environment cgroup holding a live process.
    let orphan = tokio::process::Command::new("sleep")
        .arg("300")
        .kill_on_drop(true)
        .spawn()
        .expect("orphan");
    let orphan_pid = orphan.id().expect("pid");
    let stale: Vec<PathBuf> = owns.iter().map(|o| o.join("ledge-4194999-stale")).collect();
    for s in &stale {
        std::fs::create_dir_all(s.join("env")).expect("create stale cgroup");
        std::fs::write(s.join("env/cgroup.procs"), orphan_pid.to_string())
            .expect("move the orphan into the stale cgroup");
    }
    let again = sandbox("cleanup2");
    assert!(
        stale.iter().all(|s| !s.exists()),
        "stale instance removed at probe"
    );
    assert!(
        eventually(Duration::from_secs(5), || !alive(orphan_pid)).await,
        "stale process killed"
    );
    drop(again);
}
