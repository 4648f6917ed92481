//! `crashdsr demo`: the embedded default, in today's world. The emulator
//! writes a continuous export of a seeded dataset into a local directory,
//! in the shapes App Center's backend really wrote, and the request is
//! answered from that export alone, with no API (App Center's API ended
//! on 2026-06-30). `--path api` answers through the emulator's API
//! instead (inventory, fetch into the archive, search). Either way the
//! package is checked against the ground truth; the demo prints where it
//! is, never a subject's identifiers.

use std::collections::BTreeSet;
use std::process::ExitCode;
use std::time::Instant;

use anyhow::Context;
use crashdsr_appcenter::models::BlobPathFormatKind;
use crashdsr_appcenter::{ApiToken, Client, Timestamp};
use crashdsr_emulator::export::{ExportPlan, ExportStyle, Target, open_target, write};
use crashdsr_emulator::{Dataset, EmulatorConfig, serve};

use crate::cli::{DemoArgs, DemoPath, GlobalArgs, PathChoice, RequestArgs};

pub(crate) async fn run(global: &GlobalArgs, args: DemoArgs) -> anyhow::Result<ExitCode> {
    let started = Instant::now();
    let dataset = super::emulator::dataset_config(args.seed, args.errors, 90, 50, Vec::new())?;
    let data = Dataset::new(dataset.clone());
    let truth = data.truth();

    // A fresh state store, archive, export and package for this seed.
    let dir = global.work_dir.join(format!(
        "demo-{}-seed-{}-{}",
        args.path.name(),
        args.seed,
        args.errors
    ));
    if dir.exists() {
        std::fs::remove_dir_all(&dir).with_context(|| format!("clearing {}", dir.display()))?;
    }
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let mut demo_global = global.clone();
    demo_global.work_dir = dir.clone();
    demo_global.state = None;
    demo_global.archive = None;

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
    let out = dir.join(format!("{}.zip", subject.label));
    let mut request = RequestArgs {
        app: None,
        app_name: vec![(data.app_id(0).to_ascii_lowercase(), data.app_name(0))],
        subject: specs,
        subjects: None,
        label: subject.label.clone(),
        out: out.clone(),
        redact_others: false,
        force: true,
        path: PathChoice::Export,
        source: Vec::new(),
        received: None,
        controller: None,
        concurrency: 16,
        targeted: false,
        encrypt_to: Vec::new(),
        passphrase_file: None,
        index: crate::cli::UseIndexArgs {
            index: None,
            key_file: None,
            trust_folder_times: false,
        },
    };
    println!(
        "Request: subject {:?} ({}) of {}",
        subject.label,
        kinds.join(", "),
        data.app_name(0)
    );
    match args.path {
        DemoPath::Export => {
            // Everything the app sent in the span: the export as the
            // organisation holds it today.
            let plan = ExportPlan {
                app: 0,
                since: Timestamp(
                    dataset.now - chrono::Duration::days(i64::from(dataset.span_days) + 1),
                ),
                entities: Vec::new(),
                path_format: BlobPathFormatKind::WithoutAppId,
                style: ExportStyle::Dotnet,
            };
            let storage = dir.join("storage");
            let store = open_target(&Target::Dir(storage.clone()))
                .await
                .map_err(anyhow::Error::msg)?;
            let blobs = write(&data, &plan, store, |_| true)
                .await
                .map_err(anyhow::Error::msg)?;
            println!(
                "Export: seed {}, {} errors, {blobs} blobs in {} (as App Center's backend wrote them); no API",
                args.seed,
                args.errors,
                storage.join("archive").display()
            );
            request.source = vec![storage.join("archive").display().to_string()];
            super::request::answer(&demo_global, request, None).await?;
        }
        DemoPath::Api => {
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
            request.app = crate::cli::parse_app(&data.app_name(0)).ok();
            request.app_name.clear();
            request.path = PathChoice::Api;
            super::request::answer(&demo_global, request, Some(client)).await?;
            emu.shutdown().await?;
        }
    }

    // The package against the ground truth.
    let entries = crashdsr_package::entries(&out)?;
    let mut crashes = BTreeSet::new();
    let mut with_report = BTreeSet::new();
    for name in &entries {
        if let Some(rest) = name.strip_prefix("crashes/") {
            let id = rest.split('/').next().unwrap_or_default().to_owned();
            if rest.ends_with("/crash.json") {
                with_report.insert(id.clone());
            }
            crashes.insert(id);
        }
    }
    let want: BTreeSet<String> = subject
        .direct
        .iter()
        .map(|d| d.error_id.clone())
        .chain(subject.linked.iter().map(|l| l.error_id.clone()))
        .collect();
    let agrees = crashes == want && with_report == want;
    let activity = entries
        .iter()
        .filter(|e| e.starts_with("activity/"))
        .count();
    let verified = crashdsr_package::verify(&out)?;
    println!(
        "Package: {} ({} files, checksums {}), {} crashes, {} activity file(s): {}",
        out.display(),
        entries.len(),
        if verified.ok() { "verified" } else { "BROKEN" },
        crashes.len(),
        activity,
        if agrees {
            "exactly the crashes the ground truth names, each with its crash report"
        } else {
            "THE PACKAGE DISAGREES WITH THE GROUND TRUTH"
        }
    );
    println!(
        "Inside: report.html (open it in a browser), manifest.json, evidence.jsonl, crashes/, activity/. Check it with: crashdsr verify {}",
        out.display()
    );
    println!("Done in {:.1} s.", started.elapsed().as_secs_f64());
    Ok(if agrees && verified.ok() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(2)
    })
}
