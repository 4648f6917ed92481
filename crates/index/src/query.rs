//! The index at search time: the source is listed, each segment whose
//! objects are exactly those it was built from (same paths, sizes,
//! versions) is trusted (or, trusting folder times, whose folders' times
//! are as stamped); its head is read and kept, and its body read only when
//! the head's filter lets a token through; every other object is read in
//! full: new, changed or gone objects turn their segment back to a scan, as
//! do open, missing and damaged segments, segments of another tokeniser,
//! and objects the index could not vouch for.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use crashdsr_search::narrow::Alternatives;
use crashdsr_search::{Held, IndexUse, Narrow, Selection, Tally, Vouched};
use crashdsr_store::{Listed, Store};
use futures::StreamExt;
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::error::{Error, Result};
use crate::listing::{list_segment, list_segments, list_trusting};
use crate::manifest::{Manifest, SegmentEntry, fingerprint};
use crate::segment::{Head, Object, Segment};
use crate::{Index, Key};

/// Segment files read at once: on an object store each read waits on
/// the network (`benches/remote.rs`: 32 → 64 took a search at 20 ms a
/// request from 0.74 to 0.63–0.65 s).
const READS: usize = 64;

/// An index narrowing searches ([`crashdsr_search::SearchOptions::narrow`]).
#[derive(Debug)]
pub struct Narrowing {
    index: Index,
    trust_folder_times: bool,
    /// Each source searched, once selected, and the segments trusted.
    trusted: Mutex<HashMap<usize, Searched>>,
}

impl Narrowing {
    /// Narrows searches by `index`.
    pub fn new(index: Index) -> Self {
        Self {
            index,
            trust_folder_times: false,
            trusted: Mutex::default(),
        }
    }

    /// On a directory, trusts an export segment whose folders' times are
    /// as when the index was last updated, without listing its files:
    /// faster, and blind to a file rewritten in place (not replaced by a
    /// rename), which an update or a search without this sees.
    pub fn trust_folder_times(mut self, trust: bool) -> Self {
        self.trust_folder_times = trust;
        self
    }
}

/// A source searched: the segments of it trusted, and the alternatives
/// already looked up (their objects are the search's already).
#[derive(Debug, Clone)]
struct Searched {
    store: Store,
    trusted: Arc<Vec<Trusted>>,
    asked: Arc<std::collections::HashSet<Vec<u32>>>,
}

/// The objects a segment names, or the segment and why its body cannot be
/// used.
type Found = std::result::Result<Vec<(String, Vouched)>, (String, String)>;

/// A segment a search trusts: its head, read and checked; its body is read
/// only when the head's filter says it may hold what is looked for.
#[derive(Debug, Clone)]
struct Trusted {
    name: String,
    entry: SegmentEntry,
    head: Arc<Head>,
}

fn hashed(key: &Key, wanted: &Alternatives) -> Vec<Vec<u32>> {
    wanted
        .iter()
        .map(|all| all.iter().map(|t| key.token(t)).collect())
        .collect()
}

/// The objects of the trusted segments that hold one of `wanted`: the
/// bodies of the segments whose filter says they may are read. Segments
/// whose body cannot be used come back apart, with why.
async fn holding(
    index: &Index,
    trusted: &[Trusted],
    wanted: Arc<Vec<Vec<u32>>>,
) -> (BTreeMap<String, Vouched>, Vec<(String, String)>) {
    let read = std::sync::atomic::AtomicU64::new(0);
    // Owned, for the stream (a clone shares the head).
    let maybe: Vec<Trusted> = trusted
        .iter()
        .filter(|t| t.head.filter.may_hold_any(&wanted))
        .cloned()
        .collect();
    let found: Vec<Found> = futures::stream::iter(maybe)
        .map(|t| {
            let (wanted, read) = (wanted.clone(), &read);
            async move {
                let objects = objects_holding(index, &t, &wanted, read)
                    .await
                    .map_err(|why| (t.name.clone(), why))?;
                Ok(objects
                    .into_iter()
                    .filter(|o| o.unvouched.is_none())
                    .map(|o| {
                        let v = o.vouched();
                        (o.path, v)
                    })
                    .collect())
            }
        })
        .buffer_unordered(READS)
        .collect()
        .await;
    tracing::debug!(
        alternatives = wanted.len(),
        bodies = found.len(),
        bytes = read.into_inner(),
        "Looked tokens up in the index."
    );
    let (mut out, mut failed) = (BTreeMap::new(), Vec::new());
    for f in found {
        match f {
            Ok(objects) => out.extend(objects),
            Err(e) => failed.push(e),
        }
    }
    failed.sort();
    (out, failed)
}

