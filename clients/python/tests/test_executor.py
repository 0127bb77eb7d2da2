"""weft.executor through a real pipe, as a worker drives it (docs/executors.md).
Run: /usr/bin/python3 -m pytest clients/python/tests/test_executor.py
"""
import functools
import io
import os
import pickle
import signal
import struct
import subprocess
import sys
import textwrap
import threading
import time
import types
import unittest

try:
    import cloudpickle
    import msgpack
    import numpy as np
    import pytest
    from dask.optimization import SubgraphCallable
except ImportError as e:  # `unittest discover` (test/python-client.test.ts) imports every test module
    raise unittest.SkipTest(f"the executor tests need {e.name}")

from weft import codec

PYTHONPATH = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
# The functions below are sent by value: the executor cannot import this test module.
cloudpickle.register_pickle_by_value(sys.modules[__name__])


class Executor:
    """`python3 -m weft.executor` on a pipe, and the frames it speaks."""

    def __init__(self):
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "weft.executor"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            env={"PATH": os.environ.get("PATH", ""), "PYTHONPATH": PYTHONPATH},
        )
        self.batch = 0

    def read(self):
        """The next frame, as plain MessagePack: values must be bin in it, never extensions."""
        (n,) = struct.unpack(">I", self.proc.stdout.read(4))
        return msgpack.unpackb(self.proc.stdout.read(n), raw=False)

    def send(self, message):
        body = codec.packb(message)
        self.proc.stdin.write(struct.pack(">I", len(body)) + body)
        self.proc.stdin.flush()

    def run(self, *tasks):
        """Runs one batch of (template, inputs[, returns]); gives the done frame's results."""
        self.batch += 1
        self.send({"t": "run", "batch": self.batch, "tasks": [
            {"id": i, "graph": "g", "key": f"k-{i}", "template": codec.packb(t[0]), "inputs": [codec.encode(v) for v in t[1]],
             "returns": t[2] if len(t) > 2 else None, "hooks": None}
            for i, t in enumerate(tasks)
        ]})
        done = self.read()
        assert done["t"] == "done" and done["batch"] == self.batch
        assert [r["id"] for r in done["results"]] == list(range(len(tasks)))
        return done["results"]

    def value(self, template, *inputs):
        """The single value of one task, which must succeed."""
        (result,) = self.run((template, list(inputs)))
        assert result["ok"], result["error"]["traceback"]
        (value,) = result["values"]
        return codec.decode(value)

    def close(self):
        self.proc.stdin.close()
        code = self.proc.wait(10)
        self.stderr = self.proc.stderr.read().decode()
        return code


@pytest.fixture
def ex():
    e = Executor()
    hello = e.read()
    assert hello["t"] == "hello" and hello["protocol"] == 1 and hello["lang"] == "python" and hello["pid"] == e.proc.pid
    yield e
    e.proc.kill()
    e.proc.wait()


def call(fn, *args, **kwargs):
    """A call template: fn is a template or a callable (a literal)."""
    fn = fn if isinstance(fn, list) else [0, fn]
    if not kwargs:
        return [6, fn, list(args), None, None]
    return [6, fn, list(args), list(kwargs), list(kwargs.values())]


def lit(value):
    return [0, value]


def inp(slot):
    return [1, slot]


def inc(x):
    return x + 1


def add(x, y=0, *, z=0):
    return x + y + z


def fail(x):
    raise ValueError(f"no good: {x}")


class Unpicklable(Exception):
    def __init__(self, a, b):
        super().__init__(f"{a} and {b}")


def fail_unpicklably():
    raise Unpicklable(1, 2)


class Unprintable(Exception):
    def __str__(self):
        raise RuntimeError("no str")


# ---------------------------------------------------------------- evaluation


def test_nested_calls_lists_maps_and_kwargs_run_with_dask_semantics(ex):
    assert ex.value(call(inc, call(inc, inp(0))), 40) == 42
    assert ex.value(call(add, inp(0), lit(2), z=call(inc, lit(10))), 1) == 14
    assert ex.value([3, [inp(0), call(inc, inp(0)), [3, []]]], 1) == [1, 2, []]
    assert ex.value([4, ["a", "b"], [inp(0), lit(None)]], "v") == {"a": "v", "b": None}
    # Literals are passed as they are: a tuple stays a tuple, an input foreign value is unpickled.
    assert ex.value(call(list, lit((1, 2))), None) == [1, 2]
    assert ex.value(call(type, inp(0)), (1, 2)) is tuple
    # The callable may be an input: one function stored once for many tasks.
    assert ex.value(call(inp(0), lit(1)), inc) == 2
    # A fused task is evaluated in place.
    assert ex.value(call(inc, [5, "inner", call(inc, inp(0))]), 1) == 3


