//! A function version's environments, owned by one actor.
//!
//! The handle is a bounded channel; each invocation carries a oneshot for its answer. The
//! actor hands an idle environment (most recently used first, so a warm one stays warm)
//! or starts a new one while the function's and ledge's concurrency allow, and otherwise
//! answers `Throttled` at once, as Lambda does for synchronous calls.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use ledge_model::{
    InvokeError, InvokeOutcome, InvokeReport, InvokeResult, RequestId, ThrottleReason,
};
use tokio::sync::{mpsc, oneshot, OwnedSemaphorePermit};

use crate::env::{Environment, Invocation, StartError, TmpSlot};
use crate::function::{FunctionConfig, Shared};

/// Invocations queued to one pool before callers are throttled.
const MAILBOX: usize = 4096;

pub(crate) enum PoolMsg {
    Invoke {
        inv: Invocation,
        reply: oneshot::Sender<Result<InvokeResult, InvokeError>>,
    },
    Done {
        env: Option<Box<Environment>>,
        tmp: Option<TmpSlot>,
        generation: u64,
    },
    Update {
        config: Arc<FunctionConfig>,
    },
    Stats {
        reply: oneshot::Sender<PoolStats>,
    },
    Shutdown {
        done: oneshot::Sender<()>,
    },
}

/// A snapshot of a pool, for tests and status output.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PoolStats {
    pub idle: usize,
    pub busy: usize,
    pub started: u64,
}

/// A function's reserved concurrency, shared by the pools of all its versions: Lambda
/// caps the function, not each version. The limit changes at run time
/// (`PutFunctionConcurrency`) without touching environments.
#[derive(Debug)]
pub(crate) struct Concurrency {
    /// `u64::MAX` = no reservation (the account pool applies).
    limit: AtomicU64,
    busy: AtomicUsize,
}

impl Concurrency {
    pub(crate) fn new(limit: Option<u32>) -> Self {
        Self {
            limit: AtomicU64::new(limit.map_or(u64::MAX, u64::from)),
            busy: AtomicUsize::new(0),
        }
    }

    pub(crate) fn limit(&self) -> Option<u32> {
        match self.limit.load(Ordering::Acquire) {
            u64::MAX => None,
            n => u32::try_from(n).ok(),
        }
    }

    pub(crate) fn set_limit(&self, limit: Option<u32>) {
        self.limit
            .store(limit.map_or(u64::MAX, u64::from), Ordering::Release);
    }

    /// Takes one slot unless the function is at its reservation.
    fn try_acquire(&self) -> bool {
        let limit = self.limit.load(Ordering::Acquire);
        self.busy
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |b| {
                ((b as u64) < limit).then_some(b + 1)
            })
            .is_ok()
    }

    fn release(&self) {
        let _ = self
            .busy
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |b| b.checked_sub(1));
    }
}

#[derive(Clone)]
pub(crate) struct PoolHandle {
    tx: mpsc::Sender<PoolMsg>,
}

impl PoolHandle {
    pub(crate) fn spawn(
        config: Arc<FunctionConfig>,
        shared: Arc<Shared>,
        concurrency: Arc<Concurrency>,
    ) -> Self {
        let (tx, rx) = mpsc::channel(MAILBOX);
        let actor = Pool {
            config,
            concurrency,
            generation: 0,
            shared,
            idle: Vec::new(),
            busy: 0,
            started: 0,
            free_tmp: Vec::new(),
            tx: tx.downgrade(),
            shutting_down: None,
        };
        actor.shared.home.clone().spawn(actor.run(rx));
        Self { tx }
    }

    pub(crate) async fn invoke(&self, inv: Invocation) -> Result<InvokeResult, InvokeError> {
        let (reply, rx) = oneshot::channel();
        let request_id = inv.request_id.clone();
        if let Err(e) = self.tx.try_send(PoolMsg::Invoke { inv, reply }) {
            return match e {
                mpsc::error::TrySendError::Full(_) => Ok(throttled(
                    request_id,
                    ThrottleReason::ReservedFunctionConcurrentInvocationLimitExceeded,
                )),
                mpsc::error::TrySendError::Closed(_) => Err(InvokeError::ShuttingDown),
            };
        }
        rx.await.unwrap_or(Err(InvokeError::ShuttingDown))
    }

    pub(crate) async fn update(&self, config: Arc<FunctionConfig>) {
        let _ = self.tx.send(PoolMsg::Update { config }).await;
    }

    pub(crate) async fn stats(&self) -> PoolStats {
        let (reply, rx) = oneshot::channel();
        if self.tx.send(PoolMsg::Stats { reply }).await.is_err() {
            return PoolStats::default();
        }
        rx.await.unwrap_or_default()
    }

