/**
 * A task's stored spec, one field of `P:{g}:spec` per task. The scripts read
 * its header with cmsgpack, which knows no binary type, so the template
 * travels after the header rather than inside it:
 *
 *   uint32 big-endian header length | msgpack array of SPEC_HEADER fields | msgpack template
 *
 * This file is the one description of the header (SPEC_HEADER, below): its
 * writer and reader are here, and test/protocol.test.ts holds the scripts'
 * field numbers (includes/specHeader.lua) and docs/architecture.md to it.
 */
import { pack, unpack } from 'msgpackr';
import { plannedTemplate, type Dependents, type PlannedTask, type Slot } from '../graph/plan.ts';
import type { Task } from '../graph/task.ts';
import { ARRAY, CALL, FUSED, INPUT, LIT, OBJECT, type Template } from '../graph/template.ts';
import type { Node } from '../graph/types.ts';
import { decodeValue, encodeValue } from '../shared/codec.ts';
import type { HashFields } from './hash-fields.ts';

/**
 * The header's fields, in order:
 *
 *   key        the task's key (events and errors name it)
 *   deps       its input slots: a node index, [index, j] for output j of a
 *              multiple-return node, or the id of another graph's object
 *   outs       the tasks that depend on it (completeTasks counts them down)
 *   returns    0 for a task with one value, k for a multiple-return task
 *   cache      the fingerprint its result is cached under (options.cache), else ""
 *   retries    times it runs again after its op throws, 0 for none
 *   timeoutMs  a run longer than this (ms) fails with `timeout`, 0 for none
 *   lang       the language of a task an executor runs (`$call`), "" for weft ops
 *
 * `retries` and `timeoutMs` are the task's own, else its graph's.
 */
export const SPEC_HEADER = ['key', 'deps', 'outs', 'returns', 'cache', 'retries', 'timeoutMs', 'lang'] as const;

/** A task (src/graph/task.ts) as stored: with its dependents and where its result is cached. */
export interface TaskSpec extends Task {
  outs: number[];
  /** Fingerprint under which the result is cached (options.cache). */
  cache?: string;
  /** The template as stored (MessagePack), set when decoded: an executor gets these bytes as they are. */
  templateBytes?: Buffer;
}

export function encodeSpec(spec: TaskSpec): Buffer {
  const length = encodeInScratch(spec);
  return length >= 0 ? Buffer.from(scratch.subarray(0, length)) : encodeByCodec(spec);
}

/** A planned task as registration stores it: a spec whose template is still its node (src/graph/plan.ts). */
export type PlannedSpec = PlannedTask & Pick<TaskSpec, 'cache'>;

/**
 * Adds the spec of planned task `index` (its node's index in the plan, the
 * field it is stored under) to `fields`: what registration does for every
 * task. Its dependents are read from the plan's `dependents`, and its
 * template is written straight from its node, from the reused buffer, so no
 * template, no array of dependents and no buffer (nor view of one) is made
 * per task.
 */
export function addSpecField(fields: HashFields, index: number, spec: PlannedSpec, dependents: Dependents): void {
  const { offsets, targets } = dependents;
  const length = writePlannedInScratch(spec, targets, offsets[index], offsets[index + 1]);
  if (length >= 0) fields.add(index, scratch, length);
  else fields.add(index, encodePlannedByCodec(spec, targets.subarray(offsets[index], offsets[index + 1])));
}

/**
 * The spec of a planned task with dependents `outs`, as addSpecField stores
 * it: the bytes encodeSpec gives for the task with its template made
 * (plannedTemplate), which test/protocol.test.ts holds it to.
 */
export function encodePlannedSpec(spec: PlannedSpec, outs: readonly number[]): Buffer {
  const length = writePlannedInScratch(spec, outs, 0, outs.length);
  return length >= 0 ? Buffer.from(scratch.subarray(0, length)) : encodePlannedByCodec(spec, outs);
}

/** What the codec writes for a planned task whose template writeNode leaves to it: the template made first. */
function encodePlannedByCodec(spec: PlannedSpec, outs: ArrayLike<number>): Buffer {
  return encodeByCodec({ ...spec, outs: Array.from(outs), template: plannedTemplate(spec) });
}

/**
 * Writes a planned task's spec at the start of `scratch`, its dependents
 * `outs[from, to)`, its template from its node; its length, or -1 when the
 * codec must write it.
 */
