//! Loading a plugin: read, pin check, compile (or the artifact cache), pre-link,
//! canary `describe`, validate, and only then a [`Plugin`] exists, so a broken file
//! never reaches dispatch.
//!
//! Identity rules, checked at load before a plugin can serve: its name (from
//! `describe`) must equal its file's stem (`plugins/crm.wasm` is `crm`), since grants,
//! config values, limits, card ownership and quarantine are all keyed by that name;
//! its config section may pin the component's SHA-256, checked before anything is
//! compiled. Two plugins with one name are refused by whoever loads them together.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::AtomicUsize;
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};

use super::bindings::{self, FrameKind, WIT_VERSION};
use super::cache;
use super::call::{AckMode, Plugin, PluginStats, Signer, stderr_suffix};
use super::capability::Grants;
use super::capability::args::{MAX_REPORTED, cap_text};
use super::capability::tools::offered as offered_tools;
use super::engine::Runtime;
use super::limits::LimitOverrides;
use super::meter::new_store;
use super::scope::FrameScope;
use super::state::{PluginContext, State};
use super::warm::{Instances, pool_for};
use crate::stream::{Subscription, SubscriptionKind};

/// The version of the first `dingtalk:bot` interface in `imports` that is not the
/// one this host serves, if any (cut to [`MAX_DESCRIBED`] bytes: the file names it).
fn other_wit_version(imports: &[String]) -> Option<String> {
    imports
        .iter()
        .filter_map(|name| name.strip_prefix("dingtalk:bot/")?.split_once('@'))
        .map(|(_, version)| version)
        .find(|version| *version != WIT_VERSION)
        .map(|version| cap_text(version.to_owned(), MAX_DESCRIBED))
}

/// Time the canary `describe` call may take at load.
const CANARY_TIMEOUT: Duration = Duration::from_secs(5);

/// Why a plugin file was not loaded. Each names the file and the stage.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// The file could not be read.
    #[error("plugin load failed: cannot read {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// Not a valid WebAssembly component.
    #[error("plugin load failed: {path} is not a valid WebAssembly component: {reason}")]
    Compile {
        /// The file.
        path: PathBuf,
        /// wasmtime's reason.
        reason: String,
    },
    /// Its imports or exports do not match the `dingtalk:bot` world.
    #[error("plugin load failed: {path} does not fit the dingtalk:bot plugin world: {reason}")]
    Link {
        /// The file.
        path: PathBuf,
        /// What did not match.
        reason: String,
    },
    /// It was built for another version of the `dingtalk:bot` WIT package.
    #[error(
        "plugin load failed: {path} was built for dingtalk:bot@{found}, and this host serves dingtalk:bot@{WIT_VERSION}: rebuild it with the current SDK (`host build`)"
    )]
    WitVersion {
        /// The file.
        path: PathBuf,
        /// The version its imports name.
        found: String,
    },
    /// The canary instance failed to answer `describe`.
    #[error("plugin load failed: {path} failed its canary describe call: {reason}")]
    Canary {
        /// The file.
        path: PathBuf,
        /// The trap or timeout.
        reason: String,
    },
    /// It asks for a topic the operator did not grant it.
    #[error(
        "plugin load failed: {path} ({name}) asks for {subscription}, which it is not granted (add \"{subscription}\" to `topics` in its host config section)"
    )]
    TopicDenied {
        /// The file.
        path: PathBuf,
        /// The plugin's name.
        name: String,
        /// The refused subscription.
        subscription: Subscription,
    },
    /// The file's name gives no plugin name.
    #[error("plugin load failed: {path}: the file name must be <name>.wasm with a UTF-8 name")]
    FileName {
        /// The file.
        path: PathBuf,
    },
    /// Its SHA-256 is not the one its config section pins.
    #[error(
        "plugin load failed: {path} refused by the sha256 pin: its SHA-256 is {actual}, its config section pins {expected}"
    )]
    PinMismatch {
        /// The file.
        path: PathBuf,
        /// The pinned digest (hex).
        expected: String,
        /// The file's digest (hex).
        actual: String,
    },
    /// Its publisher's signature does not verify, or none is required and there.
    #[error("plugin load failed: {path} refused by the trust policy: {reason}")]
    Untrusted {
        /// The file.
        path: PathBuf,
        /// Which check failed and why.
        reason: String,
    },
    /// It describes itself by another name than its file's stem.
    #[error(
        "plugin load failed: {path} refused by the name rule: it calls itself {described:?}, but a plugin's name must be its file stem {stem:?} (rename the file or the plugin)"
    )]
    NameMismatch {
        /// The file.
        path: PathBuf,
        /// The file's stem.
        stem: String,
        /// The name `describe` answered.
        described: String,
    },
    /// Another loaded plugin has the same name.
    #[error(
        "plugin load failed: {path} refused by the unique-name rule: plugin {name:?} is already loaded from {other}"
    )]
    Duplicate {
        /// The refused file.
        path: PathBuf,
        /// The shared name.
        name: String,
        /// The file already loaded under that name.
        other: PathBuf,
    },
    /// `describe` answered something unusable.
    #[error("plugin load failed: {path} describes itself invalidly: {reason}")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// What is wrong with the description.
        reason: String,
    },
}

