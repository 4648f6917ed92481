//! An adaptive client-side rate limiter that paces requests evenly.
//!
//! Requests are spaced `per / requests` apart (no bursts), which keeps the
//! budget full without ever going over a token bucket of the same rate. On a
//! 429 the rate drops to the lower of 97% of itself and 98% of the rate the
//! server actually let through over the last `max(per, 10 s)` (at most once
//! per cool-down, so one burst of 429s from requests already in flight
//! counts once), and the next slot waits for the server's `Retry-After`. The
//! rate is never raised again: a long crawl settles just under the server's
//! real limit and stays there.

use std::collections::VecDeque;
use std::time::Duration;

use tokio::sync::Mutex;
use tokio::time::Instant;

/// A request rate: `requests` per `per`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RateLimit {
    /// Requests allowed in each period.
    pub requests: u32,
    /// The period.
    pub per: Duration,
}

impl RateLimit {
    /// App Center's documented limit: 500 requests per 5 minutes per IP.
    pub const APP_CENTER: Self = Self {
        requests: 500,
        per: Duration::from_secs(300),
    };

    /// Parses `N/SECS` (`500/300`) or `N/Ns`, `N/Nm` (`500/5m`).
    pub fn parse(s: &str) -> Result<Self, String> {
        let (n, p) = s
            .split_once('/')
            .ok_or_else(|| format!("rate limit {s:?}: expected N/SECS, e.g. 500/300"))?;
        let requests: u32 = n
            .trim()
            .parse()
            .map_err(|_| format!("rate limit {s:?}: {n:?} is not a whole number"))?;
        let p = p.trim();
        let (num, mult) = if let Some(m) = p.strip_suffix('m') {
            (m, 60.0)
        } else if let Some(sec) = p.strip_suffix('s') {
            (sec, 1.0)
        } else {
            (p, 1.0)
        };
        let secs: f64 = num
            .parse()
            .map_err(|_| format!("rate limit {s:?}: {p:?} is not a number of seconds"))?;
        if requests == 0 || !(secs > 0.0 && secs.is_finite()) {
            return Err(format!("rate limit {s:?}: both parts must be positive"));
        }
        Ok(Self {
            requests,
            per: Duration::from_secs_f64(secs * mult),
        })
    }

    /// Requests per second.
    pub fn per_second(&self) -> f64 {
        f64::from(self.requests) / self.per.as_secs_f64()
    }
}

impl std::fmt::Display for RateLimit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.requests, self.per.as_secs_f64())
    }
}

#[derive(Debug)]
struct State {
    interval: Duration,
    next: Instant,
    last_slowdown: Option<Instant>,
    throttled: u64,
    started: Instant,
    /// Completion times of accepted requests inside the window.
    accepted: VecDeque<Instant>,
}

/// The pacer. Shared by every request of one client.
#[derive(Debug)]
pub(crate) struct Limiter {
    state: Mutex<State>,
    backoff_factor: f64,
    window: Duration,
}

impl Limiter {
    pub(crate) fn new(rate: RateLimit) -> Self {
        let now = Instant::now();
        Self {
            state: Mutex::new(State {
                interval: rate.per / rate.requests,
                next: now,
                last_slowdown: None,
                throttled: 0,
                started: now,
                accepted: VecDeque::new(),
            }),
            backoff_factor: 0.97,
            window: rate.per.max(Duration::from_secs(10)),
        }
    }

    /// Waits for this request's slot.
    pub(crate) async fn acquire(&self) {
        let slot = {
            let mut st = self.state.lock().await;
            let now = Instant::now();
            let slot = st.next.max(now);
            st.next = slot + st.interval;
            slot
        };
        tokio::time::sleep_until(slot).await;
    }

    /// Called when the server accepted a request.
    pub(crate) async fn accepted(&self) {
        let mut st = self.state.lock().await;
        let now = Instant::now();
        st.accepted.push_back(now);
        while st
            .accepted
            .front()
            .is_some_and(|t| now.duration_since(*t) > self.window)
        {
            st.accepted.pop_front();
        }
    }

    /// Called on a 429: slow down and respect `Retry-After`.
    pub(crate) async fn throttled(&self, retry_after: Option<Duration>) {
        let mut st = self.state.lock().await;
        let now = Instant::now();
        st.throttled += 1;
        let cooldown = (st.interval * 8).max(Duration::from_millis(250));
        if st
            .last_slowdown
            .is_none_or(|t| now.duration_since(t) >= cooldown)
        {
            let mut interval = st.interval.div_f64(self.backoff_factor);
            // What the server really let through lately, once there is
            // enough of it to mean something.
            let span = now
                .duration_since(st.started)
                .min(self.window)
                .as_secs_f64();
            if st.accepted.len() >= 10 && span > 0.0 {
                let observed = st.accepted.len() as f64 / span;
                interval = interval.max(Duration::from_secs_f64(1.0 / (observed * 0.98)));
            }
            st.interval = interval;
            st.last_slowdown = Some(now);
            tracing::debug!(
                rate_per_sec = 1.0 / st.interval.as_secs_f64(),
                "Throttled by the server; lowering the request rate."
            );
        }
        if let Some(ra) = retry_after {
            st.next = st.next.max(now + ra);
        }
    }

    /// The current rate in requests per second and the number of 429s seen.
    pub(crate) async fn snapshot(&self) -> (f64, u64) {
        let st = self.state.lock().await;
        (1.0 / st.interval.as_secs_f64(), st.throttled)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_rates() {
        assert_eq!(RateLimit::parse("500/300").unwrap(), RateLimit::APP_CENTER);
        assert_eq!(RateLimit::parse("500/5m").unwrap(), RateLimit::APP_CENTER);
        assert_eq!(RateLimit::parse("20/1s").unwrap().per_second(), 20.0);
        for bad in ["", "500", "0/1", "5/0", "x/1", "5/y", "5/-1"] {
            assert!(RateLimit::parse(bad).is_err(), "{bad}");
        }
    }

    #[tokio::test(start_paused = true)]
    async fn paces_evenly_and_slows_down_on_429() {
        let l = Limiter::new(RateLimit {
            requests: 10,
            per: Duration::from_secs(1),
        });
        let start = Instant::now();
        for _ in 0..11 {
            l.acquire().await;
        }
        assert_eq!(start.elapsed(), Duration::from_secs(1));
        l.throttled(Some(Duration::from_secs(2))).await;
        // A second 429 inside the cool-down does not slow down again.
        l.throttled(None).await;
        let (rate, n) = l.snapshot().await;
        assert!((rate - 9.7).abs() < 1e-6, "{rate}");
        assert_eq!(n, 2);
        let t = Instant::now();
        l.acquire().await;
        assert!(
            t.elapsed() >= Duration::from_millis(1900),
            "{:?}",
            t.elapsed()
        );
    }

    #[tokio::test(start_paused = true)]
    async fn settles_just_under_what_the_server_lets_through() {
        let l = Limiter::new(RateLimit {
            requests: 100,
            per: Duration::from_secs(1),
        });
        // The server took 50 a second for ten seconds.
        for _ in 0..500 {
            tokio::time::advance(Duration::from_millis(20)).await;
            l.accepted().await;
        }
        l.throttled(None).await;
        let (rate, _) = l.snapshot().await;
        assert!((48.0..50.0).contains(&rate), "{rate}");
    }
}
