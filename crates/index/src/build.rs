//! `index build` and `index update`: the source is listed and cut into
//! segments; each sealed segment that is new, or whose objects changed, is
//! built (every object read, tokenised as a search would read it, each
//! distinct token hashed with the key once per segment) and written; a
//! segment whose objects are gone is dropped; the manifest is written last.
//!
//! A rerun after a kill does not redo finished work: a segment file already
//! written for exactly the objects listed is taken as it is.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use crashdsr_search::Limits;
use crashdsr_search::Tally;
use crashdsr_state::SegmentTask;
use crashdsr_store::{Listed, Store};
use futures::{StreamExt, TryStreamExt};
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::Index;
use crate::error::{Error, Result};
use crate::listing::list_segments;
use crate::manifest::{self, Manifest, SegmentEntry, fingerprint, segment_file};
use crate::segment::{Head, Header, Object, Segment, sealed, segment_hour};

/// Objects larger than this are not indexed: every search reads them.
pub const LARGEST_INDEXED: u64 = 64 << 20;

/// How to build.
#[derive(Debug, Clone)]
pub struct BuildOptions {
    /// Segments built at once (each on its own thread).
    pub threads: usize,
    /// Objects read at once per segment from an object store (a
    /// directory's files are read by the thread that tokenises them).
    pub io: usize,
    /// Caps on decoding, as the search's.
    pub limits: Limits,
    /// Rebuild every segment, even those that are current.
    pub rebuild: bool,
    /// Counts objects read, for a progress display.
    pub progress: Arc<AtomicU64>,
}

impl Default for BuildOptions {
    fn default() -> Self {
        Self {
            threads: std::thread::available_parallelism().map_or(2, |n| n.get()),
            io: 16,
            limits: Limits::default(),
            rebuild: false,
            progress: Arc::default(),
        }
    }
}

/// What a build or update did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct BuildReport {
    /// Segments built (new or changed).
    pub built: u64,
    /// Segments kept as they were.
    pub kept: u64,
    /// Segments dropped (their objects are gone).
    pub dropped: u64,
    /// Segments still open (too recent to seal): searches scan them.
    pub open: u64,
    /// Objects read.
    pub objects_read: u64,
    /// Bytes read.
    pub bytes_read: u64,
    /// Objects not vouched for (too large, or a cap stopped their
    /// decoding): searches read them in full.
    pub unvouched: u64,
    /// Objects the index holds.
    pub objects: u64,
    /// Bytes of the objects the index holds.
    pub bytes: u64,
    /// Bytes of the index's segment files.
    pub index_bytes: u64,
    /// The segments built, by name.
    pub segments_built: Vec<String>,
    /// The segments dropped, by name.
    pub segments_dropped: Vec<String>,
}

/// Whether segment `name` is sealed, given the export's newest minute.
pub(crate) fn is_sealed(name: &str, newest: Option<&str>) -> bool {
    segment_hour(name).is_none_or(|hour| sealed(&hour, newest))
}

/// The shared work queue of segment tasks (the state store), for builds by
/// many workers.
#[derive(Debug, Clone)]
pub struct Queue {
    /// The state store (PostgreSQL for many machines).
    pub state: crashdsr_state::StateStore,
    /// This worker's name (`host:pid` by default).
    pub worker: String,
    /// How long a claimed segment stays this worker's without renewal.
    pub lease: Duration,
}

impl Queue {
    /// A queue in `state` for this process, with a 10-minute lease.
    pub fn new(state: crashdsr_state::StateStore) -> Self {
        Self {
            state,
            worker: crashdsr_state::leases::default_worker(),
            lease: Duration::from_secs(600),
        }
    }

    /// The name thread `i` of this worker claims segments under
    /// (`worker/i`).
    pub fn thread(&self, i: usize) -> String {
        format!("{}/{i}", self.worker)
    }
}

/// The segment files under the index, with their sizes.
async fn segment_files(index: &Index) -> Result<HashMap<String, u64>> {
    Ok(index
        .store
        .list(Some("segments"))
        .map_ok(|l| (l.path, l.size))
        .try_collect()
        .await?)
}

