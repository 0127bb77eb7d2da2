"""weft's value encoding in Python (docs/executors.md, "Values").

A stored value is one MessagePack value that every language reads: plain
MessagePack for plain data, extension 0x41 for an array chunk (docs/arrays.md),
0x46 for a dataframe partition (docs/dataframes.md), and 0x50 for a *foreign*
value, an object only its own language can open (here: a pickle, `dumps`).
The executor (weft.executor) uses this module for inputs and results, and the
client will use it for what it sends.

Rules that keep values readable from other languages without losing anything:
- only exact plain types are plain MessagePack (a numpy.float64 is a float
  subclass and stays a numpy.float64, so it is a foreign value);
- a list or dict keeps its readable form when an item is not plain: the item
  becomes its own extension inside it (a list of arrays stays a list of chunks);
- tuples, sets and everything else are pickled whole.

Big arrays are cheap: a top-level array is written with one copy of its data
into a buffer of exactly its size, laid out as Node's `ndarrayValue` lays it out
(data 8-byte aligned within the value from 4 KiB on), and decoded as a
read-only view of the input's bytes. numpy, pandas and cloudpickle are imported
only when a value needs them, so importing this module is cheap.
"""
from __future__ import annotations

import io
import pickle
import struct
import sys
import threading
from typing import Any, Union

import msgpack

__all__ = ["DecodeError", "EncodeError", "Foreign", "LoadError", "decode", "dumps", "encode", "packb", "unpackb"]

NDARRAY_EXT = 0x41
FRAME_EXT = 0x46
FOREIGN_EXT = 0x50
TYPED_ARRAY_EXT = 0x74  # msgpackr's typed arrays (moreTypes): [type code, raw bytes]

DTYPES = frozenset(["float64", "float32", "int32", "int16", "int8", "uint32", "uint16", "uint8"])
# Arrays with at least this many bytes of data are laid out for zero-copy reads (src/shared/values/ndarray.ts).
ALIGN_FROM = 4096
# msgpackr's typed-array codes (node_modules/msgpackr/unpack.js `typedArrays`): Int8, Uint8,
# Uint8Clamped, Int16, Uint16, Int32, Uint32, Float32, Float64, BigInt64, BigUint64.
_TYPED_ARRAY_DTYPES = ("<i1", "<u1", "<u1", "<i2", "<u2", "<i4", "<u4", "<f4", "<f8", "<i8", "<u8")
_PLAIN = frozenset([type(None), bool, int, float, str, bytes])
# Unpickled callables kept per process, as Dask's workers keep them: small pickles only
# (a function closing over a big array is not kept alive), the oldest dropped first.
_CALLABLE_CACHE_SIZE = 1024
_CALLABLE_CACHE_MAX_BYTES = 100_000

Bytes = Union[bytes, bytearray, memoryview]


class EncodeError(TypeError):
    """A value that cannot be encoded: it is not plain data and cannot be pickled."""


class DecodeError(ValueError):
    """Bytes that are not a well-formed weft value (a malformed array chunk or partition)."""


class LoadError(Exception):
    """A Python foreign value whose pickle cannot be loaded here, typically
    because it names a module this Python cannot import. `name` is the value's
    name (its type or qualified callable name), `cause` the original exception."""

    def __init__(self, name: str, cause: BaseException):
        super().__init__(f"cannot load the Python value {name}: {type(cause).__name__}: {cause}")
        self.name = name
        self.cause = cause


class Foreign:
    """A value of another language (ext 0x50): kept as its bytes, never opened,
    and written back as it came. `lang` is the language ("js"), `name` says
    what it is, for people, and `data` is its serialization in that language."""

    __slots__ = ("lang", "name", "data")

    def __init__(self, lang: str, name: str, data: bytes):
        self.lang = lang
        self.name = name
        self.data = bytes(data)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Foreign) and (self.lang, self.name, self.data) == (other.lang, other.name, other.data)

    def __hash__(self) -> int:
        return hash((self.lang, self.name, self.data))

    def __repr__(self) -> str:
        return f"Foreign({self.lang!r}, {self.name!r}, <{len(self.data)} bytes>)"


# ---------------------------------------------------------------- encoding


