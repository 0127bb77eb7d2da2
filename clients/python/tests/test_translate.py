"""weft.translate: Dask graphs as weft graphs, without a server.

Each translated graph is packed as the client sends it, unpacked as the API
and the executor read it, and evaluated with weft's graph semantics by a small
reference evaluator (below); the values must be Dask's sync scheduler's.
Run: /usr/bin/python3 -m pytest clients/python/tests/test_translate.py
(test/python-unit.test.ts runs it).
"""
import base64
import functools
import operator
import unittest

try:
    import cloudpickle
    import dask
    import dask.array as da
    import dask.bag as db
    import dask.dataframe as dd
    import numpy as np
    import pandas as pd
    import pytest
    from dask.utils import apply
except ImportError as e:  # `unittest discover` (test/python-client.test.ts) imports every test module
    raise unittest.SkipTest(f"the translation tests need {e.name}")

import weft
from weft import ObjectRef, RemoteTaskError, RemoteTraceback, codec, ops
from weft import translate as T
from weft.hooks import TaskHooks
from weft.keys import dask_key, key_name
from weft.multireturn import MultipleReturn, multiple_return_get


def wire(dsk, keys="x", known=None, hooks=None, multiple_returns=True):
    """The graph as the API receives it: packed by the client, unpacked (foreign values unpickled)."""
    t = T.translate(dsk, known, hooks, keys=keys, multiple_returns=multiple_returns)
    body = codec.unpackb(t.packb({"graph": t.graph, "keys": keys}))
    return body["graph"], t


def raw(dsk, keys="x", multiple_returns=True):
    """The graph with foreign values as Foreign (not unpickled), to look at the request itself."""
    import msgpack

    t = T.translate(dsk, keys=keys, multiple_returns=multiple_returns)
    packed = t.packb({"graph": t.graph, "keys": keys})

    def ext(code, data):
        if code == codec.FOREIGN_EXT:
            return codec.Foreign(*msgpack.unpackb(data, raw=False))
        return codec._ext_hook(code, data)

    return msgpack.unpackb(packed, ext_hook=ext, raw=False, strict_map_key=False)["graph"]


class Weft:
    """weft's evaluation of a graph (docs/graph-format.md), in Python: what the API, the
    workers and the executor do together, minus the distribution."""

    def __init__(self, graph, objects=None):
        self.graph = graph
        self.objects = objects or {}
        self.cache = {}

    def value(self, key, index=None):
        if (key, index) not in self.cache:
            v = self.top(self.graph[key])
            self.cache[(key, None)] = v
            if index is not None:
                self.cache[(key, index)] = v[index]
        return self.cache[(key, index)]

    def top(self, node):
        return self.node(node)

    def node(self, n):
        if type(n) is list:
            return [self.node(i) for i in n]
        if type(n) is dict:
            if "$ref" in n:
                return self.value(n["$ref"], n.get("index"))
            if "$oid" in n:
                return self.objects[n["$oid"]]
            if "$literal" in n:
                return n["$literal"]
            if "$op" in n:
                raise AssertionError(f"weft op {n['$op']} in a Python-only test")
            if "$call" in n:
                fn = self.node(n["$call"])
                if type(fn) is TaskHooks:
                    return fn.run(n["args"][0], [], lambda: self.node(n["args"][1]))
                args = [self.node(a) for a in n["args"]]
                kwargs = {k: self.node(v) for k, v in (n.get("kwargs") or {}).items()}
                out = fn(*args, **kwargs)
                if n.get("returns"):
                    assert len(out) == n["returns"]
                return out
            return {k: self.node(v) for k, v in n.items()}
        return n


def weft_get(dsk, keys, multiple_returns=True):
    graph, _ = wire(dsk, keys, multiple_returns=multiple_returns)
    w = Weft(graph)
    return _values(w, keys)


def _values(w, keys):
    if isinstance(keys, list):
        return [_values(w, k) for k in keys]
    return w.value(key_name(keys))


