//! The server side: chosen plugin tools served to MCP clients (Claude Code, Cursor,
//! any agent that speaks the Model Context Protocol) over Streamable HTTP (`host mcp`).
//!
//! Invariants:
//! - the `[mcp_server]` section is the clients' grant (`tools`, `[approvals]`, like
//!   an agent's); nothing a client sends changes it, and every call goes through the
//!   same broker as an agent's ([`Board::serve_call`]): a fresh instance of the tool's
//!   plugin with that plugin's own grants and limits, `tool_timeout_ms`, the result cut
//!   to `tool_result_kib`, the audit line (`caller = mcp`);
//! - a tool that needs approval is refused: no DingTalk user stands behind an MCP call
//!   to say yes;
//! - with a token (`token_secret`) every request must carry `Authorization: Bearer
//!   <token>` (compared in constant time; 401 otherwise), and a listen address off
//!   loopback without one is refused at start;
//! - only requests whose `Host` names a loopback name, the listen address or an
//!   `allowed_hosts` entry are answered (DNS rebinding), and no body past
//!   [`MAX_BODY`] is read.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CallToolResult, ContentBlock, Implementation,
    JsonObject, ListToolsResult, PaginatedRequestParams, ServerCapabilities, ServerConfig, Tool,
};
use rmcp::service::{RequestContext, RoleServer};
use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
use rmcp::transport::streamable_http_server::{StreamableHttpServerConfig, StreamableHttpService};
use rmcp::{ErrorData, ServerHandler};
use serde::Deserialize;
use tokio_util::sync::CancellationToken;

use crate::config::Secret;
use crate::runtime::capability::grant::Grant as _;
use crate::runtime::capability::tools::{self, Board, Conversation, Talk};
use crate::runtime::{LimitOverrides, Limits};
use crate::secrets::Secrets;

/// Who the audit lines and the tools' conversation name as the caller.
pub const CALLER: &str = "mcp";

/// The default listen address.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:7790";

/// The largest request body read: a call's arguments (at most
/// [`tools::MAX_ARGUMENTS`]) with room for JSON escaping and the envelope; rmcp's own
/// default is 4 MiB.
pub const MAX_BODY: usize = 4 * tools::MAX_ARGUMENTS;

/// `[mcp_server]` but its grant, as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Section {
    #[serde(default)]
    listen: Option<SocketAddr>,
    #[serde(default)]
    path: Option<String>,
    #[serde(default)]
    token_secret: Option<String>,
    #[serde(default)]
    allowed_hosts: Vec<String>,
    #[serde(default)]
    limits: LimitOverrides,
}

/// The MCP server's settings, checked.
#[derive(Debug)]
pub struct McpServer {
    /// Where it listens.
    pub listen: SocketAddr,
    /// The endpoint's path (`/mcp`).
    pub path: String,
    token: Option<Secret>,
    allowed_hosts: Vec<String>,
    grant: tools::Grant,
    limits: Limits,
}

impl McpServer {
    /// Read `[mcp_server]` (`table`) under the file's default `limits`, the token
    /// from `secrets`.
    pub fn parse(
        table: &toml::Table,
        limits: &LimitOverrides,
        secrets: &Secrets,
    ) -> Result<Self, String> {
        // `tools` and `[approvals]` are the grant's, read below.
        let mut own = table.clone();
        own.remove("tools");
        own.remove("approvals");
        let section: Section = toml::Value::Table(own)
            .try_into()
            .map_err(|e: toml::de::Error| format!("[mcp_server]: {}", e.message().trim()))?;
        let grant = tools::Grant::parse(table).map_err(|e| format!("[mcp_server]: {e}"))?;
        if grant.is_empty() {
            return Err("[mcp_server]: `tools` lists no tools to serve".into());
        }
        let listen = section
            .listen
            .unwrap_or_else(|| DEFAULT_LISTEN.parse().expect("the default address parses"));
        let token = match &section.token_secret {
            Some(name) => Some(secrets.get(name).cloned().ok_or_else(|| {
                format!("[mcp_server] token_secret: no secret {name:?} in [secrets]")
            })?),
            None if !listen.ip().is_loopback() => {
                return Err(format!(
                    "[mcp_server]: listening on {listen}, off loopback, needs `token_secret` (a bearer token from [secrets])"
                ));
            }
            None => None,
        };
        let path = section.path.unwrap_or_else(|| "/mcp".into());
        if !path.starts_with('/') {
            return Err(format!("[mcp_server] path: {path:?} must start with /"));
        }
        Ok(Self {
            listen,
            path,
            token,
            allowed_hosts: section.allowed_hosts,
            grant,
            limits: Limits::default().with(limits).with(&section.limits),
        })
    }

    /// The tools clients will see (and which need approval, so are refused).
    pub fn served(&self, board: &Board) -> Vec<tools::Served> {
        board.served(&self.grant)
    }

