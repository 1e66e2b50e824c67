//! The API surface beyond replies, through the probe fixture on the delegate topic:
//! card instances, file download, proactive messages and the generic OpenAPI call,
//! with grants denied by default.

use std::collections::BTreeMap;

use host::runtime::Grants;
use host::runtime::PluginSettings;
use serde_json::{Value, json};
use sim::{MessageSpec, Sim};
use tests::{WAIT, fixture, host_for};

const DELEGATE: &str = "/v1.0/im/bot/messages/delegate";

async fn start(sim: &Sim, grants: Grants) -> host::RunningHost {
    tests::init_logging();
    let settings = PluginSettings {
        grants: grants
            .with_topics(&tests::probe_topic_list())
            .expect("topics"),
        ..Default::default()
    };
    let builder = host_for(sim)
        .plugin(fixture("probe"))
        .plugin_configs(BTreeMap::from([("probe".to_owned(), settings)]));
    tests::connect(builder, sim).await
}

/// Send `spec` on the delegate topic; return the probe's text answer.
async fn ask(sim: &Sim, spec: MessageSpec) -> String {
    let (session, data) = sim.chatbot_data(&spec);
    let id = sim.push_callback(DELEGATE, data).await.expect("push");
    let replies = sim.wait_replies(&session, 1, WAIT).await;
    assert_eq!(sim.wait_ack(&id, WAIT).await.expect("ACK").code, 200);
    replies
        .first()
        .and_then(|r| r.text())
        .expect("a reply")
        .to_owned()
}

#[tokio::test]
async fn card_instances_are_created_delivered_updated_and_streamed() {
    let sim = Sim::builder().start().await.unwrap();
    let host = start(&sim, Grants::default()).await;
    let answer = ask(&sim, MessageSpec::text("instance").from("u-9", "Eve")).await;
    assert!(answer.starts_with("ok: o-"), "{answer}");
    let cards = sim.cards();
    let actions: Vec<&str> = cards.iter().map(|c| c.action.as_str()).collect();
    assert_eq!(
        actions,
        [
            "instance.createAndDeliver",
            "instance.update",
            "instance.stream"
        ]
    );
    assert_eq!(
        cards[0].card,
        json!({"n": "1", "s": "x"}),
        "params travel as strings"
    );
    assert_eq!(cards[0].receiver, json!({"userId": "u-9"}));
    assert_eq!(
        cards[1].card,
        json!({"n": "1", "s": "y"}),
        "by-key update merges"
    );
    assert_eq!(
        cards[1].receiver,
        json!({"u1": {"cardParamMap": {"liked": "true"}}})
    );
    assert_eq!(cards[2].card["isFull"], true);
    assert_eq!(cards[2].card["content"], "hello");
    host.shutdown().await;
    sim.shutdown().await;
}

#[tokio::test]
async fn a_file_of_the_message_can_be_downloaded_but_no_other() {
    let sim = Sim::builder().start().await.unwrap();
    let host = start(&sim, Grants::default()).await;
    let answer = ask(&sim, MessageSpec::file("report.pdf")).await;
    assert_eq!(answer, "ok: sim file for sim-file-download-code");
    let denied = ask(&sim, MessageSpec::text("download sim-file-download-code")).await;
    assert!(
        denied.starts_with("error: denied: only files of the message being handled"),
        "{denied}"
    );
    host.shutdown().await;
    sim.shutdown().await;
}

#[tokio::test]
async fn proactive_messages_and_openapi_calls_are_denied_without_a_grant() {
    let sim = Sim::builder().start().await.unwrap();
    let host = start(&sim, Grants::default()).await;
    let proactive = ask(&sim, MessageSpec::text("proactive")).await;
    assert!(
        proactive.contains("not granted proactive messages"),
        "{proactive}"
    );
    let call = ask(&sim, MessageSpec::text("openapi /v1.0/sim/echo")).await;
    assert!(
        call.contains("not granted the OpenAPI path \"/v1.0/sim/echo\""),
        "{call}"
    );
    assert!(sim.cards().is_empty(), "nothing may reach DingTalk");
    host.shutdown().await;
    sim.shutdown().await;
}

#[tokio::test]
async fn granted_plugins_send_proactive_messages_and_call_granted_paths_only() {
    let sim = Sim::builder().start().await.unwrap();
    let grants = Grants::default()
        .with_openapi(&["/v1.0/sim/*".to_owned()])
        .unwrap()
        .with_proactive();
    let host = start(&sim, grants).await;
    let proactive = ask(&sim, MessageSpec::text("proactive")).await;
    assert!(proactive.starts_with("ok: pqk"), "{proactive}");
    let sent = sim.cards();
    assert_eq!(sent[0].action, "proactive.users");
    assert_eq!(
        (sent[0].card.clone(), sent[0].receiver.clone()),
        (json!({"content": "hi"}), json!(["u1"]))
    );
    let call = ask(&sim, MessageSpec::text("openapi /v1.0/sim/echo")).await;
    let answer: Value = serde_json::from_str(call.strip_prefix("ok: ").expect("ok")).unwrap();
    assert_eq!(answer, json!({"method": "POST", "body": {"a": 1}}));
    let outside = ask(&sim, MessageSpec::text("openapi /v1.0/oauth2/accessToken")).await;
    assert!(outside.contains("not granted"), "{outside}");
    host.shutdown().await;
    sim.shutdown().await;
}

#[tokio::test]
async fn action_cards_links_and_feed_cards_reach_the_webhook_in_dingtalk_form() {
    let sim = Sim::builder().start().await.unwrap();
    let host = start(&sim, Grants::default()).await;
    let (session, data) = sim.chatbot_data(&MessageSpec::text("replies"));
    sim.push_callback(DELEGATE, data).await.unwrap();
    let replies = sim.wait_replies(&session, 4, WAIT).await;
    let kinds: Vec<&str> = replies
        .iter()
        .filter_map(|r| r.body["msgtype"].as_str())
        .collect();
    assert_eq!(kinds, ["actionCard", "link", "feedCard", "text"]);
    assert_eq!(
        replies[0].body["actionCard"]["btns"][1]["actionURL"],
        "https://example.com/b"
    );
    assert_eq!(replies[0].body["actionCard"]["btnOrientation"], "0");
    assert_eq!(replies[1].body["link"]["messageUrl"], "https://example.com");
    assert_eq!(
        replies[2].body["feedCard"]["links"][0]["picURL"],
        "@lADPmedia"
    );
    host.shutdown().await;
    sim.shutdown().await;
}
