//! What one plugin may draw on across its frames, beside each call's argument limits.
//!
//! - [`ByteBudget`]: host-side bytes of the large results host calls build for one
//!   plugin (`kv.get-many`, `media.download`), all its frames together. A call
//!   reserves its result's bound before it builds the result and keeps the
//!   reservation until the frame's next reserving call or the frame's end, so the
//!   result is lowered into the guest while still counted. A call whose bound is above
//!   the whole budget is refused at once; others wait (inside the frame's wall-clock
//!   limit) until enough is free.
//! - [`Rate`]: a token bucket of DingTalk API calls per second for one plugin, so a
//!   spamming plugin cannot spend the app's shared DingTalk quota.
//! - [`DingtalkCall`]: the kinds of DingTalk API call counted per frame.
//!
//! Invariants: the byte budget never hands out more than its capacity (a tokio
//! semaphore counts it, in KiB); the bucket never holds more than one second of calls.

use std::sync::Arc;
use std::time::Instant;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use super::limits::Limits;

/// One plugin's budget of host-side result bytes.
#[derive(Debug, Clone)]
pub struct ByteBudget {
    permits: Arc<Semaphore>,
    /// The capacity, in KiB (the semaphore's unit).
    kib: u32,
}

/// Bytes held from a [`ByteBudget`]; given back when dropped.
#[derive(Debug)]
pub struct Reservation {
    _permit: OwnedSemaphorePermit,
}

fn kib(bytes: u64) -> u64 {
    bytes.div_ceil(1024)
}

impl ByteBudget {
    /// A budget of `bytes` (rounded up to whole KiB).
    pub fn new(bytes: u64) -> Self {
        let kib = kib(bytes)
            .min(u64::from(u32::MAX))
            .min(Semaphore::MAX_PERMITS as u64) as u32;
        Self {
            permits: Arc::new(Semaphore::new(kib as usize)),
            kib,
        }
    }

    /// The whole budget, in bytes.
    pub fn capacity(&self) -> u64 {
        u64::from(self.kib) * 1024
    }

    /// Hold `bytes`, waiting until they are free; `Err(capacity)` at once when they
    /// are more than the whole budget.
    pub async fn reserve(&self, bytes: u64) -> Result<Reservation, u64> {
        let need = kib(bytes);
        if need > u64::from(self.kib) {
            return Err(self.capacity());
        }
        let permit = self
            .permits
            .clone()
            .acquire_many_owned(need as u32)
            .await
            .map_err(|_| self.capacity())?;
        Ok(Reservation { _permit: permit })
    }
}

/// A token bucket: `per_second` calls a second, bursts of at most `per_second`.
#[derive(Debug)]
pub struct Rate {
    per_second: u32,
    tokens: f64,
    at: Instant,
}

impl Rate {
    /// A full bucket at `now`.
    pub fn new(per_second: u32, now: Instant) -> Self {
        Self {
            per_second,
            tokens: f64::from(per_second),
            at: now,
        }
    }

    /// Take one call at `now`; false when the bucket is empty.
    pub fn take(&mut self, now: Instant) -> bool {
        let refill =
            now.saturating_duration_since(self.at).as_secs_f64() * f64::from(self.per_second);
        self.tokens = (self.tokens + refill).min(f64::from(self.per_second));
        self.at = now.max(self.at);
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

/// A kind of DingTalk API call, counted per frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DingtalkCall {
    /// A reply through the frame's session webhook.
    Reply,
    /// Sending, creating, delivering or updating a card.
    Card,
    /// Streaming into an AI card.
    CardStream,
    /// A media upload or download.
    Media,
    /// A proactive robot message.
    Message,
    /// A generic OpenAPI call.
    OpenApi,
}

impl DingtalkCall {
    /// How many kinds there are (the per-frame counters' length).
    pub const COUNT: usize = 6;

    /// Its per-frame counter.
    pub fn index(self) -> usize {
        self as usize
    }

    /// At most this many per frame, under `limits`.
    pub fn per_frame(self, limits: &Limits) -> u32 {
        match self {
            DingtalkCall::Reply => limits.replies_per_frame,
            DingtalkCall::Card => limits.card_calls_per_frame,
            DingtalkCall::CardStream => limits.card_streams_per_frame,
            DingtalkCall::Media => limits.media_calls_per_frame,
            DingtalkCall::Message => limits.messages_per_frame,
            DingtalkCall::OpenApi => limits.openapi_calls_per_frame,
        }
    }

    /// What is counted, for the `limit` error.
    pub fn what(self) -> &'static str {
        match self {
            DingtalkCall::Reply => "replies",
            DingtalkCall::Card => "card calls",
            DingtalkCall::CardStream => "card stream updates",
            DingtalkCall::Media => "media uploads and downloads",
            DingtalkCall::Message => "proactive messages",
            DingtalkCall::OpenApi => "OpenAPI calls",
        }
    }

    /// The capability, as metrics label it.
    pub fn capability(self) -> &'static str {
        match self {
            DingtalkCall::Reply => "reply",
            DingtalkCall::Card | DingtalkCall::CardStream => "cards",
            DingtalkCall::Media => "media",
            DingtalkCall::Message => "messages",
            DingtalkCall::OpenApi => "openapi",
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn a_bucket_allows_one_second_of_calls_then_refills_with_time() {
        let start = Instant::now();
        let mut rate = Rate::new(10, start);
        assert_eq!((0..20).filter(|_| rate.take(start)).count(), 10);
        assert!(!rate.take(start + Duration::from_millis(50)));
        assert!(rate.take(start + Duration::from_millis(100)));
        let later = start + Duration::from_secs(60);
        assert_eq!((0..20).filter(|_| rate.take(later)).count(), 10);
    }

    #[test]
    fn a_bucket_of_zero_refuses_every_call() {
        let start = Instant::now();
        let mut rate = Rate::new(0, start);
        assert!(!rate.take(start + Duration::from_secs(5)));
    }

    #[tokio::test]
    async fn a_reservation_above_the_budget_is_refused_at_once() {
        let budget = ByteBudget::new(4 << 20);
        assert_eq!(budget.reserve((4 << 20) + 1).await.unwrap_err(), 4 << 20);
        assert!(budget.reserve(4 << 20).await.is_ok());
    }

    #[tokio::test]
    async fn reservations_wait_until_enough_bytes_are_given_back() {
        let budget = ByteBudget::new(3 << 20);
        let first = budget.reserve(2 << 20).await.unwrap();
        let waiting = {
            let budget = budget.clone();
            tokio::spawn(async move { budget.reserve(2 << 20).await.map(drop) })
        };
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert!(!waiting.is_finished(), "2 + 2 MiB must not fit in 3");
        drop(first);
        tokio::time::timeout(Duration::from_secs(5), waiting)
            .await
            .expect("the second reservation goes through once the first is dropped")
            .unwrap()
            .unwrap();
    }
}
