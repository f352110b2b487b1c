//! A deployed function version: everything needed to start its environments.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use ledge_model::{FunctionSpec, Runtime};
use ledge_sandbox::Sandbox;
use tokio::sync::Semaphore;

use crate::artifacts::Resolved;
use crate::logs::LogSink;
use crate::python::Pythons;
use crate::DeployError;

/// Platform-wide context every pool shares.
pub(crate) struct Shared {
    /// The function thread's runtime: pools are spawned there (see `home`).
    pub(crate) home: tokio::runtime::Handle,
    pub(crate) sandbox: Sandbox,
    pub(crate) region: String,
    pub(crate) account_id: String,
    pub(crate) keep_alive: Duration,
    pub(crate) global: Arc<Semaphore>,
    pub(crate) tmp_root: PathBuf,
    /// Host folder holding ledge's managed runtimes (seen as `/var/runtime`).
    pub(crate) runtime_dir: PathBuf,
    /// An empty folder standing in for `/opt` when a function has no layers.
    pub(crate) empty_opt: PathBuf,
    pub(crate) log_dir: Option<PathBuf>,
    pub(crate) echo_logs: crate::logs::LogEcho,
    pub(crate) pythons: Pythons,
    pub(crate) store: ledge_store::Store,
    /// Interpreters for which the bootstrap's bytecode has been cached.
    pub(crate) precompiled: std::sync::Mutex<std::collections::HashSet<PathBuf>>,
    /// Set once the "layers without a mount namespace" notice has been given.
    pub(crate) layer_notice_given: std::sync::atomic::AtomicBool,
}

/// `python -S -c BOOTSTRAP_LAUNCH <runtime dir>/python` starts the managed runtime.
const BOOTSTRAP_LAUNCH: &str =
    "import sys;sys.path[0]=sys.argv[1];import bootstrap;bootstrap.main()";

impl Shared {
    /// Writes the bootstrap's `__pycache__` with this interpreter, once: inside the
    /// mount namespace `/var/runtime` is read-only, so environments cannot write it.
    pub(crate) fn precompile_bootstrap(&self, interpreter: &std::path::Path) {
        let Ok(mut done) = self.precompiled.lock() else {
            return;
        };
        if !done.insert(interpreter.to_owned()) {
            return;
        }
        let result = std::process::Command::new(interpreter)
            .args([
                "-S",
                "-c",
                "import sys;sys.path[0]=sys.argv[1];import bootstrap",
            ])
            .arg(self.runtime_dir.join("python"))
            .env_remove("PYTHONDONTWRITEBYTECODE")
            .env_remove("PYTHONPYCACHEPREFIX")
            .stdin(std::process::Stdio::null())
            .output();
        if !matches!(&result, Ok(o) if o.status.success()) {
            tracing::warn!(interpreter = %interpreter.display(), "could not cache the Python bootstrap's bytecode; cold starts will compile it");
        }
    }
}

/// How to start one environment of a function version.
#[derive(Debug, Clone)]
pub(crate) struct Launch {
    pub(crate) program: PathBuf,
    pub(crate) args: Vec<String>,
    /// Everything but the per-environment variables (Runtime API address, log stream).
    pub(crate) base_env: Vec<(String, String)>,
    pub(crate) cwd: PathBuf,
    pub(crate) use_mounts: bool,
    /// Host folder presented at `/opt` (merged layers); `None` = empty.
    pub(crate) opt_dir: Option<PathBuf>,
    /// Host folder presented at `/var/runtime`.
    pub(crate) runtime_dir: Option<PathBuf>,
    /// The runtime is ledge's own bootstrap, which can reach the Runtime API through a
    /// private Unix socket as well (`_LEDGE_RUNTIME_SOCKET`).
    pub(crate) private_socket: bool,
}

/// A function version as the runtime runs it.
pub(crate) struct FunctionConfig {
    pub(crate) spec: FunctionSpec,
    /// The code snapshot and layers this version runs.
    pub(crate) resolved: Resolved,
    pub(crate) version: String,
    pub(crate) arn: String,
    pub(crate) launch: Launch,
    pub(crate) sink: Arc<LogSink>,
    pub(crate) runtime_version: String,
    pub(crate) runtime_version_arn: String,
}

pub use ledge_model::limits::RESERVED_ENV_KEYS;

/// The reserved keys a customer environment uses, if any.
pub fn reserved_keys_in(env: &BTreeMap<String, String>) -> Vec<String> {
    env.keys()
        .filter(|k| RESERVED_ENV_KEYS.contains(&k.as_str()))
        .cloned()
        .collect()
}

