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
  // script(1) runs the command on a pseudo-terminal, as a shell in a terminal would.
  const r = await new Promise<{ code: number | null; out: string }>((resolve) => {
    const child = spawn('script', ['-qfec', `${bin} submit slow.json --keys c --wait --json`, '/dev/null'], {
      cwd: dir,
      env: { ...process.env, WEFT_URL: weft.url },
    });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    child.once('exit', (code) => resolve({ code, out }));
  });
  expect(r.code, r.out).toBe(0);
  expect(r.out).toMatch(/weft .* 3\/3 tasks/);
  expect(r.out).toContain('"result":3');
});
