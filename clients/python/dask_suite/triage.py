"""Failures of the suite through weft, sorted into whose they are.

Categories:
- client: the Python client's translation of a Dask graph or of its result
  (clients/python/weft/__init__.py);
- executor: the Python executor or value codec (weft/executor.py, weft/codec.py);
- node: the service (API, planning, workers, store: src/);
- inherent: what a scheduler in other processes cannot do the way Dask's
  in-process schedulers do (object identity of results, the local
  scheduler's own callbacks and cache, thread counts), also failing on Dask
  distributed;
- untriaged: no rule matches yet.

Each rule matches a failure record (dask_suite.plugin's JSON line) by test id,
exception type and message, and says why. First match wins.
"""
from __future__ import annotations

import re
from typing import Any

# (category, name, test id pattern, exception pattern, message pattern, why)
RULES: list = [
    # ---- the Python client's translation (clients/python/weft/__init__.py, translate.py, keys.py): none left
    # ---- the service (src/)
    (
        "node", "api-oom", r"", r"ConnectionResetError|ConnectionRefusedError|RemoteDisconnected", r"",
        "the API died while the test computed (the stack's memory guard killed it, see the run's stack events): "
        "a request body with thousands of pickles was copied once per pickle while decoding (msgpackr's "
        "nested unpack in the extension decoders); fixed on dask-client (22f5162), not yet in main",
    ),
    (
        "node", "task-order", r"test_groupby_reduction_split\[disk|test_groupby_shift_with_freq\[disk", r"AssertionError", r"",
        "the order of rows after a disk shuffle follows the order the tasks append to the shared partd "
        "(first/last per group; whether a groupby shift's DatetimeIndex comes back with freq Day or None, "
        "test_groupby_shift_with_freq[disk], which fails in about half of the runs, only with the disk shuffle), "
        "which the graph does not constrain: Dask's local schedulers follow dask.order (and distributed uses it "
        "as task priorities), weft runs tasks in its own order (its priorities, -10 to 10, cannot carry "
        "dask.order's ranks); sum, mean, count, min, max and std agree",
    ),
    # ---- the Python executor and value codec (clients/python/weft/executor.py, codec.py): none left
    # ---- what no scheduler in other processes does
    (
        "inherent", "identity", r"", r"AssertionError|ValueError",
        r"^assert .* is |^assert \[<function|truth value of an array with more than one element",
        "the test checks that compute returns the very object it was given (`is`, or list equality that "
        "relies on identity); a result that went through another process is an equal copy (Dask distributed "
        "fails these too)",
    ),
    (
        "inherent", "local-callbacks", r"test_local\.py::test_complex_ordering|test_threaded\.py::test_broken_callback|"
        r"test_local\.py::test_cache_options", r"", r"",
        "the test checks the local scheduler's own machinery (dask.callbacks.Callback hooks, the `cache=` "
        "option, the order the local scheduler runs tasks in), which runs in the client process",
    ),
    (
        "inherent", "warnings", r"", r"Failed", r"DID NOT WARN",
        "the warning is raised inside a task, in the executor's process, and stays there (as on Dask "
        "distributed)",
    ),
    (
        "inherent", "unpicklable", r"", r"TypeError|PicklingError", r"cannot pickle '(_thread\.lock|generator)'",
        "the graph holds an object that cannot leave the process (the threading.Lock da.store uses by "
        "default, a generator); Dask's multiprocessing and distributed schedulers cannot send it either",
    ),
    (
        "inherent", "client-side-effects", r"test_from_array_with_lock|test_set_index_does_not_repeat_work", r"", r"",
        "the test counts calls or lock use through objects in the test's own process, which tasks running "
        "in executors do not touch",
    ),
    (
        "inherent", "client-config", r"test_disk_shuffle_with_unknown_compression", r"", r"",
        "the test sets dask.config in its own process and expects tasks to see it; executors have their own "
        "config (Dask distributed does not ship a `with dask.config.set(...)` to workers either)",
    ),
    (
        "inherent", "cloudpickle", r"test_delayed_with_namedtuple", r"KeyError", r"__module__",
        "cloudpickle cannot load a typing.NamedTuple class defined inside a function (by value); the same "
        "cloudpickle fails on Dask distributed",
    ),
]


def classify(record: dict) -> dict:
    text = record.get("message", "") or ""
    for category, name, id_re, exc_re, msg_re, why in RULES:
        if id_re and not re.search(id_re, record.get("id", "")):
            continue
        if exc_re and not re.search(exc_re, record.get("exception", "") or ""):
            continue
        if msg_re and not re.search(msg_re, text):
            continue
        return {**record, "category": category, "rule": name, "why": why}
    return {**record, "category": "untriaged", "rule": "", "why": ""}


def summarize(failures: list) -> dict:
    out: dict = {}
    for f in failures:
        cat = out.setdefault(f["category"], {})
        cat[f["rule"] or "-"] = cat.get(f["rule"] or "-", 0) + 1
    return out


def render(failures: list) -> str:
    lines = []
    order = ["client", "executor", "node", "inherent", "untriaged"]
    for category in order:
        group = [f for f in failures if f["category"] == category]
        if not group:
            continue
        lines.append(f"\n{category} ({len(group)})")
        rules: dict = {}
        for f in group:
            rules.setdefault(f["rule"], []).append(f)
        for rule, fs in sorted(rules.items(), key=lambda kv: -len(kv[1])):
            if rule:
                lines.append(f"  [{rule}] {len(fs)}: {fs[0]['why']}")
            for f in fs[: 8 if rule else 1000]:
                lines.append(f"    {f['id']}  ({f.get('outcome')}) {_what(f)}")
            if rule and len(fs) > 8:
                lines.append(f"    ... and {len(fs) - 8} more")
    return "\n".join(lines)


def _what(f: dict) -> str:
    parts = [f"{f.get('exception', '')}: {f.get('message', '')[:200]}"]
    if f.get("where"):
        parts.append(f"at {f['where']}")
    if f.get("scheduler_errors"):
        parts.append(f"scheduler raised {f['scheduler_errors'][0][:200]}")
    if not f.get("computes") and f.get("outcome") == "passed":
        parts.append("(passed without a compute through weft)")
    return " ".join(parts)


