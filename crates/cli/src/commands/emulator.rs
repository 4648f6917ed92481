//! `crashdsr emulator`: serves the API emulator until interrupted.

use std::io::Write;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use crashdsr_emulator::{Dataset, DatasetConfig, EmulatorConfig, serve};

use crate::cli::EmulatorArgs;

pub(crate) fn dataset_config(
    seed: u64,
    errors: u64,
    span_days: u32,
    per_group: u64,
    apps: Vec<(String, String)>,
) -> anyhow::Result<DatasetConfig> {
    anyhow::ensure!(errors > 0, "--errors must be at least 1");
    anyhow::ensure!(per_group > 0, "--errors-per-group must be at least 1");
    anyhow::ensure!(
        (1..=3650).contains(&span_days),
        "--span-days must be between 1 and 3650"
    );
    let mut cfg = DatasetConfig::new(seed);
    cfg.errors_per_app = errors;
    cfg.span_days = span_days;
    cfg.errors_per_group = per_group;
    if !apps.is_empty() {
        cfg.apps = apps;
    }
    Ok(cfg)
}

/// A fresh random token for an emulator started without `--token`.
pub(crate) fn random_token() -> String {
    use std::hash::{BuildHasher, Hasher};
    // RandomState is seeded from the OS; two draws give 128 bits.
    (0..2)
        .map(|_| {
            format!(
                "{:016x}",
                std::collections::hash_map::RandomState::new()
                    .build_hasher()
                    .finish()
            )
        })
        .collect()
}

pub(crate) async fn run(args: EmulatorArgs) -> anyhow::Result<ExitCode> {
    let mut dataset = dataset_config(
        args.seed,
        args.errors,
        args.span_days,
        args.errors_per_group,
        args.apps,
    )?;
    dataset.attachment_padding = args.attachment_padding_kib << 10;
    if let Some(path) = &args.truth {
        let truth = Dataset::new(dataset.clone()).truth();
        let file = std::fs::File::create(path)
            .with_context(|| format!("creating the truth file {}", path.display()))?;
        let mut w = std::io::BufWriter::new(file);
        serde_json::to_writer_pretty(&mut w, &truth)?;
        w.flush()
            .with_context(|| format!("writing the truth file {}", path.display()))?;
    }
    let generated = args.token.is_none();
    let token = args.token.unwrap_or_else(random_token);
    let mut cfg = EmulatorConfig::new(dataset, token.clone());
    cfg.read_only_token = args.read_only_token;
    cfg.rate_limit = args.rate_limit.map(|r| (r.requests, r.per));
    cfg.retry_after = !args.no_retry_after;
    cfg.latency = Duration::from_millis(args.latency);
    cfg.faults = args.faults;
    cfg.next_link_without_app = args.next_link_without_app;
    cfg.export_dir = args.export_dir;
    cfg.export_style = args.export_style;
    let running = serve(cfg, args.addr).await.map_err(anyhow::Error::msg)?;
    let mut out = std::io::stdout().lock();
    writeln!(out, "listening on {}", running.base_url())?;
    if generated {
        writeln!(out, "token {token}")?;
    }
    out.flush()?;
    drop(out);
    tokio::select! {
        r = running.wait() => r.context("the emulator stopped")?,
        _ = tokio::signal::ctrl_c() => {}
    }
    Ok(ExitCode::SUCCESS)
}
