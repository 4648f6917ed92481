//! `crashdsr inventory`, `fetch` and `status`: the 90-day path.

use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use crashdsr_crawl::{Api, Archive, FetchOptions};
use crashdsr_state::StateStore as Store;

use crate::cli::{ApiChoice, FetchArgs, GlobalArgs, InventoryArgs};
use crate::progress::Bar;

pub(crate) async fn open_store(global: &GlobalArgs) -> anyhow::Result<Store> {
    let url = match &global.state {
        Some(u) => u.clone(),
        None => global
            .work_dir
            .join("state.db")
            .to_string_lossy()
            .into_owned(),
    };
    Store::open(&url).await.with_context(|| {
        format!(
            "opening the state store {}",
            crashdsr_state::redact_url(&url)
        )
    })
}

pub(crate) fn open_archive(global: &GlobalArgs) -> anyhow::Result<Archive> {
    let url = match &global.archive {
        Some(u) => u.clone(),
        None => global
            .work_dir
            .join("archive")
            .to_string_lossy()
            .into_owned(),
    };
    Ok(Archive::open(&url)?)
}

pub(crate) async fn inventory(
    global: &GlobalArgs,
    args: InventoryArgs,
) -> anyhow::Result<ExitCode> {
    let client = super::client(global)?;
    let store = open_store(global).await?;
    let (owner, name) = &args.app;
    let app = client.app(owner, name);
    let api = match args.api {
        ApiChoice::Errors => Api::Errors,
        ApiChoice::Legacy => Api::Legacy,
    };
    let bar = Bar::new("groups", global.no_progress);
    let report = crashdsr_crawl::inventory(&store, &app, api, &bar)
        .await
        .with_context(|| format!("inventory of {owner}/{name}"));
    bar.finish();
    let report = report?;
    let stats = client.stats().await;
    println!(
        "{owner}/{name}: run {}{}, {} groups, {} crashes listed, {} new, {} no longer listed; {} requests",
        report.run,
        if report.resumed { " (resumed)" } else { "" },
        report.groups,
        report.listed,
        report.new,
        report.expired,
        stats.requests
    );
    store.close().await;
    Ok(ExitCode::SUCCESS)
}

pub(crate) async fn fetch(global: &GlobalArgs, args: FetchArgs) -> anyhow::Result<ExitCode> {
    let client = super::client_with(global, args.concurrency as usize)?;
    let store = open_store(global).await?;
    let archive = open_archive(global)?;
    let (owner, name) = &args.app;
    let app = client.app(owner, name);
    let opts = FetchOptions {
        concurrency: args.concurrency as usize,
        batch: i64::from(args.batch),
        lease: Duration::from_secs(args.lease_secs),
        max_attempts: i64::from(args.max_attempts),
        worker: args.worker.unwrap_or_else(crashdsr_crawl::default_worker),
        limit: args.limit,
    };
    let bar = Bar::new("crashes", global.no_progress);
    let started = std::time::Instant::now();
    let report = tokio::select! {
        r = crashdsr_crawl::fetch(&store, &app, &archive, &opts, &bar) => r,
        _ = tokio::signal::ctrl_c() => {
            bar.finish();
            store.release(&opts.worker).await.context("releasing leases after Ctrl-C")?;
            anyhow::bail!("interrupted; nothing half-done is marked, run fetch again to continue");
        }
    };
    bar.finish();
    let report = report
        .with_context(|| format!("fetching crashes of {owner}/{name} into {}", archive.url()))?;
    let stats = client.stats().await;
    let secs = started.elapsed().as_secs_f64();
    println!(
        "{owner}/{name}: {} retrieved, {} gone, {} failed, {} parked, {} to retry; {} artefacts fetched, {} reused; {} requests ({} retries, {} throttled) in {secs:.1} s",
        report.retrieved,
        report.gone,
        report.failed,
        report.parked,
        report.retried,
        report.artefacts_fetched,
        report.artefacts_reused,
        stats.requests,
        stats.retries,
        stats.throttled
    );
    store.close().await;
    Ok(ExitCode::SUCCESS)
}

pub(crate) async fn status(global: &GlobalArgs) -> anyhow::Result<ExitCode> {
    let store = open_store(global).await?;
    let counts = store.counts().await?;
    if counts.is_empty() {
        println!("No crashes in {} yet.", store.url());
    }
    let mut apps: Vec<&str> = counts.iter().map(|c| c.app.as_str()).collect();
    apps.dedup();
    for app in apps {
        let mine: Vec<_> = counts.iter().filter(|c| c.app == app).collect();
        let total: i64 = mine.iter().map(|c| c.count).sum();
        let parts: Vec<String> = mine
            .iter()
            .map(|c| format!("{} {}", c.status, c.count))
            .collect();
        println!("{app}: {total} crashes: {}", parts.join(", "));
    }
    // A worker that has not reported for a minute is gone.
    let workers = store.workers(Duration::from_secs(60)).await?;
    if !workers.is_empty() {
        println!("Running fetches:");
        let now = chrono::Utc::now().timestamp_millis();
        for w in workers {
            let mut line = format!("  {} {}: {}/{} crashes", w.worker, w.app, w.done, w.total);
            if let (Some(rate), Some(max)) = (w.rate_per_sec, w.max_per_sec) {
                if w.slowed() {
                    line.push_str(&format!(", throttled to {rate:.2} of {max:.2} requests/s"));
                } else {
                    line.push_str(&format!(", {rate:.2} requests/s"));
                }
            }
            line.push_str(&format!(
                ", {} 429s in the last minute",
                w.throttled_last_minute
            ));
            if let Some(eta) = w.eta_secs {
                line.push_str(&format!(", about {} left", crashdsr_crawl::human_secs(eta)));
            }
            line.push_str(&format!(
                " (reported {} s ago)",
                (now - w.updated_at).max(0) / 1000
            ));
            println!("{line}");
        }
    }
    let tasks = store.segment_counts().await?;
    if !tasks.is_empty() {
        println!("Index segment tasks:");
        for t in tasks {
            println!(
                "  {}: {} pending, {} being built, {} built",
                t.index, t.pending, t.leased, t.done
            );
        }
    }
    let requests = store.open_requests().await?;
    if !requests.is_empty() {
        println!("Open requests:");
        let today = chrono::Utc::now().date_naive();
        for r in requests {
            let left = chrono::NaiveDate::parse_from_str(&r.due, "%Y-%m-%d")
                .map(|d| (d - today).num_days())
                .map(|d| {
                    if d < 0 {
                        format!("{} days overdue", -d)
                    } else {
                        format!("{d} days left")
                    }
                })
                .unwrap_or_else(|_| "due date unreadable".into());
            println!(
                "  {} {} {} received {}, due {} ({left})",
                r.request_id, r.app, r.subject, r.received, r.due
            );
        }
    }
    let errors = store.last_errors(10).await?;
    if !errors.is_empty() {
        println!("Last errors:");
        for e in errors {
            println!(
                "  {} {} {} after {} attempt(s): {}",
                e.app, e.error_id, e.status, e.attempts, e.reason
            );
        }
    }
    store.close().await;
    Ok(ExitCode::SUCCESS)
}