def test_returns_k_gives_k_values_and_bad_returns_otherwise(ex):
    ok, short, scalar = ex.run(
        (call(divmod, lit(7), lit(2)), [], 2),
        (call(divmod, lit(7), lit(2)), [], 3),
        (call(inc, lit(1)), [], 2),
    )
    assert [codec.decode(v) for v in ok["values"]] == [3, 1]
    assert short["error"]["code"] == "bad_returns" and "3 values" in short["error"]["message"]
    assert short["error"]["op"] == "divmod" and "exception" not in short["error"]
    assert scalar["error"]["code"] == "bad_returns"


def test_each_result_says_how_long_it_took(ex):
    (r,) = ex.run((call(time.sleep, lit(0.05)), []))
    assert r["ok"] and 50 <= r["ms"] < 1000


# ---------------------------------------------------------------- errors


def test_an_exception_gives_its_type_message_traceback_op_and_pickle(ex):
    failed, after = ex.run((call(inc, call(fail, inp(0))), [3]), (call(inc, lit(1)), []))
    error = failed["error"]
    assert failed["ok"] is False and error["code"] == "task_error"
    assert error["type"] == "ValueError" and error["message"] == "no good: 3" and error["op"] == "fail"
    assert "Traceback (most recent call last)" in error["traceback"] and "in fail" in error["traceback"]
    assert "weft/executor.py" not in error["traceback"]
    exc = pickle.loads(error["exception"])
    assert type(exc) is ValueError and exc.args == ("no good: 3",)
    assert "key" not in error
    assert codec.decode(after["values"][0]) == 2  # the batch goes on after a failed task


def test_an_error_in_a_fused_task_names_its_key_and_the_innermost_one_wins(ex):
    (r,) = ex.run((call(inc, [5, "outer", call(inc, [5, "inner", call(fail, lit(1))])]), []))
    assert r["error"]["key"] == "inner" and r["error"]["op"] == "fail"


def test_an_exception_that_does_not_survive_pickling_has_no_exception_field(ex):
    (r,) = ex.run((call(fail_unpicklably), []))
    assert r["error"]["type"] == "Unpicklable" and r["error"]["message"] == "1 and 2"
    assert "exception" not in r["error"]


def test_an_exception_whose_str_fails_is_still_reported(ex):
    (r,) = ex.run((call(lambda: (_ for _ in ()).throw(Unprintable())), []))
    assert r["error"]["type"] == "Unprintable" and "str() failed" in r["error"]["message"]
    assert ex.value(call(inc, lit(1))) == 2


def test_op_names_a_partial_by_its_function_and_a_subgraph_callable_by_its_name(ex):
    subgraph = SubgraphCallable({"out": (fail, "x")}, "out", ["x"], name="my-subgraph")
    partial, sub = ex.run((call(functools.partial(fail, 1)), []), (call(subgraph, lit(1)), []))
    assert partial["error"]["op"] == "fail"
    assert sub["error"]["op"] == "my-subgraph" and sub["error"]["type"] == "ValueError"


def test_sys_exit_in_a_task_fails_the_task_not_the_executor(ex):
    (r,) = ex.run((call(sys.exit, lit(3)), []))
    assert r["error"]["code"] == "task_error" and r["error"]["type"] == "SystemExit"
    assert ex.value(call(inc, lit(1))) == 2


def test_a_result_that_cannot_be_stored_is_bad_result(ex):
    (r,) = ex.run((call(threading.Lock), []))
    assert r["error"]["code"] == "bad_result" and r["error"]["type"] == "EncodeError"
    assert "_thread.lock" in r["error"]["message"] and r["error"]["op"] == "allocate_lock"
    assert isinstance(pickle.loads(r["error"]["exception"]), codec.EncodeError)


def test_a_pickle_naming_a_missing_module_is_bad_callable_saying_what_to_install(ex):
    package, module = types.ModuleType("weft_missing_pkg"), types.ModuleType("weft_missing_pkg.tools")
    exec("def work(x):\n    return x", module.__dict__)
    package.tools = module
    sys.modules.update({package.__name__: package, module.__name__: module})
    try:
        template = codec.packb(call(module.work, lit(1)))  # pickled by reference
    finally:
        del sys.modules[package.__name__], sys.modules[module.__name__]
    ex.send({"t": "run", "batch": 1, "tasks": [{"id": 0, "template": template, "inputs": [], "returns": None}]})
    (r,) = ex.read()["results"]
    error = r["error"]
    assert error["code"] == "bad_callable" and error["type"] == "ModuleNotFoundError"
    assert error["op"] == "weft_missing_pkg.tools.work"
    assert "'weft_missing_pkg'" in error["message"] and "Install weft_missing_pkg on the workers" in error["message"]