def same(a, b):
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        return type(a) is type(b) and a.dtype == b.dtype and np.array_equal(a, b)
    if isinstance(a, (pd.DataFrame, pd.Series, pd.Index)):
        return type(a) is type(b) and a.equals(b)
    if isinstance(a, (list, tuple)):
        return type(a) is type(b) and len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    if isinstance(a, dict):
        return type(a) is type(b) and a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    return type(a) is type(b) and (a == b or (a != a and b != b))


def check(dsk, key):
    want = dask.get(dsk, key)
    got = weft_get(dsk, key)
    assert same(got, want), (got, want)
    return got


inc = lambda x: x + 1  # noqa: E731


# ---------------------------------------------------------------- Dask's semantics


def test_tasks_references_lists_and_literals_evaluate_as_dask_does():
    d = {
        "a": [1, 2, 3],
        "b": "a",
        "c": [1, (inc, 1)],
        "d": [(sum, "a")],
        "e": ["a", "b"],
        "f": [[[(sum, "a"), "c"], (sum, "b")], 2],
        "g": (len, {1, 2}),
        "h": (lambda t: t, ("a", "not a key")),  # a tuple that is not a task: a literal, not read for keys
        "i": (lambda d: d, {"k": "a"}),  # a dict: a literal, "a" is not substituted
        "j": (operator.getitem, "a", slice(0, 2)),
        "k": (lambda x: x, ("a",)),  # a one-tuple that is not a key
        ("t", 0): (inc, 41),
        "l": (lambda x: x, ("t", 0)),  # a tuple key is a reference
        "m": {"a": 1},
        "n": (sum, [(inc, "x1"), "x1"]),
        "x1": 1,
    }
    for key in d:
        check(d, key)
    assert weft_get(d, "h") == ("a", "not a key")
    assert weft_get(d, "i") == {"k": "a"}
    assert weft_get(d, "l") == 42


def test_python_callables_run_as_python_and_weft_ops_only_by_name():
    g = raw({"x": (operator.add, 1, 2), "y": (sum, [1]), "z": (ops.add, 1, 2), "w": (ops["array.sum"], "x")})
    assert isinstance(g["x"]["$call"], codec.Foreign) and g["x"]["$call"].name.endswith("add")
    assert isinstance(g["y"]["$call"], codec.Foreign)
    assert g["z"] == {"$op": "add", "args": [1, 2]}
    assert g["w"] == {"$op": "array.sum", "args": [{"$ref": "x"}]}

    def inc(x):  # named like a weft op: still Python
        return x + 1

    assert "$call" in raw({"x": (inc, 1)})["x"]


def test_literals_plain_arrays_and_pickles():
    arr = np.arange(6, dtype=np.float32).reshape(2, 3)
    i64 = np.arange(3)
    g = raw({"x": (lambda *a: a, 1, 2.5, "s", b"b", None, True, [1, [2]], {"k": [1]}, 2**70, (1, 2), {"$x": 1}, arr, i64, np.float64(1.5), {1: 2})})
    args = g["x"]["args"]
    assert args[:7] == [1, 2.5, "s", b"b", None, True, [1, [2]]]
    assert args[7] == {"k": [1]}
    assert isinstance(args[8], codec.Foreign)  # past 64 bits
    assert isinstance(args[9], codec.Foreign) and args[9].name == "builtins.tuple"
    assert args[10] == {"$literal": {"$x": 1}}
    assert isinstance(args[11], np.ndarray) and args[11].dtype == np.float32  # an array chunk (ext 0x41)
    assert isinstance(args[12], codec.Foreign)  # int64: not one of weft's dtypes
    assert isinstance(args[13], codec.Foreign) and args[13].name == "numpy.float64"
    assert isinstance(args[14], codec.Foreign)  # a dict with int keys
    got = weft_get({"x": (lambda *a: a, 1, 2**70, (1, 2), {"$x": 1}, arr, i64, np.float64(1.5), {1: 2})}, "x")
    want = (1, 2**70, (1, 2), {"$x": 1}, arr, i64, np.float64(1.5), {1: 2})
    assert same(got[:4], want[:4]) and same(got[4], arr) and same(got[5], i64) and same(got[6:], want[6:])