function writePlannedInScratch(spec: PlannedSpec, outs: ArrayLike<number>, from: number, to: number): number {
  at = 4;
  if (!writeHeader(spec, outs, from, to)) return -1;
  const headerLength = at - 4;
  refSlots = spec.refSlots;
  nextSlot = 0;
  if (!writeNode(spec.node)) return -1;
  writeUint32(headerLength, 0);
  return at;
}

/** Writes the encoded spec at the start of `scratch`; its length, or -1 when it holds what only the codec writes. */
function encodeInScratch(spec: TaskSpec): number {
  at = 4;
  if (!writeHeader(spec, spec.outs, 0, spec.outs.length)) return -1;
  const headerLength = at - 4;
  if (!writeTemplate(spec.template)) return -1;
  writeUint32(headerLength, 0);
  return at;
}

function encodeByCodec(spec: TaskSpec): Buffer {
  // The value codec, not plain msgpackr: literals in a template may hold a "__proto__" field.
  const template = encodeValue(spec.template);
  const header = pack(headerFields(spec));
  const out = Buffer.allocUnsafe(4 + header.length + template.length);
  out.writeUInt32BE(header.length, 0);
  header.copy(out, 4);
  template.copy(out, 4 + header.length);
  return out;
}

/** What a spec's header holds (SPEC_HEADER): a spec's fields but its template. */
type HeaderFields = Omit<TaskSpec, 'template' | 'templateBytes'>;

/** The header's fields in SPEC_HEADER's order. */
function headerFields(spec: HeaderFields): unknown[] {
  return [
    spec.key,
    spec.deps,
    spec.outs,
    spec.returns ?? 0,
    spec.cache ?? '',
    spec.retries ?? 0,
    spec.timeoutMs ?? 0,
    spec.lang ?? '',
  ];
}

/**
 * The header written straight into a reused buffer, the MessagePack msgpackr
 * would write for it, without an intermediate buffer per task: strings,
 * unsigned 32-bit integers and arrays of them, all a header holds in
 * practice. Writes from `at`; false for anything else (then msgpackr packs it).
 */
let scratch = Buffer.allocUnsafe(64 * 1024);
let at = 0;

/** The header of `spec` with its dependents `outs[from, to)` (a planned task's are a slice of its plan's). */
function writeHeader(spec: Omit<HeaderFields, 'outs'>, outs: ArrayLike<number>, from: number, to: number): boolean {
  if (at + 1 > scratch.length) grow(1);
  // The array of headerFields(spec), field by field, without making it.
  scratch[at++] = 0x90 | SPEC_HEADER.length;
  if (!writeItem(spec.key) || !writeItem(spec.deps) || !writeItems(outs, from, to)) return false;
  if (!spec.returns && !spec.cache && !spec.retries && !spec.timeoutMs && !spec.lang) {
    // Most tasks set none of the rest: 0, "", 0, 0, "" as MessagePack, written at once.
    if (at + 5 > scratch.length) grow(5);
    scratch[at++] = 0x00;
    scratch[at++] = 0xa0;
    scratch[at++] = 0x00;
    scratch[at++] = 0x00;
    scratch[at++] = 0xa0;
    return true;
  }
  return (
    writeItem(spec.returns ?? 0) &&
    writeItem(spec.cache ?? '') &&
    writeItem(spec.retries ?? 0) &&
    writeItem(spec.timeoutMs ?? 0) &&
    writeItem(spec.lang ?? '')
  );
}

/**
 * A template as the value codec would write it (msgpackr, records off), for
 * the values templates are made of in practice: arrays, numbers, ASCII
 * strings, null and booleans. False for anything else (objects, bytes, other
 * text, bigints): the whole template then goes through the codec, so the
 * bytes are always the codec's. Strings other than ASCII are left to it
 * because msgpackr writes a lone surrogate in a short string as it is, where
 * Buffer.write would replace it.
 */
