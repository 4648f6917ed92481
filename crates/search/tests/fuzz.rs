//! Fuzz targets, run with proptest over arbitrary and mutated bytes (the
//! project builds on stable Rust only, so not `cargo fuzz`): the device-log
//! splitter, the crash and archive JSON readers, each decoder (gzip, zip,
//! tar, zlib, zstd, xz, bzip2, base64, UTF-16, Windows-1252) and the
//! matcher. Each target's corpus
//! is seeded from an export the emulator writes in its `dotnet` style.
//!
//! In the ordinary test run each target runs a few hundred cases. Set
//! `CRASHDSR_FUZZ_SECS` to run each target for that long instead (`.ci/run`
//! does); it prints the number of runs. A panic anywhere fails the target.

use std::io::Write;
use std::path::Path;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use crashdsr_appcenter::Timestamp;
use crashdsr_appcenter::models::BlobPathFormatKind;
use crashdsr_emulator::export::{ExportPlan, ExportStyle, Target, open_target, write};
use crashdsr_emulator::testing::TempDir;
use crashdsr_emulator::{Dataset, DatasetConfig};
use crashdsr_search::decode::{Limits, expand};
use crashdsr_search::export::{blob_text, parse_device_logs};
use crashdsr_search::fuzzing::{phones, scan_object};
use crashdsr_search::{Matcher, Subject};
use proptest::prelude::*;
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};

/// Seeds: a few objects of each kind from an emulator export, plus
/// containers and encodings the dataset does not make.
fn corpus() -> &'static Vec<Vec<u8>> {
    static CORPUS: OnceLock<Vec<Vec<u8>>> = OnceLock::new();
    CORPUS.get_or_init(|| {
        let mut cfg = DatasetConfig::new(3);
        cfg.errors_per_app = 60;
        let data = Dataset::new(cfg.clone());
        let dir = TempDir::new("fuzz-corpus");
        let plan = ExportPlan {
            app: 0,
            since: Timestamp(cfg.now - chrono::Duration::days(28)),
            entities: vec![],
            path_format: BlobPathFormatKind::WithAppId,
            style: ExportStyle::Dotnet,
        };
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
            .block_on(async {
                let store = open_target(&Target::Dir(dir.path().to_path_buf()))
                    .await
                    .unwrap();
                write(&data, &plan, store, |_| true).await.unwrap();
            });
        let mut seeds = Vec::new();
        collect(&dir.path().join("archive"), &mut seeds);
        // Keep the corpus small: a handful of each size class.
        seeds.sort_by_key(Vec::len);
        let step = (seeds.len() / 40).max(1);
        let mut picked: Vec<Vec<u8>> = seeds
            .into_iter()
            .step_by(step)
            .filter(|s| s.len() < 64 << 10)
            .collect();
        let text = b"user jane.doe@example.com called +49 (151) 23456789".to_vec();
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(&text).unwrap();
        let gz = gz.finish().unwrap();
        let mut z = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
        z.start_file("a.log", zip::write::SimpleFileOptions::default())
            .unwrap();
        z.write_all(&gz).unwrap();
        picked.push(z.finish().unwrap().into_inner());
        let mut t = tar::Builder::new(Vec::new());
        let mut h = tar::Header::new_gnu();
        h.set_size(text.len() as u64);
        h.set_mode(0o644);
        h.set_cksum();
        t.append_data(&mut h, "x/y.txt", &text[..]).unwrap();
        picked.push(t.into_inner().unwrap());
        picked.push(
            [
                &[0xFE, 0xFF][..],
                &"Renée"
                    .encode_utf16()
                    .flat_map(u16::to_be_bytes)
                    .collect::<Vec<_>>(),
            ]
            .concat(),
        );
        picked.push(
            encoding_rs::WINDOWS_1252
                .encode("Renée Müller")
                .0
                .into_owned(),
        );
        picked.push(base64_of(&gz));
        picked.push(gz);
        // zlib, bzip2, and what xz and zstd write (tests/data).
        let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
        z.write_all(&text).unwrap();
        picked.push(z.finish().unwrap());
        let mut b = bzip2::write::BzEncoder::new(Vec::new(), bzip2::Compression::fast());
        b.write_all(&text).unwrap();
        picked.push(b.finish().unwrap());
        for name in ["log.xz", "log.zst", "zeros-4mib.xz", "zeros-4mib.zst"] {
            let data = Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("tests/data")
                .join(name);
            picked.push(std::fs::read(data).unwrap());
        }
        picked
    })
}

fn base64_of(b: &[u8]) -> Vec<u8> {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD
        .encode(b)
        .into_bytes()
}

fn collect(dir: &Path, out: &mut Vec<Vec<u8>>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            collect(&p, out);
        } else {
            out.push(std::fs::read(&p).unwrap());
        }
    }
}

