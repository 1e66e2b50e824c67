//! `host replay FILE PLUGIN.wasm...`: the frames of a recording (`host record`) run
//! again, in order, through the given plugins against the embedded simulator, each
//! ACK set beside the recorded one; `--to-test FILE` writes the replayed messages
//! and what the plugins answered as a conversation test (`host test`).
//!
//! Invariants: a recording is read whole and checked before anything runs (at most
//! [`MAX_RECORDING`] bytes; its first line names the format; a line past
//! [`MAX_LINE`] bytes, a malformed line or more than [`MAX_FRAMES`] frames is an
//! error naming the line); nothing leaves the
//! machine: chatbot messages get a session webhook of the simulator's, and every
//! outbound request a plugin makes goes to a stand-in that answers 502 and is listed.

use std::collections::HashMap;
use std::io::{BufRead as _, Read as _};
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context as _;
use clap::Args;
use serde_json::Value;

use super::test::rig::{Rig, Setup};
use crate::record::FORMAT;
use crate::runtime::{Engine, RuntimeConfig};
use crate::settings::ConfigFile;
use crate::stream::topic::{CARD_CALLBACK, CHATBOT};

/// The longest line a recording may have.
const MAX_LINE: usize = 8 << 20;
/// The largest recording replayed: every frame is held until the replay ends.
const MAX_RECORDING: u64 = 256 << 20;
/// The most frames one replay runs.
const MAX_FRAMES: usize = 100_000;
/// How long replies to a message may still arrive after its ACK.
const SETTLE: Duration = Duration::from_millis(200);

#[derive(Debug, Args)]
pub(super) struct ReplayArgs {
    /// The recording (`host record --out FILE`).
    #[arg(value_name = "RECORDING")]
    pub recording: PathBuf,
    /// The plugins the frames go through.
    #[arg(value_name = "PLUGIN.wasm", required = true)]
    pub plugins: Vec<PathBuf>,
    /// The config file whose grants, limits and secrets apply.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Also write the replayed messages, replies and ACKs as a conversation test.
    #[arg(long, value_name = "FILE")]
    pub to_test: Option<PathBuf>,
    /// How long one frame may take to be ACKed, in milliseconds.
    #[arg(long, default_value_t = 30_000)]
    pub timeout_ms: u64,
}

/// One recorded data frame, with the ACK recorded for it.
#[derive(Debug)]
struct Frame {
    line: usize,
    kind: String,
    topic: String,
    headers: HashMap<String, String>,
    data: Value,
    ack: Option<(i64, String)>,
}

/// The frames of the recording at `path`, each with its recorded ACK.
fn read(path: &Path) -> anyhow::Result<Vec<Frame>> {
    let file = std::fs::File::open(path)
        .with_context(|| format!("cannot read the recording {}", path.display()))?;
    let size = file.metadata()?.len();
    anyhow::ensure!(
        size <= MAX_RECORDING,
        "{}: {size} bytes, more than the {MAX_RECORDING} a replay reads; cut it to the frames of the bug",
        path.display()
    );
    let mut reader = std::io::BufReader::new(file);
    let mut frames: Vec<Frame> = Vec::new();
    let mut by_id: HashMap<String, usize> = HashMap::new();
    let mut buf = Vec::new();
    let mut line = 0;
    loop {
        buf.clear();
        let n = (&mut reader)
            .take(MAX_LINE as u64 + 1)
            .read_until(b'\n', &mut buf)
            .with_context(|| format!("cannot read the recording {}", path.display()))?;
        if n == 0 {
            break;
        }
        line += 1;
        let at = |why: String| anyhow::anyhow!("{}:{line}: {why}", path.display());
        if buf.len() > MAX_LINE {
            return Err(at(format!("a line longer than {MAX_LINE} bytes")));
        }
        let event: Value =
            serde_json::from_slice(&buf).map_err(|e| at(format!("not a JSON line: {e}")))?;
        if line == 1 {
            if event["recording"].as_u64() != Some(FORMAT) {
                return Err(at(format!(
                    "not a recording of this host (its first line names format {FORMAT}; `host record --out` makes one)"
                )));
            }
            continue;
        }
        if let Some(f) = event.get("frame") {
            anyhow::ensure!(
                frames.len() < MAX_FRAMES,
                "{}: more than {MAX_FRAMES} frames",
                path.display()
            );
            let text = |key: &str| {
                f[key]
                    .as_str()
                    .map(str::to_owned)
                    .ok_or_else(|| at(format!("a frame without `{key}`")))
            };
            let headers = f["headers"]
                .as_object()
                .map(|h| {
                    h.iter()
                        .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_owned())))
                        .collect()
                })
                .unwrap_or_default();
            by_id.insert(text("messageId")?, frames.len());
            frames.push(Frame {
                line,
                kind: text("type")?,
                topic: text("topic")?,
                headers,
                data: f["data"].clone(),
                ack: None,
            });
        } else if let Some(a) = event.get("ack") {
            let id = a["messageId"].as_str().unwrap_or_default();
            if let Some(&i) = by_id.get(id) {
                let code = a["code"]
                    .as_i64()
                    .ok_or_else(|| at("an ACK without a code".into()))?;
                let message = a["message"].as_str().unwrap_or_default().to_owned();
                frames[i].ack = Some((code, message));
            }
        } else if event.get("call").is_none() {
            return Err(at("neither a frame, an ACK nor a call".into()));
        }
    }
    anyhow::ensure!(line > 0, "{}: empty, not a recording", path.display());
    Ok(frames)
}

