//! What an object decodes to: the containers and encodings people put into
//! crash attachments, opened with a cap on size and nesting.
//!
//! An object is scanned as it is stored, and then each view it decodes to:
//! gzip (also several members), zip (the usual log bundle), tar and tar.gz,
//! zstd, xz, bzip2 and zlib streams (apps compress their own logs), all
//! recognised by their magic bytes, never by name, and base64 text, nested up to [`Limits::max_depth`] containers deep. All
//! views of one object together may hold at most [`Limits::max_expand`]
//! bytes: a decompression bomb stops there, and the object is reported as
//! not read to the end. Text encodings need no view: the matcher carries
//! UTF-16 (both byte orders) and Windows-1252 forms of each identifier.

use std::io::Read;

use base64::Engine as _;

/// Caps on decoding one object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Bytes all views of one object may hold together.
    pub max_expand: u64,
    /// Containers inside containers.
    pub max_depth: u32,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_expand: 256 << 20,
            max_depth: 4,
        }
    }
}

/// One decoded view of an object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct View {
    /// How it was reached: `gzip`, `zip: logs/app.log`, `base64, gzip`.
    pub label: String,
    /// The bytes.
    pub bytes: Vec<u8>,
}

/// Everything an object decodes to.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Decoded {
    /// The views, outermost first.
    pub views: Vec<View>,
    /// Set when a cap stopped the decoding: what was left unread.
    pub unread: Option<String>,
}

/// Decodes `bytes` (the object as stored) into its views.
pub fn expand(bytes: &[u8], limits: &Limits) -> Decoded {
    let mut out = Decoded::default();
    let mut budget = limits.max_expand;
    open(bytes, "", 0, limits, &mut budget, &mut out);
    out
}

/// The container an object is, by its magic bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Container {
    /// gzip (one or more members).
    Gzip,
    /// A zip archive.
    Zip,
    /// A tar archive.
    Tar,
    /// zstd frames.
    Zstd,
    /// An xz stream.
    Xz,
    /// A bzip2 stream.
    Bzip2,
    /// A zlib stream.
    Zlib,
    /// base64 text.
    Base64,
}

impl Container {
    /// Its name, as views are labelled.
    pub fn name(self) -> &'static str {
        match self {
            Self::Gzip => "gzip",
            Self::Zip => "zip",
            Self::Tar => "tar",
            Self::Zstd => "zstd",
            Self::Xz => "xz",
            Self::Bzip2 => "bzip2",
            Self::Zlib => "zlib",
            Self::Base64 => "base64",
        }
    }
}

/// Which container `bytes` is, tested in the order [`expand`] tests them.
pub fn container(bytes: &[u8]) -> Option<Container> {
    type Test = fn(&[u8]) -> bool;
    let tests: [(Test, Container); 8] = [
        (is_gzip, Container::Gzip),
        (is_zip, Container::Zip),
        (is_tar, Container::Tar),
        (is_zstd, Container::Zstd),
        (is_xz, Container::Xz),
        (is_bzip2, Container::Bzip2),
        (is_zlib, Container::Zlib),
        (|b| unbase64(b).is_some(), Container::Base64),
    ];
    tests.iter().find(|(test, _)| test(bytes)).map(|(_, c)| *c)
}

fn label(parent: &str, this: &str) -> String {
    if parent.is_empty() {
        this.to_owned()
    } else {
        format!("{parent}, {this}")
    }
}

