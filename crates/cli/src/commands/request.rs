//! `crashdsr request`: one command from request to package.
//!
//! Reads the retention setting to pick the path (90 days: inventory, fetch
//! and a search of the archive; 28 days: a search of the continuous export,
//! then each matched crash's full log through its location URI), writes one
//! deterministic package per subject and appends an audit record (JSON Lines
//! in the work dir and a row in the state store). Identifier values go into
//! the package only; everything else holds keyed hashes.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, bail};
use chrono::{Months, NaiveDate};
use crashdsr_crawl::{Api, Archive, FetchOptions, LocationApi, RequestRecord};
use crashdsr_package::{PackageBuilder, keyed_hash};
use crashdsr_search::{Evidence, Input, SearchOptions, Subject};
use serde_json::json;

use super::report::{Controller, ReportCrash, ReportInput, render};
use crate::cli::{GlobalArgs, PathChoice, RequestArgs};
use crate::progress::Bar;

/// Version of the package format.
const FORMAT_VERSION: u32 = 1;

/// The controller's key for keyed hashes: 32 random bytes in the work dir,
/// created once with mode 0600.
fn hash_key(work_dir: &Path) -> anyhow::Result<Vec<u8>> {
    let path = work_dir.join("hash.key");
    if let Ok(k) = std::fs::read(&path) {
        anyhow::ensure!(k.len() >= 16, "{} is too short to be a key", path.display());
        return Ok(k);
    }
    std::fs::create_dir_all(work_dir)
        .with_context(|| format!("creating {}", work_dir.display()))?;
    let key: Vec<u8> = [uuid::Uuid::new_v4(), uuid::Uuid::new_v4()]
        .iter()
        .flat_map(|u| *u.as_bytes())
        .collect();
    let mut open = std::fs::OpenOptions::new();
    open.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut open, 0o600);
    open.open(&path)
        .and_then(|mut f| f.write_all(&key))
        .with_context(|| format!("creating the hash key {}", path.display()))?;
    Ok(key)
}

struct Found {
    /// Crash id → evidence lines of this subject.
    crashes: BTreeMap<String, Vec<Evidence>>,
    sessions: usize,
}

pub(crate) async fn run(global: &GlobalArgs, args: RequestArgs) -> anyhow::Result<ExitCode> {
    let out = args.out.clone();
    let client = super::client_with(global, args.concurrency as usize)?;
    tokio::select! {
        r = answer(global, args, client) => r,
        _ = tokio::signal::ctrl_c() => {
            // Nothing half-written stays behind; leases are let go.
            let dir = if out.is_dir() { out.clone() } else { out.parent().map(Path::to_path_buf).unwrap_or_default() };
            let dir = if dir.as_os_str().is_empty() { PathBuf::from(".") } else { dir };
            let stem = out.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
            let entries: Vec<PathBuf> =
                std::fs::read_dir(&dir).map(|d| d.flatten().map(|e| e.path()).collect()).unwrap_or_default();
            for p in entries {
                let name = p.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
                if (name.ends_with(".partial") || name.ends_with(".plain")) && (out.is_dir() || name.starts_with(&stem)) {
                    let _ = std::fs::remove_file(&p);
                }
            }
            if let Ok(store) = super::crawl::open_store(global).await {
                let _ = store.release(&crashdsr_crawl::default_worker()).await;
            }
            bail!("interrupted; no package was written. Run the same command again to continue.");
        }
    }
}

