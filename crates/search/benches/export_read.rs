//! Throughput of listing and reading a >= 1 GB continuous export, from a
//! local directory and (when `CRASHDSR_TEST_AZURITE` and the
//! `AZURE_STORAGE_*` variables are set) from Azurite, printed as figures.
//!
//! Run: `cargo bench -p crashdsr-search --bench export_read`.

use std::time::Instant;

use crashdsr_appcenter::Timestamp;
use crashdsr_appcenter::models::BlobPathFormatKind;
use crashdsr_emulator::export::{ExportPlan, Target, open_target, write};
use crashdsr_emulator::{Dataset, DatasetConfig};
use crashdsr_search::walk;
use crashdsr_store::Store;
use futures::TryStreamExt;

async fn measure(name: &str, source: &Store) {
    let t = Instant::now();
    let listed: Vec<_> = source.list(None).try_collect().await.unwrap();
    let list_secs = t.elapsed().as_secs_f64();
    let total: u64 = listed.iter().map(|b| b.size).sum();
    for c in [4, 16] {
        let t = Instant::now();
        let report = walk(source, c, |_| {}).await.unwrap();
        let secs = t.elapsed().as_secs_f64();
        assert_eq!(report.bytes, total);
        assert!(report.warnings.is_empty());
        println!(
            "{name:<16} {:>8} objects {:>7.0} MB   list {:>5.2} s   read c={c:<2} {:>6.1} s = {:>6.0} MB/s, {:>6.0} objects/s",
            listed.len(),
            total as f64 / 1e6,
            list_secs,
            secs,
            total as f64 / 1e6 / secs,
            listed.len() as f64 / secs
        );
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
    let mut cfg = DatasetConfig::new(7);
    cfg.errors_per_app = 3000;
    cfg.attachment_padding = 512 << 10;
    let data = Dataset::new(cfg.clone());
    let plan = ExportPlan {
        app: 0,
        since: Timestamp(cfg.now - chrono::Duration::days(28)),
        entities: vec![],
        path_format: BlobPathFormatKind::WithAppId,
        style: Default::default(),
    };

    let dir = std::env::temp_dir().join(format!("crashdsr-export-bench-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let t = Instant::now();
    let store = open_target(&Target::Dir(dir.clone())).await.unwrap();
    let blobs = write(&data, &plan, store, |_| true).await.unwrap();
    println!(
        "wrote {blobs} objects to a local directory in {:.1} s",
        t.elapsed().as_secs_f64()
    );
    measure(
        "local directory",
        &Store::open(dir.join("archive").to_str().unwrap()).unwrap(),
    )
    .await;
    std::fs::remove_dir_all(&dir).unwrap();

    match (
        std::env::var("CRASHDSR_TEST_AZURITE"),
        std::env::var("AZURE_STORAGE_ACCOUNT_KEY"),
    ) {
        (Ok(endpoint), Ok(key)) => {
            let account = std::env::var("AZURE_STORAGE_ACCOUNT_NAME")
                .unwrap_or_else(|_| "devstoreaccount1".into());
            let t = Instant::now();
            let store = open_target(&Target::Azure {
                endpoint,
                account,
                key,
            })
            .await
            .unwrap();
            let blobs = write(&data, &plan, store.clone(), |_| true).await.unwrap();
            println!(
                "wrote {blobs} objects to Azurite in {:.1} s",
                t.elapsed().as_secs_f64()
            );
            measure("Azurite", &Store::open("az://archive").unwrap()).await;
            let all: Vec<_> = store.list(None).try_collect().await.unwrap();
            for m in all {
                let _ = object_store::ObjectStoreExt::delete(&store, &m.location).await;
            }
        }
        _ => println!(
            "Azurite: skipped (set CRASHDSR_TEST_AZURITE, AZURE_STORAGE_ACCOUNT_NAME/_KEY and AZURE_STORAGE_USE_EMULATOR=true)"
        ),
    }
}
