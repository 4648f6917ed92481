//! `crashdsr erase` as an operator runs it: plan, then apply, on an export
//! in the shape App Center's backend wrote. A run killed with SIGKILL at
//! any checkpoint of `--apply` and started again with the same plan must
//! end in exactly the state an uninterrupted run ends in, byte for byte:
//! no record lost or duplicated, no blob half-written, no temporary copy
//! left behind.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::Stdio;

use common::{closed_port, export, ok, subjects_file, unzip};
use crashdsr_emulator::testing::{TempDir, busiest, copy_tree, snapshot};
use crashdsr_emulator::{Dataset, DatasetConfig, EmulatorConfig, serve};

/// A day of a busy app: log blobs mix several people's records.
fn dataset(seed: u64) -> Dataset {
    let mut cfg = DatasetConfig::new(seed);
    cfg.errors_per_app = 600;
    cfg.span_days = 1;
    Dataset::new(cfg)
}

/// Ten distinct checkpoints in `1..=total`, drawn from `seed` (a small
/// xorshift: the test must not depend on a crate's random stream), always
/// with the last (after the last journal entry).
fn points(seed: u64, total: u64) -> Vec<u64> {
    let mut x = seed | 1;
    let mut out = std::collections::BTreeSet::from([total]);
    while out.len() < 10.min(total as usize) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        out.insert(1 + x % total);
    }
    out.into_iter().collect()
}

/// The checkpoints of an uninterrupted `--apply`: a rewrite passes five
/// (started, temporary copy written, journaled as written, replaced,
/// done); deletes go in chunks of 64, each passing one when its objects
/// are journaled as started, one per object deleted, and one when they
/// are journaled as done. A wrong count shows: the pause is never reached.
fn checkpoints(rewrites: u64, deletes: u64) -> u64 {
    5 * rewrites + deletes + 2 * deletes.div_ceil(64)
}

/// Runs `cmd` until it pauses at checkpoint `k` (a number, or `receipt`:
/// after the receipt is written), then kills it (SIGKILL).
fn kill_at(mut cmd: std::process::Command, k: impl std::fmt::Display) {
    let mut child = cmd
        .env("CRASHDSR_TEST_PAUSE_AT", k.to_string())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let paused = format!("paused at checkpoint {k}");
    let mut seen = Vec::new();
    let mut reached = false;
    for line in BufReader::new(child.stderr.take().unwrap()).lines() {
        let line = line.unwrap();
        if line.contains(&paused) {
            reached = true;
            child.kill().unwrap(); // SIGKILL
            break;
        }
        seen.push(line);
    }
    child.wait().unwrap();
    assert!(
        reached,
        "checkpoint {k}: the run ended without pausing: {}",
        seen.join("\n")
    );
}

