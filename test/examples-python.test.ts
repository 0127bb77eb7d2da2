/**
 * The seed's examples with the Python client (examples/python), each run with
 * Debian's python3 (numpy, pandas, dask) as a user runs it from a checkout,
 * against a running weft with Python executors: the seed's code as written
 * for Ray with only the names swapped (array_mean.py, ..., checked against
 * Dask's sync scheduler), and the hand-built versions over weft's TypeScript
 * ops, graphs that mix languages (*_ops.py, checked against numpy or
 * pandas). Each exits 1 on a mismatch, 2 when weft cannot be reached.
 */
import { spawn, spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startWeft, type Weft } from './helpers/weft.ts';

const root = fileURLToPath(new URL('..', import.meta.url));
const PYTHON = process.env.WEFT_TEST_PYTHON ?? '/usr/bin/python3';

let weft: Weft;
beforeAll(async () => {
  const probe = spawnSync(PYTHON, ['-c', 'import dask, numpy, pandas'], { encoding: 'utf8' });
  if (probe.status !== 0)
    throw new Error(
      `${PYTHON} cannot import dask, numpy and pandas (Debian: apt-get install python3-dask; .ci/run does): ${probe.stderr}`,
    );
  // As `npm start` runs it: loopback webhook targets refused (examples/README.md says none of these needs them).
  weft = await startWeft({ workers: 2, env: { WEFT_POOLS: 'default,python' }, allowPrivateTargets: false });
});
afterAll(() => weft?.close());

/** Runs python3 (asynchronously: the API it calls runs in this process). */
async function python(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  // No PYTHONPATH: the examples find clients/python themselves, as from a checkout.
  const env: NodeJS.ProcessEnv = { ...process.env, WEFT_URL: weft.url };
  delete env.PYTHONPATH;
  const child = spawn(PYTHON, args, { cwd: root, env });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => (stdout += d));
  child.stderr.on('data', (d) => (stderr += d));
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  return { code, stdout, stderr };
}

