/*!
One storage layer for every source crashdsr reads and every archive it
writes.

- [`Store::open`]: one URL for a local directory (a path or `file:///…`),
  Azure Blob Storage (`az://container/prefix`) or S3 (`s3://bucket/prefix`).
  A directory keeps a fast path ([`Store::dir`]): its files can be walked
  and read in place with no per-object async overhead.
- [`Error`] with an [`ErrorKind`] callers match on (not found, permission,
  precondition, transient, throttled, config), taken from object_store's
  and the standard library's error types, never from a message's text
  (throttling from the HTTP status, through the stores' own HTTP client).
- Conditional writes ([`Store::put_if`], an ETag check) and deletes that
  retry what failed for a transient reason.
- [`archive`] and [`export`]: the archive's and the continuous export's
  layouts, each defined once; [`SourceId`]: which source an object came
  from, numbered from 1 wherever it is written.

# Credentials

Only from the environment, handed to object_store as its configuration
keys: `AZURE_STORAGE_ACCOUNT_NAME`, `AZURE_STORAGE_ACCOUNT_KEY`,
`AZURE_STORAGE_SAS_KEY`, `AZURE_STORAGE_USE_EMULATOR` (Azurite, at
`AZURITE_BLOB_STORAGE_URL` or `http://127.0.0.1:10000`) and the other
`AZURE_*` keys object_store knows; `AWS_ACCESS_KEY_ID`,
`AWS_SECRET_ACCESS_KEY`, `AWS_REGION`, `AWS_ENDPOINT`, `AWS_ALLOW_HTTP` and
the other `AWS_*` keys. A URL's query and user info never appear in
[`Store::url`] or in an error.
*/
#![warn(missing_docs)]

pub mod archive;
mod error;
pub mod export;
mod source;
mod store;
mod throttle;

pub use crate::error::{Error, ErrorKind, Result};
pub use crate::source::SourceId;
pub use crate::store::{Got, LOCAL_IO, Listed, REMOTE_IO, Store};
pub use object_store::UpdateVersion;
