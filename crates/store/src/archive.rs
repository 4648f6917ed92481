//! The archive's layout, defined once: what `fetch` writes and what the
//! search, the answer and erasure read.
//!
//! `apps/{owner}/{app}/groups/{errorGroupId}/stacktrace.json` and
//! `apps/{owner}/{app}/errors/{errorId}/` with `details.json`,
//! `stacktrace.json`, `download.json`, `session-logs.json`,
//! `attachments.json`, `attachments/{attachmentId}` and `manifest.json`,
//! written last. No `manifest.json` means not fetched.

/// The crash log of an archived crash.
pub const CRASH_LOG: &str = "download.json";
/// The crash's details.
pub const DETAILS: &str = "details.json";
/// Written last: the crash is complete when it exists.
pub const MANIFEST: &str = "manifest.json";

/// Checks that an id is safe as one path segment: ASCII letters, digits,
/// `-`, `_` and `.`, not `.` or `..`, at most 200 bytes. Names from a
/// server never become paths unchecked.
pub fn is_safe_segment(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 200
        && id != "."
        && id != ".."
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
}

/// `apps/{owner}/{app}/errors/{errorId}/`, for `app` as `OWNER/APP`.
pub fn crash_folder(app: &str, error_id: &str) -> String {
    format!("apps/{app}/errors/{error_id}/")
}

/// `apps/{owner}/{app}/errors/{errorId}/{name}`.
pub fn crash_object(app: &str, error_id: &str, name: &str) -> String {
    format!("apps/{app}/errors/{error_id}/{name}")
}

/// `apps/{owner}/{app}/groups/{groupId}/stacktrace.json`.
pub fn group_stacktrace(app: &str, group_id: &str) -> String {
    format!("apps/{app}/groups/{group_id}/stacktrace.json")
}

/// An object inside an archived crash's folder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CrashObject<'a> {
    /// `OWNER/APP`.
    pub app: String,
    /// The crash's error id.
    pub error_id: &'a str,
    /// The object's name inside the crash folder (`details.json`,
    /// `attachments/{id}`).
    pub artefact: &'a str,
    /// The crash folder, `/`-terminated, as it appears in `path` (with
    /// whatever came before `apps/`).
    pub folder: &'a str,
}

impl<'a> CrashObject<'a> {
    /// Parses `…apps/{owner}/{app}/errors/{errorId}/{artefact}`; `apps` may
    /// sit below a prefix (an archive copied into a folder).
    pub fn parse(path: &'a str) -> Option<Self> {
        let start = if path.starts_with("apps/") {
            0
        } else {
            path.find("/apps/")? + 1
        };
        let rest = &path[start..];
        let mut parts = rest.splitn(6, '/');
        let (Some("apps"), Some(owner), Some(app), Some("errors"), Some(error_id), Some(artefact)) = (
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
        ) else {
            return None;
        };
        if artefact.is_empty() || error_id.is_empty() {
            return None;
        }
        let folder_len = start + rest.len() - artefact.len();
        Some(Self {
            app: format!("{owner}/{app}"),
            error_id,
            artefact,
            folder: &path[..folder_len],
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_what_it_builds() {
        let p = crash_object("o/a", "e1", "attachments/x");
        let c = CrashObject::parse(&p).unwrap();
        assert_eq!(
            (c.app.as_str(), c.error_id, c.artefact, c.folder),
            ("o/a", "e1", "attachments/x", "apps/o/a/errors/e1/")
        );
        assert_eq!(c.folder, crash_folder("o/a", "e1"));
        let nested = CrashObject::parse("copy/apps/o/a/errors/e1/details.json").unwrap();
        assert_eq!(nested.folder, "copy/apps/o/a/errors/e1/");
        for not in [
            "apps/o/a/groups/g/stacktrace.json",
            "apps/o/a/errors/e1/",
            "apps/o/a/errors/e1",
            "myapps/o/a/errors/e1/x",
            "2024/01/01/00/00/logs.v1.data",
        ] {
            assert_eq!(CrashObject::parse(not), None, "{not}");
        }
    }

    #[test]
    fn safe_segments() {
        for ok in ["abc", "A-1_2.3", "0d8f"] {
            assert!(is_safe_segment(ok), "{ok}");
        }
        for bad in ["", ".", "..", "a/b", "a b", "é", &"x".repeat(201)] {
            assert!(!is_safe_segment(bad), "{bad}");
        }
    }
}
