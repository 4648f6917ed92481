//! The search, end to end: every object of every source scanned
//! ([`crate::scan`]) while the attribution index is built, hits attributed
//! to owners ([`crate::attribute`]), installs expanded
//! ([`crate::expand`]), and the evidence shaped ([`crate::evidence`]).
//!
//! A local directory is walked the way ripgrep walks: a parallel walker
//! with a queue per thread, each thread scanning the files it finds with
//! its own reused buffer, and no metadata call per file beyond what opening
//! and reading need. A remote source is listed and read as streams.

use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use futures::{StreamExt, TryStreamExt};
use serde_json::value::RawValue;

use crate::attribute::{Groups, attribute};
use crate::decode::Limits;
use crate::error::{Error, Result};
use crate::evidence::{Evidence, Owner, SearchReport};
use crate::matcher::{Found, Matcher};
use crate::scan::{CHUNK, ChunkScanner, Local, Scanner, WHOLE_OBJECT_MAX, string_field};
use crate::source::Source;
use crate::subject::{IdKind, Subject};

/// A place objects are read from.
#[derive(Debug, Clone)]
pub enum Input {
    /// A local directory, walked in parallel.
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
                    "source {}: not a directory, or it does not exist",
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

/// How to search.
#[derive(Debug, Clone)]
pub struct SearchOptions {
    /// Threads (local) or objects in flight (remote).
    pub threads: usize,
    /// Bring in crashes that share an install id with a subject's crashes.
    pub expand_install_ids: bool,
    /// Caps on decoding containers in one object.
    pub limits: Limits,
}

impl Default for SearchOptions {
    fn default() -> Self {
        Self {
            threads: std::thread::available_parallelism().map_or(2, |n| n.get()),
            expand_install_ids: false,
            limits: Limits::default(),
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
    let labels: Vec<String> = matcher.subjects().iter().map(|s| s.label.clone()).collect();
    let local = scan_inputs(inputs, &matcher, opts, true)?;
    for (path, e) in &local.errors {
        tracing::warn!(object = %path, error = %e, "An object was not read whole; the search goes on.");
    }
    let mut groups = attribute(local.hits, &local.index);
    archive_installs(inputs, &mut groups);
    let mut report = SearchReport {
        typed_only,
        objects: local.objects,
        bytes: local.bytes,
        records: local.records,
        errors: local.errors,
        index_entries: local.index.len() as u64,
        unread: local.unread,
        failed: local.failed,
        sources: local.sources,
        ..Default::default()
    };
    report.unread.sort();
    for ((s, owner), g) in &groups {
        let mut e = Evidence::new(labels[*s].clone(), owner.clone(), false, g.hits.clone());
        match owner {
            Owner::Crash { .. } => e.install_id = g.installs.iter().next().cloned(),
            Owner::Activity { .. } => {
                e.record = g
                    .record
                    .as_ref()
                    .and_then(|r| RawValue::from_string(r.clone()).ok());
            }
            Owner::Unattributed { .. } => {}
        }
        report.evidence.push(e);
    }
    if opts.expand_install_ids {
        let failed = crate::expand::expand(
            inputs,
            &labels,
            opts,
            &groups,
            &local.index,
            &mut report.evidence,
        )?;
        for f in failed {
            if !report.failed.contains(&f) {
                report.errors.push(f.clone());
                report.failed.push(f);
            }
        }
    }
    report.evidence.sort_by(|a, b| {
        (&a.subject, a.linked, &a.owner, &a.install_id).cmp(&(
            &b.subject,
            b.linked,
            &b.owner,
            &b.install_id,
        ))
    });
    report.index = local.index;
    Ok(report)
}

/// Scans every input; `index` says whether to build the attribution index.
pub(crate) fn scan_inputs(
    inputs: &[Input],
    matcher: &Matcher,
    opts: &SearchOptions,
    index: bool,
) -> Result<Local> {
    let scanner = Scanner {
        matcher,
        limits: opts.limits,
        index,
    };
    let mut all = Local::default();
    for (n, input) in inputs.iter().enumerate() {
        let local = match input {
            Input::Dir(root) => walk_dir(&scanner, n, root, opts.threads.max(1))?,
            Input::Remote(source) => scan_remote(&scanner, n, source, opts.threads.max(1))?,
        };
        all.merge(local);
        all.source(n);
        all.source(n);
    }
    Ok(all)
}

/// One walker thread's state: what it found, and its read buffer.
struct Visitor<'s> {
    scanner: &'s Scanner<'s>,
    source: usize,
    root: &'s Path,
    local: Local,
    buf: Vec<u8>,
    sink: &'s Mutex<Vec<Local>>,
    fatal: &'s Mutex<Option<String>>,
}

impl Drop for Visitor<'_> {
    fn drop(&mut self) {
        let local = std::mem::take(&mut self.local);
        self.sink.lock().expect("lock").push(local);
    }
}

impl ignore::ParallelVisitor for Visitor<'_> {
    fn visit(
        &mut self,
        entry: std::result::Result<ignore::DirEntry, ignore::Error>,
    ) -> ignore::WalkState {
        let entry = match entry {
            Ok(e) => e,
            Err(e) => {
                // A directory that cannot be listed loses everything below
                // it: that ends the search, as a listing error would.
                let mut fatal = self.fatal.lock().expect("lock");
                fatal.get_or_insert(e.to_string());
                return ignore::WalkState::Quit;
            }
        };
        if !entry.file_type().is_some_and(|t| t.is_file()) {
            return ignore::WalkState::Continue;
        }
        let rel = entry.path().strip_prefix(self.root).unwrap_or(entry.path());
        let rel = match rel.to_str() {
            Some(r) if std::path::MAIN_SEPARATOR == '/' => std::borrow::Cow::Borrowed(r),
            _ => std::borrow::Cow::Owned(rel.to_string_lossy().replace('\\', "/")),
        };
        if let Err(e) = scan_file(
            self.scanner,
            self.source,
            entry.path(),
            &rel,
            &mut self.buf,
            &mut self.local,
        ) {
            self.local.failed(rel.into_owned(), e.to_string());
        }
        ignore::WalkState::Continue
    }
}

