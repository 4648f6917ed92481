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
//! segment may hold what it looks for, and of which it reads, checks and
//! decodes only the directory and the blocks it uses:
//!
//! ```text
//! "CDSRSEG4"                     magic and format version
//! u32 LE, JSON                   meta: segment, tokeniser version, key
//!                                check, object count, the objects not
//!                                vouched for, what a scan counts of the
//!                                vouched ones
//! u32 LE w, w × u64 LE           a Bloom filter of its tokens' keyed hashes
//!                                (16 bits a token, 11 probes)
//! u32 LE d, 32 bytes             the directory's length and SHA-256
//! 32 bytes                       SHA-256 of the head (everything before)
//! directory (d bytes)            u32 LE t, t × (u32 LE first keyed hash,
//!                                u32 LE length, SHA-256): token blocks;
//!                                u32 LE b, b × (u32 LE length, SHA-256):
//!                                object blocks
//! t token blocks                 u32 LE n, n × u32 LE keyed hashes
//!                                (ascending, across blocks too), (n + 1) ×
//!                                u32 LE where each one's postings start,
//!                                postings (ascending object numbers, LEB128
//!                                deltas); about 4 KiB, a token's postings
//!                                never split
//! b object blocks                64 objects each (path, size, version,
//!                                records, why not vouched for), deflated
//!                                JSON
//! 32 bytes                       SHA-256 of everything before
//! ```

use std::collections::HashMap;
use std::collections::hash_map::Entry;

use crashdsr_search::{Tally, Vouched};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::error::{Error, Result};

const MAGIC: &[u8; 8] = b"CDSRSEG4";

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

/// A part's length and SHA-256.
type Sealed = (u32, [u8; 32]);

/// What every search reads of a segment: its meta, its filter, and the
/// length and SHA-256 of its body's directory (which holds every block's).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Head {
    /// The meta.
    pub meta: Meta,
    /// The filter of its tokens.
    pub filter: Filter,
    /// The body's directory.
    directory: Sealed,
}

impl Head {
    /// The head at the start of a segment file's bytes (the whole file or
    /// its first bytes) and the bytes it takes; an error when they are
    /// damaged.
    pub fn decode(bytes: &[u8]) -> Result<(Self, usize)> {
        let (meta, filter, directory, len) = Self::parts(bytes)?;
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
                directory,
            },
            len + 32,
        ))
    }

    /// The bytes of the body's directory, which follows the head.
    pub fn directory_len(&self) -> u64 {
        u64::from(self.directory.0)
    }

    /// The length of the head at the start of a segment file's bytes,
    /// checksum included, from its length fields alone.
    pub fn len_in(bytes: &[u8]) -> Result<usize> {
        Self::parts(bytes).map(|(.., len)| len + 32)
    }

    /// A head's meta and filter bytes, its body's directory, and where its
    /// checksum starts.
    fn parts(bytes: &[u8]) -> Result<(&[u8], &[u8], Sealed, usize)> {
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
        let dir_len = r.u32().ok_or_else(|| damaged("no directory"))?;
        let dir_sum = r.sum().ok_or_else(|| damaged("no directory"))?;
        let len = bytes.len() - r.0.len();
        if r.0.len() < 32 {
            return Err(damaged("head cut"));
        }
        Ok((meta, filter, (dir_len, dir_sum), len))
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
        out.extend_from_slice(&self.directory.0.to_le_bytes());
        out.extend_from_slice(&self.directory.1);
        let sum = Sha256::digest(&out[start..]);
        out.extend_from_slice(&sum);
    }
}

fn damaged(what: &str) -> Error {
    Error::Index(format!("a damaged segment file: {what}"))
}

/// Objects a block of the object list holds (the last one, the rest).
const OBJECTS_PER_BLOCK: usize = 64;
/// Bytes past which a token block is closed (after its last token's
/// postings, which are never split).
const TOKEN_BLOCK_BYTES: usize = 4096;

/// Where a body's blocks are, and their checksums.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
struct Directory {
    /// Token blocks: the first keyed hash each holds, its bytes, SHA-256.
    tokens: Vec<(u32, std::ops::Range<usize>, [u8; 32])>,
    /// Object blocks: bytes and SHA-256, in object order.
    objects: Vec<(std::ops::Range<usize>, [u8; 32])>,
}

