//! Through App Center's API, or a server of the same contract (`--api`):
//! the person's crashes deleted there too
//! (`DELETE …/errors/errorGroups/{group}/errors/{id}`), and their installs
//! blocked from further collection (`PUT …/devices/block_logs/{install}`).
//!
//! The plan names installs by keyed hash only: an install id is the
//! person's identifier and stays out of every file but the package.
//! `--apply` reads each install's value from the record the plan names,
//! before anything in the sources is changed, and checks it against the
//! hash.

use std::collections::{BTreeMap, BTreeSet};

use crashdsr_appcenter::AppClient;
use crashdsr_package::keyed_hash;
use crashdsr_search::export::{DeviceLog, blob_text, split_device_logs};
use crashdsr_search::{Owner, SearchReport};
use crashdsr_store::SourceId;
use serde::{Deserialize, Serialize};

use crate::target::Target;
use crate::{Error, Result};

/// What `--apply --api` does through the API.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiPlan {
    /// `OWNER/APP`.
    pub app: String,
    /// The app's id (GUID), as the export names it.
    pub app_id: String,
    /// Crashes to delete through the API.
    pub crashes: Vec<ApiCrash>,
    /// Installs to block.
    pub installs: Vec<ApiInstall>,
}

/// A crash to delete through the API.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiCrash {
    /// The error id.
    pub error_id: String,
    /// Its error group, when the archive or the API knew it (without it the
    /// API cannot delete the crash).
    pub error_group_id: Option<String>,
}

/// An install to block, by keyed hash, with the record that holds its id.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiInstall {
    /// The keyed hash of the install id.
    pub keyed_hash: String,
    /// Which source holds the record.
    pub source: SourceId,
    /// The object.
    pub object: String,
    /// The record's index in a `logs*.v1.data` blob; none for a JSON
    /// object (an archived crash's `details.json`) with an `installId`.
    pub index: Option<u32>,
}

/// The API and the key `--apply --api` needs.
#[derive(Debug, Clone)]
pub struct ApiAccess {
    /// The app.
    pub client: AppClient,
    /// The controller's key, to check each install against its hash.
    pub key: Vec<u8>,
}

/// An API answer that stops the run.
fn api_error(what: &str, e: &crashdsr_appcenter::Error) -> Error {
    Error::Store {
        object: "the API".into(),
        what: what.to_owned(),
        message: match e.status() {
            // The message may name the path; the block path holds an
            // install id, so only the status is told.
            Some(status) => format!("HTTP {status}"),
            None => e.to_string(),
        },
    }
}

