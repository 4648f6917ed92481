//! Scanning one object: the matcher over the object as stored and over each
//! view it decodes to, each hit placed in the record or artefact that holds
//! it, and the attribution index fed from every device-log blob read.
//!
//! Layouts: the crawl's archive (`apps/{owner}/{app}/errors/{errorId}/…`),
//! the continuous export ([`crate::export`]) and any crash JSON naming its
//! `errorId`. Where a hit's owner needs the whole export to be known (an
//! attachment), it is left as a [`Place`] for [`crate::attribute`].

use crashdsr_store::SourceId;

use crate::decode::{Limits, expand};
use crate::evidence::{Hit, SourceSummary, Unread};
use crate::export::{BlobKind, DeviceLog, ExportBlob, classify, is_json, split_device_logs};
use crate::index::IndexLog;
use crate::matcher::{Found, Matcher, json_path_at};
use crate::place::Place;

/// Objects up to this size are scanned whole (decoded, JSON paths);
/// larger ones in chunks, as they are stored.
pub(crate) const WHOLE_OBJECT_MAX: u64 = 64 << 20;
/// The chunk of a chunked scan.
pub(crate) const CHUNK: usize = 8 << 20;

/// A device-log blob being read: where it is, its minute folder, and the
/// app id its path names (`WithAppId` layouts).
#[derive(Debug, Clone, Copy)]
pub(crate) struct LogBlob<'p> {
    pub(crate) source: usize,
    pub(crate) path: &'p str,
    pub(crate) minute: &'p str,
    pub(crate) app_prefix: Option<&'p str>,
}

/// One hit and where it was.
#[derive(Debug, Clone)]
pub(crate) struct RawHit {
    pub(crate) subject: usize,
    pub(crate) place: Place,
    /// The install of the record or crash, when the object says it.
    pub(crate) install: Option<String>,
    pub(crate) hit: Hit,
    /// The record's text (activity records).
    pub(crate) record: Option<String>,
}

/// What one thread found.
#[derive(Debug, Default)]
pub(crate) struct Local {
    pub(crate) hits: Vec<RawHit>,
    pub(crate) index: IndexLog,
    pub(crate) errors: Vec<(String, String)>,
    pub(crate) unread: Vec<Unread>,
    pub(crate) objects: u64,
    pub(crate) bytes: u64,
    pub(crate) records: u64,
    /// Objects not read at all.
    pub(crate) failed: Vec<(String, String)>,
    /// By source index.
    pub(crate) sources: Vec<SourceSummary>,
}

impl Local {
    /// The summary of `source`.
    pub(crate) fn source(&mut self, source: usize) -> &mut SourceSummary {
        if self.sources.len() <= source {
            self.sources.resize_with(source + 1, SourceSummary::default);
        }
        &mut self.sources[source]
    }

    /// An object that could not be read.
    pub(crate) fn failed(&mut self, path: String, why: String) {
        self.errors.push((path.clone(), why.clone()));
        self.failed.push((path, why));
    }

    /// Counts an object in its source's summary, with its layout, time and
    /// app (`text`, when read, gives an archived crash its time).
    fn note(&mut self, source: usize, layout: &Layout<'_>, text: Option<&[u8]>) {
        let summary = self.source(source);
        summary.objects += 1;
        match layout {
            Layout::Archive(c) => {
                summary.archive_objects += 1;
                let time = (c.artefact == crashdsr_store::archive::CRASH_LOG)
                    .then(|| text.and_then(|t| string_field(t, "timestamp")))
                    .flatten()
                    .filter(|t| t.len() >= 16)
                    .map(|t| format!("{}Z", &t[..16]));
                summary.note(time, Some(&c.app));
            }
            Layout::Export(blob) => {
                summary.export_objects += 1;
                summary.note_minute(blob);
            }
            Layout::Other => {}
        }
    }

    pub(crate) fn merge(&mut self, mut other: Self) {
        for (n, s) in std::mem::take(&mut other.sources).into_iter().enumerate() {
            self.source(n).merge(s);
        }
        self.objects += other.objects;
        self.bytes += other.bytes;
        self.records += other.records;
        self.merge_found(other);
    }

    /// Takes in what `other` found, but not what it counted.
    pub(crate) fn merge_found(&mut self, other: Self) {
        self.failed.extend(other.failed);
        self.hits.extend(other.hits);
        self.index.merge(other.index);
        self.errors.extend(other.errors);
        self.unread.extend(other.unread);
    }
}

