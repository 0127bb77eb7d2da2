/** GET /v1/workers (the worker registry, heartbeats, dead workers leaving) and GET /v1/graphs (recent graphs). */
import { hostname } from 'node:os';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addHeartbeat, ServedPools } from '../src/queue/workers.ts';
import { waitFor } from './helpers/wait.ts';
import { startWeft, type Weft } from './helpers/weft.ts';
import { ref, task } from './helpers/nodes.ts';

const TIMEOUT_MS = 1500;
let weft: Weft;
let redis: Redis;
beforeAll(async () => {
  weft = await startWeft({ workers: 2, env: { WEFT_WORKER_TIMEOUT_MS: String(TIMEOUT_MS), WEFT_CONCURRENCY: '3' } });
  redis = new Redis(weft.env.REDIS_URL);
});
afterAll(async () => {
  redis?.disconnect();
  await weft?.close();
});

const get = async (path: string) => {
  const res = await fetch(`${weft.url}${path}`);
  return { status: res.status, body: (await res.json()) as any };
};
const workers = async () => (await get('/v1/workers')).body.workers as any[];
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('GET /v1/workers', () => {
  it('lists each worker process with its details', async () => {
    const { body } = await get('/v1/workers');
    expect(body.timeout_ms).toBe(TIMEOUT_MS);
    expect(body.workers.map((w: any) => w.pid).sort()).toEqual(weft.workers.map((c) => c.pid).sort());
    for (const w of body.workers) {
      expect(w).toMatchObject({ host: hostname(), concurrency: 3, running: 0, jobs: 0, tasks_failed: 0 });
      expect(w.id).toContain(String(w.pid));
      expect(Date.now() - w.heartbeat).toBeLessThan(TIMEOUT_MS);
      expect(w.started).toBeLessThanOrEqual(w.heartbeat);
    }
  });

  it('reports running tasks while they run, and tasks done after', async () => {
    const before = (await workers()).reduce((s, w) => s + w.tasks_done, 0);
    const graph = Object.fromEntries(Array.from({ length: 6 }, (_, i) => [`s${i}`, task('sleep', 900, i)]));
    const { body } = await weft.submit({ graph, keys: Object.keys(graph) });
    const running = await waitFor('a heartbeat with running tasks', async () =>
      (await workers()).reduce((s, w) => s + w.running, 0),
    );
    expect(running).toBeLessThanOrEqual(6);
    await fetch(`${weft.url}/v1/graphs/${body.id}/result?wait=30`);
    // The heartbeats after the graph: every task counted once, nothing running.
    await waitFor('heartbeats with the 6 tasks done and every worker idle', async () => {
      const after = await workers();
      expect(after.reduce((s, w) => s + w.tasks_done, 0) - before).toBe(6);
      expect(after.map((w) => [w.running, w.jobs])).toEqual(after.map(() => [0, 0]));
      return true;
    });
  });

  it('a killed worker disappears after the timeout; a stopped one at once', async () => {
    const [killed, stopped] = weft.workers;
    killed.kill('SIGKILL');
    await new Promise((r) => killed.once('exit', r));
    const lastBeat = (await workers()).find((w) => w.pid === killed.pid)?.heartbeat;
    expect(lastBeat).toBeDefined();
    await waitFor('the killed worker to leave the list and Redis', async () => {
      expect((await workers()).map((w) => w.pid)).toEqual([stopped.pid]);
      // Gone from Redis too, not only hidden.
      expect(await redis.zcard(`${weft.env.WEFT_PREFIX}:workers`)).toBe(1);
      return true;
    });
    // Not before its timeout ran out.
    expect(Date.now() - lastBeat).toBeGreaterThanOrEqual(TIMEOUT_MS);
    expect((await get('/healthz')).body.workers).toBe(1);

    stopped.kill('SIGTERM');
    await new Promise((r) => stopped.once('exit', r));
    expect(await workers()).toEqual([]);
  });
});

