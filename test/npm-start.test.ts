/**
 * `npm start` as a new user runs it (issue 21, items 6 and 7): with REDIS_URL
 * on a local port that nothing answers it starts redis-server on that port,
 * and Ctrl-C in the terminal (SIGINT to the whole process group) stops the
 * workers and the API first and that Redis last, within a few seconds.
 * The supervisor is spawned in a process group of its own, as a shell puts a
 * foreground job, so the test can signal the group as a terminal does.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { rmSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { answers } from '../src/supervisor/redis.ts';
import { freePort } from './helpers/redis.ts';
import { waitFor } from './helpers/wait.ts';

const root = fileURLToPath(new URL('..', import.meta.url));

let child: ChildProcess;
let output = '';
let redisPort: number;
let apiPort: number;
let redisPid: number | undefined;

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

beforeAll(async () => {
  redisPort = await freePort();
  apiPort = await freePort();
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    REDIS_URL: `redis://127.0.0.1:${redisPort}`,
    PORT: String(apiPort),
    WORKERS: '2',
    WEFT_EXECUTORS: '1',
  };
  delete env.WEFT_POOLS;
  delete env.WEFT_PREFIX;
  child = spawn(process.execPath, ['--import', 'tsx', 'src/supervisor/main.ts'], { env, cwd: root, detached: true });
  child.stdout!.on('data', (d) => (output += d));
  child.stderr!.on('data', (d) => (output += d));
});

afterAll(async () => {
  // Whatever a failed test left behind: the supervisor's group, and the Redis it started.
  if (child.exitCode === null && child.signalCode === null) {
    try {
      process.kill(-child.pid!, 'SIGKILL');
    } catch {}
  }
  if (redisPid && alive(redisPid)) process.kill(redisPid, 'SIGKILL');
  rmSync(`${root}.weft/redis-${redisPort}`, { recursive: true, force: true });
});

it('npm start with REDIS_URL on a free local port starts redis-server on that port, says so, and runs a graph', async () => {
  await waitFor(
    `the API on :${apiPort}`,
    async () => {
      if (child.exitCode !== null) throw new Error(`npm start exited ${child.exitCode}: ${output}`);
      return (await fetch(`http://127.0.0.1:${apiPort}/healthz`)).ok;
    },
    { timeoutMs: 30_000 },
  );
  expect(output).toContain(
    `nothing answers on redis://127.0.0.1:${redisPort}: starting redis-server there, data in .weft/redis-${redisPort}`,
  );
  expect(await answers(`redis://127.0.0.1:${redisPort}`)).toBe(true);
  const r = new Redis(`redis://127.0.0.1:${redisPort}`);
  redisPid = Number(/process_id:(\d+)/.exec(await r.info('server'))?.[1]);
  r.disconnect();
  expect(redisPid).toBeGreaterThan(0);

  // Both workers in the registry: the shutdown below has them leave it.
  await waitFor('two live workers', async () => {
    const res = await fetch(`http://127.0.0.1:${apiPort}/v1/workers`);
    const body = (await res.json()) as { workers: unknown[] };
    return body.workers.length === 2;
  });
  const res = await fetch(`http://127.0.0.1:${apiPort}/v1/graphs`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ graph: { x: 1, y: { $op: 'inc', args: [{ $ref: 'x' }] } }, keys: 'y', wait: 30 }),
  });
  expect(((await res.json()) as { result: unknown }).result).toBe(2);
}, 60_000);

it('Ctrl-C (SIGINT to the process group) stops workers and API, then that Redis, and exits 0 within seconds', async () => {
  expect(redisPid, 'the test above found the Redis npm start started').toBeGreaterThan(0);
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const t0 = Date.now();
  process.kill(-child.pid!, 'SIGINT');
  const code = await exited;
  const ms = Date.now() - t0;
  expect(output).not.toMatch(/did not finish|shutdown failed/);
  expect(code, output.slice(-3000)).toBe(0);
  expect(ms).toBeLessThan(5_000);
  // The Redis it started is gone with it, and nothing of the group is left.
  await waitFor(`redis-server ${redisPid} to be gone`, () => !alive(redisPid!), { timeoutMs: 2_000 });
  expect(await answers(`redis://127.0.0.1:${redisPort}`)).toBe(false);
  // Grandchildren (a worker's op threads' or executors' processes) get the SIGINT themselves and may end a moment after.
  await waitFor(
    'no process of the group left',
    () => {
      try {
        process.kill(-child.pid!, 0);
      } catch {
        return true;
      }
      throw new Error(spawnSync('ps', ['-o', 'pid,args', '-g', String(child.pid)], { encoding: 'utf8' }).stdout);
    },
    { timeoutMs: 3_000 },
  );
}, 60_000);
