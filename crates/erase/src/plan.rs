//! The plan: exactly which objects go and which log blobs are rewritten
//! without which records, each with the SHA-256 it had when planned. A
//! second person reviews it; `--apply` runs it and nothing else.

use std::collections::{BTreeMap, BTreeSet};

use crashdsr_appcenter::AppClient;
use crashdsr_package::keyed_hash;
use crashdsr_search::decode::Limits;
use crashdsr_search::redact::{Spans, mask_object};
use crashdsr_search::{Matcher, Owner, SearchOptions, Subject};
use crashdsr_store::export::classify;
use crashdsr_store::{SourceId, Store};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::api::ApiPlan;
use crate::target::{TEMP_SUFFIX, Target};
use crate::{Error, Result};

/// `format` of a plan.
pub const PLAN_FORMAT: &str = "crashdsr-erasure-plan";
/// The plan format's version.
pub const PLAN_VERSION: u32 = 1;

/// What a plan does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// One person's data out (Art. 17).
    Erase,
    /// Everything older than a cut-off out (Art. 5(1)(e)).
    Purge,
}

/// A person, by keyed hashes only.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlanSubject {
    /// The label.
    pub label: String,
    /// `(type, keyed hash)` of each identifier.
    pub identifiers: Vec<(String, String)>,
}

impl PlanSubject {
    /// A person as a plan records them: identifier types and keyed hashes
    /// under the controller's key.
    pub fn of(subject: &Subject, key: &[u8]) -> Self {
        Self {
            label: subject.label.clone(),
            identifiers: subject
                .identifiers
                .iter()
                .map(|i| (i.kind.as_str().to_owned(), keyed_hash(key, &i.value)))
                .collect(),
        }
    }
}

/// A log blob to rewrite.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rewrite {
    /// Which source.
    pub source: SourceId,
    /// The blob.
    pub object: String,
    /// Its SHA-256 when planned.
    pub sha256: String,
    /// Its size when planned.
    pub size: u64,
    /// The records it holds.
    pub records: usize,
    /// The indexes of the records to drop.
    pub drop: Vec<u32>,
    /// Why, one line per dropped record.
    pub why: Vec<String>,
    /// The indexes of the records of someone else's crash to keep with
    /// the person's identifiers masked.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub redact: Vec<u32>,
    /// Why, one line per masked record.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub redact_why: Vec<String>,
}

/// An object of someone else's crash to keep, with the person's
/// identifiers masked in it (same length and shape; every other byte as
/// it was, a gzip, zlib or zip container rebuilt around it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Redact {
    /// Which source.
    pub source: SourceId,
    /// The object.
    pub object: String,
    /// Its SHA-256 when planned.
    pub sha256: String,
    /// Its size when planned.
    pub size: u64,
    /// How many spans are masked.
    pub spans: usize,
    /// Why.
    pub why: String,
}

/// An object that holds the person's data in someone else's crash, left
/// as it is because it cannot be masked in place and the operator chose
/// `--unredactable keep`: the re-scan still finds it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Kept {
    /// Which source.
    pub source: SourceId,
    /// The object.
    pub object: String,
    /// Why it could not be masked.
    pub why: String,
}

/// What to do with an object of someone else's crash that holds the
/// person's data but cannot be masked in place (inside a tar, zstd, xz,
/// bzip2 or base64 container, or in a container's own bytes).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Unredactable {
    /// Refuse to plan, naming the first such object (the default: the
    /// operator decides).
    #[default]
    Refuse,
    /// Delete it (a record: drop it).
    Delete,
    /// Leave it as it is, listed in the plan's `kept`.
    Keep,
}

/// An object to delete.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Delete {
    /// Which source.
    pub source: SourceId,
    /// The object.
    pub object: String,
    /// Its SHA-256 when planned.
    pub sha256: String,
    /// Its size when planned.
    pub size: u64,
    /// Why.
    pub why: String,
}

