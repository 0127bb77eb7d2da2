import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  ARRAY,
  CALL,
  INPUT,
  LIT,
  OBJECT,
  opsOf,
  parseGraph,
  planGraph,
  rootOp,
  toTemplate,
  type KeySpec,
  type Plan,
  type PlanNode,
  type PlanOptions,
  plannedTemplate,
  type PlannedTask,
  inputSlots,
  templateOf,
  dependentsOf,
  type Node,
} from '../../src/graph/index.ts';
import { drawGraph, toJson } from '../helpers/graph-gen.ts';
import { graphError, oid, ref, task } from './helpers.ts';

/** Parses and plans `raw` in one go. */
// Fusion has its own tests (fuse.test.ts); here it is off so plans show every task.
const plan = (raw: Record<string, unknown>, keys: KeySpec, options?: PlanOptions): Plan =>
  planGraph(parseGraph(raw), keys, { fuse: false, ...options });

/** Node indexes by key. */
const indexOf = (p: Plan): Record<string, number> => Object.fromEntries(p.nodes.map((n, i) => [n.key, i]));

/** The plan node of `key`, which must be a task. */
function taskNode(p: Plan, key: string): Extract<PlanNode, { kind: 'task' }> {
  const node = p.nodes.find((n) => n.key === key);
  if (node?.kind !== 'task') throw new Error(`${key} is not a task in the plan`);
  return node;
}

describe('planGraph, the example in its doc comment', () => {
  it('plans a data node and a task reading it', () => {
    const graph = parseGraph({ x: 1, y: { $op: 'inc', args: [{ $ref: 'x' }] } });
    const p = planGraph(graph, 'y');
    expect(p).toEqual({
      nodes: [
        { kind: 'data', key: 'x', value: 1, consumers: [1] },
        {
          kind: 'task',
          key: 'y',
          deps: [0],
          pending: 0,
          objects: [],
          node: graph.get('y'),
          refSlots: [0],
          consumers: [0],
        },
      ],
      dependents: { offsets: Int32Array.from([0, 1, 1]), targets: Int32Array.from([1]) },
      outputs: 1,
      outputIndexes: [1],
      ready: [1],
      taskCount: 1,
    });
    expect(plannedTemplate(p.nodes[1] as PlannedTask)).toEqual([CALL, 'inc', [[INPUT, 0]], null, null]);
  });
});

describe('planGraph node numbering', () => {
  it('numbers dependencies before dependents, whatever the order of the keys', () => {
    const p = plan({ d: task('f', ref('c')), c: task('f', ref('b'), ref('a')), b: task('f', ref('a')), a: 1 }, 'd');
    expect(p.nodes.map((n) => n.key)).toEqual(['a', 'b', 'c', 'd']);
  });

  it('gives every task input a smaller index than the task', () => {
    const p = plan(
      {
        out: task('sum', ref('m1'), ref('m2'), ref('m3')),
        m3: task('f', ref('m1'), ref('m2')),
        m2: task('f', ref('m1'), ref('s')),
        m1: task('f', ref('s')),
        s: [1, 2],
      },
      ['out', 'm3'],
    );
    p.nodes.forEach((node, i) => {
      if (node.kind === 'task')
        for (const slot of node.deps) if (typeof slot === 'number') expect(slot).toBeLessThan(i);
    });
    expect(p.nodes).toHaveLength(5);
  });
});

describe('planGraph data nodes and tasks', () => {
  it('makes top-level literals data nodes and everything else tasks', () => {
    const p = plan(
      {
        n: 1,
        arr: [1, [2]],
        esc: { $literal: { $op: 'x' } },
        t: task('f', ref('n'), ref('arr'), ref('esc')),
        built: [ref('t'), 2],
        obj: { a: ref('t') },
      },
      ['built', 'obj'],
    );
    const kinds = Object.fromEntries(p.nodes.map((n) => [n.key, n.kind]));
    expect(kinds).toEqual({ n: 'data', arr: 'data', esc: 'data', t: 'task', built: 'task', obj: 'task' });
    expect(p.taskCount).toBe(3);
    expect(p.nodes.find((n) => n.key === 'esc')).toMatchObject({ kind: 'data', value: { $op: 'x' } });
  });

  it('builds array and object templates for structures holding references', () => {
    const p = plan({ t: task('f'), built: [ref('t'), 2], obj: { a: ref('t'), b: 'x' } }, ['built', 'obj']);
    expect(plannedTemplate(taskNode(p, 'built'))).toEqual([
      ARRAY,
      [
        [INPUT, 0],
        [LIT, 2],
      ],
    ]);
    expect(plannedTemplate(taskNode(p, 'obj'))).toEqual([
      OBJECT,
      ['a', 'b'],
      [
        [INPUT, 0],
        [LIT, 'x'],
      ],
    ]);
  });
});

