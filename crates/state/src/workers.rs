//! Where each running `fetch` is, as it last reported itself (`status`
//! reads it).

use std::time::Duration;

use sqlx::Row;

use crate::error::{Error, Result};
use crate::{StateStore, now_ms};

/// Where a running `fetch` is, as it last reported itself.
#[derive(Debug, Clone, PartialEq)]
pub struct WorkerReport {
    /// The worker's name (`host:pid`).
    pub worker: String,
    /// `OWNER/APP`.
    pub app: String,
    /// Crashes this run has handled.
    pub done: i64,
    /// Crashes this run set out to handle.
    pub total: i64,
    /// The pacer's current rate (requests per second), if pacing is on.
    pub rate_per_sec: Option<f64>,
    /// The configured rate.
    pub max_per_sec: Option<f64>,
    /// 429 answers in the last minute.
    pub throttled_last_minute: i64,
    /// Estimated seconds left.
    pub eta_secs: Option<i64>,
    /// When it reported (Unix ms).
    pub updated_at: i64,
}

impl WorkerReport {
    /// The pacer runs more than 1% below its configured rate.
    pub fn slowed(&self) -> bool {
        matches!((self.rate_per_sec, self.max_per_sec), (Some(r), Some(m)) if r < 0.99 * m)
    }
}

impl StateStore {
    /// Records where a running worker is (`status` shows it).
    pub async fn report_worker(&self, r: &WorkerReport) -> Result<()> {
        on_pool!(self, p => sqlx::query(
            "INSERT INTO workers (worker, app, done, total, rate_per_sec, max_per_sec, throttled_last_minute, eta_secs, updated_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
             ON CONFLICT (worker) DO UPDATE SET app = excluded.app, done = excluded.done, total = excluded.total,
               rate_per_sec = excluded.rate_per_sec, max_per_sec = excluded.max_per_sec,
               throttled_last_minute = excluded.throttled_last_minute, eta_secs = excluded.eta_secs,
               updated_at = excluded.updated_at")
            .bind(&r.worker).bind(&r.app).bind(r.done).bind(r.total).bind(r.rate_per_sec).bind(r.max_per_sec)
            .bind(r.throttled_last_minute).bind(r.eta_secs).bind(r.updated_at)
            .execute(p).await.map(drop))
        .map_err(Error::store("recording a worker's progress"))
    }

    /// Forgets a worker that finished.
    pub async fn finish_worker(&self, worker: &str) -> Result<()> {
        on_pool!(self, p => sqlx::query("DELETE FROM workers WHERE worker = $1")
            .bind(worker).execute(p).await.map(drop))
        .map_err(Error::store("removing a finished worker"))
    }

    /// Workers that reported within `fresh`, by app and name.
    pub async fn workers(&self, fresh: Duration) -> Result<Vec<WorkerReport>> {
        let since = now_ms() - fresh.as_millis() as i64;
        on_pool!(self, p => sqlx::query(
            "SELECT worker, app, done, total, rate_per_sec, max_per_sec, throttled_last_minute, eta_secs, updated_at
             FROM workers WHERE updated_at >= $1 ORDER BY app, worker")
            .bind(since).fetch_all(p).await
            .map(|rows| rows.iter().map(|r| WorkerReport {
                worker: r.get(0), app: r.get(1), done: r.get(2), total: r.get(3), rate_per_sec: r.get(4),
                max_per_sec: r.get(5), throttled_last_minute: r.get(6), eta_secs: r.get(7), updated_at: r.get(8),
            }).collect()))
        .map_err(Error::store("listing workers"))
    }
}
