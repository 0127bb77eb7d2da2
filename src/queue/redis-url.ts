/**
 * REDIS_URL names one of three Redis setups:
 *
 *   redis://[user:password@]host:port[/db], rediss://...   one Redis (TLS with rediss)
 *   redis-sentinel://[user:password@]host:port,host:port[/master][?sentinelPassword=...&tls=true]
 *                                                         Sentinel: the sentinels, and the master's name (default mymaster)
 *   redis-cluster://[user:password@]host:port,host:port[?tls=true]
 *                                                         Redis Cluster: seed nodes
 *
 * Pure parsing, so src/config.ts can reject a bad value at start.
 */

export interface HostPort {
  host: string;
  port: number;
}

export type RedisTarget =
  | { kind: 'single'; url: string }
  | {
      kind: 'sentinel';
      sentinels: HostPort[];
      name: string;
      username?: string;
      password?: string;
      sentinelPassword?: string;
      tls: boolean;
    }
  | { kind: 'cluster'; nodes: HostPort[]; username?: string; password?: string; tls: boolean };

export class RedisUrlError extends Error {
  override readonly name = 'RedisUrlError';
}

const MULTI =
  /^(redis-sentinel|redis-cluster):\/\/(?:([^:@/]*)(?::([^@/]*))?@)?([^/?#]+)(?:\/([^?#]*))?(?:\?([^#]*))?$/;

export function parseRedisUrl(url: string): RedisTarget {
  if (/^rediss?:\/\//.test(url)) {
    try {
      new URL(url);
    } catch {
      throw new RedisUrlError(`${url} is not a valid URL.`);
    }
    return { kind: 'single', url };
  }
  const m = MULTI.exec(url);
  if (!m)
    throw new RedisUrlError(
      `${url} is not a Redis URL: use redis://host:port, redis-sentinel://host:port,host:port/master or redis-cluster://host:port,host:port.`,
    );
  const [, scheme, user, pass, hostList, path, query] = m;
  const hosts = hostList.split(',').map((hp) => {
    const h = /^([^:,]+):(\d{1,5})$/.exec(hp.trim());
    if (!h || Number(h[2]) > 65535) throw new RedisUrlError(`${url}: "${hp}" is not host:port.`);
    return { host: h[1], port: Number(h[2]) };
  });
  const params = new URLSearchParams(query ?? '');
  const credentials = {
    ...(user ? { username: decodeURIComponent(user) } : {}),
    ...(pass ? { password: decodeURIComponent(pass) } : {}),
  };
  const tls = params.get('tls') === 'true';
  if (scheme === 'redis-cluster') {
    if (path) throw new RedisUrlError(`${url}: a cluster has no database or master name; leave out "/${path}".`);
    return { kind: 'cluster', nodes: hosts, ...credentials, tls };
  }
  const sentinelPassword = params.get('sentinelPassword');
  return {
    kind: 'sentinel',
    sentinels: hosts,
    name: path ? decodeURIComponent(path) : 'mymaster',
    ...credentials,
    ...(sentinelPassword ? { sentinelPassword } : {}),
    tls,
  };
}
