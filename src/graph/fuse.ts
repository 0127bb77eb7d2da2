/**
 * Linear fusion, Dask's `fuse` for chains: a task whose only dependent
 * references it once and depends on no other task runs inside that dependent,
 * which saves a queue round trip per link. A chain of n tasks becomes
 * ceil(n / maxChain) tasks. Requested keys are never fused away, and a fused
 * task keeps its key (a `fused` node) so its errors still name it.
 *
 *   const g = parseGraph({ a: { $op: 'inc', args: [1] }, b: { $op: 'inc', args: [{ $ref: 'a' }] } })
 *   fuseLinear(g, ['a', 'b'], new Map(), new Set(['b']))
 *   // Graph { 'b' => task inc(fused a: inc(1)) }
 */
import { follow, forEachRef, mapRefs, refsOf } from './deps.ts';
import { nodeLanguage } from './languages.ts';
import { Graph } from './graph.ts';
import type { Node } from './types.ts';

/**
 * `order` is the needed keys (no aliases), dependencies first; returns the
 * graph of the keys that remain, in that order. Pure: `graph` is not changed.
 */
export function fuseLinear(
  graph: Graph,
  order: string[],
  aliases: Map<string, string>,
  requested: Set<string>,
  maxChain = 64,
): Graph {
  const depsOf = new Map<string, string[]>();
  const dependents = new Map<string, string[]>();
  for (const key of order) {
    // Data keys (literals) are inputs anyone may read, not links of a chain: a task reading a shared
    // callable or constant besides its one producer is still linear.
    const deps = [...new Set([...refsOf(graph.get(key)!)].map((r) => follow(aliases, r)))].filter(
      (d) => graph.get(d)?.kind !== 'lit',
    );
    depsOf.set(key, deps);
    for (const d of deps) {
      let list = dependents.get(d);
      if (!list) dependents.set(d, (list = []));
      list.push(key);
    }
  }

  // A Map while keys are dropped; the fused graph is made from it at the end.
  const nodes = new Map(order.map((key) => [key, graph.get(key)!]));
  const links = new Map<string, number>();
  for (const key of order) {
    const node = nodes.get(key)!;
    // A multiple-return task's outputs go to several places: never inlined.
    // A task with its own options (retries, timeout) keeps them: never inlined into another.
    if (node.kind === 'lit' || (node.kind === 'task' && (node.returns || node.options)) || requested.has(key)) continue;
    const users = dependents.get(key);
    if (users?.length !== 1) continue;
    const user = users[0];
    if (depsOf.get(user)!.length !== 1) continue;
    const chain = (links.get(key) ?? 0) + 1;
    if (chain >= maxChain) continue;
    const userNode = nodes.get(user)!;
    if (countRefs(userNode, key, aliases) !== 1) continue;
    // One process evaluates a task: a weft op and a foreign call never share one (languages.ts).
    const lang = nodeLanguage(node);
    const userLang = nodeLanguage(userNode);
    if (lang !== null && userLang !== null && lang !== userLang) continue;
    nodes.set(user, substitute(userNode, key, { kind: 'fused', key, node }, aliases));
    nodes.delete(key);
    links.set(user, chain);
  }
  return Graph.from(nodes);
}

/**
 * Whether anything among `nodes` (of `graph`) may fuse: a task fuses into its dependent only
 * when that dependent depends on it alone (data keys aside), so without any
 * task of one such dependency nothing fuses, and planning skips fuseLinear.
 * One scan that stops counting a task's dependencies at two.
 */
export function mayFuse(graph: Graph, nodes: Iterable<Node>, aliases: Map<string, string>): boolean {
  let first: string | undefined;
  let count = 0;
  const countDependency = (ref: Extract<Node, { kind: 'ref' }>) => {
    if (count > 1) return;
    const target = follow(aliases, ref.key);
    if (target === first || graph.get(target)?.kind === 'lit') return;
    first = target;
    count++;
  };
  for (const node of nodes) {
    if (node.kind === 'lit') continue;
    first = undefined;
    count = 0;
    forEachRef(node, countDependency);
    if (count === 1) return true;
  }
  return false;
}

function countRefs(node: Node, target: string, aliases: Map<string, string>): number {
  let n = 0;
  forEachRef(node, (ref) => {
    if (follow(aliases, ref.key) === target) n++;
  });
  return n;
}

/** `node` with its reference to `target` replaced by `replacement`. */
function substitute(node: Node, target: string, replacement: Node, aliases: Map<string, string>): Node {
  return mapRefs(node, (ref) => (follow(aliases, ref.key) === target ? replacement : ref));
}
