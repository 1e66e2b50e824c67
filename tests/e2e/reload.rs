//! Hot reload: a plugin replaced while messages flow switches versions without a
//! frame lost; a broken, unsigned or held replacement keeps the old version; adding and removing a
//! plugin changes the subscriptions with a new connection before the old one closes.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::json;
use sim::{MessageSpec, Sim};
use tests::{WAIT, fixture, host_for, plugin, workspace};

fn scratch(name: &str) -> PathBuf {
    let dir = workspace()
        .join("target")
        .join(format!("reload-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("scratch dir");
    dir
}

/// Put `from` at `to` the way a build tool should: write aside, then rename.
fn install(from: &Path, to: &Path) {
    let tmp = to.with_extension("tmp");
    std::fs::copy(from, &tmp).expect("copy");
    std::fs::rename(&tmp, to).expect("rename");
}

#[tokio::test]
async fn a_plugin_replaced_while_messages_flow_switches_versions_without_losing_a_frame() {
    tests::init_logging();
    let dir = scratch("flow");
    install(&fixture("echo1"), &dir.join("echo.wasm"));
    let sim = Sim::builder().start().await.unwrap();
    let host = tests::connect(host_for(&sim).plugin(dir.join("*.wasm")), &sim).await;
    host.watch().unwrap();
    let mut pushed = Vec::new();
    for i in 0..80 {
        if i == 20 {
            install(&fixture("echo2"), &dir.join("echo.wasm"));
        }
        pushed.push(
            sim.push_chatbot(MessageSpec::text(&format!("m{i}")))
                .await
                .unwrap(),
        );
        tokio::time::sleep(Duration::from_millis(15)).await;
    }
    let mut versions = Vec::new();
    for (i, p) in pushed.iter().enumerate() {
        let replies = sim.wait_replies(&p.session, 1, WAIT).await;
        let text = replies
            .first()
            .and_then(|r| r.text())
            .expect("every message answered")
            .to_owned();
        assert!(text.ends_with(&format!(": m{i}")), "{text}");
        versions.push(text[..2].to_owned());
        assert_eq!(
            sim.wait_ack(&p.message_id, WAIT).await.expect("ACK").code,
            200
        );
    }
    let first_v2 = versions
        .iter()
        .position(|v| v == "v2")
        .expect("the new version took over");
    assert!(
        first_v2 >= 20 && versions[..first_v2].iter().all(|v| v == "v1"),
        "{versions:?}"
    );
    assert!(
        versions[first_v2..].iter().all(|v| v == "v2"),
        "never back to v1: {versions:?}"
    );
    assert_eq!(
        sim.opens().len(),
        1,
        "same subscriptions: no new connection"
    );
    host.shutdown().await;
    sim.shutdown().await;
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn a_broken_replacement_keeps_the_old_version_serving() {
    tests::init_logging();
    let dir = scratch("broken");
    install(&fixture("echo1"), &dir.join("echo.wasm"));
    let sim = Sim::builder().start().await.unwrap();
    let host = tests::connect(host_for(&sim).plugin(dir.join("echo.wasm")), &sim).await;
    let junk = dir.join("junk");
    std::fs::write(&junk, b"\0asm half written").unwrap();
    install(&junk, &dir.join("echo.wasm"));
    host.reload(false).await;
    let pushed = sim.push_chatbot(MessageSpec::text("still")).await.unwrap();
    assert_eq!(
        sim.wait_replies(&pushed.session, 1, WAIT).await[0].text(),
        Some("v1: still")
    );
    install(&fixture("echo2"), &dir.join("echo.wasm"));
    host.reload(false).await;
    let pushed = sim.push_chatbot(MessageSpec::text("fixed")).await.unwrap();
    assert_eq!(
        sim.wait_replies(&pushed.session, 1, WAIT).await[0].text(),
        Some("v2: fixed")
    );
    host.shutdown().await;
    sim.shutdown().await;
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn a_replacement_not_signed_by_the_publisher_keeps_the_old_version_serving() {
    use host::trust::{SigningKey, keygen, sign};
    tests::init_logging();
    let dir = scratch("signed");
    let acme = SigningKey::parse(&keygen().0).unwrap();
    let mallory = SigningKey::parse(&keygen().0).unwrap();
    let signed = |fixture_name: &str, key: Option<&SigningKey>, name: &str| {
        let bytes = std::fs::read(fixture(fixture_name)).unwrap();
        let bytes = match key {
            Some(k) => sign(&bytes, k).unwrap(),
            None => bytes,
        };
        let at = dir.join(name);
        std::fs::write(&at, bytes).unwrap();
        at
    };
    install(
        &signed("echo1", Some(&acme), "v1-acme"),
        &dir.join("echo.wasm"),
    );
    let mut configs = host::PluginConfigs::new();
    configs.insert(
        "echo".into(),
        host::runtime::PluginSettings {
            publisher: Some(host::runtime::Publisher {
                name: "acme".into(),
                keys: vec![acme.public().clone()].into(),
            }),
            ..Default::default()
        },
    );
    let sim = Sim::builder().start().await.unwrap();
    let host = tests::connect(
        host_for(&sim)
            .plugin(dir.join("echo.wasm"))
            .plugin_configs(configs),
        &sim,
    )
    .await;
    let answer = |text: &'static str| {
        let sim = &sim;
        async move {
            let pushed = sim.push_chatbot(MessageSpec::text(text)).await.unwrap();
            sim.wait_replies(&pushed.session, 1, WAIT).await[0]
                .text()
                .map(str::to_owned)
        }
    };
    // The attacker's moves: another key's signature, no signature.
    for (key, name) in [(Some(&mallory), "v2-mallory"), (None, "v2-unsigned")] {
        install(&signed("echo2", key, name), &dir.join("echo.wasm"));
        host.reload(false).await;
        assert_eq!(
            answer("still").await.as_deref(),
            Some("v1: still"),
            "{name}"
        );
    }
    install(
        &signed("echo2", Some(&acme), "v2-acme"),
        &dir.join("echo.wasm"),
    );
    host.reload(false).await;
    assert_eq!(answer("upgraded").await.as_deref(), Some("v2: upgraded"));
    host.shutdown().await;
    sim.shutdown().await;
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn an_upgrade_that_rolls_back_changes_key_or_asks_for_more_is_held_while_the_old_version_serves()
 {
    use host::trust::{SigningKey, keygen, sign};
    tests::init_logging();
    let dir = scratch("held");
    let first = SigningKey::parse(&keygen().0).unwrap();
    let second = SigningKey::parse(&keygen().0).unwrap();
    let put = |fixture_name: &str, key: &SigningKey| {
        let bytes = sign(&std::fs::read(fixture(fixture_name)).unwrap(), key).unwrap();
        let aside = dir.join(format!("{fixture_name}.signed"));
        std::fs::write(&aside, bytes).unwrap();
        install(&aside, &dir.join("echo.wasm"));
    };
    put("echo2", &first);
    let mut configs = host::PluginConfigs::new();
    configs.insert(
        "echo".into(),
        host::runtime::PluginSettings {
            // Both keys are the publisher's: a rotation still waits for the operator.
            publisher: Some(host::runtime::Publisher {
                name: "acme".into(),
                keys: vec![first.public().clone(), second.public().clone()].into(),
            }),
            ..Default::default()
        },
    );
    let sim = Sim::builder().start().await.unwrap();
    let host = tests::connect(
        host_for(&sim)
            .plugin(dir.join("echo.wasm"))
            .plugin_configs(configs),
        &sim,
    )
    .await;
    let answer = |text: &'static str| {
        let sim = &sim;
        async move {
            let pushed = sim.push_chatbot(MessageSpec::text(text)).await.unwrap();
            sim.wait_replies(&pushed.session, 1, WAIT).await[0]
                .text()
                .map(str::to_owned)
        }
    };
    // A valid old version replayed, the next version signed by the other key, and the
    // next version asking for an origin nobody granted.
    for (fixture_name, key, version, why) in [
        (
            "echo1",
            &first,
            "1.0.0",
            "lower than the serving version 2.0.0",
        ),
        (
            "echo3",
            &second,
            "3.0.0",
            "and the serving version by SHA256:",
        ),
        (
            "echo3",
            &first,
            "3.0.0",
            "requests more than it is granted: http: https://collector.example",
        ),
    ] {
        put(fixture_name, key);
        host.reload(false).await;
        assert_eq!(
            answer("still").await.as_deref(),
            Some("v2: still"),
            "{fixture_name} {why}"
        );
        let held = host.held("echo").expect("the upgrade is held");
        assert_eq!(held.version, version);
        assert!(held.reason.contains(why), "{}", held.reason);
    }
    // The same version again, by the same key and within the grant: no longer held.
    put("echo2", &first);
    host.reload(false).await;
    assert_eq!(host.held("echo"), None);
    assert_eq!(answer("again").await.as_deref(), Some("v2: again"));
    host.shutdown().await;
    sim.shutdown().await;
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn a_plugin_the_reloaded_deny_list_names_is_unloaded_and_its_frames_go_as_if_it_were_absent()
{
    use sha2::Digest as _;
    tests::init_logging();
    let dir = scratch("denied");
    install(&fixture("echo1"), &dir.join("echo.wasm"));
    let engine = host::runtime::Engine::new(&host::runtime::RuntimeConfig::default()).unwrap();
    let sim = Sim::builder().start().await.unwrap();
    let host = tests::connect(
        host_for(&sim)
            .engine(engine.clone())
            .plugin(dir.join("echo.wasm")),
        &sim,
    )
    .await;
    let pushed = sim.push_chatbot(MessageSpec::text("before")).await.unwrap();
    assert_eq!(sim.wait_replies(&pushed.session, 1, WAIT).await.len(), 1);
    // The operator denies its digest; the file itself never changes.
    let digest: String = sha2::Sha256::digest(std::fs::read(dir.join("echo.wasm")).unwrap())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    engine.set_trust(host::trust::Policy::new(false, &[format!("sha256:{digest}")]).unwrap());
    host.reload(false).await;
    assert!(host.plugin_names().is_empty(), "{:?}", host.plugin_names());
    let pushed = sim.push_chatbot(MessageSpec::text("after")).await.unwrap();
    let ack = sim.wait_ack(&pushed.message_id, WAIT).await.expect("ACKed");
    assert_eq!(ack.code, 404, "{ack:?}");
    assert!(
        sim.wait_replies(&pushed.session, 1, Duration::from_millis(300))
            .await
            .is_empty()
    );
    host.shutdown().await;
    sim.shutdown().await;
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn adding_and_removing_a_plugin_resubscribes_make_before_break() {
    tests::init_logging();
    let dir = scratch("set");
    install(&plugin("calcbot"), &dir.join("calcbot.wasm"));
    let sim = Sim::builder().start().await.unwrap();
    let settings = host::runtime::PluginSettings {
        grants: tests::probe_topics(),
        ..Default::default()
    };
    let builder =
        host_for(&sim)
            .plugin(dir.join("*.wasm"))
            .plugin_configs(std::collections::BTreeMap::from([(
                "probe".to_owned(),
                settings,
            )]));
    let host = tests::connect(builder, &sim).await;

    install(&fixture("probe"), &dir.join("probe.wasm"));
    host.reload(false).await;
    let event = sim
        .push_event("user_add_org", json!({}))
        .await
        .expect("a connection subscribed to events");
    assert_eq!(
        sim.wait_ack(&event, WAIT).await.unwrap().data_json()["status"],
        "SUCCESS"
    );
    let opens = sim.opens();
    assert_eq!(opens.len(), 2);
    assert_eq!(
        opens[1].subscriptions.len(),
        4,
        "{:?}",
        opens[1].subscriptions
    );
    let first = sim
        .wait_closed(1, WAIT)
        .await
        .expect("the old connection is retired");
    let second = sim.connections()[1].clone();
    assert!(
        second.opened_at < first.closed_at.unwrap(),
        "make-before-break"
    );

    std::fs::remove_file(dir.join("probe.wasm")).unwrap();
    host.reload(false).await;
    assert!(sim.wait_closed(2, WAIT).await.is_some());
    assert_eq!(
        sim.opens()[2].subscriptions,
        [("CALLBACK".to_owned(), sim::CHATBOT_TOPIC.to_owned())]
    );
    let pushed = sim.push_chatbot(MessageSpec::text("1+1")).await.unwrap();
    assert_eq!(
        sim.wait_replies(&pushed.session, 1, WAIT).await[0].text(),
        Some("Q: 1+1\nA: 2")
    );
    host.shutdown().await;
    sim.shutdown().await;
    let _ = std::fs::remove_dir_all(dir);
}
