//! Reading every object of the sources, with two kinds of concurrency,
//! each sized for its resource.
//!
//! A local directory is walked the way ripgrep walks: a parallel walker
//! with a queue per thread, each thread scanning the files it finds with
//! its own reused buffer, and no metadata call per file beyond what opening
//! and reading need. An object store is listed and read with many requests
//! in flight on the caller's runtime, and scanned on a bounded pool of
//! threads fed through a bounded channel.

use std::io::Read as _;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use crashdsr_store::{Listed, Store};
use futures::{StreamExt, TryStreamExt};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc};

use crate::decode::Limits;
use crate::error::{Error, Result};
use crate::matcher::Matcher;
use crate::narrow::{Narrow, Scope, Selection};
use crate::scan::{CHUNK, Local, Scanner, WHOLE_OBJECT_MAX};
use crate::stream::Big;

/// How to search.
#[derive(Debug, Clone)]
pub struct SearchOptions {
    /// Threads that scan (and, on a local directory, walk and read).
    pub threads: usize,
    /// Objects read at once from an object store; `None` takes the store's
    /// default ([`Store::default_io`]: 64 for an object store).
    pub io: Option<usize>,
    /// Bring in crashes that share an install id with a subject's crashes.
    pub expand_install_ids: bool,
    /// Caps on decoding containers in one object.
    pub limits: Limits,
    /// Where the search counts what it listed and scanned, for a progress
    /// display that reads it while the search runs.
    pub progress: Arc<Scanned>,
    /// An index that narrows what is read ([`crate::narrow`]).
    pub narrow: Option<Arc<dyn Narrow>>,
}

impl Default for SearchOptions {
    fn default() -> Self {
        Self {
            threads: std::thread::available_parallelism().map_or(2, |n| n.get()),
            io: None,
            expand_install_ids: false,
            limits: Limits::default(),
            progress: Arc::default(),
            narrow: None,
        }
    }
}

/// How far a search is: objects listed (an object store's listing runs
/// ahead of the scan; a directory's walk lists as it scans) and objects and
/// bytes scanned, install expansion's second scan included.
#[derive(Debug, Default)]
pub struct Scanned {
    listed: AtomicU64,
    objects: AtomicU64,
    bytes: AtomicU64,
}

impl Scanned {
    /// Objects listed so far.
    pub fn listed(&self) -> u64 {
        self.listed.load(Ordering::Relaxed)
    }

    /// Objects scanned so far.
    pub fn objects(&self) -> u64 {
        self.objects.load(Ordering::Relaxed)
    }

    /// Bytes scanned so far.
    pub fn bytes(&self) -> u64 {
        self.bytes.load(Ordering::Relaxed)
    }