/// The plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Plan {
    /// [`PLAN_FORMAT`].
    pub format: String,
    /// [`PLAN_VERSION`].
    pub version: u32,
    /// The SHA-256 of the plan with this field empty, 20 hex digits.
    pub plan_id: String,
    /// Erase or purge.
    pub kind: Kind,
    /// When it was made (RFC 3339).
    pub created: String,
    /// The sources, as given (directories made absolute).
    pub sources: Vec<String>,
    /// Erase: the people.
    #[serde(default)]
    pub subjects: Vec<PlanSubject>,
    /// Erase: crashes linked by install id go too.
    #[serde(default)]
    pub include_linked: bool,
    /// Purge: everything before this minute goes (`yyyy-MM-ddTHH:mm`).
    #[serde(default)]
    pub cutoff: Option<String>,
    /// Log blobs to rewrite (done first).
    pub rewrites: Vec<Rewrite>,
    /// Objects of someone else's crash to mask the person's data in (done
    /// after the rewrites).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub redacts: Vec<Redact>,
    /// Objects of someone else's crash left as they are (`--unredactable
    /// keep`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub kept: Vec<Kept>,
    /// Objects to delete (done last).
    pub deletes: Vec<Delete>,
    /// Erase with `--api`: what goes through the API (done first, while
    /// the records that hold the install ids are still there).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api: Option<ApiPlan>,
}

impl Plan {
    /// Steps: the API's (crash deletions, install blocks), rewrites,
    /// redactions, deletes, in the order `--apply` runs them.
    pub fn steps(&self) -> usize {
        self.api_steps() + self.rewrites.len() + self.redacts.len() + self.deletes.len()
    }

    /// Steps through the API.
    pub fn api_steps(&self) -> usize {
        self.api
            .as_ref()
            .map_or(0, |a| a.crashes.len() + a.installs.len())
    }

    /// A new plan, sealed with its id.
    fn new(kind: Kind, sources: &[String], g: Gathered) -> Self {
        Self {
            format: PLAN_FORMAT.into(),
            version: PLAN_VERSION,
            plan_id: String::new(),
            kind,
            created: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            sources: absolute(sources),
            subjects: Vec::new(),
            include_linked: false,
            cutoff: None,
            rewrites: g.rewrites,
            redacts: g.redacts,
            kept: g.kept,
            deletes: g.deletes,
            api: None,
        }
    }

    fn seal(mut self) -> Self {
        self.plan_id.clear();
        let json = serde_json::to_vec(&self).expect("a plan serialises");
        self.plan_id = hex::encode(Sha256::digest(&json))[..20].to_owned();
        self
    }

    /// Reads a plan, checking its format, version and id.
    pub fn from_json(bytes: &[u8]) -> Result<Self> {
        let plan: Self =
            serde_json::from_slice(bytes).map_err(|e| Error::Plan(format!("not a plan: {e}")))?;
        if plan.format != PLAN_FORMAT || plan.version != PLAN_VERSION {
            return Err(Error::Plan(format!(
                "a plan of format {:?} version {}; this crashdsr reads {PLAN_FORMAT:?} version {PLAN_VERSION}",
                plan.format, plan.version
            )));
        }
        let id = plan.plan_id.clone();
        if plan.clone().seal().plan_id != id {
            return Err(Error::Plan(
                "the plan was changed after it was made (its plan_id does not match its content); make a new one".into(),
            ));
        }
        Ok(plan)
    }
}

fn sha(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// Gathers what to delete, which records to drop and, in someone else's
/// crash, what to mask; then reads each object once to record its
/// SHA-256 (and to try the masking).
#[derive(Default)]
struct Gather {
    deletes: BTreeMap<(usize, String), String>,
    drops: BTreeMap<(usize, String), BTreeMap<u32, String>>,
    redacts: BTreeMap<(usize, String), String>,
    masks: BTreeMap<(usize, String), BTreeMap<u32, String>>,
}

/// What a plan does to the sources.
#[derive(Default)]
struct Gathered {
    rewrites: Vec<Rewrite>,
    redacts: Vec<Redact>,
    kept: Vec<Kept>,
    deletes: Vec<Delete>,
}

/// How masking is planned: who is masked, and what to do where it cannot
/// be done in place.
struct Masking<'a> {
    find: &'a dyn Spans,
    unredactable: Unredactable,
}

