//! A purge plan, streamed: everything older than a cut-off can be hundreds
//! of thousands of objects, so the plan is JSON Lines, written and read a
//! line at a time, and nothing about a purge is held whole.
//!
//! ```text
//! {"format":"crashdsr-erasure-plan","version":2,"kind":"purge","created":"…","sources":[…],"cutoff":"…"}
//! {"source":1,"object":"2026/09/01/13/05/logs.v1.data","sha256":"…","size":3072,"why":"…"}
//! …one line per object to delete…
//! {"plan_id":"fff042656875fc1bf72a","deletes":391814,"bytes":578123456}
//! ```
//!
//! `plan_id` is the first 20 hex digits of the SHA-256 of every byte
//! before the last line: an edited plan is refused.

use std::io::{BufRead, BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};

use futures::{StreamExt, stream};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::plan::{Delete, Kind, PLAN_FORMAT, absolute, archive_folder, minute_of, string_field};
use crate::target::{TEMP_SUFFIX, Target, classify_store};
use crate::{Error, Result};

/// The version of the streamed (purge) plan format.
pub const PURGE_PLAN_VERSION: u32 = 2;

/// Objects found older than the cut-off, handed on this many at a time
/// (each is read for its SHA-256 when planning).
const BATCH: usize = 256;
/// Reads in flight when planning.
const IN_FLIGHT: usize = 16;

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Header {
    format: String,
    version: u32,
    kind: Kind,
    created: String,
    sources: Vec<String>,
    cutoff: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Trailer {
    plan_id: String,
    deletes: u64,
    bytes: u64,
}

/// A purge plan on disk, checked: its header and trailer in memory, its
/// deletes read from the file as they are needed ([`PurgePlan::deletes`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PurgePlan {
    /// The plan file.
    pub path: PathBuf,
    /// The SHA-256 of the plan with its last line left out, 20 hex digits.
    pub plan_id: String,
    /// When it was made (RFC 3339).
    pub created: String,
    /// The sources (directories made absolute).
    pub sources: Vec<String>,
    /// Everything before this minute goes (`yyyy-MM-ddTHH:mm`).
    pub cutoff: String,
    /// Objects to delete.
    pub deletes: u64,
    /// Their bytes.
    pub bytes: u64,
}

fn plan_error(path: &Path, what: impl std::fmt::Display) -> Error {
    Error::Plan(format!("the plan {}: {what}", path.display()))
}

/// Whether a file is a streamed purge plan (its first line says so).
pub fn is_purge_plan(path: &Path) -> bool {
    std::fs::File::open(path)
        .ok()
        .and_then(|f| BufReader::new(f).lines().next()?.ok())
        .and_then(|l| serde_json::from_str::<Header>(&l).ok())
        .is_some_and(|h| h.kind == Kind::Purge)
}

