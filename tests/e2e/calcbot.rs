//! calcbot answers through the session webhook and every message is ACKed 200.

use serde_json::json;
use sim::MessageSpec;
use tests::{Env, WAIT};

async fn ask(env: &Env, spec: MessageSpec) -> (String, sim::AckRecord, serde_json::Value) {
    let pushed = env.sim.push_chatbot(spec).await.expect("push");
    let replies = env.sim.wait_replies(&pushed.session, 1, WAIT).await;
    assert_eq!(replies.len(), 1, "expected one reply to {}", pushed.data);
    let ack = env
        .sim
        .wait_ack(&pushed.message_id, WAIT)
        .await
        .expect("ACK");
    let text = replies[0].text().expect("a text reply").to_owned();
    (text, ack, replies[0].body.clone())
}

#[tokio::test]
async fn arithmetic_is_answered_in_q_a_form_mentioning_the_sender_with_a_200_ack() {
    let env = Env::calcbot().await;
    for (question, answer) in [
        ("1+2*3", "Q: 1+2*3\nA: 7"),
        ("  7/2 ", "Q: 7/2\nA: 3.5"),
        ("2**10", "Q: 2**10\nA: 1024"),
        ("-7//2 + 10 % 4", "Q: -7//2 + 10 % 4\nA: -2"),
        ("(1.5 + 2.5) * -2", "Q: (1.5 + 2.5) * -2\nA: -8.0"),
    ] {
        let (text, ack, body) =
            ask(&env, MessageSpec::text(question).from("staff-42", "Alice")).await;
        assert_eq!(text, answer);
        assert_eq!(body["at"]["atUserIds"], json!(["staff-42"]));
        assert_eq!(ack.code, 200);
        assert_eq!(ack.data_json(), json!({"response": null}));
    }
    env.stop().await;
}

#[tokio::test]
async fn bad_expressions_get_an_error_answer_not_a_failure() {
    let env = Env::calcbot().await;
    for (question, answer) in [
        ("1/0", "Q: 1/0\nA: Error: division by zero"),
        ("1+", "Q: 1+\nA: Error: unexpected end of expression"),
        (
            "__import__('os')",
            "Q: __import__('os')\nA: Error: invalid character '_' at position 1",
        ),
    ] {
        let (text, ack, _) = ask(&env, MessageSpec::text(question)).await;
        assert_eq!(text, answer);
        assert_eq!(ack.code, 200);
    }
    env.stop().await;
}

#[tokio::test]
async fn every_non_text_msgtype_gets_a_polite_text_reply() {
    let env = Env::calcbot().await;
    for spec in [
        MessageSpec::picture(),
        MessageSpec::rich_text("1+1"),
        MessageSpec::audio("一加一"),
        MessageSpec::video(),
        MessageSpec::file("report.pdf"),
    ] {
        let (text, ack, _) = ask(&env, spec).await;
        assert!(text.contains("only do arithmetic on text"), "{text}");
        assert_eq!(ack.code, 200);
    }
    env.stop().await;
}

#[tokio::test]
async fn group_messages_are_answered_like_direct_ones() {
    let env = Env::calcbot().await;
    let (text, ack, _) = ask(&env, MessageSpec::text(" 6*7").in_group("测试群")).await;
    assert_eq!(text, "Q: 6*7\nA: 42");
    assert_eq!(ack.code, 200);
    env.stop().await;
}

#[tokio::test]
async fn many_messages_in_flight_are_all_answered_once() {
    let env = Env::calcbot().await;
    let mut pushed = Vec::new();
    for i in 0..200 {
        pushed.push((
            i,
            env.sim
                .push_chatbot(MessageSpec::text(&format!("{i}*2")))
                .await
                .expect("push"),
        ));
    }
    for (i, p) in &pushed {
        let replies = env.sim.wait_replies(&p.session, 1, WAIT).await;
        assert_eq!(replies.len(), 1);
        assert_eq!(
            replies[0].text(),
            Some(format!("Q: {i}*2\nA: {}", i * 2).as_str())
        );
        assert_eq!(
            env.sim
                .wait_ack(&p.message_id, WAIT)
                .await
                .expect("ACK")
                .code,
            200
        );
    }
    assert_eq!(env.sim.replies().len(), 200, "a reply was sent twice");
    env.stop().await;
}

