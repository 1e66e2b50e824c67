//! Stand-in origins: what a test says a granted origin answers, served from one
//! loopback server per test that the host's egress sends every non-loopback
//! origin to ([`crate::egress::Egress::with_stand_in`]).
//!
//! Invariants: nothing a plugin asks for leaves the machine; every request is
//! recorded (bounded: the first [`MAX_RECORDED`], bodies cut at [`MAX_BODY`]); one
//! that no route answers gets a 502 naming it and fails the test, so a plugin that
//! calls something its author did not expect is caught, not silently answered.

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use futures_util::StreamExt as _;
use serde::Deserialize;
use tokio_util::sync::CancellationToken;

use crate::egress::origin::{Host, Origin};

/// Requests one test records; later ones are still answered.
const MAX_RECORDED: usize = 1000;
/// Bytes of a request body kept for `body_contains`.
const MAX_BODY: usize = 64 << 10;
/// Bytes of a request body read at all.
const READ_LIMIT: usize = 16 << 20;

/// One origin as a test file declares it (`[[origin]]`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct StandIn {
    /// `scheme://host[:port]`, as the plugin's grant names it.
    url: String,
    #[serde(default)]
    routes: Vec<Route>,
}

/// What one method and path answer.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct Route {
    /// Any method when absent.
    #[serde(default)]
    method: Option<String>,
    /// The path; with a `?`, the query must match too.
    path: String,
    #[serde(default = "ok")]
    status: u16,
    #[serde(default)]
    headers: BTreeMap<String, String>,
    #[serde(default)]
    body: Option<String>,
    /// A JSON body (sets `content-type: application/json`).
    #[serde(default)]
    json: Option<toml::Value>,
    /// A server-sent-events body, each event after its delay.
    #[serde(default)]
    sse: Option<Vec<SseEvent>>,
    /// Before the response head.
    #[serde(default)]
    delay_ms: u64,
}

