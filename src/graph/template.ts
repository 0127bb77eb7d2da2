/**
 * A template is how a worker sees one task: the node tree with every reference
 * replaced by an input slot. It is plain arrays so that it packs small:
 *
 *   [0, value]                          a literal
 *   [1, slot]                           input `slot` of the task
 *   [2, op, args, kwNames, kwValues]    a call (kwNames/kwValues null without kwargs)
 *   [3, items]                          an array of templates
 *   [4, names, values]                  an object of templates
 *   [5, key, template]                  a task fused into this one; `key` names it in errors
 *   [6, fn, args, kwNames, kwValues]    a call of a callable of another language (`$call`), `fn` a
 *                                       template giving the callable: evaluated by an executor
 *                                       (docs/executors.md), never by the worker itself
 */
import { FOREIGN_CALL, type Json, type Node } from './types.ts';

export const LIT = 0;
export const INPUT = 1;
export const CALL = 2;
export const ARRAY = 3;
export const OBJECT = 4;
export const FUSED = 5;
export const FOREIGN = 6;

export type Template =
  | [typeof LIT, Json]
  | [typeof INPUT, number]
  | [typeof CALL, string, Template[], string[] | null, Template[] | null]
  | [typeof ARRAY, Template[]]
  | [typeof OBJECT, string[], Template[]]
  | [typeof FUSED, string, Template]
  | [typeof FOREIGN, Template, Template[], string[] | null, Template[] | null];

/** Gives the input slot of a referenced key or object id. */
export interface SlotResolver {
  /** `index`: output `index` of a multiple-return task. */
  slotOfKey(key: string, index?: number): number;
  slotOfOid(oid: string): number;
}

/** Builds the template of `node`, numbering its inputs with `slotOf`. */
export function toTemplate(node: Node, slotOf: SlotResolver): Template {
  switch (node.kind) {
    case 'lit':
      return [LIT, node.value];
    case 'ref':
      return inputTemplate(slotOf.slotOfKey(node.key, node.index));
    case 'oid':
      return inputTemplate(slotOf.slotOfOid(node.oid));
    case 'task': {
      const args = templates(node.args, slotOf);
      const kwNames = node.kwargs ? node.kwargs.map(([k]) => k) : null;
      const kwValues = node.kwargs ? node.kwargs.map(([, v]) => toTemplate(v, slotOf)) : null;
      if (node.fn) return [FOREIGN, toTemplate(node.fn, slotOf), args, kwNames, kwValues];
      return [CALL, node.op, args, kwNames, kwValues];
    }
    case 'array':
      return [ARRAY, templates(node.items, slotOf)];
    case 'object':
      return [OBJECT, node.entries.map(([k]) => k), node.entries.map(([, v]) => toTemplate(v, slotOf))];
    case 'fused':
      return [FUSED, node.key, toTemplate(node.node, slotOf)];
    case 'known':
      throw new Error('A known value is planned as a data node, never as part of a task.');
  }
}

/**
 * The input slot of each reference and object id in `node`, numbered with
 * `slotOf`, in the order toTemplate meets them (a call's arguments, then
 * its keyword arguments, then its callable). With them, the template of the
 * node can be made again without slotOf (templateOf), or written straight
 * as bytes (src/queue/spec.ts), so a plan need not keep a template per task.
 */
export function inputSlots(node: Node, slotOf: SlotResolver, out: number[] = []): number[] {
  switch (node.kind) {
    case 'ref':
      out.push(slotOf.slotOfKey(node.key, node.index));
      break;
    case 'oid':
      out.push(slotOf.slotOfOid(node.oid));
      break;
    case 'task':
      for (let i = 0; i < node.args.length; i++) inputSlots(node.args[i], slotOf, out);
      if (node.kwargs) for (const [, v] of node.kwargs) inputSlots(v, slotOf, out);
      if (node.fn) inputSlots(node.fn, slotOf, out);
      break;
    case 'array':
      for (let i = 0; i < node.items.length; i++) inputSlots(node.items[i], slotOf, out);
      break;
    case 'object':
      for (const [, v] of node.entries) inputSlots(v, slotOf, out);
      break;
    case 'fused':
      inputSlots(node.node, slotOf, out);
      break;
  }
  return out;
}

/** The template of `node` whose references and object ids take the slots `inputs` (from inputSlots), in order. */
export function templateOf(node: Node, inputs: readonly number[]): Template {
  let next = 0;
  const taken = () => inputs[next++];
  return toTemplate(node, { slotOfKey: taken, slotOfOid: taken });
}

/** The templates of `nodes`, in order: a loop into an array of their number, not a closure per call (it runs for every task). */
function templates(nodes: Node[], slotOf: SlotResolver): Template[] {
  const out = new Array<Template>(nodes.length);
  for (let i = 0; i < nodes.length; i++) out[i] = toTemplate(nodes[i], slotOf);
  return out;
}

/**
 * Templates are never changed once made, so tasks share the one leaf of
 * input `slot`: ten thousand tasks reading a hundred inputs each
 * make no million arrays. Kept for the first SHARED_INPUTS slots (a task with more
 * inputs is rare, and the leaves live as long as the process).
 */
const SHARED_INPUTS = 4096;
const inputs: Template[] = [];

function inputTemplate(slot: number): Template {
  if (slot >= SHARED_INPUTS) return [INPUT, slot];
  while (inputs.length <= slot) inputs.push([INPUT, inputs.length]);
  return inputs[slot];
}

/** Every weft op a node calls, nested calls included (foreign callables are not ops). */
export function opsOf(node: Node, out: Set<string> = new Set()): Set<string> {
  // Its own walk, not forEachNode with a closure: it runs for every node of a graph when it is submitted.
  switch (node.kind) {
    case 'task':
      if (!node.fn) out.add(node.op);
      else opsOf(node.fn, out);
      for (let i = 0; i < node.args.length; i++) opsOf(node.args[i], out);
      if (node.kwargs) for (const [, v] of node.kwargs) opsOf(v, out);
      break;
    case 'array':
      for (let i = 0; i < node.items.length; i++) opsOf(node.items[i], out);
      break;
    case 'object':
      for (const [, v] of node.entries) opsOf(v, out);
      break;
    case 'fused':
      opsOf(node.node, out);
      break;
  }
  return out;
}

/**
 * The op a task is known by in errors and events: its outermost call, `$build`
 * for a structure, and for a foreign call the callable's name when the
 * template holds it (`python:builtins.sum`), else `$call`.
 */
export function rootOp(t: Template): string {
  if (t[0] === FUSED) return rootOp(t[2]);
  if (t[0] === CALL) return t[1];
  if (t[0] === FOREIGN) return foreignName(t[1]);
  return '$build';
}

function foreignName(fn: Template): string {
  const value = fn[0] === LIT ? (fn[1] as { lang?: unknown; name?: unknown } | null) : null;
  return value && typeof value.lang === 'string' && typeof value.name === 'string' && value.name !== ''
    ? `${value.lang}:${value.name}`
    : FOREIGN_CALL;
}
