//! Power tuning on ledge's own runtime (`ledge tune FUNCTION -t TEMPLATE`) and pricing what
//! a ledge served (`ledge price --from-metrics`).
//!
//! [`RuntimeTarget`] deploys the template's function once per memory size, under the name
//! `<Function>-tune-<MB>`, in a scratch runtime: each size gets its own pool, cgroup memory
//! limit and CPU quota (`MB/1769` of a core) and its own warm environments, so the tuner can
//! interleave sizes. A cold start is forced the way the anchor does it: a changed
//! description, which retires the environments.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};

use ledge_model::{FunctionName, FunctionSpec, Invoke, MemoryMb};
use ledge_runtime::{Runtime, RuntimeConfig};
use ledge_template::Template;
use ledge_tune::{PowerTarget, SizeTarget, TargetInfo, TuneError};

use crate::{layers, load_template, AppError, RuntimeOptions};

/// The function of a template, run at each size on a scratch runtime.
pub struct RuntimeTarget {
    runtime: Arc<Runtime>,
    template: Template,
    base: FunctionSpec,
    arns: HashMap<String, String>,
    scratch: PathBuf,
    source: String,
    recycles: AtomicU32,
    deployed: Mutex<BTreeMap<u32, FunctionSpec>>,
}

fn target_err(e: impl std::fmt::Display) -> TuneError {
    TuneError::Target(e.to_string())
}

/// A per-size function name: `<base>-tune-<MB>`, within Lambda's 64 characters.
pub fn size_name(base: &FunctionName, memory: MemoryMb) -> FunctionName {
    let suffix = format!("-tune-{memory}");
    let keep = 64 - suffix.len();
    let stem: String = base.as_str().chars().take(keep).collect();
    format!("{stem}{suffix}")
        .parse()
        .expect("invariant: a valid name plus -tune-N is a valid name")
}

impl RuntimeTarget {
    /// Loads the template and starts a scratch runtime (its own state dir, removed at the end).
    pub async fn from_template(
        template_path: &Path,
        parameter_overrides: &BTreeMap<String, String>,
        function: &str,
        opts: &RuntimeOptions,
    ) -> Result<Self, AppError> {
        let template = load_template(template_path, parameter_overrides)?;
        let base = template.function(function).cloned().ok_or_else(|| {
            AppError::Usage(format!(
                "{}: no function named {function}",
                template_path.display()
            ))
        })?;
        static RUNS: AtomicU32 = AtomicU32::new(0);
        let scratch = std::env::temp_dir().join(format!(
            "ledge-tune-{}-{}",
            std::process::id(),
            RUNS.fetch_add(1, Ordering::Relaxed)
        ));
        let mut rc = RuntimeConfig::new(&scratch);
        rc.write_logs = false;
        rc.python = opts.python.clone();
        rc.disable_cgroups = opts.disable_cgroups;
        rc.disable_mount_ns = opts.disable_mount_ns;
        rc.keep_alive = std::time::Duration::from_secs(3600);
        let runtime = Arc::new(Runtime::new(rc)?);
        let store = runtime.store().clone();
        let layer_specs = template.layers.clone();
        let (arns, _) = tokio::task::spawn_blocking(move || {
            layers::publish_template_layers(&store, &layer_specs)
        })
        .await
        .map_err(|e| AppError::Usage(e.to_string()))??;
        let mut base = base;
        layers::resolve_logical(&mut base, &arns);
        Ok(Self {
            runtime,
            template,
            base,
            arns,
            scratch,
            source: format!("template {}", template_path.display()),
            recycles: AtomicU32::new(0),
            deployed: Mutex::new(BTreeMap::new()),
        })
    }

    async fn deploy(&self, spec: FunctionSpec) -> Result<(), TuneError> {
        self.runtime
            .deploy(spec)
            .await
            .map(|_| ())
            .map_err(target_err)
    }
}

/// What the report says about this machine.
pub fn host_fingerprint() -> BTreeMap<String, String> {
    let mut env = BTreeMap::new();
    let read = |p: &str| std::fs::read_to_string(p).ok().map(|s| s.trim().to_owned());
    if let Some(cpu) = read("/proc/cpuinfo").and_then(|c| {
        c.lines()
            .find(|l| l.starts_with("model name"))
            .and_then(|l| l.split_once(':'))
            .map(|(_, v)| v.trim().to_owned())
    }) {
        env.insert("cpu".into(), cpu);
    }
    if let Some(k) = read("/proc/sys/kernel/osrelease") {
        env.insert("kernel".into(), k);
    }
    if let Ok(n) = std::thread::available_parallelism() {
        env.insert("cores".into(), n.to_string());
    }
    if let Some(g) = read("/sys/devices/system/cpu/cpu0/cpufreq/scaling_governor") {
        env.insert("governor".into(), g);
    }
    env
}

