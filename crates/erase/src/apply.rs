//! Running a plan: rewrites first, whole-object deletes last, every step
//! journaled in the state store before and after it runs, so that a run
//! killed at any point and started again with the same plan finishes the
//! job. An object whose SHA-256 is not the planned one is refused and left
//! alone; one that is gone is reported; an immutability policy, a legal
//! hold or a read-only credential stops the run with the object named.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};

use crashdsr_crawl::Store;
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::plan::{Delete, Plan, Rewrite};
use crate::target::{TEMP_SUFFIX, Target};
use crate::{Error, Result};

/// How to run.
#[derive(Debug, Clone, Default)]
pub struct ApplyOptions {
    /// Stop for good at this checkpoint (1-based), printing a line: the
    /// kill tests' hook for killing a run at an exact point.
    pub pause_at: Option<u64>,
}

/// A rewritten blob.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Rewritten {
    /// Which source, from 1.
    pub source: usize,
    /// The blob.
    pub object: String,
    /// Its SHA-256 before.
    pub old_sha256: String,
    /// Its SHA-256 after.
    pub new_sha256: String,
    /// Records dropped.
    pub records_dropped: usize,
    /// Records kept, byte for byte.
    pub records_kept: usize,
}

/// A deleted object.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Deleted {
    /// Which source, from 1.
    pub source: usize,
    /// The object.
    pub object: String,
    /// Its SHA-256.
    pub sha256: String,
}

/// An object left alone.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Skipped {
    /// Which source, from 1.
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
    /// Objects deleted.
    pub deleted: Vec<Deleted>,
    /// Objects refused: changed since planning.
    pub refused: Vec<Skipped>,
    /// Objects gone before they could be touched.
    pub vanished: Vec<Skipped>,
}

