//! Key-value state: counts per conversation that survive a restart, a store per
//! plugin, both backends (the embedded file and a real Redis shared by replicas),
//! and a Redis outage that costs plugins a typed error, never the host.

use std::path::PathBuf;
use std::sync::Arc;

use host::kv::Backend;
use host::kv::embedded::Embedded;
use host::kv::redis::Redis;
use host::{HostBuilder, PluginConfigs, RunningHost};
use sim::{MessageSpec, Sim};
use tests::redis::RedisServer;
use tests::{DELEGATE, Logs, WAIT, connect, fixture, host_for, init_logging};

use crate::outbound::say;

fn state_dir(test: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("host-state-{test}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

fn embedded(dir: &std::path::Path) -> Arc<dyn Backend> {
    Arc::new(Embedded::open(&dir.join("kv.redb")).expect("open the embedded store"))
}

fn with_store(sim: &Sim, store: Arc<dyn Backend>) -> HostBuilder {
    host_for(sim).plugin(fixture("netprobe")).kv(store)
}

async fn count(sim: &Sim, spec: MessageSpec) -> String {
    say(sim, spec).await
}

async fn stop(host: RunningHost, sim: Sim) {
    host.shutdown().await;
    sim.shutdown().await;
}

#[tokio::test]
async fn messages_are_counted_per_conversation_across_a_restart() {
    init_logging();
    let dir = state_dir("restart");
    let sim = Sim::builder().start().await.expect("sim");
    let host = connect(with_store(&sim, embedded(&dir)), &sim).await;
    assert_eq!(count(&sim, MessageSpec::text("count")).await, "count=1");
    assert_eq!(count(&sim, MessageSpec::text("count")).await, "count=2");
    let group = MessageSpec::text("count").in_group("团队");
    assert_eq!(count(&sim, group).await, "count=1");
    stop(host, sim).await;

    let sim = Sim::builder().start().await.expect("sim");
    let host = connect(with_store(&sim, embedded(&dir)), &sim).await;
    assert_eq!(count(&sim, MessageSpec::text("count")).await, "count=3");
    stop(host, sim).await;
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn a_plugin_cannot_read_or_list_another_plugins_keys() {
    init_logging();
    let dir = state_dir("peer");
    let sim = Sim::builder().start().await.expect("sim");
    let mut configs = PluginConfigs::new();
    configs.insert(
        "kvpeer".into(),
        host::runtime::PluginSettings {
            grants: host::runtime::Grants::default()
                .with_topics(&[format!("CALLBACK {DELEGATE}")])
                .expect("topic"),
            ..Default::default()
        },
    );
    let builder = with_store(&sim, embedded(&dir))
        .plugin(fixture("kvpeer"))
        .plugin_configs(configs);
    let host = connect(builder, &sim).await;
    assert_eq!(
        say(&sim, MessageSpec::text("set secret top-secret")).await,
        "set"
    );
    assert_eq!(
        say(&sim, MessageSpec::text("get secret")).await,
        "value=top-secret"
    );

    // The peer names the key plainly, as the internal namespaced key, and with
    // separators that would climb out of a path-like namespace.
    let (session, data) = sim.chatbot_data(&MessageSpec::text(
        "get secret 7:default:8:netprobe:secret default/netprobe/secret ../netprobe/secret",
    ));
    let id = sim.push_callback(DELEGATE, data).await.expect("push");
    assert_eq!(sim.wait_ack(&id, WAIT).await.expect("ACK").code, 200);
    let replies = sim.wait_replies(&session, 1, WAIT).await;
    assert_eq!(replies[0].text(), Some("none none none none"));

    let (session, data) = sim.chatbot_data(&MessageSpec::text("list"));
    sim.push_callback(DELEGATE, data).await.expect("push");
    let replies = sim.wait_replies(&session, 1, WAIT).await;
    assert_eq!(replies[0].text(), Some("keys=[]"));
    stop(host, sim).await;
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn oversized_keys_and_too_many_operations_are_typed_errors() {
    init_logging();
    let dir = state_dir("limits");
    let sim = Sim::builder().start().await.expect("sim");
    let mut configs = PluginConfigs::new();
    configs.insert(
        "netprobe".into(),
        host::runtime::PluginSettings {
            limits: host::runtime::LimitOverrides {
                kv_ops: Some(5),
                ..Default::default()
            },
            ..Default::default()
        },
    );
    let host = connect(
        with_store(&sim, embedded(&dir)).plugin_configs(configs),
        &sim,
    )
    .await;
    let reply = say(
        &sim,
        MessageSpec::text(&format!("set {} v", "k".repeat(600))),
    )
    .await;
    assert_eq!(
        reply,
        "error: invalid argument: a key is 600 bytes; it must be 1 to 512"
    );
    let reply = say(&sim, MessageSpec::text("setn 10")).await;
    assert_eq!(
        reply,
        "error: limit: at most 5 key-value operations per frame"
    );
    assert_eq!(say(&sim, MessageSpec::text("setn 5")).await, "set 5");
    let refusals: Vec<String> = say(&sim, MessageSpec::text("kvabuse"))
        .await
        .split(" | ")
        .map(str::to_owned)
        .collect();
    assert_eq!(
        refusals,
        [
            "invalid argument: a page holds 1 to 1000 keys",
            "invalid argument: a page holds 1 to 1000 keys",
            "invalid argument: a prefix or cursor is at most 512 bytes",
            "invalid argument: 101 keys in one call; at most 100 are allowed",
            "invalid argument: a TTL must be at least 1 ms",
            "invalid argument: a key is 0 bytes; it must be 1 to 512",
        ]
    );
    stop(host, sim).await;
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn a_host_without_a_store_answers_unavailable() {
    init_logging();
    let sim = Sim::builder().start().await.expect("sim");
    let host = connect(host_for(&sim).plugin(fixture("netprobe")), &sim).await;
    let reply = say(&sim, MessageSpec::text("count")).await;
    assert!(reply.starts_with("error: unavailable"), "{reply}");
    stop(host, sim).await;
}

#[tokio::test]
async fn the_redis_store_passes_the_conformance_suite() {
    let Some(server) = RedisServer::start("redis_conformance") else {
        return;
    };
    let store = Redis::connect(&server.url()).expect("redis");
    host::kv::conformance::run(&store).await;
}

#[tokio::test]
async fn replicas_sharing_redis_count_as_one() {
    init_logging();
    let Some(server) = RedisServer::start("redis_replicas") else {
        return;
    };
    let store = || -> Arc<dyn Backend> { Arc::new(Redis::connect(&server.url()).expect("redis")) };
    let sim_a = Sim::builder().start().await.expect("sim");
    let sim_b = Sim::builder().start().await.expect("sim");
    let a = connect(with_store(&sim_a, store()), &sim_a).await;
    let b = connect(with_store(&sim_b, store()), &sim_b).await;
    assert_eq!(count(&sim_a, MessageSpec::text("count")).await, "count=1");
    assert_eq!(count(&sim_b, MessageSpec::text("count")).await, "count=2");
    assert_eq!(count(&sim_a, MessageSpec::text("count")).await, "count=3");
    stop(a, sim_a).await;
    stop(b, sim_b).await;
}

#[tokio::test]
async fn a_redis_outage_is_a_typed_error_and_the_host_keeps_serving() {
    init_logging();
    let Some(mut server) = RedisServer::start("redis_outage") else {
        return;
    };
    let logs = Logs::capture();
    let sim = Sim::builder().start().await.expect("sim");
    let store: Arc<dyn Backend> = Arc::new(Redis::connect(&server.url()).expect("redis"));
    let host = connect(with_store(&sim, store), &sim).await;
    assert_eq!(count(&sim, MessageSpec::text("count")).await, "count=1");
    server.stop();
    let reply = count(&sim, MessageSpec::text("count")).await;
    assert!(reply.starts_with("error: unavailable"), "{reply}");
    assert!(
        logs.text().contains("key-value store unavailable"),
        "{}",
        logs.text()
    );
    server.restart();
    let mut back = String::new();
    for _ in 0..50 {
        back = count(&sim, MessageSpec::text("count")).await;
        if back.starts_with("count=") {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    // The restarted server is empty, so counting starts again.
    assert_eq!(back, "count=1", "the host reconnects after the outage");
    stop(host, sim).await;
}