/// Builds what is new or changed in `source`'s index, drops what is gone,
/// and writes the manifest. With a `queue`, the segments to build are
/// shared with every other worker on the same queue, source and index.
pub async fn update(
    index: &Index,
    source: &Store,
    opts: &BuildOptions,
    queue: Option<&Queue>,
) -> Result<BuildReport> {
    let old = index.manifest().await?;
    let identity = crate::source_identity(source);
    if let Some(m) = &old
        && m.source != identity
    {
        return Err(Error::Index(format!(
            "{} indexes another source ({}); give that source, or another index",
            index.url(),
            m.source
        )));
    }
    let tokeniser = crashdsr_search::tokens::VERSION;
    let mut kept: BTreeMap<String, SegmentEntry> = BTreeMap::new();
    let mut report = BuildReport::default();
    let listing = list_segments(source, true).await?;
    let newest = listing.newest.clone();
    // A segment is kept only while its file is there, whole: one that went
    // missing or changed size is built again (`index verify` reads every
    // file through).
    let files = segment_files(index).await?;
    let mut todo = Vec::new();
    for (name, objects) in listing.segments {
        if !is_sealed(&name, newest.as_deref()) {
            report.open += 1;
            continue;
        }
        let print = fingerprint(&objects);
        let current = old.as_ref().and_then(|m| {
            (m.tokeniser == tokeniser
                && m.limits == (opts.limits.max_expand, opts.limits.max_depth)
                && !opts.rebuild)
                .then(|| m.segments.get(&name))
                .flatten()
                .filter(|e| e.objects_sha256 == print)
                .filter(|e| files.get(&e.file) == Some(&e.file_bytes))
        });
        match current {
            Some(e) => {
                kept.insert(name, e.clone());
                report.kept += 1;
            }
            None => {
                let folders = listing
                    .folders
                    .get(&name)
                    .map(|f| f.paths.clone())
                    .unwrap_or_default();
                todo.push(Todo {
                    name,
                    objects,
                    print,
                    folders,
                });
            }
        }
    }
    let built: Vec<(String, SegmentEntry, BuildReport)> = match queue {
        None => {
            futures::stream::iter(todo)
                .map(|t| build_segment(index, source, t, opts))
                .buffer_unordered(opts.threads.max(1))
                .try_collect()
                .await?
        }
        Some(q) => {
            let (mine, theirs) = build_queued(index, source, opts, q, todo).await?;
            kept.extend(theirs);
            mine
        }
    };
    for (name, entry, r) in built {
        report.built += 1;
        report.segments_built.push(name.clone());
        report.objects_read += r.objects_read;
        report.bytes_read += r.bytes_read;
        report.unvouched += r.unvouched;
        kept.insert(name, entry);
    }
    if let Some(m) = &old {
        for (name, e) in &m.segments {
            if !kept.contains_key(name) {
                report.dropped += 1;
                report.segments_dropped.push(name.clone());
                index.store.delete(&e.file).await?;
            }
        }
    }
    report.segments_built.sort();
    for (name, e) in kept.iter_mut() {
        e.folders_sha256 = listing.folders.get(name).and_then(|f| f.stamp.clone());
    }
    for e in kept.values() {
        report.objects += e.objects;
        report.bytes += e.bytes;
        report.index_bytes += e.file_bytes;
    }
    index
        .put_manifest(&Manifest {
            format: manifest::FORMAT,
            tokeniser,
            key_check: index.key.check(),
            source: identity,
            limits: (opts.limits.max_expand, opts.limits.max_depth),
            newest_minute: newest,
            segments: kept,
        })
        .await?;
    Ok(report)
}

