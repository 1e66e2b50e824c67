//! The host as an MCP client: a remote server from the official Python SDK
//! (`tests/mcp/tools_server.py`, `MCPServer` over Streamable HTTP) offers tools to
//! aibot as `mcp.peer.<tool>`, granted, bounded and audited like plugin tools; the
//! header the host injects arrives and never comes back to the model; a server
//! error, a hanging server, a server that went away and came back, internal
//! addresses and redirects are each handled with a sentence, never a hang.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::future::BoxFuture;
use host::egress::{Egress, Resolve};
use host::mcp::client::{Remote, RemoteConfig};
use host::runtime::LimitOverrides;
use host::runtime::capability::tools::ToolProvider as _;
use host::secrets::Secrets;
use serde_json::json;
use sim::ModelTurn;
use tests::{mcp_python, workspace};

use crate::agents::{Agents, Remotes, tool_results};

const PEER_TOKEN: &str = "peer-token-e2e-never-shown";

/// The Python SDK's server on a port of its own, recording the headers it got.
struct Peer {
    python: PathBuf,
    port: u16,
    record: PathBuf,
    child: Option<Child>,
}

impl Peer {
    fn start(python: PathBuf) -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let record =
            std::env::temp_dir().join(format!("host-mcp-peer-{}-{port}.log", std::process::id()));
        let mut peer = Self {
            python,
            port,
            record,
            child: None,
        };
        peer.up();
        peer
    }

    /// (Re)start the server on its port and wait until it accepts connections.
    fn up(&mut self) {
        let child = Command::new(&self.python)
            .arg(workspace().join("tests/mcp/tools_server.py"))
            .arg(self.port.to_string())
            .arg(&self.record)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("the Python MCP server");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(30);
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "the Python MCP server did not start"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn down(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}/mcp", self.port)
    }

    /// Every `Authorization` header the server was sent on a tool call.
    fn seen(&self) -> Vec<String> {
        std::fs::read_to_string(&self.record)
            .unwrap_or_default()
            .lines()
            .map(str::to_owned)
            .collect()
    }
}

impl Drop for Peer {
    fn drop(&mut self) {
        self.down();
        let _ = std::fs::remove_file(&self.record);
    }
}

fn config(server: &str, section: &str, secrets: &Secrets) -> RemoteConfig {
    let mut sections = BTreeMap::new();
    sections.insert(server.to_owned(), toml::from_str(section).expect("toml"));
    host::mcp::client::parse(&sections, &LimitOverrides::default(), secrets)
        .expect("the section")
        .remove(0)
}

/// aibot granted `grant` over the peer's tools (through `[mcp.peer]`).
async fn agents(peer: &Peer, grant: &str, limits: &str) -> (Agents, Arc<Remote>) {
    let secrets = Secrets::default().with("peer_token", PEER_TOKEN);
    let section = format!(
        "url = \"{}\"\nheaders = {{ Authorization = \"Bearer {{secret.peer_token}}\" }}\n",
        peer.url()
    );
    let remote =
        Remote::new(config("peer", &section, &secrets), &Egress::new(secrets)).expect("the remote");
    remote.refresh().await.expect("the peer lists its tools");
    let a = Agents::start_remote(
        grant,
        limits,
        Remotes {
            servers: vec![remote.clone()],
            secrets: vec![("peer_token", PEER_TOKEN.to_owned())],
        },
    )
    .await;
    (a, remote)
}

const GRANT: &str = r#"tools = ["mcp.peer.add", "mcp.peer.fail", "mcp.peer.hang", "mcp.peer.echo_auth", "mcp.peer.huge"]"#;
const LIMITS: &str = "tool_timeout_ms = 1500\ntool_result_kib = 4\n";

