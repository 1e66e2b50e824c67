//! Opening connections and the single supervisor that replaces them.

use std::sync::Arc;
use std::time::Duration;
use tracing::Instrument as _;

use tokio::sync::{mpsc, watch};
use tokio::task::JoinSet;
use tokio_tungstenite::tungstenite;
use tokio_util::sync::CancellationToken;

use super::backoff::backoff;
use super::connection::{self, Context, Event, Socket};
use super::open;
use super::sink::FrameSink;
use super::status::LinkStatus;
use super::subscription::Subscription;
use crate::config::{Credentials, Endpoints};
use crate::metrics::AppMetrics;
use crate::openapi::{self, Http};

/// Connection settings.
#[derive(Debug, Clone)]
pub struct StreamConfig {
    /// First reconnect delay after a failure. Default 1 s.
    pub backoff_base: Duration,
    /// Longest reconnect delay. Default 60 s.
    pub backoff_cap: Duration,
    /// Reconnect delay while DingTalk refuses the credentials. Default 60 s: a bad
    /// secret will not fix itself quickly, and hammering the API gets rate-limited.
    pub auth_retry: Duration,
    /// WebSocket handshake timeout. Default 10 s.
    pub handshake_timeout: Duration,
    /// How long a closing connection waits for in-flight handlers. Default 10 s.
    pub drain_budget: Duration,
    /// How often the host pings the gateway at the WebSocket level. Default 30 s.
    pub keepalive_interval: Duration,
    /// How long a ping may go unanswered before the connection is declared dead and
    /// replaced. Default 10 s (protocol.md G.19: tight pings cause false reconnects).
    pub pong_timeout: Duration,
    /// Largest inbound message accepted. Default 16 MiB (DingTalk keeps frames well
    /// under 1 MiB; the cap stops a broken peer from exhausting memory).
    pub max_message_bytes: usize,
}

impl Default for StreamConfig {
    fn default() -> Self {
        Self {
            backoff_base: Duration::from_secs(1),
            backoff_cap: Duration::from_secs(60),
            auth_retry: Duration::from_secs(60),
            handshake_timeout: Duration::from_secs(10),
            drain_budget: Duration::from_secs(10),
            max_message_bytes: 16 << 20,
            keepalive_interval: Duration::from_secs(30),
            pong_timeout: Duration::from_secs(10),
        }
    }
}

/// Why a connection could not be made.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The open-connection call failed (credentials, network, DingTalk error).
    #[error(transparent)]
    Open(#[from] openapi::Error),
    /// The WebSocket handshake failed (bad or expired ticket, network).
    #[error("websocket handshake with {endpoint} failed: {reason}")]
    Handshake {
        /// The endpoint, without the ticket.
        endpoint: String,
        /// Why.
        reason: String,
    },
}

impl Error {
    fn is_auth_failure(&self) -> bool {
        matches!(self, Error::Open(e) if e.is_auth_failure())
    }
}

/// Everything needed to open connections.
#[derive(Clone)]
pub struct StreamClient {
    http: Http,
    endpoints: Endpoints,
    credentials: Credentials,
    subscriptions: Vec<Subscription>,
    config: StreamConfig,
    status: Arc<LinkStatus>,
    metrics: AppMetrics,
}

impl StreamClient {
    /// A client that will subscribe to `subscriptions`.
    pub fn new(
        http: Http,
        endpoints: Endpoints,
        credentials: Credentials,
        subscriptions: Vec<Subscription>,
        config: StreamConfig,
    ) -> Self {
        Self {
            http,
            endpoints,
            credentials,
            subscriptions,
            config,
            status: Arc::default(),
            metrics: AppMetrics::default(),
        }
    }

    /// Keep `status` (live connections) and `metrics` (reconnects) up to date.
    pub fn observed(mut self, status: Arc<LinkStatus>, metrics: AppMetrics) -> Self {
        self.status = status;
        metrics.reconnect_reasons(&super::connection::End::REASONS);
        self.metrics = metrics;
        self
    }

