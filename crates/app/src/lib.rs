//! ledge's composition root.
//!
//! It reads the template, builds the runtime and the HTTP-facing services, binds their
//! listeners on loopback, writes the ready file once everything is up, and shuts down
//! gracefully. Logic that belongs to a concern lives in that concern's crate.

mod apis; // HTTP and REST APIs (ledge-gateway): one loopback listener per API
mod config; // ledge.toml
mod edge; // CloudFront distributions (ledge-edge) in front of the APIs and bucket folders
mod lambda; // the Lambda API: options, async queue, template EventInvokeConfigs
pub mod layers;
mod ready;
mod reload;
mod state;
pub mod tune; // power tuning on the runtime, pricing from served metrics
mod versions; // AutoPublishAlias and AWS::Lambda::Version: numbered versions at deploy

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use axum::serve::ListenerExt;
use ledge_model::{FunctionName, InvokeRequest, InvokeResult};
use ledge_runtime::logs::LogEcho;
use ledge_runtime::{Runtime, RuntimeConfig};
use ledge_template::{LoadOptions, Template};
use tokio_util::sync::CancellationToken;

pub use apis::{sigv4_headers, CacheOptions}; // REST stage caches, `ledge cache`
pub use config::{LedgeConfig, CONFIG_FILE};
pub use edge::{EdgeOptions, CLOUDFRONT_SERVICE, REPORT_PATH as EDGE_REPORT_PATH};
pub use lambda::LambdaOptions;
pub use ledge_store::{LayerMeta, LayerVersion, Store, DB_FILE as STATE_DB_FILE};
pub use ready::{FunctionEntry, ReadyFile};
pub use state::StateLock;

/// Knobs of the function runtime that users may turn.
#[derive(Debug, Clone)]
pub struct RuntimeOptions {
    pub keep_alive: Duration,
    pub account_concurrency: u32,
    pub python: Option<PathBuf>,
    pub disable_cgroups: bool,
    pub disable_mount_ns: bool,
}

impl Default for RuntimeOptions {
    fn default() -> Self {
        Self {
            keep_alive: Duration::from_secs(600),
            account_concurrency: 1000,
            python: None,
            disable_cgroups: false,
            disable_mount_ns: false,
        }
    }
}

/// Everything `ledge up` is asked to do.
#[derive(Debug, Clone, Default)]
pub struct UpOptions {
    /// The SAM template; `None` starts an empty platform.
    pub template: Option<PathBuf>,
    /// Defaults to `.ledge/` beside the template (or in the current folder).
    pub state_dir: Option<PathBuf>,
    /// Defaults to `ready.json` in the state dir.
    pub ready_file: Option<PathBuf>,
    /// First port to bind; `None` (or 0) lets the OS pick.
    pub port_base: Option<u16>,
    pub parameter_overrides: BTreeMap<String, String>,
    /// Show function logs on stdout prefixed by the function's name.
    pub echo_logs: bool,
    /// Also print each HTTP API access log line on stdout (they always go to
    /// `logs/apis/<ApiId>.log` in the state dir).
    pub access_log: bool,
    /// Reload when the template, code or layer content changes on disk.
    pub watch: bool,
    pub runtime: RuntimeOptions,
    /// The Lambda API: async retry pacing, SigV4 authentication.
    pub lambda: LambdaOptions,
    /// REST stage caches: in process (default) or in Redis.
    pub cache: CacheOptions,
    /// `ledge.toml` to read; `None` looks beside the template.
    pub config: Option<PathBuf>,
    /// CloudFront distributions: `--bucket`, `--edge-latency`.
    pub edge: EdgeOptions,
}

