//! Building plugin crates into components: `cargo build --release --target
//! wasm32-wasip2` with the size-first settings of [`plugin_build`], then copying each
//! to `<out>/<name>.wasm`.
//!
//! The size settings travel as `CARGO_PROFILE_RELEASE_*` variables rather than in the
//! workspace's `[profile.release]`, which belongs to the host: a host built with fat
//! LTO, `opt-level = "s"` and `panic = "abort"` would be slower, take many minutes to
//! build, and die on any panic.
//!
//! Python projects go through componentize-py (`python`), JavaScript and TypeScript
//! ones through esbuild and componentize-js (`js`); both keep their tools in a build
//! folder (`tools`).
//!
//! `host build` builds projects by path; `host demo` and the end-to-end tests build the
//! workspace's plugin crates. A fresh clone with only rustup needs nothing else: the
//! target is added through rustup when it is missing.

pub(crate) mod js;
pub(crate) mod python;
mod tools;

pub(crate) use tools::write_files;

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context as _, bail};
use clap::Args;
use serde::Deserialize;

#[derive(Debug, Args)]
pub(super) struct BuildArgs {
    /// Plugin projects: Rust crates (a Cargo.toml), Python projects (a pyproject.toml)
    /// or JavaScript/TypeScript projects (a package.json); default: the current folder.
    #[arg(value_name = "PATH")]
    pub paths: Vec<PathBuf>,
    /// Where the components go.
    #[arg(long, default_value = "plugins")]
    pub out: PathBuf,
}

/// `host build`.
pub(super) fn build(args: BuildArgs) -> anyhow::Result<()> {
    let paths = if args.paths.is_empty() {
        vec![PathBuf::from(".")]
    } else {
        args.paths
    };
    for path in &paths {
        let built = build_path(path, &args.out)?;
        println!("built {}", built.display());
    }
    Ok(())
}

/// A Python or JavaScript build: (project, scratch folder, tools folder) to the
/// plugin's name and its component in the scratch folder.
type LanguageBuild = fn(&Path, &Path, Option<&Path>) -> anyhow::Result<(String, PathBuf)>;

/// Build the plugin project at `dir`, whatever its language, into `<out>/<name>.wasm`.
pub fn build_path(dir: &Path, out: &Path) -> anyhow::Result<PathBuf> {
    build_path_with_tools(dir, out, None)
}

/// [`build_path`], with the tools of Python and JavaScript builds (componentize-py,
/// the npm packages) in `tools` instead of the default build folder.
pub fn build_path_with_tools(
    dir: &Path,
    out: &Path,
    tools: Option<&Path>,
) -> anyhow::Result<PathBuf> {
    if dir.join("Cargo.toml").is_file() {
        return build_crate(dir, out);
    }
    let language: LanguageBuild = if dir.join("pyproject.toml").is_file() {
        python::build
    } else if dir.join("package.json").is_file() {
        js::build
    } else {
        bail!(
            "{} is not a plugin project: no Cargo.toml (Rust), pyproject.toml (Python) or package.json (JavaScript/TypeScript)",
            dir.display()
        )
    };
    let scratch = std::env::temp_dir().join(format!(
        "host-build-{}-{}",
        std::process::id(),
        rand::random::<u32>()
    ));
    std::fs::create_dir_all(&scratch)?;
    let built =
        language(dir, &scratch, tools).and_then(|(name, wasm)| install(dir, &wasm, out, &name));
    let _ = std::fs::remove_dir_all(&scratch);
    built
}

#[derive(Deserialize)]
struct Manifest {
    package: Package,
}

#[derive(Deserialize)]
struct Package {
    name: String,
}

/// Build the plugin crate at `dir` (its own workspace or a member of one) and copy
/// the component to `<out>/<name>.wasm`.
pub fn build_crate(dir: &Path, out: &Path) -> anyhow::Result<PathBuf> {
    let manifest_path = dir.join("Cargo.toml");
    let text = std::fs::read_to_string(&manifest_path).with_context(|| {
        format!(
            "{} is not a crate: cannot read {}",
            dir.display(),
            manifest_path.display()
        )
    })?;
    let manifest: Manifest = toml::from_str(&text).with_context(|| {
        format!(
            "cannot read the package name from {}",
            manifest_path.display()
        )
    })?;
    ensure_target()?;
    let output = plugin_build()
        .args([
            "--message-format=json-render-diagnostics",
            "--manifest-path",
        ])
        .arg(&manifest_path)
        .stderr(std::process::Stdio::inherit())
        .output()
        .context("cannot run cargo to build the plugin")?;
    if !output.status.success() {
        bail!(
            "building {} for {TARGET} failed ({})",
            dir.display(),
            output.status
        );
    }
    let name = manifest.package.name;
    let artifact = String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|m| {
            m["reason"] == "compiler-artifact" && m["target"]["name"] == name.replace('-', "_")
        })
        .flat_map(|m| m["filenames"].as_array().cloned().unwrap_or_default())
        .filter_map(|f| f.as_str().map(PathBuf::from))
        .find(|f| f.extension().is_some_and(|e| e == "wasm"))
        .with_context(|| {
            format!("cargo built {name} but produced no .wasm (is its crate-type cdylib?)")
        })?;
    install(dir, &artifact, out, &name)
}

