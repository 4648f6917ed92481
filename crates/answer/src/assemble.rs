//! One subject's package: every crash once (its crash blob, attachments,
//! device-log records and archived artefacts, from whichever sources hold
//! them), the activity records per app, and the objects that hold a hit
//! but belong to no crash. Each file's origin goes into the manifest.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use crashdsr_package::PackageBuilder;
use crashdsr_search::export::{blob_text, split_device_logs};
use crashdsr_search::{Evidence, Hit, Owner, SearchReport};
use serde_json::{Value, json};

use crate::json::{at_path, one_line, str_at, text};
use crate::report::{ActivityRow, AttachmentView, CrashView, DataField, UnattributedRow, View};
use crate::store::Objects;
use crate::{Counts, Error, Result, SourceInfo};

/// Attachments shown inline in the report up to this size.
const INLINE_MAX: usize = 64 << 10;

/// What goes into one subject's package besides the report and manifest.
pub(crate) struct Found {
    pub(crate) builder: PackageBuilder,
    pub(crate) view: View,
    pub(crate) counts: Counts,
    pub(crate) crashes: Vec<Value>,
    pub(crate) activity: Vec<Value>,
    pub(crate) unattributed: Vec<Value>,
    pub(crate) missing: Vec<Value>,
    /// Evidence kept (the app filter), by owner.
    kept: BTreeSet<Owner>,
}

impl Found {
    /// Whether an evidence line is part of this package.
    pub(crate) fn kept(&self, e: &Evidence) -> bool {
        self.kept.contains(&e.owner)
    }
}

/// A name made safe as one file name in a package.
pub(crate) fn safe_name(name: &str) -> String {
    let s: String = name
        .rsplit(['/', '\\'])
        .next()
        .unwrap_or_default()
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let s = s.trim_start_matches('.');
    let s: String = s.chars().take(100).collect();
    if s.is_empty() { "file".into() } else { s }
}

/// Hands out unique names in a folder.
#[derive(Default)]
struct Names(BTreeSet<String>);

impl Names {
    fn take(&mut self, dir: &str, name: &str, tag: &str) -> String {
        let mut candidate = format!("{dir}/{name}");
        let mut n = 1;
        while self.0.contains(&candidate) {
            candidate = format!("{dir}/{}-{n}-{name}", safe_name(tag));
            n += 1;
        }
        self.0.insert(candidate.clone());
        candidate
    }
}

/// A crash being gathered from the evidence.
#[derive(Default)]
struct Acc {
    apps: BTreeSet<String>,
    linked: bool,
    direct: bool,
    install_id: Option<String>,
    hits: Vec<Hit>,
}

/// Everything the sources hold of one subject.
pub(crate) struct Context<'a> {
    pub(crate) report: &'a SearchReport,
    pub(crate) names: &'a BTreeMap<String, String>,
    pub(crate) app: Option<&'a str>,
    pub(crate) sources: &'a [SourceInfo],
    pub(crate) attachments: &'a BTreeMap<String, Vec<String>>,
}

impl Context<'_> {
    fn name_of(&self, app: &str) -> Option<&str> {
        self.names.get(app).map(String::as_str)
    }

    fn wanted(&self, app: Option<&str>) -> bool {
        match (self.app, app) {
            (None, _) | (_, None) => true,
            (Some(want), Some(app)) => {
                app.eq_ignore_ascii_case(want)
                    || self
                        .name_of(app)
                        .is_some_and(|n| n.eq_ignore_ascii_case(want))
            }
        }
    }
}

fn owner_app(owner: &Owner) -> Option<&str> {
    match owner {
        Owner::Crash { app, .. } | Owner::Activity { app, .. } => app.as_deref(),
        Owner::Unattributed { .. } => None,
    }
}

