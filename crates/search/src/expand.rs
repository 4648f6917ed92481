//! Install-id expansion: the installs seen with a subject's crashes and
//! records are searched for in a second scan (as typed values), and the
//! crashes and activity records (sessions, events) that hold one and are
//! not already the subject's are reported as linked.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use crashdsr_store::Store;

use crate::attribute::{Groups, owner_of};
use crate::error::Result;
use crate::evidence::{Evidence, Owner};
use crate::index::{AttributionIndex, Resolver};
use crate::matcher::Matcher;
use crate::narrow::{Alternatives, Scope, flatten, keys};
use crate::sources::{SearchOptions, scan_sources};
use crate::subject::{IdKind, Identifier, Subject};

/// What expansion did.
#[derive(Default)]
pub(crate) struct Expanded {
    /// The objects the second scan could not read.
    pub(crate) failed: Vec<(String, String)>,
    /// What a narrowed search must also read: the installs looked for and
    /// the keys their hits led to (`None`: the index cannot answer them).
    pub(crate) wanted: Option<Alternatives>,
}

/// Adds the linked crashes and records of each subject to `evidence`.
pub(crate) async fn expand(
    sources: &[Store],
    labels: &[String],
    (opts, scope): (&SearchOptions, Option<&Scope>),
    groups: &Groups,
    (resolver, index): (Resolver, &mut AttributionIndex),
    evidence: &mut Vec<Evidence>,
) -> Result<Expanded> {
    let mut by_subject: BTreeMap<usize, BTreeSet<String>> = BTreeMap::new();
    for ((s, _), g) in groups {
        by_subject
            .entry(*s)
            .or_default()
            .extend(g.installs.iter().cloned());
    }
    let subjects: Vec<(usize, Subject)> = by_subject
        .into_iter()
        .filter(|(_, set)| !set.is_empty())
        .map(|(s, set)| {
            let identifiers = set
                .iter()
                .filter_map(|i| Identifier::new(IdKind::InstallId, i).ok())
                .collect();
            (
                s,
                Subject {
                    label: s.to_string(),
                    identifiers,
                },
            )
        })
        .collect();
    if subjects.is_empty() {
        return Ok(Expanded {
            failed: Vec::new(),
            wanted: Some(Alternatives::new()),
        });
    }
    let original: Vec<usize> = subjects.iter().map(|(s, _)| *s).collect();
    let matcher = Arc::new(Matcher::new(subjects.into_iter().map(|(_, s)| s).collect()));
    let local = scan_sources(sources, &matcher, opts, false, scope).await?;
    // The linked crashes and records need their entries too (the report's
    // index serves the package and the plan).
    let (resolver, resolved) = resolver
        .resolve(local.hits.iter().map(|h| &h.place))
        .await?;
    *index = resolved;
    let wanted = matcher.index_query().ok().map(|q| {
        let mut all = flatten(q);
        all.extend(keys(resolver.keys()));
        all
    });
    let direct: BTreeSet<(usize, &str)> = groups
        .keys()
        .filter_map(|(s, o)| o.error_id().map(|e| (*s, e)))
        .collect();
    let mut linked: BTreeMap<(usize, Owner), (String, Option<String>)> = BTreeMap::new();
    for h in local.hits {
        let s = original[h.subject];
        let (owner, known_install) = owner_of(h.place, index);
        match &owner {
            Owner::Crash { error_id, .. } if !direct.contains(&(s, error_id.as_str())) => {}
            Owner::Activity { .. } if !groups.contains_key(&(s, owner.clone())) => {}
            _ => continue,
        }
        let install = h
            .install
            .or(known_install)
            .or_else(|| {
                matcher.subjects()[h.subject]
                    .identifiers
                    .first()
                    .map(|i| i.value.clone())
            })
            .unwrap_or_default();
        linked.entry((s, owner)).or_insert((install, h.record));
    }
    for ((s, owner), (install, record)) in linked {
        let mut e = Evidence::new(labels[s].clone(), owner, true, Vec::new());
        e.install_id = Some(install);
        e.record = record.and_then(|r| serde_json::value::RawValue::from_string(r).ok());
        evidence.push(e);
    }
    Ok(Expanded {
        failed: local.failed,
        wanted,
    })
}
