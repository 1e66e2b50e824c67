//! Media upload (protocol.md D.3) and robot message file download (D.4).

use serde_json::{Value, json};

use super::answer::{Error, Step, read_capped};
use super::api::OpenApi;

/// The media kinds of `media/upload`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MediaKind {
    /// Pictures.
    Image,
    /// Voice clips.
    Voice,
    /// Videos.
    Video,
    /// Documents and archives.
    File,
}

impl MediaKind {
    /// The `type` form field.
    pub fn as_str(self) -> &'static str {
        match self {
            MediaKind::Image => "image",
            MediaKind::Voice => "voice",
            MediaKind::Video => "video",
            MediaKind::File => "file",
        }
    }

    /// DingTalk's size limit for this kind, in bytes.
    pub fn max_bytes(self) -> usize {
        match self {
            MediaKind::Voice => 2 << 20,
            _ => 20 << 20,
        }
    }

    fn extensions(self) -> &'static [&'static str] {
        match self {
            MediaKind::Image => &["jpg", "jpeg", "gif", "png", "bmp"],
            MediaKind::Voice => &["amr", "mp3", "wav"],
            MediaKind::Video => &["mp4"],
            MediaKind::File => &[
                "doc", "docx", "xls", "xlsx", "ppt", "pptx", "zip", "pdf", "rar",
            ],
        }
    }
}

fn mime(ext: &str) -> &'static str {
    match ext {
        "jpg" | "jpeg" => "image/jpeg",
        "gif" => "image/gif",
        "png" => "image/png",
        "bmp" => "image/bmp",
        "amr" => "audio/amr",
        "mp3" => "audio/mpeg",
        "wav" => "audio/wav",
        "mp4" => "video/mp4",
        "pdf" => "application/pdf",
        "zip" => "application/zip",
        _ => "application/octet-stream",
    }
}

/// Check DingTalk's type and size limits before anything is sent; returns the MIME
/// type for the file part.
pub fn check(kind: MediaKind, filename: &str, len: usize) -> Result<&'static str, String> {
    check_filename(filename)?;
    let ext = filename
        .rsplit_once('.')
        .map(|(_, e)| e.to_ascii_lowercase())
        .unwrap_or_default();
    if !kind.extensions().contains(&ext.as_str()) {
        return Err(format!(
            "{filename:?} is not a valid {} (allowed: {})",
            kind.as_str(),
            kind.extensions().join(", ")
        ));
    }
    if len == 0 {
        return Err(format!("{filename:?} is empty"));
    }
    if len > kind.max_bytes() {
        return Err(format!(
            "{filename:?} is {len} bytes; a {} may be at most {} bytes",
            kind.as_str(),
            kind.max_bytes()
        ));
    }
    Ok(mime(&ext))
}

/// Longest file name accepted.
pub const MAX_FILENAME: usize = 255;

/// A file name goes into the multipart part's `Content-Disposition` header: refuse
/// what could break out of it (line breaks, quotes) or name a path.
fn check_filename(filename: &str) -> Result<(), String> {
    if filename.len() > MAX_FILENAME {
        return Err(format!(
            "the file name is {} bytes; at most {MAX_FILENAME} are allowed",
            filename.len()
        ));
    }
    if filename
        .chars()
        .any(|c| c.is_control() || matches!(c, '"' | '/' | '\\'))
    {
        return Err(
            "the file name may not contain control characters (CR, LF, ...), quotes, slashes or backslashes"
                .into(),
        );
    }
    Ok(())
}

