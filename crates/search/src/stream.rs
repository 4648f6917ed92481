//! Objects too large to hold (over [`WHOLE_OBJECT_MAX`]), scanned as they
//! stream in. A device-log blob is split into its elements as it comes, a
//! stretch at a time, and each record is attributed exactly as in a blob
//! read whole; memory holds one stretch and the element that runs past
//! it, whatever the blob's size. Anything else, and a device-log blob from
//! the point where its structure breaks, is scanned as stored, in chunks.
//!
//! [`WHOLE_OBJECT_MAX`]: crate::scan::WHOLE_OBJECT_MAX

use std::ops::Range;

use crate::export::{BlobKind, MAX_ELEMENT, classify, element_end, skip_ws};
use crate::matcher::Found;
use crate::scan::{CHUNK, ChunkScanner, Local, LogBlob, Scanner};

/// A large object being scanned.
pub(crate) struct Big<'s, 'm> {
    scanner: &'s Scanner<'m>,
    source: usize,
    path: String,
    /// Bytes fed so far.
    size: u64,
    how: How<'m>,
}

enum How<'m> {
    /// A device-log blob, element by element.
    Logs(Logs),
    /// As stored, in chunks, from `base` on.
    Raw {
        chunks: ChunkScanner<'m>,
        base: usize,
        found: Vec<Found>,
    },
}

/// Where the element splitter is in a device-log blob.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum At {
    /// Before the first byte that says array or JSON Lines.
    Start,
    /// Inside a JSON array.
    Array,
    /// Between JSON objects written one after another.
    Lines,
    /// Past the array's closing `]`.
    Done,
}

struct Logs {
    minute: String,
    app_prefix: Option<String>,
    /// Bytes not yet split.
    buf: Vec<u8>,
    /// The blob offset of `buf[0]`.
    base: usize,
    at: At,
    /// The next element's index in the blob's array.
    index: usize,
    warnings: Vec<String>,
    /// Bytes buffered before they are split.
    stretch: usize,
}

impl<'s, 'm> Big<'s, 'm> {
    /// Starts scanning the object at `path` of `source`.
    pub(crate) fn new(scanner: &'s Scanner<'m>, source: usize, path: &str) -> Self {
        let how = match classify(path) {
            Some(blob) if matches!(blob.kind, BlobKind::DeviceLogs) => How::Logs(Logs {
                minute: blob.minute,
                app_prefix: blob.app_id,
                buf: Vec::new(),
                base: 0,
                at: At::Start,
                index: 0,
                warnings: Vec::new(),
                stretch: CHUNK,
            }),
            _ => How::Raw {
                chunks: ChunkScanner::new(scanner.matcher, CHUNK),
                base: 0,
                found: Vec::new(),
            },
        };
        Self {
            scanner,
            source,
            path: path.to_owned(),
            size: 0,
            how,
        }
    }

    /// Takes the next bytes of the object.
    pub(crate) fn feed(&mut self, data: &[u8], out: &mut Local) {
        self.size += data.len() as u64;
        match &mut self.how {
            How::Raw { chunks, found, .. } => chunks.feed(data, &mut |f| found.push(f)),
            How::Logs(logs) => {
                logs.buf.extend_from_slice(data);
                if logs.buf.len() >= logs.stretch {
                    self.split(false, out);
                }
            }
        }
    }

    /// Scans what is left and records the object.
    pub(crate) fn finish(mut self, out: &mut Local) {
        if matches!(self.how, How::Logs(_)) {
            self.split(true, out);
        }
        let found = match self.how {
            How::Raw {
                chunks,
                base,
                mut found,
            } => {
                chunks.finish(&mut |f| found.push(f));
                found.iter_mut().for_each(|f| f.offset += base);
                found
            }
            How::Logs(logs) => {
                if !logs.warnings.is_empty() {
                    out.errors
                        .push((self.path.clone(), logs.warnings.join("; ")));
                }
                Vec::new()
            }
        };
        self.scanner
            .big_hits(self.source, &self.path, found, self.size, out);
    }

