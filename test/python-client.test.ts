/**
 * The Python client (clients/python) with real Dask, against this weft with
 * Python executors (WEFT_POOLS=default,python): Dask's own scheduler contract
 * (dask.utils_test.GetFunctionTestMixin) with Python callables, Dask's
 * collections compared with its sync scheduler, exceptions, persist,
 * dataframe_optimize, callbacks (in the executor too), progress and Ctrl-C
 * (clients/python/tests/test_*.py under unittest). Needs Debian's
 * python3-dask, which .ci/run installs.
 */
import { spawn, spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startWeft, type Weft } from './helpers/weft.ts';

const root = fileURLToPath(new URL('..', import.meta.url));
const PYTHON = process.env.WEFT_TEST_PYTHON ?? '/usr/bin/python3';

let weft: Weft;
beforeAll(async () => {
  weft = await startWeft({ workers: 2, env: { WEFT_POOLS: 'default,python' } });
});
afterAll(() => weft?.close());

it('passes Dask scheduler contract and client tests with real Dask', async () => {
  const probe = spawnSync(PYTHON, ['-c', 'import dask; print(dask.__version__)'], { encoding: 'utf8' });
  expect(
    probe.status,
    `${PYTHON} cannot import dask (Debian: apt-get install python3-dask; .ci/run does): ${probe.stderr}`,
  ).toBe(0);
  // Asynchronously: the API answering the client runs in this process.
  const child = spawn(PYTHON, ['-m', 'unittest', 'discover', '-s', 'clients/python/tests', '-v'], {
    cwd: root,
    env: { ...process.env, WEFT_URL: weft.url, PYTHONPATH: `${root}/clients/python` },
  });
  let output = '';
  child.stdout.on('data', (d) => (output += d));
  child.stderr.on('data', (d) => (output += d));
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  expect(code, output.slice(-4000)).toBe(0);
  expect(Number(/Ran (\d+) tests/.exec(output)?.[1] ?? 0)).toBeGreaterThanOrEqual(54);
}, 240_000);
