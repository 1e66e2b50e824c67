//! `host dev --web`: the chat page for plugin authors, served from this binary.
//!
//! The page (`web/`, embedded) talks to three endpoints: `GET /events`, a stream of
//! server-sent events with everything that happens (the user's messages, frames and
//! their ACKs, the bot's replies and card calls as the simulator received them,
//! rebuilds and reloads), `POST /send` (a message as a DingTalk user) and
//! `POST /callback` (a card button pressed). Invariants: the server binds loopback
//! only, and answers only requests whose `Host` is a loopback name with its own port
//! (403 otherwise), so a page elsewhere that rebinds its own name to 127.0.0.1 cannot
//! read the events or send as the developer (DNS rebinding); every event has a
//! sequence number, and a reconnecting page gets exactly the events after the last
//! one it saw (`Last-Event-ID`); markdown reaches the page only
//! as HTML rendered by pulldown-cmark and cleaned by ammonia, everything else is set as
//! text by the page.

use std::collections::HashMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::State;
use axum::http::{HeaderMap, header};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{Html, IntoResponse};
use axum::routing::{get, post};
use axum::{Json, Router};
use futures_util::Stream;
use serde::Deserialize;
use serde_json::{Value, json};
use sim::{MessageSpec, Sim};
use tokio::sync::broadcast;

use crate::stream::topic::CARD_CALLBACK;

const INDEX: &str = include_str!("web/index.html");
const APP_JS: &str = include_str!("web/app.js");
const APP_CSS: &str = include_str!("web/app.css");

/// Events kept for a page that connects (or reconnects) later.
const HISTORY: usize = 5000;

/// What the page sees and does.
pub(super) struct Web {
    sim: Arc<Sim>,
    events: broadcast::Sender<(u64, Arc<str>)>,
    state: Mutex<Published>,
    /// Held while a message is pushed and its session noted, and while replies are
    /// read: a reply is never seen before its session's chat (1:1 or group) is known.
    pushing: tokio::sync::Mutex<()>,
}

#[derive(Default)]
struct Published {
    seq: u64,
    history: std::collections::VecDeque<(u64, Arc<str>)>,
    /// Session webhook id -> the group title (or none for 1:1) of its message.
    sessions: HashMap<String, Option<String>>,
    /// Callback frame id -> the card whose button was pressed (its ACK carries the
    /// answer to show on that card).
    callbacks: HashMap<String, String>,
}

/// Refuse anything but a loopback address: the page drives plugins with no login.
pub(super) fn check_addr(addr: SocketAddr) -> anyhow::Result<SocketAddr> {
    if !addr.ip().is_loopback() {
        anyhow::bail!("--web serves only on a loopback address (127.0.0.1 or [::1]), not {addr}");
    }
    Ok(addr)
}

/// Whether a request's `Host` names this server by a loopback name and its `port`.
fn host_allowed(host: Option<&str>, port: u16) -> bool {
    let Some(host) = host else { return false };
    let (name, given) = match host.rsplit_once(':') {
        Some((name, p)) if !p.contains(']') => (name, p.parse::<u16>().ok()),
        _ => (host, Some(80)),
    };
    given == Some(port)
        && (name == "127.0.0.1" || name == "[::1]" || name.eq_ignore_ascii_case("localhost"))
}

impl Web {
    pub(super) fn new(sim: Arc<Sim>) -> Arc<Self> {
        Arc::new(Self {
            sim,
            events: broadcast::channel(1024).0,
            state: Mutex::new(Published::default()),
            pushing: tokio::sync::Mutex::new(()),
        })
    }

    /// Send `event` (a JSON object with a `type`) to every page, and keep it.
    pub(super) fn publish(&self, mut event: Value) {
        let Ok(mut state) = self.state.lock() else {
            return;
        };
        state.seq += 1;
        let seq = state.seq;
        event["seq"] = json!(seq);
        let text: Arc<str> = event.to_string().into();
        state.history.push_back((seq, text.clone()));
        if state.history.len() > HISTORY {
            state.history.pop_front();
        }
        // No page listening is fine: the history has it.
        let _ = self.events.send((seq, text));
    }

