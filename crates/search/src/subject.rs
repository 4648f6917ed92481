//! Subjects: the people a search is for, each a set of typed identifiers,
//! from `--subject TYPE=VALUE` or a JSON Lines file.

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// The kind of an identifier.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum IdKind {
    /// The developer-set user id (`userId`, `UserId`, `user_name`).
    UserId,
    /// An e-mail address (case-insensitive).
    Email,
    /// An App Center install id (a GUID; `InstallId`, `install_id`).
    InstallId,
    /// A phone number.
    Phone,
    /// A person's name (case-insensitive).
    Name,
    /// Any literal text.
    Text,
    /// A regular expression.
    Regex,
}

impl IdKind {
    /// The spelling in `--subject` and in output.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::UserId => "user-id",
            Self::Email => "email",
            Self::InstallId => "install-id",
            Self::Phone => "phone",
            Self::Name => "name",
            Self::Text => "text",
            Self::Regex => "regex",
        }
    }

    fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "user-id" => Self::UserId,
            "email" => Self::Email,
            "install-id" => Self::InstallId,
            "phone" => Self::Phone,
            "name" => Self::Name,
            "text" => Self::Text,
            "regex" => Self::Regex,
            _ => return None,
        })
    }
}

/// One identifier, checked and normalised.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Identifier {
    /// Its kind.
    #[serde(rename = "type")]
    pub kind: IdKind,
    /// The value (emails and install ids in lower case).
    pub value: String,
}

/// Shorter than this many characters, an identifier is only matched in
/// typed fields: in free text it would hit line numbers, ids and prose.
pub(crate) const MIN_FREE_TEXT_LEN: usize = 4;

impl Identifier {
    /// Parses and checks `TYPE=VALUE`.
    pub fn parse(spec: &str) -> Result<Self> {
        let (kind, value) = spec.split_once('=').ok_or_else(|| {
            Error::Subject(format!(
                "{spec:?}: expected TYPE=VALUE, e.g. email=jane@example.com"
            ))
        })?;
        let kind = IdKind::parse(kind.trim()).ok_or_else(|| {
            Error::Subject(format!(
                "{kind:?}: unknown identifier type (user-id, email, install-id, phone, name, text, regex)"
            ))
        })?;
        Self::new(kind, value)
    }

    /// Checks and normalises a value of `kind`.
    pub fn new(kind: IdKind, value: &str) -> Result<Self> {
        let v = value.trim();
        let bad = |why: &str| Error::Subject(format!("{} identifier: {why}", kind.as_str()));
        if v.is_empty() {
            return Err(bad("the value is empty"));
        }
        if v.chars().any(char::is_control) {
            return Err(bad("the value holds control characters"));
        }
        let value = match kind {
            IdKind::Email => {
                let (local, domain) = v
                    .rsplit_once('@')
                    .ok_or_else(|| bad("not an e-mail address (no @)"))?;
                let ok = !local.is_empty()
                    && !local.contains('@')
                    && domain.contains('.')
                    && !domain.starts_with('.')
                    && !domain.ends_with('.')
                    && !v.contains(char::is_whitespace);
                if !ok {
                    return Err(bad("not an e-mail address"));
                }
                v.to_ascii_lowercase()
            }
            IdKind::InstallId => {
                // Any of .NET's GUID formats: D (hyphens), B (`{…}`), P
                // (`(…)`), N (32 hex digits); kept in the D form.
                let mut g = v
                    .strip_prefix('{')
                    .and_then(|g| g.strip_suffix('}'))
                    .or_else(|| v.strip_prefix('(').and_then(|g| g.strip_suffix(')')))
                    .unwrap_or(v)
                    .to_ascii_lowercase();
                if g.len() == 32 && g.bytes().all(|b| b.is_ascii_hexdigit()) {
                    g = format!(
                        "{}-{}-{}-{}-{}",
                        &g[..8],
                        &g[8..12],
                        &g[12..16],
                        &g[16..20],
                        &g[20..]
                    );
                }
                let parts: Vec<&str> = g.split('-').collect();
                let ok = parts.len() == 5
                    && parts
                        .iter()
                        .zip([8, 4, 4, 4, 12])
                        .all(|(p, n)| p.len() == n && p.bytes().all(|b| b.is_ascii_hexdigit()));
                if !ok {
                    return Err(bad("not a GUID (xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx)"));
                }
                g
            }
            IdKind::Phone => {
                let digits = v.chars().filter(char::is_ascii_digit).count();
                if digits < 6
                    || v.chars()
                        .any(|c| !(c.is_ascii_digit() || " +-().".contains(c)))
                {
                    return Err(bad("not a phone number"));
                }
                v.to_owned()
            }
            IdKind::Regex => {
                regex::bytes::Regex::new(v)
                    .map_err(|e| bad(&format!("the regex does not compile: {e}")))?;
                v.to_owned()
            }
            IdKind::UserId | IdKind::Name | IdKind::Text => v.to_owned(),
        };
        Ok(Self { kind, value })
    }

