"""A timing callback fed by the event stream, over weft ops and Python's sum (the event version of timing_callback.py):

    class MyTimerCallback(RayDaskCallback):
        def _ray_pretask(self, key, object_refs):
            return timer()
        def _ray_posttask(self, key, result, pre_state):
            print(f"Execution time for task {key}: {timer() - pre_state}s")

    with MyTimerCallback():
        z.compute(scheduler=ray_dask_get)

weft's tasks run on its workers, which time each op themselves: a
weft.Callback's _pretask and _posttask hooks are fed by the graph's event
stream, and the posttask event carries the run time (duration_ms). The same
figures come from GET /v1/graphs/{id}/tasks (client.task_timings), checked
against the callback's here, and each task must have run at least as long as
the sleep it was given.

    python3 examples/python/timing_callback_ops.py --url http://127.0.0.1:8080
"""
import _common  # noqa: F401  (first: says what to install when Dask, numpy or pandas is missing)
import dask

from _common import Callback, Mismatch, check, client_from_args, ops, run


class MyTimerCallback(Callback):
    def __init__(self):
        self.workers = {}
        self.seconds = {}
        self.graph = None

    def _pretask(self, key, event):
        self.workers[key] = event["worker"]
        self.graph = event["graph"]

    def _posttask(self, key, event):
        self.seconds[key] = event["duration_ms"] / 1000
        print(f"Execution time for task {key}: {self.seconds[key]:.3f}s (on {self.workers.get(key, '?')})")


def main():
    client, args = client_from_args(__doc__.splitlines()[0], lambda p: (
        p.add_argument("--tasks", type=int, default=4),
        p.add_argument("--step-ms", type=int, default=100, help="task i sleeps (i + 1) * step ms (default %(default)s)"),
    ))
    if args.tasks < 2 or args.step_ms < 0:
        raise SystemExit("--tasks must be at least 2 (one task alone would be fused into z) and --step-ms >= 0")
    sleeps = {("work", i): (i + 1) * args.step_ms for i in range(args.tasks)}
    parts = [dask.delayed(ops.sleep)(ms, i * i, dask_key_name=key) for i, (key, ms) in enumerate(sleeps.items())]
    z = dask.delayed(sum)(parts, dask_key_name="z")

    with MyTimerCallback() as timer:
        total = z.compute(scheduler=client.get)
    print(f"z = {total}")
    check("z", total, sum(i * i for i in range(args.tasks)))

    check("timed tasks", set(timer.seconds), set(sleeps) | {"z"})
    for key, ms in sleeps.items():
        if timer.seconds[key] * 1000 < ms - 2:  # Node's timers may fire a millisecond early
            raise Mismatch(f"{key} took {timer.seconds[key]:.3f}s but sleeps {ms} ms")
    from_api = {t["key"]: t["run_ms"] / 1000 for t in client.task_timings(timer.graph)}
    check("GET /v1/graphs/{id}/tasks", from_api, timer.seconds)
    print(f"every task ran at least its sleep, and GET /v1/graphs/{timer.graph}/tasks reports the same times")


if __name__ == "__main__":
    run(main)