def test_weft_ops_and_other_languages_callables_are_unknown_op(ex):
    weft_op, js = ex.run(
        ([2, "inc", [lit(1)], None, None], []),
        (call(codec.Foreign("js", "inc", b"(x) => x + 1"), lit(1)), []),
    )
    assert weft_op["error"]["code"] == "unknown_op" and weft_op["error"]["op"] == "inc"
    assert js["error"]["code"] == "unknown_op" and js["error"]["op"] == "inc"
    # Another language's value as data is passed on as it is.
    assert ex.value(call(lambda v: v, inp(0)), codec.Foreign("js", "x", b"1")) == codec.Foreign("js", "x", b"1")


# ---------------------------------------------------------------- values


def test_an_array_input_is_a_read_only_view_of_the_input_bytes(ex):
    a = np.arange(100_000, dtype=np.float64)
    flags = ex.value(call(lambda x: [bool(x.flags.owndata), bool(x.flags.writeable), x.ctypes.data % 8, float(x.sum())], inp(0)), a)
    assert flags == [False, False, 0, float(a.sum())]


def test_a_big_array_input_is_read_into_its_own_aligned_buffer_and_viewed_there(ex):
    # A frame of megabytes is decoded as it is read: the input's bytes go straight into their own buffer.
    a = np.arange(2_000_001, dtype=np.float64)
    small = np.arange(10, dtype=np.int16)
    flags = ex.value(call(lambda x, y: [bool(x.flags.owndata), bool(x.flags.writeable), x.ctypes.data % 8, float(x.sum()), y.tolist()], inp(0), inp(1)), a, small)
    assert flags == [False, False, 0, float(a.sum()), small.tolist()]


def _plain(v):
    if isinstance(v, memoryview):
        return bytes(v)
    if isinstance(v, list):
        return [_plain(x) for x in v]
    if isinstance(v, dict):
        return {k: _plain(x) for k, x in v.items()}
    return v


@pytest.mark.parametrize("message", [
    {"t": "run", "batch": 7, "tasks": [{"id": 0, "graph": "g", "key": "k", "template": b"\x93\x01", "inputs": [b"x" * (1 << 20), b"", b"y" * 300], "returns": None}]},
    {"ints": [0, 127, 128, 255, 256, 65535, 65536, 2**32 - 1, 2**32, 2**64 - 1, -1, -32, -33, -128, -129, -32768, -32769, -2**31, -2**31 - 1, -2**63],
     "floats": [0.5, -1e300, float("inf")], "strs": ["", "é" * 20, "s" * 40, "t" * 300, "u" * 70_000], "nil": None, "bools": [True, False],
     "nested": {"m": {str(i): [i, {"x": b"z" * i}] for i in range(20)}}, 3: "int key",
     "big": [b"\x01" * (1 << 20), b"\x02" * 70_000], "ext": codec.Foreign("r", "f", b"data")},
])
def test_a_frame_of_megabytes_is_decoded_as_it_is_read_to_what_msgpack_decodes(message):
    from weft import executor

    body = codec.packb(message)
    assert len(body) >= executor._STREAM_FROM
    got = executor.read_frame(io.BufferedReader(io.BytesIO(struct.pack(">I", len(body)) + body)))
    assert _plain(got) == _plain(codec.unpackb(body))


def test_a_frame_of_megabytes_that_is_not_one_value_is_an_error():
    from weft import executor

    body = codec.packb([b"x" * (1 << 20)])
    with pytest.raises(ValueError):  # one value, then bytes the frame says are its own
        executor.read_frame(io.BufferedReader(io.BytesIO(struct.pack(">I", len(body) + 1) + body + b"\xc0")))
    with pytest.raises(ValueError):  # a value longer than the frame
        executor.read_frame(io.BufferedReader(io.BytesIO(struct.pack(">I", len(body) - 1) + body)))


def test_array_results_small_and_big_come_back_as_stored_values(ex):
    small, listed = ex.run((call(lambda x: x * 2, inp(0)), [np.arange(3.0)]), (call(lambda: [np.arange(2, dtype="int8")]), []))
    assert small["values"][0] == codec.encode(np.arange(3.0) * 2)
    assert codec.decode(listed["values"][0])[0].tolist() == [0, 1]


def test_a_big_result_comes_back_in_the_aligned_layout(ex):
    a = np.arange(3_000_000, dtype=np.float32).reshape(1000, 3000)
    (r,) = ex.run((call(lambda x: x.T, inp(0)), [a]))
    assert r["values"][0] == codec.encode(a.T)
    assert np.array_equal(codec.decode(r["values"][0]), a.T)


def test_callables_are_unpickled_once_per_process(ex):
    class Counter:
        def __init__(self):
            self.calls = 0

        def __call__(self):
            self.calls += 1
            return self.calls

    counter = Counter()
    assert [ex.value(call(counter)) for _ in range(3)] == [1, 2, 3]


