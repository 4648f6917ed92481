/*!
The answer to a data-subject request, from whatever still holds the data:
continuous exports and crawl archives, in directories or object stores.

# Brief overview

[`answer`] runs in four steps, each in its own module:

- sources: each `--source` is a [`crashdsr_store::Store`]; after the
  search, each must have held App Center data (an export's minute folders
  or an archive's crash folders), and the time it covers is read off its
  paths and crashes.
- search: one pass of `crashdsr-search` over every source, with install
  expansion, building the attribution index.
- assemble ([`assemble`]): per subject, the crashes (each once, whichever
  sources hold it: its crash blob, its attachments under their own names,
  its device-log records, the archive's artefacts), the activity records
  per app, and the objects that could not be tied to a crash.
- write ([`Package`]): `report.html` ([`report`]), `manifest.json`,
  `evidence.jsonl`, and the deterministic zip of `crashdsr-package`.

Nothing the package holds names a local path of the operator's machine: a
directory source is "a local directory", objects are named by their path
inside their source. `docs/package.md` documents the layout.
*/
#![warn(missing_docs)]

mod assemble;
mod json;
mod redact;
pub mod report;
mod store;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use chrono::NaiveDate;
use crashdsr_package::{PackageBuilder, Seal, Written, keyed_hash};
use crashdsr_search::{SearchOptions, SearchReport, Subject};
use crashdsr_store::Store;
use serde_json::{Value, json};

pub use crate::report::Controller;

/// Version of the package format (`manifest.json`'s `format_version`).
pub const FORMAT_VERSION: u32 = 2;

/// An error answering.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A source cannot be opened, or holds nothing App Center wrote.
    #[error("{0}")]
    Source(String),
    /// An object a package needs could not be read.
    #[error(
        "source {number}: {object} could not be read ({message}); no package was written: the answer would be incomplete"
    )]
    Unreadable {
        /// Which `--source`, from 1.
        number: usize,
        /// The object.
        object: String,
        /// Why.
        message: String,
    },
    /// The request itself is wrong (an app name, an app filter).
    #[error("{0}")]
    Request(String),
    /// The search failed.
    #[error(transparent)]
    Search(#[from] crashdsr_search::Error),
    /// Writing the package failed.
    #[error(transparent)]
    Package(#[from] crashdsr_package::Error),
    /// A local file could not be written or read.
    #[error("{context}: {source}")]
    Io {
        /// What was being done.
        context: String,
        /// The error.
        #[source]
        source: std::io::Error,
    },
}

impl Error {
    pub(crate) fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        Self::Io {
            context: context.into(),
            source,
        }
    }
}

/// The result type of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// A request.
#[derive(Debug, Clone)]
pub struct Request {
    /// Where to look: exports and archives, in directories or object
    /// stores ([`Store::open`]).
    pub sources: Vec<Store>,
    /// Who asked (one package each).
    pub subjects: Vec<Subject>,
    /// Only this app (`OWNER/APP`, or an app id).
    pub app: Option<String>,
    /// A readable name (`OWNER/APP`) per app id.
    pub app_names: BTreeMap<String, String>,
    /// When the request was received.
    pub received: NaiveDate,
    /// The controller's texts for the report.
    pub controller: Controller,
    /// The controller's key for keyed hashes.
    pub key: Vec<u8>,
    /// A directory for objects read from object stores until the packages
    /// are written.
    pub staging: PathBuf,
    /// How to search.
    pub search: SearchOptions,
    /// Said in the manifest and report about how complete the answer is,
    /// besides what the sources cover (a targeted fetch, say).
    pub coverage_note: Option<String>,
    /// Mask other people's e-mail addresses, phone numbers, install ids
    /// and user ids in the copies delivered (Art. 15(4)).
    pub redact_others: bool,
}

/// One source as the manifest describes it (no local path).
#[derive(Debug, Clone, serde::Serialize)]
pub struct SourceInfo {
    /// Its number, from 1, as `--source` gave it.
    pub number: usize,
    /// `continuous export`, `crawl archive`, or both.
    pub kind: String,
    /// `a local directory`, or the object store's URL.
    pub store: String,
    /// Objects scanned.
    pub objects: u64,
    /// The first and last minute it covers.
    pub time_range: TimeRange,
    /// The apps its data names.
    pub apps: Vec<String>,
    /// Objects that could not be read to the end (the reason is in the
    /// operator's log).
    pub unread_objects: usize,
}

