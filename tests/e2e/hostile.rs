//! Hostile plugins are contained: each attack ends that one frame with an error ACK
//! (or a refusal the plugin reports), and calcbot, loaded beside it, keeps answering.

use std::collections::BTreeMap;
use std::time::Duration;

use host::runtime::LimitOverrides;
use sim::{MessageSpec, Sim};
use tests::{Env, WAIT, fixture, host_for, plugin, refused};

async fn start() -> Env {
    start_with(host::dispatch::DispatchConfig::default()).await
}

async fn start_with(dispatch: host::dispatch::DispatchConfig) -> Env {
    tests::init_logging();
    let sim = Sim::builder().start().await.expect("sim");
    let settings = tests::delegate_fixture_settings(LimitOverrides {
        memory_bytes: Some(16 << 20),
        cpu_budget: Some(Duration::from_millis(200)),
        wall_timeout: Some(Duration::from_secs(3)),
        ..Default::default()
    });
    let builder = host_for(&sim)
        .plugin(plugin("calcbot"))
        .plugin(fixture("hostile"))
        .plugin_configs(BTreeMap::from([("hostile".to_owned(), settings)]))
        .dispatch_config(dispatch);
    let host = tests::connect(builder, &sim).await;
    Env { sim, host }
}

async fn calcbot_still_answers(env: &Env) {
    let pushed = env
        .sim
        .push_chatbot(MessageSpec::text("20+22"))
        .await
        .expect("push");
    let replies = env.sim.wait_replies(&pushed.session, 1, WAIT).await;
    assert_eq!(
        replies.first().and_then(|r| r.text()),
        Some("Q: 20+22\nA: 42")
    );
}

#[tokio::test]
async fn an_infinite_loop_is_interrupted_at_its_cpu_budget() {
    let env = start().await;
    let (ack, _) = env.attack("loop").await;
    assert_eq!(ack.code, 500);
    assert!(
        ack.message
            .contains("plugin hostile interrupted after using its CPU budget of 200ms"),
        "{}",
        ack.message
    );
    calcbot_still_answers(&env).await;
    env.stop().await;
}

#[tokio::test]
async fn a_loop_of_cheap_host_calls_is_still_interrupted_at_its_cpu_budget() {
    let env = start().await;
    let (ack, _) = env.attack("call-loop").await;
    assert_eq!(ack.code, 500);
    assert!(
        ack.message
            .contains("plugin hostile interrupted after using its CPU budget of 200ms"),
        "{}",
        ack.message
    );
    env.stop().await;
}

#[tokio::test]
async fn many_short_waits_cost_no_cpu_budget() {
    // 60 waits of 15 ms: each spans an epoch tick, which used to be charged as CPU
    // (60 ticks against a budget of 20).
    let env = start().await;
    let (ack, reply) = env.attack("naps 60").await;
    assert_eq!(ack.code, 200, "{}", ack.message);
    assert_eq!(reply.as_deref(), Some("napped 60 times"));
    env.stop().await;
}

#[tokio::test]
async fn a_memory_bomb_stops_at_its_memory_limit() {
    let env = start().await;
    let (ack, _) = env.attack("alloc").await;
    assert_eq!(ack.code, 500);
    assert!(
        ack.message
            .contains("plugin hostile exceeded its memory limit of 16777216 bytes"),
        "{}",
        ack.message
    );
    calcbot_still_answers(&env).await;
    env.stop().await;
}

#[tokio::test]
async fn a_panic_fails_the_frame_with_the_panic_message() {
    let env = start().await;
    let (ack, _) = env.attack("panic").await;
    assert_eq!(ack.code, 500);
    assert!(
        ack.message.contains("hostile panicked on purpose"),
        "{}",
        ack.message
    );
    calcbot_still_answers(&env).await;
    env.stop().await;
}

#[tokio::test]
async fn deep_recursion_traps_when_the_stack_runs_out() {
    let env = start().await;
    let (ack, _) = env.attack("recurse").await;
    assert_eq!(ack.code, 500);
    // Rust keeps its stack frames' data in linear memory, below its globals: the
    // overflow runs the stack pointer past address 0 and traps there.
    assert!(
        ack.message
            .contains("plugin hostile trapped: wasm trap: out of bounds memory access"),
        "{}",
        ack.message
    );
    calcbot_still_answers(&env).await;
    env.stop().await;
}

#[tokio::test]
async fn huge_replies_and_responses_are_refused_unsent() {
    let env = start().await;
    let (ack, _) = env.attack("huge-reply").await;
    assert_eq!(ack.code, 500);
    assert!(
        ack.message
            .contains("invalid argument: the reply's text is 8388608 bytes; at most 65536"),
        "{}",
        ack.message
    );
    let (ack, _) = env.attack("huge-response").await;
    assert_eq!(ack.code, 500);
    assert!(
        ack.message
            .contains("a callback response may be at most 65536"),
        "{}",
        ack.message
    );
    assert!(
        env.sim.replies().is_empty(),
        "nothing huge reached the webhook"
    );
    calcbot_still_answers(&env).await;
    env.stop().await;
}

#[tokio::test]
async fn files_environment_sockets_and_ungranted_apis_are_out_of_reach() {
    let env = start().await;
    let (_, fs) = env.attack("fs").await;
    assert!(
        fs.as_deref().is_some_and(|r| r.starts_with("fs refused")),
        "{fs:?}"
    );
    let (_, vars) = env.attack("env").await;
    assert_eq!(vars.as_deref(), Some("env vars: 0, args: 0"));
    let (_, socket) = env.attack(&format!("socket {}", env.sim.addr())).await;
    assert!(
        socket
            .as_deref()
            .is_some_and(|r| r.starts_with("socket refused")),
        "{socket:?}"
    );
    let (_, api) = env.attack("api").await;
    assert!(
        api.as_deref()
            .is_some_and(|r| r.contains("denied") && r.contains("not granted")),
        "{api:?}"
    );
    calcbot_still_answers(&env).await;
    env.stop().await;
}

#[tokio::test]
async fn a_plugin_asking_for_an_ungranted_topic_is_refused_at_load() {
    let sim = Sim::builder().start().await.expect("sim");
    let text = refused(
        host_for(&sim)
            .plugin(plugin("calcbot"))
            .plugin(fixture("hostile")),
    )
    .await;
    assert!(
        text.contains(
            "(hostile) asks for CALLBACK /v1.0/im/bot/messages/delegate, which it is not granted"
        ),
        "{text}"
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn a_plugin_that_keeps_failing_is_quarantined_then_comes_back_by_itself() {
    let dispatch = host::dispatch::DispatchConfig {
        quarantine: host::dispatch::quarantine::QuarantineConfig {
            after: 2,
            base: Duration::from_millis(700),
            ..Default::default()
        },
        ..Default::default()
    };
    let env = start_with(dispatch).await;
    for _ in 0..2 {
        let (ack, _) = env.attack("panic").await;
        assert!(
            ack.message.contains("hostile panicked on purpose"),
            "{}",
            ack.message
        );
    }
    let (ack, _) = env.attack("panic").await;
    assert_eq!(ack.code, 500);
    assert!(
        ack.message
            .contains("plugin hostile is quarantined after repeated failures"),
        "{}",
        ack.message
    );
    calcbot_still_answers(&env).await;
    tokio::time::sleep(Duration::from_millis(800)).await;
    let (ack, _) = env.attack("panic").await;
    assert!(
        ack.message.contains("hostile panicked on purpose"),
        "back after the period: {}",
        ack.message
    );
    env.stop().await;
}
