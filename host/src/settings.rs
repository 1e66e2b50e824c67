//! The host config file's schema (`--config host.toml`): every section, read with
//! serde, and what each becomes for the parts it configures.
//!
//! It sits above the runtime it configures: it names the runtime's [`Limits`] (one
//! layer per `[limits]` table, keys and units as `runtime::limits` declares them) and
//! every capability's grant (`runtime::capability`), so the low `config` module the
//! runtime itself imports cannot hold it. The CLI keeps flags and their precedence
//! over the file.
//!
//! Invariants: an unknown key anywhere is an error naming it (a typo fails loudly);
//! secrets are never written in the file, only named (`"{secret.<name>}"`); every
//! error says where (`at`), which key when one, and why ([`ConfigError`]).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use crate::PluginConfigs;
use crate::apps::AppSpec;
use crate::config::{Credentials, Secret};
use crate::dispatch::DispatchConfig;
use crate::runtime::{
    AckMode, DEFAULT_APP, Grants, Instances, LimitOverrides, Limits, PluginSettings, Publisher,
    RuntimeConfig, Sha256Pin, WarmPolicy,
};
use crate::secrets::{SecretSource, Secrets, Template};
use crate::trust::{Policy, TrustedKey};

/// What is wrong with the config file: where, which key (when one), and why.
#[derive(Debug, thiserror::Error)]
#[error("{at}{}{reason}", key.as_deref().map_or_else(|| ": ".to_owned(), |k| format!(" {k} ")))]
pub struct ConfigError {
    /// The file or the section, e.g. `[apps.support]`.
    pub at: String,
    /// The key within it, when one is to blame.
    pub key: Option<String>,
    /// Why.
    pub reason: String,
}

impl ConfigError {
    fn at(at: impl Into<String>, reason: impl Into<String>) -> Self {
        Self {
            at: at.into(),
            key: None,
            reason: reason.into(),
        }
    }

    fn key(at: impl Into<String>, key: &str, reason: impl Into<String>) -> Self {
        Self {
            at: at.into(),
            key: Some(key.to_owned()),
            reason: reason.into(),
        }
    }
}

/// The host config file. Unknown keys are errors, so a typo fails loudly.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfigFile {
    /// Default limits for every plugin.
    #[serde(default)]
    pub limits: LimitOverrides,
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
    /// The tools `host mcp` serves to MCP clients (checked by [`crate::mcp::McpServer`]).
    #[serde(default)]
    pub mcp_server: Option<toml::Table>,
    /// Remote MCP servers whose tools agents may be granted, by name
    /// (checked by [`crate::mcp::client::parse`]).
    #[serde(default)]
    pub mcp: BTreeMap<String, toml::Table>,
    /// Who may publish plugins, and whether every plugin must be signed.
    #[serde(default)]
    pub trust: TrustSection,
    /// OCI registries plugins are pushed to and pulled from, by host (and port).
    #[serde(default)]
    pub registries: BTreeMap<String, RegistrySection>,
}

/// `[registries."<host>"]`: how to reach one registry.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegistrySection {
    /// Basic auth's user name.
    #[serde(default)]
    pub username: Option<String>,
    /// Basic auth's password, from `[secrets]`: `"{secret.<name>}"`.
    #[serde(default)]
    pub password: Option<String>,
    /// A bearer token, from `[secrets]`.
    #[serde(default)]
    pub token: Option<String>,
    /// Plain HTTP to a registry that is not on loopback (off by default).
    #[serde(default)]
    pub plain_http: bool,
}

/// `[trust]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrustSection {
    /// Refuse every plugin whose section names no `publisher` (default false: local
    /// files load unsigned unless their section names one).
    #[serde(default)]
    pub require_signatures: bool,
    /// `[trust.publishers.<name>] keys = ["ssh-ed25519 AAAA..."]`.
    #[serde(default)]
    pub publishers: BTreeMap<String, PublisherSection>,
    /// Refused whoever signed them: `sha256:<hex>` or `key:ssh-ed25519 ...`.
    #[serde(default)]
    pub deny: Vec<String>,
}

/// `[trust.publishers.<name>]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PublisherSection {
    /// Its public keys (several, so it can rotate): OpenSSH `ssh-ed25519` lines.
    pub keys: Vec<String>,
}

