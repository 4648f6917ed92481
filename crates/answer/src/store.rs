//! Reading the objects a package needs from the sources: a local
//! directory's files are used where they are; an object store's are
//! streamed into the staging directory once. An object that is gone is
//! `None` (the manifest says so); any other failure ends the answer.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crashdsr_store::Store;
use futures::StreamExt;
use tokio::io::AsyncWriteExt;

use crate::{Error, Result};

/// The sources of one answer, with what was already fetched.
pub(crate) struct Objects<'a> {
    sources: &'a [Store],
    staging: PathBuf,
    fetched: BTreeMap<(usize, String), Option<PathBuf>>,
}

fn unreadable(source: usize, object: &str, message: impl ToString) -> Error {
    Error::Unreadable {
        number: source + 1,
        object: object.to_owned(),
        message: message.to_string(),
    }
}

impl<'a> Objects<'a> {
    pub(crate) fn new(sources: &'a [Store], staging: &Path) -> Self {
        Self {
            sources,
            staging: staging.to_owned(),
            fetched: BTreeMap::new(),
        }
    }

    /// A local file holding `object` of `source`, or `None` if it is not
    /// there (any more).
    pub(crate) async fn local(&mut self, source: usize, object: &str) -> Result<Option<PathBuf>> {
        let key = (source, object.to_owned());
        if let Some(p) = self.fetched.get(&key) {
            return Ok(p.clone());
        }
        let store = &self.sources[source];
        let path = match store.dir() {
            Some(root) => {
                let p = root.join(object);
                match std::fs::metadata(&p) {
                    Ok(m) if m.is_file() => Some(p),
                    Ok(_) => return Err(unreadable(source, object, "not a file")),
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
                    Err(e) => return Err(unreadable(source, object, e)),
                }
            }
            None => {
                let dest = self
                    .staging
                    .join(format!("source-{source}"))
                    .join(object.replace("..", "__"));
                let mut chunks = match store.chunks(object).await {
                    Ok(c) => std::pin::pin!(c),
                    Err(e) if e.is_not_found() => {
                        self.fetched.insert(key, None);
                        return Ok(None);
                    }
                    Err(e) => return Err(unreadable(source, object, e.message())),
                };
                if let Some(dir) = dest.parent() {
                    tokio::fs::create_dir_all(dir)
                        .await
                        .map_err(|e| Error::io(format!("creating {}", dir.display()), e))?;
                }
                let mut file = tokio::fs::File::create(&dest)
                    .await
                    .map_err(|e| Error::io(format!("creating {}", dest.display()), e))?;
                while let Some(chunk) = chunks.next().await {
                    let chunk = chunk.map_err(|e| unreadable(source, object, e.message()))?;
                    file.write_all(&chunk)
                        .await
                        .map_err(|e| Error::io(format!("writing {}", dest.display()), e))?;
                }
                file.flush()
                    .await
                    .map_err(|e| Error::io(format!("writing {}", dest.display()), e))?;
                Some(dest)
            }
        };
        self.fetched.insert(key, path.clone());
        Ok(path)
    }

    /// The bytes of `object`, or `None` if it is not there.
    pub(crate) async fn read(&mut self, source: usize, object: &str) -> Result<Option<Vec<u8>>> {
        match self.local(source, object).await? {
            None => Ok(None),
            Some(p) => std::fs::read(&p)
                .map(Some)
                .map_err(|e| unreadable(source, object, e)),
        }
    }

    /// The objects under `prefix` (a folder, `/`-terminated) of `source`,
    /// as paths relative to the source, sorted.
    pub(crate) async fn list(&mut self, source: usize, prefix: &str) -> Result<Vec<String>> {
        self.sources[source]
            .list_sorted(Some(prefix))
            .await
            .map_err(|e| unreadable(source, prefix, e.message()))
    }
}
