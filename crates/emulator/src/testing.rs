//! Helpers for the tests of the crates that test against the emulator.

use std::path::{Path, PathBuf};

/// A fresh directory under the system temp dir, removed when dropped.
#[derive(Debug)]
pub struct TempDir(PathBuf);

impl TempDir {
    /// Creates `crashdsr-{tag}-{pid}-{nanos}`.
    pub fn new(tag: &str) -> Self {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default();
        let p = std::env::temp_dir().join(format!("crashdsr-{tag}-{}-{nanos}", std::process::id()));
        std::fs::create_dir_all(&p).expect("creating a temp dir");
        Self(p)
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Every file under `root`: its path relative to `root`, `/`-separated,
/// sorted.
pub fn files(root: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).expect("reading a test directory") {
            let p = e.expect("a directory entry").path();
            if p.is_dir() {
                stack.push(p);
            } else if let Ok(rel) = p.strip_prefix(root) {
                out.push(rel.to_string_lossy().replace('\\', "/"));
            }
        }
    }
    out.sort();
    out
}

/// The SHA-256 (hex) of every file under `root`, by [`files`]' path.
pub fn snapshot(root: &Path) -> std::collections::BTreeMap<String, String> {
    use sha2::Digest;
    files(root)
        .into_iter()
        .map(|rel| {
            let bytes = std::fs::read(root.join(&rel)).expect("reading a test file");
            let sha: String = sha2::Sha256::digest(&bytes)
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect();
            (rel, sha)
        })
        .collect()
}

/// Makes `to` a copy of the files under `from`, removing what `to` held.
pub fn copy_tree(from: &Path, to: &Path) {
    if to.exists() {
        std::fs::remove_dir_all(to).expect("removing a test directory");
    }
    for rel in files(from) {
        let dest = to.join(&rel);
        std::fs::create_dir_all(dest.parent().expect("a parent"))
            .expect("creating a test directory");
        std::fs::copy(from.join(&rel), dest).expect("copying a test file");
    }
}

/// The subject of `truth` with the most crashes (direct and linked): the
/// one whose erasure or answer touches the most.
pub fn busiest(truth: &crate::Truth) -> crate::TruthSubject {
    truth
        .subjects
        .iter()
        .max_by_key(|s| s.direct.len() + s.linked.len())
        .expect("the truth has subjects")
        .clone()
}