struct Visitors<'s> {
    scanner: &'s Scanner<'s>,
    source: usize,
    root: &'s Path,
    sink: &'s Mutex<Vec<Local>>,
    fatal: &'s Mutex<Option<String>>,
}

impl<'s> ignore::ParallelVisitorBuilder<'s> for Visitors<'s> {
    fn build(&mut self) -> Box<dyn ignore::ParallelVisitor + 's> {
        Box::new(Visitor {
            scanner: self.scanner,
            source: self.source,
            root: self.root,
            local: Local::default(),
            buf: Vec::new(),
            sink: self.sink,
            fatal: self.fatal,
        })
    }
}

fn walk_dir(scanner: &Scanner<'_>, source: usize, root: &Path, threads: usize) -> Result<Local> {
    let sink = Mutex::new(Vec::new());
    let fatal = Mutex::new(None);
    ignore::WalkBuilder::new(root)
        .standard_filters(false)
        .follow_links(false)
        .threads(threads)
        .build_parallel()
        .visit(&mut Visitors {
            scanner,
            source,
            root,
            sink: &sink,
            fatal: &fatal,
        });
    if let Some(e) = fatal.into_inner().expect("lock") {
        return Err(Error::Source(format!("listing {}: {e}", root.display())));
    }
    let mut all = Local::default();
    for local in sink.into_inner().expect("lock") {
        all.merge(local);
    }
    Ok(all)
}

