//! The state store's conformance suite: the same checks of each concern
//! (crawl, requests, workers, erasure journal) on SQLite (always) and on
//! PostgreSQL (when `CRASHDSR_TEST_POSTGRES_URL` is set).

use std::collections::HashSet;
use std::time::Duration;

use crashdsr_state::{
    ListedCrash, RequestRecord, StateStore as Store, Status, Step, StepState, WorkerReport,
};

fn crash(id: &str, group: &str) -> ListedCrash {
    ListedCrash {
        error_id: format!("2517000000000000{id}-0000000{id}-0000-4000-8000-000000000000"),
        error_group_id: group.into(),
        error_time: Some(1_700_000_000_000),
        has_attachments: Some(true),
        has_breadcrumbs: None,
    }
}

fn unique_app(kind: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("conformance/{kind}-{}-{nanos}", std::process::id())
}

async fn conformance(store: &Store, app: &str) {
    // Inventory, interrupted after the first page of group A.
    let run = store
        .begin_inventory(app, "errors", Some("/first".into()))
        .await
        .unwrap();
    assert_eq!((run.run, run.resumed, run.groups_done), (1, false, false));
    store
        .save_group_page(app, 1, &["A".into()], Some("/groups?page=2"))
        .await
        .unwrap();
    let again = store
        .begin_inventory(app, "errors", Some("/first".into()))
        .await
        .unwrap();
    assert!(again.resumed);
    assert_eq!(again.groups_cursor.as_deref(), Some("/groups?page=2"));
    store
        .save_group_page(app, 1, &["B".into()], None)
        .await
        .unwrap();
    let a: Vec<_> = (1..=3).map(|i| crash(&i.to_string(), "A")).collect();
    store
        .save_error_page(app, 1, "A", &a[..2], Some("/A?page=2"))
        .await
        .unwrap();
    let todo = store.groups_to_list(app, 1).await.unwrap();
    assert_eq!(
        todo,
        vec![("A".into(), Some("/A?page=2".into())), ("B".into(), None)]
    );
    let resumed = store.begin_inventory(app, "errors", None).await.unwrap();
    assert!(resumed.resumed && resumed.groups_done);
    store
        .save_error_page(app, 1, "A", &a[2..], None)
        .await
        .unwrap();
    store
        .save_error_page(app, 1, "B", &[crash("4", "B"), crash("5", "B")], None)
        .await
        .unwrap();
    assert!(store.groups_to_list(app, 1).await.unwrap().is_empty());
    assert_eq!(store.finish_inventory(app, &resumed).await.unwrap(), (5, 0));

    // A second run lists one crash fewer: it is marked, not dropped.
    let run2 = store
        .begin_inventory(app, "errors", Some("/first".into()))
        .await
        .unwrap();
    assert_eq!((run2.run, run2.resumed), (2, false));
    store
        .save_group_page(app, 2, &["A".into(), "B".into()], None)
        .await
        .unwrap();
    store.save_error_page(app, 2, "A", &a, None).await.unwrap();
    store
        .save_error_page(app, 2, "B", &[crash("4", "B")], None)
        .await
        .unwrap();
    assert_eq!(store.finish_inventory(app, &run2).await.unwrap(), (0, 1));
    let count = |status: Status| async move {
        store
            .counts()
            .await
            .unwrap()
            .into_iter()
            .filter(|c| c.app == app && c.status == status)
            .map(|c| c.count)
            .sum::<i64>()
    };
    assert_eq!(count(Status::Gone).await, 1);
    assert_eq!(count(Status::Pending).await, 4);

    // Claims: disjoint between workers, sorted, leases expire.
    let lease = Duration::from_secs(60);
    let w1 = store.claim(app, "w1", 2, lease).await.unwrap();
    assert_eq!(w1.len(), 2);
    assert!(w1[0].crash.error_id < w1[1].crash.error_id);
    assert_eq!(w1[0].crash.crash_guid().len(), 36);
    assert_eq!(w1[0].crash.has_attachments, Some(true));
    let w2 = store.claim(app, "w2", 10, lease).await.unwrap();
    assert_eq!(w2.len(), 2);
    let ids = |c: &[crashdsr_state::Claim]| {
        c.iter()
            .map(|c| c.crash.error_id.clone())
            .collect::<HashSet<_>>()
    };
    assert!(ids(&w1).is_disjoint(&ids(&w2)));
    assert!(store.claim(app, "w3", 10, lease).await.unwrap().is_empty());
    assert_eq!(store.pending(app, "w3").await.unwrap(), (0, 4));
    // A worker may re-claim its own; a dead worker's lease can be taken
    // once it expires.
    assert_eq!(store.claim(app, "w1", 10, lease).await.unwrap().len(), 2);
    store
        .claim(app, "w2", 10, Duration::from_millis(1))
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(20)).await;
    let taken = store.claim(app, "w3", 10, lease).await.unwrap();
    assert_eq!(ids(&taken), ids(&w2));
    store.renew("w3", lease).await.unwrap();

    // Retrieval and failures.
    let first = &taken[0].crash.error_id;
    assert!(store.mark_retrieved(app, first, "abc").await.unwrap());
    assert!(
        !store.mark_retrieved(app, first, "abc").await.unwrap(),
        "marked twice"
    );
    assert_eq!(store.retrieved(app).await.unwrap().len(), 1);
    let second = &taken[1].crash.error_id;
    assert_eq!(
        store
            .mark_failed(app, second, "503 once", None, 2)
            .await
            .unwrap(),
        Status::Pending
    );
    assert_eq!(
        store
            .mark_failed(app, second, "503 twice", None, 2)
            .await
            .unwrap(),
        Status::Parked
    );
    let w1_first = &w1[0].crash.error_id;
    assert_eq!(
        store
            .mark_failed(app, w1_first, "404", Some(Status::Gone), 5)
            .await
            .unwrap(),
        Status::Gone
    );
    let errors: Vec<_> = store
        .last_errors(100)
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.app == app)
        .collect();
    assert!(errors.iter().any(|e| e.error_id == *second
        && e.status == Status::Parked
        && e.attempts == 2
        && e.reason == "503 twice"));
    store.release("w1").await.unwrap();
    assert_eq!(store.pending(app, "nobody").await.unwrap(), (1, 0));

    // Concurrent claims never hand one crash to two workers.
    store.forget_app(app).await.unwrap();
    let run = store.begin_inventory(app, "errors", None).await.unwrap();
    store
        .save_group_page(app, run.run, &["G".into()], None)
        .await
        .unwrap();
    let many: Vec<_> = (100..300).map(|i| crash(&i.to_string(), "G")).collect();
    store
        .save_error_page(app, run.run, "G", &many, None)
        .await
        .unwrap();
    let tasks: Vec<_> = (0..4)
        .map(|w| {
            let (store, app) = (store.clone(), app.to_owned());
            tokio::spawn(async move {
                let mut got = Vec::new();
                loop {
                    let c = store.claim(&app, &format!("c{w}"), 7, lease).await.unwrap();
                    if c.is_empty() {
                        break got;
                    }
                    for x in c {
                        assert!(
                            store
                                .mark_retrieved(&app, &x.crash.error_id, "d")
                                .await
                                .unwrap()
                        );
                        got.push(x.crash.error_id);
                    }
                }
            })
        })
        .collect();
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.unwrap());
    }
    assert_eq!(all.len(), 200);
    assert_eq!(all.iter().collect::<HashSet<_>>().len(), 200);
    store.forget_app(app).await.unwrap();
}

