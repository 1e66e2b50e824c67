//! The command line: `host run`, `host demo`. One file per subcommand; the options
//! they share live in [`HostOptions`].
//!
//! Precedence for every setting: flag, then environment variable, then config file.

pub mod build;
mod check;
#[cfg(feature = "dev-tools")]
mod demo;
#[cfg(feature = "dev-tools")]
mod dev;
mod new;
mod run;
#[cfg(feature = "dev-tools")]
mod simulated;
#[cfg(feature = "dev-tools")]
mod web;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use clap::{Args, Parser, Subcommand};
use serde::Deserialize;

use crate::PluginConfigs;
use crate::apps::AppSpec;
use crate::config::{Credentials, DEFAULT_OAPI_ENDPOINT, DEFAULT_OPENAPI_ENDPOINT, Endpoints};
use crate::dispatch::DispatchConfig;
use crate::dispatch::replicas::Replicas;
use crate::egress::Egress;
use crate::kv::Backend;
use crate::kv::embedded::Embedded;
use crate::kv::redis::Redis;
use crate::runtime::cache::CacheConfig;
use crate::runtime::{Grants, LimitOverrides, Limits, PluginSettings, RuntimeConfig, Sha256Pin};
use crate::secrets::{SecretSource, Secrets};

/// Run DingTalk Stream-mode bots whose handlers are WebAssembly components.
#[derive(Debug, Parser)]
#[command(name = "host", version, about)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Connect to DingTalk and serve frames with the given plugins.
    Run(run::RunArgs),
    /// Build the example plugins, run them against the embedded simulator and print
    /// a scripted conversation.
    #[cfg(feature = "dev-tools")]
    Demo(demo::DemoArgs),
    /// Load plugins exactly as `run` would and report what each is, or why it would
    /// be refused.
    Check(check::CheckArgs),
    /// Build plugin crates into components (`plugins/<name>.wasm`).
    Build(build::BuildArgs),
    /// Create a plugin crate from the template.
    New(new::NewArgs),
    /// Build, run against the embedded simulator, rebuild and reload on source
    /// change, and chat with the bot from a prompt.
    #[cfg(feature = "dev-tools")]
    Dev(dev::DevArgs),
}

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
                Ok((store.clone(), Some(store)))
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
    pub fn runtime_config(&self, file: &ConfigFile) -> RuntimeConfig {
        RuntimeConfig {
            cache: self.cache(),
            ..file.runtime_config()
        }
    }

    /// Outbound HTTP with the config file's `[secrets]`, read now.
    pub fn egress(&self, file: &ConfigFile) -> anyhow::Result<Egress> {
        Ok(Egress::new(Secrets::load(&file.secrets)?))
    }

    /// The config file's contents, or the defaults when none was given.
    pub fn file(&self) -> anyhow::Result<ConfigFile> {
        match &self.config {
            Some(path) => ConfigFile::load(path),
            None => Ok(ConfigFile::default()),
        }
    }
}

/// The host config file. Unknown keys are errors, so a typo fails loudly.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfigFile {
    /// Default limits for every plugin.
    #[serde(default)]
    pub limits: LimitsSection,
    /// Per plugin, by name (its file's stem).
    #[serde(default)]
    pub plugins: BTreeMap<String, PluginSection>,
    /// Secrets by name, read at start: `name = { env = "VAR" }` or `{ file = "…" }`.
    #[serde(default)]
    pub secrets: BTreeMap<String, SecretSource>,
    /// The key-value backend (`redis://…`); the embedded store when unset.
    #[serde(default)]
    pub state: Option<String>,
    /// Several DingTalk apps, by name; without it, one app from the flags/env.
    #[serde(default)]
    pub apps: BTreeMap<String, AppSection>,
    /// The admin endpoint.
    #[serde(default)]
    pub admin: AdminSection,
    /// Frame dedup.
    #[serde(default)]
    pub dedup: DedupSection,
}

