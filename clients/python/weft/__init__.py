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

import contextlib
import http.client
import json
import operator
import os
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from typing import IO, Any, Hashable, Iterator, Mapping, Optional, Sequence

from .callbacks import Callback
from .progress import ProgressBar

__all__ = ["Callback", "Client", "GraphResult", "ObjectRef", "Op", "RemoteTaskError", "WeftError", "ops"]


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
# dask.delayed packs containers that hold delayed values as (type, [items])
# tasks, a dict as (dict, [[key, value], ...]); weft graphs have them as plain
# arrays and objects, so they are unpacked instead of run.
_CONTAINERS = (dict, list, tuple, set, frozenset)
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


def _dask_key(name: str) -> Any:
    """The inverse of _key_name: weft's key string back to the Dask key."""
    if not name.startswith("\u0000"):
        return name
    return _tuple_key(json.loads(name[1:]))


def _tuple_key(key: Any) -> Any:
    if isinstance(key, list):
        return tuple(_tuple_key(k) for k in key)
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

    def container(self, kind: type, items: list) -> Any:
        if kind is dict:
            if not all(isinstance(i, list) and len(i) == 2 for i in items):
                raise TypeError(f"(dict, {items!r}) is not a list of [key, value] pairs")
            return self.node({k: v for k, v in items})
        return [self.node(i) for i in items]

    def node(self, x: Any) -> Any:
        if isinstance(x, ObjectRef):
            return {"$oid": x.oid}
        if _is_task(x):
            fn, args = x[0], x[1:]
            if getattr(fn, "__module__", "").startswith("dask") and getattr(fn, "__name__", "") == "apply" and len(args) >= 2:
                # dask's apply(func, args, kwargs)
                return {"$op": _op_name(args[0]), "args": [self.node(a) for a in args[1]], "kwargs": {k: self.node(v) for k, v in (args[2] if len(args) > 2 else {}).items()}}
            if fn in _CONTAINERS and len(args) == 1 and isinstance(args[0], list):
                return self.container(fn, args[0])
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


def _deps_of(x: Any, keys: set, out: list) -> list:
    """The keys a node reads, in order, as the translator would turn them into references."""
    if _is_task(x):
        for a in x[1:]:
            _deps_of(a, keys, out)
        return out
    try:
        if x in keys:
            out.append(x)
            return out
    except TypeError:
        pass  # unhashable: not a key
    if isinstance(x, (list, tuple, set, frozenset)):
        for i in x:
            _deps_of(i, keys, out)
    elif isinstance(x, dict) and not any(isinstance(k, str) and k.startswith("$") for k in x):
        for v in x.values():
            _deps_of(v, keys, out)
    return out


def _presubmitted(value: Any) -> Any:
    """A value a presubmit hook gave for a key: data in the graph, never walked for references."""
    if isinstance(value, ObjectRef):
        return {"$oid": value.oid}
    try:
        json.dumps(value)
    except (TypeError, ValueError):
        raise TypeError(f"a presubmit hook returned {value!r}, which is not JSON (give JSON values or an ObjectRef)") from None
    return {"$literal": value}


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


_PENDING = ("queued", "running")


class GraphResult:
    """One computed graph: its `id` (for client.events, task_timings, graph_info),
    `status`, `result` shaped as Dask's get shapes it, and `outputs`, the
    ObjectRefs of the requested keys (lists where the keys were lists)."""

    def __init__(self, id: str, status: str, result: Any, outputs: Any):
        self.id = id
        self.status = status
        self.result = result
        self.outputs = outputs

    def __repr__(self) -> str:
        return f"GraphResult(id={self.id!r}, status={self.status!r})"


def _wants_events(cb: Callback) -> bool:
    """Only a callback with an event hook makes a compute follow the event stream."""
    for hook in ("_postsubmit", "_pretask", "_posttask", "_postsubmit_all", "_finish"):
        if hook in vars(cb) or getattr(type(cb), hook) is not getattr(Callback, hook):
            return True
    return False


