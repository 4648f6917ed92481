//! A timestamp type that reads every form the service and the spec use.
//!
//! Microsoft's own Python client, tested against the live service, decodes
//! `YYYY-MM-DDTHH:MM:SSZ` and the same with fractional seconds. The spec says
//! RFC 3339. We accept both, plus an explicit offset and a missing zone
//! (taken as UTC), and write the live service's form: whole seconds with `Z`,
//! or milliseconds when the value has them.

use std::fmt;

use chrono::{DateTime, NaiveDateTime, SubsecRound, Utc};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A UTC instant as the App Center API writes it.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(pub DateTime<Utc>);

impl Timestamp {
    /// Parses any accepted form; `None` when it is not a timestamp.
    pub fn parse(s: &str) -> Option<Self> {
        let s = s.trim();
        if let Ok(t) = DateTime::parse_from_rfc3339(s) {
            return Some(Self(t.with_timezone(&Utc)));
        }
        for fmt in [
            "%Y-%m-%dT%H:%M:%S%.f",
            "%Y-%m-%d %H:%M:%S%.f",
            "%Y-%m-%dT%H:%M:%S%.fZ",
        ] {
            if let Ok(t) = NaiveDateTime::parse_from_str(s, fmt) {
                return Some(Self(t.and_utc()));
            }
        }
        None
    }

    /// Whole seconds since the Unix epoch.
    pub fn unix(&self) -> i64 {
        self.0.timestamp()
    }

    /// The instant truncated to milliseconds (what the wire form keeps).
    pub fn from_unix_millis(ms: i64) -> Self {
        Self(DateTime::from_timestamp_millis(ms).unwrap_or_default())
    }

    /// Milliseconds since the Unix epoch.
    pub fn unix_millis(&self) -> i64 {
        self.0.timestamp_millis()
    }

    /// Now, truncated to milliseconds.
    pub fn now() -> Self {
        Self(Utc::now().trunc_subsecs(3))
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.timestamp_subsec_millis() == 0 {
            write!(f, "{}", self.0.format("%Y-%m-%dT%H:%M:%SZ"))
        } else {
            write!(f, "{}", self.0.format("%Y-%m-%dT%H:%M:%S%.3fZ"))
        }
    }
}

impl fmt::Debug for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        Self::parse(&s).ok_or_else(|| serde::de::Error::custom(format!("not a timestamp: {s:?}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_every_form_and_writes_the_live_one() {
        let forms = [
            "2024-03-20T17:45:10Z",
            "2024-03-20T17:45:10.000Z",
            "2024-03-20T17:45:10+00:00",
            "2024-03-20T18:45:10+01:00",
            "2024-03-20T17:45:10",
            "2024-03-20T17:45:10.0000000Z",
        ];
        for f in forms {
            let t = Timestamp::parse(f).unwrap_or_else(|| panic!("{f}"));
            assert_eq!(t.to_string(), "2024-03-20T17:45:10Z", "{f}");
        }
        let t = Timestamp::parse("2022-09-23T17:06:20.036948Z").unwrap();
        assert_eq!(t.to_string(), "2022-09-23T17:06:20.036Z");
        assert!(Timestamp::parse("yesterday").is_none());
        assert!(serde_json::from_str::<Timestamp>("\"2024-13-01T00:00:00Z\"").is_err());
    }
}
