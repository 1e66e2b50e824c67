//! The Redis backend, for host replicas that share state.
//!
//! Layout per namespace, under `dtwh:<namespace prefix>` (app and plugin, so replicas
//! of one app share keys and two apps never do):
//! - `…k:<key>`: the value, with Redis's own TTL (`PX`);
//! - `…idx`: a sorted set of the keys (all score 0, so ordered by bytes), for paged
//!   `list-keys` with `ZRANGEBYLEX`;
//! - `…sz`: a hash key → its size, and `…bytes`: their sum, for the quotas.
//!
//! Every write is one Lua script, so the quota check and the write are atomic for all
//! replicas. Redis expires values on its own; the index and sizes of an expired key
//! are dropped by the next script that touches the key, by listings that pass it, and
//! by a whole-namespace clean-up before a write is refused for quota (so expired keys
//! never cause a refusal). The scripts build key names from the namespace base, so
//! this works on a single Redis or a replicated one, not on Redis Cluster.
//!
//! The connection manager connects lazily and reconnects; while Redis is down every
//! operation fails at once with [`KvError::Unavailable`] and the host keeps serving.

use std::time::Duration;

use futures_util::future::BoxFuture;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{AsyncCommands, Script};

use super::claims::Claims;
use super::{Backend, KeyPage, KvError, KvResult, Namespace, Quota, over_quota, too_many_bytes};

/// Drop the index entry and size of `k` when its value expired.
const CLEAN: &str = r"
local function clean(base, k)
  if redis.call('EXISTS', base .. 'k:' .. k) == 0 then
    local old = redis.call('HGET', base .. 'sz', k)
    if old then
      redis.call('HDEL', base .. 'sz', k)
      redis.call('DECRBY', base .. 'bytes', old)
      redis.call('ZREM', base .. 'idx', k)
    end
  end
end
";

/// ARGV: max bytes, max keys, ttl ms ('0': none), mode ('set' | 'cas'), the
/// expected-flag ('0': must be absent, '1': must equal) and the expected value (both
/// empty for 'set'), then key/value pairs (for 'cas', the one key compared). Answers
/// {'ok', '1'|'0'} or {'limit', 'bytes'|'keys'}.
const SET: &str = r"
local base = KEYS[1]
local maxb, maxk, ttl = tonumber(ARGV[1]), tonumber(ARGV[2]), ARGV[3]
local i = 7
if ARGV[4] == 'cas' then
  local k = ARGV[7]
  clean(base, k)
  local cur = redis.call('GET', base .. 'k:' .. k)
  if ARGV[5] == '0' then
    if cur then return {'ok', '0'} end
  elseif cur ~= ARGV[6] then
    return {'ok', '0'}
  end
end
local bytes = tonumber(redis.call('GET', base .. 'bytes') or '0')
local keys = redis.call('HLEN', base .. 'sz')
local sizes = {}
for j = i, #ARGV, 2 do
  local k = ARGV[j]
  clean(base, k)
  local old = sizes[k]
  if old == nil then old = tonumber(redis.call('HGET', base .. 'sz', k) or '-1') end
  if old >= 0 then bytes = bytes - old else keys = keys + 1 end
  local new = #k + #ARGV[j + 1]
  bytes = bytes + new
  sizes[k] = new
