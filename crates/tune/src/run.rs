//! The sweep: cold starts, warm-ups, then trials interleaved across sizes in a seeded random
//! order (randomized multiple interleaved trials), adaptive extra rounds, and per-size
//! failure isolation. Produces raw samples; `analysis` turns them into a result.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use ledge_model::{FunctionName, Invoke, InvokeOutcome, InvokeRequest, MemoryMb};
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use serde::{Deserialize, Serialize};

use crate::input::Plan;
use crate::progress::Progress;
use crate::stats;
use crate::target::{PowerTarget, SizeTarget};
use crate::TuneError;

/// Which part of a run a sample belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Phase {
    Cold,
    Warmup,
    Trial,
}

/// One invocation as measured (the REPORT line and the cgroup).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Sample {
    pub memory: u32,
    /// Position in the run (time order).
    pub seq: u32,
    pub phase: Phase,
    /// Payload class (0 for a plain payload).
    pub class: usize,
    /// The REPORT line carried an Init Duration.
    pub cold: bool,
    pub duration_ms: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub init_ms: Option<f64>,
    pub billed_ms: u64,
    pub max_memory_used_mb: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cpu_ms: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub throttled_ms: Option<f64>,
    /// `success`, or the allowed error type.
    pub outcome: String,
}

impl Sample {
    /// The anchor's speed statistic: Duration + Init Duration.
    pub fn latency_ms(&self) -> f64 {
        self.duration_ms + self.init_ms.unwrap_or(0.0)
    }
}

/// What happened at one size.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SizeRun {
    pub memory: u32,
    /// `None` when viable; else why not (timeout, out of memory, an error not allowed).
    pub not_viable: Option<String>,
    pub samples: Vec<Sample>,
}

/// Everything a run measured.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RunData {
    pub sizes: Vec<SizeRun>,
    pub wall_seconds: f64,
    pub invocations: u64,
    /// Σ (Duration + Init) of every invocation the run made, ms.
    pub function_ms: f64,
    /// Σ Duration of the trial invocations only, ms.
    pub trial_ms: f64,
    pub cpu_seconds: f64,
    /// Rounds added by adaptive sampling, per size.
    pub adaptive_rounds: BTreeMap<u32, u32>,
    /// What autoOptimize did.
    pub applied: Option<String>,
}

struct Size {
    memory: MemoryMb,
    target: Option<SizeTarget>,
    failed: Option<String>,
    samples: Vec<Sample>,
    /// Payload classes in a shuffled order, cycled through.
    classes: Vec<usize>,
    next_class: usize,
}

impl Size {
    fn class(&mut self) -> usize {
        let c = self.classes[self.next_class % self.classes.len()];
        self.next_class += 1;
        c
    }

    fn trial_latencies(&self, only_cold: bool) -> Vec<f64> {
        self.samples
            .iter()
            .filter(|s| {
                if only_cold {
                    s.phase == Phase::Cold
                } else {
                    s.phase == Phase::Trial && !s.cold
                }
            })
            .map(Sample::latency_ms)
            .collect()
    }
}

/// Runs a plan against a target.
pub struct Runner<'a> {
    plan: &'a Plan,
    target: &'a dyn PowerTarget,
    invoker: Arc<dyn Invoke>,
    progress: &'a dyn Progress,
    rng: StdRng,
    seq: u32,
    pre: Option<FunctionName>,
    post: Option<FunctionName>,
    function_ms: f64,
    trial_ms: f64,
    cpu_ms: f64,
    invocations: u64,
}

enum Step {
    Sample(Box<Sample>),
    Failed(String),
}

impl<'a> Runner<'a> {
    pub fn new(plan: &'a Plan, target: &'a dyn PowerTarget, progress: &'a dyn Progress) -> Self {
        Self {
            plan,
            target,
            invoker: target.invoker(),
            progress,
            rng: stats::rng(plan.seed),
            seq: 0,
            pre: None,
            post: None,
            function_ms: 0.0,
            trial_ms: 0.0,
            cpu_ms: 0.0,
            invocations: 0,
        }
    }

