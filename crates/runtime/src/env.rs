//! One execution environment: a confined runtime process, its Runtime API listener, and
//! the lifecycle INIT → INVOKE* → gone.

use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use ledge_model::{InvokeOutcome, InvokeReport};
use ledge_sandbox::{Limits, Mounts, SandboxedProcess, SpawnSpec};
use tokio::sync::{mpsc, oneshot, watch};
use tokio::task::JoinHandle;

use crate::api::{self, ApiState, Delivery, InitSignal, RuntimeReply};
use crate::function::{FunctionConfig, Shared};
use crate::logs::{self, LogPipe};
use crate::payloads;
use crate::protocol::INIT_LIMIT;

/// A private `/tmp` that belongs to an environment slot and outlives restarts of it
/// (Lambda keeps `/tmp` when it re-initialises an environment after a timeout).
#[derive(Debug)]
pub(crate) struct TmpSlot {
    pub(crate) dir: PathBuf,
}

/// A prepared invocation, ready to hand to an environment.
pub(crate) struct Invocation {
    pub(crate) request_id: String,
    pub(crate) payload: Bytes,
    pub(crate) invoked_arn: String,
    pub(crate) trace_id: String,
    pub(crate) client_context: Option<String>,
    pub(crate) cognito_identity: Option<String>,
    pub(crate) capture_log: bool,
    pub(crate) measure_cpu: bool,
}

/// What an invocation left behind.
pub(crate) struct Finished {
    pub(crate) outcome: InvokeOutcome,
    pub(crate) report: InvokeReport,
    pub(crate) log: Option<String>,
    /// False when the environment must not serve again (timeout, crash, init failure).
    pub(crate) reusable: bool,
}

pub(crate) struct Environment {
    pub(crate) id: String,
    pub(crate) config: Arc<FunctionConfig>,
    process: SandboxedProcess,
    deliveries: mpsc::Sender<Delivery>,
    init: watch::Receiver<InitSignal>,
    initialised: bool,
    spawned_at: Instant,
    init_duration: Option<Duration>,
    pipe: Arc<LogPipe>,
    /// The Runtime API's state: whether the runtime waits for its next event.
    api: Arc<ApiState>,
    server: JoinHandle<()>,
    pipe_task: JoinHandle<()>,
    pub(crate) tmp: Option<TmpSlot>,
    pub(crate) last_used: Instant,
}

/// Why an environment could not be started; the caller turns it into an outcome.
pub(crate) enum StartError {
    /// The function's own fault, with the payload the caller gets.
    Function { payload: String, error_type: String },
    /// ledge's fault.
    Platform(String),
}

