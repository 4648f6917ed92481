//! Command-line flags and subcommands.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// Answers GDPR data-subject requests (Art. 15, Art. 20) over App Center
/// crash data.
#[derive(Debug, Parser)]
#[command(name = "crashdsr", version, about, long_about = None)]
pub(crate) struct Cli {
    #[command(flatten)]
    pub(crate) global: GlobalArgs,
    #[command(subcommand)]
    pub(crate) command: Command,
}

/// Options every command takes.
#[derive(Debug, Clone, Args)]
pub(crate) struct GlobalArgs {
    /// App Center API root. Non-loopback URLs must be https.
    #[arg(long, global = true, env = "APPCENTER_BASE_URL", default_value = crashdsr_appcenter::DEFAULT_BASE_URL)]
    pub(crate) base_url: String,
    /// File holding the API token (used when APPCENTER_API_TOKEN is unset).
    #[arg(long, global = true, env = "CRASHDSR_TOKEN_FILE")]
    pub(crate) token_file: Option<PathBuf>,
    /// Client-side request rate, N/SECS (App Center documents 500/300).
    #[arg(long, global = true, default_value = "500/300", value_parser = parse_rate)]
    pub(crate) api_rate: crashdsr_appcenter::RateLimit,
    /// Working directory for the state store, archive and packages.
    #[arg(long, global = true, default_value = "./crashdsr-data")]
    pub(crate) work_dir: PathBuf,
    /// State store: a SQLite file (default WORK_DIR/state.db) or
    /// postgres://… for several workers.
    #[arg(long, global = true, env = "CRASHDSR_STATE")]
    pub(crate) state: Option<String>,
    /// Archive: a directory (default WORK_DIR/archive), az://container/prefix
    /// or s3://bucket/prefix (credentials from the environment).
    #[arg(long, global = true, env = "CRASHDSR_ARCHIVE")]
    pub(crate) archive: Option<String>,
    /// No progress bars.
    #[arg(long, global = true)]
    pub(crate) no_progress: bool,
    /// Log line format on stderr.
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Text)]
    pub(crate) log_format: LogFormat,
}

/// Log format.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub(crate) enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

pub(crate) fn parse_rate(
    s: &str,
) -> Result<crashdsr_appcenter::RateLimit, crashdsr_appcenter::BadRate> {
    crashdsr_appcenter::RateLimit::parse(s)
}

#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Runs the whole job on its embedded default: an in-process emulator.
    Demo(DemoArgs),
    /// Serves the App Center API emulator with a synthetic dataset.
    Emulator(EmulatorArgs),
    /// Shows (or sets) an app's crash retention: 28 or 90 days.
    Retention(RetentionArgs),
    /// Lists every crash id of an app into the state store (resumable).
    Inventory(InventoryArgs),
    /// Archives every crash not yet retrieved (resumable; several workers
    /// may share a PostgreSQL state store).
    Fetch(FetchArgs),
    /// Counts per state and the last errors.
    Status,
    /// Manages continuous-export configurations (the 28-day path).
    #[command(name = "export-config")]
    ExportConfig(ExportConfigArgs),
    /// Finds every trace of one or many subjects in crash data: the crawl's
    /// archive, a continuous export (directory or object store), or any
    /// directory of crash JSON. Exit 0 on matches, 1 on none, 2 on error.
    Search(SearchArgs),
    /// Answers a data-subject request from exports and archives (and the
    /// API when asked): searches, and writes a package per person.
    Request(RequestArgs),
    /// Erases people's data from exports and archives: writes a plan to
    /// review; `--apply PLAN` runs it, journaled, and writes a receipt.
    Erase(EraseArgs),
    /// Deletes everything older than a cut-off from exports and archives,
    /// with the same plan, apply and receipt cycle as `erase`.
    Purge(PurgeArgs),
    /// Checks a DSR package: every file against SHA256SUMS and the
    /// manifest; exit 0 when intact, 2 with one line per problem.
    Verify(VerifyArgs),
    /// A keyed-hash index of an export, so repeated requests read only the
    /// objects that can hold the person's data (same answer as a scan).
    #[command(subcommand)]
    Index(IndexCommand),
    /// Reads a continuous export end to end and reports what it holds and
    /// which objects are damaged.
    #[command(name = "export-read")]
    ExportRead(ExportReadArgs),
}

