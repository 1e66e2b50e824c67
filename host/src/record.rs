//! `host record`: what a host receives and does, as JSON lines a `host replay` (or a
//! `host test` made from it) runs again at home.
//!
//! One line per event, in the order seen: the first says what the file is and what
//! was masked; then `frame` (a data frame in: type, topic, messageId, its headers and
//! its `data` decoded and masked), `ack` (the ACK out: messageId, code, message) and
//! `call` (a host call's end: plugin, capability, result), each with `t_ms` since
//! the recording started and the app's name.
//!
//! What is masked, and why:
//! - always: anything that grants access: the session webhook (a bearer URL that
//!   lets anyone post into the chat until it expires), download codes (fetch the
//!   user's files), any field named like a token, secret, signature, password,
//!   webhook or cookie; ACK `data` (a card's answer may hold what a user typed) is
//!   not recorded; host calls are recorded by outcome only, never arguments or
//!   answers (they hold message texts, keys and API bodies);
//! - always, pseudonymised (the same value becomes the same placeholder, so a
//!   replay keeps who said what where): staff, user, sender, chatbot and corp ids,
//!   conversation ids. A placeholder is a keyed hash whose key is drawn per
//!   recording: nothing is kept per id, and two recordings cannot be linked;
//! - by default (`--keep-text` keeps them): message texts, rich-text parts, voice
//!   recognition, file names, sender nicknames and group titles, each replaced
//!   whole, whatever it holds. Of a card callback's `content` and `value` (JSON
//!   text) only the pressed action ids are kept, so a replay can press them again.
//!
//! Invariants: the file is new (created 0600, never an existing file or link);
//! writes happen on a writer thread, never on an async worker; at most
//! [`QUEUE`] events wait, and past that events are dropped and counted, never
//! held in memory without bound.

use std::fs::OpenOptions;
use std::io::Write as _;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{SyncSender, TrySendError};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use hmac::{Hmac, Mac};
use rand::Rng as _;
use serde_json::{Value, json};
use sha2::Sha256;
use tokio_util::task::TaskTracker;

use crate::metrics::CallResult;
use crate::runtime::CallTap;
use crate::stream::topic::CARD_CALLBACK;
use crate::stream::{Ack, AckSlot, AckTap, Frame, FrameSink};

/// Events waiting for the writer thread.
const QUEUE: usize = 4096;

/// The recording format's version, in the first line.
pub const FORMAT: u64 = 1;

/// Where a host's events are recorded; clones share the file.
#[derive(Debug, Clone)]
pub struct Recorder {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    tx: Mutex<Option<SyncSender<String>>>,
    writer: Mutex<Option<std::thread::JoinHandle<()>>>,
    started: Instant,
    keep_text: bool,
    names: Pseudonyms,
    dropped: AtomicU64,
}

impl Recorder {
    /// Record into the new file `path` (an existing file or link is refused);
    /// `keep_text` keeps message texts and names.
    pub fn create(path: &Path, keep_text: bool) -> anyhow::Result<Self> {
        let mut options = OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let mut file = options.open(path).map_err(|e| {
            anyhow::anyhow!(
                "cannot create the recording {}: {e} (it must not exist yet)",
                path.display()
            )
        })?;
        let masked: &[&str] = if keep_text {
            &["access", "ids"]
        } else {
            &["access", "ids", "texts", "names"]
        };
        let head =
            json!({"recording": FORMAT, "host": env!("CARGO_PKG_VERSION"), "masked": masked});
        writeln!(file, "{head}")?;
        let (tx, rx) = std::sync::mpsc::sync_channel::<String>(QUEUE);
        let writer = std::thread::Builder::new()
            .name("recorder".into())
            .spawn(move || {
                let mut out = std::io::LineWriter::new(file);
                for line in rx {
                    if let Err(e) = writeln!(out, "{line}") {
                        tracing::error!("the recording cannot be written, it stops here: {e}");
                        return;
                    }
                }
            })?;
        Ok(Self {
            inner: Arc::new(Inner {
                tx: Mutex::new(Some(tx)),
                writer: Mutex::new(Some(writer)),
                started: Instant::now(),
                keep_text,
                names: Pseudonyms::new(),
                dropped: AtomicU64::new(0),
            }),
        })
    }

