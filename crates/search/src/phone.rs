//! Phone numbers as people write them: `+49 151 23456789` is also found as
//! `+4915123456789`, `0049 151 23456789`, `+49-151-234-567-89`,
//! `+49 (151) 23456789` and, for a number whose country is known, in its
//! national form (`0151 23456789`). A match starts and ends at a number
//! boundary: a longer run of digits that contains the number is not it.
//!
//! The subject's number is parsed with `phonenumber` (libphonenumber's
//! metadata) into its international digits and its national form. Text is
//! read as runs of digit groups joined by at most two separators (space,
//! `-`, `.`, `/`, `(`, `)`); a match is a sequence of whole groups whose
//! digits are one of the number's forms (`00` may stand for `+`), looked
//! up by those digits, so many numbers cost about what one costs.

use crate::index::HashMap;

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
    fn keys(&self) -> Vec<String> {
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

    /// The longest number written out, separators included.
    pub(crate) fn longest_written(&self) -> usize {
        2 * self.longest + 8
    }
}

fn is_separator(b: u8) -> bool {
    matches!(b, b' ' | b'-' | b'.' | b'/' | b'(' | b')')
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
        // One run: digit groups with short separator runs between them.
        groups.clear();
        let mut total = 0;
        let mut j = i;
        loop {
            let start = j;
            while j < hay.len() && hay[j].is_ascii_digit() {
                j += 1;
            }
            groups.push((start, j));
            total += j - start;
            let mut k = j;
            while k < hay.len() && k - j < 3 && is_separator(hay[k]) {
                k += 1;
            }
            if k > j && k - j <= 2 && k < hay.len() && hay[k].is_ascii_digit() {
                j = k;
            } else {
                break;
            }
        }
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
}
