//! End-to-end tests of the `crashdsr` binary: spawned in temp dirs, talking
//! to an emulator it serves itself.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Output, Stdio};

fn crashdsr() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_crashdsr"));
    c.env_remove("APPCENTER_API_TOKEN")
        .env_remove("APPCENTER_BASE_URL")
        .env_remove("CRASHDSR_TOKEN_FILE");
    c
}

struct Served {
    child: Child,
    base: String,
    token: String,
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn serve(extra: &[&str]) -> Served {
    let mut child = crashdsr()
        .args(["emulator", "--addr", "127.0.0.1:0"])
        .args(extra)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let first = lines.next().unwrap().unwrap();
    let base = first
        .strip_prefix("listening on ")
        .unwrap_or_else(|| panic!("first line: {first:?}"))
        .to_owned();
    let token = if extra.contains(&"--token") {
        extra[extra.iter().position(|a| *a == "--token").unwrap() + 1].to_owned()
    } else {
        let second = lines.next().unwrap().unwrap();
        second.strip_prefix("token ").unwrap().to_owned()
    };
    Served { child, base, token }
}

fn text(o: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

#[test]
fn demo_runs_on_both_paths_and_prints_no_identifier() {
    let work = crashdsr_emulator::testing::TempDir::new("demo");
    for (path, says) in [(None, "no API"), (Some("api"), "1000 crashes archived")] {
        let out = crashdsr()
            .args(["--work-dir", work.path().to_str().unwrap(), "demo"])
            .args(path.map(|p| ["--path", p]).into_iter().flatten())
            .output()
            .unwrap();
        let (stdout, stderr) = text(&out);
        assert!(out.status.success(), "{path:?}: {stdout}\n{stderr}");
        assert!(stdout.contains("checksums verified"), "{stdout}");
        assert!(
            stdout
                .contains("exactly the crashes the ground truth names, each with its crash report"),
            "{stdout}"
        );
        assert!(
            stdout.contains(says) || stderr.contains(says),
            "{path:?}: {stdout}\n{stderr}"
        );
        assert!(
            !stdout.contains('@') && !stderr.contains('@'),
            "an e-mail address was printed:\n{stdout}"
        );
        // Log lines to a file carry no colour codes.
        assert!(
            !stderr.contains('\x1b'),
            "{path:?}: ANSI codes in {stderr:?}"
        );
    }
}

#[test]
fn emulator_serves_the_readme_dataset_and_writes_the_truth() {
    let dir = std::env::temp_dir().join(format!("crashdsr-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let truth = dir.join("truth.json");
    let served = serve(&[
        "--seed",
        "7",
        "--errors",
        "10000",
        "--truth",
        truth.to_str().unwrap(),
    ]);
    assert_eq!(served.token.len(), 32);
    let rt = tokio::runtime::Runtime::new().unwrap();
    let body: serde_json::Value = rt.block_on(async {
        reqwest::Client::new()
            .get(format!("{}/v0.1/apps/contoso/demo-app/errors/errorGroups?start=2020-01-01T00:00:00Z&$top=2", served.base))
            .header("X-API-Token", &served.token)
            .send()
            .await
            .unwrap()
            .error_for_status()
            .unwrap()
            .json()
            .await
            .unwrap()
    });
    assert_eq!(body["errorGroups"].as_array().unwrap().len(), 2);
    assert!(
        body["nextLink"]
            .as_str()
            .unwrap()
            .starts_with("/api/v0.1/apps/contoso/demo-app/")
    );
    let t: serde_json::Value = serde_json::from_slice(&std::fs::read(&truth).unwrap()).unwrap();
    let subjects = t["subjects"].as_array().unwrap();
    assert_eq!(subjects.len(), 5);
    assert!(
        subjects
            .iter()
            .all(|s| !s["direct"].as_array().unwrap().is_empty())
    );

    // The retention command against it; the token comes from the env.
    let out = crashdsr()
        .args([
            "--base-url",
            &served.base,
            "retention",
            "--app",
            "contoso/demo-app",
        ])
        .env("APPCENTER_API_TOKEN", &served.token)
        .output()
        .unwrap();
    assert_eq!(
        text(&out).0,
        "contoso/demo-app: 28 days\n",
        "{:?}",
        text(&out)
    );
    // ... or from a token file.
    let file = dir.join("token");
    std::fs::write(&file, format!("# dev\n{}\n", served.token)).unwrap();
    let out = crashdsr()
        .args([
            "--base-url",
            &served.base,
            "--token-file",
            file.to_str().unwrap(),
            "retention",
            "--app",
            "contoso/demo-app",
            "--set",
            "90",
        ])
        .output()
        .unwrap();
    assert_eq!(
        text(&out).0,
        "contoso/demo-app: 90 days\n",
        "{:?}",
        text(&out)
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn bad_input_is_one_clear_line_and_exit_2() {
    let served = serve(&["--token", "right-token", "--errors", "10"]);
    let run = |args: &[&str], token: Option<&str>| {
        let mut c = crashdsr();
        c.args(args);
        if let Some(t) = token {
            c.env("APPCENTER_API_TOKEN", t);
        }
        let out = c.output().unwrap();
        let (_, stderr) = text(&out);
        (out.status.code(), stderr)
    };
    let base = served.base.as_str();
    let cases: Vec<(Vec<&str>, Option<&str>, &str)> = vec![
        (
            vec!["--base-url", base, "retention", "--app", "contoso/demo-app"],
            None,
            "no API token",
        ),
        (
            vec!["--base-url", base, "retention", "--app", "contoso/demo-app"],
            Some("wrong-secret-token"),
            "HTTP 401",
        ),
        (
            vec!["--base-url", base, "retention", "--app", "contoso/nope"],
            Some("right-token"),
            "HTTP 404",
        ),
        (
            vec!["--base-url", "http://10.1.2.3", "retention", "--app", "o/a"],
            Some("t"),
            "must be https",
        ),
        (
            vec![
                "--base-url",
                "http://127.0.0.1:9",
                "--api-rate",
                "1000/1",
                "retention",
                "--app",
                "o/a",
            ],
            Some("t"),
            "Connect error",
        ),
        (
            vec!["retention", "--app", "no-slash"],
            Some("t"),
            "expected OWNER/APP",
        ),
        (
            vec!["retention", "--app", "o/a", "--set", "30"],
            Some("t"),
            "invalid value",
        ),
        (
            vec!["emulator", "--faults", "500@sometimes=1"],
            None,
            "unknown trigger",
        ),
        (vec!["emulator", "--errors", "0"], None, "at least 1"),
    ];
    for (args, token, want) in cases {
        let (code, stderr) = run(&args, token);
        assert_eq!(code, Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains(want), "{args:?}: {stderr}");
        assert!(
            !stderr.contains("wrong-secret-token") && !stderr.contains("right-token"),
            "a token leaked: {stderr}"
        );
        assert!(!stderr.contains("panicked"), "{stderr}");
    }
}

#[test]
fn verify_reports_intact_and_tampered_packages() {
    let dir = crashdsr_emulator::testing::TempDir::new("verify");
    let mut b = crashdsr_package::PackageBuilder::new();
    b.add_bytes("manifest.json", br#"{"format": 1}"#.to_vec())
        .unwrap();
    b.add_bytes("evidence.jsonl", b"{}\n".to_vec()).unwrap();
    let good = dir.path().join("p.zip");
    b.write(&good, false).unwrap();
    let out = crashdsr()
        .args(["verify", good.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(out.status.success(), "{:?}", text(&out));
    assert!(text(&out).0.contains("intact, 2 files"));
    // A byte flipped in the stored (compressed) data is caught too.
    let mut bytes = std::fs::read(&good).unwrap();
    let at = bytes.len() / 3;
    bytes[at] ^= 0x55;
    let bad = dir.path().join("bad.zip");
    std::fs::write(&bad, bytes).unwrap();
    let out = crashdsr()
        .args(["verify", bad.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{:?}", text(&out));
    let out = crashdsr()
        .args(["verify", dir.path().join("missing.zip").to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}
