//! The manifest, `index.json`: what the index holds and how to trust it.

use std::collections::BTreeMap;

use crashdsr_store::Listed;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// The manifest's name under the index.
pub(crate) const MANIFEST: &str = "index.json";

/// The format of manifest and segments this version reads and writes.
pub(crate) const FORMAT: u32 = 3;

/// The manifest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    /// Its format.
    pub format: u32,
    /// The tokeniser's version ([`crashdsr_search::tokens::VERSION`]).
    pub tokeniser: u32,
    /// The key's check value ([`crate::Key::check`]).
    pub key_check: String,
    /// The source indexed ([`crate::source_identity`]).
    pub source: String,
    /// The decoding caps it read objects with (bytes one object may expand
    /// to, containers inside containers): a search with other caps does
    /// not use it.
    pub limits: (u64, u32),
    /// The newest minute folder of the export when it was last built or
    /// updated (`yyyyMMddHHmm`; the same for every worker of one update, so
    /// that they all write the same manifest).
    pub newest_minute: Option<String>,
    /// Every segment built, by name.
    pub segments: BTreeMap<String, SegmentEntry>,
}

/// One segment in the manifest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SegmentEntry {
    /// Its file under the index.
    pub file: String,
    /// The file's SHA-256.
    pub sha256: String,
    /// The bytes of the file's head (meta and filter), which every search
    /// reads, and the head's own SHA-256 (its last 32 bytes).
    pub head_bytes: u64,
    /// See `head_bytes`.
    pub head_sha256: String,
    /// Its objects' fingerprint ([`fingerprint`]): the segment is trusted
    /// only while the source's listing gives the same.
    pub objects_sha256: String,
    /// The stamp of its folders' modification times when the index was
    /// last updated (an export segment of a directory whose folders had
    /// settled): what `--trust-folder-times` trusts it by.
    pub folders_sha256: Option<String>,
    /// Objects.
    pub objects: u64,
    /// Bytes of its objects, as stored.
    pub bytes: u64,
    /// Tokens.
    pub tokens: u64,
    /// The file's size.
    pub file_bytes: u64,
}

/// The file of segment `name`.
pub(crate) fn segment_file(name: &str) -> String {
    format!("segments/{name}.seg")
}

/// The fingerprint of a segment's objects (sorted by path): their paths,
/// sizes and versions.
pub(crate) fn fingerprint<'a>(objects: impl IntoIterator<Item = &'a Listed>) -> String {
    let mut h = Sha256::new();
    for o in objects {
        h.update(o.path.as_bytes());
        h.update(b"\t");
        h.update(o.size.to_string().as_bytes());
        h.update(b"\t");
        h.update(o.version.as_deref().unwrap_or("").as_bytes());
        h.update(b"\n");
    }
    hex::encode(h.finalize())
}
