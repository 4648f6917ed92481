//! `crashdsr request` end to end against an in-process emulator, on both
//! paths: the package holds exactly the truth's crashes for the subject,
//! its checksums verify, and a second run produces the same bytes.

mod common;

use common::ok;

use std::collections::BTreeSet;
use std::io::Read;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use crashdsr_emulator::testing::TempDir;
use crashdsr_emulator::{
    Dataset, DatasetConfig, EmulatorConfig, RunningEmulator, TruthSubject, serve,
};

fn crashdsr(base: &str, work: &Path) -> Command {
    common::crashdsr(base, work, "t")
}

fn start(
    rt: &tokio::runtime::Runtime,
    span_days: u32,
    export_dir: Option<&Path>,
) -> (RunningEmulator, Vec<TruthSubject>) {
    let mut ds = DatasetConfig::new(19);
    ds.errors_per_app = 700;
    ds.span_days = span_days;
    let truth = Dataset::new(ds.clone()).truth();
    let mut cfg = EmulatorConfig::new(ds, "t");
    cfg.export_dir = export_dir.map(Path::to_path_buf);
    (
        rt.block_on(serve(cfg, "127.0.0.1:0".parse().unwrap()))
            .unwrap(),
        truth.subjects,
    )
}

fn subject_file(s: &TruthSubject, dir: &Path) -> String {
    let p = dir.join(format!("{}.jsonl", s.label));
    std::fs::write(
        &p,
        serde_json::json!({"label": s.label, "identifiers": s.identifiers}).to_string() + "\n",
    )
    .unwrap();
    p.to_str().unwrap().to_owned()
}

fn crashes_in(zip: &Path) -> (BTreeSet<String>, String) {
    let mut z = zip::ZipArchive::new(std::fs::File::open(zip).unwrap()).unwrap();
    let mut ids = BTreeSet::new();
    for i in 0..z.len() {
        let name = z.by_index(i).unwrap().name().unwrap().into_owned();
        if let Some(rest) = name.strip_prefix("crashes/") {
            ids.insert(rest.split('/').next().unwrap().to_owned());
        }
    }
    let mut report = String::new();
    z.by_name("report.html")
        .unwrap()
        .read_to_string(&mut report)
        .unwrap();
    (ids, report)
}

