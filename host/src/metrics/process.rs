//! The standard `process_*` metrics (as the Go client names them), read from
//! `/proc/self` at each scrape. Elsewhere than Linux the collector reports nothing.

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;

/// Reads the process's CPU, memory, threads and descriptors when scraped.
#[derive(Debug)]
pub(super) struct Process {
    /// Seconds since the epoch when the process started, read once.
    start_time: Option<f64>,
}

/// What one read of `/proc/self/stat` gives.
#[derive(Debug, PartialEq)]
struct Stat {
    cpu_ticks: u64,
    threads: i64,
    start_ticks: u64,
    virtual_bytes: i64,
    resident_pages: i64,
}

/// Parse `/proc/self/stat`: fields after the parenthesised command name, which may
/// itself hold spaces and parentheses.
fn parse_stat(text: &str) -> Option<Stat> {
    let rest = &text[text.rfind(')')? + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    // `rest` starts at field 3 (state), so field n is f[n - 3].
    let field = |n: usize| f.get(n - 3)?.parse::<u64>().ok();
    Some(Stat {
        cpu_ticks: field(14)? + field(15)?,
        threads: field(20)? as i64,
        start_ticks: field(22)?,
        virtual_bytes: field(23)? as i64,
        resident_pages: field(24)? as i64,
    })
}

#[cfg(target_os = "linux")]
fn read_stat() -> Option<Stat> {
    parse_stat(&std::fs::read_to_string("/proc/self/stat").ok()?)
}

#[cfg(not(target_os = "linux"))]
fn read_stat() -> Option<Stat> {
    None
}

fn boot_time() -> Option<f64> {
    let text = std::fs::read_to_string("/proc/stat").ok()?;
    let line = text.lines().find(|l| l.starts_with("btime "))?;
    line[6..].trim().parse().ok()
}

fn ticks_per_second() -> f64 {
    rustix::param::clock_ticks_per_second() as f64
}

impl Process {
    pub(super) fn new() -> Self {
        let start_time = read_stat()
            .zip(boot_time())
            .map(|(s, boot)| boot + s.start_ticks as f64 / ticks_per_second());
        Self { start_time }
    }
}

fn gauge(
    encoder: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    value: impl Into<f64>,
) -> Result<(), std::fmt::Error> {
    let g = ConstGauge::new(value.into());
    g.encode(encoder.encode_descriptor(name, help, None, g.metric_type())?)
}

impl Collector for Process {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let Some(stat) = read_stat() else {
            return Ok(());
        };
        let cpu = ConstCounter::new(stat.cpu_ticks as f64 / ticks_per_second());
        cpu.encode(encoder.encode_descriptor(
            "process_cpu_seconds",
            "Total user and system CPU time spent in seconds.",
            None,
            cpu.metric_type(),
        )?)?;
        let page = rustix::param::page_size() as f64;
        gauge(
            &mut encoder,
            "process_resident_memory_bytes",
            "Resident memory size in bytes.",
            stat.resident_pages as f64 * page,
        )?;
        gauge(
            &mut encoder,
            "process_virtual_memory_bytes",
            "Virtual memory size in bytes.",
            stat.virtual_bytes as f64,
        )?;
        gauge(
            &mut encoder,
            "process_threads",
            "Number of OS threads in the process.",
            stat.threads as f64,
        )?;
        if let Ok(fds) = std::fs::read_dir("/proc/self/fd") {
            gauge(
                &mut encoder,
                "process_open_fds",
                "Number of open file descriptors.",
                fds.count() as f64,
            )?;
        }
        if let Some(limit) = rustix::process::getrlimit(rustix::process::Resource::Nofile).current {
            gauge(
                &mut encoder,
                "process_max_fds",
                "Maximum number of open file descriptors.",
                limit as f64,
            )?;
        }
        if let Some(start) = self.start_time {
            gauge(
                &mut encoder,
                "process_start_time_seconds",
                "Start time of the process since unix epoch in seconds.",
                start,
            )?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_command_name_with_spaces_and_parentheses_does_not_shift_the_fields() {
        let line = "1234 (host (x) y) S 1 1234 1234 0 -1 4194560 2000 0 0 0 150 50 0 0 20 0 7 0 98765 123456789 2500 18446744073709551615";
        let stat = parse_stat(line).unwrap();
        assert_eq!(
            stat,
            Stat {
                cpu_ticks: 200,
                threads: 7,
                start_ticks: 98765,
                virtual_bytes: 123456789,
                resident_pages: 2500,
            }
        );
    }
}
