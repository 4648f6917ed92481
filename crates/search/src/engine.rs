//! The search: every object of every source scanned by the matcher, each
//! hit attributed to its record and crash, install-id expansion, and the
//! evidence per subject and crash.
//!
//! Layouts understood: the crawl's archive (`apps/{owner}/{app}/errors/{errorId}/…`),
//! the continuous export (minute folders; see [`crate::export`]) and any
//! directory of crash JSON (a file naming its `errorId`). Local sources are
//! scanned by a pool of threads reading files; remote ones are listed and
//! read as streams. Objects larger than [`WHOLE_OBJECT_MAX`] are scanned in
//! chunks, so memory does not grow with object or corpus size.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use base64::Engine as _;
use futures::{StreamExt, TryStreamExt};
use serde::Serialize;

use crate::error::{Error, Result};
use crate::export::{BlobKind, classify, parse_device_logs};
use crate::matcher::{Found, Matcher, json_path_at};
use crate::source::Source;
use crate::subject::{IdKind, Identifier, Subject};

/// Objects up to this size are scanned whole (decoded, JSON paths);
/// larger ones in chunks.
pub const WHOLE_OBJECT_MAX: u64 = 64 << 20;
const CHUNK: usize = 8 << 20;
const MAX_DECODED: u64 = 256 << 20;

/// One hit in the output.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, PartialOrd, Ord)]
pub struct Hit {
    /// The identifier's type (never its value).
    pub identifier: IdKind,
    /// The artefact or record that holds it.
    pub artefact: String,
    /// The JSON path of the value, when the artefact is JSON.
    pub path: Option<String>,
    /// Byte offset in the object (in the decoded bytes for gzip and
    /// base64).
    pub offset: u64,
    /// Whether it was the value of a typed field (`userId`, `InstallId`).
    #[serde(skip)]
    pub typed: bool,
}

/// One line of the evidence: a subject's matched record or crash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Evidence {
    /// The subject's label.
    pub subject: String,
    /// `OWNER/APP` (archive) or the app id (export), if known.
    pub app: Option<String>,
    /// The crash, or `None` for records that belong to no crash (session
    /// events).
    pub error_id: Option<String>,
    /// True when brought in by install-id expansion only.
    pub linked: bool,
    /// The install id (linking install for linked crashes; the record's
    /// install for session events).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub install_id: Option<String>,
    /// The hits (empty for linked crashes).
    pub hits: Vec<Hit>,
}

/// What a search did.
#[derive(Debug, Clone, Default)]
pub struct SearchReport {
    /// One entry per subject and crash (or session record), sorted.
    pub evidence: Vec<Evidence>,
    /// Objects scanned.
    pub objects: u64,
    /// Bytes scanned.
    pub bytes: u64,
    /// Objects that could not be read: `(object, why)`.
    pub errors: Vec<(String, String)>,
    /// `(subject label, identifier type)` of identifiers matched in typed
    /// fields only (too short for free text).
    pub typed_only: Vec<(String, IdKind)>,
}

/// How to search.
#[derive(Debug, Clone)]
pub struct SearchOptions {
    /// Threads (local) or objects in flight (remote).
    pub threads: usize,
    /// Bring in crashes that share an install id with a subject's crashes.
    pub expand_install_ids: bool,
}

impl Default for SearchOptions {
    fn default() -> Self {
        Self {
            threads: std::thread::available_parallelism().map_or(2, |n| n.get()),
            expand_install_ids: false,
        }
    }
}

/// Who a record belongs to.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
enum Owner {
    Crash {
        app: Option<String>,
        error_id: String,
    },
    Session {
        app: Option<String>,
        install_id: String,
    },
    /// An export attachment: its crash is named in its folder's
    /// `logs.v1.data` (resolved after the scan).
    Attachment {
        source: usize,
        folder: String,
        attachment_id: String,
    },
    Unknown {
        object: String,
    },
}

#[derive(Debug, Clone)]
struct RawHit {
    subject: usize,
    owner: Owner,
    install: Option<String>,
    hit: Hit,
}

/// A place objects are read from.
#[derive(Debug, Clone)]
pub enum Input {
    /// A local directory, scanned by threads.
    Dir(PathBuf),
    /// An object store, read as streams.
    Remote(Source),
}

