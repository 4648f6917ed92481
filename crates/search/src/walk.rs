//! Reads a whole export: every object listed and read in parallel, with
//! bounded memory, each record handed to a visitor with its attribution,
//! and one warning per bad object while the rest is read to the end.

use bytes::Bytes;
use crashdsr_store::{Listed, Store};
use futures::{StreamExt, TryStreamExt};
use sha2::{Digest, Sha256};

use crate::error::Result;
use crate::export::{BlobKind, DeviceLogRecord, ExportBlob, classify, parse_device_logs};

/// The largest `logs.v1.data` or crash JSON read whole.
pub(crate) const MAX_JSON_BLOB: u64 = 256 << 20;

/// A record of an export.
#[derive(Debug, Clone)]
pub enum ExportItem {
    /// One element of a `logs.v1.data` array.
    DeviceLog {
        /// The object's path.
        path: String,
        /// Where it sits in the layout.
        blob: ExportBlob,
        /// The element.
        record: DeviceLogRecord,
    },
    /// A crash or handled-error blob, whole.
    Crash {
        /// The object's path.
        path: String,
        /// Where it sits in the layout.
        blob: ExportBlob,
        /// Its bytes (JSON).
        bytes: Bytes,
    },
    /// An attachment, streamed: its size and digest.
    Attachment {
        /// The object's path.
        path: String,
        /// Where it sits in the layout.
        blob: ExportBlob,
        /// Size in bytes.
        size: u64,
        /// SHA-256, hex.
        sha256: String,
    },
}

/// What a walk read.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WalkReport {
    /// Objects listed.
    pub objects: u64,
    /// Bytes read.
    pub bytes: u64,
    /// Device logs (elements of `logs.v1.data` arrays).
    pub device_logs: u64,
    /// Crash and handled-error blobs.
    pub crashes: u64,
    /// Attachments.
    pub attachments: u64,
    /// Objects outside the export layout (ignored).
    pub ignored: u64,
    /// One line per bad object: `(path, what is wrong)`.
    pub warnings: Vec<(String, String)>,
}

enum Read {
    Items(Vec<ExportItem>, u64, Option<String>),
    Ignored,
    Failed(String),
}

async fn read_one(source: &Store, b: Listed) -> (String, Read) {
    let Some(blob) = classify(&b.path) else {
        return (b.path, Read::Ignored);
    };
    let path = b.path.clone();
    let r = match &blob.kind {
        BlobKind::DeviceLogs => match source.read(&path, MAX_JSON_BLOB).await {
            Ok(bytes) => {
                let logs = parse_device_logs(&bytes);
                let warning = (!logs.warnings.is_empty()).then(|| logs.warnings.join("; "));
                let items = logs
                    .records
                    .into_iter()
                    .map(|record| ExportItem::DeviceLog {
                        path: path.clone(),
                        blob: blob.clone(),
                        record,
                    })
                    .collect();
                Read::Items(items, bytes.len() as u64, warning)
            }
            Err(e) => Read::Failed(e.to_string()),
        },
        BlobKind::Crash { .. } => match source.read(&path, MAX_JSON_BLOB).await {
            Ok(bytes) => {
                let n = bytes.len() as u64;
                match serde_json::from_slice::<serde::de::IgnoredAny>(&crate::export::blob_text(
                    &bytes,
                )) {
                    Ok(_) => Read::Items(
                        vec![ExportItem::Crash {
                            path: path.clone(),
                            blob,
                            bytes,
                        }],
                        n,
                        None,
                    ),
                    // Kept for the search (its text may still hold data),
                    // but flagged.
                    Err(e) => Read::Items(
                        vec![ExportItem::Crash {
                            path: path.clone(),
                            blob,
                            bytes,
                        }],
                        n,
                        Some(format!("not JSON: {e}")),
                    ),
                }
            }
            Err(e) => Read::Failed(e.to_string()),
        },
        BlobKind::Attachment { .. } => match source.chunks(&path).await {
            Ok(chunks) => {
                let mut h = Sha256::new();
                let mut size = 0u64;
                let mut chunks = Box::pin(chunks);
                let mut failed = None;
                while let Some(c) = chunks.next().await {
                    match c {
                        Ok(c) => {
                            size += c.len() as u64;
                            h.update(&c);
                        }
                        Err(e) => {
                            failed = Some(e.to_string());
                            break;
                        }
                    }
                }
                match failed {
                    Some(e) => Read::Failed(e),
                    None => {
                        let sha256 = hex_lower(&h.finalize());
                        Read::Items(
                            vec![ExportItem::Attachment {
                                path: path.clone(),
                                blob,
                                size,
                                sha256,
                            }],
                            size,
                            None,
                        )
                    }
                }
            }
            Err(e) => Read::Failed(e.to_string()),
        },
    };
    (path, r)
}

fn hex_lower(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Walks every object of `source`, `concurrency` at a time, calling
/// `visit` for each record. Fails only if the source cannot be listed.
pub async fn walk(
    source: &Store,
    concurrency: usize,
    mut visit: impl FnMut(ExportItem),
) -> Result<WalkReport> {
    let mut report = WalkReport::default();
    let mut reads = source
        .list(None)
        .map_ok(|b| async move { Ok(read_one(source, b).await) })
        .try_buffer_unordered(concurrency.max(1));
    while let Some((path, read)) = reads.try_next().await? {
        report.objects += 1;
        match read {
            Read::Ignored => report.ignored += 1,
            Read::Failed(e) => {
                tracing::warn!(%path, error = %e, "Skipping an unreadable object.");
                report.warnings.push((path, e));
            }
            Read::Items(items, bytes, warning) => {
                report.bytes += bytes;
                if let Some(w) = warning {
                    tracing::warn!(%path, warning = %w, "Damaged object; reading what it holds.");
                    report.warnings.push((path, w));
                }
                for item in items {
                    match &item {
                        ExportItem::DeviceLog { .. } => report.device_logs += 1,
                        ExportItem::Crash { .. } => report.crashes += 1,
                        ExportItem::Attachment { .. } => report.attachments += 1,
                    }
                    visit(item);
                }
            }
        }
    }
    Ok(report)
}