/// The requests table: recorded, updated in place, listed by due date.
async fn requests(store: &Store, tag: &str) {
    let record = |id: &str, due: &str, sha: &str| RequestRecord {
        request_id: format!("{tag}-{id}"),
        app: "o/a".into(),
        subject: "s".into(),
        received: "2026-11-01".into(),
        due: due.into(),
        record: "{}".into(),
        package_sha256: sha.into(),
    };
    store
        .record_request(&record("late", "2026-12-09", "aa"))
        .await
        .unwrap();
    store
        .record_request(&record("early", "2026-12-01", "bb"))
        .await
        .unwrap();
    store
        .record_request(&record("late", "2026-12-09", "cc"))
        .await
        .unwrap();
    let open: Vec<RequestRecord> = store
        .open_requests()
        .await
        .unwrap()
        .into_iter()
        .filter(|r| r.request_id.starts_with(tag))
        .collect();
    assert_eq!(
        open,
        [
            record("early", "2026-12-01", "bb"),
            record("late", "2026-12-09", "cc")
        ]
    );
}

/// The workers table: a report replaces the last, old ones are not
/// listed, a finished worker is gone.
async fn workers(store: &Store, tag: &str) {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    let report = |name: &str, done: i64, at: i64| WorkerReport {
        worker: format!("{tag}-{name}"),
        app: "o/a".into(),
        done,
        total: 10,
        rate_per_sec: Some(1.5),
        max_per_sec: Some(1.67),
        throttled_last_minute: 2,
        eta_secs: Some(6),
        updated_at: at,
    };
    store.report_worker(&report("w1", 1, now)).await.unwrap();
    store.report_worker(&report("w1", 4, now)).await.unwrap();
    store
        .report_worker(&report("stale", 1, now - 3_600_000))
        .await
        .unwrap();
    let mine = |all: Vec<WorkerReport>| -> Vec<WorkerReport> {
        all.into_iter()
            .filter(|w| w.worker.starts_with(tag))
            .collect()
    };
    let fresh = mine(store.workers(Duration::from_secs(60)).await.unwrap());
    assert_eq!(fresh, [report("w1", 4, now)]);
    assert!(fresh[0].slowed());
    store.finish_worker(&format!("{tag}-w1")).await.unwrap();
    store.finish_worker(&format!("{tag}-stale")).await.unwrap();
    assert!(mine(store.workers(Duration::from_secs(7200)).await.unwrap()).is_empty());
}

