"""Progress bar, callbacks, events and task timings against a running weft (WEFT_URL).

Run by test/python-client.test.ts with the other client tests.
"""
import io
import os
import re
import threading
import unittest

import dask

from weft import Callback, Client, RemoteTaskError, WeftError, ops

URL = os.environ.get("WEFT_URL", "http://127.0.0.1:8080")
client = Client(URL, progress=False)


class TTY(io.StringIO):
    def isatty(self):
        return True


def frames(text):
    """The successive states of a bar drawn with carriage returns."""
    return [f.strip() for f in text.split("\r") if f.strip()]


def staggered(n, step_ms=300):
    """n sleep tasks of step, 2*step, ... ms and their sum: n + 1 tasks, none fused."""
    d = {("s", i): (ops.sleep, step_ms * (i + 1), i) for i in range(n)}
    d["total"] = (sum, [("s", i) for i in range(n)])
    return d


class TestProgress(unittest.TestCase):
    def test_a_long_compute_draws_a_bar_that_reaches_every_task(self):
        out = io.StringIO()
        c = Client(URL, progress=True, progress_stream=out, progress_delay=0.2)
        self.assertEqual(c.get(staggered(4), "total"), 0 + 1 + 2 + 3)
        shown = frames(out.getvalue())
        self.assertTrue(shown, "no bar was drawn")
        self.assertTrue(out.getvalue().endswith("\n"), "the bar's line is not ended")
        self.assertRegex(shown[-1], r"^weft \[#+\] 5/5 tasks 100% \d+\.\ds$")
        done = [int(re.search(r"(\d+)/[5?] tasks", f).group(1)) for f in shown]
        self.assertEqual(done, sorted(done), "the count went backwards")

    def test_a_short_compute_draws_nothing(self):
        out = io.StringIO()
        c = Client(URL, progress=True, progress_stream=out, progress_delay=1.0)
        self.assertEqual(c.get({"x": 1, "y": (ops.inc, "x")}, "y"), 2)
        self.assertEqual(out.getvalue(), "")

    def test_default_is_on_for_a_terminal_only(self):
        tty, pipe = TTY(), io.StringIO()
        for stream in (tty, pipe):
            Client(URL, progress_stream=stream, progress_delay=0).get({"s": (ops.sleep, 300, 1)}, "s")
        self.assertRegex(frames(tty.getvalue())[-1], r"1/1 tasks 100%")
        self.assertEqual(pipe.getvalue(), "")

    def test_switched_off_on_a_terminal(self):
        tty = TTY()
        Client(URL, progress=False, progress_stream=tty, progress_delay=0).get({"s": (ops.sleep, 300, 1)}, "s")
        self.assertEqual(tty.getvalue(), "")

    def test_a_failed_task_shows_in_the_bar_and_raises(self):
        out = io.StringIO()
        c = Client(URL, progress=True, progress_stream=out, progress_delay=0)
        with self.assertRaises(RemoteTaskError):
            c.get({"s": (ops.sleep, 300, 1), "f": (ops.fail, "boom"), "t": (ops.add, "s", "f")}, "t")
        self.assertIn("1 failed", frames(out.getvalue())[-1])

    def test_a_rejected_graph_draws_nothing_and_leaves_no_ticker(self):
        out = io.StringIO()
        c = Client(URL, progress=True, progress_stream=out, progress_delay=0)
        with self.assertRaises(WeftError) as caught:
            c.get({"x": (ops["no.such.op"], 1)}, "x")
        self.assertEqual(caught.exception.code, "unknown_op")
        self.assertNotIn("weft-progress", [t.name for t in threading.enumerate()])
        self.assertNotIn("tasks", out.getvalue())

    def test_bad_arguments_say_what_is_wrong(self):
        with self.assertRaisesRegex(TypeError, "progress must be None"):
            Client(URL, progress="yes")
        with self.assertRaisesRegex(ValueError, "progress_delay"):
            Client(URL, progress_delay=-1)
        with self.assertRaisesRegex(TypeError, "progress_stream"):
            Client(URL, progress_stream=3)
        with self.assertRaisesRegex(ValueError, "http://host:port"):
            Client("localhost:8080")

    def test_an_unreachable_service_is_a_weft_error(self):
        with self.assertRaises(WeftError) as caught:
            Client("http://127.0.0.1:1").get({"x": 1}, "x")
        self.assertEqual(caught.exception.code, "unreachable")


