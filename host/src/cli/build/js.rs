//! JavaScript and TypeScript plugins: a folder with a `package.json` (its `name` is
//! the plugin's name; its `main`, default `src/index.ts` or `src/index.js`, default-
//! exports a `Plugin` of the SDK) becomes a component.
//!
//! Steps: a TypeScript project is type-checked with `tsc --noEmit` against its own
//! `tsconfig.json`; esbuild bundles the entry with the SDK built into this binary
//! (`dingtalk-bot`, which wins over any copy the project carries, as it matches the
//! WIT this host speaks) and the project's npm dependencies into one ES module, the
//! host's imports (`dingtalk:*`, `wasi:*`) left external; componentize-js embeds it
//! in StarlingMonkey. Nothing is assumed installed but `node` and `npm`: the pinned
//! tools go into the build folder the first time.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context as _, bail};
use serde::Deserialize;

use super::tools::{Tools, check_name, run, write_files};

/// The npm packages a JavaScript build uses, pinned. `preview2-shim` and
/// `jco-transpile` are dependencies of componentize-js and jco that the scripts load
/// by path, so they are pinned at the top of `node_modules`.
pub const NPM_TOOLS: &[&str] = &[
    "@bytecodealliance/componentize-js@0.23.0",
    "@bytecodealliance/jco@1.35.0",
    "@bytecodealliance/jco-transpile@0.15.0",
    "@bytecodealliance/preview2-shim@0.26.1",
    "esbuild@0.28.2",
    "typescript@5.9.3",
    "@types/node@20.19.43",
];

macro_rules! sdk_files {
    ($($name:literal),* $(,)?) => {
        &[$(($name, include_str!(concat!("../../../../plugin-sdk/js/", $name)))),*]
    };
}

/// The JavaScript SDK (`plugin-sdk/js`), file by file: sources, WIT types, scripts.
pub(crate) const SDK: &[(&str, &str)] = sdk_files![
    "package.json",
    "tsconfig.json",
    "scripts/componentize.mjs",
    "scripts/generate-types.mjs",
    "src/agent.ts",
    "src/ai.ts",
    "src/answer.ts",
    "src/callback.ts",
    "src/cards.ts",
    "src/clock.ts",
    "src/config.ts",
    "src/errors.ts",
    "src/event.ts",
    "src/frame.ts",
    "src/gate.ts",
    "src/index.ts",
    "src/kv.ts",
    "src/log.ts",
    "src/media.ts",
    "src/message.ts",
    "src/messages.ts",
    "src/openapi.ts",
    "src/plugin.ts",
    "src/reply.ts",
    "src/sse.ts",
    "src/tooldef.ts",
    "src/tools.ts",
    "src/update.ts",
    "types/interfaces/dingtalk-bot-cards.d.ts",
    "types/interfaces/dingtalk-bot-clock.d.ts",
    "types/interfaces/dingtalk-bot-config.d.ts",
    "types/interfaces/dingtalk-bot-kv.d.ts",
    "types/interfaces/dingtalk-bot-log.d.ts",
    "types/interfaces/dingtalk-bot-media.d.ts",
    "types/interfaces/dingtalk-bot-messages.d.ts",
    "types/interfaces/dingtalk-bot-openapi.d.ts",
    "types/interfaces/dingtalk-bot-reply.d.ts",
    "types/interfaces/dingtalk-bot-tools.d.ts",
    "types/interfaces/dingtalk-bot-types.d.ts",
    "types/plugin.d.ts",
];

#[derive(Deserialize)]
struct PackageJson {
    name: String,
    main: Option<String>,
}

/// Build the JavaScript or TypeScript project at `dir`; the component's path before it
/// is installed.
pub(super) fn build(
    dir: &Path,
    scratch: &Path,
    tools: Option<&Path>,
) -> anyhow::Result<(String, PathBuf)> {
    let manifest = dir.join("package.json");
    let text = std::fs::read_to_string(&manifest)
        .with_context(|| format!("cannot read {}", manifest.display()))?;
    let package: PackageJson = serde_json::from_str(&text)
        .with_context(|| format!("{} needs a \"name\"", manifest.display()))?;
    check_name(&package.name, "\"name\"").with_context(|| format!("in {}", manifest.display()))?;
    let dir = std::path::absolute(dir)?;
    let entry = entry(&dir, package.main.as_deref())
        .with_context(|| format!("in {}", manifest.display()))?;
    let tools = Tools::open(&dir, tools)?;
    let modules = npm_tools(&tools.dir)?;
    let wit = tools.wit("wit")?;
    let sdk = tools.dir.join("js-sdk");
    write_sdk(&sdk)?;
    if dir.join("tsconfig.json").is_file() {
        run(node(&modules.join("typescript/bin/tsc"))
            .arg("-p")
            .arg(&dir)
            .arg("--noEmit"))
        .with_context(|| format!("type errors in {}", dir.display()))?;
    }
    let shim = scratch.join("entry.js");
    std::fs::write(&shim, shim_source(&entry)?)?;
    let bundle = scratch.join("bundle.js");
    // Native after esbuild's install script, a node launcher without it: run as is.
    run(Command::new(modules.join("esbuild/bin/esbuild"))
        .arg(&shim)
        .args([
            "--bundle",
            "--format=esm",
            "--platform=neutral",
            "--target=es2022",
            "--main-fields=module,main",
            "--log-level=warning",
            "--external:dingtalk:*",
            "--external:wasi:*",
        ])
        .arg(format!(
            "--alias:dingtalk-bot={}",
            sdk.join("src/index.ts").display()
        ))
        .arg(format!("--outfile={}", bundle.display())))
    .with_context(|| format!("esbuild could not bundle {}", entry.display()))?;
    let wasm = scratch.join(format!("{}.wasm", package.name));
    run(node(&sdk.join("scripts/componentize.mjs"))
        .arg(&modules)
        .arg(&bundle)
        .arg(&wit)
        .arg(&wasm))
    .with_context(|| format!("componentize-js could not build {}", dir.display()))?;
    Ok((package.name, wasm))
}

