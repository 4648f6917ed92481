//! The attribution index of one search: built from every device-log blob of
//! every minute folder of every source, so that an attachment is tied to
//! its crash wherever its `ErrorAttachmentLog` lives (the SDK often sends
//! an attachment minutes after its crash, into a later folder).
//!
//! It knows one entry per error log (error id to app, install, session and
//! blob), one per attachment log (attachment id to crash), the crash and
//! attachment blobs seen in listings, and the app of each install seen in
//! them. Session and event records, the bulk of an export, add nothing.
//!
//! The whole export's worth is never held in memory. While the export is
//! scanned, each thread appends what the logs say, as compact [`Event`]s,
//! to an [`IndexLog`]: in memory up to 4 MiB a thread, then in an
//! anonymous temporary file (unlinked as it is made, so nothing is left
//! behind if the process dies; `TMPDIR` says where). Once the scan knows
//! its hits, [`IndexLog::resolve`] reads the log back and keeps only what
//! the hits need (their crashes, those crashes' sessions and attachments,
//! the installs of their records) in an [`AttributionIndex`]. Memory is
//! bounded by the threads and the hits, not by the export's size.

use std::collections::BTreeSet;
use std::fs::File;
use std::io::{BufReader, Read, Seek, SeekFrom, Write};

use crate::export::{DeviceLog, classify};
use crate::fxhash::{HashMap, HashSet};
use crate::place::Place;

/// Keeps in `slot` the least of what it holds and `new`: where the logs
/// disagree (two error logs of one crash with different installs), the
/// answer does not depend on the order they were read in.
fn least(slot: &mut Option<Box<str>>, new: Option<&str>) {
    if let Some(n) = new
        && slot.as_deref().is_none_or(|had| n < had)
    {
        *slot = Some(n.into());
    }
}

/// What an `ErrorLog`/`HandledErrorLog` says of its crash.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CrashEntry {
    /// The app id.
    pub app: Option<Box<str>>,
    /// The install.
    pub install_id: Option<Box<str>>,
    /// The crash blobs seen (`source`, path), from the log and the listing.
    pub blobs: Vec<(usize, Box<str>)>,
    /// Its error logs: (`source`, `logs*.v1.data` blob, index in the array).
    pub records: Vec<RecordAt>,
}

/// Where a device-log record is: (`source`, blob, index in its array).
pub type RecordAt = (usize, Box<str>, u32);

/// What an `ErrorAttachmentLog` says of its attachment.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AttachmentEntry {
    /// The crash, when the log names it.
    pub error_id: Option<Box<str>>,
    /// The app id.
    pub app: Option<Box<str>>,
    /// The install.
    pub install_id: Option<Box<str>>,
    /// The session, to find the crash when the log does not name it.
    pub session_id: Option<Box<str>>,
    /// The file name the app gave it (never used as a path).
    pub file_name: Option<Box<str>>,
    /// Its content type.
    pub content_type: Option<Box<str>>,
    /// Its attachment log.
    pub record: Option<RecordAt>,
    /// The blob its log names (`source`, path).
    pub blob: Option<(usize, Box<str>)>,
}

/// Why an attachment's crash is not known.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Unlinked {
    /// No attachment log names the attachment.
    #[error("no ErrorAttachmentLog in the sources names this attachment")]
    NoLog,
    /// Its log names no crash, and no install and session to find one by.
    #[error("its ErrorAttachmentLog names no crash, install or session")]
    NoSession,
    /// Its log names no crash, and this many crashes share its session.
    #[error("its ErrorAttachmentLog names no crash, and {0} crashes share its session")]
    SharedSession(usize),
    /// Its log names no crash, and no crash shares its session.
    #[error("its ErrorAttachmentLog names no crash, and no crash shares its session")]
    LoneSession,
}

/// The index: the whole of it when built with [`Self::add_record`] and the
/// other `add_` methods, or the part the hits need when
/// [`IndexLog::resolve`] built it.
#[derive(Debug, Clone, Default)]
pub struct AttributionIndex {
    crashes: HashMap<Box<str>, CrashEntry>,
    attachments: HashMap<Box<str>, AttachmentEntry>,
    /// `(install, session)` to the crashes logged in that session.
    sessions: HashMap<SessionKey, Vec<Box<str>>>,
    installs: HashMap<Box<str>, Box<str>>,
    /// Attachment blobs seen in listings, by attachment id.
    attachment_blobs: HashMap<Box<str>, Vec<(usize, Box<str>)>>,
    /// Every app id seen, whatever was resolved.
    apps: BTreeSet<Box<str>>,
}

/// An install and one of its sessions.
type SessionKey = (Box<str>, Box<str>);

fn nonempty(s: &str) -> Option<&str> {
    (!s.is_empty()).then_some(s)
}

/// Where a device-log record is, as written to the log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Record<'a> {
    source: u32,
    path: &'a str,
    index: u32,
}

impl Record<'_> {
    fn at(&self) -> RecordAt {
        (self.source as usize, self.path.into(), self.index)
    }
}

/// One fact that a device log or a listing states: what the index is
/// built from, in memory or through an [`IndexLog`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Event<'a> {
    /// A log of `install` names `app`.
    Install { install: &'a str, app: &'a str },
    /// An error log of a crash.
    Error {
        error_id: &'a str,
        app: Option<&'a str>,
        install: Option<&'a str>,
        session: Option<&'a str>,
        /// The crash blob the log names (in the record's source).
        blob: Option<&'a str>,
        record: Record<'a>,
    },
    /// An attachment log.
    Attachment {
        id: &'a str,
        error_id: Option<&'a str>,
        app: Option<&'a str>,
        install: Option<&'a str>,
        session: Option<&'a str>,
        file_name: Option<&'a str>,
        content_type: Option<&'a str>,
        /// The attachment blob the log names (in the record's source).
        blob: Option<&'a str>,
        record: Record<'a>,
    },
    /// A crash blob seen in a listing, with the app its path names.
    CrashBlob {
        source: u32,
        path: &'a str,
        error_id: &'a str,
        app: Option<&'a str>,
    },
    /// An attachment blob seen in a listing.
    AttachmentBlob {
        source: u32,
        path: &'a str,
        id: &'a str,
    },
}

