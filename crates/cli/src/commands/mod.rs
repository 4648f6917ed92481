//! One module per subcommand; `run` dispatches.

mod crawl;
mod demo;
mod emulator;
mod export_config;
mod report;
mod request;
mod retention;
mod search;

use std::process::ExitCode;

use anyhow::Context;
use crashdsr_appcenter::{ApiToken, Client};

use crate::cli::{Cli, Command, GlobalArgs};

pub(crate) async fn run(args: Cli) -> anyhow::Result<ExitCode> {
    match args.command {
        Command::Demo(a) => demo::run(&args.global, a).await,
        Command::Emulator(a) => emulator::run(a).await,
        Command::Retention(a) => retention::run(&args.global, a).await,
        Command::Inventory(a) => crawl::inventory(&args.global, a).await,
        Command::Fetch(a) => crawl::fetch(&args.global, a).await,
        Command::Status => crawl::status(&args.global).await,
        Command::ExportConfig(a) => export_config::run(&args.global, a).await,
        Command::ExportRead(a) => export_config::read(a).await,
        Command::Search(a) => search::run(a).await,
        Command::Verify(a) => verify(&a),
        Command::Request(a) => request::run(&args.global, a).await,
    }
}

/// The API client from the global flags, the token from the environment
/// or the token file.
pub(crate) fn client(global: &GlobalArgs) -> anyhow::Result<Client> {
    client_with(global, 8)
}

/// The API client with `concurrency` requests in flight.
pub(crate) fn client_with(global: &GlobalArgs, concurrency: usize) -> anyhow::Result<Client> {
    let token = ApiToken::from_env_or_file(global.token_file.as_deref())
        .context("reading the API token")?;
    Client::builder()
        .base_url(&global.base_url)
        .token(token)
        .rate_limit(Some(global.api_rate))
        .concurrency(concurrency)
        .build()
        .context("setting up the App Center client")
}

/// `crashdsr verify PACKAGE`.
fn verify(args: &crate::cli::VerifyArgs) -> anyhow::Result<ExitCode> {
    let v = crashdsr_package::verify(&args.package)
        .with_context(|| format!("verifying {}", args.package.display()))?;
    if v.ok() {
        println!(
            "{}: intact, {} files match SHA256SUMS",
            args.package.display(),
            v.checked
        );
        return Ok(ExitCode::SUCCESS);
    }
    for p in &v.problems {
        eprintln!("crashdsr: {}: {p}", args.package.display());
    }
    Ok(ExitCode::from(2))
}
