//! Token-authenticated DingTalk calls, with the one retry that is always safe.
//!
//! A call is repeated once, and only when it certainly had no effect: DingTalk
//! rejected the token (the token is dropped and a fresh one fetched), or no
//! connection could be made. Timeouts and 5xx are never retried here, since the
//! request may have been carried out.

use reqwest::{Method, Url};
use serde_json::Value;

use super::answer::{Error, Step};
use super::client::Http;
use super::token::TokenCache;
use crate::config::{Credentials, Endpoints};
use crate::metrics::AppMetrics;

/// The DingTalk APIs, authenticated as one app.
#[derive(Debug)]
pub struct OpenApi {
    http: Http,
    endpoints: Endpoints,
    openapi_base: Option<Url>,
    robot_code: String,
    tokens: TokenCache,
}

impl OpenApi {
    /// APIs for the app with `credentials`.
    pub fn new(http: Http, endpoints: Endpoints, credentials: Credentials) -> Self {
        Self {
            tokens: TokenCache::new(http.clone(), &endpoints, credentials.clone()),
            robot_code: credentials.client_id,
            openapi_base: Url::parse(&endpoints.openapi).ok(),
            http,
            endpoints,
        }
    }

    /// Count this app's token fetches in `metrics`.
    pub fn with_metrics(mut self, metrics: AppMetrics) -> Self {
        self.tokens = self.tokens.with_metrics(metrics);
        self
    }

    /// The OpenAPI base as a URL; `None` when the configured base does not parse.
    pub fn openapi_base(&self) -> Option<&Url> {
        self.openapi_base.as_ref()
    }

    /// A JSON call to an already resolved `url` (see the openapi capability).
    pub async fn call_url(
        &self,
        step: Step,
        method: Method,
        url: Url,
        body: Option<&Value>,
    ) -> Result<Value, Error> {
        self.with_token(step, |token| {
            let mut request = self.http.client().request(method.clone(), url.clone());
            request = request.header("x-acs-dingtalk-access-token", token);
            if let Some(body) = body {
                request = request.json(body);
            }
            request
        })
        .await
    }

    /// The robot code (the app's client id).
    pub fn robot_code(&self) -> &str {
        &self.robot_code
    }

    /// The shared HTTP client.
    pub fn http(&self) -> &Http {
        &self.http
    }

    /// A JSON call to `path` on the new API.
    pub async fn call(
        &self,
        step: Step,
        method: Method,
        path: &str,
        body: Option<&Value>,
    ) -> Result<Value, Error> {
        let url = self.endpoints.openapi_url(path);
        self.with_token(step, |token| {
            let mut request = self.http.client().request(method.clone(), &url);
            request = request.header("x-acs-dingtalk-access-token", token);
            if let Some(body) = body {
                request = request.json(body);
            }
            request
        })
        .await
    }

    /// Run `build(token)` with a valid token; once more with a fresh token if
    /// DingTalk rejected it (at most one such refetch per
    /// [`super::token::MIN_FORCED_REFETCH`], so answers a plugin provokes cannot make the
    /// host fetch tokens in a loop), or if the request never left.
    pub async fn with_token(
        &self,
        step: Step,
        build: impl Fn(&str) -> reqwest::RequestBuilder,
    ) -> Result<Value, Error> {
        let token = self.tokens.get().await?;
        match self.http.send(step, build(&token)).await {
            Err(e) if e.is_invalid_token() => {
                if !self.tokens.invalidate(&token).await {
                    return Err(e);
                }
                tracing::info!("{e}; fetching a new access token and retrying once");
                let token = self.tokens.get().await?;
                self.http.send(step, build(&token)).await
            }
            Err(e) if e.not_delivered() => self.http.send(step, build(&token)).await,
            other => other,
        }
    }

    /// `base + path` on the legacy API.
    pub fn oapi_url(&self, path: &str) -> String {
        format!("{}{}", self.endpoints.oapi.trim_end_matches('/'), path)
    }
}
