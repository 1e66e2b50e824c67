//! Every limit a plugin runs under, each written once in the table below: its field,
//! its default, and its key and unit in the config file (`[limits]`,
//! `[apps.<app>.limits]`, `[plugins.<name>.limits]`).
//!
//! [`Limits`] holds them in the units the host uses (bytes, [`Duration`]s);
//! [`LimitOverrides`] is one layer of changes, read from the file with serde (a key
//! no limit owns is an error), and [`Limits::with`] applies a layer. A `Limits`
//! serialises under the file's keys and units, so `/status` shows what an operator
//! writes.
//!
//! Invariants: a value read from the file never overflows on conversion (sizes
//! saturate), and `max_concurrency` is at least 1.

use std::time::Duration;

use serde::de::Deserializer;
use serde::ser::{SerializeMap as _, Serializer};
use serde::{Deserialize, Serialize};

/// How often the epoch ticks; the unit of the CPU budget.
pub const EPOCH_TICK: Duration = Duration::from_millis(10);

/// How a limit is written in the config file.
trait Unit<T> {
    /// The type the file holds.
    type Wire: Serialize + for<'de> Deserialize<'de>;
    fn read(wire: Self::Wire) -> T;
    fn write(value: &T) -> Self::Wire;
}

/// A plain number (a count, or bytes written as bytes).
struct Count;
/// Mebibytes.
struct Mib;
/// Kibibytes.
struct Kib;
/// Milliseconds.
struct Ms;

macro_rules! unit_for {
    ($($t:ty),*) => {$(
        impl Unit<$t> for Count {
            type Wire = $t;
            fn read(wire: $t) -> $t { wire }
            fn write(value: &$t) -> $t { *value }
        }
        impl Unit<$t> for Mib {
            type Wire = $t;
            fn read(wire: $t) -> $t { wire.saturating_mul(1 << 20) }
            fn write(value: &$t) -> $t { *value >> 20 }
        }
        impl Unit<$t> for Kib {
            type Wire = $t;
            fn read(wire: $t) -> $t { wire.saturating_mul(1 << 10) }
            fn write(value: &$t) -> $t { *value >> 10 }
        }
    )*};
}
unit_for!(u32, u64, usize);

impl Unit<Duration> for Ms {
    type Wire = u64;
    fn read(wire: u64) -> Duration {
        Duration::from_millis(wire)
    }
    fn write(value: &Duration) -> u64 {
        u64::try_from(value.as_millis()).unwrap_or(u64::MAX)
    }
}

