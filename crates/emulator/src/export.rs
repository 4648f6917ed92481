//! The continuous export: writes an app's dataset into Blob Storage (or a
//! local directory) in App Center's layout.
//!
//! Container `archive`; one folder per minute, UTC: `[{appId}/]yyyy/MM/dd/HH/mm/`
//! holding `logs.v1.data` (a JSON array of all-string device logs),
//! `crashes/{errorId}.json` (unhandled), `errors/{errorId}.json` (handled)
//! and `attachments/{attachmentId}` (the bytes as uploaded). An error's
//! `ErrorLog`/`HandledErrorLog` entry names its blob in `Properties`; each
//! attachment has an `ErrorAttachmentLog` entry naming its crash. The SDK
//! sends a crash together with the session's pending logs, so an error's
//! session logs land in the same minute folder (their `Timestamp` keeps
//! their own time).

use crate::Error;
use crashdsr_store::export as layout;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use base64::Engine;
use bytes::Bytes;
use crashdsr_appcenter::Timestamp;
use crashdsr_appcenter::models::{BlobPathFormatKind, ExportEntity};
use futures::{StreamExt, TryStreamExt, stream};
use hmac::{KeyInit, Mac};
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload};
use serde_json::{Value, json};

use crate::dataset::{Dataset, ErrorRecord, mix};

/// Azurite's well-known development account key.
const DEV_ACCOUNT: &str = "devstoreaccount1";
const DEV_KEY: &str =
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";

/// Where an export goes.
#[derive(Debug, Clone, PartialEq)]
pub enum Target {
    /// A local directory standing in for a storage account (the container
    /// is its `archive` subfolder).
    Dir(PathBuf),
    /// A Blob Storage account (Azurite in tests).
    Azure {
        /// `http(s)://host/account`.
        endpoint: String,
        /// Account name.
        account: String,
        /// Account key (base64). Secret.
        key: String,
    },
}

/// Reads a connection string. Besides Azure's forms
/// (`AccountName`/`AccountKey` with an endpoint suffix or `BlobEndpoint`,
/// and `UseDevelopmentStorage=true`), the emulator accepts
/// `BlobEndpoint=file:///dir` to export into a local directory.
pub fn parse_connection_string(cs: &str) -> Result<Target, Error> {
    let kv: BTreeMap<String, String> = cs
        .split(';')
        .filter_map(|p| {
            p.split_once('=')
                .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
        })
        .collect();
    let get = |k: &str| kv.get(k).filter(|v| !v.is_empty()).cloned();
    if get("usedevelopmentstorage").is_some_and(|v| v.eq_ignore_ascii_case("true")) {
        return Ok(Target::Azure {
            endpoint: format!("http://127.0.0.1:10000/{DEV_ACCOUNT}"),
            account: DEV_ACCOUNT.into(),
            key: DEV_KEY.into(),
        });
    }
    if let Some(dir) = get("blobendpoint")
        .as_deref()
        .and_then(|e| e.strip_prefix("file://"))
    {
        return Ok(Target::Dir(PathBuf::from(dir)));
    }
    let (Some(account), Some(key)) = (get("accountname"), get("accountkey")) else {
        return Err(Error::Storage(
            "Blob storage authentication failed: the connection string names no account and key."
                .into(),
        ));
    };
    if base64::engine::general_purpose::STANDARD
        .decode(&key)
        .is_err()
    {
        return Err(Error::Storage(
            "Blob storage authentication failed: the account key is not base64.".into(),
        ));
    }
    let endpoint = match get("blobendpoint") {
        Some(e) => e.trim_end_matches('/').to_owned(),
        None => {
            let proto = get("defaultendpointsprotocol").unwrap_or_else(|| "https".into());
            let suffix = get("endpointsuffix").unwrap_or_else(|| "core.windows.net".into());
            format!("{proto}://{account}.blob.{suffix}")
        }
    };
    Ok(Target::Azure {
        endpoint,
        account,
        key,
    })
}