pub(crate) async fn assemble(
    cx: &Context<'_>,
    label: &str,
    objects: &mut Objects<'_>,
) -> Result<Found> {
    let mut found = Found {
        builder: PackageBuilder::new(),
        view: View::default(),
        counts: Counts::default(),
        crashes: Vec::new(),
        activity: Vec::new(),
        unattributed: Vec::new(),
        missing: Vec::new(),
        kept: BTreeSet::new(),
    };
    let mut crashes: BTreeMap<String, Acc> = BTreeMap::new();
    let mut activity: Vec<&Evidence> = Vec::new();
    let mut unattributed: Vec<&Evidence> = Vec::new();
    for e in cx.report.evidence.iter().filter(|e| e.subject == label) {
        if !cx.wanted(owner_app(&e.owner)) {
            continue;
        }
        found.kept.insert(e.owner.clone());
        match &e.owner {
            Owner::Crash { app, error_id } => {
                let acc = crashes.entry(error_id.clone()).or_default();
                acc.apps.extend(app.clone());
                if e.linked {
                    acc.linked = true;
                } else {
                    acc.direct = true;
                }
                if acc.install_id.is_none() {
                    acc.install_id.clone_from(&e.install_id);
                }
                acc.hits.extend(e.hits.iter().cloned());
            }
            Owner::Activity { .. } => activity.push(e),
            Owner::Unattributed { .. } => unattributed.push(e),
        }
    }
    for (eid, acc) in &crashes {
        crash(cx, eid, acc, objects, &mut found).await?;
    }
    activity_files(cx, &activity, &mut found)?;
    unattributed_files(&unattributed, objects, &mut found).await?;
    found.counts.crashes = crashes.len();
    found.counts.direct = crashes.values().filter(|a| a.direct).count();
    found.counts.linked = found.counts.crashes - found.counts.direct;
    found.counts.missing = found.missing.len();
    found.view.counts = found.counts.clone();
    Ok(found)
}

/// A file of the package and where it came from.
fn origin(file: &str, source: usize, object: &str) -> Value {
    json!({"file": file, "source": source + 1, "object": object})
}

