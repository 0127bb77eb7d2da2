"""The seed's caching callback, as written for Ray, on weft: cache results of slow tasks, skip them next time.

The seed's callback with its base RayDaskCallback -> weft's Callback and
`ray_dask_get` -> `client.get`:

    class SimpleCacheCallback(RayDaskCallback):
       def __init__(self, cache_actor_handle, put_threshold=10):
          self.cache_actor = cache_actor_handle
          self.put_threshold = put_threshold

       def _ray_presubmit(self, task, key, deps):
          try:
             return ray.get(self.cache_actor.get.remote(str(key)))
          except KeyError:
             return None

       def _ray_pretask(self, key, object_refs):
          start_time = timer()
          return start_time

       def _ray_posttask(self, key, result, pre_state):
          execution_time = timer() - pre_state
          if execution_time > self.put_threshold:
             self.cache_actor.put.remote(str(key), result)

    cache_actor = SimpleCacheActor.remote()
    cache_callback = SimpleCacheCallback(cache_actor, put_threshold=2)
    with cache_callback:
       z.compute(scheduler=ray_dask_get)

_ray_presubmit runs here before the graph is sent (a value it returns
replaces the task, which is then not sent); _ray_pretask and _ray_posttask
run in the Python executor around each task, as in a Ray worker. weft has no
actors: the seed's SimpleCacheActor (a @ray.remote class reached with
`.remote()` and `ray.get`) becomes a plain class with the same get and put,
keeping its entries as files in a directory that this process and the
executors share, which holds on one machine (on a cluster, put the directory
on shared storage). Those calls are the only other change. The seed leaves z
undefined: here it is tasks sleeping --sleeps ms and their sum; put_threshold
is the seed's 2 s unless --put-threshold says otherwise. The second compute
gets the slow tasks from the cache (checked: they do not run) and both
results are checked against Dask's sync scheduler. caching_callback_ops.py
caches in this process from the event stream, and shows weft's own result
cache (options={"cache": True}).

    python3 examples/python/caching_callback.py --url http://127.0.0.1:8080
"""
import _common  # noqa: F401  (first: says what to install when Dask, numpy or pandas is missing)
import hashlib
import os
import pickle
import tempfile
import time
from timeit import default_timer as timer

import dask

from _common import Callback, Mismatch, check_same, run, url_from_args
from weft import Client


class SimpleCacheActor:
   """The seed's cache actor, as files in a directory shared by this process and the executors."""

   def __init__(self, directory):
      self.directory = directory

   def _path(self, key):
      return os.path.join(self.directory, hashlib.sha256(key.encode()).hexdigest())

   def get(self, key):
      # Raises KeyError if key isn't in cache.
      try:
         with open(self._path(key), "rb") as f:
            return pickle.load(f)
      except FileNotFoundError:
         raise KeyError(key) from None

   def put(self, key, value):
      tmp = f"{self._path(key)}.{os.getpid()}.tmp"
      with open(tmp, "wb") as f:
         pickle.dump(value, f)
      os.replace(tmp, self._path(key))


class SimpleCacheCallback(Callback):
   def __init__(self, cache_actor_handle, put_threshold=10):
      self.cache_actor = cache_actor_handle
      self.put_threshold = put_threshold

   def _ray_presubmit(self, task, key, deps):
      try:
         return self.cache_actor.get(str(key))
      except KeyError:
         return None

   def _ray_pretask(self, key, object_refs):
      start_time = timer()
      return start_time

   def _ray_posttask(self, key, result, pre_state):
      execution_time = timer() - pre_state
      if execution_time > self.put_threshold:
         self.cache_actor.put(str(key), result)


class Ran(Callback):
    """The keys of the tasks that ran (from the graph's events)."""

    def __init__(self):
        self.keys = set()

    def _posttask(self, key, event):
        self.keys.add(key)


def part(i, ms):
    time.sleep(ms / 1000)
    return {"part": i, "slept_ms": ms}


def main():
    url, args = url_from_args(__doc__.splitlines()[0], lambda p: (
        p.add_argument("--sleeps", default="100,2200,100,2300", help="ms each part sleeps (default %(default)s)"),
        p.add_argument("--put-threshold", type=float, default=2, help="seconds a task must run to be cached (default: the seed's %(default)s)"),
    ))
    try:
        sleeps = [int(s) for s in args.sleeps.split(",")]
    except ValueError:
        raise SystemExit(f"--sleeps must be comma-separated milliseconds, got {args.sleeps!r}") from None
    client = Client(url)
    parts = [dask.delayed(part)(i, ms, dask_key_name=("part", i)) for i, ms in enumerate(sleeps)]
    z = dask.delayed(lambda ps: sum(p["part"] * p["slept_ms"] for p in ps))(parts, dask_key_name="z")
    slow = {("part", i) for i, ms in enumerate(sleeps) if ms / 1000 > args.put_threshold}
    want = z.compute(scheduler="sync")

    with tempfile.TemporaryDirectory(prefix="weft-cache-") as directory:
        # ---- the seed's code
        cache_actor = SimpleCacheActor(directory)
        cache_callback = SimpleCacheCallback(cache_actor, put_threshold=args.put_threshold)
        with cache_callback:
           first = z.compute(scheduler=client.get)
        # ----
        cached = sorted(os.listdir(directory))
        with cache_callback, Ran() as ran:
            t0 = time.monotonic()
            second = z.compute(scheduler=client.get)
            seconds = time.monotonic() - t0
        in_cache = {k for k in (("part", i) for i in range(len(sleeps))) if _has(cache_actor, str(k))}

    print(f"first compute: z = {first}; cached {len(cached)} results: {sorted(map(str, in_cache))}")
    print(f"second compute: z = {second} in {seconds:.2f}s, ran {sorted(map(str, ran.keys))}")
    check_same("z (first)", first, want)
    check_same("z (second)", second, want)
    if in_cache != slow:
        raise Mismatch(f"cached {sorted(map(str, in_cache))}, expected the slow tasks {sorted(map(str, slow))}")
    if ran.keys & slow:
        raise Mismatch(f"the cached tasks ran again: {sorted(map(str, ran.keys & slow))}")
    print("Dask's sync scheduler agrees, and the slow tasks came from the cache")


def _has(cache, key):
    try:
        cache.get(key)
        return True
    except KeyError:
        return False


if __name__ == "__main__":
    run(main)
