//! `ledge.toml`: settings that live beside the template (or in `--config FILE`) rather than
//! on the command line. Two sections today:
//!
//! ```toml
//! [edge]
//! home = "FRA"                    # a POP / city code, or "lat,lon"
//! origin = "IAD"                  # where the origins are (latency model); default us-east-1
//! pops = ["FRA", "IAD", { code = "MAD", lat = 40.47, lon = -3.56, city = "Madrid" }]
//! latency = true                  # each hop sleeps its simulated round trip
//! server_timing = true            # Server-Timing on every response
//! pop_capacity_mb = 256
//! regional_capacity_mb = 1024
//! [edge.buckets]                  # S3 bucket name -> folder (relative to this file)
//! my-site = "static"
//! [edge.clients]                  # client address -> viewer location
//! "127.0.0.2" = "NRT"
//! [edge.lambda_edge]              # Lambda@Edge quotas (CloudFront's classic values by default)
//! viewer_memory_mb = 128
//! viewer_timeout_s = 5
//! origin_memory_mb = 10240
//! origin_timeout_s = 30
//! viewer_response_bytes = 40960   # generated / updated response, headers + body
//! origin_response_bytes = 1048576
//! viewer_body_bytes = 40960       # IncludeBody truncation
//! origin_body_bytes = 1048576
//!
//! [aws.endpoints]                 # for REST APIs' AWS integrations, below AWS_ENDPOINT_URL*
//! dynamodb = "http://127.0.0.1:8000"
//! default = "http://127.0.0.1:4566"
//! ```
//!
//! Unknown keys are errors (exit 2) naming the key, so a typo never silently does nothing.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use ledge_edge::{EdgeConfig, GeoPoint, Pop};
use serde::Deserialize;

use crate::AppError;

/// The file ledge looks for beside the template.
pub const CONFIG_FILE: &str = "ledge.toml";

/// A parsed `ledge.toml`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LedgeConfig {
    #[serde(default)]
    pub edge: EdgeSection,
    #[serde(default)]
    pub aws: AwsSection,
    /// The folder relative paths are resolved against (the file's own).
    #[serde(skip)]
    pub base_dir: PathBuf,
}

/// `[edge]`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EdgeSection {
    pub home: Option<String>,
    pub origin: Option<String>,
    pub pops: Option<Vec<PopEntry>>,
    pub latency: Option<bool>,
    pub server_timing: Option<bool>,
    pub pop_capacity_mb: Option<u64>,
    pub regional_capacity_mb: Option<u64>,
    #[serde(default)]
    pub buckets: BTreeMap<String, PathBuf>,
    #[serde(default)]
    pub clients: BTreeMap<String, String>,
    #[serde(default)]
    pub lambda_edge: LambdaEdgeSection,
}

/// `[edge.lambda_edge]`: Lambda@Edge quotas; each unset key keeps CloudFront's value.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LambdaEdgeSection {
    pub viewer_memory_mb: Option<u32>,
    pub viewer_timeout_s: Option<u32>,
    pub origin_memory_mb: Option<u32>,
    pub origin_timeout_s: Option<u32>,
    pub viewer_response_bytes: Option<usize>,
    pub origin_response_bytes: Option<usize>,
    pub viewer_body_bytes: Option<usize>,
    pub origin_body_bytes: Option<usize>,
}

impl LambdaEdgeSection {
    fn apply(&self, q: &mut ledge_edge::lambda_edge::Quotas) {
        let set_u32 = |v: Option<u32>, slot: &mut u32| {
            if let Some(v) = v {
                *slot = v;
            }
        };
        set_u32(self.viewer_memory_mb, &mut q.viewer_memory_mb);
        set_u32(self.viewer_timeout_s, &mut q.viewer_timeout_s);
        set_u32(self.origin_memory_mb, &mut q.origin_memory_mb);
        set_u32(self.origin_timeout_s, &mut q.origin_timeout_s);
        let set = |v: Option<usize>, slot: &mut usize| {
            if let Some(v) = v {
                *slot = v;
            }
        };
        set(self.viewer_response_bytes, &mut q.viewer_response_bytes);
        set(self.origin_response_bytes, &mut q.origin_response_bytes);
        set(self.viewer_body_bytes, &mut q.viewer_body_bytes);
        set(self.origin_body_bytes, &mut q.origin_body_bytes);
    }
}

/// One of `[edge] pops`: a code from the default or known list, or a table.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum PopEntry {
    Code(String),
    Custom(CustomPop),
}

/// `{ code = "MAD", lat = 40.47, lon = -3.56, city = "Madrid" }`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CustomPop {
    pub code: String,
    pub lat: f64,
    pub lon: f64,
    pub city: Option<String>,
    /// What `X-Amz-Cf-Pop` shows (default `<CODE>50-C1`).
    pub id: Option<String>,
    /// ISO 3166-1 alpha-2 (default empty).
    pub country: Option<String>,
}

