//! The endpoints of one app: [`AppClient`].
//!
//! Lists are streams that page to the end on their own: `nextLink` (errors
//! API), `continuation_token` (legacy crash groups), `$top`/`$skip` with
//! `hasMoreResults` (search) and the session logs' 100-per-call `date`
//! continuation.

use futures::{Stream, TryStreamExt, stream};
use reqwest::Method;
use serde::Serialize;
use serde_json::json;
use tokio::io::AsyncWrite;
use url::form_urlencoded;

use crate::client::{Client, Req};
use crate::error::{Error, Result};
use crate::models::*;
use crate::time::Timestamp;

/// Encodes one path segment.
pub(crate) fn encode_segment(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn query(pairs: &[(&str, Option<String>)]) -> String {
    let mut s = form_urlencoded::Serializer::new(String::new());
    for (k, v) in pairs {
        if let Some(v) = v {
            s.append_pair(k, v);
        }
    }
    let q = s.finish();
    if q.is_empty() { q } else { format!("?{q}") }
}

/// Which error type a list covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ErrorType {
    /// Crashes and handled errors.
    #[default]
    All,
    /// Crashes.
    Unhandled,
    /// Handled errors.
    Handled,
}

impl ErrorType {
    fn as_str(self) -> &'static str {
        match self {
            Self::All => "all",
            Self::Unhandled => "unhandledError",
            Self::Handled => "handledError",
        }
    }
}

/// Window and page size of the errors API lists.
#[derive(Debug, Clone)]
pub struct ListOptions {
    /// Start of the window (required by the spec).
    pub start: Timestamp,
    /// End of the window.
    pub end: Option<Timestamp>,
    /// Page size, 1 to 2000.
    pub top: u32,
    /// Which errors (group lists only).
    pub error_type: ErrorType,
}

impl ListOptions {
    /// Everything since `start`, 100 per page.
    pub fn since(start: Timestamp) -> Self {
        Self {
            start,
            end: None,
            top: 100,
            error_type: ErrorType::All,
        }
    }
}

/// `download?format=`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DownloadFormat {
    /// The full crash log as JSON.
    Json,
    /// Plain text.
    Txt,
}

/// The spelling of the session-logs path: the spec's `sessionLogs`, or the
/// docs' `session_logs`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SessionLogsPath {
    /// `errors/{id}/sessionLogs` (spec).
    #[default]
    Spec,
    /// `errors/{id}/session_logs` (docs).
    Docs,
}

/// A handle on one app: `client.app("owner", "app")`.
#[derive(Debug, Clone)]
pub struct AppClient {
    client: Client,
    owner: String,
    app: String,
    prefix: String,
}

impl Client {
    /// The endpoints of `owner/app`.
    pub fn app(&self, owner: &str, app: &str) -> AppClient {
        AppClient {
            client: self.clone(),
            owner: owner.to_owned(),
            app: app.to_owned(),
            prefix: format!(
                "/v0.1/apps/{}/{}",
                encode_segment(owner),
                encode_segment(app)
            ),
        }
    }
}

impl AppClient {
    /// `OWNER/APP`.
    pub fn name(&self) -> String {
        format!("{}/{}", self.owner, self.app)
    }

    /// The underlying client.
    pub fn client(&self) -> &Client {
        &self.client
    }

    fn path(&self, rest: &str) -> String {
        format!("{}{rest}", self.prefix)
    }

    async fn get<T: serde::de::DeserializeOwned>(
        &self,
        rest: &str,
        what: &'static str,
    ) -> Result<T> {
        self.client.json(Req::get(self.path(rest)), what).await
    }

    async fn send<B: Serialize, T: serde::de::DeserializeOwned>(
        &self,
        method: Method,
        rest: &str,
        body: &B,
        what: &'static str,
    ) -> Result<T> {
        let body = serde_json::to_value(body)
            .map_err(|e| Error::Config(format!("encoding {what}: {e}")))?;
        self.client
            .json(Req::with_body(method, self.path(rest), body), what)
            .await
    }

    async fn send_unit(&self, method: Method, rest: &str) -> Result<()> {
        // POST/PUT need a body or App Center answers 411.
        let req = if method == Method::DELETE {
            Req {
                method,
                ..Req::get(self.path(rest))
            }
        } else {
            Req::with_body(method, self.path(rest), json!({}))
        };
        self.client.unit(req).await
    }