fn ok() -> u16 {
    200
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct SseEvent {
    data: String,
    #[serde(default)]
    event: Option<String>,
    #[serde(default)]
    delay_ms: u64,
}

impl StandIn {
    /// Whether it is well formed: an origin without a path, routes with one body
    /// each, a valid status and headers.
    pub(super) fn check(&self) -> Result<(), String> {
        let origin = self.origin()?;
        if matches!(&origin.host, Host::Ip(ip) if ip.is_loopback()) {
            return Err(format!(
                "origin {}: a loopback origin is reached as it is, never stood in for",
                self.url
            ));
        }
        for r in &self.routes {
            let at = || format!("origin {} route {}", self.url, r.path);
            if !r.path.starts_with('/') {
                return Err(format!("{}: a path starts with /", at()));
            }
            let bodies = [r.body.is_some(), r.json.is_some(), r.sse.is_some()];
            if bodies.iter().filter(|b| **b).count() > 1 {
                return Err(format!("{}: one of body, json and sse", at()));
            }
            StatusCode::from_u16(r.status).map_err(|e| format!("{}: status: {e}", at()))?;
            for (k, v) in &r.headers {
                HeaderName::try_from(k.as_str())
                    .map_err(|e| format!("{}: header {k:?}: {e}", at()))?;
                HeaderValue::try_from(v.as_str())
                    .map_err(|e| format!("{}: header {k:?}: {e}", at()))?;
            }
        }
        Ok(())
    }

    fn origin(&self) -> Result<Origin, String> {
        let uri: http::Uri = self
            .url
            .parse()
            .map_err(|e| format!("origin {:?}: {e}", self.url))?;
        if uri.path_and_query().is_some_and(|p| p.as_str() != "/") {
            return Err(format!(
                "origin {:?}: an origin is scheme://host[:port], without a path",
                self.url
            ));
        }
        Origin::of(&uri).ok_or_else(|| format!("origin {:?}: not an http(s) origin", self.url))
    }

    /// Whether a request whose `Host` header is `host` was sent to this origin.
    fn serves(&self, host: &str) -> bool {
        let Ok(origin) = self.origin() else {
            return false;
        };
        let Ok(authority) = host.parse::<http::uri::Authority>() else {
            return false;
        };
        let name = authority.host().trim_end_matches('.').to_ascii_lowercase();
        let port = authority.port_u16();
        origin.host.to_string() == name
            && port.unwrap_or(origin.scheme.default_port()) == origin.port
    }
}

/// One request a plugin made.
#[derive(Debug, Clone)]
pub(crate) struct Recorded {
    /// `METHOD URL`, the URL under the stand-in's origin as the test wrote it
    /// (`//host/path` when no stand-in is declared for its host).
    pub(crate) line: String,
    /// The body, cut at [`MAX_BODY`] (lossy UTF-8).
    pub body: String,
    /// Whether a route answered it.
    pub answered: bool,
}

impl Recorded {
    /// Whether it is the request `expected` names (`METHOD URL`; the query is
    /// compared only when `expected` has one).
    pub(super) fn is(&self, expected: &str) -> bool {
        if expected.contains('?') {
            return self.line == expected;
        }
        self.line.split('?').next() == Some(expected)
    }
}

/// A running stand-in server.
pub(crate) struct Server {
    addr: SocketAddr,
    recorded: Arc<Mutex<Vec<Recorded>>>,
    stop: CancellationToken,
}

impl Server {
    /// Serve `origins` on a free loopback port until dropped.
    pub(super) async fn start(origins: Vec<StandIn>) -> anyhow::Result<Server> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let recorded = Arc::new(Mutex::new(Vec::new()));
        let app = axum::Router::new()
            .fallback(answer)
            .with_state(Arc::new(Shared {
                origins,
                recorded: recorded.clone(),
            }));
        let stop = CancellationToken::new();
        let until = stop.clone().cancelled_owned();
        tokio::spawn(async move {
            let _ = axum::serve(listener, app)
                .with_graceful_shutdown(until)
                .await;
        });
        Ok(Server {
            addr,
            recorded,
            stop,
        })
    }

    pub(super) fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Every request so far, in arrival order.
    pub(crate) fn recorded(&self) -> Vec<Recorded> {
        self.recorded.lock().map(|r| r.clone()).unwrap_or_default()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

struct Shared {
    origins: Vec<StandIn>,
    recorded: Arc<Mutex<Vec<Recorded>>>,
}

async fn answer(State(shared): State<Arc<Shared>>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let host = parts
        .headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let path = parts
        .uri
        .path_and_query()
        .map_or("/", |p| p.as_str())
        .to_owned();
    let method = parts.method.as_str().to_owned();
    let body = axum::body::to_bytes(body, READ_LIMIT)
        .await
        .unwrap_or_default();
    let origin = shared.origins.iter().find(|o| o.serves(&host));
    let route = origin.and_then(|o| {
        o.routes.iter().find(|r| {
            r.method
                .as_ref()
                .is_none_or(|m| m.eq_ignore_ascii_case(&method))
                && if r.path.contains('?') {
                    r.path == path
                } else {
                    path.split('?').next() == Some(r.path.as_str())
                }
        })
    });
    let url = match origin {
        Some(o) => format!("{}{path}", o.url.trim_end_matches('/')),
        None => format!("//{host}{path}"),
    };
    let line = format!("{method} {url}");
    if let Ok(mut recorded) = shared.recorded.lock()
        && recorded.len() < MAX_RECORDED
    {
        let kept = &body[..body.len().min(MAX_BODY)];
        recorded.push(Recorded {
            line: line.clone(),
            body: String::from_utf8_lossy(kept).into_owned(),
            answered: route.is_some(),
        });
    }
    match route {
        Some(route) => respond(route).await,
        None => (
            StatusCode::BAD_GATEWAY,
            format!("host test: no stand-in route answers {line}"),
        )
            .into_response(),
    }
}

async fn respond(route: &Route) -> Response {
    if route.delay_ms > 0 {
        tokio::time::sleep(Duration::from_millis(route.delay_ms)).await;
    }
    let mut headers = HeaderMap::new();
    let body = if let Some(events) = &route.sse {
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/event-stream"),
        );
        let events = events.clone();
        Body::from_stream(futures_util::stream::iter(events).then(|e| async move {
            if e.delay_ms > 0 {
                tokio::time::sleep(Duration::from_millis(e.delay_ms)).await;
            }
            let mut text = String::new();
            if let Some(name) = &e.event {
                text += &format!("event: {name}\n");
            }
            for line in e.data.split('\n') {
                text += &format!("data: {line}\n");
            }
            text += "\n";
            Ok::<_, Infallible>(Bytes::from(text))
        }))
    } else if let Some(json) = &route.json {
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        Body::from(serde_json::to_string(json).unwrap_or_default())
    } else {
        Body::from(route.body.clone().unwrap_or_default())
    };
    // Checked when the file was read.
    for (k, v) in &route.headers {
        if let (Ok(k), Ok(v)) = (
            HeaderName::try_from(k.as_str()),
            HeaderValue::try_from(v.as_str()),
        ) {
            headers.insert(k, v);
        }
    }
    let status = StatusCode::from_u16(route.status).unwrap_or(StatusCode::OK);
    (status, headers, body).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stand_in(s: &str) -> StandIn {
        toml::from_str(s).unwrap()
    }

    #[test]
    fn an_origin_is_matched_by_host_and_port_as_the_host_header_names_them() {
        let o = stand_in("url = \"https://API.example.com\"");
        assert!(o.check().is_ok());
        assert!(o.serves("api.example.com"));
        assert!(o.serves("api.example.com:443"));
        assert!(o.serves("api.example.com."));
        assert!(!o.serves("api.example.com:8443"));
        assert!(!o.serves("evil.example.com"));
        let o = stand_in("url = \"http://a.example:8080\"");
        assert!(o.serves("a.example:8080") && !o.serves("a.example"));
    }

    #[test]
    fn a_malformed_stand_in_is_refused_naming_why() {
        let err = |s: &str| stand_in(s).check().unwrap_err();
        assert!(err("url = \"https://a.example/v1\"").contains("without a path"));
        assert!(err("url = \"ftp://a.example\"").contains("not an http(s) origin"));
        assert!(err("url = \"http://127.0.0.1:9\"").contains("loopback"));
        assert!(
            err("url = \"https://a.example\"\nroutes = [{ path = \"x\" }]")
                .contains("starts with /")
        );
        assert!(
            err("url = \"https://a.example\"\nroutes = [{ path = \"/\", body = \"a\", json = 1 }]")
                .contains("one of body")
        );
        assert!(
            err("url = \"https://a.example\"\nroutes = [{ path = \"/\", status = 1000 }]")
                .contains("status")
        );
        assert!(
            err("url = \"https://a.example\"\nroutes = [{ path = \"/\", headers = { \"a b\" = \"c\" } }]")
                .contains("header")
        );
    }

    #[test]
    fn a_request_matches_with_or_without_its_query() {
        let r = Recorded {
            line: "GET https://a.example/w?city=x".into(),
            body: String::new(),
            answered: true,
        };
        assert!(r.is("GET https://a.example/w"));
        assert!(r.is("GET https://a.example/w?city=x"));
        assert!(!r.is("GET https://a.example/w?city=y"));
        assert!(!r.is("POST https://a.example/w"));
    }
}
