//! Plugins written in Python: the SDK's own tests, pycalc held to calcbot's table of
//! answers (the same `plugins/calcbot/cases.json` the Rust calcbot's tests read) through
//! the real host and simulator, and pycalc staying quiet for what is not its own.

use sim::{MessageSpec, Sim};
use tests::{WAIT, connect, host_for, init_logging, python_plugin, python_unittests, workspace};

#[test]
fn the_python_sdk_and_pycalcs_evaluator_pass_their_unit_tests() {
    python_unittests(&workspace().join("plugin-sdk/python/tests"));
    python_unittests(&workspace().join("plugins/pycalc/tests"));
}

/// The reply to `text`, if any arrives within `wait`.
async fn reply(sim: &Sim, text: &str, wait: std::time::Duration) -> Option<String> {
    let pushed = sim
        .push_chatbot(MessageSpec::text(text))
        .await
        .expect("push");
    let ack = sim.wait_ack(&pushed.message_id, WAIT).await.expect("ACK");
    assert_eq!(ack.code, 200, "{ack:?}");
    sim.wait_replies(&pushed.session, 1, wait)
        .await
        .first()
        .and_then(|r| r.text().map(str::to_owned))
}

#[tokio::test]
async fn pycalc_gives_calcbots_answers_on_calcbots_table() {
    init_logging();
    let Some(pycalc) = python_plugin("pycalc") else {
        return;
    };
    let sim = Sim::builder().start().await.expect("sim");
    let host = connect(host_for(&sim).plugin(&pycalc), &sim).await;
    let mut wrong = Vec::new();
    for (input, want) in tests::calc_table() {
        let got = reply(&sim, &format!("py {input}"), WAIT).await;
        if got.as_deref() != Some(want.as_str()) {
            wrong.push(format!("{input:?}: got {got:?}, want {want:?}"));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    // Not its prefix: not its message.
    assert_eq!(
        reply(&sim, "1+1", std::time::Duration::from_millis(300)).await,
        None
    );
    host.shutdown().await;
    sim.shutdown().await;
}

#[tokio::test]
async fn a_hostile_python_plugin_is_contained_like_a_rust_one() {
    init_logging();
    let Some(hostile) = tests::python_fixture("pyhostile") else {
        return;
    };
    let target = tests::origin::Counter::start().await;
    let granted = tests::origin::Origin::start("unused").await;
    let mut configs = host::PluginConfigs::new();
    configs.insert(
        "pyhostile".into(),
        host::runtime::PluginSettings {
            grants: host::runtime::Grants::default()
                .with_http(&[granted.url()])
                .expect("a valid origin"),
            limits: host::runtime::LimitOverrides {
                cpu_budget: Some(std::time::Duration::from_millis(300)),
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
    let say = |text: &'static str| reply(&sim, text, WAIT);

    let fs = say("fs").await.expect("a reply");
    assert_eq!(fs.matches("refused:").count(), 2, "{fs}");
    assert_eq!(say("env").await.as_deref(), Some("env: []"));
    // The build-time warm-up ran the fixture's `hello` (its module state is in the
    // snapshot) and its host call was refused.
    assert_eq!(
        say("warmed").await.as_deref(),
        Some("warm-up: ran, a host call refused: WarmingUp")
    );
    let socket = say("socket").await.expect("a reply");
    assert!(socket.starts_with("refused:"), "{socket}");
    let url = format!("http://{}/", target.addr);
    let http = reply(&sim, &format!("http {url}"), WAIT)
        .await
        .expect("a reply");
    assert!(http.starts_with("refused:"), "{http}");
    // The SDK's client goes through the host: refused where not granted...
    let denied = reply(&sim, &format!("fetch {url}"), WAIT).await;
    assert_eq!(denied.as_deref(), Some("host error: denied"));
    assert_eq!(target.connections(), 0, "nothing reached the target");
    // ...and answered, streamed event by event, where it is.
    let fetched = reply(&sim, &format!("fetch {}/hello", granted.url()), WAIT).await;
    assert_eq!(
        fetched.as_deref(),
        Some("fetched: 200 hello from the origin")
    );
    let events = reply(&sim, &format!("sse {}/sse", granted.url()), WAIT).await;
    assert_eq!(events.as_deref(), Some("sse: event 0|event 1|event 2"));

    for (command, reason) in [
        ("loop", "CPU budget"),
        // The cap reaches Python as a MemoryError its runtime reports.
        ("memory", "MemoryError"),
        ("raise", "RuntimeError: on purpose"),
    ] {
        let pushed = sim
            .push_chatbot(MessageSpec::text(command))
            .await
            .expect("push");
        let ack = sim.wait_ack(&pushed.message_id, WAIT).await.expect("ACK");
        assert_eq!(ack.code, 500, "{command}: {ack:?}");
        assert!(ack.message.contains(reason), "{command}: {}", ack.message);
    }
    // Still serving, each frame in a fresh instance.
    assert_eq!(say("env").await.as_deref(), Some("env: []"));
    host.shutdown().await;
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn pycalc_passes_its_conversation_tests() {
    init_logging();
    let Some(pycalc) = python_plugin("pycalc") else {
        return;
    };
    let tests = workspace().join("plugins/pycalc/tests/calc.toml");
    let scratch = workspace()
        .join("target")
        .join(format!("conversations-pycalc-{}", std::process::id()));
    host::cli::test::conversations(&pycalc, &[tests], &Default::default(), &scratch)
        .await
        .unwrap();
    let _ = std::fs::remove_dir_all(scratch);
}
