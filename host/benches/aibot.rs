//! What a user of aibot sees for a 300-token answer: when the card appears, when the
//! first words show, how many streaming updates the card gets (DingTalk throttles
//! them per app), and when the answer is complete. Prints figures; asserts nothing.
//!
//! Run with `cargo bench -p host --bench aibot`. The simulator's model streams one
//! word per chunk, 20 ms apart (50 tokens/s, a typical hosted model), after its
//! role and reasoning chunks; everything stays on 127.0.0.1.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use host::config::{Credentials, Endpoints};
use host::egress::Egress;
use host::kv::embedded::Embedded;
use host::runtime::{Grants, PluginSettings};
use host::secrets::Secrets;
use host::{Host, PluginConfigs};
use sim::{MessageSpec, Sim};

const WORDS: usize = 298;

fn main() -> anyhow::Result<()> {
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("workspace");
    let out = workspace.join("target/bench-fixtures");
    let built = host::cli::build::build_components(workspace, &["aibot".into()], &out)?;
    // RUST_LOG=debug shows what the host did.
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .try_init();
    let rt = tokio::runtime::Runtime::new()?;
    rt.block_on(async {
        let sim = Sim::builder().ping_interval(None).start().await?;
        sim.set_model_delay(Duration::from_millis(20));
        let origin = sim.url();
        let section: toml::Table = toml::from_str(&format!(
            "http = [\"{origin}\"]\n[http_headers.\"{origin}\"]\nAuthorization = \"Bearer {{secret.k}}\"\n"
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
        let state = std::env::temp_dir().join(format!("host-bench-aibot-{}", std::process::id()));
        let host = Host::builder()
            .credentials(Credentials::new(sim.client_id(), sim.client_secret()))
            .endpoints(Endpoints {
                openapi: sim.url(),
                oapi: sim.url(),
            })
            .plugin(&built[0])
            .plugin_configs(configs)
            .egress(Egress::new(Secrets::default().with("k", sim.model_key())))
            .kv(Arc::new(Embedded::open(&state.join("kv.redb")).map_err(anyhow::Error::msg)?))
            .build()
            .await?
            .start()
            .await?;
        let question: Vec<String> = (0..WORDS).map(|i| format!("w{i}")).collect();
        let pushed_at = Instant::now();
        let pushed = sim.push_chatbot(MessageSpec::text(&question.join(" "))).await?;
        let card = format!("ai-{}", pushed.data["msgId"].as_str().unwrap_or_default());
        let (mut shown, mut first_words, mut done) = (None, None, None);
        let mut seen = 0;
        while done.is_none() && pushed_at.elapsed() < Duration::from_secs(60) {
            let records: Vec<_> = sim.cards().into_iter().filter(|c| c.biz_id == card).collect();
            for r in records.iter().skip(seen) {
                let at = pushed_at.elapsed();
                match r.action.as_str() {
                    "instance.createAndDeliver" => shown = shown.or(Some(at)),
                    "instance.stream" if r.card["isFinalize"] == true => done = Some(at),
                    "instance.stream" => first_words = first_words.or(Some(at)),
                    _ => {}
                }
            }
            seen = records.len();
            sim.changed(Duration::from_millis(50)).await;
        }
        let updates = sim
            .cards()
            .iter()
            .filter(|c| c.biz_id == card && c.action == "instance.stream")
            .count();
        let tokens = WORDS + 2;
        println!("aibot, a {tokens}-token answer streamed at 50 tokens/s by the simulator's model:");
        println!("  card shown (thinking):       {shown:?}");
        println!("  first visible words:         {first_words:?}");
        println!("  answer complete (final):     {done:?}");
        println!("  streaming updates:           {updates} (one per {:?} at most, the last with isFinalize)", Duration::from_millis(300));
        host.shutdown().await;
        sim.shutdown().await;
        let _ = std::fs::remove_dir_all(state);
        Ok(())
    })
}