/// Upload `bytes`; returns the media id. Limits must have been checked.
pub async fn upload(
    api: &OpenApi,
    kind: MediaKind,
    filename: &str,
    mime: &str,
    bytes: Vec<u8>,
) -> Result<String, Error> {
    let base =
        reqwest::Url::parse(&api.oapi_url("/media/upload")).map_err(|e| Error::BadResponse {
            step: Step::MediaUpload,
            detail: format!("the legacy API endpoint is not a URL: {e}"),
        })?;
    let answer = api
        .with_token(Step::MediaUpload, |token| {
            let part = reqwest::multipart::Part::bytes(bytes.clone())
                .file_name(filename.to_owned())
                .mime_str(mime)
                .unwrap_or_else(|_| {
                    reqwest::multipart::Part::bytes(bytes.clone()).file_name(filename.to_owned())
                });
            let form = reqwest::multipart::Form::new()
                .text("type", kind.as_str())
                .part("media", part);
            let mut url = base.clone();
            url.query_pairs_mut().append_pair("access_token", token);
            api.http().client().post(url).multipart(form)
        })
        .await?;
    answer
        .get("media_id")
        .and_then(Value::as_str)
        .map(str::to_owned)
        .ok_or_else(|| Error::BadResponse {
            step: Step::MediaUpload,
            detail: "no media_id in the answer".into(),
        })
}

/// A download whose answer head has arrived: how much reading it may take is known
/// before its body is read.
#[derive(Debug)]
pub struct Download {
    response: reqwest::Response,
    max_bytes: u64,
}

impl Download {
    /// The most bytes reading it takes: the declared size when there is one (larger
    /// than allowed was refused already), else the cap.
    pub fn bound(&self) -> u64 {
        self.response
            .content_length()
            .map_or(self.max_bytes, |n| n.min(self.max_bytes))
    }

    /// Read the file, failing once it passes [`Download::bound`].
    pub async fn read(self) -> Result<Vec<u8>, Error> {
        let max = usize::try_from(self.bound()).unwrap_or(usize::MAX);
        let max_bytes = self.max_bytes;
        read_capped(Step::Download, self.response, max)
            .await
            .map_err(|e| match e {
                Error::AnswerTooLarge { .. } => too_big(max_bytes),
                other => other,
            })
    }
}

fn too_big(max_bytes: u64) -> Error {
    Error::BadResponse {
        step: Step::Download,
        detail: format!("the file is larger than the {max_bytes} bytes allowed"),
    }
}

/// Exchange a message's download code for a URL and fetch its answer head; a file
/// declared larger than `max_bytes` is refused before its body is read.
pub async fn open_download(
    api: &OpenApi,
    download_code: &str,
    max_bytes: u64,
) -> Result<Download, Error> {
    let body = json!({"downloadCode": download_code, "robotCode": api.robot_code()});
    let answer = api
        .call(
            Step::Download,
            reqwest::Method::POST,
            "/v1.0/robot/messageFiles/download",
            Some(&body),
        )
        .await?;
    let url = answer
        .get("downloadUrl")
        .and_then(Value::as_str)
        .ok_or_else(|| Error::BadResponse {
            step: Step::Download,
            detail: "no downloadUrl in the answer".into(),
        })?;
    let response = api
        .http()
        .client()
        .get(url)
        .send()
        .await
        .map_err(|e| Error::from_reqwest(Step::Download, e))?;
    let status = response.status().as_u16();
    if !(200..300).contains(&status) {
        return Err(Error::Api {
            step: Step::Download,
            status,
            code: String::new(),
            message: "the download URL refused the request".into(),
        });
    }
    if response.content_length().is_some_and(|n| n > max_bytes) {
        return Err(too_big(max_bytes));
    }
    Ok(Download {
        response,
        max_bytes,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn media_limits_are_checked_before_sending() {
        assert_eq!(check(MediaKind::Image, "cat.PNG", 10), Ok("image/png"));
        assert!(
            check(MediaKind::Image, "cat.exe", 10)
                .unwrap_err()
                .contains("not a valid image")
        );
        assert!(
            check(MediaKind::Voice, "a.mp3", (2 << 20) + 1)
                .unwrap_err()
                .contains("at most 2097152")
        );
        assert!(
            check(MediaKind::File, "r.pdf", 0)
                .unwrap_err()
                .contains("empty")
        );
        assert_eq!(check(MediaKind::Video, "v.mp4", 20 << 20), Ok("video/mp4"));
        for name in [
            "a\r\nX-Injected: 1\r\n.png",
            "a\".png",
            "../a.png",
            "a\\b.png",
        ] {
            assert!(check(MediaKind::Image, name, 10).is_err(), "{name:?}");
        }
        assert!(check(MediaKind::Image, &format!("{}.png", "a".repeat(300)), 10).is_err());
    }
}
