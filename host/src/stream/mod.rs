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
pub(crate) mod backoff;
mod client;
mod connection;
pub mod frame;
mod open;
mod sink;
pub mod status;
mod subscription;
pub mod topic;

pub use ack::Ack;
pub use client::{Error, StreamClient, StreamConfig, Supervisor, SupervisorControl};
pub use frame::{Frame, FrameType};
pub use sink::{AckSlot, AckTap, FrameSink};
pub use status::{ConnectionStatus, LinkStatus};
pub use subscription::{Subscription, SubscriptionKind};
