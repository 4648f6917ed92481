//! The endpoints: errors API, legacy crash API, retention, export
//! configurations, devices, and the signed blob URLs behind location URIs.

use std::collections::HashMap;
use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Router, middleware};
use chrono::{Duration, Utc};
use crashdsr_appcenter::Timestamp;
use crashdsr_appcenter::models::*;
use url::form_urlencoded;

use crate::dataset::ErrorRecord;
use crate::server::{ApiError, Emulator, gate};

type R<T> = Result<T, ApiError>;
type Q = Query<HashMap<String, String>>;

/// The router: the API under `/v0.1` and `/api/v0.1`, and `/blobs/...`.
pub fn app(emu: Arc<Emulator>) -> Router {
    let api = Router::new()
        .route("/apps/{owner}/{app}", get(app_get))
        .route(
            "/apps/{owner}/{app}/errors/retention_settings",
            get(retention_get).put(retention_put),
        )
        .route(
            "/apps/{owner}/{app}/export_configurations",
            get(exports_list).post(exports_create),
        )
        .route(
            "/apps/{owner}/{app}/export_configurations/{id}",
            get(exports_get).patch(exports_patch).delete(exports_delete),
        )
        .route(
            "/apps/{owner}/{app}/export_configurations/{id}/enable",
            post(exports_enable),
        )
        .route(
            "/apps/{owner}/{app}/export_configurations/{id}/disable",
            post(exports_disable),
        )
        .route("/apps/{owner}/{app}/errors/errorGroups", get(groups_list))
        .route(
            "/apps/{owner}/{app}/errors/errorGroups/{gid}",
            get(group_get).patch(group_patch),
        )
        .route(
            "/apps/{owner}/{app}/errors/errorGroups/{gid}/stacktrace",
            get(group_stacktrace),
        )
        .route(
            "/apps/{owner}/{app}/errors/errorGroups/{gid}/errors",
            get(errors_list),
        )
        .route(
            "/apps/{owner}/{app}/errors/errorGroups/{gid}/errors/{eid}",
            get(error_get).delete(error_delete),
        )
        .route(
            "/apps/{owner}/{app}/errors/errorGroups/{gid}/errors/{eid}/stacktrace",
            get(error_stacktrace),
        )
        .route(
            "/apps/{owner}/{app}/errors/errorGroups/{gid}/errors/{eid}/download",
            get(error_download),
        )
        .route(
            "/apps/{owner}/{app}/errors/errorGroups/{gid}/errors/{eid}/location",
            get(error_location),
        )
        .route("/apps/{owner}/{app}/errors/search", get(errors_search))
        .route(
            "/apps/{owner}/{app}/errors/{eid}/attachments",
            get(attachments_list),
        )
        .route(
            "/apps/{owner}/{app}/errors/{eid}/attachments/{aid}/text",
            get(attachment_text),
        )
        .route(
            "/apps/{owner}/{app}/errors/{eid}/attachments/{aid}/location",
            get(attachment_location),
        )
        .route(
            "/apps/{owner}/{app}/errors/{eid}/sessionLogs",
            get(session_logs),
        )
        .route(
            "/apps/{owner}/{app}/errors/{eid}/session_logs",
            get(session_logs),
        )
        .route("/apps/{owner}/{app}/crash_groups", get(legacy_groups))
        .route("/apps/{owner}/{app}/crash_groups/{gid}", get(legacy_group))
        .route(
            "/apps/{owner}/{app}/crash_groups/{gid}/stacktrace",
            get(legacy_group_stacktrace),
        )
        .route(
            "/apps/{owner}/{app}/crash_groups/{gid}/crashes",
            get(legacy_crashes),
        )
        .route(
            "/apps/{owner}/{app}/crash_groups/{gid}/crashes/{cid}",
            get(legacy_crash),
        )
        .route(
            "/apps/{owner}/{app}/crash_groups/{gid}/crashes/{cid}/stacktrace",
            get(legacy_crash_stacktrace),
        )
        .route(
            "/apps/{owner}/{app}/crash_groups/{gid}/crashes/{cid}/raw/location",
            get(legacy_raw_location),
        )
        .route(
            "/apps/{owner}/{app}/crashes/{cid}/attachments",
            get(legacy_attachments),
        )
        .route(
            "/apps/{owner}/{app}/crashes/{cid}/attachments/{aid}/location",
            get(legacy_attachment_location),
        )
        .route(
            "/apps/{owner}/{app}/crashes/{cid}/attachments/{aid}/text",
            get(legacy_attachment_text),
        )
        .route(
            "/apps/{owner}/{app}/crashes/{cid}/session_logs",
            get(legacy_session_logs),
        )
        .route(
            "/apps/{owner}/{app}/devices/block_logs/{install_id}",
            put(block_install),
        );
    Router::new()
        .nest("/v0.1", api.clone())
        .nest("/api/v0.1", api)
        .route("/blobs/{app}/{kind}/{index}/{k}", get(blob_get))
        .fallback(|| async { ApiError::not_found("No such endpoint.") })
        .layer(middleware::from_fn_with_state(emu.clone(), gate))
        .with_state(emu)
}

// ------------------------------------------------------------------ helpers

impl Emulator {
    fn app_index(&self, owner: &str, app: &str) -> R<usize> {
        self.data
            .app_index(owner, app)
            .ok_or_else(|| ApiError::not_found(format!("App {owner}/{app} not found.")))
    }

    fn retention_days(&self, a: usize) -> u32 {
        self.state.lock().expect("state lock").retention[a]
    }

    /// Errors older than the retention setting are gone.
    fn cutoff(&self, a: usize) -> Timestamp {
        Timestamp(self.data.config().now - Duration::days(i64::from(self.retention_days(a))))
    }

