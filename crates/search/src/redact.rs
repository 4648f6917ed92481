//! Masking: an identifier's bytes replaced in place by a mask of the same
//! length and shape, wherever the matcher finds it, also inside the
//! containers apps write. Erasure masks a person's identifiers in someone
//! else's crash; `request --redact-others` masks other people's in the
//! copies it delivers.
//!
//! The mask keeps the identifier's punctuation (`@ . - + _ ( ) { }` and
//! spaces) and replaces every digit with `0` and every other character
//! with `x`, in the encoding it was found in: `jane.doe@example.com`
//! becomes `xxxx.xxx@xxxxxxx.xxx`, an install id the nil GUID, a phone
//! number `+00 000 0000000`, each byte of a JSON escape or a character
//! beyond ASCII an `x`, each UTF-16 unit an `x` or `0` in the same byte
//! order. Nothing moves: every other byte stays where it was, so offsets
//! inside binary formats hold.
//!
//! A gzip or zlib stream is decoded, masked inside and compressed again; a
//! zip archive is rebuilt with only the affected members written anew (the
//! others are copied as they were stored). Inside any other container (tar,
//! zstd, xz, bzip2, base64), or in a container's own bytes (a member's
//! name, compressed data that happens to spell the identifier), an object
//! cannot be masked in place: [`Unmaskable`] says so, and the caller
//! decides.

use std::borrow::Cow;
use std::io::{Read, Write};
use std::ops::Range;

use crate::decode::{Container, Limits, container, expand};
use crate::matcher::Matcher;
use crate::subject::IdKind;

/// What to mask in a buffer.
pub trait Spans {
    /// The byte ranges of `hay` to mask, each with the kind of identifier
    /// it holds.
    fn spans(&self, hay: &[u8]) -> Vec<(Range<usize>, IdKind)>;
}

/// Every confirmed hit of every subject of the matcher.
impl Spans for Matcher {
    fn spans(&self, hay: &[u8]) -> Vec<(Range<usize>, IdKind)> {
        self.find(hay)
            .into_iter()
            .map(|f| {
                let kind = self.subjects()[f.subject].identifiers[f.identifier].kind;
                (f.offset..f.offset + f.len, kind)
            })
            .collect()
    }
}

/// Other people's identifiers, found by pattern: e-mail addresses, phone
/// numbers written with a leading `+` (8 to 15 digits), and the values of
/// typed install-id fields (`installId`, `InstallId`, `install_id`) and
/// user fields (`userId`, `UserId`, `user_id`, `userName`, `user_name`,
/// `accountId`, `account_id`); as written, JSON-escaped, URL-encoded and in
/// UTF-16 (either byte order). What the person's own matcher finds stays,
/// and so does every value of `keep` (compared without case).
pub struct Others {
    own: Matcher,
    keep: std::collections::HashSet<String>,
    patterns: Vec<(regex::bytes::Regex, IdKind)>,
}

