//! `crashdsr request`: one command from request to package.
//!
//! Parses the request, picks the path and shows progress; the answer
//! itself (search, assembly, report, manifest) is `crashdsr-answer`'s.
//! Offline (the default when the API is not reachable or no `--app` is
//! given), it answers from the `--source`s alone: continuous exports and
//! crawl archives. With the API (`--path api`, or `auto` when it answers),
//! it first brings the crawl archive of `--app` up to date and searches it
//! together with the sources. It writes one deterministic package per
//! subject and appends an audit record (JSON Lines in the work dir and a
//! row in the state store). Identifier values go into the package only;
//! everything else holds keyed hashes.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, bail};
use chrono::NaiveDate;
use crashdsr_answer::Controller;
use crashdsr_crawl::{Api, FetchOptions};
use crashdsr_search::{SearchOptions, Subject};
use crashdsr_state::RequestRecord;
use crashdsr_store::Store;

use crate::cli::{GlobalArgs, PathChoice, RequestArgs};
use crate::progress::Bar;

/// The controller's key for keyed hashes: 32 random bytes in the work dir,
/// created once with mode 0600.
pub(crate) fn hash_key(work_dir: &Path) -> anyhow::Result<Vec<u8>> {
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

pub(crate) async fn run(global: &GlobalArgs, args: RequestArgs) -> anyhow::Result<ExitCode> {
    let out = args.out.clone();
    tokio::select! {
        r = answer(global, args, None) => r,
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
            let _ = std::fs::remove_dir_all(
                global.work_dir.join("requests").join(format!("staging-{}", std::process::id())),
            );
            if let Ok(store) = super::crawl::open_store(global).await {
                let _ = store.release(&crashdsr_crawl::default_worker()).await;
            }
            bail!("interrupted; no package was written. Run the same command again to continue.");
        }
    }
}

/// The request, with a client when the caller has one (the demo's API
/// path passes one for its in-process emulator).
pub(crate) async fn answer(
    global: &GlobalArgs,
    args: RequestArgs,
    client: Option<crashdsr_appcenter::Client>,
) -> anyhow::Result<ExitCode> {
    let subjects = super::load_subjects(args.subjects.as_deref(), &args.label, &args.subject)?;
    let batch = args.subjects.is_some();
    let sealing = super::sealing(args.passphrase_file.as_deref(), &args.encrypt_to)?;
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
    let controller = Controller::load(args.controller.as_deref())?;
    let mut app_names = controller.apps.clone();
    app_names.extend(args.app_name.iter().cloned());
    let key = hash_key(&global.work_dir)?;
    let app_name = args.app.as_ref().map(|(o, n)| format!("{o}/{n}"));

    let mut sources = args.source.clone();
    let mut coverage_note = None;
    if let Some((owner, name)) = &args.app
        && let Some(client) = api_client(global, &args, client).await?
    {
        let app = client.app(owner, name);
        let app_name = format!("{owner}/{name}");
        let store = super::crawl::open_store(global).await?;
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
            coverage_note = Some(format!(
                "a targeted answer: the {} crashes App Center's server-side search returned for the user ids and e-mail \
                 addresses given (its index covers the last 28 days and at most 100 reports per identifier), then \
                 searched with everything else in the sources; crashes that hold the identifiers only in free text \
                 and are not in the archive yet are not covered until a full request",
                candidates.len()
            ));
            crashdsr_crawl::fetch_listed(&store, &app, &archive, &candidates, &opts, &bar).await
        } else {
            let inv =
                crashdsr_crawl::inventory(&store, &app, Api::Errors, &crashdsr_crawl::NoProgress)
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
        sources.insert(0, archive.url().to_owned());
        store.close().await;
    } else {
        anyhow::ensure!(
            args.path != PathChoice::Api,
            "--path api needs --app OWNER/APP and an API token"
        );
        anyhow::ensure!(
            !args.targeted,
            "--targeted needs the App Center API (--path api and --app)"
        );
    }
    anyhow::ensure!(
        !sources.is_empty(),
        "nothing to search: name a continuous export or a crawl archive with --source \
         (a directory, az://container/prefix or s3://bucket/prefix)"
    );

    let staging = global
        .work_dir
        .join("requests")
        .join(format!("staging-{}", std::process::id()));
    let sources = sources
        .iter()
        .enumerate()
        .map(|(n, s)| Store::open(s).with_context(|| format!("--source number {}", n + 1)))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let request = crashdsr_answer::Request {
        sources,
        subjects,
        app: app_name,
        app_names,
        received,
        controller,
        key,
        staging: staging.clone(),
        search: SearchOptions {
            narrow: super::index::narrowing(&args.index)?,
            ..SearchOptions::default()
        },
        coverage_note,
        redact_others: args.redact_others,
    };
    let answered = crashdsr_answer::answer(&request, &|line| eprintln!("crashdsr: {line}")).await;
    let result = finish(global, &args, answered, &outs, sealing.as_ref(), received).await;
    let _ = std::fs::remove_dir_all(&staging);
    result
}

