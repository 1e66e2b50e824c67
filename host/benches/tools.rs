//! What a tool call costs: calcbot's `calc` run as a direct Rust function call (what a
//! bridge running tools in its own process pays), the same tool through the host
//! (broker → fresh calcbot instance with its own store and limits → result back), and
//! whole agent turns with zero, one and three tool calls, from the message push to
//! the AI card's final update. Prints figures; asserts nothing.
//!
//! Run with `cargo bench -p host --bench tools`. The simulator's model answers with
//! no delay between chunks, so a turn's figure is the host's and the plugins' work
//! plus one loopback model request per round; everything stays on 127.0.0.1.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use host::config::{Credentials, Endpoints};
use host::egress::Egress;
use host::kv::embedded::Embedded;
use host::openapi::{Http, HttpConfig};
use host::runtime::capability::tools::ToolProvider;
use host::runtime::scope::Conversation;
use host::runtime::{Grants, PluginSettings, Runtime, RuntimeConfig, Services};
use host::secrets::Secrets;
use host::{Host, PluginConfigs};
use serde_json::{Value, json};
use sim::{MessageSpec, ModelTurn, Sim};

// calcbot's own evaluator, compiled natively: the direct call runs the same code.
#[allow(
    dead_code,
    reason = "only `evaluate` is called; the rest is calcbot's API"
)]
#[path = "../../plugins/calcbot/src/eval.rs"]
mod eval;

const ARGUMENTS: &str = r#"{"expression":"2*(3+4)"}"#;
const DIRECT_CALLS: u32 = 200_000;
const HOSTED_CALLS: usize = 2_000;
const TURNS: usize = 20;

