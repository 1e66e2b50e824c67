//! Key-value state: the WIT `kv` interface over the host's [`crate::kv::Backend`].
//!
//! Every plugin gets its own namespace (app and plugin name), so no key it names can
//! reach another plugin's: the namespace is added by the host, never taken from the
//! guest. No grant is needed; the limits are per plugin (`[limits]`): key and value
//! size, keys per batch and page, operations per frame (each one is host work the
//! CPU budget does not see), and the store's total bytes and keys. Results are bounded
//! too: a value by the value limit it was stored under, a `list-keys` page by its
//! keys' limit, and a `get-many` answer by four times the value limit, decided from
//! the stored sizes before any value is read and reserved from the plugin's
//! host-buffer budget (`runtime::allowance`).

use std::sync::Arc;
use std::time::Duration;

use crate::kv::{Backend, KvError, Namespace, Quota};
use crate::metrics::{AppMetrics, CallResult};
use crate::runtime::bindings::dingtalk::bot::kv;
use crate::runtime::bindings::linked_view;
use crate::runtime::bindings::{HostError, HostResult, WitError, invalid, limit};
use crate::runtime::caller::Calls;

/// Most keys in one `get-many` or `set-many`.
pub const MAX_BATCH: usize = 100;

/// Most keys in one `list-keys` page.
pub const MAX_PAGE: u32 = 1000;

fn to_wit(e: KvError) -> HostError {
    HostError::Guest(match e {
        KvError::Limit(m) => WitError::Limit(m),
        KvError::Invalid(m) => WitError::InvalidArgument(m),
        KvError::Unavailable(m) => WitError::Unavailable(m),
    })
}

/// Key-value operations one frame has made so far.
#[derive(Debug, Default)]
pub struct Ops(u32);

/// What the key-value functions use: the app's store and namespace, the frame's
/// operation count.
pub struct View<'a> {
    /// The plugin, its limits and its host-buffer budget.
    pub calls: Calls<'a>,
    /// The app's store, if the host has one.
    pub store: Option<&'a Arc<dyn Backend>>,
    /// The app's name: the first half of the plugin's namespace.
    pub app: &'a str,
    /// The frame's operations so far.
    pub ops: &'a mut Ops,
}

linked_view!(View);

/// What one call needs, taken from the view before anything awaits.
struct Call<'a> {
    store: Arc<dyn Backend>,
    ns: Namespace,
    quota: Quota,
    plugin: &'a str,
    op: &'static str,
    metrics: &'a AppMetrics,
}

fn kv_result<T>(result: &Result<T, KvError>) -> CallResult {
    match result {
        Ok(_) => CallResult::Ok,
        Err(KvError::Limit(_)) => CallResult::Limit,
        Err(KvError::Invalid(_)) => CallResult::Invalid,
        Err(KvError::Unavailable(_)) => CallResult::Unavailable,
    }
}

impl Call<'_> {
    /// Count the operation as `result`.
    fn count(&self, result: CallResult) {
        self.metrics.kv_op(self.plugin, self.op, result);
        self.metrics.host_call(self.plugin, "kv", result);
    }

    /// Count the operation and log an outage (the guest gets the typed error either way).
    fn report<T>(&self, result: Result<T, KvError>) -> HostResult<T> {
        self.count(kv_result(&result));
        if let Err(KvError::Unavailable(reason)) = &result {
            tracing::warn!(plugin = %self.plugin, %reason, "key-value store unavailable");
        }
        result.map_err(to_wit)
    }
}

impl<'v> View<'v> {
    /// Count one operation and check the keys and values it carries.
    fn kv_call<'a>(
        &mut self,
        op: &'static str,
        keys: impl IntoIterator<Item = &'a str>,
        values: impl IntoIterator<Item = &'a [u8]>,
    ) -> HostResult<Call<'v>> {
        let checked = self.kv_check(keys, values);
        let caller = self.calls.caller();
        let call = |store, quota| Call {
            store,
            ns: Namespace::new(self.app, &caller.name),
            quota,
            plugin: &caller.name,
            op,
            metrics: &caller.metrics,
        };
        match checked {
            Ok((store, quota)) => Ok(call(store, quota)),
            Err(e) => {
                let result = match &e {
                    HostError::Guest(WitError::Limit(_)) => CallResult::Limit,
                    HostError::Guest(WitError::Unavailable(_)) => CallResult::Unavailable,
                    _ => CallResult::Invalid,
                };
                caller.metrics.kv_op(&caller.name, op, result);
                caller.metrics.host_call(&caller.name, "kv", result);
                Err(e)
            }
        }
    }

    fn kv_check<'a>(
        &mut self,
        keys: impl IntoIterator<Item = &'a str>,
        values: impl IntoIterator<Item = &'a [u8]>,
    ) -> HostResult<(Arc<dyn Backend>, Quota)> {
        let limits = &self.calls.caller().limits;
        if self.ops.0 >= limits.kv_ops {
            return Err(limit(format!(
                "at most {} key-value operations per frame",
                limits.kv_ops
            )));
        }
        self.ops.0 += 1;
        for key in keys {
            if key.is_empty() || key.len() > limits.kv_key_bytes {
                return Err(invalid(format!(
                    "a key is {} bytes; it must be 1 to {}",
                    key.len(),
                    limits.kv_key_bytes
                )));
            }
        }
        for value in values {
            if value.len() > limits.kv_value_bytes {
                return Err(invalid(format!(
                    "a value is {} bytes; at most {} are allowed",
                    value.len(),
                    limits.kv_value_bytes
                )));
            }
        }
        let store = self.store.cloned().ok_or_else(|| {
            HostError::Guest(WitError::Unavailable(
                "the host has no key-value store configured".to_owned(),
            ))
        })?;
        Ok((
            store,
            Quota {
                total_bytes: limits.kv_total_bytes,
                keys: limits.kv_keys,
            },
        ))
    }
}

