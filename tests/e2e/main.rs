//! End-to-end tests: the real host, the real simulator and the real calcbot
//! component, over loopback sockets. One behaviour per module, one test binary (so
//! wasmtime is linked once).

mod agents;
mod aibot;
mod api;
mod apps;
mod bounds;
mod cache;
mod calcbot;
mod cards;
mod chat_routing;
mod connection;
mod hostile;
mod js_plugins;
mod malformed;
mod mcp;
mod mcp_client;
mod outbound;
mod plugins;
mod python_plugins;
mod python_sdk;
mod redelivery;
mod reload;
mod routing;
mod sandbox;
mod shutdown;
mod soak;
mod state;
mod warm;
