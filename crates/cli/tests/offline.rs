//! `crashdsr request` in today's world: App Center's API is gone (its base
//! URL is a closed port) and the answer comes from a continuous export in
//! the shape App Center's backend wrote, from a crawl archive made before
//! the shutdown, or from both. The package must hold exactly the truth's
//! crashes, each crash blob and attachment byte-identical to what is
//! stored, the person's activity records, no local path of this machine,
//! and the same bytes on a second run.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::Command;

use common::{closed_port, export, ok, subjects_file, unzip};
use crashdsr_emulator::testing::TempDir;
use crashdsr_emulator::{Dataset, DatasetConfig, EmulatorConfig, TruthSubject, serve};

const SEED: u64 = 23;
const ERRORS: u64 = 500;

fn dataset() -> DatasetConfig {
    let mut cfg = DatasetConfig::new(SEED);
    cfg.errors_per_app = ERRORS;
    cfg
}

fn truth_crashes(s: &TruthSubject) -> BTreeSet<String> {
    s.direct
        .iter()
        .map(|d| d.error_id.clone())
        .chain(s.linked.iter().map(|l| l.error_id.clone()))
        .collect()
}

fn verify(zip: &Path) {
    ok(Command::new(env!("CARGO_BIN_EXE_crashdsr"))
        .args(["verify", zip.to_str().unwrap()])
        .output()
        .unwrap());
}

/// Nothing in the package names a path of this machine.
fn no_local_paths(all: &BTreeMap<String, Vec<u8>>, tmp: &Path) {
    let needle = tmp.to_str().unwrap().as_bytes();
    for (name, bytes) in all {
        assert!(
            !bytes.windows(needle.len()).any(|w| w == needle),
            "{name} names the local path {}",
            tmp.display()
        );
    }
}

