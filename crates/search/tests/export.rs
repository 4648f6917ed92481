//! Reading continuous exports back: the emulator exports a seeded dataset
//! (into a local directory always, into Azurite when `CRASHDSR_TEST_AZURITE`
//! is set) with each path format, and the records read equal the records the
//! emulator holds. A damaged export is read to the end with one warning per
//! bad object.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::time::Duration;

use crashdsr_appcenter::models::{
    BlobPathFormatKind, CrashLog, ExportConfiguration, ExportEntity, ExportOptions, ExportState,
};
use crashdsr_appcenter::{ApiToken, Client};
use crashdsr_emulator::testing::TempDir;
use crashdsr_emulator::{Dataset, DatasetConfig, EmulatorConfig, serve};
use crashdsr_search::export::BlobKind;
use crashdsr_search::{ExportItem, WalkReport, walk};
use crashdsr_store::Store;
use sha2::{Digest, Sha256};

const ERRORS: u64 = 120;

fn dataset() -> DatasetConfig {
    let mut d = DatasetConfig::new(9);
    d.errors_per_app = ERRORS;
    d
}

/// Asks the emulator to export into `connection_string` and waits.
async fn export(connection_string: String, format: BlobPathFormatKind) {
    let emu = serve(
        EmulatorConfig::new(dataset(), "t"),
        "127.0.0.1:0".parse().unwrap(),
    )
    .await
    .unwrap();
    let client = Client::builder()
        .base_url(emu.base_url())
        .token(ApiToken::new("t").unwrap())
        .rate_limit(None)
        .build()
        .unwrap();
    let app = client.app("contoso", "demo-app");
    let cfg = ExportConfiguration::BlobStorageConnectionString {
        connection_string: Some(connection_string),
        blob_path_format_kind: Some(format),
        options: ExportOptions {
            export_entities: vec![
                ExportEntity::Crashes,
                ExportEntity::Errors,
                ExportEntity::Attachments,
            ],
            ..Default::default()
        },
    };
    let id = app.create_export_configuration(&cfg).await.unwrap().id;
    for _ in 0..600 {
        let r = app.export_configuration(&id).await.unwrap();
        match r.state {
            ExportState::Pending => tokio::time::sleep(Duration::from_millis(50)).await,
            ExportState::Enabled => return emu.shutdown().await.unwrap(),
            other => panic!("export ended {other:?}: {:?}", r.state_info),
        }
    }
    panic!("the export did not finish");
}

#[derive(Default)]
struct Read {
    crashes: BTreeMap<String, CrashLog>,
    attachments: BTreeMap<String, (u64, String)>,
    device_logs: BTreeMap<String, usize>,
    links: Vec<(String, crashdsr_search::export::Link)>,
    app_ids: BTreeSet<Option<String>>,
}

async fn read_back(source: &Store) -> (Read, WalkReport) {
    let mut r = Read::default();
    let report = walk(source, 16, |item| match item {
        ExportItem::Crash { blob, bytes, .. } => {
            r.app_ids.insert(blob.app_id);
            // As stored: a .NET writer may have put a byte-order mark first.
            let log: CrashLog =
                serde_json::from_slice(&crashdsr_search::export::blob_text(&bytes)).unwrap();
            r.crashes.insert(log.error_id.clone(), log);
        }
        ExportItem::Attachment {
            blob, size, sha256, ..
        } => {
            let BlobKind::Attachment { attachment_id } = blob.kind else {
                unreachable!()
            };
            r.attachments.insert(attachment_id, (size, sha256));
        }
        ExportItem::DeviceLog { blob, record, .. } => {
            *r.device_logs
                .entry(record.log.message_type.clone())
                .or_default() += 1;
            if let Some(link) = record.log.link() {
                r.links.push((blob.minute, link));
            }
        }
    })
    .await
    .unwrap();
    (r, report)
}

