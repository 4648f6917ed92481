//! The state store's error type.

/// A failed state-store call.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A query failed.
    #[error("state store: {context}: {source}")]
    Query {
        /// What was being done.
        context: &'static str,
        /// The database error.
        #[source]
        source: sqlx::Error,
    },
    /// The store cannot be opened (bad URL, unreachable server, no
    /// permission on the file).
    #[error("{0}")]
    Config(String),
}

impl Error {
    pub(crate) fn store(context: &'static str) -> impl FnOnce(sqlx::Error) -> Self {
        move |source| Self::Query { context, source }
    }
}

/// The result type of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;