/// Calls `emit` with what the device log at `(source, path, index)`, in
/// the minute folder `minute`, says for the index.
fn record_events(
    (source, path, index): (usize, &str, usize),
    minute: &str,
    log: &DeviceLog,
    mut emit: impl FnMut(&Event<'_>),
) {
    let record = Record {
        source: source as u32,
        path,
        index: index as u32,
    };
    let (app, install) = (nonempty(&log.app_id), nonempty(&log.install_id));
    let session = nonempty(&log.session_id);
    if let (Some(install), Some(app)) = (install, app) {
        emit(&Event::Install { install, app });
    }
    let Some(link) = log.link() else { return };
    let blob = link.blob_path(minute);
    match log.message_type.as_str() {
        "ErrorLog" | "HandledErrorLog" => {
            if let Some(error_id) = link.error_id.as_deref().and_then(nonempty) {
                emit(&Event::Error {
                    error_id,
                    app,
                    install,
                    session,
                    blob: blob.as_deref(),
                    record,
                });
            }
        }
        "ErrorAttachmentLog" => {
            if let Some(id) = link.attachment_id.as_deref().and_then(nonempty) {
                emit(&Event::Attachment {
                    id,
                    error_id: link.error_id.as_deref().and_then(nonempty),
                    app,
                    install,
                    session,
                    file_name: link.file_name.as_deref().and_then(nonempty),
                    content_type: link.content_type.as_deref().and_then(nonempty),
                    blob: blob.as_deref(),
                    record,
                });
            }
        }
        _ => {}
    }
}

impl Event<'_> {
    /// The app it names.
    fn app(&self) -> Option<&str> {
        match *self {
            Event::Install { app, .. } => Some(app),
            Event::Error { app, .. }
            | Event::Attachment { app, .. }
            | Event::CrashBlob { app, .. } => app,
            Event::AttachmentBlob { .. } => None,
        }
    }

    /// Appends it to `out`, framed: its length (`u32`, little-endian), a
    /// tag, then each field (strings as a length and bytes; an absent one
    /// as length `u32::MAX`).
    fn encode(&self, out: &mut Vec<u8>) {
        fn s(out: &mut Vec<u8>, v: &str) {
            out.extend_from_slice(&(v.len() as u32).to_le_bytes());
            out.extend_from_slice(v.as_bytes());
        }
        fn o(out: &mut Vec<u8>, v: Option<&str>) {
            match v {
                Some(v) => s(out, v),
                None => out.extend_from_slice(&u32::MAX.to_le_bytes()),
            }
        }
        fn n(out: &mut Vec<u8>, v: u32) {
            out.extend_from_slice(&v.to_le_bytes());
        }
        fn r(out: &mut Vec<u8>, v: &Record<'_>) {
            n(out, v.source);
            s(out, v.path);
            n(out, v.index);
        }
        let start = out.len();
        out.extend_from_slice(&[0; 4]);
        match *self {
            Event::Install { install, app } => {
                out.push(1);
                s(out, install);
                s(out, app);
            }
            Event::Error {
                error_id,
                app,
                install,
                session,
                blob,
                ref record,
            } => {
                out.push(2);
                s(out, error_id);
                o(out, app);
                o(out, install);
                o(out, session);
                o(out, blob);
                r(out, record);
            }
            Event::Attachment {
                id,
                error_id,
                app,
                install,
                session,
                file_name,
                content_type,
                blob,
                ref record,
            } => {
                out.push(3);
                s(out, id);
                o(out, error_id);
                o(out, app);
                o(out, install);
                o(out, session);
                o(out, file_name);
                o(out, content_type);
                o(out, blob);
                r(out, record);
            }
            Event::CrashBlob {
                source,
                path,
                error_id,
                app,
            } => {
                out.push(4);
                n(out, source);
                s(out, path);
                s(out, error_id);
                o(out, app);
            }
            Event::AttachmentBlob { source, path, id } => {
                out.push(5);
                n(out, source);
                s(out, path);
                s(out, id);
            }
        }
        let len = (out.len() - start - 4) as u32;
        out[start..start + 4].copy_from_slice(&len.to_le_bytes());
    }
}

/// Reads the fields of one framed event.
struct Fields<'a>(&'a [u8]);

impl<'a> Fields<'a> {
    fn n(&mut self) -> Option<u32> {
        let (head, rest) = self.0.split_first_chunk::<4>()?;
        self.0 = rest;
        Some(u32::from_le_bytes(*head))
    }

    fn o(&mut self) -> Option<Option<&'a str>> {
        let len = self.n()?;
        if len == u32::MAX {
            return Some(None);
        }
        let (v, rest) = self.0.split_at_checked(len as usize)?;
        self.0 = rest;
        std::str::from_utf8(v).ok().map(Some)
    }

    fn s(&mut self) -> Option<&'a str> {
        self.o()?
    }

    fn r(&mut self) -> Option<Record<'a>> {
        Some(Record {
            source: self.n()?,
            path: self.s()?,
            index: self.n()?,
        })
    }
}

impl<'a> Event<'a> {
    /// The event of one frame's body (without its length); `None` when it
    /// is not one this version wrote.
    fn decode(frame: &'a [u8]) -> Option<Self> {
        let (&tag, rest) = frame.split_first()?;
        let mut f = Fields(rest);
        let ev = match tag {
            1 => Event::Install {
                install: f.s()?,
                app: f.s()?,
            },
            2 => Event::Error {
                error_id: f.s()?,
                app: f.o()?,
                install: f.o()?,
                session: f.o()?,
                blob: f.o()?,
                record: f.r()?,
            },
            3 => Event::Attachment {
                id: f.s()?,
                error_id: f.o()?,
                app: f.o()?,
                install: f.o()?,
                session: f.o()?,
                file_name: f.o()?,
                content_type: f.o()?,
                blob: f.o()?,
                record: f.r()?,
            },
            4 => Event::CrashBlob {
                source: f.n()?,
                path: f.s()?,
                error_id: f.s()?,
                app: f.o()?,
            },
            5 => Event::AttachmentBlob {
                source: f.n()?,
                path: f.s()?,
                id: f.s()?,
            },
            _ => return None,
        };
        f.0.is_empty().then_some(ev)
    }
}