/// Arbitrary bytes, or a seed with a few random edits: bytes flipped,
/// cut, repeated, or JSON tokens put in.
fn input() -> impl Strategy<Value = Vec<u8>> {
    let seeds = corpus().clone();
    let edit = (0usize..6, any::<usize>(), any::<u8>());
    let mutated = (
        proptest::sample::select(seeds),
        proptest::collection::vec(edit, 0..8),
    )
        .prop_map(|(mut s, edits)| {
            for (kind, at, byte) in edits {
                if s.is_empty() {
                    s.push(byte);
                    continue;
                }
                let i = at % s.len();
                match kind {
                    0 => s[i] = byte,
                    1 => s.truncate(i),
                    2 => s.insert(i, byte),
                    3 => {
                        let token: &[u8] = [
                            &b"null"[..],
                            b"{",
                            b"}",
                            b"[",
                            b"]",
                            b",",
                            b"\"",
                            b"\\u00",
                            b"\xEF\xBB\xBF",
                        ][byte as usize % 9];
                        s.splice(i..i, token.iter().copied());
                    }
                    4 => {
                        let end = (i + 1 + byte as usize).min(s.len());
                        let chunk = s[i..end].to_vec();
                        s.splice(i..i, chunk);
                    }
                    _ => {
                        s.remove(i);
                    }
                }
            }
            s
        });
    prop_oneof![1 => proptest::collection::vec(any::<u8>(), 0..2048), 3 => mutated]
}

fn matcher() -> &'static Matcher {
    static M: OnceLock<Matcher> = OnceLock::new();
    M.get_or_init(|| {
        let mut subjects: Vec<Subject> = Dataset::new(DatasetConfig::new(3))
            .truth()
            .subjects
            .iter()
            .map(|s| {
                let specs: Vec<String> = s
                    .identifiers
                    .iter()
                    .map(|i| format!("{}={}", i.kind, i.value))
                    .collect();
                Subject::from_specs(&s.label, &specs).unwrap()
            })
            .collect();
        subjects.push(
            Subject::from_specs(
                "extra",
                &[
                    "name=Renée Müller".into(),
                    "phone=+49 151 23456789".into(),
                    "text=x".into(),
                    "regex=j[a-z]+@".into(),
                ],
            )
            .unwrap(),
        );
        Matcher::new(subjects)
    })
}

/// Runs `check` on inputs: a few hundred cases, or for
/// `CRASHDSR_FUZZ_SECS` seconds with fresh seeds each round.
fn fuzz(name: &str, check: impl Fn(&[u8]) -> Result<(), TestCaseError>) {
    let budget = std::env::var("CRASHDSR_FUZZ_SECS")
        .ok()
        .and_then(|s| s.parse::<u64>().ok());
    let strategy = input();
    let started = Instant::now();
    let (mut runs, mut round) = (0u64, 0u64);
    loop {
        let seed: Vec<u8> = (0..32)
            .map(|i| (round.wrapping_mul(0x9E37_79B9) >> (i % 8)) as u8 ^ i)
            .collect();
        let cases = if budget.is_some() { 512 } else { 256 };
        let mut runner = TestRunner::new_with_rng(
            Config {
                cases,
                failure_persistence: None,
                ..Config::default()
            },
            TestRng::from_seed(RngAlgorithm::ChaCha, &seed),
        );
        if let Err(e) = runner.run(&strategy, |bytes| check(&bytes)) {
            panic!("{name}: {e}");
        }
        runs += u64::from(cases);
        round += 1;
        match budget {
            Some(secs) if started.elapsed() < Duration::from_secs(secs) => continue,
            _ => break,
        }
    }
    println!(
        "fuzz {name}: {runs} runs in {:.1} s, no panic",
        started.elapsed().as_secs_f64()
    );
}

#[test]
fn fuzz_device_log_splitter() {
    fuzz("device-log splitter", |bytes| {
        let logs = parse_device_logs(bytes);
        let mut end = 0;
        for r in &logs.records {
            prop_assert!(
                r.span.start >= end && r.span.end <= logs.text.len() && r.span.start < r.span.end
            );
            end = r.span.end;
        }
        Ok(())
    });
}

#[test]
fn fuzz_crash_and_archive_readers() {
    let limits = Limits {
        max_expand: 1 << 20,
        max_depth: 3,
    };
    fuzz("crash and archive readers", |bytes| {
        for path in [
            "2026/11/30/12/05/crashes/1-a.json",
            "app/2026/11/30/12/05/logs_0001.v1.data",
            "2026/11/30/12/05/attachments/a1",
            "apps/o/a/errors/1-a/details.json",
            "loose/file.json",
        ] {
            scan_object(matcher(), path, bytes, limits);
        }
        Ok(())
    });
}

#[test]
fn fuzz_decoders() {
    let limits = Limits {
        max_expand: 1 << 20,
        max_depth: 3,
    };
    fuzz("decoders", |bytes| {
        let d = expand(bytes, &limits);
        let total: usize = d.views.iter().map(|v| v.bytes.len()).sum();
        prop_assert!(total as u64 <= limits.max_expand);
        let _ = blob_text(bytes);
        let _ = encoding_rs::WINDOWS_1252.decode(bytes);
        Ok(())
    });
}

#[test]
fn fuzz_matcher() {
    fuzz("matcher", |bytes| {
        for f in matcher().find(bytes) {
            prop_assert!(f.offset + f.len <= bytes.len());
        }
        for (s, e) in phones(bytes, "+49 151 23456789") {
            prop_assert!(s < e && e <= bytes.len());
        }
        Ok(())
    });
}
