//! Property tests: an identifier placed at random in random JSON, text and
//! binary (UTF-16LE) content is found exactly when it stands at a boundary,
//! and a too-short user id never matches outside a typed field.

use crashdsr_search::{Matcher, Subject};
use proptest::prelude::*;

/// Characters that end an identifier.
const BOUNDARY: &[char] = &[
    ' ', '/', '"', ',', ':', '<', '>', '(', ')', '\n', '\t', ';', '=', '[', ']',
];
/// Characters that continue one.
const WORD: &[char] = &['a', 'K', 'z', '0', '7', '_'];
/// Filler that cannot form any of the identifiers below.
const FILLER: &str = "QZXqzx .,;:/\"{}[]";

const IDS: &[(&str, &str)] = &[
    ("email", "jane.doe@example.com"),
    ("user-id", "user-12"),
    ("user-id", "88412"),
    ("name", "Jane Doe"),
    ("install-id", "6c2a1b1e-0b5d-4c1d-9d0e-7f7b2a6c1e11"),
];

fn filler() -> impl Strategy<Value = String> {
    proptest::collection::vec(
        proptest::sample::select(FILLER.chars().collect::<Vec<_>>()),
        0..40,
    )
    .prop_map(|v| v.into_iter().collect())
}

fn neighbour() -> impl Strategy<Value = (Option<char>, bool)> {
    prop_oneof![
        Just((None, true)),
        proptest::sample::select(BOUNDARY).prop_map(|c| (Some(c), true)),
        proptest::sample::select(WORD).prop_map(|c| (Some(c), false)),
    ]
}

#[derive(Debug, Clone, Copy)]
enum Wrap {
    Text,
    Json,
    Utf16,
}

fn place(
    id: &str,
    before: &str,
    left: Option<char>,
    right: Option<char>,
    after: &str,
    wrap: Wrap,
) -> Vec<u8> {
    // Filler only touches the identifier through the chosen neighbours.
    let (before, after) = (
        if left.is_none() {
            String::new()
        } else {
            before.to_owned()
        },
        if right.is_none() {
            String::new()
        } else {
            after.to_owned()
        },
    );
    let core = format!(
        "{before}{}{id}{}{after}",
        left.map(String::from).unwrap_or_default(),
        right.map(String::from).unwrap_or_default()
    );
    match wrap {
        Wrap::Text => core.into_bytes(),
        // In JSON, quotes and escapes come with the string.
        Wrap::Json => serde_json::json!({ "message": core })
            .to_string()
            .into_bytes(),
        Wrap::Utf16 => {
            let mut out = vec![0x89, b'P', b'N', b'G', 0, 0];
            out.extend(core.encode_utf16().flat_map(u16::to_le_bytes));
            out.extend([0, 0, 0xff]);
            out
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 600, ..ProptestConfig::default() })]

    #[test]
    fn found_exactly_at_boundaries(
        which in 0..IDS.len(),
        before in filler(),
        after in filler(),
        (left, left_ok) in neighbour(),
        (right, right_ok) in neighbour(),
        wrap in prop_oneof![Just(Wrap::Text), Just(Wrap::Json), Just(Wrap::Utf16)],
    ) {
        let (kind, id) = IDS[which];
        let m = Matcher::new(vec![Subject::from_specs("s", &[format!("{kind}={id}")]).unwrap()]);
        // In JSON a newline or tab becomes an escape (`\n`): still a boundary.
        let content = place(id, &before, left, right, &after, wrap);
        let found = m.find(&content);
        prop_assert_eq!(!found.is_empty(), left_ok && right_ok, "{:?} {:?} {:?}", String::from_utf8_lossy(&content), left, right);
    }

    #[test]
    fn short_ids_never_match_free_text(before in filler(), after in filler(), (left, _) in neighbour(), (right, _) in neighbour()) {
        let m = Matcher::new(vec![Subject::from_specs("s", &["user-id=42".to_owned()]).unwrap()]);
        for wrap in [Wrap::Text, Wrap::Json, Wrap::Utf16] {
            let content = place("42", &before, left, right, &after, wrap);
            prop_assert!(m.find(&content).is_empty());
        }
        // ... and always as the value of a typed field, whatever surrounds it.
        let typed = serde_json::json!({"note": before, "userId": "42", "tail": after}).to_string();
        prop_assert_eq!(m.find(typed.as_bytes()).len(), 1);
    }
}
