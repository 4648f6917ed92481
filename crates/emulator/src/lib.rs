/*!
A local emulator of the App Center crash/error API, for tests, benchmarks
and the demo.

# Brief overview

[`EmulatorConfig`] describes the dataset ([`DatasetConfig`]: seed, apps,
errors per app), the tokens, a token-bucket rate limit, latency and fault
rules. [`serve`] binds it on an address and returns a [`RunningEmulator`];
[`app`] gives the bare axum router for in-process tests. [`Dataset::truth`]
is the ground truth: which errors hold which subject's data.

The dataset is generated on demand from the seed, so a million errors per
app cost no memory. Where the live service and the spec disagree, the
emulator does what the live service did (see `docs/emulator.md`).
*/
#![warn(missing_docs)]

mod dataset;
mod error;
pub mod export;
pub mod faults;
mod handlers;
mod server;
pub mod testing;

use std::net::SocketAddr;
use std::sync::Arc;

pub use crate::dataset::{
    AttachmentKind, Dataset, DatasetConfig, ErrorRecord, Identifier, Owner, Placement, Subject,
    Truth, TruthDirect, TruthLinked, TruthSubject,
};
pub use crate::error::Error;
pub use crate::handlers::app;
pub use crate::server::{Emulator, EmulatorConfig};

/// An emulator serving on a socket.
#[derive(Debug)]
pub struct RunningEmulator {
    /// The bound address.
    pub addr: SocketAddr,
    /// The shared state (counters, dataset).
    pub state: Arc<Emulator>,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl RunningEmulator {
    /// `http://ADDR`.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Stops serving and waits for the server task.
    pub async fn shutdown(mut self) -> std::io::Result<()> {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        self.task
            .await
            .unwrap_or_else(|e| Err(std::io::Error::other(e)))
    }

    /// Serves until the task ends (for the CLI).
    pub async fn wait(self) -> std::io::Result<()> {
        let _keep = self.shutdown;
        self.task
            .await
            .unwrap_or_else(|e| Err(std::io::Error::other(e)))
    }
}

/// Binds `addr` (use port 0 for any free port) and serves in the background.
pub async fn serve(cfg: EmulatorConfig, addr: SocketAddr) -> Result<RunningEmulator, Error> {
    let state = Emulator::new(cfg)?;
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|source| Error::Bind { addr, source })?;
    let addr = listener
        .local_addr()
        .map_err(|source| Error::Bind { addr, source })?;
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let router = app(state.clone());
    let task = tokio::spawn(async move {
        axum::serve(listener, router)
            .with_graceful_shutdown(async {
                let _ = rx.await;
            })
            .await
    });
    Ok(RunningEmulator {
        addr,
        state,
        shutdown: Some(tx),
        task,
    })
}