async fn crash(
    cx: &Context<'_>,
    eid: &str,
    acc: &Acc,
    objects: &mut Objects<'_>,
    found: &mut Found,
) -> Result<()> {
    let index = &cx.report.index;
    let dir = format!("crashes/{}", safe_name(eid));
    let mut names = Names::default();
    let mut files: Vec<Value> = Vec::new();
    let mut copies: Vec<Value> = Vec::new();
    let mut crash_blob: Option<(usize, String, PathBuf)> = None;
    let missing = |found: &mut Found, source: usize, object: &str, what: &str| {
        found
            .missing
            .push(json!({"error_id": eid, "what": what, "source": source + 1, "object": object}));
    };

    // The export's crash blobs.
    let mut blobs: Vec<(usize, String)> = index
        .crash(eid)
        .map(|c| c.blobs.iter().map(|(s, p)| (*s, p.to_string())).collect())
        .unwrap_or_default();
    blobs.sort();
    for (s, p) in blobs {
        match objects.local(s, &p).await? {
            None => missing(found, s, &p, "crash blob"),
            Some(local) if crash_blob.is_none() => crash_blob = Some((s, p, local)),
            Some(_) => copies.push(json!({"source": s + 1, "object": p})),
        }
    }

    // The archives' crash folders: under the app's name.
    let mut archive_apps: BTreeSet<&str> = BTreeSet::new();
    for app in &acc.apps {
        if app.contains('/') {
            archive_apps.insert(app);
        } else if let Some(name) = cx.name_of(app) {
            archive_apps.insert(name);
        }
    }
    // (attachment id → (source, object)) and its list's metadata.
    let mut archived_attachments: BTreeMap<String, (usize, String)> = BTreeMap::new();
    let mut archive_meta: BTreeMap<String, (Option<String>, Option<String>)> = BTreeMap::new();
    for info in cx.sources.iter().filter(|s| s.kind.contains("archive")) {
        let s = info.number - 1;
        for app in &archive_apps {
            let prefix = format!("apps/{app}/errors/{eid}/");
            for object in objects.list(s, &prefix).await? {
                let rel = object.strip_prefix(&prefix).unwrap_or(&object).to_owned();
                match rel.as_str() {
                    "manifest.json" => {}
                    "download.json" => match objects.local(s, &object).await? {
                        None => missing(found, s, &object, "crash log"),
                        Some(local) if crash_blob.is_none() => {
                            crash_blob = Some((s, object.clone(), local));
                        }
                        Some(_) => copies.push(json!({"source": s + 1, "object": object})),
                    },
                    r if r.starts_with("attachments/") => {
                        let aid = r.trim_start_matches("attachments/").to_owned();
                        archived_attachments
                            .entry(aid)
                            .or_insert((s, object.clone()));
                    }
                    _ => {
                        if rel == "attachments.json"
                            && let Some(bytes) = objects.read(s, &object).await?
                            && let Ok(Value::Array(list)) = serde_json::from_slice(&bytes)
                        {
                            for a in list {
                                let get =
                                    |k: &str| a.get(k).and_then(Value::as_str).map(str::to_owned);
                                if let Some(aid) = get("attachmentId") {
                                    archive_meta.insert(aid, (get("fileName"), get("contentType")));
                                }
                            }
                        }
                        let name = format!("{dir}/archive/{}", safe_name(&rel));
                        if names.0.contains(&name) {
                            copies.push(json!({"source": s + 1, "object": object}));
                            continue;
                        }
                        let Some(local) = objects.local(s, &object).await? else {
                            missing(found, s, &object, "archived artefact");
                            continue;
                        };
                        names.0.insert(name.clone());
                        found.builder.add_file(&name, &local)?;
                        files.push(origin(&name, s, &object));
                    }
                }
            }
        }
    }

    let mut view = CrashView {
        error_id: eid.to_owned(),
        app: acc.apps.iter().next().cloned(),
        app_name: acc
            .apps
            .iter()
            .find_map(|a| cx.name_of(a))
            .map(str::to_owned),
        linked: !acc.direct,
        ..Default::default()
    };
    let mut doc: Option<Value> = None;
    if let Some((s, object, local)) = &crash_blob {
        let name = names.take(&dir, "crash.json", "crash");
        found.builder.add_file(&name, local)?;
        files.insert(0, origin(&name, *s, object));
        let bytes = std::fs::read(local).map_err(|e| Error::io(format!("reading {object}"), e))?;
        doc = serde_json::from_slice::<Value>(&blob_text(&bytes)).ok();
    }

    // Attachments: the export's (named by their logs), then the archive's.
    let mut attachments: Vec<Value> = Vec::new();
    let mut seen: BTreeSet<String> = BTreeSet::new();
    let mut records: BTreeSet<(usize, String, u32)> = index
        .crash(eid)
        .map(|c| {
            c.records
                .iter()
                .map(|(s, o, i)| (*s, o.to_string(), *i))
                .collect()
        })
        .unwrap_or_default();
    let export_ids = cx.attachments.get(eid).cloned().unwrap_or_default();
    for aid in export_ids.iter().chain(archived_attachments.keys()) {
        if !seen.insert(aid.clone()) {
            continue;
        }
        let entry = index.crash_of_attachment(aid).ok().map(|(_, e)| e);
        if let Some((s, o, i)) = entry.and_then(|e| e.record.as_ref()) {
            records.insert((*s, o.to_string(), *i));
        }
        let (mut file_name, mut content_type) = (
            entry
                .and_then(|e| e.file_name.as_deref())
                .map(str::to_owned),
            entry
                .and_then(|e| e.content_type.as_deref())
                .map(str::to_owned),
        );
        if let Some((f, c)) = archive_meta.get(aid) {
            file_name = file_name.or_else(|| f.clone());
            content_type = content_type.or_else(|| c.clone());
        }
        let mut candidates: Vec<(usize, String)> = index
            .attachment_blobs(aid)
            .into_iter()
            .map(|(s, p)| (s, p.to_owned()))
            .collect();
        if let Some(a) = archived_attachments.get(aid) {
            candidates.push(a.clone());
        }
        let mut stored = None;
        for (s, object) in &candidates {
            match objects.local(*s, object).await? {
                Some(local) => {
                    stored = Some((*s, object.clone(), local));
                    break;
                }
                None => missing(found, *s, object, "attachment"),
            }
        }
        let Some((s, object, local)) = stored else {
            if candidates.is_empty() {
                found.missing.push(
                    json!({"error_id": eid, "what": "attachment", "attachment_id": aid,
                    "why": "its attachment log names it, but no source holds its blob"}),
                );
            }
            continue;
        };
        let shown = file_name
            .clone()
            .unwrap_or_else(|| format!("attachment-{aid}"));
        let name = names.take(&format!("{dir}/attachments"), &safe_name(&shown), aid);
        found.builder.add_file(&name, &local)?;
        let size = std::fs::metadata(&local)
            .map_err(|e| Error::io(format!("reading {object}"), e))?
            .len();
        view.attachments.push(AttachmentView {
            id: aid.clone(),
            file: name.clone(),
            name: shown,
            content_type: content_type.clone(),
            size,
            text: inline_text(&local, size, content_type.as_deref())
                .map_err(|e| Error::io(format!("reading {object}"), e))?,
        });
        attachments.push(json!({
            "file": name, "attachment_id": aid, "file_name": file_name,
            "content_type": content_type, "size": size, "source": s + 1, "object": object,
        }));
    }
    found.counts.attachments += attachments.len();

    // The crash's device-log records (its error and attachment logs).
    let mut lines: Vec<u8> = Vec::new();
    let mut record_origins = Vec::new();
    let mut first_record: Option<Value> = None;
    let mut by_object: BTreeMap<(usize, String), Vec<u32>> = BTreeMap::new();
    for (s, o, i) in &records {
        by_object.entry((*s, o.clone())).or_default().push(*i);
    }
    for ((s, object), indexes) in by_object {
        let Some(bytes) = objects.read(s, &object).await? else {
            missing(found, s, &object, "device-log blob");
            continue;
        };
        let logs = split_device_logs(blob_text(&bytes));
        for i in indexes {
            let Some((_, span)) = logs.elements.iter().find(|(n, _)| *n == i as usize) else {
                return Err(Error::Unreadable {
                    number: s + 1,
                    object,
                    message: format!(
                        "record {i} is no longer there: the blob changed since the search"
                    ),
                });
            };
            let record = one_line(&logs.text[span.clone()]);
            if first_record.is_none() {
                first_record = serde_json::from_slice(&record).ok();
            }
            lines.extend_from_slice(&record);
            lines.push(b'\n');
            record_origins.push(json!({"source": s + 1, "object": object, "index": i}));
        }
    }
    let record_count = record_origins.len();
    if record_count > 0 {
        let name = names.take(&dir, "records.jsonl", "records");
        found.builder.add_bytes(&name, lines)?;
        files.push(json!({"file": name, "records": record_origins}));
    }
    found.counts.crash_records += record_count;

    describe_crash(
        &mut view,
        doc.as_ref(),
        first_record.as_ref(),
        &acc.hits,
        &names,
    );
    found.view.crashes.push(view);
    found.crashes.push(json!({
        "error_id": eid,
        "app": acc.apps.iter().next(),
        "name": acc.apps.iter().find_map(|a| cx.name_of(a)),
        "linked": !acc.direct,
        "install_id": acc.install_id,
        "files": files,
        "attachments": attachments,
        "records": record_count,
        "copies": copies,
    }));
    Ok(())
}

