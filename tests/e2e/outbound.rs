//! Outbound HTTP: granted origins only, address vetting on the resolved address, no
//! redirects followed, per-frame limits, streaming bodies, and secrets the host
//! injects but the plugin never sees. The netprobe fixture makes the requests.

use std::sync::Arc;

use host::egress::Egress;
use host::runtime::{Grants, LimitOverrides, PluginSettings};
use host::secrets::Secrets;
use host::{HostBuilder, PluginConfigs, RunningHost};
use serde_json::Value;
use sim::{MessageSpec, Sim};
use tests::origin::{Counter, FixedResolver, Origin, now_ms};
use tests::{Logs, WAIT, connect, fixture, host_for, init_logging, refused};

/// The secret the tests inject; it must never reach the plugin or a log line.
const SECRET: &str = "sk-test-7f3a9c-never-shown";

struct Net {
    sim: Sim,
    host: RunningHost,
}

impl Net {
    async fn start(grants: Grants, limits: LimitOverrides, egress: Egress) -> Self {
        init_logging();
        let sim = Sim::builder().start().await.expect("start sim");
        let host = connect(netprobe(&sim, grants, limits).egress(egress), &sim).await;
        Self { sim, host }
    }

    /// Send `text` as a chat message; the netprobe's reply.
    async fn say(&self, text: &str) -> String {
        say(&self.sim, MessageSpec::text(text)).await
    }

    async fn stop(self) {
        self.host.shutdown().await;
        self.sim.shutdown().await;
    }
}

fn netprobe(sim: &Sim, grants: Grants, limits: LimitOverrides) -> HostBuilder {
    let mut configs = PluginConfigs::new();
    configs.insert(
        "netprobe".into(),
        PluginSettings {
            grants,
            limits,
            ..Default::default()
        },
    );
    host_for(sim)
        .plugin(fixture("netprobe"))
        .plugin_configs(configs)
}

/// Push `spec`, wait for its 200 ACK and the plugin's one text reply.
pub async fn say(sim: &Sim, spec: MessageSpec) -> String {
    let pushed = sim.push_chatbot(spec).await.expect("push");
    let ack = sim.wait_ack(&pushed.message_id, WAIT).await.expect("ACK");
    assert_eq!(ack.code, 200, "{ack:?}");
    let replies = sim.wait_replies(&pushed.session, 1, WAIT).await;
    replies
        .first()
        .and_then(|r| r.text().map(str::to_owned))
        .expect("a text reply")
}

fn http(entries: &[String]) -> Grants {
    Grants::default().with_http(entries).expect("valid origins")
}

#[tokio::test]
async fn a_plugin_fetches_a_granted_origin_and_replies_with_the_body() {
    let origin = Origin::start(SECRET).await;
    let net = Net::start(
        http(&[origin.url()]),
        LimitOverrides::default(),
        Egress::default(),
    )
    .await;
    let reply = net.say(&format!("fetch {}/hello", origin.url())).await;
    assert_eq!(reply, "status=200 body=hello from the origin");
    net.stop().await;
}

#[tokio::test]
async fn an_ungranted_origin_is_refused_before_any_connection_and_logged_without_its_query() {
    let origin = Origin::start(SECRET).await;
    let other = Counter::start().await;
    let logs = Logs::capture();
    let net = Net::start(
        http(&[origin.url()]),
        LimitOverrides::default(),
        Egress::default(),
    )
    .await;
    for url in [
        format!("http://{}/x?token=query-secret", other.addr),
        // Same host, another port; another scheme; a look-alike host.
        format!("http://127.0.0.1:{}/hello", other.addr.port()),
        format!("https://{}/hello", origin.addr),
        format!("http://127.0.0.1.{}/hello", "nip.io"),
    ] {
        let reply = net.say(&format!("fetch {url}")).await;
        assert!(reply.starts_with("error: denied"), "{url}: {reply}");
    }
    assert_eq!(other.connections(), 0, "a refused request never connects");
    let log = logs.text();
    assert!(
        log.contains("outbound request denied") && log.contains("netprobe") && log.contains("GET"),
        "{log}"
    );
    assert!(log.contains(&format!("http://{}", other.addr)), "{log}");
    assert!(
        !log.contains("query-secret"),
        "the query never reaches the log: {log}"
    );
    net.stop().await;
}

