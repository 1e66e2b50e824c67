//! Replicas' frame claims (`crate::replicas`) in the Redis that holds the key-value
//! state, over the same connection: each call is one script, so a claim on several
//! keys is atomic.

use std::sync::Arc;
use std::time::Duration;

use futures_util::future::BoxFuture;
use redis::Script;
use redis::aio::ConnectionManager;

use crate::replicas::{Claim, Replicas, StoreError};

/// Frame claims of replicas (`dispatch::replicas`). KEYS: the frame's claim keys;
/// ARGV: the lease value `L:<owner>`, the lease in ms. Answers the value found on a
/// key (a lease `L:…` or an ACK `D:…`), or '' after claiming every key.
const CLAIM: &str = r"
for _, k in ipairs(KEYS) do
  local v = redis.call('GET', k)
  if v then return v end
end
for _, k in ipairs(KEYS) do redis.call('SET', k, ARGV[1], 'PX', ARGV[2]) end
return ''
";

/// KEYS: claim keys; ARGV: the lease value, the lease in ms. Extends only our lease.
const RENEW: &str = r"
for _, k in ipairs(KEYS) do
  if redis.call('GET', k) == ARGV[1] then redis.call('PEXPIRE', k, ARGV[2]) end
end
return 0
";

/// KEYS: claim keys; ARGV: the ACK as JSON, the TTL in ms.
const FINISH: &str = r"
for _, k in ipairs(KEYS) do redis.call('SET', k, 'D:' .. ARGV[1], 'PX', ARGV[2]) end
return 0
";

/// Frame claims in Redis.
#[derive(Clone)]
pub struct Claims {
    conn: ConnectionManager,
    scripts: Arc<Scripts>,
}

impl std::fmt::Debug for Claims {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Claims").finish_non_exhaustive()
    }
}

struct Scripts {
    claim: Script,
    renew: Script,
    finish: Script,
}

impl Claims {
    /// Claims over `conn`.
    pub fn new(conn: ConnectionManager) -> Self {
        Self {
            conn,
            scripts: Arc::new(Scripts {
                claim: Script::new(CLAIM),
                renew: Script::new(RENEW),
                finish: Script::new(FINISH),
            }),
        }
    }
}

fn ms(d: Duration) -> u64 {
    (d.as_millis() as u64).max(1)
}

impl Claims {
    /// Run a claim script (`CLAIM` or `RENEW`) on `keys` for `owner`'s lease.
    async fn lease<T: redis::FromRedisValue>(
        &self,
        script: &Script,
        keys: Vec<String>,
        owner: &str,
        lease: Duration,
    ) -> Result<T, StoreError> {
        script
            .key(keys)
            .arg(format!("L:{owner}"))
            .arg(ms(lease))
            .invoke_async(&mut self.conn.clone())
            .await
            .map_err(|e| StoreError(format!("Redis: {e}")))
    }
}

impl Replicas for Claims {
    fn claim(
        &self,
        keys: Vec<String>,
        owner: String,
        lease: Duration,
    ) -> BoxFuture<'static, Result<Claim, StoreError>> {
        let this = self.clone();
        Box::pin(async move {
            let found: String = this.lease(&this.scripts.claim, keys, &owner, lease).await?;
            if found.is_empty() {
                return Ok(Claim::Mine);
            }
            match found.strip_prefix("D:") {
                Some(ack) => {
                    let (code, message, data): (u16, String, String) = serde_json::from_str(ack)
                        .map_err(|e| StoreError(format!("a stored ACK does not parse: {e}")))?;
                    Ok(Claim::Done(code, message, data))
                }
                None => Ok(Claim::Leased),
            }
        })
    }

    fn renew(
        &self,
        keys: Vec<String>,
        owner: String,
        lease: Duration,
    ) -> BoxFuture<'static, Result<(), StoreError>> {
        let this = self.clone();
        Box::pin(async move {
            let _: i64 = this.lease(&this.scripts.renew, keys, &owner, lease).await?;
            Ok(())
        })
    }

    fn finish(
        &self,
        keys: Vec<String>,
        ack: (u16, String, String),
        ttl: Duration,
    ) -> BoxFuture<'static, Result<(), StoreError>> {
        let this = self.clone();
        Box::pin(async move {
            let ack = serde_json::to_string(&ack).map_err(|e| StoreError(e.to_string()))?;
            let _: i64 = this
                .scripts
                .finish
                .key(keys)
                .arg(ack)
                .arg(ms(ttl))
                .invoke_async(&mut this.conn.clone())
                .await
                .map_err(|e| StoreError(format!("Redis: {e}")))?;
            Ok(())
        })
    }
}