impl Input {
    /// A directory path or an object-store URL.
    pub fn open(spec: &str) -> Result<Self> {
        if spec.contains("://") && !spec.starts_with("file://") {
            Ok(Self::Remote(Source::open(spec)?))
        } else {
            let dir = PathBuf::from(spec.strip_prefix("file://").unwrap_or(spec));
            if !dir.is_dir() {
                return Err(Error::Source(format!(
                    "source {}: not a directory",
                    dir.display()
                )));
            }
            Ok(Self::Dir(dir))
        }
    }

    /// For messages.
    pub fn name(&self) -> String {
        match self {
            Self::Dir(d) => d.display().to_string(),
            Self::Remote(s) => s.url().to_owned(),
        }
    }
}

fn extract_string_field(bytes: &[u8], key: &str) -> Option<String> {
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

fn archive_owner(path: &str) -> Option<(String, String, String)> {
    let parts: Vec<&str> = path.split('/').collect();
    let i = parts.iter().position(|p| *p == "apps")?;
    match &parts[i..] {
        ["apps", owner, app, "errors", eid, rest @ ..] if !rest.is_empty() => {
            Some((format!("{owner}/{app}"), (*eid).to_owned(), rest.join("/")))
        }
        _ => None,
    }
}

struct Scanner<'m> {
    matcher: &'m Matcher,
}

