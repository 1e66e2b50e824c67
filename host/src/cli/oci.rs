//! `host push FILE oci://...` and `host pull [--update] [oci://...]`: plugins through
//! OCI registries (see [`crate::oci`]), and the resolution of `oci://` entries that
//! `host run` and `host check` load from the lock.
//!
//! Invariants:
//! - a pull is refused unless the plugin's section names a publisher one of whose
//!   keys signed the whole component (signatures are required for registry plugins),
//!   and before anything is stored: a denied repository before anything is fetched,
//!   a denied digest or key, a component whose own manifest differs from the config's;
//! - `--update` moves a locked reference only when the upgrade rules allow it
//!   (`upgrade.rs`: the same key, no lower version, nothing requested beyond the
//!   grant), or with `--accept` for the key and version rules; what changed is
//!   printed;
//! - `host run` never pulls: an `oci://` entry runs the stored component the lock
//!   names, checked against its digest.

use std::path::{Path, PathBuf};

use anyhow::Context as _;
use clap::Args;
use sha2::Digest as _;

use crate::oci::{Lock, Locked, OciRef, Registries};
use crate::runtime::{Grants, PluginConfigs};
use crate::settings::ConfigFile;
use crate::trust::Policy;
use crate::upgrade::{self, Facts, Hold};

#[derive(Debug, Args)]
pub(super) struct PushArgs {
    /// The config file naming `[registries]` credentials.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// The component to push (sign it first: hosts pull only signed plugins).
    #[arg(value_name = "PLUGIN.wasm")]
    pub file: PathBuf,
    /// Where: `oci://host/repo:tag`.
    #[arg(value_name = "oci://HOST/REPO:TAG")]
    pub reference: String,
}

#[derive(Debug, Args)]
pub(super) struct PullArgs {
    /// The config file: trust, grants, `[registries]`, and the apps' `load` entries.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Resolve tags again and move the lock where the upgrade rules allow.
    #[arg(long)]
    pub update: bool,
    /// With `--update`: accept another signing key or a lower version.
    #[arg(long, requires = "update")]
    pub accept: bool,
    /// The references to pull; without any, every `oci://` entry of the apps' `load`.
    #[arg(value_name = "oci://HOST/REPO:TAG")]
    pub references: Vec<String>,
}

pub(super) async fn push(args: PushArgs) -> anyhow::Result<()> {
    let r = OciRef::parse(&args.reference)?;
    let file = match &args.config {
        Some(p) => ConfigFile::load(p)?,
        None => ConfigFile::default(),
    };
    let secrets = crate::secrets::Secrets::load(&file.secrets)?;
    let registries = file.registries(&secrets)?;
    let bytes = std::fs::read(&args.file)
        .with_context(|| format!("cannot read {}", args.file.display()))?;
    if crate::trust::verify(&bytes, &[])
        .is_err_and(|e| matches!(e, crate::trust::Refusal::Unsigned))
    {
        eprintln!(
            "warning: {} is not signed; hosts refuse to pull unsigned plugins (`host sign` it first)",
            args.file.display()
        );
    }
    let digest = registries.push(&bytes, &r).await?;
    println!("pushed {} to {r}", args.file.display());
    println!("digest {digest}");
    Ok(())
}

/// Where one reference's grants and publisher come from.
struct Wanted {
    reference: String,
    configs: PluginConfigs,
}

pub(super) async fn pull(args: PullArgs) -> anyhow::Result<()> {
    let file = match &args.config {
        Some(p) => ConfigFile::load(p)?,
        None => ConfigFile::default(),
    };
    let secrets = crate::secrets::Secrets::load(&file.secrets)?;
    let registries = file.registries(&secrets)?;
    let policy = file.runtime_config()?.trust;
    let wanted = wanted(&file, &secrets, &args.references)?;
    anyhow::ensure!(
        !wanted.is_empty(),
        "nothing to pull: name oci:// references, or list them in an app's `load`"
    );
    let mut lock = Lock::read(&Lock::beside(args.config.as_deref()))?;
    let mut refused = 0;
    for w in &wanted {
        match pull_one(&registries, &policy, &mut lock, w, &args).await {
            Ok(line) => println!("{line}"),
            Err(e) => {
                refused += 1;
                println!("refused {}: {e:#}", w.reference);
            }
        }
    }
    lock.write()?;
    anyhow::ensure!(refused == 0, "{refused} of {} not pulled", wanted.len());
    Ok(())
}

