//! `host run` as a service: the admin endpoint (metrics after a known sequence of
//! frames, readiness following the connection, the token), configuration reload on
//! SIGHUP and on file change (a broken file changes nothing), and replicas sharing
//! dedup through a real Redis (one killed mid-run, frames re-pushed to other replicas,
//! an outage).

#[path = "../../tests/src/redis.rs"]
mod redis;

mod common;

use std::collections::HashMap;
use std::path::Path;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{WAIT, calcbot, scratch};
use redis::RedisServer;
use serde_json::{Value, json};
use sim::{CHATBOT_TOPIC, MessageSpec, Sim};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

/// A `host run` process whose log lines are collected as they come.
struct Host {
    child: Child,
    log: Arc<Mutex<String>>,
}

impl Host {
    /// `host run <args>` against `sim`, with its own embedded store folder and `envs`.
    fn spawn(sim: &Sim, dir: &Path, args: &[String], envs: &[(&str, &str)]) -> Self {
        let mut child = Command::new(env!("CARGO_BIN_EXE_host"))
            .arg("run")
            .args(args)
            .envs(envs.iter().copied())
            .env("DINGTALK_HOST_STATE_DIR", dir.join("state"))
            .env("DINGTALK_HOST_CACHE_DIR", dir.join("cache"))
            .env("DINGTALK_OPENAPI_ENDPOINT", sim.url())
            .env("DINGTALK_OAPI_ENDPOINT", sim.url())
            .env("RUST_LOG", "info")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("spawn host run");
        let log = Arc::new(Mutex::new(String::new()));
        let mut lines = BufReader::new(child.stderr.take().expect("stderr")).lines();
        let sink = log.clone();
        tokio::spawn(async move {
            while let Ok(Some(line)) = lines.next_line().await {
                let mut log = sink.lock().expect("log lock");
                log.push_str(&line);
                log.push('\n');
            }
        });
        Self { child, log }
    }

    fn log(&self) -> String {
        self.log.lock().expect("log lock").clone()
    }