def encode(value: Any) -> Union[bytes, memoryview]:
    """The stored form of one value: bytes, or for a top-level array chunk a
    read-only memoryview of the buffer it was written into (sparing a copy of
    its data; bytes(...) makes it bytes).

    Raises EncodeError for a value that is neither readable data nor picklable."""
    t = type(value)
    if t in _PLAIN:
        return _pack(value)
    np = sys.modules.get("numpy")
    if np is not None and t is np.ndarray and value.dtype.name in DTYPES:
        return _ndarray_value(value, np)
    return _pack(_readable(value))


def encode_parts(value: Any) -> list:
    """The stored form of one value as buffers to write one after the other
    (their concatenation is encode(value)): a big array whose memory already
    is its stored data (C-contiguous, little-endian) is its header and a view
    of that memory, never copied here; anything else is one buffer. For a
    writer that sends the parts at once (the executor's done frame), while
    nothing can change the array."""
    np = sys.modules.get("numpy")
    if (
        np is not None
        and type(value) is np.ndarray
        and value.nbytes >= ALIGN_FROM
        and value.dtype.name in DTYPES
        and value.flags.c_contiguous
        and value.dtype.byteorder in _LITTLE
    ):
        return [_ndarray_header(value), memoryview(value.reshape(-1).view(np.uint8))]
    return [encode(value)]


# The byte orders numpy writes as little-endian: '<', native ('=') on a little-endian machine, '|' (one byte).
_LITTLE = ("<", "|", "=") if sys.byteorder == "little" else ("<", "|")


def packb(obj: Any) -> bytes:
    """A whole message (a protocol frame, a request body) as MessagePack. Not
    a stored value: bytes-likes (such as what `encode` returns) are bin and
    maps may have any keys; objects that are not plain types are written as
    `encode` writes them (arrays in their shortest form, foreign values)."""
    return _pack(obj)


def _pack(obj: Any) -> bytes:
    # A Packer per call: cheap (no buffer until used), and reentrant, since
    # _default packs payloads while an outer pack is running.
    return msgpack.Packer(default=_default, use_bin_type=True, strict_types=True).pack(obj)


def _readable(obj: Any) -> Any:
    """`obj` with what the packer would write as plain but is not (dicts with
    non-str keys, bytearrays, memoryviews) turned into foreign values; the
    same object when there is nothing to change, which is the common case."""
    t = type(obj)
    if t is list:
        if _PLAIN.issuperset(map(type, obj)):
            return obj
        out = None
        for i, item in enumerate(obj):
            new = _readable(item)
            if new is not item:
                if out is None:
                    out = list(obj)
                out[i] = new
        return obj if out is None else out
    if t is dict:
        if not all(type(k) is str for k in obj):
            return _foreign_ext(obj)
        if _PLAIN.issuperset(map(type, obj.values())):
            return obj
        return {k: _readable(v) for k, v in obj.items()}
    if t is bytearray or t is memoryview:
        return _foreign_ext(obj)
    return obj


def _default(obj: Any) -> msgpack.ExtType:
    """What the packer calls for anything that is not exactly a plain type."""
    t = type(obj)
    if t is Foreign:
        return msgpack.ExtType(FOREIGN_EXT, _pack([obj.lang, obj.name, obj.data]))
    np = sys.modules.get("numpy")
    if np is not None and t is np.ndarray and obj.dtype.name in DTYPES:
        return msgpack.ExtType(NDARRAY_EXT, _ndarray_payload(obj, np))
    pd = sys.modules.get("pandas")
    if pd is not None and t is pd.DataFrame:
        payload = _frame_payload(obj, np)
        if payload is not None:
            return msgpack.ExtType(FRAME_EXT, payload)
    return _foreign_ext(obj)


def _foreign_ext(obj: Any) -> msgpack.ExtType:
    try:
        data = dumps(obj)
    except Exception as e:
        raise EncodeError(f"a {_type_name(obj)} cannot be encoded: it is not plain data and cannot be pickled ({type(e).__name__}: {e})") from e
    return msgpack.ExtType(FOREIGN_EXT, _pack(["python", _name_of(obj), data]))


