//! What a DingTalk answer is: read with a size cap, checked in both of DingTalk's
//! error styles, and its failures typed by the step that made the call.
//!
//! No error made here contains a URL (see the module above).

use std::fmt;

use serde_json::Value;

/// The step an HTTP call belongs to, named in every error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// `POST /v1.0/gateway/connections/open`.
    Open,
    /// A session webhook reply.
    Webhook,
    /// `POST /v1.0/oauth2/accessToken`.
    Token,
    /// Media upload (legacy `media/upload`).
    MediaUpload,
    /// Robot message file download.
    Download,
    /// Interactive card calls.
    Card,
    /// Proactive robot messages.
    Proactive,
    /// A plugin's generic OpenAPI call.
    OpenApi,
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Step::Open => "open connection",
            Step::Webhook => "webhook reply",
            Step::Token => "access token",
            Step::MediaUpload => "media upload",
            Step::Download => "file download",
            Step::Card => "card",
            Step::Proactive => "proactive message",
            Step::OpenApi => "openapi call",
        })
    }
}

/// Why a DingTalk HTTP call failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// DingTalk answered with an error.
    #[error("{step} failed: DingTalk answered HTTP {status}, code {code:?}: {message}")]
    Api {
        /// Which call.
        step: Step,
        /// HTTP status (200 for errcode-style errors).
        status: u16,
        /// DingTalk's `code` or `errcode`.
        code: String,
        /// DingTalk's `message` or `errmsg`, or the start of a non-JSON body.
        message: String,
    },
    /// No answer within the timeout; the request may have taken effect.
    #[error("{step} timed out")]
    Timeout {
        /// Which call.
        step: Step,
    },
    /// No connection could be made: the request was certainly not delivered.
    #[error("{step} failed: cannot connect: {detail}")]
    Connect {
        /// Which call.
        step: Step,
        /// The transport's reason, with its causes.
        detail: String,
    },
    /// The request failed after it may have been sent, or the answer was unreadable.
    #[error("{step} failed: {detail}")]
    Network {
        /// Which call.
        step: Step,
        /// The transport's reason, with its causes.
        detail: String,
    },
    /// The request was refused before sending: too large.
    #[error("{step} refused: {size} bytes is more than the {max} allowed")]
    TooLarge {
        /// Which call.
        step: Step,
        /// The size.
        size: usize,
        /// The limit.
        max: usize,
    },
    /// The answer was larger than the host reads.
    #[error("{step} failed: the answer is larger than the {max} bytes read")]
    AnswerTooLarge {
        /// Which call.
        step: Step,
        /// The cap.
        max: usize,
    },
    /// A 2xx answer without what the API promises.
    #[error("{step} failed: unexpected answer: {detail}")]
    BadResponse {
        /// Which call.
        step: Step,
        /// What was missing or malformed.
        detail: String,
    },
}

impl Error {
    pub(super) fn from_reqwest(step: Step, e: reqwest::Error) -> Self {
        if e.is_timeout() {
            return Error::Timeout { step };
        }
        // The URL may carry a token; the causes below it (hyper, io) carry none.
        let e = e.without_url();
        let mut detail = e.to_string();
        let mut source = std::error::Error::source(&e);
        while let Some(s) = source {
            detail.push_str(": ");
            detail.push_str(&s.to_string());
            source = s.source();
        }
        if e.is_connect() {
            Error::Connect { step, detail }
        } else {
            Error::Network { step, detail }
        }
    }

    /// Whether DingTalk rejected the access token (new API: HTTP 401, or 400
    /// `InvalidAuthentication`; legacy API: errcode 40014 or 300005).
    pub fn is_invalid_token(&self) -> bool {
        match self {
            Error::Api { status: 401, .. } => true,
            Error::Api { code, .. } => {
                code == "InvalidAuthentication" || code == "40014" || code == "300005"
            }
            _ => false,
        }
    }

    /// Whether the request certainly never reached DingTalk, so repeating it is safe.
    pub fn not_delivered(&self) -> bool {
        matches!(self, Error::Connect { .. })
    }

    /// Whether DingTalk refused the app's credentials (HTTP 401/403 on open).
    pub fn is_auth_failure(&self) -> bool {
        matches!(
            self,
            Error::Api {
                status: 401 | 403,
                ..
            }
        ) || matches!(self, Error::Api { code, .. } if code == "authFailed")
    }
}

