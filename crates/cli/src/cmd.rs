//! Subcommands. Each turns flags into a call on `ledge-app` and its result into output
//! and an exit code: 0 success, 1 a function error, 2 bad input, 70 a platform fault.

use std::collections::BTreeMap;
use std::io::{IsTerminal, Read, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use base64::Engine;
use clap::{Args, Parser, Subcommand};
use ledge_app::{AppError, ReadyFile, RuntimeOptions, UpOptions};
use ledge_model::InvokeOutcome;

#[path = "tune_cmd.rs"]
mod tune_cmd; // `ledge tune`, `ledge price`

#[path = "cache_cmd.rs"]
mod cache_cmd; // `ledge cache`

#[path = "edge_cmd.rs"]
mod edge_cmd; // `ledge invalidate`, `ledge edge`

#[derive(Debug, Parser)]
#[command(
    name = "ledge",
    version,
    about = "Run a serverless application on one machine, the way AWS runs it",
    long_about = "Run a serverless application on one machine, the way AWS runs it: Lambda functions \
                  from a SAM template as confined native processes (no Docker), kept warm, with \
                  Lambda's memory and CPU limits, logs and error payloads."
)]
pub(crate) struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Start every function of a template and serve them until Ctrl-C.
    Up(UpArgs),
    /// Invoke one function and print its response.
    Invoke(InvokeArgs),
    /// Show a function's log (START/END/REPORT lines and its output).
    Logs(LogsArgs),
    /// Publish, list and delete layer versions in a state dir.
    #[command(subcommand)]
    Layer(LayerCommand),
    // --- power tuning and pricing (tune_cmd.rs) ---
    /// Run a function at several memory sizes under Lambda's CPU quota and recommend one.
    Tune(Box<tune_cmd::TuneArgs>),
    /// Price a month of usage: from flags, a scenario file, or what a ledge served.
    Price(tune_cmd::PriceArgs),
    // --- end power tuning and pricing ---
    /// Flush REST stage caches and show their hit and miss counts.
    #[command(subcommand)]
    Cache(cache_cmd::CacheCommand),
    /// Remove paths from every edge cache of a CloudFront distribution (CreateInvalidation).
    Invalidate(edge_cmd::InvalidateArgs),
    /// CloudFront distributions of a running ledge: per-POP reports.
    #[command(subcommand)]
    Edge(edge_cmd::EdgeCommand),
    // --- Lambda API ---
    /// Show a function's asynchronous invocations that failed for good (one JSON line
    /// each: the record Lambda sends to an OnFailure destination).
    Dlq(DlqArgs),
    // --- end Lambda API ---
}

/// `ledge dlq` (Lambda API).
#[derive(Debug, Args)]
struct DlqArgs {
    /// The function's name.
    function: String,
    /// The state dir of the ledge that ran it (default: .ledge).
    #[arg(long, value_name = "DIR", default_value = ".ledge")]
    state_dir: PathBuf,
}

#[derive(Debug, Subcommand)]
enum LayerCommand {
    /// Publish the next version of a layer from a folder or a .zip; prints its ARN.
    Publish(LayerPublishArgs),
    /// List layers with their latest version.
    List(StateArgs),
    /// List the versions of one layer, newest first.
    Versions {
        /// The layer's name.
        name: String,
        #[command(flatten)]
        state: StateArgs,
    },
    /// Delete one layer version (its number is never reused).
    Delete {
        /// The layer's name.
        name: String,
        /// The version number.
        version: u32,
        #[command(flatten)]
        state: StateArgs,
    },
}

#[derive(Debug, Args)]
struct StateArgs {
    /// The state dir holding the layers (default: .ledge).
    #[arg(long, value_name = "DIR", default_value = ".ledge")]
    state_dir: PathBuf,
}

#[derive(Debug, Args)]
struct LayerPublishArgs {
    /// The layer's name ([a-zA-Z0-9-_]).
    name: String,
    /// A folder or a .zip whose contents appear under /opt.
    path: PathBuf,
    /// Runtimes the layer is compatible with (e.g. python3.11 provided.al2023).
    #[arg(long, value_name = "RUNTIME", num_args = 1..)]
    compatible_runtimes: Vec<String>,
    /// Architectures the layer is compatible with (x86_64, arm64).
    #[arg(long, value_name = "ARCH", num_args = 1..)]
    compatible_architectures: Vec<String>,
    #[arg(long, default_value = "")]
    description: String,
    #[arg(long)]
    license_info: Option<String>,
    #[command(flatten)]
    state: StateArgs,
}

