//! A [`Source`]: a local directory or an object-store URL, listed and read
//! as streams.

use std::sync::Arc;

use bytes::Bytes;
use futures::{Stream, StreamExt, TryStreamExt};
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt};

use crate::error::{Error, Result};

/// One object of a source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Blob {
    /// Path relative to the source's root, `/`-separated.
    pub path: String,
    /// Size in bytes.
    pub size: u64,
}

/// Where crash data is read from.
#[derive(Debug, Clone)]
pub struct Source {
    store: Arc<dyn ObjectStore>,
    shown: String,
}

impl Source {
    /// Opens `url`: a directory path or `file:///dir`; `az://container/prefix`
    /// (credentials from `AZURE_STORAGE_*`, Azurite with
    /// `AZURE_STORAGE_USE_EMULATOR=true`); `s3://bucket/prefix` (`AWS_*`).
    pub fn open(url: &str) -> Result<Self> {
        let shown = url.split('?').next().unwrap_or_default().to_owned();
        let store: Arc<dyn ObjectStore> = if url.contains("://") && !url.starts_with("file://") {
            let parsed = url::Url::parse(url)
                .map_err(|e| Error::Source(format!("bad source URL {shown:?}: {e}")))?;
            let opts: Vec<(String, String)> = std::env::vars()
                .filter(|(k, _)| k.starts_with("AZURE_") || k.starts_with("AWS_"))
                .map(|(k, v)| (k.to_ascii_lowercase(), v))
                .collect();
            let (store, prefix) = object_store::parse_url_opts(&parsed, opts)
                .map_err(|e| Error::Source(format!("source {shown}: {e}")))?;
            if prefix.as_ref().is_empty() {
                Arc::from(store)
            } else {
                Arc::new(object_store::prefix::PrefixStore::new(store, prefix))
            }
        } else {
            let dir = url.strip_prefix("file://").unwrap_or(url);
            if !std::path::Path::new(dir).is_dir() {
                return Err(Error::Source(format!(
                    "source {dir}: not a directory, or it does not exist"
                )));
            }
            Arc::new(
                object_store::local::LocalFileSystem::new_with_prefix(dir)
                    .map_err(|e| Error::Source(format!("source {dir}: {e}")))?,
            )
        };
        Ok(Self { store, shown })
    }

    /// A source over any object store (tests).
    pub fn from_store(store: Arc<dyn ObjectStore>, name: &str) -> Self {
        Self {
            store,
            shown: name.to_owned(),
        }
    }

    /// The object store behind it.
    pub fn store(&self) -> &Arc<dyn ObjectStore> {
        &self.store
    }

    /// The URL, without any query.
    pub fn url(&self) -> &str {
        &self.shown
    }

    /// Every object, in the store's listing order.
    pub fn list(&self) -> impl Stream<Item = Result<Blob>> + Send + 'static {
        let shown = self.shown.clone();
        self.store
            .list(None)
            .map_ok(|m| Blob {
                path: m.location.to_string(),
                size: m.size,
            })
            .map_err(move |e| Error::Source(format!("listing {shown}: {e}")))
    }

    /// An object's bytes as a stream of chunks (memory stays bounded
    /// whatever its size).
    pub async fn chunks(
        &self,
        path: &str,
    ) -> Result<impl Stream<Item = Result<Bytes>> + Send + 'static> {
        let p = Path::from(path);
        let owned = path.to_owned();
        let r = self.store.get(&p).await.map_err(|e| Error::Read {
            path: owned.clone(),
            message: e.to_string(),
        })?;
        Ok(r.into_stream().map_err(move |e| Error::Read {
            path: owned.clone(),
            message: e.to_string(),
        }))
    }

    /// An object's bytes, refusing objects larger than `max`.
    pub async fn read(&self, path: &str, max: u64) -> Result<Bytes> {
        let mut chunks = Box::pin(self.chunks(path).await?);
        let mut buf = Vec::new();
        while let Some(c) = chunks.next().await {
            let c = c?;
            if (buf.len() + c.len()) as u64 > max {
                return Err(Error::Read {
                    path: path.to_owned(),
                    message: format!("larger than {max} bytes"),
                });
            }
            buf.extend_from_slice(&c);
        }
        Ok(Bytes::from(buf))
    }
}
