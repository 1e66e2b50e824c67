//! The app's access token: one cached token, refreshed before it expires, fetched by
//! one caller at a time however many ask (single flight).
//!
//! Tokens live in the host only; plugins never see one.

use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};
use tokio::sync::Mutex;
use tokio::time::Instant;

use super::answer::{Error, Step};
use super::client::Http;
use crate::config::{Credentials, Endpoints};
use crate::metrics::AppMetrics;

/// Share of a token's lifetime after which it is refreshed. DingTalk tokens live
/// 7200 s; refreshing at 80% leaves 24 minutes of slack for clock skew and retries.
const REFRESH_AT: f64 = 0.8;

/// Shortest time between two refetches forced by DingTalk rejecting a token: a
/// revoked token is replaced at once, but answers a plugin provokes (a 401 from an
/// API the app may not call) cannot make the host fetch tokens in a loop.
pub const MIN_FORCED_REFETCH: Duration = Duration::from_secs(30);

/// The lifetimes DingTalk may announce are clamped to this range, so a hostile or
/// broken answer (`expireIn: 0` or `2^64-1`) neither refetches per call nor overflows.
const LIFETIME: (u64, u64) = (60, 7 * 24 * 3600);

/// When to refresh a token that DingTalk says lives `expire_in` seconds.
fn refresh_after(expire_in: u64) -> Duration {
    Duration::from_secs(expire_in.clamp(LIFETIME.0, LIFETIME.1)).mul_f64(REFRESH_AT)
}

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
    last_forced: Mutex<Option<Instant>>,
    metrics: AppMetrics,
}

impl TokenCache {
    /// A cache that fetches from `{openapi}/v1.0/oauth2/accessToken`.
    pub fn new(http: Http, endpoints: &Endpoints, credentials: Credentials) -> Self {
        Self {
            http,
            url: endpoints.openapi_url("/v1.0/oauth2/accessToken"),
            credentials,
            cached: Mutex::new(None),
            last_forced: Mutex::new(None),
            metrics: AppMetrics::default(),
        }
    }

    /// Count fetches in `metrics`.
    pub fn with_metrics(mut self, metrics: AppMetrics) -> Self {
        self.metrics = metrics;
        self
    }

    /// A valid token: the cached one, or a fresh one. Concurrent callers wait for a
    /// single fetch instead of each fetching.
    pub async fn get(&self) -> Result<Arc<str>, Error> {
        let mut cached = self.cached.lock().await;
        if let Some(c) = cached.as_ref().filter(|c| Instant::now() < c.refresh_at) {
            return Ok(c.token.clone());
        }
        let (token, refresh_in) = self.fetch().await?;
        *cached = Some(Cached {
            token: token.clone(),
            refresh_at: Instant::now() + refresh_in,
        });
        Ok(token)
    }

    /// Forget `token` after DingTalk rejected it, unless it was already replaced.
    /// Returns whether a retry with a fresh token may go ahead: `false` when the last
    /// forced refetch was less than [`MIN_FORCED_REFETCH`] ago.
    pub async fn invalidate(&self, token: &str) -> bool {
        let mut cached = self.cached.lock().await;
        if cached.as_ref().is_none_or(|c| &*c.token != token) {
            return true;
        }
        let mut last = self.last_forced.lock().await;
        let now = Instant::now();
        if last.is_some_and(|t| now.duration_since(t) < MIN_FORCED_REFETCH) {
            return false;
        }
        *last = Some(now);
        *cached = None;
        true
    }

    /// Fetch a token; returns it and how long until it should be refreshed.
    async fn fetch(&self) -> Result<(Arc<str>, Duration), Error> {
        let body = json!({
            "appKey": self.credentials.client_id,
            "appSecret": self.credentials.client_secret.expose(),
        });
        let answer = self.http.post_json(Step::Token, &self.url, &body).await?;
        self.metrics.token_fetched();
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
        Ok((Arc::from(token), refresh_after(expire_in)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn any_announced_lifetime_gives_a_sane_refresh_time() {
        assert_eq!(refresh_after(7200), Duration::from_secs(5760));
        assert_eq!(refresh_after(0), Duration::from_secs(48));
        let longest = refresh_after(u64::MAX);
        assert!(longest <= Duration::from_secs(7 * 24 * 3600));
        assert!(tokio::time::Instant::now().checked_add(longest).is_some());
    }
}