#[derive(Debug, Args)]
struct RuntimeArgs {
    /// Seconds an idle environment stays warm.
    #[arg(long, value_name = "SECS", default_value_t = 600)]
    keep_alive: u64,
    /// Concurrent invocations across all functions (Lambda's account limit).
    #[arg(long, value_name = "N", default_value_t = 1000)]
    concurrency: u32,
    /// Run every Python function on this interpreter instead of looking one up.
    #[arg(long, value_name = "PATH", env = "LEDGE_PYTHON")]
    python: Option<PathBuf>,
    /// Do not use cgroups (no memory/CPU/pids limits beyond rlimits).
    #[arg(long)]
    no_cgroups: bool,
    /// Do not use a mount namespace (code stays at its host path, /tmp is shared).
    #[arg(long)]
    no_mount_ns: bool,
}

impl RuntimeArgs {
    fn options(&self) -> RuntimeOptions {
        RuntimeOptions {
            keep_alive: Duration::from_secs(self.keep_alive),
            account_concurrency: self.concurrency,
            python: self.python.clone(),
            disable_cgroups: self.no_cgroups,
            disable_mount_ns: self.no_mount_ns,
        }
    }
}

#[derive(Debug, Args)]
struct UpArgs {
    /// The SAM template (default: template.yaml in the current folder). Without one,
    /// an empty platform starts.
    template: Option<PathBuf>,
    /// Where ledge keeps its state (default: .ledge/ beside the template).
    #[arg(long, value_name = "DIR")]
    state_dir: Option<PathBuf>,
    /// Where to write the ready file (default: ready.json in the state dir).
    #[arg(long, value_name = "FILE")]
    ready_file: Option<PathBuf>,
    /// First port to listen on (default: any free port).
    #[arg(long, value_name = "N")]
    port_base: Option<u16>,
    /// Template parameter values, as KEY=VALUE.
    #[arg(long, value_name = "KEY=VALUE", num_args = 1.., value_parser = parse_kv)]
    parameter_overrides: Vec<(String, String)>,
    /// Do not print function logs.
    #[arg(long)]
    quiet: bool,
    /// Do not reload when the template, code or layers change on disk.
    #[arg(long)]
    no_watch: bool,
    /// Print each HTTP API access log line on stdout too (always written to
    /// logs/apis/ in the state dir).
    #[arg(long)]
    access_log: bool,
    #[command(flatten)]
    runtime: RuntimeArgs,
    #[command(flatten)]
    lambda: LambdaArgs,
    /// Keep REST stage caches in Redis (redis://host:port[/db]), shared by every ledge
    /// node that names the same Redis. Default: in process.
    #[arg(long = "cache", value_name = "URL")]
    cache: Option<String>,
    /// The most an in-process REST stage cache holds, in MiB, whatever its cluster size.
    #[arg(long, value_name = "MIB", default_value_t = 512)]
    cache_memory_mb: u64,
    /// Serve S3 bucket NAME (a CloudFront origin) from the folder DIR (repeatable; wins
    /// over ledge.toml's [edge.buckets]; other buckets live in <state-dir>/buckets/NAME).
    #[arg(long = "bucket", value_name = "NAME=DIR", value_parser = parse_bucket)]
    buckets: Vec<(String, PathBuf)>,
    /// Simulate network distance at the edge: each hop sleeps its round trip.
    #[arg(long)]
    edge_latency: bool,
    /// The ledge.toml to read (default: ledge.toml beside the template, if any).
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
}

fn parse_bucket(s: &str) -> Result<(String, PathBuf), String> {
    match s.split_once('=') {
        Some((n, d)) if !n.is_empty() && !d.is_empty() => Ok((n.to_owned(), PathBuf::from(d))),
        _ => Err(format!("expected NAME=DIR, got {s:?}")),
    }
}

