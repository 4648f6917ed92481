/*!
The 90-day path: a resumable crawl of every crash into an archive.

# Brief overview

The state lives in `crashdsr-state`'s [`StateStore`] (SQLite by default,
PostgreSQL for several workers): the seed's crash table, extended. [`inventory`] lists every crash
id of an app into it, resumably; [`fetch`] archives each crash's artefacts
into an [`Archive`] (any object store) with a [`Manifest`] written last, and
marks it retrieved. Several `fetch` workers can share one PostgreSQL store:
they claim crashes with leases, and a dead worker's crashes are taken over
when its lease expires, or at once when it was a process of this host.
*/
#![warn(missing_docs)]

mod archive;
mod error;
mod fetch;
mod inventory;
mod location;
mod progress;

pub use crate::archive::{
    Archive, ArtefactEntry, HashingWriter, MANIFEST_FORMAT, Manifest, sha256_hex, verify_manifest,
};
pub use crate::error::{Error, Result};
pub use crate::fetch::{
    FetchOptions, FetchReport, default_worker, fetch, fetch_listed, human_secs,
};
pub use crate::inventory::{Api, InventoryReport, inventory};
pub use crate::location::{LocationApi, download_crash_log};
pub use crate::progress::{NoProgress, Progress};
pub use crashdsr_state::StateStore;
