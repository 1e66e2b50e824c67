//! Per-store state and the host side of every import.
//!
//! A [`State`] lives exactly as long as one `Store`: one frame, or one canary call.
//! It holds the WASI context (no files, env, args or sockets; stderr captured), the
//! store's limits, the plugin's shared context and the frame's [`FrameScope`].
//!
//! Host functions that wait (HTTP, sleep) check what they need from the state first
//! and then await futures that borrow nothing from it.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::Value;
use wasmtime::component::ResourceTable;
use wasmtime::{StoreLimits, StoreLimitsBuilder};
use wasmtime_wasi::p2::pipe::MemoryOutputPipe;
use wasmtime_wasi::{WasiCtx, WasiCtxBuilder, WasiCtxView, WasiView};

use super::bindings::dingtalk::bot::{
    cards, clock, config, log, media, messages, openapi as openapi_wit, reply, types,
};
use super::bindings::{DingtalkError, WitError};
use super::grants::Grants;
use super::scope::FrameScope;
use crate::openapi::api::OpenApi;
use crate::openapi::{
    self, Http, Step, cards as card_api, media as media_api, messages as message_api, webhook,
};

/// What every plugin call can use.
#[derive(Debug, Clone)]
pub struct Services {
    /// The shared DingTalk HTTP client (webhooks need no token).
    pub http: Http,
    /// Token-authenticated APIs; `None` when the host has no credentials.
    pub api: Option<Arc<OpenApi>>,
}

/// What is fixed for one loaded plugin.
#[derive(Debug)]
pub(crate) struct PluginContext {
    pub name: String,
    pub config: BTreeMap<String, String>,
    pub grants: Grants,
    pub services: Arc<Services>,
}

/// Bytes of guest stderr kept per call (enough for a panic message and backtrace).
const STDERR_CAPACITY: usize = 16 * 1024;

/// Longest single sleep a plugin may ask for; the wall-clock limit bounds the total.
const MAX_SLEEP: Duration = Duration::from_secs(60);

pub(crate) struct State {
    wasi: WasiCtx,
    table: ResourceTable,
    pub limits: StoreLimits,
    pub stderr: MemoryOutputPipe,
    pub plugin: Arc<PluginContext>,
    pub scope: FrameScope,
    /// Epoch ticks this call may still spend in guest code.
    pub cpu_ticks_left: u64,
}

impl State {
    pub fn new(
        plugin: Arc<PluginContext>,
        scope: FrameScope,
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
            scope,
            cpu_ticks_left: cpu_ticks,
        }
    }

    /// What the guest wrote to stderr, trimmed (a panic message, usually).
    pub fn stderr_text(&self) -> String {
        String::from_utf8_lossy(&self.stderr.contents())
            .trim()
            .to_owned()
    }

    /// Check the webhook now; the returned future holds no borrow of the state.
    fn send_reply(
        &self,
        url: String,
        body: Value,
    ) -> impl Future<Output = Result<(), WitError>> + Send + 'static {
        let checked = self.scope.check_webhook(&url).map_err(WitError::Denied);
        let services = self.plugin.services.clone();
        async move {
            checked?;
            webhook::send(&services.http, &url, &body)
                .await
                .map_err(to_wit)
        }
    }

    fn conversation(&self) -> Result<card_api::Receiver, WitError> {
        self.scope.conversation.clone().ok_or_else(|| {
            WitError::Denied(
                "cards go to the conversation of a chatbot message; this frame has none".into(),
            )
        })
    }

    fn proactive(&self, msg_param: &str) -> Result<(Value, Arc<OpenApi>), WitError> {
        if !self.plugin.grants.proactive {
            return Err(WitError::Denied(format!(
                "plugin {:?} is not granted proactive messages (set `proactive = true` in its host config section)",
                self.plugin.name
            )));
        }
        if msg_param.len() > message_api::MAX_MSG_PARAM {
            return Err(WitError::InvalidArgument(format!(
                "msgParam is {} bytes; DingTalk takes at most {}",
                msg_param.len(),
                message_api::MAX_MSG_PARAM
            )));
        }
        Ok((json_object("msgParam", msg_param)?, self.api()?))
    }

    fn api(&self) -> Result<Arc<OpenApi>, WitError> {
        self.plugin.services.api.clone().ok_or_else(|| {
            WitError::Denied("the host has no app credentials for DingTalk APIs".into())
        })
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
        e @ openapi::Error::TooLarge { .. } => WitError::InvalidArgument(e.to_string()),
        e @ (openapi::Error::Network { .. }
        | openapi::Error::Connect { .. }
        | openapi::Error::BadResponse { .. }) => WitError::Network(e.to_string()),
    }
}

