//! `host check`: load each plugin exactly as `run` would (compile or cached
//! artifact, pre-link, canary `describe`, grants) and report it, or the precise
//! reason it would be refused. Exits non-zero if any is refused. A plugin project
//! (Rust, Python, JavaScript or TypeScript) is built first, into a scratch folder.

use std::path::PathBuf;
use std::sync::Arc;

use clap::Args;

use super::options::HostOptions;
use crate::PluginConfigs;
use crate::egress::Egress;
use crate::mcp::client::Remote;
use crate::openapi::{Http, HttpConfig};
use crate::runtime::cache::Source;
use crate::runtime::capability::args::cap_text;
use crate::runtime::capability::tools::ToolProvider as _;
use crate::runtime::{LoadError, Plugin, Runtime, RuntimeConfig, Services};
use crate::settings::ConfigFile;

#[derive(Debug, Args)]
pub(super) struct CheckArgs {
    #[command(flatten)]
    pub options: HostOptions,
    /// Plugin components to check, or plugin projects to build and check (with
    /// `[apps]` in the config file: none, every app's are checked).
    #[arg(value_name = "PLUGIN.wasm|PROJECT")]
    pub plugins: Vec<PathBuf>,
}

pub(super) async fn check(args: CheckArgs) -> anyhow::Result<()> {
    let file = args.options.file()?;
    let egress = args.options.egress(&file)?;
    let defaults = args.options.runtime_config(&file)?;
    let remotes = connect_remotes(&file, &egress).await?;
    if file.apps.is_empty() {
        // The config's own errors first: with no plugins given they are all there is.
        let configs = file.plugin_configs()?;
        if args.plugins.is_empty() {
            anyhow::bail!("nothing to check: give .wasm components, or a config file with [apps]");
        }
        let scratch = std::env::temp_dir().join(format!("host-check-{}", std::process::id()));
        let paths = args
            .plugins
            .iter()
            .map(|p| {
                if p.is_dir() {
                    tokio::task::block_in_place(|| super::build::build_path(p, &scratch))
                } else {
                    Ok(p.clone())
                }
            })
            .collect::<anyhow::Result<Vec<_>>>();
        let paths = paths.and_then(|paths| {
            super::oci::resolve_locked(
                &paths,
                args.options.config.as_deref(),
                &defaults.trust,
                &configs,
            )
        });
        let checked = match paths {
            Ok(paths) => {
                let app = App {
                    at: "plugins",
                    runtime: defaults,
                    configs,
                    remotes: &remotes,
                };
                check_app(app, &args, &egress, &paths).await
            }
            Err(e) => Err(e),
        };
        let _ = std::fs::remove_dir_all(&scratch);
        return checked;
    }
    let mut failed = Vec::new();
    for spec in file.apps(None, &args.plugins, egress.secrets())? {
        println!(
            "app {} (client id {})",
            spec.name, spec.credentials.client_id
        );
        let runtime = RuntimeConfig {
            limits: spec.limits.clone(),
            ..defaults.clone()
        };
        let locked = super::oci::resolve_locked(
            &spec.plugins,
            args.options.config.as_deref(),
            &defaults.trust,
            &spec.plugin_configs,
        )?;
        let paths: Vec<PathBuf> = locked
            .iter()
            .flat_map(|p| crate::reload::PathSpec::parse(p).expand())
            .collect();
        let at = format!("apps.{}.plugins", spec.name);
        if paths.is_empty() {
            println!("refused: no file matches its load list {:?}", spec.plugins);
            failed.push(spec.name);
            continue;
        }
        let app = App {
            at: &at,
            runtime,
            configs: spec.plugin_configs,
            remotes: &remotes,
        };
        if let Err(e) = check_app(app, &args, &egress, &paths).await {
            println!("app {}: {e}", spec.name);
            failed.push(spec.name);
        }
    }
    if !failed.is_empty() {
        anyhow::bail!("apps with refused plugins: {}", failed.join(", "));
    }
    Ok(())
}

