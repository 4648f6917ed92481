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
use crate::narrow::{Alternatives, Narrow, Scope, flatten, keys};
use crate::scan::{WHOLE_OBJECT_MAX, string_field};
use crate::sources::{SearchOptions, scan_sources};
use crate::subject::{IdKind, Subject};

/// Runs the search over `sources` (each named in the report by its
/// [`crashdsr_store::SourceId`], in this order). With
/// [`SearchOptions::narrow`], an index narrows what is read
/// ([`crate::narrow`]); the result is the same.
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
    let (mut scope, mut refused) = match opts.narrow.as_deref() {
        Some(narrow) => match matcher.index_query() {
            Ok(q) => (
                select(narrow, sources, &flatten(q), &opts.limits).await?,
                None,
            ),
            Err(why) => (None, Some(format!("the index cannot answer {why}"))),
        },
        None => (None, None),
    };
    let report = loop {
        let started = std::time::Instant::now();
        let (mut report, wanted) = pass(sources, &matcher, opts, scope.as_ref()).await?;
        tracing::debug!(
            ms = started.elapsed().as_millis() as u64,
            "A search pass ended."
        );
        report.typed_only.clone_from(&typed_only);
        let (Some(s), Some(narrow)) = (scope.as_mut(), opts.narrow.as_deref()) else {
            if let Some(why) = refused {
                tracing::warn!("{why}: every object was read.");
                report.narrow_refused = Some(why);
            }
            break report;
        };
        s.passes += 1;
        let Some(wanted) = wanted else {
            refused = Some("the index cannot answer the install ids expansion looks for".into());
            scope = None;
            continue;
        };
        if !s.grow(narrow, &wanted).await? {
            report.narrowed = s.uses();
            break report;
        }
    };
    // Once, for the pass whose report is returned (a narrowed search runs
    // several).
    for (path, e) in &report.errors {
        tracing::warn!(object = %path, error = %e, "An object was not read whole; the search goes on.");
    }
    Ok(report)
}

/// What the index makes of each source.
async fn select(
    narrow: &dyn Narrow,
    sources: &[Store],
    query: &crate::narrow::Alternatives,
    limits: &crate::decode::Limits,
) -> Result<Option<Scope>> {
    let mut by_source = Vec::new();
    for (n, source) in sources.iter().enumerate() {
        by_source.push(narrow.select(n, source, query, limits).await?);
    }
    Ok(by_source.iter().any(Option::is_some).then_some(Scope {
        by_source,
        passes: 0,
    }))
}

/// One pass: every object of every source (or what `scope` selects)
/// scanned while the attribution index is built, hits attributed, installs
/// expanded. Returns the report and what attribution and expansion wanted
/// (`None`: something an index cannot answer).
async fn pass(
    sources: &[Store],
    matcher: &Arc<Matcher>,
    opts: &SearchOptions,
    scope: Option<&Scope>,
) -> Result<(SearchReport, Option<Alternatives>)> {
    let labels: Vec<String> = matcher.subjects().iter().map(|s| s.label.clone()).collect();
    let mut local = scan_sources(sources, matcher, opts, true, scope).await?;
    let resolver = Resolver::new(std::mem::take(&mut local.index));
    let index_entries = resolver.events();
    let (resolver, mut index) = resolver
        .resolve(local.hits.iter().map(|h| &h.place))
        .await?;
    let mut groups = attribute(local.hits, &index);
    archive_installs(sources, &mut groups).await;
    let mut report = SearchReport {
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
    let wanted = if opts.expand_install_ids {
        let expanded = crate::expand::expand(
            sources,
            &labels,
            (opts, scope),
            &groups,
            (resolver, &mut index),
            &mut report.evidence,
        )
        .await?;
        for f in expanded.failed {
            if !report.failed.contains(&f) {
                report.errors.push(f.clone());
                report.failed.push(f);
            }
        }
        expanded.wanted
    } else {
        Some(keys(resolver.keys()))
    };
    report.evidence.sort_by(|a, b| {
        (&a.subject, a.linked, &a.owner, &a.install_id).cmp(&(
            &b.subject,
            b.linked,
            &b.owner,
            &b.install_id,
        ))
    });
    report.index = index;
    Ok((report, wanted))
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
