/**
 * Planning turns a checked graph into what the queue stores: nodes numbered in
 * dependency order, each task with its input slots, its dependents and its
 * node, from which its template is made (plannedTemplate) or written into its
 * spec (src/queue/spec.ts). Data nodes (top-level literals) need no task:
 * they are stored as objects when the graph is registered.
 *
 *   planGraph(parseGraph({ x: 1, y: { $op: 'inc', args: [{ $ref: 'x' }] } }), 'y')
 *   // nodes: [x: data 1, y: task inc(input 0) deps [0]], outputs: 1, ready: [1]
 */
import { GraphError } from './errors.ts';
import {
  dependenciesFirst,
  follow,
  forEachNode,
  forEachRef,
  indexDependencies,
  neededKeys,
  resolveAliases,
  type DependencyIndex,
} from './deps.ts';
import { fuseLinear, mayFuse } from './fuse.ts';
import { nodeLanguage, splitLanguages } from './languages.ts';
import { hasSplitTask, rewriteShuffles } from './shuffle.ts';
import { withDefaults, type Task } from './task.ts';
import { inputSlots, templateOf, type SlotResolver, type Template } from './template.ts';
import type { Graph } from './graph.ts';
import { WEFT_LANGUAGE, type Json, type KeySpec, type Node, type TaskOptions } from './types.ts';

/**
 * An input of a task: a node of the same graph (its index), output j of a
 * multiple-return node ([index, j]), or a stored object of another graph (its id).
 */
export type Slot = number | [number, number] | string;

/**
 * Where a value lives in its graph: a node index, or `"<index>:<j>"` for
 * output j of a multiple-return node. Object ids are `<graph>.<field>`.
 */
export type ObjectField = number | string;

export type PlanNode =
  /** A value stored when the graph is registered: a literal, or `encoded` bytes known beforehand (cache, presubmit). */
  | {
      kind: 'data';
      key: string;
      value: Json;
      encoded?: Uint8Array;
      fingerprint?: string;
      /** Reads of its value by tasks of this graph (filled in by linkNodes). */
      consumers: number[];
    }
  | PlannedTask;

/**
 * A task of a plan (src/graph/task.ts): with its options, the graph's
 * applied, and its place among the other nodes. It keeps its node and the
 * slots of the node's inputs rather than its template: a template per task
 * was the largest part of a big plan (a million `inc` tasks: about 200 of the
 * plan's 388 MB after a full collection), while the nodes exist anyway.
 */
export interface PlannedTask extends Omit<Task, 'template'>, Pick<TaskOptions, 'pool' | 'priority'> {
  kind: 'task';
  /** What it computes, as parsed and rewritten (fused, split); its template is `plannedTemplate(task)`. */
  node: Node;
  /** The input slot of each reference and object id in `node`, in the order its template meets them (inputSlots). */
  refSlots: readonly number[];
  /** Task inputs of this graph not yet computed when it starts. */
  pending: number;
  /** Inputs that are objects of other graphs ($oid): they may still be computing. */
  objects: string[];
  /** Reads of each output by tasks of this graph (one entry, or one per returned value; filled in by linkNodes). */
  consumers: number[];
}

/**
 * Each node's dependents, the tasks of the graph that read it, in task
 * order: node i's are `targets[offsets[i]]` up to `targets[offsets[i + 1]]`.
 * One pair of arrays per plan, not an array per node: a million nodes of
 * one dependent each made a million arrays that lived until the graph was
 * registered, and the collector walked them all (the million-task graph's
 * plan, spec encoding included, took about 15% longer with them, measured).
 */
export interface Dependents {
  offsets: Int32Array;
  targets: Int32Array;
}

/** The dependents of node `i`, as an array (tests, small plans; registration reads the arrays themselves). */
export function dependentsOf({ offsets, targets }: Dependents, i: number): number[] {
  return Array.from(targets.subarray(offsets[i], offsets[i + 1]));
}

/** Requested keys with each key replaced by the field of its value (an array of fields for a multiple-return key). */
export type OutputSpec = Nested<ObjectField>;
export type Nested<T> = T | Nested<T>[];

