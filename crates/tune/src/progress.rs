//! How a run reports its progress: the binary draws a bar on a terminal, plain lines elsewhere.

/// Receives a run's progress.
pub trait Progress: Send + Sync {
    /// The run will make about `total` invocations.
    fn start(&self, total: u64);
    /// `n` invocations done (or skipped); `what` says which.
    fn advance(&self, n: u64, what: &str);
    /// A line worth showing on its own (a size found not viable, a phase begins).
    fn note(&self, line: &str);
    fn finish(&self);
}

/// Shows nothing.
pub struct Silent;

impl Progress for Silent {
    fn start(&self, _total: u64) {}
    fn advance(&self, _n: u64, _what: &str) {}
    fn note(&self, _line: &str) {}
    fn finish(&self) {}
}