/// `--index` and its key, for search, request and erase.
#[derive(Debug, Clone, Args)]
pub(crate) struct UseIndexArgs {
    /// Narrow the search with this index (a directory, az:// or s3://):
    /// only the objects it names, and whatever it cannot vouch for, are
    /// read. The answer is the full scan's.
    #[arg(long)]
    pub(crate) index: Option<String>,
    /// The index's key (see `crashdsr index build`).
    #[arg(long, env = "CRASHDSR_INDEX_KEY_FILE")]
    pub(crate) key_file: Option<PathBuf>,
    /// On a directory, trust an hour of the export whose folders'
    /// modification times are as at the index's last update, without
    /// listing its files. Much faster on many small files; blind to a file
    /// rewritten in place rather than replaced (see docs/index.md).
    #[arg(long, requires = "index")]
    pub(crate) trust_folder_times: bool,
}

/// The index's commands.
#[derive(Debug, Subcommand)]
pub(crate) enum IndexCommand {
    /// Builds the index of a source from scratch (every sealed segment).
    Build(IndexBuildArgs),
    /// Brings the index up to date: builds new and changed segments, drops
    /// those whose objects are gone, keeps the rest. Cheap to run hourly.
    Update(IndexBuildArgs),
    /// Checks every segment file against the manifest and every segment's
    /// objects against the source. Exit 0 when current, 1 when an update
    /// is due, 2 when a segment file is damaged or missing.
    Verify(IndexAt),
    /// Writes a new random index key to FILE (mode 0600; never replaces
    /// one). Keep it apart from the index, e.g. in a vault.
    Keygen {
        /// Where to write the key.
        file: PathBuf,
    },
}

/// An index and the source it is of.
#[derive(Debug, Args)]
pub(crate) struct IndexAt {
    /// The source: a directory, az://container/prefix or s3://bucket/prefix.
    #[arg(long)]
    pub(crate) source: String,
    /// Where the index lives: a directory, az:// or s3://.
    #[arg(long)]
    pub(crate) index: String,
    /// The index's key: a file of at least 32 bytes (`crashdsr index
    /// keygen`), never stored beside the index.
    #[arg(long, env = "CRASHDSR_INDEX_KEY_FILE")]
    pub(crate) key_file: Option<PathBuf>,
    /// One JSON object with what was done or found.
    #[arg(long)]
    pub(crate) json: bool,
}

#[derive(Debug, Args)]
pub(crate) struct IndexBuildArgs {
    #[command(flatten)]
    pub(crate) at: IndexAt,
    /// Segments built at once; default: one per core.
    #[arg(long)]
    pub(crate) threads: Option<usize>,
    /// Objects read at once per segment from an object store (a
    /// directory's files are read by the thread that tokenises them).
    #[arg(long, default_value_t = 16)]
    pub(crate) io: usize,
    /// Bytes one object may expand to through its containers, as for
    /// `search` (a search with other caps does not use the index).
    #[arg(long, default_value = "256MiB", value_parser = parse_size)]
    pub(crate) max_expand: u64,
}

