//! [`Store`]: one source or archive, on a local directory or an object
//! store, opened from one URL.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures::stream::{self, BoxStream};
use futures::{Stream, StreamExt, TryStreamExt};
use object_store::path::Path as StorePath;
use object_store::{ObjectStore, ObjectStoreExt, PutMode, PutOptions, PutPayload, UpdateVersion};

use crate::error::{Error, ErrorKind, Result};

/// Objects read at once from an object store, unless told otherwise: a
/// small GET there takes tens of milliseconds, so throughput needs many
/// requests in flight.
pub const REMOTE_IO: usize = 64;
/// Objects read at once from a local directory, unless told otherwise: a
/// local read is bounded by the disk, not by latency.
pub const LOCAL_IO: usize = 8;

/// [`Store::list_parallel`] lists each folder of the first level that
/// holds this many folders whole.
const WIDE: usize = 256;

/// [`Store::list_parallel`] reads at most this many levels of folders.
const DEEPEST: usize = 8;

/// Attempts at a call the store's own retries do not cover (a delete that
/// timed out), when the failure is [`ErrorKind::Transient`] or
/// [`ErrorKind::Throttled`].
const ATTEMPTS: u32 = 4;

/// One listed object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listed {
    /// Its path relative to the store's root, `/`-separated.
    pub path: String,
    /// Its size in bytes.
    pub size: u64,
    /// What changes whenever its bytes do: its ETag, else its time of last
    /// modification (none when unknown).
    pub version: Option<String>,
}

/// An object's bytes and the version to update it against.
#[derive(Debug, Clone)]
pub struct Got {
    /// The bytes.
    pub bytes: Bytes,
    /// The ETag or version the store gave (none from a local directory).
    pub version: Option<UpdateVersion>,
}

/// A source or an archive: a local directory, `az://container/prefix` or
/// `s3://bucket/prefix`.
#[derive(Debug, Clone)]
pub struct Store {
    inner: Arc<dyn ObjectStore>,
    dir: Option<PathBuf>,
    shown: String,
}

/// The environment variables handed to object_store's URL parser: its
/// Azure and AWS configuration keys (`AZURE_STORAGE_ACCOUNT_NAME`,
/// `AZURE_STORAGE_ACCOUNT_KEY`, `AZURE_STORAGE_SAS_KEY`,
/// `AZURE_STORAGE_USE_EMULATOR`, `AWS_ACCESS_KEY_ID`, `AWS_REGION`,
/// `AWS_ENDPOINT`, …), lower-cased.
fn credentials() -> Vec<(String, String)> {
    std::env::vars()
        .filter(|(k, _)| k.starts_with("AZURE_") || k.starts_with("AWS_"))
        .map(|(k, v)| (k.to_ascii_lowercase(), v))
        .collect()
}

/// `url` without a query (a SAS token) or user info, for messages.
fn shown(url: &str) -> String {
    let base = url.split(['?', '#']).next().unwrap_or_default();
    match base.split_once("://") {
        Some((scheme, rest)) => {
            let rest = rest.rsplit_once('@').map_or(rest, |(_, host)| host);
            format!("{scheme}://{rest}")
        }
        None => base.to_owned(),
    }
}

/// The object store of a remote URL, configured by `options`
/// (object_store's keys), sending its requests through
/// [`crate::throttle::Connector`] (Azure and S3), with `retry` instead of
/// object_store's default retries when given.
fn remote(
    url: &url::Url,
    options: Vec<(String, String)>,
    retry: Option<object_store::RetryConfig>,
) -> object_store::Result<(Box<dyn ObjectStore>, StorePath)> {
    use object_store::ObjectStoreScheme as S;
    let (scheme, path) = S::parse(url)?;
    let path = StorePath::parse(path)?;
    // As `object_store::parse_url_opts` builds them, keys it does not
    // know for the scheme skipped.
    macro_rules! build {
        ($builder:ty) => {{
            let mut b = options.iter().fold(
                <$builder>::new().with_url(url.to_string()),
                |b, (k, v)| match k.parse() {
                    Ok(k) => b.with_config(k, v),
                    Err(_) => b,
                },
            );
            if let Some(r) = retry {
                b = b.with_retry(r);
            }
            Box::new(b.with_http_connector(crate::throttle::Connector).build()?)
                as Box<dyn ObjectStore>
        }};
    }
    let store = match scheme {
        S::MicrosoftAzure => build!(object_store::azure::MicrosoftAzureBuilder),
        S::AmazonS3 => build!(object_store::aws::AmazonS3Builder),
        _ => return object_store::parse_url_opts(url, options),
    };
    Ok((store, path))
}

