"""20,000 tiny Python tasks (`inc` over a range, a tree of sums with fan-in
100) on one scheduler: a warm-up run, then --runs timed runs of `get(graph,
root)`, each result checked. Prints {"scheduler", "how", "tasks", "seconds": [...]}.

    python3 bench/py/tiny.py weft|threaded|distributed [--url URL] [--n 20000] [--runs 5]
"""
from __future__ import annotations

import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common  # noqa: E402
from common import emit, scheduler, tiny_graph, timed  # noqa: E402

# The executors cannot import this folder's modules: their functions go by value, as __main__'s do.
common.by_value()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("scheduler", choices=["weft", "threaded", "distributed"])
    ap.add_argument("--url")
    ap.add_argument("--n", type=int, default=20_000)
    ap.add_argument("--runs", type=int, default=5)
    args = ap.parse_args()
    get, how, close, settle = scheduler(args.scheduler, args.url)
    try:
        seconds = []
        for run in range(args.runs + 1):  # the first is a warm-up: a service runs warm
            dsk, root, expected, tasks = tiny_graph(args.n, tag=f"-{run}")
            settle()
            value, s = timed(lambda: get(dsk, root))
            if value != expected:
                raise SystemExit(f"{args.scheduler} gave {value!r}, expected {expected}")
            if run > 0:
                seconds.append(s)
    finally:
        close()
    emit({"scheduler": args.scheduler, "how": how, "tasks": tasks, "seconds": seconds})


if __name__ == "__main__":
    main()
