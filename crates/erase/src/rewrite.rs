//! Rewriting a `logs*.v1.data` blob without some of its records, and with
//! the person's identifiers masked in others (records of someone else's
//! crash): every other record stays byte for byte what it was, in the
//! same order, with the blob's own layout (array or JSON Lines, compact or
//! pretty, its byte-order mark, UTF-16 when it was UTF-16).

use crashdsr_search::decode::{Limits, expand};
use crashdsr_search::export::{blob_text, split_device_logs};
use crashdsr_search::redact::{Spans, mask};

/// What a rewrite gives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rewritten {
    /// The new blob.
    pub bytes: Vec<u8>,
    /// Records kept.
    pub kept: usize,
    /// Records dropped.
    pub dropped: usize,
    /// The records of `redact` that held something to mask, masked.
    pub masked: Vec<u32>,
}

/// How the blob's text was encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Encoding {
    Utf8,
    Utf8Bom,
    Utf16Le,
    Utf16Be,
}

fn encoding(bytes: &[u8]) -> Encoding {
    match bytes {
        [0xEF, 0xBB, 0xBF, ..] => Encoding::Utf8Bom,
        [0xFF, 0xFE, ..] => Encoding::Utf16Le,
        [0xFE, 0xFF, ..] => Encoding::Utf16Be,
        _ => Encoding::Utf8,
    }
}

