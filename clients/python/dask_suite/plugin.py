"""pytest plugin: Dask's own tests with every local compute routed to one scheduler.

    DASK_SUITE_MODE=weft WEFT_URL=http://... python3 -m pytest -p dask_suite.plugin <dask test modules>
    DASK_SUITE_MODE=sync python3 -m pytest -p dask_suite.plugin <dask test modules>

`dask.config.set(scheduler=...)` is not enough to run a test through another
scheduler: Dask's `assert_eq` helpers compute with `scheduler="sync"`
explicitly, collections fall back to their class's `__dask_scheduler__`, and
tests call `dask.get`, `dask.local.get_sync` or `dask.threaded.get` directly.
So, when pytest loads this plugin (before it imports any test module), every
way Dask resolves a local scheduler is pointed at one counting function per
scheduler name:

- the entries of `dask.base.named_schedulers` (the dict `get_scheduler` looks
  names up in: "sync", "synchronous", "single-threaded", "threads",
  "threading", "processes", "multiprocessing"), changed in place;
- the module functions `dask.get`, `dask.local.get_sync`, `dask.threaded.get`,
  `dask.multiprocessing.get` (tests import them by name, which now binds the
  routed ones);
- `__dask_scheduler__` of every collection class and the modules'
  `DEFAULT_GET` (Array, DataFrame/Series/Index, Scalar, Bag, Item, Delayed).

In mode `weft` each routed function sends the graph to weft
(`DASK_SUITE_BACKEND=client`: `weft.Client(WEFT_URL).get`; `raw`: the
graph-format sender in dask_suite.rawget); in mode `sync` it calls Dask's own
`get_sync`, so the baseline goes through exactly the same routing. Anything
that still computes locally reaches `dask.local.get_async` some other way (a
`concurrent.futures` executor as the scheduler, say): that is counted as a
*bypass*. A test computed through the routed scheduler when it made at least
one routed compute and no bypass.

Each test's outcome is written as one JSON line to $DASK_SUITE_OUT: node id,
outcome (passed, failed, error, skipped, xfailed, xpassed), routed computes,
bypasses, duration, and for failures the exception type, message and the
innermost frame, plus the errors the routed scheduler itself raised during
the test (a test may catch them). dask_suite.run compares two such files.

The plugin also stands in for Dask's repository conftest.py, which Debian
does not ship: the `--runslow` option (tests marked slow are skipped without
it), the `shuffle_method` fixture (params "disk" and "tasks"), the markers,
and assertion rewriting of dask's testing utilities.
"""
from __future__ import annotations

import json
import os
import signal
import sys
import threading
import time
import traceback
from typing import Any

import pytest

# Before dask's testing helpers are imported, so their asserts explain themselves.
pytest.register_assert_rewrite("dask.array.utils", "dask.dataframe.utils", "dask.bag.utils")

import dask  # noqa: E402
import dask.base  # noqa: E402
import dask.local  # noqa: E402
import dask.multiprocessing  # noqa: E402
import dask.threaded  # noqa: E402

MODE = os.environ.get("DASK_SUITE_MODE", "sync")
BACKEND = os.environ.get("DASK_SUITE_BACKEND", "client")
TEST_TIMEOUT = float(os.environ.get("DASK_SUITE_TEST_TIMEOUT", "300"))
COMPUTE_TIMEOUT = float(os.environ.get("DASK_SUITE_COMPUTE_TIMEOUT", "120"))
if MODE not in ("sync", "weft"):
    raise RuntimeError(f"DASK_SUITE_MODE must be sync or weft, got {MODE!r}")

ORIGINAL = {
    "sync": dask.local.get_sync,
    "threads": dask.threaded.get,
    "processes": dask.multiprocessing.get,
}
ORIGINAL_GET_ASYNC = dask.local.get_async


