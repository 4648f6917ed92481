//! The deterministic synthetic dataset: apps, groups, errors, logs,
//! attachments and the personal data of a few subjects, generated on demand
//! from the seed so that a million errors cost no memory.
//!
//! Every error `i` of app `a` is a pure function of `(seed, a, i)`. An
//! error belongs to one of four kinds of owner, chosen by hash:
//! a subject (their identifiers are placed in it), a subject's *linked*
//! crash (same install id, no identifier), a *decoy* (near misses of a
//! subject's identifiers: `xjane@…`, `jane@….au`, `user-123` for
//! `user-12`) or background (nobody we know). [`Dataset::truth`] walks the
//! same functions to write the ground truth.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;

use base64::Engine;
use chrono::{DateTime, Duration, Utc};
use crashdsr_appcenter::Timestamp;
use crashdsr_appcenter::models::*;
use serde::Serialize;

/// How the dataset is shaped.
#[derive(Debug, Clone)]
pub struct DatasetConfig {
    /// Seed of every generated value.
    pub seed: u64,
    /// Errors per app.
    pub errors_per_app: u64,
    /// Apps served, as `(owner, app)`.
    pub apps: Vec<(String, String)>,
    /// The instant the newest error is generated before.
    pub now: DateTime<Utc>,
    /// Days the errors are spread over (also the initial retention).
    pub span_days: u32,
    /// Errors per error group.
    pub errors_per_group: u64,
    /// Filler bytes added to every plain-text and binary attachment (log
    /// lines that hold no identifier), to build large exports.
    pub attachment_padding: usize,
}

impl DatasetConfig {
    /// `contoso/demo-app`, 1,000 errors over 28 days, anchored at today's
    /// midnight (UTC) so that runs on one day give identical data.
    pub fn new(seed: u64) -> Self {
        let now = Utc::now()
            .date_naive()
            .and_hms_opt(0, 0, 0)
            .expect("midnight exists")
            .and_utc();
        Self {
            seed,
            errors_per_app: 1000,
            apps: vec![("contoso".into(), "demo-app".into())],
            now,
            span_days: 28,
            errors_per_group: 50,
            attachment_padding: 0,
        }
    }
}

/// A typed identifier of a subject, as the truth file and `--subjects`
/// files write it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct Identifier {
    /// `email`, `user-id`, `phone`, `name`, `install-id`, `text`, `regex`.
    #[serde(rename = "type")]
    pub kind: String,
    /// The value.
    pub value: String,
}

/// A person whose data the dataset holds.
#[derive(Debug, Clone)]
pub struct Subject {
    /// Short label.
    pub label: String,
    /// E-mail address.
    pub email: String,
    /// Developer-set user id.
    pub user_id: String,
    /// Phone number as the app stored it.
    pub phone: String,
    /// Full name.
    pub name: String,
    /// The subject's installs (not among their identifiers: the person
    /// does not know them; they link crashes).
    pub installs: [String; 2],
    /// Near misses of the e-mail that belong to other people.
    pub email_decoys: [String; 2],
    /// A near miss of the user id.
    pub user_id_decoy: String,
}

impl Subject {
    /// The identifiers a request for this subject names.
    pub fn identifiers(&self) -> Vec<Identifier> {
        let id = |k: &str, v: &str| Identifier {
            kind: k.into(),
            value: v.into(),
        };
        vec![
            id("email", &self.email),
            id("user-id", &self.user_id),
            id("phone", &self.phone),
            id("name", &self.name),
        ]
    }

    /// Whether the user id is too short to be safe in free text.
    pub fn user_id_is_short(&self) -> bool {
        self.user_id.chars().count() < 4
    }
}

/// Who an error belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Owner {
    /// Subject `s` (their identifiers are in it).
    Subject(usize),
    /// Same install as subject `s`, no identifier.
    Linked(usize),
    /// Near misses of subject `s`'s identifiers; someone else.
    Decoy(usize),
    /// Nobody we know.
    Background,
}

/// Where a subject's identifier is placed in an error.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Placement {
    /// `userId` is the subject's user id (typed field).
    UserId,
    /// `userId` is the subject's e-mail (typed field).
    UserIdEmail,
    /// The exception message names the e-mail.
    Message,
    /// `properties.email_address`.
    PropertyEmail,
    /// `properties.phone_number`.
    PropertyPhone,
    /// A plain text attachment with name and e-mail.
    AttachmentText,
    /// A gzip attachment with the e-mail.
    AttachmentGzip,
    /// A UTF-16LE text attachment with the e-mail.
    AttachmentUtf16,
    /// A binary attachment with the e-mail embedded.
    AttachmentBinary,
    /// A text attachment holding base64 of a JSON blob with the e-mail.
    AttachmentBase64,
    /// A session-log event property holds the e-mail.
    SessionLog,
    /// A frame's file path holds the user id.
    FramePath,
}

impl Placement {
    const ALL: [Self; 12] = [
        Self::UserId,
        Self::UserIdEmail,
        Self::Message,
        Self::PropertyEmail,
        Self::PropertyPhone,
        Self::AttachmentText,
        Self::AttachmentGzip,
        Self::AttachmentUtf16,
        Self::AttachmentBinary,
        Self::AttachmentBase64,
        Self::SessionLog,
        Self::FramePath,
    ];

    /// The truth file's name for the place.
    pub fn describe(self) -> &'static str {
        match self {
            Self::UserId | Self::UserIdEmail => "userId",
            Self::Message => "exception.message",
            Self::PropertyEmail => "properties.email_address",
            Self::PropertyPhone => "properties.phone_number",
            Self::AttachmentText => "attachment (text/plain)",
            Self::AttachmentGzip => "attachment (gzip)",
            Self::AttachmentUtf16 => "attachment (UTF-16LE)",
            Self::AttachmentBinary => "attachment (binary)",
            Self::AttachmentBase64 => "attachment (base64)",
            Self::SessionLog => "session_logs.properties",
            Self::FramePath => "frames.fileName",
        }
    }

    fn attachment_kind(self) -> Option<AttachmentKind> {
        Some(match self {
            Self::AttachmentText => AttachmentKind::Text,
            Self::AttachmentGzip => AttachmentKind::Gzip,
            Self::AttachmentUtf16 => AttachmentKind::Utf16,
            Self::AttachmentBinary => AttachmentKind::Binary,
            Self::AttachmentBase64 => AttachmentKind::Base64,
            _ => return None,
        })
    }
}

