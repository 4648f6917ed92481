//! Sets up `tracing` for the binary: human lines or JSON, on stderr.

use tracing_subscriber::EnvFilter;

use crate::cli::{GlobalArgs, LogFormat};

/// Installs the subscriber. `RUST_LOG` overrides the default level (`info`
/// for crashdsr, `warn` for everything else).
pub(crate) fn init(global: &GlobalArgs) {
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("warn,crashdsr=info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match global.log_format {
        LogFormat::Json => builder.json().init(),
        LogFormat::Text => builder.with_target(false).init(),
    }
}
