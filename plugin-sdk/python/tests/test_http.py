"""The parts of the http module that hold without a host: the order a response lets
go of its resources, and the SDK's names for every host interface."""

import pathlib
import re
import sys
import unittest

HERE = pathlib.Path(__file__).resolve()
sys.path.insert(0, str(HERE.parents[1]))
SDK = HERE.parents[1] / "dingtalk_bot"

from dingtalk_bot.errors import HostError  # noqa: E402
from dingtalk_bot.http import Response  # noqa: E402


class Resource:
    """A stand-in for a componentize-py resource: records when it is dropped."""

    def __init__(self, name, dropped):
        self.name, self.dropped = name, dropped

    def __exit__(self, *_exc):
        self.dropped.append(self.name)


class ResponseTest(unittest.TestCase):
    def test_a_closed_response_drops_its_stream_before_its_body_once(self):
        dropped = []
        res = Response(200, [], Resource("body", dropped), Resource("stream", dropped))
        res.close()
        res.close()
        self.assertEqual(dropped, ["stream", "body"])

    def test_a_collected_response_drops_its_stream_before_its_body(self):
        dropped = []
        res = Response(200, [], Resource("body", dropped), Resource("stream", dropped))
        del res
        self.assertEqual(dropped, ["stream", "body"])

    def test_reading_a_closed_response_fails_as_an_invalid_argument(self):
        with Response(200, [], Resource("body", []), Resource("stream", [])) as res:
            pass
        for read in (res.read, lambda: res.read_within(10)):
            with self.assertRaises(HostError) as caught:
                read()
            self.assertEqual(caught.exception.kind, "invalid-argument")


class BindingsTest(unittest.TestCase):
    def test_every_host_interface_the_sdk_names_is_imported_with_the_bindings(self):
        # A submodule of `wit_world.imports` is an attribute only once imported: one
        # the SDK names but `_wit` does not import fails only inside a component.
        named = set()
        for path in SDK.glob("*.py"):
            named |= set(re.findall(r"imports\(\)\.([a-z_]+)", path.read_text()))
            named |= set(re.findall(r"\bi\.([a-z_]+)\.", path.read_text()))
        imported = set(re.findall(r"import wit_world\.imports\.([a-z_]+)", (SDK / "_wit.py").read_text()))
        self.assertTrue(named, "the SDK names no host interface")
        self.assertEqual(named - imported, set())


if __name__ == "__main__":
    unittest.main()