    fn visible(&self, a: usize, i: u64, cutoff: Timestamp) -> bool {
        self.data.error_time(i) >= cutoff
            && !self
                .state
                .lock()
                .expect("state lock")
                .deleted
                .contains(&(a, i))
    }

    fn group_index(&self, a: usize, gid: &str) -> R<u64> {
        let g = self
            .data
            .parse_group_id(a, gid)
            .ok_or_else(|| ApiError::not_found(format!("Error group {gid} not found.")))?;
        let cutoff = self.cutoff(a);
        if self.data.group_range(g).any(|i| self.visible(a, i, cutoff)) {
            Ok(g)
        } else {
            Err(ApiError::not_found(format!("Error group {gid} not found.")))
        }
    }

    fn group_model(&self, a: usize, g: u64) -> Option<ErrorGroup> {
        let cutoff = self.cutoff(a);
        let mut group = self.data.group(a, g, |i| self.visible(a, i, cutoff))?;
        if let Some((state, annotation)) = self
            .state
            .lock()
            .expect("state lock")
            .group_state
            .get(&(a, g))
        {
            group.state = state.clone();
            group.annotation = annotation.clone();
        }
        Some(group)
    }

    /// The error `eid`, which must be visible (and in group `gid` if given).
    fn error_record(&self, a: usize, gid: Option<&str>, eid: &str) -> R<ErrorRecord> {
        let nf = || ApiError::not_found(format!("Error {eid} not found."));
        let i = self.data.parse_error_id(a, eid).ok_or_else(nf)?;
        if !self.visible(a, i, self.cutoff(a)) {
            return Err(nf());
        }
        let e = self.data.error(a, i);
        if gid.is_some_and(|g| g != e.group_id) {
            return Err(nf());
        }
        Ok(e)
    }

    fn location(&self, headers: &HeaderMap, a: usize, kind: &str, i: u64, k: usize) -> Location {
        let host = headers
            .get(header::HOST)
            .and_then(|h| h.to_str().ok())
            .unwrap_or("127.0.0.1");
        let path = format!("/blobs/{a}/{kind}/{i}/{k}");
        let expiry = Utc::now().timestamp() + 3600;
        let sig = self.sign(&path, expiry);
        Location {
            uri: format!("http://{host}{path}?se={expiry}&sig={sig}"),
        }
    }
}

fn parse_ts(q: &HashMap<String, String>, key: &str) -> R<Option<Timestamp>> {
    match q.get(key) {
        None => Ok(None),
        Some(v) => Timestamp::parse(v).map(Some).ok_or_else(|| {
            ApiError::bad_request(format!("{key} is not an ISO 8601 date-time: {v:?}"))
        }),
    }
}

fn parse_top(q: &HashMap<String, String>, default: u64, max: u64) -> R<u64> {
    match q.get("$top") {
        None => Ok(default),
        Some(v) => match v.parse::<u64>() {
            Ok(0) => Ok(max),
            Ok(n) if n <= max => Ok(n),
            _ => Err(ApiError::bad_request(format!(
                "$top must be between 0 and {max}."
            ))),
        },
    }
}

fn parse_token(q: &HashMap<String, String>) -> R<u64> {
    q.get("$token")
        .map(|t| {
            t.parse()
                .map_err(|_| ApiError::bad_request("Invalid continuation token."))
        })
        .transpose()
        .map(|t| t.unwrap_or(0))
}

fn next_link(
    emu: &Emulator,
    owner: &str,
    app: &str,
    rest: &str,
    q: &HashMap<String, String>,
    token: u64,
) -> String {
    let mut pairs: Vec<(&String, &String)> =
        q.iter().filter(|(k, _)| k.as_str() != "$token").collect();
    pairs.sort();
    let mut s = form_urlencoded::Serializer::new(String::new());
    for (k, v) in pairs {
        s.append_pair(k, v);
    }
    s.append_pair("$token", &token.to_string());
    let apps = if emu.cfg.next_link_without_app {
        "apps/".to_owned()
    } else {
        format!("apps/{owner}/{app}")
    };
    // The live service prefixed /api, which is not where the API lives.
    format!("/api/v0.1/{apps}/{rest}?{}", s.finish())
}

// ------------------------------------------------------------------ app, retention

async fn app_get(
    State(emu): State<Arc<Emulator>>,
    Path((owner, app)): Path<(String, String)>,
) -> R<Json<App>> {
    let a = emu.app_index(&owner, &app)?;
    Ok(Json(emu.data.app(a)))
}

async fn retention_get(
    State(emu): State<Arc<Emulator>>,
    Path((owner, app)): Path<(String, String)>,
) -> R<Json<RetentionSettings>> {
    let a = emu.app_index(&owner, &app)?;
    Ok(Json(RetentionSettings {
        retention_in_days: emu.retention_days(a),
    }))
}

async fn retention_put(
    State(emu): State<Arc<Emulator>>,
    Path((owner, app)): Path<(String, String)>,
    body: axum::body::Bytes,
) -> R<Json<RetentionSettings>> {
    let a = emu.app_index(&owner, &app)?;
    let r: RetentionSettings = serde_json::from_slice(&body)
        .map_err(|e| ApiError::bad_request(format!("Invalid body: {e}")))?;
    if r.retention_in_days != 28 && r.retention_in_days != 90 {
        return Err(ApiError::bad_request(
            "retention_in_days is an enum value, can only be 28 or 90.",
        ));
    }
    emu.state.lock().expect("state lock").retention[a] = r.retention_in_days;
    Ok(Json(r))
}

// ------------------------------------------------------------------ export configurations

