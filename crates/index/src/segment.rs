//! Segments: the unit the index is cut into, built, trusted and rebuilt.
//!
//! An export's segment is one hour of minute folders of one app (path
//! format `[appId/]yyyy/MM/dd/HH/`); an archive's is the crashes of one app
//! whose error ids start with the same two characters; any other object
//! belongs to the segment of its folder.
//!
//! A segment file (`segments/{segment}.seg` under the index) is written
//! once and never changed in place. It is a head, which every search reads,
//! and a body, which a search reads only when the head's filter says the
//! segment may hold what it looks for:
//!
//! ```text
//! "CDSRSEG3"                     magic and format version
//! u32 LE, JSON                   meta: segment, tokeniser version, key
//!                                check, object count, the objects not
//!                                vouched for, what a scan counts of the
//!                                vouched ones
//! u32 LE w, w × u64 LE           a Bloom filter of its tokens' keyed hashes
//!                                (16 bits a token, 11 probes)
//! 32 bytes                       SHA-256 of the head (everything before)
//! u32 LE, gzip JSON              every object (path, size, version,
//!                                records, why not vouched for)
//! u32 LE n                       tokens
//! n × u32 LE                     their keyed hashes, ascending
//! (n + 1) × u32 LE               where each one's postings start (and end)
//! postings                       ascending object numbers, LEB128 deltas
//! 32 bytes                       SHA-256 of everything before
//! ```

use crashdsr_search::{Tally, Vouched};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::error::{Error, Result};

const MAGIC: &[u8; 8] = b"CDSRSEG3";

/// The segment of the object at `path`.
pub fn segment_of(path: &str) -> String {
    if let Some(blob) = crashdsr_store::export::classify(path) {
        let minute = blob.minute.trim_end_matches('/');
        let hour = minute.rsplit_once('/').map_or(minute, |(h, _)| h);
        return format!("export/{hour}");
    }
    if let Some(c) = crashdsr_store::archive::CrashObject::parse(path) {
        let before = c.folder.trim_end_matches('/');
        let before = before.rsplit_once('/').map_or("", |(b, _)| b);
        let shard: String = c
            .error_id
            .chars()
            .take(2)
            .map(|ch| {
                if ch.is_ascii_alphanumeric() {
                    ch.to_ascii_lowercase()
                } else {
                    '_'
                }
            })
            .collect();
        return format!("archive/{before}/{shard}");
    }
    match path.rsplit_once('/') {
        Some((dir, _)) => format!("other/{dir}"),
        None => "other".to_owned(),
    }
}

/// The folder every object of segment `name` is under (`None`: the
/// source's root).
pub fn segment_prefix(name: &str) -> Option<String> {
    if let Some(hour) = name.strip_prefix("export/") {
        return Some(hour.to_owned());
    }
    if let Some(rest) = name.strip_prefix("archive/") {
        return rest
            .rsplit_once('/')
            .map(|(before, _)| before.to_owned())
            .filter(|b| !b.is_empty());
    }
    name.strip_prefix("other/").map(str::to_owned)
}

/// The hour (`yyyyMMddHH`) an export segment covers.
pub fn segment_hour(segment: &str) -> Option<String> {
    let rest = segment.strip_prefix("export/")?;
    let parts: Vec<&str> = rest.rsplit('/').take(4).collect();
    match parts[..] {
        [h, d, mo, y] => Some(format!("{y}{mo}{d}{h}")),
        _ => None,
    }
}

/// Minutes past the end of an export segment's hour that the export must
/// have moved on by before the segment is sealed and indexed: until then
/// App Center may still write into its minute folders.
pub const SEAL_MARGIN_MINUTES: i64 = 60;

/// Whether the export segment covering `hour` (`yyyyMMddHH`) is sealed when
/// the newest minute folder of the export is `newest` (`yyyyMMddHHmm`).
pub fn sealed(hour: &str, newest: Option<&str>) -> bool {
    let Some(newest) = newest else { return false };
    let Ok(start) = chrono::NaiveDateTime::parse_from_str(&format!("{hour}00"), "%Y%m%d%H%M")
    else {
        // Not a time: nothing will ever be written after it.
        return true;
    };
    let seal = start + chrono::Duration::minutes(60 + SEAL_MARGIN_MINUTES);
    newest >= seal.format("%Y%m%d%H%M").to_string().as_str()
}

