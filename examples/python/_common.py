"""What every example shares: its command line, the client, the checks.

Each example prints its result, checks it against Dask's sync scheduler (the
seed's examples) or a plain numpy/pandas/Python computation of the same data
(the *_ops.py ones), and exits 1 on a mismatch (2 when weft cannot be
reached or rejects a request).
"""
import argparse
import importlib.util
import os
import sys
from pathlib import Path

# The examples run Dask, numpy and pandas here and in the executors: a `python3`
# without them (pyenv, a bare venv) gets what to run instead, not a traceback.
_missing = [m for m in ("dask", "numpy", "pandas", "msgpack", "cloudpickle") if importlib.util.find_spec(m) is None]
if _missing:
    sys.stderr.write(
        f"{sys.executable} has no {', '.join(_missing)}, which the examples need. Run them with a Python that has "
        "them: on Debian, apt-get install python3-dask python3-numpy python3-pandas python3-msgpack "
        "python3-cloudpickle, then /usr/bin/python3 examples/python/<example>.py (examples/README.md).\n"
    )
    sys.exit(2)

try:
    import weft
except ImportError:
    # Run from a checkout without `pip install clients/python`.
    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "clients" / "python"))
    import weft

from weft import Callback, Client, WeftError, ops  # noqa: F401  (the examples import them from here)


def url_from_args(description, setup=None):
    """--url (default $WEFT_URL, else http://127.0.0.1:8080), checked, and the example's own flags."""
    client, args = client_from_args(description, setup)
    return client.url, args


def client_from_args(description, setup=None):
    """Parses --url (default $WEFT_URL, else http://127.0.0.1:8080) and the example's own flags."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--url", default=os.environ.get("WEFT_URL", "http://127.0.0.1:8080"), help="the weft API (default: $WEFT_URL, else %(default)s)")
    if setup:
        setup(parser)
    args = parser.parse_args()
    try:
        return Client(args.url), args
    except ValueError as err:
        parser.error(str(err))


class Mismatch(Exception):
    pass


def check_same(what, got, want):
    """The same value as Dask's sync scheduler gives: same type, and equal (floats within 1e-12)."""
    import numpy as np
    import pandas as pd

    if type(got) is not type(want):
        raise Mismatch(f"{what}: weft gave a {type(got).__name__}, the sync scheduler a {type(want).__name__}")
    if isinstance(want, (pd.DataFrame, pd.Series)):
        try:
            (pd.testing.assert_frame_equal if isinstance(want, pd.DataFrame) else pd.testing.assert_series_equal)(got, want, check_exact=False, rtol=1e-12)
        except AssertionError as err:
            raise Mismatch(f"{what}: weft and the sync scheduler differ: {err}") from None
    elif isinstance(want, (np.ndarray, np.generic, float)):
        if np.shape(got) != np.shape(want) or not np.allclose(got, want, rtol=1e-12, atol=0, equal_nan=True):
            raise Mismatch(f"{what}: weft gave {got!r}, the sync scheduler {want!r}")
    elif got != want:
        raise Mismatch(f"{what}: weft gave {got!r}, the sync scheduler {want!r}")


def check(what, got, want, rel=1e-12):
    """Equal, or for numbers within `rel` relative; a Mismatch says what differs."""
    if isinstance(want, float) or isinstance(got, float):
        if abs(got - want) > rel * max(abs(want), 1e-300):
            raise Mismatch(f"{what}: weft gave {got!r}, expected {want!r}")
    elif got != want:
        raise Mismatch(f"{what}: weft gave {got!r}, expected {want!r}")



def run(main):
    """Runs main() with the exit codes the examples promise."""
    try:
        main()
    except Mismatch as err:
        print(f"MISMATCH {err}", file=sys.stderr)
        sys.exit(1)
    except WeftError as err:
        print(f"weft: {err}", file=sys.stderr)
        sys.exit(2)
