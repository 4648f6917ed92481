//! The HTTP plumbing: [`ClientBuilder`], [`Client`], retries, pacing and
//! bounded downloads.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use bytes::Bytes;
use futures::StreamExt;
use reqwest::{Method, StatusCode};
use serde::de::DeserializeOwned;
use tokio::io::{AsyncWrite, AsyncWriteExt};
use tokio::sync::Semaphore;
use url::Url;

use crate::auth::{ApiToken, check_base_url};
use crate::error::{Error, Result, TransportKind};
use crate::limiter::{Limiter, PacerSnapshot, RateLimit, Throttle};
use crate::models::{ErrorBody, LegacyErrorBody, Location};
use crate::retry::{Backoff, RetryConfig};

/// The production base URL.
pub const DEFAULT_BASE_URL: &str = "https://api.appcenter.ms";

/// Builds a [`Client`].
#[derive(Debug, Clone)]
pub struct ClientBuilder {
    base_url: String,
    token: Option<ApiToken>,
    rate: Option<RateLimit>,
    concurrency: usize,
    timeout: Duration,
    connect_timeout: Duration,
    retry: RetryConfig,
    max_json_bytes: u64,
    max_download_bytes: u64,
}

impl Default for ClientBuilder {
    fn default() -> Self {
        Self {
            base_url: DEFAULT_BASE_URL.to_owned(),
            token: None,
            rate: Some(RateLimit::APP_CENTER),
            concurrency: 8,
            timeout: Duration::from_secs(60),
            connect_timeout: Duration::from_secs(10),
            retry: RetryConfig::default(),
            max_json_bytes: 64 << 20,
            max_download_bytes: 1 << 30,
        }
    }
}

impl ClientBuilder {
    /// A builder with App Center's defaults (500 requests / 5 min, 8 in
    /// flight, 60 s per request).
    pub fn new() -> Self {
        Self::default()
    }

    /// The API root (`https://api.appcenter.ms`, or an emulator on loopback).
    pub fn base_url(mut self, url: impl Into<String>) -> Self {
        self.base_url = url.into();
        self
    }

    /// The token sent as `X-API-Token` to the base URL's host only.
    pub fn token(mut self, token: ApiToken) -> Self {
        self.token = Some(token);
        self
    }

    /// The client-side rate; `None` turns pacing off.
    pub fn rate_limit(mut self, rate: Option<RateLimit>) -> Self {
        self.rate = rate;
        self
    }

    /// Requests in flight at once.
    pub fn concurrency(mut self, n: usize) -> Self {
        self.concurrency = n.max(1);
        self
    }

    /// Per-request timeout (including reading the body).
    pub fn timeout(mut self, t: Duration) -> Self {
        self.timeout = t;
        self
    }

    /// Connect timeout.
    pub fn connect_timeout(mut self, t: Duration) -> Self {
        self.connect_timeout = t;
        self
    }

    /// Retry policy.
    pub fn retry(mut self, r: RetryConfig) -> Self {
        self.retry = r;
        self
    }

    /// Largest JSON body accepted.
    pub fn max_json_bytes(mut self, n: u64) -> Self {
        self.max_json_bytes = n;
        self
    }

    /// Largest download accepted (attachments, crash logs).
    pub fn max_download_bytes(mut self, n: u64) -> Self {
        self.max_download_bytes = n;
        self
    }

    /// Checks the settings and builds the client.
    pub fn build(self) -> Result<Client> {
        let base = check_base_url(&self.base_url)?;
        let token = self
            .token
            .ok_or_else(|| Error::Config("no API token was given to the client".into()))?;
        let http = |redirects: reqwest::redirect::Policy| {
            reqwest::Client::builder()
                .user_agent(concat!("crashdsr/", env!("CARGO_PKG_VERSION")))
                .connect_timeout(self.connect_timeout)
                .timeout(self.timeout)
                .redirect(redirects)
                .build()
                .map_err(|e| Error::Config(format!("building the HTTP client: {e}")))
        };
        Ok(Client {
            inner: Arc::new(Inner {
                // The token is added per request, so a redirect cannot carry
                // it elsewhere; none are followed for the API.
                api: http(reqwest::redirect::Policy::none())?,
                blob: http(reqwest::redirect::Policy::limited(5))?,
                base,
                token,
                limiter: self.rate.map(Limiter::new),
                slots: Semaphore::new(self.concurrency),
                retry: self.retry,
                max_json: self.max_json_bytes,
                max_download: self.max_download_bytes,
                stats: Stats::default(),
                seq: AtomicU64::new(0),
            }),
        })
    }
}

#[derive(Debug, Default)]
struct Stats {
    requests: AtomicU64,
    retries: AtomicU64,
    throttled: AtomicU64,
}