/// The erasure journal: typed states, the last state of a step wins, a
/// batch lands whole, plans are apart.
async fn journal(store: &Store, tag: &str) {
    let plan = format!("{tag}-plan");
    assert!(store.journaled(&plan).await.unwrap().is_empty());
    store
        .journal(&plan, 2, StepState::Started, "")
        .await
        .unwrap();
    store
        .journal(&plan, 2, StepState::Written, "ab12")
        .await
        .unwrap();
    store
        .journal_many(
            &plan,
            &[
                (1, StepState::Done, "deleted"),
                (3, StepState::Refused, "changed"),
                (4, StepState::Vanished, "gone"),
            ],
        )
        .await
        .unwrap();
    store
        .journal(&format!("{tag}-other"), 1, StepState::Started, "")
        .await
        .unwrap();
    let step = |step, state, detail: &str| Step {
        step,
        state,
        detail: detail.into(),
    };
    assert_eq!(
        store.journaled(&plan).await.unwrap(),
        [
            step(1, StepState::Done, "deleted"),
            step(2, StepState::Written, "ab12"),
            step(3, StepState::Refused, "changed"),
            step(4, StepState::Vanished, "gone"),
        ]
    );
    // A range, as a large plan is replayed: its start in, its end out.
    assert_eq!(
        store.journaled_range(&plan, 2..4).await.unwrap(),
        [
            step(2, StepState::Written, "ab12"),
            step(3, StepState::Refused, "changed"),
        ]
    );
    assert!(
        store
            .journaled_range(&plan, 5..64)
            .await
            .unwrap()
            .is_empty()
    );
}

async fn counts(store: &Store, index: &str) -> (i64, i64, i64) {
    let all = store.segment_counts().await.unwrap();
    let c = all.into_iter().find(|c| c.index == index).unwrap();
    (c.pending, c.leased, c.done)
}

