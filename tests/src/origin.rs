//! A web server on loopback for plugins' outbound HTTP: what a granted origin (an LLM
//! API, a ticket system) looks like to the host, with a record of what reached it.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

/// Milliseconds since the Unix epoch (the host's `clock::now-ms` uses the same clock).
pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// What the origin saw.
#[derive(Debug, Default)]
pub struct Seen {
    /// Requests per path.
    pub paths: Mutex<Vec<String>>,
    /// Headers of the last `/auth` request.
    pub auth_headers: Mutex<Option<HeaderMap>>,
    /// When each `/sse` event was written.
    pub sse_sent_at: Mutex<Vec<u64>>,
}

impl Seen {
    /// How many requests reached `path`.
    pub fn hits(&self, path: &str) -> usize {
        self.paths
            .lock()
            .map_or(0, |p| p.iter().filter(|x| *x == path).count())
    }
}

/// The running origin.
pub struct Origin {
    /// Where it listens.
    pub addr: SocketAddr,
    /// What reached it.
    pub seen: Arc<Seen>,
    /// The secret `/auth` expects as `Authorization: Bearer <secret>`.
    secret: String,
}

#[derive(Clone)]
struct Ctx {
    seen: Arc<Seen>,
    secret: String,
    addr: SocketAddr,
}

impl Origin {
    /// Start it; `/auth` answers `auth-ok` only for `Bearer <secret>`.
    pub async fn start(secret: &str) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the origin");
        let addr = listener.local_addr().expect("origin address");
        let seen = Arc::new(Seen::default());
        let ctx = Ctx {
            seen: seen.clone(),
            secret: secret.to_owned(),
            addr,
        };
        let app = Router::new()
            .route("/hello", get(hello))
            .route("/redirect", get(redirect))
            .route("/auth", get(auth))
            .route("/sse", get(sse))
            .route("/slow", get(slow))
            .route("/big", get(big))
            .with_state(ctx);
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Self {
            addr,
            seen,
            secret: secret.to_owned(),
        }
    }

    /// `http://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The secret `/auth` expects.
    pub fn secret(&self) -> &str {
        &self.secret
    }
}

fn record(ctx: &Ctx, path: &str) {
    if let Ok(mut p) = ctx.seen.paths.lock() {
        p.push(path.to_owned());
    }
}

async fn hello(State(ctx): State<Ctx>) -> &'static str {
    record(&ctx, "/hello");
    "hello from the origin"
}

async fn redirect(State(ctx): State<Ctx>) -> Response {
    record(&ctx, "/redirect");
    (
        StatusCode::FOUND,
        [(header::LOCATION, format!("http://{}/hello", ctx.addr))],
    )
        .into_response()
}

async fn auth(State(ctx): State<Ctx>, headers: HeaderMap) -> &'static str {
    record(&ctx, "/auth");
    let ok = headers
        .get(header::AUTHORIZATION)
        .is_some_and(|v| v.as_bytes() == format!("Bearer {}", ctx.secret).as_bytes());
    if let Ok(mut h) = ctx.seen.auth_headers.lock() {
        *h = Some(headers);
    }
    if ok { "auth-ok" } else { "auth-missing" }
}

/// Three events 200 ms apart, as a model server streams tokens.
async fn sse(State(ctx): State<Ctx>) -> Response {
    record(&ctx, "/sse");
    let seen = ctx.seen.clone();
    let events = futures_util::stream::unfold(0u32, move |i| {
        let seen = seen.clone();
        async move {
            if i == 3 {
                return None;
            }
            if i > 0 {
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            if let Ok(mut s) = seen.sse_sent_at.lock() {
                s.push(now_ms());
            }
            let chunk = format!("data: event {i}\n\n");
            Some((Ok::<_, std::convert::Infallible>(chunk), i + 1))
        }
    });
    (
        [(header::CONTENT_TYPE, "text/event-stream")],
        Body::from_stream(events),
    )
        .into_response()
}

async fn slow(State(ctx): State<Ctx>) -> &'static str {
    record(&ctx, "/slow");
    tokio::time::sleep(Duration::from_millis(1500)).await;
    "slow answer"
}

async fn big(State(ctx): State<Ctx>) -> Vec<u8> {
    record(&ctx, "/big");
    vec![b'x'; 2 << 20]
}

/// A listener that only counts the connections made to it (to show a refused
/// request never connected).
pub struct Counter {
    /// Where it listens.
    pub addr: SocketAddr,
    accepted: Arc<AtomicUsize>,
}

impl Counter {
    /// Start it.
    pub async fn start() -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the counter");
        let addr = listener.local_addr().expect("counter address");
        let accepted = Arc::new(AtomicUsize::new(0));
        let count = accepted.clone();
        tokio::spawn(async move {
            while let Ok((socket, _)) = listener.accept().await {
                count.fetch_add(1, Ordering::SeqCst);
                drop(socket);
            }
        });
        Self { addr, accepted }
    }

    /// Connections so far.
    pub fn connections(&self) -> usize {
        self.accepted.load(Ordering::SeqCst)
    }
}

/// A resolver with fixed answers, standing in for DNS (a rebinding attacker's
/// server, a name that points inside the network) so tests need no network.
#[derive(Debug, Default)]
pub struct FixedResolver(pub Vec<(String, Vec<std::net::IpAddr>)>);

impl host::egress::Resolve for FixedResolver {
    fn resolve(
        &self,
        name: &str,
        port: u16,
    ) -> futures_util::future::BoxFuture<'static, std::io::Result<Vec<SocketAddr>>> {
        let answer = self
            .0
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, ips)| ips.iter().map(|ip| SocketAddr::new(*ip, port)).collect());
        Box::pin(async move {
            answer.ok_or_else(|| std::io::Error::new(std::io::ErrorKind::NotFound, "no such name"))
        })
    }
}
