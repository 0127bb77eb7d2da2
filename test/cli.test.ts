/** The weft command end to end, in a subprocess: output and exit codes scripts can rely on. */
import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { freePort } from './helpers/redis.ts';
import { startWeft, type Weft } from './helpers/weft.ts';

const bin = fileURLToPath(new URL('../bin/weft', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'weft-cli-'));
let weft: Weft;
beforeAll(async () => {
  weft = await startWeft({ workers: 1 });
});
afterAll(() => weft?.close());

function cli(args: string[], url = weft.url): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    // Asynchronously: the API answering the command runs in this process. Run from another directory: paths are the caller's.
    const child = spawn(bin, args, { cwd: dir, env: { ...process.env, WEFT_URL: url } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.once('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

it('submit --wait prints the result and exits 0', async () => {
  writeFileSync(
    join(dir, 'graph.json'),
    JSON.stringify({
      x: 1,
      y: { $op: 'inc', args: [{ $ref: 'x' }] },
      z: { $op: 'add', args: [{ $ref: 'x' }, { $ref: 'y' }] },
    }),
  );
  const r = await cli(['submit', 'graph.json', '--keys', 'z,y', '--wait', '--json']);
  expect(r.code, r.stderr).toBe(0);
  expect(JSON.parse(r.stdout)).toMatchObject({ status: 'done', result: [3, 2] });
});

it('a failed graph exits 1, a rejected one 2, an unreachable service 3', async () => {
  writeFileSync(join(dir, 'bad.json'), JSON.stringify({ x: { $op: 'fail', args: ['boom'] } }));
  const failed = await cli(['submit', 'bad.json', '--keys', 'x', '--wait', '--json']);
  expect(failed.code).toBe(1);
  expect(JSON.parse(failed.stdout)).toMatchObject({ status: 'failed', error: { message: 'boom' } });
  const rejected = await cli(['submit', 'graph.json', '--keys', 'nope', '--wait']);
  expect(rejected.code).toBe(2);
  expect(rejected.stderr).toMatch(/unknown_key/);
  const unreachable = await cli(['ops'], `http://127.0.0.1:${await freePort()}`);
  expect(unreachable.code).toBe(3);
  expect((await cli(['frobnicate'])).code).toBe(2);
});

it('put, get, rm, persist, ops and stats', async () => {
  writeFileSync(join(dir, 'value.json'), JSON.stringify({ a: [1, 2] }));
  const put = await cli(['put', 'value.json', '--json']);
  expect(put.code, put.stderr).toBe(0);
  const { $oid } = JSON.parse(put.stdout);
  expect(JSON.parse((await cli(['get', $oid, '--json'])).stdout)).toEqual({ a: [1, 2] });
  expect((await cli(['rm', $oid])).code).toBe(0);
  expect((await cli(['get', $oid])).code).toBe(2);
  const persisted = await cli(['submit', 'graph.json', '--keys', 'z', '--persist', '--json']);
  expect(JSON.parse(persisted.stdout).outputs.$oid).toMatch(/\./);
  expect((await cli(['ops'])).stdout).toMatch(/^inc\s+inc\(x\)/m);
  expect(JSON.parse((await cli(['stats', '--json'])).stdout)).toHaveProperty('memory.budget_bytes');
});

it('on a terminal, submit --wait draws a progress bar from the graph events, up to every task', async () => {
  writeFileSync(
    join(dir, 'slow.json'),
    JSON.stringify({
      a: { $op: 'sleep', args: [300, 1] },
      b: { $op: 'sleep', args: [300, 2] },
      c: { $op: 'add', args: [{ $ref: 'a' }, { $ref: 'b' }] },
    }),
  );
  const r = await onTerminal(`${bin} submit slow.json --keys c --wait --json`);
  expect(r.code, r.out).toBe(0);
  expect(r.out).toMatch(/weft .* 3\/3 tasks/);
  expect(r.out).toContain('"result":3');
});

it("on a terminal, the bar has the graph's task count from its first line, with the percentage and elapsed time", async () => {
  // Thousands of tasks: the postsubmit_all event, which also carries the count, comes after many task events.
  const n = 3000;
  const graph: Record<string, unknown> = {};
  for (let i = 0; i < n; i++) graph[`x${i}`] = { $op: 'inc', args: [i] };
  graph.total = { $op: 'sum', args: [Array.from({ length: n }, (_, i) => ({ $ref: `x${i}` }))] };
  writeFileSync(join(dir, 'wide.json'), JSON.stringify(graph));
  const r = await onTerminal(`${bin} submit wide.json --keys total --wait --json`);
  expect(r.code, r.out).toBe(0);
  expect(r.out).toContain(`"result":${(n * (n + 1)) / 2}`);

  const lines = barLines(r.out);
  expect(lines.length, r.out).toBeGreaterThan(0);
  let elapsed = 0;
  for (const line of lines) {
    const m = /^weft \[[#-]+\] (\d+)\/(\d+) tasks +(\d+)% (\d+\.\d)s$/.exec(line.trimEnd());
    expect(m, `a bar line: ${JSON.stringify(line)}`).not.toBeNull();
    const [value, total, pct, seconds] = [m![1], m![2], m![3], m![4]].map(Number);
    expect(total, line).toBe(n + 1);
    expect(value, line).toBeLessThanOrEqual(total);
    expect(pct, line).toBe(Math.floor((100 * value) / total));
    expect(seconds, line).toBeGreaterThanOrEqual(elapsed);
    elapsed = seconds;
  }
  expect(lines.at(-1)).toMatch(new RegExp(`^weft \\[#+\\] ${n + 1}/${n + 1} tasks 100% `));
});

/** The bar's lines as drawn: each redraw starts by moving the cursor to the first column (ESC [1G); other escapes are dropped. */
function barLines(out: string): string[] {
  const ESC = String.fromCharCode(27);
  return out
    .replaceAll(`${ESC}[1G`, '\n')
    .replace(new RegExp(`${ESC}(\\[[0-9;?]*[A-Za-z]|[78])`, 'g'), '')
    .split(/[\r\n]+/)
    .filter((l) => l.includes(' tasks'));
}

/** Runs a command on a pseudo-terminal with script(1), as a shell in a terminal would; stdout and stderr together. */
function onTerminal(command: string): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve) => {
    const child = spawn('script', ['-qfec', command, '/dev/null'], {
      cwd: dir,
      env: { ...process.env, WEFT_URL: weft.url },
    });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    child.once('exit', (code) => resolve({ code, out }));
  });
}

it('on a terminal, a task that failed is counted as failed, not done', async () => {
  writeFileSync(join(dir, 'boom.json'), JSON.stringify({ x: { $op: 'fail', args: ['boom'] } }));
  const r = await onTerminal(`${bin} submit boom.json --keys x --wait --json`);
  expect(r.code, r.out).toBe(1);
  expect(barLines(r.out).at(-1)).toMatch(/^weft \[-+\] 0\/1 tasks {3}0%, 1 failed \d+\.\ds/);
});