/// A segment file's bytes, checked against the manifest's SHA-256.
async fn read_checked(
    index: &Index,
    entry: &SegmentEntry,
) -> std::result::Result<bytes::Bytes, String> {
    let got = match index.store.get(&entry.file).await {
        Ok(Some(g)) => g,
        Ok(None) => return Err("its file is missing".into()),
        Err(e) => return Err(format!("its file cannot be read: {e}")),
    };
    if hex::encode(Sha256::digest(&got.bytes)) != entry.sha256 {
        return Err("its file is not the one the manifest names (damaged or replaced)".into());
    }
    Ok(got.bytes)
}

/// A segment listed in the manifest, checked against its file and whole.
async fn load(index: &Index, entry: &SegmentEntry) -> std::result::Result<Segment, String> {
    let bytes = read_checked(index, entry).await?;
    Segment::decode(&bytes).map_err(|e| e.to_string())
}

/// The bytes at `ranges` of a segment's file, counted into `read`.
async fn read_ranges(
    index: &Index,
    file: &str,
    ranges: &[std::ops::Range<u64>],
    read: &std::sync::atomic::AtomicU64,
) -> std::result::Result<Vec<bytes::Bytes>, String> {
    if ranges.is_empty() {
        return Ok(Vec::new());
    }
    let bytes: u64 = ranges.iter().map(|r| r.end - r.start).sum();
    read.fetch_add(bytes, std::sync::atomic::Ordering::Relaxed);
    match index.store.get_ranges(file, ranges).await {
        Ok(Some(got)) => Ok(got),
        Ok(None) => Err("its file is missing".into()),
        Err(e) => Err(format!("its file cannot be read: {e}")),
    }
}

/// The objects of a trusted segment (its head is the one read before)
/// that hold one of `wanted`: its directory is read and checked against
/// the head, then the token blocks that may hold `wanted`, then the object
/// blocks of what they hold, each checked against the directory; nothing
/// else of the file is read. The bytes read are added to `read`.
async fn objects_holding(
    index: &Index,
    t: &Trusted,
    wanted: &[Vec<u32>],
    read: &std::sync::atomic::AtomicU64,
) -> std::result::Result<Vec<Object>, String> {
    let (file, at) = (&t.entry.file, t.entry.head_bytes);
    let directory = at..at + t.head.directory_len();
    let directory = read_ranges(index, file, std::slice::from_ref(&directory), read).await?;
    let mut seg = Segment::open(t.head.clone(), at, &directory[0], t.entry.file_bytes)
        .map_err(|e| e.to_string())?;
    let ranges = seg.token_ranges(wanted);
    let got = read_ranges(index, file, &ranges, read).await?;
    seg.add(&ranges, got);
    let found = seg.holding(wanted).map_err(|e| e.to_string())?;
    if found.is_empty() {
        // The filter's false "maybe": no object block is read.
        return Ok(Vec::new());
    }
    let ranges = seg.object_ranges(&found);
    let got = read_ranges(index, file, &ranges, read).await?;
    seg.add(&ranges, got);
    seg.objects_at(&found).map_err(|e| e.to_string())
}

/// The heads of `segments`, by name, or why each cannot be used.
async fn read_heads(
    index: &Index,
    segments: Vec<(String, SegmentEntry)>,
) -> HashMap<String, std::result::Result<Head, String>> {
    futures::stream::iter(segments)
        .map(|(name, e)| async move { (name, load_head(index, &e).await) })
        .buffer_unordered(READS)
        .collect()
        .await
}

/// A segment's head, read alone and checked against the manifest.
async fn load_head(index: &Index, entry: &SegmentEntry) -> std::result::Result<Head, String> {
    let bytes = match index.store.get_prefix(&entry.file, entry.head_bytes).await {
        Ok(Some(b)) => b,
        Ok(None) => return Err("its file is missing".into()),
        Err(e) => return Err(format!("its file cannot be read: {e}")),
    };
    let (head, len) = Head::decode(&bytes).map_err(|e| e.to_string())?;
    if len != bytes.len() || hex::encode(&bytes[len - 32..]) != entry.head_sha256 {
        return Err("its file is not the one the manifest names (damaged or replaced)".into());
    }
    Ok(head)
}

