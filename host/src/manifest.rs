//! A plugin's declared manifest: who made it and what it asks for, embedded by `host
//! build` in a custom section ([`SECTION`]) of the component, read back by `host
//! inspect` and `host check` without running guest code.
//!
//! Invariants:
//! - a manifest is a *request*, never a grant: `requests` uses the keys of a
//!   plugin's config section (`http`, `openapi`, `proactive`, `topics`, `tools`...)
//!   and is checked by the same parser (`runtime::Grants::requested`), but only the
//!   operator's config grants anything;
//! - it knows nothing of plugins or the runtime (the runtime reads it at load, as it
//!   reads signatures with `trust`);
//! - what a component really imports is read from its import section
//!   ([`imports`]), next to what it says; the host judges by that and the grants;
//! - reading is bounded: at most one manifest section of at most [`MAX_BYTES`], valid
//!   JSON with only the known fields; anything else is an error naming the section
//!   and what is wrong (the component itself may still load: the manifest is
//!   information, the grants are the rule).

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::Context as _;
use serde::{Deserialize, Serialize};

/// The custom section's name.
pub const SECTION: &str = "dingtalk-bot-manifest";
/// The largest manifest read.
pub const MAX_BYTES: usize = 64 << 10;

/// What a plugin declares about itself.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    /// Its name (the file stem it must be loaded under).
    pub name: String,
    /// Its version.
    pub version: String,
    /// Who publishes it (a `[trust.publishers]` name the operator may trust).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub publisher: Option<String>,
    /// One line on what it does.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Where to read more.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub homepage: Option<String>,
    /// The grants it asks for, as a plugin's config section would write them.
    #[serde(default, skip_serializing_if = "toml::Table::is_empty")]
    pub requests: toml::Table,
    /// The config keys it reads, each with what it is for.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub config: BTreeMap<String, String>,
}

/// The `dingtalk` table of a project's manifest (Cargo `[package.metadata.dingtalk]`,
/// package.json `"dingtalk"`, pyproject `[tool.dingtalk]`).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Declared {
    /// The plugin's name where it is not the package's (an npm scope, a fixture).
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    publisher: Option<String>,
    #[serde(default)]
    requests: toml::Table,
    #[serde(default)]
    config: BTreeMap<String, String>,
}

/// The manifest of the plugin project at `dir`, from its own project file: name,
/// version, description and homepage from the package fields, the rest from its
/// `dingtalk` table. Checked as [`read`] would check it.
pub fn from_project(dir: &Path) -> anyhow::Result<Manifest> {
    let read = |f: &str| {
        let path = dir.join(f);
        std::fs::read_to_string(&path).with_context(|| format!("cannot read {}", path.display()))
    };
    let manifest = if dir.join("Cargo.toml").is_file() {
        #[derive(Deserialize)]
        struct Cargo {
            package: CargoPackage,
        }
        #[derive(Deserialize)]
        struct CargoPackage {
            name: String,
            version: String,
            description: Option<String>,
            homepage: Option<String>,
            #[serde(default)]
            metadata: CargoMetadata,
        }
        #[derive(Default, Deserialize)]
        struct CargoMetadata {
            #[serde(default)]
            dingtalk: Option<toml::Value>,
        }
        let c: Cargo = toml::from_str(&read("Cargo.toml")?).context("Cargo.toml")?;
        let declared = match c.package.metadata.dingtalk {
            Some(v) => v
                .try_into()
                .context("Cargo.toml [package.metadata.dingtalk]")?,
            None => Declared::default(),
        };
        assemble(
            c.package.name,
            c.package.version,
            c.package.description,
            c.package.homepage,
            declared,
        )
    } else if dir.join("pyproject.toml").is_file() {
        let p: toml::Table = toml::from_str(&read("pyproject.toml")?).context("pyproject.toml")?;
        let project = p
            .get("project")
            .and_then(|v| v.as_table())
            .cloned()
            .unwrap_or_default();
        let text = |k: &str| project.get(k).and_then(|v| v.as_str()).map(str::to_owned);
        let homepage = project
            .get("urls")
            .and_then(|u| u.get("Homepage").or_else(|| u.get("homepage")))
            .and_then(|v| v.as_str())
            .map(str::to_owned);
        let declared = match p.get("tool").and_then(|t| t.get("dingtalk")) {
            Some(v) => v
                .clone()
                .try_into()
                .context("pyproject.toml [tool.dingtalk]")?,
            None => Declared::default(),
        };
        assemble(
            text("name").context("pyproject.toml has no [project] name")?,
            text("version").unwrap_or_else(|| "0.0.0".into()),
            text("description"),
            homepage,
            declared,
        )
    } else {
        let p: serde_json::Value =
            serde_json::from_str(&read("package.json")?).context("package.json")?;
        let text = |k: &str| p[k].as_str().map(str::to_owned);
        let declared = match p.get("dingtalk") {
            Some(v) => serde_json::from_value(v.clone()).context("package.json \"dingtalk\"")?,
            None => Declared::default(),
        };
        assemble(
            text("name").context("package.json has no name")?,
            text("version").unwrap_or_else(|| "0.0.0".into()),
            text("description"),
            text("homepage"),
            declared,
        )
    };
    Ok(manifest)
}

fn assemble(
    name: String,
    version: String,
    description: Option<String>,
    homepage: Option<String>,
    d: Declared,
) -> Manifest {
    Manifest {
        name: d.name.unwrap_or(name),
        version,
        publisher: d.publisher,
        description,
        homepage,
        requests: d.requests,
        config: d.config,
    }
}