impl Directory {
    fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(8 + 40 * (self.tokens.len() + self.objects.len()));
        out.extend_from_slice(&(self.tokens.len() as u32).to_le_bytes());
        for (first, range, sum) in &self.tokens {
            out.extend_from_slice(&first.to_le_bytes());
            out.extend_from_slice(&(range.len() as u32).to_le_bytes());
            out.extend_from_slice(sum);
        }
        out.extend_from_slice(&(self.objects.len() as u32).to_le_bytes());
        for (range, sum) in &self.objects {
            out.extend_from_slice(&(range.len() as u32).to_le_bytes());
            out.extend_from_slice(sum);
        }
        out
    }

    /// The directory of `bytes`, whose blocks take `blocks` bytes.
    fn decode(bytes: &[u8], blocks: usize) -> Result<Self> {
        let cut = || damaged("its directory is cut");
        let mut r = Reader(bytes);
        let mut at = 0usize;
        let mut next = |len: u32| {
            let range = at..at + len as usize;
            at = range.end;
            range
        };
        let mut dir = Self::default();
        for _ in 0..r.u32().ok_or_else(cut)? {
            let first = r.u32().ok_or_else(cut)?;
            let len = r.u32().ok_or_else(cut)?;
            let sum = r.sum().ok_or_else(cut)?;
            dir.tokens.push((first, next(len), sum));
        }
        for _ in 0..r.u32().ok_or_else(cut)? {
            let len = r.u32().ok_or_else(cut)?;
            let sum = r.sum().ok_or_else(cut)?;
            dir.objects.push((next(len), sum));
        }
        if !r.0.is_empty() || at != blocks || dir.tokens.windows(2).any(|w| w[0].0 >= w[1].0) {
            return Err(damaged("its directory does not fit its blocks"));
        }
        Ok(dir)
    }
}

/// A token block: tokens' keyed hashes, ascending, and their postings.
struct TokenBlock<'a> {
    hashes: Vec<u32>,
    starts: Vec<u32>,
    postings: &'a [u8],
}

impl<'a> TokenBlock<'a> {
    fn encode(pairs: &[(u32, u32)], out: &mut Vec<u8>) {
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
        out.extend_from_slice(&(hashes.len() as u32).to_le_bytes());
        for v in hashes.iter().chain(&starts) {
            out.extend_from_slice(&v.to_le_bytes());
        }
        out.extend_from_slice(&postings);
    }

    /// The block of `bytes`, whose first hash the directory says is
    /// `first`.
    fn decode(bytes: &'a [u8], first: u32) -> Result<Self> {
        let mut r = Reader(bytes);
        let n = r.u32().ok_or_else(|| damaged("a token block cut"))? as usize;
        let mut table = |n: usize| -> Result<Vec<u32>> {
            Ok(r.take(n.saturating_mul(4))
                .ok_or_else(|| damaged("a token block cut"))?
                .chunks_exact(4)
                .map(|c| u32::from_le_bytes(c.try_into().expect("4 bytes")))
                .collect())
        };
        let hashes = table(n)?;
        let starts = table(n + 1)?;
        let postings = r.0;
        if hashes.first() != Some(&first)
            || hashes.windows(2).any(|w| w[0] >= w[1])
            || starts.windows(2).any(|w| w[0] >= w[1])
            || starts.first() != Some(&0)
            || starts.last().is_some_and(|l| *l as usize != postings.len())
        {
            return Err(damaged("a token block is out of order"));
        }
        Ok(Self {
            hashes,
            starts,
            postings,
        })
    }

