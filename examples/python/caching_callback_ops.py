"""A caching callback in this process over weft ops and Python's sum, and weft's own result cache (the event version of caching_callback.py).

The seed caches a task's result in an actor when the task ran longer than a
threshold, and its ray_presubmit hook answers later submissions of that task
import _common  # noqa: F401  (first: says what to install when Dask, numpy or pandas is missing)
from the cache, so the task is not created:

    class SimpleCacheCallback(RayDaskCallback):
        def _ray_presubmit(self, task, key, deps):
            try: return ray.get(self.cache_actor.get.remote(str(key)))
            except KeyError: return None
        def _ray_posttask(self, key, result, pre_state):
            if timer() - pre_state > self.put_threshold:
                self.cache_actor.put.remote(str(key), result)

1. The same callback on weft: _presubmit runs in this process before the
   graph is sent (a value replaces the task), _posttask is fed by the event
   stream with the worker's run time. Tasks run on weft's workers, so the value
   is read back through event["ref"], which requested keys have: the slow
   tasks here are requested, as with dask.compute(*parts).
2. weft's result cache, options={"cache": True}: every deterministic task's
   result is stored by fingerprint (its op, arguments and inputs) on the
   server, shared by every client, and found again at submission; the
   postsubmit_all event counts hits and misses.

    python3 examples/python/caching_callback_ops.py --url http://127.0.0.1:8080
"""
import random
import time

from _common import Callback, Mismatch, check, client_from_args, ops, run


class SimpleCache:
    """The seed's SimpleCacheActor; a dict in this process is enough for one client."""

    def __init__(self):
        self.cache = {}

    def get(self, key):
        # Raises KeyError if key isn't in cache.
        return self.cache[key]

    def put(self, key, value):
        self.cache[key] = value


class SimpleCacheCallback(Callback):
    def __init__(self, client, cache, put_threshold=10):
        self.client = client
        self.cache = cache
        self.put_threshold = put_threshold
        self.ran = []

    def _presubmit(self, task, key, deps):
        try:
            return self.cache.get(str(key))
        except KeyError:
            return None

    def _pretask(self, key, event):
        self.ran.append(key)

    def _posttask(self, key, event):
        if event["duration_ms"] / 1000 > self.put_threshold and "ref" in event:
            self.cache.put(str(key), self.client.fetch(event["ref"]))


class CacheStats(Callback):
    def __init__(self):
        self.counts = None
        self.ran = []

    def _postsubmit_all(self, event):
        self.counts = (event.get("cache_hits", 0), event.get("cache_misses", 0))

    def _posttask(self, key, event):
        self.ran.append(key)


def slow_graph(sleeps, salt):
    """("part", i) sleeps sleeps[i] ms and gives salt + 10 i; "total" adds them up."""
    parts = [("part", i) for i in range(len(sleeps))]
    dsk = {key: (ops.sleep, ms, salt + 10 * i) for i, (key, ms) in enumerate(zip(parts, sleeps))}
    dsk["total"] = (sum, parts)
    return dsk, ["total", parts]


def timed(fn):
    t0 = time.monotonic()
    value = fn()
    return value, time.monotonic() - t0


def main():
    client, args = client_from_args(__doc__.splitlines()[0], lambda p: (
        p.add_argument("--sleeps", default="50,600,100,500", help="ms each part sleeps (default %(default)s)"),
        p.add_argument("--put-threshold", type=float, default=0.3, help="seconds a task must run to be cached (default %(default)s)"),
    ))
    try:
        sleeps = [int(s) for s in args.sleeps.split(",")]
    except ValueError:
        raise SystemExit(f"--sleeps must be comma-separated milliseconds, got {args.sleeps!r}") from None
    # A salt no earlier run used: weft's cache is on the server and outlives this
    # process, so without it a second run of this example would start warm.
    salt = random.randrange(1, 2**31)
    dsk, keys = slow_graph(sleeps, salt)
    want = (sum(salt + 10 * i for i in range(len(sleeps))), tuple(salt + 10 * i for i in range(len(sleeps))))
    slow = {("part", i) for i, ms in enumerate(sleeps) if ms / 1000 > args.put_threshold}
    fast = {("part", i) for i in range(len(sleeps))} - slow

    print(f"1. SimpleCacheCallback, put_threshold={args.put_threshold}s")
    cache_callback = SimpleCacheCallback(client, SimpleCache(), put_threshold=args.put_threshold)
    with cache_callback:
        first, t_first = timed(lambda: client.get(dsk, keys))
    ran_first, cache_callback.ran = cache_callback.ran, []
    with cache_callback:
        second, t_second = timed(lambda: client.get(dsk, keys))
    print(f"   cold: {t_first:.2f}s, ran {len(ran_first)} tasks; cached: {sorted(cache_callback.cache.cache)}")
    print(f"   warm: {t_second:.2f}s, ran {sorted(map(str, cache_callback.ran))}")
    check("cold result", first, want)
    check("warm result", second, want)
    check("cached keys", set(cache_callback.cache.cache), {str(k) for k in slow})
    check("tasks run when warm", set(cache_callback.ran), fast | {"total"})

    print("2. weft's result cache, options={'cache': True}")
    runs = []
    for _ in range(2):
        stats = CacheStats()
        res, seconds = timed(lambda: client.compute_graph(dsk, keys, options={"cache": True}, callbacks=[stats]))
        runs.append((res.result, seconds, stats))
        hits, misses = stats.counts
        print(f"   {seconds:.2f}s: {hits} cache hits, {misses} misses, {len(stats.ran)} tasks ran")
    (cold, _, cold_stats), (warm, _, warm_stats) = runs
    check("cold result", cold, want)
    check("warm result", warm, want)
    check("cold run's cache hits", cold_stats.counts[0], 0)
    if warm_stats.ran or warm_stats.counts[0] == 0:
        raise Mismatch(f"the warm run ran {warm_stats.ran} with {warm_stats.counts[0]} cache hits; expected every result from the cache")
    print(f"total = {want[0]} every time; the warm runs skipped what the caches held")


if __name__ == "__main__":
    run(main)
