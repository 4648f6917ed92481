//! Typed models of the App Center API, shared by the client and the emulator.
//!
//! Field names follow the wire: the errors API is camelCase, the legacy crash
//! API and export configurations are snake_case. Optional fields are
//! `Option`, unknown keys are ignored, and enums whose values the live
//! service spelt differently from the spec keep an `Other` variant instead of
//! failing the whole page.

use std::collections::BTreeMap;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::time::Timestamp;

macro_rules! lenient_enum {
    ($(#[$m:meta])* $name:ident { $($(#[$vm:meta])* $variant:ident => $wire:literal),+ $(,)? }) => {
        $(#[$m])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash)]
        pub enum $name {
            $($(#[$vm])* $variant,)+
            /// A value this client does not know, kept as sent.
            Other(String),
        }

        impl $name {
            /// The wire spelling.
            pub fn as_str(&self) -> &str {
                match self {
                    $(Self::$variant => $wire,)+
                    Self::Other(s) => s,
                }
            }
        }

        impl std::str::FromStr for $name {
            type Err = std::convert::Infallible;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                $(if s.eq_ignore_ascii_case($wire) { return Ok(Self::$variant); })+
                Ok(Self::Other(s.to_owned()))
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
                Ok(s.parse().unwrap_or_else(|e: std::convert::Infallible| match e {}))
            }
        }
    };
}

// ---------------------------------------------------------------- apps

/// `GET /v0.1/apps/{owner}/{app}` (`apps_get`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct App {
    /// The app's UUID; the `{appId}` of `WithAppId` export paths.
    pub id: String,
    /// The ingestion key. Secret: never logged.
    pub app_secret: String,
    /// Slug used in URLs.
    pub name: String,
    /// Display name.
    pub display_name: String,
    /// `Android`, `iOS`, ...
    pub os: String,
    /// `Java`, `Xamarin`, ...
    pub platform: String,
    /// `appcenter`, `hockeyapp`, `codepush`.
    pub origin: String,
    /// The owner.
    pub owner: AppOwner,
    /// Free description.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Creation time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_at: Option<String>,
}

impl std::fmt::Display for App {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.owner.name, self.name)
    }
}

/// The owner of an app.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AppOwner {
    /// UUID.
    pub id: String,
    /// Display name.
    pub display_name: String,
    /// Slug used in URLs.
    pub name: String,
    /// `org` or `user`.
    #[serde(rename = "type")]
    pub kind: String,
    /// Owner e-mail.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
}

// ---------------------------------------------------------------- retention

/// `errors/retention_settings` body: 28 or 90 days.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct RetentionSettings {
    /// Days App Center keeps crash data.
    pub retention_in_days: u32,
}

// ---------------------------------------------------------------- errors API

lenient_enum! {
    /// An error group's state. The spec writes lower case; the live service
    /// sent `Open`, `Closed`, `Ignored` (what Microsoft's Python client
    /// decodes). Both are accepted; the live form is written.
    ErrorGroupState {
        /// Open.
        Open => "Open",
        /// Closed.
        Closed => "Closed",
        /// Ignored.
        Ignored => "Ignored",
    }
}

/// A reason frame of the errors API (camelCase).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReasonFrame {
    /// Class name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub class_name: Option<String>,
    /// Method name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub method: Option<String>,
    /// Class-method flag.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub class_method: Option<bool>,
    /// Source file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
    /// Line number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub line: Option<i64>,
    /// Whether the frame is app code.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub app_code: Option<bool>,
    /// Framework name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub framework_name: Option<String>,
    /// Formatted frame.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code_formatted: Option<String>,
    /// Raw frame.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code_raw: Option<String>,
    /// Language (`Java`, `CSharp`, ...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub language: Option<String>,
    /// Exception type.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exception_type: Option<String>,
}

