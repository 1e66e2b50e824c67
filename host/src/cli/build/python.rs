//! Python plugins: a folder with a `pyproject.toml` (its `[project] name` is the
//! plugin's name; `[tool.dingtalk-bot] module`, default `app`, defines `WitWorld`)
//! becomes a component with componentize-py.
//!
//! Nothing is assumed installed but `python3`: componentize-py (pinned) goes into a
//! virtualenv under the build folder the first time, and the WIT and the Python SDK
//! are written there from copies built into this binary, so `host build` works on a
//! project anywhere. Builds sharing a build folder take turns (a lock file), since
//! they share the virtualenv and the generated bindings.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context as _, bail};
use serde::Deserialize;

use super::tools::{Tools, check_name, plain, run, write_files};

/// The componentize-py the host builds Python plugins with.
pub const COMPONENTIZE_PY: &str = "componentize-py==0.25.1";

macro_rules! sdk_files {
    ($($name:literal),* $(,)?) => {
        &[$(($name, include_str!(concat!("../../../../plugin-sdk/python/", $name)))),*]
    };
}

/// The Python SDK (`plugin-sdk/python/dingtalk_bot`), file by file.
pub(crate) const SDK: &[(&str, &str)] = sdk_files![
    "dingtalk_bot/__init__.py",
    "dingtalk_bot/_wit.py",
    "dingtalk_bot/ai.py",
    "dingtalk_bot/answer.py",
    "dingtalk_bot/cards.py",
    "dingtalk_bot/clock.py",
    "dingtalk_bot/config.py",
    "dingtalk_bot/errors.py",
    "dingtalk_bot/event.py",
    "dingtalk_bot/frame.py",
    "dingtalk_bot/http.py",
    "dingtalk_bot/kv.py",
    "dingtalk_bot/log.py",
    "dingtalk_bot/media.py",
    "dingtalk_bot/message.py",
    "dingtalk_bot/messages.py",
    "dingtalk_bot/openapi.py",
    "dingtalk_bot/plugin.py",
    "dingtalk_bot/reply.py",
    "dingtalk_bot/sse.py",
    "dingtalk_bot/tools.py",
];

/// The world Python plugins are built for (`plugin` plus `wasi:http`'s client, which
/// componentize-py binds only when a world names it) and the WASI packages it needs.
const WIT: &[(&str, &str)] = sdk_files![
    "wit/python.wit",
    "wit/deps/cli.wit",
    "wit/deps/clocks.wit",
    "wit/deps/filesystem.wit",
    "wit/deps/http.wit",
    "wit/deps/io.wit",
    "wit/deps/random.wit",
    "wit/deps/sockets.wit",
];

/// The world named in [`WIT`].
const WORLD: &str = "python-plugin";

#[derive(Deserialize)]
struct PyProject {
    project: Project,
    #[serde(default)]
    tool: Tool,
}

#[derive(Deserialize)]
struct Project {
    name: String,
}

#[derive(Default, Deserialize)]
struct Tool {
    #[serde(default, rename = "dingtalk-bot")]
    dingtalk_bot: Settings,
}

#[derive(Default, Deserialize)]
struct Settings {
    module: Option<String>,
}

/// Build the Python project at `dir`; the component's path before it is installed.
pub(super) fn build(
    dir: &Path,
    scratch: &Path,
    tools: Option<&Path>,
) -> anyhow::Result<(String, PathBuf)> {
    let manifest = dir.join("pyproject.toml");
    let text = std::fs::read_to_string(&manifest)
        .with_context(|| format!("cannot read {}", manifest.display()))?;
    let project: PyProject = toml::from_str(&text)
        .with_context(|| format!("{} needs [project] name", manifest.display()))?;
    let module = project
        .tool
        .dingtalk_bot
        .module
        .unwrap_or_else(|| "app".into());
    check_names(&project.project.name, &module)
        .with_context(|| format!("in {}", manifest.display()))?;
    let tools = Tools::open(dir, tools)?;
    let componentize = componentize_py(&tools.dir)?;
    let wit = tools.wit("python/wit")?;
    write_files(&tools.dir.join("python"), WIT)?;
    let sdk = tools.dir.join("python-sdk");
    write_sdk(&sdk)?;
    let bindings = tools.dir.join("python-bindings");
    let _ = std::fs::remove_dir_all(&bindings);
    run(Command::new(&componentize)
        .arg("-d")
        .arg(&wit)
        .args(["-w", WORLD, "bindings"])
        .arg(&bindings))
    .context("generating the Python bindings failed")?;
    let dir = std::path::absolute(dir)?;
    let wasm = scratch.join(format!("{}.wasm", project.project.name));
    run(Command::new(&componentize)
        .arg("-d")
        .arg(&wit)
        .args(["-w", WORLD, "componentize"])
        // The SDK built into this host first: it matches the WIT it speaks, whatever
        // copy the project carries for its own tests.
        .arg("-p")
        .arg(&sdk)
        .arg("-p")
        .arg(&dir)
        .arg("-p")
        .arg(&bindings)
        .arg(&module)
        .arg("-o")
        .arg(&wasm))
    .with_context(|| format!("componentize-py could not build {}", dir.display()))?;
    Ok((project.project.name, wasm))
}