#[test]
fn sigkill_at_ten_points_of_apply_then_a_rerun_ends_as_an_uninterrupted_run() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let tmp = TempDir::new("erase-kill");
    let data = dataset(47);
    let source = export(&rt, &data, &tmp.path().join("storage"));
    let root = Path::new(&source).to_path_buf();
    let pristine = tmp.path().join("pristine");
    copy_tree(&root, &pristine);
    let subjects = subjects_file(&[busiest(&data.truth())], tmp.path());
    let base = closed_port();
    let work = tmp.path().join("work");
    let erase = |extra: &[&str]| {
        let mut c = common::crashdsr(&base, &work, "t");
        c.args(["erase", "--subjects", &subjects]).args(extra);
        c
    };

    let plan_path = tmp.path().join("plan.json");
    let plan_file = plan_path.to_str().unwrap();
    ok(erase(&["--source", &source, "--plan-out", plan_file])
        .output()
        .unwrap());
    let plan: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&plan_path).unwrap()).unwrap();
    let rewrites = plan["rewrites"].as_array().unwrap().len() as u64;
    let deletes = plan["deletes"].as_array().unwrap().len() as u64;
    assert!(rewrites > 0 && deletes > 0, "{plan}");
    let total = checkpoints(rewrites, deletes);

    let apply = |trial: &str| {
        let state = tmp.path().join(format!("{trial}.db"));
        let receipt = tmp.path().join(format!("{trial}.zip"));
        erase(&[
            "--apply",
            plan_file,
            "--state",
            state.to_str().unwrap(),
            "--receipt-out",
            receipt.to_str().unwrap(),
        ])
    };
    let counts = |trial: &str| -> serde_json::Value {
        let receipt = tmp.path().join(format!("{trial}.zip"));
        let json: serde_json::Value =
            serde_json::from_slice(&unzip(&receipt)["erasure.json"]).unwrap();
        json["counts"].clone()
    };

    // The uninterrupted run, the reference; run again, it does nothing.
    ok(apply("whole").output().unwrap());
    let reference = snapshot(&root);
    assert_ne!(reference, snapshot(&pristine));
    let again = ok(apply("whole").output().unwrap());
    assert!(again.contains("already applied"), "{again}");
    assert_eq!(snapshot(&root), reference);

    kill_everywhere(
        tmp.path(),
        &root,
        &pristine,
        total,
        &apply,
        &counts,
        &reference,
    );
}

#[test]
fn a_purge_killed_anywhere_then_rerun_ends_as_an_uninterrupted_run() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let tmp = TempDir::new("purge-kill");
    let mut cfg = DatasetConfig::new(50);
    cfg.errors_per_app = 300;
    cfg.span_days = 10;
    let now = cfg.now;
    let data = Dataset::new(cfg);
    let source = export(&rt, &data, &tmp.path().join("storage"));
    let root = Path::new(&source).to_path_buf();
    let pristine = tmp.path().join("pristine");
    copy_tree(&root, &pristine);
    let base = closed_port();
    let work = tmp.path().join("work");
    let purge = |extra: &[&str]| {
        let mut c = common::crashdsr(&base, &work, "t");
        c.arg("purge").args(extra);
        c
    };
    let plan_path = tmp.path().join("purge.jsonl");
    let plan_file = plan_path.to_str().unwrap();
    let as_of = (now + chrono::Duration::days(1))
        .format("%Y-%m-%d")
        .to_string();
    let said = ok(
        purge(&["--source", &source, "--older-than", "5d", "--as-of", &as_of])
            .args(["--plan-out", plan_file])
            .output()
            .unwrap(),
    );
    // JSON Lines: a header, a line per object, a trailer with the count.
    let text = std::fs::read_to_string(&plan_path).unwrap();
    let trailer: serde_json::Value = serde_json::from_str(text.lines().last().unwrap()).unwrap();
    let deletes = trailer["deletes"].as_u64().unwrap();
    assert_eq!(text.lines().count() as u64, deletes + 2);
    assert!(deletes > 130, "more than two chunks: {said}");
    // An erase of a purge plan is refused, named.
    let err = common::crashdsr(&base, &work, "t")
        .args([
            "erase",
            "--subject",
            "email=a@example.com",
            "--apply",
            plan_file,
        ])
        .output()
        .unwrap();
    assert_eq!(err.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&err.stderr).contains("purge --apply"));

    let apply = |trial: &str| {
        let state = tmp.path().join(format!("{trial}.db"));
        let receipt = tmp.path().join(format!("{trial}.zip"));
        let mut c = purge(&["--apply", plan_file, "--state", state.to_str().unwrap()]);
        c.args(["--receipt-out", receipt.to_str().unwrap()]);
        c
    };
    let counts = |trial: &str| -> serde_json::Value {
        let files = unzip(&tmp.path().join(format!("{trial}.zip")));
        let json: serde_json::Value = serde_json::from_slice(&files["erasure.json"]).unwrap();
        let listed = String::from_utf8_lossy(&files["deleted.jsonl"])
            .lines()
            .count();
        serde_json::json!({"counts": json["counts"], "listed": listed})
    };
    ok(apply("whole").output().unwrap());
    let reference = snapshot(&root);
    assert_eq!(
        counts("whole"),
        serde_json::json!({"counts": {"planned": deletes, "deleted": deletes, "refused": 0, "vanished": 0}, "listed": deletes})
    );
    let again = ok(apply("whole").output().unwrap());
    assert!(again.contains("already applied"), "{again}");
    kill_everywhere(
        tmp.path(),
        &root,
        &pristine,
        deletes + 2 * deletes.div_ceil(64),
        &apply,
        &counts,
        &reference,
    );
}

