//! The crawl's state: the seed's crash table (crash GUID,
//! `HasBeenRetrieved`) extended with status, attempts, leases, last error,
//! fetch time and the manifest digest, plus the inventory's saved cursors.

use std::time::Duration;

use sqlx::{QueryBuilder, Row};

use crate::error::{Error, Result};
use crate::{Pool, StateStore, now_ms};

/// Where a crash is in the crawl.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Status {
    /// Listed, not yet archived.
    Pending,
    /// Archived with a complete manifest (`HasBeenRetrieved`).
    Retrieved,
    /// Permanently failed (a 400, an unsafe id); the reason is kept.
    Failed,
    /// Failed transiently too often; set aside and reported.
    Parked,
    /// Deleted on the server (404) or no longer listed (past retention)
    /// before it was archived.
    Gone,
}

impl Status {
    /// The stored spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Retrieved => "retrieved",
            Self::Failed => "failed",
            Self::Parked => "parked",
            Self::Gone => "gone",
        }
    }

    fn parse(s: &str) -> Self {
        match s {
            "retrieved" => Self::Retrieved,
            "failed" => Self::Failed,
            "parked" => Self::Parked,
            "gone" => Self::Gone,
            _ => Self::Pending,
        }
    }
}

impl std::fmt::Display for Status {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A crash as the inventory lists it.
#[derive(Debug, Clone, PartialEq)]
pub struct ListedCrash {
    /// API error id.
    pub error_id: String,
    /// Group id.
    pub error_group_id: String,
    /// When it happened (Unix ms), if known.
    pub error_time: Option<i64>,
    /// The list said it has attachments (`None`: unknown, ask).
    pub has_attachments: Option<bool>,
    /// The list said it has session logs (`None`: unknown, ask).
    pub has_breadcrumbs: Option<bool>,
}

impl ListedCrash {
    /// The seed's Crash-Guid: the SDK id after the numeric prefix.
    pub fn crash_guid(&self) -> &str {
        self.error_id
            .split_once('-')
            .map_or(&self.error_id, |(_, g)| g)
    }
}

/// A crash claimed by a worker.
#[derive(Debug, Clone, PartialEq)]
pub struct Claim {
    /// App, `OWNER/APP`.
    pub app: String,
    /// The crash.
    pub crash: ListedCrash,
    /// Attempts before this one.
    pub attempts: i64,
}

/// Where an inventory run is.
#[derive(Debug, Clone, PartialEq)]
pub struct InventoryRun {
    /// Run number (1, 2, ...) for this app.
    pub run: i64,
    /// Cursor of the next group page (`None` with `!groups_done`: the
    /// first page).
    pub groups_cursor: Option<String>,
    /// All group pages are stored.
    pub groups_done: bool,
    /// Whether this run resumes an interrupted one.
    pub resumed: bool,
    /// Crashes of the app when the run started.
    pub crashes_at_start: i64,
}

/// Counts for `crashdsr status`.
#[derive(Debug, Clone, PartialEq)]
pub struct StatusCount {
    /// App.
    pub app: String,
    /// Status.
    pub status: Status,
    /// Crashes in it.
    pub count: i64,
}

/// A crash's last error, for `crashdsr status`.
#[derive(Debug, Clone, PartialEq)]
pub struct LastError {
    /// App.
    pub app: String,
    /// Error id.
    pub error_id: String,
    /// Status.
    pub status: Status,
    /// Attempts.
    pub attempts: i64,
    /// The reason.
    pub reason: String,
}

impl StateStore {
    // ------------------------------------------------------------ inventory

