"""weft.codec: round trips, the plain/foreign rules, zero-copy decoding, and
cross-checks against Node's own encoding (src/shared/codec.ts), run through
tests/node_values.ts. Run: /usr/bin/python3 -m pytest clients/python/tests/test_codec.py
"""
import base64
import collections
import functools
import json
import os
import subprocess
import sys
import threading
import time
import types
import unittest

try:
    import cloudpickle
    import msgpack
    import numpy as np
    import pandas as pd
    import pytest
except ImportError as e:  # `unittest discover` (test/python-client.test.ts) imports every test module
    raise unittest.SkipTest(f"the codec tests need {e.name}")

from weft import codec
from weft.codec import EncodeError, Foreign, LoadError, decode, encode

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
DTYPES = ["float64", "float32", "int32", "int16", "int8", "uint32", "uint16", "uint8"]


def node(cases):
    """Node's answers to cases (see node_values.ts)."""
    out = subprocess.run(
        ["node", "--import", "tsx", "clients/python/tests/node_values.ts"],
        input=json.dumps(cases).encode(), cwd=ROOT, capture_output=True, check=False, timeout=120,
    )
    assert out.returncode == 0, out.stderr.decode()
    return json.loads(out.stdout)


def nd(a):
    """An array as node_values.ts takes it."""
    le = np.ascontiguousarray(a, dtype=a.dtype.newbyteorder("<"))
    return {"$nd": [a.dtype.name, list(a.shape), base64.b64encode(le.tobytes()).decode()]}


def raw(value):
    """The stored bytes read with no extension decoded."""
    return msgpack.unpackb(bytes(value), raw=False, strict_map_key=False)


def foreign_fields(data):
    ext = raw(data)
    assert isinstance(ext, msgpack.ExtType) and ext.code == 0x50
    return msgpack.unpackb(ext.data, raw=False)


def inc(x):
    return x + 1


# ---------------------------------------------------------------- plain values


@pytest.mark.parametrize("value", [
    None, True, False, 0, -1, 2**63 - 1, -(2**63), 2**64 - 1, 1.5, float("inf"), "", "héllo", b"", b"\x00\xff",
    [], [1, [2.5, "x", None]], {}, {"a": {"b": [1, b"x"]}, "": None},
])
def test_plain_values_round_trip_as_plain_msgpack(value):
    data = encode(value)
    assert raw(data) == value
    back = decode(data)
    assert back == value and type(back) is type(value)


@pytest.mark.parametrize("value,name", [
    ((1, 2), "builtins.tuple"),
    ({1, 2}, "builtins.set"),
    (frozenset([1]), "builtins.frozenset"),
    (np.float64(1.5), "numpy.float64"),
    (np.int64(3), "numpy.int64"),
    (2**64, "builtins.int"),
    (-(2**63) - 1, "builtins.int"),
    ({1: "a"}, "builtins.dict"),
    (collections.OrderedDict(a=1), "collections.OrderedDict"),
    (bytearray(b"xy"), "builtins.bytearray"),
    (collections.namedtuple("Point", "x y")(1, 2), "test_codec.Point"),
    (np.arange(3, dtype=np.int64), "numpy.ndarray"),
    (np.array([True, False]), "numpy.ndarray"),
    (pd.Series([1.0, 2.0]), "pandas.core.series.Series"),
    (pd.DataFrame({"a": [1.0]}, index=[7]), "pandas.core.frame.DataFrame"),
    (slice(1, 2), "builtins.slice"),
])
def test_everything_else_is_a_foreign_value_that_round_trips(value, name):
    data = encode(value)
    lang, got_name, pickled = foreign_fields(data)
    assert (lang, got_name) == ("python", name)
    assert cloudpickle.loads(pickled) is not None
    back = decode(data)
    assert type(back) is type(value)
    if isinstance(value, (pd.Series, pd.DataFrame)):
        assert back.equals(value)
    elif isinstance(value, np.ndarray):
        assert np.array_equal(back, value)
    else:
        assert back == value


def test_callables_are_named_by_their_qualified_name():
    assert foreign_fields(encode(inc))[1] == "test_codec.inc"
    assert foreign_fields(encode(lambda x: x))[1] == "test_codec.test_callables_are_named_by_their_qualified_name.<locals>.<lambda>"
    assert foreign_fields(encode(len))[1] == "builtins.len"
    assert foreign_fields(encode(dict))[1] == "builtins.dict"
    assert foreign_fields(encode(functools.partial(inc, 1)))[1] == "functools.partial"


