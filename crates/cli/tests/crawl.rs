//! `crashdsr inventory` and `fetch` as processes: killed with SIGKILL at
//! random points and resumed, several workers on PostgreSQL with one killed
//! midway, and bad input. The emulator runs in the test process so that it
//! can count what was fetched.

mod common;

use common::ok;

use std::collections::HashMap;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use crashdsr_crawl::{Archive, Manifest, verify_manifest};
use crashdsr_emulator::testing::TempDir;
use crashdsr_emulator::{DatasetConfig, EmulatorConfig, RunningEmulator, serve};
use crashdsr_state::{StateStore as Store, Status};

fn crashdsr(emu: &RunningEmulator, work: &Path) -> Command {
    common::crashdsr(&emu.base_url(), work, "cli-token")
}

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap()
}

fn start(
    rt: &tokio::runtime::Runtime,
    owner: &str,
    app: &str,
    errors: u64,
    latency_ms: u64,
) -> RunningEmulator {
    start_with(rt, owner, app, errors, latency_ms, |_| {})
}

fn start_with(
    rt: &tokio::runtime::Runtime,
    owner: &str,
    app: &str,
    errors: u64,
    latency_ms: u64,
    tune: impl FnOnce(&mut EmulatorConfig),
) -> RunningEmulator {
    let mut ds = DatasetConfig::new(5);
    ds.errors_per_app = errors;
    ds.errors_per_group = 25;
    ds.apps = vec![(owner.into(), app.into())];
    let mut cfg = EmulatorConfig::new(ds, "cli-token");
    cfg.count_paths = true;
    cfg.latency = Duration::from_millis(latency_ms);
    tune(&mut cfg);
    rt.block_on(serve(cfg, "127.0.0.1:0".parse().unwrap()))
        .unwrap()
}

fn downloads(emu: &RunningEmulator) -> HashMap<String, u64> {
    emu.state
        .path_counts()
        .into_iter()
        .filter(|(p, _)| p.ends_with("/download"))
        .map(|(p, n)| {
            (
                p.trim_end_matches("/download")
                    .rsplit('/')
                    .next()
                    .unwrap()
                    .to_owned(),
                n,
            )
        })
        .collect()
}

/// Every crash of `app` is retrieved and its manifest verifies.
fn check(rt: &tokio::runtime::Runtime, state: &str, archive: &Path, app: &str, errors: usize) {
    rt.block_on(async {
        let store = Store::open(state).await.unwrap();
        let archive = Archive::open(archive.to_str().unwrap()).unwrap();
        let retrieved = store.retrieved(app).await.unwrap();
        assert_eq!(retrieved.len(), errors);
        for (eid, _, digest) in &retrieved {
            let bytes = archive
                .get(&Archive::error_path(app, eid, "manifest.json").unwrap())
                .await
                .unwrap()
                .unwrap();
            assert_eq!(&crashdsr_crawl::sha256_hex(&bytes), digest);
            let m: Manifest = serde_json::from_slice(&bytes).unwrap();
            assert!(
                verify_manifest(&archive, &m).await.unwrap().is_empty(),
                "{eid}"
            );
        }
        store.close().await;
    });
}

/// [`check`] on the default state store and archive of a work dir.
fn check_work_dir(rt: &tokio::runtime::Runtime, work: &Path, errors: usize) {
    let state = work.join("state.db");
    check(
        rt,
        state.to_str().unwrap(),
        &work.join("archive"),
        "contoso/demo-app",
        errors,
    );
}