    /// Serve `board`'s tools on `listener` until `stop` is cancelled.
    pub async fn serve(
        self,
        listener: tokio::net::TcpListener,
        board: Arc<Board>,
        stop: CancellationToken,
    ) -> std::io::Result<()> {
        let local = listener.local_addr()?;
        let mut hosts = vec![
            "localhost".to_owned(),
            "127.0.0.1".to_owned(),
            "::1".to_owned(),
            local.ip().to_string(),
        ];
        hosts.extend(self.allowed_hosts.iter().cloned());
        let handler = Handler {
            shared: Arc::new(Shared {
                board,
                grant: self.grant,
                limits: self.limits,
            }),
        };
        let service = StreamableHttpService::new(
            move || Ok(handler.clone()),
            LocalSessionManager::default().into(),
            StreamableHttpServerConfig::default()
                .with_allowed_hosts(hosts)
                .with_max_request_body_bytes(MAX_BODY)
                .with_cancellation_token(stop.child_token()),
        );
        let router = axum::Router::new()
            .nest_service(&self.path, service)
            .layer(middleware::from_fn_with_state(Arc::new(self.token), bearer));
        axum::serve(listener, router)
            .with_graceful_shutdown(async move { stop.cancelled().await })
            .await
    }
}

/// Refuse a request without the token, when there is one.
async fn bearer(
    State(token): State<Arc<Option<Secret>>>,
    request: Request,
    next: Next,
) -> Response {
    if let Some(token) = token.as_ref() {
        let given = request
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .unwrap_or_default();
        if !same(given.as_bytes(), token.expose().as_bytes()) {
            return (
                StatusCode::UNAUTHORIZED,
                [(header::WWW_AUTHENTICATE, "Bearer")],
                "a bearer token is required",
            )
                .into_response();
        }
    }
    next.run(request).await
}

/// Equal, in time that depends only on the lengths.
fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |d, (x, y)| d | (x ^ y)) == 0
}

struct Shared {
    board: Arc<Board>,
    grant: tools::Grant,
    limits: Limits,
}

#[derive(Clone)]
struct Handler {
    shared: Arc<Shared>,
}

/// The conversation an MCP call serves: one for all clients (no chat stands behind
/// it), so todobot's list for MCP clients is its own.
fn talk() -> Talk {
    Talk {
        conversation: Conversation {
            id: CALLER.into(),
            sender: CALLER.into(),
            is_group: false,
        },
        is_admin: false,
    }
}

impl ServerHandler for Handler {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(ServerCapabilities::builder().enable_tools().build()).with_server_info(
            Implementation::new("dingtalk-wasm-host", env!("CARGO_PKG_VERSION")),
        )
    }

    async fn list_tools(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, ErrorData> {
        let tools = self
            .shared
            .board
            .served(&self.shared.grant)
            .into_iter()
            .map(|t| {
                let schema: JsonObject = serde_json::from_str(&t.parameters).unwrap_or_default();
                Tool::new(t.name, t.description, Arc::new(schema))
            })
            .collect();
        Ok(ListToolsResult::with_all_items(tools))
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        let arguments =
            serde_json::Value::Object(request.arguments.unwrap_or_default()).to_string();
        let shared = &self.shared;
        let done = shared
            .board
            .serve_call(
                CALLER,
                &shared.grant,
                &shared.limits,
                &talk(),
                &request.name,
                &arguments,
            )
            .await;
        Ok(match done {
            Ok(text) => CallToolResult::success(vec![ContentBlock::text(text)]),
            Err(why) => CallToolResult::error(vec![ContentBlock::text(why)]),
        }
        .into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<McpServer, String> {
        McpServer::parse(
            &toml::from_str(text).expect("toml"),
            &LimitOverrides::default(),
            &Secrets::default().with("t", "s3cret"),
        )
    }

    #[test]
    fn off_loopback_a_token_is_required_and_it_must_name_a_secret() {
        let err = parse("listen = \"0.0.0.0:7790\"\ntools = [\"calcbot.*\"]").unwrap_err();
        assert!(err.contains("needs `token_secret`"), "{err}");
        let err = parse("token_secret = \"nope\"\ntools = [\"calcbot.*\"]").unwrap_err();
        assert!(err.contains("no secret \"nope\""), "{err}");
        let ok = parse("listen = \"0.0.0.0:7790\"\ntoken_secret = \"t\"\ntools = [\"calcbot.*\"]")
            .unwrap();
        assert_eq!(ok.path, "/mcp");
    }

    #[test]
    fn a_section_without_tools_or_with_an_unknown_key_is_refused() {
        assert!(
            parse("listen = \"127.0.0.1:1\"")
                .unwrap_err()
                .contains("no tools")
        );
        assert!(
            parse("tools = [\"a.*\"]\ntokens = 1")
                .unwrap_err()
                .contains("tokens")
        );
    }

    #[test]
    fn tokens_compare_equal_only_when_identical() {
        assert!(same(b"abc", b"abc"));
        assert!(!same(b"abc", b"abd") && !same(b"abc", b"abcd") && !same(b"", b"a"));
    }
}
