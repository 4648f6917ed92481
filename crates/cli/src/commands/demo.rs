//! `crashdsr demo`: the embedded default. Starts the emulator in-process
//! with a seeded dataset and walks the API the way a request does: app,
//! retention, every error group and error, then one subject's crashes with
//! all their artefacts. Prints what it did; never a subject's identifiers.

use std::collections::BTreeSet;
use std::process::ExitCode;
use std::time::Instant;

use anyhow::Context;
use crashdsr_appcenter::{
    ApiToken, Client, DownloadFormat, ListOptions, SessionLogsPath, Timestamp, collect_all,
};
use crashdsr_emulator::{Dataset, EmulatorConfig, serve};
use futures::TryStreamExt;

use crate::cli::{DemoArgs, GlobalArgs};

pub(crate) async fn run(_global: &GlobalArgs, args: DemoArgs) -> anyhow::Result<ExitCode> {
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

    // A local emulator has no rate limit to respect.
    let client = Client::builder()
        .base_url(emu.base_url())
        .token(ApiToken::new(token)?)
        .rate_limit(None)
        .concurrency(16)
        .build()?;
    let app = client.app("contoso", "demo-app");
    let meta = app.get_app().await.context("reading the app")?;
    let retention = app
        .retention()
        .await
        .context("reading the retention setting")?;
    println!(
        "App {meta} (id {}), retention {} days",
        meta.id, retention.retention_in_days
    );

    let since = Timestamp(
        chrono::Utc::now() - chrono::Duration::days(i64::from(retention.retention_in_days) + 1),
    );
    let opts = ListOptions::since(since);
    let groups = collect_all(app.error_groups(&opts))
        .await
        .context("listing error groups")?;
    let mut errors = 0usize;
    for g in &groups {
        errors += app
            .errors_for_group(&g.error_group_id, &opts)
            .try_fold(0, |n, _| async move { Ok(n + 1) })
            .await?;
    }
    let crashes = groups.iter().filter(|g| g.is_crash()).count();
    println!(
        "Inventory: {} error groups ({crashes} crash, {} handled), {errors} errors",
        groups.len(),
        groups.len() - crashes
    );

    // One subject, found by the only server-side filter the API has.
    let typed = |s: &crashdsr_emulator::TruthSubject| {
        s.direct
            .iter()
            .filter(|d| d.r#where.iter().any(|w| w == "userId"))
            .count()
    };
    let subject = truth
        .subjects
        .iter()
        .max_by_key(|s| typed(s))
        .context("the dataset has no subject")?;
    let mut found = BTreeSet::new();
    for id in subject
        .identifiers
        .iter()
        .filter(|i| i.kind == "user-id" || i.kind == "email")
    {
        let filter = format!("userId eq '{}'", id.value.replace('\'', "''"));
        let hits = collect_all(app.search_errors(None, Some(&filter)))
            .await
            .context("searching errors")?;
        found.extend(hits.into_iter().map(|e| (e.error_id, e.error_group_id)));
    }
    let (mut artefacts, mut bytes) = (0usize, 0u64);
    for (error_id, group_id) in &found {
        let group_id = group_id
            .as_deref()
            .context("the search result names no error group")?;
        app.error_details(group_id, error_id).await?;
        app.error_stacktrace(group_id, error_id).await?;
        let mut sink = tokio::io::sink();
        bytes += app
            .download_error(group_id, error_id, DownloadFormat::Json, &mut sink)
            .await?;
        let attachments = app.attachments(error_id).await?;
        let logs = collect_all(app.session_logs(error_id, SessionLogsPath::Spec)).await?;
        artefacts += 3 + attachments.len() + usize::from(!logs.is_empty());
        for a in &attachments {
            let loc = app.attachment_location(error_id, &a.attachment_id).await?;
            bytes += client.download_location(&loc, &mut sink).await?;
        }
    }
    let typed = typed(subject);
    println!(
        "Subject {:?}: the server-side search by userId finds {} crashes ({} artefacts, {} bytes downloaded).",
        subject.label,
        found.len(),
        artefacts,
        bytes
    );
    println!(
        "Ground truth: {} crashes hold this subject's data ({typed} in userId), {} more are linked by install id.",
        subject.direct.len(),
        subject.linked.len()
    );
    if typed < subject.direct.len() {
        println!(
            "The other {} hold it in messages, properties, attachments or session logs: only a full crawl and search finds them.",
            subject.direct.len() - typed
        );
    }
    let stats = client.stats().await;
    println!(
        "{} API requests, {} retries, {:.1} s",
        stats.requests,
        stats.retries,
        started.elapsed().as_secs_f64()
    );
    emu.shutdown().await?;
    Ok(ExitCode::SUCCESS)
}
