"""Dask on weft: Dask's collections, Python callables, exceptions, persist,
dataframe_optimize, in-executor callbacks, progress and Ctrl-C, against a
running weft with Python executors (WEFT_URL; test/python-client.test.ts
starts one). Every result is compared with Dask's sync scheduler.
"""
import gc
import io
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import textwrap
import time
import unittest
import warnings

import dask
import dask.array as da
import dask.bag as db
import dask.dataframe as dd
import numpy as np
import pandas as pd

import weft
from weft import Callback, Client, ObjectRef, RemoteTraceback, WeftError, ops

# Functions and callbacks of this module go by value: the executors cannot import a test module.
import cloudpickle  # noqa: E402

cloudpickle.register_pickle_by_value(sys.modules[__name__])

URL = os.environ.get("WEFT_URL", "http://127.0.0.1:8080")
client = Client(URL, progress=False)


def same(a, b):
    if isinstance(a, (pd.DataFrame, pd.Series, pd.Index)):
        return type(a) is type(b) and a.equals(b)
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        if not (type(a) is type(b) and a.dtype == b.dtype and a.shape == b.shape):
            return False
        # BLAS may round differently for another memory layout (a chunk decoded in C order, a transposed view here).
        return np.allclose(a, b, rtol=1e-12, atol=0, equal_nan=True) if a.dtype.kind in "fc" else np.array_equal(a, b)
    if isinstance(a, (list, tuple)):
        return type(a) is type(b) and len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    if isinstance(a, dict):
        return type(a) is type(b) and a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    return type(a) is type(b) and a == b


class Tasks(Callback):
    """The graphs and the keys whose tasks ran (from the event stream)."""

    def __init__(self):
        self.ran = []
        self.graphs = []
        self.counts = []

    def _posttask(self, key, event):
        self.ran.append(key)

    def _postsubmit_all(self, event):
        self.graphs.append(event["graph"])
        self.counts.append(event["tasks"])


class TestCollections(unittest.TestCase):
    def compare(self, *collections, **kwargs):
        got = dask.compute(*collections, scheduler=client.get, **kwargs)
        want = dask.compute(*collections, scheduler="sync", **kwargs)
        self.assertTrue(same(got, want), (got, want))
        return got

    def test_the_seeds_first_example(self):
        d_arr = da.from_array(np.random.randint(0, 1000, size=(256, 256)))
        (mean,) = self.compare(d_arr.mean())
        self.assertIsInstance(mean, np.float64)
        self.assertAlmostEqual(mean, float(d_arr.compute(scheduler="sync").mean()))

    def test_a_lambda_in_a_graph_and_in_dask_delayed(self):
        self.assertEqual(client.get({"x": (lambda v: v * 3, 4)}, "x"), 12)
        self.assertEqual(dask.delayed(lambda x: x * 3)(4).compute(scheduler=client.get), 12)

    def test_arrays(self):
        x = da.random.RandomState(0).random_sample((300, 300), chunks=(100, 100))
        i = da.arange(100, chunks=30, dtype=np.int64)
        self.compare((x + x.T).mean(axis=0).sum(), x[::3, 5:50].std(axis=1), i.cumsum(axis=0), (i % 7).astype(np.int8), x.T @ x)

    def test_dataframes(self):
        pdf = pd.DataFrame(np.random.RandomState(1).randint(0, 100, size=(1024, 2)), columns=["age", "grade"])
        pdf["name"] = [f"n{i % 13}" for i in range(len(pdf))]
        df = dd.from_pandas(pdf, npartitions=4)
        self.compare(df.groupby(["age"]).grade.mean(), df.groupby("name").agg({"grade": ["sum", "max"]}), df[df.age > 50].grade.describe(), df.name.value_counts())

    def test_bags(self):
        b = db.from_sequence(range(100), npartitions=7)
        self.compare(b.map(lambda x: x * 2).filter(lambda x: x % 3).sum(), b.frequencies(), b.map(lambda x: {"k": x % 4, "v": x}).groupby(lambda r: r["k"]).map(lambda kv: (kv[0], sorted(r["v"] for r in kv[1]))), b.to_delayed()[2])

    def test_tuples_come_back_as_tuples(self):
        pair = dask.delayed(lambda: (1, (2, 3)), nout=2)()
        got = self.compare(pair[0], pair[1], dask.delayed(tuple)([pair[0]]))
        self.assertEqual(got, (1, (2, 3), (1,)))

    def test_mixed_languages_numpy_both_ways(self):
        a = dask.delayed(lambda n: np.arange(n, dtype=np.float64))(10)
        s = dask.delayed(ops["array.sum"])(a)  # a TypeScript op reads the Python task's array
        back = dask.delayed(lambda v: v.copy() * 2)(dask.delayed(ops["array.ones"])([3]))  # and Python reads the op's
        got_sum, got_back = dask.compute(s, back, scheduler=client.get)
        self.assertEqual(got_sum, 45.0)
        self.assertTrue(same(got_back, np.full(3, 2.0)))


