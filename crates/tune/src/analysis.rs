//! From samples to a recommendation: per-size statistics, prices on both architectures,
//! ties within a tolerance, the Pareto front, the anchor's strategies, and the output in
//! the anchor's shape with ledge's fields beside it.

use std::collections::BTreeMap;

use ledge_pricing::{Arch, PriceBook};
use serde::{Deserialize, Serialize};

use crate::input::{Plan, Strategy};
use crate::run::{Phase, RunData, Sample};
use crate::stats::{self, Estimate};
use crate::target::TargetInfo;

/// The anchor's `baseCost` defaults: the price of 1 ms at 128 MB (x86_64, arm64).
pub const ANCHOR_BASE_COST: [f64; 2] = [2.1e-9, 1.7e-9];
/// Where the anchor's share links point.
pub const VISUALIZATION_URL: &str = "https://lambda-power-tuning.show/";

/// Duration statistics of one population, ms.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DurationStats {
    pub samples: usize,
    pub mean: Estimate,
    pub median: Estimate,
    /// `None` below 100 samples (not estimable).
    pub p90: Option<f64>,
    /// `None` below 1,000 samples (not estimable).
    pub p99: Option<f64>,
    /// The 90th percentile as observed, shown as a tick even when not estimable.
    pub observed_p90: f64,
    pub min: f64,
    pub max: f64,
    pub std_dev: f64,
    pub cv: f64,
    /// The anchor's trimmed mean (`discardTopBottom`), kept for comparison.
    pub trimmed_mean: f64,
    pub outliers: usize,
    /// Relative change of the median from the first half of the run to the second.
    pub drift: f64,
}

/// Cold starts at one size: their own population.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ColdStats {
    pub samples: usize,
    pub init_ms: Estimate,
    /// Duration + Init Duration (what a caller waits).
    pub latency_ms: f64,
    pub billed_ms: f64,
}

/// CPU as the cgroup saw it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CpuStats {
    pub cpu_ms_mean: f64,
    /// CPU time / wall time: how much of a core the function used.
    pub cpu_per_wall: f64,
    /// Throttled time / wall time: how much it waited for its quota.
    pub throttled_fraction: f64,
}

/// Per-invocation prices of one size on both architectures.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ArchPrices {
    #[serde(rename = "x86_64")]
    pub x86_64: f64,
    pub arm64: f64,
    /// Per million invocations.
    #[serde(rename = "x86_64PerMillion")]
    pub x86_64_per_million: f64,
    pub arm64_per_million: f64,
}

/// Everything about one size.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SizeSummary {
    pub memory: u32,
    pub viable: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Lambda's CPU quota at this size, in vCPUs (`memory / 1769`, at most 6).
    pub vcpus: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub duration: Option<DurationStats>,
    /// Mean billed ms (the sum of per-invocation ceilings / n).
    pub billed_ms_mean: f64,
    /// Per-invocation cost on the function's architecture: request fee + GB-s, with CI.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cost: Option<Estimate>,
    /// The anchor's `averagePrice`: ceil(trimmed billed mean) × baseCost × memory/128
    /// (no request fee).
    pub anchor_price: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub prices: Option<ArchPrices>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cold: Option<ColdStats>,
    pub max_memory_used_mb: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cpu: Option<CpuStats>,
    pub tied_on_cost: bool,
    pub tied_on_speed: bool,
    pub pareto: bool,
    /// The anchor's balanced score (lower is better).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub balanced_score: Option<f64>,
    pub warnings: Vec<String>,
}

/// The choice and why.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Recommendation {
    pub power: u32,
    pub strategy: Strategy,
    pub reason: String,
    /// Sizes tied with the best on the strategy's criterion (including the winner).
    pub tied: Vec<u32>,
    pub pareto_front: Vec<u32>,
    /// The smallest size whose peak memory left at least 20% headroom.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub minimum_safe_memory: Option<u32>,
}

/// The anchor's `stats[]` entry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AnchorStat {
    pub value: u32,
    pub average_price: f64,
    pub average_duration: f64,
}

