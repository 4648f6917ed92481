//! `crashdsr export-config` against an in-process emulator: every action,
//! both payloads, and the connection string never printed.

use std::process::{Command, Output};
use std::time::Duration;

use crashdsr_emulator::{DatasetConfig, EmulatorConfig, serve};

const SECRET_KEY: &str = "c2VjcmV0LWtleS12YWx1ZQ==";

fn run(base: &str, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_crashdsr"));
    c.env("APPCENTER_API_TOKEN", "t")
        .env_remove("AZURE_STORAGE_CONNECTION_STRING")
        .args(["--base-url", base])
        .args(args);
    for (k, v) in env {
        c.env(k, v);
    }
    c.output().unwrap()
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

#[test]
fn every_action_and_no_secret_printed() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let mut ds = DatasetConfig::new(3);
    ds.errors_per_app = 50;
    let emu = rt
        .block_on(serve(
            EmulatorConfig::new(ds, "t"),
            "127.0.0.1:0".parse().unwrap(),
        ))
        .unwrap();
    let base = emu.base_url();
    let tmp = std::env::temp_dir().join(format!("crashdsr-cli-export-{}", std::process::id()));
    let cs = format!(
        "AccountName=acct;AccountKey={SECRET_KEY};BlobEndpoint=file://{}",
        tmp.display()
    );
    let app = ["--app", "contoso/demo-app"];

    let out = run(
        &base,
        &[
            "export-config",
            "create",
            app[0],
            app[1],
            "--custom",
            "--path-format",
            "WithAppId",
            "--json",
        ],
        &[("AZURE_STORAGE_CONNECTION_STRING", &cs)],
    );
    assert!(out.status.success(), "{}", text(&out));
    assert!(!text(&out).contains(SECRET_KEY), "the key was printed");
    let created: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let id = created["id"].as_str().unwrap().to_owned();
    assert_eq!(created["state"], "Pending");
    assert_eq!(
        created["export_configuration"]["blob_path_format_kind"],
        "WithAppId"
    );

    // It settles Enabled once the emulator has written the export.
    let mut state = String::new();
    for _ in 0..100 {
        let out = run(
            &base,
            &[
                "export-config",
                "get",
                app[0],
                app[1],
                "--id",
                &id,
                "--json",
            ],
            &[],
        );
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        state = v["state"].as_str().unwrap().to_owned();
        if state != "Pending" {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(state, "Enabled");
    assert!(tmp.join("archive").is_dir());

    // What was exported reads back whole.
    let archive = tmp.join("archive");
    let out = run(
        &base,
        &[
            "export-read",
            "--source",
            archive.to_str().unwrap(),
            "--json",
        ],
        &[],
    );
    assert!(out.status.success(), "{}", text(&out));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["crashes"], 50);
    assert_eq!(report["ignored"], 0);
    assert!(report["warnings"].as_array().unwrap().is_empty());
    let out = run(
        &base,
        &[
            "export-read",
            "--source",
            tmp.join("missing").to_str().unwrap(),
        ],
        &[],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out).contains("not a directory"), "{}", text(&out));

    // The table.
    let out = run(&base, &["export-config", "list", app[0], app[1]], &[]);
    let table = text(&out);
    assert!(
        out.status.success()
            && table.contains(&id)
            && table.contains("blob_storage_connection_string"),
        "{table}"
    );
    assert!(
        table.contains("crashes,errors,attachments") && table.contains("WithAppId"),
        "{table}"
    );

    // A connection string from a file, on update; then disable, enable, delete.
    let file = tmp.join("cs.txt");
    std::fs::write(&file, format!("{cs}\n")).unwrap();
    let out = run(
        &base,
        &[
            "export-config",
            "update",
            app[0],
            app[1],
            "--id",
            &id,
            "--connection-string-file",
            file.to_str().unwrap(),
            "--entities",
            "crashes",
            "--no-backfill",
        ],
        &[],
    );
    assert!(
        out.status.success() && !text(&out).contains(SECRET_KEY),
        "{}",
        text(&out)
    );
    for (action, word) in [
        ("disable", "disabled"),
        ("enable", "enabled"),
        ("delete", "deleted"),
    ] {
        let out = run(
            &base,
            &["export-config", action, app[0], app[1], "--id", &id],
            &[],
        );
        assert!(text(&out).contains(word), "{action}: {}", text(&out));
    }
    let out = run(
        &base,
        &["export-config", "get", app[0], app[1], "--id", &id],
        &[],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out).contains("404"), "{}", text(&out));

    // Standard export: no storage linked in this emulator, so Invalid.
    let out = run(
        &base,
        &[
            "export-config",
            "create",
            app[0],
            app[1],
            "--subscription-id",
            "1330b91c-0000-4000-8000-000000000000",
            "--json",
        ],
        &[],
    );
    assert!(out.status.success(), "{}", text(&out));

    // Bad input.
    for (args, env, want) in [
        (
            vec!["export-config", "create", app[0], app[1]],
            vec![],
            "name a target",
        ),
        (
            vec!["export-config", "create", app[0], app[1], "--custom"],
            vec![],
            "AZURE_STORAGE_CONNECTION_STRING",
        ),
        (
            vec![
                "export-config",
                "create",
                app[0],
                app[1],
                "--custom",
                "--entities",
                "crashes,videos",
            ],
            vec![("AZURE_STORAGE_CONNECTION_STRING", cs.as_str())],
            "unknown export entity",
        ),
        (
            vec![
                "export-config",
                "create",
                app[0],
                app[1],
                "--connection-string-file",
                "/nonexistent/cs",
            ],
            vec![],
            "reading the connection string file",
        ),
    ] {
        let out = run(&base, &args, &env);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(text(&out).contains(want), "{args:?}: {}", text(&out));
        assert!(!text(&out).contains(SECRET_KEY));
    }
    let _ = std::fs::remove_dir_all(&tmp);
    rt.block_on(emu.shutdown()).unwrap();
}
