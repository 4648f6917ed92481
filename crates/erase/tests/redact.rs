//! Erasure where the person's data sits in someone else's crash: a support
//! tool's crash carries the agent's user id and the customer's e-mail. The
//! export is written by hand (a shape the emulator does not write): the
//! person's own crash goes, the agent's stays with only the e-mail masked,
//! in its crash blob, its error log record, a gzip attachment and one
//! member of a zip bundle; a tar attachment cannot be masked in place and
//! the operator chooses. An auditor's check decodes every object left with
//! its own decoders and finds none of the person's identifiers.

use std::collections::BTreeSet;
use std::io::{Read, Write};
use std::path::Path;

use crashdsr_emulator::testing::{TempDir, decoded_texts, gzip, put};
use crashdsr_erase::{ApplyOptions, Error, Plan, Unredactable, apply, plan_erase};
use crashdsr_search::{SearchOptions, Subject, search};
use crashdsr_state::StateStore as Store;
use serde_json::{Value, json};

const A: &str = "2026/11/30/12/05/";
const B: &str = "2026/11/30/12/07/";
const EMAIL: &str = "jane.doe@example.com";
const MASK: &str = "xxxx.xxx@xxxxxxx.xxx";

/// Every file under `root` with its bytes, by relative path.
fn snapshot(root: &Path) -> std::collections::BTreeMap<String, Vec<u8>> {
    fn walk(root: &Path, dir: &Path, out: &mut std::collections::BTreeMap<String, Vec<u8>>) {
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                walk(root, &p, out);
            } else {
                let rel = p.strip_prefix(root).unwrap().to_str().unwrap().to_owned();
                out.insert(rel, std::fs::read(&p).unwrap());
            }
        }
    }
    let mut out = std::collections::BTreeMap::new();
    walk(root, root, &mut out);
    out
}

fn crash(id: &str, user: &str, message: &str) -> Vec<u8> {
    format!(
        r#"{{"type":"managedError","id":"{id}","errorId":"{id}","installId":"i-{id}","userId":"{user}","exception":{{"type":"E","message":"{message}"}}}}"#
    )
    .into_bytes()
}

fn log(kind: &str, id: &str, user: &str, props: Value) -> Value {
    json!({"AppId": "app-1", "Timestamp": "2026-11-30T12:05:00Z", "InstallId": format!("i-{id}"),
        "UserId": user, "SessionId": format!("s-{id}"), "MessageType": kind, "Properties": props.to_string()})
}

fn error_log(id: &str, user: &str, note: &str) -> Value {
    log(
        "ErrorLog",
        id,
        user,
        json!({"ErrorId": id, "Blob": format!("crashes/{id}.json"), "Note": note}),
    )
}

fn attachment_log(crash: &str, user: &str, attachment: &str) -> Value {
    log(
        "ErrorAttachmentLog",
        crash,
        user,
        json!({"ErrorId": crash, "AttachmentId": attachment, "FileName": "chat.log"}),
    )
}

/// The export: `agent` (user `agent-42`) holds the customer's e-mail in
/// its crash, error log, a gzip chat log and a zip bundle; `jane` is the
/// customer's own crash (no user id); `bob` has nothing of hers; `tarred`
/// (user `agent-43`) holds it inside a tar attachment.
fn export(root: &Path) {
    put(
        root,
        &format!("{A}crashes/agent.json"),
        &crash(
            "agent",
            "agent-42",
            &format!("ticket from {EMAIL} (customer)"),
        ),
    );
    put(
        root,
        &format!("{A}crashes/jane.json"),
        &crash("jane", "", &format!("login failed for {EMAIL}")),
    );
    put(
        root,
        &format!("{A}crashes/bob.json"),
        &crash("bob", "bob-7", "boom for bob@example.org"),
    );
    put(
        root,
        &format!("{A}crashes/tarred.json"),
        &crash("tarred", "agent-43", "see attachment"),
    );
    let records = [
        error_log("agent", "agent-42", &format!("escalated by {EMAIL}")),
        error_log("jane", "", ""),
        attachment_log("agent", "agent-42", "chat"),
        attachment_log("agent", "agent-42", "bundle"),
        error_log("bob", "bob-7", ""),
        log(
            "EventLog",
            "jane",
            "",
            json!({"screen": "checkout", "email": EMAIL}),
        ),
        error_log("tarred", "agent-43", ""),
        attachment_log("tarred", "agent-43", "tarball"),
    ];
    put(
        root,
        &format!("{A}logs.v1.data"),
        serde_json::to_string_pretty(&records).unwrap().as_bytes(),
    );
    put(
        root,
        &format!("{B}attachments/chat"),
        &gzip(
            format!("agent: hello\ncustomer {EMAIL}: my order\nagent: bob@example.org will call\n")
                .as_bytes(),
        ),
    );
    let bundle = {
        let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
        let opts = zip::write::SimpleFileOptions::default();
        w.start_file("device.txt", opts).unwrap();
        w.write_all(b"Pixel 7, Android 14").unwrap();
        w.start_file("logs/app.log", opts).unwrap();
        w.write_all(format!("opened ticket for {EMAIL}").as_bytes())
            .unwrap();
        w.finish().unwrap().into_inner()
    };
    put(root, &format!("{B}attachments/bundle"), &bundle);
    let tarball = {
        let mut b = tar::Builder::new(Vec::new());
        let data = format!("customer {EMAIL}");
        let mut h = tar::Header::new_gnu();
        h.set_size(data.len() as u64);
        h.set_cksum();
        b.append_data(&mut h, "notes.txt", data.as_bytes()).unwrap();
        b.into_inner().unwrap()
    };
    put(root, &format!("{B}attachments/tarball"), &tarball);
}