#[test]
fn an_export_alone_answers_with_everything_it_holds() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let tmp = TempDir::new("offline-export");
    let data = Dataset::new(dataset());
    let truth = data.truth();
    let source = export(&rt, &data, &tmp.path().join("storage"));
    let file = subjects_file(&truth.subjects, tmp.path());
    let out = tmp.path().join("out");
    let base = closed_port();
    let app_name = format!("{}=contoso/demo-app", data.app_id(0));
    let run = |force: bool, extra: &[&str]| {
        let mut c = common::crashdsr(&base, tmp.path(), "t");
        c.args([
            "request",
            "--app",
            "contoso/demo-app",
            "--app-name",
            &app_name,
        ])
        .args(["--source", &source, "--subjects", &file])
        .args(["--out", out.to_str().unwrap(), "--received", "2026-11-30"])
        .args(extra);
        if force {
            c.arg("--force");
        }
        c.output().unwrap()
    };
    let first = run(false, &[]);
    let stderr = String::from_utf8_lossy(&first.stderr).into_owned();
    ok(first);
    assert!(
        stderr.contains("answering from the sources alone"),
        "says the API is not used: {stderr}"
    );

    let export_root = Path::new(&source);
    let mut activity_total = 0;
    for s in &truth.subjects {
        let zip = out.join(format!("{}.zip", s.label));
        verify(&zip);
        let all = unzip(&zip);
        no_local_paths(&all, tmp.path());
        let m: serde_json::Value = serde_json::from_slice(&all["manifest.json"]).unwrap();
        let crashes = m["crashes"].as_array().unwrap();
        let ids: BTreeSet<String> = crashes
            .iter()
            .map(|c| c["error_id"].as_str().unwrap().to_owned())
            .collect();
        assert_eq!(ids, truth_crashes(s), "{}: the truth's crashes", s.label);
        assert_eq!(m["counts"]["crashes"], crashes.len());
        assert_eq!(m["sources"][0]["kind"], "continuous export");
        assert_eq!(m["sources"][0]["store"], "a local directory");
        for c in crashes {
            let eid = c["error_id"].as_str().unwrap();
            assert_eq!(c["name"], "contoso/demo-app");
            // The crash blob, as stored.
            let blob = &c["files"][0];
            assert_eq!(blob["file"], format!("crashes/{eid}/crash.json"));
            let stored = std::fs::read(export_root.join(blob["object"].as_str().unwrap())).unwrap();
            assert_eq!(
                all[&format!("crashes/{eid}/crash.json")],
                stored,
                "{eid}: crash blob"
            );
            // Every attachment the app sent with it, as uploaded.
            let e = data.error(0, data.parse_error_id(0, eid).unwrap());
            let listed: BTreeMap<&str, &serde_json::Value> = c["attachments"]
                .as_array()
                .unwrap()
                .iter()
                .map(|a| (a["attachment_id"].as_str().unwrap(), a))
                .collect();
            assert_eq!(
                listed.keys().copied().collect::<BTreeSet<_>>(),
                e.attachments.iter().map(|(id, _)| id.as_str()).collect(),
                "{eid}: attachments"
            );
            for (k, (aid, _)) in e.attachments.iter().enumerate() {
                let a = listed[aid.as_str()];
                let bytes = &all[a["file"].as_str().unwrap()];
                assert_eq!(
                    bytes,
                    &data.attachment_bytes(&e, k),
                    "{eid}/{aid}: as uploaded"
                );
                let stored =
                    std::fs::read(export_root.join(a["object"].as_str().unwrap())).unwrap();
                assert_eq!(bytes, &stored, "{eid}/{aid}: as stored");
            }
            // Its error and attachment logs.
            let records = &all[&format!("crashes/{eid}/records.jsonl")];
            let lines: Vec<serde_json::Value> = records
                .split(|b| *b == b'\n')
                .filter(|l| !l.is_empty())
                .map(|l| serde_json::from_slice(l).unwrap())
                .collect();
            assert_eq!(lines.len(), 1 + e.attachments.len(), "{eid}: records");
            assert!(
                lines
                    .iter()
                    .all(|r| r["InstallId"] == e.install_id.as_str())
            );
        }
        // The person's activity: records of their installs only, and the
        // event that carries their address among them.
        let installs: BTreeSet<String> = truth_crashes(s)
            .iter()
            .map(|id| {
                data.error(0, data.parse_error_id(0, id).unwrap())
                    .install_id
            })
            .collect();
        let mut activity = 0;
        for (name, bytes) in all.iter().filter(|(n, _)| n.starts_with("activity/")) {
            for line in bytes.split(|b| *b == b'\n').filter(|l| !l.is_empty()) {
                let r: serde_json::Value = serde_json::from_slice(line).unwrap();
                let install = r["InstallId"].as_str().unwrap().to_ascii_lowercase();
                assert!(
                    installs.contains(&install),
                    "{name}: another install's record"
                );
                activity += 1;
            }
        }
        let with_address = s
            .direct
            .iter()
            .filter(|d| d.r#where.iter().any(|w| w.contains("session_logs")))
            .count();
        if with_address > 0 {
            assert!(activity > with_address, "{}: activity records", s.label);
        }
        assert_eq!(m["counts"]["activity_records"], activity);
        activity_total += activity;
        let report = String::from_utf8(all["report.html"].clone()).unwrap();
        assert!(report.contains(&format!("id=\"crash-count\">{}<", crashes.len())));
    }
    assert!(activity_total > 0, "some subject has activity records");

    // The same inputs give the same bytes.
    let before: Vec<Vec<u8>> = truth
        .subjects
        .iter()
        .map(|s| std::fs::read(out.join(format!("{}.zip", s.label))).unwrap())
        .collect();
    ok(run(true, &[]));
    for (s, b) in truth.subjects.iter().zip(&before) {
        assert_eq!(
            &std::fs::read(out.join(format!("{}.zip", s.label))).unwrap(),
            b,
            "{}: a second run changed the package",
            s.label
        );
    }

    // With an index: the same packages, byte for byte, and the same search
    // lines, while reading a fraction of the objects.
    let key = tmp.path().join("index.key");
    let index = tmp.path().join("index");
    let index = index.to_str().unwrap();
    ok(common::crashdsr(&base, tmp.path(), "t")
        .args(["index", "keygen", key.to_str().unwrap()])
        .output()
        .unwrap());
    let built = common::crashdsr(&base, tmp.path(), "t")
        .args([
            "index", "build", "--source", &source, "--index", index, "--json",
        ])
        .env("CRASHDSR_INDEX_KEY_FILE", &key)
        .output()
        .unwrap();
    let built: serde_json::Value = serde_json::from_str(&ok(built)).unwrap();
    assert!(built["built"].as_u64().unwrap() > 0, "{built}");
    let with_index = ["--index", index, "--key-file", key.to_str().unwrap()];
    ok(run(true, &with_index));
    for (s, b) in truth.subjects.iter().zip(&before) {
        assert_eq!(
            &std::fs::read(out.join(format!("{}.zip", s.label))).unwrap(),
            b,
            "{}: the index changed the package",
            s.label
        );
    }
    let search = |extra: &[&str]| {
        let o = common::crashdsr(&base, tmp.path(), "t")
            .args([
                "search",
                "--source",
                &source,
                "--subjects",
                &file,
                "--json",
                "--expand",
                "install-id",
            ])
            .args(extra)
            .output()
            .unwrap();
        let stderr = String::from_utf8(o.stderr.clone()).unwrap();
        // The answer's lines, and the index's apart.
        let (used, lines): (Vec<serde_json::Value>, Vec<serde_json::Value>) = ok(o)
            .lines()
            .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
            .partition(|l| l["kind"] == "index");
        (lines, used, stderr)
    };
    let (full, _, _) = search(&[]);
    let (narrowed, used, stderr) = search(&with_index);
    assert_eq!(narrowed, full, "the index changed the search's lines");
    assert_eq!(used.len(), 1, "one index line: {used:?}");
    assert!(
        used[0]["candidates"].as_u64().unwrap() * 4 < used[0]["objects_vouched"].as_u64().unwrap()
    );
    assert!(
        stderr.contains("segments answered from the index"),
        "{stderr}"
    );
    // Trusting folder times (what it trusts is the library's test): the
    // same lines.
    let trusting = [&with_index[..], &["--trust-folder-times"]].concat();
    let (narrowed, used, _) = search(&trusting);
    assert_eq!(narrowed, full, "trusting folder times changed the lines");
    assert!(used[0]["segments_by_folder_times"].is_u64(), "{used:?}");
    // Without the key, or with another, the index is refused.
    let o = common::crashdsr(&base, tmp.path(), "t")
        .args([
            "search",
            "--source",
            &source,
            "--subjects",
            &file,
            "--index",
            index,
        ])
        .env_remove("CRASHDSR_INDEX_KEY_FILE")
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("--key-file"));
    let other = tmp.path().join("other.key");
    std::fs::write(&other, [9u8; 32]).unwrap();
    let o = common::crashdsr(&base, tmp.path(), "t")
        .args([
            "search",
            "--source",
            &source,
            "--subjects",
            &file,
            "--index",
            index,
        ])
        .arg("--key-file")
        .arg(&other)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("not the key"),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let o = common::crashdsr(&base, tmp.path(), "t")
        .args([
            "index",
            "verify",
            "--source",
            &source,
            "--index",
            index,
            "--key-file",
        ])
        .arg(&key)
        .output()
        .unwrap();
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stdout)
    );
}

