"""The SDK's server-sent-events parser, as the JavaScript SDK's is tested."""

import pathlib
import sys
import unittest

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))

from dingtalk_bot.cards import CardCallback, CardUpdate  # noqa: E402
from dingtalk_bot.sse import SseParser  # noqa: E402


class SseParserTest(unittest.TestCase):
    def test_events_split_anywhere_with_any_line_ending_come_out_whole(self):
        stream = "data: one\r\n\r\n: a comment\nevent: delta\ndata: two\ndata: 行\n\rdata:x\r".encode()
        for cut in range(len(stream) + 1):
            parser = SseParser()
            events = parser.push(stream[:cut]) + parser.push(stream[cut:]) + parser.finish()
            self.assertEqual(
                [(e.event, e.data) for e in events],
                [("message", "one"), ("delta", "two\n行"), ("message", "x")],
                f"cut at {cut}",
            )

    def test_an_event_without_data_is_not_dispatched_and_a_bare_field_is_empty(self):
        parser = SseParser()
        self.assertEqual([e.data for e in parser.push("event: ping\n\ndata\n\n")], [""])


class CardsTest(unittest.TestCase):
    def test_a_card_callback_decodes_its_json_string_fields(self):
        cb = CardCallback.from_data(
            {
                "outTrackId": "t1",
                "userId": "u1",
                "content": '{"cardPrivateData": {"actionIds": ["like"], "params": {"action": "like"}}}',
                "extension": "",
            }
        )
        self.assertEqual((cb.out_track_id, cb.user_id), ("t1", "u1"))
        self.assertEqual(cb.action_ids, ["like"])
        self.assertEqual(cb.params, {"action": "like"})
        self.assertEqual(cb.extension, {})

    def test_a_card_update_sends_every_value_as_a_string(self):
        update = CardUpdate().card_param("count", 3).private_param("liked", True).to_json()
        self.assertEqual(update["cardData"]["cardParamMap"], {"count": "3"})
        self.assertEqual(update["userPrivateData"]["cardParamMap"], {"liked": "true"})


if __name__ == "__main__":
    unittest.main()
