//! Frames for topics no plugin subscribed to get a 404 ACK; the connection carries on.

use serde_json::json;
use sim::MessageSpec;
use tests::{Env, WAIT};

fn frame(kind: &str, topic: &str, id: &str) -> String {
    json!({
        "specVersion": "1.0",
        "type": kind,
        "headers": {"topic": topic, "messageId": id, "contentType": "application/json", "time": "1690362102194"},
        "data": "{}"
    })
    .to_string()
}

#[tokio::test]
async fn a_callback_topic_with_no_plugin_gets_404_and_the_next_message_is_answered() {
    let env = Env::calcbot().await;
    env.sim
        .push_raw(
            &frame("CALLBACK", "/v1.0/card/instances/callback", "nobody-1"),
            Some("nobody-1"),
        )
        .await
        .expect("push");
    env.sim
        .push_raw(&frame("EVENT", "*", "nobody-2"), Some("nobody-2"))
        .await
        .expect("push");
    for id in ["nobody-1", "nobody-2"] {
        let ack = env.sim.wait_ack(id, WAIT).await.expect("ACK");
        assert_eq!(ack.code, 404, "{ack:?}");
        assert!(
            ack.message.contains("no plugin subscribed"),
            "{}",
            ack.message
        );
    }
    let pushed = env
        .sim
        .push_chatbot(MessageSpec::text("1+1"))
        .await
        .expect("push");
    assert_eq!(
        env.sim.wait_replies(&pushed.session, 1, WAIT).await.len(),
        1
    );
    env.stop().await;
}