#[test]
fn an_archive_and_an_export_answer_together_each_crash_once() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let tmp = TempDir::new("offline-both");
    let cfg = dataset();
    let data = Dataset::new(cfg.clone());
    let truth = data.truth();
    let source = export(&rt, &data, &tmp.path().join("storage"));
    let s = truth
        .subjects
        .iter()
        .max_by_key(|s| s.direct.len() + s.linked.len())
        .unwrap();
    let file = subjects_file(std::slice::from_ref(s), tmp.path());
    let app_name = format!("{}=contoso/demo-app", data.app_id(0));

    // Before the shutdown: the crawl archive, through the API.
    let emu = rt
        .block_on(serve(
            EmulatorConfig::new(cfg, "t"),
            "127.0.0.1:0".parse().unwrap(),
        ))
        .unwrap();
    let crawl = tmp.path().join("crawl");
    ok(common::crashdsr(&emu.base_url(), &crawl, "t")
        .args(["request", "--path", "api", "--app", "contoso/demo-app"])
        .args([
            "--subjects",
            &file,
            "--out",
            tmp.path().join("api").to_str().unwrap(),
        ])
        .output()
        .unwrap());
    rt.block_on(emu.shutdown()).unwrap();
    let archive = crawl.join("archive");
    let base = closed_port();

    // The archive alone.
    let work = tmp.path().join("work");
    let only = tmp.path().join("archive-only");
    ok(common::crashdsr(&base, &work, "t")
        .args([
            "request",
            "--path",
            "export",
            "--source",
            archive.to_str().unwrap(),
        ])
        .args([
            "--subjects",
            &file,
            "--out",
            only.to_str().unwrap(),
            "--received",
            "2026-11-30",
        ])
        .output()
        .unwrap());
    let zip = only.join(format!("{}.zip", s.label));
    verify(&zip);
    let all = unzip(&zip);
    no_local_paths(&all, tmp.path());
    let m: serde_json::Value = serde_json::from_slice(&all["manifest.json"]).unwrap();
    assert_eq!(m["sources"][0]["kind"], "crawl archive");
    let ids: BTreeSet<String> = m["crashes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["error_id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(ids, truth_crashes(s), "archive alone: the truth's crashes");
    for c in m["crashes"].as_array().unwrap() {
        let eid = c["error_id"].as_str().unwrap();
        let crash = &all[&format!("crashes/{eid}/crash.json")];
        let stored = std::fs::read(
            archive.join(format!("apps/contoso/demo-app/errors/{eid}/download.json")),
        )
        .unwrap();
        assert_eq!(crash, &stored, "{eid}: the archived crash log, as stored");
    }

    // Archive and export together: each crash once, its origins named.
    let both = tmp.path().join("both");
    let run = || {
        common::crashdsr(&base, &work, "t")
            .args(["request", "--app-name", &app_name])
            .args(["--source", archive.to_str().unwrap(), "--source", &source])
            .args(["--subjects", &file, "--out", both.to_str().unwrap()])
            .args(["--received", "2026-11-30", "--force"])
            .output()
            .unwrap()
    };
    ok(run());
    let zip = both.join(format!("{}.zip", s.label));
    verify(&zip);
    let first = std::fs::read(&zip).unwrap();
    let all = unzip(&zip);
    no_local_paths(&all, tmp.path());
    let m: serde_json::Value = serde_json::from_slice(&all["manifest.json"]).unwrap();
    let crashes = m["crashes"].as_array().unwrap();
    let ids: Vec<&str> = crashes
        .iter()
        .map(|c| c["error_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids.len(), truth_crashes(s).len(), "each crash once");
    assert_eq!(
        ids.iter().map(|i| (*i).to_owned()).collect::<BTreeSet<_>>(),
        truth_crashes(s)
    );
    for c in crashes {
        let eid = c["error_id"].as_str().unwrap();
        // The crash log is in both sources: one file, the other a copy.
        let blob = &c["files"][0];
        assert_eq!(blob["file"], format!("crashes/{eid}/crash.json"));
        assert_eq!(c["copies"].as_array().unwrap().len(), 1, "{eid}: {c}");
        let sources: BTreeSet<u64> = [blob["source"].as_u64().unwrap()]
            .into_iter()
            .chain(
                c["copies"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|x| x["source"].as_u64().unwrap()),
            )
            .collect();
        assert_eq!(
            sources,
            [1, 2].into_iter().collect(),
            "{eid}: named in both"
        );
        // The archive's own artefacts come along, marked as such.
        assert!(
            c["files"].as_array().unwrap().iter().any(|f| f["file"]
                == format!("crashes/{eid}/archive/details.json")
                && f["source"] == 1),
            "{eid}: {c}"
        );
    }
    let kinds: Vec<&str> = m["sources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["crawl archive", "continuous export"]);
    ok(run());
    assert_eq!(
        std::fs::read(&zip).unwrap(),
        first,
        "a second run changed the package"
    );
}

#[test]
fn bad_sources_give_a_clear_message_and_no_package() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let tmp = TempDir::new("offline-bad");
    let data = Dataset::new(dataset());
    let source = export(&rt, &data, &tmp.path().join("storage"));
    let junk = tmp.path().join("junk");
    std::fs::create_dir_all(junk.join("2026")).unwrap();
    std::fs::write(junk.join("2026/notes.txt"), "nothing from App Center").unwrap();
    let out = tmp.path().join("out.zip");
    let base = closed_port();
    let cases: Vec<(Vec<String>, &str)> = vec![
        (
            vec![
                "--source".into(),
                tmp.path().join("nowhere").display().to_string(),
            ],
            "does not exist",
        ),
        (
            vec!["--source".into(), junk.display().to_string()],
            "none in the layout of an App Center continuous export",
        ),
        (
            vec![
                "--source".into(),
                source,
                "--app-name".into(),
                "11111111-2222-3333-4444-555555555555=contoso/other".into(),
            ],
            "no app 11111111-2222-3333-4444-555555555555 in the sources",
        ),
        (vec![], "nothing to search"),
    ];
    for (args, says) in cases {
        let o = common::crashdsr(&base, tmp.path(), "t")
            .args(["request", "--subject", "email=ana@example.com"])
            .args(["--out", out.to_str().unwrap()])
            .args(&args)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains(says), "{args:?}: {stderr}");
        assert!(!out.exists(), "{args:?}: no package");
        let leftovers: Vec<_> = std::fs::read_dir(tmp.path())
            .unwrap()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| n.starts_with("out"))
            .collect();
        assert!(leftovers.is_empty(), "{args:?}: {leftovers:?}");
    }
}
