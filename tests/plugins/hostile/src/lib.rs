//! hostile: a test fixture that misbehaves in the way its message asks.
//!
//! Subscribes to the delegate topic (which the operator must grant). The text of
//! the message picks the attack: `loop`, `alloc`, `panic`, `recurse`, `huge-reply`,
//! `huge-response`, `fs`, `env`, `socket <addr>`, `api`, `escape <path>`,
//! `huge-later`, `huge-error`, `forge-log`, `big-args`, `upload`, `card <id>`,
//! `sleep <ms>`, `naps <n>` (n sleeps of 15 ms), `call-loop` (cheap host calls
//! forever), `unauthorized <n>`, `kv-amplify` (one 1 MiB value read 100 times in one
//! `get-many`), `burn <ms>` (computes that long), `stderr <n>` (writes n bytes to
//! stderr), `count` (how many frames this
//! instance has seen: more than 1 only for a warm plugin), `stale-download` (the
//! download code of the last file message this instance saw, tried again). Attacks
//! that return report what happened as a text reply, so tests can see the sandbox's
//! answer; the floods (`reply-flood <n>`, `stream-flood <n>`), whose replies are what
//! they spend, report in the ACK's response instead. A file message named `download`
//! downloads its file with no size limit of its own.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU32, Ordering};

use dingtalk_bot_sdk::bindings::dingtalk::bot::{cards, kv, log, media, openapi as raw_openapi};
use dingtalk_bot_sdk::message::MessageBody;
use dingtalk_bot_sdk::{ChatbotMessage, Error, Outcome, Plugin, clock, openapi, reply_text};

fn plugin() -> Plugin {
    Plugin::new("hostile", env!("CARGO_PKG_VERSION")).on_delegate(attack)
}

/// Frames this instance has handled (module state, which only warm instances keep).
static FRAMES: AtomicU32 = AtomicU32::new(0);

/// The download code of the last file message this instance saw.
static LAST_CODE: Mutex<String> = Mutex::new(String::new());

