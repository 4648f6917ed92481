//! Tokens for a search index, cut so that the index misses nothing a scan
//! finds.
//!
//! The matcher looks for byte patterns (an identifier as written,
//! JSON-escaped, URL-encoded, in Windows-1252, in UTF-16) in every buffer a
//! scan reads, ASCII case folded, and accepts a match only at an identifier
//! boundary ([`crate::matcher`]). The tokens here are cut in the same byte
//! space, so that whenever a pattern is found in a buffer, every token of
//! the pattern is a token of that buffer:
//!
//! - a **word** is a maximal run of ASCII letters and digits, lower-cased,
//!   with a `-` between two of them kept inside (a GUID is one word).
//!   Everything else (punctuation, `_`, bytes beyond ASCII) separates
//!   words: the matcher never starts or ends a match at a hyphen between
//!   two letters or digits. A pattern's words inside it are words of the buffer; its first
//!   and last are too, because the matcher refuses a letter or digit right
//!   before or after a match. The one exception, a JSON escape (`\n`, `\t`,
//!   ...) right before a match, is met by also taking a word that follows a
//!   backslash without its first letter.
//! - buffers that hold a NUL byte are also read as UTF-16 (both byte orders,
//!   both alignments), each code unit beyond ASCII a separator, as the
//!   matcher reads its UTF-16 patterns there.
//! - a **number** (`tel:` and its digits) is every run of consecutive digit
//!   groups the phone scanner reads as one number (groups joined by at most
//!   two separators), of 7 to 20 digits: the phone scanner matches any such
//!   run, whatever letters stand around it.
//!
//! An identifier is answered by the index when each of its patterns has at
//! least one token: a buffer can hold the pattern only if it holds all of
//! them ([`crate::Matcher::index_query`]). `text` and `regex` identifiers,
//! and patterns made only of characters beyond ASCII, are not.

use crate::decode::{Limits, expand};

/// The shortest and longest number (in digits) the index keeps.
pub const NUMBER_DIGITS: std::ops::RangeInclusive<usize> = 7..=20;

/// The version of this tokeniser: an index cut by another version is not
/// trusted.
pub const VERSION: u32 = 1;

/// The prefix of a number's token.
const TEL: &[u8] = b"tel:";

/// The end of the word that starts at `start`: letters and digits, and a
/// `-` between two of them (the matcher never starts or ends a match at
/// such a hyphen, so `0f9c1c2e-3b4a-…` is one word, not five).
fn word_end(hay: &[u8], start: usize) -> usize {
    let mut i = start;
    while i < hay.len() {
        if hay[i].is_ascii_alphanumeric()
            || (hay[i] == b'-' && hay.get(i + 1).is_some_and(u8::is_ascii_alphanumeric))
        {
            i += 1;
        } else {
            break;
        }
    }
    i
}

/// Where each word of `hay` starts and ends.
fn each_word(hay: &[u8], mut at: impl FnMut(usize, usize)) {
    let mut i = 0;
    while i < hay.len() {
        if !hay[i].is_ascii_alphanumeric() {
            i += 1;
            continue;
        }
        let start = i;
        i = word_end(hay, start);
        at(start, i);
    }
}

/// Every word of `hay` (with the escape variant): `out` is called once per
/// occurrence.
fn words(hay: &[u8], out: &mut impl FnMut(&[u8])) {
    let mut word = Vec::with_capacity(64);
    each_word(hay, |start, end| {
        word.clear();
        word.extend(hay[start..end].iter().map(u8::to_ascii_lowercase));
        out(&word);
        if start > 0 && hay[start - 1] == b'\\' && b"nrtbf".contains(&hay[start]) && word.len() > 1
        {
            out(&word[1..]);
        }
    });
}

/// Every number of `hay`: runs of consecutive digit groups as the phone
/// scanner reads them, [`NUMBER_DIGITS`] long.
fn numbers(hay: &[u8], out: &mut impl FnMut(&[u8])) {
    let mut groups: Vec<(usize, usize)> = Vec::new();
    let mut token: Vec<u8> = Vec::with_capacity(TEL.len() + NUMBER_DIGITS.end());
    let mut i = 0;
    while i < hay.len() {
        if !hay[i].is_ascii_digit() {
            i += 1;
            continue;
        }
        let j = crate::phone::run(hay, i, &mut groups);
        for first in 0..groups.len() {
            token.clear();
            token.extend_from_slice(TEL);
            for &(s, e) in &groups[first..] {
                token.extend_from_slice(&hay[s..e]);
                let digits = token.len() - TEL.len();
                if digits > *NUMBER_DIGITS.end() {
                    break;
                }
                if digits >= *NUMBER_DIGITS.start() {
                    out(&token);
                }
            }
        }
        i = j.max(i + 1);
    }
}

