//! `host grant NAME`: write what a plugin's manifest requests into its config section,
//! after showing it, so an operator does not type grants by hand.
//!
//! Invariants:
//! - only the operator's command grants: the manifest is read, shown, and written
//!   only after a yes (or `--yes`); nothing is written when it asks for nothing new;
//! - it adds, never removes or changes: a list gains the entries it lacks, a switch
//!   is turned on, a key already set to something else is left and reported;
//! - the file keeps its comments and layout (`toml_edit`), is written aside and
//!   renamed over the old one, and only after the result parses as a config file.

use std::io::{BufRead as _, IsTerminal as _, Write as _};
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use clap::Args;

use crate::runtime::Grants;
use crate::settings::ConfigFile;

#[derive(Debug, Args)]
pub(super) struct GrantArgs {
    /// The config file to write the grants into.
    #[arg(long, value_name = "FILE", default_value = "host.toml")]
    pub config: PathBuf,
    /// The app whose plugin it is (`[apps.<app>.plugins.<name>]`); without it, the
    /// single-app `[plugins.<name>]`.
    #[arg(long)]
    pub app: Option<String>,
    /// Grant without asking (for scripts).
    #[arg(long)]
    pub yes: bool,
    /// The plugin: a component file, an `oci://` reference the lock names, or a name
    /// found in the lock, the app's `load` paths or as `plugins/<NAME>.wasm`.
    #[arg(value_name = "NAME|PLUGIN.wasm|oci://...")]
    pub plugin: String,
}

/// One change to the config section.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Change {
    /// `key` gains `value` (a list entry, a switch, a table entry, a new key).
    Add { key: String, value: String },
    /// `key` is already set to something else; left as it is.
    Kept { key: String, requested: String },
}

pub(super) fn grant(args: GrantArgs) -> anyhow::Result<()> {
    let text = std::fs::read_to_string(&args.config)
        .with_context(|| format!("cannot read {}", args.config.display()))?;
    let config = ConfigFile::load(&args.config)?;
    let file = find(&args, &config)?;
    let name = crate::runtime::file_stem(&file)
        .with_context(|| format!("{}: the file name gives no plugin name", file.display()))?
        .to_owned();
    let bytes = std::fs::read(&file).with_context(|| format!("cannot read {}", file.display()))?;
    let manifest = crate::manifest::read(&bytes)
        .with_context(|| file.display().to_string())?
        .with_context(|| {
            format!(
                "{} carries no manifest: nothing is requested (grant by hand)",
                file.display()
            )
        })?;
    Grants::requested(&manifest.requests).map_err(anyhow::Error::msg)?;
    let at: Vec<String> = match &args.app {
        Some(app) => vec!["apps".into(), app.clone(), "plugins".into(), name.clone()],
        None => vec!["plugins".into(), name.clone()],
    };
    let mut doc: toml_edit::DocumentMut = text
        .parse()
        .with_context(|| format!("{} is not TOML", args.config.display()))?;
    let changes = merge(&mut doc, &at, &manifest.requests)?;
    let section = format!("[{}]", at.join("."));
    let by = manifest
        .publisher
        .as_deref()
        .map_or_else(String::new, |p| format!(" by {p}"));
    println!(
        "{name} {}{by} ({}) requests:",
        manifest.version,
        file.display()
    );
    let mut adds = 0;
    for c in &changes {
        match c {
            Change::Add { key, value } => {
                adds += 1;
                println!("  + {key} = {value}");
            }
            Change::Kept { key, requested } => {
                println!("  = {key}: requested {requested}; the config's value is kept")
            }
        }
    }
    if adds == 0 {
        println!("{section} already grants everything it requests; nothing to write");
        return Ok(());
    }
    if !args.yes
        && !confirm(&format!(
            "Grant these in {section} of {}?",
            args.config.display()
        ))?
    {
        anyhow::bail!("not granted; {} is unchanged", args.config.display());
    }
    write_checked(&args.config, &doc.to_string())?;
    println!(
        "granted in {section} of {}; reload the host (SIGHUP) to apply",
        args.config.display()
    );
    Ok(())
}

