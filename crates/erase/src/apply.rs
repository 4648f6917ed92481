//! Running a plan: the API's steps (with `--api`) first, then rewrites,
//! whole-object deletes last, every step journaled in the state store
//! before and after it runs, so that a run killed at any point and started
//! again with the same plan finishes the job. An object whose SHA-256 is not the planned one is refused and left
//! alone; one that is gone is reported; an immutability policy, a legal
//! hold or a read-only credential stops the run with the object named.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};

use crashdsr_package::keyed_hash;
use crashdsr_state::{StateStore as Store, StepState};
use crashdsr_store::SourceId;
use futures::{StreamExt, stream};
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::api::{ApiAccess, ApiCrash, ApiInstall};
use crate::plan::{Delete, Plan, Redact, Rewrite};
use crate::target::{TEMP_SUFFIX, Target};
use crate::{Error, Result};

/// How to run.
#[derive(Debug, Clone, Default)]
pub struct ApplyOptions {
    /// Stop for good at this checkpoint (1-based), printing a line: the
    /// kill tests' hook for killing a run at an exact point.
    pub pause_at: Option<u64>,
    /// The API, for a plan made with `--api`.
    pub api: Option<ApiAccess>,
    /// The plan's people, for a plan that masks their data in someone
    /// else's crash (the plan holds only keyed hashes).
    pub subjects: Vec<crashdsr_search::Subject>,
}

/// A rewritten blob.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Rewritten {
    /// Which source, numbered from 1 (0: the API).
    pub source: usize,
    /// The blob.
    pub object: String,
    /// Its SHA-256 before.
    pub old_sha256: String,
    /// Its SHA-256 after.
    pub new_sha256: String,
    /// Records dropped.
    pub records_dropped: usize,
    /// Records kept, byte for byte (the masked ones as masked).
    pub records_kept: usize,
    /// Records of someone else's crash kept with the person's data masked.
    #[serde(skip_serializing_if = "is_zero")]
    pub records_masked: usize,
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

/// An object of someone else's crash, the person's data masked in it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Redacted {
    /// Which source, numbered from 1.
    pub source: usize,
    /// The object.
    pub object: String,
    /// Its SHA-256 before.
    pub old_sha256: String,
    /// Its SHA-256 after.
    pub new_sha256: String,
    /// Spans masked.
    pub spans: usize,
}

/// A deleted object.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Deleted {
    /// Which source, numbered from 1 (0: the API).
    pub source: usize,
    /// The object.
    pub object: String,
    /// Its SHA-256.
    pub sha256: String,
}

/// An object left alone.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Skipped {
    /// Which source, numbered from 1 (0: the API).
    pub source: usize,
    /// The object.
    pub object: String,
    /// Why.
    pub why: String,
}

/// What a run did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Outcome {
    /// Blobs rewritten.
    pub rewritten: Vec<Rewritten>,
    /// Objects of someone else's crash with the person's data masked.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub redacted: Vec<Redacted>,
    /// Objects deleted.
    pub deleted: Vec<Deleted>,
    /// Objects refused: changed since planning.
    pub refused: Vec<Skipped>,
    /// Objects gone before they could be touched.
    pub vanished: Vec<Skipped>,
    /// Crashes deleted through the API (error ids).
    pub api_deleted: Vec<String>,
    /// Installs blocked through the API (keyed hashes).
    pub blocked: Vec<String>,
}

/// Deletes journaled together.
const CHUNK: usize = 64;
/// Reads and deletes in flight at once (a store's round trips overlap).
const IN_FLIGHT: usize = 16;

fn sha(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

struct Run<'a> {
    plan_id: &'a str,
    store: &'a Store,
    targets: Vec<Target>,
    api: Option<ApiAccess>,
    matcher: std::sync::Arc<crashdsr_search::Matcher>,
    journal: BTreeMap<i64, (StepState, String)>,
    checkpoints: AtomicU64,
    pause_at: Option<u64>,
    outcome: Outcome,
}

