//! `crashdsr erase` and `crashdsr purge`: the plan, apply and receipt
//! cycle of `crashdsr-erase`. Without `--apply` they only write a plan;
//! with it they run that plan, journaled in the state store, re-scan, and
//! write a sealed receipt recorded in the audit. Exit 0: done and the
//! re-scan is clean; 1: done, but objects were left alone (changed since
//! planning, or gone) or the re-scan still finds something; 2: error.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, bail};
use crashdsr_crawl::Progress as _;
use crashdsr_erase::{ApplyOptions, Kind, Plan, PlanSubject, PurgePlan, Unredactable};
use crashdsr_search::{SearchOptions, Subject};

use crate::cli::{EraseArgs, GlobalArgs, PlanApplyArgs, PurgeArgs, UnredactableArg};
use crate::progress::Bar;

pub(crate) async fn erase(global: &GlobalArgs, args: EraseArgs) -> anyhow::Result<ExitCode> {
    let subjects = super::load_subjects(args.subjects.as_deref(), &args.label, &args.subject)?;
    let key = super::request::hash_key(&global.work_dir)?;
    match &args.cycle.apply {
        None => {
            let out = plan_out(&args.cycle)?;
            let api = match (args.api, &args.app) {
                (false, _) => None,
                (true, None) => bail!("--api needs --app OWNER/APP when planning"),
                (true, Some((owner, app))) => Some(super::client(global)?.app(owner, app)),
            };
            eprintln!("crashdsr: searching {} source(s)", args.source.len());
            let opts = SearchOptions {
                narrow: super::index::narrowing(&args.index)?,
                ..SearchOptions::default()
            };
            let plan = crashdsr_erase::plan_erase(
                &args.source,
                subjects,
                args.include_linked,
                &key,
                &opts,
                api.as_ref(),
                match args.unredactable {
                    None => Unredactable::Refuse,
                    Some(UnredactableArg::Delete) => Unredactable::Delete,
                    Some(UnredactableArg::Keep) => Unredactable::Keep,
                },
            )
            .await?;
            write_plan(&plan, &out, &args.cycle)?;
            let through_api = plan.api.as_ref().map_or(String::new(), |a| {
                let unknown = a
                    .crashes
                    .iter()
                    .filter(|c| c.error_group_id.is_none())
                    .count();
                format!(
                    " Through the API of {}: {} crashes to delete ({unknown} of them with no group found: the API cannot delete those), {} installs to block.",
                    a.app,
                    a.crashes.len(),
                    a.installs.len()
                )
            });
            let masked = plan.rewrites.iter().map(|r| r.redact.len()).sum::<usize>();
            let others = if plan.redacts.is_empty() && masked == 0 && plan.kept.is_empty() {
                String::new()
            } else {
                format!(
                    " In someone else's crash: {} objects and {masked} records to mask the person's data in, {} left as they are.",
                    plan.redacts.len(),
                    plan.kept.len()
                )
            };
            println!(
                "Plan {}: {} objects to delete, {} log blobs to rewrite ({} records dropped).{others}{through_api} Nothing was changed.\n\
                 Review {}, then run it with: crashdsr erase --apply {} and the same --subject/--subjects{}",
                plan.plan_id,
                plan.deletes.len(),
                plan.rewrites.len(),
                plan.rewrites.iter().map(|r| r.drop.len()).sum::<usize>(),
                out.display(),
                out.display(),
                if plan.api.is_some() { " and --api" } else { "" }
            );
            Ok(ExitCode::SUCCESS)
        }
        Some(path) => {
            let (plan, plan_sha) = read_plan(path)?;
            let mine: Vec<PlanSubject> =
                subjects.iter().map(|s| PlanSubject::of(s, &key)).collect();
            if mine != plan.subjects {
                bail!(
                    "the people given are not the plan's (their identifiers' keyed hashes differ); \
                     give the same --subject/--subjects as when planning, with the same work dir"
                );
            }
            let api = match (&plan.api, args.api) {
                (Some(a), true) => {
                    let (owner, app) = crate::cli::parse_app(&a.app).map_err(anyhow::Error::msg)?;
                    Some(crashdsr_erase::ApiAccess {
                        client: super::client(global)?.app(&owner, &app),
                        key: key.clone(),
                    })
                }
                (Some(_), false) => bail!(
                    "this plan also deletes through the API: run it with --api (the API token and --base-url as when planning)"
                ),
                (None, true) => bail!(
                    "--api: this plan was made without --api; plan again with --api --app OWNER/APP"
                ),
                (None, false) => None,
            };
            run(global, &args, plan, plan_sha, subjects, api).await
        }
    }
}