end
if bytes > maxb then return {'limit', 'bytes'} end
if keys > maxk then return {'limit', 'keys'} end
for j = i, #ARGV, 2 do
  local k, v = ARGV[j], ARGV[j + 1]
  local dk = base .. 'k:' .. k
  if ttl == '0' then redis.call('SET', dk, v) else redis.call('SET', dk, v, 'PX', ttl) end
  local old = tonumber(redis.call('HGET', base .. 'sz', k) or '0')
  redis.call('HSET', base .. 'sz', k, #k + #v)
  redis.call('INCRBY', base .. 'bytes', #k + #v - old)
  redis.call('ZADD', base .. 'idx', 0, k)
end
return {'ok', '1'}
";

/// ARGV: key. Answers 1 when it was set.
const DELETE: &str = r"
local base, k = KEYS[1], ARGV[1]
clean(base, k)
local old = redis.call('HGET', base .. 'sz', k)
if not old then return 0 end
redis.call('DEL', base .. 'k:' .. k)
redis.call('HDEL', base .. 'sz', k)
redis.call('DECRBY', base .. 'bytes', old)
redis.call('ZREM', base .. 'idx', k)
return 1
";

/// ARGV: key, delta, max bytes, max keys. Answers {'ok', value} or {'limit'|'invalid', why}.
const INCREMENT: &str = r"
local base, k = KEYS[1], ARGV[1]
clean(base, k)
local dk = base .. 'k:' .. k
local cur = redis.call('GET', dk)
if cur and not string.match(cur, '^%-?%d+$') then return {'invalid', 'the value is not a decimal integer'} end
local r = redis.pcall('INCRBY', dk, ARGV[2])
if type(r) == 'table' and r.err then return {'invalid', 'the increment overflows a 64-bit integer'} end
local new = #k + redis.call('STRLEN', dk)
local old = tonumber(redis.call('HGET', base .. 'sz', k) or '-1')
local bytes = tonumber(redis.call('GET', base .. 'bytes') or '0') + new
local keys = redis.call('HLEN', base .. 'sz')
if old >= 0 then bytes = bytes - old else keys = keys + 1 end
local over = nil
if bytes > tonumber(ARGV[3]) then over = 'bytes' elseif keys > tonumber(ARGV[4]) then over = 'keys' end
if over then
  if cur then redis.call('SET', dk, cur, 'KEEPTTL') else redis.call('DEL', dk) end
  return {'limit', over}
end
redis.call('HSET', base .. 'sz', k, new)
redis.call('INCRBY', base .. 'bytes', new - math.max(old, 0))
redis.call('ZADD', base .. 'idx', 0, k)
return {'ok', redis.call('GET', dk)}
";

/// ARGV: min and max bound for ZRANGEBYLEX, limit. Answers a 'more' flag ('1'/'0')
/// and then the live keys.
const LIST: &str = r"
local base, min, max, limit = KEYS[1], ARGV[1], ARGV[2], tonumber(ARGV[3])
local out = {'0'}
while true do
  local batch = redis.call('ZRANGEBYLEX', base .. 'idx', min, max, 'LIMIT', 0, 128)
  if #batch == 0 then return out end
  for _, k in ipairs(batch) do
    if redis.call('EXISTS', base .. 'k:' .. k) == 1 then
      if #out - 1 == limit then out[1] = '1' return out end
      out[#out + 1] = k
    else
      clean(base, k)
    end
    min = '(' .. k
  end
end
";

/// ARGV: max bytes, then the keys. Answers {'limit', total} when the values add up to
/// more than max bytes (from STRLEN, before any value is read), else {'ok', values…}
/// (false for a missing key).
const GET_MANY: &str = r"
local base, max = KEYS[1], tonumber(ARGV[1])
local total = 0
for i = 2, #ARGV do total = total + redis.call('STRLEN', base .. 'k:' .. ARGV[i]) end
if total > max then return {'limit', tostring(total)} end
local out = {'ok'}
for i = 2, #ARGV do out[i] = redis.call('GET', base .. 'k:' .. ARGV[i]) end
return out
";

/// Clean every expired key of a namespace. Answers how many.
const SWEEP: &str = r"
local base, n = KEYS[1], 0
for _, k in ipairs(redis.call('ZRANGE', base .. 'idx', 0, -1)) do
  if redis.call('EXISTS', base .. 'k:' .. k) == 0 then clean(base, k) n = n + 1 end
end
return n
";

/// How long one Redis call may take before the plugin gets `unavailable`.
const RESPONSE_TIMEOUT: Duration = Duration::from_secs(2);

/// The Redis-backed store.
#[derive(Clone)]
pub struct Redis {
    conn: ConnectionManager,
    scripts: std::sync::Arc<Scripts>,
    /// The URL without its password, for logs.
    shown: String,
}

impl std::fmt::Debug for Redis {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Redis").field("url", &self.shown).finish()
    }
}

struct Scripts {
    set: Script,
    delete: Script,
    increment: Script,
    list: Script,
    get_many: Script,
    sweep: Script,
}

fn unavailable(e: redis::RedisError) -> KvError {
    KvError::Unavailable(format!("the Redis key-value store failed: {e}"))
}

fn base(ns: &Namespace) -> String {
    format!("dtwh:{}", ns.prefix())
}

fn data_key(ns: &Namespace, key: &str) -> String {
    format!("{}k:{key}", base(ns))
}

fn ttl_arg(ttl: Option<Duration>) -> String {
    ttl.map_or("0".to_owned(), |t| t.as_millis().max(1).to_string())
}

fn outcome(answer: (String, String)) -> KvResult<String> {
    match answer.0.as_str() {
        "ok" => Ok(answer.1),
        "limit" => Err(KvError::Limit(answer.1)),
        _ => Err(KvError::Invalid(answer.1)),
    }
}

impl Redis {
    /// A store on the Redis at `url` (`redis://host:port/db`); connects on first use.
    pub fn connect(url: &str) -> Result<Self, String> {
        let shown = match url.split_once('@') {
            Some((scheme_user, rest)) => {
                let scheme = scheme_user.split("://").next().unwrap_or("redis");
                format!("{scheme}://***@{rest}")
            }
            None => url.to_owned(),
        };
        let client =
            redis::Client::open(url).map_err(|e| format!("invalid Redis URL {shown}: {e}"))?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(RESPONSE_TIMEOUT))
            .set_response_timeout(Some(RESPONSE_TIMEOUT))
            .set_number_of_retries(1)
            .set_max_delay(Duration::from_millis(500));
        let conn = ConnectionManager::new_lazy_with_config(client, config)
            .map_err(|e| format!("cannot use Redis at {shown}: {e}"))?;
        let script = |body: &str| Script::new(&format!("{CLEAN}{body}"));
        Ok(Self {
            conn,
            scripts: std::sync::Arc::new(Scripts {
                set: script(SET),
                delete: script(DELETE),
                increment: script(INCREMENT),
                list: script(LIST),
                get_many: Script::new(GET_MANY),
                sweep: script(SWEEP),
            }),
            shown,
        })
    }

    /// The URL, password hidden.
    pub fn shown_url(&self) -> &str {
        &self.shown
    }

    /// Run a write script (built by `invocation`); on a quota refusal clean the
    /// namespace's expired keys once and run it again, so keys Redis already expired
    /// never cause a refusal. The script's answer.
    async fn write<'s>(
        &'s self,
        base: &str,
        quota: Quota,
        invocation: impl Fn() -> redis::ScriptInvocation<'s>,
    ) -> KvResult<String> {
        for attempt in 0..2 {
            let answer: (String, String) = invocation()
                .invoke_async(&mut self.conn.clone())
                .await
                .map_err(unavailable)?;
            match outcome(answer) {
                Err(KvError::Limit(_)) if attempt == 0 => {
                    let _: u64 = self
                        .scripts
                        .sweep
                        .key(base)
                        .invoke_async(&mut self.conn.clone())
                        .await
                        .map_err(unavailable)?;
                }
                Err(KvError::Limit(what)) => {
                    let limit = if what == "keys" {
                        quota.keys
                    } else {
                        quota.total_bytes
                    };
                    return Err(over_quota(&what, limit));
                }
                other => return other,
            }
        }
        unreachable!("the loop returns on its second attempt")
    }

    /// Set `entries` (with `cas`: only if the first key holds the expected value);
    /// whether they were set.
    async fn set_script(
        &self,
        ns: &Namespace,
        quota: Quota,
        ttl: Option<Duration>,
        cas: Option<Option<&[u8]>>,
        entries: &[(String, Vec<u8>)],
    ) -> KvResult<bool> {
        let b = base(ns);
        let flag = self
            .write(&b, quota, || {
                let mut call = self.scripts.set.key(&b);
                call.arg(quota.total_bytes)
                    .arg(quota.keys)
                    .arg(ttl_arg(ttl));
                match cas {
                    Some(expected) => call
                        .arg("cas")
                        .arg(if expected.is_some() { "1" } else { "0" })
                        .arg(expected.unwrap_or_default()),
                    None => call.arg("set").arg("").arg(""),
                };
                for (k, v) in entries {
                    call.arg(k).arg(v.as_slice());
                }
                call
            })
            .await?;
        Ok(flag == "1")
    }
}

