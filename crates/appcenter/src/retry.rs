//! [`RetryConfig`]: how often and how long to retry, with decorrelated jitter.

use std::time::Duration;

/// Retry policy for one request.
#[derive(Debug, Clone)]
pub struct RetryConfig {
    /// Attempts after the first one.
    pub max_retries: u32,
    /// First backoff.
    pub init_backoff: Duration,
    /// Largest single backoff (a server's `Retry-After` may exceed it, up
    /// to `max_retry_after`).
    pub max_backoff: Duration,
    /// The longest `Retry-After` honoured; longer ones fail the request.
    pub max_retry_after: Duration,
    /// Attempts after the first when the connection cannot even be opened
    /// (a wrong or unreachable base URL should fail fast).
    pub max_connect_retries: u32,
}

impl Default for RetryConfig {
    fn default() -> Self {
        Self {
            max_retries: 8,
            init_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_secs(15),
            max_retry_after: Duration::from_secs(600),
            max_connect_retries: 2,
        }
    }
}

/// Decorrelated-jitter backoff ("Exponential Backoff and Jitter", AWS):
/// `next = min(cap, random(base, prev * 3))`.
#[derive(Debug)]
pub(crate) struct Backoff {
    base: Duration,
    cap: Duration,
    prev: Duration,
    rng: u64,
}

impl Backoff {
    pub(crate) fn new(cfg: &RetryConfig, seed: u64) -> Self {
        Self {
            base: cfg.init_backoff,
            cap: cfg.max_backoff,
            prev: cfg.init_backoff,
            rng: seed | 1,
        }
    }

    fn next_random(&mut self) -> f64 {
        // xorshift64*: good enough for jitter and dependency-free.
        self.rng ^= self.rng >> 12;
        self.rng ^= self.rng << 25;
        self.rng ^= self.rng >> 27;
        (self.rng.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 11) as f64 / (1u64 << 53) as f64
    }

    /// The next delay.
    pub(crate) fn next_delay(&mut self) -> Duration {
        let lo = self.base.as_secs_f64();
        let hi = (self.prev.as_secs_f64() * 3.0).max(lo);
        let d = lo + (hi - lo) * self.next_random();
        let d = Duration::from_secs_f64(d).min(self.cap);
        self.prev = d;
        d
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_stay_within_base_and_cap_and_grow() {
        let cfg = RetryConfig::default();
        let mut b = Backoff::new(&cfg, 42);
        let delays: Vec<_> = (0..30).map(|_| b.next_delay()).collect();
        assert!(
            delays
                .iter()
                .all(|d| *d >= cfg.init_backoff && *d <= cfg.max_backoff)
        );
        assert!(
            delays.iter().any(|d| *d > Duration::from_secs(1)),
            "{delays:?}"
        );
        // Same seed, same sequence.
        let mut c = Backoff::new(&cfg, 42);
        assert_eq!(c.next_delay(), delays[0]);
    }
}
