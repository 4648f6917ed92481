/*!
Finds every trace of a person in crash data.

# Brief overview

The data flows through small parts, each readable alone:

- sources are [`crashdsr_store::Store`]s: a local directory (walked in
  parallel, like ripgrep) or an object store (`az://`, `s3://`) read with
  many requests in flight and scanned on a bounded pool of threads.
- [`export`]: the layout App Center's continuous export wrote (minute
  folders, `logs*.v1.data` arrays of device logs, crash blobs,
  attachments) and a reader for the shapes it really took.
- [`decode`]: the containers and encodings inside attachments, with caps.
- the matcher ([`Matcher`]): one automaton over every variant of every
  identifier, then boundary and typed-field checks.
- [`index`]: the attribution index, built from every device-log blob.
- attribution and install expansion: each hit's [`Owner`] (a crash, an
  activity record, or an unattributed object), and the crashes linked by
  install id.
- [`Evidence`] and [`SearchReport`]: what `search` returns.

[`walk`] reads a whole export record by record, one warning per bad
object.
*/
#![warn(missing_docs)]

mod attribute;
pub mod decode;
mod error;
mod evidence;
mod expand;
pub mod export;
mod fxhash;
pub mod index;
mod matcher;
pub mod narrow;
mod phone;
mod place;
pub mod redact;
mod scan;
mod search;
mod sources;
mod stream;
mod subject;
pub mod tokens;
mod walk;

pub use crate::decode::Limits;
pub use crate::error::{Error, Result};
pub use crate::evidence::{Evidence, Hit, Owner, SearchReport, SourceSummary, Unread};
pub use crate::index::{AttributionIndex, Unlinked};
pub use crate::matcher::{Encoding, Found, Matcher, Unanswerable};
pub use crate::narrow::{Held, IndexUse, Narrow, Selection, Tally, Vouched};
pub use crate::search::search;
pub use crate::sources::{Scanned, SearchOptions};
pub use crate::subject::{IdKind, Identifier, Subject};
pub use crate::walk::{ExportItem, WalkReport, walk};

/// Entry points for the fuzz targets (`tests/fuzz.rs`); not part of the
/// interface.
#[doc(hidden)]
pub mod fuzzing {
    use crate::decode::Limits;
    use crate::matcher::Matcher;
    use crate::scan::{Local, Scanner};

    /// Scans one object at `path` as a search would and attributes its
    /// hits; returns how many owners they went to.
    pub fn scan_object(matcher: &Matcher, path: &str, bytes: &[u8], limits: Limits) -> usize {
        let progress = crate::Scanned::default();
        let scanner = Scanner::new(matcher, limits, true, &progress);
        let mut local = Local::default();
        scanner.object(0, path, bytes, &mut local);
        let mut wanted = crate::index::Wanted::default();
        for h in &local.hits {
            wanted.place(&h.place);
        }
        let index = local
            .index
            .resolve(&mut wanted)
            .expect("an index in memory reads back");
        crate::attribute::attribute(local.hits, &index).len()
    }

    /// The phone scanner: `(start, end)` of each match of `value`.
    pub fn phones(hay: &[u8], value: &str) -> Vec<(usize, usize)> {
        let set = crate::phone::PhoneSet::new(&[crate::phone::PhoneForms::of(value)]);
        crate::phone::find(hay, &set)
            .into_iter()
            .map(|(_, s, e)| (s, e))
            .collect()
    }
}
