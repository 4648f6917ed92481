//! Small JSON helpers: a record on one line without changing a byte of its
//! values, and the value at a search hit's JSON path.

use serde_json::Value;

/// `text` without the whitespace between JSON tokens (a pretty-printed
/// record on one line, for JSON Lines); strings are kept byte for byte.
pub(crate) fn one_line(text: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(text.len());
    let mut in_string = false;
    let mut escaped = false;
    for &b in text {
        if in_string {
            out.push(b);
            if escaped {
                escaped = false;
            } else if b == b'\\' {
                escaped = true;
            } else if b == b'"' {
                in_string = false;
            }
        } else if b == b'"' {
            in_string = true;
            out.push(b);
        } else if !matches!(b, b' ' | b'\t' | b'\r' | b'\n') {
            out.push(b);
        }
    }
    out
}

/// The value at `path` (`$.a.b[2].c`, as the search writes it) in `doc`.
pub(crate) fn at_path<'v>(doc: &'v Value, path: &str) -> Option<&'v Value> {
    let mut v = doc;
    let mut rest = path.strip_prefix('$')?;
    while !rest.is_empty() {
        if let Some(r) = rest.strip_prefix('[') {
            let end = r.find(']')?;
            let i: usize = r[..end].parse().ok()?;
            v = v.get(i)?;
            rest = &r[end + 1..];
        } else if let Some(r) = rest.strip_prefix('.') {
            let end = r.find(['.', '[']).unwrap_or(r.len());
            v = v.get(&r[..end])?;
            rest = &r[end..];
        } else {
            return None;
        }
    }
    Some(v)
}

/// A value as text for the report: strings as they are, the rest as JSON.
pub(crate) fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// The string (or number) at a JSON pointer, or "".
pub(crate) fn str_at(v: &Value, pointer: &str) -> String {
    v.pointer(pointer).map(text).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_line_keeps_strings_and_drops_layout() {
        let pretty = b"{\r\n  \"a\": \"x  y\\\" \\\\\",\r\n  \"b\": [ 1, 2 ]\r\n}";
        assert_eq!(one_line(pretty), br#"{"a":"x  y\" \\","b":[1,2]}"#.to_vec());
    }

    #[test]
    fn paths_resolve_as_the_search_writes_them() {
        let doc: Value =
            serde_json::from_str(r#"{"a":{"b":[{"c":"x"},{"c":"y"}]},"k.e":1}"#).unwrap();
        assert_eq!(at_path(&doc, "$.a.b[1].c"), Some(&Value::from("y")));
        assert_eq!(at_path(&doc, "$.a.b[2].c"), None);
        assert_eq!(at_path(&doc, "$"), Some(&doc));
        assert_eq!(at_path(&doc, "a.b"), None);
        assert_eq!(str_at(&doc, "/a/b/0/c"), "x");
    }
}
