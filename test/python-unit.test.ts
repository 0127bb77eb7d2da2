/**
 * The Python package's unit tests under pytest, without a server: the
 * translation of Dask graphs (test_translate.py, compared with Dask's sync
 * scheduler through a reference evaluator of weft's graph semantics), the
 * value codec (test_codec.py, cross-checked with Node's) and the executor
 * through a real pipe (test_executor.py). Needs Debian's python3-pytest,
 * python3-dask, python3-cloudpickle and python3-msgpack, which .ci/run installs.
 */
import { spawn, spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { expect, it } from 'vitest';

const root = fileURLToPath(new URL('..', import.meta.url));
const PYTHON = process.env.WEFT_TEST_PYTHON ?? '/usr/bin/python3';
const FILES = ['test_translate.py', 'test_codec.py', 'test_executor.py'].map((f) => `clients/python/tests/${f}`);

it('passes the Python unit tests (translation, codec, executor) under pytest', async () => {
  const probe = spawnSync(PYTHON, ['-c', 'import pytest, dask, cloudpickle, msgpack'], { encoding: 'utf8' });
  expect(
    probe.status,
    `${PYTHON} cannot import pytest, dask, cloudpickle and msgpack (Debian: python3-pytest python3-dask; .ci/run installs them): ${probe.stderr}`,
  ).toBe(0);
  // Asynchronously, so this file's timeout stays in charge.
  const child = spawn(PYTHON, ['-m', 'pytest', '-q', '-p', 'no:cacheprovider', ...FILES], {
    cwd: root,
    env: { ...process.env, PYTHONPATH: `${root}/clients/python` },
  });
  let output = '';
  child.stdout.on('data', (d) => (output += d));
  child.stderr.on('data', (d) => (output += d));
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  expect(code, output.slice(-4000)).toBe(0);
  expect(Number(/(\d+) passed/.exec(output)?.[1] ?? 0)).toBeGreaterThanOrEqual(95);
}, 240_000);
