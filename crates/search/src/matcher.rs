//! The matcher: one multi-literal automaton over every variant of every
//! subject's identifiers (stage 1, raw bytes), then boundary and typed-field
//! checks on each candidate (stage 2). Many subjects cost about what one
//! costs.

use aho_corasick::{AhoCorasick, AhoCorasickBuilder, AhoCorasickKind, MatchKind};

use crate::phone::{PhoneForms, PhoneSet};
use crate::subject::{IdKind, Identifier, Subject};

/// Up to this many bytes of patterns, an automaton is a DFA: one table
/// lookup a byte, where aho-corasick would pick its slower NFA past 100
/// patterns (100 subjects searched in 0.79–0.92 of the time). A DFA costs
/// about 200 bytes a pattern byte (a row of byte classes a state): at most
/// about 12 MiB an automaton here, some 300 to 400 subjects (2.8 MiB for
/// 100). Past it, the NFA's memory wins.
const DFA_PATTERN_BYTES: usize = 64 << 10;

/// How a pattern encodes its identifier.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Encoding {
    /// As written.
    Plain,
    /// With JSON escapes (`\u0040` for `@`).
    JsonEscaped,
    /// URL-encoded (`%40`, `%20`, `+`).
    UrlEncoded,
    /// Windows-1252 (Latin-1) bytes, for identifiers with characters
    /// beyond ASCII (old Android and .NET logs).
    Windows1252,
    /// UTF-16LE text (inside binary attachments).
    Utf16,
    /// UTF-16BE text.
    Utf16Be,
    /// A quoted JSON string value: only accepted in a typed field.
    TypedValue,
}

#[derive(Debug, Clone)]
struct Pattern {
    subject: usize,
    identifier: usize,
    encoding: Encoding,
    /// Exact bytes (for case-sensitive kinds).
    bytes: Vec<u8>,
}

/// A confirmed hit in a buffer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found {
    /// Subject index.
    pub subject: usize,
    /// Identifier index within the subject.
    pub identifier: usize,
    /// Byte offset of the hit.
    pub offset: usize,
    /// Length in bytes.
    pub len: usize,
    /// Whether it is the value of a typed field (`userId`, `InstallId`, ...).
    pub typed: bool,
}

/// Keys whose string value is an identifier of the given kind.
fn typed_key(key: &[u8], kind: IdKind) -> bool {
    match kind {
        IdKind::UserId | IdKind::Email => matches!(
            key,
            b"userId"
                | b"UserId"
                | b"user_id"
                | b"userName"
                | b"user_name"
                | b"user_email"
                | b"UserString"
                | b"account_id"
                | b"accountId"
        ),
        IdKind::InstallId => matches!(key, b"installId" | b"InstallId" | b"install_id"),
        _ => false,
    }
}

/// Each way a buffer can hold an identifier (or key): a set of tokens all
/// of which it holds ([`crate::Matcher::index_query`]).
pub type Alternatives = Vec<Vec<Vec<u8>>>;

/// Which identifiers an index cannot answer for (never their values).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Unanswerable {
    /// A pattern: its matches have no tokens to look up.
    #[error("regex identifiers")]
    Regex,
    /// Free text, matched anywhere inside a word.
    #[error("text identifiers")]
    Text,
    /// Written with no ASCII letter or digit: no token.
    #[error("{} identifiers written with no ASCII letter or digit", .0.as_str())]
    NoLetterOrDigit(IdKind),
    /// Phone numbers whose digits the index does not keep.
    #[error("phone numbers shorter or longer than the index keeps")]
    PhoneLength,
}

/// The compiled matcher for a set of subjects.
#[derive(Debug)]
pub struct Matcher {
    subjects: Vec<Subject>,
    /// Everything but UTF-16LE, run on every buffer.
    ac: Option<AhoCorasick>,
    patterns: Vec<Pattern>,
    /// UTF-16LE patterns, run only on buffers that hold NUL bytes (text
    /// never does): the common case scans a smaller automaton.
    ac_utf16: Option<AhoCorasick>,
    patterns_utf16: Vec<Pattern>,
    regexes: Vec<(usize, usize, regex::bytes::Regex)>,
    /// Phone identifiers: `(subject, identifier)`, and their numbers.
    phones: Vec<(usize, usize)>,
    phone_set: PhoneSet,
    longest: usize,
}

fn utf16le(s: &str) -> Vec<u8> {
    s.encode_utf16().flat_map(u16::to_le_bytes).collect()
}

fn utf16be(s: &str) -> Vec<u8> {
    s.encode_utf16().flat_map(u16::to_be_bytes).collect()
}

