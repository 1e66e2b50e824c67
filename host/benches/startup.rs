//! One frame through a plugin, and the codec around it: prints per-operation figures.
//!
//! Run with `cargo bench -p host --bench frame`. Needs the calcbot component, which it
//! builds like the tests do. All traffic stays on 127.0.0.1 (the simulator's webhook).

use std::path::Path;
use std::time::{Duration, Instant};

use host::openapi::{Http, HttpConfig};
use host::runtime::{Runtime, RuntimeConfig, Services};
use host::stream::{Ack, Frame, FrameType, frame};
use sim::{MessageSpec, Sim};

fn report(name: &str, mut samples: Vec<Duration>) {
    samples.sort();
    let n = samples.len();
    let total: Duration = samples.iter().sum();
    let pct = |p: f64| samples[((n as f64 * p) as usize).min(n - 1)];
    println!(
        "{name:<48} n={n:<6} mean={:>9.2?} p50={:>9.2?} p99={:>9.2?}",
        total / n as u32,
        pct(0.50),
        pct(0.99)
    );
}

fn measure(n: usize, mut f: impl FnMut()) -> Vec<Duration> {
    (0..n)
        .map(|_| {
            let t = Instant::now();
            f();
            t.elapsed()
        })
        .collect()
}

fn chatbot_frame(data: String) -> Frame {
    Frame {
        frame_type: FrameType::Callback,
        topic: "/v1.0/im/bot/messages/get".into(),
        message_id: "bench".into(),
        headers: vec![("topic".into(), "/v1.0/im/bot/messages/get".into())],
        data,
    }
}

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
        let http = Http::new(&HttpConfig::default())?;
        let runtime = Runtime::new(&RuntimeConfig::default(), Services { http, api: None })?;
        let started = Instant::now();
        let plugin = runtime.load(&built[0], &Default::default()).await?;
        println!(
            "load calcbot.wasm ({} bytes): {:?} (compile {:?})",
            plugin.size,
            started.elapsed(),
            plugin.compile_time
        );

        // A frame whose handler answers through the webhook, with the webhook on loopback.
        let (_, data) = sim.chatbot_data(&MessageSpec::text("1+2*3"));
        let session_frame = chatbot_frame(data.to_string());
        for _ in 0..200 {
            plugin.handle(&session_frame).await?;
        }
        let mut with_http = Vec::new();
        for _ in 0..2000 {
            let t = Instant::now();
            plugin.handle(&session_frame).await?;
            with_http.push(t.elapsed());
        }
        report("frame through calcbot + webhook reply (HTTP)", with_http);

        // A frame without a webhook: instantiate, parse, one host call (refused), return.
        let bare = chatbot_frame(r#"{"msgtype":"text","text":{"content":"1+2*3"}}"#.into());
        let mut no_http = Vec::new();
        for _ in 0..20000 {
            let t = Instant::now();
            let _ = plugin.handle(&bare).await;
            no_http.push(t.elapsed());
        }
        report("frame through calcbot, host call, no HTTP", no_http);
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

    let text = include_str!("../../tests/fixtures/recorded/client_downstream_msg.json");
    report(
        "decode the recorded callback frame",
        measure(100_000, || {
            std::hint::black_box(frame::decode(std::hint::black_box(text)).ok());
        }),
    );
    report(
        "encode a callback ACK",
        measure(100_000, || {
            std::hint::black_box(Ack::callback("bbb43a7_fc9_19ce26ebc01_2925aa2", None).encode());
        }),
    );
    Ok(())
}
