//! The simulator's shared state: tickets, connections, records, routing.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use rand::Rng;
use serde::Serialize;
use serde_json::{Value, json};
use tokio::sync::{mpsc, watch};

use crate::builder::SimBuilder;
use crate::knobs::{CardFault, ModelState};
use crate::message::{CHATBOT_TOPIC, Ids, MessageSpec};

/// What a connection task is told to do.
#[derive(Debug)]
pub(crate) enum Outbound {
    /// Send this text frame.
    Text(String),
    /// Close normally.
    Close,
    /// Drop the TCP connection without a close frame.
    Drop,
    /// Keep the TCP connection but stop reading and writing: a half-dead socket.
    Freeze,
}

/// One ACK the sim received.
#[derive(Debug, Clone, Serialize)]
pub struct AckRecord {
    /// `headers.messageId` of the ACK.
    pub message_id: String,
    /// Its `code`.
    pub code: i64,
    /// Its `message`.
    pub message: String,
    /// Its `data` string, if any.
    pub data: Option<String>,
    /// The connection it came on.
    pub connection: u64,
    /// Time from push to ACK, when the ACKed frame was one the sim pushed.
    pub latency: Option<Duration>,
    /// For ping ACKs: whether `data` echoed the ping's opaque.
    pub opaque_ok: Option<bool>,
}

impl AckRecord {
    /// `data` parsed as JSON (`Null` when absent or not JSON).
    pub fn data_json(&self) -> Value {
        self.data
            .as_deref()
            .and_then(|d| serde_json::from_str(d).ok())
            .unwrap_or(Value::Null)
    }
}

/// One webhook reply the sim received.
#[derive(Debug, Clone, Serialize)]
pub struct Reply {
    /// The session the webhook belongs to.
    pub session: String,
    /// The client id of the app whose message opened the session.
    pub app: String,
    /// The JSON body.
    pub body: Value,
    /// When it arrived, since the simulator started.
    pub received: Duration,
}

impl Reply {
    /// The text content of a text reply.
    pub fn text(&self) -> Option<&str> {
        self.body.get("text")?.get("content")?.as_str()
    }
}

/// One card call (`send` or `update`) the sim accepted.
#[derive(Debug, Clone, Serialize)]
pub struct CardRecord {
    /// `send` or `update`.
    pub action: String,
    /// The cardBizId.
    pub biz_id: String,
    /// The card, decoded from its JSON string.
    pub card: Value,
    /// `openConversationId` or the decoded `singleChatReceiver` (sends only).
    pub receiver: Value,
}

/// One media upload the sim accepted.
#[derive(Debug, Clone, Serialize)]
pub struct MediaRecord {
    /// The id handed back.
    pub media_id: String,
    /// The `type` field.
    pub kind: String,
    /// The file name.
    pub filename: String,
    /// Its size.
    pub bytes: usize,
}

/// One open-connection request.
#[derive(Debug, Clone, Serialize)]
pub struct OpenRecord {
    /// The client id sent.
    pub client_id: String,
    /// (type, topic) pairs.
    pub subscriptions: Vec<(String, String)>,
    /// The `ua` field.
    pub ua: Option<String>,
    /// The `localIp` field.
    pub local_ip: Option<String>,
    /// The HTTP status answered.
    pub status: u16,
}

/// One WebSocket connection.
#[derive(Debug, Clone, Serialize)]
pub struct ConnectionRecord {
    /// Its id.
    pub id: u64,
    /// The client id of the app that opened it.
    pub client_id: String,
    /// Still open.
    pub open: bool,
    /// Receives pushes (not after `disconnect`).
    pub routable: bool,
    /// When it opened and closed, relative to the sim's start.
    pub opened_at: Duration,
    /// When it closed.
    pub closed_at: Option<Duration>,
}

pub(crate) struct Ticket {
    pub created: Instant,
    pub used: bool,
    pub subscriptions: Vec<(String, String)>,
    pub client_id: String,
}

