//! The continuous export's layout and its device-log reader, for the shapes
//! App Center really wrote, not only the tidy one.
//!
//! Container `archive`; one folder per minute, UTC: `[{appId}/]yyyy/MM/dd/HH/mm/`.
//! Inside: any number of `logs*.v1.data` blobs, each a JSON array of device
//! logs; `crashes/{errorId}.json` and `errors/{errorId}.json`, one SDK log
//! each; `attachments/{attachmentId}`, the bytes as uploaded.
//!
//! Exports written by .NET code (App Center's backend used Newtonsoft.Json)
//! differ from the tidy shape: a field may be `null` or a number, a blob may
//! start with a byte-order mark (UTF-8, or UTF-16 with its BOM), arrays may
//! be pretty-printed with CRLF line ends, and `Properties` of an error or
//! attachment log may be a JSON object, a string holding JSON (possibly
//! encoded twice), or the name of the blob it describes (Microsoft's own
//! sample reader takes it as that). The reader accepts all of them and
//! never lets one damaged record hide the records after it: it resyncs at
//! the next element that parses, and says what it skipped.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::ops::Range;

use serde_json::{Map, Value};

pub use crashdsr_store::export::{BlobKind, ExportBlob, classify};

/// A blob's text as UTF-8: a UTF-8 byte-order mark is dropped and UTF-16
/// with a byte-order mark (either order) is transcoded. Anything else is
/// returned as it is.
pub fn blob_text(bytes: &[u8]) -> Cow<'_, [u8]> {
    if let Some(rest) = bytes.strip_prefix(b"\xEF\xBB\xBF") {
        return Cow::Borrowed(rest);
    }
    let (decoder, rest) = match bytes {
        [0xFF, 0xFE, rest @ ..] => (encoding_rs::UTF_16LE, rest),
        [0xFE, 0xFF, rest @ ..] => (encoding_rs::UTF_16BE, rest),
        _ => return Cow::Borrowed(bytes),
    };
    let (text, _) = decoder.decode_without_bom_handling(rest);
    Cow::Owned(text.into_owned().into_bytes())
}

/// A device log of a `logs*.v1.data` blob. Every field is read as text
/// whatever its JSON type (`null` reads as empty, a number as its digits);
/// the fields attribution needs are named, the rest kept.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct DeviceLog {
    /// `ErrorLog`, `HandledErrorLog`, `ErrorAttachmentLog`, `EventLog`,
    /// `StartSessionLog`, or any other (kept as it is).
    pub message_type: String,
    /// The install the log came from (lower case).
    pub install_id: String,
    /// The developer-set user id (may be empty).
    pub user_id: String,
    /// When.
    pub timestamp: String,
    /// The app's id.
    pub app_id: String,
    /// The session.
    pub session_id: String,
    /// `Properties` as text: a JSON object's text, or the string it held.
    pub properties: String,
    /// Every other field.
    pub other: BTreeMap<String, Value>,
}