#[derive(Debug, Args)]
pub(crate) struct SearchArgs {
    /// Where to search: a directory, az://container/prefix or
    /// s3://bucket/prefix (repeatable).
    #[arg(long, required = true)]
    pub(crate) source: Vec<String>,
    /// An identifier of the subject, TYPE=VALUE with TYPE one of user-id,
    /// email, install-id, phone, name, text, regex (repeatable).
    #[arg(
        long,
        conflicts_with = "subjects",
        required_unless_present = "subjects"
    )]
    pub(crate) subject: Vec<String>,
    /// Many subjects in one pass: JSON Lines, one
    /// {"label", "identifiers": [{"type", "value"}]} per line.
    #[arg(long)]
    pub(crate) subjects: Option<PathBuf>,
    /// The label of a --subject search in the output.
    #[arg(long, default_value = "subject")]
    pub(crate) label: String,
    /// One JSON object per matched record per subject.
    #[arg(long)]
    pub(crate) json: bool,
    /// Bring in the other crashes and records of the installs found with
    /// the subject's data (reported as linked).
    #[arg(long, value_parser = ["install-id"])]
    pub(crate) expand: Option<String>,
    /// Threads that scan (on a local directory they also walk and read);
    /// default: one per core.
    #[arg(long)]
    pub(crate) threads: Option<usize>,
    /// Objects read at once from an object store (`az://`, `s3://`);
    /// default 64. Latency, not the CPU, bounds a remote read: raise it
    /// for a distant store, lower it for a throttled one.
    #[arg(long)]
    pub(crate) io: Option<usize>,
    /// Bytes one object may expand to through gzip, zip, tar and base64
    /// (`256MiB`, `1G`, `500000`); past it the object is reported unread.
    #[arg(long, default_value = "256MiB", value_parser = parse_size)]
    pub(crate) max_expand: u64,
    #[command(flatten)]
    pub(crate) index: UseIndexArgs,
}

/// `500000`, `64K`, `256MiB`, `1G` (powers of 1024).
pub(crate) fn parse_size(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let n: u64 = num
        .parse()
        .map_err(|_| format!("size {s:?}: expected a number with an optional K, M or G"))?;
    let mult: u64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kb" | "kib" => 1 << 10,
        "m" | "mb" | "mib" => 1 << 20,
        "g" | "gb" | "gib" => 1 << 30,
        other => return Err(format!("size {s:?}: unknown unit {other:?} (K, M or G)")),
    };
    n.checked_mul(mult)
        .filter(|v| *v > 0)
        .ok_or_else(|| format!("size {s:?}: must be above zero and fit in 64 bits"))
}

#[derive(Debug, Clone, Args)]
pub(crate) struct RequestArgs {
    /// Only this app, OWNER/APP (an export names its apps by id: give the
    /// name with --app-name). Needed to use the App Center API.
    #[arg(long, value_parser = parse_app)]
    pub(crate) app: Option<(String, String)>,
    /// A readable name for an app id of the data, GUID=OWNER/APP
    /// (repeatable; also the controller file's [apps] table).
    #[arg(long, value_parser = parse_app_name)]
    pub(crate) app_name: Vec<(String, String)>,
    /// An identifier of the subject, TYPE=VALUE (repeatable).
    #[arg(
        long,
        conflicts_with = "subjects",
        required_unless_present = "subjects"
    )]
    pub(crate) subject: Vec<String>,
    /// Many requests from one scan: JSON Lines of {"label", "identifiers"};
    /// --out is then a directory that receives LABEL.zip per subject.
    #[arg(long)]
    pub(crate) subjects: Option<PathBuf>,
    /// The subject's label in the package (never an identifier).
    #[arg(long, default_value = "subject")]
    pub(crate) label: String,
    /// Where to write the package (.zip).
    #[arg(long)]
    pub(crate) out: PathBuf,
    /// Mask other people's e-mail addresses, phone numbers (with a
    /// leading +), install ids and user ids in the copies delivered
    /// (Art. 15(4)); the person's own stay. The package lists what was
    /// masked, counted per file and type.
    #[arg(long)]
    pub(crate) redact_others: bool,
    /// Replace an existing package.
    #[arg(long)]
    pub(crate) force: bool,
    /// Whether to use the App Center API: `auto` uses it when --app is
    /// given and it answers; `export` never calls it.
    #[arg(long, value_enum, default_value_t = PathChoice::Auto)]
    pub(crate) path: PathChoice,
    /// Where the data is: a continuous export or a crawl archive, as a
    /// directory, az://container/prefix or s3://bucket/prefix
    /// (repeatable: all are searched together).
    #[arg(long)]
    pub(crate) source: Vec<String>,
    /// When the request was received, YYYY-MM-DD (default: today, UTC).
    #[arg(long)]
    pub(crate) received: Option<String>,
    /// The controller's texts for the report (TOML: name, contact, dpo,
    /// purposes, categories, recipients, retention, rights, authority).
    #[arg(long)]
    pub(crate) controller: Option<PathBuf>,
    /// Crashes fetched at once (API path).
    #[arg(long, default_value_t = 8, value_parser = clap::value_parser!(u32).range(1..=256))]
    pub(crate) concurrency: u32,
    /// Answer fast first: fetch only the crashes App Center's server-side
    /// search finds for the user ids and e-mails given (API path), and say
    /// so in the manifest and report.
    #[arg(long)]
    pub(crate) targeted: bool,
    /// Encrypt the package for this age recipient (age1…, repeatable);
    /// writes PATH.age and no plain zip.
    #[arg(long, conflicts_with = "passphrase_file")]
    pub(crate) encrypt_to: Vec<String>,
    /// Encrypt the package with the passphrase in this file (age's scrypt
    /// mode); send the passphrase by another channel.
    #[arg(long)]
    pub(crate) passphrase_file: Option<PathBuf>,
    #[command(flatten)]
    pub(crate) index: UseIndexArgs,
}

