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
import type { Slot } from '../graph/plan.ts';
import type { Task } from '../graph/task.ts';
import type { Template } from '../graph/template.ts';
import { decodeValue, encodeValue } from '../shared/codec.ts';

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
  const header = pack([
    spec.key,
    spec.deps,
    spec.outs,
    spec.returns ?? 0,
    spec.cache ?? '',
    spec.retries ?? 0,
    spec.timeoutMs ?? 0,
    spec.lang ?? '',
  ]);
  // The value codec, not plain msgpackr: literals in a template may hold a "__proto__" field.
  const template = encodeValue(spec.template);
  const out = Buffer.allocUnsafe(4 + header.length + template.length);
  out.writeUInt32BE(header.length, 0);
  header.copy(out, 4);
  template.copy(out, 4 + header.length);
  return out;
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