    /// Whether the value is too short for free text (typed fields only).
    pub fn typed_only(&self) -> bool {
        matches!(self.kind, IdKind::UserId) && self.value.chars().count() < MIN_FREE_TEXT_LEN
    }
}

/// A person: a label and their identifiers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Subject {
    /// A label for output and packages (never an identifier's value).
    pub label: String,
    /// The identifiers.
    pub identifiers: Vec<Identifier>,
}

#[derive(Deserialize)]
struct RawSubject {
    label: String,
    identifiers: Vec<RawIdentifier>,
}

#[derive(Deserialize)]
struct RawIdentifier {
    #[serde(rename = "type")]
    kind: String,
    value: String,
}

impl Subject {
    /// One subject from `--subject` specs.
    pub fn from_specs(label: &str, specs: &[String]) -> Result<Self> {
        if specs.is_empty() {
            return Err(Error::Subject("no identifier given".into()));
        }
        let identifiers = specs
            .iter()
            .map(|s| Identifier::parse(s))
            .collect::<Result<_>>()?;
        Ok(Self {
            label: label.to_owned(),
            identifiers,
        })
    }

    /// Subjects from JSON Lines: `{"label": L, "identifiers": [{"type", "value"}]}`
    /// per line (blank lines skipped). Errors name the line.
    pub fn parse_jsonl(text: &str) -> Result<Vec<Self>> {
        let mut out = Vec::new();
        for (n, line) in text.lines().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            let at = |e: String| Error::Subject(format!("line {}: {e}", n + 1));
            let raw: RawSubject = serde_json::from_str(line).map_err(|e| at(e.to_string()))?;
            if raw.label.trim().is_empty() {
                return Err(at("the label is empty".into()));
            }
            if raw.identifiers.is_empty() {
                return Err(at("no identifiers".into()));
            }
            let mut identifiers = Vec::new();
            for r in raw.identifiers {
                let kind = IdKind::parse(&r.kind)
                    .ok_or_else(|| at(format!("{:?}: unknown identifier type", r.kind)))?;
                identifiers.push(Identifier::new(kind, &r.value).map_err(|e| at(e.to_string()))?);
            }
            out.push(Self {
                label: raw.label,
                identifiers,
            });
        }
        if out.is_empty() {
            return Err(Error::Subject("the subjects file holds no subject".into()));
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_normalises() {
        assert_eq!(
            Identifier::parse("email= Jane@Example.COM ").unwrap().value,
            "jane@example.com"
        );
        let g = Identifier::parse("install-id={6C2A1B1E-0B5D-4C1D-9D0E-7F7B2A6C1E11}").unwrap();
        assert_eq!(g.value, "6c2a1b1e-0b5d-4c1d-9d0e-7f7b2a6c1e11");
        for form in [
            "(6C2A1B1E-0B5D-4C1D-9D0E-7F7B2A6C1E11)",
            "6C2A1B1E0B5D4C1D9D0E7F7B2A6C1E11",
            "{6c2a1b1e0b5d4c1d9d0e7f7b2a6c1e11}",
        ] {
            let g = Identifier::parse(&format!("install-id={form}")).unwrap();
            assert_eq!(g.value, "6c2a1b1e-0b5d-4c1d-9d0e-7f7b2a6c1e11", "{form}");
        }
        assert!(Identifier::parse("user-id=42").unwrap().typed_only());
        assert!(!Identifier::parse("user-id=8841").unwrap().typed_only());
        for bad in [
            "email=jane",
            "email=a@b",
            "email=@x.com",
            "install-id=123",
            "install-id={6c2a1b1e-0b5d-4c1d-9d0e-7f7b2a6c1e11)",
            "install-id=6c2a1b1e0b5d4c1d9d0e7f7b2a6c1e1",
            "phone=abc",
            "phone=12",
            "regex=(",
            "user-id=",
            "colour=red",
            "no-equals",
            "name=a\nb",
        ] {
            assert!(Identifier::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn jsonl_errors_name_the_line() {
        let good =
            r#"{"label":"jane","identifiers":[{"type":"email","value":"jane@example.com"}]}"#;
        assert_eq!(
            Subject::parse_jsonl(&format!("{good}\n\n{good}\n"))
                .unwrap()
                .len(),
            2
        );
        let bad = format!(
            "{good}\n{{\"label\":\"x\",\"identifiers\":[{{\"type\":\"email\",\"value\":\"nope\"}}]}}"
        );
        let e = Subject::parse_jsonl(&bad).unwrap_err().to_string();
        assert!(e.contains("line 2") && e.contains("e-mail"), "{e}");
        assert!(
            Subject::parse_jsonl("not json")
                .unwrap_err()
                .to_string()
                .contains("line 1")
        );
        assert!(Subject::parse_jsonl("").is_err());
    }
}
