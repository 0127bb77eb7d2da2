/**
 * Tasks leave no listener behind on what outlives them. A worker's shutdown
 * signal is shared by every task it runs, and Node warns
 * (MaxListenersExceededWarning) at 11 listeners on one signal: a worker
 * running more than 10 sleeping tasks at once printed it, and an op that
 * never removed its listener left one per task on the signal for good.
 */
import { getEventListeners } from 'node:events';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseGraph } from '../src/graph/parse.ts';
import { plannedTemplate, planGraph } from '../src/graph/plan.ts';
import { defaultLimits } from '../src/graph/types.ts';
import { defineOp, OpRegistry, standardOps } from '../src/ops/index.ts';
import type { StartedTask } from '../src/queue/tasks.ts';
import { EventLoopEvaluator, type Outcome } from '../src/workers/evaluators.ts';
import { startWeft, type Weft } from './helpers/weft.ts';

/** The started tasks of a graph of `n` independent calls of `op`, inputs already there. */
function tasksOf(n: number, op: string, args: (i: number) => unknown[]): StartedTask[] {
  const keys = Array.from({ length: n }, (_, i) => `t${i}`);
  const graph = parseGraph(Object.fromEntries(keys.map((k, i) => [k, { $op: op, args: args(i) }])), defaultLimits);
  const plan = planGraph(graph, keys, { fuse: false });
  return plan.nodes.flatMap((node, index) =>
    node.kind === 'task' ? [{ ...node, template: plannedTemplate(node), index, inputs: [] }] : [],
  );
}

describe('the event-loop evaluator and the worker’s shutdown signal', () => {
  const ops = new OpRegistry();
  for (const op of standardOps) ops.register(op);
  // An op as a user might write it: it listens for the abort and never stops listening.
  ops.register(
    defineOp({
      name: 'test.listen',
      description: 'adds an abort listener it never removes',
      run: (args, _kw, ctx) => {
        ctx.signal.addEventListener('abort', () => {});
        return args[0];
      },
    }),
  );
  const listeners = (signal: AbortSignal) => getEventListeners(signal, 'abort').length;

  async function run(evaluator: EventLoopEvaluator, tasks: StartedTask[], during?: () => void): Promise<Outcome[]> {
    const outcomes: Outcome[] = [];
    const ran = evaluator.run('g', tasks, (_task, outcome) => outcomes.push(outcome));
    during?.();
    await ran;
    return outcomes;
  }

  it('200 tasks at once, sleeping or listening for good, add no listener to it', async () => {
    const shutdown = new AbortController();
    const evaluator = new EventLoopEvaluator(ops, shutdown.signal, 1 << 20);
    const baseline = listeners(shutdown.signal);
    let whileSleeping = -1;
    const slept = await run(
      evaluator,
      tasksOf(200, 'sleep', (i) => [10, i]),
      () => {
        whileSleeping = listeners(shutdown.signal);
      },
    );
    expect(slept.every((o) => 'values' in o)).toBe(true);
    expect(whileSleeping).toBe(baseline);
    const listened = await run(
      evaluator,
      tasksOf(200, 'test.listen', (i) => [i]),
    );
    expect(listened.every((o) => 'values' in o)).toBe(true);
    expect(listeners(shutdown.signal)).toBe(baseline);
  });

  it('still reaches every running task: shutting down aborts 20 long sleeps at once', async () => {
    const shutdown = new AbortController();
    const evaluator = new EventLoopEvaluator(ops, shutdown.signal, 1 << 20);
    const outcomes = await run(
      evaluator,
      tasksOf(20, 'sleep', () => [60_000]),
      () => shutdown.abort(),
    );
    expect(outcomes).toHaveLength(20);
    for (const o of outcomes) expect('error' in o && (o.error as Error).name).toBe('AbortError');
  });
});

describe('a worker running many tasks at once', () => {
  let weft: Weft;
  beforeAll(async () => {
    weft = await startWeft({ workers: 1, env: { WEFT_CONCURRENCY: '32' } });
  });
  afterAll(() => weft?.close());

  it('200 sleeping tasks, in up to 32 jobs of bundles at once: no MaxListenersExceededWarning', async () => {
    const keys = Array.from({ length: 200 }, (_, i) => `s${i}`);
    const graph = Object.fromEntries(keys.map((k, i) => [k, { $op: 'sleep', args: [20, i] }]));
    const res = await weft.compute(graph, keys);
    expect(res.status).toBe('done');
    expect(res.result).toEqual(keys.map((_, i) => i));
    expect(weft.logs()).not.toContain('MaxListenersExceededWarning');
  });
});