    /// Runs every size; a size that fails is marked and the others go on. Errors are
    /// platform faults or failing processors (which, as in the anchor, end the run).
    pub async fn run(mut self) -> Result<RunData, TuneError> {
        let started = Instant::now();
        let plan = self.plan;
        if let Some(p) = &plan.pre_processor {
            self.pre = Some(self.target.processor(p).await?);
        }
        if let Some(p) = &plan.post_processor {
            self.post = Some(self.target.processor(p).await?);
        }
        let mut class_seq: Vec<usize> = plan
            .payloads
            .iter()
            .enumerate()
            .flat_map(|(i, c)| std::iter::repeat_n(i, c.count as usize))
            .collect();
        let mut sizes: Vec<Size> = Vec::new();
        for &m in &plan.power_values {
            class_seq.shuffle(&mut self.rng);
            sizes.push(Size {
                memory: m,
                target: None,
                failed: None,
                samples: Vec::new(),
                classes: class_seq.clone(),
                next_class: 0,
            });
        }
        let trials = if plan.only_cold_starts { 0 } else { plan.num };
        let per_size = u64::from(plan.cold_starts + plan.warmup + trials);
        self.progress.start(per_size * sizes.len() as u64);
        let mut adaptive = BTreeMap::new();
        if self.target.info().interleaved {
            for s in sizes.iter_mut() {
                self.prepare(s).await;
            }
            let mut idx: Vec<usize> = (0..sizes.len()).collect();
            for c in 0..plan.cold_starts {
                idx.shuffle(&mut self.rng);
                for &i in &idx {
                    self.cold(&mut sizes[i], c > 0).await?;
                }
            }
            for _ in 0..plan.warmup {
                idx.shuffle(&mut self.rng);
                for &i in &idx {
                    self.step(&mut sizes[i], Phase::Warmup).await?;
                }
            }
            if plan.parallel {
                idx.shuffle(&mut self.rng);
                for &i in &idx {
                    self.parallel(&mut sizes[i], trials).await?;
                }
            } else {
                for _ in 0..trials {
                    idx.shuffle(&mut self.rng);
                    for &i in &idx {
                        self.step(&mut sizes[i], Phase::Trial).await?;
                    }
                }
            }
            // Adaptive: more interleaved rounds for the sizes whose CI is still wide.
            loop {
                let mut open: Vec<usize> = (0..sizes.len())
                    .filter(|&i| self.needs_more(&sizes[i]))
                    .collect();
                if open.is_empty() {
                    break;
                }
                self.progress
                    .advance(0, &format!("adaptive round over {} size(s)", open.len()));
                open.shuffle(&mut self.rng);
                for &i in &open {
                    *adaptive.entry(sizes[i].memory.get()).or_insert(0) += 1;
                    self.step(&mut sizes[i], Phase::Trial).await?;
                }
            }
        } else {
            let mut idx: Vec<usize> = (0..sizes.len()).collect();
            idx.shuffle(&mut self.rng);
            for i in idx {
                let s = &mut sizes[i];
                self.prepare(s).await;
                for c in 0..plan.cold_starts {
                    self.cold(s, c > 0).await?;
                }
                for _ in 0..plan.warmup {
                    self.step(s, Phase::Warmup).await?;
                }
                if plan.parallel {
                    self.parallel(s, trials).await?;
                } else {
                    for _ in 0..trials {
                        self.step(s, Phase::Trial).await?;
                    }
                }
                while self.needs_more(s) {
                    *adaptive.entry(s.memory.get()).or_insert(0) += 1;
                    self.step(s, Phase::Trial).await?;
                }
            }
        }
        self.progress.finish();
        Ok(RunData {
            sizes: sizes
                .into_iter()
                .map(|s| SizeRun {
                    memory: s.memory.get(),
                    not_viable: s.failed,
                    samples: s.samples,
                })
                .collect(),
            wall_seconds: started.elapsed().as_secs_f64(),
            invocations: self.invocations,
            function_ms: self.function_ms,
            trial_ms: self.trial_ms,
            cpu_seconds: self.cpu_ms / 1000.0,
            adaptive_rounds: adaptive,
            applied: None,
        })
    }

    fn needs_more(&self, s: &Size) -> bool {
        let Some(target) = self.plan.target_ci else {
            return false;
        };
        if s.failed.is_some() || self.plan.only_cold_starts {
            return false;
        }
        let v = s.trial_latencies(false);
        if v.len() >= self.plan.max_invocations as usize {
            return false;
        }
        if v.len() < 2 {
            return true;
        }
        // A cheap normal-theory check each round; the report's intervals are bootstrap.
        let half = 1.96 * stats::std_dev(&v) / (v.len() as f64).sqrt();
        half / stats::mean(&v) > target
    }

