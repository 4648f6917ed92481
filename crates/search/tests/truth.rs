//! Correctness against the emulator's ground truth, on exports of three
//! seeds and sizes: every crash that holds a subject's identifiers is found
//! (recall), no decoy and no other subject's crash is reported (precision),
//! and linked crashes are exactly the truth's.
//!
//! In an export, session events belong to no crash: a crash whose only trace
//! of the subject is in its session events is found through its install id
//! (linked), as the design says, rather than directly.

use std::collections::BTreeSet;

use crashdsr_appcenter::Timestamp;
use crashdsr_appcenter::models::BlobPathFormatKind;
use crashdsr_emulator::export::{ExportPlan, ExportStyle, Target, open_target, write};
use crashdsr_emulator::testing::TempDir;
use crashdsr_emulator::{Dataset, DatasetConfig, Truth};
use crashdsr_search::{IdKind, Owner, SearchOptions, Subject, search};
use crashdsr_store::Store;

async fn export(
    seed: u64,
    errors: u64,
    format: BlobPathFormatKind,
    style: ExportStyle,
) -> (TempDir, Dataset) {
    let mut cfg = DatasetConfig::new(seed);
    cfg.errors_per_app = errors;
    let data = Dataset::new(cfg.clone());
    let dir = TempDir::new(&format!("truth-{seed}-{errors}"));
    let plan = ExportPlan {
        app: 0,
        since: Timestamp(cfg.now - chrono::Duration::days(28)),
        entities: vec![],
        path_format: format,
        style,
    };
    let store = open_target(&Target::Dir(dir.path().to_path_buf()))
        .await
        .unwrap();
    write(&data, &plan, store, |_| true).await.unwrap();
    (dir, data)
}

pub fn subjects_of(truth: &Truth) -> Vec<Subject> {
    truth
        .subjects
        .iter()
        .map(|s| Subject::from_specs(&s.label, &s.specs()).unwrap())
        .collect()
}

fn check(truth: &Truth, report: &crashdsr_search::SearchReport) {
    for s in &truth.subjects {
        let session_only: BTreeSet<&str> = s
            .direct
            .iter()
            .filter(|d| d.r#where.iter().all(|w| w == "session_logs.properties"))
            .map(|d| d.error_id.as_str())
            .collect();
        let want_direct: BTreeSet<&str> = s
            .direct
            .iter()
            .map(|d| d.error_id.as_str())
            .filter(|e| !session_only.contains(e))
            .collect();
        let want_linked: BTreeSet<&str> = s
            .linked
            .iter()
            .map(|l| l.error_id.as_str())
            .chain(session_only.iter().copied())
            .collect();
        let mine: Vec<_> = report
            .evidence
            .iter()
            .filter(|e| e.subject == s.label)
            .collect();
        let got_direct: BTreeSet<&str> = mine
            .iter()
            .filter(|e| !e.linked)
            .filter_map(|e| e.error_id.as_deref())
            .collect();
        let got_linked: BTreeSet<&str> = mine
            .iter()
            .filter(|e| e.linked)
            .filter_map(|e| e.error_id.as_deref())
            .collect();
        let missed: Vec<_> = want_direct.difference(&got_direct).collect();
        let extra: Vec<_> = got_direct.difference(&want_direct).collect();
        assert!(
            missed.is_empty(),
            "{}: missed direct crashes {missed:?}",
            s.label
        );
        assert!(
            extra.is_empty(),
            "{}: reported crashes that are not theirs {extra:?}",
            s.label
        );
        assert_eq!(got_linked, want_linked, "{}: linked crashes", s.label);
        assert!(
            mine.iter()
                .filter(|e| !e.linked)
                .all(|e| !e.hits.is_empty())
        );
    }
}

#[tokio::test]
async fn export_search_matches_the_truth_on_three_seeds() {
    for (seed, errors, format, style) in [
        (7, 800, BlobPathFormatKind::WithoutAppId, ExportStyle::Tidy),
        (
            7,
            800,
            BlobPathFormatKind::WithoutAppId,
            ExportStyle::Dotnet,
        ),
        (11, 2000, BlobPathFormatKind::WithAppId, ExportStyle::Dotnet),
        (
            23,
            3000,
            BlobPathFormatKind::WithoutAppId,
            ExportStyle::Dotnet,
        ),
    ] {
        let (dir, data) = export(seed, errors, format, style).await;
        let truth = data.truth();
        let inputs = vec![Store::open(dir.path().join("archive").to_str().unwrap()).unwrap()];
        let opts = SearchOptions {
            expand_install_ids: true,
            threads: 2,
            ..Default::default()
        };
        let report = search(&inputs, subjects_of(&truth), &opts).await.unwrap();
        assert!(report.errors.is_empty(), "{style:?}: {:?}", report.errors);
        assert!(
            report
                .evidence
                .iter()
                .all(|e| !matches!(e.owner, Owner::Unattributed { .. })),
            "{style:?}: something was left unattributed"
        );
        check(&truth, &report);
        // The two-character user id is reported as typed-only.
        assert!(
            report
                .typed_only
                .iter()
                .any(|(l, k)| l == "li" && *k == IdKind::UserId)
        );
    }
}

#[tokio::test]
async fn each_subject_alone_finds_the_same_crashes() {
    let (dir, data) = export(
        5,
        1000,
        BlobPathFormatKind::WithoutAppId,
        ExportStyle::Dotnet,
    )
    .await;
    let truth = data.truth();
    let all = subjects_of(&truth);
    for one in all {
        let label = one.label.clone();
        let inputs = vec![Store::open(dir.path().join("archive").to_str().unwrap()).unwrap()];
        let report = search(
            &inputs,
            vec![one],
            &SearchOptions {
                expand_install_ids: true,
                threads: 2,
                ..Default::default()
            },
        )
        .await
        .unwrap();
        let single = Truth {
            subjects: truth
                .subjects
                .iter()
                .filter(|s| s.label == label)
                .cloned()
                .collect(),
        };
        check(&single, &report);
    }
}