fn export_result(id: String, cfg: &ExportConfiguration) -> ExportConfigurationResult {
    let (export_type, resource_name, state_info) = match cfg {
        ExportConfiguration::BlobStorageConnectionString {
            connection_string, ..
        } => {
            let cs = connection_string.as_deref().unwrap_or_default();
            let account = cs
                .split(';')
                .find_map(|p| p.trim().strip_prefix("AccountName="))
                .map(str::to_owned);
            (
                ExportType::BlobStorage,
                account,
                crate::export::parse_connection_string(cs)
                    .err()
                    .map(|e| e.to_string()),
            )
        }
        ExportConfiguration::BlobStorageLinkedSubscription { .. } => (
            ExportType::BlobStorage,
            Some(format!("ex{}", &id.replace('-', "")[..22])),
            None,
        ),
        _ => (ExportType::AppInsights, None, None),
    };
    let mut shown = cfg.without_secrets();
    if let ExportConfiguration::BlobStorageConnectionString {
        blob_path_format_kind,
        ..
    }
    | ExportConfiguration::BlobStorageLinkedSubscription {
        blob_path_format_kind,
        ..
    } = &mut shown
    {
        blob_path_format_kind.get_or_insert(BlobPathFormatKind::WithoutAppId);
    }
    ExportConfigurationResult {
        id,
        export_type,
        creation_time: Timestamp::now().to_string(),
        last_run_time: None,
        export_entities: cfg.options().export_entities.clone(),
        state: if state_info.is_some() {
            ExportState::Invalid
        } else {
            ExportState::Pending
        },
        state_info,
        resource_group: None,
        resource_name,
        export_configuration: Some(shown),
    }
}

fn parse_export_body(body: &[u8]) -> R<ExportConfiguration> {
    let v: serde_json::Value = serde_json::from_slice(body)
        .map_err(|e| ApiError::bad_request(format!("Invalid body: {e}")))?;
    if v.get("type").and_then(|t| t.as_str()).is_none() {
        return Err(ApiError::bad_request("The property 'type' is mandatory."));
    }
    let cfg: ExportConfiguration = serde_json::from_value(v)
        .map_err(|e| ApiError::bad_request(format!("Invalid export configuration: {e}")))?;
    match &cfg {
        ExportConfiguration::BlobStorageConnectionString {
            connection_string: None,
            ..
        } => Err(ApiError::bad_request("connection_string is required.")),
        ExportConfiguration::BlobStorageLinkedSubscription {
            subscription_id: None,
            ..
        }
        | ExportConfiguration::ApplicationInsightsLinkedSubscription {
            subscription_id: None,
            ..
        } => Err(ApiError::bad_request("subscription_id is required.")),
        ExportConfiguration::ApplicationInsightsInstrumentationKey {
            instrumentation_key: None,
            ..
        } => Err(ApiError::bad_request("instrumentation_key is required.")),
        ExportConfiguration::ApplicationInsightsInstrumentationKey { options, .. }
        | ExportConfiguration::ApplicationInsightsLinkedSubscription { options, .. }
            if options
                .export_entities
                .iter()
                .any(|e| *e != ExportEntity::NoLogs) =>
        {
            Err(ApiError::bad_request(
                "Exporting diagnostics entitires is not supported for Application Insight.",
            ))
        }
        _ => Ok(cfg),
    }
}

/// Writes the export in the background: `Pending` until it is written,
/// then `Enabled`; `Invalid` with a `state_info` if the target refuses.
fn start_export(emu: &Arc<Emulator>, a: usize, id: &str, cfg: &ExportConfiguration) {
    let target = match cfg {
        ExportConfiguration::BlobStorageConnectionString {
            connection_string, ..
        } => {
            crate::export::parse_connection_string(connection_string.as_deref().unwrap_or_default())
        }
        ExportConfiguration::BlobStorageLinkedSubscription { .. } => match &emu.cfg.export_dir {
            Some(dir) => Ok(crate::export::Target::Dir(dir.clone())),
            None => Err(crate::Error::Storage(
                "No storage is linked to this emulator (start it with --export-dir).".to_owned(),
            )),
        },
        // Application Insights receives analytics only; nothing to write.
        _ => {
            set_export_state(emu, a, id, Ok(()));
            return;
        }
    };
    let since = if cfg.options().backfill == Some(false) {
        Timestamp::now()
    } else {
        emu.cutoff(a)
    };
    let plan = crate::export::ExportPlan {
        app: a,
        since,
        entities: cfg.options().export_entities.clone(),
        path_format: cfg
            .path_format()
            .cloned()
            .unwrap_or(BlobPathFormatKind::WithoutAppId),
        style: emu.cfg.export_style,
    };
    let (emu, id) = (emu.clone(), id.to_owned());
    tokio::spawn(async move {
        let result = async {
            let store = crate::export::open_target(&target?).await?;
            let cutoff = emu.cutoff(a);
            crate::export::write(&emu.data, &plan, store, |i| emu.visible(a, i, cutoff))
                .await
                .map(drop)
        }
        .await;
        if let Err(why) = &result {
            tracing::warn!(export = %id, reason = %why, "Export failed.");
        }
        set_export_state(&emu, a, &id, result);
    });
}

fn set_export_state(emu: &Emulator, a: usize, id: &str, result: Result<(), crate::Error>) {
    let mut st = emu.state.lock().expect("state lock");
    if let Some(r) = st.exports[a]
        .iter_mut()
        .find(|r| r.id == id && r.state == ExportState::Pending)
    {
        match result {
            Ok(()) => {
                r.state = ExportState::Enabled;
                r.last_run_time = Some(Timestamp::now().to_string());
            }
            Err(why) => {
                r.state = ExportState::Invalid;
                r.state_info = Some(why.to_string());
            }
        }
    }
}

