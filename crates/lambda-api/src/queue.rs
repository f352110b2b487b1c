//! The asynchronous-invocation queue: `Event` invocations are written to the store before
//! `202` is answered (so they survive a crash or restart of ledge), then run with the
//! function's concurrency, retried on function errors per `MaximumRetryAttempts` with
//! Lambda's backoff (1 min, then 2 min; the base is configurable), turned back on
//! throttles, dropped after `MaximumEventAgeInSeconds`, and recorded when they fail for
//! good: in the store (`ledge dlq`) and at an `OnFailure` destination.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use ledge_model::{FunctionName, Invoke, InvokeError, InvokeOutcome, InvokeRequest, RequestId};
use ledge_runtime::Runtime;
use ledge_store::AsyncEvent;
use serde_json::{json, Value};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use crate::errors::ApiError;
use crate::settings::EventConfig;

/// How the queue paces itself.
#[derive(Debug, Clone)]
pub struct QueueConfig {
    /// Wait before the first retry of a failed event; doubled before the second.
    /// AWS waits 1 minute, then 2.
    pub retry_base: Duration,
    /// First wait after a throttle; doubled each time, at most 5 minutes.
    pub throttle_base: Duration,
    /// Events run at once across all functions.
    pub parallel: usize,
}

impl Default for QueueConfig {
    fn default() -> Self {
        Self {
            retry_base: Duration::from_secs(60),
            throttle_base: Duration::from_secs(1),
            parallel: 64,
        }
    }
}

const MAX_THROTTLE_WAIT: Duration = Duration::from_secs(300);

/// Handle to the queue. Cheap to clone.
#[derive(Clone)]
pub struct AsyncQueue {
    inner: Arc<Inner>,
}

struct Inner {
    runtime: Arc<Runtime>,
    invoker: Arc<dyn Invoke>,
    config: QueueConfig,
    notify: Notify,
    /// Events being processed, with their function.
    claimed: Mutex<HashMap<i64, String>>,
}

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// The wait before retry number `attempts` (1 = first retry): base, 2×base, 4×base…
pub(crate) fn retry_delay(base: Duration, attempts: u32) -> Duration {
    base.saturating_mul(1u32 << attempts.saturating_sub(1).min(16))
}

/// The wait after the `throttles`-th throttle: base doubling, at most 5 minutes.
pub(crate) fn throttle_delay(base: Duration, throttles: u32) -> Duration {
    base.saturating_mul(1u32 << throttles.saturating_sub(1).min(16))
        .min(MAX_THROTTLE_WAIT)
}

/// A payload as records carry it: its JSON, or the text when it is not JSON.
fn as_json(bytes: &[u8]) -> Value {
    serde_json::from_slice(bytes).unwrap_or_else(|_| json!(String::from_utf8_lossy(bytes)))
}

/// What an invocation answered, for the record.
struct Response {
    executed_version: String,
    function_error: bool,
    payload: Value,
}

impl AsyncQueue {
    pub fn new(runtime: Arc<Runtime>, invoker: Arc<dyn Invoke>, config: QueueConfig) -> Self {
        Self {
            inner: Arc::new(Inner {
                runtime,
                invoker,
                config,
                notify: Notify::new(),
                claimed: Mutex::new(HashMap::new()),
            }),
        }
    }

    /// Queues an event durably; returns once it is on disk.
    pub async fn enqueue(
        &self,
        function: &FunctionName,
        qualifier: Option<&str>,
        request_id: &str,
        payload: &[u8],
    ) -> Result<(), ApiError> {
        let store = self.inner.runtime.store().clone();
        let (f, q, r, p) = (
            function.to_string(),
            qualifier.map(str::to_owned),
            request_id.to_owned(),
            payload.to_vec(),
        );
        tokio::task::spawn_blocking(move || {
            store.enqueue_async(&f, q.as_deref(), &r, &p, now_ms())
        })
        .await
        .map_err(|e| ApiError::service(e.to_string()))??;
        self.inner.notify.notify_one();
        Ok(())
    }