/// Kills `apply(trial)` at ten checkpoints of `1..=total` (always the
/// last) and after its receipt, each time on a fresh copy of `pristine`
/// in `root`, reruns it, and checks that it ends in the `reference` state
/// with the uninterrupted run's counts; after the receipt, the rerun says
/// the plan was applied and keeps the receipt (`TRIAL.zip` in
/// `receipts`).
fn kill_everywhere(
    receipts: &Path,
    root: &Path,
    pristine: &Path,
    total: u64,
    apply: &dyn Fn(&str) -> std::process::Command,
    counts: &dyn Fn(&str) -> serde_json::Value,
    reference: &BTreeMap<String, String>,
) {
    let reference_counts = counts("whole");
    let seed = std::env::var("CRASHDSR_TEST_KILL_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0x5eed_2026_u64);
    let at = points(seed, total);
    println!("killing at checkpoints {at:?} of {total} (seed {seed})");
    for k in at {
        copy_tree(pristine, root);
        let trial = format!("kill-{k}");
        kill_at(apply(&trial), k);
        ok(apply(&trial).output().unwrap());
        assert_eq!(
            &snapshot(root),
            reference,
            "killed at checkpoint {k} and rerun: not the uninterrupted run's state"
        );
        assert_eq!(counts(&trial), reference_counts, "checkpoint {k}");
    }

    // Killed after the receipt, before the audit: the rerun says the plan
    // was applied, names the receipt, records it; the next does nothing.
    copy_tree(pristine, root);
    kill_at(apply("kill-receipt"), "receipt");
    let receipt = std::fs::read(receipts.join("kill-receipt.zip")).unwrap();
    let out = apply("kill-receipt").output().unwrap();
    let said = String::from_utf8_lossy(&out.stderr).into_owned();
    ok(out);
    assert!(said.contains("already applied"), "{said}");
    assert!(
        said.contains("kill-receipt.zip"),
        "names the receipt: {said}"
    );
    assert_eq!(&snapshot(root), reference);
    assert_eq!(counts("kill-receipt"), reference_counts);
    assert_eq!(
        std::fs::read(receipts.join("kill-receipt.zip")).unwrap(),
        receipt,
        "the receipt is the one written before the kill"
    );
    let again = ok(apply("kill-receipt").output().unwrap());
    assert!(again.contains("already applied"), "{again}");
}

#[test]
fn apply_refuses_other_people_and_a_plan_that_was_edited() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let tmp = TempDir::new("erase-refuse");
    let data = dataset(48);
    let source = export(&rt, &data, &tmp.path().join("storage"));
    let truth = data.truth();
    let gone = busiest(&truth);
    let other = truth
        .subjects
        .iter()
        .find(|s| s.label != gone.label)
        .unwrap();
    let subjects = subjects_file(std::slice::from_ref(&gone), tmp.path());
    let base = closed_port();
    let work = tmp.path().join("work");
    let plan = tmp.path().join("plan.json");
    ok(common::crashdsr(&base, &work, "t")
        .args(["erase", "--source", &source, "--subjects", &subjects])
        .args(["--plan-out", plan.to_str().unwrap()])
        .output()
        .unwrap());
    let before = snapshot(Path::new(&source));
    let run = |args: &[&str]| {
        let out = common::crashdsr(&base, &work, "t")
            .args(["erase", "--apply", plan.to_str().unwrap()])
            .args(args)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2));
        String::from_utf8_lossy(&out.stderr).into_owned()
    };
    // Someone else's identifiers: refused before anything is touched.
    let id = &other.identifiers[0];
    let kind = serde_json::to_value(&id.kind).unwrap();
    let wrong = format!("{}={}", kind.as_str().unwrap(), id.value);
    let err = run(&["--subject", &wrong]);
    assert!(err.contains("not the plan's"), "{err}");
    assert!(
        !err.contains(&id.value),
        "an identifier value was printed: {err}"
    );
    // An edited plan: refused.
    let mut v: serde_json::Value = serde_json::from_slice(&std::fs::read(&plan).unwrap()).unwrap();
    v["deletes"].as_array_mut().unwrap().pop();
    std::fs::write(&plan, serde_json::to_vec(&v).unwrap()).unwrap();
    let err = run(&["--subjects", &subjects]);
    assert!(err.contains("plan"), "{err}");
    assert_eq!(snapshot(Path::new(&source)), before, "nothing changed");
}