fn text_of(v: Value) -> String {
    match v {
        Value::String(s) => s,
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// The fields of a device log that attribution needs, borrowed as raw
/// JSON: no map is built for the record.
#[derive(serde::Deserialize)]
struct Fields<'a> {
    #[serde(borrow, rename = "MessageType", alias = "messageType")]
    message_type: Option<&'a serde_json::value::RawValue>,
    #[serde(borrow, rename = "InstallId", alias = "installId")]
    install_id: Option<&'a serde_json::value::RawValue>,
    #[serde(borrow, rename = "UserId", alias = "userId")]
    user_id: Option<&'a serde_json::value::RawValue>,
    #[serde(borrow, rename = "Timestamp", alias = "timestamp")]
    timestamp: Option<&'a serde_json::value::RawValue>,
    #[serde(borrow, rename = "AppId", alias = "appId")]
    app_id: Option<&'a serde_json::value::RawValue>,
    #[serde(borrow, rename = "SessionId", alias = "sessionId")]
    session_id: Option<&'a serde_json::value::RawValue>,
    #[serde(borrow, rename = "Properties", alias = "properties")]
    properties: Option<&'a serde_json::value::RawValue>,
}

/// A raw JSON value as text: a string's contents, nothing for `null`,
/// anything else as written.
fn raw_text(v: Option<&serde_json::value::RawValue>) -> String {
    let Some(raw) = v.map(|r| r.get().trim()) else {
        return String::new();
    };
    match raw.as_bytes().first() {
        Some(b'"') => serde_json::from_str(raw).unwrap_or_default(),
        _ if raw == "null" => String::new(),
        _ => raw.to_owned(),
    }
}

impl DeviceLog {
    /// Reads the fields attribution needs from one element's JSON text,
    /// without building a map of the whole record (`other` stays empty).
    /// Keys in other cases than `MessageType`/`messageType` fall back to
    /// the full reading.
    pub fn attribution_fields(json: &[u8]) -> Result<Self, RecordError> {
        let f: Fields<'_> = serde_json::from_slice(json)?;
        if f.message_type.is_none() {
            return parse_object(json).map(Self::from_map);
        }
        let mut log = Self {
            message_type: raw_text(f.message_type),
            install_id: raw_text(f.install_id),
            user_id: raw_text(f.user_id),
            timestamp: raw_text(f.timestamp),
            app_id: raw_text(f.app_id),
            session_id: raw_text(f.session_id),
            properties: raw_text(f.properties),
            other: BTreeMap::new(),
        };
        log.install_id.make_ascii_lowercase();
        Ok(log)
    }

    /// Reads a device log from a parsed JSON object. Keys are matched
    /// without regard to case.
    pub fn from_map(map: Map<String, Value>) -> Self {
        let mut log = Self::default();
        for (k, v) in map {
            let slot = match k.to_ascii_lowercase().as_str() {
                "messagetype" => &mut log.message_type,
                "installid" => &mut log.install_id,
                "userid" => &mut log.user_id,
                "timestamp" => &mut log.timestamp,
                "appid" => &mut log.app_id,
                "sessionid" => &mut log.session_id,
                "properties" => &mut log.properties,
                _ => {
                    log.other.insert(k, v);
                    continue;
                }
            };
            *slot = text_of(v);
        }
        log.install_id.make_ascii_lowercase();
        log
    }

    /// Whether this log describes an error or an attachment of one.
    pub fn is_diagnostic(&self) -> bool {
        matches!(
            self.message_type.as_str(),
            "ErrorLog" | "HandledErrorLog" | "ErrorAttachmentLog"
        )
    }

    /// The link of an `ErrorLog`, `HandledErrorLog` or `ErrorAttachmentLog`
    /// (from its `Properties`, in any of the shapes above).
    pub fn link(&self) -> Option<Link> {
        if !self.is_diagnostic() {
            return None;
        }
        Link::parse(&self.properties)
    }
}

/// Parses `s` as JSON, unwrapping strings that hold JSON again (a value
/// serialised twice).
fn unwrap_json(s: &str) -> Option<Value> {
    let mut v: Value = serde_json::from_str(s.trim()).ok()?;
    for _ in 0..3 {
        match v {
            Value::String(inner) => match serde_json::from_str(inner.trim()) {
                Ok(next) => v = next,
                Err(_) => return Some(Value::String(inner)),
            },
            other => return Some(other),
        }
    }
    Some(v)
}

/// What a diagnostics device log points at.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Link {
    /// The crash's error id, when the record names it.
    pub error_id: Option<String>,
    /// The blob: relative to the minute folder, or a path in the container.
    pub blob: Option<String>,
    /// The attachment id (attachment logs).
    pub attachment_id: Option<String>,
    /// The attachment's content type.
    pub content_type: Option<String>,
    /// The attachment's file name (never used as a path).
    pub file_name: Option<String>,
}