class TestExceptions(unittest.TestCase):
    def test_a_task_exception_is_raised_with_its_type_and_the_remote_traceback(self):
        def parse(text):
            return int(text)  # the line the remote traceback shows

        x = dask.delayed(parse)("not a number", dask_key_name=("parse", 3))
        with self.assertRaises(ValueError) as caught:
            x.compute(scheduler=client.get)
        cause = caught.exception.__cause__
        self.assertIsInstance(cause, RemoteTraceback)
        self.assertEqual(cause.key, ("parse", 3))
        self.assertIn("return int(text)", cause.stack)
        self.assertIn("invalid literal for int()", str(caught.exception))

    def test_custom_exception_classes_defined_here_come_back(self):
        class Oops(Exception):
            pass

        def f():
            raise Oops("custom")

        with self.assertRaises(Oops):
            client.get({"x": (f,)}, "x")

    def test_an_input_object_whose_graph_failed_raises_that_error(self):
        (bad,) = dask.persist(dask.delayed(lambda: 1 / 0)(), scheduler=client.get)
        with self.assertRaises(ZeroDivisionError):
            (bad + 1).compute(scheduler=client.get)


class TestPersist(unittest.TestCase):
    def test_persisted_collections_hold_futures_and_later_computes_do_not_run_their_tasks(self):
        with dask.config.set(scheduler=client.get):
            d_arr = da.ones(100, chunks=25)
            d_arr_p = d_arr.persist()
            graph = dict(dask.base.collections_to_dsk([d_arr_p]))
            refs = list(graph.values())
            self.assertEqual(len(refs), 4)
            self.assertTrue(all(isinstance(r, ObjectRef) for r in refs), graph)
            with Tasks() as seen:
                # The reductions read the stored chunks: no task of d_arr's runs again (nor copies them).
                self.assertEqual(d_arr_p.sum().compute(), 100.0)
                self.assertEqual(d_arr_p.min().compute(), 1.0)
                self.assertEqual(d_arr_p.max().compute(), 1.0)
            self.assertFalse([k for k in seen.ran if isinstance(k, tuple) and k[0] == d_arr.name], seen.ran)

    def test_dask_persist_with_the_scheduler_as_an_argument_and_other_schedulers_unchanged(self):
        x = da.arange(10, chunks=5)
        (p,) = dask.persist(x, scheduler=client.get)
        self.assertIsInstance(dict(p.__dask_graph__())[(p.name, 0)], ObjectRef)
        self.assertTrue(same(p.compute(scheduler=client.get), np.arange(10)))
        q = x.persist(scheduler="sync")
        self.assertIsInstance(dict(q.__dask_graph__())[(q.name, 0)], np.ndarray)

    def test_futures_are_released_when_the_collection_is_collected_or_explicitly(self):
        p = da.arange(10, chunks=5).persist(scheduler=client.get)
        ref0, ref1 = (dict(p.__dask_graph__())[(p.name, i)] for i in range(2))
        oid0 = ref0.oid
        self.assertEqual(client.graph_info(oid0.split(".")[0])["id"], oid0.split(".")[0])
        self.assertTrue(same(client.fetch(ref0), np.arange(5)))
        client.release(ref1)
        with self.assertRaises(WeftError):
            client.fetch(ref1, wait=0)
        del p, ref0, ref1
        gc.collect()
        deadline = time.time() + 10
        while time.time() < deadline:
            try:
                client._request("GET", f"/v1/objects/{oid0}/meta")
            except WeftError as e:
                self.assertEqual(e.code, "object_not_found")
                break
            time.sleep(0.1)
        else:
            self.fail(f"{oid0} was not released when its collection was collected")


