//! Errors of the index.

/// What went wrong.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The key: missing, too short, or not the index's.
    #[error("index key: {0}")]
    Key(String),
    /// The index: not there, damaged, or of another format.
    #[error("index: {0}")]
    Index(String),
    /// Reading the source or writing the index.
    #[error(transparent)]
    Store(#[from] crashdsr_store::Error),
    /// The state store that holds the segment tasks.
    #[error(transparent)]
    State(#[from] crashdsr_state::Error),
    /// Reading the source for a search.
    #[error(transparent)]
    Search(#[from] crashdsr_search::Error),
}

/// A result with [`Error`].
pub type Result<T> = std::result::Result<T, Error>;
