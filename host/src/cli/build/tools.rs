//! What the Python and JavaScript builds share: the build folder their tools live in
//! (`$DINGTALK_HOST_TOOLS`, `$CARGO_TARGET_DIR/plugin-tools`, else
//! `<project>/target/plugin-tools`), the lock
//! builds sharing it take turns on, the WIT written from the copy built into this
//! binary, plugin names checked before they become paths, and running a tool.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context as _, bail};

/// The plugin contract, as this host speaks it.
const WIT: &str = include_str!("../../../../wit/bot.wit");

/// A project's build folder for tools and generated files, created, and locked until
/// the returned guard drops: builds sharing it share the installed tools.
pub(super) struct Tools {
    pub dir: PathBuf,
    _lock: std::fs::File,
}

impl Tools {
    /// `dir`, or by default `$DINGTALK_HOST_TOOLS`, else
    /// `$CARGO_TARGET_DIR/plugin-tools`, else `<project>/target/plugin-tools`.
    pub(super) fn open(project: &Path, dir: Option<&Path>) -> anyhow::Result<Self> {
        let dir = match dir {
            Some(dir) => dir.to_path_buf(),
            None => match std::env::var_os("DINGTALK_HOST_TOOLS") {
                Some(dir) => PathBuf::from(dir),
                None => std::env::var_os("CARGO_TARGET_DIR")
                    .map(PathBuf::from)
                    .unwrap_or_else(|| project.join("target"))
                    .join("plugin-tools"),
            },
        };
        std::fs::create_dir_all(&dir)
            .with_context(|| format!("cannot create {}", dir.display()))?;
        let lock = lock(&dir)?;
        Ok(Self { dir, _lock: lock })
    }

    /// A WIT folder (`<sub>/bot.wit`) in the build folder, rewritten from this
    /// binary's copy.
    pub(super) fn wit(&self, sub: &str) -> anyhow::Result<PathBuf> {
        let wit = self.dir.join(sub);
        std::fs::create_dir_all(&wit)?;
        std::fs::write(wit.join("bot.wit"), WIT)?;
        Ok(wit)
    }
}

/// Write `files` (relative path, text) under `dir`.
pub(crate) fn write_files(dir: &Path, files: &[(&str, &str)]) -> anyhow::Result<()> {
    for (name, text) in files {
        let path = dir.join(name);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)
                .with_context(|| format!("cannot create {}", parent.display()))?;
        }
        std::fs::write(&path, text).with_context(|| format!("cannot write {}", path.display()))?;
    }
    Ok(())
}

/// A plugin's name becomes a file name: refuse one that could leave the output folder
/// (`../x`) or pass for an option (`-o`) before anything runs.
pub(super) fn check_name(name: &str, field: &str) -> anyhow::Result<()> {
    if !plain(name, '-') {
        bail!(
            "{field} {name:?} is not a plugin name: ASCII letters, digits, '-' and '_', starting with a letter or digit"
        );
    }
    Ok(())
}

/// ASCII letters, digits, `_` and `extra`, starting with a letter or digit.
pub(super) fn plain(s: &str, extra: char) -> bool {
    s.starts_with(|c: char| c.is_ascii_alphanumeric())
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == extra)
}

pub(super) fn run(cmd: &mut Command) -> anyhow::Result<()> {
    let shown = format!("{cmd:?}");
    let status = cmd
        .status()
        .with_context(|| format!("cannot run {shown}"))?;
    if !status.success() {
        bail!("{shown} failed ({status})");
    }
    Ok(())
}

/// Held while building: other builds sharing the folder wait.
#[cfg(unix)]
fn lock(tools: &Path) -> anyhow::Result<std::fs::File> {
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(tools.join(".lock"))?;
    rustix::fs::flock(&file, rustix::fs::FlockOperation::LockExclusive)
        .context("cannot lock the build folder")?;
    Ok(file)
}

#[cfg(not(unix))]
fn lock(tools: &Path) -> anyhow::Result<std::fs::File> {
    Ok(std::fs::File::create(tools.join(".lock"))?)
}