class TestDataframeOptimize(unittest.TestCase):
    def test_the_task_shuffle_runs_as_one_stage_with_the_same_rows(self):
        pdf = pd.DataFrame(np.random.RandomState(0).randint(0, 100, size=(2000, 2)), columns=["age", "grade"])
        results, tasks = {}, {}
        plain = Client(URL, progress=False, multiple_returns=False)
        for name, get, opt in (("plain", plain.get, None), ("default", client.get, None), ("optimized", plain.get, weft.dataframe_optimize)):
            with dask.config.set(scheduler=get, dataframe_optimize=opt), Tasks() as seen:
                df = dd.from_pandas(pdf, npartitions=20)
                results[name] = df.set_index(["age"], shuffle="tasks", max_branch=float("inf")).head(10, npartitions=-1)
            tasks[name] = seen.counts[-1]
        want = dd.from_pandas(pdf, npartitions=20).set_index(["age"], shuffle="tasks", max_branch=float("inf")).head(10, npartitions=-1, compute=False).compute(scheduler="sync")
        for name in results:
            self.assertTrue(same(results[name], want), name)
        # 20 splits, 20 concats, ... instead of 400 getitems more: by dataframe_optimize, and by
        # the client's own rewrite of tasks read only through getitems (on by default).
        self.assertLess(tasks["optimized"], tasks["plain"] - 350)
        self.assertLess(tasks["default"], tasks["plain"] - 350)


class Recorder(Callback):
    in_executor = True

    def __init__(self, path):
        self.path = path

    def _pretask(self, key, inputs):
        return time.perf_counter(), len(inputs)

    def _posttask(self, key, result, pre_state):
        start, n = pre_state
        with open(self.path, "a") as f:
            f.write(json.dumps({"key": repr(key), "inputs": n, "result": repr(result), "pid": os.getpid(), "s": time.perf_counter() - start}) + "\n")


class TestCallbacks(unittest.TestCase):
    def test_in_executor_hooks_see_each_python_task_its_inputs_and_result(self):
        path = os.path.join(tempfile.mkdtemp(), "hooks.jsonl")

        def slow(x):
            time.sleep(0.05)
            return x * 2

        a = dask.delayed(slow)(1, dask_key_name=("a", 0))
        b = dask.delayed(slow)(a, dask_key_name="b")
        z = dask.delayed(lambda x, y: x + y)(a, b, dask_key_name="z")
        with Recorder(path), Tasks() as events:
            self.assertEqual(z.compute(scheduler=client.get), 6)
        with open(path) as f:
            lines = {line["key"]: line for line in map(json.loads, f)}
        self.assertEqual(set(lines), {"('a', 0)", "'b'", "'z'"})
        self.assertEqual((lines["('a', 0)"]["inputs"], lines["'b'"]["inputs"], lines["'z'"]["inputs"]), (0, 1, 2))
        self.assertEqual(lines["'z'"]["result"], "6")
        self.assertGreaterEqual(lines["'b'"]["s"], 0.05)
        self.assertNotEqual(lines["'b'"]["pid"], os.getpid())
        # Event hooks of other callbacks still run here, for every task.
        self.assertEqual(set(events.ran), {("a", 0), "b", "z"})

    def test_rays_hook_names_have_rays_meaning(self):
        path = os.path.join(tempfile.mkdtemp(), "ray.jsonl")

        class RayStyle(Callback):  # a RayDaskCallback subclass with its base class swapped
            def _ray_presubmit(self, task, key, deps):
                return 100 if key == "skip" else None

            def _ray_pretask(self, key, object_refs):
                return list(object_refs)

            def _ray_posttask(self, key, result, pre_state):
                with open(path, "a") as f:
                    f.write(json.dumps([repr(key), pre_state, result]) + "\n")

        d = {"skip": (lambda: 1 / 0,), "a": (lambda x: x + 1, "skip"), "b": (lambda x, y: x * y, "a", 2)}
        with RayStyle():
            self.assertEqual(client.get(d, "b"), 202)
        with open(path) as f:
            self.assertEqual(sorted(map(json.loads, f)), [["'a'", [100], 101], ["'b'", [101], 202]])

    def test_presubmit_answers_a_python_task_with_a_python_value(self):
        cb = Callback(presubmit=lambda task, key, deps: (7, 8) if key == "a" else None)
        with cb:
            self.assertEqual(client.get({"a": (lambda: 1 / 0,), "b": (lambda t: t[1], "a")}, "b"), 8)


