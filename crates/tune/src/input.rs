//! The tuner's input: the anchor's keys (aws-lambda-power-tuning's execution input), with
//! the same rules, plus ledge's own additions; validated once into a [`Plan`].

use std::path::PathBuf;

use bytes::Bytes;
use ledge_model::{FunctionName, MemoryMb};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::TuneError;

/// The anchor's deploy-time default `PowerValues`.
pub const DEFAULT_POWER_VALUES: [u32; 6] = [128, 256, 512, 1024, 1536, 3008];

/// `powerValues`: a list, or `"ALL"`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum PowerValues {
    List(Vec<u32>),
    Word(String),
}

/// The execution input, with the anchor's key names. Every key is optional here so that a
/// file and command-line flags can be merged; [`TuneInput::plan`] applies the rules.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TuneInput {
    /// Accepted for compatibility; the function's name is taken from it when no name is
    /// given. Qualified ARNs are accepted too (the anchor rejects them, issue #166).
    #[serde(rename = "lambdaARN", skip_serializing_if = "Option::is_none")]
    pub lambda_arn: Option<String>,
    pub num: Option<u32>,
    pub power_values: Option<PowerValues>,
    pub payload: Option<Value>,
    /// The anchor reads `s3://bucket/key`; ledge reads a local file (path or `file://`).
    #[serde(rename = "payloadS3")]
    pub payload_s3: Option<String>,
    /// A local file holding the payload (JSON; weighted payloads too).
    pub payload_file: Option<PathBuf>,
    pub parallel_invocation: Option<bool>,
    pub strategy: Option<String>,
    pub balanced_weight: Option<f64>,
    pub auto_optimize: Option<bool>,
    pub auto_optimize_alias: Option<String>,
    pub dry_run: Option<bool>,
    #[serde(rename = "preProcessorARN")]
    pub pre_processor_arn: Option<String>,
    #[serde(rename = "postProcessorARN")]
    pub post_processor_arn: Option<String>,
    pub discard_top_bottom: Option<f64>,
    /// Non-numeric values become 0, as in the anchor.
    pub sleep_between_runs_ms: Option<Value>,
    pub only_cold_starts: Option<bool>,
    pub include_output_results: Option<bool>,
    pub disable_payload_logs: Option<bool>,
    pub allowed_exceptions: Option<Vec<String>>,
    // ---- ledge's additions ----
    /// Seed of every random choice (interleaving order, bootstrap).
    pub seed: Option<u64>,
    /// Discarded warm-up invocations per size, after the cold start (default 2).
    pub warmup: Option<u32>,
    /// Cold starts measured per size as their own population (default 1; `num` with
    /// `onlyColdStarts`).
    pub cold_starts: Option<u32>,
    /// Relative tolerance under which two sizes' costs (or durations) count as tied
    /// (default 0.02).
    pub tie_tolerance: Option<f64>,
    /// Adaptive sampling: keep sampling a size until its mean's 95% CI half-width is under
    /// this fraction of the mean…
    pub target_ci: Option<f64>,
    /// …or it has this many samples.
    pub max_invocations: Option<u32>,
    /// Put a `lambda-power-tuning.show` link in `stateMachine.visualization` and the report.
    pub share: Option<bool>,
}

/// How the winner is chosen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Strategy {
    Cost,
    Speed,
    Balanced,
}

impl Strategy {
    pub fn as_str(self) -> &'static str {
        match self {
            Strategy::Cost => "cost",
            Strategy::Speed => "speed",
            Strategy::Balanced => "balanced",
        }
    }
}

/// One payload class of a weighted payload.
#[derive(Debug, Clone, PartialEq)]
pub struct PayloadClass {
    pub payload: Bytes,
    pub weight: f64,
    /// Invocations of this class per size (`floor(w·num/Σw)`, the last takes the rest).
    pub count: u32,
}

