//! One WebSocket connection: read frames, answer SYSTEM frames, write ACKs.

use std::sync::Arc;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use tokio::net::TcpStream;
use tokio::sync::{mpsc, watch};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::ack::Ack;
use super::frame::{self, FrameType};
use super::sink::{AckWriter, FrameSink};

/// A connection up this long counts as healthy even if no frame arrived.
const HEALTHY_AFTER: Duration = Duration::from_secs(10);

pub(crate) type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// What a connection tells its supervisor.
#[derive(Debug)]
pub(crate) enum Event {
    /// The gateway asked this connection to go away: open a replacement now.
    Disconnect { id: u64 },
    /// The connection is over.
    Ended { id: u64, cause: End, healthy: bool },
}

/// Why a connection ended.
#[derive(Debug)]
pub(crate) enum End {
    /// The gateway closed it (after `disconnect`, or on its own).
    GatewayClosed(Option<String>),
    /// The socket failed or vanished without a close.
    Lost(String),
    /// Replaced after `disconnect`, and drained.
    Replaced,
    /// Host shutdown.
    LocallyClosed,
    /// A keepalive ping went unanswered: the socket is half-dead.
    KeepaliveTimedOut,
}

impl End {
    /// Every reason a connection is replaced for, as `dingtalk_reconnects_total` labels
    /// it: [`End::reason`]'s and the client's own (`resubscribe`, `disconnect`).
    pub(crate) const REASONS: [&'static str; 7] = [
        "gateway_closed",
        "lost",
        "replaced",
        "closed",
        "keepalive",
        "resubscribe",
        "disconnect",
    ];

    /// The `reason` label of `dingtalk_reconnects_total`.
    pub(crate) fn reason(&self) -> &'static str {
        match self {
            End::GatewayClosed(_) => "gateway_closed",
            End::Lost(_) => "lost",
            End::Replaced => "replaced",
            End::LocallyClosed => "closed",
            End::KeepaliveTimedOut => "keepalive",
        }
    }
}

impl std::fmt::Display for End {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            End::GatewayClosed(Some(why)) => write!(f, "the gateway closed it ({why})"),
            End::GatewayClosed(None) => write!(f, "the gateway closed it"),
            End::Lost(why) => write!(f, "lost: {why}"),
            End::Replaced => write!(f, "replaced after disconnect"),
            End::LocallyClosed => write!(f, "closed by the host"),
            End::KeepaliveTimedOut => write!(f, "no pong to the keepalive ping: half-dead"),
        }
    }
}

pub(crate) struct Context {
    pub id: u64,
    pub sink: Arc<dyn FrameSink>,
    pub events: mpsc::UnboundedSender<Event>,
    pub shutdown: CancellationToken,
    /// Id of the newest live connection, so a draining one knows it was replaced.
    pub newest: watch::Receiver<u64>,
    /// Connections with a smaller id are retired (subscriptions changed): they drain
    /// like after `disconnect`.
    pub retire_below: watch::Receiver<u64>,
    pub drain_budget: Duration,
    pub keepalive_interval: Duration,
    pub pong_timeout: Duration,
    /// Data frames this connection delivered (shown by `/status`).
    pub frames: Arc<std::sync::atomic::AtomicU64>,
}

/// Write queued messages, batching whatever is already queued into one flush.
async fn write_loop(
    mut sink: futures_util::stream::SplitSink<Socket, Message>,
    mut rx: mpsc::UnboundedReceiver<Message>,
) {
    while let Some(first) = rx.recv().await {
        let mut closing = matches!(first, Message::Close(_));
        if sink.feed(first).await.is_err() {
            return;
        }
        while !closing {
            match rx.try_recv() {
                Ok(m) => {
                    closing = matches!(m, Message::Close(_));
                    if sink.feed(m).await.is_err() {
                        return;
                    }
                }
                Err(_) => break,
            }
        }
        if sink.flush().await.is_err() || closing {
            return;
        }
    }
}