#[async_trait::async_trait]
impl PowerTarget for RuntimeTarget {
    fn info(&self) -> TargetInfo {
        let caps = self.runtime.capabilities();
        let mut env = host_fingerprint();
        env.insert("sandbox".into(), self.runtime.sandbox_notice());
        env.insert(
            "cpu profile".into(),
            "aws-lambda: cpu.max = MB/1769 of a core per 100 ms period (≤ 6), memory.max = MB"
                .into(),
        );
        TargetInfo {
            function: self.base.name.to_string(),
            architecture: self.base.architecture.as_str().to_owned(),
            source: self.source.clone(),
            interleaved: true,
            cpu_accounting: caps.cpu_accounting,
            environment: env,
            original_memory: Some(self.base.memory.get()),
            logical_id: self.base.logical_id.clone(),
        }
    }

    fn invoker(&self) -> Arc<dyn Invoke> {
        self.runtime.clone()
    }

    async fn prepare(&self, memory: MemoryMb) -> Result<SizeTarget, TuneError> {
        let mut spec = self.base.clone();
        spec.name = size_name(&self.base.name, memory);
        spec.memory = memory;
        self.deploy(spec.clone()).await?;
        let name = spec.name.clone();
        if let Ok(mut d) = self.deployed.lock() {
            d.insert(memory.get(), spec);
        }
        Ok(SizeTarget {
            function: name,
            qualifier: None,
        })
    }

    async fn recycle(&self, memory: MemoryMb) -> Result<(), TuneError> {
        let spec = self
            .deployed
            .lock()
            .ok()
            .and_then(|d| d.get(&memory.get()).cloned());
        let Some(mut spec) = spec else {
            return Err(TuneError::Target(format!("{memory} MB was not prepared")));
        };
        let n = self.recycles.fetch_add(1, Ordering::Relaxed) + 1;
        spec.description = format!("{} (ledge tune cold start {n})", self.base.description);
        self.deploy(spec.clone()).await?;
        if let Ok(mut d) = self.deployed.lock() {
            d.insert(memory.get(), spec);
        }
        Ok(())
    }

    async fn processor(&self, name: &FunctionName) -> Result<FunctionName, TuneError> {
        let mut spec = self
            .template
            .function(name.as_str())
            .cloned()
            .ok_or_else(|| {
                TuneError::Input(format!(
                    "processor {name} is not a function of the template"
                ))
            })?;
        layers::resolve_logical(&mut spec, &self.arns);
        let n = spec.name.clone();
        self.deploy(spec).await?;
        Ok(n)
    }

    async fn apply(&self, memory: MemoryMb, alias: Option<&str>) -> Result<String, TuneError> {
        // A scratch runtime has no running function to change: the template is the source.
        let id = self
            .base
            .logical_id
            .clone()
            .unwrap_or_else(|| self.base.name.to_string());
        Ok(format!(
            "tuned from the template, so nothing is running to change{}: set MemorySize: {memory} on {id} in the template (or tune a running ledge with --state-dir/--endpoint to apply it there)",
            alias.map(|a| format!(" (alias {a} not created)")).unwrap_or_default()
        ))
    }

    async fn finish(&self) -> Result<(), TuneError> {
        self.runtime.shutdown().await;
        let scratch = self.scratch.clone();
        let _ = tokio::task::spawn_blocking(move || std::fs::remove_dir_all(scratch)).await;
        Ok(())
    }
}

/// What a ledge served, from its state dir: REPORT lines of every function log, HTTP API
/// access logs. The window runs from when the ledge came up (its ready file) or the oldest
/// log, to the newest log line written.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ServedMetrics {
    /// Per function: (memory MB, per-invocation billed ms, durations ms, init ms).
    pub functions: BTreeMap<String, FunctionMetrics>,
    /// Per HTTP API: requests and response bytes.
    pub http_apis: BTreeMap<String, (u64, u64)>,
    pub window_seconds: f64,
}

/// One function's REPORT lines.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FunctionMetrics {
    pub memory_mb: u32,
    pub architecture: String,
    pub invocations: u64,
    pub billed_ms_total: f64,
    pub duration_ms_total: f64,
    pub init_ms_total: f64,
}

