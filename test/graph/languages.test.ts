import { describe, expect, it } from 'vitest';
import {
  CALL,
  FOREIGN,
  FUSED,
  INPUT,
  LIT,
  parseGraph,
  planGraph,
  rootOp,
  splitLanguages,
  defaultLimits,
  type PlanNode,
  plannedTemplate,
} from '../../src/graph/index.ts';
import { Foreign } from '../../src/shared/values/foreign.ts';
import { graphError } from './helpers.ts';

const pyFn = (name: string, data = name) => ({
  $foreign: { lang: 'python', name, data: Buffer.from(data).toString('base64') },
});

function taskOf(nodes: PlanNode[], key: string): Extract<PlanNode, { kind: 'task' }> {
  const node = nodes.find((n) => n.key === key);
  if (node?.kind !== 'task') throw new Error(`${key} is not a task`);
  return node;
}

describe('$call and $foreign nodes', () => {
  it('parse into a task with the callable and its language, and plan to a foreign template', () => {
    const plan = planGraph(parseGraph({ x: 1, y: { $call: pyFn('m.inc'), args: [{ $ref: 'x' }] } }), 'y');
    const y = taskOf(plan.nodes, 'y');
    expect(y.lang).toBe('python');
    expect(plannedTemplate(y)[0]).toBe(FOREIGN);
    const [, fn, args] = plannedTemplate(y) as unknown as [number, [number, Foreign], unknown[]];
    expect(fn[0]).toBe(LIT);
    expect(fn[1]).toBeInstanceOf(Foreign);
    expect(Buffer.from(fn[1].data).toString()).toBe('m.inc');
    expect(args).toEqual([[INPUT, 0]]);
    expect(rootOp(plannedTemplate(y))).toBe('python:m.inc');
  });

  it('take a shared callable from a data key, which becomes an input of each task', () => {
    const plan = planGraph(
      parseGraph({
        f: pyFn('m.f'),
        a: { $call: { $ref: 'f' }, args: [1] },
        b: { $call: { $ref: 'f' }, args: [2] },
      }),
      ['a', 'b'],
    );
    const f = plan.nodes.findIndex((n) => n.key === 'f');
    for (const key of ['a', 'b']) {
      const t = taskOf(plan.nodes, key);
      expect(t.lang).toBe('python');
      expect(t.deps).toEqual([f]);
      expect((plannedTemplate(t) as unknown[])[1]).toEqual([INPUT, 0]);
    }
    expect(plan.nodes[f].consumers).toEqual([2]);
  });

  it('reject a callable that is not a foreign value, naming the path', () => {
    expect(graphError(() => parseGraph({ y: { $call: 'not a function' } })).details.path).toBe('$["y"].$call');
    const err = graphError(() => planGraph(parseGraph({ x: 1, y: { $call: { $ref: 'x' } } }), 'y'));
    expect(err.code).toBe('invalid_graph');
    expect(err.message).toContain('not a foreign value');
  });

  it('reject a malformed foreign value with the field at fault', () => {
    const bad = graphError(() => parseGraph({ y: { $foreign: { lang: 'Py thon', name: 'x', data: '' } } }));
    expect(bad.message).toContain('"lang" must be a language name');
    expect(graphError(() => parseGraph({ y: { $foreign: { lang: 'python', data: '%%%' } } })).message).toContain(
      '"data"',
    );
  });

  it('accept opaque values of a MessagePack request as literals without walking them', () => {
    const bytes = new Uint8Array(1 << 20);
    const foreign = new Foreign('python', 'builtins.tuple', new Uint8Array([1, 2]));
    const g = parseGraph({ b: bytes, f: foreign, n: Number.NaN }, { ...defaultLimits, binary: true });
    expect(g.get('b')).toEqual({ kind: 'lit', value: bytes });
    expect((g.get('f') as { value: unknown }).value).toBeInstanceOf(Foreign);
  });
});

describe('splitLanguages', () => {
  it('moves a weft op nested in a Python call into a task of its own (the doc example)', () => {
    const g = parseGraph({ y: { $call: pyFn('m.f'), args: [{ $op: 'inc', args: [{ $ref: 'x' }] }] }, x: 1 });
    const split = splitLanguages(g, new Map());
    expect([...split.keys()].sort()).toEqual(['x', 'y', 'y/args[0]']);
    expect(split.get('y')).toMatchObject({ kind: 'task', lang: 'python', args: [{ kind: 'ref', key: 'y/args[0]' }] });
    expect(split.get('y/args[0]')).toMatchObject({ kind: 'task', op: 'inc' });
  });

  it('moves a Python call out of a weft op, and plans both with the right languages', () => {
    const plan = planGraph(
      parseGraph({ z: { $op: 'add', args: [1, { $call: pyFn('m.g'), args: [{ $op: 'inc', args: [2] }] }] } }),
      'z',
      { fuse: true },
    );
    expect(plannedTemplate(taskOf(plan.nodes, 'z'))[0]).toBe(CALL);
    expect(taskOf(plan.nodes, 'z').lang).toBeUndefined();
    expect(taskOf(plan.nodes, 'z/args[1]').lang).toBe('python');
    // inc, inside the Python call, was moved out again, and not fused back into it.
    expect(plannedTemplate(taskOf(plan.nodes, 'z/args[1]/args[0]'))[0]).toBe(CALL);
  });

  it('keeps a name free of collisions with existing keys', () => {
    const g = parseGraph({
      'y/args[0]': 5,
      y: { $call: pyFn('m.f'), args: [{ $op: 'inc', args: [1] }] },
    });
    expect([...splitLanguages(g, new Map()).keys()]).toContain('y/args[0]#2');
  });

  it('returns a graph without $call unchanged', () => {
    const g = parseGraph({ x: 1, y: { $op: 'inc', args: [{ $ref: 'x' }] } });
    expect(splitLanguages(g, new Map())).toBe(g);
  });

  it('fuses chains within one language, never across', () => {
    const plan = planGraph(
      parseGraph({
        a: { $call: pyFn('m.a'), args: [1] },
        b: { $call: pyFn('m.b'), args: [{ $ref: 'a' }] },
        c: { $op: 'inc', args: [{ $ref: 'b' }] },
      }),
      'c',
    );
    expect(plan.nodes.map((n) => n.key)).toEqual(['b', 'c']);
    const b = taskOf(plan.nodes, 'b');
    expect(b.lang).toBe('python');
    expect(((plannedTemplate(b) as unknown[])[2] as unknown[][])[0][0]).toBe(FUSED);
  });
});

describe('fusion with shared data', () => {
  it('a chain of foreign calls sharing one callable through a data key still fuses', () => {
    const graph: Record<string, unknown> = { f: pyFn('m.inc'), x0: 0 };
    for (let i = 1; i <= 10; i++) graph[`x${i}`] = { $call: { $ref: 'f' }, args: [{ $ref: `x${i - 1}` }] };
    const plan = planGraph(parseGraph(graph), 'x10');
    expect(plan.taskCount).toBe(1);
    expect(taskOf(plan.nodes, 'x10').deps.length).toBe(2);
  });
});