impl AttributionIndex {
    /// Adds what a device log says: element `index` of the blob `path`
    /// of `source`, in the minute folder `minute`.
    pub fn add_record(&mut self, at: (usize, &str, usize), minute: &str, log: &DeviceLog) {
        record_events(at, minute, log, |ev| self.apply(ev));
    }

    /// Adds a crash blob seen in a listing.
    pub fn add_crash_blob(&mut self, source: usize, path: &str, error_id: &str) {
        let app = classify(path).and_then(|b| b.app_id);
        self.apply(&Event::CrashBlob {
            source: source as u32,
            path,
            error_id,
            app: app.as_deref(),
        });
    }

    /// Adds an attachment blob seen in a listing.
    pub fn add_attachment_blob(&mut self, source: usize, path: &str, attachment_id: &str) {
        self.apply(&Event::AttachmentBlob {
            source: source as u32,
            path,
            id: attachment_id,
        });
    }

    fn apply(&mut self, ev: &Event<'_>) {
        if let Some(app) = ev.app()
            && !self.apps.contains(app)
        {
            self.apps.insert(app.into());
        }
        match *ev {
            Event::Install { install, app } => {
                if !self.installs.contains_key(install) {
                    self.installs.insert(install.into(), app.into());
                }
            }
            Event::Error {
                error_id,
                app,
                install,
                session,
                blob,
                ref record,
            } => {
                let entry = self.crashes.entry(error_id.into()).or_default();
                least(&mut entry.app, app);
                least(&mut entry.install_id, install);
                if let Some(blob) = blob {
                    let blob: (usize, Box<str>) = (record.source as usize, blob.into());
                    if let Err(at) = entry.blobs.binary_search(&blob) {
                        entry.blobs.insert(at, blob);
                    }
                }
                let at = record.at();
                if let Err(n) = entry.records.binary_search(&at) {
                    entry.records.insert(n, at);
                }
                if let (Some(i), Some(s)) = (install, session) {
                    let ids = self.sessions.entry((i.into(), s.into())).or_default();
                    if let Err(at) = ids.binary_search_by(|e| (**e).cmp(error_id)) {
                        ids.insert(at, error_id.into());
                    }
                }
            }
            Event::Attachment {
                id,
                error_id,
                app,
                install,
                session,
                file_name,
                content_type,
                blob,
                ref record,
            } => {
                let slot = self.attachments.entry(id.into()).or_default();
                // A log that names the crash wins over one that does not;
                // of two that name crashes, the one naming the least id
                // (whatever order the logs were read in).
                let wins = match (&slot.error_id, error_id) {
                    (None, Some(_)) => true,
                    (None, None) => slot.record.as_ref().is_none_or(|had| record.at() < *had),
                    (Some(had), Some(new)) => new < &**had,
                    (Some(_), None) => false,
                };
                if wins {
                    let b = |v: Option<&str>| v.map(Into::into);
                    *slot = AttachmentEntry {
                        error_id: b(error_id),
                        app: b(app),
                        install_id: b(install),
                        session_id: b(session),
                        file_name: b(file_name),
                        content_type: b(content_type),
                        blob: blob.map(|p| (record.source as usize, p.into())),
                        record: Some(record.at()),
                    };
                }
            }
            Event::CrashBlob {
                source,
                path,
                error_id,
                app,
            } => {
                let entry = self.crashes.entry(error_id.into()).or_default();
                let blob = (source as usize, path.into());
                if let Err(at) = entry.blobs.binary_search(&blob) {
                    entry.blobs.insert(at, blob);
                }
                least(&mut entry.app, app);
            }
            Event::AttachmentBlob { source, path, id } => {
                let blobs = self.attachment_blobs.entry(id.into()).or_default();
                let blob = (source as usize, path.into());
                if let Err(at) = blobs.binary_search(&blob) {
                    blobs.insert(at, blob);
                }
            }
        }
    }
}

/// Bytes of events a thread keeps in memory before it writes them to its
/// temporary file.
const SPILL_AT: usize = 4 << 20;
/// Installs a thread remembers having written (then it forgets them all
/// and starts again): most error logs of an install follow each other.
const INSTALLS_REMEMBERED: usize = 1 << 16;

/// A run of events: a thread's, kept in memory or written to a file.
#[derive(Debug)]
enum Run {
    Memory(Vec<u8>),
    File(File),
}

/// The events of a search, appended while it scans: see the module's
/// documentation.
#[derive(Debug)]
pub(crate) struct IndexLog {
    /// Events not yet written to `file`.
    buf: Vec<u8>,
    file: Option<File>,
    /// Sealed runs (this thread's and those merged in).
    runs: Vec<Run>,
    spill_at: usize,
    events: u64,
    apps: BTreeSet<Box<str>>,
    installs: HashSet<Box<str>>,
    /// The first write that failed: the log is incomplete, and resolving
    /// it is an error.
    failed: Option<std::io::Error>,
}

impl Default for IndexLog {
    fn default() -> Self {
        Self::with_spill_at(SPILL_AT)
    }
}

impl IndexLog {
    fn with_spill_at(spill_at: usize) -> Self {
        Self {
            buf: Vec::new(),
            file: None,
            runs: Vec::new(),
            spill_at,
            events: 0,
            apps: BTreeSet::new(),
            installs: HashSet::default(),
            failed: None,
        }
    }

    /// Events written.
    pub(crate) fn events(&self) -> u64 {
        self.events
    }