    /// Serve the page on `listener` until the task is dropped.
    pub(super) async fn serve(self: Arc<Self>, listener: tokio::net::TcpListener) {
        let port = listener.local_addr().map_or(0, |a| a.port());
        let app = Router::new()
            .route("/", get(|| async { Html(INDEX) }))
            .route(
                "/app.js",
                get(|| async {
                    (
                        [(header::CONTENT_TYPE, "text/javascript; charset=utf-8")],
                        APP_JS,
                    )
                }),
            )
            .route(
                "/app.css",
                get(|| async { ([(header::CONTENT_TYPE, "text/css; charset=utf-8")], APP_CSS) }),
            )
            .route("/events", get(events))
            .route("/send", post(send))
            .route("/callback", post(callback))
            .with_state(self)
            .layer(axum::middleware::from_fn(
                move |request: axum::extract::Request, next: axum::middleware::Next| async move {
                    let host = request
                        .headers()
                        .get(header::HOST)
                        .and_then(|h| h.to_str().ok());
                    if host_allowed(host, port) {
                        next.run(request).await
                    } else {
                        (
                            axum::http::StatusCode::FORBIDDEN,
                            "the dev chat answers only requests for 127.0.0.1, localhost or [::1]",
                        )
                            .into_response()
                    }
                },
            ));
        let _ = axum::serve(listener, app).await;
    }

    /// Turn what the simulator records (replies, ACKs, card calls) into events, as it
    /// happens, until the task is dropped.
    pub(super) async fn watch(self: Arc<Self>) {
        let (mut replies, mut acks, mut cards) = (0, 0, 0);
        loop {
            self.sim.changed(Duration::from_millis(200)).await;
            let gate = self.pushing.lock().await;
            let new_replies = self.sim.replies_since(replies);
            let new_acks = self.sim.acks_since(acks);
            drop(gate);
            for reply in new_replies {
                replies += 1;
                let group = self.group_of(&reply.session);
                let html = reply_markdown(&reply.body).map(|md| markdown(&md));
                self.publish(
                    json!({"type": "reply", "session": reply.session, "group": group,
                    "body": reply.body, "html": html}),
                );
            }
            for ack in new_acks {
                acks += 1;
                if ack.opaque_ok.is_some() {
                    continue; // pings
                }
                let card = self
                    .state
                    .lock()
                    .ok()
                    .and_then(|mut s| s.callbacks.remove(&ack.message_id));
                self.publish(json!({"type": "ack", "messageId": ack.message_id,
                    "code": ack.code, "message": ack.message, "data": ack.data, "cardId": card,
                    "latencyMs": ack.latency.map(|l| l.as_secs_f64() * 1000.0)}));
            }
            let all = self.sim.cards();
            for card in all.iter().skip(cards) {
                self.publish(card_event(card));
            }
            cards = all.len();
        }
    }

    /// Publish the host's log lines from `sink` until the task is dropped.
    pub(super) async fn forward_logs(self: Arc<Self>, sink: LogSink) {
        let mut logs = sink.0.subscribe();
        loop {
            match logs.recv().await {
                Ok(event) => self.publish(event),
                Err(broadcast::error::RecvError::Lagged(n)) => self.publish(
                    json!({"type": "log", "level": "warn", "text": format!("{n} log lines dropped (too many at once)")}),
                ),
                Err(broadcast::error::RecvError::Closed) => return,
            }
        }
    }

    fn group_of(&self, session: &str) -> Option<String> {
        self.state
            .lock()
            .ok()
            .and_then(|s| s.sessions.get(session).cloned())
            .flatten()
    }
}

