//! A `logs.v1.data` blob far over the size a blob is read whole at (200
//! MiB, in a directory and in an object store): the person's records are
//! found record by record and tied to their crashes, as in a small blob.
//! The test prints the process's peak RSS; BENCHMARKS.md has it measured
//! on the release build beside rg.

use std::io::Write as _;
use std::sync::Arc;

use crashdsr_emulator::testing::TempDir;
use crashdsr_search::{Owner, SearchOptions, SearchReport, Subject, search};
use crashdsr_store::Store;
use object_store::ObjectStore;

const MINUTE: &str = "2026/11/30/12/05/";
const EMAIL: &str = "kofi.mensah@example.com";

/// Writes a busy minute: about `mib` MiB of other people's event records,
/// with the person's error logs at its start, middle and end, an
/// attachment log of one of their crashes, and decoys.
fn busy_minute(root: &std::path::Path, mib: usize) -> Vec<String> {
    let dir = root.join(MINUTE);
    std::fs::create_dir_all(dir.join("crashes")).unwrap();
    let file = std::fs::File::create(dir.join("logs.v1.data")).unwrap();
    let mut w = Blob {
        out: std::io::BufWriter::with_capacity(1 << 20, file),
        written: 0,
        records: 0,
    };
    let mut theirs = Vec::new();
    w.out.write_all(b"[").unwrap();
    let target = mib << 20;
    for part in 0..3 {
        let error_id = format!("kofi-{part}");
        w.record(format!(
                r#"{{"MessageType":"ErrorLog","AppId":"app","InstallId":"11111111-2222-3333-4444-55555555555{part}","SessionId":"s{part}","UserId":"{EMAIL}","Properties":"{{\"ErrorId\":\"{error_id}\",\"Blob\":\"crashes/{error_id}.json\"}}"}}"#
            ),
        );
        std::fs::write(
            dir.join(format!("crashes/{error_id}.json")),
            format!(r#"{{"errorId":"{error_id}","exception":{{"message":"boom"}}}}"#),
        )
        .unwrap();
        theirs.push(error_id);
        let stop = target * (part + 1) / 3;
        let mut k = 0usize;
        while w.written < stop {
            // Decoys: another address that holds the person's, and others'.
            let who = if k.is_multiple_of(1000) {
                "x".to_owned() + EMAIL
            } else {
                format!("user{k}@example.org")
            };
            w.record(format!(
                    r#"{{"MessageType":"EventLog","AppId":"app","InstallId":"99999999-0000-0000-0000-{k:012}","SessionId":"t{k}","Properties":{{"screen":"settings","contact":"{who}","padding":"{}"}}}}"#,
                    "p".repeat(180)
                ),
            );
            k += 1;
        }
    }
    w.record(
        r#"{"MessageType":"ErrorAttachmentLog","AppId":"app","InstallId":"11111111-2222-3333-4444-555555555552","Properties":{"ErrorId":"kofi-2","AttachmentId":"att-1","FileName":"log.txt"}}"#.to_owned(),
    );
    w.out.write_all(b"]").unwrap();
    w.out.flush().unwrap();
    std::fs::create_dir_all(dir.join("attachments")).unwrap();
    std::fs::write(dir.join("attachments/att-1"), "log: session ok").unwrap();
    theirs
}

struct Blob {
    out: std::io::BufWriter<std::fs::File>,
    written: usize,
    records: usize,
}

impl Blob {
    fn record(&mut self, text: String) {
        if self.records > 0 {
            self.out.write_all(b",\n").unwrap();
        }
        self.out.write_all(text.as_bytes()).unwrap();
        self.written += text.len() + 2;
        self.records += 1;
    }
}

fn peak_rss_mib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024)
}

fn check(report: &SearchReport, theirs: &[String]) {
    let crashes: Vec<&str> = report
        .evidence
        .iter()
        .filter_map(|e| match &e.owner {
            Owner::Crash { error_id, .. } => Some(error_id.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(crashes, theirs, "{:#?}", report.evidence);
    for e in &report.evidence {
        // Found in its error log, named by its record.
        assert!(
            e.hits
                .iter()
                .all(|h| h.artefact.starts_with("logs.v1.data[")),
            "{:?}",
            e.hits
        );
    }
    // The attachment log far into the blob ties att-1 to kofi-2.
    assert_eq!(
        report.index.attachments_by_crash().get("kofi-2"),
        Some(&vec!["att-1".to_owned()])
    );
    assert!(
        report.unread.is_empty() && report.errors.is_empty(),
        "{:?}",
        report.errors
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_200_mib_log_blob_is_read_record_by_record() {
    let tmp = TempDir::new("big-logs");
    let theirs = busy_minute(tmp.path(), 200);
    let size = std::fs::metadata(tmp.path().join(MINUTE).join("logs.v1.data"))
        .unwrap()
        .len();
    assert!(size > 200 << 20, "{size}");
    let subject = Subject::from_specs("kofi", &[format!("email={EMAIL}")]).unwrap();
    let opts = SearchOptions::default();
    let dir = Store::open(tmp.path().to_str().unwrap()).unwrap();
    let report = search(&[dir], vec![subject.clone()], &opts).await.unwrap();
    check(&report, &theirs);
    assert!(report.records > 500_000, "{}", report.records);
    println!(
        "a {} MiB log blob in a directory: {} records; peak RSS of the test process so far {} MiB",
        size >> 20,
        report.records,
        peak_rss_mib().map_or("unknown".into(), |m| m.to_string())
    );

    // The same blob from an object store, streamed in its chunks.
    let memory: Arc<dyn ObjectStore> = Arc::new(object_store::memory::InMemory::new());
    let remote = Store::from_object_store(memory, "memory");
    for rel in [
        format!("{MINUTE}logs.v1.data"),
        format!("{MINUTE}crashes/kofi-0.json"),
        format!("{MINUTE}crashes/kofi-1.json"),
        format!("{MINUTE}crashes/kofi-2.json"),
        format!("{MINUTE}attachments/att-1"),
    ] {
        let bytes = std::fs::read(tmp.path().join(&rel)).unwrap();
        remote.put(&rel, bytes).await.unwrap();
    }
    let report = search(&[remote], vec![subject], &opts).await.unwrap();
    check(&report, &theirs);
}