    async fn open_socket(&self) -> Result<Socket, Error> {
        let local_ip = open::local_ip(&self.endpoints).await;
        let ticket = open::open(
            &self.http,
            &self.endpoints,
            &self.credentials,
            &self.subscriptions,
            local_ip.as_deref(),
        )
        .await?;
        let url = ticket.url()?;
        let handshake_error = |reason: String| Error::Handshake {
            endpoint: ticket.endpoint.clone(),
            reason,
        };
        let mut ws_config = tungstenite::protocol::WebSocketConfig::default();
        ws_config.max_message_size = Some(self.config.max_message_bytes);
        ws_config.max_frame_size = Some(self.config.max_message_bytes);
        let connect =
            tokio_tungstenite::connect_async_with_config(url.as_str(), Some(ws_config), true);
        match tokio::time::timeout(self.config.handshake_timeout, connect).await {
            Err(_) => Err(handshake_error(format!(
                "no answer within {:?}",
                self.config.handshake_timeout
            ))),
            Ok(Err(tungstenite::Error::Http(response))) => {
                let body = response
                    .body()
                    .as_deref()
                    .map(|b| String::from_utf8_lossy(b).into_owned())
                    .unwrap_or_default();
                Err(handshake_error(format!(
                    "the gateway answered HTTP {}: {}",
                    response.status(),
                    body.trim()
                )))
            }
            Ok(Err(e)) => Err(handshake_error(e.to_string())),
            Ok(Ok((socket, _))) => Ok(socket),
        }
    }

    /// Open the first connection and start the supervisor that keeps one up until
    /// `shutdown` is cancelled. A failure of this first connection is returned.
    pub async fn connect(
        self,
        sink: Arc<dyn FrameSink>,
        shutdown: CancellationToken,
    ) -> Result<Supervisor, Error> {
        let socket = self.open_socket().await?;
        tracing::info!(
            subscriptions = self.subscriptions.len(),
            "connected to the DingTalk stream gateway"
        );
        let (events_tx, events_rx) = mpsc::unbounded_channel();
        let (newest_tx, newest_rx) = watch::channel(1);
        let (retire_tx, retire_rx) = watch::channel(0);
        let (control_tx, control_rx) = mpsc::unbounded_channel();
        let mut state = SupervisorState {
            client: self,
            sink,
            shutdown: shutdown.clone(),
            events_tx,
            newest_tx,
            newest_rx,
            retire_tx,
            retire_rx,
            connections: JoinSet::new(),
            next_id: 1,
            current: 0,
        };
        state.spawn(socket);
        let task = tokio::spawn(state.run(events_rx, control_rx).in_current_span());
        Ok(Supervisor {
            task,
            shutdown,
            control: SupervisorControl(control_tx),
        })
    }
}

/// The running connection supervisor.
#[must_use = "dropping the supervisor handle does not stop it; call shutdown"]
pub struct Supervisor {
    task: tokio::task::JoinHandle<()>,
    shutdown: CancellationToken,
    control: SupervisorControl,
}

/// Asks the running supervisor to change what it subscribes to.
#[derive(Debug, Clone)]
pub struct SupervisorControl(mpsc::UnboundedSender<Vec<Subscription>>);

impl SupervisorControl {
    /// Open a connection with `subscriptions`, then retire the current one once its
    /// in-flight frames are ACKed (make-before-break).
    pub fn resubscribe(&self, subscriptions: Vec<Subscription>) {
        let _ = self.0.send(subscriptions);
    }
}

impl Supervisor {
    /// A handle that changes the subscriptions while the supervisor runs.
    pub fn control(&self) -> SupervisorControl {
        self.control.clone()
    }

    /// Stop taking frames, let in-flight handlers finish and ACK (bounded), close.
    pub async fn shutdown(self) {
        self.shutdown.cancel();
        let _ = self.task.await;
    }

    /// Wait until the supervisor ends (after its shutdown token is cancelled).
    pub async fn wait(self) {
        let _ = self.task.await;
    }
}

struct SupervisorState {
    client: StreamClient,
    sink: Arc<dyn FrameSink>,
    shutdown: CancellationToken,
    events_tx: mpsc::UnboundedSender<Event>,
    newest_tx: watch::Sender<u64>,
    newest_rx: watch::Receiver<u64>,
    retire_tx: watch::Sender<u64>,
    retire_rx: watch::Receiver<u64>,
    connections: JoinSet<()>,
    next_id: u64,
    current: u64,
}