function writeTemplate(v: unknown): boolean {
  if (at + 16 > scratch.length) grow(16);
  if (Array.isArray(v)) {
    writeArrayHeader(v.length);
    for (let i = 0; i < v.length; i++) if (!writeTemplate(v[i])) return false;
    return true;
  }
  if (typeof v === 'number') {
    if (v >>> 0 === v) writeUint(v);
    else if (v >> 0 === v) {
      if (v >= -0x20) scratch[at++] = 0x100 + v;
      else if (v >= -0x80) {
        scratch[at++] = 0xd0;
        scratch[at++] = v + 0x100;
      } else if (v >= -0x8000) {
        scratch[at++] = 0xd1;
        scratch.writeInt16BE(v, at);
        at += 2;
      } else {
        scratch[at++] = 0xd2;
        scratch.writeInt32BE(v, at);
        at += 4;
      }
    } else {
      scratch[at++] = 0xcb;
      scratch.writeDoubleBE(v, at);
      at += 8;
    }
    return true;
  }
  if (typeof v === 'string') return writeString(v, true);
  if (v === null) scratch[at++] = 0xc0;
  else if (v === true) scratch[at++] = 0xc3;
  else if (v === false) scratch[at++] = 0xc2;
  else return false;
  return true;
}

/** The slots of the references in the node writeNode writes, and the next to take. */
let refSlots: readonly number[] = [];
let nextSlot = 0;

/**
 * The template of a planned task's node as writeTemplate would write the
 * template toTemplate makes of it (src/graph/template.ts), each reference
 * and object id taking the next of `refSlots`. False for what it leaves to
 * the codec: a literal writeTemplate refuses, and a foreign call, whose
 * callable comes first in the template but takes its slots last. (0x92,
 * 0x93, 0x95 open MessagePack arrays of 2, 3 and 5 items; the template kinds,
 * 0 to 6, are their own one-byte MessagePack integers.)
 */
function writeNode(node: Node): boolean {
  if (at + 16 > scratch.length) grow(16);
  switch (node.kind) {
    case 'lit':
      scratch[at++] = 0x92;
      scratch[at++] = LIT;
      return writeTemplate(node.value);
    case 'ref':
    case 'oid':
      scratch[at++] = 0x92;
      scratch[at++] = INPUT;
      writeUint(refSlots[nextSlot++]);
      return true;
    case 'task': {
      if (node.fn) return false;
      scratch[at++] = 0x95;
      scratch[at++] = CALL;
      if (!writeString(node.op, true) || !writeNodes(node.args)) return false;
      if (!node.kwargs) {
        if (at + 2 > scratch.length) grow(2);
        scratch[at++] = 0xc0;
        scratch[at++] = 0xc0;
        return true;
      }
      return writeNames(node.kwargs) && writeNodes(node.kwargs.map(([, v]) => v));
    }
    case 'array':
      scratch[at++] = 0x92;
      scratch[at++] = ARRAY;
      return writeNodes(node.items);
    case 'object':
      scratch[at++] = 0x93;
      scratch[at++] = OBJECT;
      return writeNames(node.entries) && writeNodes(node.entries.map(([, v]) => v));
    case 'fused':
      scratch[at++] = 0x93;
      scratch[at++] = FUSED;
      return writeString(node.key, true) && writeNode(node.node);
    default:
      return false;
  }
}

function writeNodes(nodes: Node[]): boolean {
  if (at + 5 > scratch.length) grow(5);
  writeArrayHeader(nodes.length);
  for (let i = 0; i < nodes.length; i++) if (!writeNode(nodes[i])) return false;
  return true;
}

/** The names of keyword arguments or object fields, as an array of strings. */
function writeNames(entries: [string, Node][]): boolean {
  if (at + 5 > scratch.length) grow(5);
  writeArrayHeader(entries.length);
  for (const [name] of entries) if (!writeString(name, true)) return false;
  return true;
}

function writeItem(v: unknown): boolean {
  if (at + 16 > scratch.length) grow(16);
  if (typeof v === 'number') {
    if (!Number.isInteger(v) || v < 0 || v > 0xffffffff) return false;
    writeUint(v);
    return true;
  }
  if (typeof v === 'string') return writeString(v, false);
  if (Array.isArray(v)) return writeItems(v, 0, v.length);
  return false;
}

/** items[from, to) as one array, each item as writeItem writes it (a planned task's dependents are a slice of its plan's). */
function writeItems(items: ArrayLike<unknown>, from: number, to: number): boolean {
  if (at + 5 > scratch.length) grow(5);
  writeArrayHeader(to - from);
  for (let i = from; i < to; i++) if (!writeItem(items[i])) return false;
  return true;
}