/// Reads a state dir's logs.
pub fn served_metrics(state_dir: &Path) -> Result<ServedMetrics, AppError> {
    let logs = state_dir.join("logs");
    let entries = std::fs::read_dir(&logs).map_err(|source| AppError::Io {
        what: format!(
            "cannot read {} (has this ledge served anything?)",
            logs.display()
        ),
        source,
    })?;
    let mut m = ServedMetrics::default();
    let mut oldest: Option<std::time::SystemTime> = None;
    let mut newest: Option<std::time::SystemTime> = None;
    let mut seen = |meta: &std::fs::Metadata| {
        if let Ok(t) = meta.modified() {
            newest = Some(newest.map_or(t, |n| n.max(t)));
        }
        if let Ok(t) = meta.created().or_else(|_| meta.modified()) {
            oldest = Some(oldest.map_or(t, |o| o.min(t)));
        }
    };
    let archs: HashMap<String, String> = crate::open_store(state_dir)
        .ok()
        .and_then(|s| s.functions().ok())
        .map(|fs| {
            fs.into_iter()
                .map(|f| {
                    let arch = f.data["spec"]["architecture"]
                        .as_str()
                        .unwrap_or("x86_64")
                        .to_owned();
                    (f.name, arch)
                })
                .collect()
        })
        .unwrap_or_default();
    for e in entries.flatten() {
        let path = e.path();
        if path.extension().and_then(|x| x.to_str()) != Some("log") {
            continue;
        }
        let Some(name) = path.file_stem().and_then(|s| s.to_str()).map(str::to_owned) else {
            continue;
        };
        let text = std::fs::read_to_string(&path).unwrap_or_default();
        let mut f = FunctionMetrics {
            architecture: archs.get(&name).cloned().unwrap_or_else(|| "x86_64".into()),
            ..FunctionMetrics::default()
        };
        for line in text.lines().filter(|l| l.starts_with("REPORT ")) {
            let Some(r) = ledge_tune::remote::parse_report(line) else {
                continue;
            };
            f.invocations += 1;
            f.memory_mb = r.memory_mb;
            f.billed_ms_total += r.billed_ms as f64;
            f.duration_ms_total += r.duration.as_secs_f64() * 1000.0;
            f.init_ms_total += r
                .init_duration
                .map(|d| d.as_secs_f64() * 1000.0)
                .unwrap_or(0.0);
        }
        if f.invocations > 0 {
            if let Ok(meta) = e.metadata() {
                seen(&meta);
            }
            m.functions.insert(name, f);
        }
    }
    if let Ok(apis) = std::fs::read_dir(logs.join("apis")) {
        for e in apis.flatten() {
            let path = e.path();
            let Some(id) = path.file_stem().and_then(|s| s.to_str()).map(str::to_owned) else {
                continue;
            };
            let text = std::fs::read_to_string(&path).unwrap_or_default();
            let (mut n, mut bytes) = (0u64, 0u64);
            for line in text.lines() {
                let Ok(v) = serde_json::from_str::<serde_json::Value>(line) else {
                    continue;
                };
                n += 1;
                bytes += v["responseLength"]
                    .as_str()
                    .and_then(|s| s.parse().ok())
                    .unwrap_or(0);
            }
            if n > 0 {
                if let Ok(meta) = e.metadata() {
                    seen(&meta);
                }
                m.http_apis.insert(id, (n, bytes));
            }
        }
    }
    if let Ok(meta) = std::fs::metadata(state_dir.join("ready.json")) {
        if let Ok(t) = meta.modified() {
            oldest = Some(oldest.map_or(t, |o| o.min(t)));
        }
    }
    m.window_seconds = match (oldest, newest) {
        (Some(o), Some(n)) => n.duration_since(o).map(|d| d.as_secs_f64()).unwrap_or(0.0),
        _ => 0.0,
    };
    Ok(m)
}

/// A month extrapolated from what was served over `window_seconds` (at least one minute).
pub fn metrics_scenario(m: &ServedMetrics, window_seconds: f64) -> ledge_pricing::Scenario {
    let window = window_seconds.max(60.0);
    let scale = ledge_pricing::SECONDS_PER_MONTH / window;
    let mut s = ledge_pricing::Scenario::default();
    for (name, f) in &m.functions {
        s.functions.push(ledge_pricing::FunctionUsage {
            name: Some(name.clone()),
            invocations: f.invocations as f64 * scale,
            duration_ms: f.duration_ms_total / f.invocations as f64,
            // REPORT's Billed Duration already includes billed init on cold starts.
            billed_ms_total: Some(f.billed_ms_total * scale),
            memory_mb: f.memory_mb.clamp(128, 10_240),
            architecture: f
                .architecture
                .parse()
                .unwrap_or(ledge_pricing::Arch::X86_64),
            ephemeral_storage_mb: 512,
            init_ms_total: 0.0,
            provisioned: None,
        });
    }
    for (id, (n, bytes)) in &m.http_apis {
        s.apis.push(ledge_pricing::ApiUsage {
            name: Some(id.clone()),
            kind: ledge_pricing::ApiKind::Http,
            requests: *n as f64 * scale,
            request_kb: None,
            cache_size_gb: None,
            cache_hours: None,
            connection_minutes: 0.0,
            data_transfer_out_gb: *bytes as f64 * scale / 1e9,
        });
    }
    s.notes.push(format!(
        "measured over {:.1} min and scaled ×{:.0} to a month of 730 h",
        window / 60.0,
        scale
    ));
    s.notes.push("REST API cache hours and CloudFront traffic: ledge does not serve them yet, so they are $0 here; the scenario's apis[].cache_size_gb and cdn[] entries price them.".into());
    s
}
