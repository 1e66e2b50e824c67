"""pycalc gives calcbot's answers on calcbot's table (plugins/calcbot/cases.json)."""

import json
import pathlib
import sys
import unittest

HERE = pathlib.Path(__file__).resolve()
sys.path.insert(0, str(HERE.parents[1]))

import calc  # noqa: E402

CASES = json.loads((HERE.parents[2] / "calcbot" / "cases.json").read_text())


class SharedTableTest(unittest.TestCase):
    def test_every_case_of_calcbots_table_gets_calcbots_answer(self):
        for case in CASES:
            expression = case["input"].strip()
            want = (
                f"Q: {expression}\nA: {case['answer']}"
                if "answer" in case
                else f"Q: {expression}\nA: Error: {case['error']}"
            )
            with self.subTest(case=case["input"][:40]):
                self.assertEqual(calc.answer(case["input"]), want)

    def test_nothing_but_arithmetic_reaches_the_tree(self):
        for text in ["__import__('os').system('id')", "a.b", "[1]", "1 if 1 else 2", "f(1)"]:
            self.assertIn("Error:", calc.answer(text), text)

    def test_a_huge_power_is_refused_before_it_is_computed(self):
        self.assertEqual(calc.answer("2**10**10"), "Q: 2**10**10\nA: Error: integer result too large")


if __name__ == "__main__":
    unittest.main()
