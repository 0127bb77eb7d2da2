/**
 * A worker process killed with SIGKILL mid-graph loses nothing: BullMQ's stall
 * detection hands its jobs to the other worker, which re-runs the lost tasks
 * and re-enqueues what the dead worker had made ready.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startWeft, type Weft } from './helpers/weft.ts';

let weft: Weft;
beforeAll(async () => {
  weft = await startWeft({ workers: 2, env: { WEFT_BUNDLE_MAX: '2', WEFT_CONCURRENCY: '4' } });
});
afterAll(() => weft?.close());

it('SIGKILL of a worker during a graph: the graph finishes with the right result', async () => {
  const n = 1200;
  const graph: Record<string, unknown> = {};
  for (let i = 0; i < n; i++) graph[`x${i}`] = { $op: 'sleep', args: [25, { $op: 'inc', args: [i] }] };
  for (let j = 0; j < n / 100; j++) graph[`s${j}`] = { $op: 'sum', args: [Array.from({ length: 100 }, (_, k) => ({ $ref: `x${j * 100 + k}` }))] };
  graph.total = { $op: 'sum', args: [Array.from({ length: n / 100 }, (_, j) => ({ $ref: `s${j}` }))] };

  const { body } = await weft.submit({ graph, keys: 'total' });
  const status = async () => (await (await fetch(`${weft.url}/v1/graphs/${body.id}`)).json()) as any;

  // Kill the first worker once the graph is under way, with tasks in flight.
  for (;;) {
    const info = await status();
    if (info.progress.done >= 100) break;
    await new Promise((r) => setTimeout(r, 20));
  }
  const victim = weft.workers[0];
  expect(victim.kill('SIGKILL')).toBe(true);
  await new Promise((r) => victim.once('exit', r));
  const before = await status();
  expect(before.status).toBe('running');
  expect(before.progress.done).toBeLessThan(before.progress.total);

  const res = await fetch(`${weft.url}/v1/graphs/${body.id}/result?wait=60`);
  const out = (await res.json()) as any;
  expect(out.status).toBe('done');
  expect(out.result).toBe((n * (n + 1)) / 2);
  const after = await status();
  expect(after.progress.done).toBe(after.progress.total);
});