#[tokio::test]
async fn a_reply_to_an_expired_webhook_fails_the_frame_with_the_reason() {
    let env = Env::with(sim::Sim::builder().webhook_ttl(std::time::Duration::ZERO)).await;
    let pushed = env
        .sim
        .push_chatbot(MessageSpec::text("1+1"))
        .await
        .expect("push");
    let ack = env
        .sim
        .wait_ack(&pushed.message_id, WAIT)
        .await
        .expect("ACK");
    assert_eq!(ack.code, 500);
    assert!(ack.message.contains("expired"), "{}", ack.message);
    assert!(env.sim.replies().is_empty());
    env.stop().await;
}

#[tokio::test]
async fn a_webhook_refused_by_dingtalk_fails_the_frame_with_its_code_and_message() {
    let env = Env::calcbot().await;
    env.sim.set_webhook_error(Some((300001, "robot not found")));
    let pushed = env
        .sim
        .push_chatbot(MessageSpec::text("1+1"))
        .await
        .expect("push");
    let ack = env
        .sim
        .wait_ack(&pushed.message_id, WAIT)
        .await
        .expect("ACK");
    assert_eq!(ack.code, 500);
    assert!(
        ack.message.contains("300001") && ack.message.contains("robot not found"),
        "{}",
        ack.message
    );
    env.stop().await;
}

/// A host serving `plugins`, calcbot taking its frames on receipt, whose replies the
/// simulator holds for two seconds; one message pushed and its ACK.
async fn held_reply_under_on_receipt(
    plugins: &[&str],
) -> (sim::Sim, host::RunningHost, sim::Pushed, sim::AckRecord) {
    tests::init_logging();
    let sim = sim::Sim::builder().start().await.expect("sim");
    let file: host::cli::ConfigFile =
        toml::from_str("[plugins.calcbot]\nack = \"on-receipt\"\n").expect("config");
    let builder = tests::host_for(&sim)
        .plugins(plugins.iter().map(|p| tests::plugin(p)))
        .plugin_configs(file.plugin_configs().expect("settings"));
    let host = tests::connect(builder, &sim).await;
    // The reply is held for two seconds: an ACK before then did not wait for it.
    sim.set_webhook_delay(std::time::Duration::from_secs(2));
    let pushed = sim
        .push_chatbot(MessageSpec::text("6*7"))
        .await
        .expect("push");
    let ack = sim.wait_ack(&pushed.message_id, WAIT).await.expect("ACK");
    (sim, host, pushed, ack)
}

#[tokio::test]
async fn a_plugin_taking_frames_on_receipt_is_acked_before_its_handler_has_answered() {
    let (sim, host, pushed, ack) = held_reply_under_on_receipt(&["calcbot"]).await;
    assert_eq!(ack.code, 200);
    assert_eq!(ack.data_json(), json!({"response": null}));
    assert!(sim.replies().is_empty(), "the ACK waited for the reply");
    // The handler still runs to the end.
    let replies = sim.wait_replies(&pushed.session, 1, WAIT).await;
    assert_eq!(replies[0].text(), Some("Q: 6*7\nA: 42"));
    // A value other than the two is refused, naming them.
    let wrong = toml::from_str::<host::cli::ConfigFile>("[plugins.calcbot]\nack = \"never\"\n")
        .expect_err("refused")
        .to_string();
    assert!(wrong.contains("on-receipt"), "{wrong}");
    host.shutdown().await;
    sim.shutdown().await;

    // A frame that also goes to a plugin without it (cardbot gets every message too)
    // keeps the default: its ACK waits for both handlers, the held reply included.
    let (sim, host, _, ack) = held_reply_under_on_receipt(&["calcbot", "cardbot"]).await;
    assert_eq!(ack.code, 200);
    assert!(
        !sim.replies().is_empty(),
        "ACKed before calcbot's reply was sent"
    );
    host.shutdown().await;
    sim.shutdown().await;
}
