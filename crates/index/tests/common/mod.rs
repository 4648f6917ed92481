//! What the index's tests share: a search's whole answer as text, to
//! compare a narrowed search with a full one.

use crashdsr_search::SearchReport;

/// Everything a search answers: its evidence, unread objects, counts,
/// source summaries, attachments by crash, apps and failures.
pub(crate) fn answer(r: &SearchReport) -> String {
    let evidence: Vec<String> = r
        .evidence
        .iter()
        .map(|e| serde_json::to_string(e).unwrap())
        .collect();
    let mut failed = r.failed.clone();
    failed.sort();
    format!(
        "{}\n--unread {:?}\n--counts {} {} {}\n--sources {}\n--attachments {:?}\n--apps {:?}\n--failed {failed:?}",
        evidence.join("\n"),
        r.unread,
        r.objects,
        r.bytes,
        r.records,
        serde_json::to_string(&r.sources).unwrap(),
        r.index.attachments_by_crash(),
        r.index.apps(),
    )
}
