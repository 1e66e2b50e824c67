//! The shared DingTalk HTTP clients and their timeouts.

use serde_json::Value;

use super::answer::{Error, MAX_ANSWER_BYTES, Step, check, read_capped};
use super::direct;
use super::timeouts::{HttpConfig, USER_AGENT};

/// Why the HTTP client could not be built.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// reqwest's client.
    #[error("HTTP client: {0}")]
    Reqwest(#[from] reqwest::Error),
    /// The TLS configuration of the webhook client.
    #[error("HTTP client TLS set-up: {0}")]
    Tls(#[from] rustls::Error),
}

/// The shared HTTP clients (connection pooling across all plugins and calls).
#[derive(Debug, Clone)]
pub struct Http {
    client: reqwest::Client,
    /// Session-webhook replies, unless a proxy is configured (then `client`).
    webhooks: Option<direct::Direct>,
}

impl Http {
    /// A client with `config`'s timeouts.
    pub fn new(config: &HttpConfig) -> Result<Self, ClientError> {
        let client = reqwest::Client::builder()
            .connect_timeout(config.connect_timeout)
            .timeout(config.request_timeout)
            .user_agent(USER_AGENT)
            // DingTalk's APIs and webhooks answer directly; a redirect is an answer
            // to report, not to follow with a token attached.
            .redirect(reqwest::redirect::Policy::none())
            .build()?;
        Ok(Self {
            client,
            webhooks: direct::Direct::unless_proxied(config)?,
        })
    }

    /// POST `body` (JSON text) to the session webhook `uri`.
    pub(crate) async fn post_webhook(
        &self,
        uri: &http::Uri,
        body: Vec<u8>,
    ) -> Result<Value, Error> {
        match &self.webhooks {
            Some(direct) => direct.post_json(Step::Webhook, uri, body).await,
            None => {
                let request = self
                    .client
                    .post(uri.to_string())
                    .header(reqwest::header::CONTENT_TYPE, "application/json")
                    .body(body);
                self.send(Step::Webhook, request).await
            }
        }
    }

    /// The underlying client, for requests this module has no helper for.
    pub fn client(&self) -> &reqwest::Client {
        &self.client
    }

    /// POST `body` as JSON to `url`, and return the JSON answer after checking both
    /// error styles.
    pub async fn post_json(&self, step: Step, url: &str, body: &Value) -> Result<Value, Error> {
        self.send(step, self.client.post(url).json(body)).await
    }

    /// Send `request` (asking for JSON) and check the answer in both error styles.
    pub async fn send(&self, step: Step, request: reqwest::RequestBuilder) -> Result<Value, Error> {
        let response = request
            .header(reqwest::header::ACCEPT, "application/json")
            .send()
            .await
            .map_err(|e| Error::from_reqwest(step, e))?;
        let status = response.status().as_u16();
        let bytes = read_capped(step, response, MAX_ANSWER_BYTES).await?;
        check(step, status, &bytes)
    }
}