def test_a_list_or_dict_keeps_its_readable_form_around_items_that_are_not_plain():
    value = [np.arange(3.0), (1, 2), {"a": np.float32(1), "b": [1]}]
    items = raw(encode(value))
    assert isinstance(items, list) and len(items) == 3
    assert items[0].code == 0x41 and items[1].code == 0x50
    assert items[2]["a"].code == 0x50 and items[2]["b"] == [1]
    back = decode(encode(value))
    assert np.array_equal(back[0], value[0]) and back[1] == (1, 2) and back[2] == {"a": np.float32(1), "b": [1]}
    # A tuple is foreign as a whole, arrays and all.
    assert raw(encode((np.arange(3.0),))).code == 0x50


def test_a_message_holds_encoded_values_as_bin():
    values = [encode(np.arange(3.0)), encode(np.arange(1000.0)), encode(1), bytearray(b"x")]
    message = raw(codec.packb({"values": values, 1: (1, 2)}))
    assert message["values"] == [bytes(v) for v in values]
    assert message[1].code == 0x50  # a non-plain object is written as encode writes it
    assert codec.unpackb(codec.packb({"a": [np.arange(3.0)]}))["a"][0].tolist() == [0.0, 1.0, 2.0]


def test_a_value_that_cannot_be_pickled_raises_encode_error_naming_its_type():
    with pytest.raises(EncodeError, match="_thread.lock"):
        encode(threading.Lock())
    with pytest.raises(TypeError, match="_thread.lock"):  # EncodeError is a TypeError
        encode([1, {"x": threading.Lock()}])


def test_other_languages_foreign_values_and_unknown_extensions_are_kept_as_they_are():
    js = Foreign("js", "inc", b"(x) => x + 1")
    data = encode(js)
    back = decode(data)
    assert back == js and isinstance(back, Foreign)
    assert encode(back) == data
    assert encode([back]) == msgpack.packb([msgpack.ExtType(0x50, msgpack.packb(["js", "inc", b"(x) => x + 1"]))])
    unknown = msgpack.packb([msgpack.ExtType(0x10, b"abc")])
    assert decode(unknown) == [msgpack.ExtType(0x10, b"abc")]
    assert encode(decode(unknown)) == unknown


def test_callables_are_unpickled_once_and_other_values_every_time():
    data = encode(lambda x: x * 2)
    f = decode(data)
    assert f(2) == 4 and decode(data) is f
    listy = encode(([1],))
    assert decode(listy) is not decode(listy)
    big = np.zeros(20_000)
    heavy = encode(lambda: big)  # a closure over 160 kB is not kept alive by the cache
    assert decode(heavy) is not decode(heavy)


def test_a_pickle_naming_a_missing_module_raises_load_error_naming_it():
    module = types.ModuleType("weft_test_missing_module")
    exec("def f(x):\n    return x", module.__dict__)
    sys.modules[module.__name__] = module
    try:
        data = encode(module.f)  # cloudpickle pickles an importable module's function by reference
    finally:
        del sys.modules[module.__name__]
    with pytest.raises(LoadError) as info:
        decode(data)
    assert info.value.name == "weft_test_missing_module.f"
    assert isinstance(info.value.cause, ModuleNotFoundError)
    assert "weft_test_missing_module" in str(info.value)


def test_importable_objects_are_pickled_by_reference_with_the_standard_pickle():
    # cloudpickle pickles numpy's dtype classes by value and cannot load them again.
    dtype_classes = [type(np.dtype("int64")), type(np.dtype("float64")), type(np.dtype("O"))]
    for value in (dtype_classes[0], dtype_classes, {"a": dtype_classes[2], "b": 1}, (dtype_classes[1], np.dtype("f4"))):
        back = decode(encode(value))
        assert back == value
    assert decode(encode(dtype_classes))[0] is dtype_classes[0]
    # Also inside what the standard pickle cannot pickle (cloudpickle then pickles the whole
    # value, as for a SubgraphCallable holding a local function and a dtype class).
    local = lambda x: x  # noqa: E731
    back = decode(encode([local, dtype_classes[0], {"k": dtype_classes[1]}]))
    assert back[0](4) == 4 and back[1] is dtype_classes[0] and back[2]["k"] is dtype_classes[1]
    # An importable function is a reference, the same bytes as the standard pickle makes.
    assert foreign_fields(encode(inc))[2] == __import__("pickle").dumps(inc, protocol=5)
    assert codec.dumps(np.add) == __import__("pickle").dumps(np.add, protocol=5)