/// The Lambda API's options (`ledge up`).
#[derive(Debug, Args)]
struct LambdaArgs {
    /// Require AWS SigV4 signatures by one of the --access-key keys on the AWS endpoint.
    #[arg(long)]
    auth: bool,
    /// An access key accepted with --auth, as ID:SECRET (repeatable; or LEDGE_ACCESS_KEYS,
    /// comma-separated).
    #[arg(long = "access-key", value_name = "ID:SECRET", env = "LEDGE_ACCESS_KEYS",
          value_delimiter = ',', value_parser = ledge_app::lambda_access_key)]
    access_keys: Vec<(String, String)>,
    /// Milliseconds before the first retry of a failed asynchronous invocation (doubled
    /// before the second). AWS waits one minute.
    #[arg(long, value_name = "MS", default_value_t = 60_000)]
    async_retry_base_ms: u64,
}

impl LambdaArgs {
    fn options(&self) -> ledge_app::LambdaOptions {
        ledge_app::LambdaOptions {
            async_retry_base: Duration::from_millis(self.async_retry_base_ms),
            auth: self.auth,
            access_keys: self.access_keys.clone(),
        }
    }
}

#[derive(Debug, Args)]
struct InvokeArgs {
    /// The function's logical id or name.
    function: String,
    /// The SAM template to run the function from (default: template.yaml here).
    #[arg(short = 't', long, value_name = "FILE", conflicts_with_all = ["endpoint", "state_dir"])]
    template: Option<PathBuf>,
    /// Invoke through a running ledge (its aws_endpoint URL) instead of the template.
    #[arg(long, value_name = "URL")]
    endpoint: Option<String>,
    /// Invoke through the running ledge whose state dir this is.
    #[arg(long, value_name = "DIR")]
    state_dir: Option<PathBuf>,
    /// The event: JSON text, or @FILE. Without it, standard input is read (or `{}` on a terminal).
    #[arg(long, value_name = "JSON|@FILE")]
    payload: Option<String>,
    /// `Tail` prints the last 4 KB of the invocation's log (as Lambda's LogResult)
    /// instead of streaming the log.
    #[arg(long, value_name = "TYPE", value_parser = ["None", "Tail"])]
    log_type: Option<String>,
    /// Template parameter values, as KEY=VALUE.
    #[arg(long, value_name = "KEY=VALUE", num_args = 1.., value_parser = parse_kv)]
    parameter_overrides: Vec<(String, String)>,
    #[command(flatten)]
    runtime: RuntimeArgs,
}

#[derive(Debug, Args)]
struct LogsArgs {
    /// The function's logical id or name.
    function: String,
    /// The state dir of the ledge that ran it (default: .ledge).
    #[arg(long, value_name = "DIR", default_value = ".ledge")]
    state_dir: PathBuf,
    /// Keep printing new lines as they arrive.
    #[arg(short, long)]
    follow: bool,
}

fn parse_kv(s: &str) -> Result<(String, String), String> {
    s.split_once('=')
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .ok_or_else(|| format!("expected KEY=VALUE, got {s:?}"))
}

pub(crate) async fn run(cli: Cli) -> ExitCode {
    let result = match cli.command {
        Command::Up(a) => up(a).await,
        Command::Invoke(a) => invoke(a).await,
        Command::Logs(a) => logs(a).await,
        Command::Layer(c) => layer(c).await,
        Command::Tune(a) => tune_cmd::tune(*a).await,
        Command::Price(a) => tune_cmd::price(a).await,
        Command::Dlq(a) => dlq(a).await, // Lambda API
        Command::Cache(c) => cache_cmd::run(c).await,
        Command::Invalidate(a) => edge_cmd::invalidate(a).await,
        Command::Edge(c) => edge_cmd::run(c).await,
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            let user = e
                .downcast_ref::<AppError>()
                .is_some_and(AppError::is_user_error)
                || e.downcast_ref::<UsageError>().is_some();
            eprintln!("ledge: {e:#}");
            ExitCode::from(if user { 2 } else { 70 })
        }
    }
}

/// Bad input from the command line.
#[derive(Debug)]
struct UsageError(String);

impl std::fmt::Display for UsageError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for UsageError {}

fn usage(msg: impl Into<String>) -> anyhow::Error {
    anyhow::Error::new(UsageError(msg.into()))
}

fn template_or_default(given: Option<PathBuf>) -> anyhow::Result<Option<PathBuf>> {
    match given {
        Some(p) if !p.exists() => Err(usage(format!("template {} does not exist", p.display()))),
        Some(p) if p.is_dir() => {
            let inner = ["template.yaml", "template.yml"]
                .into_iter()
                .map(|n| p.join(n))
                .find(|c| c.is_file());
            inner
                .map(Some)
                .ok_or_else(|| usage(format!("{} holds no template.yaml", p.display())))
        }
        Some(p) => Ok(Some(p)),
        None => Ok(ledge_app::default_template()),
    }
}

