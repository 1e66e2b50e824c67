//! The compiled-artifact cache: compiling a component takes tens to hundreds of
//! milliseconds, loading its precompiled artifact a fraction of one.
//!
//! An entry is keyed by the SHA-256 of the component's bytes and the engine's
//! compatibility hash (wasmtime version, features, configuration), so an artifact is
//! only ever loaded by an engine that could have produced it. Entries are written to a
//! temporary file and renamed into place.
//!
//! An artifact is native code run in the process that holds the app's secret, so the
//! cache trusts nothing it did not write itself:
//! - the folder is created 0700, files 0600; a folder that is not the host user's own,
//!   or that group or others may write, is not used at all;
//! - an entry is opened without following symlinks and refused unless it is a regular
//!   file owned by the host's user that group and others cannot write;
//! - each artifact has a sidecar holding HMAC-SHA256 of its name and bytes under a
//!   random key kept 0600 beside the folder (`<folder>.key`), never among the entries:
//!   an entry planted by copying, or with a plain SHA-256, fails the check and is
//!   deleted and recompiled, never loaded.
//!
//! After each write the cache is pruned, oldest first, to its size budget.

use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};

use hmac::{Hmac, Mac};
use sha2::Sha256;
use wasmtime::Engine;
use wasmtime::component::Component;

use secure::{create_private, open_private, private_dir};

type HmacSha256 = Hmac<Sha256>;

/// Cache settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CacheConfig {
    /// Where artifacts live; `None` turns the cache off.
    pub dir: Option<PathBuf>,
    /// Total size kept, in bytes. Default 256 MiB.
    pub max_bytes: u64,
}

impl Default for CacheConfig {
    /// On, under the user's cache directory (`$XDG_CACHE_HOME` or `~/.cache`).
    fn default() -> Self {
        let base = std::env::var_os("XDG_CACHE_HOME")
            .map(PathBuf::from)
            .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")));
        Self {
            dir: base.map(|b| b.join("dingtalk-wasm-host").join("artifacts")),
            max_bytes: 256 << 20,
        }
    }
}

impl CacheConfig {
    /// No cache: every load compiles.
    pub fn off() -> Self {
        Self {
            dir: None,
            max_bytes: 0,
        }
    }
}

/// Lower-case hex of `bytes`.
pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The entry name for a component with SHA-256 `digest` under `engine`.
fn key(engine: &Engine, digest: &[u8; 32]) -> String {
    let mut h = DefaultHasher::new();
    engine.precompile_compatibility_hash().hash(&mut h);
    format!("{}-{:016x}", hex(digest), h.finish())
}

/// Where a component came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// Compiled now.
    Compiled,
    /// Loaded from the cache.
    Cached,
}

/// Load the artifact for `wasm` (whose SHA-256 the caller computed once as
/// `digest`) from the cache, or compile and store it.
pub fn load_or_compile(
    engine: &Engine,
    wasm: &[u8],
    digest: &[u8; 32],
    config: &CacheConfig,
) -> wasmtime::Result<(Component, Source)> {
    let Some(dir) = &config.dir else {
        return Ok((Component::new(engine, wasm)?, Source::Compiled));
    };
    let cache = match Cache::open(dir) {
        Ok(c) => c,
        Err(e) => {
            tracing::warn!(dir = %dir.display(), "not using the artifact cache: {e}");
            return Ok((Component::new(engine, wasm)?, Source::Compiled));
        }
    };
    let name = key(engine, digest);
    if let Some(component) = cache.load(engine, &name) {
        return Ok((component, Source::Cached));
    }
    let component = Component::new(engine, wasm)?;
    if let Err(e) = cache.store(&component, &name) {
        tracing::warn!(dir = %dir.display(), "cannot write the artifact cache: {e}");
    } else {
        prune(dir, config.max_bytes);
    }
    Ok((component, Source::Compiled))
}

/// An opened cache folder and its integrity key.
struct Cache<'a> {
    dir: &'a Path,
    key: Vec<u8>,
}