    /// The objects (by number) that hold the token with keyed hash `h`.
    fn postings(&self, h: u32) -> Vec<u32> {
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
}

/// A segment: its head, and its body: a directory, then token blocks
/// (tokens' keyed hashes and their postings) and object blocks, each with
/// its SHA-256 in the directory. A search reads the directory and then
/// only the blocks it uses, with ranged reads ([`Segment::open`]).
#[derive(Debug)]
pub struct Segment {
    /// Shared with the search that read it: a search opens many bodies of
    /// one head, pass after pass.
    head: std::sync::Arc<Head>,
    directory: Directory,
    blocks: Blocks,
    /// Whether every block was checked already (a segment built, or
    /// decoded whole), or is to be checked when used.
    checked: bool,
    objects: std::sync::OnceLock<std::result::Result<Vec<Object>, String>>,
    tokens: usize,
}

/// A segment's blocks: all of them, or those read so far.
#[derive(Debug)]
enum Blocks {
    /// Every block, one after another, as the directory places them.
    Whole(bytes::Bytes),
    /// The blocks read, by where they start among the blocks; the blocks
    /// start at byte `at` of the file.
    Read {
        at: u64,
        got: HashMap<usize, bytes::Bytes>,
    },
}

impl PartialEq for Segment {
    fn eq(&self, other: &Self) -> bool {
        self.encode() == other.encode()
    }
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
        let mut hashes: Vec<u32> = pairs.iter().map(|(h, _)| *h).collect();
        hashes.dedup();
        let mut blocks = Vec::new();
        let mut directory = Directory::default();
        let seal = |blocks: &[u8], start: usize| {
            let range = start..blocks.len();
            let sum: [u8; 32] = Sha256::digest(&blocks[range.clone()]).into();
            (range, sum)
        };
        // Token blocks: a token's postings are never split; a block closes
        // once it reaches TOKEN_BLOCK_BYTES.
        let mut rest = &pairs[..];
        while let Some(&(first, _)) = rest.first() {
            let (mut end, mut bytes) = (0, 0);
            while end < rest.len() && bytes < TOKEN_BLOCK_BYTES {
                let h = rest[end].0;
                bytes += 8;
                while end < rest.len() && rest[end].0 == h {
                    bytes += 2;
                    end += 1;
                }
            }
            let start = blocks.len();
            TokenBlock::encode(&rest[..end], &mut blocks);
            let (range, sum) = seal(&blocks, start);
            directory.tokens.push((first, range, sum));
            rest = &rest[end..];
        }
        for chunk in header.objects.chunks(OBJECTS_PER_BLOCK) {
            use std::io::Write as _;
            let start = blocks.len();
            let json = serde_json::to_vec(chunk).expect("objects serialise");
            let mut z = flate2::write::DeflateEncoder::new(blocks, flate2::Compression::new(6));
            z.write_all(&json).expect("writing to memory");
            blocks = z.finish().expect("writing to memory");
            let (range, sum) = seal(&blocks, start);
            directory.objects.push((range, sum));
        }
        let dir = directory.encode();
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
        Self {
            head: std::sync::Arc::new(Head {
                meta,
                filter: Filter::of(&hashes),
                directory: (dir.len() as u32, Sha256::digest(&dir).into()),
            }),
            directory,
            blocks: Blocks::Whole(blocks.into()),
            checked: true,
            objects: std::sync::OnceLock::from(Ok(header.objects)),
            tokens: hashes.len(),
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

    /// The bytes of a block, checked against its SHA-256 unless the whole
    /// body was.
    fn block(&self, range: &std::ops::Range<usize>, sum: &[u8; 32]) -> Result<&[u8]> {
        let bytes = match &self.blocks {
            Blocks::Whole(all) => &all[range.clone()],
            Blocks::Read { got, .. } => got
                .get(&range.start)
                .filter(|b| b.len() == range.len())
                .ok_or_else(|| {
                    Error::Index("a segment's block was used before it was read".into())
                })?,
        };
        if !self.checked && Sha256::digest(bytes)[..] != sum[..] {
            return Err(damaged("a block's checksum does not match"));
        }
        Ok(bytes)
    }

    /// The token block `i`, checked and decoded.
    fn token_block(&self, i: usize) -> Result<TokenBlock<'_>> {
        let (first, range, sum) = &self.directory.tokens[i];
        TokenBlock::decode(self.block(range, sum)?, *first)
    }

    /// The token block that holds keyed hash `h`, if one may.
    fn token_block_of(&self, h: u32) -> Option<usize> {
        self.directory
            .tokens
            .partition_point(|(first, ..)| *first <= h)
            .checked_sub(1)
    }

    /// The objects of object block `i`, checked and decoded.
    fn object_block(&self, i: usize) -> Result<Vec<Object>> {
        let (range, sum) = &self.directory.objects[i];
        let mut json = Vec::new();
        std::io::Read::read_to_end(
            &mut flate2::read::DeflateDecoder::new(self.block(range, sum)?),
            &mut json,
        )
        .map_err(|e| damaged(&format!("its objects: {e}")))?;
        let objects: Vec<Object> =
            serde_json::from_slice(&json).map_err(|e| damaged(&format!("its objects: {e}")))?;
        let total = self.head.meta.objects as usize;
        if objects.len() != OBJECTS_PER_BLOCK.min(total.saturating_sub(i * OBJECTS_PER_BLOCK)) {
            return Err(damaged("an object block is not as long as it should be"));
        }
        Ok(objects)
    }