export interface Plan {
  /** Dependencies come before dependents. */
  nodes: PlanNode[];
  dependents: Dependents;
  outputs: OutputSpec;
  /** Fields of the outputs (pinned: never freed while the graph runs). */
  outputIndexes: ObjectField[];
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
  /** Rewrite task-based shuffles into multiple-return tasks (src/graph/shuffle.ts). Default true. */
  shuffle?: boolean;
  /** The graph's options for its tasks; a task's own override them. */
  taskDefaults?: TaskOptions;
}

export function planGraph(graph: Graph, keys: KeySpec, options: PlanOptions = {}): Plan {
  checkRequestedKeys(graph, keys);
  // Keys are numbered once; the dependency passes below work on those numbers.
  let deps = indexDependencies(graph);
  const aliases = resolveAliases(graph);
  const split = splitLanguages(graph, aliases);
  // A reference's node is found by the number the index read it at, not by its key again, in a task that is the
  // index's own node (not rewritten), with no alias to follow and no foreign call (whose callable forEachRef
  // meets first and inputSlots last). splitLanguages gives back the same graph exactly when it has no foreign call.
  const refsByNumber = split === graph && aliases.size === 0;
  if (split !== graph) {
    graph = split;
    deps = indexDependencies(graph);
  }
  const dependenciesFirstOrder = dependenciesFirst(deps);
  if (options.isKnownOp) checkOps(graph, options.isKnownOp);
  if (deps.indexedRefs || hasMultipleReturns(graph)) checkOutputReferences(graph, aliases);

  const requested = flattenKeys(keys);
  // The needed keys by number, dependencies first; their keys and nodes, as rewrites leave them.
  let numbers = neededOrder(deps, dependenciesFirstOrder, requested, aliases);
  let order = Array.from(numbers, (i) => deps.keys[i]);
  let nodeAt = (at: number) => deps.nodes[numbers[at]];
  const requestedTargets = new Set(requested.map((k) => follow(aliases, k)));
  const rewrite = (rewritten: Graph, keys: string[]) => {
    graph = rewritten;
    order = keys;
    numbers = Int32Array.from(keys, (key) => deps.table.numberOf(key));
    nodeAt = (at: number) => rewritten.get(order[at])!;
  };
  if (options.shuffle !== false && hasSplitTask(deps.nodes)) {
    const rewritten = rewriteShuffles(graph, order, aliases, requestedTargets);
    if (rewritten !== graph)
      rewrite(
        rewritten,
        order.filter((key) => rewritten.has(key)),
      );
  }
  if (options.fuse !== false && mayFuse(graph, graph.values(), aliases)) {
    const fused = fuseLinear(graph, order, aliases, requestedTargets);
    rewrite(fused, [...fused.keys()]);
  }
  // A key's place in the plan, by its number: rewrites only drop keys, so every planned key has one.
  const position = new Int32Array(deps.keys.length).fill(-1);
  for (let at = 0; at < numbers.length; at++) position[numbers[at]] = at;
  const { table } = deps;
  // Most graphs have no aliases: then a reference is looked up once, not twice.
  const positionOf =
    aliases.size === 0
      ? (key: string) => position[table.numberOf(key)]
      : (key: string) => position[table.numberOf(follow(aliases, key))];

  const nodes: PlanNode[] = [];
  const slots = new SlotTable(positionOf, position, order.length);
  // The graph's options as every task without options of its own gets them: made once, not per task.
  const graphOptions = withDefaults(undefined, options.taskDefaults);
  const hasGraphOptions = Object.keys(graphOptions).length > 0;
  let taskCount = 0;
  for (let at = 0; at < order.length; at++) {
    const key = order[at];
    const node = nodeAt(at);
    if (node.kind === 'lit') {
      nodes.push({ kind: 'data', key, value: node.value, consumers: NOT_LINKED });
      continue;
    }
    if (node.kind === 'known') {
      nodes.push({
        kind: 'data',
        key,
        value: null,
        encoded: node.encoded,
        ...(node.fingerprint ? { fingerprint: node.fingerprint } : {}),
        consumers: NOT_LINKED,
      });
      continue;
    }
    taskCount++;
    if (refsByNumber && node === deps.nodes[numbers[at]]) slots.reset(deps.refTargets, deps.refOffsets[numbers[at]]);
    else slots.reset(null, 0);
    // Shortened only when used: setting a length is a call into V8's runtime, and most tasks of a big graph have no reference.
    if (foundSlots.length !== 0) foundSlots.length = 0;
    inputSlots(node, slots, foundSlots);
    const returns = node.kind === 'task' ? node.returns : undefined;
    const taskOptions = node.kind === 'task' ? node.options : undefined;
    const lang = nodeLanguage(node);
    const task: PlannedTask = {
      kind: 'task',
      key,
      deps: slots.list,
      pending: 0,
      objects: slots.objects ? slots.list.filter((s): s is string => typeof s === 'string') : NO_OBJECTS,
      node,
      refSlots: foundSlots.length === 0 ? NO_REF_SLOTS : foundSlots.slice(),
      consumers: NOT_LINKED,
    };
    if (returns) task.returns = returns;
    if (taskOptions) Object.assign(task, withDefaults(taskOptions, options.taskDefaults));
    else if (hasGraphOptions) Object.assign(task, graphOptions);
    if (lang !== null && lang !== WEFT_LANGUAGE) task.lang = lang;
    nodes.push(task);
  }
  if (options.maxTasks !== undefined && taskCount > options.maxTasks) {
    throw new GraphError(
      'too_many_tasks',
      `The graph needs ${taskCount} tasks; this service accepts at most ${options.maxTasks} per graph. Split it into several graphs (persist the parts).`,
      { tasks: taskCount, limit: options.maxTasks },
    );
  }

  const { ready, dependents } = linkNodes(nodes);

  const fieldsOf = (key: string): OutputSpec => {
    const at = positionOf(key);
    const returns = (nodes[at] as { returns?: number }).returns;
    return returns ? Array.from({ length: returns }, (_, j) => `${at}:${j}`) : at;
  };
  const outputs = mapKeys(keys, fieldsOf) as OutputSpec;
  const outputIndexes = [...new Set(requested.flatMap((k) => flattenFields(fieldsOf(k))))];
  return { nodes, dependents, outputs, outputIndexes, ready, taskCount };
}

