//! The pacer: requests spaced evenly under an adaptive rate that is cut on
//! a 429 and recovers afterwards.
//!
//! Requests are spaced `1 / rate` apart (no bursts), which keeps a token
//! bucket of the same rate full without ever going over it. The rate moves
//! the way CUBIC moves a congestion window (and the AWS SDKs' "adaptive"
//! retry mode moves its send rate):
//!
//! * **Cut.** A 429 that counts (below) sets the ceiling `w` to the rate
//!   the server let through over the last `max(per, 10 s)` (never above the
//!   rate that met the 429), and drops the rate to `BETA * w`. If it
//!   carried `Retry-After`, no request leaves before that has passed.
//! * **Recover.** From the end of that wait the rate follows
//!   `w * (1 - (1 - BETA) * (1 - t / k)^3)`: concave up to `w` at `t = k`,
//!   flat around it, then convex beyond it, probing for room, never above
//!   the configured rate. `k` is the time `RECOVERY_REQUESTS` requests take
//!   at `w`, within `[MIN_RECOVERY, MAX_RECOVERY]`.
//! * **Which 429s count.** The first one does. While recovering below the
//!   ceiling, a 429 counts only if 429s are dense (at least `DENSE_SHARE`
//!   of the last `WINDOW` answers) or the ceiling is over `TOO_HIGH` times
//!   what the server accepted; any other waits alone for its `Retry-After`.
//!   Such a 429, once in-flight answers have passed, comes while a real
//!   limit would be refilling (the ceiling is what the server accepted), so
//!   it is the server's own noise: a front door, an overloaded backend, a
//!   budget shared with other clients. While probing above the ceiling the
//!   first 429 counts, unless the last recovery saw such noise: then only
//!   dense ones do. A pacer that cut on every 429 ratchets toward
//!   zero under noise; this one keeps its pace.
//!
//! Against a real limit the pacer settles into cycles of about `2k`, each
//! costing the one 429 that ends the probe (plus answers in flight). The
//! constants were chosen by running the simulation in this module's tests
//! (eight workers, 20 ms round trips, a token bucket of 50/s holding 50,
//! `Retry-After: 1`) and checked against the emulator (BENCHMARKS.md):
//!
//! | constant | value | why |
//! | --- | ---: | --- |
//! | `BETA` | 0.9 | a cycle averages about `1 - (1 - BETA) / 8` = 98.75% of the ceiling |
//! | `RECOVERY_REQUESTS` | 150 | about 300 requests a cycle: one 429 a cycle is well under 1% |
//! | ceiling | the accepted rate | a ceiling 5% above it made real-limit 429s look like noise without `Retry-After` (7% of 429s, simulated and on the emulator) |
//! | `MIN_RECOVERY` / `MAX_RECOVERY` | 1 s / 600 s | quick at high rates; App Center's 500/300 s recovers in 90 s |
//! | `WINDOW`, `DENSE_SHARE` | 40, 20% | 3% of sporadic 429s almost never look dense |
//! | `TOO_HIGH`, `MIN_SPAN` | 1.3, 2 s | a ceiling set during an initial burst comes down within a cycle |
//!
//! Simulated, 240 s, second half: starting at 50/s against the 50/s bucket,
//! 50.07/s accepted and no 429; starting at 100/s, 50.41/s accepted with
//! 0.64% 429s, or 50.07/s with 0.36% when 429s carry no `Retry-After`. With
//! no limit and 3% sporadic 429s at 200/s, the rate is back at 200/s after
//! 5 cuts, and 70% of the clean throughput is answered (each 429 still
//! idles its own worker for a second).

use std::collections::VecDeque;
use std::time::Duration;

use tokio::sync::Mutex;
use tokio::time::Instant;

/// The multiplicative decrease: a cut drops the rate to this share of the
/// ceiling.
const BETA: f64 = 0.9;
/// Requests at the ceiling's rate that the recovery back to it takes.
const RECOVERY_REQUESTS: f64 = 150.0;
/// Bounds of the recovery time.
const MIN_RECOVERY: Duration = Duration::from_secs(1);
const MAX_RECOVERY: Duration = Duration::from_secs(600);
/// Recent answers looked at to tell dense 429s from sporadic ones.
const WINDOW: usize = 40;
/// Share of 429s among the last `WINDOW` answers that makes them dense.
const DENSE_SHARE: f64 = 0.2;
/// A ceiling this many times the accepted rate is wrong.
const TOO_HIGH: f64 = 1.3;
/// The shortest time over which an accepted rate means anything.
const MIN_SPAN: Duration = Duration::from_secs(2);
/// Fewest answers before a share means anything.
const MIN_ANSWERS: usize = 10;
/// The rate never drops below this share of the configured rate.
const FLOOR_SHARE: f64 = 0.01;

