//! The shared conformance vectors (`plugin-sdk/conformance/`), run against this SDK.
//! The TypeScript and Python SDKs run the same files; a drift in any of them fails
//! its test.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::{Value, json};

use crate::ai::Answer;
use crate::cards::{CardCallback, CardUpdate};
use crate::kv::{Cas, UPDATE_ATTEMPTS, update_in};
use crate::message::{MessageBody, RichTextItem};
use crate::sse::{Event as SseEvent, SseParser};
use crate::{ChatbotMessage, DingtalkError, Error, Event, Frame, FrameKind, Outcome, Plugin};

fn repository() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn vectors(name: &str) -> Value {
    let path = repository().join("plugin-sdk/conformance").join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn cases<'a>(v: &'a Value, key: &str) -> &'a [Value] {
    v[key].as_array().map(Vec::as_slice).unwrap_or_default()
}

/// A message's fields as the vectors write them: every schema key, absent ones as
/// their default or null.
fn fields(msg: &ChatbotMessage, schema: &Value) -> Value {
    let wire = serde_json::to_value(msg).unwrap();
    let mut out = serde_json::Map::new();
    for field in cases(schema, "fields") {
        let key = field["key"].as_str().unwrap();
        let mut value = wire.get(key).cloned().unwrap_or(Value::Null);
        match field["type"].as_str().unwrap() {
            "text?" => value = value.get("content").cloned().unwrap_or(Value::Null),
            "atUsers" => {
                for user in value.as_array_mut().into_iter().flatten() {
                    user.as_object_mut()
                        .unwrap()
                        .entry("staffId")
                        .or_insert(Value::Null);
                }
            }
            _ => {}
        }
        if value.is_null() {
            value = field["default"].clone();
        }
        out.insert(key.to_owned(), value);
    }
    Value::Object(out)
}

fn body(msg: &ChatbotMessage) -> Value {
    match msg.body() {
        MessageBody::Text(text) => json!({"kind": "text", "text": text}),
        MessageBody::Picture { download_code } => {
            json!({"kind": "picture", "downloadCode": download_code})
        }
        MessageBody::RichText(items) => {
            let items: Vec<Value> = items
                .into_iter()
                .map(|item| match item {
                    RichTextItem::Text(text) => json!({"kind": "text", "text": text}),
                    RichTextItem::Picture { download_code } => {
                        json!({"kind": "picture", "downloadCode": download_code})
                    }
                })
                .collect();
            json!({"kind": "richText", "items": items})
        }
        MessageBody::Audio {
            download_code,
            duration,
            recognition,
        } => json!({"kind": "audio", "downloadCode": download_code, "duration": duration,
                    "recognition": recognition}),
        MessageBody::Video {
            download_code,
            duration,
            video_type,
        } => json!({"kind": "video", "downloadCode": download_code, "duration": duration,
                    "videoType": video_type}),
        MessageBody::File {
            download_code,
            file_name,
            file_id,
            space_id,
        } => json!({"kind": "file", "downloadCode": download_code, "fileName": file_name,
                    "fileId": file_id, "spaceId": space_id}),
        MessageBody::Other { msgtype, content } => {
            json!({"kind": "other", "msgtype": msgtype, "content": content})
        }
    }
}

#[test]
fn every_message_vector_decodes_to_its_fields_body_and_extras() {
    let schema = vectors("message-schema.json");
    let all = vectors("messages.json");
    for case in cases(&all, "cases") {
        let name = case["name"].as_str().unwrap();
        let data = match case["recorded"].as_str() {
            Some(path) => std::fs::read_to_string(repository().join(path)).unwrap(),
            None => case["data"].to_string(),
        };
        let msg = ChatbotMessage::from_json(&data).unwrap_or_else(|e| panic!("{name}: {e:?}"));
        assert_eq!(fields(&msg, &schema), case["fields"], "{name}: fields");
        assert_eq!(body(&msg), case["body"], "{name}: body");
        assert_eq!(
            Value::Object(msg.extra.clone()),
            case["extra"],
            "{name}: extra"
        );
        assert_eq!(
            json!(msg.text_content()),
            case["textContent"],
            "{name}: text"
        );
        assert_eq!(json!(msg.is_group()), case["isGroup"], "{name}: group");
    }
    for case in cases(&all, "invalid") {
        let refused = ChatbotMessage::from_json(&case["data"].to_string());
        assert!(
            matches!(refused, Err(Error::InvalidArgument(_))),
            "{}: {refused:?}",
            case["name"]
        );
    }
}

