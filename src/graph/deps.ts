/**
 * Dependencies between keys: what a node references, alias resolution, the
 * checks for missing keys and cycles, and culling. Pure functions over a Graph.
 *
 *   const g = parseGraph({ x: 1, y: { $ref: 'x' }, z: { $op: 'inc', args: [{ $ref: 'y' }] } })
 *   resolveAliases(g)                    // Map { 'y' => 'x' }
 *   cull(dependencyMap(g), ['z'])        // Set { 'z', 'y', 'x' }
 */
import { GraphError } from './errors.ts';
import type { Graph, Node } from './types.ts';

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

/** Calls `fn` for every `$ref` inside a node, in order. */
export function forEachRef(node: Node, fn: (ref: Extract<Node, { kind: 'ref' }>) => void): void {
  forEachNode(node, (n) => {
    if (n.kind === 'ref') fn(n);
  });
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
      if (!graph.has(ref)) {
        throw new GraphError(
          'missing_dependency',
          `Key ${JSON.stringify(key)} references ${JSON.stringify(ref)}, which is not in the graph.`,
          { key, missing: ref },
        );
      }
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
 * Computed once and shared by the checks, culling and planning.
 */
export function dependencyMap(graph: Graph): Map<string, string[]> {
  const deps = new Map<string, string[]>();
  for (const [key, node] of graph) deps.set(key, [...refsOf(node)]);
  return deps;
}

/**
 * Throws `cycle` with the keys on the first cycle found, in order
 * (`a -> b -> a`). Iterative, so a 1,000,000-long chain does not overflow the stack.
 * Returns every key, dependencies first (the depth-first post-order).
 */
export function checkAcyclic(deps: Map<string, string[]>): string[] {
  const order: string[] = [];
  const state = new Map<string, 1 | 2>(); // 1: on the DFS stack, 2: finished
  for (const root of deps.keys()) {
    if (state.has(root)) continue;
    const stack: [string, number][] = [[root, 0]];
    state.set(root, 1);
    while (stack.length > 0) {
      const top = stack[stack.length - 1];
      const children = deps.get(top[0]) ?? [];
      if (top[1] < children.length) {
        const child = children[top[1]++];
        const s = state.get(child);
        if (s === undefined && !deps.has(child)) continue; // a missing key: checkReferences reports it
        if (s === 1) {
          const path = stack.map(([k]) => k);
          throw cycleError([...path.slice(path.indexOf(child)), child]);
        }
        if (s === undefined) {
          state.set(child, 1);
          stack.push([child, 0]);
        }
      } else {
        state.set(top[0], 2);
        order.push(top[0]);
        stack.pop();
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

function cycleError(keys: string[]): GraphError {
  return new GraphError(
    'cycle',
    `The graph has a dependency cycle: ${keys.map((k) => JSON.stringify(k)).join(' -> ')}.`,
    { cycle: keys },
  );
}
