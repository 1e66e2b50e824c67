//! The client side: remote MCP servers the operator names (`[mcp.<server>]`) as a
//! source of tools for agents, each tool named `mcp.<server>.<tool>` and granted,
//! approved, bounded and audited by the agents' broker exactly as a plugin's.
//!
//! ```toml
//! [mcp.tracker]
//! url = "https://mcp.example.com/mcp"                  # Streamable HTTP
//! headers = { Authorization = "Bearer {secret.tracker_token}" }
//! tools = ["search_issues", "create_issue"]            # optional: only these
//! ```
//!
//! Invariants:
//! - every request goes to the configured URL alone, through
//!   [`Egress::client_for`]: internal addresses refused unless the URL names the IP
//!   or `localhost`, no proxy, no redirects, the connect and first-byte timeouts of
//!   `[limits]`; response bodies and SSE events are bounded by [`MAX_RESPONSE`];
//! - header values are filled from `[secrets]` by the host; a secret never reaches
//!   a plugin, a model or a log: the URL may not name one, and every text a server
//!   sends back (results, errors) has the secrets' values replaced
//!   ([`Secrets::redact`]), since a server can echo what it was sent;
//! - what a server lists is checked as a plugin's offer is: names as the MCP
//!   specification allows them, descriptions cut to [`tools::MAX_DESCRIPTION`],
//!   schemas of at most [`tools::MAX_PARAMETERS`], at most [`MAX_LISTED`] tools over
//!   at most [`MAX_PAGES`] pages (a server cannot make the host list forever);
//! - a call is bounded by the caller's `timeout` from the connection attempt to the
//!   result; a server that is down makes the call fail with a sentence naming the
//!   server, never wait. The session is re-established on the next call after the
//!   transport closed; rmcp re-initialises by itself after a 404 (expired session).
//!   A failed call is never retried: the server may have acted on it.
//! - no conversation id, sender or plugin name is sent: a remote server learns only
//!   the tool's name and arguments.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, PoisonError, RwLock};
use std::time::Duration;

use futures_util::future::BoxFuture;
use http::{HeaderName, HeaderValue};
use rmcp::ServiceExt as _;
use rmcp::model::{
    CallToolRequestParams, CallToolResult, ContentBlock, JsonObject, PaginatedRequestParams,
};
use rmcp::service::{Peer, RoleClient, RunningService, ServiceError};
use rmcp::transport::StreamableHttpClientTransport;
use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;
use serde::Deserialize;
use tokio_util::sync::CancellationToken;

use crate::egress::origin::{Host, Origin};
use crate::egress::{Destination, Egress, Timeouts};
use crate::runtime::capability::args::cap_text;
use crate::runtime::capability::tools::{
    self, Conversation, Offered, REMOTE_PREFIX, ToolFailure, ToolProvider, remote_tool_name_ok,
    server_name_ok,
};
use crate::runtime::{LimitOverrides, Limits};
use crate::secrets::{Secrets, Template};
use crate::stream::backoff::backoff;

/// Most tools taken from one server (after the `tools` filter).
pub const MAX_LISTED: usize = 128;
/// Most `tools/list` pages read from one server.
pub const MAX_PAGES: usize = 16;
/// Largest response body or SSE event read from a server.
pub const MAX_RESPONSE: usize = 1 << 20;

/// `[mcp.<server>]` as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Section {
    url: String,
    #[serde(default)]
    headers: BTreeMap<String, String>,
    #[serde(default)]
    tools: Option<Vec<String>>,
}

/// One remote MCP server's settings, checked.
#[derive(Debug, Clone)]
pub struct RemoteConfig {
    /// `<server>` of `[mcp.<server>]`.
    pub server: String,
    /// Its Streamable HTTP endpoint.
    pub url: String,
    /// Header names and their templates (secret names, never values).
    headers: Vec<(HeaderName, Template)>,
    /// Only these of its tools, when set.
    pub only: Option<Vec<String>>,
    timeouts: Timeouts,
}

/// Read every `[mcp.<server>]` section under the file's default `limits` (its
/// `http_connect_timeout_ms` and `http_first_byte_timeout_ms`); `secrets` must hold
/// every secret a header names.
pub fn parse(
    sections: &BTreeMap<String, toml::Table>,
    limits: &LimitOverrides,
    secrets: &Secrets,
) -> Result<Vec<RemoteConfig>, String> {
    let limits = Limits::default().with(limits);
    sections
        .iter()
        .map(|(server, table)| RemoteConfig::parse(server, table, &limits, secrets))
        .collect()
}