/// `hay` read as UTF-16 in one byte order from `align`: each unit in ASCII
/// as its byte, every other unit as a separator (0x80).
fn utf16_projection(hay: &[u8], align: usize, le: bool, into: &mut Vec<u8>) {
    into.clear();
    for unit in hay.get(align..).unwrap_or_default().chunks_exact(2) {
        let (lo, hi) = if le {
            (unit[0], unit[1])
        } else {
            (unit[1], unit[0])
        };
        into.push(if hi == 0 && lo.is_ascii() { lo } else { 0x80 });
    }
}

/// Every token of one buffer: its words and numbers, and those of its
/// UTF-16 readings when it holds a NUL byte.
pub fn buffer_tokens(hay: &[u8], out: &mut impl FnMut(&[u8])) {
    words(hay, out);
    numbers(hay, out);
    if memchr::memchr(0, hay).is_some() {
        let mut projected = Vec::with_capacity(hay.len() / 2 + 1);
        for (align, le) in [(0, true), (1, true), (0, false), (1, false)] {
            utf16_projection(hay, align, le, &mut projected);
            words(&projected, out);
            numbers(&projected, out);
        }
    }
}

/// Every token a scan of the object at `path` could match in: its path's,
/// and those of every buffer the scanner reads (the object as stored, its
/// text without a byte-order mark or transcoded from UTF-16, and every view
/// its containers decode to). Returns why the object was not read to the
/// end, when a cap stopped the decoding: such an object cannot be vouched
/// for.
pub fn object_tokens(
    path: &str,
    bytes: &[u8],
    limits: &Limits,
    out: &mut impl FnMut(&[u8]),
) -> Option<String> {
    buffer_tokens(path.as_bytes(), out);
    buffer_tokens(bytes, out);
    let text = crate::export::blob_text(bytes);
    if *text != *bytes {
        buffer_tokens(&text, out);
    }
    if crate::export::is_json(&text) && crate::export::is_json(bytes) {
        return None;
    }
    let decoded = expand(bytes, limits);
    for v in &decoded.views {
        buffer_tokens(&v.bytes, out);
    }
    decoded.unread
}

/// The tokens of a pattern, each once: what a buffer must hold to hold it.
pub(crate) fn pattern_tokens(pattern: &[u8], utf16: Option<bool>) -> Vec<Vec<u8>> {
    let mut projected = Vec::new();
    let bytes = match utf16 {
        Some(le) => {
            utf16_projection(pattern, 0, le, &mut projected);
            &projected[..]
        }
        None => pattern,
    };
    let mut tokens = Vec::new();
    each_word(bytes, |start, end| {
        tokens.push(bytes[start..end].to_ascii_lowercase())
    });
    tokens.sort();
    tokens.dedup();
    tokens
}

/// The token of a number with these digits (`4915123456789`).
pub(crate) fn number_token(digits: &str) -> Vec<u8> {
    [TEL, digits.as_bytes()].concat()
}

