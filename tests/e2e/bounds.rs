//! DingTalk calls are counted: a frame that floods its chat with replies or an AI card
//! with stream updates stops at the per-frame bound, a plugin that spreads its calls
//! over frames stops at its calls per second, each refusal is `limit` naming the
//! bound, `/metrics` counts it, and the frame is still ACKed.

use std::collections::BTreeMap;

use host::metrics::Metrics;
use host::runtime::LimitOverrides;
use sim::Sim;
use tests::{DELEGATE, Env, fixture, host_for};

async fn hostile(limits: LimitOverrides, metrics: &Metrics) -> Env {
    tests::init_logging();
    let sim = Sim::builder().start().await.expect("sim");
    let settings = tests::delegate_fixture_settings(limits);
    let builder = host_for(&sim)
        .plugin(fixture("hostile"))
        .plugin_configs(BTreeMap::from([("hostile".to_owned(), settings)]))
        .metrics(metrics.app("default"));
    let host = tests::connect(builder, &sim).await;
    Env { sim, host }
}

/// The flood's own report, from the ACK's `{"response": …}`.
fn report(ack: &sim::AckRecord) -> String {
    let data: serde_json::Value =
        serde_json::from_str(ack.data.as_deref().expect("ACK data")).expect("JSON ACK data");
    data["response"]
        .as_str()
        .expect("a text response")
        .to_owned()
}

fn refusals(metrics: &Metrics, capability: &str, bound: &str) -> String {
    let text = metrics.render().expect("enabled");
    let series = format!(
        "dingtalk_limit_refusals_total{{app=\"default\",plugin=\"hostile\",capability=\"{capability}\",bound=\"{bound}\"}}"
    );
    text.lines()
        .find_map(|l| l.strip_prefix(&series))
        .map(|n| n.trim().to_owned())
        .unwrap_or_else(|| panic!("no {series} in:\n{text}"))
}

#[tokio::test]
async fn one_frame_posting_500_replies_stops_at_the_default_ten() {
    let metrics = Metrics::enabled();
    let env = hostile(LimitOverrides::default(), &metrics).await;
    let (ack, _) = env.attack("reply-flood 500").await;
    assert_eq!(ack.code, 200, "{}", ack.message);
    assert_eq!(
        report(&ack),
        "sent 10 of 500: limit: at most 10 replies per frame"
    );
    let posted = env
        .sim
        .replies()
        .iter()
        .filter(|r| r.text().is_some_and(|t| t.starts_with("flood ")))
        .count();
    assert_eq!(posted, 10, "only the allowed replies reach the chat");
    assert_eq!(refusals(&metrics, "reply", "per_frame"), "1");

    // The next frame has its own allowance.
    let (ack, _) = env.attack("reply-flood 3").await;
    assert_eq!(report(&ack), "sent 3 of 3: ");
    env.stop().await;
}

#[tokio::test]
async fn an_ai_card_streamed_a_thousand_times_stops_at_the_configured_bound() {
    let metrics = Metrics::enabled();
    let limits = LimitOverrides {
        card_streams_per_frame: Some(40),
        ..Default::default()
    };
    let env = hostile(limits, &metrics).await;
    let (ack, _) = env.attack("stream-flood 1000").await;
    assert_eq!(ack.code, 200, "{}", ack.message);
    assert_eq!(
        report(&ack),
        "streamed 40 of 1000: limit: at most 40 card stream updates per frame"
    );
    let streamed = env
        .sim
        .cards()
        .iter()
        .filter(|c| c.action == "instance.stream")
        .count();
    assert_eq!(streamed, 40);
    assert_eq!(refusals(&metrics, "cards", "per_frame"), "1");
    env.stop().await;
}

#[tokio::test]
async fn calls_spread_over_frames_stop_at_the_plugins_calls_per_second() {
    let metrics = Metrics::enabled();
    let limits = LimitOverrides {
        replies_per_frame: Some(100),
        dingtalk_calls_per_second: Some(1),
        ..Default::default()
    };
    let env = hostile(limits, &metrics).await;
    let (ack, _) = env.attack("reply-flood 1").await;
    assert_eq!(report(&ack), "sent 1 of 1: ");
    // The next frame, well within the second, finds the plugin's bucket empty.
    let (ack, _) = env.attack("reply-flood 50").await;
    assert_eq!(
        report(&ack),
        "sent 0 of 50: limit: at most 1 DingTalk API calls per second for this plugin"
    );
    assert_eq!(refusals(&metrics, "reply", "per_second"), "1");
    env.stop().await;
}

#[tokio::test]
async fn a_file_declared_larger_than_the_plugin_may_hold_is_refused_unread() {
    let metrics = Metrics::enabled();
    let limits = LimitOverrides {
        memory_bytes: Some(16 << 20),
        ..Default::default()
    };
    let env = hostile(limits, &metrics).await;
    let (session, data) = env
        .sim
        .chatbot_data(&sim::MessageSpec::sized_file("download", 20 << 20));
    let id = env.sim.push_callback(DELEGATE, data).await.expect("push");
    let ack = env.sim.wait_ack(&id, tests::WAIT).await.expect("ACKed");
    assert_eq!(ack.code, 200, "{}", ack.message);
    let replies = env.sim.wait_replies(&session, 1, tests::WAIT).await;
    assert_eq!(
        replies.first().and_then(|r| r.text()),
        Some(
            "download failed: network: file download failed: unexpected answer: the file is larger than the 16777216 bytes allowed"
        ),
        "a download is cut at the memory limit even when the plugin asks for no limit"
    );
    env.stop().await;
}
