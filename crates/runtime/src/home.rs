//! The function thread: one OS thread with a current-thread tokio runtime that runs every
//! pool, environment and Runtime API server of a [`crate::Runtime`], and whatever else the
//! embedder puts beside them (`ledge up` puts its API Gateway listeners there).
//!
//! Why one thread: a warm invocation hands an event from the gateway to the pool, to the
//! environment, to the Runtime API connection and back, five task wake-ups per request.
//! On a multi-thread runtime those tasks land on different workers, and each crossing
//! costs a futex wake and an inter-processor interrupt (a VM exit on a virtual machine).
//! On one thread the chain runs straight through: on 2 cores, ~30 % fewer CPU
//! microseconds per request and ~15 % more requests per second for an HTTP API route
//! (docs/benchmarks.md). The other cores stay free for the function processes, the
//! clients, and the CDN, which keeps its multi-thread runtime.

use std::time::Duration;

use tokio::runtime::Handle;
use tokio::sync::oneshot;

/// Owns the function thread; dropping it stops the thread's runtime, which drops every
/// task on it (and so ends every environment).
pub(crate) struct Home {
    handle: Handle,
    stop: Option<oneshot::Sender<()>>,
}

impl Home {
    pub(crate) fn start() -> std::io::Result<Self> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .thread_name("ledge-fn-blocking")
            .build()?;
        let handle = rt.handle().clone();
        let (stop, stopped) = oneshot::channel::<()>();
        std::thread::Builder::new()
            .name("ledge-functions".into())
            .spawn(move || {
                // Runs until the Home is dropped (or its sender is, which is the same).
                let _ = rt.block_on(stopped);
                rt.shutdown_timeout(Duration::from_secs(5));
            })?;
        Ok(Self {
            handle,
            stop: Some(stop),
        })
    }

    pub(crate) fn handle(&self) -> &Handle {
        &self.handle
    }
}

impl Drop for Home {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}
