//! Exports in the shapes our emulator does not write, made by hand: each
//! shape the real world holds, next to decoys, and the exact crashes,
//! activity records and unattributed objects that must come out.

use std::collections::BTreeSet;
use std::io::Write;
use std::path::Path;

use crashdsr_emulator::testing::{TempDir, gzip, put};
use crashdsr_search::{Limits, Owner, SearchOptions, SearchReport, Subject, search};
use crashdsr_store::Store;
use serde_json::{Value, json};

const A: &str = "2026/11/30/12/05/";
const B: &str = "2026/11/30/12/07/";
const EMAIL: &str = "jane.doe@example.com";

fn crash(id: &str, install: &str, message: &str) -> Vec<u8> {
    format!(
        r#"{{"type":"managedError","id":"{id}","errorId":"{id}","installId":"{install}","exception":{{"type":"E","message":"{message}"}}}}"#
    )
    .into_bytes()
}

/// A device log as .NET writes it: unset strings `null`.
fn log(kind: &str, install: &str, session: &str, props: Value) -> Value {
    json!({"AppId": "app-1", "Timestamp": "2026-11-30T12:05:00Z", "InstallId": install,
        "UserId": null, "SessionId": session, "MessageType": kind, "EventName": null,
        "OsApiLevel": 29, "IsTestMessage": false, "Properties": props})
}

fn error_log(id: &str, install: &str, session: &str) -> Value {
    log(
        "ErrorLog",
        install,
        session,
        json!(json!({"ErrorId": id, "Blob": format!("crashes/{id}.json")}).to_string()),
    )
}

fn attachment_log(install: &str, session: &str, props: Value) -> Value {
    log("ErrorAttachmentLog", install, session, props)
}

fn utf16(text: &str, le: bool) -> Vec<u8> {
    let mut out = if le {
        vec![0xFF, 0xFE]
    } else {
        vec![0xFE, 0xFF]
    };
    for u in text.encode_utf16() {
        out.extend(if le { u.to_le_bytes() } else { u.to_be_bytes() });
    }
    out
}