impl PurgePlan {
    /// Opens a plan, reading it through once to check its format, its
    /// count and its id.
    pub fn open(path: &Path) -> Result<Self> {
        let file = std::fs::File::open(path).map_err(|e| plan_error(path, e))?;
        let mut lines = BufReader::new(file).lines();
        let first = lines
            .next()
            .ok_or_else(|| plan_error(path, "it is empty"))?
            .map_err(|e| plan_error(path, e))?;
        let header: Header = serde_json::from_str(&first).map_err(|_| {
            plan_error(
                path,
                format!(
                    "not a purge plan of format {PLAN_FORMAT:?} version {PURGE_PLAN_VERSION} \
                     (JSON Lines); a plan made by an older crashdsr cannot be run: plan again"
                ),
            )
        })?;
        if header.format != PLAN_FORMAT
            || header.version != PURGE_PLAN_VERSION
            || header.kind != Kind::Purge
        {
            return Err(plan_error(
                path,
                format!(
                    "a {:?} plan of format {:?} version {}; `crashdsr purge` runs {PLAN_FORMAT:?} version {PURGE_PLAN_VERSION}",
                    header.kind, header.format, header.version
                ),
            ));
        }
        let mut hash = Sha256::new();
        hash.update(first.as_bytes());
        hash.update(b"\n");
        let (mut deletes, mut bytes) = (0u64, 0u64);
        let mut trailer = None;
        for line in lines {
            let line = line.map_err(|e| plan_error(path, e))?;
            if trailer.is_some() {
                return Err(plan_error(path, "it goes on after its last line"));
            }
            if let Ok(t) = serde_json::from_str::<Trailer>(&line) {
                trailer = Some(t);
                continue;
            }
            let d: Delete = serde_json::from_str(&line)
                .map_err(|e| plan_error(path, format!("line {}: {e}", deletes + 2)))?;
            deletes += 1;
            bytes += d.size;
            hash.update(line.as_bytes());
            hash.update(b"\n");
        }
        let trailer = trailer.ok_or_else(|| {
            plan_error(
                path,
                "it has no last line with its plan_id: it was cut short; plan again",
            )
        })?;
        let id = hex::encode(hash.finalize())[..20].to_owned();
        if trailer.plan_id != id || trailer.deletes != deletes || trailer.bytes != bytes {
            return Err(plan_error(
                path,
                "it was changed after it was made (its plan_id does not match its content); make a new one",
            ));
        }
        Ok(Self {
            path: path.to_owned(),
            plan_id: id,
            created: header.created,
            sources: header.sources,
            cutoff: header.cutoff,
            deletes,
            bytes,
        })
    }

    /// The objects to delete, in order, read from the file a line at a
    /// time.
    pub fn each_delete(&self) -> Result<impl Iterator<Item = Result<Delete>> + use<>> {
        let path = self.path.clone();
        let file = std::fs::File::open(&path).map_err(|e| plan_error(&path, e))?;
        Ok(BufReader::new(file)
            .lines()
            .skip(1)
            .take(usize::try_from(self.deletes).unwrap_or(usize::MAX))
            .map(move |line| {
                let line = line.map_err(|e| plan_error(&path, e))?;
                serde_json::from_str(&line).map_err(|e| plan_error(&path, e))
            }))
    }
}

/// A writer that hashes what it writes.
struct Hashing<W: Write> {
    inner: W,
    hash: Sha256,
}

impl<W: Write> Hashing<W> {
    fn line(&mut self, value: &impl Serialize) -> std::io::Result<()> {
        let mut text = serde_json::to_vec(value).expect("a plan line serialises");
        text.push(b'\n');
        self.hash.update(&text);
        self.inner.write_all(&text)
    }
}

/// Calls `on` with the objects of `target` older than `cutoff`, a batch
/// at a time, with why: the objects of a minute folder by its path, those
/// of an archived crash by its crash log's time. Returns the objects
/// listed. Memory holds one batch and one archived crash's objects: a
/// listing gives a folder's objects one after another (a directory is
/// walked depth first, an object store lists in order); were a folder's
/// objects ever apart, each run of them is judged alone, by the same log.
async fn older_than(
    target: &Target,
    cutoff: &str,
    mut on: impl AsyncFnMut(Vec<(String, String)>) -> Result<()>,
) -> Result<u64> {
    let mut listing = target.store().paths(None);
    let mut batch = Vec::new();
    let mut crash: Option<(String, Vec<String>)> = None;
    let mut listed = 0;
    while let Some(path) = listing.next().await {
        let path = path.map_err(|e| classify_store(&e))?;
        listed += 1;
        if path.ends_with(TEMP_SUFFIX) {
            continue;
        }
        if let Some(folder) = archive_folder(&path) {
            match &mut crash {
                Some((open, objects)) if open == folder => objects.push(path),
                _ => {
                    let next = (folder.to_owned(), vec![path]);
                    if let Some(done) = crash.replace(next) {
                        archived_crash(target, cutoff, done, &mut on).await?;
                    }
                }
            }
        } else if let Some(minute) = minute_of(&path)
            && minute.as_str() < cutoff
        {
            let why = format!("written in the minute {minute}, before {cutoff}");
            batch.push((path, why));
            if batch.len() >= BATCH {
                on(std::mem::take(&mut batch)).await?;
            }
        }
    }
    if !batch.is_empty() {
        on(batch).await?;
    }
    if let Some(done) = crash {
        archived_crash(target, cutoff, done, &mut on).await?;
    }
    Ok(listed)
}

