//! `fetch`: archives every crash not yet retrieved, resumably.
//!
//! A worker claims crashes in small batches with a lease, fetches each
//! crash's artefacts into the archive (skipping any artefact already there
//! from an interrupted run), writes `manifest.json` last and only then marks
//! the crash retrieved. Permanent failures are recorded with their reason;
//! transient ones are retried and the crash is parked after
//! `max_attempts`. Errors that concern the whole run (archive unwritable,
//! token refused, server unreachable) stop it, releasing the leases.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use bytes::Bytes;
use crashdsr_appcenter::models::ErrorAttachment;
use crashdsr_appcenter::{AppClient, DownloadFormat, SessionLogsPath, TransportKind, collect_all};
use futures::{StreamExt, stream};
use object_store::path::Path;
use tokio::sync::Mutex;

use crate::archive::{Archive, ArtefactEntry, MANIFEST_FORMAT, Manifest, safe_id};
use crate::error::{Error, Result};
use crate::progress::Progress;
use crashdsr_state::{Claim, StateStore as Store, Status, WorkerReport};

/// How a worker fetches.
#[derive(Debug, Clone)]
pub struct FetchOptions {
    /// Crashes fetched at once.
    pub concurrency: usize,
    /// Crashes claimed per batch.
    pub batch: i64,
    /// How long a claim holds before another worker may take it.
    pub lease: Duration,
    /// Transient failures before a crash is parked.
    pub max_attempts: i64,
    /// This worker's name in the state store.
    pub worker: String,
    /// Stop after this many crashes (tests and sampling); `None`: all.
    pub limit: Option<u64>,
}

impl Default for FetchOptions {
    fn default() -> Self {
        Self {
            concurrency: 8,
            batch: 32,
            lease: Duration::from_secs(300),
            max_attempts: 5,
            worker: default_worker(),
            limit: None,
        }
    }
}

pub use crashdsr_state::leases::default_worker;
use crashdsr_state::leases::{dead_here, host};

/// Frees at once the leases of this host's workers whose process died
/// (a SIGKILLed run); other hosts' leases keep their timeout. Returns the
/// workers freed.
pub(crate) async fn free_dead_local_leases(store: &Store) -> Result<Vec<String>> {
    let host = host();
    let mut freed = Vec::new();
    for owner in store.lease_owners().await? {
        if dead_here(&owner, &host) {
            store.release(&owner).await?;
            tracing::info!(worker = %owner, "Freed the leases of a worker of this host whose process is gone.");
            freed.push(owner);
        }
    }
    Ok(freed)
}

/// What a fetch run did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FetchReport {
    /// Crashes archived and marked retrieved.
    pub retrieved: u64,
    /// Crashes failed permanently (with their reason in the store).
    pub failed: u64,
    /// Crashes deleted on the server.
    pub gone: u64,
    /// Crashes parked after too many transient failures.
    pub parked: u64,
    /// Crashes that will be retried.
    pub retried: u64,
    /// Artefacts fetched from the API or location URIs.
    pub artefacts_fetched: u64,
    /// Artefacts found already archived and not fetched again.
    pub artefacts_reused: u64,
}

#[derive(Default)]
struct Counters {
    fetched: AtomicU64,
    reused: AtomicU64,
    /// Crashes handled (whatever the outcome) by this run.
    done: AtomicU64,
}

/// How often a running fetch refreshes its progress line and its row in
/// the state store.
const REPORT_EVERY: Duration = Duration::from_secs(2);

/// How a failed crash is filed.
enum Outcome {
    Done,
    Permanent(Status, String),
    Transient(String),
    Fatal(Error),
}

fn classify(e: Error) -> Outcome {
    match &e {
        Error::Api(api) => match api.status() {
            Some(404 | 410) => {
                Outcome::Permanent(Status::Gone, format!("deleted on the server: {api}"))
            }
            Some(401 | 403) => Outcome::Fatal(e),
            Some(s) if (400..500).contains(&s) && !api.is_retryable() => {
                Outcome::Permanent(Status::Failed, api.to_string())
            }
            _ if matches!(
                api,
                crashdsr_appcenter::Error::Transport {
                    kind: TransportKind::Connect,
                    ..
                }
            ) =>
            {
                Outcome::Fatal(e)
            }
            _ if api.is_retryable() => Outcome::Transient(api.to_string()),
            _ => Outcome::Permanent(Status::Failed, api.to_string()),
        },
        Error::Unsafe(m) => Outcome::Permanent(Status::Failed, m.clone()),
        _ => Outcome::Fatal(e),
    }
}