/// A request rate: `requests` per `per`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RateLimit {
    /// Requests allowed in each period.
    pub requests: u32,
    /// The period.
    pub per: Duration,
}

/// A rate limit that cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("rate limit {spec:?}: {why}")]
pub struct BadRate {
    /// What was given.
    pub spec: String,
    /// What is wrong with it.
    pub why: String,
}

impl RateLimit {
    /// App Center's documented limit: 500 requests per 5 minutes per IP.
    pub const APP_CENTER: Self = Self {
        requests: 500,
        per: Duration::from_secs(300),
    };

    /// Parses `N/SECS` (`500/300`) or `N/Ns`, `N/Nm` (`500/5m`).
    pub fn parse(s: &str) -> Result<Self, BadRate> {
        let bad = |why: String| BadRate {
            spec: s.to_owned(),
            why,
        };
        let (n, p) = s
            .split_once('/')
            .ok_or_else(|| bad("expected N/SECS, e.g. 500/300".into()))?;
        let requests: u32 = n
            .trim()
            .parse()
            .map_err(|_| bad(format!("{n:?} is not a whole number")))?;
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
            .map_err(|_| bad(format!("{p:?} is not a number of seconds")))?;
        if requests == 0 || !(secs > 0.0 && secs.is_finite()) {
            return Err(bad("both parts must be positive".into()));
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

/// What the pacer is doing, for progress lines and `status`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PacerSnapshot {
    /// The rate requests are sent at now (requests per second).
    pub rate_per_sec: f64,
    /// The configured rate, which the pacer never exceeds.
    pub max_per_sec: f64,
    /// 429 answers in the last minute.
    pub throttled_last_minute: u64,
    /// 429 answers since the client was built.
    pub throttled: u64,
    /// 429s that cut the rate (the rest waited on their own).
    pub cuts: u64,
}

impl PacerSnapshot {
    /// The pacer runs more than 1% below the configured rate.
    pub fn slowed(&self) -> bool {
        self.rate_per_sec < 0.99 * self.max_per_sec
    }
}

/// What a 429 did to the pacer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Throttle {
    /// The rate was cut and every request waits for `Retry-After`.
    Cut,
    /// Counted as sporadic: only the request that got it waits.
    Sporadic,
}

#[derive(Debug)]
struct State {
    /// The configured rate.
    max: f64,
    /// The ceiling found at the last cut.
    ceiling: f64,
    last_cut: Option<Instant>,
    next: Instant,
    /// No request leaves before this (the `Retry-After` of the last cut).
    hold_until: Instant,
    /// The current recovery has seen 429s that came whatever the rate.
    noise_in_phase: bool,
    /// The last recovery did.
    noisy: bool,
    throttled: u64,
    cuts: u64,
    started: Instant,
    /// Completion times of accepted requests inside `window`.
    accepted: VecDeque<Instant>,
    /// Times of 429s in the last minute.
    recent_429: VecDeque<Instant>,
    /// The last `WINDOW` answers, `true` for a 429.
    answers: VecDeque<bool>,
}

impl State {
    fn floor(&self) -> f64 {
        self.max * FLOOR_SHARE
    }

    fn recovery(&self) -> Duration {
        Duration::from_secs_f64(RECOVERY_REQUESTS / self.ceiling).clamp(MIN_RECOVERY, MAX_RECOVERY)
    }

    /// The rate at `now`.
    fn rate(&self, now: Instant) -> f64 {
        let Some(cut) = self.last_cut else {
            return self.max;
        };
        let t = now.saturating_duration_since(cut).as_secs_f64() / self.recovery().as_secs_f64();
        let r = self.ceiling * (1.0 - (1.0 - BETA) * (1.0 - t).powi(3));
        r.clamp(self.floor(), self.max)
    }

    /// Still below the ceiling, on the way back up.
    fn recovering(&self, now: Instant) -> bool {
        self.last_cut
            .is_some_and(|cut| now.saturating_duration_since(cut) < self.recovery())
    }

    fn remember(&mut self, throttled: bool) {
        if self.answers.len() == WINDOW {
            self.answers.pop_front();
        }
        self.answers.push_back(throttled);
    }

    fn dense(&self) -> bool {
        let n = self.answers.len();
        n >= MIN_ANSWERS
            && self.answers.iter().filter(|t| **t).count() as f64 >= DENSE_SHARE * n as f64
    }

