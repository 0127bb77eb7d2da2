"""Which of Dask's own test modules the suite runs, by area (issue 18, item 6).

One module per area, the module whose subject the area is named after, taken
whole (every test Dask ships in it, parametrizations included), so the rate is
not a hand-picked subset: the array reductions, creation and core modules;
the dataframe groupby and shuffle modules; the bag module; dask.delayed; and
the local (sync) and threaded scheduler modules, whose GetFunctionTestMixin is
Dask's scheduler contract. Tests marked slow are skipped, as Dask's own CI
does without --runslow.

Left out on purpose: the rest of dask/array/tests (linalg, fft, overlap,
slicing, ... are more numpy than scheduling), the rest of dask/dataframe/tests
(I/O needs pyarrow and files; the big test_dataframe.py is 1,500 more tests
of the same partition code), dask/tests modules that test Dask's own machinery
without a compute (config, highgraph, tokenize, order, ...), test_multiprocessing
and test_distributed (they test those schedulers), and the cupy/sparse modules
(not installed).
"""
from __future__ import annotations

import os

DASK_DIR = os.environ.get("DASK_SUITE_DASK_DIR", "/usr/lib/python3/dist-packages/dask")

AREAS: dict = {
    "array-reductions": ["array/tests/test_reductions.py"],
    "array-creation": ["array/tests/test_creation.py"],
    "array-core": ["array/tests/test_array_core.py"],
    "dataframe-groupby": ["dataframe/tests/test_groupby.py"],
    "dataframe-shuffle": ["dataframe/tests/test_shuffle.py"],
    "bag": ["bag/tests/test_bag.py"],
    "delayed": ["tests/test_delayed.py"],
    "local": ["tests/test_local.py"],
    "threaded": ["tests/test_threaded.py"],
}

# The CI selection: every area, a stable 1-in-CI_SAMPLE sample of its tests
# (by a hash of the test id, so sync and weft keep the same tests), plus the
# scheduler modules whole (they are small and are the contract).
CI_SAMPLE = 12
CI_WHOLE = ("delayed", "local", "threaded")


def paths(area: str) -> list:
    return [os.path.join(DASK_DIR, p) for p in AREAS[area]]