fn jane() -> Subject {
    Subject::from_specs("jane", &[format!("email={EMAIL}")]).unwrap()
}

fn others() -> Vec<Subject> {
    vec![
        Subject::from_specs("agent", &["user-id=agent-42".to_owned()]).unwrap(),
        Subject::from_specs("bob", &["email=bob@example.org".to_owned()]).unwrap(),
    ]
}

/// Per subject, the crashes and records found, with the hits' types and
/// paths: what must not change for anyone else (a record's position in its
/// log blob aside: the person's records before it are dropped).
async fn found(source: &str, subjects: Vec<Subject>) -> BTreeSet<String> {
    let store = crashdsr_store::Store::open(source).unwrap();
    let r = search(&[store], subjects, &SearchOptions::default())
        .await
        .unwrap();
    assert!(r.failed.is_empty(), "{:?}", r.failed);
    r.evidence
        .iter()
        .map(|e| {
            format!(
                "{} {:?} {:?} {:?}",
                e.subject,
                e.error_id,
                e.owner,
                e.hits
                    .iter()
                    .map(|h| (h.identifier, h.artefact.split('[').next().unwrap(), &h.path))
                    .collect::<Vec<_>>()
            )
        })
        .collect()
}

async fn plan(source: &str, unredactable: Unredactable) -> crashdsr_erase::Result<Plan> {
    plan_erase(
        &[source.to_owned()],
        vec![jane()],
        false,
        &[7; 32],
        &SearchOptions::default(),
        None,
        unredactable,
    )
    .await
}