def test_floats_node_would_write_back_as_ints_go_to_python_as_pickles():
    # The API reads a request into JavaScript values (68.0 is 68) and writes the literals again.
    f = lambda *a: a  # noqa: E731
    dsk = {"x": (f, 68.0, 2.5, -0.0, float("inf"), [1.0], {"k": 2.0}), "a": 3.0, "y": (f, "a"), "o": 4.0, "z": (ops.inc, "o"), "w": (ops.add, 1.0, 5.0)}
    g = raw(dsk, "x")
    args = g["x"]["args"]
    assert isinstance(args[0], codec.Foreign) and args[1] == 2.5
    assert isinstance(args[2], codec.Foreign) and isinstance(args[3], codec.Foreign)
    assert isinstance(args[4][0], codec.Foreign)  # a list is evaluated item by item
    assert isinstance(args[5], codec.Foreign)  # a dict literal is pickled whole
    assert isinstance(g["a"], codec.Foreign)
    # weft ops read plain numbers: their literals, and data keys they read, stay plain.
    assert g["o"] == 4.0 and g["w"]["args"] == [1.0, 5.0]
    got = weft_get(dsk, "x")
    assert [type(v) for v in got[:4]] == [float] * 4 and str(got[2]) == "-0.0" and got[4:] == ([1.0], {"k": 2.0})
    assert type(got[4][0]) is float and type(got[5]["k"]) is float
    assert weft_get(dsk, "y") == (3.0,) and type(weft_get(dsk, "y")[0]) is float


def test_apply_becomes_a_call_with_keyword_arguments():
    def f(a, b, scale=1, name=""):
        return (a + b) * scale, name

    d = {
        "a": 1,
        "x": (apply, f, ["a", 2], {"scale": 3, "name": "a"}),  # a dict literal: "a" stays a string
        "y": (apply, f, ["a", 2], (dict, [["scale", (inc, "a")], ["name", "n"]])),  # delayed's kwargs: evaluated
        "z": (apply, f, (1, 2)),  # a literal tuple of arguments
        "w": (apply, f, (list, ["a", 2]), {"scale": 2}),  # args computed by a task: apply itself runs
    }
    g = raw(d)
    assert g["x"]["kwargs"] == {"scale": 3, "name": "a"} and g["x"]["args"] == [{"$ref": "a"}, 2]
    assert g["y"]["kwargs"]["scale"]["args"] == [{"$ref": "a"}]
    assert g["z"]["args"] == [1, 2] and "kwargs" not in g["z"]
    assert g["w"]["$call"].name.endswith("apply")
    for key in d:
        check(d, key)
    assert weft_get(d, "x") == (9, "a")


def test_dask_delayed_graphs_and_nout_tuples():
    @dask.delayed(nout=2)
    def pair(x):
        return x, x * 2

    a, b = pair(3)
    z = dask.delayed(lambda *xs: sum(xs))(a, b, {"k": a}["k"])
    t = dask.delayed(tuple)([a, b])
    d = dask.delayed(dict)(k=a, v=[b, 1])
    for obj in (z, t, d, dask.delayed(lambda x: x * 3)(4)):
        dsk = dict(obj.__dask_graph__())
        check(dsk, obj.key)
    assert weft_get(dict(t.__dask_graph__()), t.key) == (3, 6)


