/**
 * The seed's examples written with the TypeScript SDK (examples/ts), each run
 * as its own process against a running weft: each checks its result against
 * a direct computation and exits non-zero on a mismatch.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startWeft, type Weft } from './helpers/weft.ts';

const root = fileURLToPath(new URL('..', import.meta.url));

let weft: Weft;
beforeAll(async () => {
  weft = await startWeft({ workers: 2 });
});
afterAll(() => weft?.close());

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

const cases: [string, RegExp, ((output: string) => void)?][] = [
  ['array-mean.ts', /mean of a 256x256 array in 4x4 blocks: 49\d\.\d+/],
  ['groupby-mean.ts', /groupby\(age\)\.mean\(\): 100 groups/],
  ['persist.ts', /persisted 5 blocks; sum 200, min 2, max 2/],
  ['set-index-head.ts', /ages 0, 0, 0/],
  ['timing-callback.ts', /timed 4 tasks/, sleepsTimed],
  ['caching-callback.ts', /\(5 tasks from the cache\)[\s\S]*z = 109/],
];

for (const [file, expected, more] of cases) {
  it(`examples/ts/${file}`, async () => {
    const { code, output } = await example(file);
    expect(code, output).toBe(0);
    expect(output).toMatch(expected);
    more?.(output);
  }, 60_000);
}