/// The kinds of attachment the dataset makes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttachmentKind {
    /// `text/plain` log lines.
    Text,
    /// `application/gzip` log.
    Gzip,
    /// UTF-16LE text uploaded as a binary attachment.
    Utf16,
    /// `image/png` binary with strings inside.
    Binary,
    /// `text/plain` holding base64.
    Base64,
}

impl AttachmentKind {
    fn content_type(self) -> &'static str {
        match self {
            Self::Text | Self::Base64 => "text/plain",
            Self::Gzip => "application/gzip",
            Self::Utf16 => "application/octet-stream",
            Self::Binary => "image/png",
        }
    }

    fn file_name(self) -> &'static str {
        match self {
            Self::Text => "log.txt",
            Self::Gzip => "log.txt.gz",
            Self::Utf16 => "events-utf16.txt",
            Self::Binary => "state.bin",
            Self::Base64 => "payload.b64",
        }
    }

    /// Text attachments are served by `.../text`, the rest by location.
    pub fn is_text(self) -> bool {
        matches!(self, Self::Text | Self::Base64)
    }
}

/// One error, fully determined.
#[derive(Debug, Clone)]
pub struct ErrorRecord {
    /// App index.
    pub app: usize,
    /// Index within the app.
    pub index: u64,
    /// API error id `"{number}-{guid}"`.
    pub error_id: String,
    /// SDK id (the GUID).
    pub sdk_id: String,
    /// Group index.
    pub group: u64,
    /// Group id.
    pub group_id: String,
    /// Crash (unhandled) or handled error.
    pub fatal: bool,
    /// When it happened.
    pub timestamp: Timestamp,
    /// Install id.
    pub install_id: String,
    /// `userId`, possibly empty.
    pub user_id: String,
    /// Who it belongs to.
    pub owner: Owner,
    /// Where the subject's data is (empty unless `Owner::Subject`).
    pub placements: Vec<Placement>,
    /// Attachments, in order.
    pub attachments: Vec<(String, AttachmentKind)>,
    /// Number of session logs.
    pub session_log_count: u32,
    h: u64,
}

const EXCEPTIONS: [(&str, &str, &str, &str); 6] = [
    (
        "java.lang.NullPointerException",
        "Attempt to invoke virtual method 'int java.lang.String.length()' on a null object reference",
        "com.contoso.app.LoginActivity",
        "onResume",
    ),
    (
        "java.lang.IllegalStateException",
        "Fragment not attached to a context",
        "com.contoso.app.ui.CartFragment",
        "onViewCreated",
    ),
    (
        "System.InvalidOperationException",
        "Sequence contains no elements",
        "Contoso.App.Sync.SyncService",
        "PullChanges",
    ),
    (
        "java.net.SocketTimeoutException",
        "timeout after 15000ms",
        "com.contoso.net.ApiClient",
        "execute",
    ),
    (
        "NSInvalidArgumentException",
        "-[__NSCFNumber length]: unrecognized selector sent to instance",
        "CTSProfileViewController",
        "viewDidLoad",
    ),
    (
        "System.IO.IOException",
        "Disk full while writing cache",
        "Contoso.App.Storage.Cache",
        "Flush",
    ),
];

const MODELS: [(&str, &str, &str); 5] = [
    ("Pixel 7", "Google", "Android"),
    ("SM-G991B", "samsung", "Android"),
    ("iPhone14,5", "Apple", "iOS"),
    ("Redmi Note 11", "Xiaomi", "Android"),
    ("iPad13,1", "Apple", "iOS"),
];

const FIRST: [&str; 8] = [
    "jane", "omar", "li", "ana", "kofi", "maria", "noah", "sofia",
];
const LAST: [&str; 8] = [
    "doe", "haddad", "wei", "silva", "mensah", "garcia", "berg", "rossi",
];

/// splitmix64.
pub(crate) fn mix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

pub(crate) fn guid(h: u64) -> String {
    let a = mix(h);
    let b = mix(a);
    format!(
        "{:08x}-{:04x}-4{:03x}-{:04x}-{:012x}",
        (a >> 32) as u32,
        (a >> 16) as u16,
        (a & 0x0fff) as u16,
        0x8000 | ((b >> 48) as u16 & 0x3fff),
        b & 0xffff_ffff_ffff
    )
}

const GROUP_MOD: u64 = 9_000_000_000;
const GROUP_MUL: u64 = 2_654_435_761;
const ERROR_MOD: u64 = 1_000_000_000_000_000;
const ERROR_BASE: u64 = 2_517_000_000_000_000_000;

fn mod_inverse(a: u64, m: u64) -> u64 {
    let (mut t, mut new_t, mut r, mut new_r) = (0i128, 1i128, m as i128, a as i128);
    while new_r != 0 {
        let q = r / new_r;
        (t, new_t) = (new_t, t - q * new_t);
        (r, new_r) = (new_r, r - q * new_r);
    }
    (t.rem_euclid(m as i128)) as u64
}

fn mulmod(a: u64, b: u64, m: u64) -> u64 {
    ((a as u128 * b as u128) % m as u128) as u64
}

/// The dataset. Cheap to share; everything is computed on demand.
#[derive(Debug, Clone)]
pub struct Dataset {
    cfg: DatasetConfig,
    subjects: Vec<Subject>,
    app_ids: Vec<String>,
    period: u64,
    group_inv: u64,
    error_inv: u64,
}

impl Dataset {
    /// Builds the dataset for `cfg`.
    pub fn new(cfg: DatasetConfig) -> Self {
        let seed = cfg.seed;
        let subjects = (0..5).map(|s| make_subject(seed, s)).collect::<Vec<_>>();
        let app_ids = (0..cfg.apps.len())
            .map(|a| guid(mix(seed ^ 0xA11 ^ (a as u64) << 8)))
            .collect();
        let k = subjects.len() as u64;
        let period = (cfg.errors_per_app / 3).clamp(3 * k + 1, 2000);
        Self {
            cfg,
            subjects,
            app_ids,
            period,
            group_inv: mod_inverse(GROUP_MUL, GROUP_MOD),
            error_inv: mod_inverse(GROUP_MUL, ERROR_MOD),
        }
    }