/// The request with a given client (the demo passes one for its in-process
/// emulator).
pub(crate) async fn answer(
    global: &GlobalArgs,
    args: RequestArgs,
    client: crashdsr_appcenter::Client,
) -> anyhow::Result<ExitCode> {
    let subjects = super::load_subjects(args.subjects.as_deref(), &args.label, &args.subject)?;
    let batch = args.subjects.is_some();
    let sealing = match (&args.passphrase_file, args.encrypt_to.is_empty()) {
        (Some(p), _) => Some(crashdsr_package::Seal::Passphrase(super::read_secret_file(
            p,
            "passphrase",
        )?)),
        (None, false) => Some(crashdsr_package::Seal::Recipients(args.encrypt_to.clone())),
        (None, true) => None,
    };
    let suffix = if sealing.is_some() {
        ".zip.age"
    } else {
        ".zip"
    };
    let outs: Vec<PathBuf> = if batch {
        std::fs::create_dir_all(&args.out)
            .with_context(|| format!("creating {}", args.out.display()))?;
        subjects
            .iter()
            .map(|s| args.out.join(format!("{}{suffix}", safe_label(&s.label))))
            .collect()
    } else if sealing.is_some() && !args.out.to_string_lossy().ends_with(".age") {
        vec![PathBuf::from(format!("{}.age", args.out.display()))]
    } else {
        vec![args.out.clone()]
    };
    for out in &outs {
        if out.exists() && !args.force {
            bail!("{} exists; pass --force to replace it", out.display());
        }
        let dir = out
            .parent()
            .filter(|d| !d.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        anyhow::ensure!(
            dir.is_dir(),
            "cannot write the package: {} is not a directory",
            dir.display()
        );
    }
    let received = match &args.received {
        Some(d) => NaiveDate::parse_from_str(d, "%Y-%m-%d")
            .with_context(|| format!("--received {d:?}: expected YYYY-MM-DD"))?,
        None => chrono::Utc::now().date_naive(),
    };
    let due = received
        .checked_add_months(Months::new(1))
        .context("the due date is out of range")?;
    let controller = Controller::load(args.controller.as_deref())?;
    let key = hash_key(&global.work_dir)?;

    let (owner, name) = &args.app;
    let app = client.app(owner, name);
    let app_name = format!("{owner}/{name}");
    let retention = app
        .retention()
        .await
        .with_context(|| format!("reading the retention of {app_name}"))?
        .retention_in_days;
    let path = match args.path {
        PathChoice::Auto if retention >= 90 => PathChoice::Api,
        PathChoice::Auto => PathChoice::Export,
        p => p,
    };
    let store = super::crawl::open_store(global).await?;
    let mut coverage =
        format!("every crash App Center holds for the app (retention: {retention} days)");
    let (inputs, source_text, archive) = match path {
        PathChoice::Api | PathChoice::Auto => {
            let archive = super::crawl::open_archive(global)?;
            let bar = Bar::new("crashes", global.no_progress);
            let opts = FetchOptions {
                concurrency: args.concurrency as usize,
                ..Default::default()
            };
            let fetched = if args.targeted {
                let candidates = targeted_candidates(&app, &subjects).await?;
                eprintln!(
                    "crashdsr: targeted: {} crashes found by the server-side search",
                    candidates.len()
                );
                coverage = format!(
                    "targeted answer: the {} crashes App Center's server-side search returned for the user ids and e-mail \
                     addresses given (its index covers the last 28 days and at most 100 reports per identifier), then \
                     searched with everything else in the archive; crashes that hold the identifiers only in free text \
                     and are not in the archive yet are not covered until a full request",
                    candidates.len()
                );
                crashdsr_crawl::fetch_listed(&store, &app, &archive, &candidates, &opts, &bar).await
            } else {
                let inv = crashdsr_crawl::inventory(
                    &store,
                    &app,
                    Api::Errors,
                    &crashdsr_crawl::NoProgress,
                )
                .await
                .with_context(|| format!("inventory of {app_name}"))?;
                eprintln!(
                    "crashdsr: inventory: {} crashes listed, {} new",
                    inv.listed, inv.new
                );
                crashdsr_crawl::fetch(&store, &app, &archive, &opts, &bar).await
            };
            bar.finish();
            let fetched = fetched.with_context(|| format!("fetching crashes of {app_name}"))?;
            eprintln!("crashdsr: fetch: {} crashes archived", fetched.retrieved);
            let input = Input::open(archive.url())?;
            (
                vec![input],
                format!("the crash archive ({})", archive.url()),
                Some(archive),
            )
        }
        PathChoice::Export => {
            anyhow::ensure!(
                !args.source.is_empty(),
                "the export path needs --source: the continuous export's location"
            );
            let inputs = args
                .source
                .iter()
                .map(|s| Input::open(s))
                .collect::<Result<Vec<_>, _>>()?;
            (
                inputs,
                format!("the continuous export ({})", args.source.join(", ")),
                None,
            )
        }
    };

    let labels: Vec<String> = subjects.iter().map(|s| s.label.clone()).collect();
    let identifier_sets: Vec<Vec<(String, String)>> = subjects
        .iter()
        .map(|s| {
            s.identifiers
                .iter()
                .map(|i| (i.kind.as_str().to_owned(), keyed_hash(&key, &i.value)))
                .collect()
        })
        .collect();
    let report = tokio::task::spawn_blocking(move || {
        crashdsr_search::search(
            &inputs,
            subjects,
            &SearchOptions {
                expand_install_ids: true,
                ..Default::default()
            },
        )
    })
    .await
    .context("the search thread failed")??;
    for (object, why) in &report.errors {
        eprintln!("crashdsr: warning: {object}: {why}");
    }

    let work = global.work_dir.join("requests");
    for ((label, ids), out) in labels.iter().zip(&identifier_sets).zip(&outs) {
        let found = collect(&report.evidence, label);
        let mut pkg = PackageBuilder::new();
        let mut crashes = Vec::new();
        for (eid, ev) in &found.crashes {
            let files = match &archive {
                Some(a) if a.url().contains("://") => a
                    .copy_crash(
                        &app_name,
                        eid,
                        &work
                            .join(safe_label(label))
                            .join("archive")
                            .join(crashdsr_crawl::safe_id(eid)?),
                    )
                    .await
                    .with_context(|| format!("copying crash {eid} from the archive"))?,
                Some(a) => archive_files(a, &app_name, eid)?,
                None => {
                    let (group, _) = group_of(&app, eid).await?;
                    let dir = work.join(safe_label(label));
                    let (p, _) = crashdsr_crawl::download_crash_log(
                        &app,
                        &group,
                        eid,
                        LocationApi::Errors,
                        &dir,
                    )
                    .await
                    .with_context(|| format!("downloading the crash log of {eid}"))?;
                    vec![("crash-log.json".to_owned(), p)]
                }
            };
            let mut log = None;
            for (name, path) in &files {
                pkg.add_file(&format!("crashes/{eid}/{name}"), path)?;
                if name == "download.json" || name == "crash-log.json" {
                    log = std::fs::read(path)
                        .ok()
                        .and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).ok());
                }
            }
            let linked = ev.iter().all(|e| e.linked);
            let places: BTreeSet<(String, String)> = ev
                .iter()
                .flat_map(|e| &e.hits)
                .map(|h| {
                    (
                        h.identifier.as_str().to_owned(),
                        describe(&h.artefact, h.path.as_deref()),
                    )
                })
                .collect();
            let str_at = |v: &Option<serde_json::Value>, p: &str| {
                v.as_ref()
                    .and_then(|v| v.pointer(p))
                    .and_then(|x| x.as_str())
                    .unwrap_or("")
                    .to_owned()
            };
            crashes.push(ReportCrash {
                error_id: eid.clone(),
                when: str_at(&log, "/timestamp"),
                device: format!(
                    "{} {} {}",
                    str_at(&log, "/device/model"),
                    str_at(&log, "/device/osName"),
                    str_at(&log, "/device/osVersion")
                )
                .trim()
                .to_owned(),
                linked,
                places: places.into_iter().collect(),
            });
        }
        let evidence: String = report
            .evidence
            .iter()
            .filter(|e| &e.subject == label)
            .map(|e| serde_json::to_string(e).map(|s| s + "\n"))
            .collect::<Result<_, _>>()?;
        pkg.add_bytes("evidence.jsonl", evidence)?;
        let request_id = {
            let material = format!(
                "{app_name}|{}|{received}",
                ids.iter()
                    .map(|(t, h)| format!("{t}:{h}"))
                    .collect::<Vec<_>>()
                    .join(",")
            );
            keyed_hash(&key, &material)[..20].to_owned()
        };
        let html = render(
            &ReportInput {
                request_id: &request_id,
                received: &received.to_string(),
                due: &due.to_string(),
                app: &app_name,
                source: &source_text,
                retention_days: retention,
                coverage: &coverage,
                identifier_types: ids
                    .iter()
                    .map(|(t, _)| t.clone())
                    .collect::<BTreeSet<_>>()
                    .into_iter()
                    .collect(),
                crashes,
                sessions: found.sessions,
            },
            &controller,
        );
        pkg.add_bytes("report.html", html)?;
        let direct = found
            .crashes
            .values()
            .filter(|ev| ev.iter().any(|e| !e.linked))
            .count();
        let manifest = json!({
            "format_version": FORMAT_VERSION,
            "request_id": request_id,
            "received": received.to_string(),
            "due": due.to_string(),
            "app": app_name,
            "subject": label,
            "identifiers": ids.iter().map(|(t, h)| json!({"type": t, "keyed_hash": h})).collect::<Vec<_>>(),
            "sources": [{
                "path": if archive.is_some() { "api" } else { "export" },
                "location": source_text,
                "retention_days": retention,
                "time_range": {
                    "from": received.checked_sub_days(chrono::Days::new(u64::from(retention))).map(|d| d.to_string()),
                    "to": received.to_string(),
                },
                "coverage": coverage,
                "objects_scanned": report.objects,
                "unreadable_objects": report.errors.len(),
            }],
            "counts": {"crashes": found.crashes.len(), "direct": direct, "linked": found.crashes.len() - direct, "session_records": found.sessions},
            "files": pkg.digests()?,
            "tool": {"name": "crashdsr", "version": env!("CARGO_PKG_VERSION")},
        });
        pkg.add_bytes("manifest.json", serde_json::to_vec_pretty(&manifest)?)?;
        let written = match &sealing {
            None => pkg
                .write(out, args.force)
                .with_context(|| format!("writing the package {}", out.display()))?,
            Some(how) => {
                // The plain zip exists only until it is sealed.
                let plain = PathBuf::from(format!("{}.plain", out.display()));
                let w = pkg
                    .write(&plain, true)
                    .with_context(|| format!("writing the package {}", plain.display()))?;
                let sealed = crashdsr_package::seal(&plain, out, how);
                let _ = std::fs::remove_file(&plain);
                sealed.with_context(|| format!("encrypting the package {}", out.display()))?;
                crashdsr_package::Written {
                    path: out.clone(),
                    sha256: crashdsr_package::sha256_file(out)?,
                    files: w.files,
                }
            }
        };

        // The audit: keyed hashes and counts, never identifier values.
        let operator = std::env::var("USER")
            .or_else(|_| std::env::var("LOGNAME"))
            .unwrap_or_else(|_| "unknown".into());
        let record = json!({
            "time": chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            "operator": operator,
            "request_id": request_id,
            "app": app_name,
            "subject": label,
            "received": received.to_string(),
            "due": due.to_string(),
            "sources": [source_text],
            "identifiers": manifest["identifiers"],
            "counts": manifest["counts"],
            "package": out.display().to_string(),
            "package_sha256": written.sha256,
        });
        let audit_path = global.work_dir.join("audit.jsonl");
        let mut audit = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&audit_path)
            .with_context(|| format!("opening {}", audit_path.display()))?;
        writeln!(audit, "{record}").with_context(|| format!("writing {}", audit_path.display()))?;
        store
            .record_request(&RequestRecord {
                request_id: request_id.clone(),
                app: app_name.clone(),
                subject: label.clone(),
                received: received.to_string(),
                due: due.to_string(),
                record: record.to_string(),
                package_sha256: written.sha256.clone(),
            })
            .await?;
        println!(
            "{}: {} crashes ({} with the subject's details, {} linked by install id), due {due}, sha256 {}",
            out.display(),
            found.crashes.len(),
            direct,
            found.crashes.len() - direct,
            written.sha256
        );
    }
    store.close().await;
    Ok(ExitCode::SUCCESS)
}

