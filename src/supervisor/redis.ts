/**
 * Finding Redis for `npm start`: REDIS_URL, or the local default
 * redis://127.0.0.1:6379. Where nothing answers at a local address
 * (127.0.0.1, localhost, ::1) a redis-server from PATH is started on that
 * port, with its data under .weft (append-only file on, noeviction).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { resolve } from 'node:path';
import { Cluster, Redis } from 'ioredis';
import { parseRedisUrl } from '../queue/redis-url.ts';

export const INSTALL_HELP = `weft needs Redis 6.2 or newer. Install redis-server and run npm start again:
  Debian/Ubuntu:  sudo apt-get install redis-server
  macOS:          brew install redis
  Docker:         docker compose -f docker/compose.yaml up -d redis   (on 127.0.0.1:6379)
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

/** Where `npm start` may start a Redis itself: a plain local address, its port and database. */
export interface LocalRedis {
  /** What redis-server binds (`-` marks an address it may skip when the machine lacks it). */
  bind: string[];
  port: number;
  db: number;
}

/**
 * The Redis `npm start` may start for `url`, or why not: only for a
 * redis:// URL on this machine's loopback. A password or user is refused
 * rather than started with (it would show in `ps`, and a Redis meant to have
 * one is someone's own to start); TLS too.
 */
export function localRedis(url: string): LocalRedis | string {
  if (!url.startsWith('redis://')) return 'it is not a plain redis:// URL';
  const u = new URL(url);
  const host = u.hostname.replace(/^\[(.*)\]$/, '$1');
  const bind =
    host === '127.0.0.1'
      ? ['127.0.0.1']
      : host === '::1'
        ? ['::1']
        : host === 'localhost'
          ? ['127.0.0.1', '-::1']
          : null;
  if (!bind) return `${host} is not this machine's loopback (127.0.0.1, localhost or ::1)`;
  if (u.username || u.password) return 'it has a user or password: start that Redis yourself';
  const db = Number(u.pathname.slice(1) || 0);
  if (!Number.isInteger(db) || db < 0) return `"${u.pathname.slice(1)}" is not a database number`;
  return { bind, port: Number(u.port || 6379), db };
}

/** The data directory of a Redis `npm start` starts: .weft/redis for the default port, as before; .weft/redis-<port> for others. */
export function redisDir(port: number): string {
  return port === 6379 ? '.weft/redis' : `.weft/redis-${port}`;
}

/**
 * Starts redis-server on `port` (bound to 127.0.0.1 unless `local` says
 * otherwise), data in `dir`; resolves once it answers. It runs in a process
 * group of its own: Ctrl-C in the terminal signals the whole foreground group,
 * and Redis must outlive the workers and the API that still use it while they
 * shut down; `npm start` stops it last.
 */
export async function launchRedis(
  port: number,
  dir: string,
  local: Omit<LocalRedis, 'port'> = { bind: ['127.0.0.1'], db: 0 },
): Promise<ChildProcess> {
  mkdirSync(dir, { recursive: true });
  const child = spawn(
    'redis-server',
    [
      '--port',
      String(port),
      '--bind',
      ...local.bind,
      '--databases',
      String(Math.max(16, local.db + 1)),
      '--dir',
      resolve(dir),
      '--appendonly',
      'yes',
      '--maxmemory-policy',
      'noeviction',
      '--save',
      '',
    ],
    { stdio: 'ignore', detached: true },
  );
  const url = `redis://${local.bind[0].includes(':') ? `[${local.bind[0]}]` : local.bind[0]}:${port}`;
  for (let i = 0; i < 100; i++) {
    if (child.exitCode !== null)
      throw new Error(`redis-server exited with code ${child.exitCode}; is port ${port} taken?`);
    if (await answers(url)) return child;
    await new Promise((r) => setTimeout(r, 100));
  }
  child.kill();
  throw new Error(`redis-server did not answer on ${url} within 10 s.`);
}
