//! The attribution index of one search: built from every device-log blob of
//! every minute folder of every source, so that an attachment is tied to
//! its crash wherever its `ErrorAttachmentLog` lives (the SDK often sends
//! an attachment minutes after its crash, into a later folder).
//!
//! It holds one entry per error log (error id to app, install, session and
//! blob), one per attachment log (attachment id to crash), and the app of
//! each install seen in them. Session and event records, the bulk of an
//! export, add nothing, so the index grows with crashes and attachments,
//! not with records (BENCHMARKS.md has its size at a million records).

use std::collections::HashMap as StdMap;
use std::hash::{BuildHasherDefault, Hasher};

use crate::export::{DeviceLog, classify};

/// FxHash (as in rustc): keys are ids, nobody's input picks them to collide
/// on purpose, and SipHash was a tenth of a search's time.
#[derive(Default, Clone, Copy)]
pub(crate) struct FxHasher(u64);

impl Hasher for FxHasher {
    fn write(&mut self, bytes: &[u8]) {
        for chunk in bytes.chunks(8) {
            let mut word = [0u8; 8];
            word[..chunk.len()].copy_from_slice(chunk);
            self.0 = (self.0.rotate_left(5) ^ u64::from_le_bytes(word))
                .wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
        }
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

/// A hash map with [`FxHasher`].
pub(crate) type HashMap<K, V> = StdMap<K, V, BuildHasherDefault<FxHasher>>;

/// What an `ErrorLog`/`HandledErrorLog` says of its crash.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CrashEntry {
    /// The app id.
    pub app: Option<Box<str>>,
    /// The install.
    pub install_id: Option<Box<str>>,
    /// The crash blobs seen (`source`, path), from the log and the listing.
    pub blobs: Vec<(usize, Box<str>)>,
    /// Its error logs: (`source`, `logs*.v1.data` blob, index in the array).
    pub records: Vec<RecordAt>,
}

/// Where a device-log record is: (`source`, blob, index in its array).
pub type RecordAt = (usize, Box<str>, u32);

/// What an `ErrorAttachmentLog` says of its attachment.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AttachmentEntry {
    /// The crash, when the log names it.
    pub error_id: Option<Box<str>>,
    /// The app id.
    pub app: Option<Box<str>>,
    /// The install.
    pub install_id: Option<Box<str>>,
    /// The session, to find the crash when the log does not name it.
    pub session_id: Option<Box<str>>,
    /// The file name the app gave it (never used as a path).
    pub file_name: Option<Box<str>>,
    /// Its content type.
    pub content_type: Option<Box<str>>,
    /// Its attachment log.
    pub record: Option<RecordAt>,
    /// The blob its log names (`source`, path).
    pub blob: Option<(usize, Box<str>)>,
}

/// The index.
#[derive(Debug, Clone, Default)]
pub struct AttributionIndex {
    crashes: HashMap<Box<str>, CrashEntry>,
    attachments: HashMap<Box<str>, AttachmentEntry>,
    /// `(install, session)` to the crashes logged in that session.
    sessions: HashMap<SessionKey, Vec<Box<str>>>,
    installs: HashMap<Box<str>, Box<str>>,
    /// Attachment blobs seen in listings, by attachment id.
    attachment_blobs: HashMap<Box<str>, Vec<(usize, Box<str>)>>,
}

/// An install and one of its sessions.
type SessionKey = (Box<str>, Box<str>);

fn some(s: &str) -> Option<Box<str>> {
    (!s.is_empty()).then(|| s.into())
}

