//! The price tables: parsed once from the JSON files compiled into the binary.

use std::sync::OnceLock;

use serde::{Deserialize, Serialize};

use crate::PricingError;

const LAMBDA: &str = include_str!("../tables/aws-lambda.json");
const EDGE: &str = include_str!("../tables/aws-lambda-edge.json");
const API_GATEWAY: &str = include_str!("../tables/aws-api-gateway.json");
const CLOUDFRONT: &str = include_str!("../tables/aws-cloudfront.json");

/// An instruction set, as Lambda prices it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, PartialOrd, Ord)]
pub enum Arch {
    #[serde(rename = "x86_64")]
    X86_64,
    #[serde(rename = "arm64")]
    Arm64,
}

impl Arch {
    pub fn as_str(self) -> &'static str {
        match self {
            Arch::X86_64 => "x86_64",
            Arch::Arm64 => "arm64",
        }
    }

    pub const ALL: [Arch; 2] = [Arch::X86_64, Arch::Arm64];
}

impl std::str::FromStr for Arch {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "x86_64" => Ok(Arch::X86_64),
            "arm64" => Ok(Arch::Arm64),
            _ => Err(format!("architecture {s:?} must be x86_64 or arm64")),
        }
    }
}

/// Where a table came from and since when it holds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TableInfo {
    pub table: String,
    pub title: String,
    pub region: String,
    pub currency: String,
    /// The date from which the table's prices and rules hold (YYYY-MM-DD).
    pub effective_date: String,
    /// When the prices were read from the source.
    pub retrieved: String,
    pub source: Vec<String>,
    #[serde(default)]
    pub notes: Vec<String>,
}

/// One step of a tiered price: `up_to` is the cumulative upper bound (`None` = no bound).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Tier {
    pub up_to: Option<f64>,
    pub price: f64,
}

/// Splits `quantity` over tiers: `(quantity in tier, tier)` for every tier it reaches.
pub(crate) fn split_tiers(quantity: f64, tiers: &[Tier]) -> Vec<(f64, Tier)> {
    let mut out = Vec::new();
    let mut below = 0.0;
    for t in tiers {
        if quantity <= below {
            break;
        }
        let top = t.up_to.unwrap_or(f64::INFINITY);
        let q = quantity.min(top) - below;
        if q > 0.0 {
            out.push((q, *t));
        }
        below = top;
    }
    out
}

#[derive(Debug, Deserialize)]
struct RawTier {
    #[serde(alias = "up_to_gb_s", alias = "up_to_gb")]
    up_to: Option<f64>,
    #[serde(alias = "per_gb_s", alias = "per_million", alias = "per_gb")]
    price: f64,
}

fn tiers(raw: Vec<RawTier>) -> Vec<Tier> {
    raw.into_iter()
        .map(|r| Tier {
            up_to: r.up_to,
            price: r.price,
        })
        .collect()
}

/// AWS Lambda's regional prices.
#[derive(Debug, Clone)]
pub struct LambdaTable {
    pub info: TableInfo,
    pub billing_granularity_ms: u64,
    pub init_billed: bool,
    pub request_per_million: f64,
    pub x86_tiers: Vec<Tier>,
    pub arm_tiers: Vec<Tier>,
    pub free_requests: f64,
    pub free_gb_s: f64,
    pub ephemeral_free_mb: f64,
    pub ephemeral_per_gb_s: f64,
    pub pc_per_gb_s: [f64; 2],
    pub pc_duration_per_gb_s: [f64; 2],
    pub pc_rounding_s: f64,
    pub snapstart_cache_per_gb_s: f64,
    pub snapstart_restore_per_gb: f64,
}

impl LambdaTable {
    pub fn tiers(&self, arch: Arch) -> &[Tier] {
        match arch {
            Arch::X86_64 => &self.x86_tiers,
            Arch::Arm64 => &self.arm_tiers,
        }
    }

    /// The request fee of one invocation.
    pub fn request_price(&self) -> f64 {
        self.request_per_million / 1e6
    }

    /// First-tier price of one GB-second.
    pub fn gb_s_price(&self, arch: Arch) -> f64 {
        self.tiers(arch).first().map(|t| t.price).unwrap_or(0.0)
    }

