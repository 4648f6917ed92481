//! The continuous export's layout, defined once: what App Center's backend
//! wrote (and the emulator writes), what the search, the answer and
//! erasure read.
//!
//! Container `archive`; one folder per minute, UTC:
//! `[{appId}/]yyyy/MM/dd/HH/mm/` (`{appId}/` only with the `WithAppId`
//! path format). Inside: any number of `logs*.v1.data` blobs (device logs);
//! `crashes/{errorId}.json` (unhandled) and `errors/{errorId}.json`
//! (handled), one SDK log each; `attachments/{attachmentId}`, the bytes as
//! uploaded.

/// The device-log blob App Center writes first in a minute folder (later
/// batches are `logs*.v1.data` too).
pub const DEVICE_LOGS: &str = "logs.v1.data";

/// `[{appId}/]yyyy/MM/dd/HH/mm/` for a minute given as `yyyy/MM/dd/HH/mm`.
pub fn minute_folder(app_id: Option<&str>, minute: &str) -> String {
    match app_id {
        Some(app) => format!("{app}/{minute}/"),
        None => format!("{minute}/"),
    }
}

/// A crash blob's name in its minute folder: `crashes/{errorId}.json`, or
/// `errors/{errorId}.json` for a handled error.
pub fn crash_blob(error_id: &str, handled: bool) -> String {
    let dir = if handled { "errors" } else { "crashes" };
    format!("{dir}/{error_id}.json")
}

/// An attachment's name in its minute folder: `attachments/{attachmentId}`.
pub fn attachment_blob(attachment_id: &str) -> String {
    format!("attachments/{attachment_id}")
}

/// What an object of an export is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BlobKind {
    /// A `logs*.v1.data` blob.
    DeviceLogs,
    /// `crashes/{errorId}.json` (unhandled) or `errors/{errorId}.json`.
    Crash {
        /// The error id from the name.
        error_id: String,
        /// True for `errors/` (handled errors).
        handled: bool,
    },
    /// `attachments/{attachmentId}`.
    Attachment {
        /// The attachment id from the name.
        attachment_id: String,
    },
}

/// An object placed in the export layout.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExportBlob {
    /// The minute folder, with its trailing `/` (`[appId/]yyyy/MM/dd/HH/mm/`).
    pub minute: String,
    /// The app id prefix (`WithAppId` layouts).
    pub app_id: Option<String>,
    /// What the object is.
    pub kind: BlobKind,
}

impl ExportBlob {
    /// The minute the object was written, UTC (`yyyy-MM-ddTHH:mm`), from
    /// its minute folder.
    pub fn time(&self) -> Option<String> {
        let parts: Vec<&str> = self
            .minute
            .trim_end_matches('/')
            .rsplit('/')
            .take(5)
            .collect();
        match parts[..] {
            [mi, h, d, mo, y] => Some(format!("{y}-{mo}-{d}T{h}:{mi}")),
            _ => None,
        }
    }
}

fn is_num(s: &str, n: usize) -> bool {
    s.len() == n && s.bytes().all(|b| b.is_ascii_digit())
}

/// Places a path in the layout, or `None` if it is not an export object.
pub fn classify(path: &str) -> Option<ExportBlob> {
    let path = path.trim_start_matches('/');
    // At most 8 parts: [app/]yyyy/MM/dd/HH/mm/[dir/]name.
    let mut parts = [""; 9];
    let mut n = 0;
    for p in path.split('/') {
        if n == parts.len() {
            return None;
        }
        parts[n] = p;
        n += 1;
    }
    let parts = &parts[..n];
    let minute_at = |i: usize| {
        parts.len() > i + 5
            && is_num(parts[i], 4)
            && is_num(parts[i + 1], 2)
            && is_num(parts[i + 2], 2)
            && is_num(parts[i + 3], 2)
            && is_num(parts[i + 4], 2)
    };
    let start = if minute_at(0) {
        0
    } else if minute_at(1) {
        1
    } else {
        return None;
    };
    let kind = match &parts[start + 5..] {
        [name] if name.starts_with("logs") && name.ends_with("v1.data") => BlobKind::DeviceLogs,
        ["crashes", name] => BlobKind::Crash {
            error_id: name.strip_suffix(".json")?.to_owned(),
            handled: false,
        },
        ["errors", name] => BlobKind::Crash {
            error_id: name.strip_suffix(".json")?.to_owned(),
            handled: true,
        },
        ["attachments", id] if !id.is_empty() => BlobKind::Attachment {
            attachment_id: (*id).to_owned(),
        },
        _ => return None,
    };
    // The minute folder is the path up to its `mm/`.
    let minute_len: usize = parts[..start + 5].iter().map(|p| p.len() + 1).sum();
    Some(ExportBlob {
        minute: path[..minute_len].to_owned(),
        app_id: (start == 1).then(|| parts[0].to_owned()),
        kind,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_what_it_builds() {
        for app in [None, Some("7102f3a9-eeb8-4870-8b32-42e3c449332b")] {
            let folder = minute_folder(app, "2026/09/01/13/05");
            let at = |name: &str| classify(&format!("{folder}{name}")).unwrap();
            assert_eq!(at(DEVICE_LOGS).kind, BlobKind::DeviceLogs);
            assert_eq!(at("logs_0001.v1.data").kind, BlobKind::DeviceLogs);
            assert_eq!(
                at(&crash_blob("e1", false)).kind,
                BlobKind::Crash {
                    error_id: "e1".into(),
                    handled: false
                }
            );
            assert_eq!(
                at(&crash_blob("e2", true)).kind,
                BlobKind::Crash {
                    error_id: "e2".into(),
                    handled: true
                }
            );
            let a = at(&attachment_blob("a1"));
            assert_eq!(
                a.kind,
                BlobKind::Attachment {
                    attachment_id: "a1".into()
                }
            );
            assert_eq!(a.minute, folder);
            assert_eq!(a.app_id.as_deref(), app);
            assert_eq!(a.time().as_deref(), Some("2026-09-01T13:05"));
        }
        for not in [
            "2026/09/01/13/logs.v1.data",
            "2026/09/01/13/05/other.json",
            "apps/o/a/errors/e1/details.json",
            "2026/09/01/13/05/crashes/e1.txt",
        ] {
            assert_eq!(classify(not), None, "{not}");
        }
    }
}