/// The index's segment tasks: queued once per fingerprint, claimed by one
/// worker at a time, taken over when a lease expires or is released,
/// finished only by the lease holder, queued again on request.
async fn segment_tasks(store: &Store, tag: &str) {
    use crashdsr_state::SegmentTask;
    let index = format!("{tag}-index");
    let task = |s: &str, f: &str| SegmentTask {
        segment: s.into(),
        fingerprint: f.into(),
    };
    let lease = Duration::from_secs(600);
    store
        .queue_segments(&index, &[task("a", "1"), task("b", "1")])
        .await
        .unwrap();
    store
        .queue_segments(&index, &[task("a", "1")])
        .await
        .unwrap();
    assert_eq!(counts(store, &index).await, (2, 0, 0));
    let (w1, w2) = (format!("{tag}-w1"), format!("{tag}-w2"));
    let first = store
        .claim_segment(&index, &w1, lease)
        .await
        .unwrap()
        .unwrap();
    let second = store
        .claim_segment(&index, &w2, lease)
        .await
        .unwrap()
        .unwrap();
    assert_ne!(first.segment, second.segment);
    assert_eq!(
        store.claim_segment(&index, &w1, lease).await.unwrap(),
        Some(first.clone())
    );
    assert!(
        store
            .claim_segment(&index, &format!("{tag}-w3"), lease)
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(counts(store, &index).await, (0, 2, 0));
    // Only the holder finishes; a released lease is free for others.
    store
        .finish_segment(&index, &first.segment, &w2, "{}")
        .await
        .unwrap();
    assert_eq!(counts(store, &index).await, (0, 2, 0));
    store
        .finish_segment(&index, &first.segment, &w1, "{\"x\":1}")
        .await
        .unwrap();
    store.release_segments(&w2).await.unwrap();
    assert_eq!(counts(store, &index).await, (1, 0, 1));
    assert!(!store.segment_lease_owners().await.unwrap().contains(&w2));
    let taken = store
        .claim_segment(&index, &w1, Duration::from_millis(1))
        .await
        .unwrap();
    assert_eq!(taken, Some(second.clone()));
    tokio::time::sleep(Duration::from_millis(5)).await;
    // An expired lease is taken over.
    assert_eq!(
        store.claim_segment(&index, &w2, lease).await.unwrap(),
        Some(second.clone())
    );
    store
        .finish_segment(&index, &second.segment, &w2, "null")
        .await
        .unwrap();
    let built = store.built_segments(&index).await.unwrap();
    assert_eq!(
        built,
        [
            ("a".to_owned(), "{\"x\":1}".to_owned()),
            ("b".to_owned(), "null".to_owned())
        ]
    );
    // The same fingerprint keeps it built; another queues it again, as
    // does a request.
    store
        .queue_segments(&index, &[task("a", "1"), task("b", "2")])
        .await
        .unwrap();
    assert_eq!(counts(store, &index).await, (1, 0, 1));
    store
        .requeue_segments(&index, &["a".to_owned()])
        .await
        .unwrap();
    assert_eq!(counts(store, &index).await, (2, 0, 0));
    store.clear_segments(&index).await.unwrap();
}

/// Every concern, on one store.
async fn all(store: &Store, kind: &str) {
    conformance(store, &unique_app(kind)).await;
    let tag = unique_app(kind);
    requests(store, &tag).await;
    workers(store, &tag).await;
    journal(store, &tag).await;
    segment_tasks(store, &tag).await;
}

#[tokio::test]
async fn sqlite_conformance() {
    let dir = std::env::temp_dir().join(format!("crashdsr-store-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("state.db");
    let store = Store::open(path.to_str().unwrap()).await.unwrap();
    assert!(!store.is_shared());
    all(&store, "sqlite").await;
    store.close().await;
    // Reopening applies the schema again without harm.
    Store::open(&format!("sqlite://{}", path.display()))
        .await
        .unwrap()
        .close()
        .await;
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test]
async fn postgres_conformance() {
    let Ok(url) = std::env::var("CRASHDSR_TEST_POSTGRES_URL") else {
        println!("skipped: CRASHDSR_TEST_POSTGRES_URL is not set");
        return;
    };
    let store = Store::open(&url).await.unwrap();
    assert!(store.is_shared());
    all(&store, "postgres").await;
}

#[tokio::test]
async fn unreachable_store_is_a_clear_error() {
    let err = Store::open("postgres://nobody:secret-pw@127.0.0.1:9/none")
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("connecting to the state store"), "{err}");
    assert!(!err.contains("secret-pw"), "the password leaked: {err}");
}
