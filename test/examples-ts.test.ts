/**
 * The seed's examples written with the TypeScript SDK (examples/ts), each run
 * as its own process against a running weft: each checks its result against
 * a direct computation and exits non-zero on a mismatch. They run as
 * examples/README.md says: against a plain `npm start`, and the one with a
 * presubmit hook on loopback against `WEFT_ALLOW_PRIVATE_WEBHOOKS=1 npm start`.
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startWeft, type Weft } from './helpers/weft.ts';

const root = fileURLToPath(new URL('..', import.meta.url));

let weft: Weft;
/** Runs an example (asynchronously: the API it calls runs in this process). */
async function example(file: string): Promise<{ code: number | null; output: string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', `examples/ts/${file}`], {
    cwd: root,
    env: { ...process.env, WEFT_URL: weft.url },
  });
  let output = '';
  child.stdout.on('data', (d) => (output += d));
  child.stderr.on('data', (d) => (output += d));
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  return { code, output };
}

/**
 * timing-callback.ts times three sleeps of 30, 60 and 90 ms: each timing is at
 * least its sleep (less 1 ms of rounding), however long a busy machine makes it.
 */
function sleepsTimed(output: string): void {
  const ms = [...output.matchAll(/task sleep-[0-9a-f]+: (\d+\.\d{3})s/g)].map(([, s]) => Number(s) * 1000);
  expect(ms).toHaveLength(3);
  ms.sort((a, b) => a - b).forEach((t, i) => expect(t).toBeGreaterThanOrEqual([30, 60, 90][i] - 1));
}

const readme = readFileSync(`${root}examples/README.md`, 'utf8');

const cases: [string, RegExp, ((output: string) => void)?][] = [
  ['array-mean.ts', /mean of a 256x256 array in 4x4 blocks: 49\d\.\d+/],
  ['groupby-mean.ts', /groupby\(age\)\.mean\(\): 100 groups/],
  ['persist.ts', /persisted 5 blocks; sum 200, min 2, max 2/],
  ['set-index-head.ts', /ages 0, 0, 0/],
  ['timing-callback.ts', /timed 4 tasks/, sleepsTimed],
];

// As examples/README.md starts weft: a plain `npm start`, which refuses webhook and presubmit targets on loopback.
describe('against a weft as `npm start` runs it', () => {
  beforeAll(async () => {
    weft = await startWeft({ workers: 2, allowPrivateTargets: false });
  });
  afterAll(() => weft?.close());

  for (const [file, expected, more] of cases) {
    it(`examples/ts/${file}`, async () => {
      const { code, output } = await example(file);
      expect(code, output).toBe(0);
      expect(output).toMatch(expected);
      more?.(output);
    }, 60_000);
  }

  it('examples/ts/caching-callback.ts says what to set when its loopback presubmit hook is refused, and exits 2', async () => {
    const { code, output } = await example('caching-callback.ts');
    expect(output).toMatch(/\(\d+ tasks from the cache\)/);
    expect(output).toMatch(/forbidden_target/);
    expect(output).toContain('WEFT_ALLOW_PRIVATE_WEBHOOKS=1 npm start');
    expect(code, output).toBe(2);
  }, 60_000);

  it('examples/README.md gives that setting for the callback example', () => {
    expect(readme).toMatch(/WEFT_ALLOW_PRIVATE_WEBHOOKS=1 npm start[^\n]*caching-callback\.ts/);
  });
});

describe('against `WEFT_ALLOW_PRIVATE_WEBHOOKS=1 npm start`, as examples/README.md says for caching-callback.ts', () => {
  beforeAll(async () => {
    weft = await startWeft({ workers: 2, env: { WEFT_ALLOW_PRIVATE_WEBHOOKS: '1' } });
  });
  afterAll(() => weft?.close());

  it('examples/ts/caching-callback.ts', async () => {
    const { code, output } = await example('caching-callback.ts');
    expect(code, output).toBe(0);
    expect(output).toMatch(/\(5 tasks from the cache\)[\s\S]*z = 109/);
  }, 60_000);
});
