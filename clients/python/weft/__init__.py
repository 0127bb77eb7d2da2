"""Python client for weft, standard library only.

    from weft import Client, ops
    client = Client("http://127.0.0.1:8080")
    dask.compute(x, scheduler=client.get)          # or dask.config.set(scheduler=client.get)
    client.get({"x": 1, "y": (ops.inc, "x")}, "y")  # Dask's scheduler signature

Dask graphs are translated to weft's JSON graphs (docs/graph-format.md):
tuple keys become strings and come back as they were, a task (a tuple whose
first element is callable) becomes {"$op": ...}, a string that is a key of
the graph becomes {"$ref": ...}, lists and plain tuples become arrays.
"""
from __future__ import annotations

import json
import operator
import urllib.error
import urllib.request
from typing import Any, Hashable, Mapping

__all__ = ["Client", "ObjectRef", "Op", "RemoteTaskError", "WeftError", "ops"]


class WeftError(Exception):
    """The service rejected a request; `code` is its error code (docs/errors.md)."""

    def __init__(self, code: str, message: str, details: dict | None = None):
        super().__init__(f"{code}: {message}")
        self.code = code
        self.details = details or {}


class RemoteTaskError(Exception):
    """A task failed on a worker: its key, op, message and the remote stack."""

    def __init__(self, key: str, op: str, message: str, stack: str | None, error: dict):
        super().__init__(f"task {key!r} ({op}) failed: {message}")
        self.key = key
        self.op = op
        self.message = message
        self.stack = stack
        self.error = error


class Op:
    """A remote op by name; call it inside dask.delayed, or use it in tuple tasks."""

    def __init__(self, name: str):
        self.name = name
        self.__name__ = name.replace(".", "_")

    def __call__(self, *args: Any) -> Any:
        raise TypeError(f"weft op {self.name!r} runs on a weft worker: use it in a graph (dask.delayed, or a task tuple)")

    def __repr__(self) -> str:
        return f"weft.ops[{self.name!r}]"


class _Ops:
    """`ops.add`, `ops["my.op"]`: stubs of the ops workers run (GET /v1/ops lists them)."""

    def __getattr__(self, name: str) -> Op:
        if name.startswith("__"):
            raise AttributeError(name)
        return Op(name)

    def __getitem__(self, name: str) -> Op:
        return Op(name)


ops = _Ops()

# Python callables weft has an op for, so plain Dask graphs of them run as they are.
_KNOWN_CALLABLES = {
    sum: "sum", len: "len", min: "min", max: "max",
    operator.add: "add", operator.sub: "sub", operator.mul: "mul", operator.truediv: "div",
    operator.neg: "neg", operator.getitem: "getitem",
}
_KNOWN_NAMES = {"inc", "add", "sub", "mul", "div", "neg", "identity", "sum", "len", "min", "max", "getitem", "concat", "range"}


class ObjectRef:
    """A stored object (a future): pass it in later graphs; `client.fetch(ref)` gets its value."""

    def __init__(self, oid: str):
        self.oid = oid

    def __repr__(self) -> str:
        return f"ObjectRef({self.oid!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ObjectRef) and other.oid == self.oid

    def __hash__(self) -> int:
        return hash(self.oid)


def _key_name(key: Hashable) -> str:
    """Dask keys are strings or tuples; weft keys are strings."""
    if isinstance(key, str):
        return key
    return "\u0000" + json.dumps(_plain_key(key))


def _plain_key(key: Any) -> Any:
    if isinstance(key, tuple):
        return [_plain_key(k) for k in key]
    return key


def _op_name(fn: Any) -> str:
    if isinstance(fn, Op):
        return fn.name
    if fn in _KNOWN_CALLABLES:
        return _KNOWN_CALLABLES[fn]
    name = getattr(fn, "__name__", None)
    if name in _KNOWN_NAMES:
        return name
    raise TypeError(f"{fn!r} is not a weft op: use weft.ops.<name> (or a function named after a weft op such as inc or add)")


def _is_task(x: Any) -> bool:
    return isinstance(x, tuple) and len(x) > 0 and callable(x[0])