/// The remote MCP servers of `[mcp.<server>]`, each connected and listed once.
async fn connect_remotes(file: &ConfigFile, egress: &Egress) -> anyhow::Result<Vec<Checked>> {
    let mut out = Vec::new();
    for config in file.mcp_servers(egress.secrets())? {
        let remote = Remote::new(config, egress).map_err(anyhow::Error::msg)?;
        let listed = remote.refresh().await;
        out.push((remote, listed));
    }
    Ok(out)
}

/// A remote MCP server and how listing its tools went.
type Checked = (Arc<Remote>, Result<usize, String>);

/// One app to check: `at` names its settings section in messages.
struct App<'a> {
    at: &'a str,
    runtime: RuntimeConfig,
    configs: PluginConfigs,
    remotes: &'a [Checked],
}

/// Each remote MCP server, the tools it offers and which of `plugins` (agents) may
/// call each, and whether a call waits for approval.
fn print_remotes(remotes: &[Checked], plugins: &[Plugin]) {
    for (remote, listed) in remotes {
        let config = remote.config();
        let headers: Vec<&str> = config.header_names().collect();
        println!(
            "mcp     {} ({}{})",
            remote.provider(),
            config.url,
            if headers.is_empty() {
                String::new()
            } else {
                format!(", headers from secrets: {}", headers.join(", "))
            }
        );
        if let Err(e) = listed {
            println!("        not reachable now: {e}; its tools are offered once it answers");
            continue;
        }
        for t in remote.offered().iter() {
            println!(
                "        offers:     {}.{}: {}",
                remote.provider(),
                t.name,
                cap_text(t.description.clone(), 120).escape_debug()
            );
            let callers: Vec<String> = plugins
                .iter()
                .filter(|p| p.grants().tools.allows(remote.provider(), &t.name))
                .map(|p| {
                    if p.grants().tools.needs_approval(remote.provider(), &t.name) {
                        format!("{} (after approval)", p.name)
                    } else {
                        p.name.clone()
                    }
                })
                .collect();
            if callers.is_empty() {
                println!("        callable by: no agent (no `tools` grant names it)");
            } else {
                println!("        callable by: {}", callers.join(", "));
            }
        }
    }
}

/// What the component's manifest requests, each line marked granted or not (the
/// grant lines are the operator's; a request is only shown).
fn print_requests(p: &Plugin, granted: &[String]) {
    match &p.declared {
        Ok(Some(m)) => match crate::runtime::Grants::requested(&m.requests) {
            Ok(requested) => {
                for line in requested.show() {
                    let mark = if granted.contains(&line) {
                        "granted"
                    } else {
                        "NOT granted"
                    };
                    println!("        requests {line} ({mark})");
                }
            }
            Err(e) => println!("        manifest:   its requests do not parse: {e}"),
        },
        Ok(None) => {
            println!("        manifest:   none (it declares nothing; grants are as configured)")
        }
        Err(e) => println!("        manifest:   unreadable: {e}"),
    }
}