/// What one frame did when replayed.
struct Replayed {
    ack: Option<(i64, String)>,
    replies: Vec<Value>,
}

pub(super) async fn replay(args: ReplayArgs) -> anyhow::Result<()> {
    let frames = read(&args.recording)?;
    let runtime = match &args.config {
        Some(p) => ConfigFile::load(p)?.runtime_config()?,
        None => RuntimeConfig::default(),
    };
    let engine = Engine::new(&runtime)?;
    let scratch = std::env::temp_dir().join(format!("host-replay-{}", std::process::id()));
    let setup = Setup {
        plugins: &args.plugins,
        config: args.config.as_deref(),
        origins: Vec::new(),
        model: Vec::new(),
    };
    let rig = Rig::start(setup, &engine, &scratch).await?;
    let timeout = Duration::from_millis(args.timeout_ms);
    let mut results = Vec::with_capacity(frames.len());
    let mut differ = 0;
    for (n, frame) in frames.iter().enumerate() {
        let replayed = one(&rig, frame, timeout).await;
        let what = format!(
            "frame {} (line {}) {} {}",
            n + 1,
            frame.line,
            frame.kind,
            frame.topic
        );
        match &replayed {
            Err(why) => println!("{what}: not replayed: {why}"),
            Ok(r) => {
                let shown = |a: &Option<(i64, String)>| match a {
                    Some((code, m)) if m.is_empty() || *code == 200 => format!("ACK {code}"),
                    Some((code, m)) => format!("ACK {code} {m:?}"),
                    None => "no ACK".to_owned(),
                };
                let same = r.ack.as_ref().map(|a| a.0) == frame.ack.as_ref().map(|a| a.0);
                if same {
                    println!("{what}: {}, as recorded", shown(&r.ack));
                } else {
                    differ += 1;
                    println!(
                        "{what}: {} (recorded: {})",
                        shown(&r.ack),
                        shown(&frame.ack)
                    );
                }
                for reply in &r.replies {
                    println!("    reply: {}", reply_text(reply));
                }
            }
        }
        results.push(replayed.ok());
    }
    let requests: Vec<String> = rig.origins.recorded().into_iter().map(|r| r.line).collect();
    if !requests.is_empty() {
        println!(
            "outbound requests (answered 502: no origin stands in during a replay):\n  {}",
            requests.join("\n  ")
        );
    }
    rig.stop().await;
    let _ = std::fs::remove_dir_all(&scratch);
    println!(
        "{} frames replayed, {} as recorded, {differ} differ",
        frames.len(),
        frames.len() - differ
    );
    if let Some(out) = &args.to_test {
        let name = args
            .recording
            .file_name()
            .map_or("recording".into(), |n| n.to_string_lossy().into_owned());
        std::fs::write(out, test_file(&name, &frames, &results))
            .with_context(|| format!("cannot write {}", out.display()))?;
        println!("wrote the conversation test {}", out.display());
    }
    anyhow::ensure!(
        differ == 0,
        "{differ} frames were ACKed otherwise than recorded"
    );
    Ok(())
}

