//! A local DingTalk: the Stream gateway, the OpenAPI endpoints a bot uses and session
//! webhooks, over real loopback sockets, with an injection API for tests.
//!
//! ```no_run
//! # async fn demo() -> anyhow::Result<()> {
//! let sim = sim::Sim::builder().credentials("id", "secret").start().await?;
//! // point a client at sim.url() (DINGTALK_OPENAPI_ENDPOINT), then:
//! let pushed = sim.push_chatbot(sim::MessageSpec::text("1+1")).await?;
//! let replies = sim.wait_replies(&pushed.session, 1, std::time::Duration::from_secs(5)).await;
//! # Ok(()) }
//! ```
//!
//! It behaves like the real service for any client (protocol.md H): credentials are
//! checked (401 `authFailed`), tickets are single-use and live 90 s, frames carry only
//! string headers and a string `data`, pushes go to one random connection subscribed
//! to the topic, `disconnect` stops routing to a connection at once and closes it
//! after a grace period, and every ACK and webhook reply is recorded for assertions.
//!
//! Invariant: the sim never sends a frame with a non-string header or `data`, except
//! through [`Sim::push_raw`], which sends exactly what it is given.

mod answer;
pub mod bench;
mod builder;
mod gateway;
mod knobs;
pub mod message;
mod model;
mod openapi;
mod server;
mod state;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

pub use builder::SimBuilder;
pub use knobs::{CardFault, Dialect, ModelFault, ModelRequest, ModelTurn};
pub use message::{
    CARD_CALLBACK_TOPIC, CHATBOT_TOPIC, DEFAULT_STAFF_ID, MAX_SIZED_FILE, MessageSpec, card_press,
};
pub use model::answer_to;
pub use state::{
    AckRecord, CardRecord, ConnectionRecord, MediaRecord, OpenRecord, PushError, Pushed, Reply,
};
use state::{Inner, Outbound};

impl SimBuilder {
    /// Start serving.
    pub async fn start(self) -> anyhow::Result<Sim> {
        let listener = tokio::net::TcpListener::bind(self.bind).await?;
        let addr = listener.local_addr()?;
        let inner = Arc::new(Inner::new(self, addr));
        let shutdown = CancellationToken::new();
        let app = server::router(inner.clone());
        let token = shutdown.clone();
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app)
                .with_graceful_shutdown(token.cancelled_owned())
                .await;
        });
        {
            let inner = inner.clone();
            let token = shutdown.clone();
            let every = (inner.config.redeliver_after / 4)
                .clamp(Duration::from_millis(20), Duration::from_secs(1));
            tokio::spawn(async move {
                let mut tick = tokio::time::interval(every);
                loop {
                    tokio::select! {
                        () = token.cancelled() => break,
                        _ = tick.tick() => inner.redeliver_due(),
                    }
                }
            });
        }
        if let Some(every) = inner.config.ping_interval {
            let inner = inner.clone();
            let token = shutdown.clone();
            tokio::spawn(async move {
                let mut tick = tokio::time::interval(every);
                tick.tick().await;
                loop {
                    tokio::select! {
                        () = token.cancelled() => break,
                        _ = tick.tick() => { inner.ping_all(); }
                    }
                }
            });
        }
        Ok(Sim {
            inner,
            addr,
            shutdown,
            task,
        })
    }
}

/// A running simulator.
pub struct Sim {
    inner: Arc<Inner>,
    addr: SocketAddr,
    shutdown: CancellationToken,
    task: tokio::task::JoinHandle<()>,
}

impl Sim {
    /// Start configuring a simulator.
    pub fn builder() -> SimBuilder {
        SimBuilder::default()
    }

    /// Base URL, e.g. `http://127.0.0.1:41234`: the OpenAPI endpoint for clients.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The accepted client id.
    pub fn client_id(&self) -> &str {
        &self.inner.config.client_id
    }

    /// The accepted client secret.
    pub fn client_secret(&self) -> &str {
        &self.inner.config.client_secret
    }

    /// Push the data frame `message_id` again, unchanged, to another connection of its
    /// app than the one it first went to; which one, or `None` when there is no other
    /// (or the frame is too old to be remembered).
    pub fn repush_elsewhere(&self, message_id: &str) -> Option<u64> {
        self.inner.repush_elsewhere(message_id)
    }

    /// The messageIds that got a 200 ACK.
    pub fn acked_ok(&self) -> std::collections::HashSet<String> {
        self.inner
            .lock()
            .acks
            .iter()
            .filter(|a| a.code == 200)
            .map(|a| a.message_id.clone())
            .collect()
    }

    /// How many frames [`Sim::repush_elsewhere`] pushed again.
    pub fn repushes(&self) -> usize {
        self.inner.lock().repushes
    }

    /// Push a chatbot message to a connection subscribed to the chatbot topic.
    pub async fn push_chatbot(&self, spec: MessageSpec) -> Result<Pushed, PushError> {
        self.inner.push_chatbot(spec).await
    }