def dumps(obj: Any) -> bytes:
    """obj's pickle (protocol 5), as Dask distributed makes it (distributed.protocol.pickle.dumps):
    the standard pickle first, which pickles importable functions and classes by reference
    (cloudpickle pickles some by value and cannot load them again: numpy's dtype classes,
    numpy.dtype[int64]), and cloudpickle when that fails (lambdas, local functions) or when
    the pickle names `__main__` or a module registered with cloudpickle.register_pickle_by_value
    (those are sent by value: the workers cannot import them). Raises what cloudpickle raises."""
    try:
        data = pickle.dumps(obj, protocol=5)
    except Exception:
        return _cloudpickle_dumps(obj)
    if b"__main__" in data or _names_a_module_by_value(data):
        return _cloudpickle_dumps(obj)
    return data


_Pickler: Any = None


def _cloudpickle_dumps(obj: Any) -> bytes:
    """cloudpickle, except for numpy's dtype classes, which it would pickle by value even
    inside an object the standard pickle cannot pickle (a SubgraphCallable holding a local
    function and a dtype class): numpy's own reducer (copyreg) pickles them by reference."""
    global _Pickler
    if _Pickler is None:
        cloudpickle = _cloudpickle()

        class _DTypeClassesByReference(cloudpickle.CloudPickler):
            def reducer_override(self, obj: Any) -> Any:
                if isinstance(obj, type) and type(obj).__name__ == "_DTypeMeta":
                    return NotImplemented
                return super().reducer_override(obj)

        _Pickler = _DTypeClassesByReference
    buf = io.BytesIO()
    _Pickler(buf, protocol=5).dump(obj)
    return buf.getvalue()


def _names_a_module_by_value(data: bytes) -> bool:
    """Whether a pickle may refer to a module registered to be pickled by value (a cheap
    byte search: a false positive only costs a cloudpickle)."""
    cloudpickle = sys.modules.get("cloudpickle")
    if cloudpickle is None:
        return False  # nothing can have been registered
    registry = getattr(cloudpickle, "list_registry_pickle_by_value", None)
    return registry is not None and any(name.encode() in data for name in registry())


def _cloudpickle() -> Any:
    import cloudpickle

    return cloudpickle


def _type_name(obj: Any) -> str:
    t = type(obj)
    return f"{t.__module__}.{t.__qualname__}"


def _name_of(obj: Any) -> str:
    """A foreign value's name, for people: a callable's qualified name, else its type's."""
    if callable(obj):
        qualname = getattr(obj, "__qualname__", None) or getattr(obj, "__name__", None)
        module = getattr(obj, "__module__", None)
        if isinstance(qualname, str):
            return f"{module}.{qualname}" if isinstance(module, str) else qualname
    return _type_name(obj)


# -- array chunks (docs/arrays.md): [dtype, shape, data], data the little-endian bytes in C order


def _ndarray_payload(a: Any, np: Any) -> bytes:
    """The extension's payload in its shortest form (Node's ndarrayPack), for an array inside a container."""
    head = _array_head(a)
    # Flattened first: a memoryview cannot be cast to bytes when a dimension is 0 (shape (0, 3)).
    le = np.ascontiguousarray(a, dtype=a.dtype.newbyteorder("<")).reshape(-1)
    return b"".join((b"\x93", head[1:], _bin_header(a.nbytes), memoryview(le).cast("B")))


def _ndarray_value(a: Any, np: Any) -> memoryview:
    """A whole stored array (Node's ndarrayValue) in one buffer of exactly its
    size: its header (_ndarray_header), then one copy of the data (which also
    swaps the byte order or gathers a non-contiguous array when needed)."""
    header = _ndarray_header(a)
    n = a.nbytes
    # numpy's own allocation: not zero-filled first, and for big buffers in huge pages (fewer page faults).
    out = np.empty(len(header) + n, dtype=np.uint8)
    out[: len(header)] = np.frombuffer(header, dtype=np.uint8)
    if n:
        np.copyto(out[len(header) :].view(a.dtype.newbyteorder("<")).reshape(a.shape), a)
    return memoryview(out).toreadonly()