/// What the operator set for one plugin: its grants (config values included),
/// limits and an optional pin of its component's SHA-256.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PluginSettings {
    /// What it may do beyond its own conversation, one grant per capability.
    pub grants: Grants,
    /// Changes to the default limits.
    pub limits: LimitOverrides,
    /// The SHA-256 its component must have, when pinned.
    pub sha256: Option<Sha256Pin>,
    /// The publisher whose key must have signed it (`publisher = "acme"`).
    pub publisher: Option<Publisher>,
    /// When its frames are ACKed (`ack = "on-receipt"`).
    pub ack: AckMode,
    /// Whether its frames share warm instances (`instances = "warm"`).
    pub instances: Instances,
}

/// A publisher of `[trust.publishers.<name>]`: its name and the keys it signs with
/// (several, so it can rotate).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Publisher {
    /// `<name>`.
    pub name: String,
    /// Its public keys.
    pub keys: Arc<[crate::trust::TrustedKey]>,
}

/// A pinned SHA-256 of a component, decoded from 64 hex digits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sha256Pin([u8; 32]);

impl Sha256Pin {
    /// Decode 64 hex digits.
    pub fn from_hex(hex: &str) -> Result<Self, String> {
        let bad = || format!("sha256 pin {hex:?} must be 64 hex digits");
        if hex.len() != 64 || !hex.is_ascii() {
            return Err(bad());
        }
        let mut out = [0u8; 32];
        for (i, byte) in out.iter_mut().enumerate() {
            *byte = u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).map_err(|_| bad())?;
        }
        Ok(Self(out))
    }

    fn hex(&self) -> String {
        cache::hex(&self.0)
    }
}

/// Settings per plugin name (its file stem).
pub type PluginConfigs = BTreeMap<String, PluginSettings>;

/// The plugin name a file stands for: its stem.
pub fn file_stem(path: &Path) -> Option<&str> {
    path.file_stem()
        .and_then(|s| s.to_str())
        .filter(|s| !s.is_empty())
}