/// Creates the container if it is missing (one SharedKey-signed request;
/// object_store has no create-container call).
async fn ensure_container(
    endpoint: &str,
    account: &str,
    key: &str,
    container: &str,
) -> Result<(), Error> {
    let date = httpdate::fmt_http_date(std::time::SystemTime::now());
    let version = "2021-08-06";
    let url = url::Url::parse(&format!("{endpoint}/{container}?restype=container"))
        .map_err(|e| Error::Storage(e.to_string()))?;
    // Canonicalized resource: /account/path-of-the-url.
    let resource = format!("/{account}{}\nrestype:container", url.path());
    let to_sign =
        format!("PUT\n\n\n\n\n\n\n\n\n\n\n\nx-ms-date:{date}\nx-ms-version:{version}\n{resource}");
    let key_bytes = base64::engine::general_purpose::STANDARD
        .decode(key)
        .map_err(|e| Error::Storage(e.to_string()))?;
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(&key_bytes)
        .map_err(|e| Error::Storage(e.to_string()))?;
    mac.update(to_sign.as_bytes());
    let sig = base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes());
    let resp = reqwest::Client::new()
        .put(url)
        .header("x-ms-date", date)
        .header("x-ms-version", version)
        .header("Content-Length", "0")
        .header("Authorization", format!("SharedKey {account}:{sig}"))
        .send()
        .await
        .map_err(|e| Error::Storage(format!("Blob storage is unreachable: {}", e.without_url())))?;
    match resp.status().as_u16() {
        201 | 409 => Ok(()),
        403 => Err(Error::Storage("Blob storage authentication failed.".into())),
        s => Err(Error::Storage(format!(
            "Blob storage answered {s} when creating the container."
        ))),
    }
}

/// Opens the `archive` container of a target.
pub async fn open_target(target: &Target) -> Result<Arc<dyn ObjectStore>, Error> {
    match target {
        Target::Dir(dir) => {
            let root = dir.join("archive");
            std::fs::create_dir_all(&root)
                .map_err(|e| Error::Storage(format!("Cannot create {}: {e}", root.display())))?;
            Ok(Arc::new(
                object_store::local::LocalFileSystem::new_with_prefix(root)
                    .map_err(|e| Error::Storage(e.to_string()))?,
            ))
        }
        Target::Azure {
            endpoint,
            account,
            key,
        } => open_container(endpoint, account, key, "archive").await,
    }
}

/// Opens `container` of a storage account, creating it if it is missing
/// (the export's is `archive`; a test may want one of its own).
pub async fn open_container(
    endpoint: &str,
    account: &str,
    key: &str,
    container: &str,
) -> Result<Arc<dyn ObjectStore>, Error> {
    ensure_container(endpoint, account, key, container).await?;
    let store = object_store::azure::MicrosoftAzureBuilder::new()
        .with_account(account)
        .with_access_key(key)
        .with_container_name(container)
        .with_endpoint(endpoint.to_owned())
        .with_allow_http(true)
        .build()
        .map_err(|e| Error::Storage(format!("Blob storage: {e}")))?;
    Ok(Arc::new(store))
}

/// How the export's blobs are shaped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ExportStyle {
    /// One compact `logs.v1.data` per minute, every value a string,
    /// `Properties` a JSON object serialised into a string, attachments in
    /// their crash's folder.
    Tidy,
    /// As .NET code wrote it (App Center's backend used Newtonsoft.Json):
    /// `null` for unset strings and numbers for numeric fields, byte-order
    /// marks (UTF-8, and UTF-16LE for some log blobs), pretty-printed CRLF
    /// arrays, several `logs*.v1.data` blobs per minute (one to four records
    /// each), attachments and
    /// their attachment logs in a later minute folder for a third of the
    /// errors, and `Properties` as a JSON object, a string holding JSON or
    /// the blob's name, by record.
    #[default]
    Dotnet,
}

impl std::str::FromStr for ExportStyle {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self, Error> {
        match s {
            "tidy" => Ok(Self::Tidy),
            "dotnet" => Ok(Self::Dotnet),
            other => Err(Error::Spec(format!(
                "export style {other:?}: expected tidy or dotnet"
            ))),
        }
    }
}