impl AttributionIndex {
    /// Adds what a device log says: element `index` of the blob `path`
    /// of `source`, in the minute folder `minute`.
    pub fn add_record(
        &mut self,
        (source, path, index): (usize, &str, usize),
        minute: &str,
        log: &DeviceLog,
    ) {
        let at: RecordAt = (source, path.into(), index as u32);
        if let (Some(install), Some(app)) = (some(&log.install_id), some(&log.app_id)) {
            self.installs.entry(install).or_insert(app);
        }
        let Some(link) = log.link() else { return };
        match log.message_type.as_str() {
            "ErrorLog" | "HandledErrorLog" => {
                let Some(error_id) = link.error_id.as_deref().and_then(some) else {
                    return;
                };
                let entry = self.crashes.entry(error_id.clone()).or_default();
                entry.app = entry.app.take().or_else(|| some(&log.app_id));
                entry.install_id = entry.install_id.take().or_else(|| some(&log.install_id));
                if let Some(blob) = link.blob_path(minute) {
                    let blob: (usize, Box<str>) = (source, blob.into());
                    if !entry.blobs.contains(&blob) {
                        entry.blobs.push(blob);
                    }
                }
                if !entry.records.contains(&at) {
                    entry.records.push(at);
                }
                if let (Some(i), Some(s)) = (some(&log.install_id), some(&log.session_id)) {
                    let ids = self.sessions.entry((i, s)).or_default();
                    if !ids.contains(&error_id) {
                        ids.push(error_id);
                    }
                }
            }
            "ErrorAttachmentLog" => {
                let Some(id) = link.attachment_id.as_deref().and_then(some) else {
                    return;
                };
                let entry = AttachmentEntry {
                    error_id: link.error_id.as_deref().and_then(some),
                    app: some(&log.app_id),
                    install_id: some(&log.install_id),
                    session_id: some(&log.session_id),
                    file_name: link.file_name.as_deref().and_then(some),
                    content_type: link.content_type.as_deref().and_then(some),
                    blob: link.blob_path(minute).map(|b| (source, b.into())),
                    record: Some(at),
                };
                let slot = self.attachments.entry(id).or_default();
                // A log that names the crash wins over one that does not.
                if slot.error_id.is_none() {
                    *slot = entry;
                }
            }
            _ => {}
        }
    }

    /// Adds a crash blob seen in a listing.
    pub fn add_crash_blob(&mut self, source: usize, path: &str, error_id: &str) {
        let entry = self.crashes.entry(error_id.into()).or_default();
        let blob = (source, path.into());
        if !entry.blobs.contains(&blob) {
            entry.blobs.push(blob);
        }
        if entry.app.is_none() {
            entry.app = classify(path).and_then(|b| b.app_id).map(Into::into);
        }
    }

    /// Adds an attachment blob seen in a listing.
    pub fn add_attachment_blob(&mut self, source: usize, path: &str, attachment_id: &str) {
        let blobs = self
            .attachment_blobs
            .entry(attachment_id.into())
            .or_default();
        let blob = (source, path.into());
        if !blobs.contains(&blob) {
            blobs.push(blob);
        }
    }

    /// Takes in another index (from another thread or source).
    pub fn merge(&mut self, other: Self) {
        // Into an empty index (the first of the walker threads' and of the
        // sources'), a move: no entry is hashed and copied again.
        if self.crashes.is_empty()
            && self.attachments.is_empty()
            && self.sessions.is_empty()
            && self.installs.is_empty()
            && self.attachment_blobs.is_empty()
        {
            *self = other;
            return;
        }
        for (k, v) in other.crashes {
            match self.crashes.get_mut(&k) {
                None => {
                    self.crashes.insert(k, v);
                }
                Some(mine) => {
                    mine.app = mine.app.take().or(v.app);
                    mine.install_id = mine.install_id.take().or(v.install_id);
                    for b in v.blobs {
                        if !mine.blobs.contains(&b) {
                            mine.blobs.push(b);
                        }
                    }
                    for r in v.records {
                        if !mine.records.contains(&r) {
                            mine.records.push(r);
                        }
                    }
                }
            }
        }
        for (k, v) in other.attachments {
            let slot = self.attachments.entry(k).or_default();
            if slot.error_id.is_none() {
                *slot = v;
            }
        }
        for (k, v) in other.sessions {
            let ids = self.sessions.entry(k).or_default();
            for id in v {
                if !ids.contains(&id) {
                    ids.push(id);
                }
            }
        }
        for (k, v) in other.installs {
            self.installs.entry(k).or_insert(v);
        }
        for (k, v) in other.attachment_blobs {
            let blobs = self.attachment_blobs.entry(k).or_default();
            for b in v {
                if !blobs.contains(&b) {
                    blobs.push(b);
                }
            }
        }
    }

    /// Every attachment a log names, with its entry.
    pub fn attachments(&self) -> impl Iterator<Item = (&str, &AttachmentEntry)> {
        self.attachments.iter().map(|(k, v)| (&**k, v))
    }

    /// The attachments of every crash, by error id, each list sorted.
    pub fn attachments_by_crash(&self) -> std::collections::BTreeMap<String, Vec<String>> {
        let mut out: std::collections::BTreeMap<String, Vec<String>> = Default::default();
        for aid in self.attachments.keys() {
            if let Ok((eid, _)) = self.crash_of_attachment(aid) {
                out.entry(eid.to_owned()).or_default().push(aid.to_string());
            }
        }
        for v in out.values_mut() {
            v.sort();
        }
        out
    }

