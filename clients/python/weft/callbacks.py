"""Callbacks on a graph's lifecycle, the port of Ray's RayDaskCallback.

    class Timer(Callback):
        def _posttask(self, key, event):
            print(key, event["duration_ms"], "ms")

    with Timer():
        dask.compute(x, scheduler=client.get)

Tasks run on weft workers, not in this process. By default the hooks that Ray
runs inside a task (pretask, posttask) are fed here by the graph's event
stream (docs/events.md): they see the event (worker, attempt, duration_ms,
bytes, ok, error) rather than the task's values, for every task, weft ops
included. A callback with `in_executor = True` has them run where each Python
task runs instead, with Ray's signatures and values:

    class Timer(Callback):
        in_executor = True
        def _pretask(self, key, inputs):            # in the executor, before the task
            return time.perf_counter()
        def _posttask(self, key, result, pre_state): # in the executor, after it
            print(key, time.perf_counter() - pre_state)

`_presubmit` runs in this process before the graph is sent, as Ray's does: a
value it returns replaces the task, which then never runs.
"""
from __future__ import annotations

from typing import Any, Callable, ClassVar, List, Optional

_HOOKS = ("presubmit", "postsubmit", "pretask", "posttask", "postsubmit_all", "finish")


class Callback:
    """Subclass it and define the hooks you need, or pass them as functions:
    `Callback(posttask=lambda key, event: ...)`. Active inside `with`, or
    between `register()` and `unregister()`, for every compute of every Client
    in this process; or for one compute with `client.compute_graph(...,
    callbacks=[cb])`.

    Hooks (keys are the graph's own keys, tuples included):
      _presubmit(task, key, deps): before the graph is sent, for each task the
          requested keys need; `deps` are the keys it reads. A non-None return
          value becomes that key's value and the task is not sent (nor are the
          tasks only it needed). An ObjectRef returned is read on the server.
      _postsubmit(key, event): the task was enqueued (became ready).
      _pretask(key, event): a worker started it (event: worker, attempt).
      _posttask(key, event): it ended (event: duration_ms on the worker, bytes,
          ok, error). For a requested key, event["ref"] is the ObjectRef of
          its value (client.fetch(ref) reads it).
      _postsubmit_all(event): everything ready at the start is enqueued
          (event: graph, tasks, ready; cache_hits/cache_misses with
          options.cache).
      _finish(event): the graph ended (event: status, error).

    With `in_executor = True` (a class attribute, or `Callback(...,
    in_executor=True)`), _pretask and _posttask run inside the Python executor
    that runs each Python task, as Ray's _ray_pretask and _ray_posttask do:
      _pretask(key, inputs): before the task; `inputs` are the values of the
          keys it reads (in the order it first reads them). Its return value
          is given to _posttask.
      _posttask(key, result, pre_state): after the task succeeded, with its
          result and what _pretask returned.
    Ray's names for these hooks are accepted too, with Ray's semantics, so a
    RayDaskCallback subclass ports by changing its base class:
    `_ray_presubmit(task, key, deps)` is `_presubmit`, and `_ray_pretask(key,
    object_refs)` and `_ray_posttask(key, result, pre_state)` run in the
    executor as above (no `in_executor` needed). Ray's other hooks
    (_ray_postsubmit, _ray_postsubmit_all, _ray_finish) are not called: use
    weft's event hooks.
    The callback is pickled (cloudpickle) once per graph and unpickled once
    per executor process: what the hooks change there (attributes, prints,
    which go to the worker's log) stays there. Its other hooks run here as
    usual. weft ops' tasks run no in-executor hooks. Cost: the graph's tasks
    are not fused (each Dask task is its own weft task, so each has its own
    hooks and inputs), and each task reads the pickled callbacks as one more
    input; the hooks' own run time adds to each task's.
    """

    active: ClassVar[List["Callback"]] = []
    in_executor: bool = False

    def __init__(
        self,
        presubmit: Optional[Callable[..., Any]] = None,
        postsubmit: Optional[Callable[..., Any]] = None,
        pretask: Optional[Callable[..., Any]] = None,
        posttask: Optional[Callable[..., Any]] = None,
        postsubmit_all: Optional[Callable[..., Any]] = None,
        finish: Optional[Callable[..., Any]] = None,
        in_executor: Optional[bool] = None,
    ):
        given = dict(presubmit=presubmit, postsubmit=postsubmit, pretask=pretask, posttask=posttask, postsubmit_all=postsubmit_all, finish=finish)
        for name, fn in given.items():
            if fn is not None:
                if not callable(fn):
                    raise TypeError(f"Callback({name}=...) needs a function, got {fn!r}")
                setattr(self, "_" + name, fn)
        if in_executor is not None:
            self.in_executor = bool(in_executor)

    def __enter__(self) -> "Callback":
        self.register()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.unregister()

    def register(self) -> None:
        if self not in Callback.active:
            Callback.active.append(self)

    def unregister(self) -> None:
        if self in Callback.active:
            Callback.active.remove(self)

    def _presubmit(self, task: Any, key: Any, deps: list) -> Any:
        return None

    def _postsubmit(self, key: Any, event: dict) -> None:
        pass

    def _pretask(self, key: Any, event: Any) -> Any:
        return None

    def _posttask(self, key: Any, event: Any, *pre_state: Any) -> None:
        pass

    def _postsubmit_all(self, event: dict) -> None:
        pass

    def _finish(self, event: dict) -> None:
        pass
