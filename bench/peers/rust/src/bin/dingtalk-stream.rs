//! calcbot on the crate `dingtalk-stream` 0.1.7, as its own calcbot example is written:
//! reply with its ChatbotReplier, then ACK. The crate reads DINGTALK_OPENAPI_ENDPOINT.

use async_trait::async_trait;
use dingtalk_stream::*;

struct CalcBot {
    replier: ChatbotReplier,
}

#[async_trait]
impl CallbackHandler for CalcBot {
    async fn process(&self, message: &messages::frames::MessageBody) -> (u16, String) {
        let data: serde_json::Value = serde_json::from_str(&message.data).unwrap_or_default();
        let incoming = ChatbotMessage::from_value(&data).unwrap_or_default();
        let expression = incoming
            .text
            .as_ref()
            .and_then(|t| t.content.as_deref())
            .unwrap_or("")
            .trim()
            .to_owned();
        let _ = self
            .replier
            .reply_text(&rust_peers::answer(&expression), &incoming)
            .await;
        (AckMessage::STATUS_OK, "OK".to_owned())
    }
}

fn main() {
    let credential = Credential::new(
        &std::env::var("DINGTALK_CLIENT_ID").expect("DINGTALK_CLIENT_ID"),
        &std::env::var("DINGTALK_CLIENT_SECRET").expect("DINGTALK_CLIENT_SECRET"),
    );
    let replier = DingTalkStreamClient::builder(credential.clone())
        .build()
        .chatbot_replier();
    let mut client = DingTalkStreamClient::builder(credential)
        .register_callback_handler(ChatbotMessage::TOPIC, CalcBot { replier })
        .build();
    client.start_forever().expect("client stopped");
}