/// Check one app's plugins.
async fn check_app(
    app: App<'_>,
    args: &CheckArgs,
    egress: &Egress,
    paths: &[PathBuf],
) -> anyhow::Result<()> {
    let App {
        at,
        runtime,
        configs,
        remotes,
    } = app;
    for (name, settings) in &configs {
        settings
            .grants
            .check_secrets(egress.secrets())
            .map_err(|e| anyhow::anyhow!("[{at}.{name}]: {e}"))?;
    }
    let http = Http::new(&HttpConfig::default())?;
    let runtime = Runtime::new(
        &runtime,
        Services::new(http, &args.options.endpoints(), None).with_egress(egress.clone()),
    )?;
    let mut refused = 0;
    let mut names: Vec<(String, PathBuf)> = Vec::new();
    let mut ok: Vec<Plugin> = Vec::new();
    for path in paths {
        let loaded = runtime.load(path, &configs).await.and_then(|p| {
            match names.iter().find(|(n, _)| *n == p.name) {
                Some((name, other)) => Err(LoadError::Duplicate {
                    path: path.clone(),
                    name: name.clone(),
                    other: other.clone(),
                }),
                None => Ok(p),
            }
        });
        match loaded {
            Ok(p) => {
                names.push((p.name.clone(), path.clone()));
                let how = match p.source {
                    Source::Compiled => "compiled",
                    Source::Cached => "loaded from the artifact cache",
                };
                println!("ok      {} {} ({})", p.name, p.version, path.display());
                println!(
                    "        size:       {} bytes, {how} in {:.1?}",
                    p.size, p.compile_time
                );
                println!("        sha256:     {}", p.sha256);
                if let Some(by) = &p.signed_by {
                    println!("        signed by:  {by}");
                }
                for s in &p.subscriptions {
                    println!("        subscribes: {s}");
                }
                if p.instances() != &crate::runtime::Instances::Fresh {
                    println!("        instances:  {}", p.instances());
                }
                if p.ack() == crate::runtime::AckMode::OnReceipt {
                    println!(
                        "        ack:        on receipt, before the handler runs (its outcome is only logged)"
                    );
                }
                for t in p.tools.iter() {
                    println!(
                        "        offers:     {}.{}: {}",
                        p.name,
                        t.name,
                        t.description.escape_debug()
                    );
                }
                let limits = p.limits();
                println!(
                    "        limits:     {} MiB, {:?} CPU, {:?} wall, {} at once",
                    limits.memory_bytes >> 20,
                    limits.cpu_budget,
                    limits.wall_timeout,
                    limits.max_concurrency
                );
                println!(
                    "        outbound:   {} requests, {} MiB, {:?} connect, {:?} first byte per frame",
                    limits.http_requests,
                    limits.http_response_bytes >> 20,
                    limits.http_connect_timeout,
                    limits.http_first_byte_timeout
                );
                println!(
                    "        state:      {} MiB and {} keys, values up to {} KiB",
                    limits.kv_total_bytes >> 20,
                    limits.kv_keys,
                    limits.kv_value_bytes >> 10
                );
                for i in &p.imports {
                    println!("        imports:    {i}");
                }
                let granted = p.grants().show();
                for g in &granted {
                    println!("        grant {g}");
                }
                print_requests(&p, &granted);
                ok.push(p);
            }
            Err(e) => {
                refused += 1;
                println!("refused {}: {e}", path.display());
            }
        }
    }
    print_routing(&ok);
    print_remotes(remotes, &ok);
    if refused > 0 {
        anyhow::bail!("{refused} of {} plugins would be refused", paths.len());
    }
    Ok(())
}

/// The routing table of chatbot messages, in the order rules are tried.
fn print_routing(plugins: &[Plugin]) {
    if plugins.iter().all(|p| p.grants().routing.is_empty()) {
        println!("routing: every plugin gets every chatbot message (no rules)");
        return;
    }
    println!("routing of chatbot messages, first match wins:");
    for p in plugins {
        for c in &p.grants().routing.commands {
            println!(
                "        command {c:<20} -> {} (sees the text after it)",
                p.name
            );
        }
    }
    for p in plugins {
        if let Some(pattern) = &p.grants().routing.pattern {
            println!(
                "        match   {:<20} -> {}",
                format!("{:?}", pattern.as_str()),
                p.name
            );
        }
    }
    match plugins.iter().find(|p| p.grants().routing.fallback) {
        Some(p) => println!("        anything else            -> {}", p.name),
        None => println!("        anything else            -> nobody (ACKed, not answered)"),
    }
    for p in plugins.iter().filter(|p| p.grants().routing.is_empty()) {
        println!(
            "        {} has no rule: it gets no chatbot messages",
            p.name
        );
    }
}