/// What `erase` and `purge` share: the plan, apply and receipt cycle.
#[derive(Debug, Clone, Args)]
pub(crate) struct PlanApplyArgs {
    /// Write the plan here (nothing is changed).
    #[arg(long, required_unless_present = "apply", conflicts_with = "apply")]
    pub(crate) plan_out: Option<PathBuf>,
    /// Run this reviewed plan, exactly, and write a receipt.
    #[arg(long)]
    pub(crate) apply: Option<PathBuf>,
    /// Where the receipt goes (default: WORK_DIR/erasures/PLAN_ID.zip).
    #[arg(long, requires = "apply")]
    pub(crate) receipt_out: Option<PathBuf>,
    /// Encrypt the receipt for this age recipient (repeatable).
    #[arg(long, conflicts_with = "passphrase_file")]
    pub(crate) encrypt_to: Vec<String>,
    /// Encrypt the receipt with the passphrase in this file.
    #[arg(long)]
    pub(crate) passphrase_file: Option<PathBuf>,
    /// Replace an existing plan or receipt file.
    #[arg(long)]
    pub(crate) force: bool,
}

/// `--unredactable`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum UnredactableArg {
    /// Delete the object (drop the record).
    Delete,
    /// Leave it as it is; the re-scan still finds it.
    Keep,
}

#[derive(Debug, Clone, Args)]
pub(crate) struct EraseArgs {
    /// An export or archive to erase from (repeatable; planning only: the
    /// plan names its sources).
    #[arg(long, required_unless_present = "apply")]
    pub(crate) source: Vec<String>,
    /// An identifier of the person, TYPE=VALUE (repeatable; also needed
    /// with --apply, for the re-scan, and checked against the plan).
    #[arg(
        long,
        conflicts_with = "subjects",
        required_unless_present = "subjects"
    )]
    pub(crate) subject: Vec<String>,
    /// Several people: JSON Lines of {"label", "identifiers"}.
    #[arg(long)]
    pub(crate) subjects: Option<PathBuf>,
    /// The person's label in the plan and receipt.
    #[arg(long, default_value = "subject")]
    pub(crate) label: String,
    /// Also erase the crashes and records linked by install id.
    #[arg(long)]
    pub(crate) include_linked: bool,
    /// Planning: what to do with an object of someone else's crash that
    /// holds the person's data but cannot be masked in place (inside a
    /// tar, zstd, xz, bzip2 or base64 container, or in a zip member's
    /// name): `delete` it (a record: drop it) or `keep` it as it is.
    /// Without it, such an object stops the plan, named.
    #[arg(long, value_enum, conflicts_with = "apply")]
    pub(crate) unredactable: Option<UnredactableArg>,
    /// Also delete the person's crashes through the App Center API (or a
    /// server of the same contract, --base-url) and block their installs
    /// from further collection. Planning needs --app; --apply needs
    /// --api again.
    #[arg(long)]
    pub(crate) api: bool,
    /// With --api, when planning: the app, OWNER/APP.
    #[arg(long, value_parser = parse_app, requires = "api")]
    pub(crate) app: Option<(String, String)>,
    #[command(flatten)]
    pub(crate) index: UseIndexArgs,
    #[command(flatten)]
    pub(crate) cycle: PlanApplyArgs,
}