def test_dask_collections_compute_the_same_values():
    x = da.from_array(np.random.RandomState(0).randint(0, 1000, size=(64, 64)), chunks=16)
    pdf = pd.DataFrame(np.random.RandomState(1).randint(0, 100, size=(256, 2)), columns=["age", "grade"])
    df = dd.from_pandas(pdf, npartitions=4)
    bag = db.from_sequence(range(50), npartitions=5)
    collections = [
        x.mean(),
        (x + x.T).sum(axis=0),
        x[::2, 3:7].astype(np.float32),
        df.groupby(["age"]).mean(),
        df.grade.sum(),
        bag.map(lambda v: v * 2).filter(lambda v: v % 3).sum(),
        bag.frequencies(),
        bag.foldby(lambda v: v % 3, operator.add, 0),
    ]
    for c in collections:
        dsk = dict(c.__dask_optimize__(c.__dask_graph__(), c.__dask_keys__()))
        keys = c.__dask_keys__()
        want = dask.get(dsk, keys)
        got = weft_get(dsk, keys)
        assert len(got) == len(want)
        for g, w in zip(got, want):
            assert same(g if not isinstance(w, tuple) else tuple(g), w), (c, g, w)


# ---------------------------------------------------------------- sharing


def test_a_callable_in_many_tasks_is_pickled_once_and_stored_once(monkeypatch):
    big = functools.partial(lambda x, pad: x, pad="p" * 400)  # a pickle well over SHARE_BYTES
    calls = []
    real = T.pickled
    monkeypatch.setattr(T, "pickled", lambda obj: calls.append(obj) or real(obj))
    dsk = {("x", i): (big, i) for i in range(50)}
    g = raw(dsk, [("x", 0)])
    assert [c for c in calls if c is big] == [big]
    shared = [k for k in g if k.startswith(T.SHARED_PREFIX)]
    assert len(shared) == 1 and isinstance(g[shared[0]], codec.Foreign)
    assert all(g[key_name(("x", i))]["$call"] == {"$ref": shared[0]} for i in range(50))
    assert weft_get(dsk, ("x", 7)) == 7


def test_small_pickles_and_single_uses_stay_in_place():
    dsk = {("x", i): (operator.add, i, (1, 2)[0]) for i in range(10)}  # a builtin by reference: a few bytes
    dsk["y"] = (functools.partial(lambda x, pad: x, pad="p" * 400), 1)
    g = raw(dsk, "y")
    assert not [k for k in g if k.startswith(T.SHARED_PREFIX)]
    assert isinstance(g[key_name(("x", 3))]["$call"], codec.Foreign)


def test_a_big_array_literal_in_many_tasks_is_one_data_key():
    a = np.ones(1000)
    dsk = {("x", i): (operator.mul, a, i) for i in range(5)}
    g = raw(dsk, [("x", 4)])
    shared = [k for k in g if k.startswith(T.SHARED_PREFIX)]
    assert [type(g[k]) for k in shared].count(np.ndarray) == 1
    assert same(weft_get(dsk, ("x", 4)), a * 4)


def test_top_level_lists_are_python_calls_only_in_graphs_with_python():
    g = raw({"a": (operator.add, 1, 1), "l": ["a", 1]}, "l")
    assert "$call" in g["l"] and g["l"]["$call"].name == "builtins.list"
    g = raw({"a": (ops.inc, 1), "l": ["a", 1]}, "l")
    assert g["l"] == [{"$ref": "a"}, 1]
    g = raw({"a": (operator.add, 1, 1), "l": [1, 2]}, "l")
    assert g["l"] == [1, 2]  # data: nothing to evaluate


def test_keys_objects_known_values_and_the_reserved_prefix():
    assert dask_key(key_name(("x", 1, ("y", 2.5)))) == ("x", 1, ("y", 2.5))
    assert dask_key(key_name(("x", 0)) + "/args[0]") == key_name(("x", 0)) + "/args[0]"
    assert key_name("plain") == "plain"
    ref = ObjectRef("g.1")
    g = raw({"x": ref, "y": (inc, ref)}, "y")
    assert g["x"] == {"$oid": "g.1"} and g["y"]["args"] == [{"$oid": "g.1"}]
    graph, _ = wire({"x": (inc, 1), "y": (inc, "x")}, "y", known={"x": (1, 2)})
    assert isinstance(graph["x"], tuple)  # a known value is data, never read for references
    with pytest.raises(ValueError):
        T.translate({T.SHARED_PREFIX + "0": 1})