impl RemoteConfig {
    fn parse(
        server: &str,
        table: &toml::Table,
        limits: &Limits,
        secrets: &Secrets,
    ) -> Result<Self, String> {
        let at = format!("[mcp.{server}]");
        if !server_name_ok(server) {
            return Err(format!(
                "{at}: a server name is 1 to {} of a-z, 0-9, _ and -",
                tools::MAX_SERVER_NAME
            ));
        }
        let section: Section = toml::Value::Table(table.clone())
            .try_into()
            .map_err(|e: toml::de::Error| format!("{at}: {}", e.message().trim()))?;
        if section.url.contains("{secret.") {
            return Err(format!(
                "{at} url: a URL shows up in errors and logs; put the secret in `headers`"
            ));
        }
        let uri: http::Uri = section
            .url
            .parse()
            .map_err(|e| format!("{at} url: {:?} is not a URL: {e}", section.url))?;
        if Origin::of(&uri).is_none() {
            return Err(format!(
                "{at} url: {:?} needs http or https, an ASCII host and no user name",
                section.url
            ));
        }
        let mut headers = Vec::new();
        for (name, value) in &section.headers {
            let header = HeaderName::try_from(name.as_str())
                .map_err(|_| format!("{at} headers: {name:?} is not a header name"))?;
            let template =
                Template::parse(value).map_err(|e| format!("{at} headers.{name}: {e}"))?;
            let rendered = template
                .render(secrets)
                .map_err(|e| format!("{at} headers.{name}: {e}"))?;
            HeaderValue::from_str(rendered.expose())
                .map_err(|_| format!("{at} headers.{name}: not a valid header value"))?;
            headers.push((header, template));
        }
        if let Some(only) = &section.tools
            && let Some(bad) = only.iter().find(|t| !remote_tool_name_ok(t))
        {
            return Err(format!(
                "{at} tools: {bad:?} is not an MCP tool name (1 to {} of A-Z, a-z, 0-9, _, - and .)",
                tools::MAX_REMOTE_TOOL_NAME
            ));
        }
        Ok(Self {
            server: server.to_owned(),
            url: section.url,
            headers,
            only: section.tools,
            timeouts: Timeouts {
                connect: limits.http_connect_timeout,
                first_byte: limits.http_first_byte_timeout,
                between_bytes: limits.http_first_byte_timeout,
            },
        })
    }

    /// The header names it sends (values are secrets or from them).
    pub fn header_names(&self) -> impl Iterator<Item = &str> {
        self.headers.iter().map(|(n, _)| n.as_str())
    }
}

/// Clients of every server in `configs`, each connected and listed once (the
/// attempts side by side, each bounded by its timeouts); a server that cannot be
/// reached now is logged and tried again in the background until `stop`, its tools
/// offered once it answers.
pub async fn start(
    configs: Vec<RemoteConfig>,
    egress: &Egress,
    stop: &CancellationToken,
) -> Result<Vec<Arc<Remote>>, String> {
    let remotes: Vec<Arc<Remote>> = configs
        .into_iter()
        .map(|c| Remote::new(c, egress))
        .collect::<Result<_, _>>()?;
    let listed = futures_util::future::join_all(remotes.iter().map(|r| r.refresh())).await;
    for (remote, listed) in remotes.iter().zip(listed) {
        match listed {
            Ok(n) => {
                tracing::info!(server = %remote.config.server, url = %remote.config.url, tools = n, "MCP server connected");
            }
            Err(e) => {
                tracing::warn!(server = %remote.config.server, error = %e, "MCP server not reachable; its tools are offered once it answers");
                remote.keep_listed(stop.clone());
            }
        }
    }
    Ok(remotes)
}

/// A connected (or connectable) remote MCP server: a [`ToolProvider`].
pub struct Remote {
    provider: String,
    config: RemoteConfig,
    client: reqwest::Client,
    headers: HashMap<HeaderName, HeaderValue>,
    secrets: Secrets,
    offer: RwLock<Arc<[Offered]>>,
    session: tokio::sync::Mutex<Option<RunningService<RoleClient, ()>>>,
}

impl std::fmt::Debug for Remote {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Remote")
            .field("provider", &self.provider)
            .field("url", &self.config.url)
            .finish_non_exhaustive()
    }
}

/// Why a server could not be reached or used, as a sentence naming it.
fn failure(server: &str, what: &str, e: impl std::fmt::Display) -> String {
    format!("MCP server {server:?}: {what}: {e}")
}

