//! Node.js runtime benchmarks: warm-invoke overhead and cold start against a bare
//! `node -e "require('./index.js')"`.
//!
//! Run with `cargo bench -p ledge-runtime --bench node` (as root, so that cgroups and the
//! mount namespace are used). `BENCH_WARM` / `BENCH_COLD` set the number of calls. Results
//! print as a Markdown table.

use std::path::{Path, PathBuf};
use std::process::Command;

use ledge_model::FunctionSpec;
use ledge_runtime::{Runtime, RuntimeConfig};

mod common;

fn write_fn(dir: &Path, body: &str) -> PathBuf {
    common::write_fn(dir, "index.js", body)
}

fn spec(name: &str, dir: &Path, memory: u32) -> FunctionSpec {
    common::spec(name, dir, "index.handler", "nodejs20.x", memory)
}

fn env_count(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let n_warm = env_count("BENCH_WARM", 5000);
    let n_cold = env_count("BENCH_COLD", 40);
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = RuntimeConfig::new(dir.path().join("state"));
    let rt = Runtime::new(cfg).expect("runtime");
    let (node, _) = ledge_runtime::node::find(20).expect("node");
    println!(
        "# ledge Node.js runtime benchmark\n\n{}\n",
        rt.sandbox_notice()
    );
    println!("node: {} ({})\n", node.path.display(), node.version);

    // ---- 1. warm invoke overhead -------------------------------------------------------
    // The handler reports its own time; ledge's overhead = round trip - handler time.
    let trivial = write_fn(
        &dir.path().join("trivial"),
        "const { performance } = require('node:perf_hooks');\nexports.handler = async () => {\n  const t = performance.now();\n  const r = { ok: true };\n  return { ok: r.ok, handler_us: (performance.now() - t) * 1000 };\n};\n",
    );
    for memory in [1769u32, 128] {
        let name = format!("Trivial{memory}");
        rt.deploy(spec(&name, &trivial, memory))
            .await
            .expect("deploy");
        common::warm_table(
            &rt,
            &name,
            n_warm,
            &format!("Warm invoke, trivial Node.js handler, {memory} MB"),
        )
        .await;
    }

    // ---- 2. cold start vs `node -e "require('./index.js')"` ----------------------------
    let plain = write_fn(
        &dir.path().join("plain"),
        "exports.handler = async () => ({ ok: true });\n",
    );
    for memory in [1769u32, 128] {
        let name = format!("Cold{memory}");
        common::cold_table(
            &rt,
            spec(&name, &plain, memory),
            n_cold,
            || {
                let mut c = Command::new(&node.path);
                c.args(["-e", "require('./index.js')"]).current_dir(&plain);
                c
            },
            "`node -e \"require('./index.js')\"`",
            &format!("Cold start, trivial handler, {memory} MB"),
        )
        .await;
    }
    rt.shutdown().await;
}
