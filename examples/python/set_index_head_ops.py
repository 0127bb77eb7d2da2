"""set_index then head with weft's TypeScript frame ops (the hand-built version of set_index_head.py):

    df = dd.from_pandas(pd.DataFrame(np.random.randint(0, 100, size=(10000, 2)),
                                     columns=["age", "grade"]), npartitions=100)
    df.set_index(["age"], shuffle="tasks", max_branch=float("inf")).head(10, npartitions=-1)

The graph is Dask's task-based shuffle in one stage, as set_index builds it:
quantiles per partition, split points, per input partition a split into one
part per output (frame.shuffle_group), n x n getitem tasks picking the parts,
per output a concat and a sort. Ray needs its dataframe_optimize for
multiple-return splits; weft rewrites this pattern itself at submission
(docs/graph-format.md), so the n x n getitems never run (the task count
printed shows it).

    python3 examples/python/set_index_head_ops.py --url http://127.0.0.1:8080
"""
import _common  # noqa: F401  (first: says what to install when Dask, numpy or pandas is missing)
import numpy as np
import pandas as pd

from _common import check, client_from_args, ops, run


def main():
    client, args = client_from_args(__doc__.splitlines()[0], lambda p: (
        p.add_argument("--rows", type=int, default=10000),
        p.add_argument("--npartitions", type=int, default=100),
        p.add_argument("--head", type=int, default=10),
        p.add_argument("--seed", type=int, default=0),
    ))
    n = args.npartitions
    if args.rows < 1 or not 1 <= n <= args.rows or args.head < 0:
        raise SystemExit("--rows must be positive, --npartitions between 1 and --rows, --head >= 0")
    df = pd.DataFrame(np.random.RandomState(args.seed).randint(0, 100, size=(args.rows, 2)), columns=["age", "grade"])
    bounds = np.linspace(0, args.rows, n + 1).astype(int)
    q = [(i + 0.5) / 20 for i in range(20)]

    dsk = {}
    for p in range(n):
        part = df.iloc[bounds[p]:bounds[p + 1]]
        dsk[("from-pandas", p)] = (ops["frame.from_columns"], {c: part[c].tolist() for c in part.columns})
        dsk[("quantiles", p)] = (ops["frame.quantiles"], ("from-pandas", p), "age", q)
        dsk[("len", p)] = (ops["frame.len"], ("from-pandas", p))
    dsk["divisions"] = (ops["frame.boundaries"], [("quantiles", p) for p in range(n)], n, [("len", p) for p in range(n)])
    for p in range(n):
        dsk[("shuffle-split", p)] = (ops["frame.shuffle_group"], ("from-pandas", p), "age", n, "divisions")
        for j in range(n):
            dsk[("shuffle-part", p, j)] = (ops.getitem, ("shuffle-split", p), j)
    for j in range(n):
        merged = (ops["frame.concat"], [("shuffle-part", p, j) for p in range(n)])
        dsk[("set-index", j)] = (ops["frame.sort_values"], merged, "age")
        dsk[("head-part", j)] = (ops["frame.head"], ("set-index", j), args.head)
    # head(10, npartitions=-1): the first rows over all partitions in order.
    dsk["head"] = (ops["frame.to_records"], (ops["frame.head"], (ops["frame.concat"], [("head-part", j) for j in range(n)]), args.head))

    res = client.compute_graph(dsk, "head")
    ran = client.graph_info(res.id)["progress"]["total"]
    tasks = sum(1 for v in dsk.values() if isinstance(v, tuple))
    print(f"set_index('age') of {args.rows} rows in {n} partitions, head({args.head}): {ran} tasks ran of the {tasks} in Dask's graph")
    for row in res.result:
        print(f"  age {row['age']:g}  grade {row['grade']:g}")

    # Rows of equal age keep their order in the shuffle (parts keep row order,
    # concat goes by input partition, the sort is stable), so a stable sort
    # gives the same rows, not just the same ages.
    want = df.sort_values("age", kind="stable").head(args.head)
    check("head", [(r["age"], r["grade"]) for r in res.result], [(float(a), float(g)) for a, g in zip(want["age"], want["grade"])])
    print("pandas agrees: df.sort_values('age', kind='stable').head()")


if __name__ == "__main__":
    run(main)
