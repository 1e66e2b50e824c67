//! Several plugins side by side: events and card callbacks are ACKed with the
//! plugin's outcome, config values reach the right plugin, failures become 500s with
//! their reason, and bad plugin files are refused at load naming the file.

use std::collections::BTreeMap;

use serde_json::{Value, json};
use sim::{MessageSpec, Sim};
use tests::{WAIT, fixture, host_for, plugin, refused};

const CARD_TOPIC: &str = "/v1.0/card/instances/callback";

async fn start() -> (Sim, host::RunningHost) {
    tests::init_logging();
    let sim = Sim::builder().start().await.expect("sim");
    let settings = host::runtime::PluginSettings {
        grants: tests::probe_topics().with_config("greeting", "hello"),
        ..Default::default()
    };
    let configs = BTreeMap::from([("probe".to_owned(), settings)]);
    let builder = host_for(&sim)
        .plugin(plugin("calcbot"))
        .plugin(fixture("probe"))
        .plugin_configs(configs);
    let host = tests::connect(builder, &sim).await;
    (sim, host)
}

#[tokio::test]
async fn the_connection_subscribes_to_the_union_of_all_plugins_topics() {
    let (sim, host) = start().await;
    let subs = &sim.opens()[0].subscriptions;
    let expected = [
        ("CALLBACK", CARD_TOPIC),
        ("CALLBACK", "/v1.0/im/bot/messages/delegate"),
        ("CALLBACK", "/v1.0/im/bot/messages/get"),
        ("EVENT", "*"),
    ];
    assert_eq!(subs.len(), 4, "{subs:?}");
    for (kind, topic) in expected {
        assert!(
            subs.iter().any(|(k, t)| k == kind && t == topic),
            "missing {kind} {topic} in {subs:?}"
        );
    }
    host.shutdown().await;
    sim.shutdown().await;
}

#[tokio::test]
async fn events_are_acked_success_or_later_and_failures_get_500() {
    let (sim, host) = start().await;
    let ok = sim
        .push_event("user_add_org", json!({"userId": ["u1"]}))
        .await
        .unwrap();
    let later = sim
        .push_event("user_add_org", json!({"later": true}))
        .await
        .unwrap();
    let failed = sim.push_event("fail_me", json!({})).await.unwrap();
    let ok = sim.wait_ack(&ok, WAIT).await.unwrap();
    assert_eq!(
        (ok.code, ok.data_json()["status"].as_str()),
        (200, Some("SUCCESS"))
    );
    let later = sim.wait_ack(&later, WAIT).await.unwrap();
    assert_eq!(
        later.data_json(),
        json!({"status": "LATER", "message": "try again later"})
    );
    let failed = sim.wait_ack(&failed, WAIT).await.unwrap();
    assert_eq!(failed.code, 500);
    assert!(
        failed.message.contains("asked to fail"),
        "{}",
        failed.message
    );
    host.shutdown().await;
    sim.shutdown().await;
}

#[tokio::test]
async fn an_event_cannot_reply_even_when_its_data_names_a_session_webhook() {
    let (sim, host) = start().await;
    // A real, live webhook of this simulator, planted in an event's data.
    let (session, message) = sim.chatbot_data(&MessageSpec::text("hello"));
    let webhook = message["sessionWebhook"].clone();
    let id = sim
        .push_event(
            "user_add_org",
            json!({"reply": true, "sessionWebhook": webhook}),
        )
        .await
        .unwrap();
    let ack = sim.wait_ack(&id, WAIT).await.unwrap();
    assert_eq!(ack.code, 500);
    assert!(
        ack.message
            .contains("denied: this frame carried no session webhook to reply to"),
        "{}",
        ack.message
    );
    assert!(
        sim.replies().iter().all(|r| r.session != session),
        "a reply reached the planted webhook"
    );
    host.shutdown().await;
    sim.shutdown().await;
}

