//! Erasure and purge on exports the emulator writes in the shape App
//! Center's backend wrote (`dotnet`: several log blobs a minute, pretty and
//! compact, byte-order marks, UTF-16, late attachments), in a directory and
//! in Azurite: the person is gone, everyone else's data is exactly as it
//! was, every object outside the plan is byte-identical, and the store's
//! refusals (a changed object, a vanished one, a read-only credential, an
//! immutability policy) are reported with the object named.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::Arc;

use crashdsr_appcenter::Timestamp;
use crashdsr_appcenter::models::BlobPathFormatKind;
use crashdsr_emulator::export::{
    ExportPlan, ExportStyle, Target as ExportTarget, open_container, open_target, write,
};
use crashdsr_emulator::testing::{
    Call, Faulty, TempDir, busiest, copy_tree, decoded_texts, files, snapshot,
};
use crashdsr_emulator::{Dataset, DatasetConfig, TruthSubject};
use crashdsr_erase::{
    ApplyOptions, Error, Plan, PurgePlan, Target, Unredactable, apply, apply_purge, apply_to,
    plan_erase, plan_purge,
};
use crashdsr_search::export::{blob_text, split_device_logs};
use crashdsr_search::{Owner, SearchOptions, Subject, search};
use crashdsr_state::{StateStore as Store, StepState};
use object_store::ObjectStore;

fn config(seed: u64, errors: u64, span_days: u32) -> DatasetConfig {
    let mut cfg = DatasetConfig::new(seed);
    cfg.errors_per_app = errors;
    cfg.span_days = span_days;
    cfg
}

async fn export_into(data: &Dataset, store: Arc<dyn ObjectStore>) {
    let cfg = data.config();
    let plan = ExportPlan {
        app: 0,
        since: Timestamp(cfg.now - chrono::Duration::days(i64::from(cfg.span_days) + 1)),
        entities: vec![],
        path_format: BlobPathFormatKind::WithoutAppId,
        style: ExportStyle::Dotnet,
    };
    write(data, &plan, store, |_| true).await.unwrap();
}

/// The export in `dir/archive`; returns that directory.
async fn export_dir(data: &Dataset, dir: &Path) -> String {
    let store = open_target(&ExportTarget::Dir(dir.to_path_buf()))
        .await
        .unwrap();
    export_into(data, store).await;
    dir.join("archive").to_str().unwrap().to_owned()
}

fn subject(s: &TruthSubject) -> Subject {
    Subject::from_specs(&s.label, &s.specs()).unwrap()
}

/// What a search finds per subject, independent of record positions:
/// crash ids, the activity records' texts, and unattributed objects.
type Found = (BTreeSet<String>, Vec<String>, usize);

async fn found_all(sources: &[String], subjects: &[Subject]) -> BTreeMap<String, Found> {
    let inputs: Vec<_> = sources
        .iter()
        .map(|x| crashdsr_store::Store::open(x).unwrap())
        .collect();
    let r = search(&inputs, subjects.to_vec(), &SearchOptions::default())
        .await
        .unwrap();
    assert!(r.failed.is_empty(), "{:?}", r.failed);
    let mut out: BTreeMap<String, Found> = subjects
        .iter()
        .map(|s| (s.label.clone(), Found::default()))
        .collect();
    for e in &r.evidence {
        let f = out.get_mut(&e.subject).unwrap();
        if let Some(id) = &e.error_id {
            f.0.insert(id.clone());
        }
        if let Some(rec) = &e.record {
            f.1.push(rec.get().to_owned());
        }
        if matches!(e.owner, Owner::Unattributed { .. }) {
            f.2 += 1;
        }
    }
    for f in out.values_mut() {
        f.1.sort();
    }
    out
}

async fn found(sources: &[String], s: &Subject) -> Found {
    found_all(sources, std::slice::from_ref(s))
        .await
        .remove(&s.label)
        .unwrap()
}

async fn journal(dir: &Path) -> Store {
    Store::open(dir.join("state.db").to_str().unwrap())
        .await
        .unwrap()
}

/// The plan that erases `gone` from `sources` (no install expansion, no
/// API, a fixed key).
async fn plan_for(sources: &[String], gone: &TruthSubject) -> Plan {
    plan_erase(
        sources,
        vec![subject(gone)],
        false,
        &[1; 32],
        &SearchOptions::default(),
        None,
        Unredactable::Refuse,
    )
    .await
    .unwrap()
}