    /// The price of one invocation at the first tier, without free tier: the request fee
    /// plus `memory/1024 × billed_ms/1000` GB-s. This is what the tuner calls "cost".
    pub fn invocation_price(&self, arch: Arch, memory_mb: u32, billed_ms: f64) -> f64 {
        self.request_price() + self.duration_price(arch, memory_mb, billed_ms)
    }

    /// The duration part alone (what the power-tuning anchor calls the price).
    pub fn duration_price(&self, arch: Arch, memory_mb: u32, billed_ms: f64) -> f64 {
        f64::from(memory_mb) / 1024.0 * billed_ms / 1000.0 * self.gb_s_price(arch)
    }
}

/// Lambda@Edge prices.
#[derive(Debug, Clone)]
pub struct EdgeTable {
    pub info: TableInfo,
    pub billing_granularity_ms: u64,
    pub request_per_million: f64,
    pub per_gb_s: f64,
}

/// One API Gateway cache size.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct CacheSize {
    pub size_gb: f64,
    pub per_hour: f64,
}

/// API Gateway prices.
#[derive(Debug, Clone)]
pub struct ApiGatewayTable {
    pub info: TableInfo,
    pub http_tiers: Vec<Tier>,
    pub http_metering_kb: f64,
    pub rest_tiers: Vec<Tier>,
    pub websocket_tiers: Vec<Tier>,
    pub websocket_metering_kb: f64,
    pub websocket_minutes_per_million: f64,
    pub cache: Vec<CacheSize>,
    pub free_http: f64,
    pub free_rest: f64,
    pub free_messages: f64,
    pub free_minutes: f64,
    pub transfer_free_gb: f64,
    pub transfer_tiers: Vec<Tier>,
}

impl ApiGatewayTable {
    /// The cache size AWS offers that matches `size_gb` (1.55 and 1.6 are the same size).
    pub fn cache_size(&self, size_gb: f64) -> Option<CacheSize> {
        self.cache
            .iter()
            .copied()
            .find(|c| (c.size_gb - size_gb).abs() <= 0.06)
    }
}

/// One CloudFront geographic region's prices.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CdnRegion {
    pub name: String,
    pub data_transfer_per_gb: Vec<f64>,
    pub http_per_10k: f64,
    pub https_per_10k: f64,
    pub origin_transfer_per_gb: Option<f64>,
}

/// One CloudFront flat-rate plan.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FlatRatePlan {
    pub plan: String,
    pub per_month: f64,
    pub requests: f64,
    pub data_transfer_gb: f64,
}

/// CloudFront prices.
#[derive(Debug, Clone)]
pub struct CloudFrontTable {
    pub info: TableInfo,
    pub free_transfer_gb: f64,
    pub free_requests: f64,
    pub free_function_invocations: f64,
    /// Cumulative upper bounds of the data-transfer tiers, in TB.
    pub tier_bounds_tb: Vec<Option<f64>>,
    pub regions: std::collections::BTreeMap<String, CdnRegion>,
    pub invalidation_free_paths: f64,
    pub invalidation_per_path: f64,
    pub function_invocations_per_million: f64,
    pub flat_rate_plans: Vec<FlatRatePlan>,
}

impl CloudFrontTable {
    /// The data-transfer tiers of one region, bounds in GB.
    pub fn transfer_tiers(&self, region: &CdnRegion) -> Vec<Tier> {
        self.tier_bounds_tb
            .iter()
            .zip(&region.data_transfer_per_gb)
            .map(|(b, p)| Tier {
                up_to: b.map(|tb| tb * 1024.0),
                price: *p,
            })
            .collect()
    }
}

/// Every table ledge prices with.
#[derive(Debug, Clone)]
pub struct PriceBook {
    pub lambda: LambdaTable,
    pub edge: EdgeTable,
    pub api_gateway: ApiGatewayTable,
    pub cloudfront: CloudFrontTable,
}

fn parse<T: serde::de::DeserializeOwned>(
    table: &'static str,
    text: &str,
) -> Result<T, PricingError> {
    serde_json::from_str(text).map_err(|e| PricingError::Table {
        table,
        message: e.to_string(),
    })
}

fn info(table: &'static str, text: &str) -> Result<TableInfo, PricingError> {
    parse(table, text)
}

