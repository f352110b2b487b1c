//! Power-tuning benchmark (issue 10): the tuner's own overhead, and measured duration
//! ratios between memory sizes under the cgroup CPU quota against the quota ratios.
//!
//! Run as root (so cgroups enforce the quota): `cargo bench -p ledge-app --bench tune`.
//! Prints Markdown.

use std::collections::BTreeMap;
use std::path::PathBuf;

use ledge_app::tune::RuntimeTarget;
use ledge_app::RuntimeOptions;
use ledge_pricing::PriceBook;
use ledge_tune::{TuneInput, TuneOutput};

const PYTHON: &str = "/usr/bin/python3.11";

async fn tune(template: &std::path::Path, function: &str, input: serde_json::Value) -> TuneOutput {
    let opts = RuntimeOptions {
        python: Some(PathBuf::from(PYTHON)),
        ..RuntimeOptions::default()
    };
    let target = RuntimeTarget::from_template(template, &BTreeMap::new(), function, &opts)
        .await
        .expect("target");
    let plan = TuneInput::from_json(&input.to_string())
        .expect("input")
        .plan(|p| std::fs::read(p))
        .expect("plan");
    ledge_tune::tune(&target, &plan, &ledge_tune::Silent, PriceBook::builtin())
        .await
        .expect("tune")
        .1
        .expect("output")
}

fn mean(out: &TuneOutput, mb: u32) -> f64 {
    out.ledge
        .sizes
        .iter()
        .find(|s| s.memory == mb)
        .and_then(|s| s.duration.as_ref())
        .map(|d| d.mean.value)
        .unwrap_or(f64::NAN)
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let dir = tempfile::tempdir().expect("tempdir");
    let sleepy = dir.path().join("sleepy");
    std::fs::create_dir_all(&sleepy).expect("mkdir");
    std::fs::write(
        sleepy.join("app.py"),
        "import time\n\ndef handler(event, context):\n    time.sleep(0.05)\n    return {'ok': True}\n",
    )
    .expect("write");
    let template = dir.path().join("template.yaml");
    std::fs::write(
        &template,
        "Transform: AWS::Serverless-2016-10-31\nResources:\n  Sleepy:\n    Type: AWS::Serverless::Function\n    Properties:\n      CodeUri: sleepy/\n      Handler: app.handler\n      Runtime: python3.11\n      Timeout: 30\n",
    )
    .expect("write");
    println!("# ledge tune benchmark\n");

    // ---- 1. tuning overhead -------------------------------------------------------------
    let sizes = [128, 256, 512, 1024, 1536, 3008];
    let out = tune(
        &template,
        "Sleepy",
        serde_json::json!({"num": 10, "powerValues": sizes, "seed": 1}),
    )
    .await;
    let t = &out.ledge.tuning;
    println!(
        "## Tuning overhead: a 50 ms function (time.sleep), 6 sizes × 10 invocations, serial\n"
    );
    println!(
        "Each size also gets 1 cold start and 2 warm-ups (the defaults): {} invocations.\n",
        t.invocations
    );
    println!("| measure | value |\n|---|---|");
    println!("| wall time of the whole tuning (deploys, cold starts, warm-ups, trials, analysis) | {:.2} s |", t.wall_seconds);
    println!(
        "| Σ the function's own time, every invocation (Duration + Init Duration) | {:.2} s |",
        t.function_seconds
    );
    println!(
        "| Σ Duration of the 60 trial invocations | {:.2} s |",
        t.trial_seconds
    );
    println!(
        "| **overhead = wall ÷ Σ function time** | **{:.3}×** |",
        t.wall_seconds / t.function_seconds
    );
    println!("| wall ÷ Σ trial durations (stricter: cold starts and warm-ups count as overhead) | {:.3}× |\n", t.wall_seconds / t.trial_seconds);

    // ---- 2. CPU-bound scaling -----------------------------------------------------------
    let example =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../examples/hello/template.yaml");
    let sizes = [128u32, 256, 512, 1024, 1769, 3008];
    let out = tune(
        &example,
        "PrimesFunction",
        serde_json::json!({"num": 10, "powerValues": sizes, "payload": {"ms": 40}, "seed": 2}),
    )
    .await;
    println!("## CPU-bound example (`{{\"ms\": 40}}` of CPU work), num 10, interleaved\n");
    println!("| memory | mean duration (ms) [95% CI] | CPU ÷ wall | throttled | measured ratio to 1769 MB | quota ratio 1769/memory (≥ 1 vCPU: 1) |");
    println!("|---|---|---|---|---|---|");
    let top = mean(&out, 1769);
    for &m in &sizes {
        let s = out
            .ledge
            .sizes
            .iter()
            .find(|s| s.memory == m)
            .expect("size");
        let d = s.duration.as_ref().expect("duration");
        let cpu = s.cpu.as_ref();
        println!(
            "| {m} MB | {:.1} [{:.1}–{:.1}] | {} | {} | {:.2}× | {:.2}× |",
            d.mean.value,
            d.mean.low,
            d.mean.high,
            cpu.map(|c| format!("{:.3}", c.cpu_per_wall))
                .unwrap_or_default(),
            cpu.map(|c| format!("{:.0}%", c.throttled_fraction * 100.0))
                .unwrap_or_default(),
            d.mean.value / top,
            (1769.0 / f64::from(m)).max(1.0)
        );
    }
    println!(
        "\nRecommended ({}): {} MB — {}",
        out.ledge.strategy.as_str(),
        out.power,
        out.ledge.recommendation.reason
    );
}