impl Scanner<'_> {
    fn hit(&self, f: &Found, artefact: &str, doc: Option<&[u8]>, base: usize) -> Hit {
        let id = &self.matcher.subjects()[f.subject].identifiers[f.identifier];
        Hit {
            identifier: id.kind,
            artefact: artefact.to_owned(),
            path: doc.and_then(|d| json_path_at(d, f.offset - base)),
            offset: f.offset as u64,
            typed: f.typed,
        }
    }

    fn push_all(
        &self,
        found: &[Found],
        owner: &Owner,
        install: Option<&String>,
        artefact: &str,
        doc: Option<&[u8]>,
        out: &mut Vec<RawHit>,
    ) {
        for f in found {
            out.push(RawHit {
                subject: f.subject,
                owner: owner.clone(),
                install: install.cloned(),
                hit: self.hit(f, artefact, doc, 0),
            });
        }
    }

    /// Scans one whole object.
    fn object(&self, source: usize, path: &str, bytes: &[u8], out: &mut Vec<RawHit>) {
        let found = self.matcher.find(bytes);
        let is_json = bytes
            .iter()
            .find(|b| !b.is_ascii_whitespace())
            .is_some_and(|b| *b == b'{' || *b == b'[');
        if let Some((app, error_id, artefact)) = archive_owner(path) {
            let owner = Owner::Crash {
                app: Some(app),
                error_id,
            };
            let install = if found.is_empty() {
                None
            } else {
                extract_string_field(bytes, "installId")
                    .or_else(|| extract_string_field(bytes, "install_id"))
            };
            self.push_all(
                &found,
                &owner,
                install.as_ref(),
                &artefact,
                is_json.then_some(bytes),
                out,
            );
            self.decoded(bytes, &owner, &artefact, out);
            return;
        }
        match classify(path) {
            Some(blob) => match blob.kind {
                BlobKind::DeviceLogs => {
                    if found.is_empty() {
                        return;
                    }
                    let (records, _) = parse_device_logs(bytes);
                    for f in &found {
                        let Some(r) = records.iter().find(|r| r.span.contains(&f.offset)) else {
                            continue;
                        };
                        let app = r
                            .log
                            .other
                            .get("AppId")
                            .and_then(|v| v.as_str())
                            .map(str::to_owned)
                            .or(blob.app_id.clone());
                        let owner = match r.log.link().and_then(|l| l.error_id) {
                            Some(error_id) => Owner::Crash { app, error_id },
                            None => Owner::Session {
                                app,
                                install_id: r.log.install_id.to_ascii_lowercase(),
                            },
                        };
                        let artefact = format!("logs.v1.data[{}]", r.index);
                        let element = &bytes[r.span.clone()];
                        let mut hit = self.hit(f, &artefact, None, 0);
                        hit.path = json_path_at(element, f.offset - r.span.start);
                        out.push(RawHit {
                            subject: f.subject,
                            owner,
                            install: Some(r.log.install_id.to_ascii_lowercase()),
                            hit,
                        });
                    }
                }
                BlobKind::Crash { error_id, .. } => {
                    let owner = Owner::Crash {
                        app: blob
                            .app_id
                            .clone()
                            .or_else(|| extract_string_field(bytes, "appId")),
                        error_id,
                    };
                    let artefact = path
                        .rsplit('/')
                        .take(2)
                        .collect::<Vec<_>>()
                        .into_iter()
                        .rev()
                        .collect::<Vec<_>>()
                        .join("/");
                    let install = if found.is_empty() {
                        None
                    } else {
                        extract_string_field(bytes, "installId")
                    };
                    self.push_all(
                        &found,
                        &owner,
                        install.as_ref(),
                        &artefact,
                        is_json.then_some(bytes),
                        out,
                    );
                }
                BlobKind::Attachment { attachment_id } => {
                    let owner = Owner::Attachment {
                        source,
                        folder: blob.minute.clone(),
                        attachment_id: attachment_id.clone(),
                    };
                    let artefact = format!("attachments/{attachment_id}");
                    self.push_all(&found, &owner, None, &artefact, None, out);
                    self.decoded(bytes, &owner, &artefact, out);
                }
            },
            None => {
                let owner = match extract_string_field(bytes, "errorId")
                    .or_else(|| extract_string_field(bytes, "error_id"))
                {
                    Some(error_id) => Owner::Crash {
                        app: extract_string_field(bytes, "appId"),
                        error_id,
                    },
                    None => Owner::Unknown {
                        object: path.to_owned(),
                    },
                };
                let install = if found.is_empty() {
                    None
                } else {
                    extract_string_field(bytes, "installId")
                        .or_else(|| extract_string_field(bytes, "InstallId"))
                };
                let artefact = path.rsplit('/').next().unwrap_or(path).to_owned();
                self.push_all(
                    &found,
                    &owner,
                    install.as_ref(),
                    &artefact,
                    is_json.then_some(bytes),
                    out,
                );
                self.decoded(bytes, &owner, &artefact, out);
            }
        }
    }

    /// Scans what gzip and base64 payloads decode to.
    fn decoded(&self, bytes: &[u8], owner: &Owner, artefact: &str, out: &mut Vec<RawHit>) {
        let mut push = |decoded: &[u8], how: &str| {
            for f in self.matcher.find(decoded) {
                let mut hit = self.hit(&f, &format!("{artefact} ({how})"), None, 0);
                hit.path = None;
                out.push(RawHit {
                    subject: f.subject,
                    owner: owner.clone(),
                    install: None,
                    hit,
                });
            }
        };
        if let Some(d) = gunzip(bytes) {
            push(&d, "gzip");
            return;
        }
        if let Some(d) = unbase64(bytes) {
            match gunzip(&d) {
                Some(dd) => push(&dd, "base64, gzip"),
                None => push(&d, "base64"),
            }
        }
    }
}

fn gunzip(bytes: &[u8]) -> Option<Vec<u8>> {
    if bytes.len() < 18 || bytes[0] != 0x1f || bytes[1] != 0x8b {
        return None;
    }
    let mut out = Vec::new();
    flate2::read::MultiGzDecoder::new(bytes)
        .take(MAX_DECODED)
        .read_to_end(&mut out)
        .ok()?;
    Some(out)
}

fn unbase64(bytes: &[u8]) -> Option<Vec<u8>> {
    let b64 = |b: &u8| b.is_ascii_alphanumeric() || b"+/=".contains(b) || b.is_ascii_whitespace();
    // Most objects fail on their first bytes; check all before copying.
    if bytes.len() < 16 || !bytes[..64.min(bytes.len())].iter().all(b64) || !bytes.iter().all(b64) {
        return None;
    }
    let text: Vec<u8> = bytes
        .iter()
        .copied()
        .filter(|b| !b.is_ascii_whitespace())
        .collect();
    if text.len() < 16
        || !text.len().is_multiple_of(4)
        || !text
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || b"+/=".contains(b))
    {
        return None;
    }
    base64::engine::general_purpose::STANDARD.decode(&text).ok()
}