/// One error group (`ErrorGroupListItem` / `ErrorGroup`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ErrorGroup {
    /// Group id; a trailing `u` marks a crash (unhandled) group.
    pub error_group_id: String,
    /// Open, closed or ignored.
    pub state: ErrorGroupState,
    /// Developer annotation (may hold personal data).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub annotation: Option<String>,
    /// App version the group belongs to.
    pub app_version: String,
    /// App build.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub app_build: Option<String>,
    /// Number of errors.
    pub count: i64,
    /// Number of devices.
    pub device_count: i64,
    /// First error in the group.
    pub first_occurrence: Timestamp,
    /// Latest error in the group.
    pub last_occurrence: Timestamp,
    /// Exception type.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exception_type: Option<String>,
    /// Exception message.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exception_message: Option<String>,
    /// Class of the crashing frame.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exception_class_name: Option<String>,
    /// Method of the crashing frame.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exception_method: Option<String>,
    /// File of the crashing frame.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exception_file: Option<String>,
    /// Line, a string in the spec.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exception_line: Option<String>,
    /// Whether the crashing frame is app code.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exception_app_code: Option<bool>,
    /// Raw code line.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code_raw: Option<String>,
    /// Reason frames.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub reason_frames: Vec<ReasonFrame>,
    /// Hidden flag.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hidden: Option<bool>,
}

impl ErrorGroup {
    /// Crash (unhandled) groups carry a trailing `u`.
    pub fn is_crash(&self) -> bool {
        self.error_group_id.ends_with('u')
    }
}

/// A page of `errors/errorGroups`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ErrorGroups {
    /// Groups on this page.
    #[serde(default)]
    pub error_groups: Vec<ErrorGroup>,
    /// Relative link to the next page; absent or null on the last.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_link: Option<String>,
}

/// `PATCH errors/errorGroups/{id}` body.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ErrorGroupStateChange {
    /// New state.
    pub state: ErrorGroupState,
    /// New annotation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub annotation: Option<String>,
}

/// One error in a list (`HandledError`).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ErrorSummary {
    /// `"{number}-{guid}"`; the GUID is the SDK log id.
    #[serde(default)]
    pub error_id: String,
    /// When it happened.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timestamp: Option<Timestamp>,
    /// Device model name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device_name: Option<String>,
    /// OS version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub os_version: Option<String>,
    /// OS type.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub os_type: Option<String>,
    /// Country code.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub country: Option<String>,
    /// Language code.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub language: Option<String>,
    /// The developer-set user id (personal data).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_id: Option<String>,
    /// The error's group. Not in the spec's `HandledError`, but the live
    /// `errors/search` returned it (observed; microsoft/appcenter#1700).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_group_id: Option<String>,
    /// Whether breadcrumbs (session logs) exist.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub has_breadcrumbs: Option<bool>,
    /// Whether attachments exist.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub has_attachments: Option<bool>,
}

/// A page of `errors/errorGroups/{id}/errors`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ErrorList {
    /// Errors on this page.
    #[serde(default)]
    pub errors: Vec<ErrorSummary>,
    /// Relative link to the next page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_link: Option<String>,
}

/// A page of `errors/search` (`$top` + `$skip` paging).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ErrorSearchResult {
    /// Whether another page exists.
    #[serde(default)]
    pub has_more_results: bool,
    /// Errors on this page.
    #[serde(default)]
    pub errors: Vec<ErrorSummary>,
}

/// `errors/errorGroups/{gid}/errors/{eid}` (`HandledErrorDetails`).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ErrorDetails {
    /// The list fields.
    #[serde(flatten)]
    pub summary: ErrorSummary,
    /// Exception name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Reason frames.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub reason_frames: Vec<ReasonFrame>,
    /// App launch time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub app_launch_timestamp: Option<Timestamp>,
    /// Carrier.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub carrier_name: Option<String>,
    /// Jailbreak flag.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jailbreak: Option<bool>,
    /// Handled-error properties (personal data is common here).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub properties: BTreeMap<String, String>,
}

/// `DELETE errors/errorGroups/{gid}/errors/{eid}` answer.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ErrorDeleteCounter {
    /// App id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub app_id: Option<String>,
    /// Group id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_group_id: Option<String>,
    /// Error id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_id: Option<String>,
    /// Errors deleted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub errors_deleted: Option<i64>,
    /// Attachments deleted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attachments_deleted: Option<i64>,
    /// Blobs deleted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub blobs_succeeded: Option<i64>,
    /// Blobs that failed to delete.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub blobs_failed: Option<i64>,
}

/// A location URI (`{"uri": ...}`): a signed blob URL, fetched without the
/// API token.
#[derive(Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Location {
    /// The URI.
    #[serde(default)]
    pub uri: String,
}