#[derive(Deserialize)]
struct RawLambda {
    billing_granularity_ms: u64,
    init_billed: bool,
    request_per_million: f64,
    duration_tiers: RawArchTiers,
    free_tier: RawFree,
    ephemeral_storage: RawEphemeral,
    provisioned_concurrency: RawPc,
    snapstart: RawSnap,
}
#[derive(Deserialize)]
struct RawArchTiers {
    x86_64: Vec<RawTier>,
    arm64: Vec<RawTier>,
}
#[derive(Deserialize)]
struct RawFree {
    requests: f64,
    gb_s: f64,
}
#[derive(Deserialize)]
struct RawEphemeral {
    free_mb: f64,
    per_gb_s: f64,
}
#[derive(Deserialize)]
struct RawPcArch {
    per_gb_s: f64,
    duration_per_gb_s: f64,
}
#[derive(Deserialize)]
struct RawPc {
    x86_64: RawPcArch,
    arm64: RawPcArch,
    rounding_s: f64,
}
#[derive(Deserialize)]
struct RawSnap {
    cache_per_gb_s: f64,
    restore_per_gb: f64,
}
#[derive(Deserialize)]
struct RawEdge {
    billing_granularity_ms: u64,
    request_per_million: f64,
    per_gb_s: f64,
}
#[derive(Deserialize)]
struct RawApi {
    http_request_tiers: Vec<RawTier>,
    http_metering_kb: f64,
    rest_request_tiers: Vec<RawTier>,
    websocket_message_tiers: Vec<RawTier>,
    websocket_metering_kb: f64,
    websocket_connection_minutes_per_million: f64,
    cache_per_hour: Vec<CacheSize>,
    free_tier_12_months: RawApiFree,
    data_transfer_out_free_gb: f64,
    data_transfer_out_tiers: Vec<RawTier>,
}
#[derive(Deserialize)]
struct RawApiFree {
    http_requests: f64,
    rest_requests: f64,
    websocket_messages: f64,
    websocket_connection_minutes: f64,
}
#[derive(Deserialize)]
struct RawCdn {
    free_tier: RawCdnFree,
    data_transfer_tier_bounds_tb: Vec<Option<f64>>,
    regions: std::collections::BTreeMap<String, CdnRegion>,
    invalidation: RawInvalidation,
    function_invocations_per_million: f64,
    flat_rate_plans: Vec<FlatRatePlan>,
}
#[derive(Deserialize)]
struct RawCdnFree {
    data_transfer_gb: f64,
    requests: f64,
    function_invocations: f64,
}
#[derive(Deserialize)]
struct RawInvalidation {
    free_paths: f64,
    per_path: f64,
}

