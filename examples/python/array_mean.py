"""The seed's first example, as written for Ray, on weft: the mean of a Dask array.

The seed's code with `ray.init()` -> `client = Client(url)` and
`ray_dask_get` -> `client.get` (and its result kept, to check it):

    d_arr = da.from_array(np.random.randint(0, 1000, size=(256, 256)))
    # The Dask scheduler submits the underlying task graph to Ray.
    d_arr.mean().compute(scheduler=ray_dask_get)

Every task is Dask's own Python (numpy's mean_chunk, mean_agg), run by weft's
Python executors. The mean is checked against Dask's sync scheduler.
array_mean_ops.py builds the same computation from weft's TypeScript ops.

    python3 examples/python/array_mean.py --url http://127.0.0.1:8080
"""
import _common  # noqa: F401  (first: says what to install when Dask, numpy or pandas is missing)
import dask.array as da
import numpy as np

from _common import check_same, run, url_from_args
from weft import Client


def main():
    url, _ = url_from_args(__doc__.splitlines()[0])

    # ---- the seed's code
    client = Client(url)

    d_arr = da.from_array(np.random.randint(0, 1000, size=(256, 256)))

    # The Dask scheduler submits the underlying task graph to weft.
    mean = d_arr.mean().compute(scheduler=client.get)
    # ----

    print(f"mean of a 256x256 array: {mean!r}")
    check_same("mean", mean, d_arr.mean().compute(scheduler="sync"))
    print("Dask's sync scheduler agrees")


if __name__ == "__main__":
    run(main)
