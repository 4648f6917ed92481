//! The API token and the base-URL rules that keep it from leaking.

use std::fmt;
use std::path::Path;

use url::Url;

use crate::error::{Error, Result};

/// Environment variable that holds the API token.
pub const TOKEN_ENV: &str = "APPCENTER_API_TOKEN";

/// An App Center API token. `Debug` and `Display` never show it.
#[derive(Clone, PartialEq, Eq)]
pub struct ApiToken(String);

impl ApiToken {
    /// Wraps a token; empty or whitespace-only tokens are refused.
    pub fn new(token: impl Into<String>) -> Result<Self> {
        let t = token.into().trim().to_owned();
        if t.is_empty() {
            return Err(Error::Config("the API token is empty".into()));
        }
        if t.bytes().any(|b| b.is_ascii_control()) {
            return Err(Error::Config(
                "the API token holds control characters".into(),
            ));
        }
        Ok(Self(t))
    }

    /// Reads the token from `APPCENTER_API_TOKEN`, else from the first
    /// non-comment line of `file` (a config file the operator keeps at 0600).
    pub fn from_env_or_file(file: Option<&Path>) -> Result<Self> {
        if let Ok(t) = std::env::var(TOKEN_ENV)
            && !t.trim().is_empty()
        {
            return Self::new(t);
        }
        if let Some(path) = file {
            let text = std::fs::read_to_string(path).map_err(|e| {
                Error::Config(format!("reading the token file {}: {e}", path.display()))
            })?;
            let line = text
                .lines()
                .map(str::trim)
                .find(|l| !l.is_empty() && !l.starts_with('#'))
                .unwrap_or_default();
            return Self::new(line);
        }
        Err(Error::Config(format!(
            "no API token: set {TOKEN_ENV} or pass a token file"
        )))
    }

    /// The token, for the `X-API-Token` header only.
    pub(crate) fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for ApiToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ApiToken(REDACTED)")
    }
}

/// True when the URL's host is a loopback address or `localhost`.
pub(crate) fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        None => false,
    }
}

/// Parses and checks a base URL: http(s), https unless loopback, no
/// credentials, no query. The path is kept without its trailing slash.
pub(crate) fn check_base_url(raw: &str) -> Result<Url> {
    let url = Url::parse(raw).map_err(|e| Error::Config(format!("bad base URL {raw:?}: {e}")))?;
    match url.scheme() {
        "https" => {}
        "http" if is_loopback(&url) => {}
        "http" => {
            return Err(Error::Config(format!(
                "refusing plain http to {}: non-loopback base URLs must be https",
                url.host_str().unwrap_or_default()
            )));
        }
        s => {
            return Err(Error::Config(format!(
                "unsupported scheme {s:?} in the base URL"
            )));
        }
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(Error::Config(
            "the base URL must not carry credentials".into(),
        ));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(Error::Config(
            "the base URL must not have a query or fragment".into(),
        ));
    }
    Ok(url)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_is_never_shown() {
        let t = ApiToken::new("abcdef123").unwrap();
        assert_eq!(format!("{t:?}"), "ApiToken(REDACTED)");
        assert!(ApiToken::new("  ").is_err());
        assert!(ApiToken::new("a\nb").is_err());
    }

    #[test]
    fn token_file_skips_comments() {
        let dir = std::env::temp_dir().join(format!("crashdsr-token-{}", std::process::id()));
        std::fs::write(&dir, "# my token\n\n  tok-123  \n").unwrap();
        // The env var wins when set; the test process does not set it.
        if std::env::var(TOKEN_ENV).is_err() {
            let t = ApiToken::from_env_or_file(Some(&dir)).unwrap();
            assert_eq!(t.expose(), "tok-123");
        }
        std::fs::remove_file(&dir).unwrap();
    }

    #[test]
    fn base_url_rules() {
        assert!(check_base_url("https://api.appcenter.ms").is_ok());
        assert!(check_base_url("http://127.0.0.1:8080").is_ok());
        assert!(check_base_url("http://[::1]:8080").is_ok());
        assert!(check_base_url("http://localhost:1").is_ok());
        assert!(check_base_url("http://api.appcenter.ms").is_err());
        assert!(check_base_url("http://10.0.0.1").is_err());
        assert!(check_base_url("ftp://127.0.0.1").is_err());
        assert!(check_base_url("https://u:p@host").is_err());
        assert!(check_base_url("not a url").is_err());
    }
}