/// A validated run.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    pub power_values: Vec<MemoryMb>,
    pub num: u32,
    /// One class for a plain payload.
    pub payloads: Vec<PayloadClass>,
    pub weighted: bool,
    pub parallel: bool,
    pub strategy: Strategy,
    pub balanced_weight: f64,
    pub auto_optimize: bool,
    pub auto_optimize_alias: Option<String>,
    pub dry_run: bool,
    pub pre_processor: Option<FunctionName>,
    pub post_processor: Option<FunctionName>,
    pub discard_top_bottom: f64,
    pub sleep_between_runs_ms: u64,
    pub only_cold_starts: bool,
    pub include_output_results: bool,
    pub disable_payload_logs: bool,
    pub allowed_exceptions: Vec<String>,
    pub seed: u64,
    pub warmup: u32,
    pub cold_starts: u32,
    pub tie_tolerance: f64,
    pub target_ci: Option<f64>,
    pub max_invocations: u32,
    pub share: bool,
}

fn bad(msg: impl Into<String>) -> TuneError {
    TuneError::Input(msg.into())
}

/// `"ALL"`: 128 → 10240 MB in 64 MB steps (the anchor's stops at 3008, a legacy cap).
pub fn all_power_values() -> Vec<u32> {
    (128..=10_240).step_by(64).collect()
}

/// The function name inside a Lambda ARN (`arn:aws:lambda:R:A:function:NAME[:QUALIFIER]`),
/// or the text itself when it is a plain name.
pub fn function_from_arn(arn: &str) -> Result<FunctionName, TuneError> {
    let parts: Vec<&str> = arn.split(':').collect();
    let name = if parts.len() >= 7 && parts[0] == "arn" && parts[5] == "function" {
        parts[6]
    } else {
        arn
    };
    name.parse()
        .map_err(|e| bad(format!("{arn}: not a function name or ARN ({e})")))
}

/// The anchor's payload rule: a string that is valid JSON is sent as is; anything else is
/// serialized as JSON (so `"just a string"` becomes `"\"just a string\""`).
pub fn payload_bytes(v: &Value) -> Bytes {
    match v {
        Value::String(s) if serde_json::from_str::<Value>(s).is_ok() => Bytes::from(s.clone()),
        other => Bytes::from(other.to_string()),
    }
}

fn truthy(v: Option<&Value>) -> bool {
    match v {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(Value::Number(n)) => n.as_f64().is_some_and(|f| f != 0.0 && !f.is_nan()),
        Some(Value::String(s)) => !s.is_empty(),
        Some(_) => true,
    }
}

/// Whether an array is a weighted payload: non-empty, and every element has a truthy
/// `weight` and a truthy `payload` (anything else is an array-shaped payload, issue #226).
pub fn is_weighted(v: &Value) -> bool {
    match v {
        Value::Array(items) => {
            !items.is_empty()
                && items
                    .iter()
                    .all(|i| truthy(i.get("weight")) && truthy(i.get("payload")))
        }
        _ => false,
    }
}

impl TuneInput {
    /// Reads an input file (JSON with the anchor's keys).
    pub fn from_json(text: &str) -> Result<TuneInput, TuneError> {
        serde_json::from_str(text).map_err(|e| bad(format!("input: {e}")))
    }

    /// Every key set in `over` replaces the one here (command-line flags over a file).
    pub fn merge(mut self, over: TuneInput) -> TuneInput {
        macro_rules! take {
            ($($f:ident),*) => { $( if over.$f.is_some() { self.$f = over.$f; } )* };
        }
        take!(
            lambda_arn,
            num,
            power_values,
            payload,
            payload_s3,
            payload_file,
            parallel_invocation,
            strategy,
            balanced_weight,
            auto_optimize,
            auto_optimize_alias,
            dry_run,
            pre_processor_arn,
            post_processor_arn,
            discard_top_bottom,
            sleep_between_runs_ms,
            only_cold_starts,
            include_output_results,
            disable_payload_logs,
            allowed_exceptions,
            seed,
            warmup,
            cold_starts,
            tie_tolerance,
            target_ci,
            max_invocations,
            share
        );
        self
    }