def _iter_sse(res: Any) -> Iterator[dict]:
    """Server-Sent Events off an HTTP response, one dict per `data:` block."""
    data: list = []
    while True:
        line = res.readline()
        if not line:
            return
        line = line.decode("utf-8").rstrip("\r\n")
        if line == "":
            if data:
                yield json.loads("\n".join(data))
                data = []
        elif line.startswith("data:"):
            data.append(line[5:].lstrip(" "))
        # id:, event: and comments: the JSON already carries seq and type.


def _event(e: dict) -> dict:
    if isinstance(e.get("key"), str):
        e["key"] = _dask_key(e["key"])
    return e


def _refs_by_key(keys: Any, outputs: Any, out: dict) -> dict:
    # Walked in parallel, not flattened: a multiple-return key's output is itself a list.
    if isinstance(keys, list):
        for k, o in zip(keys, outputs):
            _refs_by_key(k, o, out)
    else:
        out[_key_name(keys)] = _refs(outputs)
    return out


class Client:
    """A weft service. `url` defaults to $WEFT_URL, else http://127.0.0.1:8080.

    progress: a progress bar on `progress_stream` (default sys.stderr) for
    computes that take longer than `progress_delay` seconds: True, False, or
    None (the default) for on when that stream is a terminal.
    """

    def __init__(
        self,
        url: Optional[str] = None,
        token: Optional[str] = None,
        timeout: float = 3600,
        progress: Optional[bool] = None,
        progress_stream: Optional[IO[str]] = None,
        progress_delay: float = 0.5,
    ):
        url = url if url is not None else os.environ.get("WEFT_URL", "http://127.0.0.1:8080")
        if not isinstance(url, str) or urllib.parse.urlsplit(url).scheme not in ("http", "https") or not urllib.parse.urlsplit(url).netloc:
            raise ValueError(f"weft url must be http://host:port or https://..., got {url!r}")
        if progress not in (None, True, False):
            raise TypeError(f"progress must be None (on a terminal), True or False, got {progress!r}")
        if not isinstance(progress_delay, (int, float)) or progress_delay < 0:
            raise ValueError(f"progress_delay must be a number of seconds >= 0, got {progress_delay!r}")
        if progress_stream is not None and not hasattr(progress_stream, "write"):
            raise TypeError(f"progress_stream must be a text stream (has .write), got {progress_stream!r}")
        self.url = url.rstrip("/")
        self.token = token
        self.timeout = timeout
        self.progress = progress
        self.progress_stream = progress_stream
        self.progress_delay = progress_delay

    # -- HTTP

    def _open(self, method: str, path: str, body: Any = None, headers: Optional[dict] = None) -> Any:
        """The response; an error answer raises WeftError, an unreachable service URLError."""
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.url + path, data=data, method=method)
        if data is not None:
            req.add_header("content-type", "application/json")
        if self.token:
            req.add_header("authorization", f"Bearer {self.token}")
        for name, value in (headers or {}).items():
            req.add_header(name, value)
        try:
            return urllib.request.urlopen(req, timeout=self.timeout)
        except urllib.error.HTTPError as err:
            raw = err.read() or b"{}"
            try:
                payload = json.loads(raw).get("error", {})
            except ValueError:
                payload = {"message": raw.decode("utf-8", "replace")[:500]}
            raise WeftError(payload.get("code", str(err.code)), payload.get("message", str(err)), payload) from None

    def _request(self, method: str, path: str, body: Any = None) -> Any:
        try:
            with self._open(method, path, body) as res:
                return json.loads(res.read())
        except urllib.error.URLError as err:
            raise WeftError("unreachable", f"cannot reach weft at {self.url}: {err.reason}") from None

    def _submit(self, dsk: Any, keys: Any, known: Optional[dict] = None, **extra: Any) -> dict:
        graph = _graph_of(dsk)
        t = _Translator(graph)
        known = known or {}
        nodes = {_key_name(k): (_presubmitted(known[k]) if k in known else t.node(v)) for k, v in graph.items()}
        body = {"graph": nodes, "keys": _flat_keys(keys), **extra}
        return self._request("POST", "/v1/graphs", body)

    # -- computing

    def get(self, dsk: Any, keys: Any, **kwargs: Any) -> Any:
        """Dask's scheduler signature: use as `scheduler=client.get`. A key not in the graph raises KeyError."""
        return self.compute_graph(dsk, keys).result

    def compute_graph(
        self,
        dsk: Any,
        keys: Any,
        *,
        callbacks: Sequence[Callback] = (),
        options: Optional[dict] = None,
        presubmit: Optional[dict] = None,
        webhooks: Optional[list] = None,
        ttl: Optional[int] = None,
    ) -> GraphResult:
        """Computes `keys` of the Dask graph `dsk` and returns a GraphResult
        (its id, result and outputs). `callbacks` run for this compute, after
        the active ones; `options` (e.g. {"cache": True}), `presubmit` (a hook
        URL), `webhooks` (the API's `callbacks`) and `ttl` go to POST /v1/graphs
        as they are (docs/graph-format.md, docs/webhooks.md). A failed task
        raises RemoteTaskError; Ctrl-C cancels the graph."""
        graph = _graph_of(dsk)
        missing = [k for k in _iter_keys(keys) if k not in graph]
        if missing:
            raise KeyError(missing[0])
        hooks = list(Callback.active) + [cb for cb in callbacks if cb not in Callback.active]
        for cb in hooks:
            if not isinstance(cb, Callback):
                raise TypeError(f"callbacks must be weft.Callback instances, got {cb!r}")
        known = self._run_presubmit(graph, keys, hooks)
        extra: dict = {}
        for name, value in (("options", options), ("presubmit", presubmit), ("callbacks", webhooks), ("ttl", ttl)):
            if value is not None:
                extra[name] = value
        listeners = [cb for cb in hooks if _wants_events(cb)]
        bar = self._progress_bar()
        # Listeners see every event, so the graph is submitted without waiting;
        # with only a bar, the submission itself waits out the bar's delay, and
        # a graph done by then costs one request and shows no bar. Otherwise
        # long polls, each well inside the socket timeout.
        wait = 0 if listeners else (self.progress_delay if bar else min(60, self.timeout / 2))
        gid = None
        try:
            res = self._submit(graph, keys, known, wait=wait, **extra)
            gid = res["id"]
            # A bar whose delay has passed is drawn at the end even if the graph
            # ended during the submission's wait: its events (replayed) give it the final counts.
            if listeners or (bar and (res["status"] in _PENDING or bar.due())):
                self._follow(gid, listeners, bar, _refs_by_key(keys, res["outputs"], {}))
            while res["status"] in _PENDING:
                res = self._request("GET", f"/v1/graphs/{gid}/result?wait={min(60, self.timeout / 2)}")
        except KeyboardInterrupt:
            # Nobody is left to read the result.
            if gid is not None:
                try:
                    self.cancel(gid)
                except Exception:
                    pass
            raise
        finally:
            # Also when the submission fails: the bar's ticker must not outlive the compute.
            if bar is not None:
                bar.close(final=gid is not None)
        if res["status"] != "done":
            e = res.get("error") or {}
            raise RemoteTaskError(_dask_key(e.get("key", "")), e.get("op", ""), e.get("message", res["status"]), e.get("stack"), e)
        return GraphResult(gid, res["status"], _reshape(keys, res["result"]), _refs(res["outputs"]))

    def _progress_bar(self) -> Optional[ProgressBar]:
        stream = self.progress_stream if self.progress_stream is not None else sys.stderr
        on = self.progress
        if on is None:
            isatty = getattr(stream, "isatty", None)
            on = bool(isatty and isatty())
        if not on:
            return None
        return ProgressBar(stream, delay=self.progress_delay).start()

    def _run_presubmit(self, graph: Mapping, keys: Any, hooks: list) -> dict:
        """Asks the presubmit hooks about each task the requested keys need;
        a task they answer keeps its value and its dependencies are not asked."""
        askers = [cb for cb in hooks if "_presubmit" in vars(cb) or type(cb)._presubmit is not Callback._presubmit]
        known: dict = {}
        if not askers:
            return known
        names = set(graph.keys())
        seen: set = set()
        stack = list(_iter_keys(keys))
        while stack:
            key = stack.pop()
            if key in seen:
                continue
            seen.add(key)
            node = graph[key]
            deps = _deps_of(node, names, [])
            if _is_task(node):
                for cb in askers:
                    value = cb._presubmit(node, key, deps)
                    if value is not None:
                        known[key] = value
                        break
                if key in known:
                    continue
            stack.extend(reversed(deps))
        return known

    def _follow(self, gid: str, listeners: list, bar: Optional[ProgressBar], refs: dict) -> None:
        # closing(): a hook that raises closes the event stream's connection now, not at garbage collection.
        with contextlib.closing(self.events(gid)) as events:
            self._dispatch(events, listeners, bar, refs)

    def _dispatch(self, events: Iterator[dict], listeners: list, bar: Optional[ProgressBar], refs: dict) -> None:
        for event in events:
            if bar is not None:
                bar.update(event)
            if not listeners:
                continue
            kind = event["type"]
            if kind in ("postsubmit", "pretask", "posttask"):
                key = event["key"]
                if kind == "posttask" and event.get("ok") and _key_name(key) in refs:
                    event["ref"] = refs[_key_name(key)]
                for cb in listeners:
                    getattr(cb, "_" + kind)(key, event)
            elif kind in ("postsubmit_all", "finish"):
                for cb in listeners:
                    getattr(cb, "_" + kind)(event)

    def persist(self, dsk: Any, keys: Any) -> Any:
        """Dask's persist: starts the graph and returns ObjectRefs at once, shaped like `keys`."""
        res = self._submit(dsk, keys, persist=True)
        return _refs(res["outputs"])

    # -- a graph's state, events and timings

    def graph_info(self, graph_id: str) -> dict:
        """GET /v1/graphs/{id}: status, progress {total, done, running, failed}, outputs, error."""
        return self._request("GET", f"/v1/graphs/{_quote(graph_id)}")

    def cancel(self, graph_id: str) -> dict:
        return self._request("DELETE", f"/v1/graphs/{_quote(graph_id)}")

    def task_timings(self, graph_id: str) -> list:
        """Per task (GET /v1/graphs/{id}/tasks): key (the Dask key), submitted,
        started, finished (ms since the epoch), queue_wait_ms, run_ms, worker,
        attempts, ok."""
        return [_event(t) for t in self._request("GET", f"/v1/graphs/{_quote(graph_id)}/tasks")["tasks"]]

    def events(self, graph_id: str, start: int = 0, follow: bool = True) -> Iterator[dict]:
        """The graph's events (docs/events.md) from sequence number `start`,
        `key` as the Dask key. With `follow` (Server-Sent Events) it goes on
        live until the graph's `finish` event, reconnecting where it left off
        if the connection drops; without, it yields those recorded so far."""
        path = f"/v1/graphs/{_quote(graph_id)}/events"
        if not follow:
            for e in self._request("GET", f"{path}?from={int(start)}")["events"]:
                yield _event(e)
            return
        seq, failures = int(start), 0
        while True:
            try:
                with self._open("GET", f"{path}?from={seq}", headers={"accept": "text/event-stream"}) as res:
                    for e in _iter_sse(res):
                        seq, failures = e["seq"] + 1, 0
                        yield _event(e)
                        if e["type"] == "finish":
                            return
                reason = "the event stream ended before the graph's finish event"
            except (OSError, http.client.HTTPException) as err:  # URLError, timeouts and resets are OSErrors
                reason = str(getattr(err, "reason", err))
            failures += 1
            if failures > 5:
                raise WeftError("unreachable", f"lost the event stream of graph {graph_id} at {self.url}: {reason}")
            time.sleep(0.2 * 2 ** failures)

    # -- objects

    def fetch(self, ref: ObjectRef, wait: float = 60) -> Any:
        return self._request("GET", f"/v1/objects/{ref.oid}?wait={wait}")

    def put(self, value: Any) -> ObjectRef:
        return ObjectRef(self._request("POST", "/v1/objects", value)["$oid"])

    def release(self, ref: ObjectRef) -> None:
        self._request("DELETE", f"/v1/objects/{ref.oid}")


def _quote(graph_id: str) -> str:
    if not isinstance(graph_id, str) or not graph_id:
        raise TypeError(f"a graph id is a non-empty string (GraphResult.id), got {graph_id!r}")
    return urllib.parse.quote(graph_id, safe="")


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
