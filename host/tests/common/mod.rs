//! Helpers the `host` binary's tests share.

// Each test binary compiles this module and uses only some of it.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::time::Duration;

/// How long a test waits for something that should take milliseconds.
pub const WAIT: Duration = Duration::from_secs(10);

/// The calcbot component, built (once per process run, cached by cargo).
pub fn calcbot() -> PathBuf {
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("workspace");
    host::cli::build::build_components(workspace, &["calcbot".into()], &workspace.join("plugins"))
        .expect("build calcbot")
        .remove(0)
}

/// An empty folder for `name` under the workspace's `target/`.
pub fn scratch(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("workspace")
        .join("target")
        .join(format!("cli-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("scratch dir");
    dir
}