impl std::fmt::Debug for Location {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The query holds the signature.
        let shown = self.uri.split('?').next().unwrap_or_default();
        write!(f, "Location({shown}?REDACTED)")
    }
}

/// An attachment of the errors API.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ErrorAttachment {
    /// App id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub app_id: Option<String>,
    /// Attachment id (GUID).
    #[serde(default)]
    pub attachment_id: String,
    /// The SDK id of the error it belongs to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub crash_id: Option<String>,
    /// Blob URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub blob_location: Option<String>,
    /// MIME type; `text/plain` for text attachments.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_type: Option<String>,
    /// File name as uploaded (never used as a path).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file_name: Option<String>,
    /// Upload time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_time: Option<Timestamp>,
    /// Size in bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size: Option<i64>,
}

impl ErrorAttachment {
    /// Text attachments can be read through `.../text`.
    pub fn is_text(&self) -> bool {
        self.content_type
            .as_deref()
            .and_then(|c| c.split(';').next())
            .is_some_and(|essence| essence.trim().eq_ignore_ascii_case("text/plain"))
    }
}

/// `errors/{id}/attachments/{aid}/text`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct AttachmentText {
    /// The text.
    #[serde(default)]
    pub content: String,
}

/// A stack frame (snake_case, both stack-trace endpoints).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct StackFrame {
    /// Address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
    /// Class name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub class_name: Option<String>,
    /// Method.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub method: Option<String>,
    /// Class-method flag.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub class_method: Option<bool>,
    /// File (paths can hold user names).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
    /// Line.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub line: Option<i64>,
    /// App code flag.
    #[serde(default)]
    pub app_code: bool,
    /// Framework.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub framework_name: Option<String>,
    /// Raw frame.
    #[serde(default)]
    pub code_raw: String,
    /// Formatted frame.
    #[serde(default)]
    pub code_formatted: String,
    /// Language.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub language: Option<String>,
    /// Relevant flag.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub relevant: Option<bool>,
}

/// An exception in a stack trace.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct StackException {
    /// Reason (message; may hold personal data).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Type.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[serde(rename = "type")]
    pub kind: Option<String>,
    /// Frames.
    #[serde(default)]
    pub frames: Vec<StackFrame>,
    /// Relevant flag.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub relevant: Option<bool>,
    /// Platform (`android`, `ios`, ...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub platform: Option<String>,
}

/// A thread in a stack trace.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct StackThread {
    /// Thread name.
    #[serde(default)]
    pub title: String,
    /// Frames.
    #[serde(default)]
    pub frames: Vec<StackFrame>,
    /// Exception on that thread.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exception: Option<StackException>,
    /// Relevant flag.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub relevant: Option<bool>,
    /// Platform.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub platform: Option<String>,
    /// Crashed flag.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub crashed: Option<bool>,
}

/// `Stacktrace` / `DiagnosticsStackTrace`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct StackTrace {
    /// Title.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// Reason.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Threads.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub threads: Vec<StackThread>,
    /// Top exception.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exception: Option<StackException>,
}

// ---------------------------------------------------------------- session logs

lenient_enum! {
    /// Type of a session log.
    SessionLogType {
        /// A custom event.
        Event => "event",
        /// A page view.
        Page => "page",
        /// Session start.
        StartSession => "start_session",
        /// An error.
        Error => "error",
        /// Push installation.
        PushInstallation => "push_installation",
        /// Service start.
        StartService => "start_service",
        /// Custom properties.
        CustomProperties => "custom_properties",
    }
}

/// Device of a session log (`LogDevice`, snake_case).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct LogDevice {
    /// SDK name.
    #[serde(default)]
    pub sdk_name: String,
    /// SDK version.
    #[serde(default)]
    pub sdk_version: String,
    /// Model.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    /// Manufacturer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub oem_name: Option<String>,
    /// OS name.
    #[serde(default)]
    pub os_name: String,
    /// OS version.
    #[serde(default)]
    pub os_version: String,
    /// OS API level.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub os_api_level: Option<i64>,
    /// Locale.
    #[serde(default)]
    pub locale: String,
    /// Minutes from UTC.
    #[serde(default)]
    pub time_zone_offset: i64,
    /// Screen size.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub screen_size: Option<String>,
    /// App version.
    #[serde(default)]
    pub app_version: String,
    /// App build.
    #[serde(default)]
    pub app_build: String,
    /// Carrier.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub carrier_name: Option<String>,
    /// Carrier country.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub carrier_country: Option<String>,
    /// Bundle id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub app_namespace: Option<String>,
}