/// A phone pattern in UTF-16 (as written, or E.164) as one number: its
/// digits, when the phone scanner reads them as one run of groups.
pub(crate) fn pattern_number(pattern: &[u8], le: bool) -> Option<String> {
    let mut projected = Vec::new();
    utf16_projection(pattern, 0, le, &mut projected);
    let first = projected.iter().position(u8::is_ascii_digit)?;
    let mut groups = Vec::new();
    let end = crate::phone::run(&projected, first, &mut groups);
    if projected[end..].iter().any(u8::is_ascii_digit) {
        return None;
    }
    let digits: String = groups
        .iter()
        .map(|&(s, e)| std::str::from_utf8(&projected[s..e]).unwrap_or_default())
        .collect();
    NUMBER_DIGITS.contains(&digits.len()).then_some(digits)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::matcher::Matcher;
    use crate::subject::{IdKind, Identifier, Subject};
    use std::collections::BTreeSet;

    fn tokens(hay: &[u8]) -> BTreeSet<Vec<u8>> {
        let mut set = BTreeSet::new();
        buffer_tokens(hay, &mut |t| {
            set.insert(t.to_vec());
        });
        set
    }

    fn subject(kind: IdKind, value: &str) -> Matcher {
        Matcher::new(vec![Subject {
            label: "s".into(),
            identifiers: vec![Identifier::new(kind, value).unwrap()],
        }])
    }

    /// Whether the index would read `hay` for the matcher's one identifier.
    fn candidate(m: &Matcher, hay: &[u8]) -> bool {
        let have = tokens(hay);
        let query = m.index_query().expect("answerable");
        query[0][0]
            .iter()
            .any(|all| all.iter().all(|t| have.contains(t)))
    }

    #[test]
    fn words_numbers_and_utf16_readings() {
        let t = tokens(
            b"Jane.Doe@Example.com \\nancy x_y {0F9C1C2E-3B4A-4C5D-8E9F-A0B1C2D3E4F5} -a- b--c",
        );
        for w in [
            "jane",
            "doe",
            "example",
            "com",
            "nancy",
            "ancy",
            "x",
            "y",
            "0f9c1c2e-3b4a-4c5d-8e9f-a0b1c2d3e4f5",
            "a",
            "b",
            "c",
        ] {
            assert!(t.contains(w.as_bytes()), "{w}");
        }
        assert!(!t.contains(b"3b4a".as_slice()));
        let t = tokens(b"call +49 (151) 234-56789 now, or 12345");
        assert!(t.contains(b"tel:4915123456789".as_slice()));
        assert!(t.contains(b"tel:15123456789".as_slice()));
        assert!(!t.iter().any(|x| x.starts_with(b"tel:12345")));
        let wide: Vec<u8> = "\u{0}jane@x.org"
            .encode_utf16()
            .flat_map(u16::to_le_bytes)
            .collect();
        assert!(tokens(&wide).contains(b"jane".as_slice()));
        assert!(tokens(&wide[1..]).contains(b"jane".as_slice()));
    }

    #[test]
    fn every_match_the_scanner_finds_is_a_candidate() {
        let cases: &[(IdKind, &str, &[u8])] = &[
            (
                IdKind::Email,
                "jane.doe@example.com",
                b"x \"JANE.DOE@example.com\" y",
            ),
            (
                IdKind::Email,
                "jane.doe@example.com",
                b"{\"m\":\"\\njane.doe\\u0040example.com\"}",
            ),
            (IdKind::Email, "ancy@example.com", b"to:\\nancy@example.com"),
            (
                IdKind::Email,
                "jane.doe@example.com",
                b"q=jane.doe%40example.com&x",
            ),
            (
                IdKind::Name,
                "Ren\u{e9}e M\u{fc}ller",
                "Ren\u{e9}e M\u{fc}ller.pdf".as_bytes(),
            ),
            (
                IdKind::Name,
                "Ren\u{e9}e M\u{fc}ller",
                b"by Ren\xe9e M\xfcller",
            ),
            (
                IdKind::Name,
                "Ren\u{e9}e M\u{fc}ller",
                "RENE\u{301}E MU\u{308}LLER".as_bytes(),
            ),
            (IdKind::UserId, "42", b"{\"userId\": \"42\"}"),
            (IdKind::UserId, "user-8841", b"id user-8841."),
            (IdKind::UserId, "user-8841", b"id:\\nuser-8841\\t"),
            (IdKind::UserId, "-8841-", b"(-8841-)"),
            (
                IdKind::InstallId,
                "0f9c1c2e-3b4a-4c5d-8e9f-a0b1c2d3e4f5",
                b"{0F9C1C2E-3B4A-4C5D-8E9F-A0B1C2D3E4F5}",
            ),
            (
                IdKind::InstallId,
                "0f9c1c2e-3b4a-4c5d-8e9f-a0b1c2d3e4f5",
                b"i=0f9c1c2e3b4a4c5d8e9fa0b1c2d3e4f5",
            ),
            (IdKind::Phone, "+49 151 23456789", b"tel:+4915123456789x"),
            (IdKind::Phone, "+49 151 23456789", b"0049-151-234-567-89"),
            (IdKind::Phone, "+49 151 23456789", b"ring 0151 23456789"),
            (
                IdKind::Phone,
                "+49 151 23456789",
                b"+49\\u00A0151\\u00A023456789",
            ),
        ];
        for (kind, value, hay) in cases {
            let m = subject(*kind, value);
            assert!(
                !m.find(hay).is_empty(),
                "the scan finds {value:?} in {hay:?}"
            );
            assert!(candidate(&m, hay), "the index reads {hay:?} for {value:?}");
        }
        let m = subject(IdKind::Email, "jane@example.com");
        let wide: Vec<u8> = "x jane@example.com."
            .encode_utf16()
            .flat_map(u16::to_be_bytes)
            .collect();
        assert!(!m.find(&wide).is_empty());
        assert!(candidate(&m, &wide));
        // And a buffer without the identifier is not read.
        assert!(!candidate(&m, b"jane@example.org"));
    }

    #[test]
    fn text_regex_and_patterns_without_ascii_are_not_answered() {
        for (kind, value) in [
            (IdKind::Text, "Jane"),
            (IdKind::Regex, "ja.e"),
            (IdKind::Name, "\u{5c71}\u{7530}"),
        ] {
            assert!(subject(kind, value).index_query().is_err(), "{value}");
        }
    }
}
