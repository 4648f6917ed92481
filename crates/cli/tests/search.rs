//! `crashdsr search` end to end: over the archive that `fetch` wrote and
//! over an export in Azurite, checked against the emulator's ground truth;
//! exit codes; identifier values never in logs.

mod common;

use common::ok;

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;

use crashdsr_emulator::testing::TempDir;
use crashdsr_emulator::{Dataset, DatasetConfig, EmulatorConfig, RunningEmulator, Truth, serve};

fn crashdsr(base: &str, work: &Path) -> Command {
    common::crashdsr(base, work, "t")
}

/// `(subject, error_id, linked)` of every crash in the JSON output.
fn crashes(stdout: &str) -> BTreeSet<(String, String, bool)> {
    stdout
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter(|v| v["error_id"].is_string())
        .map(|v| {
            (
                v["subject"].as_str().unwrap().to_owned(),
                v["error_id"].as_str().unwrap().to_owned(),
                v["linked"].as_bool().unwrap(),
            )
        })
        .collect()
}

fn start(rt: &tokio::runtime::Runtime, seed: u64, errors: u64) -> (RunningEmulator, Truth) {
    let mut ds = DatasetConfig::new(seed);
    ds.errors_per_app = errors;
    let truth = Dataset::new(ds.clone()).truth();
    let emu = rt
        .block_on(serve(
            EmulatorConfig::new(ds, "t"),
            "127.0.0.1:0".parse().unwrap(),
        ))
        .unwrap();
    (emu, truth)
}

#[test]
fn archive_search_matches_the_truth() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (emu, truth) = start(&rt, 13, 900);
    let tmp = TempDir::new("archive");
    let base = emu.base_url();
    ok(crashdsr(&base, tmp.path())
        .args(["inventory", "--app", "contoso/demo-app"])
        .output()
        .unwrap());
    ok(crashdsr(&base, tmp.path())
        .args(["fetch", "--app", "contoso/demo-app", "--concurrency", "16"])
        .output()
        .unwrap());
    let subjects = common::subjects_file(&truth.subjects, tmp.path());
    let archive = tmp.path().join("archive");
    let out = crashdsr(&base, tmp.path())
        .args([
            "search",
            "--source",
            archive.to_str().unwrap(),
            "--subjects",
            &subjects,
            "--expand",
            "install-id",
            "--json",
        ])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let got = crashes(&ok(out));
    let mut want = BTreeSet::new();
    for s in &truth.subjects {
        for d in &s.direct {
            want.insert((s.label.clone(), d.error_id.clone(), false));
        }
        for l in &s.linked {
            want.insert((s.label.clone(), l.error_id.clone(), true));
        }
    }
    let missed: Vec<_> = want.difference(&got).collect();
    let extra: Vec<_> = got.difference(&want).collect();
    assert!(
        missed.is_empty() && extra.is_empty(),
        "missed {missed:?}\nextra {extra:?}"
    );
    // No identifier value in what was logged.
    for s in &truth.subjects {
        for i in &s.identifiers {
            assert!(
                i.value.len() < 4 || !stderr.contains(&i.value),
                "{} leaked to stderr",
                i.kind
            );
        }
    }
    // The summary names no value either, and says which ids were typed-only.
    let summary = ok(crashdsr(&base, tmp.path())
        .args([
            "search",
            "--source",
            archive.to_str().unwrap(),
            "--subjects",
            &subjects,
        ])
        .output()
        .unwrap());
    assert!(summary.contains("li's user-id is too short"), "{summary}");
    assert!(!summary.contains('@'), "{summary}");
    rt.block_on(emu.shutdown()).unwrap();
}