impl Environment {
    pub(crate) async fn start(
        config: Arc<FunctionConfig>,
        shared: &Shared,
        tmp: TmpSlot,
        request_id: &str,
    ) -> Result<Self, (StartError, TmpSlot)> {
        let id = format!(
            "{}-{}",
            config.spec.name,
            &uuid::Uuid::new_v4().simple().to_string()[..12]
        );

        if let Some(missing) = missing_entrypoint(&config) {
            return Err((
                StartError::Function {
                    payload: payloads::invalid_entrypoint(request_id, &missing),
                    error_type: "Runtime.InvalidEntrypoint".to_owned(),
                },
                tmp,
            ));
        }

        let listener = match tokio::net::TcpListener::bind(("127.0.0.1", 0)).await {
            Ok(l) => l,
            Err(e) => {
                return Err((
                    StartError::Platform(format!("cannot bind the Runtime API: {e}")),
                    tmp,
                ))
            }
        };
        let addr = match listener.local_addr() {
            Ok(a) => a,
            Err(e) => return Err((StartError::Platform(e.to_string()), tmp)),
        };
        let (state, deliveries, init) = ApiState::new();
        let api = state.clone();
        let router = api::router(state);
        let launch = &config.launch;
        let mut env = launch.base_env.clone();
        // ledge's own bootstraps talk over a Unix socket: loopback TCP costs the kernel
        // several times more per message, and a warm invocation is three messages.
        let socket_name = format!("ledge-{}-{id}", std::process::id());
        let unix = if launch.private_socket {
            match crate::serve::bind_abstract(&socket_name) {
                Ok(l) => {
                    env.push(("_LEDGE_RUNTIME_SOCKET".into(), socket_name));
                    Some(l)
                }
                Err(e) => {
                    tracing::debug!(error = %e, "no Unix socket for the Runtime API; TCP only");
                    None
                }
            }
        } else {
            None
        };
        let server = tokio::spawn(crate::serve::serve(listener, unix, router));
        env.push(("AWS_LAMBDA_RUNTIME_API".into(), addr.to_string()));
        env.push((
            "AWS_LAMBDA_LOG_STREAM_NAME".into(),
            log_stream_name(&config.version),
        ));
        let mounts = if launch.use_mounts {
            Some(Mounts {
                task: config.resolved.code.tree.clone(),
                opt: launch.opt_dir.clone(),
                runtime: launch.runtime_dir.clone(),
                tmp: tmp.dir.clone(),
            })
        } else {
            env.push(("TMPDIR".into(), tmp.dir.display().to_string()));
            None
        };
        let spec = SpawnSpec {
            id: id.clone(),
            program: launch.program.clone(),
            args: launch.args.iter().map(Into::into).collect(),
            env: env.into_iter().map(|(k, v)| (k.into(), v.into())).collect(),
            cwd: launch.cwd.clone(),
            limits: Limits {
                memory_bytes: config.spec.memory.bytes(),
                cpu_cores: config.spec.memory.vcpus(),
                pids: 1024,
                nofile: 1024,
            },
            mounts,
        };
        config.sink.write_lines(&[logs::init_start_line(
            &config.runtime_version,
            &config.runtime_version_arn,
        )]);
        let spawned_at = Instant::now();
        let mut process = match shared.sandbox.spawn(spec) {
            Ok(p) => p,
            Err(e) => {
                server.abort();
                return Err((StartError::Platform(e.to_string()), tmp));
            }
        };
        let Some(output) = process.take_output() else {
            server.abort();
            return Err((
                StartError::Platform("sandbox gave no output pipe".into()),
                tmp,
            ));
        };
        let pipe = match LogPipe::new(output, config.sink.clone()) {
            Ok(p) => p,
            Err(e) => {
                server.abort();
                return Err((StartError::Platform(e.to_string()), tmp));
            }
        };
        let pipe_task = tokio::spawn(pipe.clone().run());
        tracing::debug!(function = %config.spec.name, env = %id, runtime_api = %addr, "environment started");
        Ok(Self {
            id,
            config,
            process,
            deliveries,
            init,
            initialised: false,
            spawned_at,
            init_duration: None,
            pipe,
            api,
            server,
            pipe_task,
            tmp: Some(tmp),
            last_used: Instant::now(),
        })
    }

    /// Runs one invocation to its end. Never fails: every failure is an outcome.
    /// Runs one invocation. `Err` hands the invocation back untouched: the runtime exited
    /// after its last answer without asking for another event, so on Lambda this event
    /// would have gone to a fresh environment — the caller starts one.
    pub(crate) async fn invoke(&mut self, inv: Invocation) -> Result<Finished, Invocation> {
        if self.initialised {
            // An environment is ready once its runtime asks for the next event; until
            // then it may still be finishing the last one, or exiting.
            let wait = self.process.wait();
            tokio::select! {
                biased;
                () = self.api.wait_ready() => {}
                _ = wait => return Err(inv),
            }
        }
        Ok(self.run(inv).await)
    }