struct Worker<'a> {
    store: &'a Store,
    app: &'a AppClient,
    archive: &'a Archive,
    name: String,
    counters: Counters,
    /// Group stack traces archived (or being archived) by this process.
    groups: Mutex<HashMap<String, Arc<tokio::sync::OnceCell<ArtefactEntry>>>>,
}

/// Archives every pending crash of `app`.
pub async fn fetch(
    store: &Store,
    app: &AppClient,
    archive: &Archive,
    opts: &FetchOptions,
    progress: &dyn Progress,
) -> Result<FetchReport> {
    let w = Worker::new(store, app, archive);
    free_dead_local_leases(store).await?;
    let (claimable, leased) = store.pending(&w.name, &opts.worker).await?;
    progress.set_total((claimable + leased) as u64);
    let renew = {
        let (store, worker, lease) = (store.clone(), opts.worker.clone(), opts.lease);
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(lease / 3).await;
                if let Err(e) = store.renew(&worker, lease).await {
                    tracing::warn!(error = %e, "Could not renew leases.");
                }
            }
        })
    };
    let total = (claimable + leased) as u64;
    let result = {
        let run = std::pin::pin!(w.run(opts, progress));
        let report = std::pin::pin!(w.report_every(REPORT_EVERY, &opts.worker, total, progress));
        match futures::future::select(run, report).await {
            futures::future::Either::Left((result, _)) => result,
            futures::future::Either::Right((never, _)) => match never {},
        }
    };
    renew.abort();
    if let Err(e) = store.finish_worker(&opts.worker).await {
        tracing::warn!(error = %e, "Could not clear this worker's progress row.");
    }
    if result.is_err() {
        // Leave nothing held: another run may start at once.
        let _ = store.release(&opts.worker).await;
    }
    let mut report = result?;
    report.artefacts_fetched = w.counters.fetched.load(Ordering::Relaxed);
    report.artefacts_reused = w.counters.reused.load(Ordering::Relaxed);
    Ok(report)
}

/// Archives exactly `crashes` of `app` (adding them to the store first),
/// whatever else is pending: the targeted answer, before or instead of a
/// full crawl.
pub async fn fetch_listed(
    store: &Store,
    app: &AppClient,
    archive: &Archive,
    crashes: &[crashdsr_state::ListedCrash],
    opts: &FetchOptions,
    progress: &dyn Progress,
) -> Result<FetchReport> {
    let w = Worker::new(store, app, archive);
    store.add_candidates(&w.name, crashes).await?;
    progress.set_total(crashes.len() as u64);
    let claims = crashes
        .iter()
        .map(|c| Claim {
            app: w.name.clone(),
            crash: c.clone(),
            attempts: 0,
        })
        .collect();
    let mut report = FetchReport::default();
    w.process(claims, opts, progress, &mut report).await?;
    report.artefacts_fetched = w.counters.fetched.load(Ordering::Relaxed);
    report.artefacts_reused = w.counters.reused.load(Ordering::Relaxed);
    Ok(report)
}

impl<'a> Worker<'a> {
    fn new(store: &'a Store, app: &'a AppClient, archive: &'a Archive) -> Self {
        Self {
            store,
            app,
            archive,
            name: app.name(),
            counters: Counters::default(),
            groups: Mutex::new(HashMap::new()),
        }
    }

