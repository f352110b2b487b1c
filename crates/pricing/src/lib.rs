//! AWS prices as dated data, and the arithmetic of a monthly bill.
//!
//! This crate owns the price tables ledge ships (Lambda, Lambda@Edge, API Gateway,
//! CloudFront — each a JSON file under `tables/` with its source and effective date,
//! compiled in with `include_str!`) and the calculator that turns usage into an itemised
//! bill the way AWS bills it: requests, GB-seconds rounded up to 1 ms per invocation,
//! per-architecture tiers, the shared free tier, ephemeral storage, Provisioned
//! Concurrency, Lambda@Edge, API Gateway request tiers and cache hours, CloudFront data
//! transfer and requests.
//!
//! It never measures anything and never does I/O: callers hand it usage.

mod bill;
mod scenario;
mod tables;
mod yaml;

pub use bill::{Bill, Line};
pub use scenario::{
    ApiKind, ApiUsage, CdnUsage, DurationMode, EdgeUsage, FunctionUsage, ProvisionedUsage, Scenario,
};
pub use tables::{
    ApiGatewayTable, Arch, CloudFrontTable, EdgeTable, LambdaTable, PriceBook, TableInfo, Tier,
};

/// A scenario or a table that cannot be priced.
#[derive(Debug, thiserror::Error)]
pub enum PricingError {
    #[error("price table {table} is malformed: {message}")]
    Table {
        table: &'static str,
        message: String,
    },
    #[error("scenario: {0}")]
    Scenario(String),
}

/// Hours AWS uses for a month in its calculators.
pub const HOURS_PER_MONTH: f64 = 730.0;
/// Seconds in that month.
pub const SECONDS_PER_MONTH: f64 = HOURS_PER_MONTH * 3600.0;

/// Rounds dollars to cents, half away from zero, as bills show them.
pub fn cents(amount: f64) -> f64 {
    (amount * 100.0).round() / 100.0
}
