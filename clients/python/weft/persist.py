"""dask.persist with weft futures, as Dask-on-Ray's persist.

Dask's persist computes a collection's keys with its scheduler and rebuilds
the collection from the values, one per key. With a weft client's get as the
scheduler (`scheduler=client.get`, or dask.config.set) weft makes persist
answer with futures instead: the graph is submitted with `persist: true`
(docs/graph-format.md, Futures), get returns one ObjectRef per key at once,
and the collection's graph holds the ObjectRefs in place of its tasks
({"$oid": id} when sent again). Later computations read the stored objects
and never run those tasks again. Each ref owns its object: the object is
released when the collection (every copy of the ref) is garbage collected,
or at once by client.release(ref); what is left is released at exit.

How: `install()` (run by weft.Client()) wraps dask.base.persist, which both
dask.persist and every collection's .persist() call: when the scheduler it
resolves (the `scheduler` argument, else dask.config's) is a weft client's
get, that client knows it is persisting while Dask's persist runs (a context
variable). Nothing is passed to Dask's optimizations, and other schedulers
run as before. A
`from dask import persist` done before the first weft.Client() keeps Dask's
own persist (which then computes values, as with any scheduler).
"""
from __future__ import annotations

import functools
import importlib.util
from typing import Any

_installed = False


def install() -> bool:
    """Wraps dask.persist once per process; False when Dask is not installed."""
    global _installed
    if _installed:
        return True
    if importlib.util.find_spec("dask") is None:
        return False
    import dask
    import dask.base

    original = dask.base.persist
    if getattr(original, "__weft_persist__", False):
        _installed = True
        return True

    @functools.wraps(original)
    def persist(*args: Any, **kwargs: Any) -> Any:
        from . import _PERSISTING, Client

        try:
            schedule = dask.base.get_scheduler(scheduler=kwargs.get("scheduler"))
        except Exception:
            schedule = None  # Dask's persist says what is wrong with the scheduler
        client = getattr(schedule, "__self__", None)
        if not isinstance(client, Client) or getattr(schedule, "__func__", None) is not Client.get:
            return original(*args, **kwargs)
        token = _PERSISTING.set(client)
        try:
            return original(*args, **kwargs)
        finally:
            _PERSISTING.reset(token)

    persist.__weft_persist__ = True  # type: ignore[attr-defined]
    dask.base.persist = persist
    if dask.persist is original:
        dask.persist = persist
    _installed = True
    return True
