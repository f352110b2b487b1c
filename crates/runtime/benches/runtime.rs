//! Runtime benchmarks (issue 2): warm-invoke overhead, cold start against a bare
//! interpreter import, and duration scaling with memory size under the CPU quota.
//!
//! Run with `cargo bench -p ledge-runtime --bench runtime` (as root, so that cgroups and
//! the mount namespace are used). Results print as a Markdown table.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use ledge_model::FunctionSpec;
use ledge_runtime::{Runtime, RuntimeConfig};

const PYTHON: &str = "/usr/bin/python3.11";

mod common;

use common::{invoke, pct, row, sorted};

fn write_fn(dir: &Path, body: &str) -> PathBuf {
    common::write_fn(dir, "handler.py", body)
}

fn spec(name: &str, dir: &Path, memory: u32) -> FunctionSpec {
    common::spec(name, dir, "handler.handler", "python3.11", memory)
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let n_warm: usize = std::env::var("BENCH_WARM")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(5000);
    let n_cold: usize = std::env::var("BENCH_COLD")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(40);
    let dir = tempfile::tempdir().expect("tempdir");
    let mut cfg = RuntimeConfig::new(dir.path().join("state"));
    cfg.python = Some(PathBuf::from(PYTHON));
    cfg.write_logs = true;
    let rt = Runtime::new(cfg).expect("runtime");
    println!("# ledge runtime benchmark\n\n{}\n", rt.sandbox_notice());
    println!(
        "Interpreter: {PYTHON} (Debian's, launched directly with -S; no PATH lookup, no shim).\n"
    );

    // ---- 1. warm invoke overhead -------------------------------------------------------
    // The handler reports its own time; ledge's overhead = round trip - handler time.
    let trivial = write_fn(
        &dir.path().join("trivial"),
        "import time\n\ndef handler(event, context):\n    t = time.perf_counter()\n    r = {'ok': True}\n    return {'ok': True, 'handler_us': (time.perf_counter() - t) * 1e6}\n",
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
            &format!("Warm invoke, trivial Python handler, {memory} MB"),
        )
        .await;
    }

    // ---- 2. cold start vs `python3 -c 'import handler'` --------------------------------
    let plain = write_fn(
        &dir.path().join("plain"),
        "def handler(event, context):\n    return {'ok': True}\n",
    );
    let with_json = write_fn(
        &dir.path().join("withjson"),
        "import json\n\ndef handler(event, context):\n    return {'ok': json.dumps(1)}\n",
    );
    for (label, code) in [
        ("trivial handler", &plain),
        ("handler that imports json", &with_json),
    ] {
        for memory in [1769u32, 128] {
            let name = format!("Cold{memory}{}", label.len());
            common::cold_table(
                &rt,
                spec(&name, code, memory),
                n_cold,
                || {
                    let mut c = Command::new(PYTHON);
                    c.args(["-c", "import handler"]).current_dir(code);
                    c
                },
                &format!("`{PYTHON} -c 'import handler'`"),
                &format!("Cold start, {label}, {memory} MB"),
            )
            .await;
        }
    }

    // ---- 3. CPU-bound function across memory sizes -------------------------------------
    let primes = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../examples/hello/primes");
    let cpu_ms = 300;
    let sizes = [128u32, 512, 1769];
    let mut medians = Vec::new();
    for &m in &sizes {
        let name = format!("Primes{m}");
        let mut s = spec(&name, &primes, m);
        s.handler = "app.handler".into();
        rt.deploy(s).await.expect("deploy");
        invoke(&rt, &name, r#"{"ms":20}"#).await;
    }
    let mut walls: Vec<Vec<f64>> = vec![Vec::new(); sizes.len()];
    for _round in 0..5 {
        for (i, &m) in sizes.iter().enumerate() {
            let (_, r) = invoke(&rt, &format!("Primes{m}"), &format!(r#"{{"ms":{cpu_ms}}}"#)).await;
            walls[i].push(r.report.expect("report").duration.as_secs_f64() * 1e3);
        }
    }
    for w in walls {
        medians.push(pct(&sorted(w), 0.5));
    }
    println!("## CPU-bound example ({cpu_ms} ms of CPU work), median of 5 interleaved runs\n");
    println!("| memory | duration (ms) | ratio to 1769 MB | quota ratio 1769/memory |\n|---|---|---|---|");
    let top = medians[sizes.len() - 1];
    for (i, &m) in sizes.iter().enumerate() {
        println!(
            "| {m} MB | {:.1} | {:.2}× | {:.2}× |",
            medians[i],
            medians[i] / top,
            1769.0 / f64::from(m)
        );
    }
    // ---- 4. layers: cold start with 5 layers vs none; publishing a 50 MB layer ----------
    let store = rt.store().clone();
    let mut arns = Vec::new();
    for i in 0..5 {
        let d = dir.path().join(format!("layer{i}"));
        std::fs::create_dir_all(d.join(format!("python/pkg{i}"))).expect("mkdir");
        std::fs::create_dir_all(d.join("bin")).expect("mkdir");
        for j in 0..50 {
            std::fs::write(
                d.join(format!("python/pkg{i}/mod{j}.py")),
                format!("X = {j}\n"),
            )
            .expect("write");
        }
        std::fs::write(d.join("python/shared.py"), format!("LAYER = {i}\n")).expect("write");
        let art = store.import_dir(&d, &Default::default()).expect("import");
        let v = store
            .publish_layer_version(&format!("bench{i}"), &art, &Default::default())
            .expect("publish");
        arns.push(v.layer_version_arn);
    }
    let mut base = spec("LayersNone", &plain, 1769);
    let mut layered = spec("Layers5", &plain, 1769);
    layered.layers = arns
        .iter()
        .cloned()
        .map(ledge_model::LayerRef::Arn)
        .collect();
    // Materialise once (the merged tree is cached per layer combination).
    rt.deploy(layered.clone()).await.expect("deploy");
    invoke(&rt, "Layers5", "{}").await;
    let (mut none, mut five) = (Vec::new(), Vec::new());
    for i in 0..n_cold {
        base.environment.insert("N".into(), i.to_string());
        rt.deploy(base.clone()).await.expect("deploy");
        none.push(invoke(&rt, "LayersNone", "{}").await.0.as_secs_f64() * 1e3);
        layered.environment.insert("N".into(), i.to_string());
        rt.deploy(layered.clone()).await.expect("deploy");
        five.push(invoke(&rt, "Layers5", "{}").await.0.as_secs_f64() * 1e3);
    }
    let (none, five) = (sorted(none), sorted(five));
    println!("## Cold start with 5 layers (250 small files) vs none, 1769 MB, {n_cold} runs alternating\n");
    println!("| measure | p50 (ms) | p90 (ms) |\n|---|---|---|");
    row("no layers", &none, 0.9, 2);
    row("5 layers", &five, 0.9, 2);
    println!(
        "| **difference (p50)** | **{:.2}** | |\n",
        pct(&five, 0.5) - pct(&none, 0.5)
    );

    let big = dir.path().join("big-layer");
    std::fs::create_dir_all(big.join("python/many")).expect("mkdir");
    let mut seed: u64 = 0x9e3779b97f4a7c15;
    let mut noise = vec![0u8; 40 * 1024 * 1024];
    for b in noise.iter_mut() {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        *b = seed as u8;
    }
    std::fs::write(big.join("python/blob.bin"), &noise).expect("write");
    for j in 0..2500 {
        std::fs::write(big.join(format!("python/many/f{j}.py")), vec![b'#'; 4096]).expect("write");
    }
    let t = Instant::now();
    let art = store.import_dir(&big, &Default::default()).expect("import");
    let imported = t.elapsed();
    let v = store
        .publish_layer_version("big", &art, &Default::default())
        .expect("publish");
    let t2 = Instant::now();
    store
        .merged_tree(std::slice::from_ref(&v.artifact))
        .expect("merge");
    let merged = t2.elapsed();
    println!("## Publishing a 50 MB layer (40 MiB incompressible + 2,500 files of 4 KiB)\n");
    println!("| step | time (ms) |\n|---|---|");
    println!(
        "| import (zip, hash, extract) | {:.0} |",
        imported.as_secs_f64() * 1e3
    );
    println!(
        "| merge into an /opt tree | {:.0} |",
        merged.as_secs_f64() * 1e3
    );
    println!("| unzipped size | {} bytes |\n", art.unzipped_size);
    rt.shutdown().await;
}