async fn up(a: UpArgs) -> anyhow::Result<ExitCode> {
    let template = template_or_default(a.template)?;
    let opts = UpOptions {
        template: template.clone(),
        state_dir: a.state_dir,
        ready_file: a.ready_file,
        port_base: a.port_base,
        parameter_overrides: a.parameter_overrides.into_iter().collect(),
        echo_logs: !a.quiet,
        watch: !a.no_watch,
        access_log: a.access_log,
        runtime: a.runtime.options(),
        lambda: a.lambda.options(),
        cache: ledge_app::CacheOptions {
            redis_url: a.cache,
            memory_ceiling: Some(a.cache_memory_mb.saturating_mul(1024 * 1024)),
        },
        config: match a.config {
            Some(c) if !c.is_file() => {
                return Err(usage(format!("config file {} does not exist", c.display())))
            }
            c => c,
        },
        edge: ledge_app::EdgeOptions {
            buckets: a.buckets.into_iter().collect(),
            latency: a.edge_latency,
        },
    };
    let mut platform = ledge_app::Platform::start(opts).await?;
    if let Some(mut events) = platform.take_events() {
        tokio::spawn(async move {
            while let Some(line) = events.recv().await {
                eprintln!("{line}");
            }
        });
    }
    for w in platform.warnings() {
        eprintln!("{w}");
    }
    let ready = platform.ready();
    let mut out = String::new();
    match &template {
        Some(t) => out.push_str(&format!("ledge is up: {}\n", t.display())),
        None => out.push_str("ledge is up with no template (an empty platform)\n"),
    }
    out.push_str(&format!("  AWS endpoint  {}\n", ready.aws_endpoint));
    if !ready.functions.is_empty() {
        out.push_str("  Functions (invoke with curl, or aws lambda invoke --endpoint-url):\n");
        let width = ready.functions.keys().map(String::len).max().unwrap_or(0);
        for (id, f) in &ready.functions {
            out.push_str(&format!(
                "    {id:<width$}  curl -s -d '{{}}' {}\n",
                f.invoke_url
            ));
        }
    }
    if !ready.apis.is_empty() {
        out.push_str("  APIs (API Gateway):\n");
        let width = ready.apis.keys().map(String::len).max().unwrap_or(0);
        for (id, api) in &ready.apis {
            let url = api["url"].as_str().unwrap_or_default();
            let kind = match api["kind"].as_str() {
                Some("rest") => "REST",
                _ => "HTTP",
            };
            out.push_str(&format!("    {id:<width$}  {kind:<4}  {url}\n"));
        }
    }
    if !ready.distributions.is_empty() {
        out.push_str("  Distributions (CloudFront):\n");
        for (id, d) in &ready.distributions {
            out.push_str(&format!(
                "    {id}  {}  ({}, id {})\n",
                d["url"].as_str().unwrap_or_default(),
                d["domain_name"].as_str().unwrap_or_default(),
                d["id"].as_str().unwrap_or_default(),
            ));
            for (pop, url) in d["pops"].as_object().into_iter().flatten() {
                out.push_str(&format!(
                    "      {pop:<5} {}\n",
                    url.as_str().unwrap_or_default()
                ));
            }
        }
    }
    out.push_str(&format!(
        "  Ready file    {}\n  Logs          ledge logs FUNCTION --state-dir {}\nPress Ctrl-C to stop.\n",
        platform.ready_path().display(),
        platform.state_dir().display()
    ));
    print!("{out}");
    let _ = std::io::stdout().flush();

    wait_for_signal().await;
    eprintln!("ledge: shutting down (waiting for in-flight invocations)");
    platform.shutdown().await;
    Ok(ExitCode::SUCCESS)
}

