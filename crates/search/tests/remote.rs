//! The search of an object store (reads in flight on the caller's runtime,
//! scanning on a pool of threads fed through a bounded channel) finds
//! exactly what the walk of the same export in a directory finds, whatever
//! the reads in flight and the threads; an object too large to hold is
//! streamed to its scanning thread chunk by chunk, with the same result
//! (a device-log blob still read record by record).

use std::sync::Arc;
use std::time::Duration;

use crashdsr_appcenter::models::BlobPathFormatKind;
use crashdsr_emulator::export::{ExportPlan, ExportStyle, Target, open_target, write};
use crashdsr_emulator::testing::TempDir;
use crashdsr_emulator::{Dataset, DatasetConfig};
use crashdsr_search::{SearchOptions, SearchReport, Subject, search};
use crashdsr_store::Store;
use object_store::ObjectStore;
use object_store::throttle::{ThrottleConfig, ThrottledStore};

/// Each evidence line as `--json` prints it, with its hits sorted (their
/// order follows the order objects were scanned in).
fn lines(r: &SearchReport) -> Vec<String> {
    r.evidence
        .iter()
        .map(|e| {
            let mut e = e.clone();
            e.hits.sort();
            serde_json::to_string(&e).unwrap()
        })
        .collect()
}

/// `inner` as a remote store: every GET and LIST waits 1 ms, so reads
/// complete out of order.
fn remote(inner: &Arc<dyn ObjectStore>) -> Store {
    let slow = ThrottledStore::new(
        inner.clone(),
        ThrottleConfig {
            wait_get_per_call: Duration::from_millis(1),
            wait_list_per_call: Duration::from_millis(1),
            ..Default::default()
        },
    );
    Store::from_object_store(Arc::new(slow), "throttled")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_object_store_gives_the_directory_walks_answer() {
    let mut cfg = DatasetConfig::new(31);
    cfg.errors_per_app = 600;
    let data = Dataset::new(cfg.clone());
    let tmp = TempDir::new("remote-equal");
    let plan = ExportPlan::whole(&cfg, BlobPathFormatKind::WithAppId, ExportStyle::Dotnet);
    let target = open_target(&Target::Dir(tmp.path().to_path_buf()))
        .await
        .unwrap();
    write(&data, &plan, target, |_| true).await.unwrap();
    let root = tmp.path().join("archive");
    // The same export (the writer is deterministic) in an object store.
    let memory: Arc<dyn ObjectStore> = Arc::new(object_store::memory::InMemory::new());
    write(&data, &plan, memory.clone(), |_| true).await.unwrap();
    let subjects: Vec<Subject> = data
        .truth()
        .subjects
        .iter()
        .map(|s| Subject::from_specs(&s.label, &s.specs()).unwrap())
        .collect();
    let opts = |io, threads| SearchOptions {
        io: Some(io),
        threads,
        expand_install_ids: true,
        ..Default::default()
    };
    let walked = search(
        &[Store::open(root.to_str().unwrap()).unwrap()],
        subjects.clone(),
        &opts(1, 2),
    )
    .await
    .unwrap();
    assert!(walked.failed.is_empty(), "{:?}", walked.failed);
    assert!(walked.evidence.len() > 20, "{}", walked.evidence.len());
    for (io, threads) in [(1, 1), (3, 2), (64, 2)] {
        let read = search(&[remote(&memory)], subjects.clone(), &opts(io, threads))
            .await
            .unwrap();
        assert!(read.failed.is_empty(), "{:?}", read.failed);
        assert_eq!(
            (read.objects, read.bytes, read.records),
            (walked.objects, walked.bytes, walked.records),
            "io {io}, threads {threads}"
        );
        assert_eq!(lines(&read), lines(&walked), "io {io}, threads {threads}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_object_too_large_to_hold_is_scanned_in_chunks_alike() {
    let email = "zoe.large@example.org";
    // A log blob past the 64 MiB whole-object cap: records of filler, one
    // with the address near the end, one across no chunk boundary in
    // particular.
    let filler = format!(
        r#"{{"MessageType":"EventLog","InstallId":"00000000-0000-4000-8000-000000000001","Properties":"{}"}}"#,
        "x".repeat(4000)
    );
    let mut blob = String::from("[");
    let mut n = 0;
    while blob.len() < (65 << 20) {
        blob.push_str(&filler);
        blob.push(',');
        n += 1;
    }
    blob.push_str(&format!(
        r#"{{"MessageType":"EventLog","InstallId":"00000000-0000-4000-8000-000000000002","Properties":"{{\"contact\":\"{email}\"}}"}}]"#
    ));
    assert!(n > 10_000);
    let path = "2026/09/01/13/05/logs.v1.data";
    let tmp = TempDir::new("remote-large");
    let file = tmp.path().join(path);
    std::fs::create_dir_all(file.parent().unwrap()).unwrap();
    std::fs::write(&file, &blob).unwrap();
    let memory = object_store::memory::InMemory::new();
    object_store::ObjectStoreExt::put(
        &memory,
        &object_store::path::Path::from(path),
        blob.into_bytes().into(),
    )
    .await
    .unwrap();
    let subject = Subject::from_specs("zoe", &[format!("email={email}")]).unwrap();
    let opts = SearchOptions {
        threads: 2,
        ..Default::default()
    };
    let walked = search(
        &[Store::open(tmp.path().to_str().unwrap()).unwrap()],
        vec![subject.clone()],
        &opts,
    )
    .await
    .unwrap();
    let read = search(
        &[Store::from_object_store(Arc::new(memory), "memory")],
        vec![subject],
        &opts,
    )
    .await
    .unwrap();
    assert_eq!(lines(&read), lines(&walked));
    assert_eq!(read.evidence.len(), 1, "{:?}", lines(&read));
    // Streamed in its chunks, the blob is still read record by record:
    // the hit is the last record's, an activity record, as in a small blob.
    let line = &lines(&read)[0];
    assert!(
        line.contains(r#""kind":"activity""#) && line.contains(&format!(r#""index":{n}"#)),
        "{line}"
    );
    // The record itself goes to the package; what `--json` prints of the
    // line (all but the record) never holds the value.
    let mut shown = read.evidence[0].clone();
    shown.record = None;
    let shown = serde_json::to_string(&shown).unwrap();
    assert!(
        !shown.contains(email),
        "the value is never printed: {shown}"
    );
}
