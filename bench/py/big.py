"""A Python task returning a 64 MiB numpy array (float64) and another reading
it, through weft: a warm-up run, then --runs timed ones. Fusion is off
(`options.optimize.fuse: false`), or weft would run the two as one task and
the array would never be stored. The graph is sent in the graph format
itself (docs/graph-format.md), so the figure is the executors' and the
store's, whatever the client does.

Per run, from GET /v1/graphs/{id}/tasks (Redis's clock, ms): each task's
time from its start (the start script: inputs read) to its end (the complete
script: result stored). The producer allocates with np.zeros (calloc: no
page is touched before the encoder copies the array into its stored form),
so its time is the array's way out (encode, pipe, Node, Redis SET); the
consumer returns a few bytes, so its time is the array's way in (Redis GET,
Node, pipe, decode). Prints {"bytes", "runs": [{producer_ms, consumer_ms, graph_ms}]}.

    python3 bench/py/big.py --url URL [--runs 5]
"""
from __future__ import annotations

import argparse
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common  # noqa: E402
from common import emit  # noqa: E402

N = 8 * 2**20  # float64: 64 MiB

# The executors cannot import this folder's modules: their functions go by value, as __main__'s do.
common.by_value()


def produce(n):
    import numpy as np

    a = np.zeros(n)
    a[-1] = 7.0
    return a


def consume(a):
    return [int(a.nbytes), str(a.dtype), float(a[-1])]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--url", default=os.environ.get("WEFT_URL"))
    ap.add_argument("--runs", type=int, default=5)
    args = ap.parse_args()

    from dask_suite.rawget import RawClient, Translator
    from weft import codec

    client = RawClient(args.url, 600)
    body = codec.packb({
        "graph": Translator({"array": (produce, N), "read": (consume, "array")}).graph(),
        "keys": "read",
        "wait": 600,
        "options": {"optimize": {"fuse": False}},
    })
    runs = []
    for run in range(args.runs + 1):
        t0 = time.perf_counter()
        status, res = client.request("POST", "/v1/graphs", body)
        graph_ms = (time.perf_counter() - t0) * 1000
        if status != 200 or res.get("status") != "done" or res.get("result") != [N * 8, "float64", 7.0]:
            raise SystemExit(f"the 64 MiB graph gave {status} {str(res)[:500]}")
        _, timings = client.request("GET", f"/v1/graphs/{res['id']}/tasks")
        by_key = {t["key"]: t for t in timings["tasks"]}
        producer, consumer = by_key["array"], by_key["read"]
        if run > 0:
            runs.append({
                "producer_ms": producer["finished"] - producer["started"],
                "consumer_ms": consumer["finished"] - consumer["started"],
                "producer_run_ms": producer["run_ms"],
                "consumer_run_ms": consumer["run_ms"],
                "graph_ms": round(graph_ms, 1),
            })
    emit({"bytes": N * 8, "runs": runs})


if __name__ == "__main__":
    main()
