//! Which source an object came from.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// One of the sources of a command, in the order they were given
/// (`--source` flags). Held as a 0-based position ([`Self::index`]);
/// written and read as the source's number counted from 1
/// ([`Self::number`]) everywhere crashdsr writes one: `search --json`, the
/// package manifest, erasure plans, journals and receipts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SourceId(usize);

impl SourceId {
    /// The source at 0-based position `index`.
    pub const fn new(index: usize) -> Self {
        Self(index)
    }

    /// Its 0-based position among the sources.
    pub const fn index(self) -> usize {
        self.0
    }

    /// Its number, counted from 1, as written in files and shown to users.
    pub const fn number(self) -> usize {
        self.0 + 1
    }
}

impl fmt::Display for SourceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.number())
    }
}

impl Serialize for SourceId {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(self.number() as u64)
    }
}

impl<'de> Deserialize<'de> for SourceId {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let n = u64::deserialize(d)?;
        match usize::try_from(n) {
            Ok(n @ 1..) => Ok(Self(n - 1)),
            _ => Err(serde::de::Error::custom(format!(
                "source {n}: sources are numbered from 1"
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn written_and_read_as_its_number_from_one() {
        let s = SourceId::new(0);
        assert_eq!(serde_json::to_string(&s).unwrap(), "1");
        assert_eq!(s.to_string(), "1");
        assert_eq!(serde_json::from_str::<SourceId>("3").unwrap().index(), 2);
        let zero = serde_json::from_str::<SourceId>("0").unwrap_err();
        assert!(zero.to_string().contains("numbered from 1"), "{zero}");
        assert!(serde_json::from_str::<SourceId>("-1").is_err());
    }
}
