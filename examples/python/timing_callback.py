"""The seed's timing callback, as written for Ray, on weft: MyTimerCallback times each task where it runs.

The seed's class with its base RayDaskCallback -> weft's Callback, and
`ray_dask_get` -> `client.get`:

    class MyTimerCallback(RayDaskCallback):
       def _ray_pretask(self, key, object_refs):
          # Executed at the start of the Ray task.
          start_time = timer()
          return start_time

       def _ray_posttask(self, key, result, pre_state):
          # Executed at the end of the Ray task.
          execution_time = timer() - pre_state
          print(f"Execution time for task {key}: {execution_time}s")

    with MyTimerCallback():
       # Any .compute() calls within this context will get MyTimerCallback()
       # as a Dask-Ray callback.
       z.compute(scheduler=ray_dask_get)

weft.Callback takes Ray's hook names with Ray's meaning: _ray_pretask and
_ray_posttask run inside the Python executor that runs each task, around it
(the callback is pickled once per graph). So, as in a Ray worker, the print
happens where the task runs: in the executor, whose output goes to the weft
worker's log (the terminal of `npm start`), not here. The seed leaves z
undefined: here it is four tasks sleeping 0.1 to 0.4 s and their sum. Its
value is checked against Dask's sync scheduler. timing_callback_ops.py
times tasks from the event stream instead, in this process.

    python3 examples/python/timing_callback.py --url http://127.0.0.1:8080
"""
import _common  # noqa: F401  (first: says what to install when Dask, numpy or pandas is missing)
import time
from timeit import default_timer as timer

import dask

from _common import check_same, run, url_from_args
from weft import Callback, Client


class MyTimerCallback(Callback):
   def _ray_pretask(self, key, object_refs):
      # Executed at the start of the weft task.
      start_time = timer()
      return start_time

   def _ray_posttask(self, key, result, pre_state):
      # Executed at the end of the weft task.
      execution_time = timer() - pre_state
      print(f"Execution time for task {key}: {execution_time}s")


def work(i):
    time.sleep(0.1 * (i + 1))
    return i * i


def main():
    url, _ = url_from_args(__doc__.splitlines()[0])
    client = Client(url)
    z = dask.delayed(sum)([dask.delayed(work)(i, dask_key_name=("work", i)) for i in range(4)], dask_key_name="z")

    # ---- the seed's code
    with MyTimerCallback():
       # Any .compute() calls within this context will get MyTimerCallback()
       # as a weft callback.
       total = z.compute(scheduler=client.get)
    # ----

    print(f"z = {total}; the execution times are in the weft workers' log")
    check_same("z", total, z.compute(scheduler="sync"))
    print("Dask's sync scheduler agrees")


if __name__ == "__main__":
    run(main)
