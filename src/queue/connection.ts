/**
 * Redis connections: one Redis, Sentinel or Cluster, as REDIS_URL says
 * (src/queue/redis-url.ts). BullMQ needs maxRetriesPerRequest: null on
 * connections that block. A Cluster connection is typed as a Redis one: it has
 * the same commands, and weft keeps every key in one slot there (WEFT_PREFIX
 * is a hash tag), so multi, pipelines and scripts go to one node.
 */
import { Cluster, Redis, type RedisOptions } from 'ioredis';
import { keysUnder, statsKey } from './keys.ts';
import { parseRedisUrl } from './redis-url.ts';
import { withScripts, type ScriptedRedis } from './scripts.ts';

export const DEFAULT_REDIS_URL = 'redis://127.0.0.1:6379';

/**
 * A connection that reconnects by itself when Redis goes away and comes back.
 * Commands wait for the reconnection (workers: their work resumes), or with
 * `failFast` fail after a couple of attempts (the API: a client gets 503
 * service_unavailable at once instead of a request that hangs).
 */
export function connect(
  url: string | undefined,
  name: string,
  connectOptions: { failFast?: boolean } = {},
): ScriptedRedis {
  const options: RedisOptions = {
    maxRetriesPerRequest: connectOptions.failFast ? 2 : null,
    connectionName: name,
    enableAutoPipelining: false,
  };
  const target = parseRedisUrl(url ?? DEFAULT_REDIS_URL);
  let redis: Redis;
  if (target.kind === 'single') {
    redis = new Redis(target.url, options);
  } else if (target.kind === 'sentinel') {
    const { sentinels, name: master, username, password, sentinelPassword, tls } = target;
    redis = new Redis({
      ...options,
      sentinels,
      name: master,
      username,
      password,
      sentinelPassword,
      ...(tls ? { tls: {}, sentinelTLS: {}, enableTLSForSentinelMode: true } : {}),
      // After a failover: reconnect when the sentinels announce the new master, and when a
      // command reaches the old one (now a read-only replica), resending that command there.
      failoverDetector: true,
      reconnectOnError: (err) => (err.message.startsWith('READONLY') ? 2 : false),
    });
  } else {
    const { nodes, username, password, tls } = target;
    redis = new Cluster(nodes, {
      enableAutoPipelining: false,
      redisOptions: { ...options, username, password, ...(tls ? { tls: {} } : {}) },
    }) as unknown as Redis;
  }
  // Errors surface on the commands that fail; an unhandled 'error' event would only crash the process while ioredis reconnects.
  redis.on('error', () => {});
  return withScripts(redis);
}

const slotNodes = new WeakMap<Cluster, Promise<number>>();

/**
 * Redis used_memory, the measure of the store's budget: of the node that
 * holds weft's keys. On Cluster, INFO would go to any node, so it is asked of
 * the master of the prefix's slot.
 */
export async function usedMemory(redis: Redis, prefix: string): Promise<number> {
  let info: string;
  const cluster: unknown = redis;
  if (cluster instanceof Cluster) {
    let slot = slotNodes.get(cluster);
    if (!slot) slotNodes.set(cluster, (slot = cluster.cluster('KEYSLOT', statsKey(prefix)) as Promise<number>));
    const [master] = cluster.slots[await slot] ?? [];
    const node = cluster.nodes('master').find((n) => `${n.options.host}:${n.options.port}` === master);
    info = await (node ?? cluster).info('memory');
  } else {
    info = await redis.info('memory');
  }
  return Number(/used_memory:(\d+)/.exec(info)?.[1] ?? 0);
}

/**
 * Deletes every key under `prefix` (a rehearsal's throwaway prefix). On
 * Cluster SCAN walks one node, so each master is scanned; the prefix has a
 * hash tag there (src/config.ts), so the keys of one reply share a slot.
 */
export async function deleteKeysUnder(redis: Redis, prefix: string): Promise<void> {
  const cluster: unknown = redis;
  const nodes = cluster instanceof Cluster ? cluster.nodes('master') : [redis];
  for (const node of nodes) {
    let cursor = '0';
    do {
      const [next, keys] = await node.scan(cursor, 'MATCH', keysUnder(prefix), 'COUNT', 1000);
      if (keys.length > 0) await redis.unlink(...keys);
      cursor = next;
    } while (cursor !== '0');
  }
}

/** Warns (returns a message) when Redis may evict keys, which would lose queued jobs and objects. */
export async function checkEvictionPolicy(redis: Redis): Promise<string | null> {
  try {
    const [, policy] = (await redis.config('GET', 'maxmemory-policy')) as [string, string];
    if (policy !== 'noeviction')
      return `Redis runs with maxmemory-policy ${policy}; weft needs noeviction (evicted keys lose queued tasks and objects). Set it with: redis-cli CONFIG SET maxmemory-policy noeviction`;
  } catch {
    // CONFIG may be disabled on managed Redis; nothing to check then.
  }
  return null;
}
