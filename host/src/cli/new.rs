//! `host new <name>`: a plugin crate from the template, ready to build and test.

use std::path::{Path, PathBuf};

use anyhow::{Context as _, bail};
use clap::Args;

#[derive(Debug, Args)]
pub(super) struct NewArgs {
    /// The plugin's name (also its folder and package name).
    pub name: String,
    /// The language: rust (a crate), ts or js (a package built with componentize-js),
    /// python (a componentize-py project).
    #[arg(long, value_enum, default_value_t = Lang::Rust)]
    pub lang: Lang,
    /// The Rust plugin SDK to depend on (default: the one this host was built with).
    #[arg(long, value_name = "DIR")]
    pub sdk: Option<PathBuf>,
}

/// The languages plugins can be written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(super) enum Lang {
    /// A Rust crate on `plugin-sdk/rust`.
    Rust,
    /// A TypeScript package built with esbuild and componentize-js.
    Ts,
    /// A JavaScript package built with esbuild and componentize-js.
    Js,
    /// A Python project built with componentize-py.
    Python,
}

/// The Rust SDK next to this host's sources, when they are still where it was built.
fn default_sdk() -> Option<PathBuf> {
    let sdk = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()?
        .join("plugin-sdk/rust");
    sdk.join("Cargo.toml").is_file().then_some(sdk)
}

/// `--sdk` may name the Rust crate or the `plugin-sdk/` folder holding it.
fn rust_sdk(dir: PathBuf) -> PathBuf {
    if dir.join("Cargo.toml").is_file() {
        dir
    } else {
        dir.join("rust")
    }
}

pub(super) fn new(args: NewArgs) -> anyhow::Result<()> {
    let name = args.name.trim();
    let valid = !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_')
        && name.starts_with(|c: char| c.is_ascii_lowercase());
    if !valid {
        bail!(
            "{name:?} is not a valid plugin name: use lowercase letters, digits, '-' and '_', starting with a letter"
        );
    }
    let dir = PathBuf::from(name);
    if dir.exists() {
        bail!("{} already exists", dir.display());
    }
    match args.lang {
        Lang::Python => return new_python(name, &dir),
        Lang::Ts | Lang::Js => return new_js(name, &dir, args.lang == Lang::Ts),
        Lang::Rust => {}
    }
    let sdk = match args.sdk.map(rust_sdk).or_else(default_sdk) {
        Some(s) => s
            .canonicalize()
            .with_context(|| format!("cannot find the SDK at {}", s.display()))?,
        None => bail!("cannot find the plugin SDK; pass --sdk <path to plugin-sdk>"),
    };
    std::fs::create_dir_all(dir.join("src"))?;
    std::fs::write(dir.join("Cargo.toml"), manifest(name, &sdk))?;
    std::fs::write(dir.join("src/lib.rs"), LIB.replace("{{name}}", name))?;
    std::fs::write(dir.join(".gitignore"), "/target\n")?;
    std::fs::write(dir.join("README.md"), readme(name, Lang::Rust))?;
    write_conversation(&dir)?;
    println!(
        "created {}: build it with `host build {}`",
        dir.display(),
        dir.display()
    );
    Ok(())
}

/// A conversation test every language's template passes as created (`host test
/// <project>` runs it against the embedded simulator).
const CONVERSATION: &str = r#"# `host test .` runs these against the embedded simulator with the real host.

[[test]]
name = "text is echoed"
steps = [
  { say = "hi" },
  { reply = "you said: hi" },
  { ack = 200 },
]
"#;

fn write_conversation(dir: &Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir.join("tests"))?;
    std::fs::write(dir.join("tests/conversation.toml"), CONVERSATION)?;
    Ok(())
}

