/*!
Erasure and storage limitation over App Center exports and crawl archives:
one person's data out (Art. 17), or everything older than a cut-off
(Art. 5(1)(e)), and nobody else's.

# Brief overview

A `logs*.v1.data` blob mixes many people's records, so it cannot simply be
deleted: it is rewritten without the person's records, and every other
record stays byte-identical and in order ([`rewrite()`]). The work is
split the way a careful operator would split it:

- [`plan_erase`] / [`plan_purge`]: a search (the same reader, matcher and
  attribution index as `crashdsr search`) decides which objects go and
  which records are dropped; the [`Plan`] records the SHA-256 of each
  object. Nothing is changed. A second person reviews the plan.
- A crash found by the person's data whose typed user field names
  someone else (a support tool's crash: the agent's user id, a
  customer's e-mail in the message) is someone else's: it stays, with the
  person's identifiers masked in place in its objects and records
  ([`crashdsr_search::redact`]).
- [`apply`]: runs exactly the plan, journaled step by step in the state
  store (`crashdsr-crawl`): rewrites first, then redactions (a temporary copy beside the
  blob, checked, then a conditional replace: a rename on a file system, a
  put on the ETag in an object store), whole-object deletes last. An
  object that changed since planning is refused and left alone. A run
  killed at any point, started again with the same plan, finishes the job.
- With an API ([`ApiPlan`], [`ApiAccess`]): the person's crashes are also
  deleted through App Center's API and their installs blocked, before
  anything in the sources changes.
- [`receipt()`]: what was done, sealed like a package, with a re-scan.

`docs/erasure.md` documents the plan and receipt formats.
*/
#![warn(missing_docs)]

mod api;
mod apply;
mod plan;
mod purge;
mod receipt;
mod rewrite;
mod target;

pub use crate::api::{ApiAccess, ApiCrash, ApiInstall, ApiPlan};
pub use crate::apply::{
    ApplyOptions, Deleted, Outcome, PurgeOutcome, Redacted, Rewritten, Skipped, apply, apply_purge,
    apply_to,
};
pub use crate::plan::{
    Delete, Kept, Kind, PLAN_FORMAT, PLAN_VERSION, Plan, PlanSubject, Redact, Rewrite,
    Unredactable, minute_of, plan_erase, rescan_erase,
};
pub use crate::purge::{PURGE_PLAN_VERSION, PurgePlan, is_purge_plan, plan_purge, rescan_purge};
pub use crate::receipt::{
    RECEIPT_FORMAT, Rescan, purge_receipt, purge_receipt_json, receipt, receipt_json,
};
pub use crate::rewrite::{RewriteError, rewrite};
pub use crate::target::{TEMP_SUFFIX, Target};

/// An erasure error. Each names the object and says what to do.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The plan cannot be made or read.
    #[error("{0}")]
    Plan(String),
    /// The search failed (a source could not be opened or listed).
    #[error(transparent)]
    Search(#[from] crashdsr_search::Error),
    /// The journal (state store) failed.
    #[error("the erasure journal: {0}")]
    Journal(#[from] crashdsr_state::Error),
    /// An immutability policy or legal hold protects the object.
    #[error(
        "{object}: the container has an immutability policy or a legal hold ({message}); nothing more was changed. \
         Remove the hold or let the policy expire (Azure portal: container → Access policy), then run the same --apply again"
    )]
    Immutable {
        /// The object.
        object: String,
        /// The store's answer.
        message: String,
    },
    /// The credential may read but not write or delete.
    #[error(
        "{object}: the credential may not change it ({message}); nothing more was changed. \
         Use a credential with write and delete rights (Azure: Storage Blob Data Contributor, or an account key), \
         then run the same --apply again"
    )]
    ReadOnly {
        /// The object.
        object: String,
        /// The store's answer.
        message: String,
    },
    /// The object is gone.
    #[error("{object}: it is gone")]
    Vanished {
        /// The object.
        object: String,
    },
    /// The object changed under a conditional write.
    #[error("{object}: it changed while it was being written")]
    Changed {
        /// The object.
        object: String,
    },
    /// Any other store failure.
    #[error("{what} {object}: {message}; run the same --apply again to continue")]
    Store {
        /// The object.
        object: String,
        /// What was being done.
        what: String,
        /// Why it failed.
        message: String,
    },
}

/// The result type of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;
