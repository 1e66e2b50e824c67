//! `host mcp`'s server against the official Python MCP SDK as the client: the
//! `[mcp_server]` grant is all a client sees and may call, each call runs in a fresh
//! sandbox of the tool's plugin, a tool needing approval is refused, a hanging tool
//! is cut, and without the bearer token nothing is answered.

use std::io::Write as _;
use std::process::{Command, Stdio};
use std::sync::Arc;

use host::kv::embedded::Embedded;
use host::mcp::McpServer;
use host::openapi::{Http, HttpConfig};
use host::runtime::capability::tools::{Board, ToolProvider};
use host::runtime::{LimitOverrides, Runtime, RuntimeConfig, Services};
use host::secrets::Secrets;
use serde_json::{Value, json};
use tests::{fixture, init_logging, mcp_python, plugin, workspace};
use tokio_util::sync::CancellationToken;

const TOKEN: &str = "mcp-e2e-token-never-logged";

const SECTION: &str = r#"
listen = "127.0.0.1:0"
token_secret = "mcp_token"
tools = ["calcbot.*", "toolbox.whoami", "toolbox.hang", "toolbox.count"]
[approvals]
"toolbox.count" = "always"
[limits]
tool_timeout_ms = 500
"#;

struct Served {
    url: String,
    stop: CancellationToken,
    state: std::path::PathBuf,
}

async fn serve() -> Served {
    init_logging();
    let state = std::env::temp_dir().join(format!(
        "host-mcp-{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos())
    ));
    let store = Arc::new(Embedded::open(&state.join("kv.redb")).expect("store"));
    let runtime = Runtime::new(
        &RuntimeConfig::default(),
        Services::new(
            Http::new(&HttpConfig::default()).expect("http"),
            &Default::default(),
            None,
        )
        .with_kv(store),
    )
    .expect("runtime");
    let mut providers: Vec<Arc<dyn ToolProvider>> = Vec::new();
    for path in [plugin("calcbot"), fixture("toolbox")] {
        let loaded = runtime
            .load(&path, &Default::default())
            .await
            .expect("load");
        providers.push(Arc::new(loaded));
    }
    let board = Arc::new(Board::default());
    board.publish(providers);
    let server = McpServer::parse(
        &toml::from_str(SECTION).expect("toml"),
        &LimitOverrides::default(),
        &Secrets::default().with("mcp_token", TOKEN),
    )
    .expect("the section");
    let listener = tokio::net::TcpListener::bind(server.listen)
        .await
        .expect("bind");
    let url = format!(
        "http://{}{}",
        listener.local_addr().expect("addr"),
        server.path
    );
    let stop = CancellationToken::new();
    tokio::spawn(server.serve(listener, board, stop.clone()));
    Served { url, stop, state }
}

