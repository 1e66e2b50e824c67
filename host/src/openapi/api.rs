//! Token-authenticated DingTalk calls, with the one retry that is always safe.
//!
//! A call is repeated once, and only when it certainly had no effect: DingTalk
//! rejected the token (the token is dropped and a fresh one fetched), or no
//! connection could be made. Timeouts and 5xx are never retried here, since the
//! request may have been carried out.

use reqwest::Method;
use serde_json::Value;

use super::token::TokenCache;
use super::{Error, Http, Step};
use crate::config::{Credentials, Endpoints};

/// The DingTalk APIs, authenticated as one app.
#[derive(Debug)]
pub struct OpenApi {
    http: Http,
    endpoints: Endpoints,
    robot_code: String,
    tokens: TokenCache,
}

impl OpenApi {
    /// APIs for the app with `credentials`.
    pub fn new(http: Http, endpoints: Endpoints, credentials: Credentials) -> Self {
        Self {
            tokens: TokenCache::new(http.clone(), &endpoints, credentials.clone()),
            robot_code: credentials.client_id,
            http,
            endpoints,
        }
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
    /// DingTalk rejected it, or if the request never left.
    pub async fn with_token(
        &self,
        step: Step,
        build: impl Fn(&str) -> reqwest::RequestBuilder,
    ) -> Result<Value, Error> {
        let token = self.tokens.get().await?;
        match self.http.send(step, build(&token)).await {
            Err(e) if e.is_invalid_token() => {
                tracing::info!("{e}; fetching a new access token and retrying once");
                self.tokens.invalidate(&token).await;
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
