//! Identifiers and units, validated once when they enter the system.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// The account id ledge reports in ARNs unless configured otherwise.
pub const DEFAULT_ACCOUNT_ID: &str = "123456789012";
/// The region ledge reports unless configured otherwise.
pub const DEFAULT_REGION: &str = "us-east-1";

/// A value that failed validation, with AWS-style wording of the constraint.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{what} {value:?} {constraint}")]
pub struct InvalidValue {
    pub what: &'static str,
    pub value: String,
    pub constraint: String,
}

impl InvalidValue {
    fn new(what: &'static str, value: impl Into<String>, constraint: impl Into<String>) -> Self {
        Self {
            what,
            value: value.into(),
            constraint: constraint.into(),
        }
    }
}

/// A Lambda function name: 1–64 characters of `[a-zA-Z0-9-_]`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct FunctionName(String);

impl FunctionName {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for FunctionName {
    type Err = InvalidValue;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s.is_empty() || s.len() > 64 {
            return Err(InvalidValue::new(
                "function name",
                s,
                "must have length between 1 and 64",
            ));
        }
        if !s
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        {
            return Err(InvalidValue::new(
                "function name",
                s,
                "must satisfy regular expression pattern: [a-zA-Z0-9-_]+",
            ));
        }
        Ok(Self(s.to_owned()))
    }
}

impl TryFrom<String> for FunctionName {
    type Error = InvalidValue;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

impl From<FunctionName> for String {
    fn from(n: FunctionName) -> String {
        n.0
    }
}

impl fmt::Display for FunctionName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Memory size in MB, 128..=10240 as standard Lambda functions allow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "u32", into = "u32")]
pub struct MemoryMb(u32);

impl MemoryMb {
    pub const MIN: u32 = 128;
    pub const MAX: u32 = 10_240;
    /// The memory size at which a function gets one full vCPU.
    pub const ONE_VCPU: u32 = 1_769;
    pub const DEFAULT: MemoryMb = MemoryMb(128);

    pub fn new(mb: u32) -> Result<Self, InvalidValue> {
        if (Self::MIN..=Self::MAX).contains(&mb) {
            Ok(Self(mb))
        } else {
            Err(InvalidValue::new(
                "MemorySize",
                mb.to_string(),
                "must be between 128 and 10240 MB",
            ))
        }
    }

    pub fn get(self) -> u32 {
        self.0
    }

    pub fn bytes(self) -> u64 {
        u64::from(self.0) * 1024 * 1024
    }

    /// The share of CPU time Lambda grants at this size: `memory / 1769` cores, at most 6.
    pub fn vcpus(self) -> f64 {
        (f64::from(self.0) / f64::from(Self::ONE_VCPU)).min(6.0)
    }
}

impl TryFrom<u32> for MemoryMb {
    type Error = InvalidValue;
    fn try_from(v: u32) -> Result<Self, Self::Error> {
        Self::new(v)
    }
}

impl From<MemoryMb> for u32 {
    fn from(m: MemoryMb) -> u32 {
        m.0
    }
}

impl fmt::Display for MemoryMb {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// Function timeout in seconds, 1..=900 (default 3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "u32", into = "u32")]
pub struct TimeoutSecs(u32);

impl TimeoutSecs {
    pub const DEFAULT: TimeoutSecs = TimeoutSecs(3);
    pub const MAX: u32 = 900;

    pub fn new(s: u32) -> Result<Self, InvalidValue> {
        if (1..=Self::MAX).contains(&s) {
            Ok(Self(s))
        } else {
            Err(InvalidValue::new(
                "Timeout",
                s.to_string(),
                "must be between 1 and 900 seconds",
            ))
        }
    }

    pub fn get(self) -> u32 {
        self.0
    }

    pub fn duration(self) -> std::time::Duration {
        std::time::Duration::from_secs(u64::from(self.0))
    }
}

impl TryFrom<u32> for TimeoutSecs {
    type Error = InvalidValue;
    fn try_from(v: u32) -> Result<Self, Self::Error> {
        Self::new(v)
    }
}

impl From<TimeoutSecs> for u32 {
    fn from(t: TimeoutSecs) -> u32 {
        t.0
    }
}

/// A request id: a random UUID, as Lambda issues them.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct RequestId(String);

impl RequestId {
    pub fn new_random() -> Self {
        Self(uuid::Uuid::new_v4().to_string())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl From<String> for RequestId {
    fn from(s: String) -> Self {
        Self(s)
    }
}

impl fmt::Display for RequestId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Instruction set of a function.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
pub enum Architecture {
    #[default]
    #[serde(rename = "x86_64")]
    X86_64,
    #[serde(rename = "arm64")]
    Arm64,
}

impl Architecture {
    pub fn as_str(self) -> &'static str {
        match self {
            Architecture::X86_64 => "x86_64",
            Architecture::Arm64 => "arm64",
        }
    }
}

impl FromStr for Architecture {
    type Err = InvalidValue;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "x86_64" => Ok(Self::X86_64),
            "arm64" => Ok(Self::Arm64),
            _ => Err(InvalidValue::new(
                "Architectures",
                s,
                "must satisfy enum value set: [x86_64, arm64]",
            )),
        }
    }
}

