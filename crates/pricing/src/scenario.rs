//! What to price: a month of usage, from flags, a YAML file or ledge's own metrics.

use serde::{Deserialize, Serialize};

use crate::{Arch, PricingError};

/// How a function's billed duration is derived.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DurationMode {
    /// The sum of per-invocation ceilings when it is known (what AWS bills), else the
    /// average rounded up, times the count.
    #[default]
    PerInvocation,
    /// The average duration rounded up to 1 ms, times the count: what the AWS Pricing
    /// Calculator does.
    Average,
}

/// A month of usage to price.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    /// Apply Lambda's always-free tier (1M requests, 400,000 GB-s a month).
    #[serde(default = "yes")]
    pub free_tier: bool,
    /// Apply API Gateway's 12-month free tier (new customers only).
    #[serde(default)]
    pub api_gateway_free_tier: bool,
    #[serde(default)]
    pub duration_mode: DurationMode,
    #[serde(default)]
    pub functions: Vec<FunctionUsage>,
    #[serde(default)]
    pub edge_functions: Vec<EdgeUsage>,
    #[serde(default)]
    pub apis: Vec<ApiUsage>,
    #[serde(default)]
    pub cdn: Vec<CdnUsage>,
    /// Lines to carry into the bill's notes (e.g. how metrics were extrapolated).
    #[serde(default)]
    pub notes: Vec<String>,
}

fn yes() -> bool {
    true
}

fn default_ephemeral() -> u32 {
    512
}

impl Default for Scenario {
    fn default() -> Self {
        Self {
            free_tier: true,
            api_gateway_free_tier: false,
            duration_mode: DurationMode::default(),
            functions: Vec::new(),
            edge_functions: Vec::new(),
            apis: Vec::new(),
            cdn: Vec::new(),
            notes: Vec::new(),
        }
    }
}

/// One Lambda function's month.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FunctionUsage {
    #[serde(default)]
    pub name: Option<String>,
    /// Invocations (requests) in the month.
    pub invocations: f64,
    /// Average duration of one invocation, ms.
    pub duration_ms: f64,
    /// The sum of per-invocation billed ms, when known (measured).
    #[serde(default)]
    pub billed_ms_total: Option<f64>,
    pub memory_mb: u32,
    #[serde(default = "x86")]
    pub architecture: Arch,
    #[serde(default = "default_ephemeral")]
    pub ephemeral_storage_mb: u32,
    /// Init (cold start) time billed in the month, ms, beyond `billed_ms_total`.
    #[serde(default)]
    pub init_ms_total: f64,
    #[serde(default)]
    pub provisioned: Option<ProvisionedUsage>,
}

fn x86() -> Arch {
    Arch::X86_64
}

/// Provisioned Concurrency for one function.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProvisionedUsage {
    pub concurrency: f64,
    /// Hours enabled in the month (billed in 5-minute steps).
    pub hours: f64,
    /// Invocations served by the provisioned environments (default: all of them).
    #[serde(default)]
    pub invocations: Option<f64>,
}

/// One Lambda@Edge function's month.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EdgeUsage {
    #[serde(default)]
    pub name: Option<String>,
    pub invocations: f64,
    pub duration_ms: f64,
    #[serde(default = "edge_memory")]
    pub memory_mb: u32,
}

fn edge_memory() -> u32 {
    128
}

/// The kinds of API Gateway API.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ApiKind {
    Http,
    Rest,
    Websocket,
}

impl ApiKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ApiKind::Http => "HTTP API",
            ApiKind::Rest => "REST API",
            ApiKind::Websocket => "WebSocket API",
        }
    }
}

impl std::str::FromStr for ApiKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "http" => Ok(ApiKind::Http),
            "rest" => Ok(ApiKind::Rest),
            "websocket" => Ok(ApiKind::Websocket),
            _ => Err(format!("API type {s:?} must be http, rest or websocket")),
        }
    }
}

/// One API's month.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApiUsage {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(rename = "type")]
    pub kind: ApiKind,
    /// Requests (or WebSocket messages) in the month.
    pub requests: f64,
    /// Average request (message) size in KB, for metering (HTTP: 512 KB steps).
    #[serde(default)]
    pub request_kb: Option<f64>,
    /// REST stage cache size in GB (0.5, 1.6, 6.1, 13.5, 28.4, 58.2, 118, 237).
    #[serde(default)]
    pub cache_size_gb: Option<f64>,
    /// Hours the cache is provisioned (default: the whole month, 730).
    #[serde(default)]
    pub cache_hours: Option<f64>,
    /// WebSocket connection minutes.
    #[serde(default)]
    pub connection_minutes: f64,
    /// Data transferred out to the internet, GB.
    #[serde(default)]
    pub data_transfer_out_gb: f64,
}

/// CloudFront traffic served from one geographic region.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CdnUsage {
    /// `us`, `europe`, `middle-east`, `south-america`, `japan`, `australia`,
    /// `asia-pacific`, `india`.
    #[serde(default = "us")]
    pub region: String,
    #[serde(default)]
    pub data_transfer_gb: f64,
    #[serde(default)]
    pub https_requests: f64,
    #[serde(default)]
    pub http_requests: f64,
    #[serde(default)]
    pub origin_transfer_gb: f64,
    #[serde(default)]
    pub invalidation_paths: f64,
    #[serde(default)]
    pub function_invocations: f64,
}

fn us() -> String {
    "us".to_owned()
}

impl Scenario {
    /// Reads a scenario from YAML (or JSON) text.
    pub fn from_yaml(text: &str) -> Result<Scenario, PricingError> {
        let value = crate::yaml::to_json(text).map_err(PricingError::Scenario)?;
        serde_json::from_value(value).map_err(|e| PricingError::Scenario(e.to_string()))
    }

    /// Checks what serde cannot: positive quantities, memory bounds, known regions.
    pub fn validate(&self) -> Result<(), PricingError> {
        let bad = |m: String| Err(PricingError::Scenario(m));
        for f in &self.functions {
            if !(128..=10_240).contains(&f.memory_mb) {
                return bad(format!("memory_mb {} must be 128..10240", f.memory_mb));
            }
            if !(512..=10_240).contains(&f.ephemeral_storage_mb) {
                return bad(format!(
                    "ephemeral_storage_mb {} must be 512..10240",
                    f.ephemeral_storage_mb
                ));
            }
            if f.invocations < 0.0 || f.duration_ms < 0.0 || f.init_ms_total < 0.0 {
                return bad("invocations and durations must not be negative".into());
            }
        }
        for e in &self.edge_functions {
            if !(128..=10_240).contains(&e.memory_mb) || e.invocations < 0.0 {
                return bad("edge functions need 128..10240 MB and non-negative counts".into());
            }
        }
        for a in &self.apis {
            if a.requests < 0.0 {
                return bad("API requests must not be negative".into());
            }
        }
        Ok(())
    }
}