    async fn run(&self, opts: &FetchOptions, progress: &dyn Progress) -> Result<FetchReport> {
        let mut report = FetchReport::default();
        let mut handled = 0u64;
        loop {
            let want = match opts.limit {
                Some(l) if handled >= l => break,
                Some(l) => opts.batch.min((l - handled) as i64),
                None => opts.batch,
            };
            let claims = self
                .store
                .claim(&self.name, &opts.worker, want, opts.lease)
                .await?;
            if claims.is_empty() {
                let (_, leased) = self.store.pending(&self.name, &opts.worker).await?;
                if leased == 0 {
                    break;
                }
                if !free_dead_local_leases(self.store).await?.is_empty() {
                    continue;
                }
                // Another worker holds the rest; wait for it to finish them
                // or for its leases to expire.
                tokio::time::sleep(
                    (opts.lease / 10).clamp(Duration::from_millis(100), Duration::from_secs(5)),
                )
                .await;
                continue;
            }
            handled += claims.len() as u64;
            self.process(claims, opts, progress, &mut report).await?;
        }
        Ok(report)
    }

    /// Every `every`, tells `progress` and the state store how fast this
    /// worker goes: the pacer's rate, the 429s of the last minute and the
    /// time left. Runs until dropped.
    async fn report_every(
        &self,
        every: Duration,
        worker: &str,
        total: u64,
        progress: &dyn Progress,
    ) -> std::convert::Infallible {
        let started = tokio::time::Instant::now();
        loop {
            tokio::time::sleep(every).await;
            let stats = self.app.client().stats().await;
            let done = self.counters.done.load(Ordering::Relaxed);
            let elapsed = started.elapsed().as_secs_f64();
            let eta = (done > 0 && total > done)
                .then(|| ((total - done) as f64 * elapsed / done as f64).round() as i64);
            progress.message(pace_line(&stats, eta));
            let row = WorkerReport {
                worker: worker.to_owned(),
                app: self.name.clone(),
                done: done as i64,
                total: total as i64,
                rate_per_sec: stats.pacer.map(|p| p.rate_per_sec),
                max_per_sec: stats.pacer.map(|p| p.max_per_sec),
                throttled_last_minute: stats.pacer.map_or(0, |p| p.throttled_last_minute as i64),
                eta_secs: eta,
                updated_at: chrono::Utc::now().timestamp_millis(),
            };
            if let Err(e) = self.store.report_worker(&row).await {
                tracing::warn!(error = %e, "Could not record this worker's progress.");
            }
        }
    }

    /// Fetches claimed crashes, `concurrency` at a time, and files each
    /// outcome.
    async fn process(
        &self,
        claims: Vec<Claim>,
        opts: &FetchOptions,
        progress: &dyn Progress,
        report: &mut FetchReport,
    ) -> Result<()> {
        let mut results = stream::iter(claims)
            .map(|c| async move {
                let r = self.fetch_one(&c).await;
                (c, r)
            })
            .buffer_unordered(opts.concurrency);
        let mut fatal = None;
        while let Some((claim, r)) = results.next().await {
            let outcome = match r {
                Ok(()) => Outcome::Done,
                Err(e) => classify(e),
            };
            let id = &claim.crash.error_id;
            match outcome {
                Outcome::Done => report.retrieved += 1,
                Outcome::Permanent(status, reason) => {
                    tracing::warn!(error_id = %id, %reason, "Crash failed permanently.");
                    self.store
                        .mark_failed(&self.name, id, &reason, Some(status), opts.max_attempts)
                        .await?;
                    if status == Status::Gone {
                        report.gone += 1
                    } else {
                        report.failed += 1
                    }
                }
                Outcome::Transient(reason) => {
                    match self
                        .store
                        .mark_failed(&self.name, id, &reason, None, opts.max_attempts)
                        .await?
                    {
                        Status::Parked => {
                            tracing::warn!(error_id = %id, %reason, "Crash parked after repeated failures.");
                            report.parked += 1;
                        }
                        _ => report.retried += 1,
                    }
                }
                Outcome::Fatal(e) => {
                    fatal.get_or_insert(e);
                    continue;
                }
            }
            progress.inc(1);
            self.counters.done.fetch_add(1, Ordering::Relaxed);
        }
        if let Some(e) = fatal {
            return Err(e);
        }
        Ok(())
    }

