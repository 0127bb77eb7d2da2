"""The seed's groupby example, as written for Ray, on weft: a dataframe's groupby mean.

The seed's code with `ray_dask_get` -> `client.get` (and its result kept, to
check it):

    # Set the scheduler to ray_dask_get in your config so you don't have to specify it on
    # each compute call.
    dask.config.set(scheduler=ray_dask_get)

    df = dd.from_pandas(pd.DataFrame(
        np.random.randint(0, 100, size=(1024, 2)),
        columns=["age", "grade"]))
    df.groupby(["age"]).mean().compute()

One more change, for Dask itself: Debian's Dask (2022.12.1) needs from_pandas
to be told `npartitions` (the seed's Dask defaulted it), here 2. The result is
checked against Dask's sync scheduler. groupby_mean_ops.py builds the same
aggregation from weft's TypeScript frame ops.

    python3 examples/python/groupby_mean.py --url http://127.0.0.1:8080
"""
import _common  # noqa: F401  (first: says what to install when Dask, numpy or pandas is missing)
import dask
import dask.dataframe as dd
import numpy as np
import pandas as pd

from _common import check_same, run, url_from_args
from weft import Client


def main():
    url, _ = url_from_args(__doc__.splitlines()[0])
    client = Client(url)

    # ---- the seed's code
    # Set the scheduler to client.get in your config so you don't have to specify it on
    # each compute call.
    dask.config.set(scheduler=client.get)

    df = dd.from_pandas(pd.DataFrame(
        np.random.randint(0, 100, size=(1024, 2)),
        columns=["age", "grade"]), npartitions=2)
    means = df.groupby(["age"]).mean().compute()
    # ----

    print(f"groupby(['age']).mean() of 1024 rows in 2 partitions: {len(means)} groups")
    print(means.head().to_string())
    check_same("groupby mean", means, df.groupby(["age"]).mean().compute(scheduler="sync"))
    print("Dask's sync scheduler agrees on every group")


if __name__ == "__main__":
    run(main)
