//! Media: upload files to get a media id (protocol.md D.3), download the files of the
//! message being handled (D.4).
//!
//! Scope: only download codes the frame carried may be downloaded. Limits: DingTalk's
//! type and size limits per kind, file names of at most 255 bytes without control
//! characters, quotes, slashes or backslashes (they end up in a multipart header),
//! and a download never larger than the plugin's memory limit or its whole
//! host-buffer budget, whatever it asks: its declared size (else that bound) is
//! reserved from the budget before its body is read. Both count as DingTalk calls
//! (`runtime::allowance`).

use wasmtime::component::Linker;

use super::{HostResult, NoGrant, check_len, denied, invalid, link_iface};
use crate::openapi::media as media_api;
use crate::runtime::allowance::DingtalkCall;
use crate::runtime::bindings::dingtalk::bot::media;
use crate::runtime::state::State;

/// Longest download code accepted (DingTalk's are a few hundred bytes).
pub const MAX_DOWNLOAD_CODE: usize = 4096;

/// The media capability.
pub struct Capability;

impl super::Capability for Capability {
    type Grant = NoGrant;

    fn add_to_linker(linker: &mut Linker<State>) -> wasmtime::Result<()> {
        link_iface!(linker, media)
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
    ) -> HostResult<String> {
        let this = &mut *self;
        let result: HostResult<String> = async move {
            let kind = media_kind(kind);
            let mime = media_api::check(kind, &filename, bytes.len()).map_err(invalid)?;
            let api = this.api()?;
            this.dingtalk_call(DingtalkCall::Media)?;
            Ok(media_api::upload(&api, kind, &filename, mime, bytes).await?)
        }
        .await;
        self.count_call("media", &result);
        result
    }

    async fn download(&mut self, code: String, max_bytes: u64) -> HostResult<Vec<u8>> {
        let this = &mut *self;
        let result: HostResult<Vec<u8>> = async move {
            check_len("the download code", &code, MAX_DOWNLOAD_CODE)?;
            if !this.scope.download_codes.contains(&code) {
                return Err(denied(
                    "only files of the message being handled may be downloaded",
                ));
            }
            let max_bytes = max_bytes
                .min(this.memory_limit() as u64)
                .min(this.plugin.bytes.capacity());
            let api = this.api()?;
            this.dingtalk_call(DingtalkCall::Media)?;
            let download = media_api::open_download(&api, &code, max_bytes).await?;
            this.reserve_result("this download", download.bound())
                .await?;
            Ok(download.read().await?)
        }
        .await;
        self.count_call("media", &result);
        result
    }
}