fn is_remote(url: &str) -> bool {
    url.contains("://") && !url.starts_with("file://")
}

impl Store {
    /// Opens `url`: a directory path or `file:///dir` (which must exist),
    /// `az://container/prefix` or `s3://bucket/prefix`, with credentials
    /// from the environment (see the crate's documentation).
    pub fn open(url: &str) -> Result<Self> {
        Self::open_with(url, false)
    }

    /// Like [`Store::open`], creating a directory that does not exist yet
    /// (an archive `fetch` writes to).
    pub fn create(url: &str) -> Result<Self> {
        Self::open_with(url, true)
    }

    fn open_with(url: &str, create: bool) -> Result<Self> {
        let shown = shown(url);
        if is_remote(url) {
            // The URL is parsed without its query and user info (object_store
            // reads credentials from the options, never from the URL), so
            // its messages, which repeat the URL, cannot hold a secret.
            let parsed = url::Url::parse(&shown)
                .map_err(|e| Error::config(&shown, format!("not a URL: {e}")))?;
            let (store, prefix) = remote(&parsed, credentials(), None).map_err(|e| {
                Error::config(
                    &shown,
                    format!(
                        "{e} (a source is a directory, az://container/prefix or \
                             s3://bucket/prefix, with credentials in AZURE_STORAGE_* or AWS_*)"
                    ),
                )
            })?;
            let inner: Arc<dyn ObjectStore> = if prefix.as_ref().is_empty() {
                Arc::from(store)
            } else {
                Arc::new(object_store::prefix::PrefixStore::new(store, prefix))
            };
            return Ok(Self {
                inner,
                dir: None,
                shown,
            });
        }
        let dir = PathBuf::from(url.strip_prefix("file://").unwrap_or(url));
        if create {
            std::fs::create_dir_all(&dir).map_err(|e| Error::from_io("creating", &shown, e))?;
        } else if !dir.is_dir() {
            return Err(Error::config(
                &shown,
                "not a directory, or it does not exist",
            ));
        }
        let fs = object_store::local::LocalFileSystem::new_with_prefix(&dir)
            .map_err(|e| Error::from_object_store("opening", &shown, e))?;
        Ok(Self {
            inner: Arc::new(fs),
            dir: Some(dir),
            shown,
        })
    }

    /// A store over any object store (tests, benchmarks): read as a remote
    /// store, through the object-store interface only.
    pub fn from_object_store(store: Arc<dyn ObjectStore>, name: &str) -> Self {
        Self {
            inner: store,
            dir: None,
            shown: name.to_owned(),
        }
    }

    /// The local directory, when the store is one: its files may be read
    /// in place, with no per-object async overhead.
    pub fn dir(&self) -> Option<&Path> {
        self.dir.as_deref()
    }

    /// The object store behind it (a local directory has one too).
    pub fn object_store(&self) -> &Arc<dyn ObjectStore> {
        &self.inner
    }

    /// The URL or path it was opened from, without a query or user info.
    pub fn url(&self) -> &str {
        &self.shown
    }

    /// Reads to keep in flight by default ([`LOCAL_IO`] or [`REMOTE_IO`]).
    pub fn default_io(&self) -> usize {
        if self.dir.is_some() {
            LOCAL_IO
        } else {
            REMOTE_IO
        }
    }