describe('planGraph input slots', () => {
  it('gives a key referenced several times one slot', () => {
    const p = plan({ x: task('f'), y: { $op: 'add', args: [ref('x'), ref('x')], kwargs: { z: ref('x') } } }, 'y');
    const y = taskNode(p, 'y');
    expect(y.deps).toEqual([0]);
    expect(plannedTemplate(y)).toEqual([
      CALL,
      'add',
      [
        [INPUT, 0],
        [INPUT, 0],
      ],
      ['z'],
      [[INPUT, 0]],
    ]);
    expect(y.pending).toBe(1);
    expect(dependentsOf(p.dependents, 0)).toEqual([1]);
  });

  it('gives an object id its own slot, once, in first-seen order', () => {
    const p = plan({ x: task('f'), y: task('g', oid('o1'), ref('x'), oid('o1')) }, 'y');
    const y = taskNode(p, 'y');
    expect(y.deps).toEqual(['o1', 0]);
    expect(plannedTemplate(y)).toEqual([
      CALL,
      'g',
      [
        [INPUT, 0],
        [INPUT, 1],
        [INPUT, 0],
      ],
      null,
      null,
    ]);
  });

  it('gives a key and its alias one slot', () => {
    const p = plan({ x: task('f'), y: ref('x'), z: task('g', ref('x'), ref('y')) }, 'z');
    expect(taskNode(p, 'z').deps).toEqual([0]);
  });
});

describe('planGraph dependents and pending counts', () => {
  const p = plan(
    { x: 1, a: task('f'), b: task('g', ref('x'), ref('a')), c: task('h', ref('a'), ref('b'), ref('x')) },
    'c',
  );
  const at = indexOf(p);

  it('lists the dependents of each node, in task order', () => {
    expect(dependentsOf(p.dependents, at.x)).toEqual([at.b, at.c]);
    expect(dependentsOf(p.dependents, at.a)).toEqual([at.b, at.c]);
    expect(dependentsOf(p.dependents, at.b)).toEqual([at.c]);
    expect(dependentsOf(p.dependents, at.c)).toEqual([]);
  });

  it('counts only task dependencies as pending, not data nodes', () => {
    expect(taskNode(p, 'a').pending).toBe(0);
    expect(taskNode(p, 'b').pending).toBe(1);
    expect(taskNode(p, 'c').pending).toBe(2);
  });

  it('makes ready exactly the tasks with no pending input', () => {
    expect(p.ready).toEqual([at.a]);
  });
});

describe('planGraph ready tasks', () => {
  it('lists tasks whose inputs are only data or nothing; tasks on object ids wait for their link', () => {
    const p = plan(
      {
        x: 1,
        onData: task('f', ref('x')),
        onOid: task('g', oid('o1'), oid('o1'), oid('o2')),
        none: task('h'),
        later: task('k', ref('none')),
      },
      ['onData', 'onOid', 'none', 'later'],
    );
    const at = indexOf(p);
    expect([...p.ready].sort()).toEqual([at.onData, at.none].sort());
    expect(taskNode(p, 'onOid').objects).toEqual(['o1', 'o2']);
  });
});

describe('planGraph outputs', () => {
  it('gives the index of a single requested key', () => {
    const p = plan({ a: 1, b: task('f', ref('a')) }, 'b');
    expect(p.outputs).toBe(1);
    expect(p.outputIndexes).toEqual([1]);
  });

  it('mirrors the nesting of the requested keys', () => {
    const p = plan({ a: task('f'), b: task('g'), c: 3 }, ['a', ['b', ['c']], []]);
    const at = indexOf(p);
    expect(p.outputs).toEqual([at.a, [at.b, [at.c]], []]);
  });

  it('deduplicates outputIndexes in first-requested order', () => {
    const p = plan({ a: task('f'), b: task('g') }, ['b', ['a', 'b'], 'a']);
    const at = indexOf(p);
    expect(p.outputs).toEqual([at.b, [at.a, at.b], at.a]);
    expect(p.outputIndexes).toEqual([at.b, at.a]);
  });

  it('maps a requested alias to the index of its target and makes no node for it', () => {
    const p = plan({ x: task('f'), y: ref('x'), z: ref('y'), w: task('g', ref('z')) }, ['z', 'w']);
    const at = indexOf(p);
    expect(p.nodes.map((n) => n.key)).toEqual(['x', 'w']);
    expect(p.outputs).toEqual([at.x, at.w]);
    expect(taskNode(p, 'w').deps).toEqual([at.x]);
  });

  it('deduplicates an alias and its target in outputIndexes', () => {
    const p = plan({ x: 5, y: ref('x') }, ['x', 'y']);
    expect(p.outputs).toEqual([0, 0]);
    expect(p.outputIndexes).toEqual([0]);
    expect(p.nodes).toEqual([{ kind: 'data', key: 'x', value: 5, consumers: [0] }]);
  });

  it('plans nothing for an empty list of keys', () => {
    const p = plan({ a: task('f') }, []);
    expect(p).toEqual({
      nodes: [],
      dependents: { offsets: Int32Array.from([0]), targets: new Int32Array(0) },
      outputs: [],
      outputIndexes: [],
      ready: [],
      taskCount: 0,
    });
  });
});