impl SupervisorState {
    fn spawn(&mut self, socket: Socket) {
        let id = self.next_id;
        self.next_id += 1;
        self.current = id;
        let ctx = Context {
            id,
            sink: self.sink.clone(),
            events: self.events_tx.clone(),
            shutdown: self.shutdown.clone(),
            newest: self.newest_rx.clone(),
            retire_below: self.retire_rx.clone(),
            drain_budget: self.client.config.drain_budget,
            keepalive_interval: self.client.config.keepalive_interval,
            pong_timeout: self.client.config.pong_timeout,
            frames: self.client.status.opened(id),
        };
        self.connections
            .spawn(connection::run(socket, ctx).in_current_span());
        self.newest_tx.send_replace(id);
        tracing::debug!(connection = id, "connection live");
    }

    async fn run(
        mut self,
        mut events: mpsc::UnboundedReceiver<Event>,
        mut control: mpsc::UnboundedReceiver<Vec<Subscription>>,
    ) {
        loop {
            tokio::select! {
                () = self.shutdown.cancelled() => break,
                Some(subscriptions) = control.recv() => {
                    tracing::info!(subscriptions = subscriptions.len(), "subscriptions changed; opening a connection with the new set");
                    self.client.subscriptions = subscriptions;
                    self.client.metrics.reconnect("resubscribe");
                    let before = self.current;
                    if !self.reconnect(0).await {
                        break;
                    }
                    if self.current != before {
                        self.retire_tx.send_replace(self.current);
                    }
                }
                Some(event) = events.recv() => match event {
                    Event::Disconnect { id } if id == self.current => {
                        self.client.metrics.reconnect("disconnect");
                        if !self.reconnect(0).await {
                            break;
                        }
                    }
                    Event::Ended { id, .. } if self.shutdown.is_cancelled() => {
                        self.client.status.closed(id);
                        break;
                    }
                    Event::Ended { id, cause, healthy } if id == self.current => {
                        self.client.status.closed(id);
                        self.client.metrics.reconnect(cause.reason());
                        tracing::warn!(connection = id, "connection ended: {cause}; reconnecting");
                        let first = if healthy { 0 } else { 1 };
                        if !self.reconnect(first).await {
                            break;
                        }
                    }
                    Event::Ended { id, cause, .. } => {
                        self.client.status.closed(id);
                        tracing::debug!(connection = id, "replaced connection ended: {cause}");
                    }
                    Event::Disconnect { .. } => {}
                },
                Some(_) = self.connections.join_next() => {}
            }
        }
        // Every connection sees the same token and drains within its budget.
        while self.connections.join_next().await.is_some() {}
        for c in self.client.status.connections() {
            self.client.status.closed(c.id);
        }
    }

    /// Open a replacement, retrying with backoff. Attempt 0 is immediate. Returns
    /// false if shutdown came first.
    async fn reconnect(&mut self, first_attempt: u32) -> bool {
        let mut attempt = first_attempt;
        loop {
            if attempt > 0 {
                let delay = backoff(
                    attempt - 1,
                    self.client.config.backoff_base,
                    self.client.config.backoff_cap,
                    rand::random::<f64>(),
                );
                tokio::select! {
                    () = self.shutdown.cancelled() => return false,
                    () = tokio::time::sleep(delay) => {}
                }
            }
            let result = tokio::select! {
                () = self.shutdown.cancelled() => return false,
                r = self.client.open_socket() => r,
            };
            match result {
                Ok(socket) => {
                    self.spawn(socket);
                    tracing::info!(connection = self.current, "reconnected");
                    return true;
                }
                Err(e) if e.is_auth_failure() => {
                    tracing::error!(
                        "{e}; DingTalk refuses the client id/secret: check the credentials (retrying in {:?})",
                        self.client.config.auth_retry
                    );
                    tokio::select! {
                        () = self.shutdown.cancelled() => return false,
                        () = tokio::time::sleep(self.client.config.auth_retry) => {}
                    }
                }
                Err(e) => {
                    tracing::warn!(attempt, "reconnect failed: {e}");
                    attempt += 1;
                }
            }
        }
    }
}