def test_main_lambdas_local_functions_and_modules_registered_by_value_are_pickled_by_value():
    def local(x):
        return x + 2

    assert decode(encode(local))(1) == 3
    assert decode(encode(lambda x: x * 5))(2) == 10
    main = types.FunctionType(inc.__code__, {"__name__": "__main__"}, "inc_main")
    main.__module__, main.__qualname__ = "__main__", "inc_main"
    sys.modules["__main__"].inc_main = main
    try:
        data = foreign_fields(encode(main))[2]
    finally:
        del sys.modules["__main__"].inc_main
    assert cloudpickle.loads(data)(1) == 2  # by value: it loads where __main__ has no inc_main
    # A module registered with cloudpickle.register_pickle_by_value, even inside a container.
    module = types.ModuleType("weft_test_by_value_module")
    exec("def f(x):\n    return x * 7", module.__dict__)
    sys.modules[module.__name__] = module
    cloudpickle.register_pickle_by_value(module)
    try:
        data = encode([functools.partial(module.f, 2)])
    finally:
        cloudpickle.unregister_pickle_by_value(module)
        del sys.modules[module.__name__]
    assert decode(data)[0]() == 14


# ---------------------------------------------------------------- arrays


def test_arrays_of_every_dtype_round_trip_read_only():
    for dtype in DTYPES:
        a = (np.arange(24) % 100).astype(dtype).reshape(2, 3, 4)
        back = decode(encode(a))
        assert back.dtype == a.dtype and back.shape == a.shape and np.array_equal(back, a)
        assert not back.flags.writeable
    for a in (np.zeros(()), np.zeros((0, 3)), np.full((), 7, dtype="uint16")):
        back = decode(encode(a))
        assert back.shape == a.shape and back.dtype == a.dtype and np.array_equal(back, a)


def test_any_byte_order_or_layout_is_written_little_endian_in_c_order():
    a = np.arange(2000, dtype="<f8").reshape(40, 50)
    expected = bytes(encode(a))
    for variant in (a.astype(">f8"), np.asfortranarray(a), a.T.copy().T):
        assert bytes(encode(variant)) == expected
    strided = np.arange(4000.0)[::2]
    assert np.array_equal(decode(encode(strided)), strided)


def address(buffer):
    return np.frombuffer(buffer, dtype=np.uint8).ctypes.data


def test_a_big_array_is_decoded_in_place_when_aligned_and_copied_when_not():
    a = np.arange(10_000, dtype=np.float64)
    data = bytearray(encode(a))
    assert address(data) % 8 == 0
    back = decode(data)
    start = back.ctypes.data
    assert address(data) <= start < address(data) + len(data) and start % 8 == 0
    assert not back.flags.writeable and np.array_equal(back, a)
    # The same value one byte into a buffer: its elements are misaligned, so they are copied.
    shifted = bytearray(1) + data
    moved = decode(memoryview(shifted)[1:])
    assert moved.flags.aligned and not address(shifted) <= moved.ctypes.data < address(shifted) + len(shifted)
    assert np.array_equal(moved, a) and not moved.flags.writeable


def test_a_frame_round_trips_with_numeric_and_string_columns():
    df = pd.DataFrame({
        **{d: np.arange(5).astype(d) for d in DTYPES},
        "s": ["a", None, "ccc", "", "é"],
    })
    data = encode(df)
    assert raw(data).code == 0x46
    back = decode(data)
    pd.testing.assert_frame_equal(back, df)
    back["float64"] += 1  # a decoded frame is an ordinary, writable DataFrame
    empty = pd.DataFrame({"x": np.zeros(0), "s": pd.Series([], dtype=object)})
    pd.testing.assert_frame_equal(decode(encode(empty)), empty)


