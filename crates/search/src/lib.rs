/*!
Finds every trace of a person in crash data.

# Brief overview

A [`Source`] is a local directory or an object-store URL (`az://`, `s3://`)
listed and read as streams. The [`export`] module knows the layout App
Center's continuous export wrote (minute folders, `logs.v1.data` arrays of
device logs, crash blobs, attachments) and how records link to their crash;
[`walk`] reads a whole export in parallel with bounded memory, one warning
per bad object.
*/
#![warn(missing_docs)]

mod engine;
mod error;
pub mod export;
mod matcher;
mod source;
mod subject;
mod walk;

pub use crate::engine::{
    Evidence, Hit, Input, SearchOptions, SearchReport, WHOLE_OBJECT_MAX, search,
};
pub use crate::error::{Error, Result};
pub use crate::matcher::{Encoding, Found, Matcher, json_path_at};
pub use crate::source::{Blob, Source};
pub use crate::subject::{IdKind, Identifier, MIN_FREE_TEXT_LEN, Subject};
pub use crate::walk::{ExportItem, MAX_JSON_BLOB, WalkReport, walk};