    /// The blobs of an attachment: the one its log names, then those seen
    /// in listings, each once.
    pub fn attachment_blobs(&self, attachment_id: &str) -> Vec<(usize, &str)> {
        let mut out: Vec<(usize, &str)> = Vec::new();
        let named = self
            .attachments
            .get(attachment_id)
            .and_then(|e| e.blob.as_ref());
        let listed = self
            .attachment_blobs
            .get(attachment_id)
            .into_iter()
            .flatten();
        for (s, p) in named.into_iter().chain(listed) {
            if !out.contains(&(*s, &**p)) {
                out.push((*s, p));
            }
        }
        out
    }

    /// Every app id the index saw (in error, attachment and other logs).
    pub fn apps(&self) -> std::collections::BTreeSet<&str> {
        self.installs
            .values()
            .chain(self.crashes.values().filter_map(|c| c.app.as_ref()))
            .chain(self.attachments.values().filter_map(|a| a.app.as_ref()))
            .map(|a| &**a)
            .collect()
    }

    /// A crash's entry.
    pub fn crash(&self, error_id: &str) -> Option<&CrashEntry> {
        self.crashes.get(error_id)
    }

    /// The app an install belongs to.
    pub fn app_of_install(&self, install_id: &str) -> Option<&str> {
        self.installs.get(install_id).map(|a| &**a)
    }

    /// The crash an attachment belongs to: named by its log, or the one
    /// crash logged in the same install and session. Otherwise why not.
    pub fn crash_of_attachment(
        &self,
        attachment_id: &str,
    ) -> Result<(&str, &AttachmentEntry), String> {
        let Some(entry) = self.attachments.get(attachment_id) else {
            return Err("no ErrorAttachmentLog in the sources names this attachment".into());
        };
        if let Some(eid) = &entry.error_id {
            return Ok((eid, entry));
        }
        let (Some(install), Some(session)) = (&entry.install_id, &entry.session_id) else {
            return Err("its ErrorAttachmentLog names no crash, install or session".into());
        };
        match self
            .sessions
            .get(&(install.clone(), session.clone()))
            .map(Vec::as_slice)
        {
            Some([one]) => Ok((one, entry)),
            Some(many) => Err(format!(
                "its ErrorAttachmentLog names no crash, and {} crashes share its session",
                many.len()
            )),
            None => {
                Err("its ErrorAttachmentLog names no crash, and no crash shares its session".into())
            }
        }
    }

    /// Entries held (crashes, attachments, sessions, installs).
    pub fn len(&self) -> usize {
        self.crashes.len() + self.attachments.len() + self.sessions.len() + self.installs.len()
    }

    /// Heap bytes it holds, approximately (tables at their capacity, plus
    /// the strings), for the benchmarks.
    pub fn heap_bytes(&self) -> usize {
        fn table<K, V>(m: &HashMap<K, V>) -> usize {
            m.capacity() * (std::mem::size_of::<K>() + std::mem::size_of::<V>() + 1)
        }
        let s = |b: &Option<Box<str>>| b.as_ref().map_or(0, |b| b.len());
        table(&self.crashes)
            + self
                .crashes
                .iter()
                .map(|(k, v)| {
                    k.len()
                        + s(&v.app)
                        + s(&v.install_id)
                        + v.blobs.capacity() * std::mem::size_of::<(usize, Box<str>)>()
                        + v.blobs.iter().map(|b| b.1.len()).sum::<usize>()
                        + v.records.capacity() * std::mem::size_of::<RecordAt>()
                        + v.records.iter().map(|r| r.1.len()).sum::<usize>()
                })
                .sum::<usize>()
            + table(&self.attachments)
            + self
                .attachments
                .iter()
                .map(|(k, v)| {
                    k.len()
                        + s(&v.error_id)
                        + s(&v.app)
                        + s(&v.install_id)
                        + s(&v.session_id)
                        + s(&v.file_name)
                        + s(&v.content_type)
                        + v.record.as_ref().map_or(0, |r| r.1.len())
                        + v.blob.as_ref().map_or(0, |b| b.1.len())
                })
                .sum::<usize>()
            + table(&self.sessions)
            + self
                .sessions
                .iter()
                .map(|((i, s), v)| {
                    i.len() + s.len() + v.iter().map(|e| e.len() + 16).sum::<usize>()
                })
                .sum::<usize>()
            + table(&self.installs)
            + self
                .installs
                .iter()
                .map(|(k, v)| k.len() + v.len())
                .sum::<usize>()
            + table(&self.attachment_blobs)
            + self
                .attachment_blobs
                .iter()
                .map(|(k, v)| {
                    k.len()
                        + v.capacity() * std::mem::size_of::<(usize, Box<str>)>()
                        + v.iter().map(|b| b.1.len()).sum::<usize>()
                })
                .sum::<usize>()
    }