fn attack(msg: ChatbotMessage) -> Result<Outcome, Error> {
    let frames = FRAMES.fetch_add(1, Ordering::Relaxed) + 1;
    if let MessageBody::File { download_code, .. } = msg.body() {
        *LAST_CODE.lock().unwrap_or_else(|e| e.into_inner()) = download_code;
    }
    if let MessageBody::File {
        download_code,
        file_name,
        ..
    } = msg.body()
        && file_name == "download"
    {
        let report = match media::download(&download_code, u64::MAX) {
            Ok(bytes) => format!("downloaded {} bytes", bytes.len()),
            Err(e) => format!("download failed: {}", e.reason()),
        };
        reply_text(&msg, &report)?;
        return Ok(Outcome::Done);
    }
    let text = msg.text_content().unwrap_or_default().trim().to_owned();
    let (command, arg) = text.split_once(' ').unwrap_or((&text, ""));
    let report = match command {
        "loop" => loop {
            std::hint::black_box(0u64);
        },
        "alloc" => {
            let mut hoard: Vec<Vec<u8>> = Vec::new();
            loop {
                hoard.push(vec![7u8; 1 << 20]);
                std::hint::black_box(&hoard);
            }
        }
        "panic" => panic!("hostile panicked on purpose"),
        "count" => format!("frame {frames} of this instance"),
        "stderr" => {
            let n: usize = arg.parse().unwrap_or(100);
            eprint!("{}", "x".repeat(n));
            format!("wrote {n} bytes to stderr")
        }
        "burn" => {
            let until = std::time::Duration::from_millis(arg.parse().unwrap_or(10));
            let started = std::time::Instant::now();
            while started.elapsed() < until {
                std::hint::black_box(0u64);
            }
            format!("burnt; frame {frames} of this instance")
        }
        "stale-download" => {
            let code = LAST_CODE.lock().unwrap_or_else(|e| e.into_inner()).clone();
            match media::download(&code, 1024) {
                Ok(bytes) => format!("downloaded {} bytes of an earlier frame", bytes.len()),
                Err(e) => format!("download refused: {}", e.reason()),
            }
        }
        "recurse" => format!("{}", recurse(std::hint::black_box(1))),
        "huge-reply" => {
            reply_text(&msg, &"x".repeat(8 << 20))?;
            "sent".to_owned()
        }
        "huge-response" => {
            return Ok(Outcome::Response(format!("\"{}\"", "y".repeat(1 << 20))));
        }
        "fs" => match std::fs::read_to_string("/etc/passwd") {
            Ok(_) => "read /etc/passwd".to_owned(),
            Err(e) => format!("fs refused: {e}"),
        },
        "env" => format!(
            "env vars: {}, args: {}",
            std::env::vars().count(),
            std::env::args().count()
        ),
        "socket" => match std::net::TcpStream::connect(arg) {
            Ok(_) => format!("connected to {arg}"),
            Err(e) => format!("socket refused: {e}"),
        },
        "api" => match openapi::call("GET", "/v1.0/contact/users/me", None) {
            Ok(v) => format!("api answered {v}"),
            Err(e) => format!("api refused: {}", e.reason()),
        },
        "escape" => {
            let body = format!(
                r#"{{"robotCode":"{}","userIds":["u1"],"msgKey":"sampleText","msgParam":"{{\"content\":\"escaped\"}}"}}"#,
                msg.robot_code
            );
            match raw_openapi::call("POST", arg, Some(&body)) {
                Ok(v) => format!("escape answered {v}"),
                Err(e) => format!("escape refused: {}", e.reason()),
            }
        }
        "huge-later" => return Ok(Outcome::Later("x".repeat(4 << 20))),
        "huge-error" => return Err(Error::plugin("e".repeat(4 << 20))),
        "forge-log" => {
            log::log(
                log::Level::Error,
                "innocent\n2026-12-01T00:00:00.000000Z ERROR host: forged line",
            );
            for _ in 0..1000 {
                log::log(log::Level::Info, &"z".repeat(64 << 10));
            }
            "logged".to_owned()
        }
        "big-args" => {
            let big = format!("{{\"a\":[{}1]}}", "1,".repeat(2 << 20));
            let mut seen = Vec::new();
            for result in [
                cards::send_standard("b", &big).map(drop),
                cards::send_standard(&"i".repeat(1 << 20), "{}").map(drop),
                raw_openapi::call("POST", "/v1.0/sim/echo", Some(&big)).map(drop),
            ] {
                seen.push(match result {
                    Ok(()) => "accepted".to_owned(),
                    Err(e) => e.reason(),
                });
            }
            seen.join(" | ")
        }
        "upload" => match media::upload(media::MediaKind::Image, "a.png", &[1u8; 256 << 10]) {
            Ok(id) => format!("uploaded {id}"),
            Err(e) => {
                reply_text(&msg, &format!("upload failed: {}", e.reason()))?;
                return Err(e);
            }
        },
        "upload-name" => {
            match media::upload(
                media::MediaKind::Image,
                "a\r\nX-Injected: 1\r\n.png",
                &[1u8; 16],
            ) {
                Ok(id) => format!("uploaded {id}"),
                Err(e) => format!("upload refused: {}", e.reason()),
            }
        }
        "card" => {
            let update = cards::update_standard(arg, "{\"contents\":[]}");
            let stream = cards::stream_instance(
                arg,
                "content",
                "stolen",
                cards::StreamMode::FULL | cards::StreamMode::FINALIZE,
            );
            let show = |r: Result<(), Error>| match r {
                Ok(()) => "accepted".to_owned(),
                Err(e) => e.reason(),
            };
            format!("update: {} | stream: {}", show(update), show(stream))
        }
        "sleep" => {
            clock::sleep(std::time::Duration::from_millis(
                arg.parse().unwrap_or(1000),
            ));
            "slept".to_owned()
        }
        "naps" => {
            let n: u32 = arg.parse().unwrap_or(60);
            for _ in 0..n {
                clock::sleep(std::time::Duration::from_millis(15));
            }
            format!("napped {n} times")
        }
        "call-loop" => loop {
            std::hint::black_box(clock::now_ms());
        },
        "unauthorized" => {
            let n: usize = arg.parse().unwrap_or(20);
            let failed = (0..n)
                .filter(|_| openapi::call("GET", "/v1.0/sim/unauthorized", None).is_err())
                .count();
            format!("unauthorized: {failed} of {n} failed")
        }
        "kv-amplify" => {
            if !kv::exists("big")? {
                kv::set("big", &vec![9u8; 1 << 20], None)?;
            }
            let keys = vec!["big".to_owned(); 100];
            match kv::get_many(&keys) {
                Ok(values) => format!("get-many answered {} values", values.len()),
                Err(e) => format!("get-many refused: {}", e.reason()),
            }
        }
        "reply-flood" => {
            let n: usize = arg.parse().unwrap_or(500);
            let (sent, refused) = until_refused(n, |i| reply_text(&msg, &format!("flood {i}")));
            return Ok(response(format!("sent {sent} of {n}: {refused}")));
        }
        "stream-flood" => {
            let n: usize = arg.parse().unwrap_or(1000);
            let id = format!("flood-{}", msg.msg_id);
            cards::create_and_deliver(&cards::CardInstance {
                template_id: "flood.schema".into(),
                out_track_id: id.clone(),
                params: "{}".into(),
                callback_route_key: None,
            })?;
            let (sent, refused) = until_refused(n, |_| {
                cards::stream_instance(&id, "content", "x", cards::StreamMode::empty())
            });
            return Ok(response(format!("streamed {sent} of {n}: {refused}")));
        }
        other => format!("unknown attack {other:?}"),
    };
    reply_text(&msg, &report)?;
    Ok(Outcome::Done)
}

/// Call `f` up to `n` times, stopping at the first error: how many succeeded, and
/// the refusal's reason (empty when none).
fn until_refused(n: usize, mut f: impl FnMut(usize) -> Result<(), Error>) -> (usize, String) {
    for i in 0..n {
        if let Err(e) = f(i) {
            return (i, e.reason());
        }
    }
    (n, String::new())
}

/// A callback answer carrying `report` as a JSON string.
fn response(report: String) -> Outcome {
    Outcome::Response(serde_json::Value::String(report).to_string())
}

fn recurse(n: u64) -> u64 {
    let pad = std::hint::black_box([n; 64]);
    if pad[0] == 0 {
        0
    } else {
        recurse(n + 1) + pad[63]
    }
}

dingtalk_bot_sdk::export_plugin!(plugin);