#[tokio::test]
async fn a_name_that_resolves_to_internal_addresses_is_refused_whatever_the_spelling() {
    let target = Counter::start().await;
    let port = target.addr.port();
    // A rebinding name answers with loopback in every disguise; a plain internal name
    // points at a private range.
    let resolver = FixedResolver(vec![
        (
            "rebind.test".into(),
            ["127.0.0.1", "::ffff:127.0.0.1", "0.0.0.0", "::"]
                .iter()
                .map(|ip| ip.parse().expect("ip"))
                .collect(),
        ),
        (
            "intranet.test".into(),
            vec!["10.1.2.3".parse().expect("ip")],
        ),
    ]);
    let logs = Logs::capture();
    let net = Net::start(
        http(&[
            format!("http://rebind.test:{port}"),
            format!("http://intranet.test:{port}"),
        ]),
        LimitOverrides::default(),
        Egress::default().with_resolver(Arc::new(resolver)),
    )
    .await;
    for name in ["rebind.test", "intranet.test"] {
        let reply = net.say(&format!("fetch http://{name}:{port}/")).await;
        assert!(reply.contains("internal addresses"), "{name}: {reply}");
    }
    assert_eq!(
        target.connections(),
        0,
        "no internal address was connected to"
    );
    assert!(logs.text().contains("resolves only to internal addresses"));
    net.stop().await;
}

#[tokio::test]
async fn localhost_and_ip_literals_named_in_the_grant_may_reach_loopback() {
    let origin = Origin::start(SECRET).await;
    let port = origin.addr.port();
    let net = Net::start(
        http(&[format!("http://localhost:{port}")]),
        LimitOverrides::default(),
        Egress::default(),
    )
    .await;
    let reply = net
        .say(&format!("fetch http://localhost:{port}/hello"))
        .await;
    assert_eq!(reply, "status=200 body=hello from the origin");
    net.stop().await;
}

#[tokio::test]
async fn redirects_reach_the_plugin_unfollowed() {
    let origin = Origin::start(SECRET).await;
    let net = Net::start(
        http(&[origin.url()]),
        LimitOverrides::default(),
        Egress::default(),
    )
    .await;
    let reply = net.say(&format!("fetch {}/redirect", origin.url())).await;
    assert!(reply.starts_with("status=302"), "{reply}");
    assert_eq!(origin.seen.hits("/hello"), 0, "the host did not follow it");
    net.stop().await;
}

#[tokio::test]
async fn a_frame_gets_only_its_request_and_byte_budgets() {
    let origin = Origin::start(SECRET).await;
    let net = Net::start(
        http(&[origin.url()]),
        LimitOverrides {
            http_requests: Some(2),
            http_response_bytes: Some(1 << 20),
            ..LimitOverrides::default()
        },
        Egress::default(),
    )
    .await;
    let reply = net.say(&format!("fetchn 3 {}/hello", origin.url())).await;
    let parts: Vec<&str> = reply.split(" | ").collect();
    assert_eq!(&parts[..2], ["200", "200"], "{reply}");
    assert!(parts[2].contains("as many requests"), "{reply}");
    assert_eq!(origin.seen.hits("/hello"), 2);
    // The next frame has its own budget.
    let reply = net.say(&format!("fetch {}/hello", origin.url())).await;
    assert!(reply.starts_with("status=200"), "{reply}");
    let reply = net.say(&format!("fetch {}/big", origin.url())).await;
    assert!(reply.contains("exceeds limit: 1048576"), "{reply}");
    net.stop().await;
}

#[tokio::test]
async fn time_waiting_on_the_network_is_not_cpu() {
    let origin = Origin::start(SECRET).await;
    let net = Net::start(
        http(&[origin.url()]),
        LimitOverrides {
            cpu_budget: Some(std::time::Duration::from_millis(50)),
            ..LimitOverrides::default()
        },
        Egress::default(),
    )
    .await;
    let reply = net.say(&format!("fetch {}/slow", origin.url())).await;
    assert_eq!(reply, "status=200 body=slow answer");
    net.stop().await;
}

