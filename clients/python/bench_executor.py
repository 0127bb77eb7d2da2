"""How fast weft.executor runs tasks, driven through a pipe as a worker drives it.

    /usr/bin/python3 clients/python/bench_executor.py [--tasks 20000] [--batch 64]

Tiny tasks (`lambda x: x + 1` on an int, `sum` of a list of 100 ints) in run
frames of --batch tasks, one frame at a time as the protocol requires (the next
run is written after the last done is read). The frames are built before the
clock starts, so the figures are the pipe and the executor: tasks/s over wall
time, and over the executor's own CPU time (what one core sustains). Then a
64 MiB float64 array through an identity task, and the codec alone on it.
"""
import argparse
import os
import struct
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import numpy as np  # noqa: E402

from weft import codec  # noqa: E402


class Executor:
    def __init__(self):
        env = {"PATH": os.environ.get("PATH", ""), "PYTHONPATH": os.path.dirname(os.path.abspath(__file__))}
        self.proc = subprocess.Popen([sys.executable, "-m", "weft.executor"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env)
        self.read()  # hello

    def read(self):
        (n,) = struct.unpack(">I", self.proc.stdout.read(4))
        return codec.unpackb(self.proc.stdout.read(n))

    def cpu_seconds(self):
        with open(f"/proc/{self.proc.pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def close(self):
        self.proc.stdin.close()
        self.proc.wait()


def frames(template, inputs, batch):
    """Run frames for one template over a list of inputs, ready to write."""
    out = []
    for b, start in enumerate(range(0, len(inputs), batch)):
        tasks = [{"id": i, "graph": "bench", "key": f"t-{start + i}", "template": template, "inputs": [value], "returns": None}
                 for i, value in enumerate(inputs[start:start + batch])]
        body = codec.packb({"t": "run", "batch": b, "tasks": tasks})
        out.append(struct.pack(">I", len(body)) + body)
    return out


def drive(ex, run_frames):
    """Writes each frame and reads its done frame; returns (wall seconds, executor CPU seconds, failures)."""
    cpu0, t0 = ex.cpu_seconds(), time.perf_counter()
    failures = 0
    for f in run_frames:
        ex.proc.stdin.write(f)
        ex.proc.stdin.flush()
        failures += sum(not r["ok"] for r in ex.read()["results"])
    return time.perf_counter() - t0, ex.cpu_seconds() - cpu0, failures


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tasks", type=int, default=20_000)
    parser.add_argument("--batch", type=int, default=64)
    args = parser.parse_args()
    ex = Executor()
    cases = {
        "x + 1": (codec.packb([6, [0, lambda x: x + 1], [[1, 0]], None, None]), [codec.encode(i) for i in range(args.tasks)]),
        "sum of 100 ints": (codec.packb([6, [0, sum], [[1, 0]], None, None]), [codec.encode(list(range(i, i + 100))) for i in range(args.tasks)]),
    }
    print(f"{sys.executable} {sys.version.split()[0]}, {os.cpu_count()} cores; {args.tasks} tasks per case in batches of {args.batch}")
    drive(ex, frames(*cases["x + 1"], args.batch)[:20])  # warm up: the callable is unpickled once
    for name, (template, inputs) in cases.items():
        wall, cpu, failures = drive(ex, frames(template, inputs, args.batch))
        assert failures == 0, f"{failures} tasks failed"
        print(f"{name:>16}: {args.tasks / wall:9,.0f} tasks/s wall, {args.tasks / cpu:9,.0f} tasks/s of executor CPU ({wall * 1e6 / args.tasks:.1f} us/task)")

    big = np.random.default_rng(0).random(8 * 1024 * 1024)  # 64 MiB
    (big_frame,) = frames(codec.packb([6, [0, np.negative], [[1, 0]], None, None]), [codec.encode(big)], 1)
    wall, cpu, failures = drive(ex, [big_frame])
    assert failures == 0
    print(f"  64 MiB array, np.negative: {wall * 1000:.0f} ms round trip through the pipe ({cpu * 1000:.0f} ms executor CPU)")
    ex.close()
    t0 = time.perf_counter()
    data = codec.encode(big)
    t1 = time.perf_counter()
    codec.decode(data)
    t2 = time.perf_counter()
    print(f"  codec alone on it: encode {(t1 - t0) * 1000:.1f} ms, decode {(t2 - t1) * 1000:.2f} ms")


if __name__ == "__main__":
    main()
