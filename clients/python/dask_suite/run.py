"""Runs the selection of Dask's tests on Dask's sync scheduler and through weft, and compares.

    WEFT_URL=http://127.0.0.1:8080 python3 -m dask_suite.run [--areas a,b] [--ci] [--backend client|raw]
        [--modes sync,weft] [--out DIR] [--min-rate 0.95] [--json]

(`npm run dask-suite` starts a private weft and runs this.) For each area of
dask_suite.selection and each mode, one pytest process runs the area's
modules with dask_suite.plugin, which routes every local compute to the
mode's scheduler and writes each test's outcome to DIR/<mode>-<area>.jsonl.

The measure (issue 18): of the tests that pass on sync *and compute* there
(at least one routed compute, no bypass), how many pass through weft while
computing through weft. Failures are triaged by dask_suite.triage's rules.
Exit status 0 when the rate is at least --min-rate (default 0, report only), 1
below it, 2 when a run could not be made.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from typing import Any

from dask_suite import selection, triage

HERE = os.path.dirname(os.path.abspath(__file__))
PYTHONPATH = os.path.dirname(HERE)  # clients/python: the weft package and this one


def run_area(area: str, mode: str, out_dir: str, env: dict, sample: int, quiet: bool) -> dict:
    path = os.path.join(out_dir, f"{mode}-{area}.jsonl")
    if os.path.exists(path):
        os.remove(path)
    cmd = [
        sys.executable, "-m", "pytest", "-p", "dask_suite.plugin", "-p", "no:cacheprovider",
        "-q", "--no-header", "-rN", "--tb=no", "-W", "ignore::DeprecationWarning",
        "--rootdir", selection.DASK_DIR, *selection.paths(area),
    ]
    run_env = {
        **os.environ, **env,
        "DASK_SUITE_MODE": mode, "DASK_SUITE_OUT": path, "DASK_SUITE_SAMPLE": str(sample),
        "PYTHONPATH": PYTHONPATH + (os.pathsep + os.environ["PYTHONPATH"] if os.environ.get("PYTHONPATH") else ""),
        "PYTHONDONTWRITEBYTECODE": "1",
    }
    t0 = time.monotonic()
    proc = subprocess.run(cmd, env=run_env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=out_dir)
    seconds = time.monotonic() - t0
    records = []
    if os.path.exists(path):
        with open(path, encoding="utf-8") as f:
            records = [json.loads(line) for line in f if line.strip()]
    tail = proc.stdout.strip().splitlines()[-1:] if proc.stdout.strip() else []
    if not quiet:
        print(f"  {mode:4} {area:18} {len(records):5} tests in {seconds:6.1f} s   {tail[0] if tail else ''}", flush=True)
    # pytest exits 1 when tests fail; anything else (2 interrupted, 3 internal error, 4 usage) is a broken run.
    if proc.returncode not in (0, 1) or not records:
        raise RuntimeError(f"pytest ({mode}, {area}) exited {proc.returncode} with {len(records)} tests:\n{proc.stdout[-3000:]}")
    return {"records": records, "seconds": seconds}


def client_runs_python(url: str) -> bool:
    """Whether weft's Python client sends Python callables (issue 18), or still only weft ops."""
    try:
        import weft

        return weft.Client(url, progress=False).get({"x": (lambda v: v * 3, 4)}, "x") == 12
    except Exception:
        return False


def computed(r: dict) -> bool:
    """The test made at least one routed compute and none around it."""
    return r.get("computes", 0) > 0 and r.get("bypass", 0) == 0


def compare(sync: list, weft: list) -> dict:
    by_id = {r["id"]: r for r in weft}
    base = [r for r in sync if r["outcome"] == "passed" and computed(r)]
    passed, failed = [], []
    for r in base:
        w = by_id.get(r["id"])
        if w is not None and w["outcome"] == "passed" and computed(w):
            passed.append(r["id"])
        else:
            failed.append(w if w is not None else {"id": r["id"], "outcome": "missing"})
    outcomes: dict = {}
    for r in sync:
        key = r["outcome"] if r["outcome"] != "passed" else ("passed, computed" if computed(r) else "passed, no compute" if not r.get("bypass") else "passed, bypassed")
        outcomes[key] = outcomes.get(key, 0) + 1
    sync_ids = {r["id"] for r in base}
    weft_only = [r["id"] for r in weft if r["outcome"] == "passed" and computed(r) and r["id"] not in sync_ids]
    return {
        "baseline": len(base),
        "passed": len(passed),
        "rate": len(passed) / len(base) if base else None,
        "failed": failed,
        "sync_outcomes": outcomes,
        "weft_only_passes": weft_only,
        "weft_computes": sum(r.get("computes", 0) for r in weft),
    }