/// The anchor's `stateMachine`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StateMachine {
    /// What running the tuner cost in the cloud: nothing here (no Step Functions).
    pub execution_cost: f64,
    /// What the run's invocations would have cost on AWS (request fees included).
    pub lambda_cost: f64,
    /// A lambda-power-tuning.show link with `--share`; empty otherwise.
    pub visualization: String,
}

/// ledge's fields.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Details {
    pub function: String,
    pub target: TargetInfo,
    pub strategy: Strategy,
    pub balanced_weight: f64,
    pub num: u32,
    pub seed: u64,
    pub warmup: u32,
    pub cold_starts: u32,
    pub parallel_invocation: bool,
    pub only_cold_starts: bool,
    pub discard_top_bottom: f64,
    pub tie_tolerance: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target_ci: Option<f64>,
    pub weighted_payload: bool,
    pub recommendation: Recommendation,
    pub sizes: Vec<SizeSummary>,
    pub price_table: String,
    pub tuning: TuningCost,
    pub notes: Vec<String>,
    pub warnings: Vec<String>,
    /// Every invocation, for recomputation.
    pub samples: Vec<Sample>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub applied: Option<String>,
}

/// What the tuning itself took.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TuningCost {
    pub invocations: u64,
    pub wall_seconds: f64,
    pub function_seconds: f64,
    pub trial_seconds: f64,
    /// Local CPU-seconds the function used (from the cgroup).
    pub cpu_seconds: f64,
    pub adaptive_rounds: BTreeMap<u32, u32>,
}

/// The result: the anchor's output shape, plus `ledge`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TuneOutput {
    pub power: u32,
    pub cost: f64,
    pub duration: f64,
    pub state_machine: StateMachine,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stats: Option<Vec<AnchorStat>>,
    pub ledge: Details,
}

fn arch_index(a: Arch) -> usize {
    match a {
        Arch::X86_64 => 0,
        Arch::Arm64 => 1,
    }
}

/// Per-invocation price of one sample.
fn sample_cost(book: &PriceBook, arch: Arch, s: &Sample) -> f64 {
    book.lambda
        .invocation_price(arch, s.memory, s.billed_ms as f64)
}

/// The anchor's `computePrice`: `ceil(duration) × baseCost × value/128`.
pub fn anchor_price(arch: Arch, memory: u32, billed_ms: f64) -> f64 {
    billed_ms.ceil() * ANCHOR_BASE_COST[arch_index(arch)] * f64::from(memory) / 128.0
}

/// The anchor's balanced score: `w·cost/maxCost + (1−w)·duration/maxDuration`.
pub fn balanced_score(w: f64, cost: f64, max_cost: f64, duration: f64, max_duration: f64) -> f64 {
    w * cost / max_cost + (1.0 - w) * duration / max_duration
}

/// Indices of the points not dominated in (cost, duration).
pub fn pareto_front(points: &[(f64, f64)]) -> Vec<usize> {
    (0..points.len())
        .filter(|&i| {
            !points.iter().enumerate().any(|(j, q)| {
                j != i
                    && q.0 <= points[i].0
                    && q.1 <= points[i].1
                    && (q.0 < points[i].0 || q.1 < points[i].1)
            })
        })
        .collect()
}