/// One object of a segment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Object {
    /// Its path in the source.
    pub path: String,
    /// Bytes, as stored.
    pub size: u64,
    /// Its ETag or modification time when indexed.
    pub version: Option<String>,
    /// Device-log records a scan counts in it.
    pub records: u64,
    /// Why it is not vouched for (a cap stopped its decoding, too large
    /// to index): it is read in full by every search.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unvouched: Option<String>,
}

impl Object {
    /// What the index vouches of it.
    pub fn vouched(&self) -> Vouched {
        Vouched {
            size: self.size,
            records: self.records,
        }
    }
}

/// A segment's header, as a build makes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Header {
    /// The segment.
    pub segment: String,
    /// The tokeniser's version ([`crashdsr_search::tokens::VERSION`]).
    pub tokeniser: u32,
    /// The key's check value.
    pub key_check: String,
    /// Its objects, by path; an object's number is its place here.
    pub objects: Vec<Object>,
    /// An export segment of a directory: its hour folder and every folder
    /// under it, by path under the hour folder (`""` for itself), sorted.
    pub folders: Vec<String>,
    /// What a scan counts of the objects it vouches for.
    pub tally: Tally,
}

/// What a search needs of every segment it trusts, in the segment's head.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Meta {
    /// The segment.
    pub segment: String,
    /// The tokeniser's version.
    pub tokeniser: u32,
    /// The key's check value.
    pub key_check: String,
    /// How many objects it has.
    pub objects: u64,
    /// The objects not vouched for: number, path, why.
    pub unvouched: Vec<(u32, String, String)>,
    /// The device-log records a scan counts in each object, by number: a
    /// segment whose body turns out damaged midway through a search is
    /// read in full, and the search needs these to count it once.
    pub records: Vec<u64>,
    /// Its folders ([`Header::folders`]): a search that trusts folder
    /// times checks theirs against the manifest's stamp.
    pub folders: Vec<String>,
    /// What a scan counts of the objects it vouches for.
    pub tally: Tally,
}

/// A Bloom filter of a segment's tokens' keyed hashes: answers "not here"
/// for a token without the postings, and "maybe" for about one token in
/// two thousand that is not there. (A search asks a segment for every key
/// attribution follows, often a hundred or more: at one in a hundred, a
/// quarter of all segments would be read for nothing.)
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Filter {
    words: Vec<u64>,
}

/// Probes per token.
const PROBES: u64 = 11;
/// Filter bits per token.
const BITS_PER_TOKEN: usize = 16;

impl Filter {
    /// The filter of `hashes`.
    pub fn of(hashes: &[u32]) -> Self {
        let words = (hashes.len() * BITS_PER_TOKEN).div_ceil(64).max(1);
        let mut f = Self {
            words: vec![0; words],
        };
        for h in hashes {
            for bit in f.probes(*h) {
                f.words[(bit / 64) as usize] |= 1 << (bit % 64);
            }
        }
        f
    }

    /// The bits token hash `h` sets. The hashes are keyed HMACs, so
    /// uniformly spread already: double hashing of a 64-bit mix of it.
    fn probes(&self, h: u32) -> impl Iterator<Item = u64> + use<> {
        let mut x = u64::from(h).wrapping_add(0x9E37_79B9_7F4A_7C15);
        x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        x ^= x >> 31;
        let (a, b) = (x & 0xFFFF_FFFF, (x >> 32) | 1);
        let bits = self.words.len() as u64 * 64;
        (0..PROBES).map(move |i| a.wrapping_add(i.wrapping_mul(b)) % bits)
    }

    /// Whether the segment may hold the token with keyed hash `h` (never
    /// false for one it holds).
    pub fn may_hold(&self, h: u32) -> bool {
        self.probes(h)
            .all(|bit| self.words[(bit / 64) as usize] & (1 << (bit % 64)) != 0)
    }

    /// Whether the segment may hold every token of one of `any`.
    pub fn may_hold_any(&self, any: &[Vec<u32>]) -> bool {
        any.iter().any(|all| all.iter().all(|h| self.may_hold(*h)))
    }
}

/// What every search reads of a segment: its meta and its filter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Head {
    /// The meta.
    pub meta: Meta,
    /// The filter of its tokens.
    pub filter: Filter,
}