    /// Applies the anchor's rules and ledge's defaults. `read_file` loads a payload file.
    pub fn plan(
        &self,
        read_file: impl Fn(&std::path::Path) -> std::io::Result<Vec<u8>>,
    ) -> Result<Plan, TuneError> {
        let dry_run = self.dry_run.unwrap_or(false);
        let num = self.num.ok_or_else(|| bad("Missing num or num below 5"))?;
        if num < 5 {
            return Err(bad("Missing num or num below 5"));
        }
        let values: Vec<u32> = match &self.power_values {
            None => DEFAULT_POWER_VALUES.to_vec(),
            Some(PowerValues::List(v)) if v.is_empty() => DEFAULT_POWER_VALUES.to_vec(),
            Some(PowerValues::List(v)) => v.clone(),
            Some(PowerValues::Word(w)) if w == "ALL" => all_power_values(),
            Some(PowerValues::Word(w)) => {
                return Err(bad(format!(
                    "powerValues {w:?} must be a list of sizes or \"ALL\""
                )))
            }
        };
        let mut power_values = Vec::new();
        for v in values {
            let m = MemoryMb::new(v).map_err(|e| bad(format!("powerValues: {e}")))?;
            if !power_values.contains(&m) {
                power_values.push(m);
            }
        }
        power_values.sort();
        let strategy = match self.strategy.as_deref().unwrap_or("cost") {
            "cost" => Strategy::Cost,
            "speed" => Strategy::Speed,
            "balanced" => Strategy::Balanced,
            other => {
                return Err(bad(format!(
                    "strategy {other:?} must be cost, speed or balanced"
                )))
            }
        };
        let only_cold_starts = self.only_cold_starts.unwrap_or(false);
        let payload_value = match (&self.payload_file, &self.payload_s3) {
            (Some(p), _) => Some(read_payload_file(p, &read_file)?),
            (None, Some(s3)) => {
                let path = match s3.strip_prefix("file://") {
                    Some(p) => PathBuf::from(p),
                    None if s3.starts_with("s3://") => {
                        return Err(bad(format!(
                            "payloadS3 {s3}: ledge reads payloads from local files; give a path (or file://PATH)"
                        )))
                    }
                    None => PathBuf::from(s3),
                };
                Some(read_payload_file(&path, &read_file)?)
            }
            (None, None) => self.payload.clone(),
        };
        let (payloads, weighted) = match &payload_value {
            Some(v) if is_weighted(v) => (weighted_classes(v, num)?, true),
            Some(v) => (
                vec![PayloadClass {
                    payload: payload_bytes(v),
                    weight: 1.0,
                    count: num,
                }],
                false,
            ),
            None => (
                vec![PayloadClass {
                    payload: Bytes::from_static(b"null"),
                    weight: 1.0,
                    count: num,
                }],
                false,
            ),
        };
        let sleep = match &self.sleep_between_runs_ms {
            Some(Value::Number(n)) => n.as_f64().filter(|f| *f > 0.0).unwrap_or(0.0) as u64,
            Some(Value::String(s)) => s
                .trim()
                .parse::<f64>()
                .ok()
                .filter(|f| *f > 0.0)
                .unwrap_or(0.0) as u64,
            _ => 0,
        };
        let processor = |a: &Option<String>| a.as_deref().map(function_from_arn).transpose();
        let target_ci = self.target_ci;
        if let Some(t) = target_ci {
            if !(t > 0.0 && t < 1.0) {
                return Err(bad("targetCi must be between 0 and 1 (e.g. 0.02 for ±2%)"));
            }
        }
        let max_invocations = self.max_invocations.unwrap_or(if target_ci.is_some() {
            num.max(200)
        } else {
            num
        });
        if max_invocations < num {
            return Err(bad("maxInvocations must be at least num"));
        }
        Ok(Plan {
            power_values,
            num: if dry_run { 1 } else { num },
            payloads,
            weighted,
            parallel: self.parallel_invocation.unwrap_or(false),
            strategy,
            balanced_weight: self.balanced_weight.unwrap_or(0.5).clamp(0.0, 1.0),
            auto_optimize: self.auto_optimize.unwrap_or(false),
            auto_optimize_alias: self.auto_optimize_alias.clone(),
            dry_run,
            pre_processor: processor(&self.pre_processor_arn)?,
            post_processor: processor(&self.post_processor_arn)?,
            // Forced to 0 with onlyColdStarts, as in the anchor.
            discard_top_bottom: if only_cold_starts {
                0.0
            } else {
                self.discard_top_bottom.unwrap_or(0.2).clamp(0.0, 0.4)
            },
            sleep_between_runs_ms: sleep,
            only_cold_starts,
            include_output_results: self.include_output_results.unwrap_or(false),
            disable_payload_logs: self.disable_payload_logs.unwrap_or(false),
            allowed_exceptions: self.allowed_exceptions.clone().unwrap_or_default(),
            seed: self.seed.unwrap_or(0x1ed9e),
            warmup: if only_cold_starts {
                0
            } else {
                self.warmup.unwrap_or(2)
            },
            cold_starts: if only_cold_starts {
                num
            } else {
                self.cold_starts.unwrap_or(1)
            },
            tie_tolerance: self.tie_tolerance.unwrap_or(0.02).clamp(0.0, 0.5),
            target_ci,
            max_invocations: if dry_run { 1 } else { max_invocations },
            share: self.share.unwrap_or(false),
        })
    }
}