    async fn run(&mut self, inv: Invocation) -> Finished {
        let cold = !self.initialised;
        if inv.capture_log {
            self.pipe.set_capture(true);
        }
        if cold {
            if let Some(finished) = self.await_init(&inv).await {
                return finished;
            }
        }
        let version = self.config.version.clone();
        if cold {
            // What the function printed while initialising goes before START. A warm
            // environment's pipe is empty here unless a background thread is printing,
            // whose lines may fall on either side of START, as in CloudWatch.
            self.pipe.drain();
        }
        self.pipe
            .platform_deferred(logs::start_line(&inv.request_id, &version));

        // CPU statistics only when asked (power tuning): two cgroup reads saved per call.
        let (cpu_before, throttled_before) = if inv.measure_cpu {
            (self.process.cpu_usage(), self.process.cpu_throttled())
        } else {
            (None, None)
        };
        let timeout = self.config.spec.timeout;
        let started = Instant::now();
        let deadline = started + timeout.duration();
        let deadline_ms = epoch_ms() + u64::from(timeout.get()) * 1000;
        let (reply_tx, reply_rx) = oneshot::channel();
        let delivery = Delivery {
            request_id: inv.request_id.clone(),
            payload: inv.payload,
            deadline_ms,
            function_arn: inv.invoked_arn,
            trace_id: inv.trace_id,
            client_context: inv.client_context,
            cognito_identity: inv.cognito_identity,
            reply: reply_tx,
        };
        if self.deliveries.try_send(delivery).is_err() {
            // The environment's queue is full or closed: it is not healthy.
            let payload = payloads::exit_error(&inv.request_id, None);
            return self.finish(
                &inv.request_id,
                InvokeOutcome::Crashed {
                    payload: payload.into(),
                    error_type: "Runtime.ExitError".into(),
                },
                started,
                false,
                cpu_before,
                throttled_before,
            );
        }

        enum Ended {
            Reply(RuntimeReply),
            Exited(Option<std::process::ExitStatus>),
            TimedOut,
        }
        let ended = {
            let wait = self.process.wait();
            tokio::pin!(wait);
            let mut reply_rx = reply_rx;
            tokio::select! {
                biased;
                r = &mut reply_rx => match r {
                    Ok(reply) => Ended::Reply(reply),
                    Err(_) => Ended::Exited(None),
                },
                status = &mut wait => Ended::Exited(status.ok()),
                _ = tokio::time::sleep_until(deadline.into()) => Ended::TimedOut,
            }
        };
        let rid = inv.request_id.as_str();
        let (outcome, reusable) = match ended {
            Ended::Reply(RuntimeReply::Response(payload)) => {
                (InvokeOutcome::Success { payload }, true)
            }
            Ended::Reply(RuntimeReply::Error { body, error_type }) => (
                InvokeOutcome::FunctionError {
                    payload: body,
                    error_type,
                },
                true,
            ),
            // Runtimes exit when their response is refused (awslambdaric does): start
            // afresh rather than hand the next caller a dying environment.
            Ended::Reply(RuntimeReply::TooLarge) => (
                InvokeOutcome::FunctionError {
                    payload: payloads::response_too_large().into(),
                    error_type: "Function.ResponseSizeTooLarge".into(),
                },
                false,
            ),
            Ended::Reply(RuntimeReply::BadResponseMode) => (
                InvokeOutcome::FunctionError {
                    payload: payloads::invalid_response_mode(rid).into(),
                    error_type: "Runtime.InvalidResponseModeHeader".into(),
                },
                true,
            ),
            Ended::Exited(status) => (self.crash_outcome(rid, status), false),
            Ended::TimedOut => {
                self.process.kill();
                self.pipe.drain();
                let ts = chrono::Utc::now()
                    .format("%Y-%m-%dT%H:%M:%S%.3fZ")
                    .to_string();
                self.pipe
                    .platform(&[payloads::timed_out_log_line(&ts, rid, timeout.get())]);
                (
                    InvokeOutcome::Timeout {
                        payload: payloads::timed_out(rid, timeout.get()).into(),
                    },
                    false,
                )
            }
        };
        self.finish(
            rid,
            outcome,
            started,
            reusable,
            cpu_before,
            throttled_before,
        )
    }

    /// Waits for the runtime's first `next`. Returns `Some` when the invocation ended here.
    async fn await_init(&mut self, inv: &Invocation) -> Option<Finished> {
        let limit = tokio::time::sleep(INIT_LIMIT);
        tokio::pin!(limit);
        let rid = inv.request_id.as_str();
        loop {
            let signal = self.init.borrow_and_update().clone();
            match signal {
                InitSignal::Ready => {
                    self.initialised = true;
                    self.init_duration = Some(self.spawned_at.elapsed());
                    return None;
                }
                InitSignal::Failed { body, error_type } => {
                    self.init_duration = Some(self.spawned_at.elapsed());
                    let version = self.config.version.clone();
                    self.pipe.drain();
                    self.pipe.platform(&[logs::start_line(rid, &version)]);
                    self.process.kill();
                    let outcome = InvokeOutcome::FunctionError {
                        payload: body,
                        error_type,
                    };
                    return Some(self.finish(rid, outcome, Instant::now(), false, None, None));
                }
                InitSignal::Pending => {}
            }
            let wait = self.process.wait();
            tokio::select! {
                biased;
                changed = self.init.changed() => {
                    if changed.is_err() {
                        return Some(self.init_crash(rid, None));
                    }
                }
                status = wait => {
                    // A runtime that posted an init error and exited: report the error.
                    if let InitSignal::Failed { .. } = &*self.init.borrow() {
                        continue;
                    }
                    return Some(self.init_crash(rid, status.ok()));
                }
                _ = &mut limit => {
                    self.init_duration = Some(self.spawned_at.elapsed());
                    self.process.kill();
                    let timeout = self.config.spec.timeout.get();
                    let version = self.config.version.clone();
                    self.pipe.drain();
                    let ts = chrono::Utc::now().format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string();
                    self.pipe.platform(&[
                        logs::start_line(rid, &version),
                        payloads::timed_out_log_line(&ts, rid, timeout),
                    ]);
                    let outcome = InvokeOutcome::Timeout { payload: payloads::timed_out(rid, timeout).into() };
                    return Some(self.finish(rid, outcome, Instant::now(), false, None, None));
                }
            }
        }
    }