/// What to export.
#[derive(Debug, Clone)]
pub struct ExportPlan {
    /// App index.
    pub app: usize,
    /// Errors at or after this instant (the back-fill window).
    pub since: Timestamp,
    /// Entities.
    pub entities: Vec<ExportEntity>,
    /// Path layout.
    pub path_format: BlobPathFormatKind,
    /// Shape of the blobs.
    pub style: ExportStyle,
}

impl ExportPlan {
    /// Every error of app 0 of `cfg`, every entity, in `path_format` and
    /// `style`: the whole dataset as one export.
    pub fn whole(
        cfg: &crate::DatasetConfig,
        path_format: BlobPathFormatKind,
        style: ExportStyle,
    ) -> Self {
        Self {
            app: 0,
            since: Timestamp(cfg.now - chrono::Duration::days(i64::from(cfg.span_days) + 1)),
            entities: vec![],
            path_format,
            style,
        }
    }
}

/// How a diagnostics record's `Properties` is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum PropsShape {
    /// A JSON object serialised into a string.
    String,
    /// A JSON object.
    Object,
    /// The blob's name: its path in the container.
    BlobName,
}

fn props_shape(style: ExportStyle, h: u64) -> PropsShape {
    match (style, h % 3) {
        (ExportStyle::Tidy, _) | (_, 0) => PropsShape::String,
        (_, 1) => PropsShape::Object,
        _ => PropsShape::BlobName,
    }
}

fn props(shape: PropsShape, fields: Value, path: String) -> Value {
    match shape {
        PropsShape::String => Value::String(fields.to_string()),
        PropsShape::Object => fields,
        PropsShape::BlobName => Value::String(path),
    }
}

/// One folder's blobs.
#[derive(Default)]
struct Folder {
    blobs: Vec<(String, Bytes)>,
    entries: Vec<Value>,
}

