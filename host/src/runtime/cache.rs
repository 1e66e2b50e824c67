//! The compiled-artifact cache: compiling a component takes tens to hundreds of
//! milliseconds, loading its precompiled artifact a fraction of one.
//!
//! An entry is keyed by the SHA-256 of the component's bytes and the engine's
//! compatibility hash (wasmtime version, features, configuration), so an artifact is
//! only ever loaded by an engine that could have produced it. Entries are written to a
//! temporary file and renamed into place, each with a sidecar holding the artifact's
//! own SHA-256: an entry whose bytes do not match (truncated, corrupted) is deleted and
//! rebuilt, never loaded. After each write the cache is pruned, oldest first, to its
//! size budget.

use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};
use wasmtime::Engine;
use wasmtime::component::Component;

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

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The entry name for `wasm` under `engine`.
pub fn key(engine: &Engine, wasm: &[u8]) -> String {
    let mut h = DefaultHasher::new();
    engine.precompile_compatibility_hash().hash(&mut h);
    format!("{}-{:016x}", hex(&Sha256::digest(wasm)), h.finish())
}

/// Where a component came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// Compiled now.
    Compiled,
    /// Loaded from the cache.
    Cached,
}

/// Load the artifact for `wasm` from the cache, or compile and store it.
pub fn load_or_compile(
    engine: &Engine,
    wasm: &[u8],
    config: &CacheConfig,
) -> wasmtime::Result<(Component, Source)> {
    let Some(dir) = &config.dir else {
        return Ok((Component::new(engine, wasm)?, Source::Compiled));
    };
    let name = key(engine, wasm);
    let artifact = dir.join(format!("{name}.cwasm"));
    let sidecar = dir.join(format!("{name}.sha256"));
    if let Some(component) = load(engine, &artifact, &sidecar) {
        return Ok((component, Source::Cached));
    }
    let component = Component::new(engine, wasm)?;
    if let Err(e) = store(&component, dir, &artifact, &sidecar) {
        tracing::warn!(dir = %dir.display(), "cannot write the artifact cache: {e}");
    } else {
        prune(dir, config.max_bytes);
    }
    Ok((component, Source::Compiled))
}

fn load(engine: &Engine, artifact: &Path, sidecar: &Path) -> Option<Component> {
    let expected = std::fs::read_to_string(sidecar).ok()?;
    let bytes = std::fs::read(artifact).ok()?;
    if hex(&Sha256::digest(&bytes)) != expected.trim() {
        tracing::warn!(artifact = %artifact.display(), "discarding a corrupt cache entry; recompiling");
        let _ = std::fs::remove_file(artifact);
        let _ = std::fs::remove_file(sidecar);
        return None;
    }
    match deserialize(engine, &bytes) {
        Ok(c) => Some(c),
        Err(e) => {
            tracing::warn!(artifact = %artifact.display(), "discarding an unloadable cache entry: {e:#}");
            let _ = std::fs::remove_file(artifact);
            let _ = std::fs::remove_file(sidecar);
            None
        }
    }
}

/// Load an artifact this host wrote.
#[allow(
    unsafe_code,
    reason = "wasmtime cannot verify native code; see the safety note"
)]
fn deserialize(engine: &Engine, bytes: &[u8]) -> wasmtime::Result<Component> {
    // SAFETY: `bytes` is an artifact this host serialised with an engine of the same
    // compatibility hash (it is part of the file name), and its SHA-256 matched the
    // sidecar written with it, so it is exactly what wasmtime produced.
    unsafe { Component::deserialize(engine, bytes) }
}

fn store(
    component: &Component,
    dir: &Path,
    artifact: &Path,
    sidecar: &Path,
) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    let bytes = component.serialize().map_err(std::io::Error::other)?;
    let unique = format!("{}.{}", std::process::id(), rand::random::<u32>());
    let tmp_artifact = artifact.with_extension(format!("cwasm.{unique}.tmp"));
    let tmp_sidecar = sidecar.with_extension(format!("sha256.{unique}.tmp"));
    std::fs::write(&tmp_artifact, &bytes)?;
    std::fs::write(&tmp_sidecar, hex(&Sha256::digest(&bytes)))?;
    // The artifact first: a reader that finds the sidecar finds the artifact too.
    std::fs::rename(&tmp_artifact, artifact)?;
    std::fs::rename(&tmp_sidecar, sidecar)
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
        let _ = std::fs::remove_file(path.with_extension("sha256"));
        total = total.saturating_sub(len);
    }
}
