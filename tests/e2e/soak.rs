//! Soak: thousands of chatbot messages while the simulator drops sockets, sends
//! disconnects, refuses opens, revokes tokens and slows webhooks. At the end every
//! message was ACKed, every reply arrived exactly once, and memory stayed bounded.
//! Bounded in time, loopback only; prints the counts.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use sim::{MessageSpec, Sim};
use tests::{host_for, plugin};

const MESSAGES: usize = 3000;
const IN_FLIGHT: usize = 64;
const DEADLINE: Duration = Duration::from_secs(240);

fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn thousands_of_messages_survive_a_hostile_network_answered_exactly_once() {
    tests::init_logging();
    let sim = Sim::builder()
        .disconnect_grace(Duration::from_millis(300))
        .redelivery(Duration::from_secs(2), 50)
        .ping_interval(Some(Duration::from_millis(500)))
        .start()
        .await
        .unwrap();
    let stream = host::stream::StreamConfig {
        backoff_base: Duration::from_millis(20),
        backoff_cap: Duration::from_millis(500),
        ..Default::default()
    };
    let host = tests::connect(
        host_for(&sim)
            .plugin(plugin("calcbot"))
            .stream_config(stream),
        &sim,
    )
    .await;

    let started = Instant::now();
    let mut sessions: HashMap<String, (String, usize)> = HashMap::new();
    let mut rss_warm = 0;
    let mut faults = 0usize;
    let mut next_fault = Instant::now();
    for i in 0..MESSAGES {
        if i == 300 {
            rss_warm = rss_kib();
        }
        if Instant::now() >= next_fault {
            next_fault = Instant::now() + Duration::from_millis(150);
            faults += 1;
            match faults % 5 {
                0 => sim.drop_connections(),
                1 => sim.disconnect(),
                2 => sim.refuse_opens(2, 503),
                3 => sim.expire_tokens(),
                _ => sim.set_webhook_delay(Duration::from_millis(if faults.is_multiple_of(2) {
                    30
                } else {
                    0
                })),
            }
        }
        while sessions.len() - sim.replies().len().min(sessions.len()) >= IN_FLIGHT {
            tokio::time::sleep(Duration::from_millis(2)).await;
            assert!(started.elapsed() < DEADLINE, "soak took too long");
        }
        let pushed = loop {
            match sim.push_chatbot(MessageSpec::text(&format!("{i}+1"))).await {
                Ok(p) => break p,
                Err(_) => assert!(started.elapsed() < DEADLINE, "no connection for too long"),
            }
        };
        sessions.insert(pushed.session, (pushed.message_id, i));
    }
    sim.set_webhook_delay(Duration::ZERO);

    // Everything answered and ACKed (redeliveries included) before the deadline.
    loop {
        let replies = sim.replies();
        let acked = sim.acked_ok();
        let answered: std::collections::HashSet<&str> =
            replies.iter().map(|r| r.session.as_str()).collect();
        let unanswered = sessions
            .keys()
            .filter(|s| !answered.contains(s.as_str()))
            .count();
        let unacked = sessions
            .values()
            .filter(|(id, _)| !acked.contains(id))
            .count();
        if unanswered == 0 && unacked == 0 {
            break;
        }
        assert!(
            started.elapsed() < DEADLINE,
            "{unanswered} unanswered, {unacked} un-ACKed after {:?}",
            started.elapsed()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let replies = sim.replies();
    let mut per_session: HashMap<&str, usize> = HashMap::new();
    for r in &replies {
        *per_session.entry(r.session.as_str()).or_default() += 1;
    }
    for (session, (_, i)) in &sessions {
        assert_eq!(
            per_session.get(session.as_str()),
            Some(&1),
            "message {i} answered {:?} times",
            per_session.get(session.as_str())
        );
    }
    for r in &replies {
        let (_, i) = &sessions[&r.session];
        assert_eq!(r.text(), Some(format!("Q: {i}+1\nA: {}", i + 1).as_str()));
    }
    let rss_end = rss_kib();
    println!(
        "soak: {MESSAGES} messages in {:?}; faults {faults}; opens {}; connections {}; ACKs {}; redeliveries {}; replies {}; RSS {} KiB after warm-up, {} KiB at the end",
        started.elapsed(),
        sim.opens().len(),
        sim.connections().len(),
        sim.acks().len(),
        sim.redeliveries(),
        replies.len(),
        rss_warm,
        rss_end
    );
    assert!(
        rss_end < rss_warm + 128 * 1024,
        "memory grew from {rss_warm} KiB to {rss_end} KiB"
    );
    host.shutdown().await;
    sim.shutdown().await;
}
