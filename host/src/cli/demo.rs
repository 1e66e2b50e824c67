//! `host demo`: the whole product on one machine, no DingTalk account needed.
//!
//! Builds the plugin crates under `plugins/` (if their sources are here), starts the
//! simulator in-process, runs the host with `plugins/*.wasm` against it, plays a short
//! conversation and prints what the user sent and what the bot answered.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context as _, bail};
use clap::Args;
use sim::{MessageSpec, ModelTurn, Sim};

use super::options::StateOptions;
use super::{simulated, web};
use crate::Host;
use crate::config::{Credentials, Endpoints};
use crate::egress::Egress;
use crate::secrets::Secrets;
use crate::settings::ConfigFile;

#[derive(Debug, Args)]
pub(super) struct DemoArgs {
    /// The workspace holding `plugins/` (default: the current directory).
    #[arg(long, default_value = ".")]
    pub workspace: PathBuf,
    /// A config file, as for `host run` (grants, config values, `[secrets]`).
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Also show the conversation in the browser, on the dev chat page served on this
    /// loopback address (default 127.0.0.1:7788), and keep serving it until Ctrl-C.
    #[arg(long, value_name = "ADDR", num_args = 0..=1, default_missing_value = "127.0.0.1:7788")]
    pub web: Option<std::net::SocketAddr>,
}

/// How long the demo waits for each reply.
const REPLY_TIMEOUT: Duration = Duration::from_secs(10);

pub(super) async fn demo(args: DemoArgs, logs: Option<web::LogSink>) -> anyhow::Result<()> {
    let web_addr = args.web.map(web::check_addr).transpose()?;
    let plugins = prepare_plugins(&args.workspace)?;
    let sim = Arc::new(
        Sim::builder()
            .start()
            .await
            .context("cannot start the simulator")?,
    );
    println!("simulator listening on {}", sim.url());
    let page = match web_addr {
        Some(addr) => {
            let listener = tokio::net::TcpListener::bind(addr)
                .await
                .with_context(|| format!("cannot serve the dev chat on {addr}"))?;
            let page = web::Web::new(sim.clone());
            let mut tasks = vec![
                tokio::spawn(page.clone().serve(listener)),
                tokio::spawn(page.clone().watch()),
            ];
            if let Some(logs) = logs {
                tasks.push(tokio::spawn(page.clone().forward_logs(logs)));
            }
            println!("the conversation is also at http://{addr}/");
            Some((page, tasks))
        }
        None => None,
    };
    let web = page.as_ref().map(|(p, _)| p.as_ref());
    let file = match &args.config {
        Some(path) => ConfigFile::load(path)?,
        None => ConfigFile::default(),
    };
    // The demo's state lives only as long as the demo.
    let state_dir = std::env::temp_dir().join(format!("host-demo-state-{}", std::process::id()));
    let state = StateOptions {
        state_dir: Some(state_dir.clone()),
        state: None,
    };
    let (configs, secrets) = simulated::settings(
        &sim,
        &plugins,
        file.plugin_configs()?,
        Secrets::load(&file.secrets)?,
    )?;
    let host = Host::builder()
        .credentials(Credentials::new(sim.client_id(), sim.client_secret()))
        .endpoints(Endpoints {
            openapi: sim.url(),
            oapi: sim.url(),
        })
        .plugins(&plugins)
        .plugin_configs(configs)
        .runtime_config(file.runtime_config()?)
        .egress(Egress::new(secrets))
        .kv(state.open(&file)?.0)
        .build()
        .await?;
    let mut loaded = Vec::new();
    for p in host.plugins() {
        println!("loaded plugin {} {} ({} bytes)", p.name, p.version, p.size);
        loaded.push(p.name.clone());
    }
    let running = host.start().await?;
    println!();
    let mut failures = 0;
    if host_has(&loaded, "calcbot") {
        for spec in [
            MessageSpec::text("1+2*3"),
            MessageSpec::text(" 7/2"),
            MessageSpec::text("2**10"),
            MessageSpec::text("(1+2)*3 - 4//3").in_group("演示群"),
            MessageSpec::text("1/0"),
            MessageSpec::text("/calc import os"),
        ] {
            failures += exchange(&sim, web, spec, true).await?;
        }
    }
    if host_has(&loaded, "cardbot") {
        failures += exchange(&sim, web, MessageSpec::text("/card"), false).await?;
        failures += show_cards(&sim).await;
    }
    if host_has(&loaded, "aibot") {
        failures += exchange(&sim, web, MessageSpec::picture(), true).await?;
        sim.set_model_delay(Duration::from_millis(60));
        for question in [
            "What does Stream mode change for a bot behind a firewall?",
            "And what did I ask before?",
        ] {
            failures += ai_exchange(&sim, web, question).await?;
        }
        if host_has(&loaded, "calcbot") {
            // aibot as an agent: the model asks for calcbot's `calc` tool, the host
            // runs it in a fresh calcbot sandbox, and the card shows the step.
            sim.script_model([ModelTurn::Call(vec![(
                "calcbot_calc".into(),
                serde_json::json!({"expression": "17*23"}),
            )])]);
            failures += ai_exchange(&sim, web, "How much is 17 times 23, exactly?").await?;
        }
    }
    if let Some((_, tasks)) = page {
        println!(
            "\nthe conversation is at http://{}/ (Ctrl-C quits)",
            web_addr.map(|a| a.to_string()).unwrap_or_default()
        );
        let _ = tokio::signal::ctrl_c().await;
        for task in tasks {
            task.abort();
            let _ = task.await;
        }
    }
    running.shutdown().await;
    if let Ok(sim) = Arc::try_unwrap(sim) {
        sim.shutdown().await;
    }
    let _ = std::fs::remove_dir_all(&state_dir);
    if failures > 0 {
        bail!("{failures} demo steps got no reply or no ACK");
    }
    Ok(())
}

