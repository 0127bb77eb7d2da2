/**
 * Random graphs for the property tests (test/fuzz.test.ts), and a reference
 * evaluator that computes a graph's result without weft: a direct recursive
 * reading of docs/graph-format.md for the built-in ops the generator uses.
 *
 * Graphs are kept as [key, node] entries, not objects, so that keys such as
 * "__proto__" stay ordinary keys; `toJson` writes them out as JSON text.
 */
import fc from 'fast-check';

export type KeySpec = string | KeySpec[];
export type Entries = [string, unknown][];

/** Keys that have tripped up JavaScript services: prototype names, separators, braces, unicode, the empty string. */
export const SPECIAL_KEYS = [
  '__proto__',
  'constructor',
  'toString',
  'hasOwnProperty',
  'valueOf',
  'prototype',
  '',
  ' ',
  'a.b',
  'a:b',
  '{a}',
  '}{',
  '{',
  'x-{y}-z',
  '$x',
  '$ref',
  'null',
  '0',
  '-1',
  '1e3',
  'key with "quotes" and \\',
  'new\nline',
  '🎉',
  '👩‍👩‍👧',
  'ключ',
  '日本語',
  'e\u0301',
  '\u0000',
  'k'.repeat(500),
];

/** Field names of plain-object nodes (never starting with "$", which would be a marker). */
const FIELDS = ['__proto__', 'constructor', 'toString', 'a', 'b', '', 'args', 'index', '🎉', 'x.y', '{}', '0'];

/** An object with exactly these own fields, "__proto__" included (an assignment would set the prototype). */
export function record(entries: [string, unknown][]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of entries)
    Object.defineProperty(out, k, { value: v, enumerable: true, writable: true, configurable: true });
  return out;
}

export function toJson(graph: Entries): Record<string, unknown> {
  return record(graph);
}

const task = (op: string, ...args: unknown[]) => ({ $op: op, args });

type Ty = 'int' | 'list' | 'rec' | 'multi';

/** A stored object a graph may use as {"$oid": oid}, with its value. */
export interface StoredObject {
  oid: string;
  value: unknown;
}

/**
 * Draws a random valid graph: each key uses only keys drawn before it, so it
 * is a DAG. `objects` are stored values its nodes may use as {"$oid"} inputs.
 */
