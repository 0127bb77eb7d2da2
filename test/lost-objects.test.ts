/**
 * Lost objects. An intermediate of a running graph whose bytes are gone (its
 * key deleted, its spill file removed) is computed again from the graph's
 * lineage when a task needs it; what has no lineage (an object of another
 * graph, a graph that ended) fails cleanly with object_lost.
 */
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeSpec } from '../src/queue/spec.ts';
import { startRedis, type TestRedis } from './helpers/redis.ts';
import { waitFor } from './helpers/wait.ts';
import { startWeft, type Weft } from './helpers/weft.ts';

const MB = 1024 * 1024;

async function eventsOf(weft: Weft, id: string): Promise<any[]> {
  return ((await (await fetch(`${weft.url}/v1/graphs/${id}/events`)).json()) as any).events;
}

/** The vals field of each task key of a graph, from its specs. */
async function fieldsByKey(admin: Redis, weft: Weft, graph: string): Promise<Map<string, string>> {
  const specs = await admin.hgetallBuffer(`${weft.env.WEFT_PREFIX}:{${graph}}:spec`);
  return new Map(Object.entries(specs).map(([index, spec]) => [decodeSpec(spec).key, index]));
}

describe('in memory', () => {
  let weft: Weft;
  let admin: Redis;
  beforeAll(async () => {
    weft = await startWeft({ workers: 1 });
    admin = new Redis(weft.env.REDIS_URL);
  });
  afterAll(async () => {
    admin?.disconnect();
    await weft?.close();
  });

  it('a deleted intermediate is computed again from lineage (two levels deep) when its consumer runs', async () => {
    const graph = {
      base: { $op: 'array.arange', args: [0, 100_000] },
      x: { $op: 'array.mul', args: [{ $ref: 'base' }, 2] },
      gate: { $op: 'sleep', args: [700, 0] },
      y: { $op: 'array.sum', args: [{ $op: 'array.add', args: [{ $ref: 'x' }, { $ref: 'gate' }] }] },
    };
    const { body } = await weft.submit({ graph, keys: 'y', options: { optimize: { fuse: false } } });
    await waitFor('x to finish', async () =>
      (await eventsOf(weft, body.id)).some((e) => e.type === 'posttask' && e.key === 'x'),
    );
    const fields = await fieldsByKey(admin, weft, body.id);
    const vals = `${weft.env.WEFT_PREFIX}:{${body.id}}:vals`;
    // base was freed once x read it; x is deleted behind the store's back: both must come from lineage.
    expect(await admin.hdel(vals, fields.get('x')!)).toBe(1);
    const out = (await (await fetch(`${weft.url}/v1/graphs/${body.id}/result?wait=30`)).json()) as any;
    expect(out.status, JSON.stringify(out.error)).toBe('done');
    expect(out.result).toBe(2 * ((100_000 * 99_999) / 2));
    const stats = (await (await fetch(`${weft.url}/v1/stats`)).json()) as any;
    expect(stats.lineage.recomputed).toBeGreaterThanOrEqual(2);
  });

  it('a deleted object of another graph has no lineage here: the task fails with object_lost naming it', async () => {
    const put = (await (
      await fetch(`${weft.url}/v1/objects`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify([1, 2, 3]),
      })
    ).json()) as any;
    const graph = {
      gate: { $op: 'sleep', args: [500, 0] },
      y: { $op: 'concat', args: [[{ $oid: put.$oid }, [{ $ref: 'gate' }]]] },
    };
    const { body } = await weft.submit({ graph, keys: 'y', options: { optimize: { fuse: false } } });
    const [g, node] = put.$oid.split('.');
    await admin.hdel(`${weft.env.WEFT_PREFIX}:{${g}}:vals`, node);
    const out = (await (await fetch(`${weft.url}/v1/graphs/${body.id}/result?wait=30`)).json()) as any;
    expect(out.status).toBe('failed');
    expect(out.error).toMatchObject({ code: 'object_lost', key: 'y', object: put.$oid });
  });
});

describe('on disk', () => {
  let redis: TestRedis;
  let weft: Weft;
  let spillDir: string;
  beforeAll(async () => {
    redis = await startRedis();
    spillDir = mkdtempSync(join(tmpdir(), 'weft-lost-'));
    weft = await startWeft({
      workers: 1,
      redisUrl: redis.url,
      env: { STORE_MEMORY_LIMIT: String(6 * MB), SPILL_DIR: spillDir, WEFT_CONCURRENCY: '2' },
    });
  });
  afterAll(async () => {
    await weft?.close();
    await redis?.stop();
    rmSync(spillDir, { recursive: true, force: true });
  });

  it('intermediates whose spill files were deleted are computed again; a persisted output whose file is gone answers 410 object_lost', async () => {
    const n = 8;
    const graph: Record<string, unknown> = { gate: { $op: 'sleep', args: [2500, 0] } };
    for (let i = 0; i < n; i++) {
      graph[`c${i}`] = { $op: 'array.arange', args: [i * 262_144, (i + 1) * 262_144, 1, 'float64'] };
      graph[`s${i}`] = { $op: 'array.sum', args: [{ $op: 'array.add', args: [{ $ref: `c${i}` }, { $ref: 'gate' }] }] };
    }
    graph.total = { $op: 'sum', args: [Array.from({ length: n }, (_, i) => ({ $ref: `s${i}` }))] };
    const { body } = await weft.submit({ graph, keys: 'total', options: { optimize: { fuse: false } } });
    const spilled = async () => ((await (await fetch(`${weft.url}/v1/stats`)).json()) as any).spill.objects;
    await waitFor('chunks to spill', async () => (await spilled()) >= 2);
    const files = readdirSync(spillDir).filter((f) => f.endsWith('.spill'));
    expect(files.length).toBeGreaterThan(0);
    for (const f of files) rmSync(join(spillDir, f));
    const out = (await (await fetch(`${weft.url}/v1/graphs/${body.id}/result?wait=60`)).json()) as any;
    expect(out.status, JSON.stringify(out.error)).toBe('done');
    const total = n * 262_144;
    expect(out.result).toBe((total * (total - 1)) / 2);
    expect(((await (await fetch(`${weft.url}/v1/stats`)).json()) as any).lineage.recomputed).toBeGreaterThan(0);

    // A persisted graph's outputs have no lineage once it ended.
    const persisted: Record<string, unknown> = {};
    for (let i = 0; i < n; i++) persisted[`p${i}`] = { $op: 'array.ones', args: [[262_144]] };
    const p = (await (
      await fetch(`${weft.url}/v1/graphs`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ graph: persisted, keys: Object.keys(persisted), persist: true }),
      })
    ).json()) as any;
    await fetch(`${weft.url}/v1/graphs/${p.id}/result?wait=30`);
    const metas = await Promise.all(
      p.outputs.map(
        async (o: { $oid: string }) => (await (await fetch(`${weft.url}/v1/objects/${o.$oid}/meta`)).json()) as any,
      ),
    );
    const onDisk = metas.find((m) => m.location === 'disk');
    expect(onDisk, 'some output spilled').toBeDefined();
    for (const f of readdirSync(spillDir).filter((f) => f.endsWith('.spill'))) rmSync(join(spillDir, f));
    for (const accept of ['application/json', 'application/msgpack']) {
      const lost = await fetch(`${weft.url}/v1/objects/${onDisk.oid}`, { headers: { accept } });
      expect(lost.status, accept).toBe(410);
      expect(((await lost.json()) as any).error).toMatchObject({ code: 'object_lost', oid: onDisk.oid });
    }
  });
});
