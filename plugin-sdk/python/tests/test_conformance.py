"""The shared conformance vectors (plugin-sdk/conformance/), run against this SDK.
The Rust and TypeScript SDKs run the same files; a drift in any of them fails its
test."""

import dataclasses
import json
import pathlib
import re
import sys
import unittest

HERE = pathlib.Path(__file__).resolve()
sys.path.insert(0, str(HERE.parents[1]))
REPOSITORY = HERE.parents[3]

from dingtalk_bot import kv  # noqa: E402
from dingtalk_bot.answer import Answer, ModelError  # noqa: E402
from dingtalk_bot.cards import CardCallback, CardUpdate  # noqa: E402
from dingtalk_bot.errors import HostError, PluginError  # noqa: E402
from dingtalk_bot.event import Event  # noqa: E402
from dingtalk_bot.message import ChatbotMessage  # noqa: E402
from dingtalk_bot.plugin import CHATBOT_TOPIC, DELEGATE_TOPIC, Later, Plugin  # noqa: E402
from dingtalk_bot.sse import SseParser  # noqa: E402


def vectors(name: str):
    return json.loads((REPOSITORY / "plugin-sdk" / "conformance" / name).read_text())


def snake(key: str) -> str:
    return re.sub(r"(?<!^)([A-Z])", lambda m: "_" + m.group(1).lower(), key)


def camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.capitalize() for part in rest)


def as_json(value, drop_none=False):
    """A value of this SDK as the vectors write it: dataclasses as objects with
    camelCase keys, their ``kind`` first when it is a class constant."""
    if dataclasses.is_dataclass(value):
        fields = {f.name for f in dataclasses.fields(value)}
        out = {"kind": value.kind} if hasattr(value, "kind") and "kind" not in fields else {}
        for name in [f.name for f in dataclasses.fields(value)]:
            v = getattr(value, name)
            if v is None and drop_none:
                continue
            out[camel(name)] = as_json(v, drop_none)
        return out
    if isinstance(value, list):
        return [as_json(v, drop_none) for v in value]
    return value


class MessageTest(unittest.TestCase):
    def test_every_message_vector_decodes_to_its_fields_body_and_extras(self):
        schema = vectors("message-schema.json")
        every = vectors("messages.json")
        for c in every["cases"]:
            data = (REPOSITORY / c["recorded"]).read_text() if c.get("recorded") else json.dumps(c["data"])
            msg = ChatbotMessage.from_json(data)
            fields = {f["key"]: as_json(getattr(msg, snake(f["key"]))) for f in schema["fields"]}
            self.assertEqual(fields, c["fields"], f"{c['name']}: fields")
            body = msg.body()
            # Rich-text items carry only the field of their kind.
            self.assertEqual(as_json(body, drop_none=body.kind == "richText"), c["body"], f"{c['name']}: body")
            self.assertEqual(msg.extra, c["extra"], f"{c['name']}: extra")
            self.assertEqual(msg.text_content(), c["textContent"], f"{c['name']}: text")
            self.assertEqual(msg.is_group(), c["isGroup"], f"{c['name']}: group")
        for c in every["invalid"]:
            with self.assertRaises(ValueError, msg=c["name"]):
                ChatbotMessage.from_json(json.dumps(c["data"]))

    def test_every_schema_field_is_an_attribute_of_chatbot_message_and_no_other_is(self):
        own = {f.name for f in dataclasses.fields(ChatbotMessage)} - {"extra"}
        schema = {snake(f["key"]) for f in vectors("message-schema.json")["fields"]}
        self.assertEqual(own, schema)


def parse(chunks):
    p = SseParser()
    events = [e for c in chunks for e in p.feed(c)] + p.finish()
    return [{"event": e.event, "data": e.data, "id": e.id} for e in events]


class SseTest(unittest.TestCase):
    def test_every_sse_stream_gives_its_events_however_it_is_split(self):
        for c in vectors("sse.json")["cases"]:
            stream = c["stream"].encode()
            self.assertEqual(parse([stream]), c["events"], f"{c['name']}: whole")
            for cut in range(len(stream) + 1):
                self.assertEqual(parse([stream[:cut], stream[cut:]]), c["events"], f"{c['name']}: cut at {cut}")
            self.assertEqual(parse([bytes([b]) for b in stream]), c["events"], f"{c['name']}: byte by byte")