/// A time range (`yyyy-MM-ddTHH:mmZ`).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct TimeRange {
    /// The earliest.
    pub from: Option<String>,
    /// The latest.
    pub to: Option<String>,
}

/// What was found for one subject, counted.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Counts {
    /// Crashes in the package.
    pub crashes: usize,
    /// Of those, holding the subject's details.
    pub direct: usize,
    /// Of those, brought in through an install id only.
    pub linked: usize,
    /// Attachments of those crashes.
    pub attachments: usize,
    /// Device-log records of those crashes.
    pub crash_records: usize,
    /// Session, event and other activity records.
    pub activity_records: usize,
    /// Objects with a hit that could not be tied to a crash.
    pub unattributed_objects: usize,
    /// Artefacts the data names but the sources no longer hold.
    pub missing: usize,
}

/// One subject's package, ready to write.
#[derive(Debug, Clone)]
pub struct Package {
    /// The subject's label.
    pub label: String,
    /// The request's id (a keyed hash).
    pub request_id: String,
    /// The identifier types and keyed hashes (never values).
    pub identifiers: Vec<(String, String)>,
    /// What it holds.
    pub counts: Counts,
    /// When the answer is due.
    pub due: NaiveDate,
    builder: PackageBuilder,
}

/// The answers to a request.
#[derive(Debug, Clone)]
pub struct Answer {
    /// One package per subject, in the subjects' order.
    pub packages: Vec<Package>,
    /// The sources.
    pub sources: Vec<SourceInfo>,
    /// Objects with a problem, `(object, what)`: damaged records, decoding
    /// caps. The search went past each; the manifest counts them.
    pub warnings: Vec<(String, String)>,
}

