//! Replacing a file the user keeps (a config, a test file) with a new text.
//!
//! Invariants: the old file stays whole until the new text is complete and checked:
//! the text is written aside (a new file, never an existing one or a link planted at
//! that name), checked, given the old file's permissions, then renamed over it. A
//! failed check leaves the old file and nothing aside.

use std::io::Write as _;
use std::path::Path;

use anyhow::Context as _;

/// Replace `path` with `text` once `check` accepts the written text (it gets the
/// aside file's path).
pub(super) fn replace(
    path: &Path,
    text: &str,
    check: impl FnOnce(&Path) -> anyhow::Result<()>,
) -> anyhow::Result<()> {
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("file");
    let aside = path.with_file_name(format!(".{name}.{}.tmp", std::process::id()));
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&aside)
        .and_then(|mut f| f.write_all(text.as_bytes()))
        .with_context(|| format!("cannot write {} (it must not exist yet)", aside.display()))?;
    if let Err(e) = check(&aside) {
        let _ = std::fs::remove_file(&aside);
        return Err(e);
    }
    if let Ok(meta) = std::fs::metadata(path) {
        std::fs::set_permissions(&aside, meta.permissions())
            .with_context(|| format!("cannot set the permissions of {}", aside.display()))?;
    }
    std::fs::rename(&aside, path).with_context(|| format!("cannot replace {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_link_planted_where_the_text_goes_aside_is_refused_and_nothing_changes() {
        let dir = std::env::temp_dir().join(format!("replace-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("host.toml");
        std::fs::write(&path, "old").unwrap();
        let planted = dir.join(format!(".host.toml.{}.tmp", std::process::id()));
        #[cfg(unix)]
        std::os::unix::fs::symlink(dir.join("elsewhere"), &planted).unwrap();
        #[cfg(not(unix))]
        std::fs::write(&planted, "planted").unwrap();
        assert!(replace(&path, "new", |_| Ok(())).is_err());
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "old");
        assert!(!dir.join("elsewhere").exists());
        std::fs::remove_file(&planted).unwrap();
        assert!(replace(&path, "new", |_| anyhow::bail!("no")).is_err());
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "old");
        assert!(!planted.exists(), "a refused text is not left aside");
        replace(&path, "new", |_| Ok(())).unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "new");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
