//! Hit and miss counters per stage and per method (API Gateway's CacheHitCount and
//! CacheMissCount, with the `Stage` and `Method+Resource+Stage` dimensions).

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

/// Whether a request was served from the cache.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CacheOutcome {
    /// Served from the cache.
    Hit,
    /// Served from the backend while caching was on.
    Miss,
}

impl CacheOutcome {
    /// `"hit"` or `"miss"`: the `cache_status` field in logs and metrics.
    pub fn as_str(self) -> &'static str {
        match self {
            CacheOutcome::Hit => "hit",
            CacheOutcome::Miss => "miss",
        }
    }
}

#[derive(Debug, Default)]
struct Counters {
    hits: AtomicU64,
    misses: AtomicU64,
}

impl Counters {
    fn add(&self, outcome: CacheOutcome) {
        match outcome {
            CacheOutcome::Hit => self.hits.fetch_add(1, Ordering::Relaxed),
            CacheOutcome::Miss => self.misses.fetch_add(1, Ordering::Relaxed),
        };
    }
}

#[derive(Debug, Default)]
struct Stage {
    counters: Arc<Counters>,
    methods: BTreeMap<String, Arc<Counters>>,
}

/// The counters of one stage and one method in it, resolved once (at deployment) so that
/// recording is two atomic increments and no lookup.
#[derive(Clone, Debug)]
pub struct MethodMetrics {
    stage: Arc<Counters>,
    method: Arc<Counters>,
}

impl MethodMetrics {
    /// Counts one request.
    pub fn record(&self, outcome: CacheOutcome) {
        self.stage.add(outcome);
        self.method.add(outcome);
    }
}

/// Hit and miss counters for every stage and method that asked for them.
///
/// ```
/// use ledge_cache::{CacheMetrics, CacheOutcome};
/// let metrics = CacheMetrics::default();
/// let get_pets = metrics.method("prod", "/pets/GET");
/// get_pets.record(CacheOutcome::Miss);
/// get_pets.record(CacheOutcome::Hit);
/// let snap = metrics.snapshot();
/// assert_eq!((snap.stages[0].hits, snap.stages[0].misses), (1, 1));
/// assert_eq!(snap.stages[0].methods[0].method, "/pets/GET");
/// ```
#[derive(Debug, Default)]
pub struct CacheMetrics {
    stages: Mutex<BTreeMap<String, Stage>>,
}

/// One method's counts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MethodSnapshot {
    /// The method key, e.g. `/pets/{id}/GET`.
    pub method: String,
    /// CacheHitCount.
    pub hits: u64,
    /// CacheMissCount.
    pub misses: u64,
}

/// One stage's counts and its methods'.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StageSnapshot {
    /// The stage name.
    pub stage: String,
    /// CacheHitCount for the stage.
    pub hits: u64,
    /// CacheMissCount for the stage.
    pub misses: u64,
    /// Per-method counts, sorted by method key.
    pub methods: Vec<MethodSnapshot>,
}

/// Every stage's counts, sorted by stage name.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MetricsSnapshot {
    /// The stages.
    pub stages: Vec<StageSnapshot>,
}

impl MetricsSnapshot {
    /// The counts of `stage`, if it recorded anything.
    pub fn stage(&self, stage: &str) -> Option<&StageSnapshot> {
        self.stages.iter().find(|s| s.stage == stage)
    }
}

impl StageSnapshot {
    /// The counts of `method` in this stage.
    pub fn method(&self, method: &str) -> Option<&MethodSnapshot> {
        self.methods.iter().find(|m| m.method == method)
    }
}

impl CacheMetrics {
    /// The counters for `method` (e.g. `/pets/{id}/GET`) in `stage`, made on first use.
    pub fn method(&self, stage: &str, method: &str) -> MethodMetrics {
        let mut stages = self.stages.lock().unwrap_or_else(|e| e.into_inner());
        let entry = stages.entry(stage.to_owned()).or_default();
        let method = Arc::clone(entry.methods.entry(method.to_owned()).or_default());
        MethodMetrics {
            stage: Arc::clone(&entry.counters),
            method,
        }
    }

    /// Counts one request by name (a map lookup under a mutex; on hot paths hold a
    /// [`MethodMetrics`] instead).
    pub fn record(&self, stage: &str, method: &str, outcome: CacheOutcome) {
        self.method(stage, method).record(outcome);
    }

    /// The counts now.
    pub fn snapshot(&self) -> MetricsSnapshot {
        let stages = self.stages.lock().unwrap_or_else(|e| e.into_inner());
        let load = |c: &Counters| {
            (
                c.hits.load(Ordering::Relaxed),
                c.misses.load(Ordering::Relaxed),
            )
        };
        MetricsSnapshot {
            stages: stages
                .iter()
                .map(|(name, stage)| {
                    let (hits, misses) = load(&stage.counters);
                    StageSnapshot {
                        stage: name.clone(),
                        hits,
                        misses,
                        methods: stage
                            .methods
                            .iter()
                            .map(|(method, c)| {
                                let (hits, misses) = load(c);
                                MethodSnapshot {
                                    method: method.clone(),
                                    hits,
                                    misses,
                                }
                            })
                            .collect(),
                    }
                })
                .collect(),
        }
    }
}