fn ttl(ms: Option<u64>) -> HostResult<Option<Duration>> {
    match ms {
        Some(0) => Err(invalid("a TTL must be at least 1 ms")),
        ms => Ok(ms.map(Duration::from_millis)),
    }
}

fn batch(n: usize) -> HostResult<()> {
    if n > MAX_BATCH {
        return Err(invalid(format!(
            "{n} keys in one call; at most {MAX_BATCH} are allowed"
        )));
    }
    Ok(())
}

impl kv::Host for View<'_> {
    async fn get(&mut self, key: String) -> HostResult<Option<Vec<u8>>> {
        let call = self.kv_call("get", [key.as_str()], [])?;
        call.report(call.store.get(call.ns.clone(), key).await)
    }

    async fn set(&mut self, key: String, value: Vec<u8>, ttl_ms: Option<u64>) -> HostResult<()> {
        let ttl = ttl(ttl_ms)?;
        let call = self.kv_call("set", [key.as_str()], [value.as_slice()])?;
        let result = call
            .store
            .set(call.ns.clone(), vec![(key, value)], ttl, call.quota)
            .await;
        call.report(result)
    }

    async fn delete(&mut self, key: String) -> HostResult<bool> {
        let call = self.kv_call("delete", [key.as_str()], [])?;
        call.report(call.store.delete(call.ns.clone(), key).await)
    }

    async fn exists(&mut self, key: String) -> HostResult<bool> {
        let call = self.kv_call("exists", [key.as_str()], [])?;
        call.report(
            call.store
                .get(call.ns.clone(), key)
                .await
                .map(|v| v.is_some()),
        )
    }

    async fn list_keys(
        &mut self,
        prefix: String,
        cursor: Option<String>,
        limit: u32,
    ) -> HostResult<kv::KeyPage> {
        if limit == 0 || limit > MAX_PAGE {
            return Err(invalid(format!("a page holds 1 to {MAX_PAGE} keys")));
        }
        let max_key = self.calls.caller().limits.kv_key_bytes;
        if prefix.len() > max_key || cursor.as_ref().is_some_and(|c| c.len() > max_key) {
            return Err(invalid(format!(
                "a prefix or cursor is at most {max_key} bytes"
            )));
        }
        let call = self.kv_call("list_keys", [], [])?;
        let page = call.report(
            call.store
                .list(call.ns.clone(), prefix, cursor, limit as usize)
                .await,
        )?;
        Ok(kv::KeyPage {
            keys: page.keys,
            cursor: page.cursor,
        })
    }

    async fn increment(&mut self, key: String, delta: i64) -> HostResult<i64> {
        let call = self.kv_call("increment", [key.as_str()], [])?;
        let result = call
            .store
            .increment(call.ns.clone(), key, delta, call.quota)
            .await;
        call.report(result)
    }

    async fn compare_and_swap(
        &mut self,
        key: String,
        expected: Option<Vec<u8>>,
        value: Vec<u8>,
        ttl_ms: Option<u64>,
    ) -> HostResult<bool> {
        let ttl = ttl(ttl_ms)?;
        let call = self.kv_call(
            "compare_and_swap",
            [key.as_str()],
            [value.as_slice(), expected.as_deref().unwrap_or_default()],
        )?;
        let result = call
            .store
            .compare_and_swap(call.ns.clone(), key, expected, value, ttl, call.quota)
            .await;
        call.report(result)
    }

    async fn get_many(&mut self, keys: Vec<String>) -> HostResult<Vec<Option<Vec<u8>>>> {
        batch(keys.len())?;
        let call = self.kv_call("get_many", keys.iter().map(String::as_str), [])?;
        // The answer is at most four values' worth (as `set-many` takes) and the
        // plugin's whole host-buffer budget, and no more than the named keys can
        // hold: reserved before anything is read.
        let caller = self.calls.caller();
        let value = caller.limits.kv_value_bytes as u64;
        let max = value.saturating_mul(4).min(caller.buffer_capacity());
        let reserve = max.min(value.saturating_mul(keys.len() as u64));
        if let Err(e) = self.calls.reserve("this get-many", reserve).await {
            call.count(CallResult::Limit);
            return Err(e);
        }
        call.report(call.store.get_many(call.ns.clone(), keys, max).await)
    }

    async fn set_many(
        &mut self,
        entries: Vec<(String, Vec<u8>)>,
        ttl_ms: Option<u64>,
    ) -> HostResult<()> {
        batch(entries.len())?;
        let ttl = ttl(ttl_ms)?;
        let total: usize = entries.iter().map(|(_, v)| v.len()).sum();
        let max = self.calls.caller().limits.kv_value_bytes.saturating_mul(4);
        if total > max {
            return Err(invalid(format!(
                "the values add up to {total} bytes; one call carries at most {max}"
            )));
        }
        let call = self.kv_call(
            "set_many",
            entries.iter().map(|(k, _)| k.as_str()),
            entries.iter().map(|(_, v)| v.as_slice()),
        )?;
        let result = call
            .store
            .set(call.ns.clone(), entries, ttl, call.quota)
            .await;
        call.report(result)
    }
}