pub(crate) async fn purge(global: &GlobalArgs, args: PurgeArgs) -> anyhow::Result<ExitCode> {
    match &args.cycle.apply {
        None => {
            let out = plan_out(&args.cycle)?;
            let as_of = match &args.as_of {
                None => chrono::Utc::now(),
                Some(t) => chrono::DateTime::parse_from_rfc3339(t)
                    .map(|t| t.with_timezone(&chrono::Utc))
                    .or_else(|_| {
                        chrono::NaiveDate::parse_from_str(t, "%Y-%m-%d")
                            .map(|d| d.and_hms_opt(0, 0, 0).expect("midnight").and_utc())
                    })
                    .with_context(|| format!("--as-of {t:?}: expected RFC 3339 or YYYY-MM-DD"))?,
            };
            let days = args.older_than.expect("clap requires --older-than");
            let cutoff = (as_of - chrono::Duration::days(i64::from(days)))
                .format("%Y-%m-%dT%H:%M")
                .to_string();
            let plan = crashdsr_erase::plan_purge(&args.source, &cutoff, &out).await?;
            println!(
                "Plan {}: everything before {cutoff} UTC: {} objects to delete ({} bytes). Nothing was changed.\n\
                 Review {} (JSON Lines, one object a line), then run it with: crashdsr purge --apply {}",
                plan.plan_id,
                plan.deletes,
                plan.bytes,
                out.display(),
                out.display()
            );
            Ok(ExitCode::SUCCESS)
        }
        Some(path) => {
            let plan = PurgePlan::open(path)?;
            let plan_sha = crashdsr_package::sha256_file(path)?;
            run_purge(global, &args.cycle, &args.index, plan, plan_sha).await
        }
    }
}

fn plan_out(cycle: &PlanApplyArgs) -> anyhow::Result<PathBuf> {
    let out = cycle.plan_out.clone().expect("clap requires --plan-out");
    if out.exists() && !cycle.force {
        bail!("{} exists; pass --force to replace it", out.display());
    }
    Ok(out)
}

fn write_plan(plan: &Plan, out: &Path, cycle: &PlanApplyArgs) -> anyhow::Result<()> {
    if out.exists() && !cycle.force {
        bail!("{} exists; pass --force to replace it", out.display());
    }
    let json = serde_json::to_vec_pretty(plan)?;
    let partial = PathBuf::from(format!("{}.partial", out.display()));
    std::fs::write(&partial, json)
        .and_then(|()| std::fs::rename(&partial, out))
        .with_context(|| format!("writing the plan {}", out.display()))
}

/// Reads an erasure plan (a purge plan is refused, named).
fn read_plan(path: &Path) -> anyhow::Result<(Plan, String)> {
    if crashdsr_erase::is_purge_plan(path) {
        bail!(
            "{} is a purge plan; run it with `crashdsr purge --apply`",
            path.display()
        );
    }
    let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    let plan = Plan::from_json(&bytes).with_context(|| format!("the plan {}", path.display()))?;
    if plan.kind != Kind::Erase {
        bail!(
            "{} is a purge plan of an older crashdsr; plan the purge again and run it with `crashdsr purge --apply`",
            path.display()
        );
    }
    Ok((plan, crashdsr_package::sha256_file(path)?))
}

/// For the kill tests: with `CRASHDSR_TEST_PAUSE_AT` set to `at`, says so
/// and waits to be killed (the numbered checkpoints are the apply's).
fn pause_for_tests(at: &str) {
    if std::env::var("CRASHDSR_TEST_PAUSE_AT").is_ok_and(|v| v == at) {
        eprintln!("crashdsr: paused at checkpoint {at}");
        loop {
            std::thread::sleep(std::time::Duration::from_secs(3600));
        }
    }
}

/// Where the receipt goes, how it is sealed, and what an earlier run left.
struct Receipt {
    out: PathBuf,
    sealing: Option<crashdsr_package::Seal>,
    /// A receipt for this plan written by a run that stopped before the
    /// audit (its SHA-256).
    earlier: Option<String>,
}