/// One session log (`GenericLog`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SessionLog {
    /// Log type.
    #[serde(rename = "type")]
    pub kind: SessionLogType,
    /// When.
    pub timestamp: Timestamp,
    /// The install the log came from (links crashes of one device).
    pub install_id: String,
    /// Session id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_id: Option<String>,
    /// Event id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event_id: Option<String>,
    /// Event name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event_name: Option<String>,
    /// Message id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message_id: Option<String>,
    /// Event properties (may hold personal data).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub properties: BTreeMap<String, String>,
    /// Device.
    pub device: LogDevice,
    /// Auth provider.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth_provider: Option<String>,
    /// Authenticated account id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account_id: Option<String>,
}

/// A page of session logs: at most 100, continue from
/// `last_received_log_timestamp` while `exceeded_max_limit`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct SessionLogPage {
    /// More logs exist after this page.
    #[serde(default)]
    pub exceeded_max_limit: bool,
    /// Timestamp to pass as `date` for the next page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_received_log_timestamp: Option<Timestamp>,
    /// Logs.
    #[serde(default)]
    pub logs: Vec<SessionLog>,
}

// ---------------------------------------------------------------- legacy crash API

/// A legacy reason frame (snake_case).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct LegacyReasonFrame {
    /// Class.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub class_name: Option<String>,
    /// Method.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub method: Option<String>,
    /// File.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
    /// Line.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub line: Option<i64>,
    /// App code.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub app_code: Option<bool>,
    /// Language.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub language: Option<String>,
}

/// A legacy crash group (`crash_groups`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CrashGroup {
    /// Legacy id.
    pub crash_group_id: String,
    /// Id in the errors API.
    pub new_crash_group_id: String,
    /// Display id.
    pub display_id: String,
    /// App version.
    pub app_version: String,
    /// Build.
    pub build: String,
    /// `open`, `closed`, `ignored`.
    pub status: ErrorGroupState,
    /// Crash count.
    pub count: i64,
    /// Impacted users.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub impacted_users: Option<i64>,
    /// First crash.
    pub first_occurrence: Timestamp,
    /// Last crash.
    pub last_occurrence: Timestamp,
    /// Exception.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exception: Option<String>,
    /// Reason.
    pub crash_reason: String,
    /// Reason frame.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason_frame: Option<LegacyReasonFrame>,
    /// Crash (true) or handled error (false).
    pub fatal: bool,
    /// Annotation.
    #[serde(default)]
    pub annotation: String,
}

/// A page of `crash_groups` (continuation-token paging).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct CrashGroupsContainer {
    /// Whether the list is incomplete.
    #[serde(default)]
    pub limited_result_set: bool,
    /// Token for the next page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub continuation_token: Option<String>,
    /// Groups.
    #[serde(default)]
    pub crash_groups: Vec<CrashGroup>,
}

/// Legacy crash details.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct CrashDetails {
    /// Carrier country.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub carrier_country: Option<String>,
    /// Carrier.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub carrier_name: Option<String>,
    /// Locale.
    #[serde(default)]
    pub locale: String,
    /// OS build.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub os_build: Option<String>,
    /// Rooted.
    #[serde(default)]
    pub rooted: bool,
    /// Screen size.
    #[serde(default)]
    pub screen_size: String,
    /// App start.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub app_start_timestamp: Option<Timestamp>,
}

/// A legacy crash (`crashes`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Crash {
    /// Legacy id.
    pub crash_id: String,
    /// Id in the errors API.
    pub new_crash_id: String,
    /// Group id in the errors API.
    pub new_crash_group_id: String,
    /// Display id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_id: Option<String>,
    /// When.
    pub timestamp: Timestamp,
    /// App version.
    pub version: String,
    /// Build.
    pub build: String,
    /// Device model.
    pub device: String,
    /// Device name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device_name: Option<String>,
    /// OS version.
    pub os_version: String,
    /// OS type.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub os_type: Option<String>,
    /// The developer-set user (personal data).
    #[serde(default)]
    pub user_name: String,
    /// User e-mail (personal data).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_email: Option<String>,
    /// Stack trace when requested.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stacktrace: Option<StackTrace>,
    /// Details when requested.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub details: Option<CrashDetails>,
}

