//! The answer as a library, on exports the emulator writes in the shape
//! App Center's backend wrote (`dotnet`), changed by hand where a test
//! needs a shape it does not write: an attachment whose crash cannot be
//! found, a source that breaks after the search, app names.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::Path;
use std::sync::{Arc, Mutex};

use crashdsr_answer::{Answer, Controller, Error, Request, answer};
use crashdsr_appcenter::Timestamp;
use crashdsr_appcenter::models::BlobPathFormatKind;
use crashdsr_emulator::export::{ExportPlan, ExportStyle, Target, open_target, write};
use crashdsr_emulator::testing::{Call, Faulty, TempDir, busiest};
use crashdsr_emulator::{Dataset, DatasetConfig, TruthSubject};
use crashdsr_search::{IdKind, Identifier, SearchOptions, Subject};
use crashdsr_store::Store;

/// A dotnet-style export of `errors` errors into `dir` (the container is
/// `dir/archive`).
fn export(dir: &Path, seed: u64, errors: u64) -> Dataset {
    let mut cfg = DatasetConfig::new(seed);
    cfg.errors_per_app = errors;
    let data = Dataset::new(cfg.clone());
    let plan = ExportPlan {
        app: 0,
        since: Timestamp(cfg.now - chrono::Duration::days(i64::from(cfg.span_days) + 1)),
        entities: vec![],
        path_format: BlobPathFormatKind::WithoutAppId,
        style: ExportStyle::Dotnet,
    };
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let store = open_target(&Target::Dir(dir.to_path_buf())).await.unwrap();
        write(&data, &plan, store, |_| true).await.unwrap();
    });
    data
}

/// Answers `r` on a runtime of its own (the tests are synchronous).
fn run(r: &Request) -> crashdsr_answer::Result<Answer> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(answer(r, &|_| {}))
}

fn subject(s: &TruthSubject) -> Subject {
    Subject::from_specs(&s.label, &s.specs()).unwrap()
}

fn request(sources: Vec<Store>, subjects: Vec<Subject>, staging: &Path) -> Request {
    Request {
        sources,
        subjects,
        app: None,
        app_names: BTreeMap::new(),
        received: chrono::NaiveDate::from_ymd_opt(2026, 12, 1).unwrap(),
        controller: Controller::default(),
        key: vec![7; 32],
        staging: staging.to_owned(),
        search: SearchOptions::default(),
        coverage_note: None,
        redact_others: false,
    }
}

/// Every entry of a written package, with its bytes.
fn entries(answer: &Answer, dir: &Path) -> BTreeMap<String, Vec<u8>> {
    let out = dir.join("p.zip");
    answer.packages[0].write(&out, None, true).unwrap();
    let mut zip = zip::ZipArchive::new(std::fs::File::open(&out).unwrap()).unwrap();
    let mut all = BTreeMap::new();
    for i in 0..zip.len() {
        let mut f = zip.by_index(i).unwrap();
        let mut b = Vec::new();
        f.read_to_end(&mut b).unwrap();
        all.insert(f.name().unwrap().to_string(), b);
    }
    all
}

fn manifest(entries: &BTreeMap<String, Vec<u8>>) -> serde_json::Value {
    serde_json::from_slice(&entries["manifest.json"]).unwrap()
}