/// What an erasure must leave: the person gone from `sources`, everyone
/// else's data as before, every object outside the plan as it was, the
/// deleted ones gone, no temporary copy. `before` and `after` map each
/// object to its content or its SHA-256.
async fn check_erasure<V: PartialEq + std::fmt::Debug>(
    plan: &Plan,
    sources: &[String],
    gone: &Subject,
    (others, other_subjects): (&BTreeMap<String, Found>, &[Subject]),
    before: &BTreeMap<String, V>,
    after: &BTreeMap<String, V>,
) {
    let (c, r, u) = found(sources, gone).await;
    assert!(
        c.is_empty() && r.is_empty() && u == 0,
        "still found: {c:?} {r:?} {u}"
    );
    assert_eq!(
        &found_all(sources, other_subjects).await,
        others,
        "someone else's data changed"
    );
    let planned: BTreeSet<&str> = plan
        .rewrites
        .iter()
        .map(|r| r.object.as_str())
        .chain(plan.deletes.iter().map(|d| d.object.as_str()))
        .collect();
    for (object, was) in before {
        if !planned.contains(object.as_str()) {
            assert_eq!(after.get(object), Some(was), "{object} changed");
        }
    }
    for d in &plan.deletes {
        assert!(!after.contains_key(&d.object), "{} not deleted", d.object);
    }
    assert!(
        after
            .keys()
            .all(|k| !k.ends_with(crashdsr_erase::TEMP_SUFFIX)),
        "a temporary copy was left"
    );
}

/// What an auditor still finds of the person in `root`, decoding every
/// object with their own decoders: each file that holds one of the
/// person's identifiers (as a whole: `x{email}` and `{email}.au` are other
/// people's) in any text it decodes to. A user id too short for free text
/// is left to the search's typed-field check.
fn auditor_finds(root: &Path, s: &TruthSubject) -> Vec<String> {
    let whole = |text: &str, value: &str| {
        let (t, v) = (text.to_lowercase(), value.to_lowercase());
        t.match_indices(&v).any(|(at, _)| {
            let before = t[..at].chars().next_back();
            let mut after = t[at + v.len()..].chars();
            let (a1, a2) = (after.next(), after.next());
            let word = |c: char| c.is_alphanumeric() || c == '_';
            let joined_before = before.is_some_and(|c| word(c) || "._%+-".contains(c));
            let joined_after = a1.is_some_and(|c| word(c) || c == '-' && a2.is_some_and(word))
                || a1 == Some('.') && a2.is_some_and(char::is_alphanumeric);
            !(joined_before || joined_after)
        })
    };
    let values: Vec<&str> = s
        .identifiers
        .iter()
        .filter(|i| !(i.kind == "user-id" && i.value.chars().count() < 4))
        .map(|i| i.value.as_str())
        .collect();
    files(root)
        .into_iter()
        .filter(|rel| {
            let texts = decoded_texts(&std::fs::read(root.join(rel)).unwrap());
            texts.iter().any(|t| values.iter().any(|v| whole(t, v)))
        })
        .collect()
}