/// Write the Python SDK as the package `dingtalk_bot` under `dir`.
pub(crate) fn write_sdk(dir: &Path) -> anyhow::Result<()> {
    write_files(dir, SDK)
}

/// The plugin's name becomes a file name and the module an argument: refuse a name
/// that could leave the output folder (`../x`) and a module that could pass for an
/// option (`-o …`) before anything runs.
fn check_names(name: &str, module: &str) -> anyhow::Result<()> {
    check_name(name, "[project] name")?;
    if !module.split('.').all(|part| plain(part, '_')) {
        bail!("[tool.dingtalk-bot] module {module:?} is not a Python module path");
    }
    Ok(())
}

/// componentize-py in the build folder's virtualenv, installed there when missing.
fn componentize_py(tools: &Path) -> anyhow::Result<PathBuf> {
    let venv = tools.join("python-venv");
    let bin = venv.join("bin").join("componentize-py");
    if bin.is_file() {
        return Ok(bin);
    }
    eprintln!("installing {COMPONENTIZE_PY} into {}…", venv.display());
    run(Command::new("python3").arg("-m").arg("venv").arg(&venv))
        .context("building a Python plugin needs python3 (with its venv module) on the PATH")?;
    run(Command::new(venv.join("bin").join("pip")).args([
        "install",
        "--disable-pip-version-check",
        "--quiet",
        COMPONENTIZE_PY,
    ]))
    .with_context(|| format!("cannot install {COMPONENTIZE_PY} from PyPI"))?;
    Ok(bin)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_file_of_the_sdk_and_its_wit_is_built_into_the_host() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../plugin-sdk/python");
        let embedded: Vec<&str> = SDK.iter().chain(WIT).map(|(name, _)| *name).collect();
        for sub in ["dingtalk_bot", "wit", "wit/deps"] {
            for entry in std::fs::read_dir(root.join(sub)).unwrap() {
                let path = entry.unwrap().path();
                let name = path.strip_prefix(&root).unwrap().display().to_string();
                if path.extension().is_some_and(|e| e == "py" || e == "wit") {
                    assert!(embedded.contains(&name.as_str()), "{name} is not built in");
                }
            }
        }
    }

    #[test]
    fn a_project_name_that_leaves_the_output_folder_or_a_module_that_looks_like_an_option_is_refused()
     {
        assert!(check_names("pycalc", "app").is_ok());
        assert!(check_names("my-bot_2", "bots.main").is_ok());
        for name in ["../../evil", "a/b", ".hidden", "", "a b", "-x"] {
            assert!(check_names(name, "app").is_err(), "{name:?}");
        }
        for module in ["-o", "app.-x", "a/b", "", "app..x"] {
            assert!(check_names("ok", module).is_err(), "{module:?}");
        }
    }

    #[test]
    fn a_hostile_pyproject_is_refused_before_any_tool_runs() {
        let dir = std::env::temp_dir().join(format!("host-pyproject-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(
            dir.join("pyproject.toml"),
            "[project]\nname = \"../../escaped\"\n",
        )
        .unwrap();
        let err = build(&dir, &dir, None).unwrap_err();
        assert!(
            format!("{err:#}").contains("is not a plugin name"),
            "{err:#}"
        );
        assert!(!dir.join("target").exists(), "no tools were installed");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