/// A Lambda runtime identifier.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum Runtime {
    /// `python3.X`, holding the minor version.
    Python(u32),
    /// `nodejsNN.x`, holding the major version.
    NodeJs(u32),
    /// `provided`, `provided.al2`, `provided.al2023`.
    Provided(ProvidedFlavor),
}

/// The flavours of the OS-only runtime.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ProvidedFlavor {
    Al1,
    Al2,
    Al2023,
}

impl Runtime {
    pub fn is_python(&self) -> bool {
        matches!(self, Runtime::Python(_))
    }

    pub fn is_provided(&self) -> bool {
        matches!(self, Runtime::Provided(_))
    }
}

impl fmt::Display for Runtime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Runtime::Python(minor) => write!(f, "python3.{minor}"),
            Runtime::NodeJs(major) => write!(f, "nodejs{major}.x"),
            Runtime::Provided(ProvidedFlavor::Al1) => f.write_str("provided"),
            Runtime::Provided(ProvidedFlavor::Al2) => f.write_str("provided.al2"),
            Runtime::Provided(ProvidedFlavor::Al2023) => f.write_str("provided.al2023"),
        }
    }
}

impl FromStr for Runtime {
    type Err = InvalidValue;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || {
            InvalidValue::new(
                "Runtime",
                s,
                "must be one of python3.x, nodejsNN.x, provided, provided.al2, provided.al2023",
            )
        };
        match s {
            "provided" => return Ok(Runtime::Provided(ProvidedFlavor::Al1)),
            "provided.al2" => return Ok(Runtime::Provided(ProvidedFlavor::Al2)),
            "provided.al2023" => return Ok(Runtime::Provided(ProvidedFlavor::Al2023)),
            _ => {}
        }
        if let Some(minor) = s.strip_prefix("python3.") {
            return minor.parse().map(Runtime::Python).map_err(|_| bad());
        }
        if let Some(major) = s.strip_prefix("nodejs").and_then(|r| r.strip_suffix(".x")) {
            return major.parse().map(Runtime::NodeJs).map_err(|_| bad());
        }
        Err(bad())
    }
}

impl TryFrom<String> for Runtime {
    type Error = InvalidValue;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

impl From<Runtime> for String {
    fn from(r: Runtime) -> String {
        r.to_string()
    }
}

/// `NAME` of a function named by `NAME`, `arn:aws:lambda:R:A:function:NAME[:QUALIFIER]` or
/// `A:function:NAME[:QUALIFIER]` (the forms Lambda accepts as a `FunctionName`).
pub fn function_name_of(f: &str) -> &str {
    match f.split_once(":function:") {
        Some((_, rest)) => rest.split(':').next().unwrap_or(rest),
        None => f,
    }
}

/// An Amazon Resource Name, kept as text; helpers build the shapes ledge emits.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Arn(String);

impl Arn {
    pub fn function(region: &str, account: &str, name: &FunctionName) -> Self {
        Self(format!("arn:aws:lambda:{region}:{account}:function:{name}"))
    }

    pub fn function_qualified(
        region: &str,
        account: &str,
        name: &FunctionName,
        qualifier: &str,
    ) -> Self {
        Self(format!(
            "arn:aws:lambda:{region}:{account}:function:{name}:{qualifier}"
        ))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl From<String> for Arn {
    fn from(s: String) -> Self {
        Self(s)
    }
}

impl fmt::Display for Arn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn function_names_from_arns() {
        assert_eq!(function_name_of("Fn"), "Fn");
        assert_eq!(
            function_name_of("arn:aws:lambda:us-east-1:123456789012:function:Fn"),
            "Fn"
        );
        assert_eq!(
            function_name_of("arn:aws:lambda:us-east-1:123456789012:function:Fn:live"),
            "Fn"
        );
        assert_eq!(function_name_of("123456789012:function:Fn:7"), "Fn");
    }

    #[test]
    fn function_names_follow_lambda_rules() {
        assert!("Hello_World-1".parse::<FunctionName>().is_ok());
        assert!("".parse::<FunctionName>().is_err());
        assert!("a".repeat(65).parse::<FunctionName>().is_err());
        assert!("has space".parse::<FunctionName>().is_err());
    }

    #[test]
    fn memory_bounds_and_cpu_share() {
        assert!(MemoryMb::new(127).is_err());
        assert!(MemoryMb::new(10_241).is_err());
        let m = MemoryMb::new(1769).expect("valid");
        assert!((m.vcpus() - 1.0).abs() < 1e-9);
        assert!((MemoryMb::new(10_240).expect("valid").vcpus() - 5.788).abs() < 0.01);
        assert!((MemoryMb::new(128).expect("valid").vcpus() - 0.0724).abs() < 0.001);
    }

    #[test]
    fn runtimes_round_trip() {
        for s in [
            "python3.12",
            "python3.9",
            "nodejs20.x",
            "provided",
            "provided.al2",
            "provided.al2023",
        ] {
            assert_eq!(s.parse::<Runtime>().expect(s).to_string(), s);
        }
        assert!("python2.7".parse::<Runtime>().is_err());
        assert!("java21".parse::<Runtime>().is_err());
    }
}