/// What the emulator holds, compared with what was read.
fn compare(read: &Read, format: &BlobPathFormatKind) {
    let ds = Dataset::new(dataset());
    assert_eq!(read.crashes.len() as u64, ERRORS);
    let (mut attachments, mut sessions) = (0, 0);
    for i in 0..ERRORS {
        let e = ds.error(0, i);
        assert_eq!(
            read.crashes.get(&e.error_id),
            Some(&ds.crash_log(&e)),
            "crash {i}"
        );
        for (k, (aid, _)) in e.attachments.iter().enumerate() {
            let bytes = ds.attachment_bytes(&e, k);
            let sha: String = Sha256::digest(&bytes)
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect();
            assert_eq!(
                read.attachments.get(aid),
                Some(&(bytes.len() as u64, sha)),
                "attachment {aid}"
            );
            attachments += 1;
        }
        sessions += e.session_log_count as usize;
    }
    assert_eq!(read.attachments.len(), attachments);
    let diag = read.device_logs.get("ErrorLog").unwrap_or(&0)
        + read.device_logs.get("HandledErrorLog").unwrap_or(&0);
    assert_eq!(diag as u64, ERRORS);
    assert_eq!(read.device_logs["ErrorAttachmentLog"], attachments);
    assert_eq!(
        read.device_logs["EventLog"] + read.device_logs["StartSessionLog"],
        sessions
    );
    // Every link points at a crash or attachment that was read: by its
    // error id, or by the blob's name.
    for (minute, link) in &read.links {
        if let Some(error_id) = &link.error_id {
            assert!(read.crashes.contains_key(error_id), "{error_id}");
        }
        let path = link.blob_path(minute).unwrap();
        match crashdsr_search::export::classify(&path).unwrap().kind {
            BlobKind::Crash { error_id, .. } => assert!(read.crashes.contains_key(&error_id)),
            BlobKind::Attachment { attachment_id } => {
                assert!(read.attachments.contains_key(&attachment_id))
            }
            BlobKind::DeviceLogs => panic!("a link to a log blob: {path}"),
        }
    }
    let want: BTreeSet<Option<String>> = match format {
        BlobPathFormatKind::WithAppId => [Some(ds.app_id(0).to_owned())].into(),
        _ => [None].into(),
    };
    assert_eq!(read.app_ids, want);
}

#[tokio::test]
async fn local_directory_export_reads_back_equal() {
    for format in [
        BlobPathFormatKind::WithoutAppId,
        BlobPathFormatKind::WithAppId,
    ] {
        let tmp = TempDir::new("dir");
        export(
            format!("BlobEndpoint=file://{}", tmp.path().display()),
            format.clone(),
        )
        .await;
        let source = Store::open(tmp.path().join("archive").to_str().unwrap()).unwrap();
        let (read, report) = read_back(&source).await;
        assert!(report.warnings.is_empty(), "{:?}", report.warnings);
        assert_eq!(report.ignored, 0);
        compare(&read, &format);
    }
}

#[tokio::test]
async fn azurite_export_reads_back_equal() {
    let Ok(endpoint) = std::env::var("CRASHDSR_TEST_AZURITE") else {
        println!("skipped: CRASHDSR_TEST_AZURITE is not set");
        return;
    };
    // Store::open reads AZURE_STORAGE_ACCOUNT_NAME / _KEY / _USE_EMULATOR
    // from the environment, as an operator's shell would set them.
    let account = std::env::var("AZURE_STORAGE_ACCOUNT_NAME")
        .expect("AZURE_STORAGE_ACCOUNT_NAME with CRASHDSR_TEST_AZURITE");
    let key = std::env::var("AZURE_STORAGE_ACCOUNT_KEY")
        .expect("AZURE_STORAGE_ACCOUNT_KEY with CRASHDSR_TEST_AZURITE");
    let cs = format!(
        "DefaultEndpointsProtocol=http;AccountName={account};AccountKey={key};BlobEndpoint={endpoint}"
    );
    // A fresh Azurite has no container yet; the first clean-up lists it.
    crashdsr_emulator::export::open_container(&endpoint, &account, &key, "archive")
        .await
        .unwrap();
    for format in [
        BlobPathFormatKind::WithoutAppId,
        BlobPathFormatKind::WithAppId,
    ] {
        let source = Store::open("az://archive").unwrap();
        clear(&source).await;
        export(cs.clone(), format.clone()).await;
        let (read, report) = read_back(&source).await;
        assert!(report.warnings.is_empty(), "{:?}", report.warnings);
        compare(&read, &format);
        clear(&source).await;
    }
}