/// Why the platform could not start or act.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// The user's template is at fault (exit code 2).
    #[error(transparent)]
    Template(#[from] ledge_template::TemplateError),
    /// A function as specified cannot run (exit code 2).
    #[error(transparent)]
    Deploy(#[from] ledge_runtime::DeployError),
    /// The user named something that does not exist (exit code 2).
    #[error("{0}")]
    Usage(String),
    #[error(transparent)]
    Runtime(#[from] ledge_runtime::RuntimeError),
    /// The control plane refused a step of the deployment (a version, an alias); the
    /// user's fault when the template asked for something invalid (exit code 2).
    #[error("{what}: {source}")]
    Control {
        what: String,
        source: ledge_runtime::ControlError,
    },
    #[error("{what}: {source}")]
    Io {
        what: String,
        source: std::io::Error,
    },
}

impl AppError {
    /// True when the user's input is at fault rather than the platform.
    pub fn is_user_error(&self) -> bool {
        matches!(
            self,
            Self::Template(_)
                | Self::Deploy(_)
                | Self::Usage(_)
                | Self::Control {
                    source: ledge_runtime::ControlError::Invalid(_),
                    ..
                }
        )
    }
}

fn io(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> AppError {
    let what = what.into();
    move |source| AppError::Io { what, source }
}

/// The template path ledge uses when none is given: `template.yaml` (or `.yml`) here.
pub fn default_template() -> Option<PathBuf> {
    ["template.yaml", "template.yml"]
        .into_iter()
        .map(PathBuf::from)
        .find(|p| p.is_file())
}

/// Loads and resolves a template, printing nothing.
pub fn load_template(
    path: &Path,
    parameter_overrides: &BTreeMap<String, String>,
) -> Result<Template, AppError> {
    load_template_with(path, parameter_overrides, &versions::Versions::new())
}

/// The same, with the version numbers published so far (`LoadOptions::versions`).
pub(crate) fn load_template_with(
    path: &Path,
    parameter_overrides: &BTreeMap<String, String>,
    versions: &versions::Versions,
) -> Result<Template, AppError> {
    let opts = LoadOptions {
        parameter_overrides: parameter_overrides.clone(),
        versions: versions.clone(),
        ..LoadOptions::default()
    };
    Ok(ledge_template::load_file(path, &opts)?)
}

/// A running platform.
pub struct Platform {
    runtime: Arc<Runtime>,
    ready: ReadyFile,
    ready_path: PathBuf,
    state_dir: PathBuf,
    servers: Vec<tokio::task::JoinHandle<()>>,
    cancel: CancellationToken,
    warnings: Vec<String>,
    events: Option<tokio::sync::mpsc::Receiver<String>>,
    _lock: StateLock,
}

impl Platform {
    /// Starts everything the template defines and writes the ready file.
    pub async fn start(opts: UpOptions) -> Result<Self, AppError> {
        let template = match &opts.template {
            Some(p) => Some(load_template(p, &opts.parameter_overrides)?),
            None => None,
        };
        let config = LedgeConfig::find(opts.config.as_deref(), opts.template.as_deref())?
            .unwrap_or_default();
        let state_dir = match &opts.state_dir {
            Some(d) => d.clone(),
            None => opts
                .template
                .as_deref()
                .and_then(Path::parent)
                .map(|p| {
                    if p.as_os_str().is_empty() {
                        Path::new(".")
                    } else {
                        p
                    }
                })
                .unwrap_or(Path::new("."))
                .join(".ledge"),
        };
        std::fs::create_dir_all(&state_dir).map_err(io(format!(
            "cannot create the state dir {}",
            state_dir.display()
        )))?;
        let state_dir = state_dir
            .canonicalize()
            .map_err(io(format!("cannot resolve {}", state_dir.display())))?;
        let lock = StateLock::acquire(&state_dir)?;

        let mut rc = RuntimeConfig::new(&state_dir);
        rc.keep_alive = opts.runtime.keep_alive;
        rc.account_concurrency = opts.runtime.account_concurrency;
        rc.python = opts.runtime.python.clone();
        rc.disable_cgroups = opts.runtime.disable_cgroups;
        rc.disable_mount_ns = opts.runtime.disable_mount_ns;
        rc.echo_logs = if opts.echo_logs {
            LogEcho::StdoutPrefixed
        } else {
            LogEcho::None
        };
        let runtime = Arc::new(Runtime::new(rc)?);

        let mut warnings: Vec<String> = vec![runtime.sandbox_notice()];
        let aliases: reload::Aliases = Arc::new(std::sync::RwLock::new(HashMap::new()));
        let (events_tx, events) = tokio::sync::mpsc::channel(256);
        let live = Arc::new(reload::Live::new(
            runtime.clone(),
            opts.template.clone(),
            opts.parameter_overrides.clone(),
            aliases.clone(),
            events_tx,
        ));
        let mut functions: BTreeMap<String, FunctionName> = BTreeMap::new();
        // --- Lambda API: functions created through the API come back first. ---
        warnings.extend(runtime.restore().await);
        // --- end Lambda API ---
        // Deploying publishes the versions the template asks for; the template is then
        // read again with their numbers, and everything below sees that one.
        let template = match template {
            Some(t) => {
                let (t, lines) = live.settle(t, &versions::Versions::new()).await?;
                warnings.extend(t.warnings.iter().cloned());
                warnings.extend(lines);
                Some(t)
            }
            None => None,
        };
        if let Some(t) = &template {
            warnings.extend(lambda::apply_event_configs(&runtime, t)); // Lambda API
            for spec in &t.functions {
                functions.insert(
                    spec.logical_id
                        .clone()
                        .unwrap_or_else(|| spec.name.to_string()),
                    spec.name.clone(),
                );
            }
        }

        runtime.forget_undeployed().await; // Lambda API: drop records of vanished functions
        let cancel = CancellationToken::new();
        let mut servers = Vec::new();
        if let (Some(t), true) = (&template, opts.watch) {
            servers.push(reload::spawn_watcher(
                live.clone(),
                t,
                state_dir.clone(),
                cancel.clone(),
            )?);
        }
        // --- HTTP APIs (apis.rs): served once the functions are deployed. ---
        let (services, default) = config.aws_endpoints();
        let aws = Arc::new(
            ledge_gateway::rest::aws::AwsSettings::from_env()
                .with_config_endpoints(&services, default.as_deref()),
        );
        let mut http_apis = apis::start(
            template.as_ref(),
            runtime.clone(),
            runtime.home(),
            &state_dir,
            opts.access_log,
            apis::RestServing {
                cache: &opts.cache,
                access_keys: &opts.lambda.access_keys,
                aws,
            },
            &cancel,
        )
        .await?;
        servers.append(&mut http_apis.handles);
        warnings.append(&mut http_apis.warnings);
        let http_apis = Arc::new(http_apis);
        {
            // autoDeploy: a reloaded template redeploys the HTTP APIs.
            let apis = http_apis.clone();
            live.on_reload(Box::new(move |t| apis.redeploy(t)));
        }
        // --- end HTTP APIs ---
        // --- CloudFront (edge.rs): distributions in front of the APIs and bucket folders. ---
        let mut edge_cfg = ledge_edge::EdgeConfig {
            state_dir: Some(state_dir.clone()),
            buckets: opts.edge.buckets.clone(),
            invalidation_store: Some(Arc::new(edge::StoreInvalidations::new(
                runtime.store().clone(),
            ))),
            // Lambda@Edge: associated versions run on the same runtime.
            invoker: Some(runtime.clone() as Arc<dyn ledge_model::Invoke>),
            ..ledge_edge::EdgeConfig::default()
        };
        config.apply_edge(&mut edge_cfg)?;
        if opts.edge.latency {
            edge_cfg.latency.enabled = true;
        }
        let distributions = Arc::new(
            edge::start(
                template.as_ref(),
                opts.template.as_deref(),
                edge::api_origins(&http_apis.entries),
                edge_cfg,
                &cancel,
            )
            .await?,
        );
        {
            // A reloaded template redeploys the distributions.
            let d = distributions.clone();
            live.on_reload_async(Arc::new(move |t| {
                let d = d.clone();
                Box::pin(async move { d.redeploy(&t).await })
            }));
        }
        // --- end CloudFront ---
        let port = opts.port_base.unwrap_or(0);
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
            .await
            .map_err(io(format!("cannot bind 127.0.0.1:{port}")))?;
        let aws_addr: SocketAddr = listener
            .local_addr()
            .map_err(io("cannot read the listener's address"))?;
        // --- Lambda API: the durable async queue runs until shutdown. ---
        // With --auth, every AWS API here (Lambda, API Gateway, CloudFront) wants a SigV4
        // signature by one of these keys.
        if opts.lambda.auth && opts.lambda.access_keys.is_empty() {
            return Err(AppError::Usage(
                "--auth needs at least one access key (--access-key ID:SECRET)".into(),
            ));
        }
        let keys = opts
            .lambda
            .auth
            .then(|| ledge_sigv4::AccessKeys::new(opts.lambda.access_keys.clone()));
        let queue = ledge_lambda_api::AsyncQueue::new(
            runtime.clone(),
            runtime.clone(),
            ledge_lambda_api::QueueConfig {
                retry_base: opts.lambda.async_retry_base,
                ..Default::default()
            },
        );
        servers.push(queue.spawn(cancel.clone()));
        let api = ledge_lambda_api::LambdaApi {
            invoker: runtime.clone(),
            runtime: runtime.clone(),
            aliases,
            region: ledge_model::DEFAULT_REGION.to_owned(),
            account_id: ledge_model::DEFAULT_ACCOUNT_ID.to_owned(),
            queue,
            auth: keys.clone().map(Arc::new),
        };
        // --- end Lambda API ---
        let router = ledge_lambda_api::router(api);
        // --- API Gateway management calls (FlushStageCache, GetStage, …), by path. ---
        let router = router.merge(ledge_gateway::management_router(
            ledge_gateway::Management {
                registry: http_apis.registry.clone(),
                auth: keys.clone(),
                account_id: ledge_model::DEFAULT_ACCOUNT_ID.to_owned(),
            },
        ));
        // --- end API Gateway management ---
        // --- CloudFront invalidations and the edge report, by path. ---
        let router = router.merge(edge::management_router(distributions.edge.clone(), keys));
        // --- end CloudFront management ---
        let shutdown = cancel.clone();
        let server = tokio::spawn(async move {
            let listener = listener.tap_io(|tcp| {
                let _ = tcp.set_nodelay(true);
            });
            if let Err(e) = axum::serve(listener, router)
                .with_graceful_shutdown(shutdown.cancelled_owned())
                .await
            {
                tracing::error!(error = %e, "aws endpoint stopped");
            }
        });

        let aws_endpoint = format!("http://{aws_addr}");
        let mut ready = ReadyFile::new(
            &aws_endpoint,
            &state_dir,
            functions
                .into_iter()
                .map(|(id, name)| {
                    let entry = FunctionEntry {
                        arn: runtime.function_arn(&name),
                        invoke_url: format!(
                            "{aws_endpoint}/2015-03-31/functions/{name}/invocations"
                        ),
                        name: name.to_string(),
                    };
                    (id, entry)
                })
                .collect(),
        );
        ready.apis = http_apis.entries.clone(); // HTTP APIs
        ready.distributions = distributions.entries(); // CloudFront
        let ready_path = opts
            .ready_file
            .clone()
            .unwrap_or_else(|| state_dir.join("ready.json"));
        distributions.set_ready_path(ready_path.clone());
        ready.write(&ready_path)?;
        Ok(Self {
            runtime,
            ready,
            ready_path,
            state_dir,
            servers: {
                servers.push(server);
                servers
            },
            cancel,
            warnings,
            events: Some(events),
            _lock: lock,
        })
    }

    pub fn ready(&self) -> &ReadyFile {
        &self.ready
    }

    pub fn ready_path(&self) -> &Path {
        &self.ready_path
    }

    pub fn state_dir(&self) -> &Path {
        &self.state_dir
    }

    /// Lines to show once at start-up: what the sandbox enforces, template warnings.
    pub fn warnings(&self) -> &[String] {
        &self.warnings
    }

    /// Lines the platform reports while it runs (hot reloads). Taken once.
    pub fn take_events(&mut self) -> Option<tokio::sync::mpsc::Receiver<String>> {
        self.events.take()
    }

    pub fn runtime(&self) -> &Arc<Runtime> {
        &self.runtime
    }

    /// Stops listening, drains in-flight invocations, ends every environment, and
    /// removes the ready file.
    pub async fn shutdown(self) {
        self.cancel.cancel();
        for s in self.servers {
            let _ = tokio::time::timeout(Duration::from_secs(5), s).await;
        }
        self.runtime.shutdown().await;
        let _ = std::fs::remove_file(&self.ready_path);
    }
}

/// `ledge invoke FUNCTION -t TEMPLATE`: runs one function of a template on its own,
/// in a scratch state dir, like `sam local invoke`.
pub async fn invoke_once(
    template_path: &Path,
    parameter_overrides: &BTreeMap<String, String>,
    function: &str,
    payload: Vec<u8>,
    tail_log: bool,
    runtime_opts: &RuntimeOptions,
) -> Result<(InvokeResult, Vec<String>), AppError> {
    let template = load_template(template_path, parameter_overrides)?;
    let spec = template.function(function).cloned().ok_or_else(|| {
        let known: Vec<String> = template
            .functions
            .iter()
            .map(|f| f.logical_id.clone().unwrap_or_else(|| f.name.to_string()))
            .collect();
        AppError::Usage(format!(
            "{}: no function named {function} (functions: {})",
            template_path.display(),
            if known.is_empty() {
                "none".to_owned()
            } else {
                known.join(", ")
            }
        ))
    })?;
    /// Removes the one-shot state dir however the invocation ends (an early `?` too).
    struct Scratch(PathBuf);
    impl Drop for Scratch {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
    let scratch =
        Scratch(std::env::temp_dir().join(format!("ledge-invoke-{}", std::process::id())));
    let mut rc = RuntimeConfig::new(&scratch.0);
    rc.write_logs = false;
    rc.echo_logs = if tail_log {
        LogEcho::None
    } else {
        LogEcho::Stderr
    };
    rc.python = runtime_opts.python.clone();
    rc.disable_cgroups = runtime_opts.disable_cgroups;
    rc.disable_mount_ns = runtime_opts.disable_mount_ns;
    let runtime = Runtime::new(rc)?;
    let mut warnings = template.warnings.clone();
    let store = runtime.store().clone();
    let layer_specs = template.layers.clone();
    let (arns, _) =
        tokio::task::spawn_blocking(move || layers::publish_template_layers(&store, &layer_specs))
            .await
            .map_err(|e| AppError::Usage(e.to_string()))??;
    let mut spec = spec;
    layers::resolve_logical(&mut spec, &arns);
    let report = runtime.deploy(spec.clone()).await?;
    warnings.extend(report.warnings);
    let mut req = InvokeRequest::new(spec.name.clone(), payload);
    req.capture_log = tail_log;
    let result = ledge_model::Invoke::invoke(&runtime, req).await;
    runtime.shutdown().await;
    drop(scratch);
    let result = result.map_err(|e| AppError::Usage(e.to_string()))?;
    Ok((result, warnings))
}

/// Parses `ID:SECRET` for `--access-key`.
pub fn lambda_access_key(s: &str) -> Result<(String, String), String> {
    ledge_sigv4::AccessKeys::parse_pair(s)
}

/// Opens the state store of a state dir (for commands that work without a running ledge).
pub fn open_store(state_dir: &Path) -> Result<Store, AppError> {
    Store::open(
        state_dir,
        ledge_model::DEFAULT_REGION,
        ledge_model::DEFAULT_ACCOUNT_ID,
    )
    .map_err(|e| AppError::Usage(format!("state dir {}: {e}", state_dir.display())))
}