impl Head {
    /// The head at the start of a segment file's bytes (the whole file or
    /// its first bytes) and the bytes it takes; an error when they are
    /// damaged.
    pub fn decode(bytes: &[u8]) -> Result<(Self, usize)> {
        let (meta, filter, len) = Self::parts(bytes)?;
        let sum = &bytes[len..len + 32];
        if Sha256::digest(&bytes[..len])[..] != *sum {
            return Err(damaged("its head's checksum does not match"));
        }
        let meta: Meta =
            serde_json::from_slice(meta).map_err(|e| damaged(&format!("its header: {e}")))?;
        let words: Vec<u64> = filter
            .chunks_exact(8)
            .map(|c| u64::from_le_bytes(c.try_into().expect("8 bytes")))
            .collect();
        if words.is_empty() {
            return Err(damaged("an empty filter"));
        }
        Ok((
            Self {
                meta,
                filter: Filter { words },
            },
            len + 32,
        ))
    }

    /// The length of the head at the start of a segment file's bytes,
    /// checksum included, from its length fields alone.
    pub fn len_in(bytes: &[u8]) -> Result<usize> {
        Self::parts(bytes).map(|(_, _, len)| len + 32)
    }

    /// A head's meta and filter bytes, and where its checksum starts.
    fn parts(bytes: &[u8]) -> Result<(&[u8], &[u8], usize)> {
        if bytes.len() < MAGIC.len() || &bytes[..MAGIC.len()] != MAGIC {
            return Err(damaged("not a segment of this format"));
        }
        let mut r = Reader(&bytes[MAGIC.len()..]);
        let meta_len = r.u32().ok_or_else(|| damaged("no header"))? as usize;
        let meta = r.take(meta_len).ok_or_else(|| damaged("header cut"))?;
        let words = r.u32().ok_or_else(|| damaged("no filter"))? as usize;
        let filter = r
            .take(words.saturating_mul(8))
            .ok_or_else(|| damaged("filter cut"))?;
        let len = bytes.len() - r.0.len();
        if r.0.len() < 32 {
            return Err(damaged("head cut"));
        }
        Ok((meta, filter, len))
    }

    fn encode(&self, out: &mut Vec<u8>) {
        let start = out.len();
        out.extend_from_slice(MAGIC);
        let meta = serde_json::to_vec(&self.meta).expect("a meta serialises");
        out.extend_from_slice(&(meta.len() as u32).to_le_bytes());
        out.extend_from_slice(&meta);
        out.extend_from_slice(&(self.filter.words.len() as u32).to_le_bytes());
        for w in &self.filter.words {
            out.extend_from_slice(&w.to_le_bytes());
        }
        let sum = Sha256::digest(&out[start..]);
        out.extend_from_slice(&sum);
    }
}

fn damaged(what: &str) -> Error {
    Error::Index(format!("a damaged segment file: {what}"))
}

/// A segment: its head, its objects (decoded when first asked for), its
/// tokens' postings.
#[derive(Debug)]
pub struct Segment {
    head: Head,
    objects_gz: Vec<u8>,
    objects: std::sync::OnceLock<std::result::Result<Vec<Object>, String>>,
    hashes: Vec<u32>,
    starts: Vec<u32>,
    postings: Vec<u8>,
}

impl PartialEq for Segment {
    fn eq(&self, other: &Self) -> bool {
        self.encode() == other.encode()
    }
}

fn gzip_json<T: Serialize>(v: &T) -> Vec<u8> {
    use std::io::Write as _;
    let json = serde_json::to_vec(v).expect("serialises");
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::new(6));
    gz.write_all(&json)
        .and_then(|()| gz.finish())
        .expect("writing to memory")
}

/// Where each object of an object list's JSON is, found without parsing
/// it: the list is as a build wrote it (the body's SHA-256 was checked),
/// objects whose first field is `path` and that hold no object, so
/// `},{"path":"` is only ever between two of them (a quote inside a string
/// is escaped). `None` when the text is not of that form.
fn object_spans(json: &[u8]) -> Option<Vec<std::ops::Range<usize>>> {
    const BETWEEN: &[u8] = b"},{\"path\":\"";
    let inner = json.strip_prefix(b"[")?.strip_suffix(b"]")?;
    if inner.is_empty() {
        return Some(Vec::new());
    }
    if !(inner.starts_with(b"{\"path\":\"") && inner.ends_with(b"}")) {
        return None;
    }
    let mut spans = Vec::new();
    let mut start = 1;
    for at in memchr::memmem::find_iter(inner, BETWEEN) {
        spans.push(start..at + 2);
        start = at + 3;
    }
    spans.push(start..json.len() - 1);
    Some(spans)
}

