//! The admin endpoint (`host run --admin 127.0.0.1:9464`): Prometheus metrics,
//! liveness, readiness and a JSON status of every app and plugin.
//!
//! - `GET /healthz`: 200 while the process runs.
//! - `GET /readyz`: 200 when every app has a live connection and every configured
//!   plugin is loaded; 503 with the reasons otherwise.
//! - `GET /metrics`: the Prometheus text format.
//! - `GET /status`: JSON, `{"apps": [...]}` (see [`crate::apps::AppStatus`]).
//!
//! With a token configured, `/metrics` and `/status` need `Authorization: Bearer
//! <token>`; the probes stay open so orchestrators can use them without the secret.
//! Nothing here can change the host: every route is a read.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use tokio_util::sync::CancellationToken;

use crate::apps::Fleet;
use crate::config::Secret;
use crate::metrics::Metrics;

#[derive(Clone)]
struct Admin {
    fleet: Arc<Fleet>,
    metrics: Metrics,
    token: Option<Secret>,
}

/// Serve the admin endpoint on `addr` until `shutdown`; returns the bound address.
pub async fn serve(
    addr: SocketAddr,
    fleet: Arc<Fleet>,
    metrics: Metrics,
    token: Option<Secret>,
    shutdown: CancellationToken,
) -> std::io::Result<SocketAddr> {
    if !addr.ip().is_loopback() && token.is_none() {
        tracing::warn!(%addr, "the admin endpoint listens beyond loopback without a token: anyone who can reach it reads /metrics and /status");
    }
    let listener = tokio::net::TcpListener::bind(addr).await?;
    let bound = listener.local_addr()?;
    let app = Router::new()
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics_text))
        .route("/status", get(status))
        .with_state(Admin {
            fleet,
            metrics,
            token,
        });
    tokio::spawn(async move {
        let served = axum::serve(listener, app)
            .with_graceful_shutdown(shutdown.cancelled_owned())
            .await;
        if let Err(e) = served {
            tracing::error!("the admin endpoint stopped: {e}");
        }
    });
    tracing::info!(addr = %bound, "admin endpoint: /metrics /healthz /readyz /status");
    Ok(bound)
}

/// Compare in time independent of where the texts differ.
fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

impl Admin {
    fn authorized(&self, headers: &HeaderMap) -> bool {
        let Some(token) = &self.token else {
            return true;
        };
        headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .is_some_and(|given| same(given.as_bytes(), token.expose().as_bytes()))
    }
}

fn unauthorized() -> Response {
    (
        StatusCode::UNAUTHORIZED,
        [(header::WWW_AUTHENTICATE, "Bearer")],
        "a bearer token is required\n",
    )
        .into_response()
}

async fn readyz(State(admin): State<Admin>) -> Response {
    match admin.fleet.not_ready().await {
        None => (StatusCode::OK, "ready\n").into_response(),
        Some(reason) => (StatusCode::SERVICE_UNAVAILABLE, format!("{reason}\n")).into_response(),
    }
}

async fn metrics_text(State(admin): State<Admin>, headers: HeaderMap) -> Response {
    if !admin.authorized(&headers) {
        return unauthorized();
    }
    match admin.metrics.render() {
        Some(text) => (
            [(
                header::CONTENT_TYPE,
                "text/plain; version=0.0.4; charset=utf-8",
            )],
            text,
        )
            .into_response(),
        None => (StatusCode::NOT_FOUND, "metrics are off\n").into_response(),
    }
}

async fn status(State(admin): State<Admin>, headers: HeaderMap) -> Response {
    if !admin.authorized(&headers) {
        return unauthorized();
    }
    axum::Json(serde_json::json!({ "apps": admin.fleet.status().await })).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_compare_equal_only_when_identical() {
        assert!(same(b"abc", b"abc"));
        assert!(!same(b"abc", b"abd"));
        assert!(!same(b"abc", b"abcd"));
        assert!(!same(b"", b"a"));
    }
}
