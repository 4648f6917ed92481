//! `crashdsr retention`: reads or sets an app's retention (28 or 90 days),
//! which decides between the export path and the API path.

use std::process::ExitCode;

use anyhow::Context;

use crate::cli::{GlobalArgs, RetentionArgs};

pub(crate) async fn run(global: &GlobalArgs, args: RetentionArgs) -> anyhow::Result<ExitCode> {
    let client = super::client(global)?;
    let (owner, name) = &args.app;
    let app = client.app(owner, name);
    let settings = match args.set.as_deref() {
        Some(days) => app
            .set_retention(days.parse().context("retention days")?)
            .await
            .with_context(|| format!("setting the retention of {owner}/{name}"))?,
        None => app
            .retention()
            .await
            .with_context(|| format!("reading the retention of {owner}/{name}"))?,
    };
    println!("{owner}/{name}: {} days", settings.retention_in_days);
    Ok(ExitCode::SUCCESS)
}