    /// The configuration.
    pub fn config(&self) -> &DatasetConfig {
        &self.cfg
    }

    /// The subjects.
    pub fn subjects(&self) -> &[Subject] {
        &self.subjects
    }

    /// Index of `owner/app`, if served.
    pub fn app_index(&self, owner: &str, app: &str) -> Option<usize> {
        self.cfg
            .apps
            .iter()
            .position(|(o, a)| o == owner && a == app)
    }

    /// The app's UUID.
    pub fn app_id(&self, a: usize) -> &str {
        &self.app_ids[a]
    }

    /// The app model.
    pub fn app(&self, a: usize) -> App {
        let (owner, name) = &self.cfg.apps[a];
        App {
            id: self.app_ids[a].clone(),
            app_secret: guid(mix(self.cfg.seed ^ 0x5EC ^ a as u64)),
            name: name.clone(),
            display_name: name.replace('-', " "),
            os: "Android".into(),
            platform: "Java".into(),
            origin: "appcenter".into(),
            owner: AppOwner {
                id: guid(mix(self.cfg.seed ^ 0x0FF ^ a as u64)),
                display_name: owner.clone(),
                name: owner.clone(),
                kind: "org".into(),
                email: None,
            },
            description: Some("Synthetic app served by the crashdsr emulator".into()),
            created_at: Some(Timestamp(self.cfg.now - Duration::days(365)).to_string()),
        }
    }

    fn h(&self, a: usize, i: u64, salt: u64) -> u64 {
        mix(mix(self.cfg.seed ^ salt.wrapping_mul(0x1000_0000_01B3)) ^ mix((a as u64) << 40 ^ i))
    }

    /// Number of groups per app.
    pub fn group_count(&self) -> u64 {
        self.cfg.errors_per_app.div_ceil(self.cfg.errors_per_group)
    }

    /// Index range of a group's errors.
    pub fn group_range(&self, g: u64) -> std::ops::Range<u64> {
        let start = g * self.cfg.errors_per_group;
        start..(start + self.cfg.errors_per_group).min(self.cfg.errors_per_app)
    }

    fn group_is_crash(&self, a: usize, g: u64) -> bool {
        !self.h(a, g, 11).is_multiple_of(4)
    }

    /// The id of group `g`.
    pub fn group_id(&self, a: usize, g: u64) -> String {
        let n = 1_000_000_000
            + (mulmod(g, GROUP_MUL, GROUP_MOD) + self.cfg.seed % GROUP_MOD) % GROUP_MOD;
        if self.group_is_crash(a, g) {
            format!("{n}u")
        } else {
            n.to_string()
        }
    }

    /// The group index of an id, if it is one of this app's.
    pub fn parse_group_id(&self, a: usize, id: &str) -> Option<u64> {
        let digits = id.strip_suffix('u').unwrap_or(id);
        let n: u64 = digits.parse().ok()?;
        let x = n.checked_sub(1_000_000_000)?;
        let g = mulmod(
            (x + GROUP_MOD - self.cfg.seed % GROUP_MOD) % GROUP_MOD,
            self.group_inv,
            GROUP_MOD,
        );
        (g < self.group_count() && self.group_id(a, g) == id).then_some(g)
    }

    fn error_number(&self, a: usize, i: u64) -> u64 {
        ERROR_BASE
            + (mulmod(i, GROUP_MUL, ERROR_MOD) + (self.cfg.seed + a as u64) % ERROR_MOD) % ERROR_MOD
    }

    /// The index of an error id, if it is one of this app's.
    pub fn parse_error_id(&self, a: usize, id: &str) -> Option<u64> {
        let (num, _) = id.split_once('-')?;
        let n: u64 = num.parse().ok()?;
        let x = n.checked_sub(ERROR_BASE)?;
        let off = (self.cfg.seed + a as u64) % ERROR_MOD;
        let i = mulmod((x + ERROR_MOD - off) % ERROR_MOD, self.error_inv, ERROR_MOD);
        (i < self.cfg.errors_per_app && self.error_id(a, i) == id).then_some(i)
    }

    /// The API id of error `i`.
    pub fn error_id(&self, a: usize, i: u64) -> String {
        format!("{}-{}", self.error_number(a, i), guid(self.h(a, i, 1)))
    }

    /// Who error `i` belongs to.
    pub fn owner(&self, a: usize, i: u64) -> Owner {
        let k = self.subjects.len() as u64;
        let r = self.h(a, i, 2) % self.period;
        match r {
            r if r < k => Owner::Subject(r as usize),
            r if r < 2 * k => Owner::Linked((r - k) as usize),
            r if r < 3 * k => Owner::Decoy((r - 2 * k) as usize),
            _ => Owner::Background,
        }
    }

    /// When error `i` happened: spread evenly over the span, newest first.
    pub fn error_time(&self, i: u64) -> Timestamp {
        let span_ms = i64::from(self.cfg.span_days) * 86_400_000;
        let n = self.cfg.errors_per_app.max(1) as i64;
        let offset = (span_ms as i128 * (2 * i as i128 + 1) / (2 * n as i128)) as i64;
        Timestamp::from_unix_millis(self.cfg.now.timestamp_millis() - offset)
    }

