//! The simulator checks what DingTalk checks and sends what DingTalk sends, for any
//! client: these tests speak to it with plain HTTP and WebSocket clients.

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use sim::{MessageSpec, Sim};
use tokio_tungstenite::tungstenite::Message;

const WAIT: Duration = Duration::from_secs(5);

async fn open(sim: &Sim, body: Value) -> (u16, Value) {
    let r = reqwest::Client::new()
        .post(format!("{}/v1.0/gateway/connections/open", sim.url()))
        .json(&body)
        .send()
        .await
        .expect("open answer");
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

fn open_body(sim: &Sim, subs: Value) -> Value {
    json!({"clientId": sim.client_id(), "clientSecret": sim.client_secret(), "subscriptions": subs, "ua": "test/1"})
}

fn chatbot_subscription() -> Value {
    json!([{"type": "CALLBACK", "topic": sim::CHATBOT_TOPIC}])
}

async fn ticket_url(sim: &Sim, subs: Value) -> String {
    let (status, body) = open(sim, open_body(sim, subs)).await;
    assert_eq!(status, 200, "{body}");
    format!(
        "{}?ticket={}",
        body["endpoint"].as_str().expect("open answer"),
        body["ticket"].as_str().expect("open answer")
    )
}

#[tokio::test]
async fn a_wrong_secret_gets_401_auth_failed() {
    let sim = Sim::builder().start().await.unwrap();
    let (status, body) = open(&sim, json!({"clientId": sim.client_id(), "clientSecret": "nope", "subscriptions": chatbot_subscription()})).await;
    assert_eq!(status, 401);
    assert_eq!(body["code"], "authFailed");
    sim.shutdown().await;
}

#[tokio::test]
async fn an_open_without_subscriptions_is_refused() {
    let sim = Sim::builder().start().await.unwrap();
    let (status, body) = open(&sim, open_body(&sim, json!([]))).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (400, Some("invalidParameter"))
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn a_ticket_opens_exactly_one_connection() {
    let sim = Sim::builder().start().await.unwrap();
    let url = ticket_url(&sim, chatbot_subscription()).await;
    let (_first, _) = tokio_tungstenite::connect_async(&url)
        .await
        .expect("first use works");
    let second = tokio_tungstenite::connect_async(&url).await;
    match second {
        Err(tokio_tungstenite::tungstenite::Error::Http(r)) => assert_eq!(r.status().as_u16(), 401),
        other => panic!("a reused ticket must be refused, got {other:?}"),
    }
    let unknown =
        tokio_tungstenite::connect_async(format!("ws://{}/connect?ticket=made-up", sim.addr()))
            .await;
    assert!(
        matches!(unknown, Err(tokio_tungstenite::tungstenite::Error::Http(r)) if r.status() == 401)
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn pushed_frames_have_string_headers_and_a_string_data_and_acks_are_recorded() {
    let sim = Sim::builder().start().await.unwrap();
    let url = ticket_url(&sim, chatbot_subscription()).await;
    let (mut ws, _) = tokio_tungstenite::connect_async(&url).await.unwrap();
    let pushed = sim
        .push_chatbot(MessageSpec::text("hi").in_group("g"))
        .await
        .unwrap();
    let Some(Ok(Message::Text(text))) = ws.next().await else {
        panic!("no frame")
    };
    let frame: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(frame["type"], "CALLBACK");
    for (k, v) in frame["headers"].as_object().unwrap() {
        assert!(v.is_string(), "header {k} is not a string");
    }
    assert_eq!(frame["headers"]["messageId"], pushed.message_id.as_str());
    let data: Value =
        serde_json::from_str(frame["data"].as_str().expect("data is a string")).unwrap();
    assert_eq!(data["text"]["content"], "hi");
    assert_eq!(data["conversationType"], "2");
    assert!(
        data["sessionWebhook"]
            .as_str()
            .unwrap()
            .starts_with(&sim.url())
    );
    assert!(data["createAt"].is_i64() && data["sessionWebhookExpiredTime"].is_i64());
    let ack = json!({"code": 200, "headers": {"messageId": pushed.message_id, "contentType": "application/json"}, "message": "OK", "data": "{\"response\":null}"});
    ws.send(Message::Text(ack.to_string().into()))
        .await
        .unwrap();
    let got = sim
        .wait_ack(&pushed.message_id, WAIT)
        .await
        .expect("ACK recorded");
    assert_eq!(got.code, 200);
    assert!(got.latency.is_some());
    sim.shutdown().await;
}

#[tokio::test]
async fn a_ping_answered_without_the_opaque_is_recorded_as_wrong() {
    let sim = Sim::builder().start().await.unwrap();
    let url = ticket_url(&sim, chatbot_subscription()).await;
    let (mut ws, _) = tokio_tungstenite::connect_async(&url).await.unwrap();
    assert!(sim.wait_connections(1, WAIT).await);
    let id = sim.ping().remove(0);
    let Some(Ok(Message::Text(text))) = ws.next().await else {
        panic!("no ping")
    };
    let frame: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(
        (frame["type"].as_str(), frame["headers"]["topic"].as_str()),
        (Some("SYSTEM"), Some("ping"))
    );
    let ack = json!({"code": 200, "headers": {"messageId": id}, "message": "OK", "data": "{\"opaque\":\"wrong\"}"});
    ws.send(Message::Text(ack.to_string().into()))
        .await
        .unwrap();
    assert_eq!(
        sim.wait_ack(&id, WAIT).await.unwrap().opaque_ok,
        Some(false)
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn pushes_go_only_to_connections_subscribed_to_the_topic() {
    let sim = Sim::builder()
        .route_wait(Duration::from_millis(200))
        .start()
        .await
        .unwrap();
    let url = ticket_url(&sim, json!([{"type": "EVENT", "topic": "*"}])).await;
    let (_ws, _) = tokio_tungstenite::connect_async(&url).await.unwrap();
    assert!(sim.wait_connections(1, WAIT).await);
    assert!(sim.push_chatbot(MessageSpec::text("x")).await.is_err());
    assert!(
        sim.push_event("user_add_org", json!({"userId": ["u1"]}))
            .await
            .is_ok()
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn webhooks_accept_known_sessions_only_and_record_replies() {
    let sim = Sim::builder().start().await.unwrap();
    let (session, data) = sim.chatbot_data(&MessageSpec::text("q"));
    let client = reqwest::Client::new();
    let post = |url: String, body: Value| {
        let client = client.clone();
        async move {
            client
                .post(url)
                .json(&body)
                .send()
                .await
                .unwrap()
                .json::<Value>()
                .await
                .unwrap()
        }
    };
    let ok = post(
        data["sessionWebhook"].as_str().unwrap().to_owned(),
        json!({"msgtype": "text", "text": {"content": "a"}}),
    )
    .await;
    assert_eq!(ok["errcode"], 0);
    let bad = post(
        format!("{}/robot/sendBySession?session=nope", sim.url()),
        json!({"msgtype": "text", "text": {"content": "a"}}),
    )
    .await;
    assert_eq!(bad["errcode"], 300001);
    let replies = sim.wait_replies(&session, 1, WAIT).await;
    assert_eq!(replies[0].text(), Some("a"));
    sim.shutdown().await;
}
