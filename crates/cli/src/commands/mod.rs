//! One module per subcommand; `run` dispatches.

mod crawl;
mod demo;
mod emulator;
mod erase;
mod export_config;
mod index;
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
        Command::Search(a) => search::run(&args.global, a).await,
        Command::Verify(a) => verify(&a),
        Command::Index(c) => index::run(&args.global, c).await,
        Command::Request(a) => request::run(&args.global, a).await,
        Command::Erase(a) => erase::erase(&args.global, a).await,
        Command::Purge(a) => erase::purge(&args.global, a).await,
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

/// Subjects from a JSON Lines file, or one subject from `--subject` specs.
pub(crate) fn load_subjects(
    file: Option<&std::path::Path>,
    label: &str,
    specs: &[String],
) -> anyhow::Result<Vec<crashdsr_search::Subject>> {
    match file {
        Some(file) => {
            let text = std::fs::read_to_string(file)
                .with_context(|| format!("reading {}", file.display()))?;
            crashdsr_search::Subject::parse_jsonl(&text)
                .with_context(|| format!("subjects file {}", file.display()))
        }
        None => Ok(vec![crashdsr_search::Subject::from_specs(label, specs)?]),
    }
}

/// Appends one record to `WORK_DIR/audit.jsonl`.
pub(crate) fn append_audit(
    work_dir: &std::path::Path,
    record: &serde_json::Value,
) -> anyhow::Result<()> {
    use std::io::Write as _;
    let path = work_dir.join("audit.jsonl");
    let mut audit = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .with_context(|| format!("opening {}", path.display()))?;
    writeln!(audit, "{record}").with_context(|| format!("writing {}", path.display()))
}

/// Whether the audit log holds a record for which `matches` is true (a
/// missing log holds none).
pub(crate) fn audit_has(
    work_dir: &std::path::Path,
    matches: impl Fn(&serde_json::Value) -> bool,
) -> anyhow::Result<bool> {
    use std::io::BufRead as _;
    let path = work_dir.join("audit.jsonl");
    let file = match std::fs::File::open(&path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(false),
        Err(e) => return Err(e).with_context(|| format!("opening {}", path.display())),
    };
    for line in std::io::BufReader::new(file).lines() {
        let line = line.with_context(|| format!("reading {}", path.display()))?;
        if serde_json::from_str(&line).is_ok_and(|r| matches(&r)) {
            return Ok(true);
        }
    }
    Ok(false)
}

/// How a package or receipt is sealed: `--passphrase-file` or
/// `--encrypt-to`, or not at all.
pub(crate) fn sealing(
    passphrase_file: Option<&std::path::Path>,
    encrypt_to: &[String],
) -> anyhow::Result<Option<crashdsr_package::Seal>> {
    Ok(match (passphrase_file, encrypt_to.is_empty()) {
        (Some(p), _) => Some(crashdsr_package::Seal::Passphrase(read_secret_file(
            p,
            "passphrase",
        )?)),
        (None, false) => Some(crashdsr_package::Seal::Recipients(encrypt_to.to_vec())),
        (None, true) => None,
    })
}

fn read_secret_file(path: &std::path::Path, what: &str) -> anyhow::Result<String> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("reading the {what} file {}", path.display()))?;
    let line = text
        .lines()
        .next()
        .unwrap_or_default()
        .trim_end_matches(['\r', '\n'])
        .to_owned();
    anyhow::ensure!(
        !line.is_empty(),
        "the {what} file {} is empty",
        path.display()
    );
    Ok(line)
}

/// `crashdsr verify PACKAGE`.
fn verify(args: &crate::cli::VerifyArgs) -> anyhow::Result<ExitCode> {
    let v = if crashdsr_package::is_sealed(&args.package) {
        let key = match (&args.identity, &args.passphrase_file) {
            (Some(id), _) => crashdsr_package::Key::Identities(
                std::fs::read_to_string(id)
                    .with_context(|| format!("reading the identity file {}", id.display()))?,
            ),
            (None, Some(p)) => {
                crashdsr_package::Key::Passphrase(read_secret_file(p, "passphrase")?)
            }
            (None, None) => anyhow::bail!(
                "{} is encrypted: pass --identity FILE or --passphrase-file FILE",
                args.package.display()
            ),
        };
        crashdsr_package::verify_sealed(&args.package, &key)
    } else {
        crashdsr_package::verify(&args.package)
    }
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
