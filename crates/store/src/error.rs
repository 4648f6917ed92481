//! One error type for every store, with a [`ErrorKind`] callers match on.
//!
//! The kind comes from the types object_store and the standard library
//! give (`object_store::Error`'s variants, the `HttpError` kind in its
//! source chain, `std::io::ErrorKind`), never from the text of a message.

use std::error::Error as StdError;

/// What a failed store call means, for a caller deciding what to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    /// The object (or folder) is not there.
    NotFound,
    /// The credential may not do this (read-only, unauthenticated).
    Permission,
    /// A condition did not hold: the object changed since it was read, or
    /// it already exists.
    Precondition,
    /// The network failed or timed out after the store's own retries: the
    /// same call may succeed later.
    Transient,
    /// The store kept refusing the call for its request rate (HTTP 429, or
    /// 503 as Azure's `ServerBusy` and S3's `SlowDown`) through its own
    /// retries: fewer calls at once, or later.
    Throttled,
    /// The source's URL or configuration is wrong.
    Config,
    /// Anything else.
    Other,
}

/// A failed store call: what was done, to which object, and why.
#[derive(Debug, thiserror::Error)]
#[error("{what} {object}: {source}")]
pub struct Error {
    kind: ErrorKind,
    what: &'static str,
    object: String,
    #[source]
    source: Box<dyn StdError + Send + Sync>,
}

/// `Result` with [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// An error of `kind` while doing `what` to `object`.
    pub fn new(
        kind: ErrorKind,
        what: &'static str,
        object: impl Into<String>,
        source: impl Into<Box<dyn StdError + Send + Sync>>,
    ) -> Self {
        Self {
            kind,
            what,
            object: object.into(),
            source: source.into(),
        }
    }

    /// A bad URL or configuration.
    pub(crate) fn config(object: &str, message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Config, "opening", object, message.into())
    }

    /// An object_store error, with its kind.
    pub fn from_object_store(what: &'static str, object: &str, e: object_store::Error) -> Self {
        Self::new(kind_of_object_store(&e), what, object, e)
    }

    /// A file-system error, with its kind.
    pub fn from_io(what: &'static str, object: &str, e: std::io::Error) -> Self {
        Self::new(kind_of_io(e.kind()), what, object, e)
    }

    /// What it means.
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// The object (or URL) it concerns.
    pub fn object(&self) -> &str {
        &self.object
    }

    /// What was being done (`reading`, `listing`, `deleting`, …).
    pub fn what(&self) -> &'static str {
        self.what
    }

    /// Whether the object is not there.
    pub fn is_not_found(&self) -> bool {
        self.kind == ErrorKind::NotFound
    }

    /// The message of the underlying error, without the object's name.
    pub fn message(&self) -> String {
        self.source.to_string()
    }
}

fn kind_of_io(kind: std::io::ErrorKind) -> ErrorKind {
    use std::io::ErrorKind as K;
    match kind {
        K::NotFound => ErrorKind::NotFound,
        K::PermissionDenied | K::ReadOnlyFilesystem => ErrorKind::Permission,
        K::AlreadyExists => ErrorKind::Precondition,
        K::TimedOut | K::Interrupted | K::ConnectionReset | K::ConnectionAborted => {
            ErrorKind::Transient
        }
        _ => ErrorKind::Other,
    }
}

fn kind_of_object_store(e: &object_store::Error) -> ErrorKind {
    use object_store::Error as E;
    match e {
        E::NotFound { .. } => ErrorKind::NotFound,
        E::PermissionDenied { .. } | E::Unauthenticated { .. } => ErrorKind::Permission,
        E::Precondition { .. } | E::AlreadyExists { .. } | E::NotModified { .. } => {
            ErrorKind::Precondition
        }
        E::InvalidPath { .. } | E::UnknownConfigurationKey { .. } => ErrorKind::Config,
        _ => kind_in_chain(e),
    }
}

/// The kind told by a typed error in `e`'s source chain: throttling (see
/// [`crate::throttle`]), an HTTP transport failure or a file-system error.
fn kind_in_chain(e: &(dyn StdError + 'static)) -> ErrorKind {
    use object_store::client::HttpErrorKind as H;
    let mut current: Option<&(dyn StdError + 'static)> = Some(e);
    while let Some(err) = current {
        if err.is::<crate::throttle::Throttled>() {
            return ErrorKind::Throttled;
        }
        current = err.source();
    }
    let mut current: Option<&(dyn StdError + 'static)> = Some(e);
    while let Some(err) = current {
        if let Some(http) = err.downcast_ref::<object_store::client::HttpError>() {
            return match http.kind() {
                H::Connect | H::Request | H::Timeout | H::Interrupted => ErrorKind::Transient,
                _ => ErrorKind::Other,
            };
        }
        if let Some(io) = err.downcast_ref::<std::io::Error>() {
            return kind_of_io(io.kind());
        }
        current = err.source();
    }
    ErrorKind::Other
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_come_from_types_not_text() {
        let path = String::from("a/b");
        let cases: [(object_store::Error, ErrorKind); 6] = [
            (
                object_store::Error::NotFound {
                    path: path.clone(),
                    source: "gone".into(),
                },
                ErrorKind::NotFound,
            ),
            (
                object_store::Error::PermissionDenied {
                    path: path.clone(),
                    source: "no".into(),
                },
                ErrorKind::Permission,
            ),
            (
                object_store::Error::Precondition {
                    path,
                    source: "etag".into(),
                },
                ErrorKind::Precondition,
            ),
            (
                object_store::Error::Generic {
                    store: "x",
                    source: Box::new(std::io::Error::from(std::io::ErrorKind::TimedOut)),
                },
                ErrorKind::Transient,
            ),
            (
                object_store::Error::Generic {
                    store: "x",
                    source: Box::new(object_store::client::HttpError::new(
                        object_store::client::HttpErrorKind::Timeout,
                        std::io::Error::other("slow"),
                    )),
                },
                ErrorKind::Transient,
            ),
            // A message that says 403 is not a permission error: only
            // types count.
            (
                object_store::Error::Generic {
                    store: "x",
                    source: "403 Forbidden".into(),
                },
                ErrorKind::Other,
            ),
        ];
        for (e, kind) in cases {
            let text = e.to_string();
            let err = Error::from_object_store("reading", "a/b", e);
            assert_eq!(err.kind(), kind, "{text}");
            assert!(err.to_string().starts_with("reading a/b: "), "{err}");
        }
    }

    #[test]
    fn io_kinds() {
        for (io, kind) in [
            (std::io::ErrorKind::NotFound, ErrorKind::NotFound),
            (std::io::ErrorKind::PermissionDenied, ErrorKind::Permission),
            (
                std::io::ErrorKind::ReadOnlyFilesystem,
                ErrorKind::Permission,
            ),
            (std::io::ErrorKind::TimedOut, ErrorKind::Transient),
            (std::io::ErrorKind::InvalidData, ErrorKind::Other),
        ] {
            let err = Error::from_io("writing", "x", std::io::Error::from(io));
            assert_eq!(err.kind(), kind, "{io:?}");
        }
    }
}