    /// The app ids seen.
    pub(crate) fn apps(&self) -> impl Iterator<Item = &str> {
        self.apps.iter().map(|a| &**a)
    }

    /// App ids seen where this log did not look (what an index counted).
    pub(crate) fn add_apps<'a>(&mut self, apps: impl Iterator<Item = &'a str>) {
        for a in apps {
            if !self.apps.contains(a) {
                self.apps.insert(a.into());
            }
        }
    }

    /// Adds what a device log says (see [`AttributionIndex::add_record`]).
    pub(crate) fn add_record(&mut self, at: (usize, &str, usize), minute: &str, log: &DeviceLog) {
        record_events(at, minute, log, |ev| self.push(ev));
    }

    /// Adds a crash blob seen in a listing, with the app its path names.
    pub(crate) fn add_crash_blob(
        &mut self,
        source: usize,
        path: &str,
        error_id: &str,
        app: Option<&str>,
    ) {
        self.push(&Event::CrashBlob {
            source: source as u32,
            path,
            error_id,
            app,
        });
    }

    /// Adds an attachment blob seen in a listing.
    pub(crate) fn add_attachment_blob(&mut self, source: usize, path: &str, attachment_id: &str) {
        self.push(&Event::AttachmentBlob {
            source: source as u32,
            path,
            id: attachment_id,
        });
    }

    fn push(&mut self, ev: &Event<'_>) {
        if let Event::Install { install, .. } = ev {
            if self.installs.contains(*install) {
                return;
            }
            if self.installs.len() >= INSTALLS_REMEMBERED {
                self.installs.clear();
            }
            self.installs.insert((*install).into());
        }
        if let Some(app) = ev.app()
            && !self.apps.contains(app)
        {
            self.apps.insert(app.into());
        }
        ev.encode(&mut self.buf);
        self.events += 1;
        if self.buf.len() >= self.spill_at {
            self.spill();
        }
    }

    /// Writes the buffered events to this thread's file.
    fn spill(&mut self) {
        if self.failed.is_none() {
            let file = match self.file.take() {
                Some(f) => Ok(f),
                None => tempfile::tempfile(),
            };
            match file.and_then(|mut f| f.write_all(&self.buf).map(|()| f)) {
                Ok(f) => self.file = Some(f),
                Err(e) => self.failed = Some(e),
            }
        }
        self.buf.clear();
    }

    /// Ends what was appended so far as a run.
    fn seal(&mut self) {
        if self.file.is_some() {
            self.spill();
            if let Some(f) = self.file.take() {
                self.runs.push(Run::File(f));
            }
        } else if !self.buf.is_empty() {
            self.runs.push(Run::Memory(std::mem::take(&mut self.buf)));
        }
    }

    /// Takes in another thread's log.
    pub(crate) fn merge(&mut self, mut other: Self) {
        self.seal();
        other.seal();
        self.runs.append(&mut other.runs);
        self.events += other.events;
        self.apps.append(&mut other.apps);
        self.failed = self.failed.take().or(other.failed);
    }

    /// Calls `f` with every event, in the order they were appended within
    /// each run.
    fn each(&mut self, mut f: impl FnMut(&Event<'_>)) -> std::io::Result<()> {
        fn frames(mut b: &[u8], f: &mut impl FnMut(&Event<'_>)) -> std::io::Result<()> {
            while let Some((len, rest)) = b.split_first_chunk::<4>() {
                let (frame, rest) = rest
                    .split_at_checked(u32::from_le_bytes(*len) as usize)
                    .ok_or_else(damaged)?;
                f(&Event::decode(frame).ok_or_else(damaged)?);
                b = rest;
            }
            if b.is_empty() { Ok(()) } else { Err(damaged()) }
        }
        fn damaged() -> std::io::Error {
            std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                "an event read back is not the one written",
            )
        }
        let mut frame = Vec::new();
        for run in &mut self.runs {
            match run {
                Run::Memory(b) => frames(b, &mut f)?,
                Run::File(file) => {
                    file.seek(SeekFrom::Start(0))?;
                    let mut r = BufReader::with_capacity(1 << 20, &*file);
                    let mut len = [0u8; 4];
                    loop {
                        match r.read_exact(&mut len) {
                            Ok(()) => {}
                            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => break,
                            Err(e) => return Err(e),
                        }
                        frame.resize(u32::from_le_bytes(len) as usize, 0);
                        r.read_exact(&mut frame)?;
                        f(&Event::decode(&frame).ok_or_else(damaged)?);
                    }
                }
            }
        }
        Ok(())
    }

    /// The index of what `wanted` names and of all it leads to: their
    /// crashes' sessions, the attachments of those crashes and sessions,
    /// the crashes those attachments name. The log is read until nothing
    /// new is wanted (three or four times), then once more to build the
    /// index, so it holds exactly the entries the full index would hold
    /// for these keys.
    pub(crate) fn resolve(&mut self, wanted: &mut Wanted) -> std::io::Result<AttributionIndex> {
        self.seal();
        if let Some(e) = &self.failed {
            return Err(std::io::Error::new(e.kind(), format!("writing it: {e}")));
        }
        let mut index = AttributionIndex {
            apps: self.apps.clone(),
            ..Default::default()
        };
        if wanted.is_empty() {
            return Ok(index);
        }
        let mut key = String::new();
        loop {
            let before = wanted.len();
            self.each(|ev| wanted.follow(ev, &mut key))?;
            if wanted.len() == before {
                break;
            }
        }
        self.each(|ev| {
            if wanted.holds(ev) {
                index.apply(ev);
            }
        })?;
        Ok(index)
    }
}

/// An [`IndexLog`] and what the hits so far need from it.
#[derive(Debug, Default)]
pub(crate) struct Resolver {
    log: IndexLog,
    wanted: Wanted,
}

impl Resolver {
    pub(crate) fn new(log: IndexLog) -> Self {
        Self {
            log,
            wanted: Wanted::default(),
        }
    }

    /// Events the log holds.
    pub(crate) fn events(&self) -> u64 {
        self.log.events()
    }