/// A string field's value, found without parsing (`"key":"value"`).
pub(crate) fn string_field(bytes: &[u8], key: &str) -> Option<String> {
    for k in [format!("\"{key}\":\""), format!("\"{key}\": \"")] {
        if let Some(i) = memchr::memmem::find(bytes, k.as_bytes()) {
            let rest = &bytes[i + k.len()..];
            let end = memchr::memchr(b'"', rest)?;
            let v = String::from_utf8_lossy(&rest[..end]).into_owned();
            return (!v.is_empty()).then_some(v);
        }
    }
    None
}

/// Where an object sits, worked out once per object: in a crawl
/// archive's crash folder, in the continuous export's layout, or in
/// neither (the layouts of [`crashdsr_store`]).
enum Layout<'p> {
    Archive(crashdsr_store::archive::CrashObject<'p>),
    Export(crate::export::ExportBlob),
    Other,
}

impl<'p> Layout<'p> {
    fn of(path: &'p str) -> Self {
        if let Some(c) = crashdsr_store::archive::CrashObject::parse(path) {
            Self::Archive(c)
        } else if let Some(blob) = classify(path) {
            Self::Export(blob)
        } else {
            Self::Other
        }
    }
}

/// Whether a device-log element is an error or attachment log (a cheap
/// look at its bytes; `HandledErrorLog` holds `ErrorLog`).
fn is_diagnostic(element: &[u8]) -> bool {
    static FINDERS: std::sync::OnceLock<[memchr::memmem::Finder<'static>; 2]> =
        std::sync::OnceLock::new();
    let [error, attachment] = FINDERS.get_or_init(|| {
        [
            memchr::memmem::Finder::new(b"ErrorLog"),
            memchr::memmem::Finder::new(b"ErrorAttachmentLog"),
        ]
    });
    error.find(element).is_some() || attachment.find(element).is_some()
}

/// An object being scanned.
#[derive(Clone, Copy)]
struct Object<'a> {
    source: usize,
    path: &'a str,
    bytes: &'a [u8],
}

/// The scanner of one search.
pub(crate) struct Scanner<'m> {
    pub(crate) matcher: &'m Matcher,
    pub(crate) limits: Limits,
    /// Feed the attribution index (the first scan does; expansion does not).
    pub(crate) index: bool,
    /// Counts each object scanned, for a progress display.
    pub(crate) progress: &'m crate::Scanned,
    /// Decode containers to find identifiers in them (not when only
    /// counting, as an index build does: it decodes them itself).
    pub(crate) views: bool,
}

impl<'m> Scanner<'m> {
    /// A scanner with `matcher`; `index` feeds the attribution index.
    pub(crate) fn new(
        matcher: &'m Matcher,
        limits: Limits,
        index: bool,
        progress: &'m crate::Scanned,
    ) -> Self {
        Self {
            matcher,
            limits,
            index,
            progress,
            views: true,
        }
    }

    fn hit(&self, f: &Found, artefact: &str, path: Option<String>) -> Hit {
        let id = &self.matcher.subjects()[f.subject].identifiers[f.identifier];
        Hit {
            identifier: id.kind,
            artefact: artefact.to_owned(),
            path,
            offset: f.offset as u64,
            typed: f.typed,
        }
    }

    fn push(&self, out: &mut Local, f: &Found, place: &Place, install: Option<&String>, hit: Hit) {
        out.hits.push(RawHit {
            subject: f.subject,
            place: place.clone(),
            install: install.cloned(),
            hit,
            record: None,
        });
    }

    /// Scans `text` (JSON or not) and every view the object's bytes
    /// decode to, all for one place. The place and the artefact's name are
    /// made only if something is found.
    fn scan_all_views(
        &self,
        obj: &Object<'_>,
        text: &[u8],
        place: impl FnOnce() -> Place,
        artefact: impl FnOnce() -> String,
        out: &mut Local,
    ) {
        let Object {
            source,
            path,
            bytes,
        } = *obj;
        let found = self.matcher.find(text);
        let json = is_json(text);
        let decoded = (!json && self.views).then(|| expand(bytes, &self.limits));
        let views = decoded.as_ref().map_or(&[][..], |d| &d.views[..]);
        if let Some(reason) = decoded.as_ref().and_then(|d| d.unread.clone()) {
            out.errors.push((path.to_owned(), reason.clone()));
            out.unread.push(Unread {
                source: SourceId::new(source),
                object: path.to_owned(),
                reason,
            });
        }
        let in_views: Vec<(usize, Vec<Found>)> = views
            .iter()
            .enumerate()
            .map(|(n, v)| (n, self.matcher.find(&v.bytes)))
            .filter(|(_, f)| !f.is_empty())
            .collect();
        if found.is_empty() && in_views.is_empty() {
            return;
        }
        let (place, artefact) = (place(), artefact());
        let install = string_field(text, "installId")
            .or_else(|| string_field(text, "install_id"))
            .or_else(|| string_field(text, "InstallId"))
            .map(|i| i.to_ascii_lowercase());
        for f in &found {
            let jp = json.then(|| json_path_at(text, f.offset)).flatten();
            let hit = self.hit(f, &artefact, jp);
            self.push(out, f, &place, install.as_ref(), hit);
        }
        for (n, hits) in in_views {
            let name = format!("{artefact} ({})", views[n].label);
            for f in hits {
                let hit = self.hit(&f, &name, None);
                self.push(out, &f, &place, None, hit);
            }
        }
    }