pub(crate) async fn run(socket: Socket, ctx: Context) {
    let id = ctx.id;
    let (write, mut read) = socket.split();
    let (tx, rx) = mpsc::unbounded_channel();
    let writer = tokio::spawn(write_loop(write, rx));
    let acks = AckWriter::new(id, tx.clone());
    let tasks = TaskTracker::new();
    let mut draining = false;
    // A connection that carried frames, or stayed up a while, was healthy: its loss
    // is retried at once instead of after a backoff step.
    let opened = tokio::time::Instant::now();
    let mut healthy = false;
    let mut newest = ctx.newest.clone();
    let mut retire = ctx.retire_below.clone();

    // Keepalive: ping on a schedule; a ping still unanswered after the pong timeout
    // means the socket is half-dead (it may still take writes), so replace it.
    let mut keepalive =
        tokio::time::interval_at(opened + ctx.keepalive_interval, ctx.keepalive_interval);
    // Ticks missed while a pong was awaited are not made up in a burst.
    keepalive.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut awaiting_pong: Option<tokio::time::Instant> = None;
    let cause = loop {
        let pong_deadline = awaiting_pong.map(|at| at + ctx.pong_timeout);
        tokio::select! {
            () = ctx.shutdown.cancelled() => break End::LocallyClosed,
            () = async { tokio::time::sleep_until(pong_deadline.unwrap_or_else(tokio::time::Instant::now)).await },
                if pong_deadline.is_some() => break End::KeepaliveTimedOut,
            _ = keepalive.tick(), if awaiting_pong.is_none() => {
                awaiting_pong = Some(tokio::time::Instant::now());
                let _ = tx.send(Message::Ping(Vec::new().into()));
            }
            () = replaced(&tasks, &mut newest, id), if draining => break End::Replaced,
            _ = retire.wait_for(|below| *below > id), if !draining => {
                tracing::info!(connection = id, "subscriptions changed; retiring this connection once its frames are done");
                draining = true;
                tasks.close();
            }
            msg = read.next() => match msg {
                None => break End::Lost("the socket closed without a close frame".into()),
                Some(Err(e)) => break End::Lost(e.to_string()),
                Some(Ok(Message::Close(frame))) => break End::GatewayClosed(frame.map(describe_close)),
                Some(Ok(Message::Text(text))) => {
                    healthy = true;
                    if handle_text(&text, &ctx, &acks, &tasks) {
                        draining = true;
                        tasks.close();
                        let _ = ctx.events.send(Event::Disconnect { id });
                    }
                }
                Some(Ok(Message::Binary(b))) => {
                    tracing::warn!(connection = id, bytes = b.len(), "ignored a binary message: frames are text");
                }
                Some(Ok(Message::Pong(_))) => {
                    healthy = true;
                    awaiting_pong = None;
                }
                Some(Ok(_)) => healthy = true,
            },
        }
    };

    match &cause {
        End::LocallyClosed | End::Replaced => {
            tasks.close();
            if tokio::time::timeout(ctx.drain_budget, tasks.wait())
                .await
                .is_err()
            {
                tracing::warn!(
                    connection = id,
                    still_running = tasks.len(),
                    "in-flight handlers did not finish within {:?}; their ACKs are lost",
                    ctx.drain_budget
                );
            }
            let _ = tx.send(Message::Close(Some(CloseFrame {
                code: tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode::Normal,
                reason: "".into(),
            })));
        }
        End::GatewayClosed(_) | End::Lost(_) | End::KeepaliveTimedOut => {}
    }
    drop(acks);
    drop(tx);
    if matches!(
        cause,
        End::GatewayClosed(_) | End::Lost(_) | End::KeepaliveTimedOut
    ) {
        writer.abort();
    }
    let _ = writer.await;
    let healthy = healthy || opened.elapsed() >= HEALTHY_AFTER;
    let _ = ctx.events.send(Event::Ended { id, cause, healthy });
}

/// Resolves once every handler of this connection is done and a newer connection is live.
async fn replaced(tasks: &TaskTracker, newest: &mut watch::Receiver<u64>, id: u64) {
    tasks.wait().await;
    let _ = newest.wait_for(|n| *n > id).await;
}

fn describe_close(frame: CloseFrame) -> String {
    format!("{} {}", u16::from(frame.code), frame.reason)
}

/// Handle one text message; returns true when it was a `disconnect`.
fn handle_text(text: &str, ctx: &Context, acks: &AckWriter, tasks: &TaskTracker) -> bool {
    let frame = match frame::decode(text) {
        Ok(f) => f,
        Err(rejected) => {
            tracing::warn!(
                connection = ctx.id,
                message_id = rejected.message_id.as_deref().unwrap_or("?"),
                "dropped a malformed frame: {}",
                rejected.error
            );
            if let Some(id) = rejected.message_id {
                acks.slot(&id)
                    .send(Ack::error(id, 400, rejected.error.to_string()));
            }
            return false;
        }
    };
    tracing::debug!(
        connection = ctx.id,
        r#type = frame.frame_type.as_str(),
        topic = %frame.topic,
        message_id = %frame.message_id,
        "frame"
    );
    if frame.frame_type != FrameType::System {
        let slot = acks.slot(&frame.message_id);
        ctx.frames
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        ctx.sink.deliver(frame, slot, tasks);
        return false;
    }
    // SYSTEM frames are answered here, at once: ping echoes its data (the opaque),
    // disconnect and undocumented topics get a plain OK.
    let is_disconnect = frame.topic == "disconnect";
    if is_disconnect {
        tracing::info!(connection = ctx.id, data = %frame.data, "gateway asked to disconnect; opening a replacement");
    }
    acks.send(&Ack::ok(frame.message_id, frame.data));
    is_disconnect
}
