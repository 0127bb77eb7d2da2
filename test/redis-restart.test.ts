/**
 * Redis going away and coming back (with AOF on, as `npm start` and the
 * compose file run it): the graph that was running continues, the API and
 * the workers reconnect by themselves, and while Redis is away the API
 * answers 503 service_unavailable instead of hanging.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startRedis, type TestRedis } from './helpers/redis.ts';
import { waitFor } from './helpers/wait.ts';
import { startWeft, type Weft } from './helpers/weft.ts';

let redis: TestRedis;
let weft: Weft;
beforeAll(async () => {
  redis = await startRedis(['--appendonly', 'yes', '--appendfsync', 'everysec']);
  weft = await startWeft({ workers: 2, redisUrl: redis.url });
});
afterAll(async () => {
  await weft?.close();
  await redis?.stop();
});

it('a running graph finishes after a Redis restart; API and workers reconnect without restarting', async () => {
  // 20 layers of 20 tasks of 25 ms, each layer summing the one before: about 2 s of work.
  const graph: Record<string, unknown> = {};
  for (let i = 0; i < 20; i++) graph[`l0-${i}`] = { $op: 'sleep', args: [25, i] };
  for (let l = 1; l < 20; l++) {
    for (let i = 0; i < 20; i++)
      graph[`l${l}-${i}`] = { $op: 'sleep', args: [25, { $op: 'add', args: [{ $ref: `l${l - 1}-${i}` }, 1] }] };
  }
  graph.total = { $op: 'sum', args: [Array.from({ length: 20 }, (_, i) => ({ $ref: `l19-${i}` }))] };
  const { body } = await weft.submit({ graph, keys: 'total', options: { optimize: { fuse: false } } });
  const status = async () => (await (await fetch(`${weft.url}/v1/graphs/${body.id}`)).json()) as any;
  await waitFor('60 tasks done', async () => (await status()).progress.done >= 60);

  await redis.halt();
  const t0 = Date.now();
  const down = await fetch(`${weft.url}/v1/graphs/${body.id}`);
  expect(down.status).toBe(503);
  expect(((await down.json()) as any).error.code).toBe('service_unavailable');
  expect(Date.now() - t0).toBeLessThan(5000);
  // Not a wait for anything: the outage lasts a second, longer than any task (25 ms), so every
  // worker meets it with completions to store.
  await new Promise((r) => setTimeout(r, 1000));
  await redis.resume();

  const out = (await (await fetch(`${weft.url}/v1/graphs/${body.id}/result?wait=60`)).json()) as any;
  expect(out.status, JSON.stringify(out)).toBe('done');
  expect(out.result).toBe(Array.from({ length: 20 }, (_, i) => i + 19).reduce((a, b) => a + b, 0));
  // A new graph after the restart: the same API and workers serve it.
  const again = await weft.compute({ a: { $op: 'inc', args: [1] } }, 'a');
  expect(again.status).toBe('done');
  expect(again.result).toBe(2);
  expect(weft.workers.every((w) => w.exitCode === null)).toBe(true);
}, 120_000);