/// A legacy attachment (snake_case; `size` is a number).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CrashAttachment {
    /// App id.
    pub app_id: String,
    /// Attachment id.
    pub attachment_id: String,
    /// Crash id.
    pub crash_id: String,
    /// Blob URL.
    pub blob_location: String,
    /// MIME type.
    pub content_type: String,
    /// File name (never used as a path).
    pub file_name: String,
    /// Upload time.
    pub created_time: Timestamp,
    /// Size in bytes.
    pub size: f64,
}

// ---------------------------------------------------------------- export configurations

lenient_enum! {
    /// What an export configuration exports.
    ExportEntity {
        /// Crashes.
        Crashes => "crashes",
        /// Handled errors.
        Errors => "errors",
        /// Attachments.
        Attachments => "attachments",
        /// Exclude analytics logs.
        NoLogs => "no_logs",
    }
}

lenient_enum! {
    /// Blob path layout.
    BlobPathFormatKind {
        /// `yyyy/MM/dd/HH/mm` (the default).
        WithoutAppId => "WithoutAppId",
        /// `{appId}/yyyy/MM/dd/HH/mm`.
        WithAppId => "WithAppId",
    }
}

lenient_enum! {
    /// State of an export configuration.
    ExportState {
        /// Exporting.
        Enabled => "Enabled",
        /// Stopped.
        Disabled => "Disabled",
        /// Just created.
        Pending => "Pending",
        /// Deleted.
        Deleted => "Deleted",
        /// Bad credentials or target.
        Invalid => "Invalid",
    }
}

/// The target and options of an export (request body of POST and PATCH).
///
/// `Debug` never shows the connection string.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ExportConfiguration {
    /// Custom export: the caller's own storage account.
    BlobStorageConnectionString {
        /// Secret: never echoed, never logged.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        connection_string: Option<String>,
        /// Path layout.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        blob_path_format_kind: Option<BlobPathFormatKind>,
        /// Common options.
        #[serde(flatten)]
        options: ExportOptions,
    },
    /// Standard export: a storage account App Center creates in a linked
    /// subscription.
    BlobStorageLinkedSubscription {
        /// Azure subscription id.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        subscription_id: Option<String>,
        /// Path layout.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        blob_path_format_kind: Option<BlobPathFormatKind>,
        /// Common options.
        #[serde(flatten)]
        options: ExportOptions,
    },
    /// Application Insights by key (no diagnostics entities).
    ApplicationInsightsInstrumentationKey {
        /// Secret: never echoed.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        instrumentation_key: Option<String>,
        /// Common options.
        #[serde(flatten)]
        options: ExportOptions,
    },
    /// Application Insights in a linked subscription.
    ApplicationInsightsLinkedSubscription {
        /// Azure subscription id.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        subscription_id: Option<String>,
        /// Common options.
        #[serde(flatten)]
        options: ExportOptions,
    },
}

impl ExportConfiguration {
    /// The common options.
    pub fn options(&self) -> &ExportOptions {
        match self {
            Self::BlobStorageConnectionString { options, .. }
            | Self::BlobStorageLinkedSubscription { options, .. }
            | Self::ApplicationInsightsInstrumentationKey { options, .. }
            | Self::ApplicationInsightsLinkedSubscription { options, .. } => options,
        }
    }

