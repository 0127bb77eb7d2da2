"""Dask keys as weft keys and back.

weft's keys are strings. A Dask key that is a string is sent as it is; any
other key (a tuple such as ("x", 0), an int) is sent as "\\x00" followed by its
JSON form, with tuples as arrays, and read back as the same tuple. numpy
integers and floats in a key are written as the Python ints and floats they
equal, so ('x', np.int64(0)) reads back as ('x', 0), an equal key. Keys weft
makes itself from a key (a call moved into a task of its own is named
"<key>/args[0]", docs/graph-format.md) are not JSON after the prefix: they come
back as the string they are.

Standard library only: the executor imports this module too.
"""
from __future__ import annotations

import json
import operator
from typing import Any, Hashable

TUPLE_PREFIX = "\u0000"


def key_name(key: Hashable) -> str:
    """The weft key of a Dask key."""
    if type(key) is str:
        return key
    try:
        return TUPLE_PREFIX + json.dumps(_plain(key), separators=(",", ":"), allow_nan=False)
    except (TypeError, ValueError):
        raise TypeError(f"weft cannot name the Dask key {key!r}: keys are strings, numbers and tuples of them") from None


def _plain(key: Any) -> Any:
    if type(key) is tuple:
        return [_plain(k) for k in key]
    t = type(key)
    if key is None or t in (str, int, float, bool):
        return key
    # numpy's integers (da.diagonal and da.trace build ('array-...', np.int64(0), 0)) and
    # floats: named as the int or float they equal, as a Dask graph finds them by equality.
    if hasattr(t, "__index__") and not isinstance(key, bool):
        return operator.index(key)
    if isinstance(key, float):
        return float(key)
    if isinstance(key, str):  # numpy.str_
        return str(key)
    raise TypeError(key)


def dask_key(name: str) -> Any:
    """The Dask key a weft key stands for (the inverse of key_name)."""
    if not name.startswith(TUPLE_PREFIX):
        return name
    try:
        return _tuple(json.loads(name[1:]))
    except ValueError:
        return name


def _tuple(key: Any) -> Any:
    if isinstance(key, list):
        return tuple(_tuple(k) for k in key)
    return key