impl Others {
    /// The finder for everyone but the subjects of `own`.
    pub fn new(own: Matcher, keep: impl IntoIterator<Item = String>) -> Self {
        let quote = r#"\\?""#;
        let key = |keys: &str| format!(r#"(?:{keys}){quote}\s*:\s*{quote}"#);
        let hex = |n: usize| format!("[0-9A-Fa-f]{{{n}}}");
        let patterns = [
            (
                r"[A-Za-z0-9._%+\-]+(?:@|\\u0040|%40)[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)*\.[A-Za-z]{2,}".to_owned(),
                IdKind::Email,
            ),
            (r"\+[0-9](?:[ .\-]?[0-9]){7,14}".to_owned(), IdKind::Phone),
            (
                format!(
                    "{}({}-{}-{}-{}-{})",
                    key("installId|InstallId|install_id"),
                    hex(8),
                    hex(4),
                    hex(4),
                    hex(4),
                    hex(12)
                ),
                IdKind::InstallId,
            ),
            (
                format!(
                    r#"{}([^"\\]{{1,256}}){quote}"#,
                    key("userId|UserId|user_id|userName|user_name|accountId|account_id")
                ),
                IdKind::UserId,
            ),
        ];
        Self {
            own,
            keep: keep.into_iter().map(|k| k.to_lowercase()).collect(),
            patterns: patterns
                .into_iter()
                .map(|(p, k)| {
                    let re = regex::bytes::RegexBuilder::new(&p)
                        .unicode(false)
                        .build()
                        .expect("the patterns compile");
                    (re, k)
                })
                .collect(),
        }
    }

    /// The spans of `text` (ASCII, one byte a character): the match, or
    /// its first group for the typed fields.
    fn narrow(&self, text: &[u8]) -> Vec<(Range<usize>, IdKind)> {
        let mut out = Vec::new();
        for (re, kind) in &self.patterns {
            for c in re.captures_iter(text) {
                let m = c.get(1).or_else(|| c.get(0)).expect("a match");
                let (mut s, e) = (m.start(), m.end());
                // `\nbob@…`: the `n` is a JSON escape's, not the address's.
                if *kind == IdKind::Email && s > 0 && text[s - 1] == b'\\' {
                    s += 1;
                }
                let ok = match kind {
                    IdKind::Phone => {
                        !(text.get(e).is_some_and(u8::is_ascii_digit)
                            || s > 0 && text[s - 1].is_ascii_alphanumeric())
                    }
                    IdKind::Email => !text.get(e).is_some_and(|b| b.is_ascii_alphanumeric()),
                    _ => true,
                };
                let value = String::from_utf8_lossy(&text[s..e]).to_lowercase();
                // A mask already (`xxx@xxxxxxx.xxx`), or nothing.
                if ok && !is_mask(&text[s..e], *kind) && !self.keep.contains(&value) {
                    out.push((s..e, *kind));
                }
            }
        }
        out
    }
}

impl Spans for Others {
    fn spans(&self, hay: &[u8]) -> Vec<(Range<usize>, IdKind)> {
        let mut out = self.narrow(hay);
        // UTF-16 text, at either alignment (big-endian text is
        // little-endian one byte on): each unit below 0x80 as its byte.
        if memchr::memchr(0, hay).is_some() {
            for base in 0..2 {
                let units: Vec<u8> = hay
                    .get(base..)
                    .unwrap_or_default()
                    .chunks_exact(2)
                    .map(|u| if u[1] == 0 && u[0] < 0x80 { u[0] } else { 0xFF })
                    .collect();
                out.extend(
                    self.narrow(&units)
                        .into_iter()
                        .map(|(r, k)| (base + 2 * r.start..base + 2 * r.end, k)),
                );
            }
        }
        let own: Vec<Range<usize>> = self.own.spans(hay).into_iter().map(|(r, _)| r).collect();
        out.retain(|(r, _)| !own.iter().any(|o| o.start < r.end && r.start < o.end));
        out.sort_by_key(|(r, _)| (r.start, r.end));
        out.dedup_by(|b, a| b.0.start < a.0.end);
        out
    }
}

/// The mask of one character: its punctuation kept (and a JSON string's
/// quotes, which a typed value's span holds), digits `0`, the rest `x`.
fn masked(c: u32, kind: IdKind) -> u8 {
    match u8::try_from(c) {
        Ok(b @ (b'@' | b'.' | b'-' | b'+' | b'_' | b' ' | b'(' | b')' | b'{' | b'}' | b'"')) => b,
        Ok(b'0'..=b'9') => b'0',
        _ if kind == IdKind::InstallId => b'0',
        _ => b'x',
    }
}

/// A JSON escape at the start of `b`: its length and the character it
/// stands for (`\u00e9`: 6 and `é`; `\"`: 2 and none).
fn escape(b: &[u8]) -> Option<(usize, Option<u32>)> {
    if b.first() != Some(&b'\\') || b.len() < 2 {
        return None;
    }
    if b[1] == b'u' && b.len() >= 6 && b[2..6].iter().all(u8::is_ascii_hexdigit) {
        let hex = std::str::from_utf8(&b[2..6]).expect("hex digits are ASCII");
        return Some((6, u32::from_str_radix(hex, 16).ok()));
    }
    Some((2, None))
}

/// Whether `text` is a mask already (masking it changes nothing).
fn is_mask(text: &[u8], kind: IdKind) -> bool {
    let mut m = text.to_vec();
    mask(&mut m, kind);
    m == text
}

/// Masks `span` in place: the same length, its punctuation kept, digits
/// `0`, everything else `x`; a JSON escape stays an escape (`\u00e9`
/// becomes `\u0078`, `\"` becomes `xx`), so JSON stays JSON; UTF-16 text
/// (half or more of its units hold a zero byte) unit by unit in its own
/// byte order.
pub fn mask(span: &mut [u8], kind: IdKind) {
    let zeros = |from: usize| {
        span.iter()
            .skip(from)
            .step_by(2)
            .filter(|b| **b == 0)
            .count()
    };
    let (even, odd) = (zeros(0), zeros(1));
    let units = span.len() / 2;
    if span.len() >= 2 && span.len().is_multiple_of(2) && even.max(odd) * 2 >= units {
        let le = odd >= even;
        for unit in span.chunks_exact_mut(2) {
            let u = if le {
                u16::from_le_bytes([unit[0], unit[1]])
            } else {
                u16::from_be_bytes([unit[0], unit[1]])
            };
            let m = u16::from(masked(u32::from(u), kind));
            unit.copy_from_slice(&if le { m.to_le_bytes() } else { m.to_be_bytes() });
        }
    } else {
        let mut i = 0;
        while i < span.len() {
            match escape(&span[i..]) {
                Some((6, Some(c))) => {
                    let m = format!("\\u{:04x}", masked(c, kind));
                    span[i..i + 6].copy_from_slice(m.as_bytes());
                    i += 6;
                }
                Some((n, _)) => {
                    span[i..i + n].fill(b'x');
                    i += n;
                }
                None => {
                    span[i] = masked(u32::from(span[i]), kind);
                    i += 1;
                }
            }
        }
    }
}

/// A masked object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Masked {
    /// The object with every span masked.
    pub bytes: Vec<u8>,
    /// Spans masked, by the kind of identifier.
    pub spans: Vec<IdKind>,
}

