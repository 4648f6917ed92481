//! Defines the search crate's error type.

/// An error reading a source.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A directory cannot be walked, or a scanning thread ended.
    #[error("{0}")]
    Source(String),
    /// A store cannot be opened or listed.
    #[error(transparent)]
    Store(#[from] crashdsr_store::Error),
    /// A subject or identifier is invalid.
    #[error("{0}")]
    Subject(String),
    /// The attribution index's temporary file cannot be written or read.
    #[error("the attribution index's temporary file: {0}")]
    Index(#[from] std::io::Error),
    /// The index that narrows the search ([`crate::Narrow`]) failed.
    #[error("{0}")]
    Narrow(Box<dyn std::error::Error + Send + Sync>),
    /// One object cannot be read (reported per item; the walk goes on).
    #[error("reading {path}: {message}")]
    Read {
        /// The object.
        path: String,
        /// Why.
        message: String,
    },
}

/// The result type of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;