    /// The full record of error `i` of app `a`.
    pub fn error(&self, a: usize, i: u64) -> ErrorRecord {
        let h = self.h(a, i, 3);
        let owner = self.owner(a, i);
        let g = i / self.cfg.errors_per_group;
        let mut placements = Vec::new();
        let (install_id, user_id) = match owner {
            Owner::Subject(s) => {
                let subj = &self.subjects[s];
                let first = Placement::ALL[(h % 12) as usize];
                let second = Placement::ALL[((h >> 8) % 12) as usize];
                placements.push(first);
                if (h >> 16).is_multiple_of(3) && second != first {
                    placements.push(second);
                }
                if subj.user_id_is_short() {
                    // Too short for free text: it only ever shows in the
                    // typed field, so the subject must be found there.
                    placements.retain(|p| *p != Placement::FramePath);
                    if !placements.contains(&Placement::UserIdEmail) {
                        placements.push(Placement::UserId);
                    }
                }
                placements.sort();
                placements.dedup();
                if placements.contains(&Placement::UserId)
                    && placements.contains(&Placement::UserIdEmail)
                {
                    placements.retain(|p| *p != Placement::UserIdEmail);
                }
                let user = if placements.contains(&Placement::UserId) {
                    subj.user_id.clone()
                } else if placements.contains(&Placement::UserIdEmail) {
                    subj.email.clone()
                } else {
                    String::new()
                };
                (subj.installs[((h >> 24) % 2) as usize].clone(), user)
            }
            Owner::Linked(s) => (
                self.subjects[s].installs[((h >> 24) % 2) as usize].clone(),
                String::new(),
            ),
            Owner::Decoy(s) => {
                let subj = &self.subjects[s];
                let user = match (h >> 4) % 3 {
                    0 => subj.user_id_decoy.clone(),
                    1 => subj.email_decoys[0].clone(),
                    _ => String::new(),
                };
                (guid(self.h(a, i, 4)), user)
            }
            Owner::Background => {
                let user = match (h >> 4) % 4 {
                    0 => String::new(),
                    1 => format!("u{:08x}", (h >> 20) as u32),
                    2 => format!("player-{:06x}", (h >> 32) & 0xff_ffff),
                    _ => format!(
                        "{}.{}{}@mail.example",
                        FIRST[(h >> 40) as usize % 8],
                        LAST[(h >> 44) as usize % 8],
                        (h >> 48) % 97 + 100
                    ),
                };
                // A small pool of installs, so background crashes share them too.
                (
                    guid(self.h(a, (h >> 8) % (self.cfg.errors_per_app / 4 + 1), 5)),
                    user,
                )
            }
        };
        let mut attachments: Vec<(String, AttachmentKind)> = Vec::new();
        let n_plain = (h >> 52) % 3;
        for k in 0..n_plain {
            let kind = if k == 0 {
                AttachmentKind::Text
            } else {
                AttachmentKind::Binary
            };
            attachments.push((guid(self.h(a, i, 100 + k)), kind));
        }
        for p in &placements {
            if let Some(kind) = p.attachment_kind() {
                let k = attachments.len() as u64;
                attachments.push((guid(self.h(a, i, 100 + k)), kind));
            }
        }
        if matches!(owner, Owner::Decoy(_)) && (h >> 6).is_multiple_of(2) {
            let k = attachments.len() as u64;
            attachments.push((guid(self.h(a, i, 100 + k)), AttachmentKind::Text));
        }
        let session_log_count = if i % 97 == 13 {
            230
        } else {
            3 + ((h >> 56) % 6) as u32
        };
        ErrorRecord {
            app: a,
            index: i,
            error_id: self.error_id(a, i),
            sdk_id: self
                .error_id(a, i)
                .split_once('-')
                .map(|(_, g)| g.to_owned())
                .unwrap_or_default(),
            group: g,
            group_id: self.group_id(a, g),
            fatal: self.group_is_crash(a, g),
            timestamp: self.error_time(i),
            install_id,
            user_id,
            owner,
            placements,
            attachments,
            session_log_count,
            h,
        }
    }

    fn device(&self, e: &ErrorRecord) -> (&'static str, &'static str, &'static str) {
        // One device per install.
        MODELS[(mix(e.install_id.len() as u64 ^ fxhash(&e.install_id)) % 5) as usize]
    }

    fn exception_of_group(
        &self,
        a: usize,
        g: u64,
    ) -> (&'static str, &'static str, &'static str, &'static str) {
        EXCEPTIONS[(self.h(a, g, 12) % EXCEPTIONS.len() as u64) as usize]
    }

    /// The exception message of error `e` (holds the e-mail for
    /// [`Placement::Message`], a near miss for some decoys).
    pub fn message(&self, e: &ErrorRecord) -> String {
        let (_, base, _, _) = self.exception_of_group(e.app, e.group);
        match e.owner {
            Owner::Subject(s) if e.placements.contains(&Placement::Message) => {
                format!("Login failed for {}: {base}", self.subjects[s].email)
            }
            Owner::Decoy(s) if (e.h >> 10).is_multiple_of(2) => {
                format!(
                    "Login failed for {}: {base}",
                    self.subjects[s].email_decoys[((e.h >> 11) % 2) as usize]
                )
            }
            _ => base.to_owned(),
        }
    }

    fn frames(&self, e: &ErrorRecord) -> Vec<LogStackFrame> {
        let (_, _, class, method) = self.exception_of_group(e.app, e.group);
        let line = 20 + (self.h(e.app, e.group, 13) % 900) as i64;
        let mut frames = vec![
            LogStackFrame {
                class_name: Some(class.into()),
                method_name: Some(method.into()),
                line_number: Some(line),
                file_name: Some(format!(
                    "{}.java",
                    class.rsplit('.').next().unwrap_or(class)
                )),
            },
            LogStackFrame {
                class_name: Some("android.app.Activity".into()),
                method_name: Some("performResume".into()),
                line_number: Some(8546),
                file_name: Some("Activity.java".into()),
            },
        ];
        match e.owner {
            Owner::Subject(s) if e.placements.contains(&Placement::FramePath) => {
                frames.push(LogStackFrame {
                    class_name: Some("com.contoso.app.db.Store".into()),
                    method_name: Some("open".into()),
                    line_number: Some(41),
                    file_name: Some(format!(
                        "/data/user/0/com.contoso.app/files/users/{}/store.db",
                        self.subjects[s].user_id
                    )),
                });
            }
            Owner::Decoy(s) if (e.h >> 12).is_multiple_of(3) => {
                frames.push(LogStackFrame {
                    class_name: Some("com.contoso.app.db.Store".into()),
                    method_name: Some("open".into()),
                    line_number: Some(41),
                    file_name: Some(format!(
                        "/data/user/0/com.contoso.app/files/users/{}/store.db",
                        self.subjects[s].user_id_decoy
                    )),
                });
            }
            _ => {}
        }
        frames
    }

