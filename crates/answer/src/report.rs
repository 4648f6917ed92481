//! `report.html`: a self-contained page (no scripts, no external requests)
//! for the person who asked. It shows their data, not only where it was:
//! each crash report (when, device, app version, the error, its stack
//! trace collapsed, attachments with text shown inline, the fields that
//! hold their details highlighted), their app activity as a table, the
//! objects the controller must review, and the information Article 15
//! GDPR requires, with the controller's own texts.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::{Counts, Error, Result, SourceInfo, TimeRange};

/// The controller's texts and app names (`--controller FILE`, TOML).
/// Every field has a default.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Controller {
    /// The controller's name.
    pub name: Option<String>,
    /// How to contact it.
    pub contact: Option<String>,
    /// Its data protection officer.
    pub dpo: Option<String>,
    /// Why crash data is processed.
    pub purposes: Option<String>,
    /// The categories of data.
    pub categories: Option<String>,
    /// Who receives it.
    pub recipients: Option<String>,
    /// How long it is kept.
    pub retention: Option<String>,
    /// The person's rights.
    pub rights: Option<String>,
    /// Where to complain.
    pub authority: Option<String>,
    /// A readable name per app id (`"0b1e…" = "contoso/demo-app"`).
    #[serde(default)]
    pub apps: BTreeMap<String, String>,
}

impl Controller {
    /// Reads the file, or the defaults when there is none.
    pub fn load(path: Option<&Path>) -> Result<Self> {
        let Some(p) = path else {
            return Ok(Self::default());
        };
        let text = std::fs::read_to_string(p)
            .map_err(|e| Error::io(format!("reading {}", p.display()), e))?;
        toml::from_str(&text)
            .map_err(|e| Error::Request(format!("the controller file {}: {e}", p.display())))
    }
}

/// What the report says of the request.
pub(crate) struct Meta<'a> {
    pub(crate) request_id: &'a str,
    pub(crate) received: &'a str,
    pub(crate) due: &'a str,
    pub(crate) sources: &'a [SourceInfo],
    pub(crate) covered: &'a TimeRange,
    pub(crate) coverage_note: Option<&'a str>,
    pub(crate) identifier_types: Vec<String>,
    /// With `--redact-others`: what was masked.
    pub(crate) redactions: Option<&'a Redactions>,
}

/// A field that holds the person's data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct DataField {
    pub(crate) kind: String,
    pub(crate) place: String,
    pub(crate) value: Option<String>,
}

/// An attachment of a crash.
#[derive(Debug, Clone, Default)]
pub(crate) struct AttachmentView {
    pub(crate) id: String,
    pub(crate) file: String,
    pub(crate) name: String,
    pub(crate) content_type: Option<String>,
    pub(crate) size: u64,
    pub(crate) text: Option<String>,
}

/// A crash report.
#[derive(Debug, Clone, Default)]
pub(crate) struct CrashView {
    pub(crate) error_id: String,
    pub(crate) app: Option<String>,
    pub(crate) app_name: Option<String>,
    pub(crate) linked: bool,
    pub(crate) when: String,
    pub(crate) device: String,
    pub(crate) app_version: String,
    pub(crate) error_type: String,
    pub(crate) message: String,
    pub(crate) stack: Vec<String>,
    pub(crate) attachments: Vec<AttachmentView>,
    pub(crate) data: Vec<DataField>,
}

/// A row of the activity table.
#[derive(Debug, Clone, Default)]
pub(crate) struct ActivityRow {
    pub(crate) time: String,
    pub(crate) app: String,
    pub(crate) kind: String,
    pub(crate) event: String,
    pub(crate) properties: Vec<(String, String)>,
    /// Tied to the person through their installation only.
    pub(crate) linked: bool,
}

/// An object for the controller's review.
#[derive(Debug, Clone, Default)]
pub(crate) struct UnattributedRow {
    pub(crate) file: String,
    pub(crate) source: usize,
    pub(crate) object: String,
    pub(crate) reason: String,
}

/// Everything found, for the page.
#[derive(Debug, Clone, Default)]
pub(crate) struct View {
    pub(crate) crashes: Vec<CrashView>,
    pub(crate) activity: Vec<ActivityRow>,
    pub(crate) unattributed: Vec<UnattributedRow>,
    pub(crate) counts: Counts,
}

fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c if c.is_control() && c != '\n' && c != '\t' => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
    out
}

