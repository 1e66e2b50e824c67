//! cardbot: the seed's card demo (v0.3.0 behaviour, protocol.md E.2).
//!
//! On every message it sends a StandardCard to the conversation the message came
//! from, waits about a second (without holding up the host), uploads the image
//! bundled in this plugin to get a media id, and updates the same card: the text
//! block now shows the current time, the image block the new image. A failure at any
//! step is told to the user as text and fails the frame.

use std::time::Duration;

use dingtalk_bot_sdk::cards::{self, CardCallback, CardUpdate};
use dingtalk_bot_sdk::media::MediaKind;
use dingtalk_bot_sdk::{ChatbotMessage, Error, Outcome, Plugin, clock, config, media, reply_text};
use serde_json::{Value, json};

/// The image the updated card shows.
const IMAGE: &[u8] = include_bytes!("../assets/img.png");

fn plugin() -> Plugin {
    let plugin = Plugin::new(env!("CARGO_PKG_NAME"), env!("CARGO_PKG_VERSION")).on_message(message);
    // Button presses need the card callback topic, which the operator grants
    // (`topics`); asking for it ungranted would refuse the plugin, so only then.
    if config::get("button-callbacks").as_deref() == Some("true") {
        plugin.on_callback(cards::CALLBACK_TOPIC, |data| {
            pressed(&CardCallback::from_data(&data)?)
        })
    } else {
        plugin
    }
}

fn message(msg: ChatbotMessage) -> Result<Outcome, Error> {
    match send_and_update(&msg) {
        Ok(()) => Ok(Outcome::Done),
        Err(e) => {
            reply_text(
                &msg,
                &format!("cardbot could not update its card: {}", e.reason()),
            )?;
            Err(e)
        }
    }
}

dingtalk_bot_sdk::export_plugin!(plugin);

/// The `回传请求` button was pressed: the card says by whom (an update of the card),
/// and the answer carries it as card data.
fn pressed(cb: &CardCallback) -> Result<Outcome, Error> {
    let mut card = sample_card();
    card["contents"][0]["text"] = json!(format!("回传请求 pressed by {}", cb.user_id));
    cards::update_standard(&cb.out_track_id, &card)?;
    Ok(CardUpdate::new()
        .card_param("pressedBy", &cb.user_id)
        .into_outcome())
}

fn send_and_update(msg: &ChatbotMessage) -> Result<(), Error> {
    let biz_id = card_biz_id(msg);
    let mut card = sample_card();
    cards::send_standard(&biz_id, &card)?;
    clock::sleep(Duration::from_secs(1));
    let offset_hours: i64 = config::get("utc-offset-hours")
        .and_then(|v| v.parse().ok())
        .unwrap_or(8);
    card["contents"][0]["text"] = json!(format!(
        "钉钉，让进步发生！\n 更新时间：{}",
        format_time(clock::now_ms(), offset_hours)
    ));
    card["contents"][1]["image"] = json!(media::upload(MediaKind::Image, "image.png", IMAGE)?);
    cards::update_standard(&biz_id, &card)
}

/// The StandardCard of the seed (`INTERACTIVE_CARD_JSON_SAMPLE_1`).
pub fn sample_card() -> Value {
    json!({
        "config": {"autoLayout": true, "enableForward": true},
        "header": {
            "title": {"type": "text", "text": "钉钉卡片"},
            "logo": "@lALPDfJ6V_FPDmvNAfTNAfQ"
        },
        "contents": [
            {"type": "text", "text": "钉钉，让进步发生！\n 更新时间：2023-06-06 12:00", "id": "text_1686025745169"},
            {"type": "image", "image": "@lADPDetfXH_Pn3HNAbrNBDg", "id": "image_1686025745169"},
            {
                "type": "action",
                "actions": [
                    {
                        "type": "button",
                        "label": {"type": "text", "text": "打开链接", "id": "text_1646816888247"},
                        "actionType": "openLink",
                        "url": {"all": "https://www.dingtalk.com"},
                        "status": "primary",
                        "id": "button_1646816888247"
                    },
                    {
                        "type": "button",
                        "label": {"type": "text", "text": "回传请求", "id": "text_1646816888257"},
                        "actionType": "request",
                        "status": "primary",
                        "id": "button_1646816888257"
                    }
                ],
                "id": "action_1686025745169"
            }
        ]
    })
}

/// A card id derived from the message, so the same message always names the same
/// card (the seed hashed the same four fields).
pub fn card_biz_id(msg: &ChatbotMessage) -> String {
    let key = format!(
        "{}_{}_{}_{}",
        msg.sender_id,
        msg.sender_corp_id.as_deref().unwrap_or(""),
        msg.conversation_id,
        msg.msg_id
    );
    // Two FNV-1a passes with different offsets: 128 bits, no crypto crate needed.
    let fnv = |offset: u64| {
        key.bytes().fold(offset, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
        })
    };
    format!(
        "{:016x}{:016x}",
        fnv(0xcbf2_9ce4_8422_2325),
        fnv(0x6c62_272e_07bb_0142)
    )
}

/// `YYYY-MM-DD HH:MM:SS` of `ms` since the epoch, at UTC+`offset_hours`.
pub fn format_time(ms: u64, offset_hours: i64) -> String {
    let secs = (ms / 1000) as i64 + offset_hours * 3600;
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02}:{:02}",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_print_in_the_configured_offset() {
        assert_eq!(format_time(0, 0), "1970-01-01 00:00:00");
        assert_eq!(format_time(1_686_024_000_000, 8), "2023-06-06 12:00:00");
        assert_eq!(format_time(951_782_400_000, 0), "2000-02-29 00:00:00");
    }

    #[test]
    fn the_card_id_is_stable_per_message_and_differs_between_messages() {
        let a = ChatbotMessage {
            msg_id: "m1".into(),
            ..ChatbotMessage::default()
        };
        let b = ChatbotMessage {
            msg_id: "m2".into(),
            ..ChatbotMessage::default()
        };
        assert_eq!(card_biz_id(&a), card_biz_id(&a));
        assert_ne!(card_biz_id(&a), card_biz_id(&b));
        assert_eq!(card_biz_id(&a).len(), 32);
    }

    #[test]
    fn the_sample_card_has_the_seed_blocks() {
        let c = sample_card();
        assert_eq!(c["header"]["title"]["text"], "钉钉卡片");
        assert_eq!(c["contents"][1]["type"], "image");
        assert_eq!(
            c["contents"][2]["actions"].as_array().map(Vec::len),
            Some(2)
        );
    }
}
