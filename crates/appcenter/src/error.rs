//! Defines the client's error type and whether each error is worth retrying.

use std::time::Duration;

/// What went wrong at the transport level, before a complete HTTP response
/// was read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum TransportKind {
    /// The connection could not be opened.
    Connect,
    /// The request or the body read timed out.
    Timeout,
    /// The connection broke while the body was read (reset, truncation).
    Body,
    /// Anything else reqwest reported while sending.
    Request,
}

/// An error from the App Center client.
///
/// Errors never carry the API token, and URLs are reduced to their path (the
/// query of a location URI can hold a signature).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The server answered with a non-success status.
    #[error("{method} {path}: HTTP {status}{}: {message}", code.as_deref().map(|c| format!(" ({c})")).unwrap_or_default())]
    Status {
        /// HTTP method.
        method: &'static str,
        /// Request path (no host, no query).
        path: String,
        /// HTTP status code.
        status: u16,
        /// `error.code` from a new-style error body, when present.
        code: Option<String>,
        /// The server's message, or the status text.
        message: String,
        /// The `Retry-After` the server sent, if any.
        retry_after: Option<Duration>,
    },
    /// The request failed before a complete response was read.
    #[error("{method} {path}: {kind:?} error: {source}")]
    Transport {
        /// HTTP method.
        method: &'static str,
        /// Request path (no host, no query).
        path: String,
        /// Classification used for retries.
        kind: TransportKind,
        /// The underlying error (its URL is stripped).
        #[source]
        source: reqwest::Error,
    },
    /// The body was not the JSON the operation promises.
    #[error("{method} {path}: the response is not a valid {what}: {source}")]
    Decode {
        /// HTTP method.
        method: &'static str,
        /// Request path.
        path: String,
        /// The model that was expected.
        what: &'static str,
        /// The JSON error (line and column).
        #[source]
        source: serde_json::Error,
    },
    /// A download exceeded the configured size cap.
    #[error("{path}: the download exceeds the limit of {limit} bytes")]
    TooLarge {
        /// Request path.
        path: String,
        /// The cap in bytes.
        limit: u64,
    },
    /// Writing a download to its destination failed.
    #[error("writing the download of {path}: {source}")]
    Io {
        /// Request path.
        path: String,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The client was configured wrongly (bad base URL, missing token, ...).
    #[error("{0}")]
    Config(String),
    /// The server sent something the client refuses to follow (a paging
    /// link to another host, a location URI that is not http(s)).
    #[error("{0}")]
    Protocol(String),
}

impl Error {
    /// Whether a retry of the same request may succeed.
    pub fn is_retryable(&self) -> bool {
        match self {
            Self::Status { status, .. } => matches!(status, 408 | 429 | 500..=599),
            Self::Transport { .. } => true,
            // A body cut short arrives as JSON that ends too early.
            Self::Decode { source, .. } => source.is_eof(),
            Self::TooLarge { .. } | Self::Io { .. } | Self::Config(_) | Self::Protocol(_) => false,
        }
    }

    /// The HTTP status, when the server answered.
    pub fn status(&self) -> Option<u16> {
        match self {
            Self::Status { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// True for 404: the resource does not exist (or was deleted).
    pub fn is_not_found(&self) -> bool {
        self.status() == Some(404)
    }

    /// The server's `Retry-After`, when it sent one.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            Self::Status { retry_after, .. } => *retry_after,
            _ => None,
        }
    }
}

/// The result type of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;
