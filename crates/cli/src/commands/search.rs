//! `crashdsr search`: subjects from flags or a file, the scan on blocking
//! threads, evidence as a summary or JSON lines. Identifier values are never
//! printed.

use std::collections::BTreeMap;
use std::io::Write;
use std::process::ExitCode;

use anyhow::Context;
use crashdsr_search::{Input, SearchOptions};

use crate::cli::SearchArgs;

pub(crate) async fn run(args: SearchArgs) -> anyhow::Result<ExitCode> {
    let subjects = super::load_subjects(args.subjects.as_deref(), &args.label, &args.subject)?;
    let inputs = args
        .source
        .iter()
        .map(|s| Input::open(s))
        .collect::<Result<Vec<_>, _>>()?;
    let mut opts = SearchOptions {
        expand_install_ids: args.expand.is_some(),
        ..Default::default()
    };
    if let Some(t) = args.threads {
        opts.threads = t.max(1);
    }
    let labels: Vec<String> = subjects.iter().map(|s| s.label.clone()).collect();
    let report =
        tokio::task::spawn_blocking(move || crashdsr_search::search(&inputs, subjects, &opts))
            .await
            .context("the search thread failed")??;
    for (object, why) in &report.errors {
        eprintln!("crashdsr: warning: {object}: {why}");
    }
    let mut out = std::io::stdout().lock();
    if args.json {
        for e in &report.evidence {
            writeln!(out, "{}", serde_json::to_string(e)?)?;
        }
    } else {
        writeln!(
            out,
            "Searched {} objects ({} bytes).",
            report.objects, report.bytes
        )?;
        for label in &labels {
            let mine: Vec<_> = report
                .evidence
                .iter()
                .filter(|e| &e.subject == label)
                .collect();
            let direct = mine
                .iter()
                .filter(|e| !e.linked && e.error_id.is_some())
                .count();
            let sessions = mine.iter().filter(|e| e.error_id.is_none()).count();
            let linked = mine.iter().filter(|e| e.linked).count();
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
                "{label}: {direct} crashes hold the subject's identifiers, {sessions} other records (session events), {linked} crashes linked by install id"
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
        if !report.errors.is_empty() {
            writeln!(
                out,
                "{} objects could not be read (see the warnings above).",
                report.errors.len()
            )?;
        }
    }
    out.flush()?;
    Ok(if report.evidence.is_empty() {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

/// The kind of artefact, for the summary: one line per kind, not per file.
fn artefact_kind(artefact: &str) -> &str {
    let base = artefact.split(" (").next().unwrap_or(artefact);
    if base.starts_with("logs.v1.data") {
        "export device logs (logs.v1.data)"
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
