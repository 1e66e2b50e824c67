//! Key-value state that outlives a frame, private to this plugin.
//!
//! Raw bytes ([`get`], [`set`]), JSON values ([`get_json`], [`set_json`]), counters
//! ([`increment`]), listings ([`keys`]) and read-modify-write without lost updates
//! ([`update`], a compare-and-swap loop). A quota past the operator's limits is
//! [`Error::Limit`]; a store that is down is [`Error::Unavailable`].
//!
//! ```no_run
//! use std::time::Duration;
//! use dingtalk_bot_sdk::kv;
//!
//! # fn main() -> Result<(), dingtalk_bot_sdk::Error> {
//! // A counter per conversation.
//! let n = kv::increment("count:cid123", 1)?;
//!
//! // A JSON value that expires in a day.
//! kv::set_json("settings:user1", &vec!["zh", "markdown"], Some(Duration::from_secs(86_400)))?;
//! let settings: Option<Vec<String>> = kv::get_json("settings:user1")?;
//!
//! // Append to a history without losing a concurrent writer's entry.
//! let history: Vec<String> = kv::update("history:cid123", |h: Option<Vec<String>>| {
//!     let mut h = h.unwrap_or_default();
//!     h.push("hello".into());
//!     h
//! }, None)?;
//! # Ok(())
//! # }
//! ```

use std::time::Duration;

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::Error;
use crate::bindings::dingtalk::bot::kv as wit;

/// How often [`update`] retries after another writer changed the key.
pub const UPDATE_ATTEMPTS: usize = 16;

fn ms(ttl: Option<Duration>) -> Option<u64> {
    ttl.map(|t| (t.as_millis() as u64).max(1))
}

/// The value of `key`, if set.
pub fn get(key: &str) -> Result<Option<Vec<u8>>, Error> {
    wit::get(key)
}

/// Set `key`, expiring after `ttl` when given.
pub fn set(key: &str, value: &[u8], ttl: Option<Duration>) -> Result<(), Error> {
    wit::set(key, value, ms(ttl))
}

/// Remove `key`; whether it was set.
pub fn delete(key: &str) -> Result<bool, Error> {
    wit::delete(key)
}

/// Whether `key` is set.
pub fn exists(key: &str) -> Result<bool, Error> {
    wit::exists(key)
}

/// Add `delta` to the counter at `key` (missing counts as 0); the new value.
pub fn increment(key: &str, delta: i64) -> Result<i64, Error> {
    wit::increment(key, delta)
}

/// Set `key` to `value` only if it currently holds `expected` (`None`: not set).
pub fn compare_and_swap(
    key: &str,
    expected: Option<&[u8]>,
    value: &[u8],
    ttl: Option<Duration>,
) -> Result<bool, Error> {
    wit::compare_and_swap(key, expected, value, ms(ttl))
}

/// Several values at once, in order.
pub fn get_many(keys: &[String]) -> Result<Vec<Option<Vec<u8>>>, Error> {
    wit::get_many(keys)
}

/// Set several keys at once (all or none).
pub fn set_many(entries: &[(String, Vec<u8>)], ttl: Option<Duration>) -> Result<(), Error> {
    wit::set_many(entries, ms(ttl))
}

/// The value at `key` as UTF-8 text, if set (invalid UTF-8 is an invalid-argument
/// error).
pub fn get_text(key: &str) -> Result<Option<String>, Error> {
    get(key)?
        .map(|bytes| {
            String::from_utf8(bytes).map_err(|_| {
                Error::InvalidArgument(format!("the value at {key:?} is not UTF-8 text"))
            })
        })
        .transpose()
}

/// The JSON value at `key`, if set.
pub fn get_json<T: DeserializeOwned>(key: &str) -> Result<Option<T>, Error> {
    get(key)?
        .map(|bytes| serde_json::from_slice(&bytes).map_err(Error::from))
        .transpose()
}

/// Store `value` as JSON at `key`.
pub fn set_json<T: Serialize + ?Sized>(
    key: &str,
    value: &T,
    ttl: Option<Duration>,
) -> Result<(), Error> {
    set(key, &serde_json::to_vec(value)?, ttl)
}

/// Every key starting with `prefix`, in byte order, fetched a page at a time.
pub fn keys(prefix: &str) -> Keys {
    Keys {
        prefix: prefix.to_owned(),
        cursor: None,
        page: Vec::new().into_iter(),
        done: false,
    }
}

/// The keys of a prefix; see [`keys`].
#[derive(Debug)]
pub struct Keys {
    prefix: String,
    cursor: Option<String>,
    page: std::vec::IntoIter<String>,
    done: bool,
}

impl Iterator for Keys {
    type Item = Result<String, Error>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if let Some(key) = self.page.next() {
                return Some(Ok(key));
            }
            if self.done {
                return None;
            }
            match wit::list_keys(&self.prefix, self.cursor.as_deref(), 100) {
                Ok(page) => {
                    self.done = page.cursor.is_none();
                    self.cursor = page.cursor;
                    self.page = page.keys.into_iter();
                }
                Err(e) => {
                    self.done = true;
                    return Some(Err(e));
                }
            }
        }
    }
}

/// Read the JSON value at `key`, compute the new one with `f`, and write it only if
/// nobody wrote in between, retrying up to [`UPDATE_ATTEMPTS`] times (then
/// [`Error::Unavailable`]: the key kept changing); the value written. The same
/// contract, argument order and bound as `kv.update` in the TypeScript and Python
/// SDKs.
pub fn update<T, F>(key: &str, f: F, ttl: Option<Duration>) -> Result<T, Error>
where
    T: Serialize + DeserializeOwned,
    F: FnMut(Option<T>) -> T,
{
    update_in(&mut Host, key, f, ttl)
}

/// The two operations [`update`] is built on, so the loop can run against a
/// scripted store in tests.
pub(crate) trait Cas {
    fn get(&mut self, key: &str) -> Result<Option<Vec<u8>>, Error>;
    fn compare_and_swap(
        &mut self,
        key: &str,
        expected: Option<&[u8]>,
        value: &[u8],
        ttl: Option<Duration>,
    ) -> Result<bool, Error>;
}

/// The host's store.
struct Host;

impl Cas for Host {
    fn get(&mut self, key: &str) -> Result<Option<Vec<u8>>, Error> {
        get(key)
    }

    fn compare_and_swap(
        &mut self,
        key: &str,
        expected: Option<&[u8]>,
        value: &[u8],
        ttl: Option<Duration>,
    ) -> Result<bool, Error> {
        compare_and_swap(key, expected, value, ttl)
    }
}

pub(crate) fn update_in<S, T, F>(
    store: &mut S,
    key: &str,
    mut f: F,
    ttl: Option<Duration>,
) -> Result<T, Error>
where
    S: Cas,
    T: Serialize + DeserializeOwned,
    F: FnMut(Option<T>) -> T,
{
    for _ in 0..UPDATE_ATTEMPTS {
        let current = store.get(key)?;
        let parsed = current
            .as_deref()
            .map(serde_json::from_slice::<T>)
            .transpose()?;
        let next = f(parsed);
        let bytes = serde_json::to_vec(&next)?;
        if store.compare_and_swap(key, current.as_deref(), &bytes, ttl)? {
            return Ok(next);
        }
    }
    Err(Error::Unavailable(format!(
        "{key:?} kept changing: {UPDATE_ATTEMPTS} compare-and-swap attempts failed"
    )))
}