/// Opens the container `bytes` is, if any, adding a view per member and
/// recursing into each.
fn open(
    bytes: &[u8],
    parent: &str,
    depth: u32,
    limits: &Limits,
    budget: &mut u64,
    out: &mut Decoded,
) {
    if out.unread.is_some() {
        return;
    }
    let members: Vec<(String, Result<Vec<u8>, Fail>)> = if is_gzip(bytes) {
        vec![(
            label(parent, "gzip"),
            read_capped(flate2::read::MultiGzDecoder::new(bytes), budget),
        )]
    } else if is_zip(bytes) {
        zip_members(bytes, parent, budget)
    } else if is_tar(bytes) {
        tar_members(bytes, parent, budget)
    } else if is_zstd(bytes) {
        vec![(label(parent, "zstd"), unzstd(bytes, budget))]
    } else if is_xz(bytes) {
        vec![(label(parent, "xz"), unxz(bytes, budget))]
    } else if is_bzip2(bytes) {
        vec![(
            label(parent, "bzip2"),
            read_capped(bzip2::read::MultiBzDecoder::new(bytes), budget),
        )]
    } else if is_zlib(bytes) {
        vec![(
            label(parent, "zlib"),
            read_capped(flate2::read::ZlibDecoder::new(bytes), budget),
        )]
    } else if let Some(d) = unbase64(bytes) {
        if d.len() as u64 > *budget {
            vec![(label(parent, "base64"), Err(Fail::Overflow))]
        } else {
            *budget -= d.len() as u64;
            vec![(label(parent, "base64"), Ok(d))]
        }
    } else {
        return;
    };
    if depth >= limits.max_depth {
        out.unread = Some(format!(
            "nested deeper than {} containers; the inner ones were not opened",
            limits.max_depth
        ));
        return;
    }
    for (name, member) in members {
        match member {
            Ok(data) => {
                open(&data, &name, depth + 1, limits, budget, out);
                out.views.push(View {
                    label: name,
                    bytes: data,
                });
            }
            Err(Fail::Overflow) => {
                out.unread = Some(format!(
                    "expands past {} bytes; {name} was not read to the end",
                    limits.max_expand
                ));
                return;
            }
            // A damaged member: what was read of it is gone, the rest goes on.
            Err(Fail::Damaged(e)) => {
                out.unread.get_or_insert(format!("{name}: {e}"));
            }
        }
    }
}

/// Why a member could not be read.
#[derive(Debug)]
enum Fail {
    /// It would take the object past the expansion cap.
    Overflow,
    /// It is not what its magic bytes say.
    Damaged(String),
}

/// Reads `r` to its end within `budget`, taking what it used.
fn read_capped(r: impl Read, budget: &mut u64) -> Result<Vec<u8>, Fail> {
    let mut data = Vec::new();
    r.take(*budget + 1)
        .read_to_end(&mut data)
        .map_err(|e| Fail::Damaged(format!("damaged: {e}")))?;
    if data.len() as u64 > *budget {
        *budget = 0;
        return Err(Fail::Overflow);
    }
    *budget -= data.len() as u64;
    Ok(data)
}

fn is_gzip(b: &[u8]) -> bool {
    b.len() >= 18 && b[0] == 0x1f && b[1] == 0x8b
}

/// A zstd frame.
fn is_zstd(b: &[u8]) -> bool {
    b.starts_with(&[0x28, 0xB5, 0x2F, 0xFD])
}

/// An xz stream.
fn is_xz(b: &[u8]) -> bool {
    b.starts_with(&[0xFD, b'7', b'z', b'X', b'Z', 0x00])
}

/// A bzip2 stream: `BZh`, the block size, and the first block's magic (π).
fn is_bzip2(b: &[u8]) -> bool {
    b.len() >= 10
        && b.starts_with(b"BZh")
        && (b'1'..=b'9').contains(&b[3])
        && (b[4..10] == [0x31, 0x41, 0x59, 0x26, 0x53, 0x59]
            || b[4..10] == [0x17, 0x72, 0x45, 0x38, 0x50, 0x90])
}

/// A zlib stream as zlib, .NET's `ZLibStream`, Java's `Deflater` and
/// Python write it: a 32 KiB window, no preset dictionary, one of the four
/// levels' flag bytes, and a start that inflates (text that happens to
/// start with `x^` does not).
fn is_zlib(b: &[u8]) -> bool {
    if b.len() < 8 || b[0] != 0x78 || ![0x01, 0x5E, 0x9C, 0xDA].contains(&b[1]) {
        return false;
    }
    // Its first 256 bytes (or all of it) inflate: arbitrary text fails
    // within a few bytes.
    let mut probe = flate2::read::ZlibDecoder::new(b).take(256);
    std::io::copy(&mut probe, &mut std::io::sink()).is_ok_and(|n| n > 0)
}

/// Decodes zstd frames (one after another, as `zstd` writes a stream it
/// was fed in parts) within `budget`.
fn unzstd(mut bytes: &[u8], budget: &mut u64) -> Result<Vec<u8>, Fail> {
    let mut out = Vec::new();
    while !bytes.is_empty() {
        let frame = ruzstd::decoding::StreamingDecoder::new(&mut bytes)
            .map_err(|e| Fail::Damaged(format!("damaged: {e}")))?;
        out.extend(read_capped(frame, budget)?);
    }
    Ok(out)
}

