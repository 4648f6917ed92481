//! A search narrowed by the index gives exactly the full scan's answer: the
//! same evidence, unread objects, counts, source summaries and attribution
//! index, on the emulator's export in both styles and path formats, with
//! and without install expansion; after new minute folders arrive (before
//! and after `update`); after an object is changed behind the index's
//! back; with a segment file damaged or missing. And the index holds none
//! of the subjects' identifiers in clear, and refuses a wrong key.

mod common;

use std::path::Path;
use std::sync::Arc;

use common::answer;
use crashdsr_appcenter::Timestamp;
use crashdsr_appcenter::models::BlobPathFormatKind;
use crashdsr_emulator::export::{ExportPlan, ExportStyle, Target, open_target, write};
use crashdsr_emulator::testing::TempDir;
use crashdsr_emulator::{Dataset, DatasetConfig, Truth};
use crashdsr_index::{BuildOptions, Index, Key, Narrowing, update};
use crashdsr_search::{SearchOptions, SearchReport, Subject, search};
use crashdsr_store::Store;

async fn export(seed: u64, format: BlobPathFormatKind, style: ExportStyle) -> (TempDir, Dataset) {
    let mut cfg = DatasetConfig::new(seed);
    cfg.errors_per_app = 600;
    let data = Dataset::new(cfg.clone());
    let dir = TempDir::new(&format!("index-eq-{seed}"));
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

fn subjects_of(truth: &Truth) -> Vec<Subject> {
    truth
        .subjects
        .iter()
        .map(|s| Subject::from_specs(&s.label, &s.specs()).unwrap())
        .collect()
}

fn key() -> Key {
    Key::new(&[7u8; 32]).unwrap()
}

async fn both(
    source: &Store,
    index: &Index,
    subjects: &[Subject],
    expand: bool,
) -> (SearchReport, SearchReport) {
    both_by(source, Narrowing::new(index.clone()), subjects, expand).await
}

async fn both_by(
    source: &Store,
    narrowing: Narrowing,
    subjects: &[Subject],
    expand: bool,
) -> (SearchReport, SearchReport) {
    let mut opts = SearchOptions {
        expand_install_ids: expand,
        ..SearchOptions::default()
    };
    let full = search(std::slice::from_ref(source), subjects.to_vec(), &opts)
        .await
        .unwrap();
    opts.narrow = Some(Arc::new(narrowing));
    let narrowed = search(std::slice::from_ref(source), subjects.to_vec(), &opts)
        .await
        .unwrap();
    (full, narrowed)
}

/// The narrowed search equals the full one, for all subjects at once and
/// for each alone; returns how many objects the index vouched for.
async fn same(source: &Store, index: &Index, subjects: &[Subject], what: &str) -> u64 {
    let mut vouched = 0;
    for expand in [false, true] {
        let (full, narrowed) = both(source, index, subjects, expand).await;
        assert!(
            !full.evidence.is_empty(),
            "{what}: the corpus holds the subjects"
        );
        assert_eq!(answer(&narrowed), answer(&full), "{what}, expand {expand}");
        assert_eq!(full.narrowed, Vec::new());
        let used = &narrowed.narrowed[0];
        assert!(
            used.candidates < full.objects / 2,
            "{what}: the index narrows ({} of {} objects)",
            used.candidates,
            full.objects
        );
        vouched = used.objects_vouched;
    }
    for s in subjects.iter().take(4) {
        let (full, narrowed) = both(source, index, std::slice::from_ref(s), true).await;
        assert_eq!(
            answer(&narrowed),
            answer(&full),
            "{what}, subject {}",
            s.label
        );
    }
    vouched
}

/// The segment a segment file under `segments/` is of.
fn damaged_name(file: &Path) -> String {
    let rel = file.to_str().unwrap().split("/segments/").nth(1).unwrap();
    rel.strip_suffix(".seg").unwrap().to_owned()
}

fn index_at(dir: &Path) -> Index {
    Index::open(dir.to_str().unwrap(), key()).unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_narrowed_search_equals_a_full_scan() {
    for (seed, format, style) in [
        (3, BlobPathFormatKind::WithoutAppId, ExportStyle::Tidy),
        (5, BlobPathFormatKind::WithAppId, ExportStyle::Dotnet),
    ] {
        let what = format!("{style:?} {format:?}");
        let (dir, data) = export(seed, format, style).await;
        let truth = data.truth();
        let subjects = subjects_of(&truth);
        let source = Store::open(dir.path().to_str().unwrap()).unwrap();
        let index_dir = TempDir::new("index-eq-index");
        let index = index_at(index_dir.path());
        let built = update(&index, &source, &BuildOptions::default(), None)
            .await
            .unwrap();
        assert!(built.built > 10, "{what}: {built:?}");
        let vouched = same(&source, &index, &subjects, &what).await;
        assert!(vouched > 0);

        // No identifier of any subject is in the index in clear.
        let mut index_bytes = Vec::new();
        for f in crashdsr_emulator::testing::files(index_dir.path()) {
            index_bytes.extend(std::fs::read(index_dir.path().join(f)).unwrap());
        }
        for s in &truth.subjects {
            for spec in s.specs() {
                let value = spec.split_once('=').unwrap().1;
                if value.len() < 8 && value.bytes().all(|b| b.is_ascii_digit()) {
                    // A short number is in any file by chance (sizes and
                    // counts of the manifest).
                    continue;
                }
                let lower = value.to_lowercase();
                for form in [
                    value.to_owned(),
                    lower.clone(),
                    lower.replace('@', "\\u0040"),
                ] {
                    if form.len() >= 4 {
                        let wide: Vec<u8> =
                            form.encode_utf16().flat_map(u16::to_le_bytes).collect();
                        for needle in [form.as_bytes(), &wide[..]] {
                            assert!(
                                memchr::memmem::find(&index_bytes, needle).is_none(),
                                "{what}: an identifier of {} ({}) is in the index in clear",
                                s.label,
                                spec.split_once('=').unwrap().0
                            );
                        }
                    }
                }
            }
        }

        // A wrong key is refused.
        let wrong = Index::open(
            index_dir.path().to_str().unwrap(),
            Key::new(&[8u8; 32]).unwrap(),
        )
        .unwrap();
        let err = update(&wrong, &source, &BuildOptions::default(), None)
            .await
            .unwrap_err();
        assert!(err.to_string().contains("not the key"), "{err}");

        // An object changed behind the index's back, one segment's head
        // damaged (every search reads it), one segment's body damaged that
        // the first pass reads (it holds a hit) and one elsewhere (read
        // only if a later pass asks it; with these seeds one does, and a
        // damaged body found then must not fail the search): each read
        // segment scanned in full with a warning, the answer unchanged.
        let files = crashdsr_emulator::testing::files(dir.path());
        let crash = files
            .iter()
            .find(|f| f.contains("/crashes/"))
            .unwrap()
            .clone();
        let email = truth.subjects[0]
            .specs()
            .into_iter()
            .find_map(|s| s.strip_prefix("email=").map(str::to_owned))
            .unwrap();
        let hit_segment = files
            .iter()
            .filter(|f| {
                let bytes = std::fs::read(dir.path().join(f)).unwrap();
                memchr::memmem::find(&bytes, email.as_bytes()).is_some()
            })
            .map(|f| crashdsr_index::segment::segment_of(f))
            .find(|s| *s != crashdsr_index::segment::segment_of(&crash))
            .unwrap();
        let mut bytes = std::fs::read(dir.path().join(&crash)).unwrap();
        let at = bytes.iter().rposition(|b| *b == b'}').unwrap();
        bytes.splice(at..at, format!(",\"note\":\"mail {email}\"").into_bytes());
        std::fs::write(dir.path().join(&crash), &bytes).unwrap();
        let flip = |file: &Path, at: fn(&[u8]) -> usize| {
            let mut seg = std::fs::read(file).unwrap();
            let at = at(&seg);
            seg[at] ^= 0x55;
            std::fs::write(file, seg).unwrap();
        };
        let segments = index_dir.path().join("segments");
        let hit_body = segments.join(format!("{hit_segment}.seg"));
        // Its body's directory, which every read of the body checks.
        let in_directory = |seg: &[u8]| crashdsr_index::segment::Head::len_in(seg).unwrap() + 5;
        flip(&hit_body, in_directory);
        let seg_files = crashdsr_emulator::testing::files(&segments);
        let damaged = segments.join(&seg_files[seg_files.len() / 2]);
        assert_ne!(damaged, hit_body);
        flip(&damaged, |_| 20);
        let unread_body = seg_files
            .iter()
            .map(|f| segments.join(f))
            .find(|f| *f != hit_body && *f != damaged)
            .unwrap();
        flip(&unread_body, |seg| seg.len() - 40);
        let (full, narrowed) = both(&source, &index, &subjects, true).await;
        assert_eq!(
            answer(&narrowed),
            answer(&full),
            "{what}: changed and damaged"
        );
        let warnings = narrowed.narrowed[0].warnings.join("\n");
        for seg in [&hit_segment, &damaged_name(&damaged)] {
            assert!(
                warnings.contains(&format!("segment {seg}: ")) && warnings.contains("damaged"),
                "{seg}: {warnings}"
            );
        }
        assert!(warnings.contains("changed"), "{warnings}");
        let report = crashdsr_index::verify(&index, &source).await.unwrap();
        assert_eq!(report.damaged.len(), 3, "{what}: {report:?}");
        // The bodies mended (the same byte flipped back), the head's file
        // gone.
        flip(&hit_body, in_directory);
        flip(&unread_body, |seg| seg.len() - 40);
        std::fs::remove_file(&damaged).unwrap();
        let (full, narrowed) = both(&source, &index, &subjects, true).await;
        assert_eq!(answer(&narrowed), answer(&full), "{what}: missing segment");
        assert!(narrowed.narrowed[0].warnings.join("\n").contains("missing"));

        // New minute folders, a day later: scanned before the update,
        // indexed after it; the answer is the same either way.
        let mut moved = 0;
        for f in files.iter().filter(|f| f.contains("/00/")).take(40) {
            let later = f.replacen("/00/", "/59/", 1);
            let later = bump_day(&later);
            crashdsr_emulator::testing::put(
                dir.path(),
                &later,
                &std::fs::read(dir.path().join(f)).unwrap(),
            );
            moved += 1;
        }
        assert!(moved > 0);
        same(&source, &index, &subjects, &format!("{what}, new folders")).await;
        let again = update(&index, &source, &BuildOptions::default(), None)
            .await
            .unwrap();
        assert!(again.built >= 1 && again.kept > 0, "{what}: {again:?}");
        same(&source, &index, &subjects, &format!("{what}, updated")).await;
        let verify = crashdsr_index::verify(&index, &source).await.unwrap();
        assert!(verify.intact() && verify.stale.is_empty(), "{verify:?}");
        let noop = update(&index, &source, &BuildOptions::default(), None)
            .await
            .unwrap();
        assert_eq!(
            (noop.built, noop.dropped, noop.objects_read),
            (0, 0, 0),
            "{noop:?}"
        );
    }
}

/// Trusting folder times: an hour whose folders are as at the last update
/// is not listed; a file added, removed or replaced by a rename changes a
/// folder's time and its hour is listed and compared as without the
/// option; a file rewritten in place does not, and is what the option is
/// blind to until the next update.
#[tokio::test(flavor = "multi_thread")]
async fn trusting_folder_times_sees_files_added_removed_and_renamed() {
    let (dir, data) = export(11, BlobPathFormatKind::WithoutAppId, ExportStyle::Tidy).await;
    let truth = data.truth();
    let subjects = subjects_of(&truth);
    let source = Store::open(dir.path().to_str().unwrap()).unwrap();
    let index_dir = TempDir::new("index-trust-index");
    let index = index_at(index_dir.path());
    // Folders changed within two seconds of a listing are not stamped.
    let settle = || std::thread::sleep(std::time::Duration::from_millis(2100));
    settle();
    update(&index, &source, &BuildOptions::default(), None)
        .await
        .unwrap();
    let trusting = || Narrowing::new(index.clone()).trust_folder_times(true);
    let check = |what: &'static str| {
        let (source, trusting, subjects) = (source.clone(), trusting(), subjects.clone());
        async move {
            let (full, narrowed) = both_by(&source, trusting, &subjects, true).await;
            assert_eq!(answer(&narrowed), answer(&full), "{what}");
            narrowed.narrowed[0].clone()
        }
    };
    let all = check("as built").await;
    assert!(
        all.segments_by_folder_times > 10 && all.segments_by_folder_times == all.segments,
        "{all:?}"
    );

    let email = truth.subjects[0]
        .specs()
        .into_iter()
        .find_map(|s| s.strip_prefix("email=").map(str::to_owned))
        .unwrap();
    let files = crashdsr_emulator::testing::files(dir.path());
    let crashes: Vec<&String> = files.iter().filter(|f| f.contains("/crashes/")).collect();
    let with_email = |f: &str| {
        let mut bytes = std::fs::read(dir.path().join(f)).unwrap();
        let at = bytes.iter().rposition(|b| *b == b'}').unwrap();
        bytes.splice(at..at, format!(",\"note\":\"mail {email}\"").into_bytes());
        bytes
    };
    // Each change is in a different hour, and each hour is then listed.
    let hours: std::collections::BTreeSet<String> = crashes
        .iter()
        .map(|f| crashdsr_index::segment::segment_of(f))
        .collect();
    assert!(hours.len() >= 4);
    let mut pick = hours.iter().map(|h| {
        crashes
            .iter()
            .find(|f| crashdsr_index::segment::segment_of(f) == *h)
            .unwrap()
            .to_string()
    });
    // Added.
    let added = pick.next().unwrap().replace(".json", "-copy.json");
    let bytes = with_email(&added.replace("-copy.json", ".json"));
    std::fs::write(dir.path().join(&added), bytes).unwrap();
    // Replaced by a rename.
    let renamed = pick.next().unwrap();
    let tmp = dir.path().join(format!("{renamed}.tmp"));
    std::fs::write(&tmp, with_email(&renamed)).unwrap();
    std::fs::rename(&tmp, dir.path().join(&renamed)).unwrap();
    // Removed.
    let removed = pick.next().unwrap();
    std::fs::remove_file(dir.path().join(&removed)).unwrap();
    let changed = check("added, replaced, removed").await;
    assert_eq!(
        changed.segments_by_folder_times,
        all.segments_by_folder_times - 3,
        "{changed:?}"
    );
    assert!(
        changed
            .warnings
            .iter()
            .any(|w| w.contains("3 segment(s) changed"))
    );

    // After an update (and the folders settled), all trusted again.
    settle();
    update(&index, &source, &BuildOptions::default(), None)
        .await
        .unwrap();
    let again = check("updated").await;
    assert_eq!(again.segments_by_folder_times, all.segments_by_folder_times);

    // Rewritten in place: the folder's time stays, the hour is trusted,
    // and the e-mail written into it is not found, as documented; a search
    // without the option, and the next update, see it.
    let in_place = pick.next().unwrap();
    let stamp = |p: &Path| std::fs::metadata(p).unwrap().modified().unwrap();
    let folder = dir.path().join(&in_place);
    let folder = folder.parent().unwrap();
    let before = stamp(folder);
    std::fs::write(dir.path().join(&in_place), with_email(&in_place)).unwrap();
    assert_eq!(stamp(folder), before);
    let (full, blind) = both_by(&source, trusting(), &subjects, false).await;
    assert_ne!(
        answer(&blind),
        answer(&full),
        "trusting folder times is blind to it"
    );
    let (full, narrowed) = both(&source, &index, &subjects, false).await;
    assert_eq!(
        answer(&narrowed),
        answer(&full),
        "without trusting folder times"
    );
    settle();
    update(&index, &source, &BuildOptions::default(), None)
        .await
        .unwrap();
    check("rewritten in place, updated").await;
}

/// `yyyy/MM/dd/…` with the day moved on by one (the 28th at most, so it
/// stays a date).
fn bump_day(path: &str) -> String {
    let parts: Vec<&str> = path.split('/').collect();
    let at = parts
        .windows(3)
        .position(|w| {
            w[0].len() == 4
                && w[1].len() == 2
                && w[2].len() == 2
                && w.iter().all(|p| p.bytes().all(|b| b.is_ascii_digit()))
        })
        .unwrap();
    let mut owned: Vec<String> = parts.iter().map(|p| (*p).to_owned()).collect();
    let day: u32 = owned[at + 2].parse().unwrap();
    owned[at + 2] = format!("{:02}", (day % 28) + 1);
    owned[at + 1] = "12".into();
    owned[at] = "2099".into();
    owned.join("/")
}