    /// Its objects, by number (decoded on first use).
    pub fn objects(&self) -> Result<&[Object]> {
        self.objects
            .get_or_init(|| {
                let mut all = Vec::with_capacity(self.head.meta.objects as usize);
                for i in 0..self.directory.objects.len() {
                    all.extend(self.object_block(i).map_err(|e| match e {
                        Error::Index(why) => why,
                        e => e.to_string(),
                    })?);
                }
                Ok(all)
            })
            .as_deref()
            .map_err(|e| Error::Index(e.clone()))
    }

    /// The objects numbered `numbers`, decoding their blocks alone (a
    /// search wants a few of a segment's objects, not all of them).
    pub fn objects_at(&self, numbers: &[u32]) -> Result<Vec<Object>> {
        let missing = || damaged("its objects: no such object");
        if let Some(all) = self.objects.get() {
            let all = all.as_deref().map_err(|e| Error::Index(e.clone()))?;
            return numbers
                .iter()
                .map(|n| all.get(*n as usize).cloned().ok_or_else(missing))
                .collect();
        }
        let mut blocks: HashMap<usize, Vec<Object>> = HashMap::new();
        numbers
            .iter()
            .map(|n| {
                let (b, at) = (
                    *n as usize / OBJECTS_PER_BLOCK,
                    *n as usize % OBJECTS_PER_BLOCK,
                );
                if b >= self.directory.objects.len() {
                    return Err(missing());
                }
                let block = match blocks.entry(b) {
                    Entry::Occupied(e) => e.into_mut(),
                    Entry::Vacant(e) => e.insert(self.object_block(b)?),
                };
                block.get(at).cloned().ok_or_else(missing)
            })
            .collect()
    }

    /// The objects (by number) that hold the token with keyed hash `h`.
    pub fn postings(&self, h: u32) -> Result<Vec<u32>> {
        match self.token_block_of(h) {
            Some(i) => Ok(self.token_block(i)?.postings(h)),
            None => Ok(Vec::new()),
        }
    }

