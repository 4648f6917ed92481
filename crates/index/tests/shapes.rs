//! The index on exports the emulator does not write: the hand-made shapes
//! of the search's tests (BOMs, UTF-16 log blobs, names by path, late
//! attachment logs, zip, tar.gz, UTF-16 and Windows-1252 attachments, a
//! decompression bomb, a damaged record), and random exports with random
//! people in random encodings. A narrowed search answers as a full scan.

mod common;
#[path = "../../search/tests/fixtures/shapes.rs"]
mod shapes;

use common::answer;

use std::path::Path;
use std::sync::Arc;

use crashdsr_emulator::testing::{Rng, TempDir, gzip, put};
use crashdsr_index::{BuildOptions, Index, Key, Narrowing, update};
use crashdsr_search::{Limits, SearchOptions, Subject, search};
use crashdsr_store::Store;

/// Builds the index of `root` with `limits`, and checks a narrowed search
/// of `subjects` against a full one, with and without expansion. Returns
/// the segments the index answered for and the evidence found.
async fn same(root: &Path, subjects: &[Subject], limits: Limits) -> (u64, usize) {
    let source = Store::open(root.to_str().unwrap()).unwrap();
    let index_dir = TempDir::new("index-shapes-index");
    let index = Index::open(
        index_dir.path().to_str().unwrap(),
        Key::new(&[3; 32]).unwrap(),
    )
    .unwrap();
    let opts = BuildOptions {
        limits,
        ..BuildOptions::default()
    };
    update(&index, &source, &opts, None).await.unwrap();
    let (mut answered, mut found) = (0, 0);
    for expand in [false, true] {
        let mut opts = SearchOptions {
            expand_install_ids: expand,
            limits,
            threads: 2,
            ..SearchOptions::default()
        };
        let full = search(std::slice::from_ref(&source), subjects.to_vec(), &opts)
            .await
            .unwrap();
        opts.narrow = Some(Arc::new(Narrowing::new(index.clone())));
        let narrowed = search(std::slice::from_ref(&source), subjects.to_vec(), &opts)
            .await
            .unwrap();
        assert_eq!(answer(&narrowed), answer(&full), "expand {expand}");
        answered = narrowed.narrowed.first().map_or(0, |u| u.segments);
        found = full.evidence.len();
    }
    // With other caps than the index was built with, it is not used.
    let other = Limits {
        max_expand: limits.max_expand / 2,
        ..limits
    };
    let opts = SearchOptions {
        limits: other,
        narrow: Some(Arc::new(Narrowing::new(index.clone()))),
        ..SearchOptions::default()
    };
    let r = search(std::slice::from_ref(&source), subjects.to_vec(), &opts)
        .await
        .unwrap();
    assert!(r.narrowed.is_empty());
    (answered, found)
}

#[tokio::test(flavor = "multi_thread")]
async fn the_real_world_shapes_read_through_the_index_as_in_a_full_scan() {
    let dir = TempDir::new("index-shapes");
    shapes::export(dir.path());
    // A folder hours later seals the shapes' hour.
    put(dir.path(), "2026/11/30/15/00/logs.v1.data", b"[]");
    for limits in [
        Limits::default(),
        // The bomb is then not read to the end: never vouched for.
        Limits {
            max_expand: 1 << 20,
            max_depth: 4,
        },
    ] {
        let (answered, found) = same(dir.path(), &shapes::subjects(), limits).await;
        assert!(found > 5);
        assert!(answered >= 1, "the shapes' hour is answered from the index");
    }
}

struct Person {
    email: String,
    user: String,
    name: String,
    phone: String,
    install: String,
}

fn person(n: usize) -> Person {
    Person {
        email: format!("p{n}.x@example.org"),
        user: format!("user-{n:04}"),
        name: format!("Ren\u{e9}e Number{n}"),
        phone: format!("+49 151 {:08}", 10_000_000 + n),
        install: format!("00000000-0000-4000-8000-{n:012}"),
    }
}

/// One of the person's identifiers, written one of the ways apps write it.
fn trace(rng: &mut Rng, p: &Person) -> Vec<u8> {
    let text = match rng.below(7) {
        0 => p.email.clone(),
        1 => p.email.to_uppercase().replace('@', "\\u0040"),
        2 => p.email.replace('@', "%40"),
        3 => p.name.clone(),
        4 => p.phone.replace(' ', "-"),
        5 => format!("\"userId\":\"{}\"", p.user),
        _ => p.user.clone(),
    };
    match rng.below(4) {
        0 => text.encode_utf16().flat_map(u16::to_le_bytes).collect(),
        _ => text.into_bytes(),
    }
}