impl PriceBook {
    /// The tables compiled into ledge.
    pub fn builtin() -> &'static PriceBook {
        static BOOK: OnceLock<PriceBook> = OnceLock::new();
        BOOK.get_or_init(|| {
            // The tables are checked by this crate's tests; a malformed one is a build defect.
            Self::from_json(LAMBDA, EDGE, API_GATEWAY, CLOUDFRONT)
                .expect("invariant: the built-in price tables parse (tested)")
        })
    }

    /// Builds a book from the four tables' JSON texts.
    pub fn from_json(
        lambda: &str,
        edge: &str,
        api: &str,
        cdn: &str,
    ) -> Result<PriceBook, PricingError> {
        let l: RawLambda = parse("aws-lambda", lambda)?;
        let e: RawEdge = parse("aws-lambda-edge", edge)?;
        let a: RawApi = parse("aws-api-gateway", api)?;
        let c: RawCdn = parse("aws-cloudfront", cdn)?;
        for (name, r) in &c.regions {
            if r.data_transfer_per_gb.len() != c.data_transfer_tier_bounds_tb.len() {
                return Err(PricingError::Table {
                    table: "aws-cloudfront",
                    message: format!("region {name} has a price for each tier bound"),
                });
            }
        }
        Ok(PriceBook {
            lambda: LambdaTable {
                info: info("aws-lambda", lambda)?,
                billing_granularity_ms: l.billing_granularity_ms,
                init_billed: l.init_billed,
                request_per_million: l.request_per_million,
                x86_tiers: tiers(l.duration_tiers.x86_64),
                arm_tiers: tiers(l.duration_tiers.arm64),
                free_requests: l.free_tier.requests,
                free_gb_s: l.free_tier.gb_s,
                ephemeral_free_mb: l.ephemeral_storage.free_mb,
                ephemeral_per_gb_s: l.ephemeral_storage.per_gb_s,
                pc_per_gb_s: [
                    l.provisioned_concurrency.x86_64.per_gb_s,
                    l.provisioned_concurrency.arm64.per_gb_s,
                ],
                pc_duration_per_gb_s: [
                    l.provisioned_concurrency.x86_64.duration_per_gb_s,
                    l.provisioned_concurrency.arm64.duration_per_gb_s,
                ],
                pc_rounding_s: l.provisioned_concurrency.rounding_s,
                snapstart_cache_per_gb_s: l.snapstart.cache_per_gb_s,
                snapstart_restore_per_gb: l.snapstart.restore_per_gb,
            },
            edge: EdgeTable {
                info: info("aws-lambda-edge", edge)?,
                billing_granularity_ms: e.billing_granularity_ms,
                request_per_million: e.request_per_million,
                per_gb_s: e.per_gb_s,
            },
            api_gateway: ApiGatewayTable {
                info: info("aws-api-gateway", api)?,
                http_tiers: tiers(a.http_request_tiers),
                http_metering_kb: a.http_metering_kb,
                rest_tiers: tiers(a.rest_request_tiers),
                websocket_tiers: tiers(a.websocket_message_tiers),
                websocket_metering_kb: a.websocket_metering_kb,
                websocket_minutes_per_million: a.websocket_connection_minutes_per_million,
                cache: a.cache_per_hour,
                free_http: a.free_tier_12_months.http_requests,
                free_rest: a.free_tier_12_months.rest_requests,
                free_messages: a.free_tier_12_months.websocket_messages,
                free_minutes: a.free_tier_12_months.websocket_connection_minutes,
                transfer_free_gb: a.data_transfer_out_free_gb,
                transfer_tiers: tiers(a.data_transfer_out_tiers),
            },
            cloudfront: CloudFrontTable {
                info: info("aws-cloudfront", cdn)?,
                free_transfer_gb: c.free_tier.data_transfer_gb,
                free_requests: c.free_tier.requests,
                free_function_invocations: c.free_tier.function_invocations,
                tier_bounds_tb: c.data_transfer_tier_bounds_tb,
                regions: c.regions,
                invalidation_free_paths: c.invalidation.free_paths,
                invalidation_per_path: c.invalidation.per_path,
                function_invocations_per_million: c.function_invocations_per_million,
                flat_rate_plans: c.flat_rate_plans,
            },
        })
    }

    /// Where each table came from.
    pub fn infos(&self) -> Vec<&TableInfo> {
        vec![
            &self.lambda.info,
            &self.edge.info,
            &self.api_gateway.info,
            &self.cloudfront.info,
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_tables_parse_with_source_and_date() {
        let book = PriceBook::builtin();
        for i in book.infos() {
            assert!(!i.source.is_empty(), "{} has a source", i.table);
            assert_eq!(i.effective_date.len(), 10, "{} has a date", i.table);
        }
        assert_eq!(book.lambda.x86_tiers.len(), 3);
        assert_eq!(book.lambda.arm_tiers[0].up_to, Some(7.5e9));
        assert_eq!(book.cloudfront.regions.len(), 8);
    }

    #[test]
    fn per_millisecond_prices_match_the_pricing_page() {
        let l = &PriceBook::builtin().lambda;
        let per_ms = |mb: u32, arch| l.duration_price(arch, mb, 1.0);
        // The pricing page's "price per 1 ms" column, to its 10 decimals.
        for (mb, want) in [
            (128, 0.0000000021),
            (512, 0.0000000083),
            (1024, 0.0000000167),
            (1536, 0.0000000250),
            (2048, 0.0000000333),
            (10240, 0.0000001667),
        ] {
            let got = per_ms(mb, Arch::X86_64);
            assert!((got - want).abs() < 0.6e-10, "{mb} MB: {got} vs {want}");
        }
        assert!((per_ms(128, Arch::Arm64) - 0.0000000017).abs() < 0.6e-10);
    }

    #[test]
    fn tiers_split_quantities() {
        let t = &PriceBook::builtin().lambda.x86_tiers;
        let parts = split_tiers(16e9, t);
        assert_eq!(parts.len(), 3);
        assert_eq!(parts[0].0, 6e9);
        assert_eq!(parts[1].0, 9e9);
        assert_eq!(parts[2].0, 1e9);
        assert!(split_tiers(0.0, t).is_empty());
    }
}