/// `[aws]`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AwsSection {
    /// Service name (or `default`) → endpoint URL.
    #[serde(default)]
    pub endpoints: BTreeMap<String, String>,
}

impl LedgeConfig {
    /// Reads and checks a `ledge.toml`.
    pub fn load(path: &Path) -> Result<Self, AppError> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            AppError::Usage(format!(
                "cannot read the config file {}: {e}",
                path.display()
            ))
        })?;
        let mut cfg = Self::parse(&text)
            .map_err(|e| AppError::Usage(format!("{}: {}", path.display(), e.trim_end())))?;
        cfg.base_dir = path
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."))
            .to_path_buf();
        Ok(cfg)
    }

    /// Parses the text of a `ledge.toml` (errors name the key and the line).
    pub fn parse(text: &str) -> Result<Self, String> {
        let cfg: LedgeConfig = toml::from_str(text).map_err(|e| e.to_string())?;
        for (k, v) in &cfg.aws.endpoints {
            if !(v.starts_with("http://") || v.starts_with("https://")) {
                return Err(format!(
                    "[aws.endpoints] {k} = {v:?}: an endpoint is an http:// or https:// URL"
                ));
            }
        }
        Ok(cfg)
    }

    /// The config file for a template: `explicit`, else `ledge.toml` beside the template.
    pub fn find(
        explicit: Option<&Path>,
        template: Option<&Path>,
    ) -> Result<Option<Self>, AppError> {
        if let Some(p) = explicit {
            return Self::load(p).map(Some);
        }
        let beside = template
            .and_then(Path::parent)
            .map(|d| {
                if d.as_os_str().is_empty() {
                    Path::new(".")
                } else {
                    d
                }
            })
            .unwrap_or(Path::new("."))
            .join(CONFIG_FILE);
        if template.is_some() && beside.is_file() {
            return Self::load(&beside).map(Some);
        }
        Ok(None)
    }

    /// `[aws.endpoints]` as (services, default).
    pub fn aws_endpoints(&self) -> (BTreeMap<String, String>, Option<String>) {
        let mut services = self.aws.endpoints.clone();
        let default = services.remove("default");
        (services, default)
    }

    /// Applies `[edge]` to an edge configuration.
    pub fn apply_edge(&self, cfg: &mut EdgeConfig) -> Result<(), AppError> {
        let e = &self.edge;
        let bad = |m: String| AppError::Usage(format!("ledge.toml [edge]: {m}"));
        if let Some(pops) = &e.pops {
            if pops.is_empty() {
                return Err(bad("pops: at least one edge location is required".into()));
            }
            let defaults = ledge_edge::default_pops();
            let mut out: Vec<Pop> = Vec::new();
            for p in pops {
                let pop = match p {
                    PopEntry::Code(code) => {
                        let upper = code.to_ascii_uppercase();
                        match defaults.iter().find(|d| d.code == upper) {
                            Some(d) => d.clone(),
                            None => {
                                let at = ledge_edge::geo::known_place(&upper).ok_or_else(|| {
                                    bad(format!(
                                        "pops: {code:?} is not a known location; use one of {} or a table {{ code, lat, lon, city }}",
                                        defaults.iter().map(|d| d.code.as_str()).collect::<Vec<_>>().join(", ")
                                    ))
                                })?;
                                Pop::new(
                                    &upper,
                                    &format!("{upper}50-C1"),
                                    &upper,
                                    "",
                                    at.lat,
                                    at.lon,
                                )
                            }
                        }
                    }
                    PopEntry::Custom(c) => {
                        if !(-90.0..=90.0).contains(&c.lat) || !(-180.0..=180.0).contains(&c.lon) {
                            return Err(bad(format!(
                                "pops: {}: lat must be within ±90 and lon within ±180",
                                c.code
                            )));
                        }
                        let code = c.code.to_ascii_uppercase();
                        Pop::new(
                            &code,
                            c.id.as_deref().unwrap_or(&format!("{code}50-C1")),
                            c.city.as_deref().unwrap_or(&code),
                            c.country.as_deref().unwrap_or(""),
                            c.lat,
                            c.lon,
                        )
                    }
                };
                if out.iter().any(|o| o.code == pop.code) {
                    return Err(bad(format!("pops: {} is listed twice", pop.code)));
                }
                out.push(pop);
            }
            cfg.pops = out;
        }
        let place = |key: &str, v: &str, cfg: &EdgeConfig| -> Result<GeoPoint, AppError> {
            locate(cfg, v).ok_or_else(|| {
                bad(format!(
                    "{key} = {v:?}: expected a POP or city code (FRA, IAD, NRT, …) or \"lat,lon\""
                ))
            })
        };
        if let Some(h) = &e.home {
            cfg.home = place("home", h, cfg)?;
        }
        if let Some(o) = &e.origin {
            cfg.origin_location = place("origin", o, cfg)?;
        }
        if let Some(l) = e.latency {
            cfg.latency.enabled = l;
        }
        if let Some(s) = e.server_timing {
            cfg.server_timing = s;
        }
        if let Some(mb) = e.pop_capacity_mb {
            cfg.pop_capacity_bytes = mb.saturating_mul(1 << 20);
        }
        if let Some(mb) = e.regional_capacity_mb {
            cfg.regional_capacity_bytes = mb.saturating_mul(1 << 20);
        }
        for (name, dir) in &e.buckets {
            cfg.buckets
                .entry(name.clone())
                .or_insert_with(|| self.base_dir.join(dir));
        }
        e.lambda_edge.apply(&mut cfg.lambda_edge);
        for (addr, loc) in &e.clients {
            let ip: IpAddr = addr
                .parse()
                .map_err(|_| bad(format!("clients: {addr:?} is not an IP address")))?;
            place(&format!("clients.{addr:?}"), loc, cfg)?;
            cfg.client_locations.insert(ip, loc.clone());
        }
        Ok(())
    }
}