def _ndarray_header(a: Any) -> bytes:
    """The stored array's bytes before its data: the ext header, the payload's
    dtype and shape, and from ALIGN_FROM bytes of data on a header padded with
    longer forms of its fields so the data starts at a multiple of 8 bytes
    from the value's start."""
    head = _array_head(a)
    n = a.nbytes
    dtype = a.dtype.name
    short_shape = a.ndim < 16  # a fixarray shape header can grow into array32
    pad = 0
    if n >= ALIGN_FROM:
        for _ in range(2):  # twice: the padding can change the ext header's size
            payload = len(head) + pad + _bin_header_len(n) + n
            misaligned = (_ext_header_len(payload) + len(head) + _bin_header_len(n)) % 8
            pad = (8 - misaligned) % 8
            if not short_shape and pad & 4:
                pad = 0  # 16+ dimensions: not worth another form
    payload = len(head) + pad + _bin_header_len(n) + n
    dtype_end = 2 + len(dtype)
    shape_header_end = dtype_end + (1 if short_shape else 3)
    return b"".join((
        _ext_header(NDARRAY_EXT, payload),
        b"\xdc\x00\x03" if pad & 2 else b"\x93",  # array16 or fixarray of 3
        b"\xd9" + bytes([len(dtype)]) + dtype.encode() if pad & 1 else head[1:dtype_end],  # str8 or fixstr
        b"\xdd" + struct.pack(">I", a.ndim) if pad & 4 else head[dtype_end:shape_header_end],  # array32 or as packed
        head[shape_header_end:],  # the shape's integers
        _bin_header(n),
    ))


def _array_head(a: Any) -> bytes:
    """[dtype, shape] as MessagePack (0x92, the dtype as a fixstr, the shape), as msgpackr writes it."""
    return msgpack.packb([a.dtype.name, [int(d) for d in a.shape]])


def _ext_header_len(n: int) -> int:
    return 2 if n in (1, 2, 4, 8, 16) else 3 if n < 0x100 else 4 if n < 0x10000 else 6


def _ext_header(code: int, n: int) -> bytes:
    fixed = {1: 0xD4, 2: 0xD5, 4: 0xD6, 8: 0xD7, 16: 0xD8}.get(n)
    if fixed is not None:
        return bytes((fixed, code))
    if n < 0x100:
        return bytes((0xC7, n, code))
    if n < 0x10000:
        return struct.pack(">BHB", 0xC8, n, code)
    return struct.pack(">BIB", 0xC9, n, code)


def _bin_header_len(n: int) -> int:
    return 2 if n < 0x100 else 3 if n < 0x10000 else 5


def _bin_header(n: int) -> bytes:
    if n < 0x100:
        return bytes((0xC4, n))
    if n < 0x10000:
        return struct.pack(">BH", 0xC5, n)
    return struct.pack(">BI", 0xC6, n)


# -- dataframe partitions (docs/dataframes.md): {v: 1, n, names, cols}


def _frame_payload(df: Any, np: Any) -> Union[bytes, None]:
    """The partition's payload, or None when the frame does not fit the form
    without losing something (an index, a non-str column name, a column of
    another dtype, an object column with other values than str and None).

    Only columns whose dtype is exactly a weft column type qualify: a numpy
    dtype of DTYPES, or numpy's object dtype holding strings. pandas'
    extension dtypes (categorical, StringDtype, nullable integers, dates with
    a time zone) would come back as something else, so such a frame is a
    foreign value, even where `to_numpy()` gives strings or numbers."""
    index = df.index
    pd = sys.modules["pandas"]
    if type(index) is not pd.RangeIndex or index.start != 0 or index.step != 1 or index.name is not None:
        return None
    columns = df.columns
    names = list(columns)
    if type(columns) is not pd.Index or not isinstance(columns.dtype, np.dtype) or columns.dtype.kind != "O":
        return None  # a CategoricalIndex, a RangeIndex, a MultiIndex of names comes back a plain Index
    if columns.name is not None or df.attrs or not all(type(c) is str for c in names) or len(set(names)) != len(names):
        return None
    cols = []
    for _, series in df.items():
        if not isinstance(series.dtype, np.dtype):  # an extension dtype: not a weft column type
            return None
        col = _frame_column(series.to_numpy(), np)
        if col is None:
            return None
        cols.append(col)
    return _pack({"v": 1, "n": len(df), "names": names, "cols": cols})


