//! What an object decodes to: the containers and encodings people put into
//! crash attachments, opened with a cap on size and nesting.
//!
//! An object is scanned as it is stored, and then each view it decodes to:
//! gzip (also several members), zip (the usual log bundle), tar and tar.gz,
//! and base64 text, nested up to [`Limits::max_depth`] containers deep. All
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