/// `[dedup]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DedupSection {
    /// With replicas: how long a replica's claim on a frame lasts unrenewed, ms
    /// (default 10000): a frame held by a replica that died is taken over after this.
    pub lease_ms: Option<u64>,
    /// How long a frame's keys are remembered, s (default 600).
    pub ttl_s: Option<u64>,
}

impl ConfigFile {
    /// Dispatch settings: the defaults with `[dedup]` applied.
    pub fn dispatch_config(&self) -> DispatchConfig {
        let defaults = DispatchConfig::default();
        DispatchConfig {
            dedup_lease: self
                .dedup
                .lease_ms
                .map_or(defaults.dedup_lease, Duration::from_millis),
            dedup_ttl: self
                .dedup
                .ttl_s
                .map_or(defaults.dedup_ttl, Duration::from_secs),
            ..defaults
        }
    }
}

/// `[admin]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AdminSection {
    /// A bearer token `/metrics` and `/status` require: `"{secret.<name>}"`.
    pub token: Option<String>,
}

/// `[apps.<name>]`: one DingTalk app, its plugins and their settings.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AppSection {
    /// The app's client id (AppKey).
    pub client_id: String,
    /// Its client secret, from `[secrets]`: `"{secret.<name>}"` (never inline).
    pub client_secret: String,
    /// Its plugin files (globs allowed).
    #[serde(default)]
    pub load: Vec<PathBuf>,
    /// Default limits of its plugins, where they differ from `[limits]`.
    #[serde(default)]
    pub limits: LimitsSection,
    /// Per plugin, by name: `[apps.<app>.plugins.<plugin>]`, as `[plugins.<plugin>]`.
    #[serde(default)]
    pub plugins: Option<toml::Value>,
}

/// `value` as a secret reference `{secret.<name>}` rendered with `secrets`; an inline
/// value is refused so secrets stay out of config files.
fn secret_ref(what: &str, value: &str, secrets: &Secrets) -> anyhow::Result<crate::config::Secret> {
    let template = crate::secrets::Template::parse(value).map_err(anyhow::Error::msg)?;
    if template.secret_names().count() == 0 {
        anyhow::bail!(
            "{what} must name a secret, e.g. \"{{secret.support_secret}}\" with the value in [secrets]; it must not be written in the file"
        );
    }
    template
        .render(secrets)
        .map_err(|e| anyhow::anyhow!("{what}: {e}"))
}

/// `[limits]` or `[plugins.<name>.limits]`: unset keys keep the default.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LimitsSection {
    /// Linear memory cap, MiB (default 64).
    pub memory_mib: Option<usize>,
    /// CPU budget per frame, ms (default 1000).
    pub cpu_ms: Option<u64>,
    /// Wall-clock timeout per frame, host calls included, ms (default 30000).
    pub timeout_ms: Option<u64>,
    /// Frames of one plugin at once (default 16).
    pub max_concurrency: Option<usize>,
    /// Frames of one plugin waiting for a slot at once (default 1024).
    pub max_queue: Option<usize>,
    /// Outbound HTTP requests per frame (default 16).
    pub http_requests: Option<u32>,
    /// Outbound response bytes per frame, MiB (default 16).
    pub http_response_mib: Option<u64>,
    /// Outbound connect timeout, ms (default 5000).
    pub http_connect_timeout_ms: Option<u64>,
    /// Outbound time to first byte, ms (default 60000).
    pub http_first_byte_timeout_ms: Option<u64>,
    /// Longest key-value key, bytes (default 512).
    pub kv_key_bytes: Option<usize>,
    /// Largest key-value value, KiB (default 1024).
    pub kv_value_kib: Option<usize>,
    /// Key-value bytes one plugin may store, MiB (default 64).
    pub kv_total_mib: Option<u64>,
    /// Key-value keys one plugin may store (default 100000).
    pub kv_keys: Option<u64>,
    /// Key-value operations per frame (default 1000).
    pub kv_ops: Option<u32>,
    /// Host-side bytes of large host-call results one plugin holds at once, MiB
    /// (default 64).
    pub host_buffer_mib: Option<u64>,
    /// Replies per frame (default 10).
    pub replies_per_frame: Option<u32>,
    /// Card sends, creations, deliveries and updates per frame (default 50).
    pub card_calls_per_frame: Option<u32>,
    /// AI card stream updates per frame (default 500).
    pub card_streams_per_frame: Option<u32>,
    /// Media uploads and downloads per frame (default 20).
    pub media_calls_per_frame: Option<u32>,
    /// Proactive messages per frame (default 20).
    pub messages_per_frame: Option<u32>,
    /// Generic OpenAPI calls per frame (default 50).
    pub openapi_calls_per_frame: Option<u32>,
    /// DingTalk API calls per second per plugin (default 1000).
    pub dingtalk_calls_per_second: Option<u32>,
}