#[derive(Debug, Clone, Args)]
pub(crate) struct PurgeArgs {
    /// An export or archive to purge (repeatable; planning only).
    #[arg(long, required_unless_present = "apply")]
    pub(crate) source: Vec<String>,
    /// Everything older than this goes: `90d` (days).
    #[arg(long, required_unless_present = "apply", value_parser = parse_days)]
    pub(crate) older_than: Option<u32>,
    /// The time the age is counted from (default: now), RFC 3339 or
    /// YYYY-MM-DD.
    #[arg(long)]
    pub(crate) as_of: Option<String>,
    #[command(flatten)]
    pub(crate) index: UseIndexArgs,
    #[command(flatten)]
    pub(crate) cycle: PlanApplyArgs,
}

/// `90d`.
fn parse_days(s: &str) -> Result<u32, String> {
    s.trim()
        .strip_suffix('d')
        .and_then(|n| n.parse().ok())
        .filter(|n| *n > 0)
        .ok_or_else(|| format!("{s:?}: expected a number of days, like 90d"))
}

/// `--path`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum PathChoice {
    /// The API when --app is given and it answers; the sources alone
    /// otherwise.
    Auto,
    /// Inventory and fetch the app's crashes into the archive first, then
    /// search it with the sources.
    Api,
    /// The sources alone (exports, archives): no API call.
    Export,
}

/// `GUID=OWNER/APP`.
fn parse_app_name(s: &str) -> Result<(String, String), String> {
    let (id, name) = s
        .split_once('=')
        .ok_or_else(|| format!("--app-name {s:?}: expected APP_ID=OWNER/APP"))?;
    let (id, name) = (id.trim(), name.trim());
    if id.is_empty() || id.contains('/') {
        return Err(format!(
            "--app-name {s:?}: the app id before '=' is empty or has a '/'"
        ));
    }
    parse_app(name)?;
    Ok((id.to_ascii_lowercase(), name.to_owned()))
}

