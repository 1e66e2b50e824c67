//! Conversions into the WIT [`Error`] so `?` works in handlers.

use crate::{DingtalkError, Error};

impl Error {
    /// A handler failure with a reason of the plugin's own.
    pub fn plugin(reason: impl Into<String>) -> Self {
        Error::Plugin(reason.into())
    }

    /// A one-line, human description: `denied: …`, `DingTalk answered HTTP 400, code
    /// "x": …`. (The generated `Display` prints the variant's debug form.)
    pub fn reason(&self) -> String {
        match self {
            Error::Dingtalk(d) => format!(
                "DingTalk answered HTTP {}, code {:?}: {}",
                d.status, d.code, d.message
            ),
            Error::Timeout(s) => format!("timeout: {s}"),
            Error::Network(s) => format!("network: {s}"),
            Error::InvalidArgument(s) => format!("invalid argument: {s}"),
            Error::Denied(s) => format!("denied: {s}"),
            Error::Plugin(s) => s.clone(),
            Error::Limit(s) => format!("limit: {s}"),
            Error::Unavailable(s) => format!("unavailable: {s}"),
        }
    }

    /// The WIT case, as every SDK names it: `dingtalk`, `timeout`, `network`,
    /// `invalid-argument`, `denied`, `plugin`, `limit`, `unavailable`.
    pub fn kind(&self) -> &'static str {
        match self {
            Error::Dingtalk(_) => "dingtalk",
            Error::Timeout(_) => "timeout",
            Error::Network(_) => "network",
            Error::InvalidArgument(_) => "invalid-argument",
            Error::Denied(_) => "denied",
            Error::Plugin(_) => "plugin",
            Error::Limit(_) => "limit",
            Error::Unavailable(_) => "unavailable",
        }
    }

    /// DingTalk's own error, when this error carries one.
    pub fn dingtalk(&self) -> Option<&DingtalkError> {
        match self {
            Error::Dingtalk(e) => Some(e),
            _ => None,
        }
    }
}

impl From<serde_json::Error> for Error {
    fn from(e: serde_json::Error) -> Self {
        Error::InvalidArgument(format!("malformed JSON: {e}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_json_error_becomes_an_invalid_argument_naming_the_cause() {
        let err: Error = serde_json::from_str::<u8>("x").unwrap_err().into();
        assert!(matches!(&err, Error::InvalidArgument(m) if m.starts_with("malformed JSON")));
    }

    #[test]
    fn display_carries_dingtalk_code_and_message() {
        let err = Error::Dingtalk(DingtalkError {
            status: 400,
            code: "InvalidAuthentication".into(),
            message: "bad token".into(),
        });
        let text = err.to_string();
        assert!(text.contains("InvalidAuthentication"), "{text}");
        assert!(text.contains("bad token"), "{text}");
    }
}