/// An object that cannot be masked: what the operator's choice does.
fn cannot(
    how: &Masking<'_>,
    source: usize,
    object: &str,
    why: &str,
    kept: &mut Vec<Kept>,
) -> Result<Option<String>> {
    match how.unredactable {
        Unredactable::Refuse => Err(Error::Plan(format!(
            "source {}: {object} holds the person's data in someone else's crash, and {why}; \
             plan again with --unredactable delete (delete it, or drop the record) or --unredactable keep \
             (leave it as it is: the re-scan will still find it)",
            SourceId::new(source)
        ))),
        Unredactable::Delete => Ok(Some(format!(
            "someone else's crash, but {why}: deleted on the operator's choice (--unredactable delete)"
        ))),
        Unredactable::Keep => {
            kept.push(Kept {
                source: SourceId::new(source),
                object: object.to_owned(),
                why: format!("{why}; left as it is on the operator's choice (--unredactable keep)"),
            });
            Ok(None)
        }
    }
}

impl Gather {
    fn delete(&mut self, source: usize, object: &str, why: String) {
        self.deletes
            .entry((source, object.to_owned()))
            .or_insert(why);
    }

    fn drop(&mut self, source: usize, object: &str, index: u32, why: String) {
        self.drops
            .entry((source, object.to_owned()))
            .or_default()
            .entry(index)
            .or_insert(why);
    }

    fn redact(&mut self, source: usize, object: &str, why: String) {
        self.redacts
            .entry((source, object.to_owned()))
            .or_insert(why);
    }

    fn mask(&mut self, source: usize, object: &str, index: u32, why: String) {
        self.masks
            .entry((source, object.to_owned()))
            .or_default()
            .entry(index)
            .or_insert(why);
    }

    async fn finish(self, targets: &[Target], how: &Masking<'_>) -> Result<Gathered> {
        let mut out = Gathered::default();
        let mut whole: BTreeMap<(usize, String), String> = self.deletes;
        // Whole objects of someone else's crash: masked, unless one of the
        // person's own crashes deletes them anyway.
        for ((source, object), why) in self.redacts {
            if whole.contains_key(&(source, object.clone())) {
                continue;
            }
            let Some(read) = targets[source].read(&object).await? else {
                continue;
            };
            match mask_object(&read.bytes, how.find, &Limits::default()) {
                Ok(None) => {}
                Ok(Some(m)) => out.redacts.push(Redact {
                    source: SourceId::new(source),
                    object,
                    sha256: sha(&read.bytes),
                    size: read.bytes.len() as u64,
                    spans: m.spans.len(),
                    why,
                }),
                Err(e) => {
                    let e = e.to_string();
                    if let Some(why) = cannot(how, source, &object, &e, &mut out.kept)? {
                        whole.insert((source, object), why);
                    }
                }
            }
        }
        let mut blobs: BTreeSet<(usize, String)> = self.drops.keys().cloned().collect();
        blobs.extend(self.masks.keys().cloned());
        let (mut drops, mut masks) = (self.drops, self.masks);
        for (source, object) in blobs {
            let key = (source, object.clone());
            if whole.contains_key(&key) {
                continue;
            }
            let mut drop = drops.remove(&key).unwrap_or_default();
            let mut mask = masks.remove(&key).unwrap_or_default();
            mask.retain(|i, _| !drop.contains_key(i));
            let Some(read) = targets[source].read(&object).await? else {
                continue;
            };
            let records = crate::rewrite::records_in(&read.bytes);
            // Masking first tried: a record that cannot be masked is
            // dropped or left, as the operator chose.
            let masked = if mask.is_empty() {
                Vec::new()
            } else {
                let d: Vec<u32> = drop.keys().copied().collect();
                let m: Vec<u32> = mask.keys().copied().collect();
                match crate::rewrite::rewrite(&read.bytes, &d, &m, how.find) {
                    Ok(r) => r.masked,
                    Err(e) => {
                        let records: Vec<String> = m.iter().map(u32::to_string).collect();
                        let e = format!("record {}: it {e}", records.join(", "));
                        if let Some(why) = cannot(how, source, &object, &e, &mut out.kept)? {
                            drop.extend(m.iter().map(|i| (*i, why.clone())));
                        }
                        Vec::new()
                    }
                }
            };
            mask.retain(|i, _| masked.contains(i));
            if drop.len() >= records {
                whole.insert(
                    (source, object.clone()),
                    format!("every record of this blob goes ({})", join(drop.values())),
                );
                continue;
            }
            if drop.is_empty() && mask.is_empty() {
                continue;
            }
            out.rewrites.push(Rewrite {
                source: SourceId::new(source),
                object,
                sha256: sha(&read.bytes),
                size: read.bytes.len() as u64,
                records,
                drop: drop.keys().copied().collect(),
                why: drop.into_values().collect(),
                redact: mask.keys().copied().collect(),
                redact_why: mask.into_values().collect(),
            });
        }
        for ((source, object), why) in whole {
            let Some(read) = targets[source].read(&object).await? else {
                continue;
            };
            out.deletes.push(Delete {
                source: SourceId::new(source),
                object,
                sha256: sha(&read.bytes),
                size: read.bytes.len() as u64,
                why,
            });
        }
        Ok(out)
    }
}

