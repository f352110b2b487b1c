//! `ledge tune` and `ledge price`: flags → `ledge-tune` / `ledge-pricing` (through
//! `ledge-app`'s runtime target and metrics reader) → files, a summary and an exit code.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Mutex;

use anyhow::Context;
use clap::Args;
use ledge_app::tune::{metrics_scenario, served_metrics, RuntimeTarget};
use ledge_app::ReadyFile;
use ledge_pricing::{cents, PriceBook, Scenario};
use ledge_tune::input::PowerValues;
use ledge_tune::remote::EndpointTarget;
use ledge_tune::{PowerTarget, Progress, TuneInput, TuneOutput};

use super::{parse_kv, template_or_default, usage, RuntimeArgs};

#[derive(Debug, Args)]
pub(crate) struct TuneArgs {
    /// The function's logical id or name (or lambdaARN in --input).
    function: Option<String>,
    /// Tune from this SAM template on a scratch runtime (default: template.yaml here).
    #[arg(short = 't', long, value_name = "FILE", conflicts_with_all = ["endpoint", "state_dir"])]
    template: Option<PathBuf>,
    /// Tune a function of a running ledge (its aws_endpoint URL) through the Lambda API.
    #[arg(long, value_name = "URL")]
    endpoint: Option<String>,
    /// Tune a function of the running ledge whose state dir this is.
    #[arg(long, value_name = "DIR")]
    state_dir: Option<PathBuf>,
    /// The anchor's execution input as JSON (num, powerValues, payload, strategy, …);
    /// flags override its keys.
    #[arg(long, value_name = "FILE.json")]
    input: Option<PathBuf>,
    /// Write the result JSON (the anchor's output shape plus `ledge`) here.
    #[arg(long, value_name = "FILE.json")]
    output: Option<PathBuf>,
    /// Write the self-contained HTML report here.
    #[arg(long, value_name = "FILE.html")]
    report: Option<PathBuf>,
    /// Overlay two earlier results in one report (needs --report); runs nothing.
    #[arg(long, num_args = 2, value_names = ["A.json", "B.json"])]
    compare: Vec<PathBuf>,
    /// Print the result JSON on standard output instead of the summary.
    #[arg(long)]
    json: bool,
    /// Invocations per size (at least 5).
    #[arg(long)]
    num: Option<u32>,
    /// Memory sizes, comma-separated, or ALL (128…10240 in 64 MB steps).
    #[arg(long, value_name = "MB,MB,…|ALL")]
    power_values: Option<String>,
    /// The event (JSON; a weighted list of {payload, weight} too).
    #[arg(long, value_name = "JSON")]
    payload: Option<String>,
    /// Read the event from a file.
    #[arg(long, value_name = "FILE")]
    payload_file: Option<PathBuf>,
    /// Run each size's invocations at once.
    #[arg(long)]
    parallel_invocation: bool,
    #[arg(long, value_parser = ["cost", "speed", "balanced"])]
    strategy: Option<String>,
    /// Weight of cost in the balanced strategy (0–1).
    #[arg(long)]
    balanced_weight: Option<f64>,
    /// Set the chosen memory on the running function (with --endpoint/--state-dir).
    #[arg(long)]
    auto_optimize: bool,
    /// With --auto-optimize: publish a version and point this alias at it.
    #[arg(long, value_name = "ALIAS")]
    auto_optimize_alias: Option<String>,
    /// Invoke each size once and stop (checks the setup).
    #[arg(long)]
    dry_run: bool,
    /// A function invoked with each payload first; its non-empty output replaces it.
    #[arg(long, value_name = "FUNCTION")]
    pre_processor: Option<String>,
    /// A function invoked with each output.
    #[arg(long, value_name = "FUNCTION")]
    post_processor: Option<String>,
    /// The anchor's trimmed-mean share (0–0.4), reported for comparison.
    #[arg(long)]
    discard_top_bottom: Option<f64>,
    #[arg(long, value_name = "MS")]
    sleep_between_runs_ms: Option<u64>,
    /// Measure only cold starts (num fresh environments per size).
    #[arg(long)]
    only_cold_starts: bool,
    /// Add the anchor's stats[] to the output.
    #[arg(long)]
    include_output_results: bool,
    #[arg(long)]
    disable_payload_logs: bool,
    /// Error types that do not make a size not viable.
    #[arg(long, value_name = "TYPE", num_args = 1..)]
    allowed_exceptions: Vec<String>,
    /// Seed of the interleaving order and the bootstrap.
    #[arg(long)]
    seed: Option<u64>,
    /// Discarded warm-up invocations per size.
    #[arg(long)]
    warmup: Option<u32>,
    /// Cold starts measured per size.
    #[arg(long)]
    cold_starts: Option<u32>,
    /// Relative tolerance for ties (default 0.02).
    #[arg(long)]
    tie_tolerance: Option<f64>,
    /// Adaptive sampling: continue until the mean's 95% CI half-width is under this
    /// fraction (e.g. 0.02)…
    #[arg(long, value_name = "FRACTION")]
    target_ci: Option<f64>,
    /// …or a size has this many invocations.
    #[arg(long)]
    max_invocations: Option<u32>,
    /// Put a lambda-power-tuning.show link in the output and report (opt-in).
    #[arg(long)]
    share: bool,
    /// Template parameter values, as KEY=VALUE.
    #[arg(long, value_name = "KEY=VALUE", num_args = 1.., value_parser = parse_kv)]
    parameter_overrides: Vec<(String, String)>,
    #[command(flatten)]
    runtime: RuntimeArgs,
}

