//! The search, end to end: every object of every source scanned
//! ([`crate::sources`]) while the attribution index is built, hits
//! attributed to owners ([`crate::attribute`]), installs expanded
//! ([`crate::expand`]), and the evidence shaped ([`crate::evidence`]).

use std::sync::Arc;

use bytes::Bytes;
use crashdsr_store::Store;
use serde_json::value::RawValue;

use crate::attribute::{Groups, attribute};
use crate::error::Result;
use crate::evidence::{Evidence, Owner, SearchReport};
use crate::index::Resolver;
use crate::matcher::Matcher;
use crate::scan::{WHOLE_OBJECT_MAX, string_field};
use crate::sources::{SearchOptions, scan_sources};
use crate::subject::{IdKind, Subject};

/// Runs the search over `sources` (each named in the report by its
/// [`crashdsr_store::SourceId`], in this order).
pub async fn search(
    sources: &[Store],
    subjects: Vec<Subject>,
    opts: &SearchOptions,
) -> Result<SearchReport> {
    let typed_only: Vec<(String, IdKind)> = subjects
        .iter()
        .flat_map(|s| {
            s.identifiers
                .iter()
                .filter(|i| i.typed_only())
                .map(|i| (s.label.clone(), i.kind))
        })
        .collect();
    let matcher = Arc::new(Matcher::new(subjects));
    let labels: Vec<String> = matcher.subjects().iter().map(|s| s.label.clone()).collect();
    let mut local = scan_sources(sources, &matcher, opts, true).await?;
    for (path, e) in &local.errors {
        tracing::warn!(object = %path, error = %e, "An object was not read whole; the search goes on.");
    }
    let resolver = Resolver::new(std::mem::take(&mut local.index));
    let index_entries = resolver.events();
    let (resolver, mut index) = resolver
        .resolve(local.hits.iter().map(|h| &h.place))
        .await?;
    let mut groups = attribute(local.hits, &index);
    archive_installs(sources, &mut groups).await;
    let mut report = SearchReport {
        typed_only,
        objects: local.objects,
        bytes: local.bytes,
        records: local.records,
        errors: local.errors,
        index_entries,
        unread: local.unread,
        failed: local.failed,
        sources: local.sources,
        ..Default::default()
    };
    report.unread.sort();
    for ((s, owner), g) in &groups {
        let mut e = Evidence::new(labels[*s].clone(), owner.clone(), false, g.hits.clone());
        match owner {
            Owner::Crash { .. } => e.install_id = g.installs.iter().next().cloned(),
            Owner::Activity { .. } => {
                e.record = g
                    .record
                    .as_ref()
                    .and_then(|r| RawValue::from_string(r.clone()).ok());
            }
            Owner::Unattributed { .. } => {}
        }
        report.evidence.push(e);
    }
    if opts.expand_install_ids {
        let failed = crate::expand::expand(
            sources,
            &labels,
            opts,
            &groups,
            (resolver, &mut index),
            &mut report.evidence,
        )
        .await?;
        for f in failed {
            if !report.failed.contains(&f) {
                report.errors.push(f.clone());
                report.failed.push(f);
            }
        }
    }
    report.evidence.sort_by(|a, b| {
        (&a.subject, a.linked, &a.owner, &a.install_id).cmp(&(
            &b.subject,
            b.linked,
            &b.owner,
            &b.install_id,
        ))
    });
    report.index = index;
    Ok(report)
}

/// Archive crashes: the install id is in `download.json` (local or remote).
async fn archive_installs(sources: &[Store], groups: &mut Groups) {
    for ((_, owner), g) in groups.iter_mut() {
        let Owner::Crash {
            app: Some(app),
            error_id,
        } = owner
        else {
            continue;
        };
        if !g.installs.is_empty() || !app.contains('/') {
            continue;
        }
        let rel = crashdsr_store::archive::crash_object(
            app,
            error_id,
            crashdsr_store::archive::CRASH_LOG,
        );
        for source in sources {
            let bytes = match source.dir() {
                Some(root) => std::fs::read(root.join(&rel)).ok().map(Bytes::from),
                None => source.read(&rel, WHOLE_OBJECT_MAX).await.ok(),
            };
            if let Some(i) = bytes.as_deref().and_then(|b| string_field(b, "installId")) {
                g.installs.insert(i.to_ascii_lowercase());
            }
        }
    }
}
