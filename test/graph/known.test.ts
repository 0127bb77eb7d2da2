/**
 * Known values replace their tasks in a plan without planning again
 * (src/graph/known.ts): the plan is what planning the graph with those keys
 * as data would give (compared by key, since numbering may differ).
 */
import { describe, expect, it } from 'vitest';
import {
  fingerprints,
  parseGraph,
  planGraph,
  withKnownValues,
  Graph,
  type KeySpec,
  type KnownValue,
  type Plan,
  plannedTemplate,
  dependentsOf,
} from '../../src/graph/index.ts';
import { encodeValue } from '../../src/shared/codec.ts';

const inc = (ref: string) => ({ $op: 'inc', args: [{ $ref: ref }] });
const add = (a: string, b: string) => ({ $op: 'add', args: [{ $ref: a }, { $ref: b }] });

/** A plan by key: what each node is and whom it links to, whatever the numbering. */
function byKey(plan: Plan) {
  const key = (i: number) => plan.nodes[i].key;
  const field = (f: number | string) =>
    typeof f === 'number' ? key(f) : `${key(Number(f.split(':')[0]))}:${f.split(':')[1]}`;
  const nodes = Object.fromEntries(
    plan.nodes.map((n, i) => [
      n.key,
      {
        kind: n.kind,
        outs: dependentsOf(plan.dependents, i).map(key).sort(),
        consumers: n.consumers,
        ...(n.kind === 'task'
          ? {
              deps: n.deps.map((d) => (typeof d === 'string' ? d : typeof d === 'number' ? key(d) : [key(d[0]), d[1]])),
              pending: n.pending,
              template: plannedTemplate(n),
            }
          : { encoded: n.encoded && Buffer.from(n.encoded).toString('hex') }),
      },
    ]),
  );
  const outputs = (s: unknown): unknown => (Array.isArray(s) ? s.map(outputs) : field(s as number | string));
  return { nodes, ready: plan.ready.map(key).sort(), outputs: outputs(plan.outputs), taskCount: plan.taskCount };
}

/** Plans `raw`, makes `keys` known, and checks the result against planning with them as data. */
function check(raw: Record<string, unknown>, requested: KeySpec, knownKeys: string[]) {
  const graph = parseGraph(raw);
  const plan = planGraph(graph, requested, { fuse: false });
  const fps = fingerprints(plan, () => '1');
  const known = new Map<number, KnownValue>();
  const rewritten = Graph.from(graph);
  for (const k of knownKeys) {
    const i = plan.nodes.findIndex((n) => n.key === k);
    const value = { encoded: encodeValue(`value of ${k}`), fingerprint: fps[i] };
    known.set(i, value);
    rewritten.set(k, { kind: 'known', ...value });
  }
  const substituted = withKnownValues(plan, known);
  const replanned = planGraph(rewritten, requested, { fuse: false });
  expect(byKey(substituted.plan)).toEqual(byKey(replanned));
  // Fingerprints carry over: a remaining node's is what the first plan gave it.
  const after = fingerprints(substituted.plan, () => '1');
  substituted.oldToNew.forEach((to, from) => to >= 0 && expect(after[to]).toBe(fps[from]));
  return substituted;
}

describe('withKnownValues', () => {
  it('a known task becomes data and what only it needed goes', () => {
    const { plan, oldToNew } = check({ x: 1, a: inc('x'), b: inc('a') }, 'b', ['a']);
    expect(plan.nodes.map((n) => n.key)).toEqual(['a', 'b']);
    expect(oldToNew).toEqual([-1, 0, 1]);
    expect(plan.ready).toEqual([1]);
  });

  it('an input another task still needs stays', () => {
    check({ x: 1, a: inc('x'), b: inc('x'), c: add('a', 'b') }, 'c', ['a']);
  });

  it('a known output, several known tasks, nested requested keys', () => {
    check({ x: 1, a: inc('x'), b: inc('a'), c: inc('b'), d: add('a', 'c') }, [['d'], 'b'], ['b', 'd']);
  });

  it('outputs of a multiple-return task keep their fields', () => {
    check(
      {
        x: 1,
        s: { $op: 'split', args: [{ $ref: 'x' }], returns: 2 },
        p: { $op: 'inc', args: [{ $ref: 's', index: 1 }] },
        q: inc('p'),
      },
      ['q', 's'],
      ['p'],
    );
  });

  it('nothing known: the same plan', () => {
    const plan = planGraph(parseGraph({ x: 1, a: inc('x') }), 'a');
    expect(withKnownValues(plan, new Map()).plan).toBe(plan);
  });
});