/// A Python project: `app.py` (the plugin), a test of its logic that passes as
/// created, and a copy of the SDK so the test runs with plain python3.
fn new_python(name: &str, dir: &Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir.join("tests"))?;
    std::fs::write(
        dir.join("pyproject.toml"),
        PYPROJECT.replace("{{name}}", name),
    )?;
    std::fs::write(dir.join("app.py"), APP_PY.replace("{{name}}", name))?;
    std::fs::write(dir.join("tests/test_app.py"), TEST_APP_PY)?;
    std::fs::write(dir.join(".gitignore"), "/target\n__pycache__/\n")?;
    std::fs::write(dir.join("README.md"), readme(name, Lang::Python))?;
    write_conversation(dir)?;
    super::build::python::write_sdk(dir)?;
    println!(
        "created {}: test it with `python3 -m unittest discover -s {}/tests`, build it with `host build {}`",
        dir.display(),
        dir.display(),
        dir.display()
    );
    Ok(())
}

/// A TypeScript or JavaScript package: `src/index.*` (the plugin), `src/reply.*` (its
/// logic, which needs no host) with a test that passes as created, and for TypeScript
/// a copy of the SDK its `tsconfig.json` points at, so editors and `tsc` see the types.
fn new_js(name: &str, dir: &Path, typescript: bool) -> anyhow::Result<()> {
    let (ext, files) = if typescript {
        ("ts", TS_FILES)
    } else {
        ("js", JS_FILES)
    };
    let files: Vec<(&str, String)> = files
        .iter()
        .map(|(file, text)| (*file, text.replace("{{name}}", name)))
        .collect();
    let files: Vec<(&str, &str)> = files.iter().map(|(f, t)| (*f, t.as_str())).collect();
    super::build::write_files(dir, &files)?;
    let lang = if typescript { Lang::Ts } else { Lang::Js };
    std::fs::write(dir.join("README.md"), readme(name, lang))?;
    write_conversation(dir)?;
    if typescript {
        let sdk: Vec<(&str, &str)> = super::build::js::SDK
            .iter()
            .filter(|(file, _)| file.starts_with("src/") || file.starts_with("types/"))
            .copied()
            .collect();
        super::build::write_files(&dir.join("dingtalk-bot"), &sdk)?;
    }
    let test = if typescript {
        "npm install && npm test"
    } else {
        "npm test"
    };
    println!(
        "created {}: test it with `{test}` in it, build it with `host build {}`",
        dir.display(),
        dir.display()
    );
    println!("(the plugin is {}/src/index.{ext})", dir.display());
    Ok(())
}

const TS_FILES: &[(&str, &str)] = &[
    (
        "package.json",
        r#"{
  "name": "{{name}}",
  "version": "0.1.0",
  "private": true,
  "type": "module",
  "main": "src/index.ts",
  "scripts": {
    "test": "tsc -p tsconfig.test.json && node --test .test-build/test/"
  },
  "devDependencies": {
    "@types/node": "20.19.43",
    "typescript": "5.9.3"
  }
}
"#,
    ),
    (
        "tsconfig.json",
        r#"{
  "compilerOptions": {
    "target": "ES2022",
    "module": "ESNext",
    "moduleResolution": "bundler",
    "lib": ["ES2022", "DOM"],
    "types": [],
    "strict": true,
    "noEmit": true,
    "skipLibCheck": true,
    "paths": { "dingtalk-bot": ["./dingtalk-bot/src/index.ts"] }
  },
  "include": ["src"]
}
"#,
    ),
    (
        "tsconfig.test.json",
        r#"{
  "extends": "./tsconfig.json",
  "compilerOptions": { "noEmit": false, "outDir": ".test-build", "rootDir": ".", "types": ["node"] },
  "include": ["test", "src/reply.ts"]
}
"#,
    ),
    (
        "src/index.ts",
        r#"/** {{name}}: a DingTalk bot plugin. Replies to every text message. */

import { ChatbotMessage, Plugin, replyText } from "dingtalk-bot";

import { replyFor } from "./reply.js";

const bot = new Plugin("{{name}}", "0.1.0");

bot.onMessage((msg: ChatbotMessage) => {
  replyText(msg, replyFor(msg.textContent()));
});

export default bot;
"#,
    ),
    (
        "src/reply.ts",
        r#"/**
 * The answer to a message: keep the logic here, apart from the host, so it is tested
 * with plain Node.
 */
export function replyFor(text: string | undefined): string {
  const trimmed = (text ?? "").trim();
  return trimmed ? `you said: ${trimmed}` : "send me some text";
}
"#,
    ),
    (
        "test/reply.test.ts",
        r#"import assert from "node:assert/strict";
import { test } from "node:test";

import { replyFor } from "../src/reply.js";

test("text is echoed and anything else gets a hint", () => {
  assert.equal(replyFor(" hi "), "you said: hi");
  assert.equal(replyFor(undefined), "send me some text");
});
"#,
    ),
    (
        ".gitignore",
        "target/
node_modules/
.test-build/
",
    ),
];