/// The table: `field: type = default, key: unit;`, each with its documentation.
macro_rules! limits {
    ($($(#[doc = $doc:expr])* $field:ident: $ty:ty = $default:expr, $key:ident: $unit:ident;)*) => {
        /// Limits applied to every plugin call.
        #[derive(Debug, Clone, PartialEq, Eq)]
        pub struct Limits {
            $($(#[doc = $doc])* pub $field: $ty,)*
        }

        impl Default for Limits {
            fn default() -> Self {
                Self { $($field: $default,)* }
            }
        }

        /// Changes to [`Limits`]; unset fields keep the value they change.
        #[derive(Debug, Clone, Default, PartialEq, Eq)]
        pub struct LimitOverrides {
            $($(#[doc = $doc])* pub $field: Option<$ty>,)*
        }

        impl Limits {
            /// These limits with `o` applied.
            pub fn with(&self, o: &LimitOverrides) -> Limits {
                let mut limits = Limits {
                    $($field: o.$field.unwrap_or(self.$field),)*
                };
                limits.max_concurrency = limits.max_concurrency.max(1);
                limits
            }
        }

        /// The config file's keys of one layer.
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Keys {
            $(#[serde(default)] $key: Option<<$unit as Unit<$ty>>::Wire>,)*
        }

        impl<'de> Deserialize<'de> for LimitOverrides {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let keys = Keys::deserialize(d)?;
                Ok(Self { $($field: keys.$key.map(<$unit as Unit<$ty>>::read),)* })
            }
        }

        impl Serialize for Limits {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                let mut map = s.serialize_map(None)?;
                $(map.serialize_entry(stringify!($key), &<$unit as Unit<$ty>>::write(&self.$field))?;)*
                map.end()
            }
        }
    };
}

limits! {
    /// Linear memory one instance may grow to. Default 64 MiB: a message handler
    /// needs a few MiB; the cap keeps a leaking plugin from taking the host down.
    memory_bytes: usize = 64 << 20, memory_mib: Mib;
    /// Guest CPU time one call may use. Default 1 s: arithmetic and JSON take
    /// microseconds, so only a runaway loop gets near it.
    cpu_budget: Duration = Duration::from_secs(1), cpu_ms: Ms;
    /// Wall-clock time one call may take, host calls included. Default 30 s: three
    /// HTTP calls at their 10 s timeout.
    wall_timeout: Duration = Duration::from_secs(30), timeout_ms: Ms;
    /// Frames of one plugin handled at once. Default 16: a quarter of the host's
    /// in-flight bound, so one slow plugin cannot take every slot.
    max_concurrency: usize = 16, max_concurrency: Count;
    /// Frames of one plugin waiting for a slot at once; more are failed at once.
    /// Default 1024: a burst DingTalk pushes waits (each waiter is a small task, and
    /// none waits longer than the timeout), a flood does not pile up without bound.
    max_queue: usize = 1024, max_queue: Count;
    /// Outbound HTTP requests per frame. Default 16.
    http_requests: u32 = 16, http_requests: Count;
    /// Response body bytes per frame, all requests together. Default 16 MiB.
    http_response_bytes: u64 = 16 << 20, http_response_mib: Mib;
    /// Resolving, connecting and the TLS handshake of one request. Default 5 s.
    http_connect_timeout: Duration = Duration::from_secs(5), http_connect_timeout_ms: Ms;
    /// From a request sent to its response head, and between two body chunks.
    /// Default 60 s (a language model may think that long before its first token).
    http_first_byte_timeout: Duration = Duration::from_secs(60), http_first_byte_timeout_ms: Ms;
    /// Longest key-value key. Default 512 bytes.
    kv_key_bytes: usize = 512, kv_key_bytes: Count;
    /// Largest key-value value. Default 1 MiB.
    kv_value_bytes: usize = 1 << 20, kv_value_kib: Kib;
    /// Key-value bytes (keys plus values) one plugin may store. Default 64 MiB.
    kv_total_bytes: u64 = 64 << 20, kv_total_mib: Mib;
    /// Key-value keys one plugin may store. Default 100000.
    kv_keys: u64 = 100_000, kv_keys: Count;
    /// Key-value operations per frame. Default 1000: each is host work (and, for the
    /// embedded store, a disk write) the CPU budget does not see.
    kv_ops: u32 = 1000, kv_ops: Count;
    /// Host-side bytes of large host-call results (`kv.get-many`, `media.download`)
    /// one plugin's frames may hold at once, all together. Default 64 MiB: three
    /// downloads of DingTalk's largest file, sixteen full `get-many`s.
    host_buffer_bytes: u64 = 64 << 20, host_buffer_mib: Mib;
    /// Replies per frame. Default 10: an answer is one to three.
    replies_per_frame: u32 = 10, replies_per_frame: Count;
    /// Card sends, creations, deliveries and updates per frame. Default 50.
    card_calls_per_frame: u32 = 50, card_calls_per_frame: Count;
    /// AI card stream updates per frame. Default 500: a long answer streamed at a
    /// few updates a second for two minutes.
    card_streams_per_frame: u32 = 500, card_streams_per_frame: Count;
    /// Media uploads and downloads per frame. Default 20.
    media_calls_per_frame: u32 = 20, media_calls_per_frame: Count;
    /// Proactive messages per frame. Default 20.
    messages_per_frame: u32 = 20, messages_per_frame: Count;
    /// Generic OpenAPI calls per frame. Default 50.
    openapi_calls_per_frame: u32 = 50, openapi_calls_per_frame: Count;
    /// DingTalk API calls of all kinds per second, per plugin (a token bucket of one
    /// second). Default 1000: DingTalk throttles an app as a whole (about 60 card
    /// updates a second), so one plugin must not spend what its app shares.
    dingtalk_calls_per_second: u32 = 1000, dingtalk_calls_per_second: Count;
    /// Tool calls an agent's turn may make (approval requests included). Default 8.
    tool_calls_per_turn: u32 = 8, tool_calls_per_turn: Count;
    /// Calls of one tool with identical arguments per turn. Default 2: a model
    /// repeating itself is in a loop.
    same_call_per_turn: u32 = 2, same_call_per_turn: Count;
    /// Model requests an agent's turn may make (the SDK's agent loop keeps it).
    /// Default 6.
    model_rounds_per_turn: u32 = 6, model_rounds_per_turn: Count;
    /// Working time of one agent turn, over the frames it spans (waiting for a
    /// person does not count); each frame is still bounded by `timeout_ms`. Default
    /// 300 s.
    turn_timeout: Duration = Duration::from_secs(300), turn_timeout_ms: Ms;
    /// Model tokens one conversation may use per day with one agent (as the agent
    /// reports them from the model's stream). Default 200000.
    tokens_per_conversation_per_day: u64 = 200_000, tokens_per_conversation_per_day: Count;
    /// Wall-clock time of one tool call, in its own instance. Default 10 s.
    tool_timeout: Duration = Duration::from_secs(10), tool_timeout_ms: Ms;
    /// Bytes of a tool's result that reach the agent (the rest is cut with a
    /// marker). Default 16 KiB.
    tool_result_bytes: usize = 16 << 10, tool_result_kib: Kib;
}

impl Limits {
    /// The largest memory any plugin gets under these limits with `overrides`.
    pub fn memory_needed<'a>(
        &self,
        overrides: impl IntoIterator<Item = &'a LimitOverrides>,
    ) -> usize {
        overrides
            .into_iter()
            .map(|o| self.with(o).memory_bytes)
            .fold(self.memory_bytes, usize::max)
    }

    /// The CPU budget in epoch ticks (at least one).
    pub(crate) fn cpu_ticks(&self) -> u64 {
        (self.cpu_budget.as_millis() / EPOCH_TICK.as_millis()).max(1) as u64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn layer(text: &str) -> Result<LimitOverrides, toml::de::Error> {
        toml::from_str(text)
    }

    #[test]
    fn the_file_names_limits_in_its_units_and_layers_apply_in_order() {
        let app = layer("memory_mib = 32\ncpu_ms = 250\nkv_value_kib = 4\n").unwrap();
        let plugin = layer("memory_mib = 8\n").unwrap();
        let limits = Limits::default().with(&app).with(&plugin);
        assert_eq!(limits.memory_bytes, 8 << 20);
        assert_eq!(limits.cpu_budget, Duration::from_millis(250));
        assert_eq!(limits.kv_value_bytes, 4 << 10);
        assert_eq!(limits.kv_ops, Limits::default().kv_ops);
    }

    #[test]
    fn an_unknown_or_mistyped_limit_is_an_error_naming_it() {
        let err = layer("memory_mb = 8\n").unwrap_err().to_string();
        assert!(err.contains("memory_mb"), "{err}");
        let err = layer("cpu_ms = \"fast\"\n").unwrap_err().to_string();
        assert!(err.contains("cpu_ms"), "{err}");
    }

    #[test]
    fn a_huge_size_saturates_and_concurrency_stays_at_least_one() {
        let o = layer("memory_mib = 18446744073709551615\nmax_concurrency = 0\n").unwrap();
        let limits = Limits::default().with(&o);
        assert_eq!(limits.memory_bytes, usize::MAX);
        assert_eq!(limits.max_concurrency, 1);
    }

    #[test]
    fn limits_serialise_under_the_keys_an_operator_writes() {
        let shown = serde_json::to_value(Limits::default()).unwrap();
        assert_eq!(shown["memory_mib"], 64);
        assert_eq!(shown["timeout_ms"], 30_000);
        assert_eq!(shown["kv_value_kib"], 1024);
        let back: LimitOverrides = serde_json::from_value(shown).unwrap();
        assert_eq!(Limits::default().with(&back), Limits::default());
    }
}