impl LimitsSection {
    /// As overrides of the defaults.
    pub fn overrides(&self) -> LimitOverrides {
        LimitOverrides {
            memory_bytes: self.memory_mib.map(|m| m << 20),
            cpu_budget: self.cpu_ms.map(Duration::from_millis),
            wall_timeout: self.timeout_ms.map(Duration::from_millis),
            max_concurrency: self.max_concurrency,
            max_queue: self.max_queue,
            http_requests: self.http_requests,
            http_response_bytes: self.http_response_mib.map(|m| m << 20),
            http_connect_timeout: self.http_connect_timeout_ms.map(Duration::from_millis),
            http_first_byte_timeout: self.http_first_byte_timeout_ms.map(Duration::from_millis),
            kv_key_bytes: self.kv_key_bytes,
            kv_value_bytes: self.kv_value_kib.map(|k| k << 10),
            kv_total_bytes: self.kv_total_mib.map(|m| m << 20),
            kv_keys: self.kv_keys,
            kv_ops: self.kv_ops,
            host_buffer_bytes: self.host_buffer_mib.map(|m| m << 20),
            replies_per_frame: self.replies_per_frame,
            card_calls_per_frame: self.card_calls_per_frame,
            card_streams_per_frame: self.card_streams_per_frame,
            media_calls_per_frame: self.media_calls_per_frame,
            messages_per_frame: self.messages_per_frame,
            openapi_calls_per_frame: self.openapi_calls_per_frame,
            dingtalk_calls_per_second: self.dingtalk_calls_per_second,
        }
    }
}

/// One plugin's section: `[plugins.<name>]`. Its limits and pin are read here; every
/// other key belongs to a capability (see `runtime::capability`), which parses it, and
/// a key no capability owns is an error. Everything not granted is denied.
#[derive(Debug, Default, Deserialize)]
pub struct PluginSection {
    /// Its limits, where they differ from `[limits]`.
    #[serde(default)]
    pub limits: LimitsSection,
    /// The SHA-256 (64 hex digits) its component must have.
    #[serde(default)]
    pub sha256: Option<String>,
    /// The capabilities' keys (`topics`, `openapi`, `proactive`, `config`, ...).
    #[serde(flatten)]
    pub grants: toml::Table,
}

