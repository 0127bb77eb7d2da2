"""The seed's persist example, as written for Ray, on weft: futures inlined in a Dask collection.

The seed's code with `ray.init()` -> `client = Client(url)` and
`ray_dask_get` -> `client.get` (and the results kept, to check them):

    dask.config.set(scheduler=ray_dask_get)
    d_arr = da.ones(100)
    print(dask.base.collections_to_dsk([d_arr]))
    # This submits all underlying Ray tasks to the cluster and returns a Dask array with
    # the Ray futures inlined.
    d_arr_p = d_arr.persist()
    # Notice that the Ray ObjectRef is inlined.
    dask.base.collections_to_dsk([d_arr_p])
    d_arr_p.sum().compute()
    d_arr_p.min().compute()
    d_arr_p.max().compute()

With a weft client's get as the scheduler, persist submits the graph and
returns at once with weft ObjectRefs in place of the tasks; the reductions
read the stored chunks and never run d_arr's tasks again (checked: a
callback counts the tasks that run). The ObjectRefs own their objects: they
are released when d_arr_p is garbage collected. Checked against Dask's sync
scheduler. persist_ops.py does the same with weft ops.

    python3 examples/python/persist.py --url http://127.0.0.1:8080
"""
import _common  # noqa: F401  (first: says what to install when Dask, numpy or pandas is missing)
import dask
import dask.array as da

from _common import Callback, Mismatch, check_same, run, url_from_args
from weft import Client, ObjectRef


class Ran(Callback):
    """The keys of the tasks that ran (from the graphs' events)."""

    def __init__(self):
        self.keys = []

    def _posttask(self, key, event):
        self.keys.append(key)


def main():
    url, _ = url_from_args(__doc__.splitlines()[0])

    # ---- the seed's code
    client = Client(url)

    # Set the scheduler to client.get in your config so you don't have to specify it on
    # each compute call.
    dask.config.set(scheduler=client.get)

    d_arr = da.ones(100)
    print(dask.base.collections_to_dsk([d_arr]))

    # This submits all underlying weft tasks and returns a Dask array with
    # the weft futures inlined.
    d_arr_p = d_arr.persist()

    # Notice that the weft ObjectRef is inlined. The dask.ones() task has been submitted
    # to and is running on weft.
    persisted = dask.base.collections_to_dsk([d_arr_p])
    print(persisted)

    # Future computations on this persisted Dask Array will be fast since we already
    # started computing d_arr_p in the background.
    with Ran() as ran:
        results = {
            "sum": d_arr_p.sum().compute(),
            "min": d_arr_p.min().compute(),
            "max": d_arr_p.max().compute(),
        }
    # ----

    if not all(isinstance(v, ObjectRef) for v in dict(persisted).values()):
        raise Mismatch(f"the persisted graph holds {list(dict(persisted).values())}, not ObjectRefs")
    again = [k for k in ran.keys if isinstance(k, tuple) and k[0] == d_arr.name]
    if again:
        raise Mismatch(f"the reductions ran d_arr's tasks again: {again}")
    for name, value in results.items():
        print(f"{name}: {value!r}")
        check_same(name, value, getattr(d_arr, name)().compute(scheduler="sync"))
    print(f"Dask's sync scheduler agrees; {len(ran.keys)} tasks ran for the three reductions, none of them d_arr's")


if __name__ == "__main__":
    run(main)