    // ------------------------------------------------------------ app, retention

    /// `GET /v0.1/apps/{owner}/{app}`.
    pub async fn get_app(&self) -> Result<App> {
        self.get("", "app").await
    }

    /// `GET errors/retention_settings`.
    pub async fn retention(&self) -> Result<RetentionSettings> {
        self.get("/errors/retention_settings", "retention settings")
            .await
    }

    /// `PUT errors/retention_settings` (28 or 90).
    pub async fn set_retention(&self, days: u32) -> Result<RetentionSettings> {
        if days != 28 && days != 90 {
            return Err(Error::Config(format!(
                "retention must be 28 or 90 days, not {days}"
            )));
        }
        let body = RetentionSettings {
            retention_in_days: days,
        };
        self.send(
            Method::PUT,
            "/errors/retention_settings",
            &body,
            "retention settings",
        )
        .await
    }

    // ------------------------------------------------------------ export configurations

    /// `GET export_configurations`.
    pub async fn export_configurations(&self) -> Result<ExportConfigurationList> {
        self.get("/export_configurations", "export configuration list")
            .await
    }

    /// `GET export_configurations/{id}`.
    pub async fn export_configuration(&self, id: &str) -> Result<ExportConfigurationResult> {
        self.get(
            &format!("/export_configurations/{}", encode_segment(id)),
            "export configuration",
        )
        .await
    }

    /// `POST export_configurations` (202, state `Pending`).
    pub async fn create_export_configuration(
        &self,
        cfg: &ExportConfiguration,
    ) -> Result<ExportConfigurationResult> {
        self.send(
            Method::POST,
            "/export_configurations",
            cfg,
            "export configuration",
        )
        .await
    }

    /// `PATCH export_configurations/{id}`; the body always carries `type`.
    pub async fn update_export_configuration(
        &self,
        id: &str,
        cfg: &ExportConfiguration,
    ) -> Result<ExportConfigurationResult> {
        let rest = format!("/export_configurations/{}", encode_segment(id));
        self.send(Method::PATCH, &rest, cfg, "export configuration")
            .await
    }

    /// `DELETE export_configurations/{id}`.
    pub async fn delete_export_configuration(&self, id: &str) -> Result<()> {
        self.send_unit(
            Method::DELETE,
            &format!("/export_configurations/{}", encode_segment(id)),
        )
        .await
    }

    /// `POST export_configurations/{id}/enable`.
    pub async fn enable_export_configuration(&self, id: &str) -> Result<()> {
        self.send_unit(
            Method::POST,
            &format!("/export_configurations/{}/enable", encode_segment(id)),
        )
        .await
    }

    /// `POST export_configurations/{id}/disable`.
    pub async fn disable_export_configuration(&self, id: &str) -> Result<()> {
        self.send_unit(
            Method::POST,
            &format!("/export_configurations/{}/disable", encode_segment(id)),
        )
        .await
    }

    // ------------------------------------------------------------ errors API

    /// The path of the first page of `errors/errorGroups`; pass it, then each
    /// returned cursor, to [`Self::error_groups_page`].
    pub fn error_groups_first_page(&self, opts: &ListOptions) -> String {
        self.path("/errors/errorGroups")
            + &query(&[
                ("start", Some(opts.start.to_string())),
                ("end", opts.end.map(|t| t.to_string())),
                ("$top", Some(opts.top.to_string())),
                ("errorType", Some(opts.error_type.as_str().to_owned())),
            ])
    }

    /// One page of error groups and the cursor (a normalised `nextLink`) of
    /// the next, `None` on the last.
    pub async fn error_groups_page(
        &self,
        cursor: &str,
    ) -> Result<(Vec<ErrorGroup>, Option<String>)> {
        let page: ErrorGroups = self
            .client
            .json(Req::get(cursor.to_owned()), "error group page")
            .await?;
        Ok((
            page.error_groups,
            self.next_cursor(cursor, page.next_link, "error group page")?,
        ))
    }

