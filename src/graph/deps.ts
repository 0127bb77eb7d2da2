/**
 * Dependencies between keys: what a node references, alias resolution, the
 * checks for missing keys and cycles, and culling. Pure functions over a Graph.
 *
 *   const g = parseGraph({ x: 1, y: { $ref: 'x' }, z: { $op: 'inc', args: [{ $ref: 'y' }] } })
 *   resolveAliases(g)                    // Map { 'y' => 'x' }
 *   cull(dependencyMap(g), ['z'])        // Set { 'z', 'y', 'x' }
 */
import { GraphError } from './errors.ts';
import { KeyTable, type Graph } from './graph.ts';
import type { Node } from './types.ts';

/** Calls `fn` for a node and every node inside it, depth first, in order. */
export function forEachNode(node: Node, fn: (node: Node) => void): void {
  fn(node);
  switch (node.kind) {
    case 'task':
      if (node.fn) forEachNode(node.fn, fn);
      for (const a of node.args) forEachNode(a, fn);
      if (node.kwargs) for (const [, v] of node.kwargs) forEachNode(v, fn);
      break;
    case 'array':
      for (const item of node.items) forEachNode(item, fn);
      break;
    case 'object':
      for (const [, v] of node.entries) forEachNode(v, fn);
      break;
    case 'fused':
      forEachNode(node.node, fn);
      break;
  }
}

/** Calls `fn` for every `$ref` inside a node, in order. (Its own walk: no closure per call, it runs per node of big graphs.) */
export function forEachRef(node: Node, fn: (ref: Extract<Node, { kind: 'ref' }>) => void): void {
  switch (node.kind) {
    case 'ref':
      fn(node);
      break;
    case 'task':
      if (node.fn) forEachRef(node.fn, fn);
      for (const a of node.args) forEachRef(a, fn);
      if (node.kwargs) for (const [, v] of node.kwargs) forEachRef(v, fn);
      break;
    case 'array':
      for (const item of node.items) forEachRef(item, fn);
      break;
    case 'object':
      for (const [, v] of node.entries) forEachRef(v, fn);
      break;
    case 'fused':
      forEachRef(node.node, fn);
      break;
  }
}

/**
 * A copy of `node` with each `$ref` replaced by what `fn` gives for it
 * (the ref itself to keep it). Subtrees without a replaced ref are shared.
 */
export function mapRefs(node: Node, fn: (ref: Extract<Node, { kind: 'ref' }>) => Node): Node {
  const sub = (n: Node) => mapRefs(n, fn);
  switch (node.kind) {
    case 'ref':
      return fn(node);
    case 'task':
      return {
        ...node,
        ...(node.fn ? { fn: sub(node.fn) } : {}),
        args: node.args.map(sub),
        kwargs: node.kwargs ? node.kwargs.map(([k, v]) => [k, sub(v)]) : null,
      };
    case 'array':
      return { kind: 'array', items: node.items.map(sub) };
    case 'object':
      return { kind: 'object', entries: node.entries.map(([k, v]) => [k, sub(v)]) };
    case 'fused':
      return { ...node, node: sub(node.node) };
    default:
      return node;
  }
}

/** Keys a node references with `$ref`, in first-seen order, without duplicates. */
export function refsOf(node: Node, out: Set<string> = new Set()): Set<string> {
  forEachRef(node, (ref) => out.add(ref.key));
  return out;
}

/** Object ids a node references with `$oid`, without duplicates. */
export function oidsOf(node: Node, out: Set<string> = new Set()): Set<string> {
  forEachNode(node, (n) => {
    if (n.kind === 'oid') out.add(n.oid);
  });
  return out;
}

/** Every `$ref` must name a key of the graph. */
export function checkReferences(graph: Graph, deps: Map<string, string[]> = dependencyMap(graph)): void {
  for (const [key, refs] of deps) {
    for (const ref of refs) {
      if (!graph.has(ref)) throw missingError(key, ref);
    }
  }
}

/**
 * Maps each alias (a key whose node is a bare `$ref`) to the non-alias key its
 * chain ends at. A chain that loops is a cycle.
 */
