//! `ledge tune --endpoint URL`: the tuner against a running ledge (or anything that speaks
//! the Lambda REST API), through the calls the anchor uses — GetFunctionConfiguration,
//! UpdateFunctionConfiguration (MemorySize; Description to force a cold start) waiting for
//! `LastUpdateStatus: Successful`, Invoke with `X-Amz-Log-Type: Tail` and the REPORT line
//! read from `X-Amz-Log-Result`, PublishVersion and Create/UpdateAlias for
//! `autoOptimizeAlias`. One `$LATEST` configuration means sizes run in blocks.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use ledge_model::{
    FunctionName, Invoke, InvokeError, InvokeOutcome, InvokeReport, InvokeRequest, InvokeResult,
    MemoryMb, RequestId, ThrottleReason,
};
use serde_json::{json, Value};

use crate::target::{PowerTarget, SizeTarget, TargetInfo};
use crate::TuneError;

const API: &str = "2015-03-31";
const LOG_TYPE: &str = "X-Amz-Log-Type";
const LOG_RESULT: &str = "x-amz-log-result";
const FUNCTION_ERROR: &str = "x-amz-function-error";
const EXECUTED_VERSION: &str = "x-amz-executed-version";
const REQUEST_ID: &str = "x-amzn-requestid";

/// Reads the figures of a REPORT line from a log tail: Lambda's text format
/// (`\tDuration: 1.23 ms`) or its JSON format (`"type":"platform.report"`). Missing fields
/// count as 0, as in the anchor.
pub fn parse_report(log: &str) -> Option<InvokeReport> {
    let ms = |v: f64| Duration::from_secs_f64(v.max(0.0) / 1000.0);
    for line in log.lines().rev() {
        if let Some(rest) = line.trim_start().strip_prefix("REPORT ") {
            let field = |name: &str| -> Option<f64> {
                rest.split('\t').find_map(|f| {
                    let f = f.trim();
                    let v = f.strip_prefix(name)?.strip_prefix(": ")?;
                    v.split(' ').next()?.parse().ok()
                })
            };
            let duration = field("Duration")?;
            let restore = field("Restore Duration").unwrap_or(0.0);
            let billed = field("Billed Duration").unwrap_or(duration.ceil())
                + field("Billed Restore Duration").unwrap_or(0.0);
            let init = field("Init Duration").map(|i| i + restore);
            return Some(InvokeReport {
                duration: ms(duration),
                billed_ms: billed as u64,
                memory_mb: field("Memory Size").unwrap_or(0.0) as u32,
                max_memory_used_mb: field("Max Memory Used").unwrap_or(0.0) as u32,
                init_duration: init
                    .map(ms)
                    .or_else(|| (restore > 0.0).then(|| ms(restore))),
                cpu_time: None,
                cpu_throttled: None,
            });
        }
        if line.contains("platform.report") {
            let v: Value = serde_json::from_str(line.trim()).ok()?;
            if v.get("type").and_then(Value::as_str) != Some("platform.report") {
                continue;
            }
            let m = &v["record"]["metrics"];
            let f = |k: &str| m.get(k).and_then(Value::as_f64);
            let duration = f("durationMs")?;
            let init = f("initDurationMs").unwrap_or(0.0) + f("restoreDurationMs").unwrap_or(0.0);
            return Some(InvokeReport {
                duration: ms(duration),
                billed_ms: (f("billedDurationMs").unwrap_or(duration.ceil())
                    + f("billedRestoreDurationMs").unwrap_or(0.0))
                    as u64,
                memory_mb: f("memorySizeMB").unwrap_or(0.0) as u32,
                max_memory_used_mb: f("maxMemoryUsedMB").unwrap_or(0.0) as u32,
                init_duration: (init > 0.0).then(|| ms(init)),
                cpu_time: None,
                cpu_throttled: None,
            });
        }
    }
    None
}

/// Invoke over HTTP, as the AWS SDKs do.
#[derive(Clone)]
pub struct HttpInvoker {
    base: String,
    client: reqwest::Client,
}

impl HttpInvoker {
    pub fn new(base: &str) -> Self {
        Self {
            base: base.trim_end_matches('/').to_owned(),
            client: reqwest::Client::builder()
                // Long CPU-bound functions at small sizes (anchor issue #140).
                .timeout(Duration::from_secs(15 * 60 + 30))
                .build()
                .unwrap_or_default(),
        }
    }
}

fn platform(function: &FunctionName, message: impl Into<String>) -> InvokeError {
    InvokeError::Platform {
        function: function.clone(),
        message: message.into(),
    }
}

