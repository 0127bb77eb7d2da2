"""A dataframe's groupby mean with weft's TypeScript frame ops (the hand-built version of groupby_mean.py):

    dask.config.set(scheduler=ray_dask_get)
    df = dd.from_pandas(pd.DataFrame(np.random.randint(0, 100, size=(1024, 2)), columns=["age", "grade"]))
    df.groupby(["age"]).mean().compute()

Built with dask.delayed over weft's frame ops, as dask.dataframe's groupby
aggregation is: a partial per partition (frame.groupby_partial), one exact
combine (frame.groupby_combine), then frame.groupby_finalize; computed with
dask.config.set(scheduler=client.get), as in the seed.

    python3 examples/python/groupby_mean_ops.py --url http://127.0.0.1:8080
"""
import _common  # noqa: F401  (first: says what to install when Dask, numpy or pandas is missing)
import dask
import numpy as np
import pandas as pd

from _common import check, client_from_args, ops, run


def main():
    client, args = client_from_args(__doc__.splitlines()[0], lambda p: (
        p.add_argument("--rows", type=int, default=1024),
        p.add_argument("--npartitions", type=int, default=4),
        p.add_argument("--seed", type=int, default=0),
    ))
    if args.rows < 1 or not 1 <= args.npartitions <= args.rows:
        raise SystemExit("--rows must be positive and --npartitions between 1 and --rows")
    df = pd.DataFrame(np.random.RandomState(args.seed).randint(0, 100, size=(args.rows, 2)), columns=["age", "grade"])

    aggs = {"grade": ["grade", "mean"]}
    bounds = np.linspace(0, args.rows, args.npartitions + 1).astype(int)
    partials = []
    for p in range(args.npartitions):
        part = df.iloc[bounds[p]:bounds[p + 1]]
        frame = dask.delayed(ops["frame.from_columns"])({c: part[c].tolist() for c in part.columns})
        partials.append(dask.delayed(ops["frame.groupby_partial"])(frame, "age", aggs))
    combined = dask.delayed(ops["frame.groupby_combine"])(partials, "age", aggs)
    means = dask.delayed(ops["frame.to_records"])(dask.delayed(ops["frame.groupby_finalize"])(combined, "age", aggs))

    with dask.config.set(scheduler=client.get):
        rows = means.compute()

    print(f"groupby('age').mean() of {args.rows} rows in {args.npartitions} partitions: {len(rows)} groups")
    for row in rows[:5]:
        print(f"  age {row['age']:g}: mean grade {row['grade']!r}")
    want = df.groupby("age").mean()
    check("ages", [r["age"] for r in rows], [float(a) for a in want.index])
    for row, (age, grade) in zip(rows, want["grade"].items()):
        check(f"mean grade at age {age}", row["grade"], float(grade))
    print("pandas agrees on every group")


if __name__ == "__main__":
    run(main)