    /// Handled-error properties of `e`.
    pub fn properties(&self, e: &ErrorRecord) -> BTreeMap<String, String> {
        let mut p = BTreeMap::new();
        if !e.fatal {
            p.insert(
                "screen".into(),
                ["login", "cart", "profile", "sync"][(e.h >> 14) as usize % 4].into(),
            );
        }
        if let Owner::Subject(s) = e.owner {
            let subj = &self.subjects[s];
            if e.placements.contains(&Placement::PropertyEmail) {
                p.insert("email_address".into(), subj.email.clone());
            }
            if e.placements.contains(&Placement::PropertyPhone) {
                p.insert("phone_number".into(), subj.phone.clone());
            }
        }
        if let Owner::Decoy(s) = e.owner
            && (e.h >> 15).is_multiple_of(2)
        {
            p.insert(
                "email_address".into(),
                self.subjects[s].email_decoys[1].clone(),
            );
        }
        p
    }

    /// `HandledError` of a list.
    pub fn summary(&self, e: &ErrorRecord) -> ErrorSummary {
        let (model, _, os) = self.device(e);
        ErrorSummary {
            error_id: e.error_id.clone(),
            timestamp: Some(e.timestamp),
            device_name: Some(model.into()),
            os_version: Some(if os == "iOS" {
                "17.4".into()
            } else {
                "14".into()
            }),
            os_type: Some(os.into()),
            country: Some(["DE", "GB", "US", "BR", "GH"][(e.h >> 18) as usize % 5].into()),
            language: Some(["de", "en", "en", "pt", "en"][(e.h >> 18) as usize % 5].into()),
            user_id: Some(e.user_id.clone()),
            error_group_id: None,
            has_breadcrumbs: Some(e.session_log_count > 0),
            has_attachments: Some(!e.attachments.is_empty()),
        }
    }

    /// `HandledErrorDetails`.
    pub fn details(&self, e: &ErrorRecord) -> ErrorDetails {
        let (kind, _, class, method) = self.exception_of_group(e.app, e.group);
        let f = &self.frames(e)[0];
        ErrorDetails {
            summary: self.summary(e),
            name: Some(kind.into()),
            reason_frames: vec![ReasonFrame {
                class_name: Some(class.into()),
                method: Some(method.into()),
                class_method: Some(true),
                file: f.file_name.clone(),
                line: f.line_number,
                app_code: Some(true),
                code_raw: Some(format!(
                    "{class}.{method}({}:{})",
                    f.file_name.as_deref().unwrap_or(""),
                    f.line_number.unwrap_or(0)
                )),
                language: Some("Java".into()),
                exception_type: Some(kind.into()),
                ..Default::default()
            }],
            app_launch_timestamp: Some(Timestamp::from_unix_millis(
                e.timestamp.unix_millis() - 600_000,
            )),
            carrier_name: Some("Telekom".into()),
            jailbreak: Some(false),
            properties: self.properties(e),
        }
    }

    fn api_frame(f: &LogStackFrame) -> StackFrame {
        let class = f.class_name.clone().unwrap_or_default();
        let method = f.method_name.clone().unwrap_or_default();
        let file = f.file_name.clone().unwrap_or_default();
        let line = f.line_number.unwrap_or(0);
        StackFrame {
            class_name: Some(class.clone()),
            method: Some(method.clone()),
            class_method: Some(true),
            file: Some(file.clone()),
            line: Some(line),
            app_code: class.starts_with("com.contoso") || class.starts_with("Contoso"),
            code_raw: format!("{class}.{method}({file}:{line})"),
            code_formatted: format!(
                "{}.{method} ({file}:{line})",
                class.rsplit('.').next().unwrap_or(&class)
            ),
            language: Some("Java".into()),
            relevant: Some(true),
            ..Default::default()
        }
    }

    /// The error's own stack trace (the message may hold personal data).
    pub fn error_stacktrace(&self, e: &ErrorRecord) -> StackTrace {
        let (kind, _, _, _) = self.exception_of_group(e.app, e.group);
        let frames: Vec<StackFrame> = self.frames(e).iter().map(Self::api_frame).collect();
        let exception = StackException {
            reason: Some(self.message(e)),
            kind: Some(kind.into()),
            frames: frames.clone(),
            relevant: Some(true),
            platform: Some("android".into()),
        };
        StackTrace {
            title: Some(kind.into()),
            reason: Some(self.message(e)),
            threads: vec![StackThread {
                title: "main".into(),
                frames,
                exception: None,
                relevant: Some(true),
                platform: Some("android".into()),
                crashed: Some(e.fatal),
            }],
            exception: Some(exception),
        }
    }

    /// The group's stack trace (no personal data: shared by many users).
    pub fn group_stacktrace(&self, a: usize, g: u64) -> StackTrace {
        let (kind, message, class, method) = self.exception_of_group(a, g);
        let line = 20 + (self.h(a, g, 13) % 900) as i64;
        let frame = Self::api_frame(&LogStackFrame {
            class_name: Some(class.into()),
            method_name: Some(method.into()),
            line_number: Some(line),
            file_name: Some(format!(
                "{}.java",
                class.rsplit('.').next().unwrap_or(class)
            )),
        });
        StackTrace {
            title: Some(kind.into()),
            reason: Some(message.into()),
            threads: vec![StackThread {
                title: "main".into(),
                frames: vec![frame.clone()],
                relevant: Some(true),
                platform: Some("android".into()),
                crashed: Some(self.group_is_crash(a, g)),
                exception: None,
            }],
            exception: Some(StackException {
                reason: Some(message.into()),
                kind: Some(kind.into()),
                frames: vec![frame],
                relevant: Some(true),
                platform: Some("android".into()),
            }),
        }
    }