const JS_FILES: &[(&str, &str)] = &[
    (
        "package.json",
        r#"{
  "name": "{{name}}",
  "version": "0.1.0",
  "private": true,
  "type": "module",
  "main": "src/index.js",
  "scripts": {
    "test": "node --test test/"
  }
}
"#,
    ),
    (
        "src/index.js",
        r#"// {{name}}: a DingTalk bot plugin. Replies to every text message.
// `dingtalk-bot` is supplied by `host build`.
import { Plugin, replyText } from "dingtalk-bot";

import { replyFor } from "./reply.js";

const bot = new Plugin("{{name}}", "0.1.0");

bot.onMessage((msg) => {
  replyText(msg, replyFor(msg.textContent()));
});

export default bot;
"#,
    ),
    (
        "src/reply.js",
        r#"// The answer to a message: keep the logic here, apart from the host, so it is
// tested with plain Node.
export function replyFor(text) {
  const trimmed = (text ?? "").trim();
  return trimmed ? `you said: ${trimmed}` : "send me some text";
}
"#,
    ),
    (
        "test/reply.test.js",
        r#"import assert from "node:assert/strict";
import { test } from "node:test";

import { replyFor } from "../src/reply.js";

test("text is echoed and anything else gets a hint", () => {
  assert.equal(replyFor(" hi "), "you said: hi");
  assert.equal(replyFor(undefined), "send me some text");
});
"#,
    ),
    (
        ".gitignore",
        "target/
node_modules/
",
    ),
];

const PYPROJECT: &str = r#"[project]
name = "{{name}}"
version = "0.1.0"
requires-python = ">=3.11"

[tool.dingtalk-bot]
# The module that defines `WitWorld` (componentize-py builds the component from it).
module = "app"
"#;

const APP_PY: &str = r#""""{{name}}: a DingTalk bot plugin. Replies to every text message."""

from dingtalk_bot import Plugin, reply_text

bot = Plugin("{{name}}", "0.1.0")


def reply_for(text):
    """The answer to a message: keep the logic here, in plain Python, so it is tested
    without a host."""
    text = (text or "").strip()
    return f"you said: {text}" if text else "send me some text"


@bot.on_message
def on_message(msg):
    reply_text(msg, reply_for(msg.text_content()))


WitWorld = bot.export()
"#;

const TEST_APP_PY: &str = r#"import pathlib
import sys
import unittest

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))

import app  # noqa: E402


class AppTest(unittest.TestCase):
    def test_text_is_echoed_and_anything_else_gets_a_hint(self):
        self.assertEqual(app.reply_for(" hi "), "you said: hi")
        self.assertEqual(app.reply_for(None), "send me some text")


if __name__ == "__main__":
    unittest.main()
"#;

/// The project's README: the same sections in every language, with that language's
/// files and commands.
fn readme(name: &str, lang: Lang) -> String {
    let (plugin, logic, test) = match lang {
        Lang::Rust => ("src/lib.rs", "`reply_for` in src/lib.rs", "cargo test"),
        Lang::Ts => ("src/index.ts", "src/reply.ts", "npm install && npm test"),
        Lang::Js => ("src/index.js", "src/reply.js", "npm test"),
        Lang::Python => (
            "app.py",
            "`reply_for` in app.py",
            "python3 -m unittest discover -s tests",
        ),
    };
    format!(
        "# {name}\n\n\
         A DingTalk bot plugin for dingtalk-wasm-host: it replies to every text message.\n\n\
         ## Files\n\n\
         - `{plugin}`: the plugin (a `Plugin` with its handlers registered on it)\n\
         - {logic}: the answer, kept apart from the host so it is tested without one\n\n\
         ## Test\n\n```sh\n{test}\n```\n\n\
         ## Build\n\n```sh\nhost build . --out .     # -> {name}.wasm\nhost check {name}.wasm\n```\n\n\
         ## Run\n\n```sh\nhost dev .               # against the embedded simulator, rebuilt on every change\n\
         host run {name}.wasm     # against DingTalk (DINGTALK_CLIENT_ID, DINGTALK_CLIENT_SECRET)\n```\n\n\
         The SDK's names and modules are listed in plugin-sdk/CONCEPTS.md of the host's repository.\n"
    )
}

