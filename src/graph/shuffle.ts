/**
 * The one-stage shuffle, as Ray's `dataframe_optimize` does it for Dask.
 * Dask's task-based shuffle has, per input partition, a split task that
 * returns k parts, then n x k `getitem(parts, j)` tasks, then per output a
 * concat of the j-th parts. Each getitem reads the whole group to keep one
 * part. Here the split task becomes a multiple-return task ("returns": k),
 * the getitem tasks disappear, and the concats read part j directly: n + k
 * tasks instead of n + n x k + k, and each part is read once.
 *
 *   { s: {$op: 'frame.shuffle_group', args: [p, 'age', 2]},
 *     g0: {$op: 'getitem', args: [{$ref: 's'}, 0]}, g1: {$op: 'getitem', args: [{$ref: 's'}, 1]},
 *     c0: {$op: 'frame.concat', args: [[{$ref: 'g0'}]]}, ... }
 *   // becomes s with "returns": 2 and c0 reading {$ref: 's', index: 0}
 *
 * A split is rewritten only when every reader of it is such a getitem and
 * neither it nor those getitems are requested keys.
 */
import { follow, mapRefs, refsOf } from './deps.ts';
import { Graph } from './graph.ts';
import type { Node } from './types.ts';

/** Ops whose result is a list of parts, and the position of the part count among their arguments. */
export const SPLIT_OPS: ReadonlyMap<string, number> = new Map([['frame.shuffle_group', 2]]);

export function rewriteShuffles(
  graph: Graph,
  order: string[],
  aliases: Map<string, string>,
  requested: Set<string>,
): Graph {
  if (!hasSplitTask(order.map((key) => graph.get(key)!))) return graph;
  const readers = new Map<string, string[]>();
  for (const key of order) {
    for (const ref of refsOf(graph.get(key)!)) {
      const target = follow(aliases, ref);
      let list = readers.get(target);
      if (!list) readers.set(target, (list = []));
      list.push(key);
    }
  }

  /** getitem key -> [split key, part] */
  const picks = new Map<string, [string, number]>();
  const splits = new Map<string, number>();
  for (const key of order) {
    const node = graph.get(key)!;
    const parts = partCount(node);
    if (parts === undefined || requested.has(key)) continue;
    const getters = readers.get(key) ?? [];
    const found = getters.map((g) => [g, pickedPart(graph.get(g)!, key, aliases, parts)] as const);
    if (found.length === 0 || found.some(([g, j]) => j === undefined || requested.has(g))) continue;
    splits.set(key, parts);
    for (const [g, j] of found) picks.set(g, [key, j!]);
  }
  if (splits.size === 0) return graph;

  const out = new Graph();
  for (const [key, node] of graph) {
    if (picks.has(key)) continue;
    let next = node;
    if (splits.has(key) && node.kind === 'task') next = { ...node, returns: splits.get(key)! };
    else if ([...refsOf(node)].some((r) => picks.has(follow(aliases, r)))) next = redirect(node, picks, aliases);
    out.set(key, next);
  }
  return out;
}

/** Whether some node is a split task: most graphs have none, and one scan tells (the graph then comes back as it is). */
export function hasSplitTask(nodes: Iterable<Node>): boolean {
  for (const node of nodes) if (partCount(node) !== undefined) return true;
  return false;
}

/** The part count of a split task whose count is a literal integer, else undefined. */
function partCount(node: Node): number | undefined {
  if (node.kind !== 'task' || node.returns !== undefined) return undefined;
  const at = SPLIT_OPS.get(node.op);
  const arg = at === undefined ? undefined : node.args[at];
  return arg?.kind === 'lit' && Number.isInteger(arg.value) && (arg.value as number) >= 1
    ? (arg.value as number)
    : undefined;
}

/** j when `node` is exactly getitem({$ref: split}, j) with 0 <= j < parts, else undefined. */
function pickedPart(node: Node, split: string, aliases: Map<string, string>, parts: number): number | undefined {
  if (
    node.kind !== 'task' ||
    node.op !== 'getitem' ||
    node.kwargs ||
    node.returns !== undefined ||
    node.args.length !== 2
  )
    return undefined;
  const [from, index] = node.args;
  if (from.kind !== 'ref' || from.index !== undefined || follow(aliases, from.key) !== split) return undefined;
  if (index.kind !== 'lit' || !Number.isInteger(index.value)) return undefined;
  const j = index.value as number;
  return j >= 0 && j < parts ? j : undefined;
}

/** `node` with references to removed getitems replaced by references to the split's output. */
function redirect(node: Node, picks: Map<string, [string, number]>, aliases: Map<string, string>): Node {
  return mapRefs(node, (ref) => {
    const pick = ref.index === undefined ? picks.get(follow(aliases, ref.key)) : undefined;
    return pick ? { kind: 'ref', key: pick[0], index: pick[1] } : ref;
  });
}