    /// Runs the queue until `cancel`; events left queued run after the next start.
    pub fn spawn(&self, cancel: CancellationToken) -> tokio::task::JoinHandle<()> {
        let q = self.clone();
        tokio::spawn(async move { q.run(cancel).await })
    }

    fn claimed(&self) -> HashMap<i64, String> {
        self.inner
            .claimed
            .lock()
            .map(|c| c.clone())
            .unwrap_or_default()
    }

    async fn run(self, cancel: CancellationToken) {
        loop {
            let claimed = self.claimed();
            let ids: Vec<i64> = claimed.keys().copied().collect();
            let free = self.inner.config.parallel.saturating_sub(ids.len());
            let store = self.inner.runtime.store().clone();
            let now = now_ms();
            let due = if free == 0 {
                Vec::new()
            } else {
                let ids2 = ids.clone();
                tokio::task::spawn_blocking(move || store.due_async_events(now, free + 32, &ids2))
                    .await
                    .ok()
                    .and_then(Result::ok)
                    .unwrap_or_default()
            };
            let mut per_fn: HashMap<String, u32> = HashMap::new();
            for f in claimed.values() {
                *per_fn.entry(f.clone()).or_default() += 1;
            }
            let mut started = 0;
            let mut held_back = false;
            for ev in due {
                if started >= free {
                    break;
                }
                // Run with the function's concurrency: an event waits rather than being
                // throttled while its function is at its reservation.
                let reserved = ev
                    .function
                    .parse::<FunctionName>()
                    .ok()
                    .and_then(|n| self.inner.runtime.function_info(&n))
                    .and_then(|i| i.reserved_concurrency);
                let running = per_fn.get(&ev.function).copied().unwrap_or(0);
                if reserved.is_some_and(|r| r > 0 && running >= r) {
                    held_back = true;
                    continue;
                }
                *per_fn.entry(ev.function.clone()).or_default() += 1;
                if let Ok(mut c) = self.inner.claimed.lock() {
                    c.insert(ev.id, ev.function.clone());
                }
                started += 1;
                let q = self.clone();
                tokio::spawn(async move {
                    let id = ev.id;
                    q.process(ev).await;
                    if let Ok(mut c) = q.inner.claimed.lock() {
                        c.remove(&id);
                    }
                    q.inner.notify.notify_one();
                });
            }
            let wait = if held_back {
                Duration::from_millis(200)
            } else {
                let store = self.inner.runtime.store().clone();
                let ids: Vec<i64> = self.claimed().keys().copied().collect();
                let next = tokio::task::spawn_blocking(move || store.next_async_due_ms(&ids))
                    .await
                    .ok()
                    .and_then(Result::ok)
                    .flatten();
                match next {
                    Some(at) => Duration::from_millis((at - now_ms()).clamp(0, 1000) as u64),
                    None => Duration::from_secs(1),
                }
            };
            tokio::select! {
                _ = cancel.cancelled() => break,
                _ = self.inner.notify.notified() => {}
                _ = tokio::time::sleep(wait) => {}
            }
        }
    }

