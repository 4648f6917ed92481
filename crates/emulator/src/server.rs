//! The emulator's shared state, middleware (latency, faults, rate limit,
//! tokens, 411) and its error bodies.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use crashdsr_appcenter::models::{
    ErrorBody, ErrorBodyDetails, ErrorGroupState, ExportConfigurationResult, LegacyErrorBody,
};
use std::sync::Arc;

use crate::dataset::{Dataset, DatasetConfig, mix};
use crate::faults::{FaultKind, Faults, TokenBucket};

/// Everything the emulator is started with.
#[derive(Debug, Clone)]
pub struct EmulatorConfig {
    /// The dataset.
    pub dataset: DatasetConfig,
    /// Full-access token.
    pub token: String,
    /// Read-only token (403 on writes).
    pub read_only_token: Option<String>,
    /// Token bucket: requests per period.
    pub rate_limit: Option<(u32, Duration)>,
    /// Whether 429s from the rate limit carry `Retry-After`.
    pub retry_after: bool,
    /// Delay added to every request.
    pub latency: Duration,
    /// Fault spec (see [`crate::faults`]).
    pub faults: String,
    /// Emit `nextLink`s without the owner/app segment (`/apps//...`), a
    /// quirk some apps saw on the live service.
    pub next_link_without_app: bool,
    /// Count requests per path (see [`Emulator::path_counts`]).
    pub count_paths: bool,
    /// Where exports to a linked subscription (standard export) are written.
    pub export_dir: Option<std::path::PathBuf>,
    /// How exported blobs are shaped.
    pub export_style: crate::export::ExportStyle,
}

impl EmulatorConfig {
    /// A config with the given dataset and token and nothing else.
    pub fn new(dataset: DatasetConfig, token: impl Into<String>) -> Self {
        Self {
            dataset,
            token: token.into(),
            read_only_token: None,
            rate_limit: None,
            retry_after: true,
            latency: Duration::ZERO,
            faults: String::new(),
            next_link_without_app: false,
            count_paths: false,
            export_dir: None,
            export_style: crate::export::ExportStyle::default(),
        }
    }
}

/// The mutable part of the emulated service.
#[derive(Debug)]
pub(crate) struct Mutable {
    pub(crate) retention: Vec<u32>,
    pub(crate) deleted: HashSet<(usize, u64)>,
    pub(crate) blocked: Vec<BTreeSet<String>>,
    pub(crate) exports: Vec<Vec<ExportConfigurationResult>>,
    pub(crate) group_state: HashMap<(usize, u64), (ErrorGroupState, Option<String>)>,
}

/// Shared state of a running emulator.
#[derive(Debug)]
pub struct Emulator {
    pub(crate) data: Dataset,
    pub(crate) cfg: EmulatorConfig,
    faults: Faults,
    bucket: Option<TokenBucket>,
    pub(crate) state: Mutex<Mutable>,
    requests: AtomicU64,
    pub(crate) throttled: AtomicU64,
    paths: Mutex<HashMap<String, u64>>,
}

impl Emulator {
    /// Builds the state; fails on a bad fault spec.
    pub fn new(cfg: EmulatorConfig) -> Result<Arc<Self>, crate::Error> {
        let faults = Faults::parse(&cfg.faults, cfg.dataset.seed)?;
        let apps = cfg.dataset.apps.len();
        let span = cfg.dataset.span_days;
        let initial = if span > 28 { 90 } else { 28 };
        Ok(Arc::new(Self {
            data: Dataset::new(cfg.dataset.clone()),
            bucket: cfg.rate_limit.map(|(n, per)| TokenBucket::new(n, per)),
            faults,
            cfg,
            state: Mutex::new(Mutable {
                retention: vec![initial; apps],
                deleted: HashSet::new(),
                blocked: vec![BTreeSet::new(); apps],
                exports: vec![Vec::new(); apps],
                group_state: HashMap::new(),
            }),
            requests: AtomicU64::new(0),
            throttled: AtomicU64::new(0),
            paths: Mutex::new(HashMap::new()),
        }))
    }

    /// The dataset.
    pub fn dataset(&self) -> &Dataset {
        &self.data
    }

    /// Requests seen so far.
    pub fn request_count(&self) -> u64 {
        self.requests.load(Ordering::Relaxed)
    }

    /// Requests per path (without the `/api` prefix and the query) that
    /// reached a handler, when `count_paths` is on.
    pub fn path_counts(&self) -> HashMap<String, u64> {
        self.paths.lock().expect("paths lock").clone()
    }

    /// 429s sent by the rate limit so far.
    pub fn throttled_count(&self) -> u64 {
        self.throttled.load(Ordering::Relaxed)
    }

    /// Install ids blocked through `devices/block_logs`.
    pub fn blocked_installs(&self, app: usize) -> Vec<String> {
        self.state.lock().expect("state lock").blocked[app]
            .iter()
            .cloned()
            .collect()
    }

    /// A signature for a location URI path and expiry.
    pub(crate) fn sign(&self, path: &str, expiry: i64) -> String {
        let h = path
            .bytes()
            .fold(mix(self.cfg.dataset.seed ^ 0x5A5), |h, b| {
                mix(h ^ u64::from(b))
            });
        format!("{:016x}", mix(h ^ expiry as u64))
    }
}

/// An API error, rendered in the new or the legacy style.
#[derive(Debug)]
pub(crate) struct ApiError {
    pub(crate) status: StatusCode,
    pub(crate) code: &'static str,
    pub(crate) message: String,
    pub(crate) legacy: bool,
    pub(crate) retry_after: Option<u64>,
}