    /// Record `app`'s frames, ACKs and host calls.
    pub fn for_app(&self, app: &str) -> Arc<AppRecorder> {
        Arc::new(AppRecorder {
            recorder: self.clone(),
            app: app.to_owned(),
        })
    }

    /// Write what is queued and close the file.
    pub fn close(&self) {
        if let Ok(mut tx) = self.inner.tx.lock() {
            tx.take();
        }
        if let Some(writer) = self.inner.writer.lock().ok().and_then(|mut w| w.take()) {
            let _ = writer.join();
        }
        let dropped = self.inner.dropped.load(Ordering::Relaxed);
        if dropped > 0 {
            tracing::warn!(
                dropped,
                "the recording fell behind; these events are missing from it"
            );
        }
    }

    fn write(&self, app: &str, key: &str, event: Value) {
        let t_ms = self.inner.started.elapsed().as_millis() as u64;
        let line = json!({"t_ms": t_ms, "app": app, key: event}).to_string();
        let Ok(tx) = self.inner.tx.lock() else { return };
        if let Some(tx) = tx.as_ref()
            && let Err(TrySendError::Full(_)) = tx.try_send(line)
        {
            self.inner.dropped.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// One app's side of a [`Recorder`]: the frame sink wrapper's, the ACK tap's and the
/// call tap's.
#[derive(Debug)]
pub struct AppRecorder {
    recorder: Recorder,
    app: String,
}

impl AppRecorder {
    fn frame(&self, frame: &Frame) {
        let inner = &self.recorder.inner;
        let data = masked(frame, inner.keep_text, &inner.names);
        let mut headers: Value = frame
            .headers
            .iter()
            .map(|(k, v)| (k.clone(), Value::from(v.as_str())))
            .collect::<serde_json::Map<_, _>>()
            .into();
        // An event's headers name its corp (`eventCorpId`): masked like the data.
        mask(&mut headers, inner.keep_text, &inner.names);
        self.recorder.write(
            &self.app,
            "frame",
            json!({"type": frame.frame_type.as_str(), "topic": frame.topic,
                   "messageId": frame.message_id, "headers": headers, "data": data}),
        );
    }
}

impl AckTap for AppRecorder {
    fn acked(&self, ack: &Ack) {
        self.recorder.write(
            &self.app,
            "ack",
            json!({"messageId": ack.message_id, "code": ack.code, "message": ack.message}),
        );
    }
}

impl CallTap for AppRecorder {
    fn called(&self, plugin: &str, capability: &'static str, result: CallResult) {
        self.recorder.write(
            &self.app,
            "call",
            json!({"plugin": plugin, "capability": capability, "result": result.label()}),
        );
    }
}

/// A frame sink that records each frame and its ACK, then hands it on.
pub struct Recording {
    /// Where frames go.
    pub inner: Arc<dyn FrameSink>,
    /// Where they are recorded.
    pub recorder: Arc<AppRecorder>,
}

impl FrameSink for Recording {
    fn deliver(&self, frame: Frame, ack: AckSlot, tasks: &TaskTracker) {
        self.recorder.frame(&frame);
        let ack = ack.tapped(self.recorder.clone());
        self.inner.deliver(frame, ack, tasks);
    }
}

/// Placeholders for ids: `<kind>-` and 12 letters (`a`-`p`, one per nibble: no
/// digit or capital, so a placeholder never spells an id or a name) of an HMAC keyed
/// per recording.
#[derive(Debug)]
struct Pseudonyms {
    key: [u8; 32],
}

impl Pseudonyms {
    fn new() -> Self {
        Self {
            key: rand::rng().random(),
        }
    }

    fn of(&self, kind: &'static str, value: &str) -> String {
        let mut mac =
            Hmac::<Sha256>::new_from_slice(&self.key).expect("HMAC takes keys of any length");
        mac.update(kind.as_bytes());
        mac.update(&[0]);
        mac.update(value.as_bytes());
        let digest = mac.finalize().into_bytes();
        let letters: String = digest[..6]
            .iter()
            .flat_map(|b| [b >> 4, b & 15])
            .map(|n| char::from(b'a' + n))
            .collect();
        format!("{kind}-{letters}")
    }
}

/// `frame`'s data, decoded and masked as the module docs say.
fn masked(frame: &Frame, keep_text: bool, names: &Pseudonyms) -> Value {
    let original: Value = serde_json::from_str(&frame.data).unwrap_or(Value::Null);
    let mut data = original.clone();
    mask(&mut data, keep_text, names);
    if !keep_text && frame.topic == CARD_CALLBACK {
        for key in ["content", "value"] {
            if let Some(kept) = original[key].as_str().and_then(pressed) {
                data[key] = Value::from(kept);
            }
        }
    }
    data
}

/// Of a card callback's private data (JSON text), only the pressed action ids.
fn pressed(private: &str) -> Option<String> {
    let data: Value = serde_json::from_str(private).ok()?;
    let ids = data.get("cardPrivateData")?.get("actionIds")?.as_array()?;
    let ids: Vec<&str> = ids.iter().filter_map(Value::as_str).collect();
    Some(json!({"cardPrivateData": {"actionIds": ids, "params": {}}}).to_string())
}

/// Whether a field of this name grants access.
fn grants_access(key: &str) -> bool {
    let key = key.to_ascii_lowercase();
    [
        "token",
        "secret",
        "signature",
        "password",
        "webhook",
        "cookie",
        "downloadcode",
    ]
    .iter()
    .any(|w| key.contains(w))
}

/// The kind of placeholder an identifying field gets.
fn identity(key: &str) -> Option<&'static str> {
    match key {
        "senderStaffId" | "staffId" | "userId" | "senderId" | "dingtalkId" | "unionId" => {
            Some("user")
        }
        "chatbotUserId" => Some("bot"),
        "senderCorpId" | "chatbotCorpId" | "corpId" | "eventCorpId" => Some("corp"),
        "conversationId" | "openConversationId" | "spaceId" => Some("conversation"),
        _ => None,
    }
}

/// Fields that hold what people wrote or are called.
fn personal_text(key: &str) -> Option<&'static str> {
    match key {
        "content" | "value" | "text" | "recognition" | "fileName" => Some("text"),
        "senderNick" | "nick" => Some("nick"),
        "conversationTitle" => Some("group"),
        _ => None,
    }
}

/// Mask `value` in place: access always, ids as placeholders, texts and names
/// unless `keep_text`.
fn mask(value: &mut Value, keep_text: bool, names: &Pseudonyms) {
    match value {
        Value::Object(fields) => {
            for (key, v) in fields.iter_mut() {
                if grants_access(key) {
                    if !v.is_null() {
                        *v = Value::from("masked");
                    }
                    continue;
                }
                match (v, identity(key), personal_text(key)) {
                    (Value::String(s), Some(kind), _) => *s = names.of(kind, s),
                    (Value::String(s), None, Some(kind)) if !keep_text => {
                        *s = format!("<{kind} masked, {} chars>", s.chars().count());
                    }
                    (v, _, _) => mask(v, keep_text, names),
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|v| mask(v, keep_text, names)),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A fixed key, so what the placeholders spell is the same in every run.
    fn names() -> Pseudonyms {
        Pseudonyms { key: [7; 32] }
    }

    fn chatbot() -> Value {
        json!({
            "conversationId": "cidA", "senderStaffId": "0001", "senderNick": "张三",
            "conversationTitle": "Sales", "senderId": "$:LWCP:0001", "chatbotUserId": "bot1",
            "sessionWebhook": "https://oapi.dingtalk.com/robot/sendBySession?session=abc",
            "msgtype": "text", "text": {"content": "my password is hunter2"},
            "atUsers": [{"dingtalkId": "$:LWCP:0001", "staffId": "0001"}],
            "content": {"downloadCode": "dl-secret", "fileName": "salaries.xlsx"},
        })
    }

    #[test]
    fn texts_names_ids_and_bearer_urls_are_masked_and_ids_stay_consistent() {
        let names = names();
        let mut data = chatbot();
        mask(&mut data, false, &names);
        let text = data.to_string();
        for secret in [
            "abc",
            "dl-secret",
            "hunter2",
            "张三",
            "Sales",
            "0001",
            "salaries",
            "cidA",
        ] {
            assert!(!text.contains(secret), "{secret} in {text}");
        }
        assert_eq!(data["sessionWebhook"], "masked");
        assert!(data["senderStaffId"].as_str().unwrap().starts_with("user-"));
        assert_eq!(data["atUsers"][0]["staffId"], data["senderStaffId"]);
        assert_eq!(data["msgtype"], "text");
        assert!(
            data["text"]["content"]
                .as_str()
                .unwrap()
                .starts_with("<text masked")
        );
        let mut again = chatbot();
        mask(&mut again, false, &names);
        assert_eq!(again["conversationId"], data["conversationId"]);
    }

    #[test]
    fn keep_text_keeps_what_was_said_but_never_access() {
        let mut data = chatbot();
        mask(&mut data, true, &names());
        assert_eq!(data["text"]["content"], "my password is hunter2");
        assert_eq!(data["senderNick"], "张三");
        assert_eq!(data["sessionWebhook"], "masked");
        assert_eq!(data["content"]["downloadCode"], "masked");
        assert!(data["senderStaffId"].as_str().unwrap().starts_with("user-"));
    }

    #[test]
    fn a_card_callbacks_action_ids_survive_but_its_params_text_does_not() {
        let private = json!({"cardPrivateData": {"actionIds": ["approve"], "params": {"text": "secret note"}}}).to_string();
        let frame = Frame {
            frame_type: crate::stream::FrameType::Callback,
            topic: CARD_CALLBACK.into(),
            message_id: "m1".into(),
            headers: Vec::new(),
            data: json!({"userId": "0002", "content": private, "outTrackId": "card-1"}).to_string(),
        };
        let data = masked(&frame, false, &names());
        let content: Value = serde_json::from_str(data["content"].as_str().unwrap()).unwrap();
        assert_eq!(content["cardPrivateData"]["actionIds"][0], "approve");
        assert!(!data.to_string().contains("secret note"));
        assert_eq!(data["outTrackId"], "card-1");
    }

    #[test]
    fn a_message_whose_text_is_json_is_masked_whole() {
        let text = json!({"note": "salary 9000", "password": "x"}).to_string();
        let mut data = json!({"msgtype": "text", "text": {"content": text}});
        mask(&mut data, false, &names());
        assert!(!data.to_string().contains("salary"), "{data}");
    }

    #[test]
    fn an_events_corp_in_its_headers_is_masked_too() {
        let dir = std::env::temp_dir().join(format!("record-headers-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("event.jsonl");
        let recorder = Recorder::create(&path, false).unwrap();
        recorder.for_app("default").frame(&Frame {
            frame_type: crate::stream::FrameType::Event,
            topic: "*".into(),
            message_id: "m1".into(),
            headers: vec![("eventCorpId".into(), "ding-real-corp".into())],
            data: "{}".into(),
        });
        recorder.close();
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(!text.contains("ding-real-corp"), "{text}");
        assert!(text.contains("\"eventCorpId\":\"corp-"), "{text}");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_recording_is_never_written_over_an_existing_file_or_link() {
        let dir = std::env::temp_dir().join(format!("record-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let planted = dir.join("planted.jsonl");
        std::fs::write(&planted, "x").unwrap();
        assert!(Recorder::create(&planted, false).is_err());
        #[cfg(unix)]
        {
            let link = dir.join("link.jsonl");
            std::os::unix::fs::symlink(dir.join("elsewhere"), &link).unwrap();
            assert!(Recorder::create(&link, false).is_err());
            assert!(!dir.join("elsewhere").exists());
        }
        let path = dir.join("new.jsonl");
        let recorder = Recorder::create(&path, false).unwrap();
        recorder.for_app("default").acked(&Ack::ok("m1", "{}"));
        recorder.close();
        let text = std::fs::read_to_string(&path).unwrap();
        let lines: Vec<Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(lines[0]["recording"], FORMAT);
        assert_eq!(lines[1]["ack"]["code"], 200);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let _ = std::fs::remove_dir_all(&dir);
    }
}
