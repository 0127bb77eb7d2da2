import { describe, expect, it } from 'vitest';
import { dependentsOf, type GraphError, INPUT, parseGraph, plannedTemplate, planGraph } from '../../src/graph/index.ts';

const split = { $op: 'f', args: [1], returns: 3 };

function rejects(raw: Record<string, unknown>, keys: string | string[]): GraphError {
  try {
    planGraph(parseGraph(raw), keys);
  } catch (err) {
    return err as GraphError;
  }
  throw new Error('expected the graph to be rejected');
}

describe('multiple-return tasks', () => {
  it('a consumer of output j reads only that output, as its own slot', () => {
    const p = planGraph(
      parseGraph({
        s: split,
        a: {
          $op: 'g',
          args: [
            { $ref: 's', index: 2 },
            { $ref: 's', index: 0 },
          ],
        },
      }),
      'a',
    );
    const a = p.nodes[1];
    expect(a.kind === 'task' && a.deps).toEqual([
      [0, 2],
      [0, 0],
    ]);
    expect(a.kind === 'task' && plannedTemplate(a)).toEqual([
      2,
      'g',
      [
        [INPUT, 0],
        [INPUT, 1],
      ],
      null,
      null,
    ]);
    expect(p.nodes[0].consumers).toEqual([1, 0, 1]);
    expect(dependentsOf(p.dependents, 0)).toEqual([1]);
    expect(a.kind === 'task' && a.pending).toBe(1);
  });

  it('requesting a multiple-return key gives all its outputs', () => {
    const p = planGraph(parseGraph({ s: split }), ['s']);
    expect(p.outputs).toEqual([['0:0', '0:1', '0:2']]);
    expect(p.outputIndexes).toEqual(['0:0', '0:1', '0:2']);
  });

  it('an index out of range, an index on a single-value task, and a plain reference to a group are rejected', () => {
    expect(rejects({ s: split, a: { $op: 'g', args: [{ $ref: 's', index: 3 }] } }, 'a').message).toMatch(
      /returns only 3 values/,
    );
    expect(rejects({ s: { $op: 'f' }, a: { $op: 'g', args: [{ $ref: 's', index: 0 }] } }, 'a').message).toMatch(
      /not a multiple-return task/,
    );
    expect(rejects({ s: split, a: { $op: 'g', args: [{ $ref: 's' }] } }, 'a').message).toMatch(/reference one of them/);
  });

  it('returns is only for top-level tasks and must be a positive integer', () => {
    expect(() => parseGraph({ a: { $op: 'g', args: [split] } })).toThrow(/only allowed on a task at the top/);
    expect(() => parseGraph({ a: { $op: 'g', returns: 0 } })).toThrow(/integer from 1/);
    expect(() => parseGraph({ a: { $ref: 'b', index: -1 } })).toThrow(/integer from 0/);
  });

  it('a top-level reference with an index is a task, not an alias', () => {
    const p = planGraph(parseGraph({ s: split, one: { $ref: 's', index: 1 } }), 'one');
    expect(p.taskCount).toBe(2);
    expect(p.outputs).toBe(1);
  });

  it('a multiple-return task is never fused into its consumer', () => {
    const p = planGraph(
      parseGraph({ s: { $op: 'f', returns: 1 }, a: { $op: 'g', args: [{ $ref: 's', index: 0 }] } }),
      'a',
    );
    expect(p.taskCount).toBe(2);
  });
});