fn join<'a>(whys: impl Iterator<Item = &'a String>) -> String {
    let set: BTreeSet<&String> = whys.collect();
    set.into_iter().cloned().collect::<Vec<_>>().join("; ")
}

/// The user keys a crash log or an error log record carries.
const USER_KEYS: [&str; 3] = ["userId", "UserId", "user_id"];

/// The non-empty typed user fields at the top of a JSON object.
fn user_fields(json: &[u8]) -> Vec<String> {
    let text = crashdsr_search::export::blob_text(json);
    let Ok(serde_json::Value::Object(v)) = serde_json::from_slice(&text) else {
        return Vec::new();
    };
    USER_KEYS
        .iter()
        .filter_map(|k| v.get(*k).and_then(|x| x.as_str()))
        .filter(|u| !u.trim().is_empty())
        .map(str::to_owned)
        .collect()
}

/// Every typed user field of a crash: its crash blobs' `userId`, its
/// error logs' `UserId`, its archived crash log's `userId`.
async fn crash_users(
    targets: &[Target],
    crash: Option<&crashdsr_search::index::CrashEntry>,
    archived: Option<&Vec<(usize, String)>>,
) -> Result<Vec<String>> {
    let mut out = Vec::new();
    if let Some(c) = crash {
        for (s, blob) in &c.blobs {
            if let Some(b) = targets[*s].read(blob).await? {
                out.extend(user_fields(&b.bytes));
            }
        }
        for (s, object, i) in &c.records {
            if let Some(b) = targets[*s].read(object).await? {
                let text = crashdsr_search::export::blob_text(&b.bytes);
                let logs = crashdsr_search::export::split_device_logs(text);
                if let Some((_, span)) = logs.elements.iter().find(|(n, _)| *n == *i as usize) {
                    out.extend(user_fields(&logs.text[span.clone()]));
                }
            }
        }
    }
    for (s, object) in archived.into_iter().flatten() {
        if object.ends_with("/download.json")
            && let Some(b) = targets[*s].read(object).await?
        {
            out.extend(user_fields(&b.bytes));
        }
    }
    Ok(out)
}

/// Whether a user field's value is the person's: one of their identifiers
/// is found in it as it stands, or as the value of a typed field (a short
/// user id is only ever matched there).
fn is_persons(matcher: &Matcher, user: &str) -> bool {
    let typed = serde_json::json!({ "userId": user }).to_string();
    !matcher.find(user.as_bytes()).is_empty() || !matcher.find(typed.as_bytes()).is_empty()
}

/// The source specs as the plan keeps them: directories absolute.
pub(crate) fn absolute(sources: &[String]) -> Vec<String> {
    sources
        .iter()
        .map(|s| {
            if s.contains("://") {
                s.clone()
            } else {
                std::fs::canonicalize(s).map_or_else(|_| s.clone(), |p| p.display().to_string())
            }
        })
        .collect()
}