@pytest.mark.parametrize("df", [
    pd.DataFrame({"a": [1.0]}, index=pd.RangeIndex(1, 2)),
    pd.DataFrame({"a": [1.0, 2.0]}, index=pd.RangeIndex(0, 4, 2)),
    pd.DataFrame({0: [1.0]}),
    pd.DataFrame({"a": [1, 2]}),  # int64
    pd.DataFrame({"a": [True]}),
    pd.DataFrame({"s": ["x", np.nan]}),
    pd.DataFrame({"s": [None, None]}),
    pd.DataFrame({"s": ["x", 1]}),
    pd.DataFrame([[1.0, 2.0]], columns=["a", "a"]),
    # Extension dtypes, though to_numpy() gives strings or numbers: only exact weft column types are partitions.
    pd.DataFrame({"c": pd.Categorical(["a", "b", "a"]), "x": [1.0, 2.0, 3.0]}),
    pd.DataFrame({"c": pd.Categorical([1.5, 2.5])}),
    pd.DataFrame({"s": pd.array(["a", None, "c"], dtype="string")}),
    pd.DataFrame({"i": pd.array([1, None, 3], dtype="Int32")}),
    pd.DataFrame({"f": pd.array([1.5, None], dtype="Float64")}),
    pd.DataFrame({"t": pd.date_range("2020-01-01", periods=2, tz="UTC")}),
    pd.DataFrame([[1.0, 2.0]], columns=pd.CategoricalIndex(["a", "b"])),
    pd.DataFrame(np.zeros((2, 0))),  # RangeIndex columns
])
def test_frames_that_the_partition_form_would_change_are_foreign(df):
    data = encode(df)
    assert raw(data).code == 0x50
    pd.testing.assert_frame_equal(decode(data), df)


# ---------------------------------------------------------------- against Node