impl ApiError {
    pub(crate) fn new(status: StatusCode, message: impl Into<String>) -> Self {
        let code = match status {
            StatusCode::BAD_REQUEST => "BadRequest",
            StatusCode::CONFLICT => "Conflict",
            StatusCode::NOT_ACCEPTABLE => "NotAcceptable",
            StatusCode::NOT_FOUND => "NotFound",
            StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => "Unauthorized",
            StatusCode::TOO_MANY_REQUESTS => "TooManyRequests",
            _ => "InternalServerError",
        };
        Self {
            status,
            code,
            message: message.into(),
            legacy: false,
            retry_after: None,
        }
    }

    pub(crate) fn not_found(what: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, what)
    }

    pub(crate) fn bad_request(what: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, what)
    }

    pub(crate) fn legacy(mut self) -> Self {
        self.legacy = true;
        self
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = if self.legacy {
            serde_json::to_vec(&LegacyErrorBody {
                message: self.message,
            })
        } else {
            serde_json::to_vec(&ErrorBody {
                error: ErrorBodyDetails {
                    code: self.code.to_owned(),
                    message: self.message,
                },
            })
        }
        .expect("error bodies serialise");
        let mut resp = (
            self.status,
            [(header::CONTENT_TYPE, "application/json")],
            body,
        )
            .into_response();
        if let Some(secs) = self.retry_after {
            resp.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        resp
    }
}

/// Whether a path belongs to the legacy crash API (`{"message"}` errors).
pub(crate) fn is_legacy_path(path: &str) -> bool {
    path.contains("/crash_groups")
        || (path.contains("/crashes") && !path.ends_with("/session_logs"))
}

/// Latency, faults, the rate limit, tokens and the 411 rule, in that order.
pub(crate) async fn gate(State(emu): State<Arc<Emulator>>, req: Request, next: Next) -> Response {
    emu.requests.fetch_add(1, Ordering::Relaxed);
    let path = req.uri().path().to_owned();
    let legacy = is_legacy_path(&path);
    let style = |e: ApiError| if legacy { e.legacy() } else { e };
    if !emu.cfg.latency.is_zero() {
        tokio::time::sleep(emu.cfg.latency).await;
    }
    let mut post = Vec::new();
    for f in emu.faults.check(&path) {
        match f {
            FaultKind::Delay(d) => tokio::time::sleep(d).await,
            FaultKind::Status(s) => {
                let status = StatusCode::from_u16(s).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
                return style(ApiError::new(status, "Injected fault.")).into_response();
            }
            FaultKind::TooMany(ra) => {
                let mut e = ApiError::new(
                    StatusCode::TOO_MANY_REQUESTS,
                    "Too many requests (injected).",
                );
                e.retry_after = ra;
                return style(e).into_response();
            }
            FaultKind::Reset | FaultKind::Truncate => post.push(f),
        }
    }
    let is_blob = path.starts_with("/blobs/");
    if !is_blob {
        if let Some(bucket) = &emu.bucket
            && let Err(wait) = bucket.take()
        {
            emu.throttled.fetch_add(1, Ordering::Relaxed);
            let mut e = ApiError::new(StatusCode::TOO_MANY_REQUESTS, "Rate limit is exceeded.");
            if emu.cfg.retry_after {
                e.retry_after = Some(wait.as_secs_f64().ceil().max(1.0) as u64);
            }
            return style(e).into_response();
        }
        let token = req
            .headers()
            .get("x-api-token")
            .and_then(|v| v.to_str().ok());
        let read_only = match token {
            Some(t) if t == emu.cfg.token => false,
            Some(t) if emu.cfg.read_only_token.as_deref() == Some(t) => true,
            _ => {
                return style(ApiError::new(
                    StatusCode::UNAUTHORIZED,
                    "Missing or unknown API token.",
                ))
                .into_response();
            }
        };
        let write = matches!(
            *req.method(),
            Method::POST | Method::PUT | Method::PATCH | Method::DELETE
        );
        if read_only && write {
            return style(ApiError::new(
                StatusCode::FORBIDDEN,
                "The token is read-only.",
            ))
            .into_response();
        }
        if matches!(*req.method(), Method::POST | Method::PUT | Method::PATCH) {
            let len = req
                .headers()
                .get(header::CONTENT_LENGTH)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.parse::<u64>().ok());
            let chunked = req.headers().contains_key(header::TRANSFER_ENCODING);
            if len.unwrap_or(0) == 0 && !chunked {
                return (StatusCode::LENGTH_REQUIRED, "Length Required").into_response();
            }
        }
    }
    if emu.cfg.count_paths {
        let key = path.strip_prefix("/api").unwrap_or(&path).to_owned();
        *emu.paths
            .lock()
            .expect("paths lock")
            .entry(key)
            .or_insert(0) += 1;
    }
    let resp = next.run(req).await;
    if post.contains(&FaultKind::Reset) {
        let (parts, _) = resp.into_parts();
        let broken = futures::stream::once(async {
            Err::<Bytes, std::io::Error>(std::io::Error::new(
                std::io::ErrorKind::ConnectionReset,
                "injected reset",
            ))
        });
        return Response::from_parts(parts, Body::from_stream(broken));
    }
    if post.contains(&FaultKind::Truncate) {
        let (mut parts, body) = resp.into_parts();
        let bytes = axum::body::to_bytes(body, usize::MAX)
            .await
            .unwrap_or_default();
        let cut = bytes.slice(..bytes.len() / 2);
        parts
            .headers
            .insert(header::CONTENT_LENGTH, HeaderValue::from(cut.len()));
        return Response::from_parts(parts, Body::from(cut));
    }
    resp
}