/// The markdown of a reply that has some (markdown messages, action cards).
fn reply_markdown(body: &Value) -> Option<String> {
    let text = match body["msgtype"].as_str()? {
        "markdown" => &body["markdown"]["text"],
        "actionCard" => &body["actionCard"]["text"],
        _ => return None,
    };
    text.as_str().map(str::to_owned)
}

/// A card call as an event: StandardCards with their markdown contents rendered,
/// streamed AI card text rendered.
fn card_event(card: &sim::CardRecord) -> Value {
    let html: Value = if card.action == "instance.stream" {
        card.card["content"].as_str().map(markdown).into()
    } else {
        let rendered: serde_json::Map<String, Value> = card.card["contents"]
            .as_array()
            .into_iter()
            .flatten()
            .enumerate()
            .filter(|(_, c)| c["type"] == "markdown")
            .map(|(i, c)| {
                (
                    i.to_string(),
                    markdown(c["text"].as_str().unwrap_or_default()).into(),
                )
            })
            .collect();
        rendered.into()
    };
    json!({"type": "card", "action": card.action, "bizId": card.biz_id, "card": card.card,
        "receiver": card.receiver, "html": html})
}

/// Markdown as HTML safe to insert: rendered by pulldown-cmark, then cleaned by
/// ammonia (no scripts, handlers or styles; links open elsewhere without a referrer).
pub(super) fn markdown(text: &str) -> String {
    let parser = pulldown_cmark::Parser::new_ext(
        text,
        pulldown_cmark::Options::ENABLE_STRIKETHROUGH | pulldown_cmark::Options::ENABLE_TABLES,
    );
    let mut html = String::new();
    pulldown_cmark::html::push_html(&mut html, parser);
    ammonia::Builder::default()
        .link_rel(Some("noopener noreferrer"))
        .clean(&html)
        .to_string()
}

async fn events(
    State(web): State<Arc<Web>>,
    headers: HeaderMap,
) -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    let after: u64 = headers
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    // Subscribe before reading the history, so nothing falls between the two.
    let mut live = web.events.subscribe();
    let past: Vec<(u64, Arc<str>)> = web
        .state
        .lock()
        .map(|s| {
            s.history
                .iter()
                .filter(|(seq, _)| *seq > after)
                .cloned()
                .collect()
        })
        .unwrap_or_default();
    let mut last = past.last().map_or(after, |(seq, _)| *seq);
    let stream = async_stream(move |tx| async move {
        for (seq, text) in past {
            if tx
                .send(Event::default().id(seq.to_string()).data(&*text))
                .await
                .is_err()
            {
                return;
            }
        }
        loop {
            match live.recv().await {
                Ok((seq, text)) if seq > last => {
                    last = seq;
                    if tx
                        .send(Event::default().id(seq.to_string()).data(&*text))
                        .await
                        .is_err()
                    {
                        return;
                    }
                }
                Ok(_) => {}
                // Too slow a page: it reconnects and catches up from the history.
                Err(_) => return,
            }
        }
    });
    Sse::new(stream).keep_alive(KeepAlive::default())
}

/// A stream fed by a task (the events of one page).
fn async_stream<F, Fut>(f: F) -> impl Stream<Item = Result<Event, Infallible>>
where
    F: FnOnce(tokio::sync::mpsc::Sender<Event>) -> Fut,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let (tx, rx) = tokio::sync::mpsc::channel(64);
    tokio::spawn(f(tx));
    futures_util::stream::unfold(
        rx,
        |mut rx| async move { rx.recv().await.map(|e| (Ok(e), rx)) },
    )
}

/// The host's log lines for the page: a tracing layer installed at start when `--web`
/// is given (plugin log lines, frame failures, reloads, host calls), whose events the
/// page's log shows.
#[derive(Clone)]
pub struct LogSink(broadcast::Sender<Value>);

impl LogSink {
    pub fn new() -> Self {
        Self(broadcast::channel(1024).0)
    }