/// The innermost cause of `e` (where the reason is: a refused address, a status),
/// rather than the layers of transport wrappers above it.
/// rmcp wraps its transport's error without naming it as the source, so those
/// layers are opened by hand.
fn cause(e: &(dyn std::error::Error + 'static)) -> String {
    type HttpError = rmcp::transport::streamable_http_client::StreamableHttpError<reqwest::Error>;
    let mut deepest = e;
    loop {
        let inner: Option<&(dyn std::error::Error + 'static)> =
            if let Some(rmcp::service::ClientInitializeError::TransportError { error, .. }) =
                deepest.downcast_ref()
            {
                Some(&*error.error)
            } else if let Some(HttpError::Client(client)) = deepest.downcast_ref::<HttpError>() {
                Some(client)
            } else {
                deepest.source()
            };
        match inner {
            Some(next) => deepest = next,
            None => return deepest.to_string(),
        }
    }
}

impl Remote {
    /// A client of `config`'s server over `egress` (its resolver, TLS roots and
    /// secrets). Nothing is sent until [`Remote::refresh`] or a call.
    pub fn new(config: RemoteConfig, egress: &Egress) -> Result<Arc<Self>, String> {
        let uri: http::Uri = config.url.parse().map_err(|e| format!("{e}"))?;
        let origin = Origin::of(&uri).ok_or("the URL has no origin")?;
        let allow_internal = match &origin.host {
            Host::Ip(_) => true,
            Host::Name(n) => n == "localhost",
        };
        let client = egress
            .client_for(
                Destination {
                    origin,
                    allow_internal,
                },
                config.timeouts,
            )
            .map_err(|e| failure(&config.server, "cannot build its HTTP client", e))?;
        let secrets = egress.secrets().clone();
        let mut headers = HashMap::new();
        for (name, template) in &config.headers {
            let value = template
                .render(&secrets)
                .map_err(|e| failure(&config.server, "a header names a missing secret", e))?;
            let mut value = HeaderValue::from_str(value.expose())
                .map_err(|_| failure(&config.server, "a header", "not a valid value"))?;
            value.set_sensitive(true);
            headers.insert(name.clone(), value);
        }
        Ok(Arc::new(Self {
            provider: format!("{REMOTE_PREFIX}{}", config.server),
            config,
            client,
            headers,
            secrets,
            offer: RwLock::new(Arc::from([])),
            session: tokio::sync::Mutex::new(None),
        }))
    }

    /// Its settings.
    pub fn config(&self) -> &RemoteConfig {
        &self.config
    }

    /// Connect (initialise a session) and list its tools anew; how many it offers.
    pub async fn refresh(&self) -> Result<usize, String> {
        let mut session = self.session.lock().await;
        if let Some(old) = session.take() {
            // The old session is dropped either way; a server gone quiet must not hold us.
            let _ = tokio::time::timeout(Duration::from_secs(1), old.cancel()).await;
        }
        let running = self.connect().await?;
        let offer = self.list(running.peer()).await?;
        let n = offer.len();
        *self.offer.write().unwrap_or_else(PoisonError::into_inner) = offer.into();
        *session = Some(running);
        Ok(n)
    }

    /// Keep trying [`Remote::refresh`] until it lists tools once (a server down at
    /// start comes up later), waiting longer after each failure, until `stop`.
    pub fn keep_listed(self: &Arc<Self>, stop: CancellationToken) {
        let me = Arc::downgrade(self);
        tokio::spawn(async move {
            let mut attempt = 0;
            loop {
                let Some(remote) = me.upgrade() else { return };
                match remote.refresh().await {
                    Ok(n) => {
                        tracing::info!(server = %remote.config.server, tools = n, "MCP server connected");
                        return;
                    }
                    Err(e) => {
                        tracing::warn!(server = %remote.config.server, error = %e, "MCP server not reachable; retrying")
                    }
                }
                drop(remote);
                let jitter = rand::random::<f64>();
                let wait = backoff(
                    attempt,
                    Duration::from_secs(1),
                    Duration::from_secs(60),
                    jitter,
                );
                attempt += 1;
                tokio::select! {
                    () = stop.cancelled() => return,
                    () = tokio::time::sleep(wait) => {}
                }
            }
        });
    }

    async fn connect(&self) -> Result<RunningService<RoleClient, ()>, String> {
        let server = &self.config.server;
        let config = StreamableHttpClientTransportConfig::with_uri(self.config.url.as_str())
            .custom_headers(self.headers.clone())
            .max_json_response_size(MAX_RESPONSE)
            .max_sse_event_size(MAX_RESPONSE)
            .max_error_response_size(4 << 10);
        let transport = StreamableHttpClientTransport::with_client(self.client.clone(), config);
        let wait = self.config.timeouts.connect + self.config.timeouts.first_byte;
        match tokio::time::timeout(wait, ().serve(transport)).await {
            Ok(Ok(running)) => Ok(running),
            Ok(Err(e)) => {
                Err(self.redacted(failure(server, "cannot initialise a session", cause(&e))))
            }
            Err(_) => Err(failure(
                server,
                "cannot initialise a session",
                format!("no answer within {wait:?}"),
            )),
        }
    }

    /// Its tools, checked and bounded (see the module's invariants).
    async fn list(&self, peer: &Peer<RoleClient>) -> Result<Vec<Offered>, String> {
        let server = &self.config.server;
        let mut out: Vec<Offered> = Vec::new();
        let mut cursor = None;
        for _ in 0..MAX_PAGES {
            let page = tokio::time::timeout(
                self.config.timeouts.first_byte,
                peer.list_tools(Some(PaginatedRequestParams::default().with_cursor(cursor))),
            )
            .await
            .map_err(|_| failure(server, "tools/list", "no answer in time"))?
            .map_err(|e| self.redacted(failure(server, "tools/list", cause(&e))))?;
            for tool in page.tools {
                let name = tool.name.to_string();
                if !remote_tool_name_ok(&name) {
                    tracing::warn!(server = %server, tool = %cap_text(name, 64), "MCP tool skipped: not a valid tool name");
                    continue;
                }
                if self
                    .config
                    .only
                    .as_ref()
                    .is_some_and(|o| !o.contains(&name))
                    || out.iter().any(|o| o.name == name)
                {
                    continue;
                }
                let parameters =
                    serde_json::Value::Object((*tool.input_schema).clone()).to_string();
                if parameters.len() > tools::MAX_PARAMETERS {
                    tracing::warn!(server = %server, tool = %name, bytes = parameters.len(), "MCP tool skipped: its input schema is past the bound");
                    continue;
                }
                if out.len() == MAX_LISTED {
                    tracing::warn!(server = %server, "MCP server lists more than {MAX_LISTED} tools; the rest are skipped (name the ones wanted in `tools`)");
                    return Ok(out);
                }
                let description = tool.description.map(|d| d.into_owned()).unwrap_or_default();
                out.push(Offered {
                    name,
                    description: self
                        .secrets
                        .redact(&cap_text(description, tools::MAX_DESCRIPTION)),
                    parameters,
                });
            }
            cursor = page.next_cursor;
            if cursor.is_none() {
                return Ok(out);
            }
        }
        tracing::warn!(server = %server, "MCP server's tool list goes past {MAX_PAGES} pages; the rest are skipped");
        Ok(out)
    }

    /// The live session's peer, connecting first when there is none or it closed.
    async fn peer(&self) -> Result<Peer<RoleClient>, String> {
        let mut session = self.session.lock().await;
        if let Some(s) = session.as_ref().filter(|s| !s.is_closed()) {
            return Ok(s.peer().clone());
        }
        let running = self.connect().await?;
        if self
            .offer
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .is_empty()
        {
            let offer = self.list(running.peer()).await?;
            *self.offer.write().unwrap_or_else(PoisonError::into_inner) = offer.into();
        }
        let peer = running.peer().clone();
        *session = Some(running);
        Ok(peer)
    }

    async fn call(&self, tool: &str, arguments: &str) -> Result<String, ToolFailure> {
        let server = &self.config.server;
        let arguments: JsonObject = serde_json::from_str(arguments)
            .map_err(|_| ToolFailure::Refused("the arguments are not a JSON object".into()))?;
        let peer = self.peer().await.map_err(ToolFailure::Unavailable)?;
        let params = CallToolRequestParams::new(tool.to_owned()).with_arguments(arguments);
        match peer.call_tool(params).await {
            Ok(result) => {
                let text = self.secrets.redact(&result_text(&result));
                if result.is_error == Some(true) {
                    Err(ToolFailure::Failed(text))
                } else {
                    Ok(text)
                }
            }
            Err(ServiceError::McpError(e)) => Err(ToolFailure::Failed(self.redacted(format!(
                "MCP server {server:?} answered error {}: {}",
                e.code.0, e.message
            )))),
            Err(e) => {
                // The transport is gone: the next call starts a new session.
                if let Ok(mut session) = self.session.try_lock() {
                    session.take();
                }
                Err(ToolFailure::Unavailable(self.redacted(failure(
                    server,
                    "tools/call",
                    cause(&e),
                ))))
            }
        }
    }

    fn redacted(&self, text: String) -> String {
        self.secrets.redact(&text)
    }
}

/// What a tool result says, as text for a model: its content blocks (what MCP
/// clients show a model; servers put a text form of structured content there), or
/// the structured content when there are none; blocks other than text are named,
/// not inlined.
fn result_text(result: &CallToolResult) -> String {
    if result.content.is_empty()
        && let Some(structured) = &result.structured_content
    {
        return structured.to_string();
    }
    let parts: Vec<String> = result
        .content
        .iter()
        .map(|block| match block {
            ContentBlock::Text(t) => t.text.clone(),
            ContentBlock::Image(i) => {
                format!("[image {}, {} base64 bytes]", i.mime_type, i.data.len())
            }
            ContentBlock::Audio(a) => {
                format!("[audio {}, {} base64 bytes]", a.mime_type, a.data.len())
            }
            ContentBlock::Resource(r) => format!("[resource {}]", resource_uri(&r.resource)),
            ContentBlock::ResourceLink(r) => format!("[resource link {}]", r.uri),
            _ => "[content of a kind this host does not know]".to_owned(),
        })
        .collect();
    parts.join("\n")
}

fn resource_uri(contents: &rmcp::model::ResourceContents) -> &str {
    match contents {
        rmcp::model::ResourceContents::TextResourceContents { uri, .. }
        | rmcp::model::ResourceContents::BlobResourceContents { uri, .. } => uri,
        _ => "(unknown)",
    }
}

impl ToolProvider for Remote {
    fn provider(&self) -> &str {
        &self.provider
    }

    fn offered(&self) -> Arc<[Offered]> {
        self.offer
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    fn run<'a>(
        &'a self,
        tool: &'a str,
        arguments: &'a str,
        _conversation: &'a Conversation,
        timeout: Duration,
    ) -> BoxFuture<'a, Result<String, ToolFailure>> {
        Box::pin(async move {
            tokio::time::timeout(timeout, self.call(tool, arguments))
                .await
                .unwrap_or(Err(ToolFailure::Timeout(timeout)))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_one(text: &str) -> Result<RemoteConfig, String> {
        let mut sections = BTreeMap::new();
        sections.insert("tracker".to_owned(), toml::from_str(text).expect("toml"));
        parse(
            &sections,
            &LimitOverrides::default(),
            &Secrets::default().with("tok", "s3cret"),
        )
        .map(|mut v| v.remove(0))
    }

    #[test]
    fn a_server_section_needs_a_url_without_secrets_and_headers_that_name_known_secrets() {
        let ok = parse_one(
            "url = \"https://mcp.example.com/mcp\"\nheaders = { Authorization = \"Bearer {secret.tok}\" }\ntools = [\"search_issues\"]",
        )
        .unwrap();
        assert_eq!(ok.header_names().collect::<Vec<_>>(), ["authorization"]);
        assert_eq!(ok.only.as_deref(), Some(&["search_issues".to_owned()][..]));
        let err = parse_one("url = \"https://x.example/{secret.tok}\"").unwrap_err();
        assert!(err.contains("put the secret in `headers`"), "{err}");
        let err = parse_one(
            "url = \"https://x.example/mcp\"\nheaders = { Authorization = \"{secret.nope}\" }",
        )
        .unwrap_err();
        assert!(err.contains("nope"), "{err}");
        let err = parse_one("url = \"ftp://x.example/mcp\"").unwrap_err();
        assert!(err.contains("needs http or https"), "{err}");
        let err = parse_one("url = \"https://user@x.example/mcp\"").unwrap_err();
        assert!(err.contains("no user name"), "{err}");
        let err = parse_one("url = \"https://x.example/mcp\"\ncommand = \"sh\"").unwrap_err();
        assert!(err.contains("command"), "{err}");
        let err = parse_one("url = \"https://x.example/mcp\"\ntools = [\"a b\"]").unwrap_err();
        assert!(err.contains("not an MCP tool name"), "{err}");
    }

    #[test]
    fn a_server_name_is_short_and_plain() {
        let mut sections = BTreeMap::new();
        sections.insert(
            "Tracker.x".to_owned(),
            toml::from_str("url = \"https://x.example\"").expect("toml"),
        );
        let err = parse(&sections, &LimitOverrides::default(), &Secrets::default()).unwrap_err();
        assert!(err.contains("server name"), "{err}");
    }

    #[test]
    fn a_result_reads_as_its_content_blocks_or_else_its_structured_content() {
        let mut r = CallToolResult::success(vec![ContentBlock::text("a"), ContentBlock::text("b")]);
        r.structured_content = Some(serde_json::json!({"sum": 5}));
        assert_eq!(result_text(&r), "a\nb");
        r.content.clear();
        assert_eq!(result_text(&r), "{\"sum\":5}");
    }
}