fn safe_label(label: &str) -> String {
    label
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

fn collect(evidence: &[Evidence], label: &str) -> Found {
    let mut crashes: BTreeMap<String, Vec<Evidence>> = BTreeMap::new();
    let mut sessions = 0;
    for e in evidence.iter().filter(|e| e.subject == label) {
        match &e.error_id {
            Some(id) => crashes.entry(id.clone()).or_default().push(e.clone()),
            None => sessions += 1,
        }
    }
    Found { crashes, sessions }
}

/// The archived artefacts of a crash (not its archive manifest).
fn archive_files(
    archive: &Archive,
    app: &str,
    eid: &str,
) -> anyhow::Result<Vec<(String, PathBuf)>> {
    let dir = PathBuf::from(archive.url())
        .join("apps")
        .join(app)
        .join("errors")
        .join(crashdsr_crawl::safe_id(eid)?);
    let mut out = Vec::new();
    let mut stack = vec![PathBuf::new()];
    while let Some(rel) = stack.pop() {
        let entries = std::fs::read_dir(dir.join(&rel))
            .with_context(|| format!("reading {}", dir.display()))?;
        for e in entries {
            let e = e?;
            let name = rel.join(e.file_name());
            if e.file_type()?.is_dir() {
                stack.push(name);
            } else if name != Path::new("manifest.json") {
                out.push((name.to_string_lossy().replace('\\', "/"), dir.join(&name)));
            }
        }
    }
    out.sort();
    Ok(out)
}

/// Crashes whose `userId` is one of the subjects' user ids or e-mail
/// addresses, by App Center's server-side search (the only filter by user).
async fn targeted_candidates(
    app: &crashdsr_appcenter::AppClient,
    subjects: &[Subject],
) -> anyhow::Result<Vec<crashdsr_crawl::ListedCrash>> {
    use futures::TryStreamExt;
    let mut out: BTreeMap<String, crashdsr_crawl::ListedCrash> = BTreeMap::new();
    for s in subjects {
        for id in s.identifiers.iter().filter(|i| {
            matches!(
                i.kind,
                crashdsr_search::IdKind::UserId | crashdsr_search::IdKind::Email
            )
        }) {
            let filter = format!("userId eq '{}'", id.value.replace('\'', "''"));
            let hits: Vec<_> = app.search_errors(None, Some(&filter)).try_collect().await?;
            for h in hits {
                let Some(group) = h.error_group_id.clone() else {
                    continue;
                };
                out.entry(h.error_id.clone())
                    .or_insert(crashdsr_crawl::ListedCrash {
                        error_time: h.timestamp.map(|t| t.unix_millis()),
                        has_attachments: h.has_attachments,
                        has_breadcrumbs: h.has_breadcrumbs,
                        error_id: h.error_id,
                        error_group_id: group,
                    });
            }
        }
    }
    Ok(out.into_values().collect())
}

/// The group of an error, through `errors/search` (the only lookup by id).
async fn group_of(
    app: &crashdsr_appcenter::AppClient,
    eid: &str,
) -> anyhow::Result<(String, String)> {
    use futures::TryStreamExt;
    let hits: Vec<_> = app.search_errors(Some(eid), None).try_collect().await?;
    let hit = hits
        .into_iter()
        .find(|h| h.error_id == eid)
        .with_context(|| {
            format!(
                "crash {eid} is not found by the API (deleted, or older than its search window)"
            )
        })?;
    let group = hit
        .error_group_id
        .with_context(|| format!("the API did not name the group of {eid}"))?;
    Ok((group, hit.error_id))
}

/// "email in the exception message" style text for the report.
fn describe(artefact: &str, path: Option<&str>) -> String {
    let base = artefact.split(" (").next().unwrap_or(artefact);
    let what = match base {
        a if a.starts_with("details.json") => "the error details",
        a if a.starts_with("download.json") => "the full crash log",
        a if a.starts_with("stacktrace.json") => "the stack trace",
        a if a.starts_with("session-logs.json") => "the session log",
        a if a.starts_with("attachments.json") => "the attachment list",
        a if a.starts_with("attachments") => "an attachment",
        a if a.starts_with("logs.v1.data") => "an app log record",
        _ => "the crash report",
    };
    match path {
        Some(p) => format!("{what} ({p})"),
        None => what.to_owned(),
    }
}