    /// Every object under `prefix` (a folder, with or without its `/`; all
    /// with `None`), in the store's listing order.
    pub fn list(
        &self,
        prefix: Option<&str>,
    ) -> impl Stream<Item = Result<Listed>> + Send + 'static {
        let prefix = prefix
            .map(|p| p.trim_end_matches('/'))
            .filter(|p| !p.is_empty())
            .map(location);
        let shown = match &prefix {
            Some(p) => format!("{}/{p}", self.shown),
            None => self.shown.clone(),
        };
        self.inner
            .list(prefix.as_ref())
            .map_ok(|m| Listed {
                path: m.location.to_string(),
                size: m.size,
                version: m.e_tag.or_else(|| Some(m.last_modified.to_rfc3339())),
            })
            .map_err(move |e| Error::from_object_store("listing", &shown, e))
    }

    /// Every object under `prefix` (all with `None`), in no set order,
    /// listed with `in_flight` requests at once: the folders are found a
    /// level at a time (a delimited LIST each) until a level holds at least
    /// 256 folders (or 8 levels were read), then each folder of that level
    /// is listed whole. An object store returns 5,000 names
    /// a page, one page after another, so a plain listing of millions of
    /// objects is thousands of round trips in a row; an export's hour
    /// folders are listed side by side instead.
    pub async fn list_parallel(
        &self,
        prefix: Option<&str>,
        in_flight: usize,
    ) -> Result<Vec<Listed>> {
        let in_flight = in_flight.max(1);
        let listed = |m: object_store::ObjectMeta| Listed {
            path: m.location.to_string(),
            size: m.size,
            version: m.e_tag.or_else(|| Some(m.last_modified.to_rfc3339())),
        };
        let failed = |p: &Option<StorePath>, e| {
            let at = p.as_ref().map_or_else(String::new, |p| format!("/{p}"));
            Error::from_object_store("listing", &format!("{}{at}", self.shown), e)
        };
        let start = prefix
            .map(|p| p.trim_end_matches('/'))
            .filter(|p| !p.is_empty())
            .map(location);
        let mut out = Vec::new();
        let mut level = vec![start];
        for _ in 0..DEEPEST {
            if level.len() >= WIDE {
                break;
            }
            let read: Vec<object_store::ListResult> = stream::iter(level)
                .map(|p| async move {
                    self.inner
                        .list_with_delimiter(p.as_ref())
                        .await
                        .map_err(|e| failed(&p, e))
                })
                .buffer_unordered(in_flight)
                .try_collect()
                .await?;
            level = Vec::new();
            for r in read {
                out.extend(r.objects.into_iter().map(listed));
                level.extend(r.common_prefixes.into_iter().map(Some));
            }
            if level.is_empty() {
                return Ok(out);
            }
        }
        let whole: Vec<Vec<Listed>> = stream::iter(level)
            .map(|p| async move {
                self.inner
                    .list(p.as_ref())
                    .map_ok(listed)
                    .try_collect::<Vec<_>>()
                    .await
                    .map_err(|e| failed(&p, e))
            })
            .buffer_unordered(in_flight)
            .try_collect()
            .await?;
        out.extend(whole.into_iter().flatten());
        Ok(out)
    }

    /// The path of every object under `prefix`, as a stream: a directory
    /// walked depth first (every file, erasure's temporary copies included,
    /// which a local object store's listing would hide; a folder that is
    /// not there is empty), an object store listed. A folder's objects come
    /// one after another, and memory holds one open folder a level, however
    /// many entries a folder has.
    pub fn paths(&self, prefix: Option<&str>) -> BoxStream<'static, Result<String>> {
        let Some(root) = self.dir.clone() else {
            return self.list(prefix).map_ok(|l| l.path).boxed();
        };
        let start = root.join(prefix.unwrap_or("").trim_end_matches('/'));
        // The folders being read, the innermost last.
        let open: Vec<(PathBuf, std::fs::ReadDir)> = Vec::new();
        stream::unfold(
            (root, Some(start), open),
            |(root, mut next, mut open)| async move {
                loop {
                    if let Some(dir) = next.take() {
                        match std::fs::read_dir(&dir) {
                            Ok(entries) => open.push((dir, entries)),
                            // Gone since it was listed, or never there.
                            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                            Err(e) => {
                                let e = Error::from_io("listing", &dir.display().to_string(), e);
                                return Some((Err(e), (root, None, Vec::new())));
                            }
                        }
                    }
                    let (dir, entries) = open.last_mut()?;
                    let entry = match entries.next() {
                        None => {
                            open.pop();
                            continue;
                        }
                        Some(Ok(entry)) => entry,
                        Some(Err(e)) => {
                            let e = Error::from_io("listing", &dir.display().to_string(), e);
                            return Some((Err(e), (root, None, Vec::new())));
                        }
                    };
                    let p = entry.path();
                    if entry.file_type().is_ok_and(|t| t.is_dir()) {
                        next = Some(p);
                    } else if let Ok(rel) = p.strip_prefix(&root) {
                        let rel = rel.to_string_lossy().replace('\\', "/");
                        return Some((Ok(rel), (root, next, open)));
                    }
                }
            },
        )
        .boxed()
    }

    /// The paths under `prefix`, sorted ([`Store::paths`]).
    pub async fn list_sorted(&self, prefix: Option<&str>) -> Result<Vec<String>> {
        let mut out: Vec<String> = self.paths(prefix).try_collect().await?;
        out.sort();
        Ok(out)
    }

    /// An object's bytes and version, or `None` if it is not there.
    pub async fn get(&self, path: &str) -> Result<Option<Got>> {
        let got = match self.inner.get(&location(path)).await {
            Ok(g) => g,
            Err(object_store::Error::NotFound { .. }) => return Ok(None),
            Err(e) => return Err(Error::from_object_store("reading", path, e)),
        };
        // A directory's ETag cannot be updated against (object_store's
        // local store has no conditional put): it gives none.
        let versioned =
            self.dir.is_none() && (got.meta.e_tag.is_some() || got.meta.version.is_some());
        let version = versioned.then(|| UpdateVersion {
            e_tag: got.meta.e_tag.clone(),
            version: got.meta.version.clone(),
        });
        let bytes = got
            .bytes()
            .await
            .map_err(|e| Error::from_object_store("reading", path, e))?;
        Ok(Some(Got { bytes, version }))
    }

    /// The first `len` bytes of an object (one ranged read), or `None` if
    /// it is not there; an error when it is shorter.
    pub async fn get_prefix(&self, path: &str, len: u64) -> Result<Option<Bytes>> {
        Ok(self
            .get_ranges(path, std::slice::from_ref(&(0..len)))
            .await?
            .map(|mut got| got.remove(0)))
    }

    /// The bytes of an object at each of `ranges` (ranges near each other
    /// read with one request), or `None` if it is not there; an error when
    /// it ends before one of them does.
    pub async fn get_ranges(
        &self,
        path: &str,
        ranges: &[std::ops::Range<u64>],
    ) -> Result<Option<Vec<Bytes>>> {
        let got = match self.inner.get_ranges(&location(path), ranges).await {
            Ok(got) => got,
            Err(object_store::Error::NotFound { .. }) => return Ok(None),
            Err(e) => return Err(Error::from_object_store("reading", path, e)),
        };
        for (r, b) in ranges.iter().zip(&got) {
            if b.len() as u64 != r.end - r.start {
                return Err(Error::new(
                    ErrorKind::Other,
                    "reading",
                    path,
                    format!(
                        "{} bytes where {} were asked for at {}",
                        b.len(),
                        r.end - r.start,
                        r.start
                    ),
                ));
            }
        }
        Ok(Some(got))
    }

    /// An object's bytes as a stream of chunks: memory stays bounded
    /// whatever its size.
    pub async fn chunks(
        &self,
        path: &str,
    ) -> Result<impl Stream<Item = Result<Bytes>> + Send + 'static> {
        let r = self
            .inner
            .get(&location(path))
            .await
            .map_err(|e| Error::from_object_store("reading", path, e))?;
        let owned = path.to_owned();
        Ok(r.into_stream()
            .map_err(move |e| Error::from_object_store("reading", &owned, e)))
    }

    /// An object's bytes, refusing one larger than `max`.
    pub async fn read(&self, path: &str, max: u64) -> Result<Bytes> {
        let mut chunks = std::pin::pin!(self.chunks(path).await?);
        let first = match chunks.next().await {
            None => return Ok(Bytes::new()),
            Some(c) => c?,
        };
        let Some(second) = chunks.next().await else {
            // One chunk: no copy.
            return if first.len() as u64 > max {
                Err(too_large(path, max))
            } else {
                Ok(first)
            };
        };
        let mut buf = Vec::with_capacity(first.len() * 2);
        buf.extend_from_slice(&first);
        let mut next = Some(second);
        while let Some(c) = next {
            let c = c?;
            if (buf.len() + c.len()) as u64 > max {
                return Err(too_large(path, max));
            }
            buf.extend_from_slice(&c);
            next = chunks.next().await;
        }
        Ok(Bytes::from(buf))
    }

    /// Writes `bytes` to `path`, replacing what is there.
    pub async fn put(&self, path: &str, bytes: impl Into<Bytes>) -> Result<()> {
        self.inner
            .put(&location(path), PutPayload::from(bytes.into()))
            .await
            .map(|_| ())
            .map_err(|e| Error::from_object_store("writing", path, e))
    }

    /// Replaces `path` with `bytes` only if it is still at `version` (an
    /// ETag check; [`ErrorKind::Precondition`] if it changed). With no
    /// version (a store that gives none), it is overwritten.
    pub async fn put_if(
        &self,
        path: &str,
        bytes: impl Into<Bytes>,
        version: Option<&UpdateVersion>,
    ) -> Result<()> {
        let mode = match version {
            Some(v) if v.e_tag.is_some() || v.version.is_some() => PutMode::Update(v.clone()),
            _ => PutMode::Overwrite,
        };
        self.inner
            .put_opts(
                &location(path),
                PutPayload::from(bytes.into()),
                PutOptions {
                    mode,
                    ..Default::default()
                },
            )
            .await
            .map(|_| ())
            .map_err(|e| Error::from_object_store("replacing", path, e))
    }

    /// Deletes `path`; one already gone is no error. A delete that fails
    /// for a transient reason or throttling (object_store sends Azure's as
    /// a batch request and does not retry a timeout of it) is tried again,
    /// up to four times in all.
    pub async fn delete(&self, path: &str) -> Result<()> {
        let at = location(path);
        let mut attempt = 1;
        loop {
            match self.inner.delete(&at).await {
                Ok(()) | Err(object_store::Error::NotFound { .. }) => return Ok(()),
                Err(e) => {
                    let err = Error::from_object_store("deleting", path, e);
                    let again = matches!(err.kind(), ErrorKind::Transient | ErrorKind::Throttled);
                    if !again || attempt >= ATTEMPTS {
                        return Err(err);
                    }
                    let wait = Duration::from_millis(250 << attempt);
                    tracing::warn!(object = %path, attempt, error = %err.message(), "A delete failed for a transient reason; trying again.");
                    tokio::time::sleep(wait).await;
                    attempt += 1;
                }
            }
        }
    }
}

