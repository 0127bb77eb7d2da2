"""A Dask scheduler `get(dsk, keys, **kwargs)` that sends the graph to weft in
the graph format itself (docs/graph-format.md), without weft's Python client.

It exists so the suite harness can run before the client's Dask support
(issue 18) lands, and to tell a client bug from a service bug afterwards: the
harness runs with `DASK_SUITE_BACKEND=raw` (this module) or `client`
(`weft.Client(url).get`). It follows Dask's own semantics of a graph
(dask.core._execute_task) as literally as it can:

- a task, `type(x) is tuple and callable(x[0])`, is a `$call` of its callable,
  each distinct callable sent once per graph as a data key that tasks `$ref`;
- a list is a list of nodes (Dask recurses into lists, and only lists);
- a hashable that is a key of the graph is a `$ref`;
- anything else is a literal: None, bool, float, str and 64-bit ints as
  themselves, everything else (tuples, dicts, numpy arrays, slices, ...) as a
  Python foreign value (its cloudpickle), so it reaches the task exactly as Dask
  would pass it.

The request is MessagePack (weft.codec) and so is the answer. A top-level list
holding references or tasks is built by a `$call` of Python's `list`, not by
weft's own list node, which Node evaluates: its numbers do not keep an integral
float a float (68.0 comes back 68), as a literal float in a request does not
either (both reported in the suite's triage). A failed task
raises its original exception (unpickled), with the remote traceback appended
to its message's notes.
"""
from __future__ import annotations

import base64
import http.client
import io
import json
import os
import pickle
import threading
import time
import urllib.parse
from typing import Any, Hashable

import cloudpickle

from weft import _iter_keys, _reshape, codec  # the client's own: keys nested in lists, answers as tuples

_PLAIN = (type(None), bool, float, str)
_INT64 = (-(2**63), 2**63)
_local = threading.local()
# Callables as a literal in each task instead of a data key the tasks reference (for measuring both).
_INLINE_CALLABLES = os.environ.get("DASK_SUITE_RAW_INLINE_CALLABLES") == "1"


class WeftGraphError(RuntimeError):
    """weft refused the graph, or a task failed and its exception could not be raised again."""

    def __init__(self, message: str, error: dict):
        super().__init__(message)
        self.error = error


def key_name(key: Hashable) -> str:
    """Dask keys are strings or tuples; weft keys are strings (the Python client's scheme)."""
    if isinstance(key, str):
        return key
    return "\u0000" + json.dumps(_plain_key(key))


def _plain_key(key: Any) -> Any:
    if isinstance(key, tuple):
        return [_plain_key(k) for k in key]
    return key


def _foreign(value: Any) -> codec.Foreign:
    t = type(value)
    name = getattr(value, "__qualname__", None) if callable(value) else None
    return codec.Foreign("python", name if isinstance(name, str) else f"{t.__module__}.{t.__qualname__}", dumps(value))


class _Pickler(cloudpickle.CloudPickler):
    """cloudpickle, except for numpy's dtype classes (numpy.dtype[int64]): cloudpickle pickles
    them by value, since their names do not import, and such pickles do not load again;
    numpy's own reducer pickles them by reference."""

    def reducer_override(self, obj: Any) -> Any:
        if isinstance(obj, type) and type(obj).__name__ == "_DTypeMeta":
            return NotImplemented
        return super().reducer_override(obj)


def dumps(value: Any) -> bytes:
    buf = io.BytesIO()
    _Pickler(buf, protocol=5).dump(value)
    return buf.getvalue()


class Translator:
    """One Dask graph as weft nodes."""

    def __init__(self, dsk: dict):
        self.dsk = dsk
        # Names by key: a reference may be a key equal to the graph's but not identical
        # (a tuple key with numpy ints in it, as da.trace makes), which has no JSON form of its own.
        self.names = {k: key_name(k) for k in dsk}
        self.callables: dict = {}  # id(fn) -> (data key, fn); fn kept so its id stays unique
        self.nodes: dict = {}

    def callable_ref(self, fn: Any) -> Any:
        if _INLINE_CALLABLES:
            hit = self.callables.get(id(fn))
            if hit is None:
                hit = self.callables[id(fn)] = (_foreign(fn), fn)
            return hit[0]
        hit = self.callables.get(id(fn))
        if hit is None:
            name = f"\u0000fn:{len(self.callables)}"
            self.nodes[name] = _foreign(fn)
            hit = self.callables[id(fn)] = (name, fn)
        return {"$ref": hit[0]}

    def node(self, x: Any) -> Any:
        t = type(x)
        if t is tuple and x and callable(x[0]):
            return {"$call": self.callable_ref(x[0]), "args": [self.node(a) for a in x[1:]]}
        if isinstance(x, list):
            return [self.node(a) for a in x]
        try:
            name = self.names.get(x)
        except TypeError:
            name = None  # unhashable: a literal
        if name is not None:
            return {"$ref": name}
        return literal(x)

    def top(self, value: Any) -> Any:
        """A key's node. A top-level literal is data and a str that is a key an alias ({"$ref"}), as
        node() gives them. A top-level list holding references or tasks is built by Python's `list`
        (a `$call`), not by weft's own list node: weft evaluates that in Node, whose numbers do not
        keep an integral float a float (68.0 comes back 68)."""
        node = self.node(value)
        if isinstance(value, list) and _has_task(node):
            return {"$call": self.callable_ref(list), "args": [node]}
        return node

    def graph(self) -> dict:
        for k, v in self.dsk.items():
            self.nodes[self.names[k]] = self.top(v)
        return self.nodes


