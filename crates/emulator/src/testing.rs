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

/// A store call, as [`Faulty`] tells them apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Call {
    /// A read (`get`, `head`, a range).
    Get,
    /// A write (`put`, a multipart upload).
    Put,
    /// A delete.
    Delete,
    /// A copy.
    Copy,
}

type Fault = dyn Fn(Call, &object_store::path::Path) -> Option<object_store::Error> + Send + Sync;

/// An object store that fails the calls its fault function picks (with the
/// error it returns) and passes every other call, and every listing, to
/// the store inside.
pub struct Faulty {
    inner: std::sync::Arc<dyn object_store::ObjectStore>,
    fault: std::sync::Arc<Fault>,
}

impl Faulty {
    /// Fails a call to `inner` when `fault` returns an error for it.
    pub fn new(
        inner: std::sync::Arc<dyn object_store::ObjectStore>,
        fault: impl Fn(Call, &object_store::path::Path) -> Option<object_store::Error>
        + Send
        + Sync
        + 'static,
    ) -> Self {
        Self {
            inner,
            fault: std::sync::Arc::new(fault),
        }
    }

    fn check(&self, call: Call, at: &object_store::path::Path) -> object_store::Result<()> {
        (self.fault)(call, at).map_or(Ok(()), Err)
    }
}

impl std::fmt::Debug for Faulty {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Faulty({})", self.inner)
    }
}

impl std::fmt::Display for Faulty {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Faulty({})", self.inner)
    }
}

#[async_trait::async_trait]
impl object_store::ObjectStore for Faulty {
    async fn put_opts(
        &self,
        location: &object_store::path::Path,
        payload: object_store::PutPayload,
        opts: object_store::PutOptions,
    ) -> object_store::Result<object_store::PutResult> {
        self.check(Call::Put, location)?;
        self.inner.put_opts(location, payload, opts).await
    }

    async fn put_multipart_opts(
        &self,
        location: &object_store::path::Path,
        opts: object_store::PutMultipartOptions,
    ) -> object_store::Result<Box<dyn object_store::MultipartUpload>> {
        self.check(Call::Put, location)?;
        self.inner.put_multipart_opts(location, opts).await
    }

    async fn get_opts(
        &self,
        location: &object_store::path::Path,
        options: object_store::GetOptions,
    ) -> object_store::Result<object_store::GetResult> {
        self.check(Call::Get, location)?;
        self.inner.get_opts(location, options).await
    }

    fn delete_stream(
        &self,
        locations: futures::stream::BoxStream<
            'static,
            object_store::Result<object_store::path::Path>,
        >,
    ) -> futures::stream::BoxStream<'static, object_store::Result<object_store::path::Path>> {
        use futures::StreamExt as _;
        // One delete at a time, each checked first.
        let (inner, fault) = (self.inner.clone(), self.fault.clone());
        locations
            .then(move |location| {
                let (inner, fault) = (inner.clone(), fault.clone());
                async move {
                    let location = location?;
                    if let Some(e) = fault(Call::Delete, &location) {
                        return Err(e);
                    }
                    let one = futures::stream::once(async move { Ok(location) }).boxed();
                    inner.delete_stream(one).next().await.unwrap_or_else(|| {
                        Err(object_store::Error::Generic {
                            store: "faulty",
                            source: "the inner store answered no delete".into(),
                        })
                    })
                }
            })
            .boxed()
    }

    fn list(
        &self,
        prefix: Option<&object_store::path::Path>,
    ) -> futures::stream::BoxStream<'static, object_store::Result<object_store::ObjectMeta>> {
        self.inner.list(prefix)
    }

    async fn list_with_delimiter(
        &self,
        prefix: Option<&object_store::path::Path>,
    ) -> object_store::Result<object_store::ListResult> {
        self.inner.list_with_delimiter(prefix).await
    }

    async fn copy_opts(
        &self,
        from: &object_store::path::Path,
        to: &object_store::path::Path,
        options: object_store::CopyOptions,
    ) -> object_store::Result<()> {
        self.check(Call::Copy, to)?;
        self.inner.copy_opts(from, to, options).await
    }
}

/// Writes `bytes` to `root/path`, making its folders: an export written
/// by hand, in a shape the emulator does not write.
pub fn put(root: &Path, path: &str, bytes: &[u8]) {
    let p = root.join(path);
    std::fs::create_dir_all(p.parent().expect("a file has a folder"))
        .expect("making a test folder");
    std::fs::write(p, bytes).expect("writing a test file");
}

/// `data` as one gzip member.
pub fn gzip(data: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(data).expect("gzip into memory");
    e.finish().expect("gzip into memory")
}

/// Every text an object holds, decoded independently of the search's own
/// decoders, as an auditor would: as stored, UTF-16, gzip, zip members
/// (and their names), tar members, and every JSON string with its escapes
/// undone (JSON inside strings parsed again).
pub fn decoded_texts(bytes: &[u8]) -> Vec<String> {
    let mut out = Vec::new();
    texts(bytes, &mut out);
    out
}

