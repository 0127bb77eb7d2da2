"""Python client for weft: a Dask scheduler that runs any Dask graph on a weft service.

    import dask
    from weft import Client
    client = Client("http://127.0.0.1:8080")
    dask.compute(x, scheduler=client.get)          # or dask.config.set(scheduler=client.get)
    client.get({"x": (lambda v: v * 3, 4)}, "x")   # 12: Dask's scheduler signature
    x = x.persist()                                # weft futures (ObjectRefs) in x's graph

Dask graphs are translated with Dask's semantics (weft.translate): Python
callables become `$call` tasks that weft's Python executors run (workers
started with WEFT_POOLS=default,python), `weft.ops.<name>` stubs stay weft
(TypeScript) ops, literals go as plain MessagePack, array chunks or pickles.
Requests and answers are MessagePack; results come back as Python values of
their own types, and a task's exception is raised again with its own type.

Needs msgpack and cloudpickle (Debian: python3-msgpack python3-cloudpickle);
numpy, pandas and dask are imported only when a graph or value uses them.
"""
from __future__ import annotations

# One version for the service, both clients and openapi.yaml (test/versions.test.ts); GET /healthz reports the service's.
__version__ = "0.2.0"

import atexit
import base64
import contextlib
import contextvars
import http.client
import json
import os
import pickle
import queue
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import warnings
import weakref
from typing import IO, Any, Iterator, Mapping, Optional, Sequence

import msgpack

from . import codec
from .callbacks import Callback
from .hooks import TaskHooks
from .keys import dask_key as _dask_key
from .keys import key_name as _key_name
from .progress import ProgressBar
from . import translate as _translate
from .translate import Translation
from .values import ObjectRef, Op, ops

__all__ = [
    "Callback",
    "Client",
    "GraphResult",
    "ObjectRef",
    "Op",
    "RemoteTaskError",
    "RemoteTraceback",
    "WeftError",
    "dataframe_optimize",
    "ops",
]

MSGPACK = "application/msgpack"


def __getattr__(name: str) -> Any:
    # weft.dataframe_optimize imports dask.dataframe: only when asked for.
    if name == "dataframe_optimize":
        from .optimizations import dataframe_optimize

        return dataframe_optimize
    raise AttributeError(f"module 'weft' has no attribute {name!r}")


class WeftError(Exception):
    """The service rejected a request; `code` is its error code (docs/errors.md)."""

    def __init__(self, code: str, message: str, details: dict | None = None):
        super().__init__(f"{code}: {message}")
        self.code = code
        self.details = details or {}


class RemoteTaskError(Exception):
    """A task failed on a worker and its exception cannot be raised again as
    it was (a weft op's error, an executor that died, a timeout, an exception
    that cannot be unpickled here): its key, op, message and the remote stack.
    `error` is the graph's error as the API gives it (docs/errors.md)."""

    def __init__(self, key: Any, op: str, message: str, stack: str | None, error: dict):
        super().__init__(f"task {key!r} ({op}) failed: {message}")
        self.key = key
        self.op = op
        self.message = message
        self.stack = stack
        self.error = error


class RemoteTraceback(Exception):
    """The cause of an exception raised again from a task (its `__cause__`):
    the task's `key`, `op` and the traceback where it ran (`stack`), shown
    above the local traceback. `error` is the graph's error."""

    def __init__(self, key: Any, op: str, stack: str, error: dict):
        super().__init__(stack)
        self.key = key
        self.op = op
        self.stack = stack
        self.error = error

    def __str__(self) -> str:
        return f"task {self.key!r} failed on a weft worker:\n\"\"\"\n{self.stack.rstrip()}\n\"\"\""


