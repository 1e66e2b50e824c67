//! The options every subcommand that talks to DingTalk shares, and their precedence:
//! flag, then environment variable, then config file.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context as _;
use clap::Args;

use crate::config::{Credentials, DEFAULT_OAPI_ENDPOINT, DEFAULT_OPENAPI_ENDPOINT, Endpoints};
use crate::egress::Egress;
use crate::kv::Backend;
use crate::kv::embedded::Embedded;
use crate::kv::redis::Redis;
use crate::replicas::Replicas;
use crate::runtime::RuntimeConfig;
use crate::runtime::cache::CacheConfig;
use crate::secrets::Secrets;
use crate::settings::ConfigFile;

/// Options every subcommand that talks to DingTalk shares.
#[derive(Debug, Clone, Args)]
pub struct HostOptions {
    /// The app's client id (AppKey).
    #[arg(long, env = "DINGTALK_CLIENT_ID")]
    pub client_id: Option<String>,
    /// The app's client secret (AppSecret). As a flag it is visible to every user in
    /// the process list: prefer DINGTALK_CLIENT_SECRET or --client-secret-file.
    #[arg(long, env = "DINGTALK_CLIENT_SECRET", hide_env_values = true)]
    pub client_secret: Option<String>,
    /// A file holding the app's client secret (e.g. a mounted secret).
    #[arg(
        long,
        value_name = "FILE",
        env = "DINGTALK_CLIENT_SECRET_FILE",
        conflicts_with = "client_secret"
    )]
    pub client_secret_file: Option<PathBuf>,
    /// Base URL of the DingTalk OpenAPI.
    #[arg(long, env = "DINGTALK_OPENAPI_ENDPOINT", default_value = DEFAULT_OPENAPI_ENDPOINT)]
    pub openapi_endpoint: String,
    /// Base URL of the legacy DingTalk OpenAPI (media upload).
    #[arg(long, env = "DINGTALK_OAPI_ENDPOINT", default_value = DEFAULT_OAPI_ENDPOINT)]
    pub oapi_endpoint: String,
    /// Host config file (TOML): limits, grants and config values per plugin.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Where compiled plugins are cached (default: the user's cache directory).
    #[arg(long, value_name = "DIR", env = "DINGTALK_HOST_CACHE_DIR")]
    pub cache_dir: Option<PathBuf>,
    /// Compile every plugin at every start instead of caching.
    #[arg(long)]
    pub no_cache: bool,
    /// Where plugins' key-value state lives.
    #[command(flatten)]
    pub state: StateOptions,
}

/// Where plugins' key-value state lives.
#[derive(Debug, Clone, Default, Args)]
pub struct StateOptions {
    /// Folder of the embedded key-value store, `kv.redb` (default:
    /// $XDG_STATE_HOME/dingtalk-wasm-host, or ~/.local/state/dingtalk-wasm-host).
    #[arg(long, value_name = "DIR", env = "DINGTALK_HOST_STATE_DIR")]
    pub state_dir: Option<PathBuf>,
    /// The key-value backend: `redis://host:port/db` to share state between host
    /// replicas; without it (or `state` in the config file), the embedded store.
    #[arg(long, value_name = "URL", env = "DINGTALK_HOST_STATE")]
    pub state: Option<String>,
}

/// The state backend, and with Redis the dedup store replicas share.
pub type Stores = (Arc<dyn Backend>, Option<Arc<dyn Replicas>>);

impl StateOptions {
    /// Open the backend these options (then the config file's `state`) name.
    pub fn open(&self, file: &ConfigFile) -> anyhow::Result<Stores> {
        match self.state.as_deref().or(file.state.as_deref()) {
            Some(url) if url.starts_with("redis://") || url.starts_with("rediss://") => {
                let store = Arc::new(Redis::connect(url).map_err(anyhow::Error::msg)?);
                tracing::info!(
                    url = store.shown_url(),
                    "key-value state and dedup shared in Redis"
                );
                let claims: Arc<dyn Replicas> = Arc::new(store.claims());
                Ok((store, Some(claims)))
            }
            Some(other) => anyhow::bail!(
                "unknown state backend {other:?}: give a redis:// URL, or leave it out for the embedded store"
            ),
            None => {
                let dir = match &self.state_dir {
                    Some(dir) => dir.clone(),
                    None => default_state_dir()
                        .context("no state folder: set --state-dir (or XDG_STATE_HOME or HOME)")?,
                };
                let store = Embedded::open(&dir.join("kv.redb")).map_err(anyhow::Error::msg)?;
                tracing::info!(path = %store.path().display(), "key-value state in the embedded store");
                Ok((Arc::new(store), None))
            }
        }
    }
}

fn default_state_dir() -> Option<PathBuf> {
    let base = std::env::var_os("XDG_STATE_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".local/state")))?;
    Some(base.join("dingtalk-wasm-host"))
}

impl HostOptions {
    /// The app's credentials, the secret read from its file when one is given.
    pub fn credentials(&self) -> anyhow::Result<Option<Credentials>> {
        let secret = match (&self.client_secret, &self.client_secret_file) {
            (Some(s), _) => Some(s.clone()),
            (None, Some(file)) => Some(std::fs::read_to_string(file).with_context(|| {
                format!("cannot read the client secret file {}", file.display())
            })?),
            (None, None) => None,
        };
        Ok(match (&self.client_id, secret) {
            (Some(id), Some(secret)) => Some(Credentials::new(id, secret)),
            _ => None,
        })
    }

    /// The endpoints these options name.
    pub fn endpoints(&self) -> Endpoints {
        Endpoints {
            openapi: self.openapi_endpoint.clone(),
            oapi: self.oapi_endpoint.clone(),
        }
    }

    /// The artifact cache these options ask for.
    pub fn cache(&self) -> CacheConfig {
        if self.no_cache {
            return CacheConfig::off();
        }
        let default = CacheConfig::default();
        CacheConfig {
            dir: self.cache_dir.clone().or(default.dir),
            ..default
        }
    }

    /// The engine settings: limits from the config file, the cache from the flags.
    pub fn runtime_config(&self, file: &ConfigFile) -> anyhow::Result<RuntimeConfig> {
        Ok(RuntimeConfig {
            cache: self.cache(),
            ..file.runtime_config()?
        })
    }

    /// Outbound HTTP with the config file's `[secrets]`, read now.
    pub fn egress(&self, file: &ConfigFile) -> anyhow::Result<Egress> {
        Ok(Egress::new(Secrets::load(&file.secrets)?))
    }

    /// The config file's contents, or the defaults when none was given.
    pub fn file(&self) -> anyhow::Result<ConfigFile> {
        match &self.config {
            Some(path) => Ok(ConfigFile::load(path)?),
            None => Ok(ConfigFile::default()),
        }
    }
}
