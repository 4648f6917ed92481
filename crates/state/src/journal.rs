//! The erasure journal: each step of a plan, before and after it runs.

use sqlx::Row;

use crate::error::{Error, Result};
use crate::{StateStore, now_ms};

/// Where a step of an erasure plan is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StepState {
    /// About to run (a delete or a rewrite began).
    Started,
    /// A rewrite's temporary copy is written; the detail is the new
    /// SHA-256.
    Written,
    /// Done; the detail says what (the new SHA-256, `deleted`, `blocked`).
    Done,
    /// Left alone: the object changed since planning.
    Refused,
    /// Left alone: the object was gone.
    Vanished,
}

impl StepState {
    /// As stored.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Started => "started",
            Self::Written => "written",
            Self::Done => "done",
            Self::Refused => "refused",
            Self::Vanished => "vanished",
        }
    }

    fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "started" => Self::Started,
            "written" => Self::Written,
            "done" => Self::Done,
            "refused" => Self::Refused,
            "vanished" => Self::Vanished,
            _ => return None,
        })
    }
}

/// One journaled step: its number, state and detail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    /// The step's number in the plan.
    pub step: i64,
    /// Where it is.
    pub state: StepState,
    /// What the state needs to resume (a SHA-256, a reason).
    pub detail: String,
}

const UPSERT: &str = "INSERT INTO erasure_journal (plan_id, step, state, detail, updated_at) VALUES ($1, $2, $3, $4, $5)
     ON CONFLICT (plan_id, step) DO UPDATE SET state = excluded.state, detail = excluded.detail,
       updated_at = excluded.updated_at";

impl StateStore {
    /// Records the state of step `step` of an erasure plan (before and
    /// after it runs).
    pub async fn journal(
        &self,
        plan_id: &str,
        step: i64,
        state: StepState,
        detail: &str,
    ) -> Result<()> {
        on_pool!(self, p => sqlx::query(UPSERT)
            .bind(plan_id).bind(step).bind(state.as_str()).bind(detail).bind(now_ms())
            .execute(p).await.map(drop))
        .map_err(Error::store("writing the erasure journal"))
    }

    /// Records the states of several steps in one transaction: all of
    /// them, or none.
    pub async fn journal_many(
        &self,
        plan_id: &str,
        steps: &[(i64, StepState, &str)],
    ) -> Result<()> {
        if steps.is_empty() {
            return Ok(());
        }
        let now = now_ms();
        on_pool!(self, p => async {
            let mut tx = p.begin().await?;
            for (step, state, detail) in steps {
                sqlx::query(UPSERT)
                    .bind(plan_id).bind(*step).bind(state.as_str()).bind(*detail).bind(now)
                    .execute(&mut *tx).await?;
            }
            tx.commit().await
        }.await)
        .map_err(Error::store("writing the erasure journal"))
    }

    /// Every journaled step of a plan, in order. A state this version does
    /// not know is an error, not a step silently redone.
    pub async fn journaled(&self, plan_id: &str) -> Result<Vec<Step>> {
        self.journaled_range(plan_id, 0..i64::MAX).await
    }

    /// The journaled steps of a plan numbered within `steps`, in order: a
    /// large plan is replayed a range at a time.
    pub async fn journaled_range(
        &self,
        plan_id: &str,
        steps: std::ops::Range<i64>,
    ) -> Result<Vec<Step>> {
        let rows: Vec<(i64, String, String)> = on_pool!(self, p => sqlx::query(
            "SELECT step, state, detail FROM erasure_journal WHERE plan_id = $1 AND step >= $2 AND step < $3 ORDER BY step")
            .bind(plan_id).bind(steps.start).bind(steps.end).fetch_all(p).await
            .map(|rows| rows.iter().map(|r| (r.get(0), r.get(1), r.get(2))).collect()))
        .map_err(Error::store("reading the erasure journal"))?;
        rows.into_iter()
            .map(|(step, state, detail)| {
                let state = StepState::parse(&state).ok_or_else(|| {
                    Error::Config(format!(
                        "the erasure journal of plan {plan_id}: step {step} is in an unknown state {state:?}"
                    ))
                })?;
                Ok(Step {
                    step,
                    state,
                    detail,
                })
            })
            .collect()
    }
}
