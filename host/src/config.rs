//! Who the host is to DingTalk and where DingTalk is: credentials and API bases.
//!
//! The client secret lives only in [`Secret`], whose `Debug` and `Display` print a
//! placeholder, so no log line or error message can carry it.

use std::fmt;

/// Default base of the new OpenAPI (`api.dingtalk.com`).
pub const DEFAULT_OPENAPI_ENDPOINT: &str = "https://api.dingtalk.com";
/// Default base of the legacy OpenAPI (`oapi.dingtalk.com`).
pub const DEFAULT_OAPI_ENDPOINT: &str = "https://oapi.dingtalk.com";

/// A string that never prints itself.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wrap a secret; surrounding whitespace (a common copy-paste slip) is trimmed.
    pub fn new(s: impl Into<String>) -> Self {
        Secret(s.into().trim().to_owned())
    }

    /// The secret itself, for the one request body that needs it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

/// An app's client id (AppKey) and client secret (AppSecret).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credentials {
    /// The client id; also the robot code of internal-app robots.
    pub client_id: String,
    /// The client secret.
    pub client_secret: Secret,
}

impl Credentials {
    /// Credentials with whitespace trimmed from both parts.
    pub fn new(client_id: impl Into<String>, client_secret: impl Into<String>) -> Self {
        Self {
            client_id: client_id.into().trim().to_owned(),
            client_secret: Secret::new(client_secret),
        }
    }
}

/// Where the DingTalk APIs are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoints {
    /// Base of `api.dingtalk.com` calls (open connection, tokens, cards).
    pub openapi: String,
    /// Base of `oapi.dingtalk.com` calls (media upload).
    pub oapi: String,
}

impl Default for Endpoints {
    fn default() -> Self {
        Self {
            openapi: DEFAULT_OPENAPI_ENDPOINT.into(),
            oapi: DEFAULT_OAPI_ENDPOINT.into(),
        }
    }
}

impl Endpoints {
    /// `base` + `path`, without doubling the slash.
    pub fn openapi_url(&self, path: &str) -> String {
        format!("{}{}", self.openapi.trim_end_matches('/'), path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_secret_never_prints_and_whitespace_is_trimmed() {
        let c = Credentials::new(" id ", "  s3cr3t\n");
        assert_eq!(c.client_id, "id");
        assert_eq!(c.client_secret.expose(), "s3cr3t");
        let shown = format!("{c:?} {}", c.client_secret);
        assert!(!shown.contains("s3cr3t"), "{shown}");
    }

    #[test]
    fn openapi_urls_join_without_a_double_slash() {
        let e = Endpoints {
            openapi: "http://127.0.0.1:1/".into(),
            ..Endpoints::default()
        };
        assert_eq!(e.openapi_url("/v1.0/x"), "http://127.0.0.1:1/v1.0/x");
    }
}