class _Translator:
    def __init__(self, dsk: Mapping):
        self.keys = set(dsk.keys())

    def node(self, x: Any) -> Any:
        if isinstance(x, ObjectRef):
            return {"$oid": x.oid}
        if _is_task(x):
            fn, args = x[0], x[1:]
            if getattr(fn, "__module__", "").startswith("dask") and getattr(fn, "__name__", "") == "apply" and len(args) >= 2:
                # dask's apply(func, args, kwargs)
                return {"$op": _op_name(args[0]), "args": [self.node(a) for a in args[1]], "kwargs": {k: self.node(v) for k, v in (args[2] if len(args) > 2 else {}).items()}}
            return {"$op": _op_name(fn), "args": [self.node(a) for a in args]}
        try:
            if x in self.keys:
                return {"$ref": _key_name(x)}
        except TypeError:
            pass  # unhashable: not a key
        if isinstance(x, (list, tuple)):
            return [self.node(i) for i in x]
        if isinstance(x, dict):
            if any(isinstance(k, str) and k.startswith("$") for k in x):
                return {"$literal": x}
            return {str(k): self.node(v) for k, v in x.items()}
        if isinstance(x, (set, frozenset)):
            return [self.node(i) for i in x]
        if x is None or isinstance(x, (bool, int, float, str)):
            return x
        raise TypeError(f"{x!r} cannot be sent to weft (give JSON values, keys, tasks or ObjectRef)")


def _flat_keys(keys: Any) -> Any:
    if isinstance(keys, list):
        return [_flat_keys(k) for k in keys]
    return _key_name(keys)


def _reshape(keys: Any, value: Any) -> Any:
    """Dask returns tuples where the keys were lists."""
    if isinstance(keys, list):
        return tuple(_reshape(k, v) for k, v in zip(keys, value))
    return value


def _graph_of(dsk: Any) -> Mapping:
    # A HighLevelGraph (or any Mapping) flattens to one dict.
    if hasattr(dsk, "to_dict"):
        return dsk.to_dict()
    return dict(dsk)


class Client:
    def __init__(self, url: str = "http://127.0.0.1:8080", token: str | None = None, timeout: float = 3600):
        self.url = url.rstrip("/")
        self.token = token
        self.timeout = timeout

    def _request(self, method: str, path: str, body: Any = None) -> Any:
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.url + path, data=data, method=method)
        if data is not None:
            req.add_header("content-type", "application/json")
        if self.token:
            req.add_header("authorization", f"Bearer {self.token}")
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as res:
                return json.loads(res.read())
        except urllib.error.HTTPError as err:
            payload = json.loads(err.read() or b"{}").get("error", {})
            raise WeftError(payload.get("code", str(err.code)), payload.get("message", str(err)), payload) from None

    def _submit(self, dsk: Any, keys: Any, **extra: Any) -> dict:
        graph = _graph_of(dsk)
        t = _Translator(graph)
        body = {"graph": {_key_name(k): t.node(v) for k, v in graph.items()}, "keys": _flat_keys(keys), **extra}
        return self._request("POST", "/v1/graphs", body)

    def get(self, dsk: Any, keys: Any, **kwargs: Any) -> Any:
        """Dask's scheduler signature: use as `scheduler=client.get`. A key not in the graph raises KeyError."""
        missing = [k for k in _iter_keys(keys) if k not in _graph_of(dsk)]
        if missing:
            raise KeyError(missing[0])
        res = self._submit(dsk, keys, wait=self.timeout)
        while res["status"] in ("queued", "running"):
            res = self._request("GET", f"/v1/graphs/{res['id']}/result?wait=60")
        if res["status"] != "done":
            e = res.get("error") or {}
            raise RemoteTaskError(e.get("key", ""), e.get("op", ""), e.get("message", res["status"]), e.get("stack"), e)
        return _reshape(keys, res["result"])

    def persist(self, dsk: Any, keys: Any) -> Any:
        """Dask's persist: starts the graph and returns ObjectRefs at once, shaped like `keys`."""
        res = self._submit(dsk, keys, persist=True)
        return _refs(res["outputs"])

    def fetch(self, ref: ObjectRef, wait: float = 60) -> Any:
        return self._request("GET", f"/v1/objects/{ref.oid}?wait={wait}")

    def put(self, value: Any) -> ObjectRef:
        return ObjectRef(self._request("POST", "/v1/objects", value)["$oid"])

    def release(self, ref: ObjectRef) -> None:
        self._request("DELETE", f"/v1/objects/{ref.oid}")


def _iter_keys(keys: Any):
    if isinstance(keys, list):
        for k in keys:
            yield from _iter_keys(k)
    else:
        yield keys


def _refs(outputs: Any) -> Any:
    if isinstance(outputs, list):
        return [_refs(o) for o in outputs]
    return ObjectRef(outputs["$oid"])
