//! Malformed frames are logged (and ACKed 400 when their messageId is readable);
//! the connection stays up and the next good message is answered.

use sim::MessageSpec;
use tests::{Env, WAIT};

#[tokio::test]
async fn malformed_frames_do_not_break_the_connection() {
    let env = Env::calcbot().await;
    let bad = [
        ("not json at all {", None),
        ("[1,2,3]", None),
        (r#"{"type":"CALLBACK","data":"{}"}"#, None),
        (
            r#"{"type":"CALLBACK","headers":{"topic":"/v1.0/im/bot/messages/get","messageId":"bad-num","time":1690362102194},"data":"{}"}"#,
            Some(("bad-num", "\"time\" is not a string")),
        ),
        (
            r#"{"type":"CALLBACK","headers":{"topic":"/v1.0/im/bot/messages/get","messageId":"bad-data"},"data":{"msgtype":"text"}}"#,
            Some(("bad-data", "data is not a string")),
        ),
        (
            r#"{"type":"MYSTERY","headers":{"topic":"/x","messageId":"bad-type"},"data":"{}"}"#,
            Some(("bad-type", "unknown frame type")),
        ),
        (
            r#"{"type":"CALLBACK","headers":{"topic":"/v1.0/im/bot/messages/get","messageId":"bad-json-data"},"data":"{not json"}"#,
            Some((
                "bad-json-data",
                "plugin calcbot returned an error: invalid argument: malformed chatbot message",
            )),
        ),
    ];
    for (text, expect) in &bad {
        env.sim
            .push_raw(text, expect.map(|(id, _)| id))
            .await
            .expect("push");
    }
    for (_, expect) in &bad {
        if let Some((id, reason)) = expect {
            let ack = env.sim.wait_ack(id, WAIT).await.expect("ACK");
            assert!(ack.code == 400 || ack.code == 500, "{ack:?}");
            assert!(ack.message.contains(reason), "{id}: {}", ack.message);
        }
    }
    let pushed = env
        .sim
        .push_chatbot(MessageSpec::text("5-3"))
        .await
        .expect("push");
    let replies = env.sim.wait_replies(&pushed.session, 1, WAIT).await;
    assert_eq!(replies[0].text(), Some("Q: 5-3\nA: 2"));
    assert_eq!(
        env.sim.opens().len(),
        1,
        "the connection must not have been replaced"
    );
    env.stop().await;
}

#[tokio::test]
async fn an_oversize_frame_costs_one_connection_and_the_next_message_is_answered() {
    tests::init_logging();
    let sim = sim::Sim::builder().start().await.unwrap();
    let stream = host::stream::StreamConfig {
        max_message_bytes: 64 << 10,
        ..Default::default()
    };
    let host = tests::connect(
        tests::host_for(&sim)
            .plugin(tests::plugin("calcbot"))
            .stream_config(stream),
        &sim,
    )
    .await;
    let huge = serde_json::json!({
        "specVersion": "1.0",
        "type": "CALLBACK",
        "headers": {"topic": sim::CHATBOT_TOPIC, "messageId": "huge", "contentType": "application/json"},
        "data": "x".repeat(100 << 10),
    });
    sim.push_raw(&huge.to_string(), None).await.unwrap();
    let pushed = sim.push_chatbot(MessageSpec::text("9-9")).await.unwrap();
    let replies = sim.wait_replies(&pushed.session, 1, WAIT).await;
    assert_eq!(replies[0].text(), Some("Q: 9-9\nA: 0"));
    host.shutdown().await;
    sim.shutdown().await;
}
