"""Callbacks that run inside the Python executor, around each task (docs/executors.md, "Hooks").

A weft.Callback with `in_executor = True` has its `_pretask(key, inputs)` and
`_posttask(key, result, pre_state)` run where the task runs, as Ray's
RayDaskCallback runs `_ray_pretask` and `_ray_posttask` in its workers. The
client pickles the callbacks once per graph into a TaskHooks object, stores it
as a data key, and wraps each top-level Python task:

    {"$call": {"$ref": "<the hooks key>"}, "args": ["<the task's key>", <the task>]}

The executor recognizes a call of a TaskHooks object: it does not evaluate its
arguments first, but calls `run(key, inputs, evaluate_the_task)`: each
callback's `_pretask` with the task's key (the Dask key) and its input values,
then the task, then each `_posttask` with the result and what that
callback's `_pretask` returned. Ray's names for them, `_ray_pretask` and
`_ray_posttask`, are taken first (and need no `in_executor`).

Standard library only.
"""
from __future__ import annotations

from typing import Any, Callable, List, Sequence

from .keys import dask_key


def _hook(cb: Any, name: str) -> Any:
    """Ray's name for the hook (_ray_pretask) first, then weft's (_pretask) on an in-executor callback."""
    ray = getattr(cb, f"_ray_{name}", None)
    if ray is not None:
        return ray
    return getattr(cb, f"_{name}", None) if getattr(cb, "in_executor", False) else None


class TaskHooks:
    __slots__ = ("callbacks",)

    def __init__(self, callbacks: Sequence[Any]):
        self.callbacks = list(callbacks)

    def run(self, key: str, inputs: List[Any], call: Callable[[], Any]) -> Any:
        k = dask_key(key)
        states = []
        for cb in self.callbacks:
            pre = _hook(cb, "pretask")
            states.append(pre(k, inputs) if pre is not None else None)
        result = call()
        for cb, state in zip(self.callbacks, states):
            post = _hook(cb, "posttask")
            if post is not None:
                post(k, result, state)
        return result

    def __call__(self, *args: Any) -> Any:
        # Only an executor that knows hooks runs them (weft.executor): anything else calling this is a mistake.
        raise RuntimeError("weft hooks run inside weft's Python executor only (python3 -m weft.executor of this weft version)")

    def __repr__(self) -> str:
        return f"TaskHooks({self.callbacks!r})"

    def __reduce__(self) -> Any:
        return (TaskHooks, (self.callbacks,))
