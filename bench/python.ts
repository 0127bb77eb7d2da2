/**
 * `npm run bench -- python` (issue 17): Python tasks through weft's executors,
 * next to the baselines measured in the same run.
 *
 * - 20,000 tiny Python tasks (`inc` over a range, a tree of sums with fan-in
 *   100: 20,203 tasks) through this run's workers (pools default,python),
 *   against Dask distributed (LocalCluster, 2 worker processes of one thread)
 *   and Dask's threaded scheduler, on the same graph (bench/py/tiny.py);
 * - the same graph shape with TypeScript ops (`inc`, `sum`), for the cost of
 *   a Python task next to a TypeScript one;
 * - a Python task returning a 64 MiB numpy array and another reading it
 *   (bench/py/big.py), against raw Redis SET and GET of 64 MiB values on the
 *   run's Redis (ioredis, as the workers use it), measured before and after
 *   weft's runs, the faster of each kept.
 *
 * Every result is checked (the scripts exit non-zero on a wrong answer); the
 * figures are medians, the ratios of medians.
 */
import { spawn } from 'node:child_process';
import { Redis } from 'ioredis';
import { median } from './lib.ts';
import { ROOT } from './stack.ts';

export interface PythonContext {
  api: string;
  redisUrl: string;
  python: string;
  log: (line: string) => void;
  /** The TypeScript wide graph (bench/run.ts). */
  wideGraph: (
    n: number,
    fanIn: number,
  ) => { graph: Record<string, unknown>; key: string; expected: number; tasks: number };
}

