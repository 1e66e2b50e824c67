//! calcbot on the crate `dingtalk-stream-sdk` 0.2.5, as its hello example is written:
//! the reply goes through the session-webhook sender the crate hands the handler.
//!
//! The crate has hard-coded https://api.dingtalk.com URLs; bench/compare points it at
//! the simulator through a local TLS-terminating proxy (HTTPS_PROXY + SSL_CERT_FILE).

use std::sync::Arc;

use async_trait::async_trait;
use dingtalk_stream_sdk::frames::down_message::MessageTopic;
use dingtalk_stream_sdk::frames::down_message::callback_message::{
    CallbackMessage, MessageData, MessagePayload,
};
use dingtalk_stream_sdk::frames::up_message::MessageContent;
use dingtalk_stream_sdk::frames::up_message::callback_message::WebhookMessage;
use dingtalk_stream_sdk::handlers::{CallbackHandler, Error, ErrorCode, Resp};
use dingtalk_stream_sdk::{Credential, DingTalkStream, TOPIC_ROBOT};

struct CalcBot(MessageTopic);

#[async_trait]
impl CallbackHandler for CalcBot {
    async fn process(
        &self,
        _client: Arc<DingTalkStream>,
        message: &CallbackMessage,
        webhook: Option<tokio::sync::mpsc::Sender<WebhookMessage>>,
    ) -> Result<Resp, Error> {
        let Some(MessageData {
            payload: Some(MessagePayload::Text { text }),
            ..
        }) = &message.data
        else {
            return Err(Error {
                msg: "not a text message".into(),
                code: ErrorCode::BadRequest,
            });
        };
        let answer = rust_peers::answer(text.content.trim());
        if let Some(sender) = webhook {
            let _ = sender
                .send(WebhookMessage {
                    content: MessageContent::Text {
                        text: answer.into(),
                    },
                    at: Default::default(),
                    send_result_cb: None,
                })
                .await;
        }
        Ok(Resp::Text("OK".into()))
    }

    fn topic(&self) -> &MessageTopic {
        &self.0
    }
}

#[tokio::main]
async fn main() {
    let credential = Credential::new(
        std::env::var("DINGTALK_CLIENT_ID").expect("DINGTALK_CLIENT_ID"),
        std::env::var("DINGTALK_CLIENT_SECRET").expect("DINGTALK_CLIENT_SECRET"),
    );
    let handler = CalcBot(MessageTopic::Callback(TOPIC_ROBOT.to_string()));
    let (_client, running) = Arc::new(
        DingTalkStream::new(credential)
            .register_callback_handler(handler.into())
            .await,
    )
    .start()
    .await
    .expect("start");
    let _ = running.await;
}
