//! Lambda execution environments.
//!
//! This crate owns the Runtime API server each environment talks to, the per-function
//! pools of warm environments (cold start, reuse, scale-out, throttling, eviction,
//! retirement on change), deadlines, the platform's log lines, and the managed Python and
//! Node.js runtimes shipped inside ledge. It implements [`ledge_model::Invoke`].
//!
//! It never knows about HTTP APIs or events from gateways: callers hand it payloads.
//! Processes are started only through `ledge-sandbox`.

mod api;
mod artifacts;
mod control;
mod env;
mod function;
mod home;
mod installed;
pub mod logs;
pub mod node;
pub mod payloads;
mod pool;
pub mod protocol;
pub mod python;
mod serve;

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use ledge_model::{
    FunctionName, FunctionSpec, Invoke, InvokeError, InvokeRequest, InvokeResult, RequestId,
};
use ledge_sandbox::{Sandbox, SandboxOptions};
use tokio::sync::Semaphore;

pub use artifacts::{MAX_LAYERS, MAX_UNZIPPED_BYTES};
pub use control::{
    valid_alias_name, AliasInfo, ControlError, DeployOptions, FunctionInfo, LayerInfo, Origin,
    VersionInfo, REVISION_MISMATCH,
};
pub use function::{reserved_keys_in, RESERVED_ENV_KEYS};
pub use ledge_store::Store;
pub use pool::PoolStats;

use env::Invocation;
use function::{FunctionConfig, Shared};
use pool::{Concurrency, PoolHandle};

/// The managed Python runtime, shipped inside the binary.
pub const PYTHON_BOOTSTRAP: &str = include_str!("../python/bootstrap.py");

/// How the runtime is set up.
#[derive(Debug, Clone)]
pub struct RuntimeConfig {
    /// Where environments' `/tmp`, logs and the managed runtimes live.
    pub state_dir: PathBuf,
    pub region: String,
    pub account_id: String,
    /// How long an idle environment stays warm.
    pub keep_alive: Duration,
    /// Concurrent invocations across all functions (Lambda's account limit).
    pub account_concurrency: u32,
    /// Where function logs are shown besides their file.
    pub echo_logs: logs::LogEcho,
    /// Write logs under `state_dir/logs`.
    pub write_logs: bool,
    /// One interpreter for every Python function, instead of looking one up.
    pub python: Option<PathBuf>,
    pub disable_cgroups: bool,
    pub disable_mount_ns: bool,
}

impl RuntimeConfig {
    pub fn new(state_dir: impl Into<PathBuf>) -> Self {
        Self {
            state_dir: state_dir.into(),
            region: ledge_model::DEFAULT_REGION.to_owned(),
            account_id: ledge_model::DEFAULT_ACCOUNT_ID.to_owned(),
            keep_alive: Duration::from_secs(600),
            account_concurrency: 1000,
            echo_logs: logs::LogEcho::None,
            write_logs: true,
            python: None,
            disable_cgroups: false,
            disable_mount_ns: false,
        }
    }
}

/// A platform fault while setting up the runtime.
#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    #[error("cannot prepare {path}: {source}")]
    Prepare {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot open the state store: {0}")]
    Store(#[from] ledge_store::StoreError),
}

/// A function that cannot be deployed as specified.
#[derive(Debug, thiserror::Error)]
pub enum DeployError {
    #[error("function {function}: {message}")]
    Invalid { function: String, message: String },
}

/// What a deploy did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DeployReport {
    /// Lines to show the user once (e.g. a stand-in interpreter).
    pub warnings: Vec<String>,
    /// False when the spec equals the running one and nothing was touched.
    pub changed: bool,
    /// True for a function that did not exist before.
    pub created: bool,
    /// What changed for an existing function: "code", "layers", "configuration".
    pub changes: Vec<String>,
}

/// One function: its mutable `$LATEST`, its published versions and aliases, and the
/// reserved concurrency they share.
pub(crate) struct Deployed {
    pub(crate) config: Arc<FunctionConfig>,
    pub(crate) pool: PoolHandle,
    pub(crate) meta: control::Meta,
    pub(crate) versions: BTreeMap<u32, control::Published>,
    pub(crate) aliases: BTreeMap<String, AliasInfo>,
    pub(crate) concurrency: Arc<Concurrency>,
}