/// Writes the export. Returns the number of blobs written.
pub async fn write(
    data: &Dataset,
    plan: &ExportPlan,
    store: Arc<dyn ObjectStore>,
    visible: impl Fn(u64) -> bool,
) -> Result<u64, Error> {
    let has = |e: ExportEntity| plan.entities.is_empty() || plan.entities.contains(&e);
    let (crashes, errors, attachments, logs) = (
        has(ExportEntity::Crashes),
        has(ExportEntity::Errors),
        has(ExportEntity::Attachments),
        !plan.entities.contains(&ExportEntity::NoLogs),
    );
    let dotnet = plan.style == ExportStyle::Dotnet;
    // Errors are in time order, newest first: group consecutive ones by minute.
    let n = data.config().errors_per_app;
    let mut minutes: Vec<(String, Vec<u64>)> = Vec::new();
    for i in 0..n {
        if data.error_time(i) < plan.since || !visible(i) {
            continue;
        }
        let folder = minute_folder(data, plan, data.error_time(i));
        match minutes.last_mut() {
            Some((f, v)) if *f == folder => v.push(i),
            _ => minutes.push((folder, vec![i])),
        }
    }
    let written = stream::iter(minutes)
        .map(|(folder, indices)| {
            let store = store.clone();
            async move {
                let mut here = Folder::default();
                // Attachments sent in a later batch: (folder, blobs and logs).
                let mut later: Vec<(String, Folder)> = Vec::new();
                for i in indices {
                    let e = data.error(plan.app, i);
                    let wanted = if e.fatal { crashes } else { errors };
                    if !wanted {
                        continue;
                    }
                    let blob = layout::crash_blob(&e.error_id, !e.fatal);
                    let mut crash = serde_json::to_vec(&data.crash_log(&e)).expect("serialises");
                    if dotnet && mix(e.index ^ 0xB0B).is_multiple_of(4) {
                        crash.splice(0..0, BOM.iter().copied());
                    }
                    here.blobs.push((blob.clone(), Bytes::from(crash)));
                    let kind = if e.fatal { "ErrorLog" } else { "HandledErrorLog" };
                    let shape = props_shape(plan.style, mix(e.index ^ 0x9F));
                    let p = props(shape, json!({"ErrorId": e.error_id, "Blob": blob}), format!("{folder}{blob}"));
                    here.entries.push(device_log(data, &e, kind, e.timestamp, p, None, plan.style));
                    if attachments && !e.attachments.is_empty() {
                        let late = dotnet && mix(e.index ^ 0x1A7E).is_multiple_of(3);
                        let (target, at) = if late {
                            let delay = chrono::Duration::minutes(1 + (mix(e.index) % 3) as i64);
                            let t = Timestamp(e.timestamp.0 + delay);
                            later.push((minute_folder(data, plan, t), Folder::default()));
                            let (f, folder) = later.last_mut().expect("pushed");
                            (folder, f.clone())
                        } else {
                            (&mut here, folder.clone())
                        };
                        for (k, (aid, _)) in e.attachments.iter().enumerate() {
                            let meta = data.attachment(&e, k);
                            let blob = layout::attachment_blob(aid);
                            target.blobs.push((blob.clone(), Bytes::from(data.attachment_bytes(&e, k))));
                            let fields = json!({"ErrorId": e.error_id, "AttachmentId": aid, "Blob": blob,
                                "ContentType": meta.content_type, "FileName": meta.file_name});
                            let shape = props_shape(plan.style, mix(e.index ^ 0xA7 ^ (k as u64) << 8));
                            let p = props(shape, fields, format!("{at}{blob}"));
                            target.entries.push(device_log(data, &e, "ErrorAttachmentLog", e.timestamp, p, None, plan.style));
                        }
                    }
                    if logs {
                        for k in 0..e.session_log_count {
                            let l = data.session_log(&e, k);
                            let kind = match l.kind {
                                crashdsr_appcenter::models::SessionLogType::StartSession => "StartSessionLog",
                                _ => "EventLog",
                            };
                            let p = Value::String(serde_json::to_string(&l.properties).expect("serialises"));
                            here.entries.push(device_log(data, &e, kind, l.timestamp, p, l.event_name.as_deref(), plan.style));
                        }
                    }
                }
                let mut blobs: Vec<(String, Bytes)> = Vec::new();
                let h = mix(folder.bytes().fold(0u64, |a, b| a.wrapping_mul(31) ^ u64::from(b)));
                log_blobs(&folder, here, plan.style, h, layout::DEVICE_LOGS, &mut blobs);
                for (n, (late_folder, f)) in later.into_iter().enumerate() {
                    // A later batch: a log blob of its own in that folder.
                    let name = format!("logs_{}_{n}.v1.data", folder.replace('/', ""));
                    log_blobs(&late_folder, f, plan.style, h ^ n as u64, &name, &mut blobs);
                }
                let count = blobs.len() as u64;
                for (path, bytes) in blobs {
                    let path = Path::from(path);
                    store.put(&path, PutPayload::from(bytes)).await.map_err(|e| Error::Storage(format!("writing {path}: {e}")))?;
                }
                Ok::<u64, Error>(count)
            }
        })
        .buffer_unordered(16)
        .try_fold(0, |a, b| async move { Ok(a + b) })
        .await?;
    Ok(written)
}

const BOM: &[u8] = b"\xEF\xBB\xBF";

/// The blobs of a folder: its own, and its device logs in one blob
/// (`tidy`) or, in the `dotnet` style, in blobs of one to four records
/// (ingestion batches), pretty or compact, with or without a byte-order
/// mark, by folder.
fn log_blobs(
    folder: &str,
    f: Folder,
    style: ExportStyle,
    h: u64,
    name: &str,
    out: &mut Vec<(String, Bytes)>,
) {
    for (blob, bytes) in f.blobs {
        out.push((format!("{folder}{blob}"), bytes));
    }
    if f.entries.is_empty() {
        return;
    }
    if style == ExportStyle::Tidy {
        out.push((
            format!("{folder}{name}"),
            Bytes::from(serde_json::to_vec(&f.entries).expect("serialises")),
        ));
        return;
    }
    // Ingestion batches: one to four records a blob, by folder.
    let per_blob = 1 + (h % 4) as usize;
    let parts: Vec<&[Value]> = f.entries.chunks(per_blob).collect();
    for (n, part) in parts.into_iter().enumerate() {
        let blob_name = if n == 0 {
            name.to_owned()
        } else {
            name.replacen("v1.data", &format!("{n:04}.v1.data"), 1)
                .replacen("logs.", "logs_", 1)
        };
        let bytes = if (h >> 8).is_multiple_of(3) {
            serde_json::to_string_pretty(part)
                .expect("serialises")
                .replace('\n', "\r\n")
                .into_bytes()
        } else {
            serde_json::to_vec(part).expect("serialises")
        };
        let bytes = match (h >> 16) % 8 {
            0 | 1 => [BOM, &bytes].concat(),
            2 => {
                let text = String::from_utf8(bytes).expect("JSON is UTF-8");
                [0xFF, 0xFE]
                    .into_iter()
                    .chain(text.encode_utf16().flat_map(u16::to_le_bytes))
                    .collect()
            }
            _ => bytes,
        };
        out.push((format!("{folder}{blob_name}"), Bytes::from(bytes)));
    }
}

