"""Persist, then sum/min/max with weft ops and Python's sum/min/max in one graph (the hand-built version of persist.py):

    d_arr = da.ones(100)
    d_arr_p = d_arr.persist()      # tasks submitted, futures inlined in the graph
    d_arr_p.sum().compute(); d_arr_p.min().compute(); d_arr_p.max().compute()

client.persist submits the chunk tasks and returns ObjectRefs at once; the
persisted graph has them in place of the tasks, and each reduction's graph
reads the stored chunks instead of making them again (checked below: no
array.ones task runs in the three reductions).

    python3 examples/python/persist_ops.py --url http://127.0.0.1:8080
"""
import _common  # noqa: F401  (first: says what to install when Dask, numpy or pandas is missing)
import numpy as np

from _common import Mismatch, check, client_from_args, ops, run


def main():
    client, args = client_from_args(__doc__.splitlines()[0], lambda p: (
        p.add_argument("--size", type=int, default=100),
        p.add_argument("--chunk", type=int, default=25, help="elements per chunk (default %(default)s)"),
    ))
    if args.size < 1 or args.chunk < 1:
        raise SystemExit("--size and --chunk must be positive")
    sizes = [min(args.chunk, args.size - s) for s in range(0, args.size, args.chunk)]
    keys = [("ones", i) for i in range(len(sizes))]
    dsk = {key: (ops["array.ones"], [n]) for key, n in zip(keys, sizes)}
    print(dsk)

    refs = client.persist(dsk, keys)
    persisted = dict(zip(keys, refs))
    print(persisted)

    # Each chunk reduced where it is stored, then the partial results combined (dask.array's reduction).
    reductions = {"sum": ("array.sum", sum), "min": ("array.min", min), "max": ("array.max", max)}
    results = {}
    for name, (chunk_op, combine) in reductions.items():
        graph = dict(persisted)
        for i, key in enumerate(keys):
            graph[(f"{name}-chunk", i)] = (ops[chunk_op], key)
        graph[f"{name}-agg"] = (combine, [(f"{name}-chunk", i) for i in range(len(keys))])
        res = client.compute_graph(graph, f"{name}-agg")
        ran = {t["key"] for t in client.task_timings(res.id)}
        if ran != set(graph) - set(persisted):
            raise Mismatch(f"{name} ran {sorted(map(str, ran))}, not just its own tasks: the persisted chunks were made again")
        results[name] = res.result
        print(f"{name}: {res.result!r} ({len(ran)} tasks ran, none of them array.ones)")

    x = np.ones(args.size)
    check("sum", results["sum"], float(x.sum()))
    check("min", results["min"], float(x.min()))
    check("max", results["max"], float(x.max()))
    print("numpy agrees: sum, min and max of np.ones")
    for ref in refs:
        client.release(ref)


if __name__ == "__main__":
    run(main)
