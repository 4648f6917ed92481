//! Benchmarks of the crawl, printed as figures (not a test):
//!
//! 1. requests per crash, against the minimum the API allows for the same
//!    artefacts;
//! 2. the share of the rate budget used against a rate-limited emulator
//!    with latency;
//! 3. crashes per second with the limiter off at concurrency 1, 8, 32;
//! 4. a fault soak: 1,000 crashes with 10% mixed faults (2% of them 429
//!    with `Retry-After: 1`) against the same crawl without faults.
//!
//! Peak memory over 10,000 and 100,000 crashes is measured on the binary by
//! `bench/crawl-rss.sh`. Run: `cargo bench -p crashdsr-crawl --bench crawl`.

use std::time::{Duration, Instant};

use crashdsr_appcenter::{ApiToken, Client, RateLimit};
use crashdsr_crawl::{Api, Archive, FetchOptions, NoProgress, fetch, inventory};
use crashdsr_emulator::{Dataset, DatasetConfig, EmulatorConfig, RunningEmulator, serve};
use crashdsr_state::StateStore as Store;

fn dataset(errors: u64) -> DatasetConfig {
    let mut d = DatasetConfig::new(7);
    d.errors_per_app = errors;
    d
}

/// The mixed faults of the soak (the "crawl stalls" run).
const SOAK_FAULTS: &str =
    "503@p=0.03,502@p=0.01,429+ra=1@p=0.02,reset@p=0.02,truncate@p=0.02@/errors/,delay=300@p=0.01";

async fn emulator(errors: u64, latency_ms: u64, limit: Option<u32>) -> RunningEmulator {
    faulty_emulator(errors, latency_ms, limit, "").await
}

async fn faulty_emulator(
    errors: u64,
    latency_ms: u64,
    limit: Option<u32>,
    faults: &str,
) -> RunningEmulator {
    let mut cfg = EmulatorConfig::new(dataset(errors), "bench");
    cfg.faults = faults.to_owned();
    cfg.latency = Duration::from_millis(latency_ms);
    cfg.rate_limit = limit.map(|n| (n, Duration::from_secs(1)));
    serve(cfg, "127.0.0.1:0".parse().unwrap()).await.unwrap()
}

