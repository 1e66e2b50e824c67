"""The SDK's pure-Python parts, against the payloads DingTalk really sent."""

import json
import pathlib
import sys
import unittest

HERE = pathlib.Path(__file__).resolve()
sys.path.insert(0, str(HERE.parents[1]))
RECORDED = HERE.parents[3] / "tests" / "fixtures" / "recorded"

from dingtalk_bot.message import ChatbotMessage  # noqa: E402


def recorded(name: str) -> str:
    return (RECORDED / name).read_text()


class ChatbotMessageTest(unittest.TestCase):
    def test_a_recorded_text_message_decodes_every_field(self):
        msg = ChatbotMessage.from_json(recorded("cb_msg_text.json"))
        raw = json.loads(recorded("cb_msg_text.json"))
        self.assertEqual(msg.msgtype, "text")
        self.assertEqual(msg.text_content(), raw["text"]["content"].strip())
        self.assertEqual(msg.session_webhook, raw["sessionWebhook"])
        self.assertEqual(msg.sender_staff_id, raw.get("senderStaffId"))
        self.assertEqual(msg.conversation_id, raw["conversationId"])
        self.assertEqual(msg.robot_code, raw.get("robotCode", ""))

    def test_other_message_types_have_no_text_and_keep_their_content(self):
        for name in ["cb_msg_picture.json", "cb_msg_rich_text.json", "cb_msg_file.json"]:
            msg = ChatbotMessage.from_json(recorded(name))
            self.assertIsNone(msg.text_content(), name)
            self.assertIsNotNone(msg.content, name)

    def test_unknown_fields_are_kept_and_missing_required_ones_refused(self):
        raw = json.loads(recorded("cb_msg_text.json"))
        raw["somethingNew"] = 1
        self.assertEqual(ChatbotMessage.from_json(raw).extra["somethingNew"], 1)
        del raw["sessionWebhook"]
        with self.assertRaises(ValueError):
            ChatbotMessage.from_json(raw)
        with self.assertRaises(ValueError):
            ChatbotMessage.from_json("[]")


if __name__ == "__main__":
    unittest.main()
