//! `crashdsr demo`: the embedded default. Starts the emulator in-process
//! with a seeded dataset and answers a request for one of its subjects on
//! the defaults (SQLite and a local archive under the work dir): retention,
//! inventory, fetch, search, package. Checks the package against the ground
//! truth and prints where it is; never a subject's identifiers.

use std::collections::BTreeSet;
use std::process::ExitCode;
use std::time::Instant;

use anyhow::Context;
use crashdsr_appcenter::{ApiToken, Client};
use crashdsr_emulator::{Dataset, EmulatorConfig, serve};

use crate::cli::{DemoArgs, GlobalArgs, PathChoice, RequestArgs};

pub(crate) async fn run(global: &GlobalArgs, args: DemoArgs) -> anyhow::Result<ExitCode> {
    let started = Instant::now();
    // 90 days: the API path (inventory, fetch, search of the archive).
    let dataset = super::emulator::dataset_config(args.seed, args.errors, 90, 50, Vec::new())?;
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

    // A fresh state store, archive and package for this seed under the work dir.
    let dir = global
        .work_dir
        .join(format!("demo-seed-{}-{}", args.seed, args.errors));
    if dir.exists() {
        std::fs::remove_dir_all(&dir).with_context(|| format!("clearing {}", dir.display()))?;
    }
    let mut demo_global = global.clone();
    demo_global.work_dir = dir.clone();
    demo_global.state = None;
    demo_global.archive = None;

    // A local emulator has no rate limit to respect.
    let client = Client::builder()
        .base_url(emu.base_url())
        .token(ApiToken::new(token)?)
        .rate_limit(None)
        .concurrency(16)
        .build()?;
    let subject = truth
        .subjects
        .iter()
        .max_by_key(|s| s.direct.len() + s.linked.len())
        .context("no subject")?;
    let specs: Vec<String> = subject
        .identifiers
        .iter()
        .map(|i| format!("{}={}", i.kind, i.value))
        .collect();
    let kinds: Vec<&str> = subject
        .identifiers
        .iter()
        .map(|i| i.kind.as_str())
        .collect();
    println!(
        "Request: subject {:?} ({}) of contoso/demo-app",
        subject.label,
        kinds.join(", ")
    );
    let out = dir.join(format!("{}.zip", subject.label));
    let request = RequestArgs {
        app: ("contoso".into(), "demo-app".into()),
        subject: specs,
        subjects: None,
        label: subject.label.clone(),
        out: out.clone(),
        force: true,
        path: PathChoice::Auto,
        source: Vec::new(),
        received: None,
        controller: None,
        concurrency: 16,
        targeted: false,
        encrypt_to: Vec::new(),
        passphrase_file: None,
    };
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    super::request::answer(&demo_global, request, client).await?;
    emu.shutdown().await?;

    // The package against the ground truth.
    let entries = crashdsr_package::entries(&out)?;
    let mut crashes = BTreeSet::new();
    for name in &entries {
        if let Some(rest) = name.strip_prefix("crashes/") {
            crashes.insert(rest.split('/').next().unwrap_or_default().to_owned());
        }
    }
    let want: BTreeSet<String> = subject
        .direct
        .iter()
        .map(|d| d.error_id.clone())
        .chain(subject.linked.iter().map(|l| l.error_id.clone()))
        .collect();
    let agrees = crashes == want;
    let verified = crashdsr_package::verify(&out)?;
    println!(
        "Package: {} ({} files, checksums {}), {} crashes: {}",
        out.display(),
        entries.len(),
        if verified.ok() { "verified" } else { "BROKEN" },
        crashes.len(),
        if agrees {
            "exactly the crashes the ground truth names"
        } else {
            "THE PACKAGE DISAGREES WITH THE GROUND TRUTH"
        }
    );
    println!(
        "Inside: report.html (open it in a browser), manifest.json, evidence.jsonl, crashes/. Check it with: crashdsr verify {}",
        out.display()
    );
    println!("Done in {:.1} s.", started.elapsed().as_secs_f64());
    Ok(if agrees && verified.ok() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(2)
    })
}
