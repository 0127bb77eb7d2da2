/**
 * Finding Redis for `npm start`: REDIS_URL when set; otherwise the local
 * default, and where nothing listens there a redis-server from PATH, started
 * with its data under .weft/redis (append-only file on, noeviction).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { resolve } from 'node:path';
import { Cluster, Redis } from 'ioredis';
import { parseRedisUrl } from '../queue/redis-url.ts';

export const INSTALL_HELP = `weft needs Redis 6.2 or newer. Install redis-server and run npm start again:
  Debian/Ubuntu:  sudo apt-get install redis-server
  macOS:          brew install redis
  Docker:         docker compose -f docker/compose.yaml up redis
or point REDIS_URL at a running Redis.`;

/** Whether Redis answers at `url` (any REDIS_URL form), trying once, within about a second. */
export async function answers(url: string): Promise<boolean> {
  const target = parseRedisUrl(url);
  const once = { lazyConnect: true, maxRetriesPerRequest: 0, connectTimeout: 1000 } as const;
  const r =
    target.kind === 'single'
      ? new Redis(target.url, { ...once, retryStrategy: () => null })
      : target.kind === 'sentinel'
        ? new Redis({
            ...once,
            sentinels: target.sentinels,
            name: target.name,
            username: target.username,
            password: target.password,
            sentinelPassword: target.sentinelPassword,
            sentinelRetryStrategy: () => null,
          })
        : new Cluster(target.nodes, {
            lazyConnect: true,
            clusterRetryStrategy: () => null,
            redisOptions: { ...once, username: target.username, password: target.password },
          });
  r.on('error', () => {});
  try {
    await r.connect();
    await r.ping();
    return true;
  } catch {
    return false;
  } finally {
    r.disconnect();
  }
}

export function hasRedisServer(): boolean {
  return spawnSync('redis-server', ['--version'], { stdio: 'ignore' }).status === 0;
}

/** Starts redis-server on 127.0.0.1:`port`, data in `dir`; resolves once it answers. */
export async function launchRedis(port: number, dir: string): Promise<ChildProcess> {
  mkdirSync(dir, { recursive: true });
  const child = spawn(
    'redis-server',
    [
      '--port',
      String(port),
      '--bind',
      '127.0.0.1',
      '--dir',
      resolve(dir),
      '--appendonly',
      'yes',
      '--maxmemory-policy',
      'noeviction',
      '--save',
      '',
    ],
    { stdio: 'ignore' },
  );
  const url = `redis://127.0.0.1:${port}`;
  for (let i = 0; i < 100; i++) {
    if (child.exitCode !== null)
      throw new Error(`redis-server exited with code ${child.exitCode}; is port ${port} taken?`);
    if (await answers(url)) return child;
    await new Promise((r) => setTimeout(r, 100));
  }
  child.kill();
  throw new Error(`redis-server did not answer on ${url} within 10 s.`);
}
