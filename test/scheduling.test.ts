/**
 * Scheduling policy: worker pools (a task runs only on a worker serving its
 * pool; with none it waits, and the graph says for which pool), per-task
 * options over graph options, priorities among ready tasks, and fairness
 * between graphs (a small graph is not stuck behind a big one).
 */
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from './helpers/wait.ts';
import { startWeft, type Weft } from './helpers/weft.ts';

async function json(url: string): Promise<any> {
  return (await fetch(url)).json();
}

describe('pools', () => {
  let weft: Weft;
  let gpuPid: number;
  beforeAll(async () => {
    weft = await startWeft({ workers: 1 });
    gpuPid = (await weft.startWorker({ WEFT_POOLS: 'gpu' })).pid!;
  });
  afterAll(() => weft?.close());

  it("every task lands on a worker of its pool; task options override the graph's", async () => {
    const graph: Record<string, unknown> = {};
    for (let i = 0; i < 12; i++) graph[`g${i}`] = { $op: 'sleep', args: [5, i], options: { pool: 'gpu' } };
    for (let i = 0; i < 12; i++) graph[`c${i}`] = { $op: 'sleep', args: [5, i] };
    graph.back = {
      $op: 'sum',
      args: [Array.from({ length: 12 }, (_, i) => ({ $ref: `g${i}` }))],
      options: { pool: 'default' },
    };
    graph.total = {
      $op: 'add',
      args: [{ $ref: 'back' }, { $op: 'sum', args: [Array.from({ length: 12 }, (_, i) => ({ $ref: `c${i}` }))] }],
    };
    // The graph's default pool is gpu: keys without their own pool (c*, total) run there.
    const res = await weft.compute(graph, 'total', { options: { pool: 'gpu', optimize: { fuse: false } } });
    expect(res.status, JSON.stringify(res.error)).toBe('done');
    expect(res.result).toBe(2 * 66);
    const { tasks } = await json(`${weft.url}/v1/graphs/${res.id}/tasks`);
    const onGpu = (t: any) => String(t.worker).includes(`-${gpuPid}-`);
    expect(tasks).toHaveLength(26);
    for (const t of tasks) expect(onGpu(t), `${t.key} ran on ${t.worker}`).toBe(t.key !== 'back');
    // The classes are scheduling state: gone with the graph's end.
    const redis = new Redis(weft.env.REDIS_URL);
    expect(await redis.exists(`${weft.env.WEFT_PREFIX}:{${res.id}}:cls`)).toBe(0);
    redis.disconnect();
    const workers = (await json(`${weft.url}/v1/workers`)).workers as { pid: number; pools: string[] }[];
    expect(workers.find((w) => w.pid === gpuPid)?.pools).toEqual(['gpu']);
    expect(workers.find((w) => w.pid !== gpuPid)?.pools).toEqual(['default']);
  });

  it('a task whose pool has no worker waits, the graph says which pool, and it runs when such a worker starts', async () => {
    const { body } = await weft.submit({
      graph: { a: { $op: 'inc', args: [1] }, b: { $op: 'inc', args: [{ $ref: 'a' }], options: { pool: 'tpu' } } },
      keys: 'b',
      options: { optimize: { fuse: false } },
    });
    const waiting = await waitFor('task a to finish', async () => {
      const info = await json(`${weft.url}/v1/graphs/${body.id}`);
      return info.progress.done > 0 && info;
    });
    expect(waiting.status).toBe('running');
    expect(waiting.progress.done).toBe(1);
    expect(waiting.waiting_for_pools).toEqual(['tpu']);
    await weft.startWorker({ WEFT_POOLS: 'tpu' });
    const out = await json(`${weft.url}/v1/graphs/${body.id}/result?wait=20`);
    expect(out.status).toBe('done');
    expect(out.result).toBe(3);
    expect((await json(`${weft.url}/v1/graphs/${body.id}`)).waiting_for_pools).toBeUndefined();
  });

  it('bad pool and priority options are rejected', async () => {
    for (const [options, problem] of [
      [{ pool: 'has space' }, /"pool" must be a pool name/],
      [{ priority: 11 }, /"priority" must be an integer from -10 to 10/],
    ] as const) {
      const res = await weft.submit({ graph: { x: { $op: 'inc', args: [1], options } }, keys: 'x' });
      expect(res.status).toBe(400);
      expect(res.body.error.message).toMatch(problem);
    }
    const graphLevel = await weft.submit({ graph: { x: 1 }, keys: 'x', options: { priority: -11 } });
    expect(graphLevel.status).toBe(400);
    expect(graphLevel.body.error.code).toBe('invalid_request');
  });
});