impl Link {
    /// Reads `Properties`: a JSON object with `ErrorId`, `Blob`,
    /// `AttachmentId`, `ContentType`, `FileName` (any case, values of any
    /// type), possibly serialised into a string once or twice; or the
    /// blob's name.
    pub fn parse(properties: &str) -> Option<Self> {
        let p = properties.trim();
        if p.is_empty() {
            return None;
        }
        match unwrap_json(p) {
            Some(Value::Object(map)) => {
                let mut link = Self::default();
                for (k, v) in map {
                    let slot = match k.to_ascii_lowercase().as_str() {
                        "errorid" => &mut link.error_id,
                        "blob" => &mut link.blob,
                        "attachmentid" => &mut link.attachment_id,
                        "contenttype" => &mut link.content_type,
                        "filename" => &mut link.file_name,
                        _ => continue,
                    };
                    *slot = Some(text_of(v)).filter(|s| !s.is_empty());
                }
                link.fill_from_blob();
                Some(link)
            }
            Some(Value::String(name)) => Self::from_blob_name(&name),
            Some(_) => None,
            None => Self::from_blob_name(p),
        }
    }

    fn from_blob_name(name: &str) -> Option<Self> {
        let name = name.trim();
        if name.is_empty() || name.contains(['{', '\n']) || !name.contains('/') {
            return None;
        }
        let mut link = Self {
            blob: Some(name.to_owned()),
            ..Self::default()
        };
        link.fill_from_blob();
        Some(link)
    }

    /// Fills the ids a blob name gives (`crashes/{id}.json`,
    /// `attachments/{id}`), where the record did not say them.
    fn fill_from_blob(&mut self) {
        let Some(blob) = &self.blob else { return };
        let mut parts = blob.trim_start_matches('/').rsplit('/');
        let (name, dir) = (parts.next().unwrap_or_default(), parts.next());
        match dir {
            Some("crashes" | "errors") if self.error_id.is_none() => {
                self.error_id = name.strip_suffix(".json").map(str::to_owned);
            }
            Some("attachments") if !name.is_empty() && self.attachment_id.is_none() => {
                self.attachment_id = Some(name.to_owned());
            }
            _ => {}
        }
    }

    /// The blob's path in the container, for a record in `minute`.
    pub fn blob_path(&self, minute: &str) -> Option<String> {
        let blob = self.blob.as_deref()?.trim_start_matches('/');
        Some(if classify(blob).is_some() {
            blob.to_owned()
        } else {
            format!("{minute}{blob}")
        })
    }
}

/// One element of a device-log array.
#[derive(Debug, Clone, PartialEq)]
pub struct DeviceLogRecord {
    /// Position among the array's elements (damaged ones count too).
    pub index: usize,
    /// Byte range of the element in the blob's text.
    pub span: Range<usize>,
    /// The parsed log.
    pub log: DeviceLog,
}

/// A device-log blob, read.
#[derive(Debug, Clone, PartialEq)]
pub struct DeviceLogs<'a> {
    /// The blob's text (see [`blob_text`]); spans index into it.
    pub text: Cow<'a, [u8]>,
    /// Every element that parsed, in order.
    pub records: Vec<DeviceLogRecord>,
    /// What was wrong, one line per problem (empty for a sound blob).
    pub warnings: Vec<String>,
}

/// The longest element the resync tries (a device log is a few KB).
pub(crate) const MAX_ELEMENT: usize = 4 << 20;

/// Splits a device-log blob into its elements and parses each: a JSON
/// array (compact, pretty, CRLF), or JSON objects one after the other
/// (JSON Lines). A damaged element is skipped with a warning and reading
/// goes on at the next element that parses; a blob cut short keeps every
/// complete element before the cut.
pub fn parse_device_logs(bytes: &[u8]) -> DeviceLogs<'_> {
    let text = blob_text(bytes);
    let (elements, warnings) = split(&text, true);
    let records = elements
        .into_iter()
        .filter_map(|(index, span, map)| {
            map.map(|m| DeviceLogRecord {
                index,
                span,
                log: DeviceLog::from_map(m),
            })
        })
        .collect();
    DeviceLogs {
        text,
        records,
        warnings,
    }
}