def _has_task(node: Any) -> bool:
    if isinstance(node, list):
        return any(_has_task(n) for n in node)
    return isinstance(node, dict) and ("$ref" in node or "$call" in node)


def literal(x: Any) -> Any:
    t = type(x)
    if t in _PLAIN or (t is int and _INT64[0] <= x < _INT64[1]):
        return x
    return _foreign(x)


def _flat_keys(keys: Any) -> Any:
    if isinstance(keys, list):
        return [_flat_keys(k) for k in keys]
    return key_name(keys)


class RawClient:
    """Just enough HTTP for `get`: one keep-alive connection per thread."""

    def __init__(self, url: str, timeout: float = 120.0):
        parts = urllib.parse.urlsplit(url)
        self.host, self.port = parts.hostname, parts.port or 80
        self.timeout = timeout
        self.graphs = 0

    def _conn(self) -> http.client.HTTPConnection:
        conn = getattr(_local, "conn", None)
        if conn is None or getattr(_local, "owner", None) is not self:
            conn = _local.conn = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout + 30)
            _local.owner = self
        return conn

    def request(self, method: str, path: str, body: bytes | None = None) -> tuple:
        # MessagePack where a route offers it, JSON where it does not (GET .../tasks): an Accept of
        # MessagePack alone is answered 406 by a JSON-only route.
        headers = {"accept": "application/msgpack, application/json;q=0.5"}
        if body is not None:
            headers["content-type"] = "application/msgpack"
        for attempt in (0, 1):
            conn = self._conn()
            try:
                conn.request(method, path, body=body, headers=headers)
                res = conn.getresponse()
                data = res.read()
                break
            except (ConnectionError, http.client.HTTPException):
                conn.close()
                _local.conn = None
                if attempt:
                    raise
        if res.headers.get("content-type", "").startswith("application/msgpack"):
            return res.status, codec.unpackb(data)
        return res.status, json.loads(data) if data else None

    def get(self, dsk: Any, keys: Any, **kwargs: Any) -> Any:
        graph = dict(dsk)
        for k in _iter_keys(keys):
            if k not in graph:
                raise KeyError(k)
        nodes = Translator(graph).graph()
        body = codec.packb({"graph": nodes, "keys": _flat_keys(keys), "wait": min(60, self.timeout)})
        status, res = self.request("POST", "/v1/graphs", body)
        self.graphs += 1
        if status >= 400:
            err = (res or {}).get("error", {}) if isinstance(res, dict) else {}
            code = err.get("code")
            if code == "cycle":
                raise RuntimeError(f"Cycle detected in the graph: {err.get('message')}")
            if code == "unknown_key":
                raise KeyError(err.get("keys"))
            raise WeftGraphError(f"weft refused the graph ({status} {code}): {err.get('message')}", err)
        deadline = time.monotonic() + self.timeout
        while res["status"] in ("queued", "running"):
            if time.monotonic() > deadline:
                self.request("DELETE", f"/v1/graphs/{res['id']}")
                raise TimeoutError(f"weft graph {res['id']} did not finish within {self.timeout} s")
            status, res = self.request("GET", f"/v1/graphs/{res['id']}/result?wait=30")
        if res["status"] != "done":
            raise _task_exception(res.get("error") or {"message": res["status"]})
        return _reshape(keys, res["result"])


def _task_exception(error: dict) -> BaseException:
    pickled = error.get("exception")
    if isinstance(pickled, str):
        pickled = base64.b64decode(pickled)
    exc = None
    if pickled:
        try:
            exc = pickle.loads(pickled)
        except Exception:
            exc = None
    if not isinstance(exc, BaseException):
        return WeftGraphError(f"task {error.get('key')!r} failed: {error.get('code', '')} {error.get('message')}", error)
    if error.get("stack") and hasattr(exc, "add_note"):
        exc.add_note(f"weft: task {error.get('key')!r} failed remotely:\n{error['stack']}")
    return exc


_clients: dict = {}


def get_for(url: str, timeout: float = 120.0):
    """The `get` of a RawClient for `url` (one per URL)."""
    client = _clients.get(url)
    if client is None:
        client = _clients[url] = RawClient(url, timeout)
    return client.get


if __name__ == "__main__":  # a smoke test: python3 -m dask_suite.rawget URL
    import sys

    from operator import add

    get = get_for(sys.argv[1] if len(sys.argv) > 1 else os.environ["WEFT_URL"])
    print(get({"x": 1, "y": (add, "x", 10), ("z", 0): (tuple, ["x", "y"])}, ["y", [("z", 0)]]))
