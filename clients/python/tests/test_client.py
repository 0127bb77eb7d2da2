"""The Python client against a running weft (WEFT_URL), with real Dask.

Run by test/python-client.test.ts, which starts weft with Python executors
(WEFT_POOLS=default,python); by hand:
    WEFT_URL=http://127.0.0.1:8080 PYTHONPATH=clients/python python3 -m unittest discover -s clients/python/tests
"""
import os
import unittest

import dask
from dask.utils_test import GetFunctionTestMixin, add, inc

from weft import Client, ObjectRef, RemoteTaskError, ops

client = Client(os.environ.get("WEFT_URL", "http://127.0.0.1:8080"), progress=False)


class TestSchedulerContract(GetFunctionTestMixin, unittest.TestCase):
    """Dask's own contract for a `get` function, unchanged: its inc, add, sum and lambdas run as Python."""

    get = staticmethod(client.get)


class TestWeftOps(unittest.TestCase):
    """Graphs of weft ops (TypeScript), named through weft.ops, and graphs mixing them with Python."""

    def test_delayed_with_remote_ops(self):
        x = dask.delayed(ops.inc)(1)
        y = dask.delayed(ops.add)(x, 10)
        self.assertEqual(dask.compute(y, scheduler=client.get), (12,))
        with dask.config.set(scheduler=client.get):
            self.assertEqual(y.compute(), 12)

    def test_tuple_keys_and_nested_lists(self):
        d = {("x", 0): 1, ("x", 1): 2, "s": (sum, [("x", 0), ("x", 1)])}
        self.assertEqual(client.get(d, [[("x", 0)], "s"]), ((1,), 3))

    def test_a_weft_op_error_is_a_remote_task_error_with_key_op_message_and_stack(self):
        d = {"x": (ops.fail, "boom"), "y": (inc, "x")}
        with self.assertRaises(RemoteTaskError) as caught:
            client.get(d, "y")
        self.assertEqual((caught.exception.key, caught.exception.op, caught.exception.message), ("x", "fail", "boom"))
        self.assertIn("boom", caught.exception.stack)

    def test_persist_returns_object_refs_that_later_graphs_use(self):
        refs = client.persist({"a": (ops.range, 5), "b": (ops.range, 3)}, ["a", "b"])
        self.assertTrue(all(isinstance(r, ObjectRef) for r in refs))
        self.assertEqual(client.get({"t": (sum, (ops.concat, [refs[0], refs[1]]))}, "t"), 10 + 3)
        self.assertEqual(client.fetch(refs[1]), [0, 1, 2])
        for ref in refs:
            client.release(ref)

    def test_put_and_release(self):
        ref = client.put({"a": [1, 2]})
        self.assertEqual(client.get({"n": (ops.len, ref)}, "n"), 1)
        self.assertEqual(client.get({"n": (len, ref)}, "n"), 1)
        client.release(ref)

    def test_a_weft_op_inside_a_python_call_and_a_python_call_inside_a_weft_op(self):
        d = {"x": (lambda v: v * 3, (ops.inc, 1)), "y": (ops.add, (lambda: 10,), "x")}
        self.assertEqual(client.get(d, ["x", "y"]), (6, 16))


# Each value's type and repr, as the task saw it (a lambda: pickled by value, the executors cannot import this module).
kinds = lambda *values: [(type(v).__name__, repr(v)) for v in values]  # noqa: E731


class TestLiterals(unittest.TestCase):
    """Literals come to Python tasks as they were sent, though the API reads requests as JavaScript values."""

    def test_integral_non_finite_and_negative_zero_floats_stay_floats(self):
        floats = [68.0, 0.0, -0.0, 1e300, float("inf"), float("-inf"), 2.5]
        d = {
            "x": (kinds, *floats, [1.0, 2], 3),
            "a": 68.0,
            "b": (kinds, "a"),
            "l": [4.0, "a"],
            "c": (kinds, "l"),
            "m": (kinds, {"k": 5.0, "n": [6.0]}),
        }
        want = [(type(v).__name__, repr(v)) for v in floats] + [("list", "[1.0, 2]"), ("int", "3")]
        self.assertEqual(client.get(d, "x"), want)
        self.assertEqual(client.get(d, "b"), [("float", "68.0")])
        self.assertEqual(client.get(d, "c"), [("list", "[4.0, 68.0]")])
        self.assertEqual(client.get(d, "m"), [("dict", "{'k': 5.0, 'n': [6.0]}")])
        self.assertEqual(repr(client.get(d, "a")), "68.0")
        nan = client.get({"n": (kinds, float("nan"))}, "n")
        self.assertEqual(nan, [("float", "nan")])
        # As Dask's sync scheduler passes them.
        self.assertEqual(client.get(d, ["x", "b", "c", "m"]), dask.get(d, ["x", "b", "c", "m"]))

    def test_weft_ops_read_floats_as_plain_numbers(self):
        d = {"a": 2.0, "b": (ops.inc, "a"), "c": (ops.add, 1.0, 2.0), "l": [1.0, 2.0], "s": (ops.sum, "l")}
        self.assertEqual(client.get(d, ["b", "c", "s"]), (3, 3, 3))


if __name__ == "__main__":
    unittest.main()
