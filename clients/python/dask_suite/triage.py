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
    (
        "inherent", "identity", r"", r"AssertionError", r"^assert .* is ",
        "the test checks that compute returns the very object it was given (`is`); a result that went through "
        "another process is an equal copy (Dask distributed fails these too)",
    ),
    (
        "inherent", "local-callbacks", r"test_local\.py::test_complex_ordering|test_threaded\.py::test_broken_callback|"
        r"test_local\.py::test_cache_options", r"", r"",
        "the test checks the local scheduler's own machinery (dask.callbacks.Callback hooks, the `cache=` "
        "option, the order the local scheduler runs tasks in), which runs in the client process",
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