impl TuneArgs {
    fn flags(&self) -> anyhow::Result<TuneInput> {
        let on = |b: bool| b.then_some(true);
        let power_values = match self.power_values.as_deref() {
            None => None,
            Some("ALL") => Some(PowerValues::Word("ALL".into())),
            Some(list) => Some(PowerValues::List(
                list.split(',')
                    .map(|v| v.trim().parse::<u32>())
                    .collect::<Result<_, _>>()
                    .map_err(|_| {
                        usage(format!(
                            "--power-values {list:?}: sizes in MB, comma-separated, or ALL"
                        ))
                    })?,
            )),
        };
        let payload = match &self.payload {
            None => None,
            Some(p) => Some(
                serde_json::from_str(p)
                    .map_err(|e| usage(format!("--payload is not valid JSON: {e}")))?,
            ),
        };
        Ok(TuneInput {
            num: self.num,
            power_values,
            payload,
            payload_file: self.payload_file.clone(),
            parallel_invocation: on(self.parallel_invocation),
            strategy: self.strategy.clone(),
            balanced_weight: self.balanced_weight,
            auto_optimize: on(self.auto_optimize),
            auto_optimize_alias: self.auto_optimize_alias.clone(),
            dry_run: on(self.dry_run),
            pre_processor_arn: self.pre_processor.clone(),
            post_processor_arn: self.post_processor.clone(),
            discard_top_bottom: self.discard_top_bottom,
            sleep_between_runs_ms: self.sleep_between_runs_ms.map(serde_json::Value::from),
            only_cold_starts: on(self.only_cold_starts),
            include_output_results: on(self.include_output_results),
            disable_payload_logs: on(self.disable_payload_logs),
            allowed_exceptions: (!self.allowed_exceptions.is_empty())
                .then(|| self.allowed_exceptions.clone()),
            seed: self.seed,
            warmup: self.warmup,
            cold_starts: self.cold_starts,
            tie_tolerance: self.tie_tolerance,
            target_ci: self.target_ci,
            max_invocations: self.max_invocations,
            share: on(self.share),
            ..TuneInput::default()
        })
    }
}

/// A bar with an ETA on a terminal; a line per size and every 10% elsewhere.
struct Bar {
    bar: Option<indicatif::ProgressBar>,
    plain: Mutex<(u64, u64, u64)>,
}

impl Bar {
    fn new(quiet: bool) -> Self {
        let tty = std::io::stderr().is_terminal();
        Self {
            bar: (tty && !quiet).then(|| {
                let b = indicatif::ProgressBar::new(0);
                b.set_style(
                    indicatif::ProgressStyle::with_template(
                        "{spinner} [{elapsed_precise}] {wide_bar} {pos}/{len} invocations, ETA {eta} {msg}",
                    )
                    .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
                );
                b
            }),
            plain: Mutex::new((0, 0, 0)),
        }
    }
}

impl Progress for Bar {
    fn start(&self, total: u64) {
        match &self.bar {
            Some(b) => b.set_length(total),
            None => {
                if let Ok(mut p) = self.plain.lock() {
                    p.1 = total;
                }
                eprintln!("ledge tune: about {total} invocations");
            }
        }
    }

    fn advance(&self, n: u64, what: &str) {
        match &self.bar {
            Some(b) => {
                b.inc(n);
                b.set_message(what.to_owned());
            }
            None => {
                if let Ok(mut p) = self.plain.lock() {
                    p.0 += n;
                    let decile = (p.0 * 10).checked_div(p.1).unwrap_or(0);
                    if decile > p.2 {
                        p.2 = decile;
                        eprintln!("ledge tune: {}/{} invocations ({}%)", p.0, p.1, decile * 10);
                    }
                }
            }
        }
    }