/// Why an object cannot be masked in place. Nothing is changed then.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Unmaskable {
    /// A container crashdsr opens but does not rebuild holds it.
    #[error("it is inside {0} data, which crashdsr reads but does not rebuild")]
    Container(&'static str),
    /// The container's own bytes hold it.
    #[error(
        "it is in the {0} container's own bytes (a member's name, a header, or compressed data)"
    )]
    Raw(&'static str),
    /// A container that cannot be read to its end.
    #[error("the {0} data inside is damaged or too large to rebuild: {1}")]
    Damaged(&'static str, String),
    /// The check after masking failed.
    #[error("after masking, {0} still holds it")]
    Left(String),
}

/// `bytes` with every span `find` finds masked, in the stored bytes and
/// in every container that can be rebuilt; `None` when nothing is found.
/// The result is checked: neither it nor any view it decodes to holds a
/// span any more.
pub fn mask_object(
    bytes: &[u8],
    find: &dyn Spans,
    limits: &Limits,
) -> Result<Option<Masked>, Unmaskable> {
    let mut spans = Vec::new();
    let Some(out) = mask_in(bytes, find, limits, 0, &mut spans)? else {
        return Ok(None);
    };
    if !find.spans(&out).is_empty() {
        return Err(Unmaskable::Left("the object as stored".into()));
    }
    if let Some(v) = expand(&out, limits)
        .views
        .iter()
        .find(|v| !find.spans(&v.bytes).is_empty())
    {
        return Err(Unmaskable::Left(v.label.clone()));
    }
    Ok(Some(Masked { bytes: out, spans }))
}

/// Reads a decoder to its end, at most `cap` bytes.
fn inflate(r: impl Read, c: Container, cap: u64) -> Result<Vec<u8>, Unmaskable> {
    let mut out = Vec::new();
    r.take(cap + 1)
        .read_to_end(&mut out)
        .map_err(|e| Unmaskable::Damaged(c.name(), e.to_string()))?;
    if out.len() as u64 > cap {
        return Err(Unmaskable::Damaged(
            c.name(),
            format!("it expands past {cap} bytes"),
        ));
    }
    Ok(out)
}

/// `data` compressed again as a gzip member or a zlib stream.
fn deflate(c: Container, data: &[u8]) -> std::io::Result<Vec<u8>> {
    let level = flate2::Compression::default();
    if c == Container::Gzip {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), level);
        e.write_all(data)?;
        e.finish()
    } else {
        let mut e = flate2::write::ZlibEncoder::new(Vec::new(), level);
        e.write_all(data)?;
        e.finish()
    }
}