const cases: [string, (out: string) => void, string[]?][] = [
  // The seed's code, as written for Ray.
  [
    'array_mean.py',
    (out) => {
      expect(out).toMatch(/^mean of a 256x256 array: \d+\.\d+$/m);
      expect(out).toMatch(/^Dask's sync scheduler agrees$/m);
    },
  ],
  [
    'groupby_mean.py',
    (out) => {
      expect(out).toMatch(/^groupby\(\['age'\]\)\.mean\(\) of 1024 rows in 2 partitions: 100 groups$/m);
      expect(out).toMatch(/^Dask's sync scheduler agrees on every group$/m);
    },
  ],
  [
    'persist.py',
    (out) => {
      expect(out).toMatch(/\(subgraph_callable-[\w-]+, \(100,\)\)\}$/m);
      expect(out).toMatch(/^\{\('ones_like-\w+', 0\): ObjectRef\('[\w-]+\.\d+'\)\}$/m);
      expect(out).toMatch(/^sum: 100\.0$/m);
      expect(out).toMatch(
        /^Dask's sync scheduler agrees; \d+ tasks ran for the three reductions, none of them d_arr's$/m,
      );
    },
  ],
  [
    'set_index_head.py',
    (out) => {
      // The divisions' graph, then the shuffle's: 100 splits with 100 outputs each, no 10,000 getitems.
      const [, shuffle] = /tasks per graph \[\d+, (\d+)\]/.exec(out) ?? [];
      expect(Number(shuffle)).toBeLessThan(1000);
      expect(out).toMatch(/^Dask's sync scheduler agrees row for row$/m);
    },
  ],
  [
    'timing_callback.py',
    (out) => {
      expect(out).toMatch(/^z = 14; the execution times are in the weft workers' log$/m);
      expect(out).toMatch(/^Dask's sync scheduler agrees$/m);
      // The seed's prints, from inside the executors that ran the tasks.
      const logs = weft.logs();
      for (let i = 0; i < 4; i++) {
        const [, seconds] =
          new RegExp(`^Execution time for task \\('work', ${i}\\): (\\d+\\.\\d+(e-\\d+)?)s$`, 'm').exec(logs) ?? [];
        expect(Number(seconds), logs.slice(-2000)).toBeGreaterThanOrEqual(0.098 * (i + 1));
      }
      expect(logs).toMatch(/^Execution time for task z: /m);
    },
  ],
  [
    'caching_callback.py',
    (out) => {
      expect(out).toMatch(/^first compute: z = 1200; cached 2 results: \["\('part', 1\)", "\('part', 3\)"\]$/m);
      expect(out).toMatch(/^second compute: z = 1200 in \d+\.\d+s, ran \["\('part', 0\)", "\('part', 2\)", 'z'\]$/m);
      expect(out).toMatch(/^Dask's sync scheduler agrees, and the slow tasks came from the cache$/m);
    },
    ['--sleeps', '50,500,50,200', '--put-threshold', '0.15'],
  ],
  // Hand-built over weft's TypeScript ops, with Python tasks beside them.
  [
    'array_mean_ops.py',
    (out) => {
      // numpy's legacy RandomState(0) is stable across versions: this is the mean of its 256x256 draw.
      expect(out).toMatch(/^mean of a 256x256 array in 16 chunks: 498\.536224365234\d*$/m);
      expect(out).toMatch(/^numpy agrees/m);
    },
  ],
  [
    'groupby_mean_ops.py',
    (out) => {
      expect(out).toMatch(/^groupby\('age'\)\.mean\(\) of 1024 rows in 4 partitions: 100 groups$/m);
      expect(out).toMatch(/^pandas agrees on every group$/m);
    },
  ],
  [
    'persist_ops.py',
    (out) => {
      expect(out).toMatch(/ObjectRef\('[\w-]+\.\d+'\)/);
      expect(out).toMatch(/^sum: 100 \(5 tasks ran, none of them array\.ones\)$/m);
      expect(out).toMatch(/^min: 1 \(5 tasks ran/m);
      expect(out).toMatch(/^max: 1 \(5 tasks ran/m);
    },
  ],
  [
    'set_index_head_ops.py',
    (out) => {
      const [, ran, all] = /(\d+) tasks ran of the (\d+) in Dask's graph/.exec(out) ?? [];
      expect(Number(all)).toBe(10_602);
      // The 10,000 getitems of the task shuffle were rewritten away.
      expect(Number(ran)).toBeLessThan(1000);
      expect(out.match(/^ {2}age 0 {2}grade \d+$/gm)).toHaveLength(10);
      expect(out).toMatch(/^pandas agrees/m);
    },
  ],
  [
    'timing_callback_ops.py',
    (out) => {
      for (let i = 0; i < 4; i++) {
        const [, seconds] =
          new RegExp(`^Execution time for task \\('work', ${i}\\): (\\d+\\.\\d+)s`, 'm').exec(out) ?? [];
        expect(Number(seconds), out).toBeGreaterThanOrEqual(0.098 * (i + 1));
      }
      expect(out).toMatch(/^Execution time for task z: /m);
      expect(out).toMatch(/^z = 14$/m);
      expect(out).toMatch(/reports the same times$/m);
    },
  ],
  [
    'caching_callback_ops.py',
    (out) => {
      expect(out).toMatch(/cached: \["\('part', 1\)", "\('part', 3\)"\]/);
      expect(out).toMatch(/warm: \d+\.\d+s, ran \["\('part', 0\)", "\('part', 2\)", 'total'\]/);
      expect(out).toMatch(/: 0 cache hits, 5 misses, 5 tasks ran/);
      expect(out).toMatch(/: 5 cache hits, 0 misses, 0 tasks ran/);
    },
  ],
];

for (const [file, expectations, flags = []] of cases) {
  it(`examples/python/${file}`, async () => {
    const { code, stdout, stderr } = await python([`examples/python/${file}`, '--url', weft.url, ...flags]);
    expect(code, stdout + stderr).toBe(0);
    expectations(stdout);
  }, 60_000);
}

it('WEFT_URL is the default service', async () => {
  const { code, stdout, stderr } = await python(['examples/python/persist_ops.py', '--size', '10', '--chunk', '4']);
  expect(code, stderr).toBe(0);
  expect(stdout).toMatch(/^sum: 10 \(4 tasks ran/m);
});

it('a mismatch exits 1 and says what differs', async () => {
  const script =
    'import sys; sys.path.insert(0, "examples/python"); from _common import check, run; run(lambda: check("mean", 2.0, 2.5))';
  const { code, stderr } = await python(['-c', script]);
  expect(code).toBe(1);
  expect(stderr).toMatch(/^MISMATCH mean: weft gave 2\.0, expected 2\.5$/m);
});

it('an unreachable weft exits 2 and says so; a bad url or flag is a usage error', async () => {
  const down = await python(['examples/python/array_mean.py', '--url', 'http://127.0.0.1:1']);
  expect(down.code).toBe(2);
  expect(down.stderr).toMatch(/cannot reach weft at http:\/\/127\.0\.0\.1:1/);
  const badUrl = await python(['examples/python/groupby_mean.py', '--url', 'localhost:8080']);
  expect(badUrl.code).toBe(2);
  expect(badUrl.stderr).toMatch(/weft url must be http:\/\/host:port/);
  const badFlag = await python(['examples/python/caching_callback_ops.py', '--sleeps', 'fast']);
  expect(badFlag.code).not.toBe(0);
  expect(badFlag.stderr).toMatch(/--sleeps must be comma-separated milliseconds/);
});

it('a Python without Dask, numpy or pandas exits 2 and says which Python to use, not a traceback', async () => {
  // -S: without site-packages, Debian's python3 has none of them, as a pyenv or a bare venv's python3.
  const out = await python(['-S', 'examples/python/array_mean.py']);
  expect(out.code).toBe(2);
  expect(out.stderr).toMatch(/has no dask.*apt-get install python3-dask.*\/usr\/bin\/python3 examples\/python/s);
  expect(out.stderr).not.toMatch(/Traceback/);
});