async fn exports_list(
    State(emu): State<Arc<Emulator>>,
    Path((owner, app)): Path<(String, String)>,
) -> R<Json<ExportConfigurationList>> {
    let a = emu.app_index(&owner, &app)?;
    let st = emu.state.lock().expect("state lock");
    let values: Vec<_> = st.exports[a]
        .iter()
        .filter(|r| r.state != ExportState::Deleted)
        .cloned()
        .collect();
    Ok(Json(ExportConfigurationList {
        total: Some(values.len() as i64),
        values,
        next_link: None,
    }))
}

async fn exports_create(
    State(emu): State<Arc<Emulator>>,
    Path((owner, app)): Path<(String, String)>,
    body: axum::body::Bytes,
) -> R<Response> {
    let a = emu.app_index(&owner, &app)?;
    let cfg = parse_export_body(&body)?;
    let r = {
        let mut st = emu.state.lock().expect("state lock");
        let n = st.exports.iter().map(Vec::len).sum::<usize>() as u64;
        let id = crate::dataset::guid(emu.cfg.dataset.seed ^ 0xE4 ^ n << 8);
        let r = export_result(id, &cfg);
        st.exports[a].push(r.clone());
        r
    };
    if r.state == ExportState::Pending {
        start_export(&emu, a, &r.id, &cfg);
    }
    Ok((StatusCode::ACCEPTED, Json(r)).into_response())
}

fn find_export<'a>(
    st: &'a mut crate::server::Mutable,
    a: usize,
    id: &str,
) -> R<&'a mut ExportConfigurationResult> {
    st.exports[a]
        .iter_mut()
        .find(|r| r.id == id && r.state != ExportState::Deleted)
        .ok_or_else(|| ApiError::not_found(format!("Export configuration {id} not found.")))
}

async fn exports_get(
    State(emu): State<Arc<Emulator>>,
    Path((owner, app, id)): Path<(String, String, String)>,
) -> R<Json<ExportConfigurationResult>> {
    let a = emu.app_index(&owner, &app)?;
    let mut st = emu.state.lock().expect("state lock");
    Ok(Json(find_export(&mut st, a, &id)?.clone()))
}

async fn exports_patch(
    State(emu): State<Arc<Emulator>>,
    Path((owner, app, id)): Path<(String, String, String)>,
    body: axum::body::Bytes,
) -> R<Json<ExportConfigurationResult>> {
    let a = emu.app_index(&owner, &app)?;
    let cfg = parse_export_body(&body)?;
    let shown = {
        let mut st = emu.state.lock().expect("state lock");
        let r = find_export(&mut st, a, &id)?;
        let mut updated = export_result(id.clone(), &cfg);
        updated.creation_time = r.creation_time.clone();
        *r = updated.clone();
        updated
    };
    if shown.state == ExportState::Pending {
        start_export(&emu, a, &shown.id, &cfg);
    }
    Ok(Json(shown))
}

async fn exports_delete(
    State(emu): State<Arc<Emulator>>,
    Path((owner, app, id)): Path<(String, String, String)>,
) -> R<StatusCode> {
    let a = emu.app_index(&owner, &app)?;
    let mut st = emu.state.lock().expect("state lock");
    find_export(&mut st, a, &id)?.state = ExportState::Deleted;
    Ok(StatusCode::OK)
}

async fn exports_set_state(
    emu: &Emulator,
    owner: &str,
    app: &str,
    id: &str,
    enable: bool,
) -> R<StatusCode> {
    let a = emu.app_index(owner, app)?;
    let mut st = emu.state.lock().expect("state lock");
    let r = find_export(&mut st, a, id)?;
    match (enable, &r.state) {
        (true, ExportState::Invalid) => {
            return Err(ApiError::bad_request(
                "The configuration is invalid; update it before enabling.",
            ));
        }
        // Re-enabling resumes without back-fill, as App Center did: the
        // synthetic dataset has no newer data to write.
        (true, ExportState::Disabled) => r.state = ExportState::Enabled,
        (true, _) => {}
        (false, _) => r.state = ExportState::Disabled,
    }
    Ok(StatusCode::OK)
}

async fn exports_enable(
    State(emu): State<Arc<Emulator>>,
    Path((owner, app, id)): Path<(String, String, String)>,
) -> R<StatusCode> {
    exports_set_state(&emu, &owner, &app, &id, true).await
}

async fn exports_disable(
    State(emu): State<Arc<Emulator>>,
    Path((owner, app, id)): Path<(String, String, String)>,
) -> R<StatusCode> {
    exports_set_state(&emu, &owner, &app, &id, false).await
}

// ------------------------------------------------------------------ errors API

async fn groups_list(
    State(emu): State<Arc<Emulator>>,
    Path((owner, app)): Path<(String, String)>,
    Query(q): Q,
) -> R<Json<ErrorGroups>> {
    let a = emu.app_index(&owner, &app)?;
    let start =
        parse_ts(&q, "start")?.ok_or_else(|| ApiError::bad_request("start is required."))?;
    let end = parse_ts(&q, "end")?;
    let top = parse_top(&q, 30, 2000)?;
    let mut g = parse_token(&q)?;
    let want = match q
        .get("errorType")
        .map(|s| s.to_ascii_lowercase())
        .as_deref()
    {
        None | Some("all") => None,
        Some("unhandlederror") => Some(true),
        Some("handlederror") => Some(false),
        Some(other) => {
            return Err(ApiError::bad_request(format!(
                "Unknown errorType {other:?}."
            )));
        }
    };
    let mut out = Vec::new();
    let total = emu.data.group_count();
    while g < total && (out.len() as u64) < top {
        if let Some(group) = emu.group_model(a, g)
            && want.is_none_or(|crash| group.is_crash() == crash)
            && group.last_occurrence >= start
            && end.is_none_or(|e| group.first_occurrence <= e)
        {
            out.push(group);
        }
        g += 1;
    }
    let next = (g < total).then(|| next_link(&emu, &owner, &app, "errors/errorGroups", &q, g));
    Ok(Json(ErrorGroups {
        error_groups: out,
        next_link: next,
    }))
}

