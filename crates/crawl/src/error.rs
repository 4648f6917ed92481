//! Defines the crawl's error type and how each error affects a run.

/// An error of the crawl.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The state store failed.
    #[error(transparent)]
    State(#[from] crashdsr_state::Error),
    /// The archive could not be read or written.
    #[error("archive: {context}: {source}")]
    Archive {
        /// What was being done (the object path).
        context: String,
        /// The object-store error.
        #[source]
        source: object_store::Error,
    },
    /// The archive could not be opened.
    #[error("archive: {0}")]
    Storage(#[from] crashdsr_store::Error),
    /// The App Center API failed.
    #[error(transparent)]
    Api(#[from] crashdsr_appcenter::Error),
    /// A setting is wrong (bad URL, unknown scheme, ...).
    #[error("{0}")]
    Config(String),
    /// The server sent something that cannot be archived safely.
    #[error("{0}")]
    Unsafe(String),
}

impl Error {
    pub(crate) fn archive(context: impl Into<String>) -> impl FnOnce(object_store::Error) -> Self {
        let context = context.into();
        move |source| Self::Archive { context, source }
    }
}

/// The result type of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;