def _task_exception(error: dict, status: str) -> BaseException:
    """What a failed graph raises: the task's own exception, pickled by the
    executor, with the remote traceback as its cause; RemoteTaskError otherwise.
    An input object that failed (object_failed) raises its graph's error."""
    cause = error
    while cause.get("code") == "object_failed" and isinstance(cause.get("cause"), dict):
        cause = cause["cause"]
    key = _dask_key(cause.get("key", "")) if isinstance(cause.get("key"), str) else cause.get("key")
    op = cause.get("op", "")
    exc = _unpickle_exception(cause.get("exception"))
    if exc is None:
        key0 = _dask_key(error.get("key", "")) if isinstance(error.get("key"), str) else error.get("key")
        return RemoteTaskError(key0, error.get("op", ""), error.get("message", status), error.get("stack"), error)
    stack = cause.get("stack") or cause.get("message") or ""
    exc.__cause__ = RemoteTraceback(key, op, stack, error)
    if hasattr(exc, "add_note"):  # Python 3.11
        exc.add_note(f"(raised by weft task {key!r}, {op}; the traceback where it ran is the cause above)")
    return exc


def _unpickle_exception(b64: Any) -> Optional[BaseException]:
    if not isinstance(b64, str):
        return None
    try:
        exc = pickle.loads(base64.b64decode(b64))
    except Exception:
        return None
    # A task's sys.exit() or KeyboardInterrupt fails the task; it does not stop this process.
    return exc if isinstance(exc, Exception) else None


def _flat_keys(keys: Any, name: Any = _key_name) -> Any:
    if isinstance(keys, list):
        return [_flat_keys(k, name) for k in keys]
    return name(keys)


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


def _deps_of(x: Any, keys: Mapping, out: list) -> list:
    """The keys a value reads, as Dask's scheduler substitutes them (dask.core._execute_task)."""
    if type(x) is tuple and x and callable(x[0]):
        for a in x[1:]:
            _deps_of(a, keys, out)
        return out
    if isinstance(x, list):
        for i in x:
            _deps_of(i, keys, out)
        return out
    try:
        if x in keys:
            out.append(x)
    except TypeError:
        pass  # unhashable: not a key
    return out


_PENDING = ("queued", "running")
# The client whose get dask.persist (wrapped by weft.persist) is running with: its get answers with futures.
_PERSISTING: contextvars.ContextVar[Any] = contextvars.ContextVar("weft_persisting", default=None)


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


def _overrides(cb: Callback, hook: str) -> bool:
    return hook in vars(cb) or getattr(type(cb), hook) is not getattr(Callback, hook)


def _wants_events(cb: Callback) -> bool:
    """Only a callback with an event hook makes a compute follow the event stream
    (an in-executor callback's _pretask and _posttask run where the tasks run)."""
    hooks = ("_postsubmit", "_postsubmit_all", "_finish") if cb.in_executor else ("_postsubmit", "_pretask", "_posttask", "_postsubmit_all", "_finish")
    return any(_overrides(cb, h) for h in hooks)


def _runs_in_executor(cb: Callback) -> bool:
    if hasattr(cb, "_ray_pretask") or hasattr(cb, "_ray_posttask"):
        return True  # Ray's names: Ray's semantics, in the executor
    return bool(cb.in_executor) and (_overrides(cb, "_pretask") or _overrides(cb, "_posttask"))


def _presubmit_hook(cb: Callback) -> Any:
    ray = getattr(cb, "_ray_presubmit", None)
    if ray is not None:
        return ray
    return cb._presubmit if _overrides(cb, "_presubmit") else None


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


def _result_ext(code: int, payload: bytes) -> Any:
    value = codec._ext_hook(code, payload)
    if code in (codec.NDARRAY_EXT, codec.TYPED_ARRAY_EXT) and type(value).__name__ == "ndarray":
        return value.copy()  # writable, as the arrays Dask's own schedulers return
    return value


def _unpack(data: bytes) -> Any:
    """An answer in MessagePack, weft's values decoded: arrays (writable), frames, unpickled foreign values."""
    return msgpack.unpackb(data, ext_hook=_result_ext, raw=False, strict_map_key=False)


