//! Warm instances (`instances = "warm"`): an instance serves several of its plugin's
//! frames, and only the module state survives. Each frame gets its own scope (an
//! earlier frame's webhook and download code are not its), its own CPU budget, and
//! the instance goes at once after a trap, a timeout, a refused memory growth, a
//! reload, or its idle time; after its N frames a new one starts.

use std::collections::BTreeMap;
use std::time::Duration;

use host::runtime::{Instances, LimitOverrides, PluginSettings, RuntimeConfig, WarmPolicy};
use sim::Sim;
use tests::{DELEGATE, Env, fixture, host_for};

async fn hostile(instances: Instances, limits: LimitOverrides) -> Env {
    hostile_on(instances, limits, RuntimeConfig::default()).await
}

async fn hostile_on(instances: Instances, limits: LimitOverrides, runtime: RuntimeConfig) -> Env {
    tests::init_logging();
    let sim = Sim::builder().start().await.expect("sim");
    let settings = PluginSettings {
        instances,
        ..tests::delegate_fixture_settings(limits)
    };
    let builder = host_for(&sim)
        .plugin(fixture("hostile"))
        .plugin_configs(BTreeMap::from([("hostile".to_owned(), settings)]))
        .runtime_config(runtime);
    let host = tests::connect(builder, &sim).await;
    Env { sim, host }
}

fn warm(frames: std::ops::RangeInclusive<u32>) -> Instances {
    Instances::Warm(WarmPolicy {
        frames,
        ..WarmPolicy::default()
    })
}

/// What the fixture's `count` answers, `n` frames in a row.
async fn counts(env: &Env, n: usize) -> Vec<String> {
    let mut seen = Vec::new();
    for _ in 0..n {
        let (ack, report) = env.attack("count").await;
        assert_eq!(ack.code, 200, "{}", ack.message);
        seen.push(report.expect("a reply"));
    }
    seen
}

fn frames(numbers: &[u32]) -> Vec<String> {
    numbers
        .iter()
        .map(|n| format!("frame {n} of this instance"))
        .collect()
}

#[tokio::test]
async fn a_warm_instance_keeps_its_module_state_for_n_frames_then_a_new_one_starts() {
    let env = hostile(warm(3..=3), LimitOverrides::default()).await;
    assert_eq!(counts(&env, 7).await, frames(&[1, 2, 3, 1, 2, 3, 1]));
    let plugin = &env.host.plugins()[0];
    assert_eq!(plugin.parked(), 1, "the instance waits for the next frame");
    env.stop().await;
}

#[tokio::test]
async fn a_fresh_plugin_starts_every_frame_from_nothing() {
    let env = hostile(Instances::Fresh, LimitOverrides::default()).await;
    assert_eq!(counts(&env, 3).await, frames(&[1, 1, 1]));
    assert_eq!(env.host.plugins()[0].parked(), 0);
    env.stop().await;
}

#[tokio::test]
async fn a_warm_instance_is_dropped_after_a_trap_a_timeout_or_its_memory_limit() {
    let limits = LimitOverrides {
        wall_timeout: Some(Duration::from_millis(500)),
        memory_bytes: Some(16 << 20),
        ..Default::default()
    };
    let env = hostile(warm(100..=100), limits).await;
    for attack in ["panic", "sleep 2000", "alloc"] {
        assert_eq!(counts(&env, 2).await, frames(&[1, 2]), "before {attack}");
        let (ack, _) = env.attack(attack).await;
        assert_eq!(ack.code, 500, "{attack} fails the frame: {}", ack.message);
        assert_eq!(
            env.host.plugins()[0].parked(),
            0,
            "nothing is parked after {attack}"
        );
    }
    assert_eq!(
        counts(&env, 1).await,
        frames(&[1]),
        "a new instance after alloc"
    );
    env.stop().await;
}

#[tokio::test]
async fn each_frame_of_a_warm_instance_gets_its_own_cpu_budget_and_a_runaway_one_is_dropped() {
    let limits = LimitOverrides {
        cpu_budget: Some(Duration::from_millis(300)),
        ..Default::default()
    };
    let env = hostile(warm(100..=100), limits).await;
    // Five frames of 120 ms: 600 ms in all, twice the budget of one frame.
    for n in 1..=5 {
        let (ack, report) = env.attack("burn 120").await;
        assert_eq!(ack.code, 200, "frame {n}: {}", ack.message);
        assert_eq!(
            report.as_deref(),
            Some(format!("burnt; frame {n} of this instance").as_str())
        );
    }
    let (ack, _) = env.attack("loop").await;
    assert_eq!(ack.code, 500);
    assert!(ack.message.contains("CPU budget"), "{}", ack.message);
    assert_eq!(counts(&env, 1).await, frames(&[1]));
    env.stop().await;
}