/// Write `artifact` with the manifest of the project at `project` embedded (see
/// [`crate::manifest`]) to `<out>/<name>.wasm` atomically (write, then rename), so a
/// host watching `out` never sees half a file.
fn install(project: &Path, artifact: &Path, out: &Path, name: &str) -> anyhow::Result<PathBuf> {
    let manifest = crate::manifest::from_project(project)
        .with_context(|| format!("the plugin manifest of {}", project.display()))?;
    crate::runtime::Grants::requested(&manifest.requests)
        .map_err(anyhow::Error::msg)
        .with_context(|| format!("the plugin manifest of {}", project.display()))?;
    let bytes =
        std::fs::read(artifact).with_context(|| format!("cannot read {}", artifact.display()))?;
    let bytes = crate::manifest::embed(&bytes, &manifest)?;
    std::fs::create_dir_all(out).with_context(|| format!("cannot create {}", out.display()))?;
    let dest = out.join(format!("{name}.wasm"));
    // A name no concurrent install can share, so two builds racing to the same
    // destination each rename a whole file.
    let tmp = out.join(format!(
        ".{name}.wasm.{}.{}.tmp",
        std::process::id(),
        rand::random::<u32>()
    ));
    std::fs::write(&tmp, bytes).with_context(|| format!("cannot write {}", tmp.display()))?;
    std::fs::rename(&tmp, &dest).with_context(|| format!("cannot write {}", dest.display()))?;
    Ok(dest)
}

/// The target plugins are built for.
pub const TARGET: &str = "wasm32-wasip2";

/// Make sure the wasm32-wasip2 standard library is installed, adding it via rustup
/// when it is not.
pub fn ensure_target() -> anyhow::Result<()> {
    let sysroot = Command::new(rustc()).args(["--print", "sysroot"]).output();
    if let Ok(out) = sysroot {
        let root = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
        if root.join("lib/rustlib").join(TARGET).exists() {
            return Ok(());
        }
    }
    eprintln!("installing the {TARGET} target with rustup…");
    let status = Command::new("rustup")
        .args(["target", "add", TARGET])
        .status()
        .context("the wasm32-wasip2 target is missing and rustup could not be run to add it")?;
    if !status.success() {
        bail!("`rustup target add {TARGET}` failed ({status})");
    }
    Ok(())
}

fn rustc() -> String {
    std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into())
}

fn cargo() -> String {
    std::env::var("CARGO").unwrap_or_else(|_| "cargo".into())
}

/// `cargo build --release --target wasm32-wasip2`, tuned for small components: LTO and
/// strip are what shrink them, and panic=abort drops the unwinding wasm has no use for.
fn plugin_build() -> Command {
    let mut cmd = Command::new(cargo());
    cmd.args(["build", "--release", "--target", TARGET])
        .env("CARGO_PROFILE_RELEASE_OPT_LEVEL", "s")
        .env("CARGO_PROFILE_RELEASE_LTO", "true")
        .env("CARGO_PROFILE_RELEASE_STRIP", "true")
        .env("CARGO_PROFILE_RELEASE_PANIC", "abort")
        .env("CARGO_PROFILE_RELEASE_CODEGEN_UNITS", "1");
    cmd
}

/// The names of the plugin crates under `<workspace>/plugins/`.
pub fn plugin_crates(workspace: &Path) -> anyhow::Result<Vec<String>> {
    let dir = workspace.join("plugins");
    let mut names = Vec::new();
    for entry in
        std::fs::read_dir(&dir).with_context(|| format!("cannot list {}", dir.display()))?
    {
        let path = entry?.path();
        if path.join("Cargo.toml").is_file()
            && let Some(name) = path.file_name().and_then(|n| n.to_str())
        {
            names.push(name.to_owned());
        }
    }
    names.sort();
    Ok(names)
}

/// Build the workspace packages `packages` for wasm32-wasip2 in release and copy each
/// component to `<out>/<package>.wasm`. Returns the component paths.
///
/// The build uses its own target directory (next to the workspace's) so it never
/// waits on a lock held by the cargo command that started this process.
pub fn build_components(
    workspace: &Path,
    packages: &[String],
    out: &Path,
) -> anyhow::Result<Vec<PathBuf>> {
    ensure_target()?;
    let target_dir = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace.join("target"))
        .join("plugin-build");
    let mut cmd = plugin_build();
    cmd.current_dir(workspace)
        .arg("--quiet")
        .env("CARGO_TARGET_DIR", &target_dir)
        .env_remove("RUSTFLAGS")
        .env_remove("CARGO_ENCODED_RUSTFLAGS");
    for p in packages {
        cmd.args(["-p", p]);
    }
    let status = cmd
        .status()
        .context("cannot run cargo to build the plugins")?;
    if !status.success() {
        bail!("building plugins {packages:?} for {TARGET} failed ({status})");
    }
    packages
        .iter()
        .map(|p| {
            let artifact = target_dir
                .join(TARGET)
                .join("release")
                .join(format!("{}.wasm", p.replace('-', "_")));
            install(&package_dir(workspace, p)?, &artifact, out, p)
        })
        .collect()
}

/// The folder of workspace plugin package `name`: the examples' `plugins/` or the
/// test fixtures' `tests/plugins/`.
fn package_dir(workspace: &Path, name: &str) -> anyhow::Result<PathBuf> {
    ["plugins", "tests/plugins"]
        .iter()
        .map(|d| workspace.join(d).join(name))
        .find(|d| d.join("Cargo.toml").is_file())
        .with_context(|| format!("no plugins/{name} or tests/plugins/{name} with a Cargo.toml"))
}