    /// What the server let through lately, once there is enough of it:
    /// accepted requests per second over the last `window` (or since the
    /// start, if that is at least `MIN_SPAN` ago).
    fn accepted_rate(&self, now: Instant, window: Duration) -> Option<f64> {
        let span = now.duration_since(self.started).min(window);
        (self.accepted.len() >= MIN_ANSWERS && span >= MIN_SPAN)
            .then(|| self.accepted.len() as f64 / span.as_secs_f64())
    }
}

/// The pacer. Shared by every request of one client.
#[derive(Debug)]
pub(crate) struct Limiter {
    state: Mutex<State>,
    window: Duration,
}

impl Limiter {
    pub(crate) fn new(rate: RateLimit) -> Self {
        let now = Instant::now();
        let max = rate.per_second();
        Self {
            state: Mutex::new(State {
                max,
                ceiling: max,
                last_cut: None,
                next: now,
                hold_until: now,
                noise_in_phase: false,
                noisy: false,
                throttled: 0,
                cuts: 0,
                started: now,
                accepted: VecDeque::new(),
                recent_429: VecDeque::new(),
                answers: VecDeque::with_capacity(WINDOW),
            }),
            window: rate.per.max(Duration::from_secs(10)),
        }
    }

    /// Waits for this request's slot.
    pub(crate) async fn acquire(&self) {
        let slot = {
            let mut st = self.state.lock().await;
            let now = Instant::now();
            let slot = st.next.max(now);
            let rate = st.rate(slot);
            st.next = slot + Duration::from_secs_f64(1.0 / rate);
            slot
        };
        tokio::time::sleep_until(slot).await;
    }

    /// Called when the server accepted a request.
    pub(crate) async fn accepted(&self) {
        let mut st = self.state.lock().await;
        let now = Instant::now();
        st.remember(false);
        st.accepted.push_back(now);
        while st
            .accepted
            .front()
            .is_some_and(|t| now.duration_since(*t) > self.window)
        {
            st.accepted.pop_front();
        }
    }

    /// Called on a 429: cut the rate if it counts, and say whether the
    /// pacer now holds every request back for `retry_after`.
    pub(crate) async fn throttled(&self, retry_after: Option<Duration>) -> Throttle {
        let mut st = self.state.lock().await;
        let now = Instant::now();
        st.throttled += 1;
        st.recent_429.push_back(now);
        st.remember(true);
        let rate = st.rate(now);
        let dense = st.dense();
        let accepted = st.accepted_rate(now, self.window);
        // The server has let through far less than the ceiling: the
        // ceiling is wrong, whatever else is going on.
        let too_high = accepted.is_some_and(|a| st.ceiling > TOO_HIGH * a);
        let counts = match st.last_cut {
            None => true,
            Some(cut) if st.recovering(now) => {
                let gap = Duration::from_secs_f64(8.0 / rate).max(Duration::from_millis(250));
                let settled = now >= cut + gap;
                if settled && !dense && !too_high {
                    // Below the ceiling, where a real limit is refilling:
                    // this one is not ours.
                    st.noise_in_phase = true;
                }
                settled && (dense || too_high)
            }
            // Probing above the ceiling: the limit is found, unless the
            // last recovery showed 429s that come whatever the rate.
            Some(_) => !st.noisy || dense || too_high,
        };
        if !counts {
            return Throttle::Sporadic;
        }
        // The ceiling is the rate the server let through lately, never more
        // than the rate that met the 429.
        let ceiling = accepted.map_or(rate, |a| rate.min(a));
        st.ceiling = ceiling.max(st.floor());
        let hold = retry_after.unwrap_or_default();
        st.hold_until = st.hold_until.max(now + hold);
        st.next = st.next.max(st.hold_until);
        // Recovery starts when requests leave again.
        st.last_cut = Some(st.hold_until);
        st.noisy = std::mem::take(&mut st.noise_in_phase);
        st.cuts += 1;
        st.answers.clear();
        tracing::debug!(
            ceiling = st.ceiling,
            rate_per_sec = st.rate(now),
            "Throttled by the server; cutting the request rate."
        );
        Throttle::Cut
    }

