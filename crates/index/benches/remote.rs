//! A narrowed search with the export and its index in object stores that
//! answer with the network's latency, beside the full search of the same
//! store.
//!
//! The export (the small-objects shape: .NET style, one to four records a
//! log blob, no padding) and its index sit in memory behind object_store's
//! `ThrottledStore`, which holds each GET (a head's ranged read too) and
//! each LIST call back by the latency: a deterministic stand-in for Azure's
//! 10–30 ms per request. The index is built before the latency is added.
//! Each figure is one run; the narrowed search's answer is checked against
//! the full search's.
//!
//! Run: `cargo bench -p crashdsr-index --bench remote`
//! (`CRASHDSR_BENCH_ERRORS`, default 4000: about 30k objects).

use std::sync::Arc;
use std::time::{Duration, Instant};

use crashdsr_emulator::testing::{export_in_memory, throttled};
use crashdsr_index::{BuildOptions, Index, Key, Narrowing, update};
use crashdsr_search::{SearchOptions, Subject, search};
use crashdsr_store::Store;
use object_store::ObjectStore;

#[path = "../tests/common/mod.rs"]
mod common;
use common::answer;

#[tokio::main]
async fn main() {
    let errors = std::env::var("CRASHDSR_BENCH_ERRORS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(4000);
    let (export, objects, jane) = export_in_memory(errors).await;
    let subject = Subject::from_specs("jane", &jane).unwrap();
    let key = Key::new(&[7u8; 32]).unwrap();
    let index_mem: Arc<dyn ObjectStore> = Arc::new(object_store::memory::InMemory::new());
    let built = update(
        &Index::with_store(
            Store::from_object_store(index_mem.clone(), "index"),
            key.clone(),
        ),
        &Store::from_object_store(export.clone(), "export"),
        &BuildOptions::default(),
        None,
    )
    .await
    .unwrap();
    println!(
        "export: {objects} objects in memory, {errors} errors; index: {} segments, {} bytes; one subject",
        built.built, built.index_bytes
    );
    for ms in [0u64, 20] {
        let latency = Duration::from_millis(ms);
        let source = Store::from_object_store(throttled(&export, latency, true), "export");
        let index = Index::with_store(
            Store::from_object_store(throttled(&index_mem, latency, true), "index"),
            key.clone(),
        );
        let mut opts = SearchOptions::default();
        let t = Instant::now();
        let full = search(std::slice::from_ref(&source), vec![subject.clone()], &opts)
            .await
            .unwrap();
        let full_secs = t.elapsed().as_secs_f64();
        opts.narrow = Some(Arc::new(Narrowing::new(index)));
        let t = Instant::now();
        let narrowed = search(std::slice::from_ref(&source), vec![subject.clone()], &opts)
            .await
            .unwrap();
        let secs = t.elapsed().as_secs_f64();
        assert!(!full.evidence.is_empty(), "jane is found");
        assert_eq!(answer(&narrowed), answer(&full), "the same answer");
        let used = &narrowed.narrowed[0];
        println!(
            "{ms:>2} ms  search {full_secs:>6.2} s  search --index {secs:>6.2} s  ({:.1}× faster; {} candidates, {} objects scanned, {} passes)",
            full_secs / secs,
            used.candidates,
            used.objects_scanned,
            used.passes
        );
    }
}
