//! At-least-once delivery: a frame DingTalk pushes again, by the same messageId or
//! the same msgId, is ACKed again but handled once.

use std::time::Duration;

use serde_json::{Value, json};
use sim::MessageSpec;
use tests::{Env, WAIT};

fn frame(message_id: &str, data: &Value) -> String {
    json!({
        "specVersion": "1.0",
        "type": "CALLBACK",
        "headers": {"topic": sim::CHATBOT_TOPIC, "messageId": message_id, "contentType": "application/json", "time": "1690362102194"},
        "data": data.to_string(),
    })
    .to_string()
}

#[tokio::test]
async fn a_re_pushed_message_is_acked_again_but_answered_once() {
    let env = Env::calcbot().await;
    let pushed = env
        .sim
        .push_chatbot(MessageSpec::text("2*21"))
        .await
        .unwrap();
    let first = env.sim.wait_ack(&pushed.message_id, WAIT).await.unwrap();
    assert_eq!(first.code, 200);
    // The same messageId again, then a new messageId carrying the same msgId.
    let again = env
        .sim
        .push_raw(&frame(&pushed.message_id, &pushed.data), None)
        .await;
    assert!(again.is_ok());
    env.sim
        .push_raw(&frame("repush-2", &pushed.data), Some("repush-2"))
        .await
        .unwrap();
    let second = env
        .sim
        .wait_ack("repush-2", WAIT)
        .await
        .expect("the re-push is ACKed");
    assert_eq!(
        (second.code, second.data_json()),
        (200, json!({"response": null}))
    );
    let acks_for_first = env
        .sim
        .acks()
        .iter()
        .filter(|a| a.message_id == pushed.message_id)
        .count();
    assert_eq!(
        acks_for_first, 2,
        "the same messageId is ACKed each time it arrives"
    );
    let replies = env
        .sim
        .wait_replies(&pushed.session, 2, Duration::from_millis(500))
        .await;
    assert_eq!(replies.len(), 1, "handled once: {replies:?}");
    env.stop().await;
}
