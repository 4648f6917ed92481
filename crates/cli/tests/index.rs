//! Many index workers: three `index build` processes share a PostgreSQL
//! state store and an export in Azurite, one is SIGKILLed while it builds,
//! and the index the other two leave equals a single process's, byte for
//! byte; `status` shows the segment tasks.

mod common;

use common::ok;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use crashdsr_emulator::testing::TempDir;
use crashdsr_emulator::{Dataset, DatasetConfig, EmulatorConfig, serve};
use futures::TryStreamExt as _;

fn crashdsr(base: &str, work: &Path, state: &str, key: &Path) -> Command {
    let mut c = common::crashdsr(base, work, "t");
    c.args(["--state", state])
        .env("CRASHDSR_INDEX_KEY_FILE", key);
    c
}

/// Every object under `url`, by path relative to it.
fn objects(rt: &tokio::runtime::Runtime, url: &str) -> BTreeMap<String, Vec<u8>> {
    rt.block_on(async {
        let store = crashdsr_store::Store::open(url).unwrap();
        let paths: Vec<String> = store.paths(None).try_collect().await.unwrap();
        let mut out = BTreeMap::new();
        for p in paths {
            let bytes = store.read(&p, u64::MAX).await.unwrap();
            out.insert(p, bytes.to_vec());
        }
        out
    })
}