/// Push `spec`, through the page when there is one (so it shows there too).
async fn push(
    sim: &Sim,
    web: Option<&web::Web>,
    spec: MessageSpec,
) -> Result<sim::Pushed, sim::PushError> {
    match web {
        Some(web) => web.push(spec).await,
        None => sim.push_chatbot(spec).await,
    }
}

/// Push one message, print it, the text reply (when one is expected) and the ACK;
/// how many of those were missing.
async fn exchange(
    sim: &Sim,
    web: Option<&web::Web>,
    spec: MessageSpec,
    expect_text: bool,
) -> anyhow::Result<usize> {
    let said = match spec.body.get("content").and_then(|c| c.as_str()) {
        Some(text) if spec.msgtype == "text" => text.to_owned(),
        _ => format!("[{}]", spec.msgtype),
    };
    println!("user> {said}");
    let pushed = push(sim, web, spec).await?;
    let wait = if expect_text {
        REPLY_TIMEOUT
    } else {
        Duration::ZERO
    };
    let replies = sim.wait_replies(&pushed.session, 1, wait).await;
    let mut missing = 0;
    match replies.first().and_then(|r| r.text()) {
        Some(text) => {
            for line in text.lines() {
                println!("bot>  {line}");
            }
        }
        None if expect_text => {
            missing += 1;
            println!("bot>  (no reply)");
        }
        None => {}
    }
    missing += ack_line(sim, &pushed.message_id).await;
    Ok(missing)
}

async fn ack_line(sim: &Sim, message_id: &str) -> usize {
    match sim.wait_ack(message_id, REPLY_TIMEOUT).await {
        Some(a) => {
            println!("      [ACK code {}]\n", a.code);
            0
        }
        None => {
            println!("      [no ACK]\n");
            1
        }
    }
}

