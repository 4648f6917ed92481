//! The report opened in a real browser: headless Chromium, no network,
//! renders without console errors and shows the subject's crash count, a
//! stack trace and their activity, answered from an export with no API.
//! Runs when `CRASHDSR_TEST_CHROMIUM` names the browser (`.ci/run` installs
//! Debian's chromium and sets it).

mod common;

use std::io::Read;
use std::process::Command;

use crashdsr_emulator::testing::TempDir;
use crashdsr_emulator::{Dataset, DatasetConfig};

#[test]
fn report_renders_offline_without_console_errors() {
    let Ok(chromium) = std::env::var("CRASHDSR_TEST_CHROMIUM") else {
        println!("skipped: CRASHDSR_TEST_CHROMIUM is not set");
        return;
    };
    let rt = tokio::runtime::Runtime::new().unwrap();
    let mut ds = DatasetConfig::new(29);
    ds.errors_per_app = 400;
    let data = Dataset::new(ds);
    let truth = data.truth();
    let tmp = TempDir::new("report");
    let source = common::export(&rt, &data, &tmp.path().join("storage"));
    let s = truth
        .subjects
        .iter()
        .max_by_key(|s| s.direct.len())
        .unwrap();
    let subjects = tmp.path().join("s.jsonl");
    std::fs::write(
        &subjects,
        serde_json::json!({"label": s.label, "identifiers": s.identifiers}).to_string(),
    )
    .unwrap();
    let out = common::crashdsr(&common::closed_port(), tmp.path(), "t")
        .args(["request", "--source", &source])
        .args([
            "--app-name",
            &format!("{}=contoso/demo-app", data.app_id(0)),
        ])
        .args(["--subjects", subjects.to_str().unwrap()])
        .args(["--out", tmp.path().join("p").to_str().unwrap()])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let zip = tmp.path().join("p").join(format!("{}.zip", s.label));
    let mut z = zip::ZipArchive::new(std::fs::File::open(&zip).unwrap()).unwrap();
    let mut html = String::new();
    z.by_name("report.html")
        .unwrap()
        .read_to_string(&mut html)
        .unwrap();
    // Self-contained: nothing to fetch.
    for attr in ["src=", "href=", "@import", "url("] {
        assert!(!html.contains(attr), "the report references {attr}");
    }
    let page = tmp.path().join("report.html");
    std::fs::write(&page, &html).unwrap();
    let run = Command::new(chromium)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
        ])
        .args([
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
        ])
        .arg(format!(
            "--user-data-dir={}",
            tmp.path().join("profile").display()
        ))
        .args([
            "--host-resolver-rules=MAP * ~NOTFOUND",
            "--enable-logging=stderr",
            "--v=0",
            "--dump-dom",
        ])
        .arg(format!("file://{}", page.display()))
        .output()
        .unwrap();
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let dom = String::from_utf8_lossy(&run.stdout);
    let stderr = String::from_utf8_lossy(&run.stderr);
    let console: Vec<&str> = stderr.lines().filter(|l| l.contains("CONSOLE")).collect();
    assert!(console.is_empty(), "console messages: {console:?}");
    let want = s.direct.len() + s.linked.len();
    assert!(
        dom.contains(&format!("<strong id=\"crash-count\">{want}</strong>")),
        "{dom}"
    );
    assert!(dom.contains("Information under Article 15 GDPR"));
    // A crash's stack trace, collapsed, and a row of the person's activity.
    assert!(dom.contains("<summary>Stack trace ("), "{dom}");
    assert!(dom.contains("<pre>at "), "{dom}");
    assert!(dom.contains("<tr class=\"activity-row\">"), "{dom}");
}