impl Run<'_> {
    fn checkpoint(&self) {
        let n = self.checkpoints.fetch_add(1, Ordering::SeqCst) + 1;
        if self.pause_at == Some(n) {
            eprintln!("crashdsr: paused at checkpoint {n}");
            loop {
                std::thread::sleep(std::time::Duration::from_secs(3600));
            }
        }
    }

    async fn note(&mut self, step: i64, state: StepState, detail: &str) -> Result<()> {
        self.store
            .journal(self.plan_id, step, state, detail)
            .await?;
        self.journal.insert(step, (state, detail.to_owned()));
        self.checkpoint();
        Ok(())
    }

    fn prior(&self, step: i64) -> Option<(StepState, String)> {
        self.journal.get(&step).cloned()
    }

    fn skipped(source: usize, object: &str, why: String) -> Skipped {
        Skipped {
            source,
            object: object.to_owned(),
            why,
        }
    }

    async fn refuse(&mut self, step: i64, source: usize, object: &str, why: String) -> Result<()> {
        self.note(step, StepState::Refused, &why).await?;
        self.outcome
            .refused
            .push(Self::skipped(source, object, why));
        Ok(())
    }

    async fn vanish(&mut self, step: i64, source: usize, object: &str) -> Result<()> {
        let why = "it is gone: deleted by someone else since planning; nothing to do".to_owned();
        self.note(step, StepState::Vanished, &why).await?;
        self.outcome
            .vanished
            .push(Self::skipped(source, object, why));
        Ok(())
    }

    fn changed(planned: &str, now: &str) -> String {
        format!(
            "its SHA-256 is {now}, not the planned {planned}: it changed after planning; it was left alone (plan again to include it)"
        )
    }

    async fn rewrite(&mut self, step: i64, r: &Rewrite) -> Result<()> {
        let done = |new: String| Rewritten {
            source: r.source.number(),
            object: r.object.clone(),
            old_sha256: r.sha256.clone(),
            new_sha256: new,
            records_dropped: r.drop.len(),
            records_kept: r.records - r.drop.len(),
            records_masked: r.redact.len(),
        };
        let matcher = self.matcher.clone();
        let new = self
            .replace(step, r.source, &r.object, &r.sha256, |bytes| {
                crate::rewrite::rewrite(bytes, &r.drop, &r.redact, &*matcher)
                    .map(|n| n.bytes)
                    .map_err(|why| format!("it cannot be rewritten safely: {why}"))
            })
            .await?;
        if let Some(new) = new {
            self.outcome.rewritten.push(done(new));
        }
        Ok(())
    }

    async fn redact(&mut self, step: i64, r: &Redact) -> Result<()> {
        let matcher = self.matcher.clone();
        let new = self
            .replace(step, r.source, &r.object, &r.sha256, |bytes| {
                match crashdsr_search::redact::mask_object(
                    bytes,
                    &*matcher,
                    &crashdsr_search::Limits::default(),
                ) {
                    Ok(Some(m)) => Ok(m.bytes),
                    Ok(None) => Err("the person's data is no longer found in it".into()),
                    Err(why) => Err(format!("it cannot be masked: {why}")),
                }
            })
            .await?;
        if let Some(new) = new {
            self.outcome.redacted.push(Redacted {
                source: r.source.number(),
                object: r.object.clone(),
                old_sha256: r.sha256.clone(),
                new_sha256: new,
                spans: r.spans,
            });
        }
        Ok(())
    }

    /// Replaces an object with what `change` makes of it: checked against
    /// its planned SHA-256, written to a temporary copy, journaled, then
    /// replaced on its version. The new SHA-256 when done; `None` when the
    /// object was refused or is gone.
    async fn replace(
        &mut self,
        step: i64,
        source: SourceId,
        object: &str,
        planned: &str,
        change: impl FnOnce(&[u8]) -> std::result::Result<Vec<u8>, String>,
    ) -> Result<Option<String>> {
        let target = self.targets[source.index()].clone();
        let number = source.number();
        if let Some(ended) = self.replay(step, number, object) {
            return Ok(ended);
        }
        let prior = self.prior(step);
        let temp = format!("{object}{TEMP_SUFFIX}");
        let Some(current) = target.read(object).await? else {
            self.vanish(step, number, object).await?;
            return Ok(None);
        };
        let now = sha(&current.bytes);
        if let Some((StepState::Written, new)) = prior.clone()
            && now == new
        {
            // Replaced before the last run stopped: only the temporary
            // copy may be left.
            target.delete(&temp).await?;
            self.note(step, StepState::Done, &new).await?;
            return Ok(Some(new));
        }
        if now != planned {
            target.delete(&temp).await?;
            self.refuse(step, number, object, Self::changed(planned, &now))
                .await?;
            return Ok(None);
        }
        let new = match change(&current.bytes) {
            Ok(n) => n,
            Err(why) => {
                self.refuse(step, number, object, why).await?;
                return Ok(None);
            }
        };
        let new_sha = sha(&new);
        self.note(step, StepState::Started, "").await?;
        target.write_temp(object, &new).await?;
        self.checkpoint();
        self.note(step, StepState::Written, &new_sha).await?;
        match target
            .replace(object, &temp, &new, current.version.as_ref())
            .await
        {
            Ok(()) => {}
            Err(Error::Changed { .. }) => {
                target.delete(&temp).await?;
                self.refuse(
                    step,
                    number,
                    object,
                    "it changed while it was being rewritten (its ETag moved); it was left alone"
                        .into(),
                )
                .await?;
                return Ok(None);
            }
            Err(e) => return Err(e),
        }
        self.checkpoint();
        self.note(step, StepState::Done, &new_sha).await?;
        Ok(Some(new_sha))
    }

    /// A step the journal says has ended: a refusal or a vanishing goes
    /// into the outcome again (`Some(None)`), a done step gives its detail
    /// (`Some(Some(detail))`); `None` if the step has not ended.
    fn replay(&mut self, step: i64, source: usize, object: &str) -> Option<Option<String>> {
        let (state, detail) = self.prior(step)?;
        let list = match state {
            StepState::Done => return Some(Some(detail)),
            StepState::Refused => &mut self.outcome.refused,
            StepState::Vanished => &mut self.outcome.vanished,
            StepState::Started | StepState::Written => return None,
        };
        list.push(Self::skipped(source, object, detail));
        Some(None)
    }

    /// Deletes one crash through the API (source 0 in the outcome).
    async fn api_crash(&mut self, step: i64, app: &str, c: &ApiCrash) -> Result<()> {
        let object = format!("{app}: crash {}", c.error_id);
        if let Some(done) = self.replay(step, 0, &object) {
            if done.is_some() {
                self.outcome.api_deleted.push(c.error_id.clone());
            }
            return Ok(());
        }
        let Some(group) = &c.error_group_id else {
            return self
                .refuse(
                    step,
                    0,
                    &object,
                    "its error group was found neither in an archive nor through the API (it is past the API's retention, or was never there); not deleted through the API".into(),
                )
                .await;
        };
        let api = self.api.clone().expect("checked before the run");
        self.note(step, StepState::Started, "").await?;
        let deleted = crate::api::delete_crash(&api, group, &c.error_id).await?;
        self.checkpoint();
        if deleted {
            self.note(step, StepState::Done, "deleted").await?;
            self.outcome.api_deleted.push(c.error_id.clone());
            Ok(())
        } else {
            self.vanish(step, 0, &object).await
        }
    }

    /// Blocks one install through the API (source 0 in the outcome).
    async fn api_install(&mut self, step: i64, app: &str, i: &ApiInstall) -> Result<()> {
        let object = format!("{app}: install with keyed hash {}", i.keyed_hash);
        if let Some(done) = self.replay(step, 0, &object) {
            if done.is_some() {
                self.outcome.blocked.push(i.keyed_hash.clone());
            }
            return Ok(());
        }
        let api = self.api.clone().expect("checked before the run");
        let value = match crate::api::read_install(&self.targets, i).await? {
            Ok(v) if keyed_hash(&api.key, &v) == i.keyed_hash => v,
            Ok(_) => {
                return self
                    .refuse(
                        step,
                        0,
                        &object,
                        format!(
                            "{}: the record there holds another install id now; not blocked",
                            i.object
                        ),
                    )
                    .await;
            }
            Err(why) => {
                return self
                    .refuse(
                        step,
                        0,
                        &object,
                        format!("{}: {why}; not blocked", i.object),
                    )
                    .await;
            }
        };
        self.note(step, StepState::Started, "").await?;
        crate::api::block(&api, &value, &i.keyed_hash).await?;
        self.checkpoint();
        self.note(step, StepState::Done, "blocked").await?;
        self.outcome.blocked.push(i.keyed_hash.clone());
        Ok(())
    }

    /// Journals `state` for several steps in one transaction.
    async fn note_many(&mut self, steps: &[(i64, &Delete)], state: StepState) -> Result<()> {
        if steps.is_empty() {
            return Ok(());
        }
        let rows: Vec<(i64, StepState, &str)> =
            steps.iter().map(|(n, _)| (*n, state, "")).collect();
        self.store.journal_many(self.plan_id, &rows).await?;
        for (n, _) in steps {
            self.journal.insert(*n, (state, String::new()));
        }
        self.checkpoint();
        Ok(())
    }

    /// Deletes a chunk of objects, steps `first..`: each is read and
    /// checked against its planned SHA-256; the deletions are journaled as
    /// started in one transaction, run [`IN_FLIGHT`] at a time, then
    /// journaled as done in one transaction. Round trips to a store
    /// overlap, and the journal's promise holds for each object: started
    /// before it is deleted, done after.
    async fn delete_chunk(&mut self, first: usize, chunk: &[Delete]) -> Result<()> {
        let gone = |d: &Delete| Deleted {
            source: d.source.number(),
            object: d.object.clone(),
            sha256: d.sha256.clone(),
        };
        let mut todo = Vec::new();
        for (n, d) in chunk.iter().enumerate() {
            let step = (first + n) as i64;
            match self.replay(step, d.source.number(), &d.object) {
                Some(Some(_)) => self.outcome.deleted.push(gone(d)),
                Some(None) => {}
                None => todo.push((step, d)),
            }
        }
        let targets = &self.targets;
        let reads: Vec<_> = stream::iter(
            todo.iter()
                .map(|(_, d)| targets[d.source.index()].read(&d.object)),
        )
        .buffered(IN_FLIGHT)
        .collect()
        .await;
        let mut go = Vec::new();
        for ((step, d), read) in todo.into_iter().zip(reads) {
            match read? {
                // Deleted before the last run stopped (its empty folder
                // may be left): delete again, which only tidies.
                None if self.prior(step).is_some() => go.push((step, d)),
                None => self.vanish(step, d.source.number(), &d.object).await?,
                Some(current) => {
                    let now = sha(&current.bytes);
                    if now == d.sha256 {
                        go.push((step, d));
                    } else {
                        self.refuse(
                            step,
                            d.source.number(),
                            &d.object,
                            Self::changed(&d.sha256, &now),
                        )
                        .await?;
                    }
                }
            }
        }
        self.note_many(&go, StepState::Started).await?;
        let this = &*self;
        let deleted: Vec<Result<()>> = stream::iter(go.iter().map(|(_, d)| async move {
            let done = this.targets[d.source.index()].delete(&d.object).await;
            if done.is_ok() {
                this.checkpoint();
            }
            done
        }))
        .buffered(IN_FLIGHT)
        .collect()
        .await;
        // On an error the run stops; the objects deleted are journaled as
        // started, and a rerun finds them gone and records them done.
        deleted.into_iter().collect::<Result<Vec<()>>>()?;
        self.note_many(&go, StepState::Done).await?;
        self.outcome.deleted.extend(go.iter().map(|(_, d)| gone(d)));
        Ok(())
    }
}