/// The entry module: `main`, or `src/index.ts`, or `src/index.js`; it must stay
/// inside the project (a `package.json` is input like any other).
fn entry(dir: &Path, main: Option<&str>) -> anyhow::Result<PathBuf> {
    let candidates: Vec<&str> = match main {
        Some(m) => vec![m],
        None => vec!["src/index.ts", "src/index.js"],
    };
    let root = dir
        .canonicalize()
        .with_context(|| format!("cannot open {}", dir.display()))?;
    for candidate in &candidates {
        let Ok(path) = dir.join(candidate).canonicalize() else {
            continue;
        };
        if !path.starts_with(&root) {
            bail!("\"main\" {candidate:?} is outside the project");
        }
        if path.is_file() {
            return Ok(path);
        }
    }
    bail!("no entry module: none of {candidates:?} exists")
}

/// The module componentize-js builds: the world's three exports, from the entry's
/// default export.
fn shim_source(entry: &Path) -> anyhow::Result<String> {
    let path = serde_json::to_string(&entry.to_string_lossy())?;
    Ok(format!(
        "import plugin from {path};\n\
         if (!plugin || typeof plugin.export !== \"function\") {{\n  \
           throw new Error(\"the entry module must `export default` a Plugin (from dingtalk-bot)\");\n\
         }}\n\
         export const {{ describe, handle, callTool }} = plugin.export();\n"
    ))
}

/// Write the JavaScript SDK (sources, WIT types, build scripts) under `dir`.
pub(crate) fn write_sdk(dir: &Path) -> anyhow::Result<()> {
    write_files(dir, SDK)
}

fn node(script: &Path) -> Command {
    let mut cmd = Command::new("node");
    cmd.arg(script);
    cmd
}

/// The pinned npm tools in the build folder, installed there when missing (or when
/// this host pins other versions than the ones installed).
fn npm_tools(tools: &Path) -> anyhow::Result<PathBuf> {
    let root = tools.join("js");
    let modules = root.join("node_modules");
    let stamp = root.join(".installed");
    let want = NPM_TOOLS.join("\n");
    if std::fs::read_to_string(&stamp).is_ok_and(|s| s == want) {
        return Ok(modules);
    }
    std::fs::create_dir_all(&root)?;
    std::fs::write(
        root.join("package.json"),
        "{\"private\": true, \"description\": \"dingtalk-wasm-host's JavaScript build tools\"}\n",
    )?;
    eprintln!(
        "installing componentize-js, esbuild and typescript into {}…",
        root.display()
    );
    let npm = Command::new("npm")
        .current_dir(&root)
        .args([
            "install",
            "--no-audit",
            "--no-fund",
            "--loglevel=error",
            "--save-exact",
        ])
        .args(NPM_TOOLS)
        .status();
    match npm {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            bail!("building a JavaScript or TypeScript plugin needs node and npm on the PATH")
        }
        Err(e) => return Err(e).context("cannot run npm"),
        Ok(status) if !status.success() => {
            bail!("cannot install {} from npm ({status})", NPM_TOOLS.join(" "))
        }
        Ok(_) => {}
    }
    std::fs::write(&stamp, want)?;
    Ok(modules)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_file_of_the_sdk_is_built_into_the_host() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../plugin-sdk/js");
        let mut on_disk = Vec::new();
        for sub in ["src", "scripts", "types", "types/interfaces"] {
            for entry in std::fs::read_dir(root.join(sub)).unwrap() {
                let path = entry.unwrap().path();
                if path.is_file() {
                    on_disk.push(path.strip_prefix(&root).unwrap().display().to_string());
                }
            }
        }
        let embedded: Vec<&str> = SDK.iter().map(|(name, _)| *name).collect();
        for file in &on_disk {
            assert!(embedded.contains(&file.as_str()), "{file} is not in SDK");
        }
    }

    #[test]
    fn a_hostile_package_json_is_refused_before_any_tool_runs() {
        let dir = std::env::temp_dir().join(format!("host-package-json-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("src")).unwrap();
        std::fs::write(dir.join("src/index.ts"), "").unwrap();
        for (package, why) in [
            (r#"{"name": "../../escaped"}"#, "is not a plugin name"),
            (r#"{"name": "-o"}"#, "is not a plugin name"),
            (
                r#"{"name": "ok", "main": "../../../etc/passwd"}"#,
                "outside the project",
            ),
            (
                r#"{"name": "ok", "main": "/etc/passwd"}"#,
                "outside the project",
            ),
            (
                r#"{"name": "ok", "main": "src/missing.ts"}"#,
                "no entry module",
            ),
        ] {
            std::fs::write(dir.join("package.json"), package).unwrap();
            let err = build(&dir, &dir, None).unwrap_err();
            assert!(format!("{err:#}").contains(why), "{package}: {err:#}");
        }
        assert!(!dir.join("target").exists(), "no tools were installed");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
