//! Attribution: each hit's [`Place`] becomes an [`Owner`] once the whole
//! export has been read. An attachment goes to the crash its attachment log
//! names (or the one crash of the same install and session); what cannot be
//! tied to anything stays [`Owner::Unattributed`], with the reason, and is
//! never dropped.

use std::collections::{BTreeMap, BTreeSet};

use crashdsr_store::SourceId;

use crate::evidence::{Hit, Owner};
use crate::index::AttributionIndex;
use crate::place::Place;
use crate::scan::RawHit;

/// What one subject has in one owner.
#[derive(Debug, Clone, Default)]
pub(crate) struct Group {
    pub(crate) hits: Vec<Hit>,
    /// Installs seen with it (for expansion).
    pub(crate) installs: BTreeSet<String>,
    /// The record's text (activity records).
    pub(crate) record: Option<String>,
}

/// Subject index and owner to what was found there.
pub(crate) type Groups = BTreeMap<(usize, Owner), Group>;

/// The owner of a place.
pub(crate) fn owner_of(place: Place, index: &AttributionIndex) -> (Owner, Option<String>) {
    match place {
        Place::Crash { app, error_id } => {
            let entry = index.crash(&error_id);
            let app = app.or_else(|| entry.and_then(|e| e.app.as_deref().map(str::to_owned)));
            let install = entry.and_then(|e| e.install_id.as_deref().map(str::to_owned));
            (Owner::Crash { app, error_id }, install)
        }
        Place::Activity {
            app,
            install_id,
            message_type,
            object,
            index: at,
            source,
        } => {
            let app = app.or_else(|| {
                install_id
                    .as_deref()
                    .and_then(|i| index.app_of_install(i))
                    .map(str::to_owned)
            });
            (
                Owner::Activity {
                    app,
                    install_id: install_id.clone(),
                    message_type,
                    object,
                    index: at,
                    source: SourceId::new(source),
                },
                install_id,
            )
        }
        Place::Attachment {
            attachment_id,
            object,
            index: record,
            source,
        } => match index.crash_of_attachment(&attachment_id) {
            Ok((error_id, entry)) => {
                let app = entry
                    .app
                    .as_deref()
                    .or_else(|| index.crash(error_id).and_then(|c| c.app.as_deref()))
                    .map(str::to_owned);
                (
                    Owner::Crash {
                        app,
                        error_id: error_id.to_owned(),
                    },
                    entry.install_id.as_deref().map(str::to_owned),
                )
            }
            Err(reason) => (
                Owner::Unattributed {
                    object,
                    index: record,
                    reason: format!("attachment {attachment_id}: {reason}"),
                    source: SourceId::new(source),
                },
                None,
            ),
        },
        Place::Unattributed {
            object,
            index,
            reason,
            source,
        } => (
            Owner::Unattributed {
                object,
                index,
                reason,
                source: SourceId::new(source),
            },
            None,
        ),
    }
}

/// Groups hits by subject and owner.
pub(crate) fn attribute(hits: Vec<RawHit>, index: &AttributionIndex) -> Groups {
    let mut groups = Groups::new();
    for h in hits {
        let (owner, known_install) = owner_of(h.place, index);
        let g = groups.entry((h.subject, owner)).or_default();
        for i in h.install.into_iter().chain(known_install) {
            g.installs.insert(i.to_ascii_lowercase());
        }
        if g.record.is_none() {
            g.record = h.record;
        }
        g.hits.push(h.hit);
    }
    for g in groups.values_mut() {
        g.hits.sort();
        g.hits.dedup();
    }
    groups
}
