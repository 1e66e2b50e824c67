//! At-least-once delivery, handled once: DingTalk re-pushes frames whose ACK it did
//! not see in time (protocol.md B.8), with the same `messageId` or the same payload
//! id (`msgId` of a chatbot message, `eventId` of an event).
//!
//! A frame is known by all of its keys. The first frame with a key is handled; a later
//! one with any of its keys is not handled again but is ACKed again: with the first
//! one's ACK when it is done, or as accepted while it is still running. Entries live
//! for a TTL and the table is capped both in keys and in the bytes of the ACKs it
//! keeps (a callback response may be 64 KiB), oldest out first. Time is passed in,
//! never read here, so the rules are tested without waiting.
//!
//! Memory: at most `cap` keys of a few dozen bytes each, plus at most `max_bytes` of
//! ACK text (messages are already cut to 1 KiB before they get here).

use std::collections::{HashMap, VecDeque};
use std::hash::{BuildHasher, RandomState};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// What to do with a frame.
#[derive(Debug, Clone, PartialEq)]
pub enum Seen {
    /// First time: handle it.
    New,
    /// A repeat of a frame still being handled.
    InFlight,
    /// A repeat of a finished frame: ACK with this `(code, message, data)` again.
    Done(u16, String, String),
}

/// A key as the table stores it: 128 bits of two independently keyed SipHashes of
/// the key text. At the cap of 100,000 keys the chance that two distinct keys
/// collide (and a new frame is taken for a repeat) is about 1e-29, and an entry
/// costs a fixed few dozen bytes however long DingTalk's ids are: at high rates the
/// table is always full, so its entry size is the host's memory floor.
type Key = u128;

/// The ACK a finished frame got, shared by all of the frame's keys.
#[derive(Debug)]
struct Done {
    code: u16,
    message: Box<str>,
    data: Box<str>,
}

impl Done {
    fn bytes(&self) -> usize {
        self.message.len() + self.data.len()
    }
}

#[derive(Debug, Clone)]
struct Entry {
    at: Instant,
    ack: Option<Arc<Done>>,
}

/// The table of recent frame keys.
#[derive(Debug)]
pub struct Dedup {
    entries: HashMap<Key, Entry>,
    order: VecDeque<(Instant, Key)>,
    hashers: (RandomState, RandomState),
    ttl: Duration,
    cap: usize,
    bytes: usize,
    max_bytes: usize,
}

impl Dedup {
    /// Remember keys for `ttl`, at most `cap` of them and `max_bytes` of ACK text.
    pub fn new(ttl: Duration, cap: usize, max_bytes: usize) -> Self {
        Self {
            entries: HashMap::new(),
            order: VecDeque::new(),
            hashers: (RandomState::new(), RandomState::new()),
            ttl,
            cap: cap.max(1),
            bytes: 0,
            max_bytes,
        }
    }

    fn key(&self, text: &str) -> Key {
        (u128::from(self.hashers.0.hash_one(text)) << 64)
            | u128::from(self.hashers.1.hash_one(text))
    }

    fn expire(&mut self, now: Instant) {
        while let Some((at, _)) = self.order.front() {
            let old = now.saturating_duration_since(*at) >= self.ttl
                || self.order.len() > self.cap
                || self.bytes > self.max_bytes;
            if !old {
                break;
            }
            if let Some((at, key)) = self.order.pop_front()
                && self.entries.get(&key).is_some_and(|e| e.at == at)
                && let Some(Entry {
                    ack: Some(done), ..
                }) = self.entries.remove(&key)
                && Arc::strong_count(&done) == 1
            {
                // The frame's last key is gone, and with it its ACK.
                self.bytes -= done.bytes();
            }
        }
    }