/// Every object a trusted segment vouches for, to be read in full because
/// its body cannot be used: the source's listing of it (given, or listed
/// now) with the head's record counts.
async fn read_whole(
    source: &Store,
    t: &Trusted,
    listed: Option<Vec<Listed>>,
) -> Result<Vec<(String, Vouched)>> {
    let listed = match listed {
        Some(l) => l,
        None => list_segment(source, &t.name).await?,
    };
    let meta = &t.head.meta;
    if fingerprint(&listed) != t.entry.objects_sha256 || listed.len() != meta.records.len() {
        return Err(Error::Index(format!(
            "segment {}: the source changed midway through the search; search again",
            t.name
        )));
    }
    let unvouched: std::collections::HashSet<u32> =
        meta.unvouched.iter().map(|(n, _, _)| *n).collect();
    Ok(listed
        .into_iter()
        .zip(&meta.records)
        .enumerate()
        .filter(|(n, _)| !unvouched.contains(&(*n as u32)))
        .map(|(_, (l, records))| {
            let v = Vouched {
                size: l.size,
                records: *records,
            };
            (l.path, v)
        })
        .collect())
}

/// Logs that segment `name` cannot be used and why; the warning for the
/// search's report.
fn unusable(name: &str, why: &str) -> String {
    tracing::warn!(segment = %name, "An index segment cannot be used ({why}); its objects are scanned.");
    format!("segment {name}: {why}; scanned in full")
}

/// What the index makes of a source for a search.
struct Survey {
    trusted: Vec<Trusted>,
    candidates: BTreeMap<String, Vouched>,
    /// What a scan counts of every object the index vouches for.
    vouched: Tally,
    /// Objects read in full.
    scan: Vec<Listed>,
    use_: IndexUse,
}