#[test]
fn an_attachment_whose_crash_cannot_be_found_is_packaged_for_review() {
    let tmp = TempDir::new("answer-unattributed");
    let data = export(tmp.path(), 11, 300);
    let s = busiest(&data.truth());
    let email = &s
        .identifiers
        .iter()
        .find(|i| i.kind == "email")
        .unwrap()
        .value;
    // An attachment with the person's address and no attachment log: its
    // crash cannot be known.
    let folder = tmp.path().join("archive/2026/11/30/23/59/attachments");
    std::fs::create_dir_all(&folder).unwrap();
    let orphan = format!("support ticket from {email}\n");
    std::fs::write(folder.join("0e0e0e0e-0000-4000-8000-000000000001"), &orphan).unwrap();
    let inputs = vec![Store::open(tmp.path().join("archive").to_str().unwrap()).unwrap()];
    let a = run(&request(
        inputs,
        vec![subject(&s)],
        &tmp.path().join("staging"),
    ))
    .unwrap();
    let all = entries(&a, tmp.path());
    let m = manifest(&all);
    let listed = m["unattributed"].as_array().unwrap();
    assert_eq!(listed.len(), 1, "{listed:?}");
    assert_eq!(
        listed[0]["object"],
        "2026/11/30/23/59/attachments/0e0e0e0e-0000-4000-8000-000000000001"
    );
    assert!(
        listed[0]["reason"]
            .as_str()
            .unwrap()
            .contains("no ErrorAttachmentLog"),
        "{listed:?}"
    );
    let file = listed[0]["file"].as_str().unwrap();
    assert!(file.starts_with("unattributed/"));
    assert_eq!(all[file], orphan.as_bytes(), "packaged as stored");
    assert_eq!(m["counts"]["unattributed_objects"], 1);
    let report = String::from_utf8(all["report.html"].clone()).unwrap();
    assert!(report.contains(file), "the report lists it for review");
    assert!(report.contains("id=\"review-count\">1<"));
    // Its crash set is still the truth's.
    let crashes: Vec<&str> = m["crashes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["error_id"].as_str().unwrap())
        .collect();
    assert_eq!(crashes.len(), s.direct.len() + s.linked.len());
}

#[test]
fn app_names_must_name_apps_the_data_holds() {
    let tmp = TempDir::new("answer-app-names");
    let data = export(tmp.path(), 12, 60);
    let s = busiest(&data.truth());
    let inputs = || vec![Store::open(tmp.path().join("archive").to_str().unwrap()).unwrap()];
    let mut r = request(inputs(), vec![subject(&s)], &tmp.path().join("staging"));
    r.app_names
        .insert("00000000-0000-0000-0000-00000000dead".into(), "o/a".into());
    let err = run(&r).unwrap_err();
    assert!(matches!(err, Error::Request(_)));
    let text = err.to_string();
    assert!(
        text.contains("00000000-0000-0000-0000-00000000dead"),
        "{text}"
    );
    assert!(
        text.contains(data.app_id(0)),
        "names the apps it holds: {text}"
    );

    // The right id (in any case) names the app in the manifest; --app
    // then filters by that name.
    let mut r = request(inputs(), vec![subject(&s)], &tmp.path().join("staging"));
    r.app_names
        .insert(data.app_id(0).to_uppercase(), "contoso/demo-app".into());
    r.app = Some("contoso/demo-app".into());
    let a = run(&r).unwrap();
    let m = manifest(&entries(&a, tmp.path()));
    assert_eq!(m["apps"][0]["name"], "contoso/demo-app");
    assert_eq!(m["crashes"][0]["name"], "contoso/demo-app");

    let mut r = request(inputs(), vec![subject(&s)], &tmp.path().join("staging"));
    r.app = Some("contoso/other".into());
    let err = run(&r).unwrap_err().to_string();
    assert!(err.contains("--app contoso/other"), "{err}");
}

#[test]
fn a_source_without_app_center_data_is_refused() {
    let tmp = TempDir::new("answer-no-data");
    std::fs::create_dir_all(tmp.path().join("photos/2026")).unwrap();
    std::fs::write(
        tmp.path().join("photos/2026/a.jpg"),
        b"\xFF\xD8 not a crash",
    )
    .unwrap();
    let inputs = vec![Store::open(tmp.path().join("photos").to_str().unwrap()).unwrap()];
    let subject = Subject {
        label: "s".into(),
        identifiers: vec![Identifier::new(IdKind::Email, "ana@example.com").unwrap()],
    };
    let err = run(&request(inputs, vec![subject], &tmp.path().join("staging"))).unwrap_err();
    assert!(matches!(err, Error::Source(_)));
    assert!(err.to_string().contains("source 1"), "{err}");
    assert!(err.to_string().contains("none in the layout"), "{err}");
}

#[test]
fn a_source_that_breaks_mid_run_gives_no_package() {
    let tmp = TempDir::new("answer-breaks");
    let data = export(tmp.path(), 13, 200);
    let s = busiest(&data.truth());
    let direct = &s.direct[0].error_id;
    let blob = crashdsr_emulator::testing::files(&tmp.path().join("archive"))
        .into_iter()
        .find(|p| {
            p.ends_with(&format!("crashes/{direct}.json"))
                || p.ends_with(&format!("errors/{direct}.json"))
        })
        .expect("the crash blob is exported");
    let local = Arc::new(
        object_store::local::LocalFileSystem::new_with_prefix(tmp.path().join("archive")).unwrap(),
    );
    // The search reads each object twice (the scan, then install
    // expansion); the assembly reads the crash blob a third time.
    for (allowed, during) in [(0, "the scan"), (1, "the expansion"), (2, "the assembly")] {
        // The crash blob reads `allowed` times, then fails.
        let (object, left) = (blob.clone(), Mutex::new(allowed));
        let store = Arc::new(Faulty::new(local.clone(), move |call, at| {
            if call != Call::Get || at.as_ref() != object {
                return None;
            }
            let mut left = left.lock().unwrap();
            if *left > 0 {
                *left -= 1;
                return None;
            }
            Some(object_store::Error::Generic {
                store: "test",
                source: "permission denied: the storage account's key was rotated".into(),
            })
        }));
        let inputs = vec![Store::from_object_store(store, "az://exports/app")];
        let staging = tmp.path().join(format!("staging-{allowed}"));
        let err = run(&request(inputs, vec![subject(&s)], &staging)).expect_err(during);
        assert_eq!(
            matches!(err, Error::Unreadable { .. }),
            allowed == 2,
            "{during}: {err}"
        );
        let err = err.to_string();
        assert!(err.contains(&blob), "{during}: names the object: {err}");
        assert!(err.contains("no package was written"), "{during}: {err}");
        assert!(err.contains("key was rotated"), "{during}: says why: {err}");
    }
}

/// The value of each identifier of `s` of the given kind.
fn values<'a>(s: &'a TruthSubject, kind: &'a str) -> impl Iterator<Item = &'a str> + 'a {
    s.identifiers
        .iter()
        .filter(move |i| i.kind == kind)
        .map(|i| i.value.as_str())
}

