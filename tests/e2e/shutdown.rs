//! Graceful shutdown: stop taking frames, finish and ACK what is in flight, close.

use std::time::Duration;

use sim::MessageSpec;
use tests::{Env, WAIT};

#[tokio::test]
async fn shutdown_lets_in_flight_handlers_finish_and_acks_them() {
    let env = Env::calcbot().await;
    env.sim.set_webhook_delay(Duration::from_millis(800));
    let pushed = env
        .sim
        .push_chatbot(MessageSpec::text("8/4"))
        .await
        .expect("push");
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(
        env.sim.acks().is_empty(),
        "the handler should still be running"
    );
    let Env { sim, host } = env;
    host.shutdown().await;
    let ack = sim
        .wait_ack(&pushed.message_id, Duration::ZERO)
        .await
        .expect("ACKed before shutdown returned");
    assert_eq!(ack.code, 200);
    assert_eq!(
        sim.wait_replies(&pushed.session, 1, WAIT).await[0].text(),
        Some("Q: 8/4\nA: 2.0")
    );
    let conn = sim
        .wait_closed(pushed.connection, WAIT)
        .await
        .expect("socket closed");
    assert!(!conn.open);
    sim.shutdown().await;
}
