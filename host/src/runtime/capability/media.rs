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

use super::args::check_len;
use crate::openapi::media as media_api;
use crate::runtime::allowance::DingtalkCall;
use crate::runtime::bindings::dingtalk::bot::media;
use crate::runtime::bindings::linked_view;
use crate::runtime::bindings::{HostResult, denied, invalid};
use crate::runtime::caller::Calls;

/// Longest download code accepted (DingTalk's are a few hundred bytes).
pub const MAX_DOWNLOAD_CODE: usize = 4096;

fn media_kind(k: media::MediaKind) -> media_api::MediaKind {
    match k {
        media::MediaKind::Image => media_api::MediaKind::Image,
        media::MediaKind::Voice => media_api::MediaKind::Voice,
        media::MediaKind::Video => media_api::MediaKind::Video,
        media::MediaKind::File => media_api::MediaKind::File,
    }
}

/// What the media functions use: the files the frame referenced, the memory limit.
pub struct View<'a> {
    /// The plugin and its frame's DingTalk calls.
    pub calls: Calls<'a>,
    /// The download codes the frame carried.
    pub download_codes: &'a [String],
    /// The linear memory the instance may use (no download is larger).
    pub memory_limit: usize,
}

linked_view!(View);

impl media::Host for View<'_> {
    async fn upload(
        &mut self,
        kind: media::MediaKind,
        filename: String,
        bytes: Vec<u8>,
    ) -> HostResult<String> {
        self.calls
            .caller()
            .counted("media", async {
                let kind = media_kind(kind);
                let mime = media_api::check(kind, &filename, bytes.len()).map_err(invalid)?;
                let api = self.calls.api()?;
                self.calls.dingtalk(DingtalkCall::Media)?;
                Ok(media_api::upload(&api, kind, &filename, mime, bytes).await?)
            })
            .await
    }

    async fn download(&mut self, code: String, max_bytes: u64) -> HostResult<Vec<u8>> {
        self.calls
            .caller()
            .counted("media", async {
                check_len("the download code", &code, MAX_DOWNLOAD_CODE)?;
                if !self.download_codes.contains(&code) {
                    return Err(denied(
                        "only files of the message being handled may be downloaded",
                    ));
                }
                let max_bytes = max_bytes
                    .min(self.memory_limit as u64)
                    .min(self.calls.caller().buffer_capacity());
                let api = self.calls.api()?;
                self.calls.dingtalk(DingtalkCall::Media)?;
                let download = media_api::open_download(&api, &code, max_bytes).await?;
                self.calls
                    .reserve("this download", download.bound())
                    .await?;
                Ok(download.read().await?)
            })
            .await
    }
}