/// Answers `request`: searches every source once, then assembles a
/// package per subject. `progress` receives one line per step.
pub async fn answer(request: &Request, progress: &(dyn Fn(&str) + Sync)) -> Result<Answer> {
    if request.sources.is_empty() {
        return Err(Error::Source(
            "no source: name an export or an archive with --source".into(),
        ));
    }
    let inputs = &request.sources;
    progress(&format!("searching {} source(s)", inputs.len()));
    let mut opts = request.search.clone();
    opts.expand_install_ids = true;
    // A line every ten seconds while the search runs: objects scanned of
    // those listed so far.
    let scanned = opts.progress.clone();
    let every = async {
        loop {
            tokio::time::sleep(std::time::Duration::from_secs(10)).await;
            progress(&format!(
                "scanned {} objects ({} MB) of {} listed so far",
                scanned.objects(),
                scanned.bytes() / 1_000_000,
                scanned.listed()
            ));
        }
    };
    let report = tokio::select! {
        r = crashdsr_search::search(inputs, request.subjects.clone(), &opts) => r?,
        () = every => unreachable!("the progress lines never end"),
    };
    if let Some((object, why)) = report.failed.first() {
        return Err(Error::Source(format!(
            "{} object(s) could not be read, the first {object}: {why}; no package was written: the answer would be incomplete",
            report.failed.len()
        )));
    }
    let sources = describe_sources(inputs, &report)?;
    let names = app_names(request, &report)?;
    progress(&format!(
        "searched {} objects, {} device-log records; assembling",
        report.objects, report.records
    ));
    let mut objects = store::Objects::new(inputs, &request.staging);
    let received = request.received;
    let due = received
        .checked_add_months(chrono::Months::new(1))
        .ok_or_else(|| Error::Request("the due date is out of range".into()))?;
    let attachments = report.index.attachments_by_crash();
    let cx = assemble::Context {
        report: &report,
        names: &names,
        app: request.app.as_deref(),
        sources: &sources,
        attachments: &attachments,
    };
    let mut packages = Vec::new();
    for subject in &request.subjects {
        let mut found = assemble::assemble(&cx, &subject.label, &mut objects).await?;
        let others = request
            .redact_others
            .then(|| redact::others_of(subject, &report));
        let mut redactions = match &others {
            Some(o) => Some(redact::redact(&mut found, o)?),
            None => None,
        };
        let identifiers: Vec<(String, String)> = subject
            .identifiers
            .iter()
            .map(|i| {
                (
                    i.kind.as_str().to_owned(),
                    keyed_hash(&request.key, &i.value),
                )
            })
            .collect();
        let request_id = {
            let material = identifiers
                .iter()
                .map(|(t, h)| format!("{t}:{h}"))
                .collect::<Vec<_>>()
                .join(",");
            keyed_hash(&request.key, &format!("{material}|{received}"))[..20].to_owned()
        };
        let covered = overall(&sources);
        let mut builder = std::mem::take(&mut found.builder);
        let evidence: String = report
            .evidence
            .iter()
            .filter(|e| e.subject == subject.label && found.kept(e))
            .map(|e| serde_json::to_string(e).map(|s| s + "\n"))
            .collect::<Result<_, _>>()
            .map_err(|e| Error::Request(format!("evidence: {e}")))?;
        let evidence = match (&others, &mut redactions) {
            (Some(o), Some(r)) => {
                redact::redact_bytes("evidence.jsonl", evidence.into_bytes(), o, r)?
            }
            _ => evidence.into_bytes(),
        };
        let meta = report::Meta {
            request_id: &request_id,
            received: &received.to_string(),
            due: &due.to_string(),
            sources: &sources,
            covered: &covered,
            coverage_note: request.coverage_note.as_deref(),
            identifier_types: identifiers
                .iter()
                .map(|(t, _)| t.clone())
                .collect::<BTreeSet<_>>()
                .into_iter()
                .collect(),
            redactions: redactions.as_ref(),
        };
        let page = report::render(&meta, &found.view, &request.controller);
        builder.add_bytes("report.html", redact::marks_to_html(&page))?;
        builder.add_bytes("evidence.jsonl", evidence)?;
        let manifest = json!({
            "format_version": FORMAT_VERSION,
            "request_id": request_id,
            "received": received.to_string(),
            "due": due.to_string(),
            "subject": subject.label,
            "identifiers": identifiers.iter().map(|(t, h)| json!({"type": t, "keyed_hash": h})).collect::<Vec<_>>(),
            "app": request.app,
            "apps": names.iter().map(|(id, name)| json!({"app": id, "name": name})).collect::<Vec<_>>(),
            "sources": sources,
            "time_range": covered,
            "coverage": coverage_text(&covered, request.coverage_note.as_deref()),
            "unread_objects": report.unread.iter().map(|u| json!({"source": u.source, "object": u.object})).collect::<Vec<_>>(),
            "counts": found.counts,
            "crashes": found.crashes,
            "activity": found.activity,
            "unattributed": found.unattributed,
            "missing": found.missing,
            "redactions": redactions,
            "files": builder.digests()?,
            "tool": {"name": "crashdsr", "version": env!("CARGO_PKG_VERSION")},
        });
        builder.add_bytes(
            "manifest.json",
            serde_json::to_vec_pretty(&manifest).expect("a JSON value serialises"),
        )?;
        packages.push(Package {
            label: subject.label.clone(),
            request_id,
            identifiers,
            counts: found.counts,
            due,
            builder,
        });
    }
    Ok(Answer {
        packages,
        sources,
        warnings: report.errors,
    })
}

/// Each source's kind, store and coverage; an error for one that holds no
/// App Center data.
fn describe_sources(inputs: &[Store], report: &SearchReport) -> Result<Vec<SourceInfo>> {
    let mut out = Vec::new();
    for (n, input) in inputs.iter().enumerate() {
        let s = report.sources.get(n).cloned().unwrap_or_default();
        let kind = match (s.export_objects > 0, s.archive_objects > 0) {
            (true, true) => "continuous export and crawl archive",
            (true, false) => "continuous export",
            (false, true) => "crawl archive",
            (false, false) => {
                return Err(Error::Source(format!(
                    "source {}: {} objects, none in the layout of an App Center continuous export \
                     ([appId/]yyyy/MM/dd/HH/mm/…) or of a crawl archive (apps/OWNER/APP/errors/…): \
                     is it the right container or folder?",
                    n + 1,
                    s.objects
                )));
            }
        };
        out.push(SourceInfo {
            number: n + 1,
            kind: kind.into(),
            store: match input.dir() {
                Some(_) => "a local directory".into(),
                None => input.url().to_owned(),
            },
            objects: s.objects,
            time_range: TimeRange {
                from: s.first,
                to: s.last,
            },
            apps: s.apps.into_iter().collect(),
            unread_objects: report
                .unread
                .iter()
                .filter(|u| u.source.index() == n)
                .count(),
        });
    }
    Ok(out)
}