/// Counters of one client, for progress and benchmarks.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct ClientStats {
    /// HTTP requests sent to the API (every attempt counts).
    pub requests: u64,
    /// Attempts that were retries.
    pub retries: u64,
    /// 429 answers received.
    pub throttled: u64,
    /// The pacer's state, if pacing is on.
    pub pacer: Option<PacerSnapshot>,
}

#[derive(Debug)]
struct Inner {
    api: reqwest::Client,
    blob: reqwest::Client,
    base: Url,
    token: ApiToken,
    limiter: Option<Limiter>,
    slots: Semaphore,
    retry: RetryConfig,
    max_json: u64,
    max_download: u64,
    stats: Stats,
    seq: AtomicU64,
}

/// An App Center API client. Cheap to clone; clones share the rate limiter,
/// the concurrency bound and the counters.
#[derive(Debug, Clone)]
pub struct Client {
    inner: Arc<Inner>,
}

/// One API request, before it is sent.
#[derive(Debug, Clone)]
pub(crate) struct Req {
    pub(crate) method: Method,
    /// Path with an optional query, already encoded, relative to the base.
    pub(crate) path_and_query: String,
    pub(crate) body: Option<serde_json::Value>,
}

impl Req {
    pub(crate) fn get(path_and_query: String) -> Self {
        Self {
            method: Method::GET,
            path_and_query,
            body: None,
        }
    }

    pub(crate) fn with_body(
        method: Method,
        path_and_query: String,
        body: serde_json::Value,
    ) -> Self {
        Self {
            method,
            path_and_query,
            body: Some(body),
        }
    }

    /// The path for errors and logs: no query, and no install id (the
    /// block endpoint carries one in its path, and a person's identifier
    /// never goes into a log or an error message).
    fn path(&self) -> String {
        let path = self.path_and_query.split('?').next().unwrap_or_default();
        match path.split_once("/devices/block_logs/") {
            Some((head, _)) => format!("{head}/devices/block_logs/{{install_id}}"),
            None => path.to_owned(),
        }
    }

    fn method_name(&self) -> &'static str {
        match self.method {
            Method::GET => "GET",
            Method::POST => "POST",
            Method::PUT => "PUT",
            Method::PATCH => "PATCH",
            Method::DELETE => "DELETE",
            _ => "HTTP",
        }
    }

    /// Safe to repeat after the server may have acted on it.
    fn idempotent(&self) -> bool {
        self.method != Method::POST && self.method != Method::PATCH
    }
}

impl Client {
    /// A builder.
    pub fn builder() -> ClientBuilder {
        ClientBuilder::new()
    }

    /// The base URL.
    pub fn base_url(&self) -> &Url {
        &self.inner.base
    }

    /// Counters so far.
    pub async fn stats(&self) -> ClientStats {
        let s = &self.inner.stats;
        let pacer = match &self.inner.limiter {
            Some(l) => Some(l.snapshot().await),
            None => None,
        };
        ClientStats {
            requests: s.requests.load(Ordering::Relaxed),
            retries: s.retries.load(Ordering::Relaxed),
            throttled: s.throttled.load(Ordering::Relaxed),
            pacer,
        }
    }

    fn url(&self, path_and_query: &str) -> Result<Url> {
        let mut url = self.inner.base.clone();
        let (path, query) = match path_and_query.split_once('?') {
            Some((p, q)) => (p, Some(q)),
            None => (path_and_query, None),
        };
        let base_path = url.path().trim_end_matches('/').to_owned();
        url.set_path(&format!("{base_path}{path}"));
        url.set_query(query);
        Ok(url)
    }

    /// Sends `req` with retries, then hands the successful response to
    /// `handle`. Errors from `handle` (a body cut short) are retried too.
    pub(crate) async fn execute<T, F, Fut>(&self, req: &Req, handle: F) -> Result<T>
    where
        F: Fn(reqwest::Response) -> Fut,
        Fut: Future<Output = Result<T>>,
    {
        let inner = &self.inner;
        let seed = inner
            .seq
            .fetch_add(1, Ordering::Relaxed)
            .wrapping_mul(0x9E37_79B9_7F4A_7C15);
        let mut backoff = Backoff::new(&inner.retry, seed);
        let mut attempt = 0u32;
        loop {
            let result = self.attempt(req, &handle).await;
            let err = match result {
                Ok(v) => return Ok(v),
                Err(e) => e,
            };
            let throttle = match (&inner.limiter, &err) {
                (Some(l), Error::Status { status: 429, .. }) => {
                    Some(l.throttled(err.retry_after()).await)
                }
                _ => None,
            };
            let may_repeat = req.idempotent()
                || matches!(err, Error::Status { status: 429, .. })
                || matches!(
                    err,
                    Error::Transport {
                        kind: TransportKind::Connect,
                        ..
                    }
                );
            let limit = match err {
                Error::Transport {
                    kind: TransportKind::Connect,
                    ..
                } => inner.retry.max_connect_retries,
                _ => inner.retry.max_retries,
            };
            if !err.is_retryable() || !may_repeat || attempt >= limit.min(inner.retry.max_retries) {
                return Err(err);
            }
            let delay = match err.retry_after() {
                Some(ra) if ra > inner.retry.max_retry_after => return Err(err),
                // The pacer holds every request back for this 429.
                Some(_) if throttle == Some(Throttle::Cut) => Duration::ZERO,
                Some(ra) => ra,
                None => backoff.next_delay(),
            };
            attempt += 1;
            inner.stats.retries.fetch_add(1, Ordering::Relaxed);
            tracing::debug!(
                method = req.method_name(),
                path = %req.path(),
                attempt,
                delay_ms = delay.as_millis() as u64,
                error = %err,
                "Retrying request."
            );
            tokio::time::sleep(delay).await;
        }
    }