    async fn blocking<T: Send + 'static>(
        &self,
        f: impl FnOnce(&ledge_store::Store) -> Result<T, ledge_store::StoreError> + Send + 'static,
    ) -> Option<T> {
        let store = self.inner.runtime.store().clone();
        match tokio::task::spawn_blocking(move || f(&store)).await {
            Ok(Ok(v)) => Some(v),
            Ok(Err(e)) => {
                tracing::warn!(error = %e, "async queue: state store");
                None
            }
            Err(_) => None,
        }
    }

    async fn process(&self, ev: AsyncEvent) {
        let Ok(name) = ev.function.parse::<FunctionName>() else {
            let id = ev.id;
            self.blocking(move |s| s.delete_async(id)).await;
            return;
        };
        let qualifier = ev.qualifier.clone();
        let (f, q) = (
            ev.function.clone(),
            qualifier.clone().unwrap_or_else(|| "$LATEST".into()),
        );
        let stored = self
            .blocking(move |s| s.event_invoke_config(&f, &q))
            .await
            .flatten();
        let config = EventConfig::from_stored(stored.as_ref());
        let age_ms = now_ms() - ev.enqueued_ms;
        if age_ms > (config.max_age_secs * 1000) as i64 {
            self.fail(&ev, &config, "EventAgeExceeded", None, None)
                .await;
            return;
        }
        let reserved = self
            .inner
            .runtime
            .function_info(&name)
            .and_then(|i| i.reserved_concurrency);
        if reserved == Some(0) {
            // Lambda sends events of a function reserved at 0 straight to failure.
            let note = "the function's reserved concurrency is 0: the event was not run";
            self.fail(&ev, &config, "RetriesExhausted", None, Some(note))
                .await;
            return;
        }
        let mut req = InvokeRequest::new(name.clone(), ev.payload.clone());
        req.qualifier = qualifier;
        req.request_id = Some(RequestId::from(ev.request_id.clone()));
        let result = self.inner.invoker.invoke(req).await;
        let id = ev.id;
        match result {
            Err(InvokeError::FunctionNotFound { arn }) => {
                let note = format!("the function no longer exists ({arn})");
                self.fail(&ev, &config, "RetriesExhausted", None, Some(&note))
                    .await;
            }
            Err(InvokeError::ShuttingDown) => {}
            Err(InvokeError::Platform { message, .. }) => {
                tracing::warn!(function = %name, request_id = %ev.request_id, error = %message, "async invocation: platform fault; will retry");
                self.throttled(&ev).await;
            }
            Ok(r) => {
                let response = Response {
                    executed_version: r.executed_version.clone(),
                    function_error: r.outcome.is_function_error(),
                    payload: as_json(r.outcome.payload()),
                };
                match r.outcome {
                    InvokeOutcome::Throttled { .. } => self.throttled(&ev).await,
                    InvokeOutcome::Success { .. } => {
                        self.blocking(move |s| s.delete_async(id)).await;
                        if let Some(dest) = &config.on_success {
                            let record =
                                self.record(&ev, "Success", ev.attempts + 1, Some(&response));
                            self.deliver(&ev, dest, &record, "Success").await;
                        }
                    }
                    _ => {
                        let attempts = ev.attempts + 1;
                        tracing::info!(function = %name, request_id = %ev.request_id, attempts, "async invocation failed");
                        if attempts > config.max_retries {
                            let mut done = ev.clone();
                            done.attempts = attempts;
                            self.fail(&done, &config, "RetriesExhausted", Some(&response), None)
                                .await;
                        } else {
                            let next = now_ms()
                                + retry_delay(self.inner.config.retry_base, attempts).as_millis()
                                    as i64;
                            let throttles = ev.throttles;
                            self.blocking(move |s| {
                                s.reschedule_async(id, attempts, throttles, next)
                            })
                            .await;
                        }
                    }
                }
            }
        }
    }

    async fn throttled(&self, ev: &AsyncEvent) {
        let throttles = ev.throttles + 1;
        let next = now_ms()
            + throttle_delay(self.inner.config.throttle_base, throttles).as_millis() as i64;
        let (id, attempts) = (ev.id, ev.attempts);
        self.blocking(move |s| s.reschedule_async(id, attempts, throttles, next))
            .await;
    }

    /// The invocation record Lambda sends to destinations.
    fn record(
        &self,
        ev: &AsyncEvent,
        condition: &str,
        count: u32,
        response: Option<&Response>,
    ) -> Value {
        let arn = ev
            .function
            .parse::<FunctionName>()
            .map(|n| self.inner.runtime.function_arn(&n))
            .unwrap_or_default();
        let version = response
            .map(|r| r.executed_version.clone())
            .or_else(|| ev.qualifier.clone())
            .unwrap_or_else(|| "$LATEST".into());
        let mut record = json!({
            "version": "1.0",
            "timestamp": chrono::Utc::now().format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string(),
            "requestContext": {
                "requestId": ev.request_id,
                "functionArn": format!("{arn}:{version}"),
                "condition": condition,
                "approximateInvokeCount": count,
            },
            "requestPayload": as_json(&ev.payload),
        });
        if let Some(r) = response {
            let mut ctx = json!({"statusCode": 200, "executedVersion": r.executed_version});
            if r.function_error {
                ctx["functionError"] = json!("Unhandled");
            }
            record["responseContext"] = ctx;
            record["responsePayload"] = r.payload.clone();
        }
        record
    }

    /// Records a failed event (readable with `ledge dlq`), sends it to `OnFailure`, and
    /// removes it from the queue.
    async fn fail(
        &self,
        ev: &AsyncEvent,
        config: &EventConfig,
        condition: &str,
        response: Option<&Response>,
        note: Option<&str>,
    ) {
        let record = self.record(ev, condition, ev.attempts, response);
        let mut notes: Vec<String> = note.map(str::to_owned).into_iter().collect();
        if let Some(dest) = &config.on_failure {
            if let Some(n) = self.deliver(ev, dest, &record, condition).await {
                notes.push(n);
            } else {
                notes.push(format!("sent to the OnFailure destination {dest}"));
            }
        }
        let (f, r, c, rec, note) = (
            ev.function.clone(),
            ev.request_id.clone(),
            condition.to_owned(),
            record.clone(),
            (!notes.is_empty()).then(|| notes.join("; ")),
        );
        self.blocking(move |s| s.record_async_failure(&f, &r, &c, &rec, note.as_deref()))
            .await;
        let id = ev.id;
        self.blocking(move |s| s.delete_async(id)).await;
        tracing::warn!(function = %ev.function, request_id = %ev.request_id, condition, "async invocation dropped; recorded for `ledge dlq`");
    }

    /// Sends a record to a destination. A Lambda function gets it as an `Event`; other
    /// services are out of ledge's reach: the reason is returned (and, for a success
    /// record, the record is kept with `ledge dlq`).
    async fn deliver(
        &self,
        ev: &AsyncEvent,
        dest: &str,
        record: &Value,
        condition: &str,
    ) -> Option<String> {
        let service = dest.split(':').nth(2).unwrap_or_default();
        let problem = if service == "lambda" {
            let target = dest
                .split_once(":function:")
                .map(|(_, rest)| rest.to_owned())
                .unwrap_or_default();
            let (fname, q) = match target.split_once(':') {
                Some((n, q)) => (n.to_owned(), Some(q.to_owned())),
                None => (target.clone(), None),
            };
            match fname.parse::<FunctionName>() {
                Ok(n) if self.inner.runtime.version_info(&n, q.as_deref()).is_ok() => {
                    let rid = uuid::Uuid::new_v4().to_string();
                    let payload = record.to_string();
                    match self
                        .enqueue(&n, q.as_deref(), &rid, payload.as_bytes())
                        .await
                    {
                        Ok(()) => None,
                        Err(e) => Some(format!(
                            "could not queue the record for {dest}: {}",
                            e.message
                        )),
                    }
                }
                _ => Some(format!("the destination function {dest} does not exist")),
            }
        } else {
            Some(format!(
                "ledge cannot deliver to {service} destinations ({dest}); the record is kept here instead"
            ))
        };
        if let (Some(p), "Success") = (&problem, condition) {
            let (f, r, rec, note) = (
                ev.function.clone(),
                ev.request_id.clone(),
                record.clone(),
                p.clone(),
            );
            self.blocking(move |s| s.record_async_failure(&f, &r, "Success", &rec, Some(&note)))
                .await;
        }
        problem
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retries_wait_one_then_two_minutes_by_default() {
        let base = QueueConfig::default().retry_base;
        assert_eq!(retry_delay(base, 1), Duration::from_secs(60));
        assert_eq!(retry_delay(base, 2), Duration::from_secs(120));
        assert_eq!(
            retry_delay(Duration::from_millis(100), 2),
            Duration::from_millis(200)
        );
    }

    #[test]
    fn throttle_backoff_grows_to_five_minutes() {
        let base = Duration::from_secs(1);
        assert_eq!(throttle_delay(base, 1), Duration::from_secs(1));
        assert_eq!(throttle_delay(base, 4), Duration::from_secs(8));
        assert_eq!(throttle_delay(base, 30), Duration::from_secs(300));
    }
}