    fn listed_one(&self) {
        self.listed.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn scanned(&self, bytes: u64) {
        self.objects.fetch_add(1, Ordering::Relaxed);
        self.bytes.fetch_add(bytes, Ordering::Relaxed);
    }
}

/// Bytes of objects read from an object store and not yet scanned, at
/// most: reads wait for room, so memory is bounded by this and by the
/// objects in flight, not by the export's size.
const READ_BUDGET: usize = 256 << 20;

/// Scans every source; `index` says whether to build the attribution index.
/// With a `scope`, a source an index covers is read only where its
/// selection says, and counted as a scan of everything counts it.
pub(crate) async fn scan_sources(
    sources: &[Store],
    matcher: &Arc<Matcher>,
    opts: &SearchOptions,
    index: bool,
    scope: Option<&Scope>,
) -> Result<Local> {
    let threads = opts.threads.max(1);
    let mut all = Local::default();
    for (n, source) in sources.iter().enumerate() {
        let selection = scope
            .and_then(|s| s.by_source.get(n))
            .and_then(Option::as_ref);
        let local = match (selection, source.dir()) {
            (Some(sel), _) => scan_selection(source, n, matcher, opts, index, sel).await?,
            (None, Some(root)) => {
                let (root, matcher, limits) = (root.to_owned(), matcher.clone(), opts.limits);
                let progress = opts.progress.clone();
                tokio::task::spawn_blocking(move || {
                    let scanner = Scanner::new(&matcher, limits, index, &progress);
                    walk_dir(&scanner, n, &root, threads)
                })
                .await
                .map_err(|e| Error::Source(format!("the walk of {} ended: {e}", source.url())))??
            }
            (None, None) => {
                let io = opts.io.unwrap_or_else(|| source.default_io()).max(1);
                let listing = source.list(None).boxed();
                scan_remote(source, n, matcher, opts, index, io, listing).await?
            }
        };
        all.merge(local);
        all.source(n);
    }
    Ok(all)
}

/// Reads what an index selected of source `n`: the objects it cannot vouch
/// for, counted, and its candidates, whose counts come from the index
/// (a scan counts a log blob's records one way when it holds a hit and
/// another when it does not, so the candidates' records are taken from the
/// scan).
async fn scan_selection(
    source: &Store,
    n: usize,
    matcher: &Arc<Matcher>,
    opts: &SearchOptions,
    index: bool,
    sel: &Selection,
) -> Result<Local> {
    let mut local = scan_listed(source, n, matcher, opts, index, sel.scan.clone()).await?;
    let candidates: Vec<Listed> = sel
        .candidates
        .iter()
        .map(|(path, v)| Listed {
            path: path.clone(),
            size: v.size,
            version: None,
        })
        .collect();
    let found = scan_listed(source, n, matcher, opts, index, candidates).await?;
    let indexed: u64 = sel.candidates.values().map(|v| v.records).sum();
    let vouched = &sel.vouched;
    local.objects += vouched.objects;
    local.bytes += vouched.bytes;
    local.records += (vouched.records + found.records).saturating_sub(indexed);
    local.source(n).merge(vouched.summary.clone());
    local
        .index
        .add_apps(vouched.apps.iter().map(String::as_str));
    local.merge_found(found);
    Ok(local)
}

/// Scans the objects `listed` of source `n`.
async fn scan_listed(
    source: &Store,
    n: usize,
    matcher: &Arc<Matcher>,
    opts: &SearchOptions,
    index: bool,
    listed: Vec<Listed>,
) -> Result<Local> {
    let Some(root) = source.dir() else {
        let io = opts.io.unwrap_or_else(|| source.default_io()).max(1);
        let listing = futures::stream::iter(listed.into_iter().map(Ok)).boxed();
        return scan_remote(source, n, matcher, opts, index, io, listing).await;
    };
    let (root, matcher, limits) = (root.to_owned(), matcher.clone(), opts.limits);
    let (progress, threads) = (opts.progress.clone(), opts.threads.max(1));
    tokio::task::spawn_blocking(move || {
        let scanner = Scanner::new(&matcher, limits, index, &progress);
        let next = AtomicU64::new(0);
        let locals: Vec<Local> = std::thread::scope(|scope| {
            let workers: Vec<_> = (0..threads.min(listed.len()).max(1))
                .map(|_| {
                    scope.spawn(|| {
                        let (mut local, mut buf) = (Local::default(), Vec::new());
                        loop {
                            let i = next.fetch_add(1, Ordering::Relaxed) as usize;
                            let Some(l) = listed.get(i) else { break local };
                            progress.listed_one();
                            let path = root.join(&l.path);
                            if let Err(e) =
                                scan_file(&scanner, n, &path, &l.path, &mut buf, &mut local)
                            {
                                local.failed(l.path.clone(), e.to_string());
                            }
                        }
                    })
                })
                .collect();
            workers
                .into_iter()
                .map(|w| w.join().expect("a scanning thread panicked"))
                .collect()
        });
        let mut all = Local::default();
        for l in locals {
            all.merge(l);
        }
        all
    })
    .await
    .map_err(|e| Error::Source(format!("the scan of {} ended: {e}", source.url())))
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
        self.scanner.progress.listed_one();
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
        let mut big = Big::new(scanner, source, rel);
        for piece in buf[..filled].chunks(CHUNK) {
            big.feed(piece, out);
        }
        let mut block = vec![0u8; CHUNK];
        loop {
            let n = file.read(&mut block)?;
            if n == 0 {
                break;
            }
            big.feed(&block[..n], out);
        }
        big.finish(out);
    }
    if buf.len() > 4 << 20 {
        // Do not hold a large object's buffer for the small ones after.
        *buf = Vec::new();
    }
    Ok(())
}

/// One object for a scanning thread.
enum Job {
    /// Read whole; its permit holds its bytes' share of [`READ_BUDGET`]
    /// until it is scanned.
    Whole {
        path: String,
        bytes: Bytes,
        _permit: OwnedSemaphorePermit,
    },
    /// Too large to hold: its chunks come as they are read.
    Chunked {
        path: String,
        chunks: mpsc::Receiver<crashdsr_store::Result<Bytes>>,
    },
    /// Not read.
    Failed { path: String, error: String },
}