impl TrustSection {
    /// The publishers, their keys read.
    fn publishers(&self) -> Result<BTreeMap<String, Publisher>, ConfigError> {
        self.publishers
            .iter()
            .map(|(name, section)| {
                let at = format!("[trust.publishers.{name}]");
                if section.keys.is_empty() {
                    return Err(ConfigError::key(&at, "keys", "lists no key"));
                }
                let keys = section
                    .keys
                    .iter()
                    .map(|k| TrustedKey::parse(k).map_err(|e| ConfigError::key(&at, "keys", e)))
                    .collect::<Result<Vec<_>, _>>()?;
                Ok((
                    name.clone(),
                    Publisher {
                        name: name.clone(),
                        keys: keys.into(),
                    },
                ))
            })
            .collect()
    }
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
    /// The remote MCP servers of `[mcp.<server>]`, their headers' secrets in `secrets`.
    pub fn mcp_servers(
        &self,
        secrets: &Secrets,
    ) -> Result<Vec<crate::mcp::client::RemoteConfig>, ConfigError> {
        crate::mcp::client::parse(&self.mcp, &self.limits, secrets)
            .map_err(|e| ConfigError::at("[mcp]", e))
    }

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
    pub limits: LimitOverrides,
    /// Per plugin, by name: `[apps.<app>.plugins.<plugin>]`, as `[plugins.<plugin>]`.
    #[serde(default)]
    pub plugins: Option<toml::Value>,
}

/// `value` of `key` in `at` as a secret reference `{secret.<name>}` rendered with
/// `secrets`; an inline value is refused so secrets stay out of config files.
fn secret_ref(at: &str, key: &str, value: &str, secrets: &Secrets) -> Result<Secret, ConfigError> {
    let template = Template::parse(value).map_err(|e| ConfigError::key(at, key, e))?;
    if template.secret_names().count() == 0 {
        return Err(ConfigError::key(
            at,
            key,
            "must name a secret, e.g. \"{secret.support_secret}\" with the value in [secrets]; it must not be written in the file",
        ));
    }
    template
        .render(secrets)
        .map_err(|e| ConfigError::key(at, key, format!("names a secret that is not there: {e}")))
}

/// One plugin's section: `[plugins.<name>]`. Its limits and pin are read here; every
/// other key belongs to a capability (see `runtime::capability`), which parses it, and
/// a key no capability owns is an error. Everything not granted is denied.
#[derive(Debug, Default, Deserialize)]
pub struct PluginSection {
    /// Its limits, where they differ from `[limits]`.
    #[serde(default)]
    pub limits: LimitOverrides,
    /// The SHA-256 (64 hex digits) its component must have.
    #[serde(default)]
    pub sha256: Option<String>,
    /// The publisher (of `[trust.publishers]`) whose key must have signed it.
    #[serde(default)]
    pub publisher: Option<String>,
    /// When its frames are ACKed: `"outcome"` (default) or `"on-receipt"`.
    #[serde(default)]
    pub ack: AckMode,
    /// Whether its frames share warm instances: `"fresh"` (default) or `"warm"`.
    #[serde(default)]
    pub instances: InstanceMode,
    /// For a warm plugin: each instance serves N frames, N drawn from `[min, max]`.
    #[serde(default)]
    pub warm_frames: Option<[u32; 2]>,
    /// For a warm plugin: an instance idle this long is dropped.
    #[serde(default)]
    pub warm_idle_ms: Option<u64>,
    /// The capabilities' keys (`topics`, `openapi`, `proactive`, `config`, ...).
    #[serde(flatten)]
    pub grants: toml::Table,
}

/// `instances = "fresh" | "warm"`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum InstanceMode {
    /// A fresh instance per frame.
    #[default]
    Fresh,
    /// Instances serve several frames.
    Warm,
}

