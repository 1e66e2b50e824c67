//! Criterion benchmarks of the state and outbound HTTP capabilities: one key-value get
//! and set on each backend, and one outbound request through the host compared with a
//! plain reqwest call to the same loopback server.
//!
//! Run with `cargo bench -p host --bench capabilities`. The Redis figures need
//! `redis-server` on the PATH (a throw-away one is started on a free loopback port);
//! without it they are skipped with a message. All traffic stays on 127.0.0.1.

// criterion_group! and criterion_main! generate undocumented public items.
#![allow(missing_docs)]

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::routing::get;
use criterion::{Criterion, criterion_group, criterion_main};
use host::config::Endpoints;
use host::egress::Egress;
use host::kv::embedded::Embedded;
use host::kv::redis::Redis;
use host::kv::{Backend, Namespace, Quota};
use host::openapi::{Http, HttpConfig};
use host::runtime::{
    FrameScope, Grants, PluginSettings, Runtime, RuntimeConfig, Services, SubscriptionKind,
};
use host::stream::{Frame, FrameType};
use tokio::runtime::Runtime as Tokio;

const QUOTA: Quota = Quota {
    total_bytes: 1 << 30,
    keys: 1 << 20,
};

fn bench_backend(c: &mut Criterion, rt: &Tokio, name: &str, store: &dyn Backend) {
    let ns = Namespace::new("bench", "p");
    let value = vec![b'v'; 100];
    rt.block_on(store.set(ns.clone(), vec![("k".into(), value.clone())], None, QUOTA))
        .expect("first set");
    let mut group = c.benchmark_group(format!("key-value, {name}"));
    group.bench_function("get (100-byte value)", |b| {
        b.iter_custom(|iters| {
            rt.block_on(async {
                let started = Instant::now();
                for _ in 0..iters {
                    std::hint::black_box(store.get(ns.clone(), "k".into()).await.ok());
                }
                started.elapsed()
            })
        })
    });
    group.bench_function("set (100-byte value)", |b| {
        b.iter_custom(|iters| {
            rt.block_on(async {
                let started = Instant::now();
                for _ in 0..iters {
                    let entries = vec![("k".to_owned(), value.clone())];
                    std::hint::black_box(store.set(ns.clone(), entries, None, QUOTA).await.ok());
                }
                started.elapsed()
            })
        })
    });
    group.finish();
}

struct RedisServer(Child);

impl Drop for RedisServer {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start_redis() -> Option<(RedisServer, String)> {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .ok()?
        .local_addr()
        .ok()?
        .port();
    let child = Command::new("redis-server")
        .args([
            "--port",
            &port.to_string(),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
        ])
        .stdout(Stdio::null())
        .spawn()
        .map_err(|e| eprintln!("skipping the Redis figures: redis-server is not installed ({e})"))
        .ok()?;
    let server = RedisServer(child);
    for _ in 0..500 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return Some((server, format!("redis://127.0.0.1:{port}/0")));
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    None
}

fn key_value(c: &mut Criterion) {
    let rt = Tokio::new().expect("tokio");
    let dir = std::env::temp_dir().join(format!("host-bench-kv-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let embedded = rt.block_on(async { Embedded::open(&dir.join("kv.redb")).expect("open") });
    bench_backend(c, &rt, "embedded (redb, fsync per write)", &embedded);
    drop(embedded);
    let _ = std::fs::remove_dir_all(&dir);
    if let Some((_server, url)) = start_redis() {
        let redis = rt.block_on(async { Redis::connect(&url).expect("redis") });
        bench_backend(c, &rt, "Redis on loopback", &redis);
    }
}

fn outbound(c: &mut Criterion) {
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("workspace");
    let out = workspace.join("target/bench-fixtures");
    let built = host::cli::build::build_components(workspace, &["netprobe".into()], &out)
        .expect("build the netprobe fixture");
    let rt = Tokio::new().expect("tokio");
    let (origin, plugin) = rt.block_on(async {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let origin = format!("http://{}", listener.local_addr().expect("addr"));
        let app = Router::new().route("/hello", get(|| async { "hello" }));
        tokio::spawn(async move { axum::serve(listener, app).await });
        let http = Http::new(&HttpConfig::default()).expect("http");
        let services =
            Services::new(http, &Endpoints::default(), None).with_egress(Egress::default());
        let runtime = Runtime::new(&RuntimeConfig::default(), services).expect("runtime");
        let mut configs = host::PluginConfigs::new();
        configs.insert(
            "netprobe".into(),
            PluginSettings {
                grants: Grants::default()
                    .with_http(std::slice::from_ref(&origin))
                    .expect("grant"),
                ..Default::default()
            },
        );
        let plugin = runtime.load(&built[0], &configs).await.expect("load");
        (origin, Arc::new(plugin))
    });
    let frame = |text: &str| Frame {
        frame_type: FrameType::Callback,
        topic: "/v1.0/im/bot/messages/get".into(),
        message_id: "bench".into(),
        headers: Vec::new(),
        data: serde_json::json!({"msgtype": "text", "text": {"content": text}}).to_string(),
    };
    let mut group = c.benchmark_group("outbound GET to a loopback server");
    let frames = [
        ("a frame without a request (baseline)", frame("nothing")),
        (
            "a frame with one request through the host",
            frame(&format!("fetch {origin}/hello")),
        ),
    ];
    for (name, frame) in &frames {
        let scope = FrameScope::of(frame);
        group.bench_function(*name, |b| {
            b.iter_custom(|iters| {
                rt.block_on(async {
                    let started = Instant::now();
                    for _ in 0..iters {
                        let run = plugin.handle(frame, SubscriptionKind::Callback, &scope);
                        std::hint::black_box(run.await.ok());
                    }
                    started.elapsed()
                })
            })
        });
    }
    let url = format!("{origin}/hello");
    for (name, client) in [
        ("plain reqwest, pooled connection", reqwest::Client::new()),
        (
            "plain reqwest, new connection each time",
            reqwest::Client::builder()
                .pool_max_idle_per_host(0)
                .build()
                .expect("client"),
        ),
    ] {
        group.bench_function(name, |b| {
            b.iter_custom(|iters| {
                rt.block_on(async {
                    let started = Instant::now();
                    for _ in 0..iters {
                        let body = client.get(&url).send().await.expect("get").bytes().await;
                        std::hint::black_box(body.ok());
                    }
                    started.elapsed()
                })
            })
        });
    }
    group.finish();
}

criterion_group!(benches, key_value, outbound);
criterion_main!(benches);