#[tokio::test]
async fn a_card_callback_is_answered_with_the_plugins_response_and_its_own_config() {
    let (sim, host) = start().await;
    let id = sim
        .push_callback(CARD_TOPIC, json!({"value": "like", "outTrackId": "t1"}))
        .await
        .unwrap();
    let ack = sim.wait_ack(&id, WAIT).await.unwrap();
    assert_eq!(ack.code, 200);
    assert_eq!(
        ack.data_json(),
        json!({"response": {"cardData": {"cardParamMap": {"echo": "like", "greeting": "hello"}}}})
    );
    host.shutdown().await;
    sim.shutdown().await;
}

#[tokio::test]
async fn a_panicking_plugin_fails_only_that_frame_with_its_panic_message() {
    let (sim, host) = start().await;
    let id = sim
        .push_callback(CARD_TOPIC, json!({"value": "panic"}))
        .await
        .unwrap();
    let ack = sim.wait_ack(&id, WAIT).await.unwrap();
    assert_eq!(ack.code, 500);
    assert!(
        ack.message.contains("probe panicked on purpose"),
        "{}",
        ack.message
    );
    let again = sim
        .push_callback(CARD_TOPIC, json!({"value": "fine"}))
        .await
        .unwrap();
    let again = sim.wait_ack(&again, WAIT).await.unwrap();
    assert_eq!(
        again.data_json()["response"]["cardData"]["cardParamMap"]["echo"],
        Value::from("fine")
    );
    let pushed = sim.push_chatbot(MessageSpec::text("1+1")).await.unwrap();
    assert_eq!(
        sim.wait_replies(&pushed.session, 1, WAIT).await[0].text(),
        Some("Q: 1+1\nA: 2")
    );
    host.shutdown().await;
    sim.shutdown().await;
}

#[tokio::test]
async fn a_file_that_is_not_a_component_is_refused_at_load_naming_it() {
    let sim = Sim::builder().start().await.unwrap();
    let junk = std::env::temp_dir().join(format!("junk-{}.wasm", std::process::id()));
    std::fs::write(&junk, b"\0asm but not really").unwrap();
    let text = refused(host_for(&sim).plugin(&junk)).await;
    assert!(text.starts_with("plugin load failed"), "{text}");
    assert!(
        text.contains(&junk.display().to_string())
            && text.contains("not a valid WebAssembly component"),
        "{text}"
    );
    let _ = std::fs::remove_file(junk);
    sim.shutdown().await;
}

#[tokio::test]
async fn a_component_built_for_another_wit_version_is_refused_with_the_fix() {
    let sim = Sim::builder().start().await.unwrap();
    // calcbot as an SDK of the previous WIT package built it: every import named
    // `dingtalk:bot/<interface>@0.2.0` (the same length as the current version).
    let current = std::fs::read(plugin("calcbot")).unwrap();
    let old = replace_all(&current, b"dingtalk:bot/", b"@0.3.0", b"@0.2.0");
    assert_ne!(old, current, "calcbot imports dingtalk:bot interfaces");
    let dir = std::env::temp_dir().join(format!("old-wit-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("calcbot.wasm");
    std::fs::write(&path, &old).unwrap();
    let text = refused(host_for(&sim).plugin(&path)).await;
    assert!(
        text.contains("built for dingtalk:bot@0.2.0")
            && text.contains("this host serves dingtalk:bot@0.3.0")
            && text.contains("rebuild it"),
        "{text}"
    );
    let _ = std::fs::remove_dir_all(dir);
    sim.shutdown().await;
}

/// `bytes` with every `from` that follows `prefix` within 64 bytes replaced by `to`
/// (of the same length).
fn replace_all(bytes: &[u8], prefix: &[u8], from: &[u8], to: &[u8]) -> Vec<u8> {
    let mut out = bytes.to_vec();
    let mut i = 0;
    while let Some(at) = out[i..].windows(prefix.len()).position(|w| w == prefix) {
        let start = i + at + prefix.len();
        let end = (start + 64).min(out.len());
        if let Some(v) = out[start..end].windows(from.len()).position(|w| w == from) {
            out[start + v..start + v + from.len()].copy_from_slice(to);
        }
        i = start;
    }
    out
}