impl ConfigFile {
    /// Read and parse `path`.
    pub fn load(path: &Path) -> anyhow::Result<Self> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read config file {}", path.display()))?;
        toml::from_str(&text).with_context(|| format!("invalid config file {}", path.display()))
    }

    /// The engine settings: default limits from `[limits]`.
    pub fn runtime_config(&self) -> RuntimeConfig {
        RuntimeConfig {
            limits: Limits::default().with(&self.limits.overrides()),
            ..RuntimeConfig::default()
        }
    }

    /// Settings (config values and grants) per plugin; a malformed grant is an error.
    pub fn plugin_configs(&self) -> anyhow::Result<PluginConfigs> {
        plugin_configs("plugins", &self.plugins)
    }

    /// The apps to run: `[apps]`, or else one app `default` from the given
    /// credentials and plugin files with `[plugins]`.
    pub fn apps(
        &self,
        credentials: Option<Credentials>,
        plugins: &[PathBuf],
        secrets: &Secrets,
    ) -> anyhow::Result<Vec<AppSpec>> {
        let defaults = self.runtime_config().limits;
        if self.apps.is_empty() {
            let Some(credentials) = credentials else {
                anyhow::bail!(
                    "no credentials: set DINGTALK_CLIENT_ID and DINGTALK_CLIENT_SECRET (or DINGTALK_CLIENT_SECRET_FILE), pass --client-id and --client-secret-file, or declare [apps.<name>] in the config file"
                );
            };
            if plugins.is_empty() {
                anyhow::bail!(
                    "no plugins to run: give .wasm components, or declare [apps.<name>] with `load = [...]` in the config file"
                );
            }
            return Ok(vec![AppSpec {
                name: crate::runtime::DEFAULT_APP.to_owned(),
                credentials,
                plugins: plugins.to_vec(),
                plugin_configs: self.plugin_configs()?,
                limits: defaults,
            }]);
        }
        if !plugins.is_empty() {
            anyhow::bail!(
                "the config file declares [apps]: list each app's plugins in its `load = [...]`, not on the command line"
            );
        }
        if !self.plugins.is_empty() {
            anyhow::bail!(
                "the config file declares [apps]: move [plugins.<name>] sections under the app, as [apps.<app>.plugins.<name>]"
            );
        }
        self.apps
            .iter()
            .map(|(name, app)| {
                let at = format!("[apps.{name}]");
                let sections: BTreeMap<String, PluginSection> = match &app.plugins {
                    None => BTreeMap::new(),
                    Some(toml::Value::Table(t)) => t
                        .clone()
                        .try_into()
                        .with_context(|| format!("{at}.plugins"))?,
                    Some(_) => anyhow::bail!(
                        "{at}: `plugins` holds each plugin's settings as [apps.{name}.plugins.<plugin>]; list the files in `load = [...]`"
                    ),
                };
                if app.load.is_empty() {
                    anyhow::bail!("{at}: no plugins: list them in `load = [\"plugins/x.wasm\"]`");
                }
                let secret = secret_ref(&format!("{at} client_secret"), &app.client_secret, secrets)?;
                Ok(AppSpec {
                    name: name.clone(),
                    credentials: Credentials::new(&app.client_id, secret.expose()),
                    plugins: app.load.clone(),
                    plugin_configs: plugin_configs(&format!("apps.{name}.plugins"), &sections)?,
                    limits: defaults.with(&app.limits.overrides()),
                })
            })
            .collect()
    }

    /// The admin token, if `[admin] token` names one.
    pub fn admin_token(&self, secrets: &Secrets) -> anyhow::Result<Option<crate::config::Secret>> {
        self.admin
            .token
            .as_deref()
            .map(|t| secret_ref("[admin] token", t, secrets))
            .transpose()
    }
}

/// Settings per plugin from `[<at>.<name>]` sections.
fn plugin_configs(
    at: &str,
    sections: &BTreeMap<String, PluginSection>,
) -> anyhow::Result<PluginConfigs> {
    {
        sections
            .iter()
            .map(|(name, section)| {
                let invalid = |e: String| anyhow::anyhow!("[{at}.{name}]: {e}");
                let settings = PluginSettings {
                    grants: Grants::parse(&section.grants).map_err(invalid)?,
                    limits: section.limits.overrides(),
                    sha256: section
                        .sha256
                        .as_deref()
                        .map(Sha256Pin::from_hex)
                        .transpose()
                        .map_err(invalid)?,
                };
                Ok((name.clone(), settings))
            })
            .collect()
    }
}