    /// Scans one whole object.
    pub(crate) fn object(&self, source: usize, path: &str, bytes: &[u8], out: &mut Local) {
        let obj = Object {
            source,
            path,
            bytes,
        };
        out.objects += 1;
        out.bytes += bytes.len() as u64;
        self.progress.scanned(bytes.len() as u64);
        let text = crate::export::blob_text(bytes);
        let layout = Layout::of(path);
        out.note(source, &layout, Some(&text));
        let file_name = || path.rsplit('/').next().unwrap_or(path).to_owned();
        let blob = match layout {
            Layout::Archive(c) => {
                let place = || Place::Crash {
                    app: Some(c.app),
                    error_id: c.error_id.to_owned(),
                };
                self.scan_all_views(&obj, &text, place, || c.artefact.to_owned(), out);
                return;
            }
            Layout::Export(blob) => Some(blob),
            Layout::Other => None,
        };
        let Some(blob) = blob else {
            let place = || match string_field(&text, "errorId")
                .or_else(|| string_field(&text, "error_id"))
            {
                Some(error_id) => Place::Crash {
                    app: string_field(&text, "appId"),
                    error_id,
                },
                None => Place::Unattributed {
                    object: path.to_owned(),
                    index: None,
                    reason: "outside the export and archive layouts, and names no errorId".into(),
                    source,
                },
            };
            self.scan_all_views(&obj, &text, place, file_name, out);
            return;
        };
        match blob.kind {
            BlobKind::DeviceLogs => self.device_logs(
                source,
                path,
                &text,
                &blob.minute,
                blob.app_id.as_deref(),
                out,
            ),
            BlobKind::Crash { error_id, .. } => {
                if self.index {
                    out.index
                        .add_crash_blob(source, path, &error_id, blob.app_id.as_deref());
                }
                let place = || Place::Crash {
                    app: blob.app_id.or_else(|| string_field(&text, "appId")),
                    error_id,
                };
                let artefact = || {
                    let mut parts = path.rsplit('/');
                    let (name, dir) = (
                        parts.next().unwrap_or_default(),
                        parts.next().unwrap_or_default(),
                    );
                    format!("{dir}/{name}")
                };
                self.scan_all_views(&obj, &text, place, artefact, out);
            }
            BlobKind::Attachment { attachment_id } => {
                if self.index {
                    out.index.add_attachment_blob(source, path, &attachment_id);
                }
                // Attachments are scanned as stored: a text-looking
                // attachment with a BOM is still found (UTF-16 patterns).
                let place = || Place::Attachment {
                    attachment_id: attachment_id.clone(),
                    object: path.to_owned(),
                    index: None,
                    source,
                };
                let artefact = || format!("attachments/{attachment_id}");
                self.scan_all_views(&obj, bytes, place, artefact, out);
            }
        }
    }

    fn device_logs(
        &self,
        source: usize,
        path: &str,
        text: &[u8],
        minute: &str,
        app_prefix: Option<&str>,
        out: &mut Local,
    ) {
        let found = self.matcher.find(text);
        if found.is_empty() && !(self.index && is_diagnostic(text)) {
            // Nothing here for the search or the index: count the records
            // without splitting the blob.
            out.records += memchr::memmem::find_iter(text, b"\"MessageType\"").count() as u64;
            return;
        }
        let logs = split_device_logs(std::borrow::Cow::Borrowed(text));
        let mut warnings = logs.warnings.clone();
        let blob = LogBlob {
            source,
            path,
            minute,
            app_prefix,
        };
        self.records(
            &blob,
            &logs.text,
            0,
            &logs.elements,
            &found,
            &mut warnings,
            out,
        );
        if !warnings.is_empty() {
            out.errors.push((path.to_owned(), warnings.join("; ")));
        }
    }

