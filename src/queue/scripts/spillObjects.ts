/**
 * The wrapper of spillObjects-1.lua: values a worker has written to a spill
 * file are swapped for stubs, each only if it is still the value written.
 */
import { spillLiveKey } from '../keys.ts';
import type { ScriptedRedis } from '../scripts.ts';

declare module '../scripts.ts' {
  interface ScriptCommands {
    spillObjects(...args: ScriptArgs): Promise<[number, number]>;
  }
}

export interface SpillObjects {
  /** The spill file (relative to SPILL_DIR). */
  file: string;
  /** Each object and where its bytes are in the file. */
  objects: { oid: string; offset: number; length: number }[];
}

/** How many objects were swapped for stubs, and their bytes (now out of memory). */
export async function spillObjects(
  redis: ScriptedRedis,
  prefix: string,
  a: SpillObjects,
): Promise<{ swapped: number; bytes: number }> {
  const triples = a.objects.flatMap((o) => [o.oid, o.offset, o.length]);
  const [swapped, bytes] = await redis.spillObjects(spillLiveKey(prefix), prefix, a.file, ...triples);
  return { swapped, bytes };
}
