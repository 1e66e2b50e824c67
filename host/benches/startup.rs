//! Start-up to connected (cold and warm artifact cache) and hot-reload latency: whole
//! host runs, too slow for criterion's sampling, so this prints one figure each.
//!
//! Run with `cargo bench -p host --bench startup`. Builds calcbot and cardbot like the
//! tests do. All traffic stays on 127.0.0.1 (the simulator).

use std::path::Path;
use std::time::{Duration, Instant};

use host::runtime::RuntimeConfig;
use sim::Sim;

fn main() -> anyhow::Result<()> {
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("workspace");
    let plugins = workspace.join("plugins");
    let built = host::cli::build::build_components(workspace, &["calcbot".into()], &plugins)?;
    let cardbot = host::cli::build::build_components(workspace, &["cardbot".into()], &plugins)?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    rt.block_on(async {
        let sim = Sim::builder().ping_interval(None).start().await?;
        // Start-up: load (cold: compile and store; warm: cached artifact) and connect.
        let cache_dir = workspace
            .join("target")
            .join(format!("bench-cache-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&cache_dir);
        for label in ["cold cache", "warm cache"] {
            let config = RuntimeConfig {
                cache: host::runtime::cache::CacheConfig {
                    dir: Some(cache_dir.clone()),
                    ..Default::default()
                },
                ..RuntimeConfig::default()
            };
            let started = Instant::now();
            let running = host::Host::builder()
                .credentials(host::config::Credentials::new(
                    sim.client_id(),
                    sim.client_secret(),
                ))
                .endpoints(host::config::Endpoints {
                    openapi: sim.url(),
                    oapi: sim.url(),
                })
                .plugins(&built)
                .runtime_config(config)
                .build()
                .await?
                .start()
                .await?;
            println!("start-up to connected, {label}: {:?}", started.elapsed());
            running.shutdown().await;
        }
        // Reload latency: a plugin file appears in a watched folder; time until the
        // new plugin serves. Cold (compile) and warm (cached artifact).
        let watched = workspace.join("target").join(format!("bench-watch-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&watched);
        std::fs::create_dir_all(&watched)?;
        std::fs::copy(&built[0], watched.join("calcbot.wasm"))?;
        let config = RuntimeConfig {
            cache: host::runtime::cache::CacheConfig {
                dir: Some(cache_dir.join("reload")),
                ..Default::default()
            },
            ..RuntimeConfig::default()
        };
        let running = host::Host::builder()
            .credentials(host::config::Credentials::new(sim.client_id(), sim.client_secret()))
            .endpoints(host::config::Endpoints {
                openapi: sim.url(),
                oapi: sim.url(),
            })
            .plugin(watched.join("*.wasm"))
            .runtime_config(config)
            .build()
            .await?
            .start()
            .await?;
        running.watch()?;
        for label in ["cold cache", "warm cache"] {
            let target = watched.join("cardbot.wasm");
            let tmp = watched.join("cardbot.tmp");
            std::fs::copy(&cardbot[0], &tmp)?;
            let started = Instant::now();
            std::fs::rename(&tmp, &target)?;
            while !running.plugin_names().iter().any(|n| n == "cardbot") {
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
            println!("reload, file written to new plugin serving, {label}: {:?} (200 ms of it is the debounce)", started.elapsed());
            std::fs::remove_file(&target)?;
            while running.plugin_names().iter().any(|n| n == "cardbot") {
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
        }
        running.shutdown().await;
        let _ = std::fs::remove_dir_all(&watched);
        let _ = std::fs::remove_dir_all(&cache_dir);
        sim.shutdown().await;
        anyhow::Ok(())
    })?;

    Ok(())
}
