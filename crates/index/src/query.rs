//! The index at search time: the source is listed, each segment whose
//! objects are exactly those it was built from (same paths, sizes,
//! versions) is trusted and answers from its postings; every other object
//! is read in full: new, changed or gone objects turn their segment back to
//! a scan, as do open, missing and damaged segments, segments of another
//! tokeniser, and objects the index could not vouch for.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use crashdsr_search::narrow::Alternatives;
use crashdsr_search::{IndexUse, Narrow, Selection, Vouched};
use crashdsr_store::{Listed, Store};
use futures::StreamExt;
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::build::list_segments;
use crate::error::{Error, Result};
use crate::manifest::{Manifest, SegmentEntry, fingerprint};
use crate::segment::Segment;
use crate::{Index, Key};

/// Segment files read at once.
const READS: usize = 32;

/// An index narrowing searches ([`crashdsr_search::SearchOptions::narrow`]).
#[derive(Debug)]
pub struct Narrowing {
    index: Index,
    /// The trusted segments of each source searched, once selected.
    trusted: Mutex<HashMap<usize, Arc<Vec<Segment>>>>,
}

impl Narrowing {
    /// Narrows searches by `index`.
    pub fn new(index: Index) -> Self {
        Self {
            index,
            trusted: Mutex::default(),
        }
    }
}

fn hashed(key: &Key, wanted: &Alternatives) -> Vec<Vec<u32>> {
    wanted
        .iter()
        .map(|all| all.iter().map(|t| key.token(t)).collect())
        .collect()
}

/// What the objects of `segments` that hold one of `wanted` are.
fn holding(segments: &[Segment], wanted: &[Vec<u32>]) -> Result<BTreeMap<String, Vouched>> {
    let mut out = BTreeMap::new();
    for seg in segments {
        let found = seg.holding(wanted);
        if found.is_empty() {
            continue;
        }
        let objects = seg.objects()?;
        for n in found {
            let o = &objects[n as usize];
            if o.unvouched.is_none() {
                out.insert(o.path.clone(), o.vouched());
            }
        }
    }
    Ok(out)
}

/// A segment listed in the manifest, checked against its file.
async fn load(index: &Index, entry: &SegmentEntry) -> std::result::Result<Segment, String> {
    let got = match index.store.get(&entry.file).await {
        Ok(Some(g)) => g,
        Ok(None) => return Err("its file is missing".into()),
        Err(e) => return Err(format!("its file cannot be read: {e}")),
    };
    if hex::encode(Sha256::digest(&got.bytes)) != entry.sha256 {
        return Err("its file is not the one the manifest names (damaged or replaced)".into());
    }
    Segment::decode(&got.bytes).map_err(|e| e.to_string())
}

/// The trust of each segment of a source, and what it means for a search.
struct Survey {
    trusted: Vec<Segment>,
    /// Objects read in full.
    scan: Vec<Listed>,
    use_: IndexUse,
}

async fn survey(index: &Index, manifest: &Manifest, source: &Store, n: usize) -> Result<Survey> {
    let started = std::time::Instant::now();
    let (listed, _) = list_segments(source).await?;
    tracing::debug!(
        ms = started.elapsed().as_millis() as u64,
        segments = listed.len(),
        "Listed the source."
    );
    let mut use_ = IndexUse {
        source: n,
        ..IndexUse::default()
    };
    if manifest.tokeniser != crashdsr_search::tokens::VERSION {
        use_.warnings.push(format!(
            "the index was cut by tokeniser {}, this version's is {}: it is not used; run `crashdsr index update`",
            manifest.tokeniser,
            crashdsr_search::tokens::VERSION
        ));
    }
    let mut to_load = Vec::new();
    let mut scan = Vec::new();
    let (mut changed, mut unindexed) = (0u64, 0u64);
    for (name, objects) in listed {
        let entry = manifest
            .segments
            .get(&name)
            .filter(|_| manifest.tokeniser == crashdsr_search::tokens::VERSION);
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
    let loaded: Vec<(String, Vec<Listed>, std::result::Result<Segment, String>)> =
        futures::stream::iter(to_load)
            .map(|(name, e, objects)| async move {
                let seg = load(index, &e).await;
                (name, objects, seg)
            })
            .buffer_unordered(READS)
            .collect()
            .await;
    tracing::debug!(
        ms = started.elapsed().as_millis() as u64,
        "Read the segments."
    );
    let mut trusted = Vec::new();
    for (name, objects, seg) in loaded {
        match seg {
            Ok(seg) => {
                use_.segments += 1;
                let meta = seg.meta();
                use_.objects_vouched += meta.objects - meta.unvouched.len() as u64;
                if !meta.unvouched.is_empty() {
                    let by_path: HashMap<&str, &Listed> =
                        objects.iter().map(|l| (l.path.as_str(), l)).collect();
                    for (_, path, _) in &meta.unvouched {
                        scan.extend(by_path.get(path.as_str()).map(|l| (*l).clone()));
                    }
                }
                trusted.push(seg);
            }
            Err(why) => {
                tracing::warn!(segment = %name, "An index segment cannot be used ({why}); its objects are scanned.");
                use_.warnings
                    .push(format!("segment {name}: {why}; scanned in full"));
                scan.extend(objects);
                use_.segments_scanned += 1;
            }
        }
    }
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
        let survey = survey(&self.index, &manifest, store, n)
            .await
            .map_err(boxed)?;
        let key = self.index.key.clone();
        let trusted = Arc::new(survey.trusted);
        let wanted = hashed(&key, wanted);
        let candidates = {
            let trusted = trusted.clone();
            tokio::task::spawn_blocking(move || holding(&trusted, &wanted))
                .await
                .map_err(|e| boxed(Error::Index(format!("looking tokens up ended: {e}"))))?
                .map_err(boxed)?
        };
        let mut vouched = crashdsr_search::Tally::default();
        for seg in trusted.iter() {
            vouched.merge(seg.meta().tally.clone());
        }
        self.trusted.lock().expect("lock").insert(n, trusted);
        Ok(Some(Selection {
            scan: survey.scan,
            candidates,
            vouched,
            use_: survey.use_,
        }))
    }

    async fn holding(
        &self,
        n: usize,
        wanted: &Alternatives,
    ) -> crashdsr_search::Result<BTreeMap<String, Vouched>> {
        let Some(trusted) = self.trusted.lock().expect("lock").get(&n).cloned() else {
            return Ok(BTreeMap::new());
        };
        let wanted = hashed(&self.index.key, wanted);
        let boxed = |e: Error| crashdsr_search::Error::Narrow(Box::new(e));
        tokio::task::spawn_blocking(move || holding(&trusted, &wanted))
            .await
            .map_err(|e| boxed(Error::Index(format!("looking tokens up ended: {e}"))))?
            .map_err(boxed)
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
    let (listed, _) = list_segments(source).await?;
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