#[test]
fn api_path_package_is_exact_verifiable_and_deterministic() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (emu, subjects) = start(&rt, 90, None);
    let tmp = TempDir::new("request-api");
    let base = emu.base_url();
    let s = subjects
        .iter()
        .max_by_key(|s| s.direct.len() + s.linked.len())
        .unwrap();
    let file = subject_file(s, tmp.path());
    let out_dir = tmp.path().join("packages");
    let run = |force: bool| {
        let mut c = crashdsr(&base, tmp.path());
        c.args([
            "request",
            "--app",
            "contoso/demo-app",
            "--subjects",
            &file,
            "--out",
            out_dir.to_str().unwrap(),
            "--received",
            "2026-11-30",
        ]);
        if force {
            c.arg("--force");
        }
        c.output().unwrap()
    };
    let stdout = ok(run(false));
    assert!(stdout.contains("due 2026-12-30"), "{stdout}");
    let zip = out_dir.join(format!("{}.zip", s.label));
    let (ids, report) = crashes_in(&zip);
    let want: BTreeSet<String> = s
        .direct
        .iter()
        .map(|d| d.error_id.clone())
        .chain(s.linked.iter().map(|l| l.error_id.clone()))
        .collect();
    assert_eq!(ids, want);
    assert!(
        report.contains(&format!(
            "<strong id=\"crash-count\">{}</strong>",
            want.len()
        )),
        "{report}"
    );
    assert!(report.contains("supervisory authority"));
    ok(Command::new(env!("CARGO_BIN_EXE_crashdsr"))
        .args(["verify", zip.to_str().unwrap()])
        .output()
        .unwrap());
    let first = std::fs::read(&zip).unwrap();

    // Refused without --force, untouched; the same bytes with it.
    let again = run(false);
    assert_eq!(again.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&again.stderr).contains("--force"));
    assert_eq!(std::fs::read(&zip).unwrap(), first);
    ok(run(true));
    assert_eq!(
        std::fs::read(&zip).unwrap(),
        first,
        "a second run changed the package"
    );

    // The audit holds keyed hashes, never the identifiers.
    let audit = std::fs::read_to_string(tmp.path().join("audit.jsonl")).unwrap();
    assert_eq!(audit.lines().count(), 2);
    for i in &s.identifiers {
        assert!(
            i.value.len() < 4 || !audit.contains(&i.value),
            "{} in the audit",
            i.kind
        );
    }

    // An output directory that does not exist.
    let out = crashdsr(&base, tmp.path())
        .args([
            "request",
            "--app",
            "contoso/demo-app",
            "--subject",
            "email=a@b.co",
            "--out",
            "/nonexistent/dir/x.zip",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not a directory"));

    // An unknown app: one line, exit 2, no package.
    let out = crashdsr(&base, tmp.path())
        .args([
            "request",
            "--app",
            "contoso/nope",
            "--subject",
            "email=a@b.co",
            "--out",
            tmp.path().join("x.zip").to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(!tmp.path().join("x.zip").exists() && !tmp.path().join("x.zip.partial").exists());
    rt.block_on(emu.shutdown()).unwrap();
}

#[test]
fn export_path_package_holds_the_truths_crashes() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let tmp = TempDir::new("request-export");
    let export = tmp.path().join("storage");
    let (emu, subjects) = start(&rt, 28, Some(&export));
    let base = emu.base_url();
    let created = ok(crashdsr(&base, tmp.path())
        .args([
            "export-config",
            "create",
            "--app",
            "contoso/demo-app",
            "--subscription-id",
            "s",
            "--json",
        ])
        .output()
        .unwrap());
    common::wait_for_export(&base, tmp.path(), &created);
    let s = subjects
        .iter()
        .max_by_key(|s| s.direct.len() + s.linked.len())
        .unwrap();
    let file = subject_file(s, tmp.path());
    let out = tmp.path().join("out");
    // The export the emulator wrote, alone: no API call.
    ok(crashdsr(&base, tmp.path())
        .args([
            "request",
            "--path",
            "export",
            "--subjects",
            &file,
            "--out",
            out.to_str().unwrap(),
            "--received",
            "2026-11-30",
        ])
        .args(["--source", export.join("archive").to_str().unwrap()])
        .output()
        .unwrap());
    let zip = out.join(format!("{}.zip", s.label));
    let (ids, _) = crashes_in(&zip);
    let want: BTreeSet<String> = s
        .direct
        .iter()
        .map(|d| d.error_id.clone())
        .chain(s.linked.iter().map(|l| l.error_id.clone()))
        .collect();
    assert_eq!(ids, want);
    ok(Command::new(env!("CARGO_BIN_EXE_crashdsr"))
        .args(["verify", zip.to_str().unwrap()])
        .output()
        .unwrap());
    // The same inputs give the same bytes on this path too.
    let first = std::fs::read(&zip).unwrap();
    ok(crashdsr(&base, tmp.path())
        .args([
            "request",
            "--path",
            "export",
            "--subjects",
            &file,
            "--out",
            out.to_str().unwrap(),
            "--received",
            "2026-11-30",
            "--force",
        ])
        .args(["--source", export.join("archive").to_str().unwrap()])
        .output()
        .unwrap());
    assert_eq!(
        std::fs::read(&zip).unwrap(),
        first,
        "a second run changed the package"
    );
    // With --redact-others: the same crashes, a verifiable package, and a
    // report that says what was masked.
    let masked = tmp.path().join("masked");
    ok(crashdsr(&base, tmp.path())
        .args(["request", "--path", "export", "--subjects", &file])
        .args([
            "--out",
            masked.to_str().unwrap(),
            "--received",
            "2026-11-30",
        ])
        .args(["--redact-others", "--source"])
        .arg(export.join("archive"))
        .output()
        .unwrap());
    let zip = masked.join(format!("{}.zip", s.label));
    let (again, report) = crashes_in(&zip);
    assert_eq!(again, want);
    assert!(report.contains("id=\"others\""), "{report}");
    ok(Command::new(env!("CARGO_BIN_EXE_crashdsr"))
        .args(["verify", zip.to_str().unwrap()])
        .output()
        .unwrap());
    rt.block_on(emu.shutdown()).unwrap();
}

#[test]
fn encrypted_packages_verify_with_the_identity_or_passphrase() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (emu, subjects) = start(&rt, 90, None);
    let tmp = TempDir::new("request-age");
    let base = emu.base_url();
    let s = &subjects[0];
    let file = subject_file(s, tmp.path());
    let id = age::x25519::Identity::generate();
    let identity = tmp.path().join("me.key");
    std::fs::write(
        &identity,
        age::secrecy::ExposeSecret::expose_secret(&id.to_string()),
    )
    .unwrap();
    let out = tmp.path().join("p.zip");
    ok(crashdsr(&base, tmp.path())
        .args([
            "request",
            "--app",
            "contoso/demo-app",
            "--subjects",
            &file,
            "--out",
            tmp.path().join("sealed").to_str().unwrap(),
        ])
        .args(["--encrypt-to", &id.to_public().to_string()])
        .output()
        .unwrap());
    let sealed = tmp
        .path()
        .join("sealed")
        .join(format!("{}.zip.age", s.label));
    assert!(sealed.exists());
    assert!(
        std::fs::read_dir(tmp.path().join("sealed"))
            .unwrap()
            .count()
            == 1,
        "a plain zip was left behind"
    );
    let verify = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_crashdsr"))
            .arg("verify")
            .args(args)
            .output()
            .unwrap()
    };
    ok(verify(&[
        sealed.to_str().unwrap(),
        "--identity",
        identity.to_str().unwrap(),
    ]));
    let no_key = verify(&[sealed.to_str().unwrap()]);
    assert_eq!(no_key.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&no_key.stderr).contains("--identity"));

    let pass = tmp.path().join("pass.txt");
    std::fs::write(&pass, "correct horse battery staple\n").unwrap();
    ok(crashdsr(&base, tmp.path())
        .args([
            "request",
            "--app",
            "contoso/demo-app",
            "--subject",
            "email=nobody@example.org",
            "--out",
            out.to_str().unwrap(),
        ])
        .args(["--passphrase-file", pass.to_str().unwrap()])
        .output()
        .unwrap());
    let sealed = tmp.path().join("p.zip.age");
    ok(verify(&[
        sealed.to_str().unwrap(),
        "--passphrase-file",
        pass.to_str().unwrap(),
    ]));
    std::fs::write(&pass, "wrong\n").unwrap();
    assert_eq!(
        verify(&[
            sealed.to_str().unwrap(),
            "--passphrase-file",
            pass.to_str().unwrap()
        ])
        .status
        .code(),
        Some(2)
    );
    rt.block_on(emu.shutdown()).unwrap();
}

