//! The index's recall rests on one property: whenever the matcher finds an
//! identifier in a buffer, the buffer holds every token of one of the
//! identifier's alternatives (`Matcher::index_query`). Checked here on
//! many thousands of random buffers: identifiers in every encoding the
//! matcher reads, between random neighbours (letters, digits, hyphens,
//! escapes, bytes beyond ASCII, NULs), in and out of typed fields.

use std::collections::BTreeSet;

use crashdsr_emulator::testing::Rng;
use crashdsr_search::{Matcher, Subject};

const IDS: &[(&str, &str)] = &[
    ("email", "jane.doe@example.com"),
    ("email", "Ren\u{e9}e@b\u{fc}cher.de"),
    ("user-id", "user-8841"),
    ("user-id", "42"),
    ("name", "Ren\u{e9}e M\u{fc}ller"),
    ("name", "Jane Doe"),
    ("install-id", "6c2a1b1e-0b5d-4c1d-9d0e-7f7b2a6c1e11"),
    ("phone", "+49 151 23456789"),
];

/// Neighbours: letters, digits, punctuation, escapes, UTF-8 and
/// Windows-1252 letters, NUL.
const AROUND: &[&[u8]] = &[
    b"a",
    b"Z",
    b"0",
    b"9",
    b"-",
    b"_",
    b".",
    b"@",
    b"\\",
    b"\\n",
    b"\\t",
    b"n",
    b" ",
    b"\"",
    b":",
    b"{",
    b"}",
    b"%",
    b"+",
    b"\0",
    b"\xc3\xa9",
    b"\xe9",
    b"(",
    b")",
    b"\r\n",
    b"/",
    b"\\u00A0",
    b"\xc2\xa0",
];

fn utf16(s: &str, le: bool) -> Vec<u8> {
    s.encode_utf16()
        .flat_map(|u| if le { u.to_le_bytes() } else { u.to_be_bytes() })
        .collect()
}

/// The identifier written one of the ways the matcher reads.
fn written(rng: &mut Rng, kind: &str, value: &str) -> Vec<u8> {
    let phone_forms = [
        "+4915123456789",
        "0049 151 23456789",
        "+49-151-234-567-89",
        "+49 (151) 23456789",
        "0151 23456789",
        "+49\\u00A0151\\u00A023456789",
    ];
    let text: String = match (kind, rng.below(6)) {
        ("phone", n) => phone_forms[n].to_owned(),
        (_, 0) => value.to_uppercase(),
        (_, 1) => value.replace('@', "\\u0040"),
        (_, 2) => value
            .chars()
            .map(|c| {
                if c.is_ascii() {
                    c.to_string()
                } else {
                    format!("\\u{:04x}", c as u32)
                }
            })
            .collect(),
        (_, 3) => value.replace('@', "%40").replace(' ', "+"),
        _ => value.to_owned(),
    };
    match rng.below(8) {
        0 => utf16(&text, true),
        1 => utf16(&text, false),
        2 => {
            let (bytes, _, lossy) = encoding_rs::WINDOWS_1252.encode(&text);
            if lossy {
                text.into_bytes()
            } else {
                bytes.into_owned()
            }
        }
        _ => text.into_bytes(),
    }
}

fn tokens(hay: &[u8]) -> BTreeSet<Vec<u8>> {
    let mut set = BTreeSet::new();
    crashdsr_search::tokens::buffer_tokens(hay, &mut |t| {
        set.insert(t.to_vec());
    });
    set
}

#[test]
fn every_buffer_the_matcher_finds_an_identifier_in_is_a_candidate() {
    let mut rng = Rng(0x5eed_1234_abcd_9876);
    let mut found = 0;
    for (kind, value) in IDS {
        let m = Matcher::new(vec![
            Subject::from_specs("s", &[format!("{kind}={value}")]).unwrap(),
        ]);
        let query = m.index_query().expect("these identifiers are answered");
        for _ in 0..4000 {
            let mut hay = Vec::new();
            for _ in 0..rng.below(4) {
                hay.extend_from_slice(AROUND[rng.below(AROUND.len())]);
            }
            let typed = rng.below(4) == 0;
            if typed {
                hay.extend_from_slice(b"{\"userId\": \"");
            }
            let w = written(&mut rng, kind, value);
            if rng.below(2) == 0 && w.len() > 1 {
                // A piece of it: mostly not a match, sometimes a prefix that is
                // another identifier's whole.
                let cut = 1 + rng.below(w.len() - 1);
                hay.extend_from_slice(&w[..cut]);
            } else {
                hay.extend_from_slice(&w);
            }
            if typed {
                hay.extend_from_slice(b"\"}");
            }
            for _ in 0..rng.below(4) {
                hay.extend_from_slice(AROUND[rng.below(AROUND.len())]);
            }
            if m.find(&hay).is_empty() {
                continue;
            }
            found += 1;
            let have = tokens(&hay);
            assert!(
                query[0][0]
                    .iter()
                    .any(|all| all.iter().all(|t| have.contains(t))),
                "{kind} found in {:?} but not a candidate",
                String::from_utf8_lossy(&hay)
            );
        }
    }
    assert!(
        found > 8000,
        "only {found} buffers held a match: the test is too weak"
    );
}