/// Ask aibot and print the AI card's states as the simulator receives them:
/// created ("thinking"), each streaming update, and the final state.
async fn ai_exchange(sim: &Sim, web: Option<&web::Web>, question: &str) -> anyhow::Result<usize> {
    println!("user> {question}");
    let before = sim.model_requests().len();
    let pushed = push(sim, web, MessageSpec::text(question)).await?;
    let card = format!("ai-{}", pushed.data["msgId"].as_str().unwrap_or_default());
    let started = std::time::Instant::now();
    let mut seen = 0;
    let mut finished = false;
    while !finished && started.elapsed() < REPLY_TIMEOUT {
        let records: Vec<_> = sim
            .cards()
            .into_iter()
            .filter(|c| c.biz_id == card)
            .collect();
        for r in records.iter().skip(seen) {
            let at = started.elapsed().as_millis();
            match r.action.as_str() {
                "instance.createAndDeliver" => println!("card  {at:>5} ms  shown, thinking"),
                "instance.stream" => {
                    let content = r.card["content"].as_str().unwrap_or_default();
                    let last = r.card["isFinalize"] == true;
                    finished |= last;
                    let mark = if last { "final" } else { "typing" };
                    println!("card  {at:>5} ms  {mark}: {content}");
                }
                "instance.update" if r.card["flowStatus"] == "3" => {
                    println!("card  {at:>5} ms  finished")
                }
                "instance.update" if r.card["flowStatus"] == "5" => {
                    finished = true;
                    println!("card  {at:>5} ms  failed");
                }
                _ => {}
            }
        }
        seen = records.len();
        sim.changed(Duration::from_millis(200)).await;
    }
    if let Some(request) = sim.model_requests().get(before) {
        let said = |(role, _): &&(String, String)| role == "user" || role == "assistant";
        let earlier = request
            .messages()
            .iter()
            .filter(said)
            .count()
            .saturating_sub(1);
        println!(
            "      (the model was sent the system prompt, {earlier} remembered messages and the question)"
        );
    }
    Ok(usize::from(!finished) + ack_line(sim, &pushed.message_id).await)
}

fn host_has(loaded: &[String], name: &str) -> bool {
    loaded.iter().any(|n| n == name)
}

/// Print cardbot's card as sent and as updated; 1 when either is missing.
async fn show_cards(sim: &Sim) -> usize {
    let cards = sim.wait_cards(2, REPLY_TIMEOUT).await;
    println!(
        "cardbot sent {} card and made {} update",
        count(&cards, "send"),
        count(&cards, "update")
    );
    let first = cards.iter().find(|c| c.action == "send");
    let update = first.and_then(|f| {
        cards
            .iter()
            .find(|c| c.action == "update" && c.biz_id == f.biz_id)
    });
    for (label, card) in [("as sent", first), ("as updated", update)] {
        let Some(card) = card else { continue };
        let c = &card.card;
        println!("card {label} (cardBizId {}):", card.biz_id);
        println!(
            "  title: {}",
            c["header"]["title"]["text"].as_str().unwrap_or("")
        );
        for line in c["contents"][0]["text"].as_str().unwrap_or("").lines() {
            println!("  text:  {}", line.trim());
        }
        println!(
            "  image: {}",
            c["contents"][1]["image"].as_str().unwrap_or("")
        );
    }
    println!();
    usize::from(first.is_none() || update.is_none())
}

fn count(cards: &[sim::CardRecord], action: &str) -> usize {
    cards.iter().filter(|c| c.action == action).count()
}

/// Build the plugin crates when their sources are present, then list `plugins/*.wasm`.
fn prepare_plugins(workspace: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let dir = workspace.join("plugins");
    let crates = super::build::plugin_crates(workspace).unwrap_or_default();
    if !crates.is_empty() {
        println!("building plugins {crates:?} for {}…", super::build::TARGET);
        super::build::build_components(workspace, &crates, &dir)?;
    }
    let mut wasm: Vec<PathBuf> = std::fs::read_dir(&dir)
        .with_context(|| format!("cannot list {}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "wasm"))
        .collect();
    wasm.sort();
    if wasm.is_empty() {
        bail!("no plugins in {}", dir.display());
    }
    Ok(wasm)
}
