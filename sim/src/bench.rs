//! The benchmark driver: start the simulator, start the client under test (any
//! command, given the DingTalk environment variables), push N text messages with at
//! most W un-replied in flight, and report throughput, latencies, errors and the
//! client's resources.
//!
//! The driver keeps its own work per message to a push, a hash-map insert and one
//! look-up per reply, so it is not the bottleneck; its figures say so when it is
//! (`driver_busy`).

use std::collections::HashMap;
use std::process::Stdio;
use std::time::{Duration, Instant};

use serde_json::json;

use crate::{MessageSpec, Sim};

/// What to run.
#[derive(Debug, Clone)]
pub struct BenchConfig {
    /// Messages measured.
    pub messages: usize,
    /// Most un-replied messages at once.
    pub window: usize,
    /// Unmeasured messages first.
    pub warmup: usize,
    /// The client under test: program and arguments.
    pub command: Vec<String>,
    /// Put before every message's text (e.g. `py ` for pycalc, which answers only
    /// messages that start with it).
    pub prefix: String,
}

/// The figures of one run.
#[derive(Debug, Clone, serde::Serialize)]
pub struct BenchReport {
    /// Messages measured.
    pub messages: usize,
    /// Window.
    pub window: usize,
    /// Messages per second until every reply arrived.
    pub messages_per_sec: f64,
    /// ACK latency percentiles, ms.
    pub ack_p50_ms: f64,
    /// ACK latency p99, ms.
    pub ack_p99_ms: f64,
    /// Push-to-reply p50, ms.
    pub reply_p50_ms: f64,
    /// Push-to-reply p99, ms.
    pub reply_p99_ms: f64,
    /// ACKs with a code other than 200, plus replies that never came.
    pub errors: usize,
    /// The client's peak RSS, MiB (VmHWM of its process).
    pub client_peak_rss_mib: f64,
    /// The client's CPU seconds (user + system) during the run.
    pub client_cpu_seconds: f64,
    /// This process's CPU seconds during the run (simulator and driver), so a reader
    /// can tell how much of the machine the client had.
    pub driver_cpu_seconds: f64,
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() as f64 * p) as usize).min(sorted.len() - 1);
    sorted[i].as_secs_f64() * 1000.0
}

/// Peak RSS (MiB) and CPU seconds of process `pid` ("self" for this one).
fn proc_stat(pid: &str) -> Option<(f64, f64)> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let hwm_kib: f64 = status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()?;
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after = stat.rsplit_once(')')?.1;
    let fields: Vec<&str> = after.split_whitespace().collect();
    // Fields 14 and 15 of stat (utime, stime), counted after the command name.
    let ticks: f64 = fields.get(11)?.parse::<f64>().ok()? + fields.get(12)?.parse::<f64>().ok()?;
    // Linux reports these in USER_HZ, which is 100 on every mainstream platform.
    Some((hwm_kib / 1024.0, ticks / 100.0))
}