class _Releaser:
    """Releases the objects of owned ObjectRefs (dask.persist's futures) when
    they are garbage collected: a finalizer queues the id, a daemon thread
    sends the DELETEs over one connection; at exit the rest are released."""

    def __init__(self, url: str, token: Optional[str]):
        self.url = urllib.parse.urlsplit(url)
        self.token = token
        self.queue: "queue.SimpleQueue[Optional[str]]" = queue.SimpleQueue()
        self.finalizers: set = set()
        self.lock = threading.Lock()
        self.thread: Optional[threading.Thread] = None
        self.conn: Optional[http.client.HTTPConnection] = None
        self.closed = False

    def own(self, ref: ObjectRef) -> None:
        fin = weakref.finalize(ref, self.queue.put, ref.oid)
        fin.atexit = False  # at exit, close() releases what is left, with a deadline
        ref._finalizer = fin
        with self.lock:
            if len(self.finalizers) > 64 and len(self.finalizers) % 64 == 0:
                self.finalizers = {f for f in self.finalizers if f.alive}
            self.finalizers.add(fin)
            if self.thread is None:
                self.thread = threading.Thread(target=self._run, name="weft-release", daemon=True)
                self.thread.start()
                atexit.register(self.close)

    def _run(self) -> None:
        while True:
            oid = self.queue.get()
            if oid is None:
                return
            self._delete(oid)

    def _delete(self, oid: str) -> None:
        path = f"{self.url.path.rstrip('/')}/v1/objects/{urllib.parse.quote(oid, safe='')}"
        headers = {"authorization": f"Bearer {self.token}"} if self.token else {}
        for _ in range(2):  # once more on a fresh connection if the kept-alive one was closed
            try:
                if self.conn is None:
                    cls = http.client.HTTPSConnection if self.url.scheme == "https" else http.client.HTTPConnection
                    self.conn = cls(self.url.netloc, timeout=10)
                self.conn.request("DELETE", path, headers=headers)
                self.conn.getresponse().read()
                return
            except (OSError, http.client.HTTPException):
                if self.conn is not None:
                    self.conn.close()
                self.conn = None

    def close(self, deadline: float = 5.0) -> None:
        """Releases every object still owned (at exit), for at most `deadline` seconds."""
        if self.closed:
            return
        self.closed = True
        for fin in list(self.finalizers):
            fin()  # queues the id of a ref that is still alive
        self.queue.put(None)
        if self.thread is not None:
            self.thread.join(deadline)


