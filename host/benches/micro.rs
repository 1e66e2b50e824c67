//! Criterion micro-benchmarks of the per-frame path: decode, one frame through a
//! plugin (fresh or warm instance + handle + ACK encode) with and without host calls,
//! and a token cache hit.
//!
//! Run with `cargo bench -p host --bench micro`. Builds calcbot like the tests do; the
//! only traffic is to the simulator on 127.0.0.1.

// criterion_group! and criterion_main! generate undocumented public items.
#![allow(missing_docs)]

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use criterion::{Criterion, criterion_group, criterion_main};
use host::config::{Credentials, Endpoints};
use host::openapi::token::TokenCache;
use host::openapi::{Http, HttpConfig};
use host::runtime::{
    FrameScope, Instances, Plugin, PluginOutcome, PluginSettings, Runtime, RuntimeConfig, Services,
    SubscriptionKind, WarmPolicy,
};
use host::stream::{Ack, Frame, FrameType, frame};
use sim::{MessageSpec, Sim};
use tokio::runtime::Runtime as Tokio;

const TOPIC: &str = "/v1.0/im/bot/messages/get";

fn chatbot_frame(data: String) -> Frame {
    Frame {
        frame_type: FrameType::Callback,
        topic: TOPIC.into(),
        message_id: "bench".into(),
        headers: vec![("topic".into(), TOPIC.into())],
        data,
    }
}

/// What the dispatcher does per frame once routed: decode its scope, run the plugin,
/// encode the ACK.
async fn through(plugin: &Plugin, frame: &Frame) -> String {
    let scope = FrameScope::of(frame);
    let response = match plugin
        .handle(frame, SubscriptionKind::Callback, &scope)
        .await
    {
        Ok(PluginOutcome::Response(json)) => Some(json),
        _ => None,
    };
    Ack::callback(frame.message_id.as_str(), response.as_deref()).encode()
}

fn codec(c: &mut Criterion) {
    let text = include_str!("../../tests/fixtures/recorded/client_downstream_msg.json");
    c.bench_function("decode the recorded callback frame", |b| {
        b.iter(|| frame::decode(std::hint::black_box(text)))
    });
    c.bench_function("encode a callback ACK", |b| {
        b.iter(|| {
            Ack::callback(
                std::hint::black_box("bbb43a7_fc9_19ce26ebc01_2925aa2"),
                None,
            )
            .encode()
        })
    });
}

fn plugin(c: &mut Criterion) {
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("workspace");
    let built = host::cli::build::build_components(
        workspace,
        &["calcbot".into()],
        &workspace.join("plugins"),
    )
    .expect("build calcbot");
    let rt = Tokio::new().expect("tokio");
    let (sim, plugins) = rt.block_on(async {
        let sim = Sim::builder()
            .ping_interval(None)
            .start()
            .await
            .expect("sim");
        let http = Http::new(&HttpConfig::default()).expect("http");
        let runtime = Runtime::new(
            &RuntimeConfig::default(),
            Services::new(http, &Endpoints::default(), None),
        )
        .expect("runtime");
        // The same component twice: a fresh instance per frame, and warm ones.
        let mut plugins = Vec::new();
        for instances in [Instances::Fresh, Instances::Warm(WarmPolicy::default())] {
            let settings = PluginSettings {
                instances,
                ..Default::default()
            };
            let configs = BTreeMap::from([("calcbot".to_owned(), settings)]);
            let plugin = runtime
                .load(&built[0], &configs)
                .await
                .expect("load calcbot");
            plugins.push(Arc::new(plugin));
        }
        (sim, plugins)
    });
    let mut group = c.benchmark_group("one frame through calcbot");
    let frames = [
        // Not a chatbot message: the SDK rejects it before any import is called.
        ("no host call", chatbot_frame("{}".into())),
        // No session webhook: log + reply.text, which the host refuses without I/O.
        (
            "log + refused reply, no I/O",
            chatbot_frame(r#"{"msgtype":"text","text":{"content":"1+2*3"}}"#.into()),
        ),
        // The real thing: the reply goes to the simulator's webhook over loopback HTTP.
        (
            "reply over loopback HTTP",
            chatbot_frame(sim.chatbot_data(&MessageSpec::text("1+2*3")).1.to_string()),
        ),
    ];
    for ((name, frame), plugin) in frames
        .iter()
        .flat_map(|f| plugins.iter().map(move |p| (f, p)))
    {
        let mode = match plugin.instances() {
            Instances::Fresh => "fresh",
            Instances::Warm(_) => "warm",
        };
        let name = format!("{mode}: {name}");
        group.bench_function(name, |b| {
            b.iter_custom(|iters| {
                rt.block_on(async {
                    let started = Instant::now();
                    for _ in 0..iters {
                        std::hint::black_box(through(plugin, frame).await);
                    }
                    started.elapsed()
                })
            })
        });
    }
    group.finish();

    let http = Http::new(&HttpConfig::default()).expect("http");
    let endpoints = Endpoints {
        openapi: sim.url(),
        oapi: sim.url(),
    };
    let tokens = TokenCache::new(
        http,
        &endpoints,
        Credentials::new(sim.client_id(), sim.client_secret()),
    );
    rt.block_on(tokens.get()).expect("first token");
    c.bench_function("token cache hit", |b| {
        b.iter_custom(|iters| {
            rt.block_on(async {
                let started = Instant::now();
                for _ in 0..iters {
                    std::hint::black_box(tokens.get().await.ok());
                }
                started.elapsed()
            })
        })
    });
    rt.block_on(sim.shutdown());
}

/// What the dispatcher records per frame with `--admin`: the frame's outcome, the
/// plugin's time, one host call and the ACK time.
fn metrics(c: &mut Criterion) {
    let metrics = host::metrics::Metrics::enabled();
    let app = metrics.app("default");
    let topic = "/v1.0/im/bot/messages/get";
    c.bench_function("metrics recorded for one frame", |b| {
        b.iter(|| {
            app.frame("calcbot", topic, host::metrics::Outcome::Ok);
            app.handled("calcbot", std::time::Duration::from_micros(30));
            app.host_call("calcbot", "reply", host::metrics::CallResult::Ok);
            app.acked(std::time::Duration::from_micros(40));
        })
    });
}

criterion_group!(benches, codec, plugin, metrics);
criterion_main!(benches);