impl PluginSection {
    /// Its `instances`, `warm_frames` and `warm_idle_ms`, checked.
    fn instances(&self, at: &str) -> Result<Instances, ConfigError> {
        if self.instances == InstanceMode::Fresh {
            let set = [
                ("warm_frames", self.warm_frames.is_some()),
                ("warm_idle_ms", self.warm_idle_ms.is_some()),
            ];
            return match set.iter().find(|(_, set)| *set) {
                Some((key, _)) => Err(ConfigError::key(
                    at,
                    key,
                    "applies only with instances = \"warm\"",
                )),
                None => Ok(Instances::Fresh),
            };
        }
        let mut policy = WarmPolicy::default();
        if let Some([min, max]) = self.warm_frames {
            if min == 0 || min > max || max > WarmPolicy::MAX_FRAMES {
                return Err(ConfigError::key(
                    at,
                    "warm_frames",
                    format!(
                        "must be [min, max] with 1 <= min <= max <= {}, not [{min}, {max}]",
                        WarmPolicy::MAX_FRAMES
                    ),
                ));
            }
            policy.frames = min..=max;
        }
        if let Some(ms) = self.warm_idle_ms {
            if ms == 0 {
                return Err(ConfigError::key(
                    at,
                    "warm_idle_ms",
                    "must be at least 1 (leave the plugin fresh to keep no instance)",
                ));
            }
            policy.idle = Duration::from_millis(ms);
        }
        Ok(Instances::Warm(policy))
    }
}

impl ConfigFile {
    /// The registries `[registries]` names, their credentials rendered from `secrets`.
    pub fn registries(&self, secrets: &Secrets) -> Result<crate::oci::Registries, ConfigError> {
        let mut out = crate::oci::Registries {
            secrets: secrets.clone(),
            ..Default::default()
        };
        for (host, r) in &self.registries {
            let at = format!("registries.{host:?}");
            if r.password.is_some() && r.username.is_none() {
                return Err(ConfigError::key(&at, "password", "needs a `username`"));
            }
            let secret = |key: &str, v: &Option<String>| {
                v.as_deref()
                    .map(|v| secret_ref(&at, key, v, secrets))
                    .transpose()
            };
            out.by_host.insert(
                host.clone(),
                crate::oci::RegistrySettings {
                    username: r.username.clone(),
                    password: secret("password", &r.password)?,
                    token: secret("token", &r.token)?,
                    plain_http: r.plain_http,
                },
            );
        }
        Ok(out)
    }

    /// Read and parse `path`.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let at = path.display().to_string();
        let text = std::fs::read_to_string(path)
            .map_err(|e| ConfigError::at(&at, format!("cannot read the config file: {e}")))?;
        toml::from_str(&text).map_err(|e| ConfigError::at(&at, format!("invalid config file: {e}")))
    }

    /// The engine settings: default limits from `[limits]`.
    pub fn runtime_config(&self) -> Result<RuntimeConfig, ConfigError> {
        let trust = Policy::new(self.trust.require_signatures, &self.trust.deny)
            .map_err(|e| ConfigError::key("[trust]", "deny", e))?;
        Ok(RuntimeConfig {
            limits: Limits::default().with(&self.limits),
            trust,
            ..RuntimeConfig::default()
        })
    }

    /// Settings (config values and grants) per plugin; a malformed grant is an error.
    pub fn plugin_configs(&self) -> Result<PluginConfigs, ConfigError> {
        plugin_configs("plugins", &self.plugins, &self.trust.publishers()?)
    }

    /// The apps to run: `[apps]`, or else one app `default` from the given
    /// credentials and plugin files with `[plugins]`.
    pub fn apps(
        &self,
        credentials: Option<Credentials>,
        plugins: &[PathBuf],
        secrets: &Secrets,
    ) -> Result<Vec<AppSpec>, ConfigError> {
        let defaults = self.runtime_config()?.limits;
        if self.apps.is_empty() {
            let Some(credentials) = credentials else {
                return Err(ConfigError::at(
                    "the command line",
                    "no credentials: set DINGTALK_CLIENT_ID and DINGTALK_CLIENT_SECRET (or DINGTALK_CLIENT_SECRET_FILE), pass --client-id and --client-secret-file, or declare [apps.<name>] in the config file",
                ));
            };
            if plugins.is_empty() {
                return Err(ConfigError::at(
                    "the command line",
                    "no plugins to run: give .wasm components, or declare [apps.<name>] with `load = [...]` in the config file",
                ));
            }
            return Ok(vec![AppSpec {
                name: DEFAULT_APP.to_owned(),
                credentials,
                plugins: plugins.to_vec(),
                plugin_configs: self.plugin_configs()?,
                limits: defaults,
            }]);
        }
        if !plugins.is_empty() {
            return Err(ConfigError::at(
                "[apps]",
                "the config file declares [apps]: list each app's plugins in its `load = [...]`, not on the command line",
            ));
        }
        if !self.plugins.is_empty() {
            return Err(ConfigError::at(
                "[plugins]",
                "the config file declares [apps]: move [plugins.<name>] sections under the app, as [apps.<app>.plugins.<name>]",
            ));
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
                        .map_err(|e| ConfigError::key(&at, "plugins", e.to_string()))?,
                    Some(_) => {
                        return Err(ConfigError::key(
                            &at,
                            "plugins",
                            format!("holds each plugin's settings as [apps.{name}.plugins.<plugin>]; list the files in `load = [...]`"),
                        ));
                    }
                };
                if app.load.is_empty() {
                    return Err(ConfigError::at(
                        &at,
                        "no plugins: list them in `load = [\"plugins/x.wasm\"]`",
                    ));
                }
                let secret = secret_ref(&at, "client_secret", &app.client_secret, secrets)?;
                Ok(AppSpec {
                    name: name.clone(),
                    credentials: Credentials::new(&app.client_id, secret.expose()),
                    plugins: app.load.clone(),
                    plugin_configs: plugin_configs(
                        &format!("apps.{name}.plugins"),
                        &sections,
                        &self.trust.publishers()?,
                    )?,
                    limits: defaults.with(&app.limits),
                })
            })
            .collect()
    }

    /// The admin token, if `[admin] token` names one.
    pub fn admin_token(&self, secrets: &Secrets) -> Result<Option<Secret>, ConfigError> {
        self.admin
            .token
            .as_deref()
            .map(|t| secret_ref("[admin]", "token", t, secrets))
            .transpose()
    }
}

