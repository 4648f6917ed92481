//! `crashdsr demo`: the embedded default. Starts the emulator in-process
//! with a seeded dataset and runs the 90-day path on the defaults (SQLite
//! and a local archive under the work dir): inventory, fetch, then a search
//! for one of the dataset's subjects, checked against the ground truth.
//! Prints what it did; never a subject's identifiers.

use std::collections::BTreeSet;
use std::process::ExitCode;
use std::time::Instant;

use anyhow::Context;
use crashdsr_appcenter::{ApiToken, Client};
use crashdsr_crawl::{Api, Archive, FetchOptions, Store};
use crashdsr_emulator::{Dataset, EmulatorConfig, serve};
use crashdsr_search::{IdKind, Identifier, Input, SearchOptions, Subject};

use crate::cli::{DemoArgs, GlobalArgs};
use crate::progress::Bar;

pub(crate) async fn run(global: &GlobalArgs, args: DemoArgs) -> anyhow::Result<ExitCode> {
    let started = Instant::now();
    let dataset = super::emulator::dataset_config(args.seed, args.errors, 28, 50, Vec::new())?;
    let truth = Dataset::new(dataset.clone()).truth();
    let token = super::emulator::random_token();
    let emu = serve(
        EmulatorConfig::new(dataset, token.clone()),
        "127.0.0.1:0".parse()?,
    )
    .await
    .map_err(anyhow::Error::msg)?;
    println!(
        "Emulator: seed {}, {} errors, serving on {}",
        args.seed,
        args.errors,
        emu.base_url()
    );

    // A fresh state store and archive for this seed under the work dir.
    let dir = global
        .work_dir
        .join(format!("demo-seed-{}-{}", args.seed, args.errors));
    if dir.exists() {
        std::fs::remove_dir_all(&dir).with_context(|| format!("clearing {}", dir.display()))?;
    }
    let store = Store::open(dir.join("state.db").to_str().context("a UTF-8 work dir")?).await?;
    let archive_dir = dir.join("archive");
    let archive = Archive::open(archive_dir.to_str().context("a UTF-8 work dir")?)?;

    // A local emulator has no rate limit to respect.
    let client = Client::builder()
        .base_url(emu.base_url())
        .token(ApiToken::new(token)?)
        .rate_limit(None)
        .concurrency(16)
        .build()?;
    let app = client.app("contoso", "demo-app");
    let retention = app
        .retention()
        .await
        .context("reading the retention setting")?;
    println!(
        "App contoso/demo-app keeps crashes {} days: the API path (inventory, fetch, search).",
        retention.retention_in_days
    );

    let inv =
        crashdsr_crawl::inventory(&store, &app, Api::Errors, &crashdsr_crawl::NoProgress).await?;
    println!(
        "Inventory: {} groups, {} crashes listed into {}",
        inv.groups,
        inv.listed,
        store.url()
    );
    let bar = Bar::new("crashes", global.no_progress);
    let opts = FetchOptions {
        concurrency: 16,
        batch: 64,
        ..Default::default()
    };
    let fetched = crashdsr_crawl::fetch(&store, &app, &archive, &opts, &bar).await;
    bar.finish();
    let fetched = fetched?;
    let stats = client.stats().await;
    println!(
        "Fetch: {} crashes archived in {} ({} artefacts, {} API requests)",
        fetched.retrieved,
        archive_dir.display(),
        fetched.artefacts_fetched,
        stats.requests
    );
    store.close().await;
    emu.shutdown().await?;

    // The subject with the most crashes, searched for in the archive.
    let subject = truth
        .subjects
        .iter()
        .max_by_key(|s| s.direct.len())
        .context("the dataset has no subject")?;
    let identifiers = subject
        .identifiers
        .iter()
        .map(|i| {
            let kind: IdKind = serde_json::from_value(serde_json::json!(i.kind))?;
            Ok(Identifier::new(kind, &i.value)?)
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    let kinds: Vec<&str> = identifiers.iter().map(|i| i.kind.as_str()).collect();
    let search_subject = Subject {
        label: subject.label.clone(),
        identifiers,
    };
    let inputs = vec![Input::open(
        archive_dir.to_str().context("a UTF-8 work dir")?,
    )?];
    let report = tokio::task::spawn_blocking(move || {
        crashdsr_search::search(
            &inputs,
            vec![search_subject],
            &SearchOptions {
                expand_install_ids: true,
                ..Default::default()
            },
        )
    })
    .await??;
    let direct: BTreeSet<&str> = report
        .evidence
        .iter()
        .filter(|e| !e.linked)
        .filter_map(|e| e.error_id.as_deref())
        .collect();
    let linked: BTreeSet<&str> = report
        .evidence
        .iter()
        .filter(|e| e.linked)
        .filter_map(|e| e.error_id.as_deref())
        .collect();
    println!(
        "Search for subject {:?} ({}): {} crashes hold their data, {} more share their installs ({} objects, {} bytes scanned)",
        subject.label,
        kinds.join(", "),
        direct.len(),
        linked.len(),
        report.objects,
        report.bytes
    );
    let want_direct: BTreeSet<&str> = subject.direct.iter().map(|d| d.error_id.as_str()).collect();
    let want_linked: BTreeSet<&str> = subject.linked.iter().map(|d| d.error_id.as_str()).collect();
    let agrees = direct == want_direct && linked == want_linked;
    println!(
        "Ground truth: {} direct, {} linked: {}",
        want_direct.len(),
        want_linked.len(),
        if agrees {
            "the search found exactly these"
        } else {
            "THE SEARCH DISAGREES"
        }
    );
    println!(
        "Done in {:.1} s. Next: crashdsr search --source {} --subject TYPE=VALUE",
        started.elapsed().as_secs_f64(),
        archive_dir.display()
    );
    Ok(if agrees {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(2)
    })
}