/// An attachment's text for the report, when it is text and small (a
/// large or binary one is not read here at all).
fn inline_text(
    path: &std::path::Path,
    size: u64,
    content_type: Option<&str>,
) -> std::io::Result<Option<String>> {
    let texty = content_type.is_none_or(|c| {
        let c = c.to_ascii_lowercase();
        c.starts_with("text/") || c.contains("json") || c.contains("xml")
    });
    if !texty || size > INLINE_MAX as u64 {
        return Ok(None);
    }
    let bytes = std::fs::read(path)?;
    if bytes.contains(&0) {
        return Ok(None);
    }
    Ok(
        std::str::from_utf8(bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(&bytes))
            .ok()
            .map(str::to_owned),
    )
}

/// The report's view of a crash: from its crash blob, or from its error
/// log record when the blob is gone.
fn describe_crash(
    view: &mut CrashView,
    doc: Option<&Value>,
    record: Option<&Value>,
    hits: &[Hit],
    names: &Names,
) {
    if let Some(d) = doc {
        view.when = str_at(d, "/timestamp");
        view.device = [
            str_at(d, "/device/oemName"),
            str_at(d, "/device/model"),
            str_at(d, "/device/osName"),
            str_at(d, "/device/osVersion"),
        ]
        .iter()
        .filter(|s| !s.is_empty())
        .cloned()
        .collect::<Vec<_>>()
        .join(" ");
        let (v, b) = (
            str_at(d, "/device/appVersion"),
            str_at(d, "/device/appBuild"),
        );
        view.app_version = if b.is_empty() {
            v
        } else {
            format!("{v} ({b})")
        };
        view.error_type = str_at(d, "/exception/type");
        view.message = str_at(d, "/exception/message");
        let frames = d
            .pointer("/exception/frames")
            .or_else(|| d.pointer("/threads/0/frames"))
            .and_then(Value::as_array);
        if let Some(frames) = frames {
            for f in frames {
                let method = [str_at(f, "/className"), str_at(f, "/methodName")]
                    .iter()
                    .filter(|s| !s.is_empty())
                    .cloned()
                    .collect::<Vec<_>>()
                    .join(".");
                let place = match (str_at(f, "/fileName"), str_at(f, "/lineNumber")) {
                    (f, _) if f.is_empty() => String::new(),
                    (f, l) if l.is_empty() => format!(" ({f})"),
                    (f, l) => format!(" ({f}:{l})"),
                };
                let code = str_at(f, "/code");
                view.stack.push(if method.is_empty() {
                    code
                } else {
                    format!("at {method}{place}")
                });
            }
        }
        if view.stack.is_empty() {
            let st = str_at(d, "/exception/stackTrace");
            view.stack = st.lines().map(str::to_owned).collect();
        }
    } else if let Some(r) = record {
        view.when = str_at(r, "/Timestamp");
        view.device = [
            str_at(r, "/OemName"),
            str_at(r, "/Model"),
            str_at(r, "/OsName"),
            str_at(r, "/OsVersion"),
        ]
        .iter()
        .filter(|s| !s.is_empty())
        .cloned()
        .collect::<Vec<_>>()
        .join(" ");
        view.app_version = str_at(r, "/AppVersion");
    }
    let crash_file = names.0.iter().find(|n| n.ends_with("/crash.json")).cloned();
    for h in hits {
        let is_blob = h.artefact.starts_with("crashes/")
            || h.artefact.starts_with("errors/")
            || h.artefact == "download.json";
        let value = match (doc, &h.path) {
            (Some(d), Some(p)) if is_blob => at_path(d, p).map(text),
            _ => None,
        };
        let place = if is_blob {
            let file = crash_file.as_deref().unwrap_or("the crash report");
            match &h.path {
                Some(p) => format!("{file}, field {p}"),
                None => file.to_owned(),
            }
        } else {
            let mut w = shown_artefact(&h.artefact, &view.attachments);
            if let Some(p) = &h.path {
                w.push_str(&format!(", field {p}"));
            }
            w
        };
        let field = DataField {
            kind: h.identifier.as_str().to_owned(),
            place,
            value,
        };
        if !view.data.contains(&field) {
            view.data.push(field);
        }
    }
}