    /// Wait for a log line containing `needle`; the line.
    async fn wait_log(&self, needle: &str) -> String {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            if let Some(line) = self.log().lines().find(|l| l.contains(needle)) {
                return line.to_owned();
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "no log line with {needle:?}:\n{}",
                self.log()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// The admin endpoint's base URL, from its start-up log line.
    async fn admin(&self) -> String {
        let line = self.wait_log("admin endpoint").await;
        let addr = line
            .split("addr=")
            .nth(1)
            .and_then(|rest| rest.split_whitespace().next())
            .expect("the line names the address");
        format!("http://{addr}")
    }

    fn signal(&self, signal: &str) {
        let pid = self.child.id().expect("running").to_string();
        let status = std::process::Command::new("kill")
            .args([signal, &pid])
            .status()
            .expect("kill");
        assert!(status.success());
    }

    async fn stop(mut self) {
        self.signal("-TERM");
        let _ = tokio::time::timeout(WAIT, self.child.wait()).await;
    }
}

fn credentials(sim: &Sim) -> Vec<String> {
    vec![
        "--client-id".into(),
        sim.client_id().into(),
        "--client-secret".into(),
        sim.client_secret().into(),
    ]
}

fn path(p: &Path) -> String {
    p.display().to_string()
}

async fn get(url: &str, token: Option<&str>) -> (u16, String) {
    let mut request = reqwest::Client::new().get(url);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = request.send().await.expect("admin request");
    let status = response.status().as_u16();
    (status, response.text().await.unwrap_or_default())
}

/// The value of the series `series` (name and labels, exactly as rendered).
fn sample(metrics: &str, series: &str) -> Option<f64> {
    metrics
        .lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
}

/// Push `text` to the app `client_id`; the message id and session.
async fn push(sim: &Sim, client_id: &str, text: &str) -> (String, String) {
    let pushed = sim
        .push_chatbot(MessageSpec::text(text).to_app(client_id))
        .await
        .expect("push");
    (pushed.message_id, pushed.session)
}

async fn answer(sim: &Sim, client_id: &str, text: &str) -> Option<String> {
    let (_, session) = push(sim, client_id, text).await;
    sim.wait_replies(&session, 1, WAIT)
        .await
        .first()
        .and_then(|r| r.text().map(str::to_owned))
}

#[tokio::test]
async fn metrics_count_a_known_sequence_of_frames_and_need_the_token() {
    let dir = scratch("metrics");
    std::fs::write(
        dir.join("host.toml"),
        "[secrets]\nadmin = { env = \"TEST_ADMIN_TOKEN\" }\n[admin]\ntoken = \"{secret.admin}\"\n",
    )
    .unwrap();
    let sim = Sim::builder().start().await.unwrap();
    let mut args = credentials(&sim);
    args.extend([
        "--admin".into(),
        "127.0.0.1:0".into(),
        "--config".into(),
        path(&dir.join("host.toml")),
        path(&calcbot()),
    ]);
    let host = Host::spawn(&sim, &dir, &args, &[("TEST_ADMIN_TOKEN", "admin-token")]);
    let admin = host.admin().await;
    assert!(sim.wait_connections(1, WAIT).await);
    let token = Some("admin-token");

    // Known label sets are there at zero before any event.
    let (_, text) = get(&format!("{admin}/metrics"), token).await;
    for series in [
        "dingtalk_plugin_quarantined{app=\"default\",plugin=\"calcbot\"} 0",
        "dingtalk_reconnects_total{app=\"default\",reason=\"lost\"} 0",
        "dingtalk_reconnects_total{app=\"default\",reason=\"keepalive\"} 0",
    ] {
        assert!(
            text.contains(series),
            "{series} missing after start-up:\n{text}"
        );
    }

    // Three answered, one re-pushed (a duplicate), one on a topic nobody serves.
    let mut first = None;
    for _ in 0..3 {
        let (id, session) = push(&sim, sim.client_id(), "6*7").await;
        assert_eq!(sim.wait_replies(&session, 1, WAIT).await.len(), 1);
        assert!(sim.wait_ack(&id, WAIT).await.is_some());
        first.get_or_insert(id);
    }
    let first = first.unwrap();
    let (_, data) = sim.chatbot_data(&MessageSpec::text("6*7"));
    let frame = |id: &str, topic: &str| {
        json!({"specVersion": "1.0", "type": "CALLBACK", "data": data.to_string(),
               "headers": {"messageId": id, "topic": topic, "contentType": "application/json", "time": "1"}})
        .to_string()
    };
    sim.push_raw(&frame(&first, CHATBOT_TOPIC), None)
        .await
        .unwrap();
    sim.push_raw(&frame("nobody-1", "/v1.0/nobody"), Some("nobody-1"))
        .await
        .unwrap();
    assert!(sim.wait_ack("nobody-1", WAIT).await.is_some());
    let deadline = tokio::time::Instant::now() + WAIT;
    while sim.acks().len() < 5 && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    assert_eq!(get(&format!("{admin}/metrics"), None).await.0, 401);
    assert_eq!(get(&format!("{admin}/status"), Some("wrong")).await.0, 401);
    let (status, metrics) = get(&format!("{admin}/metrics"), token).await;
    assert_eq!(status, 200);
    let app = "app=\"default\"";
    let frames = |plugin: &str, topic: &str, outcome: &str| {
        sample(
            &metrics,
            &format!(
                "dingtalk_frames_total{{{app},plugin=\"{plugin}\",topic=\"{topic}\",outcome=\"{outcome}\"}}"
            ),
        )
    };
    assert_eq!(
        frames("calcbot", CHATBOT_TOPIC, "ok"),
        Some(3.0),
        "{metrics}"
    );
    assert_eq!(
        frames("", CHATBOT_TOPIC, "duplicate"),
        Some(1.0),
        "{metrics}"
    );
    assert_eq!(
        frames("", "/v1.0/nobody", "no_plugin"),
        Some(1.0),
        "{metrics}"
    );
    assert_eq!(
        sample(
            &metrics,
            &format!("dingtalk_handle_seconds_count{{{app},plugin=\"calcbot\"}}")
        ),
        Some(3.0)
    );
    assert_eq!(
        sample(
            &metrics,
            &format!(
                "dingtalk_host_calls_total{{{app},plugin=\"calcbot\",capability=\"reply\",result=\"ok\"}}"
            )
        ),
        Some(3.0),
        "{metrics}"
    );
    assert_eq!(
        sample(&metrics, &format!("dingtalk_ack_seconds_count{{{app}}}")),
        Some(5.0)
    );
    assert_eq!(
        sample(&metrics, &format!("dingtalk_connections{{{app}}}")),
        Some(1.0)
    );
    assert!(
        metrics.contains("dingtalk_plugin_info{app=\"default\",plugin=\"calcbot\",version=\""),
        "{metrics}"
    );
    assert!(
        metrics.contains("process_resident_memory_bytes "),
        "{metrics}"
    );
    assert!(!metrics.contains("admin-token") && !metrics.contains(sim.client_secret()));

    let (status, body) = get(&format!("{admin}/status"), token).await;
    assert_eq!(status, 200);
    let status: Value = serde_json::from_str(&body).unwrap();
    let default = &status["apps"][0];
    assert_eq!(default["name"], "default");
    assert_eq!(default["plugins"][0]["frames_handled"], 3);
    assert_eq!(default["connections"][0]["frames"], 5);
    assert!(!body.contains(sim.client_secret()), "{body}");
    // The probes stay open without the token.
    assert_eq!(get(&format!("{admin}/healthz"), None).await.0, 200);
    assert_eq!(get(&format!("{admin}/readyz"), None).await.0, 200);
    host.stop().await;
    sim.shutdown().await;
}

#[tokio::test]
async fn readiness_follows_the_connection_while_liveness_stays_up() {
    let dir = scratch("readyz");
    let sim = Sim::builder().start().await.unwrap();
    let mut args = credentials(&sim);
    args.extend(["--admin".into(), "127.0.0.1:0".into(), path(&calcbot())]);
    let host = Host::spawn(&sim, &dir, &args, &[]);
    let admin = host.admin().await;
    assert!(sim.wait_connections(1, WAIT).await);
    let ready = |want: u16| {
        let url = format!("{admin}/readyz");
        async move {
            let deadline = tokio::time::Instant::now() + WAIT;
            loop {
                let (status, body) = get(&url, None).await;
                if status == want || tokio::time::Instant::now() >= deadline {
                    return (status, body);
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    };
    assert_eq!(ready(200).await.0, 200);
    sim.refuse_opens(1000, 503);
    sim.drop_connections();
    let (status, reason) = ready(503).await;
    assert_eq!(status, 503);
    assert!(
        reason.contains("app default: no live connection"),
        "{reason}"
    );
    assert_eq!(get(&format!("{admin}/healthz"), None).await.0, 200);
    sim.refuse_opens(0, 503);
    assert_eq!(ready(200).await.0, 200, "ready again after reconnecting");
    host.stop().await;
    sim.shutdown().await;
}

const SALES_ID: &str = "dingsalesapp";
const SALES_SECRET: &str = "sales-app-secret";

fn apps_config(sim: &Sim, with_sales: bool) -> String {
    let load = format!("load = [{:?}]\n", path(&calcbot()));
    let mut text = format!(
        "[secrets]\nsupport = {{ env = \"TEST_SUPPORT_SECRET\" }}\nsales = {{ env = \"TEST_SALES_SECRET\" }}\n[apps.support]\nclient_id = {:?}\nclient_secret = \"{{secret.support}}\"\n{load}",
        sim.client_id()
    );
    if with_sales {
        text += &format!(
            "[apps.sales]\nclient_id = {SALES_ID:?}\nclient_secret = \"{{secret.sales}}\"\n{load}"
        );
    }
    text
}

fn open_connections(sim: &Sim, client_id: &str) -> usize {
    sim.connections()
        .iter()
        .filter(|c| c.open && c.client_id == client_id)
        .count()
}

async fn until(mut cond: impl FnMut() -> bool) -> bool {
    let deadline = tokio::time::Instant::now() + WAIT;
    while !cond() {
        if tokio::time::Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    true
}

#[tokio::test]
async fn sighup_and_a_changed_file_reload_the_apps_and_a_broken_file_changes_nothing() {
    let dir = scratch("reload-config");
    let config = dir.join("host.toml");
    let sim = Sim::builder()
        .app(SALES_ID, SALES_SECRET)
        .start()
        .await
        .unwrap();
    std::fs::write(&config, apps_config(&sim, false)).unwrap();
    let args = vec!["--config".into(), path(&config), "--watch-config".into()];
    let envs = [
        ("TEST_SUPPORT_SECRET", sim.client_secret()),
        ("TEST_SALES_SECRET", SALES_SECRET),
    ];
    let host = Host::spawn(&sim, &dir, &args, &envs);
    assert!(sim.wait_connections(1, WAIT).await);
    host.wait_log("watching the config file").await;
    let support = sim.client_id().to_owned();

    // A broken file: logged, nothing changes, the app keeps answering.
    std::fs::write(&config, "[apps.support\nclient_id = ").unwrap();
    host.wait_log("configuration not reloaded").await;
    assert_eq!(
        answer(&sim, &support, "1+1").await.as_deref(),
        Some("Q: 1+1\nA: 2")
    );

    // Adding an app: SIGHUP (the watcher may see the write first; either reloads).
    std::fs::write(&config, apps_config(&sim, true)).unwrap();
    host.signal("-HUP");
    assert!(
        until(|| open_connections(&sim, SALES_ID) == 1).await,
        "{}",
        host.log()
    );
    assert_eq!(
        answer(&sim, SALES_ID, "2*3").await.as_deref(),
        Some("Q: 2*3\nA: 6")
    );
    assert_eq!(
        open_connections(&sim, &support),
        1,
        "support was not restarted"
    );

    // Removing it by editing the file alone (--watch-config).
    std::fs::write(&config, apps_config(&sim, false)).unwrap();
    assert!(
        until(|| open_connections(&sim, SALES_ID) == 0).await,
        "{}",
        host.log()
    );
    assert_eq!(
        answer(&sim, &support, "2+2").await.as_deref(),
        Some("Q: 2+2\nA: 4")
    );
    let log = host.log();
    assert!(!log.contains(SALES_SECRET) && !log.contains(sim.client_secret()));
    host.stop().await;
    sim.shutdown().await;
}

/// Every session's replies, by session.
fn replies_by_session(sim: &Sim) -> HashMap<String, usize> {
    let mut by = HashMap::new();
    for r in sim.replies() {
        *by.entry(r.session).or_insert(0) += 1;
    }
    by
}

fn replica_args(sim: &Sim, redis: &RedisServer, config: &Path) -> Vec<String> {
    let mut args = credentials(sim);
    args.extend([
        "--state".into(),
        redis.url(),
        "--config".into(),
        path(config),
        path(&calcbot()),
    ]);
    args
}

#[tokio::test]
async fn three_replicas_answer_each_message_once_through_re_pushes_and_a_killed_replica() {
    let Some(redis) = RedisServer::start("replicas") else {
        return;
    };
    let dir = scratch("replicas");
    let config = dir.join("host.toml");
    std::fs::write(&config, "[dedup]\nlease_ms = 1500\n").unwrap();
    // Un-ACKed frames come again after 3 s, and at once when their connection dies.
    let sim = Sim::builder()
        .redelivery(Duration::from_secs(3), 5)
        .start()
        .await
        .unwrap();
    let args = replica_args(&sim, &redis, &config);
    let mut replicas: Vec<Host> = (0..3)
        .map(|i| Host::spawn(&sim, &dir.join(format!("r{i}")), &args, &[]))
        .collect();
    assert!(sim.wait_connections(3, WAIT).await);

    const N: usize = 300;
    let mut pushed: Vec<(String, String, u64)> = Vec::new();
    let mut repushed = 0;
    for i in 0..N {
        let p = sim
            .push_chatbot(MessageSpec::text(&format!("{i}+1")))
            .await
            .expect("push");
        pushed.push((p.message_id.clone(), p.session, p.connection));
        // Every 10th again at once to another replica (while the first may still be
        // handling it); every 10th, offset, again once it was answered.
        if i % 10 == 3 && sim.repush_elsewhere(&p.message_id).is_some() {
            repushed += 1;
        }
        if i % 10 == 7 {
            let (earlier, _, _) = &pushed[i - 5];
            if sim.repush_elsewhere(earlier).is_some() {
                repushed += 1;
            }
        }
        if i == N / 2 {
            // Hold replies in the webhook so frames are in flight, then kill the
            // replica that got the latest frame: its un-ACKed frames are re-pushed to
            // the others, which take them over once its claims lapse.
            sim.set_webhook_delay(Duration::from_millis(1500));
            // Until every replica holds at least two frames in flight.
            let mut holding: HashMap<u64, usize> = HashMap::new();
            while (holding.len() < 3 || holding.values().any(|n| *n < 2)) && pushed.len() < N + 60 {
                let p = sim
                    .push_chatbot(MessageSpec::text("100*3"))
                    .await
                    .expect("push");
                *holding.entry(p.connection).or_default() += 1;
                pushed.push((p.message_id.clone(), p.session, p.connection));
            }
            tokio::time::sleep(Duration::from_millis(300)).await;
            let victim = replicas.remove(0);
            victim.signal("-KILL");
            drop(victim);
            sim.set_webhook_delay(Duration::ZERO);
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let total = pushed.len();
    assert!(
        until(|| sim.replies().len() >= total).await || sim.replies().len() >= total,
        "answered {} of {total}",
        sim.replies().len()
    );
    // Nothing more arrives late.
    tokio::time::sleep(Duration::from_secs(4)).await;
    let by_session = replies_by_session(&sim);
    let twice: Vec<_> = by_session.iter().filter(|(_, n)| **n != 1).collect();
    assert!(twice.is_empty(), "answered more than once: {twice:?}");
    assert_eq!(by_session.len(), total, "every message answered");
    let acked = sim.acked_ok();
    let unacked: Vec<_> = pushed.iter().filter(|p| !acked.contains(&p.0)).collect();
    assert!(unacked.is_empty(), "never ACKed: {unacked:?}");
    eprintln!(
        "three replicas: {total} messages, {} replies, {repushed} re-pushed elsewhere, {} redelivered by the sim, {} ACKs",
        sim.replies().len(),
        sim.redeliveries(),
        sim.acks().len()
    );
    assert!(
        sim.redeliveries() >= 2,
        "the killed replica left frames to redeliver"
    );
    for r in replicas {
        r.stop().await;
    }
    sim.shutdown().await;
}

#[tokio::test]
async fn a_redis_outage_falls_back_to_per_process_dedup_and_frames_keep_being_answered() {
    let Some(mut redis) = RedisServer::start("replica-outage") else {
        return;
    };
    let dir = scratch("replica-outage");
    let config = dir.join("host.toml");
    std::fs::write(&config, "[dedup]\nlease_ms = 1500\n").unwrap();
    let sim = Sim::builder().start().await.unwrap();
    let args = replica_args(&sim, &redis, &config);
    let a = Host::spawn(&sim, &dir.join("a"), &args, &[]);
    let b = Host::spawn(&sim, &dir.join("b"), &args, &[]);
    assert!(sim.wait_connections(2, WAIT).await);
    assert_eq!(
        answer(&sim, sim.client_id(), "1+1").await.as_deref(),
        Some("Q: 1+1\nA: 2")
    );
    redis.stop();
    for i in 0..10 {
        let text = format!("{i}*2");
        let reply = answer(&sim, sim.client_id(), &text).await;
        assert_eq!(reply, Some(format!("Q: {text}\nA: {}", i * 2)));
    }
    let warned = |h: &Host| h.log().contains("shared dedup unavailable");
    assert!(warned(&a) || warned(&b), "{}\n{}", a.log(), b.log());
    redis.restart();
    // Shared again: a frame re-pushed to the other replica is not answered twice.
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let before = sim.replies().len();
        let (id, session) = push(&sim, sim.client_id(), "5+5").await;
        assert_eq!(sim.wait_replies(&session, 1, WAIT).await.len(), 1);
        assert!(sim.wait_ack(&id, WAIT).await.is_some());
        sim.repush_elsewhere(&id);
        tokio::time::sleep(Duration::from_millis(500)).await;
        if sim.replies().len() == before + 1 {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "dedup never came back after Redis did"
        );
    }
    a.stop().await;
    b.stop().await;
    sim.shutdown().await;
}

// Host memory under amplification: a separate `host run` each, its peak resident
// memory (`VmHWM`) read from /proc once every frame is ACKed, held to the README's
// bound: what the host had before the attack, plus each in-flight instance's memory
// limit (its linear memory and what a host call lifts out of it), plus the plugin's
// host-buffer budget.

/// Frames of one plugin at once, its memory limit and host-buffer budget (MiB).
const CONCURRENCY: u64 = 16;
const MEMORY_MIB: u64 = 16;
const BUFFER_MIB: u64 = 32;

/// The hostile fixture, built from `tests/plugins/hostile` once per process.
fn hostile() -> std::path::PathBuf {
    static BUILT: std::sync::OnceLock<std::path::PathBuf> = std::sync::OnceLock::new();
    BUILT
        .get_or_init(|| {
            let workspace = Path::new(env!("CARGO_MANIFEST_DIR"))
                .parent()
                .expect("workspace");
            host::cli::build::build_components(
                workspace,
                &["hostile".into()],
                &scratch("hostile-fixture"),
            )
            .expect("build the hostile fixture")
            .remove(0)
        })
        .clone()
}

/// `VmHWM` or `VmRSS` of process `pid`, MiB.
fn memory_mib(pid: u32, field: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("/proc status");
    status
        .lines()
        .find_map(|l| {
            l.strip_prefix(field)?
                .split_whitespace()
                .next()?
                .parse::<u64>()
                .ok()
        })
        .map(|kib| kib / 1024)
        .unwrap_or_else(|| panic!("no {field} in /proc/{pid}/status"))
}

/// Start `host run` with hostile under the bound's limits, push `CONCURRENCY * 2`
/// frames of `spec` at once on its topic, wait for every ACK; what came of it.
async fn amplify(test: &str, state: Option<&str>, spec: MessageSpec) -> Amplified {
    let dir = scratch(test);
    std::fs::write(
        dir.join("host.toml"),
        format!(
            "[limits]\nmemory_mib = {MEMORY_MIB}\nmax_concurrency = {CONCURRENCY}\nhost_buffer_mib = {BUFFER_MIB}\ntimeout_ms = 60000\n\n[plugins.hostile]\ntopics = [\"CALLBACK /v1.0/im/bot/messages/delegate\"]\n"
        ),
    )
    .expect("write host.toml");
    let sim = Sim::builder().start().await.expect("start sim");
    let mut args = credentials(&sim);
    if let Some(url) = state {
        args.extend(["--state".into(), url.into()]);
    }
    args.extend([
        "--config".into(),
        path(&dir.join("host.toml")),
        path(&hostile()),
    ]);
    let host = Host::spawn(&sim, &dir, &args, &[]);
    assert!(sim.wait_connections(1, WAIT).await, "{}", host.log());
    let pid = host.child.id().expect("running");
    let before = memory_mib(pid, "VmRSS:");
    let mut pushed = Vec::new();
    for _ in 0..CONCURRENCY * 2 {
        let (session, data) = sim.chatbot_data(&spec);
        let id = sim
            .push_callback("/v1.0/im/bot/messages/delegate", data)
            .await
            .expect("push");
        pushed.push((id, session));
    }
    let mut failed = Vec::new();
    let mut replies = Vec::new();
    for (id, session) in &pushed {
        let ack = sim
            .wait_ack(id, Duration::from_secs(120))
            .await
            .unwrap_or_else(|| panic!("frame {id} is ACKed:\n{}", host.log()));
        if ack.code != 200 {
            failed.push(ack.message);
        }
        let reply = sim
            .wait_replies(session, 1, Duration::from_millis(200))
            .await;
        replies.extend(reply.first().and_then(|r| r.text()).map(str::to_owned));
    }
    let peak = memory_mib(pid, "VmHWM:");
    host.stop().await;
    sim.shutdown().await;
    println!("{test}: host RSS before {before} MiB, peak {peak} MiB");
    Amplified {
        before,
        peak,
        failed,
        replies,
    }
}

/// The host's memory before and at its peak (MiB), the frames that failed, and
/// the plugin's reports.
struct Amplified {
    before: u64,
    peak: u64,
    failed: Vec<String>,
    replies: Vec<String>,
}

impl Amplified {
    /// Every frame answered `report`, and the peak stayed under the bound.
    fn assert(&self, report: &str) {
        assert_bounded(self.before, self.peak);
        assert!(self.failed.is_empty(), "failed frames: {:?}", self.failed);
        assert_eq!(self.replies.len() as u64, CONCURRENCY * 2);
        assert!(
            self.replies.iter().all(|r| r == report),
            "{:?}",
            self.replies
        );
    }
}

fn assert_bounded(before: u64, peak: u64) {
    let bound = before + CONCURRENCY * MEMORY_MIB + BUFFER_MIB;
    assert!(
        peak <= bound,
        "the host's peak resident memory {peak} MiB is above {bound} MiB ({before} MiB before the attack + {CONCURRENCY} x {MEMORY_MIB} MiB instances + {BUFFER_MIB} MiB host buffers)"
    );
}

const GET_MANY_REFUSED: &str = "get-many refused: limit: the values of these keys add up to 104857600 bytes; one get-many returns at most 4194304";

#[tokio::test]
async fn a_get_many_naming_one_large_value_a_hundred_times_leaves_the_hosts_memory_bounded() {
    amplify("amplify-embedded", None, MessageSpec::text("kv-amplify"))
        .await
        .assert(GET_MANY_REFUSED);
}

#[tokio::test]
async fn a_get_many_amplifier_on_redis_is_refused_before_redis_answers_the_values() {
    let Some(server) = RedisServer::start("amplify") else {
        return;
    };
    amplify(
        "amplify-redis",
        Some(&server.url()),
        MessageSpec::text("kv-amplify"),
    )
    .await
    .assert(GET_MANY_REFUSED);
}

#[tokio::test]
async fn concurrent_downloads_of_large_files_hold_at_most_the_host_buffer_budget() {
    let file = 12 << 20;
    amplify(
        "amplify-download",
        None,
        MessageSpec::sized_file("download", file),
    )
    .await
    .assert(&format!("downloaded {file} bytes"));
}

#[tokio::test]
async fn a_call_its_manifest_understated_is_denied_and_the_audit_log_records_it_with_loads_and_grant_changes()
 {
    let dir = scratch("audit-log");
    let config = dir.join("host.toml");
    let audit = dir.join("audit.jsonl");
    let section = "[plugins.hostile]\ntopics = [\"CALLBACK /v1.0/im/bot/messages/delegate\"]\n";
    std::fs::write(&config, section).unwrap();
    let sim = Sim::builder().start().await.unwrap();
    let mut args = credentials(&sim);
    args.extend([
        "--config".into(),
        path(&config),
        "--audit-log".into(),
        path(&audit),
        "--admin".into(),
        "127.0.0.1:0".into(),
        path(&hostile()),
    ]);
    // Its manifest requests nothing, and it imports the openapi interface anyway: the
    // host judges by the grant, so its call is denied (and audited), whatever it said.
    let bytes = std::fs::read(hostile()).unwrap();
    let declared = host::manifest::read(&bytes).unwrap().expect("a manifest");
    assert!(declared.requests.is_empty(), "{declared:?}");
    assert!(
        host::manifest::imports(&bytes)
            .unwrap()
            .iter()
            .any(|i| i.starts_with("dingtalk:bot/openapi@")),
        "the hostile fixture imports openapi"
    );
    let secret = sim.client_secret().to_owned();
    let host = Host::spawn(&sim, &dir, &args, &[]);
    assert!(sim.wait_connections(1, WAIT).await, "{}", host.log());
    // The same denied call three times: one line now, the count when the window ends.
    for _ in 0..3 {
        let (session, data) = sim.chatbot_data(&MessageSpec::text("api"));
        sim.push_callback("/v1.0/im/bot/messages/delegate", data)
            .await
            .expect("push");
        let replies = sim.wait_replies(&session, 1, WAIT).await;
        let reply = replies.first().and_then(|r| r.text()).unwrap_or_default();
        assert!(reply.contains("api refused"), "{reply}");
    }
    // The operator grants the route: a grant change, then the app's new load.
    std::fs::write(
        &config,
        format!("{section}openapi = [\"GET /v1.0/contact/users/me\"]\n"),
    )
    .unwrap();
    host.signal("-HUP");
    host.wait_log("configuration reloaded").await;
    let (status, body) = get(&format!("{}/status", host.admin().await), None).await;
    assert_eq!(status, 200, "{body}");
    let body: Value = serde_json::from_str(&body).unwrap();
    let events: Vec<&str> = body["apps"][0]["plugins"][0]["events"]
        .as_array()
        .expect("the plugin's last events")
        .iter()
        .map(|e| e["event"].as_str().unwrap_or_default())
        .collect();
    assert_eq!(events, ["load", "denied", "grants", "load"], "{body}");
    host.stop().await;
    sim.shutdown().await;

    let lines: Vec<Value> = std::fs::read_to_string(&audit)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON line"))
        .collect();
    let load = &lines[0];
    assert_eq!(
        (load["event"].as_str(), load["plugin"].as_str()),
        (Some("load"), Some("hostile"))
    );
    assert_eq!(load["sha256"].as_str().map(str::len), Some(64));
    let denied: Vec<(u64, &str)> = lines
        .iter()
        .filter(|l| l["event"] == "denied")
        .map(|l| {
            (
                l["count"].as_u64().unwrap(),
                l["capability"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(denied, [(1, "openapi"), (2, "openapi")], "{lines:?}");
    let grants = lines
        .iter()
        .find(|l| l["event"] == "grants")
        .expect("a grant change");
    assert!(
        grants["added"][0]
            .as_str()
            .unwrap()
            .contains("/v1.0/contact/users/me"),
        "{grants}"
    );
    assert!(!std::fs::read_to_string(&audit).unwrap().contains(&secret));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(&audit).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
}