/// `component` with `manifest` appended as its [`SECTION`] custom section (a
/// manifest already there is an error: build from the unmarked component).
pub fn embed(component: &[u8], manifest: &Manifest) -> anyhow::Result<Vec<u8>> {
    anyhow::ensure!(
        read(component)?.is_none(),
        "the component already carries a manifest"
    );
    let json = serde_json::to_vec(manifest)?;
    anyhow::ensure!(
        json.len() <= MAX_BYTES,
        "the manifest is {} bytes; at most {MAX_BYTES} are allowed",
        json.len()
    );
    let mut out = component.to_vec();
    wasm_encoder::ComponentSection::append_to_component(
        &wasm_encoder::CustomSection {
            name: SECTION.into(),
            data: json.into(),
        },
        &mut out,
    );
    Ok(out)
}

/// Hand each top-level section of `component` to `visit`, stepping over nested
/// modules and components without parsing them (a manifest and the imports that
/// count are the outer component's; reading them costs one pass over section
/// headers, not the code).
fn top_level(
    component: &[u8],
    mut visit: impl FnMut(wasmparser::Payload<'_>) -> anyhow::Result<()>,
) -> anyhow::Result<()> {
    let mut parser = wasmparser::Parser::new(0);
    let mut data = component;
    loop {
        let (payload, consumed) = match parser
            .parse(data, true)
            .context("not a WebAssembly component")?
        {
            wasmparser::Chunk::Parsed { payload, consumed } => (payload, consumed),
            wasmparser::Chunk::NeedMoreData(_) => anyhow::bail!("a truncated component"),
        };
        data = &data[consumed..];
        let skip = match &payload {
            wasmparser::Payload::ModuleSection {
                unchecked_range, ..
            }
            | wasmparser::Payload::ComponentSection {
                unchecked_range, ..
            } => unchecked_range.len(),
            wasmparser::Payload::End(_) => return Ok(()),
            _ => 0,
        };
        visit(payload)?;
        data = data.get(skip..).context("a truncated nested section")?;
    }
}

/// The manifest `component` carries at its top level, if any.
pub fn read(component: &[u8]) -> anyhow::Result<Option<Manifest>> {
    let mut found: Option<Manifest> = None;
    top_level(component, |payload| {
        if let wasmparser::Payload::CustomSection(c) = payload
            && c.name() == SECTION
        {
            anyhow::ensure!(found.is_none(), "the {SECTION} section appears twice");
            anyhow::ensure!(
                c.data().len() <= MAX_BYTES,
                "the {SECTION} section is {} bytes; at most {MAX_BYTES} are read",
                c.data().len()
            );
            let m: Manifest = serde_json::from_slice(c.data())
                .with_context(|| format!("the {SECTION} section is malformed"))?;
            found = Some(m);
        }
        Ok(())
    })?;
    Ok(found)
}

/// The names a component imports at its top level (what it can call at all).
pub fn imports(component: &[u8]) -> anyhow::Result<Vec<String>> {
    let mut out = Vec::new();
    top_level(component, |payload| {
        if let wasmparser::Payload::ComponentImportSection(reader) = payload {
            for import in reader {
                out.push(import.context("a malformed import")?.name.name.to_owned());
            }
        }
        Ok(())
    })?;
    Ok(out)
}

/// The names a component exports at its top level (what a host can call).
pub fn exports(component: &[u8]) -> anyhow::Result<Vec<String>> {
    let mut out = Vec::new();
    top_level(component, |payload| {
        if let wasmparser::Payload::ComponentExportSection(reader) = payload {
            for export in reader {
                out.push(export.context("a malformed export")?.name.name.to_owned());
            }
        }
        Ok(())
    })?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn component() -> Vec<u8> {
        b"\0asm\x0d\x00\x01\x00".to_vec()
    }

    fn manifest() -> Manifest {
        Manifest {
            name: "crm".into(),
            version: "1.2.0".into(),
            publisher: Some("acme".into()),
            description: Some("CRM lookups".into()),
            homepage: None,
            requests: toml::from_str("http = [\"https://crm.example.com\"]\nproactive = true")
                .unwrap(),
            config: BTreeMap::from([("region".into(), "which CRM region".into())]),
        }
    }

    #[test]
    fn an_embedded_manifest_reads_back_and_its_requests_parse_as_grants() {
        let with = embed(&component(), &manifest()).unwrap();
        assert_eq!(read(&with).unwrap(), Some(manifest()));
        assert_eq!(read(&component()).unwrap(), None);
        assert!(
            embed(&with, &manifest()).is_err(),
            "one manifest per component"
        );
    }

    #[test]
    fn a_malformed_duplicated_or_huge_manifest_section_is_named() {
        let section = |data: &[u8]| {
            let mut out = component();
            wasm_encoder::ComponentSection::append_to_component(
                &wasm_encoder::CustomSection {
                    name: SECTION.into(),
                    data: data.to_vec().into(),
                },
                &mut out,
            );
            out
        };
        let err = read(&section(b"{not json")).unwrap_err();
        assert!(format!("{err:#}").contains("malformed"), "{err:#}");
        let err = read(&section(br#"{"name":"x","version":"1","grants":{}}"#)).unwrap_err();
        assert!(format!("{err:#}").contains("grants"), "{err:#}");
        let huge = section(&vec![b' '; MAX_BYTES + 1]);
        assert!(format!("{:#}", read(&huge).unwrap_err()).contains("at most"));
        let mut twice = embed(&component(), &manifest()).unwrap();
        let again = embed(&component(), &manifest()).unwrap();
        twice.extend_from_slice(&again[8..]);
        assert!(format!("{:#}", read(&twice).unwrap_err()).contains("twice"));
    }
}