    /// Look `keys` up; if none is known, remember them all as in flight.
    pub fn check(&mut self, keys: &[&str], now: Instant) -> Seen {
        self.expire(now);
        let keys: Vec<Key> = keys.iter().map(|k| self.key(k)).collect();
        for key in &keys {
            if let Some(entry) = self.entries.get(key) {
                return match &entry.ack {
                    None => Seen::InFlight,
                    Some(done) => {
                        Seen::Done(done.code, done.message.to_string(), done.data.to_string())
                    }
                };
            }
        }
        for key in keys {
            self.entries.insert(key, Entry { at: now, ack: None });
            self.order.push_back((now, key));
        }
        self.expire(now);
        Seen::New
    }

    /// Record the ACK the frame with `keys` got.
    pub fn complete(&mut self, keys: &[&str], code: u16, message: &str, data: &str) {
        let done = Arc::new(Done {
            code,
            message: message.into(),
            data: data.into(),
        });
        let mut kept = false;
        for key in keys {
            if let Some(e) = self.entries.get_mut(&self.key(key)) {
                if let Some(old) = e.ack.replace(done.clone())
                    && Arc::strong_count(&old) == 1
                {
                    self.bytes -= old.bytes();
                }
                kept = true;
            }
        }
        if kept {
            self.bytes += done.bytes();
        }
    }

    /// Bytes of ACK text kept now.
    #[cfg(test)]
    fn bytes(&self) -> usize {
        self.bytes
    }

    /// Keys remembered now.
    #[cfg(test)]
    fn len(&self) -> usize {
        self.entries.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_repeat_by_message_id_or_payload_id_is_not_handled_again() {
        let mut d = Dedup::new(Duration::from_secs(60), 100, 1 << 20);
        let t = Instant::now();
        assert_eq!(d.check(&["m1", "msgA"], t), Seen::New);
        assert_eq!(d.check(&["m1"], t), Seen::InFlight);
        assert_eq!(d.check(&["m2", "msgA"], t), Seen::InFlight);
        d.complete(&["m1", "msgA"], 200, "OK", "{}");
        assert_eq!(
            d.check(&["m3", "msgA"], t),
            Seen::Done(200, "OK".into(), "{}".into())
        );
    }

    #[test]
    fn keys_are_forgotten_after_the_ttl() {
        let mut d = Dedup::new(Duration::from_secs(60), 100, 1 << 20);
        let t = Instant::now();
        assert_eq!(d.check(&["m1"], t), Seen::New);
        assert_eq!(
            d.check(&["m1"], t + Duration::from_secs(59)),
            Seen::InFlight
        );
        assert_eq!(d.check(&["m1"], t + Duration::from_secs(61)), Seen::New);
    }

    #[test]
    fn the_table_never_grows_past_its_cap() {
        let mut d = Dedup::new(Duration::from_secs(60), 3, 1 << 20);
        let t = Instant::now();
        for i in 0..10 {
            d.check(&[&format!("m{i}")], t);
        }
        assert_eq!(d.len(), 3);
        assert_eq!(d.check(&["m9"], t), Seen::InFlight);
        assert_eq!(d.check(&["m0"], t), Seen::New);
    }

    #[test]
    fn the_acks_kept_never_pass_the_byte_cap() {
        let mut d = Dedup::new(Duration::from_secs(600), 100_000, 10 << 20);
        let t = Instant::now();
        let big = "x".repeat(1 << 20);
        for i in 0..100 {
            let keys = [format!("m{i}"), format!("p{i}")];
            let keys: Vec<&str> = keys.iter().map(String::as_str).collect();
            assert_eq!(d.check(&keys, t), Seen::New);
            d.complete(&keys, 500, &big, "{}");
            assert!(
                d.bytes() <= (10 << 20) + (1 << 20) + 2,
                "{} bytes",
                d.bytes()
            );
        }
        d.check(&["next"], t);
        assert!(d.bytes() <= 10 << 20, "{} bytes", d.bytes());
        assert!(matches!(d.check(&["m99"], t), Seen::Done(500, _, _)));
        assert_eq!(d.check(&["m0"], t), Seen::New);
    }
}
