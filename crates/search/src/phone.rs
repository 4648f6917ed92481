//! Phone numbers as people write them: `+49 151 23456789` is also found as
//! `+4915123456789`, `0049 151 23456789`, `+49-151-234-567-89`,
//! `+49 (151) 23456789` and, for a number whose country is known, in its
//! national form (`0151 23456789`). A match starts and ends at a number
//! boundary: a longer run of digits that contains the number is not it.
//!
//! The subject's number is parsed with `phonenumber` (libphonenumber's
//! metadata) into its international digits and its national form. Text is
//! read as runs of digit groups joined by at most two separators (space,
//! `-`, `.`, `/`, `(`, `)`, and the no-break, narrow no-break and thin
//! spaces, en dash and non-breaking hyphen of number formatters); a match is a sequence of whole groups whose
//! digits are one of the number's forms (`00` may stand for `+`), looked
//! up by those digits, so many numbers cost about what one costs.

use crate::fxhash::HashMap;

/// The digit strings one phone identifier is matched as.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PhoneForms {
    /// Country code and national number (`4915123456789`), when known;
    /// otherwise the digits as given.
    pub(crate) international: String,
    /// The national form's digits (`015123456789`), when the country is
    /// known and it is long enough to be safe.
    pub(crate) national: Option<String>,
}

/// National forms shorter than this are not matched (too many numbers in
/// crash data are that short).
const MIN_NATIONAL: usize = 8;

impl PhoneForms {
    pub(crate) fn of(value: &str) -> Self {
        let digits: String = value.chars().filter(char::is_ascii_digit).collect();
        let trimmed = value.trim();
        let international_written = trimmed.starts_with('+') || trimmed.starts_with("00");
        let parsed = if international_written {
            let plus = match trimmed.strip_prefix("00") {
                Some(rest) => format!("+{rest}"),
                None => trimmed.to_owned(),
            };
            phonenumber::parse(None, plus).ok()
        } else {
            None
        };
        match parsed {
            Some(p) => {
                let e164 = p.format().mode(phonenumber::Mode::E164).to_string();
                let national: String = p
                    .format()
                    .mode(phonenumber::Mode::National)
                    .to_string()
                    .chars()
                    .filter(char::is_ascii_digit)
                    .collect();
                Self {
                    international: e164.trim_start_matches('+').to_owned(),
                    national: (national.len() >= MIN_NATIONAL).then_some(national),
                }
            }
            None => Self {
                international: digits.trim_start_matches("00").to_owned(),
                national: None,
            },
        }
    }

    /// The digit strings that are this number.
    pub(crate) fn keys(&self) -> Vec<String> {
        let mut keys = vec![
            self.international.clone(),
            format!("00{}", self.international),
        ];
        keys.extend(self.national.clone());
        keys
    }
}

/// The phone numbers of a search, looked up by their digits.
#[derive(Debug, Clone, Default)]
pub(crate) struct PhoneSet {
    by_digits: HashMap<Vec<u8>, Vec<usize>>,
    /// Bit `n` set: some number has `n` digits (most digit runs in crash
    /// data, timestamps and ids, are never looked up).
    lengths: u64,
    shortest: usize,
    longest: usize,
}

impl PhoneSet {
    pub(crate) fn new(forms: &[PhoneForms]) -> Self {
        let mut set = Self {
            shortest: usize::MAX,
            ..Self::default()
        };
        for (n, f) in forms.iter().enumerate() {
            for k in f.keys() {
                if k.len() >= 64 {
                    continue;
                }
                set.lengths |= 1 << k.len();
                set.shortest = set.shortest.min(k.len());
                set.longest = set.longest.max(k.len());
                let ids = set.by_digits.entry(k.into_bytes()).or_default();
                if !ids.contains(&n) {
                    ids.push(n);
                }
            }
        }
        set
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.by_digits.is_empty()
    }

    /// The longest number written out, separators included (each digit
    /// alone between two of the longest, JSON-escaped).
    pub(crate) fn longest_written(&self) -> usize {
        13 * self.longest + 8
    }
}

/// The bytes of the separator that starts `rest`, 0 if none: ASCII
/// (space, `-`, `.`, `/`, `(`, `)`), and the spaces and dashes that number
/// formatters write (no-break space U+00A0, narrow no-break space U+202F,
/// thin space U+2009, non-breaking hyphen U+2011, en dash U+2013) in
/// UTF-8, JSON-escaped (`\u00A0`, as System.Text.Json writes them) and,
/// for the two Windows-1252 has, as its bytes (0xA0, 0x96: after a digit
/// they cannot be part of UTF-8).
fn separator_len(rest: &[u8]) -> usize {
    match rest {
        [b' ' | b'-' | b'.' | b'/' | b'(' | b')', ..] => 1,
        [0xC2, 0xA0, ..] => 2,
        [0xE2, 0x80, 0x89 | 0x91 | 0x93 | 0xAF, ..] => 3,
        [0xA0 | 0x96, ..] => 1,
        [b'\\', b'u', hex @ ..] if hex.len() >= 4 => {
            let code = std::str::from_utf8(&hex[..4])
                .ok()
                .and_then(|h| u16::from_str_radix(h, 16).ok());
            match code {
                Some(0x00A0 | 0x202F | 0x2009 | 0x2011 | 0x2013) => 6,
                _ => 0,
            }
        }
        _ => 0,
    }
}