impl<'a> Cache<'a> {
    /// Create or check the folder, and read or create the key beside it.
    fn open(dir: &'a Path) -> std::io::Result<Self> {
        private_dir(dir)?;
        let key_path = dir.with_extension("key");
        let key = match open_private(&key_path) {
            Ok(Some(bytes)) if bytes.len() == 32 => bytes,
            Ok(Some(_)) => return Err(std::io::Error::other("the cache key file is malformed")),
            Ok(None) => {
                let key: [u8; 32] = rand::random();
                create_private(&key_path, &key)?;
                key.to_vec()
            }
            Err(e) => return Err(e),
        };
        Ok(Self { dir, key })
    }

    fn paths(&self, name: &str) -> (PathBuf, PathBuf) {
        (
            self.dir.join(format!("{name}.cwasm")),
            self.dir.join(format!("{name}.hmac")),
        )
    }

    fn mac(&self, name: &str, bytes: &[u8]) -> HmacSha256 {
        let mut mac = HmacSha256::new_from_slice(&self.key).expect("HMAC takes keys of any length");
        mac.update(name.as_bytes());
        mac.update(&[0]);
        mac.update(bytes);
        mac
    }

    fn tag(&self, name: &str, bytes: &[u8]) -> String {
        hex(&self.mac(name, bytes).finalize().into_bytes())
    }

    /// Whether `tag` (hex) is this host's tag of the entry, compared in constant time.
    fn verify(&self, name: &str, bytes: &[u8], tag: &[u8]) -> bool {
        let decoded: Option<Vec<u8>> = tag
            .chunks(2)
            .map(|pair| {
                std::str::from_utf8(pair)
                    .ok()
                    .and_then(|p| u8::from_str_radix(p, 16).ok())
            })
            .collect();
        decoded.is_some_and(|t| self.mac(name, bytes).verify_slice(&t).is_ok())
    }

    fn discard(&self, name: &str, why: &str) {
        let (artifact, sidecar) = self.paths(name);
        tracing::warn!(artifact = %artifact.display(), "discarding a cache entry ({why}); recompiling");
        let _ = std::fs::remove_file(artifact);
        let _ = std::fs::remove_file(sidecar);
    }

    fn load(&self, engine: &Engine, name: &str) -> Option<Component> {
        let (artifact, sidecar) = self.paths(name);
        let read = |path: &Path| match open_private(path) {
            Ok(found) => Ok(found),
            Err(e) => Err(e.to_string()),
        };
        let (tag, bytes) = match (read(&sidecar), read(&artifact)) {
            (Ok(Some(tag)), Ok(Some(bytes))) => (tag, bytes),
            (Ok(None), _) | (_, Ok(None)) => return None,
            (Err(e), _) | (_, Err(e)) => {
                self.discard(name, &e);
                return None;
            }
        };
        if !self.verify(name, &bytes, &tag) {
            self.discard(
                name,
                "its HMAC does not match: corrupt, or not written by this host",
            );
            return None;
        }
        match deserialize(engine, &bytes) {
            Ok(c) => Some(c),
            Err(e) => {
                self.discard(name, &format!("unloadable: {e:#}"));
                None
            }
        }
    }

    fn store(&self, component: &Component, name: &str) -> std::io::Result<()> {
        let bytes = component.serialize().map_err(std::io::Error::other)?;
        let (artifact, sidecar) = self.paths(name);
        let unique = format!("{}.{}", std::process::id(), rand::random::<u32>());
        let tmp_artifact = artifact.with_extension(format!("cwasm.{unique}.tmp"));
        let tmp_sidecar = sidecar.with_extension(format!("hmac.{unique}.tmp"));
        create_private(&tmp_artifact, &bytes)?;
        create_private(&tmp_sidecar, self.tag(name, &bytes).as_bytes())?;
        // The artifact first: a reader that finds the sidecar finds the artifact too.
        std::fs::rename(&tmp_artifact, artifact)?;
        std::fs::rename(&tmp_sidecar, sidecar)
    }
}

/// Load an artifact this host wrote.
#[allow(
    unsafe_code,
    reason = "wasmtime cannot verify native code; see the safety note"
)]
fn deserialize(engine: &Engine, bytes: &[u8]) -> wasmtime::Result<Component> {
    // SAFETY: `bytes` is an artifact this host serialised with an engine of the same
    // compatibility hash (it is part of the file name), read from a file only this
    // user can write, whose HMAC under this host's private key matched: it is exactly
    // what wasmtime produced here.
    unsafe { Component::deserialize(engine, bytes) }
}