class TestProgressAndInterrupts(unittest.TestCase):
    def test_a_python_graph_draws_the_bar_to_the_end(self):
        out = io.StringIO()
        c = Client(URL, progress=True, progress_stream=out, progress_delay=0.1)
        parts = [dask.delayed(lambda i: time.sleep(0.15) or i)(i) for i in range(4)]
        self.assertEqual(dask.delayed(sum)(parts).compute(scheduler=c.get), 6)
        frames = [f.strip() for f in out.getvalue().split("\r") if f.strip()]
        self.assertRegex(frames[-1], r"^weft \[#+\] 5/5 tasks 100% \d+\.\ds$")

    def test_ctrl_c_cancels_a_running_python_graph(self):
        script = textwrap.dedent(
            """
            import sys, time, dask
            from weft import Client, Callback
            c = Client(sys.argv[1], progress=False)
            class Started(Callback):
                def _pretask(self, key, event):
                    print("graph", event["graph"], flush=True)
            try:
                with Started():
                    dask.delayed(lambda: time.sleep(60))().compute(scheduler=c.get)
            except KeyboardInterrupt:
                print("interrupted", flush=True)
            """
        )
        env = {**os.environ, "PYTHONPATH": os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))}
        proc = subprocess.Popen([sys.executable, "-c", script, URL], stdout=subprocess.PIPE, text=True, env=env)
        line = proc.stdout.readline()
        gid = re.match(r"graph (\S+)", line).group(1)
        t0 = time.time()
        proc.send_signal(signal.SIGINT)
        rest, _ = proc.communicate(timeout=30)
        self.assertIn("interrupted", rest)
        self.assertLess(time.time() - t0, 10)
        self.assertEqual(client.graph_info(gid)["status"], "cancelled")

    def test_a_graph_waiting_for_a_pool_nobody_serves_is_reported(self):
        refs = client.persist({"x": (lambda: 1,)}, "x", options={"pool": "nobody-serves-this"})
        gid = refs.oid.split(".")[0]
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            time.sleep(0.5)
            client._warn_if_waiting_for_pools(gid)
        client.cancel(gid)
        self.assertTrue(any("nobody-serves-this" in str(w.message) for w in caught), [str(w.message) for w in caught])


class TestObjects(unittest.TestCase):
    def test_put_and_fetch_python_values(self):
        for value in ((1, "two"), np.arange(5), np.arange(6, dtype=np.float32).reshape(2, 3), {"k": [1, None]}, pd.DataFrame({"a": [1.5, 2.5]})):
            ref = client.put(value)
            got = client.fetch(ref)
            self.assertTrue(same(got, value), (got, value))
            if isinstance(got, np.ndarray):
                got[0] = 0  # writable, as Dask's results are
            client.release(ref)


if __name__ == "__main__":
    unittest.main()