    /// Whether it holds nothing.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn log(v: serde_json::Value) -> DeviceLog {
        DeviceLog::from_map(v.as_object().unwrap().clone())
    }

    #[test]
    fn attachments_find_their_crash_by_name_or_session() {
        let mut a = AttributionIndex::default();
        a.add_record(
            (0, "logs.v1.data", 1),
            "2026/11/30/12/05/",
            &log(json!({"MessageType": "ErrorLog", "AppId": "app", "InstallId": "I1", "SessionId": "s1",
                "Properties": "2026/11/30/12/05/crashes/e1.json"})),
        );
        a.add_record(
            (0, "logs.v1.data", 2),
            "2026/11/30/12/05/",
            &log(
                json!({"MessageType": "ErrorLog", "InstallId": "i2", "SessionId": "s2",
                "Properties": "{\"ErrorId\":\"e2\",\"Blob\":\"crashes/e2.json\"}"}),
            ),
        );
        let mut b = AttributionIndex::default();
        // In a later folder, another thread: one names its crash, one not.
        b.add_record(
            (1, "logs.v1.data", 3),
            "2026/11/30/12/09/",
            &log(
                json!({"MessageType": "ErrorAttachmentLog", "InstallId": "i2",
                "Properties": {"ErrorId": "e2", "AttachmentId": "a2", "FileName": "log.txt"}}),
            ),
        );
        b.add_record(
            (1, "logs.v1.data", 4),
            "2026/11/30/12/09/",
            &log(
                json!({"MessageType": "ErrorAttachmentLog", "InstallId": "i1", "SessionId": "s1",
                "Properties": "2026/11/30/12/09/attachments/a1"}),
            ),
        );
        b.add_record(
            (1, "logs.v1.data", 5),
            "2026/11/30/12/09/",
            &log(
                json!({"MessageType": "ErrorAttachmentLog", "InstallId": "i9", "SessionId": "s9",
                "Properties": "2026/11/30/12/09/attachments/a9"}),
            ),
        );
        a.merge(b);
        assert_eq!(a.crash_of_attachment("a2").unwrap().0, "e2");
        assert_eq!(
            a.crash_of_attachment("a2").unwrap().1.file_name.as_deref(),
            Some("log.txt")
        );
        assert_eq!(a.crash_of_attachment("a1").unwrap().0, "e1");
        assert!(
            a.crash_of_attachment("a9")
                .unwrap_err()
                .contains("no crash shares")
        );
        assert!(
            a.crash_of_attachment("zz")
                .unwrap_err()
                .contains("no ErrorAttachmentLog")
        );
        assert_eq!(
            a.crash("e2").unwrap().blobs,
            vec![(0, "2026/11/30/12/05/crashes/e2.json".into())]
        );
        assert_eq!(
            a.crash("e2").unwrap().records,
            vec![(0, "logs.v1.data".into(), 2)]
        );
        assert_eq!(
            a.attachment_blobs("a1"),
            vec![(1, "2026/11/30/12/09/attachments/a1")]
        );
        a.add_attachment_blob(1, "2026/11/30/12/09/attachments/a1", "a1");
        a.add_attachment_blob(2, "x/attachments/a1", "a1");
        assert_eq!(
            a.attachment_blobs("a1"),
            vec![
                (1, "2026/11/30/12/09/attachments/a1"),
                (2, "x/attachments/a1")
            ]
        );
        assert_eq!(
            a.crash_of_attachment("a2").unwrap().1.record,
            Some((1, "logs.v1.data".into(), 3))
        );
        assert_eq!(a.apps(), ["app"].into_iter().collect());
        assert_eq!(a.app_of_install("i1"), Some("app"));
        a.add_crash_blob(3, "app/2026/11/30/12/05/crashes/e3.json", "e3");
        assert_eq!(a.crash("e3").unwrap().app.as_deref(), Some("app"));
    }
}