/// Writes the packages and their audit records.
async fn finish(
    global: &GlobalArgs,
    args: &RequestArgs,
    answered: crashdsr_answer::Result<crashdsr_answer::Answer>,
    outs: &[PathBuf],
    sealing: Option<&crashdsr_package::Seal>,
    received: NaiveDate,
) -> anyhow::Result<ExitCode> {
    let answer = answered?;
    if !answer.warnings.is_empty() {
        eprintln!(
            "crashdsr: warning: {} objects had a problem the search went past (damaged records, decoding caps); \
             the manifest counts them. The first: {}: {}",
            answer.warnings.len(),
            answer.warnings[0].0,
            answer.warnings[0].1
        );
    }
    let store = super::crawl::open_store(global).await?;
    for (pkg, out) in answer.packages.iter().zip(outs) {
        let written = pkg
            .write(out, sealing, args.force)
            .with_context(|| format!("writing the package {}", out.display()))?;
        let record = pkg.audit_record(&answer, &written, received);
        super::append_audit(&global.work_dir, &record)?;
        store
            .record_request(&RequestRecord {
                request_id: pkg.request_id.clone(),
                app: args
                    .app
                    .as_ref()
                    .map(|(o, n)| format!("{o}/{n}"))
                    .unwrap_or_else(|| "(every app in the sources)".into()),
                subject: pkg.label.clone(),
                received: received.to_string(),
                due: pkg.due.to_string(),
                record: record.to_string(),
                package_sha256: written.sha256.clone(),
            })
            .await?;
        let c = &pkg.counts;
        println!(
            "{}: {} crashes ({} with the subject's details, {} linked by install id), {} activity records, {} objects to review, due {}, sha256 {}",
            out.display(),
            c.crashes,
            c.direct,
            c.linked,
            c.activity_records,
            c.unattributed_objects,
            pkg.due,
            written.sha256
        );
    }
    store.close().await;
    Ok(ExitCode::SUCCESS)
}

/// The API client when the API is to be used: always with `--path api`;
/// with `auto` only if it answers within a few seconds.
async fn api_client(
    global: &GlobalArgs,
    args: &RequestArgs,
    given: Option<crashdsr_appcenter::Client>,
) -> anyhow::Result<Option<crashdsr_appcenter::Client>> {
    if args.path == PathChoice::Export {
        return Ok(None);
    }
    let client = match given {
        Some(c) => c,
        None => match super::client_with(global, args.concurrency as usize) {
            Ok(c) => c,
            Err(e) if args.path == PathChoice::Auto => {
                eprintln!(
                    "crashdsr: not using the App Center API ({e:#}); answering from the sources alone"
                );
                return Ok(None);
            }
            Err(e) => return Err(e),
        },
    };
    if args.path == PathChoice::Api {
        return Ok(Some(client));
    }
    let (owner, name) = args.app.as_ref().expect("called with --app");
    let probe = tokio::time::timeout(
        std::time::Duration::from_secs(5),
        client.app(owner, name).retention(),
    )
    .await;
    match probe {
        Ok(Ok(_)) => Ok(Some(client)),
        Ok(Err(e)) => {
            eprintln!(
                "crashdsr: the App Center API did not answer ({e}); answering from the sources alone"
            );
            Ok(None)
        }
        Err(_) => {
            eprintln!(
                "crashdsr: the App Center API did not answer within 5 s; answering from the sources alone"
            );
            Ok(None)
        }
    }
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

/// Crashes whose `userId` is one of the subjects' user ids or e-mail
/// addresses, by App Center's server-side search (the only filter by user).
async fn targeted_candidates(
    app: &crashdsr_appcenter::AppClient,
    subjects: &[Subject],
) -> anyhow::Result<Vec<crashdsr_state::ListedCrash>> {
    use futures::TryStreamExt;
    let mut out: BTreeMap<String, crashdsr_state::ListedCrash> = BTreeMap::new();
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
                    .or_insert(crashdsr_state::ListedCrash {
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
