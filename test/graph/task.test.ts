/** The task model (src/graph/task.ts): a task's options, its graph's applied, from the request to the plan. */
import { describe, expect, it } from 'vitest';
import { parseGraph } from '../../src/graph/parse.ts';
import { planGraph, type PlannedTask } from '../../src/graph/plan.ts';
import { graphTaskDefaults, withDefaults } from '../../src/graph/task.ts';

describe('task options', () => {
  it("a task's own options override its graph's, field by field", () => {
    expect(withDefaults({ retries: 0, priority: 3 }, { retries: 2, pool: 'gpu', timeoutMs: 100 })).toEqual({
      retries: 0,
      timeoutMs: 100,
      pool: 'gpu',
      priority: 3,
    });
    expect(withDefaults(undefined, undefined)).toEqual({});
  });

  it("a request's graph options become task defaults (task_timeout_ms is the task's timeoutMs)", () => {
    expect(graphTaskDefaults({ retries: 1, task_timeout_ms: 500, pool: 'default', priority: 0, cache: false })).toEqual(
      {
        retries: 1,
        timeoutMs: 500,
        pool: 'default',
        priority: 0,
      },
    );
    expect(graphTaskDefaults(undefined)).toEqual({});
  });

  it('planning applies the defaults to every task', () => {
    const graph = parseGraph({
      a: { $op: 'inc', args: [1], options: { retries: 0, priority: 3 } },
      b: { $op: 'inc', args: [{ $ref: 'a' }] },
    });
    const plan = planGraph(graph, 'b', { fuse: false, taskDefaults: { retries: 2, pool: 'gpu' } });
    const [a, b] = plan.nodes as PlannedTask[];
    expect(a).toMatchObject({ key: 'a', retries: 0, pool: 'gpu', priority: 3 });
    expect(b).toMatchObject({ key: 'b', retries: 2, pool: 'gpu' });
    expect(b.priority).toBeUndefined();
  });
});