    /// Starts an inventory run for `app`, or resumes the unfinished one.
    pub async fn begin_inventory(
        &self,
        app: &str,
        api: &str,
        first_cursor: Option<String>,
    ) -> Result<InventoryRun> {
        let now = now_ms();
        let row = on_pool!(self, p => sqlx::query(
            "SELECT run, api, groups_cursor, groups_done, finished, crashes_at_start FROM inventory_runs WHERE app = $1")
            .bind(app).fetch_optional(p).await.map(|r| r.map(|r| (
                r.get::<i64, _>(0), r.get::<String, _>(1), r.get::<Option<String>, _>(2),
                r.get::<bool, _>(3), r.get::<bool, _>(4), r.get::<i64, _>(5)))))
        .map_err(Error::store("reading the inventory run"))?;
        if let Some((run, prev_api, cursor, groups_done, false, at_start)) = &row
            && prev_api == api
        {
            return Ok(InventoryRun {
                run: *run,
                groups_cursor: cursor.clone(),
                groups_done: *groups_done,
                resumed: true,
                crashes_at_start: *at_start,
            });
        }
        let run = row.map_or(1, |r| r.0 + 1);
        let at_start = self.crash_count(app).await?;
        on_pool!(self, p => async {
            let mut tx = p.begin().await?;
            sqlx::query("UPDATE error_groups SET errors_cursor = NULL WHERE app = $1").bind(app).execute(&mut *tx).await?;
            sqlx::query(
                "INSERT INTO inventory_runs (app, run, api, groups_cursor, groups_done, finished, crashes_at_start, started_at)
                 VALUES ($1, $2, $3, $4, FALSE, FALSE, $5, $6)
                 ON CONFLICT (app) DO UPDATE SET run = excluded.run, api = excluded.api,
                   groups_cursor = excluded.groups_cursor, groups_done = FALSE, finished = FALSE,
                   crashes_at_start = excluded.crashes_at_start, started_at = excluded.started_at, finished_at = NULL")
                .bind(app).bind(run).bind(api).bind(&first_cursor).bind(at_start).bind(now)
                .execute(&mut *tx).await?;
            tx.commit().await
        }.await)
        .map_err(Error::store("starting an inventory run"))?;
        Ok(InventoryRun {
            run,
            groups_cursor: first_cursor,
            groups_done: false,
            resumed: false,
            crashes_at_start: at_start,
        })
    }

    /// Stores one page of group ids and the cursor of the next page in one
    /// transaction (`next = None`: the group list is complete).
    pub async fn save_group_page(
        &self,
        app: &str,
        run: i64,
        groups: &[String],
        next: Option<&str>,
    ) -> Result<()> {
        on_pool!(self, p => async {
            let mut tx = p.begin().await?;
            for g in groups {
                sqlx::query(
                    "INSERT INTO error_groups (app, error_group_id, listed_run) VALUES ($1, $2, $3)
                     ON CONFLICT (app, error_group_id) DO UPDATE SET listed_run = excluded.listed_run")
                    .bind(app).bind(g).bind(run).execute(&mut *tx).await?;
            }
            sqlx::query("UPDATE inventory_runs SET groups_cursor = $1, groups_done = $2 WHERE app = $3")
                .bind(next).bind(next.is_none()).bind(app).execute(&mut *tx).await?;
            tx.commit().await
        }.await)
        .map_err(Error::store("saving a page of error groups"))
    }

    /// Groups of this run whose errors are not all listed yet, with the
    /// saved cursor of each.
    pub async fn groups_to_list(
        &self,
        app: &str,
        run: i64,
    ) -> Result<Vec<(String, Option<String>)>> {
        on_pool!(self, p => sqlx::query(
            "SELECT error_group_id, errors_cursor FROM error_groups
             WHERE app = $1 AND listed_run = $2 AND errors_done_run < $2 ORDER BY error_group_id")
            .bind(app).bind(run).fetch_all(p).await
            .map(|rows| rows.iter().map(|r| (r.get::<String, _>(0), r.get::<Option<String>, _>(1))).collect()))
        .map_err(Error::store("listing groups to inventory"))
    }

    /// Upserts one page of a group's crashes and saves the cursor of the
    /// next page in the same transaction (`next = None`: group complete).
    pub async fn save_error_page(
        &self,
        app: &str,
        run: i64,
        group: &str,
        crashes: &[ListedCrash],
        next: Option<&str>,
    ) -> Result<()> {
        on_pool!(self, p => async {
            let mut tx = p.begin().await?;
            for chunk in crashes.chunks(500) {
                let mut qb = QueryBuilder::new(
                    "INSERT INTO crashes (app, error_id, crash_guid, error_group_id, error_time, has_attachments, has_breadcrumbs, seen_run) ");
                qb.push_values(chunk, |mut b, c| {
                    b.push_bind(app).push_bind(&c.error_id).push_bind(c.crash_guid()).push_bind(&c.error_group_id)
                        .push_bind(c.error_time).push_bind(c.has_attachments).push_bind(c.has_breadcrumbs).push_bind(run);
                });
                qb.push(" ON CONFLICT (app, error_id) DO UPDATE SET seen_run = excluded.seen_run, expired_at = NULL,
                          has_attachments = excluded.has_attachments, has_breadcrumbs = excluded.has_breadcrumbs");
                qb.build().execute(&mut *tx).await?;
            }
            match next {
                Some(c) => sqlx::query("UPDATE error_groups SET errors_cursor = $1 WHERE app = $2 AND error_group_id = $3")
                    .bind(c).bind(app).bind(group).execute(&mut *tx).await?,
                None => sqlx::query("UPDATE error_groups SET errors_cursor = NULL, errors_done_run = $1 WHERE app = $2 AND error_group_id = $3")
                    .bind(run).bind(app).bind(group).execute(&mut *tx).await?,
            };
            tx.commit().await
        }.await)
        .map_err(Error::store("saving a page of crashes"))
    }

    /// Adds crashes found outside an inventory (a targeted search) as
    /// pending; crashes already known are left as they are.
    pub async fn add_candidates(&self, app: &str, crashes: &[ListedCrash]) -> Result<()> {
        on_pool!(self, p => async {
            let mut tx = p.begin().await?;
            for c in crashes {
                sqlx::query(
                    "INSERT INTO crashes (app, error_id, crash_guid, error_group_id, error_time, has_attachments, has_breadcrumbs, seen_run)
                     VALUES ($1, $2, $3, $4, $5, $6, $7, 0) ON CONFLICT (app, error_id) DO NOTHING")
                    .bind(app).bind(&c.error_id).bind(c.crash_guid()).bind(&c.error_group_id)
                    .bind(c.error_time).bind(c.has_attachments).bind(c.has_breadcrumbs)
                    .execute(&mut *tx).await?;
            }
            tx.commit().await
        }.await)
        .map_err(Error::store("adding candidate crashes"))
    }

    /// Ends the run: crashes no longer listed are marked expired (and
    /// `gone` if they were never archived). Returns `(new, expired)`.
    pub async fn finish_inventory(&self, app: &str, run: &InventoryRun) -> Result<(i64, i64)> {
        let now = now_ms();
        let expired = on_pool!(self, p => async {
            let mut tx = p.begin().await?;
            let n = sqlx::query("UPDATE crashes SET expired_at = $1 WHERE app = $2 AND seen_run < $3 AND expired_at IS NULL")
                .bind(now).bind(app).bind(run.run).execute(&mut *tx).await?.rows_affected();
            sqlx::query("UPDATE crashes SET status = 'gone', last_error = 'no longer listed by the API (deleted or past retention)'
                         WHERE app = $1 AND expired_at IS NOT NULL AND status IN ('pending', 'parked')")
                .bind(app).execute(&mut *tx).await?;
            sqlx::query("UPDATE inventory_runs SET finished = TRUE, finished_at = $1 WHERE app = $2")
                .bind(now).bind(app).execute(&mut *tx).await?;
            tx.commit().await.map(|()| n)
        }.await)
        .map_err(Error::store("finishing the inventory run"))?;
        let total = self.crash_count(app).await?;
        Ok((total - run.crashes_at_start, expired as i64))
    }

    async fn crash_count(&self, app: &str) -> Result<i64> {
        on_pool!(self, p => sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM crashes WHERE app = $1")
            .bind(app).fetch_one(p).await)
        .map_err(Error::store("counting crashes"))
    }

    // ------------------------------------------------------------ fetch

    /// Claims up to `n` pending crashes of `app` for `worker` for `lease`.
    /// A crash whose lease expired (its worker died), or that this worker
    /// already held, can be claimed.
    pub async fn claim(
        &self,
        app: &str,
        worker: &str,
        n: i64,
        lease: Duration,
    ) -> Result<Vec<Claim>> {
        let now = now_ms();
        let until = now + lease.as_millis() as i64;
        let pick = "SELECT error_id FROM crashes WHERE app = $3 AND status = 'pending'
                    AND (lease_owner IS NULL OR lease_expires < $4 OR lease_owner = $1)
                    ORDER BY error_id LIMIT $5";
        let rows = match &self.pool {
            Pool::Postgres(p) => {
                // A CTE, not `IN (… LIMIT)`: PostgreSQL may evaluate such a
                // subquery more than once and hand out more than n rows.
                let sql = format!(
                    "WITH picked AS ({pick} FOR UPDATE SKIP LOCKED)
                     UPDATE crashes SET lease_owner = $1, lease_expires = $2 FROM picked
                     WHERE crashes.app = $3 AND crashes.error_id = picked.error_id
                     RETURNING crashes.error_id, crashes.error_group_id, crashes.error_time, crashes.has_attachments,
                               crashes.has_breadcrumbs, crashes.attempts"
                );
                sqlx::query(sqlx::AssertSqlSafe(sql.as_str()))
                    .bind(worker)
                    .bind(until)
                    .bind(app)
                    .bind(now)
                    .bind(n)
                    .fetch_all(p)
                    .await
                    .map(|rows| rows.iter().map(claim_row).collect::<Vec<_>>())
            }
            Pool::Sqlite(p) => {
                let sql = format!(
                    "UPDATE crashes SET lease_owner = $1, lease_expires = $2 WHERE app = $3 AND error_id IN ({pick})
                     RETURNING error_id, error_group_id, error_time, has_attachments, has_breadcrumbs, attempts");
                sqlx::query(sqlx::AssertSqlSafe(sql.as_str())).bind(worker).bind(until).bind(app).bind(now).bind(n).fetch_all(p).await.map(|rows| rows.iter().map(claim_row).collect::<Vec<_>>())
            }
        }
        .map_err(Error::store("claiming crashes"))?;
        let mut claims: Vec<Claim> = rows
            .into_iter()
            .map(|(crash, attempts)| Claim {
                app: app.to_owned(),
                crash,
                attempts,
            })
            .collect();
        claims.sort_by(|a, b| a.crash.error_id.cmp(&b.crash.error_id));
        Ok(claims)
    }

    /// Extends every lease `worker` holds on pending crashes.
    pub async fn renew(&self, worker: &str, lease: Duration) -> Result<()> {
        let until = now_ms() + lease.as_millis() as i64;
        on_pool!(self, p => sqlx::query("UPDATE crashes SET lease_expires = $1 WHERE lease_owner = $2 AND status = 'pending'")
            .bind(until).bind(worker).execute(p).await.map(drop))
        .map_err(Error::store("renewing leases"))
    }

    /// The workers holding leases on pending crashes.
    pub async fn lease_owners(&self) -> Result<Vec<String>> {
        on_pool!(self, p => sqlx::query_scalar::<_, String>(
            "SELECT DISTINCT lease_owner FROM crashes WHERE lease_owner IS NOT NULL AND status = 'pending' ORDER BY lease_owner")
            .fetch_all(p).await)
        .map_err(Error::store("listing the workers that hold leases"))
    }

    /// Drops every lease `worker` holds (a clean stop).
    pub async fn release(&self, worker: &str) -> Result<()> {
        on_pool!(self, p => sqlx::query("UPDATE crashes SET lease_owner = NULL, lease_expires = NULL WHERE lease_owner = $1")
            .bind(worker).execute(p).await.map(drop))
        .map_err(Error::store("releasing leases"))
    }

    /// Marks a crash retrieved (`HasBeenRetrieved`) with its manifest
    /// digest. Returns false if the crash was not pending any more.
    pub async fn mark_retrieved(
        &self,
        app: &str,
        error_id: &str,
        manifest_sha256: &str,
    ) -> Result<bool> {
        let now = now_ms();
        on_pool!(self, p => sqlx::query(
            "UPDATE crashes SET status = 'retrieved', has_been_retrieved = TRUE, manifest_sha256 = $1, fetched_at = $2,
               lease_owner = NULL, lease_expires = NULL, last_error = NULL
             WHERE app = $3 AND error_id = $4 AND status = 'pending'")
            .bind(manifest_sha256).bind(now).bind(app).bind(error_id).execute(p).await.map(|r| r.rows_affected() == 1))
        .map_err(Error::store("marking a crash retrieved"))
    }

    /// Records a failed attempt. `permanent` sets the final status;
    /// otherwise the crash goes back to pending, or to `parked` once it has
    /// failed `max_attempts` times. Returns the new status.
    pub async fn mark_failed(
        &self,
        app: &str,
        error_id: &str,
        reason: &str,
        permanent: Option<Status>,
        max_attempts: i64,
    ) -> Result<Status> {
        let reason: String = reason.chars().take(1000).collect();
        let status = on_pool!(self, p => sqlx::query_scalar::<_, String>(
            "UPDATE crashes SET attempts = attempts + 1, last_error = $1, lease_owner = NULL, lease_expires = NULL,
               status = CASE WHEN $2 IS NOT NULL THEN $2 WHEN attempts + 1 >= $3 THEN 'parked' ELSE 'pending' END
             WHERE app = $4 AND error_id = $5 AND status = 'pending' RETURNING status")
            .bind(&reason).bind(permanent.map(Status::as_str)).bind(max_attempts).bind(app).bind(error_id)
            .fetch_optional(p).await)
        .map_err(Error::store("recording a failure"))?;
        Ok(status.map_or(Status::Pending, |s| Status::parse(&s)))
    }

    /// Pending crashes of `app`: `(claimable now, leased by others)`.
    pub async fn pending(&self, app: &str, worker: &str) -> Result<(i64, i64)> {
        let now = now_ms();
        on_pool!(self, p => sqlx::query(
            "SELECT COALESCE(SUM(CASE WHEN lease_owner IS NULL OR lease_expires < $1 OR lease_owner = $2 THEN 1 ELSE 0 END), 0),
                    COALESCE(SUM(CASE WHEN lease_owner IS NOT NULL AND lease_expires >= $1 AND lease_owner <> $2 THEN 1 ELSE 0 END), 0)
             FROM crashes WHERE app = $3 AND status = 'pending'")
            .bind(now).bind(worker).bind(app).fetch_one(p).await
            .map(|r| (r.get::<i64, _>(0), r.get::<i64, _>(1))))
        .map_err(Error::store("counting pending crashes"))
    }

    /// Counts per app and status.
    pub async fn counts(&self) -> Result<Vec<StatusCount>> {
        on_pool!(self, p => sqlx::query("SELECT app, status, COUNT(*) FROM crashes GROUP BY app, status ORDER BY app, status")
            .fetch_all(p).await
            .map(|rows| rows.iter().map(|r| StatusCount {
                app: r.get(0), status: Status::parse(&r.get::<String, _>(1)), count: r.get(2),
            }).collect()))
        .map_err(Error::store("counting crashes"))
    }

    /// The most recent failures (not retrieved, with a reason).
    pub async fn last_errors(&self, limit: i64) -> Result<Vec<LastError>> {
        on_pool!(self, p => sqlx::query(
            "SELECT app, error_id, status, attempts, last_error FROM crashes
             WHERE last_error IS NOT NULL AND status <> 'retrieved' ORDER BY attempts DESC, error_id LIMIT $1")
            .bind(limit).fetch_all(p).await
            .map(|rows| rows.iter().map(|r| LastError {
                app: r.get(0), error_id: r.get(1), status: Status::parse(&r.get::<String, _>(2)),
                attempts: r.get(3), reason: r.get(4),
            }).collect()))
        .map_err(Error::store("reading the last errors"))
    }

    /// Retrieved crashes of `app` with their manifest digests.
    pub async fn retrieved(&self, app: &str) -> Result<Vec<(String, String, String)>> {
        on_pool!(self, p => sqlx::query(
            "SELECT error_id, error_group_id, manifest_sha256 FROM crashes WHERE app = $1 AND status = 'retrieved' ORDER BY error_id")
            .bind(app).fetch_all(p).await
            .map(|rows| rows.iter().map(|r| (r.get(0), r.get(1), r.get(2))).collect()))
        .map_err(Error::store("listing retrieved crashes"))
    }

    /// Deletes everything of `app` (tests and re-crawls).
    pub async fn forget_app(&self, app: &str) -> Result<()> {
        for table in ["crashes", "error_groups", "inventory_runs"] {
            let sql = format!("DELETE FROM {table} WHERE app = $1");
            on_pool!(self, p => sqlx::query(sqlx::AssertSqlSafe(sql.as_str())).bind(app).execute(p).await.map(drop))
                .map_err(Error::store("forgetting an app"))?;
        }
        Ok(())
    }
}

fn claim_row<R: Row>(r: &R) -> (ListedCrash, i64)
where
    for<'a> String: sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
    for<'a> Option<i64>: sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
    for<'a> Option<bool>: sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
    for<'a> i64: sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
    usize: sqlx::ColumnIndex<R>,
{
    (
        ListedCrash {
            error_id: r.get(0),
            error_group_id: r.get(1),
            error_time: r.get(2),
            has_attachments: r.get(3),
            has_breadcrumbs: r.get(4),
        },
        r.get(5),
    )
}