pub(crate) struct Conn {
    pub tx: mpsc::UnboundedSender<Outbound>,
    pub subscriptions: Vec<(String, String)>,
    pub client_id: String,
    pub routable: bool,
    pub open: bool,
    pub opened_at: Duration,
    pub closed_at: Option<Duration>,
}

pub(crate) struct Pending {
    pub sent: Instant,
    pub opaque: Option<String>,
    /// For pushed data frames: what to send again, where it went, how often.
    pub redelivery: Option<Redelivery>,
}

pub(crate) struct Redelivery {
    pub app: String,
    pub kind: String,
    pub topic: String,
    pub text: String,
    pub connection: u64,
    pub attempts: u32,
}

pub(crate) struct Session {
    pub expires_ms: i64,
    pub app: String,
}

/// A data frame as first pushed, for re-pushing it elsewhere.
pub(crate) struct Sent {
    pub message_id: String,
    pub app: String,
    pub kind: String,
    pub topic: String,
    pub text: String,
    pub connection: u64,
}

/// How many recent data frames [`State::sent`] keeps.
const SENT_KEPT: usize = 4096;

#[derive(Default)]
pub(crate) struct State {
    /// The most recent data frames pushed, oldest first.
    pub sent: std::collections::VecDeque<Sent>,
    /// Frames pushed again to another connection by [`Inner::repush_elsewhere`].
    pub repushes: usize,
    pub tickets: HashMap<String, Ticket>,
    pub connections: HashMap<u64, Conn>,
    pub next_conn: u64,
    pub pending: HashMap<String, Pending>,
    pub sessions: HashMap<String, Session>,
    pub acks: Vec<AckRecord>,
    pub replies: Vec<Reply>,
    pub opens: Vec<OpenRecord>,
    /// Access token -> (expiry, ms since the epoch; the client id it was issued to).
    pub tokens: HashMap<String, (i64, String)>,
    pub refuse_opens: Option<(usize, u16)>,
    pub webhook_delay: Duration,
    pub webhook_error: Option<(i64, String)>,
    pub break_uploads: bool,
    pub cards: Vec<CardRecord>,
    pub card_store: HashMap<String, Value>,
    pub media: Vec<MediaRecord>,
    pub token_fetches: usize,
    pub redeliveries: usize,
    pub counter: u64,
    pub model: ModelState,
    pub card_fault: Option<CardFault>,
}

impl State {
    pub fn routable_count(&self) -> usize {
        self.connections
            .values()
            .filter(|c| c.open && c.routable)
            .count()
    }

    pub fn connection_records(&self) -> Vec<ConnectionRecord> {
        let mut v: Vec<ConnectionRecord> = self
            .connections
            .iter()
            .map(|(id, c)| ConnectionRecord {
                id: *id,
                client_id: c.client_id.clone(),
                open: c.open,
                routable: c.routable,
                opened_at: c.opened_at,
                closed_at: c.closed_at,
            })
            .collect();
        v.sort_by_key(|c| c.id);
        v
    }

    fn pick(
        &self,
        app: &str,
        kind: &str,
        topic: &str,
    ) -> Option<(u64, mpsc::UnboundedSender<Outbound>)> {
        let candidates: Vec<(u64, &Conn)> = self
            .connections
            .iter()
            .filter(|(_, c)| {
                c.open
                    && c.routable
                    && c.client_id == app
                    && c.subscriptions.iter().any(|(k, t)| k == kind && t == topic)
            })
            .map(|(id, c)| (*id, c))
            .collect();
        if candidates.is_empty() {
            return None;
        }
        let (id, c) = candidates[rand::rng().random_range(0..candidates.len())];
        Some((id, c.tx.clone()))
    }

