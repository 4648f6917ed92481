//! The vocabulary of found data: who a hit belongs to ([`Owner`]: a crash,
//! an activity record, or an object that could not be tied to either) and
//! the evidence line per subject and owner that `search --json` prints.

use crashdsr_store::SourceId;
use serde::Serialize;
use serde_json::value::RawValue;

use crate::subject::IdKind;

/// An object that could not be read to the end.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Unread {
    /// Which `--source`.
    pub source: SourceId,
    /// The object.
    pub object: String,
    /// What was left unread and why.
    pub reason: String,
}

/// One hit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, PartialOrd, Ord)]
pub struct Hit {
    /// The identifier's type (never its value).
    pub identifier: IdKind,
    /// The artefact or record that holds it, with the views it was decoded
    /// through (`attachments/a1 (zip: logs/app.log)`).
    pub artefact: String,
    /// The JSON path of the value, when the artefact is JSON.
    pub path: Option<String>,
    /// Byte offset in the artefact (in the decoded view, if any).
    pub offset: u64,
    /// Whether it was the value of a typed field (`userId`, `InstallId`).
    #[serde(skip)]
    pub typed: bool,
}

/// Who found data belongs to.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Owner {
    /// A crash or handled error.
    Crash {
        /// `OWNER/APP` (archive) or the app id (export), if known.
        app: Option<String>,
        /// The error id (printed as the line's `error_id`).
        #[serde(skip)]
        error_id: String,
    },
    /// A device-log record that belongs to no crash: a session start, an
    /// event with its properties, a push installation, custom properties,
    /// or a type nobody knew.
    Activity {
        /// The app id, if known.
        app: Option<String>,
        /// The install the record came from (printed as the line's
        /// `install_id`).
        #[serde(skip)]
        install_id: Option<String>,
        /// Its `MessageType`.
        message_type: String,
        /// The `logs*.v1.data` blob that holds it.
        object: String,
        /// Its position in that blob's array.
        index: usize,
        /// Which `--source` (numbered from 1 in `--json`).
        source: SourceId,
    },
    /// An object that holds a hit but could not be tied to a crash or a
    /// record, or could not be read to the end.
    Unattributed {
        /// The object (a `logs*.v1.data` blob when `index` is given).
        object: String,
        /// The record's position in the blob's array, when the hit is in
        /// one device-log record (the same reference as an activity
        /// record's `object` and `index`).
        #[serde(skip_serializing_if = "Option::is_none")]
        index: Option<usize>,
        /// Why.
        reason: String,
        /// Which `--source` (numbered from 1 in `--json`).
        source: SourceId,
    },
}

impl Owner {
    /// The crash's id, for crashes.
    pub fn error_id(&self) -> Option<&str> {
        match self {
            Self::Crash { error_id, .. } => Some(error_id),
            _ => None,
        }
    }
}

/// One line of the evidence: a subject's crash, activity record or
/// unattributed object.
#[derive(Debug, Clone, Serialize)]
pub struct Evidence {
    /// The subject's label.
    pub subject: String,
    /// Who the data belongs to (flattened: `kind` and its fields).
    #[serde(flatten)]
    pub owner: Owner,
    /// The crash's id (`null` for what is not a crash).
    pub error_id: Option<String>,
    /// True when brought in by install-id expansion only.
    pub linked: bool,
    /// The install id (the linking install for linked crashes, the
    /// crash's or record's own otherwise, where known).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub install_id: Option<String>,
    /// The record itself, as stored (activity records).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub record: Option<Box<RawValue>>,
    /// The hits (empty for linked crashes).
    pub hits: Vec<Hit>,
}

impl PartialEq for Evidence {
    fn eq(&self, other: &Self) -> bool {
        (
            &self.subject,
            &self.owner,
            self.linked,
            &self.install_id,
            &self.hits,
        ) == (
            &other.subject,
            &other.owner,
            other.linked,
            &other.install_id,
            &other.hits,
        ) && self.record.as_ref().map(|r| r.get()) == other.record.as_ref().map(|r| r.get())
    }
}

impl Evidence {
    /// A line for `owner`; `error_id` and an activity record's
    /// `install_id` follow from it.
    pub fn new(subject: String, owner: Owner, linked: bool, hits: Vec<Hit>) -> Self {
        let install_id = match &owner {
            Owner::Activity { install_id, .. } => install_id.clone(),
            _ => None,
        };
        Self {
            subject,
            error_id: owner.error_id().map(str::to_owned),
            owner,
            linked,
            install_id,
            record: None,
            hits,
        }
    }
}

/// What a search did.
#[derive(Debug, Clone, Default)]
pub struct SearchReport {
    /// One entry per subject and owner, sorted.
    pub evidence: Vec<Evidence>,
    /// Objects scanned.
    pub objects: u64,
    /// Bytes scanned (as stored).
    pub bytes: u64,
    /// Device-log records read.
    pub records: u64,
    /// Problems, one per object: `(object, what is wrong)`. The search
    /// went on past each.
    pub errors: Vec<(String, String)>,
    /// `(subject label, identifier type)` of identifiers matched in typed
    /// fields only (too short for free text).
    pub typed_only: Vec<(String, IdKind)>,
    /// Entries written to the attribution index (one per error log,
    /// attachment log, listed crash or attachment blob, and install).
    pub index_entries: u64,
    /// Objects not read to the end (a decompression cap, a damaged
    /// container): whatever they hold past that point is unknown.
    pub unread: Vec<Unread>,
    /// The part of the attribution index that the evidence needs: its
    /// crashes, their sessions and attachments, the installs of its
    /// records (and every app id seen).
    pub index: crate::index::AttributionIndex,
    /// Objects that could not be read at all: `(object, why)` (also in
    /// `errors`). Whatever they hold is unknown.
    pub failed: Vec<(String, String)>,
    /// What each source held, by `--source` index.
    pub sources: Vec<SourceSummary>,
    /// How much an index answered, one entry per source it covers (empty
    /// when no index was used). With an index, `objects`, `bytes`,
    /// `records` and `sources` are still those of the whole export (the
    /// index counted what it vouches for); `index_entries` is of what was
    /// read.
    pub narrowed: Vec<IndexUse>,
    /// Why an index that was given was not used (an identifier type it
    /// cannot answer): every object was read.
    pub narrow_refused: Option<String>,
}