/** The template of a planned task: made from its node when asked for (the result cache, presubmit hooks, tests). */
export function plannedTemplate(task: PlannedTask): Template {
  return templateOf(task.node, task.refSlots);
}

/** The slots found in one task's node, reused from task to task (each task keeps a copy, or NO_REF_SLOTS). */
const foundSlots: number[] = [];
/** The `refSlots` of the tasks whose node has no reference (a million `inc` of literals): one array, never changed. */
const NO_REF_SLOTS: readonly number[] = Object.freeze([]);
/** The `consumers` of a node until linkNodes counts them: one array, never changed. */
export const NOT_LINKED: number[] = Object.freeze([]) as unknown as number[];
/**
 * `[n]` for small n, one frozen array per count: the `consumers` of the many
 * nodes of one output (a million nodes made a million arrays of one count).
 */
const ONE_OUTPUT_COUNTS: readonly number[][] = Array.from(
  { length: 256 },
  (_, n) => Object.freeze([n]) as unknown as number[],
);
/** The `objects` of the many tasks that use none: one array, never changed. */
const NO_OBJECTS: string[] = Object.freeze([]) as unknown as string[];
/** The `deps` of the tasks that have no inputs (a million `inc` of literals): one array, never changed. */
const NO_SLOTS: Slot[] = Object.freeze([]) as unknown as Slot[];

/**
 * Fills in how numbered nodes depend on each other, from each task's input
 * slots: every node's dependents and its consumers per output, every task's
 * pending inputs. Returns the dependents and the tasks ready at once (no
 * pending input, no object of another graph). Sets each node's `consumers`
 * (a multiple-return task's array is new; others share one frozen array per
 * count) and each task's `pending`.
 */