/// Plans the API side of an erasure: the crashes of `app` among the
/// report's owners, with their groups, and the installs they came from.
pub(crate) async fn plan(
    client: &AppClient,
    report: &SearchReport,
    include_linked: bool,
    targets: &[Target],
    key: &[u8],
) -> Result<ApiPlan> {
    let app = client
        .get_app()
        .await
        .map_err(|e| Error::Plan(format!("--api: reading the app {}: {e}", client.name())))?;
    let (name, app_id) = (client.name(), app.id.to_ascii_lowercase());
    let ours = |a: Option<&str>| {
        a.is_some_and(|a| a.eq_ignore_ascii_case(&app_id) || a.eq_ignore_ascii_case(&name))
    };
    let archived = |error_id: &str| format!("apps/{name}/errors/{error_id}/details.json");
    let index = &report.index;
    let mut crashes: BTreeSet<String> = BTreeSet::new();
    let mut installs: BTreeMap<String, ApiInstall> = BTreeMap::new();
    let mut install = |value: &str, source: usize, object: &str, index: Option<u32>| {
        installs
            .entry(keyed_hash(key, value))
            .or_insert_with_key(|hash| ApiInstall {
                keyed_hash: hash.clone(),
                source: SourceId::new(source),
                object: object.to_owned(),
                index,
            });
    };
    for e in report
        .evidence
        .iter()
        .filter(|e| include_linked || !e.linked)
    {
        match &e.owner {
            Owner::Crash { app, error_id } if ours(app.as_deref()) => {
                crashes.insert(error_id.clone());
                let Some(c) = index.crash(error_id) else {
                    continue;
                };
                if let (Some(value), Some((s, object, i))) =
                    (c.install_id.as_deref(), c.records.first())
                {
                    install(value, *s, object, Some(*i));
                }
            }
            Owner::Activity {
                object,
                index: i,
                source,
                ..
            } => {
                let Some(log) = e
                    .record
                    .as_ref()
                    .and_then(|r| DeviceLog::attribution_fields(r.get().as_bytes()).ok())
                else {
                    continue;
                };
                if ours(Some(&log.app_id)) && !log.install_id.is_empty() {
                    install(&log.install_id, source.index(), object, Some(*i as u32));
                }
            }
            _ => {}
        }
    }
    // Each crash's group: from an archived crash's details, else the API's
    // search (which covers what the API still holds).
    let mut planned = Vec::new();
    for error_id in crashes {
        let mut group = None;
        for (s, target) in targets.iter().enumerate() {
            if let Some(read) = target.read(&archived(&error_id)).await? {
                let details: serde_json::Value =
                    serde_json::from_slice(&read.bytes).unwrap_or_default();
                group = details["errorGroupId"].as_str().map(str::to_owned);
                if let Some(value) = details["installId"].as_str() {
                    install(&value.to_ascii_lowercase(), s, &archived(&error_id), None);
                }
                break;
            }
        }
        if group.is_none() {
            use futures::TryStreamExt;
            let found: Vec<_> = client
                .search_errors(Some(&error_id), None)
                .try_collect()
                .await
                .map_err(|e| Error::Plan(format!("--api: finding the group of {error_id}: {e}")))?;
            group = found
                .into_iter()
                .find(|x| x.error_id == error_id)
                .and_then(|x| x.error_group_id);
        }
        planned.push(ApiCrash {
            error_id,
            error_group_id: group,
        });
    }
    Ok(ApiPlan {
        app: name,
        app_id,
        crashes: planned,
        installs: installs.into_values().collect(),
    })
}

/// Reads the install id the plan names, or why it cannot.
pub(crate) async fn read_install(
    targets: &[Target],
    i: &ApiInstall,
) -> Result<std::result::Result<String, String>> {
    let Some(read) = targets[i.source.index()].read(&i.object).await? else {
        return Ok(Err("the record that holds the install id is gone".into()));
    };
    let value = match i.index {
        Some(index) => {
            let logs = split_device_logs(blob_text(&read.bytes));
            logs.elements
                .iter()
                .find(|(n, _)| *n == index as usize)
                .and_then(|(_, span)| logs.parse(span).ok())
                .map(|log| log.install_id)
        }
        None => serde_json::from_slice::<serde_json::Value>(&read.bytes)
            .ok()
            .and_then(|v| v["installId"].as_str().map(str::to_ascii_lowercase)),
    }
    .filter(|v| !v.is_empty());
    Ok(value.ok_or_else(|| "the record there holds no install id".to_owned()))
}

/// Deletes one crash; `Ok(false)` when the API no longer has it.
pub(crate) async fn delete_crash(api: &ApiAccess, group: &str, error_id: &str) -> Result<bool> {
    match api.client.delete_error(group, error_id).await {
        Ok(_) => Ok(true),
        Err(e) if e.is_not_found() => Ok(false),
        Err(e) => Err(api_error(&format!("deleting crash {error_id}"), &e)),
    }
}

/// Blocks one install.
pub(crate) async fn block(api: &ApiAccess, install_id: &str, hash: &str) -> Result<()> {
    api.client
        .block_install(install_id)
        .await
        .map(|_| ())
        .map_err(|e| api_error(&format!("blocking the install with keyed hash {hash}"), &e))
}