/// The component `args.plugin` names.
fn find(args: &GrantArgs, config: &ConfigFile) -> anyhow::Result<PathBuf> {
    let lock = crate::oci::Lock::read(&crate::oci::Lock::beside(Some(&args.config)))?;
    if crate::oci::OciRef::is(&args.plugin) {
        return lock.resolve(&args.plugin);
    }
    let given = Path::new(&args.plugin);
    if given.extension().is_some_and(|e| e == "wasm") || given.is_file() {
        return Ok(given.to_path_buf());
    }
    // A plugin pulled from a registry, by its name.
    if let Some(entry) = lock.entries().find(|e| e.name == args.plugin) {
        return lock.resolve(&entry.reference);
    }
    let patterns: Vec<PathBuf> = match &args.app {
        Some(app) => config
            .apps
            .get(app)
            .with_context(|| format!("{} has no [apps.{app}]", args.config.display()))?
            .load
            .clone(),
        None => vec![PathBuf::from("plugins/*.wasm")],
    };
    patterns
        .iter()
        .flat_map(|p| crate::reload::PathSpec::parse(p).expand())
        .find(|f| crate::runtime::file_stem(f) == Some(args.plugin.as_str()))
        .with_context(|| {
            format!(
                "no component named {:?} in {}; give its file instead",
                args.plugin,
                patterns
                    .iter()
                    .map(|p| p.display().to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        })
}

fn confirm(question: &str) -> anyhow::Result<bool> {
    anyhow::ensure!(
        std::io::stdin().is_terminal(),
        "not a terminal to ask on: pass --yes to grant without asking"
    );
    print!("{question} [y/N] ");
    std::io::stdout().flush()?;
    let mut answer = String::new();
    std::io::stdin().lock().read_line(&mut answer)?;
    Ok(matches!(answer.trim(), "y" | "Y" | "yes"))
}

/// Add `requests` to the table at `at` (created when missing), reporting each change.
fn merge(
    doc: &mut toml_edit::DocumentMut,
    at: &[String],
    requests: &toml::Table,
) -> anyhow::Result<Vec<Change>> {
    let mut table = doc.as_table_mut();
    for (i, key) in at.iter().enumerate() {
        let entry = table
            .entry(key)
            .or_insert_with(|| toml_edit::Item::Table(toml_edit::Table::new()));
        // The last step is the plugin's own section; the ones above stay implicit so
        // the file gains `[plugins.<name>]`, not an empty `[plugins]`.
        if let Some(t) = entry.as_table_mut()
            && i + 1 < at.len()
            && t.is_empty()
        {
            t.set_implicit(true);
        }
        table = entry.as_table_mut().with_context(|| {
            format!(
                "{} is not a [table] (an inline table or a value): edit it by hand",
                at[..=i].join(".")
            )
        })?;
    }
    let mut changes = Vec::new();
    for (key, wanted) in requests {
        let wanted_edit = edit_value(wanted)?;
        match (table.get_mut(key), wanted) {
            (None, _) => {
                changes.push(Change::Add {
                    key: key.clone(),
                    value: wanted.to_string(),
                });
                table.insert(key, toml_edit::value(wanted_edit));
            }
            (Some(item), toml::Value::Array(entries)) => {
                let Some(have) = item.as_array_mut() else {
                    changes.push(kept(key, wanted));
                    continue;
                };
                for entry in entries {
                    let shown = entry.to_string();
                    if !have.iter().any(|v| v.to_string().trim() == shown) {
                        have.push_formatted(edit_value(entry)?);
                        changes.push(Change::Add {
                            key: key.clone(),
                            value: format!("[{shown}]"),
                        });
                    }
                }
            }
            (Some(item), toml::Value::Table(entries)) => {
                let Some(have) = item.as_table_like_mut() else {
                    changes.push(kept(key, wanted));
                    continue;
                };
                for (k, v) in entries {
                    match have.get(k) {
                        None => {
                            have.insert(k, toml_edit::value(edit_value(v)?));
                            changes.push(Change::Add {
                                key: format!("{key}.{k}"),
                                value: v.to_string(),
                            });
                        }
                        Some(old) if old.to_string().trim() != v.to_string() => {
                            changes.push(kept(&format!("{key}.{k}"), v));
                        }
                        Some(_) => {}
                    }
                }
            }
            (Some(item), scalar) => {
                if item.to_string().trim() != scalar.to_string() {
                    changes.push(kept(key, scalar));
                }
            }
        }
    }
    Ok(changes)
}

fn kept(key: &str, requested: &toml::Value) -> Change {
    Change::Kept {
        key: key.to_owned(),
        requested: requested.to_string(),
    }
}

/// A `toml` value as a `toml_edit` one (through its TOML text, which both read alike).
fn edit_value(v: &toml::Value) -> anyhow::Result<toml_edit::Value> {
    v.to_string()
        .parse()
        .map_err(|e| anyhow::anyhow!("cannot write the request {v}: {e}"))
}

/// Write `text` to `path` only if it parses as a config file: aside, then renamed,
/// keeping the file's permissions.
fn write_checked(path: &Path, text: &str) -> anyhow::Result<()> {
    super::replace::replace(path, text, |aside| {
        ConfigFile::load(aside)
            .map_err(anyhow::Error::from)
            .and_then(|c| c.plugin_configs().map(drop).map_err(anyhow::Error::from))
            .context("the granted config would not load; nothing written")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn merged(config: &str, requests: &str) -> (String, Vec<Change>) {
        let mut doc: toml_edit::DocumentMut = config.parse().unwrap();
        let requests: toml::Table = toml::from_str(requests).unwrap();
        let at = ["plugins".to_string(), "crm".to_string()];
        let changes = merge(&mut doc, &at, &requests).unwrap();
        (doc.to_string(), changes)
    }

    #[test]
    fn requests_land_in_a_new_section_and_the_rest_of_the_file_is_kept() {
        let (text, changes) = merged(
            "# the operator's comment\n[limits]\nmemory_mib = 64\n",
            "http = [\"https://crm.example.com\"]\nproactive = true\n",
        );
        assert!(
            text.starts_with("# the operator's comment\n[limits]"),
            "{text}"
        );
        assert!(text.contains("[plugins.crm]"), "{text}");
        assert!(!text.contains("[plugins]\n"), "{text}");
        let parsed: toml::Table = toml::from_str(&text).unwrap();
        assert_eq!(
            parsed["plugins"]["crm"]["http"][0].as_str(),
            Some("https://crm.example.com")
        );
        assert_eq!(parsed["plugins"]["crm"]["proactive"].as_bool(), Some(true));
        assert_eq!(changes.len(), 2);
    }

    #[test]
    fn a_list_gains_only_what_it_lacks_and_a_differing_value_is_kept_and_reported() {
        let (text, changes) = merged(
            "[plugins.crm]\nhttp = [\"https://a.example\"]  # ours\nproactive = false\n",
            "http = [\"https://a.example\", \"https://b.example\"]\nproactive = true\n",
        );
        assert!(text.contains("# ours"), "{text}");
        let parsed: toml::Table = toml::from_str(&text).unwrap();
        let http: Vec<&str> = parsed["plugins"]["crm"]["http"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap())
            .collect();
        assert_eq!(http, ["https://a.example", "https://b.example"]);
        assert_eq!(
            parsed["plugins"]["crm"]["proactive"].as_bool(),
            Some(false),
            "a grant is never changed, only added to"
        );
        assert_eq!(
            changes,
            [
                Change::Add {
                    key: "http".into(),
                    value: "[\"https://b.example\"]".into()
                },
                Change::Kept {
                    key: "proactive".into(),
                    requested: "true".into()
                }
            ]
        );
    }

    #[test]
    fn granting_twice_changes_nothing_the_second_time() {
        let requests = "topics = [\"EVENT *\"]\n";
        let (once, _) = merged("", requests);
        let (twice, changes) = merged(&once, requests);
        assert_eq!(once, twice);
        assert!(changes.is_empty(), "{changes:?}");
    }
}