/// A hit's artefact as the person sees it in the package: an attachment
/// by its name and file, a record as the crash's device-log record.
fn shown_artefact(artefact: &str, attachments: &[AttachmentView]) -> String {
    if let Some(rest) = artefact.strip_prefix("attachments/") {
        let (aid, view) = rest.split_once(' ').unwrap_or((rest, ""));
        if let Some(a) = attachments.iter().find(|a| a.id == aid) {
            let inside = view.trim_start_matches('(').trim_end_matches(')');
            return if inside.is_empty() {
                format!("the attachment {} ({})", a.name, a.file)
            } else {
                format!(
                    "the attachment {} ({}), inside it: {inside}",
                    a.name, a.file
                )
            };
        }
    }
    if let Some((blob, _)) = artefact.rsplit_once('[')
        && blob.ends_with(".v1.data")
    {
        return "the crash's device-log record (records.jsonl)".into();
    }
    artefact.to_owned()
}

fn activity_files(cx: &Context<'_>, activity: &[&Evidence], found: &mut Found) -> Result<()> {
    let mut by_app: BTreeMap<String, Vec<(usize, &str, usize, &Evidence)>> = BTreeMap::new();
    for e in activity {
        if let Owner::Activity {
            app,
            object,
            index,
            source,
            ..
        } = &e.owner
        {
            let app = app.clone().unwrap_or_else(|| "unknown-app".into());
            by_app
                .entry(app)
                .or_default()
                .push((source.index(), object, *index, e));
        }
    }
    for (app, mut records) in by_app {
        records.sort_by(|a, b| (a.0, a.1, a.2).cmp(&(b.0, b.1, b.2)));
        let name = format!("activity/{}.jsonl", safe_name(&app));
        let mut lines = Vec::new();
        let mut from = Vec::new();
        for (source, object, index, e) in &records {
            let Some(raw) = &e.record else {
                return Err(Error::Unreadable {
                    number: source + 1,
                    object: (*object).to_owned(),
                    message: format!("record {index} could not be read back"),
                });
            };
            let line = one_line(raw.get().as_bytes());
            let parsed: Value = serde_json::from_slice(&line).unwrap_or(Value::Null);
            let mut row = activity_row(&parsed, &app, cx.name_of(&app));
            row.linked = e.linked;
            found.view.activity.push(row);
            lines.extend_from_slice(&line);
            lines.push(b'\n');
            from.push(
                json!({"source": source + 1, "object": object, "index": index, "linked": e.linked}),
            );
        }
        found.counts.activity_records += records.len();
        found.builder.add_bytes(&name, lines)?;
        found.activity.push(json!({
            "file": name, "app": app, "name": cx.name_of(&app), "records": records.len(), "from": from,
        }));
    }
    found.view.activity.sort_by(|a, b| a.time.cmp(&b.time));
    Ok(())
}