/// The records `rw` kept are the old blob's, byte for byte and in order,
/// in the same encoding.
fn kept_in_order(rw: &crashdsr_erase::Rewrite, old: &[u8], new: &[u8]) {
    let (old_text, new_text) = (blob_text(old), blob_text(new));
    let old_logs = split_device_logs(old_text.clone());
    let new_logs = split_device_logs(new_text.clone());
    let kept: Vec<&[u8]> = old_logs
        .elements
        .iter()
        .filter(|(i, _)| !rw.drop.contains(&(*i as u32)))
        .map(|(_, s)| &old_text[s.clone()])
        .collect();
    let now: Vec<&[u8]> = new_logs
        .elements
        .iter()
        .map(|(_, s)| &new_text[s.clone()])
        .collect();
    assert_eq!(kept, now, "{}: kept records", rw.object);
    assert_eq!(old[..2], new[..2], "{}: same encoding mark", rw.object);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn erasing_a_person_from_a_directory_export_leaves_everyone_else_intact() {
    let tmp = TempDir::new("erase-dir");
    // A day of a busy app: minute folders with several crashes, so that log
    // blobs mix people and must be rewritten, not deleted.
    let data = Dataset::new(config(41, 1200, 1));
    let source = export_dir(&data, &tmp.path().join("storage")).await;
    let root = Path::new(&source).to_path_buf();
    let pristine = tmp.path().join("pristine");
    copy_tree(&root, &pristine);
    let truth = data.truth();
    let gone = busiest(&truth);
    let sources = vec![source.clone()];
    let other_subjects: Vec<Subject> = truth
        .subjects
        .iter()
        .filter(|s| s.label != gone.label)
        .map(subject)
        .collect();
    let others = found_all(&sources, &other_subjects).await;
    assert!(others.values().any(|f| !f.0.is_empty()), "others have data");
    let before = snapshot(&root);
    let plan = plan_for(&sources, &gone).await;
    assert_eq!(snapshot(&root), before, "planning changes nothing");
    assert!(
        !plan.rewrites.is_empty() && !plan.deletes.is_empty(),
        "{plan:?}"
    );
    // The plan survives a round trip and refuses an edit.
    let json = serde_json::to_vec(&plan).unwrap();
    assert_eq!(Plan::from_json(&json).unwrap(), plan);
    let mut edited = plan.clone();
    edited.deletes.pop();
    assert!(Plan::from_json(&serde_json::to_vec(&edited).unwrap()).is_err());

    let store = journal(tmp.path()).await;
    let outcome = apply(&plan, &store, &ApplyOptions::default(), &|_, _| {})
        .await
        .unwrap();
    assert_eq!(outcome.deleted.len(), plan.deletes.len());
    assert_eq!(outcome.rewritten.len(), plan.rewrites.len());
    assert!(outcome.refused.is_empty() && outcome.vanished.is_empty());
    check_erasure(
        &plan,
        &sources,
        &subject(&gone),
        (&others, &other_subjects),
        &before,
        &snapshot(&root),
    )
    .await;
    // The auditor found the person before, and finds nothing now.
    assert!(!auditor_finds(&pristine, &gone).is_empty());
    assert_eq!(auditor_finds(&root, &gone), Vec::<String>::new());
    for rw in &plan.rewrites {
        kept_in_order(
            rw,
            &std::fs::read(pristine.join(&rw.object)).unwrap(),
            &std::fs::read(root.join(&rw.object)).unwrap(),
        );
    }
    // The truth's crashes that hold the person's data: their blobs go. (A
    // crash whose only trace is a session event's property is the event's:
    // the crash itself goes with --include-linked.)
    for d in gone
        .direct
        .iter()
        .filter(|d| d.r#where.iter().any(|w| !w.starts_with("session_logs")))
    {
        assert!(
            plan.deletes
                .iter()
                .any(|x| x.object.ends_with(&format!("{}.json", d.error_id))),
            "{}: crash blob planned",
            d.error_id
        );
    }
    // A second apply of the same plan changes nothing more.
    let after = snapshot(&root);
    let again = apply(&plan, &store, &ApplyOptions::default(), &|_, _| {})
        .await
        .unwrap();
    assert_eq!(again, outcome);
    assert_eq!(snapshot(&root), after);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_changed_object_is_refused_and_the_rest_goes_through() {
    let tmp = TempDir::new("erase-stale");
    let data = Dataset::new(config(41, 1200, 1));
    let source = export_dir(&data, &tmp.path().join("storage")).await;
    let root = Path::new(&source).to_path_buf();
    let gone = busiest(&data.truth());
    let sources = vec![source.clone()];
    let plan = plan_for(&sources, &gone).await;
    assert!(
        !plan.rewrites.is_empty() && plan.deletes.len() >= 2,
        "{plan:?}"
    );
    // After planning: one rewrite target gains a record, one deleted
    // object is changed, one is deleted by someone else.
    let stale_rewrite = &plan.rewrites[0].object;
    let mut bytes = std::fs::read(root.join(stale_rewrite)).unwrap();
    bytes.extend_from_slice(b"\n");
    std::fs::write(root.join(stale_rewrite), &bytes).unwrap();
    let stale_delete = &plan.deletes[0].object;
    std::fs::write(root.join(stale_delete), b"replaced after planning").unwrap();
    let vanished = &plan.deletes[1].object;
    std::fs::remove_file(root.join(vanished)).unwrap();
    let before = snapshot(&root);

    let store = journal(tmp.path()).await;
    let outcome = apply(&plan, &store, &ApplyOptions::default(), &|_, _| {})
        .await
        .unwrap();
    let refused: BTreeSet<&str> = outcome.refused.iter().map(|s| s.object.as_str()).collect();
    assert_eq!(
        refused,
        [stale_rewrite.as_str(), stale_delete.as_str()]
            .into_iter()
            .collect()
    );
    assert!(
        outcome
            .refused
            .iter()
            .all(|s| s.why.contains("changed after planning"))
    );
    assert_eq!(outcome.vanished.len(), 1);
    assert_eq!(&outcome.vanished[0].object, vanished);
    assert_eq!(outcome.rewritten.len(), plan.rewrites.len() - 1);
    assert_eq!(outcome.deleted.len(), plan.deletes.len() - 2);
    let after = snapshot(&root);
    assert_eq!(
        after.get(stale_rewrite),
        before.get(stale_rewrite),
        "left alone"
    );
    assert_eq!(
        after.get(stale_delete),
        before.get(stale_delete),
        "left alone"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn purge_removes_exactly_the_folders_older_than_the_cutoff() {
    let tmp = TempDir::new("purge");
    let cfg = config(43, 600, 120);
    let data = Dataset::new(cfg.clone());
    let source = export_dir(&data, &tmp.path().join("storage")).await;
    let root = Path::new(&source).to_path_buf();
    let before = snapshot(&root);
    let cutoff = (cfg.now - chrono::Duration::days(90))
        .format("%Y-%m-%dT%H:%M")
        .to_string();
    let sources = vec![source.clone()];
    let plan_file = tmp.path().join("purge.jsonl");
    let plan = plan_purge(&sources, &cutoff, &plan_file).await.unwrap();
    assert_eq!(PurgePlan::open(&plan_file).unwrap(), plan);
    let older: BTreeSet<&String> = before
        .keys()
        .filter(|o| crashdsr_erase::minute_of(o).unwrap().as_str() < cutoff.as_str())
        .collect();
    assert!(
        older.len() > 200 && older.len() < before.len(),
        "the export spans the cut-off, over several chunks"
    );
    let deletes: Vec<crashdsr_erase::Delete> = plan
        .each_delete()
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    let planned: BTreeSet<&String> = deletes.iter().map(|d| &d.object).collect();
    assert_eq!(planned, older, "exactly the older objects are planned");
    assert_eq!(plan.deletes as usize, deletes.len());

    // An edited plan, or one cut short, is refused.
    let text = std::fs::read_to_string(&plan_file).unwrap();
    let edited = tmp.path().join("edited.jsonl");
    std::fs::write(&edited, text.replacen("\"size\":", "\"size\":1", 1)).unwrap();
    let err = PurgePlan::open(&edited).unwrap_err().to_string();
    assert!(err.contains("changed after it was made"), "{err}");
    let lines: Vec<&str> = text.lines().collect();
    std::fs::write(&edited, lines[..lines.len() - 1].join("\n") + "\n").unwrap();
    let err = PurgePlan::open(&edited).unwrap_err().to_string();
    assert!(err.contains("cut short"), "{err}");

    // A run that stopped after 100 deletes (journaled as started, the
    // objects gone): the rerun replays the journal a chunk at a time and
    // records them as deleted.
    let store = journal(tmp.path()).await;
    for (n, d) in deletes.iter().take(100).enumerate() {
        store
            .journal(&plan.plan_id, n as i64, StepState::Started, "")
            .await
            .unwrap();
        std::fs::remove_file(root.join(&d.object)).unwrap();
    }
    let spool = tmp.path().join("spool");
    std::fs::create_dir_all(&spool).unwrap();
    let outcome = apply_purge(&plan, &store, &ApplyOptions::default(), &spool, &|_, _| {})
        .await
        .unwrap();
    assert_eq!(
        (outcome.deleted, outcome.refused, outcome.vanished),
        (older.len() as u64, 0, 0)
    );
    let listed = std::fs::read_to_string(&outcome.deleted_file).unwrap();
    assert_eq!(listed.lines().count(), older.len());
    let after = snapshot(&root);
    let kept: BTreeMap<&String, &String> =
        before.iter().filter(|(o, _)| !older.contains(o)).collect();
    assert_eq!(
        after.iter().collect::<BTreeMap<_, _>>(),
        kept,
        "the newer objects, byte-identical"
    );
    let rescan = crashdsr_erase::rescan_purge(&plan).await.unwrap();
    assert_eq!(rescan.left, 0);
    assert_eq!(rescan.objects as usize, kept.len());
    let json = crashdsr_erase::purge_receipt_json(&plan, "x", &outcome, &rescan);
    assert_eq!(json["counts"]["deleted"], older.len());
    let receipt = crashdsr_erase::purge_receipt(&json, &plan, &outcome, &rescan).unwrap();
    let w = receipt.write(&tmp.path().join("r.zip"), false).unwrap();
    for f in [
        "erasure.json",
        "erasure.html",
        "deleted.jsonl",
        "left-alone.jsonl",
    ] {
        assert!(w.files.contains_key(f), "{f}");
    }
    assert!(crashdsr_package::verify(&w.path).unwrap().ok());
    // A second run is a no-op that lists the same.
    let again = apply_purge(&plan, &store, &ApplyOptions::default(), &spool, &|_, _| {})
        .await
        .unwrap();
    assert_eq!(again.deleted, outcome.deleted);
    assert_eq!(snapshot(&root), after);
}

/// A crawl archive beside minute folders: each archived crash is judged by
/// its crash log's time, one folder at a time, and all of its objects (in
/// subfolders too) go or stay together.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn purge_judges_each_archived_crash_by_its_crash_log() {
    let tmp = TempDir::new("purge-archive");
    let put = |root: &Path, path: &str, text: &str| {
        let file = root.join(path);
        std::fs::create_dir_all(file.parent().unwrap()).unwrap();
        std::fs::write(file, text).unwrap();
    };
    let crash = |root: &Path, id: &str, log: Option<&str>| {
        let folder = format!("apps/contoso/demo/errors/{id}");
        if let Some(log) = log {
            put(root, &format!("{folder}/download.json"), log);
        }
        put(root, &format!("{folder}/details.json"), "{}");
        put(root, &format!("{folder}/attachments/a1/a.txt"), "text");
        put(root, &format!("{folder}/attachments/a2/b.bin"), "bin");
        folder
    };
    let old = |t: &str| format!("{{\"errorId\":\"x\",\"timestamp\":\"{t}\"}}");
    let mixed = tmp.path().join("mixed");
    put(&mixed, "2026/11/01/10/05/logs.v1.data", "[]");
    put(&mixed, "2026/12/01/10/05/logs.v1.data", "[]");
    let mut older = vec!["2026/11/01/10/05/logs.v1.data".to_owned()];
    for (id, log) in [
        ("e1", Some(old("2026-10-01T00:00:00Z"))),
        ("e2", Some(old("2026-12-01T00:00:00Z"))),
        ("e3", Some(old("2026-11-14T23:59:59Z"))),
        ("e4", None),
        ("e5", Some("{\"errorId\":\"x\"}".to_owned())),
        ("e6", Some(old("2026-11-15T00:00:00Z"))),
    ] {
        let folder = crash(&mixed, id, log.as_deref());
        if ["e1", "e3"].contains(&id) {
            for o in ["download.json", "details.json", "attachments/a1/a.txt"] {
                older.push(format!("{folder}/{o}"));
            }
            older.push(format!("{folder}/attachments/a2/b.bin"));
        }
    }
    // Only older crashes: whichever folder is listed last is planned too.
    let archive = tmp.path().join("archive");
    let mut all = Vec::new();
    for id in ["f1", "f2", "f3"] {
        let folder = crash(&archive, id, Some(&old("2026-01-01T00:00:00Z")));
        for o in [
            "download.json",
            "details.json",
            "attachments/a1/a.txt",
            "attachments/a2/b.bin",
        ] {
            all.push(format!("{folder}/{o}"));
        }
    }
    for (root, mut expected) in [(mixed, older), (archive, all)] {
        let sources = vec![root.to_str().unwrap().to_owned()];
        let plan_file = tmp.path().join("purge.jsonl");
        let plan = plan_purge(&sources, "2026-11-15T00:00", &plan_file)
            .await
            .unwrap();
        let mut planned: Vec<String> = plan
            .each_delete()
            .unwrap()
            .map(|d| d.unwrap().object)
            .collect();
        planned.sort();
        expected.sort();
        assert_eq!(planned, expected, "{}", root.display());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn immutable_and_read_only_stores_stop_the_run_with_the_object_named() {
    let tmp = TempDir::new("erase-refused");
    let data = Dataset::new(config(44, 1200, 1));
    let source = export_dir(&data, &tmp.path().join("storage")).await;
    let root = Path::new(&source).to_path_buf();
    let gone = busiest(&data.truth());
    let plan = plan_for(std::slice::from_ref(&source), &gone).await;
    let before = snapshot(&root);
    let local: Arc<dyn ObjectStore> =
        Arc::new(object_store::local::LocalFileSystem::new_with_prefix(&root).unwrap());
    type Case = (fn() -> object_store::Error, &'static str);
    let cases: [Case; 2] = [
        (
            || {
                object_store::Error::Generic {
                store: "MicrosoftAzure",
                source: "409 Conflict: BlobImmutableDueToPolicy: This operation is not permitted as the blob is immutable due to a policy.".into(),
            }
            },
            "immutability policy or a legal hold",
        ),
        (
            || object_store::Error::PermissionDenied {
                path: "x".into(),
                source: "403 AuthorizationPermissionMismatch".into(),
            },
            "credential may not change it",
        ),
    ];
    for (n, (error, says)) in cases.into_iter().enumerate() {
        let store = journal(&tmp.path().join(format!("j{n}"))).await;
        // Every change refused with the case's error; reads go through.
        let refusing = Faulty::new(local.clone(), move |call, _| {
            (call != Call::Get).then(error)
        });
        let target = Target::new(crashdsr_store::Store::from_object_store(
            Arc::new(refusing),
            "refusing",
        ));
        let err = apply_to(
            &plan,
            vec![target],
            &store,
            &ApplyOptions::default(),
            &|_, _| {},
        )
        .await
        .unwrap_err();
        assert!(
            matches!(err, Error::Immutable { .. } | Error::ReadOnly { .. }),
            "{err}"
        );
        let text = err.to_string();
        assert!(text.contains(says), "{text}");
        let first = plan
            .rewrites
            .first()
            .map_or(&plan.deletes[0].object, |r| &r.object);
        assert!(text.contains(first.as_str()), "names the object: {text}");
        assert!(text.contains("nothing more was changed"), "{text}");
        assert_eq!(snapshot(&root), before, "nothing changed");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn erasing_from_an_export_in_azurite() {
    let Ok(endpoint) = std::env::var("CRASHDSR_TEST_AZURITE") else {
        println!("skipped: CRASHDSR_TEST_AZURITE is not set");
        return;
    };
    let account = std::env::var("AZURE_STORAGE_ACCOUNT_NAME").unwrap();
    let key = std::env::var("AZURE_STORAGE_ACCOUNT_KEY").unwrap();
    // Smaller than the directory tests (every search goes over HTTP), and
    // still a day of a busy app: log blobs mix people.
    let data = Dataset::new(config(45, 400, 1));
    // A container of its own: the export tests read the whole of
    // `archive`, and nothing is left there for them.
    let container = format!(
        "erase-{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_millis()
    );
    let store = open_container(&endpoint, &account, &key, &container)
        .await
        .unwrap();
    export_into(&data, store.clone()).await;
    let source = format!("az://{container}");
    let sources = vec![source.clone()];
    let truth = data.truth();
    let gone = busiest(&truth);
    let other_subjects: Vec<Subject> = truth
        .subjects
        .iter()
        .filter(|s| s.label != gone.label)
        .map(subject)
        .collect();
    let others = found_all(&sources, &other_subjects).await;
    assert!(others.values().any(|f| !f.0.is_empty()), "others have data");
    let contents = |store: Arc<dyn ObjectStore>| async move {
        let mut out = BTreeMap::new();
        let all: Vec<_> = futures::TryStreamExt::try_collect(store.list(None))
            .await
            .unwrap();
        for m in all {
            let b = object_store::ObjectStoreExt::get(&*store, &m.location)
                .await
                .unwrap()
                .bytes()
                .await
                .unwrap();
            out.insert(m.location.to_string(), b.to_vec());
        }
        out
    };
    let before = contents(store.clone()).await;
    let plan = plan_for(&sources, &gone).await;
    assert!(
        !plan.rewrites.is_empty() && !plan.deletes.is_empty(),
        "{plan:?}"
    );
    let tmp = TempDir::new("erase-azurite");
    let journal = journal(tmp.path()).await;
    let outcome = apply(&plan, &journal, &ApplyOptions::default(), &|_, _| {})
        .await
        .unwrap();
    assert_eq!(outcome.rewritten.len(), plan.rewrites.len());
    assert_eq!(outcome.deleted.len(), plan.deletes.len());
    let after = contents(store.clone()).await;
    check_erasure(
        &plan,
        &sources,
        &subject(&gone),
        (&others, &other_subjects),
        &before,
        &after,
    )
    .await;
    for rw in &plan.rewrites {
        kept_in_order(rw, &before[&rw.object], &after[&rw.object]);
    }
    let rescan =
        crashdsr_erase::rescan_erase(&plan, vec![subject(&gone)], &SearchOptions::default())
            .await
            .unwrap();
    assert_eq!(rescan.left, 0, "{rescan:?}");
}