def test_keys_and_references_holding_numpy_integers():
    # da.diagonal and da.trace refer to ('array-...', 0, 0) as ('array-...', np.int64(0), 0).
    dsk = {("a", 0, 0): 2, ("b", 0): (inc, ("a", np.int64(0), 0)), ("c", np.int64(1)): (inc, ("b", np.int32(0)))}
    g = raw(dsk, [key_name(("c", 1))])
    assert g[key_name(("b", 0))]["args"] == [{"$ref": key_name(("a", 0, 0))}]
    assert g[key_name(("c", 1))]["args"] == [{"$ref": key_name(("b", 0))}]
    # Such keys are named as the ints they equal, and come back as equal keys.
    assert key_name(("c", np.int64(1))) == key_name(("c", 1)) and dask_key(key_name(("c", np.int64(1)))) == ("c", 1)
    assert key_name(("x", np.float64(2.5), np.uint8(3))) == key_name(("x", 2.5, 3))
    assert check(dsk, ("c", np.int64(1))) == 4
    # A reference equal to a graph key of another type is named as the graph's key.
    t = T.translate({("a", 1): 5, "r": (inc, ("a", True))})
    assert t.graph["r"]["args"] == [{"$ref": key_name(("a", 1))}]
    assert t.key_name(("a", True)) == key_name(("a", 1))
    x = da.from_array(np.arange(16.0).reshape(4, 4), chunks=2)
    numpy_refs = 0
    for c in (da.diagonal(x), da.trace(x), da.diagonal(x, 1)):
        dsk = dict(c.__dask_graph__())
        numpy_refs += sum(1 for v in dsk.values() for r in T._references(v, dsk) if type(r) is tuple and any(isinstance(i, np.integer) for i in r))
        got = c.compute(scheduler=lambda dsk, keys, **kw: weft_get(dict(dsk), keys))
        assert same(got, c.compute(scheduler="sync")), c
    assert numpy_refs > 0  # what the fix is about is still in Dask's graphs


def test_unpicklable_values_say_what_cannot_be_sent():
    import threading

    with pytest.raises(TypeError, match="cannot be pickled"):
        T.translate({"x": (inc, threading.Lock())})


# ---------------------------------------------------------------- multiple returns and dataframe_optimize


def test_multiple_return_tasks_and_their_getitems():
    split = MultipleReturn(lambda x: {i: x * i for i in range(3)}, 3)
    dsk = {"s": (split, 2), ("p", 0): (multiple_return_get, "s", 0), ("p", 2): (multiple_return_get, "s", 2), "t": (sum, [("p", 0), ("p", 2)])}
    g = raw(dsk, "t")
    assert g["s"]["returns"] == 3
    assert g["t"]["args"] == [[{"$ref": "s", "index": 0}, {"$ref": "s", "index": 2}]]
    assert g[key_name(("p", 2))] == {"$ref": "s", "index": 2}
    check(dsk, "t")
    # Another reader of the whole value: no multiple returns, Dask's own getitems.
    dsk["u"] = (len, "s")
    g = raw(dsk, "u")
    assert "returns" not in g["s"] and "$call" in g[key_name(("p", 0))]
    check(dsk, "u")


