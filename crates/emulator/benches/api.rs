//! Benchmarks of the API side, printed as figures (not a test):
//!
//! 1. the emulator's throughput on loopback, per endpoint and concurrency;
//! 2. the client's achieved rate against a rate-limited emulator with
//!    latency: started at the server's rate, and at twice it (the pacer
//!    must settle at 98% of the real limit or more, with at most 1% of
//!    429s once settled, the last 60 s of 90).
//!
//! Run: `cargo bench -p crashdsr-emulator --bench api`.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use crashdsr_appcenter::{ApiToken, Client, RateLimit};
use crashdsr_emulator::{Dataset, DatasetConfig, EmulatorConfig, serve};

const TOKEN: &str = "bench";

async fn throughput(base: &str, path: &str, concurrency: usize, dur: Duration) -> f64 {
    let http = reqwest::Client::new();
    let done = Arc::new(AtomicU64::new(0));
    let deadline = Instant::now() + dur;
    let tasks: Vec<_> = (0..concurrency)
        .map(|_| {
            let (http, done, url) = (http.clone(), done.clone(), format!("{base}{path}"));
            tokio::spawn(async move {
                while Instant::now() < deadline {
                    let r = http
                        .get(&url)
                        .header("X-API-Token", TOKEN)
                        .send()
                        .await
                        .unwrap();
                    assert!(r.status().is_success(), "{}", r.status());
                    r.bytes().await.unwrap();
                    done.fetch_add(1, Ordering::Relaxed);
                }
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
    done.load(Ordering::Relaxed) as f64 / dur.as_secs_f64()
}

/// Runs `total` seconds of requests through a client paced at `client_rate`
/// against an emulator limited to `server` per second; returns the success
/// rate and the 429s inside the last `window` seconds.
async fn paced(
    server: u32,
    client_rate: u32,
    retry_after: bool,
    total: u64,
    window: u64,
) -> (f64, u64, u64, f64) {
    let mut ds = DatasetConfig::new(7);
    ds.errors_per_app = 100;
    let mut cfg = EmulatorConfig::new(ds, TOKEN);
    cfg.rate_limit = Some((server, Duration::from_secs(1)));
    cfg.latency = Duration::from_millis(20);
    cfg.retry_after = retry_after;
    let emu = serve(cfg, "127.0.0.1:0".parse().unwrap()).await.unwrap();
    let client = Client::builder()
        .base_url(emu.base_url())
        .token(ApiToken::new(TOKEN).unwrap())
        .rate_limit(Some(RateLimit {
            requests: client_rate,
            per: Duration::from_secs(1),
        }))
        .concurrency(8)
        .build()
        .unwrap();
    let start = Instant::now();
    let deadline = start + Duration::from_secs(total);
    let window_start = start + Duration::from_secs(total - window);
    let in_window = Arc::new(AtomicU64::new(0));
    let throttled_before = Arc::new(AtomicU64::new(u64::MAX));
    let workers: Vec<_> = (0..8)
        .map(|_| {
            let (client, in_window, throttled_before, emu_state) = (
                client.clone(),
                in_window.clone(),
                throttled_before.clone(),
                emu.state.clone(),
            );
            tokio::spawn(async move {
                let app = client.app("contoso", "demo-app");
                while Instant::now() < deadline {
                    app.retention().await.unwrap();
                    let now = Instant::now();
                    if now >= window_start && now < deadline {
                        throttled_before.fetch_min(emu_state.throttled_count(), Ordering::Relaxed);
                        in_window.fetch_add(1, Ordering::Relaxed);
                    }
                }
            })
        })
        .collect();
    for w in workers {
        w.await.unwrap();
    }
    let achieved = in_window.load(Ordering::Relaxed) as f64 / window as f64;
    let throttled_total = emu.state.throttled_count();
    let throttled_in_window = throttled_total
        - throttled_before
            .load(Ordering::Relaxed)
            .min(throttled_total);
    let settled = client.stats().await.pacer.map_or(0.0, |p| p.rate_per_sec);
    emu.shutdown().await.unwrap();
    (achieved, throttled_in_window, throttled_total, settled)
}

#[tokio::main]
async fn main() {
    println!(
        "machine: {} cores",
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)
    );

    // 1. Emulator throughput, 100,000 errors per app.
    let mut ds = DatasetConfig::new(7);
    ds.errors_per_app = 100_000;
    let data = Dataset::new(ds.clone());
    let e = data.error(0, 4242);
    let emu = serve(
        EmulatorConfig::new(ds, TOKEN),
        "127.0.0.1:0".parse().unwrap(),
    )
    .await
    .unwrap();
    let base = format!("{}/v0.1/apps/contoso/demo-app", emu.base_url());
    let paths = [
        (
            "retention_settings",
            "/errors/retention_settings".to_owned(),
        ),
        (
            "error details",
            format!("/errors/errorGroups/{}/errors/{}", e.group_id, e.error_id),
        ),
        (
            "download (json)",
            format!(
                "/errors/errorGroups/{}/errors/{}/download",
                e.group_id, e.error_id
            ),
        ),
        (
            "errors page ($top=50)",
            format!("/errors/errorGroups/{}/errors?$top=50", e.group_id),
        ),
        (
            "session logs",
            format!("/errors/{}/sessionLogs", e.error_id),
        ),
    ];
    println!("\nemulator throughput on loopback (requests/s, 3 s each)");
    println!(
        "{:<24} {:>10} {:>10} {:>10}",
        "endpoint", "c=1", "c=8", "c=32"
    );
    for (name, path) in &paths {
        let mut row = format!("{name:<24}");
        for c in [1, 8, 32] {
            row += &format!(
                " {:>10.0}",
                throughput(&base, path, c, Duration::from_secs(3)).await
            );
        }
        println!("{row}");
    }
    emu.shutdown().await.unwrap();

    // 2. Client pacing against a limited emulator (50/s, 20 ms latency).
    println!("\nclient against an emulator limited to 50 requests/s, 20 ms latency, 8 in flight");
    println!(
        "{:<28} {:>10} {:>9} {:>16} {:>12} {:>10} {:>12}",
        "client start rate",
        "achieved/s",
        "of limit",
        "429s settled",
        "429 share",
        "429 total",
        "pacer at end"
    );
    for (label, start_rate, retry_after, total, window) in [
        ("50/s (the server's rate)", 50, true, 90, 60),
        ("100/s, Retry-After", 100, true, 90, 60),
        ("100/s, no Retry-After", 100, false, 90, 60),
    ] {
        let (achieved, late, all, settled) =
            paced(50, start_rate, retry_after, total, window).await;
        let answered = achieved * window as f64 + late as f64;
        println!(
            "{label:<28} {achieved:>10.2} {:>8.1}% {late:>9} ({window}s) {:>11.2}% {all:>10} {settled:>10.2}/s",
            achieved / 50.0 * 100.0,
            late as f64 / answered * 100.0
        );
    }
}
