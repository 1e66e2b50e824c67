//! The gateway client: open, WebSocket, frames, ACKs, reconnect.
//!
//! [`StreamClient::connect`] makes the first connection (its failure is returned:
//! bad credentials must stop the host with a clear message). From then on one
//! supervisor task owns the connections: it is the only place a reconnect happens,
//! so there is never more than one attempt at a time. Each connection task reads its
//! socket, answers SYSTEM frames itself at once, hands data frames to a [`FrameSink`],
//! and writes every ACK back on the socket the frame came from.
//!
//! On `disconnect` the supervisor opens the replacement right away (new ticket) while
//! the old connection stays up until its in-flight frames are ACKed and the new one is
//! live: make-before-break, nothing un-ACKed.

pub mod ack;
pub mod backoff;
mod client;
mod connection;
pub mod frame;
pub mod open;

pub use ack::Ack;
pub use client::{Error, StreamClient, StreamConfig, Supervisor, SupervisorControl};
pub use frame::{Frame, FrameType};
pub use open::Subscription;

use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message;
use tokio_util::task::TaskTracker;

/// Where decoded data frames go. Implementations must answer every frame with
/// exactly one ACK through `acks`, and spawn any work onto `tasks` so the
/// connection can wait for it before closing.
pub trait FrameSink: Send + Sync + 'static {
    /// Take one CALLBACK or EVENT (or unknown-type) frame.
    fn deliver(&self, frame: Frame, acks: AckSender, tasks: &TaskTracker);
}

/// Sends ACKs on the connection a frame arrived on.
#[derive(Debug, Clone)]
pub struct AckSender {
    connection: u64,
    tx: mpsc::UnboundedSender<Message>,
}

impl AckSender {
    /// Queue `ack` for writing. If that connection is already gone the ACK cannot be
    /// delivered anywhere else (DingTalk matches ACKs per connection), so it is logged.
    pub fn send(&self, ack: Ack) {
        if self.tx.send(Message::Text(ack.encode().into())).is_err() {
            tracing::warn!(
                connection = self.connection,
                message_id = %ack.message_id,
                "ACK lost: its connection has closed"
            );
        }
    }
}