/// Lists the source, reads the head of every segment whose objects are as
/// indexed, and the body of those that may hold `wanted`; every segment
/// that cannot be used is scanned, with a warning.
async fn survey(
    index: &Index,
    manifest: &Manifest,
    source: &Store,
    n: usize,
    wanted: Arc<Vec<Vec<u32>>>,
    trust_folder_times: bool,
) -> Result<Survey> {
    let started = std::time::Instant::now();
    let current = manifest.tokeniser == crashdsr_search::tokens::VERSION;
    let mut use_ = IndexUse {
        source: n,
        ..IndexUse::default()
    };
    if !current {
        use_.warnings.push(format!(
            "the index was cut by tokeniser {}, this version's is {}: it is not used; run `crashdsr index update`",
            manifest.tokeniser,
            crashdsr_search::tokens::VERSION
        ));
    }
    // Trusting folder times: the heads of the stamped segments first, for
    // their folders; the segments whose folders are as stamped are not
    // listed. Otherwise the heads are read while the source is listed (on
    // an object store, both wait on the network).
    let mut trusted = Vec::new();
    let trusting = trust_folder_times && current && source.dir().is_some();
    let indexed: Vec<(String, SegmentEntry)> = manifest
        .segments
        .iter()
        .filter(|(_, e)| current && (!trusting || e.folders_sha256.is_some()))
        .map(|(name, e)| (name.clone(), e.clone()))
        .collect();
    let heads_read = read_heads(index, indexed);
    let (mut heads, listed) = if trusting {
        let mut heads = heads_read.await;
        tracing::debug!(
            ms = started.elapsed().as_millis() as u64,
            heads = heads.len(),
            "Read the stamped segments' heads."
        );
        let checks = heads
            .iter()
            .filter_map(|(name, h)| {
                let h = h.as_ref().ok()?;
                if !h.meta.unvouched.is_empty() || h.meta.folders.is_empty() {
                    return None;
                }
                let stamp = manifest.segments[name].folders_sha256.clone()?;
                Some((name.clone(), stamp, h.meta.folders.clone()))
            })
            .collect();
        let (by_time, listing) = list_trusting(source, checks).await?;
        use_.segments_by_folder_times = by_time.len() as u64;
        for name in by_time {
            let head = heads
                .remove(&name)
                .and_then(std::result::Result::ok)
                .expect("checked");
            let entry = manifest.segments[&name].clone();
            trusted.push(Trusted {
                name,
                entry,
                head: Arc::new(head),
            });
        }
        (heads, listing.segments)
    } else {
        let (heads, listing) = futures::join!(heads_read, list_segments(source, false));
        (heads, listing?.segments)
    };
    tracing::debug!(
        ms = started.elapsed().as_millis() as u64,
        segments = listed.len(),
        trusted_by_folder_times = use_.segments_by_folder_times,
        "Listed the source."
    );
    let mut to_load = Vec::new();
    let mut scan = Vec::new();
    let (mut changed, mut unindexed) = (0u64, 0u64);
    for (name, objects) in listed {
        let entry = manifest.segments.get(&name).filter(|_| current);
        match entry {
            Some(e) if e.objects_sha256 == fingerprint(&objects) => {
                to_load.push((name, e.clone(), objects));
            }
            Some(_) => {
                changed += 1;
                scan.extend(objects);
            }
            None => {
                unindexed += 1;
                scan.extend(objects);
            }
        }
    }
    // The heads not read yet (trusting folder times: the unstamped
    // segments').
    let loaded: Vec<_> = futures::stream::iter(to_load)
        .map(|(name, entry, objects)| {
            let head = heads.remove(&name);
            async move {
                let head = match head {
                    Some(h) => h,
                    None => load_head(index, &entry).await,
                };
                (name, entry, objects, head)
            }
        })
        .buffer_unordered(READS)
        .collect()
        .await;
    let mut objects_of = HashMap::new();
    let mut fall_back = |name: &str, why: &str, objects: Vec<Listed>, use_: &mut IndexUse| {
        use_.warnings.push(unusable(name, why));
        use_.segments_scanned += 1;
        scan.extend(objects);
    };
    for (name, entry, objects, head) in loaded {
        match head {
            Ok(head) => {
                objects_of.insert(name.clone(), objects);
                trusted.push(Trusted {
                    name,
                    entry,
                    head: Arc::new(head),
                });
            }
            Err(why) => fall_back(&name, &why, objects, &mut use_),
        }
    }
    trusted.sort_by(|a, b| a.name.cmp(&b.name));
    tracing::debug!(
        ms = started.elapsed().as_millis() as u64,
        "Read the segments' heads."
    );
    let (mut candidates, failed) = holding(index, &trusted, wanted).await;
    tracing::debug!(
        ms = started.elapsed().as_millis() as u64,
        "Read the bodies of the segments that may hold what is looked for."
    );
    let mut vouched = Tally::default();
    for t in &trusted {
        let meta = &t.head.meta;
        vouched.merge(meta.tally.clone());
        if let Some((_, why)) = failed.iter().find(|(name, _)| *name == t.name) {
            // Its body cannot be used: every object it vouches for is read.
            let objects = objects_of.remove(&t.name);
            candidates.extend(read_whole(source, t, objects).await?);
            use_.warnings.push(unusable(&t.name, why));
            use_.segments_scanned += 1;
            continue;
        }
        use_.segments += 1;
        use_.objects_vouched += meta.objects - meta.unvouched.len() as u64;
        if !meta.unvouched.is_empty() {
            let objects = &objects_of[&t.name];
            let by_path: HashMap<&str, &Listed> =
                objects.iter().map(|l| (l.path.as_str(), l)).collect();
            for (_, path, _) in &meta.unvouched {
                scan.extend(by_path.get(path.as_str()).map(|l| (*l).clone()));
            }
        }
    }
    trusted.retain(|t| failed.iter().all(|(name, _)| *name != t.name));
    if changed > 0 {
        use_.warnings.push(format!(
            "{changed} segment(s) changed since they were indexed: scanned in full until `crashdsr index update`"
        ));
    }
    if unindexed > 0 {
        use_.warnings.push(format!(
            "{unindexed} segment(s) not in the index (open, or new since the last update): scanned in full"
        ));
    }
    use_.segments_scanned += changed + unindexed;
    use_.objects_scanned = scan.len() as u64;
    Ok(Survey {
        trusted,
        candidates,
        vouched,
        scan,
        use_,
    })
}

#[async_trait::async_trait]
impl Narrow for Narrowing {
    async fn select(
        &self,
        n: usize,
        store: &Store,
        wanted: &Alternatives,
        limits: &crashdsr_search::Limits,
    ) -> crashdsr_search::Result<Option<Selection>> {
        let boxed = |e: Error| crashdsr_search::Error::Narrow(Box::new(e));
        let manifest = self.index.manifest().await.map_err(boxed)?.ok_or_else(|| {
            boxed(Error::Index(format!(
                "there is no index at {}: build it with `crashdsr index build`",
                self.index.url()
            )))
        })?;
        if manifest.source != crate::source_identity(store) {
            return Ok(None);
        }
        let caps = (limits.max_expand, limits.max_depth);
        if manifest.limits != caps {
            tracing::warn!(
                "The index was built with other decoding caps (--max-expand, nesting) than this search's: \
                 it is not used; every object is read."
            );
            return Ok(None);
        }
        let wanted = Arc::new(hashed(&self.index.key, wanted));
        let asked = Arc::new(wanted.iter().cloned().collect());
        let survey = survey(
            &self.index,
            &manifest,
            store,
            n,
            wanted,
            self.trust_folder_times,
        )
        .await
        .map_err(boxed)?;
        let searched = Searched {
            store: store.clone(),
            trusted: Arc::new(survey.trusted),
            asked,
        };
        self.trusted.lock().expect("lock").insert(n, searched);
        Ok(Some(Selection {
            scan: survey.scan,
            candidates: survey.candidates,
            vouched: survey.vouched,
            use_: survey.use_,
        }))
    }