export function linkNodes(nodes: PlanNode[]): { ready: number[]; dependents: Dependents } {
  const ready: number[] = [];
  // linkedBy[at] === i + 1 once node `at` counts task i as a dependent: each producer once per task, without a Set per task.
  const linkedBy = new Int32Array(nodes.length);
  // Dependents per node at offsets[at + 1] first; their running sum once counted.
  const offsets = new Int32Array(nodes.length + 1);
  // Reads of each node by its index alone (its one output, or a multiple-return task's first).
  const reads = new Int32Array(nodes.length);
  let slots = 0;
  for (const node of nodes) {
    if (node.kind !== 'task') continue;
    slots += node.deps.length;
    if (node.returns) node.consumers = new Array<number>(node.returns).fill(0);
  }
  // Each link (producer, dependent) in the order met, so that the second pass need not walk the slots again.
  const links = new Int32Array(2 * slots);
  let linkCount = 0;
  for (let i = 0; i < nodes.length; i++) {
    const node = nodes[i];
    if (node.kind !== 'task') continue;
    let pending = 0;
    for (const slot of node.deps) {
      if (typeof slot === 'string') continue;
      const at = typeof slot === 'number' ? slot : slot[0];
      if (typeof slot === 'number') reads[at]++;
      else nodes[at].consumers[slot[1]]++;
      if (linkedBy[at] === i + 1) continue;
      linkedBy[at] = i + 1;
      offsets[at + 1]++;
      links[linkCount++] = at;
      links[linkCount++] = i;
      if (nodes[at].kind === 'task') pending++;
    }
    node.pending = pending;
    if (pending === 0 && node.objects.length === 0) ready.push(i);
  }
  for (let at = 0; at < nodes.length; at++) {
    offsets[at + 1] += offsets[at];
    const node = nodes[at];
    if (node.kind === 'task' && node.returns) node.consumers[0] += reads[at];
    else node.consumers = reads[at] < ONE_OUTPUT_COUNTS.length ? ONE_OUTPUT_COUNTS[reads[at]] : [reads[at]];
  }
  // Dependents in task order, each producer's filled from its start.
  const targets = new Int32Array(linkCount / 2);
  const filled = linkedBy;
  filled.set(offsets.subarray(0, nodes.length));
  for (let l = 0; l < linkCount; l += 2) targets[filled[links[l]]++] = links[l + 1];
  return { ready, dependents: { offsets, targets } };
}

/**
 * The input slots of one task at a time: each distinct node or object id it
 * references gets the next slot. Node inputs, the common kind, are told apart
 * by a stamp per node (the task being numbered), not a Map per task.
 */
class SlotTable implements SlotResolver {
  list: Slot[] = NO_SLOTS;
  /** Some slot is an object id. */
  objects = false;
  private task = 0;
  private readonly stamp: Int32Array;
  private readonly slotAt: Int32Array;
  private readonly seen = new Map<string, number>();
  /** The key numbers of the task's references in the order slotOfKey is asked for them, from `nextRef`; null: by key. */
  private refs: Int32Array | null = null;
  private nextRef = 0;

  constructor(
    /** A referenced key's node index, aliases followed. */
    private readonly positionOf: (key: string) => number,
    /** The node index of each key number (a graph without aliases). */
    private readonly position: Int32Array,
    nodes: number,
  ) {
    this.stamp = new Int32Array(nodes);
    this.slotAt = new Int32Array(nodes);
  }

  /** Starts the next task; its references are `refs` from `from` on, in the order they are asked for, or by key when null. */
  reset(refs: Int32Array | null, from: number): void {
    this.list = NO_SLOTS;
    this.objects = false;
    this.task++;
    this.refs = refs;
    this.nextRef = from;
    if (this.seen.size > 0) this.seen.clear();
  }

  slotOfKey(key: string, index?: number): number {
    const at = this.refs === null ? this.positionOf(key) : this.position[this.refs[this.nextRef++]];
    if (index !== undefined) return this.slotOf([at, index], `${at}:${index}`);
    if (this.stamp[at] === this.task) return this.slotAt[at];
    this.stamp[at] = this.task;
    if (this.list === NO_SLOTS) this.list = [];
    this.slotAt[at] = this.list.length;
    this.list.push(at);
    return this.list.length - 1;
  }

  slotOfOid(oid: string): number {
    this.objects = true;
    return this.slotOf(oid, oid);
  }

  /** Slots of outputs of multiple-return nodes ("<index>:<j>") and object ids, by their id. */
  private slotOf(slot: Slot, id: string): number {
    let s = this.seen.get(id);
    if (s === undefined) {
      if (this.list === NO_SLOTS) this.list = [];
      s = this.list.length;
      this.list.push(slot);
      this.seen.set(id, s);
    }
    return s;
  }
}

/**
 * `{"$ref": k, "index": j}` must name output j of a multiple-return task
 * (j < its `returns`), and a multiple-return task's outputs are only read one
 * at a time: a task may not take the whole group by a plain reference.
 */
