//! Where erasure writes: a local directory (temporary file, fsync,
//! rename) or an object store (a temporary blob, then a conditional put
//! on the ETag read, then delete). Store errors are told apart so that the
//! operator learns what to do: an immutability policy or legal hold, a
//! read-only credential, an object that vanished, one that changed.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use crashdsr_store::{ErrorKind, Store, UpdateVersion};

use crate::Error;

/// The suffix of temporary objects (never a `logs*.v1.data` name, so a
/// search never takes one for device logs).
pub const TEMP_SUFFIX: &str = ".crashdsr-tmp";

/// One source, for reading and writing.
#[derive(Debug, Clone)]
pub struct Target {
    store: Store,
}

/// An object as read: its bytes and the version to update it against.
#[derive(Debug, Clone)]
pub struct Read {
    /// The bytes.
    pub bytes: Vec<u8>,
    /// The store's ETag/version (object stores only).
    pub version: Option<UpdateVersion>,
}

/// What a failed store call means, by its kind. An immutability policy or
/// legal hold is told by the error code Azure puts in its answer
/// (`BlobImmutableDueToPolicy`, `…LegalHold…`): object_store passes that
/// code on only as text, so it is the one thing read from the message.
pub(crate) fn classify_store(e: &crashdsr_store::Error) -> Error {
    let message = e.message();
    let lower = message.to_ascii_lowercase();
    let object = e.object().to_owned();
    if lower.contains("immutab") || lower.contains("legalhold") || lower.contains("legal hold") {
        return Error::Immutable { object, message };
    }
    match e.kind() {
        ErrorKind::NotFound => Error::Vanished { object },
        ErrorKind::Precondition => Error::Changed { object },
        ErrorKind::Permission => Error::ReadOnly { object, message },
        _ => Error::Store {
            object,
            what: e.what().to_owned(),
            message,
        },
    }
}

fn io_error(object: &str, what: &'static str, e: std::io::Error) -> Error {
    classify_store(&crashdsr_store::Error::from_io(what, object, e))
}

impl Target {
    /// Opens a `--source`: a directory path, or an object-store URL.
    pub fn open(spec: &str) -> Result<Self, Error> {
        Store::open(spec)
            .map(Self::new)
            .map_err(|e| Error::Plan(e.to_string()))
    }

    /// Writes through `store`: a directory's files in place (temporary
    /// file, fsync, rename), an object store's through conditional puts.
    pub fn new(store: Store) -> Self {
        Self { store }
    }

    /// The store it writes through.
    pub fn store(&self) -> &Store {
        &self.store
    }

    fn path(root: &Path, object: &str) -> PathBuf {
        root.join(object)
    }

    /// The object, or `None` if it is not there.
    pub async fn read(&self, object: &str) -> Result<Option<Read>, Error> {
        match self.store.dir() {
            Some(root) => match std::fs::read(Self::path(root, object)) {
                Ok(bytes) => Ok(Some(Read {
                    bytes,
                    version: None,
                })),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
                Err(e) => Err(io_error(object, "reading", e)),
            },
            None => Ok(self
                .store
                .get(object)
                .await
                .map_err(|e| classify_store(&e))?
                .map(|got| Read {
                    bytes: got.bytes.to_vec(),
                    version: got.version,
                })),
        }
    }

    /// Writes `bytes` as the temporary object beside `object` and reads it
    /// back; returns its name.
    pub async fn write_temp(&self, object: &str, bytes: &[u8]) -> Result<String, Error> {
        let temp = format!("{object}{TEMP_SUFFIX}");
        match self.store.dir() {
            Some(root) => {
                let p = Self::path(root, &temp);
                let mut f = std::fs::File::create(&p).map_err(|e| io_error(&temp, "writing", e))?;
                f.write_all(bytes)
                    .and_then(|()| f.sync_all())
                    .map_err(|e| io_error(&temp, "writing", e))?;
            }
            None => self
                .store
                .put(&temp, bytes.to_vec())
                .await
                .map_err(|e| classify_store(&e))?,
        }
        match self.read(&temp).await? {
            Some(r) if r.bytes == bytes => Ok(temp),
            _ => Err(Error::Store {
                object: temp,
                what: "reading back".into(),
                message: "the temporary copy does not hold what was written".into(),
            }),
        }
    }

    /// Replaces `object` with `bytes` (already in `temp`): a rename on a
    /// file system; a put conditional on `version` in an object store,
    /// then the temporary blob is deleted.
    pub async fn replace(
        &self,
        object: &str,
        temp: &str,
        bytes: &[u8],
        version: Option<&UpdateVersion>,
    ) -> Result<(), Error> {
        match self.store.dir() {
            Some(root) => {
                let (from, to) = (Self::path(root, temp), Self::path(root, object));
                std::fs::rename(&from, &to).map_err(|e| io_error(object, "replacing", e))?;
                if let Some(dir) = to.parent() {
                    std::fs::File::open(dir)
                        .and_then(|d| d.sync_all())
                        .map_err(|e| io_error(object, "syncing its folder", e))?;
                }
                Ok(())
            }
            None => {
                self.store
                    .put_if(object, bytes.to_vec(), version)
                    .await
                    .map_err(|e| classify_store(&e))?;
                self.delete(temp).await
            }
        }
    }

    /// Deletes `object` (no error if it is already gone; one that timed out
    /// is tried again).
    pub async fn delete(&self, object: &str) -> Result<(), Error> {
        match self.store.dir() {
            Some(root) => {
                let path = Self::path(root, object);
                match std::fs::remove_file(&path) {
                    Ok(()) => {}
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                    Err(e) => return Err(io_error(object, "deleting", e)),
                }
                // A folder left empty goes too (an object store has no
                // folders): its name, a crash id or a minute, is data.
                let mut dir = path.parent();
                while let Some(d) = dir.filter(|d| d.starts_with(root) && *d != root) {
                    if std::fs::remove_dir(d).is_err() {
                        break;
                    }
                    dir = d.parent();
                }
                Ok(())
            }
            None => self
                .store
                .delete(object)
                .await
                .map_err(|e| classify_store(&e)),
        }
    }

    /// Every object under `prefix`, relative to the source, sorted.
    pub async fn list(&self, prefix: &str) -> Result<Vec<String>, Error> {
        self.store
            .list_sorted(Some(prefix))
            .await
            .map_err(|e| classify_store(&e))
    }
}