async fn group_get(
    State(emu): State<Arc<Emulator>>,
    Path((owner, app, gid)): Path<(String, String, String)>,
) -> R<Json<ErrorGroup>> {
    let a = emu.app_index(&owner, &app)?;
    let g = emu.group_index(a, &gid)?;
    emu.group_model(a, g)
        .map(Json)
        .ok_or_else(|| ApiError::not_found("Error group not found."))
}

async fn group_patch(
    State(emu): State<Arc<Emulator>>,
    Path((owner, app, gid)): Path<(String, String, String)>,
    body: axum::body::Bytes,
) -> R<Json<ErrorGroup>> {
    let a = emu.app_index(&owner, &app)?;
    let g = emu.group_index(a, &gid)?;
    let change: ErrorGroupStateChange = serde_json::from_slice(&body)
        .map_err(|e| ApiError::bad_request(format!("Invalid body: {e}")))?;
    if let ErrorGroupState::Other(s) = &change.state {
        return Err(ApiError::bad_request(format!("Unknown state {s:?}.")));
    }
    emu.state
        .lock()
        .expect("state lock")
        .group_state
        .insert((a, g), (change.state, change.annotation));
    emu.group_model(a, g)
        .map(Json)
        .ok_or_else(|| ApiError::not_found("Error group not found."))
}

async fn group_stacktrace(
    State(emu): State<Arc<Emulator>>,
    Path((owner, app, gid)): Path<(String, String, String)>,
) -> R<Json<StackTrace>> {
    let a = emu.app_index(&owner, &app)?;
    let g = emu.group_index(a, &gid)?;
    Ok(Json(emu.data.group_stacktrace(a, g)))
}

async fn errors_list(
    State(emu): State<Arc<Emulator>>,
    Path((owner, app, gid)): Path<(String, String, String)>,
    Query(q): Q,
) -> R<Json<ErrorList>> {
    let a = emu.app_index(&owner, &app)?;
    let g = emu.group_index(a, &gid)?;
    // The spec requires start; Microsoft's client omits it, and the live
    // service answered anyway.
    let start = parse_ts(&q, "start")?;
    let end = parse_ts(&q, "end")?;
    let top = parse_top(&q, 30, 2000)?;
    let range = emu.data.group_range(g);
    let mut i = range.start + parse_token(&q)?;
    let cutoff = emu.cutoff(a);
    let mut out = Vec::new();
    while i < range.end && (out.len() as u64) < top {
        let t = emu.data.error_time(i);
        if emu.visible(a, i, cutoff) && start.is_none_or(|s| t >= s) && end.is_none_or(|e| t <= e) {
            out.push(emu.data.summary(&emu.data.error(a, i)));
        }
        i += 1;
    }
    let rest = format!("errors/errorGroups/{gid}/errors");
    let next = (i < range.end).then(|| next_link(&emu, &owner, &app, &rest, &q, i - range.start));
    Ok(Json(ErrorList {
        errors: out,
        next_link: next,
    }))
}

async fn error_get(
    State(emu): State<Arc<Emulator>>,
    Path((owner, app, gid, eid)): Path<(String, String, String, String)>,
) -> R<Json<ErrorDetails>> {
    let a = emu.app_index(&owner, &app)?;
    let e = emu.error_record(a, Some(&gid), &eid)?;
    Ok(Json(emu.data.details(&e)))
}

async fn error_delete(
    State(emu): State<Arc<Emulator>>,
    Path((owner, app, gid, eid)): Path<(String, String, String, String)>,
) -> R<Json<ErrorDeleteCounter>> {
    let a = emu.app_index(&owner, &app)?;
    let e = emu.error_record(a, Some(&gid), &eid)?;
    emu.state
        .lock()
        .expect("state lock")
        .deleted
        .insert((a, e.index));
    Ok(Json(ErrorDeleteCounter {
        app_id: Some(emu.data.app_id(a).to_owned()),
        error_group_id: Some(gid),
        error_id: Some(eid),
        errors_deleted: Some(1),
        attachments_deleted: Some(e.attachments.len() as i64),
        blobs_succeeded: Some(1 + e.attachments.len() as i64),
        blobs_failed: Some(0),
    }))
}

async fn error_stacktrace(
    State(emu): State<Arc<Emulator>>,
    Path((owner, app, gid, eid)): Path<(String, String, String, String)>,
) -> R<Json<StackTrace>> {
    let a = emu.app_index(&owner, &app)?;
    let e = emu.error_record(a, Some(&gid), &eid)?;
    Ok(Json(emu.data.error_stacktrace(&e)))
}

