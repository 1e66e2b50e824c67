//! Conversions into the WIT [`Error`] so `?` works in handlers.

use crate::{DingtalkError, Error};

impl Error {
    /// A handler failure with a reason of the plugin's own.
    pub fn plugin(reason: impl Into<String>) -> Self {
        Error::Plugin(reason.into())
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