fn read_payload_file(
    path: &std::path::Path,
    read_file: &impl Fn(&std::path::Path) -> std::io::Result<Vec<u8>>,
) -> Result<Value, TuneError> {
    let bytes = read_file(path)
        .map_err(|e| bad(format!("cannot read payload file {}: {e}", path.display())))?;
    // A file that is JSON is parsed (so weighted payloads work); other text is a string.
    Ok(serde_json::from_slice(&bytes)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned())))
}

/// The anchor's weighted split: `floor(w_i·num/Σw)` each, the last takes the remainder;
/// an error when any class would get none or `num` is smaller than the class count.
fn weighted_classes(v: &Value, num: u32) -> Result<Vec<PayloadClass>, TuneError> {
    let items = v.as_array().map(Vec::as_slice).unwrap_or_default();
    if (num as usize) < items.len() {
        return Err(bad("Invalid payload weight (num is too small)"));
    }
    let weights: Vec<f64> = items
        .iter()
        .map(|i| i.get("weight").and_then(Value::as_f64).unwrap_or(0.0))
        .collect();
    let total: f64 = weights.iter().sum();
    if total <= 0.0 {
        return Err(bad("payload weights must be positive numbers"));
    }
    let mut out = Vec::new();
    let mut done = 0u32;
    for (i, item) in items.iter().enumerate() {
        let count = if i + 1 == items.len() {
            num - done
        } else {
            (weights[i] * f64::from(num) / total).floor() as u32
        };
        if count < 1 {
            return Err(bad("Invalid payload weight (num is too small)"));
        }
        done += count;
        out.push(PayloadClass {
            payload: payload_bytes(item.get("payload").unwrap_or(&Value::Null)),
            weight: weights[i],
            count,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn plan(v: Value) -> Result<Plan, TuneError> {
        TuneInput::from_json(&v.to_string())?.plan(|_| Ok(b"{\"file\":1}".to_vec()))
    }

    #[test]
    fn num_must_be_at_least_5() {
        assert!(plan(json!({"num": 4})).is_err());
        assert!(plan(json!({})).is_err());
        let p = plan(json!({"num": 5})).expect("plan");
        assert_eq!(
            p.power_values.iter().map(|m| m.get()).collect::<Vec<_>>(),
            DEFAULT_POWER_VALUES
        );
        assert_eq!(p.strategy, Strategy::Cost);
        assert_eq!(p.discard_top_bottom, 0.2);
        assert_eq!(p.balanced_weight, 0.5);
    }

    #[test]
    fn all_is_128_to_10240_in_64_mb_steps() {
        let p = plan(json!({"num": 5, "powerValues": "ALL"})).expect("plan");
        assert_eq!(p.power_values.len(), 159);
        assert_eq!(p.power_values[0].get(), 128);
        assert_eq!(p.power_values.last().map(|m| m.get()), Some(10_240));
        assert!(plan(json!({"num": 5, "powerValues": "SOME"})).is_err());
        assert!(plan(json!({"num": 5, "powerValues": [64]})).is_err());
    }

    #[test]
    fn clamps_and_unknown_strategy() {
        let p =
            plan(json!({"num": 10, "discardTopBottom": 0.9, "balancedWeight": 3})).expect("plan");
        assert_eq!(p.discard_top_bottom, 0.4);
        assert_eq!(p.balanced_weight, 1.0);
        assert!(plan(json!({"num": 10, "strategy": "cheapest"})).is_err());
        let p = plan(json!({"num": 10, "onlyColdStarts": true, "discardTopBottom": 0.3}))
            .expect("plan");
        assert_eq!(p.discard_top_bottom, 0.0);
        assert_eq!(p.cold_starts, 10);
        assert!(plan(json!({"num": 10, "unknownKey": 1})).is_err());
    }

    #[test]
    fn payload_rules_match_the_anchor() {
        let p = plan(json!({"num": 5, "payload": "just a string"})).expect("plan");
        assert_eq!(
            p.payloads[0].payload,
            Bytes::from_static(b"\"just a string\"")
        );
        let p = plan(json!({"num": 5, "payload": "{\"a\":1}"})).expect("plan");
        assert_eq!(p.payloads[0].payload, Bytes::from_static(b"{\"a\":1}"));
        // An array without weights is an array-shaped payload (issue #226).
        let p = plan(json!({"num": 5, "payload": [{"a": 1}, {"b": 2}]})).expect("plan");
        assert!(!p.weighted);
        assert_eq!(
            p.payloads[0].payload,
            Bytes::from_static(b"[{\"a\":1},{\"b\":2}]")
        );
        let p = plan(json!({"num": 5, "payloadFile": "/x.json"})).expect("plan");
        assert_eq!(p.payloads[0].payload, Bytes::from_static(b"{\"file\":1}"));
        assert!(plan(json!({"num": 5, "payloadS3": "s3://b/k"})).is_err());
    }

    #[test]
    fn weighted_payloads_split_like_the_anchor() {
        let p = plan(json!({"num": 10, "payload": [
            {"payload": {"n": 1}, "weight": 5},
            {"payload": {"n": 2}, "weight": 3},
            {"payload": {"n": 3}, "weight": 2}
        ]}))
        .expect("plan");
        assert!(p.weighted);
        assert_eq!(
            p.payloads.iter().map(|c| c.count).collect::<Vec<_>>(),
            vec![5, 3, 2]
        );
        // 7 × 1/3 = 2.33 → 2, 2, last takes 3.
        let p = plan(json!({"num": 7, "payload": [
            {"payload": 1, "weight": 1}, {"payload": 2, "weight": 1}, {"payload": 3, "weight": 1}
        ]}))
        .expect("plan");
        assert_eq!(
            p.payloads.iter().map(|c| c.count).collect::<Vec<_>>(),
            vec![2, 2, 3]
        );
        // A class that would get no invocation is an error.
        assert!(plan(json!({"num": 5, "payload": [
            {"payload": 1, "weight": 1}, {"payload": 2, "weight": 100}
        ]}))
        .is_err());
    }

    #[test]
    fn sleep_and_dry_run_and_arns() {
        let p = plan(json!({"num": 5, "sleepBetweenRunsMs": "abc", "dryRun": true})).expect("plan");
        assert_eq!(p.sleep_between_runs_ms, 0);
        assert_eq!(p.num, 1);
        let p = plan(json!({"num": 5, "sleepBetweenRunsMs": 25})).expect("plan");
        assert_eq!(p.sleep_between_runs_ms, 25);
        let f = function_from_arn("arn:aws:lambda:us-east-1:123456789012:function:Pre:live")
            .expect("arn");
        assert_eq!(f.as_str(), "Pre");
        assert_eq!(function_from_arn("Plain").expect("name").as_str(), "Plain");
    }

    #[test]
    fn flags_override_the_file() {
        let file = TuneInput::from_json(r#"{"num": 10, "strategy": "speed"}"#).expect("file");
        let flags = TuneInput {
            num: Some(20),
            ..TuneInput::default()
        };
        let m = file.merge(flags);
        assert_eq!(m.num, Some(20));
        assert_eq!(m.strategy.as_deref(), Some("speed"));
    }
}