fn manifest(name: &str, sdk: &Path) -> String {
    format!(
        r#"[package]
name = "{name}"
version = "0.1.0"
edition = "2024"

# A workspace of its own, so it builds wherever it is created.
[workspace]

[lib]
crate-type = ["cdylib", "rlib"]

[dependencies]
dingtalk-bot-sdk = {{ path = "{sdk}" }}

# Small components: LTO and strip are what shrink them.
[profile.release]
opt-level = "s"
lto = true
strip = true
panic = "abort"
codegen-units = 1
"#,
        sdk = sdk.display().to_string().replace('\\', "/")
    )
}

const LIB: &str = r#"//! {{name}}: a DingTalk bot plugin. Replies to every text message.

use dingtalk_bot_sdk::{ChatbotMessage, Error, Outcome, Plugin, reply_text};

fn plugin() -> Plugin {
    Plugin::new("{{name}}", env!("CARGO_PKG_VERSION")).on_message(on_message)
}

fn on_message(msg: ChatbotMessage) -> Result<Outcome, Error> {
    reply_text(&msg, &reply_for(msg.text_content()))?;
    Ok(Outcome::Done)
}

dingtalk_bot_sdk::export_plugin!(plugin);

/// The answer to a message: keep the logic here, in plain Rust, so it is tested
/// without a host.
pub fn reply_for(text: Option<&str>) -> String {
    match text.map(str::trim) {
        Some(t) if !t.is_empty() => format!("you said: {t}"),
        _ => "send me some text".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_echoed_and_anything_else_gets_a_hint() {
        assert_eq!(reply_for(Some(" hi ")), "you said: hi");
        assert_eq!(reply_for(None), "send me some text");
    }
}
"#;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_language_gets_the_same_example_and_the_same_test() {
        let file = |files: &[(&str, &str)], name: &str| {
            files
                .iter()
                .find(|(f, _)| *f == name)
                .expect(name)
                .1
                .to_owned()
        };
        let languages = [
            ("rust", LIB.to_owned(), LIB.to_owned()),
            (
                "ts",
                file(TS_FILES, "src/reply.ts"),
                file(TS_FILES, "test/reply.test.ts"),
            ),
            (
                "js",
                file(JS_FILES, "src/reply.js"),
                file(JS_FILES, "test/reply.test.js"),
            ),
            ("python", APP_PY.to_owned(), TEST_APP_PY.to_owned()),
        ];
        for (lang, logic, test) in languages {
            for answer in ["you said: ", "send me some text"] {
                assert!(logic.contains(answer), "{lang}: {answer}");
            }
            let sentence = test.replace('_', " ");
            assert!(
                sentence.contains("text is echoed and anything else gets a hint"),
                "{lang}: the test's name"
            );
        }
    }

    #[test]
    fn every_language_gets_a_readme_with_the_same_sections() {
        let headings = |lang| -> Vec<String> {
            readme("bot", lang)
                .lines()
                .filter(|l| l.starts_with('#') && !l.starts_with("#!"))
                .map(str::to_owned)
                .collect()
        };
        let rust = headings(Lang::Rust);
        assert_eq!(rust, ["# bot", "## Files", "## Test", "## Build", "## Run"]);
        for lang in [Lang::Ts, Lang::Js, Lang::Python] {
            assert_eq!(headings(lang), rust, "{lang:?}");
        }
    }
}