#[test]
fn sigkill_twenty_times_then_resume() {
    let rt = rt();
    let emu = start(&rt, "contoso", "demo-app", 300, 3);
    let tmp = TempDir::new("sigkill");
    ok(crashdsr(&emu, tmp.path())
        .args(["inventory", "--app", "contoso/demo-app"])
        .output()
        .unwrap());
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut killed_mid_run = 0;
    for _ in 0..20 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let mut child = crashdsr(&emu, tmp.path())
            .args([
                "fetch",
                "--app",
                "contoso/demo-app",
                "--worker",
                "w1",
                "--concurrency",
                "8",
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(60 + x % 120));
        if child.try_wait().unwrap().is_none() {
            killed_mid_run += 1;
        }
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
    }
    assert!(
        killed_mid_run >= 15,
        "the crawl finished too early to test resumption ({killed_mid_run} kills)"
    );
    let out = ok(crashdsr(&emu, tmp.path())
        .args(["fetch", "--app", "contoso/demo-app", "--worker", "w1"])
        .output()
        .unwrap());
    assert!(out.contains("reused") && out.contains("retrieved"), "{out}");
    check_work_dir(&rt, tmp.path(), 300);
    let d = downloads(&emu);
    assert_eq!(d.len(), 300);
    let extra: u64 = d.values().map(|n| n - 1).sum();
    assert!(
        extra <= 20 * 8,
        "{extra} downloads repeated beyond the in-flight ones"
    );
    let status = ok(crashdsr(&emu, tmp.path()).arg("status").output().unwrap());
    assert!(
        status.contains("contoso/demo-app: 300 crashes: retrieved 300"),
        "{status}"
    );
    rt.block_on(emu.shutdown()).unwrap();
}

