/**
 * A worker's rehearsal (src/workers/rehearsal.ts): a graph of its own run
 * through the job loop at start, under a prefix of its own, leaving nothing
 * behind and nothing a client sees.
 */
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it, inject } from 'vitest';
import { loadConfig } from '../../src/config.ts';
import { loadRegistry } from '../../src/ops/load.ts';
import { OpRegistry } from '../../src/ops/registry.ts';
import { wideGraph } from '../../src/graph/wide.ts';
import { rehearse } from '../../src/workers/rehearsal.ts';
import { startWeft, type Weft } from '../helpers/weft.ts';

const redis = new Redis(inject('redisUrl'));
afterAll(() => redis.disconnect());

async function keysUnder(prefix: string): Promise<string[]> {
  const found: string[] = [];
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
    found.push(...keys);
    cursor = next;
  } while (cursor !== '0');
  return found;
}

describe('rehearsal', () => {
  it('runs its graph to the checked result through a worker of its own and deletes every key it wrote', async () => {
    const prefix = `t${randomBytes(4).toString('hex')}`;
    const config = loadConfig({ REDIS_URL: inject('redisUrl'), WEFT_PREFIX: prefix, WEFT_WORKER_REHEARSAL: '3000' });
    const report = await rehearse(config, await loadRegistry([]));
    // 3,000 inc, 30 sums of 100, one sum of 30.
    expect(report).toMatchObject({ tasks: 3031, done: true });
    expect(await keysUnder(prefix)).toEqual([]);
  });

  it('is skipped at 0 and without the ops it needs', async () => {
    const config = loadConfig({ REDIS_URL: inject('redisUrl'), WEFT_WORKER_REHEARSAL: '0' });
    expect(await rehearse(config, await loadRegistry([]))).toEqual({ tasks: 0, done: false, ms: 0 });
    const on = loadConfig({ REDIS_URL: inject('redisUrl'), WEFT_WORKER_REHEARSAL: '100' });
    expect(await rehearse(on, new OpRegistry())).toEqual({ tasks: 0, done: false, ms: 0 });
  });

  it('rehearses the wide graph, whose result is the sum of its incs', () => {
    const { graph, key, expected, tasks } = wideGraph(250, 100);
    expect(Object.keys(graph)).toHaveLength(250 + 3 + 1);
    expect(tasks).toBe(254);
    expect(key).toBe('sum-1-0');
    expect(expected).toBe((250 * 251) / 2);
    expect(wideGraph(1, 100)).toEqual({
      graph: { 'inc-0': { $op: 'inc', args: [0] } },
      key: 'inc-0',
      expected: 1,
      tasks: 1,
    });
  });

  describe('in a worker process', () => {
    let weft: Weft;
    afterAll(async () => weft?.close());

    it('happens before the worker takes jobs, and clients see neither its graph nor its worker', async () => {
      weft = await startWeft({ workers: 0 });
      const worker = await weft.startWorker({ WEFT_WORKER_REHEARSAL: '2000' });
      expect(weft.logs()).toMatch(/running \(.*rehearsed 2021 tasks in \d+ ms\)/);
      expect(worker.exitCode).toBeNull();
      const res = await weft.compute({ x: 1, y: { $op: 'inc', args: [{ $ref: 'x' }] } }, 'y');
      expect(res).toMatchObject({ status: 'done', result: 2 });
      const graphs = (await (await fetch(`${weft.url}/v1/graphs`)).json()) as { graphs: unknown[] };
      expect(graphs.graphs).toHaveLength(1);
      const workers = (await (await fetch(`${weft.url}/v1/workers`)).json()) as { workers: unknown[] };
      expect(workers.workers).toHaveLength(1);
      expect((await keysUnder(`${weft.env.WEFT_PREFIX}:rehearsal:`)).sort()).toEqual([]);
    });
  });
});