fn sha(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

struct Run<'a> {
    plan: &'a Plan,
    store: &'a Store,
    targets: Vec<Target>,
    journal: BTreeMap<i64, (String, String)>,
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

    async fn note(&mut self, step: i64, state: &str, detail: &str) -> Result<()> {
        self.store
            .journal(&self.plan.plan_id, step, state, detail)
            .await
            .map_err(|e| Error::Journal(e.to_string()))?;
        self.journal
            .insert(step, (state.to_owned(), detail.to_owned()));
        self.checkpoint();
        Ok(())
    }

    fn prior(&self, step: i64) -> Option<(String, String)> {
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
        self.note(step, "refused", &why).await?;
        self.outcome
            .refused
            .push(Self::skipped(source, object, why));
        Ok(())
    }

    async fn vanish(&mut self, step: i64, source: usize, object: &str) -> Result<()> {
        let why = "it is gone: deleted by someone else since planning; nothing to do".to_owned();
        self.note(step, "vanished", &why).await?;
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
        let target = self.targets[r.source - 1].clone();
        let done = |new: String| Rewritten {
            source: r.source,
            object: r.object.clone(),
            old_sha256: r.sha256.clone(),
            new_sha256: new,
            records_dropped: r.drop.len(),
            records_kept: r.records - r.drop.len(),
        };
        let prior = self.prior(step);
        match prior.as_ref().map(|(s, d)| (s.as_str(), d.clone())) {
            Some(("done", new)) => {
                self.outcome.rewritten.push(done(new));
                return Ok(());
            }
            Some(("refused", why)) => {
                self.outcome
                    .refused
                    .push(Self::skipped(r.source, &r.object, why));
                return Ok(());
            }
            Some(("vanished", why)) => {
                self.outcome
                    .vanished
                    .push(Self::skipped(r.source, &r.object, why));
                return Ok(());
            }
            _ => {}
        }
        let temp = format!("{}{TEMP_SUFFIX}", r.object);
        let Some(current) = target.read(&r.object).await? else {
            return self.vanish(step, r.source, &r.object).await;
        };
        let now = sha(&current.bytes);
        if let Some(("written", new)) = prior.as_ref().map(|(s, d)| (s.as_str(), d.clone()))
            && now == new
        {
            // Replaced before the last run stopped: only the temporary
            // copy may be left.
            target.delete(&temp).await?;
            self.note(step, "done", &new).await?;
            self.outcome.rewritten.push(done(new));
            return Ok(());
        }
        if now != r.sha256 {
            target.delete(&temp).await?;
            return self
                .refuse(step, r.source, &r.object, Self::changed(&r.sha256, &now))
                .await;
        }
        let new = match crate::rewrite::rewrite(&current.bytes, &r.drop) {
            Ok(n) => n,
            Err(why) => {
                return self
                    .refuse(
                        step,
                        r.source,
                        &r.object,
                        format!("it cannot be rewritten safely: {why}"),
                    )
                    .await;
            }
        };
        let new_sha = sha(&new.bytes);
        self.note(step, "started", "").await?;
        target.write_temp(&r.object, &new.bytes).await?;
        self.checkpoint();
        self.note(step, "written", &new_sha).await?;
        match target
            .replace(&r.object, &temp, &new.bytes, current.version.as_ref())
            .await
        {
            Ok(()) => {}
            Err(Error::Changed { .. }) => {
                target.delete(&temp).await?;
                return self
                    .refuse(
                        step,
                        r.source,
                        &r.object,
                        "it changed while it was being rewritten (its ETag moved); it was left alone".into(),
                    )
                    .await;
            }
            Err(e) => return Err(e),
        }
        self.checkpoint();
        self.note(step, "done", &new_sha).await?;
        self.outcome.rewritten.push(done(new_sha));
        Ok(())
    }

    async fn delete(&mut self, step: i64, d: &Delete) -> Result<()> {
        let target = self.targets[d.source - 1].clone();
        let gone = Deleted {
            source: d.source,
            object: d.object.clone(),
            sha256: d.sha256.clone(),
        };
        let prior = self.prior(step);
        match prior.as_ref().map(|(s, d)| (s.as_str(), d.clone())) {
            Some(("done", _)) => {
                self.outcome.deleted.push(gone);
                return Ok(());
            }
            Some(("refused", why)) => {
                self.outcome
                    .refused
                    .push(Self::skipped(d.source, &d.object, why));
                return Ok(());
            }
            Some(("vanished", why)) => {
                self.outcome
                    .vanished
                    .push(Self::skipped(d.source, &d.object, why));
                return Ok(());
            }
            _ => {}
        }
        let Some(current) = target.read(&d.object).await? else {
            if prior.is_some() {
                // Deleted before the last run stopped.
                self.note(step, "done", "").await?;
                self.outcome.deleted.push(gone);
                return Ok(());
            }
            return self.vanish(step, d.source, &d.object).await;
        };
        let now = sha(&current.bytes);
        if now != d.sha256 {
            return self
                .refuse(step, d.source, &d.object, Self::changed(&d.sha256, &now))
                .await;
        }
        self.note(step, "started", "").await?;
        target.delete(&d.object).await?;
        self.checkpoint();
        self.note(step, "done", "").await?;
        self.outcome.deleted.push(gone);
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
        .await
        .map_err(|e| Error::Journal(e.to_string()))?
        .into_iter()
        .map(|(step, state, detail)| (step, (state, detail)))
        .collect();
    let mut run = Run {
        plan,
        store,
        targets,
        journal,
        checkpoints: AtomicU64::new(0),
        pause_at: opts.pause_at,
        outcome: Outcome::default(),
    };
    let total = plan.steps();
    for (n, r) in plan.rewrites.iter().enumerate() {
        run.rewrite(n as i64, r).await?;
        progress(n + 1, total);
    }
    let base = plan.rewrites.len();
    for (n, d) in plan.deletes.iter().enumerate() {
        run.delete((base + n) as i64, d).await?;
        progress(base + n + 1, total);
    }
    Ok(run.outcome)
}
