//! What a remote MCP tool call costs through the host: the agents' broker
//! (`Board::serve_call`: grant, canonical arguments, bounds, the result cut, the audit
//! line) and the host's MCP client (rmcp over the egress-vetted reqwest client) to a
//! running MCP server, in one session after a warm-up call. Prints mean, p50 and p99;
//! asserts nothing. Compare with the official Python client's `time` operation
//! (`tests/mcp/client.py`) against the same server (BENCHMARKS.md).
//!
//! Run with `MCP_URL=http://127.0.0.1:7797/mcp cargo bench -p host --bench mcp_client`
//! against `tests/mcp/tools_server.py 7797 /dev/null`; without `MCP_URL` it prints
//! that it was skipped. Only 127.0.0.1 is allowed.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use host::egress::Egress;
use host::mcp::client::{Remote, parse};
use host::runtime::capability::grant::Grant as _;
use host::runtime::capability::tools::{Board, Conversation, Grant, Talk, ToolProvider};
use host::runtime::{LimitOverrides, Limits};
use host::secrets::Secrets;

const CALLS: usize = 500;
const ARGUMENTS: &str = r#"{"a":2,"b":3}"#;

fn main() -> anyhow::Result<()> {
    let Ok(url) = std::env::var("MCP_URL") else {
        println!("skipped: set MCP_URL to a running MCP server (tests/mcp/tools_server.py)");
        return Ok(());
    };
    anyhow::ensure!(
        url.starts_with("http://127.0.0.1:"),
        "benchmarks talk to 127.0.0.1 only: {url}"
    );
    let rt = tokio::runtime::Runtime::new()?;
    rt.block_on(async {
        let mut sections = BTreeMap::new();
        sections.insert(
            "peer".to_owned(),
            toml::from_str(&format!("url = \"{url}\""))?,
        );
        let config = parse(&sections, &LimitOverrides::default(), &Secrets::default())
            .map_err(anyhow::Error::msg)?
            .remove(0);
        let remote = Remote::new(config, &Egress::default()).map_err(anyhow::Error::msg)?;
        remote.refresh().await.map_err(anyhow::Error::msg)?;
        let board = Board::default();
        board.attach(vec![remote as std::sync::Arc<dyn ToolProvider>]);
        let grant = Grant::parse(&toml::from_str("tools = [\"mcp.peer.add\"]")?)?;
        let limits = Limits::default();
        let talk = Talk {
            conversation: Conversation {
                id: "bench".into(),
                sender: "bench".into(),
                is_group: false,
            },
            is_admin: false,
        };
        let call = || board.serve_call("bench", &grant, &limits, &talk, "mcp_peer_add", ARGUMENTS);
        let first = call().await.map_err(anyhow::Error::msg)?;
        anyhow::ensure!(first == "5", "the warm-up call answered {first:?}");
        let mut times: Vec<Duration> = Vec::with_capacity(CALLS);
        for _ in 0..CALLS {
            let started = Instant::now();
            let out = call().await.map_err(anyhow::Error::msg)?;
            times.push(started.elapsed());
            anyhow::ensure!(out == "5", "a call answered {out:?}");
        }
        times.sort();
        let mean = times.iter().sum::<Duration>() / CALLS as u32;
        println!(
            "mcp.peer.add {ARGUMENTS} through the host ({CALLS} calls, one session): mean {mean:?}, p50 {:?}, p99 {:?}",
            times[CALLS / 2],
            times[(CALLS * 99 / 100).min(CALLS - 1)]
        );
        Ok(())
    })
}
