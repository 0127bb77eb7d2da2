/**
 * A worker process killed with SIGKILL mid-graph loses nothing: BullMQ's stall
 * detection hands its jobs to the other worker, which re-runs the lost tasks
 * and re-enqueues what the dead worker had made ready.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { waitFor } from './helpers/wait.ts';
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
  for (let j = 0; j < n / 100; j++)
    graph[`s${j}`] = { $op: 'sum', args: [Array.from({ length: 100 }, (_, k) => ({ $ref: `x${j * 100 + k}` }))] };
  graph.total = { $op: 'sum', args: [Array.from({ length: n / 100 }, (_, j) => ({ $ref: `s${j}` }))] };

  const { body } = await weft.submit({ graph, keys: 'total' });
  const status = async () => (await (await fetch(`${weft.url}/v1/graphs/${body.id}`)).json()) as any;

  // Kill the first worker once the graph is under way, with tasks in flight.
  await waitFor('100 tasks done', async () => (await status()).progress.done >= 100);
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

it('SIGKILL of a worker 3 times during a 10,000-task graph: the right result, and no output ever replaced by a second run', async () => {
  const lossy = await startWeft({
    workers: 3,
    env: { WEFT_OPS: 'test/fixtures/ops/faults.ts', WEFT_CONCURRENCY: '4' },
  });
  try {
    const n = 10_000;
    const groups = 100;
    const graph: Record<string, unknown> = {};
    for (let i = 0; i < n; i++) graph[`x${i}`] = { $op: 'faults.nonce', args: [i, 2] };
    for (let j = 0; j < groups; j++)
      graph[`g${j}`] = {
        $op: 'identity',
        args: [Array.from({ length: n / groups }, (_, k) => ({ $ref: `x${j * (n / groups) + k}` }))],
      };
    graph.all = { $op: 'concat', args: [Array.from({ length: groups }, (_, j) => ({ $ref: `g${j}` }))] };
    const groupKeys = Array.from({ length: groups }, (_, j) => `g${j}`);
    const { body } = await lossy.submit({
      graph,
      keys: ['all', groupKeys, ['x0', 'x5000', 'x9999']],
      options: { optimize: { fuse: false } },
    });
    expect(body.id, JSON.stringify(body)).toBeDefined();
    const status = async () => (await (await fetch(`${lossy.url}/v1/graphs/${body.id}`)).json()) as any;

    let kills = 0;
    for (const at of [0.15, 0.4, 0.65]) {
      const info = await waitFor(
        `${at * 100}% of the tasks done`,
        async () => {
          const now = await status();
          return (now.status === 'failed' || now.progress.done >= at * now.progress.total) && now;
        },
        { timeoutMs: 60_000 },
      );
      expect(info.status, JSON.stringify(info.error)).not.toBe('failed');
      const victim = lossy.workers.find((w) => w.exitCode === null && w.signalCode === null)!;
      expect(victim.kill('SIGKILL')).toBe(true);
      await new Promise((r) => victim.once('exit', r));
      kills++;
      await lossy.startWorker();
    }
    expect(kills).toBe(3);

    const out = (await (await fetch(`${lossy.url}/v1/graphs/${body.id}/result?wait=120`)).json()) as any;
    expect(out.status, JSON.stringify(out.error)).toBe('done');
    const [all, groupValues, leaves] = out.result as [string[], string[][], string[]];
    expect(all).toHaveLength(n);
    all.forEach((v, i) => expect(v.split(':')[0]).toBe(String(i)));
    // What the final task read is what each group's stored object holds, and what the leaves hold:
    // no value seen by one reader was later replaced by another run's.
    expect(groupValues.flat()).toEqual(all);
    expect(leaves).toEqual([all[0], all[5000], all[9999]]);
    for (const [j, ref] of (out.outputs[1] as { $oid: string }[]).entries()) {
      if (j % 25 !== 0) continue;
      expect(await (await fetch(`${lossy.url}/v1/objects/${ref.$oid}`)).json()).toEqual(groupValues[j]);
    }
    const info = await status();
    expect(info.progress.done).toBe(info.progress.total);
    // How many tasks the kills made run twice (usually some: it depends on what each victim held at that instant).
    const timings = ((await (await fetch(`${lossy.url}/v1/graphs/${body.id}/tasks`)).json()) as any).tasks as {
      attempts: number;
    }[];
    console.log(
      `3 kills during a 10,000-task graph: ${timings.filter((t) => t.attempts > 1).length} tasks ran more than once`,
    );
  } finally {
    await lossy.close();
  }
}, 180_000);