export function drawGraph(g: fc.GeneratorValue, objects: StoredObject[] = []): { graph: Entries; keys: KeySpec } {
  const n = g(fc.integer, { min: 1, max: 12 });
  const names = g(
    fc.uniqueArray,
    fc.oneof(
      fc.constantFrom(...SPECIAL_KEYS),
      fc.string({ unit: 'binary', maxLength: 12 }),
      fc.constantFrom('x', 'y', 'z', 'w'),
    ),
    { minLength: n, maxLength: n },
  ) as string[];
  const graph: Entries = [];
  const env = new Map<string, unknown>();
  const typed: Record<Ty, string[]> = { int: [], list: [], rec: [], multi: [] };
  const oidValues = new Map(objects.map((o) => [o.oid, o.value]));
  const lookup = (key: string) => (key.startsWith('$oid:') ? oidValues.get(key.slice(5)) : env.get(key));
  const intObjects = objects.filter((o) => typeof o.value === 'number');
  const listObjects = objects.filter((o) => Array.isArray(o.value));
  const pickKey = (ty: Ty) =>
    typed[ty].length > 0 && g(fc.boolean) ? typed[ty][g(fc.nat, typed[ty].length - 1)] : undefined;
  const smallInt = () => g(fc.integer, { min: -20, max: 20 });

  function int(depth: number): unknown {
    const ref = pickKey('int');
    if (depth <= 0) return ref !== undefined ? { $ref: ref } : smallInt();
    switch (g(fc.nat, 12)) {
      case 0:
        return smallInt();
      case 9: {
        // Output j of a multiple-return task.
        const multi = pickKey('multi');
        if (multi === undefined) return smallInt();
        const n = (env.get(multi) as unknown[]).length;
        return { $ref: multi, index: g(fc.nat, n - 1) };
      }
      case 10:
        return intObjects.length > 0 ? { $oid: intObjects[g(fc.nat, intObjects.length - 1)].oid } : smallInt();
      case 11:
        // kwargs are evaluated (their references are dependencies) though the built-in ops ignore them.
        return { $op: 'identity', args: [int(depth - 1)], kwargs: { unused: int(depth - 1) } };
      case 1:
        return ref !== undefined ? { $ref: ref } : smallInt();
      case 2:
        return task(g(fc.constantFrom, 'inc', 'neg', 'identity'), int(depth - 1));
      case 3:
        return task(g(fc.constantFrom, 'add', 'sub'), int(depth - 1), int(depth - 1));
      case 4:
        // A literal factor keeps values small enough to be exact in both evaluators.
        return task('mul', int(depth - 1), g(fc.integer, { min: -3, max: 3 }));
      case 5:
        return task('sum', list(depth - 1));
      case 6:
        return task('len', list(depth - 1));
      case 7: {
        const of = list(depth - 1);
        const value = evaluateNode(of, lookup) as unknown[];
        if (value.length === 0) return task('sum', of);
        const i = g(fc.nat, value.length - 1);
        return task('getitem', of, g(fc.boolean) ? i : i - value.length);
      }
      default: {
        const of = rec(depth - 1);
        const fields = Object.keys(evaluateNode(of, lookup) as object);
        if (fields.length === 0) return smallInt();
        return task('getitem', of, fields[g(fc.nat, fields.length - 1)]);
      }
    }
  }

  function list(depth: number): unknown {
    const ref = pickKey('list');
    const ints = () => g(fc.array, fc.integer({ min: -20, max: 20 }), { maxLength: 4 });
    if (depth <= 0) return ref !== undefined ? { $ref: ref } : ints();
    switch (g(fc.nat, 7)) {
      case 0:
        return ints();
      case 1:
        return ref !== undefined ? { $ref: ref } : ints();
      case 2:
        return Array.from({ length: g(fc.nat, 4) }, () => int(depth - 1));
      case 3:
        return task('identity', list(depth - 1));
      case 4:
        return task(
          'concat',
          Array.from({ length: g(fc.nat, 3) }, () => list(depth - 1)),
        );
      case 5:
        return task('range', g(fc.nat, 5));
      case 6:
        return listObjects.length > 0 ? { $oid: listObjects[g(fc.nat, listObjects.length - 1)].oid } : ints();
      default:
        return { $literal: ints() };
    }
  }

  function rec(depth: number): unknown {
    const ref = pickKey('rec');
    const fields = g(fc.uniqueArray, fc.constantFrom(...FIELDS), { maxLength: 4 }) as string[];
    if (ref !== undefined && (depth <= 0 || g(fc.boolean))) return { $ref: ref };
    if (depth <= 0 || g(fc.boolean)) {
      // $literal passes its content through untouched, "$" fields included.
      const extra: [string, unknown][] = g(fc.boolean) ? [['$ref', g(fc.integer)]] : [];
      return { $literal: record([...fields.map((f): [string, unknown] => [f, smallInt()]), ...extra]) };
    }
    return record(fields.map((f) => [f, int(depth - 1)]));
  }

  for (const key of names) {
    const targets = [...typed.int, ...typed.list, ...typed.rec, ...typed.multi];
    let node: unknown;
    let ty: Ty;
    if (targets.length > 0 && g(fc.nat, 5) === 0) {
      // An alias: a top-level reference; chains of aliases resolve.
      const target = targets[g(fc.nat, targets.length - 1)];
      node = { $ref: target };
      ty = (['int', 'list', 'rec', 'multi'] as Ty[]).find((t) => typed[t].includes(target))!;
    } else if (g(fc.nat, 6) === 0) {
      // A multiple-return task: each of its k values is its own object.
      ty = 'multi';
      const k = g(fc.integer, { min: 1, max: 4 });
      node = { $op: 'range', args: [k], returns: k };
    } else {
      ty = g(fc.constantFrom, 'int', 'int', 'list', 'rec') as Ty;
      const depth = g(fc.integer, { min: 0, max: 3 });
      node = ty === 'int' ? int(depth) : ty === 'list' ? list(depth) : rec(depth);
    }
    graph.push([key, node]);
    env.set(key, evaluateNode(node, lookup));
    typed[ty].push(key);
  }

  const spec = (depth: number): KeySpec =>
    depth > 0 && g(fc.boolean)
      ? Array.from({ length: g(fc.nat, 3) }, () => spec(depth - 1))
      : names[g(fc.nat, names.length - 1)];
  const keys = g(fc.boolean)
    ? names[g(fc.nat, names.length - 1)]
    : Array.from({ length: g(fc.integer, { min: 1, max: 4 }) }, () => spec(2));
  // Submission order is not dependency order.
  const shuffled = g(fc.shuffledSubarray, graph, { minLength: graph.length, maxLength: graph.length }) as Entries;
  return { graph: shuffled, keys };
}