fn activity_row(r: &Value, app: &str, name: Option<&str>) -> ActivityRow {
    let props = match r.get("Properties") {
        Some(Value::String(s)) => {
            serde_json::from_str::<Value>(s).unwrap_or(Value::String(s.clone()))
        }
        Some(v) => v.clone(),
        None => Value::Null,
    };
    let properties = match props {
        Value::Object(m) => m.iter().map(|(k, v)| (k.clone(), text(v))).collect(),
        Value::Null => Vec::new(),
        other => vec![(String::new(), text(&other))],
    };
    ActivityRow {
        time: str_at(r, "/Timestamp"),
        app: name.unwrap_or(app).to_owned(),
        kind: str_at(r, "/MessageType"),
        event: str_at(r, "/EventName"),
        properties,
        linked: false,
    }
}

async fn unattributed_files(
    unattributed: &[&Evidence],
    objects: &mut Objects<'_>,
    found: &mut Found,
) -> Result<()> {
    // (source, object, record) → (its reasons, the identifier types found).
    type Reasons<'e> = (Vec<&'e str>, BTreeSet<&'e str>);
    let mut by_object: BTreeMap<(usize, &str, Option<usize>), Reasons<'_>> = BTreeMap::new();
    for e in unattributed {
        if let Owner::Unattributed {
            object,
            index,
            reason,
            source,
        } = &e.owner
        {
            let slot = by_object
                .entry((source.index(), object, *index))
                .or_default();
            if !slot.0.contains(&reason.as_str()) {
                slot.0.push(reason);
            }
            slot.1.extend(e.hits.iter().map(|h| h.identifier.as_str()));
        }
    }
    for (n, ((source, object, index), (reasons, kinds))) in by_object.into_iter().enumerate() {
        let reason = reasons.join("; ");
        let (file, bytes_or_path) = match index {
            Some(i) => {
                let blob = object;
                let Some(bytes) = objects.read(source, blob).await? else {
                    found.missing.push(json!({"what": "unattributed record", "source": source + 1, "object": object, "index": i}));
                    continue;
                };
                let logs = split_device_logs(blob_text(&bytes));
                let Some((_, span)) = logs.elements.iter().find(|(k, _)| *k == i) else {
                    return Err(Error::Unreadable {
                        number: source + 1,
                        object: object.to_owned(),
                        message: "the record is no longer there: the blob changed since the search"
                            .into(),
                    });
                };
                let name = format!("unattributed/{:03}-{}.json", n + 1, safe_name(blob));
                (name, Ok(one_line(&logs.text[span.clone()])))
            }
            None => {
                let Some(local) = objects.local(source, object).await? else {
                    found.missing.push(json!({"what": "unattributed object", "source": source + 1, "object": object}));
                    continue;
                };
                (
                    format!("unattributed/{:03}-{}", n + 1, safe_name(object)),
                    Err(local),
                )
            }
        };
        match bytes_or_path {
            Ok(bytes) => found.builder.add_bytes(&file, bytes)?,
            Err(path) => found.builder.add_file(&file, &path)?,
        }
        found.view.unattributed.push(UnattributedRow {
            file: file.clone(),
            source: source + 1,
            object: match index {
                Some(i) => format!("{object}, record {i}"),
                None => object.to_owned(),
            },
            reason: reason.clone(),
        });
        let mut entry = json!({
            "file": file, "source": source + 1, "object": object, "reason": reason,
            "identifier_types": kinds,
        });
        if let Some(i) = index {
            entry["index"] = json!(i);
        }
        found.unattributed.push(entry);
    }
    found.counts.unattributed_objects = found.unattributed.len();
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_safe_and_unique() {
        assert_eq!(safe_name("../../etc/passwd"), "passwd");
        assert_eq!(safe_name("..."), "file");
        assert_eq!(safe_name("my log (1).txt"), "my_log__1_.txt");
        assert_eq!(safe_name("C:\\x\\crash é.dmp"), "crash__.dmp");
        let mut n = Names::default();
        assert_eq!(n.take("d", "a.txt", "id1"), "d/a.txt");
        assert_eq!(n.take("d", "a.txt", "id2"), "d/id2-1-a.txt");
    }
}