/// Run one benchmark.
pub async fn run(config: &BenchConfig) -> anyhow::Result<BenchReport> {
    let sim = Sim::builder().ping_interval(None).start().await?;
    let (program, args) = config
        .command
        .split_first()
        .ok_or_else(|| anyhow::anyhow!("no client command"))?;
    let mut child = tokio::process::Command::new(program)
        .args(args)
        .env("DINGTALK_OPENAPI_ENDPOINT", sim.url())
        .env("DINGTALK_OAPI_ENDPOINT", sim.url())
        .env("DINGTALK_CLIENT_ID", sim.client_id())
        .env("DINGTALK_CLIENT_SECRET", sim.client_secret())
        .stdout(Stdio::null())
        .kill_on_drop(true)
        .spawn()?;
    let pid = child.id().unwrap_or(0).to_string();
    anyhow::ensure!(
        sim.wait_connections(1, Duration::from_secs(60)).await,
        "the client never connected"
    );

    let total = config.warmup + config.messages;
    let mut pushed_at: HashMap<String, Duration> = HashMap::with_capacity(total);
    let mut reply_latency = Vec::with_capacity(config.messages);
    let (mut replies_seen, mut replied) = (0usize, 0usize);
    let mut started = Instant::now();
    let mut cpu_start = 0.0;
    let mut driver_cpu_start = 0.0;
    let mut collect =
        |sim: &Sim, pushed_at: &mut HashMap<String, Duration>, measured_from: usize| {
            let new = sim.replies_since(replies_seen);
            replies_seen += new.len();
            for r in new {
                if let Some(at) = pushed_at.remove(&r.session) {
                    replied += 1;
                    if replied > measured_from {
                        reply_latency.push(r.received.saturating_sub(at));
                    }
                }
            }
            replied
        };
    for i in 0..total {
        if i == config.warmup {
            while collect(&sim, &mut pushed_at, config.warmup) < config.warmup {
                sim.changed(Duration::from_millis(50)).await;
            }
            started = Instant::now();
            cpu_start = proc_stat(&pid).map(|(_, cpu)| cpu).unwrap_or(0.0);
            driver_cpu_start = proc_stat("self").map(|(_, cpu)| cpu).unwrap_or(0.0);
        }
        while i - collect(&sim, &mut pushed_at, config.warmup) >= config.window {
            sim.changed(Duration::from_millis(50)).await;
        }
        let spec = MessageSpec::text(&format!("{}{}+{}", config.prefix, i, i % 7));
        let pushed = sim.push_chatbot(spec).await?;
        pushed_at.insert(pushed.session, sim.elapsed());
    }
    let deadline = Instant::now() + Duration::from_secs(60);
    while collect(&sim, &mut pushed_at, config.warmup) < total && Instant::now() < deadline {
        sim.changed(Duration::from_millis(50)).await;
    }
    let elapsed = started.elapsed();
    let (rss, cpu_end) = proc_stat(&pid).unwrap_or((f64::NAN, f64::NAN));
    let driver_cpu_end = proc_stat("self").map(|(_, cpu)| cpu).unwrap_or(f64::NAN);
    let acks = sim.acks_since(0);
    let mut ack_latency: Vec<Duration> = acks
        .iter()
        .skip(config.warmup)
        .filter_map(|a| a.latency)
        .collect();
    let errors = acks.iter().filter(|a| a.code != 200).count() + pushed_at.len();
    ack_latency.sort();
    reply_latency.sort();
    let _ = child.kill().await;
    sim.shutdown().await;
    Ok(BenchReport {
        messages: config.messages,
        window: config.window,
        messages_per_sec: config.messages as f64 / elapsed.as_secs_f64(),
        ack_p50_ms: percentile(&ack_latency, 0.50),
        ack_p99_ms: percentile(&ack_latency, 0.99),
        reply_p50_ms: percentile(&reply_latency, 0.50),
        reply_p99_ms: percentile(&reply_latency, 0.99),
        errors,
        client_peak_rss_mib: rss,
        client_cpu_seconds: cpu_end - cpu_start,
        driver_cpu_seconds: driver_cpu_end - driver_cpu_start,
    })
}

impl BenchReport {
    /// A readable table.
    pub fn table(&self) -> String {
        format!(
            "messages {} (window {})\nthroughput        {:>10.0} msg/s\nACK latency       p50 {:>7.2} ms   p99 {:>7.2} ms\npush-to-reply     p50 {:>7.2} ms   p99 {:>7.2} ms\nerrors            {:>10}\nclient peak RSS   {:>10.1} MiB\nclient CPU        {:>10.2} s ({:.3} s per 1000 messages)\ndriver CPU        {:>10.2} s (simulator + driver)",
            self.messages,
            self.window,
            self.messages_per_sec,
            self.ack_p50_ms,
            self.ack_p99_ms,
            self.reply_p50_ms,
            self.reply_p99_ms,
            self.errors,
            self.client_peak_rss_mib,
            self.client_cpu_seconds,
            self.client_cpu_seconds * 1000.0 / self.messages as f64,
            self.driver_cpu_seconds
        )
    }

    /// One JSON line.
    pub fn json_line(&self) -> String {
        json!(self).to_string()
    }
}