/// Turns a run into the output.
pub fn analyze(plan: &Plan, info: &TargetInfo, data: &RunData, book: &PriceBook) -> TuneOutput {
    let arch: Arch = info.architecture.parse().unwrap_or(Arch::X86_64);
    let mut rng = stats::rng(plan.seed ^ 0x5eed);
    let mut summaries = Vec::new();
    // Per viable size: the populations used for cost and speed.
    let mut pops: BTreeMap<u32, (Vec<f64>, Vec<f64>)> = BTreeMap::new();
    let mut lambda_cost = 0.0;
    let mut warnings = Vec::new();
    for size in &data.sizes {
        for s in &size.samples {
            lambda_cost += sample_cost(book, arch, s);
        }
        let primary: Vec<&Sample> = size
            .samples
            .iter()
            .filter(|s| {
                if plan.only_cold_starts {
                    s.phase == Phase::Cold
                } else {
                    s.phase == Phase::Trial && !s.cold
                }
            })
            .collect();
        let colds: Vec<&Sample> = size.samples.iter().filter(|s| s.cold).collect();
        let lat: Vec<f64> = primary.iter().map(|s| s.latency_ms()).collect();
        let billed: Vec<f64> = primary.iter().map(|s| s.billed_ms as f64).collect();
        let costs: Vec<f64> = primary.iter().map(|s| sample_cost(book, arch, s)).collect();
        let viable = size.not_viable.is_none() && !lat.is_empty();
        let mut w = Vec::new();
        let duration = (!lat.is_empty()).then(|| {
            let mean = if plan.weighted {
                let classes = classes_of(plan, &primary, |s| s.latency_ms());
                stats::stratified_mean(&classes, &mut rng)
            } else {
                stats::bootstrap(&lat, stats::mean, &mut rng)
            };
            let d = DurationStats {
                samples: lat.len(),
                mean,
                median: stats::bootstrap(&lat, stats::median, &mut rng),
                p90: stats::quantile_estimable(lat.len(), 0.9).then(|| stats::quantile(&lat, 0.9)),
                p99: stats::quantile_estimable(lat.len(), 0.99)
                    .then(|| stats::quantile(&lat, 0.99)),
                observed_p90: stats::quantile(&lat, 0.9),
                min: lat.iter().copied().fold(f64::INFINITY, f64::min),
                max: lat.iter().copied().fold(f64::NEG_INFINITY, f64::max),
                std_dev: stats::std_dev(&lat),
                cv: stats::cv(&lat),
                trimmed_mean: stats::trimmed_mean(&lat, plan.discard_top_bottom),
                outliers: stats::tukey_outliers(&lat),
                drift: stats::split_half_drift(&lat),
            };
            if d.cv > 0.10 {
                w.push(format!("noisy: CV {:.0}% (above 10%)", d.cv * 100.0));
            }
            if d.drift.abs() > 0.10 && lat.len() >= 6 {
                w.push(format!(
                    "drift: the median moved {:+.0}% from the first half of the run to the second",
                    d.drift * 100.0
                ));
            }
            if d.outliers > 0 {
                w.push(format!(
                    "{} outlier(s) beyond 1.5×IQR (kept in the mean)",
                    d.outliers
                ));
            }
            d
        });
        let cost = (!costs.is_empty()).then(|| {
            if plan.weighted {
                let classes = classes_of(plan, &primary, |s| sample_cost(book, arch, s));
                stats::stratified_mean(&classes, &mut rng)
            } else {
                stats::bootstrap(&costs, stats::mean, &mut rng)
            }
        });
        let billed_mean = if billed.is_empty() {
            0.0
        } else {
            stats::mean(&billed)
        };
        let prices = (!billed.is_empty()).then(|| {
            let p = |a| book.lambda.invocation_price(a, size.memory, billed_mean);
            ArchPrices {
                x86_64: p(Arch::X86_64),
                arm64: p(Arch::Arm64),
                x86_64_per_million: p(Arch::X86_64) * 1e6,
                arm64_per_million: p(Arch::Arm64) * 1e6,
            }
        });
        let cold = (!colds.is_empty()).then(|| {
            let init: Vec<f64> = colds.iter().map(|s| s.init_ms.unwrap_or(0.0)).collect();
            ColdStats {
                samples: colds.len(),
                init_ms: stats::bootstrap(&init, stats::mean, &mut rng),
                latency_ms: stats::mean(&colds.iter().map(|s| s.latency_ms()).collect::<Vec<_>>()),
                billed_ms: stats::mean(
                    &colds.iter().map(|s| s.billed_ms as f64).collect::<Vec<_>>(),
                ),
            }
        });
        let cpu = {
            let with: Vec<&&Sample> = primary.iter().filter(|s| s.cpu_ms.is_some()).collect();
            (!with.is_empty()).then(|| {
                let wall: f64 = with.iter().map(|s| s.duration_ms).sum();
                let cpu: f64 = with.iter().map(|s| s.cpu_ms.unwrap_or(0.0)).sum();
                let thr: f64 = with.iter().map(|s| s.throttled_ms.unwrap_or(0.0)).sum();
                CpuStats {
                    cpu_ms_mean: cpu / with.len() as f64,
                    cpu_per_wall: if wall > 0.0 { cpu / wall } else { 0.0 },
                    throttled_fraction: if wall > 0.0 {
                        (thr / wall).min(1.0)
                    } else {
                        0.0
                    },
                }
            })
        };
        let mem = ledge_model::MemoryMb::new(size.memory)
            .map(|m| m.vcpus())
            .unwrap_or(0.0);
        if viable {
            pops.insert(size.memory, (costs.clone(), lat.clone()));
        }
        summaries.push(SizeSummary {
            memory: size.memory,
            viable,
            reason: size
                .not_viable
                .clone()
                .or_else(|| (!viable).then(|| "no successful invocation".to_owned())),
            vcpus: mem,
            duration,
            billed_ms_mean: billed_mean,
            cost,
            anchor_price: if billed.is_empty() {
                0.0
            } else {
                anchor_price(
                    arch,
                    size.memory,
                    stats::trimmed_mean(&billed, plan.discard_top_bottom),
                )
            },
            prices,
            cold,
            max_memory_used_mb: size
                .samples
                .iter()
                .map(|s| s.max_memory_used_mb)
                .max()
                .unwrap_or(0),
            cpu,
            tied_on_cost: false,
            tied_on_speed: false,
            pareto: false,
            balanced_score: None,
            warnings: w,
        });
    }
    let viable: Vec<usize> = (0..summaries.len())
        .filter(|&i| summaries[i].viable)
        .collect();
    let values: Vec<(f64, f64)> = summaries
        .iter()
        .map(|s| {
            (
                s.cost.map(|c| c.value).unwrap_or(f64::INFINITY),
                s.duration
                    .as_ref()
                    .map(|d| d.mean.value)
                    .unwrap_or(f64::INFINITY),
            )
        })
        .collect();
    let memories: Vec<u32> = summaries.iter().map(|s| s.memory).collect();
    let value = |i: usize| values[i];
    // Pareto front over viable sizes.
    let points: Vec<(f64, f64)> = viable.iter().map(|&i| value(i)).collect();
    let front: Vec<u32> = pareto_front(&points)
        .into_iter()
        .map(|k| summaries[viable[k]].memory)
        .collect();
    for s in summaries.iter_mut() {
        s.pareto = front.contains(&s.memory);
    }
    // Balanced scores, exactly the anchor's.
    let max_cost = viable.iter().map(|&i| value(i).0).fold(0.0, f64::max);
    let max_dur = viable.iter().map(|&i| value(i).1).fold(0.0, f64::max);
    for &i in &viable {
        let (c, d) = value(i);
        summaries[i].balanced_score = Some(balanced_score(
            plan.balanced_weight,
            c,
            max_cost,
            d,
            max_dur,
        ));
    }
    // Ties: the CI of (size / best) on the criterion reaches within the tolerance.
    let tied_with = |crit: usize,
                     rng: &mut rand::rngs::StdRng|
     -> (Option<usize>, Vec<usize>, BTreeMap<usize, Estimate>) {
        let best = viable.iter().copied().min_by(|&a, &b| {
            let (va, vb) = if crit == 0 {
                (value(a).0, value(b).0)
            } else {
                (value(a).1, value(b).1)
            };
            va.total_cmp(&vb)
        });
        let Some(best) = best else {
            return (None, vec![], BTreeMap::new());
        };
        let pick = |i: usize| {
            let p = &pops[&memories[i]];
            if crit == 0 {
                p.0.clone()
            } else {
                p.1.clone()
            }
        };
        let b = pick(best);
        let ratios: BTreeMap<usize, Estimate> = viable
            .iter()
            .map(|&i| (i, stats::ratio_of_means(&pick(i), &b, rng)))
            .collect();
        let tied = viable
            .iter()
            .copied()
            .filter(|&i| i == best || ratios[&i].low <= 1.0 + plan.tie_tolerance)
            .collect();
        (Some(best), tied, ratios)
    };
    let (best_cost, tied_cost, cost_ratios) = tied_with(0, &mut rng);
    let (best_speed, tied_speed, speed_ratios) = tied_with(1, &mut rng);
    let ratio_text = |r: Option<&Estimate>| {
        r.map(|e| format!("×{:.3} [95% CI {:.3}–{:.3}]", e.value, e.low, e.high))
            .unwrap_or_default()
    };
    for &i in &tied_cost {
        summaries[i].tied_on_cost = tied_cost.len() > 1;
    }
    for &i in &tied_speed {
        summaries[i].tied_on_speed = tied_speed.len() > 1;
    }
    let fmt_cost = |c: f64| format!("${:.3e}", c);
    let (winner, tied, reason) = match plan.strategy {
        Strategy::Cost => {
            let w = tied_cost.iter().copied().min_by(|&a, &b| {
                value(a)
                    .1
                    .total_cmp(&value(b).1)
                    .then(value(a).0.total_cmp(&value(b).0))
            });
            let reason = match (w, best_cost) {
                (Some(w), Some(b)) if w != b => format!(
                    "cheapest is {} MB ({} per invocation); {} MB costs {} ({} the cheapest's), and the interval reaches within {:.0}%, so the two are tied on cost; it is faster ({:.1} ms vs {:.1} ms), so it wins the tie",
                    summaries[b].memory, fmt_cost(value(b).0), summaries[w].memory, fmt_cost(value(w).0), ratio_text(cost_ratios.get(&w)), plan.tie_tolerance * 100.0, value(w).1, value(b).1
                ),
                (Some(w), _) => format!(
                    "{} MB is the cheapest ({} per invocation, {:.1} ms){}",
                    summaries[w].memory, fmt_cost(value(w).0), value(w).1,
                    if tied_cost.len() > 1 { " and the fastest of the sizes tied with it on cost" } else { "; no other size is within the tie tolerance" }
                ),
                _ => String::new(),
            };
            (w, tied_cost.clone(), reason)
        }
        Strategy::Speed => {
            let w = tied_speed.iter().copied().min_by(|&a, &b| {
                value(a)
                    .0
                    .total_cmp(&value(b).0)
                    .then(value(a).1.total_cmp(&value(b).1))
            });
            let reason = match (w, best_speed) {
                (Some(w), Some(b)) if w != b => format!(
                    "fastest is {} MB ({:.1} ms); {} MB takes {:.1} ms ({} the fastest's), and the interval reaches within {:.0}%, so the two are tied on speed; it is cheaper ({} vs {}), so it wins the tie",
                    summaries[b].memory, value(b).1, summaries[w].memory, value(w).1, ratio_text(speed_ratios.get(&w)), plan.tie_tolerance * 100.0, fmt_cost(value(w).0), fmt_cost(value(b).0)
                ),
                (Some(w), _) => format!("{} MB is the fastest ({:.1} ms, {} per invocation)", summaries[w].memory, value(w).1, fmt_cost(value(w).0)),
                _ => String::new(),
            };
            (w, tied_speed.clone(), reason)
        }
        Strategy::Balanced => {
            // Stable: equal scores keep the sizes' order, as in the anchor.
            let mut order = viable.clone();
            order.sort_by(|&a, &b| {
                summaries[a]
                    .balanced_score
                    .unwrap_or(f64::INFINITY)
                    .total_cmp(&summaries[b].balanced_score.unwrap_or(f64::INFINITY))
            });
            let w = order.first().copied();
            let reason = w
                .map(|w| format!(
                    "{} MB has the lowest balanced score {:.4} = {}·cost/maxCost + {}·duration/maxDuration (the anchor's formula)",
                    summaries[w].memory, summaries[w].balanced_score.unwrap_or(0.0), plan.balanced_weight, 1.0 - plan.balanced_weight
                ))
                .unwrap_or_default();
            (w, w.into_iter().collect(), reason)
        }
    };
    if viable.is_empty() {
        warnings.push("no memory size was viable: nothing to recommend".to_owned());
    }
    let minimum_safe_memory = summaries
        .iter()
        .filter(|s| s.viable && f64::from(s.max_memory_used_mb) <= 0.8 * f64::from(s.memory))
        .map(|s| s.memory)
        .min();
    let n_primary = summaries
        .iter()
        .filter_map(|s| s.duration.as_ref())
        .map(|d| d.samples)
        .max()
        .unwrap_or(0);
    let mut notes = vec![
        "cost = request fee ($0.20 per 1M) + GB-s at the first tier per invocation, from the mean of per-invocation billed ms; the anchor omits the request fee (its figure is in anchorPrice).".to_owned(),
        "duration = mean Duration of warm invocations (cold starts are their own population in cold); with onlyColdStarts, mean Duration + Init Duration.".to_owned(),
        "executionCost is 0: the tuning ran locally, no Step Functions transitions and no Lambda bill; tuning.cpuSeconds is what it used here.".to_owned(),
        format!("ties: a size ties with the best when the 95% bootstrap CI of its mean ÷ the best's reaches within {:.0}%; the winner among tied sizes is chosen by the other criterion.", plan.tie_tolerance * 100.0),
    ];
    if n_primary < 100 {
        notes.push(format!("p90 needs ≥ 100 samples and p99 ≥ 1,000 (order-statistic CI): with {n_primary} per size both are not estimable; the observed p90 is drawn as a tick only."));
    } else if n_primary < 1000 {
        notes.push("p99 is not estimable below 1,000 samples per size.".to_owned());
    }
    if !info.interleaved {
        notes.push("sizes ran in blocks (one memory setting at a time, in a seeded random order): the endpoint has one $LATEST configuration, so trials could not be interleaved.".to_owned());
    }
    if plan.parallel {
        notes.push("parallelInvocation: each size's invocations ran at once; scale-out cold starts are counted as cold.".to_owned());
    }
    let chosen = winner.map(|w| &summaries[w]);
    let power = chosen.map(|s| s.memory).unwrap_or(0);
    let cost = chosen.and_then(|s| s.cost).map(|c| c.value).unwrap_or(0.0);
    let duration = chosen
        .and_then(|s| s.duration.as_ref())
        .map(|d| d.mean.value)
        .unwrap_or(0.0);
    let mut samples: Vec<Sample> = data
        .sizes
        .iter()
        .flat_map(|s| s.samples.iter().cloned())
        .collect();
    samples.sort_by_key(|s| s.seq);
    let stats_out = plan.include_output_results.then(|| {
        summaries
            .iter()
            .filter(|s| s.viable)
            .map(|s| AnchorStat {
                value: s.memory,
                average_price: s.cost.map(|c| c.value).unwrap_or(0.0),
                average_duration: s.duration.as_ref().map(|d| d.mean.value).unwrap_or(0.0),
            })
            .collect()
    });
    let mut out = TuneOutput {
        power,
        cost,
        duration,
        state_machine: StateMachine {
            execution_cost: 0.0,
            lambda_cost,
            visualization: String::new(),
        },
        stats: stats_out,
        ledge: Details {
            function: info.function.clone(),
            target: info.clone(),
            strategy: plan.strategy,
            balanced_weight: plan.balanced_weight,
            num: plan.num,
            seed: plan.seed,
            warmup: plan.warmup,
            cold_starts: plan.cold_starts,
            parallel_invocation: plan.parallel,
            only_cold_starts: plan.only_cold_starts,
            discard_top_bottom: plan.discard_top_bottom,
            tie_tolerance: plan.tie_tolerance,
            target_ci: plan.target_ci,
            weighted_payload: plan.weighted,
            recommendation: Recommendation {
                power,
                strategy: plan.strategy,
                reason,
                tied: tied.iter().map(|&i| summaries[i].memory).collect(),
                pareto_front: front,
                minimum_safe_memory,
            },
            sizes: summaries,
            price_table: format!(
                "{}@{}",
                book.lambda.info.table, book.lambda.info.effective_date
            ),
            tuning: TuningCost {
                invocations: data.invocations,
                wall_seconds: data.wall_seconds,
                function_seconds: data.function_ms / 1000.0,
                trial_seconds: data.trial_ms / 1000.0,
                cpu_seconds: data.cpu_seconds,
                adaptive_rounds: data.adaptive_rounds.clone(),
            },
            notes,
            warnings,
            samples,
            applied: data.applied.clone(),
        },
    };
    if plan.share {
        out.state_machine.visualization = crate::share::visualization_url(&out);
    }
    out
}