    /// What the device-log elements at `spans` of `text` hold: they are
    /// counted, error and attachment logs go to the index, and each hit of
    /// `found` (offsets in `text`) is placed in its record. `text` starts
    /// at `base` in the blob: a streamed blob comes a stretch at a time.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn records(
        &self,
        blob: &LogBlob<'_>,
        text: &[u8],
        base: usize,
        spans: &[(usize, std::ops::Range<usize>)],
        found: &[Found],
        warnings: &mut Vec<String>,
        out: &mut Local,
    ) {
        out.records += spans.len() as u64;
        if self.index {
            // Only error and attachment logs say anything the index keeps:
            // the rest is not parsed unless it holds a hit.
            for (index, span) in spans {
                let element = &text[span.clone()];
                if !is_diagnostic(element) {
                    continue;
                }
                match DeviceLog::attribution_fields(element) {
                    Ok(log) => {
                        out.index
                            .add_record((blob.source, blob.path, *index), blob.minute, &log);
                    }
                    Err(e) => warnings.push(format!("element {index} is not a device log ({e})")),
                }
            }
        }
        let path = blob.path;
        let name = path.rsplit('/').next().unwrap_or(path);
        for f in found {
            let at = Found {
                offset: f.offset + base,
                ..f.clone()
            };
            let element = spans.iter().find(|(_, span)| span.contains(&f.offset));
            let parsed = element.map(|(index, span)| {
                (
                    *index,
                    span,
                    DeviceLog::attribution_fields(&text[span.clone()]),
                )
            });
            let (index, span, log) = match parsed {
                Some((index, span, Ok(log))) => (index, span, log),
                other => {
                    let reason = match other {
                        Some((index, _, Err(e))) => {
                            format!("in element {index}, which is not a device log ({e})")
                        }
                        _ => "outside every device-log record that could be read".into(),
                    };
                    let hit = self.hit(&at, name, None);
                    let place = Place::Unattributed {
                        object: path.to_owned(),
                        index: None,
                        reason,
                        source: blob.source,
                    };
                    self.push(out, &at, &place, None, hit);
                    continue;
                }
            };
            let app = Some(log.app_id.clone())
                .filter(|a| !a.is_empty())
                .or_else(|| blob.app_prefix.map(str::to_owned));
            let install = Some(log.install_id.clone()).filter(|i| !i.is_empty());
            let place = match log.link() {
                Some(link) if link.error_id.is_some() => Place::Crash {
                    app,
                    error_id: link.error_id.unwrap_or_default(),
                },
                Some(link)
                    if log.message_type == "ErrorAttachmentLog" && link.attachment_id.is_some() =>
                {
                    Place::Attachment {
                        attachment_id: link.attachment_id.unwrap_or_default(),
                        object: path.to_owned(),
                        index: Some(index),
                        source: blob.source,
                    }
                }
                _ if log.is_diagnostic() => Place::Unattributed {
                    object: path.to_owned(),
                    index: Some(index),
                    reason: format!("an {} record that names no crash", log.message_type),
                    source: blob.source,
                },
                _ => Place::Activity {
                    app,
                    install_id: install.clone(),
                    message_type: log.message_type.clone(),
                    object: path.to_owned(),
                    index,
                    source: blob.source,
                },
            };
            let element = &text[span.clone()];
            let hit = self.hit(
                &at,
                &format!("{name}[{index}]"),
                json_path_at(element, f.offset - span.start),
            );
            out.hits.push(RawHit {
                subject: f.subject,
                record: matches!(place, Place::Activity { .. })
                    .then(|| String::from_utf8_lossy(element).into_owned()),
                place,
                install,
                hit,
            });
        }
    }

    /// The place of an object too large to scan whole.
    pub(crate) fn big_place(&self, source: usize, path: &str) -> Place {
        match Layout::of(path) {
            Layout::Archive(c) => Place::Crash {
                app: Some(c.app),
                error_id: c.error_id.to_owned(),
            },
            Layout::Export(crate::export::ExportBlob {
                kind: BlobKind::Attachment { attachment_id },
                ..
            }) => Place::Attachment {
                attachment_id,
                object: path.to_owned(),
                index: None,
                source,
            },
            Layout::Export(crate::export::ExportBlob {
                kind: BlobKind::Crash { error_id, .. },
                app_id,
                ..
            }) => Place::Crash {
                app: app_id,
                error_id,
            },
            _ => Place::Unattributed {
                object: path.to_owned(),
                index: None,
                reason: format!(
                    "larger than {WHOLE_OBJECT_MAX} bytes: scanned as stored, in chunks, with no records or decoding"
                ),
                source,
            },
        }
    }

    /// Records the hits of a chunked scan.
    pub(crate) fn big_hits(
        &self,
        source: usize,
        path: &str,
        found: Vec<Found>,
        size: u64,
        out: &mut Local,
    ) {
        out.objects += 1;
        out.bytes += size;
        self.progress.scanned(size);
        out.note(source, &Layout::of(path), None);
        if self.index {
            match classify(path) {
                Some(ExportBlob {
                    kind: BlobKind::Crash { error_id, .. },
                    app_id,
                    ..
                }) => {
                    out.index
                        .add_crash_blob(source, path, &error_id, app_id.as_deref());
                }
                Some(ExportBlob {
                    kind: BlobKind::Attachment { attachment_id },
                    ..
                }) => {
                    out.index.add_attachment_blob(source, path, &attachment_id);
                }
                _ => {}
            }
        }
        let place = self.big_place(source, path);
        let artefact = path.rsplit('/').next().unwrap_or(path).to_owned();
        for f in found {
            let hit = self.hit(&f, &artefact, None);
            self.push(out, &f, &place, None, hit);
        }
    }
}