#[tokio::test(flavor = "multi_thread")]
async fn a_remote_servers_tools_are_offered_with_their_schemas_and_called_with_the_injected_header()
{
    let Some(python) = mcp_python() else { return };
    let peer = Peer::start(python);
    let (a, remote) = agents(&peer, GRANT, LIMITS).await;
    let names: Vec<String> = remote.offered().iter().map(|t| t.name.clone()).collect();
    assert!(
        names.contains(&"add".to_owned()) && names.contains(&"delete_everything".to_owned()),
        "the server lists every tool: {names:?}"
    );
    let t = a.ask("what is mcp_peer_add {\"a\": 2, \"b\": 3}").await;
    assert!(t.finished(), "{}", t.last_text());
    let text = t.last_text();
    assert!(text.contains("🔧 `mcp.peer.add`"), "{text}");
    assert!(text.contains("Tool said: 5"), "{text}");
    let offered = &a.sim.model_requests()[0].body["tools"];
    let offered = offered.as_array().expect("tools offered");
    let add = offered
        .iter()
        .find(|t| t["function"]["name"] == "mcp_peer_add")
        .expect("add offered");
    assert_eq!(add["function"]["description"], "Add two integers.");
    let props = &add["function"]["parameters"]["properties"];
    assert!(props["a"].is_object() && props["b"].is_object(), "{props}");
    assert!(
        !offered
            .iter()
            .any(|t| t["function"]["name"] == "mcp_peer_delete_everything"),
        "an ungranted remote tool is never offered: {offered:?}"
    );
    assert_eq!(peer.seen(), [format!("Bearer {PEER_TOKEN}")]);
    a.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn an_ungranted_remote_tool_is_refused_without_reaching_the_server() {
    let Some(python) = mcp_python() else { return };
    let peer = Peer::start(python);
    let (a, _remote) = agents(&peer, GRANT, LIMITS).await;
    for name in ["mcp_peer_delete_everything", "mcp.peer.delete_everything"] {
        a.sim
            .script_model([ModelTurn::Call(vec![(name.into(), json!({}))])]);
        let t = a.ask("clean up").await;
        assert!(t.finished(), "{}", t.last_text());
    }
    let results = tool_results(&a.sim);
    for name in ["mcp_peer_delete_everything", "mcp.peer.delete_everything"] {
        let refusal = format!("no tool \\\"{name}\\\" is granted to this plugin; nothing ran");
        assert!(
            results.iter().any(|r| r.contains(&refusal)),
            "{refusal} in {results:?}"
        );
    }
    assert!(peer.seen().is_empty(), "the server saw {:?}", peer.seen());
    a.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_server_error_is_a_failed_step_and_a_hanging_server_is_cut_at_the_tool_timeout() {
    let Some(python) = mcp_python() else { return };
    let peer = Peer::start(python);
    let (a, _remote) = agents(&peer, GRANT, LIMITS).await;
    let t = a.ask("what is mcp_peer_fail {}").await;
    assert!(t.finished(), "{}", t.last_text());
    let started = Instant::now();
    let hung = a.ask("what is mcp_peer_hang {}").await;
    assert!(hung.finished(), "{}", hung.last_text());
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "the turn waited {:?}",
        started.elapsed()
    );
    let results = tool_results(&a.sim);
    assert!(
        results.iter().any(|r| r.contains("read-only today")),
        "the server's error reaches the model: {results:?}"
    );
    assert!(
        results
            .iter()
            .any(|r| r.contains("did not answer within 1.5s")),
        "{results:?}"
    );
    // The session survives a call cut short: the next call answers.
    let after = a.ask("what is mcp_peer_add {\"a\": 1, \"b\": 1}").await;
    assert!(
        after.last_text().contains("Tool said: 2"),
        "{}",
        after.last_text()
    );
    a.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn an_echoed_secret_never_reaches_the_model_and_a_huge_result_is_cut() {
    let Some(python) = mcp_python() else { return };
    let peer = Peer::start(python);
    let (a, _remote) = agents(&peer, GRANT, LIMITS).await;
    a.ask("what is mcp_peer_echo_auth {}").await;
    a.ask("what is mcp_peer_huge {}").await;
    let results = tool_results(&a.sim);
    let echoed = results
        .iter()
        .find(|r| r.contains("you sent"))
        .expect("the echo");
    assert!(!echoed.contains(PEER_TOKEN), "{echoed}");
    assert_eq!(peer.seen()[0], format!("Bearer {PEER_TOKEN}"));
    for request in a.sim.model_requests() {
        assert!(!request.body.to_string().contains(PEER_TOKEN));
    }
    let huge = results
        .iter()
        .find(|r| r.contains("[cut: the result was"))
        .expect("the cut result");
    assert!(huge.len() < 5 << 10, "{} bytes", huge.len());
    a.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_server_that_went_away_fails_the_call_by_name_and_is_used_again_once_back() {
    let Some(python) = mcp_python() else { return };
    let mut peer = Peer::start(python);
    let (a, _remote) = agents(&peer, GRANT, LIMITS).await;
    let first = a.ask("what is mcp_peer_add {\"a\": 1, \"b\": 2}").await;
    assert!(
        first.last_text().contains("Tool said: 3"),
        "{}",
        first.last_text()
    );
    peer.down();
    let down = a.ask("what is mcp_peer_add {\"a\": 2, \"b\": 2}").await;
    assert!(down.finished(), "{}", down.last_text());
    let results = tool_results(&a.sim);
    let failed = results.last().expect("a result");
    assert!(failed.contains("MCP server \\\"peer\\\""), "{failed}");
    // A new process: the old session id answers 404, and the host starts anew.
    peer.up();
    let back = a.ask("what is mcp_peer_add {\"a\": 3, \"b\": 4}").await;
    assert!(
        back.last_text().contains("Tool said: 7"),
        "{}",
        back.last_text()
    );
    a.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_server_restarted_between_two_calls_is_reached_in_a_new_session() {
    let Some(python) = mcp_python() else { return };
    let mut peer = Peer::start(python);
    let (a, _remote) = agents(&peer, GRANT, LIMITS).await;
    let first = a.ask("what is mcp_peer_add {\"a\": 5, \"b\": 5}").await;
    assert!(
        first.last_text().contains("Tool said: 10"),
        "{}",
        first.last_text()
    );
    // The new process knows no session: the old id answers 404, the host re-initialises.
    peer.down();
    peer.up();
    let again = a.ask("what is mcp_peer_add {\"a\": 6, \"b\": 6}").await;
    assert!(
        again.last_text().contains("Tool said: 12"),
        "{}",
        again.last_text()
    );
    a.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_server_down_at_start_is_listed_once_it_answers() {
    let Some(python) = mcp_python() else { return };
    let mut peer = Peer::start(python);
    peer.down();
    let secrets = Secrets::default();
    let section = format!("url = \"{}\"\ntools = [\"add\"]\n", peer.url());
    let stop = tokio_util::sync::CancellationToken::new();
    let remotes = host::mcp::client::start(
        vec![config("late", &section, &secrets)],
        &Egress::new(secrets),
        &stop,
    )
    .await
    .expect("start");
    assert!(remotes[0].offered().is_empty());
    peer.up();
    let deadline = Instant::now() + Duration::from_secs(20);
    while remotes[0].offered().is_empty() {
        assert!(Instant::now() < deadline, "the server was never listed");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let names: Vec<String> = remotes[0]
        .offered()
        .iter()
        .map(|t| t.name.clone())
        .collect();
    assert_eq!(names, ["add"], "only the tools the section names");
    stop.cancel();
}

/// Resolves every name to loopback, as a hostile DNS answer would.
#[derive(Debug)]
struct ToLoopback;

impl Resolve for ToLoopback {
    fn resolve(&self, _: &str, port: u16) -> BoxFuture<'static, std::io::Result<Vec<SocketAddr>>> {
        Box::pin(async move { Ok(vec![SocketAddr::from(([127, 0, 0, 1], port))]) })
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_name_that_resolves_to_an_internal_address_is_refused_before_connecting() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let accepted = tokio::spawn(async move { listener.accept().await.is_ok() });
    let secrets = Secrets::default();
    let egress = Egress::new(secrets.clone()).with_resolver(Arc::new(ToLoopback));
    let section = format!("url = \"http://tracker.example.com:{port}/mcp\"");
    let remote = Remote::new(config("tracker", &section, &secrets), &egress).expect("remote");
    let err = remote.refresh().await.unwrap_err();
    assert!(
        err.contains("MCP server \"tracker\"") && err.contains("is internal"),
        "{err}"
    );
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(!accepted.is_finished(), "nothing may connect: {err}");
    accepted.abort();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_redirect_is_never_followed() {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let target = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let target_port = target.local_addr().expect("addr").port();
    let reached = tokio::spawn(async move { target.accept().await.is_ok() });
    let redirector = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let port = redirector.local_addr().expect("addr").port();
    tokio::spawn(async move {
        while let Ok((mut s, _)) = redirector.accept().await {
            let mut buf = [0u8; 4096];
            let _ = s.read(&mut buf).await;
            let reply = format!(
                "HTTP/1.1 307 Temporary Redirect\r\nLocation: http://127.0.0.1:{target_port}/mcp\r\nContent-Length: 0\r\n\r\n"
            );
            let _ = s.write_all(reply.as_bytes()).await;
        }
    });
    let secrets = Secrets::default();
    let section = format!("url = \"http://127.0.0.1:{port}/mcp\"");
    let remote =
        Remote::new(config("hop", &section, &secrets), &Egress::new(secrets)).expect("remote");
    let err = remote.refresh().await.unwrap_err();
    assert!(
        err.contains("MCP server \"hop\"") && err.contains("307"),
        "{err}"
    );
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(!reached.is_finished(), "the redirect was followed: {err}");
    reached.abort();
}
