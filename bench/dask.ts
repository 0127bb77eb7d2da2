/**
 * `npm run bench -- dask` (issue 18): the four workloads of issue 18's table
 * (bench/py/workloads.py) through weft, Dask distributed (LocalCluster, 2
 * worker processes of one thread) and Dask's threaded scheduler, in the same
 * run. Threaded runs first and writes its results; weft's and distributed's
 * are checked against them. Medians of BENCH_DASK_RUNS (default 3) runs after
 * a warm-up; the target is weft's time at most distributed's.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { median } from './lib.ts';
import { runPython } from './python.ts';

const TITLES: Record<string, string> = {
  array: '(x + x.T).mean(axis=0).sum(), 6000x6000 in 1000x1000 chunks',
  groupby: 'groupby("k").v.mean().sum(), 2M rows, 20 partitions, 1,000 keys',
  set_index: 'set_index("age", shuffle="tasks", max_branch=inf), 200,000 rows, 100 partitions, then a sum',
  delayed: '20,000 tiny dask.delayed tasks and a tree of sums',
};

export async function daskBench(ctx: {
  api: string;
  python: string;
  log: (line: string) => void;
}): Promise<Record<string, unknown>> {
  const runs = String(process.env.BENCH_DASK_RUNS ?? 3);
  const only = process.env.BENCH_DASK_ONLY ?? Object.keys(TITLES).join(',');
  const dir = mkdtempSync(join(tmpdir(), 'weft-dask-bench-'));
  const reference = join(dir, 'threaded.pkl');
  try {
    const common = ['--runs', runs, '--only', only, '--reference', reference];
    const threaded = await runPython(ctx.python, 'workloads.py', ['threaded', ...common]);
    const weft = await runPython(ctx.python, 'workloads.py', ['weft', '--url', ctx.api, ...common]);
    const distributed = await runPython(ctx.python, 'workloads.py', ['distributed', ...common]);
    const out: Record<string, unknown> = { via: weft.how };
    for (const name of only.split(',')) {
      const w = median(weft.workloads[name].seconds);
      const d = median(distributed.workloads[name].seconds);
      const t = median(threaded.workloads[name].seconds);
      out[name] = {
        weftSeconds: +w.toFixed(3),
        distributedSeconds: +d.toFixed(3),
        threadedSeconds: +t.toFixed(3),
        weftOverDistributed: +(w / d).toFixed(2),
        weftOverThreaded: +(w / t).toFixed(2),
        runs: {
          weft: weft.workloads[name].seconds.map((s: number) => +s.toFixed(3)),
          distributed: distributed.workloads[name].seconds.map((s: number) => +s.toFixed(3)),
          threaded: threaded.workloads[name].seconds.map((s: number) => +s.toFixed(3)),
        },
      };
      ctx.log(
        `dask ${name}: ${TITLES[name]}: weft ${w.toFixed(2)} s, Dask distributed ${d.toFixed(2)} s, threaded ${t.toFixed(2)} s: ` +
          `weft/distributed ${(w / d).toFixed(2)} (target <= 1), weft/threaded ${(w / t).toFixed(2)}; medians of ${runs} (checked against threaded)`,
      );
    }
    ctx.log(`dask: weft ran the graphs through ${weft.how}`);
    return out;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
