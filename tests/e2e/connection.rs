//! The connection: open with the plugins' subscriptions, pings, disconnect,
//! socket drops, bad credentials.

use std::time::Duration;

use sim::{MessageSpec, Sim};
use tests::{Env, WAIT, host_for, plugin};

#[tokio::test]
async fn the_open_request_carries_exactly_the_plugins_subscriptions_ua_and_local_ip() {
    let env = Env::calcbot().await;
    let opens = env.sim.opens();
    assert_eq!(opens.len(), 1);
    let open = &opens[0];
    assert_eq!(open.status, 200);
    assert_eq!(
        open.subscriptions,
        [(
            "CALLBACK".to_owned(),
            "/v1.0/im/bot/messages/get".to_owned()
        )]
    );
    assert!(
        open.ua
            .as_deref()
            .is_some_and(|ua| ua.starts_with("dingtalk-wasm-host-rust/"))
    );
    assert_eq!(open.local_ip.as_deref(), Some("127.0.0.1"));
    env.stop().await;
}

#[tokio::test]
async fn a_system_ping_is_answered_with_the_same_opaque() {
    let env = Env::calcbot().await;
    let pings = env.sim.ping();
    assert_eq!(pings.len(), 1);
    let ack = env.sim.wait_ack(&pings[0], WAIT).await.expect("ping ACK");
    assert_eq!(ack.code, 200);
    assert_eq!(
        ack.opaque_ok,
        Some(true),
        "opaque not echoed: {:?}",
        ack.data
    );
    env.stop().await;
}

#[tokio::test]
async fn a_ping_is_answered_while_handlers_are_busy() {
    let env = Env::calcbot().await;
    env.sim.set_webhook_delay(Duration::from_millis(1500));
    let pushed = env
        .sim
        .push_chatbot(MessageSpec::text("1+1"))
        .await
        .expect("push");
    tokio::time::sleep(Duration::from_millis(100)).await;
    let ping = env.sim.ping().remove(0);
    let ping_ack = env.sim.wait_ack(&ping, WAIT).await.expect("ping ACK");
    assert!(
        env.sim
            .acks()
            .iter()
            .all(|a| a.message_id != pushed.message_id),
        "the busy message was ACKed before the ping, so the ping did not overtake it"
    );
    assert!(ping_ack.latency.expect("latency") < Duration::from_millis(1000));
    assert_eq!(
        env.sim
            .wait_ack(&pushed.message_id, WAIT)
            .await
            .expect("ACK")
            .code,
        200
    );
    env.stop().await;
}

#[tokio::test]
async fn disconnect_opens_a_new_connection_before_the_old_one_closes_and_loses_nothing() {
    let env = Env::with(Sim::builder().disconnect_grace(Duration::from_secs(5))).await;
    env.sim.set_webhook_delay(Duration::from_millis(500));
    let before = env
        .sim
        .push_chatbot(MessageSpec::text("1+1"))
        .await
        .expect("push");
    env.sim.disconnect();
    let after = env
        .sim
        .push_chatbot(MessageSpec::text("2+2"))
        .await
        .expect("push after disconnect");
    assert_ne!(
        before.connection, after.connection,
        "the second message must go to the new connection"
    );
    for (p, answer) in [(&before, "Q: 1+1\nA: 2"), (&after, "Q: 2+2\nA: 4")] {
        let replies = env.sim.wait_replies(&p.session, 1, WAIT).await;
        assert_eq!(replies.len(), 1);
        assert_eq!(replies[0].text(), Some(answer));
        let ack = env.sim.wait_ack(&p.message_id, WAIT).await.expect("ACK");
        assert_eq!(
            (ack.code, ack.connection),
            (200, p.connection),
            "ACK must come on the frame's connection"
        );
    }
    assert_eq!(
        env.sim.opens().len(),
        2,
        "a new ticket is fetched for the new connection"
    );
    let old = env
        .sim
        .wait_closed(before.connection, WAIT)
        .await
        .expect("old connection closed");
    let new = env
        .sim
        .connections()
        .into_iter()
        .find(|c| c.id == after.connection)
        .expect("new connection");
    assert!(new.open, "the new connection stays up");
    assert!(
        new.opened_at < old.closed_at.expect("closed"),
        "make-before-break: {old:?} {new:?}"
    );
    env.stop().await;
}

