//! The session-webhook POST on hyper's pooled client, without reqwest in between.
//!
//! A chatbot reply is the one HTTP call the host makes per message, so it is the hot
//! one. It keeps every promise of the reqwest client the other calls use
//! ([`super::Http`]): the connect and total timeouts of [`HttpConfig`], the platform's
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

use super::{Error, HttpConfig, MAX_ANSWER_BYTES, Step, check};

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
const AGENT: HeaderValue = HeaderValue::from_static(super::USER_AGENT);

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
        let proxied = PROXY_VARS
            .iter()
            .any(|v| std::env::var_os(v).is_some_and(|s| !s.is_empty()));
        if proxied {
            return Ok(None);
        }
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
        Ok(Some(Self {
            client,
            timeout: config.request_timeout,
        }))
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