#[test]
fn every_schema_field_has_a_typed_home_and_no_other_field_does() {
    let schema = vectors("message-schema.json");
    let known: Vec<&str> = cases(&schema, "fields")
        .iter()
        .map(|f| f["key"].as_str().unwrap())
        .collect();
    let wire = serde_json::to_value(ChatbotMessage::default()).unwrap();
    // Serialising a default message names only fields it always carries; each of
    // them must be in the schema, and each schema key must not fall into `extra`.
    for key in wire.as_object().unwrap().keys() {
        assert!(known.contains(&key.as_str()), "{key} is not in the schema");
    }
    for key in known.into_iter().filter(|k| *k != "msgtype") {
        let msg: ChatbotMessage =
            serde_json::from_value(json!({"msgtype": "text", key: null})).unwrap();
        assert!(msg.extra.is_empty(), "{key} fell into extra");
    }
}

fn parse(chunks: &[&[u8]]) -> Vec<SseEvent> {
    let mut p = SseParser::default();
    let mut out: Vec<SseEvent> = chunks.iter().flat_map(|c| p.feed(c)).collect();
    out.extend(p.finish());
    out
}

#[test]
fn every_sse_stream_gives_its_events_however_it_is_split() {
    for case in cases(&vectors("sse.json"), "cases") {
        let name = case["name"].as_str().unwrap();
        let bytes = case["stream"].as_str().unwrap().as_bytes();
        let want: Vec<SseEvent> = cases(case, "events")
            .iter()
            .map(|e| SseEvent {
                event: e["event"].as_str().unwrap().to_owned(),
                data: e["data"].as_str().unwrap().to_owned(),
                id: e["id"].as_str().map(str::to_owned),
            })
            .collect();
        assert_eq!(parse(&[bytes]), want, "{name}: whole");
        for cut in 0..=bytes.len() {
            assert_eq!(
                parse(&[&bytes[..cut], &bytes[cut..]]),
                want,
                "{name}: cut at {cut}"
            );
        }
        let single: Vec<&[u8]> = bytes.chunks(1).collect();
        assert_eq!(parse(&single), want, "{name}: byte by byte");
    }
}

#[test]
fn every_card_callback_vector_decodes_and_updates_send_strings() {
    let all = vectors("card-callbacks.json");
    for case in cases(&all, "cases") {
        let cb = CardCallback::from_data(&case["data"]).unwrap();
        let got = json!({
            "outTrackId": cb.out_track_id, "userId": cb.user_id, "corpId": cb.corp_id,
            "type": cb.callback_type, "spaceType": cb.space_type, "spaceId": cb.space_id,
            "actionIds": cb.action_ids, "params": cb.params, "extension": cb.extension,
            "extra": cb.extra,
        });
        assert_eq!(got, case["expect"], "{}", case["name"]);
    }
    for case in cases(&all, "invalid") {
        let refused = CardCallback::from_data(&case["data"]);
        assert!(
            matches!(refused, Err(Error::InvalidArgument(_))),
            "{}",
            case["name"]
        );
    }
    let updates = &all["updates"];
    let mut update = CardUpdate::new();
    for (k, v) in updates["card"].as_object().unwrap() {
        update = update.card_param(k, plain(v));
    }
    for (k, v) in updates["private"].as_object().unwrap() {
        update = update.private_param(k, plain(v));
    }
    assert_eq!(update.to_json(), updates["json"]);
}

/// A JSON scalar as text, the way every SDK turns a parameter into a string.
fn plain(v: &Value) -> String {
    v.as_str().map_or_else(|| v.to_string(), str::to_owned)
}

/// The scripted host of kv-update.json.
struct Scripted {
    value: Option<Vec<u8>>,
    writes: Vec<Value>,
    attempts: usize,
    ttls: Vec<Option<Duration>>,
}

impl Cas for Scripted {
    fn get(&mut self, _key: &str) -> Result<Option<Vec<u8>>, Error> {
        Ok(self.value.clone())
    }

    fn compare_and_swap(
        &mut self,
        _key: &str,
        expected: Option<&[u8]>,
        value: &[u8],
        ttl: Option<Duration>,
    ) -> Result<bool, Error> {
        if let Some(w) = self.writes.get(self.attempts).filter(|w| !w.is_null()) {
            self.value = Some(serde_json::to_vec(w).unwrap());
        }
        self.attempts += 1;
        self.ttls.push(ttl);
        if self.value.as_deref() == expected {
            self.value = Some(value.to_vec());
            return Ok(true);
        }
        Ok(false)
    }
}

