import { describe, expect, it } from 'vitest';
import {
  FUSED,
  fuseLinear,
  mayFuse,
  parseGraph,
  plannedTemplate,
  planGraph,
  type Node,
  type PlannedTask,
} from '../../src/graph/index.ts';

const ref = (key: string) => ({ $ref: key });
const inc = (x: unknown) => ({ $op: 'inc', args: [x] });

function chain(n: number): Record<string, unknown> {
  const g: Record<string, unknown> = { x0: 0 };
  for (let i = 1; i <= n; i++) g[`x${i}`] = inc(ref(`x${i - 1}`));
  return g;
}

describe('mayFuse', () => {
  const may = (raw: Record<string, unknown>, aliases = new Map<string, string>()) => {
    const g = parseGraph(raw);
    return mayFuse(g, g.values(), aliases);
  };

  it('is true when some task depends on exactly one task', () => {
    expect(may(chain(2))).toBe(true);
    expect(may({ a: inc(1), b: { $op: 'add', args: [ref('a'), ref('a')] } })).toBe(true);
  });

  it('is false when every task depends on no task or on several (the wide graph: nothing fuses)', () => {
    expect(may({ a: inc(1), b: inc(2), c: { $op: 'add', args: [ref('a'), ref('b')] } })).toBe(false);
    expect(may({ x: 1, a: inc(ref('x')) })).toBe(false);
  });

  it('counts through aliases and leaves out data keys, as fuseLinear does', () => {
    expect(
      may({ a: inc(1), al: ref('a'), b: { $op: 'add', args: [ref('al'), ref('a')] } }, new Map([['al', 'a']])),
    ).toBe(true);
    expect(may({ f: 7, a: inc(1), b: { $op: 'add', args: [ref('f'), ref('a')] } })).toBe(true);
  });
});

describe('fuseLinear', () => {
  it('the example of its doc comment: a chain becomes one task that keeps the inner key', () => {
    const g = parseGraph({ a: { $op: 'inc', args: [1] }, b: { $op: 'inc', args: [{ $ref: 'a' }] } });
    const fused = fuseLinear(g, ['a', 'b'], new Map(), new Set(['b']));
    expect([...fused.keys()]).toEqual(['b']);
    const b = fused.get('b') as Extract<Node, { kind: 'task' }>;
    expect(b.args[0]).toEqual({
      kind: 'fused',
      key: 'a',
      node: { kind: 'task', op: 'inc', args: [{ kind: 'lit', value: 1 }], kwargs: null },
    });
  });

  it('never fuses away a requested key', () => {
    const p = planGraph(parseGraph(chain(3)), ['x3', 'x2']);
    expect(p.nodes.map((n) => n.key)).toEqual(['x0', 'x2', 'x3']);
    expect(p.taskCount).toBe(2);
  });

  it('does not fuse a task into a dependent that has other dependencies (that would serialize them)', () => {
    const p = planGraph(parseGraph({ a: inc(1), b: inc(2), c: { $op: 'add', args: [ref('a'), ref('b')] } }), 'c');
    expect(p.taskCount).toBe(3);
  });

  it('does not fuse a task with two dependents, or one its dependent uses twice', () => {
    expect(planGraph(parseGraph({ a: inc(1), b: inc(ref('a')), c: inc(ref('a')) }), ['b', 'c']).taskCount).toBe(3);
    expect(planGraph(parseGraph({ a: inc(1), b: { $op: 'add', args: [ref('a'), ref('a')] } }), 'b').taskCount).toBe(2);
  });

  it('follows aliases: a chain through an alias fuses', () => {
    const p = planGraph(parseGraph({ a: inc(1), al: ref('a'), b: inc(ref('al')) }), 'b');
    expect(p.taskCount).toBe(1);
  });

  it('cuts long chains so nesting stays bounded: 10,000 links make 157 tasks of at most 64', () => {
    const p = planGraph(parseGraph(chain(10_000)), 'x10000');
    expect(p.taskCount).toBe(Math.ceil(10_000 / 64));
    expect(p.ready).toHaveLength(1);
    let depth = 0;
    let t = plannedTemplate(p.nodes[p.nodes.length - 1] as PlannedTask) as unknown[];
    while (t[0] !== FUSED && Array.isArray(t[2]) && t[0] === 2) t = (t[2] as unknown[][])[0];
    for (; t[0] === FUSED || t[0] === 2; depth++) t = (t[0] === FUSED ? t[2] : (t[2] as unknown[][])[0]) as unknown[];
    expect(depth).toBeLessThanOrEqual(2 * 64);
  });

  it('is off with fuse: false', () => {
    expect(planGraph(parseGraph(chain(5)), 'x5', { fuse: false }).taskCount).toBe(5);
  });
});

describe('fingerprints', () => {
  it('the example of its doc comment: equal computations have equal fingerprints whatever their keys', async () => {
    const { fingerprints } = await import('../../src/graph/index.ts');
    const a = fingerprints(planGraph(parseGraph({ a: { $op: 'inc', args: [1] } }), 'a'), () => '1');
    const b = fingerprints(planGraph(parseGraph({ other: { $op: 'inc', args: [1] } }), 'other'), () => '1');
    expect(a).toEqual(b);
    expect(a[0]).toMatch(/^[0-9a-f]{28}$/);
    expect(fingerprints(planGraph(parseGraph({ a: { $op: 'inc', args: [2] } }), 'a'), () => '1')).not.toEqual(a);
    expect(fingerprints(planGraph(parseGraph({ a: { $op: 'inc', args: [1] } }), 'a'), () => '2')).not.toEqual(a);
  });
});
