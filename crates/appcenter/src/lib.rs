/*!
Typed models and an async client for the App Center crash/error API.

# Brief overview

[`ClientBuilder`] makes a [`Client`] (token, base URL, rate limit,
concurrency, retries); [`Client::app`] gives an [`AppClient`] with one method
per endpoint. Lists are streams that page to the end. The [`models`] are the
wire types, shared with the emulator.

```no_run
use crashdsr_appcenter::{ApiToken, Client, ListOptions, Timestamp};
use futures::TryStreamExt;

# async fn run() -> Result<(), Box<dyn std::error::Error>> {
let client = Client::builder()
    .base_url("http://127.0.0.1:8080")
    .token(ApiToken::from_env_or_file(None)?)
    .build()?;
let app = client.app("contoso", "demo-app");
let since = Timestamp(chrono::Utc::now() - chrono::Duration::days(28));
let groups: Vec<_> = app.error_groups(&ListOptions::since(since)).try_collect().await?;
println!("{} groups", groups.len());
# Ok(())
# }
```

Requests are paced by an adaptive pacer that cuts its rate on a 429 and
probes back up (App Center's 500 requests per
5 minutes by default), retried on 408, 429, 5xx, broken connections and
bodies cut short (decorrelated-jitter backoff, `Retry-After` honoured), and
bounded in number in flight. The token is sent only to the base URL's host;
location URIs are fetched without it.
*/
#![warn(missing_docs)]

mod api;
mod auth;
mod client;
mod error;
mod limiter;
pub mod models;
mod retry;
mod time;

pub use crate::api::{
    AppClient, DownloadFormat, ErrorType, ListOptions, SessionLogsPath, collect_all,
};
pub use crate::auth::{ApiToken, TOKEN_ENV};
pub use crate::client::{Client, ClientBuilder, ClientStats, DEFAULT_BASE_URL};
pub use crate::error::{Error, Result, TransportKind};
pub use crate::limiter::{BadRate, PacerSnapshot, RateLimit};
pub use crate::retry::RetryConfig;
pub use crate::time::Timestamp;