impl Runtime {
    /// Load the component at `path`: compile, pre-link, canary `describe`.
    /// `configs` gives each plugin, by its file stem, its grants, limits and pin.
    pub async fn load(&self, path: &Path, configs: &PluginConfigs) -> Result<Plugin, LoadError> {
        let path = path.to_path_buf();
        let Some(stem) = file_stem(&path).map(str::to_owned) else {
            return Err(LoadError::FileName { path });
        };
        let settings = configs.get(&stem).cloned().unwrap_or_default();
        let bytes = tokio::fs::read(&path)
            .await
            .map_err(|source| LoadError::Read {
                path: path.clone(),
                source,
            })?;
        let size = bytes.len();
        let digest: [u8; 32] = Sha256::digest(&bytes).into();
        if let Some(pin) = settings.sha256
            && pin.0 != digest
        {
            return Err(LoadError::PinMismatch {
                path,
                expected: pin.hex(),
                actual: cache::hex(&digest),
            });
        }
        // Before compiling: a denied file, or one nobody vouches for, gets no further
        // than its bytes.
        let policy = self.engine.trust();
        if let Some(why) = policy.denied(&bytes, &digest) {
            return Err(LoadError::Untrusted { path, reason: why });
        }
        let signed_by = match (&settings.publisher, policy.require_signatures) {
            (Some(p), _) => {
                let key =
                    crate::trust::verify(&bytes, &p.keys).map_err(|why| LoadError::Untrusted {
                        path: path.clone(),
                        reason: format!("publisher {:?}: {why}", p.name),
                    })?;
                Some(Signer {
                    publisher: p.name.clone(),
                    key,
                })
            }
            (None, true) => {
                return Err(LoadError::Untrusted {
                    path,
                    reason: format!(
                        "`[trust] require_signatures` is set and [plugins.{stem}] names no `publisher`"
                    ),
                });
            }
            (None, false) => None,
        };
        // What the file says about itself: shown and compared on upgrade, never a grant.
        let declared = crate::manifest::read(&bytes)
            .map(|m| m.map(Arc::new))
            .map_err(|e| cap_text(format!("{e:#}"), MAX_REPORTED));
        let engine = self.engine.inner.engine.clone();
        let cache = self.engine.inner.cache.clone();
        let started = Instant::now();
        let (component, source) = tokio::task::spawn_blocking(move || {
            cache::load_or_compile(&engine, &bytes, &digest, &cache)
        })
        .await
        .map_err(|e| LoadError::Compile {
            path: path.clone(),
            reason: e.to_string(),
        })?
        .map_err(|e| LoadError::Compile {
            path: path.clone(),
            reason: format!("{e:#}"),
        })?;
        let compile_time = started.elapsed();
        let imports: Vec<String> = component
            .component_type()
            .imports(&self.engine.inner.engine)
            .map(|(name, _)| name.to_owned())
            .collect();
        // Import names come from the file: both reasons are cut before a log line or
        // an error carries them.
        let link = |e: wasmtime::Error| match other_wit_version(&imports) {
            Some(found) => LoadError::WitVersion {
                path: path.clone(),
                found,
            },
            None => LoadError::Link {
                path: path.clone(),
                reason: cap_text(format!("{e:#}"), MAX_REPORTED),
            },
        };
        let instance_pre = self
            .engine
            .inner
            .linker
            .instantiate_pre(&component)
            .map_err(link)?;
        let pre = bindings::PluginPre::new(instance_pre).map_err(link)?;

        // The canary may read the plugin's own config values (a plugin may decide its
        // subscriptions by them) and nothing else it was granted.
        let canary_ctx = Arc::new(PluginContext::new(
            stem.clone(),
            Grants {
                config: settings.grants.config.clone(),
                ..Grants::default()
            },
            self.services.clone(),
            self.limits.clone(),
            self.engine.inner.ticks.clone(),
        ));
        let description = canary(&pre, canary_ctx)
            .await
            .map_err(|reason| LoadError::Canary {
                path: path.clone(),
                reason,
            })?;
        let invalid = |reason: String| LoadError::Invalid {
            path: path.clone(),
            reason,
        };
        let subscriptions = validate(&description).map_err(invalid)?;
        let specs: Vec<(String, String, String)> = description
            .tools
            .iter()
            .map(|t| (t.name.clone(), t.description.clone(), t.parameters.clone()))
            .collect();
        let tools = offered_tools(&specs).map_err(invalid)?;
        if description.name != stem {
            return Err(LoadError::NameMismatch {
                path,
                stem,
                described: cap_text(description.name, 128),
            });
        }
        if let Some(denied) = subscriptions
            .iter()
            .find(|s| !settings.grants.topics.allows(s))
        {
            return Err(LoadError::TopicDenied {
                path,
                name: description.name,
                subscription: denied.clone(),
            });
        }
        let limits = self.limits.with(&settings.limits);
        let ctx = Arc::new(PluginContext::new(
            description.name.clone(),
            settings.grants,
            self.services.clone(),
            limits.clone(),
            self.engine.inner.ticks.clone(),
        ));
        Ok(Plugin {
            name: description.name,
            version: description.version,
            subscriptions,
            path,
            size,
            compile_time,
            source,
            imports,
            sha256: cache::hex(&digest),
            signed_by,
            declared,
            tools: tools.into(),
            pre,
            ctx,
            concurrency: Arc::new(tokio::sync::Semaphore::new(limits.max_concurrency)),
            // At most one instance per slot is ever idle.
            warm: pool_for(
                &settings.instances,
                limits.max_concurrency,
                &self.engine.inner.park_budget,
            ),
            instances: settings.instances,
            waiting: AtomicUsize::new(0),
            stats: PluginStats::default(),
            limits,
            ack: settings.ack,
        })
    }
}

async fn canary(
    pre: &bindings::PluginPre<State>,
    ctx: Arc<PluginContext>,
) -> Result<bindings::Description, String> {
    let state = State::new(ctx, FrameScope::default());
    let mut store = new_store(pre.engine(), state);
    let call = async {
        let instance = pre.instantiate_async(&mut store).await?;
        instance.call_describe(&mut store).await
    };
    match tokio::time::timeout(CANARY_TIMEOUT, call).await {
        Err(_) => Err(format!("no answer within {CANARY_TIMEOUT:?}")),
        Ok(Err(e)) => {
            let stderr = cap_text(store.data().stderr_text(), MAX_REPORTED);
            Err(format!(
                "{}{}",
                cap_text(format!("{e:#}"), MAX_REPORTED),
                stderr_suffix(&stderr)
            ))
        }
        Ok(Ok(d)) => Ok(d),
    }
}

