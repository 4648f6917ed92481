//! Where erasure writes: a local directory (temporary file, fsync,
//! rename) or an object store (a temporary blob, then a conditional put
//! on the ETag read, then delete). Store errors are told apart so that the
//! operator learns what to do: an immutability policy or legal hold, a
//! read-only credential, an object that vanished, one that changed.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use futures::TryStreamExt;
use object_store::path::Path as StorePath;
use object_store::{ObjectStore, ObjectStoreExt, PutMode, PutOptions, PutPayload, UpdateVersion};

use crate::Error;

/// The suffix of temporary objects (never a `logs*.v1.data` name, so a
/// search never takes one for device logs).
pub const TEMP_SUFFIX: &str = ".crashdsr-tmp";

/// One source, for reading and writing.
#[derive(Debug, Clone)]
pub enum Target {
    /// A local directory.
    Dir(PathBuf),
    /// An object store (`az://`, `s3://`).
    Store(Arc<dyn ObjectStore>),
}

/// An object as read: its bytes and the version to update it against.
#[derive(Debug, Clone)]
pub struct Read {
    /// The bytes.
    pub bytes: Vec<u8>,
    /// The store's ETag/version (object stores only).
    pub version: Option<UpdateVersion>,
}

/// What a failed store call means.
pub(crate) fn classify_store(object: &str, what: &str, e: &object_store::Error) -> Error {
    let text = e.to_string();
    let lower = text.to_ascii_lowercase();
    let object = object.to_owned();
    if lower.contains("immutab") || lower.contains("legalhold") || lower.contains("legal hold") {
        return Error::Immutable {
            object,
            message: text,
        };
    }
    match e {
        object_store::Error::NotFound { .. } => Error::Vanished { object },
        object_store::Error::Precondition { .. } | object_store::Error::AlreadyExists { .. } => {
            Error::Changed { object }
        }
        object_store::Error::PermissionDenied { .. }
        | object_store::Error::Unauthenticated { .. } => Error::ReadOnly {
            object,
            message: text,
        },
        _ if lower.contains("authorizationpermissionmismatch")
            || lower.contains("authorizationfailure")
            || lower.contains("403") =>
        {
            Error::ReadOnly {
                object,
                message: text,
            }
        }
        _ => Error::Store {
            object,
            what: what.to_owned(),
            message: text,
        },
    }
}

fn io_error(object: &str, what: &str, e: &std::io::Error) -> Error {
    match e.kind() {
        std::io::ErrorKind::NotFound => Error::Vanished {
            object: object.to_owned(),
        },
        std::io::ErrorKind::PermissionDenied | std::io::ErrorKind::ReadOnlyFilesystem => {
            Error::ReadOnly {
                object: object.to_owned(),
                message: e.to_string(),
            }
        }
        _ => Error::Store {
            object: object.to_owned(),
            what: what.to_owned(),
            message: e.to_string(),
        },
    }
}

impl Target {
    /// Opens a `--source`: a directory path, or an object-store URL.
    pub fn open(spec: &str) -> Result<Self, Error> {
        match crashdsr_search::Input::open(spec).map_err(|e| Error::Plan(e.to_string()))? {
            crashdsr_search::Input::Dir(d) => Ok(Self::Dir(d)),
            crashdsr_search::Input::Remote(s) => Ok(Self::Store(s.store().clone())),
        }
    }

    fn path(root: &Path, object: &str) -> PathBuf {
        root.join(object)
    }

    /// The object, or `None` if it is not there.
    pub async fn read(&self, object: &str) -> Result<Option<Read>, Error> {
        match self {
            Self::Dir(root) => match std::fs::read(Self::path(root, object)) {
                Ok(bytes) => Ok(Some(Read {
                    bytes,
                    version: None,
                })),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
                Err(e) => Err(io_error(object, "reading", &e)),
            },
            Self::Store(store) => {
                let got = match store.get(&StorePath::from(object)).await {
                    Ok(g) => g,
                    Err(object_store::Error::NotFound { .. }) => return Ok(None),
                    Err(e) => return Err(classify_store(object, "reading", &e)),
                };
                let version = UpdateVersion {
                    e_tag: got.meta.e_tag.clone(),
                    version: got.meta.version.clone(),
                };
                let bytes = got
                    .bytes()
                    .await
                    .map_err(|e| classify_store(object, "reading", &e))?;
                Ok(Some(Read {
                    bytes: bytes.to_vec(),
                    version: Some(version),
                }))
            }
        }
    }

