/**
 * weft on Redis Sentinel and Redis Cluster (docs/deploy.md), real ones built
 * of private redis-servers: REDIS_URL's forms, graphs surviving a Sentinel
 * failover, and on a 3-node Cluster with a hash-tag prefix every feature at
 * once (tasks, failures, futures, spilling, events, metrics), all keys in one
 * slot.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../src/config.ts';
import { parseRedisUrl } from '../src/queue/redis-url.ts';
import { parsePrometheus } from './helpers/prometheus.ts';
import { startCluster, startSentinel, type TestCluster, type TestSentinel } from './helpers/redis.ts';
import { waitFor } from './helpers/wait.ts';
import { startWeft, type Weft } from './helpers/weft.ts';
import { oid, ref, task } from './helpers/nodes.ts';

const mapReduce = (n: number) => {
  const graph: Record<string, unknown> = {};
  for (let i = 0; i < n; i++) graph[`x${i}`] = task('inc', i);
  graph.total = task(
    'sum',
    Array.from({ length: n }, (_, i) => ref(`x${i}`)),
  );
  return { graph, expected: (n * (n + 1)) / 2 };
};

describe('REDIS_URL', () => {
  it('names one Redis, a Sentinel setup or a Cluster', () => {
    expect(parseRedisUrl('rediss://:secret@db.example:6380/2')).toEqual({
      kind: 'single',
      url: 'rediss://:secret@db.example:6380/2',
    });
    expect(parseRedisUrl('redis-sentinel://app:p%40ss@s1:26379,s2:26380/weft-master?sentinelPassword=sp')).toEqual({
      kind: 'sentinel',
      sentinels: [
        { host: 's1', port: 26379 },
        { host: 's2', port: 26380 },
      ],
      name: 'weft-master',
      username: 'app',
      password: 'p@ss',
      sentinelPassword: 'sp',
      tls: false,
    });
    expect(parseRedisUrl('redis-sentinel://s1:26379')).toMatchObject({ kind: 'sentinel', name: 'mymaster' });
    expect(parseRedisUrl('redis-cluster://:pw@n1:7000,n2:7001?tls=true')).toEqual({
      kind: 'cluster',
      nodes: [
        { host: 'n1', port: 7000 },
        { host: 'n2', port: 7001 },
      ],
      password: 'pw',
      tls: true,
    });
  });

  it('a bad REDIS_URL, or a Cluster without a hash-tag prefix, stops the process with a message naming the variable', () => {
    for (const url of ['http://x:1', 'redis-sentinel://s1', 'redis-cluster://n1:7000/0', 'redis-cluster://n1:99999']) {
      expect(() => loadConfig({ REDIS_URL: url }), url).toThrow(ConfigError);
      expect(() => loadConfig({ REDIS_URL: url }), url).toThrow(/REDIS_URL=/);
    }
    expect(() => loadConfig({ REDIS_URL: 'redis-cluster://n1:7000', WEFT_PREFIX: 'weft' })).toThrow(
      /WEFT_PREFIX=weft .*hash tag such as \{weft\}/,
    );
    expect(loadConfig({ REDIS_URL: 'redis-cluster://n1:7000', WEFT_PREFIX: '{weft}' }).prefix).toBe('{weft}');
    expect(() => loadConfig({ WEFT_PREFIX: '{we}ft}' })).toThrow(/WEFT_PREFIX/);
  });
});

describe('Redis Sentinel', () => {
  let sentinel: TestSentinel;
  let weft: Weft;
  beforeAll(async () => {
    sentinel = await startSentinel();
    weft = await startWeft({ redisUrl: sentinel.url, workers: 1, env: { WEFT_WORKER_TIMEOUT_MS: '2000' } });
  });
  afterAll(async () => {
    await weft?.close();
    await sentinel?.stop();
  });

  it('runs graphs, and goes on after the sentinel fails over to the replica', async () => {
    const role = async (url: string) => {
      const r = new Redis(url);
      try {
        return ((await r.call('ROLE')) as string[])[0];
      } finally {
        r.disconnect();
      }
    };
    const { graph, expected } = mapReduce(300);
    expect((await weft.compute(graph, 'total')).result).toBe(expected);
    expect(await sentinel.masterAddress()).toBe(`127.0.0.1:${sentinel.master.port}`);

    await sentinel.sentinel.call('SENTINEL', 'FAILOVER', 'mymaster');
    // Over once the replica is master and the old master its replica (writes the old one took in between are lost: Redis replicates asynchronously).
    await waitFor(
      'the failover',
      async () =>
        (await sentinel.masterAddress()) === `127.0.0.1:${sentinel.replica.port}` &&
        (await role(sentinel.master.url)) === 'slave',
      { intervalMs: 100 },
    );
    // Writes now go to the new master: the API and the worker found it.
    const after = await weft.compute(graph, 'total', { wait: 60 });
    expect(after).toMatchObject({ status: 'done', result: expected });
    const promoted = new Redis(sentinel.replica.url);
    expect(await promoted.exists(`${weft.env.WEFT_PREFIX}:{${after.id}}:meta`)).toBe(1);
    promoted.disconnect();
    expect(((await (await fetch(`${weft.url}/v1/workers`)).json()) as any).workers).toHaveLength(1);
  });
});

describe('Redis Cluster', () => {
  let cluster: TestCluster;
  let weft: Weft;
  let spillDir: string;
  const tag = `t${randomBytes(4).toString('hex')}`;
  beforeAll(async () => {
    cluster = await startCluster(3);
    spillDir = mkdtempSync(join(tmpdir(), 'weft-cluster-spill-'));
    // A small budget so that values spill (a cluster node holds about 2 MB before weft writes anything).
    weft = await startWeft({
      redisUrl: cluster.url,
      workers: 2,
      env: { WEFT_PREFIX: `{${tag}}`, STORE_MEMORY_LIMIT: '8MiB', SPILL_DIR: spillDir, WEFT_CONCURRENCY: '2' },
    });
  });
  afterAll(async () => {
    await weft?.close();
    await cluster?.stop();
    if (spillDir) rmSync(spillDir, { recursive: true, force: true });
  });

  it('runs graphs, fails a failing one, uses futures across graphs', async () => {
    const { graph, expected } = mapReduce(500);
    expect((await weft.compute(graph, 'total')).result).toBe(expected);
    expect(await weft.compute({ bad: task('fail', 'no') }, 'bad')).toMatchObject({
      status: 'failed',
      error: { key: 'bad', message: 'no' },
    });
    const persisted = await weft.submit({ graph: { a: task('sleep', 200, 41) }, keys: 'a', persist: true });
    const used = await weft.compute({ b: task('inc', oid(persisted.body.outputs.$oid)) }, 'b');
    expect(used).toMatchObject({ status: 'done', result: 42 });
  });

  it('spills over the budget and reads spilled values back', async () => {
    const CHUNK = 32_768; // float64: 256 KiB
    const graph = Object.fromEntries(
      Array.from({ length: 48 }, (_, i) => [`c${i}`, task('array.arange', i * CHUNK, (i + 1) * CHUNK, 1, 'float64')]),
    );
    const persisted = await weft.submit({ graph, keys: Object.keys(graph), persist: true });
    const chunks = persisted.body.outputs as { $oid: string }[];
    const reduce: Record<string, unknown> = {};
    chunks.forEach((c, i) => (reduce[`m${i}`] = task('array.moments', oid(c.$oid))));
    reduce.total = task(
      'array.combine_moments',
      chunks.map((_, i) => ref(`m${i}`)),
    );
    reduce.sum = task('array.finalize', ref('total'), 'sum');
    const n = 48 * CHUNK;
    expect((await weft.compute(reduce, 'sum', { wait: 120 })).result).toBe((n * (n - 1)) / 2);
    const stats = (await (await fetch(`${weft.url}/v1/stats`)).json()) as any;
    expect(stats.spill.total_bytes).toBeGreaterThan(1024 * 1024);
    expect(stats.memory.used_bytes).toBeGreaterThan(0);
    const spilled = await Promise.all(
      chunks.map(async (c) => ((await (await fetch(`${weft.url}/v1/objects/${c.$oid}/meta`)).json()) as any).location),
    );
    expect(spilled).toContain('disk');
  });

  it('events, workers, graphs and metrics work; every weft key is in the one slot of the prefix', async () => {
    const res = await weft.submit({ graph: { x: task('sleep', 100, 1), y: task('inc', ref('x')) }, keys: 'y' });
    const sse = await (
      await fetch(`${weft.url}/v1/graphs/${res.body.id}/events`, { headers: { accept: 'text/event-stream' } })
    ).text();
    expect(sse).toContain('event: finish');
    expect(((await (await fetch(`${weft.url}/v1/workers`)).json()) as any).workers).toHaveLength(2);
    expect(((await (await fetch(`${weft.url}/v1/graphs`)).json()) as any).graphs[0].id).toBe(res.body.id);
    const metrics = parsePrometheus(await (await fetch(`${weft.url}/metrics`)).text());
    expect(metrics.value('weft_tasks_failed_total')).toBe(1);
    expect(metrics.value('weft_workers')).toBe(2);
    expect(metrics.value('weft_store_memory_bytes')).toBeGreaterThan(0);

    const counts = await Promise.all(
      cluster.nodes.map(async (node) => {
        const r = new Redis(node.url);
        try {
          return (await r.keys(`{${tag}}*`)).length;
        } finally {
          r.disconnect();
        }
      }),
    );
    expect(counts.filter((c) => c > 0)).toHaveLength(1);
  });
});