/// What one source held.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct SourceSummary {
    /// Objects scanned.
    pub objects: u64,
    /// Objects in the continuous export's layout.
    pub export_objects: u64,
    /// Objects in the crawl archive's layout.
    pub archive_objects: u64,
    /// The earliest minute it covers (`yyyy-MM-ddTHH:mmZ`): its first
    /// minute folder, or its oldest archived crash.
    pub first: Option<String>,
    /// The latest minute it covers.
    pub last: Option<String>,
    /// The apps its paths name (app ids of the export's `WithAppId`
    /// layout, `OWNER/APP` of the archive).
    pub apps: std::collections::BTreeSet<String>,
}

impl SourceSummary {
    /// Notes one object's time (`yyyy-MM-ddTHH:mm…`) and app.
    pub(crate) fn note(&mut self, time: Option<String>, app: Option<&str>) {
        if let Some(t) = time {
            if self.first.as_ref().is_none_or(|f| t < *f) {
                self.first = Some(t.clone());
            }
            if self.last.as_ref().is_none_or(|l| t > *l) {
                self.last = Some(t);
            }
        }
        if let Some(a) = app
            && !self.apps.contains(a)
        {
            self.apps.insert(a.to_owned());
        }
    }

    /// Notes an export object's minute and app. The minute is formatted
    /// only when it moves the first or the last: comparing the twelve
    /// digits of `yyyy/MM/dd/HH/mm` with those of `yyyy-MM-ddTHH:mmZ` is
    /// comparing the times.
    pub(crate) fn note_minute(&mut self, blob: &crate::export::ExportBlob) {
        fn digits(s: &str) -> impl Iterator<Item = u8> + '_ {
            s.bytes().filter(u8::is_ascii_digit)
        }
        let folder = blob.minute.trim_end_matches('/');
        // The last 16 bytes are `yyyy/MM/dd/HH/mm` (an app id before them
        // holds digits too).
        let Some(minute) = folder.get(folder.len().saturating_sub(16)..) else {
            return;
        };
        let earlier = self
            .first
            .as_deref()
            .is_none_or(|f| digits(minute).lt(digits(f)));
        let later = self
            .last
            .as_deref()
            .is_none_or(|l| digits(minute).gt(digits(l)));
        let time = (earlier || later)
            .then(|| blob.time().map(|t| t + "Z"))
            .flatten();
        self.note(time, blob.app_id.as_deref());
    }

    /// Takes in another summary of the same source.
    pub fn merge(&mut self, other: Self) {
        self.objects += other.objects;
        self.export_objects += other.export_objects;
        self.archive_objects += other.archive_objects;
        self.note(other.first, None);
        self.note(other.last, None);
        self.apps.extend(other.apps);
    }
}

/// How much of one source an index answered.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct IndexUse {
    /// The source (its `--source` index).
    pub source: usize,
    /// Segments answered from the index.
    pub segments: u64,
    /// Of those, segments trusted by their folders' modification times
    /// without listing their files (`--trust-folder-times`).
    pub segments_by_folder_times: u64,
    /// Segments scanned in full (open, changed, missing, damaged, of
    /// another tokeniser).
    pub segments_scanned: u64,
    /// Objects the index vouched for.
    pub objects_vouched: u64,
    /// Objects read in full because the index could not vouch for them.
    pub objects_scanned: u64,
    /// Objects the index named and the search read.
    pub candidates: u64,
    /// Passes of the search (each pass adds what attribution led to).
    pub passes: u64,
    /// What fell back to a scan and why (never an identifier's value).
    pub warnings: Vec<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_and_last_minute_are_found_without_formatting_each() {
        let mut s = SourceSummary::default();
        let app = "7102f3a9-eeb8-4870-8b32-42e3c449332b";
        for path in [
            "2026/09/01/13/05/logs.v1.data",
            "7102f3a9-eeb8-4870-8b32-42e3c449332b/2025/12/31/23/59/crashes/e.json",
            "2026/10/01/00/00/attachments/a",
            "2026/09/30/23/59/logs.v1.data",
        ] {
            s.note_minute(&crate::export::classify(path).unwrap());
        }
        assert_eq!(s.first.as_deref(), Some("2025-12-31T23:59Z"));
        assert_eq!(s.last.as_deref(), Some("2026-10-01T00:00Z"));
        assert!(s.apps.contains(app));
        // An archived crash's time (already formatted) and an export
        // minute compare alike.
        s.note(Some("2025-06-01T08:00Z".into()), None);
        s.note_minute(&crate::export::classify("2025/07/01/00/00/logs.v1.data").unwrap());
        assert_eq!(s.first.as_deref(), Some("2025-06-01T08:00Z"));
    }
}
