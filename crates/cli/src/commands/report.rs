//! `report.html`: a self-contained page (no scripts, no external requests)
//! for the person who asked: what was found, from which system, and the
//! information Article 15 GDPR requires, with the controller's own texts.

use std::fmt::Write as _;
use std::path::Path;

use anyhow::Context;
use serde::Deserialize;

/// The controller's texts (`--controller FILE`, TOML). Every field has a
/// default.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Controller {
    pub(crate) name: Option<String>,
    pub(crate) contact: Option<String>,
    pub(crate) dpo: Option<String>,
    pub(crate) purposes: Option<String>,
    pub(crate) categories: Option<String>,
    pub(crate) recipients: Option<String>,
    pub(crate) retention: Option<String>,
    pub(crate) rights: Option<String>,
    pub(crate) authority: Option<String>,
}

impl Controller {
    pub(crate) fn load(path: Option<&Path>) -> anyhow::Result<Self> {
        match path {
            None => Ok(Self::default()),
            Some(p) => {
                let text = std::fs::read_to_string(p)
                    .with_context(|| format!("reading {}", p.display()))?;
                toml::from_str(&text)
                    .with_context(|| format!("the controller file {}", p.display()))
            }
        }
    }
}

/// One crash in the report.
pub(crate) struct ReportCrash {
    pub(crate) error_id: String,
    pub(crate) when: String,
    pub(crate) device: String,
    pub(crate) linked: bool,
    /// `(identifier type, where)`.
    pub(crate) places: Vec<(String, String)>,
}

/// What the report says.
pub(crate) struct ReportInput<'a> {
    pub(crate) request_id: &'a str,
    pub(crate) received: &'a str,
    pub(crate) due: &'a str,
    pub(crate) app: &'a str,
    pub(crate) source: &'a str,
    pub(crate) retention_days: u32,
    pub(crate) coverage: &'a str,
    pub(crate) identifier_types: Vec<String>,
    pub(crate) crashes: Vec<ReportCrash>,
    pub(crate) sessions: usize,
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

pub(crate) fn render(r: &ReportInput<'_>, c: &Controller) -> String {
    let or = |v: &Option<String>, d: &str| esc(v.as_deref().unwrap_or(d));
    let direct = r.crashes.iter().filter(|c| !c.linked).count();
    let linked = r.crashes.len() - direct;
    let mut rows = String::new();
    for c in &r.crashes {
        let places: Vec<String> = c
            .places
            .iter()
            .map(|(t, w)| format!("<mark>{}</mark> in {}", esc(t), esc(w)))
            .collect();
        let why = if c.linked {
            "from the same installation of the app as your other reports".to_owned()
        } else {
            places.join("<br>")
        };
        let _ = write!(
            rows,
            "<tr><td><code>{}</code></td><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(&c.error_id),
            esc(&c.when),
            esc(&c.device),
            why
        );
    }
    format!(
        r#"<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Crash data held about you</title>
<style>
body {{ font: 16px/1.5 system-ui, sans-serif; max-width: 60rem; margin: 2rem auto; padding: 0 1rem; color: #222; }}
h1 {{ font-size: 1.6rem; }} h2 {{ font-size: 1.2rem; margin-top: 2rem; }}
table {{ border-collapse: collapse; width: 100%; }} td, th {{ border: 1px solid #ccc; padding: .4rem; text-align: left; vertical-align: top; }}
mark {{ background: #ffe08a; }} code {{ font-size: .85rem; word-break: break-all; }}
.summary {{ background: #f3f6fa; padding: 1rem; border-radius: .5rem; }}
</style></head>
<body>
<h1>Crash data held about you</h1>
<p class="summary" id="summary">We found <strong id="crash-count">{total}</strong> crash reports about you
({direct} that contain your details, {linked} more from the same installation of the app),
and {sessions} other records of your app sessions.</p>
<p>Request <code>{id}</code>, received on {received}; the answer is due by {due}.</p>

<h2>Where the data comes from</h2>
<p>Crash reports of the app <code>{app}</code> collected by Visual Studio App Center, searched in {source}.
App Center keeps crash reports for {retention} days. This answer covers: {coverage}.
We looked for these kinds of details about you: {types}.</p>

<h2>The crash reports</h2>
<p>Each report is in the folder <code>crashes/</code> of this package, exactly as we hold it.
Highlighted: the kind of detail found and where in the report.</p>
<table><thead><tr><th>Report</th><th>When</th><th>Device</th><th>Your data</th></tr></thead>
<tbody>{rows}</tbody></table>

<h2>Information under Article 15 GDPR</h2>
<dl>
<dt>Controller</dt><dd>{name}. Contact: {contact}. Data protection officer: {dpo}.</dd>
<dt>Purposes</dt><dd>{purposes}</dd>
<dt>Categories of data</dt><dd>{categories}</dd>
<dt>Recipients</dt><dd>{recipients}</dd>
<dt>How long it is kept</dt><dd>{retention_text}</dd>
<dt>Source</dt><dd>The data was collected by the App Center SDK in the app on your device when the app crashed or reported an error.</dd>
<dt>Your rights</dt><dd>{rights}</dd>
<dt>Complaints</dt><dd>{authority}</dd>
</dl>
<p>The file <code>SHA256SUMS</code> lists a checksum for every file in this package, so that you can check nothing was changed.</p>
</body></html>
"#,
        total = r.crashes.len(),
        sessions = r.sessions,
        id = esc(r.request_id),
        received = esc(r.received),
        due = esc(r.due),
        app = esc(r.app),
        source = esc(r.source),
        retention = r.retention_days,
        coverage = esc(r.coverage),
        types = esc(&r.identifier_types.join(", ")),
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
            "Microsoft (Visual Studio App Center) as processor, and the app's developers."
        ),
        retention_text = or(
            &c.retention,
            &format!(
                "Crash reports are kept for {} days by App Center, then deleted.",
                r.retention_days
            )
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
