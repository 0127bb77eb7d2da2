/**
 * Dask's own tests through weft (issue 18, item 6), CI-sized: a stable
 * 1-in-12 sample of each area of clients/python/dask_suite/selection.py and
 * the scheduler modules (delayed, local, threaded) whole, run on Dask's sync
 * scheduler and through this weft (workers serving the pool python), every
 * local compute routed (dask_suite.plugin). Of the tests that compute and pass
 * on sync, at least 95% must pass computing through weft. The full selection:
 * `npm run dask-suite` (docs/benchmarks.md). Needs Debian's python3-dask,
 * python3-pytest, python3-numpy and python3-pandas, which .ci/run installs.
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startWeft, type Weft } from './helpers/weft.ts';

const root = fileURLToPath(new URL('..', import.meta.url));
const PYTHON = process.env.WEFT_TEST_PYTHON ?? '/usr/bin/python3';
const MIN_RATE = 0.95;

let weft: Weft;
let out: string;
beforeAll(async () => {
  weft = await startWeft({ workers: 2, env: { WEFT_POOLS: 'default,python', WEFT_PYTHON: PYTHON } });
  out = mkdtempSync(join(tmpdir(), 'weft-dask-suite-'));
});
afterAll(async () => {
  await weft?.close();
  if (out) rmSync(out, { recursive: true, force: true });
});

it('passes at least 95% of the sampled Dask tests that compute and pass on sync, computing through weft', async () => {
  const probe = spawnSync(PYTHON, ['-c', 'import dask, pytest, numpy, pandas, cloudpickle, msgpack'], {
    encoding: 'utf8',
  });
  expect(
    probe.status,
    `${PYTHON} cannot import what the suite needs (Debian: apt-get install python3-dask python3-pytest python3-numpy python3-pandas; .ci/run does): ${probe.stderr}`,
  ).toBe(0);
  // Asynchronously: the API answering the suite's computes runs in this process.
  const child = spawn(PYTHON, ['-m', 'dask_suite.run', '--ci', '--out', out, '--json'], {
    cwd: root,
    env: { ...process.env, WEFT_URL: weft.url, PYTHONPATH: `${root}clients/python` },
  });
  let output = '';
  child.stdout.on('data', (d) => (output += d));
  child.stderr.on('data', (d) => (output += d));
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  expect(code, output.slice(-4000)).toBe(0);
  const summary = JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8'));
  const failures = (summary.failures as { id: string; category: string; rule: string; message?: string }[])
    .map((f) => `${f.category}/${f.rule || '-'} ${f.id}: ${(f.message ?? '').slice(0, 160)}`)
    .join('\n');
  // Every area computed through weft, and the sample is big enough to mean something.
  for (const [area, a] of Object.entries(summary.areas as Record<string, { baseline: number; passed: number }>))
    expect(a.baseline, `area ${area} has no test that computes and passes on sync`).toBeGreaterThan(0);
  expect(summary.baseline).toBeGreaterThanOrEqual(250);
  expect(
    summary.rate,
    `${summary.passed} of ${summary.baseline} through weft; failures:\n${failures}`,
  ).toBeGreaterThanOrEqual(MIN_RATE);
}, 300_000);