    /// The path of the first page of a group's errors.
    pub fn errors_first_page(&self, group_id: &str, opts: &ListOptions) -> String {
        self.path(&format!(
            "/errors/errorGroups/{}/errors",
            encode_segment(group_id)
        )) + &query(&[
            ("start", Some(opts.start.to_string())),
            ("end", opts.end.map(|t| t.to_string())),
            ("$top", Some(opts.top.to_string())),
        ])
    }

    /// One page of a group's errors and the cursor of the next.
    pub async fn errors_page(&self, cursor: &str) -> Result<(Vec<ErrorSummary>, Option<String>)> {
        let page: ErrorList = self
            .client
            .json(Req::get(cursor.to_owned()), "error page")
            .await?;
        Ok((
            page.errors,
            self.next_cursor(cursor, page.next_link, "error page")?,
        ))
    }

    fn next_cursor(
        &self,
        current: &str,
        link: Option<String>,
        what: &str,
    ) -> Result<Option<String>> {
        match link.filter(|l| !l.trim().is_empty()) {
            Some(l) => {
                let n = self.normalize_next_link(&l)?;
                if n == current {
                    return Err(Error::Protocol(format!(
                        "{what}: nextLink points at the same page"
                    )));
                }
                Ok(Some(n))
            }
            None => Ok(None),
        }
    }

