//! The session-webhook POST on hyper's pooled client, without reqwest in between.
//!
//! A chatbot reply is the one HTTP call the host makes per message, so it is the hot
//! one. It keeps every promise of the reqwest client the other calls use
//! ([`super::client::Http`]): the connect and total timeouts of [`HttpConfig`], the platform's
//! TLS roots (the same verifier reqwest uses), redirects answered rather than
//! followed, answers read under [`MAX_ANSWER_BYTES`], errors typed by step and free of
//! URLs. What it drops is per-request work: no request builder, no middleware stack,
//! and no URL parse (the webhook's URI is parsed once, when its frame is scoped).
//!
//! reqwest honours proxy variables (`HTTPS_PROXY` and friends); this client does not,
//! so [`Direct::unless_proxied`] declines to exist when one is set and webhooks then
//! go through reqwest like every other call.

use std::sync::Arc;

use bytes::Bytes;
use http::header::{ACCEPT, CONTENT_TYPE, HeaderValue, USER_AGENT};
use http_body_util::{BodyExt, Full, Limited};
use hyper_rustls::{HttpsConnector, HttpsConnectorBuilder};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioTimer};
use rustls_platform_verifier::BuilderVerifierExt;
use serde_json::Value;

use super::answer::{Error, MAX_ANSWER_BYTES, Step, check};
use super::timeouts::{self, HttpConfig};

/// Environment variables that send reqwest's requests through a proxy.
const PROXY_VARS: [&str; 6] = [
    "HTTPS_PROXY",
    "https_proxy",
    "HTTP_PROXY",
    "http_proxy",
    "ALL_PROXY",
    "all_proxy",
];

/// How long an idle pooled connection is kept (reqwest's default).
const POOL_IDLE: std::time::Duration = std::time::Duration::from_secs(90);

const JSON: HeaderValue = HeaderValue::from_static("application/json");
const AGENT: HeaderValue = HeaderValue::from_static(timeouts::USER_AGENT);

/// A pooled HTTP/1.1 client for session-webhook POSTs.
#[derive(Clone, Debug)]
pub(crate) struct Direct {
    client: Client<HttpsConnector<HttpConnector>, Full<Bytes>>,
    timeout: std::time::Duration,
}

impl Direct {
    /// The client, unless the environment configures a proxy (then `None`: reqwest,
    /// which honours it, carries the webhooks too).
    pub(crate) fn unless_proxied(config: &HttpConfig) -> Result<Option<Self>, rustls::Error> {
        if proxied(|v| std::env::var_os(v)) {
            return Ok(None);
        }
        Self::new(config).map(Some)
    }

    fn new(config: &HttpConfig) -> Result<Self, rustls::Error> {
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let tls = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()?
            .with_platform_verifier()?
            .with_no_client_auth();
        let mut http = HttpConnector::new();
        http.set_connect_timeout(Some(config.connect_timeout));
        http.set_nodelay(true);
        // The connector below decides between TLS and plain by the scheme.
        http.enforce_http(false);
        let connector = HttpsConnectorBuilder::new()
            .with_tls_config(tls)
            .https_or_http()
            .enable_http1()
            .wrap_connector(http);
        let client = Client::builder(TokioExecutor::new())
            .pool_timer(TokioTimer::new())
            .pool_idle_timeout(POOL_IDLE)
            .build(connector);
        Ok(Self {
            client,
            timeout: config.request_timeout,
        })
    }

    /// POST `body` (JSON) to `uri` and check the answer in both error styles.
    pub(crate) async fn post_json(
        &self,
        step: Step,
        uri: &http::Uri,
        body: Vec<u8>,
    ) -> Result<Value, Error> {
        let mut request = http::Request::new(Full::new(Bytes::from(body)));
        *request.method_mut() = http::Method::POST;
        *request.uri_mut() = uri.clone();
        let headers = request.headers_mut();
        headers.insert(CONTENT_TYPE, JSON);
        headers.insert(ACCEPT, JSON);
        headers.insert(USER_AGENT, AGENT);
        let call = async {
            let response = self
                .client
                .request(request)
                .await
                .map_err(|e| transport(step, e.is_connect(), &e))?;
            let status = response.status().as_u16();
            let declared = http_body::Body::size_hint(response.body()).lower();
            if declared > MAX_ANSWER_BYTES as u64 {
                return Err(Error::AnswerTooLarge {
                    step,
                    max: MAX_ANSWER_BYTES,
                });
            }
            let body = Limited::new(response.into_body(), MAX_ANSWER_BYTES)
                .collect()
                .await
                .map_err(|e| {
                    if e.is::<http_body_util::LengthLimitError>() {
                        Error::AnswerTooLarge {
                            step,
                            max: MAX_ANSWER_BYTES,
                        }
                    } else {
                        transport(step, false, e.as_ref())
                    }
                })?
                .to_bytes();
            check(step, status, &body)
        };
        tokio::time::timeout(self.timeout, call)
            .await
            .unwrap_or(Err(Error::Timeout { step }))
    }
}