    /// The `type` discriminator.
    pub fn type_name(&self) -> &'static str {
        match self {
            Self::BlobStorageConnectionString { .. } => "blob_storage_connection_string",
            Self::BlobStorageLinkedSubscription { .. } => "blob_storage_linked_subscription",
            Self::ApplicationInsightsInstrumentationKey { .. } => {
                "application_insights_instrumentation_key"
            }
            Self::ApplicationInsightsLinkedSubscription { .. } => {
                "application_insights_linked_subscription"
            }
        }
    }

    /// The blob path layout, for blob targets.
    pub fn path_format(&self) -> Option<&BlobPathFormatKind> {
        match self {
            Self::BlobStorageConnectionString {
                blob_path_format_kind,
                ..
            }
            | Self::BlobStorageLinkedSubscription {
                blob_path_format_kind,
                ..
            } => blob_path_format_kind.as_ref(),
            _ => None,
        }
    }

    /// The same configuration with every secret removed (what a server
    /// echoes and what may be printed).
    pub fn without_secrets(&self) -> Self {
        let mut c = self.clone();
        match &mut c {
            Self::BlobStorageConnectionString {
                connection_string, ..
            } => *connection_string = None,
            Self::ApplicationInsightsInstrumentationKey {
                instrumentation_key,
                ..
            } => *instrumentation_key = None,
            _ => {}
        }
        c
    }
}

impl std::fmt::Debug for ExportConfiguration {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ExportConfiguration")
            .field("type", &self.type_name())
            .field("blob_path_format_kind", &self.path_format())
            .field("options", self.options())
            .finish_non_exhaustive()
    }
}

/// Options common to every export type.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct ExportOptions {
    /// What to export.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub export_entities: Vec<ExportEntity>,
    /// Azure resource name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_name: Option<String>,
    /// Azure resource group.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_group: Option<String>,
    /// Back-fill the retention window (default true).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backfill: Option<bool>,
}

lenient_enum! {
    /// Target resource type of an export.
    ExportType {
        /// Blob Storage.
        BlobStorage => "BlobStorage",
        /// Application Insights.
        AppInsights => "AppInsights",
    }
}

/// An export configuration as the server reports it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExportConfigurationResult {
    /// Configuration id (a GUID).
    pub id: String,
    /// Target type.
    pub export_type: ExportType,
    /// Creation time (ISO 8601).
    pub creation_time: String,
    /// Last successful run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_run_time: Option<String>,
    /// Entities.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub export_entities: Vec<ExportEntity>,
    /// State.
    pub state: ExportState,
    /// Why the state is what it is (for `Invalid`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state_info: Option<String>,
    /// Resource group.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_group: Option<String>,
    /// Storage account name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_name: Option<String>,
    /// The configuration, without secrets.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub export_configuration: Option<ExportConfiguration>,
}

/// `GET export_configurations`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ExportConfigurationList {
    /// Configurations.
    #[serde(default)]
    pub values: Vec<ExportConfigurationResult>,
    /// Total count.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub total: Option<i64>,
    /// Next page (never seen in practice).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_link: Option<String>,
}

// ---------------------------------------------------------------- error bodies

/// New-style error body: `{"error": {"code", "message"}}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ErrorBody {
    /// The error.
    pub error: ErrorBodyDetails,
}

/// Inside a new-style error body.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ErrorBodyDetails {
    /// `NotFound`, `TooManyRequests`, ... (the live service also sent
    /// `RateLimitExceeded`).
    pub code: String,
    /// Message.
    pub message: String,
}

/// Legacy crash-API error body: `{"message"}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LegacyErrorBody {
    /// Message.
    pub message: String,
}

// ---------------------------------------------------------------- the SDK crash log

/// An exception in the SDK log (`ingestion.yaml`, camelCase).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LogException {
    /// Type.
    #[serde(rename = "type")]
    pub kind: String,
    /// Message (personal data is common here).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// Raw stack trace.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stack_trace: Option<String>,
    /// Frames.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub frames: Vec<LogStackFrame>,
    /// Inner exceptions.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub inner_exceptions: Vec<LogException>,
}

/// A frame in the SDK log.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LogStackFrame {
    /// Class.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub class_name: Option<String>,
    /// Method.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub method_name: Option<String>,
    /// Line.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub line_number: Option<i64>,
    /// File (may be a path with a user name).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file_name: Option<String>,
}

/// A thread in the SDK log.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct LogThread {
    /// Thread id.
    pub id: i64,
    /// Name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Frames.
    #[serde(default)]
    pub frames: Vec<LogStackFrame>,
}

