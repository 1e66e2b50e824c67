//! `host dev`: the plugin author's inner loop. Builds the plugin crates, runs them
//! against the embedded simulator, rebuilds and hot-reloads on every source change,
//! and reads messages from a prompt: each line is sent as a DingTalk user, and the
//! bot's replies (text, markdown, action cards, cards) are printed as readable text.
//!
//! Lines starting with `/` are commands: `/picture`, `/file <name>`, `/group <text>`,
//! `/quit`.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context as _;
use clap::Args;
use notify::{RecursiveMode, Watcher};
use serde_json::Value;
use sim::{MessageSpec, Sim};
use tokio::io::AsyncBufReadExt;

use super::build::{build_path, plugin_crates};
use super::options::StateOptions;
use super::simulated;
use crate::Host;
use crate::config::{Credentials, Endpoints};
use crate::egress::Egress;
use crate::secrets::Secrets;
use crate::settings::ConfigFile;

#[derive(Debug, Args)]
pub(super) struct DevArgs {
    /// Plugin projects to develop, Rust, Python, JavaScript or TypeScript (default:
    /// every crate under `plugins/`, or the current folder).
    #[arg(value_name = "PLUGIN_CRATE")]
    pub crates: Vec<PathBuf>,
    /// Where the built components go.
    #[arg(long, default_value = "target/dev-plugins")]
    pub out: PathBuf,
    /// A dev config file, as for `host run`: grants (e.g. `http` to a local model
    /// server on 127.0.0.1), config values, `[secrets]`.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Folder of the plugins' key-value state while developing.
    #[arg(long, value_name = "DIR", default_value = "target/dev-state")]
    pub state_dir: PathBuf,
    /// Chat in the browser instead of at a prompt: serve the dev chat page on this
    /// loopback address (default 127.0.0.1:7788).
    #[arg(long, value_name = "ADDR", num_args = 0..=1, default_missing_value = "127.0.0.1:7788")]
    pub web: Option<std::net::SocketAddr>,
}

/// What to watch in a project: a Rust crate's or a JavaScript/TypeScript project's
/// `src/`, a Python project's folder (only its own modules, not the build folder
/// inside it).
fn sources(project: &Path) -> (PathBuf, RecursiveMode) {
    if project.join("Cargo.toml").is_file() || project.join("package.json").is_file() {
        (project.join("src"), RecursiveMode::Recursive)
    } else {
        (project.to_path_buf(), RecursiveMode::NonRecursive)
    }
}

/// Whether a change at `path` is a change to `project`'s sources (the watcher reports
/// paths as the watched folder was given, relative or not).
fn is_source(project: &Path, path: &Path) -> bool {
    let (dir, mode) = sources(project);
    let forms = [Some(dir.clone()), std::path::absolute(&dir).ok()];
    forms.iter().flatten().any(|dir| match mode {
        RecursiveMode::Recursive => path.starts_with(dir),
        RecursiveMode::NonRecursive => {
            path.parent() == Some(dir.as_path()) && path.extension().is_some_and(|e| e == "py")
        }
    })
}

/// How long the prompt waits for the bot after a message.
const ANSWER_WAIT: Duration = Duration::from_secs(3);

fn crates(args: &DevArgs) -> anyhow::Result<Vec<PathBuf>> {
    if !args.crates.is_empty() {
        return Ok(args.crates.clone());
    }
    let here = Path::new(".");
    match plugin_crates(here) {
        Ok(names) if !names.is_empty() => {
            Ok(names.iter().map(|n| here.join("plugins").join(n)).collect())
        }
        _ => Ok(vec![here.to_path_buf()]),
    }
}