/// Longest version string and topic a description may carry: they reach logs and
/// load errors.
const MAX_DESCRIBED: usize = 256;

/// Most subscriptions one plugin may ask for.
const MAX_SUBSCRIPTIONS: usize = 32;

fn validate(d: &bindings::Description) -> Result<Vec<Subscription>, String> {
    if d.name.trim().is_empty() {
        return Err("the name is empty".into());
    }
    if d.version.len() > MAX_DESCRIBED {
        return Err(format!(
            "the version is {} bytes; at most {MAX_DESCRIBED} are allowed",
            d.version.len()
        ));
    }
    if d.subscriptions.is_empty() && d.tools.is_empty() {
        return Err("it subscribes to nothing and offers no tools".into());
    }
    if d.subscriptions.len() > MAX_SUBSCRIPTIONS {
        return Err(format!(
            "it asks for {} subscriptions; at most {MAX_SUBSCRIPTIONS} are allowed",
            d.subscriptions.len()
        ));
    }
    let mut subs = Vec::with_capacity(d.subscriptions.len());
    for s in &d.subscriptions {
        let kind = match s.kind {
            FrameKind::Callback => SubscriptionKind::Callback,
            FrameKind::Event => SubscriptionKind::Event,
        };
        if s.topic.is_empty() {
            return Err("a subscription has an empty topic".into());
        }
        if s.topic.len() > MAX_DESCRIBED {
            return Err(format!(
                "a topic is {} bytes; at most {MAX_DESCRIBED} are allowed",
                s.topic.len()
            ));
        }
        if kind == SubscriptionKind::Event && s.topic != "*" {
            return Err(format!(
                "event subscriptions must use topic \"*\", not {:?}",
                s.topic
            ));
        }
        subs.push(Subscription {
            kind,
            topic: s.topic.clone(),
        });
    }
    subs.sort();
    subs.dedup();
    Ok(subs)
}

#[cfg(test)]
mod tests {
    use super::*;
    use bindings::dingtalk::bot::types::Subscription as WitSubscription;

    fn description(version: &str, topics: &[&str]) -> bindings::Description {
        bindings::Description {
            name: "x".into(),
            version: version.into(),
            subscriptions: topics
                .iter()
                .map(|t| WitSubscription {
                    kind: FrameKind::Callback,
                    topic: (*t).into(),
                })
                .collect(),
            tools: Vec::new(),
        }
    }

    #[test]
    fn what_describe_answers_is_bounded_before_it_reaches_a_log() {
        assert!(validate(&description("1.0", &["/t"])).is_ok());
        let huge = "v".repeat(1 << 20);
        assert!(
            validate(&description(&huge, &["/t"]))
                .unwrap_err()
                .contains("at most 256")
        );
        assert!(
            validate(&description("1", &[&huge]))
                .unwrap_err()
                .contains("at most 256")
        );
        let many = vec!["/t"; 33];
        assert!(
            validate(&description("1", &many))
                .unwrap_err()
                .contains("at most 32")
        );
    }

    #[test]
    fn an_import_of_another_wit_version_is_named() {
        let imports = |names: &[&str]| names.iter().map(|n| (*n).to_owned()).collect::<Vec<_>>();
        let current = format!("dingtalk:bot/log@{WIT_VERSION}");
        assert_eq!(
            other_wit_version(&imports(&[&current, "wasi:io/streams@0.2.6"])),
            None
        );
        assert_eq!(
            other_wit_version(&imports(&[&current, "dingtalk:bot/reply@0.2.0"])).as_deref(),
            Some("0.2.0")
        );
        let huge = format!("dingtalk:bot/reply@{}", "9".repeat(1 << 20));
        let named = other_wit_version(&imports(&[&huge])).unwrap();
        assert!(named.len() < MAX_DESCRIBED + 32, "{} bytes", named.len());
    }

    #[test]
    fn a_pin_is_64_hex_digits() {
        assert!(Sha256Pin::from_hex(&"ab".repeat(32)).is_ok());
        assert!(Sha256Pin::from_hex("ab").is_err());
        assert!(Sha256Pin::from_hex(&"zz".repeat(32)).is_err());
    }
}