    /// Every key the hits so far led to: crash, attachment and install
    /// ids, and `install` NUL `session`.
    pub(crate) fn keys(&self) -> impl Iterator<Item = String> + '_ {
        let w = &self.wanted;
        (w.crashes.iter())
            .chain(&w.attachments)
            .chain(&w.sessions)
            .chain(&w.installs)
            .map(|k| k.to_string())
    }

    /// The index of what `places` and every place before them need; the
    /// log is read on a blocking thread.
    pub(crate) async fn resolve<'p>(
        mut self,
        places: impl Iterator<Item = &'p Place>,
    ) -> crate::Result<(Self, AttributionIndex)> {
        for p in places {
            self.wanted.place(p);
        }
        tokio::task::spawn_blocking(move || {
            let index = self.log.resolve(&mut self.wanted)?;
            Ok((self, index))
        })
        .await
        .map_err(|e| crate::Error::Source(format!("reading the attribution index ended: {e}")))?
    }
}

/// The keys a search needs from the index.
#[derive(Debug, Default)]
pub(crate) struct Wanted {
    crashes: HashSet<Box<str>>,
    attachments: HashSet<Box<str>>,
    /// `install`, NUL, `session`.
    sessions: HashSet<Box<str>>,
    installs: HashSet<Box<str>>,
}

impl Wanted {
    /// What attributing a hit at `place` needs.
    pub(crate) fn place(&mut self, place: &Place) {
        match place {
            Place::Crash { error_id, .. } => {
                self.crashes.insert(error_id.as_str().into());
            }
            Place::Attachment { attachment_id, .. } => {
                self.attachments.insert(attachment_id.as_str().into());
            }
            Place::Activity {
                install_id: Some(install),
                ..
            } => {
                self.installs.insert(install.as_str().into());
            }
            Place::Activity { .. } | Place::Unattributed { .. } => {}
        }
    }

    fn len(&self) -> usize {
        self.crashes.len() + self.attachments.len() + self.sessions.len() + self.installs.len()
    }

    fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn session<'k>(
        key: &'k mut String,
        install: Option<&str>,
        session: Option<&str>,
    ) -> Option<&'k str> {
        let (i, s) = (install?, session?);
        key.clear();
        key.push_str(i);
        key.push('\0');
        key.push_str(s);
        Some(key)
    }

    /// Takes in the keys `ev` leads to, if it is wanted.
    fn follow(&mut self, ev: &Event<'_>, key: &mut String) {
        match *ev {
            Event::Error {
                error_id,
                install,
                session,
                ..
            } => {
                let Some(key) = Self::session(key, install, session) else {
                    return;
                };
                if self.crashes.contains(error_id) {
                    if !self.sessions.contains(key) {
                        self.sessions.insert(key.into());
                    }
                } else if self.sessions.contains(key) {
                    self.crashes.insert(error_id.into());
                }
            }
            Event::Attachment {
                id,
                error_id,
                install,
                session,
                ..
            } => {
                let key = Self::session(key, install, session);
                if self.attachments.contains(id) {
                    match (error_id, key) {
                        (Some(e), _) if !self.crashes.contains(e) => {
                            self.crashes.insert(e.into());
                        }
                        (None, Some(k)) if !self.sessions.contains(k) => {
                            self.sessions.insert(k.into());
                        }
                        _ => {}
                    }
                } else if match error_id {
                    Some(e) => self.crashes.contains(e),
                    None => key.is_some_and(|k| self.sessions.contains(k)),
                } {
                    self.attachments.insert(id.into());
                }
            }
            Event::Install { .. } | Event::CrashBlob { .. } | Event::AttachmentBlob { .. } => {}
        }
    }

    /// Whether the index keeps `ev`.
    fn holds(&self, ev: &Event<'_>) -> bool {
        match *ev {
            Event::Install { install, .. } => self.installs.contains(install),
            Event::Error { error_id, .. } | Event::CrashBlob { error_id, .. } => {
                self.crashes.contains(error_id)
            }
            Event::Attachment { id, .. } | Event::AttachmentBlob { id, .. } => {
                self.attachments.contains(id)
            }
        }
    }
}

impl AttributionIndex {
    /// Every attachment a log names, with its entry.
    pub fn attachments(&self) -> impl Iterator<Item = (&str, &AttachmentEntry)> {
        self.attachments.iter().map(|(k, v)| (&**k, v))
    }

    /// The attachments of every crash, by error id, each list sorted.
    pub fn attachments_by_crash(&self) -> std::collections::BTreeMap<String, Vec<String>> {
        let mut out: std::collections::BTreeMap<String, Vec<String>> = Default::default();
        for aid in self.attachments.keys() {
            if let Ok((eid, _)) = self.crash_of_attachment(aid) {
                out.entry(eid.to_owned()).or_default().push(aid.to_string());
            }
        }
        for v in out.values_mut() {
            v.sort();
        }
        out
    }

    /// The blobs of an attachment: the one its log names, then those seen
    /// in listings, each once.
    pub fn attachment_blobs(&self, attachment_id: &str) -> Vec<(usize, &str)> {
        let mut out: Vec<(usize, &str)> = Vec::new();
        let named = self
            .attachments
            .get(attachment_id)
            .and_then(|e| e.blob.as_ref());
        let listed = self
            .attachment_blobs
            .get(attachment_id)
            .into_iter()
            .flatten();
        for (s, p) in named.into_iter().chain(listed) {
            if !out.contains(&(*s, &**p)) {
                out.push((*s, p));
            }
        }
        out
    }

    /// Every app id seen in the logs and crash blobs of the sources, all
    /// of them even when the index holds only what the hits need.
    pub fn apps(&self) -> BTreeSet<&str> {
        self.apps.iter().map(|a| &**a).collect()
    }

    /// A crash's entry.
    pub fn crash(&self, error_id: &str) -> Option<&CrashEntry> {
        self.crashes.get(error_id)
    }