#[test]
fn kv_update_keeps_every_concurrent_write_and_gives_up_after_its_bound() {
    let all = vectors("kv-update.json");
    assert_eq!(all["attempts_max"], json!(UPDATE_ATTEMPTS));
    for case in cases(&all, "cases") {
        let name = case["name"].as_str().unwrap();
        let ttl = case["ttl_ms"].as_u64().map(Duration::from_millis);
        let mut store = Scripted {
            value: (!case["initial"].is_null())
                .then(|| serde_json::to_vec(&case["initial"]).unwrap()),
            writes: cases(case, "writes").to_vec(),
            attempts: 0,
            ttls: Vec::new(),
        };
        let result = update_in(
            &mut store,
            "k",
            |old: Option<Vec<String>>| {
                let mut list = old.unwrap_or_default();
                list.push("mine".into());
                list
            },
            ttl,
        );
        match case["error"].as_str() {
            Some(kind) => assert_eq!(result.unwrap_err().kind(), kind, "{name}"),
            None => assert_eq!(json!(result.unwrap()), case["result"], "{name}"),
        }
        let stored: Value = serde_json::from_slice(store.value.as_deref().unwrap()).unwrap();
        assert_eq!(stored, case["stored"], "{name}: stored");
        assert_eq!(json!(store.attempts), case["attempts"], "{name}: attempts");
        assert!(
            store.ttls.iter().all(|t| *t == ttl),
            "{name}: ttl on every swap"
        );
    }
}

/// A WIT error from the vectors' `{tag, val}` form.
fn wit_error(v: &Value) -> Error {
    let text = || v["val"].as_str().unwrap().to_owned();
    match v["tag"].as_str().unwrap() {
        "dingtalk" => Error::Dingtalk(DingtalkError {
            status: v["val"]["status"].as_u64().unwrap() as u16,
            code: v["val"]["code"].as_str().unwrap().to_owned(),
            message: v["val"]["message"].as_str().unwrap().to_owned(),
        }),
        "timeout" => Error::Timeout(text()),
        "network" => Error::Network(text()),
        "invalid-argument" => Error::InvalidArgument(text()),
        "denied" => Error::Denied(text()),
        "plugin" => Error::Plugin(text()),
        "limit" => Error::Limit(text()),
        "unavailable" => Error::Unavailable(text()),
        other => panic!("no WIT error case {other}"),
    }
}

#[test]
fn every_wit_error_has_the_shared_kind_reason_and_dingtalk_fields() {
    for case in cases(&vectors("errors.json"), "cases") {
        let e = wit_error(&case["wit"]);
        assert_eq!(e.kind(), case["kind"], "{case}");
        assert_eq!(e.reason(), case["reason"], "{case}");
        let dingtalk = e
            .dingtalk()
            .map(|d| json!({"status": d.status, "code": d.code, "message": d.message}));
        assert_eq!(dingtalk.unwrap_or(Value::Null), case["dingtalk"], "{case}");
    }
}

fn callback(data: &str) -> Frame {
    Frame {
        kind: FrameKind::Callback,
        topic: "/t".into(),
        message_id: "m".into(),
        headers: Vec::new(),
        data: data.into(),
    }
}

#[test]
fn handler_results_and_host_errors_become_the_shared_outcomes() {
    let all = vectors("outcomes.json");
    for case in cases(&all, "results") {
        let returns = case["returns"].clone();
        let outcome = move |_: Value| -> Result<Outcome, Error> {
            Ok(if let Some(json) = returns.get("json") {
                Outcome::Response(json.to_string())
            } else if let Some(reason) = returns["later"].as_str() {
                Outcome::Later(reason.to_owned())
            } else {
                Outcome::Done
            })
        };
        let got = match Plugin::new("p", "1")
            .on_callback("/t", outcome)
            .handle(callback("{}"))
        {
            Ok(Outcome::Done) => json!({"tag": "done"}),
            Ok(Outcome::Response(text)) => {
                json!({"tag": "response", "val": serde_json::from_str::<Value>(&text).unwrap()})
            }
            Ok(Outcome::Later(reason)) => json!({"tag": "later", "val": reason}),
            Err(e) => panic!("{case}: {e:?}"),
        };
        assert_eq!(got, case["outcome"], "{case}");
    }
    // Rust has no exceptions: what it returns is what the ACK carries.
    for case in cases(&all, "failures")
        .iter()
        .filter(|c| c["raises"].get("host").is_some())
    {
        let error = wit_error(&case["raises"]["host"]);
        let fail = move |_: Value| -> Result<Outcome, Error> { Err(error.clone()) };
        let got = Plugin::new("p", "1")
            .on_callback("/t", fail)
            .handle(callback("{}"));
        let (got, want) = (got.unwrap_err(), wit_error(&case["error"]));
        assert_eq!(
            (got.kind(), got.reason()),
            (want.kind(), want.reason()),
            "{case}"
        );
    }
}

