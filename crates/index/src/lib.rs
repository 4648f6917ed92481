/*!
A keyed-hash index of an export, so that a repeated request reads the few
objects that can hold a person's data and not the whole export, with
exactly the answer of a full scan.

- [`segment`]: the export cut into immutable segments (an hour of minute
  folders per app, a shard of an archive's crashes), each a file of keyed
  hashes of tokens with postings to its objects.
- [`key`]: the HMAC key tokens are hashed with, from a file, never stored
  with the index; a check value refuses a wrong one.
- [`build`]: `index build` and `index update`: what is new or changed is
  (re)built, what is gone is dropped, open segments wait.
- [`query`]: the index as a [`crashdsr_search::Narrow`]: which objects to
  read for a search, and which it cannot vouch for.

The index is a folder (or container prefix) holding `index.json`, the
manifest, and `segments/`.
*/
#![warn(missing_docs)]

pub mod build;
mod error;
pub mod key;
mod listing;
mod manifest;
pub mod query;
pub mod segment;

pub use crate::build::{BuildOptions, BuildReport, Queue, update};
pub use crate::error::{Error, Result};
pub use crate::key::Key;
pub use crate::manifest::{Manifest, SegmentEntry};
pub use crate::query::{Narrowing, VerifyReport, verify};

use crashdsr_store::Store;

/// An index: where it is, and its key.
#[derive(Debug, Clone)]
pub struct Index {
    store: Store,
    key: Key,
}

impl Index {
    /// The index at `url` (a directory, `az://`, `s3://`), created when
    /// written, with `key`.
    pub fn open(url: &str, key: Key) -> Result<Self> {
        Ok(Self {
            store: Store::create(url)?,
            key,
        })
    }

    /// The index in `store` (any object store), with `key`.
    pub fn with_store(store: Store, key: Key) -> Self {
        Self { store, key }
    }

    /// Where it is (no credentials).
    pub fn url(&self) -> &str {
        self.store.url()
    }

    /// The key.
    pub fn key(&self) -> &Key {
        &self.key
    }

    /// The manifest, `None` when there is no index yet; an error when the
    /// key is not the index's.
    pub async fn manifest(&self) -> Result<Option<Manifest>> {
        let Some(got) = self.store.get(manifest::MANIFEST).await? else {
            return Ok(None);
        };
        let m: Manifest = serde_json::from_slice(&got.bytes)
            .map_err(|e| Error::Index(format!("{}/{}: {e}", self.url(), manifest::MANIFEST)))?;
        if m.format != manifest::FORMAT {
            return Err(Error::Index(format!(
                "{} is an index of format {}; this version reads format {}: rebuild it with `crashdsr index build`",
                self.url(),
                m.format,
                manifest::FORMAT
            )));
        }
        if m.key_check != self.key.check() {
            return Err(Error::Key(format!(
                "the key given is not the key {} was built with (its check value differs); \
                 give the index's key, or rebuild the index with this one",
                self.url()
            )));
        }
        Ok(Some(m))
    }

    async fn put_manifest(&self, m: &Manifest) -> Result<()> {
        let bytes = serde_json::to_vec_pretty(m).expect("a manifest serialises");
        Ok(self.store.put(manifest::MANIFEST, bytes).await?)
    }
}

/// What identifies a source to an index: a directory's canonical path, an
/// object store's URL.
pub fn source_identity(source: &Store) -> String {
    match source.dir() {
        Some(d) => std::fs::canonicalize(d)
            .unwrap_or_else(|_| d.to_owned())
            .display()
            .to_string(),
        None => source.url().to_owned(),
    }
}