/// Parse a plugin-supplied JSON object.
fn json_object(what: &str, text: &str) -> Result<Value, WitError> {
    match serde_json::from_str::<Value>(text) {
        Ok(v @ Value::Object(_)) => Ok(v),
        Ok(_) => Err(WitError::InvalidArgument(format!(
            "{what} must be a JSON object"
        ))),
        Err(e) => Err(WitError::InvalidArgument(format!(
            "{what} is not valid JSON: {e}"
        ))),
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

fn button(b: reply::ActionButton) -> webhook::Button {
    webhook::Button {
        title: b.title,
        url: b.action_url,
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

    async fn action_card(
        &mut self,
        url: String,
        card: reply::ActionCardContent,
    ) -> wasmtime::Result<Result<(), WitError>> {
        let single = card.single.map(button);
        let buttons: Vec<webhook::Button> = card.buttons.into_iter().map(button).collect();
        let body = webhook::action_card_body(
            &card.title,
            &card.text,
            single.as_ref(),
            &buttons,
            card.vertical,
        );
        Ok(self.send_reply(url, body).await)
    }

    async fn link(
        &mut self,
        url: String,
        link: reply::LinkContent,
    ) -> wasmtime::Result<Result<(), WitError>> {
        let body = webhook::link_body(&link.title, &link.text, &link.message_url, &link.pic_url);
        Ok(self.send_reply(url, body).await)
    }

    async fn feed_card(
        &mut self,
        url: String,
        links: Vec<reply::FeedLink>,
    ) -> wasmtime::Result<Result<(), WitError>> {
        let links: Vec<(String, String, String)> = links
            .into_iter()
            .map(|l| (l.title, l.message_url, l.pic_url))
            .collect();
        Ok(self.send_reply(url, webhook::feed_card_body(&links)).await)
    }
}

fn media_kind(k: media::MediaKind) -> media_api::MediaKind {
    match k {
        media::MediaKind::Image => media_api::MediaKind::Image,
        media::MediaKind::Voice => media_api::MediaKind::Voice,
        media::MediaKind::Video => media_api::MediaKind::Video,
        media::MediaKind::File => media_api::MediaKind::File,
    }
}

impl media::Host for State {
    async fn upload(
        &mut self,
        kind: media::MediaKind,
        filename: String,
        bytes: Vec<u8>,
    ) -> wasmtime::Result<Result<String, WitError>> {
        let kind = media_kind(kind);
        let mime = match media_api::check(kind, &filename, bytes.len()) {
            Ok(m) => m,
            Err(reason) => return Ok(Err(WitError::InvalidArgument(reason))),
        };
        let api = match self.api() {
            Ok(api) => api,
            Err(e) => return Ok(Err(e)),
        };
        Ok(media_api::upload(&api, kind, &filename, mime, bytes)
            .await
            .map_err(to_wit))
    }

    async fn download(
        &mut self,
        code: String,
        max_bytes: u64,
    ) -> wasmtime::Result<Result<Vec<u8>, WitError>> {
        if !self.scope.download_codes.contains(&code) {
            return Ok(Err(WitError::Denied(
                "only files of the message being handled may be downloaded".into(),
            )));
        }
        let api = match self.api() {
            Ok(api) => api,
            Err(e) => return Ok(Err(e)),
        };
        Ok(media_api::download(&api, &code, max_bytes)
            .await
            .map_err(to_wit))
    }
}

impl cards::Host for State {
    async fn send_standard(
        &mut self,
        biz_id: String,
        card: String,
    ) -> wasmtime::Result<Result<String, WitError>> {
        let prepared = (|| {
            let card = json_object("the card", &card)?;
            let to = self.scope.conversation.clone().ok_or_else(|| {
                WitError::Denied(
                    "cards go to the conversation of a chatbot message; this frame has none".into(),
                )
            })?;
            Ok::<_, WitError>((card, to, self.api()?))
        })();
        let (card, to, api) = match prepared {
            Ok(p) => p,
            Err(e) => return Ok(Err(e)),
        };
        Ok(card_api::send_standard(&api, &biz_id, &card, &to)
            .await
            .map_err(to_wit))
    }

    async fn update_standard(
        &mut self,
        biz_id: String,
        card: String,
    ) -> wasmtime::Result<Result<(), WitError>> {
        let prepared = json_object("the card", &card).and_then(|c| Ok((c, self.api()?)));
        let (card, api) = match prepared {
            Ok(p) => p,
            Err(e) => return Ok(Err(e)),
        };
        Ok(card_api::update_standard(&api, &biz_id, &card)
            .await
            .map_err(to_wit))
    }

    async fn create_instance(
        &mut self,
        card: cards::CardInstance,
    ) -> wasmtime::Result<Result<(), WitError>> {
        let (card, api) = match instance(card).and_then(|c| Ok((c, self.api()?))) {
            Ok(p) => p,
            Err(e) => return Ok(Err(e)),
        };
        Ok(card_api::create_instance(&api, &card).await.map_err(to_wit))
    }

    async fn deliver_instance(
        &mut self,
        out_track_id: String,
    ) -> wasmtime::Result<Result<(), WitError>> {
        let (to, api) = match self.conversation().and_then(|to| Ok((to, self.api()?))) {
            Ok(p) => p,
            Err(e) => return Ok(Err(e)),
        };
        Ok(card_api::deliver_instance(&api, &out_track_id, &to)
            .await
            .map_err(to_wit))
    }

    async fn create_and_deliver(
        &mut self,
        card: cards::CardInstance,
    ) -> wasmtime::Result<Result<(), WitError>> {
        let prepared = instance(card).and_then(|c| Ok((c, self.conversation()?, self.api()?)));
        let (card, to, api) = match prepared {
            Ok(p) => p,
            Err(e) => return Ok(Err(e)),
        };
        Ok(card_api::create_and_deliver(&api, &card, &to)
            .await
            .map_err(to_wit))
    }

    async fn update_instance(
        &mut self,
        out_track_id: String,
        params: String,
        private: Option<String>,
        by_key: bool,
    ) -> wasmtime::Result<Result<(), WitError>> {
        let prepared = (|| {
            let params = object_map("the card params", &params)?;
            let private = private
                .map(|p| object_map("the private params", &p))
                .transpose()?;
            Ok::<_, WitError>((params, private, self.api()?))
        })();
        let (params, private, api) = match prepared {
            Ok(p) => p,
            Err(e) => return Ok(Err(e)),
        };
        let result =
            card_api::update_instance(&api, &out_track_id, &params, private.as_ref(), by_key).await;
        Ok(result.map_err(to_wit))
    }

    async fn stream_instance(
        &mut self,
        out_track_id: String,
        key: String,
        content: String,
        full: bool,
        finalize: bool,
        failed: bool,
    ) -> wasmtime::Result<Result<(), WitError>> {
        let api = match self.api() {
            Ok(api) => api,
            Err(e) => return Ok(Err(e)),
        };
        let update = card_api::StreamUpdate {
            out_track_id: &out_track_id,
            key: &key,
            content: &content,
            full,
            finalize,
            failed,
        };
        Ok(card_api::stream_instance(&api, &update)
            .await
            .map_err(to_wit))
    }
}

fn object_map(what: &str, text: &str) -> Result<serde_json::Map<String, Value>, WitError> {
    match json_object(what, text)? {
        Value::Object(m) => Ok(m),
        _ => Err(WitError::InvalidArgument(format!(
            "{what} must be a JSON object"
        ))),
    }
}

fn instance(card: cards::CardInstance) -> Result<card_api::Instance, WitError> {
    if card.template_id.is_empty() || card.out_track_id.is_empty() {
        return Err(WitError::InvalidArgument(
            "a card instance needs a template id and an out-track-id".into(),
        ));
    }
    Ok(card_api::Instance {
        params: object_map("the card params", &card.params)?,
        template_id: card.template_id,
        out_track_id: card.out_track_id,
        callback_route_key: card.callback_route_key,
    })
}

impl messages::Host for State {
    async fn send_to_users(
        &mut self,
        user_ids: Vec<String>,
        msg_key: String,
        msg_param: String,
    ) -> wasmtime::Result<Result<String, WitError>> {
        let (param, api) = match self.proactive(&msg_param) {
            Ok(p) => p,
            Err(e) => return Ok(Err(e)),
        };
        let result = message_api::send_to_users(&api, &user_ids, &msg_key, &param).await;
        Ok(result.map_err(to_wit))
    }

    async fn send_to_group(
        &mut self,
        open_conversation_id: String,
        msg_key: String,
        msg_param: String,
    ) -> wasmtime::Result<Result<String, WitError>> {
        let (param, api) = match self.proactive(&msg_param) {
            Ok(p) => p,
            Err(e) => return Ok(Err(e)),
        };
        let result =
            message_api::send_to_group(&api, &open_conversation_id, &msg_key, &param).await;
        Ok(result.map_err(to_wit))
    }
}

impl openapi_wit::Host for State {
    async fn call(
        &mut self,
        method: String,
        path: String,
        body: Option<String>,
    ) -> wasmtime::Result<Result<String, WitError>> {
        let prepared = (|| {
            let method = match method.to_ascii_uppercase().as_str() {
                "GET" => reqwest::Method::GET,
                "POST" => reqwest::Method::POST,
                "PUT" => reqwest::Method::PUT,
                "PATCH" => reqwest::Method::PATCH,
                "DELETE" => reqwest::Method::DELETE,
                other => {
                    return Err(WitError::InvalidArgument(format!(
                        "unsupported method {other:?}"
                    )));
                }
            };
            if !self.plugin.grants.allows_path(&path) {
                return Err(WitError::Denied(format!(
                    "plugin {:?} is not granted the OpenAPI path {path:?} (add it to `openapi` in its host config section)",
                    self.plugin.name
                )));
            }
            let body = match body {
                Some(text) => Some(serde_json::from_str::<Value>(&text).map_err(|e| {
                    WitError::InvalidArgument(format!("the body is not valid JSON: {e}"))
                })?),
                None => None,
            };
            Ok((method, body, self.api()?))
        })();
        let (method, body, api) = match prepared {
            Ok(p) => p,
            Err(e) => return Ok(Err(e)),
        };
        let result = api.call(Step::OpenApi, method, &path, body.as_ref()).await;
        Ok(result.map(|v| v.to_string()).map_err(to_wit))
    }
}

impl clock::Host for State {
    async fn now_ms(&mut self) -> wasmtime::Result<u64> {
        Ok(SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_millis() as u64)
            .unwrap_or(0))
    }

    async fn sleep_ms(&mut self, ms: u32) -> wasmtime::Result<()> {
        tokio::time::sleep(Duration::from_millis(ms.into()).min(MAX_SLEEP)).await;
        Ok(())
    }
}