/// Scans an object store: the listing and `io` reads run here, on the
/// caller's runtime; `threads` scanning threads take the objects from a
/// bounded channel, so the network and the CPU never wait on each other
/// and memory stays bounded.
async fn scan_remote(
    source: &Store,
    n: usize,
    matcher: &Arc<Matcher>,
    opts: &SearchOptions,
    index: bool,
    io: usize,
    listing: futures::stream::BoxStream<'static, crashdsr_store::Result<Listed>>,
) -> Result<Local> {
    let (threads, limits) = (opts.threads.max(1), opts.limits);
    let (tx, rx) = mpsc::channel::<Job>(threads * 2);
    let rx = Arc::new(Mutex::new(rx));
    let workers: Vec<_> = (0..threads)
        .map(|_| {
            let (rx, matcher, progress) = (rx.clone(), matcher.clone(), opts.progress.clone());
            tokio::task::spawn_blocking(move || {
                let scanner = Scanner::new(&matcher, limits, index, &progress);
                let mut local = Local::default();
                loop {
                    // One thread waits on the channel at a time; the others
                    // are scanning or wait for the lock, which is the same.
                    let job = rx.lock().expect("lock").blocking_recv();
                    let Some(job) = job else { break };
                    scan_job(&scanner, n, job, &mut local);
                }
                local
            })
        })
        .collect();
    let budget = Arc::new(Semaphore::new(READ_BUDGET >> 10));
    let reads = listing
        .map_ok(|listed| {
            let budget = budget.clone();
            opts.progress.listed_one();
            async move {
                if listed.size > WHOLE_OBJECT_MAX {
                    return Ok(chunked(source, listed.path));
                }
                let kib = ((listed.size >> 10) + 1).min((READ_BUDGET >> 10) as u64) as u32;
                let permit = budget.acquire_many_owned(kib).await.expect("never closed");
                Ok(match source.read(&listed.path, WHOLE_OBJECT_MAX).await {
                    Ok(bytes) => Job::Whole {
                        path: listed.path,
                        bytes,
                        _permit: permit,
                    },
                    Err(e) => Job::Failed {
                        path: listed.path,
                        error: e.to_string(),
                    },
                })
            }
        })
        .try_buffer_unordered(io);
    let mut reads = std::pin::pin!(reads);
    let mut listing: Result<()> = Ok(());
    loop {
        match reads.next().await {
            None => break,
            Some(Ok(job)) => {
                if tx.send(job).await.is_err() {
                    break;
                }
            }
            Some(Err(e)) => {
                listing = Err(e.into());
                break;
            }
        }
    }
    drop(tx);
    let mut all = Local::default();
    for w in workers {
        let local = w.await.map_err(|e| {
            Error::Source(format!("a scanning thread of {} ended: {e}", source.url()))
        })?;
        all.merge(local);
    }
    listing?;
    Ok(all)
}

/// Starts reading a large object chunk by chunk, two chunks ahead of the
/// thread that scans it.
fn chunked(source: &Store, path: String) -> Job {
    let (tx, rx) = mpsc::channel(2);
    let (source, object) = (source.clone(), path.clone());
    tokio::spawn(async move {
        match source.chunks(&object).await {
            Err(e) => {
                let _ = tx.send(Err(e)).await;
            }
            Ok(stream) => {
                let mut stream = std::pin::pin!(stream);
                while let Some(c) = stream.next().await {
                    let failed = c.is_err();
                    if tx.send(c).await.is_err() || failed {
                        break;
                    }
                }
            }
        }
    });
    Job::Chunked { path, chunks: rx }
}

fn scan_job(scanner: &Scanner<'_>, n: usize, job: Job, local: &mut Local) {
    match job {
        Job::Whole { path, bytes, .. } => scanner.object(n, &path, &bytes, local),
        Job::Failed { path, error } => local.failed(path, error),
        Job::Chunked {
            path, mut chunks, ..
        } => {
            // What a scan that fails half way found is dropped with it.
            let mut part = Local::default();
            let mut big = Big::new(scanner, n, &path);
            while let Some(c) = chunks.blocking_recv() {
                match c {
                    Ok(c) => big.feed(&c, &mut part),
                    Err(e) => return local.failed(path, e.to_string()),
                }
            }
            big.finish(&mut part);
            local.merge(part);
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