/** An unsigned 32-bit integer in its shortest form (a positive fixint up to 127, as msgpackr without records). */
function writeUint(v: number): void {
  if (v < 0x80) scratch[at++] = v;
  else if (v < 0x100) {
    scratch[at++] = 0xcc;
    scratch[at++] = v;
  } else if (v < 0x10000) {
    scratch[at++] = 0xcd;
    scratch[at++] = v >>> 8;
    scratch[at++] = v & 0xff;
  } else {
    // Byte by byte: Buffer's writeUInt32BE checks its arguments, and this runs for most tasks of a big graph.
    scratch[at++] = 0xce;
    writeUint32(v, at);
    at += 4;
  }
}

/** `v` as 4 bytes, big-endian, at `offset` of the scratch buffer. */
function writeUint32(v: number, offset: number): void {
  scratch[offset] = v >>> 24;
  scratch[offset + 1] = (v >>> 16) & 0xff;
  scratch[offset + 2] = (v >>> 8) & 0xff;
  scratch[offset + 3] = v & 0xff;
}

function writeArrayHeader(n: number): void {
  if (n < 0x10) scratch[at++] = 0x90 | n;
  else if (n < 0x10000) {
    scratch[at++] = 0xdc;
    scratch.writeUInt16BE(n, at);
    at += 2;
  } else {
    scratch[at++] = 0xdd;
    scratch.writeUInt32BE(n, at);
    at += 4;
  }
}

/** A string as UTF-8 in its shortest form; with `asciiOnly`, false (nothing written) for one that is not ASCII. */
function writeString(v: string, asciiOnly: boolean): boolean {
  if (at + 5 + v.length * 3 > scratch.length) grow(5 + v.length * 3);
  // A short ASCII string (keys, op names) byte by byte: Buffer.write costs more than the copy itself (as msgpackr does below 64 characters).
  if (v.length < 0x20) {
    const start = at;
    scratch[at++] = 0xa0 | v.length;
    for (let i = 0; i < v.length; i++) {
      const c = v.charCodeAt(i);
      if (c >= 0x80) {
        at = start;
        return writeUtf8(v, asciiOnly);
      }
      scratch[at++] = c;
    }
    return true;
  }
  return writeUtf8(v, asciiOnly);
}

function writeUtf8(v: string, asciiOnly: boolean): boolean {
  // Room for the longest prefix first, then the bytes are moved back behind a shorter one.
  const n = scratch.write(v, at + 5, 'utf8');
  if (asciiOnly && n !== v.length) return false;
  if (n < 0x20) {
    scratch[at] = 0xa0 | n;
    scratch.copyWithin(at + 1, at + 5, at + 5 + n);
    at += 1 + n;
  } else if (n < 0x100) {
    scratch[at] = 0xd9;
    scratch[at + 1] = n;
    scratch.copyWithin(at + 2, at + 5, at + 5 + n);
    at += 2 + n;
  } else if (n < 0x10000) {
    scratch[at] = 0xda;
    scratch.writeUInt16BE(n, at + 1);
    scratch.copyWithin(at + 3, at + 5, at + 5 + n);
    at += 3 + n;
  } else {
    scratch[at] = 0xdb;
    scratch.writeUInt32BE(n, at + 1);
    at += 5 + n;
  }
  return true;
}

function grow(need: number): void {
  const bigger = Buffer.allocUnsafe(Math.max(scratch.length * 2, at + need));
  scratch.copy(bigger, 0, 0, at);
  scratch = bigger;
}

export function decodeSpec(bytes: Buffer): TaskSpec {
  const n = bytes.readUInt32BE(0);
  const [key, deps, outs, returns, , retries, timeoutMs, lang] = unpack(bytes.subarray(4, 4 + n)) as [
    string,
    Slot[],
    number[],
    number,
    string,
    number?,
    number?,
    string?,
  ];
  const templateBytes = bytes.subarray(4 + n);
  return {
    key,
    deps,
    outs,
    template: decodeValue(templateBytes) as Template,
    ...(returns ? { returns } : {}),
    ...(retries ? { retries } : {}),
    ...(timeoutMs ? { timeoutMs } : {}),
    ...(lang ? { lang, templateBytes } : {}),
  };
}