    fn init_crash(&mut self, rid: &str, status: Option<std::process::ExitStatus>) -> Finished {
        self.init_duration = Some(self.spawned_at.elapsed());
        let version = self.config.version.clone();
        self.pipe.drain();
        self.pipe.platform(&[logs::start_line(rid, &version)]);
        let outcome = self.crash_outcome(rid, status);
        self.finish(rid, outcome, Instant::now(), false, None, None)
    }

    fn crash_outcome(
        &mut self,
        rid: &str,
        status: Option<std::process::ExitStatus>,
    ) -> InvokeOutcome {
        let oom = self.process.oom_killed();
        self.process.kill();
        if oom {
            InvokeOutcome::Crashed {
                payload: payloads::out_of_memory(rid).into(),
                error_type: "Runtime.OutOfMemory".into(),
            }
        } else {
            InvokeOutcome::Crashed {
                payload: payloads::exit_error(rid, status).into(),
                error_type: "Runtime.ExitError".into(),
            }
        }
    }

    fn finish(
        &mut self,
        rid: &str,
        outcome: InvokeOutcome,
        started: Instant,
        reusable: bool,
        cpu_before: Option<Duration>,
        throttled_before: Option<Duration>,
    ) -> Finished {
        let duration = started.elapsed();
        let init = self.init_duration.take();
        let memory_mb = self.config.spec.memory.get();
        let peak = self.process.memory_peak_bytes();
        let cpu_now = cpu_before.and_then(|_| self.process.cpu_usage());
        let throttled_now = throttled_before.and_then(|_| self.process.cpu_throttled());
        let cpu_time = match (cpu_before, cpu_now) {
            (Some(b), Some(a)) => Some(a.saturating_sub(b)),
            _ => None,
        };
        let cpu_throttled = match (throttled_before, throttled_now) {
            (Some(b), Some(a)) => Some(a.saturating_sub(b)),
            _ => None,
        };
        let report = InvokeReport {
            duration,
            billed_ms: logs::billed_ms(duration, init),
            memory_mb,
            max_memory_used_mb: peak.map(logs::mb_used).unwrap_or(memory_mb).min(memory_mb),
            init_duration: init,
            cpu_time,
            cpu_throttled,
        };
        self.pipe.drain();
        self.pipe.flush_partial();
        self.pipe
            .platform(&[logs::end_line(rid), logs::report_line(rid, &report)]);
        let log = self.pipe.set_capture(false);
        self.last_used = Instant::now();
        Finished {
            outcome,
            report,
            log,
            reusable,
        }
    }
}

impl Environment {
    /// False once the runtime process has exited (it may die while idle).
    pub(crate) fn is_alive(&mut self) -> bool {
        matches!(self.process.try_wait(), Ok(None))
    }
}

impl Drop for Environment {
    fn drop(&mut self) {
        self.process.kill();
        self.server.abort();
        // The pipe task ends by itself at end-of-file once every writer is gone.
        let _ = &self.pipe_task;
    }
}

/// For `provided*` runtimes: the bootstrap paths searched when none is executable.
fn missing_entrypoint(config: &FunctionConfig) -> Option<Vec<String>> {
    if !config.spec.runtime.is_provided() {
        return None;
    }
    let candidates = [
        config.resolved.code.tree.join("bootstrap"),
        config
            .launch
            .opt_dir
            .as_ref()
            .map(|d| d.join("bootstrap"))
            .unwrap_or_else(|| PathBuf::from("/nonexistent/bootstrap")),
    ];
    let ok = candidates.iter().any(|p| {
        std::fs::metadata(p)
            .map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
            .unwrap_or(false)
    });
    (!ok).then(|| {
        vec![
            "/var/task/bootstrap".to_owned(),
            "/opt/bootstrap".to_owned(),
        ]
    })
}

pub(crate) fn epoch_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// `YYYY/MM/DD/[<version>]<32 hex>`.
fn log_stream_name(version: &str) -> String {
    format!(
        "{}/[{}]{}",
        chrono::Utc::now().format("%Y/%m/%d"),
        version,
        uuid::Uuid::new_v4().simple()
    )
}