/// Whether an identifier shows in the decoded texts: an address, phone
/// number or install id anywhere (without case), a user id as a whole
/// JSON string (short ones are everywhere as substrings).
fn shows(texts: &[String], kind: &str, value: &str) -> bool {
    match kind {
        "user-id" => texts.iter().any(|t| t == value),
        _ => texts
            .iter()
            .any(|t| t.to_lowercase().contains(&value.to_lowercase())),
    }
}

#[test]
fn redact_others_masks_everyone_elses_identifiers_in_the_copies_and_keeps_the_persons() {
    let tmp = TempDir::new("answer-redact-others");
    let data = export(tmp.path(), 11, 300);
    let truth = data.truth();
    let s = busiest(&truth);
    let others: Vec<&TruthSubject> = truth
        .subjects
        .iter()
        .filter(|o| o.label != s.label)
        .collect();
    assert!(others.len() >= 3, "{}", others.len());
    let root = tmp.path().join("archive");
    let inputs = || vec![Store::open(root.to_str().unwrap()).unwrap()];
    let plain = run(&request(
        inputs(),
        vec![subject(&s)],
        &tmp.path().join("staging"),
    ))
    .unwrap();
    let before = entries(&plain, tmp.path());

    // The person's first crash now also names three other people: an
    // address as written and JSON-escaped, a phone number, a user id and
    // an install id in typed fields; one of its files becomes a gzip of
    // UTF-16 text naming another one beside the person.
    let m = manifest(&before);
    let object = |f: &serde_json::Value| f["object"].as_str().unwrap_or_default().to_owned();
    let crash = m["crashes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| {
            c["attachments"].as_array().is_some_and(|a| !a.is_empty())
                && c["files"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|f| object(f).contains("/crashes/"))
        })
        .expect("a crash with its blob and an attachment");
    let files = crash["files"].as_array().unwrap();
    let blob = files
        .iter()
        .map(object)
        .find(|o| o.contains("/crashes/"))
        .unwrap();
    let with = |kinds: &[&str], not: &[&str]| -> &TruthSubject {
        others
            .iter()
            .find(|o| {
                kinds.iter().all(|k| values(o, k).next().is_some())
                    && !not.contains(&o.label.as_str())
            })
            .expect("a subject with those identifiers")
    };
    let o1 = with(&["email", "phone"], &[]);
    let o2 = with(&["user-id"], &[&o1.label]);
    // Another install (the truth names no install ids).
    let their_install = "7f3e9c1a-5b2d-4e8f-a1c3-9d7b5e2f4a60";
    let o3 = with(&["email"], &[&o1.label, &o2.label]);
    let email = |o: &TruthSubject| values(o, "email").next().unwrap().to_owned();
    let stored = std::fs::read(root.join(&blob)).unwrap();
    let mut v: serde_json::Value =
        serde_json::from_slice(&crashdsr_search::export::blob_text(&stored)).unwrap();
    v["properties"] = serde_json::json!({
        "assignee": email(o1),
        "callback": values(o1, "phone").next().unwrap(),
        "userId": values(o2, "user-id").next().unwrap(),
        "installId": their_install,
    });
    let escaped = email(o3).replace('@', "\\u0040");
    let text =
        serde_json::to_string(&v)
            .unwrap()
            .replacen('{', &format!("{{\"cc\":\"{escaped}\","), 1);
    std::fs::write(root.join(&blob), &text).unwrap();
    let mine = values(&s, "email").next().unwrap();
    let chat: Vec<u8> = format!("customer {mine}; agent {}", email(o3))
        .encode_utf16()
        .flat_map(u16::to_le_bytes)
        .collect();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    std::io::Write::write_all(&mut gz, &chat).unwrap();
    let attachment = object(&crash["attachments"][0]);
    std::fs::write(root.join(&attachment), gz.finish().unwrap()).unwrap();
    let sources = crashdsr_emulator::testing::snapshot(&root);

    let mut r = request(inputs(), vec![subject(&s)], &tmp.path().join("staging"));
    r.redact_others = true;
    let a = run(&r).unwrap();
    let out = tmp.path().join("redacted.zip");
    a.packages[0].write(&out, None, true).unwrap();
    assert!(crashdsr_package::verify(&out).unwrap().ok(), "verify");
    let after = entries(&a, tmp.path());
    assert_eq!(
        crashdsr_emulator::testing::snapshot(&root),
        sources,
        "the originals are never altered"
    );
    let decoded: Vec<String> = after
        .values()
        .flat_map(|b| crashdsr_emulator::testing::decoded_texts(b))
        .collect();
    let decoded_before: Vec<String> = before
        .values()
        .flat_map(|b| crashdsr_emulator::testing::decoded_texts(b))
        .collect();
    // Everyone else's identifiers are gone, in every encoding.
    for o in &others {
        for kind in ["email", "phone", "user-id", "install-id"] {
            for value in values(o, kind) {
                assert!(
                    !shows(&decoded, kind, value),
                    "{}'s {kind} is in the package",
                    o.label
                );
            }
        }
    }
    assert!(!shows(&decoded, "install-id", their_install));
    // The person's own are all there, as before.
    for i in &s.identifiers {
        if shows(&decoded_before, &i.kind, &i.value) {
            assert!(
                shows(&decoded, &i.kind, &i.value),
                "the person's {}",
                i.kind
            );
        }
    }
    // What was masked is counted per file and type, with no value.
    let m = manifest(&after);
    let masked = &m["redactions"]["files"];
    let crash_file = files.iter().find(|f| f["object"] == blob.as_str()).unwrap()["file"]
        .as_str()
        .unwrap();
    assert_eq!(
        masked[crash_file],
        serde_json::json!({"email": 2, "phone": 1, "user-id": 1, "install-id": 1}),
        "{masked}"
    );
    let attachment_file = crash["attachments"][0]["file"].as_str().unwrap();
    assert_eq!(
        masked[attachment_file],
        serde_json::json!({"email": 1}),
        "{masked}"
    );
    // There, only the other address changed: the person's stays.
    let mut wide = Vec::new();
    flate2::read::GzDecoder::new(&after[attachment_file][..])
        .read_to_end(&mut wide)
        .unwrap();
    let units: Vec<u16> = wide
        .chunks_exact(2)
        .map(|c| u16::from_le_bytes([c[0], c[1]]))
        .collect();
    let mut theirs = email(o3).into_bytes();
    crashdsr_search::redact::mask(&mut theirs, IdKind::Email);
    assert_eq!(
        String::from_utf16(&units).unwrap(),
        format!(
            "customer {mine}; agent {}",
            String::from_utf8(theirs).unwrap()
        )
    );
    let manifest_text = String::from_utf8(after["manifest.json"].clone()).unwrap();
    assert!(!manifest_text.contains(&email(o1)) && !manifest_text.contains(mine));
    let report = String::from_utf8(after["report.html"].clone()).unwrap();
    assert!(
        report.contains("id=\"others\""),
        "the report says what was masked"
    );
    assert!(
        report.contains("<mark class=\"redacted\""),
        "and marks the spans"
    );
    assert!(report.contains(crash_file));
    // Without the flag nothing is masked, and the manifest says so.
    assert!(manifest(&before)["redactions"].is_null());
}