impl Redis {
    /// Replicas' frame claims in this Redis, over the same connection.
    pub fn claims(&self) -> Claims {
        Claims::new(self.conn.clone())
    }
}

impl Backend for Redis {
    fn get(&self, ns: Namespace, key: String) -> BoxFuture<'static, KvResult<Option<Vec<u8>>>> {
        let mut conn = self.conn.clone();
        Box::pin(async move { conn.get(data_key(&ns, &key)).await.map_err(unavailable) })
    }

    fn set(
        &self,
        ns: Namespace,
        entries: Vec<(String, Vec<u8>)>,
        ttl: Option<Duration>,
        quota: Quota,
    ) -> BoxFuture<'static, KvResult<()>> {
        let this = self.clone();
        Box::pin(async move {
            this.set_script(&ns, quota, ttl, None, &entries)
                .await
                .map(|_| ())
        })
    }

    fn delete(&self, ns: Namespace, key: String) -> BoxFuture<'static, KvResult<bool>> {
        let this = self.clone();
        Box::pin(async move {
            let n: i64 = this
                .scripts
                .delete
                .key(base(&ns))
                .arg(key)
                .invoke_async(&mut this.conn.clone())
                .await
                .map_err(unavailable)?;
            Ok(n == 1)
        })
    }

    fn list(
        &self,
        ns: Namespace,
        prefix: String,
        after: Option<String>,
        limit: usize,
    ) -> BoxFuture<'static, KvResult<KeyPage>> {
        let this = self.clone();
        Box::pin(async move {
            let min = match &after {
                Some(a) if a.as_str() >= prefix.as_str() => format!("({a}"),
                _ => format!("[{prefix}"),
            };
            let max: Vec<u8> = if prefix.is_empty() {
                b"+".to_vec()
            } else {
                [b"(", prefix.as_bytes(), b"\xff"].concat()
            };
            let mut answer: Vec<String> = this
                .scripts
                .list
                .key(base(&ns))
                .arg(min)
                .arg(max)
                .arg(limit)
                .invoke_async(&mut this.conn.clone())
                .await
                .map_err(unavailable)?;
            let more = answer.first().is_some_and(|f| f == "1");
            let keys = answer.split_off(1.min(answer.len()));
            let cursor = more.then(|| keys.last().cloned()).flatten();
            Ok(KeyPage { keys, cursor })
        })
    }

    fn increment(
        &self,
        ns: Namespace,
        key: String,
        delta: i64,
        quota: Quota,
    ) -> BoxFuture<'static, KvResult<i64>> {
        let this = self.clone();
        Box::pin(async move {
            let b = base(&ns);
            let value = this
                .write(&b, quota, || {
                    let mut call = this.scripts.increment.key(&b);
                    call.arg(&key)
                        .arg(delta)
                        .arg(quota.total_bytes)
                        .arg(quota.keys);
                    call
                })
                .await?;
            value
                .parse()
                .map_err(|_| KvError::Invalid("the value is not a decimal integer".into()))
        })
    }

    fn compare_and_swap(
        &self,
        ns: Namespace,
        key: String,
        expected: Option<Vec<u8>>,
        value: Vec<u8>,
        ttl: Option<Duration>,
        quota: Quota,
    ) -> BoxFuture<'static, KvResult<bool>> {
        let this = self.clone();
        Box::pin(async move {
            let entries = [(key, value)];
            this.set_script(&ns, quota, ttl, Some(expected.as_deref()), &entries)
                .await
        })
    }

    fn get_many(
        &self,
        ns: Namespace,
        keys: Vec<String>,
        max_bytes: u64,
    ) -> BoxFuture<'static, KvResult<Vec<Option<Vec<u8>>>>> {
        let this = self.clone();
        Box::pin(async move {
            if keys.is_empty() {
                return Ok(Vec::new());
            }
            let mut answer: Vec<Option<Vec<u8>>> = this
                .scripts
                .get_many
                .key(base(&ns))
                .arg(max_bytes)
                .arg(&keys)
                .invoke_async(&mut this.conn.clone())
                .await
                .map_err(unavailable)?;
            match answer.first() {
                Some(Some(flag)) if flag == b"ok" => Ok(answer.split_off(1)),
                Some(Some(flag)) if flag == b"limit" => {
                    let total = answer
                        .get(1)
                        .and_then(|t| t.as_deref())
                        .and_then(|t| std::str::from_utf8(t).ok()?.parse().ok())
                        .unwrap_or(u64::MAX);
                    Err(too_many_bytes(total, max_bytes))
                }
                _ => Err(KvError::Unavailable(
                    "the Redis key-value store answered get-many unexpectedly".into(),
                )),
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_password_in_the_url_is_never_shown() {
        let r = Redis::connect("redis://:hunter2@127.0.0.1:1/0");
        let shown = r.map(|r| r.shown_url().to_owned()).unwrap_or_else(|e| e);
        assert!(!shown.contains("hunter2"), "{shown}");
    }
}