/// Empties the shared `archive` container (other tests leave exports in
/// it). A delete can time out on a busy Azurite: each round lists what is
/// left and deletes it again, and the container must end empty.
async fn clear(source: &Store) {
    use futures::{StreamExt, TryStreamExt};
    let mut failed: Vec<String> = Vec::new();
    for _ in 0..5 {
        let blobs: Vec<_> = source.list(None).try_collect().await.unwrap();
        if blobs.is_empty() {
            return;
        }
        // Sixteen at a time: one by one, the thousands of blobs other
        // tests leave took minutes.
        failed = futures::stream::iter(blobs)
            .map(|b| async move {
                // The listed name as it is: the store does not encode it again.
                source.delete(&b.path).await.err().map(|e| e.to_string())
            })
            .buffer_unordered(16)
            .filter_map(|e| async move { e })
            .collect()
            .await;
    }
    let left: Vec<_> = source.list(None).try_collect().await.unwrap();
    assert!(
        left.is_empty(),
        "{} objects left in the container after five rounds, the first {}; failures: {:?}",
        left.len(),
        left[0].path,
        failed.first()
    );
}

#[tokio::test]
async fn a_damaged_export_is_read_to_the_end_with_one_warning_per_bad_object() {
    let tmp = TempDir::new("damaged");
    export(
        format!("BlobEndpoint=file://{}", tmp.path().display()),
        BlobPathFormatKind::WithoutAppId,
    )
    .await;
    let root = tmp.path().join("archive");
    let source = Store::open(root.to_str().unwrap()).unwrap();
    let (clean, clean_report) = read_back(&source).await;

    let files: Vec<PathBuf> = walk_files(&root);
    // A logs.v1.data cut in the middle of its last record.
    let logs = files
        .iter()
        .find(|p| p.ends_with("logs.v1.data") && std::fs::metadata(p).unwrap().len() > 2000)
        .unwrap();
    let bytes = std::fs::read(logs).unwrap();
    let complete_before = crashdsr_search::export::parse_device_logs(&bytes)
        .records
        .len();
    std::fs::write(logs, &bytes[..bytes.len() - 40]).unwrap();
    // A crash blob that is not JSON.
    let crash = files
        .iter()
        .find(|p| p.parent().unwrap().ends_with("crashes"))
        .unwrap();
    std::fs::write(crash, b"\x00\x01 not json").unwrap();
    // A zero-byte attachment and a 200 MB one, next to the real ones.
    let folder = crash
        .parent()
        .unwrap()
        .parent()
        .unwrap()
        .join("attachments");
    std::fs::create_dir_all(&folder).unwrap();
    std::fs::write(folder.join("zero-byte"), b"").unwrap();
    {
        use std::io::Write;
        let mut f = std::io::BufWriter::new(std::fs::File::create(folder.join("big")).unwrap());
        let block = vec![b'x'; 1 << 20];
        for _ in 0..200 {
            f.write_all(&block).unwrap();
        }
    }
    // And a file that is not part of the layout.
    std::fs::write(root.join("README.txt"), b"hello").unwrap();

    let mut crashes_seen = 0;
    let report = walk(&source, 8, |item| {
        if let ExportItem::Crash { .. } = item {
            crashes_seen += 1;
        }
    })
    .await
    .unwrap();
    let warned: BTreeSet<&str> = report.warnings.iter().map(|(p, _)| p.as_str()).collect();
    assert_eq!(report.warnings.len(), 2, "{:?}", report.warnings);
    assert!(warned.iter().any(|p| p.ends_with("logs.v1.data")));
    assert!(warned.iter().any(|p| p.contains("/crashes/")));
    assert!(
        report
            .warnings
            .iter()
            .any(|(_, w)| w.contains("cut inside element"))
    );
    // Nothing else skipped: all crashes (the bad one too, flagged), every
    // attachment including the two new ones, every device log but the cut
    // one.
    assert_eq!(crashes_seen, clean.crashes.len());
    assert_eq!(report.attachments, clean_report.attachments + 2);
    assert_eq!(report.device_logs, clean_report.device_logs - 1);
    assert!(complete_before > 1);
    assert_eq!(report.ignored, 1);
    assert!(report.bytes >= 200 << 20);
}

fn walk_files(dir: &std::path::Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p)
            } else {
                out.push(p)
            }
        }
    }
    out.sort();
    out
}