fn export(root: &Path) {
    // Crash blobs; c1's starts with a byte-order mark.
    put(
        root,
        &format!("{A}crashes/c1.json"),
        &[
            b"\xEF\xBB\xBF".as_slice(),
            &crash("c1", "i1", &format!("login failed for {EMAIL}")),
        ]
        .concat(),
    );
    put(
        root,
        &format!("{A}crashes/c2.json"),
        &crash("c2", "i2", "boom"),
    );
    put(
        root,
        &format!("{A}crashes/c3.json"),
        &crash("c3", "i3", "hello Ren\\u00e9e M\\u00fcller"),
    );
    put(
        root,
        &format!("{A}crashes/c4.json"),
        &crash("c4", "i4", "boom"),
    );
    put(
        root,
        &format!("{A}crashes/c5.json"),
        &crash("c5", "i5", "boom"),
    );
    put(
        root,
        &format!("{A}crashes/c6.json"),
        &crash("c6", "i6", "boom"),
    );
    put(
        root,
        &format!("{A}crashes/c7.json"),
        &crash("c7", "i7", "boom"),
    );
    put(
        root,
        &format!("{A}crashes/c8.json"),
        &crash("c8", "i8", "bye Zo\\u00EB \\uD835\\uDC9Cngel"),
    );
    put(
        root,
        &format!("{A}crashes/c9.json"),
        &crash("c9", "i9", &format!("x{EMAIL} and {EMAIL}.au")),
    );
    put(
        root,
        &format!("{A}crashes/c10.json"),
        &crash("c10", "i10", "omar@example.com"),
    );

    // Attachments.
    put(
        root,
        &format!("{B}attachments/att2"),
        format!("user {EMAIL}\n").as_bytes(),
    );
    let bundle = {
        let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
        w.start_file("logs/app.log", zip::write::SimpleFileOptions::default())
            .unwrap();
        w.write_all(format!("signed in: {EMAIL}").as_bytes())
            .unwrap();
        w.finish().unwrap().into_inner()
    };
    put(root, &format!("{A}attachments/att4"), &bundle);
    let tgz = {
        let mut b = tar::Builder::new(Vec::new());
        let data = b"contact +49-151-234-567-89 ok";
        let mut h = tar::Header::new_gnu();
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        h.set_cksum();
        b.append_data(&mut h, "support/contact.txt", &data[..])
            .unwrap();
        gzip(&b.into_inner().unwrap())
    };
    put(root, &format!("{A}attachments/att5"), &tgz);
    put(
        root,
        &format!("{A}attachments/att6"),
        &utf16("profile: Renée Müller\r\n", false),
    );
    let (cp1252, _, _) = encoding_rs::WINDOWS_1252.encode("Name=Renée Müller;");
    put(root, &format!("{A}attachments/att7"), &cp1252);
    let mut bomb = vec![0u8; 4 << 20];
    bomb.extend_from_slice(EMAIL.as_bytes());
    put(root, &format!("{A}attachments/att11"), &gzip(&bomb));
    put(
        root,
        &format!("{A}attachments/att12"),
        format!("orphan {EMAIL}").as_bytes(),
    );

    // logs.v1.data: a null UserId first, a damaged element, then the rest.
    let first = vec![
        log("StartSessionLog", "i0", "s0", Value::Null),
        error_log("c1", "i1", "s1"),
        error_log("c3", "i3", "s3"),
        // c4 names its blob by path, as Microsoft's reader expects.
        log("ErrorLog", "i4", "s4", json!(format!("{A}crashes/c4.json"))),
        error_log("c6", "i6", "s6"),
        error_log("c7", "i7", "s7"),
        error_log("c8", "i8", "s8"),
        error_log("c9", "i9", "s9"),
        error_log("c10", "i10", "s10"),
        attachment_log("i4", "s4", json!(format!("{A}attachments/att4"))),
        attachment_log("i6", "s6", json!({"ErrorId": "c6", "AttachmentId": "att6"})),
        attachment_log(
            "i7",
            "s7",
            json!(json!({"ErrorId": "c7", "AttachmentId": "att7"}).to_string()),
        ),
        attachment_log(
            "i10",
            "s10",
            json!({"ErrorId": "c10", "AttachmentId": "att11"}),
        ),
        log(
            "EventLog",
            "i1",
            "s1",
            json!(json!({"email": EMAIL}).to_string()),
        ),
        log(
            "FancyNewLog",
            "i1",
            "s1",
            json!({"note": format!("from {EMAIL}")}),
        ),
    ];
    let mut text = String::from("[");
    for (n, v) in first.iter().enumerate() {
        if n == 1 {
            text.push_str("{\"MessageType\": \"x\", \"a\": [1, 2},");
        }
        text.push_str(&v.to_string());
        text.push(',');
    }
    text.pop();
    text.push(']');
    put(root, &format!("{A}logs.v1.data"), text.as_bytes());
    // A second log blob of the minute: UTF-16LE with a BOM, pretty, CRLF.
    let second = serde_json::to_string_pretty(&json!([
        log("ErrorLog", "i5", "s5", json!(format!("{A}crashes/c5.json"))),
        attachment_log(
            "i5",
            "s5",
            json!(json!({"ErrorId": "c5", "AttachmentId": "att5"}).to_string())
        ),
        error_log("c2", "i2", "s2"),
    ]))
    .unwrap()
    .replace('\n', "\r\n");
    put(
        root,
        &format!("{A}logs_0002.v1.data"),
        &utf16(&second, true),
    );
    // c2's attachment and its log, a batch later, in a later folder.
    let late = json!([attachment_log(
        "i2",
        "s2",
        json!({"ErrorId": "c2", "AttachmentId": "att2", "Blob": "attachments/att2"})
    )]);
    put(
        root,
        &format!("{B}logs_b.v1.data"),
        &[b"\xEF\xBB\xBF".as_slice(), late.to_string().as_bytes()].concat(),
    );
}

fn run(root: &Path, limits: Limits) -> SearchReport {
    let jane = Subject::from_specs(
        "jane",
        &[
            format!("email={EMAIL}"),
            "name=Renée Müller".to_owned(),
            "phone=+49 151 23456789".to_owned(),
        ],
    )
    .unwrap();
    let zoe = Subject::from_specs("zoe", &["name=Zoë 𝒜ngel".to_owned()]).unwrap();
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
        .block_on(search(&sources, vec![jane, zoe], &opts))
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
