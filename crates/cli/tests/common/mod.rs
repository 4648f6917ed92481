//! Helpers shared by the binary's end-to-end tests (each test file uses
//! some of them).
#![allow(dead_code)]

use std::path::Path;
use std::process::{Command, Output};

/// `crashdsr` against `base` with `token`, a work dir, no pacing, no bars,
/// and none of the operator's own settings from the environment.
pub(crate) fn crashdsr(base: &str, work: &Path, token: &str) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_crashdsr"));
    c.env("APPCENTER_API_TOKEN", token)
        .env_remove("CRASHDSR_STATE")
        .env_remove("CRASHDSR_ARCHIVE")
        .args([
            "--base-url",
            base,
            "--work-dir",
            work.to_str().unwrap(),
            "--api-rate",
            "100000/1",
            "--no-progress",
        ]);
    c
}

/// Asserts success and returns stdout; on failure shows both streams.
pub(crate) fn ok(out: Output) -> String {
    let s = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "exit {:?}\n{s}\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stderr)
    );
    s
}

/// Waits until the export configuration in `created` (the JSON `create`
/// printed) reads `Enabled`; it must read `Pending` until then.
pub(crate) fn wait_for_export(base: &str, work: &Path, created: &str) {
    let v: serde_json::Value = serde_json::from_str(created).unwrap();
    let id = v["id"].as_str().unwrap();
    for _ in 0..200 {
        let got = ok(crashdsr(base, work, "t")
            .args([
                "export-config",
                "get",
                "--app",
                "contoso/demo-app",
                "--id",
                id,
                "--json",
            ])
            .output()
            .unwrap());
        if got.contains("\"Enabled\"") {
            return;
        }
        assert!(got.contains("\"Pending\""), "{got}");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    panic!("the export stayed Pending");
}
