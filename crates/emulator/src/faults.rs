//! Fault injection by rule and request count, and the token-bucket rate
//! limit.
//!
//! A fault spec is a comma-separated list of rules `KIND@TRIGGER[@PATH]`:
//!
//! | KIND | effect |
//! | --- | --- |
//! | `500`, `502`, `503`, `408` | that status with an App Center error body |
//! | `429` | 429 without `Retry-After`; `429+ra=SECS` with it |
//! | `reset` | the connection is dropped before any body byte |
//! | `truncate` | a complete HTTP answer whose body is cut in half |
//! | `delay=MS` | the answer is held back MS milliseconds |
//!
//! | TRIGGER | matches request number n (1-based, counted over matching paths) |
//! | --- | --- |
//! | `every=N` | n % N == 0 |
//! | `nth=N` | n == N |
//! | `first=N` | n <= N |
//! | `p=F` | a seeded pseudo-random fraction F of requests |
//!
//! `PATH` restricts the rule to request paths containing that text.
//! Example: `503@every=10,429+ra=1@nth=3,truncate@p=0.05@/errors/`.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use crate::dataset::mix;

/// What a rule does to a request.
#[derive(Debug, Clone, PartialEq)]
pub enum FaultKind {
    /// Answer with this status.
    Status(u16),
    /// 429, with `Retry-After` seconds when `Some`.
    TooMany(Option<u64>),
    /// Drop the connection.
    Reset,
    /// Cut the body in half.
    Truncate,
    /// Delay the answer.
    Delay(Duration),
}

/// When a rule fires.
#[derive(Debug, Clone, PartialEq)]
pub enum Trigger {
    /// Every Nth request.
    Every(u64),
    /// Exactly the Nth.
    Nth(u64),
    /// The first N.
    First(u64),
    /// A seeded fraction.
    Fraction(f64),
}

/// One rule.
#[derive(Debug)]
pub struct FaultRule {
    /// Effect.
    pub kind: FaultKind,
    /// When.
    pub trigger: Trigger,
    /// Only paths containing this.
    pub path: Option<String>,
    count: AtomicU64,
}

/// Parsed fault rules.
#[derive(Debug, Default)]
pub struct Faults {
    rules: Vec<FaultRule>,
    seed: u64,
}

/// A bad fault spec, worded like `format!`.
macro_rules! spec_error {
    ($($why:tt)*) => {
        crate::Error::Spec(format!($($why)*))
    };
}

impl Faults {
    /// Parses a spec (see the module docs). `seed` drives `p=` triggers.
    pub fn parse(spec: &str, seed: u64) -> Result<Self, crate::Error> {
        let mut rules = Vec::new();
        for raw in spec.split(',').map(str::trim).filter(|r| !r.is_empty()) {
            let mut parts = raw.splitn(3, '@');
            let kind = parts.next().unwrap_or_default();
            let trigger = parts.next().ok_or_else(|| {
                spec_error!("fault rule {raw:?}: expected KIND@TRIGGER, e.g. 503@every=10")
            })?;
            let path = parts.next().map(str::to_owned);
            let kind = match kind {
                "reset" => FaultKind::Reset,
                "truncate" => FaultKind::Truncate,
                "429" => FaultKind::TooMany(None),
                k if k.starts_with("429+ra=") => FaultKind::TooMany(Some(
                    k["429+ra=".len()..]
                        .parse()
                        .map_err(|_| spec_error!("fault rule {raw:?}: bad Retry-After"))?,
                )),
                k if k.starts_with("delay=") => FaultKind::Delay(Duration::from_millis(
                    k["delay=".len()..]
                        .parse()
                        .map_err(|_| spec_error!("fault rule {raw:?}: bad delay"))?,
                )),
                k => match k.parse::<u16>() {
                    Ok(s @ (408 | 500..=599)) => FaultKind::Status(s),
                    _ => return Err(spec_error!("fault rule {raw:?}: unknown kind {k:?}")),
                },
            };
            let (name, value) = trigger.split_once('=').ok_or_else(|| {
                spec_error!("fault rule {raw:?}: trigger must be every=N, nth=N, first=N or p=F")
            })?;
            let n = || {
                value.parse::<u64>().ok().filter(|n| *n > 0).ok_or_else(|| {
                    spec_error!("fault rule {raw:?}: {value:?} is not a positive whole number")
                })
            };
            let trigger = match name {
                "every" => Trigger::Every(n()?),
                "nth" => Trigger::Nth(n()?),
                "first" => Trigger::First(n()?),
                "p" => Trigger::Fraction(
                    value
                        .parse::<f64>()
                        .ok()
                        .filter(|f| (0.0..=1.0).contains(f))
                        .ok_or_else(|| {
                            spec_error!("fault rule {raw:?}: p must be between 0 and 1")
                        })?,
                ),
                _ => return Err(spec_error!("fault rule {raw:?}: unknown trigger {name:?}")),
            };
            rules.push(FaultRule {
                kind,
                trigger,
                path,
                count: AtomicU64::new(0),
            });
        }
        Ok(Self { rules, seed })
    }

