//! The continuous export's layout: what App Center wrote into Blob Storage.
//!
//! Container `archive`; one folder per minute, UTC: `[{appId}/]yyyy/MM/dd/HH/mm/`.
//! Inside: `logs.v1.data`, a JSON array of device logs whose values are all
//! strings; `crashes/{errorId}.json` and `errors/{errorId}.json`, one SDK log
//! each; `attachments/{attachmentId}`, the bytes as uploaded. Attribution is
//! per record: an `ErrorLog`/`HandledErrorLog` entry names its crash blob in
//! `Properties`, an `ErrorAttachmentLog` entry names the crash an attachment
//! belongs to, and session events belong to no crash but carry the install
//! id.

use std::collections::BTreeMap;
use std::ops::Range;

use serde::Deserialize;

/// What an object of an export is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BlobKind {
    /// `logs.v1.data` (or another `logs*.v1.data`).
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

/// Places a path in the layout, or `None` if it is not an export object.
pub fn classify(path: &str) -> Option<ExportBlob> {
    let parts: Vec<&str> = path.split('/').collect();
    let is_num = |s: &str, n: usize| s.len() == n && s.bytes().all(|b| b.is_ascii_digit());
    // Find yyyy/MM/dd/HH/mm, optionally after an app id.
    let start = match parts.as_slice() {
        [y, mo, d, h, mi, ..]
            if is_num(y, 4) && is_num(mo, 2) && is_num(d, 2) && is_num(h, 2) && is_num(mi, 2) =>
        {
            0
        }
        [_, y, mo, d, h, mi, ..]
            if is_num(y, 4) && is_num(mo, 2) && is_num(d, 2) && is_num(h, 2) && is_num(mi, 2) =>
        {
            1
        }
        _ => return None,
    };
    let minute = parts[..start + 5].join("/") + "/";
    let app_id = (start == 1).then(|| parts[0].to_owned());
    let rest = &parts[start + 5..];
    let kind = match rest {
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
    Some(ExportBlob {
        minute,
        app_id,
        kind,
    })
}

/// A device log of `logs.v1.data`. Every value is a string; the fields the
/// attribution needs are named, the rest kept.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct DeviceLog {
    /// `ErrorLog`, `HandledErrorLog`, `ErrorAttachmentLog`, `EventLog`,
    /// `StartSessionLog`, ...
    #[serde(rename = "MessageType", default)]
    pub message_type: String,
    /// The install the log came from.
    #[serde(rename = "InstallId", default)]
    pub install_id: String,
    /// The developer-set user id (may be empty).
    #[serde(rename = "UserId", default)]
    pub user_id: String,
    /// When.
    #[serde(rename = "Timestamp", default)]
    pub timestamp: String,
    /// A JSON object serialised into a string.
    #[serde(rename = "Properties", default)]
    pub properties: String,
    /// Every other field.
    #[serde(flatten)]
    pub other: BTreeMap<String, serde_json::Value>,
}

/// What a diagnostics device log points at (from its `Properties`).
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
pub struct Link {
    /// The crash's error id.
    #[serde(rename = "ErrorId", default)]
    pub error_id: Option<String>,
    /// The blob, relative to the minute folder.
    #[serde(rename = "Blob", default)]
    pub blob: Option<String>,
    /// The attachment id (attachment logs).
    #[serde(rename = "AttachmentId", default)]
    pub attachment_id: Option<String>,
    /// The attachment's content type.
    #[serde(rename = "ContentType", default)]
    pub content_type: Option<String>,
    /// The attachment's file name (never used as a path).
    #[serde(rename = "FileName", default)]
    pub file_name: Option<String>,
}

impl DeviceLog {
    /// The link of an `ErrorLog`, `HandledErrorLog` or `ErrorAttachmentLog`.
    pub fn link(&self) -> Option<Link> {
        matches!(
            self.message_type.as_str(),
            "ErrorLog" | "HandledErrorLog" | "ErrorAttachmentLog"
        )
        .then(|| serde_json::from_str::<Link>(&self.properties).ok())
        .flatten()
    }
}

/// One element of a `logs.v1.data` array.
#[derive(Debug, Clone, PartialEq)]
pub struct DeviceLogRecord {
    /// Position in the array.
    pub index: usize,
    /// Byte range of the element in the file.
    pub span: Range<usize>,
    /// The parsed log.
    pub log: DeviceLog,
}

