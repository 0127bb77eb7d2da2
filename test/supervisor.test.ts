/** The parts of `npm start` that find or start Redis. */
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { expect, inject, it } from 'vitest';
import { findPython } from '../src/workers/executors/python.ts';
import { answers, hasRedisServer, launchRedis, localRedis } from '../src/supervisor/redis.ts';
import { freePort } from './helpers/redis.ts';
import { mkdtempSync, existsSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const root = fileURLToPath(new URL('..', import.meta.url));

it('launches a redis-server with an append-only file and noeviction when none answers', async () => {
  expect(hasRedisServer()).toBe(true);
  const port = await freePort();
  const url = `redis://127.0.0.1:${port}`;
  expect(await answers(url)).toBe(false);
  const dir = mkdtempSync(join(tmpdir(), 'weft-launch-'));
  const child = await launchRedis(port, dir);
  try {
    expect(await answers(url)).toBe(true);
    const { Redis } = await import('ioredis');
    const r = new Redis(url);
    expect(await r.config('GET', 'maxmemory-policy')).toEqual(['maxmemory-policy', 'noeviction']);
    expect(await r.config('GET', 'appendonly')).toEqual(['appendonly', 'yes']);
    r.disconnect();
    expect(existsSync(join(dir, 'appendonlydir'))).toBe(true);
  } finally {
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGTERM');
    await exited;
    rmSync(dir, { recursive: true, force: true });
  }
});

it('npm start starts a Redis itself only for a plain redis:// URL on loopback, without credentials', () => {
  expect(localRedis('redis://127.0.0.1:6379')).toEqual({ bind: ['127.0.0.1'], port: 6379, db: 0 });
  expect(localRedis('redis://localhost:7000/3')).toEqual({ bind: ['127.0.0.1', '-::1'], port: 7000, db: 3 });
  expect(localRedis('redis://[::1]:7001')).toEqual({ bind: ['::1'], port: 7001, db: 0 });
  expect(localRedis('redis://127.0.0.1')).toMatchObject({ port: 6379 });
  expect(localRedis('redis://redis.internal:6379')).toMatch(/not this machine's loopback/);
  expect(localRedis('redis://10.0.0.5:6379')).toMatch(/not this machine's loopback/);
  expect(localRedis('redis://:secret@127.0.0.1:6379')).toMatch(/password/);
  expect(localRedis('redis://default:secret@localhost:6379')).toMatch(/password/);
  expect(localRedis('rediss://127.0.0.1:6380')).toMatch(/not a plain redis:\/\//);
  expect(localRedis('redis-sentinel://127.0.0.1:26379/mymaster')).toMatch(/not a plain redis:\/\//);
});

it('launches a redis-server that a localhost URL with a database above 15 reaches', async () => {
  const port = await freePort();
  const url = `redis://localhost:${port}/20`;
  const local = localRedis(url);
  if (typeof local === 'string') throw new Error(local);
  const dir = mkdtempSync(join(tmpdir(), 'weft-launch-'));
  const child = await launchRedis(port, dir, local);
  try {
    const { Redis } = await import('ioredis');
    const r = new Redis(url);
    await r.set('k', 'v');
    expect(await r.get('k')).toBe('v');
    r.disconnect();
  } finally {
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGTERM');
    await exited;
    rmSync(dir, { recursive: true, force: true });
  }
});

it("npm start finds Debian's Python with cloudpickle, says Python tasks are on, and its workers run a Python task", async () => {
  const port = await freePort();
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    REDIS_URL: inject('redisUrl'),
    WEFT_PREFIX: `sv${randomBytes(4).toString('hex')}`,
    PORT: String(port),
    WORKERS: '1',
    WEFT_EXECUTORS: '1',
  };
  delete env.WEFT_POOLS;
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/supervisor/main.ts'], { env, cwd: root });
  let output = '';
  child.stdout.on('data', (d) => (output += d));
  child.stderr.on('data', (d) => (output += d));
  try {
    const deadline = Date.now() + 30_000;
    while (!output.includes('API on http://')) {
      if (Date.now() > deadline || child.exitCode !== null) throw new Error(`npm start did not come up: ${output}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    // The line comes as the processes start; the API answers a moment later.
    while (
      !(await fetch(`http://127.0.0.1:${port}/healthz`).then(
        (r) => r.ok,
        () => false,
      ))
    ) {
      if (Date.now() > deadline || child.exitCode !== null) throw new Error(`the API did not answer: ${output}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    expect(output).toMatch(/\[weft\] Python tasks: on \(\S*python3; executors in the pool "python"\)/);
    const pickled = spawnSync(
      '/usr/bin/python3',
      ['-c', 'import cloudpickle,sys,base64; print(base64.b64encode(cloudpickle.dumps(lambda v: v * 3)).decode())'],
      { encoding: 'utf8' },
    );
    const graph = {
      x: { $call: { $foreign: { lang: 'python', name: 'triple', data: pickled.stdout.trim() } }, args: [4] },
    };
    // The workers may still be starting their executors: the wait covers it.
    const res = await fetch(`http://127.0.0.1:${port}/v1/graphs`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ graph, keys: 'x', wait: 30 }),
    });
    expect(((await res.json()) as { result: unknown }).result).toBe(12);
  } finally {
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGTERM');
    await exited;
  }
});

it('findPython passes over interpreters that lack the modules and says why', () => {
  const found = findPython({ WEFT_PYTHON: '/nonexistent/python3' });
  expect(found.python).not.toBeNull();
  expect(found.tried[0]).toMatch(/^\/nonexistent\/python3: /);
});