def _frame_column(values: Any, np: Any) -> Any:
    dtype = values.dtype
    if dtype.name in DTYPES and dtype.kind in "iuf":
        le = np.ascontiguousarray(values, dtype=dtype.newbyteorder("<"))
        return {"dtype": dtype.name, "data": memoryview(le).cast("B")}
    if dtype.kind == "O":
        types = set(map(type, values))
        # All-None reads back as a float64 column of NaN (as in Node), so it is not a string column.
        if types <= {str, type(None)} and (str in types or len(values) == 0):
            return values.tolist()
    return None


# ---------------------------------------------------------------- decoding


_callables: dict = {}
_callables_lock = threading.Lock()


def decode(data: Bytes) -> Any:
    """A value from its stored bytes (bytes, bytearray or memoryview).

    Array chunks become read-only numpy arrays; a top-level chunk views `data`
    without copying when its elements are aligned for their dtype (copied
    otherwise). Partitions become pandas DataFrames, Python foreign values are
    unpickled (a callable seen before is not unpickled again), other
    languages' foreign values stay Foreign, msgpackr typed arrays become 1-d
    numpy arrays, and other extensions stay msgpack.ExtType.

    Raises LoadError for a pickle that cannot be loaded, DecodeError for a
    malformed chunk or partition."""
    mv = memoryview(data).cast("B")
    if len(mv) > 6 and mv[0] in (0xC7, 0xC8, 0xC9):
        width = {0xC7: 1, 0xC8: 2, 0xC9: 4}[mv[0]]
        if mv[1 + width] == NDARRAY_EXT:
            end = 2 + width + int.from_bytes(mv[1 : 1 + width], "big")
            chunk = _ndarray_in_place(mv[:end], 2 + width) if end == len(mv) else None
            if chunk is not None:
                return chunk
    return unpackb(mv)


def unpackb(data: Bytes) -> Any:
    """A whole message (or value) from MessagePack, with weft's extensions decoded as `decode` does."""
    return msgpack.unpackb(data, ext_hook=_ext_hook, raw=False, strict_map_key=False)


def _ext_hook(code: int, payload: bytes) -> Any:
    if code == NDARRAY_EXT:
        return _ndarray_from_wire(unpackb(payload))
    if code == FOREIGN_EXT:
        return _foreign(payload)
    if code == FRAME_EXT:
        return _frame_from_wire(unpackb(payload))
    if code == TYPED_ARRAY_EXT and payload and payload[0] < len(_TYPED_ARRAY_DTYPES):
        return _array_view(payload, _TYPED_ARRAY_DTYPES[payload[0]], 1, None)
    return msgpack.ExtType(code, payload)


def _ndarray_in_place(mv: memoryview, start: int) -> Any:
    """A top-level chunk read without copying its data, or None to take the
    general path (anything but [dtype, shape, bin] in the usual forms)."""
    reader = msgpack.Unpacker(raw=False)
    reader.feed(mv[start : start + 1024])  # the header is far shorter
    try:
        if reader.read_array_header() != 3:
            return None
        dtype, shape = reader.unpack(), reader.unpack()
    except (msgpack.OutOfData, ValueError):
        return None
    at = start + reader.tell()
    marker = mv[at]
    if marker not in (0xC4, 0xC5, 0xC6) or not isinstance(dtype, str):
        return None
    width = {0xC4: 1, 0xC5: 2, 0xC6: 4}[marker]
    n = int.from_bytes(mv[at + 1 : at + 1 + width], "big")
    at += 1 + width
    if at + n != len(mv):
        return None  # the general path says what is wrong
    return _ndarray(dtype, shape, mv, at, n)


def _ndarray_from_wire(wire: Any) -> Any:
    if not isinstance(wire, list) or len(wire) != 3:
        raise DecodeError(f"an array chunk is [dtype, shape, data], got {type(wire).__name__}")
    dtype, shape, data = wire
    if type(data).__name__ == "ndarray":  # data given as a msgpackr typed array
        data = data.tobytes()
    if not isinstance(data, bytes):
        raise DecodeError(f"an array chunk's data must be bytes, got {type(data).__name__}")
    return _ndarray(dtype, shape, data, 0, len(data))


