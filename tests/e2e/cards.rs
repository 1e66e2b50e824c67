//! cardbot against the simulator: StandardCard send and update, media upload, the
//! access token (cached, single flight, renewed when DingTalk rejects it), fan-out
//! with calcbot, and failures told to the user.

use serde_json::{Value, json};
use sim::{MessageSpec, Sim};
use tests::{WAIT, host_for, plugin};

async fn start(sim: &Sim, plugins: &[&str]) -> host::RunningHost {
    tests::init_logging();
    let builder = plugins
        .iter()
        .fold(host_for(sim), |b, p| b.plugin(plugin(p)));
    tests::connect(builder, sim).await
}

#[tokio::test]
async fn cardbot_sends_a_card_then_updates_it_with_the_time_and_an_uploaded_image() {
    let sim = Sim::builder().start().await.unwrap();
    let host = start(&sim, &["cardbot"]).await;
    let pushed = sim
        .push_chatbot(MessageSpec::text("card please").from("u-7", "Bob"))
        .await
        .unwrap();
    let cards = sim.wait_cards(2, WAIT).await;
    assert_eq!(cards.len(), 2, "{cards:?}");
    let (sent, updated) = (&cards[0], &cards[1]);
    assert_eq!(
        (sent.action.as_str(), updated.action.as_str()),
        ("send", "update")
    );
    assert_eq!(sent.biz_id, updated.biz_id);
    assert_eq!(sent.receiver, json!({"userId": "u-7"}));
    assert_eq!(sent.card["header"]["title"]["text"], "钉钉卡片");
    let text = updated.card["contents"][0]["text"].as_str().unwrap();
    assert!(
        text.starts_with("钉钉，让进步发生！\n 更新时间："),
        "{text}"
    );
    assert_ne!(text, sent.card["contents"][0]["text"].as_str().unwrap());
    let media = sim.media();
    assert_eq!(media.len(), 1);
    assert_eq!(
        (media[0].kind.as_str(), media[0].filename.as_str()),
        ("image", "image.png")
    );
    assert_eq!(
        updated.card["contents"][1]["image"],
        Value::from(media[0].media_id.clone())
    );
    assert_eq!(
        sim.wait_ack(&pushed.message_id, WAIT).await.unwrap().code,
        200
    );
    host.shutdown().await;
    sim.shutdown().await;
}

#[tokio::test]
async fn a_group_message_gets_its_card_in_the_group() {
    let sim = Sim::builder().start().await.unwrap();
    let host = start(&sim, &["cardbot"]).await;
    let pushed = sim
        .push_chatbot(MessageSpec::text("hi").in_group("g"))
        .await
        .unwrap();
    let cards = sim.wait_cards(1, WAIT).await;
    assert_eq!(
        cards[0].receiver,
        json!({"openConversationId": pushed.data["conversationId"]})
    );
    assert_eq!(
        sim.wait_ack(&pushed.message_id, WAIT).await.unwrap().code,
        200
    );
    host.shutdown().await;
    sim.shutdown().await;
}

#[tokio::test]
async fn one_token_serves_concurrent_calls_and_a_rejected_token_is_renewed_once() {
    let sim = Sim::builder().start().await.unwrap();
    let host = start(&sim, &["cardbot"]).await;
    let mut pushed = Vec::new();
    for i in 0..8 {
        pushed.push(
            sim.push_chatbot(MessageSpec::text(&format!("m{i}")))
                .await
                .unwrap(),
        );
    }
    for p in &pushed {
        assert_eq!(sim.wait_ack(&p.message_id, WAIT).await.unwrap().code, 200);
    }
    assert_eq!(sim.cards().len(), 16);
    assert_eq!(
        sim.token_fetches(),
        1,
        "eight concurrent messages must share one token fetch"
    );
    sim.expire_tokens();
    let again = sim
        .push_chatbot(MessageSpec::text("after revocation"))
        .await
        .unwrap();
    assert_eq!(
        sim.wait_ack(&again.message_id, WAIT).await.unwrap().code,
        200
    );
    assert_eq!(sim.cards().len(), 18);
    assert_eq!(
        sim.token_fetches(),
        2,
        "the rejected token is dropped and fetched again once"
    );
    host.shutdown().await;
    sim.shutdown().await;
}

#[tokio::test]
async fn calcbot_and_cardbot_both_get_every_message() {
    let sim = Sim::builder().start().await.unwrap();
    let host = start(&sim, &["calcbot", "cardbot"]).await;
    let pushed = sim.push_chatbot(MessageSpec::text("6*7")).await.unwrap();
    let replies = sim.wait_replies(&pushed.session, 1, WAIT).await;
    assert_eq!(replies[0].text(), Some("Q: 6*7\nA: 42"));
    assert_eq!(sim.wait_cards(2, WAIT).await.len(), 2);
    assert_eq!(
        sim.wait_ack(&pushed.message_id, WAIT).await.unwrap().code,
        200
    );
    assert_eq!(
        sim.opens()[0].subscriptions.len(),
        1,
        "one subscription for the shared topic"
    );
    host.shutdown().await;
    sim.shutdown().await;
}

#[tokio::test]
async fn a_failing_card_step_is_told_to_the_user_and_fails_the_frame() {
    tests::init_logging();
    let sim = Sim::builder().start().await.unwrap();
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let dead = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    let host = tests::connect(
        host_for(&sim)
            .endpoints(host::config::Endpoints {
                openapi: sim.url(),
                oapi: dead,
            })
            .plugin(plugin("cardbot")),
        &sim,
    )
    .await;
    let pushed = sim.push_chatbot(MessageSpec::text("x")).await.unwrap();
    let replies = sim.wait_replies(&pushed.session, 1, WAIT).await;
    let text = replies[0].text().unwrap();
    assert!(
        text.starts_with("cardbot could not update its card:") && text.contains("media upload"),
        "{text}"
    );
    let ack = sim.wait_ack(&pushed.message_id, WAIT).await.unwrap();
    assert_eq!(ack.code, 500);
    assert!(ack.message.contains("media upload"), "{}", ack.message);
    host.shutdown().await;
    sim.shutdown().await;
}

#[tokio::test]
async fn the_token_is_refreshed_before_it_expires() {
    let sim = Sim::builder()
        .token_ttl(std::time::Duration::from_secs(2))
        .start()
        .await
        .unwrap();
    let host = start(&sim, &["cardbot"]).await;
    let first = sim.push_chatbot(MessageSpec::text("one")).await.unwrap();
    assert_eq!(
        sim.wait_ack(&first.message_id, WAIT).await.unwrap().code,
        200
    );
    assert_eq!(sim.token_fetches(), 1);
    // cardbot's own one-second sleep plus this wait pass 80% of the 2 s lifetime.
    tokio::time::sleep(std::time::Duration::from_millis(700)).await;
    let second = sim.push_chatbot(MessageSpec::text("two")).await.unwrap();
    assert_eq!(
        sim.wait_ack(&second.message_id, WAIT).await.unwrap().code,
        200
    );
    assert_eq!(
        sim.token_fetches(),
        2,
        "a token past 80% of its life is replaced before use"
    );
    host.shutdown().await;
    sim.shutdown().await;
}