/// The objects in which the auditor still finds the e-mail.
fn audit(root: &Path) -> Vec<String> {
    snapshot(root)
        .into_iter()
        .filter(|(_, bytes)| {
            decoded_texts(bytes)
                .iter()
                .any(|s| s.to_lowercase().contains(EMAIL))
        })
        .map(|(path, _)| path)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_persons_email_is_masked_in_someone_elses_crash_and_the_crash_survives() {
    let tmp = TempDir::new("erase-redact");
    let root = tmp.path().join("archive");
    export(&root);
    let source = root.to_str().unwrap().to_owned();
    let before = snapshot(&root);
    let theirs = found(&source, others()).await;
    assert!(
        theirs.iter().any(|l| l.contains("\"agent\"")),
        "the agent's crash is the agent's: {theirs:?}"
    );

    // The tar attachment cannot be masked in place: the plan stops and
    // names it until the operator chooses.
    let err = plan(&source, Unredactable::Refuse).await.unwrap_err();
    assert!(matches!(err, Error::Plan(_)), "{err}");
    assert!(
        err.to_string().contains("attachments/tarball") && err.to_string().contains("tar"),
        "{err}"
    );
    assert!(!err.to_string().contains(EMAIL), "{err}");

    let plan = plan(&source, Unredactable::Delete).await.unwrap();
    assert_eq!(snapshot(&root), before, "planning changes nothing");
    let redacted: BTreeSet<&str> = plan.redacts.iter().map(|r| r.object.as_str()).collect();
    assert_eq!(
        redacted,
        [
            format!("{A}crashes/agent.json"),
            format!("{B}attachments/bundle"),
            format!("{B}attachments/chat"),
        ]
        .iter()
        .map(String::as_str)
        .collect(),
        "{plan:#?}"
    );
    let deleted: BTreeSet<&str> = plan.deletes.iter().map(|d| d.object.as_str()).collect();
    assert_eq!(
        deleted,
        [
            format!("{A}crashes/jane.json"),
            format!("{B}attachments/tarball"),
        ]
        .iter()
        .map(String::as_str)
        .collect(),
        "{plan:#?}"
    );
    assert!(
        plan.deletes
            .iter()
            .any(|d| d.why.contains("--unredactable delete"))
    );
    // The log blob: the person's crash and event dropped, the agent's
    // error log masked; nothing else.
    let [rw] = &plan.rewrites[..] else {
        panic!("{plan:#?}")
    };
    assert_eq!((rw.drop.clone(), rw.redact.clone()), (vec![1, 5], vec![0]));
    // The plan holds no identifier value.
    let text = serde_json::to_string(&plan).unwrap();
    assert!(
        !text.contains(EMAIL) && !text.contains("agent-42"),
        "{text}"
    );

    // Without the people, a plan that masks cannot run.
    let store = Store::open(tmp.path().join("state.db").to_str().unwrap())
        .await
        .unwrap();
    let err = apply(&plan, &store, &ApplyOptions::default(), &|_, _| {})
        .await
        .unwrap_err();
    assert!(err.to_string().contains("--subject"), "{err}");
    let opts = ApplyOptions {
        subjects: vec![jane()],
        ..ApplyOptions::default()
    };
    let outcome = apply(&plan, &store, &opts, &|_, _| {}).await.unwrap();
    assert_eq!(outcome.redacted.len(), 3);
    assert!(outcome.refused.is_empty() && outcome.vanished.is_empty());

    // The person is gone, by the search and by the auditor's own decoding.
    assert!(found(&source, vec![jane()]).await.is_empty());
    assert_eq!(audit(&root), Vec::<String>::new());
    // Everyone else's results are what they were.
    assert_eq!(found(&source, others()).await, theirs);

    // The agent's crash: only the e-mail masked, every other byte as it was.
    let after = snapshot(&root);
    let was = |p: &str| String::from_utf8_lossy(&before[p]).into_owned();
    let now = |p: &str| String::from_utf8_lossy(&after[p]).into_owned();
    let agent = format!("{A}crashes/agent.json");
    assert_eq!(now(&agent), was(&agent).replace(EMAIL, MASK));
    let logs = format!("{A}logs.v1.data");
    let old: Vec<Value> = serde_json::from_str(&was(&logs)).unwrap();
    let new: Vec<Value> = serde_json::from_str(&now(&logs)).unwrap();
    assert_eq!(new.len(), 6);
    assert_eq!(
        new[0].to_string(),
        old[0].to_string().replace(EMAIL, MASK),
        "the agent's error log, masked"
    );
    assert_eq!(new[1..], [&old[2..5], &old[6..]].concat()[..]);
    let mut chat = String::new();
    flate2::read::GzDecoder::new(&after[&format!("{B}attachments/chat")][..])
        .read_to_string(&mut chat)
        .unwrap();
    assert_eq!(
        chat,
        format!("agent: hello\ncustomer {MASK}: my order\nagent: bob@example.org will call\n")
    );
    let mut bundle = zip::ZipArchive::new(std::io::Cursor::new(
        &after[&format!("{B}attachments/bundle")][..],
    ))
    .unwrap();
    let mut read = |n: &str| {
        let mut s = String::new();
        bundle.by_name(n).unwrap().read_to_string(&mut s).unwrap();
        s
    };
    assert_eq!(read("device.txt"), "Pixel 7, Android 14");
    assert_eq!(read("logs/app.log"), format!("opened ticket for {MASK}"));
    for (path, bytes) in &before {
        let planned = plan.redacts.iter().any(|r| &r.object == path)
            || plan.deletes.iter().any(|d| &d.object == path)
            || *path == logs;
        if !planned {
            assert_eq!(after.get(path), Some(bytes), "{path} changed");
        }
    }

    // A second apply is a no-op.
    let again = apply(&plan, &store, &opts, &|_, _| {}).await.unwrap();
    assert_eq!(again, outcome);
    assert_eq!(snapshot(&root), after);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_object_that_cannot_be_masked_is_kept_on_the_operators_choice() {
    let tmp = TempDir::new("erase-redact-keep");
    let root = tmp.path().join("archive");
    export(&root);
    let source = root.to_str().unwrap().to_owned();
    let plan = plan(&source, Unredactable::Keep).await.unwrap();
    let kept: Vec<&str> = plan.kept.iter().map(|k| k.object.as_str()).collect();
    assert_eq!(kept, [format!("{B}attachments/tarball").as_str()]);
    assert!(plan.kept[0].why.contains("tar"), "{:?}", plan.kept);
    assert!(!plan.deletes.iter().any(|d| d.object.ends_with("tarball")));
    let store = Store::open(tmp.path().join("state.db").to_str().unwrap())
        .await
        .unwrap();
    let opts = ApplyOptions {
        subjects: vec![jane()],
        ..ApplyOptions::default()
    };
    apply(&plan, &store, &opts, &|_, _| {}).await.unwrap();
    // What was kept is what the auditor (and the re-scan) still finds.
    assert_eq!(audit(&root), vec![format!("{B}attachments/tarball")]);
    assert!(!found(&source, vec![jane()]).await.is_empty());
}