impl FunctionConfig {
    /// Resolves a spec into a launchable configuration. Warnings (e.g. a stand-in Python)
    /// are returned for the caller to print once.
    pub(crate) fn build(
        spec: FunctionSpec,
        resolved: Resolved,
        version: &str,
        shared: &Shared,
    ) -> Result<(Self, Vec<String>), DeployError> {
        let name = spec.name.to_string();
        let mut warnings = Vec::new();
        let reserved = reserved_keys_in(&spec.environment);
        if !reserved.is_empty() {
            return Err(DeployError::Invalid {
                function: name,
                message: format!("Lambda was unable to configure your environment variables because the environment variables you have provided contains reserved keys that are currently not supported for modification. Reserved keys used in this request: {}", reserved.join(", ")),
            });
        }
        let env_size: usize = spec
            .environment
            .iter()
            .map(|(k, v)| k.len() + v.len())
            .sum();
        if env_size > 4096 {
            return Err(DeployError::Invalid {
                function: name,
                message: "Lambda was unable to configure your environment variables because the environment variables you have provided exceeded the 4KB limit.".into(),
            });
        }
        let use_mounts = shared.sandbox.capabilities().mount_ns;
        let (task_root, runtime_root, opt_root) = if use_mounts {
            (
                PathBuf::from("/var/task"),
                PathBuf::from("/var/runtime"),
                PathBuf::from("/opt"),
            )
        } else {
            (
                resolved.code.tree.clone(),
                shared.runtime_dir.clone(),
                resolved
                    .opt
                    .clone()
                    .unwrap_or_else(|| shared.empty_opt.clone()),
            )
        };
        let opt = opt_root.display().to_string();
        let task = task_root.display().to_string();
        let rt = runtime_root.display().to_string();

        let mut env: BTreeMap<String, String> = BTreeMap::new();
        // Unreserved defaults, which customer variables may override.
        env.insert("LANG".into(), "en_US.UTF-8".into());
        env.insert(
            "LD_LIBRARY_PATH".into(),
            format!("/lib64:/usr/lib64:{rt}:{rt}/lib:{task}:{task}/lib:{opt}/lib"),
        );
        env.insert("AWS_XRAY_CONTEXT_MISSING".into(), "LOG_ERROR".into());
        env.insert(
            "AWS_XRAY_DAEMON_ADDRESS".into(),
            "169.254.79.129:2000".into(),
        );
        env.insert("_AWS_XRAY_DAEMON_ADDRESS".into(), "169.254.79.129".into());
        env.insert("_AWS_XRAY_DAEMON_PORT".into(), "2000".into());
        let mut path = format!("/usr/local/bin:/usr/bin/:/bin:{opt}/bin");

        let (program, args, runtime_version) = match &spec.runtime {
            Runtime::Python(minor) => {
                let (interp, stand_in) =
                    shared
                        .pythons
                        .find(*minor)
                        .map_err(|message| DeployError::Invalid {
                            function: name.clone(),
                            message,
                        })?;
                if stand_in {
                    warnings.push(format!(
                        "{name}: python3.{minor} is not installed here; running it on {} (Python {})",
                        interp.path.display(),
                        interp.version
                    ));
                }
                shared.precompile_bootstrap(&interp.path);
                if let Some(dir) = interp.path.parent() {
                    path = format!("{}:{path}", dir.display());
                }
                env.insert("_LEDGE_SITE_DIRS".into(), interp.site_dirs.join(":"));
                env.insert("_LEDGE_OPT_DIR".into(), opt.clone());
                (
                    interp.path.clone(),
                    // Importing the bootstrap (rather than running it as a script) lets
                    // Python use its cached bytecode: ~4 ms less per cold start.
                    vec![
                        "-S".to_owned(),
                        "-c".to_owned(),
                        BOOTSTRAP_LAUNCH.to_owned(),
                        format!("{rt}/python"),
                    ],
                    format!("python:3.{minor}.v1"),
                )
            }
            Runtime::Provided(_) => {
                let in_task = resolved.code.tree.join("bootstrap");
                let program = if in_task.exists() {
                    task_root.join("bootstrap")
                } else {
                    opt_root.join("bootstrap")
                };
                let flavour = spec.runtime.to_string();
                let v = flavour
                    .strip_prefix("provided.")
                    .unwrap_or("al1")
                    .to_owned();
                (program, Vec::new(), format!("provided:{v}.v1"))
            }
            Runtime::NodeJs(major) => {
                let (node, stand_in) =
                    crate::node::find(*major).map_err(|message| DeployError::Invalid {
                        function: name.clone(),
                        message,
                    })?;
                if stand_in {
                    warnings.push(crate::node::stand_in_warning(&name, *major, &node));
                }
                if let Some(dir) = node.path.parent() {
                    path = format!("{}:{path}", dir.display());
                }
                env.insert(
                    "NODE_PATH".into(),
                    crate::node::node_path(*major, &opt, &rt, &task),
                );
                (
                    node.path,
                    crate::node::args(spec.memory.get(), &rt),
                    format!("nodejs:{major}.v1"),
                )
            }
        };
        env.insert("PATH".into(), path);
        if resolved.opt.is_some() {
            env.entry("NODE_PATH".into())
                .or_insert_with(|| format!("{opt}/nodejs/node_modules:{rt}/node_modules"));
            if !use_mounts {
                // Without a mount namespace, /opt is not where Lambda's search paths
                // point: point them at the merged layers instead, and say so once.
                if !spec.runtime.is_python() {
                    let minor = match shared.pythons.find(11) {
                        Ok((i, _)) => i.minor,
                        Err(_) => 11,
                    };
                    env.insert(
                        "PYTHONPATH".into(),
                        format!("{opt}/python/lib/python3.{minor}/site-packages:{opt}/python"),
                    );
                }
                if !shared
                    .layer_notice_given
                    .swap(true, std::sync::atomic::Ordering::Relaxed)
                {
                    warnings.push(format!(
                        "layers: no mount namespace here, so functions find their layers through PYTHONPATH, PATH ({opt}/bin), LD_LIBRARY_PATH ({opt}/lib) and NODE_PATH pointing at the merged layer tree instead of /opt"
                    ));
                }
            }
        }
        for (k, v) in &spec.environment {
            env.insert(k.clone(), v.clone());
        }
        // Reserved variables: the platform's values always win.
        env.insert("_HANDLER".into(), spec.handler.clone());
        env.insert("AWS_REGION".into(), shared.region.clone());
        env.insert("AWS_DEFAULT_REGION".into(), shared.region.clone());
        if !spec.runtime.is_provided() {
            env.insert(
                "AWS_EXECUTION_ENV".into(),
                format!("AWS_Lambda_{}", spec.runtime),
            );
        }
        env.insert("AWS_LAMBDA_FUNCTION_NAME".into(), name.clone());
        env.insert(
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE".into(),
            spec.memory.to_string(),
        );
        env.insert("AWS_LAMBDA_FUNCTION_VERSION".into(), version.to_owned());
        env.insert("AWS_LAMBDA_INITIALIZATION_TYPE".into(), "on-demand".into());
        env.insert(
            "AWS_LAMBDA_LOG_GROUP_NAME".into(),
            format!("/aws/lambda/{name}"),
        );
        env.insert("LAMBDA_TASK_ROOT".into(), task.clone());
        env.insert("LAMBDA_RUNTIME_DIR".into(), rt.clone());
        env.insert("TZ".into(), ":UTC".into());
        // Execution-role credentials: ledge passes on the operator's, as SAM CLI does.
        for key in [
            "AWS_ACCESS_KEY_ID",
            "AWS_SECRET_ACCESS_KEY",
            "AWS_SESSION_TOKEN",
        ] {
            if let Ok(v) = std::env::var(key) {
                env.insert(key.into(), v.clone());
                if key == "AWS_ACCESS_KEY_ID" {
                    env.insert("AWS_ACCESS_KEY".into(), v);
                }
            }
        }

        let arn = format!(
            "arn:aws:lambda:{}:{}:function:{}",
            shared.region, shared.account_id, name
        );
        let runtime_version_arn = format!(
            "arn:aws:lambda:{}::runtime:{}",
            shared.region,
            runtime_hash(&runtime_version)
        );
        let sink = Arc::new(LogSink::new(
            &name,
            shared.log_dir.as_deref(),
            shared.echo_logs,
        ));
        let launch = Launch {
            program,
            args,
            base_env: env.into_iter().collect(),
            cwd: task_root,
            use_mounts,
            opt_dir: resolved.opt.clone(),
            runtime_dir: Some(shared.runtime_dir.clone()),
            private_socket: spec.runtime.is_python(),
        };
        Ok((
            Self {
                spec,
                resolved,
                version: version.to_owned(),
                arn,
                launch,
                sink,
                runtime_version,
                runtime_version_arn,
            },
            warnings,
        ))
    }
}

/// A stable 64-hex-digit stand-in for the runtime version hash in ARNs.
fn runtime_hash(version: &str) -> String {
    use std::hash::{Hash, Hasher};
    let mut out = String::new();
    for salt in 0u8..4 {
        let mut h = std::collections::hash_map::DefaultHasher::new();
        (salt, version).hash(&mut h);
        out.push_str(&format!("{:016x}", h.finish()));
    }
    out
}