/// A random export of `hours` hours: crash blobs, log blobs with error,
/// attachment and event logs (attachment logs sometimes a minute later),
/// plain, gzip and UTF-16 attachments, traces of `people` in them.
fn random_export(root: &Path, rng: &mut Rng, people: &[Person], hours: usize) {
    let mut n = 0;
    for h in 0..hours {
        for m in 0..3 {
            let minute = format!("2026/11/{:02}/{:02}/{:02}/", 10 + h / 24, h % 24, m * 20);
            let later = format!(
                "2026/11/{:02}/{:02}/{:02}/",
                10 + h / 24,
                h % 24,
                m * 20 + 1
            );
            let mut logs = Vec::new();
            let mut late = Vec::new();
            for _ in 0..1 + rng.below(4) {
                n += 1;
                let p = &people[rng.below(people.len())];
                let eid = format!("e{n:05}");
                let session = format!("s{n:05}");
                let mut message = format!("failure {n}");
                if rng.below(2) == 0 {
                    message.push(' ');
                    message.push_str(&String::from_utf8_lossy(&trace(rng, p)).replace('\0', ""));
                }
                let crash = serde_json::json!({"id": eid, "errorId": eid, "installId": p.install,
                    "exception": {"message": message}});
                put(
                    root,
                    &format!("{minute}crashes/{eid}.json"),
                    crash.to_string().as_bytes(),
                );
                let user = if rng.below(3) == 0 {
                    p.user.clone()
                } else {
                    String::new()
                };
                logs.push(serde_json::json!({"MessageType": "ErrorLog", "InstallId": p.install,
                    "UserId": user, "SessionId": session, "AppId": "app",
                    "Properties": serde_json::json!({"ErrorId": eid, "Blob": format!("crashes/{eid}.json")}).to_string()}));
                if rng.below(2) == 0 {
                    let aid = format!("a{n:05}");
                    let mut body = b"log line\n".to_vec();
                    body.extend(trace(rng, p));
                    let bytes = match rng.below(3) {
                        0 => gzip(&body),
                        _ => body,
                    };
                    put(root, &format!("{minute}attachments/{aid}"), &bytes);
                    let log = serde_json::json!({"MessageType": "ErrorAttachmentLog", "InstallId": p.install,
                        "SessionId": session, "AppId": "app",
                        "Properties": serde_json::json!({"ErrorId": eid, "AttachmentId": aid}).to_string()});
                    if rng.below(3) == 0 {
                        late.push(log);
                    } else {
                        logs.push(log);
                    }
                }
                if rng.below(3) == 0 {
                    let q = &people[rng.below(people.len())];
                    logs.push(serde_json::json!({"MessageType": "EventLog", "InstallId": q.install,
                        "SessionId": session, "AppId": "app",
                        "Properties": serde_json::json!({"note": String::from_utf8_lossy(&trace(rng, q)).replace('\0', "")}).to_string()}));
                }
            }
            put(
                root,
                &format!("{minute}logs.v1.data"),
                serde_json::to_string(&logs).unwrap().as_bytes(),
            );
            if !late.is_empty() {
                put(
                    root,
                    &format!("{later}logs.v1.data"),
                    serde_json::to_string(&late).unwrap().as_bytes(),
                );
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn random_exports_and_random_people_read_as_in_a_full_scan() {
    let mut found = 0;
    for seed in [
        0x9e37_79b9_7f4a_7c15u64,
        0x1234_5678_9abc_def1,
        0xdead_beef_cafe_f00d,
    ] {
        let mut rng = Rng(seed);
        let people: Vec<Person> = (0..6).map(person).collect();
        let dir = TempDir::new("index-random");
        random_export(dir.path(), &mut rng, &people, 8);
        for _ in 0..3 {
            let mut subjects = Vec::new();
            for (n, p) in people.iter().enumerate() {
                if rng.below(2) == 0 {
                    continue;
                }
                let mut specs = vec![format!("email={}", p.email)];
                if rng.below(2) == 0 {
                    specs.push(format!("user-id={}", p.user));
                }
                if rng.below(2) == 0 {
                    specs.push(format!("name={}", p.name));
                }
                if rng.below(2) == 0 {
                    specs.push(format!("phone={}", p.phone));
                }
                subjects.push(Subject::from_specs(&format!("p{n}"), &specs).unwrap());
            }
            if subjects.is_empty() {
                continue;
            }
            let (answered, evidence) = same(dir.path(), &subjects, Limits::default()).await;
            assert!(answered >= 5, "seed {seed:x}: {answered} segments answered");
            found += evidence;
        }
    }
    assert!(found > 20, "the people were found: {found}");
}
