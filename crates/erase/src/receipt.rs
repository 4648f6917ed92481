//! The receipt: `erasure.json` and a short `erasure.html`, sealed like a
//! package (SHA256SUMS, age when asked). It holds the keyed hashes of the
//! identifiers (never values), every object deleted and rewritten with its
//! old and new SHA-256, what was refused or gone, the counts, the time, and
//! the re-scan made after the run.

use crashdsr_package::PackageBuilder;
use serde::Serialize;
use serde_json::{Value, json};

use crate::apply::{Outcome, PurgeOutcome};
use crate::plan::{Kind, Plan};
use crate::purge::PurgePlan;

/// `format` of a receipt.
pub const RECEIPT_FORMAT: &str = "crashdsr-erasure-receipt";

/// The re-scan after a run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Rescan {
    /// Objects read.
    pub objects: u64,
    /// Hits of the person's identifiers left (erase), or objects older
    /// than the cut-off left (purge).
    pub left: usize,
    /// What `left` counts.
    pub what: String,
}

/// The receipts' page style.
const STYLE: &str = "<style>body { font: 15px/1.5 system-ui, sans-serif; max-width: 60rem; margin: 2rem auto; padding: 0 1rem; }
table { border-collapse: collapse; width: 100%; } td, th { border: 1px solid #ccc; padding: .3rem; text-align: left; }
code { font-size: .8rem; word-break: break-all; } .ok { color: #075; } .bad { color: #a00; }</style>";

/// Rows of the left-alone table a purge's page shows; the rest are in
/// `left-alone.jsonl`.
const PAGE_ROWS: usize = 100;

/// A receipt holding its `erasure.json`.
fn with_json(receipt: &Value) -> crashdsr_package::Result<PackageBuilder> {
    let mut b = PackageBuilder::new();
    b.add_bytes(
        "erasure.json",
        serde_json::to_vec_pretty(receipt).expect("JSON serialises"),
    )?;
    Ok(b)
}

/// Table rows: the object in code, then what.
/// The receipt's index section, when the run brought an index up to date
/// (`receipt["index"]`: its location and the segments rebuilt and dropped,
/// the segments that held the people's objects).
fn index_section(receipt: &Value) -> String {
    let Some(index) = receipt.get("index") else {
        return String::new();
    };
    let names = |k: &str| -> Vec<String> {
        index[k]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|v| v.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default()
    };
    let (rebuilt, dropped) = (names("segments_rebuilt"), names("segments_dropped"));
    format!(
        "<h2>Index</h2><p id=\"index\">The index <code>{}</code> was brought up to date: {} segments whose objects changed were rebuilt, {} whose objects are gone were dropped. It no longer holds the tokens of what was erased.</p><table><tr><th>Segment</th><th>Now</th></tr>{}</table>",
        esc(index["url"].as_str().unwrap_or("")),
        rebuilt.len(),
        dropped.len(),
        rows(
            rebuilt
                .into_iter()
                .map(|n| (n, "rebuilt".to_owned()))
                .chain(dropped.into_iter().map(|n| (n, "dropped".to_owned())))
        )
    )
}

fn rows(items: impl IntoIterator<Item = (String, String)>) -> String {
    items
        .into_iter()
        .map(|(a, b)| {
            format!(
                "<tr><td><code>{}</code></td><td>{}</td></tr>",
                esc(&a),
                esc(&b)
            )
        })
        .collect()
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// The receipt's JSON.
pub fn receipt_json(plan: &Plan, plan_sha256: &str, outcome: &Outcome, rescan: &Rescan) -> Value {
    json!({
        "format": RECEIPT_FORMAT,
        "version": 1,
        "plan_id": plan.plan_id,
        "plan_sha256": plan_sha256,
        "kind": plan.kind,
        "time": chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        "subjects": plan.subjects.iter().map(|s| json!({
            "label": s.label,
            "identifiers": s.identifiers.iter().map(|(t, h)| json!({"type": t, "keyed_hash": h})).collect::<Vec<_>>(),
        })).collect::<Vec<_>>(),
        "cutoff": plan.cutoff,
        "include_linked": plan.include_linked,
        "counts": {
            "planned": plan.steps(),
            "deleted": outcome.deleted.len(),
            "rewritten": outcome.rewritten.len(),
            "records_dropped": outcome.rewritten.iter().map(|r| r.records_dropped).sum::<usize>(),
            "redacted": outcome.redacted.len(),
            "records_masked": outcome.rewritten.iter().map(|r| r.records_masked).sum::<usize>(),
            "kept": plan.kept.len(),
            "refused": outcome.refused.len(),
            "vanished": outcome.vanished.len(),
            "api_deleted": outcome.api_deleted.len(),
            "installs_blocked": outcome.blocked.len(),
        },
        "api": plan.api.as_ref().map(|a| json!({
            "app": a.app,
            "crashes_deleted": outcome.api_deleted,
            "installs_blocked": outcome.blocked,
        })),
        "deleted": outcome.deleted,
        "rewritten": outcome.rewritten,
        "redacted": outcome.redacted,
        "kept": plan.kept,
        "refused": outcome.refused,
        "vanished": outcome.vanished,
        "rescan": rescan,
    })
}

/// The receipt's files.
pub fn receipt(
    receipt: &Value,
    plan: &Plan,
    outcome: &Outcome,
    rescan: &Rescan,
) -> crashdsr_package::Result<PackageBuilder> {
    let mut b = with_json(receipt)?;
    let what = match plan.kind {
        Kind::Erase => format!(
            "Erasure of the data of {} ({} identifiers, recorded as keyed hashes){}.",
            esc(&plan
                .subjects
                .iter()
                .map(|s| s.label.as_str())
                .collect::<Vec<_>>()
                .join(", ")),
            plan.subjects
                .iter()
                .map(|s| s.identifiers.len())
                .sum::<usize>(),
            if plan.include_linked {
                ", with the crashes and records of their installations"
            } else {
                ""
            }
        ),
        Kind::Purge => format!(
            "Purge of everything written before {} (UTC).",
            esc(plan.cutoff.as_deref().unwrap_or("?"))
        ),
    };
    let ok = rescan.left == 0 && outcome.refused.is_empty() && outcome.vanished.is_empty();
    let html = format!(
        r#"<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Erasure receipt {id}</title>
{STYLE}</head>
<body><h1>Erasure receipt</h1>
<p>{what} Plan <code>{id}</code> (SHA-256 <code>{plan_sha}</code>), applied on {time}.</p>
<p id="result" class="{class}">{deleted} objects deleted, {rewritten} log blobs rewritten ({dropped} records dropped, every other record kept byte for byte),
{masked}{refused} refused, {vanished} gone before the run.{api} Re-scan of {objects} objects afterwards: <strong id="left">{left}</strong> {left_what}.</p>
<h2>Deleted</h2><table><tr><th>Object</th><th>SHA-256</th></tr>{del_rows}</table>
<h2>Rewritten</h2><table><tr><th>Object</th><th>SHA-256 before → after</th></tr>{rew_rows}</table>
<h2>Masked in someone else's crash</h2><table><tr><th>Object</th><th>SHA-256 before → after</th></tr>{red_rows}</table>
<h2>Left alone</h2><table><tr><th>Object</th><th>Why</th></tr>{skip_rows}</table>
{index}
<p><code>erasure.json</code> holds the same with the keyed hashes of the identifiers; <code>SHA256SUMS</code> the checksums.</p>
</body></html>
"#,
        id = esc(&plan.plan_id),
        plan_sha = esc(receipt["plan_sha256"].as_str().unwrap_or("")),
        time = esc(receipt["time"].as_str().unwrap_or("")),
        class = if ok { "ok" } else { "bad" },
        index = index_section(receipt),
        deleted = outcome.deleted.len(),
        rewritten = outcome.rewritten.len(),
        dropped = outcome
            .rewritten
            .iter()
            .map(|r| r.records_dropped)
            .sum::<usize>(),
        masked = {
            let records: usize = outcome.rewritten.iter().map(|r| r.records_masked).sum();
            if outcome.redacted.is_empty() && records == 0 && plan.kept.is_empty() {
                String::new()
            } else {
                format!(
                    "in someone else's crash the person's data was masked in {} objects and {records} records ({} left as they were on the operator's choice), ",
                    outcome.redacted.len(),
                    plan.kept.len()
                )
            }
        },
        refused = outcome.refused.len(),
        vanished = outcome.vanished.len(),
        api = match &plan.api {
            Some(a) => format!(
                " Through the API of {}: {} crashes deleted, {} installs blocked from further collection.",
                esc(&a.app),
                outcome.api_deleted.len(),
                outcome.blocked.len()
            ),
            None => String::new(),
        },
        objects = rescan.objects,
        left = rescan.left,
        left_what = esc(&rescan.what),
        del_rows = rows(
            outcome
                .deleted
                .iter()
                .map(|d| (format!("{}: {}", d.source, d.object), d.sha256.clone()))
        ),
        rew_rows = rows(outcome.rewritten.iter().map(|r| (
            format!("{}: {}", r.source, r.object),
            format!("{} → {}", r.old_sha256, r.new_sha256)
        ))),
        red_rows = rows(outcome.redacted.iter().map(|r| (
            format!("{}: {}", r.source, r.object),
            format!("{} → {}", r.old_sha256, r.new_sha256)
        ))),
        skip_rows = rows(
            outcome
                .refused
                .iter()
                .chain(&outcome.vanished)
                .map(|s| (format!("{}: {}", s.source, s.object), s.why.clone()))
                .chain(
                    plan.kept
                        .iter()
                        .map(|k| (format!("{}: {}", k.source, k.object), k.why.clone()))
                )
        ),
    );
    b.add_bytes("erasure.html", html)?;
    Ok(b)
}

/// A purge's receipt JSON: the counts and the re-scan. The objects are
/// listed in `deleted.jsonl` and `left-alone.jsonl` beside it, a line
/// each, so that a purge of any size writes its receipt in bounded memory.
pub fn purge_receipt_json(
    plan: &PurgePlan,
    plan_sha256: &str,
    outcome: &PurgeOutcome,
    rescan: &Rescan,
) -> Value {
    json!({
        "format": RECEIPT_FORMAT,
        "version": 2,
        "plan_id": plan.plan_id,
        "plan_sha256": plan_sha256,
        "kind": Kind::Purge,
        "time": chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        "subjects": [],
        "cutoff": plan.cutoff,
        "counts": {
            "planned": plan.deletes,
            "deleted": outcome.deleted,
            "refused": outcome.refused,
            "vanished": outcome.vanished,
        },
        "deleted": "deleted.jsonl",
        "left_alone": "left-alone.jsonl",
        "rescan": rescan,
    })
}

/// A purge's receipt files: `erasure.json`, `deleted.jsonl` and
/// `left-alone.jsonl` (streamed from the spool when written) and a page
/// with the counts and the first objects left alone.
pub fn purge_receipt(
    receipt: &Value,
    plan: &PurgePlan,
    outcome: &PurgeOutcome,
    rescan: &Rescan,
) -> crashdsr_package::Result<PackageBuilder> {
    use std::io::BufRead;
    let mut b = with_json(receipt)?;
    b.add_file("deleted.jsonl", &outcome.deleted_file)?;
    b.add_file("left-alone.jsonl", &outcome.left_alone_file)?;
    let rows: String = std::fs::File::open(&outcome.left_alone_file)
        .map(|f| {
            rows(
                std::io::BufReader::new(f)
                    .lines()
                    .take(PAGE_ROWS)
                    .map_while(std::result::Result::ok)
                    .filter_map(|l| serde_json::from_str::<Value>(&l).ok())
                    .map(|v| {
                        (
                            format!("{}: {}", v["source"], v["object"].as_str().unwrap_or("")),
                            v["why"].as_str().unwrap_or("").to_owned(),
                        )
                    }),
            )
        })
        .unwrap_or_default();
    let left = outcome.refused + outcome.vanished;
    let ok = rescan.left == 0 && left == 0;
    let html = format!(
        r#"<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Erasure receipt {id}</title>
{STYLE}</head>
<body><h1>Erasure receipt</h1>
<p>Purge of everything written before {cutoff} (UTC). Plan <code>{id}</code> (SHA-256 <code>{plan_sha}</code>), applied on {time}.</p>
<p id="result" class="{class}">{deleted} objects deleted, {refused} refused, {vanished} gone before the run.
Re-scan of {objects} objects afterwards: <strong id="left">{rescan_left}</strong> {left_what}.</p>
<p>Every object deleted is listed in <code>deleted.jsonl</code> with its SHA-256, every object left alone in <code>left-alone.jsonl</code> with why{first}.</p>
<h2>Left alone</h2><table><tr><th>Object</th><th>Why</th></tr>{rows}</table>
{index}
<p><code>erasure.json</code> holds the counts; <code>SHA256SUMS</code> the checksums.</p>
</body></html>
"#,
        id = esc(&plan.plan_id),
        index = index_section(receipt),
        cutoff = esc(&plan.cutoff),
        plan_sha = esc(receipt["plan_sha256"].as_str().unwrap_or("")),
        time = esc(receipt["time"].as_str().unwrap_or("")),
        class = if ok { "ok" } else { "bad" },
        deleted = outcome.deleted,
        refused = outcome.refused,
        vanished = outcome.vanished,
        objects = rescan.objects,
        rescan_left = rescan.left,
        left_what = esc(&rescan.what),
        first = if left as usize > PAGE_ROWS {
            format!("; the first {PAGE_ROWS} of {left} are below")
        } else {
            String::new()
        },
    );
    b.add_bytes("erasure.html", html)?;
    Ok(b)
}
