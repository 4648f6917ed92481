//! `crashdsr export-config`: continuous-export configurations. Connection
//! strings come from the environment or a file, are sent to App Center
//! only, and are never printed.

use std::io::Write;
use std::process::ExitCode;

use anyhow::{Context, bail};
use crashdsr_appcenter::models::{
    BlobPathFormatKind, ExportConfiguration, ExportConfigurationResult, ExportEntity, ExportOptions,
};

use crate::cli::{ExportAction, ExportConfigArgs, ExportTargetArgs, GlobalArgs};

/// Environment variable holding a custom export's connection string.
pub(crate) const CONNECTION_STRING_ENV: &str = "AZURE_STORAGE_CONNECTION_STRING";

fn configuration(t: &ExportTargetArgs) -> anyhow::Result<ExportConfiguration> {
    let mut entities = Vec::new();
    for e in &t.entities {
        let entity: ExportEntity = e
            .trim()
            .parse()
            .unwrap_or_else(|e: std::convert::Infallible| match e {});
        if let ExportEntity::Other(s) = &entity {
            bail!("unknown export entity {s:?}: expected crashes, errors, attachments or no_logs");
        }
        entities.push(entity);
    }
    let options = ExportOptions {
        export_entities: entities,
        backfill: t.no_backfill.then_some(false),
        ..Default::default()
    };
    let path_format = Some(if t.path_format == "WithAppId" {
        BlobPathFormatKind::WithAppId
    } else {
        BlobPathFormatKind::WithoutAppId
    });
    if let Some(sub) = &t.subscription_id {
        return Ok(ExportConfiguration::BlobStorageLinkedSubscription {
            subscription_id: Some(sub.clone()),
            blob_path_format_kind: path_format,
            options,
        });
    }
    let cs = match (&t.connection_string_file, t.custom) {
        (Some(file), _) => std::fs::read_to_string(file)
            .with_context(|| format!("reading the connection string file {}", file.display()))?
            .trim()
            .to_owned(),
        (None, true) => std::env::var(CONNECTION_STRING_ENV)
            .ok()
            .filter(|v| !v.trim().is_empty())
            .with_context(|| {
                format!("--custom needs the connection string in {CONNECTION_STRING_ENV}")
            })?,
        (None, false) => bail!(
            "name a target: --subscription-id (standard export), or --custom / --connection-string-file"
        ),
    };
    if cs.is_empty() {
        bail!("the connection string is empty");
    }
    Ok(ExportConfiguration::BlobStorageConnectionString {
        connection_string: Some(cs),
        blob_path_format_kind: path_format,
        options,
    })
}

fn print(results: &[ExportConfigurationResult], json: bool) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    // The server should never echo secrets; drop them anyway.
    let shown: Vec<ExportConfigurationResult> = results
        .iter()
        .map(|r| ExportConfigurationResult {
            export_configuration: r
                .export_configuration
                .as_ref()
                .map(ExportConfiguration::without_secrets),
            ..r.clone()
        })
        .collect();
    if json {
        for r in &shown {
            writeln!(out, "{}", serde_json::to_string(r)?)?;
        }
        return Ok(());
    }
    writeln!(
        out,
        "{:<38} {:<34} {:<9} {:<30} {:<13} {:<25} STATE INFO",
        "ID", "TYPE", "STATE", "ENTITIES", "PATH FORMAT", "LAST RUN"
    )?;
    for r in &shown {
        let cfg = r.export_configuration.as_ref();
        let entities: Vec<&str> = r.export_entities.iter().map(|e| e.as_str()).collect();
        writeln!(
            out,
            "{:<38} {:<34} {:<9} {:<30} {:<13} {:<25} {}",
            r.id,
            cfg.map(|c| c.type_name()).unwrap_or(r.export_type.as_str()),
            r.state.as_str(),
            entities.join(","),
            cfg.and_then(|c| c.path_format())
                .map(|p| p.as_str())
                .unwrap_or("-"),
            r.last_run_time.as_deref().unwrap_or("-"),
            r.state_info.as_deref().unwrap_or("")
        )?;
    }
    Ok(())
}

pub(crate) async fn run(global: &GlobalArgs, args: ExportConfigArgs) -> anyhow::Result<ExitCode> {
    let client = super::client(global)?;
    match args.action {
        ExportAction::List(a) => {
            let app = client.app(&a.app.0, &a.app.1);
            let list = app
                .export_configurations()
                .await
                .context("listing export configurations")?;
            print(&list.values, a.json)?;
        }
        ExportAction::Get(a) => {
            let app = client.app(&a.app.app.0, &a.app.app.1);
            let r = app
                .export_configuration(&a.id)
                .await
                .context("reading the export configuration")?;
            print(&[r], a.app.json)?;
        }
        ExportAction::Create(t) => {
            let cfg = configuration(&t)?;
            let app = client.app(&t.app.app.0, &t.app.app.1);
            let r = app
                .create_export_configuration(&cfg)
                .await
                .context("creating the export configuration")?;
            print(&[r], t.app.json)?;
        }
        ExportAction::Update(u) => {
            let cfg = configuration(&u.target)?;
            let app = client.app(&u.target.app.app.0, &u.target.app.app.1);
            let r = app
                .update_export_configuration(&u.id, &cfg)
                .await
                .context("updating the export configuration")?;
            print(&[r], u.target.app.json)?;
        }
        ExportAction::Delete(a) => {
            let app = client.app(&a.app.app.0, &a.app.app.1);
            app.delete_export_configuration(&a.id)
                .await
                .context("deleting the export configuration")?;
            println!("deleted {}", a.id);
        }
        ExportAction::Enable(a) => {
            let app = client.app(&a.app.app.0, &a.app.app.1);
            app.enable_export_configuration(&a.id)
                .await
                .context("enabling the export configuration")?;
            println!("enabled {}", a.id);
        }
        ExportAction::Disable(a) => {
            let app = client.app(&a.app.app.0, &a.app.app.1);
            app.disable_export_configuration(&a.id)
                .await
                .context("disabling the export configuration")?;
            println!("disabled {}", a.id);
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `crashdsr export-read`: walks an export and reports counts and warnings.
pub(crate) async fn read(args: crate::cli::ExportReadArgs) -> anyhow::Result<ExitCode> {
    let source = crashdsr_store::Store::open(&args.source)?;
    let started = std::time::Instant::now();
    let report = crashdsr_search::walk(&source, args.concurrency as usize, |_| {})
        .await
        .with_context(|| format!("reading the export {}", source.url()))?;
    let secs = started.elapsed().as_secs_f64();
    if args.json {
        let warnings: Vec<_> = report
            .warnings
            .iter()
            .map(|(p, w)| serde_json::json!({"object": p, "warning": w}))
            .collect();
        println!(
            "{}",
            serde_json::json!({"source": source.url(), "objects": report.objects, "bytes": report.bytes,
                "device_logs": report.device_logs, "crashes": report.crashes, "attachments": report.attachments,
                "ignored": report.ignored, "warnings": warnings, "seconds": secs})
        );
    } else {
        println!(
            "{}: {} objects, {} bytes in {secs:.1} s: {} device logs, {} crash blobs, {} attachments, {} outside the layout",
            source.url(),
            report.objects,
            report.bytes,
            report.device_logs,
            report.crashes,
            report.attachments,
            report.ignored
        );
        for (path, warning) in &report.warnings {
            println!("warning: {path}: {warning}");
        }
    }
    Ok(ExitCode::SUCCESS)
}
