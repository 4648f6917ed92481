//! Sets up `tracing` for the binary: human lines or JSON, on stderr.

use std::io::IsTerminal;

use tracing_subscriber::EnvFilter;

use crate::cli::{GlobalArgs, LogFormat};

/// Installs the subscriber. `RUST_LOG` overrides the default level (`info`
/// for crashdsr, `warn` for everything else). Colour only on a terminal,
/// and never with `NO_COLOR` set (<https://no-color.org>).
pub(crate) fn init(global: &GlobalArgs) {
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("warn,crashdsr=info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match global.log_format {
        LogFormat::Json => builder.json().init(),
        LogFormat::Text => builder
            .with_target(false)
            .with_ansi(colour(
                std::io::stderr().is_terminal(),
                std::env::var_os("NO_COLOR"),
            ))
            .init(),
    }
}

/// Whether to colour: on a terminal, unless `NO_COLOR` is set to anything
/// but the empty string.
fn colour(terminal: bool, no_color: Option<std::ffi::OsString>) -> bool {
    terminal && no_color.is_none_or(|v| v.is_empty())
}

#[cfg(test)]
mod tests {
    use super::colour;

    #[test]
    fn colour_only_on_a_terminal_without_no_color() {
        assert!(colour(true, None));
        assert!(colour(true, Some("".into())));
        assert!(!colour(true, Some("1".into())));
        assert!(!colour(false, None));
    }
}