async fn error_download(
    State(emu): State<Arc<Emulator>>,
    Path((owner, app, gid, eid)): Path<(String, String, String, String)>,
    Query(q): Q,
) -> R<Response> {
    let a = emu.app_index(&owner, &app)?;
    let e = emu.error_record(a, Some(&gid), &eid)?;
    match q.get("format").map(String::as_str) {
        None | Some("json") => Ok(Json(emu.data.crash_log(&e)).into_response()),
        // The docs wrote format=text; the spec's enum says txt.
        Some("txt" | "text") => Ok((
            [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
            emu.data.crash_text(&e),
        )
            .into_response()),
        Some(f) => Err(ApiError::bad_request(format!("Unknown format {f:?}."))),
    }
}

async fn error_location(
    State(emu): State<Arc<Emulator>>,
    headers: HeaderMap,
    Path((owner, app, gid, eid)): Path<(String, String, String, String)>,
) -> R<Json<Location>> {
    let a = emu.app_index(&owner, &app)?;
    let e = emu.error_record(a, Some(&gid), &eid)?;
    Ok(Json(emu.location(&headers, a, "error", e.index, 0)))
}

async fn errors_search(
    State(emu): State<Arc<Emulator>>,
    Path((owner, app)): Path<(String, String)>,
    Query(q): Q,
) -> R<Json<ErrorSearchResult>> {
    let a = emu.app_index(&owner, &app)?;
    let top = match q.get("$top") {
        None => 100,
        Some(v) => v
            .parse::<u64>()
            .ok()
            .filter(|n| (1..=100).contains(n))
            .ok_or_else(|| ApiError::bad_request("$top must be between 1 and 100."))?,
    };
    let skip: u64 = q
        .get("$skip")
        .map(|v| {
            v.parse()
                .map_err(|_| ApiError::bad_request("$skip must be a whole number."))
        })
        .transpose()?
        .unwrap_or(0);
    // Supported: q = a user id, error id or SDK id; filter = "userId eq '…'".
    let needle = match (q.get("q"), q.get("filter")) {
        (Some(t), _) if !t.is_empty() => t.clone(),
        (_, Some(f)) => f
            .strip_prefix("userId eq '")
            .and_then(|r| r.strip_suffix('\''))
            .map(|v| v.replace("''", "'"))
            .ok_or_else(|| {
                ApiError::bad_request("Only filters of the form userId eq '...' are supported.")
            })?,
        _ => {
            return Ok(Json(ErrorSearchResult {
                has_more_results: false,
                errors: vec![],
            }));
        }
    };
    // Search covers the last 28 days and at most 100 matching reports.
    let window = Timestamp(emu.data.config().now - Duration::days(28));
    let cutoff = emu.cutoff(a).max(window);
    let mut matches = Vec::new();
    for i in 0..emu.data.config().errors_per_app {
        if !emu.visible(a, i, cutoff) {
            continue;
        }
        let e = emu.data.error(a, i);
        if e.user_id == needle || e.error_id == needle || e.sdk_id == needle {
            matches.push(e);
            if matches.len() == 100 {
                break;
            }
        }
    }
    let page: Vec<_> = matches
        .iter()
        .skip(skip as usize)
        .take(top as usize)
        .map(|e| ErrorSummary {
            error_group_id: Some(e.group_id.clone()),
            ..emu.data.summary(e)
        })
        .collect();
    let has_more = (skip + page.len() as u64) < matches.len() as u64;
    Ok(Json(ErrorSearchResult {
        has_more_results: has_more,
        errors: page,
    }))
}

async fn attachments_list(
    State(emu): State<Arc<Emulator>>,
    headers: HeaderMap,
    Path((owner, app, eid)): Path<(String, String, String)>,
) -> R<Json<Vec<ErrorAttachment>>> {
    let a = emu.app_index(&owner, &app)?;
    let e = emu.error_record(a, None, &eid)?;
    let list = (0..e.attachments.len())
        .map(|k| {
            let mut m = emu.data.attachment(&e, k);
            m.blob_location = Some(emu.location(&headers, a, "attachment", e.index, k).uri);
            m
        })
        .collect();
    Ok(Json(list))
}

fn attachment_index(e: &ErrorRecord, aid: &str) -> R<usize> {
    e.attachments
        .iter()
        .position(|(id, _)| id == aid)
        .ok_or_else(|| ApiError::not_found(format!("Attachment {aid} not found.")))
}

async fn attachment_text(
    State(emu): State<Arc<Emulator>>,
    Path((owner, app, eid, aid)): Path<(String, String, String, String)>,
) -> R<Json<AttachmentText>> {
    let a = emu.app_index(&owner, &app)?;
    let e = emu.error_record(a, None, &eid)?;
    let k = attachment_index(&e, &aid)?;
    if !e.attachments[k].1.is_text() {
        return Err(ApiError::bad_request(
            "The attachment is not text; use its location.",
        ));
    }
    let content = String::from_utf8_lossy(&emu.data.attachment_bytes(&e, k)).into_owned();
    Ok(Json(AttachmentText { content }))
}

async fn attachment_location(
    State(emu): State<Arc<Emulator>>,
    headers: HeaderMap,
    Path((owner, app, eid, aid)): Path<(String, String, String, String)>,
) -> R<Json<Location>> {
    let a = emu.app_index(&owner, &app)?;
    let e = emu.error_record(a, None, &eid)?;
    let k = attachment_index(&e, &aid)?;
    Ok(Json(emu.location(&headers, a, "attachment", e.index, k)))
}

fn session_log_page(
    emu: &Emulator,
    e: &ErrorRecord,
    q: &HashMap<String, String>,
) -> R<SessionLogPage> {
    let after = parse_ts(q, "date")?;
    let mut logs = Vec::new();
    let mut more = false;
    for k in 0..e.session_log_count {
        let log = emu.data.session_log(e, k);
        if after.is_some_and(|d| log.timestamp <= d) {
            continue;
        }
        if logs.len() == 100 {
            more = true;
            break;
        }
        logs.push(log);
    }
    Ok(SessionLogPage {
        exceeded_max_limit: more,
        last_received_log_timestamp: logs.last().map(|l| l.timestamp),
        logs,
    })
}

async fn session_logs(
    State(emu): State<Arc<Emulator>>,
    Path((owner, app, eid)): Path<(String, String, String)>,
    Query(q): Q,
) -> R<Json<SessionLogPage>> {
    let a = emu.app_index(&owner, &app)?;
    let e = emu.error_record(a, None, &eid)?;
    session_log_page(&emu, &e, &q).map(Json)
}

// ------------------------------------------------------------------ legacy crash API

fn legacy_group_model(emu: &Emulator, a: usize, g: u64) -> Option<CrashGroup> {
    let group = emu.group_model(a, g)?;
    Some(CrashGroup {
        crash_group_id: group.error_group_id.clone(),
        new_crash_group_id: group.error_group_id.clone(),
        display_id: (g + 1).to_string(),
        app_version: group.app_version,
        build: group.app_build.unwrap_or_default(),
        // The legacy API wrote lower case.
        status: ErrorGroupState::Other(group.state.as_str().to_ascii_lowercase()),
        count: group.count,
        impacted_users: Some(group.device_count),
        first_occurrence: group.first_occurrence,
        last_occurrence: group.last_occurrence,
        exception: group.exception_type,
        crash_reason: group.exception_message.unwrap_or_default(),
        reason_frame: Some(LegacyReasonFrame {
            class_name: group.exception_class_name,
            method: group.exception_method,
            file: group.exception_file,
            line: group.exception_line.and_then(|l| l.parse().ok()),
            app_code: Some(true),
            language: Some("Java".into()),
        }),
        fatal: group.error_group_id.ends_with('u'),
        annotation: group.annotation.unwrap_or_default(),
    })
}

fn legacy_crash_model(emu: &Emulator, e: &ErrorRecord, full: bool) -> Crash {
    let s = emu.data.summary(e);
    let d = emu.data.details(e);
    Crash {
        crash_id: e.error_id.clone(),
        new_crash_id: e.error_id.clone(),
        new_crash_group_id: e.group_id.clone(),
        display_id: Some((e.index + 1).to_string()),
        timestamp: e.timestamp,
        version: "1.4.0".into(),
        build: "140".into(),
        device: s.device_name.clone().unwrap_or_default(),
        device_name: s.device_name,
        os_version: s.os_version.unwrap_or_default(),
        os_type: s.os_type,
        user_name: e.user_id.clone(),
        user_email: e.user_id.contains('@').then(|| e.user_id.clone()),
        stacktrace: full.then(|| emu.data.error_stacktrace(e)),
        details: full.then(|| CrashDetails {
            carrier_country: Some("de".into()),
            carrier_name: d.carrier_name,
            locale: "en_GB".into(),
            os_build: None,
            rooted: false,
            screen_size: "1080x2400".into(),
            app_start_timestamp: d.app_launch_timestamp,
        }),
    }
}

async fn legacy_groups(
    State(emu): State<Arc<Emulator>>,
    Path((owner, app)): Path<(String, String)>,
    Query(q): Q,
) -> R<Json<CrashGroupsContainer>> {
    let a = emu.app_index(&owner, &app).map_err(ApiError::legacy)?;
    let mut g: u64 = match q.get("continuation_token") {
        None => 0,
        Some(t) => t
            .parse()
            .map_err(|_| ApiError::bad_request("Invalid continuation token.").legacy())?,
    };
    let total = emu.data.group_count();
    let mut out = Vec::new();
    while g < total && out.len() < 100 {
        if let Some(group) = legacy_group_model(&emu, a, g) {
            out.push(group);
        }
        g += 1;
    }
    Ok(Json(CrashGroupsContainer {
        limited_result_set: g < total,
        continuation_token: (g < total).then(|| g.to_string()),
        crash_groups: out,
    }))
}

fn legacy_group_index(emu: &Emulator, owner: &str, app: &str, gid: &str) -> R<(usize, u64)> {
    let a = emu.app_index(owner, app).map_err(ApiError::legacy)?;
    let g = emu.group_index(a, gid).map_err(ApiError::legacy)?;
    Ok((a, g))
}

async fn legacy_group(
    State(emu): State<Arc<Emulator>>,
    Path((owner, app, gid)): Path<(String, String, String)>,
) -> R<Json<CrashGroup>> {
    let (a, g) = legacy_group_index(&emu, &owner, &app, &gid)?;
    legacy_group_model(&emu, a, g)
        .map(Json)
        .ok_or_else(|| ApiError::not_found("Crash group not found.").legacy())
}

async fn legacy_group_stacktrace(
    State(emu): State<Arc<Emulator>>,
    Path((owner, app, gid)): Path<(String, String, String)>,
) -> R<Json<StackTrace>> {
    let (a, g) = legacy_group_index(&emu, &owner, &app, &gid)?;
    Ok(Json(emu.data.group_stacktrace(a, g)))
}

async fn legacy_crashes(
    State(emu): State<Arc<Emulator>>,
    Path((owner, app, gid)): Path<(String, String, String)>,
) -> R<Json<Vec<Crash>>> {
    let (a, g) = legacy_group_index(&emu, &owner, &app, &gid)?;
    let cutoff = emu.cutoff(a);
    let list = emu
        .data
        .group_range(g)
        .filter(|i| emu.visible(a, *i, cutoff))
        .map(|i| legacy_crash_model(&emu, &emu.data.error(a, i), false))
        .collect();
    Ok(Json(list))
}

fn legacy_record(
    emu: &Emulator,
    owner: &str,
    app: &str,
    gid: Option<&str>,
    cid: &str,
) -> R<(usize, ErrorRecord)> {
    let a = emu.app_index(owner, app).map_err(ApiError::legacy)?;
    let e = emu.error_record(a, gid, cid).map_err(ApiError::legacy)?;
    Ok((a, e))
}

async fn legacy_crash(
    State(emu): State<Arc<Emulator>>,
    Path((owner, app, gid, cid)): Path<(String, String, String, String)>,
    Query(q): Q,
) -> R<Json<Crash>> {
    let (_, e) = legacy_record(&emu, &owner, &app, Some(&gid), &cid)?;
    let full = q.get("include_details").is_some_and(|v| v == "true")
        || q.get("include_stacktrace").is_some_and(|v| v == "true");
    // The spec says 201 for this GET; the service answered 200.
    Ok(Json(legacy_crash_model(&emu, &e, full)))
}

async fn legacy_crash_stacktrace(
    State(emu): State<Arc<Emulator>>,
    Path((owner, app, gid, cid)): Path<(String, String, String, String)>,
) -> R<Json<StackTrace>> {
    let (_, e) = legacy_record(&emu, &owner, &app, Some(&gid), &cid)?;
    Ok(Json(emu.data.error_stacktrace(&e)))
}

async fn legacy_raw_location(
    State(emu): State<Arc<Emulator>>,
    headers: HeaderMap,
    Path((owner, app, gid, cid)): Path<(String, String, String, String)>,
) -> R<Json<Location>> {
    let (a, e) = legacy_record(&emu, &owner, &app, Some(&gid), &cid)?;
    Ok(Json(emu.location(&headers, a, "error", e.index, 0)))
}

async fn legacy_attachments(
    State(emu): State<Arc<Emulator>>,
    headers: HeaderMap,
    Path((owner, app, cid)): Path<(String, String, String)>,
) -> R<Json<Vec<CrashAttachment>>> {
    let (a, e) = legacy_record(&emu, &owner, &app, None, &cid)?;
    let list = (0..e.attachments.len())
        .map(|k| {
            let m = emu.data.attachment(&e, k);
            CrashAttachment {
                app_id: emu.data.app_id(a).to_owned(),
                attachment_id: m.attachment_id,
                crash_id: e.error_id.clone(),
                blob_location: emu.location(&headers, a, "attachment", e.index, k).uri,
                content_type: m.content_type.unwrap_or_default(),
                file_name: m.file_name.unwrap_or_default(),
                created_time: e.timestamp,
                size: m.size.unwrap_or(0) as f64,
            }
        })
        .collect();
    Ok(Json(list))
}

async fn legacy_attachment_location(
    State(emu): State<Arc<Emulator>>,
    headers: HeaderMap,
    Path((owner, app, cid, aid)): Path<(String, String, String, String)>,
) -> R<Json<Location>> {
    let (a, e) = legacy_record(&emu, &owner, &app, None, &cid)?;
    let k = attachment_index(&e, &aid).map_err(ApiError::legacy)?;
    Ok(Json(emu.location(&headers, a, "attachment", e.index, k)))
}

async fn legacy_attachment_text(
    State(emu): State<Arc<Emulator>>,
    Path((owner, app, cid, aid)): Path<(String, String, String, String)>,
) -> R<Json<String>> {
    let (_, e) = legacy_record(&emu, &owner, &app, None, &cid)?;
    let k = attachment_index(&e, &aid).map_err(ApiError::legacy)?;
    if !e.attachments[k].1.is_text() {
        return Err(
            ApiError::bad_request("The attachment is not text; use its location.").legacy(),
        );
    }
    Ok(Json(
        String::from_utf8_lossy(&emu.data.attachment_bytes(&e, k)).into_owned(),
    ))
}

async fn legacy_session_logs(
    State(emu): State<Arc<Emulator>>,
    Path((owner, app, cid)): Path<(String, String, String)>,
    Query(q): Q,
) -> R<Json<SessionLogPage>> {
    let a = emu.app_index(&owner, &app)?;
    let e = emu.error_record(a, None, &cid)?;
    session_log_page(&emu, &e, &q).map(Json)
}

// ------------------------------------------------------------------ devices, blobs

async fn block_install(
    State(emu): State<Arc<Emulator>>,
    Path((owner, app, install_id)): Path<(String, String, String)>,
) -> R<Json<String>> {
    let a = emu.app_index(&owner, &app)?;
    emu.state.lock().expect("state lock").blocked[a].insert(install_id.to_ascii_lowercase());
    Ok(Json("Operation successful".to_owned()))
}

async fn blob_get(
    State(emu): State<Arc<Emulator>>,
    headers: HeaderMap,
    Path((a, kind, i, k)): Path<(usize, String, u64, usize)>,
    Query(q): Q,
) -> Response {
    let forbidden = |m: &str| (StatusCode::FORBIDDEN, m.to_owned()).into_response();
    if headers.contains_key("x-api-token") {
        return forbidden("A signed URL must be fetched without X-API-Token.");
    }
    let path = format!("/blobs/{a}/{kind}/{i}/{k}");
    let expiry: i64 = q.get("se").and_then(|s| s.parse().ok()).unwrap_or(0);
    if q.get("sig").map(String::as_str) != Some(emu.sign(&path, expiry).as_str()) {
        return forbidden("Signature did not match.");
    }
    if expiry < Utc::now().timestamp() {
        return forbidden("The signed URL has expired.");
    }
    if a >= emu.data.config().apps.len() || i >= emu.data.config().errors_per_app {
        return (StatusCode::NOT_FOUND, "The specified blob does not exist.").into_response();
    }
    if emu
        .state
        .lock()
        .expect("state lock")
        .deleted
        .contains(&(a, i))
    {
        return (StatusCode::NOT_FOUND, "The specified blob does not exist.").into_response();
    }
    let e = emu.data.error(a, i);
    match kind.as_str() {
        "error" => Json(emu.data.crash_log(&e)).into_response(),
        "attachment" if k < e.attachments.len() => {
            let ct = emu.data.attachment(&e, k).content_type.unwrap_or_default();
            (
                [(header::CONTENT_TYPE, ct)],
                emu.data.attachment_bytes(&e, k),
            )
                .into_response()
        }
        _ => (StatusCode::NOT_FOUND, "The specified blob does not exist.").into_response(),
    }
}
