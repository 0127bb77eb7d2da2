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
import { Redis } from 'ioredis';
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
  redisUrl: string;
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
    if (out.array) {
      const floor = await redisFloorOfArray(ctx.redisUrl, Number(runs));
      const d = (out.array as { distributedSeconds: number }).distributedSeconds;
      (out.array as Record<string, unknown>).redisFloor = floor;
      ctx.log(
        `dask array: Redis alone taking in its 36 chunks (${floor.storedMB} MB, SET) and handing each out twice (${floor.readMB} MB, GET), ` +
          `from 2 clients as the 2 workers: ${floor.seconds.toFixed(2)} s = ${(floor.seconds / d).toFixed(2)} x distributed's time, a floor for any design that stores every result in Redis`,
      );
    }
    ctx.log(`dask: weft ran the graphs through ${weft.how}`);
    return out;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * What moving the array workload's data through Redis costs by itself: its
 * 36 chunks of 1000 x 1000 float64 SET, then each read twice (x and x.T),
 * from two ioredis connections in parallel, as two workers would. Median of
 * `runs` after a warm-up; every value read back is checked.
 */
async function redisFloorOfArray(
  url: string,
  runs: number,
): Promise<{ seconds: number; storedMB: number; readMB: number }> {
  const chunk = Buffer.alloc(8_000_000, 1);
  const clients = [new Redis(url), new Redis(url)];
  const n = 36;
  const times: number[] = [];
  try {
    for (let run = 0; run <= runs; run++) {
      const t0 = performance.now();
      await Promise.all(
        clients.map(async (redis, c) => {
          for (let i = c; i < n; i += 2) await redis.set(`bench:floor:${i}`, chunk);
        }),
      );
      await Promise.all(
        clients.map(async (redis, c) => {
          for (let i = c; i < 2 * n; i += 2) {
            const back = await redis.getBuffer(`bench:floor:${i % n}`);
            if (!back || back.length !== chunk.length) throw new Error('the Redis floor read back something else');
          }
        }),
      );
      if (run > 0) times.push((performance.now() - t0) / 1000);
      await clients[0].del(...Array.from({ length: n }, (_, i) => `bench:floor:${i}`));
    }
  } finally {
    for (const redis of clients) redis.disconnect();
  }
  return {
    seconds: +median(times).toFixed(3),
    storedMB: (n * chunk.length) / 1e6,
    readMB: (2 * n * chunk.length) / 1e6,
  };
}