#[tokio::test]
async fn a_streamed_body_reaches_the_plugin_event_by_event() {
    let origin = Origin::start(SECRET).await;
    let net = Net::start(
        http(&[origin.url()]),
        LimitOverrides::default(),
        Egress::default(),
    )
    .await;
    let started = now_ms();
    let reply = net.say(&format!("sse {}/sse", origin.url())).await;
    let events: Vec<Value> = serde_json::from_str(&reply).expect(&reply);
    let data: Vec<&str> = events.iter().filter_map(|e| e["data"].as_str()).collect();
    assert_eq!(data, ["event 0", "event 1", "event 2"]);
    let sent = origin.seen.sse_sent_at.lock().expect("sent times").clone();
    let first_seen = events[0]["at"].as_u64().expect("time");
    assert!(started <= first_seen);
    assert!(
        first_seen < sent[2],
        "the first event arrived at {first_seen}, before the last was sent at {}",
        sent[2]
    );
    net.stop().await;
}

#[tokio::test]
async fn an_injected_secret_header_reaches_the_origin_but_never_the_plugin_or_the_log() {
    let origin = Origin::start(SECRET).await;
    let logs = Logs::capture_all();
    let section: toml::Table = toml::from_str(&format!(
        "http = [\"{0}\"]\n[http_headers.\"{0}\"]\nAuthorization = \"Bearer {{secret.llm_key}}\"\n",
        origin.url()
    ))
    .expect("toml");
    let grants = Grants::parse(&section).expect("grants");
    let net = Net::start(
        grants,
        LimitOverrides::default(),
        Egress::new(Secrets::default().with("llm_key", SECRET)),
    )
    .await;
    let reply = net.say(&format!("fetchauth {}/auth", origin.url())).await;
    assert!(reply.ends_with("body=auth-ok"), "{reply}");
    assert!(
        reply.contains("authorization: Bearer guest-value"),
        "{reply}"
    );
    assert!(!reply.contains(SECRET), "{reply}");
    let seen = origin.seen.auth_headers.lock().expect("headers").clone();
    let seen = seen.expect("the origin got the request");
    assert_eq!(
        seen.get_all("authorization").iter().count(),
        1,
        "the guest's value was replaced, not joined"
    );
    assert_eq!(seen["x-own"], "1");
    let reply = net
        .say(&format!("fetch {}/auth?from=log", origin.url()))
        .await;
    assert!(reply.ends_with("auth-ok"), "{reply}");
    let log = logs.text();
    assert!(!log.contains(SECRET), "the secret reached the log");
    net.stop().await;
}

#[tokio::test]
async fn a_header_naming_a_missing_secret_stops_the_start_naming_it() {
    let sim = Sim::builder().start().await.expect("sim");
    let section: toml::Table = toml::from_str(
        "http = [\"https://api.example.com\"]\n[http_headers.\"https://api.example.com\"]\nAuthorization = \"Bearer {secret.absent_key}\"\n",
    )
    .expect("toml");
    let text = refused(netprobe(
        &sim,
        Grants::parse(&section).expect("grants"),
        LimitOverrides::default(),
    ))
    .await;
    assert!(
        text.contains("absent_key") && text.contains("netprobe"),
        "{text}"
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn requests_to_names_a_plugin_makes_up_never_become_metric_series() {
    init_logging();
    let origin = Origin::start(SECRET).await;
    let sim = Sim::builder().start().await.expect("start sim");
    let metrics = host::metrics::Metrics::enabled();
    let builder = netprobe(&sim, http(&[origin.url()]), LimitOverrides::default())
        .metrics(metrics.app("default"));
    let host = connect(builder, &sim).await;
    for i in 0..5 {
        let reply = say(
            &sim,
            MessageSpec::text(&format!("fetch http://made-up-{i}.example/x")),
        )
        .await;
        assert!(reply.starts_with("error: denied"), "{reply}");
    }
    let reply = say(
        &sim,
        MessageSpec::text(&format!("fetch {}/hello", origin.url())),
    )
    .await;
    assert!(reply.starts_with("status=200"), "{reply}");
    let text = metrics.render().expect("enabled");
    let series: Vec<&str> = text
        .lines()
        .filter(|l| l.starts_with("dingtalk_http_requests_total{"))
        .collect();
    assert_eq!(series.len(), 2, "{series:?}");
    assert!(
        series.contains(&"dingtalk_http_requests_total{app=\"default\",plugin=\"netprobe\",origin=\"-\",result=\"denied\"} 5"),
        "{series:?}"
    );
    assert!(!text.contains("made-up"), "{text}");
    host.shutdown().await;
    sim.shutdown().await;
}