/// Whether `var` names a proxy reqwest would use.
fn proxied(var: impl Fn(&str) -> Option<std::ffi::OsString>) -> bool {
    PROXY_VARS
        .iter()
        .any(|v| var(v).is_some_and(|s| !s.is_empty()))
}

/// A transport failure with its causes. hyper's errors carry no URL.
fn transport(step: Step, connect: bool, e: &(dyn std::error::Error + 'static)) -> Error {
    let mut detail = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        detail.push_str(": ");
        detail.push_str(&s.to_string());
        source = s.source();
    }
    if connect {
        Error::Connect { step, detail }
    } else {
        Error::Network { step, detail }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;

    use super::*;

    /// A loopback server answering every connection's first request with `answer`
    /// (or never, when it is empty); the URI to POST to.
    async fn server(answer: &'static [u8]) -> http::Uri {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            while let Ok((mut socket, _)) = listener.accept().await {
                tokio::spawn(async move {
                    let mut buf = vec![0; 4096];
                    let _ = socket.read(&mut buf).await;
                    if answer.is_empty() {
                        tokio::time::sleep(Duration::from_secs(30)).await;
                    }
                    let _ = socket.write_all(answer).await;
                });
            }
        });
        format!("http://{addr}/robot/sendBySession?session=secret-session")
            .parse()
            .unwrap()
    }

    /// POST an empty JSON object to `uri`.
    async fn post(direct: &Direct, uri: &http::Uri) -> Result<Value, Error> {
        direct.post_json(Step::Webhook, uri, b"{}".to_vec()).await
    }

    fn client(timeout: Duration) -> Direct {
        Direct::new(&HttpConfig {
            connect_timeout: timeout,
            request_timeout: timeout,
        })
        .unwrap()
    }

    #[test]
    fn a_proxy_in_the_environment_leaves_webhooks_to_reqwest() {
        assert!(proxied(
            |v| (v == "https_proxy").then(|| "http://p:3128".into())
        ));
        assert!(!proxied(|v| (v == "HTTPS_PROXY").then(|| "".into())));
        assert!(!proxied(|_| None));
    }

    #[tokio::test]
    async fn an_ok_answer_is_its_json_and_an_errcode_is_an_error() {
        let direct = client(Duration::from_secs(5));
        let ok = server(
            b"HTTP/1.1 200 OK\r\ncontent-length: 27\r\n\r\n{\"errcode\":0,\"errmsg\":\"ok\"}",
        )
        .await;
        let answer = post(&direct, &ok).await.unwrap();
        assert_eq!(answer["errmsg"], "ok");
        let expired = server(b"HTTP/1.1 200 OK\r\ncontent-length: 37\r\n\r\n{\"errcode\":300001,\"errmsg\":\"expired\"}").await;
        let err = post(&direct, &expired).await.unwrap_err();
        assert!(
            matches!(err, Error::Api { ref code, .. } if code == "300001"),
            "{err}"
        );
    }

    #[tokio::test]
    async fn a_redirect_is_reported_not_followed() {
        let direct = client(Duration::from_secs(5));
        let uri = server(
            b"HTTP/1.1 302 Found\r\nlocation: http://169.254.169.254/\r\ncontent-length: 0\r\n\r\n",
        )
        .await;
        let err = post(&direct, &uri).await.unwrap_err();
        assert!(matches!(err, Error::Api { status: 302, .. }), "{err}");
    }

    #[tokio::test]
    async fn an_endless_answer_is_cut_at_the_cap() {
        let direct = client(Duration::from_secs(5));
        let declared = server(b"HTTP/1.1 200 OK\r\ncontent-length: 999999999\r\n\r\n{").await;
        let err = post(&direct, &declared).await.unwrap_err();
        assert!(matches!(err, Error::AnswerTooLarge { .. }), "{err}");
        // Undeclared: a body that keeps coming until the connection closes.
        let mut endless = b"HTTP/1.1 200 OK\r\nconnection: close\r\n\r\n".to_vec();
        endless.resize(endless.len() + MAX_ANSWER_BYTES + 10, b' ');
        let streamed = server(endless.leak()).await;
        let err = post(&direct, &streamed).await.unwrap_err();
        assert!(matches!(err, Error::AnswerTooLarge { .. }), "{err}");
    }

    #[tokio::test]
    async fn a_silent_server_times_out_and_no_error_names_the_url() {
        let direct = client(Duration::from_millis(300));
        let uri = server(b"").await;
        let err = post(&direct, &uri).await.unwrap_err();
        assert!(matches!(err, Error::Timeout { .. }), "{err}");
        let refused: http::Uri = "http://127.0.0.1:1/robot/sendBySession?session=secret-session"
            .parse()
            .unwrap();
        let err = post(&direct, &refused).await.unwrap_err();
        assert!(matches!(err, Error::Connect { .. }), "{err}");
        assert!(!err.to_string().contains("secret-session"), "{err}");
    }
}