def main(argv: list | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--areas", default=",".join(selection.AREAS), help="comma-separated areas (default: all)")
    ap.add_argument("--ci", action="store_true", help=f"the CI selection: 1 in {selection.CI_SAMPLE} tests, {', '.join(selection.CI_WHOLE)} whole")
    ap.add_argument("--sample", type=int, default=1, help="keep 1 in N tests (stable by test id)")
    ap.add_argument("--modes", default="sync,weft")
    ap.add_argument(
        "--backend", default=os.environ.get("DASK_SUITE_BACKEND", "auto"), choices=["auto", "client", "raw"],
        help="client: weft.Client(url).get; raw: dask_suite.rawget; auto (default): client when it runs Python callables",
    )
    ap.add_argument("--out", default=os.path.abspath(".weft/dask-suite"))
    ap.add_argument("--min-rate", type=float, default=0.0)
    ap.add_argument("--json", action="store_true", help="print the summary as JSON only")
    args = ap.parse_args(argv)

    areas = [a for a in args.areas.split(",") if a]
    unknown = [a for a in areas if a not in selection.AREAS]
    if unknown:
        ap.error(f"unknown areas {unknown}; known: {', '.join(selection.AREAS)}")
    modes = [m for m in args.modes.split(",") if m]
    if "weft" in modes and not os.environ.get("WEFT_URL"):
        ap.error("mode weft needs WEFT_URL")
    os.makedirs(args.out, exist_ok=True)
    if args.backend == "auto":
        args.backend = "client" if "weft" in modes and client_runs_python(os.environ["WEFT_URL"]) else "raw"
    env = {"DASK_SUITE_BACKEND": args.backend}
    say = (lambda *a, **k: None) if args.json else print
    say(f"Dask's tests ({selection.DASK_DIR}) on sync and through weft ({os.environ.get('WEFT_URL', '-')}, backend {args.backend}); outcomes in {args.out}")

    runs: dict = {}
    try:
        for area in areas:
            sample = 1 if (args.ci and area in selection.CI_WHOLE) else selection.CI_SAMPLE if args.ci else args.sample
            for mode in modes:
                runs[(mode, area)] = run_area(area, mode, args.out, env, sample, args.json)
    except RuntimeError as e:
        print(f"dask_suite: {e}", file=sys.stderr)
        return 2

    summary: dict = {"backend": args.backend, "ci": args.ci, "areas": {}, "dask_dir": selection.DASK_DIR}
    import dask

    summary["dask"] = dask.__version__
    if modes == ["sync", "weft"] or set(modes) == {"sync", "weft"}:
        total_base = total_pass = 0
        failures: list = []
        for area in areas:
            c = compare(runs[("sync", area)]["records"], runs[("weft", area)]["records"])
            total_base += c["baseline"]
            total_pass += c["passed"]
            for f in c["failed"]:
                failures.append({**f, "area": area})
            summary["areas"][area] = {
                "tests": len(runs[("sync", area)]["records"]),
                "baseline": c["baseline"],
                "passed": c["passed"],
                "rate": c["rate"],
                "sync_outcomes": c["sync_outcomes"],
                "weft_only_passes": c["weft_only_passes"],
                "weft_computes": c["weft_computes"],
                "seconds": {m: round(runs[(m, area)]["seconds"], 1) for m in modes},
            }
        summary["baseline"] = total_base
        summary["passed"] = total_pass
        summary["rate"] = total_pass / total_base if total_base else None
        summary["failures"] = [triage.classify(f) for f in failures]
        summary["triage"] = triage.summarize(summary["failures"])
    with open(os.path.join(args.out, "summary.json"), "w", encoding="utf-8") as f:
        json.dump(summary, f, indent=1)

    if args.json:
        print(json.dumps({k: v for k, v in summary.items() if k != "failures"}))
    elif "rate" in summary:
        print()
        print(f"{'area':20} {'tests':>6} {'pass on sync':>13} {'through weft':>13} {'rate':>7}")
        for area, a in summary["areas"].items():
            rate = f"{a['rate'] * 100:.1f}%" if a["rate"] is not None else "-"
            print(f"{area:20} {a['tests']:6} {a['baseline']:13} {a['passed']:13} {rate:>7}")
        rate = summary["rate"]
        print(f"{'all':20} {sum(a['tests'] for a in summary['areas'].values()):6} {summary['baseline']:13} {summary['passed']:13} {(rate or 0) * 100:6.1f}%")
        print("\n(pass on sync: tests that pass on Dask's sync scheduler and compute through it; through weft: those of them that pass computing through weft)")
        if summary["failures"]:
            print("\nFailures by category (dask_suite/triage.py):")
            print(triage.render(summary["failures"]))
    rate = summary.get("rate")
    if rate is not None and rate < args.min_rate:
        print(f"dask_suite: rate {rate:.3f} is below --min-rate {args.min_rate}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