    /// The layer feeding this sink.
    pub fn layer(&self) -> LogLayer {
        LogLayer(self.0.clone())
    }
}

/// A tracing layer turning events into the page's log entries.
pub struct LogLayer(broadcast::Sender<Value>);

impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for LogLayer {
    fn on_event(&self, event: &tracing::Event<'_>, _: tracing_subscriber::layer::Context<'_, S>) {
        let mut fields = Fields::default();
        event.record(&mut fields);
        let meta = event.metadata();
        let text = match fields.0.remove("message") {
            Some(Value::String(m)) => m,
            _ => String::new(),
        };
        // No page yet is fine: nothing to show it to.
        let _ = self.0.send(
            json!({"type": "log", "level": meta.level().as_str().to_lowercase(),
            "target": meta.target(), "text": text, "fields": fields.0}),
        );
    }
}

#[derive(Default)]
struct Fields(serde_json::Map<String, Value>);

impl tracing::field::Visit for Fields {
    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
        self.0
            .insert(field.name().into(), format!("{value:?}").into());
    }

    fn record_str(&mut self, field: &tracing::field::Field, value: &str) {
        self.0.insert(field.name().into(), value.into());
    }

    fn record_i64(&mut self, field: &tracing::field::Field, value: i64) {
        self.0.insert(field.name().into(), value.into());
    }

    fn record_u64(&mut self, field: &tracing::field::Field, value: u64) {
        self.0.insert(field.name().into(), value.into());
    }

    fn record_bool(&mut self, field: &tracing::field::Field, value: bool) {
        self.0.insert(field.name().into(), value.into());
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct SendRequest {
    #[serde(default)]
    text: String,
    /// `text`, `picture` or `file`.
    #[serde(default)]
    kind: String,
    #[serde(default)]
    file_name: String,
    #[serde(default)]
    group: bool,
    nick: String,
    staff_id: String,
    #[serde(default)]
    admin: bool,
    #[serde(default = "yes")]
    at_bot: bool,
}

fn yes() -> bool {
    true
}

/// The group every group message of the page goes to.
const GROUP: &str = "dev group";

async fn send(State(web): State<Arc<Web>>, Json(req): Json<SendRequest>) -> impl IntoResponse {
    let mut spec = match req.kind.as_str() {
        "picture" => MessageSpec::picture(),
        "file" => MessageSpec::file(if req.file_name.is_empty() {
            "file"
        } else {
            &req.file_name
        }),
        _ => MessageSpec::text(&req.text),
    }
    .from(&req.staff_id, &req.nick)
    .admin(req.admin);
    if req.group {
        spec = spec.in_group(GROUP).at_bot(req.at_bot);
    }
    match web.push(spec).await {
        Ok(pushed) => Json(json!({"messageId": pushed.message_id})),
        Err(e) => Json(json!({"error": e.to_string()})),
    }
}

impl Web {
    /// Push `spec` as a DingTalk user and show it in the conversation.
    pub(super) async fn push(&self, spec: MessageSpec) -> Result<sim::Pushed, sim::PushError> {
        let shown = match spec.msgtype.as_str() {
            "text" => spec.body["content"].as_str().unwrap_or_default().to_owned(),
            "file" => format!(
                "[file] {}",
                spec.body["fileName"].as_str().unwrap_or_default()
            ),
            other => format!("[{other}]"),
        };
        let (group, nick, staff, kind) = (
            spec.group.clone(),
            spec.sender_nick.clone(),
            spec.sender_staff_id.clone(),
            spec.msgtype.clone(),
        );
        let gate = self.pushing.lock().await;
        let pushed = self.sim.push_chatbot(spec).await;
        if let (Ok(pushed), Ok(mut s)) = (&pushed, self.state.lock()) {
            s.sessions.insert(pushed.session.clone(), group.clone());
        }
        drop(gate);
        if let Ok(pushed) = &pushed {
            self.publish(
                json!({"type": "user", "kind": kind, "text": shown, "group": group,
                "nick": nick, "staffId": staff, "messageId": pushed.message_id,
                "data": pushed.data}),
            );
        }
        pushed
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct CallbackRequest {
    card_id: String,
    #[serde(default)]
    action_id: String,
    #[serde(default)]
    params: Value,
    staff_id: String,
}

/// A card button pressed: the callback a DingTalk client causes (protocol.md C.4).
async fn callback(
    State(web): State<Arc<Web>>,
    Json(req): Json<CallbackRequest>,
) -> impl IntoResponse {
    let data = sim::card_press(&req.card_id, &req.action_id, &req.params, &req.staff_id);
    let gate = web.pushing.lock().await;
    let pushed = web.sim.push_callback(CARD_CALLBACK, data.clone()).await;
    if let (Ok(id), Ok(mut s)) = (&pushed, web.state.lock()) {
        s.callbacks.insert(id.clone(), req.card_id.clone());
    }
    drop(gate);
    match pushed {
        Ok(message_id) => {
            web.publish(json!({"type": "frame", "topic": CARD_CALLBACK, "messageId": message_id, "data": data}));
            Json(json!({"messageId": message_id}))
        }
        Err(e) => Json(json!({"error": e.to_string()})),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markdown_keeps_formatting_and_drops_scripts_handlers_and_javascript_links() {
        let html = markdown(
            "**42** [x](javascript:alert(1)) <script>alert(1)</script><img src=x onerror=alert(1)>",
        );
        assert!(html.contains("<strong>42</strong>"), "{html}");
        assert!(!html.contains("script"), "{html}");
        assert!(!html.contains("onerror"), "{html}");
        assert!(!html.contains("javascript:"), "{html}");
    }

    #[test]
    fn only_loopback_names_with_the_servers_own_port_are_answered() {
        for ok in [
            "127.0.0.1:7788",
            "localhost:7788",
            "LocalHost:7788",
            "[::1]:7788",
        ] {
            assert!(host_allowed(Some(ok), 7788), "{ok}");
        }
        for bad in [
            "evil.example:7788",
            "127.0.0.1.evil.example:7788",
            "localhost.evil:7788",
            "127.0.0.1:7789",
            "127.0.0.1",
            "[::1]",
            "localhost:7788:1",
            "",
        ] {
            assert!(!host_allowed(Some(bad), 7788), "{bad}");
        }
        assert!(!host_allowed(None, 7788));
        assert!(host_allowed(Some("localhost"), 80));
    }

    #[tokio::test]
    async fn a_request_for_another_host_name_is_refused_with_403() {
        let sim = Arc::new(Sim::builder().start().await.expect("sim"));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        let server = tokio::spawn(Web::new(sim).serve(listener));
        let get = |host: String| async move {
            use tokio::io::{AsyncReadExt, AsyncWriteExt};
            let mut s = tokio::net::TcpStream::connect(addr).await.expect("connect");
            let request =
                format!("GET /events HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n");
            s.write_all(request.as_bytes()).await.expect("write");
            let mut head = [0u8; 12];
            s.read_exact(&mut head).await.expect("read");
            String::from_utf8_lossy(&head).into_owned()
        };
        assert_eq!(
            get(format!("rebound.example:{}", addr.port())).await,
            "HTTP/1.1 403"
        );
        assert_eq!(
            get(format!("127.0.0.1:{}", addr.port())).await,
            "HTTP/1.1 200"
        );
        server.abort();
    }

    #[test]
    fn only_loopback_addresses_are_served() {
        assert!(check_addr("127.0.0.1:7788".parse().unwrap()).is_ok());
        assert!(check_addr("[::1]:7788".parse().unwrap()).is_ok());
        assert!(check_addr("0.0.0.0:7788".parse().unwrap()).is_err());
        assert!(check_addr("192.168.1.2:7788".parse().unwrap()).is_err());
    }
}