/// The files of each person's package that hold data (not the manifest,
/// report and checksums, which also describe the sources).
fn data_files(out: &Path, labels: &[String]) -> BTreeMap<String, BTreeMap<String, Vec<u8>>> {
    labels
        .iter()
        .map(|l| {
            let mut files = unzip(&out.join(format!("{l}.zip")));
            files.retain(|name, _| {
                !matches!(
                    name.as_str(),
                    "manifest.json" | "report.html" | "SHA256SUMS"
                )
            });
            (l.clone(), files)
        })
        .collect()
}

#[test]
fn an_archive_and_an_export_erased_together_and_through_the_api() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let tmp = TempDir::new("erase-api");
    let data = dataset(49);
    let cfg = data.config().clone();
    let truth = data.truth();
    let export_dir = export(&rt, &data, &tmp.path().join("storage"));
    let gone = busiest(&truth);
    std::fs::create_dir_all(tmp.path().join("one")).unwrap();
    let one = subjects_file(std::slice::from_ref(&gone), &tmp.path().join("one"));
    let all = subjects_file(&truth.subjects, tmp.path());
    let app_name = format!("{}=contoso/demo-app", data.app_id(0));
    let emu = rt
        .block_on(serve(
            EmulatorConfig::new(cfg.clone(), "t"),
            "127.0.0.1:0".parse().unwrap(),
        ))
        .unwrap();
    let base = emu.base_url();

    // Before the shutdown: a crawl archive of the person's crashes.
    let crawl = tmp.path().join("crawl");
    ok(common::crashdsr(&base, &crawl, "t")
        .args(["request", "--path", "api", "--app", "contoso/demo-app"])
        .args(["--subjects", &one, "--out"])
        .arg(tmp.path().join("api"))
        .output()
        .unwrap());
    let archive = crawl.join("archive").to_str().unwrap().to_owned();
    let folders = |root: &str| -> BTreeSet<String> {
        std::fs::read_dir(Path::new(root).join("apps/contoso/demo-app/errors"))
            .map(|d| {
                d.map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default()
    };
    let archived = folders(&archive);
    assert!(
        !archived.is_empty(),
        "the crawl archived the person's crashes"
    );

    let request = |out: &str| {
        ok(
            common::crashdsr(&closed_port(), &tmp.path().join("work"), "t")
                .args(["request", "--path", "export", "--app-name", &app_name])
                .args(["--source", &archive, "--source", &export_dir])
                .args(["--subjects", &all, "--received", "2026-11-30", "--out"])
                .arg(tmp.path().join(out))
                .output()
                .unwrap(),
        );
    };
    request("before");
    let stored = |root: &str| snapshot(Path::new(root));
    let (archive_before, export_before) = (stored(&archive), stored(&export_dir));
    let others: Vec<String> = truth
        .subjects
        .iter()
        .filter(|s| s.label != gone.label)
        .map(|s| s.label.clone())
        .collect();
    let before = data_files(&tmp.path().join("before"), &others);
    assert!(before.values().any(|f| !f.is_empty()), "others have data");

    // Plan and apply, through the API as well.
    let work = tmp.path().join("work");
    let plan_path = tmp.path().join("plan.json");
    let erase = || {
        let mut c = common::crashdsr(&base, &work, "t");
        c.args(["erase", "--subjects", &one, "--api"]);
        c
    };
    ok(erase()
        .args(["--app", "contoso/demo-app"])
        .args(["--source", &archive, "--source", &export_dir, "--plan-out"])
        .arg(&plan_path)
        .output()
        .unwrap());
    let plan_text = std::fs::read_to_string(&plan_path).unwrap();
    // (A value as short as a first name may occur as a word or a label.)
    for id in gone.identifiers.iter().filter(|i| i.value.len() >= 8) {
        assert!(
            !plan_text.contains(&id.value),
            "the plan holds an identifier value of type {:?}",
            id.kind
        );
    }
    let plan: serde_json::Value = serde_json::from_str(&plan_text).unwrap();
    let api = &plan["api"];
    let crashes: BTreeMap<String, String> = api["crashes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["error_id"].as_str().unwrap().to_owned(),
                c["error_group_id"]
                    .as_str()
                    .expect("a group for each crash")
                    .to_owned(),
            )
        })
        .collect();
    let direct: BTreeSet<String> = gone.direct.iter().map(|d| d.error_id.clone()).collect();
    // The crashes that hold the person's data (not those whose only trace
    // is a session event of theirs: that event is theirs, the crash is not
    // without --include-linked).
    let held: BTreeSet<String> = gone
        .direct
        .iter()
        .filter(|d| d.r#where.iter().any(|w| !w.starts_with("session_logs")))
        .map(|d| d.error_id.clone())
        .collect();
    assert!(!held.is_empty());
    assert!(held.iter().all(|e| crashes.contains_key(e)), "{crashes:?}");
    assert!(
        crashes.keys().all(|e| direct.contains(e)),
        "only the person's crashes"
    );
    // Applying without --api is refused: the plan says the API too.
    let out = common::crashdsr(&base, &work, "t")
        .args(["erase", "--subjects", &one, "--apply"])
        .arg(&plan_path)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("run it with --api"), "{err}");
    let applied = ok(erase().arg("--apply").arg(&plan_path).output().unwrap());
    assert!(applied.contains("0 refused, 0 gone"), "{applied}");
    assert!(
        applied.contains(" objects: 0 crashes, records or objects still holding"),
        "the re-scan finds nothing: {applied}"
    );
    // Every object outside the plan, in both sources, is byte-identical.
    for (n, (root, before)) in [(&archive, &archive_before), (&export_dir, &export_before)]
        .into_iter()
        .enumerate()
    {
        let planned: BTreeSet<&str> = plan["rewrites"]
            .as_array()
            .unwrap()
            .iter()
            .chain(plan["deletes"].as_array().unwrap())
            .filter(|x| x["source"] == n + 1)
            .map(|x| x["object"].as_str().unwrap())
            .collect();
        let after = stored(root);
        for (object, sha) in before {
            if planned.contains(object.as_str()) {
                assert!(
                    after.get(object) != Some(sha),
                    "{object}: planned, unchanged"
                );
            } else {
                assert_eq!(after.get(object), Some(sha), "{object} changed");
            }
        }
    }

    // Through the API: the crashes are gone, the installs blocked.
    let status = |gid: &str, eid: &str| {
        rt.block_on(async {
            reqwest::Client::new()
                .get(format!(
                    "{base}/v0.1/apps/contoso/demo-app/errors/errorGroups/{gid}/errors/{eid}"
                ))
                .header("X-API-Token", "t")
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        })
    };
    for (eid, gid) in &crashes {
        assert_eq!(status(gid, eid), 404, "{eid} deleted through the API");
    }
    let records: Vec<_> = (0..cfg.errors_per_app).map(|i| data.error(0, i)).collect();
    let theirs: BTreeSet<String> = records
        .iter()
        .filter(|e| direct.contains(&e.error_id))
        .map(|e| e.install_id.to_ascii_lowercase())
        .collect();
    let blocked: BTreeSet<String> = emu.state.blocked_installs(0).into_iter().collect();
    assert_eq!(blocked, theirs, "exactly the person's installs are blocked");
    let other = records
        .iter()
        .find(|e| !direct.contains(&e.error_id) && status(&e.group_id, &e.error_id) == 200);
    assert!(other.is_some(), "another person's crash is still served");
    rt.block_on(emu.shutdown()).unwrap();

    // In the archive and the export: the person is gone, the others are
    // exactly as they were.
    let left = folders(&archive);
    assert!(
        left.is_disjoint(&held),
        "the person's archived crashes deleted"
    );
    assert_eq!(
        left,
        archived.difference(&held).cloned().collect(),
        "the crashes only linked to them are kept"
    );
    request("after");
    assert_eq!(
        data_files(&tmp.path().join("after"), &others),
        before,
        "someone else's data changed"
    );
    let theirs = unzip(&tmp.path().join("after").join(format!("{}.zip", gone.label)));
    let m: serde_json::Value = serde_json::from_slice(&theirs["manifest.json"]).unwrap();
    assert_eq!(m["crashes"].as_array().map(Vec::len), Some(0), "{m}");
    assert_eq!(m["counts"]["activity_records"], 0, "{m}");
}