#[test]
fn exit_codes_and_bad_subjects() {
    let tmp = TempDir::new("codes");
    std::fs::write(
        tmp.path().join("crash.json"),
        br#"{"errorId":"1-a","userId":"someone-else","message":"hello"}"#,
    )
    .unwrap();
    let run = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_crashdsr"))
            .args(args)
            .output()
            .unwrap()
    };
    let dir = tmp.path().to_str().unwrap();
    assert_eq!(
        run(&[
            "search",
            "--source",
            dir,
            "--subject",
            "user-id=someone-else"
        ])
        .status
        .code(),
        Some(0)
    );
    assert_eq!(
        run(&[
            "search",
            "--source",
            dir,
            "--subject",
            "email=nobody@example.com"
        ])
        .status
        .code(),
        Some(1)
    );
    let bad = tmp.path().join("subjects.jsonl");
    std::fs::write(&bad, "{\"label\":\"a\",\"identifiers\":[{\"type\":\"email\",\"value\":\"a@b.co\"}]}\n{\"label\":\"b\",\"identifiers\":[{\"type\":\"install-id\",\"value\":\"nope\"}]}\n").unwrap();
    for (args, want) in [
        (
            vec!["search", "--source", dir, "--subject", "email=broken"],
            "e-mail",
        ),
        (
            vec!["search", "--source", dir, "--subject", "regex=("],
            "does not compile",
        ),
        (
            vec![
                "search",
                "--source",
                dir,
                "--subjects",
                bad.to_str().unwrap(),
            ],
            "line 2",
        ),
        (
            vec![
                "search",
                "--source",
                "/nonexistent",
                "--subject",
                "user-id=x",
            ],
            "not a directory",
        ),
    ] {
        let out = run(&args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(
            String::from_utf8_lossy(&out.stderr).contains(want),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

#[test]
fn azurite_export_search_matches_the_truth() {
    let Ok(endpoint) = std::env::var("CRASHDSR_TEST_AZURITE") else {
        println!("skipped: CRASHDSR_TEST_AZURITE is not set");
        return;
    };
    let account = std::env::var("AZURE_STORAGE_ACCOUNT_NAME").unwrap();
    let key = std::env::var("AZURE_STORAGE_ACCOUNT_KEY").unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (emu, truth) = start(&rt, 17, 600);
    let tmp = TempDir::new("azurite");
    let base = emu.base_url();
    // A prefix of its own: the container is shared with other tests.
    let cs = format!(
        "DefaultEndpointsProtocol=http;AccountName={account};AccountKey={key};BlobEndpoint={endpoint}"
    );
    let created = ok(crashdsr(&base, tmp.path())
        .args([
            "export-config",
            "create",
            "--app",
            "contoso/demo-app",
            "--custom",
            "--path-format",
            "WithAppId",
            "--json",
        ])
        .env("AZURE_STORAGE_CONNECTION_STRING", &cs)
        .output()
        .unwrap());
    common::wait_for_export(&base, tmp.path(), &created);
    let app_id = Dataset::new({
        let mut d = DatasetConfig::new(17);
        d.errors_per_app = 600;
        d
    })
    .app_id(0)
    .to_owned();
    let subjects = common::subjects_file(&truth.subjects, tmp.path());
    let got = crashes(&ok(crashdsr(&base, tmp.path())
        .args([
            "search",
            "--source",
            &format!("az://archive/{app_id}"),
            "--subjects",
            &subjects,
            "--expand",
            "install-id",
            "--json",
        ])
        .output()
        .unwrap()));
    for s in &truth.subjects {
        let session_only: BTreeSet<&str> = s
            .direct
            .iter()
            .filter(|d| d.r#where.iter().all(|w| w == "session_logs.properties"))
            .map(|d| d.error_id.as_str())
            .collect();
        for d in &s.direct {
            let linked = session_only.contains(d.error_id.as_str());
            assert!(
                got.contains(&(s.label.clone(), d.error_id.clone(), linked)),
                "{}: missed {}",
                s.label,
                d.error_id
            );
        }
        for l in &s.linked {
            assert!(
                got.contains(&(s.label.clone(), l.error_id.clone(), true)),
                "{}: missed linked {}",
                s.label,
                l.error_id
            );
        }
        let total = got.iter().filter(|(label, _, _)| label == &s.label).count();
        assert_eq!(
            total,
            s.direct.len() + s.linked.len(),
            "{}: extra crashes",
            s.label
        );
    }
    rt.block_on(emu.shutdown()).unwrap();
}

/// What belongs to no crash gets a kind of its own in `--json`; a bomb is
/// listed unread; no line holds the identifier's value, not even an
/// activity record's.
#[test]
fn json_names_activity_unattributed_and_unread_without_values() {
    use std::io::Write as _;
    let tmp = TempDir::new("kinds");
    let root = tmp.path();
    let m = "2026/11/30/12/05/";
    let put = |p: &str, b: &[u8]| {
        let path = root.join(p);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, b).unwrap();
    };
    let email = "kofi.mensah@example.com";
    put(
        &format!("{m}crashes/1-a.json"),
        format!(r#"{{"errorId":"1-a","installId":"i1","exception":{{"message":"no {email}"}}}}"#)
            .as_bytes(),
    );
    put(
        &format!("{m}attachments/orphan"),
        format!("log: {email}").as_bytes(),
    );
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(&vec![0u8; 3 << 20]).unwrap();
    gz.write_all(email.as_bytes()).unwrap();
    put(&format!("{m}attachments/bomb"), &gz.finish().unwrap());
    let logs = serde_json::json!([
        {"MessageType": "ErrorLog", "InstallId": "i1", "UserId": null,
         "Properties": "{\"ErrorId\":\"1-a\",\"Blob\":\"crashes/1-a.json\"}"},
        {"MessageType": "ErrorAttachmentLog", "InstallId": "i1", "UserId": null,
         "Properties": {"ErrorId": "1-a", "AttachmentId": "bomb"}},
        {"MessageType": "EventLog", "InstallId": "i1", "UserId": null,
         "Properties": format!("{{\"contact\":\"{email}\"}}")}
    ]);
    put(&format!("{m}logs.v1.data"), logs.to_string().as_bytes());
    let out = Command::new(env!("CARGO_BIN_EXE_crashdsr"))
        .args([
            "search",
            "--source",
            root.to_str().unwrap(),
            "--json",
            "--max-expand",
            "1MiB",
        ])
        .args(["--subject", &format!("email={email}")])
        .output()
        .unwrap();
    let stdout = ok(out.clone());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !stdout.contains(email) && !stderr.contains(email),
        "{stdout}\n{stderr}"
    );
    let lines: Vec<serde_json::Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let kind = |k: &str| lines.iter().filter(|v| v["kind"] == k).collect::<Vec<_>>();
    assert_eq!(kind("crash").len(), 1, "{stdout}");
    assert_eq!(kind("crash")[0]["error_id"], "1-a");
    let activity = kind("activity");
    assert_eq!(activity.len(), 1, "{stdout}");
    assert_eq!(activity[0]["message_type"], "EventLog");
    assert_eq!(activity[0]["index"], 2);
    assert!(activity[0].get("record").is_none());
    let unattributed = kind("unattributed");
    assert_eq!(unattributed.len(), 1, "{stdout}");
    assert!(
        unattributed[0]["object"]
            .as_str()
            .unwrap()
            .ends_with("attachments/orphan")
    );
    assert!(
        unattributed[0]["reason"]
            .as_str()
            .unwrap()
            .contains("no ErrorAttachmentLog")
    );
    assert!(
        lines
            .iter()
            .all(|v| v["install_id"].as_str().is_none_or(|i| i == "i1"))
    );
    let unread = kind("unread");
    assert_eq!(unread.len(), 1, "{stdout}");
    // The first --source is source 1, as in packages and plans.
    for line in [activity[0], unattributed[0], unread[0]] {
        assert_eq!(line["source"], 1, "{line}");
    }
    assert!(
        unread[0]["reason"]
            .as_str()
            .unwrap()
            .contains("expands past 1048576 bytes")
    );
    assert!(stderr.contains("attachments/bomb"), "{stderr}");
    // A size that is no size.
    let bad = Command::new(env!("CARGO_BIN_EXE_crashdsr"))
        .args([
            "search",
            "--source",
            root.to_str().unwrap(),
            "--max-expand",
            "0",
        ])
        .args(["--subject", &format!("email={email}")])
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("must be above zero"));
}