    /// The group model (counts over the errors visible in `retention` days,
    /// `None` when none is).
    pub fn group(&self, a: usize, g: u64, visible: impl Fn(u64) -> bool) -> Option<ErrorGroup> {
        let range = self.group_range(g);
        let idx: Vec<u64> = range.filter(|i| visible(*i)).collect();
        let (newest, oldest) = (*idx.first()?, *idx.last()?);
        let (kind, message, class, method) = self.exception_of_group(a, g);
        let line = 20 + (self.h(a, g, 13) % 900) as i64;
        let file = format!("{}.java", class.rsplit('.').next().unwrap_or(class));
        Some(ErrorGroup {
            error_group_id: self.group_id(a, g),
            state: ErrorGroupState::Open,
            annotation: Some(String::new()),
            app_version: format!("1.{}.0", 4 + g % 3),
            app_build: Some(format!("{}", 140 + g % 3)),
            count: idx.len() as i64,
            device_count: idx.len().div_ceil(2) as i64,
            first_occurrence: self.error_time(oldest),
            last_occurrence: self.error_time(newest),
            exception_type: Some(kind.into()),
            exception_message: Some(message.into()),
            exception_class_name: Some(class.into()),
            exception_method: Some(method.into()),
            exception_file: Some(file.clone()),
            exception_line: Some(line.to_string()),
            exception_app_code: Some(true),
            code_raw: Some(format!("{class}.{method}({file}:{line})")),
            reason_frames: vec![ReasonFrame {
                class_name: Some(class.into()),
                method: Some(method.into()),
                class_method: Some(true),
                file: Some(file),
                line: Some(line),
                app_code: Some(true),
                language: Some("Java".into()),
                exception_type: Some(kind.into()),
                ..Default::default()
            }],
            hidden: Some(false),
        })
    }

    fn sdk_device(&self, e: &ErrorRecord) -> Device {
        let (model, oem, os) = self.device(e);
        Device {
            sdk_name: if os == "iOS" {
                "appcenter.ios".into()
            } else {
                "appcenter.android".into()
            },
            sdk_version: "5.0.4".into(),
            model: Some(model.into()),
            oem_name: Some(oem.into()),
            os_name: os.into(),
            os_version: if os == "iOS" {
                "17.4".into()
            } else {
                "14".into()
            },
            os_api_level: (os != "iOS").then_some(34),
            locale: "en_GB".into(),
            time_zone_offset: 60,
            screen_size: Some("1080x2400".into()),
            app_version: "1.4.0".into(),
            app_build: "140".into(),
            app_namespace: Some("com.contoso.app".into()),
            carrier_name: Some("Telekom".into()),
            carrier_country: Some("de".into()),
        }
    }

    /// The full crash log (`download?format=json`, export `crashes/`).
    pub fn crash_log(&self, e: &ErrorRecord) -> CrashLog {
        let (kind, _, _, _) = self.exception_of_group(e.app, e.group);
        let frames = self.frames(e);
        CrashLog {
            kind: if e.fatal {
                "managedError".into()
            } else {
                "handledError".into()
            },
            id: e.sdk_id.clone(),
            error_id: e.error_id.clone(),
            error_group_id: e.group_id.clone(),
            app_id: self.app_ids[e.app].clone(),
            install_id: e.install_id.clone(),
            timestamp: e.timestamp,
            app_launch_timestamp: Some(Timestamp::from_unix_millis(
                e.timestamp.unix_millis() - 600_000,
            )),
            sid: Some(guid(e.h ^ 0x51D)),
            user_id: (!e.user_id.is_empty()).then(|| e.user_id.clone()),
            process_id: Some(1000 + (e.h % 9000) as i64),
            process_name: Some("com.contoso.app".into()),
            fatal: e.fatal,
            error_thread_id: Some(1),
            error_thread_name: Some("main".into()),
            device: self.sdk_device(e),
            exception: LogException {
                kind: kind.into(),
                message: Some(self.message(e)),
                stack_trace: None,
                frames: frames.clone(),
                inner_exceptions: vec![],
            },
            threads: vec![LogThread {
                id: 1,
                name: Some("main".into()),
                frames,
            }],
            properties: self.properties(e),
        }
    }

    /// `download?format=txt`.
    pub fn crash_text(&self, e: &ErrorRecord) -> String {
        let log = self.crash_log(e);
        let mut s = format!(
            "Error ID: {}\nGroup: {}\nDate: {}\nInstall: {}\nUser: {}\nDevice: {} {}\n\n{}: {}\n",
            log.error_id,
            log.error_group_id,
            log.timestamp,
            log.install_id,
            log.user_id.as_deref().unwrap_or(""),
            log.device.model.as_deref().unwrap_or(""),
            log.device.os_version,
            log.exception.kind,
            log.exception.message.as_deref().unwrap_or("")
        );
        for f in &log.exception.frames {
            s.push_str(&format!(
                "  at {}.{}({}:{})\n",
                f.class_name.as_deref().unwrap_or(""),
                f.method_name.as_deref().unwrap_or(""),
                f.file_name.as_deref().unwrap_or(""),
                f.line_number.unwrap_or(0)
            ));
        }
        for (k, v) in &log.properties {
            s.push_str(&format!("{k} = {v}\n"));
        }
        s
    }

    /// Session log `k` of error `e` (oldest first, unique timestamps,
    /// all before the error).
    pub fn session_log(&self, e: &ErrorRecord, k: u32) -> SessionLog {
        let n = e.session_log_count;
        let ts = Timestamp::from_unix_millis(e.timestamp.unix_millis() - i64::from(n - k) * 1500);
        let (model, oem, os) = self.device(e);
        let names = [
            "screen_view",
            "add_to_cart",
            "login",
            "sync_started",
            "settings_opened",
        ];
        let (kind, name, mut props) = if k == 0 {
            (SessionLogType::StartSession, None, BTreeMap::new())
        } else {
            let name = names[(mix(e.h ^ u64::from(k)) % 5) as usize];
            let mut p = BTreeMap::new();
            p.insert("step".to_owned(), k.to_string());
            (SessionLogType::Event, Some(name.to_owned()), p)
        };
        if let Owner::Subject(s) = e.owner
            && k == n - 1
            && e.placements.contains(&Placement::SessionLog)
        {
            props.insert("account".into(), self.subjects[s].email.clone());
        }
        SessionLog {
            kind,
            timestamp: ts,
            install_id: e.install_id.clone(),
            session_id: Some(guid(e.h ^ 0x51D)),
            event_id: name.as_ref().map(|_| guid(e.h ^ u64::from(k) << 20)),
            event_name: name,
            message_id: Some(guid(e.h ^ u64::from(k) << 32 ^ 0x3E55)),
            properties: props,
            device: LogDevice {
                sdk_name: if os == "iOS" {
                    "appcenter.ios".into()
                } else {
                    "appcenter.android".into()
                },
                sdk_version: "5.0.4".into(),
                model: Some(model.into()),
                oem_name: Some(oem.into()),
                os_name: os.into(),
                os_version: if os == "iOS" {
                    "17.4".into()
                } else {
                    "14".into()
                },
                os_api_level: (os != "iOS").then_some(34),
                locale: "en_GB".into(),
                time_zone_offset: 60,
                screen_size: Some("1080x2400".into()),
                app_version: "1.4.0".into(),
                app_build: "140".into(),
                carrier_name: None,
                carrier_country: None,
                app_namespace: Some("com.contoso.app".into()),
            },
            auth_provider: None,
            account_id: None,
        }
    }

