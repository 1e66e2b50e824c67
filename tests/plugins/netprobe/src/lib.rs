//! netprobe: outbound HTTP and key-value commands, sent as chat message text.
//!
//! - `fetch <url>`: GET; replies `status=<code> body=<body>`.
//! - `fetchn <n> <url>`: GET `n` times in one frame; replies each status or error.
//! - `fetchauth <url>`: GET with its own `authorization` and `x-own` headers; replies
//!   the headers as the plugin knows them and the response body.
//! - `sse <url>`: reads server-sent events; replies a JSON list of each event's data
//!   and the host clock (ms) when it arrived.
//! - `count`: increments this conversation's counter; replies `count=<n>`.
//! - `set <key> <value>`, `get <key>`: raw key-value access; `setn <n>`: n sets;
//!   `kvabuse`: arguments past every key-value limit, each refusal replied.
//!
//! Every failure is replied as `error: <reason>`, so tests read what the host refused.

use dingtalk_bot_sdk::http::Request;
use dingtalk_bot_sdk::{ChatbotMessage, Error, Outcome, Plugin, clock, kv};
use serde_json::json;

fn plugin() -> Plugin {
    Plugin::new("netprobe", env!("CARGO_PKG_VERSION")).on_message(message)
}

fn message(msg: ChatbotMessage) -> Result<Outcome, Error> {
    let answer = run(&msg).unwrap_or_else(|e| format!("error: {}", e.reason()));
    dingtalk_bot_sdk::reply_text(&msg, &answer)?;
    Ok(Outcome::Done)
}

fn run(msg: &ChatbotMessage) -> Result<String, Error> {
    let text = msg.text_content().unwrap_or_default().trim().to_owned();
    let mut words = text.split_whitespace();
    let command = words.next().unwrap_or_default();
    let arg = words.next().unwrap_or_default();
    match command {
        "fetch" => {
            let answer = Request::get(arg).send()?;
            let status = answer.status();
            Ok(format!("status={status} body={}", answer.text()?))
        }
        "fetchn" => {
            let n: usize = arg.parse().map_err(|_| Error::plugin("fetchn <n> <url>"))?;
            let url = words.next().unwrap_or_default();
            let results: Vec<String> = (0..n)
                .map(|_| match Request::get(url).send() {
                    Ok(r) => r.status().to_string(),
                    Err(e) => e.reason(),
                })
                .collect();
            Ok(results.join(" | "))
        }
        "fetchauth" => {
            let request = Request::get(arg)
                .header("authorization", "Bearer guest-value")
                .header("x-own", "1");
            let own: Vec<String> = request
                .headers()
                .iter()
                .map(|(n, v)| format!("{n}: {}", String::from_utf8_lossy(v)))
                .collect();
            let body = request.send()?.text()?;
            Ok(format!("own=[{}] body={body}", own.join("; ")))
        }
        "sse" => {
            let mut seen = Vec::new();
            for event in Request::get(arg).send()?.events() {
                let event = event?;
                seen.push(json!({"data": event.data, "at": clock::now_ms()}));
            }
            Ok(serde_json::to_string(&seen)?)
        }
        "count" => {
            let n = kv::increment(&format!("count:{}", msg.conversation_id), 1)?;
            Ok(format!("count={n}"))
        }
        "set" => {
            let value = words.collect::<Vec<_>>().join(" ");
            kv::set(arg, value.as_bytes(), None)?;
            Ok("set".into())
        }
        "setn" => {
            let n: usize = arg.parse().map_err(|_| Error::plugin("setn <n>"))?;
            for i in 0..n {
                kv::set(&format!("n{i}"), b"x", None)?;
            }
            Ok(format!("set {n}"))
        }
        "kvabuse" => {
            use dingtalk_bot_sdk::bindings::dingtalk::bot::kv as raw;
            let many: Vec<(String, Vec<u8>)> =
                (0..101).map(|i| (format!("k{i}"), vec![1])).collect();
            let show = |r: Result<(), Error>| r.err().map_or("accepted".to_owned(), |e| e.reason());
            let tries = [
                show(raw::list_keys("", None, 5000).map(drop)),
                show(raw::list_keys("", None, 0).map(drop)),
                show(raw::list_keys(&"p".repeat(600), None, 10).map(drop)),
                show(raw::set_many(&many, None)),
                show(raw::set("k", b"v", Some(0))),
                show(raw::get("").map(drop)),
            ];
            Ok(tries.join(" | "))
        }
        "get" => Ok(match kv::get(arg)? {
            Some(v) => format!("value={}", String::from_utf8_lossy(&v)),
            None => "none".into(),
        }),
        other => Err(Error::plugin(format!("unknown command {other:?}"))),
    }
}

dingtalk_bot_sdk::export_plugin!(plugin);
