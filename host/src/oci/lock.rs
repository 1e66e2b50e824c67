//! The lock file (`host.lock`, beside the config): every `oci://` reference the
//! operator pulled, resolved to the digest that runs, with the plugin's name,
//! version and publisher; and the store of pulled components by digest.
//!
//! Invariants:
//! - `host run` runs what the lock names, read from the store and never from the
//!   network: a moved tag changes nothing until `host pull --update`;
//! - the store keeps each component under its layer's SHA-256 as `<name>.wasm` (the
//!   file stem is the plugin's name, as for a local file) and a stored file whose
//!   digest does not match is refused, never run;
//! - the lock is written aside and renamed, so a crash leaves the old one.

use std::path::{Path, PathBuf};

use anyhow::Context as _;
use serde::{Deserialize, Serialize};
use sha2::Digest as _;

/// One pulled reference.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Locked {
    /// The reference as the config or command line wrote it.
    #[serde(rename = "ref")]
    pub reference: String,
    /// The plugin's name.
    pub name: String,
    /// The manifest digest the reference resolved to.
    pub digest: String,
    /// The component's SHA-256 (hex).
    pub sha256: String,
    /// Its version.
    pub version: String,
    /// The publisher whose key signed it.
    pub publisher: String,
    /// That key's fingerprint (`SHA256:...`).
    pub key: String,
}

#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    #[serde(default, rename = "plugin")]
    plugins: Vec<Locked>,
}

/// The lock file and its store.
#[derive(Debug, Clone)]
pub struct Lock {
    path: PathBuf,
    entries: Vec<Locked>,
}

impl Lock {
    /// The lock beside `config` (`host.lock`; `./host.lock` without a config).
    pub fn beside(config: Option<&Path>) -> PathBuf {
        match config.and_then(Path::parent) {
            Some(dir) if !dir.as_os_str().is_empty() => dir.join("host.lock"),
            _ => PathBuf::from("host.lock"),
        }
    }

    /// Read `path` (empty when it does not exist).
    pub fn read(path: &Path) -> anyhow::Result<Self> {
        let entries = match std::fs::read_to_string(path) {
            Ok(text) => {
                toml::from_str::<File>(&text)
                    .with_context(|| format!("{} is malformed", path.display()))?
                    .plugins
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
            Err(e) => return Err(e).with_context(|| format!("cannot read {}", path.display())),
        };
        Ok(Self {
            path: path.to_path_buf(),
            entries,
        })
    }

    /// Every entry.
    pub fn entries(&self) -> impl Iterator<Item = &Locked> {
        self.entries.iter()
    }

    /// The entry for `reference`.
    pub fn get(&self, reference: &str) -> Option<&Locked> {
        self.entries.iter().find(|e| e.reference == reference)
    }

    /// Record `entry`, replacing the one for its reference.
    pub fn set(&mut self, entry: Locked) {
        self.entries.retain(|e| e.reference != entry.reference);
        self.entries.push(entry);
        self.entries.sort_by(|a, b| a.reference.cmp(&b.reference));
    }

    /// Write the lock (aside, then renamed).
    pub fn write(&self) -> anyhow::Result<()> {
        let text = format!(
            "# Written by `host pull`: each oci:// reference and the digest `host run` runs.\n# `host pull --update` moves them; edit by hand only to remove an entry.\n\n{}",
            toml::to_string(&File {
                plugins: self.entries.clone(),
            })?
        );
        let tmp = self.path.with_extension("lock.tmp");
        std::fs::write(&tmp, text).with_context(|| format!("cannot write {}", tmp.display()))?;
        std::fs::rename(&tmp, &self.path)
            .with_context(|| format!("cannot replace {}", self.path.display()))
    }

    /// The store folder.
    fn store(&self) -> PathBuf {
        match self.path.parent() {
            Some(dir) if !dir.as_os_str().is_empty() => dir.join(".host-oci"),
            _ => PathBuf::from(".host-oci"),
        }
    }

    /// Where the component of `entry` is stored.
    pub fn stored(&self, entry: &Locked) -> PathBuf {
        self.store()
            .join(format!("sha256-{}", entry.sha256))
            .join(format!("{}.wasm", entry.name))
    }

    /// Store `component` for `entry` (written aside, then renamed).
    pub fn keep(&self, entry: &Locked, component: &[u8]) -> anyhow::Result<PathBuf> {
        let at = self.stored(entry);
        let dir = at.parent().context("a stored component has a folder")?;
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
        let tmp = dir.join(format!(".{}.tmp", entry.name));
        std::fs::write(&tmp, component)
            .with_context(|| format!("cannot write {}", tmp.display()))?;
        std::fs::rename(&tmp, &at).with_context(|| format!("cannot store {}", at.display()))?;
        Ok(at)
    }

    /// The stored component of `reference`, checked against its digest.
    pub fn resolve(&self, reference: &str) -> anyhow::Result<PathBuf> {
        let entry = self.get(reference).with_context(|| {
            format!(
                "{reference} is not in {}: run `host pull` first (host run never pulls)",
                self.path.display()
            )
        })?;
        let at = self.stored(entry);
        let bytes = std::fs::read(&at).with_context(|| {
            format!(
                "{reference} is locked at {} but {} is missing: run `host pull` to fetch it again by digest",
                entry.digest,
                at.display()
            )
        })?;
        let actual = hex(&sha2::Sha256::digest(&bytes));
        anyhow::ensure!(
            actual == entry.sha256,
            "{} was changed after it was pulled (SHA-256 {actual}, the lock says {}): refused",
            at.display(),
            entry.sha256
        );
        Ok(at)
    }
}

/// Lower-case hex of `bytes`.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(reference: &str, sha: &str) -> Locked {
        Locked {
            reference: reference.into(),
            name: "crm".into(),
            digest: format!("sha256:{}", "d".repeat(64)),
            sha256: sha.into(),
            version: "1.0.0".into(),
            publisher: "acme".into(),
            key: "SHA256:x".into(),
        }
    }

    #[test]
    fn a_lock_round_trips_and_a_stored_file_changed_after_the_pull_is_refused() {
        let dir = std::env::temp_dir().join(format!("lock-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let path = Lock::beside(Some(&dir.join("host.toml")));
        assert_eq!(path, dir.join("host.lock"));
        let mut lock = Lock::read(&path).unwrap();
        let component = b"\0asm component".to_vec();
        let e = entry(
            "oci://r.example/acme/crm:1",
            &hex(&sha2::Sha256::digest(&component)),
        );
        lock.keep(&e, &component).unwrap();
        lock.set(e.clone());
        lock.write().unwrap();
        let again = Lock::read(&path).unwrap();
        assert_eq!(again.get(&e.reference), Some(&e));
        assert!(again.resolve(&e.reference).unwrap().ends_with("crm.wasm"));
        std::fs::write(again.stored(&e), b"\0asm planted").unwrap();
        let err = again.resolve(&e.reference).unwrap_err();
        assert!(
            format!("{err:#}").contains("changed after it was pulled"),
            "{err:#}"
        );
        let missing = again.resolve("oci://r.example/acme/other:1").unwrap_err();
        assert!(format!("{missing:#}").contains("host pull"), "{missing:#}");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
