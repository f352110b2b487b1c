//! Shared set-up for the runtime's end-to-end tests: a real runtime in a temp state dir,
//! real processes, real HTTP.
#![allow(dead_code, unreachable_pub)]

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use ledge_model::{
    FunctionName, FunctionSpec, InvokeRequest, InvokeResult, MemoryMb, Runtime as Rt, TimeoutSecs,
};
use ledge_runtime::{Runtime, RuntimeConfig};

pub fn fixture(path: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(path)
}

pub struct Harness {
    pub rt: Arc<Runtime>,
    pub dir: tempfile::TempDir,
}

pub fn harness() -> Harness {
    harness_with(|_| {})
}

pub fn harness_with(f: impl FnOnce(&mut RuntimeConfig)) -> Harness {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut cfg = RuntimeConfig::new(dir.path());
    f(&mut cfg);
    let rt = Arc::new(Runtime::new(cfg).expect("runtime"));
    Harness { rt, dir }
}

pub fn name(s: &str) -> FunctionName {
    s.parse().expect("valid function name")
}

/// A Python 3.11 function from `tests/fixtures/python/<dir>`.
pub fn python(fn_name: &str, dir: &str, handler: &str) -> FunctionSpec {
    let mut s = FunctionSpec::with_defaults(
        name(fn_name),
        fixture(&format!("python/{dir}")),
        handler,
        "python3.11".parse::<Rt>().expect("runtime"),
    );
    s.timeout = TimeoutSecs::new(10).expect("timeout");
    s.memory = MemoryMb::new(256).expect("memory");
    s
}

/// A `provided.al2023` function whose code dir is `dir`.
pub fn provided(fn_name: &str, dir: PathBuf) -> FunctionSpec {
    let mut s = FunctionSpec::with_defaults(
        name(fn_name),
        dir,
        "handler.ignored",
        "provided.al2023".parse::<Rt>().expect("runtime"),
    );
    s.timeout = TimeoutSecs::new(10).expect("timeout");
    s
}

impl Harness {
    pub async fn deploy(&self, spec: FunctionSpec) {
        self.rt.deploy(spec).await.expect("deploy");
    }

    pub async fn invoke(&self, fn_name: &str, payload: &str) -> InvokeResult {
        let req = InvokeRequest::new(name(fn_name), payload.as_bytes().to_vec());
        ledge_model::Invoke::invoke(&*self.rt, req)
            .await
            .expect("invoke")
    }

    pub async fn invoke_req(&self, req: InvokeRequest) -> InvokeResult {
        ledge_model::Invoke::invoke(&*self.rt, req)
            .await
            .expect("invoke")
    }

    pub fn log(&self, fn_name: &str) -> String {
        std::fs::read_to_string(self.rt.log_path(&name(fn_name)).expect("log path"))
            .unwrap_or_default()
    }

    /// Waits until the function's log contains `needle`; returns the log.
    pub async fn wait_log(&self, fn_name: &str, needle: &str) -> String {
        for _ in 0..500 {
            let log = self.log(fn_name);
            if log.contains(needle) {
                return log;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!(
            "log of {fn_name} never contained {needle:?}:\n{}",
            self.log(fn_name)
        );
    }
}

pub fn json(result: &InvokeResult) -> serde_json::Value {
    serde_json::from_slice(result.outcome.payload()).unwrap_or_else(|e| {
        panic!(
            "payload is not JSON ({e}): {}",
            String::from_utf8_lossy(result.outcome.payload())
        )
    })
}

/// Pids of live processes whose command line contains `needle`.
pub fn pids_with(needle: &str) -> Vec<u32> {
    let mut out = Vec::new();
    let me = std::process::id();
    if let Ok(rd) = std::fs::read_dir("/proc") {
        for e in rd.flatten() {
            let Some(pid) = e.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) else {
                continue;
            };
            if pid == me {
                continue;
            }
            let cmd = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
            let cmd = String::from_utf8_lossy(&cmd).replace('\0', " ");
            let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
            let zombie = stat
                .rsplit(')')
                .next()
                .is_some_and(|r| r.trim_start().starts_with('Z'));
            if cmd.contains(needle) && !zombie {
                out.push(pid);
            }
        }
    }
    out
}
