//! Helpers shared by the binary's end-to-end tests (each test file uses
//! some of them).
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::io::Read;
use std::path::Path;
use std::process::{Command, Output};

/// `crashdsr` against `base` with `token`, a work dir, no pacing, no bars,
/// and none of the operator's own settings from the environment.
pub(crate) fn crashdsr(base: &str, work: &Path, token: &str) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_crashdsr"));
    c.env("APPCENTER_API_TOKEN", token)
        .env_remove("CRASHDSR_STATE")
        .env_remove("CRASHDSR_ARCHIVE")
        .args([
            "--base-url",
            base,
            "--work-dir",
            work.to_str().unwrap(),
            "--api-rate",
            "100000/1",
            "--no-progress",
        ]);
    c
}

/// Asserts success and returns stdout; on failure shows both streams.
pub(crate) fn ok(out: Output) -> String {
    let s = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "exit {:?}\n{s}\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stderr)
    );
    s
}

/// Waits until the export configuration in `created` (the JSON `create`
/// printed) reads `Enabled`; it must read `Pending` until then.
pub(crate) fn wait_for_export(base: &str, work: &Path, created: &str) {
    let v: serde_json::Value = serde_json::from_str(created).unwrap();
    let id = v["id"].as_str().unwrap();
    // Writing an export to Azurite takes a while on a loaded machine.
    let until = std::time::Instant::now() + std::time::Duration::from_secs(300);
    while std::time::Instant::now() < until {
        let got = ok(crashdsr(base, work, "t")
            .args([
                "export-config",
                "get",
                "--app",
                "contoso/demo-app",
                "--id",
                id,
                "--json",
            ])
            .output()
            .unwrap());
        if got.contains("\"Enabled\"") {
            return;
        }
        assert!(got.contains("\"Pending\""), "{got}");
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    panic!("the export stayed Pending for 300 s");
}

/// The dotnet-style continuous export of app 0 of `data` under `dir`, as
/// App Center's backend wrote it; returns the container's directory.
pub(crate) fn export(
    rt: &tokio::runtime::Runtime,
    data: &crashdsr_emulator::Dataset,
    dir: &Path,
) -> String {
    use crashdsr_emulator::export::{ExportPlan, ExportStyle, Target, open_target, write};
    let cfg = data.config();
    let plan = ExportPlan {
        app: 0,
        since: crashdsr_appcenter::Timestamp(
            cfg.now - chrono::Duration::days(i64::from(cfg.span_days) + 1),
        ),
        entities: vec![],
        path_format: crashdsr_appcenter::models::BlobPathFormatKind::WithoutAppId,
        style: ExportStyle::Dotnet,
    };
    rt.block_on(async {
        let store = open_target(&Target::Dir(dir.to_path_buf())).await.unwrap();
        write(data, &plan, store, |_| true).await.unwrap();
    });
    dir.join("archive").to_str().unwrap().to_owned()
}

/// A base URL nothing listens on (App Center's API after its shutdown).
pub(crate) fn closed_port() -> String {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    drop(l);
    format!("http://127.0.0.1:{port}")
}

/// The people of the truth as a `--subjects` file in `dir`.
pub(crate) fn subjects_file(subjects: &[crashdsr_emulator::TruthSubject], dir: &Path) -> String {
    let p = dir.join("subjects.jsonl");
    let lines: String = subjects
        .iter()
        .map(|s| {
            serde_json::json!({"label": s.label, "identifiers": s.identifiers}).to_string() + "\n"
        })
        .collect();
    std::fs::write(&p, lines).unwrap();
    p.to_str().unwrap().to_owned()
}

/// Every member of a zip, by name.
pub(crate) fn unzip(zip: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut z = zip::ZipArchive::new(std::fs::File::open(zip).unwrap()).unwrap();
    let mut all = BTreeMap::new();
    for i in 0..z.len() {
        let mut f = z.by_index(i).unwrap();
        let mut b = Vec::new();
        f.read_to_end(&mut b).unwrap();
        all.insert(f.name().unwrap().to_string(), b);
    }
    all
}
