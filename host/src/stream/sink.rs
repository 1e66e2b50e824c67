//! Where a connection hands its data frames, and the one ACK each frame is owed.
//!
//! Invariant: every data frame gets exactly one ACK on the connection it came on:
//! [`AckSlot::send`] consumes the slot, and a slot dropped unsent answers 500. A
//! slot may be [`AckSlot::tapped`]: the tap sees that one ACK as it is sent.

use std::sync::Arc;

use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message;
use tokio_util::task::TaskTracker;

use super::ack::Ack;
use super::frame::Frame;

/// Where decoded data frames go. Implementations answer every frame through its
/// [`AckSlot`] (exactly once, which the slot enforces) and spawn any work onto
/// `tasks` so the connection can wait for it before closing.
pub trait FrameSink: Send + Sync + 'static {
    /// Take one CALLBACK or EVENT (or unknown-type) frame.
    fn deliver(&self, frame: Frame, ack: AckSlot, tasks: &TaskTracker);
}

/// Sees the ACKs of the slots it taps (`host record`).
pub trait AckTap: std::fmt::Debug + Send + Sync + 'static {
    /// `ack` is being sent.
    fn acked(&self, ack: &Ack);
}

/// Writes ACKs on one connection.
#[derive(Debug, Clone)]
pub(crate) struct AckWriter {
    connection: u64,
    tx: mpsc::UnboundedSender<Message>,
}

impl AckWriter {
    pub(crate) fn new(connection: u64, tx: mpsc::UnboundedSender<Message>) -> Self {
        Self { connection, tx }
    }

    /// Queue `ack` for writing. If that connection is already gone the ACK cannot be
    /// delivered anywhere else (DingTalk matches ACKs per connection), so it is logged.
    pub(crate) fn send(&self, ack: &Ack) {
        if self.tx.send(Message::Text(ack.encode().into())).is_err() {
            tracing::warn!(
                connection = self.connection,
                message_id = %ack.message_id,
                "ACK lost: its connection has closed"
            );
        }
    }

    /// The slot for the one ACK the frame `message_id` is owed.
    pub(crate) fn slot(&self, message_id: &str) -> AckSlot {
        AckSlot {
            message_id: message_id.to_owned(),
            writer: Some(self.clone()),
            tap: None,
        }
    }
}

/// The one ACK a data frame is owed, on the connection it arrived on. [`Self::send`]
/// consumes it, so no frame is ACKed twice; dropped unsent (a handler task that
/// panicked or was cancelled) it sends a 500, so no frame is left un-ACKed.
#[derive(Debug)]
pub struct AckSlot {
    message_id: String,
    writer: Option<AckWriter>,
    tap: Option<Arc<dyn AckTap>>,
}

impl AckSlot {
    /// The frame's `messageId`.
    pub fn message_id(&self) -> &str {
        &self.message_id
    }

    /// The same slot, whose ACK `tap` sees when it is sent.
    pub fn tapped(mut self, tap: Arc<dyn AckTap>) -> Self {
        self.tap = Some(tap);
        self
    }

    /// Send the frame's ACK.
    pub fn send(mut self, ack: Ack) {
        if let Some(writer) = self.writer.take() {
            self.write(&writer, &ack);
        }
    }

    /// Show `ack` to the tap, then write it.
    fn write(&self, writer: &AckWriter, ack: &Ack) {
        if let Some(tap) = &self.tap {
            tap.acked(ack);
        }
        writer.send(ack);
    }
}

impl Drop for AckSlot {
    fn drop(&mut self) {
        if let Some(writer) = self.writer.take() {
            tracing::error!(message_id = %self.message_id, "a frame's handling ended without an ACK; answering 500");
            let ack = Ack::error(
                std::mem::take(&mut self.message_id),
                500,
                "the host dropped the frame's handling without an answer",
            );
            self.write(&writer, &ack);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_slot_sends_exactly_one_ack_and_a_dropped_slot_sends_a_failure() {
        let (tx, mut rx) = mpsc::unbounded_channel();
        let writer = AckWriter::new(1, tx);
        writer.slot("m1").send(Ack::ok("m1", "{}"));
        drop(writer.slot("m2"));
        let texts: Vec<String> = std::iter::from_fn(|| rx.try_recv().ok())
            .map(|m| m.into_text().map(|t| t.to_string()).unwrap_or_default())
            .collect();
        assert_eq!(texts.len(), 2);
        assert!(texts[0].contains("\"code\":200") && texts[0].contains("m1"));
        assert!(texts[1].contains("\"code\":500") && texts[1].contains("m2"));
    }

    #[test]
    fn a_tapped_slot_shows_its_one_ack_sent_or_dropped() {
        #[derive(Debug, Default)]
        struct Seen(std::sync::Mutex<Vec<(String, u16)>>);
        impl AckTap for Seen {
            fn acked(&self, ack: &Ack) {
                self.0
                    .lock()
                    .unwrap()
                    .push((ack.message_id.clone(), ack.code));
            }
        }
        let (tx, _rx) = mpsc::unbounded_channel();
        let writer = AckWriter::new(1, tx);
        let seen = Arc::new(Seen::default());
        writer
            .slot("m1")
            .tapped(seen.clone())
            .send(Ack::ok("m1", "{}"));
        drop(writer.slot("m2").tapped(seen.clone()));
        writer.slot("m3").send(Ack::ok("m3", "{}"));
        assert_eq!(
            *seen.0.lock().unwrap(),
            [("m1".to_owned(), 200), ("m2".to_owned(), 500)]
        );
    }
}