/** The result of computing `keys` of `graph`, shaped like `keys`. */
export function referenceResult(graph: Entries, keys: KeySpec, objects: StoredObject[] = []): unknown {
  const nodes = new Map(graph);
  const memo = new Map<string, unknown>(objects.map((o) => [`$oid:${o.oid}`, o.value]));
  const lookup = (key: string): unknown => {
    if (!memo.has(key)) {
      if (!nodes.has(key)) throw new Error(`reference evaluator: no key ${JSON.stringify(key)}`);
      memo.set(key, evaluateNode(nodes.get(key), lookup));
    }
    return memo.get(key);
  };
  const shape = (k: KeySpec): unknown => (typeof k === 'string' ? lookup(k) : k.map(shape));
  return shape(keys);
}

export function evaluateNode(node: unknown, lookup: (key: string) => unknown): unknown {
  if (Array.isArray(node)) return node.map((n) => evaluateNode(n, lookup));
  if (typeof node !== 'object' || node === null) return node;
  const fields = Object.keys(node);
  const o = node as Record<string, unknown>;
  if (fields.includes('$literal')) return structuredClone(o.$literal);
  if (fields.includes('$ref')) {
    const value = lookup(o.$ref as string);
    return o.index === undefined ? value : (value as unknown[])[o.index as number];
  }
  if (fields.includes('$oid')) return structuredClone(lookup(`$oid:${o.$oid}`));
  if (fields.includes('$op'))
    return runOp(
      o.$op as string,
      ((o.args as unknown[]) ?? []).map((a) => evaluateNode(a, lookup)),
    );
  return record(fields.map((f) => [f, evaluateNode(o[f], lookup)]));
}

function runOp(op: string, args: unknown[]): unknown {
  const [a, b] = args as [any, any];
  switch (op) {
    case 'inc':
      return a + 1;
    case 'neg':
      return -a;
    case 'identity':
      return a;
    case 'add':
      return a + b;
    case 'sub':
      return a - b;
    case 'mul':
      return a * b;
    case 'sum':
      return (a as number[]).reduce((s, x) => s + x, 0);
    case 'len':
      return Array.isArray(a) ? a.length : Object.keys(a).length;
    case 'concat':
      return (a as unknown[][]).flat();
    case 'range':
      return Array.from({ length: a }, (_, i) => i);
    case 'getitem':
      return Array.isArray(a) ? a[b < 0 ? a.length + b : b] : a[b];
  }
  throw new Error(`reference evaluator: no op ${op}`);
}

/** A value as it comes out of a JSON response (-0 is 0, fields keep their order). */
export function viaJson(value: unknown): unknown {
  return JSON.parse(JSON.stringify(value));
}