/// Runs `plan` on its sources, journaled in `store`. `progress` gets
/// `(done, total)` after each step.
pub async fn apply(
    plan: &Plan,
    store: &Store,
    opts: &ApplyOptions,
    progress: &dyn Fn(usize, usize),
) -> Result<Outcome> {
    let targets = plan
        .sources
        .iter()
        .map(|s| Target::open(s))
        .collect::<Result<Vec<_>>>()?;
    apply_to(plan, targets, store, opts, progress).await
}

/// [`apply`] on given targets, one per source of the plan, in order (a
/// store with its own credentials, or a test's store).
pub async fn apply_to(
    plan: &Plan,
    targets: Vec<Target>,
    store: &Store,
    opts: &ApplyOptions,
    progress: &dyn Fn(usize, usize),
) -> Result<Outcome> {
    if targets.len() != plan.sources.len() {
        return Err(Error::Plan(format!(
            "the plan has {} sources, {} targets were given",
            plan.sources.len(),
            targets.len()
        )));
    }
    let journal = store
        .journaled(&plan.plan_id)
        .await?
        .into_iter()
        .map(|s| (s.step, (s.state, s.detail)))
        .collect();
    if plan.api.is_some() && opts.api.is_none() {
        return Err(Error::Plan(
            "this plan also deletes through the API: run --apply with --api (and the API token)"
                .into(),
        ));
    }
    let masks = !plan.redacts.is_empty() || plan.rewrites.iter().any(|r| !r.redact.is_empty());
    if masks && opts.subjects.is_empty() {
        return Err(Error::Plan(
            "this plan masks the person's data in someone else's crash: run --apply with the same --subject/--subjects".into(),
        ));
    }
    let mut run = Run {
        plan_id: &plan.plan_id,
        store,
        targets,
        api: opts.api.clone(),
        matcher: std::sync::Arc::new(crashdsr_search::Matcher::new(opts.subjects.clone())),
        journal,
        checkpoints: AtomicU64::new(0),
        pause_at: opts.pause_at,
        outcome: Outcome::default(),
    };
    // Journal steps: rewrites, redactions, deletes, then the API's; the
    // API's run first, while the records that hold the install ids are
    // still there.
    let total = plan.steps();
    let mut done = 0;
    let mut tick = || {
        done += 1;
        progress(done, total);
    };
    let mut step = (plan.rewrites.len() + plan.redacts.len() + plan.deletes.len()) as i64;
    if let Some(api) = &plan.api {
        for c in &api.crashes {
            run.api_crash(step, &api.app, c).await?;
            step += 1;
            tick();
        }
        for i in &api.installs {
            run.api_install(step, &api.app, i).await?;
            step += 1;
            tick();
        }
    }
    for (n, r) in plan.rewrites.iter().enumerate() {
        run.rewrite(n as i64, r).await?;
        tick();
    }
    let base = plan.rewrites.len();
    for (n, r) in plan.redacts.iter().enumerate() {
        run.redact((base + n) as i64, r).await?;
        tick();
    }
    let base = base + plan.redacts.len();
    for (c, chunk) in plan.deletes.chunks(CHUNK).enumerate() {
        run.delete_chunk(base + c * CHUNK, chunk).await?;
        chunk.iter().for_each(|_| tick());
    }
    Ok(run.outcome)
}