pub(super) async fn dev(args: DevArgs, logs: Option<super::web::LogSink>) -> anyhow::Result<()> {
    let web_addr = args.web.map(super::web::check_addr).transpose()?;
    let crates = crates(&args)?;
    for c in &crates {
        let built = tokio::task::block_in_place(|| build_path(c, &args.out))?;
        println!("built {}", built.display());
    }
    let sim = std::sync::Arc::new(
        Sim::builder()
            .start()
            .await
            .context("cannot start the simulator")?,
    );
    let file = match &args.config {
        Some(path) => ConfigFile::load(path)?,
        None => ConfigFile::default(),
    };
    let state = StateOptions {
        state_dir: Some(args.state_dir.clone()),
        state: None,
    };
    let built: Vec<PathBuf> = std::fs::read_dir(&args.out)
        .with_context(|| format!("cannot list {}", args.out.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "wasm"))
        .collect();
    let (configs, secrets) = simulated::settings(
        &sim,
        &built,
        file.plugin_configs()?,
        Secrets::load(&file.secrets)?,
    )?;
    let egress = Egress::new(secrets);
    let remote_tools = crate::mcp::client::start(
        file.mcp_servers(egress.secrets())?,
        &egress,
        &tokio_util::sync::CancellationToken::new(),
    )
    .await
    .map_err(anyhow::Error::msg)?;
    let host = Host::builder()
        .credentials(Credentials::new(sim.client_id(), sim.client_secret()))
        .endpoints(Endpoints {
            openapi: sim.url(),
            oapi: sim.url(),
        })
        .plugin(args.out.join("*.wasm"))
        .plugin_configs(configs)
        .runtime_config(file.runtime_config()?)
        .egress(egress)
        .remote_tools(remote_tools)
        .kv(state.open(&file)?.0)
        .build()
        .await?;
    for p in host.plugins() {
        println!("running {} {}", p.name, p.version);
    }
    let running = host.start().await?;
    running.watch()?;
    let (tx, mut changes) = tokio::sync::mpsc::unbounded_channel::<PathBuf>();
    let mut watcher = notify::recommended_watcher(move |e: notify::Result<notify::Event>| {
        if let Ok(e) = e {
            for p in e.paths {
                let _ = tx.send(p);
            }
        }
    })?;
    for c in &crates {
        let (dir, mode) = sources(c);
        watcher.watch(&dir, mode)?;
    }
    let web = match web_addr {
        Some(addr) => {
            let listener = tokio::net::TcpListener::bind(addr)
                .await
                .with_context(|| format!("cannot serve the dev chat on {addr}"))?;
            let web = super::web::Web::new(sim.clone());
            let mut tasks = vec![
                tokio::spawn(web.clone().serve(listener)),
                tokio::spawn(web.clone().watch()),
            ];
            if let Some(logs) = logs {
                tasks.push(tokio::spawn(web.clone().forward_logs(logs)));
            }
            println!("chat with your plugins at http://{addr}/ (Ctrl-C quits)");
            Some((web, tasks))
        }
        None => {
            println!(
                "type a message and press enter (/picture, /file <name>, /group <text>, /quit)"
            );
            None
        }
    };
    let publish = |event: Value| {
        if let Some((web, _)) = &web {
            web.publish(event);
        }
    };
    let mut lines = tokio::io::BufReader::new(tokio::io::stdin()).lines();
    loop {
        tokio::select! {
            Some(path) = changes.recv() => {
                tokio::time::sleep(Duration::from_millis(200)).await;
                let mut touched: BTreeSet<PathBuf> = BTreeSet::from([path]);
                while let Ok(p) = changes.try_recv() {
                    touched.insert(p);
                }
                for c in crates.iter().filter(|c| touched.iter().any(|t| is_source(c, t))) {
                    println!("source changed; rebuilding {}", c.display());
                    publish(serde_json::json!({"type": "build", "text": format!("source changed; rebuilding {}", c.display())}));
                    match tokio::task::block_in_place(|| build_path(c, &args.out)) {
                        Ok(built) => {
                            running.reload(false).await;
                            publish(serde_json::json!({"type": "reload", "text": format!("reloaded {}", built.display())}));
                        }
                        Err(e) => {
                            println!("build failed, the old version keeps running: {e:#}");
                            publish(serde_json::json!({"type": "error", "level": "error",
                                "text": format!("build failed, the old version keeps running: {e:#}")}));
                        }
                    }
                }
            }
            line = lines.next_line(), if web.is_none() => {
                let Some(line) = line? else { break };
                let line = line.trim();
                if line.is_empty() {
                    continue;
                }
                if line == "/quit" {
                    break;
                }
                converse(&sim, line).await;
            }
            _ = tokio::signal::ctrl_c(), if web.is_some() => break,
        }
    }
    drop(watcher);
    running.shutdown().await;
    if let Some((_, tasks)) = web {
        for task in tasks {
            task.abort();
            let _ = task.await;
        }
    }
    if let Ok(sim) = std::sync::Arc::try_unwrap(sim) {
        sim.shutdown().await;
    }
    Ok(())
}

fn spec(line: &str) -> MessageSpec {
    match line.split_once(' ').unwrap_or((line, "")) {
        ("/picture", _) => MessageSpec::picture(),
        ("/file", name) => MessageSpec::file(if name.is_empty() { "report.pdf" } else { name }),
        ("/group", text) => MessageSpec::text(text).in_group("dev group"),
        _ => MessageSpec::text(line),
    }
}