    async fn attempt<T, F, Fut>(&self, req: &Req, handle: &F) -> Result<T>
    where
        F: Fn(reqwest::Response) -> Fut,
        Fut: Future<Output = Result<T>>,
    {
        let inner = &self.inner;
        let _slot = inner
            .slots
            .acquire()
            .await
            .expect("semaphore is never closed");
        if let Some(l) = &inner.limiter {
            l.acquire().await;
        }
        let url = self.url(&req.path_and_query)?;
        let mut rb = inner
            .api
            .request(req.method.clone(), url)
            .header("X-API-Token", inner.token.expose())
            .header("Accept", "application/json");
        if let Some(body) = &req.body {
            rb = rb.json(body);
        }
        inner.stats.requests.fetch_add(1, Ordering::Relaxed);
        let resp = rb
            .send()
            .await
            .map_err(|e| transport(req.method_name(), req.path(), e))?;
        let status = resp.status();
        if status.is_success() {
            if let Some(l) = &inner.limiter {
                l.accepted().await;
            }
            return handle(resp).await;
        }
        let retry_after = retry_after(&resp);
        if status == StatusCode::TOO_MANY_REQUESTS {
            inner.stats.throttled.fetch_add(1, Ordering::Relaxed);
        }
        let body = read_capped(resp, 64 << 10, req.method_name(), &req.path())
            .await
            .unwrap_or_default();
        Err(status_error(req, status, &body, retry_after))
    }

    /// Sends `req` and decodes its JSON body as `T`.
    pub(crate) async fn json<T: DeserializeOwned>(
        &self,
        req: Req,
        what: &'static str,
    ) -> Result<T> {
        let max = self.inner.max_json;
        let method = req.method_name();
        let path = req.path();
        self.execute(&req, |resp| {
            let path = path.clone();
            async move {
                let body = read_capped(resp, max, method, &path).await?;
                decode(&body, method, &path, what)
            }
        })
        .await
    }

    /// Sends `req` and ignores the body (DELETE, enable, disable).
    pub(crate) async fn unit(&self, req: Req) -> Result<()> {
        let method = req.method_name();
        let path = req.path();
        self.execute(&req, |resp| {
            let path = path.clone();
            async move { read_capped(resp, 1 << 20, method, &path).await.map(drop) }
        })
        .await
    }

    /// Sends `req` and streams its body into `out`, at most the download
    /// cap. Returns the bytes written.
    pub(crate) async fn stream_to<W>(&self, req: Req, out: &mut W) -> Result<u64>
    where
        W: AsyncWrite + Unpin,
    {
        // A retry must not append to a half-written destination, so the
        // body is streamed only once the status is known to be good and
        // is not retried once writing started.
        let method = req.method_name();
        let path = req.path();
        let resp = self.execute(&req, |resp| async move { Ok(resp) }).await?;
        copy_capped(resp, out, self.inner.max_download, method, &path).await
    }

    /// Downloads a location URI (a signed blob URL) into `out`, streamed and
    /// capped, **without** the API token. Transient failures before the
    /// first byte are retried.
    pub async fn download_location<W>(&self, location: &Location, out: &mut W) -> Result<u64>
    where
        W: AsyncWrite + Unpin,
    {
        let url = Url::parse(&location.uri)
            .map_err(|e| Error::Protocol(format!("the location URI is not a URL: {e}")))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(Error::Protocol(format!(
                "the location URI has scheme {:?}; only http(s) is fetched",
                url.scheme()
            )));
        }
        let path = url.path().to_owned();
        let inner = &self.inner;
        let mut backoff = Backoff::new(&inner.retry, 7);
        let mut attempt = 0;
        loop {
            let err = {
                let _slot = inner
                    .slots
                    .acquire()
                    .await
                    .expect("semaphore is never closed");
                match inner.blob.get(url.clone()).send().await {
                    Err(e) => transport("GET", path.clone(), e),
                    Ok(resp) if resp.status().is_success() => {
                        return copy_capped(resp, out, inner.max_download, "GET", &path).await;
                    }
                    Ok(resp) => {
                        let status = resp.status();
                        let ra = retry_after(&resp);
                        let body = read_capped(resp, 64 << 10, "GET", &path)
                            .await
                            .unwrap_or_default();
                        status_error(&Req::get(path.clone()), status, &body, ra)
                    }
                }
            };
            if !err.is_retryable() || attempt >= inner.retry.max_retries {
                return Err(err);
            }
            attempt += 1;
            let delay = err.retry_after().unwrap_or_else(|| backoff.next_delay());
            tokio::time::sleep(delay.min(inner.retry.max_retry_after)).await;
        }
    }
}