/// What a purge did: counts, with the objects deleted and those left
/// alone written a line at a time to `deleted.jsonl` and
/// `left-alone.jsonl` in the spool directory given to [`apply_purge`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PurgeOutcome {
    /// Objects deleted.
    pub deleted: u64,
    /// Objects refused: changed since planning.
    pub refused: u64,
    /// Objects gone before they could be touched.
    pub vanished: u64,
    /// One [`Deleted`] per line.
    pub deleted_file: std::path::PathBuf,
    /// One [`Skipped`] per line, with its `state` (`refused`, `vanished`).
    pub left_alone_file: std::path::PathBuf,
}

/// A line of `left-alone.jsonl`.
#[derive(Serialize)]
struct LeftAlone<'a> {
    state: &'static str,
    #[serde(flatten)]
    skipped: &'a Skipped,
}

/// Runs a purge plan, streamed: its deletes are read from the plan file
/// [`CHUNK`] at a time, the journal is read back for that chunk only, and
/// what was done goes to files in `spool`, so memory does not grow with
/// the plan. `progress` gets `(done, total)` after each chunk.
pub async fn apply_purge(
    plan: &crate::PurgePlan,
    store: &Store,
    opts: &ApplyOptions,
    spool: &std::path::Path,
    progress: &dyn Fn(u64, u64),
) -> Result<PurgeOutcome> {
    let targets = plan
        .sources
        .iter()
        .map(|s| Target::open(s))
        .collect::<Result<Vec<_>>>()?;
    let mut run = Run {
        plan_id: &plan.plan_id,
        store,
        targets,
        api: None,
        matcher: std::sync::Arc::new(crashdsr_search::Matcher::new(Vec::new())),
        journal: BTreeMap::new(),
        checkpoints: AtomicU64::new(0),
        pause_at: opts.pause_at,
        outcome: Outcome::default(),
    };
    let spooled = |name: &str| {
        let path = spool.join(name);
        std::fs::File::create(&path)
            .map(|f| (std::io::BufWriter::new(f), path.clone()))
            .map_err(|e| spool_error(&path, &e))
    };
    let (mut deleted, deleted_file) = spooled("deleted.jsonl")?;
    let (mut left, left_alone_file) = spooled("left-alone.jsonl")?;
    let mut out = PurgeOutcome {
        deleted: 0,
        refused: 0,
        vanished: 0,
        deleted_file,
        left_alone_file,
    };
    let mut each = plan.each_delete()?;
    let mut step = 0usize;
    loop {
        let chunk: Vec<Delete> = each.by_ref().take(CHUNK).collect::<Result<_>>()?;
        if chunk.is_empty() {
            break;
        }
        let steps = step as i64..(step + chunk.len()) as i64;
        run.journal = store
            .journaled_range(&plan.plan_id, steps)
            .await?
            .into_iter()
            .map(|s| (s.step, (s.state, s.detail)))
            .collect();
        run.delete_chunk(step, &chunk).await?;
        for d in run.outcome.deleted.drain(..) {
            write_line(&mut deleted, &out.deleted_file, &d)?;
            out.deleted += 1;
        }
        for (state, list) in [
            ("refused", &mut run.outcome.refused),
            ("vanished", &mut run.outcome.vanished),
        ] {
            for s in list.drain(..) {
                write_line(
                    &mut left,
                    &out.left_alone_file,
                    &LeftAlone { state, skipped: &s },
                )?;
                if state == "refused" {
                    out.refused += 1;
                } else {
                    out.vanished += 1;
                }
            }
        }
        step += chunk.len();
        progress(step as u64, plan.deletes);
    }
    for (w, path) in [(deleted, &out.deleted_file), (left, &out.left_alone_file)] {
        w.into_inner()
            .map_err(|e| spool_error(path, e.error()))?
            .sync_all()
            .map_err(|e| spool_error(path, &e))?;
    }
    Ok(out)
}

fn spool_error(path: &std::path::Path, e: &std::io::Error) -> Error {
    Error::Store {
        object: path.display().to_string(),
        what: "writing".into(),
        message: e.to_string(),
    }
}

/// `v` as one JSON line.
fn write_line(
    w: &mut impl std::io::Write,
    path: &std::path::Path,
    v: &impl Serialize,
) -> Result<()> {
    let mut line = serde_json::to_vec(v).expect("an outcome line serialises");
    line.push(b'\n');
    w.write_all(&line).map_err(|e| spool_error(path, &e))
}