async fn converse(sim: &Sim, line: &str) {
    let cards_before = sim.cards().len();
    let pushed = match sim.push_chatbot(spec(line)).await {
        Ok(p) => p,
        Err(e) => {
            println!("(not delivered: {e})");
            return;
        }
    };
    let ack = sim.wait_ack(&pushed.message_id, ANSWER_WAIT).await;
    for reply in sim.wait_replies(&pushed.session, 1, ANSWER_WAIT).await {
        for line in render(&reply.body).lines() {
            println!("bot> {line}");
        }
    }
    for card in sim.cards().iter().skip(cards_before) {
        println!("card {} ({}):", card.action, card.biz_id);
        for line in render_card(&card.card).lines() {
            println!("     {line}");
        }
    }
    match ack {
        Some(a) if a.code == 200 => {}
        Some(a) => println!("(ACK {}: {})", a.code, a.message),
        None => println!("(no ACK within {ANSWER_WAIT:?})"),
    }
}

/// A webhook body as readable text.
pub fn render(body: &Value) -> String {
    let s = |v: &Value| v.as_str().unwrap_or_default().to_owned();
    match body["msgtype"].as_str().unwrap_or_default() {
        "text" => s(&body["text"]["content"]),
        "markdown" => format!(
            "# {}\n{}",
            s(&body["markdown"]["title"]),
            s(&body["markdown"]["text"])
        ),
        "actionCard" => {
            let c = &body["actionCard"];
            let mut out = format!("# {}\n{}", s(&c["title"]), s(&c["text"]));
            if c.get("singleTitle").is_some() {
                out.push_str(&format!(
                    "\n[{}] → {}",
                    s(&c["singleTitle"]),
                    s(&c["singleURL"])
                ));
            }
            for b in c["btns"].as_array().into_iter().flatten() {
                out.push_str(&format!("\n[{}] → {}", s(&b["title"]), s(&b["actionURL"])));
            }
            out
        }
        "link" => format!(
            "{} — {}\n{}",
            s(&body["link"]["title"]),
            s(&body["link"]["text"]),
            s(&body["link"]["messageUrl"])
        ),
        "feedCard" => body["feedCard"]["links"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|l| format!("• {} → {}", s(&l["title"]), s(&l["messageURL"])))
            .collect::<Vec<_>>()
            .join("\n"),
        other => format!("({other} message) {body}"),
    }
}

/// A StandardCard (or card variables) as readable text.
pub fn render_card(card: &Value) -> String {
    let mut out = Vec::new();
    if let Some(title) = card["header"]["title"]["text"].as_str() {
        out.push(format!("# {title}"));
    }
    for c in card["contents"].as_array().into_iter().flatten() {
        match c["type"].as_str() {
            Some("text" | "markdown") => {
                out.push(c["text"].as_str().unwrap_or_default().to_owned())
            }
            Some("image") => out.push(format!(
                "[image {}]",
                c["image"].as_str().unwrap_or_default()
            )),
            Some("action") => {
                for a in c["actions"].as_array().into_iter().flatten() {
                    out.push(format!(
                        "[{}]",
                        a["label"]["text"].as_str().unwrap_or_default()
                    ));
                }
            }
            _ => {}
        }
    }
    if out.is_empty() {
        out.push(card.to_string());
    }
    out.join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rust_and_typescript_sources_are_under_src_and_python_sources_are_the_projects_own_modules() {
        // The tests run in host/.
        let rust = Path::new("../plugins/calcbot");
        assert!(is_source(rust, Path::new("../plugins/calcbot/src/eval.rs")));
        assert!(!is_source(rust, Path::new("../plugins/calcbot/cases.json")));
        let python = Path::new("../tests/plugins/pyhostile");
        assert!(is_source(
            python,
            Path::new("../tests/plugins/pyhostile/app.py")
        ));
        assert!(!is_source(
            python,
            Path::new("../tests/plugins/pyhostile/target/plugin-tools/python-sdk/x.py")
        ));
        assert!(!is_source(
            python,
            Path::new("../tests/plugins/pyhostile/pyproject.toml")
        ));
        let ts = Path::new("../plugins/todobot");
        assert!(is_source(ts, Path::new("../plugins/todobot/src/todo.ts")));
        assert!(!is_source(
            ts,
            Path::new("../plugins/todobot/target/plugin-tools/js-sdk/src/kv.ts")
        ));
    }
    use serde_json::json;

    #[test]
    fn replies_and_cards_render_as_readable_text() {
        assert_eq!(
            render(&json!({"msgtype": "text", "text": {"content": "hi"}})),
            "hi"
        );
        let card = json!({"msgtype": "actionCard", "actionCard": {"title": "T", "text": "x", "btns": [{"title": "Go", "actionURL": "u"}]}});
        assert_eq!(render(&card), "# T\nx\n[Go] → u");
        let standard = json!({"header": {"title": {"text": "钉钉卡片"}}, "contents": [
            {"type": "text", "text": "hello"}, {"type": "image", "image": "@m"},
            {"type": "action", "actions": [{"label": {"text": "打开链接"}}]}]});
        assert_eq!(
            render_card(&standard),
            "# 钉钉卡片\nhello\n[image @m]\n[打开链接]"
        );
    }
}