#[async_trait::async_trait]
impl Invoke for HttpInvoker {
    async fn invoke(&self, req: InvokeRequest) -> Result<InvokeResult, InvokeError> {
        let f = &req.function;
        let mut url = format!("{}/{API}/functions/{f}/invocations", self.base);
        if let Some(q) = &req.qualifier {
            url.push_str(&format!("?Qualifier={q}"));
        }
        let resp = self
            .client
            .post(&url)
            .header(LOG_TYPE, "Tail")
            .body(req.payload.clone())
            .send()
            .await
            .map_err(|e| platform(f, format!("cannot reach {}: {e}", self.base)))?;
        let status = resp.status().as_u16();
        let h = resp.headers().clone();
        let header = |k: &str| h.get(k).and_then(|v| v.to_str().ok()).map(str::to_owned);
        let body = resp
            .bytes()
            .await
            .map_err(|e| platform(f, format!("reading the response: {e}")))?;
        let request_id = RequestId::from(header(REQUEST_ID).unwrap_or_default());
        let json: Option<Value> = serde_json::from_slice(&body).ok();
        let error_type = json
            .as_ref()
            .and_then(|v| {
                v.get("errorType")
                    .or_else(|| v.get("__type"))
                    .and_then(Value::as_str)
            })
            .unwrap_or_default()
            .to_owned();
        match status {
            200 => {}
            429 => {
                let reason = json
                    .as_ref()
                    .and_then(|v| v.get("Reason").and_then(Value::as_str))
                    .unwrap_or_default();
                return Ok(InvokeResult {
                    request_id,
                    outcome: InvokeOutcome::Throttled {
                        reason: if reason == "ReservedFunctionConcurrentInvocationLimitExceeded" {
                            ThrottleReason::ReservedFunctionConcurrentInvocationLimitExceeded
                        } else {
                            ThrottleReason::ConcurrentInvocationLimitExceeded
                        },
                    },
                    executed_version: "$LATEST".into(),
                    log: None,
                    report: None,
                });
            }
            404 => return Err(InvokeError::FunctionNotFound { arn: f.to_string() }),
            _ => {
                return Err(platform(
                    f,
                    format!("HTTP {status}: {}", String::from_utf8_lossy(&body)),
                ))
            }
        }
        let log = header(LOG_RESULT)
            .and_then(|b| STANDARD.decode(b).ok())
            .map(|b| String::from_utf8_lossy(&b).into_owned());
        let report = log.as_deref().and_then(parse_report);
        let payload = body;
        let outcome = if header(FUNCTION_ERROR).is_some() {
            let message = json
                .as_ref()
                .and_then(|v| v.get("errorMessage").and_then(Value::as_str))
                .unwrap_or_default();
            if error_type == "Sandbox.Timedout" || message.contains("Task timed out") {
                InvokeOutcome::Timeout { payload }
            } else if error_type == "Runtime.OutOfMemory" || error_type == "Runtime.ExitError" {
                InvokeOutcome::Crashed {
                    payload,
                    error_type,
                }
            } else {
                InvokeOutcome::FunctionError {
                    payload,
                    error_type,
                }
            }
        } else {
            InvokeOutcome::Success { payload }
        };
        Ok(InvokeResult {
            request_id,
            outcome,
            executed_version: header(EXECUTED_VERSION).unwrap_or_else(|| "$LATEST".into()),
            log,
            report,
        })
    }
}

#[derive(Debug, Clone)]
struct Original {
    memory: u32,
    description: String,
}

/// A function behind a Lambda API endpoint.
pub struct EndpointTarget {
    base: String,
    client: reqwest::Client,
    function: FunctionName,
    invoker: Arc<HttpInvoker>,
    original: Original,
    architecture: String,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    recycles: u32,
    applied: bool,
    touched: bool,
}

fn target_err(what: &str, e: impl std::fmt::Display) -> TuneError {
    TuneError::Target(format!("{what}: {e}"))
}