    fn any_open(&self) -> Option<(u64, mpsc::UnboundedSender<Outbound>)> {
        let mut open: Vec<_> = self
            .connections
            .iter()
            .filter(|(_, c)| c.open && c.routable)
            .collect();
        open.sort_by_key(|(id, _)| std::cmp::Reverse(**id));
        open.first().map(|(id, c)| (**id, c.tx.clone()))
    }

    pub fn next_message_id(&mut self) -> String {
        self.counter += 1;
        let mut rng = rand::rng();
        format!(
            "{:x}_{:x}_{:x}_{:x}",
            rng.random::<u32>() & 0xfff_ffff,
            rng.random::<u16>() & 0xfff,
            now_ms(),
            self.counter
        )
    }
}

pub(crate) struct Inner {
    pub config: SimBuilder,
    pub addr: SocketAddr,
    pub started: Instant,
    state: Mutex<State>,
    version: watch::Sender<u64>,
}

pub(crate) fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

impl Inner {
    pub fn new(config: SimBuilder, addr: SocketAddr) -> Self {
        Self {
            config,
            addr,
            started: Instant::now(),
            state: Mutex::new(State::default()),
            version: watch::channel(0).0,
        }
    }

    pub fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Tell waiters something changed.
    pub fn bump(&self) {
        self.version.send_modify(|v| *v += 1);
    }

