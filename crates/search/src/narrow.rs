//! Narrowed searches: an index vouches for most of a source and names the
//! few objects that can hold what is looked for; the search reads those and
//! whatever the index cannot vouch for, and nothing else, with exactly the
//! result of reading everything.
//!
//! Exactness rests on two things. The index's candidates hold every
//! object where the matcher can find an identifier ([`crate::tokens`]).
//! And attribution reads only what the hits lead to: a crash's error and
//! attachment logs, its blobs, its session's logs, the records of an
//! install, all of which name that crash, attachment, session or install
//! in their text or path. So after each pass the keys the attribution
//! wanted (and the installs expansion looked for) are looked up in the
//! index too, and the search runs again until no new object comes in.

use std::collections::{BTreeMap, BTreeSet};

use crashdsr_store::{Listed, Store};
use serde::{Deserialize, Serialize};

use crate::error::Result;
pub use crate::evidence::IndexUse;
use crate::evidence::SourceSummary;

pub use crate::matcher::Alternatives;

/// What a full scan counts of objects: how many, their bytes, their
/// device-log records, their source's summary and the app ids their logs
/// name.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tally {
    /// Objects.
    pub objects: u64,
    /// Bytes, as stored.
    pub bytes: u64,
    /// Device-log records.
    pub records: u64,
    /// The source's summary of these objects.
    pub summary: SourceSummary,
    /// The app ids their device logs and crash blobs name.
    pub apps: BTreeSet<String>,
}

impl Tally {
    /// Takes in another tally.
    pub fn merge(&mut self, other: Self) {
        self.objects += other.objects;
        self.bytes += other.bytes;
        self.records += other.records;
        self.summary.merge(other.summary);
        self.apps.extend(other.apps);
    }
}

/// One object the index vouches for: its size and the records a full scan
/// counts in it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Vouched {
    /// Bytes, as stored.
    pub size: u64,
    /// Device-log records.
    pub records: u64,
}

/// What the index makes of one source for one search.
#[derive(Debug, Clone, Default)]
pub struct Selection {
    /// Objects it cannot vouch for: read in full and counted as a scan
    /// counts them.
    pub scan: Vec<Listed>,
    /// Objects it vouches for that can hold what is looked for.
    pub candidates: BTreeMap<String, Vouched>,
    /// What a scan counts of every object it vouches for.
    pub vouched: Tally,
    /// How it went, for the `index` line of the output.
    pub use_: IndexUse,
}

/// What an index holds of some keys.
#[derive(Debug, Clone, Default)]
pub struct Held {
    /// The objects it vouches for that hold one of them.
    pub objects: BTreeMap<String, Vouched>,
    /// Segments that turned out unreadable: all their objects are in
    /// `objects`, to be read in full; why, never an identifier's value.
    pub scanned: Vec<String>,
}

/// An index a search can be narrowed by.
#[async_trait::async_trait]
pub trait Narrow: std::fmt::Debug + Send + Sync {
    /// What to read of source `n` (`store`) for identifiers whose tokens
    /// are `wanted` (any alternative of any identifier), decoding with
    /// `limits`; `None` when the index does not cover that source, or was
    /// built with other caps (what it vouches was read under them).
    async fn select(
        &self,
        n: usize,
        store: &Store,
        wanted: &Alternatives,
        limits: &crate::decode::Limits,
    ) -> Result<Option<Selection>>;

    /// The objects of source `n` the index vouches for that hold one of
    /// `wanted`.
    async fn holding(&self, n: usize, wanted: &Alternatives) -> Result<Held>;
}

/// A [`crate::Matcher::index_query`] as one list of alternatives.
pub(crate) fn flatten(query: Vec<Vec<Alternatives>>) -> Alternatives {
    let mut all: Alternatives = query.into_iter().flatten().flatten().collect();
    all.sort();
    all.dedup();
    all
}

/// The alternatives of attribution keys (error, attachment, session and
/// install ids, `install` NUL `session`): their words.
pub(crate) fn keys(keys: impl IntoIterator<Item = String>) -> Alternatives {
    let mut all: Alternatives = keys
        .into_iter()
        .map(|k| crate::tokens::pattern_tokens(k.as_bytes(), None))
        .filter(|t| !t.is_empty())
        .collect();
    all.sort();
    all.dedup();
    all
}

/// What one search pass found by narrowed reading, and what else to read.
pub(crate) struct Scope {
    pub(crate) by_source: Vec<Option<Selection>>,
    /// Passes of the search so far.
    pub(crate) passes: u64,
}

impl Scope {
    /// Adds what the index holds of `wanted`; whether anything new came.
    pub(crate) async fn grow(
        &mut self,
        narrow: &dyn Narrow,
        wanted: &Alternatives,
    ) -> Result<bool> {
        let mut grew = false;
        if wanted.is_empty() {
            return Ok(false);
        }
        for (n, sel) in self.by_source.iter_mut().enumerate() {
            let Some(sel) = sel else { continue };
            let held = narrow.holding(n, wanted).await?;
            let scanned = held.scanned.len() as u64;
            sel.use_.segments -= scanned.min(sel.use_.segments);
            sel.use_.segments_scanned += scanned;
            sel.use_.warnings.extend(held.scanned);
            for (path, v) in held.objects {
                if let std::collections::btree_map::Entry::Vacant(e) = sel.candidates.entry(path) {
                    e.insert(v);
                    grew = true;
                }
            }
        }
        Ok(grew)
    }

    /// How much each source the index covers was answered from it.
    pub(crate) fn uses(&self) -> Vec<IndexUse> {
        self.by_source
            .iter()
            .flatten()
            .map(|sel| IndexUse {
                candidates: sel.candidates.len() as u64,
                passes: self.passes,
                ..sel.use_.clone()
            })
            .collect()
    }
}

/// Reads one object at `path` as a full search reads it, for an index:
/// adds what the search counts of it to `tally`, calls `tokens` with every
/// token a search could find in it ([`crate::tokens::object_tokens`]), and
/// returns the device-log records counted and, when a cap stopped its
/// decoding, why (such an object cannot be vouched for).
pub fn index_object(
    path: &str,
    bytes: &[u8],
    limits: crate::decode::Limits,
    tally: &mut Tally,
    tokens: &mut impl FnMut(&[u8]),
) -> (u64, Option<String>) {
    static NOTHING: std::sync::OnceLock<crate::matcher::Matcher> = std::sync::OnceLock::new();
    let matcher = NOTHING.get_or_init(|| crate::matcher::Matcher::new(Vec::new()));
    let progress = crate::Scanned::default();
    // It counts; the tokens below come from the decoded views, decoded
    // once.
    let scanner = crate::scan::Scanner {
        views: false,
        ..crate::scan::Scanner::new(matcher, limits, true, &progress)
    };
    let mut local = crate::scan::Local::default();
    scanner.object(0, path, bytes, &mut local);
    tally.objects += local.objects;
    tally.bytes += local.bytes;
    tally.records += local.records;
    tally.apps.extend(local.index.apps().map(str::to_owned));
    for s in local.sources {
        tally.summary.merge(s);
    }
    let unread = crate::tokens::object_tokens(path, bytes, &limits, tokens);
    (local.records, unread)
}