/// "2026-11-30T12:05:33.123Z" → "2026-11-30 12:05:33 UTC".
fn when(t: &str) -> String {
    if t.len() >= 19 && t.as_bytes()[10] == b'T' {
        format!("{} {} UTC", &t[..10], &t[11..19])
    } else {
        t.to_owned()
    }
}

fn crash_section(c: &CrashView) -> String {
    let mut s = String::new();
    let title = if c.error_type.is_empty() {
        "Crash report".to_owned()
    } else {
        c.error_type.clone()
    };
    let _ = write!(
        s,
        "<section class=\"crash\" id=\"crash-{id}\"><h3>{title}</h3><dl class=\"facts\">\
         <dt>When</dt><dd>{when}</dd><dt>Device</dt><dd>{device}</dd><dt>App</dt><dd>{app} {version}</dd>\
         <dt>Report</dt><dd><code>{id}</code>{linked}</dd>",
        id = esc(&c.error_id),
        title = esc(&title),
        when = esc(&when(&c.when)),
        device = esc(&c.device),
        app = esc(c.app_name.as_deref().or(c.app.as_deref()).unwrap_or("")),
        version = esc(&c.app_version),
        linked = if c.linked {
            " (from the same installation of the app as your other reports)"
        } else {
            ""
        },
    );
    if !c.message.is_empty() {
        let _ = write!(s, "<dt>Message</dt><dd>{}</dd>", esc(&c.message));
    }
    s.push_str("</dl>");
    if !c.data.is_empty() {
        s.push_str("<p>Your data in this report:</p><ul class=\"data\">");
        for d in &c.data {
            let _ = write!(s, "<li><mark>{}</mark> in {}", esc(&d.kind), esc(&d.place));
            if let Some(v) = &d.value {
                let _ = write!(s, ": <mark class=\"value\">{}</mark>", esc(v));
            }
            s.push_str("</li>");
        }
        s.push_str("</ul>");
    }
    if !c.stack.is_empty() {
        let _ = write!(
            s,
            "<details class=\"stack\"><summary>Stack trace ({} lines)</summary><pre>{}</pre></details>",
            c.stack.len(),
            esc(&c.stack.join("\n"))
        );
    }
    if !c.attachments.is_empty() {
        s.push_str("<p>Attachments:</p><ul class=\"attachments\">");
        for a in &c.attachments {
            let _ = write!(
                s,
                "<li><code>{}</code> ({}, {} bytes)",
                esc(&a.name),
                esc(a.content_type.as_deref().unwrap_or("unknown type")),
                a.size
            );
            match &a.text {
                Some(t) => {
                    let _ = write!(s, "<pre class=\"attachment\">{}</pre>", esc(t));
                }
                None => {
                    let _ = write!(s, ": not text; the file is <code>{}</code>", esc(&a.file));
                }
            }
            s.push_str("</li>");
        }
        s.push_str("</ul>");
    }
    s.push_str("</section>\n");
    s
}

fn activity_table(rows: &[ActivityRow]) -> String {
    if rows.is_empty() {
        return "<p>None.</p>".into();
    }
    let mut s = String::from(
        "<table id=\"activity\"><thead><tr><th>Time</th><th>App</th><th>Record</th><th>Event</th><th>Properties</th><th>Why it is yours</th></tr></thead><tbody>",
    );
    for r in rows {
        let props: Vec<String> = r
            .properties
            .iter()
            .map(|(k, v)| {
                if k.is_empty() {
                    esc(v)
                } else {
                    format!("{}: {}", esc(k), esc(v))
                }
            })
            .collect();
        let _ = write!(
            s,
            "<tr class=\"activity-row\"><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(&when(&r.time)),
            esc(&r.app),
            esc(&r.kind),
            esc(&r.event),
            props.join("<br>"),
            if r.linked {
                "the same installation of the app"
            } else {
                "holds your details"
            }
        );
    }
    s.push_str("</tbody></table>");
    s
}