class TestCallbacks(unittest.TestCase):
    def test_posttask_sees_each_task_with_its_dask_key_and_run_time(self):
        seen = {}
        with Callback(posttask=lambda key, event: seen.__setitem__(key, event)):
            client.get(staggered(3, 100), "total")
        self.assertEqual(set(seen), {("s", 0), ("s", 1), ("s", 2), "total"})
        for i in range(3):
            self.assertGreaterEqual(seen[("s", i)]["duration_ms"], 100 * (i + 1) - 1)
            self.assertTrue(seen[("s", i)]["ok"])
        # Only the requested key's value is reachable from here.
        self.assertNotIn("ref", seen[("s", 0)])
        self.assertEqual(client.fetch(seen["total"]["ref"]), 3)
        self.assertEqual(Callback.active, [], "the with block left the callback registered")

    def test_every_hook_in_order_with_dask_delayed(self):
        calls = []

        class Recorder(Callback):
            def _postsubmit(self, key, event):
                calls.append(("postsubmit", key))

            def _pretask(self, key, event):
                calls.append(("pretask", key))

            def _posttask(self, key, event):
                calls.append(("posttask", key))

            def _postsubmit_all(self, event):
                calls.append(("postsubmit_all", event["tasks"]))

            def _finish(self, event):
                calls.append(("finish", event["status"]))

        a = dask.delayed(ops.sleep)(50, 1, dask_key_name="a")
        b = dask.delayed(ops.sleep)(50, 2, dask_key_name="b")
        c = dask.delayed(ops.add)(a, b, dask_key_name="c")
        with Recorder():
            self.assertEqual(dask.compute(c, scheduler=client.get), (3,))
        self.assertEqual(calls[-1], ("finish", "done"))
        self.assertIn(("postsubmit_all", 3), calls)
        for key in "abc":
            order = [calls.index((hook, key)) for hook in ("postsubmit", "pretask", "posttask")]
            self.assertEqual(order, sorted(order), f"hooks of {key} out of order: {calls}")
        self.assertLess(calls.index(("posttask", "a")), calls.index(("pretask", "c")))

    def test_presubmit_value_replaces_the_task_and_what_only_it_needed(self):
        asked = []

        def presubmit(task, key, deps):
            asked.append((key, deps))
            return 41 if key == "b" else None

        ran = []
        cb = Callback(presubmit=presubmit, pretask=lambda key, event: ran.append(key))
        d = {"a": (ops.fail, "never runs"), "b": (ops.inc, "a"), "c": (ops.inc, "b"), "unused": (ops.fail, "culled")}
        self.assertEqual(client.compute_graph(d, "c", callbacks=[cb]).result, 42)
        self.assertEqual(asked, [("c", ["b"]), ("b", ["a"])])
        self.assertEqual(ran, ["c"])

    def test_presubmit_may_answer_with_an_object_ref(self):
        ref = client.put([1, 2, 3])
        cb = Callback(presubmit=lambda task, key, deps: ref if key == ("x", 0) else None)
        self.assertEqual(client.compute_graph({("x", 0): (ops.fail, "no"), "n": (len, ("x", 0))}, "n", callbacks=[cb]).result, 3)
        # Any Python value may answer (a pickle, for Python tasks); one that cannot be sent says so.
        answer = Callback(presubmit=lambda task, key, deps: (1, 2) if key == "x" else None)
        self.assertEqual(client.compute_graph({"x": (ops.inc, 1), "y": (len, "x")}, "y", callbacks=[answer]).result, 2)
        import threading

        with self.assertRaisesRegex(TypeError, "cannot be pickled"):
            client.compute_graph({"x": (ops.inc, 1)}, "x", callbacks=[Callback(presubmit=lambda *a: threading.Lock())])

    def test_a_callback_needs_functions(self):
        with self.assertRaisesRegex(TypeError, "posttask"):
            Callback(posttask=3)
        with self.assertRaisesRegex(TypeError, "weft.Callback"):
            client.compute_graph({"x": 1}, "x", callbacks=[print])

    def test_interrupting_a_compute_cancels_its_graph(self):
        class Interrupt(Callback):
            def _pretask(self, key, event):
                self.graph = event["graph"]
                raise KeyboardInterrupt

        cb = Interrupt()
        with self.assertRaises(KeyboardInterrupt):
            client.compute_graph({"s": (ops.sleep, 5000, 1)}, "s", callbacks=[cb])
        self.assertEqual(client.graph_info(cb.graph)["status"], "cancelled")


class TestGraphState(unittest.TestCase):
    def test_compute_graph_events_and_task_timings(self):
        res = client.compute_graph(staggered(2, 100), ["total", [("s", 1)]])
        self.assertEqual((res.status, res.result), ("done", (1, (1,))))
        self.assertEqual(client.fetch(res.outputs[1][0]), 1)
        live = list(client.events(res.id))
        recorded = list(client.events(res.id, follow=False))
        self.assertEqual(live, recorded)
        self.assertEqual([e["seq"] for e in live], list(range(len(live))))
        self.assertEqual(live[-1]["type"], "finish")
        self.assertEqual(list(client.events(res.id, start=len(live) - 1)), [live[-1]])
        timings = {t["key"]: t for t in client.task_timings(res.id)}
        self.assertEqual(set(timings), {("s", 0), ("s", 1), "total"})
        self.assertGreaterEqual(timings[("s", 1)]["run_ms"], 199)
        self.assertEqual(client.graph_info(res.id)["progress"]["done"], 3)

    def test_unknown_graph(self):
        with self.assertRaises(WeftError) as caught:
            next(client.events("no-such-graph"))
        self.assertEqual(caught.exception.code, "graph_not_found")
        with self.assertRaisesRegex(TypeError, "graph id"):
            client.task_timings(None)

    def test_dask_delayed_containers_become_arrays_and_objects(self):
        part = dask.delayed(ops["frame.from_columns"])({"k": [1, 2, 1], "v": [10, 20, 30]})
        agg = dask.delayed(ops["frame.groupby_agg"])(part, "k", {"v": ["v", "sum"]})
        rows = dask.delayed(ops["frame.to_records"])(agg)
        self.assertEqual(dask.compute(rows, dask.delayed(len)((1, 2, part)), scheduler=client.get), ([{"k": 1, "v": 40}, {"k": 2, "v": 20}], 3))


if __name__ == "__main__":
    unittest.main()