    /// Splits off every complete element buffered and records them; with
    /// `last`, the blob has ended. Where the structure breaks, the rest of
    /// the blob is scanned as stored.
    fn split(&mut self, last: bool, out: &mut Local) {
        let How::Logs(logs) = &mut self.how else {
            return;
        };
        if logs.at == At::Start && logs.base == 0 {
            // Offsets count from after a UTF-8 byte-order mark, as in a
            // blob read whole (`blob_text`).
            const BOM: &[u8] = b"\xEF\xBB\xBF";
            if logs.buf.starts_with(BOM) {
                logs.buf.drain(..BOM.len());
            } else if !last && BOM.starts_with(&logs.buf) {
                return;
            }
        }
        let b = &logs.buf;
        let mut i = 0;
        let mut spans: Vec<(usize, Range<usize>)> = Vec::new();
        let mut broken: Option<String> = None;
        loop {
            if logs.at == At::Start {
                i = skip_ws(b, i);
                match b.get(i) {
                    None if last => logs.at = At::Done,
                    None => {}
                    Some(b'[') => {
                        logs.at = At::Array;
                        i += 1;
                        continue;
                    }
                    Some(b'{') => {
                        logs.at = At::Lines;
                        continue;
                    }
                    Some(_) => broken = Some("not a JSON array of device logs".into()),
                }
                break;
            }
            if logs.at == At::Done {
                break;
            }
            i = skip_ws(b, i);
            match b.get(i) {
                None => {
                    if last && logs.at == At::Array {
                        logs.warnings.push(format!(
                            "the array ends after {} elements without its closing `]`",
                            logs.index
                        ));
                    }
                    break;
                }
                Some(b',') => i += 1,
                Some(b']') if logs.at == At::Array => {
                    logs.at = At::Done;
                    i += 1;
                }
                Some(b'{') => match element_end(b, i, MAX_ELEMENT) {
                    Some(end) => {
                        spans.push((logs.index, i..end));
                        logs.index += 1;
                        i = end;
                    }
                    // The rest of it is still to come.
                    None if !last && b.len() - i < MAX_ELEMENT => break,
                    None => {
                        broken = Some(format!(
                            "element {} (from byte {}) is damaged, cut short or over {MAX_ELEMENT} bytes",
                            logs.index,
                            logs.base + i
                        ));
                        break;
                    }
                },
                Some(c) => {
                    broken = Some(format!(
                        "unexpected {:?} at byte {}",
                        *c as char,
                        logs.base + i
                    ));
                    break;
                }
            }
        }
        if let (Some(first), Some(last_span)) = (spans.first(), spans.last()) {
            let region = first.1.start..last_span.1.end;
            let text = &b[region.clone()];
            let found = self.scanner.matcher.find(text);
            let local: Vec<(usize, Range<usize>)> = spans
                .iter()
                .map(|(k, s)| (*k, s.start - region.start..s.end - region.start))
                .collect();
            let blob = LogBlob {
                source: self.source,
                path: &self.path,
                minute: &logs.minute,
                app_prefix: logs.app_prefix.as_deref(),
            };
            self.scanner.records(
                &blob,
                text,
                logs.base + region.start,
                &local,
                &found,
                &mut logs.warnings,
                out,
            );
        }
        match broken {
            None => {
                logs.buf.drain(..i);
                logs.base += i;
            }
            Some(why) => {
                let base = logs.base + i;
                logs.warnings.push(format!(
                    "{why}: from byte {base} on, the blob is scanned as stored and its hits are not tied to records"
                ));
                let mut chunks = ChunkScanner::new(self.scanner.matcher, CHUNK);
                let mut found = Vec::new();
                chunks.feed(&logs.buf[i..], &mut |f| found.push(f));
                let warnings = std::mem::take(&mut logs.warnings);
                out.errors.push((self.path.clone(), warnings.join("; ")));
                self.how = How::Raw {
                    chunks,
                    base,
                    found,
                };
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::index::Wanted;
    use crate::matcher::Matcher;
    use crate::subject::Subject;

    const PATH: &str = "2026/11/30/12/05/logs.v1.data";

    fn matcher() -> Matcher {
        Matcher::new(vec![
            Subject::from_specs(
                "jane",
                &[
                    "email=jane@example.com".to_owned(),
                    "name=Jane Doe".to_owned(),
                ],
            )
            .unwrap(),
        ])
    }

    /// A blob of every kind of record the person appears in, and others'.
    fn blob(pretty: bool) -> Vec<u8> {
        let mut logs = Vec::new();
        for n in 0..40 {
            let install = format!("00000000-0000-0000-0000-{n:012}");
            let error = format!("e{n}");
            let who = if n % 3 == 0 {
                "jane@example.com"
            } else {
                "omar@example.com"
            };
            logs.push(json!({"MessageType": "ErrorLog", "AppId": "app", "InstallId": install,
                "SessionId": format!("s{n}"), "Properties": {"ErrorId": error, "Blob": format!("crashes/{error}.json")},
                "UserId": who}));
            logs.push(
                json!({"MessageType": "ErrorAttachmentLog", "AppId": "app", "InstallId": install,
                "SessionId": format!("s{n}"), "Properties": {"AttachmentId": format!("a{n}"),
                "FileName": "log.txt"}}),
            );
            logs.push(
                json!({"MessageType": "EventLog", "AppId": "app", "InstallId": install,
                "Properties": {"contact": if n % 5 == 0 { "Jane Doe" } else { "someone" }}}),
            );
        }
        let mut text = if pretty {
            serde_json::to_string_pretty(&logs)
                .unwrap()
                .replace('\n', "\r\n")
        } else {
            serde_json::to_string(&logs).unwrap()
        }
        .into_bytes();
        text.splice(0..0, *b"\xEF\xBB\xBF");
        text
    }

    /// What a scan left: hits, records, problems, and the index the hits
    /// resolve to.
    fn summary(mut l: Local) -> (Vec<String>, u64, Vec<(String, String)>, String) {
        let mut wanted = Wanted::default();
        for h in &l.hits {
            wanted.place(&h.place);
        }
        let index = l.index.resolve(&mut wanted).unwrap();
        let mut crashes: Vec<String> = l
            .hits
            .iter()
            .filter_map(|h| match &h.place {
                crate::place::Place::Crash { error_id, .. } => {
                    Some(format!("{error_id}: {:?}", index.crash(error_id)))
                }
                _ => None,
            })
            .collect();
        crashes.sort();
        let mut hits: Vec<String> = l.hits.iter().map(|h| format!("{h:?}")).collect();
        hits.sort();
        (hits, l.records, l.errors, crashes.join("\n"))
    }

    #[test]
    fn a_streamed_blob_is_read_record_by_record_as_a_whole_one() {
        let m = matcher();
        let progress = crate::Scanned::default();
        let scanner = Scanner::new(&m, crate::Limits::default(), true, &progress);
        for pretty in [false, true] {
            let bytes = blob(pretty);
            let mut whole = Local::default();
            scanner.object(0, PATH, &bytes, &mut whole);
            let whole = summary(whole);
            assert!(whole.0.len() >= 20, "{:?}", whole.0);
            assert!(whole.0.iter().any(|h| h.contains("Crash")), "{:?}", whole.0);
            assert!(
                whole.0.iter().any(|h| h.contains("Activity")),
                "{:?}",
                whole.0
            );
            assert_eq!(whole.1, 120);
            // Any stretch, any piece size: elements cut by a piece or a
            // stretch are waited for, none is split twice or lost.
            for (stretch, piece) in [(1, 1), (64, 7), (500, 333), (4096, 4096), (1 << 20, 100)] {
                let mut streamed = Local::default();
                let mut big = Big::new(&scanner, 0, PATH);
                if let How::Logs(logs) = &mut big.how {
                    logs.stretch = stretch;
                }
                for p in bytes.chunks(piece) {
                    big.feed(p, &mut streamed);
                }
                big.finish(&mut streamed);
                assert_eq!(streamed.objects, 1);
                assert_eq!(streamed.bytes, bytes.len() as u64);
                assert_eq!(
                    summary(streamed),
                    whole,
                    "pretty {pretty}, stretch {stretch}, piece {piece}"
                );
            }
        }
    }

    #[test]
    fn where_the_structure_breaks_the_rest_is_scanned_as_stored() {
        let m = matcher();
        let progress = crate::Scanned::default();
        let scanner = Scanner::new(&m, crate::Limits::default(), true, &progress);
        let mut bytes = blob(false);
        // Cut the array after its first elements and carry on with text.
        let cut = bytes.iter().position(|b| *b == b'}').unwrap() + 2;
        bytes.truncate(cut + 600);
        bytes.extend_from_slice(b" garbage ] jane@example.com and more");
        let mut out = Local::default();
        let mut big = Big::new(&scanner, 0, PATH);
        big.feed(&bytes, &mut out);
        big.finish(&mut out);
        let unattributed: Vec<_> = out
            .hits
            .iter()
            .filter(|h| matches!(h.place, crate::place::Place::Unattributed { .. }))
            .collect();
        assert_eq!(unattributed.len(), 1, "{:?}", out.hits);
        let at = bytes.windows(4).rposition(|w| w == b"jane").unwrap() as u64;
        assert_eq!(unattributed[0].hit.offset, at - 3, "counted after the BOM");
        let (_, why) = &out.errors[0];
        assert!(why.contains("scanned as stored"), "{why}");
        // The records before the break were read as records.
        assert!(out.records >= 1);
    }
}