pub(crate) fn render(m: &Meta<'_>, v: &View, c: &Controller) -> String {
    let or = |v: &Option<String>, d: &str| esc(v.as_deref().unwrap_or(d));
    let crashes: String = v.crashes.iter().map(crash_section).collect();
    let mut review = String::new();
    if v.unattributed.is_empty() {
        review.push_str("<p>None.</p>");
    } else {
        review.push_str("<p>These stored objects hold your details but could not be tied to one crash report. They are in the folder <code>unattributed/</code>, as stored; we review them.</p><table id=\"unattributed\"><thead><tr><th>File</th><th>Where it is stored</th><th>Why it is listed here</th></tr></thead><tbody>");
        for u in &v.unattributed {
            let _ = write!(
                review,
                "<tr><td><code>{}</code></td><td>source {}: <code>{}</code></td><td>{}</td></tr>",
                esc(&u.file),
                u.source,
                esc(&u.object),
                esc(&u.reason)
            );
        }
        review.push_str("</tbody></table>");
    }
    let sources: Vec<String> = m
        .sources
        .iter()
        .map(|s| {
            format!(
                "<li>source {}: a {} ({}), {} stored objects, {} to {}</li>",
                s.number,
                esc(&s.kind),
                esc(&s.store),
                s.objects,
                esc(&when_minute(s.time_range.from.as_deref())),
                esc(&when_minute(s.time_range.to.as_deref()))
            )
        })
        .collect();
    let counts = &v.counts;
    format!(
        r#"<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Crash data held about you</title>
<style>
body {{ font: 16px/1.5 system-ui, sans-serif; max-width: 62rem; margin: 2rem auto; padding: 0 1rem; color: #222; }}
h1 {{ font-size: 1.6rem; }} h2 {{ font-size: 1.25rem; margin-top: 2.2rem; }} h3 {{ font-size: 1.05rem; margin: 0 0 .4rem; }}
table {{ border-collapse: collapse; width: 100%; }} td, th {{ border: 1px solid #ccc; padding: .35rem; text-align: left; vertical-align: top; }}
mark {{ background: #ffe08a; }} code {{ font-size: .85rem; word-break: break-all; }}
pre {{ white-space: pre-wrap; word-break: break-all; background: #f6f6f6; padding: .5rem; font-size: .8rem; max-height: 24rem; overflow: auto; }}
.summary {{ background: #f3f6fa; padding: 1rem; border-radius: .5rem; }}
.crash {{ border: 1px solid #d8dde3; border-radius: .5rem; padding: .8rem 1rem; margin: 1rem 0; }}
.facts {{ display: grid; grid-template-columns: 7rem 1fr; margin: 0; }} .facts dt {{ color: #555; }} .facts dd {{ margin: 0; }}
</style></head>
<body>
<h1>Crash data held about you</h1>
<p class="summary" id="summary">We found <strong id="crash-count">{total}</strong> crash reports about you
({direct} that contain your details, {linked} more from the same installation of the app),
<strong id="activity-count">{activity}</strong> records of your use of the app,
and <strong id="review-count">{review_count}</strong> other stored objects that hold your details.</p>
<p>Request <code>{id}</code>, received on {received}; the answer is due by {due}.</p>

<h2>Where the data comes from</h2>
<p>Crash reports and app records collected by Visual Studio App Center and kept by us in our own storage.
This answer covers {coverage}. We looked for these kinds of details about you: {types}.</p>
<ul>{sources}</ul>

<h2>Your crash reports</h2>
<p>Each report is in the folder <code>crashes/</code> of this package, exactly as we hold it, with its attachments.</p>
{crashes}
<h2>Your use of the app</h2>
<p>Records the app sent while you used it, in the folder <code>activity/</code>, exactly as we hold them.</p>
{activity_table}

<h2>Other stored objects that hold your details</h2>
{review}

{others}<h2>Information under Article 15 GDPR</h2>
<dl>
<dt>Controller</dt><dd>{name}. Contact: {contact}. Data protection officer: {dpo}.</dd>
<dt>Purposes</dt><dd>{purposes}</dd>
<dt>Categories of data</dt><dd>{categories}</dd>
<dt>Recipients</dt><dd>{recipients}</dd>
<dt>How long it is kept</dt><dd>{retention}</dd>
<dt>Source</dt><dd>The data was collected by the App Center SDK in the app on your device when the app crashed, reported an error or recorded your use of it.</dd>
<dt>Your rights</dt><dd>{rights}</dd>
<dt>Complaints</dt><dd>{authority}</dd>
</dl>
<p>The file <code>manifest.json</code> says where each file came from; <code>SHA256SUMS</code> lists a checksum for every file in this package, so that you can check nothing was changed.</p>
</body></html>
"#,
        total = counts.crashes,
        direct = counts.direct,
        linked = counts.linked,
        activity = counts.activity_records,
        review_count = counts.unattributed_objects,
        id = esc(m.request_id),
        received = esc(m.received),
        due = esc(m.due),
        coverage = esc(&crate::coverage_text(m.covered, m.coverage_note)),
        types = esc(&m.identifier_types.join(", ")),
        sources = sources.join(""),
        activity_table = activity_table(&v.activity),
        others = m.redactions.map(others_section).unwrap_or_default(),
        name = or(&c.name, "The app's publisher"),
        contact = or(&c.contact, "see the app's privacy notice"),
        dpo = or(&c.dpo, "see the app's privacy notice"),
        purposes = or(
            &c.purposes,
            "Finding and fixing errors that make the app crash, and keeping the app stable and secure."
        ),
        categories = or(
            &c.categories,
            "Crash and error reports: device model, operating system, app version, time, the error and where in the app it happened, and details the app attached to the report (such as a user id, e-mail address or log excerpts); records of app sessions and events."
        ),
        recipients = or(
            &c.recipients,
            "Microsoft (Visual Studio App Center) as processor until its shutdown, and the app's developers."
        ),
        retention = or(
            &c.retention,
            "App Center's continuous export has no retention limit: these records are kept until we delete them."
        ),
        rights = or(
            &c.rights,
            "You can ask for your data to be corrected or erased, for its processing to be restricted, and object to it; you can receive it in a portable format (this package)."
        ),
        authority = or(
            &c.authority,
            "You have the right to lodge a complaint with a supervisory authority, in particular in the EU member state where you live or work."
        ),
    )
}

/// What was masked to protect other people (Art. 15(4)).
fn others_section(r: &Redactions) -> String {
    let mut s = String::from(
        "<h2 id=\"others\">Other people's data</h2>\n<p>Some of these records also name other people. \
         To protect them, their e-mail addresses, phone numbers, installation ids and user ids are masked \
         in the copies in this package: each letter is replaced by <code>x</code> and each digit by <code>0</code>, \
         <mark class=\"redacted\">like this</mark> on this page. Your own details are not masked.</p>",
    );
    if r.files.is_empty() && r.withheld.is_empty() {
        s.push_str("<p>No files needed masking.</p>");
    } else {
        s.push_str(
            "<table id=\"masked\"><thead><tr><th>File</th><th>Masked</th></tr></thead><tbody>",
        );
        for (file, counts) in &r.files {
            let what: Vec<String> = counts.iter().map(|(k, n)| format!("{n} {k}")).collect();
            let _ = write!(
                s,
                "<tr><td><code>{}</code></td><td>{}</td></tr>",
                esc(file),
                esc(&what.join(", "))
            );
        }
        for w in &r.withheld {
            let _ = write!(
                s,
                "<tr><td><code>{}</code></td><td>left out of this package: {}; we review it and send it to you separately</td></tr>",
                esc(&w.file),
                esc(&w.why)
            );
        }
        s.push_str("</tbody></table>");
    }
    s
}

fn when_minute(t: Option<&str>) -> String {
    t.map_or_else(
        || "unknown".into(),
        |t| format!("{} UTC", t.replace('T', " ").trim_end_matches('Z')),
    )
}

/// What was masked in one package.
#[derive(Debug, Clone, Default, Serialize)]
pub(crate) struct Redactions {
    /// Per file, spans masked per identifier type.
    pub(crate) files: BTreeMap<String, BTreeMap<&'static str, usize>>,
    /// Files left out because they cannot be masked in place, with why.
    pub(crate) withheld: Vec<Withheld>,
    /// Spans masked in the report's own text.
    pub(crate) report_spans: usize,
}

/// A file left out of the package.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Withheld {
    pub(crate) file: String,
    pub(crate) why: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn everything_shown_is_escaped() {
        let v = View {
            crashes: vec![CrashView {
                error_id: "e<1>".into(),
                message: "<script>alert(1)</script>".into(),
                stack: vec!["at A.b (<x>:1)".into()],
                attachments: vec![AttachmentView {
                    name: "a\"b.txt".into(),
                    text: Some("</pre><img src=x onerror=alert(1)>".into()),
                    ..Default::default()
                }],
                ..Default::default()
            }],
            activity: vec![ActivityRow {
                properties: vec![("k<".into(), "v'>".into())],
                ..Default::default()
            }],
            ..Default::default()
        };
        let m = Meta {
            request_id: "r",
            received: "2026-12-01",
            due: "2027-01-01",
            sources: &[],
            covered: &TimeRange::default(),
            coverage_note: None,
            identifier_types: vec!["email".into()],
            redactions: None,
        };
        let html = render(&m, &v, &Controller::default());
        assert!(!html.contains("<script>"));
        assert!(!html.contains("<img"));
        assert!(!html.contains("<x>"));
        assert!(html.contains("&lt;script&gt;"));
        assert!(html.contains("k&lt;: v&#39;&gt;"));
        assert!(!html.contains("<script"), "no scripts of our own either");
    }
}