/// Settings per plugin from `[<at>.<name>]` sections.
fn plugin_configs(
    at: &str,
    sections: &BTreeMap<String, PluginSection>,
    publishers: &BTreeMap<String, Publisher>,
) -> Result<PluginConfigs, ConfigError> {
    sections
        .iter()
        .map(|(name, section)| {
            let at = format!("[{at}.{name}]");
            let grants = Grants::parse(&section.grants)
                .map_err(|e| ConfigError::key(&at, &e.key, e.reason))?;
            let sha256 = section
                .sha256
                .as_deref()
                .map(Sha256Pin::from_hex)
                .transpose()
                .map_err(|e| ConfigError::key(&at, "sha256", e))?;
            let publisher = section
                .publisher
                .as_ref()
                .map(|p| {
                    publishers.get(p).cloned().ok_or_else(|| {
                        ConfigError::key(
                            &at,
                            "publisher",
                            format!("names {p:?}, which [trust.publishers] does not list"),
                        )
                    })
                })
                .transpose()?;
            let settings = PluginSettings {
                grants,
                limits: section.limits.clone(),
                sha256,
                publisher,
                ack: section.ack,
                instances: section.instances(&at)?,
            };
            Ok((name.clone(), settings))
        })
        .collect()
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
        let defaults = f.runtime_config().unwrap().limits;
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
    fn warm_instances_take_a_frame_range_and_an_idle_time_and_refuse_nonsense() {
        let instances = |text: &str| {
            toml::from_str::<ConfigFile>(&format!("[plugins.x]\n{text}\n"))
                .map_err(|e| e.to_string())
                .and_then(|f| f.plugin_configs().map_err(|e| e.to_string()))
                .map(|c| c["x"].instances.clone())
        };
        assert_eq!(instances(""), Ok(Instances::Fresh));
        assert_eq!(
            instances("instances = \"warm\""),
            Ok(Instances::Warm(WarmPolicy::default()))
        );
        assert_eq!(
            instances("instances = \"warm\"\nwarm_frames = [2, 5]\nwarm_idle_ms = 250"),
            Ok(Instances::Warm(WarmPolicy {
                frames: 2..=5,
                idle: Duration::from_millis(250),
            }))
        );
        for (text, why) in [
            ("instances = \"hot\"", "warm"),
            (
                "warm_frames = [1, 2]",
                "applies only with instances = \"warm\"",
            ),
            ("warm_idle_ms = 5", "applies only with instances = \"warm\""),
            (
                "instances = \"warm\"\nwarm_frames = [0, 2]",
                "1 <= min <= max",
            ),
            (
                "instances = \"warm\"\nwarm_frames = [5, 2]",
                "1 <= min <= max",
            ),
            (
                "instances = \"warm\"\nwarm_frames = [1, 4000000000]",
                "100000",
            ),
            ("instances = \"warm\"\nwarm_idle_ms = 0", "at least 1"),
        ] {
            let err = instances(text).expect_err(text);
            assert!(err.contains(why), "{text}: {err}");
        }
    }
}