/// `s` with JSON `\uXXXX` escapes for every character `escape` picks
/// (surrogate pairs beyond the BMP), as .NET's encoders write them.
fn json_escape(s: &str, escape: impl Fn(char) -> bool) -> String {
    let mut out = String::new();
    for c in s.chars() {
        if escape(c) {
            let mut units = [0u16; 2];
            for u in c.encode_utf16(&mut units) {
                out.push_str(&format!("\\u{u:04x}"));
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// Characters System.Text.Json escapes by default besides non-ASCII.
const HTML_SENSITIVE: &str = "<>&'\"+`";

fn url_encode(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn variants(id: &Identifier) -> Vec<(Encoding, Vec<u8>)> {
    let v = id.value.as_str();
    if id.typed_only() {
        return vec![(Encoding::TypedValue, format!("\"{v}\"").into_bytes())];
    }
    if id.kind == IdKind::Phone {
        // Text is read by the phone scanner; the automaton only carries the
        // UTF-16 forms (binary attachments), as written and as E.164.
        let e164 = format!("+{}", PhoneForms::of(v).international);
        let mut out = Vec::new();
        for t in [v, e164.as_str()] {
            out.push((Encoding::Utf16, utf16le(t)));
            out.push((Encoding::Utf16Be, utf16be(t)));
        }
        out.sort();
        out.dedup();
        return out;
    }
    let mut out: Vec<(Encoding, Vec<u8>)> = if id.kind == IdKind::Name {
        name_forms(v)
            .iter()
            .flat_map(|f| encodings(id.kind, f))
            .collect()
    } else {
        encodings(id.kind, v)
    };
    out.sort();
    out.dedup();
    out
}

/// The forms a name takes beyond ASCII case, which the automaton ignores:
/// each letter beyond ASCII in its lower, upper and given case (`é`, `É`),
/// `ß`, `ẞ` and `ss` each as all three (Unicode case folding makes `ß`
/// `ss`), each form composed (NFC) and decomposed (NFD: `e` and U+0301, as
/// iOS and macOS write file names). At most 256 case forms: past that,
/// letters keep the case they were given in.
fn name_forms(v: &str) -> Vec<String> {
    use unicode_normalization::UnicodeNormalization as _;
    if v.is_ascii() && !v.to_ascii_lowercase().contains("ss") {
        return vec![v.to_owned()];
    }
    let chars: Vec<char> = v.nfc().collect();
    let mut forms = vec![String::new()];
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        i += 1;
        let mut cases: Vec<String> = vec![c.to_string()];
        if c.eq_ignore_ascii_case(&'s')
            && chars.get(i).is_some_and(|n| n.eq_ignore_ascii_case(&'s'))
        {
            // `ss` folds as `ß` does.
            i += 1;
            cases = ["ss", "ß", "ẞ"].map(str::to_owned).to_vec();
        } else if !c.is_ascii() {
            cases.push(c.to_lowercase().collect());
            cases.push(c.to_uppercase().collect());
            if matches!(c, 'ß' | 'ẞ') {
                cases.extend(["ß", "ẞ", "ss"].map(str::to_owned));
            }
            // The automaton folds ASCII: `SS` and `ss` are one form.
            cases.iter_mut().for_each(|c| c.make_ascii_lowercase());
            cases.sort();
            cases.dedup();
        }
        if forms.len() * cases.len() > 256 {
            cases.truncate(1);
        }
        forms = forms
            .iter()
            .flat_map(|f| cases.iter().map(move |c| format!("{f}{c}")))
            .collect();
    }
    let mut out: Vec<String> = forms
        .iter()
        .flat_map(|f| [f.nfc().collect::<String>(), f.nfd().collect::<String>()])
        .map(|f| f.to_ascii_lowercase())
        .collect();
    out.sort();
    out.dedup();
    out
}

/// The byte patterns of one form of an identifier: as written and in each
/// encoding the matcher reads.
fn encodings(kind: IdKind, v: &str) -> Vec<(Encoding, Vec<u8>)> {
    let mut text = vec![(Encoding::Plain, v.to_owned())];
    if kind == IdKind::InstallId {
        // .NET's `N` format, 32 hex digits; `B` and `P` hold the `D` form
        // between brackets, which the boundary check lets through.
        text.push((Encoding::Plain, v.replace('-', "")));
    }
    // JSON escapes: `@` alone (some writers), every non-ASCII character
    // (System.Text.Json's default), and those plus the HTML-sensitive ones.
    for escaped in [
        json_escape(v, |c| c == '@'),
        json_escape(v, |c| !c.is_ascii()),
        json_escape(v, |c| !c.is_ascii() || HTML_SENSITIVE.contains(c)),
        json_escape(v, |c| !c.is_ascii() || c == '@'),
    ] {
        if escaped != v {
            text.push((Encoding::JsonEscaped, escaped));
        }
    }
    if kind != IdKind::InstallId {
        let enc = url_encode(v);
        if enc != v {
            text.push((Encoding::UrlEncoded, enc));
        }
        if v.contains(' ') {
            text.push((Encoding::UrlEncoded, v.replace(' ', "+")));
        }
    }
    let text_forms: Vec<String> = text
        .iter()
        .filter(|(e, _)| *e == Encoding::Plain)
        .map(|(_, t)| t.clone())
        .collect();
    let mut out: Vec<(Encoding, Vec<u8>)> =
        text.into_iter().map(|(e, t)| (e, t.into_bytes())).collect();
    if !v.is_ascii() {
        let (bytes, _, lossy) = encoding_rs::WINDOWS_1252.encode(v);
        if !lossy {
            out.push((Encoding::Windows1252, bytes.into_owned()));
        }
    }
    for t in text_forms {
        out.push((Encoding::Utf16, utf16le(&t)));
        out.push((Encoding::Utf16Be, utf16be(&t)));
    }
    out
}

impl Matcher {
    /// Compiles the subjects' identifiers.
    pub fn new(subjects: Vec<Subject>) -> Self {
        Self::with_dfa_up_to(subjects, DFA_PATTERN_BYTES)
    }

    /// Compiles the subjects' identifiers, into DFAs up to `dfa_bytes` of
    /// patterns an automaton.
    fn with_dfa_up_to(subjects: Vec<Subject>, dfa_bytes: usize) -> Self {
        let mut patterns = Vec::new();
        let mut regexes = Vec::new();
        let (mut phones, mut phone_forms) = (Vec::new(), Vec::new());
        for (s, subj) in subjects.iter().enumerate() {
            for (i, id) in subj.identifiers.iter().enumerate() {
                if id.kind == IdKind::Regex {
                    if let Ok(r) = regex::bytes::Regex::new(&id.value) {
                        regexes.push((s, i, r));
                    }
                    continue;
                }
                if id.kind == IdKind::Phone && !id.typed_only() {
                    phones.push((s, i));
                    phone_forms.push(PhoneForms::of(&id.value));
                }
                for (encoding, bytes) in variants(id) {
                    patterns.push(Pattern {
                        subject: s,
                        identifier: i,
                        encoding,
                        bytes,
                    });
                }
            }
        }
        // Chunked scans keep this much overlap; a phone number written
        // with separators is longer than its digits.
        let phone_set = PhoneSet::new(&phone_forms);
        let longest = patterns
            .iter()
            .map(|p| p.bytes.len())
            .chain([phone_set.longest_written()])
            .max()
            .unwrap_or(0);
        let (patterns_utf16, patterns): (Vec<_>, Vec<_>) = patterns
            .into_iter()
            .partition(|p| matches!(p.encoding, Encoding::Utf16 | Encoding::Utf16Be));
        let build = |ps: &[Pattern]| {
            (!ps.is_empty()).then(|| {
                let bytes: usize = ps.iter().map(|p| p.bytes.len()).sum();
                AhoCorasickBuilder::new()
                    .ascii_case_insensitive(true)
                    .match_kind(MatchKind::Standard)
                    .kind((bytes <= dfa_bytes).then_some(AhoCorasickKind::DFA))
                    .build(ps.iter().map(|p| &p.bytes))
                    .expect("literal patterns always build")
            })
        };
        Self {
            ac: build(&patterns),
            ac_utf16: build(&patterns_utf16),
            subjects,
            patterns,
            patterns_utf16,
            regexes,
            phones,
            phone_set,
            longest,
        }
    }

    /// The subjects.
    pub fn subjects(&self) -> &[Subject] {
        &self.subjects
    }

    /// The longest pattern in bytes (the overlap chunked scans keep).
    pub fn longest(&self) -> usize {
        self.longest
    }

    /// What an index must hold for each identifier (by subject, then
    /// identifier): the ways a buffer can hold it, each a set of tokens
    /// ([`crate::tokens`]) all of which such a buffer holds. An error says
    /// which kind of identifier the index cannot answer (never its value).
    pub fn index_query(&self) -> Result<Vec<Vec<Alternatives>>, Unanswerable> {
        use crate::tokens::{NUMBER_DIGITS, number_token, pattern_number, pattern_tokens};
        let mut out: Vec<Vec<Alternatives>> = self
            .subjects
            .iter()
            .map(|s| vec![Vec::new(); s.identifiers.len()])
            .collect();
        if !self.regexes.is_empty() {
            return Err(Unanswerable::Regex);
        }
        let wide = self.patterns_utf16.iter().map(|p| (p, true));
        for (p, utf16) in self.patterns.iter().map(|p| (p, false)).chain(wide) {
            let kind = self.subjects[p.subject].identifiers[p.identifier].kind;
            if kind == IdKind::Text {
                return Err(Unanswerable::Text);
            }
            let le = p.encoding == Encoding::Utf16;
            let tokens = match (kind, utf16) {
                (IdKind::Phone, true) => match pattern_number(&p.bytes, le) {
                    Some(digits) => vec![number_token(&digits)],
                    None => Vec::new(),
                },
                _ => pattern_tokens(&p.bytes, utf16.then_some(le)),
            };
            if tokens.is_empty() {
                return Err(Unanswerable::NoLetterOrDigit(kind));
            }
            out[p.subject][p.identifier].push(tokens);
        }
        for (&(s, i), forms) in self.phones.iter().zip(self.phone_set_forms()) {
            for key in forms.keys() {
                if !NUMBER_DIGITS.contains(&key.len()) {
                    return Err(Unanswerable::PhoneLength);
                }
                out[s][i].push(vec![number_token(&key)]);
            }
        }
        for alternatives in out.iter_mut().flatten() {
            alternatives.sort();
            alternatives.dedup();
        }
        Ok(out)
    }

    fn phone_set_forms(&self) -> Vec<PhoneForms> {
        self.phones
            .iter()
            .map(|&(s, i)| PhoneForms::of(&self.subjects[s].identifiers[i].value))
            .collect()
    }

    /// Every confirmed hit in `hay`.
    pub fn find(&self, hay: &[u8]) -> Vec<Found> {
        let mut out = Vec::new();
        let wide = memchr::memchr(0, hay).is_some();
        let runs = [
            (&self.ac, &self.patterns, true),
            (&self.ac_utf16, &self.patterns_utf16, wide),
        ];
        // UTF-16 hits with their byte order, to drop the odd-aligned twin
        // that text in one order shows in the other.
        let mut wide_hits: Vec<(Found, bool)> = Vec::new();
        for (ac, patterns, run) in runs {
            let Some(ac) = ac.as_ref().filter(|_| run) else {
                continue;
            };
            for m in ac.find_overlapping_iter(hay) {
                let p = &patterns[m.pattern().as_usize()];
                let id = &self.subjects[p.subject].identifiers[p.identifier];
                let (s, e) = (m.start(), m.end());
                if id.kind == IdKind::UserId && hay[s..e] != p.bytes[..] {
                    continue; // user ids are case-sensitive
                }
                let typed = match p.encoding {
                    Encoding::TypedValue => {
                        if !typed_field(hay, s, id.kind) {
                            continue;
                        }
                        true
                    }
                    Encoding::Utf16 | Encoding::Utf16Be => {
                        if !boundary_utf16(hay, s, e, id.kind, p.encoding == Encoding::Utf16) {
                            continue;
                        }
                        false
                    }
                    _ => {
                        if !boundary(hay, s, e, id.kind) {
                            continue;
                        }
                        s > 0 && hay[s - 1] == b'"' && typed_field(hay, s - 1, id.kind)
                    }
                };
                let found = Found {
                    subject: p.subject,
                    identifier: p.identifier,
                    offset: s,
                    len: e - s,
                    typed,
                };
                match p.encoding {
                    Encoding::Utf16 => wide_hits.push((found, true)),
                    Encoding::Utf16Be => wide_hits.push((found, false)),
                    _ => out.push(found),
                }
            }
        }
        for (f, le) in &wide_hits {
            let twin = wide_hits.iter().any(|(g, g_le)| {
                g_le != le
                    && (g.subject, g.identifier) == (f.subject, f.identifier)
                    && g.offset.abs_diff(f.offset) == 1
            });
            if !twin || f.offset % 2 == 0 {
                out.push(f.clone());
            }
        }
        if !self.phones.is_empty() {
            for (n, start, end) in crate::phone::find(hay, &self.phone_set) {
                let (subject, identifier) = self.phones[n];
                out.push(Found {
                    subject,
                    identifier,
                    offset: start,
                    len: end - start,
                    typed: false,
                });
            }
        }
        for (s, i, r) in &self.regexes {
            for m in r.find_iter(hay) {
                out.push(Found {
                    subject: *s,
                    identifier: *i,
                    offset: m.start(),
                    len: m.len(),
                    typed: false,
                });
            }
        }
        out.sort_by_key(|f| (f.subject, f.offset, f.identifier));
        out.dedup_by_key(|f| (f.subject, f.identifier, f.offset));
        out
    }
}

fn is_word(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

/// Left side: no identifier character before the hit (a JSON escape like
/// `\n` right before it does not count as a letter).
fn left_ok(prev: Option<u8>, prev2: Option<u8>, kind: IdKind) -> bool {
    let Some(p) = prev else { return true };
    let escaped = prev2 == Some(b'\\') && b"nrtbf".contains(&p);
    if escaped {
        return true;
    }
    match kind {
        IdKind::Email => !(is_word(p) || b".%+-".contains(&p)),
        IdKind::Phone => !p.is_ascii_digit(),
        _ => !(is_word(p) || (p == b'-' && prev2.is_some_and(is_word))),
    }
}

/// Right side: no identifier character after the hit; a `.` counts only if
/// a letter or digit follows it (`jane@example.com.au`, `8841.5`), and
/// never after a name (`Renée Müller.pdf`).
fn right_ok(next: Option<u8>, next2: Option<u8>, kind: IdKind) -> bool {
    let Some(n) = next else { return true };
    match kind {
        IdKind::Phone => !n.is_ascii_digit(),
        _ => {
            !(is_word(n)
                || (n == b'-' && next2.is_some_and(is_word))
                || (n == b'.'
                    && kind != IdKind::Name
                    && next2.is_some_and(|c| c.is_ascii_alphanumeric())))
        }
    }
}

fn boundary(hay: &[u8], s: usize, e: usize, kind: IdKind) -> bool {
    if matches!(kind, IdKind::Text) {
        return true;
    }
    let prev = s.checked_sub(1).map(|i| hay[i]);
    let prev2 = s.checked_sub(2).map(|i| hay[i]);
    left_ok(prev, prev2, kind)
        && right_ok(hay.get(e).copied(), hay.get(e + 1).copied(), kind)
        && (kind != IdKind::Name || !(letter_before(hay, s) || letter_after(hay, e)))
}

/// Whether a character beyond ASCII that is a letter, a digit or a
/// combining mark stands right after `e` (names only: ids stand between
/// CJK letters in real logs): `Müller` is not found in `MÜLLERSÖHNE` nor
/// `Rene` in `René`. UTF-8 first, else a Windows-1252 byte.
fn letter_after(hay: &[u8], e: usize) -> bool {
    let Some(&b) = hay.get(e) else { return false };
    if b.is_ascii() {
        return false;
    }
    let rest = &hay[e..hay.len().min(e + 4)];
    let c = match std::str::from_utf8(rest) {
        Ok(t) => t.chars().next(),
        Err(err) if err.valid_up_to() > 0 => std::str::from_utf8(&rest[..err.valid_up_to()])
            .ok()
            .and_then(|t| t.chars().next()),
        Err(_) => windows_1252(b),
    };
    c.is_some_and(is_letter)
}

/// The same, for the character that ends right before `s`.
fn letter_before(hay: &[u8], s: usize) -> bool {
    let Some(&b) = s.checked_sub(1).and_then(|i| hay.get(i)) else {
        return false;
    };
    if b.is_ascii() {
        return false;
    }
    let from = s.saturating_sub(4);
    let c = (from..s)
        .rev()
        .find_map(|i| {
            std::str::from_utf8(&hay[i..s])
                .ok()
                .and_then(|t| t.chars().next_back())
        })
        .or_else(|| windows_1252(b));
    c.is_some_and(is_letter)
}

fn windows_1252(b: u8) -> Option<char> {
    let byte = [b];
    let (text, _, bad) = encoding_rs::WINDOWS_1252.decode(&byte);
    (!bad).then(|| text.chars().next()).flatten()
}

fn is_letter(c: char) -> bool {
    c.is_alphanumeric()
        || matches!(c as u32, 0x300..=0x36F | 0x1AB0..=0x1AFF | 0x1DC0..=0x1DFF | 0x20D0..=0x20FF | 0xFE20..=0xFE2F)
}

fn boundary_utf16(hay: &[u8], s: usize, e: usize, kind: IdKind, le: bool) -> bool {
    if matches!(kind, IdKind::Text) {
        return true;
    }
    let unit = |i: usize| -> Option<u8> {
        let (a, b) = (*hay.get(i)?, *hay.get(i + 1)?);
        let (lo, hi) = if le { (a, b) } else { (b, a) };
        Some(if hi == 0 { lo } else { b'x' })
    };
    // A hit at offset 1 has half a unit before it: take that byte as a
    // character, so that text in one byte order is not read in the other.
    let prev = match s {
        0 => None,
        1 => Some(hay[0]).filter(|b| *b != 0),
        _ => unit(s - 2),
    };
    let prev2 = s.checked_sub(4).and_then(unit);
    left_ok(prev, prev2, kind) && right_ok(unit(e), unit(e + 2), kind)
}

/// Whether the JSON string starting with the quote at `q` is the value of
/// a typed field: `"userId" : "…"`.
fn typed_field(hay: &[u8], q: usize, kind: IdKind) -> bool {
    let mut i = q;
    let skip_ws = |mut i: usize| {
        while i > 0 && hay[i - 1].is_ascii_whitespace() {
            i -= 1;
        }
        i
    };
    i = skip_ws(i);
    if i == 0 || hay[i - 1] != b':' {
        return false;
    }
    i = skip_ws(i - 1);
    if i == 0 || hay[i - 1] != b'"' {
        return false;
    }
    let end = i - 1;
    let Some(start) = memchr::memrchr(b'"', &hay[..end]) else {
        return false;
    };
    typed_key(&hay[start + 1..end], kind)
}

/// The JSON path (`$.a.b[2].c`) of the string that holds byte `offset` of
/// a JSON document, if it is inside one.
pub(crate) fn json_path_at(doc: &[u8], offset: usize) -> Option<String> {
    #[derive(Clone)]
    enum Frame {
        Object(Option<String>),
        Array(usize),
    }
    let mut stack: Vec<Frame> = Vec::new();
    let mut i = 0;
    let mut expect_key = false;
    while i < doc.len() {
        match doc[i] {
            b'{' => {
                stack.push(Frame::Object(None));
                expect_key = true;
            }
            b'[' => {
                stack.push(Frame::Array(0));
                expect_key = false;
            }
            b'}' | b']' => {
                stack.pop();
                expect_key = false;
            }
            b',' => match stack.last_mut() {
                Some(Frame::Array(n)) => *n += 1,
                Some(Frame::Object(k)) => {
                    *k = None;
                    expect_key = true;
                }
                None => {}
            },
            b':' => expect_key = false,
            b'"' => {
                let start = i;
                i += 1;
                while i < doc.len() && doc[i] != b'"' {
                    if doc[i] == b'\\' {
                        i += 1;
                    }
                    i += 1;
                }
                if expect_key {
                    if let Some(Frame::Object(k)) = stack.last_mut() {
                        *k = Some(
                            String::from_utf8_lossy(&doc[start + 1..i.min(doc.len())]).into_owned(),
                        );
                    }
                } else if (start..=i).contains(&offset) {
                    let mut path = String::from("$");
                    for f in &stack {
                        match f {
                            Frame::Object(Some(k)) => {
                                path.push('.');
                                path.push_str(k);
                            }
                            Frame::Object(None) => {}
                            Frame::Array(n) => path.push_str(&format!("[{n}]")),
                        }
                    }
                    return Some(path);
                }
            }
            _ => {}
        }
        if i > offset {
            // Past the offset: it is not inside a string value.
            return None;
        }
        i += 1;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn matcher(specs: &[&str]) -> Matcher {
        let specs: Vec<String> = specs.iter().map(|s| (*s).to_owned()).collect();
        Matcher::new(vec![Subject::from_specs("s", &specs).unwrap()])
    }

    fn hits(m: &Matcher, hay: &str) -> usize {
        m.find(hay.as_bytes()).len()
    }

    #[test]
    fn the_dfa_and_the_nfa_find_the_same() {
        let specs = [
            "email=jane@example.com",
            "user-id=58741",
            "name=Renée Müller",
            "install-id=6f1c2a9e-4b7d-4c3e-9a1f-2b3c4d5e6f70",
            "name=Jane Doe",
        ];
        let mut subjects = vec![Subject::from_specs("s", &specs.map(str::to_owned)).unwrap()];
        for i in 0..150 {
            let spec = [
                format!("email=p{i}.x@example.org"),
                format!("user-id=zz-{i:04}"),
            ];
            subjects.push(Subject::from_specs(&format!("p{i}"), &spec).unwrap());
        }
        let dfa = Matcher::with_dfa_up_to(subjects.clone(), usize::MAX);
        let nfa = Matcher::with_dfa_up_to(subjects, 0);
        assert_eq!(dfa.ac.as_ref().unwrap().kind(), AhoCorasickKind::DFA);
        assert_ne!(nfa.ac.as_ref().unwrap().kind(), AhoCorasickKind::DFA);
        let mut hay = String::from(
            "{\"userId\":\"58741\",\"email\":\"JANE@example.com\",\"n\":\"Renée Müller\", \
             \"m\":\"jane%40example.com\",\"i\":\"6F1C2A9E4B7D4C3E9A1F2B3C4D5E6F70\", \
             Jane+Doe jane\\u0040example.com 587412 xzz-0001 zz-0149 P7.X@EXAMPLE.ORG}",
        );
        hay.push_str(&"p12.x@example.org zz-0012 ".repeat(3));
        let mut wide = hay.as_bytes().to_vec();
        wide.extend("jane@example.com".encode_utf16().flat_map(u16::to_le_bytes));
        let found = dfa.find(&wide);
        assert!(found.len() >= 12, "{found:?}");
        assert_eq!(found, nfa.find(&wide));
    }

    #[test]
    fn boundaries_keep_near_misses_out() {
        let m = matcher(&["email=jane@example.com", "user-id=user-12", "user-id=88412"]);
        assert_eq!(hits(&m, "login jane@example.com ok"), 1);
        assert_eq!(hits(&m, "\"Jane@Example.com\""), 1);
        assert_eq!(hits(&m, "xjane@example.com"), 0);
        assert_eq!(hits(&m, "jane@example.com.au"), 0);
        assert_eq!(hits(&m, "mail jane@example.com."), 1);
        assert_eq!(hits(&m, "a.jane@example.com"), 0);
        assert_eq!(hits(&m, "user-123"), 0);
        assert_eq!(hits(&m, "user-12,"), 1);
        assert_eq!(hits(&m, "/users/88412/store.db"), 1);
        assert_eq!(hits(&m, "884127"), 0);
        assert_eq!(hits(&m, "2517000088412"), 0);
        assert_eq!(
            hits(&m, "line\\njane@example.com"),
            1,
            "a JSON escape is not a letter"
        );
        assert_eq!(hits(&m, "jane\\u0040example.com"), 1);
        assert_eq!(hits(&m, "q=jane%40example.com&x"), 1);
        let u16: Vec<u8> = "as jane@example.com>"
            .encode_utf16()
            .flat_map(u16::to_le_bytes)
            .collect();
        assert_eq!(m.find(&u16).len(), 1);
        let u16: Vec<u8> = "xjane@example.com"
            .encode_utf16()
            .flat_map(u16::to_le_bytes)
            .collect();
        assert_eq!(m.find(&u16).len(), 0);
        assert_eq!(hits(&m, "USER-12"), 0, "user ids are case-sensitive");
    }

    #[test]
    fn short_ids_match_typed_fields_only() {
        let m = matcher(&["user-id=42"]);
        assert_eq!(hits(&m, r#"{"lineNumber":42,"userId":"42"}"#), 1);
        assert_eq!(hits(&m, r#"{"UserId" : "42"}"#), 1);
        assert_eq!(hits(&m, r#"{"screen":"42","msg":"42 errors"}"#), 0);
        let f = &m.find(br#"{"userId":"42"}"#)[0];
        assert!(f.typed);
    }

    #[test]
    fn typed_long_ids_are_flagged() {
        let m = matcher(&[
            "email=jane@example.com",
            "install-id=6C2A1B1E-0B5D-4C1D-9D0E-7F7B2A6C1E11",
        ]);
        let found = m.find(br#"{"userId":"jane@example.com","installId":"6c2a1b1e-0b5d-4c1d-9d0e-7f7b2a6c1e11","m":"jane@example.com"}"#);
        assert_eq!(found.iter().filter(|f| f.typed).count(), 2);
        assert_eq!(found.len(), 3);
    }

    #[test]
    fn install_ids_in_every_guid_format_dotnet_writes() {
        let m = matcher(&["install-id=6c2a1b1e-0b5d-4c1d-9d0e-7f7b2a6c1e11"]);
        for text in [
            "install 6c2a1b1e-0b5d-4c1d-9d0e-7f7b2a6c1e11 started",
            "install 6C2A1B1E0B5D4C1D9D0E7F7B2A6C1E11 started",
            "id=6c2a1b1e0b5d4c1d9d0e7f7b2a6c1e11;",
            "device {6C2A1B1E-0B5D-4C1D-9D0E-7F7B2A6C1E11} registered",
            "device (6c2a1b1e-0b5d-4c1d-9d0e-7f7b2a6c1e11) registered",
        ] {
            assert_eq!(hits(&m, text), 1, "{text}");
            let wide: Vec<u8> = text.encode_utf16().flat_map(u16::to_le_bytes).collect();
            assert_eq!(m.find(&wide).len(), 1, "UTF-16: {text}");
        }
        // Near misses: the N form inside a longer hex run, one digit off,
        // and another GUID that shares a prefix.
        for text in [
            "sha 06c2a1b1e0b5d4c1d9d0e7f7b2a6c1e11",
            "sha 6c2a1b1e0b5d4c1d9d0e7f7b2a6c1e11a",
            "6c2a1b1e0b5d4c1d9d0e7f7b2a6c1e12",
            "6c2a1b1e-0b5d-4c1d-9d0e-7f7b2a6c1e12",
        ] {
            assert_eq!(hits(&m, text), 0, "{text}");
        }
    }

    #[test]
    fn names_in_any_unicode_case_and_normalisation_form() {
        let m = matcher(&["name=Renée Müller"]);
        let utf16 = |t: &str| -> Vec<u8> { t.encode_utf16().flat_map(u16::to_le_bytes).collect() };
        for text in [
            "signed in as Renée Müller.",
            "SIGNED IN AS RENÉE MÜLLER.",
            "renée müller",
            "RENée MüLLER",
            // Decomposed (NFD), as iOS and macOS write file names.
            "file Rene\u{301}e Mu\u{308}ller.pdf",
            "RENE\u{301}E MU\u{308}LLER",
            // JSON-escaped, composed and decomposed, either case of hex.
            r#"{"name":"Ren\u00e9e M\u00fcller"}"#,
            r#"{"name":"REN\u00C9E M\u00DCLLER"}"#,
            r#"{"name":"Rene\u0301e Mu\u0308ller"}"#,
            // URL-encoded, decomposed.
            "q=Rene%CC%81e%20Mu%CC%88ller&x",
        ] {
            assert_eq!(hits(&m, text), 1, "{text}");
        }
        assert_eq!(m.find(&utf16("by RENE\u{301}E MU\u{308}LLER")).len(), 1);
        let (cp1252, _, _) = encoding_rs::WINDOWS_1252.encode("Name=RENÉE MÜLLER;");
        assert_eq!(m.find(&cp1252).len(), 1);
        // Near misses: a longer word, a letter beyond ASCII either side,
        // and the name without its accents (not folded: see matching.md).
        for text in [
            "Renée Müllerson",
            "Renée Müllerö",
            "Renée MÜLLERSÖHNE",
            "ÉRenée Müller",
            "Renee Muller",
            "Renée Mueller",
        ] {
            assert_eq!(hits(&m, text), 0, "{text}");
        }
        let m = matcher(&["name=Rene"]);
        assert_eq!(hits(&m, "Rene, hello"), 1);
        assert_eq!(
            hits(&m, "Rene\u{301}, hello"),
            0,
            "René decomposed is not Rene"
        );
        assert_eq!(hits(&m, "René"), 0);
        let (cp1252, _, _) = encoding_rs::WINDOWS_1252.encode("René");
        assert_eq!(m.find(&cp1252).len(), 0, "Windows-1252 é is a letter");
        // ß is ss and ẞ, whichever was given.
        for given in ["name=Strauß", "name=STRAUSS", "name=strauẞ"] {
            let m = matcher(&[given]);
            for text in ["Strauß", "STRAUSS", "strauss", "STRAUẞ"] {
                assert_eq!(hits(&m, text), 1, "{given} {text}");
            }
            assert_eq!(hits(&m, "Straus"), 0, "{given}");
            assert_eq!(hits(&m, "Straußen"), 0, "{given}");
        }
    }

    #[test]
    fn phone_and_name_variants() {
        let m = matcher(&["phone=+44 7700 900123", "name=Jane Doe"]);
        assert_eq!(hits(&m, "call +447700900123 now"), 1);
        assert_eq!(hits(&m, "tel:+44 7700 900123"), 1);
        assert_eq!(hits(&m, "+44 7700 9001234"), 0);
        assert_eq!(hits(&m, "signed in as JANE DOE"), 1);
        assert_eq!(hits(&m, "name=Jane+Doe&x"), 1);
        assert_eq!(hits(&m, "Jane Doerty"), 0);
    }

    #[test]
    fn json_paths() {
        let doc = br#"{"a":{"b":["x","jane@example.com"]},"c":"y"}"#;
        let at = doc.windows(4).position(|w| w == b"jane").unwrap();
        assert_eq!(json_path_at(doc, at).as_deref(), Some("$.a.b[1]"));
        let at = doc.windows(3).position(|w| w == b"\"y\"").unwrap() + 1;
        assert_eq!(json_path_at(doc, at).as_deref(), Some("$.c"));
    }
}