/// Plans the erasure of `subjects` from `sources`; with `api`, also their
/// crashes' deletion through the API and the blocking of their installs.
/// A crash found by the person's data whose typed user field (`userId`,
/// `UserId`, `user_id`) names someone else is not deleted: the person's
/// identifiers are masked in its objects and records, and `unredactable`
/// says what to do where that cannot be done in place.
pub async fn plan_erase(
    sources: &[String],
    subjects: Vec<Subject>,
    include_linked: bool,
    key: &[u8],
    search: &SearchOptions,
    api: Option<&AppClient>,
    unredactable: Unredactable,
) -> Result<Plan> {
    let targets = sources
        .iter()
        .map(|s| Target::open(s))
        .collect::<Result<Vec<_>>>()?;
    let stores: Vec<_> = targets.iter().map(|t| t.store().clone()).collect();
    let plan_subjects: Vec<PlanSubject> =
        subjects.iter().map(|s| PlanSubject::of(s, key)).collect();
    let mut opts = search.clone();
    opts.expand_install_ids = include_linked;
    let matcher = Matcher::new(subjects.clone());
    let report = crashdsr_search::search(&stores, subjects, &opts).await?;
    if let Some((object, why)) = report.failed.first() {
        return Err(Error::Plan(format!(
            "{} object(s) could not be read, the first {object}: {why}; a plan needs every object read",
            report.failed.len()
        )));
    }
    let index = &report.index;
    let attachments = index.attachments_by_crash();
    // Each archived crash's objects, by error id.
    let mut archived: BTreeMap<String, Vec<(usize, String)>> = BTreeMap::new();
    for (s, _) in report
        .sources
        .iter()
        .enumerate()
        .filter(|(_, s)| s.archive_objects > 0)
    {
        for object in targets[s].list("apps/").await? {
            if let Some(error_id) = archive_folder(&object).and_then(|f| f.split('/').nth(4)) {
                archived
                    .entry(error_id.to_owned())
                    .or_default()
                    .push((s, object.clone()));
            }
        }
    }
    let mut g = Gather::default();
    for e in report
        .evidence
        .iter()
        .filter(|e| include_linked || !e.linked)
    {
        let how = if e.linked {
            "linked by install id"
        } else {
            "holds the person's data"
        };
        match &e.owner {
            Owner::Crash { error_id, .. } => {
                // Someone else's crash (its user field names another
                // user): kept, with the person's data masked in it.
                let theirs = !e.linked
                    && crash_users(
                        &targets,
                        index.crash(error_id),
                        archived.get(error_id.as_str()),
                    )
                    .await?
                    .iter()
                    .any(|u| !is_persons(&matcher, u));
                let why = |what: &str| {
                    if theirs {
                        format!(
                            "{what} of crash {error_id}, whose user field names another user: the person's data in it is masked"
                        )
                    } else {
                        format!("{what} of crash {error_id} ({how})")
                    }
                };
                let object = |g: &mut Gather, s: usize, o: &str, why: String| {
                    if theirs {
                        g.redact(s, o, why);
                    } else {
                        g.delete(s, o, why);
                    }
                };
                let record = |g: &mut Gather, s: usize, o: &str, i: u32, why: String| {
                    if theirs {
                        g.mask(s, o, i, why);
                    } else {
                        g.drop(s, o, i, why);
                    }
                };
                if let Some(c) = index.crash(error_id) {
                    for (s, blob) in &c.blobs {
                        object(&mut g, *s, blob, why("the crash blob"));
                    }
                    for (s, o, i) in &c.records {
                        record(&mut g, *s, o, *i, why("the error log"));
                    }
                }
                for aid in attachments.get(error_id).into_iter().flatten() {
                    for (s, blob) in index.attachment_blobs(aid) {
                        object(&mut g, s, blob, why(&format!("attachment {aid}")));
                    }
                    if let Ok((_, entry)) = index.crash_of_attachment(aid) {
                        if let Some((s, blob)) = &entry.blob {
                            object(&mut g, *s, blob, why(&format!("attachment {aid}")));
                        }
                        if let Some((s, o, i)) = &entry.record {
                            record(
                                &mut g,
                                *s,
                                o,
                                *i,
                                why(&format!("the attachment log of {aid}")),
                            );
                        }
                    }
                }
                // By error id: the index may know the crash's app by the
                // export's GUID, the archive by its name.
                for (s, o) in archived.get(error_id.as_str()).into_iter().flatten() {
                    object(&mut g, *s, o, why("the archived crash"));
                }
            }
            Owner::Activity {
                message_type,
                object,
                index,
                source,
                ..
            } => g.drop(
                source.index(),
                object,
                *index as u32,
                format!("a {message_type} record ({how})"),
            ),
            Owner::Unattributed {
                object,
                index,
                reason,
                source,
            } => match index {
                Some(i) => g.drop(
                    source.index(),
                    object,
                    *i as u32,
                    format!("a record that holds the person's data ({reason})"),
                ),
                None => g.delete(
                    source.index(),
                    object,
                    format!("holds the person's data, tied to no crash ({reason})"),
                ),
            },
        }
    }
    // Temporary objects of an earlier apply are never planned.
    g.deletes.retain(|(_, o), _| !o.ends_with(TEMP_SUFFIX));
    let api = match api {
        Some(client) => {
            Some(crate::api::plan(client, &report, include_linked, &targets, key).await?)
        }
        None => None,
    };
    let masking = Masking {
        find: &matcher,
        unredactable,
    };
    let mut plan = Plan::new(Kind::Erase, sources, g.finish(&targets, &masking).await?);
    plan.subjects = plan_subjects;
    plan.include_linked = include_linked;
    plan.api = api;
    Ok(plan.seal())
}