function checkOutputReferences(graph: Graph, aliases: Map<string, string>): void {
  const returnsOf = (key: string): number | undefined => {
    const node = graph.get(follow(aliases, key));
    return node?.kind === 'task' ? node.returns : undefined;
  };
  for (const [key, node] of graph) {
    if (aliases.has(key)) continue;
    forEachRef(node, (ref) => {
      const returns = returnsOf(ref.key);
      if (ref.index === undefined) {
        if (returns !== undefined)
          throw new GraphError(
            'invalid_graph',
            `Key ${JSON.stringify(key)} references ${JSON.stringify(ref.key)}, which returns ${returns} values: reference one of them with {"$ref": ${JSON.stringify(ref.key)}, "index": j}.`,
            { key, target: ref.key },
          );
      } else if (returns === undefined) {
        throw new GraphError(
          'invalid_graph',
          `Key ${JSON.stringify(key)} references output ${ref.index} of ${JSON.stringify(ref.key)}, which is not a multiple-return task (give it "returns": k, or drop "index").`,
          { key, target: ref.key },
        );
      } else if (ref.index >= returns) {
        throw new GraphError(
          'invalid_graph',
          `Key ${JSON.stringify(key)} references output ${ref.index} of ${JSON.stringify(ref.key)}, which returns only ${returns} values (outputs 0 to ${returns - 1}).`,
          { key, target: ref.key, index: ref.index },
        );
      }
    });
  }
}

function flattenFields(spec: OutputSpec, out: ObjectField[] = []): ObjectField[] {
  if (Array.isArray(spec)) for (const s of spec) flattenFields(s, out);
  else out.push(spec);
  return out;
}

/** Every requested key must be in the graph; all missing ones are listed. */
function checkRequestedKeys(graph: Graph, keys: KeySpec): void {
  const missing = flattenKeys(keys).filter((k) => !graph.has(k));
  if (missing.length > 0) {
    const shown = [...new Set(missing)].slice(0, 20);
    throw new GraphError(
      'unknown_key',
      `Requested ${missing.length === 1 ? 'key' : 'keys'} not in the graph: ${shown.map((k) => JSON.stringify(k)).join(', ')}.`,
      { keys: shown },
    );
  }
}

function checkOps(graph: Graph, isKnownOp: (op: string) => boolean): void {
  const known = new Set<string>();
  let key = '';
  const check = (n: Node) => {
    if (n.kind !== 'task' || n.fn || known.has(n.op)) return;
    if (!isKnownOp(n.op)) {
      throw new GraphError(
        'unknown_op',
        `Key ${JSON.stringify(key)} calls op ${JSON.stringify(n.op)}, which no worker has registered. GET /v1/ops lists the ops.`,
        { key, op: n.op },
      );
    }
    known.add(n.op);
  };
  for (const [k, node] of graph) {
    key = k;
    forEachNode(node, check);
  }
}

/** Whether some top-level task returns several values (only then can a reference pick one or take a group). */
function hasMultipleReturns(graph: Graph): boolean {
  for (const node of graph.values()) if (node.kind === 'task' && node.returns !== undefined) return true;
  return false;
}

/**
 * The numbers of the needed keys (what the requested keys need, culled),
 * dependencies first. Aliases are not nodes: references to them are followed to their targets.
 */
function neededOrder(
  deps: DependencyIndex,
  dependenciesFirstOrder: Int32Array,
  requested: string[],
  aliases: Map<string, string>,
): Int32Array {
  const needed = neededKeys(
    deps,
    requested.map((k) => deps.table.numberOf(k)),
  );
  const order = new Int32Array(deps.keys.length);
  let n = 0;
  for (const i of dependenciesFirstOrder) if (needed[i] && !aliases.has(deps.keys[i])) order[n++] = i;
  return order.subarray(0, n);
}

export function flattenKeys(keys: KeySpec, out: string[] = []): string[] {
  if (typeof keys === 'string') out.push(keys);
  else for (const k of keys) flattenKeys(k, out);
  return out;
}

export function mapKeys<T>(keys: KeySpec, fn: (key: string) => T): Nested<T> {
  return typeof keys === 'string' ? fn(keys) : keys.map((k) => mapKeys(k, fn));
}
