//! The app's access token: one cached token, refreshed before it expires, fetched by
//! one caller at a time however many ask (single flight).
//!
//! Tokens live in the host only; plugins never see one.

use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};
use tokio::sync::Mutex;
use tokio::time::Instant;

use super::{Error, Http, Step};
use crate::config::{Credentials, Endpoints};

/// Share of a token's lifetime after which it is refreshed. DingTalk tokens live
/// 7200 s; refreshing at 80% leaves 24 minutes of slack for clock skew and retries.
const REFRESH_AT: f64 = 0.8;

#[derive(Debug)]
struct Cached {
    token: Arc<str>,
    refresh_at: Instant,
}

/// One app's access token.
#[derive(Debug)]
pub struct TokenCache {
    http: Http,
    url: String,
    credentials: Credentials,
    cached: Mutex<Option<Cached>>,
}

impl TokenCache {
    /// A cache that fetches from `{openapi}/v1.0/oauth2/accessToken`.
    pub fn new(http: Http, endpoints: &Endpoints, credentials: Credentials) -> Self {
        Self {
            http,
            url: endpoints.openapi_url("/v1.0/oauth2/accessToken"),
            credentials,
            cached: Mutex::new(None),
        }
    }

    /// A valid token: the cached one, or a fresh one. Concurrent callers wait for a
    /// single fetch instead of each fetching.
    pub async fn get(&self) -> Result<Arc<str>, Error> {
        let mut cached = self.cached.lock().await;
        if let Some(c) = cached.as_ref().filter(|c| Instant::now() < c.refresh_at) {
            return Ok(c.token.clone());
        }
        let (token, lifetime) = self.fetch().await?;
        *cached = Some(Cached {
            token: token.clone(),
            refresh_at: Instant::now() + lifetime.mul_f64(REFRESH_AT),
        });
        Ok(token)
    }

    /// Forget `token` after DingTalk rejected it (unless it was already replaced).
    pub async fn invalidate(&self, token: &str) {
        let mut cached = self.cached.lock().await;
        if cached.as_ref().is_some_and(|c| &*c.token == token) {
            *cached = None;
        }
    }

    async fn fetch(&self) -> Result<(Arc<str>, Duration), Error> {
        let body = json!({
            "appKey": self.credentials.client_id,
            "appSecret": self.credentials.client_secret.expose(),
        });
        let answer = self.http.post_json(Step::Token, &self.url, &body).await?;
        let token = answer
            .get("accessToken")
            .and_then(Value::as_str)
            .filter(|t| !t.is_empty())
            .ok_or_else(|| Error::BadResponse {
                step: Step::Token,
                detail: "no accessToken in the answer".into(),
            })?;
        let expire_in = answer
            .get("expireIn")
            .and_then(Value::as_u64)
            .unwrap_or(7200);
        tracing::debug!(expire_in, "fetched an access token");
        Ok((Arc::from(token), Duration::from_secs(expire_in)))
    }
}
