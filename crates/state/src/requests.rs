//! The requests answered, as the audit keeps them.

use sqlx::Row;

use crate::error::{Error, Result};
use crate::{StateStore, now_ms};

/// A DSR request as the audit keeps it.
#[derive(Debug, Clone, PartialEq)]
pub struct RequestRecord {
    /// Request id.
    pub request_id: String,
    /// `OWNER/APP`.
    pub app: String,
    /// The subject's label.
    pub subject: String,
    /// When the request was received (`YYYY-MM-DD`).
    pub received: String,
    /// When the answer is due (`YYYY-MM-DD`).
    pub due: String,
    /// The audit record (JSON; keyed hashes, never identifier values).
    pub record: String,
    /// SHA-256 of the package.
    pub package_sha256: String,
}

impl StateStore {
    /// Records (or updates) a request in the audit table.
    pub async fn record_request(&self, r: &RequestRecord) -> Result<()> {
        on_pool!(self, p => sqlx::query(
            "INSERT INTO requests (request_id, app, subject, received, due, record, package_sha256, updated_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
             ON CONFLICT (request_id) DO UPDATE SET record = excluded.record, package_sha256 = excluded.package_sha256,
               updated_at = excluded.updated_at")
            .bind(&r.request_id).bind(&r.app).bind(&r.subject).bind(&r.received).bind(&r.due)
            .bind(&r.record).bind(&r.package_sha256).bind(now_ms())
            .execute(p).await.map(drop))
        .map_err(Error::store("recording a request"))
    }

    /// Requests not marked delivered, oldest due date first.
    pub async fn open_requests(&self) -> Result<Vec<RequestRecord>> {
        on_pool!(self, p => sqlx::query(
            "SELECT request_id, app, subject, received, due, record, package_sha256 FROM requests
             WHERE delivered = FALSE ORDER BY due, request_id")
            .fetch_all(p).await
            .map(|rows| rows.iter().map(|r| RequestRecord {
                request_id: r.get(0), app: r.get(1), subject: r.get(2), received: r.get(3), due: r.get(4),
                record: r.get(5), package_sha256: r.get(6),
            }).collect()))
        .map_err(Error::store("listing open requests"))
    }
}
