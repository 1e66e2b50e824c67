//! Plugins written in TypeScript and JavaScript: the SDK's, todobot's and jscalc's own
//! tests, todobot keeping a list per conversation and jscalc held to calcbot's table
//! through the real host and simulator, and a
//! hostile JavaScript plugin contained like the Rust and Python ones (while `fetch`
//! and the SDK's `sse` reach an origin it is granted).

use std::sync::Arc;
use std::time::Duration;

use host::PluginConfigs;
use host::kv::embedded::Embedded;
use host::runtime::{Grants, LimitOverrides, PluginSettings};
use sim::{MessageSpec, Sim};
use tests::{WAIT, connect, host_for, init_logging, js_fixture, js_plugin, node_tests, workspace};

#[test]
fn the_js_sdk_and_todobots_logic_pass_their_unit_tests() {
    // The first JavaScript build installs the TypeScript the tests compile with.
    if js_plugin("todobot").is_none() {
        return;
    }
    node_tests(&workspace().join("plugin-sdk/js"));
    node_tests(&workspace().join("plugins/todobot"));
    let jscalc = std::process::Command::new("node")
        .current_dir(workspace().join("plugins/jscalc"))
        .args(["--test", "test/"])
        .output()
        .expect("run node --test");
    assert!(
        jscalc.status.success(),
        "{}",
        String::from_utf8_lossy(&jscalc.stdout)
    );
}