/// The range all sources cover together.
fn overall(sources: &[SourceInfo]) -> TimeRange {
    TimeRange {
        from: sources
            .iter()
            .filter_map(|s| s.time_range.from.clone())
            .min(),
        to: sources.iter().filter_map(|s| s.time_range.to.clone()).max(),
    }
}

/// What the answer covers, in words.
pub(crate) fn coverage_text(range: &TimeRange, note: Option<&str>) -> String {
    let span = match (&range.from, &range.to) {
        (Some(f), Some(t)) => format!(
            "every crash report and app record the sources hold, from {} to {} (UTC)",
            f.replace('T', " ").trim_end_matches('Z'),
            t.replace('T', " ").trim_end_matches('Z')
        ),
        _ => "every crash report and app record the sources hold".into(),
    };
    match note {
        Some(n) => format!("{span}; {n}"),
        None => span,
    }
}

/// The readable name of every app id in the data, from `--app-name` and
/// the controller's `[apps]`; an error for a name given to an app the
/// data does not hold.
fn app_names(request: &Request, report: &SearchReport) -> Result<BTreeMap<String, String>> {
    let mut seen: BTreeSet<String> = report.index.apps().into_iter().map(str::to_owned).collect();
    for s in &report.sources {
        seen.extend(s.apps.iter().cloned());
    }
    let mut names = BTreeMap::new();
    for (id, name) in &request.app_names {
        let known = seen
            .iter()
            .find(|a| a.eq_ignore_ascii_case(id))
            .ok_or_else(|| {
                Error::Request(format!(
                    "--app-name {id}={name}: no app {id} in the sources; they hold {}",
                    if seen.is_empty() {
                        "no app id".to_owned()
                    } else {
                        seen.iter().cloned().collect::<Vec<_>>().join(", ")
                    }
                ))
            })?;
        names.insert(known.clone(), name.clone());
    }
    for app in &seen {
        if app.contains('/') {
            names.entry(app.clone()).or_insert_with(|| app.clone());
        }
    }
    if let Some(want) = &request.app {
        let held = seen.iter().any(|a| a.eq_ignore_ascii_case(want))
            || names.values().any(|n| n.eq_ignore_ascii_case(want));
        if !held {
            return Err(Error::Request(format!(
                "--app {want}: the sources hold no data of it (apps found: {}); an export names apps by id: give its name with --app-name ID={want}",
                seen.iter().cloned().collect::<Vec<_>>().join(", ")
            )));
        }
    }
    Ok(names)
}

impl Package {
    /// Writes the package to `out` (sealed with age when `seal` is
    /// given, the plain zip never left behind).
    pub fn write(&self, out: &Path, seal: Option<&Seal>, force: bool) -> Result<Written> {
        Ok(self.builder.write_sealed(out, seal, force)?)
    }

    /// The audit record of a written package: keyed hashes and counts,
    /// never identifier values.
    pub fn audit_record(&self, answer: &Answer, written: &Written, received: NaiveDate) -> Value {
        let operator = std::env::var("USER")
            .or_else(|_| std::env::var("LOGNAME"))
            .unwrap_or_else(|_| "unknown".into());
        json!({
            "time": chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            "operator": operator,
            "request_id": self.request_id,
            "subject": self.label,
            "received": received.to_string(),
            "due": self.due.to_string(),
            "sources": answer.sources,
            "identifiers": self.identifiers.iter().map(|(t, h)| json!({"type": t, "keyed_hash": h})).collect::<Vec<_>>(),
            "counts": self.counts,
            "package": written.path.display().to_string(),
            "package_sha256": written.sha256,
        })
    }
}