/// Scans a large object in chunks, keeping enough overlap that no hit and
/// no boundary is cut; memory stays at about one chunk.
pub(crate) struct ChunkScanner<'m> {
    matcher: &'m Matcher,
    chunk: usize,
    keep: usize,
    buf: Vec<u8>,
    /// Global offset of `buf[0]`.
    base: usize,
    /// Global offset from which hits are new.
    accepted: usize,
    total: u64,
}

impl<'m> ChunkScanner<'m> {
    pub(crate) fn new(matcher: &'m Matcher, chunk: usize) -> Self {
        Self {
            matcher,
            chunk,
            keep: matcher.longest() + 4,
            buf: Vec::new(),
            base: 0,
            accepted: 0,
            total: 0,
        }
    }

    pub(crate) fn feed(&mut self, data: &[u8], on: &mut impl FnMut(Found)) {
        self.buf.extend_from_slice(data);
        self.total += data.len() as u64;
        if self.buf.len() >= self.chunk {
            self.scan(false, on);
        }
    }

    pub(crate) fn finish(mut self, on: &mut impl FnMut(Found)) -> u64 {
        self.scan(true, on);
        self.total
    }

    fn scan(&mut self, last: bool, on: &mut impl FnMut(Found)) {
        // Hits that start in the last `keep` bytes wait for the next scan,
        // which sees their whole pattern and the bytes after it.
        let settled = if last {
            usize::MAX
        } else {
            self.base + self.buf.len().saturating_sub(self.keep)
        };
        for mut f in self.matcher.find(&self.buf) {
            let start = self.base + f.offset;
            if start >= self.accepted && start < settled {
                f.offset = start;
                on(f);
            }
        }
        if !last && settled > self.accepted {
            self.accepted = settled;
            // Keep two bytes of left context for the boundary checks.
            let left = (settled - self.base).saturating_sub(2);
            self.buf.drain(..left);
            self.base += left;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::subject::Subject;

    #[test]
    fn chunked_scans_find_hits_across_chunk_edges_once() {
        let m = Matcher::new(vec![
            Subject::from_specs("s", &["email=jane@example.com".to_owned()]).unwrap(),
        ]);
        let mut data = vec![b'x'; 100];
        data.extend_from_slice(b" jane@example.com ");
        data.extend(std::iter::repeat_n(b' ', 50));
        data.extend_from_slice(b"xjane@example.com jane@example.com");
        let whole: Vec<usize> = m.find(&data).iter().map(|f| f.offset).collect();
        assert_eq!(whole.len(), 2);
        for (step, chunk) in [(1usize, 1usize), (7, 20), (13, 30), (40, 64), (1000, 8)] {
            let mut state = ChunkScanner::new(&m, chunk);
            let mut found = Vec::new();
            let mut on = |f: Found| found.push(f.offset);
            for piece in data.chunks(step) {
                state.feed(piece, &mut on);
            }
            assert_eq!(state.finish(&mut on), data.len() as u64);
            assert_eq!(found, whole, "step {step}, chunk {chunk}");
        }
    }
}