#[tokio::test]
async fn jscalc_gives_calcbots_answers_on_calcbots_table() {
    init_logging();
    let Some(jscalc) = js_plugin("jscalc") else {
        return;
    };
    let sim = Sim::builder().start().await.expect("sim");
    let host = connect(host_for(&sim).plugin(&jscalc), &sim).await;
    let mut wrong = Vec::new();
    for (input, want) in tests::calc_table() {
        let got = reply(&sim, MessageSpec::text(&format!("js {input}")), WAIT).await;
        if got.as_deref() != Some(want.as_str()) {
            wrong.push(format!("{input:?}: got {got:?}, want {want:?}"));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    // Not its prefix: not its message.
    assert_eq!(
        reply(&sim, MessageSpec::text("1+1"), Duration::from_millis(300)).await,
        None
    );
    host.shutdown().await;
    sim.shutdown().await;
}

/// The markdown or text of the reply to `spec`, if one arrives within `wait`.
async fn reply(sim: &Sim, spec: MessageSpec, wait: Duration) -> Option<String> {
    let pushed = sim.push_chatbot(spec).await.expect("push");
    let ack = sim.wait_ack(&pushed.message_id, WAIT).await.expect("ACK");
    assert_eq!(ack.code, 200, "{ack:?}");
    let replies = sim.wait_replies(&pushed.session, 1, wait).await;
    let body = &replies.first()?.body;
    body.pointer("/markdown/text")
        .or_else(|| body.pointer("/text/content"))
        .and_then(|t| t.as_str())
        .map(str::to_owned)
}

#[tokio::test]
async fn todobot_keeps_a_numbered_list_per_conversation() {
    init_logging();
    let Some(todobot) = js_plugin("todobot") else {
        return;
    };
    let dir = std::env::temp_dir().join(format!("host-todobot-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let store = Arc::new(Embedded::open(&dir.join("kv.redb")).expect("open the store"));
    let sim = Sim::builder().start().await.expect("sim");
    let host = connect(host_for(&sim).plugin(&todobot).kv(store), &sim).await;
    let say = |text: &str| reply(&sim, MessageSpec::text(text), WAIT);
    let in_group = |text: &str| reply(&sim, MessageSpec::text(text).in_group("团队"), WAIT);

    assert_eq!(
        say("todo add buy milk").await.as_deref(),
        Some("Added **1.** buy milk")
    );
    assert_eq!(
        say("todo add call Bob").await.as_deref(),
        Some("Added **2.** call Bob")
    );
    assert_eq!(
        in_group("todo list").await.as_deref(),
        Some("Nothing to do. Add one with `todo add <item>`."),
        "the group has a list of its own"
    );
    assert_eq!(
        in_group("todo add 周报").await.as_deref(),
        Some("Added **1.** 周报")
    );
    assert_eq!(
        say("todo list").await.as_deref(),
        Some("1. buy milk\n2. call Bob")
    );
    assert_eq!(
        say("todo done 1").await.as_deref(),
        Some("Done: ~~buy milk~~\n\n1. call Bob")
    );
    assert_eq!(
        say("todo done 5").await.as_deref(),
        Some("There is no item 5: the list has 1.")
    );
    let usage = say("todo undo").await.expect("the usage");
    assert!(usage.contains("`todo done <n>`"), "{usage}");
    assert_eq!(in_group("todo list").await.as_deref(), Some("1. 周报"));
    // Not its prefix: not its message.
    assert_eq!(
        reply(&sim, MessageSpec::text("6*7"), Duration::from_millis(300)).await,
        None
    );
    host.shutdown().await;
    sim.shutdown().await;
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn a_hostile_js_plugin_is_contained_like_a_rust_one() {
    init_logging();
    let Some(hostile) = js_fixture("jshostile") else {
        return;
    };
    let target = tests::origin::Counter::start().await;
    let granted = tests::origin::Origin::start("unused").await;
    let mut configs = PluginConfigs::new();
    configs.insert(
        "jshostile".into(),
        PluginSettings {
            grants: Grants::default()
                .with_http(&[granted.url()])
                .expect("a valid origin"),
            // Far apart, so a loaded machine cannot blur them: the CPU loop never
            // waits, the timer loop waits 50 ms between slivers of work. The wall
            // clock stays under the 5 s after which a callback is ACKed as accepted.
            limits: LimitOverrides {
                cpu_budget: Some(Duration::from_secs(1)),
                wall_timeout: Some(Duration::from_secs(4)),
                ..Default::default()
            },
            ..Default::default()
        },
    );
    let sim = Sim::builder().start().await.expect("sim");
    let host = connect(
        host_for(&sim).plugin(&hostile).plugin_configs(configs),
        &sim,
    )
    .await;
    let say = |text: String| reply(&sim, MessageSpec::text(&text), WAIT);

    let fs = say("fs".into()).await.expect("a reply");
    assert_eq!(fs.matches("refused:").count(), 2, "{fs}");
    assert_eq!(say("env".into()).await.as_deref(), Some("env: []"));
    // The build-time warm-up ran the fixture's `hello` (its module state is in the
    // snapshot) and its host call was refused.
    assert_eq!(
        say("warmed".into()).await.as_deref(),
        Some("warm-up: ran, a host call refused: WarmingUp")
    );
    let socket = say("socket".into()).await.expect("a reply");
    assert!(socket.starts_with("refused:"), "{socket}");
    let denied = say(format!("http http://{}/", target.addr))
        .await
        .expect("a reply");
    assert!(denied.starts_with("refused:"), "{denied}");
    assert_eq!(target.connections(), 0, "nothing reached the target");
    // What it is granted, fetch reaches, and a stream arrives event by event.
    assert_eq!(
        say(format!("http {}/hello", granted.url()))
            .await
            .as_deref(),
        Some("allowed: 200")
    );
    assert_eq!(
        say(format!("sse {}/sse", granted.url())).await.as_deref(),
        Some("sse: event 0|event 1|event 2")
    );

    for (command, reason) in [
        // No module loader at run time: the engine traps, the sandbox holds.
        ("import", "trapped"),
        ("loop", "CPU budget"),
        // Waiting between bits of work escapes the CPU budget, not the wall clock.
        ("timers", "timed out"),
        ("memory", "memory"),
        ("raise", "Error: on purpose"),
    ] {
        let pushed = sim
            .push_chatbot(MessageSpec::text(command))
            .await
            .expect("push");
        let ack = sim.wait_ack(&pushed.message_id, WAIT).await.expect("ACK");
        assert_eq!(ack.code, 500, "{command}: {ack:?}");
        assert!(ack.message.contains(reason), "{command}: {}", ack.message);
        // Still serving, each frame in a fresh instance (and never five failures in a
        // row, which would quarantine it).
        assert_eq!(say("env".into()).await.as_deref(), Some("env: []"));
    }
    host.shutdown().await;
    sim.shutdown().await;
}

#[test]
fn a_built_script_plugin_carries_its_projects_manifest_in_every_language() {
    for (name, built) in [
        ("jscalc", js_plugin("jscalc")),
        ("pycalc", tests::python_plugin("pycalc")),
    ] {
        let Some(path) = built else { continue };
        let bytes = std::fs::read(&path).expect("the component");
        let manifest = host::manifest::read(&bytes)
            .expect("a readable manifest")
            .expect("a manifest");
        assert_eq!(manifest.name, name);
        assert_eq!(manifest.version, "0.1.0");
        assert_eq!(manifest.publisher.as_deref(), Some("dingtalk-wasm-host"));
        assert!(manifest.description.is_some(), "{manifest:?}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn jscalc_and_todobot_pass_their_conversation_tests() {
    init_logging();
    for (name, file) in [("jscalc", "calc.toml"), ("todobot", "todo.toml")] {
        let Some(component) = js_plugin(name) else {
            return;
        };
        let tests = workspace()
            .join("plugins")
            .join(name)
            .join("tests")
            .join(file);
        let scratch = workspace()
            .join("target")
            .join(format!("conversations-{name}-{}", std::process::id()));
        host::cli::test::conversations(&component, &[tests], &Default::default(), &scratch)
            .await
            .unwrap_or_else(|e| panic!("{name}: {e:#}"));
        let _ = std::fs::remove_dir_all(scratch);
    }
}
