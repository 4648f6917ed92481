//! `request --redact-others` (Art. 15(4)): in the copies delivered to the
//! person, other people's e-mail addresses, phone numbers, install ids and
//! user ids are masked ([`crashdsr_search::redact::Others`]); the person's
//! own identifiers, and the installs of their crashes and records, stay.
//! The originals are never touched: only the package's copies change, and
//! `SHA256SUMS` is computed on what is delivered. The package records what
//! was masked, as counts per file and type, never values; the report marks
//! each masked span. A file that cannot be masked in place (inside tar,
//! zstd, xz, bzip2 or base64 data) is withheld and listed with why, for
//! the controller to review.

use crashdsr_search::redact::{Others, Spans, mask, mask_object};
use crashdsr_search::{IdKind, Limits, Matcher, SearchReport, Subject};

use crate::Result;
use crate::assemble::Found;
use crate::report::{Redactions, Withheld};

/// Where a masked span starts and ends in the report's text (replaced by
/// `<mark>` tags once the page is escaped).
const OPEN: char = '\u{E000}';
const CLOSE: char = '\u{E001}';

impl Redactions {
    fn count(&mut self, file: &str, spans: &[IdKind]) {
        let counts = self.files.entry(file.to_owned()).or_default();
        for kind in spans {
            *counts.entry(kind.as_str()).or_default() += 1;
        }
    }
}

/// Everyone's identifiers but `subject`'s: theirs, and the installs the
/// search tied to their data, stay.
pub(crate) fn others_of(subject: &Subject, report: &SearchReport) -> Others {
    let installs = report
        .evidence
        .iter()
        .filter(|e| e.subject == subject.label)
        .filter_map(|e| e.install_id.clone());
    Others::new(Matcher::new(vec![subject.clone()]), installs)
}

/// Masks other people's identifiers in every file of `found` and in the
/// texts its report shows.
pub(crate) fn redact(found: &mut Found, others: &Others) -> Result<Redactions> {
    let mut out = Redactions::default();
    for name in found.builder.names() {
        let Some(bytes) = found.builder.read(&name)? else {
            continue;
        };
        match mask_object(&bytes, others, &Limits::default()) {
            Ok(None) => {}
            Ok(Some(m)) => {
                out.count(&name, &m.spans);
                found.builder.add_bytes(&name, m.bytes)?;
            }
            Err(why) => {
                found.builder.remove(&name);
                out.withheld.push(Withheld {
                    file: name,
                    why: why.to_string(),
                });
            }
        }
    }
    let mut n = 0;
    for c in &mut found.view.crashes {
        mark(&mut c.message, others, &mut n);
        c.stack.iter_mut().for_each(|s| mark(s, others, &mut n));
        for a in &mut c.attachments {
            if let Some(t) = &mut a.text {
                mark(t, others, &mut n);
            }
        }
    }
    for r in &mut found.view.activity {
        for (_, v) in &mut r.properties {
            mark(v, others, &mut n);
        }
    }
    out.report_spans = n;
    Ok(out)
}

/// `bytes` of the package's file `name` with other people's identifiers
/// masked, counted in `r`.
pub(crate) fn redact_bytes(
    name: &str,
    bytes: Vec<u8>,
    others: &Others,
    r: &mut Redactions,
) -> Result<Vec<u8>> {
    match mask_object(&bytes, others, &Limits::default()) {
        Ok(None) => Ok(bytes),
        Ok(Some(m)) => {
            r.count(name, &m.spans);
            Ok(m.bytes)
        }
        Err(why) => Err(crate::Error::Request(format!(
            "{name}: other people's data cannot be masked in it: {why}"
        ))),
    }
}

/// Masks the spans of `s`, each between [`OPEN`] and [`CLOSE`].
fn mark(s: &mut String, others: &Others, n: &mut usize) {
    let clean = s.replace([OPEN, CLOSE], "\u{FFFD}");
    let spans = others.spans(clean.as_bytes());
    if spans.is_empty() {
        *s = clean;
        return;
    }
    let bytes = clean.into_bytes();
    let mut out = Vec::with_capacity(bytes.len() + 8 * spans.len());
    let mut at = 0;
    for (range, kind) in spans {
        out.extend_from_slice(&bytes[at..range.start]);
        let mut m = bytes[range.clone()].to_vec();
        mask(&mut m, kind);
        out.extend_from_slice(OPEN.to_string().as_bytes());
        out.extend_from_slice(&m);
        out.extend_from_slice(CLOSE.to_string().as_bytes());
        at = range.end;
        *n += 1;
    }
    out.extend_from_slice(&bytes[at..]);
    *s = String::from_utf8_lossy(&out).into_owned();
}

/// The escaped page with each masked span marked.
pub(crate) fn marks_to_html(html: &str) -> String {
    html.replace(
        OPEN,
        "<mark class=\"redacted\" title=\"another person's data, masked\">",
    )
    .replace(CLOSE, "</mark>")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn report_text_is_masked_between_marks() {
        let jane = Subject::from_specs("jane", &["email=jane@example.com".to_owned()]).unwrap();
        let others = Others::new(Matcher::new(vec![jane]), []);
        let mut s = "jane@example.com wrote to bob@example.org \u{E000}".to_owned();
        let mut n = 0;
        mark(&mut s, &others, &mut n);
        assert_eq!(n, 1);
        assert_eq!(
            marks_to_html(&s),
            "jane@example.com wrote to <mark class=\"redacted\" title=\"another person's data, masked\">xxx@xxxxxxx.xxx</mark> \u{FFFD}"
        );
    }
}
