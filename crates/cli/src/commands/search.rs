//! `crashdsr search`: subjects from flags or a file, the scan (reads on the
//! runtime, scanning on its own threads), evidence as a summary or JSON lines. Identifier values are never
//! printed.

use std::collections::BTreeMap;
use std::io::Write;
use std::process::ExitCode;

use crashdsr_search::{Evidence, Owner, SearchOptions};
use crashdsr_store::Store;

use crashdsr_crawl::Progress as _;

use crate::cli::{GlobalArgs, SearchArgs};
use crate::progress::Bar;

pub(crate) async fn run(global: &GlobalArgs, args: SearchArgs) -> anyhow::Result<ExitCode> {
    let subjects = super::load_subjects(args.subjects.as_deref(), &args.label, &args.subject)?;
    let inputs = args
        .source
        .iter()
        .map(|s| Store::open(s))
        .collect::<Result<Vec<_>, _>>()?;
    let mut opts = SearchOptions {
        expand_install_ids: args.expand.is_some(),
        ..Default::default()
    };
    opts.limits.max_expand = args.max_expand;
    if let Some(t) = args.threads {
        opts.threads = t.max(1);
    }
    opts.io = args.io.map(|n| n.max(1));
    opts.narrow = super::index::narrowing(&args.index)?;
    let labels: Vec<String> = subjects.iter().map(|s| s.label.clone()).collect();
    // Objects scanned against objects listed so far (a remote listing runs
    // ahead of the scan), on a bar or in a log line every few seconds.
    let bar = Bar::new("objects", global.no_progress);
    let progress = opts.progress.clone();
    let watch = async {
        let mut shown = 0;
        loop {
            tokio::time::sleep(std::time::Duration::from_millis(250)).await;
            let scanned = progress.objects();
            bar.set_total(progress.listed().max(scanned));
            bar.inc(scanned - shown);
            shown = scanned;
            bar.message(format!("{} MB", progress.bytes() / 1_000_000));
        }
    };
    let report = tokio::select! {
        r = crashdsr_search::search(&inputs, subjects, &opts) => r,
        () = watch => unreachable!("the progress display never ends"),
    };
    bar.finish();
    let report = report?;
    for (object, why) in &report.errors {
        eprintln!("crashdsr: warning: {object}: {why}");
    }
    super::index::tell(&report);
    let mut out = std::io::stdout().lock();
    if args.json {
        for e in &report.evidence {
            // The record holds the person's data: it goes into packages,
            // never to the terminal. Its blob and position are printed.
            let shown = Evidence {
                record: None,
                ..e.clone()
            };
            writeln!(out, "{}", serde_json::to_string(&shown)?)?;
        }
        for line in super::index::json_lines(&report) {
            writeln!(out, "{line}")?;
        }
        for u in &report.unread {
            writeln!(
                out,
                "{}",
                serde_json::json!({"kind": "unread", "object": u.object, "source": u.source, "reason": u.reason})
            )?;
        }
    } else {
        writeln!(
            out,
            "Searched {} objects ({} bytes, {} device-log records; attribution index: {} entries, about {} KiB of them held for the hits).",
            report.objects,
            report.bytes,
            report.records,
            report.index_entries,
            report.index.heap_bytes() / 1024
        )?;
        for label in &labels {
            let mine: Vec<&Evidence> = report
                .evidence
                .iter()
                .filter(|e| &e.subject == label)
                .collect();
            let count = |f: &dyn Fn(&&Evidence) -> bool| mine.iter().filter(|e| f(e)).count();
            let direct = count(&|e| !e.linked && matches!(e.owner, Owner::Crash { .. }));
            let activity = count(&|e| matches!(e.owner, Owner::Activity { .. }));
            let unattributed = count(&|e| matches!(e.owner, Owner::Unattributed { .. }));
            let linked = count(&|e| e.linked);
            let mut places: BTreeMap<String, usize> = BTreeMap::new();
            for e in &mine {
                for h in &e.hits {
                    let artefact = artefact_kind(&h.artefact);
                    *places
                        .entry(format!("{} in {artefact}", h.identifier.as_str()))
                        .or_default() += 1;
                }
            }
            writeln!(
                out,
                "{label}: {direct} crashes hold the subject's identifiers, {activity} activity records (sessions, events), {unattributed} objects tied to no crash, {linked} crashes linked by install id"
            )?;
            for (place, n) in places {
                writeln!(out, "  {n:>5}  {place}")?;
            }
        }
        for (label, kind) in &report.typed_only {
            writeln!(
                out,
                "note: {label}'s {} is too short for free text; it was matched in typed fields only",
                kind.as_str()
            )?;
        }
        for line in super::index::json_lines(&report) {
            writeln!(out, "{line}")?;
        }
        for u in &report.unread {
            writeln!(
                out,
                "unread: {} ({}): whatever it holds past that point was not searched",
                u.object, u.reason
            )?;
        }
        if !report.errors.is_empty() {
            writeln!(
                out,
                "{} objects were not read whole (see the warnings above).",
                report.errors.len()
            )?;
        }
    }
    out.flush()?;
    let found = !report.evidence.is_empty();
    // The process ends next: its memory goes back whole, so the index (a
    // map of every crash of the export) is not freed entry by entry, which
    // took 4% of a search's time.
    std::mem::forget(report);
    Ok(if !found {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

/// The kind of artefact, for the summary: one line per kind, not per file.
fn artefact_kind(artefact: &str) -> &str {
    let base = artefact.split(" (").next().unwrap_or(artefact);
    if base.starts_with("logs") && base.contains("v1.data") {
        "export device logs (logs*.v1.data)"
    } else if base.starts_with("crashes/") {
        "export crash blobs"
    } else if base.starts_with("errors/") {
        "export handled-error blobs"
    } else if base.starts_with("attachments") {
        "attachments"
    } else {
        base
    }
}
