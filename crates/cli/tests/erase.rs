//! `crashdsr erase` as an operator runs it: plan, then apply, on an export
//! in the shape App Center's backend wrote. A run killed with SIGKILL at
//! any checkpoint of `--apply` and started again with the same plan must
//! end in exactly the state an uninterrupted run ends in, byte for byte:
//! no record lost or duplicated, no blob half-written, no temporary copy
//! left behind.

mod common;

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::Stdio;

use common::{closed_port, export, ok};
use crashdsr_emulator::testing::TempDir;
use crashdsr_emulator::{Dataset, DatasetConfig, TruthSubject};
use sha2::{Digest, Sha256};

/// A day of a busy app: log blobs mix several people's records.
fn dataset(seed: u64) -> Dataset {
    let mut cfg = DatasetConfig::new(seed);
    cfg.errors_per_app = 600;
    cfg.span_days = 1;
    Dataset::new(cfg)
}

fn busiest(data: &Dataset) -> TruthSubject {
    data.truth()
        .subjects
        .into_iter()
        .max_by_key(|s| s.direct.len() + s.linked.len())
        .unwrap()
}

fn subjects_file(s: &TruthSubject, dir: &Path) -> String {
    let p = dir.join("subjects.jsonl");
    let line = serde_json::json!({"label": s.label, "identifiers": s.identifiers}).to_string();
    std::fs::write(&p, line + "\n").unwrap();
    p.to_str().unwrap().to_owned()
}

/// SHA-256 of every file under `root`, by relative path.
fn snapshot(root: &Path) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                let rel = p.strip_prefix(root).unwrap().to_string_lossy().into_owned();
                out.insert(rel, hex::encode(Sha256::digest(std::fs::read(&p).unwrap())));
            }
        }
    }
    out
}

/// Makes `to` a copy of `from` (removing what was there).
fn restore(from: &Path, to: &Path) {
    if to.exists() {
        std::fs::remove_dir_all(to).unwrap();
    }
    for rel in snapshot(from).keys() {
        let dest = to.join(rel);
        std::fs::create_dir_all(dest.parent().unwrap()).unwrap();
        std::fs::copy(from.join(rel), dest).unwrap();
    }
}

/// Ten distinct checkpoints in `1..=total`, drawn from `seed` (a small
/// xorshift: the test must not depend on a crate's random stream).
fn points(seed: u64, total: u64) -> Vec<u64> {
    let mut x = seed | 1;
    let mut out = std::collections::BTreeSet::new();
    while out.len() < 10.min(total as usize) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        out.insert(1 + x % total);
    }
    out.into_iter().collect()
}

#[test]
fn sigkill_at_ten_points_of_apply_then_a_rerun_ends_as_an_uninterrupted_run() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let tmp = TempDir::new("erase-kill");
    let data = dataset(47);
    let source = export(&rt, &data, &tmp.path().join("storage"));
    let root = Path::new(&source).to_path_buf();
    let pristine = tmp.path().join("pristine");
    restore(&root, &pristine);
    let subjects = subjects_file(&busiest(&data), tmp.path());
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
    // A rewrite passes five checkpoints (started, temporary copy written,
    // journaled as written, replaced, done), a delete three (started,
    // deleted, done). A wrong count shows: the pause is never reached.
    let total = 5 * rewrites + 3 * deletes;

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
            "--force",
        ])
    };
    let counts = |trial: &str| -> serde_json::Value {
        let receipt = tmp.path().join(format!("{trial}.zip"));
        let mut z = zip::ZipArchive::new(std::fs::File::open(receipt).unwrap()).unwrap();
        let json: serde_json::Value =
            serde_json::from_reader(z.by_name("erasure.json").unwrap()).unwrap();
        json["counts"].clone()
    };

    // The uninterrupted run, the reference.
    ok(apply("whole").output().unwrap());
    let reference = snapshot(&root);
    assert_ne!(reference, snapshot(&pristine));
    let reference_counts = counts("whole");

    let seed = std::env::var("CRASHDSR_TEST_KILL_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0x5eed_2026_u64);
    let at = points(seed, total);
    println!("killing at checkpoints {at:?} of {total} (seed {seed})");
    for k in at {
        restore(&pristine, &root);
        let trial = format!("kill-{k}");
        let mut child = apply(&trial)
            .env("CRASHDSR_TEST_PAUSE_AT", k.to_string())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
        let paused = format!("paused at checkpoint {k}");
        let mut seen = Vec::new();
        loop {
            match lines.next() {
                Some(line) => {
                    let line = line.unwrap();
                    if line.contains(&paused) {
                        break;
                    }
                    seen.push(line);
                }
                None => panic!(
                    "checkpoint {k}: the run ended without pausing: {}",
                    seen.join("\n")
                ),
            }
        }
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        ok(apply(&trial).output().unwrap());
        assert_eq!(
            snapshot(&root),
            reference,
            "killed at checkpoint {k} and rerun: not the uninterrupted run's state"
        );
        assert_eq!(counts(&trial), reference_counts, "checkpoint {k}");
    }
}

#[test]
fn apply_refuses_other_people_and_a_plan_that_was_edited() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let tmp = TempDir::new("erase-refuse");
    let data = dataset(48);
    let source = export(&rt, &data, &tmp.path().join("storage"));
    let truth = data.truth();
    let gone = busiest(&data);
    let other = truth
        .subjects
        .iter()
        .find(|s| s.label != gone.label)
        .unwrap();
    let subjects = subjects_file(&gone, tmp.path());
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