    fn note(&self, line: &str) {
        match &self.bar {
            Some(b) => b.println(format!("ledge tune: {line}")),
            None => eprintln!("ledge tune: {line}"),
        }
    }

    fn finish(&self) {
        if let Some(b) = &self.bar {
            b.finish_and_clear();
        }
    }
}

pub(crate) async fn tune(a: TuneArgs) -> anyhow::Result<ExitCode> {
    if !a.compare.is_empty() {
        return compare(&a);
    }
    let file = match &a.input {
        Some(p) => TuneInput::from_json(
            &std::fs::read_to_string(p)
                .map_err(|e| usage(format!("cannot read {}: {e}", p.display())))?,
        )
        .map_err(|e| usage(e.to_string()))?,
        None => TuneInput::default(),
    };
    let mut input = file.merge(a.flags()?);
    if input.num.is_none() {
        input.num = Some(10);
    }
    let plan = input
        .plan(|p| std::fs::read(p))
        .map_err(|e| usage(e.to_string()))?;
    let function = match (&a.function, &input.lambda_arn) {
        (Some(f), _) => f.clone(),
        (None, Some(arn)) => ledge_tune::input::function_from_arn(arn)
            .map_err(|e| usage(e.to_string()))?
            .to_string(),
        (None, None) => {
            return Err(usage(
                "name the function to tune (or give lambdaARN in --input)",
            ))
        }
    };
    let endpoint = match (&a.endpoint, &a.state_dir) {
        (Some(e), _) => Some(e.clone()),
        (None, Some(dir)) => Some(ReadyFile::read(&dir.join("ready.json"))?.aws_endpoint),
        (None, None) => None,
    };
    let target: Box<dyn PowerTarget> = match endpoint {
        Some(url) => {
            // A template's logical id names the function in the ready file.
            let name = a
                .state_dir
                .as_ref()
                .and_then(|d| ReadyFile::read(&d.join("ready.json")).ok())
                .and_then(|r| r.functions.get(&function).map(|f| f.name.clone()))
                .unwrap_or(function.clone());
            let name = name.parse().map_err(|e| usage(format!("{e}")))?;
            Box::new(EndpointTarget::connect(&url, name).await?)
        }
        None => {
            let template = template_or_default(a.template.clone())?.ok_or_else(|| {
                usage("no template: pass -t TEMPLATE, --endpoint URL or --state-dir DIR")
            })?;
            let overrides = a.parameter_overrides.iter().cloned().collect();
            Box::new(
                RuntimeTarget::from_template(
                    &template,
                    &overrides,
                    &function,
                    &a.runtime.options(),
                )
                .await?,
            )
        }
    };
    let bar = Bar::new(a.json);
    let (data, out) = ledge_tune::tune(target.as_ref(), &plan, &bar, PriceBook::builtin()).await?;
    let Some(out) = out else {
        let bad: Vec<String> = data
            .sizes
            .iter()
            .filter_map(|s| {
                s.not_viable
                    .as_ref()
                    .map(|r| format!("{} MB: {r}", s.memory))
            })
            .collect();
        println!(
            "dry run: {} size(s) invoked once, {} not viable{}",
            data.sizes.len(),
            bad.len(),
            if bad.is_empty() {
                String::new()
            } else {
                format!(" ({})", bad.join("; "))
            }
        );
        return Ok(if bad.is_empty() {
            ExitCode::SUCCESS
        } else {
            ExitCode::from(1)
        });
    };
    let json = serde_json::to_string_pretty(&out)?;
    if let Some(p) = &a.output {
        std::fs::write(p, &json).with_context(|| format!("cannot write {}", p.display()))?;
    }
    if let Some(p) = &a.report {
        let html = ledge_tune::report::render(&[(&out, &out.ledge.function)]);
        std::fs::write(p, html).with_context(|| format!("cannot write {}", p.display()))?;
    }
    if a.json {
        println!("{json}");
    } else {
        print!("{}", summary(&out));
        if let Some(p) = &a.output {
            println!("Result: {}", p.display());
        }
        if let Some(p) = &a.report {
            println!("Report: {}", p.display());
        }
    }
    Ok(if out.power == 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

fn summary(out: &TuneOutput) -> String {
    let d = &out.ledge;
    let mut s = format!(
        "{:>7}  {:>22}  {:>9}  {:>10}  {:>13}  {:>13}  flags\n",
        "MB", "mean ms [95% CI]", "cold init", "CPU÷wall", "x86_64 $/1M", "arm64 $/1M"
    );
    for z in &d.sizes {
        if !z.viable {
            s.push_str(&format!(
                "{:>7}  not viable: {}\n",
                z.memory,
                z.reason.as_deref().unwrap_or("")
            ));
            continue;
        }
        let dur = z.duration.as_ref();
        let mut flags = Vec::new();
        if z.memory == out.power {
            flags.push("← recommended");
        }
        if z.pareto {
            flags.push("Pareto");
        }
        if z.tied_on_cost {
            flags.push("tied on cost");
        }
        s.push_str(&format!(
            "{:>7}  {:>22}  {:>9}  {:>10}  {:>13}  {:>13}  {}\n",
            z.memory,
            dur.map(|d| format!("{:.1} [{:.1}–{:.1}]", d.mean.value, d.mean.low, d.mean.high))
                .unwrap_or_default(),
            z.cold
                .as_ref()
                .map(|c| format!("{:.0} ms", c.init_ms.value))
                .unwrap_or_else(|| "—".into()),
            z.cpu
                .as_ref()
                .map(|c| format!("{:.2}", c.cpu_per_wall))
                .unwrap_or_else(|| "—".into()),
            z.prices
                .as_ref()
                .map(|p| format!("{:.4}", p.x86_64_per_million))
                .unwrap_or_default(),
            z.prices
                .as_ref()
                .map(|p| format!("{:.4}", p.arm64_per_million))
                .unwrap_or_default(),
            flags.join(", ")
        ));
    }
    if out.power > 0 {
        s.push_str(&format!(
            "Recommended: {} MB ({}): {}\n",
            out.power,
            d.strategy.as_str(),
            d.recommendation.reason
        ));
        let id = d.target.logical_id.as_deref().unwrap_or(&d.function);
        s.push_str(&format!(
            "Template change for {id}:  MemorySize: {}\n",
            out.power
        ));
    } else {
        s.push_str("No memory size was viable.\n");
    }
    if let Some(a) = &d.applied {
        s.push_str(&format!("autoOptimize: {a}\n"));
    }
    s.push_str(&format!(
        "Tuning: {} invocations, {:.1} s wall, {:.1} s in the function, {:.1} CPU-s locally; $0 in the cloud.\n",
        d.tuning.invocations, d.tuning.wall_seconds, d.tuning.function_seconds, d.tuning.cpu_seconds
    ));
    if !out.state_machine.visualization.is_empty() {
        s.push_str(&format!(
            "Share link: {}\n",
            out.state_machine.visualization
        ));
    }
    s
}

fn compare(a: &TuneArgs) -> anyhow::Result<ExitCode> {
    let report = a
        .report
        .as_ref()
        .ok_or_else(|| usage("--compare writes a report: add --report FILE.html"))?;
    let read = |p: &PathBuf| -> anyhow::Result<TuneOutput> {
        let text = std::fs::read_to_string(p)
            .map_err(|e| usage(format!("cannot read {}: {e}", p.display())))?;
        serde_json::from_str(&text)
            .map_err(|e| usage(format!("{} is not a ledge tune result: {e}", p.display())))
    };
    let (x, y) = (read(&a.compare[0])?, read(&a.compare[1])?);
    let name = |p: &PathBuf, o: &TuneOutput| {
        let stem = p.file_stem().and_then(|s| s.to_str()).unwrap_or("run");
        if stem == o.ledge.function {
            stem.to_owned()
        } else {
            format!("{} ({stem})", o.ledge.function)
        }
    };
    let (nx, ny) = (name(&a.compare[0], &x), name(&a.compare[1], &y));
    let html = ledge_tune::report::render(&[(&x, &nx), (&y, &ny)]);
    std::fs::write(report, html).with_context(|| format!("cannot write {}", report.display()))?;
    println!("Report: {}", report.display());
    if a.share {
        println!(
            "Share link: {}",
            ledge_tune::share::compare_url(&x, &nx, &y, &ny)
        );
    }
    Ok(ExitCode::SUCCESS)
}

#[derive(Debug, Args)]
pub(crate) struct PriceArgs {
    /// A scenario file (YAML or JSON): functions, edge_functions, apis, cdn.
    scenario: Option<PathBuf>,
    /// Invocations per month.
    #[arg(long)]
    invocations: Option<f64>,
    /// Average duration of one invocation.
    #[arg(long, value_name = "MS")]
    duration_ms: Option<f64>,
    #[arg(long, value_name = "MB", default_value_t = 128)]
    memory: u32,
    #[arg(long, value_parser = ["x86_64", "arm64"], default_value = "x86_64")]
    arch: String,
    /// Configured /tmp size (512–10240 MB).
    #[arg(long, value_name = "MB", default_value_t = 512)]
    ephemeral_storage: u32,
    /// Leave out Lambda's always-free tier.
    #[arg(long)]
    no_free_tier: bool,
    /// Round the average duration up and multiply, as the AWS Pricing Calculator does.
    #[arg(long)]
    average_mode: bool,
    /// An API Gateway API in front: http or rest (its requests = --invocations).
    #[arg(long, value_parser = ["http", "rest"])]
    api: Option<String>,
    /// REST stage cache size in GB (0.5, 1.6, 6.1, …).
    #[arg(long, value_name = "GB")]
    cache_size_gb: Option<f64>,
    /// CloudFront data transfer out per month.
    #[arg(long, value_name = "GB")]
    cdn_gb: Option<f64>,
    /// CloudFront HTTPS requests per month.
    #[arg(long, value_name = "N")]
    cdn_requests: Option<f64>,
    /// Price what the running (or stopped) ledge in --state-dir served, scaled to a month.
    #[arg(long)]
    from_metrics: bool,
    #[arg(long, value_name = "DIR", default_value = ".ledge")]
    state_dir: PathBuf,
    /// With --from-metrics: the time the metrics cover, instead of the logs' own span.
    #[arg(long, value_name = "H")]
    window_hours: Option<f64>,
    /// Print the bill (and its scenario) as JSON.
    #[arg(long)]
    json: bool,
}

pub(crate) async fn price(a: PriceArgs) -> anyhow::Result<ExitCode> {
    let mut scenario = if a.from_metrics {
        let m = served_metrics(&a.state_dir)?;
        let window = a
            .window_hours
            .map(|h| h * 3600.0)
            .unwrap_or(m.window_seconds);
        metrics_scenario(&m, window)
    } else if let Some(p) = &a.scenario {
        let text = std::fs::read_to_string(p)
            .map_err(|e| usage(format!("cannot read {}: {e}", p.display())))?;
        Scenario::from_yaml(&text).map_err(|e| usage(format!("{}: {e}", p.display())))?
    } else {
        Scenario::default()
    };
    if let Some(n) = a.invocations {
        let d = a
            .duration_ms
            .ok_or_else(|| usage("--invocations needs --duration-ms"))?;
        scenario.functions.push(ledge_pricing::FunctionUsage {
            name: Some("function".into()),
            invocations: n,
            duration_ms: d,
            billed_ms_total: None,
            memory_mb: a.memory,
            architecture: a.arch.parse().map_err(usage)?,
            ephemeral_storage_mb: a.ephemeral_storage,
            init_ms_total: 0.0,
            provisioned: None,
        });
        if let Some(kind) = &a.api {
            scenario.apis.push(ledge_pricing::ApiUsage {
                name: Some("api".into()),
                kind: kind.parse().map_err(usage)?,
                requests: n,
                request_kb: None,
                cache_size_gb: a.cache_size_gb,
                cache_hours: None,
                connection_minutes: 0.0,
                data_transfer_out_gb: 0.0,
            });
        }
    }
    if a.cdn_gb.is_some() || a.cdn_requests.is_some() {
        scenario.cdn.push(ledge_pricing::CdnUsage {
            region: "us".into(),
            data_transfer_gb: a.cdn_gb.unwrap_or(0.0),
            https_requests: a.cdn_requests.unwrap_or(0.0),
            http_requests: 0.0,
            origin_transfer_gb: 0.0,
            invalidation_paths: 0.0,
            function_invocations: 0.0,
        });
    }
    if scenario.functions.is_empty()
        && scenario.edge_functions.is_empty()
        && scenario.apis.is_empty()
        && scenario.cdn.is_empty()
        && !a.from_metrics
    {
        return Err(usage("nothing to price: give --invocations N --duration-ms D [--memory MB], a scenario file, or --from-metrics"));
    }
    if a.no_free_tier {
        scenario.free_tier = false;
    }
    if a.average_mode {
        scenario.duration_mode = ledge_pricing::DurationMode::Average;
    }
    let bill = PriceBook::builtin()
        .bill(&scenario)
        .map_err(|e| usage(e.to_string()))?;
    if a.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&serde_json::json!({
                "scenario": scenario,
                "bill": bill,
                "total": cents(bill.total),
            }))?
        );
    } else {
        print!("{}", bill.render_text());
    }
    Ok(ExitCode::SUCCESS)
}
