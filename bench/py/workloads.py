"""The four workloads of issue 18 on one scheduler: a warm-up run of each,
then --runs timed runs of `dask.compute(result, scheduler=get)`. With
--reference FILE, the threaded scheduler writes its results there and the
others check theirs against them (allclose for floats). Prints
{"scheduler", "how", "workloads": {name: {"seconds": [...], "value": ...}}}.

    python3 bench/py/workloads.py weft|threaded|distributed [--url URL] [--runs 3] [--only a,b]
        [--reference FILE]
"""
from __future__ import annotations

import argparse
import math
import os
import pickle
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common  # noqa: E402
from common import FAN_IN, emit, scheduler, timed  # noqa: E402

# The executors cannot import this folder's modules: their functions go by value, as __main__'s do.
common.by_value()


def array_mean():
    """(x + x.T).mean(axis=0).sum() over a 6000 x 6000 random array in 1000 x 1000 chunks."""
    import dask.array as da

    x = da.random.RandomState(0).random_sample((6000, 6000), chunks=(1000, 1000))
    return (x + x.T).mean(axis=0).sum()


_frames: dict = {}


def groupby_mean():
    """from_pandas(2M rows, 20 partitions).groupby("k").v.mean().sum(), 1,000 keys."""
    import dask.dataframe as dd
    import numpy as np
    import pandas as pd

    if "groupby" not in _frames:
        rs = np.random.RandomState(0)
        n = 2_000_000
        _frames["groupby"] = pd.DataFrame({"k": rs.randint(0, 1000, n), "v": rs.random_sample(n)})
    return dd.from_pandas(_frames["groupby"], npartitions=20).groupby("k").v.mean().sum()


def set_index_shuffle():
    """The seed's set_index(["age"], shuffle="tasks", max_branch=inf) over 100 partitions of 200,000 rows, then a sum."""
    import dask.dataframe as dd
    import numpy as np
    import pandas as pd

    if "ages" not in _frames:
        rs = np.random.RandomState(0)
        _frames["ages"] = pd.DataFrame(rs.randint(0, 100, size=(200_000, 2)), columns=["age", "grade"])
    df = dd.from_pandas(_frames["ages"], npartitions=100)
    return df.set_index("age", shuffle="tasks", max_branch=float("inf")).grade.sum()


def tiny_delayed():
    """20,000 dask.delayed calls of a lambda, reduced by a tree of sums (fan-in 100)."""
    import dask

    inc = dask.delayed(lambda v: v + 1, pure=True)
    level = [inc(i) for i in range(20_000)]
    add = dask.delayed(sum, pure=True)
    while len(level) > 1:
        level = [add(level[i : i + FAN_IN]) for i in range(0, len(level), FAN_IN)]
    return level[0]


WORKLOADS = {
    "array": array_mean,
    "groupby": groupby_mean,
    "set_index": set_index_shuffle,
    "delayed": tiny_delayed,
}


def same(a, b) -> bool:
    if isinstance(a, float) or isinstance(b, float) or type(a).__module__ == "numpy":
        return math.isclose(float(a), float(b), rel_tol=1e-9, abs_tol=1e-9)
    return a == b


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("scheduler", choices=["weft", "threaded", "distributed"])
    ap.add_argument("--url")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--only", default=",".join(WORKLOADS))
    ap.add_argument("--reference", help="threaded: write results here; others: check against them")
    args = ap.parse_args()

    import dask

    names = [n for n in args.only.split(",") if n]
    reference = None
    if args.reference and args.scheduler != "threaded":
        with open(args.reference, "rb") as f:
            reference = pickle.load(f)
    get, how, close, settle = scheduler(args.scheduler, args.url)
    out: dict = {}
    try:
        for name in names:
            seconds = []
            value = None
            for run in range(args.runs + 1):  # the first is a warm-up
                collection = WORKLOADS[name]()  # built anew each run, outside the timing
                settle()
                (value,), s = timed(lambda: dask.compute(collection, scheduler=get))
                if run > 0:
                    seconds.append(s)
            if reference is not None and not same(value, reference[name]):
                raise SystemExit(f"{name} on {args.scheduler} gave {value!r}, threaded gave {reference[name]!r}")
            out[name] = {"seconds": seconds, "value": float(value) if not isinstance(value, int) else value}
    finally:
        close()
    if args.reference and args.scheduler == "threaded":
        with open(args.reference, "wb") as f:
            pickle.dump({n: out[n]["value"] for n in out}, f)
    emit({"scheduler": args.scheduler, "how": how, "workloads": out})


if __name__ == "__main__":
    main()