fn wanted(
    file: &ConfigFile,
    secrets: &crate::secrets::Secrets,
    given: &[String],
) -> anyhow::Result<Vec<Wanted>> {
    let top = file.plugin_configs()?;
    let apps = if file.apps.is_empty() {
        Vec::new()
    } else {
        file.apps(None, &[], secrets)?
    };
    let configs_of = |reference: &str| {
        apps.iter()
            .find(|a| a.plugins.iter().any(|p| p.to_str() == Some(reference)))
            .map_or_else(|| top.clone(), |a| a.plugin_configs.clone())
    };
    let refs: Vec<String> = if given.is_empty() {
        let mut all: Vec<String> = apps
            .iter()
            .flat_map(|a| a.plugins.iter())
            .filter_map(|p| p.to_str())
            .filter(|p| OciRef::is(p))
            .map(str::to_owned)
            .collect();
        all.dedup();
        all
    } else {
        given.to_vec()
    };
    Ok(refs
        .into_iter()
        .map(|reference| Wanted {
            configs: configs_of(&reference),
            reference,
        })
        .collect())
}

async fn pull_one(
    registries: &Registries,
    policy: &Policy,
    lock: &mut Lock,
    w: &Wanted,
    args: &PullArgs,
) -> anyhow::Result<String> {
    let r = OciRef::parse(&w.reference)?;
    if let Some(why) = policy.denied_source(&r.repository(), r.tag()) {
        anyhow::bail!("{why}");
    }
    let locked = lock.get(&w.reference).cloned();
    if let Some(old) = &locked
        && !args.update
    {
        if lock.resolve(&w.reference).is_err() {
            // The store lost it: fetch the locked digest again, never the tag.
            let pulled = registries.pull(&r.at_digest(&old.digest)).await?;
            check_bytes(&pulled.component, old)?;
            lock.keep(old, &pulled.component)?;
        }
        return Ok(format!(
            "locked {} at {} ({} {})",
            w.reference, old.digest, old.name, old.version
        ));
    }
    let (manifest, digest, config) = registries.resolve(&r).await?;
    if let Some(old) = &locked
        && old.digest == digest
        && lock.resolve(&w.reference).is_ok()
    {
        return Ok(format!(
            "unchanged {} ({} {})",
            w.reference, old.name, old.version
        ));
    }
    let declared = config.manifest.clone().with_context(|| {
        format!(
            "{r} carries no dingtalk-bot-manifest in its config: which plugin it is cannot be told"
        )
    })?;
    let name = declared.name.clone();
    anyhow::ensure!(
        !name.is_empty()
            && name.len() <= 64
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'),
        "{r} names its plugin {name:?}, which is not a plugin name"
    );
    let settings = w.configs.get(&name).cloned().unwrap_or_default();
    let publisher = settings.publisher.clone().with_context(|| {
        format!("plugins pulled from a registry must be signed: name a publisher for {name} in its config section (`publisher = \"...\"` and [trust.publishers.<name>] keys)")
    })?;
    // Only now is the layer fetched.
    let component = registries.layer(&r, &manifest).await?;
    let sha: [u8; 32] = sha2::Sha256::digest(&component).into();
    if let Some(why) = policy.denied(&component, &sha) {
        anyhow::bail!("{why}");
    }
    let key = crate::trust::verify(&component, &publisher.keys)
        .map_err(|why| anyhow::anyhow!("publisher {:?}: {why}", publisher.name))?;
    let embedded = crate::manifest::read(&component)?;
    anyhow::ensure!(
        embedded.as_ref() == Some(&declared),
        "the manifest in {r}'s config differs from the one in its component: refused"
    );
    let version = declared.version.clone();
    let entry = Locked {
        reference: w.reference.clone(),
        name: name.clone(),
        digest: digest.clone(),
        sha256: crate::oci::lock::hex(&sha),
        version: version.clone(),
        publisher: publisher.name.clone(),
        key: key.clone(),
    };
    if let Some(old) = &locked {
        let granted = settings.grants.show();
        let before = Facts {
            version: old.version.clone(),
            key: Some(old.key.clone()),
            requests: requests_of(&lock.stored(old)),
            granted: granted.clone(),
        };
        let after = Facts {
            version: version.clone(),
            key: Some(key.clone()),
            requests: Grants::requested(&declared.requests).map(|g| g.show()),
            granted,
        };
        match upgrade::judge(&before, &after) {
            Some(Hold::KeyChanged { .. } | Hold::Rollback { .. }) if args.accept => {}
            Some(hold) => anyhow::bail!(
                "update held, the lock keeps {} {}: {hold}{}",
                old.version,
                old.digest,
                if matches!(hold, Hold::KeyChanged { .. } | Hold::Rollback { .. }) {
                    " (`host pull --update --accept` accepts)"
                } else {
                    ""
                }
            ),
            None => {}
        }
    }
    lock.keep(&entry, &component)?;
    lock.set(entry);
    Ok(match locked {
        Some(old) => format!(
            "updated {}: {name} {} -> {version} ({} -> {digest}), signed by {} ({key})",
            w.reference, old.version, old.digest, publisher.name
        ),
        None => format!(
            "pulled {}: {name} {version} ({digest}), signed by {} ({key})",
            w.reference, publisher.name
        ),
    })
}