#[test]
fn ctrl_c_leaves_no_partial_package_and_the_next_run_completes() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let mut ds = DatasetConfig::new(31);
    ds.errors_per_app = 400;
    ds.span_days = 90;
    let truth = Dataset::new(ds.clone()).truth();
    let mut cfg = EmulatorConfig::new(ds, "t");
    cfg.latency = Duration::from_millis(5);
    let emu = rt
        .block_on(serve(cfg, "127.0.0.1:0".parse().unwrap()))
        .unwrap();
    let tmp = TempDir::new("request-sigint");
    let base = emu.base_url();
    let file = subject_file(&truth.subjects[0], tmp.path());
    let out = tmp.path().join("out");
    let cmd = || {
        let mut c = crashdsr(&base, tmp.path());
        c.args([
            "request",
            "--app",
            "contoso/demo-app",
            "--subjects",
            &file,
            "--out",
            out.to_str().unwrap(),
            "--concurrency",
            "2",
        ]);
        c
    };
    let child = cmd()
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(700));
    assert!(
        Command::new("kill")
            .args(["-INT", &child.id().to_string()])
            .status()
            .unwrap()
            .success()
    );
    let interrupted = child.wait_with_output().unwrap();
    assert_eq!(
        interrupted.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&interrupted.stderr)
    );
    assert!(String::from_utf8_lossy(&interrupted.stderr).contains("interrupted"));
    let left: Vec<_> = std::fs::read_dir(&out)
        .map(|d| d.flatten().map(|e| e.file_name()).collect())
        .unwrap_or_default();
    assert!(left.is_empty(), "left behind: {left:?}");
    ok(cmd().output().unwrap());
    let zip = out.join(format!("{}.zip", truth.subjects[0].label));
    ok(Command::new(env!("CARGO_BIN_EXE_crashdsr"))
        .args(["verify", zip.to_str().unwrap()])
        .output()
        .unwrap());
    rt.block_on(emu.shutdown()).unwrap();
}