describe('GET /v1/graphs', () => {
  // The tests above stopped both workers.
  beforeAll(async () => {
    await weft.startWorker();
  });

  it('lists graphs newest first with status, progress and keys; filters and limits', async () => {
    const a = await weft.compute({ x: 1, y: task('inc', ref('x')) }, 'y');
    const b = await weft.compute({ bad: task('fail', 'nope') }, 'bad');
    const c = await weft.submit({ graph: { s: task('sleep', 3000), t: task('inc', 1) }, keys: ['s', 't'] });
    const { status, body } = await get('/v1/graphs');
    expect(status).toBe(200);
    const ids = body.graphs.map((g: any) => g.id);
    expect(ids.slice(0, 3)).toEqual([c.body.id, b.id, a.id]);
    expect(body.graphs[0]).toMatchObject({
      status: expect.stringMatching(/queued|running/),
      keys: ['s', 't'],
      error: null,
      finished: null,
    });
    expect(body.graphs[0].progress.total).toBe(2);
    expect(body.graphs[1]).toMatchObject({ status: 'failed', keys: ['bad'], error: { key: 'bad', message: 'nope' } });
    expect(body.graphs[1].error.stack).toBeUndefined();
    expect(body.graphs[2]).toMatchObject({
      status: 'done',
      keys: ['y'],
      progress: { total: 1, done: 1, running: 0, failed: 0 },
    });

    expect((await get('/v1/graphs?limit=2')).body.graphs.map((g: any) => g.id)).toEqual([c.body.id, b.id]);
    expect((await get('/v1/graphs?status=failed')).body.graphs.map((g: any) => g.id)).toEqual([b.id]);
    await fetch(`${weft.url}/v1/graphs/${c.body.id}`, { method: 'DELETE' });
    expect((await get('/v1/graphs?status=cancelled&limit=1')).body.graphs[0]).toMatchObject({
      id: c.body.id,
      status: 'cancelled',
      error: { code: 'cancelled' },
    });
  });

  it('names a graph with many keys by its first five', async () => {
    const graph = Object.fromEntries(Array.from({ length: 2000 }, (_, i) => [`a-long-key-name-${i}`, i]));
    const res = await weft.compute(graph, Object.keys(graph));
    expect(res.status).toBe('done');
    expect((await get('/v1/graphs?limit=1')).body.graphs[0].keys).toEqual(Object.keys(graph).slice(0, 5));
  });

  it('a graph whose retention passed leaves the list', async () => {
    const res = await weft.compute({ x: 1, y: task('inc', ref('x')) }, 'y');
    await redis.del(`${weft.env.WEFT_PREFIX}:{${res.id}}:meta`);
    expect((await get('/v1/graphs')).body.graphs.map((g: any) => g.id)).not.toContain(res.id);
    expect(await redis.zscore(`${weft.env.WEFT_PREFIX}:graphs`, res.id)).toBeNull();
  });

  it('bad limits and states are 400 invalid_request', async () => {
    for (const q of ['limit=0', 'limit=1001', 'limit=many', 'status=sleeping']) {
      const { status, body } = await get(`/v1/graphs?${q}`);
      expect(status, q).toBe(400);
      expect(body.error.code).toBe('invalid_request');
      expect(body.error.message).toMatch(/querystring/);
    }
  });
});

describe('the pools live workers serve (ServedPools, behind waiting_for_pools)', () => {
  it('lists them once per second at most, then sees a new worker', async () => {
    const prefix = `${weft.env.WEFT_PREFIX}-pools`;
    const served = new ServedPools(redis, prefix, 60_000, 300);
    const beat = async (id: string, pools: string[]) => {
      const multi = redis.multi();
      addHeartbeat(
        multi,
        prefix,
        {
          id,
          host: 'h',
          pid: 1,
          concurrency: 1,
          running: 0,
          jobs: 0,
          tasks_done: 0,
          tasks_failed: 0,
          tasks_run_ahead: 0,
          started: Date.now(),
          heartbeat: Date.now(),
          pools,
        },
        60_000,
      );
      await multi.exec();
    };
    await beat('w1', ['default']);
    expect([...(await served.get())]).toEqual(['default']);
    await beat('w2', ['gpu', 'default']);
    // Within the cache's age (300 ms) the listing is not repeated; past it, it is.
    expect([...(await served.get())]).toEqual(['default']);
    await sleep(350);
    expect([...(await served.get())].sort()).toEqual(['default', 'gpu']);
  });
});