def test_a_task_read_only_through_getitems_becomes_a_multiple_return_task():
    parts = lambda x: {"a": x, "b": x * 2, "c": x * 3}  # noqa: E731
    dsk = {
        "s": (parts, 5),
        ("g", 0): (operator.getitem, "s", "a"),
        ("g", 1): (operator.getitem, "s", "c"),
        ("g", 2): (operator.getitem, "s", "a"),  # the same item twice: one output
        "t": (lambda *xs: list(xs), [("g", 0), ("g", 1)], ("g", 2)),
    }
    g = raw(dsk, "t")
    assert g["s"]["returns"] == 2 and g["s"]["$call"].name == "weft.multireturn.TakeItems"
    assert g["s"]["args"][0]["$call"].name.endswith("<lambda>")  # the task itself, inside
    assert g["t"]["args"] == [[{"$ref": "s", "index": 0}, {"$ref": "s", "index": 1}], {"$ref": "s", "index": 0}]
    assert g[key_name(("g", 1))] == {"$ref": "s", "index": 1}  # no task: nothing reads it
    assert check(dsk, "t") == [[5, 15], 5]
    # A getitem key requested is the item itself.
    assert weft_get(dsk, [("g", 1), "t"]) == [15, [[5, 15], 5]]
    # Not when the task is requested, read whole by any other task, or the option is off.
    for other, keys in (({}, ["t", "s"]), ({"u": (len, "s")}, ["t", "u"]), ({"v": (lambda x: x, ["s"])}, ["t", "v"])):
        d = {**dsk, **other}
        g = raw(d, keys)
        assert "returns" not in g["s"] and "$call" in g[key_name(("g", 0))]
        assert same(tuple(weft_get(d, keys)), dask.get(d, keys))
    assert "returns" not in raw(dsk, "t", multiple_returns=False)["s"]
    assert "returns" not in T.translate(dsk).graph["s"]  # requested keys unknown: nothing rewritten
    # An item that is a key, or a getitem over a weft op's task or data: not rewritten.
    d = {"s": (parts, 1), "k": "a", "x": (operator.getitem, "s", "k"), "o": (ops.range, 3), "y": (operator.getitem, "o", 1), "d": {"a": 1}, "z": (operator.getitem, "d", "a")}
    g = raw(d, ["x", "y", "z"])
    assert all("returns" not in g[k] for k in ("s", "o"))
    # Items of any hashable kind, read by many tasks (Dask's task shuffle: split, then getitems).
    d = {("split", p): (lambda p: {j: p * 10 + j for j in range(4)}, p) for p in range(3)}
    d.update({("get", j, p): (operator.getitem, ("split", p), j) for j in range(4) for p in range(3)})
    d.update({("out", j): (sum, [("get", j, p) for p in range(3)]) for j in range(4)})
    keys = [("out", j) for j in range(4)]
    g = raw(d, keys)
    assert all(g[key_name(("split", p))]["returns"] == 4 for p in range(3))
    assert g[key_name(("out", 2))]["args"] == [[{"$ref": key_name(("split", p)), "index": 2} for p in range(3)]]
    assert tuple(weft_get(d, keys)) == dask.get(d, keys) == (30, 33, 36, 39)
    # One TakeItems pickle for the splits that read the same items.
    assert len({bytes(g[key_name(("split", p))]["$call"].data) for p in range(3)}) == 1


def test_the_task_shuffle_of_set_index_is_one_stage_without_dataframe_optimize():
    pdf = pd.DataFrame({"age": np.random.RandomState(0).randint(0, 100, size=600), "grade": np.arange(600.0)})
    df = dd.from_pandas(pdf, npartitions=6)
    s = df.set_index("age", shuffle="tasks", max_branch=float("inf"), divisions=[0, 20, 50, 99])
    dsk = dict(s.__dask_optimize__(s.__dask_graph__(), s.__dask_keys__()))
    keys = s.__dask_keys__()
    getitems = sum(1 for v in dsk.values() if type(v) is tuple and v and v[0] is operator.getitem)
    g = raw(dsk, keys)
    splits = [v for v in g.values() if type(v) is dict and v.get("returns")]
    assert getitems >= 9 and getitems == len(splits) ** 2  # dask repartitions to the outputs first
    fns = [v["$call"] for v in g.values() if type(v) is dict and "$call" in v]
    assert not [f for f in fns if (g[f["$ref"]] if type(f) is dict else f).name.endswith("getitem")]
    got = weft_get(dsk, keys)
    want = dask.get(dsk, keys)
    assert all(a.equals(b) for a, b in zip(got, want))
    assert all(a.equals(b) for a, b in zip(weft_get(dsk, keys, multiple_returns=False), want))