    /// Fetches one crash's artefacts, writes its manifest, marks it.
    async fn fetch_one(&self, claim: &Claim) -> Result<()> {
        let app = &self.name;
        let eid = safe_id(&claim.crash.error_id)?;
        let gid = safe_id(&claim.crash.error_group_id)?;
        let manifest_path = Archive::error_path(app, eid, "manifest.json")?;
        if let Some(bytes) = self.archive.get(&manifest_path).await? {
            // Archived by a run that died before it could mark the crash.
            self.store
                .mark_retrieved(app, eid, &crate::archive::sha256_hex(&bytes))
                .await?;
            return Ok(());
        }
        let mut artefacts = Vec::new();
        let details = self
            .json_artefact(eid, "details.json", || async {
                json_bytes(&self.app.error_details(gid, eid).await?)
            })
            .await?;
        artefacts.push(details);
        artefacts.push(
            self.json_artefact(eid, "stacktrace.json", || async {
                json_bytes(&self.app.error_stacktrace(gid, eid).await?)
            })
            .await?,
        );
        artefacts.push(self.download_artefact(gid, eid).await?);
        if claim.crash.has_breadcrumbs != Some(false) {
            artefacts.push(
                self.json_artefact(eid, "session-logs.json", || async {
                    json_bytes(
                        &collect_all(self.app.session_logs(eid, SessionLogsPath::Spec)).await?,
                    )
                })
                .await?,
            );
        }
        if claim.crash.has_attachments != Some(false) {
            let (entry, list) = self.attachment_list(eid).await?;
            artefacts.push(entry);
            for a in &list {
                artefacts.push(self.attachment(eid, a).await?);
            }
        }
        let group_stacktrace = self.group_stacktrace(gid).await?;
        artefacts.sort_by(|a, b| a.name.cmp(&b.name));
        let manifest = Manifest {
            format: MANIFEST_FORMAT,
            app: app.clone(),
            error_id: eid.to_owned(),
            error_group_id: gid.to_owned(),
            fetched_at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            artefacts,
            group_stacktrace,
        };
        let bytes = Bytes::from(serde_json::to_vec_pretty(&manifest).expect("manifests serialise"));
        let entry = self.archive.put(&manifest_path, bytes).await?;
        self.store.mark_retrieved(app, eid, &entry.sha256).await?;
        Ok(())
    }

    /// An artefact already in the archive is reused, not fetched again.
    async fn existing(&self, path: &Path, name: &str) -> Result<Option<ArtefactEntry>> {
        Ok(self.archive.digest(path).await?.map(|mut e| {
            self.counters.reused.fetch_add(1, Ordering::Relaxed);
            e.name = name.to_owned();
            e
        }))
    }

    async fn json_artefact<F, Fut>(&self, eid: &str, name: &str, fetch: F) -> Result<ArtefactEntry>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<Bytes>>,
    {
        let path = Archive::error_path(&self.name, eid, name)?;
        if let Some(e) = self.existing(&path, name).await? {
            return Ok(e);
        }
        let bytes = fetch().await?;
        self.counters.fetched.fetch_add(1, Ordering::Relaxed);
        let mut e = self.archive.put(&path, bytes).await?;
        e.name = name.to_owned();
        Ok(e)
    }

    async fn download_artefact(&self, gid: &str, eid: &str) -> Result<ArtefactEntry> {
        let name = "download.json";
        let path = Archive::error_path(&self.name, eid, name)?;
        if let Some(e) = self.existing(&path, name).await? {
            return Ok(e);
        }
        let mut w = self.archive.writer(&path);
        match self
            .app
            .download_error(gid, eid, DownloadFormat::Json, &mut w)
            .await
        {
            Ok(_) => {}
            Err(e) => {
                w.abort().await;
                return Err(e.into());
            }
        }
        self.counters.fetched.fetch_add(1, Ordering::Relaxed);
        let mut e = w.finish().await?;
        e.name = name.to_owned();
        Ok(e)
    }

