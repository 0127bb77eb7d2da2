/** Redis connections. BullMQ needs maxRetriesPerRequest: null on connections that block. */
import { Redis } from 'ioredis';
import { withScripts, type ScriptedRedis } from './scripts.ts';

export const DEFAULT_REDIS_URL = 'redis://127.0.0.1:6379';

/**
 * A connection that reconnects by itself when Redis goes away and comes back.
 * Commands wait for the reconnection (workers: their work resumes), or with
 * `failFast` fail after a couple of attempts (the API: a client gets 503
 * service_unavailable at once instead of a request that hangs).
 */
export function connect(url: string | undefined, name: string, options: { failFast?: boolean } = {}): ScriptedRedis {
  const redis = new Redis(url ?? DEFAULT_REDIS_URL, { maxRetriesPerRequest: options.failFast ? 2 : null, connectionName: name, enableAutoPipelining: false });
  // Errors surface on the commands that fail; an unhandled 'error' event would only crash the process while ioredis reconnects.
  redis.on('error', () => {});
  return withScripts(redis);
}

/** Warns (returns a message) when Redis may evict keys, which would lose queued jobs and objects. */
export async function checkEvictionPolicy(redis: Redis): Promise<string | null> {
  try {
    const [, policy] = (await redis.config('GET', 'maxmemory-policy')) as [string, string];
    if (policy !== 'noeviction') return `Redis runs with maxmemory-policy ${policy}; weft needs noeviction (evicted keys lose queued tasks and objects). Set it with: redis-cli CONFIG SET maxmemory-policy noeviction`;
  } catch {
    // CONFIG may be disabled on managed Redis; nothing to check then.
  }
  return null;
}