impl Segment {
    /// A segment from its header and, per object number, the keyed hashes
    /// of its tokens.
    pub fn new(header: Header, tokens: &[Vec<u32>]) -> Self {
        // (hash, object) pairs in order: each hash's postings ascending.
        let mut pairs: Vec<(u32, u32)> = tokens
            .iter()
            .enumerate()
            .flat_map(|(n, hashes)| hashes.iter().map(move |h| (*h, n as u32)))
            .collect();
        pairs.sort_unstable();
        pairs.dedup();
        let (mut hashes, mut starts, mut postings) = (Vec::new(), Vec::new(), Vec::new());
        let mut last = 0u32;
        for (i, &(h, o)) in pairs.iter().enumerate() {
            if i == 0 || pairs[i - 1].0 != h {
                hashes.push(h);
                starts.push(postings.len() as u32);
                leb128(&mut postings, o);
            } else {
                leb128(&mut postings, o - last);
            }
            last = o;
        }
        starts.push(postings.len() as u32);
        let meta = Meta {
            segment: header.segment,
            tokeniser: header.tokeniser,
            key_check: header.key_check,
            objects: header.objects.len() as u64,
            unvouched: header
                .objects
                .iter()
                .enumerate()
                .filter_map(|(n, o)| {
                    o.unvouched
                        .as_ref()
                        .map(|why| (n as u32, o.path.clone(), why.clone()))
                })
                .collect(),
            records: header.objects.iter().map(|o| o.records).collect(),
            folders: header.folders,
            tally: header.tally,
        };
        let filter = Filter::of(&hashes);
        Self {
            head: Head { meta, filter },
            objects_gz: gzip_json(&header.objects),
            objects: std::sync::OnceLock::from(Ok(header.objects)),
            hashes,
            starts,
            postings,
        }
    }

    /// What every search reads of it.
    pub fn meta(&self) -> &Meta {
        &self.head.meta
    }

    /// Its head.
    pub fn head(&self) -> &Head {
        &self.head
    }

    /// Its objects, by number (decoded on first use).
    pub fn objects(&self) -> Result<&[Object]> {
        self.objects
            .get_or_init(|| {
                let json = self.objects_json().map_err(|e| e.to_string())?;
                let objects: Vec<Object> =
                    serde_json::from_slice(&json).map_err(|e| e.to_string())?;
                if objects.len() as u64 != self.head.meta.objects {
                    return Err("its object list is not as long as it says".into());
                }
                Ok(objects)
            })
            .as_deref()
            .map_err(|e| Error::Index(format!("a damaged segment file: its objects: {e}")))
    }

    /// Its object list's JSON, inflated.
    fn objects_json(&self) -> std::io::Result<Vec<u8>> {
        let mut json = Vec::new();
        std::io::Read::read_to_end(
            &mut flate2::read::GzDecoder::new(&self.objects_gz[..]),
            &mut json,
        )?;
        Ok(json)
    }

    /// The objects numbered `numbers`, decoding those alone (a search
    /// wants a few of a segment's objects, not all of them).
    pub fn objects_at(&self, numbers: &[u32]) -> Result<Vec<Object>> {
        let bad = |e: &dyn std::fmt::Display| {
            Error::Index(format!("a damaged segment file: its objects: {e}"))
        };
        if let Some(all) = self.objects.get() {
            let all = all.as_deref().map_err(|e| bad(e))?;
            return numbers
                .iter()
                .map(|n| {
                    all.get(*n as usize)
                        .cloned()
                        .ok_or_else(|| bad(&"no such object"))
                })
                .collect();
        }
        let json = self.objects_json().map_err(|e| bad(&e))?;
        let spans = match object_spans(&json) {
            Some(spans) => spans,
            None => {
                let raw: Vec<&serde_json::value::RawValue> =
                    serde_json::from_slice(&json).map_err(|e| bad(&e))?;
                raw.iter()
                    .map(|r| {
                        let start = r.get().as_ptr() as usize - json.as_ptr() as usize;
                        start..start + r.get().len()
                    })
                    .collect()
            }
        };
        if spans.len() as u64 != self.head.meta.objects {
            return Err(bad(&"its object list is not as long as it says"));
        }
        numbers
            .iter()
            .map(|n| {
                let span = spans
                    .get(*n as usize)
                    .ok_or_else(|| bad(&"no such object"))?;
                serde_json::from_slice(&json[span.clone()]).map_err(|e| bad(&e))
            })
            .collect()
    }