/// Splits a `logs.v1.data` array into its elements without parsing the
/// whole file at once, so that a truncated or damaged file still yields
/// every complete element before the damage. Returns the records and, if
/// the file is damaged, what is wrong.
pub fn parse_device_logs(bytes: &[u8]) -> (Vec<DeviceLogRecord>, Option<String>) {
    let mut records = Vec::new();
    let mut i = skip_ws(bytes, 0);
    if bytes.get(i) != Some(&b'[') {
        let what = if bytes.is_empty() {
            "empty"
        } else {
            "not a JSON array"
        };
        return (records, Some(format!("logs.v1.data is {what}")));
    }
    i += 1;
    loop {
        i = skip_ws(bytes, i);
        match bytes.get(i) {
            Some(b']') => return (records, None),
            None => {
                let n = records.len();
                return (
                    records,
                    Some(format!("logs.v1.data ends after {n} complete records")),
                );
            }
            _ => {}
        }
        let n = records.len();
        let Some(end) = element_end(bytes, i) else {
            return (
                records,
                Some(format!("logs.v1.data is cut inside record {n}")),
            );
        };
        match serde_json::from_slice::<DeviceLog>(&bytes[i..end]) {
            Ok(log) => records.push(DeviceLogRecord {
                index: n,
                span: i..end,
                log,
            }),
            Err(e) => {
                return (
                    records,
                    Some(format!(
                        "record {n} of logs.v1.data is not a device log: {e}"
                    )),
                );
            }
        }
        i = skip_ws(bytes, end);
        match bytes.get(i) {
            Some(b',') => i += 1,
            Some(b']') => return (records, None),
            None => {
                return (
                    records,
                    Some(format!(
                        "logs.v1.data ends after {} complete records",
                        n + 1
                    )),
                );
            }
            Some(c) => {
                return (
                    records,
                    Some(format!("unexpected {:?} after record {n}", *c as char)),
                );
            }
        }
    }
}

fn skip_ws(b: &[u8], mut i: usize) -> usize {
    while b.get(i).is_some_and(|c| c.is_ascii_whitespace()) {
        i += 1;
    }
    i
}

/// The end (exclusive) of the JSON value starting at `i`, if complete.
fn element_end(b: &[u8], i: usize) -> Option<usize> {
    let (mut depth, mut in_str, mut esc) = (0usize, false, false);
    let mut j = i;
    while j < b.len() {
        let c = b[j];
        if in_str {
            if esc {
                esc = false;
            } else if c == b'\\' {
                esc = true;
            } else if c == b'"' {
                in_str = false;
                if depth == 0 {
                    return Some(j + 1);
                }
            }
        } else {
            match c {
                b'"' => in_str = true,
                b'{' | b'[' => depth += 1,
                b'}' | b']' => {
                    depth = depth.checked_sub(1)?;
                    if depth == 0 {
                        return Some(j + 1);
                    }
                }
                b',' if depth == 0 => return Some(j),
                _ => {}
            }
        }
        j += 1;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_both_path_formats() {
        let b = classify("2026/11/30/12/05/logs.v1.data").unwrap();
        assert_eq!(
            (b.minute.as_str(), b.app_id, b.kind),
            ("2026/11/30/12/05/", None, BlobKind::DeviceLogs)
        );
        let b = classify("046d56b8-ea26-4653-97ba-12b8f99c3ef5/2026/11/30/12/05/crashes/1-a.json")
            .unwrap();
        assert_eq!(
            b.app_id.as_deref(),
            Some("046d56b8-ea26-4653-97ba-12b8f99c3ef5")
        );
        assert_eq!(
            b.kind,
            BlobKind::Crash {
                error_id: "1-a".into(),
                handled: false
            }
        );
        assert_eq!(
            classify("2026/11/30/12/05/errors/2-b.json").unwrap().kind,
            BlobKind::Crash {
                error_id: "2-b".into(),
                handled: true
            }
        );
        assert_eq!(
            classify("2026/11/30/12/05/attachments/x").unwrap().kind,
            BlobKind::Attachment {
                attachment_id: "x".into()
            }
        );
        for not in [
            "readme.txt",
            "2026/11/30/12/logs.v1.data",
            "2026/11/30/12/05/crashes/x.txt",
            "a/b/2026/11/30/12/05/logs.v1.data",
        ] {
            assert_eq!(classify(not), None, "{not}");
        }
    }

    #[test]
    fn splits_arrays_with_spans_and_survives_damage() {
        let a = r#"{"MessageType":"ErrorLog","InstallId":"i","UserId":"","Properties":"{\"ErrorId\":\"e1\",\"Blob\":\"crashes/e1.json\"}","Model":"x]"}"#;
        let b = r#"{"MessageType":"EventLog","InstallId":"j","Properties":"{\"k\":\"v, [x\"}"}"#;
        let file = format!(" [ {a} ,\n{b} ] ");
        let (recs, warn) = parse_device_logs(file.as_bytes());
        assert_eq!(warn, None);
        assert_eq!(recs.len(), 2);
        assert_eq!(&file[recs[0].span.clone()], a);
        assert_eq!(&file[recs[1].span.clone()], b);
        let link = recs[0].log.link().unwrap();
        assert_eq!(
            (link.error_id.as_deref(), link.blob.as_deref()),
            (Some("e1"), Some("crashes/e1.json"))
        );
        assert_eq!(recs[1].log.link(), None);
        assert_eq!(recs[0].log.other["Model"], "x]");

        let cut = &file[..file.len() - 20];
        let (recs, warn) = parse_device_logs(cut.as_bytes());
        assert_eq!(recs.len(), 1);
        assert!(warn.unwrap().contains("cut inside record 1"));
        assert!(parse_device_logs(b"").1.unwrap().contains("empty"));
        assert!(
            parse_device_logs(b"{\"a\":1}")
                .1
                .unwrap()
                .contains("not a JSON array")
        );
        assert_eq!(parse_device_logs(b"[]"), (vec![], None));
        let (recs, warn) = parse_device_logs(br#"[{"MessageType":1}]"#);
        assert!(recs.is_empty() && warn.unwrap().contains("not a device log"));
    }
}
