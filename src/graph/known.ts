/**
 * Values known before a graph runs (a result cache hit, a presubmit answer)
 * replace their tasks in a plan, and what only those tasks needed is dropped,
 * without planning the graph again: the plan is renumbered, its tasks' input
 * slots follow, and the fingerprints computed for the first plan still hold
 * (a known value keeps the fingerprint of the task it stands for).
 *
 *   withKnownValues(planGraph({ x: 1, a: inc(x), b: inc(a) }, 'b'), Map { 1 => bytes of 2 })
 *   // nodes: [a: data (bytes of 2), b: task inc(input 0)]; x is dropped; oldToNew [-1, 0, 1]
 *
 * Pure: `plan` is not changed.
 */
import {
  linkNodes,
  NOT_LINKED,
  type ObjectField,
  type OutputSpec,
  type Plan,
  type PlanNode,
  type Slot,
} from './plan.ts';

export interface KnownValue {
  /** The value, encoded as the store keeps it. */
  encoded: Uint8Array;
  /** The fingerprint of the task it replaces. */
  fingerprint?: string;
}

/**
 * The plan with the tasks of `known` (by node index; one-value tasks only)
 * replaced by data nodes, and `oldToNew`: each old node's new index, -1 for
 * one no longer needed.
 */
export function withKnownValues(plan: Plan, known: Map<number, KnownValue>): { plan: Plan; oldToNew: number[] } {
  if (known.size === 0) return { plan, oldToNew: plan.nodes.map((_, i) => i) };
  const needed = neededNodes(plan, known);
  const oldToNew: number[] = [];
  let next = 0;
  for (let i = 0; i < plan.nodes.length; i++) oldToNew.push(needed[i] ? next++ : -1);
  const nodes: PlanNode[] = [];
  plan.nodes.forEach((node, i) => {
    if (!needed[i]) return;
    const value = known.get(i);
    nodes.push(value ? dataNode(node.key, value) : renumbered(node, oldToNew));
  });
  const { ready, dependents } = linkNodes(nodes);
  const field = (f: ObjectField) => renumberField(f, oldToNew);
  return {
    plan: {
      nodes,
      dependents,
      outputs: mapFields(plan.outputs, field),
      outputIndexes: plan.outputIndexes.map(field),
      ready,
      taskCount: nodes.filter((n) => n.kind === 'task').length,
    },
    oldToNew,
  };
}

/** Which nodes the outputs still need: walking back from them through the inputs of tasks not known. */
function neededNodes(plan: Plan, known: Map<number, KnownValue>): boolean[] {
  const needed = new Array<boolean>(plan.nodes.length).fill(false);
  for (const f of plan.outputIndexes) needed[nodeOf(f)] = true;
  // Dependencies have lower indexes than their dependents: one pass from the last node back.
  for (let i = plan.nodes.length - 1; i >= 0; i--) {
    const node = plan.nodes[i];
    if (!needed[i] || node.kind !== 'task' || known.has(i)) continue;
    for (const slot of node.deps)
      if (typeof slot !== 'string') needed[typeof slot === 'number' ? slot : slot[0]] = true;
  }
  return needed;
}

function dataNode(key: string, value: KnownValue): PlanNode {
  return {
    kind: 'data',
    key,
    value: null,
    encoded: value.encoded,
    ...(value.fingerprint ? { fingerprint: value.fingerprint } : {}),
    consumers: NOT_LINKED,
  };
}

/** A node at its new place: its inputs renumbered, its links to others left for linkNodes to fill in. */
function renumbered(node: PlanNode, oldToNew: number[]): PlanNode {
  if (node.kind === 'data') return { ...node, consumers: NOT_LINKED };
  const deps = node.deps.map((slot): Slot => {
    if (typeof slot === 'string') return slot;
    return typeof slot === 'number' ? oldToNew[slot] : [oldToNew[slot[0]], slot[1]];
  });
  return { ...node, deps, consumers: NOT_LINKED, pending: 0 };
}

/** The node of a value's field: a node index, or "<index>:<j>" for output j of a multiple-return node. */
function nodeOf(field: ObjectField): number {
  return typeof field === 'number' ? field : Number(field.split(':')[0]);
}

function renumberField(field: ObjectField, oldToNew: number[]): ObjectField {
  if (typeof field === 'number') return oldToNew[field];
  const [node, j] = field.split(':');
  return `${oldToNew[Number(node)]}:${j}`;
}

function mapFields(spec: OutputSpec, fn: (f: ObjectField) => ObjectField): OutputSpec {
  return Array.isArray(spec) ? spec.map((s) => mapFields(s, fn)) : fn(spec);
}