/// Runs functions as Lambda does. Cheap to share behind an `Arc`.
pub struct Runtime {
    pub(crate) shared: Arc<Shared>,
    pub(crate) functions: RwLock<HashMap<FunctionName, Deployed>>,
    /// Serialises control-plane changes (deploys, versions, aliases), so preconditions
    /// such as `RevisionId` hold from check to write.
    pub(crate) control: tokio::sync::Mutex<()>,
    pub(crate) account_concurrency: u32,
    /// The function thread (see [`home`]); last, so it stops after the pools have closed.
    home: home::Home,
}

impl Runtime {
    /// Prepares the state dir and probes the sandbox. Call from within a tokio runtime.
    pub fn new(config: RuntimeConfig) -> Result<Self, RuntimeError> {
        let prep = |path: &Path| {
            std::fs::create_dir_all(path).map_err(|source| RuntimeError::Prepare {
                path: path.to_owned(),
                source,
            })
        };
        let runtime_dir = config.state_dir.join("runtime");
        let python_dir = runtime_dir.join("python");
        prep(&python_dir)?;
        let bootstrap = python_dir.join("bootstrap.py");
        if std::fs::read_to_string(&bootstrap).ok().as_deref() != Some(PYTHON_BOOTSTRAP) {
            let _ = std::fs::remove_dir_all(python_dir.join("__pycache__"));
            std::fs::write(&bootstrap, PYTHON_BOOTSTRAP).map_err(|source| {
                RuntimeError::Prepare {
                    path: bootstrap.clone(),
                    source,
                }
            })?;
        }
        node::install(&runtime_dir).map_err(|source| RuntimeError::Prepare {
            path: runtime_dir.join("node"),
            source,
        })?;
        let empty_opt = runtime_dir.join("empty-opt");
        prep(&empty_opt)?;
        let tmp_root = config.state_dir.join("tmp");
        prep(&tmp_root)?;
        let log_dir = config.write_logs.then(|| config.state_dir.join("logs"));
        if let Some(d) = &log_dir {
            prep(d)?;
        }
        static INSTANCES: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let instance = INSTANCES.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let store =
            ledge_store::Store::open(&config.state_dir, &config.region, &config.account_id)?;
        let sandbox = Sandbox::probe(SandboxOptions {
            // One parent cgroup per runtime, so several runtimes in one process
            // (tests) never sweep each other's environments.
            name: format!("ledge-{}-{instance}", std::process::id()),
            disable_cgroups: config.disable_cgroups,
            disable_mount_ns: config.disable_mount_ns,
        });
        let home = home::Home::start().map_err(|source| RuntimeError::Prepare {
            path: config.state_dir.clone(),
            source,
        })?;
        let shared = Shared {
            home: home.handle().clone(),
            sandbox,
            region: config.region,
            account_id: config.account_id,
            keep_alive: config.keep_alive,
            global: Arc::new(Semaphore::new(config.account_concurrency as usize)),
            tmp_root,
            runtime_dir,
            empty_opt,
            log_dir,
            echo_logs: config.echo_logs,
            pythons: python::Pythons::new(config.python),
            store,
            precompiled: std::sync::Mutex::new(std::collections::HashSet::new()),
            layer_notice_given: std::sync::atomic::AtomicBool::new(false),
        };
        Ok(Self {
            shared: Arc::new(shared),
            functions: RwLock::new(HashMap::new()),
            control: tokio::sync::Mutex::new(()),
            account_concurrency: config.account_concurrency,
            home,
        })
    }

    /// The function thread's runtime, where every pool, environment and Runtime API
    /// server runs. Spawn a server here when its requests mostly invoke functions (as an
    /// API Gateway listener's do): the whole invocation then runs on one thread.
    pub fn home(&self) -> &tokio::runtime::Handle {
        self.home.handle()
    }

    /// One line saying what the sandbox enforces here.
    pub fn sandbox_notice(&self) -> String {
        self.shared.sandbox.notice()
    }

    /// The state store (layers, artifacts, function records).
    pub fn store(&self) -> &Store {
        &self.shared.store
    }

    pub fn region(&self) -> &str {
        &self.shared.region
    }

    pub fn account_id(&self) -> &str {
        &self.shared.account_id
    }

    /// What the sandbox can enforce on this machine.
    pub fn capabilities(&self) -> ledge_sandbox::Capabilities {
        self.shared.sandbox.capabilities().clone()
    }