export function resolveAliases(graph: Graph): Map<string, string> {
  const resolved = new Map<string, string>();
  for (const [key, node] of graph) {
    // A reference with an index picks one output: a task, not an alias.
    if (node.kind !== 'ref' || node.index !== undefined || resolved.has(key)) continue;
    const chain = [key];
    const onChain = new Set(chain);
    let target = node.key;
    for (;;) {
      const known = resolved.get(target);
      if (known !== undefined) {
        target = known;
        break;
      }
      const next = graph.get(target);
      if (next === undefined || next.kind !== 'ref' || next.index !== undefined) break;
      if (onChain.has(target)) {
        const loop = chain.slice(chain.indexOf(target));
        throw cycleError([...loop, target]);
      }
      chain.push(target);
      onChain.add(target);
      target = next.key;
    }
    for (const k of chain) resolved.set(k, target);
  }
  return resolved;
}

/** The key a reference lands on after following aliases. */
export function follow(aliases: Map<string, string>, key: string): string {
  return aliases.get(key) ?? key;
}

/**
 * Dependencies of every key as written (aliases not followed, so a cycle is
 * reported with the keys the user wrote): key -> keys it references.
 */
export function dependencyMap(graph: Graph): Map<string, string[]> {
  const deps = new Map<string, string[]>();
  for (const [key, node] of graph) deps.set(key, [...refsOf(node)]);
  return deps;
}

/**
 * The keys of a graph numbered 0..n-1 in graph order, and each one's
 * dependencies as written (distinct, first-seen order) as adjacency in CSR
 * form: the dependencies of key i are `targets[offsets[i]]` up to
 * `targets[offsets[i + 1]]`. Computed once per plan and shared by the checks,
 * culling and ordering, which then work on integers, not strings.
 */
export interface DependencyIndex {
  keys: readonly string[];
  /** The node of each key (the graph's, in graph order); empty for an index made from a dependency map. */
  nodes: readonly Node[];
  /** Each key's number (the graph's own numbering: src/graph/graph.ts). */
  table: KeyTable;
  offsets: Int32Array;
  targets: Int32Array;
  /**
   * The number of the key of every reference, in the order forEachRef meets
   * them (repeats kept, aliases not followed): key i's are
   * `refTargets[refOffsets[i]]` up to `refTargets[refOffsets[i + 1]]`.
   * Planning reads a reference's number here rather than look its key up a
   * second time (a million lookups in a table of a million keys: 0.3 s).
   */
  refOffsets: Int32Array;
  refTargets: Int32Array;
  /** Some `$ref` has an `index` (reads one output of a multiple-return task). */
  indexedRefs: boolean;
}

/**
 * The dependency index of a graph. Throws `missing_dependency` for the first
 * `$ref` (in graph order, then node order) to a key not in the graph.
 */
export function indexDependencies(graph: Graph): DependencyIndex {
  // The graph's keys are numbered already: the index reads its numbering, it does not make another.
  const { table, nodes } = graph.numbering();
  const { keys } = table;
  const offsets = new Int32Array(keys.length + 1);
  let targets = new Int32Array(Math.max(16, keys.length));
  let count = 0;
  const refOffsets = new Int32Array(keys.length + 1);
  let refTargets = new Int32Array(Math.max(16, keys.length));
  let refCount = 0;
  let indexedRefs = false;
  // seen[t] === i + 1 when key i already depends on t: distinct without a Set per key.
  const seen = new Int32Array(keys.length);
  let i = 0;
  let key = '';
  let last = -1;
  const add = (ref: Extract<Node, { kind: 'ref' }>) => {
    if (ref.index !== undefined) indexedRefs = true;
    // References tend to name keys in the order they were sent (a reduction of x-0, x-1, ...): the key after
    // the last one found is tried first, in the list of keys, before the table, whose slots lie at random.
    const next = last + 1;
    const t = next < keys.length && keys[next] === ref.key ? next : table.numberOf(ref.key);
    if (t < 0) throw missingError(key, ref.key);
    last = t;
    if (refCount === refTargets.length) refTargets = grown(refTargets);
    refTargets[refCount++] = t;
    if (seen[t] === i + 1) return;
    seen[t] = i + 1;
    if (count === targets.length) targets = grown(targets);
    targets[count++] = t;
  };
  for (const node of nodes) {
    key = keys[i];
    forEachRef(node, add);
    offsets[++i] = count;
    refOffsets[i] = refCount;
  }
  return {
    keys,
    nodes,
    table,
    offsets,
    targets: targets.subarray(0, count),
    refOffsets,
    refTargets: refTargets.subarray(0, refCount),
    indexedRefs,
  };
}

function grown(numbers: Int32Array<ArrayBuffer>): Int32Array<ArrayBuffer> {
  const bigger = new Int32Array(numbers.length * 2);
  bigger.set(numbers);
  return bigger;
}