fn transport(method: &'static str, path: String, e: reqwest::Error) -> Error {
    let kind = if e.is_connect() {
        TransportKind::Connect
    } else if e.is_timeout() {
        TransportKind::Timeout
    } else if e.is_body() || e.is_decode() {
        TransportKind::Body
    } else {
        TransportKind::Request
    };
    Error::Transport {
        method,
        path,
        kind,
        source: e.without_url(),
    }
}

fn retry_after(resp: &reqwest::Response) -> Option<Duration> {
    let v = resp
        .headers()
        .get(reqwest::header::RETRY_AFTER)?
        .to_str()
        .ok()?;
    let secs: f64 = v.trim().parse().ok()?;
    (secs.is_finite() && secs >= 0.0).then(|| Duration::from_secs_f64(secs))
}

fn status_error(
    req: &Req,
    status: StatusCode,
    body: &[u8],
    retry_after: Option<Duration>,
) -> Error {
    let (code, message) = if let Ok(b) = serde_json::from_slice::<ErrorBody>(body) {
        (Some(b.error.code), b.error.message)
    } else if let Ok(b) = serde_json::from_slice::<LegacyErrorBody>(body) {
        (None, b.message)
    } else {
        (
            None,
            status
                .canonical_reason()
                .unwrap_or("unknown status")
                .to_owned(),
        )
    };
    Error::Status {
        method: req.method_name(),
        path: req.path(),
        status: status.as_u16(),
        code,
        message,
        retry_after,
    }
}

fn decode<T: DeserializeOwned>(
    body: &[u8],
    method: &'static str,
    path: &str,
    what: &'static str,
) -> Result<T> {
    serde_json::from_slice(body).map_err(|source| Error::Decode {
        method,
        path: path.to_owned(),
        what,
        source,
    })
}

async fn read_capped(
    resp: reqwest::Response,
    max: u64,
    method: &'static str,
    path: &str,
) -> Result<Bytes> {
    if resp.content_length().is_some_and(|n| n > max) {
        return Err(Error::TooLarge {
            path: path.to_owned(),
            limit: max,
        });
    }
    let mut buf = Vec::new();
    let mut stream = resp.bytes_stream();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| transport(method, path.to_owned(), e))?;
        if buf.len() as u64 + chunk.len() as u64 > max {
            return Err(Error::TooLarge {
                path: path.to_owned(),
                limit: max,
            });
        }
        buf.extend_from_slice(&chunk);
    }
    Ok(Bytes::from(buf))
}

async fn copy_capped<W>(
    resp: reqwest::Response,
    out: &mut W,
    max: u64,
    method: &'static str,
    path: &str,
) -> Result<u64>
where
    W: AsyncWrite + Unpin,
{
    if resp.content_length().is_some_and(|n| n > max) {
        return Err(Error::TooLarge {
            path: path.to_owned(),
            limit: max,
        });
    }
    let mut written = 0u64;
    let mut stream = resp.bytes_stream();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| transport(method, path.to_owned(), e))?;
        written += chunk.len() as u64;
        if written > max {
            return Err(Error::TooLarge {
                path: path.to_owned(),
                limit: max,
            });
        }
        out.write_all(&chunk).await.map_err(|source| Error::Io {
            path: path.to_owned(),
            source,
        })?;
    }
    out.flush().await.map_err(|source| Error::Io {
        path: path.to_owned(),
        source,
    })?;
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::Req;

    #[test]
    fn an_install_id_never_reaches_an_error_or_a_log() {
        let req = Req::get(
            "/v0.1/apps/o/a/devices/block_logs/1c3e5a7b-0000-4000-8000-00000000abcd".into(),
        );
        assert_eq!(req.path(), "/v0.1/apps/o/a/devices/block_logs/{install_id}");
        let req = Req::get("/v0.1/apps/o/a/errors/errorGroups?$top=1".into());
        assert_eq!(req.path(), "/v0.1/apps/o/a/errors/errorGroups");
    }
}