    async fn prepare(&mut self, s: &mut Size) {
        match self.target.prepare(s.memory).await {
            Ok(t) => s.target = Some(t),
            Err(e) => self.fail(s, format!("could not be prepared: {e}")),
        }
    }

    fn fail(&self, s: &mut Size, reason: String) {
        if s.failed.is_none() {
            self.progress
                .note(&format!("{} MB is not viable: {reason}", s.memory));
            s.failed = Some(reason);
        }
    }

    fn remaining(&self, s: &Size) -> u64 {
        let trials = if self.plan.only_cold_starts {
            0
        } else {
            self.plan.num
        };
        let planned = (self.plan.cold_starts + self.plan.warmup + trials) as usize;
        planned.saturating_sub(s.samples.len()) as u64
    }

    async fn cold(&mut self, s: &mut Size, recycle: bool) -> Result<(), TuneError> {
        if s.failed.is_some() {
            return Ok(());
        }
        if recycle {
            if let Err(e) = self.target.recycle(s.memory).await {
                self.fail(s, format!("could not start a fresh environment: {e}"));
                return Ok(());
            }
        }
        self.step(s, Phase::Cold).await
    }

    async fn step(&mut self, s: &mut Size, phase: Phase) -> Result<(), TuneError> {
        if s.failed.is_some() {
            return Ok(());
        }
        let Some(target) = s.target.clone() else {
            return Ok(());
        };
        let class = s.class();
        let payload = self.plan.payloads[class].payload.clone();
        let step = self
            .invoke_one(&target, s.memory, payload, phase, class)
            .await?;
        self.record(s, step, phase);
        if self.plan.sleep_between_runs_ms > 0 && !self.plan.parallel {
            tokio::time::sleep(Duration::from_millis(self.plan.sleep_between_runs_ms)).await;
        }
        Ok(())
    }

    async fn parallel(&mut self, s: &mut Size, n: u32) -> Result<(), TuneError> {
        if s.failed.is_some() {
            return Ok(());
        }
        let Some(target) = s.target.clone() else {
            return Ok(());
        };
        let jobs: Vec<(usize, Bytes)> = (0..n)
            .map(|_| {
                let c = s.class();
                (c, self.plan.payloads[c].payload.clone())
            })
            .collect();
        let this = &*self;
        let results = futures::future::join_all(jobs.into_iter().map(|(class, payload)| {
            let target = target.clone();
            async move {
                let pre = this.preprocess(payload).await?;
                let mut req = InvokeRequest::new(target.function.clone(), pre);
                req.qualifier = target.qualifier.clone();
                let r = this.invoker.invoke(req).await;
                Ok::<_, TuneError>((class, r))
            }
        }))
        .await;
        for r in results {
            let (class, r) = r?;
            let step = self.judge(r, s.memory, Phase::Trial, class).await?;
            self.record(s, step, Phase::Trial);
        }
        Ok(())
    }

    fn record(&mut self, s: &mut Size, step: Step, phase: Phase) {
        match step {
            Step::Sample(mut sample) => {
                sample.seq = self.seq;
                self.seq += 1;
                self.invocations += 1;
                self.function_ms += sample.latency_ms();
                self.cpu_ms += sample.cpu_ms.unwrap_or(0.0);
                if phase == Phase::Trial {
                    self.trial_ms += sample.duration_ms;
                }
                let label = match phase {
                    Phase::Cold => "cold start",
                    Phase::Warmup => "warm-up",
                    Phase::Trial => "trial",
                };
                self.progress.advance(
                    1,
                    &format!("{} MB {label} {:.1} ms", s.memory, sample.latency_ms()),
                );
                s.samples.push(*sample);
            }
            Step::Failed(reason) => {
                self.invocations += 1;
                let left = self.remaining(s);
                self.fail(s, reason);
                self.progress
                    .advance(left, &format!("{} MB skipped", s.memory));
            }
        }
    }

    async fn preprocess(&self, payload: Bytes) -> Result<Bytes, TuneError> {
        let Some(pre) = &self.pre else {
            return Ok(payload);
        };
        let r = self
            .invoker
            .invoke(InvokeRequest::new(pre.clone(), payload.clone()))
            .await
            .map_err(|e| TuneError::Processor(format!("pre-processor {pre}: {e}")))?;
        match &r.outcome {
            InvokeOutcome::Success { payload: out } => {
                let empty = out.is_empty() || out.as_ref() == b"null" || out.as_ref() == b"\"\"";
                Ok(if empty { payload } else { out.clone() })
            }
            other => Err(TuneError::Processor(format!(
                "pre-processor {pre} failed: {}",
                String::from_utf8_lossy(other.payload())
            ))),
        }
    }