    /// Waits for in-flight invocations, then ends every environment.
    pub(crate) async fn shutdown(&self) {
        let (done, rx) = oneshot::channel();
        if self.tx.send(PoolMsg::Shutdown { done }).await.is_ok() {
            let _ = rx.await;
        }
    }
}

fn throttled(request_id: String, reason: ThrottleReason) -> InvokeResult {
    InvokeResult {
        request_id: RequestId::from(request_id),
        outcome: InvokeOutcome::Throttled { reason },
        executed_version: String::new(),
        log: None,
        report: None,
    }
}

struct Pool {
    config: Arc<FunctionConfig>,
    concurrency: Arc<Concurrency>,
    generation: u64,
    shared: Arc<Shared>,
    idle: Vec<Environment>,
    busy: usize,
    started: u64,
    free_tmp: Vec<TmpSlot>,
    tx: mpsc::WeakSender<PoolMsg>,
    shutting_down: Option<oneshot::Sender<()>>,
}

impl Pool {
    async fn run(mut self, mut rx: mpsc::Receiver<PoolMsg>) {
        loop {
            let next_expiry = self
                .idle
                .iter()
                .map(|e| e.last_used + self.shared.keep_alive)
                .min();
            let msg = match next_expiry {
                Some(at) => tokio::select! {
                    m = rx.recv() => m,
                    _ = tokio::time::sleep_until(at.into()) => { self.evict(Instant::now()); continue; }
                },
                None => rx.recv().await,
            };
            let Some(msg) = msg else { break };
            match msg {
                PoolMsg::Invoke { inv, reply } => self.dispatch(inv, reply),
                PoolMsg::Done {
                    env,
                    tmp,
                    generation,
                } => {
                    self.busy -= 1;
                    self.concurrency.release();
                    match env {
                        Some(env)
                            if generation == self.generation && self.shutting_down.is_none() =>
                        {
                            self.idle.push(*env)
                        }
                        Some(mut env) => {
                            if let Some(t) = env.tmp.take() {
                                self.free_tmp.push(t);
                            }
                            retire(*env);
                        }
                        None => {}
                    }
                    if let Some(t) = tmp {
                        self.free_tmp.push(t);
                    }
                    if self.busy == 0 {
                        if let Some(done) = self.shutting_down.take() {
                            self.idle.drain(..).for_each(retire);
                            let _ = done.send(());
                            break;
                        }
                    }
                }
                PoolMsg::Update { config } => {
                    self.config = config;
                    self.generation += 1;
                    // Idle environments run the old code: end them now. Busy ones are
                    // retired when their invocation finishes.
                    for mut env in self.idle.drain(..) {
                        if let Some(t) = env.tmp.take() {
                            self.free_tmp.push(t);
                        }
                        retire(env);
                    }
                }
                PoolMsg::Stats { reply } => {
                    let _ = reply.send(PoolStats {
                        idle: self.idle.len(),
                        busy: self.busy,
                        started: self.started,
                    });
                }
                PoolMsg::Shutdown { done } => {
                    self.idle.drain(..).for_each(retire);
                    if self.busy == 0 {
                        let _ = done.send(());
                        break;
                    }
                    self.shutting_down = Some(done);
                }
            }
        }
        self.idle.drain(..).for_each(retire);
        self.remove_tmp();
    }

    fn dispatch(
        &mut self,
        inv: Invocation,
        reply: oneshot::Sender<Result<InvokeResult, InvokeError>>,
    ) {
        if self.shutting_down.is_some() {
            let _ = reply.send(Err(InvokeError::ShuttingDown));
            return;
        }
        if !self.concurrency.try_acquire() {
            let _ = reply.send(Ok(throttled(
                inv.request_id,
                ThrottleReason::ReservedFunctionConcurrentInvocationLimitExceeded,
            )));
            return;
        }
        let Ok(permit) = self.shared.global.clone().try_acquire_owned() else {
            self.concurrency.release();
            let _ = reply.send(Ok(throttled(
                inv.request_id,
                ThrottleReason::ConcurrentInvocationLimitExceeded,
            )));
            return;
        };
        self.busy += 1;
        let mut env = None;
        while let Some(mut candidate) = self.idle.pop() {
            if candidate.is_alive() {
                env = Some(candidate);
                break;
            }
            if let Some(t) = candidate.tmp.take() {
                self.free_tmp.push(t);
            }
            retire(candidate);
        }
        let tmp = if env.is_none() {
            self.started += 1;
            Some(self.take_tmp())
        } else {
            None
        };
        let task = Task {
            config: self.config.clone(),
            shared: self.shared.clone(),
            generation: self.generation,
            tx: self.tx.clone(),
            _permit: permit,
        };
        tokio::spawn(task.run(env, tmp, inv, reply));
    }

