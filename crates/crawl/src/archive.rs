//! The archive: where `fetch` writes each crash's artefacts, on any
//! object store (a local directory by default; `az://`, `s3://`).
//!
//! Layout: `apps/{owner}/{app}/groups/{errorGroupId}/stacktrace.json` and
//! `apps/{owner}/{app}/errors/{errorId}/` with `details.json`,
//! `stacktrace.json`, `download.json`, `session-logs.json`,
//! `attachments.json`, `attachments/{attachmentId}` and `manifest.json`,
//! written last. No `manifest.json` means not fetched. Names from the server
//! (attachment file names) never become paths; ids are checked before use.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use crashdsr_store::archive;
use futures::StreamExt;
use object_store::buffered::BufWriter;
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use tokio::io::AsyncWrite;

use crate::error::{Error, Result};

/// Version of the manifest format.
pub const MANIFEST_FORMAT: u32 = 1;

/// An archive on an object store.
#[derive(Debug, Clone)]
pub struct Archive {
    store: Arc<dyn ObjectStore>,
    shown: String,
}

/// One archived artefact.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ArtefactEntry {
    /// Name relative to the crash folder (`details.json`, `attachments/ID`).
    pub name: String,
    /// SHA-256 of the bytes, hex.
    pub sha256: String,
    /// Size in bytes.
    pub size: u64,
}

/// `manifest.json`: the crash is complete when it exists.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    /// [`MANIFEST_FORMAT`].
    pub format: u32,
    /// `OWNER/APP`.
    pub app: String,
    /// Error id.
    pub error_id: String,
    /// Group id.
    pub error_group_id: String,
    /// When the crash was fetched (RFC 3339).
    pub fetched_at: String,
    /// The crash's artefacts, sorted by name.
    pub artefacts: Vec<ArtefactEntry>,
    /// The group stack trace, archived once per group.
    pub group_stacktrace: Option<ArtefactEntry>,
}

/// Checks that a server-provided id is safe as one path segment
/// ([`archive::is_safe_segment`]).
pub(crate) fn safe_id(id: &str) -> Result<&str> {
    if archive::is_safe_segment(id) {
        Ok(id)
    } else {
        Err(Error::Unsafe(format!(
            "refusing the id {id:?} as a path segment"
        )))
    }
}

fn split_app(app: &str) -> Result<(&str, &str)> {
    app.split_once('/')
        .ok_or_else(|| Error::Config(format!("app {app:?}: expected OWNER/APP")))
}

impl Archive {
    /// Opens `url` ([`crashdsr_store::Store::create`]): a local directory
    /// (created if missing), `az://container/prefix` or `s3://bucket/prefix`.
    pub fn open(url: &str) -> Result<Self> {
        let store = crashdsr_store::Store::create(url)?;
        Ok(Self {
            store: store.object_store().clone(),
            shown: store.url().to_owned(),
        })
    }

    /// An archive over any object store (tests).
    pub fn from_store(store: Arc<dyn ObjectStore>, name: &str) -> Self {
        Self {
            store,
            shown: name.to_owned(),
        }
    }

    /// The URL, without credentials.
    pub fn url(&self) -> &str {
        &self.shown
    }

    /// The underlying store.
    pub fn store(&self) -> &Arc<dyn ObjectStore> {
        &self.store
    }

    /// `apps/{owner}/{app}/errors/{errorId}/{name}` (the layout of
    /// [`crashdsr_store::archive`]), each id checked.
    pub fn error_path(app: &str, error_id: &str, name: &str) -> Result<Path> {
        let (owner, app_name) = split_app(app)?;
        let app = format!("{}/{}", safe_id(owner)?, safe_id(app_name)?);
        Ok(Path::from(archive::crash_object(
            &app,
            safe_id(error_id)?,
            name,
        )))
    }

    /// `apps/{owner}/{app}/groups/{groupId}/stacktrace.json`.
    pub fn group_path(app: &str, group_id: &str) -> Result<Path> {
        let (owner, app_name) = split_app(app)?;
        let app = format!("{}/{}", safe_id(owner)?, safe_id(app_name)?);
        Ok(Path::from(archive::group_stacktrace(
            &app,
            safe_id(group_id)?,
        )))
    }

    /// Reads an object whole, or `None` if it does not exist.
    pub async fn get(&self, path: &Path) -> Result<Option<Bytes>> {
        match self.store.get(path).await {
            Ok(r) => r
                .bytes()
                .await
                .map(Some)
                .map_err(Error::archive(path.to_string())),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(Error::archive(path.to_string())(e)),
        }
    }

    /// Hashes an existing object by streaming it; `None` if absent.
    pub async fn digest(&self, path: &Path) -> Result<Option<ArtefactEntry>> {
        let mut stream = match self.store.get(path).await {
            Ok(r) => r.into_stream(),
            Err(object_store::Error::NotFound { .. }) => return Ok(None),
            Err(e) => return Err(Error::archive(path.to_string())(e)),
        };
        let mut h = Sha256::new();
        let mut size = 0u64;
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(Error::archive(path.to_string()))?;
            size += chunk.len() as u64;
            h.update(&chunk);
        }
        Ok(Some(ArtefactEntry {
            name: String::new(),
            sha256: hex::encode(h.finalize()),
            size,
        }))
    }

    /// Writes bytes atomically and returns their digest.
    pub async fn put(&self, path: &Path, bytes: Bytes) -> Result<ArtefactEntry> {
        let entry = ArtefactEntry {
            name: String::new(),
            sha256: sha256_hex(&bytes),
            size: bytes.len() as u64,
        };
        self.store
            .put(path, PutPayload::from(bytes))
            .await
            .map_err(Error::archive(path.to_string()))?;
        Ok(entry)
    }

    /// A streaming writer that hashes what it writes; finish it with
    /// [`HashingWriter::finish`]. Large objects go up in parts, so memory
    /// stays bounded whatever the size.
    pub fn writer(&self, path: &Path) -> HashingWriter {
        HashingWriter {
            inner: BufWriter::new(self.store.clone(), path.clone()),
            hash: Sha256::new(),
            size: 0,
            path: path.clone(),
        }
    }
}