def _ndarray(dtype: Any, shape: Any, buf: Any, offset: int, n: int) -> Any:
    if dtype not in DTYPES:
        raise DecodeError(f"unknown dtype {dtype!r}: use one of {', '.join(sorted(DTYPES))}")
    if not isinstance(shape, list) or not all(type(d) is int and d >= 0 for d in shape):
        raise DecodeError(f"an array chunk's shape must be a list of non-negative integers, got {shape!r}")
    np = _numpy()
    le = np.dtype(dtype).newbyteorder("<")
    size = 1
    for d in shape:
        size *= d
    if n != size * le.itemsize:
        raise DecodeError(f"a {dtype} array of shape {shape} needs {size * le.itemsize} bytes of data, got {n}")
    return _array_view(buf, le, offset, size).reshape(shape)


def _array_view(buf: Any, dtype: Any, offset: int, count: Any) -> Any:
    """A read-only array over `buf` from `offset`: a view where aligned for the dtype, else a copy."""
    np = _numpy()
    dtype = np.dtype(dtype)
    if count is None:
        count = (len(buf) - offset) // dtype.itemsize
    a = np.frombuffer(buf, dtype=dtype, count=count, offset=offset)
    if not a.flags.aligned:
        a = a.copy()
    a.flags.writeable = False
    return a


def _frame_from_wire(wire: Any) -> Any:
    if not isinstance(wire, dict) or wire.get("v") != 1:
        raise DecodeError("not a stored frame (version 1)")
    names, cols, n = wire.get("names"), wire.get("cols"), wire.get("n")
    if not isinstance(names, list) or not isinstance(cols, list) or len(names) != len(cols) or type(n) is not int or n < 0:
        raise DecodeError("a stored frame needs n (a row count), and names and cols of the same length")
    np = _numpy()
    import pandas as pd

    columns = {}
    for name, col in zip(names, cols):
        values = _frame_column_values(col, np)
        if len(values) != n:
            raise DecodeError(f"column {name!r} has {len(values)} rows, the frame {n}")
        columns[name] = values
    return pd.DataFrame(columns, index=pd.RangeIndex(n))


def _frame_column_values(col: Any, np: Any) -> Any:
    """A column as Node reads it: {dtype, data}, strings and None, or numbers and None (float64)."""
    if isinstance(col, dict):
        dtype, data = col.get("dtype"), col.get("data")
        if dtype not in DTYPES or not isinstance(data, bytes):
            raise DecodeError(f"a numeric column is {{dtype, data: bytes}} with dtype one of {', '.join(sorted(DTYPES))}")
        le = np.dtype(dtype).newbyteorder("<")
        if len(data) % le.itemsize:
            raise DecodeError(f"{len(data)} bytes is not a whole number of {dtype} values")
        return np.frombuffer(data, dtype=le)
    if not isinstance(col, list):
        raise DecodeError(f"a column is {{dtype, data}} or a list, got {type(col).__name__}")
    types = set(map(type, col))
    if str in types or not col:  # an empty list is an empty string column (framePack writes numbers as {dtype, data})
        if not types <= {str, type(None)}:
            raise DecodeError("a string column holds only strings and None")
        return np.array(col, dtype=object)
    if not types <= {int, float, type(None)}:
        raise DecodeError("a column holds numbers and None, or strings and None")
    return np.array([np.nan if v is None else v for v in col], dtype=np.float64)


def _foreign(payload: bytes) -> Any:
    """A foreign value: unpickled when it is Python's, with callables cached by
    their bytes (a function sent with every task is unpickled once)."""
    hit = _callables.get(payload)
    if hit is not None:
        return hit
    fields = msgpack.unpackb(payload, raw=False)
    if not isinstance(fields, list) or len(fields) != 3:
        raise DecodeError("a foreign value (ext 0x50) holds [lang, name, data]")
    lang, name, data = fields
    if lang != "python":
        return Foreign(lang, name, data)
    try:
        value = pickle.loads(data)
    except Exception as e:
        raise LoadError(name, e) from e
    if callable(value) and len(payload) < _CALLABLE_CACHE_MAX_BYTES:
        with _callables_lock:
            if len(_callables) >= _CALLABLE_CACHE_SIZE:
                del _callables[next(iter(_callables))]  # the oldest
            _callables[payload] = value
    return value


def _numpy() -> Any:
    import numpy

    return numpy