/// Run the official SDK's client on `ops`; its JSON answer.
async fn client(python: &std::path::Path, url: &str, token: Option<&str>, ops: Value) -> Value {
    let mut cmd = Command::new(python);
    cmd.arg(workspace().join("tests/mcp/client.py"))
        .arg(url)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    match token {
        Some(t) => cmd.env("MCP_TOKEN", t),
        None => cmd.env_remove("MCP_TOKEN"),
    };
    let out = tokio::task::spawn_blocking(move || {
        let mut child = cmd.spawn().expect("the MCP client");
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(ops.to_string().as_bytes())
            .expect("write the operations");
        child.wait_with_output().expect("the client's output")
    })
    .await
    .expect("join");
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "the client printed no JSON ({e}):\n{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

#[tokio::test(flavor = "multi_thread")]
async fn an_mcp_client_sees_and_calls_only_the_served_tools_each_in_its_own_sandbox() {
    let Some(python) = mcp_python() else {
        return;
    };
    let s = serve().await;
    let call =
        |name: &str, arguments: Value| json!({"op": "call", "name": name, "arguments": arguments});
    let answer = client(
        &python,
        &s.url,
        Some(TOKEN),
        json!([
            {"op": "list"},
            call("calcbot_calc", json!({"expression": "6*7"})),
            call("calcbot_calc", json!({"expression": "1/0"})),
            call("toolbox_steal", json!({"url": "http://127.0.0.1:1/"})),
            call("toolbox_count", json!({})),
            call("toolbox_whoami", json!({})),
            call("toolbox_hang", json!({})),
            call("calcbot_calc", json!({"expression": "1".repeat(70_000)})),
        ]),
    )
    .await;
    let results = answer["results"]
        .as_array()
        .unwrap_or_else(|| panic!("{answer}"));
    let names: Vec<&str> = results[0]
        .as_array()
        .expect("the tools")
        .iter()
        .map(|t| t["name"].as_str().expect("a name"))
        .collect();
    assert_eq!(
        names,
        [
            "calcbot_calc",
            "toolbox_hang",
            "toolbox_whoami",
            "toolbox_count"
        ],
        "only what [mcp_server] grants, in each plugin's order"
    );
    let calc = &results[0][0];
    assert_eq!(
        calc["inputSchema"]["properties"]["expression"]["type"],
        "string"
    );
    assert!(
        calc["description"]
            .as_str()
            .unwrap_or_default()
            .contains("arithmetic")
    );

    assert_eq!(
        results[1],
        json!({"isError": false, "text": r#"{"expression":"6*7","value":"42"}"#})
    );
    assert_eq!(results[2]["isError"], true);
    assert!(
        results[2]["text"]
            .as_str()
            .unwrap_or_default()
            .contains("division by zero"),
        "{}",
        results[2]
    );
    assert_eq!(results[3]["isError"], true);
    assert!(
        results[3]["text"]
            .as_str()
            .unwrap_or_default()
            .contains("no tool \"toolbox_steal\" is granted"),
        "{}",
        results[3]
    );
    assert_eq!(results[4]["isError"], true);
    assert!(
        results[4]["text"]
            .as_str()
            .unwrap_or_default()
            .contains("needs a person's approval"),
        "{}",
        results[4]
    );
    let whoami: Value =
        serde_json::from_str(results[5]["text"].as_str().expect("text")).expect("JSON");
    assert_eq!(
        whoami,
        json!({"conversation": "mcp", "sender": "mcp", "group": false, "tools": 0})
    );
    assert_eq!(results[6]["isError"], true);
    assert!(
        results[6]["text"]
            .as_str()
            .unwrap_or_default()
            .contains("500ms"),
        "{}",
        results[6]
    );
    assert_eq!(results[7]["isError"], true);
    assert!(
        results[7]["text"]
            .as_str()
            .unwrap_or_default()
            .contains("at most 65536 are allowed"),
        "arguments past the bound never reach a sandbox: {}",
        results[7]
    );
    s.stop.cancel();
    let _ = std::fs::remove_dir_all(&s.state);
}

#[tokio::test(flavor = "multi_thread")]
async fn an_mcp_client_without_the_bearer_token_is_refused() {
    let Some(python) = mcp_python() else {
        return;
    };
    let s = serve().await;
    for token in [None, Some("wrong-token")] {
        let answer = client(&python, &s.url, token, json!([{"op": "list"}])).await;
        assert!(
            answer.get("results").is_none() && answer["error"].is_string(),
            "{token:?}: {answer}"
        );
        // What the client was told, on the wire.
        let status = raw_post(&s.url, token, INITIALIZE).await;
        assert!(
            status.starts_with("http/1.1 401") && status.contains("www-authenticate: bearer"),
            "{token:?}: {status}"
        );
    }
    let with_token = raw_post(&s.url, Some(TOKEN), INITIALIZE).await;
    assert!(with_token.starts_with("http/1.1 200"), "{with_token}");
    s.stop.cancel();
    let _ = std::fs::remove_dir_all(&s.state);
}

const INITIALIZE: &str = r#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"raw","version":"1"}}}"#;

/// POST `body` to `url` with `token`; the response's status line and headers,
/// lower-cased.
async fn raw_post(url: &str, token: Option<&str>, body: &str) -> String {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let rest = url.strip_prefix("http://").expect("an http URL");
    let (authority, path) = rest.split_at(rest.find('/').expect("a path"));
    let auth = token
        .map(|t| format!("Authorization: Bearer {t}\r\n"))
        .unwrap_or_default();
    let request = format!(
        "POST {path} HTTP/1.1\r\nHost: {authority}\r\nContent-Type: application/json\r\nAccept: application/json, text/event-stream\r\n{auth}Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let mut stream = tokio::net::TcpStream::connect(authority)
        .await
        .expect("connect");
    // The server may answer (and close) before reading a body it refuses.
    let _ = stream.write_all(request.as_bytes()).await;
    let mut head = vec![0u8; 1024];
    let n = stream.read(&mut head).await.expect("read");
    String::from_utf8_lossy(&head[..n])
        .split("\r\n\r\n")
        .next()
        .unwrap_or_default()
        .to_ascii_lowercase()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_request_body_past_the_bound_is_not_read() {
    if mcp_python().is_none() {
        return;
    }
    let s = serve().await;
    let body = format!(
        r#"{{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{{"name":"calcbot_calc","arguments":{{"expression":"{}"}}}}}}"#,
        "1".repeat(host::mcp::MAX_BODY + 1)
    );
    let head = raw_post(&s.url, Some(TOKEN), &body).await;
    assert!(head.starts_with("http/1.1 413"), "{head}");
    s.stop.cancel();
    let _ = std::fs::remove_dir_all(&s.state);
}