#[derive(Debug, Args)]
pub(crate) struct VerifyArgs {
    /// The package (.zip, or .age when encrypted).
    pub(crate) package: PathBuf,
    /// For an encrypted package: an age identity file (AGE-SECRET-KEY-…).
    #[arg(long, conflicts_with = "passphrase_file")]
    pub(crate) identity: Option<PathBuf>,
    /// For an encrypted package: a file holding its passphrase.
    #[arg(long)]
    pub(crate) passphrase_file: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub(crate) struct ExportReadArgs {
    /// The export: a directory, az://archive[/prefix] or s3://bucket/prefix
    /// (credentials from the environment).
    #[arg(long)]
    pub(crate) source: String,
    /// Objects read at once.
    #[arg(long, default_value_t = 16, value_parser = clap::value_parser!(u32).range(1..=256))]
    pub(crate) concurrency: u32,
    /// One JSON object instead of text.
    #[arg(long)]
    pub(crate) json: bool,
}

#[derive(Debug, Args)]
pub(crate) struct ExportConfigArgs {
    #[command(subcommand)]
    pub(crate) action: ExportAction,
}

#[derive(Debug, Subcommand)]
pub(crate) enum ExportAction {
    /// Lists the app's export configurations.
    List(ExportAppArgs),
    /// Shows one configuration.
    Get(ExportIdArgs),
    /// Creates a configuration (App Center answers 202, state Pending).
    Create(ExportTargetArgs),
    /// Replaces a configuration's settings (PATCH, with its type).
    Update(ExportUpdateArgs),
    /// Deletes a configuration.
    Delete(ExportIdArgs),
    /// Enables a configuration.
    Enable(ExportIdArgs),
    /// Disables a configuration.
    Disable(ExportIdArgs),
}

#[derive(Debug, Args)]
pub(crate) struct ExportAppArgs {
    /// The app, OWNER/APP.
    #[arg(long, value_parser = parse_app)]
    pub(crate) app: (String, String),
    /// JSON instead of a table.
    #[arg(long)]
    pub(crate) json: bool,
}

#[derive(Debug, Args)]
pub(crate) struct ExportIdArgs {
    #[command(flatten)]
    pub(crate) app: ExportAppArgs,
    /// The configuration id.
    #[arg(long)]
    pub(crate) id: String,
}

#[derive(Debug, Args)]
pub(crate) struct ExportTargetArgs {
    #[command(flatten)]
    pub(crate) app: ExportAppArgs,
    /// Standard export: the Azure subscription linked in App Center.
    #[arg(long, conflicts_with_all = ["custom", "connection_string_file"])]
    pub(crate) subscription_id: Option<String>,
    /// Custom export: the connection string comes from
    /// AZURE_STORAGE_CONNECTION_STRING (never from a flag).
    #[arg(long)]
    pub(crate) custom: bool,
    /// Custom export: read the connection string from this file.
    #[arg(long)]
    pub(crate) connection_string_file: Option<PathBuf>,
    /// What to export: crashes, errors, attachments, no_logs.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "crashes,errors,attachments"
    )]
    pub(crate) entities: Vec<String>,
    /// Blob path layout.
    #[arg(long, value_parser = ["WithAppId", "WithoutAppId"], default_value = "WithoutAppId")]
    pub(crate) path_format: String,
    /// Export only from now on (no back-fill of the retention window).
    #[arg(long)]
    pub(crate) no_backfill: bool,
}

#[derive(Debug, Args)]
pub(crate) struct ExportUpdateArgs {
    #[command(flatten)]
    pub(crate) target: ExportTargetArgs,
    /// The configuration id.
    #[arg(long)]
    pub(crate) id: String,
}

#[derive(Debug, Args)]
pub(crate) struct InventoryArgs {
    /// The app, OWNER/APP.
    #[arg(long, value_parser = parse_app)]
    pub(crate) app: (String, String),
    /// Which API lists the crashes.
    #[arg(long, value_enum, default_value_t = ApiChoice::Errors)]
    pub(crate) api: ApiChoice,
}

/// `--api`.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub(crate) enum ApiChoice {
    /// errors/errorGroups (nextLink paging).
    Errors,
    /// The deprecated crash_groups API (continuation token).
    Legacy,
}

#[derive(Debug, Args)]
pub(crate) struct FetchArgs {
    /// The app, OWNER/APP.
    #[arg(long, value_parser = parse_app)]
    pub(crate) app: (String, String),
    /// Crashes fetched at once.
    #[arg(long, default_value_t = 8, value_parser = clap::value_parser!(u32).range(1..=256))]
    pub(crate) concurrency: u32,
    /// Crashes claimed per batch.
    #[arg(long, default_value_t = 32, value_parser = clap::value_parser!(u32).range(1..=10000))]
    pub(crate) batch: u32,
    /// Seconds a claim holds before another worker may take it over.
    #[arg(long, default_value_t = 300, value_parser = clap::value_parser!(u64).range(1..))]
    pub(crate) lease_secs: u64,
    /// Transient failures before a crash is parked.
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u32).range(1..))]
    pub(crate) max_attempts: u32,
    /// This worker's name in the state store (default host:pid).
    #[arg(long)]
    pub(crate) worker: Option<String>,
    /// Stop after this many crashes.
    #[arg(long)]
    pub(crate) limit: Option<u64>,
}

#[derive(Debug, Args)]
pub(crate) struct DemoArgs {
    /// Seed of the demo dataset.
    #[arg(long, default_value_t = 7)]
    pub(crate) seed: u64,
    /// Errors in the demo app.
    #[arg(long, default_value_t = 1000)]
    pub(crate) errors: u64,
    /// `export`: answer from a continuous export with no API (today's
    /// world); `api`: through the emulator's API.
    #[arg(long, value_enum, default_value_t = DemoPath::Export)]
    pub(crate) path: DemoPath,
}