/// A device-log blob split into its elements, none parsed yet: the search
/// parses only the elements it needs.
#[derive(Debug, Clone, PartialEq)]
pub struct DeviceLogElements<'a> {
    /// The blob's text (see [`blob_text`]); spans index into it.
    pub text: Cow<'a, [u8]>,
    /// `(index, span)` of each element whose structure is sound.
    pub elements: Vec<(usize, Range<usize>)>,
    /// Structural damage, one line per problem.
    pub warnings: Vec<String>,
}

impl DeviceLogElements<'_> {
    /// Parses the element at `span`, reading only the fields attribution
    /// needs (`other` stays empty).
    pub fn parse(&self, span: &Range<usize>) -> Result<DeviceLog, RecordError> {
        DeviceLog::attribution_fields(&self.text[span.clone()])
    }
}

/// Splits a device-log blob's text (as [`blob_text`] gives it) the way
/// [`parse_device_logs`] does, checking each element's structure (strings,
/// matching brackets) but not parsing it.
pub fn split_device_logs(text: Cow<'_, [u8]>) -> DeviceLogElements<'_> {
    let (elements, warnings) = split(&text, false);
    DeviceLogElements {
        elements: elements.into_iter().map(|(i, span, _)| (i, span)).collect(),
        text,
        warnings,
    }
}

/// One element found by [`split`]: its index, span, and the parsed object
/// when asked to parse.
type Element = (usize, Range<usize>, Option<Map<String, Value>>);

fn split(b: &[u8], parse: bool) -> (Vec<Element>, Vec<String>) {
    let mut records = Vec::new();
    let mut warnings = Vec::new();
    let mut i = skip_ws(b, 0);
    let array = match b.get(i) {
        Some(b'[') => {
            i += 1;
            true
        }
        Some(b'{') => false,
        None => {
            warnings.push("the blob is empty".to_owned());
            return (records, warnings);
        }
        Some(_) => {
            warnings.push("not a JSON array of device logs".to_owned());
            return (records, warnings);
        }
    };
    let mut index = 0usize;
    loop {
        i = skip_ws(b, i);
        match b.get(i) {
            None => {
                if array {
                    warnings.push(format!(
                        "the array ends after {index} elements without its closing `]`"
                    ));
                }
                break;
            }
            Some(b']') if array => break,
            Some(b'{') => {}
            Some(c) => {
                let what = format!("unexpected {:?} at byte {i}", *c as char);
                match resync(b, i + 1) {
                    Some(next) => {
                        warnings.push(format!("{what}; skipped to byte {next}"));
                        i = next;
                        continue;
                    }
                    None => {
                        warnings.push(format!("{what}; nothing after it parses"));
                        break;
                    }
                }
            }
        }
        let start = i;
        let parsed = element_end(b, start, usize::MAX).map(|end| {
            let map = if parse {
                parse_object(&b[start..end]).map(Some)
            } else {
                Ok(None)
            };
            (end, map)
        });
        match parsed {
            Some((end, Ok(map))) => {
                records.push((index, start..end, map));
                index += 1;
                i = skip_ws(b, end);
                match b.get(i) {
                    Some(b',') => i += 1,
                    Some(b']') if array => break,
                    Some(b'{') if !array => {}
                    None => {}
                    Some(_) => {} // reported on the next turn
                }
            }
            other => {
                let why = match &other {
                    Some((_, Err(e))) => format!("is not a device log ({e})"),
                    _ => "is damaged".to_owned(),
                };
                index += 1;
                match (resync(b, start + 1), other) {
                    (Some(next), _) => {
                        warnings.push(format!(
                            "element {} (from byte {start}) {why}; skipped to byte {next}",
                            index - 1
                        ));
                        i = next;
                    }
                    (None, Some((end, _))) => {
                        warnings.push(format!("element {} (from byte {start}) {why}", index - 1));
                        i = end;
                    }
                    (None, None) => {
                        warnings.push(format!(
                            "the blob is cut inside element {} (from byte {start})",
                            index - 1
                        ));
                        break;
                    }
                }
            }
        }
    }
    (records, warnings)
}

/// Why a device-log element could not be read as a record.
#[derive(Debug, thiserror::Error)]
pub enum RecordError {
    /// It is not JSON.
    #[error("{0}")]
    Json(#[from] serde_json::Error),
    /// It is JSON, but not an object.
    #[error("not a JSON object")]
    NotAnObject,
}

fn parse_object(b: &[u8]) -> Result<Map<String, Value>, RecordError> {
    match serde_json::from_slice::<Value>(b)? {
        Value::Object(m) => Ok(m),
        _ => Err(RecordError::NotAnObject),
    }
}

/// The next `{` at or after `from` that starts an element: it stands
/// where an element may (after `[`, `,` or another element), parses, and
/// is followed by a separator.
fn resync(b: &[u8], from: usize) -> Option<usize> {
    let mut at = from;
    while let Some(off) = memchr::memchr(b'{', b.get(at..)?) {
        let p = at + off;
        let before = b[..p].iter().rev().find(|c| !c.is_ascii_whitespace());
        if matches!(before, None | Some(b'[' | b',' | b'}' | b']'))
            && let Some(end) = element_end(b, p, MAX_ELEMENT)
            && parse_object(&b[p..end]).is_ok()
            && matches!(b.get(skip_ws(b, end)), None | Some(b',' | b']' | b'{'))
        {
            return Some(p);
        }
        at = p + 1;
    }
    None
}

pub(crate) fn skip_ws(b: &[u8], mut i: usize) -> usize {
    while b.get(i).is_some_and(|c| c.is_ascii_whitespace()) {
        i += 1;
    }
    i
}

/// The end (exclusive) of the JSON object or array starting at `i`, if it
/// is complete within `max` bytes and its brackets match (up to 64 deep).
pub(crate) fn element_end(b: &[u8], i: usize, max: usize) -> Option<usize> {
    // One bit per open bracket: 1 for `[`, 0 for `{`.
    let (mut depth, mut kinds, mut in_str) = (0u32, 0u64, false);
    let mut j = i;
    let stop = b.len().min(i.saturating_add(max));
    while j < stop {
        if in_str {
            // Jump to the next quote or backslash.
            let off = memchr::memchr2(b'"', b'\\', &b[j..stop])?;
            j += off;
            if b[j] == b'\\' {
                j += 2;
                continue;
            }
            in_str = false;
        } else {
            match b[j] {
                b'"' => in_str = true,
                c @ (b'{' | b'[') => {
                    if depth == 64 {
                        return None;
                    }
                    kinds = (kinds << 1) | u64::from(c == b'[');
                    depth += 1;
                }
                c @ (b'}' | b']') => {
                    if depth == 0 || (kinds & 1 == 1) != (c == b']') {
                        return None;
                    }
                    kinds >>= 1;
                    depth -= 1;
                    if depth == 0 {
                        return Some(j + 1);
                    }
                }
                _ => {}
            }
        }
        j += 1;
    }
    None
}

/// Whether `bytes` start (after white space) as a JSON object or array.
pub(crate) fn is_json(bytes: &[u8]) -> bool {
    bytes
        .iter()
        .find(|b| !b.is_ascii_whitespace())
        .is_some_and(|b| *b == b'{' || *b == b'[')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_both_path_formats() {
        let b = classify("2026/11/30/12/05/logs.v1.data").unwrap();
        assert_eq!(
            (b.minute.as_str(), b.app_id, b.kind),
            ("2026/11/30/12/05/", None, BlobKind::DeviceLogs)
        );
        assert_eq!(
            classify("2026/11/30/12/05/logs_0001.v1.data").unwrap().kind,
            BlobKind::DeviceLogs
        );
        let b = classify("046d56b8-ea26-4653-97ba-12b8f99c3ef5/2026/11/30/12/05/crashes/1-a.json")
            .unwrap();
        assert_eq!(
            b.app_id.as_deref(),
            Some("046d56b8-ea26-4653-97ba-12b8f99c3ef5")
        );
        assert_eq!(
            b.kind,
            BlobKind::Crash {
                error_id: "1-a".into(),
                handled: false
            }
        );
        assert_eq!(
            classify("2026/11/30/12/05/errors/2-b.json").unwrap().kind,
            BlobKind::Crash {
                error_id: "2-b".into(),
                handled: true
            }
        );
        assert_eq!(
            classify("2026/11/30/12/05/attachments/x").unwrap().kind,
            BlobKind::Attachment {
                attachment_id: "x".into()
            }
        );
        for not in [
            "readme.txt",
            "2026/11/30/12/logs.v1.data",
            "2026/11/30/12/05/crashes/x.txt",
            "a/b/2026/11/30/12/05/logs.v1.data",
        ] {
            assert_eq!(classify(not), None, "{not}");
        }
    }

    const A: &str = r#"{"MessageType":"ErrorLog","InstallId":"I","UserId":"","Properties":"{\"ErrorId\":\"e1\",\"Blob\":\"crashes/e1.json\"}","Model":"x]"}"#;
    const B: &str =
        r#"{"MessageType":"EventLog","InstallId":"j","Properties":"{\"k\":\"v, [x\"}"}"#;

    #[test]
    fn splits_arrays_with_spans() {
        let file = format!(" [ {A} ,\n{B} ] ");
        let logs = parse_device_logs(file.as_bytes());
        assert!(logs.warnings.is_empty(), "{:?}", logs.warnings);
        let recs = &logs.records;
        assert_eq!(recs.len(), 2);
        assert_eq!(&file[recs[0].span.clone()], A);
        assert_eq!(&file[recs[1].span.clone()], B);
        assert_eq!(recs[0].log.install_id, "i");
        let link = recs[0].log.link().unwrap();
        assert_eq!(
            (link.error_id.as_deref(), link.blob.as_deref()),
            (Some("e1"), Some("crashes/e1.json"))
        );
        assert_eq!(recs[1].log.link(), None);
        assert_eq!(recs[0].log.other["Model"], "x]");
    }

    #[test]
    fn nulls_numbers_unknown_types_bom_crlf_and_json_lines() {
        let pretty = "\u{feff}[\r\n  {\r\n    \"MessageType\": \"ErrorLog\",\r\n    \"UserId\": null,\r\n    \"OsApiLevel\": 29,\r\n    \"IsTestMessage\": false,\r\n    \"Properties\": null\r\n  },\r\n  {\"MessageType\": \"BrandNewLog\", \"InstallId\": null}\r\n]\r\n";
        let logs = parse_device_logs(pretty.as_bytes());
        assert!(logs.warnings.is_empty(), "{:?}", logs.warnings);
        assert_eq!(logs.records.len(), 2);
        assert_eq!(logs.records[0].log.user_id, "");
        assert_eq!(logs.records[0].log.other["OsApiLevel"], 29);
        assert_eq!(logs.records[0].log.link(), None);
        assert_eq!(logs.records[1].log.message_type, "BrandNewLog");
        // UTF-16 with a BOM, both byte orders.
        for le in [true, false] {
            let mut bytes = if le {
                vec![0xFF, 0xFE]
            } else {
                vec![0xFE, 0xFF]
            };
            for u in format!("[{A}]").encode_utf16() {
                bytes.extend(if le { u.to_le_bytes() } else { u.to_be_bytes() });
            }
            let logs = parse_device_logs(&bytes);
            assert_eq!(logs.records.len(), 1, "{:?}", logs.warnings);
            assert_eq!(&logs.text[logs.records[0].span.clone()], A.as_bytes());
        }
        let lines = format!("{A}\n{B}\n");
        assert_eq!(parse_device_logs(lines.as_bytes()).records.len(), 2);
    }

    #[test]
    fn a_damaged_record_hides_nothing_after_it() {
        // Bad JSON inside a balanced element, an unbalanced one, and junk.
        let file = format!("[{A},{{\"MessageType\": tru}},{B},{{\"x\": [1,2}},{A}, 17, {B}]");
        let logs = parse_device_logs(file.as_bytes());
        let types: Vec<&str> = logs
            .records
            .iter()
            .map(|r| r.log.message_type.as_str())
            .collect();
        assert_eq!(types, ["ErrorLog", "EventLog", "ErrorLog", "EventLog"]);
        assert_eq!(logs.warnings.len(), 3, "{:?}", logs.warnings);
        // A cut keeps what came before it.
        let cut = &file[..file.len() - 20];
        let logs = parse_device_logs(cut.as_bytes());
        assert_eq!(logs.records.len(), 3);
        assert!(
            logs.warnings
                .last()
                .unwrap()
                .contains("nothing after it parses"),
            "{:?}",
            logs.warnings
        );
        let cut = format!("[{A},\r\n{B}");
        let logs = parse_device_logs(&cut.as_bytes()[..cut.len() - 10]);
        assert_eq!(logs.records.len(), 1);
        assert_eq!(
            logs.warnings,
            ["the blob is cut inside element 1 (from byte 136)"]
        );
        assert!(parse_device_logs(b"").warnings[0].contains("empty"));
        assert!(parse_device_logs(b"\"x\"").warnings[0].contains("not a JSON array"));
        assert_eq!(parse_device_logs(b"[]").records, vec![]);
    }

    #[test]
    fn the_quick_reading_agrees_with_the_full_one() {
        for rec in [
            A,
            B,
            r#"{"MessageType":"ErrorAttachmentLog","InstallId":null,"AppId":7,"Properties":{"ErrorId":"e","AttachmentId":"a"}}"#,
            r#"{"messagetype":"EventLog","INSTALLID":"X"}"#,
        ] {
            let mut full = DeviceLog::from_map(parse_object(rec.as_bytes()).unwrap());
            full.other.clear();
            let mut quick = DeviceLog::attribution_fields(rec.as_bytes()).unwrap();
            // An object keeps its key order as written in the quick reading.
            assert_eq!(quick.link(), full.link(), "{rec}");
            quick.properties = full.properties.clone();
            assert_eq!(quick, full, "{rec}");
        }
        assert!(DeviceLog::attribution_fields(b"{\"MessageType\": tru}").is_err());
    }

    #[test]
    fn properties_in_every_shape() {
        let obj = r#"{"ErrorId":"e1","Blob":"crashes/e1.json"}"#;
        let once = serde_json::to_string(obj).unwrap();
        let twice = serde_json::to_string(&once).unwrap();
        for p in [obj, once.as_str(), twice.as_str()] {
            let link = Link::parse(p).unwrap();
            assert_eq!(link.error_id.as_deref(), Some("e1"), "{p}");
            assert_eq!(
                link.blob_path("2026/11/30/12/05/").as_deref(),
                Some("2026/11/30/12/05/crashes/e1.json")
            );
        }
        // A number where a string was expected.
        let link = Link::parse(r#"{"errorid": 123, "AttachmentId": "a"}"#).unwrap();
        assert_eq!(link.error_id.as_deref(), Some("123"));
        // The blob's name, in both path formats.
        for name in [
            "2026/11/30/12/06/attachments/att-1",
            "0f1e/2026/11/30/12/06/attachments/att-1",
        ] {
            let link = Link::parse(name).unwrap();
            assert_eq!(link.attachment_id.as_deref(), Some("att-1"));
            assert_eq!(link.error_id, None);
            assert_eq!(link.blob_path("2026/01/01/00/00/").as_deref(), Some(name));
        }
        let link = Link::parse("\"app/2026/11/30/12/06/crashes/7-x.json\"").unwrap();
        assert_eq!(link.error_id.as_deref(), Some("7-x"));
        assert_eq!(Link::parse(""), None);
        assert_eq!(Link::parse("hello"), None);
    }
}
