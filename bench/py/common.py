"""What the Python benchmark scripts share: the schedulers they compare, and
the graph of 20,000 tiny tasks. Run by bench/python.ts and bench/dask.ts with
the project's Python and PYTHONPATH=clients/python; each script prints one
JSON object on its last line of stdout.
"""
from __future__ import annotations

import json
import os
import sys
import time
from typing import Any, Callable

FAN_IN = 100


def by_value() -> None:
    """Functions of this module are pickled by value (the executors and Dask's workers cannot import it)."""
    import cloudpickle

    cloudpickle.register_pickle_by_value(sys.modules[__name__])


def inc(x):
    return x + 1


def add_all(xs):
    """The tree's sums, as a function of this module, so every scheduler runs Python for them."""
    return sum(xs)


def tiny_graph(n: int, fan_in: int = FAN_IN, tag: str = "") -> tuple:
    """`inc` over range(n), then a tree of sums with fan-in `fan_in`: (graph, root key, expected, tasks).
    Keys carry `tag`, so each run computes new keys (Dask distributed answers a key it still holds
    from the run before without running anything)."""
    dsk: dict = {("inc" + tag, i): (inc, i) for i in range(n)}
    level = [("inc" + tag, i) for i in range(n)]
    depth = 0
    while len(level) > 1:
        nxt = []
        for j in range(0, len(level), fan_in):
            key = ("sum" + tag, depth, j // fan_in)
            dsk[key] = (add_all, level[j : j + fan_in])
            nxt.append(key)
        level = nxt
        depth += 1
    return dsk, level[0], n * (n + 1) // 2, len(dsk)


def weft_get(url: str) -> tuple:
    """weft's Dask scheduler: `weft.Client(url).get` when the client runs Python callables,
    else the graph-format sender of the Dask suite (clients/python/dask_suite/rawget.py).
    Returns (get, how)."""
    import weft

    client = weft.Client(url, progress=False)
    try:
        if client.get({"x": (lambda v: v * 3, 4)}, "x") == 12:
            return client.get, "weft.Client.get"
    except Exception:
        pass
    from dask_suite.rawget import get_for

    return get_for(url, 3600), "dask_suite.rawget (the client does not run Python callables yet)"


def distributed_cluster() -> Any:
    """Dask distributed with 2 worker processes of one thread each, as issues 17 and 18 name it."""
    import logging

    from distributed import Client, LocalCluster

    logging.getLogger("distributed").setLevel(logging.ERROR)
    cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None)
    return cluster, Client(cluster)


def scheduler(name: str, url: str | None) -> tuple:
    """(get, how, close, settle) for "weft", "threaded" or "distributed". Call settle() before
    each timed run: Dask distributed's get answers keys its scheduler still holds from the run
    before without running them (releasing them is asynchronous), so there it waits until the
    scheduler holds no task."""
    if name == "weft":
        get, how = weft_get(url or os.environ["WEFT_URL"])
        return get, how, lambda: None, lambda: None
    if name == "threaded":
        import dask.threaded

        return dask.threaded.get, "dask.threaded.get", lambda: None, lambda: None
    if name == "distributed":
        cluster, client = distributed_cluster()

        def close() -> None:
            client.close()
            cluster.close()

        def settle() -> None:
            deadline = time.monotonic() + 30
            while client.run_on_scheduler(lambda dask_scheduler: len(dask_scheduler.tasks)) and time.monotonic() < deadline:
                time.sleep(0.05)

        return client.get, "distributed.Client.get, LocalCluster(n_workers=2, threads_per_worker=1)", close, settle
    raise SystemExit(f"unknown scheduler {name!r}")


def timed(fn: Callable[[], Any]) -> tuple:
    t0 = time.perf_counter()
    value = fn()
    return value, time.perf_counter() - t0


def emit(obj: dict) -> None:
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()