    /// The faults that fire for this request, in rule order.
    pub fn check(&self, path: &str) -> Vec<FaultKind> {
        let mut out = Vec::new();
        for (r, rule) in self.rules.iter().enumerate() {
            if rule.path.as_deref().is_some_and(|p| !path.contains(p)) {
                continue;
            }
            let n = rule.count.fetch_add(1, Ordering::Relaxed) + 1;
            let fire = match rule.trigger {
                Trigger::Every(k) => n % k == 0,
                Trigger::Nth(k) => n == k,
                Trigger::First(k) => n <= k,
                Trigger::Fraction(f) => {
                    (mix(self.seed ^ mix(n ^ (r as u64) << 48)) >> 11) as f64 / (1u64 << 53) as f64
                        <= f
                        && f > 0.0
                }
            };
            if fire {
                out.push(rule.kind.clone());
            }
        }
        out
    }

    /// Whether no rule is set.
    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }
}

/// A token bucket: `capacity` tokens, refilled at `capacity / per`.
#[derive(Debug)]
pub struct TokenBucket {
    capacity: f64,
    per_sec: f64,
    state: std::sync::Mutex<(f64, Instant)>,
}

impl TokenBucket {
    /// A full bucket.
    pub fn new(capacity: u32, per: Duration) -> Self {
        let capacity = f64::from(capacity);
        Self {
            capacity,
            per_sec: capacity / per.as_secs_f64(),
            state: std::sync::Mutex::new((capacity, Instant::now())),
        }
    }

    /// Takes a token, or says how long until one is free.
    pub fn take(&self) -> Result<(), Duration> {
        let mut st = self.state.lock().expect("bucket lock");
        let now = Instant::now();
        let tokens =
            (st.0 + now.duration_since(st.1).as_secs_f64() * self.per_sec).min(self.capacity);
        *st = (tokens, now);
        if tokens >= 1.0 {
            st.0 -= 1.0;
            Ok(())
        } else {
            Err(Duration::from_secs_f64((1.0 - tokens) / self.per_sec))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_fires_by_count() {
        let f = Faults::parse(
            "503@every=3, 429+ra=2@nth=2, reset@first=1@/errors/, delay=5@p=1",
            1,
        )
        .unwrap();
        let fired: Vec<_> = (0..4).map(|_| f.check("/v0.1/apps/o/a/errors/x")).collect();
        assert_eq!(
            fired[0],
            vec![FaultKind::Reset, FaultKind::Delay(Duration::from_millis(5))]
        );
        assert_eq!(
            fired[1],
            vec![
                FaultKind::TooMany(Some(2)),
                FaultKind::Delay(Duration::from_millis(5))
            ]
        );
        assert_eq!(
            fired[2],
            vec![
                FaultKind::Status(503),
                FaultKind::Delay(Duration::from_millis(5))
            ]
        );
        // The path filter keeps its own count.
        assert!(!f.check("/other").contains(&FaultKind::Reset));
    }

    #[test]
    fn fraction_is_reproducible() {
        let count = |seed| {
            let f = Faults::parse("500@p=0.1", seed).unwrap();
            (0..10_000).filter(|_| !f.check("/").is_empty()).count()
        };
        let a = count(5);
        assert_eq!(a, count(5));
        assert!((800..1200).contains(&a), "{a}");
    }

    #[test]
    fn rejects_bad_rules() {
        for bad in [
            "503",
            "503@every=0",
            "200@every=1",
            "x@every=1",
            "500@sometimes=1",
            "500@p=2",
            "429+ra=x@nth=1",
        ] {
            assert!(Faults::parse(bad, 0).is_err(), "{bad}");
        }
    }

    #[test]
    fn bucket_refuses_when_empty() {
        let b = TokenBucket::new(2, Duration::from_secs(10));
        assert!(b.take().is_ok());
        assert!(b.take().is_ok());
        let wait = b.take().unwrap_err();
        assert!(
            wait > Duration::from_secs(4) && wait <= Duration::from_secs(5),
            "{wait:?}"
        );
    }
}