class _State:
    """Counters of the running test (tests may compute from several threads)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        self.computes = 0
        self.bypass = 0
        self.scheduler_errors: list = []
        self.by_name: dict = {}


state = _State()
_inside = threading.local()  # set while the routed sync scheduler runs Dask's get_async


def _weft_get() -> Any:
    url = os.environ.get("WEFT_URL")
    if not url:
        raise RuntimeError("DASK_SUITE_MODE=weft needs WEFT_URL")
    if BACKEND == "raw":
        from dask_suite.rawget import get_for

        return get_for(url, COMPUTE_TIMEOUT)
    if BACKEND == "client":
        import weft

        return weft.Client(url, timeout=COMPUTE_TIMEOUT, progress=False).get
    raise RuntimeError(f"DASK_SUITE_BACKEND must be client or raw, got {BACKEND!r}")


_backend: Any = None


def _routed(name: str) -> Any:
    def get(dsk: Any, keys: Any, **kwargs: Any) -> Any:
        global _backend
        with state.lock:
            state.computes += 1
            state.by_name[name] = state.by_name.get(name, 0) + 1
        if MODE == "sync":
            _inside.on = True
            try:
                return ORIGINAL["sync"](dsk, keys, **kwargs)
            finally:
                _inside.on = False
        if _backend is None:
            _backend = _weft_get()
        try:
            try:
                return _backend(dsk, keys, **kwargs)
            except ConnectionRefusedError:
                # The API is down: the harness's stack restarts a process that died (and the run
                # says so). The graph was never submitted, so it is sent again once the API is back:
                # the test that brought it down fails, not every test after it.
                if not _wait_for_api():
                    raise
                with state.lock:
                    state.scheduler_errors.append("ConnectionRefusedError: the API was down; sent again when it was back")
                return _backend(dsk, keys, **kwargs)
        except BaseException as e:
            with state.lock:
                state.scheduler_errors.append(f"{type(e).__name__}: {_short(e)}")
            raise

    get.__name__ = f"weft_suite_get_{name}"
    get.__qualname__ = get.__name__
    get.__module__ = __name__
    get.__doc__ = f"dask_suite: Dask's {name!r} scheduler, routed to {MODE}."
    return get


def _wait_for_api(seconds: float = 60) -> bool:
    """Waits for GET /healthz to answer; False when it does not within `seconds`."""
    import urllib.request

    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(os.environ["WEFT_URL"].rstrip("/") + "/healthz", timeout=5) as res:
                if res.status == 200:
                    return True
        except OSError:
            pass
        time.sleep(0.5)
    return False


ROUTED = {name: _routed(name) for name in ORIGINAL}
_BY_ORIGINAL = {id(fn): ROUTED[name] for name, fn in ORIGINAL.items()}


def _get_async(*args: Any, **kwargs: Any) -> Any:
    if not getattr(_inside, "on", False):
        with state.lock:
            state.bypass += 1
    return ORIGINAL_GET_ASYNC(*args, **kwargs)


def _route_everything() -> None:
    names = dask.base.named_schedulers
    for key, fn in list(names.items()):
        routed = _BY_ORIGINAL.get(id(fn))
        if routed is None:
            raise RuntimeError(f"dask.base.named_schedulers[{key!r}] is {fn!r}, which this harness does not know")
        names[key] = routed
    dask.get = ROUTED["sync"]
    dask.local.get_sync = ROUTED["sync"]
    dask.threaded.get = ROUTED["threads"]
    dask.multiprocessing.get = ROUTED["processes"]
    for module in (dask.local, dask.threaded, dask.multiprocessing):
        module.get_async = _get_async

    import importlib

    for modname in ("dask.array.core", "dask.dataframe.core", "dask.bag.core", "dask.delayed"):
        try:
            module = importlib.import_module(modname)
        except ImportError:
            continue
        default = getattr(module, "DEFAULT_GET", None)
        if default is not None and id(default) in _BY_ORIGINAL:
            module.DEFAULT_GET = _BY_ORIGINAL[id(default)]
        for value in list(vars(module).values()):
            if not isinstance(value, type):
                continue
            own = value.__dict__.get("__dask_scheduler__")
            if isinstance(own, staticmethod) and id(own.__func__) in _BY_ORIGINAL:
                value.__dask_scheduler__ = staticmethod(_BY_ORIGINAL[id(own.__func__)])


_route_everything()


# ---------------------------------------------------------------- Dask's conftest.py, which Debian does not ship


def pytest_addoption(parser: Any) -> None:
    parser.addoption("--runslow", action="store_true", help="run slow tests")


def pytest_configure(config: Any) -> None:
    for marker in ("slow: a slow test", "gpu: needs a GPU", "network: needs the network"):
        config.addinivalue_line("markers", marker)
    path = os.environ.get("DASK_SUITE_OUT")
    config._dask_suite_out = open(path, "a", encoding="utf-8") if path else None  # noqa: SIM115


def pytest_unconfigure(config: Any) -> None:
    out = getattr(config, "_dask_suite_out", None)
    if out is not None:
        out.close()


@pytest.fixture(params=["disk", "tasks"])
def shuffle_method(request: Any) -> Any:
    with dask.config.set(shuffle=request.param):
        yield request.param


# ---------------------------------------------------------------- per-test outcomes


_records: dict = {}


def pytest_collection_modifyitems(session: Any, config: Any, items: list) -> None:
    """DASK_SUITE_SAMPLE=N keeps a stable 1-in-N sample of the tests (by a hash of
    the node id, so both modes keep the same ones)."""
    n = int(os.environ.get("DASK_SUITE_SAMPLE", "1"))
    if n > 1:
        import zlib

        keep = [i for i in items if zlib.crc32(_short_id(i.nodeid).encode()) % n == 0]
        deselected = [i for i in items if zlib.crc32(_short_id(i.nodeid).encode()) % n != 0]
        config.hook.pytest_deselected(items=deselected)
        items[:] = keep


def pytest_runtest_setup(item: Any) -> None:
    if "slow" in item.keywords and not item.config.getoption("--runslow"):
        pytest.skip("need --runslow option to run")


@pytest.hookimpl(hookwrapper=True, tryfirst=True)
def pytest_runtest_protocol(item: Any, nextitem: Any) -> Any:
    state.reset()
    _records[item.nodeid] = {"id": _short_id(item.nodeid), "outcome": None, "t0": time.perf_counter()}
    yield
    rec = _records.pop(item.nodeid)
    rec["duration"] = round(time.perf_counter() - rec.pop("t0"), 3)
    rec["computes"] = state.computes
    rec["bypass"] = state.bypass
    if state.by_name:
        rec["by_name"] = state.by_name
    if state.scheduler_errors:
        rec["scheduler_errors"] = state.scheduler_errors[:5]
    out = getattr(item.config, "_dask_suite_out", None)
    if out is not None:
        out.write(json.dumps(rec) + "\n")
        out.flush()


class _TestTimeout(Exception):
    pass


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_call(item: Any) -> Any:
    """A test that runs past DASK_SUITE_TEST_TIMEOUT seconds fails (a hung compute must not stop the run)."""
    on_main = threading.current_thread() is threading.main_thread()
    if on_main and TEST_TIMEOUT > 0:

        def expire(signum: int, frame: Any) -> None:
            raise _TestTimeout(f"the test ran longer than {TEST_TIMEOUT} s (DASK_SUITE_TEST_TIMEOUT)")

        previous = signal.signal(signal.SIGALRM, expire)
        signal.setitimer(signal.ITIMER_REAL, TEST_TIMEOUT)
    try:
        yield
    finally:
        if on_main and TEST_TIMEOUT > 0:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, previous)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: Any, call: Any) -> Any:
    outcome = yield
    report = outcome.get_result()
    rec = _records.get(item.nodeid)
    if rec is None:
        return
    xfail = hasattr(report, "wasxfail")
    if report.when == "call":
        if report.passed:
            rec["outcome"] = "xpassed" if xfail else "passed"
        elif report.skipped:
            rec["outcome"] = "xfailed" if xfail else "skipped"
        else:
            rec["outcome"] = "failed"
    elif report.failed:
        rec["outcome"] = "error" if rec["outcome"] in (None, "passed") else rec["outcome"]
    elif report.skipped and rec["outcome"] is None:
        rec["outcome"] = "xfailed" if xfail else "skipped"
    if report.failed and call.excinfo is not None and "exception" not in rec:
        rec["when"] = report.when
        rec["exception"] = call.excinfo.typename
        rec["message"] = _short(call.excinfo.value)
        rec["where"] = _where(call.excinfo.tb)


def _short(e: BaseException, n: int = 400) -> str:
    try:
        text = str(e)
    except Exception:
        text = "<str() failed>"
    text = text.strip().replace("\n", " | ")
    return text if len(text) <= n else text[: n - 3] + "..."


def _where(tb: Any) -> str:
    """The innermost frame of the failure, and the innermost in a test module."""
    frames = traceback.extract_tb(tb)
    if not frames:
        return ""
    last = frames[-1]
    where = f"{_rel(last.filename)}:{last.lineno} {last.name}"
    tests = [f for f in frames if "/tests/" in f.filename]
    if tests and tests[-1] is not last:
        where += f" (from {_rel(tests[-1].filename)}:{tests[-1].lineno})"
    return where


def _rel(path: str) -> str:
    i = path.find("dist-packages/")
    return path[i + len("dist-packages/") :] if i >= 0 else os.path.basename(path)


def _short_id(nodeid: str) -> str:
    i = nodeid.find("dask/")
    return nodeid[i:] if i >= 0 else nodeid