    /// Every error group in the window, paging through `nextLink`.
    pub fn error_groups(
        &self,
        opts: &ListOptions,
    ) -> impl Stream<Item = Result<ErrorGroup>> + Send + 'static {
        let this = self.clone();
        pages(self.error_groups_first_page(opts), move |c| {
            let this = this.clone();
            async move { this.error_groups_page(&c).await }
        })
    }

    /// Every error of a group in the window, paging through `nextLink`.
    pub fn errors_for_group(
        &self,
        group_id: &str,
        opts: &ListOptions,
    ) -> impl Stream<Item = Result<ErrorSummary>> + Send + 'static {
        let this = self.clone();
        pages(self.errors_first_page(group_id, opts), move |c| {
            let this = this.clone();
            async move { this.errors_page(&c).await }
        })
    }

    /// Turns a `nextLink` into a path relative to the base URL, repairing the
    /// live service's quirks: a bogus `/api` prefix, and a missing
    /// owner/app (a `//` where `/apps/{owner}/{app}/` belongs). A link to
    /// another host is refused: the token is never sent there.
    pub fn normalize_next_link(&self, link: &str) -> Result<String> {
        let mut rest = link.trim().to_owned();
        if let Some(after) = rest
            .strip_prefix("http://")
            .or_else(|| rest.strip_prefix("https://"))
        {
            let (host, path) = after.split_at(after.find('/').unwrap_or(after.len()));
            let base = self.client.base_url();
            let base_host = match base.port() {
                Some(p) => format!("{}:{p}", base.host_str().unwrap_or_default()),
                None => base.host_str().unwrap_or_default().to_owned(),
            };
            if !host.eq_ignore_ascii_case(&base_host) {
                return Err(Error::Protocol(format!(
                    "refusing a nextLink to another host ({host})"
                )));
            }
            rest = path.to_owned();
        }
        if !rest.starts_with('/') {
            rest.insert(0, '/');
        }
        if let Some(r) = rest.strip_prefix("/api/") {
            rest = format!("/{r}");
        }
        let (path, q) = match rest.split_once('?') {
            Some((p, q)) => (p.to_owned(), Some(q.to_owned())),
            None => (rest.clone(), None),
        };
        let mut path = path;
        if !path.starts_with(&self.prefix) {
            if let Some(i) = path.find("/apps//") {
                let fixed = format!(
                    "/apps/{}/{}/",
                    encode_segment(&self.owner),
                    encode_segment(&self.app)
                );
                path.replace_range(i..i + "/apps//".len(), &fixed);
            } else if let Some(i) = path.find("/v0.1//") {
                path.replace_range(i..i + "/v0.1//".len(), &format!("{}/", self.prefix));
            } else {
                return Err(Error::Protocol(format!(
                    "nextLink {path:?} does not belong to app {}",
                    self.name()
                )));
            }
        }
        Ok(match q {
            Some(q) => format!("{path}?{q}"),
            None => path,
        })
    }

    /// `GET errors/errorGroups/{id}`.
    pub async fn error_group(&self, group_id: &str) -> Result<ErrorGroup> {
        self.get(
            &format!("/errors/errorGroups/{}", encode_segment(group_id)),
            "error group",
        )
        .await
    }

    /// `PATCH errors/errorGroups/{id}`.
    pub async fn update_error_group(
        &self,
        group_id: &str,
        change: &ErrorGroupStateChange,
    ) -> Result<ErrorGroup> {
        let rest = format!("/errors/errorGroups/{}", encode_segment(group_id));
        self.send(Method::PATCH, &rest, change, "error group").await
    }

    fn error_path(group_id: &str, error_id: &str, tail: &str) -> String {
        format!(
            "/errors/errorGroups/{}/errors/{}{tail}",
            encode_segment(group_id),
            encode_segment(error_id)
        )
    }

    /// `GET errors/errorGroups/{gid}/errors/{eid}`.
    pub async fn error_details(&self, group_id: &str, error_id: &str) -> Result<ErrorDetails> {
        self.get(&Self::error_path(group_id, error_id, ""), "error details")
            .await
    }

    /// `GET errors/errorGroups/{gid}/errors/{eid}/stacktrace`.
    pub async fn error_stacktrace(&self, group_id: &str, error_id: &str) -> Result<StackTrace> {
        self.get(
            &Self::error_path(group_id, error_id, "/stacktrace"),
            "stack trace",
        )
        .await
    }

    /// `GET errors/errorGroups/{gid}/stacktrace`.
    pub async fn group_stacktrace(&self, group_id: &str) -> Result<StackTrace> {
        let rest = format!(
            "/errors/errorGroups/{}/stacktrace",
            encode_segment(group_id)
        );
        self.get(&rest, "stack trace").await
    }

    /// `GET errors/errorGroups/{gid}/errors/{eid}/location`.
    pub async fn error_location(&self, group_id: &str, error_id: &str) -> Result<Location> {
        self.get(
            &Self::error_path(group_id, error_id, "/location"),
            "location",
        )
        .await
    }

    /// `GET errors/errorGroups/{gid}/errors/{eid}/download`, streamed into
    /// `out` (capped). Returns the bytes written.
    pub async fn download_error<W: AsyncWrite + Unpin>(
        &self,
        group_id: &str,
        error_id: &str,
        format: DownloadFormat,
        out: &mut W,
    ) -> Result<u64> {
        let f = match format {
            DownloadFormat::Json => "json",
            DownloadFormat::Txt => "txt",
        };
        let path = self.path(&Self::error_path(group_id, error_id, "/download")) + "?format=" + f;
        self.client.stream_to(Req::get(path), out).await
    }

    /// `DELETE errors/errorGroups/{gid}/errors/{eid}`.
    pub async fn delete_error(&self, group_id: &str, error_id: &str) -> Result<ErrorDeleteCounter> {
        let req = Req {
            method: Method::DELETE,
            ..Req::get(self.path(&Self::error_path(group_id, error_id, "")))
        };
        self.client.json(req, "delete counter").await
    }

    /// `GET errors/{eid}/attachments`.
    pub async fn attachments(&self, error_id: &str) -> Result<Vec<ErrorAttachment>> {
        self.get(
            &format!("/errors/{}/attachments", encode_segment(error_id)),
            "attachment list",
        )
        .await
    }

    /// `GET errors/{eid}/attachments/{aid}/text`.
    pub async fn attachment_text(&self, error_id: &str, attachment_id: &str) -> Result<String> {
        let rest = format!(
            "/errors/{}/attachments/{}/text",
            encode_segment(error_id),
            encode_segment(attachment_id)
        );
        self.get::<AttachmentText>(&rest, "attachment text")
            .await
            .map(|t| t.content)
    }

    /// `GET errors/{eid}/attachments/{aid}/location`.
    pub async fn attachment_location(
        &self,
        error_id: &str,
        attachment_id: &str,
    ) -> Result<Location> {
        let rest = format!(
            "/errors/{}/attachments/{}/location",
            encode_segment(error_id),
            encode_segment(attachment_id)
        );
        self.get(&rest, "location").await
    }

    /// Every session log of an error, 100 per call, continuing from
    /// `last_received_log_timestamp`.
    pub fn session_logs(
        &self,
        error_id: &str,
        spelling: SessionLogsPath,
    ) -> impl Stream<Item = Result<SessionLog>> + Send + 'static {
        let seg = match spelling {
            SessionLogsPath::Spec => "sessionLogs",
            SessionLogsPath::Docs => "session_logs",
        };
        self.date_pages(self.path(&format!("/errors/{}/{seg}", encode_segment(error_id))))
    }

    fn date_pages(&self, base: String) -> impl Stream<Item = Result<SessionLog>> + Send + 'static {
        let this = self.clone();
        stream::try_unfold((Some(None::<Timestamp>), base), move |(next, base)| {
            let this = this.clone();
            async move {
                let Some(date) = next else { return Ok(None) };
                let path = base.clone() + &query(&[("date", date.map(|d| d.to_string()))]);
                let page: SessionLogPage = this.client.json(Req::get(path), "session log page").await?;
                let next = match (page.exceeded_max_limit, page.last_received_log_timestamp) {
                    (true, Some(last)) if Some(last) > date => Some(Some(last)),
                    (true, _) => {
                        return Err(Error::Protocol(
                            "session logs: more logs announced but the continuation does not advance".into(),
                        ));
                    }
                    (false, _) => None,
                };
                Ok(Some((stream::iter(page.logs.into_iter().map(Ok)), (next, base))))
            }
        })
        .try_flatten()
    }

    /// `errors/search` with `$top`/`$skip`, to the last page. `q` is the
    /// search text, `filter` the OData filter.
    pub fn search_errors(
        &self,
        q: Option<&str>,
        filter: Option<&str>,
    ) -> impl Stream<Item = Result<ErrorSummary>> + Send + 'static {
        let this = self.clone();
        let (q, filter) = (q.map(str::to_owned), filter.map(str::to_owned));
        stream::try_unfold(Some(0u64), move |skip| {
            let (this, q, filter) = (this.clone(), q.clone(), filter.clone());
            async move {
                let Some(skip) = skip else { return Ok(None) };
                let path = this.path("/errors/search")
                    + &query(&[
                        ("q", q),
                        ("filter", filter),
                        ("$top", Some("100".into())),
                        ("$skip", Some(skip.to_string())),
                    ]);
                let page: ErrorSearchResult = this
                    .client
                    .json(Req::get(path), "error search page")
                    .await?;
                let n = page.errors.len() as u64;
                let next = (page.has_more_results && n > 0).then_some(skip + n);
                Ok(Some((stream::iter(page.errors.into_iter().map(Ok)), next)))
            }
        })
        .try_flatten()
    }

    // ------------------------------------------------------------ legacy crash API

    /// One page of legacy crash groups (`None` = the first) and the
    /// continuation token of the next.
    pub async fn crash_groups_page(
        &self,
        token: Option<&str>,
    ) -> Result<(Vec<CrashGroup>, Option<String>)> {
        let path = self.path("/crash_groups")
            + &query(&[("continuation_token", token.map(str::to_owned))]);
        let page: CrashGroupsContainer =
            self.client.json(Req::get(path), "crash group page").await?;
        match page.continuation_token.filter(|t| !t.is_empty()) {
            Some(t) if Some(t.as_str()) == token => Err(Error::Protocol(
                "crash groups: the continuation token repeats".into(),
            )),
            next => Ok((page.crash_groups, next)),
        }
    }

    /// Every legacy crash group, paging through `continuation_token`.
    pub fn crash_groups(&self) -> impl Stream<Item = Result<CrashGroup>> + Send + 'static {
        let this = self.clone();
        stream::try_unfold(Some(None::<String>), move |token| {
            let this = this.clone();
            async move {
                let Some(token) = token else { return Ok(None) };
                let (items, next) = this.crash_groups_page(token.as_deref()).await?;
                Ok(Some((
                    stream::iter(items.into_iter().map(Ok)),
                    next.map(Some),
                )))
            }
        })
        .try_flatten()
    }

    /// `GET crash_groups/{gid}/crashes` (no paging in the API).
    pub async fn crashes(&self, group_id: &str) -> Result<Vec<Crash>> {
        self.get(
            &format!("/crash_groups/{}/crashes", encode_segment(group_id)),
            "crash list",
        )
        .await
    }

    fn crash_path(group_id: &str, crash_id: &str, tail: &str) -> String {
        format!(
            "/crash_groups/{}/crashes/{}{tail}",
            encode_segment(group_id),
            encode_segment(crash_id)
        )
    }

    /// `GET crash_groups/{gid}/crashes/{cid}` (the spec says 201).
    pub async fn crash(&self, group_id: &str, crash_id: &str) -> Result<Crash> {
        let rest = Self::crash_path(
            group_id,
            crash_id,
            "?include_details=true&include_stacktrace=true",
        );
        self.get(&rest, "crash").await
    }

    /// `GET crash_groups/{gid}/crashes/{cid}/stacktrace`.
    pub async fn crash_stacktrace(&self, group_id: &str, crash_id: &str) -> Result<StackTrace> {
        self.get(
            &Self::crash_path(group_id, crash_id, "/stacktrace"),
            "stack trace",
        )
        .await
    }

    /// `GET crash_groups/{gid}/stacktrace`.
    pub async fn crash_group_stacktrace(&self, group_id: &str) -> Result<StackTrace> {
        self.get(
            &format!("/crash_groups/{}/stacktrace", encode_segment(group_id)),
            "stack trace",
        )
        .await
    }

    /// `GET crash_groups/{gid}/crashes/{cid}/raw/location`.
    pub async fn crash_raw_location(&self, group_id: &str, crash_id: &str) -> Result<Location> {
        self.get(
            &Self::crash_path(group_id, crash_id, "/raw/location"),
            "location",
        )
        .await
    }

    /// `GET crashes/{cid}/attachments`.
    pub async fn crash_attachments(&self, crash_id: &str) -> Result<Vec<CrashAttachment>> {
        self.get(
            &format!("/crashes/{}/attachments", encode_segment(crash_id)),
            "attachment list",
        )
        .await
    }

    /// `GET crashes/{cid}/attachments/{aid}/location`.
    pub async fn crash_attachment_location(
        &self,
        crash_id: &str,
        attachment_id: &str,
    ) -> Result<Location> {
        let rest = format!(
            "/crashes/{}/attachments/{}/location",
            encode_segment(crash_id),
            encode_segment(attachment_id)
        );
        self.get(&rest, "location").await
    }

    /// `GET crashes/{cid}/attachments/{aid}/text` (a JSON string).
    pub async fn crash_attachment_text(
        &self,
        crash_id: &str,
        attachment_id: &str,
    ) -> Result<String> {
        let rest = format!(
            "/crashes/{}/attachments/{}/text",
            encode_segment(crash_id),
            encode_segment(attachment_id)
        );
        self.get(&rest, "attachment text").await
    }

    /// Every session log of a legacy crash (`crashes/{cid}/session_logs`).
    pub fn crash_session_logs(
        &self,
        crash_id: &str,
    ) -> impl Stream<Item = Result<SessionLog>> + Send + 'static {
        self.date_pages(self.path(&format!(
            "/crashes/{}/session_logs",
            encode_segment(crash_id)
        )))
    }

    // ------------------------------------------------------------ devices

    /// `PUT devices/block_logs/{install_id}`. **Irreversible.**
    pub async fn block_install(&self, install_id: &str) -> Result<String> {
        let rest = format!("/devices/block_logs/{}", encode_segment(install_id));
        self.send(Method::PUT, &rest, &json!({}), "block confirmation")
            .await
    }
}

/// Turns a page function (cursor in, items and next cursor out) into a
/// stream of items that pages to the end.
fn pages<T, F, Fut>(first: String, page: F) -> impl Stream<Item = Result<T>> + Send + 'static
where
    T: Send + 'static,
    F: Fn(String) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = Result<(Vec<T>, Option<String>)>> + Send + 'static,
{
    stream::try_unfold((Some(first), page), |(cursor, page)| async move {
        let Some(c) = cursor else { return Ok(None) };
        let (items, next) = page(c).await?;
        Ok(Some((
            stream::iter(items.into_iter().map(Ok)),
            (next, page),
        )))
    })
    .try_flatten()
}

/// Collects a paged stream into a vector (convenience for small lists).
pub async fn collect_all<T>(s: impl Stream<Item = Result<T>>) -> Result<Vec<T>> {
    Box::pin(s).try_collect().await
}