    /// The pacer's state now.
    pub(crate) async fn snapshot(&self) -> PacerSnapshot {
        let mut st = self.state.lock().await;
        let now = Instant::now();
        while st
            .recent_429
            .front()
            .is_some_and(|t| now.duration_since(*t) > Duration::from_secs(60))
        {
            st.recent_429.pop_front();
        }
        PacerSnapshot {
            rate_per_sec: st.rate(now),
            max_per_sec: st.max,
            throttled_last_minute: st.recent_429.len() as u64,
            throttled: st.throttled,
            cuts: st.cuts,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    fn per_second(requests: u32) -> RateLimit {
        RateLimit {
            requests,
            per: Duration::from_secs(1),
        }
    }

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
    async fn paces_evenly() {
        let l = Limiter::new(per_second(10));
        let start = Instant::now();
        for _ in 0..11 {
            l.acquire().await;
        }
        assert_eq!(start.elapsed(), Duration::from_secs(1));
    }

    /// The scripted sequence: a 429 with `Retry-After`, answers still in
    /// flight, sporadic 429s, a dense burst, then quiet.
    #[tokio::test(start_paused = true)]
    async fn cuts_waits_for_retry_after_and_recovers() {
        let l = Limiter::new(per_second(100));
        // Ten seconds at 50/s accepted: the server's real rate.
        for _ in 0..500 {
            tokio::time::advance(Duration::from_millis(20)).await;
            l.accepted().await;
        }
        // The first 429 sets the ceiling just above what the server let
        // through, cuts to BETA of it, and holds every request back for
        // its Retry-After.
        assert_eq!(
            l.throttled(Some(Duration::from_secs(1))).await,
            Throttle::Cut
        );
        let s = l.snapshot().await;
        let first = BETA * 50.0;
        assert!((s.rate_per_sec - first).abs() < 0.5, "{s:?}");
        assert!(s.slowed());
        let t = Instant::now();
        l.acquire().await;
        assert_eq!(t.elapsed(), Duration::from_secs(1));
        // Answers to requests already in flight do not cut again.
        assert_eq!(l.throttled(None).await, Throttle::Sporadic);
        assert_eq!(l.snapshot().await.cuts, 1);
        // Sparse 429s while recovering wait on their own; a dense burst
        // cuts again, below the first cut.
        tokio::time::advance(Duration::from_millis(300)).await;
        for _ in 0..9 {
            l.accepted().await;
        }
        // 2 of 11 answers (the one in flight counts) are 429s: sparse.
        assert_eq!(l.throttled(None).await, Throttle::Sporadic);
        // 3 of 12: dense.
        assert_eq!(l.throttled(None).await, Throttle::Cut);
        let s = l.snapshot().await;
        assert_eq!((s.cuts, s.throttled, s.throttled_last_minute), (2, 4, 4));
        assert!(s.rate_per_sec < first, "{s:?}");
        // Quiet: back at the ceiling after the recovery time, then probing
        // up to the configured rate and never above it.
        let (ceiling, k) = {
            let st = l.state.lock().await;
            (st.ceiling, st.recovery())
        };
        tokio::time::advance(k).await;
        let at_k = l.snapshot().await.rate_per_sec;
        assert!((at_k - ceiling).abs() < 1e-6, "{at_k} vs {ceiling}");
        tokio::time::advance(k * 3).await;
        let s = l.snapshot().await;
        assert_eq!(s.rate_per_sec, 100.0);
        assert!(!s.slowed());
        // The last recovery saw sporadic 429s, so a lone one while probing
        // is taken as noise too.
        assert_eq!(l.throttled(None).await, Throttle::Sporadic);
        tokio::time::advance(Duration::from_secs(61)).await;
        assert_eq!(l.snapshot().await.throttled_last_minute, 0);
    }

    /// Without noise in the last recovery, the first 429 while probing
    /// means the limit is found.
    #[tokio::test(start_paused = true)]
    async fn a_429_while_probing_cuts() {
        let l = Limiter::new(per_second(100));
        for _ in 0..500 {
            tokio::time::advance(Duration::from_millis(20)).await;
            l.accepted().await;
        }
        assert_eq!(l.throttled(None).await, Throttle::Cut);
        let k = l.state.lock().await.recovery();
        tokio::time::advance(k + Duration::from_millis(100)).await;
        assert_eq!(l.throttled(None).await, Throttle::Cut);
        assert_eq!(l.snapshot().await.cuts, 2);
    }

    /// A model of a server: an optional token bucket (`limit` a second,
    /// holding `limit`) and 429s with `Retry-After: 1` on a share of the
    /// requests it would accept.
    struct Server {
        limit: Option<f64>,
        tokens: f64,
        refilled: Instant,
        sporadic: f64,
        rng: u64,
    }

    impl Server {
        fn answer(&mut self, now: Instant) -> Option<Duration> {
            self.rng ^= self.rng << 13;
            self.rng ^= self.rng >> 7;
            self.rng ^= self.rng << 17;
            if (self.rng % 10_000) as f64 / 10_000.0 < self.sporadic {
                return Some(Duration::from_secs(1));
            }
            if let Some(limit) = self.limit {
                let dt = now.duration_since(self.refilled).as_secs_f64();
                self.refilled = now;
                self.tokens = (self.tokens + dt * limit).min(limit);
                if self.tokens < 1.0 {
                    return Some(Duration::from_secs(1));
                }
                self.tokens -= 1.0;
            }
            None
        }
    }

    /// What a simulated run saw in its last `window`.
    #[derive(Debug)]
    struct Run {
        accepted_per_sec: f64,
        throttled_share: f64,
        cuts: u64,
        rate: f64,
    }

    /// Eight workers send requests with 10 ms each way through the pacer
    /// for `secs` seconds of virtual time.
    async fn simulate(
        rate: u32,
        limit: Option<f64>,
        sporadic: f64,
        secs: u64,
        retry_after: bool,
    ) -> Run {
        let l = Arc::new(Limiter::new(per_second(rate)));
        let start = Instant::now();
        let server = Arc::new(Mutex::new(Server {
            limit,
            tokens: limit.unwrap_or(0.0),
            refilled: start,
            sporadic,
            rng: 0x2545_F491_4F6C_DD1D,
        }));
        let log = Arc::new(Mutex::new(Vec::new()));
        let end = start + Duration::from_secs(secs);
        let workers: Vec<_> = (0..8)
            .map(|_| {
                let (l, server, log) = (l.clone(), server.clone(), log.clone());
                tokio::spawn(async move {
                    while Instant::now() < end {
                        l.acquire().await;
                        tokio::time::sleep(Duration::from_millis(10)).await;
                        let answer = server.lock().await.answer(Instant::now());
                        tokio::time::sleep(Duration::from_millis(10)).await;
                        log.lock().await.push((Instant::now(), answer.is_some()));
                        match answer {
                            None => l.accepted().await,
                            Some(ra) => {
                                // Without Retry-After the client backs off
                                // on its own (its first backoff is 100 ms).
                                let ra = retry_after.then_some(ra);
                                let t = l.throttled(ra).await;
                                match ra {
                                    Some(ra) if t == Throttle::Sporadic => {
                                        tokio::time::sleep(ra).await
                                    }
                                    Some(_) => {}
                                    None => tokio::time::sleep(Duration::from_millis(100)).await,
                                }
                            }
                        }
                    }
                })
            })
            .collect();
        for w in workers {
            w.await.unwrap();
        }
        let from = start + Duration::from_secs(secs / 2);
        let log = log.lock().await;
        let settled: Vec<bool> = log
            .iter()
            .filter(|(t, _)| *t >= from)
            .map(|e| e.1)
            .collect();
        let throttled = settled.iter().filter(|t| **t).count();
        let s = l.snapshot().await;
        Run {
            accepted_per_sec: (settled.len() - throttled) as f64 / (secs / 2) as f64,
            throttled_share: throttled as f64 / settled.len() as f64,
            cuts: s.cuts,
            rate: s.rate_per_sec,
        }
    }

    #[tokio::test(start_paused = true)]
    async fn settles_under_a_real_limit() {
        for (start, retry_after) in [(50, true), (100, true), (100, false)] {
            let run = simulate(start, Some(50.0), 0.0, 240, retry_after).await;
            eprintln!("real limit 50/s, starting at {start}/s, Retry-After {retry_after}: {run:?}");
            assert!(run.accepted_per_sec >= 0.98 * 50.0, "{run:?}");
            assert!(run.throttled_share <= 0.01, "{run:?}");
        }
    }

    #[tokio::test(start_paused = true)]
    async fn sporadic_429s_do_not_ratchet_the_rate_down() {
        // No real limit; 3% of answers are 429 with Retry-After: 1.
        let clean = simulate(200, None, 0.0, 120, true).await;
        let noisy = simulate(200, None, 0.03, 120, true).await;
        eprintln!("no limit: clean {clean:?}, 3% sporadic 429s {noisy:?}");
        // Back at full rate, after a handful of cuts. Each 429 still costs
        // its own worker a second, so fewer requests are answered (a pacer
        // that cut on every 429 answered 16% of the clean rate here).
        assert_eq!(noisy.rate, 200.0, "{noisy:?}");
        assert!(noisy.cuts <= 10, "{noisy:?}");
        assert!(
            noisy.accepted_per_sec >= 0.6 * clean.accepted_per_sec,
            "{noisy:?} vs {clean:?}"
        );
    }
}