/// Prepares the receipt of a plan: `Err(code)` when the plan was applied
/// already (its receipt is there and the audit records it: nothing to do).
/// When a receipt is there but the audit does not record it, the run that
/// wrote it stopped before the audit, which this run completes (the
/// journal makes the apply a no-op).
fn prepare(
    global: &GlobalArgs,
    cycle: &PlanApplyArgs,
    plan_id: &str,
    plan_sha: &str,
) -> anyhow::Result<Result<Receipt, ExitCode>> {
    let sealing = super::sealing(cycle.passphrase_file.as_deref(), &cycle.encrypt_to)?;
    let suffix = if sealing.is_some() {
        ".zip.age"
    } else {
        ".zip"
    };
    let out = match &cycle.receipt_out {
        Some(p) => p.clone(),
        None => {
            let dir = global.work_dir.join("erasures");
            std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
            dir.join(format!("{plan_id}{suffix}"))
        }
    };
    let mut earlier = None;
    if out.exists() && !cycle.force {
        let sha = crashdsr_package::sha256_file(&out)?;
        let recorded = super::audit_has(&global.work_dir, |r| {
            r["plan_id"] == plan_id
                && r["plan_sha256"] == plan_sha
                && r["receipt_sha256"] == sha.as_str()
        })?;
        if recorded {
            println!(
                "{}: the plan {plan_id} was already applied; this is its receipt (sha256 {sha}); nothing to do",
                out.display()
            );
            return Ok(Err(ExitCode::SUCCESS));
        }
        earlier = Some(sha);
    }
    Ok(Ok(Receipt {
        out,
        sealing,
        earlier,
    }))
}