    async fn attachment_list(&self, eid: &str) -> Result<(ArtefactEntry, Vec<ErrorAttachment>)> {
        let name = "attachments.json";
        let path = Archive::error_path(&self.name, eid, name)?;
        if let Some(bytes) = self.archive.get(&path).await? {
            self.counters.reused.fetch_add(1, Ordering::Relaxed);
            let list = serde_json::from_slice(&bytes).map_err(|e| {
                Error::Unsafe(format!(
                    "the archived {path} is not an attachment list: {e}"
                ))
            })?;
            let entry = ArtefactEntry {
                name: name.into(),
                sha256: crate::archive::sha256_hex(&bytes),
                size: bytes.len() as u64,
            };
            return Ok((entry, list));
        }
        let list = self.app.attachments(eid).await?;
        self.counters.fetched.fetch_add(1, Ordering::Relaxed);
        let mut e = self.archive.put(&path, json_bytes(&list)?).await?;
        e.name = name.into();
        Ok((e, list))
    }

    async fn attachment(&self, eid: &str, a: &ErrorAttachment) -> Result<ArtefactEntry> {
        let aid = safe_id(&a.attachment_id)?;
        let name = format!("attachments/{aid}");
        let path = Archive::error_path(&self.name, eid, &name)?;
        if let Some(e) = self.existing(&path, &name).await? {
            return Ok(e);
        }
        let mut e = if a.is_text() {
            let text = self.app.attachment_text(eid, aid).await?;
            self.archive
                .put(&path, Bytes::from(text.into_bytes()))
                .await?
        } else {
            let loc = self.app.attachment_location(eid, aid).await?;
            let mut w = self.archive.writer(&path);
            if let Err(err) = self.app.client().download_location(&loc, &mut w).await {
                w.abort().await;
                return Err(err.into());
            }
            w.finish().await?
        };
        self.counters.fetched.fetch_add(1, Ordering::Relaxed);
        e.name = name;
        Ok(e)
    }

    /// The group's stack trace, fetched once per group.
    async fn group_stacktrace(&self, gid: &str) -> Result<Option<ArtefactEntry>> {
        let cell = self
            .groups
            .lock()
            .await
            .entry(gid.to_owned())
            .or_default()
            .clone();
        let entry = cell
            .get_or_try_init(|| async {
                let path = Archive::group_path(&self.name, gid)?;
                let mut e = match self.existing(&path, "stacktrace.json").await? {
                    Some(e) => e,
                    None => {
                        let st = self.app.group_stacktrace(gid).await?;
                        self.counters.fetched.fetch_add(1, Ordering::Relaxed);
                        self.archive.put(&path, json_bytes(&st)?).await?
                    }
                };
                e.name = "stacktrace.json".into();
                Ok::<_, Error>(e)
            })
            .await?;
        Ok(Some(entry.clone()))
    }
}

fn json_bytes<T: serde::Serialize>(v: &T) -> Result<Bytes> {
    serde_json::to_vec_pretty(v)
        .map(Bytes::from)
        .map_err(|e| Error::Unsafe(format!("encoding JSON: {e}")))
}

/// The progress line's tail: requests, the pacer's rate when 429s have
/// slowed it, and the time left.
pub(crate) fn pace_line(stats: &crashdsr_appcenter::ClientStats, eta_secs: Option<i64>) -> String {
    let mut line = format!("{} requests, {} retries", stats.requests, stats.retries);
    if let Some(p) = stats.pacer {
        if p.slowed() {
            line.push_str(&format!(
                "; throttled: {:.1} of {:.1} requests/s, {} 429s in the last minute",
                p.rate_per_sec, p.max_per_sec, p.throttled_last_minute
            ));
        } else if p.throttled_last_minute > 0 {
            line.push_str(&format!(
                "; {} 429s in the last minute",
                p.throttled_last_minute
            ));
        }
    }
    if let Some(eta) = eta_secs {
        line.push_str(&format!("; about {} left", human_secs(eta)));
    }
    line
}

/// `42 s`, `3 min 12 s`, `2 h 05 min`.
pub fn human_secs(secs: i64) -> String {
    match secs {
        s if s < 60 => format!("{s} s"),
        s if s < 3600 => format!("{} min {:02} s", s / 60, s % 60),
        s => format!("{} h {:02} min", s / 3600, (s % 3600) / 60),
    }
}
