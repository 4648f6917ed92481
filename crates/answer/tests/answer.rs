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