    async fn holding(&self, n: usize, wanted: &Alternatives) -> crashdsr_search::Result<Held> {
        let Some(mut searched) = self.trusted.lock().expect("lock").get(&n).cloned() else {
            return Ok(Held::default());
        };
        let new: Vec<Vec<u32>> = hashed(&self.index.key, wanted)
            .into_iter()
            .filter(|w| !searched.asked.contains(w))
            .collect();
        if new.is_empty() {
            return Ok(Held::default());
        }
        Arc::make_mut(&mut searched.asked).extend(new.iter().cloned());
        let trusted = searched.trusted.clone();
        let (objects, failed) = holding(&self.index, &trusted, Arc::new(new)).await;
        let mut held = Held {
            objects,
            scanned: Vec::new(),
        };
        if failed.is_empty() {
            self.trusted.lock().expect("lock").insert(n, searched);
            return Ok(held);
        }
        // Segments whose body turned out unreadable in this pass: every
        // object they vouch for is read from now on, and they are no
        // longer asked.
        let boxed = |e: Error| crashdsr_search::Error::Narrow(Box::new(e));
        for (name, why) in &failed {
            let t = trusted.iter().find(|t| t.name == *name).expect("asked");
            held.objects
                .extend(read_whole(&searched.store, t, None).await.map_err(boxed)?);
            held.scanned.push(unusable(name, why));
        }
        searched.trusted = Arc::new(
            trusted
                .iter()
                .filter(|t| failed.iter().all(|(name, _)| *name != t.name))
                .cloned()
                .collect(),
        );
        self.trusted.lock().expect("lock").insert(n, searched);
        Ok(held)
    }
}

/// What `index verify` found.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct VerifyReport {
    /// Segments whose file is intact and whose objects are as indexed.
    pub current: u64,
    /// Segments whose objects changed, appeared or went since (an update
    /// rebuilds them).
    pub stale: Vec<String>,
    /// Segments whose file is missing or damaged.
    pub damaged: Vec<String>,
    /// Segment files under the index that the manifest does not list.
    pub strays: Vec<String>,
    /// Segments not indexed yet (open, or new).
    pub unindexed: u64,
}

/// Checks the index against its manifest and the source: every segment
/// file against its checksum and format, every segment's objects against
/// the source's listing.
pub async fn verify(index: &Index, source: &Store) -> Result<VerifyReport> {
    let manifest = index
        .manifest()
        .await?
        .ok_or_else(|| Error::Index(format!("there is no index at {}", index.url())))?;
    let mut report = VerifyReport::default();
    let listed = list_segments(source, false).await?.segments;
    let checked: Vec<(String, std::result::Result<Segment, String>)> =
        futures::stream::iter(manifest.segments.clone())
            .map(|(name, e)| async move { (name, load(index, &e).await) })
            .buffer_unordered(READS)
            .collect()
            .await;
    for (name, seg) in checked {
        match seg {
            Err(why) => report.damaged.push(format!("{name}: {why}")),
            Ok(seg) => {
                let print = listed.get(&name).map(fingerprint);
                let entry = &manifest.segments[&name];
                if print.as_deref() != Some(entry.objects_sha256.as_str())
                    || seg.meta().key_check != manifest.key_check
                {
                    report.stale.push(name);
                } else {
                    report.current += 1;
                }
            }
        }
    }
    report.unindexed = listed
        .keys()
        .filter(|n| !manifest.segments.contains_key(*n))
        .count() as u64;
    let files: Vec<String> = index.store.list_sorted(Some("segments")).await?;
    let known: std::collections::BTreeSet<&str> = manifest
        .segments
        .values()
        .map(|e| e.file.as_str())
        .collect();
    report.strays = files
        .into_iter()
        .filter(|f| !known.contains(f.as_str()))
        .collect();
    report.damaged.sort();
    report.stale.sort();
    Ok(report)
}

impl VerifyReport {
    /// Whether the index answers for everything it lists.
    pub fn intact(&self) -> bool {
        self.damaged.is_empty()
    }
}