/// Largest answer read from a DingTalk API or webhook. DingTalk's JSON answers are a
/// few KiB; the cap keeps a broken or hostile server (or a plugin calling an API that
/// answers with megabytes) from making the host buffer without bound.
pub const MAX_ANSWER_BYTES: usize = 1 << 20;

/// Read `response`'s body, failing once it passes `max` bytes.
pub(super) async fn read_capped(
    step: Step,
    response: reqwest::Response,
    max: usize,
) -> Result<Vec<u8>, Error> {
    use futures_util::StreamExt;
    if response.content_length().is_some_and(|n| n > max as u64) {
        return Err(Error::AnswerTooLarge { step, max });
    }
    // A declared size (at most `max`, checked above) is allocated once, not doubled into.
    let declared = response.content_length().map_or(0, |n| n as usize);
    let mut bytes = Vec::with_capacity(declared);
    let mut stream = response.bytes_stream();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| Error::from_reqwest(step, e))?;
        if bytes.len() + chunk.len() > max {
            return Err(Error::AnswerTooLarge { step, max });
        }
        bytes.extend_from_slice(&chunk);
    }
    Ok(bytes)
}

/// Turn an HTTP answer into its JSON body or a typed error.
pub(super) fn check(step: Step, status: u16, body: &[u8]) -> Result<Value, Error> {
    let json: Option<Value> = serde_json::from_slice(body).ok();
    let text = |v: &Value, k: &str| match v.get(k) {
        Some(Value::String(s)) => Some(s.clone()),
        Some(Value::Number(n)) => Some(n.to_string()),
        _ => None,
    };
    if !(200..300).contains(&status) {
        let (code, message) = match &json {
            Some(v) => (
                text(v, "code")
                    .or_else(|| text(v, "errcode"))
                    .unwrap_or_default(),
                text(v, "message")
                    .or_else(|| text(v, "errmsg"))
                    .unwrap_or_default(),
            ),
            None => (String::new(), snippet(body)),
        };
        return Err(Error::Api {
            step,
            status,
            code,
            message,
        });
    }
    let Some(v) = json else {
        return Err(Error::BadResponse {
            step,
            detail: format!("body is not JSON: {}", snippet(body)),
        });
    };
    match v.get("errcode").and_then(Value::as_i64) {
        Some(0) | None => Ok(v),
        Some(errcode) => Err(Error::Api {
            step,
            status,
            code: errcode.to_string(),
            message: text(&v, "errmsg").unwrap_or_default(),
        }),
    }
}

fn snippet(body: &[u8]) -> String {
    let s = String::from_utf8_lossy(body);
    s.chars().take(200).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn new_api_errors_carry_status_code_and_message() {
        let err = check(
            Step::Open,
            401,
            br#"{"requestid":"r","code":"authFailed","message":"bad"}"#,
        )
        .unwrap_err();
        assert!(err.is_auth_failure());
        let text = err.to_string();
        assert!(text.starts_with("open connection failed"), "{text}");
        assert!(
            text.contains("401") && text.contains("authFailed") && text.contains("bad"),
            "{text}"
        );
    }

    #[test]
    fn legacy_errcode_errors_are_errors_despite_http_200() {
        let err = check(
            Step::Webhook,
            200,
            br#"{"errcode":300001,"errmsg":"expired"}"#,
        )
        .unwrap_err();
        assert!(
            matches!(err, Error::Api { status: 200, ref code, ref message, .. } if code == "300001" && message == "expired")
        );
        assert!(check(Step::Webhook, 200, br#"{"errcode":0,"errmsg":"ok"}"#).is_ok());
    }

    #[tokio::test]
    async fn transport_errors_carry_no_url_or_query() {
        let client = reqwest::Client::new();
        let err = client
            .get("http://127.0.0.1:1/media/upload?access_token=SECRET-TOKEN")
            .send()
            .await
            .unwrap_err();
        let text = Error::from_reqwest(Step::MediaUpload, err).to_string();
        assert!(
            !text.contains("SECRET-TOKEN") && !text.contains("access_token"),
            "{text}"
        );
    }

    #[test]
    fn html_error_pages_are_reported_by_their_start() {
        let err = check(Step::Open, 503, b"<html>Service Unavailable</html>").unwrap_err();
        assert!(
            matches!(err, Error::Api { status: 503, ref message, .. } if message.contains("Service Unavailable"))
        );
        assert!(matches!(
            check(Step::Open, 200, b"<xml/>"),
            Err(Error::BadResponse { .. })
        ));
    }
}