def test_dataframe_optimize_makes_the_task_shuffle_one_stage():
    pdf = pd.DataFrame(np.random.RandomState(0).randint(0, 100, size=(600, 2)), columns=["age", "grade"])
    df = dd.from_pandas(pdf, npartitions=6)
    with dask.config.set(dataframe_optimize=weft.dataframe_optimize):
        s = df.shuffle("age", shuffle="tasks", max_branch=float("inf"))
        dsk = dict(s.__dask_optimize__(s.__dask_graph__(), s.__dask_keys__()))
    g = raw(dsk, s.__dask_keys__())
    splits = [v for v in g.values() if type(v) is dict and v.get("returns") == 6]
    assert len(splits) == 6
    picks = [a for v in g.values() if type(v) is dict and "$call" in v for arg in v["args"] if type(arg) is list for a in arg if type(a) is dict and "index" in a]
    assert len(picks) == 36
    want = dask.get(dsk, s.__dask_keys__())
    got = weft_get(dsk, s.__dask_keys__())
    assert all(a.equals(b) for a, b in zip(got, want))
    plain = df.shuffle("age", shuffle="tasks", max_branch=float("inf")).compute(scheduler="sync")
    assert pd.concat(got).equals(plain)


# ---------------------------------------------------------------- hooks


def test_hooks_wrap_each_top_level_python_task_and_their_pickle_is_one_data_key():
    class Rec(weft.Callback):
        in_executor = True
        seen = []

        def _pretask(self, key, inputs):
            return key

        def _posttask(self, key, result, pre):
            Rec.seen.append((key, result, pre))

    dsk = {"a": 1, ("b", 0): (inc, "a"), "c": (ops.inc, "a"), "l": [("b", 0)]}
    graph, t = wire(dsk, "l", hooks=TaskHooks([Rec()]))
    assert graph[key_name(("b", 0))]["args"][0] == key_name(("b", 0))
    assert graph[key_name(("b", 0))]["$call"] == {"$ref": T.SHARED_PREFIX + "hooks"}
    assert "$op" in graph["c"] and graph["l"]["$call"] is list  # weft ops and list calls: no hooks
    Rec.seen = []
    Weft(graph).value("l")


# ---------------------------------------------------------------- errors


def error_of(exc, **extra):
    return {"key": key_name(("x", 1)), "op": "f", "message": f"{type(exc).__name__}: {exc}", "stack": "Traceback ...\nValueError: bad\n",
            "exception": base64.b64encode(cloudpickle.dumps(exc)).decode(), **extra}


def test_a_task_exception_is_raised_again_with_its_type_and_remote_traceback():
    exc = weft._task_exception(error_of(KeyError("k")), "failed")
    assert type(exc) is KeyError and exc.args == ("k",)
    assert isinstance(exc.__cause__, RemoteTraceback) and exc.__cause__.key == ("x", 1)
    assert "ValueError: bad" in str(exc.__cause__)
    failed_input = {"code": "object_failed", "key": "y", "message": "input failed", "cause": error_of(ZeroDivisionError("z"))}
    assert type(weft._task_exception(failed_input, "failed")) is ZeroDivisionError


def test_what_cannot_be_raised_again_is_a_remote_task_error():
    e = weft._task_exception({"key": "x", "op": "inc", "message": "boom", "stack": "s"}, "failed")
    assert isinstance(e, RemoteTaskError) and (e.key, e.op, e.message) == ("x", "inc", "boom")
    e = weft._task_exception(error_of(SystemExit(3)), "failed")  # a task's sys.exit() does not end this process
    assert isinstance(e, RemoteTaskError)
    e = weft._task_exception({**error_of(ValueError()), "exception": "not base64 of a pickle"}, "failed")
    assert isinstance(e, RemoteTaskError)