    /// Push a chatbot message whose `data` came from elsewhere (a recording), with a
    /// session webhook of this simulator's in place of the one it had.
    pub async fn push_chatbot_data(&self, data: Value) -> Result<Pushed, PushError> {
        self.inner.push_chatbot_data(data).await
    }

    /// The `data` of a chatbot message with a registered session webhook, without
    /// pushing it (for driving a plugin directly). Returns (session, data).
    pub fn chatbot_data(&self, spec: &MessageSpec) -> (String, Value) {
        self.inner.chatbot_data(spec)
    }

    /// Push an EVENT frame of `event_type` with `data`. Returns the messageId.
    pub async fn push_event(&self, event_type: &str, data: Value) -> Result<String, PushError> {
        self.inner.push_event(event_type, data).await
    }

    /// Push a CALLBACK frame on `topic` with `data`. Returns the messageId.
    pub async fn push_callback(&self, topic: &str, data: Value) -> Result<String, PushError> {
        let app = self.inner.config.client_id.clone();
        let (id, _) = self
            .inner
            .push_data(&app, "CALLBACK", topic, data, Vec::new())
            .await?;
        Ok(id)
    }

    /// Send `text` as-is to a live connection (for malformed-frame tests).
    /// `message_id`, if given, is registered so its ACK is recorded with a latency.
    pub async fn push_raw(&self, text: &str, message_id: Option<&str>) -> Result<u64, PushError> {
        self.inner.push_raw(text, message_id).await
    }

    /// Send a SYSTEM ping to every live connection. Returns the ping messageIds.
    pub fn ping(&self) -> Vec<String> {
        self.inner.ping_all()
    }

    /// Send `disconnect` to every live connection: routing to them stops now and
    /// they are closed after the grace period.
    pub fn disconnect(&self) {
        self.inner.disconnect_all("connection is expired");
    }

    /// Drop every connection's TCP socket abruptly, without a close frame.
    pub fn drop_connections(&self) {
        self.inner.drop_all();
    }

    /// Make every connection half-dead: the TCP socket stays open but nothing is
    /// read, written or ponged (fault knob: a zombie connection).
    pub fn freeze_connections(&self) {
        self.inner.freeze_all();
    }

    /// Wait until at least `n` connections are live and routable.
    pub async fn wait_connections(&self, n: usize, timeout: Duration) -> bool {
        self.inner
            .wait_until(timeout, |s| s.routable_count() >= n)
            .await
    }

    /// Wait until connection `id` has closed; returns its record.
    pub async fn wait_closed(&self, id: u64, timeout: Duration) -> Option<ConnectionRecord> {
        let mut found = None;
        self.inner
            .wait_until(timeout, |s| {
                found = s
                    .connection_records()
                    .into_iter()
                    .find(|c| c.id == id && !c.open);
                found.is_some()
            })
            .await;
        found
    }

    /// Wait for the ACK of `message_id`.
    pub async fn wait_ack(&self, message_id: &str, timeout: Duration) -> Option<AckRecord> {
        let mut found = None;
        self.inner
            .wait_until(timeout, |s| {
                found = s.acks.iter().find(|a| a.message_id == message_id).cloned();
                found.is_some()
            })
            .await;
        found
    }

    /// Wait until `session` has `n` replies; returns those received.
    pub async fn wait_replies(&self, session: &str, n: usize, timeout: Duration) -> Vec<Reply> {
        let mut got = Vec::new();
        self.inner
            .wait_until(timeout, |s| {
                got = s
                    .replies
                    .iter()
                    .filter(|r| r.session == session)
                    .cloned()
                    .collect();
                got.len() >= n
            })
            .await;
        got
    }

    /// Every ACK received so far.
    pub fn acks(&self) -> Vec<AckRecord> {
        self.inner.lock().acks.clone()
    }

    /// Replies received after the first `from` (cheap polling for drivers).
    pub fn replies_since(&self, from: usize) -> Vec<Reply> {
        self.inner
            .lock()
            .replies
            .get(from..)
            .map(<[Reply]>::to_vec)
            .unwrap_or_default()
    }

    /// ACKs received after the first `from`.
    pub fn acks_since(&self, from: usize) -> Vec<AckRecord> {
        self.inner
            .lock()
            .acks
            .get(from..)
            .map(<[AckRecord]>::to_vec)
            .unwrap_or_default()
    }

    /// Time since the simulator started (the clock of [`Reply::received`]).
    pub fn elapsed(&self) -> Duration {
        self.inner.started.elapsed()
    }

    /// Wait until something is recorded (an ACK, a reply, a connection...), or `timeout`.
    pub async fn changed(&self, timeout: Duration) {
        let mut first = true;
        self.inner
            .wait_until(timeout, |_| !std::mem::replace(&mut first, false))
            .await;
    }

    /// Every webhook reply received so far.
    pub fn replies(&self) -> Vec<Reply> {
        self.inner.lock().replies.clone()
    }

    /// Every open-connection request so far.
    pub fn opens(&self) -> Vec<OpenRecord> {
        self.inner.lock().opens.clone()
    }