/** Runs a script of bench/py with the project's Python; resolves with the JSON object it prints last. */
export function runPython(
  python: string,
  script: string,
  args: string[],
  env: Record<string, string> = {},
): Promise<any> {
  return new Promise((resolve, reject) => {
    const child = spawn(python, [`bench/py/${script}`, ...args], {
      cwd: ROOT,
      env: { ...process.env, PYTHONPATH: `${ROOT}clients/python`, PYTHONDONTWRITEBYTECODE: '1', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (err += d));
    child.once('error', reject);
    child.once('exit', (code) => {
      const last = out.trim().split('\n').at(-1) ?? '';
      if (code !== 0 || !last.startsWith('{'))
        return reject(
          new Error(`bench/py/${script} ${args.join(' ')} exited ${code}:\n${out.slice(-2000)}\n${err.slice(-3000)}`),
        );
      resolve(JSON.parse(last));
    });
  });
}

const round = (x: number, digits = 2) => +x.toFixed(digits);

async function rawRedis64(redisUrl: string, runs: number): Promise<{ setMs: number; getMs: number; bytes: number }> {
  const redis = new Redis(redisUrl);
  const bytes = 64 * 2 ** 20;
  const value = Buffer.alloc(bytes, 7);
  const sets: number[] = [];
  const gets: number[] = [];
  try {
    for (let run = 0; run <= runs; run++) {
      let t0 = performance.now();
      await redis.set('bench:raw64', value);
      const set = performance.now() - t0;
      t0 = performance.now();
      const back = await redis.getBuffer('bench:raw64');
      const get = performance.now() - t0;
      if (!back || back.length !== bytes || back[bytes - 1] !== 7)
        throw new Error('raw GET of 64 MiB gave something else');
      if (run > 0) {
        sets.push(set);
        gets.push(get);
      }
    }
    await redis.del('bench:raw64');
  } finally {
    redis.disconnect();
  }
  return { setMs: median(sets), getMs: median(gets), bytes };
}

export async function pythonBench(ctx: PythonContext): Promise<Record<string, unknown>> {
  const { api, log, python } = ctx;
  const runs = Number(process.env.BENCH_PYTHON_RUNS ?? 5);

  // TypeScript tasks, same shape: the cost of a Python task next to a TypeScript one.
  const wide = ctx.wideGraph(20_000, 100);
  const body = JSON.stringify({ graph: wide.graph, keys: wide.key, wait: 600 });
  const tsSeconds: number[] = [];
  for (let run = 0; run <= runs; run++) {
    const t0 = performance.now();
    const res = (await (
      await fetch(`${api}/v1/graphs`, { method: 'POST', headers: { 'content-type': 'application/json' }, body })
    ).json()) as { status: string; result: unknown };
    const s = (performance.now() - t0) / 1000;
    if (res.status !== 'done' || res.result !== wide.expected)
      throw new Error(`the TypeScript wide graph gave ${JSON.stringify(res).slice(0, 300)}`);
    if (run > 0) tsSeconds.push(s);
  }

  const weft = await runPython(python, 'tiny.py', ['weft', '--url', api, '--runs', String(runs)]);
  const threaded = await runPython(python, 'tiny.py', ['threaded', '--runs', String(runs)]);
  const distributed = await runPython(python, 'tiny.py', ['distributed', '--runs', String(Math.min(runs, 3))]);
  const tasks = weft.tasks as number;
  const rate = (r: { seconds: number[] }) => tasks / median(r.seconds);
  const weftRate = rate(weft);
  const tsRate = wide.tasks / median(tsSeconds);
  const tiny = {
    tasks,
    via: weft.how,
    weftTasksPerSec: Math.round(weftRate),
    threadedTasksPerSec: Math.round(rate(threaded)),
    distributedTasksPerSec: Math.round(rate(distributed)),
    vsDistributed: round(weftRate / rate(distributed), 1),
    vsThreaded: round(weftRate / rate(threaded)),
    runs: {
      weft: weft.seconds.map((s: number) => round(s, 3)),
      threaded: threaded.seconds.map((s: number) => round(s, 3)),
      distributed: distributed.seconds.map((s: number) => round(s, 3)),
    },
  };
  log(
    `python tiny: ${tasks} Python tasks (20,000 inc + sum tree, fan-in 100) through weft (${weft.how}): median of ${runs} ${tiny.weftTasksPerSec} tasks/s = ` +
      `${tiny.vsDistributed}x Dask distributed (${tiny.distributedTasksPerSec} tasks/s, 2 worker processes) and ${tiny.vsThreaded}x Dask threaded (${tiny.threadedTasksPerSec} tasks/s) (results checked)`,
  );
  const perTaskPy = 1e6 / weftRate;
  const perTaskTs = 1e6 / tsRate;
  const languages = {
    typescriptTasksPerSec: Math.round(tsRate),
    pythonTasksPerSec: Math.round(weftRate),
    usPerTypescriptTask: round(perTaskTs, 1),
    usPerPythonTask: round(perTaskPy, 1),
    pythonExtraUsPerTask: round(perTaskPy - perTaskTs, 1),
    runsTypescript: tsSeconds.map((s) => round(s, 3)),
  };
  log(
    `python vs typescript: the same graph shape with TypeScript ops ${languages.typescriptTasksPerSec} tasks/s (${languages.usPerTypescriptTask} µs a task), ` +
      `with Python callables ${languages.pythonTasksPerSec} tasks/s (${languages.usPerPythonTask} µs): a Python task costs ${languages.pythonExtraUsPerTask} µs more`,
  );

  // Raw Redis before and after weft's runs, the faster of each kept (the machine is shared: its speed moves).
  const rawBefore = await rawRedis64(ctx.redisUrl, runs);
  const big = await runPython(python, 'big.py', ['--url', api, '--runs', String(runs)]);
  const rawAfter = await rawRedis64(ctx.redisUrl, runs);
  const raw = {
    bytes: rawBefore.bytes,
    setMs: Math.min(rawBefore.setMs, rawAfter.setMs),
    getMs: Math.min(rawBefore.getMs, rawAfter.getMs),
  };
  const mbps = (bytes: number, ms: number) => bytes / 1e6 / (ms / 1000);
  const producerMs = median(big.runs.map((r: { producer_ms: number }) => r.producer_ms));
  const consumerMs = median(big.runs.map((r: { consumer_ms: number }) => r.consumer_ms));
  const array64 = {
    bytes: big.bytes,
    producerMs,
    consumerMs,
    producerMBps: Math.round(mbps(big.bytes, producerMs)),
    consumerMBps: Math.round(mbps(big.bytes, consumerMs)),
    rawSetMs: round(raw.setMs, 1),
    rawGetMs: round(raw.getMs, 1),
    rawSetMBps: Math.round(mbps(raw.bytes, raw.setMs)),
    rawGetMBps: Math.round(mbps(raw.bytes, raw.getMs)),
    writeVsRawSet: round(raw.setMs / producerMs),
    readVsRawGet: round(raw.getMs / consumerMs),
    runs: big.runs,
  };
  log(
    `python 64 MiB: a task returning a 64 MiB float64 array ${producerMs} ms start to stored (${array64.producerMBps} MB/s) = ${array64.writeVsRawSet}x raw Redis SET (${array64.rawSetMBps} MB/s); ` +
      `a task reading it ${consumerMs} ms (${array64.consumerMBps} MB/s) = ${array64.readVsRawGet}x raw Redis GET (${array64.rawGetMBps} MB/s); medians of ${runs} (results checked)`,
  );
  return { tiny, languages, array64 };
}