    pub async fn wait_until(
        &self,
        timeout: Duration,
        mut cond: impl FnMut(&State) -> bool,
    ) -> bool {
        let mut rx = self.version.subscribe();
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            if cond(&self.lock()) {
                return true;
            }
            if tokio::time::timeout_at(deadline, rx.changed())
                .await
                .is_err()
            {
                return cond(&self.lock());
            }
        }
    }

    pub fn frame(
        &self,
        kind: &str,
        topic: &str,
        message_id: &str,
        extra: &[(&str, String)],
        data: &Value,
    ) -> String {
        let mut headers = json!({
            "appId": "5e1c0a5e-0000-4000-8000-00000000a11d",
            "connectionId": "5e1c0a5e-0000-4000-8000-0000000c0221",
            "contentType": "application/json",
            "messageId": message_id,
            "time": now_ms().to_string(),
            "topic": topic,
        });
        for (k, v) in extra {
            headers[*k] = Value::String(v.clone());
        }
        json!({"specVersion": "1.0", "type": kind, "headers": headers, "data": data.to_string()})
            .to_string()
    }

    async fn route(
        &self,
        app: &str,
        kind: &str,
        topic: &str,
    ) -> Result<(u64, mpsc::UnboundedSender<Outbound>), PushError> {
        let mut picked = None;
        self.wait_until(self.config.route_wait, |s| {
            picked = s.pick(app, kind, topic);
            picked.is_some()
        })
        .await;
        picked.ok_or_else(|| PushError::NoSubscriber {
            kind: kind.into(),
            topic: topic.into(),
        })
    }

    pub async fn push_data(
        &self,
        app: &str,
        kind: &str,
        topic: &str,
        data: Value,
        extra: Vec<(&str, String)>,
    ) -> Result<(String, u64), PushError> {
        let (conn, tx) = self.route(app, kind, topic).await?;
        let message_id = self.lock().next_message_id();
        let text = self.frame(kind, topic, &message_id, &extra, &data);
        self.lock().pending.insert(
            message_id.clone(),
            Pending {
                sent: Instant::now(),
                opaque: None,
                redelivery: Some(Redelivery {
                    app: app.to_owned(),
                    kind: kind.to_owned(),
                    topic: topic.to_owned(),
                    text: text.clone(),
                    connection: conn,
                    attempts: 0,
                }),
            },
        );
        {
            let mut s = self.lock();
            if s.sent.len() == SENT_KEPT {
                s.sent.pop_front();
            }
            s.sent.push_back(Sent {
                message_id: message_id.clone(),
                app: app.to_owned(),
                kind: kind.to_owned(),
                topic: topic.to_owned(),
                text: text.clone(),
                connection: conn,
            });
        }
        let _ = tx.send(Outbound::Text(text));
        Ok((message_id, conn))
    }

    /// Push a frame pushed before again, with its messageId, to another connection of
    /// its app (DingTalk re-pushes to any live connection, protocol.md B.8).
    pub fn repush_elsewhere(&self, message_id: &str) -> Option<u64> {
        let mut s = self.lock();
        let sent = s.sent.iter().find(|f| f.message_id == message_id)?;
        let candidates: Vec<(u64, mpsc::UnboundedSender<Outbound>)> = s
            .connections
            .iter()
            .filter(|(id, c)| {
                **id != sent.connection
                    && c.open
                    && c.routable
                    && c.client_id == sent.app
                    && c.subscriptions
                        .iter()
                        .any(|(k, t)| *k == sent.kind && *t == sent.topic)
            })
            .map(|(id, c)| (*id, c.tx.clone()))
            .collect();
        let (conn, tx) = candidates
            .get(rand::rng().random_range(0..candidates.len().max(1)))?
            .clone();
        let text = sent.text.clone();
        s.repushes += 1;
        drop(s);
        let _ = tx.send(Outbound::Text(text));
        Some(conn)
    }

    /// Register a session of `app`'s: its id, its webhook URL and when it expires.
    fn open_session(&self, app: &str, now: i64) -> (String, String, i64) {
        let session = format!("{:032x}", rand::rng().random::<u128>());
        let expires_ms = now + self.config.webhook_ttl.as_millis() as i64;
        self.lock().sessions.insert(
            session.clone(),
            Session {
                expires_ms,
                app: app.to_owned(),
            },
        );
        let webhook = format!("http://{}/robot/sendBySession?session={session}", self.addr);
        (session, webhook, expires_ms)
    }

    /// Register a session webhook and build the `data` of a chatbot message.
    pub fn chatbot_data(&self, spec: &MessageSpec) -> (String, Value) {
        let now = now_ms();
        let app = spec
            .app
            .clone()
            .unwrap_or_else(|| self.config.client_id.clone());
        let (session, webhook, _) = self.open_session(&app, now);
        let ids = {
            let mut s = self.lock();
            s.counter += 1;
            Ids {
                msg: s.counter,
                conversation: if spec.group.is_some() { 2 } else { 1 },
                robot_code: app,
            }
        };
        let data = spec.to_data(
            &ids,
            &webhook,
            now,
            self.config.webhook_ttl.as_millis() as i64,
        );
        (session, data)
    }

    /// Push a chatbot message whose `data` came from elsewhere (a recording): its
    /// session webhook and expiry become a session of this simulator's, its
    /// `robotCode` the first app's; every other field is pushed as it is.
    pub async fn push_chatbot_data(&self, mut data: Value) -> Result<Pushed, PushError> {
        let app = self.config.client_id.clone();
        let (session, webhook, expires_ms) = self.open_session(&app, now_ms());
        if let Some(fields) = data.as_object_mut() {
            fields.insert("sessionWebhook".into(), webhook.into());
            fields.insert("sessionWebhookExpiredTime".into(), expires_ms.into());
            fields.insert("robotCode".into(), app.clone().into());
        }
        self.push_message(&app, session, data).await
    }

    pub async fn push_chatbot(&self, spec: MessageSpec) -> Result<Pushed, PushError> {
        let (session, data) = self.chatbot_data(&spec);
        let app = spec.app.as_deref().unwrap_or(&self.config.client_id);
        self.push_message(app, session, data).await
    }

    async fn push_message(
        &self,
        app: &str,
        session: String,
        data: Value,
    ) -> Result<Pushed, PushError> {
        let (message_id, connection) = self
            .push_data(app, "CALLBACK", CHATBOT_TOPIC, data.clone(), Vec::new())
            .await?;
        Ok(Pushed {
            message_id,
            session,
            data,
            connection,
        })
    }

    pub async fn push_event(&self, event_type: &str, data: Value) -> Result<String, PushError> {
        let event_id = format!("{:032x}", rand::rng().random::<u128>());
        let extra = vec![
            ("eventType", event_type.to_owned()),
            ("eventId", event_id),
            ("eventCorpId", "dingsimcorp".to_owned()),
            ("eventBornTime", now_ms().to_string()),
            (
                "eventUnifiedAppId",
                "5e1c0a5e-0000-4000-8000-00000000a11d".to_owned(),
            ),
        ];
        let app = self.config.client_id.clone();
        let (id, _) = self.push_data(&app, "EVENT", "*", data, extra).await?;
        Ok(id)
    }

    pub async fn push_raw(&self, text: &str, message_id: Option<&str>) -> Result<u64, PushError> {
        let mut picked = None;
        self.wait_until(self.config.route_wait, |s| {
            picked = s.any_open();
            picked.is_some()
        })
        .await;
        let (conn, tx) = picked.ok_or_else(|| PushError::NoSubscriber {
            kind: "any".into(),
            topic: "any".into(),
        })?;
        if let Some(id) = message_id {
            self.lock().pending.insert(
                id.to_owned(),
                Pending {
                    sent: Instant::now(),
                    opaque: None,
                    redelivery: None,
                },
            );
        }
        let _ = tx.send(Outbound::Text(text.to_owned()));
        Ok(conn)
    }

    pub fn send_all(&self, mut f: impl FnMut(u64) -> Option<Outbound>) {
        let s = self.lock();
        for (id, c) in s.connections.iter().filter(|(_, c)| c.open) {
            if let Some(m) = f(*id) {
                let _ = c.tx.send(m);
            }
        }
    }

    /// Freeze every socket (no reads, no writes, no pongs); routing stops at once.
    pub fn freeze_all(&self) {
        let mut s = self.lock();
        for c in s.connections.values_mut().filter(|c| c.open) {
            c.routable = false;
            let _ = c.tx.send(Outbound::Freeze);
        }
        drop(s);
        self.bump();
    }

    /// Drop every socket; routing to them stops at once, before the tasks notice.
    pub fn drop_all(&self) {
        let mut s = self.lock();
        for c in s.connections.values_mut().filter(|c| c.open) {
            c.routable = false;
            let _ = c.tx.send(Outbound::Drop);
        }
        drop(s);
        self.bump();
    }

    pub fn ping_all(&self) -> Vec<String> {
        let mut s = self.lock();
        let targets: Vec<(u64, mpsc::UnboundedSender<Outbound>)> = s
            .connections
            .iter()
            .filter(|(_, c)| c.open)
            .map(|(id, c)| (*id, c.tx.clone()))
            .collect();
        let mut ids = Vec::new();
        for (_, tx) in targets {
            let message_id = s.next_message_id();
            let opaque = uuid::Uuid::new_v4().to_string();
            let frame = json!({
                "specVersion": "1.0",
                "type": "SYSTEM",
                "headers": {"contentType": "application/json", "messageId": message_id, "time": now_ms().to_string(), "topic": "ping"},
                "data": json!({"opaque": opaque}).to_string(),
            });
            s.pending.insert(
                message_id.clone(),
                Pending {
                    sent: Instant::now(),
                    opaque: Some(opaque),
                    redelivery: None,
                },
            );
            let _ = tx.send(Outbound::Text(frame.to_string()));
            ids.push(message_id);
        }
        ids
    }

    pub fn disconnect_all(&self, reason: &str) {
        let mut s = self.lock();
        let ids: Vec<u64> = s
            .connections
            .iter()
            .filter(|(_, c)| c.open && c.routable)
            .map(|(id, _)| *id)
            .collect();
        for id in ids {
            let message_id = s.next_message_id();
            let frame = json!({
                "specVersion": "1.0",
                "type": "SYSTEM",
                "headers": {"contentType": "application/json", "messageId": message_id, "time": now_ms().to_string(), "topic": "disconnect"},
                "data": json!({"reason": reason}).to_string(),
            });
            if let Some(c) = s.connections.get_mut(&id) {
                c.routable = false;
                let _ = c.tx.send(Outbound::Text(frame.to_string()));
                let tx = c.tx.clone();
                let grace = self.config.disconnect_grace;
                tokio::spawn(async move {
                    tokio::time::sleep(grace).await;
                    let _ = tx.send(Outbound::Close);
                });
            }
        }
        drop(s);
        self.bump();
    }

    /// Push again, with the same messageId, every data frame not ACKed within
    /// `redeliver_after` or whose connection has gone, up to `max_redeliveries`
    /// times (protocol.md B.8: DingTalk re-pushes slow-ACKed messages).
    pub fn redeliver_due(&self) {
        let mut s = self.lock();
        let now = Instant::now();
        let after = self.config.redeliver_after;
        let max = self.config.max_redeliveries;
        let due: Vec<String> = s
            .pending
            .iter()
            .filter(|(_, p)| {
                p.redelivery.as_ref().is_some_and(|r| {
                    let gone = s.connections.get(&r.connection).is_none_or(|c| !c.open);
                    r.attempts < max && (gone || now.duration_since(p.sent) >= after)
                })
            })
            .map(|(id, _)| id.clone())
            .collect();
        for id in due {
            let Some(r) = s.pending.get(&id).and_then(|p| p.redelivery.as_ref()) else {
                continue;
            };
            let Some((conn, tx)) = s.pick(&r.app, &r.kind, &r.topic) else {
                continue;
            };
            let text = r.text.clone();
            if let Some(p) = s.pending.get_mut(&id) {
                p.sent = now;
                if let Some(r) = p.redelivery.as_mut() {
                    r.attempts += 1;
                    r.connection = conn;
                }
            }
            s.redeliveries += 1;
            let _ = tx.send(Outbound::Text(text));
        }
    }

    /// Record an ACK frame's JSON.
    pub fn record_ack(&self, connection: u64, text: &str) {
        let Ok(v) = serde_json::from_str::<Value>(text) else {
            tracing::warn!(
                connection,
                "sim got a non-JSON message from the client: {text}"
            );
            return;
        };
        let message_id = v
            .get("headers")
            .and_then(|h| h.get("messageId"))
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        let data = v.get("data").and_then(Value::as_str).map(str::to_owned);
        let mut s = self.lock();
        let pending = s.pending.remove(&message_id);
        let opaque_ok = pending.as_ref().and_then(|p| p.opaque.as_ref()).map(|o| {
            data.as_deref()
                .and_then(|d| serde_json::from_str::<Value>(d).ok())
                .and_then(|d| d.get("opaque").and_then(Value::as_str).map(|x| x == o))
                .unwrap_or(false)
        });
        s.acks.push(AckRecord {
            message_id,
            code: v.get("code").and_then(Value::as_i64).unwrap_or(-1),
            message: v
                .get("message")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned(),
            data,
            connection,
            latency: pending.map(|p| p.sent.elapsed()),
            opaque_ok,
        });
        drop(s);
        self.bump();
    }
}

/// Why a push could not be made.
#[derive(Debug, thiserror::Error)]
pub enum PushError {
    /// No live connection subscribed to this (type, topic) within the wait.
    #[error("no connection subscribed to {kind} {topic}")]
    NoSubscriber {
        /// CALLBACK or EVENT.
        kind: String,
        /// The topic.
        topic: String,
    },
}

/// A pushed chatbot message.
#[derive(Debug, Clone)]
pub struct Pushed {
    /// The frame's `headers.messageId`.
    pub message_id: String,
    /// The session id of its webhook (for [`Sim::wait_replies`]).
    pub session: String,
    /// The `data` object sent.
    pub data: Value,
    /// Which connection got it.
    pub connection: u64,
}