/// calcbot's `calc` without the sandbox: decode the arguments, evaluate, encode.
fn direct(arguments: &str) -> String {
    let args: Value = serde_json::from_str(arguments).expect("arguments");
    let expression = args["expression"].as_str().expect("expression").trim();
    let value = eval::evaluate(expression).expect("evaluates");
    json!({"expression": expression, "value": value.to_string()}).to_string()
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

fn summary(mut times: Vec<Duration>) -> String {
    times.sort();
    let mean = times.iter().sum::<Duration>() / times.len() as u32;
    format!(
        "mean {mean:?}, p50 {:?}, p99 {:?} (n={})",
        percentile(&times, 0.5),
        percentile(&times, 0.99),
        times.len()
    )
}

fn main() -> anyhow::Result<()> {
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("workspace");
    let out = workspace.join("target/bench-fixtures");
    let built =
        host::cli::build::build_components(workspace, &["aibot".into(), "calcbot".into()], &out)?;
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .try_init();

    let started = Instant::now();
    for _ in 0..DIRECT_CALLS {
        std::hint::black_box(direct(std::hint::black_box(ARGUMENTS)));
    }
    let per_direct = started.elapsed() / DIRECT_CALLS;
    println!("calcbot.calc {ARGUMENTS}:");
    println!("  direct Rust function call:          mean {per_direct:?} (n={DIRECT_CALLS})");

    let rt = tokio::runtime::Runtime::new()?;
    rt.block_on(async {
        let http = Http::new(&HttpConfig::default())?;
        let runtime = Runtime::new(
            &RuntimeConfig::default(),
            Services::new(http, &Endpoints::default(), None),
        )?;
        let calcbot = runtime.load(&built[1], &Default::default()).await?;
        let chat = Conversation {
            id: "cid-bench".into(),
            sender: "staff-bench".into(),
            is_group: false,
        };
        let mut times = Vec::with_capacity(HOSTED_CALLS);
        for _ in 0..HOSTED_CALLS {
            let at = Instant::now();
            let result = calcbot
                .run("calc", ARGUMENTS, &chat, Duration::from_secs(10))
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            times.push(at.elapsed());
            std::hint::black_box(result);
        }
        println!("  through the host, fresh instance:   {}", summary(times));
        anyhow::Ok(())
    })?;

    rt.block_on(async {
        let sim = Sim::builder().ping_interval(None).start().await?;
        sim.set_model_delay(Duration::ZERO);
        let origin = sim.url();
        let section: toml::Table = toml::from_str(&format!(
            "http = [\"{origin}\"]\ntools = [\"calcbot.*\"]\nfallback = true\n[http_headers.\"{origin}\"]\nAuthorization = \"Bearer {{secret.k}}\"\n"
        ))?;
        let grants = Grants::parse(&section)
            .map_err(anyhow::Error::msg)?
            .with_config("base-url", &sim.model_url())
            .with_config("model", "sim-model");
        let mut configs = PluginConfigs::new();
        configs.insert(
            "aibot".into(),
            PluginSettings {
                grants,
                ..Default::default()
            },
        );
        // calcbot answers only `/calc` in the chat, so every message is aibot's.
        let calc_rule: toml::Table = toml::from_str("commands = [\"/calc\"]")?;
        configs.insert(
            "calcbot".into(),
            PluginSettings {
                grants: Grants::parse(&calc_rule).map_err(anyhow::Error::msg)?,
                ..Default::default()
            },
        );
        let state = std::env::temp_dir().join(format!("host-bench-tools-{}", std::process::id()));
        let host = Host::builder()
            .credentials(Credentials::new(sim.client_id(), sim.client_secret()))
            .endpoints(Endpoints {
                openapi: sim.url(),
                oapi: sim.url(),
            })
            .plugin(&built[0])
            .plugin(&built[1])
            .plugin_configs(configs)
            .egress(Egress::new(Secrets::default().with("k", sim.model_key())))
            .kv(Arc::new(Embedded::open(&state.join("kv.redb")).map_err(anyhow::Error::msg)?))
            .build()
            .await?
            .start()
            .await?;
        println!("an aibot turn, push to the AI card's final update ({TURNS} turns each):");
        for calls in [0usize, 1, 3] {
            let mut times = Vec::with_capacity(TURNS);
            for turn in 0..TURNS {
                // One call per model round, as a model that checks each step does.
                let rounds = (0..calls).map(|i| {
                    ModelTurn::Call(vec![(
                        "calcbot_calc".into(),
                        json!({"expression": format!("{turn}*{i}+1")}),
                    )])
                });
                sim.script_model(rounds.chain([ModelTurn::Text("done".into())]));
                let pushed_at = Instant::now();
                let pushed = sim
                    .push_chatbot(MessageSpec::text(&format!("turn {turn} with {calls} calls")))
                    .await?;
                let card = format!("ai-{}", pushed.data["msgId"].as_str().unwrap_or_default());
                let finished = |sim: &Sim| {
                    sim.cards().iter().any(|c| {
                        c.biz_id == card
                            && c.action == "instance.update"
                            && c.card["flowStatus"] == "3"
                    })
                };
                while !finished(&sim) {
                    anyhow::ensure!(
                        pushed_at.elapsed() < Duration::from_secs(60),
                        "turn {turn} with {calls} calls did not finish"
                    );
                    sim.changed(Duration::from_millis(50)).await;
                }
                times.push(pushed_at.elapsed());
                // Each call must have run and answered: its step line says "ok".
                let shown = sim
                    .cards()
                    .into_iter()
                    .rev()
                    .find(|c| c.biz_id == card && c.action == "instance.stream")
                    .and_then(|c| c.card["content"].as_str().map(str::to_owned))
                    .unwrap_or_default();
                anyhow::ensure!(
                    shown.matches("— ok,").count() == calls,
                    "turn {turn}: not every call answered: {shown}"
                );
            }
            println!("  {calls} tool call(s):                      {}", summary(times));
        }
        host.shutdown().await;
        sim.shutdown().await;
        let _ = std::fs::remove_dir_all(state);
        Ok(())
    })
}