/// Decodes an xz stream within `budget`.
fn unxz(bytes: &[u8], budget: &mut u64) -> Result<Vec<u8>, Fail> {
    /// Keeps what is written up to a cap, and refuses past it.
    struct Capped {
        data: Vec<u8>,
        cap: u64,
        over: bool,
    }
    impl std::io::Write for Capped {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            if (self.data.len() + b.len()) as u64 > self.cap {
                self.over = true;
                return Err(std::io::Error::other("past the expansion cap"));
            }
            self.data.extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut out = Capped {
        data: Vec::new(),
        cap: *budget,
        over: false,
    };
    let done = lzma_rs::xz_decompress(&mut std::io::BufReader::new(bytes), &mut out);
    if out.over {
        *budget = 0;
        return Err(Fail::Overflow);
    }
    done.map_err(|e| Fail::Damaged(format!("damaged: {e:?}")))?;
    *budget -= out.data.len() as u64;
    Ok(out.data)
}

fn is_zip(b: &[u8]) -> bool {
    b.starts_with(b"PK\x03\x04") || b.starts_with(b"PK\x05\x06")
}

fn is_tar(b: &[u8]) -> bool {
    b.len() >= 512 && &b[257..262] == b"ustar"
}

fn zip_members(
    bytes: &[u8],
    parent: &str,
    budget: &mut u64,
) -> Vec<(String, Result<Vec<u8>, Fail>)> {
    let mut out = Vec::new();
    let mut archive = match zip::ZipArchive::new(std::io::Cursor::new(bytes)) {
        Ok(a) => a,
        Err(e) => {
            return vec![(
                label(parent, "zip"),
                Err(Fail::Damaged(format!("damaged: {e}"))),
            )];
        }
    };
    for i in 0..archive.len() {
        let (name, member) = match archive.by_index(i) {
            Ok(f) if f.is_dir() => continue,
            Ok(f) => {
                let name = f
                    .name()
                    .map_or_else(|_| format!("member {i}"), |n| n.into_owned());
                let name = label(parent, &format!("zip: {name}"));
                (name, read_capped(f, budget))
            }
            Err(e) => (
                label(parent, &format!("zip: member {i}")),
                Err(Fail::Damaged(format!("damaged: {e}"))),
            ),
        };
        let over = matches!(member, Err(Fail::Overflow));
        out.push((name, member));
        if over {
            break;
        }
    }
    out
}

fn tar_members(
    bytes: &[u8],
    parent: &str,
    budget: &mut u64,
) -> Vec<(String, Result<Vec<u8>, Fail>)> {
    let mut out = Vec::new();
    let mut archive = tar::Archive::new(bytes);
    let entries = match archive.entries() {
        Ok(e) => e,
        Err(e) => {
            return vec![(
                label(parent, "tar"),
                Err(Fail::Damaged(format!("damaged: {e}"))),
            )];
        }
    };
    for (i, entry) in entries.enumerate() {
        let (name, member) = match entry {
            Ok(e) if !e.header().entry_type().is_file() => continue,
            Ok(e) => {
                let name = e
                    .path()
                    .map(|p| p.to_string_lossy().into_owned())
                    .unwrap_or_else(|_| format!("member {i}"));
                (
                    label(parent, &format!("tar: {name}")),
                    read_capped(e, budget),
                )
            }
            Err(e) => {
                out.push((
                    label(parent, &format!("tar: member {i}")),
                    Err(Fail::Damaged(format!("damaged: {e}"))),
                ));
                break;
            }
        };
        let over = matches!(member, Err(Fail::Overflow));
        out.push((name, member));
        if over {
            break;
        }
    }
    out
}

/// Base64 text (at least 16 characters, whitespace allowed) decoded.
fn unbase64(bytes: &[u8]) -> Option<Vec<u8>> {
    let b64 = |b: &u8| b.is_ascii_alphanumeric() || b"+/=".contains(b) || b.is_ascii_whitespace();
    // Most objects fail on their first bytes; check all before copying.
    if bytes.len() < 16 || !bytes[..64.min(bytes.len())].iter().all(b64) || !bytes.iter().all(b64) {
        return None;
    }
    let text: Vec<u8> = bytes
        .iter()
        .copied()
        .filter(|b| !b.is_ascii_whitespace())
        .collect();
    if text.len() < 16 || !text.len().is_multiple_of(4) {
        return None;
    }
    base64::engine::general_purpose::STANDARD.decode(&text).ok()
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    fn gzip(data: &[u8]) -> Vec<u8> {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        e.write_all(data).unwrap();
        e.finish().unwrap()
    }

    fn zip_of(files: &[(&str, &[u8])]) -> Vec<u8> {
        let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
        for (name, data) in files {
            w.start_file(*name, zip::write::SimpleFileOptions::default())
                .unwrap();
            w.write_all(data).unwrap();
        }
        w.finish().unwrap().into_inner()
    }

    fn tar_of(files: &[(&str, &[u8])]) -> Vec<u8> {
        let mut b = tar::Builder::new(Vec::new());
        for (name, data) in files {
            let mut h = tar::Header::new_gnu();
            h.set_size(data.len() as u64);
            h.set_mode(0o644);
            h.set_cksum();
            b.append_data(&mut h, name, *data).unwrap();
        }
        b.into_inner().unwrap()
    }

    fn zlib(data: &[u8], level: u32) -> Vec<u8> {
        let mut e = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::new(level));
        e.write_all(data).unwrap();
        e.finish().unwrap()
    }

    fn zstd(data: &[u8]) -> Vec<u8> {
        ruzstd::encoding::compress_to_vec(data, ruzstd::encoding::CompressionLevel::Fastest)
    }

    fn xz(data: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        lzma_rs::xz_compress(&mut std::io::BufReader::new(data), &mut out).unwrap();
        out
    }

    fn bzip2(data: &[u8]) -> Vec<u8> {
        let mut e = bzip2::write::BzEncoder::new(Vec::new(), bzip2::Compression::fast());
        e.write_all(data).unwrap();
        e.finish().unwrap()
    }

    #[test]
    fn zlib_zstd_xz_and_bzip2_are_known_by_their_magic_bytes() {
        let log: &[u8] = b"user jane@example.com signed in";
        let packed: [(&str, Vec<u8>); 6] = [
            ("zlib", zlib(log, 6)),
            ("zlib", zlib(log, 1)),
            ("zlib", zlib(log, 9)),
            ("zstd", zstd(log)),
            ("xz", xz(log)),
            ("bzip2", bzip2(log)),
        ];
        let fixture = |name: &str| {
            std::fs::read(format!("{}/tests/data/{name}", env!("CARGO_MANIFEST_DIR"))).unwrap()
        };
        let packed = [
            packed,
            [
                ("xz", fixture("log.xz")),
                ("zstd", fixture("log.zst")),
                ("zlib", zlib(log, 0)),
                ("bzip2", bzip2(b"")),
                ("bzip2", [bzip2(&log[..5]), bzip2(&log[5..])].concat()),
                ("zstd", [zstd(&log[..5]), zstd(&log[5..])].concat()),
            ],
        ]
        .concat();
        for (kind, bytes) in &packed {
            if bytes == &bzip2(b"") {
                // An empty stream: an empty view.
                assert_eq!(expand(bytes, &Limits::default()).views[0].bytes, b"");
                continue;
            }
            let d = expand(bytes, &Limits::default());
            assert_eq!(d.unread, None, "{kind}");
            assert_eq!(labels(&d), [*kind], "{kind}");
            assert_eq!(d.views[0].bytes, log, "{kind}");
            // Under any name, inside a zip, and nested.
            let bundle = zip_of(&[("app.log.bin", bytes)]);
            let d = expand(&bundle, &Limits::default());
            assert_eq!(d.views[0].bytes, log, "{kind} in a zip");
            assert_eq!(d.views[0].label, format!("zip: app.log.bin, {kind}"));
        }
        let nested = xz(&zstd(&bzip2(&zlib(log, 6))));
        let d = expand(&nested, &Limits::default());
        assert_eq!(
            labels(&d),
            ["xz, zstd, bzip2, zlib", "xz, zstd, bzip2", "xz, zstd", "xz"]
        );
        assert_eq!(d.views[0].bytes, log);
        // Text that starts with what a zlib header may be is text.
        for text in [
            &b"x^2 + y^2 = jane@example.com"[..],
            b"x\x9c not compressed",
        ] {
            let d = expand(text, &Limits::default());
            assert!(d.views.is_empty() && d.unread.is_none(), "{d:?}");
        }
    }

    #[test]
    fn the_new_containers_stop_at_the_caps_and_say_so() {
        let zeros = vec![0u8; 4 << 20];
        let limits = Limits {
            max_expand: 1 << 20,
            max_depth: 4,
        };
        let fixture = |name: &str| {
            std::fs::read(format!("{}/tests/data/{name}", env!("CARGO_MANIFEST_DIR"))).unwrap()
        };
        for (kind, bytes) in [
            ("zlib", zlib(&zeros, 9)),
            ("zstd", zstd(&zeros)),
            ("zstd", fixture("zeros-4mib.zst")),
            ("xz", fixture("zeros-4mib.xz")),
            ("bzip2", bzip2(&zeros)),
        ] {
            assert!(bytes.len() < 1 << 20, "{kind}: {}", bytes.len());
            let d = expand(&bytes, &limits);
            let why = d.unread.as_deref().unwrap_or_default();
            assert!(why.contains("expands past 1048576 bytes"), "{kind}: {why}");
            // Cut short: damaged, reported, nothing invented.
            let cut = &bytes[..bytes.len() / 2];
            let d = expand(cut, &Limits::default());
            assert!(d.unread.is_some(), "{kind} cut short");
            assert!(
                d.views.iter().all(|v| v.bytes.iter().all(|b| *b == 0)),
                "{kind}"
            );
        }
        // Nesting counts the new ones too.
        let mut deep = b"jane@example.com".to_vec();
        for _ in 0..6 {
            deep = zstd(&deep);
        }
        let d = expand(&deep, &Limits::default());
        assert!(
            d.unread
                .as_deref()
                .unwrap_or_default()
                .contains("nested deeper"),
            "{:?}",
            d.unread
        );
    }

    fn labels(d: &Decoded) -> Vec<&str> {
        d.views.iter().map(|v| v.label.as_str()).collect()
    }

    #[test]
    fn opens_nested_containers() {
        let log: &[u8] = b"user jane@example.com signed in";
        let tgz = gzip(&tar_of(&[("logs/app.log", log)]));
        let bundle = zip_of(&[("bundle.tar.gz", &tgz), ("readme.txt", b"nothing")]);
        let d = expand(&bundle, &Limits::default());
        assert_eq!(d.unread, None);
        assert_eq!(
            labels(&d),
            [
                "zip: bundle.tar.gz, gzip, tar: logs/app.log",
                "zip: bundle.tar.gz, gzip",
                "zip: bundle.tar.gz",
                "zip: readme.txt"
            ]
        );
        assert_eq!(d.views[0].bytes, log);
        let b64 = base64::engine::general_purpose::STANDARD.encode(gzip(log));
        let d = expand(b64.as_bytes(), &Limits::default());
        assert_eq!(labels(&d), ["base64, gzip", "base64"]);
        assert!(
            expand(b"plain text, nothing inside", &Limits::default())
                .views
                .is_empty()
        );
    }

    #[test]
    fn bombs_stop_at_the_cap() {
        let zeros = vec![0u8; 4 << 20];
        let bomb = gzip(&zeros);
        let limits = Limits {
            max_expand: 1 << 20,
            max_depth: 4,
        };
        let d = expand(&bomb, &limits);
        assert!(d.unread.unwrap().contains("expands past 1048576 bytes"));
        assert!(d.views.is_empty());
        // Nesting past the cap.
        let mut nested = b"jane@example.com".to_vec();
        for _ in 0..6 {
            nested = gzip(&nested);
        }
        let d = expand(&nested, &Limits::default());
        assert!(d.unread.unwrap().contains("nested deeper than 4"));
        // A damaged member is named; the others are still read.
        let mut bad = gzip(b"jane@example.com and more text to compress");
        let n = bad.len();
        bad.truncate(n - 12);
        let bundle = zip_of(&[("a.gz", &bad), ("b.txt", b"ok")]);
        let d = expand(&bundle, &Limits::default());
        assert!(
            d.unread
                .as_ref()
                .unwrap()
                .contains("zip: a.gz, gzip: damaged")
        );
        assert!(labels(&d).contains(&"zip: b.txt"));
    }
}