/// One run of digit groups starting at the digit at `i`, with short
/// separator runs between them, into `groups`; returns where its last group
/// ends.
pub(crate) fn run(hay: &[u8], i: usize, groups: &mut Vec<(usize, usize)>) -> usize {
    groups.clear();
    let mut j = i;
    loop {
        let start = j;
        while j < hay.len() && hay[j].is_ascii_digit() {
            j += 1;
        }
        groups.push((start, j));
        // At most two separators between groups.
        let (mut k, mut separators) = (j, 0);
        while separators < 3 {
            let n = separator_len(&hay[k..]);
            if n == 0 {
                break;
            }
            k += n;
            separators += 1;
        }
        if (1..=2).contains(&separators) && k < hay.len() && hay[k].is_ascii_digit() {
            j = k;
        } else {
            return j;
        }
    }
}

/// Every `(number index, start, end)` in `hay` where one of the numbers
/// stands.
pub(crate) fn find(hay: &[u8], set: &PhoneSet) -> Vec<(usize, usize, usize)> {
    let mut out = Vec::new();
    if set.is_empty() {
        return out;
    }
    let mut groups: Vec<(usize, usize)> = Vec::new();
    let mut digits: Vec<u8> = Vec::with_capacity(64);
    let mut i = 0;
    while i < hay.len() {
        if !hay[i].is_ascii_digit() {
            i += 1;
            continue;
        }
        let j = run(hay, i, &mut groups);
        let total: usize = groups.iter().map(|(s, e)| e - s).sum();
        if total >= set.shortest {
            for first in 0..groups.len() {
                digits.clear();
                for &(s, e) in &groups[first..] {
                    digits.extend_from_slice(&hay[s..e]);
                    if digits.len() > set.longest {
                        break;
                    }
                    if set.lengths & (1 << digits.len()) == 0 {
                        continue;
                    }
                    for n in set.by_digits.get(&digits).into_iter().flatten() {
                        out.push((*n, groups[first].0, e));
                    }
                }
            }
        }
        i = j.max(i + 1);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn count(hay: &str, value: &str) -> usize {
        find(hay.as_bytes(), &PhoneSet::new(&[PhoneForms::of(value)])).len()
    }

    #[test]
    fn written_as_people_write_them() {
        let v = "+49 151 23456789";
        let f = PhoneForms::of(v);
        assert_eq!(f.international, "4915123456789");
        assert_eq!(f.national.as_deref(), Some("015123456789"));
        for hay in [
            "call +4915123456789 now",
            "tel 0049 151 23456789.",
            "\"phone\":\"+49-151-234-567-89\"",
            "+49 (151) 23456789",
            "(0151) 234 567 89",
            "\\u002B4915123456789",
        ] {
            assert_eq!(count(hay, v), 1, "{hay}");
        }
        for hay in [
            "+49 151 234567890",
            "149151234567891",
            "+49 151 2345678",
            "id 4915123456789012",
        ] {
            assert_eq!(count(hay, v), 0, "{hay}");
        }
        // A number with no country: its digits, at boundaries.
        assert_eq!(count("ring 0770 0900 123 x", "07700 900123"), 1);
        assert_eq!(count("ring 07700900123", "07700 900123"), 1);
        assert_eq!(count("ring 077009001234", "07700 900123"), 0);
        // Two numbers in one run are told apart.
        assert_eq!(count("0151 23456789 / 0172 1111111", v), 1);
    }

    #[test]
    fn the_spaces_and_dashes_of_number_formatters() {
        let v = "+44 7700 900123";
        for sep in ["\u{a0}", "\u{202f}", "\u{2009}", "\u{2011}", "\u{2013}"] {
            let written = format!("call +44{sep}7700{sep}900123 now");
            assert_eq!(count(&written, v), 1, "{written:?}");
            // Mixed with an ASCII one: still two separators.
            assert_eq!(count(&format!("(07700){sep}900{sep}123"), v), 1, "{sep:?}");
            // JSON-escaped, as System.Text.Json writes them.
            let code = sep.chars().next().unwrap() as u32;
            let json = format!("\"+44\\u{code:04X}7700\\u{code:04x}900123\"");
            assert_eq!(count(&json, v), 1, "{json}");
            // A longer digit run is not the number; a group before it is a
            // group of its own; three separators in a row end the run.
            assert_eq!(count(&format!("+44{sep}7700{sep}9001234"), v), 0, "{sep:?}");
            assert_eq!(count(&format!("8{sep}447700900123"), v), 1, "{sep:?}");
            assert_eq!(
                count(&format!("+44 7700{sep}{sep}{sep}900123"), v),
                0,
                "{sep:?}"
            );
        }
        // Windows-1252's no-break space and en dash, as bytes.
        let set = PhoneSet::new(&[PhoneForms::of(v)]);
        for b in [0xA0u8, 0x96] {
            let hay = [&b"tel +44"[..], &[b], b"7700", &[b], b"900123;"].concat();
            assert_eq!(find(&hay, &set).len(), 1, "{b:#x}");
        }
        // Other characters that look like spaces do not join groups.
        assert_eq!(count("+44\u{3000}7700\u{3000}900123", v), 0);
        assert_eq!(count("+44\\u00207700\\u0041900123", v), 0);
    }
}
