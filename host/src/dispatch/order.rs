//! Order within a conversation, for agents: the messages of one conversation reach
//! one agent plugin one at a time, in the order they arrived, so a follow-up sent
//! while an answer streams is answered after it (with that exchange in memory).
//!
//! A [`Ticket`] is taken synchronously when dispatch serves the frame (frames are
//! delivered in the order the connection read them), and waits for the ticket before
//! it in its lane; dropping a ticket (the run ended, however) lets the next one go.
//! Invariants: a lane holds at most `max` tickets (a flood is refused, not queued
//! without bound); a lane with no tickets is removed, so the table holds only
//! conversations with work in flight.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use futures_util::FutureExt as _;
use futures_util::future::Shared;
use tokio::sync::oneshot;

type Done = Shared<oneshot::Receiver<()>>;

struct Lane {
    /// The last ticket's completion.
    tail: Done,
    /// Tickets alive in the lane (running or waiting).
    alive: usize,
}

/// The lanes of one dispatcher, by (plugin, conversation).
pub(super) struct Lanes {
    lanes: Arc<Mutex<HashMap<String, Lane>>>,
    max: usize,
}

/// One frame's place in its lane.
pub(super) struct Ticket {
    key: String,
    before: Option<Done>,
    _done: oneshot::Sender<()>,
    lanes: Arc<Mutex<HashMap<String, Lane>>>,
}

impl Lanes {
    /// Lanes of at most `max` tickets each.
    pub(super) fn new(max: usize) -> Self {
        Self {
            lanes: Arc::default(),
            max: max.max(1),
        }
    }

    /// A place behind every earlier frame of `key`, or how many hold the lane when
    /// it is full.
    pub(super) fn enter(&self, key: String) -> Result<Ticket, usize> {
        let (done, wait) = oneshot::channel();
        let wait = wait.shared();
        let mut lanes = self.lanes.lock().unwrap_or_else(PoisonError::into_inner);
        let before = match lanes.get_mut(&key) {
            Some(lane) if lane.alive >= self.max => return Err(lane.alive),
            Some(lane) => {
                lane.alive += 1;
                Some(std::mem::replace(&mut lane.tail, wait))
            }
            None => {
                lanes.insert(
                    key.clone(),
                    Lane {
                        tail: wait,
                        alive: 1,
                    },
                );
                None
            }
        };
        Ok(Ticket {
            key,
            before,
            _done: done,
            lanes: self.lanes.clone(),
        })
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.lanes
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }
}

impl Ticket {
    /// Wait until every earlier frame of the lane has finished.
    pub(super) async fn turn(&mut self) {
        if let Some(before) = self.before.take() {
            // Err: the earlier ticket was dropped, which is its end too.
            let _ = before.await;
        }
    }
}

impl Drop for Ticket {
    fn drop(&mut self) {
        let mut lanes = self.lanes.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(lane) = lanes.get_mut(&self.key) {
            lane.alive = lane.alive.saturating_sub(1);
            if lane.alive == 0 {
                lanes.remove(&self.key);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test]
    async fn frames_of_one_lane_run_in_the_order_they_entered() {
        let lanes = Lanes::new(8);
        let order = Arc::new(Mutex::new(Vec::new()));
        let mut tasks = Vec::new();
        for i in 0..4u64 {
            let mut ticket = lanes.enter("aibot\0c1".into()).unwrap();
            let order = order.clone();
            tasks.push(tokio::spawn(async move {
                // Later tickets are polled first: order must still hold.
                tokio::time::sleep(Duration::from_millis(40 - i * 10)).await;
                ticket.turn().await;
                order.lock().unwrap().push(i);
                tokio::time::sleep(Duration::from_millis(5)).await;
            }));
        }
        for t in tasks {
            t.await.unwrap();
        }
        assert_eq!(*order.lock().unwrap(), [0, 1, 2, 3]);
        assert_eq!(lanes.len(), 0, "an empty lane is removed");
    }

    #[tokio::test]
    async fn a_full_lane_refuses_and_other_lanes_are_not_held_up() {
        let lanes = Lanes::new(2);
        let _a = lanes.enter("k".into()).unwrap();
        let _b = lanes.enter("k".into()).unwrap();
        assert_eq!(lanes.enter("k".into()).err(), Some(2));
        let mut other = lanes.enter("other".into()).unwrap();
        tokio::time::timeout(Duration::from_secs(1), other.turn())
            .await
            .expect("another conversation goes at once");
    }
}
