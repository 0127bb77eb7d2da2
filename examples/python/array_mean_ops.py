"""The mean of a chunked array with weft's TypeScript array ops (the hand-built version of array_mean.py):

    d_arr = da.from_array(np.random.randint(0, 1000, size=(256, 256)))
    d_arr.mean().compute(scheduler=ray_dask_get)

The graph is the one dask.array builds for it, with weft's array ops in place
of numpy's: one literal chunk per block (tuple keys, as dask.array's), a
partial per chunk (array.moments), a tree of exact merges
(array.combine_moments) and array.finalize. client.get is the call
`.compute(scheduler=client.get)` makes.

    python3 examples/python/array_mean_ops.py --url http://127.0.0.1:8080
"""
import _common  # noqa: F401  (first: says what to install when Dask, numpy or pandas is missing)
import numpy as np

from _common import check, client_from_args, ops, run


def main():
    client, args = client_from_args(__doc__.splitlines()[0], lambda p: (
        p.add_argument("--size", type=int, default=256, help="the array is size x size (default %(default)s)"),
        p.add_argument("--chunk", type=int, default=64, help="chunks are chunk x chunk (default %(default)s)"),
        p.add_argument("--seed", type=int, default=0),
    ))
    if args.size < 1 or args.chunk < 1:
        raise SystemExit("--size and --chunk must be positive")
    x = np.random.RandomState(args.seed).randint(0, 1000, size=(args.size, args.size)).astype(np.int32)
    starts = range(0, args.size, args.chunk)
    blocks = [(i, j) for i in range(len(starts)) for j in range(len(starts))]

    dsk = {}
    for i, j in blocks:
        r, c = starts[i], starts[j]
        dsk[("array", i, j)] = np.ascontiguousarray(x[r:r + args.chunk, c:c + args.chunk])  # an int32 chunk (ext 0x41)
        dsk[("mean-chunk", i, j)] = (ops["array.moments"], ("array", i, j))
    # Rows first, then the rows together: a two-level tree, as dask's split_every does.
    for i in range(len(starts)):
        dsk[("mean-combine", i)] = (ops["array.combine_moments"], [("mean-chunk", i, j) for j in range(len(starts))])
    dsk["mean-agg"] = (ops["array.combine_moments"], [("mean-combine", i) for i in range(len(starts))])
    # The key must not be "mean": a string argument that names a key is a reference, in Dask and in weft.
    dsk["array-mean"] = (ops["array.finalize"], "mean-agg", "mean")

    mean = client.get(dsk, "array-mean")
    print(f"mean of a {args.size}x{args.size} array in {len(blocks)} chunks: {mean!r}")
    check("mean", mean, float(x.mean()))
    print(f"numpy agrees: {float(x.mean())!r}")

if __name__ == "__main__":
    run(main)