/// `demo --path`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum DemoPath {
    /// A continuous export in a local directory, no API.
    Export,
    /// The emulator's API.
    Api,
}

impl DemoPath {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Self::Export => "export",
            Self::Api => "api",
        }
    }
}

#[derive(Debug, Args)]
pub(crate) struct EmulatorArgs {
    /// Address to bind; port 0 picks a free port (printed on the first line).
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub(crate) addr: std::net::SocketAddr,
    /// Seed of the synthetic dataset.
    #[arg(long, default_value_t = 7)]
    pub(crate) seed: u64,
    /// Errors per app.
    #[arg(long, default_value_t = 1000)]
    pub(crate) errors: u64,
    /// Days the errors are spread over (and the initial retention).
    #[arg(long, default_value_t = 28)]
    pub(crate) span_days: u32,
    /// Errors per error group.
    #[arg(long, default_value_t = 50)]
    pub(crate) errors_per_group: u64,
    /// KiB of filler log lines added to text and binary attachments.
    #[arg(long, default_value_t = 0)]
    pub(crate) attachment_padding_kib: usize,
    /// An app to serve, OWNER/APP (repeatable; default contoso/demo-app).
    #[arg(long = "app", value_parser = parse_app)]
    pub(crate) apps: Vec<(String, String)>,
    /// Write the ground truth (subjects and their errors) to this file.
    #[arg(long)]
    pub(crate) truth: Option<PathBuf>,
    /// Full-access token; one is generated and printed when absent.
    #[arg(long)]
    pub(crate) token: Option<String>,
    /// Read-only token (403 on writes).
    #[arg(long)]
    pub(crate) read_only_token: Option<String>,
    /// Token-bucket rate limit, N/SECS; 429 when empty.
    #[arg(long, value_parser = parse_rate)]
    pub(crate) rate_limit: Option<crashdsr_appcenter::RateLimit>,
    /// Send 429s of the rate limit without Retry-After.
    #[arg(long)]
    pub(crate) no_retry_after: bool,
    /// Milliseconds added to every request.
    #[arg(long, default_value_t = 0)]
    pub(crate) latency: u64,
    /// Fault rules, e.g. "503@every=10,reset@p=0.01" (see docs/emulator.md).
    #[arg(long, default_value = "")]
    pub(crate) faults: String,
    /// Emit nextLinks without the owner/app segment (a live-service quirk).
    #[arg(long)]
    pub(crate) next_link_without_app: bool,
    /// Directory that stands in for the storage of a linked subscription
    /// (standard export); custom exports go where their connection string
    /// says (Azurite, or BlobEndpoint=file:///dir).
    #[arg(long)]
    pub(crate) export_dir: Option<PathBuf>,
    /// How exports are shaped: `dotnet` as App Center's .NET backend wrote
    /// them (nulls, byte-order marks, several log blobs a minute, late
    /// attachments, Properties as blob names), or `tidy`.
    #[arg(long, default_value = "dotnet")]
    pub(crate) export_style: crashdsr_emulator::export::ExportStyle,
}

pub(crate) fn parse_app(s: &str) -> Result<(String, String), String> {
    match s.split_once('/') {
        Some((o, a)) if !o.is_empty() && !a.is_empty() && !a.contains('/') => {
            Ok((o.to_owned(), a.to_owned()))
        }
        _ => Err(format!("{s:?}: expected OWNER/APP")),
    }
}

#[derive(Debug, Args)]
pub(crate) struct RetentionArgs {
    /// The app, OWNER/APP.
    #[arg(long, value_parser = parse_app)]
    pub(crate) app: (String, String),
    /// Set the retention to 28 or 90 days.
    #[arg(long, value_parser = clap::builder::PossibleValuesParser::new(["28", "90"]))]
    pub(crate) set: Option<String>,
}