# ---------------------------------------------------------------- the process


def test_prints_from_tasks_and_c_code_go_to_stderr_not_into_frames(ex):
    noisy = lambda: (print("printed " * 2000), os.write(1, b"written to fd 1\n"), sys.stdout.flush(), 7)[-1]  # noqa: E731
    assert ex.value(call(noisy)) == 7
    assert ex.value(call(inc, lit(1))) == 2
    assert ex.close() == 0
    assert "printed printed" in ex.stderr and "written to fd 1" in ex.stderr


def test_a_subprocess_of_a_task_cannot_read_the_frames(ex):
    read = lambda: subprocess.run(["cat"], capture_output=True, timeout=5).stdout  # noqa: E731
    assert ex.value(call(read)) == b""
    assert ex.value(call(inc, lit(1))) == 2


def test_it_exits_cleanly_when_stdin_ends(ex):
    assert ex.close() == 0
    assert ex.stderr == ""


def test_it_dies_with_the_process_that_started_it():
    parent = subprocess.Popen([sys.executable, "-c", textwrap.dedent("""
        import struct, subprocess, sys, time
        from weft import codec
        ex = subprocess.Popen([sys.executable, "-m", "weft.executor"], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        template = codec.packb([6, [0, time.sleep], [[0, 60]], None, None])
        body = codec.packb({"t": "run", "batch": 1, "tasks": [{"id": 0, "template": template, "inputs": [], "returns": None}]})
        ex.stdin.write(struct.pack(">I", len(body)) + body)
        ex.stdin.flush()
        print(ex.pid, flush=True)
        time.sleep(60)
    """)], stdout=subprocess.PIPE, env={"PYTHONPATH": PYTHONPATH})
    pid = int(parent.stdout.readline())
    time.sleep(0.3)  # the executor is in its 60 s task
    assert _alive(pid)
    parent.kill()
    parent.wait()
    deadline = time.time() + 5
    while _alive(pid) and time.time() < deadline:
        time.sleep(0.05)
    assert not _alive(pid)


def _alive(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(")")[-1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def test_sigint_is_left_to_the_worker(ex):
    ex.proc.send_signal(signal.SIGINT)
    assert ex.value(call(inc, lit(1))) == 2


# ---------------------------------------------------------------- hooks (weft.hooks, in-executor callbacks)


class RecordingCallback:
    """What weft.Callback(in_executor=True) gives the executor: _pretask and _posttask."""

    in_executor = True

    def __init__(self, path, fail_pre=False):
        self.path = path
        self.fail_pre = fail_pre

    def _pretask(self, key, inputs):
        if self.fail_pre:
            raise RuntimeError("pretask refused")
        return {"key": key, "inputs": inputs}

    def _posttask(self, key, result, pre_state):
        import json

        with open(self.path, "a") as f:
            f.write(json.dumps({"key": key, "result": result, "pre": pre_state}) + "\n")


def hooked(hooks_slot, key, inner):
    return [6, inp(hooks_slot), [lit(key), inner], None, None]


def test_hooks_run_around_the_task_with_its_key_inputs_and_result(ex, tmp_path):
    import json

    from weft.hooks import TaskHooks
    from weft.keys import key_name

    path = str(tmp_path / "hooks.jsonl")
    hooks = TaskHooks([RecordingCallback(path), RecordingCallback(path)])
    # Slot 0: the hooks, slot 1: a callable shared by many tasks, slots 2 and 3: values.
    template = hooked(0, key_name(("x", 1)), call(inp(1), inp(2), call(inc, inp(3))))
    assert ex.value(template, hooks, add, 10, 20) == 31
    lines = [json.loads(line) for line in open(path)]
    assert len(lines) == 2
    for line in lines:
        assert line == {"key": ["x", 1], "result": 31, "pre": {"key": ["x", 1], "inputs": [10, 20]}}


def test_a_hook_that_raises_fails_the_task_and_names_the_hooks(ex, tmp_path):
    from weft.hooks import TaskHooks

    hooks = TaskHooks([RecordingCallback(str(tmp_path / "x"), fail_pre=True)])
    (result,) = ex.run((hooked(0, "k", call(inc, inp(1))), [hooks, 1]))
    assert not result["ok"] and result["error"]["type"] == "RuntimeError" and result["error"]["op"] == "weft hooks"
    # The task's own error is still the task's.
    ok_hooks = TaskHooks([RecordingCallback(str(tmp_path / "y"))])
    (result,) = ex.run((hooked(0, "k", call(fail, inp(1))), [ok_hooks, 1]))
    assert result["error"]["type"] == "ValueError" and result["error"]["op"] == "fail"
    assert not os.path.exists(tmp_path / "y")  # no posttask for a task that failed
