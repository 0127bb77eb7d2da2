/**
 * Intermediates are freed as soon as their last consumer finishes: a
 * map-reduce over 1 MB values holds a few values per running job in the
 * store, not all of them.
 */
import { Redis } from 'ioredis';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startWeft, type Weft } from './helpers/weft.ts';
import { ref, task } from './helpers/nodes.ts';

const WORKERS = 2;
const CONCURRENCY = 4;
let weft: Weft;
let redis: Redis;
beforeAll(async () => {
  weft = await startWeft({
    workers: WORKERS,
    env: { WEFT_OPS: 'test/fixtures/ops/counting.ts', WEFT_CONCURRENCY: String(CONCURRENCY) },
  });
  redis = new Redis(weft.env.REDIS_URL);
});
afterAll(async () => {
  redis?.disconnect();
  await weft?.close();
});

const MB = 1_000_000;

it('a 1,000-task map-reduce over 1 MB values never holds more than a small multiple of concurrency x 1 MB', async () => {
  const graph: Record<string, unknown> = {};
  for (let i = 0; i < 1000; i++) graph[`map-${i}`] = task('test.bytes', MB);
  for (let j = 0; j < 500; j++)
    graph[`pair-${j}`] = task('add', task('len', ref(`map-${2 * j}`)), task('len', ref(`map-${2 * j + 1}`)));
  for (let k = 0; k < 5; k++)
    graph[`part-${k}`] = task(
      'sum',
      Array.from({ length: 100 }, (_, j) => ref(`pair-${k * 100 + j}`)),
    );
  graph.total = task(
    'sum',
    Array.from({ length: 5 }, (_, k) => ref(`part-${k}`)),
  );

  const { body } = await weft.submit({ graph, keys: 'total' });
  const vals = `${weft.env.WEFT_PREFIX}:{${body.id}}:vals`;
  const storeBytes = `local n = 0 for _, f in ipairs(redis.call('HKEYS', KEYS[1])) do n = n + redis.call('HSTRLEN', KEYS[1], f) end return n`;
  let peak = 0;
  let samples = 0;
  for (;;) {
    peak = Math.max(peak, (await redis.eval(storeBytes, 1, vals)) as number);
    samples++;
    const status = await redis.hget(`${weft.env.WEFT_PREFIX}:{${body.id}}:meta`, 'status');
    if (status !== 'queued' && status !== 'running') break;
    await new Promise((r) => setTimeout(r, 2));
  }
  const res = (await (await fetch(`${weft.url}/v1/graphs/${body.id}/result`)).json()) as any;
  expect(res.status).toBe('done');
  expect(res.result).toBe(1000 * MB);
  expect(samples).toBeGreaterThan(20);
  // Each running job holds about one batch (1 MB) of maps plus the pair consuming them.
  const bound = 4 * WORKERS * CONCURRENCY * MB;
  expect(peak, `peak ${(peak / MB).toFixed(1)} MB over ${samples} samples`).toBeLessThanOrEqual(bound);
  expect(peak).toBeGreaterThan(0);
  console.log(`map-reduce store peak: ${(peak / MB).toFixed(1)} MB (bound ${bound / MB} MB)`);
});