/// Scans a large object in chunks, keeping enough overlap that no hit and
/// no boundary is cut; memory stays at about one chunk.
struct ChunkScanner<'m> {
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
    fn new(matcher: &'m Matcher, chunk: usize) -> Self {
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

    fn feed(&mut self, data: &[u8], on: &mut impl FnMut(Found)) {
        self.buf.extend_from_slice(data);
        self.total += data.len() as u64;
        if self.buf.len() >= self.chunk {
            self.scan(false, on);
        }
    }

    fn finish(mut self, on: &mut impl FnMut(Found)) -> u64 {
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

/// Runs the search.
pub fn search(
    inputs: &[Input],
    subjects: Vec<Subject>,
    opts: &SearchOptions,
) -> Result<SearchReport> {
    let typed_only: Vec<(String, IdKind)> = subjects
        .iter()
        .flat_map(|s| {
            s.identifiers
                .iter()
                .filter(|i| i.typed_only())
                .map(|i| (s.label.clone(), i.kind))
        })
        .collect();
    let matcher = Matcher::new(subjects);
    let mut report = SearchReport {
        typed_only,
        ..Default::default()
    };
    let mut hits = scan_all(inputs, &matcher, opts, &mut report)?;
    resolve_attachments(inputs, &mut hits, &mut report);
    let mut by_crash: BTreeMap<(usize, Owner), Vec<Hit>> = BTreeMap::new();
    let mut installs: HashMap<(usize, Owner), BTreeSet<String>> = HashMap::new();
    for h in hits {
        if let Some(i) = &h.install {
            installs
                .entry((h.subject, h.owner.clone()))
                .or_default()
                .insert(i.to_ascii_lowercase());
        }
        by_crash
            .entry((h.subject, h.owner))
            .or_default()
            .push(h.hit);
    }
    resolve_archive_installs(inputs, &by_crash, &mut installs);
    let labels: Vec<String> = matcher.subjects().iter().map(|s| s.label.clone()).collect();
    for ((s, owner), mut hs) in by_crash.iter().map(|(k, v)| (k.clone(), v.clone())) {
        hs.sort();
        hs.dedup();
        let (app, error_id, install_id) = match &owner {
            Owner::Crash { app, error_id } => (app.clone(), Some(error_id.clone()), None),
            Owner::Session { app, install_id } => (app.clone(), None, Some(install_id.clone())),
            Owner::Attachment { attachment_id, .. } => (
                None,
                None,
                Some(format!("attachment {attachment_id} (crash not found)")),
            ),
            Owner::Unknown { object } => (None, None, Some(format!("object {object}"))),
        };
        report.evidence.push(Evidence {
            subject: labels[s].clone(),
            app,
            error_id,
            linked: false,
            install_id,
            hits: hs,
        });
    }
    if opts.expand_install_ids {
        expand(inputs, &labels, opts, &by_crash, &installs, &mut report)?;
    }
    report.evidence.sort_by(|a, b| {
        (&a.subject, a.linked, &a.app, &a.error_id, &a.install_id).cmp(&(
            &b.subject,
            b.linked,
            &b.app,
            &b.error_id,
            &b.install_id,
        ))
    });
    Ok(report)
}

fn scan_all(
    inputs: &[Input],
    matcher: &Matcher,
    opts: &SearchOptions,
    report: &mut SearchReport,
) -> Result<Vec<RawHit>> {
    let hits = Mutex::new(Vec::new());
    let errors = Mutex::new(Vec::new());
    let (objects, bytes) = (AtomicU64::new(0), AtomicU64::new(0));
    let scanner = Scanner { matcher };
    for (n, input) in inputs.iter().enumerate() {
        match input {
            Input::Dir(root) => {
                // The walk feeds the workers as it goes, like ripgrep's.
                let (tx, rx) = std::sync::mpsc::sync_channel::<String>(4096);
                let rx = Mutex::new(rx);
                let walked = std::thread::scope(|scope| {
                    let walker = scope.spawn(move || walk_files(root, &tx));
                    for _ in 0..opts.threads.max(1) {
                        scope.spawn(|| {
                            let mut local = Vec::new();
                            let mut buf = Vec::new();
                            loop {
                                let next = rx.lock().expect("lock").recv();
                                let Ok(rel) = next else { break };
                                match scan_file(&scanner, n, root, &rel, &mut buf, &mut local) {
                                    Ok(size) => {
                                        objects.fetch_add(1, Ordering::Relaxed);
                                        bytes.fetch_add(size, Ordering::Relaxed);
                                    }
                                    Err(e) => {
                                        errors.lock().expect("lock").push((rel, e.to_string()))
                                    }
                                }
                            }
                            hits.lock().expect("lock").extend(local);
                        });
                    }
                    walker.join().expect("the walker thread")
                });
                walked.map_err(|e| Error::Source(format!("listing {}: {e}", root.display())))?;
            }
            Input::Remote(source) => {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .map_err(|e| Error::Source(e.to_string()))?;
                rt.block_on(async {
                    let mut reads = source
                        .list()
                        .map_ok(|b| async move {
                            if b.size > WHOLE_OBJECT_MAX {
                                return Ok((b.path, None, b.size));
                            }
                            let r = source.read(&b.path, WHOLE_OBJECT_MAX).await;
                            Ok((b.path, Some(r), b.size))
                        })
                        .try_buffer_unordered(opts.threads.max(1) * 2);
                    while let Some((path, read, size)) = reads.try_next().await? {
                        let mut local = Vec::new();
                        let result = match read {
                            Some(Ok(data)) => {
                                scanner.object(n, &path, &data, &mut local);
                                Ok(())
                            }
                            Some(Err(e)) => Err(e.to_string()),
                            None => {
                                scan_remote_chunked(&scanner, n, source, &path, &mut local).await
                            }
                        };
                        match result {
                            Ok(()) => {
                                objects.fetch_add(1, Ordering::Relaxed);
                                bytes.fetch_add(size, Ordering::Relaxed);
                                hits.lock().expect("lock").extend(local);
                            }
                            Err(e) => errors.lock().expect("lock").push((path, e)),
                        }
                    }
                    Ok::<(), Error>(())
                })?;
            }
        }
    }
    report.objects = objects.into_inner();
    report.bytes = bytes.into_inner();
    report.errors = errors.into_inner().expect("lock");
    for (path, e) in &report.errors {
        tracing::warn!(object = %path, error = %e, "Could not read an object; the search goes on.");
    }
    Ok(hits.into_inner().expect("lock"))
}

/// Sends every file below `root`, relative and `/`-separated.
fn walk_files(root: &Path, tx: &std::sync::mpsc::SyncSender<String>) -> std::io::Result<()> {
    let mut stack = vec![PathBuf::new()];
    while let Some(rel) = stack.pop() {
        let mut entries: Vec<_> =
            std::fs::read_dir(root.join(&rel))?.collect::<std::io::Result<_>>()?;
        entries.sort_by_key(|e| e.file_name());
        for entry in entries {
            let name = rel.join(entry.file_name());
            let ft = entry.file_type()?;
            if ft.is_dir() {
                stack.push(name);
            } else if ft.is_file() && tx.send(name.to_string_lossy().replace('\\', "/")).is_err() {
                return Ok(());
            }
        }
    }
    Ok(())
}

fn scan_file(
    scanner: &Scanner<'_>,
    source: usize,
    root: &Path,
    rel: &str,
    buf: &mut Vec<u8>,
    out: &mut Vec<RawHit>,
) -> std::io::Result<u64> {
    let mut file = std::fs::File::open(root.join(rel))?;
    let size = file.metadata()?.len();
    if size <= WHOLE_OBJECT_MAX {
        // One buffer per thread, reused from file to file.
        buf.clear();
        file.read_to_end(buf)?;
        scanner.object(source, rel, buf, out);
        return Ok(buf.len() as u64);
    }
    let owner = big_object_owner(source, rel);
    let artefact = rel.rsplit('/').next().unwrap_or(rel).to_owned();
    let mut scanner_state = ChunkScanner::new(scanner.matcher, CHUNK);
    let mut found = Vec::new();
    let mut on = |f: Found| found.push(f);
    let mut block = vec![0u8; CHUNK];
    loop {
        let n = file.read(&mut block)?;
        if n == 0 {
            break;
        }
        scanner_state.feed(&block[..n], &mut on);
    }
    let total = scanner_state.finish(&mut on);
    for f in found {
        out.push(RawHit {
            subject: f.subject,
            owner: owner.clone(),
            install: None,
            hit: scanner.hit(&f, &artefact, None, 0),
        });
    }
    Ok(total)
}

fn big_object_owner(source: usize, path: &str) -> Owner {
    if let Some((app, error_id, _)) = archive_owner(path) {
        return Owner::Crash {
            app: Some(app),
            error_id,
        };
    }
    match classify(path) {
        Some(b) => match b.kind {
            BlobKind::Attachment { attachment_id } => Owner::Attachment {
                source,
                folder: b.minute,
                attachment_id,
            },
            BlobKind::Crash { error_id, .. } => Owner::Crash {
                app: b.app_id,
                error_id,
            },
            BlobKind::DeviceLogs => Owner::Unknown {
                object: path.to_owned(),
            },
        },
        None => Owner::Unknown {
            object: path.to_owned(),
        },
    }
}

async fn scan_remote_chunked(
    scanner: &Scanner<'_>,
    source_no: usize,
    source: &Source,
    path: &str,
    out: &mut Vec<RawHit>,
) -> Result<(), String> {
    let owner = big_object_owner(source_no, path);
    let artefact = path.rsplit('/').next().unwrap_or(path).to_owned();
    let mut stream = Box::pin(source.chunks(path).await.map_err(|e| e.to_string())?);
    let mut state = ChunkScanner::new(scanner.matcher, CHUNK);
    let mut found = Vec::new();
    let mut on = |f: Found| found.push(f);
    while let Some(c) = stream.next().await {
        state.feed(&c.map_err(|e| e.to_string())?, &mut on);
    }
    state.finish(&mut on);
    for f in found {
        out.push(RawHit {
            subject: f.subject,
            owner: owner.clone(),
            install: None,
            hit: scanner.hit(&f, &artefact, None, 0),
        });
    }
    Ok(())
}

/// An attachment's crash, install and app, from its `ErrorAttachmentLog`.
type AttachmentOwner = (String, String, Option<String>);

/// Attachments of an export belong to the crash their folder's
/// `ErrorAttachmentLog` names.
fn resolve_attachments(inputs: &[Input], hits: &mut [RawHit], report: &mut SearchReport) {
    let mut folders: BTreeMap<(usize, String), HashMap<String, AttachmentOwner>> = BTreeMap::new();
    for h in hits.iter() {
        if let Owner::Attachment { source, folder, .. } = &h.owner {
            folders.entry((*source, folder.clone())).or_default();
        }
    }
    for ((source, folder), map) in folders.iter_mut() {
        let logs = format!("{folder}logs.v1.data");
        let bytes = match &inputs[*source] {
            Input::Dir(root) => std::fs::read(root.join(&logs)).map_err(|e| e.to_string()),
            Input::Remote(s) => tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|e| e.to_string())
                .and_then(|rt| {
                    rt.block_on(s.read(&logs, crate::walk::MAX_JSON_BLOB))
                        .map(|b| b.to_vec())
                        .map_err(|e| e.to_string())
                }),
        };
        match bytes {
            Ok(bytes) => {
                for r in parse_device_logs(&bytes).0 {
                    if let Some(link) = r.log.link()
                        && let (Some(aid), Some(eid)) = (link.attachment_id, link.error_id)
                    {
                        let app = r
                            .log
                            .other
                            .get("AppId")
                            .and_then(|v| v.as_str())
                            .map(str::to_owned);
                        map.insert(aid, (eid, r.log.install_id.to_ascii_lowercase(), app));
                    }
                }
            }
            Err(e) => report
                .errors
                .push((logs, format!("needed to attribute attachments: {e}"))),
        }
    }
    for h in hits.iter_mut() {
        if let Owner::Attachment {
            source,
            folder,
            attachment_id,
        } = &h.owner
            && let Some((eid, install, app)) = folders
                .get(&(*source, folder.clone()))
                .and_then(|m| m.get(attachment_id))
        {
            h.install = Some(install.clone());
            h.owner = Owner::Crash {
                app: app.clone(),
                error_id: eid.clone(),
            };
        }
    }
}

/// Archive crashes: the install id is in `download.json` (local or remote).
fn resolve_archive_installs(
    inputs: &[Input],
    by_crash: &BTreeMap<(usize, Owner), Vec<Hit>>,
    installs: &mut HashMap<(usize, Owner), BTreeSet<String>>,
) {
    for (s, owner) in by_crash.keys() {
        let Owner::Crash {
            app: Some(app),
            error_id,
        } = owner
        else {
            continue;
        };
        if installs
            .get(&(*s, owner.clone()))
            .is_some_and(|i| !i.is_empty())
            || !app.contains('/')
        {
            continue;
        }
        for input in inputs {
            let bytes = match input {
                Input::Dir(root) => std::fs::read(
                    root.join("apps")
                        .join(app)
                        .join("errors")
                        .join(error_id)
                        .join("download.json"),
                )
                .ok(),
                Input::Remote(source) => tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .ok()
                    .and_then(|rt| {
                        rt.block_on(source.read(
                            &format!("apps/{app}/errors/{error_id}/download.json"),
                            WHOLE_OBJECT_MAX,
                        ))
                        .ok()
                        .map(|b| b.to_vec())
                    }),
            };
            if let Some(i) = bytes
                .as_deref()
                .and_then(|b| extract_string_field(b, "installId"))
            {
                installs
                    .entry((*s, owner.clone()))
                    .or_default()
                    .insert(i.to_ascii_lowercase());
            }
        }
    }
}

/// Install-id expansion: a second scan for the install ids found with each
/// subject's crashes; crashes that hold one and are not direct are linked.
fn expand(
    inputs: &[Input],
    labels: &[String],
    opts: &SearchOptions,
    by_crash: &BTreeMap<(usize, Owner), Vec<Hit>>,
    installs: &HashMap<(usize, Owner), BTreeSet<String>>,
    report: &mut SearchReport,
) -> Result<()> {
    // Install ids per subject.
    let mut by_index: BTreeMap<usize, BTreeSet<String>> = BTreeMap::new();
    for ((s, _), set) in installs {
        by_index.entry(*s).or_default().extend(set.iter().cloned());
    }
    let subjects: Vec<(usize, Subject)> = by_index
        .iter()
        .filter(|(_, set)| !set.is_empty())
        .map(|(s, set)| {
            let ids = set
                .iter()
                .filter_map(|i| Identifier::new(IdKind::InstallId, i).ok())
                .collect();
            (
                *s,
                Subject {
                    label: format!("{s}"),
                    identifiers: ids,
                },
            )
        })
        .collect();
    if subjects.is_empty() {
        return Ok(());
    }
    let index: Vec<usize> = subjects.iter().map(|(s, _)| *s).collect();
    let install_matcher = Matcher::new(subjects.into_iter().map(|(_, s)| s).collect());
    let mut scratch = SearchReport::default();
    let mut hits = scan_all(inputs, &install_matcher, opts, &mut scratch)?;
    resolve_attachments(inputs, &mut hits, &mut scratch);
    let direct: BTreeSet<(usize, String)> = by_crash
        .keys()
        .filter_map(|(s, o)| match o {
            Owner::Crash { error_id, .. } => Some((*s, error_id.clone())),
            _ => None,
        })
        .collect();
    let mut linked: BTreeMap<(usize, Option<String>, String), String> = BTreeMap::new();
    for h in hits {
        let s = index[h.subject];
        if let Owner::Crash { app, error_id } = h.owner
            && !direct.contains(&(s, error_id.clone()))
        {
            let id = &install_matcher.subjects()[h.subject];
            let install = h
                .install
                .clone()
                .or_else(|| id.identifiers.first().map(|i| i.value.clone()))
                .unwrap_or_default();
            linked.entry((s, app, error_id)).or_insert(install);
        }
    }
    for ((s, app, error_id), install) in linked {
        report.evidence.push(Evidence {
            subject: labels[s].clone(),
            app,
            error_id: Some(error_id),
            linked: true,
            install_id: Some(install),
            hits: Vec::new(),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

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