    /// Creates a function, or updates it: new environments get the new code and
    /// configuration, in-flight invocations finish on the old, and an unchanged spec
    /// keeps its warm environments. This is how a template deploys its functions.
    pub async fn deploy(&self, spec: FunctionSpec) -> Result<DeployReport, DeployError> {
        let name = spec.name.to_string();
        self.deploy_with(spec, DeployOptions::template())
            .await
            .map_err(|e| DeployError::Invalid {
                function: name,
                message: e.message().to_owned(),
            })
    }

    /// Removes a function (with its versions and aliases) after its in-flight
    /// invocations finish.
    pub async fn remove(&self, name: &FunctionName) -> bool {
        let _guard = self.control.lock().await;
        let removed = self
            .functions
            .write()
            .ok()
            .and_then(|mut map| map.remove(name));
        match removed {
            Some(d) => {
                control::shutdown_all(&d).await;
                let store = self.shared.store.clone();
                let fname = name.to_string();
                let _ =
                    tokio::task::spawn_blocking(move || store.delete_function_everything(&fname))
                        .await;
                true
            }
            None => false,
        }
    }

    /// The deployed functions' specs (`$LATEST`), sorted by name.
    pub fn functions(&self) -> Vec<FunctionSpec> {
        let mut v: Vec<FunctionSpec> = self
            .functions
            .read()
            .map(|m| m.values().map(|d| d.config.spec.clone()).collect())
            .unwrap_or_default();
        v.sort_by(|a, b| a.name.cmp(&b.name));
        v
    }

    /// The function's ARN as ledge reports it.
    pub fn function_arn(&self, name: &FunctionName) -> String {
        format!(
            "arn:aws:lambda:{}:{}:function:{}",
            self.shared.region, self.shared.account_id, name
        )
    }

    /// Where a function's log file is, when logs are written.
    pub fn log_path(&self, name: &FunctionName) -> Option<PathBuf> {
        self.shared
            .log_dir
            .as_ref()
            .map(|d| d.join(format!("{name}.log")))
    }

    /// A snapshot of a function's `$LATEST` environments.
    pub async fn stats(&self, name: &FunctionName) -> Option<PoolStats> {
        let pool = self.with_function(name, |d| d.pool.clone())?;
        Some(pool.stats().await)
    }

    /// A snapshot of the environments of one published version.
    pub async fn version_stats(&self, name: &FunctionName, version: u32) -> Option<PoolStats> {
        let pool =
            self.with_function(name, |d| d.versions.get(&version).map(|v| v.pool.clone()))??;
        Some(pool.stats().await)
    }

    /// Drains in-flight invocations, ends every environment and removes ledge's cgroups.
    pub async fn shutdown(&self) {
        let all: Vec<Deployed> = self
            .functions
            .write()
            .map(|mut m| m.drain().map(|(_, d)| d).collect())
            .unwrap_or_default();
        futures::future::join_all(all.iter().map(control::shutdown_all)).await;
        // Give retiring environments' blocking drops a moment, then sweep what is left.
        let sandbox = self.shared.sandbox.clone();
        let _ = tokio::task::spawn_blocking(move || sandbox.cleanup()).await;
    }

    pub(crate) fn with_function<T>(
        &self,
        name: &FunctionName,
        f: impl FnOnce(&Deployed) -> T,
    ) -> Option<T> {
        self.functions.read().ok()?.get(name).map(f)
    }
}

#[async_trait::async_trait]
impl Invoke for Runtime {
    async fn invoke(&self, req: InvokeRequest) -> Result<InvokeResult, InvokeError> {
        let (pool, invoked_arn) = self.route(&req.function, req.qualifier.as_deref())?;
        let request_id = req
            .request_id
            .unwrap_or_else(RequestId::new_random)
            .to_string();
        let inv = Invocation {
            request_id,
            payload: req.payload,
            invoked_arn,
            trace_id: req.trace_id.unwrap_or_else(new_trace_id),
            client_context: req.client_context,
            cognito_identity: req.cognito_identity,
            capture_log: req.capture_log,
            measure_cpu: req.measure_cpu,
        };
        pool.invoke(inv).await
    }
}

/// An X-Ray trace header as Lambda passes it when tracing is off.
fn new_trace_id() -> String {
    let epoch = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let a: u128 = rand::random();
    let b: u64 = rand::random();
    format!(
        "Root=1-{epoch:08x}-{:024x};Parent={b:016x};Sampled=0",
        a & ((1u128 << 96) - 1)
    )
}