/// The object store's path for `path`: a listed name as it is (parsing
/// keeps its escapes), any other name encoded.
fn location(path: &str) -> StorePath {
    StorePath::parse(path).unwrap_or_else(|_| StorePath::from(path))
}

fn too_large(path: &str, max: u64) -> Error {
    Error::new(
        ErrorKind::Other,
        "reading",
        path,
        format!("larger than {max} bytes"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_parallel_listing_lists_what_a_plain_one_does() {
        let inner: Arc<dyn ObjectStore> = Arc::new(object_store::memory::InMemory::new());
        let store = Store::from_object_store(inner, "memory");
        let mut paths = vec![
            "top".to_owned(),
            "a/b".to_owned(),
            "deep/1/2/3/4/5/6/7/8/9/10/x".to_owned(),
        ];
        // An export: more hours than WIDE, a few objects each, and loose
        // objects at every level above them.
        for day in 1..=12 {
            paths.push(format!("2026/11/{day:02}/notes"));
            for hour in 0..24 {
                for (minute, name) in [(0, "logs.v1.data"), (59, "crashes/e.json")] {
                    paths.push(format!("2026/11/{day:02}/{hour:02}/{minute:02}/{name}"));
                }
            }
        }
        for p in &paths {
            store.put(p, format!("body of {p}")).await.unwrap();
        }
        for prefix in [
            None,
            Some("2026"),
            Some("2026/11/03/"),
            Some("deep"),
            Some("nothing"),
        ] {
            let mut plain: Vec<Listed> = store.list(prefix).try_collect().await.unwrap();
            let mut parallel = store.list_parallel(prefix, 4).await.unwrap();
            plain.sort_by(|a, b| a.path.cmp(&b.path));
            parallel.sort_by(|a, b| a.path.cmp(&b.path));
            assert_eq!(parallel, plain, "{prefix:?}");
        }
        let all = store.list_parallel(None, 4).await.unwrap();
        assert_eq!(all.len(), paths.len());
    }

    #[test]
    fn shown_urls_hold_no_secret() {
        assert_eq!(shown("az://c/p?sv=2020&sig=SECRET"), "az://c/p");
        assert_eq!(shown("s3://key:SECRET@bucket/p"), "s3://bucket/p");
        assert_eq!(shown("/tmp/x"), "/tmp/x");
    }

    /// A server on loopback answering the `n`th request with `script[n]`
    /// (the last status from then on) and no body, and how many it got.
    async fn scripted(script: Vec<u16>) -> (String, Arc<std::sync::atomic::AtomicUsize>) {
        use std::sync::atomic::{AtomicUsize, Ordering};
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let count = Arc::new(AtomicUsize::new(0));
        let seen = count.clone();
        tokio::spawn(async move {
            while let Ok((mut conn, _)) = listener.accept().await {
                let (seen, script) = (seen.clone(), script.clone());
                tokio::spawn(async move {
                    let (mut buf, mut chunk) = (Vec::new(), [0u8; 4096]);
                    loop {
                        let end = loop {
                            if let Some(at) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                                break at + 4;
                            }
                            match conn.read(&mut chunk).await {
                                Ok(0) | Err(_) => return,
                                Ok(n) => buf.extend_from_slice(&chunk[..n]),
                            }
                        };
                        // The requests here (GET) have no body.
                        buf.drain(..end);
                        let n = seen.fetch_add(1, Ordering::SeqCst);
                        let status = script[n.min(script.len() - 1)];
                        let reply =
                            format!("HTTP/1.1 {status} Scripted\r\ncontent-length: 0\r\n\r\n");
                        if conn.write_all(reply.as_bytes()).await.is_err() {
                            return;
                        }
                    }
                });
            }
        });
        (format!("http://{addr}"), count)
    }

    /// An Azure store at `endpoint`, retrying twice at once.
    fn azure_at(endpoint: &str) -> Store {
        let options = [
            ("azure_storage_account_name", "devstoreaccount1"),
            // Azurite's published account key, not a secret.
            (
                "azure_storage_account_key",
                "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==",
            ),
            ("azure_storage_endpoint", endpoint),
            ("azure_allow_http", "true"),
        ]
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .to_vec();
        let retry = object_store::RetryConfig {
            backoff: object_store::BackoffConfig {
                init_backoff: Duration::from_millis(1),
                max_backoff: Duration::from_millis(5),
                base: 2.0,
            },
            max_retries: 2,
            retry_timeout: Duration::from_secs(30),
        };
        let url = url::Url::parse("az://c/p").unwrap();
        let (store, _) = remote(&url, options, Some(retry)).unwrap();
        Store::from_object_store(Arc::from(store), "az://c/p")
    }

    #[tokio::test]
    async fn throttling_is_retried_and_told_apart_by_its_status() {
        use std::sync::atomic::Ordering;
        // The answers scripted, what `get` makes of them (`None`: not
        // there), and the requests made (the first and two retries).
        let cases: [(&[u16], Option<ErrorKind>, usize); 5] = [
            // Refused for its rate through every retry (Azure's
            // ServerBusy is a 503): throttled.
            (&[503], Some(ErrorKind::Throttled), 3),
            (&[429], Some(ErrorKind::Throttled), 3),
            // Throttled, then an answer: the answer counts.
            (&[429, 503, 404], None, 3),
            // A server error is retried as before, and is not throttling.
            (&[500], Some(ErrorKind::Other), 3),
            // Refused, not throttled, and not retried.
            (&[403], Some(ErrorKind::Permission), 1),
        ];
        for (script, want, requests) in cases {
            let (endpoint, count) = scripted(script.to_vec()).await;
            let got = azure_at(&endpoint).get("x").await;
            match want {
                Some(kind) => assert_eq!(got.unwrap_err().kind(), kind, "{script:?}"),
                None => assert!(got.unwrap().is_none(), "{script:?}"),
            }
            assert_eq!(count.load(Ordering::SeqCst), requests, "{script:?}");
        }
    }
}