/// Why a blob cannot be rewritten; nothing is written then.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RewriteError {
    /// A record to drop is not in the blob.
    #[error("record {record} is not in the blob ({records} records)")]
    NoSuchRecord {
        /// The record asked for.
        record: u32,
        /// The records the blob holds.
        records: usize,
    },
    /// The blob holds no records.
    #[error("the blob holds no records")]
    Empty,
    /// A UTF-16 blob's text is not UTF-8 after decoding.
    #[error("not UTF-8 after decoding: {0}")]
    NotUtf8(#[from] std::str::Utf8Error),
    /// A check of the result failed: it would not be the blob less the
    /// dropped records.
    #[error("the rewritten blob {0}")]
    Check(&'static str),
}

fn encode(text: &[u8], how: Encoding) -> Result<Vec<u8>, RewriteError> {
    let utf16 = |le: bool| -> Result<Vec<u8>, RewriteError> {
        let s = std::str::from_utf8(text)?;
        let mut out = if le {
            vec![0xFF, 0xFE]
        } else {
            vec![0xFE, 0xFF]
        };
        for u in s.encode_utf16() {
            out.extend_from_slice(&if le { u.to_le_bytes() } else { u.to_be_bytes() });
        }
        Ok(out)
    };
    match how {
        Encoding::Utf8 => Ok(text.to_vec()),
        Encoding::Utf8Bom => Ok([&[0xEF, 0xBB, 0xBF][..], text].concat()),
        Encoding::Utf16Le => utf16(true),
        Encoding::Utf16Be => utf16(false),
    }
}

/// `bytes` without the records at `drop` (indexes in the blob's array),
/// and with what `find` finds masked in the records at `redact`
/// ([`mask`]: the same length, so the record keeps its shape). Checks that
/// the result splits into exactly the kept records, byte for byte and in
/// order (the masked ones as masked), that a masked record holds nothing
/// `find` finds in any view (an attachment's base64 data included), that
/// it is still JSON when it was, and that it encodes back to its own text.
pub fn rewrite(
    bytes: &[u8],
    drop: &[u32],
    redact: &[u32],
    find: &dyn Spans,
) -> Result<Rewritten, RewriteError> {
    let how = encoding(bytes);
    let text = blob_text(bytes);
    let logs = split_device_logs(text.clone());
    let elements = &logs.elements;
    if let Some(i) = drop
        .iter()
        .chain(redact)
        .find(|i| !elements.iter().any(|(n, _)| *n == **i as usize))
    {
        return Err(RewriteError::NoSuchRecord {
            record: *i,
            records: elements.len(),
        });
    }
    let keep: Vec<&(usize, std::ops::Range<usize>)> = elements
        .iter()
        .filter(|(n, _)| !drop.contains(&(*n as u32)))
        .collect();
    let (Some(first), Some(last)) = (elements.first(), elements.last()) else {
        return Err(RewriteError::Empty);
    };
    // The separator the blob uses between two records (`,`, `,\r\n  `, a
    // newline for JSON Lines).
    let sep: &[u8] = match elements.get(1) {
        Some((_, second)) => &text[first.1.end..second.start],
        None => b",",
    };
    // Each kept record as it will be written: masked where asked.
    let mut masked = Vec::new();
    let records: Vec<std::borrow::Cow<'_, [u8]>> = keep
        .iter()
        .map(|(n, span)| {
            let record = &text[span.clone()];
            let spans = if redact.contains(&(*n as u32)) {
                find.spans(record)
            } else {
                Vec::new()
            };
            if spans.is_empty() {
                return Ok(std::borrow::Cow::Borrowed(record));
            }
            let mut m = record.to_vec();
            for (range, kind) in spans {
                mask(&mut m[range], kind);
            }
            let left = !find.spans(&m).is_empty()
                || expand(&m, &Limits::default())
                    .views
                    .iter()
                    .any(|v| !find.spans(&v.bytes).is_empty());
            if left {
                return Err(RewriteError::Check(
                    "would still hold the person's data in a masked record (inside encoded data)",
                ));
            }
            masked.push(*n as u32);
            Ok(std::borrow::Cow::Owned(m))
        })
        .collect::<Result<_, _>>()?;
    let mut out = Vec::with_capacity(text.len());
    out.extend_from_slice(&text[..first.1.start]);
    for (k, record) in records.iter().enumerate() {
        if k > 0 {
            out.extend_from_slice(sep);
        }
        out.extend_from_slice(record);
    }
    out.extend_from_slice(&text[last.1.end..]);

    // The checks.
    let again = split_device_logs(std::borrow::Cow::Borrowed(&out[..]));
    let same = again.elements.len() == keep.len()
        && again
            .elements
            .iter()
            .zip(&records)
            .all(|((_, a), b)| out[a.clone()] == b[..]);
    if !same {
        return Err(RewriteError::Check("does not split into the kept records"));
    }
    let was_json = serde_json::from_slice::<serde::de::IgnoredAny>(&text).is_ok();
    if was_json && serde_json::from_slice::<serde::de::IgnoredAny>(&out).is_err() {
        return Err(RewriteError::Check("is not JSON"));
    }
    let bytes_out = encode(&out, how)?;
    if blob_text(&bytes_out)[..] != out[..] {
        return Err(RewriteError::Check("does not decode to its own text"));
    }
    Ok(Rewritten {
        bytes: bytes_out,
        kept: keep.len(),
        dropped: elements.len() - keep.len(),
        masked,
    })
}

/// How many records a blob holds.
pub(crate) fn records_in(bytes: &[u8]) -> usize {
    split_device_logs(blob_text(bytes)).elements.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Masks nothing.
    struct Nothing;
    impl Spans for Nothing {
        fn spans(&self, _: &[u8]) -> Vec<(std::ops::Range<usize>, crashdsr_search::IdKind)> {
            Vec::new()
        }
    }

    fn rewrite(bytes: &[u8], drop: &[u32]) -> Result<Rewritten, RewriteError> {
        super::rewrite(bytes, drop, &[], &Nothing)
    }

    fn rec(n: usize) -> String {
        format!(
            r#"{{"MessageType":"EventLog","InstallId":"i{n}","Properties":"{{\"k\":\"v{n}\"}}"}}"#
        )
    }

    #[test]
    fn compact_pretty_lines_and_utf16_keep_their_shape() {
        let compact = format!("[{},{},{}]", rec(0), rec(1), rec(2));
        let r = rewrite(compact.as_bytes(), &[1]).unwrap();
        assert_eq!(r.bytes, format!("[{},{}]", rec(0), rec(2)).into_bytes());
        assert_eq!((r.kept, r.dropped), (2, 1));

        let pretty = format!(
            "\u{FEFF}[\r\n  {},\r\n  {},\r\n  {}\r\n]",
            rec(0),
            rec(1),
            rec(2)
        );
        let r = rewrite(pretty.as_bytes(), &[0]).unwrap();
        assert_eq!(
            r.bytes,
            format!("\u{FEFF}[\r\n  {},\r\n  {}\r\n]", rec(1), rec(2)).into_bytes()
        );

        let lines = format!("{}\n{}\n{}\n", rec(0), rec(1), rec(2));
        let r = rewrite(lines.as_bytes(), &[2]).unwrap();
        assert_eq!(r.bytes, format!("{}\n{}\n", rec(0), rec(1)).into_bytes());

        let utf16: Vec<u8> = [0xFF, 0xFE]
            .into_iter()
            .chain(compact.encode_utf16().flat_map(u16::to_le_bytes))
            .collect();
        let r = rewrite(&utf16, &[0, 2]).unwrap();
        let want: Vec<u8> = [0xFF, 0xFE]
            .into_iter()
            .chain(
                format!("[{}]", rec(1))
                    .encode_utf16()
                    .flat_map(u16::to_le_bytes),
            )
            .collect();
        assert_eq!(r.bytes, want);
    }

    #[test]
    fn a_record_that_is_not_there_is_refused() {
        let compact = format!("[{},{}]", rec(0), rec(1));
        let err = rewrite(compact.as_bytes(), &[2]).unwrap_err();
        assert!(
            matches!(
                err,
                RewriteError::NoSuchRecord {
                    record: 2,
                    records: 2
                }
            ),
            "{err}"
        );
        assert_eq!(err.to_string(), "record 2 is not in the blob (2 records)");
        assert!(rewrite(b"[]", &[0]).is_err());
        assert!(matches!(rewrite(b"[]", &[]), Err(RewriteError::Empty)));
    }

    #[test]
    fn every_subset_keeps_the_rest_byte_for_byte() {
        let recs: Vec<String> = (0..5).map(rec).collect();
        let pretty = format!("[\n    {}\n]", recs.join(",\n    "));
        for mask in 0u32..32 {
            let drop: Vec<u32> = (0..5).filter(|i| mask & (1 << i) != 0).collect();
            if drop.len() == 5 {
                continue;
            }
            let r = rewrite(pretty.as_bytes(), &drop).unwrap();
            let kept: Vec<&String> = (0..5)
                .filter(|i| !drop.contains(i))
                .map(|i| &recs[i as usize])
                .collect();
            let want = format!(
                "[\n    {}\n]",
                kept.iter()
                    .map(|s| s.as_str())
                    .collect::<Vec<_>>()
                    .join(",\n    ")
            );
            assert_eq!(String::from_utf8(r.bytes).unwrap(), want, "{drop:?}");
        }
    }
}