class Client:
    """A weft service. `url` defaults to $WEFT_URL, else http://127.0.0.1:8080.

    progress: a progress bar on `progress_stream` (default sys.stderr) for
    computes that take longer than `progress_delay` seconds: True, False, or
    None (the default) for on when that stream is a terminal.

    multiple_returns: a task whose every reader is `(operator.getitem, task, j)`
    (Dask's task shuffle: a split, then n x k getitems) runs as one
    multiple-return task that stores each item read as its own object, and the
    getitems never run (weft.translate, make_splits). On by default; False sends
    the graph's tasks as they are.

    Creating a Client also makes dask.persist and Dask collections' .persist()
    give weft futures when their scheduler is a weft client's get (weft.persist).
    """

    def __init__(
        self,
        url: Optional[str] = None,
        token: Optional[str] = None,
        timeout: float = 3600,
        progress: Optional[bool] = None,
        progress_stream: Optional[IO[str]] = None,
        progress_delay: float = 0.5,
        multiple_returns: bool = True,
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
        self.multiple_returns = bool(multiple_returns)
        self._releaser = _Releaser(self.url, token)
        from .persist import install

        install()

    # -- HTTP

    def _open(self, method: str, path: str, body: Optional[bytes] = None, headers: Optional[dict] = None) -> Any:
        """The response; an error answer raises WeftError, an unreachable service URLError."""
        req = urllib.request.Request(self.url + path, data=body, method=method)
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
                try:
                    payload = _unpack(raw).get("error", {})
                except Exception:
                    payload = {"message": raw.decode("utf-8", "replace")[:500]}
            raise WeftError(payload.get("code", str(err.code)), payload.get("message", str(err)), payload) from None

    def _request(self, method: str, path: str, body: Any = None, *, packed: Optional[bytes] = None, binary: bool = False) -> Any:
        """A JSON request (`body`), or a MessagePack one (`packed`, its bytes);
        with `binary` the answer is asked for in MessagePack and decoded with weft's values."""
        headers = {}
        data = packed
        if packed is not None:
            headers["content-type"] = MSGPACK
        elif body is not None:
            data = json.dumps(body).encode()
            headers["content-type"] = "application/json"
        if binary:
            headers["accept"] = MSGPACK
        try:
            with self._open(method, path, data, headers) as res:
                raw = res.read()
                if binary and (res.headers.get("content-type") or "").startswith(MSGPACK):
                    return _unpack(raw)
                return json.loads(raw)
        except urllib.error.URLError as err:
            raise WeftError("unreachable", f"cannot reach weft at {self.url}: {err.reason}") from None

    def _submit(self, translation: Translation, keys: Any, **extra: Any) -> dict:
        body = {"graph": translation.graph, "keys": _flat_keys(keys, translation.key_name), **extra}
        return self._request("POST", "/v1/graphs", packed=translation.packb(body), binary=True)

    # -- computing

    def get(self, dsk: Any, keys: Any, **kwargs: Any) -> Any:
        """Dask's scheduler signature: use as `scheduler=client.get`. A key not
        in the graph raises KeyError; a task's exception is raised again.
        Inside dask.persist (or with weft_persist=True) it answers with
        ObjectRefs, which own their objects (released when collected)."""
        if kwargs.pop("weft_persist", False) or _PERSISTING.get() is self:
            token = _PERSISTING.set(None)  # a compute inside this one is a compute
            try:
                return _reshape(keys, self.persist(dsk, keys, owned=True))
            finally:
                _PERSISTING.reset(token)
        return self.compute_graph(dsk, keys).result

    def _prepare(self, dsk: Any, keys: Any, callbacks: Sequence[Callback], options: Optional[dict]) -> tuple:
        graph = _graph_of(dsk)
        for k in _iter_keys(keys):
            try:
                found = k in graph
            except TypeError:
                found = False
            if not found:
                raise KeyError(k)
        hooks = list(Callback.active) + [cb for cb in callbacks if cb not in Callback.active]
        for cb in hooks:
            if not isinstance(cb, Callback):
                raise TypeError(f"callbacks must be weft.Callback instances, got {cb!r}")
        known = self._run_presubmit(graph, keys, hooks)
        in_executor = [cb for cb in hooks if _runs_in_executor(cb)]
        translation = _translate.translate(
            graph, known, TaskHooks(in_executor) if in_executor else None, keys=keys, multiple_returns=self.multiple_returns
        )
        if in_executor and translation.python:
            # Hooks run per Dask task, with its inputs, as Ray's do: no task is fused into another.
            options = dict(options or {})
            optimize = dict(options.get("optimize") or {})
            optimize.setdefault("fuse", False)
            options["optimize"] = optimize
        return translation, hooks, options

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
        raises its own exception again (or RemoteTaskError); Ctrl-C cancels the graph."""
        translation, hooks, options = self._prepare(dsk, keys, callbacks, options)
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
        poll = min(60, self.timeout / 2)
        wait = 0 if listeners else (self.progress_delay if bar else min(5, poll))
        gid = None
        try:
            res = self._submit(translation, keys, wait=wait, **extra)
            gid = res["id"]
            # A bar whose delay has passed is drawn at the end even if the graph
            # ended during the submission's wait: its events (replayed) give it the final counts.
            if listeners or (bar and (res["status"] in _PENDING or bar.due())):
                self._follow(gid, listeners, bar, _refs_by_key(keys, res["outputs"], {}))
            checked_pools = False
            while res["status"] in _PENDING:
                if not checked_pools:
                    checked_pools = True
                    self._warn_if_waiting_for_pools(gid)
                res = self._request("GET", f"/v1/graphs/{gid}/result?wait={poll}", binary=True)
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
            raise _task_exception(res.get("error") or {}, res["status"])
        return GraphResult(gid, res["status"], _reshape(keys, res["result"]), _refs(res["outputs"]))

    def _warn_if_waiting_for_pools(self, gid: str) -> None:
        """A graph whose tasks need a pool no live worker serves waits until one does: say so once."""
        try:
            waiting = self.graph_info(gid).get("waiting_for_pools") or []
        except WeftError:
            return
        if waiting:
            names = ", ".join(waiting)
            hint = " (start workers with WEFT_POOLS=default,python)" if "python" in waiting else ""
            warnings.warn(f"weft graph {gid} waits for the pool(s) {names}: no live worker serves them{hint}", RuntimeWarning, stacklevel=3)

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
        askers = [h for h in map(_presubmit_hook, hooks) if h is not None]
        known: dict = {}
        if not askers:
            return known
        seen: set = set()
        stack = list(_iter_keys(keys))
        while stack:
            key = stack.pop()
            if key in seen:
                continue
            seen.add(key)
            node = graph[key]
            deps = _deps_of(node, graph, [])
            if type(node) is tuple and node and callable(node[0]):
                for ask in askers:
                    value = ask(node, key, deps)
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
                    if kind != "postsubmit" and cb.in_executor:
                        continue  # its _pretask and _posttask run in the executor
                    getattr(cb, "_" + kind)(key, event)
            elif kind in ("postsubmit_all", "finish"):
                for cb in listeners:
                    getattr(cb, "_" + kind)(event)

    def persist(self, dsk: Any, keys: Any, *, owned: bool = False, callbacks: Sequence[Callback] = (), options: Optional[dict] = None) -> Any:
        """Dask's persist: starts the graph and returns ObjectRefs at once,
        shaped like `keys` (lists where the keys were lists). With `owned`,
        each object is released when its ref is garbage collected (as
        dask.persist's futures are); otherwise it is kept until
        `client.release(ref)`."""
        translation, _, options = self._prepare(dsk, keys, callbacks, options)
        extra = {"options": options} if options is not None else {}
        res = self._submit(translation, keys, persist=True, **extra)
        refs = _refs(res["outputs"])
        if owned:
            for ref in _iter_keys(refs):
                self._releaser.own(ref)
        return refs

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
        """The value of a stored object, as a Python value (waits up to `wait` seconds for a pending one)."""
        try:
            with self._open("GET", f"/v1/objects/{_quote(ref.oid)}?wait={wait}", headers={"accept": MSGPACK}) as res:
                raw = res.read()
                if res.status == 202:
                    raise WeftError("pending", f"object {ref.oid} is not computed yet (waited {wait}s)", json.loads(raw))
                return _unpack(raw)
        except urllib.error.URLError as err:
            raise WeftError("unreachable", f"cannot reach weft at {self.url}: {err.reason}") from None

    def health(self) -> dict:
        """GET /healthz: {"ok", "redis", "workers", "version", "api_version"}; compare "version"
        with weft.__version__ to tell a service older than this client."""
        return self._request("GET", "/healthz")

    def put(self, value: Any) -> ObjectRef:
        """Stores a value (any Python value: numpy arrays as array chunks, others as plain data or a pickle)."""
        return ObjectRef(self._request("POST", "/v1/objects", packed=bytes(codec.encode(value)))["$oid"])

    def release(self, ref: ObjectRef) -> None:
        """Releases a stored object now (an owned ref's finalizer then does nothing)."""
        if ref._finalizer is not None:
            ref._finalizer.detach()
        self._request("DELETE", f"/v1/objects/{_quote(ref.oid)}")


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