/// Builds `todo` with the other workers of `queue`: queues it, then claims
/// and builds one segment at a time (`opts.threads` at once) until nothing
/// is left to claim and nothing is leased. Returns the segments this worker
/// built and what the others recorded of the rest.
async fn build_queued(
    index: &Index,
    source: &Store,
    opts: &BuildOptions,
    q: &Queue,
    todo: Vec<Todo>,
) -> Result<(
    Vec<(String, SegmentEntry, BuildReport)>,
    Vec<(String, SegmentEntry)>,
)> {
    let id = crate::source_identity(&index.store);
    let tasks: Vec<SegmentTask> = todo
        .iter()
        .map(|t| SegmentTask {
            segment: t.name.clone(),
            fingerprint: t.print.clone(),
        })
        .collect();
    q.state.queue_segments(&id, &tasks).await?;
    // A segment recorded built whose file is not there (the index was
    // deleted, or is being rebuilt) is built again. The files are listed
    // after the records are read: a worker writes a segment's file before
    // it records it, so one recorded meanwhile is not taken for missing.
    let again: Vec<String> = if opts.rebuild {
        tasks.iter().map(|t| t.segment.clone()).collect()
    } else {
        let built = q.state.built_segments(&id).await?;
        let files = segment_files(index).await?;
        built
            .into_iter()
            .filter(|(segment, entry)| {
                todo.iter().any(|t| t.name == *segment)
                    && serde_json::from_str::<Option<SegmentEntry>>(entry)
                        .ok()
                        .flatten()
                        .is_none_or(|e| files.get(&e.file) != Some(&e.file_bytes))
            })
            .map(|(segment, _)| segment)
            .collect()
    };
    q.state.requeue_segments(&id, &again).await?;
    let wanted: std::collections::BTreeSet<String> = todo.iter().map(|t| t.name.clone()).collect();
    let objects_of: HashMap<String, Todo> = todo.into_iter().map(|t| (t.name.clone(), t)).collect();
    let objects_of = std::sync::Mutex::new(objects_of);
    // Each thread claims under its own name, so that none takes over what
    // another thread of this process holds.
    let names: Vec<String> = (0..opts.threads.max(1)).map(|i| q.thread(i)).collect();
    let renew = {
        let (q, names) = (q.clone(), names.clone());
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(q.lease / 10).await;
                for name in &names {
                    if let Err(e) = q.state.renew_segments(name, q.lease).await {
                        tracing::warn!(error = %e, "Renewing this worker's segment leases failed; trying again.");
                    }
                }
            }
        })
    };
    let (id, objects_of) = (&id, &objects_of);
    let worker = |name: String| async move {
        let mut mine = Vec::new();
        loop {
            free_dead_local_leases(&q.state).await?;
            let Some(task) = q.state.claim_segment(id, &name, q.lease).await? else {
                let counts = q.state.segment_counts().await?;
                let busy = counts
                    .iter()
                    .find(|c| c.index == *id)
                    .is_some_and(|c| c.pending + c.leased > 0);
                if !busy {
                    return Ok::<_, Error>(mine);
                }
                tokio::time::sleep(Duration::from_millis(500)).await;
                continue;
            };
            // Kept, not taken: a segment built here and queued again by a
            // worker that did not see its file yet is built (taken as
            // written) again, never recorded as gone.
            let found = objects_of.lock().expect("lock").get(&task.segment).cloned();
            let entry = match found {
                Some(todo) => {
                    let built = build_segment(index, source, todo, opts).await?;
                    let entry = serde_json::to_string(&built.1).expect("an entry serialises");
                    mine.push(built);
                    entry
                }
                // Queued by a worker whose listing held it and this one's
                // does not: gone since; the next update drops it.
                None => "null".to_owned(),
            };
            q.state
                .finish_segment(id, &task.segment, &name, &entry)
                .await?;
        }
    };
    let results = futures::future::join_all(names.into_iter().map(worker)).await;
    renew.abort();
    // A segment built twice here (queued again meanwhile) counts once,
    // with the reads of both builds.
    let mut by_name: BTreeMap<String, (SegmentEntry, BuildReport)> = BTreeMap::new();
    for (name, entry, r) in results
        .into_iter()
        .collect::<Result<Vec<_>>>()?
        .into_iter()
        .flatten()
    {
        let (_, seen) = by_name
            .entry(name)
            .or_insert((entry, BuildReport::default()));
        seen.objects_read += r.objects_read;
        seen.bytes_read += r.bytes_read;
        seen.unvouched = seen.unvouched.max(r.unvouched);
    }
    let built_here: std::collections::BTreeSet<String> = by_name.keys().cloned().collect();
    let mine = by_name.into_iter().map(|(n, (e, r))| (n, e, r)).collect();
    let mut theirs = Vec::new();
    for (segment, entry) in q.state.built_segments(id).await? {
        if !wanted.contains(&segment) || built_here.contains(&segment) {
            continue;
        }
        if let Ok(Some(e)) = serde_json::from_str::<Option<SegmentEntry>>(&entry) {
            theirs.push((segment, e));
        }
    }
    Ok((mine, theirs))
}