/// Delete the oldest entries until the cache fits `max_bytes`.
fn prune(dir: &Path, max_bytes: u64) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let mut artifacts: Vec<(std::time::SystemTime, u64, PathBuf)> = entries
        .filter_map(|e| {
            let e = e.ok()?;
            let path = e.path();
            if path.extension()? != "cwasm" {
                return None;
            }
            let meta = e.metadata().ok()?;
            Some((meta.modified().ok()?, meta.len(), path))
        })
        .collect();
    let mut total: u64 = artifacts.iter().map(|(_, len, _)| len).sum();
    artifacts.sort();
    for (_, len, path) in artifacts {
        if total <= max_bytes {
            break;
        }
        let _ = std::fs::remove_file(&path);
        let _ = std::fs::remove_file(path.with_extension("hmac"));
        total = total.saturating_sub(len);
    }
}

/// Files and folders only this user can write, opened without following symlinks.
#[cfg(unix)]
mod secure {
    use std::fs::{DirBuilder, File, OpenOptions};
    use std::io::{ErrorKind, Read, Write};
    use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt, PermissionsExt};
    use std::path::Path;

    /// Group- or other-writable.
    const LOOSE: u32 = 0o022;

    fn euid() -> u32 {
        rustix::process::geteuid().as_raw()
    }

    fn refuse(path: &Path, why: &str) -> std::io::Error {
        std::io::Error::new(
            ErrorKind::PermissionDenied,
            format!("{} {why}", path.display()),
        )
    }

    /// Create `dir` (0700) if missing; refuse it unless it is a real folder of this
    /// user that group and others cannot write.
    pub fn private_dir(dir: &Path) -> std::io::Result<()> {
        DirBuilder::new().recursive(true).mode(0o700).create(dir)?;
        let meta = std::fs::symlink_metadata(dir)?;
        if meta.file_type().is_symlink() || !meta.is_dir() {
            return Err(refuse(dir, "is a symlink or not a folder"));
        }
        if meta.uid() != euid() {
            return Err(refuse(dir, "is not owned by the host's user"));
        }
        if meta.permissions().mode() & LOOSE != 0 {
            return Err(refuse(dir, "is writable by group or others"));
        }
        Ok(())
    }

    /// The contents of `path`, `None` when it does not exist; an error when it is a
    /// symlink, not a regular file, not this user's, or group/other-writable.
    pub fn open_private(path: &Path) -> std::io::Result<Option<Vec<u8>>> {
        let file = OpenOptions::new()
            .read(true)
            .custom_flags(rustix::fs::OFlags::NOFOLLOW.bits() as i32)
            .open(path);
        let mut file = match file {
            Ok(f) => f,
            Err(e) if e.kind() == ErrorKind::NotFound => return Ok(None),
            Err(e) if std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_symlink()) => {
                return Err(refuse(path, &format!("is a symlink ({e})")));
            }
            Err(e) => return Err(e),
        };
        let meta = file.metadata()?;
        if !meta.is_file() {
            return Err(refuse(path, "is not a regular file"));
        }
        if meta.uid() != euid() {
            return Err(refuse(path, "is not owned by the host's user"));
        }
        if meta.permissions().mode() & LOOSE != 0 {
            return Err(refuse(path, "is writable by group or others"));
        }
        let mut bytes = Vec::with_capacity(meta.len() as usize);
        file.read_to_end(&mut bytes)?;
        Ok(Some(bytes))
    }

    /// Write a new file readable and writable by this user only.
    pub fn create_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
        let mut file: File = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .custom_flags(rustix::fs::OFlags::NOFOLLOW.bits() as i32)
            .open(path)?;
        file.write_all(bytes)?;
        file.sync_all()
    }
}

/// Elsewhere the folder's own permissions are all there is.
#[cfg(not(unix))]
mod secure {
    use std::path::Path;

    pub fn private_dir(dir: &Path) -> std::io::Result<()> {
        std::fs::create_dir_all(dir)
    }

    pub fn open_private(path: &Path) -> std::io::Result<Option<Vec<u8>>> {
        match std::fs::read(path) {
            Ok(b) => Ok(Some(b)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }

    pub fn create_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
        std::fs::write(path, bytes)
    }
}