impl EndpointTarget {
    /// Reads the function's configuration (GetFunctionConfiguration).
    pub async fn connect(base: &str, function: FunctionName) -> Result<Self, TuneError> {
        let base = base.trim_end_matches('/').to_owned();
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(60))
            .build()
            .map_err(|e| target_err("HTTP client", e))?;
        let cfg = get_config(&client, &base, &function).await?;
        let memory = cfg.get("MemorySize").and_then(Value::as_u64).unwrap_or(128) as u32;
        let architecture = cfg
            .get("Architectures")
            .and_then(|a| a.get(0))
            .and_then(Value::as_str)
            .unwrap_or("x86_64")
            .to_owned();
        Ok(Self {
            invoker: Arc::new(HttpInvoker::new(&base)),
            original: Original {
                memory,
                description: cfg
                    .get("Description")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_owned(),
            },
            base,
            client,
            function,
            architecture,
            state: Mutex::new(State::default()),
        })
    }

    async fn update(&self, body: Value) -> Result<(), TuneError> {
        let url = format!(
            "{}/{API}/functions/{}/configuration",
            self.base, self.function
        );
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            let resp = self
                .client
                .put(&url)
                .json(&body)
                .send()
                .await
                .map_err(|e| target_err("UpdateFunctionConfiguration", e))?;
            let status = resp.status().as_u16();
            let text = resp.text().await.unwrap_or_default();
            match status {
                200 => break,
                // An update still in progress (anchor issues #124, #167): wait and retry.
                409 if Instant::now() < deadline => {
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
                404 | 405 if !text.contains("ResourceNotFound") => {
                    return Err(TuneError::Target(format!(
                        "{} does not serve UpdateFunctionConfiguration (HTTP {status}); tune from the template with -t instead",
                        self.base
                    )))
                }
                _ => {
                    return Err(TuneError::Target(format!(
                        "UpdateFunctionConfiguration {body}: HTTP {status}: {text}"
                    )))
                }
            }
        }
        if let Ok(mut s) = self.state.lock() {
            s.touched = true;
        }
        let cfg = self.wait_updated().await?;
        if let Some(want) = body.get("MemorySize").and_then(Value::as_u64) {
            let got = cfg.get("MemorySize").and_then(Value::as_u64);
            if got != Some(want) {
                return Err(TuneError::Target(format!(
                    "MemorySize is {} after UpdateFunctionConfiguration set {want}: something changed it back (a ledge with hot reload re-applies its template; run it with --no-watch to tune through the API)",
                    got.map(|g| g.to_string()).unwrap_or_else(|| "missing".into())
                )));
            }
        }
        Ok(())
    }

    /// The `function_updated` waiter: GetFunctionConfiguration until `LastUpdateStatus` is
    /// `Successful` (absent counts as done), failing on `Failed`.
    async fn wait_updated(&self) -> Result<Value, TuneError> {
        let deadline = Instant::now() + Duration::from_secs(300);
        loop {
            let cfg = get_config(&self.client, &self.base, &self.function).await?;
            let status = cfg
                .get("LastUpdateStatus")
                .and_then(Value::as_str)
                .unwrap_or("Successful")
                .to_owned();
            match status.as_str() {
                "Successful" => return Ok(cfg),
                "Failed" => {
                    return Err(TuneError::Target(format!(
                        "the update failed: {}",
                        cfg.get("LastUpdateStatusReason")
                            .and_then(Value::as_str)
                            .unwrap_or("no reason given")
                    )))
                }
                _ if Instant::now() > deadline => {
                    return Err(TuneError::Target(
                        "the update did not finish within 5 minutes".into(),
                    ))
                }
                _ => tokio::time::sleep(Duration::from_millis(100)).await,
            }
        }
    }

    async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Value,
    ) -> Result<(u16, Value), TuneError> {
        let url = format!("{}/{API}/functions/{}{path}", self.base, self.function);
        let resp = self
            .client
            .request(method, &url)
            .json(&body)
            .send()
            .await
            .map_err(|e| target_err(path, e))?;
        let status = resp.status().as_u16();
        let v = resp.json::<Value>().await.unwrap_or(Value::Null);
        Ok((status, v))
    }
}

async fn get_config(
    client: &reqwest::Client,
    base: &str,
    function: &FunctionName,
) -> Result<Value, TuneError> {
    let url = format!("{base}/{API}/functions/{function}/configuration");
    let resp = client
        .get(&url)
        .send()
        .await
        .map_err(|e| target_err(&format!("cannot reach {base}"), e))?;
    let status = resp.status().as_u16();
    let text = resp.text().await.unwrap_or_default();
    match status {
        200 => serde_json::from_str(&text).map_err(|e| target_err("GetFunctionConfiguration", e)),
        404 if text.contains("ResourceNotFoundException") => Err(TuneError::Target(format!(
            "function {function} not found at {base}"
        ))),
        _ => Err(TuneError::Target(format!(
            "GetFunctionConfiguration at {base}: HTTP {status} {text} (does this endpoint serve the Lambda control plane yet?)"
        ))),
    }
}

#[async_trait::async_trait]
impl PowerTarget for EndpointTarget {
    fn info(&self) -> TargetInfo {
        let mut env = BTreeMap::new();
        env.insert("endpoint".into(), self.base.clone());
        TargetInfo {
            function: self.function.to_string(),
            architecture: self.architecture.clone(),
            source: format!("endpoint {}", self.base),
            interleaved: false,
            cpu_accounting: false,
            environment: env,
            original_memory: Some(self.original.memory),
            logical_id: None,
        }
    }

    fn invoker(&self) -> Arc<dyn Invoke> {
        self.invoker.clone()
    }

    async fn prepare(&self, memory: MemoryMb) -> Result<SizeTarget, TuneError> {
        self.update(json!({ "MemorySize": memory.get() })).await?;
        Ok(SizeTarget {
            function: self.function.clone(),
            qualifier: None,
        })
    }