/** A dependency map as an index (keys it names that are not its own are left out, as the checks ignore them). */
export function indexOfMap(deps: Map<string, string[]>): DependencyIndex {
  const table = new KeyTable(deps.size);
  for (const key of deps.keys()) table.add(key);
  const { keys } = table;
  const offsets = new Int32Array(keys.length + 1);
  const targets: number[] = [];
  keys.forEach((key, i) => {
    for (const d of deps.get(key)!) {
      const t = table.numberOf(d);
      if (t >= 0) targets.push(t);
    }
    offsets[i + 1] = targets.length;
  });
  // No nodes: no references to number (planning never reads an index made from a map).
  const refOffsets = new Int32Array(keys.length + 1);
  return {
    keys,
    nodes: [],
    table,
    offsets,
    targets: Int32Array.from(targets),
    refOffsets,
    refTargets: new Int32Array(0),
    indexedRefs: false,
  };
}

/**
 * Throws `cycle` with the keys on the first cycle found, in order
 * (`a -> b -> a`). Iterative, so a 1,000,000-long chain does not overflow the stack.
 * Returns every key, dependencies first (the depth-first post-order).
 */
export function checkAcyclic(deps: Map<string, string[]>): string[] {
  const index = indexOfMap(deps);
  return Array.from(dependenciesFirst(index), (i) => index.keys[i]);
}

/**
 * Every key's number, dependencies first (the depth-first post-order from
 * each key in graph order); throws `cycle` with the keys on the first cycle
 * found, in order (`a -> b -> a`). Iterative: a 1,000,000-long chain does not
 * overflow the stack.
 */
export function dependenciesFirst({ keys, offsets, targets }: DependencyIndex): Int32Array {
  const n = keys.length;
  const order = new Int32Array(n);
  let done = 0;
  const state = new Uint8Array(n); // 1: on the DFS stack, 2: finished
  const stack = new Int32Array(n);
  const next = new Int32Array(n); // per stack level: the next dependency to visit (an index into targets)
  for (let root = 0; root < n; root++) {
    if (state[root] !== 0) continue;
    let top = 0;
    stack[0] = root;
    next[0] = offsets[root];
    state[root] = 1;
    while (top >= 0) {
      const k = stack[top];
      if (next[top] < offsets[k + 1]) {
        const child = targets[next[top]++];
        if (state[child] === 1) {
          let from = top;
          while (stack[from] !== child) from--;
          const path = Array.from(stack.subarray(from, top + 1), (i) => keys[i]);
          throw cycleError([...path, keys[child]]);
        }
        if (state[child] === 0) {
          state[child] = 1;
          stack[++top] = child;
          next[top] = offsets[child];
        }
      } else {
        state[k] = 2;
        order[done++] = k;
        top--;
      }
    }
  }
  return order;
}

/** The keys needed to compute `targets`, themselves and the aliases on the way included. */
export function cull(deps: Map<string, string[]>, targets: Iterable<string>): Set<string> {
  const needed = new Set<string>();
  const todo: string[] = [...targets];
  while (todo.length > 0) {
    const key = todo.pop()!;
    if (needed.has(key)) continue;
    needed.add(key);
    for (const d of deps.get(key) ?? []) if (!needed.has(d)) todo.push(d);
  }
  return needed;
}

/** `cull` over an index: marks (1) the keys needed to compute the keys numbered `wanted`, themselves included. */
export function neededKeys({ offsets, targets }: DependencyIndex, wanted: Iterable<number>): Uint8Array {
  const needed = new Uint8Array(offsets.length - 1);
  const todo: number[] = [];
  for (const t of wanted) {
    if (needed[t]) continue;
    needed[t] = 1;
    todo.push(t);
  }
  while (todo.length > 0) {
    const k = todo.pop()!;
    for (let e = offsets[k]; e < offsets[k + 1]; e++) {
      const d = targets[e];
      if (!needed[d]) {
        needed[d] = 1;
        todo.push(d);
      }
    }
  }
  return needed;
}

function missingError(key: string, ref: string): GraphError {
  return new GraphError(
    'missing_dependency',
    `Key ${JSON.stringify(key)} references ${JSON.stringify(ref)}, which is not in the graph.`,
    { key, missing: ref },
  );
}

function cycleError(keys: string[]): GraphError {
  return new GraphError(
    'cycle',
    `The graph has a dependency cycle: ${keys.map((k) => JSON.stringify(k)).join(' -> ')}.`,
    { cycle: keys },
  );
}