#[test]
fn a_run_killed_with_its_journal_in_postgresql_finishes_on_a_rerun() {
    let Ok(pg) = std::env::var("CRASHDSR_TEST_POSTGRES_URL") else {
        println!("skipped: CRASHDSR_TEST_POSTGRES_URL is not set");
        return;
    };
    let rt = tokio::runtime::Runtime::new().unwrap();
    let tmp = TempDir::new("erase-pg");
    let data = dataset(50);
    // The plan names its source's path, and this directory's name is new:
    // the plan id, the journal's key, is this test's own.
    let source = export(&rt, &data, &tmp.path().join("storage"));
    let root = Path::new(&source).to_path_buf();
    let pristine = tmp.path().join("pristine");
    copy_tree(&root, &pristine);
    let subjects = subjects_file(&[busiest(&data.truth())], tmp.path());
    let base = closed_port();
    let work = tmp.path().join("work");
    let plan = tmp.path().join("plan.json");
    let erase = |state: &str| {
        let mut c = common::crashdsr(&base, &work, "t");
        c.args([
            "erase",
            "--subjects",
            &subjects,
            "--state",
            state,
            "--force",
        ]);
        c
    };
    let sqlite = tmp.path().join("state.db");
    let sqlite = sqlite.to_str().unwrap();
    ok(erase(sqlite)
        .args(["--source", &source, "--plan-out"])
        .arg(&plan)
        .output()
        .unwrap());
    let apply = |state: &str| {
        let mut c = erase(state);
        c.arg("--apply").arg(&plan);
        c
    };
    ok(apply(sqlite).output().unwrap());
    let reference = snapshot(&root);
    copy_tree(&pristine, &root);
    // The middle of the run: a rewrite or a delete under way.
    let v: serde_json::Value = serde_json::from_slice(&std::fs::read(&plan).unwrap()).unwrap();
    let total = checkpoints(
        v["rewrites"].as_array().unwrap().len() as u64,
        v["deletes"].as_array().unwrap().len() as u64,
    );
    kill_at(apply(&pg), total / 2);
    ok(apply(&pg).output().unwrap());
    assert_eq!(snapshot(&root), reference);
}