/// Push `frame` into the simulator and wait for its ACK (and a message's replies).
async fn one(rig: &Rig, frame: &Frame, timeout: Duration) -> Result<Replayed, String> {
    let sim = &rig.sim;
    let (id, session) = match frame.kind.as_str() {
        "CALLBACK" if frame.topic == CHATBOT => {
            let pushed = sim
                .push_chatbot_data(frame.data.clone())
                .await
                .map_err(|e| format!("{e:?}"))?;
            (pushed.message_id, Some(pushed.session))
        }
        "CALLBACK" => (
            sim.push_callback(&frame.topic, frame.data.clone())
                .await
                .map_err(|e| format!("{e:?}"))?,
            None,
        ),
        "EVENT" => {
            let event_type = frame
                .headers
                .get("eventType")
                .ok_or("an event without an eventType header")?;
            (
                sim.push_event(event_type, frame.data.clone())
                    .await
                    .map_err(|e| format!("{e:?}"))?,
                None,
            )
        }
        other => return Err(format!("a {other} frame is not pushed to plugins")),
    };
    let ack = sim
        .wait_ack(&id, timeout)
        .await
        .map(|a| (a.code, a.message));
    let replies = match session {
        Some(session) => {
            tokio::time::sleep(SETTLE).await;
            sim.replies()
                .into_iter()
                .filter(|r| r.session == session)
                .map(|r| r.body)
                .collect()
        }
        None => Vec::new(),
    };
    Ok(Replayed { ack, replies })
}

/// A reply as a line: its text, or its JSON.
fn reply_text(body: &Value) -> String {
    body["text"]["content"]
        .as_str()
        .or_else(|| body["markdown"]["text"].as_str())
        .map_or_else(|| body.to_string(), |t| format!("{t:?}"))
}

/// A TOML basic string (JSON's escapes are TOML's).
fn quoted(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_else(|_| "\"\"".into())
}

/// The replayed messages as a conversation test: each chatbot message a step as
/// recorded (sender, group), then its replies and ACK as replayed.
fn test_file(name: &str, frames: &[Frame], results: &[Option<Replayed>]) -> String {
    let mut out = format!(
        "# Made by `host replay {name} --to-test`: the messages as recorded (masked where\n# the recording masked them), the replies and ACKs as they were replayed.\n\n[[test]]\nname = {}\nsteps = [\n",
        quoted(&format!("replay of {name}"))
    );
    for (n, (frame, result)) in frames.iter().zip(results).enumerate() {
        let step = match frame.topic.as_str() {
            CHATBOT => say(&frame.data),
            CARD_CALLBACK => press(&frame.data),
            _ => None,
        };
        let Some(said) = step else {
            out += &format!(
                "  # frame {} ({} {}) is not a step of a conversation test\n",
                n + 1,
                frame.kind,
                frame.topic
            );
            continue;
        };
        out += &format!("  {said},\n");
        let Some(result) = result else { continue };
        for reply in &result.replies {
            match (
                reply["msgtype"].as_str(),
                reply["text"]["content"].as_str(),
                reply["markdown"]["text"].as_str(),
            ) {
                (_, Some(t), _) => out += &format!("  {{ reply = {} }},\n", quoted(t)),
                (Some("markdown"), _, Some(t)) => {
                    out += &format!("  {{ markdown = {} }},\n", quoted(t))
                }
                _ => out += &format!("  # a {} reply\n", reply["msgtype"]),
            }
        }
        if frame.topic == CHATBOT && result.replies.is_empty() {
            out += "  { no_reply = true },\n";
        }
        if let Some((code, _)) = &result.ack {
            out += &format!("  {{ ack = {code} }},\n");
        }
    }
    out += "]\n";
    out
}

/// A card callback's `data` as a step that presses the same button (by its action
/// id) as the same person.
fn press(data: &Value) -> Option<String> {
    let content: Value = serde_json::from_str(data["content"].as_str()?).ok()?;
    let action = content["cardPrivateData"]["actionIds"][0].as_str()?;
    let mut step = format!("{{ press = {}", quoted(action));
    if let Some(by) = data["userId"].as_str() {
        step += &format!(", by = {}", quoted(by));
    }
    Some(step + " }")
}