#[tokio::test]
async fn a_warm_instance_cannot_use_an_earlier_frames_webhook_or_download_code() {
    let env = hostile(warm(100..=100), LimitOverrides::default()).await;
    // The first frame carries a file, which its frame may download.
    let (first, data) = env
        .sim
        .chatbot_data(&sim::MessageSpec::file("download").in_group("first"));
    let id = env.sim.push_callback(DELEGATE, data).await.expect("push");
    let ack = env.sim.wait_ack(&id, tests::WAIT).await.expect("ACKed");
    assert_eq!(ack.code, 200, "{}", ack.message);
    let replies = env.sim.wait_replies(&first, 1, tests::WAIT).await;
    assert!(
        replies[0]
            .text()
            .is_some_and(|t| t.starts_with("downloaded ")),
        "{replies:?}"
    );

    // The same instance, a later frame: the code it kept is not this frame's, and its
    // reply goes to this frame's webhook only.
    let (ack, report) = env.attack("stale-download").await;
    assert_eq!(ack.code, 200, "{}", ack.message);
    assert_eq!(
        report.as_deref(),
        Some("download refused: denied: only files of the message being handled may be downloaded")
    );
    let (_, report) = env.attack("count").await;
    assert_eq!(report.as_deref(), Some("frame 3 of this instance"));
    assert_eq!(
        env.sim
            .wait_replies(&first, 2, Duration::from_millis(200))
            .await
            .len(),
        1,
        "later frames never reply through the first frame's webhook"
    );
    env.stop().await;
}

#[tokio::test]
async fn an_idle_warm_instance_is_dropped() {
    let instances = Instances::Warm(WarmPolicy {
        frames: 100..=100,
        idle: Duration::from_millis(300),
    });
    let env = hostile(instances, LimitOverrides::default()).await;
    assert_eq!(counts(&env, 2).await, frames(&[1, 2]));
    assert_eq!(env.host.plugins()[0].parked(), 1);
    // The sweeper drops it with no frame arriving.
    let deadline = tokio::time::Instant::now() + tests::WAIT;
    while env.host.plugins()[0].parked() > 0 {
        assert!(tokio::time::Instant::now() < deadline, "never dropped");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(counts(&env, 1).await, frames(&[1]));
    env.stop().await;
}

#[tokio::test]
async fn a_reload_drops_the_warm_instances_of_the_plugin_it_replaces() {
    let env = hostile(warm(100..=100), LimitOverrides::default()).await;
    assert_eq!(counts(&env, 2).await, frames(&[1, 2]));
    let old = env.host.plugins()[0].clone();
    assert_eq!(old.parked(), 1);
    env.host.reload(true).await;
    assert_eq!(old.parked(), 0, "the replaced plugin keeps no instance");
    assert_eq!(counts(&env, 1).await, frames(&[1]));
    env.stop().await;
}

#[tokio::test]
async fn a_warm_instance_reports_only_its_own_frames_stderr_and_is_dropped_once_stderr_fills() {
    let env = hostile(warm(100..=100), LimitOverrides::default()).await;
    let (_, report) = env.attack("stderr 100").await;
    assert_eq!(report.as_deref(), Some("wrote 100 bytes to stderr"));
    let (ack, _) = env.attack("panic").await;
    assert_eq!(ack.code, 500);
    assert!(
        ack.message.contains("hostile panicked on purpose"),
        "{}",
        ack.message
    );
    assert!(
        !ack.message.contains("xxx"),
        "an earlier frame's stderr: {}",
        ack.message
    );
    // Half the pipe written: no room left for a later frame's panic, so it goes.
    assert_eq!(counts(&env, 1).await, frames(&[1]));
    let (_, report) = env.attack("stderr 9000").await;
    assert_eq!(report.as_deref(), Some("wrote 9000 bytes to stderr"));
    assert_eq!(env.host.plugins()[0].parked(), 0);
    assert_eq!(counts(&env, 1).await, frames(&[1]));
    env.stop().await;
}

#[tokio::test]
async fn a_warm_plugin_runs_fresh_when_the_engine_has_no_parking_place_left() {
    // One instance slot in the engine's pool: half of it, nothing, may wait parked.
    let runtime = RuntimeConfig {
        max_instances: 1,
        ..RuntimeConfig::default()
    };
    let env = hostile_on(warm(100..=100), LimitOverrides::default(), runtime).await;
    assert_eq!(counts(&env, 3).await, frames(&[1, 1, 1]));
    assert_eq!(env.host.plugins()[0].parked(), 0);
    env.stop().await;
}
