//! Exports in the shapes our emulator does not write, made by hand: each
//! shape the real world holds, next to decoys, and the exact crashes,
//! activity records and unattributed objects that must come out.

#[path = "fixtures/shapes.rs"]
mod shapes;

use std::collections::BTreeSet;
use std::path::Path;

use crashdsr_emulator::testing::TempDir;
use crashdsr_search::{Limits, Owner, SearchOptions, SearchReport, search};
use crashdsr_store::Store;
use shapes::{A, export};

fn run(root: &Path, limits: Limits) -> SearchReport {
    let opts = SearchOptions {
        threads: 2,
        limits,
        ..Default::default()
    };
    let sources = [Store::open(root.to_str().unwrap()).unwrap()];
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(search(&sources, shapes::subjects(), &opts))
        .unwrap()
}

fn crashes<'r>(r: &'r SearchReport, who: &str) -> BTreeSet<&'r str> {
    r.evidence
        .iter()
        .filter(|e| e.subject == who && !e.linked)
        .filter_map(|e| e.error_id.as_deref())
        .collect()
}

#[test]
fn every_real_world_shape_is_read_and_attributed() {
    let dir = TempDir::new("shapes");
    export(dir.path());
    let small = Limits {
        max_expand: 1 << 20,
        max_depth: 4,
    };
    let r = run(dir.path(), small);
    assert_eq!(
        crashes(&r, "jane"),
        BTreeSet::from(["c1", "c2", "c3", "c4", "c5", "c6", "c7"]),
        "{:#?}",
        r.evidence
    );
    assert_eq!(crashes(&r, "zoe"), BTreeSet::from(["c8"]));
    // Activity records come with the record itself; an unknown type is kept.
    let activity: Vec<(&str, &str)> = r
        .evidence
        .iter()
        .filter_map(|e| match &e.owner {
            Owner::Activity { message_type, .. } => {
                Some((message_type.as_str(), e.record.as_ref().unwrap().get()))
            }
            _ => None,
        })
        .collect();
    assert_eq!(activity.len(), 2, "{activity:?}");
    assert!(
        activity
            .iter()
            .any(|(t, rec)| *t == "EventLog" && rec.contains("\"EventLog\""))
    );
    assert!(activity.iter().any(|(t, _)| *t == "FancyNewLog"));
    // The orphan attachment is unattributed, with its reason, and nothing
    // hides in install_id.
    let unattributed: Vec<(&str, &str)> = r
        .evidence
        .iter()
        .filter_map(|e| match &e.owner {
            Owner::Unattributed { object, reason, .. } => Some((object.as_str(), reason.as_str())),
            _ => None,
        })
        .collect();
    assert_eq!(unattributed.len(), 1, "{unattributed:?}");
    assert!(unattributed[0].0.ends_with("attachments/att12"));
    assert!(unattributed[0].1.contains("no ErrorAttachmentLog"));
    assert!(
        r.evidence
            .iter()
            .all(|e| e.install_id.as_deref().is_none_or(|i| !i.contains(' ')))
    );
    // The bomb is listed unread and warned about; the damaged element too.
    assert_eq!(r.unread.len(), 1, "{:?}", r.unread);
    assert!(
        r.unread[0].object.ends_with("att11")
            && r.unread[0].reason.contains("expands past 1048576")
    );
    assert!(
        r.errors
            .iter()
            .any(|(o, w)| o.ends_with("att11") && w.contains("expands past"))
    );
    assert!(
        r.errors
            .iter()
            .any(|(o, w)| o.ends_with(&format!("{A}logs.v1.data")) && w.contains("element 1"))
    );
    // With the default cap the identifier after 4 MiB of zeros is found,
    // in the crash its log names (someone else's crash holds jane's data).
    let r = run(dir.path(), Limits::default());
    assert!(r.unread.is_empty());
    assert!(crashes(&r, "jane").contains("c10"));
    // The hits name their encodings and containers.
    let artefacts: BTreeSet<String> = r
        .evidence
        .iter()
        .flat_map(|e| e.hits.iter().map(|h| h.artefact.clone()))
        .collect();
    for want in [
        "attachments/att4 (zip: logs/app.log)",
        "attachments/att5 (gzip, tar: support/contact.txt)",
        "attachments/att11 (gzip)",
        "logs.v1.data[14]",
    ] {
        assert!(artefacts.contains(want), "{want} not in {artefacts:?}");
    }
}