#[test]
fn a_frame_whose_data_does_not_decode_fails_as_an_invalid_argument_before_any_handler() {
    fn ran<T>(_: T) -> Result<Outcome, Error> {
        panic!("a handler ran")
    }
    let plugin = Plugin::new("p", "1")
        .on_message(ran)
        .on_delegate(ran)
        .on_event(ran)
        .on_callback("/t", ran);
    for case in cases(&vectors("outcomes.json"), "undecodable") {
        let frame = Frame {
            kind: if case["kind"] == "event" {
                FrameKind::Event
            } else {
                FrameKind::Callback
            },
            topic: case["topic"].as_str().unwrap().into(),
            message_id: "m".into(),
            headers: vec![],
            data: case["data"].as_str().unwrap().into(),
        };
        let e = plugin.handle(frame).unwrap_err();
        assert_eq!(e.kind(), case["error"], "{}", case["name"]);
        let starts = case["reason_starts"].as_str().unwrap();
        assert!(
            e.reason().starts_with(starts),
            "{}: {}",
            case["name"],
            e.reason()
        );
    }
}

#[test]
fn every_event_vector_reads_its_headers_and_data() {
    for case in cases(&vectors("events.json"), "cases") {
        let frame = Frame {
            kind: FrameKind::Event,
            topic: "*".into(),
            message_id: "m".into(),
            headers: serde_json::from_value(case["headers"].clone()).unwrap(),
            data: case["data"].as_str().unwrap().into(),
        };
        let e = Event::from_frame(&frame).unwrap();
        let got = json!({"eventType": e.event_type, "eventId": e.event_id, "corpId": e.corp_id,
                         "bornTime": e.born_time, "data": e.data});
        assert_eq!(got, case["expect"], "{}", case["name"]);
    }
}

#[test]
fn every_chat_stream_vector_spells_its_answer() {
    for case in cases(&vectors("chat-stream.json"), "cases") {
        let name = case["name"].as_str().unwrap();
        let mut answer = Answer::default();
        let mut error = None;
        for data in cases(case, "events") {
            if let Err(e) = answer.apply(data.as_str().unwrap()) {
                error = Some(e);
                break;
            }
            if answer.done {
                break;
            }
        }
        assert_eq!(answer.text, case["text"].as_str().unwrap(), "{name}");
        assert_eq!(json!(answer.done), case["done"], "{name}");
        match case["error"].as_str() {
            Some(want) => assert!(
                error.as_deref().unwrap_or("").contains(want),
                "{name}: {error:?}"
            ),
            None => assert_eq!(error, None, "{name}"),
        }
    }
}

#[test]
fn every_tool_stream_vector_spells_its_calls_in_each_dialect() {
    for case in cases(&vectors("tool-stream.json"), "cases") {
        let name = case["name"].as_str().unwrap();
        let mut answer = Answer::default();
        for data in cases(case, "events") {
            answer.apply(data.as_str().unwrap()).expect(name);
        }
        assert!(answer.done, "{name}");
        let calls: Vec<Value> = answer
            .calls
            .iter()
            .map(|c| json!({"id": c.id, "name": c.name, "arguments": c.arguments}))
            .collect();
        assert_eq!(json!(calls), case["calls"], "{name}");
        assert_eq!(answer.text, case["text"].as_str().unwrap(), "{name}");
        let reasoning = answer.saw_reasoning.then_some(answer.reasoning.as_str());
        assert_eq!(json!(reasoning), case["reasoning"], "{name}");
        assert_eq!(json!(answer.usage), case["usage"], "{name}");
    }
}

#[test]
fn the_wit_package_and_the_three_sdks_carry_one_version() {
    let root = repository();
    let read = |p: &str| std::fs::read_to_string(root.join(p)).unwrap();
    let version = env!("CARGO_PKG_VERSION");
    assert!(read("wit/bot.wit").contains(&format!("package dingtalk:bot@{version};")));
    let js: Value = serde_json::from_str(&read("plugin-sdk/js/package.json")).unwrap();
    assert_eq!(js["version"], version, "plugin-sdk/js/package.json");
    let py = read("plugin-sdk/python/pyproject.toml");
    assert!(
        py.contains(&format!("version = \"{version}\"")),
        "plugin-sdk/python/pyproject.toml"
    );
}