    /// The objects (by number) that hold the token with keyed hash `h`.
    pub fn postings(&self, h: u32) -> Vec<u32> {
        let Ok(i) = self.hashes.binary_search(&h) else {
            return Vec::new();
        };
        let mut bytes = &self.postings[self.starts[i] as usize..self.starts[i + 1] as usize];
        let mut out = Vec::new();
        let mut last = 0u32;
        while !bytes.is_empty() {
            let (delta, rest) = read_leb128(bytes);
            bytes = rest;
            last = if out.is_empty() { delta } else { last + delta };
            out.push(last);
        }
        out
    }

    /// The objects (by number) that hold every token of one of `any`.
    pub fn holding(&self, any: &[Vec<u32>]) -> Vec<u32> {
        let mut out: Vec<u32> = Vec::new();
        for all in any {
            if all.iter().any(|h| self.hashes.binary_search(h).is_err()) {
                continue;
            }
            let mut lists: Vec<Vec<u32>> = all.iter().map(|h| self.postings(*h)).collect();
            lists.sort_by_key(Vec::len);
            let Some((first, rest)) = lists.split_first() else {
                continue;
            };
            out.extend(
                first
                    .iter()
                    .filter(|o| rest.iter().all(|l| l.binary_search(o).is_ok())),
            );
        }
        out.sort_unstable();
        out.dedup();
        out
    }

    /// Tokens held.
    pub fn tokens(&self) -> usize {
        self.hashes.len()
    }

    /// The file's bytes.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(
            1024 + self.head.filter.words.len() * 8
                + self.objects_gz.len()
                + self.hashes.len() * 8
                + self.postings.len(),
        );
        self.head.encode(&mut out);
        out.extend_from_slice(&(self.objects_gz.len() as u32).to_le_bytes());
        out.extend_from_slice(&self.objects_gz);
        out.extend_from_slice(&(self.hashes.len() as u32).to_le_bytes());
        for h in &self.hashes {
            out.extend_from_slice(&h.to_le_bytes());
        }
        for s in &self.starts {
            out.extend_from_slice(&s.to_le_bytes());
        }
        out.extend_from_slice(&self.postings);
        let sum = Sha256::digest(&out);
        out.extend_from_slice(&sum);
        out
    }

    /// A segment from its file's bytes; an error when they are damaged
    /// (its object list is checked when first read).
    pub fn decode(bytes: &[u8]) -> Result<Self> {
        let (head, head_len) = Head::decode(bytes)?;
        if bytes.len() < head_len + 32 {
            return Err(damaged("cut short"));
        }
        let (body, sum) = bytes.split_at(bytes.len() - 32);
        if Sha256::digest(body)[..] != *sum {
            return Err(damaged("its checksum does not match"));
        }
        Self::body(head, &body[head_len..])
    }

    /// A segment from its file's bytes, known whole (they are those whose
    /// SHA-256 the manifest names) and whose head, `head_len` bytes long,
    /// is `head` (read before): neither checksum is computed again.
    pub fn decode_whole(bytes: &[u8], head: Head, head_len: usize) -> Result<Self> {
        if bytes.len() < head_len + 32 {
            return Err(damaged("cut short"));
        }
        Self::body(head, &bytes[head_len..bytes.len() - 32])
    }

    /// The segment of `head` and the body after it (without its checksum).
    fn body(head: Head, body: &[u8]) -> Result<Self> {
        let mut r = Reader(body);
        let objects_len = r.u32().ok_or_else(|| damaged("no object list"))? as usize;
        let objects_gz = r
            .take(objects_len)
            .ok_or_else(|| damaged("object list cut"))?
            .to_vec();
        let n = r.u32().ok_or_else(|| damaged("no token count"))? as usize;
        let hashes: Vec<u32> = r
            .take(n * 4)
            .ok_or_else(|| damaged("tokens cut"))?
            .chunks_exact(4)
            .map(|c| u32::from_le_bytes(c.try_into().expect("4 bytes")))
            .collect();
        let starts: Vec<u32> = r
            .take((n + 1) * 4)
            .ok_or_else(|| damaged("postings table cut"))?
            .chunks_exact(4)
            .map(|c| u32::from_le_bytes(c.try_into().expect("4 bytes")))
            .collect();
        let postings = r.0.to_vec();
        if starts.windows(2).any(|w| w[0] > w[1])
            || starts.last().is_some_and(|l| *l as usize != postings.len())
            || hashes.windows(2).any(|w| w[0] >= w[1])
        {
            return Err(damaged("its tables are out of order"));
        }
        Ok(Self {
            head,
            objects_gz,
            objects: std::sync::OnceLock::new(),
            hashes,
            starts,
            postings,
        })
    }
}

struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        if self.0.len() < n {
            return None;
        }
        let (a, b) = self.0.split_at(n);
        self.0 = b;
        Some(a)
    }

    fn u32(&mut self) -> Option<u32> {
        self.take(4)
            .map(|b| u32::from_le_bytes(b.try_into().expect("4 bytes")))
    }
}

fn leb128(out: &mut Vec<u8>, mut v: u32) {
    loop {
        let byte = (v & 0x7f) as u8;
        v >>= 7;
        if v == 0 {
            out.push(byte);
            return;
        }
        out.push(byte | 0x80);
    }
}

fn read_leb128(bytes: &[u8]) -> (u32, &[u8]) {
    let (mut v, mut shift) = (0u32, 0);
    for (i, b) in bytes.iter().enumerate() {
        v |= u32::from(b & 0x7f) << shift;
        if b & 0x80 == 0 || shift >= 28 {
            return (v, &bytes[i + 1..]);
        }
        shift += 7;
    }
    (v, &[])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(objects: usize) -> Header {
        Header {
            segment: "export/2026/12/05/10".into(),
            tokeniser: 1,
            key_check: "00".into(),
            objects: (0..objects)
                .map(|n| Object {
                    path: format!("2026/12/05/10/00/o{n}"),
                    size: 10,
                    version: Some("v".into()),
                    records: 1,
                    unvouched: None,
                })
                .collect(),
            folders: vec![String::new(), "00".into()],
            tally: Tally::default(),
        }
    }

    #[test]
    fn objects_are_found_in_the_list_as_a_parse_finds_them() {
        let mut h = header(5);
        h.objects[1].path = r#"2026/12/05/10/00/a},{"path":"b"#.into();
        h.objects[2].version = None;
        h.objects[3].unvouched = Some("too large to index".into());
        h.objects[4].path = "2026/12/05/10/00/\u{e9}},{".into();
        let seg = Segment::decode(&Segment::new(h.clone(), &vec![vec![1]; 5]).encode()).unwrap();
        let json = seg.objects_json().unwrap();
        assert_eq!(object_spans(&json).map(|s| s.len()), Some(5));
        let all: Vec<u32> = (0..5).rev().collect();
        let found = seg.objects_at(&all).unwrap();
        assert_eq!(found, h.objects.iter().rev().cloned().collect::<Vec<_>>());
        // A list of another form is parsed.
        assert_eq!(object_spans(b"[]"), Some(Vec::new()));
        assert_eq!(object_spans(br#"[{"size":1,"path":"a"}]"#), None);
    }

    #[test]
    fn segments_read_back_and_answer_conjunctions() {
        let tokens = vec![vec![1, 2, 300], vec![2], vec![300, 1, 1], vec![u32::MAX]];
        let seg = Segment::new(header(4), &tokens);
        let back = Segment::decode(&seg.encode()).unwrap();
        assert_eq!(back, seg);
        assert_eq!(back.objects().unwrap(), seg.objects().unwrap());
        assert_eq!(back.meta().objects, 4);
        assert_eq!(back.postings(1), [0, 2]);
        assert_eq!(back.postings(2), [0, 1]);
        assert_eq!(back.postings(7), Vec::<u32>::new());
        assert_eq!(back.holding(&[vec![1, 300]]), [0, 2]);
        assert_eq!(back.holding(&[vec![1, 2], vec![u32::MAX]]), [0, 3]);
        assert_eq!(back.holding(&[vec![2, 300, 9]]), Vec::<u32>::new());
        // A few objects decoded alone, from a segment read back whole with
        // the head already read.
        let bytes = seg.encode();
        let (head, len) = Head::decode(&bytes).unwrap();
        assert_eq!(Head::len_in(&bytes).unwrap(), len);
        let whole = Segment::decode_whole(&bytes, head, len).unwrap();
        assert_eq!(whole, seg);
        let all = seg.objects().unwrap();
        let some = whole.objects_at(&[1, 3]).unwrap();
        assert_eq!(some, [all[1].clone(), all[3].clone()]);
        assert_eq!(back.objects_at(&[0]).unwrap(), [all[0].clone()]);
        assert!(whole.objects_at(&[4]).is_err());
        let mut bytes = seg.encode();
        let mid = bytes.len() / 2;
        bytes[mid] ^= 1;
        assert!(Segment::decode(&bytes).is_err());
        assert!(Segment::decode(&bytes[..20]).is_err());
    }

    #[test]
    fn the_head_reads_alone_and_its_filter_never_says_not_here_wrongly() {
        // Spread hashes, as keyed HMACs are.
        let mut x = 0x2545_F491_4F6C_DD1Du64;
        let mut next = || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u32
        };
        let mut held: Vec<u32> = (0..20_000).map(|_| next()).collect();
        held.sort_unstable();
        held.dedup();
        let tokens: Vec<Vec<u32>> = held.chunks(100).map(<[u32]>::to_vec).collect();
        let seg = Segment::new(header(tokens.len()), &tokens);
        let bytes = seg.encode();
        let (head, len) = Head::decode(&bytes).unwrap();
        assert_eq!(&head, seg.head());
        // The head alone is enough, and is all a search reads first.
        assert_eq!(Head::decode(&bytes[..len]).unwrap().0, head);
        assert!(Head::decode(&bytes[..len - 1]).is_err());
        assert!(held.iter().all(|h| head.filter.may_hold(*h)));
        assert!(
            head.filter
                .may_hold_any(&[vec![next()], held[..3].to_vec()])
        );
        let absent: Vec<u32> = (0..100_000)
            .map(|_| next())
            .filter(|h| held.binary_search(h).is_err())
            .collect();
        let maybe = absent.iter().filter(|h| head.filter.may_hold(**h)).count();
        // 16 bits and 11 probes a token: about 0.05% say "maybe".
        assert!(maybe < absent.len() / 500, "{maybe} of {}", absent.len());
        assert!(maybe > 0);
        // A damaged head is refused on its own; a damaged body only when
        // the body is read.
        let mut bad = bytes.clone();
        bad[len / 2] ^= 1;
        assert!(Head::decode(&bad).is_err());
        let mut bad = bytes;
        bad[len + 10] ^= 1;
        assert!(Head::decode(&bad).is_ok());
        assert!(Segment::decode(&bad).is_err());
    }

    #[test]
    fn paths_fall_into_hours_crash_shards_and_folders() {
        assert_eq!(
            segment_of("2026/12/05/10/59/logs.v1.data"),
            "export/2026/12/05/10"
        );
        assert_eq!(
            segment_of("app-1/2026/12/05/10/59/crashes/e.json"),
            "export/app-1/2026/12/05/10"
        );
        assert_eq!(
            segment_of("apps/o/a/errors/AB12/download.json"),
            "archive/apps/o/a/errors/ab"
        );
        assert_eq!(
            segment_of("apps/o/a/groups/g/stacktrace.json"),
            "other/apps/o/a/groups/g"
        );
        assert_eq!(segment_of("README"), "other");
        for path in [
            "2026/12/05/10/59/logs.v1.data",
            "app-1/2026/12/05/10/59/crashes/e.json",
            "apps/o/a/errors/AB12/download.json",
            "apps/o/a/groups/g/stacktrace.json",
        ] {
            let prefix = segment_prefix(&segment_of(path)).unwrap();
            assert!(path.starts_with(&format!("{prefix}/")), "{path}: {prefix}");
        }
        assert_eq!(segment_prefix("other"), None);
        assert_eq!(
            segment_hour("export/app-1/2026/12/05/10").as_deref(),
            Some("2026120510")
        );
        // The hour ends at 11:00; sixty minutes later it is sealed.
        assert!(!sealed("2026120510", Some("202612051159")));
        assert!(sealed("2026120510", Some("202612051200")));
        assert!(sealed("2026120510", Some("202701010000")));
        assert!(!sealed("2026120510", None));
    }
}
