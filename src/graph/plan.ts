/**
 * Planning turns a checked graph into what the queue stores: nodes numbered in
 * dependency order, each task with its input slots, its dependents and its
 * template. Data nodes (top-level literals) need no task: they are stored as
 * objects when the graph is registered.
 *
 *   planGraph(parseGraph({ x: 1, y: { $op: 'inc', args: [{ $ref: 'x' }] } }), 'y')
 *   // nodes: [x: data 1, y: task inc(input 0) deps [0]], outputs: 1, ready: [1]
 */
import { GraphError } from './errors.ts';
import { checkAcyclic, checkReferences, cull, dependencyMap, follow, oidsOf, resolveAliases } from './deps.ts';
import { fuseLinear } from './fuse.ts';
import { opsOf, toTemplate, type SlotResolver, type Template } from './template.ts';
import type { Graph, Json, KeySpec } from './types.ts';

/** An input of a task: a node of the same graph (its index) or a stored object (its id). */
export type Slot = number | string;

export type PlanNode =
  | { kind: 'data'; key: string; value: Json; outs: number[] }
  | {
      kind: 'task';
      key: string;
      deps: Slot[];
      outs: number[];
      /** Task inputs of this graph not yet computed when it starts. */
      pending: number;
      /** Inputs that are objects of other graphs ($oid): they may still be computing. */
      objects: string[];
      template: Template;
    };

/** Requested keys with each key replaced by the index of the node that computes it. */
export type OutputSpec = Nested<number>;
export type Nested<T> = T | Nested<T>[];

export interface Plan {
  /** Dependencies come before dependents. */
  nodes: PlanNode[];
  outputs: OutputSpec;
  /** Indexes of nodes that are outputs (pinned: never freed when the graph runs). */
  outputIndexes: number[];
  /** Tasks whose inputs are all data nodes: enqueued at start. (Tasks on $oid inputs wait for the link to those objects.) */
  ready: number[];
  taskCount: number;
}

export interface PlanOptions {
  /** Returns false for an op no worker has registered. */
  isKnownOp?: (op: string) => boolean;
  /** Largest number of tasks accepted after culling and fusion. */
  maxTasks?: number;
  /** Fuse linear chains (src/graph/fuse.ts). Default true. */
  fuse?: boolean;
}

export function planGraph(graph: Graph, keys: KeySpec, options: PlanOptions = {}): Plan {
  checkRequestedKeys(graph, keys);
  const deps = dependencyMap(graph);
  checkReferences(graph, deps);
  const aliases = resolveAliases(graph);
  const dependenciesFirst = checkAcyclic(deps);
  if (options.isKnownOp) checkOps(graph, options.isKnownOp);

  const requested = flattenKeys(keys);
  const needed = cull(deps, requested);
  // Aliases are not nodes: references to them are followed to their targets.
  let order = dependenciesFirst.filter((key) => needed.has(key) && !aliases.has(key));
  if (options.fuse !== false) {
    graph = fuseLinear(graph, order, aliases, new Set(requested.map((k) => follow(aliases, k))));
    order = [...graph.keys()];
  }
  const index = new Map<string, number>();
  order.forEach((key, i) => index.set(key, i));

  const nodes: PlanNode[] = [];
  const slots = new SlotTable(index, aliases);
  let taskCount = 0;
  for (const key of order) {
    const node = graph.get(key)!;
    if (node.kind === 'lit') {
      nodes.push({ kind: 'data', key, value: node.value, outs: [] });
      continue;
    }
    taskCount++;
    slots.reset();
    const template = toTemplate(node, slots);
    nodes.push({ kind: 'task', key, deps: slots.list, outs: [], pending: 0, objects: slots.list.filter((s): s is string => typeof s === 'string'), template });
  }
  if (options.maxTasks !== undefined && taskCount > options.maxTasks) {
    throw new GraphError('too_many_tasks', `The graph needs ${taskCount} tasks; this service accepts at most ${options.maxTasks} per graph. Split it into several graphs (persist the parts).`, { tasks: taskCount, limit: options.maxTasks });
  }

  const ready: number[] = [];
  nodes.forEach((node, i) => {
    if (node.kind !== 'task') return;
    for (const slot of node.deps) {
      if (typeof slot !== 'number') continue;
      const dep = nodes[slot];
      dep.outs.push(i);
      if (dep.kind === 'task') node.pending++;
    }
    if (node.pending === 0 && node.objects.length === 0) ready.push(i);
  });

  const outputIndexes = [...new Set(requested.map((k) => index.get(follow(aliases, k))!))];
  return { nodes, outputs: mapKeys(keys, (k) => index.get(follow(aliases, k))!), outputIndexes, ready, taskCount };
}

/** The input slots of one task at a time: each distinct node or object id it references gets the next slot. */
class SlotTable implements SlotResolver {
  list: Slot[] = [];
  private readonly seen = new Map<Slot, number>();

  constructor(
    private readonly index: Map<string, number>,
    private readonly aliases: Map<string, string>,
  ) {}

  reset(): void {
    this.list = [];
    this.seen.clear();
  }

  slotOfKey(key: string): number {
    return this.slotOf(this.index.get(follow(this.aliases, key))!);
  }

  slotOfOid(oid: string): number {
    return this.slotOf(oid);
  }

  private slotOf(slot: Slot): number {
    let s = this.seen.get(slot);
    if (s === undefined) {
      s = this.list.length;
      this.list.push(slot);
      this.seen.set(slot, s);
    }
    return s;
  }
}

/** Every requested key must be in the graph; all missing ones are listed. */
function checkRequestedKeys(graph: Graph, keys: KeySpec): void {
  const missing = flattenKeys(keys).filter((k) => !graph.has(k));
  if (missing.length > 0) {
    const shown = [...new Set(missing)].slice(0, 20);
    throw new GraphError('unknown_key', `Requested ${missing.length === 1 ? 'key' : 'keys'} not in the graph: ${shown.map((k) => JSON.stringify(k)).join(', ')}.`, { keys: shown });
  }
}

function checkOps(graph: Graph, isKnownOp: (op: string) => boolean): void {
  for (const [key, node] of graph) {
    for (const op of opsOf(node)) {
      if (!isKnownOp(op)) {
        throw new GraphError('unknown_op', `Key ${JSON.stringify(key)} calls op ${JSON.stringify(op)}, which no worker has registered. GET /v1/ops lists the ops.`, { key, op });
      }
    }
  }
}

export function flattenKeys(keys: KeySpec, out: string[] = []): string[] {
  if (typeof keys === 'string') out.push(keys);
  else for (const k of keys) flattenKeys(k, out);
  return out;
}

export function mapKeys<T>(keys: KeySpec, fn: (key: string) => T): Nested<T> {
  return typeof keys === 'string' ? fn(keys) : keys.map((k) => mapKeys(k, fn));
}

/** Object ids referenced anywhere in the graph. */
export function graphOids(graph: Graph): Set<string> {
  const out = new Set<string>();
  for (const node of graph.values()) oidsOf(node, out);
  return out;
}