/// A `fetch` SIGKILLed under its default name (`host:pid`) on SQLite:
/// the rerun frees the dead process's leases before its first claim, not
/// after the 300 s lease. Checked without a clock: a rerun allowed one
/// crash must leave the dead worker holding nothing.
#[test]
fn a_killed_fetch_on_this_host_is_taken_over_at_once() {
    let rt = rt();
    let emu = start(&rt, "contoso", "demo-app", 200, 20);
    let tmp = TempDir::new("dead-lease");
    ok(crashdsr(&emu, tmp.path())
        .args(["inventory", "--app", "contoso/demo-app"])
        .output()
        .unwrap());
    let state = tmp.path().join("state.db");
    let owners = || {
        rt.block_on(async {
            let store = Store::open(state.to_str().unwrap()).await.unwrap();
            let owners = store.lease_owners().await.unwrap();
            store.close().await;
            owners
        })
    };
    let mut child = crashdsr(&emu, tmp.path())
        .args(["fetch", "--app", "contoso/demo-app", "--concurrency", "4"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let dead = format!(":{}", child.id());
    for _ in 0..200 {
        if owners().iter().any(|o| o.ends_with(&dead)) {
            break;
        }
        std::thread::sleep(Duration::from_millis(25));
    }
    assert!(child.try_wait().unwrap().is_none(), "fetch ended too soon");
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    let held = owners();
    assert!(
        held.iter().any(|o| o.ends_with(&dead)),
        "the killed worker held no lease: {held:?}"
    );
    ok(crashdsr(&emu, tmp.path())
        .args(["fetch", "--app", "contoso/demo-app", "--limit", "1"])
        .output()
        .unwrap());
    let held = owners();
    assert!(
        !held.iter().any(|o| o.ends_with(&dead)),
        "the dead worker's leases are still held: {held:?}"
    );
    ok(crashdsr(&emu, tmp.path())
        .args(["fetch", "--app", "contoso/demo-app"])
        .output()
        .unwrap());
    check_work_dir(&rt, tmp.path(), 200);
    rt.block_on(emu.shutdown()).unwrap();
}

/// The mixed faults of the "crawl stalls" report: one run must finish.
#[test]
fn one_fetch_run_gets_through_mixed_faults() {
    let rt = rt();
    let emu = start_with(&rt, "contoso", "demo-app", 400, 0, |cfg| {
        cfg.faults = "503@p=0.03,502@p=0.01,429+ra=1@p=0.02,reset@p=0.02,truncate@p=0.02@/errors/,delay=300@p=0.01".into();
    });
    let tmp = TempDir::new("faults");
    ok(crashdsr(&emu, tmp.path())
        .args(["inventory", "--app", "contoso/demo-app"])
        .output()
        .unwrap());
    let out = ok(crashdsr(&emu, tmp.path())
        .args(["fetch", "--app", "contoso/demo-app"])
        .output()
        .unwrap());
    assert!(
        out.contains("400 retrieved, 0 gone, 0 failed, 0 parked, 0 to retry"),
        "{out}"
    );
    let throttled: u64 = out
        .split(" throttled)")
        .next()
        .and_then(|s| s.rsplit(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap();
    assert!(throttled > 0, "the faults sent no 429: {out}");
    check_work_dir(&rt, tmp.path(), 400);
    rt.block_on(emu.shutdown()).unwrap();
}

/// A fetch slowed by a real limit says so on its progress lines (plain,
/// with no colour codes, as stderr is not a terminal) and in `status`.
#[test]
fn a_throttled_fetch_says_so_in_progress_and_status() {
    let rt = rt();
    let emu = start_with(&rt, "contoso", "demo-app", 120, 2, |cfg| {
        cfg.rate_limit = Some((50, Duration::from_secs(1)));
    });
    let tmp = TempDir::new("throttled");
    ok(crashdsr(&emu, tmp.path())
        .args(["inventory", "--app", "contoso/demo-app"])
        .output()
        .unwrap());
    let log = tmp.path().join("fetch.log");
    let mut child = Command::new(env!("CARGO_BIN_EXE_crashdsr"))
        .env("APPCENTER_API_TOKEN", "cli-token")
        .env_remove("NO_COLOR")
        .args(["--base-url", &emu.base_url(), "--work-dir"])
        .arg(tmp.path())
        .args(["--api-rate", "100/1", "fetch", "--app", "contoso/demo-app"])
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    let mut seen = None;
    for _ in 0..120 {
        std::thread::sleep(Duration::from_millis(250));
        let status = ok(crashdsr(&emu, tmp.path()).arg("status").output().unwrap());
        if status.contains("throttled to") {
            seen = Some(status);
            break;
        }
        if child.try_wait().unwrap().is_some() {
            break;
        }
    }
    let status = seen.expect("status never showed the fetch throttled");
    assert!(
        status.contains("Running fetches:")
            && status.contains("contoso/demo-app: ")
            && status.contains("429s in the last minute")
            && status.contains("left"),
        "{status}"
    );
    assert!(child.wait().unwrap().success());
    let log = std::fs::read_to_string(&log).unwrap();
    assert!(!log.contains('\x1b'), "colour codes in a log file: {log}");
    assert!(
        log.lines()
            .any(|l| l.contains("throttled: ") && l.contains("429s in the last minute")),
        "{log}"
    );
    // Finished workers leave the list.
    let status = ok(crashdsr(&emu, tmp.path()).arg("status").output().unwrap());
    assert!(!status.contains("Running fetches"), "{status}");
    rt.block_on(emu.shutdown()).unwrap();
}

#[test]
fn three_workers_on_postgres_one_killed() {
    let Ok(pg) = std::env::var("CRASHDSR_TEST_POSTGRES_URL") else {
        println!("skipped: CRASHDSR_TEST_POSTGRES_URL is not set");
        return;
    };
    let rt = rt();
    let app_name = format!("mw-{}", std::process::id());
    let app = format!("ci/{app_name}");
    let emu = start(&rt, "ci", &app_name, 400, 3);
    let tmp = TempDir::new("workers");
    rt.block_on(async {
        Store::open(&pg)
            .await
            .unwrap()
            .forget_app(&app)
            .await
            .unwrap()
    });
    let cmd = |extra: &[&str]| {
        let mut c = crashdsr(&emu, tmp.path());
        c.args(["--state", &pg]).args(extra);
        c
    };
    ok(cmd(&["inventory", "--app", &app]).output().unwrap());
    let spawn = |w: &str| {
        cmd(&[
            "fetch",
            "--app",
            &app,
            "--worker",
            w,
            "--lease-secs",
            "2",
            "--batch",
            "8",
            "--concurrency",
            "4",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
    };
    let mut victim = spawn("w1");
    let w2 = spawn("w2");
    let w3 = spawn("w3");
    std::thread::sleep(Duration::from_millis(400));
    assert!(
        victim.try_wait().unwrap().is_none(),
        "worker 1 finished before it could be killed"
    );
    victim.kill().unwrap();
    victim.wait().unwrap();
    for w in [w2, w3] {
        ok(w.wait_with_output().unwrap());
    }
    check(&rt, &pg, &tmp.path().join("archive"), &app, 400);
    let d = downloads(&emu);
    assert_eq!(d.len(), 400, "a crash was never downloaded");
    let extra: u64 = d.values().map(|n| n - 1).sum();
    // Only what the killed worker had in flight may be fetched again.
    assert!(extra <= 4, "{extra} crashes were downloaded twice");
    rt.block_on(async {
        let store = Store::open(&pg).await.unwrap();
        let counts = store.counts().await.unwrap();
        let mine: Vec<_> = counts.iter().filter(|c| c.app == app).collect();
        assert_eq!(mine.len(), 1);
        assert_eq!((mine[0].status, mine[0].count), (Status::Retrieved, 400));
        store.forget_app(&app).await.unwrap();
    });
    rt.block_on(emu.shutdown()).unwrap();
}

#[test]
fn bad_input_exits_2_and_leaves_the_store_consistent() {
    let rt = rt();
    let emu = start(&rt, "contoso", "demo-app", 20, 0);
    let tmp = TempDir::new("bad");
    let run = |args: &[&str], token: &str| {
        let out = crashdsr(&emu, tmp.path())
            .env("APPCENTER_API_TOKEN", token)
            .args(args)
            .output()
            .unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let (code, err) = run(&["inventory", "--app", "contoso/nope"], "cli-token");
    assert_eq!(code, Some(2));
    assert!(
        err.contains("HTTP 404") && err.lines().count() == 1,
        "{err}"
    );
    let (code, err) = run(
        &["inventory", "--app", "contoso/demo-app"],
        "bad-token-value",
    );
    assert_eq!(code, Some(2));
    assert!(
        err.contains("HTTP 401") && !err.contains("bad-token-value"),
        "{err}"
    );
    ok(crashdsr(&emu, tmp.path())
        .args(["inventory", "--app", "contoso/demo-app"])
        .output()
        .unwrap());
    // A file where the archive should be: one line, exit 2, nothing marked.
    std::fs::write(tmp.path().join("blocked"), b"").unwrap();
    let (code, err) = run(
        &[
            "--archive",
            tmp.path().join("blocked").to_str().unwrap(),
            "fetch",
            "--app",
            "contoso/demo-app",
        ],
        "cli-token",
    );
    assert_eq!(code, Some(2));
    assert!(err.contains("archive"), "{err}");
    // An unreachable server stops the fetch too.
    let out = Command::new(env!("CARGO_BIN_EXE_crashdsr"))
        .env("APPCENTER_API_TOKEN", "cli-token")
        .args([
            "--base-url",
            "http://127.0.0.1:9",
            "--work-dir",
            tmp.path().to_str().unwrap(),
            "--no-progress",
        ])
        .args(["fetch", "--app", "contoso/demo-app"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let status = ok(crashdsr(&emu, tmp.path()).arg("status").output().unwrap());
    assert!(
        status.contains("contoso/demo-app: 20 crashes: pending 20"),
        "{status}"
    );
    // And after all that, a normal run completes.
    ok(crashdsr(&emu, tmp.path())
        .args(["fetch", "--app", "contoso/demo-app"])
        .output()
        .unwrap());
    check(
        &rt,
        tmp.path().join("state.db").to_str().unwrap(),
        &tmp.path().join("archive"),
        "contoso/demo-app",
        20,
    );
    rt.block_on(emu.shutdown()).unwrap();
}
