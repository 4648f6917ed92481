//! The index's segment tasks: a work queue that any number of `index build`
//! and `index update` processes, on any number of machines, share. Each
//! claims one segment at a time with a lease (`FOR UPDATE SKIP LOCKED` on
//! PostgreSQL), builds it, and records what it wrote; a dead worker's
//! segment is taken over when its lease expires (at once when it was a
//! process of the same host, [`crate::leases`]).

use std::time::Duration;

use sqlx::Row;

use crate::error::{Error, Result};
use crate::{Pool, StateStore, now_ms};

/// One segment to build.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SegmentTask {
    /// The segment's name.
    pub segment: String,
    /// The fingerprint of its objects when it was queued.
    pub fingerprint: String,
}

/// How far the tasks of one index are.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TaskCounts {
    /// The index.
    pub index: String,
    /// Segments to build, not leased.
    pub pending: i64,
    /// Segments being built (leased).
    pub leased: i64,
    /// Segments built.
    pub done: i64,
}

impl StateStore {
    /// Queues `tasks` for `index`. A segment already queued with the same
    /// fingerprint is left as it is (built or not); with another one it is
    /// queued again.
    pub async fn queue_segments(&self, index: &str, tasks: &[SegmentTask]) -> Result<()> {
        let now = now_ms();
        for t in tasks {
            on_pool!(self, p => sqlx::query(
                "INSERT INTO index_tasks (index_url, segment, fingerprint, status, entry, lease_owner, lease_expires, updated_at)
                 VALUES ($1, $2, $3, 'pending', NULL, NULL, NULL, $4)
                 ON CONFLICT (index_url, segment) DO UPDATE SET fingerprint = excluded.fingerprint,
                   status = 'pending', entry = NULL, lease_owner = NULL, lease_expires = NULL, updated_at = excluded.updated_at
                 WHERE index_tasks.fingerprint <> excluded.fingerprint")
                .bind(index).bind(&t.segment).bind(&t.fingerprint).bind(now)
                .execute(p).await.map(drop))
            .map_err(Error::store("queueing index segments"))?;
        }
        Ok(())
    }

    /// Queues `segments` of `index` again, built or not (a rebuild, or
    /// files gone since they were built); segments being built are left to
    /// their worker.
    pub async fn requeue_segments(&self, index: &str, segments: &[String]) -> Result<()> {
        let now = now_ms();
        for segment in segments {
            on_pool!(self, p => sqlx::query(
                "UPDATE index_tasks SET status = 'pending', entry = NULL, updated_at = $1
                 WHERE index_url = $2 AND segment = $3 AND status = 'done'")
                .bind(now).bind(index).bind(segment)
                .execute(p).await.map(drop))
            .map_err(Error::store("queueing index segments again"))?;
        }
        Ok(())
    }

    /// Claims one pending segment of `index` for `worker` for `lease`: one
    /// not leased, or whose lease expired, or that `worker` already held.
    pub async fn claim_segment(
        &self,
        index: &str,
        worker: &str,
        lease: Duration,
    ) -> Result<Option<SegmentTask>> {
        let now = now_ms();
        let until = now + lease.as_millis() as i64;
        let pick = "SELECT segment FROM index_tasks WHERE index_url = $3 AND status = 'pending'
                    AND (lease_owner IS NULL OR lease_expires < $4 OR lease_owner = $1)
                    ORDER BY segment LIMIT 1";
        let row = match &self.pool {
            Pool::Postgres(p) => {
                let sql = format!(
                    "WITH picked AS ({pick} FOR UPDATE SKIP LOCKED)
                     UPDATE index_tasks SET lease_owner = $1, lease_expires = $2 FROM picked
                     WHERE index_tasks.index_url = $3 AND index_tasks.segment = picked.segment
                     RETURNING index_tasks.segment, index_tasks.fingerprint"
                );
                sqlx::query(sqlx::AssertSqlSafe(sql.as_str()))
                    .bind(worker)
                    .bind(until)
                    .bind(index)
                    .bind(now)
                    .fetch_optional(p)
                    .await
                    .map(|r| r.map(|r| (r.get(0), r.get(1))))
            }
            Pool::Sqlite(p) => {
                let sql = format!(
                    "UPDATE index_tasks SET lease_owner = $1, lease_expires = $2
                     WHERE index_url = $3 AND segment IN ({pick})
                     RETURNING segment, fingerprint"
                );
                sqlx::query(sqlx::AssertSqlSafe(sql.as_str()))
                    .bind(worker)
                    .bind(until)
                    .bind(index)
                    .bind(now)
                    .fetch_optional(p)
                    .await
                    .map(|r| r.map(|r| (r.get(0), r.get(1))))
            }
        }
        .map_err(Error::store("claiming an index segment"))?;
        Ok(row.map(|(segment, fingerprint)| SegmentTask {
            segment,
            fingerprint,
        }))
    }

    /// Extends the leases `worker` holds on pending segments.
    pub async fn renew_segments(&self, worker: &str, lease: Duration) -> Result<()> {
        let until = now_ms() + lease.as_millis() as i64;
        on_pool!(self, p => sqlx::query(
            "UPDATE index_tasks SET lease_expires = $1 WHERE lease_owner = $2 AND status = 'pending'")
            .bind(until).bind(worker).execute(p).await.map(drop))
        .map_err(Error::store("renewing index segment leases"))
    }

    /// Records a segment built: `entry` is what the manifest will say of
    /// it. Only the worker that holds the lease records it.
    pub async fn finish_segment(
        &self,
        index: &str,
        segment: &str,
        worker: &str,
        entry: &str,
    ) -> Result<()> {
        on_pool!(self, p => sqlx::query(
            "UPDATE index_tasks SET status = 'done', entry = $1, lease_owner = NULL, lease_expires = NULL, updated_at = $2
             WHERE index_url = $3 AND segment = $4 AND status = 'pending' AND lease_owner = $5")
            .bind(entry).bind(now_ms()).bind(index).bind(segment).bind(worker)
            .execute(p).await.map(drop))
        .map_err(Error::store("recording an index segment built"))
    }

    /// What was recorded of each segment built for `index`, by name.
    pub async fn built_segments(&self, index: &str) -> Result<Vec<(String, String)>> {
        on_pool!(self, p => sqlx::query(
            "SELECT segment, entry FROM index_tasks WHERE index_url = $1 AND status = 'done' ORDER BY segment")
            .bind(index).fetch_all(p).await
            .map(|rows| rows.iter().map(|r| (r.get(0), r.get(1))).collect()))
        .map_err(Error::store("listing index segments built"))
    }

    /// The workers holding leases on pending segments.
    pub async fn segment_lease_owners(&self) -> Result<Vec<String>> {
        on_pool!(self, p => sqlx::query(
            "SELECT DISTINCT lease_owner FROM index_tasks WHERE lease_owner IS NOT NULL AND status = 'pending' ORDER BY lease_owner")
            .fetch_all(p).await.map(|rows| rows.iter().map(|r| r.get(0)).collect()))
        .map_err(Error::store("listing the workers that hold segment leases"))
    }

    /// Drops every segment lease `worker` holds (a clean stop, or a dead
    /// process of this host).
    pub async fn release_segments(&self, worker: &str) -> Result<()> {
        on_pool!(self, p => sqlx::query(
            "UPDATE index_tasks SET lease_owner = NULL, lease_expires = NULL WHERE lease_owner = $1 AND status = 'pending'")
            .bind(worker).execute(p).await.map(drop))
        .map_err(Error::store("releasing segment leases"))
    }

    /// Forgets the tasks of `index` (once its manifest names what they
    /// built).
    pub async fn clear_segments(&self, index: &str) -> Result<()> {
        on_pool!(self, p => sqlx::query("DELETE FROM index_tasks WHERE index_url = $1 AND status = 'done'")
            .bind(index).execute(p).await.map(drop))
        .map_err(Error::store("clearing index segment tasks"))
    }

    /// How far the segment tasks of every index are.
    pub async fn segment_counts(&self) -> Result<Vec<TaskCounts>> {
        let now = now_ms();
        on_pool!(self, p => sqlx::query(
            "SELECT index_url,
                    COALESCE(SUM(CASE WHEN status = 'pending' AND (lease_owner IS NULL OR lease_expires < $1) THEN 1 ELSE 0 END), 0),
                    COALESCE(SUM(CASE WHEN status = 'pending' AND lease_owner IS NOT NULL AND lease_expires >= $1 THEN 1 ELSE 0 END), 0),
                    COALESCE(SUM(CASE WHEN status = 'done' THEN 1 ELSE 0 END), 0)
             FROM index_tasks GROUP BY index_url ORDER BY index_url")
            .bind(now).fetch_all(p).await
            .map(|rows| rows.iter().map(|r| TaskCounts {
                index: r.get(0), pending: r.get(1), leased: r.get(2), done: r.get(3),
            }).collect()))
        .map_err(Error::store("counting index segment tasks"))
    }
}