fn tmp(tag: &str) -> std::path::PathBuf {
    let p = std::env::temp_dir().join(format!("crashdsr-bench-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&p);
    std::fs::create_dir_all(&p).unwrap();
    p
}

struct Run {
    requests: u64,
    retries: u64,
    throttled: u64,
    retrieved: u64,
    fetch_secs: f64,
    fetch_requests: u64,
}

async fn crawl(
    emu: &RunningEmulator,
    rate: Option<RateLimit>,
    concurrency: usize,
    limit: Option<u64>,
) -> Run {
    let dir = tmp("run");
    let client = Client::builder()
        .base_url(emu.base_url())
        .token(ApiToken::new("bench").unwrap())
        .rate_limit(rate)
        .concurrency(concurrency)
        .build()
        .unwrap();
    let app = client.app("contoso", "demo-app");
    let store = Store::open(dir.join("state.db").to_str().unwrap())
        .await
        .unwrap();
    let archive = Archive::open(dir.join("archive").to_str().unwrap()).unwrap();
    inventory(&store, &app, Api::Errors, &NoProgress)
        .await
        .unwrap();
    let before = client.stats().await.requests;
    let opts = FetchOptions {
        concurrency,
        batch: (concurrency * 4) as i64,
        limit,
        ..Default::default()
    };
    let t = Instant::now();
    let report = fetch(&store, &app, &archive, &opts, &NoProgress)
        .await
        .unwrap();
    let fetch_secs = t.elapsed().as_secs_f64();
    let stats = client.stats().await;
    store.close().await;
    std::fs::remove_dir_all(&dir).unwrap();
    Run {
        requests: stats.requests,
        retries: stats.retries,
        throttled: stats.throttled,
        retrieved: report.retrieved,
        fetch_secs,
        fetch_requests: stats.requests - before,
    }
}

#[tokio::main]
async fn main() {
    println!(
        "machine: {} cores",
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)
    );

    // 1. Requests per crash, 2,000 crashes, no limiter.
    let n = 2000;
    let emu = emulator(n, 0, None).await;
    let run = crawl(&emu, None, 8, None).await;
    emu.shutdown().await.unwrap();
    let ds = Dataset::new(dataset(n));
    // The minimum for the same artefacts: one request per artefact the API
    // serves (details, stack trace, download), session logs in pages of 100
    // when the list says there are any, the attachment list and one request
    // per attachment when it says there are any, one group stack trace per
    // group, and the inventory's list pages at $top=2000.
    let mut minimum = 1 + ds.group_count().div_ceil(2000); // retention + group pages
    minimum += ds.group_count() * (1 + 1); // errors page per group (<= 2000 each) + group stack trace
    for i in 0..n {
        let e = ds.error(0, i);
        minimum += 3;
        if e.session_log_count > 0 {
            minimum += u64::from(e.session_log_count).div_ceil(100).max(1);
        }
        if !e.attachments.is_empty() {
            minimum += 1 + e.attachments.len() as u64;
        }
    }
    println!("\nrequests per crash ({n} crashes, inventory + fetch)");
    println!(
        "  crashdsr: {} requests = {:.2} per crash",
        run.requests,
        run.requests as f64 / n as f64
    );
    println!(
        "  minimum for the same artefacts: {minimum} = {:.2} per crash",
        minimum as f64 / n as f64
    );
    println!("  ratio: {:.3}", run.requests as f64 / minimum as f64);

    // 2. Budget share: emulator limited to 50/s with 20 ms latency, client
    //    paced at 50/s, 8 in flight, 600 crashes (about 80 s).
    let emu = emulator(2000, 20, Some(50)).await;
    let run = crawl(
        &emu,
        Some(RateLimit {
            requests: 50,
            per: Duration::from_secs(1),
        }),
        8,
        Some(600),
    )
    .await;
    emu.shutdown().await.unwrap();
    let achieved = run.fetch_requests as f64 / run.fetch_secs;
    println!(
        "\nrate budget: emulator limit 50 requests/s, 20 ms latency, client paced at 50/s, 8 in flight"
    );
    println!(
        "  fetch of {} crashes: {} requests in {:.1} s = {:.2}/s = {:.1}% of the budget; {} 429s",
        run.retrieved,
        run.fetch_requests,
        run.fetch_secs,
        achieved,
        achieved / 50.0 * 100.0,
        run.throttled
    );

    // 3. Crashes per second, limiter off, 20 ms latency per request.
    println!("\ncrashes per second, limiter off, 20 ms latency per request, 1,000 crashes");
    for c in [1usize, 8, 32] {
        let emu = emulator(1000, 20, None).await;
        let run = crawl(&emu, None, c, if c == 1 { Some(200) } else { None }).await;
        emu.shutdown().await.unwrap();
        println!(
            "  concurrency {c:>2}: {} crashes in {:.1} s = {:.1} crashes/s ({:.0} requests/s)",
            run.retrieved,
            run.fetch_secs,
            run.retrieved as f64 / run.fetch_secs,
            run.fetch_requests as f64 / run.fetch_secs
        );
    }

    // 4. Fault soak: 1,000 crashes, 8 in flight, paced at 1,000/s, with and
    //    without the mixed faults.
    println!("\nfault soak: 1,000 crashes, 8 in flight, client paced at 1,000/s");
    println!("  faults: {SOAK_FAULTS}");
    let pace = Some(RateLimit {
        requests: 1000,
        per: Duration::from_secs(1),
    });
    let mut clean_secs = 0.0;
    for faults in ["", SOAK_FAULTS] {
        let emu = faulty_emulator(1000, 0, None, faults).await;
        let run = crawl(&emu, pace, 8, None).await;
        emu.shutdown().await.unwrap();
        if faults.is_empty() {
            clean_secs = run.fetch_secs;
        }
        println!(
            "  {}: {} crashes in {:.1} s ({:.2}x the fault-free time), {:.2} requests per crash, {} retries, {} 429s = {:.2}% of requests",
            if faults.is_empty() {
                "no faults"
            } else {
                "mixed faults"
            },
            run.retrieved,
            run.fetch_secs,
            run.fetch_secs / clean_secs,
            run.fetch_requests as f64 / run.retrieved as f64,
            run.retries,
            run.throttled,
            run.throttled as f64 / run.requests as f64 * 100.0
        );
    }
}
