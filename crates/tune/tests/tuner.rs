//! The tuner against a fake function whose duration follows Lambda's CPU quota
//! (`cpu_ms × 1769 / MB` below one vCPU): interleaving, seeds, cold starts, failures,
//! adaptive sampling, weighted payloads, ties, the output shape and the report.

use std::collections::{BTreeMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use ledge_model::{
    FunctionName, Invoke, InvokeError, InvokeOutcome, InvokeReport, InvokeRequest, InvokeResult,
    MemoryMb, RequestId,
};
use ledge_pricing::PriceBook;
use ledge_tune::run::Phase;
use ledge_tune::{PowerTarget, SizeTarget, TargetInfo, TuneError, TuneInput, TuneOutput};
use serde_json::json;

#[derive(Default)]
struct Fake {
    /// Calls in order: (memory, function).
    calls: Mutex<Vec<u32>>,
    fresh: Mutex<HashSet<u32>>,
    oom_below: Option<u32>,
    raise_at: Option<(u32, &'static str)>,
    /// Relative noise amplitude (deterministic, from the call count).
    noise: f64,
    counter: Mutex<u64>,
    /// Report this memory size whatever was asked for (the function changed underneath).
    reports_memory: Option<u32>,
}

impl Fake {
    fn memory_of(f: &FunctionName) -> u32 {
        f.as_str().trim_start_matches("f-").parse().expect("f-<MB>")
    }
}

#[async_trait::async_trait]
impl Invoke for Fake {
    async fn invoke(&self, req: InvokeRequest) -> Result<InvokeResult, InvokeError> {
        let mem = Self::memory_of(&req.function);
        self.calls.lock().expect("lock").push(mem);
        let v: serde_json::Value = serde_json::from_slice(&req.payload).unwrap_or_default();
        let cpu = v["ms"].as_f64().unwrap_or(20.0);
        let n = {
            let mut c = self.counter.lock().expect("lock");
            *c += 1;
            *c
        };
        // A deterministic wobble in [-1, 1].
        let wobble = ((n * 7919) % 200) as f64 / 100.0 - 1.0;
        let scale = (1769.0 / f64::from(mem)).max(1.0);
        let dur = cpu * scale * (1.0 + self.noise * wobble);
        let cold = self.fresh.lock().expect("lock").remove(&mem);
        let init = cold.then_some(80.0);
        let report = InvokeReport {
            duration: Duration::from_secs_f64(dur / 1000.0),
            billed_ms: (dur + init.unwrap_or(0.0)).ceil() as u64,
            memory_mb: self.reports_memory.unwrap_or(mem),
            max_memory_used_mb: 60,
            init_duration: init.map(|i| Duration::from_secs_f64(i / 1000.0)),
            cpu_time: Some(Duration::from_secs_f64(cpu / 1000.0)),
            cpu_throttled: Some(Duration::from_secs_f64((dur - cpu).max(0.0) / 1000.0)),
        };
        let outcome = if self.oom_below.is_some_and(|b| mem < b) {
            InvokeOutcome::Crashed {
                payload: Bytes::from_static(b"{\"errorType\":\"Runtime.OutOfMemory\"}"),
                error_type: "Runtime.OutOfMemory".into(),
            }
        } else if let Some((m, t)) = self.raise_at.filter(|(m, _)| *m == mem) {
            let _ = m;
            InvokeOutcome::FunctionError {
                payload: Bytes::from(format!(
                    "{{\"errorType\":\"{t}\",\"errorMessage\":\"boom\"}}"
                )),
                error_type: t.into(),
            }
        } else {
            InvokeOutcome::Success {
                payload: Bytes::from_static(b"{}"),
            }
        };
        Ok(InvokeResult {
            request_id: RequestId::new_random(),
            outcome,
            executed_version: "$LATEST".into(),
            log: None,
            report: Some(report),
        })
    }
}

struct Target(Arc<Fake>);

#[async_trait::async_trait]
impl PowerTarget for Target {
    fn info(&self) -> TargetInfo {
        TargetInfo {
            function: "Fake".into(),
            architecture: "x86_64".into(),
            source: "fake".into(),
            interleaved: true,
            cpu_accounting: true,
            environment: BTreeMap::new(),
            original_memory: Some(128),
            logical_id: Some("FakeFunction".into()),
        }
    }
    fn invoker(&self) -> Arc<dyn Invoke> {
        self.0.clone()
    }
    async fn prepare(&self, memory: MemoryMb) -> Result<SizeTarget, TuneError> {
        self.0.fresh.lock().expect("lock").insert(memory.get());
        Ok(SizeTarget {
            function: format!("f-{memory}").parse().expect("name"),
            qualifier: None,
        })
    }
    async fn recycle(&self, memory: MemoryMb) -> Result<(), TuneError> {
        self.0.fresh.lock().expect("lock").insert(memory.get());
        Ok(())
    }
    async fn processor(&self, name: &FunctionName) -> Result<FunctionName, TuneError> {
        Ok(name.clone())
    }
    async fn apply(&self, memory: MemoryMb, _alias: Option<&str>) -> Result<String, TuneError> {
        Ok(format!("applied {memory}"))
    }
    async fn finish(&self) -> Result<(), TuneError> {
        Ok(())
    }
}

async fn run(
    fake: Fake,
    input: serde_json::Value,
) -> (Arc<Fake>, ledge_tune::RunData, Option<TuneOutput>) {
    let fake = Arc::new(fake);
    let plan = TuneInput::from_json(&input.to_string())
        .expect("input")
        .plan(|_| Ok(Vec::new()))
        .expect("plan");
    let (data, out) = ledge_tune::tune(
        &Target(fake.clone()),
        &plan,
        &ledge_tune::Silent,
        PriceBook::builtin(),
    )
    .await
    .expect("tune");
    (fake, data, out)
}

fn size(out: &TuneOutput, mb: u32) -> &ledge_tune::analysis::SizeSummary {
    out.ledge
        .sizes
        .iter()
        .find(|s| s.memory == mb)
        .expect("size")
}

#[tokio::test]
async fn trials_are_interleaved_in_a_seeded_order() {
    let input = json!({"num": 6, "powerValues": [128, 512, 1024], "warmup": 0, "seed": 42});
    let (a, _, _) = run(Fake::default(), input.clone()).await;
    let (b, _, _) = run(Fake::default(), input).await;
    let (c, _, _) = run(
        Fake::default(),
        json!({"num": 6, "powerValues": [128, 512, 1024], "warmup": 0, "seed": 43}),
    )
    .await;
    let seq_a = a.calls.lock().expect("lock").clone();
    assert_eq!(seq_a.len(), 3 + 18);
    assert_eq!(
        seq_a,
        *b.calls.lock().expect("lock"),
        "same seed, same order"
    );
    assert_ne!(
        seq_a,
        *c.calls.lock().expect("lock"),
        "another seed, another order"
    );
    // Every round of three trials holds each size once: no size runs in a block.
    for round in seq_a[3..].chunks(3) {
        let mut r = round.to_vec();
        r.sort();
        assert_eq!(r, vec![128, 512, 1024]);
    }
}

#[tokio::test]
async fn cold_starts_are_their_own_population_and_durations_follow_the_quota() {
    let (_, data, out) = run(
        Fake::default(),
        json!({"num": 5, "powerValues": [128, 256, 512, 1024, 1769], "coldStarts": 2}),
    )
    .await;
    let out = out.expect("output");
    for s in &data.sizes {
        let cold = s.samples.iter().filter(|x| x.phase == Phase::Cold).count();
        assert_eq!(cold, 2, "{} MB", s.memory);
        assert!(s
            .samples
            .iter()
            .filter(|x| x.phase == Phase::Trial)
            .all(|x| !x.cold));
    }
    let d = |mb| {
        size(&out, mb)
            .duration
            .as_ref()
            .expect("duration")
            .mean
            .value
    };
    assert!(
        (d(128) / d(1769) - 1769.0 / 128.0).abs() < 0.5,
        "{} vs {}",
        d(128),
        d(1769)
    );
    assert!(d(128) > d(256) && d(256) > d(512) && d(512) > d(1024) && d(1024) > d(1769));
    let cold = size(&out, 512).cold.as_ref().expect("cold");
    assert_eq!(cold.samples, 2);
    assert!((cold.init_ms.value - 80.0).abs() < 1e-9);
    // The warm mean excludes the 80 ms init.
    assert!((d(1769) - 20.0).abs() < 0.5);
    let cpu = size(&out, 128).cpu.as_ref().expect("cpu");
    assert!((cpu.cpu_per_wall - 128.0 / 1769.0).abs() < 0.01);
    assert!(cpu.throttled_fraction > 0.9);
}

#[tokio::test]
async fn a_size_that_runs_out_of_memory_is_not_viable_and_the_rest_are_tuned() {
    let fake = Fake {
        oom_below: Some(256),
        ..Fake::default()
    };
    let (calls, _, out) = run(fake, json!({"num": 5, "powerValues": [128, 256, 512]})).await;
    let out = out.expect("output");
    let s = size(&out, 128);
    assert!(!s.viable);
    assert!(
        s.reason.as_deref().unwrap_or("").contains("out of memory"),
        "{:?}",
        s.reason
    );
    assert!(size(&out, 256).viable && size(&out, 512).viable);
    assert_ne!(out.power, 128);
    // 128 MB was invoked once, then skipped.
    assert_eq!(
        calls
            .calls
            .lock()
            .expect("lock")
            .iter()
            .filter(|m| **m == 128)
            .count(),
        1
    );
    let html = ledge_tune::report::render(&[(&out, "Fake")]);
    assert!(html.contains(r#"data-series="duration-notviable" data-memory="128""#));
    assert_eq!(html.matches(r#"data-series="duration" "#).count(), 2);
}

#[tokio::test]
async fn allowed_exceptions_keep_a_size_viable() {
    let fake = Fake {
        raise_at: Some((512, "ValidationError")),
        ..Fake::default()
    };
    let (_, _, out) = run(fake, json!({"num": 5, "powerValues": [256, 512]})).await;
    let s = size(out.as_ref().expect("out"), 512);
    assert!(
        !s.viable
            && s.reason
                .as_deref()
                .unwrap_or("")
                .contains("ValidationError: boom")
    );
    let fake = Fake {
        raise_at: Some((512, "ValidationError")),
        ..Fake::default()
    };
    let (_, _, out) = run(
        fake,
        json!({"num": 5, "powerValues": [256, 512], "allowedExceptions": ["ValidationError"]}),
    )
    .await;
    assert!(size(out.as_ref().expect("out"), 512).viable);
}

#[tokio::test]
async fn adaptive_sampling_continues_until_the_interval_is_narrow_or_the_budget_is_spent() {
    let fake = Fake {
        noise: 0.3,
        ..Fake::default()
    };
    let (_, data, out) = run(
        fake,
        json!({"num": 5, "powerValues": [512, 1024], "targetCi": 0.03, "maxInvocations": 40}),
    )
    .await;
    let out = out.expect("out");
    for s in &out.ledge.sizes {
        let n = s.duration.as_ref().expect("d").samples;
        assert!(n > 5 && n <= 40, "{} MB: {n}", s.memory);
    }
    assert!(!data.adaptive_rounds.is_empty());
    // A quiet function stops at num.
    let (_, data, _) = run(
        Fake::default(),
        json!({"num": 5, "powerValues": [512], "targetCi": 0.5}),
    )
    .await;
    assert!(data.adaptive_rounds.is_empty());
}

#[tokio::test]
async fn weighted_payloads_are_stratified_not_pooled() {
    // 7 invocations: 5 of the light class, 2 of the heavy one (the anchor's split);
    // the weights say 3:1, so the mean is (3·10 + 1·100)/4 = 32.5 ms, not the pooled 35.7.
    let (_, _, out) = run(
        Fake::default(),
        json!({"num": 7, "powerValues": [1769], "payload": [
            {"payload": {"ms": 10}, "weight": 3}, {"payload": {"ms": 100}, "weight": 1}
        ]}),
    )
    .await;
    let out = out.expect("out");
    assert!(out.ledge.weighted_payload);
    let m = size(&out, 1769).duration.as_ref().expect("d").mean.value;
    assert!((m - 32.5).abs() < 1e-6, "{m}");
}

#[tokio::test]
async fn equal_costs_tie_and_the_faster_size_wins() {
    // CPU-bound: GB-s is the same from 128 to 1769 MB, so costs tie; 3008 costs more.
    let (_, _, out) = run(
        Fake::default(),
        json!({"num": 8, "powerValues": [128, 512, 1769, 3008], "strategy": "cost"}),
    )
    .await;
    let out = out.expect("out");
    assert_eq!(out.power, 1769, "{}", out.ledge.recommendation.reason);
    let tied = &out.ledge.recommendation.tied;
    assert!(
        tied.contains(&128) && tied.contains(&1769) && !tied.contains(&3008),
        "{tied:?}"
    );
    assert!(out.ledge.recommendation.pareto_front.contains(&1769));
    assert!(!out.ledge.recommendation.pareto_front.contains(&3008));
    // Speed: 1769 and 3008 tie on duration; the cheaper wins.
    let (_, _, out) = run(
        Fake::default(),
        json!({"num": 8, "powerValues": [512, 1769, 3008], "strategy": "speed"}),
    )
    .await;
    assert_eq!(out.expect("out").power, 1769);
    // Balanced with weight 0 is speed-only with exact ties kept in order.
    let (_, _, out) = run(
        Fake::default(),
        json!({"num": 8, "powerValues": [128, 1769], "strategy": "balanced", "balancedWeight": 0}),
    )
    .await;
    assert_eq!(out.expect("out").power, 1769);
}

#[tokio::test]
async fn output_keeps_the_anchor_shape_and_reports_both_architectures() {
    let (_, _, out) = run(Fake::default(), json!({"num": 5, "powerValues": [128, 1024], "includeOutputResults": true, "share": true, "autoOptimize": true})).await;
    let out = out.expect("out");
    let v = serde_json::to_value(&out).expect("json");
    for k in ["power", "cost", "duration"] {
        assert!(v[k].is_number(), "{k}");
    }
    assert_eq!(v["stateMachine"]["executionCost"], 0.0);
    assert!(
        v["stateMachine"]["lambdaCost"]
            .as_f64()
            .expect("lambdaCost")
            > 0.0
    );
    let url = v["stateMachine"]["visualization"].as_str().expect("vis");
    assert!(url.starts_with("https://lambda-power-tuning.show/#"));
    let (sizes, _, _) =
        ledge_tune::share::decode(url.split_once('#').expect("hash").1).expect("decode");
    assert_eq!(sizes, vec![128, 1024]);
    let stats = v["stats"].as_array().expect("stats");
    assert_eq!(stats.len(), 2);
    assert!(stats[0]["averagePrice"].is_number() && stats[0]["averageDuration"].is_number());
    let p = size(&out, 1024).prices.as_ref().expect("prices");
    assert!(p.arm64 < p.x86_64);
    // The request fee is in the cost: 1M invocations cost at least $0.20.
    assert!(p.x86_64_per_million > 0.2);
    assert_eq!(
        out.ledge.applied.as_deref(),
        Some(format!("applied {}", out.power).as_str())
    );
    // Without includeOutputResults there is no stats[]; without share no link.
    let (_, _, out) = run(Fake::default(), json!({"num": 5, "powerValues": [128]})).await;
    let v = serde_json::to_value(out.expect("out")).expect("json");
    assert!(v.get("stats").is_none());
    assert_eq!(v["stateMachine"]["visualization"], "");
}

#[tokio::test]
async fn the_report_is_self_contained_and_overlays_two_runs() {
    let (_, _, a) = run(
        Fake::default(),
        json!({"num": 5, "powerValues": [128, 256, 1024]}),
    )
    .await;
    let (_, _, b) = run(
        Fake {
            noise: 0.1,
            ..Fake::default()
        },
        json!({"num": 5, "powerValues": [256, 1024, 2048]}),
    )
    .await;
    let (a, b) = (a.expect("a"), b.expect("b"));
    let html = ledge_tune::report::render(&[(&a, "before"), (&b, "after")]);
    assert!(!html.contains("<script") && !html.contains("<link") && !html.contains("src="));
    assert!(!html.contains("http://") || !html.contains("href=\"http"));
    assert_eq!(
        html.matches(r#"data-series="duration" data-run="0""#)
            .count(),
        3
    );
    assert_eq!(
        html.matches(r#"data-series="duration" data-run="1""#)
            .count(),
        3
    );
    assert!(html.contains("after relative to before"));
    let one = ledge_tune::report::render(&[(&a, "Fake")]);
    assert_eq!(one.matches(r#"data-series="duration" "#).count(), 3);
    assert!(one.contains("MemorySize: "), "the template change is shown");
    let url = ledge_tune::share::compare_url(&a, "before", &b, "after x");
    assert_eq!(url.split_once('#').expect("hash").1.split(';').count(), 8);
    assert!(url.ends_with(";before;after%20x"));
}

#[tokio::test]
async fn dry_run_invokes_each_size_once_and_analyses_nothing() {
    let (fake, data, out) = run(
        Fake::default(),
        json!({"num": 5, "powerValues": [128, 512], "dryRun": true, "warmup": 0}),
    )
    .await;
    assert!(out.is_none());
    assert_eq!(data.sizes.len(), 2);
    // One cold start per size, plus num forced to 1.
    assert_eq!(fake.calls.lock().expect("lock").len(), 4);
}

#[tokio::test]
async fn an_invocation_that_ran_at_another_size_is_not_counted_for_this_one() {
    let fake = Fake {
        reports_memory: Some(1769),
        ..Fake::default()
    };
    let (_, _, out) = run(fake, json!({"num": 5, "powerValues": [512, 1769]})).await;
    let out = out.expect("out");
    let s = size(&out, 512);
    assert!(!s.viable);
    assert!(
        s.reason
            .as_deref()
            .unwrap_or("")
            .contains("ran with 1769 MB, not 512 MB"),
        "{:?}",
        s.reason
    );
    assert!(size(&out, 1769).viable);
}