fn mask_in(
    bytes: &[u8],
    find: &dyn Spans,
    limits: &Limits,
    depth: u32,
    spans: &mut Vec<IdKind>,
) -> Result<Option<Vec<u8>>, Unmaskable> {
    let kind = container(bytes).filter(|_| depth < limits.max_depth);
    let cap = limits.max_expand;
    let damaged =
        |c: Container| move |e: std::io::Error| Unmaskable::Damaged(c.name(), e.to_string());
    let rebuilt = match kind {
        None => None,
        Some(c @ (Container::Gzip | Container::Zlib)) => {
            let inner = if c == Container::Gzip {
                inflate(flate2::read::MultiGzDecoder::new(bytes), c, cap)?
            } else {
                inflate(flate2::read::ZlibDecoder::new(bytes), c, cap)?
            };
            match mask_in(&inner, find, limits, depth + 1, spans)? {
                Some(m) => Some(deflate(c, &m).map_err(damaged(c))?),
                None => None,
            }
        }
        Some(Container::Zip) => rezip(bytes, find, limits, depth, spans)?,
        Some(c) => {
            let inner = Limits {
                max_expand: cap,
                max_depth: limits.max_depth - depth,
            };
            if expand(bytes, &inner)
                .views
                .iter()
                .any(|v| !find.spans(&v.bytes).is_empty())
            {
                return Err(Unmaskable::Container(c.name()));
            }
            None
        }
    };
    let out = rebuilt
        .as_deref()
        .map_or(Cow::Borrowed(bytes), Cow::Borrowed);
    let raw = find.spans(&out);
    if raw.is_empty() {
        return Ok(rebuilt);
    }
    if let Some(c) = kind {
        return Err(Unmaskable::Raw(c.name()));
    }
    let mut out = out.into_owned();
    for (range, id) in raw {
        mask(&mut out[range], id);
        spans.push(id);
    }
    Ok(Some(out))
}