#[test]
fn three_workers_one_killed_leave_the_index_one_worker_builds() {
    let (Ok(endpoint), Ok(postgres)) = (
        std::env::var("CRASHDSR_TEST_AZURITE"),
        std::env::var("CRASHDSR_TEST_POSTGRES_URL"),
    ) else {
        println!("skipped: CRASHDSR_TEST_AZURITE or CRASHDSR_TEST_POSTGRES_URL is not set");
        return;
    };
    let account = std::env::var("AZURE_STORAGE_ACCOUNT_NAME").unwrap();
    let account_key = std::env::var("AZURE_STORAGE_ACCOUNT_KEY").unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let mut ds = DatasetConfig::new(23);
    ds.errors_per_app = 300;
    let app_id = Dataset::new(ds.clone()).app_id(0).to_owned();
    let emu = rt
        .block_on(serve(
            EmulatorConfig::new(ds, "t"),
            "127.0.0.1:0".parse().unwrap(),
        ))
        .unwrap();
    let base = emu.base_url();
    let tmp = TempDir::new("index-workers");
    let cs = format!(
        "DefaultEndpointsProtocol=http;AccountName={account};AccountKey={account_key};BlobEndpoint={endpoint}"
    );
    let created = ok(common::crashdsr(&base, tmp.path(), "t")
        .args([
            "export-config",
            "create",
            "--app",
            "contoso/demo-app",
            "--custom",
        ])
        .args(["--path-format", "WithAppId", "--json"])
        .env("AZURE_STORAGE_CONNECTION_STRING", &cs)
        .output()
        .unwrap());
    common::wait_for_export(&base, tmp.path(), &created);
    let key = tmp.path().join("index.key");
    ok(common::crashdsr(&base, tmp.path(), "t")
        .args(["index", "keygen", key.to_str().unwrap()])
        .output()
        .unwrap());
    let source = format!("az://archive/{app_id}");
    let unique = format!(
        "{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    );
    let single = format!("az://archive/index-single-{unique}");
    let shared = format!("az://archive/index-shared-{unique}");

    // One process alone.
    let work_single = tmp.path().join("single");
    ok(crashdsr(&base, &work_single, &postgres, &key)
        .args([
            "index",
            "build",
            "--source",
            &source,
            "--index",
            &single,
            "--threads",
            "2",
        ])
        .output()
        .unwrap());

    // Three sharing the queue, one thread each; the first is killed once
    // some segments are built and it holds a lease.
    let work = tmp.path().join("shared");
    let spawn = || {
        crashdsr(&base, &work, &postgres, &key)
            .args([
                "index",
                "build",
                "--source",
                &source,
                "--index",
                &shared,
                "--threads",
                "1",
            ])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap()
    };
    let mut workers: Vec<std::process::Child> = (0..3).map(|_| spawn()).collect();
    // Its threads claim as `host:pid/N`.
    let victim = format!(":{}/", workers[0].id());
    let started = Instant::now();
    loop {
        let status = ok(crashdsr(&base, &work, &postgres, &key)
            .arg("status")
            .output()
            .unwrap());
        let line = status
            .lines()
            .find(|l| l.contains("index-shared"))
            .unwrap_or_default()
            .to_owned();
        let built: u64 = line
            .rsplit(", ")
            .next()
            .and_then(|p| p.strip_suffix(" built"))
            .and_then(|n| n.trim().parse().ok())
            .unwrap_or(0);
        if built >= 3 {
            assert!(
                line.contains("pending") && line.contains("being built"),
                "{line}"
            );
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "no segment built: {status}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    // Kill it the moment it holds a segment's lease: mid-segment.
    let state = rt
        .block_on(crashdsr_state::StateStore::open(&postgres))
        .unwrap();
    let mut holds = false;
    let deadline = Instant::now() + Duration::from_secs(30);
    while !holds && Instant::now() < deadline {
        holds = rt
            .block_on(state.segment_lease_owners())
            .unwrap()
            .iter()
            .any(|o| o.contains(&victim));
    }
    workers[0].kill().unwrap();
    workers[0].wait().unwrap();
    for w in workers.drain(1..) {
        let out = w.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "a surviving worker failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let alone = objects(&rt, &single);
    let together = objects(&rt, &shared);
    assert!(
        alone.contains_key("index.json") && alone.len() > 10,
        "{:?}",
        alone.keys()
    );
    assert_eq!(
        alone.keys().collect::<Vec<_>>(),
        together.keys().collect::<Vec<_>>(),
        "the same files"
    );
    for (path, bytes) in &alone {
        assert!(together[path] == *bytes, "{path} differs");
    }
    // The killed worker held a segment when it died (else the kill tested
    // nothing); its segment was taken over at once, not after the lease.
    assert!(holds, "the killed worker held no lease when it was killed");
    // Every segment is recorded with its entry: none as gone ("null"),
    // which a thread taking over a sibling's segment, or a worker
    // re-claiming one it built, once recorded.
    for index in [&single, &shared] {
        let built = rt.block_on(state.built_segments(index)).unwrap();
        assert!(built.len() > 10);
        let gone: Vec<&String> = built
            .iter()
            .filter(|(_, e)| e == "null")
            .map(|(s, _)| s)
            .collect();
        assert!(gone.is_empty(), "{index}: recorded as gone: {gone:?}");
    }
    let status = ok(crashdsr(&base, &work, &postgres, &key)
        .arg("status")
        .output()
        .unwrap());
    assert!(
        status
            .lines()
            .any(|l| l.contains("index-shared") && l.contains("0 pending, 0 being built")),
        "{status}"
    );
    // And a search with it gives the full scan's lines.
    let subjects = common::subjects_file(
        &Dataset::new({
            let mut d = DatasetConfig::new(23);
            d.errors_per_app = 300;
            d
        })
        .truth()
        .subjects,
        tmp.path(),
    );
    let search = |extra: &[&str]| -> Vec<String> {
        let out = ok(crashdsr(&base, &work, &postgres, &key)
            .args([
                "search",
                "--source",
                &source,
                "--subjects",
                &subjects,
                "--json",
            ])
            .args(extra)
            .output()
            .unwrap());
        out.lines()
            .filter(|l| !l.contains("\"kind\":\"index\""))
            .map(str::to_owned)
            .collect()
    };
    let full = search(&[]);
    assert!(!full.is_empty());
    let narrowed = search(&["--index", &shared]);
    let (a, b): (std::collections::BTreeSet<_>, std::collections::BTreeSet<_>) =
        (narrowed.iter().collect(), full.iter().collect());
    let only_narrowed: Vec<_> = a.difference(&b).collect();
    let only_full: Vec<_> = b.difference(&a).collect();
    assert_eq!(
        narrowed, full,
        "only narrowed: {only_narrowed:#?}\nonly full: {only_full:#?}"
    );
    rt.block_on(emu.shutdown()).unwrap();
}

/// `erase` and `purge` with `--index`: the plan is the plan without it;
/// `--apply` brings the index up to date and the receipt names the
/// segments rebuilt and dropped; afterwards the index is current and a
/// search with it gives the full scan's lines.
#[test]
fn erase_and_purge_keep_the_index_current_and_say_so() {
    use crashdsr_emulator::testing::busiest;
    let rt = tokio::runtime::Runtime::new().unwrap();
    let tmp = TempDir::new("index-erase");
    let mut cfg = DatasetConfig::new(31);
    cfg.errors_per_app = 300;
    cfg.span_days = 10;
    let now = cfg.now;
    let data = Dataset::new(cfg);
    let source = common::export(&rt, &data, &tmp.path().join("storage"));
    let base = common::closed_port();
    let work = tmp.path().join("work");
    let key = tmp.path().join("index.key");
    let index = tmp.path().join("index");
    let index = index.to_str().unwrap();
    let run = |args: &[&str]| {
        let mut c = common::crashdsr(&base, &work, "t");
        c.args(args).env("CRASHDSR_INDEX_KEY_FILE", &key);
        c.output().unwrap()
    };
    ok(run(&["index", "keygen", key.to_str().unwrap()]));
    // `index verify` says the index is current (exit 0).
    let current = || {
        let verify = run(&["index", "verify", "--source", &source, "--index", index]);
        assert_eq!(
            verify.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&verify.stdout)
        );
    };
    ok(run(&[
        "index", "build", "--source", &source, "--index", index,
    ]));
    // An index deleted and built again with the same state store is whole
    // (the queue remembers segments built, not that their files are gone).
    std::fs::remove_dir_all(index).unwrap();
    ok(run(&[
        "index", "update", "--source", &source, "--index", index,
    ]));
    current();
    let truth = data.truth();
    let all = common::subjects_file(&truth.subjects, tmp.path());
    let person = tmp.path().join("person.jsonl");
    std::fs::rename(
        common::subjects_file(&[busiest(&truth)], tmp.path()),
        &person,
    )
    .unwrap();
    let person = person.to_str().unwrap();
    common::subjects_file(&truth.subjects, tmp.path());
    let same_search = |what: &str| {
        let lines = |extra: &[&str]| -> Vec<String> {
            let mut args = vec!["search", "--source", &source, "--subjects", &all, "--json"];
            args.extend(extra);
            ok(run(&args))
                .lines()
                .filter(|l| !l.contains("\"kind\":\"index\""))
                .map(str::to_owned)
                .collect()
        };
        assert_eq!(lines(&["--index", index]), lines(&[]), "{what}");
    };
    let plain_plan = tmp.path().join("plain.json");
    let indexed_plan = tmp.path().join("indexed.json");
    for (plan, extra) in [
        (&plain_plan, vec![]),
        (&indexed_plan, vec!["--index", index]),
    ] {
        let mut args = vec!["erase", "--source", &source, "--subjects", person];
        args.extend(["--plan-out", plan.to_str().unwrap()]);
        args.extend(extra);
        ok(run(&args));
    }
    let body = |p: &Path| {
        let mut v: serde_json::Value = serde_json::from_slice(&std::fs::read(p).unwrap()).unwrap();
        for k in ["plan_id", "created"] {
            v.as_object_mut().unwrap().remove(k);
        }
        v
    };
    assert_eq!(
        body(&indexed_plan),
        body(&plain_plan),
        "the index changed the plan"
    );
    let receipt = tmp.path().join("erase.zip");
    ok(run(&[
        "erase",
        "--subjects",
        person,
        "--apply",
        indexed_plan.to_str().unwrap(),
        "--index",
        index,
        "--receipt-out",
        receipt.to_str().unwrap(),
    ]));
    let files = common::unzip(&receipt);
    let json: serde_json::Value = serde_json::from_slice(&files["erasure.json"]).unwrap();
    let rebuilt = json["index"]["segments_rebuilt"].as_array().unwrap();
    assert!(!rebuilt.is_empty(), "{}", json["index"]);
    let html = String::from_utf8(files["erasure.html"].clone()).unwrap();
    assert!(html.contains("id=\"index\""));
    current();
    same_search("after an erasure");

    // A purge of everything older than five days drops their segments.
    let as_of = (now + chrono::Duration::days(1))
        .format("%Y-%m-%d")
        .to_string();
    let purge_plan = tmp.path().join("purge.jsonl");
    ok(run(&[
        "purge",
        "--source",
        &source,
        "--older-than",
        "5d",
        "--as-of",
        &as_of,
        "--plan-out",
        purge_plan.to_str().unwrap(),
    ]));
    let receipt = tmp.path().join("purge.zip");
    ok(run(&[
        "purge",
        "--apply",
        purge_plan.to_str().unwrap(),
        "--index",
        index,
        "--receipt-out",
        receipt.to_str().unwrap(),
    ]));
    let json: serde_json::Value =
        serde_json::from_slice(&common::unzip(&receipt)["erasure.json"]).unwrap();
    let dropped = json["index"]["segments_dropped"].as_array().unwrap();
    assert!(dropped.len() > 10, "{}", json["index"]);
    current();
    same_search("after a purge");
}