/// Device in the SDK log (camelCase).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Device {
    /// SDK name.
    pub sdk_name: String,
    /// SDK version.
    pub sdk_version: String,
    /// Model.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    /// Manufacturer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub oem_name: Option<String>,
    /// OS.
    pub os_name: String,
    /// OS version.
    pub os_version: String,
    /// API level.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub os_api_level: Option<i64>,
    /// Locale.
    pub locale: String,
    /// Minutes from UTC.
    pub time_zone_offset: i64,
    /// Screen.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub screen_size: Option<String>,
    /// App version.
    pub app_version: String,
    /// App build.
    pub app_build: String,
    /// Bundle id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub app_namespace: Option<String>,
    /// Carrier.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub carrier_name: Option<String>,
    /// Carrier country.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub carrier_country: Option<String>,
}

/// The full crash log as `download?format=json` returns it and as the
/// continuous export writes it: the SDK log (`managedError`,
/// `handledError`, ...) enriched with the server's ids.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CrashLog {
    /// `managedError`, `handledError`, `appleError`, ...
    #[serde(rename = "type")]
    pub kind: String,
    /// The SDK id (GUID; the suffix of `errorId`).
    pub id: String,
    /// API error id.
    pub error_id: String,
    /// API group id.
    pub error_group_id: String,
    /// App id.
    pub app_id: String,
    /// Install id.
    pub install_id: String,
    /// When.
    pub timestamp: Timestamp,
    /// App launch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub app_launch_timestamp: Option<Timestamp>,
    /// Session id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sid: Option<String>,
    /// Developer-set user id (personal data).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_id: Option<String>,
    /// Process id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub process_id: Option<i64>,
    /// Process name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub process_name: Option<String>,
    /// Crash (true) or handled (false).
    pub fatal: bool,
    /// Crashing thread id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_thread_id: Option<i64>,
    /// Crashing thread name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_thread_name: Option<String>,
    /// Device.
    pub device: Device,
    /// Exception.
    pub exception: LogException,
    /// Threads.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub threads: Vec<LogThread>,
    /// Handled-error properties.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub properties: BTreeMap<String, String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn group_state_accepts_both_spellings_and_unknown_values() {
        for (s, want) in [
            ("\"Open\"", ErrorGroupState::Open),
            ("\"open\"", ErrorGroupState::Open),
            ("\"closed\"", ErrorGroupState::Closed),
            ("\"IGNORED\"", ErrorGroupState::Ignored),
            ("\"muted\"", ErrorGroupState::Other("muted".into())),
        ] {
            assert_eq!(
                serde_json::from_str::<ErrorGroupState>(s).unwrap(),
                want,
                "{s}"
            );
        }
        assert_eq!(
            serde_json::to_string(&ErrorGroupState::Open).unwrap(),
            "\"Open\""
        );
    }

    #[test]
    fn export_configuration_round_trips_and_hides_secrets() {
        let body = r#"{"type":"blob_storage_connection_string","connection_string":"AccountKey=s3cr3t",
            "export_entities":["crashes","errors"],"blob_path_format_kind":"WithAppId","backfill":false}"#;
        let c: ExportConfiguration = serde_json::from_str(body).unwrap();
        assert_eq!(c.type_name(), "blob_storage_connection_string");
        assert_eq!(c.path_format(), Some(&BlobPathFormatKind::WithAppId));
        assert_eq!(c.options().backfill, Some(false));
        assert!(!format!("{c:?}").contains("s3cr3t"));
        assert!(
            !serde_json::to_string(&c.without_secrets())
                .unwrap()
                .contains("s3cr3t")
        );
        let back: ExportConfiguration =
            serde_json::from_str(&serde_json::to_string(&c).unwrap()).unwrap();
        assert_eq!(back, c);
    }

    #[test]
    fn error_summary_ignores_unknown_keys_and_rejects_wrong_types() {
        let ok: ErrorSummary =
            serde_json::from_str(r#"{"errorId":"1-a","userId":"u","brandNew":[1,2]}"#).unwrap();
        assert_eq!(ok.user_id.as_deref(), Some("u"));
        assert!(
            serde_json::from_str::<ErrorSummary>(r#"{"errorId":"1-a","hasAttachments":"yes"}"#)
                .is_err()
        );
    }

    #[test]
    fn location_debug_hides_the_signature() {
        let l = Location {
            uri: "http://h/blob?sig=abc".into(),
        };
        assert!(!format!("{l:?}").contains("abc"));
    }
}
