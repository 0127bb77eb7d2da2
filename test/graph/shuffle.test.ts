import { describe, expect, it } from 'vitest';
import { hasSplitTask, parseGraph, planGraph, rewriteShuffles } from '../../src/graph/index.ts';

/** Dask's task-based shuffle of n partitions into k: n splits, n x k getitems, k concats. */
function naiveShuffle(n: number, k: number): { graph: Record<string, unknown>; outputs: string[] } {
  const graph: Record<string, unknown> = {};
  for (let i = 0; i < n; i++) {
    graph[`p${i}`] = { $op: 'frame.from_records', args: [[{ x: i }]] };
    graph[`split${i}`] = { $op: 'frame.shuffle_group', args: [{ $ref: `p${i}` }, 'x', k] };
    for (let j = 0; j < k; j++) graph[`get${i}-${j}`] = { $op: 'getitem', args: [{ $ref: `split${i}` }, j] };
  }
  const outputs: string[] = [];
  for (let j = 0; j < k; j++) {
    graph[`out${j}`] = { $op: 'frame.concat', args: [Array.from({ length: n }, (_, i) => ({ $ref: `get${i}-${j}` }))] };
    outputs.push(`out${j}`);
  }
  return { graph, outputs };
}

describe('hasSplitTask', () => {
  it('finds a split op whose part count is a literal, and nothing in a graph without one', () => {
    expect(hasSplitTask(parseGraph(naiveShuffle(2, 2).graph).values())).toBe(true);
    expect(hasSplitTask(parseGraph({ a: { $op: 'inc', args: [1] } }).values())).toBe(false);
    const counted = parseGraph({ n: 2, s: { $op: 'frame.shuffle_group', args: [1, 'x', { $ref: 'n' }] } });
    expect(hasSplitTask(counted.values())).toBe(false);
  });

  it('leaves a graph without split tasks as it is (the same Map)', () => {
    const g = parseGraph({ a: { $op: 'inc', args: [1] }, b: { $op: 'inc', args: [{ $ref: 'a' }] } });
    expect(rewriteShuffles(g, ['a', 'b'], new Map(), new Set(['b']))).toBe(g);
  });
});

describe('rewriteShuffles', () => {
  it('the example of its doc comment: getitems disappear and concats read part j', () => {
    const { graph } = naiveShuffle(1, 2);
    const g = parseGraph(graph);
    const order = [...g.keys()];
    const out = rewriteShuffles(g, order, new Map(), new Set(['out0', 'out1']));
    expect([...out.keys()]).toEqual(['p0', 'split0', 'out0', 'out1']);
    expect(out.get('split0')).toMatchObject({ kind: 'task', op: 'frame.shuffle_group', returns: 2 });
    expect(out.get('out1')).toEqual({
      kind: 'task',
      op: 'frame.concat',
      args: [{ kind: 'array', items: [{ kind: 'ref', key: 'split0', index: 1 }] }],
      kwargs: null,
    });
  });

  it('turns n + n x k + k tasks into n + k (plus the inputs)', () => {
    const { graph, outputs } = naiveShuffle(10, 10);
    expect(planGraph(parseGraph(graph), outputs, { shuffle: false, fuse: false }).taskCount).toBe(10 + 10 + 100 + 10);
    expect(planGraph(parseGraph(graph), outputs, { fuse: false }).taskCount).toBe(10 + 10 + 10);
  });

  it('leaves a split alone when a getitem of it is requested, or it has another reader', () => {
    const { graph, outputs } = naiveShuffle(2, 2);
    // split0 keeps its two getitems; split1 loses its two.
    expect(planGraph(parseGraph(graph), [...outputs, 'get0-1'], { fuse: false }).taskCount).toBe(2 + 2 + 2 + 2);
    const withReader = { ...graph, other: { $op: 'len', args: [{ $ref: 'split1' }] } };
    const p = planGraph(parseGraph(withReader), [...outputs, 'other'], { fuse: false });
    // split0 is rewritten (its getitems go), split1 is not.
    expect(
      p.nodes
        .filter((n) => n.key.startsWith('get'))
        .map((n) => n.key)
        .sort(),
    ).toEqual(['get1-0', 'get1-1']);
  });

  it('leaves a split alone when its part count is not a literal, or a getitem index is out of range', () => {
    const g = {
      p: 1,
      s: { $op: 'frame.shuffle_group', args: [{ $ref: 'p' }, 'x', 2] },
      a: { $op: 'getitem', args: [{ $ref: 's' }, 5] },
    };
    expect(planGraph(parseGraph(g), 'a', { fuse: false }).taskCount).toBe(2);
    const h = {
      p: 1,
      k: 2,
      s: { $op: 'frame.shuffle_group', args: [{ $ref: 'p' }, 'x', { $ref: 'k' }] },
      a: { $op: 'getitem', args: [{ $ref: 's' }, 0] },
    };
    expect(planGraph(parseGraph(h), 'a', { fuse: false }).taskCount).toBe(2);
  });
});
