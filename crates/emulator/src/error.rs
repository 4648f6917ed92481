//! The emulator's error type.

/// Why the emulator cannot start, or an export cannot be written.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A spec it was given cannot be read: fault rules, an export style, a
    /// connection string.
    #[error("{0}")]
    Spec(String),
    /// The address cannot be bound.
    #[error("binding {addr}: {source}")]
    Bind {
        /// The address.
        addr: std::net::SocketAddr,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// Blob storage refused or failed (the message is the one the API
    /// shows for the export).
    #[error("{0}")]
    Storage(String),
}