/// Reads `file` into `buf` (whose length is kept between files, grown and
/// zeroed only when a file needs more), up to `max` bytes, with no metadata
/// call. Returns the bytes read and whether the file ended within `max`.
fn read_up_to(
    file: &mut std::fs::File,
    buf: &mut Vec<u8>,
    max: usize,
) -> std::io::Result<(usize, bool)> {
    let mut filled = 0;
    loop {
        if filled == buf.len() {
            if buf.len() > max {
                return Ok((filled, false));
            }
            let grown = (buf.len() * 2).clamp(64 << 10, max + 1);
            buf.resize(grown, 0);
        }
        match file.read(&mut buf[filled..]) {
            Ok(0) => return Ok((filled, true)),
            Ok(n) => filled += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
}

fn scan_file(
    scanner: &Scanner<'_>,
    source: usize,
    path: &Path,
    rel: &str,
    buf: &mut Vec<u8>,
    out: &mut Local,
) -> std::io::Result<()> {
    let mut file = std::fs::File::open(path)?;
    let (filled, ended) = read_up_to(&mut file, buf, WHOLE_OBJECT_MAX as usize)?;
    if ended {
        scanner.object(source, rel, &buf[..filled], out);
    } else {
        let mut state = ChunkScanner::new(scanner.matcher, CHUNK);
        let mut found = Vec::new();
        let mut on = |f: Found| found.push(f);
        state.feed(&buf[..filled], &mut on);
        let mut block = vec![0u8; CHUNK];
        loop {
            let n = file.read(&mut block)?;
            if n == 0 {
                break;
            }
            state.feed(&block[..n], &mut on);
        }
        let total = state.finish(&mut on);
        scanner.big_hits(source, rel, found, total, out);
    }
    if buf.len() > 4 << 20 {
        // Do not hold a large object's buffer for the small ones after.
        *buf = Vec::new();
    }
    Ok(())
}

fn scan_remote(scanner: &Scanner<'_>, n: usize, source: &Source, threads: usize) -> Result<Local> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Error::Source(e.to_string()))?;
    let mut local = Local::default();
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
            .try_buffer_unordered(threads * 2);
        while let Some((path, read, size)) = reads.try_next().await? {
            match read {
                Some(Ok(data)) => scanner.object(n, &path, &data, &mut local),
                Some(Err(e)) => local.failed(path, e.to_string()),
                None => match scan_remote_chunked(scanner, source, &path).await {
                    Ok(found) => scanner.big_hits(n, &path, found, size, &mut local),
                    Err(e) => local.failed(path, e),
                },
            }
        }
        Ok::<(), Error>(())
    })?;
    Ok(local)
}

async fn scan_remote_chunked(
    scanner: &Scanner<'_>,
    source: &Source,
    path: &str,
) -> std::result::Result<Vec<Found>, String> {
    let mut stream = Box::pin(source.chunks(path).await.map_err(|e| e.to_string())?);
    let mut state = ChunkScanner::new(scanner.matcher, CHUNK);
    let mut found = Vec::new();
    let mut on = |f: Found| found.push(f);
    while let Some(c) = stream.next().await {
        state.feed(&c.map_err(|e| e.to_string())?, &mut on);
    }
    state.finish(&mut on);
    Ok(found)
}

/// Archive crashes: the install id is in `download.json` (local or remote).
fn archive_installs(inputs: &[Input], groups: &mut Groups) {
    for ((_, owner), g) in groups.iter_mut() {
        let Owner::Crash {
            app: Some(app),
            error_id,
        } = owner
        else {
            continue;
        };
        if !g.installs.is_empty() || !app.contains('/') {
            continue;
        }
        let rel = format!("apps/{app}/errors/{error_id}/download.json");
        for input in inputs {
            let bytes = match input {
                Input::Dir(root) => std::fs::read(root.join(&rel)).ok(),
                Input::Remote(source) => tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .ok()
                    .and_then(|rt| rt.block_on(source.read(&rel, WHOLE_OBJECT_MAX)).ok())
                    .map(|b| b.to_vec()),
            };
            if let Some(i) = bytes.as_deref().and_then(|b| string_field(b, "installId")) {
                g.installs.insert(i.to_ascii_lowercase());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_whole_files_and_says_when_they_are_larger() {
        let dir = std::env::temp_dir().join(format!("crashdsr-read-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("f");
        let mut buf = Vec::new();
        for size in [0usize, 1, 65_535, 65_536, 100_000, 100_001, 200_000, 3] {
            std::fs::write(&p, vec![7u8; size]).unwrap();
            let mut f = std::fs::File::open(&p).unwrap();
            let (n, ended) = read_up_to(&mut f, &mut buf, 100_000).unwrap();
            assert_eq!((n, ended), (size.min(100_001), size <= 100_000), "{size}");
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
