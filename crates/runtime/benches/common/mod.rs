//! What the runtime benchmarks share: percentiles, function folders, one timed call, and
//! the warm-invoke table.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use ledge_model::{FunctionSpec, Invoke, InvokeRequest, MemoryMb, TimeoutSecs};
use ledge_runtime::Runtime;

pub(crate) fn pct(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let idx = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[idx]
}

/// One table row: `label`, then the p50 and the `hi` percentile of sorted `v`.
pub(crate) fn row(label: &str, v: &[f64], hi: f64, decimals: usize) {
    println!(
        "| {label} | {:.*} | {:.*} |",
        decimals,
        pct(v, 0.5),
        decimals,
        pct(v, hi)
    );
}

pub(crate) fn sorted(mut v: Vec<f64>) -> Vec<f64> {
    v.sort_by(|a, b| a.partial_cmp(b).expect("no NaN"));
    v
}

/// A function folder holding `file` with `body`.
pub(crate) fn write_fn(dir: &Path, file: &str, body: &str) -> PathBuf {
    std::fs::create_dir_all(dir).expect("mkdir");
    std::fs::write(dir.join(file), body).expect("write");
    dir.to_owned()
}

pub(crate) fn spec(
    name: &str,
    dir: &Path,
    handler: &str,
    runtime: &str,
    memory: u32,
) -> FunctionSpec {
    let mut s = FunctionSpec::with_defaults(
        name.parse().expect("name"),
        dir.to_owned(),
        handler,
        runtime.parse().expect("runtime"),
    );
    s.memory = MemoryMb::new(memory).expect("memory");
    s.timeout = TimeoutSecs::new(60).expect("timeout");
    s
}

pub(crate) async fn invoke(
    rt: &Runtime,
    name: &str,
    payload: &str,
) -> (Duration, ledge_model::InvokeResult) {
    let req = InvokeRequest::new(name.parse().expect("name"), payload.as_bytes().to_vec());
    let t = Instant::now();
    let r = rt.invoke(req).await.expect("invoke");
    (t.elapsed(), r)
}

/// `n_warm` sequential calls of a deployed function whose answer carries `handler_us`
/// (its own time), after 200 warm-ups; prints round trip, ledge's overhead and REPORT
/// Duration as a Markdown table.
pub(crate) async fn warm_table(rt: &Runtime, name: &str, n_warm: usize, title: &str) {
    for _ in 0..200 {
        invoke(rt, name, "{}").await;
    }
    let mut total = Vec::with_capacity(n_warm);
    let mut overhead = Vec::with_capacity(n_warm);
    let mut env_side = Vec::with_capacity(n_warm);
    for _ in 0..n_warm {
        let (t, r) = invoke(rt, name, "{}").await;
        let v: serde_json::Value = serde_json::from_slice(r.outcome.payload()).expect("json");
        let handler_us = v["handler_us"].as_f64().unwrap_or(0.0);
        let us = t.as_secs_f64() * 1e6;
        total.push(us);
        overhead.push(us - handler_us);
        env_side.push(r.report.expect("report").duration.as_secs_f64() * 1e6);
    }
    let (total, overhead, env_side) = (sorted(total), sorted(overhead), sorted(env_side));
    println!("## {title}, {n_warm} sequential calls (in-process `Invoke`)\n");
    println!("| measure | p50 | p99 |\n|---|---|---|");
    row("round trip (µs)", &total, 0.99, 0);
    row(
        "ledge overhead = round trip − handler time (µs)",
        &overhead,
        0.99,
        0,
    );
    row(
        "REPORT Duration: event delivered → response posted (µs)",
        &env_side,
        0.99,
        0,
    );
    println!();
}

/// `n_cold` cold starts of `base` (each deploy changes an environment variable, which
/// retires the warm environment), alternating with a bare run of the interpreter loading
/// the same code (`bare`, described by `bare_label`); prints both and their difference.
pub(crate) async fn cold_table(
    rt: &Runtime,
    mut base: FunctionSpec,
    n_cold: usize,
    mut bare: impl FnMut() -> Command,
    bare_label: &str,
    title: &str,
) {
    let name = base.name.to_string();
    let (mut cold, mut init, mut bare_ms) = (Vec::new(), Vec::new(), Vec::new());
    for i in 0..n_cold {
        // Alternate the two sides so that machine noise hits both alike.
        let t = Instant::now();
        let st = bare().status().expect("bare interpreter");
        assert!(st.success());
        bare_ms.push(t.elapsed().as_secs_f64() * 1e3);
        base.environment.insert("N".into(), i.to_string()); // a change forces a cold start
        rt.deploy(base.clone()).await.expect("deploy");
        let (t, r) = invoke(rt, &name, "{}").await;
        let report = r.report.expect("report");
        assert!(report.init_duration.is_some(), "cold");
        cold.push(t.as_secs_f64() * 1e3);
        init.push(report.init_duration.expect("init").as_secs_f64() * 1e3);
    }
    let (cold, init, bare_ms) = (sorted(cold), sorted(init), sorted(bare_ms));
    println!("## {title}, {n_cold} runs alternating\n");
    println!("| measure | p50 (ms) | p90 (ms) |\n|---|---|---|");
    row(
        "ledge cold invoke (deploy change → response)",
        &cold,
        0.9,
        2,
    );
    row(
        "of which Init Duration (spawn → first /next)",
        &init,
        0.9,
        2,
    );
    row(bare_label, &bare_ms, 0.9, 2);
    println!(
        "| **difference (p50)** | **{:.2}** | |\n",
        pct(&cold, 0.5) - pct(&bare_ms, 0.5)
    );
}