    /// Attachment metadata.
    pub fn attachment(&self, e: &ErrorRecord, k: usize) -> ErrorAttachment {
        let (id, kind) = &e.attachments[k];
        ErrorAttachment {
            app_id: Some(self.app_ids[e.app].clone()),
            attachment_id: id.clone(),
            crash_id: Some(e.sdk_id.clone()),
            blob_location: None,
            content_type: Some(kind.content_type().into()),
            file_name: Some(kind.file_name().into()),
            created_time: Some(e.timestamp),
            size: Some(self.attachment_bytes(e, k).len() as i64),
        }
    }

    /// The bytes of attachment `k`, as uploaded.
    pub fn attachment_bytes(&self, e: &ErrorRecord, k: usize) -> Vec<u8> {
        let (_, kind) = e.attachments[k];
        let nth_placed = e.attachments[..k]
            .iter()
            .filter(|(_, kk)| *kk == kind)
            .count();
        // The subject's data goes into the attachment its placement added
        // (the last of that kind); plain ones and decoys get other text.
        let placed = match e.owner {
            Owner::Subject(s) => e
                .placements
                .iter()
                .any(|p| p.attachment_kind() == Some(kind))
                .then(|| {
                    let last_of_kind =
                        e.attachments.iter().filter(|(_, kk)| *kk == kind).count() - 1;
                    (nth_placed == last_of_kind).then_some(&self.subjects[s])
                })
                .flatten(),
            _ => None,
        };
        let body = match (placed, e.owner) {
            (Some(subj), _) => format!(
                "12:00:01 INFO session restored\n12:00:02 INFO signed in as {} <{}>\n12:00:03 WARN cache miss\n",
                subj.name, subj.email
            ),
            (None, Owner::Decoy(s))
                if kind == AttachmentKind::Text && k + 1 == e.attachments.len() =>
            {
                format!(
                    "12:00:01 INFO signed in as {}\n12:00:02 INFO user {}\n",
                    self.subjects[s].email_decoys[(e.h >> 7) as usize % 2],
                    self.subjects[s].user_id_decoy
                )
            }
            _ => format!(
                "12:00:01 INFO app start\n12:00:02 DEBUG build 140 seed {:x}\n12:00:03 INFO request {} ok\n",
                e.h >> 8,
                k
            ),
        };
        let mut body = body;
        if matches!(kind, AttachmentKind::Text | AttachmentKind::Binary)
            && self.cfg.attachment_padding > 0
        {
            let mut n = 0u64;
            while body.len() < self.cfg.attachment_padding {
                n += 1;
                body.push_str(&format!(
                    "12:00:04 DEBUG render frame {n} took {} ms\n",
                    mix(e.h ^ n) % 40
                ));
            }
        }
        match kind {
            AttachmentKind::Text => body.into_bytes(),
            AttachmentKind::Gzip => {
                let mut enc =
                    flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
                enc.write_all(body.as_bytes()).expect("writing to a Vec");
                enc.finish().expect("writing to a Vec")
            }
            AttachmentKind::Utf16 => {
                let mut out = vec![0xFF, 0xFE];
                for u in body.encode_utf16() {
                    out.extend_from_slice(&u.to_le_bytes());
                }
                out
            }
            AttachmentKind::Binary => {
                let mut out = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR".to_vec();
                let mut x = e.h ^ k as u64;
                for _ in 0..64 {
                    x = mix(x);
                    out.push((x & 0xff) as u8);
                }
                out.extend_from_slice(b"\0tEXt\0");
                out.extend_from_slice(body.as_bytes());
                out.push(0);
                for _ in 0..32 {
                    x = mix(x);
                    out.push((x & 0xff) as u8);
                }
                out
            }
            AttachmentKind::Base64 => {
                let json = serde_json::json!({ "log": body }).to_string();
                base64::engine::general_purpose::STANDARD
                    .encode(json)
                    .into_bytes()
            }
        }
    }

    /// The ground truth over every app, streamed error by error.
    pub fn truth(&self) -> Truth {
        let mut direct: Vec<Vec<TruthDirect>> = vec![Vec::new(); self.subjects.len()];
        let mut installs: Vec<BTreeSet<(usize, String)>> =
            vec![BTreeSet::new(); self.subjects.len()];
        for a in 0..self.cfg.apps.len() {
            for i in 0..self.cfg.errors_per_app {
                if let Owner::Subject(s) = self.owner(a, i) {
                    let e = self.error(a, i);
                    installs[s].insert((a, e.install_id.clone()));
                    direct[s].push(TruthDirect {
                        app: self.app_name(a),
                        error_id: e.error_id.clone(),
                        r#where: e
                            .placements
                            .iter()
                            .map(|p| p.describe().to_owned())
                            .collect(),
                    });
                }
            }
        }
        let mut linked: Vec<Vec<TruthLinked>> = vec![Vec::new(); self.subjects.len()];
        for a in 0..self.cfg.apps.len() {
            for i in 0..self.cfg.errors_per_app {
                if let Owner::Linked(s) = self.owner(a, i) {
                    let e = self.error(a, i);
                    if installs[s].contains(&(a, e.install_id.clone())) {
                        linked[s].push(TruthLinked {
                            app: self.app_name(a),
                            error_id: e.error_id,
                            install_id: e.install_id,
                        });
                    }
                }
            }
        }
        Truth {
            subjects: self
                .subjects
                .iter()
                .zip(direct.into_iter().zip(linked))
                .map(|(s, (direct, linked))| TruthSubject {
                    label: s.label.clone(),
                    identifiers: s.identifiers(),
                    direct,
                    linked,
                })
                .collect(),
        }
    }

    /// `OWNER/APP` of app `a`.
    pub fn app_name(&self, a: usize) -> String {
        let (o, n) = &self.cfg.apps[a];
        format!("{o}/{n}")
    }
}

fn fxhash(s: &str) -> u64 {
    s.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
    })
}