fn classes_of(
    plan: &Plan,
    samples: &[&Sample],
    f: impl Fn(&Sample) -> f64,
) -> Vec<(f64, Vec<f64>)> {
    plan.payloads
        .iter()
        .enumerate()
        .map(|(i, c)| {
            (
                c.weight,
                samples
                    .iter()
                    .filter(|s| s.class == i)
                    .map(|s| f(s))
                    .collect(),
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn anchor_price_matches_its_documented_example() {
        // Issue #265's real output: 128 MB, 443.8995 ms → ceil(445) × 2.1e-9 × 1 = 9.345e-7
        // (the billed trimmed mean was 444.x ms).
        let p = anchor_price(Arch::X86_64, 128, 444.2);
        assert!((p - 9.345e-7).abs() < 1e-15, "{p}");
        // Linear in memory: 2048 MB is 16× the 128 MB price.
        assert!((anchor_price(Arch::X86_64, 2048, 55.0) - 55.0 * 2.1e-9 * 16.0).abs() < 1e-15);
        assert!((anchor_price(Arch::Arm64, 128, 1.0) - 1.7e-9).abs() < 1e-18);
    }

    #[test]
    fn balanced_score_normalizes_by_the_maximum() {
        // The UI's default w = 0.5: 0.5·c/cmax + 0.5·d/dmax.
        let s = balanced_score(0.5, 7.07e-5, 1.026e-4, 8489.4, 37002.4);
        assert!((s - (0.5 * 7.07e-5 / 1.026e-4 + 0.5 * 8489.4 / 37002.4)).abs() < 1e-12);
        assert_eq!(balanced_score(1.0, 1.0, 2.0, 50.0, 100.0), 0.5);
        assert_eq!(balanced_score(0.0, 1.0, 2.0, 50.0, 100.0), 0.5);
        // On the README's decoded example, w = 0.5 picks 1536 MB (index 4).
        let costs = [7.72e-5, 7.78e-5, 7.07e-5, 6.49e-5, 6.49e-5, 1.026e-4];
        let times = [37002.4, 18647.8, 8489.4, 3890.9, 2512.2, 2009.8];
        let cmax = costs.iter().copied().fold(0.0, f64::max);
        let tmax = times.iter().copied().fold(0.0, f64::max);
        let scores: Vec<f64> = (0..6)
            .map(|i| balanced_score(0.5, costs[i], cmax, times[i], tmax))
            .collect();
        let best = (0..6)
            .min_by(|&a, &b| scores[a].total_cmp(&scores[b]))
            .expect("best");
        assert_eq!(best, 4, "1536 MB: same cost as 1024 and faster");
    }

    #[test]
    fn pareto_front_keeps_the_undominated() {
        let pts = [
            (3.0, 10.0),
            (2.0, 20.0),
            (2.0, 30.0),
            (1.0, 40.0),
            (4.0, 9.0),
            (5.0, 9.0),
        ];
        assert_eq!(pareto_front(&pts), vec![0, 1, 3, 4]);
    }
}