    async fn invoke_one(
        &mut self,
        target: &SizeTarget,
        memory: MemoryMb,
        payload: Bytes,
        phase: Phase,
        class: usize,
    ) -> Result<Step, TuneError> {
        let payload = self.preprocess(payload).await?;
        let mut attempts = 0;
        loop {
            let mut req = InvokeRequest::new(target.function.clone(), payload.clone());
            req.qualifier = target.qualifier.clone();
            req.measure_cpu = true;
            let r = self.invoker.invoke(req).await;
            if let Ok(res) = &r {
                if matches!(res.outcome, InvokeOutcome::Throttled { .. }) && attempts < 5 {
                    attempts += 1;
                    tokio::time::sleep(Duration::from_millis(50 << attempts)).await;
                    continue;
                }
            }
            return self.judge(r, memory, phase, class).await;
        }
    }

    async fn judge(
        &self,
        r: Result<ledge_model::InvokeResult, ledge_model::InvokeError>,
        memory: MemoryMb,
        phase: Phase,
        class: usize,
    ) -> Result<Step, TuneError> {
        let res = match r {
            Ok(res) => res,
            Err(e) => return Ok(Step::Failed(format!("platform fault: {e}"))),
        };
        let outcome = match &res.outcome {
            InvokeOutcome::Success { .. } => "success".to_owned(),
            InvokeOutcome::FunctionError {
                error_type,
                payload,
            } => {
                if self.plan.allowed_exceptions.iter().any(|a| a == error_type) {
                    error_type.clone()
                } else {
                    return Ok(Step::Failed(format!(
                        "the function raised {error_type}{}",
                        message(payload)
                    )));
                }
            }
            InvokeOutcome::Timeout { .. } => {
                return Ok(Step::Failed("timed out (Sandbox.Timedout)".into()))
            }
            InvokeOutcome::Crashed {
                error_type,
                payload,
            } => {
                let what = if error_type == "Runtime.OutOfMemory" {
                    "ran out of memory (Runtime.OutOfMemory)".to_owned()
                } else {
                    format!("crashed ({error_type}){}", message(payload))
                };
                return Ok(Step::Failed(what));
            }
            InvokeOutcome::Throttled { reason } => {
                return Ok(Step::Failed(format!("throttled ({})", reason.as_str())))
            }
        };
        let Some(report) = res.report else {
            return Ok(Step::Failed("no REPORT for the invocation".into()));
        };
        if report.memory_mb != 0 && report.memory_mb != memory.get() {
            // Something else changed the function under the tuner (e.g. a reload).
            return Ok(Step::Failed(format!(
                "the invocation ran with {} MB, not {memory} MB (was the function changed during the run?)",
                report.memory_mb
            )));
        }
        if let Some(post) = &self.post {
            let out = Bytes::copy_from_slice(res.outcome.payload());
            let p = self
                .invoker
                .invoke(InvokeRequest::new(post.clone(), out))
                .await
                .map_err(|e| TuneError::Processor(format!("post-processor {post}: {e}")))?;
            if !matches!(p.outcome, InvokeOutcome::Success { .. }) {
                return Err(TuneError::Processor(format!(
                    "post-processor {post} failed: {}",
                    String::from_utf8_lossy(p.outcome.payload())
                )));
            }
        }
        let ms = |d: Duration| d.as_secs_f64() * 1000.0;
        let sample = Sample {
            memory: memory.get(),
            seq: 0,
            phase,
            class,
            cold: report.init_duration.is_some(),
            duration_ms: ms(report.duration),
            init_ms: report.init_duration.map(ms),
            billed_ms: report.billed_ms,
            max_memory_used_mb: report.max_memory_used_mb,
            cpu_ms: report.cpu_time.map(ms),
            throttled_ms: report.cpu_throttled.map(ms),
            outcome,
        };
        Ok(Step::Sample(Box::new(sample)))
    }
}

fn message(payload: &[u8]) -> String {
    serde_json::from_slice::<serde_json::Value>(payload)
        .ok()
        .and_then(|v| {
            v.get("errorMessage")
                .and_then(|m| m.as_str())
                .map(|m| format!(": {m}"))
        })
        .unwrap_or_default()
}