    /// The app an install belongs to.
    pub fn app_of_install(&self, install_id: &str) -> Option<&str> {
        self.installs.get(install_id).map(|a| &**a)
    }

    /// The crash an attachment belongs to: named by its log, or the one
    /// crash logged in the same install and session. Otherwise why not.
    pub fn crash_of_attachment(
        &self,
        attachment_id: &str,
    ) -> Result<(&str, &AttachmentEntry), Unlinked> {
        let Some(entry) = self.attachments.get(attachment_id) else {
            return Err(Unlinked::NoLog);
        };
        if let Some(eid) = &entry.error_id {
            return Ok((eid, entry));
        }
        let (Some(install), Some(session)) = (&entry.install_id, &entry.session_id) else {
            return Err(Unlinked::NoSession);
        };
        match self
            .sessions
            .get(&(install.clone(), session.clone()))
            .map(Vec::as_slice)
        {
            Some([one]) => Ok((one, entry)),
            Some(many) => Err(Unlinked::SharedSession(many.len())),
            None => Err(Unlinked::LoneSession),
        }
    }

    /// Entries held in memory (crashes, attachments, sessions, installs).
    pub fn len(&self) -> usize {
        self.crashes.len() + self.attachments.len() + self.sessions.len() + self.installs.len()
    }

    /// Heap bytes it holds, approximately (tables at their capacity, plus
    /// the strings), for the benchmarks.
    pub fn heap_bytes(&self) -> usize {
        fn table<K, V>(m: &HashMap<K, V>) -> usize {
            m.capacity() * (std::mem::size_of::<K>() + std::mem::size_of::<V>() + 1)
        }
        let s = |b: &Option<Box<str>>| b.as_ref().map_or(0, |b| b.len());
        table(&self.crashes)
            + self
                .crashes
                .iter()
                .map(|(k, v)| {
                    k.len()
                        + s(&v.app)
                        + s(&v.install_id)
                        + v.blobs.capacity() * std::mem::size_of::<(usize, Box<str>)>()
                        + v.blobs.iter().map(|b| b.1.len()).sum::<usize>()
                        + v.records.capacity() * std::mem::size_of::<RecordAt>()
                        + v.records.iter().map(|r| r.1.len()).sum::<usize>()
                })
                .sum::<usize>()
            + table(&self.attachments)
            + self
                .attachments
                .iter()
                .map(|(k, v)| {
                    k.len()
                        + s(&v.error_id)
                        + s(&v.app)
                        + s(&v.install_id)
                        + s(&v.session_id)
                        + s(&v.file_name)
                        + s(&v.content_type)
                        + v.record.as_ref().map_or(0, |r| r.1.len())
                        + v.blob.as_ref().map_or(0, |b| b.1.len())
                })
                .sum::<usize>()
            + table(&self.sessions)
            + self
                .sessions
                .iter()
                .map(|((i, s), v)| {
                    i.len() + s.len() + v.iter().map(|e| e.len() + 16).sum::<usize>()
                })
                .sum::<usize>()
            + table(&self.installs)
            + self
                .installs
                .iter()
                .map(|(k, v)| k.len() + v.len())
                .sum::<usize>()
            + table(&self.attachment_blobs)
            + self
                .attachment_blobs
                .iter()
                .map(|(k, v)| {
                    k.len()
                        + v.capacity() * std::mem::size_of::<(usize, Box<str>)>()
                        + v.iter().map(|b| b.1.len()).sum::<usize>()
                })
                .sum::<usize>()
    }