/// A zip archive with the members that hold a span written anew, masked
/// (with their name, time, permissions and compression), and every other
/// member copied as it was stored.
fn rezip(
    bytes: &[u8],
    find: &dyn Spans,
    limits: &Limits,
    depth: u32,
    spans: &mut Vec<IdKind>,
) -> Result<Option<Vec<u8>>, Unmaskable> {
    let zipped = |e: zip::result::ZipError| Unmaskable::Damaged("zip", e.to_string());
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(bytes)).map_err(zipped)?;
    let mut masked: Vec<Option<Vec<u8>>> = Vec::with_capacity(archive.len());
    for i in 0..archive.len() {
        let f = archive.by_index(i).map_err(zipped)?;
        if f.is_dir() {
            masked.push(None);
            continue;
        }
        let data = inflate(f, Container::Zip, limits.max_expand)?;
        masked.push(mask_in(&data, find, limits, depth + 1, spans)?);
    }
    if masked.iter().all(Option::is_none) {
        return Ok(None);
    }
    let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    for (i, new) in masked.into_iter().enumerate() {
        let Some(data) = new else {
            w.raw_copy_file(archive.by_index_raw(i).map_err(zipped)?)
                .map_err(zipped)?;
            continue;
        };
        let f = archive.by_index(i).map_err(zipped)?;
        let method = match f.compression() {
            zip::CompressionMethod::Stored => zip::CompressionMethod::Stored,
            _ => zip::CompressionMethod::Deflated,
        };
        let mut opts = zip::write::SimpleFileOptions::default().compression_method(method);
        if let Some(t) = f.last_modified() {
            opts = opts.last_modified_time(t);
        }
        if let Some(m) = f.unix_mode() {
            opts = opts.unix_permissions(m);
        }
        let name = f.name().map_err(zipped)?.into_owned();
        drop(f);
        w.start_file(name, opts).map_err(zipped)?;
        w.write_all(&data)
            .map_err(|e| Unmaskable::Damaged("zip", e.to_string()))?;
    }
    Ok(Some(w.finish().map_err(zipped)?.into_inner()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::subject::Subject;

    fn jane() -> Matcher {
        let s = Subject::from_specs(
            "jane",
            &[
                "email=jane.doe@example.com".to_owned(),
                "name=Renée Müller".to_owned(),
                "install-id=6c2a1b1e-0b5d-4c1d-9d0e-7f7b2a6c1e11".to_owned(),
            ],
        )
        .unwrap();
        Matcher::new(vec![s])
    }

    fn masked(bytes: &[u8]) -> Vec<u8> {
        mask_object(bytes, &jane(), &Limits::default())
            .unwrap()
            .expect("something to mask")
            .bytes
    }

    #[test]
    fn the_mask_keeps_length_and_shape_and_nothing_else_moves() {
        let text = br#"{"m":"ticket from jane.doe@example.com, agent bob@example.com","i":"6c2a1b1e-0b5d-4c1d-9d0e-7f7b2a6c1e11"}"#;
        assert_eq!(
            masked(text),
            br#"{"m":"ticket from xxxx.xxx@xxxxxxx.xxx, agent bob@example.com","i":"00000000-0000-0000-0000-000000000000"}"#
        );
        // JSON-escaped, and a name beyond ASCII.
        assert_eq!(
            masked(br#"{"m":"jane.doe\u0040example.com by Ren\u00e9e M\u00fcller."}"#),
            br#"{"m":"xxxx.xxx\u0040xxxxxxx.xxx by xxx\u0078x x\u0078xxxx."}"#
        );
        assert_eq!(masked("Renée Müller!".as_bytes()), b"xxxxxx xxxxxxx!");
        // UTF-16 in a binary attachment: unit by unit, in place.
        let le: Vec<u8> = [0xFF, 0xFE]
            .into_iter()
            .chain(
                "to jane.doe@example.com;"
                    .encode_utf16()
                    .flat_map(u16::to_le_bytes),
            )
            .collect();
        let want: Vec<u8> = [0xFF, 0xFE]
            .into_iter()
            .chain(
                "to xxxx.xxx@xxxxxxx.xxx;"
                    .encode_utf16()
                    .flat_map(u16::to_le_bytes),
            )
            .collect();
        assert_eq!(masked(&le), want);
        // The near miss is no hit, and nothing is changed.
        assert_eq!(
            mask_object(b"jane.doe@example.community", &jane(), &Limits::default()),
            Ok(None)
        );
    }

    #[test]
    fn gzip_zlib_and_zip_are_rebuilt_with_only_the_affected_member_changed() {
        let gz = {
            let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            e.write_all(b"user jane.doe@example.com here").unwrap();
            e.finish().unwrap()
        };
        let out = masked(&gz);
        let mut text = String::new();
        flate2::read::GzDecoder::new(&out[..])
            .read_to_string(&mut text)
            .unwrap();
        assert_eq!(text, "user xxxx.xxx@xxxxxxx.xxx here");

        let zl = {
            let mut e = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::fast());
            e.write_all(b"Renee said: Renee").unwrap();
            e.write_all(" Renée Müller".as_bytes()).unwrap();
            e.finish().unwrap()
        };
        let mut text = String::new();
        flate2::read::ZlibDecoder::new(&masked(&zl)[..])
            .read_to_string(&mut text)
            .unwrap();
        assert_eq!(text, "Renee said: Renee xxxxxx xxxxxxx");

        let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
        let opts = zip::write::SimpleFileOptions::default();
        w.start_file("other.txt", opts).unwrap();
        w.write_all(b"bob@example.com only").unwrap();
        w.start_file("logs/app.log", opts).unwrap();
        w.write_all(b"login jane.doe@example.com ok").unwrap();
        let zip = w.finish().unwrap().into_inner();
        let out = masked(&zip);
        let mut a = zip::ZipArchive::new(std::io::Cursor::new(&out[..])).unwrap();
        let read = |a: &mut zip::ZipArchive<_>, n: &str| {
            let mut s = String::new();
            a.by_name(n).unwrap().read_to_string(&mut s).unwrap();
            s
        };
        assert_eq!(read(&mut a, "other.txt"), "bob@example.com only");
        assert_eq!(
            read(&mut a, "logs/app.log"),
            "login xxxx.xxx@xxxxxxx.xxx ok"
        );
        // The untouched member is the stored one, byte for byte.
        let mut b = zip::ZipArchive::new(std::io::Cursor::new(&zip[..])).unwrap();
        let raw = |a: &mut zip::ZipArchive<std::io::Cursor<&[u8]>>| {
            let mut v = Vec::new();
            a.by_index_raw(0).unwrap().read_to_end(&mut v).unwrap();
            v
        };
        assert_eq!(raw(&mut a), raw(&mut b));
    }

    #[test]
    fn other_peoples_identifiers_are_masked_and_the_persons_stay() {
        let others = Others::new(jane(), ["privacy@contoso.com".to_owned()]);
        let text = br#"{"UserId":"agent-42","InstallId":"11111111-2222-3333-4444-555555555555","m":"jane.doe@example.com asked bob@example.org\nbob2@example.org, call +44 7700 900123 or privacy@contoso.com; build 2026-12-05 17:29 v+1.2","p":"{\"userId\":\"carol\",\"e\":\"dan\u0040example.net\"}"}"#;
        let out = mask_object(text, &others, &Limits::default())
            .unwrap()
            .unwrap();
        let mut counts = std::collections::BTreeMap::new();
        for k in &out.spans {
            *counts.entry(k.as_str()).or_insert(0) += 1;
        }
        assert_eq!(
            counts,
            [
                ("email", 3),
                ("install-id", 1),
                ("phone", 1),
                ("user-id", 2)
            ]
            .into_iter()
            .collect()
        );
        assert_eq!(
            String::from_utf8(out.bytes).unwrap(),
            r#"{"UserId":"xxxxx-00","InstallId":"00000000-0000-0000-0000-000000000000","m":"jane.doe@example.com asked xxx@xxxxxxx.xxx\nxxx0@xxxxxxx.xxx, call +00 0000 000000 or privacy@contoso.com; build 2026-12-05 17:29 v+1.2","p":"{\"userId\":\"xxxxx\",\"e\":\"xxx\u0040xxxxxxx.xxx\"}"}"#
        );
        // UTF-16 in both byte orders.
        for le in [true, false] {
            let wide: Vec<u8> = "to carol@example.net and jane.doe@example.com!"
                .encode_utf16()
                .flat_map(|u| if le { u.to_le_bytes() } else { u.to_be_bytes() })
                .collect();
            let out = mask_object(&wide, &others, &Limits::default())
                .unwrap()
                .unwrap();
            let want: Vec<u8> = "to xxxxx@xxxxxxx.xxx and jane.doe@example.com!"
                .encode_utf16()
                .flat_map(|u| if le { u.to_le_bytes() } else { u.to_be_bytes() })
                .collect();
            assert_eq!(out.bytes, want, "{le}");
        }
    }

    #[test]
    fn containers_that_cannot_be_rebuilt_are_said_so() {
        let tar = {
            let mut b = tar::Builder::new(Vec::new());
            let data = b"jane.doe@example.com";
            let mut h = tar::Header::new_gnu();
            h.set_size(data.len() as u64);
            h.set_cksum();
            b.append_data(&mut h, "a.txt", &data[..]).unwrap();
            b.into_inner().unwrap()
        };
        assert_eq!(
            mask_object(&tar, &jane(), &Limits::default()),
            Err(Unmaskable::Container("tar"))
        );
        // A zip member named after the person: the archive's own bytes.
        let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
        w.start_file(
            "jane.doe@example.com/notes.txt",
            zip::write::SimpleFileOptions::default(),
        )
        .unwrap();
        w.write_all(b"nothing").unwrap();
        let zip = w.finish().unwrap().into_inner();
        assert_eq!(
            mask_object(&zip, &jane(), &Limits::default()),
            Err(Unmaskable::Raw("zip"))
        );
    }
}
