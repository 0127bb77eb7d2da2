"""The seed's shuffle example, as written for Ray, on weft: set_index with dataframe_optimize, then head.

The seed's code with `ray.init()` -> `client = Client(url)`,
`ray_dask_get` -> `client.get` and Ray's dataframe_optimize -> weft's (and
the result kept, to check it):

    with dask.config.set(scheduler=ray_dask_get, dataframe_optimize=dataframe_optimize):
        npartitions = 100
        df = dd.from_pandas(pd.DataFrame(
            np.random.randint(0, 100, size=(10000, 2)),
            columns=["age", "grade"]), npartitions=npartitions)
        # We set max_branch to infinity in order to ensure that the task-based shuffle
        # happens in a single stage, which is required in order for our optimization to
        # work.
        df.set_index(
            ["age"], shuffle="tasks", max_branch=float("inf")).head(10, npartitions=-1)

weft.dataframe_optimize makes the shuffle's split tasks multiple-return tasks
(weft's "returns"): each input partition is split once, each part stored as
its own object and read once, and the 100 x 100 getitem tasks never run. The
head is checked row for row against Dask's sync scheduler; --compare also
runs it without the optimizer (the client then makes the same multiple-return
tasks itself, of any task read only through getitems) and without either
(`Client(url, multiple_returns=False)`), and prints the task counts and times.
set_index_head_ops.py builds the shuffle from weft's TypeScript frame ops.

    python3 examples/python/set_index_head.py --url http://127.0.0.1:8080
"""
import _common  # noqa: F401  (first: says what to install when Dask, numpy or pandas is missing)
import time

import dask
import dask.dataframe as dd
import numpy as np
import pandas as pd

from _common import Callback, check_same, run, url_from_args
from weft import Client, dataframe_optimize


class Counts(Callback):
    """Tasks per graph (set_index computes its divisions first, then the shuffle)."""

    def __init__(self):
        self.tasks = []

    def _postsubmit_all(self, event):
        self.tasks.append(event["tasks"])


def main():
    url, args = url_from_args(__doc__.splitlines()[0], lambda p: p.add_argument("--compare", action="store_true", help="also run it without dataframe_optimize"))
    client = Client(url)
    counts = Counts()
    t0 = time.monotonic()

    # ---- the seed's code
    # Set the scheduler to client.get, and set the Dask DataFrame optimizer to weft's
    # optimization function, this time using the config setter as a context manager.
    with dask.config.set(scheduler=client.get, dataframe_optimize=dataframe_optimize), counts:
        npartitions = 100
        df = dd.from_pandas(pd.DataFrame(
            np.random.randint(0, 100, size=(10000, 2)),
            columns=["age", "grade"]), npartitions=npartitions)
        # We set max_branch to infinity in order to ensure that the task-based shuffle
        # happens in a single stage, which is required in order for our optimization to
        # work.
        head = df.set_index(
            ["age"], shuffle="tasks", max_branch=float("inf")).head(10, npartitions=-1)
    # ----

    seconds = time.monotonic() - t0
    print(f"set_index(['age']) of 10000 rows in 100 partitions, head(10): {seconds:.2f}s, tasks per graph {counts.tasks}")
    print(head.to_string())
    want = df.set_index(["age"], shuffle="tasks", max_branch=float("inf")).head(10, npartitions=-1, compute=False).compute(scheduler="sync")
    check_same("head", head, want)
    print("Dask's sync scheduler agrees row for row")
    if args.compare:
        for title, get in (
            ("without dataframe_optimize", client.get),
            ("without dataframe_optimize and multiple returns", Client(url, multiple_returns=False).get),
        ):
            plain = Counts()
            t0 = time.monotonic()
            with dask.config.set(scheduler=get), plain:
                again = df.set_index(["age"], shuffle="tasks", max_branch=float("inf")).head(10, npartitions=-1)
            print(f"{title}: {time.monotonic() - t0:.2f}s, tasks per graph {plain.tasks}")
            check_same(f"head {title}", again, want)


if __name__ == "__main__":
    run(main)