    /// The alternatives of `any` its filter does not rule out: those alone
    /// touch a token block.
    fn possible<'a>(&self, any: &'a [Vec<u32>]) -> impl Iterator<Item = &'a Vec<u32>> {
        let filter = &self.head.filter;
        any.iter()
            .filter(move |all| all.iter().all(|h| filter.may_hold(*h)))
    }

    /// The objects (by number) that hold every token of one of `any`;
    /// each token block it needs checked and decoded once.
    pub fn holding(&self, any: &[Vec<u32>]) -> Result<Vec<u32>> {
        let mut blocks: HashMap<usize, TokenBlock<'_>> = HashMap::new();
        let mut out: Vec<u32> = Vec::new();
        'alternatives: for all in self.possible(any) {
            let mut lists: Vec<Vec<u32>> = Vec::with_capacity(all.len());
            for h in all {
                let Some(i) = self.token_block_of(*h) else {
                    continue 'alternatives;
                };
                let block = match blocks.entry(i) {
                    Entry::Occupied(e) => e.into_mut(),
                    Entry::Vacant(e) => e.insert(self.token_block(i)?),
                };
                let list = block.postings(*h);
                if list.is_empty() {
                    continue 'alternatives;
                }
                lists.push(list);
            }
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
        Ok(out)
    }

    /// Tokens held (of a segment built or read whole; 0 for one opened
    /// for some of its blocks).
    pub fn tokens(&self) -> usize {
        self.tokens
    }

    /// The file's bytes (of a segment built or read whole: a segment
    /// opened for some of its blocks has no others to write).
    pub fn encode(&self) -> Vec<u8> {
        let Blocks::Whole(blocks) = &self.blocks else {
            panic!("a segment opened for some of its blocks is never written")
        };
        let dir = self.directory.encode();
        let mut out =
            Vec::with_capacity(1024 + self.head.filter.words.len() * 8 + dir.len() + blocks.len());
        self.head.encode(&mut out);
        out.extend_from_slice(&dir);
        out.extend_from_slice(blocks);
        let sum = Sha256::digest(&out);
        out.extend_from_slice(&sum);
        out
    }

    /// A segment from its file's bytes, every part checked; an error when
    /// they are damaged.
    pub fn decode(bytes: &[u8]) -> Result<Self> {
        let (head, head_len) = Head::decode(bytes)?;
        if bytes.len() < head_len + 32 {
            return Err(damaged("cut short"));
        }
        let (body, sum) = bytes.split_at(bytes.len() - 32);
        if Sha256::digest(body)[..] != *sum {
            return Err(damaged("its checksum does not match"));
        }
        // Every block checked and decoded, once.
        let body = bytes::Bytes::copy_from_slice(&body[head_len..]);
        let mut seg = Self::body(std::sync::Arc::new(head), body)?;
        for i in 0..seg.directory.tokens.len() {
            seg.token_block(i)?;
        }
        seg.objects()?;
        seg.checked = true;
        Ok(seg)
    }

    /// A segment of which the head, `head_len` bytes long, was read and
    /// checked, and `directory`, the bytes after it
    /// ([`Head::directory_len`] of them), now: the directory is checked
    /// against the head; blocks are read with the ranges of
    /// [`Segment::token_ranges`] and [`Segment::object_ranges`], given to
    /// [`Segment::add`], and checked when used. `file_bytes`: the file's
    /// size.
    pub fn open(
        head: std::sync::Arc<Head>,
        head_len: u64,
        directory: &[u8],
        file_bytes: u64,
    ) -> Result<Self> {
        let at = head_len + directory.len() as u64;
        let blocks = file_bytes
            .checked_sub(at + 32)
            .ok_or_else(|| damaged("cut short"))?;
        let directory = Self::directory(&head, directory, blocks as usize)?;
        Ok(Self {
            head,
            directory,
            blocks: Blocks::Read {
                at,
                got: HashMap::new(),
            },
            checked: false,
            objects: std::sync::OnceLock::new(),
            tokens: 0,
        })
    }

    /// The file's byte ranges of the blocks among `blocks` not read yet.
    fn ranges<'a>(
        &self,
        blocks: impl Iterator<Item = &'a std::ops::Range<usize>>,
    ) -> Vec<std::ops::Range<u64>> {
        let Blocks::Read { at, got } = &self.blocks else {
            return Vec::new();
        };
        let mut out: Vec<std::ops::Range<u64>> = blocks
            .filter(|r| !got.contains_key(&r.start))
            .map(|r| at + r.start as u64..at + r.end as u64)
            .collect();
        out.sort_by_key(|r| r.start);
        out.dedup();
        out
    }

    /// The file's byte ranges of the token blocks [`Segment::holding`]
    /// needs for `any` that are not read yet.
    pub fn token_ranges(&self, any: &[Vec<u32>]) -> Vec<std::ops::Range<u64>> {
        let needed = self
            .possible(any)
            .flatten()
            .filter_map(|h| self.token_block_of(*h))
            .map(|i| &self.directory.tokens[i].1);
        self.ranges(needed)
    }

    /// The file's byte ranges of the object blocks that hold the objects
    /// numbered `numbers` and are not read yet.
    pub fn object_ranges(&self, numbers: &[u32]) -> Vec<std::ops::Range<u64>> {
        let needed = numbers
            .iter()
            .filter_map(|n| self.directory.objects.get(*n as usize / OBJECTS_PER_BLOCK))
            .map(|(r, _)| r);
        self.ranges(needed)
    }

    /// Blocks read: the file's bytes at `ranges` (as given by
    /// [`Segment::token_ranges`] or [`Segment::object_ranges`]).
    pub fn add(&mut self, ranges: &[std::ops::Range<u64>], bytes: Vec<bytes::Bytes>) {
        if let Blocks::Read { at, got } = &mut self.blocks {
            for (r, b) in ranges.iter().zip(bytes) {
                got.insert((r.start - *at) as usize, b);
            }
        }
    }

    /// A body's directory, checked against its head's SHA-256 of it, whose
    /// blocks take `blocks` bytes.
    fn directory(head: &Head, bytes: &[u8], blocks: usize) -> Result<Directory> {
        let (dir_len, dir_sum) = head.directory;
        if bytes.len() != dir_len as usize {
            return Err(damaged("its directory is cut"));
        }
        if Sha256::digest(bytes)[..] != dir_sum[..] {
            return Err(damaged("its directory's checksum does not match"));
        }
        let directory = Directory::decode(bytes, blocks)?;
        if directory.objects.len() != (head.meta.objects as usize).div_ceil(OBJECTS_PER_BLOCK) {
            return Err(damaged("its object blocks do not hold its objects"));
        }
        Ok(directory)
    }

    /// The segment of `head` and the body after it (without its checksum),
    /// its directory checked; its blocks are not.
    fn body(head: std::sync::Arc<Head>, body: bytes::Bytes) -> Result<Self> {
        let dir_len = head.directory.0 as usize;
        if body.len() < dir_len {
            return Err(damaged("its directory is cut"));
        }
        let directory = Self::directory(&head, &body[..dir_len], body.len() - dir_len)?;
        let blocks = body.slice(dir_len..);
        let tokens = directory
            .tokens
            .iter()
            .map(|(_, range, _)| {
                blocks.get(range.start..range.start + 4).map_or(0, |b| {
                    u32::from_le_bytes(b.try_into().expect("4 bytes")) as usize
                })
            })
            .sum();
        Ok(Self {
            head,
            directory,
            blocks: Blocks::Whole(blocks),
            checked: false,
            objects: std::sync::OnceLock::new(),
            tokens,
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

    fn sum(&mut self) -> Option<[u8; 32]> {
        self.take(32).map(|b| b.try_into().expect("32 bytes"))
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

    /// A segment opened as a search opens it, from its file's `bytes`.
    fn opened(bytes: &[u8]) -> Result<Segment> {
        let (head, len) = Head::decode(bytes).unwrap();
        let directory = &bytes[len..len + head.directory_len() as usize];
        let file_bytes = bytes.len() as u64;
        Segment::open(std::sync::Arc::new(head), len as u64, directory, file_bytes)
    }

    /// The blocks at `ranges` of the file's `bytes`, read into `seg`.
    fn read(seg: &mut Segment, bytes: &[u8], ranges: Vec<std::ops::Range<u64>>) {
        let got = ranges
            .iter()
            .map(|r| bytes::Bytes::copy_from_slice(&bytes[r.start as usize..r.end as usize]))
            .collect();
        seg.add(&ranges, got);
    }

    #[test]
    fn a_search_checks_and_decodes_only_the_blocks_it_uses() {
        let mut h = header(200);
        h.objects[1].version = None;
        h.objects[3].unvouched = Some("too large to index".into());
        h.objects[130].path = "2026/12/05/10/00/\u{e9}},{\"path\":\"x".into();
        // Token t is held by every object whose number it divides: long
        // postings for the small ones, many blocks of tokens.
        let tokens: Vec<Vec<u32>> = (0..200u32)
            .map(|o| (1..3000u32).filter(|t| o % t == 0).map(|t| t * 7).collect())
            .collect();
        let seg = Segment::new(h.clone(), &tokens);
        assert!(
            seg.directory.tokens.len() > 3,
            "{:?}",
            seg.directory.tokens.len()
        );
        assert_eq!(seg.directory.objects.len(), 4);
        let bytes = seg.encode();
        assert_eq!(Segment::decode(&bytes).unwrap().tokens(), 2999);
        // Opened as a search opens it: nothing but the head and directory
        // read, then the blocks asked for.
        let mut whole = opened(&bytes).unwrap();
        assert!(whole.postings(7).is_err(), "a block not read is not used");
        let pair = [vec![14, 693]];
        let ranges = whole.token_ranges(&pair);
        assert!(!ranges.is_empty() && ranges.len() <= 2, "{ranges:?}");
        let read_first = ranges.len();
        read(&mut whole, &bytes, ranges);
        assert_eq!(whole.holding(&pair).unwrap(), [0, 198]);
        assert_eq!(whole.object_ranges(&[0, 198]).len(), 2);
        let every: Vec<Vec<u32>> = (1..3000u32).map(|t| vec![t * 7]).collect();
        let ranges = whole.token_ranges(&every);
        // Those not read yet, once each.
        assert_eq!(ranges.len(), seg.directory.tokens.len() - read_first);
        read(&mut whole, &bytes, ranges);
        assert!(whole.token_ranges(&every).is_empty());
        let some = [199, 0, 64, 63, 130, 3];
        let want: Vec<Object> = some
            .iter()
            .map(|n| h.objects[*n as usize].clone())
            .collect();
        let ranges = whole.object_ranges(&some);
        assert_eq!(ranges.len(), 4);
        read(&mut whole, &bytes, ranges);
        assert_eq!(whole.objects_at(&some).unwrap(), want);
        for t in 1..3000u32 {
            let holders: Vec<u32> = (0..200).filter(|o| o % t == 0).collect();
            assert_eq!(whole.postings(t * 7).unwrap(), holders, "token {t}");
            assert_eq!(whole.postings(t * 7 + 1).unwrap(), Vec::<u32>::new());
        }
        assert_eq!(whole.holding(&[vec![0]]).unwrap(), Vec::<u32>::new());
        // Where each block's bytes are in the file.
        let (head, len) = Head::decode(&bytes).unwrap();
        let blocks = len + head.directory_len() as usize;
        let at = |r: &std::ops::Range<usize>| blocks + r.start + r.len() / 2;
        // A damaged object block: refused when used, not before.
        let mut bad = bytes.clone();
        bad[at(&seg.directory.objects[3].0)] ^= 1;
        let mut seg_bad = opened(&bad).unwrap();
        let all: Vec<u32> = (0..200).collect();
        let ranges = seg_bad.object_ranges(&all);
        read(&mut seg_bad, &bad, ranges);
        assert_eq!(seg_bad.objects_at(&[0, 64]).unwrap(), want[1..3]);
        assert!(seg_bad.objects_at(&[199]).is_err());
        let why = seg_bad.objects().unwrap_err().to_string();
        assert_eq!(
            why,
            "index: a damaged segment file: a block's checksum does not match"
        );
        assert!(Segment::decode(&bad).is_err());
        // A damaged token block: only the tokens it holds are refused.
        let (first, range, _) = seg.directory.tokens[2].clone();
        let next = seg.directory.tokens[3].0;
        let mut bad = bytes.clone();
        bad[at(&range)] ^= 1;
        let mut seg_bad = opened(&bad).unwrap();
        let ranges = seg_bad.token_ranges(&every);
        read(&mut seg_bad, &bad, ranges);
        assert!(seg_bad.postings(first).is_err());
        assert!(seg_bad.holding(&[vec![7], vec![first]]).is_err());
        assert_eq!(
            seg_bad.postings(next).unwrap(),
            whole.postings(next).unwrap()
        );
        assert!(Segment::decode(&bad).is_err());
        // A damaged directory, a file cut short: refused when opened.
        let mut bad = bytes.clone();
        bad[len + 5] ^= 1;
        assert!(opened(&bad).is_err());
        assert!(opened(&bytes[..bytes.len() - 40]).is_err());
        assert_eq!(Segment::decode(&bytes).unwrap(), seg);
    }

    #[test]
    fn segments_read_back_and_answer_conjunctions() {
        let tokens = vec![vec![1, 2, 300], vec![2], vec![300, 1, 1], vec![u32::MAX]];
        let seg = Segment::new(header(4), &tokens);
        let back = Segment::decode(&seg.encode()).unwrap();
        assert_eq!(back, seg);
        assert_eq!(back.objects().unwrap(), seg.objects().unwrap());
        assert_eq!(back.meta().objects, 4);
        assert_eq!(back.postings(1).unwrap(), [0, 2]);
        assert_eq!(back.postings(2).unwrap(), [0, 1]);
        assert_eq!(back.postings(7).unwrap(), Vec::<u32>::new());
        assert_eq!(back.holding(&[vec![1, 300]]).unwrap(), [0, 2]);
        assert_eq!(back.holding(&[vec![1, 2], vec![u32::MAX]]).unwrap(), [0, 3]);
        assert_eq!(back.holding(&[vec![2, 300, 9]]).unwrap(), Vec::<u32>::new());
        // A few objects decoded alone, from a segment read back whole with
        // the head already read.
        let bytes = seg.encode();
        let (_, len) = Head::decode(&bytes).unwrap();
        assert_eq!(Head::len_in(&bytes).unwrap(), len);
        let mut whole = opened(&bytes).unwrap();
        let ranges = whole.object_ranges(&[1, 3, 4]);
        read(&mut whole, &bytes, ranges);
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