    /// Whether it holds nothing.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn log(v: serde_json::Value) -> DeviceLog {
        DeviceLog::from_map(v.as_object().unwrap().clone())
    }

    /// Logs that disagree (two error logs of one crash with different
    /// installs, two attachment logs of one attachment naming different
    /// crashes) give the same index in whatever order they are read: a
    /// search that reads them in another order, or reads fewer objects
    /// through an index, answers the same.
    #[test]
    fn disagreeing_logs_resolve_the_same_in_any_order() {
        let logs = [
            (
                (0, "a/logs.v1.data", 1),
                json!({"MessageType": "ErrorLog", "AppId": "app-b", "InstallId": "i-b",
                "Properties": "{\"ErrorId\":\"e1\"}"}),
            ),
            (
                (0, "b/logs.v1.data", 0),
                json!({"MessageType": "ErrorLog", "AppId": "app-a", "InstallId": "i-a",
                "Properties": "{\"ErrorId\":\"e1\"}"}),
            ),
            (
                (0, "a/logs.v1.data", 2),
                json!({"MessageType": "ErrorAttachmentLog", "InstallId": "i-a",
                "Properties": {"ErrorId": "e9", "AttachmentId": "x"}}),
            ),
            (
                (0, "b/logs.v1.data", 1),
                json!({"MessageType": "ErrorAttachmentLog", "InstallId": "i-b",
                "Properties": {"ErrorId": "e1", "AttachmentId": "x"}}),
            ),
            (
                (0, "c/logs.v1.data", 3),
                json!({"MessageType": "ErrorAttachmentLog", "InstallId": "i-c",
                "Properties": {"AttachmentId": "y"}}),
            ),
            (
                (0, "c/logs.v1.data", 1),
                json!({"MessageType": "ErrorAttachmentLog", "InstallId": "i-d",
                "Properties": {"AttachmentId": "y"}}),
            ),
        ];
        let build = |order: &[usize]| {
            let mut a = AttributionIndex::default();
            for &n in order {
                let (at, v) = &logs[n];
                a.add_record(*at, "2026/11/30/12/05/", &log(v.clone()));
            }
            a
        };
        let one = build(&[0, 1, 2, 3, 4, 5]);
        let other = build(&[5, 4, 3, 2, 1, 0]);
        assert_eq!(one.crash("e1"), other.crash("e1"));
        assert_eq!(one.crash("e1").unwrap().install_id.as_deref(), Some("i-a"));
        assert_eq!(one.crash("e1").unwrap().app.as_deref(), Some("app-a"));
        let att = |a: &AttributionIndex, id: &str| {
            a.attachments()
                .find(|(k, _)| *k == id)
                .map(|(_, v)| v.clone())
        };
        assert_eq!(att(&one, "x"), att(&other, "x"));
        assert_eq!(att(&one, "x").unwrap().error_id.as_deref(), Some("e1"));
        assert_eq!(att(&one, "y"), att(&other, "y"));
        assert_eq!(att(&one, "y").unwrap().install_id.as_deref(), Some("i-d"));
    }

    #[test]
    fn attachments_find_their_crash_by_name_or_session() {
        let mut a = AttributionIndex::default();
        a.add_record(
            (0, "logs.v1.data", 1),
            "2026/11/30/12/05/",
            &log(json!({"MessageType": "ErrorLog", "AppId": "app", "InstallId": "I1", "SessionId": "s1",
                "Properties": "2026/11/30/12/05/crashes/e1.json"})),
        );
        a.add_record(
            (0, "logs.v1.data", 2),
            "2026/11/30/12/05/",
            &log(
                json!({"MessageType": "ErrorLog", "InstallId": "i2", "SessionId": "s2",
                "Properties": "{\"ErrorId\":\"e2\",\"Blob\":\"crashes/e2.json\"}"}),
            ),
        );
        // In a later folder: one names its crash, one not.
        a.add_record(
            (1, "logs.v1.data", 3),
            "2026/11/30/12/09/",
            &log(
                json!({"MessageType": "ErrorAttachmentLog", "InstallId": "i2",
                "Properties": {"ErrorId": "e2", "AttachmentId": "a2", "FileName": "log.txt"}}),
            ),
        );
        a.add_record(
            (1, "logs.v1.data", 4),
            "2026/11/30/12/09/",
            &log(
                json!({"MessageType": "ErrorAttachmentLog", "InstallId": "i1", "SessionId": "s1",
                "Properties": "2026/11/30/12/09/attachments/a1"}),
            ),
        );
        a.add_record(
            (1, "logs.v1.data", 5),
            "2026/11/30/12/09/",
            &log(
                json!({"MessageType": "ErrorAttachmentLog", "InstallId": "i9", "SessionId": "s9",
                "Properties": "2026/11/30/12/09/attachments/a9"}),
            ),
        );
        assert_eq!(a.crash_of_attachment("a2").unwrap().0, "e2");
        assert_eq!(
            a.crash_of_attachment("a2").unwrap().1.file_name.as_deref(),
            Some("log.txt")
        );
        assert_eq!(a.crash_of_attachment("a1").unwrap().0, "e1");
        assert_eq!(a.crash_of_attachment("a9"), Err(Unlinked::LoneSession));
        assert_eq!(a.crash_of_attachment("zz"), Err(Unlinked::NoLog));
        assert_eq!(
            a.crash("e2").unwrap().blobs,
            vec![(0, "2026/11/30/12/05/crashes/e2.json".into())]
        );
        assert_eq!(
            a.crash("e2").unwrap().records,
            vec![(0, "logs.v1.data".into(), 2)]
        );
        assert_eq!(
            a.attachment_blobs("a1"),
            vec![(1, "2026/11/30/12/09/attachments/a1")]
        );
        a.add_attachment_blob(1, "2026/11/30/12/09/attachments/a1", "a1");
        a.add_attachment_blob(2, "x/attachments/a1", "a1");
        assert_eq!(
            a.attachment_blobs("a1"),
            vec![
                (1, "2026/11/30/12/09/attachments/a1"),
                (2, "x/attachments/a1")
            ]
        );
        assert_eq!(
            a.crash_of_attachment("a2").unwrap().1.record,
            Some((1, "logs.v1.data".into(), 3))
        );
        assert_eq!(a.apps(), ["app"].into_iter().collect());
        assert_eq!(a.app_of_install("i1"), Some("app"));
        a.add_crash_blob(3, "app/2026/11/30/12/05/crashes/e3.json", "e3");
        assert_eq!(a.crash("e3").unwrap().app.as_deref(), Some("app"));
    }

    /// Error and attachment logs over three sessions and two threads: an
    /// attachment named by its crash, one found by its session, and
    /// decoys that no hit leads to.
    fn logs() -> Vec<(usize, &'static str, usize, &'static str, serde_json::Value)> {
        let m5 = "2026/11/30/12/05/";
        let m9 = "2026/11/30/12/09/";
        vec![
            (
                0,
                "a/logs.v1.data",
                0,
                m5,
                json!({"MessageType": "ErrorLog", "AppId": "app", "InstallId": "i1", "SessionId": "s1",
                "Properties": "2026/11/30/12/05/crashes/e1.json"}),
            ),
            (
                0,
                "a/logs.v1.data",
                1,
                m5,
                json!({"MessageType": "ErrorLog", "AppId": "app", "InstallId": "i2", "SessionId": "s2",
                "Properties": {"ErrorId": "e2", "Blob": "crashes/e2.json"}}),
            ),
            (
                0,
                "a/logs.v1.data",
                2,
                m5,
                json!({"MessageType": "ErrorLog", "AppId": "other", "InstallId": "i3", "SessionId": "s3",
                "Properties": {"ErrorId": "e3", "Blob": "crashes/e3.json"}}),
            ),
            (
                0,
                "a/logs.v1.data",
                3,
                m5,
                json!({"MessageType": "ErrorLog", "AppId": "app", "InstallId": "i3", "SessionId": "s3",
                "Properties": {"ErrorId": "e4", "Blob": "crashes/e4.json"}}),
            ),
            (
                1,
                "b/logs.v1.data",
                0,
                m9,
                json!({"MessageType": "ErrorAttachmentLog", "AppId": "app", "InstallId": "i1", "SessionId": "s1",
                "Properties": "2026/11/30/12/09/attachments/a1"}),
            ),
            (
                1,
                "b/logs.v1.data",
                1,
                m9,
                json!({"MessageType": "ErrorAttachmentLog", "AppId": "app", "InstallId": "i2",
                "Properties": {"ErrorId": "e2", "AttachmentId": "a2", "FileName": "log.txt"}}),
            ),
            (
                1,
                "b/logs.v1.data",
                2,
                m9,
                json!({"MessageType": "ErrorAttachmentLog", "AppId": "other", "InstallId": "i3", "SessionId": "s3",
                "Properties": "2026/11/30/12/09/attachments/a3"}),
            ),
            (
                1,
                "b/logs.v1.data",
                3,
                m9,
                json!({"MessageType": "ErrorAttachmentLog", "AppId": "app", "InstallId": "i2",
                "Properties": {"ErrorId": "e2", "AttachmentId": "a4", "FileName": "more.txt"}}),
            ),
        ]
    }

    #[test]
    fn the_log_resolves_what_the_hits_need_as_the_whole_index_has_it() {
        let mut full = AttributionIndex::default();
        // Two threads' logs: one written to its file event by event, one
        // kept in memory.
        let (mut one, mut two) = (IndexLog::with_spill_at(1), IndexLog::default());
        for (source, path, index, minute, v) in logs() {
            let l = log(v);
            full.add_record((source, path, index), minute, &l);
            let half = if source == 0 { &mut one } else { &mut two };
            half.add_record((source, path, index), minute, &l);
        }
        for (source, path, id) in [
            (1, "2026/11/30/12/09/attachments/a1", "a1"),
            (2, "x/attachments/a4", "a4"),
        ] {
            full.add_attachment_blob(source, path, id);
            two.add_attachment_blob(source, path, id);
        }
        full.add_crash_blob(2, "app/2026/11/30/12/05/crashes/e5.json", "e5");
        two.add_crash_blob(2, "app/2026/11/30/12/05/crashes/e5.json", "e5", Some("app"));
        assert!(one.file.is_some(), "the first log went to its file");
        one.merge(two);
        assert_eq!(one.events(), 17);

        let crash = |error_id: &str| Place::Crash {
            app: None,
            error_id: error_id.into(),
        };
        let attachment = |id: &str| Place::Attachment {
            attachment_id: id.into(),
            object: String::new(),
            index: None,
            source: 0,
        };
        let same = |part: &AttributionIndex, crashes: &[&str], attachments: &[&str]| {
            for e in crashes {
                assert_eq!(part.crash(e), full.crash(e), "{e}");
            }
            for a in attachments {
                assert_eq!(
                    part.crash_of_attachment(a),
                    full.crash_of_attachment(a),
                    "{a}"
                );
                assert_eq!(part.attachment_blobs(a), full.attachment_blobs(a), "{a}");
            }
            assert_eq!(part.apps(), full.apps());
        };

        // A hit in crash e2 brings its attachments a2 and a4, by name.
        let mut wanted = Wanted::default();
        wanted.place(&crash("e2"));
        let part = one.resolve(&mut wanted).unwrap();
        same(&part, &["e2"], &["a2", "a4"]);
        assert_eq!(
            part.attachments_by_crash().get("e2").unwrap(),
            &["a2", "a4"]
        );
        assert_eq!(part.crash("e1"), None, "nothing the hit does not lead to");

        // A hit in attachment a1 (no crash named) finds e1 by its session.
        let mut wanted = Wanted::default();
        wanted.place(&attachment("a1"));
        let part = one.resolve(&mut wanted).unwrap();
        same(&part, &["e1"], &["a1"]);
        assert_eq!(part.crash_of_attachment("a1").unwrap().0, "e1");

        // Two crashes share a3's session: it stays unattributed, as in the
        // whole index, and both crashes are known.
        let mut wanted = Wanted::default();
        wanted.place(&attachment("a3"));
        wanted.place(&crash("e4"));
        let part = one.resolve(&mut wanted).unwrap();
        same(&part, &["e3", "e4"], &["a3"]);
        assert!(part.crash_of_attachment("a3").is_err());

        // A record's install gives its app; a listed crash blob is kept.
        let mut wanted = Wanted::default();
        wanted.place(&Place::Activity {
            app: None,
            install_id: Some("i2".into()),
            message_type: "EventLog".into(),
            object: String::new(),
            index: 0,
            source: 0,
        });
        wanted.place(&crash("e5"));
        let part = one.resolve(&mut wanted).unwrap();
        assert_eq!(part.app_of_install("i2"), Some("app"));
        assert_eq!(part.app_of_install("i1"), None);
        same(&part, &["e5"], &[]);

        // No hit: nothing is read back, and every app is still known.
        let part = one.resolve(&mut Wanted::default()).unwrap();
        assert!(part.is_empty());
        assert_eq!(part.apps(), full.apps());
    }

    #[test]
    fn every_event_reads_back_as_written() {
        let record = Record {
            source: 7,
            path: "p/logs.v1.data",
            index: 3,
        };
        let events = [
            Event::Install {
                install: "i",
                app: "a",
            },
            Event::Error {
                error_id: "e",
                app: None,
                install: Some("i"),
                session: Some(""),
                blob: Some("b"),
                record,
            },
            Event::Attachment {
                id: "x",
                error_id: None,
                app: Some("a"),
                install: None,
                session: Some("s"),
                file_name: Some("f\u{e9}.txt"),
                content_type: None,
                blob: None,
                record,
            },
            Event::CrashBlob {
                source: 1,
                path: "c",
                error_id: "e",
                app: None,
            },
            Event::AttachmentBlob {
                source: u32::MAX - 1,
                path: "",
                id: "x",
            },
        ];
        let mut buf = Vec::new();
        for ev in &events {
            buf.clear();
            ev.encode(&mut buf);
            assert_eq!(
                u32::from_le_bytes(buf[..4].try_into().unwrap()) as usize,
                buf.len() - 4
            );
            assert_eq!(Event::decode(&buf[4..]), Some(*ev));
            // A cut frame is not read as an event.
            assert_eq!(Event::decode(&buf[4..buf.len() - 1]), None);
        }
    }
}