    /// Writes `bytes` as the temporary object beside `object` and reads it
    /// back; returns its name.
    pub async fn write_temp(&self, object: &str, bytes: &[u8]) -> Result<String, Error> {
        let temp = format!("{object}{TEMP_SUFFIX}");
        match self {
            Self::Dir(root) => {
                let p = Self::path(root, &temp);
                let mut f =
                    std::fs::File::create(&p).map_err(|e| io_error(&temp, "writing", &e))?;
                f.write_all(bytes)
                    .and_then(|()| f.sync_all())
                    .map_err(|e| io_error(&temp, "writing", &e))?;
            }
            Self::Store(store) => {
                store
                    .put(
                        &StorePath::from(temp.as_str()),
                        PutPayload::from(bytes.to_vec()),
                    )
                    .await
                    .map_err(|e| classify_store(&temp, "writing", &e))?;
            }
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
        match self {
            Self::Dir(root) => {
                let (from, to) = (Self::path(root, temp), Self::path(root, object));
                std::fs::rename(&from, &to).map_err(|e| io_error(object, "replacing", &e))?;
                if let Some(dir) = to.parent() {
                    std::fs::File::open(dir)
                        .and_then(|d| d.sync_all())
                        .map_err(|e| io_error(object, "syncing its folder", &e))?;
                }
                Ok(())
            }
            Self::Store(store) => {
                let mode = match version {
                    Some(v) if v.e_tag.is_some() || v.version.is_some() => {
                        PutMode::Update(v.clone())
                    }
                    _ => PutMode::Overwrite,
                };
                store
                    .put_opts(
                        &StorePath::from(object),
                        PutPayload::from(bytes.to_vec()),
                        PutOptions {
                            mode,
                            ..Default::default()
                        },
                    )
                    .await
                    .map_err(|e| classify_store(object, "replacing", &e))?;
                self.delete(temp).await
            }
        }
    }

    /// Deletes `object` (no error if it is already gone).
    pub async fn delete(&self, object: &str) -> Result<(), Error> {
        match self {
            Self::Dir(root) => {
                let path = Self::path(root, object);
                match std::fs::remove_file(&path) {
                    Ok(()) => {}
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                    Err(e) => return Err(io_error(object, "deleting", &e)),
                }
                // A folder left empty goes too (an object store has no
                // folders): its name, a crash id or a minute, is data.
                let mut dir = path.parent();
                while let Some(d) = dir.filter(|d| d.starts_with(root) && *d != root.as_path()) {
                    if std::fs::remove_dir(d).is_err() {
                        break;
                    }
                    dir = d.parent();
                }
                Ok(())
            }
            Self::Store(store) => match store.delete(&StorePath::from(object)).await {
                Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
                Err(e) => Err(classify_store(object, "deleting", &e)),
            },
        }
    }

    /// Every object, relative to the source, sorted.
    pub async fn list(&self, prefix: &str) -> Result<Vec<String>, Error> {
        let mut out = match self {
            Self::Dir(root) => {
                let mut out = Vec::new();
                let mut stack = vec![root.join(prefix)];
                while let Some(d) = stack.pop() {
                    let entries = match std::fs::read_dir(&d) {
                        Ok(e) => e,
                        Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                        Err(e) => return Err(io_error(&d.display().to_string(), "listing", &e)),
                    };
                    for e in entries {
                        let e = e.map_err(|e| io_error(&d.display().to_string(), "listing", &e))?;
                        let p = e.path();
                        if e.file_type().is_ok_and(|t| t.is_dir()) {
                            stack.push(p);
                        } else if let Ok(rel) = p.strip_prefix(root) {
                            out.push(rel.to_string_lossy().replace('\\', "/"));
                        }
                    }
                }
                out
            }
            Self::Store(store) => {
                let p = (!prefix.is_empty()).then(|| StorePath::from(prefix.trim_end_matches('/')));
                store
                    .list(p.as_ref())
                    .map_ok(|m| m.location.to_string())
                    .try_collect()
                    .await
                    .map_err(|e| classify_store(prefix, "listing", &e))?
            }
        };
        out.sort();
        Ok(out)
    }
}
