//! Per-store state and the host side of every import.
//!
//! A [`State`] lives exactly as long as one `Store`: one frame, or one canary call.
//! It holds the WASI context (no files, env, args or sockets; stderr captured), the
//! store's limits, the plugin's shared context and what this frame allows (the one
//! session webhook the frame carried).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use wasmtime::component::ResourceTable;
use wasmtime::{StoreLimits, StoreLimitsBuilder};
use wasmtime_wasi::p2::pipe::MemoryOutputPipe;
use wasmtime_wasi::{WasiCtx, WasiCtxBuilder, WasiCtxView, WasiView};

use super::bindings::dingtalk::bot::{config, log, reply, types};
use super::bindings::{DingtalkError, WitError};
use crate::openapi::{self, Http, webhook};

/// What every plugin call can use: the HTTP client.
#[derive(Debug, Clone)]
pub struct Services {
    /// The shared DingTalk HTTP client.
    pub http: Http,
}

/// What is fixed for one loaded plugin.
#[derive(Debug)]
pub(crate) struct PluginContext {
    pub name: String,
    pub config: BTreeMap<String, String>,
    pub services: Arc<Services>,
}

/// A session webhook a frame carried, and until when it may be used.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct SessionWebhook {
    pub url: String,
    pub expires_at_ms: i64,
}

/// Bytes of guest stderr kept per call (enough for a panic message and backtrace).
const STDERR_CAPACITY: usize = 16 * 1024;

pub(crate) struct State {
    wasi: WasiCtx,
    table: ResourceTable,
    pub limits: StoreLimits,
    pub stderr: MemoryOutputPipe,
    pub plugin: Arc<PluginContext>,
    pub webhook: Option<SessionWebhook>,
    /// Epoch ticks this call may still spend in guest code.
    pub cpu_ticks_left: u64,
}

impl State {
    pub fn new(
        plugin: Arc<PluginContext>,
        webhook: Option<SessionWebhook>,
        memory_bytes: usize,
        cpu_ticks: u64,
    ) -> Self {
        let stderr = MemoryOutputPipe::new(STDERR_CAPACITY);
        let wasi = WasiCtxBuilder::new().stderr(stderr.clone()).build();
        Self {
            wasi,
            table: ResourceTable::new(),
            limits: StoreLimitsBuilder::new()
                .memory_size(memory_bytes)
                .trap_on_grow_failure(true)
                .build(),
            stderr,
            plugin,
            webhook,
            cpu_ticks_left: cpu_ticks,
        }
    }

    /// What the guest wrote to stderr, trimmed (a panic message, usually).
    pub fn stderr_text(&self) -> String {
        String::from_utf8_lossy(&self.stderr.contents())
            .trim()
            .to_owned()
    }

    fn check_webhook(&self, url: &str) -> Result<(), WitError> {
        let Some(allowed) = &self.webhook else {
            return Err(WitError::Denied(
                "this frame carried no session webhook to reply to".into(),
            ));
        };
        if allowed.url != url {
            return Err(WitError::Denied(
                "replies may only go to the session webhook of the frame being handled".into(),
            ));
        }
        let now_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_millis() as i64)
            .unwrap_or(i64::MAX);
        if allowed.expires_at_ms != 0 && now_ms >= allowed.expires_at_ms {
            return Err(WitError::Denied("the session webhook has expired".into()));
        }
        Ok(())
    }

    /// Check the webhook now; the returned future holds no borrow of the state.
    fn send_reply(
        &self,
        url: String,
        body: serde_json::Value,
    ) -> impl Future<Output = Result<(), WitError>> + Send + 'static {
        let checked = self.check_webhook(&url);
        let services = self.plugin.services.clone();
        async move {
            checked?;
            webhook::send(&services.http, &url, &body)
                .await
                .map_err(to_wit)
        }
    }
}

/// The guest's view of a DingTalk HTTP error.
pub(crate) fn to_wit(e: openapi::Error) -> WitError {
    match e {
        openapi::Error::Api {
            status,
            code,
            message,
            ..
        } => WitError::Dingtalk(DingtalkError {
            status,
            code,
            message,
        }),
        openapi::Error::Timeout { step } => WitError::Timeout(format!("{step} timed out")),
        e @ (openapi::Error::Network { .. } | openapi::Error::BadResponse { .. }) => {
            WitError::Network(e.to_string())
        }
    }
}

impl WasiView for State {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl types::Host for State {}

impl log::Host for State {
    async fn log(&mut self, level: log::Level, message: String) -> wasmtime::Result<()> {
        let plugin = self.plugin.name.as_str();
        match level {
            log::Level::Trace => tracing::trace!(plugin, "{message}"),
            log::Level::Debug => tracing::debug!(plugin, "{message}"),
            log::Level::Info => tracing::info!(plugin, "{message}"),
            log::Level::Warn => tracing::warn!(plugin, "{message}"),
            log::Level::Error => tracing::error!(plugin, "{message}"),
        }
        Ok(())
    }
}

impl config::Host for State {
    async fn get(&mut self, key: String) -> wasmtime::Result<Option<String>> {
        Ok(self.plugin.config.get(&key).cloned())
    }
}

fn at(a: reply::At) -> webhook::At {
    webhook::At {
        user_ids: a.user_ids,
        mobiles: a.mobiles,
        all: a.all,
    }
}

impl reply::Host for State {
    async fn text(
        &mut self,
        url: String,
        content: String,
        mentions: reply::At,
    ) -> wasmtime::Result<Result<(), WitError>> {
        Ok(self
            .send_reply(url, webhook::text_body(&content, &at(mentions)))
            .await)
    }

    async fn markdown(
        &mut self,
        url: String,
        title: String,
        text: String,
        mentions: reply::At,
    ) -> wasmtime::Result<Result<(), WitError>> {
        Ok(self
            .send_reply(url, webhook::markdown_body(&title, &text, &at(mentions)))
            .await)
    }
}
