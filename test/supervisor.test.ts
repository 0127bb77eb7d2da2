/** The parts of `npm start` that find or start Redis. */
import { expect, it } from 'vitest';
import { answers, hasRedisServer, launchRedis } from '../src/supervisor/redis.ts';
import { freePort } from './helpers/redis.ts';
import { mkdtempSync, existsSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

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