#[test]
fn targeted_answers_fetch_only_what_the_server_finds_and_say_so() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    // 28 days: everything is inside the search index's window.
    let (emu, subjects) = start(&rt, 28, None);
    let tmp = TempDir::new("request-targeted");
    let base = emu.base_url();
    // The subject with the most crashes that hold their id in userId.
    let typed = |s: &TruthSubject| {
        s.direct
            .iter()
            .filter(|d| d.r#where.iter().any(|w| w == "userId"))
            .count()
    };
    let s = subjects.iter().max_by_key(|s| typed(s)).unwrap();
    assert!(typed(s) > 0);
    let file = subject_file(s, tmp.path());
    let out = tmp.path().join("out");
    let stderr = {
        let o = crashdsr(&base, tmp.path())
            .args([
                "request",
                "--app",
                "contoso/demo-app",
                "--subjects",
                &file,
                "--out",
                out.to_str().unwrap(),
                "--targeted",
                "--path",
                "api",
            ])
            .output()
            .unwrap();
        let e = String::from_utf8_lossy(&o.stderr).into_owned();
        ok(o);
        e
    };
    assert!(
        stderr.contains("targeted:") && !stderr.contains("inventory"),
        "{stderr}"
    );
    let zip = out.join(format!("{}.zip", s.label));
    let (ids, report) = crashes_in(&zip);
    let truth: BTreeSet<String> = s
        .direct
        .iter()
        .map(|d| d.error_id.clone())
        .chain(s.linked.iter().map(|l| l.error_id.clone()))
        .collect();
    assert!(
        !ids.is_empty() && ids.is_subset(&truth),
        "{ids:?} not within the truth"
    );
    assert!(
        report.contains("targeted answer"),
        "the report does not say the answer is targeted"
    );
    let mut z = zip::ZipArchive::new(std::fs::File::open(&zip).unwrap()).unwrap();
    let mut manifest = String::new();
    z.by_name("manifest.json")
        .unwrap()
        .read_to_string(&mut manifest)
        .unwrap();
    assert!(manifest.contains("targeted answer"));
    rt.block_on(emu.shutdown()).unwrap();
}

#[test]
fn api_path_with_the_archive_in_azure_blob_storage() {
    let Ok(endpoint) = std::env::var("CRASHDSR_TEST_AZURITE") else {
        println!("skipped: CRASHDSR_TEST_AZURITE is not set");
        return;
    };
    let account = std::env::var("AZURE_STORAGE_ACCOUNT_NAME").unwrap();
    let key = std::env::var("AZURE_STORAGE_ACCOUNT_KEY").unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();
    // Makes sure the container exists.
    rt.block_on(crashdsr_emulator::export::open_target(
        &crashdsr_emulator::export::Target::Azure {
            endpoint,
            account,
            key,
        },
    ))
    .unwrap();
    let (emu, subjects) = start(&rt, 90, None);
    let tmp = TempDir::new("request-azure");
    let base = emu.base_url();
    let s = subjects
        .iter()
        .max_by_key(|s| s.direct.len() + s.linked.len())
        .unwrap();
    let file = subject_file(s, tmp.path());
    let out = tmp.path().join("out");
    let archive = format!("az://archive/request-test-{}", std::process::id());
    ok(crashdsr(&base, tmp.path())
        .args([
            "--archive",
            &archive,
            "request",
            "--app",
            "contoso/demo-app",
            "--subjects",
            &file,
            "--out",
            out.to_str().unwrap(),
        ])
        .output()
        .unwrap());
    let zip = out.join(format!("{}.zip", s.label));
    let (ids, _) = crashes_in(&zip);
    let want: BTreeSet<String> = s
        .direct
        .iter()
        .map(|d| d.error_id.clone())
        .chain(s.linked.iter().map(|l| l.error_id.clone()))
        .collect();
    assert_eq!(ids, want);
    ok(Command::new(env!("CARGO_BIN_EXE_crashdsr"))
        .args(["verify", zip.to_str().unwrap()])
        .output()
        .unwrap());
    rt.block_on(emu.shutdown()).unwrap();
}