class CardsTest(unittest.TestCase):
    def test_every_card_callback_vector_decodes_and_updates_send_strings(self):
        every = vectors("card-callbacks.json")
        for c in every["cases"]:
            self.assertEqual(as_json(CardCallback.from_data(c["data"])), c["expect"], c["name"])
        for c in every["invalid"]:
            with self.assertRaises(ValueError, msg=c["name"]):
                CardCallback.from_data(c["data"])
        update = CardUpdate()
        for k, v in every["updates"]["card"].items():
            update.card_param(k, v)
        for k, v in every["updates"]["private"].items():
            update.private_param(k, v)
        self.assertEqual(update.to_json(), every["updates"]["json"])


class ScriptedStore:
    """The host of kv-update.json: another writer sets ``writes[i]`` before the
    compare-and-swap of attempt ``i``."""

    def __init__(self, initial, writes):
        self.value = None if initial is None else json.dumps(initial).encode()
        self.writes = writes
        self.attempts = 0
        self.ttls = []

    def get(self, key):
        return self.value

    def compare_and_swap(self, key, expected, new, ttl_ms):
        if self.attempts < len(self.writes) and self.writes[self.attempts] is not None:
            self.value = json.dumps(self.writes[self.attempts]).encode()
        self.attempts += 1
        self.ttls.append(ttl_ms)
        same = self.value == expected
        if same:
            self.value = new
        return same


class KvUpdateTest(unittest.TestCase):
    def test_kv_update_keeps_every_concurrent_write_and_gives_up_after_its_bound(self):
        every = vectors("kv-update.json")
        self.assertEqual(kv.UPDATE_ATTEMPTS, every["attempts_max"])
        for c in every["cases"]:
            store = ScriptedStore(c["initial"], c["writes"])

            def run(store=store, ttl=c["ttl_ms"]):
                return kv.update_in(store, "k", lambda old: [*(old or []), "mine"], ttl)

            if c.get("error"):
                with self.assertRaises(HostError, msg=c["name"]) as caught:
                    run()
                self.assertEqual(caught.exception.kind, c["error"], c["name"])
            else:
                self.assertEqual(run(), c["result"], c["name"])
            self.assertEqual(json.loads(store.value), c["stored"], f"{c['name']}: stored")
            self.assertEqual(store.attempts, c["attempts"], f"{c['name']}: attempts")
            self.assertEqual(set(store.ttls), {c["ttl_ms"]}, f"{c['name']}: ttl on every swap")


def host_error(wit) -> HostError:
    return HostError.from_case(wit["tag"], wit["val"])


class ErrorTest(unittest.TestCase):
    def test_every_wit_error_has_the_shared_kind_reason_and_dingtalk_fields(self):
        for c in vectors("errors.json")["cases"]:
            e = host_error(c["wit"])
            self.assertEqual(e.kind, c["kind"])
            self.assertEqual(e.reason, c["reason"])
            self.assertEqual(str(e), c["reason"])
            self.assertEqual(None if e.dingtalk is None else dataclasses.asdict(e.dingtalk), c["dingtalk"])
            self.assertEqual(e.case(), (c["wit"]["tag"], c["wit"]["val"]), "the case goes back to the ACK unchanged")


def wit_form(tag, value):
    """A ``Plugin.run`` result as the vectors write WIT values."""
    if tag == "error":
        case, payload = value
        return {"tag": case, "val": payload}
    if tag == "done":
        return {"tag": "done"}
    if tag == "response":
        return {"tag": tag, "val": json.loads(value)}
    return {"tag": tag, "val": value}