/// What the stored component at `path` requests (as grant lines).
fn requests_of(path: &Path) -> Result<Vec<String>, String> {
    let bytes = std::fs::read(path).map_err(|e| e.to_string())?;
    match crate::manifest::read(&bytes).map_err(|e| format!("{e:#}"))? {
        Some(m) => Grants::requested(&m.requests).map(|g| g.show()),
        None => Ok(Vec::new()),
    }
}

fn check_bytes(component: &[u8], entry: &Locked) -> anyhow::Result<()> {
    let actual = crate::oci::lock::hex(&sha2::Sha256::digest(component));
    anyhow::ensure!(
        actual == entry.sha256,
        "{} at {} has SHA-256 {actual}, and the lock says {}",
        entry.reference,
        entry.digest,
        entry.sha256
    );
    Ok(())
}

/// `paths` with each `oci://` entry replaced by the stored component the lock
/// beside `config` names; one whose repository is denied is left out (so a reload
/// after the operator denies it unloads it), one whose section names no publisher is
/// refused (registry plugins must be signed, and are verified again at load).
pub(super) fn resolve_locked(
    paths: &[PathBuf],
    config: Option<&Path>,
    policy: &Policy,
    configs: &PluginConfigs,
) -> anyhow::Result<Vec<PathBuf>> {
    if !paths.iter().any(|p| p.to_str().is_some_and(OciRef::is)) {
        return Ok(paths.to_vec());
    }
    let lock = Lock::read(&Lock::beside(config))?;
    paths
        .iter()
        .filter_map(|p| match p.to_str().filter(|s| OciRef::is(s)) {
            None => Some(Ok(p.clone())),
            Some(reference) => match OciRef::parse(reference) {
                Err(e) => Some(Err(e)),
                Ok(r) => match policy.denied_source(&r.repository(), r.tag()) {
                    Some(why) => {
                        tracing::error!("{reference} is not loaded: {why}");
                        None
                    }
                    None => Some(locked(&lock, reference, configs)),
                },
            },
        })
        .collect()
}

fn locked(lock: &Lock, reference: &str, configs: &PluginConfigs) -> anyhow::Result<PathBuf> {
    let at = lock.resolve(reference)?;
    let name = lock
        .get(reference)
        .map(|e| e.name.as_str())
        .unwrap_or_default();
    anyhow::ensure!(
        configs.get(name).is_some_and(|s| s.publisher.is_some()),
        "{reference}: plugins pulled from a registry must be signed: name a publisher for {name} in its config section"
    );
    Ok(at)
}