describe('priorities and fairness', () => {
  let weft: Weft;
  beforeAll(async () => {
    // One job at a time, one task per job: the order of pretask events is the dispatch order.
    weft = await startWeft({ workers: 1, env: { WEFT_CONCURRENCY: '1', WEFT_BUNDLE_MAX: '1' } });
  });
  afterAll(() => weft?.close());

  it('among ready tasks, higher priority runs first; the graph priority is the default', async () => {
    const graph: Record<string, unknown> = { gate: { $op: 'sleep', args: [50, 0] } };
    const priorities = [0, 5, -3, 10, 5, -10, 2, 0];
    priorities.forEach(
      (p, i) => (graph[`t${i}`] = { $op: 'add', args: [{ $ref: 'gate' }, i], options: { priority: p } }),
    );
    graph.low = { $op: 'add', args: [{ $ref: 'gate' }, 100] }; // the graph's priority: -5
    const keys = [...priorities.map((_, i) => `t${i}`), 'low'];
    const res = await weft.compute(graph, keys, { options: { priority: -5, optimize: { fuse: false } } });
    expect(res.status, JSON.stringify(res.error)).toBe('done');
    const { events } = await json(`${weft.url}/v1/graphs/${res.id}/events`);
    const order = events.filter((e: any) => e.type === 'pretask' && e.key !== 'gate').map((e: any) => e.key);
    const byPriority = (k: string) => (k === 'low' ? -5 : priorities[Number(k.slice(1))]);
    expect(order.map(byPriority)).toEqual([...order.map(byPriority)].sort((a, b) => b - a));
    expect(order).toHaveLength(9);
  });

  it('a small graph submitted while a big one runs is served at once, not after it', async () => {
    const big: Record<string, unknown> = {};
    for (let i = 0; i < 600; i++) big[`b${i}`] = { $op: 'sleep', args: [3, i] };
    big.all = { $op: 'sum', args: [Array.from({ length: 600 }, (_, i) => ({ $ref: `b${i}` }))] };
    const { body: bigGraph } = await weft.submit({ graph: big, keys: 'all' });
    await waitFor('the big graph to be under way', async () => {
      const info = await json(`${weft.url}/v1/graphs/${bigGraph.id}`);
      return info.progress.done > 0;
    });
    const t0 = Date.now();
    const small = await weft.compute(
      {
        a: { $op: 'inc', args: [1] },
        b: { $op: 'inc', args: [{ $ref: 'a' }] },
        c: { $op: 'inc', args: [{ $ref: 'b' }] },
      },
      'c',
      { options: { optimize: { fuse: false } } },
    );
    const smallMs = Date.now() - t0;
    expect(small.status).toBe('done');
    expect(small.result).toBe(4);
    const bigNow = await json(`${weft.url}/v1/graphs/${bigGraph.id}`);
    // The big graph was still far from done: the small one did not wait for it.
    expect(bigNow.status).toBe('running');
    expect(bigNow.progress.done).toBeLessThan(500);
    const out = await json(`${weft.url}/v1/graphs/${bigGraph.id}/result?wait=60`);
    expect(out.result).toBe((599 * 600) / 2);
    console.log(
      `small graph while a big one ran: ${smallMs} ms; the big graph was at ${bigNow.progress.done}/${bigNow.progress.total}`,
    );
  });
});