/// A POP code of `cfg`, a known city code, or `lat,lon`.
fn locate(cfg: &EdgeConfig, v: &str) -> Option<GeoPoint> {
    let v = v.trim();
    cfg.pops
        .iter()
        .find(|p| p.code.eq_ignore_ascii_case(v))
        .map(|p| p.at)
        .or_else(|| ledge_edge::geo::known_place(v))
        .or_else(|| GeoPoint::parse(v))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn full_file_applies_to_the_edge() {
        let cfg = LedgeConfig::parse(
            r#"
[edge]
home = "NRT"
origin = "50.0,8.5"
pops = ["FRA", "MAD", { code = "xyz", lat = 1.5, lon = 2.5, city = "Nowhere" }]
latency = true
pop_capacity_mb = 8
[edge.buckets]
site = "static"
[edge.clients]
"127.0.0.2" = "SYD"
[edge.lambda_edge]
viewer_timeout_s = 10
origin_response_bytes = 2048
[aws.endpoints]
dynamodb = "http://127.0.0.1:8000"
default = "http://127.0.0.1:4566"
"#,
        )
        .expect("parses");
        let mut edge = EdgeConfig::default();
        let cfg = LedgeConfig {
            base_dir: PathBuf::from("/srv/app"),
            ..cfg
        };
        cfg.apply_edge(&mut edge).expect("applies");
        let codes: Vec<&str> = edge.pops.iter().map(|p| p.code.as_str()).collect();
        assert_eq!(codes, ["FRA", "MAD", "XYZ"]);
        assert_eq!(edge.pops[0].id, "FRA56-P1", "default POPs keep their ids");
        assert_eq!(edge.pops[2].city, "Nowhere");
        assert_eq!(edge.home, ledge_edge::geo::known_place("NRT").expect("NRT"));
        assert_eq!(edge.origin_location, GeoPoint::new(50.0, 8.5));
        assert!(edge.latency.enabled);
        assert_eq!(edge.pop_capacity_bytes, 8 << 20);
        assert_eq!(edge.buckets["site"], PathBuf::from("/srv/app/static"));
        assert_eq!(edge.client_locations.len(), 1);
        assert_eq!(edge.lambda_edge.viewer_timeout_s, 10);
        assert_eq!(edge.lambda_edge.origin_response_bytes, 2048);
        assert_eq!(
            edge.lambda_edge.viewer_memory_mb, 128,
            "unset keys keep CloudFront's"
        );
        let (services, default) = cfg.aws_endpoints();
        assert_eq!(services["dynamodb"], "http://127.0.0.1:8000");
        assert_eq!(default.as_deref(), Some("http://127.0.0.1:4566"));
    }

    #[test]
    fn unknown_keys_and_bad_values_are_named() {
        let e = LedgeConfig::parse("[edge]\nhomme = \"FRA\"\n").expect_err("typo");
        assert!(e.contains("homme"), "{e}");
        let e = LedgeConfig::parse("[edge.lambda_edge]\nviewer_memory = 256\n").expect_err("quota");
        assert!(e.contains("viewer_memory"), "{e}");
        let e = LedgeConfig::parse("[cdn]\n").expect_err("section");
        assert!(e.contains("cdn"), "{e}");
        let e = LedgeConfig::parse("[aws.endpoints]\nsqs = \"localhost:9324\"\n").expect_err("url");
        assert!(e.contains("sqs"), "{e}");
        let cfg = LedgeConfig::parse("[edge]\npops = [\"ZZZ\"]\n").expect("parses");
        let e = cfg
            .apply_edge(&mut EdgeConfig::default())
            .expect_err("unknown POP");
        assert!(e.to_string().contains("ZZZ"), "{e}");
        let cfg = LedgeConfig::parse("[edge]\nhome = \"nowhere\"\n").expect("parses");
        assert!(cfg.apply_edge(&mut EdgeConfig::default()).is_err());
    }
}
