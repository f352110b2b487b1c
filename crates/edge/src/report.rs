//! Per-POP statistics: requests, where they were served, origin fetches, and simulated
//! latency with and without the edge (`ledge edge report`).

use std::sync::atomic::{AtomicU64, Ordering};

/// One distribution's report.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct EdgeReport {
    pub distribution_id: String,
    pub logical_id: String,
    pub latency_model_enabled: bool,
    pub pops: Vec<PopReport>,
}

/// One POP's figures since start (or the last redeploy).
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct PopReport {
    pub pop: String,
    pub requests: u64,
    /// Served from this POP's cache.
    pub edge_hits: u64,
    /// Served from the regional edge cache or Origin Shield.
    pub regional_hits: u64,
    /// Requests that reached the origin (each collapsed group counts once).
    pub origin_fetches: u64,
    /// (edge + regional hits) / requests.
    pub hit_ratio: f64,
    /// Mean simulated latency through the edge, ms.
    pub mean_latency_ms: f64,
    /// Mean simulated latency had the viewer gone straight to the origin, ms.
    pub mean_latency_without_edge_ms: f64,
}

#[derive(Debug, Default)]
pub(crate) struct PopCounters {
    pub(crate) requests: AtomicU64,
    pub(crate) edge_hits: AtomicU64,
    pub(crate) regional_hits: AtomicU64,
    pub(crate) origin_fetches: AtomicU64,
    /// µs
    pub(crate) latency_us: AtomicU64,
    pub(crate) latency_direct_us: AtomicU64,
}

impl PopCounters {
    pub(crate) fn snapshot(&self, pop: &str) -> PopReport {
        let requests = self.requests.load(Ordering::Relaxed);
        let edge_hits = self.edge_hits.load(Ordering::Relaxed);
        let regional_hits = self.regional_hits.load(Ordering::Relaxed);
        let per = |v: u64| {
            if requests == 0 {
                0.0
            } else {
                v as f64 / 1000.0 / requests as f64
            }
        };
        PopReport {
            pop: pop.to_owned(),
            requests,
            edge_hits,
            regional_hits,
            origin_fetches: self.origin_fetches.load(Ordering::Relaxed),
            hit_ratio: if requests == 0 {
                0.0
            } else {
                (edge_hits + regional_hits) as f64 / requests as f64
            },
            mean_latency_ms: per(self.latency_us.load(Ordering::Relaxed)),
            mean_latency_without_edge_ms: per(self.latency_direct_us.load(Ordering::Relaxed)),
        }
    }
}
