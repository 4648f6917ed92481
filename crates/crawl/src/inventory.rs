//! `inventory`: lists every crash id of an app into the state store, page
//! by page, saving each page's cursor in the same transaction as its ids so
//! that an interrupted run resumes where it stopped.

use chrono::Duration;
use crashdsr_appcenter::{AppClient, ListOptions, Timestamp};

use crate::error::Result;
use crate::progress::Progress;
use crashdsr_state::{ListedCrash, StateStore as Store};

/// Which API lists the crashes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Api {
    /// `errors/errorGroups` and `.../errors` (`nextLink` paging).
    #[default]
    Errors,
    /// The deprecated `crash_groups` and `.../crashes` (continuation
    /// token).
    Legacy,
}

impl Api {
    fn as_str(self) -> &'static str {
        match self {
            Self::Errors => "errors",
            Self::Legacy => "legacy",
        }
    }
}

/// What an inventory run did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InventoryReport {
    /// Run number.
    pub run: i64,
    /// Whether it resumed an interrupted run.
    pub resumed: bool,
    /// Groups listed.
    pub groups: u64,
    /// Crashes listed in this invocation.
    pub listed: u64,
    /// Crashes new to the store in this run.
    pub new: i64,
    /// Crashes no longer listed (deleted or past retention), now marked.
    pub expired: i64,
}

/// Lists every crash of `app` in its retention window into `store`.
pub async fn inventory(
    store: &Store,
    app: &AppClient,
    api: Api,
    progress: &dyn Progress,
) -> Result<InventoryReport> {
    let name = app.name();
    let days = app.retention().await?.retention_in_days;
    // One day of slack: the window is the service's to enforce.
    let opts = ListOptions {
        top: 2000,
        ..ListOptions::since(Timestamp(
            chrono::Utc::now() - Duration::days(i64::from(days) + 1),
        ))
    };
    let first = match api {
        Api::Errors => Some(app.error_groups_first_page(&opts)),
        Api::Legacy => None,
    };
    let run = store.begin_inventory(&name, api.as_str(), first).await?;
    if run.resumed {
        tracing::info!(app = %name, run = run.run, "Resuming an interrupted inventory run.");
    }
    let mut cursor = run.groups_cursor.clone();
    let mut done = run.groups_done;
    while !done {
        let (groups, next) = match api {
            Api::Errors => {
                let c = cursor
                    .as_deref()
                    .expect("the errors API always has a cursor");
                let (g, n) = app.error_groups_page(c).await?;
                (
                    g.into_iter().map(|g| g.error_group_id).collect::<Vec<_>>(),
                    n,
                )
            }
            Api::Legacy => {
                let (g, n) = app.crash_groups_page(cursor.as_deref()).await?;
                (g.into_iter().map(|g| g.crash_group_id).collect(), n)
            }
        };
        store
            .save_group_page(&name, run.run, &groups, next.as_deref())
            .await?;
        done = next.is_none();
        cursor = next;
    }
    let groups = store.groups_to_list(&name, run.run).await?;
    progress.set_total(groups.len() as u64);
    let mut listed = 0u64;
    for (group, saved) in &groups {
        match api {
            Api::Errors => {
                let mut cursor = saved
                    .clone()
                    .unwrap_or_else(|| app.errors_first_page(group, &opts));
                loop {
                    let (errors, next) = app.errors_page(&cursor).await?;
                    let crashes: Vec<ListedCrash> = errors
                        .into_iter()
                        .map(|e| ListedCrash {
                            error_time: e.timestamp.map(|t| t.unix_millis()),
                            has_attachments: e.has_attachments,
                            has_breadcrumbs: e.has_breadcrumbs,
                            error_id: e.error_id,
                            error_group_id: group.clone(),
                        })
                        .collect();
                    listed += crashes.len() as u64;
                    store
                        .save_error_page(&name, run.run, group, &crashes, next.as_deref())
                        .await?;
                    match next {
                        Some(n) => cursor = n,
                        None => break,
                    }
                }
            }
            Api::Legacy => {
                let crashes: Vec<ListedCrash> = app
                    .crashes(group)
                    .await?
                    .into_iter()
                    .map(|c| ListedCrash {
                        error_time: Some(c.timestamp.unix_millis()),
                        has_attachments: None,
                        has_breadcrumbs: None,
                        error_id: c.new_crash_id,
                        error_group_id: c.new_crash_group_id,
                    })
                    .collect();
                listed += crashes.len() as u64;
                store
                    .save_error_page(&name, run.run, group, &crashes, None)
                    .await?;
            }
        }
        progress.inc(1);
        progress.message(format!("{listed} crashes listed"));
    }
    let (new, expired) = store.finish_inventory(&name, &run).await?;
    Ok(InventoryReport {
        run: run.run,
        resumed: run.resumed,
        groups: groups.len() as u64,
        listed,
        new,
        expired,
    })
}
