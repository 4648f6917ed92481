//! Downloads a matched crash's full log through its location URI, as the
//! seed's 28-day recipe says ("request the location of the crash log ...
//! save the crash log located at the blob storage URL").

use std::path::{Path, PathBuf};

use crashdsr_appcenter::AppClient;
use tokio::io::AsyncWriteExt;

use crate::archive::safe_id;
use crate::error::{Error, Result};

/// Which location endpoint to ask.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LocationApi {
    /// `errors/errorGroups/{gid}/errors/{eid}/location`.
    #[default]
    Errors,
    /// The legacy `crash_groups/{gid}/crashes/{cid}/raw/location`.
    Legacy,
}

/// Saves the crash log of `error_id` as `{dir}/{error_id}.json`, written to
/// a temporary name and renamed when complete. Returns the path and size.
pub async fn download_crash_log(
    app: &AppClient,
    group_id: &str,
    error_id: &str,
    api: LocationApi,
    dir: &Path,
) -> Result<(PathBuf, u64)> {
    let name = format!("{}.json", safe_id(error_id)?);
    let location = match api {
        LocationApi::Errors => app.error_location(group_id, error_id).await?,
        LocationApi::Legacy => app.crash_raw_location(group_id, error_id).await?,
    };
    let io =
        |what: &str, e: std::io::Error| Error::Config(format!("{what} in {}: {e}", dir.display()));
    tokio::fs::create_dir_all(dir)
        .await
        .map_err(|e| io("creating the working set", e))?;
    let path = dir.join(&name);
    let partial = dir.join(format!("{name}.partial"));
    let mut file = tokio::fs::File::create(&partial)
        .await
        .map_err(|e| io("creating a download", e))?;
    let size = match app.client().download_location(&location, &mut file).await {
        Ok(n) => n,
        Err(e) => {
            drop(file);
            let _ = tokio::fs::remove_file(&partial).await;
            return Err(e.into());
        }
    };
    file.sync_all()
        .await
        .map_err(|e| io("syncing a download", e))?;
    file.shutdown()
        .await
        .map_err(|e| io("closing a download", e))?;
    tokio::fs::rename(&partial, &path)
        .await
        .map_err(|e| io("renaming a download", e))?;
    Ok((path, size))
}