    /// Every WebSocket connection so far.
    pub fn connections(&self) -> Vec<ConnectionRecord> {
        self.inner.lock().connection_records()
    }

    /// Answer the next `n` open-connection requests with HTTP `status` (fault knob).
    pub fn refuse_opens(&self, n: usize, status: u16) {
        self.inner.lock().refuse_opens = Some((n, status));
    }

    /// Delay every webhook answer by `delay` (fault knob: a slow DingTalk).
    pub fn set_webhook_delay(&self, delay: Duration) {
        self.inner.lock().webhook_delay = delay;
    }

    /// Answer every webhook call with this `errcode`/`errmsg` (fault knob), or
    /// normally again with `None`.
    pub fn set_webhook_error(&self, error: Option<(i64, &str)>) {
        self.inner.lock().webhook_error = error.map(|(c, m)| (c, m.to_owned()));
    }

    /// Drop every media upload's connection halfway through its body, without an
    /// answer (fault knob: the network broke mid-request), or answer normally
    /// again with `false`.
    pub fn break_uploads(&self, on: bool) {
        self.inner.lock().break_uploads = on;
    }

    /// The API key the model endpoint accepts.
    pub fn model_key(&self) -> &str {
        &self.inner.config.model_key
    }

    /// The model endpoint's base URL (`<url>/v1`), for OpenAI-compatible clients.
    pub fn model_url(&self) -> String {
        format!("{}/v1", self.url())
    }

    /// Make the model endpoint fail this way (fault knob), or answer normally again.
    pub fn set_model_fault(&self, fault: Option<ModelFault>) {
        self.inner.lock().model.fault = fault;
    }

    /// The wait between two streamed chunks of the model's answer. Default 10 ms.
    pub fn set_model_delay(&self, delay: Duration) {
        self.inner.lock().model.chunk_delay = delay;
    }

    /// Stream tool calls in this dialect from now on. Default OpenAI's.
    pub fn set_model_dialect(&self, dialect: Dialect) {
        self.inner.lock().model.dialect = dialect;
    }

    /// Answer the next requests that offer tools with these turns, in order (after
    /// them, the default rule: a user message naming an offered function followed by
    /// a JSON object calls it; after tool results, `Tool said: <results>`).
    pub fn script_model(&self, turns: impl IntoIterator<Item = ModelTurn>) {
        self.inner.lock().model.script.extend(turns);
    }

    /// Every request the model endpoint received.
    pub fn model_requests(&self) -> Vec<ModelRequest> {
        self.inner.lock().model.requests.clone()
    }

    /// Make the card instance APIs fail this way (fault knob), or succeed again.
    pub fn set_card_fault(&self, fault: Option<CardFault>) {
        self.inner.lock().card_fault = fault;
    }

    /// Every access token handed out so far, to check none leaks.
    pub fn issued_tokens(&self) -> Vec<String> {
        self.inner.lock().tokens.keys().cloned().collect()
    }

    /// The access tokens handed out to the app `client_id`.
    pub fn tokens_of(&self, client_id: &str) -> Vec<String> {
        self.inner
            .lock()
            .tokens
            .iter()
            .filter(|(_, (_, app))| app == client_id)
            .map(|(t, _)| t.clone())
            .collect()
    }

    /// Every card send and update so far.
    pub fn cards(&self) -> Vec<CardRecord> {
        self.inner.lock().cards.clone()
    }

    /// Every media upload so far.
    pub fn media(&self) -> Vec<MediaRecord> {
        self.inner.lock().media.clone()
    }

    /// How many frames were pushed again.
    pub fn redeliveries(&self) -> usize {
        self.inner.lock().redeliveries
    }

    /// How many access tokens were handed out.
    pub fn token_fetches(&self) -> usize {
        self.inner.lock().token_fetches
    }

    /// Invalidate every access token handed out so far (fault knob: DingTalk
    /// revoked them early).
    pub fn expire_tokens(&self) {
        self.inner.lock().tokens.clear();
    }

    /// Wait until `n` card calls were recorded; returns them.
    pub async fn wait_cards(&self, n: usize, timeout: Duration) -> Vec<CardRecord> {
        let mut got = Vec::new();
        self.inner
            .wait_until(timeout, |s| {
                got = s.cards.clone();
                got.len() >= n
            })
            .await;
        got
    }

    /// A summary for printing: counts of opens, connections, ACKs, replies.
    pub fn summary(&self) -> Value {
        let s = self.inner.lock();
        json!({
            "opens": s.opens.len(),
            "connections": s.connections.len(),
            "acks": s.acks.len(),
            "replies": s.replies.len(),
            "redeliveries": s.redeliveries,
        })
    }

    /// Stop serving and close every connection.
    pub async fn shutdown(self) {
        self.inner.send_all(|_| Some(Outbound::Close));
        self.shutdown.cancel();
        let _ = tokio::time::timeout(Duration::from_secs(5), self.task).await;
    }
}