/// The minute an export object was written (`yyyy-MM-ddTHH:mm`).
pub fn minute_of(path: &str) -> Option<String> {
    classify(path)?.time()
}

/// `apps/{owner}/{app}/errors/{errorId}/` of an archive object.
pub(crate) fn archive_folder(path: &str) -> Option<&str> {
    let parts: Vec<&str> = path.splitn(6, '/').collect();
    match parts[..] {
        ["apps", _, _, "errors", _, _] => {
            let len = parts[..5].iter().map(|p| p.len() + 1).sum::<usize>();
            Some(&path[..len])
        }
        _ => None,
    }
}

/// After an erasure: a search of every source for the people of `plan`
/// (no install expansion); `left` counts the owners still holding a hit.
pub async fn rescan_erase(
    plan: &Plan,
    subjects: Vec<Subject>,
    search: &SearchOptions,
) -> Result<crate::Rescan> {
    let stores = plan
        .sources
        .iter()
        .map(|s| Store::open(s).map_err(|e| Error::Plan(e.to_string())))
        .collect::<Result<Vec<_>>>()?;
    let mut opts = search.clone();
    opts.expand_install_ids = false;
    let report = crashdsr_search::search(&stores, subjects, &opts).await?;
    if let Some((object, why)) = report.failed.first() {
        return Err(Error::Plan(format!(
            "the re-scan could not read {object}: {why}"
        )));
    }
    Ok(crate::Rescan {
        objects: report.objects,
        left: report.evidence.len(),
        what: "crashes, records or objects still holding the person's identifiers".into(),
    })
}

/// `"key":"value"` of a JSON object.
pub(crate) fn string_field(bytes: &[u8], key: &str) -> Option<String> {
    let text = crashdsr_search::export::blob_text(bytes);
    let v: serde_json::Value = serde_json::from_slice(&text).ok()?;
    v.get(key).and_then(|x| x.as_str()).map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn minutes_and_archive_folders_are_read_off_paths() {
        assert_eq!(
            minute_of("app-id/2026/09/01/13/05/logs.v1.data").as_deref(),
            Some("2026-09-01T13:05")
        );
        assert_eq!(minute_of("notes/readme.txt"), None);
        assert_eq!(
            archive_folder("apps/o/a/errors/e1/attachments/x"),
            Some("apps/o/a/errors/e1/")
        );
        assert_eq!(archive_folder("apps/o/a/groups/g/stacktrace.json"), None);
    }
}
