/**
 * A task's stored spec. Lua reads the header (its key, inputs and dependents)
 * with cmsgpack, which knows no binary type, so the template travels after it
 * rather than inside it:
 *
 *   uint32 big-endian header length | msgpack [key, deps, outs, returns, cache, retries, timeout, lang] | msgpack template
 *
 * `returns` is 0 for a task with one value, k for a multiple-return task;
 * `cache` is the task's fingerprint when its result goes to the result cache, else "";
 * `retries` and `timeout` (ms, 0 for none) are the task's, or its graph's;
 * `lang` is the language of a task an executor runs (`$call`), "" for weft ops.
 */
import { pack, unpack } from 'msgpackr';
import type { Slot } from '../graph/plan.ts';
import type { Template } from '../graph/template.ts';
import { decodeValue, encodeValue } from '../shared/codec.ts';

export interface TaskSpec {
  key: string;
  deps: Slot[];
  outs: number[];
  template: Template;
  returns?: number;
  /** Fingerprint under which the result is cached (options.cache). */
  cache?: string;
  /** Runs again after its op throws, this many times at most. */
  retries?: number;
  /** A run longer than this (ms) is stopped and fails with `timeout`. */
  timeoutMs?: number;
  /** The language of a task an executor runs (docs/executors.md); absent for weft ops. */
  lang?: string;
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