impl Archive {
    /// Copies a crash's archived artefacts (not its archive manifest) into
    /// `dest`, streamed, for stores that are not local directories. Returns
    /// `(name, path)` pairs, sorted.
    pub async fn copy_crash(
        &self,
        app: &str,
        error_id: &str,
        dest: &std::path::Path,
    ) -> Result<Vec<(String, std::path::PathBuf)>> {
        use futures::TryStreamExt;
        use tokio::io::AsyncWriteExt;
        let prefix = Self::error_path(app, error_id, "x")?;
        let prefix = Path::from_iter(prefix.parts().take(prefix.parts().count() - 1));
        let objects: Vec<_> = self
            .store
            .list(Some(&prefix))
            .try_collect()
            .await
            .map_err(Error::archive(prefix.to_string()))?;
        let mut out = Vec::new();
        for meta in objects {
            let name = meta
                .location
                .as_ref()
                .strip_prefix(prefix.as_ref())
                .unwrap_or_default()
                .trim_start_matches('/')
                .to_owned();
            if name.is_empty() || name == "manifest.json" {
                continue;
            }
            let target = dest.join(&name);
            if let Some(dir) = target.parent() {
                tokio::fs::create_dir_all(dir)
                    .await
                    .map_err(|e| Error::Config(format!("creating {}: {e}", dir.display())))?;
            }
            let mut file = tokio::fs::File::create(&target)
                .await
                .map_err(|e| Error::Config(format!("creating {}: {e}", target.display())))?;
            let mut stream = self
                .store
                .get(&meta.location)
                .await
                .map_err(Error::archive(meta.location.to_string()))?
                .into_stream();
            while let Some(chunk) = stream.next().await {
                let chunk = chunk.map_err(Error::archive(meta.location.to_string()))?;
                file.write_all(&chunk)
                    .await
                    .map_err(|e| Error::Config(format!("writing {}: {e}", target.display())))?;
            }
            file.flush()
                .await
                .map_err(|e| Error::Config(format!("writing {}: {e}", target.display())))?;
            out.push((name, target));
        }
        out.sort();
        Ok(out)
    }
}

/// See [`Archive::writer`].
pub struct HashingWriter {
    inner: BufWriter,
    hash: Sha256,
    size: u64,
    path: Path,
}

impl std::fmt::Debug for HashingWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HashingWriter")
            .field("path", &self.path)
            .field("size", &self.size)
            .finish()
    }
}

impl HashingWriter {
    /// Completes the upload (the object appears only now) and returns the
    /// digest.
    pub async fn finish(mut self) -> Result<ArtefactEntry> {
        use tokio::io::AsyncWriteExt;
        self.inner.shutdown().await.map_err(|e| Error::Archive {
            context: self.path.to_string(),
            source: object_store::Error::Generic {
                store: "archive",
                source: Box::new(e),
            },
        })?;
        Ok(ArtefactEntry {
            name: String::new(),
            sha256: hex::encode(self.hash.finalize()),
            size: self.size,
        })
    }

    /// Drops a half-written object.
    pub async fn abort(mut self) {
        let _ = self.inner.abort().await;
    }
}

impl AsyncWrite for HashingWriter {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let this = &mut *self;
        match Pin::new(&mut this.inner).poll_write(cx, buf) {
            Poll::Ready(Ok(n)) => {
                this.hash.update(&buf[..n]);
                this.size += n as u64;
                Poll::Ready(Ok(n))
            }
            other => other,
        }
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// SHA-256 of bytes, hex.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// A URL with any query (signatures, keys) removed.
/// Checks a crash's manifest against the archive: every artefact exists
/// with the recorded digest. Returns the problems found.
pub async fn verify_manifest(archive: &Archive, manifest: &Manifest) -> Result<Vec<String>> {
    let mut problems = Vec::new();
    for a in &manifest.artefacts {
        let path = Archive::error_path(&manifest.app, &manifest.error_id, &a.name)?;
        match archive.digest(&path).await? {
            None => problems.push(format!("{}: missing", a.name)),
            Some(d) if d.sha256 != a.sha256 || d.size != a.size => {
                problems.push(format!("{}: digest differs", a.name))
            }
            Some(_) => {}
        }
    }
    if let Some(g) = &manifest.group_stacktrace {
        let path = Archive::group_path(&manifest.app, &manifest.error_group_id)?;
        match archive.digest(&path).await? {
            None => problems.push("group stack trace: missing".into()),
            Some(d) if d.sha256 != g.sha256 => {
                problems.push("group stack trace: digest differs".into())
            }
            Some(_) => {}
        }
    }
    Ok(problems)
}