fn make_subject(seed: u64, s: usize) -> Subject {
    let h = mix(seed ^ 0x5B1 ^ (s as u64) << 16);
    let (first, last) = (FIRST[s], LAST[s]);
    let email = match s {
        3 => format!("{first}@example.com"),
        _ => format!("{first}.{last}@example.com"),
    };
    let user_id = match s {
        1 => "user-12".to_owned(),
        2 => "42".to_owned(),
        _ => (20_000 + h % 79_000).to_string(),
    };
    let user_id_decoy = match s {
        1 => "user-123".to_owned(),
        2 => "420".to_owned(),
        _ => format!("{user_id}7"),
    };
    Subject {
        label: first.to_owned(),
        email_decoys: [format!("x{email}"), format!("{email}.au")],
        email,
        user_id,
        phone: format!("+44 7700 9{:05}", h % 100_000),
        name: format!(
            "{}{} {}{}",
            &first[..1].to_uppercase(),
            &first[1..],
            &last[..1].to_uppercase(),
            &last[1..]
        ),
        installs: [guid(h ^ 0x1), guid(h ^ 0x2)],
        user_id_decoy,
    }
}

/// The ground truth file (`--truth FILE`).
#[derive(Debug, Clone, Serialize, serde::Deserialize, PartialEq)]
pub struct Truth {
    /// One entry per subject.
    pub subjects: Vec<TruthSubject>,
}

/// A subject in the truth.
#[derive(Debug, Clone, Serialize, serde::Deserialize, PartialEq)]
pub struct TruthSubject {
    /// Label.
    pub label: String,
    /// Identifiers a request names.
    pub identifiers: Vec<Identifier>,
    /// Errors that hold the identifiers, with where.
    pub direct: Vec<TruthDirect>,
    /// Errors linked only through an install id.
    pub linked: Vec<TruthLinked>,
}

impl TruthSubject {
    /// The identifiers as `TYPE=VALUE`, as `--subject` takes them.
    pub fn specs(&self) -> Vec<String> {
        self.identifiers
            .iter()
            .map(|i| format!("{}={}", i.kind, i.value))
            .collect()
    }
}

/// A direct hit.
#[derive(Debug, Clone, Serialize, serde::Deserialize, PartialEq)]
pub struct TruthDirect {
    /// `OWNER/APP`.
    pub app: String,
    /// Error id.
    pub error_id: String,
    /// Places.
    pub r#where: Vec<String>,
}

/// A linked error.
#[derive(Debug, Clone, Serialize, serde::Deserialize, PartialEq)]
pub struct TruthLinked {
    /// `OWNER/APP`.
    pub app: String,
    /// Error id.
    pub error_id: String,
    /// The install id that links it.
    pub install_id: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ds(n: u64) -> Dataset {
        let mut c = DatasetConfig::new(7);
        c.errors_per_app = n;
        c.apps.push(("contoso".into(), "other-app".into()));
        Dataset::new(c)
    }

    #[test]
    fn ids_round_trip_and_are_unique() {
        let d = ds(5000);
        let mut seen = std::collections::HashSet::new();
        for a in 0..2 {
            for i in (0..5000).step_by(7) {
                let id = d.error_id(a, i);
                assert_eq!(d.parse_error_id(a, &id), Some(i));
                assert!(seen.insert(id));
            }
            for g in 0..d.group_count() {
                let id = d.group_id(a, g);
                assert_eq!(d.parse_group_id(a, &id), Some(g), "{id}");
            }
        }
        assert_eq!(
            d.parse_error_id(
                0,
                "2517000000000000001-00000000-0000-4000-8000-000000000000"
            ),
            None
        );
        assert_eq!(d.parse_group_id(0, "12"), None);
        let e = d.error(0, 3);
        let (num, guid) = e.error_id.split_once('-').unwrap();
        assert_eq!(num.len(), 19);
        assert_eq!(guid.len(), 36);
    }

    #[test]
    fn same_seed_same_data_other_seed_other_data() {
        let (a, b) = (ds(300), ds(300));
        assert_eq!(
            format!("{:?}", a.crash_log(&a.error(0, 17))),
            format!("{:?}", b.crash_log(&b.error(0, 17)))
        );
        let mut c = a.config().clone();
        c.seed = 8;
        let c = Dataset::new(c);
        assert_ne!(a.error_id(0, 17), c.error_id(0, 17));
    }

    #[test]
    fn truth_has_direct_linked_and_decoys_for_every_subject() {
        let d = ds(10_000);
        let t = d.truth();
        for s in &t.subjects {
            assert!(!s.direct.is_empty(), "{} has no direct error", s.label);
            assert!(!s.linked.is_empty(), "{} has no linked error", s.label);
        }
        let decoys = (0..10_000)
            .filter(|i| matches!(d.owner(0, *i), Owner::Decoy(_)))
            .count();
        assert!(decoys > 10);
    }

    #[test]
    fn subject_data_is_only_in_subject_errors() {
        // Exact-string scan of everything an error serves: a subject's
        // e-mail shows up exactly in that subject's direct errors.
        let d = ds(2000);
        for i in 0..2000 {
            let e = d.error(0, i);
            let mut blob = serde_json::to_string(&d.crash_log(&e)).unwrap();
            blob += &serde_json::to_string(&d.error_stacktrace(&e)).unwrap();
            for k in 0..e.session_log_count {
                blob += &serde_json::to_string(&d.session_log(&e, k)).unwrap();
            }
            for k in 0..e.attachments.len() {
                if matches!(e.attachments[k].1, AttachmentKind::Text) {
                    blob += &String::from_utf8(d.attachment_bytes(&e, k)).unwrap();
                }
            }
            for (s, subj) in d.subjects().iter().enumerate() {
                let quoted = format!("\"{}\"", subj.email);
                let spaced = format!(" {} ", subj.email);
                let angled = format!("<{}>", subj.email);
                let found = blob.contains(&quoted)
                    || blob.contains(&spaced)
                    || blob.contains(&angled)
                    || blob.contains(&format!("for {}:", subj.email));
                if found {
                    assert_eq!(
                        e.owner,
                        Owner::Subject(s),
                        "error {i} holds {}'s e-mail",
                        subj.label
                    );
                }
            }
        }
    }
}