/// Frees at once the segment leases of this host's workers whose process
/// died; other hosts' leases keep their timeout.
async fn free_dead_local_leases(state: &crashdsr_state::StateStore) -> Result<()> {
    let host = crashdsr_state::leases::host();
    for owner in state.segment_lease_owners().await? {
        if crashdsr_state::leases::dead_here(&owner, &host) {
            state.release_segments(&owner).await?;
            tracing::info!(worker = %owner, "Freed the segment leases of a worker of this host whose process is gone.");
        }
    }
    Ok(())
}

/// A segment to build: its objects, their fingerprint, and (an export
/// segment of a directory) its folders.
#[derive(Clone)]
struct Todo {
    name: String,
    objects: Vec<Listed>,
    print: String,
    folders: Vec<String>,
}

/// Builds one segment (or takes the file a killed run left, when it is of
/// exactly these objects) and writes its file.
async fn build_segment(
    index: &Index,
    source: &Store,
    todo: Todo,
    opts: &BuildOptions,
) -> Result<(String, SegmentEntry, BuildReport)> {
    let Todo {
        name,
        objects,
        print,
        folders,
    } = todo;
    let file = segment_file(&name);
    let tokeniser = crashdsr_search::tokens::VERSION;
    if !opts.rebuild
        && let Some(got) = index.store.get(&file).await?
        && let Ok(seg) = Segment::decode(&got.bytes)
        && seg.meta().tokeniser == tokeniser
        && seg.meta().key_check == index.key.check()
        && seg.meta().folders == folders
        && seg.objects().is_ok_and(|o| listed_of(o) == objects)
    {
        let entry = entry_of(&file, &seg, &got.bytes, print);
        return Ok((name, entry, BuildReport::default()));
    }
    // A directory's files are read in place by the thread that tokenises
    // them (a read through the object-store interface hands each file
    // between threads twice or more); an object store's reads run ahead of
    // that thread, `io` at a time.
    type Read = (Listed, Option<crashdsr_store::Result<bytes::Bytes>>);
    let (reads, reader): (Box<dyn Iterator<Item = Read> + Send>, _) = match source.dir() {
        Some(root) => {
            let root = root.to_owned();
            let files = objects.clone().into_iter().map(move |l| {
                let bytes = (l.size <= LARGEST_INDEXED).then(|| read_in_place(&root, &l.path));
                (l, bytes)
            });
            (Box::new(files), None)
        }
        None => {
            let (tx, mut rx) = tokio::sync::mpsc::channel(opts.io.max(1));
            let (source, objects) = (source.clone(), objects.clone());
            let io = opts.io.max(1);
            let reader = tokio::spawn(async move {
                let mut reads = std::pin::pin!(
                    futures::stream::iter(objects)
                        .map(|l| {
                            let source = source.clone();
                            async move {
                                let bytes = if l.size > LARGEST_INDEXED {
                                    None
                                } else {
                                    Some(source.read(&l.path, LARGEST_INDEXED).await)
                                };
                                (l, bytes)
                            }
                        })
                        .buffered(io)
                );
                while let Some(r) = reads.next().await {
                    if tx.send(r).await.is_err() {
                        break;
                    }
                }
            });
            (
                Box::new(std::iter::from_fn(move || rx.blocking_recv())),
                Some(reader),
            )
        }
    };
    let (key, limits, progress) = (index.key.clone(), opts.limits, opts.progress.clone());
    let seg_name = name.clone();
    let built = tokio::task::spawn_blocking(move || -> Result<(Segment, BuildReport)> {
        let mut report = BuildReport::default();
        // Every occurrence of a token is looked up; only a new one is
        // copied (and its keyed hash computed once, below).
        let mut ids: HashMap<Vec<u8>, u32, foldhash::quality::RandomState> = HashMap::default();
        let mut per_object: Vec<Vec<u32>> = Vec::new();
        let mut headers = Vec::new();
        let mut tally = Tally::default();
        for (listed, bytes) in reads {
            let mut seen: Vec<u32> = Vec::new();
            let mut object = Object {
                path: listed.path.clone(),
                size: listed.size,
                version: listed.version.clone(),
                records: 0,
                unvouched: None,
            };
            match bytes {
                None => object.unvouched = Some(format!("larger than {LARGEST_INDEXED} bytes")),
                Some(Err(e)) => return Err(e.into()),
                Some(Ok(bytes)) => {
                    progress.fetch_add(1, Ordering::Relaxed);
                    report.objects_read += 1;
                    report.bytes_read += bytes.len() as u64;
                    if bytes.len() as u64 != listed.size {
                        return Err(Error::Index(format!(
                            "{} changed while it was indexed; run the update again",
                            listed.path
                        )));
                    }
                    let mut one = Tally::default();
                    let (records, unread) = crashdsr_search::narrow::index_object(
                        &listed.path,
                        &bytes,
                        limits,
                        &mut one,
                        &mut |t| {
                            let id = match ids.get(t) {
                                Some(id) => *id,
                                None => {
                                    let next = ids.len() as u32;
                                    ids.insert(t.to_vec(), next);
                                    next
                                }
                            };
                            seen.push(id);
                        },
                    );
                    object.records = records;
                    match unread {
                        Some(why) => {
                            object.unvouched = Some(why);
                            seen.clear();
                        }
                        None => tally.merge(one),
                    }
                }
            }
            if object.unvouched.is_some() {
                report.unvouched += 1;
            }
            seen.sort_unstable();
            seen.dedup();
            per_object.push(seen);
            headers.push(object);
        }
        let mut hashes = vec![0u32; ids.len()];
        for (token, id) in ids {
            hashes[id as usize] = key.token(&token);
        }
        let tokens: Vec<Vec<u32>> = per_object
            .into_iter()
            .map(|ids| ids.into_iter().map(|i| hashes[i as usize]).collect())
            .collect();
        let header = Header {
            segment: seg_name,
            tokeniser,
            key_check: key.check(),
            objects: headers,
            folders,
            tally,
        };
        Ok((Segment::new(header, &tokens), report))
    })
    .await
    .map_err(|e| Error::Index(format!("building segment {name} ended: {e}")))?;
    if let Some(reader) = reader {
        let _ = reader.await;
    }
    let (seg, report) = built?;
    if listed_of(seg.objects()?) != objects {
        return Err(Error::Index(format!(
            "reading segment {name} stopped early"
        )));
    }
    let bytes = seg.encode();
    index.store.put(&file, bytes.clone()).await?;
    Ok((name, entry_of(&file, &seg, &bytes, print), report))
}

