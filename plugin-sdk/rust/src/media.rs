//! Upload files to DingTalk (to get a media id for cards and markdown) and download
//! the files users sent to the robot.

use crate::Error;
use crate::bindings::dingtalk::bot::media as wit;

pub use wit::MediaKind;

/// Upload `bytes` as `filename`; returns the media id (`@…`). The host checks
/// DingTalk's type and size limits first and says which one failed.
pub fn upload(kind: MediaKind, filename: &str, bytes: &[u8]) -> Result<String, Error> {
    wit::upload(kind, filename, bytes)
}

/// Download a file of the message being handled by its download code, refusing
/// anything larger than `max_bytes`.
pub fn download(download_code: &str, max_bytes: u64) -> Result<Vec<u8>, Error> {
    wit::download(download_code, max_bytes)
}
