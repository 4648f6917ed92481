//! The search on an object store with the network's latency, beside a
//! plain reader that only lists and downloads every object with 64
//! requests in flight.
//!
//! The export (the small-objects shape: .NET style, one to four records a
//! log blob, no padding) sits in memory behind object_store's
//! `ThrottledStore`, which holds each GET and each LIST call back by the
//! latency: a deterministic stand-in for Azure's 10–30 ms per small GET
//! (Azurite serves ~170 requests/s here whatever the client does, and the
//! kernel has no netem). Each figure is one run, printed as objects/s with
//! the search's time over the reader's.
//!
//! Run: `cargo bench -p crashdsr-search --bench remote`
//! (`CRASHDSR_BENCH_ERRORS`, default 4000: about 16k objects).

use std::sync::Arc;
use std::time::{Duration, Instant};

use crashdsr_appcenter::models::BlobPathFormatKind;
use crashdsr_emulator::export::{ExportPlan, ExportStyle, write};
use crashdsr_emulator::{Dataset, DatasetConfig};
use crashdsr_search::{SearchOptions, Subject, search};
use crashdsr_store::Store;
use futures::TryStreamExt;
use object_store::throttle::{ThrottleConfig, ThrottledStore};
use object_store::{ObjectStore, ObjectStoreExt};

/// Lists and downloads every object, `in_flight` at a time; returns the
/// objects and bytes read.
async fn plain_reader(store: &Arc<dyn ObjectStore>, in_flight: usize) -> (u64, u64) {
    store
        .list(None)
        .map_ok(|m| {
            let store = store.clone();
            async move { store.get(&m.location).await?.bytes().await }
        })
        .try_buffer_unordered(in_flight)
        .try_fold((0u64, 0u64), |(n, b), bytes| async move {
            Ok((n + 1, b + bytes.len() as u64))
        })
        .await
        .unwrap()
}

fn throttled(inner: &Arc<dyn ObjectStore>, latency: Duration) -> Arc<dyn ObjectStore> {
    Arc::new(ThrottledStore::new(
        inner.clone(),
        ThrottleConfig {
            wait_get_per_call: latency,
            wait_list_per_call: latency,
            ..Default::default()
        },
    ))
}

#[tokio::main]
async fn main() {
    let threads = std::thread::available_parallelism().map_or(2, |n| n.get());
    println!("machine: {threads} cores");
    let errors = std::env::var("CRASHDSR_BENCH_ERRORS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(4000);
    let mut cfg = DatasetConfig::new(7);
    cfg.errors_per_app = errors;
    cfg.span_days = 28;
    let data = Dataset::new(cfg.clone());
    let memory: Arc<dyn ObjectStore> = Arc::new(object_store::memory::InMemory::new());
    let plan = ExportPlan::whole(&cfg, BlobPathFormatKind::WithoutAppId, ExportStyle::Dotnet);
    let objects = write(&data, &plan, memory.clone(), |_| true).await.unwrap();
    let truth = data.truth();
    let jane = truth.subjects.iter().find(|s| s.label == "jane").unwrap();
    let subject = Subject::from_specs("jane", &jane.specs()).unwrap();
    println!("export: {objects} objects in memory, {errors} errors; one subject");

    for ms in [0u64, 20] {
        let latency = Duration::from_millis(ms);
        let store = throttled(&memory, latency);
        let t = Instant::now();
        let (n, bytes) = plain_reader(&store, 64).await;
        let plain = t.elapsed().as_secs_f64();
        println!(
            "{ms:>2} ms  plain reader, 64 in flight        {plain:>6.2} s  {:>6.0} objects/s  ({n} objects, {:.0} MB)",
            n as f64 / plain,
            bytes as f64 / 1e6
        );
        // The search with its default reads in flight, then with what the
        // remote path kept in flight before (two per thread).
        for (name, io) in [
            ("crashdsr search, --io default (64)", None),
            ("crashdsr search, --io 2×threads   ", Some(2 * threads)),
        ] {
            let source = Store::from_object_store(store.clone(), "throttled");
            let opts = SearchOptions {
                io,
                ..Default::default()
            };
            let t = Instant::now();
            let report = search(&[source], vec![subject.clone()], &opts)
                .await
                .unwrap();
            let secs = t.elapsed().as_secs_f64();
            assert_eq!(report.objects, n, "the search read every object");
            assert!(!report.evidence.is_empty(), "jane is found");
            println!(
                "{ms:>2} ms  {name}  {secs:>6.2} s  {:>6.0} objects/s  {:.2}× the plain reader's time",
                n as f64 / secs,
                secs / plain
            );
        }
    }
}