async fn wait_for_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = match signal(SignalKind::terminate()) {
        Ok(s) => s,
        Err(_) => {
            let _ = tokio::signal::ctrl_c().await;
            return;
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
}

fn read_payload(arg: Option<String>) -> anyhow::Result<Vec<u8>> {
    match arg {
        Some(p) => match p.strip_prefix('@') {
            Some(file) => std::fs::read(file)
                .map_err(|e| usage(format!("cannot read the payload file {file}: {e}"))),
            None => Ok(p.into_bytes()),
        },
        None => {
            let stdin = std::io::stdin();
            if stdin.is_terminal() {
                return Ok(b"{}".to_vec());
            }
            let mut buf = Vec::new();
            stdin
                .lock()
                .read_to_end(&mut buf)
                .map_err(|e| usage(format!("cannot read the payload from standard input: {e}")))?;
            Ok(if buf.iter().all(u8::is_ascii_whitespace) {
                b"{}".to_vec()
            } else {
                buf
            })
        }
    }
}

async fn invoke(a: InvokeArgs) -> anyhow::Result<ExitCode> {
    let payload = read_payload(a.payload)?;
    if serde_json::from_slice::<serde_json::Value>(&payload).is_err() {
        return Err(usage(
            "the payload is not valid JSON (Lambda accepts only JSON events)",
        ));
    }
    let tail = a.log_type.as_deref() == Some("Tail");
    let endpoint = match (a.endpoint, a.state_dir) {
        (Some(e), _) => Some(e),
        (None, Some(dir)) => Some(ReadyFile::read(&dir.join("ready.json"))?.aws_endpoint),
        (None, None) => None,
    };
    if let Some(endpoint) = endpoint {
        return invoke_remote(&endpoint, &a.function, payload, tail).await;
    }
    let template = template_or_default(a.template)?
        .ok_or_else(|| usage("no template: pass -t TEMPLATE, or run where template.yaml is"))?;
    let overrides: BTreeMap<String, String> = a.parameter_overrides.into_iter().collect();
    let (result, warnings) = ledge_app::invoke_once(
        &template,
        &overrides,
        &a.function,
        payload,
        tail,
        &a.runtime.options(),
    )
    .await?;
    for w in warnings {
        eprintln!("{w}");
    }
    if let Some(t) = result.log_tail() {
        eprint!("{t}");
    }
    let code = match &result.outcome {
        InvokeOutcome::Throttled { reason } => {
            eprintln!(
                "ledge: TooManyRequestsException: Rate Exceeded. ({})",
                reason.as_str()
            );
            return Ok(ExitCode::from(1));
        }
        o if o.is_function_error() => ExitCode::from(1),
        _ => ExitCode::SUCCESS,
    };
    let mut stdout = std::io::stdout().lock();
    stdout.write_all(result.outcome.payload())?;
    stdout.write_all(b"\n")?;
    Ok(code)
}

async fn invoke_remote(
    endpoint: &str,
    function: &str,
    payload: Vec<u8>,
    tail: bool,
) -> anyhow::Result<ExitCode> {
    let url = format!(
        "{}/2015-03-31/functions/{function}/invocations",
        endpoint.trim_end_matches('/')
    );
    let client = reqwest::Client::new();
    let mut req = client.post(&url).body(payload);
    if tail {
        req = req.header("X-Amz-Log-Type", "Tail");
    }
    let resp = req
        .send()
        .await
        .map_err(|e| anyhow::anyhow!("cannot reach ledge at {endpoint}: {e}"))?;
    let status = resp.status();
    let function_error = resp.headers().contains_key("x-amz-function-error");
    let log = resp.headers().get("x-amz-log-result").and_then(|v| {
        base64::engine::general_purpose::STANDARD
            .decode(v.as_bytes())
            .ok()
    });
    let body = resp.bytes().await?;
    if let Some(log) = log {
        std::io::stderr().write_all(&log)?;
    }
    if !status.is_success() {
        eprintln!("ledge: HTTP {status}: {}", String::from_utf8_lossy(&body));
        return Ok(ExitCode::from(if status.is_client_error() {
            2
        } else {
            70
        }));
    }
    let mut stdout = std::io::stdout().lock();
    stdout.write_all(&body)?;
    stdout.write_all(b"\n")?;
    Ok(if function_error {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

async fn logs(a: LogsArgs) -> anyhow::Result<ExitCode> {
    let name = ReadyFile::read(&a.state_dir.join("ready.json"))
        .ok()
        .and_then(|r| r.functions.get(&a.function).map(|f| f.name.clone()))
        .unwrap_or_else(|| a.function.clone());
    let path = a.state_dir.join("logs").join(format!("{name}.log"));
    if !path.exists() && !a.follow {
        return Err(usage(format!(
            "no log for {} in {} (has it been invoked?)",
            a.function,
            a.state_dir.display()
        )));
    }
    follow_file(&path, a.follow).await?;
    Ok(ExitCode::SUCCESS)
}

async fn follow_file(path: &Path, follow: bool) -> anyhow::Result<()> {
    use tokio::io::AsyncReadExt;
    let mut offset = 0u64;
    let mut stdout = std::io::stdout();
    loop {
        if let Ok(mut f) = tokio::fs::File::open(path).await {
            let len = f.metadata().await.map(|m| m.len()).unwrap_or(0);
            if len < offset {
                offset = 0; // truncated or replaced
            }
            if len > offset {
                use tokio::io::AsyncSeekExt;
                f.seek(std::io::SeekFrom::Start(offset)).await?;
                let mut buf = Vec::with_capacity((len - offset) as usize);
                f.take(len - offset).read_to_end(&mut buf).await?;
                offset += buf.len() as u64;
                stdout.write_all(&buf)?;
                stdout.flush()?;
            }
        }
        if !follow {
            return Ok(());
        }
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_millis(200)) => {}
            _ = tokio::signal::ctrl_c() => return Ok(()),
        }
    }
}

async fn layer(c: LayerCommand) -> anyhow::Result<ExitCode> {
    use ledge_app::layers;
    let open = |state: &StateArgs| -> anyhow::Result<ledge_app::Store> {
        std::fs::create_dir_all(&state.state_dir)?;
        Ok(ledge_app::open_store(&state.state_dir)?)
    };
    match c {
        LayerCommand::Publish(a) => {
            let store = open(&a.state)?;
            let meta = ledge_app::LayerMeta {
                description: a.description,
                compatible_runtimes: a.compatible_runtimes,
                compatible_architectures: a.compatible_architectures,
                license_info: a.license_info,
            };
            let (name, path) = (a.name, a.path);
            let v =
                tokio::task::spawn_blocking(move || layers::publish(&store, &name, &path, &meta))
                    .await??;
            println!("{}", v.layer_version_arn);
        }
        LayerCommand::List(state) => {
            let store = open(&state)?;
            let all = store.list_layers()?;
            println!("{:<24} {:>7}  {:<60} DESCRIPTION", "NAME", "LATEST", "ARN");
            for v in all {
                println!(
                    "{:<24} {:>7}  {:<60} {}",
                    v.name, v.version, v.layer_version_arn, v.meta.description
                );
            }
        }
        LayerCommand::Versions { name, state } => {
            let store = open(&state)?;
            let all = store.list_layer_versions(&name)?;
            if all.is_empty() {
                return Err(usage(format!(
                    "no versions of layer {name} in {}",
                    state.state_dir.display()
                )));
            }
            println!(
                "{:>7}  {:<29} {:>12}  {:<44} RUNTIMES",
                "VERSION", "CREATED", "SIZE", "CODE SHA256"
            );
            for v in all {
                println!(
                    "{:>7}  {:<29} {:>12}  {:<44} {}",
                    v.version,
                    v.created_date,
                    v.artifact.zip_size,
                    v.artifact.code_sha256,
                    v.meta.compatible_runtimes.join(",")
                );
            }
        }
        LayerCommand::Delete {
            name,
            version,
            state,
        } => {
            let store = open(&state)?;
            if store.delete_layer_version(&name, version)? {
                println!("deleted {name}:{version}");
            } else {
                println!("{name}:{version} does not exist (nothing to delete)");
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `ledge dlq FUNCTION`: failed asynchronous invocations, one JSON line each.
async fn dlq(a: DlqArgs) -> anyhow::Result<ExitCode> {
    if !a.state_dir.join(ledge_app::STATE_DB_FILE).exists() {
        return Err(usage(format!(
            "{} holds no ledge state (run ledge up there first)",
            a.state_dir.display()
        )));
    }
    let store = ledge_app::open_store(&a.state_dir)?;
    let function = a.function.clone();
    let failures = tokio::task::spawn_blocking(move || store.async_failures(&function)).await??;
    let mut out = std::io::stdout().lock();
    for f in failures {
        let line = serde_json::json!({
            "id": f.id,
            "function": f.function,
            "requestId": f.request_id,
            "condition": f.condition,
            "recorded": f.created,
            "note": f.note,
            "record": f.record,
        });
        writeln!(out, "{line}")?;
    }
    Ok(ExitCode::SUCCESS)
}