fn texts(bytes: &[u8], out: &mut Vec<String>) {
    use std::io::Read;
    out.push(String::from_utf8_lossy(bytes).into_owned());
    if bytes.len() >= 2 && bytes.contains(&0) {
        for le in [true, false] {
            let units: Vec<u16> = bytes
                .chunks_exact(2)
                .map(|c| {
                    if le {
                        u16::from_le_bytes([c[0], c[1]])
                    } else {
                        u16::from_be_bytes([c[0], c[1]])
                    }
                })
                .collect();
            out.push(String::from_utf16_lossy(&units));
        }
    }
    if bytes.starts_with(&[0x1f, 0x8b]) {
        let mut d = Vec::new();
        if flate2::read::MultiGzDecoder::new(bytes)
            .read_to_end(&mut d)
            .is_ok()
        {
            texts(&d, out);
        }
    }
    if bytes.starts_with(b"PK\x03\x04")
        && let Ok(mut a) = zip::ZipArchive::new(std::io::Cursor::new(bytes))
    {
        for i in 0..a.len() {
            let Ok(mut f) = a.by_index(i) else { continue };
            out.push(f.name().map(|n| n.into_owned()).unwrap_or_default());
            let mut d = Vec::new();
            if f.read_to_end(&mut d).is_ok() {
                texts(&d, out);
            }
        }
    }
    if bytes.len() >= 512 && &bytes[257..262] == b"ustar" {
        let mut a = tar::Archive::new(bytes);
        for mut e in a.entries().into_iter().flatten().flatten() {
            let mut d = Vec::new();
            if e.read_to_end(&mut d).is_ok() {
                texts(&d, out);
            }
        }
    }
    if let Ok(v) = serde_json::from_slice::<serde_json::Value>(bytes) {
        strings(&v, out);
    }
}

fn strings(v: &serde_json::Value, out: &mut Vec<String>) {
    use serde_json::Value;
    match v {
        Value::String(s) => {
            out.push(s.clone());
            if let Ok(inner) = serde_json::from_str::<Value>(s) {
                strings(&inner, out);
            }
        }
        Value::Array(a) => a.iter().for_each(|x| strings(x, out)),
        Value::Object(o) => o.iter().for_each(|(k, x)| {
            out.push(k.clone());
            strings(x, out);
        }),
        _ => {}
    }
}

/// A small deterministic generator (xorshift): random test data that
/// repeats, so a failure does too.
#[derive(Debug, Clone)]
pub struct Rng(pub u64);

impl Rng {
    /// The next number.
    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    /// A number below `n`.
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }
}

/// The export of the remote benchmarks: `errors` errors over 28 days
/// (seed 7) in the small-objects shape (.NET style, no app id in the
/// paths), written into a new in-memory object store; the store, its
/// objects, and jane's identifiers (`kind=value`).
pub async fn export_in_memory(
    errors: u64,
) -> (
    std::sync::Arc<dyn object_store::ObjectStore>,
    u64,
    Vec<String>,
) {
    use crate::export::{ExportPlan, ExportStyle, write};
    let mut cfg = crate::DatasetConfig::new(7);
    cfg.errors_per_app = errors;
    cfg.span_days = 28;
    let data = crate::Dataset::new(cfg.clone());
    let store: std::sync::Arc<dyn object_store::ObjectStore> =
        std::sync::Arc::new(object_store::memory::InMemory::new());
    let plan = ExportPlan::whole(
        &cfg,
        crashdsr_appcenter::models::BlobPathFormatKind::WithoutAppId,
        ExportStyle::Dotnet,
    );
    let objects = write(&data, &plan, store.clone(), |_| true)
        .await
        .expect("writing to memory");
    let jane = data
        .truth()
        .subjects
        .into_iter()
        .find(|s| s.label == "jane")
        .expect("the dataset has jane");
    (store, objects, jane.specs())
}

/// `inner` behind object_store's `ThrottledStore`: each GET and each LIST
/// call waits `latency`, and each delimited LIST (one folder) too when
/// `delimited`.
pub fn throttled(
    inner: &std::sync::Arc<dyn object_store::ObjectStore>,
    latency: std::time::Duration,
    delimited: bool,
) -> std::sync::Arc<dyn object_store::ObjectStore> {
    use object_store::throttle::{ThrottleConfig, ThrottledStore};
    std::sync::Arc::new(ThrottledStore::new(
        inner.clone(),
        ThrottleConfig {
            wait_get_per_call: latency,
            wait_list_per_call: latency,
            wait_list_with_delimiter_per_call: if delimited {
                latency
            } else {
                std::time::Duration::ZERO
            },
            ..Default::default()
        },
    ))
}