class OutcomeTest(unittest.TestCase):
    def test_handler_results_and_failures_become_the_shared_outcomes(self):
        every = vectors("outcomes.json")
        for c in every["results"]:
            r = c["returns"]
            result = r["json"] if "json" in r else Later(r["later"]) if "later" in r else None
            bot = Plugin("p", "1")
            bot.on_callback("/t")(lambda data, result=result: result)
            self.assertEqual(wit_form(*bot.run("callback", "/t", [], "{}")), c["outcome"])
        for c in every["failures"]:
            r = c["raises"]
            if "host" in r:
                error = host_error(r["host"])
            elif "plugin" in r:
                error = PluginError(r["plugin"])
            else:
                error = TypeError(r["type"])

            def fail(data, error=error):
                raise error

            bot = Plugin("p", "1")
            bot.on_callback("/t")(fail)
            self.assertEqual(wit_form(*bot.run("callback", "/t", [], "{}")), c["error"])

    def test_frames_go_to_the_handler_registered_for_them_and_subscriptions_follow(self):
        bot = Plugin("p", "1")
        seen = []
        bot.on_message(lambda m: seen.append(("message", m.text_content())))
        bot.on_delegate(lambda m: seen.append(("delegate", m.msgtype)))
        bot.on_event(lambda e: seen.append(("event", e.event_type, e.data)))
        bot.on_callback("/x")(lambda d: seen.append(("callback", d)))
        self.assertEqual(
            bot.subscriptions(),
            [("callback", CHATBOT_TOPIC), ("callback", DELEGATE_TOPIC), ("callback", "/x"), ("event", "*")],
        )
        text = json.dumps({"msgtype": "text", "text": {"content": " hi "}})
        for frame in [
            ("callback", CHATBOT_TOPIC, [], text),
            ("callback", DELEGATE_TOPIC, [], text),
            ("event", "*", [("eventType", "chat_update_title")], ""),
            ("callback", "/x", [], ""),
            ("callback", "/nobody", [], "{}"),
        ]:
            self.assertEqual(bot.run(*frame), ("done", None))
        self.assertEqual(
            seen, [("message", "hi"), ("delegate", "text"), ("event", "chat_update_title", {}), ("callback", {})]
        )

    def test_a_frame_whose_data_does_not_decode_fails_as_an_invalid_argument_before_any_handler(self):
        def ran(_):
            raise AssertionError("a handler ran")

        bot = Plugin("p", "1")
        bot.on_message(ran)
        bot.on_delegate(ran)
        bot.on_event(ran)
        bot.on_callback("/t")(ran)
        for c in vectors("outcomes.json")["undecodable"]:
            tag, (case, text) = bot.run(c["kind"], c["topic"], [], c["data"])
            self.assertEqual((tag, case), ("error", c["error"]), c["name"])
            reason = HostError.from_case(case, text).reason
            self.assertTrue(reason.startswith(c["reason_starts"]), f"{c['name']}: {reason}")


class WarmUpTest(unittest.TestCase):
    def test_export_warms_the_message_handlers_up_with_every_host_call_refused(self):
        from dingtalk_bot import log

        seen, calls = [], []

        def on_message(msg):
            seen.append(msg.text_content())
            try:
                log.info("from the warm-up")
                calls.append("went through")
            except Exception as e:  # what the warm-up raised
                calls.append(type(e).__name__)

        bot = Plugin("p", "1").warm_up(["one", "two"])
        bot.on_message(on_message)
        bot.export()
        self.assertEqual(seen, ["one", "two"])
        self.assertEqual(calls, ["WarmingUp", "WarmingUp"])
        # After it, host calls are as they were (outside a component: not there).
        with self.assertRaises(RuntimeError):
            log.info("after the warm-up")


class EventTest(unittest.TestCase):
    def test_every_event_vector_reads_its_headers_and_data(self):
        for c in vectors("events.json")["cases"]:
            e = Event.from_frame([tuple(h) for h in c["headers"]], c["data"])
            self.assertEqual(as_json(e), c["expect"], c["name"])


class ChatStreamTest(unittest.TestCase):
    def test_every_chat_stream_vector_spells_its_answer(self):
        for c in vectors("chat-stream.json")["cases"]:
            answer = Answer()
            error = None
            for data in c["events"]:
                try:
                    answer.apply(data)
                except ModelError as e:
                    error = e.reason
                    break
                if answer.done:
                    break
            self.assertEqual(answer.text, c["text"], c["name"])
            self.assertEqual(answer.done, c["done"], c["name"])
            if c["error"] is None:
                self.assertIsNone(error, c["name"])
            else:
                self.assertIn(c["error"], error or "", c["name"])


if __name__ == "__main__":
    unittest.main()