fn minute_folder(data: &Dataset, plan: &ExportPlan, t: Timestamp) -> String {
    let minute = t.0.format("%Y/%m/%d/%H/%M").to_string();
    let app_id = match plan.path_format {
        BlobPathFormatKind::WithAppId => Some(data.app_id(plan.app)),
        _ => None,
    };
    layout::minute_folder(app_id, &minute)
}

/// One device log: all strings (`tidy`), or as .NET wrote it (`dotnet`):
/// unset strings as `null`, the API level a number, the test flag a bool.
fn device_log(
    data: &Dataset,
    e: &ErrorRecord,
    kind: &str,
    t: Timestamp,
    props: Value,
    event: Option<&str>,
    style: ExportStyle,
) -> Value {
    let log = data.crash_log(e);
    let d = &log.device;
    let s = |v: Option<&String>| v.cloned().unwrap_or_default();
    let message_id = crate::dataset::guid(crate::dataset::mix(
        t.unix_millis() as u64 ^ kind.len() as u64 ^ e.index << 20,
    ));
    let mut m = serde_json::Map::new();
    for (k, v) in [
        ("AppId", data.app_id(e.app).to_owned()),
        ("Timestamp", t.to_string()),
        ("IngressTimestamp", e.timestamp.to_string()),
        ("InstallId", e.install_id.clone()),
        ("UserId", e.user_id.clone()),
        ("SessionId", s(log.sid.as_ref())),
        ("MessageId", message_id),
        ("MessageType", kind.to_owned()),
        ("EventId", String::new()),
        ("EventName", event.unwrap_or_default().to_owned()),
        ("IsTestMessage", "False".into()),
        ("SdkName", d.sdk_name.clone()),
        ("SdkVersion", d.sdk_version.clone()),
        ("Model", s(d.model.as_ref())),
        ("OemName", s(d.oem_name.as_ref())),
        ("OsName", d.os_name.clone()),
        ("OsVersion", d.os_version.clone()),
        (
            "OsApiLevel",
            d.os_api_level.map(|l| l.to_string()).unwrap_or_default(),
        ),
        ("Locale", d.locale.clone()),
        ("TimeZoneOffset", format!("PT{}M", d.time_zone_offset)),
        ("ScreenSize", s(d.screen_size.as_ref())),
        ("AppVersion", d.app_version.clone()),
        ("AppBuild", d.app_build.clone()),
        ("AppNamespace", s(d.app_namespace.as_ref())),
        ("CarrierName", s(d.carrier_name.as_ref())),
        ("CarrierCountry", s(d.carrier_country.as_ref())),
    ] {
        let value = match (style, k, v) {
            (ExportStyle::Dotnet, _, v) if v.is_empty() => Value::Null,
            (ExportStyle::Dotnet, "OsApiLevel", v) => {
                v.parse::<u64>().map_or(Value::String(v), Value::from)
            }
            (ExportStyle::Dotnet, "IsTestMessage", _) => Value::Bool(false),
            (_, _, v) => Value::String(v),
        };
        m.insert(k.to_owned(), value);
    }
    m.insert("Properties".to_owned(), props);
    Value::Object(m)
}