/// 0 when the run is clean (the re-scan finds nothing, nothing was left
/// alone), 1 otherwise.
fn exit(clean: bool) -> ExitCode {
    if clean {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}

/// Writes the receipt (unless an earlier run did) and its audit record:
/// keyed hashes and counts, never identifier values.
fn seal_and_record(
    global: &GlobalArgs,
    cycle: &PlanApplyArgs,
    (plan_id, plan_sha): (&str, &str),
    r: Receipt,
    json: &serde_json::Value,
    receipt: impl FnOnce() -> anyhow::Result<crashdsr_package::PackageBuilder>,
) -> anyhow::Result<(PathBuf, String)> {
    let out = &r.out;
    let (path, sha) = match r.earlier {
        Some(sha) => {
            eprintln!(
                "crashdsr: the plan {plan_id} was already applied; its receipt {} was written by a run that stopped before the audit record, which is written now",
                out.display()
            );
            (out.to_owned(), sha)
        }
        None => {
            let written = receipt()?
                .write_sealed(out, r.sealing.as_ref(), cycle.force)
                .with_context(|| format!("writing the receipt {}", out.display()))?;
            (written.path, written.sha256)
        }
    };
    pause_for_tests("receipt");
    let operator = std::env::var("USER")
        .or_else(|_| std::env::var("LOGNAME"))
        .unwrap_or_else(|_| "unknown".into());
    let record = serde_json::json!({
        "time": json["time"],
        "operator": operator,
        "kind": json["kind"],
        "plan_id": plan_id,
        "plan_sha256": plan_sha,
        "subjects": json["subjects"],
        "cutoff": json["cutoff"],
        "counts": json["counts"],
        "rescan": json["rescan"],
        "receipt": path.display().to_string(),
        "receipt_sha256": sha,
    });
    super::append_audit(&global.work_dir, &record)?;
    Ok((path, sha))
}

fn pause_at() -> Option<u64> {
    std::env::var("CRASHDSR_TEST_PAUSE_AT")
        .ok()
        .and_then(|v| v.parse().ok())
}

async fn run(
    global: &GlobalArgs,
    args: &EraseArgs,
    plan: Plan,
    plan_sha: String,
    subjects: Vec<Subject>,
    api: Option<crashdsr_erase::ApiAccess>,
) -> anyhow::Result<ExitCode> {
    let cycle = &args.cycle;
    let receipt = match prepare(global, cycle, &plan.plan_id, &plan_sha)? {
        Ok(r) => r,
        Err(done) => return Ok(done),
    };
    let store = super::crawl::open_store(global).await?;
    let bar = Bar::new("steps", global.no_progress);
    bar.set_total(plan.steps() as u64);
    let opts = ApplyOptions {
        pause_at: pause_at(),
        api,
        subjects: subjects.clone(),
    };
    let outcome = crashdsr_erase::apply(&plan, &store, &opts, &|_, _| bar.inc(1)).await;
    bar.finish();
    let outcome = outcome?;
    eprintln!(
        "crashdsr: {} deleted, {} rewritten, {} masked in someone else's crash, {} refused, {} gone; re-scanning",
        outcome.deleted.len(),
        outcome.rewritten.len(),
        outcome.redacted.len(),
        outcome.refused.len(),
        outcome.vanished.len()
    );
    if plan.api.is_some() {
        eprintln!(
            "crashdsr: through the API: {} crashes deleted, {} installs blocked",
            outcome.api_deleted.len(),
            outcome.blocked.len()
        );
    }
    for s in outcome.refused.iter().chain(&outcome.vanished) {
        eprintln!(
            "crashdsr: left alone: source {}: {}: {}",
            s.source, s.object, s.why
        );
    }
    let index = super::index::after_change(global, &args.index, &plan.sources).await?;
    let opts = SearchOptions {
        narrow: super::index::narrowing(&args.index)?,
        ..SearchOptions::default()
    };
    let rescan = crashdsr_erase::rescan_erase(&plan, subjects, &opts).await?;
    let mut json = crashdsr_erase::receipt_json(&plan, &plan_sha, &outcome, &rescan);
    if let Some(i) = index {
        json["index"] = i;
    }
    let (receipt_path, receipt_sha) = seal_and_record(
        global,
        cycle,
        (&plan.plan_id, &plan_sha),
        receipt,
        &json,
        || Ok(crashdsr_erase::receipt(&json, &plan, &outcome, &rescan)?),
    )?;
    store.close().await;
    println!(
        "{}: {} objects deleted, {} log blobs rewritten, {} refused, {} gone; re-scan of {} objects: {} {}; sha256 {}",
        receipt_path.display(),
        outcome.deleted.len(),
        outcome.rewritten.len(),
        outcome.refused.len(),
        outcome.vanished.len(),
        rescan.objects,
        rescan.left,
        rescan.what,
        receipt_sha
    );
    Ok(exit(
        rescan.left == 0 && outcome.refused.is_empty() && outcome.vanished.is_empty(),
    ))
}

/// `purge --apply`: the plan streamed from its file, what was done
/// spooled to files in the work dir, the receipt written from them.
async fn run_purge(
    global: &GlobalArgs,
    cycle: &PlanApplyArgs,
    index: &crate::cli::UseIndexArgs,
    plan: PurgePlan,
    plan_sha: String,
) -> anyhow::Result<ExitCode> {
    let receipt = match prepare(global, cycle, &plan.plan_id, &plan_sha)? {
        Ok(r) => r,
        Err(done) => return Ok(done),
    };
    let spool = global
        .work_dir
        .join("erasures")
        .join(format!("{}.spool", plan.plan_id));
    std::fs::create_dir_all(&spool).with_context(|| format!("creating {}", spool.display()))?;
    let store = super::crawl::open_store(global).await?;
    let bar = Bar::new("objects", global.no_progress);
    bar.set_total(plan.deletes);
    let opts = ApplyOptions {
        pause_at: pause_at(),
        ..ApplyOptions::default()
    };
    let shown = std::cell::Cell::new(0);
    let outcome = crashdsr_erase::apply_purge(&plan, &store, &opts, &spool, &|done, _| {
        bar.inc(done - shown.replace(done));
    })
    .await;
    bar.finish();
    let outcome = outcome?;
    eprintln!(
        "crashdsr: {} deleted, {} refused, {} gone (listed in {}); re-scanning",
        outcome.deleted,
        outcome.refused,
        outcome.vanished,
        outcome.left_alone_file.display()
    );
    let index = super::index::after_change(global, index, &plan.sources).await?;
    let rescan = crashdsr_erase::rescan_purge(&plan).await?;
    let mut json = crashdsr_erase::purge_receipt_json(&plan, &plan_sha, &outcome, &rescan);
    if let Some(i) = index {
        json["index"] = i;
    }
    let (receipt_path, receipt_sha) = seal_and_record(
        global,
        cycle,
        (&plan.plan_id, &plan_sha),
        receipt,
        &json,
        || {
            Ok(crashdsr_erase::purge_receipt(
                &json, &plan, &outcome, &rescan,
            )?)
        },
    )?;
    store.close().await;
    let _ = std::fs::remove_dir_all(&spool);
    println!(
        "{}: {} objects deleted, {} refused, {} gone; re-scan of {} objects: {} {}; sha256 {}",
        receipt_path.display(),
        outcome.deleted,
        outcome.refused,
        outcome.vanished,
        rescan.objects,
        rescan.left,
        rescan.what,
        receipt_sha
    );
    Ok(exit(
        rescan.left == 0 && outcome.refused == 0 && outcome.vanished == 0,
    ))
}