def test_arrays_are_byte_for_byte_what_node_writes():
    arrays = []
    for dtype in DTYPES:
        width = np.dtype(dtype).itemsize
        for count in (0, 1, 3, 4096 // width - 1, 4096 // width, 5000 // width, 70_000 // width):
            arrays.append((np.arange(count) % 100).astype(dtype))
    arrays += [
        np.arange(6.0).reshape(2, 3), np.zeros(()), np.zeros((0, 3), dtype="int16"),
        np.arange(4096.0).reshape(64, 64), np.arange(600, dtype="uint8").reshape([1] * 15 + [600]),
        np.zeros([1] * 16 + [10]), np.zeros([1] * 16 + [1000]), np.zeros([1] * 17 + [4096], dtype="uint8"),
        np.zeros((300, 70_000), dtype="uint8")[:, :1], np.zeros(65_519, dtype="uint8"), np.zeros(65_530, dtype="uint8"),
    ]
    answers = node([{"encode": nd(a)} for a in arrays] + [{"encode": [nd(arrays[2]), nd(arrays[40]), 1]}])
    for a, answer in zip(arrays, answers):
        assert bytes(encode(a)) == base64.b64decode(answer["bytes"]), (a.dtype, a.shape)
    assert encode([arrays[2], arrays[40], 1]) == base64.b64decode(answers[-1]["bytes"])


def test_arrays_with_a_zero_in_their_shape_round_trip_inside_containers_and_node_reads_them():
    empties = [np.zeros((0, 3)), np.zeros((3, 0), dtype="int16"), np.zeros((2, 0, 4), dtype="uint8"), np.zeros(0, dtype="float32")]
    for value in ([*empties, 1], {"a": empties[0], "b": [empties[1]]}):
        back = decode(encode(value))
        items = back if isinstance(back, list) else [back["a"], back["b"][0]]
        for got, want in zip(items, empties):
            assert got.shape == want.shape and got.dtype == want.dtype
    # In a message (a request body, a done frame) too.
    assert codec.unpackb(codec.packb({"x": [np.zeros((0, 5))]}))["x"][0].shape == (0, 5)
    # The shortest form, as Node's ndarrayPack writes it, and Node reads it back.
    answers = node([{"encode": [nd(a) for a in empties]}, {"decode": base64.b64encode(bytes(encode(empties))).decode()}])
    assert bytes(encode(empties)) == base64.b64decode(answers[0]["bytes"])
    assert answers[1]["json"] == [nd(a) for a in empties]


def test_node_reads_what_python_writes_and_python_reads_what_node_writes():
    a = np.arange(12, dtype=">i4").reshape(3, 4)
    big = np.linspace(0, 1, 5000)
    df = pd.DataFrame({"x": np.arange(3, dtype="int16"), "y": [0.5, np.nan, 2.0], "s": ["a", None, "c"]})
    cases = [{"decode": base64.b64encode(bytes(encode(v))).decode()} for v in (a, big, df, [a, {"k": "v"}])]
    node_frame = {"$frame": [["n", {"$typed": ["uint32", base64.b64encode(np.arange(4, dtype="<u4").tobytes()).decode()]}], ["s", ["p", None, "q", "r"]]]}
    cases += [
        {"encode": node_frame},
        {"encode": {"f": {"$typed": ["float64", base64.b64encode(np.array([1.5, -2.0]).tobytes()).decode()]}, "i": {"$typed": ["int16", base64.b64encode(np.array([3, -4], dtype="<i2").tobytes()).decode()]}}},
    ]
    answers = node(cases)
    assert answers[0]["json"] == nd(a)
    assert answers[1]["json"] == nd(big)
    assert answers[2]["json"] == {"$frame": [["x", {"$typed": ["Int16Array", base64.b64encode(np.arange(3, dtype="<i2").tobytes()).decode()]}], ["y", {"$typed": ["Float64Array", base64.b64encode(np.array([0.5, np.nan, 2.0]).tobytes()).decode()]}], ["s", ["a", None, "c"]]]}
    assert answers[3]["json"] == [nd(a), {"k": "v"}]
    # What Node writes back decodes here to the same values.
    assert np.array_equal(decode(base64.b64decode(answers[1]["bytes"])), big)
    pd.testing.assert_frame_equal(decode(base64.b64decode(answers[2]["bytes"])), df.astype({"x": "int16"}))
    frame = decode(base64.b64decode(answers[4]["bytes"]))
    pd.testing.assert_frame_equal(frame, pd.DataFrame({"n": np.arange(4, dtype="uint32"), "s": ["p", None, "q", "r"]}))
    # msgpackr's typed arrays (ext 0x74) become 1-d arrays.
    typed = decode(base64.b64decode(answers[5]["bytes"]))
    assert typed["f"].dtype == np.float64 and list(typed["f"]) == [1.5, -2.0]
    assert typed["i"].dtype == np.int16 and list(typed["i"]) == [3, -4]


# ---------------------------------------------------------------- speed (printed, not asserted)


def test_a_64_mb_array_encodes_and_decodes_fast(capsys):
    a = np.random.default_rng(0).random(8 * 1024 * 1024)  # 64 MiB of float64
    encode(a[:1000])
    t0 = time.perf_counter()
    data = encode(a)
    t1 = time.perf_counter()
    back = decode(data)
    t2 = time.perf_counter()
    assert np.array_equal(back, a)
    with capsys.disabled():
        print(f"\n64 MiB float64 array: encode {(t1 - t0) * 1000:.1f} ms, decode {(t2 - t1) * 1000:.3f} ms (zero-copy)")


@pytest.mark.parametrize("make", [
    lambda: np.arange(1 << 16, dtype=np.float64),  # big, C-contiguous: header and its own memory
    lambda: np.arange(1 << 16, dtype=np.int32).reshape(256, 256),
    lambda: np.ones(1 << 15, dtype=np.uint8),
    lambda: np.ones(1 << 15, dtype=bool),  # not an array chunk dtype: one buffer
    lambda: np.arange(1 << 16, dtype=np.float64).reshape(256, 256).T,  # not C-contiguous: copied
    lambda: np.arange(1 << 16, dtype=">f8"),  # big-endian: swapped, so copied
    lambda: np.arange(10, dtype=np.float64),  # small: one buffer
])
def test_encode_parts_are_the_stored_form_and_a_big_array_is_not_copied(make):
    a = make()
    parts = codec.encode_parts(a)
    assert b"".join(bytes(p) for p in parts) == bytes(encode(a))
    np.testing.assert_array_equal(decode(b"".join(bytes(p) for p in parts)), a)
    own_memory = a.flags.c_contiguous and a.nbytes >= codec.ALIGN_FROM and a.dtype.byteorder != ">" and a.dtype != bool
    assert len(parts) == (2 if own_memory else 1)
    if own_memory:
        assert np.shares_memory(np.frombuffer(parts[1], dtype=np.uint8), a)
