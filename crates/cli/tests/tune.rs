//! `ledge tune` and `ledge price` end to end: real functions under real cgroup CPU quotas,
//! the JSON and the HTML they write, the report rendered in headless Chromium, and bills.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;

use common::{example, ledge, run, text};

/// Tuning runs measure CPU time; one at a time, so they do not slow each other down.
static CPU: Mutex<()> = Mutex::new(());

fn json(path: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(path).expect("read")).expect("json")
}

fn size(out: &serde_json::Value, mb: u64) -> &serde_json::Value {
    out["ledge"]["sizes"]
        .as_array()
        .expect("sizes")
        .iter()
        .find(|s| s["memory"] == mb)
        .expect("size")
}

fn mean_ms(out: &serde_json::Value, mb: u64) -> f64 {
    size(out, mb)["duration"]["mean"]["value"]
        .as_f64()
        .expect("mean")
}

#[test]
fn tune_the_cpu_bound_example_across_five_sizes() {
    let _cpu = CPU.lock().unwrap_or_else(|e| e.into_inner());
    let dir = tempfile::tempdir().expect("tempdir");
    let (out_path, report) = (dir.path().join("out.json"), dir.path().join("report.html"));
    let o = run(ledge()
        .args(["tune", "PrimesFunction", "-t"])
        .arg(example())
        .args([
            "--power-values",
            "128,256,512,1024,1769",
            "--num",
            "10",
            "--payload",
            r#"{"ms":25}"#,
        ])
        .args(["--include-output-results", "--share", "--output"])
        .arg(&out_path)
        .arg("--report")
        .arg(&report));
    assert!(o.status.success(), "{}{}", text(&o.stdout), text(&o.stderr));
    let stdout = text(&o.stdout);
    // Not a terminal: plain progress lines instead of a bar.
    let stderr = text(&o.stderr);
    assert!(
        stderr.contains("ledge tune: about 65 invocations") && stderr.contains("(100%)"),
        "{stderr}"
    );
    assert!(
        stdout.contains("Recommended: ") && stdout.contains("MemorySize: "),
        "{stdout}"
    );
    let out = json(&out_path);
    // The anchor's output shape …
    for k in ["power", "cost", "duration"] {
        assert!(out[k].is_number(), "{k}: {out}");
    }
    let sm = &out["stateMachine"];
    assert_eq!(sm["executionCost"], 0.0);
    assert!(sm["lambdaCost"].as_f64().expect("lambdaCost") > 0.0);
    assert!(sm["visualization"]
        .as_str()
        .expect("vis")
        .starts_with("https://lambda-power-tuning.show/#"));
    let stats = out["stats"].as_array().expect("stats");
    assert_eq!(stats.len(), 5);
    for s in stats {
        assert!(
            s["value"].is_number()
                && s["averagePrice"].is_number()
                && s["averageDuration"].is_number()
        );
    }
    // … and ledge's: every size viable, measured under its quota, with cold starts apart.
    for mb in [128, 256, 512, 1024, 1769] {
        let s = size(&out, mb);
        assert_eq!(s["viable"], true, "{mb}: {s}");
        let d = &s["duration"];
        assert_eq!(d["samples"], 10);
        assert!(d["mean"]["low"].as_f64() <= d["mean"]["value"].as_f64());
        assert!(
            d["p90"].is_null() && d["p99"].is_null(),
            "not estimable from 10 samples"
        );
        assert!(s["cold"]["initMs"]["value"].as_f64().expect("init") > 0.0);
        assert!(
            s["cost"]["value"].as_f64().expect("cost") > 2e-7,
            "request fee included"
        );
        assert!(s["prices"]["arm64"].as_f64() < s["prices"]["x86_64"].as_f64());
        assert!(s["cpu"]["cpuPerWall"].as_f64().is_some());
    }
    // Durations fall as memory rises; 128 MB is at least 4× slower than 1024 MB.
    let d: Vec<f64> = [128, 256, 512, 1024, 1769]
        .iter()
        .map(|m| mean_ms(&out, *m))
        .collect();
    // Up to 512 MB the CPU quota (7–29 % of a core) sets the pace whatever else the machine
    // runs; from 1024 MB up a busy machine, not the quota, can decide, so no order is
    // asserted there.
    for w in d[..3].windows(2) {
        assert!(
            w[1] < w[0] * 1.1,
            "durations should fall with memory: {d:?}"
        );
    }
    assert!(
        d[0] >= 4.0 * d[3],
        "128 MB {:.1} ms vs 1024 MB {:.1} ms",
        d[0],
        d[3]
    );
    // At 128 MB the quota throttles: the function gets about 7% of a core.
    let cpu128 = size(&out, 128)["cpu"]["cpuPerWall"].as_f64().expect("cpu");
    assert!(cpu128 < 0.15, "CPU ÷ wall at 128 MB: {cpu128}");
    // The report: one self-contained HTML file with one duration marker per size.
    let html = std::fs::read_to_string(&report).expect("report");
    assert!(html.contains("<svg"));
    assert_eq!(
        html.matches(r#"data-series="duration" "#).count(),
        5,
        "one marker per size"
    );
    for mb in [128, 256, 512, 1024, 1769] {
        assert!(html.contains(&format!(
            r#"data-series="duration" data-run="0" data-memory="{mb}""#
        )));
    }
    assert!(!html.contains("<script") && !html.contains("<link") && !html.contains("src="));
    // The samples are all there, in time order, interleaved across sizes.
    let samples = out["ledge"]["samples"].as_array().expect("samples");
    assert_eq!(samples.len(), 5 * (1 + 2 + 10));
    let trials: Vec<u64> = samples
        .iter()
        .filter(|s| s["phase"] == "trial")
        .map(|s| s["memory"].as_u64().expect("m"))
        .collect();
    let mut first_round = trials[..5].to_vec();
    first_round.sort();
    assert_eq!(
        first_round,
        vec![128, 256, 512, 1024, 1769],
        "trials are interleaved"
    );
}

#[test]
fn a_function_that_runs_out_of_memory_at_128_mb_is_not_viable_there_and_tuned_at_the_others() {
    let _cpu = CPU.lock().unwrap_or_else(|e| e.into_inner());
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::create_dir_all(dir.path().join("hog")).expect("mkdir");
    std::fs::write(
        dir.path().join("hog/app.py"),
        "def handler(event, context):\n    data = b'x' * (160 * 1024 * 1024)\n    return {'len': len(data)}\n",
    )
    .expect("write");
    std::fs::write(
        dir.path().join("template.yaml"),
        "Transform: AWS::Serverless-2016-10-31\nResources:\n  Hog:\n    Type: AWS::Serverless::Function\n    Properties:\n      CodeUri: hog/\n      Handler: app.handler\n      Runtime: python3.11\n      MemorySize: 512\n      Timeout: 30\n",
    )
    .expect("write");
    let out_path = dir.path().join("out.json");
    let report = dir.path().join("report.html");
    let o = run(ledge()
        .args(["tune", "Hog", "-t"])
        .arg(dir.path().join("template.yaml"))
        .args(["--power-values", "128,256,512", "--num", "5", "--output"])
        .arg(&out_path)
        .arg("--report")
        .arg(&report));
    assert!(o.status.success(), "{}{}", text(&o.stdout), text(&o.stderr));
    let out = json(&out_path);
    let s = size(&out, 128);
    assert_eq!(s["viable"], false, "{s}");
    assert!(
        s["reason"]
            .as_str()
            .expect("reason")
            .contains("out of memory"),
        "{s}"
    );
    for mb in [256, 512] {
        assert_eq!(size(&out, mb)["viable"], true);
        assert_eq!(size(&out, mb)["duration"]["samples"], 5);
        assert!(size(&out, mb)["maxMemoryUsedMb"].as_u64().expect("max") >= 160);
    }
    assert_ne!(out["power"], 128);
    assert_eq!(out["ledge"]["recommendation"]["minimumSafeMemory"], 256);
    assert!(text(&o.stdout).contains("128  not viable: ran out of memory"));
    let html = std::fs::read_to_string(&report).expect("report");
    assert!(html.contains(r#"data-series="duration-notviable" data-memory="128""#));
}

/// Debian's Chromium; installed with apt-get when missing (the tests run as root).
fn chromium() -> PathBuf {
    let found = || {
        ["/usr/bin/chromium", "/usr/bin/chromium-browser"]
            .iter()
            .map(PathBuf::from)
            .find(|p| p.exists())
    };
    if let Some(p) = found() {
        return p;
    }
    let apt = |args: &[&str]| {
        Command::new("apt-get")
            .args(args)
            .env("DEBIAN_FRONTEND", "noninteractive")
            .status()
            .map(|s| s.success())
            .unwrap_or(false)
    };
    let _ = apt(&["update", "-qq"]);
    let installed = apt(&["install", "-y", "-qq", "chromium"]);
    found().unwrap_or_else(|| {
        panic!(
            "the report check needs headless Chromium: /usr/bin/chromium is missing and \
             `apt-get install chromium` {} (run scripts/setup.sh as root)",
            if installed {
                "succeeded without providing it"
            } else {
                "failed"
            }
        )
    })
}

/// Renders a page to a PNG of `w`×`h` and returns (width, height, non-white share,
/// marker-blue pixels).
fn screenshot(html: &Path, png_path: &Path, w: u32, h: u32) -> (u32, u32, f64, usize) {
    let profile = tempfile::tempdir().expect("profile");
    let o = Command::new(chromium())
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--hide-scrollbars",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .arg(format!("--screenshot={}", png_path.display()))
        .arg(format!("--window-size={w},{h}"))
        .arg(format!("file://{}", html.display()))
        .output()
        .expect("run chromium");
    assert!(
        png_path.exists(),
        "chromium wrote no screenshot: {}",
        text(&o.stderr)
    );
    let decoder = png::Decoder::new(std::fs::File::open(png_path).expect("png"));
    let mut reader = decoder.read_info().expect("png header");
    let mut buf = vec![0; reader.output_buffer_size()];
    let info = reader.next_frame(&mut buf).expect("png frame");
    let px = info.color_type.samples();
    let data = &buf[..info.buffer_size()];
    let (mut ink, mut blue) = (0usize, 0usize);
    for p in data.chunks(px) {
        let (r, g, b) = (p[0], p[1], p[2]);
        if r < 240 || g < 240 || b < 240 {
            ink += 1;
        }
        // The duration markers' #1f5fbf.
        if r < 70 && (70..130).contains(&g) && b > 160 {
            blue += 1;
        }
    }
    let total = (info.width * info.height) as f64;
    (info.width, info.height, ink as f64 / total, blue)
}

#[test]
fn the_report_renders_in_headless_chromium() {
    let _cpu = CPU.lock().unwrap_or_else(|e| e.into_inner());
    let dir = tempfile::tempdir().expect("tempdir");
    let (out_path, report) = (dir.path().join("out.json"), dir.path().join("report.html"));
    let o = run(ledge()
        .args(["tune", "PrimesFunction", "-t"])
        .arg(example())
        .args([
            "--power-values",
            "512,1024,1769",
            "--num",
            "5",
            "--payload",
            r#"{"ms":10}"#,
            "--output",
        ])
        .arg(&out_path)
        .arg("--report")
        .arg(&report));
    assert!(o.status.success(), "{}", text(&o.stderr));
    let png_path = dir.path().join("report.png");
    let (w, h, ink, blue) = screenshot(&report, &png_path, 1200, 1600);
    assert_eq!((w, h), (1200, 1600), "the screenshot has the window's size");
    // A drawn report covers about 5 % of the window with ink (4.8–6 % depending on the
    // chart's shapes); the blank page below has none.
    assert!(
        ink > 0.01,
        "the page drew content: {:.1}% non-white",
        ink * 100.0
    );
    assert!(
        blue > 100,
        "the duration markers are drawn: {blue} marker pixels"
    );
    // A blank page, for contrast, is all white: the check can fail.
    let blank = dir.path().join("blank.html");
    std::fs::write(
        &blank,
        "<!DOCTYPE html><html><body style=\"background:#fff\"></body></html>",
    )
    .expect("write");
    let (_, _, blank_ink, _) = screenshot(&blank, &dir.path().join("blank.png"), 400, 300);
    assert!(blank_ink < 0.001, "{blank_ink}");
    // --compare overlays two results in one report.
    let cmp = dir.path().join("compare.html");
    let o = run(ledge()
        .args(["tune", "--compare"])
        .arg(&out_path)
        .arg(&out_path)
        .arg("--report")
        .arg(&cmp)
        .arg("--share"));
    assert!(o.status.success(), "{}", text(&o.stderr));
    let html = std::fs::read_to_string(&cmp).expect("compare");
    assert_eq!(
        html.matches(r#"data-series="duration" data-run="1""#)
            .count(),
        3
    );
    assert!(text(&o.stdout).contains("Share link: https://lambda-power-tuning.show/#"));
}

#[test]
fn tune_a_running_ledge_through_the_lambda_api() {
    let _cpu = CPU.lock().unwrap_or_else(|e| e.into_inner());
    let state = tempfile::tempdir().expect("tempdir");
    // Without hot reload: the tuner changes the function through the API, not the template.
    let mut child = ledge()
        .arg("up")
        .arg(example())
        .args(["--no-watch", "--quiet", "--state-dir"])
        .arg(state.path())
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("spawn ledge up");
    let ready = common::wait_for(&state.path().join("ready.json"), &mut child);
    let up = common::Up { child, ready };
    let endpoint = up.ready["aws_endpoint"]
        .as_str()
        .expect("endpoint")
        .to_owned();
    let out_path = state.path().join("out.json");
    let o = run(ledge()
        .args(["tune", "PrimesFunction", "--state-dir"])
        .arg(state.path())
        .args([
            "--power-values",
            "256,1024",
            "--num",
            "5",
            "--payload",
            r#"{"ms":40}"#,
        ])
        .args([
            "--auto-optimize",
            "--auto-optimize-alias",
            "live",
            "--output",
        ])
        .arg(&out_path));
    assert!(o.status.success(), "{}{}", text(&o.stdout), text(&o.stderr));
    let out = json(&out_path);
    assert_eq!(
        out["ledge"]["target"]["interleaved"], false,
        "one $LATEST: sizes in blocks"
    );
    for mb in [256, 1024] {
        assert_eq!(size(&out, mb)["viable"], true);
        assert!(
            size(&out, mb)["cold"]["samples"].as_u64() >= Some(1),
            "init from the REPORT line"
        );
    }
    assert!(mean_ms(&out, 256) > 2.0 * mean_ms(&out, 1024));
    let power = out["power"].as_u64().expect("power");
    let get = |path: &str| -> serde_json::Value {
        reqwest::blocking::get(format!(
            "{endpoint}/2015-03-31/functions/PrimesFunction{path}"
        ))
        .expect("get")
        .json()
        .expect("json")
    };
    // autoOptimize left the chosen memory on the function and pointed the alias at a version.
    let cfg = get("/configuration");
    assert_eq!(
        cfg["MemorySize"].as_u64(),
        Some(power),
        "{cfg}\n{}",
        text(&o.stdout)
    );
    assert_eq!(
        cfg["Description"],
        "Counts primes for a given number of milliseconds of CPU time."
    );
    let alias = get("/aliases/live");
    let version = alias["FunctionVersion"]
        .as_str()
        .expect("version")
        .to_owned();
    assert!(get("/versions")
        .to_string()
        .contains(&format!("\"Version\":\"{version}\"")));
    assert!(text(&o.stdout).contains(&format!("alias live → {version}")));
    drop(up);
}

#[test]
fn tune_rejects_bad_input_with_exit_2() {
    for (args, needle) in [
        (vec!["--num", "4"], "num below 5"),
        (vec!["--power-values", "64"], "MemorySize"),
        (vec!["--payload", "{not json"], "not valid JSON"),
    ] {
        let o = run(ledge()
            .args(["tune", "PrimesFunction", "-t"])
            .arg(example())
            .args(&args));
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", text(&o.stderr));
        assert!(
            text(&o.stderr).contains(needle),
            "{args:?}: {}",
            text(&o.stderr)
        );
    }
    let o = run(ledge()
        .args(["tune", "Nope", "-t"])
        .arg(example())
        .args(["--num", "5"]));
    assert_eq!(o.status.code(), Some(2), "{}", text(&o.stderr));
}

#[test]
fn price_from_flags_matches_aws_worked_example() {
    let o = run(ledge().args([
        "price",
        "--invocations",
        "3000000",
        "--duration-ms",
        "1000",
        "--memory",
        "512",
    ]));
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert!(
        text(&o.stdout).contains("TOTAL USD 18.73 per month"),
        "{}",
        text(&o.stdout)
    );
    let o = run(ledge().args([
        "price",
        "--invocations",
        "3000000",
        "--duration-ms",
        "1000",
        "--memory",
        "512",
        "--no-free-tier",
        "--json",
    ]));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("json");
    assert_eq!(v["total"], 25.6);
    assert!(v["bill"]["lines"].as_array().expect("lines").len() >= 2);
    let o = run(ledge().args(["price"]));
    assert_eq!(o.status.code(), Some(2));
}

#[test]
fn price_a_scenario_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let f = dir.path().join("scenario.yaml");
    std::fs::write(
        &f,
        "functions:\n  - name: api\n    invocations: 1200000\n    duration_ms: 1000\n    memory_mb: 1024\n    provisioned: {concurrency: 1000, hours: 2}\nedge_functions:\n  - invocations: 10000000\n    duration_ms: 50\n",
    )
    .expect("write");
    let o = run(ledge().arg("price").arg(&f).arg("--json"));
    assert!(o.status.success(), "{}", text(&o.stderr));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("json");
    // The Provisioned Concurrency example ($41.90688) and the Lambda@Edge one ($9.125625),
    // rounded once at the end.
    assert_eq!(v["total"], 51.03, "{v}");
    assert_eq!(
        v["bill"]["subtotals"][0][1]
            .as_f64()
            .map(|x| (x * 100.0).round() / 100.0),
        Some(41.91)
    );
    assert_eq!(
        v["bill"]["subtotals"][1][1]
            .as_f64()
            .map(|x| (x * 100.0).round() / 100.0),
        Some(9.13)
    );
    std::fs::write(&f, "functions:\n  - bogus: 1\n").expect("write");
    let o = run(ledge().arg("price").arg(&f));
    assert_eq!(o.status.code(), Some(2));
}

#[test]
fn price_from_metrics_reads_what_a_ledge_served() {
    let dir = tempfile::tempdir().expect("tempdir");
    let logs = dir.path().join("logs");
    std::fs::create_dir_all(logs.join("apis")).expect("mkdir");
    let mut log = String::new();
    for i in 0..100 {
        let init = if i == 0 {
            "Init Duration: 120.00 ms\t"
        } else {
            ""
        };
        log.push_str(&format!("START RequestId: {i} Version: $LATEST\nEND RequestId: {i}\nREPORT RequestId: {i}\tDuration: 9.50 ms\tBilled Duration: 10 ms\tMemory Size: 512 MB\tMax Memory Used: 40 MB\t{init}\n"));
    }
    std::fs::write(logs.join("Fn.log"), log).expect("write");
    let access: String = (0..50)
        .map(|_| "{\"routeKey\":\"GET /\",\"status\":\"200\",\"responseLength\":\"1000\"}\n")
        .collect();
    std::fs::write(logs.join("apis/Api.log"), access).expect("write");
    let o = run(ledge()
        .args([
            "price",
            "--from-metrics",
            "--window-hours",
            "1",
            "--json",
            "--state-dir",
        ])
        .arg(dir.path()));
    assert!(o.status.success(), "{}", text(&o.stderr));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("json");
    let f = &v["scenario"]["functions"][0];
    assert_eq!(f["name"], "Fn");
    assert_eq!(f["memory_mb"], 512);
    assert_eq!(f["invocations"], 73_000.0, "100 an hour × 730 h");
    assert_eq!(v["scenario"]["apis"][0]["requests"], 36_500.0);
    let notes = v["bill"]["notes"].to_string();
    assert!(
        notes.contains("CloudFront") && notes.contains("730 h"),
        "{notes}"
    );
    // Within the free tier: $0, with the API requests billed (no 12-month free tier).
    assert!(v["total"].as_f64().expect("total") > 0.0);
}

#[test]
fn tune_takes_every_anchor_input_as_a_flag_and_dry_runs() {
    let o = run(ledge().args(["tune", "--help"]));
    let help = text(&o.stdout);
    for flag in [
        "--num",
        "--power-values",
        "--payload",
        "--payload-file",
        "--parallel-invocation",
        "--strategy",
        "--balanced-weight",
        "--auto-optimize",
        "--auto-optimize-alias",
        "--dry-run",
        "--pre-processor",
        "--post-processor",
        "--discard-top-bottom",
        "--sleep-between-runs-ms",
        "--only-cold-starts",
        "--include-output-results",
        "--disable-payload-logs",
        "--allowed-exceptions",
        "--input",
        "--output",
        "--report",
        "--compare",
        "--endpoint",
        "--state-dir",
        "--target-ci",
        "--seed",
        "--share",
    ] {
        assert!(help.contains(flag), "{flag} missing from ledge tune --help");
    }
    let o = run(ledge().args(["price", "--help"]));
    for flag in [
        "--invocations",
        "--duration-ms",
        "--memory",
        "--arch",
        "--no-free-tier",
        "--from-metrics",
        "--json",
    ] {
        assert!(
            text(&o.stdout).contains(flag),
            "{flag} missing from ledge price --help"
        );
    }
    let _cpu = CPU.lock().unwrap_or_else(|e| e.into_inner());
    let o = run(ledge()
        .args(["tune", "PrimesFunction", "-t"])
        .arg(example())
        .args([
            "--dry-run",
            "--power-values",
            "512,1024",
            "--num",
            "5",
            "--payload",
            r#"{"ms":1}"#,
        ]));
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert!(
        text(&o.stdout).contains("dry run: 2 size(s) invoked once, 0 not viable"),
        "{}",
        text(&o.stdout)
    );
}