/// A file of a directory source, read whole (at most
/// [`LARGEST_INDEXED`] bytes and one more: a file that grew since it was
/// listed is caught by its size).
fn read_in_place(root: &std::path::Path, path: &str) -> crashdsr_store::Result<bytes::Bytes> {
    use std::io::Read as _;
    let mut buf = Vec::new();
    std::fs::File::open(root.join(path))
        .and_then(|f| f.take(LARGEST_INDEXED + 1).read_to_end(&mut buf))
        .map_err(|e| crashdsr_store::Error::from_io("reading", path, e))?;
    Ok(buf.into())
}

fn listed_of(objects: &[Object]) -> Vec<Listed> {
    objects
        .iter()
        .map(|o| Listed {
            path: o.path.clone(),
            size: o.size,
            version: o.version.clone(),
        })
        .collect()
}

fn entry_of(file: &str, seg: &Segment, bytes: &[u8], print: String) -> SegmentEntry {
    let head_bytes = Head::len_in(bytes).expect("a segment just encoded has a head");
    SegmentEntry {
        file: file.to_owned(),
        sha256: hex::encode(Sha256::digest(bytes)),
        head_bytes: head_bytes as u64,
        head_sha256: hex::encode(&bytes[head_bytes - 32..head_bytes]),
        objects_sha256: print,
        folders_sha256: None,
        objects: seg.meta().objects,
        bytes: seg.objects().map_or(0, |o| o.iter().map(|o| o.size).sum()),
        tokens: seg.tokens() as u64,
        file_bytes: bytes.len() as u64,
    }
}