#[tokio::test]
async fn after_an_abrupt_socket_drop_the_host_reconnects_and_answers_the_next_message() {
    let env = Env::calcbot().await;
    env.sim.drop_connections();
    let pushed = env
        .sim
        .push_chatbot(MessageSpec::text("3*3"))
        .await
        .expect("push after reconnect");
    let replies = env.sim.wait_replies(&pushed.session, 1, WAIT).await;
    assert_eq!(replies[0].text(), Some("Q: 3*3\nA: 9"));
    assert_eq!(
        env.sim
            .wait_ack(&pushed.message_id, WAIT)
            .await
            .expect("ACK")
            .code,
        200
    );
    assert_eq!(env.sim.opens().len(), 2);
    env.stop().await;
}

#[tokio::test]
async fn bad_credentials_fail_start_with_an_error_naming_the_open_step() {
    tests::init_logging();
    let sim = Sim::builder().start().await.expect("sim");
    let host = host_for(&sim)
        .credentials(host::config::Credentials::new(
            sim.client_id(),
            "wrong-secret",
        ))
        .plugin(plugin("calcbot"))
        .build()
        .await
        .expect("load");
    let err = host.start().await.err().expect("start must fail");
    let text = err.to_string();
    assert!(text.contains("open connection failed"), "{text}");
    assert!(
        text.contains("401") && text.contains("authFailed"),
        "{text}"
    );
    assert!(!text.contains("wrong-secret"), "the secret leaked: {text}");
    assert!(
        sim.connections().is_empty(),
        "no socket may open with a refused secret"
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn a_half_dead_connection_is_replaced_within_the_pong_timeout() {
    tests::init_logging();
    let sim = Sim::builder().start().await.unwrap();
    let stream = host::stream::StreamConfig {
        keepalive_interval: Duration::from_millis(300),
        pong_timeout: Duration::from_millis(300),
        ..Default::default()
    };
    let host = tests::connect(
        host_for(&sim)
            .plugin(plugin("calcbot"))
            .stream_config(stream),
        &sim,
    )
    .await;
    sim.freeze_connections();
    let pushed = sim
        .push_chatbot(MessageSpec::text("4*4"))
        .await
        .expect("a replacement connection");
    assert_eq!(
        sim.wait_replies(&pushed.session, 1, WAIT).await[0].text(),
        Some("Q: 4*4\nA: 16")
    );
    assert_eq!(sim.opens().len(), 2);
    host.shutdown().await;
    sim.shutdown().await;
}

/// Drop the connection while the gateway refuses the next `refusals` opens with
/// `status`; return every open's status once the next message is answered.
async fn reconnect_through_refusals(
    refusals: usize,
    status: u16,
    stream: host::stream::StreamConfig,
) -> Vec<u16> {
    tests::init_logging();
    let sim = Sim::builder().start().await.expect("sim");
    let host = tests::connect(
        host_for(&sim)
            .plugin(plugin("calcbot"))
            .stream_config(stream),
        &sim,
    )
    .await;
    sim.refuse_opens(refusals, status);
    sim.drop_connections();
    let pushed = sim
        .push_chatbot(MessageSpec::text("1+1"))
        .await
        .expect("reconnected");
    assert_eq!(
        sim.wait_replies(&pushed.session, 1, WAIT).await[0].text(),
        Some("Q: 1+1\nA: 2")
    );
    let statuses = sim.opens().iter().map(|o| o.status).collect();
    host.shutdown().await;
    sim.shutdown().await;
    statuses
}

#[tokio::test]
async fn refused_opens_are_retried_with_backoff_until_the_gateway_recovers() {
    let stream = host::stream::StreamConfig {
        backoff_base: Duration::from_millis(50),
        ..Default::default()
    };
    assert_eq!(
        reconnect_through_refusals(3, 503, stream).await,
        [200, 503, 503, 503, 200]
    );
}

#[tokio::test]
async fn a_refused_secret_after_a_healthy_connection_is_retried_slowly_not_fatally() {
    let stream = host::stream::StreamConfig {
        backoff_base: Duration::from_millis(20),
        auth_retry: Duration::from_millis(400),
        ..Default::default()
    };
    assert_eq!(
        reconnect_through_refusals(2, 401, stream).await,
        [200, 401, 401, 200]
    );
}