/// A chatbot message's `data` as a step that says it again, if the test format has
/// one for its kind.
fn say(data: &Value) -> Option<String> {
    let content = &data["content"];
    let message = match data["msgtype"].as_str()? {
        "text" => format!("say = {}", quoted(data["text"]["content"].as_str()?.trim())),
        "picture" => "picture = true".to_owned(),
        "file" => format!("file = {}", quoted(content["fileName"].as_str()?)),
        "audio" => format!("audio = {}", quoted(content["recognition"].as_str()?)),
        _ => return None,
    };
    let mut step = format!("{{ {message}");
    if let Some(sender) = data["senderStaffId"].as_str() {
        step += &format!(", sender = {}", quoted(sender));
        if let Some(nick) = data["senderNick"].as_str() {
            step += &format!(", nick = {}", quoted(nick));
        }
    }
    if data["conversationType"] == "2" {
        let title = data["conversationTitle"].as_str().unwrap_or("group");
        step += &format!(", group = {}", quoted(title));
        if data["isInAtList"] == false {
            step += ", at_bot = false";
        }
    }
    if data["isAdmin"] == true {
        step += ", admin = true";
    }
    Some(step + " }")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(name: &str, text: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("replay-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(name);
        std::fs::write(&path, text).unwrap();
        path
    }

    #[test]
    fn a_recording_pairs_each_frame_with_its_ack_and_names_a_bad_line() {
        let head = format!("{{\"recording\":{FORMAT}}}\n");
        let frame = "{\"t_ms\":1,\"app\":\"default\",\"frame\":{\"type\":\"CALLBACK\",\"topic\":\"/x\",\"messageId\":\"m1\",\"headers\":{},\"data\":{}}}\n";
        let ack = "{\"t_ms\":2,\"app\":\"default\",\"ack\":{\"messageId\":\"m1\",\"code\":200,\"message\":\"\"}}\n";
        let call = "{\"t_ms\":2,\"app\":\"default\",\"call\":{\"plugin\":\"p\",\"capability\":\"reply\",\"result\":\"ok\"}}\n";
        let frames = read(&write("ok.jsonl", &format!("{head}{frame}{call}{ack}"))).unwrap();
        assert_eq!(frames.len(), 1);
        assert_eq!(frames[0].ack, Some((200, String::new())));
        let err = read(&write("bad.jsonl", &format!("{head}{frame}{{oops\n")))
            .unwrap_err()
            .to_string();
        assert!(err.contains("bad.jsonl:3") && err.contains("JSON"), "{err}");
        let err = read(&write("other.jsonl", "{\"hello\":1}\n"))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("other.jsonl:1") && err.contains("not a recording"),
            "{err}"
        );
        let err = read(&write("empty.jsonl", "")).unwrap_err().to_string();
        assert!(err.contains("empty"), "{err}");
        let huge = write("huge.jsonl", &head);
        std::fs::File::options()
            .write(true)
            .open(&huge)
            .and_then(|f| f.set_len(MAX_RECORDING + 1))
            .unwrap();
        let err = read(&huge).unwrap_err().to_string();
        assert!(
            err.contains("huge.jsonl") && err.contains("more than"),
            "{err}"
        );
        let long = format!("{head}{}\n", "x".repeat(MAX_LINE + 10));
        let err = read(&write("long.jsonl", &long)).unwrap_err().to_string();
        assert!(
            err.contains("long.jsonl:2") && err.contains("longer"),
            "{err}"
        );
    }

    #[test]
    fn a_message_becomes_a_step_with_its_sender_and_group_quoted_safely() {
        let data = serde_json::json!({
            "msgtype": "text", "text": {"content": " 1+1\" }, { ack = 1 "},
            "senderStaffId": "user-1", "senderNick": "nick-1",
            "conversationType": "2", "conversationTitle": "group-1", "isInAtList": true,
        });
        let step = say(&data).unwrap();
        assert_eq!(
            step,
            "{ say = \"1+1\\\" }, { ack = 1\", sender = \"user-1\", nick = \"nick-1\", group = \"group-1\" }"
        );
        let parsed: toml::Table = toml::from_str(&format!("s = [{step}]")).unwrap();
        assert_eq!(parsed["s"].as_array().unwrap().len(), 1);
        assert!(say(&serde_json::json!({"msgtype": "interactiveCard"})).is_none());
        let private =
            serde_json::json!({"cardPrivateData": {"actionIds": ["button_1"], "params": {}}});
        let callback = serde_json::json!({"userId": "user-2", "content": private.to_string()});
        assert_eq!(
            press(&callback).as_deref(),
            Some("{ press = \"button_1\", by = \"user-2\" }")
        );
    }
}
