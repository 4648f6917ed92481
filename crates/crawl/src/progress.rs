//! Progress reporting, kept out of the library: the binary draws bars.

/// Receives progress of a long step.
pub trait Progress: Send + Sync {
    /// The total is known (or grew).
    fn set_total(&self, total: u64);
    /// `n` more items are done.
    fn inc(&self, n: u64);
    /// A short status line (requests spent, rate).
    fn message(&self, msg: String);
}

/// Reports nothing.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoProgress;

impl Progress for NoProgress {
    fn set_total(&self, _: u64) {}
    fn inc(&self, _: u64) {}
    fn message(&self, _: String) {}
}
