//! Power tuning: run a function at several memory sizes under Lambda's CPU-per-memory
//! quota, measure it properly, price it, and say which size to use and why.
//!
//! This crate owns the tuner's input (the keys of aws-lambda-power-tuning, "the anchor"),
//! the sweep (cold starts, warm-ups, seeded interleaved trials, adaptive sampling, per-size
//! failure isolation), the statistics (bootstrap CIs, ties, Pareto front, the anchor's
//! strategies and balanced formula), the output in the anchor's shape, the HTML/SVG report
//! and the opt-in share link. It reaches functions only through [`PowerTarget`] and
//! [`ledge_model::Invoke`]: ledge's runtime (in `ledge-app`) and a Lambda API endpoint
//! ([`remote`]) are the two implementations. Prices come from `ledge-pricing`.
//!
//! It never spawns processes and never sends data anywhere on its own.

pub mod analysis;
pub mod input;
pub mod progress;
pub mod remote;
pub mod report;
pub mod run;
pub mod share;
pub mod stats;
pub mod target;

pub use analysis::{analyze, TuneOutput};
pub use input::{Plan, Strategy, TuneInput};
pub use progress::{Progress, Silent};
pub use run::{RunData, Runner, Sample};
pub use target::{PowerTarget, SizeTarget, TargetInfo};

use ledge_pricing::PriceBook;

/// Why a tuning run could not be done.
#[derive(Debug, thiserror::Error)]
pub enum TuneError {
    /// The input breaks a rule (exit code 2).
    #[error("{0}")]
    Input(String),
    /// A pre- or post-processor failed: as in the anchor, the run stops.
    #[error("{0}")]
    Processor(String),
    /// The function could not be resized, deployed or reached.
    #[error("{0}")]
    Target(String),
}

/// Runs a plan and analyses it. With `dryRun` every size is invoked once and no analysis
/// is made (`Ok(None)`). The target is always finished (restored, cleaned up).
pub async fn tune(
    target: &dyn PowerTarget,
    plan: &Plan,
    progress: &dyn Progress,
    book: &PriceBook,
) -> Result<(RunData, Option<TuneOutput>), TuneError> {
    let result = Runner::new(plan, target, progress).run().await;
    let mut data = match result {
        Ok(d) => d,
        Err(e) => {
            let _ = target.finish().await;
            return Err(e);
        }
    };
    if plan.dry_run {
        target.finish().await?;
        return Ok((data, None));
    }
    let info = target.info();
    let mut out = analyze(plan, &info, &data, book);
    if plan.auto_optimize && out.power > 0 {
        let memory =
            ledge_model::MemoryMb::new(out.power).map_err(|e| TuneError::Input(e.to_string()))?;
        match target
            .apply(memory, plan.auto_optimize_alias.as_deref())
            .await
        {
            Ok(done) => data.applied = Some(done),
            Err(e) => data.applied = Some(format!("could not apply: {e}")),
        }
        out.ledge.applied = data.applied.clone();
    }
    target.finish().await?;
    Ok((data, Some(out)))
}