/// Logging to stderr (`RUST_LOG`, default `info`), plus `extra` (the dev chat's log
/// layer) when given, which sees `info` and the host's `debug` events (host calls).
fn init_tracing<L>(extra: Option<L>)
where
    L: tracing_subscriber::Layer<tracing_subscriber::Registry> + Send + Sync + 'static,
{
    use tracing_subscriber::Layer as _;
    use tracing_subscriber::layer::SubscriberExt as _;
    use tracing_subscriber::util::SubscriberInitExt as _;
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    // Colours only on a terminal: journald, files and pipes get plain text.
    let stderr = tracing_subscriber::fmt::layer()
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(std::io::stderr)
        .with_filter(filter);
    let extra = extra.map(|l| l.with_filter(tracing_subscriber::EnvFilter::new("info,host=debug")));
    let _ = tracing_subscriber::registry()
        .with(extra)
        .with(stderr)
        .try_init();
}

/// Parse the command line and run it.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    #[cfg(feature = "dev-tools")]
    let web_log = match &cli.command {
        Command::Dev(args) if args.web.is_some() => Some(web::LogSink::new()),
        Command::Demo(args) if args.web.is_some() => Some(web::LogSink::new()),
        _ => None,
    };
    #[cfg(feature = "dev-tools")]
    init_tracing(web_log.as_ref().map(web::LogSink::layer));
    #[cfg(not(feature = "dev-tools"))]
    init_tracing(None::<tracing_subscriber::layer::Identity>);
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async {
        match cli.command {
            Command::Run(args) => run::run(args).await,
            #[cfg(feature = "dev-tools")]
            Command::Demo(args) => demo::demo(args, web_log).await,
            Command::Check(args) => check::check(args).await,
            Command::Build(args) => build::build(args),
            Command::New(args) => new::new(args),
            #[cfg(feature = "dev-tools")]
            Command::Dev(args) => dev::dev(args, web_log).await,
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_config_file_gives_each_plugin_its_values_and_grants() {
        let f: ConfigFile = toml::from_str(concat!(
            "[limits]\n",
            "cpu_ms = 200\n",
            "[plugins.calcbot]\n",
            "openapi = [\"/v1.0/contact/*\"]\n",
            "proactive = true\n",
            "topics = [\"EVENT *\"]\n",
            "[plugins.calcbot.limits]\n",
            "memory_mib = 8\n",
            "[plugins.calcbot.config]\n",
            "precision = \"3\"\n",
        ))
        .unwrap();
        let settings = &f.plugin_configs().unwrap()["calcbot"];
        assert_eq!(settings.grants.config.values["precision"], "3");
        assert!(settings.grants.messages.proactive);
        assert!(
            settings
                .grants
                .openapi
                .allows(&reqwest::Method::GET, "/v1.0/contact/users/me")
        );
        assert_eq!(settings.grants.topics.topics.len(), 1);
        assert_eq!(settings.limits.memory_bytes, Some(8 << 20));
        let defaults = f.runtime_config().limits;
        assert_eq!(defaults.cpu_budget, Duration::from_millis(200));
        assert_eq!(defaults.memory_bytes, 64 << 20);
    }

    #[test]
    fn a_malformed_grant_in_the_config_file_is_an_error_naming_the_plugin() {
        let f: ConfigFile = toml::from_str("[plugins.x]\nopenapi = [\"relative\"]\n").unwrap();
        let err = f.plugin_configs().unwrap_err().to_string();
        assert!(
            err.contains("[plugins.x]") && err.contains("relative"),
            "{err}"
        );
    }

    #[test]
    fn an_inline_client_secret_or_a_plugin_list_under_plugins_is_refused_with_the_fix() {
        let parse = |text: &str| {
            let file: ConfigFile = toml::from_str(text).unwrap();
            file.apps(None, &[], &Secrets::default().with("s", "v"))
                .map(drop)
                .unwrap_err()
                .to_string()
        };
        let app = "[apps.a]\nclient_id = \"x\"\n";
        let inline = parse(&format!(
            "{app}client_secret = \"plain\"\nload = [\"a.wasm\"]\n"
        ));
        assert!(
            inline.contains("[apps.a] client_secret must name a secret"),
            "{inline}"
        );
        let list = parse(&format!(
            "{app}client_secret = \"{{secret.s}}\"\nplugins = [\"a.wasm\"]\n"
        ));
        assert!(list.contains("load = [...]"), "{list}");
        let missing = parse(&format!(
            "{app}client_secret = \"{{secret.nope}}\"\nload = [\"a.wasm\"]\n"
        ));
        assert!(missing.contains("nope"), "{missing}");
        let both = parse(&format!(
            "{app}client_secret = \"{{secret.s}}\"\nload = [\"a.wasm\"]\n[plugins.x]\n"
        ));
        assert!(both.contains("[apps.<app>.plugins.<name>]"), "{both}");
    }

    #[test]
    fn the_single_app_form_needs_credentials_and_plugins_and_names_the_app_default() {
        let file = ConfigFile::default();
        let err = file.apps(None, &["a.wasm".into()], &Secrets::default());
        assert!(err.unwrap_err().to_string().contains("no credentials"));
        let creds = Credentials::new("id", "secret");
        let err = file.apps(Some(creds.clone()), &[], &Secrets::default());
        assert!(err.unwrap_err().to_string().contains("no plugins"));
        let apps = file
            .apps(Some(creds), &["a.wasm".into()], &Secrets::default())
            .unwrap();
        assert_eq!(apps[0].name, "default");
    }

    #[test]
    fn a_typo_in_the_config_file_is_an_error() {
        let f: ConfigFile = toml::from_str("[plugins.calcbot]\nconfg = {}\n").unwrap();
        let err = f.plugin_configs().unwrap_err().to_string();
        assert!(err.contains("confg"), "{err}");
        let err = toml::from_str::<ConfigFile>("[limits]\ncpu = 1\n").unwrap_err();
        assert!(err.to_string().contains("cpu"), "{err}");
    }

    #[test]
    fn a_sha256_pin_must_be_64_hex_digits() {
        let f: ConfigFile = toml::from_str("[plugins.x]\nsha256 = \"abc\"\n").unwrap();
        let err = f.plugin_configs().unwrap_err().to_string();
        assert!(err.contains("64 hex digits"), "{err}");
        let pin = "ab".repeat(32);
        let f: ConfigFile = toml::from_str(&format!("[plugins.x]\nsha256 = \"{pin}\"\n")).unwrap();
        assert!(f.plugin_configs().unwrap()["x"].sha256.is_some());
    }

    #[test]
    fn flags_override_the_environment() {
        let cli = Cli::try_parse_from([
            "host",
            "run",
            "--client-id",
            "flag-id",
            "--openapi-endpoint",
            "http://127.0.0.1:1",
            "a.wasm",
        ])
        .unwrap();
        let Command::Run(args) = cli.command else {
            panic!("not run")
        };
        assert_eq!(args.options.client_id.as_deref(), Some("flag-id"));
        assert_eq!(args.options.endpoints().openapi, "http://127.0.0.1:1");
    }

    #[test]
    fn the_client_secret_can_come_from_a_file_kept_out_of_the_process_list() {
        let file = std::env::temp_dir().join(format!("host-secret-{}", std::process::id()));
        std::fs::write(&file, "s3cr3t\n").unwrap();
        let cli = Cli::try_parse_from([
            "host",
            "run",
            "--client-id",
            "id",
            "--client-secret-file",
            file.to_str().unwrap(),
            "a.wasm",
        ])
        .unwrap();
        let Command::Run(args) = cli.command else {
            panic!("not run")
        };
        let credentials = args.options.credentials().unwrap().unwrap();
        assert_eq!(credentials.client_secret.expose(), "s3cr3t");
        let _ = std::fs::remove_file(file);
    }
}