    async fn recycle(&self, _memory: MemoryMb) -> Result<(), TuneError> {
        let n = match self.state.lock() {
            Ok(mut s) => {
                s.recycles += 1;
                s.recycles
            }
            Err(_) => 0,
        };
        // As the anchor does: a changed Description gives fresh environments.
        self.update(json!({ "Description": format!("ledge tune cold start {n}") }))
            .await
    }

    async fn processor(&self, name: &FunctionName) -> Result<FunctionName, TuneError> {
        get_config(&self.client, &self.base, name).await?;
        Ok(name.clone())
    }

    async fn apply(&self, memory: MemoryMb, alias: Option<&str>) -> Result<String, TuneError> {
        self.update(
            json!({ "MemorySize": memory.get(), "Description": self.original.description }),
        )
        .await?;
        if let Ok(mut s) = self.state.lock() {
            s.applied = true;
        }
        let Some(alias) = alias else {
            return Ok(format!(
                "set MemorySize {} on {} ($LATEST)",
                memory, self.function
            ));
        };
        let (status, v) = self
            .call(reqwest::Method::POST, "/versions", json!({}))
            .await?;
        let version = v
            .get("Version")
            .and_then(Value::as_str)
            .map(str::to_owned)
            .ok_or_else(|| TuneError::Target(format!("PublishVersion: HTTP {status}: {v}")))?;
        let (status, v) = self
            .call(
                reqwest::Method::PUT,
                &format!("/aliases/{alias}"),
                json!({ "FunctionVersion": version }),
            )
            .await?;
        if status == 404 {
            let (status, v) = self
                .call(
                    reqwest::Method::POST,
                    "/aliases",
                    json!({ "Name": alias, "FunctionVersion": version }),
                )
                .await?;
            if status != 201 && status != 200 {
                return Err(TuneError::Target(format!(
                    "CreateAlias: HTTP {status}: {v}"
                )));
            }
        } else if status != 200 {
            return Err(TuneError::Target(format!(
                "UpdateAlias: HTTP {status}: {v}"
            )));
        }
        Ok(format!(
            "set MemorySize {memory} on {}, published version {version}, alias {alias} → {version}",
            self.function
        ))
    }

    async fn finish(&self) -> Result<(), TuneError> {
        let (touched, applied) = self
            .state
            .lock()
            .map(|s| (s.touched, s.applied))
            .unwrap_or((true, false));
        if touched && !applied {
            // Restore the original configuration, as the anchor's last publisher step does.
            self.update(json!({ "MemorySize": self.original.memory, "Description": self.original.description }))
                .await?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_text_report_lines() {
        let log = "START RequestId: 8f50 Version: $LATEST\nEND RequestId: 8f50\nREPORT RequestId: 8f50\tDuration: 15.74 ms\tBilled Duration: 147 ms\tMemory Size: 128 MB\tMax Memory Used: 56 MB\tInit Duration: 130.49 ms\t\n";
        let r = parse_report(log).expect("report");
        assert!((r.duration.as_secs_f64() * 1000.0 - 15.74).abs() < 1e-9);
        assert_eq!(r.billed_ms, 147);
        assert_eq!(r.memory_mb, 128);
        assert_eq!(r.max_memory_used_mb, 56);
        assert!((r.init_duration.expect("init").as_secs_f64() * 1000.0 - 130.49).abs() < 1e-9);
        let warm = parse_report("REPORT RequestId: x\tDuration: 2.00 ms\tBilled Duration: 2 ms\tMemory Size: 1024 MB\tMax Memory Used: 40 MB\t").expect("warm");
        assert!(warm.init_duration.is_none());
    }

    #[test]
    fn parses_snapstart_and_json_reports() {
        let snap = "REPORT RequestId: a\tDuration: 2338.66 ms\tBilled Duration: 2521 ms\tMemory Size: 3009 MB\tMax Memory Used: 173 MB\tRestore Duration: 398.97 ms\tBilled Restore Duration: 182 ms";
        let r = parse_report(snap).expect("snap");
        assert_eq!(r.billed_ms, 2521 + 182);
        assert!((r.init_duration.expect("restore").as_secs_f64() * 1000.0 - 398.97).abs() < 1e-9);
        let json = r#"{"time":"2024-02-01T00:00:00Z","type":"platform.report","record":{"requestId":"a","metrics":{"durationMs":12.5,"billedDurationMs":13,"memorySizeMB":512,"maxMemoryUsedMB":70,"initDurationMs":100.25}}}"#;
        let r = parse_report(json).expect("json");
        assert_eq!(r.billed_ms, 13);
        assert_eq!(r.memory_mb, 512);
        assert!(r.init_duration.is_some());
        assert!(parse_report("no report here").is_none());
    }
}