describe('planGraph culling', () => {
  it('leaves keys the requested keys do not need out of the nodes', () => {
    const p = plan({ a: 1, b: 2, c: task('f', ref('a')), d: task('g', ref('b')), e: task('h', ref('c')) }, 'c');
    expect(p.nodes.map((n) => n.key)).toEqual(['a', 'c']);
    expect(dependentsOf(p.dependents, 0)).toEqual([1]);
    expect(p.taskCount).toBe(1);
  });
});

describe('planGraph limits and errors', () => {
  const three = { a: task('f'), b: task('f', ref('a')), c: task('f', ref('b')), d: 1, unused: task('f') };

  it('rejects more tasks than maxTasks with too_many_tasks', () => {
    const err = graphError(() => plan(three, 'c', { maxTasks: 2 }));
    expect(err.code).toBe('too_many_tasks');
    expect(err.details).toEqual({ tasks: 3, limit: 2 });
  });

  it('accepts exactly maxTasks tasks, counting neither data nodes nor culled tasks', () => {
    expect(plan(three, ['c', 'd'], { maxTasks: 3 }).taskCount).toBe(3);
  });

  it('rejects an unknown op with the key and the op', () => {
    const err = graphError(() => plan({ a: task('evil') }, 'a', { isKnownOp: (op) => op !== 'evil' }));
    expect(err.code).toBe('unknown_op');
    expect(err.details).toEqual({ key: 'a', op: 'evil' });
  });

  it.each([
    ['args', { a: task('f', 1, task('g', task('evil'))) }],
    ['kwargs', { a: { $op: 'f', kwargs: { k: { x: [task('evil')] } } } }],
    ['a top-level array', { a: [1, task('evil')] }],
  ])('finds an unknown op nested inside %s', (_, raw) => {
    const err = graphError(() => plan(raw, 'a', { isKnownOp: (op) => op !== 'evil' }));
    expect(err.code).toBe('unknown_op');
    expect(err.details).toEqual({ key: 'a', op: 'evil' });
  });

  it('accepts a graph whose ops are all known', () => {
    const seen: string[] = [];
    plan({ a: task('f', task('g')) }, 'a', {
      isKnownOp: (op) => {
        seen.push(op);
        return true;
      },
    });
    expect(seen.sort()).toEqual(['f', 'g']);
  });

  it('lists every missing requested key once with unknown_key', () => {
    const err = graphError(() => plan({ a: 1 }, ['a', 'nope', ['zip', 'nope']]));
    expect(err.code).toBe('unknown_key');
    expect(err.details).toEqual({ keys: ['nope', 'zip'] });
  });

  it('rejects a missing dependency', () => {
    expect(graphError(() => plan({ a: task('f', ref('b')) }, 'a')).details).toEqual({ key: 'a', missing: 'b' });
  });

  it('rejects a cycle', () => {
    const err = graphError(() => plan({ a: task('f', ref('b')), b: task('g', ref('a')) }, 'a'));
    expect(err.code).toBe('cycle');
    expect(err.details.cycle).toEqual(['a', 'b', 'a']);
  });

  it('rejects an alias loop as a cycle', () => {
    expect(graphError(() => plan({ a: ref('b'), b: ref('a') }, 'a')).code).toBe('cycle');
  });
});