/// Calls `on` with the objects of one archived crash's folder if its
/// crash log says it is older than `cutoff`.
async fn archived_crash(
    target: &Target,
    cutoff: &str,
    (folder, objects): (String, Vec<String>),
    on: &mut impl AsyncFnMut(Vec<(String, String)>) -> Result<()>,
) -> Result<()> {
    let log = format!("{folder}download.json");
    let Some(read) = target.read(&log).await? else {
        return Ok(());
    };
    let Some(time) = string_field(&read.bytes, "timestamp").filter(|t| t.len() >= 16) else {
        return Ok(());
    };
    if time[..16] < *cutoff {
        let why = format!("an archived crash of {}, before {cutoff}", &time[..16]);
        for chunk in objects.chunks(BATCH) {
            on(chunk.iter().map(|o| (o.clone(), why.clone())).collect()).await?;
        }
    }
    Ok(())
}

/// Plans the purge of everything in `sources` older than `cutoff`
/// (`yyyy-MM-ddTHH:mm`) into the file `out` (through `out.partial`, so a
/// plan is never half written), reading each object for its SHA-256.
pub async fn plan_purge(sources: &[String], cutoff: &str, out: &Path) -> Result<PurgePlan> {
    let targets = sources
        .iter()
        .map(|s| Target::open(s))
        .collect::<Result<Vec<_>>>()?;
    let partial = PathBuf::from(format!("{}.partial", out.display()));
    let file = std::fs::File::create(&partial).map_err(|e| plan_error(&partial, e))?;
    let mut w = Hashing {
        inner: BufWriter::new(file),
        hash: Sha256::new(),
    };
    let io = |e: std::io::Error| plan_error(&partial, e);
    w.line(&Header {
        format: PLAN_FORMAT.into(),
        version: PURGE_PLAN_VERSION,
        kind: Kind::Purge,
        created: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        sources: absolute(sources),
        cutoff: cutoff.to_owned(),
    })
    .map_err(io)?;
    let (mut deletes, mut bytes) = (0u64, 0u64);
    for (s, target) in targets.iter().enumerate() {
        older_than(target, cutoff, async |batch: Vec<(String, String)>| {
            let reads: Vec<_> = stream::iter(batch.into_iter().map(|(object, why)| async move {
                let read = target.read(&object).await;
                (object, why, read)
            }))
            .buffered(IN_FLIGHT)
            .collect()
            .await;
            for (object, why, read) in reads {
                // Gone since it was listed: nothing to plan.
                let Some(read) = read? else { continue };
                let d = Delete {
                    source: crashdsr_store::SourceId::new(s),
                    object,
                    sha256: hex::encode(Sha256::digest(&read.bytes)),
                    size: read.bytes.len() as u64,
                    why,
                };
                w.line(&d).map_err(io)?;
                deletes += 1;
                bytes += d.size;
            }
            Ok(())
        })
        .await?;
    }
    let plan_id = hex::encode(w.hash.clone().finalize())[..20].to_owned();
    w.line(&Trailer {
        plan_id,
        deletes,
        bytes,
    })
    .map_err(io)?;
    let file = w.inner.into_inner().map_err(|e| io(e.into_error()))?;
    file.sync_all().map_err(io)?;
    drop(file);
    std::fs::rename(&partial, out).map_err(|e| plan_error(out, e))?;
    PurgePlan::open(out)
}

/// After a purge: the objects listed, and those still older than the
/// cut-off, counted as the listing streams.
pub async fn rescan_purge(plan: &PurgePlan) -> Result<crate::Rescan> {
    let (mut objects, mut left) = (0, 0);
    for s in &plan.sources {
        let target = Target::open(s)?;
        objects += older_than(&target, &plan.cutoff, async |batch| {
            left += batch.len();
            Ok(())
        })
        .await?;
    }
    Ok(crate::Rescan {
        objects,
        left,
        what: format!("objects still older than {}", plan.cutoff),
    })
}
