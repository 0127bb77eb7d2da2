/**
 * A task's stored spec. Lua reads the header (its key, inputs and dependents)
 * with cmsgpack, which knows no binary type, so the template travels after it
 * rather than inside it:
 *
 *   uint32 big-endian header length | msgpack [key, deps, outs, returns, cache] | msgpack template
 *
 * `returns` is 0 for a task with one value, k for a multiple-return task;
 * `cache` is the task's fingerprint when its result goes to the result cache, else "".
 */
import { pack, unpack } from 'msgpackr';
import type { Slot } from '../graph/plan.ts';
import type { Template } from '../graph/template.ts';

export interface TaskSpec {
  key: string;
  deps: Slot[];
  outs: number[];
  template: Template;
  returns?: number;
  /** Fingerprint under which the result is cached (options.cache). */
  cache?: string;
}

export function encodeSpec(spec: TaskSpec): Buffer {
  const header = pack([spec.key, spec.deps, spec.outs, spec.returns ?? 0, spec.cache ?? '']);
  const template = pack(spec.template);
  const out = Buffer.allocUnsafe(4 + header.length + template.length);
  out.writeUInt32BE(header.length, 0);
  header.copy(out, 4);
  template.copy(out, 4 + header.length);
  return out;
}

export function decodeSpec(bytes: Buffer): TaskSpec {
  const n = bytes.readUInt32BE(0);
  const [key, deps, outs, returns] = unpack(bytes.subarray(4, 4 + n)) as [string, Slot[], number[], number];
  return { key, deps, outs, template: unpack(bytes.subarray(4 + n)) as Template, ...(returns ? { returns } : {}) };
}