describe('templates', () => {
  it('builds a template for every node kind', () => {
    const node = parseGraph({
      k: { $op: 'f', args: [1, ref('x'), oid('o'), [ref('x'), 2], { a: ref('x') }], kwargs: { n: task('g') } },
    }).get('k')!;
    const slots = toTemplate(node, { slotOfKey: (key) => (key === 'x' ? 0 : 2), slotOfOid: () => 1 });
    expect(slots).toEqual([
      CALL,
      'f',
      [
        [LIT, 1],
        [INPUT, 0],
        [INPUT, 1],
        [
          ARRAY,
          [
            [INPUT, 0],
            [LIT, 2],
          ],
        ],
        [OBJECT, ['a'], [[INPUT, 0]]],
      ],
      ['n'],
      [[CALL, 'g', [], null, null]],
    ]);
  });

  it('finds the input slots in the order toTemplate takes them, so templateOf makes the same template again', () => {
    // A resolver numbering each distinct reference or object id by first use, as planning's does.
    const firstUse = () => {
      const seen = new Map<string, number>();
      const slot = (id: string) => {
        if (!seen.has(id)) seen.set(id, seen.size);
        return seen.get(id)!;
      };
      return {
        slotOfKey: (key: string, index?: number) => slot(`${key}:${index}`),
        slotOfOid: (o: string) => slot(`$${o}`),
      };
    };
    const graph = parseGraph({
      f: { $foreign: { lang: 'python', name: 'm.f', data: '' } },
      // The callable's reference comes last in slot order: toTemplate takes arguments, keyword arguments, then it.
      k: {
        $call: ref('f'),
        args: [ref('b'), oid('o'), [ref('a'), ref('b')], { p: ref('c') }, task('g', ref('a'))],
        kwargs: { n: ref('d'), m: { $ref: 's', index: 1 } },
      },
      j: [ref('c'), { q: ref('a'), r: oid('o') }, task('h', ref('d'))],
    });
    for (const key of ['k', 'j']) {
      const node = graph.get(key)!;
      const slots = inputSlots(node, firstUse());
      expect(templateOf(node, slots)).toEqual(toTemplate(node, firstUse()));
    }
    expect(inputSlots(graph.get('k')!, firstUse())).toEqual([0, 1, 2, 0, 3, 2, 4, 5, 6]);
  });

  it('lists every op a node calls, nested calls included', () => {
    const node = parseGraph({ k: [task('f', task('g')), { a: { $op: 'h', kwargs: { z: task('f') } } }] }).get('k')!;
    expect([...opsOf(node)].sort()).toEqual(['f', 'g', 'h']);
  });

  it('names a task by its outermost call, or $build for a structure', () => {
    expect(rootOp([CALL, 'inc', [], null, null])).toBe('inc');
    expect(rootOp([ARRAY, []])).toBe('$build');
  });
});

describe("a planned task's input slots", () => {
  /** The references of a node in the order inputSlots numbers them (a call's args, kwargs, then its callable). */
  function refsInSlotOrder(node: Node, out: Extract<Node, { kind: 'ref' | 'oid' }>[] = []) {
    if (node.kind === 'ref' || node.kind === 'oid') out.push(node);
    else if (node.kind === 'task') {
      for (const a of node.args) refsInSlotOrder(a, out);
      for (const [, v] of node.kwargs ?? []) refsInSlotOrder(v, out);
      if (node.fn) refsInSlotOrder(node.fn, out);
    } else if (node.kind === 'array') for (const item of node.items) refsInSlotOrder(item, out);
    else if (node.kind === 'object') for (const [, v] of node.entries) refsInSlotOrder(v, out);
    else if (node.kind === 'fused') refsInSlotOrder(node.node, out);
    return out;
  }

  it('hold the node each reference names, aliases followed, however the plan found it (by number or by key)', () => {
    fc.assert(
      fc.property(fc.gen(), fc.boolean(), (g, fuse) => {
        const { graph, keys } = drawGraph(g, [{ oid: 'g0.1', value: 7 }]);
        const parsed = parseGraph(toJson(graph));
        const p = planGraph(parsed, keys, { fuse });
        const at = indexOf(p);
        // A key's plan node: its own, or its alias chain's end.
        const target = (key: string): number => {
          let k = key;
          for (let n = parsed.get(k)!; n.kind === 'ref' && n.index === undefined; n = parsed.get(k)!) k = n.key;
          return at[k];
        };
        for (const node of p.nodes) {
          if (node.kind !== 'task') continue;
          const refs = refsInSlotOrder(node.node);
          expect(node.refSlots).toHaveLength(refs.length);
          refs.forEach((r, k) => {
            const slot = node.deps[node.refSlots[k]];
            if (r.kind === 'oid') expect(slot).toBe(r.oid);
            else expect(slot).toEqual(r.index === undefined ? target(r.key) : [target(r.key), r.index]);
          });
        }
      }),
      { seed: 20261204, numRuns: 300 },
    );
  });
});