    fn take_tmp(&mut self) -> TmpSlot {
        if let Some(t) = self.free_tmp.pop() {
            return t;
        }
        let dir = self
            .shared
            .tmp_root
            .join(self.config.spec.name.as_str())
            .join(uuid::Uuid::new_v4().simple().to_string());
        let _ = std::fs::create_dir_all(&dir);
        TmpSlot { dir }
    }

    fn evict(&mut self, now: Instant) {
        let keep_alive = self.shared.keep_alive;
        let mut kept = Vec::with_capacity(self.idle.len());
        for mut env in self.idle.drain(..) {
            if now.duration_since(env.last_used) >= keep_alive {
                tracing::debug!(function = %env.config.spec.name, env = %env.id, "evicting idle environment");
                if let Some(t) = env.tmp.take() {
                    self.free_tmp.push(t);
                }
                retire(env);
            } else {
                kept.push(env);
            }
        }
        self.idle = kept;
        // An evicted environment's /tmp goes with it, as on Lambda.
        self.remove_tmp();
    }

    fn remove_tmp(&mut self) {
        for t in self.free_tmp.drain(..) {
            let _ = std::fs::remove_dir_all(&t.dir);
        }
    }
}

/// Ends an environment off the actor's thread (killing and removing cgroups may block).
fn retire(env: Environment) {
    tokio::task::spawn_blocking(move || drop(env));
}

struct Task {
    config: Arc<FunctionConfig>,
    shared: Arc<Shared>,
    generation: u64,
    tx: mpsc::WeakSender<PoolMsg>,
    _permit: OwnedSemaphorePermit,
}

impl Task {
    async fn run(
        self,
        env: Option<Environment>,
        tmp: Option<TmpSlot>,
        inv: Invocation,
        reply: oneshot::Sender<Result<InvokeResult, InvokeError>>,
    ) {
        let request_id = inv.request_id.clone();
        let mut env = match (env, tmp) {
            (Some(env), _) => env,
            (None, Some(tmp)) => {
                match Environment::start(self.config.clone(), &self.shared, tmp, &request_id).await
                {
                    Ok(env) => env,
                    Err((err, tmp)) => {
                        let result = match err {
                            StartError::Function {
                                payload,
                                error_type,
                            } => Ok(InvokeResult {
                                request_id: RequestId::from(request_id),
                                outcome: InvokeOutcome::Crashed {
                                    payload: payload.into(),
                                    error_type,
                                },
                                executed_version: self.config.version.clone(),
                                log: None,
                                report: Some(InvokeReport {
                                    duration: Duration::ZERO,
                                    billed_ms: 0,
                                    memory_mb: self.config.spec.memory.get(),
                                    max_memory_used_mb: 0,
                                    init_duration: None,
                                    cpu_time: None,
                                    cpu_throttled: None,
                                }),
                            }),
                            StartError::Platform(message) => Err(InvokeError::Platform {
                                function: self.config.spec.name.clone(),
                                message,
                            }),
                        };
                        let _ = reply.send(result);
                        self.done(None, Some(tmp)).await;
                        return;
                    }
                }
            }
            (None, None) => {
                let _ = reply.send(Err(InvokeError::Platform {
                    function: self.config.spec.name.clone(),
                    message: "invariant: a cold start without a /tmp slot".into(),
                }));
                self.done(None, None).await;
                return;
            }
        };
        let finished = match env.invoke(inv).await {
            Ok(finished) => finished,
            Err(inv) => {
                // The runtime exited after its last answer: this event starts afresh.
                let tmp = env.tmp.take();
                retire(env);
                return Box::pin(self.run(None, tmp, inv, reply)).await;
            }
        };
        // Hand the environment back before answering, so that a caller's next call
        // (which can only arrive after the answer) finds it warm.
        if finished.reusable {
            self.done(Some(Box::new(env)), None).await;
        } else {
            let tmp = env.tmp.take();
            retire(env);
            self.done(None, tmp).await;
        }
        let _ = reply.send(Ok(InvokeResult {
            request_id: RequestId::from(request_id),
            outcome: finished.outcome,
            executed_version: self.config.version.clone(),
            log: finished.log,
            report: Some(finished.report),
        }));
    }

    async fn done(&self, env: Option<Box<Environment>>, tmp: Option<TmpSlot>) {
        if let Some(tx) = self.tx.upgrade() {
            let _ = tx
                .send(PoolMsg::Done {
                    env,
                    tmp,
                    generation: self.generation,
                })
                .await;
        }
    }
}
