//! The Model Context Protocol, both ways, through the official Rust SDK (`rmcp`):
//! - [`server`]: `host mcp` serves chosen plugin tools to MCP clients;
//! - [`client`]: the host connects to the MCP servers the operator names
//!   (`[mcp.<server>]`) and offers their tools to agents as `mcp.<server>.<tool>`.
//!
//! Either way the agents' broker (`runtime::capability::tools`) stays the one place
//! that grants, approves, bounds and audits a call; neither side widens it.

pub mod client;
pub mod server;

pub use server::{CALLER, DEFAULT_LISTEN, MAX_BODY, McpServer};
